use proptest::prelude::*;
use tocsin_public::Classifier;
use tocsin_public::gazetteer::Gazetteer;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn geoparse_and_classify_never_panic_and_stay_in_range(text in "\\PC{0,300}") {
        let g = Gazetteer::embedded().unwrap();
        for r in g.geoparse(&text) {
            prop_assert!((0.0..=1.0).contains(&r.probability));
            prop_assert!(r.radius_m.is_finite() && r.radius_m > 0.0);
        }
        let c = Classifier::embedded().classify(&text);
        prop_assert!((0.0..=1.0).contains(&c.type_probability));
        prop_assert!((0.0..=1.0).contains(&c.informative));
    }

    #[test]
    fn place_like_text_never_panics(words in proptest::collection::vec("#?[A-Z][a-z]{0,8}|[a-z]{1,6}|[.,!]", 0..40)) {
        let text = words.join(" ");
        let _ = Gazetteer::embedded().unwrap().geoparse(&text);
    }
}

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use tocsin_public::Classifier;
use tocsin_public::crisislex::{Dataset, snowflake_time};
use tocsin_public::eval::{EvalOptions, evaluate};
use tocsin_public::gazetteer::Gazetteer;

fn snowflake(t: DateTime<Utc>, seq: u64) -> u64 {
    ((t.timestamp_millis() as u64 - 1_288_834_974_657) << 22) | seq
}

fn write_event(root: &Path, t0: DateTime<Utc>) {
    let dir = root.join("T26/2026_Lyon_fire");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("2026_Lyon_fire-event_description.json"),
        r#"{"name":"Lyon fire","location":{"country":"France","spread":"Focalized","location_description":"Lyon"},
            "categorization":{"category":"Human-induced","sub_category":"Unintentional","type":"Fire"}}"#,
    )
    .unwrap();
    let posts = [
        (
            0,
            "Huge fire at a warehouse in Lyon, thick black smoke everywhere",
            "Related and informative",
        ),
        (
            4,
            "Firefighters battling a big blaze in Lyon, the whole street evacuated",
            "Related and informative",
        ),
        (
            9,
            "Incendie dans un entrepot a Lyon, les pompiers sur place",
            "Related and informative",
        ),
        (
            15,
            "Praying for everyone in Lyon tonight",
            "Related - but not informative",
        ),
        (
            20,
            "Lyon: the warehouse fire is still burning, roads closed around it",
            "Related and informative",
        ),
        (30, "Great concert yesterday, what a night", "Not related"),
    ];
    let mut csv = String::from(
        "Tweet ID, Tweet Text, Information Source, Information Type, Informativeness\n",
    );
    for (i, (m, text, label)) in posts.iter().enumerate() {
        let id = snowflake(t0 + Duration::minutes(*m), i as u64);
        csv.push_str(&format!(
            "\"{id}\",\"{text}\",Eyewitness,Affected individuals,{label}\n"
        ));
    }
    std::fs::write(dir.join("2026_Lyon_fire-tweets_labeled.csv"), csv).unwrap();
    let t6 = root.join("T6/2026_Noise");
    std::fs::create_dir_all(&t6).unwrap();
    let mut csv = String::from("tweet id, tweet, label\n");
    for i in 0..20u64 {
        let id = snowflake(t0 + Duration::hours(i as i64), 100 + i);
        csv.push_str(&format!(
            "'{id}',\"just a normal day number {i}\",off-topic\n"
        ));
    }
    std::fs::write(t6.join("2026_Noise-ontopic_offtopic.csv"), csv).unwrap();
}

#[test]
fn a_small_labelled_stream_is_found_placed_typed_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let t0: DateTime<Utc> = "2026-05-04T02:00:00Z".parse().unwrap();
    write_event(dir.path(), t0);
    let data = Dataset::load(dir.path()).unwrap();
    assert_eq!(data.events.len(), 2);
    assert_eq!(data.posts.len(), 26);
    assert_eq!(
        snowflake_time(data.posts[0].id).unwrap().timestamp(),
        t0.timestamp()
    );
    let gaz = Gazetteer::embedded().unwrap();
    let opts = EvalOptions {
        hold_out: false,
        ..EvalOptions::default()
    };
    let r = evaluate(&data, gaz, Classifier::embedded(), &opts);
    assert_eq!(r.events, 1);
    assert_eq!(r.event_recall, 1.0, "{r:#?}");
    assert_eq!(r.alert_precision, 1.0);
    assert_eq!(r.false_alerts_per_hour, 0.0);
    assert_eq!(r.type_accuracy, Some(1.0));
    assert!(r.geo_error_median_km.unwrap() < 20.0);
    // Three independent reports are needed: the alert comes with the third, nine minutes in.
    assert_eq!(r.latency_median_s, Some(540.0));
    assert!(r.active_hours >= 20);
}

fn reference() -> Option<PathBuf> {
    match std::env::var_os("TOCSIN_REFERENCE_DATA") {
        Some(d) => Some(PathBuf::from(d).join("crisislex")),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "TOCSIN_REFERENCE_DATA must be set in CI"
            );
            eprintln!(
                "skipped: TOCSIN_REFERENCE_DATA is not set, so the CrisisLex evaluation cannot run"
            );
            None
        }
    }
}

#[test]
fn evaluation_on_the_reference_data_reports_every_key_in_range() {
    let Some(dir) = reference() else { return };
    let data = Dataset::load(&dir).unwrap();
    let gaz = Gazetteer::embedded().unwrap();
    // The shipped model keeps this test quick; the command holds each event out by default.
    let opts = EvalOptions {
        hold_out: false,
        ..EvalOptions::default()
    };
    let r = evaluate(&data, gaz, Classifier::embedded(), &opts);
    let v = r.summary_json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "events",
            "event_recall",
            "alert_precision",
            "false_alerts_per_hour",
            "latency_median_s",
            "latency_p90_s",
            "type_accuracy",
            "geo_error_median_km"
        ]
    );
    assert!(r.events >= 1);
    for k in ["event_recall", "alert_precision", "type_accuracy"] {
        let x = v[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }
    assert!(v["false_alerts_per_hour"].as_f64().unwrap() >= 0.0);
    assert!(v["geo_error_median_km"].as_f64().unwrap() >= 0.0);
    assert!(v["latency_p90_s"].as_f64().unwrap() >= v["latency_median_s"].as_f64().unwrap());
}

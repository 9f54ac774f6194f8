//! The web dashboard, built from `web/` by this crate's build script (Vite) and embedded in the
//! binary. [`asset`] looks a built file up by its path; the HTTP layer serves them.

mod files {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// One embedded file of the dashboard.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

/// The built file at `path` (relative to the build folder, e.g. `index.html` or
/// `assets/index-1a2b3c.js`), if there is one.
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    files::FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, content_type, bytes)| Asset {
            bytes,
            content_type,
        })
}

/// The dashboard's page.
pub fn index() -> Option<Asset> {
    asset("index.html")
}

/// Every embedded path, for tests and diagnostics.
pub fn paths() -> impl Iterator<Item = &'static str> {
    files::FILES.iter().map(|(p, _, _)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_scripts_are_embedded() {
        let index = index().expect("index.html is embedded");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        let html = std::str::from_utf8(index.bytes).unwrap();
        let script = paths()
            .find(|p| p.starts_with("assets/") && p.ends_with(".js"))
            .expect("a script is embedded");
        assert!(html.contains(script), "index.html does not load {script}");
        assert_eq!(
            asset(script).unwrap().content_type,
            "text/javascript; charset=utf-8"
        );
        assert!(asset("assets/missing.js").is_none());
        assert!(asset("../Cargo.toml").is_none());
    }
}

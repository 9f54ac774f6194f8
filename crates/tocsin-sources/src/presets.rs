//! Ready-made mappings for access-control exports (badge logs), so a site can import history
//! from any vendor's CSV or JSON export with the HTTP (`format = "csv"` or `"json"`) and file
//! sources: time, badge, reader/door and result, plus the holder and site when the export has
//! them.
//!
//! The result column is read through a table of the words vendors use (`Granted`, `OK`,
//! `Access denied`, `APB`...), to `granted`, `denied`, `anti_passback`, `duress`, `forced`,
//! `held_open` or `taken`; other values are kept as they are.
//!
//! [`badge_log_mapping`] builds the mapping for given column names; [`BADGE_LOG_TOML`] is the
//! same mapping for the default column names, to paste under a source in `tocsin.toml`.

use serde_json::{Map, Value};
use tocsin_parsers::mapping::{Mapping, Step};

/// Column (or JSON key) names of a badge-log export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeLogColumns {
    pub time: String,
    pub badge: String,
    /// The reader or door: becomes `portal`.
    pub door: String,
    pub result: String,
    /// The holder's name or employee number, when exported.
    pub person: Option<String>,
    /// The site, when exported.
    pub site: Option<String>,
    /// Offset of times written without one (`+01:00`); default UTC.
    pub timezone: Option<String>,
}

impl Default for BadgeLogColumns {
    fn default() -> Self {
        Self {
            time: "time".into(),
            badge: "badge".into(),
            door: "door".into(),
            result: "result".into(),
            person: Some("holder".into()),
            site: Some("site".into()),
            timezone: None,
        }
    }
}

/// Time layouts tried in order.
pub const BADGE_LOG_TIME_FORMATS: &[&str] = &[
    "rfc3339",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "unix",
];

/// Vendor words for a badge result, to the model's activity.
pub const BADGE_RESULTS: &[(&str, &str)] = &[
    ("granted", "granted"),
    ("Granted", "granted"),
    ("GRANTED", "granted"),
    ("Access granted", "granted"),
    ("OK", "granted"),
    ("ok", "granted"),
    ("valid", "granted"),
    ("Valid", "granted"),
    ("1", "granted"),
    ("denied", "denied"),
    ("Denied", "denied"),
    ("DENIED", "denied"),
    ("Access denied", "denied"),
    ("NOK", "denied"),
    ("invalid", "denied"),
    ("Invalid", "denied"),
    ("rejected", "denied"),
    ("0", "denied"),
    ("APB", "anti_passback"),
    ("anti_passback", "anti_passback"),
    ("Anti-passback", "anti_passback"),
    ("duress", "duress"),
    ("Duress", "duress"),
    ("forced", "forced"),
    ("Door forced", "forced"),
    ("held_open", "held_open"),
    ("Door held open", "held_open"),
    ("taken", "taken"),
    ("Passage", "taken"),
];

/// The badge-log mapping for the given columns.
pub fn badge_log_mapping(cols: &BadgeLogColumns) -> Mapping {
    let table: Map<String, Value> = BADGE_RESULTS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let mut steps = vec![
        Step::Constant {
            to: "domain".into(),
            value: Value::from("physical"),
        },
        Step::Constant {
            to: "class".into(),
            value: Value::from("physical_access"),
        },
        Step::Timestamp {
            from: cols.time.clone(),
            to: "time".into(),
            formats: BADGE_LOG_TIME_FORMATS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            timezone: cols.timezone.clone(),
            optional: false,
        },
        Step::Copy {
            from: cols.badge.clone(),
            to: "badge".into(),
            optional: true,
        },
        Step::Copy {
            from: cols.door.clone(),
            to: "portal".into(),
            optional: false,
        },
        Step::Lookup {
            from: cols.result.clone(),
            to: "activity".into(),
            table,
            default: None,
            optional: false,
        },
    ];
    if let Some(p) = &cols.person {
        steps.push(Step::Copy {
            from: p.clone(),
            to: "person".into(),
            optional: true,
        });
    }
    if let Some(s) = &cols.site {
        steps.push(Step::Copy {
            from: s.clone(),
            to: "site".into(),
            optional: true,
        });
    }
    Mapping { steps }
}

/// [`badge_log_mapping`] with the default columns (`time`, `badge`, `door`, `result`, `holder`,
/// `site`), as TOML to paste under a `[[sources]]` entry (rename `from` to your columns).
pub const BADGE_LOG_TOML: &str = r#"[[mapping.steps]]
op = "constant"
to = "domain"
value = "physical"

[[mapping.steps]]
op = "constant"
to = "class"
value = "physical_access"

[[mapping.steps]]
op = "timestamp"
from = "time"
to = "time"
formats = ["rfc3339", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "unix"]

[[mapping.steps]]
op = "copy"
from = "badge"
to = "badge"
optional = true

[[mapping.steps]]
op = "copy"
from = "door"
to = "portal"

[[mapping.steps]]
op = "lookup"
from = "result"
to = "activity"
table = { granted = "granted", Granted = "granted", GRANTED = "granted", "Access granted" = "granted", OK = "granted", ok = "granted", valid = "granted", Valid = "granted", "1" = "granted", denied = "denied", Denied = "denied", DENIED = "denied", "Access denied" = "denied", NOK = "denied", invalid = "denied", Invalid = "denied", rejected = "denied", "0" = "denied", APB = "anti_passback", anti_passback = "anti_passback", "Anti-passback" = "anti_passback", duress = "duress", Duress = "duress", forced = "forced", "Door forced" = "forced", held_open = "held_open", "Door held open" = "held_open", taken = "taken", Passage = "taken" }

[[mapping.steps]]
op = "copy"
from = "holder"
to = "person"
optional = true

[[mapping.steps]]
op = "copy"
from = "site"
to = "site"
optional = true
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toml_text_is_the_default_mapping() {
        #[derive(serde::Deserialize)]
        struct Holder {
            mapping: Mapping,
        }
        let parsed: Holder = toml::from_str(BADGE_LOG_TOML).unwrap();
        let built = badge_log_mapping(&BadgeLogColumns::default());
        built.validate().unwrap();
        assert_eq!(parsed.mapping, built);
    }

    #[test]
    fn vendor_words_become_activities() {
        let m = badge_log_mapping(&BadgeLogColumns {
            timezone: Some("+01:00".into()),
            ..BadgeLogColumns::default()
        });
        let rec = |result: &str| {
            serde_json::json!({"time": "04/05/2026 03:13:07", "badge": "0x3F21A9", "door": "DC-SRV-ROOM-A", "result": result})
                .as_object()
                .unwrap()
                .clone()
        };
        let i = m.apply(rec("Access denied")).unwrap();
        assert_eq!(i.activity.as_deref(), Some("denied"));
        assert_eq!(i.portal.as_deref(), Some("DC-SRV-ROOM-A"));
        assert_eq!(i.time, Some("2026-05-04T02:13:07Z".parse().unwrap()));
        assert_eq!(
            m.apply(rec("APB")).unwrap().activity.as_deref(),
            Some("anti_passback")
        );
        assert_eq!(
            m.apply(rec("Weird")).unwrap().activity.as_deref(),
            Some("Weird")
        );
    }
}

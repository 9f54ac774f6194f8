//! `vulnerable_security_device`: a vulnerability entry (CISA KEV, NVD or a scanner finding) that
//! matches the vendor, product and version of one of the organisation's security devices.
//!
//! **What it catches.** Cameras, badge readers, door controllers and alarm panels exposed to a
//! published — in the KEV case, actively exploited — vulnerability. These devices are often
//! outside patch management because neither team thinks they own them.
//!
//! **How it reads an entry.** From an event of a listed class (default `vulnerability`):
//! `fields.cpe` (`cpe:2.3:h:axis:p1375:10.12.1:...`), or `fields.vendor` / `fields.vendorProject`
//! and `fields.product`, and optionally `fields.version` or `fields.versions` (a list); the CVE
//! from `fields.cve`, `fields.cveID` or `fields.cve_id`. An entry with versions matches only
//! assets running one of them; an entry without (KEV entries have none) matches every asset of
//! the product and says the version is not confirmed. KEV entries (`fields.kev = true`, or a
//! `dateAdded` field) raise `severity_kev`.
//!
//! **Tuning.** `security_devices_only = false` watches every asset kind; `require_version = true`
//! ignores entries that name no version.

use serde::Deserialize;
use serde_json::Value;
use tocsin_detect::Detection;
use tocsin_model::{Event, Severity};

use crate::alarm::{Alarm, field};
use crate::{Check, Cx, default_true, strings};

pub const ID: &str = "vulnerable_security_device";

/// Most assets named in one alert.
const MAX_ASSETS: usize = 50;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub enabled: bool,
    pub classes: Vec<String>,
    pub security_devices_only: bool,
    pub require_version: bool,
    pub severity: Severity,
    pub severity_kev: Severity,
    pub dedup_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            classes: strings(&["vulnerability", "vulnerability_finding", "advisory"]),
            security_devices_only: true,
            require_version: false,
            severity: Severity::HIGH,
            severity_kev: Severity::CRITICAL,
            dedup_secs: 86_400,
        }
    }
}

pub struct VulnerableSecurityDevice {
    cfg: Config,
}

impl VulnerableSecurityDevice {
    pub fn new(cfg: Config) -> Self {
        Self { cfg }
    }
}

/// Vendor, product and version of a CPE 2.3 name; `*` and `-` mean any version.
fn parse_cpe(cpe: &str) -> Option<(String, String, Option<String>)> {
    let mut parts = cpe.split(':');
    if parts.next()? != "cpe" || parts.next()? != "2.3" {
        return None;
    }
    let _part = parts.next()?;
    let vendor = parts.next()?.to_owned();
    let product = parts.next()?.to_owned();
    let version = parts
        .next()
        .filter(|v| !matches!(*v, "*" | "-" | ""))
        .map(str::to_owned);
    Some((vendor, product, version))
}

impl Check for VulnerableSecurityDevice {
    fn check(&mut self, cx: &Cx<'_>, e: &Event, out: &mut Vec<Detection>) {
        if !self
            .cfg
            .classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&e.class))
        {
            return;
        }
        let cpe = field(e, "cpe").and_then(|c| parse_cpe(&c));
        let vendor = field(e, "vendor")
            .or_else(|| field(e, "vendorProject"))
            .map(|v| v.into_owned())
            .or_else(|| cpe.as_ref().map(|c| c.0.clone()));
        let product = field(e, "product")
            .map(|v| v.into_owned())
            .or_else(|| cpe.as_ref().map(|c| c.1.clone()));
        let (Some(vendor), Some(product)) = (vendor, product) else {
            return;
        };
        let mut versions: Vec<String> = Vec::new();
        if let Some(v) = field(e, "version") {
            versions.push(v.into_owned());
        }
        if let Some(Value::Array(list)) = e.fields.get("versions") {
            versions.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if let Some(v) = cpe.and_then(|c| c.2) {
            versions.push(v);
        }
        if versions.is_empty() && self.cfg.require_version {
            return;
        }
        let matched: Vec<&tocsin_org::Asset> = cx
            .org
            .assets_by_product(&vendor, &product)
            .iter()
            .filter_map(|i| cx.org.assets.get(*i))
            .filter(|a| !self.cfg.security_devices_only || a.kind.is_security_device())
            .filter(|a| {
                versions.is_empty()
                    || a.version
                        .as_deref()
                        .is_some_and(|v| versions.iter().any(|w| w.eq_ignore_ascii_case(v)))
            })
            .take(MAX_ASSETS)
            .collect();
        if matched.is_empty() {
            return;
        }
        let cve = field(e, "cve")
            .or_else(|| field(e, "cveID"))
            .or_else(|| field(e, "cve_id"))
            .map_or_else(|| "an unnamed vulnerability".to_owned(), |c| c.into_owned());
        let kev =
            field(e, "kev").is_some_and(|k| k == "true") || e.fields.contains_key("dateAdded");
        let ids: Vec<String> = matched.iter().map(|a| a.id.clone()).collect();
        let mut sites: Vec<String> = matched.iter().filter_map(|a| a.site.clone()).collect();
        sites.sort();
        sites.dedup();
        let kinds: Vec<&str> = {
            let mut k: Vec<&str> = matched.iter().map(|a| a.kind.as_str()).collect();
            k.sort_unstable();
            k.dedup();
            k
        };
        let version_note = if versions.is_empty() {
            " The entry names no version: check the installed firmware.".to_owned()
        } else {
            format!(" Affected versions: {}.", versions.join(", "))
        };
        let mut a = Alarm::new(
            ID,
            if kev {
                self.cfg.severity_kev
            } else {
                self.cfg.severity
            },
            e,
        )
        .entity("cve", cve.clone())
        .entity("assets", ids.clone())
        .entity("sites", sites.clone());
        a.site_id = (sites.len() == 1).then(|| sites[0].clone());
        a.geo = a
            .site_id
            .as_deref()
            .and_then(|s| cx.org.site_by_id(s))
            .map(|s| s.location.clone());
        a.title = format!(
            "{cve} affects {} {vendor} {product} device(s)",
            matched.len()
        );
        a.what = format!(
            "{cve}{} matches {} of our {} ({vendor} {product}): {}.{version_note}",
            if kev {
                ", known to be exploited (KEV),"
            } else {
                ""
            },
            matched.len(),
            kinds.join(", "),
            ids.join(", ")
        );
        a.guard = format!(
            "Until patched, check these devices at {} on rounds for tampering and report any that reboot or go offline.",
            sites.join(", ")
        );
        a.analyst = format!(
            "Patch or isolate {}: move them behind the security-device firewall, block access from user networks, and check their logs for exploitation of {cve}.",
            ids.join(", ")
        );
        a.people = format!("People at {} rely on these devices.", sites.join(", "));
        a.physical = format!("{} of {}.", kinds.join(", "), sites.join(", "));
        a.digital = "The physical security network these devices sit on.".into();
        a.dedup_key = cve;
        a.dedup_window_secs = self.cfg.dedup_secs;
        out.push(a.into_detection(e));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tocsin_model::{Domain, Event, Severity};

    use crate::testkit::*;

    fn vuln(fields: Value) -> Event {
        let mut e = ev(Domain::Public, "vulnerability", "published");
        e.fields = fields.as_object().unwrap().clone();
        e
    }

    #[test]
    fn a_kev_entry_or_a_cpe_matching_a_camera_fires() {
        let mut r = Rig::new();
        let d = r.feed(vuln(json!({"cveID": "CVE-2026-0001", "vendorProject": "Axis", "product": "P1375", "dateAdded": "2026-05-01"})));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::CRITICAL);
        assert_eq!(
            d[0].entities["assets"],
            json!(["cam-dc-01"]),
            "the switch of the same product is not a security device"
        );
        assert!(d[0].summary.contains("names no version"));
        let d = r.feed(vuln(
            json!({"cve": "CVE-2026-0002", "cpe": "cpe:2.3:h:hid:signo_40:1.2.0:*:*:*:*:*:*:*"}),
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::HIGH);
        assert_eq!(d[0].entities["assets"], json!(["rdr-dc-01"]));
    }

    #[test]
    fn other_versions_products_or_classes_stay_silent() {
        let mut r = Rig::new();
        assert!(
            r.fired(vec![vuln(
                json!({"cve": "CVE-1", "cpe": "cpe:2.3:h:axis:p1375:9.0:*:*:*:*:*:*:*"})
            )])
            .is_empty()
        );
        assert!(
            r.fired(vec![vuln(
                json!({"cve": "CVE-2", "vendor": "Axis", "product": "Q6000"})
            )])
            .is_empty()
        );
        assert!(r.fired(vec![vuln(json!({"cve": "CVE-3", "vendor": "HID", "product": "Signo 40", "versions": ["1.0.0", "1.1.0"]}))]).is_empty());
        let mut e = vuln(json!({"cve": "CVE-4", "vendor": "Axis", "product": "P1375"}));
        e.class = "public_report".into();
        assert!(r.fired(vec![e]).is_empty());
    }
}

//! Logsource routing: which `product`/`service`/`category` an event belongs to.
//!
//! A Sigma rule names the log it is written for; a rule only sees events of that log. Windows
//! events say which log they come from in `Channel` (the service) and `EventID` (the category),
//! following SigmaHQ's `tests/thor.yml` and pySigma's Windows and Sysmon pipelines. Matching is
//! case-insensitive: forwarders write `Security` and `security` alike.
//!
//! Tocsin's own classes get logsource names too, so that physical and public events can be
//! written in Sigma (see [`class_logsource`]).

/// Windows services by event log channel (lower case), from thor.yml's target configurations
/// and pySigma's `windows_logsource_mapping`. A service may read several channels.
const WINDOWS_CHANNELS: &[(&str, &str)] = &[
    ("security", "security"),
    ("system", "system"),
    ("application", "application"),
    ("microsoft-windows-sysmon/operational", "sysmon"),
    ("microsoft-windows-powershell/operational", "powershell"),
    ("powershellcore/operational", "powershell"),
    ("windows powershell", "powershell-classic"),
    (
        "microsoft-windows-taskscheduler/operational",
        "taskscheduler",
    ),
    ("microsoft-windows-wmi-activity/operational", "wmi"),
    ("microsoft-windows-ntlm/operational", "ntlm"),
    ("microsoft-windows-dhcp-server/operational", "dhcp"),
    ("microsoft-windows-printservice/admin", "printservice-admin"),
    (
        "microsoft-windows-printservice/operational",
        "printservice-operational",
    ),
    ("microsoft-windows-smbclient/security", "smbclient-security"),
    (
        "microsoft-windows-smbclient/connectivity",
        "smbclient-connectivity",
    ),
    (
        "microsoft-windows-smbserver/connectivity",
        "smbserver-connectivity",
    ),
    (
        "microsoft-windows-terminalservices-localsessionmanager/operational",
        "terminalservices-localsessionmanager",
    ),
    (
        "microsoft-windows-codeintegrity/operational",
        "codeintegrity-operational",
    ),
    ("microsoft-windows-applocker/msi and script", "applocker"),
    ("microsoft-windows-applocker/exe and dll", "applocker"),
    (
        "microsoft-windows-applocker/packaged app-deployment",
        "applocker",
    ),
    (
        "microsoft-windows-applocker/packaged app-execution",
        "applocker",
    ),
    ("msexchange management", "msexchange-management"),
    (
        "microsoft-windows-windows defender/operational",
        "windefend",
    ),
    (
        "microsoft-windows-windows firewall with advanced security/firewall",
        "firewall-as",
    ),
    ("microsoft-windows-bits-client/operational", "bits-client"),
    (
        "microsoft-windows-security-mitigations/kernel mode",
        "security-mitigations",
    ),
    (
        "microsoft-windows-security-mitigations/user mode",
        "security-mitigations",
    ),
    (
        "microsoft-windows-diagnosis-scripted/operational",
        "diagnosis-scripted",
    ),
    ("microsoft-windows-shell-core/operational", "shell-core"),
    ("openssh/operational", "openssh"),
    ("microsoft-windows-ldap-client/debug", "ldap"),
    (
        "microsoft-windows-bitlocker/bitlocker management",
        "bitlocker",
    ),
    ("microsoft-windows-vhdmp/operational", "vhdmp"),
    (
        "microsoft-windows-appxdeploymentserver/operational",
        "appxdeployment-server",
    ),
    ("microsoft-windows-lsa/operational", "lsa-server"),
    (
        "microsoft-windows-appxpackaging/operational",
        "appxpackaging-om",
    ),
    (
        "microsoft-windows-dns client events/operational",
        "dns-client",
    ),
    (
        "microsoft-windows-appmodel-runtime/admin",
        "appmodel-runtime",
    ),
    ("microsoft-windows-capi2/operational", "capi2"),
    (
        "microsoft-windows-certificateservicesclient-lifecycle-system/operational",
        "certificateservicesclient-lifecycle-system",
    ),
    (
        "microsoft-windows-kernel-shimengine/operational",
        "kernel-shimengine",
    ),
    (
        "microsoft-windows-kernel-shimengine/diagnostic",
        "kernel-shimengine",
    ),
    (
        "microsoft-windows-application-experience/program-telemetry",
        "application-experience",
    ),
    (
        "microsoft-windows-application-experience/program-compatibility-assistant",
        "application-experience",
    ),
    ("microsoft-windows-ntfs/operational", "ntfs"),
    ("microsoft-windows-hyper-v-worker", "hyper-v-worker"),
    (
        "microsoft-windows-kernel-eventtracing",
        "kernel-event-tracing",
    ),
    ("microsoft-windows-sense/operational", "sense"),
    (
        "microsoft-servicebus-client/admin",
        "microsoft-servicebus-client",
    ),
    (
        "microsoft-servicebus-client/operational",
        "microsoft-servicebus-client",
    ),
    (
        "microsoft-iis-configuration/operational",
        "iis-configuration",
    ),
    ("dns server", "dns-server"),
    ("microsoft-windows-dns-server/audit", "dns-server-audit"),
    (
        "microsoft-windows-dns-server/analytical",
        "dns-server-analytic",
    ),
    (
        "microsoft-windows-driverframeworks-usermode/operational",
        "driver-framework",
    ),
];

/// Other names rules use for a service of [`WINDOWS_CHANNELS`] (thor.yml and pySigma differ).
const SERVICE_ALIASES: &[(&str, &str)] = &[("microsoft-servicebus-client", "servicebus-client")];

/// Which events of a service form a category. `event_type` narrows Sysmon registry events by
/// their `EventType` field, as thor.yml does.
struct CategoryEntry {
    service: &'static str,
    event_ids: &'static [i64],
    event_type: Option<&'static [&'static str]>,
    category: &'static str,
}

const fn cat(
    service: &'static str,
    event_ids: &'static [i64],
    category: &'static str,
) -> CategoryEntry {
    CategoryEntry {
        service,
        event_ids,
        event_type: None,
        category,
    }
}

/// Windows categories, from thor.yml's generic log sources and pySigma's Sysmon pipeline.
const WINDOWS_CATEGORIES: &[CategoryEntry] = &[
    cat("sysmon", &[1], "process_creation"),
    cat("sysmon", &[2], "file_change"),
    cat("sysmon", &[3], "network_connection"),
    cat("sysmon", &[4, 16], "sysmon_status"),
    cat("sysmon", &[5], "process_termination"),
    cat("sysmon", &[6], "driver_load"),
    cat("sysmon", &[7], "image_load"),
    cat("sysmon", &[8], "create_remote_thread"),
    cat("sysmon", &[9], "raw_access_thread"),
    cat("sysmon", &[10], "process_access"),
    cat("sysmon", &[11], "file_event"),
    cat("sysmon", &[12, 13, 14], "registry_event"),
    CategoryEntry {
        service: "sysmon",
        event_ids: &[12],
        event_type: Some(&["createkey"]),
        category: "registry_add",
    },
    CategoryEntry {
        service: "sysmon",
        event_ids: &[12],
        event_type: Some(&["deletekey", "deletevalue"]),
        category: "registry_delete",
    },
    cat("sysmon", &[13], "registry_set"),
    cat("sysmon", &[14], "registry_rename"),
    cat("sysmon", &[15], "create_stream_hash"),
    cat("sysmon", &[17, 18], "pipe_created"),
    cat("sysmon", &[19, 20, 21], "wmi_event"),
    cat("sysmon", &[22], "dns_query"),
    cat("sysmon", &[23], "file_delete"),
    cat("sysmon", &[24], "clipboard_change"),
    cat("sysmon", &[25], "process_tampering"),
    cat("sysmon", &[26], "file_delete_detected"),
    cat("sysmon", &[27], "file_block_executable"),
    cat("sysmon", &[28], "file_block_shredding"),
    cat("sysmon", &[29], "file_executable_detected"),
    cat("sysmon", &[255], "sysmon_error"),
    cat("powershell", &[4103], "ps_module"),
    cat("powershell", &[4104], "ps_script"),
    cat("powershell-classic", &[400], "ps_classic_start"),
    cat("powershell-classic", &[600], "ps_classic_provider_start"),
    cat("powershell-classic", &[800], "ps_classic_script"),
    cat(
        "windefend",
        &[
            1006, 1007, 1008, 1009, 1010, 1011, 1012, 1017, 1018, 1019, 1115, 1116,
        ],
        "antivirus",
    ),
];

/// The Windows service of an event log channel, case-insensitively.
pub fn windows_service(channel: &str) -> Option<&'static str> {
    WINDOWS_CHANNELS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(channel))
        .map(|(_, s)| *s)
}

/// Every channel→service pair Tocsin knows, lower case (for documentation and tests).
pub fn windows_channels() -> impl Iterator<Item = (&'static str, &'static str)> {
    WINDOWS_CHANNELS.iter().copied()
}

/// The categories an event of `service` with `event_id` (and Sysmon `EventType`) belongs to.
pub fn windows_categories<'a>(
    service: &'a str,
    event_id: i64,
    event_type: Option<&'a str>,
) -> impl Iterator<Item = &'static str> + 'a {
    WINDOWS_CATEGORIES
        .iter()
        .filter(move |e| {
            e.service == service
                && e.event_ids.contains(&event_id)
                && match e.event_type {
                    None => true,
                    Some(types) => {
                        event_type.is_some_and(|t| types.iter().any(|x| x.eq_ignore_ascii_case(t)))
                    }
                }
        })
        .map(|e| e.category)
}

/// Every (service, event ids, category) Tocsin knows, for documentation and tests.
pub fn windows_category_table() -> impl Iterator<Item = (&'static str, &'static [i64], &'static str)>
{
    WINDOWS_CATEGORIES
        .iter()
        .map(|e| (e.service, e.event_ids, e.category))
}

/// The logsource names of Tocsin's own event classes: `(product, category)`.
///
/// Every Tocsin event also has `category: <class>` and `service: <source name>`; this table adds
/// the product that a Sigma author would name for the physical and public worlds.
const CLASS_PRODUCTS: &[(&str, &str)] = &[
    ("physical_access", "pacs"),
    ("alarm", "intrusion"),
    ("video_analytic", "vms"),
    ("sensor", "iot"),
    ("guard_tour", "guard"),
    ("travel", "travel"),
    ("public_report", "public"),
    ("hazard_warning", "public"),
    ("vulnerability", "public"),
];

/// The product a Tocsin class is written as in Sigma (`pacs` for `physical_access`, ...).
pub fn class_logsource(class: &str) -> Option<&'static str> {
    CLASS_PRODUCTS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(class))
        .map(|(_, p)| *p)
}

/// Every Tocsin class with a product name, for documentation and tests.
pub fn class_products() -> impl Iterator<Item = (&'static str, &'static str)> {
    CLASS_PRODUCTS.iter().copied()
}

/// The logsource of one event: a set of values per dimension, because one event may fit several
/// (a Sysmon registry event is `registry_event` and `registry_set`). Values are lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EventLogsource {
    pub products: Vec<String>,
    pub services: Vec<String>,
    pub categories: Vec<String>,
}

impl EventLogsource {
    fn push(list: &mut Vec<String>, v: &str) {
        let v = v.to_ascii_lowercase();
        if !list.contains(&v) {
            list.push(v);
        }
    }

    pub fn add_product(&mut self, v: &str) {
        Self::push(&mut self.products, v);
    }

    pub fn add_service(&mut self, v: &str) {
        Self::push(&mut self.services, v);
    }

    pub fn add_category(&mut self, v: &str) {
        Self::push(&mut self.categories, v);
    }

    /// Whether nothing is known about the event's log.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty() && self.services.is_empty() && self.categories.is_empty()
    }

    /// The Windows logsource from an event's `Channel`, `EventID` and `EventType`.
    pub fn add_windows(&mut self, channel: &str, event_id: Option<i64>, event_type: Option<&str>) {
        let Some(service) = windows_service(channel) else {
            // An unknown channel is still Windows: product-only rules see it.
            self.add_product("windows");
            return;
        };
        self.add_product("windows");
        self.add_service(service);
        for (canonical, alias) in SERVICE_ALIASES {
            if *canonical == service {
                self.add_service(alias);
            }
        }
        if let Some(id) = event_id {
            for c in windows_categories(service, id, event_type) {
                self.add_category(c);
            }
        }
    }

    /// Whether a rule written for `rule` sees this event: each dimension the rule names must be
    /// among the event's.
    pub fn covers(&self, rule: &RuleLogsource) -> bool {
        fn has(set: &[String], want: &Option<String>) -> bool {
            match want {
                None => true,
                Some(w) => set.iter().any(|v| v == w),
            }
        }
        has(&self.products, &rule.product)
            && has(&self.services, &rule.service)
            && has(&self.categories, &rule.category)
    }
}

/// A rule's logsource, lower case; `None` means the rule does not restrict that dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleLogsource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

impl RuleLogsource {
    pub fn new(product: Option<&str>, service: Option<&str>, category: Option<&str>) -> Self {
        let norm = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_ascii_lowercase)
        };
        Self {
            product: norm(product),
            service: norm(service),
            category: norm(category),
        }
    }
}

impl std::fmt::Display for RuleLogsource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            ("product", &self.product),
            ("service", &self.service),
            ("category", &self.category),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
        if parts.is_empty() {
            f.write_str("any")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_lookup_ignores_case() {
        assert_eq!(windows_service("security"), Some("security"));
        assert_eq!(windows_service("SECURITY"), Some("security"));
        assert_eq!(
            windows_service("Microsoft-Windows-Sysmon/Operational"),
            Some("sysmon")
        );
        assert_eq!(windows_service("Nope"), None);
    }

    #[test]
    fn sysmon_registry_event_fits_several_categories() {
        let mut ls = EventLogsource::default();
        ls.add_windows(
            "Microsoft-Windows-Sysmon/Operational",
            Some(12),
            Some("CreateKey"),
        );
        assert_eq!(ls.products, ["windows"]);
        assert_eq!(ls.services, ["sysmon"]);
        assert_eq!(ls.categories, ["registry_event", "registry_add"]);
        let mut del = EventLogsource::default();
        del.add_windows(
            "Microsoft-Windows-Sysmon/Operational",
            Some(12),
            Some("DeleteValue"),
        );
        assert_eq!(del.categories, ["registry_event", "registry_delete"]);
    }

    #[test]
    fn category_needs_the_right_channel() {
        let mut ls = EventLogsource::default();
        ls.add_windows("Security", Some(1), None);
        assert!(ls.categories.is_empty());
        let rule = RuleLogsource::new(Some("windows"), None, Some("process_creation"));
        assert!(!ls.covers(&rule));
        let rule = RuleLogsource::new(Some("Windows"), Some("Security"), None);
        assert!(ls.covers(&rule));
    }

    #[test]
    fn unknown_channel_is_still_windows() {
        let mut ls = EventLogsource::default();
        ls.add_windows("Microsoft-Windows-Kernel-IO/Operational", Some(1), None);
        assert_eq!(ls.products, ["windows"]);
        assert!(ls.services.is_empty());
    }

    #[test]
    fn rule_logsource_display_names_dimensions() {
        let r = RuleLogsource::new(Some("pacs"), None, Some("physical_access"));
        assert_eq!(r.to_string(), "product: pacs, category: physical_access");
        assert_eq!(RuleLogsource::default().to_string(), "any");
    }
}

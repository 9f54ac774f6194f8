//! `tocsin.toml`: the typed server configuration, with errors that name file, line and field.
//!
//! ```toml
//! version = 1
//! listen = "127.0.0.1:8080"
//! data_dir = "tocsin-data"
//! retention_days = 30
//!
//! [storage]
//! backend = "sqlite"          # or: backend = "postgres", url = "postgres://..."
//!
//! [pipeline]
//! ingest_queue = 10000
//!
//! [[sources]]
//! type = "syslog"
//! name = "dc-syslog"
//! udp = "0.0.0.0:5514"
//!
//! [[detect.rules]]
//! id = "door-forced"
//! ...
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tocsin_detect::Rule;
use tocsin_sources::SourceConfig;
use tocsin_store::StorageConfig;

mod notify;
pub use notify::{
    CHANNELS_FILE, ChannelsFile, Interval, NotifyConfig, NotifySetup, load_channels, load_setup,
    parse_channels,
};

/// The file name of the main config inside a config folder.
pub const CONFIG_FILE: &str = "tocsin.toml";

/// The current config format version.
pub const CONFIG_VERSION: u32 = 1;

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this file; only `1` exists.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Address the HTTP API and dashboard listen on. `--listen` overrides it.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder for the embedded database and other state. `--data` overrides it; relative paths are
    /// taken from the working directory.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Days of events kept; older events are purged every hour. `0` keeps events for ever.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// Where state is kept: the embedded SQLite (default) or PostgreSQL.
    #[serde(default = "default_storage")]
    pub storage: StorageConfig,
    /// Queue sizes and batch sizes of the pipeline.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// The ingest sources.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Detection settings and rules.
    #[serde(default)]
    pub detect: DetectConfig,
    /// The converged detectors (presence conflict, tailgating, ...), each with its settings.
    #[serde(default)]
    pub converged: tocsin_converged::ConvergedConfig,
    /// Sigma rules run on the live stream.
    #[serde(default)]
    pub sigma: SigmaConfig,
    /// Public-signal detection (news, posts, official feeds): present to enable it. Sites and
    /// travellers come from the organisation model; `watch` items, distances and thresholds are
    /// set here.
    #[serde(default)]
    pub public_signal: Option<tocsin_public::PublicSignalConfig>,
    /// The web dashboard.
    #[serde(default)]
    pub web: WebConfig,
    /// How alerts group into incidents, and the checklists responders follow.
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// Routing, escalation and durable delivery of notifications (`[notify]`); without it
    /// alerts are only logged.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
    /// Where the organisation model comes from: the `org/` folder next to `tocsin.toml` when
    /// loaded with [`Config::load_dir`]. Not a TOML field.
    #[serde(skip)]
    pub org: OrgLocation,
}

/// The web dashboard.
///
/// ```toml
/// [web]
/// tile_url = "https://tiles.example.org/{z}/{x}/{y}.png"   # optional; offline outline otherwise
/// secure_cookie = true                                      # when served over HTTPS
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// A map tile server for connected sites. Without it the map draws the built-in world
    /// outline and needs no network.
    #[serde(default)]
    pub tile_url: Option<String>,
    /// Mark the session cookie `Secure`.
    #[serde(default)]
    pub secure_cookie: bool,
}

/// Incident grouping and checklists.
///
/// ```toml
/// [incidents]
/// grouping = { by = ["site", "entity"], window_secs = 3600 }
/// checklists = "checklists.yaml"    # relative to the config folder
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Alerts whose listed key parts are equal join one open incident within the window.
    #[serde(default)]
    pub grouping: tocsin_incidents::GroupingConfig,
    /// A YAML file of checklists per incident type (see `tocsin_incidents::Checklists`);
    /// relative paths are taken from the config folder.
    #[serde(default)]
    pub checklists: Option<PathBuf>,
    /// The checklists read from that file by [`Config::load_dir`] (or set by the demo).
    #[serde(skip)]
    pub loaded: tocsin_incidents::Checklists,
}

/// Largest checklists file read.
const MAX_CHECKLISTS_BYTES: u64 = 1024 * 1024;

/// Reads and checks a checklists file; errors name the file, line and field.
pub fn load_checklists(path: &Path) -> Result<tocsin_incidents::Checklists, ConfigError> {
    let fail = |message: String| ConfigError {
        file: path.to_path_buf(),
        line: None,
        field: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > MAX_CHECKLISTS_BYTES {
        return Err(fail(format!(
            "file is larger than {MAX_CHECKLISTS_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    tocsin_incidents::Checklists::parse(&text, path).map_err(|e| ConfigError {
        file: e.file,
        line: e.line,
        field: e.field,
        message: e.message,
    })
}

/// Sigma detection on the live stream.
///
/// ```toml
/// [sigma]
/// rules = ["sigma/rules"]          # folders of .yml rules, relative to the config folder
/// lateness_secs = 60
/// placeholders = { admin_users = ["adm-*", "root"] }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmaConfig {
    /// Folders (searched recursively) of Sigma rule files; relative paths are taken from the
    /// config folder. Empty: no Sigma detection.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Values of `%name%` placeholders for rules that use `|expand`; a rule whose placeholder has
    /// no value is rejected with that reason.
    #[serde(default)]
    pub placeholders: std::collections::BTreeMap<String, Vec<String>>,
    /// How long, in seconds of event time, a correlation window waits for late events.
    #[serde(default = "default_lateness")]
    pub lateness_secs: u64,
    /// Cap on open correlation groups; the stalest is evicted (and counted) first.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
    /// Repeats of a rule for the same entities within this many seconds update one alert.
    #[serde(default = "default_sigma_dedup")]
    pub dedup_window_secs: u64,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            placeholders: Default::default(),
            lateness_secs: default_lateness(),
            max_groups: default_max_groups(),
            dedup_window_secs: default_sigma_dedup(),
        }
    }
}

impl SigmaConfig {
    /// The engine's options for this config.
    pub fn options(&self) -> tocsin_sigma::SigmaOptions {
        tocsin_sigma::SigmaOptions {
            placeholders: self.placeholders.clone(),
            lateness_secs: self.lateness_secs,
            max_groups: self.max_groups,
            dedup_window_secs: self.dedup_window_secs,
            ..tocsin_sigma::SigmaOptions::default()
        }
    }
}

fn default_lateness() -> u64 {
    60
}

fn default_sigma_dedup() -> u64 {
    3600
}

/// Where the organisation files are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OrgLocation {
    /// No organisation: events are not enriched and converged detectors stay idle.
    #[default]
    None,
    /// A folder of YAML files (`sites.yaml`, `people.yaml`, ...); a missing folder is empty.
    Dir(PathBuf),
    /// Files built into the binary, `(file name, text)`, written to `<data>/org` at start so
    /// that they can be edited and reloaded.
    Embedded(Vec<(String, String)>),
}

/// Bounds of the in-process pipeline. Every queue is bounded; when the ingest queue is full, HTTP
/// ingest answers 429 and network sources count drops.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Events waiting to enter the pipeline.
    #[serde(default = "default_queue")]
    pub ingest_queue: usize,
    /// Events waiting to be written to the store.
    #[serde(default = "default_queue")]
    pub store_queue: usize,
    /// Events waiting for detection.
    #[serde(default = "default_queue")]
    pub detect_queue: usize,
    /// Dead letters waiting to be written.
    #[serde(default = "default_dead_letter_queue")]
    pub dead_letter_queue: usize,
    /// Most events written in one store transaction.
    #[serde(default = "default_batch")]
    pub store_batch: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            ingest_queue: default_queue(),
            store_queue: default_queue(),
            detect_queue: default_queue(),
            dead_letter_queue: default_dead_letter_queue(),
            store_batch: default_batch(),
        }
    }
}

/// Detection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Cap on open counting windows across all rules; the stalest is evicted (and counted) first.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
    /// Rules of the built-in rule detector.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            max_groups: default_max_groups(),
            rules: Vec::new(),
        }
    }
}

fn default_version() -> u32 {
    CONFIG_VERSION
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("tocsin-data")
}
fn default_retention() -> u32 {
    30
}
fn default_storage() -> StorageConfig {
    StorageConfig::Sqlite {}
}
fn default_queue() -> usize {
    10_000
}
fn default_dead_letter_queue() -> usize {
    1_000
}
fn default_batch() -> usize {
    500
}
fn default_max_groups() -> usize {
    100_000
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field's path, e.g. `sources[1].udp`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<tocsin_org::OrgError> for ConfigError {
    fn from(e: tocsin_org::OrgError) -> Self {
        ConfigError {
            file: e.file,
            line: e.line,
            field: e.field,
            message: e.message,
        }
    }
}

/// Every error found in a config, so that `tocsin check` can list them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Largest config file read, so a wrong path to a huge file fails fast.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

impl Config {
    /// Loads `DIR/tocsin.toml` and checks it whole.
    pub fn load_dir(dir: &Path) -> Result<Config, ConfigErrors> {
        let file = dir.join(CONFIG_FILE);
        let one = |line, field, message: String| {
            ConfigErrors(vec![ConfigError {
                file: file.clone(),
                line,
                field,
                message,
            }])
        };
        let meta = std::fs::metadata(&file).map_err(|e| one(None, None, e.to_string()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(one(
                None,
                None,
                format!("file is larger than {MAX_CONFIG_BYTES} bytes"),
            ));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| one(None, None, e.to_string()))?;
        let org_dir = dir.join(tocsin_org::ORG_DIR);
        let parsed = Config::parse(&text, &file);
        // The organisation files are checked with the config, so that `tocsin check` and a
        // refused start list their errors too.
        let org_errors: Vec<ConfigError> = match tocsin_org::load_dir(&org_dir) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.into_iter().map(ConfigError::from).collect(),
        };
        match parsed {
            Ok(mut c) if org_errors.is_empty() => {
                c.org = OrgLocation::Dir(org_dir);
                for p in &mut c.sigma.rules {
                    if p.is_relative() {
                        *p = dir.join(&*p);
                    }
                }
                let mut missing: Vec<ConfigError> = c
                    .sigma
                    .rules
                    .iter()
                    .filter(|p| !p.is_dir())
                    .map(|p| ConfigError {
                        file: file.clone(),
                        line: find_line(&text, "rules"),
                        field: Some("sigma.rules".into()),
                        message: format!("{} is not a folder", p.display()),
                    })
                    .collect();
                if let Some(n) = &mut c.notify {
                    n.resolve(dir);
                    missing.extend(check_notify(n, &dir.join(tocsin_org::ORG_DIR)));
                }
                if let Some(p) = &mut c.incidents.checklists {
                    if p.is_relative() {
                        *p = dir.join(&*p);
                    }
                    match load_checklists(p) {
                        Ok(cl) => c.incidents.loaded = cl,
                        Err(e) => missing.push(e),
                    }
                }
                if missing.is_empty() {
                    Ok(c)
                } else {
                    Err(ConfigErrors(missing))
                }
            }
            Ok(_) => Err(ConfigErrors(org_errors)),
            Err(mut e) => {
                e.0.extend(org_errors);
                Err(e)
            }
        }
    }

    /// Parses and checks config text; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigErrors> {
        let de = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.span().map(|s| line_of_offset(text, s.start));
            ConfigErrors(vec![ConfigError {
                file: file.to_owned(),
                line,
                field: (field != "." && !field.is_empty()).then_some(field),
                message: inner.message().trim().to_owned(),
            }])
        })?;
        let errors = config.validate(text, file);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    fn validate(&self, text: &str, file: &Path) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut err = |line: Option<usize>, field: String, message: String| {
            errors.push(ConfigError {
                file: file.to_owned(),
                line,
                field: Some(field),
                message,
            })
        };
        if self.version != CONFIG_VERSION {
            err(
                find_line(text, "version"),
                "version".into(),
                format!(
                    "version {} is not supported (expected {CONFIG_VERSION})",
                    self.version
                ),
            );
        }
        for (name, v) in [
            ("pipeline.ingest_queue", self.pipeline.ingest_queue),
            ("pipeline.store_queue", self.pipeline.store_queue),
            ("pipeline.detect_queue", self.pipeline.detect_queue),
            (
                "pipeline.dead_letter_queue",
                self.pipeline.dead_letter_queue,
            ),
            ("pipeline.store_batch", self.pipeline.store_batch),
            ("detect.max_groups", self.detect.max_groups),
        ] {
            if v == 0 || v > 10_000_000 {
                let key = name.rsplit('.').next().unwrap_or(name);
                err(
                    find_line(text, key),
                    name.into(),
                    format!("{v} is outside 1..10000000"),
                );
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            let line = find_value_line(text, "name", s.name());
            if !names.insert(s.name().to_owned()) {
                err(
                    line,
                    format!("sources[{i}].name"),
                    format!("source name {:?} is used twice", s.name()),
                );
            }
            if s.name() == API_SOURCE_NAME {
                err(
                    line,
                    format!("sources[{i}].name"),
                    format!("source name {API_SOURCE_NAME:?} is reserved"),
                );
            }
            if let Err(message) = s.validate() {
                err(line, format!("sources[{i}]"), message);
            }
        }
        for (field, message) in self.converged.validate() {
            let key = field.rsplit('.').next().unwrap_or(&field).to_owned();
            err(find_line(text, &key), field, message);
        }
        let mut ids = std::collections::HashSet::new();
        for (i, r) in self.detect.rules.iter().enumerate() {
            let line = find_value_line(text, "id", &r.id);
            if !ids.insert(r.id.clone()) {
                err(
                    line,
                    format!("detect.rules[{i}].id"),
                    format!("rule id {:?} is used twice", r.id),
                );
            }
            if let Err(e) = r.validate() {
                err(line, format!("detect.rules[{i}]"), e.to_string());
            }
        }
        if let Some(n) = &self.notify {
            for (field, message) in n.validate() {
                let key = field.rsplit('.').next().unwrap_or(&field).to_owned();
                err(find_line(text, &key), field, message);
            }
        }
        errors
    }
}

/// Loads the routes and channels of `[notify]` and checks the teams they name against the
/// organisation in `org_dir`.
fn check_notify(n: &NotifyConfig, org_dir: &Path) -> Vec<ConfigError> {
    match load_setup(n) {
        Err(e) => e,
        Ok(setup) => match tocsin_org::load_dir(org_dir) {
            Ok(org) => tocsin_routing::unknown_teams(&setup.routes, &org)
                .into_iter()
                .map(|(field, message)| ConfigError {
                    file: n.routes.clone(),
                    line: None,
                    field: Some(field),
                    message,
                })
                .collect(),
            Err(_) => Vec::new(),
        },
    }
}

/// The built-in HTTP source that takes events posted with a user token.
pub const API_SOURCE_NAME: &str = tocsin_sources::http::ADMIN_SOURCE_NAME;

fn line_of_offset(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

/// First line that sets `key` (`key = ...`), for errors about a value that has no span.
fn find_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The line that sets `key` to the string `value` (e.g. `name = "dc-syslog"`).
fn find_value_line(text: &str, key: &str, value: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key).is_some_and(|rest| {
                rest.trim_start()
                    .strip_prefix('=')
                    .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == value)
            })
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::parse(text, Path::new("conf/tocsin.toml"))
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.retention_days, 30);
        assert!(matches!(c.storage, StorageConfig::Sqlite { .. }));
    }

    #[test]
    fn a_type_error_names_file_line_and_field() {
        let e = parse("version = 1\n\n[pipeline]\ningest_queue = \"lots\"\n").unwrap_err();
        let e = &e.0[0];
        assert_eq!(e.line, Some(4));
        assert_eq!(e.field.as_deref(), Some("pipeline.ingest_queue"));
        assert!(
            e.to_string()
                .starts_with("conf/tocsin.toml:4: field pipeline.ingest_queue"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_field_is_an_error_not_ignored() {
        let e = parse("listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(2));
        assert!(e.0[0].message.contains("listen_addr"), "{}", e.0[0]);
    }

    #[test]
    fn semantic_errors_are_all_listed_with_their_lines() {
        let text = r#"
[pipeline]
store_batch = 0

[[detect.rules]]
id = "a"
title = "t"
severity = 3
when = { class = "x" }
threshold = { count = 1, window_secs = 5 }

[[detect.rules]]
id = "a"
title = "t"
severity = 3
when = { class = "x" }
"#;
        let errs = parse(text).unwrap_err().0;
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(errs[0].field.as_deref(), Some("pipeline.store_batch"));
        assert_eq!(errs[0].line, Some(3));
        assert!(errs[1].message.contains("threshold.count"));
        assert_eq!(errs[1].line, Some(6));
        assert!(errs[2].message.contains("used twice"));
    }

    #[test]
    fn converged_settings_are_typed_and_checked() {
        let c = parse("[converged.presence_conflict]\nmax_speed_kmh = 500.0\n").unwrap();
        assert_eq!(c.converged.presence_conflict.max_speed_kmh, 500.0);
        assert!(c.converged.tailgating.enabled);
        let e = parse("[converged.tailgating]\ndenials_before_success = 0\n").unwrap_err();
        assert_eq!(e.0[0].line, Some(2));
        let e = parse("[converged.tailgating]\nenable = false\n").unwrap_err();
        assert!(e.0[0].message.contains("enable"), "{}", e.0[0]);
    }

    #[test]
    fn a_bad_org_file_fails_the_config_with_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "version = 1\n").unwrap();
        std::fs::create_dir(dir.path().join("org")).unwrap();
        std::fs::write(
            dir.path().join("org/teams.yaml"),
            "teams:\n  - id: soc\n    name: SOC\n    members: [nobody]\n",
        )
        .unwrap();
        let e = Config::load_dir(dir.path()).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert!(e.0[0].file.ends_with("org/teams.yaml"));
        assert_eq!(e.0[0].line, Some(4), "{e}");
        std::fs::write(dir.path().join("org/teams.yaml"), "teams: []\n").unwrap();
        let c = Config::load_dir(dir.path()).unwrap();
        assert_eq!(c.org, OrgLocation::Dir(dir.path().join("org")));
    }

    #[test]
    fn checklists_load_relative_to_the_config_and_errors_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "version = 1\n[incidents]\nchecklists = \"checklists.yaml\"\ngrouping = { by = [\"entity\"], window_secs = 600 }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("checklists.yaml"),
            "checklists:\n  - name: Intrusion\n    when: { domain: [physical] }\n    steps: [Send a guard]\n    owner: soc\n",
        )
        .unwrap();
        let e = Config::load_dir(dir.path()).unwrap_err();
        assert!(e.0[0].file.ends_with("checklists.yaml"), "{e}");
        assert!(e.0[0].line.is_some(), "{e}");
        assert!(e.0[0].message.contains("owner"), "{e}");
        std::fs::write(
            dir.path().join("checklists.yaml"),
            "checklists:\n  - name: Intrusion\n    when: { domain: [physical] }\n    steps: [Send a guard]\n",
        )
        .unwrap();
        let c = Config::load_dir(dir.path()).unwrap();
        assert_eq!(c.incidents.loaded.checklists.len(), 1);
        assert_eq!(c.incidents.grouping.window_secs, 600);
        assert_eq!(
            c.incidents.grouping.by,
            vec![tocsin_incidents::GroupBy::Entity]
        );
    }
}

#[cfg(test)]
mod readme {
    use super::*;

    /// The configuration example in the README is a valid config, so the docs stay true.
    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../../README.md");
        let section = readme
            .split("## Configuration")
            .nth(1)
            .expect("README has a Configuration section");
        let block = section
            .split("```toml")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("a toml block");
        let config = Config::parse(block, Path::new("README.md")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.sources.len(), 2);
        assert_eq!(config.detect.rules.len(), 1);
    }
}

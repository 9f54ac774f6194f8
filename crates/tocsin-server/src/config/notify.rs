//! The `[notify]` section: where the routing tree and the channels are, and how deliveries are
//! retried.
//!
//! ```toml
//! [notify]
//! routes = "routes.yaml"        # relative to the config folder
//! channels = "channels.toml"
//! max_attempts = 8
//! retry_base = "5s"
//! retry_max = "10m"
//! workers = 2
//! poll_interval = "1s"
//! ```
//!
//! `channels.toml` holds the `[[channels]]` (see `tocsin-notify/channels.example.toml`) and
//! `default`, the channels (in failover order) of audiences that name neither a `channel` nor
//! `via`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tocsin_notify::ChannelConfig;
use tocsin_routing::{Audience, Routes, Target};

use super::{ConfigError, find_value_line, line_of_offset};

/// A length of time written `250ms`, `5s`, `10m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl Interval {
    /// Parses `250ms`, `5s`, `10m`, `1h` (one number, one unit).
    pub fn parse(s: &str) -> Result<Interval, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("bad duration {s:?}: write it like 500ms, 5s, 10m or 1h"))?;
        let ms = match unit {
            "ms" => Some(n),
            "s" => n.checked_mul(1000),
            "m" => n.checked_mul(60_000),
            "h" => n.checked_mul(3_600_000),
            _ => None,
        }
        .ok_or_else(|| format!("bad duration {s:?}: write it like 500ms, 5s, 10m or 1h"))?;
        Ok(Interval(Duration::from_millis(ms)))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Interval::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn default_routes() -> PathBuf {
    PathBuf::from(tocsin_routing::ROUTES_FILE)
}
fn default_channels() -> PathBuf {
    PathBuf::from(CHANNELS_FILE)
}
fn default_max_attempts() -> u32 {
    8
}
fn default_retry_base() -> Interval {
    Interval(Duration::from_secs(5))
}
fn default_retry_max() -> Interval {
    Interval(Duration::from_secs(600))
}
fn default_workers() -> usize {
    2
}
fn default_poll() -> Interval {
    Interval(Duration::from_secs(1))
}
fn default_lease() -> Interval {
    Interval(Duration::from_secs(900))
}

/// The default channels file name, next to `tocsin.toml`.
pub const CHANNELS_FILE: &str = "channels.toml";

/// Routing and durable delivery. Without this section alerts are only logged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The routing tree and escalation plans; relative to the config folder.
    #[serde(default = "default_routes")]
    pub routes: PathBuf,
    /// The channels; relative to the config folder.
    #[serde(default = "default_channels")]
    pub channels: PathBuf,
    /// Attempts per notification before it is `dead` (1 to 100).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one, with jitter.
    #[serde(default = "default_retry_base")]
    pub retry_base: Interval,
    /// Longest wait between attempts.
    #[serde(default = "default_retry_max")]
    pub retry_max: Interval,
    /// Deliveries sent at once (1 to 64).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How often idle workers look for due notifications (new alerts wake them at once).
    #[serde(default = "default_poll")]
    pub poll_interval: Interval,
    /// How long a claimed notification stays with its worker before another may take it
    /// (PostgreSQL, several nodes); longer than the slowest channel's timeouts together.
    #[serde(default = "default_lease")]
    pub lease: Interval,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            routes: default_routes(),
            channels: default_channels(),
            max_attempts: default_max_attempts(),
            retry_base: default_retry_base(),
            retry_max: default_retry_max(),
            workers: default_workers(),
            poll_interval: default_poll(),
            lease: default_lease(),
        }
    }
}

/// `channels.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsFile {
    /// Channels, in failover order, of audiences that name neither `channel` nor `via`.
    #[serde(default)]
    pub default: Vec<String>,
    /// The channels.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
}

impl ChannelsFile {
    /// The channels to try for `audience`, in failover order.
    pub fn channels_for(&self, audience: &Audience) -> Vec<String> {
        match audience.target() {
            Some(Target::Channel(c)) => vec![c.to_owned()],
            _ if !audience.via.is_empty() => audience.via.clone(),
            _ => self.default.clone(),
        }
    }
}

/// Routes and channels, loaded and checked together.
#[derive(Debug, Clone)]
pub struct NotifySetup {
    pub routes: Routes,
    pub channels: ChannelsFile,
}

fn read(path: &Path) -> Result<String, ConfigError> {
    let one = |message: String| ConfigError {
        file: path.to_owned(),
        line: None,
        field: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| one(format!("cannot read: {e}")))?;
    if meta.len() > 4 * 1024 * 1024 {
        return Err(one("file is larger than 4 MiB".into()));
    }
    std::fs::read_to_string(path).map_err(|e| one(format!("cannot read: {e}")))
}

/// Reads and checks a channels file: types, each channel's settings, unique names, and that
/// `default` names known channels.
pub fn load_channels(path: &Path) -> Result<ChannelsFile, Vec<ConfigError>> {
    let text = read(path).map_err(|e| vec![e])?;
    parse_channels(&text, path)
}

/// [`load_channels`] on text; `file` only names it in errors.
pub fn parse_channels(text: &str, file: &Path) -> Result<ChannelsFile, Vec<ConfigError>> {
    let de = toml::Deserializer::new(text);
    let parsed: ChannelsFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        vec![ConfigError {
            file: file.to_owned(),
            line: inner.span().map(|s| line_of_offset(text, s.start)),
            field: (field != "." && !field.is_empty()).then_some(field),
            message: inner.message().trim().to_owned(),
        }]
    })?;
    let mut errors = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, c) in parsed.channels.iter().enumerate() {
        let line = find_value_line(text, "name", c.name());
        if let Err(message) = c.validate() {
            errors.push(ConfigError {
                file: file.to_owned(),
                line,
                field: Some(format!("channels[{i}]")),
                message,
            });
        } else if let Err(e) = tocsin_notify::build_with_env(
            c,
            std::sync::Arc::new(tocsin_model::SystemClock),
            // Secrets are checked at start; here only their presence in the file matters.
            &|_| Some("set".to_owned()),
        ) {
            errors.push(ConfigError {
                file: file.to_owned(),
                line,
                field: Some(format!("channels[{i}]")),
                message: e.to_string(),
            });
        }
        if !names.insert(c.name()) {
            errors.push(ConfigError {
                file: file.to_owned(),
                line,
                field: Some(format!("channels[{i}].name")),
                message: format!("channel name {:?} is used twice", c.name()),
            });
        }
    }
    for (i, d) in parsed.default.iter().enumerate() {
        if !names.contains(d.as_str()) {
            errors.push(ConfigError {
                file: file.to_owned(),
                line: super::find_line(text, "default"),
                field: Some(format!("default[{i}]")),
                message: format!("unknown channel {d:?}"),
            });
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// Loads the routes and channels named by `cfg` (paths already resolved) and checks them
/// against each other: every `channel` and `via` a plan names is a configured channel, and
/// every audience that names neither has `default` channels to go to.
pub fn load_setup(cfg: &NotifyConfig) -> Result<NotifySetup, Vec<ConfigError>> {
    let routes = tocsin_routing::load(&cfg.routes).map_err(|e| {
        e.0.into_iter()
            .map(|r| ConfigError {
                file: r.file,
                line: r.line,
                field: r.field,
                message: r.message,
            })
            .collect::<Vec<_>>()
    });
    let channels = load_channels(&cfg.channels);
    let (routes, channels) = match (routes, channels) {
        (Ok(r), Ok(c)) => (r, c),
        (r, c) => {
            let mut all = Vec::new();
            all.extend(r.err().unwrap_or_default());
            all.extend(c.err().unwrap_or_default());
            return Err(all);
        }
    };
    let text = std::fs::read_to_string(&cfg.routes).unwrap_or_default();
    let known: std::collections::HashSet<&str> =
        channels.channels.iter().map(|c| c.name()).collect();
    let mut errors = Vec::new();
    for (name, plan) in &routes.plans {
        for (i, step) in plan.steps.iter().enumerate() {
            for (j, a) in step.notify.iter().enumerate() {
                let field = format!("plans.{name}.steps[{i}].notify[{j}]");
                let wanted = channels.channels_for(a);
                if wanted.is_empty() {
                    errors.push(ConfigError {
                        file: cfg.routes.clone(),
                        line: None,
                        field: Some(field.clone()),
                        message: format!(
                            "no channel to reach this audience: give it `via`, or set `default` in {}",
                            cfg.channels.display()
                        ),
                    });
                }
                for c in wanted {
                    if !known.contains(c.as_str()) {
                        errors.push(ConfigError {
                            file: cfg.routes.clone(),
                            line: first_line_with(&text, &c),
                            field: Some(field.clone()),
                            message: format!(
                                "unknown channel {c:?} (not in {})",
                                cfg.channels.display()
                            ),
                        });
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(NotifySetup { routes, channels })
    } else {
        Err(errors)
    }
}

/// The first line of `text` that mentions `word`.
fn first_line_with(text: &str, word: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(word)).map(|i| i + 1)
}

impl NotifyConfig {
    /// Range checks, as `(field, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(1..=100).contains(&self.max_attempts) {
            out.push((
                "notify.max_attempts".into(),
                format!("{} is outside 1..100", self.max_attempts),
            ));
        }
        if !(1..=64).contains(&self.workers) {
            out.push((
                "notify.workers".into(),
                format!("{} is outside 1..64", self.workers),
            ));
        }
        if self.retry_base.0.is_zero() || self.retry_base.0 > self.retry_max.0 {
            out.push((
                "notify.retry_base".into(),
                "must be longer than 0 and at most retry_max".into(),
            ));
        }
        if self.poll_interval.0 < Duration::from_millis(10) {
            out.push((
                "notify.poll_interval".into(),
                "must be at least 10ms".into(),
            ));
        }
        if self.lease.0 < Duration::from_secs(1) {
            out.push(("notify.lease".into(), "must be at least 1s".into()));
        }
        out
    }

    /// Makes relative paths relative to the config folder `dir`.
    pub fn resolve(&mut self, dir: &Path) {
        for p in [&mut self.routes, &mut self.channels] {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_ms_s_m_h_only() {
        assert_eq!(
            Interval::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(Interval::parse("5s").unwrap().0, Duration::from_secs(5));
        assert_eq!(Interval::parse("10m").unwrap().0, Duration::from_secs(600));
        assert_eq!(Interval::parse("1h").unwrap().0, Duration::from_secs(3600));
        for bad in ["", "5", "5x", "m", "-1s", "99999999999999999999h"] {
            assert!(Interval::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn channel_errors_name_file_line_and_field() {
        let text = "default = [\"missing\"]\n\n[[channels]]\ntype = \"log\"\nname = \"a\"\n\n[[channels]]\ntype = \"webhook\"\nname = \"b\"\nurl = \"ftp://x\"\n";
        let errs = parse_channels(text, Path::new("channels.toml")).unwrap_err();
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(&"channels.toml:9: field channels[1]: channel \"b\": url: scheme \"ftp\" is not http or https".to_owned()),
            "{shown:?}"
        );
        assert!(
            shown.contains(
                &"channels.toml:1: field default[0]: unknown channel \"missing\"".to_owned()
            ),
            "{shown:?}"
        );
        let errs = parse_channels(
            "[[channels]]\ntype = \"carrier-pigeon\"\nname = \"x\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert_eq!(errs[0].line, Some(2), "the line of the unknown type");
        assert_eq!(errs[0].field.as_deref(), Some("channels[0].type"));
    }

    #[test]
    fn a_plan_naming_an_unknown_channel_is_refused_with_its_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("routes.yaml"),
            "route:\n  plan: p\nplans:\n  p:\n    steps:\n      - after: 0\n        notify:\n          - { person: p-ana, via: [pager] }\n          - { team: soc }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("channels.toml"),
            "[[channels]]\ntype = \"log\"\nname = \"log\"\n",
        )
        .unwrap();
        let mut cfg = NotifyConfig::default();
        cfg.resolve(dir.path());
        let errs = load_setup(&cfg).unwrap_err();
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 2, "{shown:?}");
        let want = format!(
            ":8: field plans.p.steps[0].notify[0]: unknown channel \"pager\" (not in {})",
            cfg.channels.display()
        );
        assert!(shown[0].ends_with(&want), "{shown:?}");
        assert!(
            shown[1]
                .contains("field plans.p.steps[0].notify[1]: no channel to reach this audience"),
            "{shown:?}"
        );
    }
}

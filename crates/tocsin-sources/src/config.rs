use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use tocsin_model::DEFAULT_TENANT;

use crate::Source;
use crate::dc09::{Dc09Source, Dc09SourceConfig};
use crate::feed::{FeedSource, FeedSourceConfig};
use crate::http::{ADMIN_SOURCE_NAME, HttpSource, HttpSourceConfig};
use crate::mqtt::{MqttSource, MqttSourceConfig};
use crate::onvif::{OnvifSource, OnvifSourceConfig};
use crate::syslog::{SyslogSource, SyslogSourceConfig};

/// Longest accepted source name.
const MAX_NAME_LEN: usize = 64;

/// The config of one source, as written in `tocsin.toml` under `[[sources]]`, chosen by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceConfig {
    /// `type = "http"`: batches posted to `POST /api/v1/events` with this source's token.
    Http(HttpSourceConfig),
    /// `type = "syslog"`: a UDP and/or TCP syslog listener.
    Syslog(SyslogSourceConfig),
    /// `type = "mqtt"`: subscriptions on an MQTT broker.
    Mqtt(MqttSourceConfig),
    /// `type = "onvif"`: an HTTP endpoint receiving ONVIF Notify pushes.
    Onvif(OnvifSourceConfig),
    /// `type = "dc09"`: a SIA DC-09 alarm receiver over TCP and UDP.
    Dc09(Dc09SourceConfig),
    /// `type = "feed"`: a public feed polled over HTTP(S) or read from a file or folder.
    Feed(FeedSourceConfig),
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Http(c) => &c.name,
            SourceConfig::Syslog(c) => &c.name,
            SourceConfig::Mqtt(c) => &c.name,
            SourceConfig::Onvif(c) => &c.name,
            SourceConfig::Dc09(c) => &c.name,
            SourceConfig::Feed(c) => &c.name,
        }
    }

    /// `"http"`, `"syslog"`, `"mqtt"`, `"onvif"`, `"dc09"` or `"feed"`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Http(_) => "http",
            SourceConfig::Syslog(_) => "syslog",
            SourceConfig::Mqtt(_) => "mqtt",
            SourceConfig::Onvif(_) => "onvif",
            SourceConfig::Dc09(_) => "dc09",
            SourceConfig::Feed(_) => "feed",
        }
    }

    /// Checks what can be checked without the environment (token variables are read by
    /// [`build`]). The message names the field.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            SourceConfig::Http(c) => c.validate(),
            SourceConfig::Syslog(c) => c.validate(),
            SourceConfig::Mqtt(c) => c.validate(),
            SourceConfig::Onvif(c) => c.validate(),
            SourceConfig::Dc09(c) => c.validate(),
            SourceConfig::Feed(c) => c.validate(),
        }
    }
}

/// Checks each source and that no two share a name; the message starts with the source's name.
pub fn validate_all(configs: &[SourceConfig]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for c in configs {
        c.validate()
            .map_err(|e| format!("source {:?}: {e}", c.name()))?;
        if !seen.insert(c.name()) {
            return Err(format!(
                "source {:?}: the name is used by another source",
                c.name()
            ));
        }
    }
    Ok(())
}

/// Why a source could not be built from its config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("source {name:?}: {reason}")]
    Invalid { name: String, reason: String },
    #[error(
        "source {name:?}: environment variable {var:?} named by `token_env` is not set or is empty"
    )]
    TokenEnv { name: String, var: String },
}

/// A built source with its concrete type, for the parts that need more than [`Source`] (the
/// API needs [`HttpSource::ingest`]).
#[derive(Debug, Clone)]
pub enum BuiltSource {
    Http(Arc<HttpSource>),
    Syslog(Arc<SyslogSource>),
    Mqtt(Arc<MqttSource>),
    Onvif(Arc<OnvifSource>),
    Dc09(Arc<Dc09Source>),
    Feed(Arc<FeedSource>),
}

impl BuiltSource {
    pub fn as_source(&self) -> Arc<dyn Source> {
        match self {
            BuiltSource::Http(s) => s.clone(),
            BuiltSource::Syslog(s) => s.clone(),
            BuiltSource::Mqtt(s) => s.clone(),
            BuiltSource::Onvif(s) => s.clone(),
            BuiltSource::Dc09(s) => s.clone(),
            BuiltSource::Feed(s) => s.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.as_source_ref().info().name
    }

    fn as_source_ref(&self) -> &dyn Source {
        match self {
            BuiltSource::Http(s) => s.as_ref(),
            BuiltSource::Syslog(s) => s.as_ref(),
            BuiltSource::Mqtt(s) => s.as_ref(),
            BuiltSource::Onvif(s) => s.as_ref(),
            BuiltSource::Dc09(s) => s.as_ref(),
            BuiltSource::Feed(s) => s.as_ref(),
        }
    }
}

/// Builds one source, keeping its concrete type.
pub fn build_typed(cfg: &SourceConfig) -> Result<BuiltSource, BuildError> {
    Ok(match cfg {
        SourceConfig::Http(c) => BuiltSource::Http(Arc::new(HttpSource::from_config(c)?)),
        SourceConfig::Syslog(c) => BuiltSource::Syslog(Arc::new(SyslogSource::from_config(c)?)),
        SourceConfig::Mqtt(c) => BuiltSource::Mqtt(Arc::new(MqttSource::from_config(c)?)),
        SourceConfig::Onvif(c) => BuiltSource::Onvif(Arc::new(OnvifSource::from_config(c)?)),
        SourceConfig::Dc09(c) => BuiltSource::Dc09(Arc::new(Dc09Source::from_config(c)?)),
        SourceConfig::Feed(c) => BuiltSource::Feed(Arc::new(FeedSource::from_config(c)?)),
    })
}

/// Builds one source.
pub fn build(cfg: &SourceConfig) -> Result<Arc<dyn Source>, BuildError> {
    build_typed(cfg).map(|b| b.as_source())
}

pub(crate) fn default_tenant() -> String {
    DEFAULT_TENANT.to_owned()
}

pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("`name`: must not be empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "`name`: {} characters, more than the limit of {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`name`: {name:?} contains {c:?}; use letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

pub(crate) fn check_tenant(tenant: &str) -> Result<(), String> {
    if tenant.trim().is_empty() {
        return Err("`tenant`: must not be empty".to_owned());
    }
    Ok(())
}

/// Names a source may not take because a built-in one uses them.
pub const RESERVED_NAMES: &[&str] = &[ADMIN_SOURCE_NAME];

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        sources: Vec<SourceConfig>,
    }

    fn parse(json: serde_json::Value) -> Result<Vec<SourceConfig>, String> {
        serde_json::from_value::<File>(json)
            .map(|f| f.sources)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sources_are_chosen_by_type_and_unknown_fields_are_refused() {
        let sources = parse(serde_json::json!({"sources": [
            {"type": "http", "name": "web", "token_env": "X"},
            {"type": "syslog", "name": "fw", "udp": "127.0.0.1:5514"}
        ]}))
        .unwrap();
        assert_eq!(sources[0].kind(), "http");
        assert_eq!(sources[1].kind(), "syslog");
        assert_eq!(sources[1].name(), "fw");
        validate_all(&sources).unwrap();

        let err = parse(serde_json::json!({"sources": [
            {"type": "syslog", "name": "fw", "udp": "127.0.0.1:5514", "max_mesage_bytes": 10}
        ]}))
        .unwrap_err();
        assert!(err.contains("max_mesage_bytes"), "{err}");
        let err = parse(serde_json::json!({"sources": [{"type": "carrier-pigeon", "name": "x"}]}))
            .unwrap_err();
        assert!(err.contains("carrier-pigeon"), "{err}");
    }

    #[test]
    fn duplicate_and_bad_names_are_refused() {
        let sources = parse(serde_json::json!({"sources": [
            {"type": "http", "name": "web", "token_env": "X"},
            {"type": "syslog", "name": "web", "tcp": "127.0.0.1:0"}
        ]}))
        .unwrap();
        let err = validate_all(&sources).unwrap_err();
        assert!(err.contains("used by another"), "{err}");
        assert!(check_name("fw east").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("fw-east_1.a").is_ok());
        assert!(RESERVED_NAMES.contains(&"api"));
    }
}

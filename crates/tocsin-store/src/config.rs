use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::{Store, StoreError, open_postgres_with, open_sqlite};

/// The data folder used by [`open`] for SQLite (see [`open_in`] to choose it).
pub const DEFAULT_DATA_DIR: &str = "data";

/// Which database holds Tocsin's state. In a TOML configuration:
///
/// ```toml
/// [storage]
/// backend = "sqlite"            # the default
/// ```
///
/// ```toml
/// [storage]
/// backend = "postgres"
/// url = "postgres://tocsin@db.internal:5432/tocsin"
/// max_connections = 20          # optional, default 10
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageConfig {
    /// One SQLite file, `tocsin.db`, in the data folder, which is configured separately (the
    /// server's `data_dir`) because other state lives there too.
    Sqlite {},
    /// A PostgreSQL database shared by every node.
    Postgres {
        /// A libpq-style URL, e.g. `postgres://user:password@host:5432/db`.
        url: String,
        /// The most connections this node opens (default 10).
        #[serde(default)]
        max_connections: Option<u32>,
    },
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig::Sqlite {}
    }
}

impl StorageConfig {
    /// The backend's name, as in the `backend` key.
    pub fn backend(&self) -> &'static str {
        match self {
            StorageConfig::Sqlite { .. } => "sqlite",
            StorageConfig::Postgres { .. } => "postgres",
        }
    }
}

impl fmt::Debug for StorageConfig {
    // Configurations get logged, and a PostgreSQL URL may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageConfig::Sqlite {} => f.write_str("Sqlite"),
            StorageConfig::Postgres {
                url,
                max_connections,
            } => f
                .debug_struct("Postgres")
                .field("url", &redact_url(url))
                .field("max_connections", max_connections)
                .finish(),
        }
    }
}

/// Replaces the password of a `scheme://user:password@host` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

/// Opens the configured store; a SQLite store goes in [`DEFAULT_DATA_DIR`].
pub async fn open(cfg: &StorageConfig) -> Result<Arc<dyn Store>, StoreError> {
    open_in(cfg, Path::new(DEFAULT_DATA_DIR)).await
}

/// Opens the configured store; a SQLite store goes in `data_dir`.
pub async fn open_in(cfg: &StorageConfig, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match cfg {
        StorageConfig::Sqlite {} => Ok(Arc::new(open_sqlite(data_dir).await?)),
        StorageConfig::Postgres {
            url,
            max_connections,
        } => Ok(Arc::new(open_postgres_with(url, *max_connections).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_backends_and_refuses_unknown_keys() {
        let cfg: StorageConfig = serde_json::from_str(r#"{"backend":"sqlite"}"#).unwrap();
        assert_eq!(cfg, StorageConfig::default());
        assert_eq!(cfg.backend(), "sqlite");
        let cfg: StorageConfig = serde_json::from_str(
            r#"{"backend":"postgres","url":"postgres://db/tocsin","max_connections":4}"#,
        )
        .unwrap();
        assert_eq!(cfg.backend(), "postgres");
        for bad in [
            r#"{"backend":"sqlite","path":"x"}"#,
            r#"{"backend":"postgres","url":"postgres://db","pool":3}"#,
            r#"{"backend":"postgres"}"#,
            r#"{"backend":"mysql"}"#,
            r#"{"path":"x"}"#,
        ] {
            assert!(
                serde_json::from_str::<StorageConfig>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        assert_eq!(format!("{:?}", StorageConfig::default()), "Sqlite");
        let cfg = StorageConfig::Postgres {
            url: "postgres://tocsin:s3cret@db:5432/tocsin?sslmode=require".into(),
            max_connections: None,
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://tocsin:***@db:5432/tocsin?sslmode=require"));
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}

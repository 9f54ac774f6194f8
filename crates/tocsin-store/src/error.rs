use std::path::PathBuf;

/// Why a store operation failed.
///
/// Messages are meant for logs and operators. They never carry SQL text or bound values, but a
/// [`StoreError::Backend`] message comes from the database driver, so an API should answer clients
/// with a generic error for it rather than this text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A page cursor that this store did not hand out (or that belongs to another listing).
    #[error("malformed page cursor")]
    BadCursor,
    /// A unique key is already taken, e.g. a token hash or an alert id owned by another tenant.
    #[error("{what} already exists")]
    Conflict {
        /// What collided, e.g. `api token`.
        what: &'static str,
    },
    /// A value that the store cannot represent.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored record that no longer decodes (written by a newer version, or edited by hand).
    #[error("stored {what} {id} cannot be read: {reason}")]
    Corrupt {
        /// The kind of record, e.g. `event`.
        what: &'static str,
        /// Its id.
        id: String,
        /// The decoding error.
        reason: String,
    },
    /// A schema migration failed, or the database holds a schema newer than this build knows.
    #[error("migration {version} ({name}): {reason}")]
    Migration {
        /// The migration's version number.
        version: i64,
        /// The migration's file name.
        name: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The database cannot be reached right now (connection refused, pool exhausted, closed).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database error, with the driver's message.
    #[error("database error: {0}")]
    Backend(String),
    /// The data folder could not be created or used.
    #[error("data folder {path}: {reason}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        reason: String,
    },
    /// The store does not implement this operation (a wrapper that does not forward it).
    #[error("the store does not support `{operation}`")]
    Unsupported {
        /// The trait method.
        operation: &'static str,
    },
    /// The storage configuration is unusable, e.g. a PostgreSQL URL that does not parse.
    #[error("storage configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether the caller's input is to blame (a bad cursor, a conflict, an unrepresentable value),
    /// as opposed to the database or the deployment.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::BadCursor | StoreError::Conflict { .. } | StoreError::Invalid { .. }
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Configuration(_) => StoreError::Config(e.to_string()),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// Maps a unique-key violation to [`StoreError::Conflict`], anything else as usual.
pub(crate) fn conflict_or(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { what },
        _ => StoreError::from(e),
    }
}

//! Dashboard users and their login sessions: the records and the SQL both backends share.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::StoreError;
use crate::sql::{Dialect, from_micros, scrub};

/// Someone who logs in to the dashboard with a username and password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The login name; unique across the deployment.
    pub username: String,
    /// The password as an argon2id PHC string (`$argon2id$v=19$...`); never the password itself.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// The role the user acts with (`viewer`, `physical_analyst`, `cyber_analyst`, `lead`,
    /// `admin`).
    pub role: String,
    /// The tenant the user is confined to.
    pub tenant: String,
    /// When the user was created.
    pub created: DateTime<Utc>,
}

impl std::fmt::Debug for User {
    // The hash is left out: it is a credential in its own right.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("tenant", &self.tenant)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// A logged-in browser. The cookie holds a random secret; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Lower-case hex SHA-256 of the cookie secret.
    pub id_hash: String,
    /// Whose session it is.
    pub username: String,
    /// The token the browser must echo in `X-CSRF-Token` on every change it asks for.
    pub csrf_token: String,
    /// When the user logged in.
    pub created: DateTime<Utc>,
    /// When the session stops being accepted.
    pub expires: DateTime<Utc>,
}

pub(crate) fn clean_user(u: &User) -> User {
    User {
        username: scrub(&u.username).into_owned(),
        password_hash: scrub(&u.password_hash).into_owned(),
        role: scrub(&u.role).into_owned(),
        tenant: scrub(&u.tenant).into_owned(),
        created: u.created,
    }
}

/// A `users` row.
pub(crate) fn user_of<R>(row: &R) -> Result<User, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let username: String = row.try_get("username")?;
    let created = from_micros(row.try_get("created_us")?, "user", &username)?;
    Ok(User {
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        tenant: row.try_get("tenant")?,
        username,
        created,
    })
}

/// A `sessions` row.
pub(crate) fn session_of<R>(row: &R) -> Result<Session, StoreError>
where
    R: Row,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let id_hash: String = row.try_get("id_hash")?;
    let created = from_micros(row.try_get("created_us")?, "session", &id_hash)?;
    let expires = from_micros(row.try_get("expires_us")?, "session", &id_hash)?;
    Ok(Session {
        username: row.try_get("username")?,
        csrf_token: row.try_get("csrf_token")?,
        id_hash,
        created,
        expires,
    })
}

/// The statements, in the dialect's placeholder style.
pub(crate) struct UserSql {
    pub(crate) upsert_user: &'static str,
    pub(crate) find_user: &'static str,
    pub(crate) list_users: &'static str,
    pub(crate) delete_user: &'static str,
    pub(crate) insert_session: &'static str,
    pub(crate) find_session: &'static str,
    pub(crate) delete_session: &'static str,
    pub(crate) purge_sessions: &'static str,
}

pub(crate) const fn user_sql(dialect: Dialect) -> UserSql {
    match dialect {
        Dialect::Sqlite => UserSql {
            upsert_user: "INSERT INTO users (username, password_hash, role, tenant, created_us) \
                VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET \
                password_hash = excluded.password_hash, role = excluded.role, \
                tenant = excluded.tenant",
            find_user: "SELECT username, password_hash, role, tenant, created_us FROM users \
                WHERE username = ?",
            list_users: "SELECT username, password_hash, role, tenant, created_us FROM users \
                WHERE tenant = ? ORDER BY username",
            delete_user: "DELETE FROM users WHERE tenant = ? AND username = ?",
            insert_session: "INSERT INTO sessions \
                (id_hash, username, csrf_token, created_us, expires_us) VALUES (?, ?, ?, ?, ?)",
            find_session: "SELECT id_hash, username, csrf_token, created_us, expires_us \
                FROM sessions WHERE id_hash = ? AND expires_us > ?",
            delete_session: "DELETE FROM sessions WHERE id_hash = ?",
            purge_sessions: "DELETE FROM sessions WHERE expires_us <= ?",
        },
        Dialect::Postgres => UserSql {
            upsert_user: "INSERT INTO users (username, password_hash, role, tenant, created_us) \
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET \
                password_hash = excluded.password_hash, role = excluded.role, \
                tenant = excluded.tenant",
            find_user: "SELECT username, password_hash, role, tenant, created_us FROM users \
                WHERE username = $1",
            list_users: "SELECT username, password_hash, role, tenant, created_us FROM users \
                WHERE tenant = $1 ORDER BY username",
            delete_user: "DELETE FROM users WHERE tenant = $1 AND username = $2",
            insert_session: "INSERT INTO sessions \
                (id_hash, username, csrf_token, created_us, expires_us) \
                VALUES ($1, $2, $3, $4, $5)",
            find_session: "SELECT id_hash, username, csrf_token, created_us, expires_us \
                FROM sessions WHERE id_hash = $1 AND expires_us > $2",
            delete_session: "DELETE FROM sessions WHERE id_hash = $1",
            purge_sessions: "DELETE FROM sessions WHERE expires_us <= $1",
        },
    }
}

/// Writes, for backend `$store`, inherent `user_*` methods holding the SQL of the user and
/// session methods of [`crate::Store`], which forward to them (`async_trait` cannot see inside a
/// macro, so the trait methods themselves stay in the `impl Store` blocks). `$row` is the
/// backend's row type, `$reader`/`$writer` the fields holding its pools.
macro_rules! user_methods {
    ($store:ty, $dialect:expr, $row:ty, $reader:ident, $writer:ident) => {
        impl $store {
            pub(crate) async fn user_upsert_user(
                &self,
                u: &$crate::User,
            ) -> Result<(), $crate::StoreError> {
                let u = $crate::users::clean_user(u);
                sqlx::query($crate::users::user_sql($dialect).upsert_user)
                    .bind(u.username.as_str())
                    .bind(u.password_hash.as_str())
                    .bind(u.role.as_str())
                    .bind(u.tenant.as_str())
                    .bind($crate::sql::micros(u.created))
                    .execute(&self.$writer)
                    .await
                    .map_err(|e| $crate::conflict_or(e, "user"))?;
                Ok(())
            }

            pub(crate) async fn user_find_user(
                &self,
                username: &str,
            ) -> Result<Option<$crate::User>, $crate::StoreError> {
                sqlx::query($crate::users::user_sql($dialect).find_user)
                    .bind($crate::sql::scrub(username).as_ref())
                    .fetch_optional(&self.$reader)
                    .await?
                    .map(|row: $row| $crate::users::user_of(&row))
                    .transpose()
            }

            pub(crate) async fn user_list_users(
                &self,
                tenant: &str,
            ) -> Result<Vec<$crate::User>, $crate::StoreError> {
                sqlx::query($crate::users::user_sql($dialect).list_users)
                    .bind($crate::sql::scrub(tenant).as_ref())
                    .fetch_all(&self.$reader)
                    .await?
                    .into_iter()
                    .map(|row: $row| $crate::users::user_of(&row))
                    .collect()
            }

            pub(crate) async fn user_delete_user(
                &self,
                tenant: &str,
                username: &str,
            ) -> Result<bool, $crate::StoreError> {
                let n = sqlx::query($crate::users::user_sql($dialect).delete_user)
                    .bind($crate::sql::scrub(tenant).as_ref())
                    .bind($crate::sql::scrub(username).as_ref())
                    .execute(&self.$writer)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            pub(crate) async fn user_insert_session(
                &self,
                s: &$crate::Session,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::users::user_sql($dialect).insert_session)
                    .bind($crate::sql::scrub(&s.id_hash).as_ref())
                    .bind($crate::sql::scrub(&s.username).as_ref())
                    .bind($crate::sql::scrub(&s.csrf_token).as_ref())
                    .bind($crate::sql::micros(s.created))
                    .bind($crate::sql::micros(s.expires))
                    .execute(&self.$writer)
                    .await
                    .map_err(|e| $crate::conflict_or(e, "session"))?;
                Ok(())
            }

            pub(crate) async fn user_find_session(
                &self,
                id_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::Session>, $crate::StoreError> {
                sqlx::query($crate::users::user_sql($dialect).find_session)
                    .bind($crate::sql::scrub(id_hash).as_ref())
                    .bind($crate::sql::micros(now))
                    .fetch_optional(&self.$reader)
                    .await?
                    .map(|row: $row| $crate::users::session_of(&row))
                    .transpose()
            }

            pub(crate) async fn user_delete_session(
                &self,
                id_hash: &str,
            ) -> Result<bool, $crate::StoreError> {
                let n = sqlx::query($crate::users::user_sql($dialect).delete_session)
                    .bind($crate::sql::scrub(id_hash).as_ref())
                    .execute(&self.$writer)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            pub(crate) async fn user_purge_sessions(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                Ok(
                    sqlx::query($crate::users::user_sql($dialect).purge_sessions)
                        .bind($crate::sql::micros(now))
                        .execute(&self.$writer)
                        .await?
                        .rows_affected(),
                )
            }
        }
    };
}
pub(crate) use user_methods;

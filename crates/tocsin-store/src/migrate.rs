//! Schema migrations: `.sql` files embedded at build time, applied in version order inside one
//! transaction, each recorded in `schema_migrations` so that running them again changes nothing.

use crate::StoreError;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial.sql",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_incidents.sql",
        sql: include_str!("../migrations/sqlite/0002_incidents.sql"),
    },
    Migration {
        version: 3,
        name: "0003_users.sql",
        sql: include_str!("../migrations/sqlite/0003_users.sql"),
    },
    Migration {
        version: 4,
        name: "0004_outbox.sql",
        sql: include_str!("../migrations/sqlite/0004_outbox.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_initial.sql",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "0002_incidents.sql",
        sql: include_str!("../migrations/postgres/0002_incidents.sql"),
    },
    Migration {
        version: 3,
        name: "0003_users.sql",
        sql: include_str!("../migrations/postgres/0003_users.sql"),
    },
    Migration {
        version: 4,
        name: "0004_outbox.sql",
        sql: include_str!("../migrations/postgres/0004_outbox.sql"),
    },
];

/// The migrations not yet in `applied`, in order. A database that records a version this build
/// does not know was migrated by a newer Tocsin, and is refused rather than half understood.
pub(crate) fn pending(
    all: &'static [Migration],
    applied: &[i64],
) -> Result<Vec<&'static Migration>, StoreError> {
    if let Some(unknown) = applied
        .iter()
        .copied()
        .find(|v| !all.iter().any(|m| m.version == *v))
    {
        return Err(StoreError::Migration {
            version: unknown,
            name: "unknown",
            reason: "the database was migrated by a newer version of Tocsin".to_owned(),
        });
    }
    Ok(all
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect())
}

pub(crate) fn failed(m: &Migration, e: sqlx::Error) -> StoreError {
    StoreError::Migration {
        version: m.version,
        name: m.name,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing_and_both_backends_agree() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
            assert!(
                list.iter()
                    .all(|m| m.version > 0 && !m.sql.trim().is_empty())
            );
        }
        let names = |l: &[Migration]| l.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(names(SQLITE), names(POSTGRES));
    }

    #[test]
    fn pending_skips_applied_and_refuses_unknown_versions() {
        assert_eq!(pending(SQLITE, &[]).unwrap().len(), SQLITE.len());
        let all: Vec<i64> = SQLITE.iter().map(|m| m.version).collect();
        assert!(pending(SQLITE, &all).unwrap().is_empty());
        assert_eq!(pending(SQLITE, &[1, 2]).unwrap().len(), SQLITE.len() - 2);
        assert_eq!(pending(SQLITE, &[1]).unwrap().len(), SQLITE.len() - 1);
        assert!(matches!(
            pending(SQLITE, &[1, 999]),
            Err(StoreError::Migration { version: 999, .. })
        ));
    }
}

//! `tocsin user`: dashboard users (username, argon2id password, role, tenant) in the store.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use tocsin_store::{Store, User};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, or set the password and role of an existing one. The password is read
    /// from the first line of standard input with `--password-stdin`; otherwise one is
    /// generated and printed once.
    Add {
        #[arg(long, short, default_value = ".")]
        config: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        /// The login name.
        name: String,
        /// viewer, physical_analyst, cyber_analyst, lead or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users of a tenant.
    List {
        #[arg(long, short, default_value = ".")]
        config: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// Delete a user and end their sessions.
    Delete {
        #[arg(long, short, default_value = ".")]
        config: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        name: String,
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

/// Shortest password `tocsin user add` accepts.
pub const MIN_PASSWORD: usize = 12;

pub async fn run(c: UserCommand) -> Result<()> {
    match c {
        UserCommand::Add {
            config,
            data,
            name,
            role,
            tenant,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                let p = line.trim_end_matches(['\r', '\n']).to_owned();
                if p.chars().count() < MIN_PASSWORD {
                    bail!("the password must be at least {MIN_PASSWORD} characters");
                }
                Some(p)
            } else {
                None
            };
            let store = open(&config, data).await?;
            let (user, generated) =
                add_user(store.as_ref(), &name, &role, &tenant, password).await?;
            println!(
                "user {} ({}, tenant {})",
                user.username, user.role, user.tenant
            );
            if let Some(p) = generated {
                println!("password: {p}");
            }
            Ok(())
        }
        UserCommand::List {
            config,
            data,
            tenant,
        } => {
            let store = open(&config, data).await?;
            for u in store.list_users(&tenant).await? {
                println!("{}\t{}\t{}", u.username, u.role, u.created.to_rfc3339());
            }
            Ok(())
        }
        UserCommand::Delete {
            config,
            data,
            name,
            tenant,
        } => {
            let store = open(&config, data).await?;
            if !store.delete_user(&tenant, &name).await? {
                bail!("no user {name:?} in tenant {tenant:?}");
            }
            println!("deleted {name}");
            Ok(())
        }
    }
}

/// Creates or updates a user. Without a password, one is generated and returned.
pub async fn add_user(
    store: &dyn Store,
    name: &str,
    role: &str,
    tenant: &str,
    password: Option<String>,
) -> Result<(User, Option<String>)> {
    if tocsin_api::Role::parse(role).is_none() {
        bail!("unknown role {role:?}: viewer, physical_analyst, cyber_analyst, lead or admin");
    }
    if name.is_empty()
        || name.len() > tocsin_api::session::MAX_USERNAME
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        bail!(
            "a username is 1 to {} bytes without spaces or control characters",
            tocsin_api::session::MAX_USERNAME
        );
    }
    let (password, generated) = match password {
        Some(p) => (p, None),
        None => {
            let p = tocsin_api::session::random_secret()[..20].to_owned();
            (p.clone(), Some(p))
        }
    };
    let hash = tokio::task::spawn_blocking(move || tocsin_api::session::hash_password(&password))
        .await?
        .map_err(anyhow::Error::msg)?;
    let user = User {
        username: name.to_owned(),
        password_hash: hash,
        role: role.to_owned(),
        tenant: tenant.to_owned(),
        created: chrono::Utc::now(),
    };
    store.upsert_user(&user).await?;
    Ok((user, generated))
}

async fn open(config: &Path, data: Option<PathBuf>) -> Result<Arc<dyn Store>> {
    let cfg = crate::load(config)?;
    Ok(match &cfg.storage {
        tocsin_store::StorageConfig::Sqlite { .. } => Arc::new(
            tocsin_store::open_sqlite(&data.unwrap_or_else(|| cfg.data_dir.clone())).await?,
        ),
        other => tocsin_store::open(other).await?,
    })
}

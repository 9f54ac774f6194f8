//! `tocsin`: the one binary. Each subcommand is thin glue over the library crates.

mod bench;
mod client_cmd;
mod replay;
mod routes_cmd;
mod sigma_cmd;
mod signals_cmd;
mod user_cmd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngCore;
use tocsin_server::config::Config;
use tocsin_server::{ServerOptions, demo};
use tocsin_sources::file::{FileFormat, FileIngestOptions};
use tocsin_store::ApiToken;

/// Real-time risk detection and alerting for converged security operations.
#[derive(Debug, Parser)]
#[command(name = "tocsin", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server with a config folder.
    Serve(ServeArgs),
    /// Run a self-contained demo: embedded SQLite, a demo organisation and a live event stream.
    Demo(DemoArgs),
    /// Check a config folder and report every error with file, line and field.
    Check(CheckArgs),
    /// Import events from NDJSON, JSON or CSV files through the pipeline into the store.
    Ingest(IngestArgs),
    /// Play a timed event file into a running server over HTTP.
    Replay(replay::ReplayArgs),
    /// Measure end-to-end latency: events in over HTTP, alerts out on the live stream.
    Bench(bench::BenchArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Alerts on a running server: list, show, acknowledge.
    Alerts(client_cmd::AlertsArgs),
    /// Incidents on a running server: list, show, acknowledge, state, assign, note, merge,
    /// split, checklist, review, report.
    Incidents(client_cmd::IncidentsArgs),
    /// Silences on a running server: list, add, delete.
    Silences(client_cmd::SilencesArgs),
    /// Manage dashboard users (username and password).
    #[command(subcommand)]
    User(user_cmd::UserCommand),
    /// Run Sigma rules over event files.
    #[command(subcommand)]
    Sigma(sigma_cmd::SigmaCommand),
    /// Check and try Sigma rules.
    #[command(subcommand)]
    Rules(sigma_cmd::RulesCommand),
    /// Routing and escalation: who would be notified about an alert.
    #[command(subcommand)]
    Routes(routes_cmd::RoutesCommand),
    /// Public signals: train and evaluate event detection, parse feeds, explain a text.
    #[command(subcommand)]
    Signals(signals_cmd::SignalsCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Config folder holding tocsin.toml.
    #[arg(long, short, default_value = ".")]
    config: PathBuf,
    /// Address to listen on (overrides the config).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data folder for the embedded store (overrides the config).
    #[arg(long)]
    data: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder for the demo's embedded store.
    #[arg(long, default_value = "tocsin-data")]
    data: PathBuf,
    /// Seed of the generated event stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An MQTT broker (HOST:PORT, e.g. 127.0.0.1:1883): the simulator publishes sensor and
    /// video-analytics messages there and the demo subscribes to them.
    #[arg(long)]
    mqtt: Option<SocketAddr>,
    /// Password of the demo's `admin` dashboard user; a random one is made and printed when
    /// it is not given.
    #[arg(long, env = "TOCSIN_DEMO_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Config folder holding tocsin.toml.
    #[arg(long, short, default_value = ".")]
    config: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    Ndjson,
    Json,
    Csv,
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// Files to import.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Config folder (storage and rules); without it, the default embedded store.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data folder for the embedded store (overrides the config).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Source name recorded on the events.
    #[arg(long, default_value = "file")]
    source: String,
    /// Domain of records that name none.
    #[arg(long)]
    domain: Option<String>,
    /// File format; by default from the extension.
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token and print it once; only its hash is stored.
    Create {
        #[arg(long, short, default_value = ".")]
        config: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// viewer, physical_analyst, cyber_analyst, lead or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(a) => Ok(check(&a.config)),
        Command::Serve(a) => serve(a).await.map(|()| ExitCode::SUCCESS),
        Command::Demo(a) => run_demo(a).await.map(|()| ExitCode::SUCCESS),
        Command::Ingest(a) => ingest(a).await,
        Command::Replay(a) => replay::run(a).await.map(|()| ExitCode::SUCCESS),
        Command::Bench(a) => bench::run(a).await.map(|()| ExitCode::SUCCESS),
        Command::Sigma(c) => sigma_cmd::run_sigma(c),
        Command::Rules(c) => sigma_cmd::run_rules(c),
        Command::Routes(c) => routes_cmd::run(c).map(|()| ExitCode::SUCCESS),
        Command::Signals(c) => signals_cmd::run(c),
        Command::Alerts(a) => client_cmd::alerts(a).await.map(|()| ExitCode::SUCCESS),
        Command::Incidents(a) => client_cmd::incidents(a).await.map(|()| ExitCode::SUCCESS),
        Command::Silences(a) => client_cmd::silences(a).await.map(|()| ExitCode::SUCCESS),
        Command::User(c) => user_cmd::run(c).await.map(|()| ExitCode::SUCCESS),
        Command::Token(TokenCommand::Create {
            config,
            data,
            name,
            role,
            tenant,
        }) => token_create(&config, data, name, role, tenant)
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}

fn check(dir: &Path) -> ExitCode {
    match Config::load_dir(dir) {
        Ok(c) => {
            println!(
                "{}: ok ({} sources, {} rules)",
                dir.join(tocsin_server::config::CONFIG_FILE).display(),
                c.sources.len(),
                c.detect.rules.len()
            );
            // load_dir has already checked the organisation files; this only reports counts.
            let org_dir = dir.join(tocsin_org::ORG_DIR);
            if let Ok(org) = tocsin_org::load_dir(&org_dir) {
                let s = org.summary();
                println!(
                    "{}: ok ({} sites, {} people, {} assets, {} teams, {} networks)",
                    org_dir.display(),
                    s.sites,
                    s.people,
                    s.assets,
                    s.teams,
                    s.networks
                );
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!("{} error(s)", errors.0.len());
            ExitCode::from(2)
        }
    }
}

pub(crate) fn load(dir: &Path) -> Result<Config> {
    Config::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))
}

fn bootstrap_token() -> Option<String> {
    std::env::var("TOCSIN_BOOTSTRAP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn serve(a: ServeArgs) -> Result<()> {
    let config = load(&a.config)?;
    let mut opts = ServerOptions::new(config);
    if let Some(l) = a.listen {
        opts.listen = Some(l);
    }
    opts.data_dir = a.data;
    opts.bootstrap_token = bootstrap_token();
    let server = tocsin_server::start(opts).await?;
    if let Some(addr) = server.addr {
        tracing::info!(%addr, "listening");
    }
    for s in &server.state.sources {
        let st = s.status();
        if !st.bound.is_empty() {
            tracing::info!(source = %st.name, bound = ?st.bound, "source listening");
        }
    }
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    reload_on_sighup(server.state.org.clone(), server.state.sigma.clone());
    server.wait().await;
    Ok(())
}

/// SIGHUP re-reads the organisation files and the Sigma rule folders; a bad file is logged and
/// the old model (or rule set) stays.
fn reload_on_sighup(
    org: Arc<tocsin_org::OrgHandle>,
    sigma: Option<Arc<tocsin_sigma::SigmaHandle>>,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let org = org.clone();
            match tokio::task::spawn_blocking(move || org.reload()).await {
                Ok(Ok(summary)) => tracing::info!(?summary, "organisation reloaded (SIGHUP)"),
                Ok(Err(errors)) => {
                    for e in &errors.0 {
                        tracing::error!(error = %e, "organisation reload refused; the old model stays");
                    }
                }
                Err(e) => tracing::error!(error = %e, "organisation reload failed"),
            }
            if let Some(sigma) = &sigma {
                // The outcome is logged by the reload itself.
                let _ = tocsin_server::reload_sigma(sigma.clone()).await;
            }
        }
    });
    #[cfg(not(unix))]
    drop((org, sigma));
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("tcs_{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn run_demo(a: DemoArgs) -> Result<()> {
    let mut config = demo::demo_config_with(a.mqtt).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sinks = demo::DemoSinks::start(&mut config, &a.data)
        .await
        .context("cannot start the demo's webhook and SMTP receivers")?;
    let mut opts = ServerOptions::new(config);
    opts.listen = Some(a.listen);
    opts.data_dir = Some(a.data.clone());
    let token = bootstrap_token().unwrap_or_else(new_token);
    opts.bootstrap_token = Some(token.clone());
    opts.extra_sources
        .push(std::sync::Arc::new(demo::DemoSource::new(a.seed)));
    let server = tocsin_server::start(opts)
        .await
        .context("the demo could not start (is another demo already running on that port?)")?;
    let addr = server.addr.context("demo has no listener")?;
    let (_, generated) = user_cmd::add_user(
        server.state.store.as_ref(),
        "admin",
        "admin",
        tocsin_model::DEFAULT_TENANT,
        a.password.clone(),
    )
    .await
    .context("cannot create the demo's dashboard user")?;
    let password = generated.or(a.password).unwrap_or_default();
    println!();
    println!("  Tocsin demo is running.");
    println!("  Dashboard:  http://{addr}/");
    println!("  Login:      admin / {password}");
    println!("  API token:  {token}");
    println!("  Try:        curl -H 'Authorization: Bearer {token}' http://{addr}/api/v1/alerts");
    for s in &server.state.sources {
        let st = s.status();
        if !st.bound.is_empty() {
            println!("  Source {}: {}", st.name, st.bound.join(", "));
        }
    }
    println!(
        "  Webhook:    http://{}/soc  (the SOC, in full)",
        sinks.webhook
    );
    println!(
        "  SMTP:       {}  (guard desks without names; the lead after 2 min)",
        sinks.smtp
    );
    println!("  Deliveries: http://{addr}/api/v1/deliveries  (with the API token)");
    println!("  Data:       {}", a.data.display());
    println!("  Stop with Ctrl-C.");
    println!();
    demo::spawn_physical_simulator(&server, a.mqtt, a.seed);
    let stop = server.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    server.wait().await;
    Ok(())
}

async fn ingest(a: IngestArgs) -> Result<ExitCode> {
    let config = match &a.config {
        Some(dir) => load(dir)?,
        None => Config::parse("", Path::new("<defaults>")).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let domain = a
        .domain
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let mut opts = ServerOptions::new(config);
    opts.listen = None;
    opts.start_sources = false;
    opts.data_dir = a.data;
    let mut server = tocsin_server::start(opts).await?;
    let format = match a.format {
        FormatArg::Auto => FileFormat::Auto,
        FormatArg::Ndjson => FileFormat::Ndjson,
        FormatArg::Json => FileFormat::Json,
        FormatArg::Csv => FileFormat::Csv,
    };
    let mut total = tocsin_sources::file::FileReport::default();
    let mut failed = false;
    for path in &a.files {
        let size = std::fs::metadata(path)
            .with_context(|| format!("{}", path.display()))?
            .len();
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(path.display().to_string());
        let opts = FileIngestOptions {
            source: a.source.clone(),
            tenant: tocsin_model::DEFAULT_TENANT.to_owned(),
            domain,
            format,
            ..FileIngestOptions::default()
        };
        let progress = |bytes: u64| bar.set_position(bytes);
        match tocsin_sources::file::ingest_file(path, &opts, &server.sink, &progress).await {
            Ok(r) => {
                bar.finish_and_clear();
                println!(
                    "{}: {} records, {} accepted, {} rejected",
                    path.display(),
                    r.records,
                    r.accepted,
                    r.rejected
                );
                total.records += r.records;
                total.accepted += r.accepted;
                total.rejected += r.rejected;
                total.bytes += r.bytes;
            }
            Err(e) => {
                bar.abandon();
                eprintln!("{}: {e}", path.display());
                failed = true;
            }
        }
    }
    server.wait_processed(total.accepted).await;
    println!(
        "total: {} records, {} accepted, {} rejected (see the dead letters), {} bytes",
        total.records, total.accepted, total.rejected, total.bytes
    );
    server.stop().await;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn token_create(
    config: &Path,
    data: Option<PathBuf>,
    name: String,
    role: String,
    tenant: String,
) -> Result<()> {
    if tocsin_api::Role::parse(&role).is_none() {
        bail!("unknown role {role:?}: viewer, physical_analyst, cyber_analyst, lead or admin");
    }
    let cfg = load(config)?;
    let store: Arc<dyn tocsin_store::Store> = match &cfg.storage {
        tocsin_store::StorageConfig::Sqlite { .. } => Arc::new(
            tocsin_store::open_sqlite(&data.unwrap_or_else(|| cfg.data_dir.clone())).await?,
        ),
        other => tocsin_store::open(other).await?,
    };
    let token = new_token();
    store
        .insert_token(&ApiToken {
            id: ulid::Ulid::new().to_string(),
            name,
            token_hash: tocsin_api::hash_token(&token),
            role,
            tenant,
            created: chrono::Utc::now(),
        })
        .await?;
    println!("{token}");
    Ok(())
}

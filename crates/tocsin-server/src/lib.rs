//! Wires sources, pipeline, store, detection, notification and the API into a running server.
//!
//! [`start`] is what `tocsin serve`, `tocsin demo`, `tocsin ingest` and the tests call; it returns
//! a [`RunningServer`] whose address is bound (port 0 resolves) and whose pipeline is running.

pub mod config;
pub mod delivery;
pub mod demo;
pub mod pipeline;
pub mod public;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tocsin_api::{AppState, Metrics, hash_token};
use tocsin_bus::{LiveBus, Queue};
use tocsin_detect::{Detector, RuleDetector};
use tocsin_model::{Clock, SystemClock};
use tocsin_notify::{LogNotifier, Notifier};
use tocsin_sources::http::HttpSource;
use tocsin_sources::{BuiltSource, Sink, Source};
use tocsin_store::{StorageConfig, Store};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{Config, ConfigError, ConfigErrors, OrgLocation};
pub use pipeline::{Enricher, NoEnrichment, Progress};
use tocsin_converged::Converged;
use tocsin_org::{OrgEnricher, OrgHandle};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Store(#[from] tocsin_store::StoreError),
    #[error("{0}")]
    Source(#[from] tocsin_sources::BuildError),
    #[error("detection: {0}")]
    Rules(#[from] tocsin_detect::RuleError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("source {name:?} could not start: {source}")]
    SourceStart {
        name: String,
        source: std::io::Error,
    },
    #[error("organisation: {0}")]
    Org(#[from] tocsin_org::OrgErrors),
    #[error("notifications: {0}")]
    Notify(String),
    #[error("cannot write the organisation files to {path}: {source}")]
    OrgWrite {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How to run: the config plus what the command line overrides.
#[derive(Clone)]
pub struct ServerOptions {
    pub config: Config,
    /// Where to listen for HTTP; `None` runs the pipeline without the API (for `tocsin ingest`).
    pub listen: Option<SocketAddr>,
    /// Overrides `config.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// Whether to start the configured network sources (syslog listeners).
    pub start_sources: bool,
    /// Plain bootstrap admin token (`TOCSIN_BOOTSTRAP_TOKEN`); only its hash is kept.
    pub bootstrap_token: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// A store to use instead of opening the configured one (tests wrap a store this way).
    pub store: Option<Arc<dyn Store>>,
    /// Sources built in code rather than from config (the demo's generator).
    pub extra_sources: Vec<Arc<dyn Source>>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bootstrap token stays out of logs.
        f.debug_struct("ServerOptions")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("start_sources", &self.start_sources)
            .field("extra_sources", &self.extra_sources.len())
            .finish_non_exhaustive()
    }
}

impl ServerOptions {
    pub fn new(config: Config) -> Self {
        Self {
            listen: Some(config.listen),
            config,
            data_dir: None,
            start_sources: true,
            bootstrap_token: None,
            clock: Arc::new(SystemClock),
            store: None,
            extra_sources: Vec::new(),
        }
    }
}

/// A started server.
pub struct RunningServer {
    /// The bound HTTP address, when listening.
    pub addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    /// The pipeline's input, for in-process feeders (demo, file ingest).
    pub sink: Sink,
    pub progress: Arc<Progress>,
    pub progress_rx: watch::Receiver<()>,
    pub data_dir: PathBuf,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// A token that, when cancelled, stops the server.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until `n` events have been stored and run through detection.
    pub async fn wait_processed(&mut self, n: u64) {
        loop {
            if self.progress.stored() >= n
                && self.progress.detected() >= n
                && self.progress.alerts_settled()
            {
                return;
            }
            if self.progress_rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until `n` dead letters have been written.
    pub async fn wait_dead_letters(&mut self, n: u64) {
        while self.progress.dead_letters() < n {
            if self.progress_rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops sources and the HTTP server, then waits for their tasks.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Runs until the shutdown token is cancelled.
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        self.stop().await;
    }
}

/// Opens the store, loads the organisation, builds the pipeline and sources, binds the listener
/// and starts everything. Events are enriched from the organisation in `config.org`.
pub async fn start(opts: ServerOptions) -> Result<RunningServer, StartError> {
    start_inner(opts, None).await
}

/// [`start`] with another enricher in place of the organisation model's.
pub async fn start_with(
    opts: ServerOptions,
    enricher: Arc<dyn Enricher>,
) -> Result<RunningServer, StartError> {
    start_inner(opts, Some(enricher)).await
}

/// Loads the organisation named by the config. Embedded files are first written to
/// `<data>/org` so that they can be edited there and reloaded.
fn load_org(location: &OrgLocation, data_dir: &std::path::Path) -> Result<OrgHandle, StartError> {
    match location {
        OrgLocation::None => Ok(OrgHandle::new(tocsin_org::Org::empty(), None)),
        OrgLocation::Dir(dir) => Ok(OrgHandle::load(dir.clone())?),
        OrgLocation::Embedded(files) => {
            let dir = data_dir.join(tocsin_org::ORG_DIR);
            let write_err = |source| StartError::OrgWrite {
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(&dir).map_err(write_err)?;
            for (name, text) in files {
                std::fs::write(dir.join(name), text).map_err(write_err)?;
            }
            Ok(OrgHandle::load(dir)?)
        }
    }
}

async fn start_inner(
    opts: ServerOptions,
    enricher: Option<Arc<dyn Enricher>>,
) -> Result<RunningServer, StartError> {
    let cfg = &opts.config;
    let data_dir = opts
        .data_dir
        .clone()
        .unwrap_or_else(|| cfg.data_dir.clone());
    let org = Arc::new(load_org(&cfg.org, &data_dir)?);
    let org_enricher = OrgEnricher::new(org.clone());
    let unresolved = org_enricher.unresolved().clone();
    let enricher = enricher.unwrap_or_else(|| Arc::new(org_enricher));
    let presence = Converged::presence_book(&cfg.converged);
    let store: Arc<dyn Store> = match (&opts.store, &cfg.storage) {
        (Some(store), _) => store.clone(),
        (None, StorageConfig::Sqlite { .. }) => {
            Arc::new(tocsin_store::open_sqlite(&data_dir).await?)
        }
        (None, other) => tocsin_store::open(other).await?,
    };

    let mut built = Vec::new();
    for s in &cfg.sources {
        built.push(tocsin_sources::build_typed(s)?);
    }
    let api_source = Arc::new(HttpSource::admin(tocsin_model::DEFAULT_TENANT));
    let http_sources: Vec<Arc<HttpSource>> = built
        .iter()
        .filter_map(|b| match b {
            BuiltSource::Http(h) => Some(h.clone()),
            _ => None,
        })
        .collect();
    let mut sources: Vec<Arc<dyn Source>> = vec![api_source.clone()];
    sources.extend(built.iter().map(BuiltSource::as_source));
    sources.extend(opts.extra_sources.iter().cloned());

    let p = &cfg.pipeline;
    let (ingest_q, ingest_rx) = Queue::bounded("ingest", p.ingest_queue);
    let (store_q, store_rx) = Queue::bounded("store", p.store_queue);
    let (detect_q, detect_rx) = Queue::bounded("detect", p.detect_queue);
    let (dead_tx, dead_rx) = mpsc::channel(p.dead_letter_queue.max(1));
    let dead_probe = dead_tx.clone();
    let probe = |q: &Queue<tocsin_model::Event>| -> tocsin_api::metrics::DepthProbe {
        let q = q.clone();
        Arc::new(move || (q.depth(), q.capacity()))
    };
    let queues: Vec<(&'static str, tocsin_api::metrics::DepthProbe)> = vec![
        ("ingest", probe(&ingest_q)),
        ("store", probe(&store_q)),
        ("detect", probe(&detect_q)),
        (
            "dead_letter",
            Arc::new(move || {
                (
                    dead_probe.max_capacity() - dead_probe.capacity(),
                    dead_probe.max_capacity(),
                )
            }),
        ),
    ];
    let sigma = load_sigma(&cfg.sigma).await;
    let metrics = Arc::new(Metrics::new(sources.clone(), queues, sigma.clone()));
    {
        let unresolved = unresolved.clone();
        metrics.set_unresolved_probe(Arc::new(move || {
            unresolved
                .counts()
                .into_iter()
                .map(|(k, n)| (k.as_str(), n))
                .collect()
        }));
    }
    let sink = Sink::new(ingest_q.sender().clone(), dead_tx, opts.clock.clone());
    let live = LiveBus::new(1024);
    let (progress, progress_rx) = Progress::new();
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();

    // Pipeline stages end when their input closes, not on shutdown, so that whatever was accepted
    // is still written; they are not joined on stop.
    tokio::spawn(pipeline::enrich_stage(
        ingest_rx,
        enricher,
        store_q.sender().clone(),
        detect_q.sender().clone(),
        metrics.clone(),
    ));
    drop((store_q, detect_q));
    let mut detectors: Vec<Box<dyn Detector>> = vec![
        Box::new(RuleDetector::new(
            cfg.detect.rules.clone(),
            cfg.detect.max_groups,
        )?),
        Box::new(Converged::new(
            &cfg.converged,
            org.clone(),
            presence.clone(),
        )),
    ];
    if let Some(public) = &cfg.public_signal {
        match public::OrgPublicDetector::new(public.clone(), org.clone(), opts.clock.now()) {
            Ok(d) => detectors.push(Box::new(d)),
            Err(e) => tracing::error!(error = %e, "public-signal detection disabled"),
        }
    }
    if let Some(handle) = &sigma {
        detectors.push(Box::new(tocsin_sigma::SigmaDetector::with_handle(
            handle.clone(),
        )));
    }
    let notifiers: Vec<Arc<dyn Notifier>> = vec![Arc::new(LogNotifier::new("log"))];
    let delivery = match &cfg.notify {
        Some(n) => {
            let setup = config::load_setup(n)
                .map_err(|errors| StartError::Notify(config::ConfigErrors(errors).to_string()))?;
            let d = delivery::Notifier::new(
                n.clone(),
                setup,
                org.clone(),
                opts.clock.clone(),
                metrics.clone(),
            )
            .map_err(|e| StartError::Notify(e.to_string()))?;
            Some(Arc::new(d))
        }
        None => None,
    };
    let (alert_tx, alert_rx) = mpsc::channel(p.detect_queue.max(1));
    tokio::spawn(pipeline::alert_writer(
        alert_rx,
        store.clone(),
        notifiers,
        progress.clone(),
        delivery.clone(),
        Arc::new(pipeline::IncidentSettings {
            grouping: cfg.incidents.grouping.clone(),
            checklists: cfg.incidents.loaded.clone(),
            live: live.clone(),
        }),
    ));
    if let Some(d) = &delivery {
        tasks.extend(d.start(store.clone(), shutdown.clone()).await);
    }
    let detect = pipeline::DetectStage {
        detectors,
        alerts: pipeline::AlertStage::new(
            live.clone(),
            metrics.clone(),
            opts.clock.clone(),
            alert_tx,
            progress.clone(),
        ),
        metrics: metrics.clone(),
        progress: progress.clone(),
    };
    tokio::spawn(detect.run(detect_rx));
    tokio::spawn(pipeline::store_stage(
        store_rx,
        store.clone(),
        p.store_batch,
        metrics.clone(),
        progress.clone(),
    ));
    tokio::spawn(pipeline::dead_letter_stage(
        dead_rx,
        store.clone(),
        metrics.clone(),
        progress.clone(),
    ));
    tasks.push(tokio::spawn(pipeline::retention_task(
        store.clone(),
        cfg.retention_days,
        opts.clock.clone(),
        metrics.clone(),
        shutdown.clone(),
    )));

    if opts.start_sources {
        for s in &sources {
            let handles = s
                .clone()
                .start(sink.clone(), shutdown.clone())
                .await
                .map_err(|e| StartError::SourceStart {
                    name: s.info().name.clone(),
                    source: e,
                })?;
            tasks.extend(handles);
        }
    }

    let state = Arc::new(AppState {
        routes: delivery.as_ref().map(|d| d.routes()),
        store,
        sources,
        http_sources,
        api_source,
        sink: sink.clone(),
        live,
        metrics,
        bootstrap_token_hash: opts.bootstrap_token.as_deref().map(hash_token),
        ready: false.into(),
        org,
        presence,
        unresolved,
        sigma,
        login_throttle: Default::default(),
        ui: tocsin_api::session::UiConfig {
            tile_url: opts.config.web.tile_url.clone(),
        },
        session: tocsin_api::session::SessionConfig {
            secure_cookie: opts.config.web.secure_cookie,
        },
    });

    let mut addr = None;
    if let Some(listen) = opts.listen {
        let listener =
            tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| StartError::Listen {
                    addr: listen,
                    source: e,
                })?;
        let bound = listener.local_addr().map_err(|e| StartError::Listen {
            addr: listen,
            source: e,
        })?;
        addr = Some(bound);
        let app = tocsin_api::router(state.clone());
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                stop.cancelled().await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "http server stopped");
            }
        }));
    }
    state.ready.store(true, Ordering::Release);
    Ok(RunningServer {
        addr,
        state,
        sink,
        progress,
        progress_rx,
        data_dir,
        shutdown,
        tasks,
    })
}

/// Loads the configured Sigma rules off the async threads (thousands of files take seconds).
/// Rules that cannot be loaded are logged with their reason and listed by `/api/v1/rules`.
async fn load_sigma(cfg: &config::SigmaConfig) -> Option<Arc<tocsin_sigma::SigmaHandle>> {
    if cfg.rules.is_empty() {
        return None;
    }
    let dirs = cfg.rules.clone();
    let options = cfg.options();
    let loaded =
        tokio::task::spawn_blocking(move || tocsin_sigma::SigmaHandle::load(dirs, options)).await;
    match loaded {
        Ok(handle) => {
            let rejected = handle.rejected();
            for r in rejected.iter() {
                tracing::warn!(rule = %r, "sigma rule not loaded");
            }
            tracing::info!(
                loaded = handle.current().len(),
                rejected = rejected.len(),
                "sigma rules loaded"
            );
            Some(Arc::new(handle))
        }
        Err(e) => {
            tracing::error!(error = %e, "sigma rule loading failed");
            None
        }
    }
}

/// Reloads the Sigma rule folders off the async threads and logs the outcome; on failure the
/// rules in force stay. `POST /api/v1/reload` and SIGHUP under `serve` call this.
pub async fn reload_sigma(
    handle: Arc<tocsin_sigma::SigmaHandle>,
) -> Result<tocsin_sigma::ReloadSummary, String> {
    tocsin_api::reload_sigma(handle).await
}

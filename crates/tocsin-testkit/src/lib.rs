//! Test helpers shared by the integration tests: [`spawn_app`] runs a real server on
//! 127.0.0.1:0 with an embedded store in a temporary folder; [`postgres_url`] finds the test
//! PostgreSQL or says why it is skipped.

use std::net::SocketAddr;
use std::path::Path;

use tocsin_server::config::Config;
use tocsin_server::{RunningServer, ServerOptions};

pub use chrono;
pub use serde_json;

/// The admin token every test app accepts.
pub const TEST_TOKEN: &str = "test-admin-token";

/// A running server for one test; stopped when dropped with its data folder.
pub struct TestApp {
    pub server: RunningServer,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub token: String,
    pub data: tempfile::TempDir,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").field("addr", &self.addr).finish()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET with the admin token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
    }

    /// POST a body with the admin token.
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Waits until `n` events have gone through store and detection.
    pub async fn wait_processed(&mut self, n: u64) {
        self.server.wait_processed(n).await;
    }

    /// Waits until `n` dead letters have been written.
    pub async fn wait_dead_letters(&mut self, n: u64) {
        self.server.wait_dead_letters(n).await;
    }
}

/// Starts a server with `config_toml` (a `tocsin.toml` text) on 127.0.0.1:0 with a fresh
/// embedded store. Listen addresses in the text are replaced by port 0.
pub async fn spawn_app(config_toml: &str) -> TestApp {
    let config = Config::parse(config_toml, Path::new("<test>/tocsin.toml"))
        .unwrap_or_else(|e| panic!("test config: {e}"));
    spawn_app_with(config).await
}

/// [`spawn_app`] with an already parsed config.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let data = tempfile::tempdir().expect("tempdir");
    let mut opts = ServerOptions::new(config);
    opts.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    opts.data_dir = Some(data.path().to_owned());
    opts.bootstrap_token = Some(TEST_TOKEN.to_owned());
    let server = tocsin_server::start(opts).await.expect("server starts");
    let addr = server.addr.expect("listening");
    TestApp {
        server,
        addr,
        client: reqwest::Client::new(),
        token: TEST_TOKEN.to_owned(),
        data,
    }
}

/// Whether this run must not skip tests for missing services (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The test PostgreSQL URL (`TOCSIN_TEST_POSTGRES_URL`, default the local `test` database).
pub fn postgres_url() -> String {
    std::env::var("TOCSIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The folder of public reference data (`TOCSIN_REFERENCE_DATA`), or `None` with the reason
/// printed. Under CI a missing folder is a failure.
pub fn reference_data() -> Option<std::path::PathBuf> {
    match std::env::var_os("TOCSIN_REFERENCE_DATA").map(std::path::PathBuf::from) {
        Some(p) if p.is_dir() => Some(p),
        other => {
            let why = format!("TOCSIN_REFERENCE_DATA is not a folder ({other:?})");
            assert!(!in_ci(), "{why}");
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// A store that holds every `insert_events` call until it is opened, so a test can fill the
/// pipeline's queues deterministically (no sleeps) and watch back-pressure reach ingest.
#[derive(Debug)]
pub struct GatedStore {
    inner: std::sync::Arc<dyn tocsin_store::Store>,
    open: tokio::sync::watch::Receiver<bool>,
}

/// Opens a [`GatedStore`].
#[derive(Debug)]
pub struct Gate(tokio::sync::watch::Sender<bool>);

impl Gate {
    pub fn open(&self) {
        self.0.send_replace(true);
    }
}

impl GatedStore {
    /// A closed gated store around `inner`, and the gate that opens it.
    pub fn new(inner: std::sync::Arc<dyn tocsin_store::Store>) -> (Self, Gate) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (Self { inner, open: rx }, Gate(tx))
    }
}

mod gated {
    use super::GatedStore;
    use tocsin_incidents::Incident;
    use tocsin_model::{Alert, DeadLetter, Event};
    use tocsin_store::{
        AlertQuery, ApiToken, DeadLetterQuery, EventQuery, IncidentQuery, Page, Store, StoreError,
    };
    use ulid::Ulid;

    #[async_trait::async_trait]
    impl Store for GatedStore {
        fn backend(&self) -> &'static str {
            self.inner.backend()
        }
        async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
            let mut open = self.open.clone();
            let _ = open.wait_for(|o| *o).await;
            self.inner.insert_events(events).await
        }
        async fn get_event(&self, tenant: &str, id: Ulid) -> Result<Option<Event>, StoreError> {
            self.inner.get_event(tenant, id).await
        }
        async fn query_events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
            self.inner.query_events(q).await
        }
        async fn purge_events_before(
            &self,
            before: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, StoreError> {
            self.inner.purge_events_before(before).await
        }
        async fn insert_dead_letter(&self, d: &DeadLetter) -> Result<(), StoreError> {
            self.inner.insert_dead_letter(d).await
        }
        async fn list_dead_letters(
            &self,
            q: &DeadLetterQuery,
        ) -> Result<Page<DeadLetter>, StoreError> {
            self.inner.list_dead_letters(q).await
        }
        async fn upsert_alert(&self, a: &Alert) -> Result<(), StoreError> {
            self.inner.upsert_alert(a).await
        }
        async fn find_open_alert(
            &self,
            tenant: &str,
            dedup_key: &str,
            since: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<Alert>, StoreError> {
            self.inner.find_open_alert(tenant, dedup_key, since).await
        }
        async fn get_alert(&self, tenant: &str, id: Ulid) -> Result<Option<Alert>, StoreError> {
            self.inner.get_alert(tenant, id).await
        }
        async fn query_alerts(&self, q: &AlertQuery) -> Result<Page<Alert>, StoreError> {
            self.inner.query_alerts(q).await
        }
        async fn insert_token(&self, t: &ApiToken) -> Result<(), StoreError> {
            self.inner.insert_token(t).await
        }
        async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
            self.inner.find_token(token_hash).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
        async fn upsert_incidents(&self, incidents: &[Incident]) -> Result<(), StoreError> {
            self.inner.upsert_incidents(incidents).await
        }
        async fn get_incident(
            &self,
            tenant: &str,
            id: Ulid,
        ) -> Result<Option<Incident>, StoreError> {
            self.inner.get_incident(tenant, id).await
        }
        async fn find_open_incident(
            &self,
            tenant: &str,
            group_key: &str,
            since: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<Incident>, StoreError> {
            self.inner
                .find_open_incident(tenant, group_key, since)
                .await
        }
        async fn incident_of_alert(
            &self,
            tenant: &str,
            alert: Ulid,
        ) -> Result<Option<Incident>, StoreError> {
            self.inner.incident_of_alert(tenant, alert).await
        }
        async fn query_incidents(&self, q: &IncidentQuery) -> Result<Page<Incident>, StoreError> {
            self.inner.query_incidents(q).await
        }
        async fn purge_dead_letters_before(
            &self,
            before: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, StoreError> {
            self.inner.purge_dead_letters_before(before).await
        }
        async fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>, StoreError> {
            self.inner.list_tokens(tenant).await
        }
        async fn delete_token(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
            self.inner.delete_token(tenant, id).await
        }
        async fn upsert_user(&self, u: &tocsin_store::User) -> Result<(), StoreError> {
            self.inner.upsert_user(u).await
        }
        async fn find_user(
            &self,
            username: &str,
        ) -> Result<Option<tocsin_store::User>, StoreError> {
            self.inner.find_user(username).await
        }
        async fn list_users(&self, tenant: &str) -> Result<Vec<tocsin_store::User>, StoreError> {
            self.inner.list_users(tenant).await
        }
        async fn delete_user(&self, tenant: &str, username: &str) -> Result<bool, StoreError> {
            self.inner.delete_user(tenant, username).await
        }
        async fn insert_session(&self, s: &tocsin_store::Session) -> Result<(), StoreError> {
            self.inner.insert_session(s).await
        }
        async fn find_session(
            &self,
            id_hash: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Option<tocsin_store::Session>, StoreError> {
            self.inner.find_session(id_hash, now).await
        }
        async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
            self.inner.delete_session(id_hash).await
        }
        async fn purge_sessions(
            &self,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, StoreError> {
            self.inner.purge_sessions(now).await
        }
        async fn enqueue_deliveries(
            &self,
            deliveries: &[tocsin_store::Delivery],
        ) -> Result<u64, StoreError> {
            self.inner.enqueue_deliveries(deliveries).await
        }
        async fn claim_deliveries(
            &self,
            now: chrono::DateTime<chrono::Utc>,
            limit: u32,
            lease: chrono::Duration,
        ) -> Result<Vec<tocsin_store::Delivery>, StoreError> {
            self.inner.claim_deliveries(now, limit, lease).await
        }
        async fn deliver(
            &self,
            d: &tocsin_store::Delivery,
            send: tocsin_store::SendFuture<'_>,
        ) -> Result<tocsin_store::Delivered, StoreError> {
            self.inner.deliver(d, send).await
        }
        async fn release_deliveries(
            &self,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, StoreError> {
            self.inner.release_deliveries(now).await
        }
        async fn acknowledge_alerts(
            &self,
            tenant: &str,
            alerts: &[Ulid],
            at: chrono::DateTime<chrono::Utc>,
        ) -> Result<tocsin_store::AckOutcome, StoreError> {
            self.inner.acknowledge_alerts(tenant, alerts, at).await
        }
        async fn list_deliveries(
            &self,
            q: &tocsin_store::DeliveryQuery,
        ) -> Result<Page<tocsin_store::Delivery>, StoreError> {
            self.inner.list_deliveries(q).await
        }
        async fn insert_silence(&self, s: &tocsin_store::StoredSilence) -> Result<(), StoreError> {
            self.inner.insert_silence(s).await
        }
        async fn list_silences(
            &self,
            tenant: &str,
            at: chrono::DateTime<chrono::Utc>,
        ) -> Result<Vec<tocsin_store::StoredSilence>, StoreError> {
            self.inner.list_silences(tenant, at).await
        }
        async fn delete_silence(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
            self.inner.delete_silence(tenant, id).await
        }
        async fn close(&self) {
            self.inner.close().await;
        }
    }
}

/// Starts a server whose store writes wait for the returned [`Gate`].
pub async fn spawn_gated_app(config_toml: &str) -> (TestApp, Gate) {
    let config = Config::parse(config_toml, Path::new("<test>/tocsin.toml"))
        .unwrap_or_else(|e| panic!("test config: {e}"));
    let data = tempfile::tempdir().expect("tempdir");
    let inner = tocsin_store::open_sqlite(data.path())
        .await
        .expect("sqlite store");
    let (gated, gate) = GatedStore::new(std::sync::Arc::new(inner));
    let mut opts = ServerOptions::new(config);
    opts.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    opts.data_dir = Some(data.path().to_owned());
    opts.bootstrap_token = Some(TEST_TOKEN.to_owned());
    opts.store = Some(std::sync::Arc::new(gated));
    let server = tocsin_server::start(opts).await.expect("server starts");
    let addr = server.addr.expect("listening");
    (
        TestApp {
            server,
            addr,
            client: reqwest::Client::new(),
            token: TEST_TOKEN.to_owned(),
            data,
        },
        gate,
    )
}

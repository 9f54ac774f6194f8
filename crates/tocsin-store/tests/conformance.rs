//! One conformance suite, run against every backend.
//!
//! `store_conformance!(backend, factory)` expands every case below into a test module for that
//! backend. Each test gets a store of its own (a fresh SQLite folder, or a fresh PostgreSQL schema
//! dropped afterwards), so the tests run in parallel.
//!
//! PostgreSQL comes from `TOCSIN_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the PostgreSQL tests are
//! skipped with a message, except when `CI=true`, where they fail.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use serde_json::{Map, json};
use sqlx::Connection;
use tempfile::TempDir;
use tocsin_incidents::{Disposition, Incident, IncidentState};
use tocsin_model::{Alert, AlertStatus, DeadLetter, Domain, Event, Geo, Severity};
use tocsin_store::{
    AlertQuery, ApiToken, DeadLetterQuery, EventQuery, IncidentQuery, Page, Session, Store,
    StoreError, User, open_postgres, open_sqlite, redact_url,
};
use ulid::Ulid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

// ---------------------------------------------------------------------------------------------
// Harness

enum Place {
    Sqlite(TempDir),
    Postgres {
        base_url: String,
        url: String,
        schema: String,
    },
}

/// A store under test and what it takes to reopen and remove it.
struct Harness {
    store: Arc<dyn Store>,
    place: Place,
}

impl Harness {
    /// Opens the same database again, which runs the migrations again.
    async fn reopen(&self) -> Arc<dyn Store> {
        match &self.place {
            Place::Sqlite(dir) => Arc::new(open_sqlite(&dir.path().join("data")).await.unwrap()),
            Place::Postgres { url, .. } => Arc::new(open_postgres(url).await.unwrap()),
        }
    }

    async fn cleanup(&self) {
        self.store.close().await;
        if let Place::Postgres {
            base_url, schema, ..
        } = &self.place
        {
            let mut admin = sqlx::PgConnection::connect(base_url).await.unwrap();
            // The schema name is generated below from a ULID, never from input.
            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}

async fn make_sqlite() -> Option<Harness> {
    let dir = tempfile::tempdir().unwrap();
    let store = open_sqlite(&dir.path().join("data")).await.unwrap();
    Some(Harness {
        store: Arc::new(store),
        place: Place::Sqlite(dir),
    })
}

async fn make_postgres() -> Option<Harness> {
    let base_url =
        std::env::var("TOCSIN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let connect = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect(&base_url),
    )
    .await;
    let mut admin = match connect {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return postgres_unreachable(&base_url, &e.to_string()),
        Err(_) => return postgres_unreachable(&base_url, "no answer within 10 s"),
    };
    let schema = format!("t_{}", Ulid::new().to_string().to_lowercase());
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
    let store = open_postgres(&url).await.unwrap();
    Some(Harness {
        store: Arc::new(store),
        place: Place::Postgres {
            base_url,
            url,
            schema,
        },
    })
}

fn postgres_unreachable(url: &str, reason: &str) -> Option<Harness> {
    let url = redact_url(url);
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("PostgreSQL not reachable at {url} ({reason}); CI=true requires it");
    }
    eprintln!("skipping: PostgreSQL not reachable at {url} ({reason})");
    None
}

type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `case` on a fresh store, removes the store whatever happened, then reports the outcome.
async fn run(
    make: impl AsyncFnOnce() -> Option<Harness>,
    case: impl FnOnce(Arc<Harness>) -> CaseFuture,
) {
    let Some(harness) = make().await else {
        return;
    };
    let harness = Arc::new(harness);
    let outcome = tokio::spawn(case(harness.clone())).await;
    harness.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("case did not finish: {e}"),
        }
    }
}

macro_rules! store_conformance {
    ($backend:ident, $make:ident) => {
        store_conformance!(@cases $backend, $make;
            insert_and_get_round_trip,
            insert_is_idempotent_on_id,
            filter_by_time_range,
            filter_by_domain,
            filter_by_class,
            filter_by_site_matches_site_or_site_id,
            filter_by_person_matches_every_identity,
            free_text_is_case_insensitive_over_message_and_fields,
            free_text_wildcards_are_literal,
            combined_filters_agree_with_a_reference_filter,
            newest_first_with_id_as_tie_break,
            times_are_exact_to_the_microsecond,
            paging_visits_every_event_once,
            cursor_is_stable_while_events_arrive,
            malformed_cursors_are_refused,
            limit_is_clamped,
            events_are_isolated_by_tenant,
            retention_purges_only_older_events,
            retention_purges_in_batches_until_done,
            dead_letters_keep_raw_bytes_exactly,
            dead_letters_filter_page_and_isolate_tenants,
            dead_letters_ignore_replays_and_refuse_huge_lines,
            alert_upsert_replaces_by_id,
            find_open_alert_respects_window_status_and_tenant,
            alert_filters_and_paging,
            alerts_are_isolated_by_tenant,
            incidents_round_trip_and_group_lookup,
            incident_of_alert_follows_merge_and_split,
            incident_filters_and_paging,
            incidents_are_isolated_by_tenant,
            tokens_insert_find_list_and_revoke,
            token_hash_and_id_are_unique,
            users_upsert_find_list_and_delete,
            sessions_expire_and_end_with_their_user,
            nul_characters_are_stored_as_replacement,
            concurrent_writers_lose_nothing,
            reopening_runs_no_migration_twice,
            closed_store_is_unavailable,
            outbox_claims_sends_retries_and_gives_up,
            acknowledgement_cancels_every_pending_step,
            acknowledgement_waits_for_a_send_in_flight,
            release_makes_sending_rows_due_again,
            silences_insert_list_expire_and_delete,
        );
    };
    (@cases $backend:ident, $make:ident; $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run(super::$make, |h| Box::pin(super::cases::$case(h))).await;
                }
            )*
        }
    };
}

store_conformance!(sqlite, make_sqlite);
store_conformance!(postgres, make_postgres);

// ---------------------------------------------------------------------------------------------
// Sample data

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 2, 13, 7).unwrap()
}

fn id(n: u128) -> Ulid {
    Ulid::from_parts(1_777_860_787_000, n)
}

/// A door event of `tenant`, `secs` after [`t0`].
fn event(tenant: &str, n: u128, secs: i64) -> Event {
    let time = t0() + Span::seconds(secs);
    let mut fields = Map::new();
    fields.insert(
        "Topic".into(),
        json!("tns1:AccessControl/Denied/CredentialNotFound/Card"),
    );
    Event {
        id: id(n),
        tenant: tenant.into(),
        source: "hq-door-controller".into(),
        domain: Domain::Physical,
        time,
        observed: None,
        ingested: time + Span::seconds(1),
        class: "physical_access".into(),
        activity: Some("denied".into()),
        severity: Severity::MEDIUM,
        confidence: None,
        derivation: None,
        person: None,
        user: None,
        badge: None,
        host: None,
        ip: None,
        src_ip: None,
        dst_ip: None,
        asset: None,
        site: None,
        zone: None,
        portal: Some("AP-DC2-SRV".into()),
        person_id: None,
        asset_id: None,
        site_id: None,
        zone_id: None,
        geo: None,
        place: None,
        url: None,
        message: Some(format!("Access denied at door {n}")),
        fields,
    }
}

fn alert(tenant: &str, n: u128, secs: i64) -> Alert {
    let time = t0() + Span::seconds(secs);
    Alert {
        id: id(n),
        tenant: tenant.into(),
        detector: "rule".into(),
        rule: Some("door-forced".into()),
        domain: Domain::Physical,
        severity: Severity::HIGH,
        title: "Door forced open".into(),
        summary: "The DC2 server room door was forced open outside working hours.".into(),
        status: AlertStatus::Open,
        time,
        ingested: time + Span::seconds(1),
        detected: time + Span::seconds(2),
        last_seen: time,
        count: 1,
        dedup_key: "rule:door-forced:dc2".into(),
        evidence: vec![id(n + 10_000)],
        entities: Map::from_iter([("site".to_owned(), json!("dc2"))]),
        geo: Some(Geo::point(51.50735, -0.12776)),
        site_id: Some("site-dc2".into()),
        notified: None,
        acknowledged: None,
    }
}

/// An incident of `tenant` opened at `secs` after [`t0`] around alert `n`, grouped by site.
fn incident(tenant: &str, n: u128, secs: i64) -> Incident {
    let a = alert(tenant, n, secs);
    Incident::open(
        id(n + 50_000),
        &a,
        "site=dc2".into(),
        t0() + Span::seconds(secs + 3),
    )
}

fn dead_letter(tenant: &str, n: u128, secs: i64, source: &str, raw: &[u8]) -> DeadLetter {
    DeadLetter::new(
        id(n),
        tenant,
        source,
        t0() + Span::seconds(secs),
        "field `time`: not a timestamp",
        Some(u64::try_from(n).unwrap()),
        raw,
    )
}

fn token(id: &str, tenant: &str, hash_seed: u8) -> ApiToken {
    ApiToken {
        id: id.into(),
        name: format!("{id} ingest"),
        token_hash: format!("{hash_seed:02x}").repeat(32),
        role: "ingest".into(),
        tenant: tenant.into(),
        created: t0() + Span::seconds(i64::from(hash_seed)),
    }
}

fn user(username: &str, tenant: &str, role: &str) -> User {
    User {
        username: username.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${username}"),
        role: role.into(),
        tenant: tenant.into(),
        created: t0(),
    }
}

fn session(seed: &str, username: &str, expires: DateTime<Utc>) -> Session {
    Session {
        id_hash: seed.repeat(32),
        username: username.into(),
        csrf_token: format!("csrf-{seed}"),
        created: t0(),
        expires,
    }
}

fn ids<T>(items: &[T], key: impl Fn(&T) -> Ulid) -> Vec<Ulid> {
    items.iter().map(key).collect()
}

/// The expected listing order: newest first by time, then id.
fn newest_first(events: &[Event]) -> Vec<Ulid> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|x| Reverse((x.time, x.id)));
    sorted.iter().map(|e| e.id).collect()
}

async fn all_events(store: &dyn Store, q: &EventQuery) -> Vec<Event> {
    let mut q = q.clone();
    q.limit = 1000;
    let mut out = Vec::new();
    loop {
        let page = store.query_events(&q).await.unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

async fn event_ids(store: &dyn Store, q: &EventQuery) -> Vec<Ulid> {
    ids(&all_events(store, q).await, |e| e.id)
}

/// A varied corpus over two tenants, for the filter tests.
fn corpus() -> Vec<Event> {
    let domains = [Domain::Physical, Domain::Cyber, Domain::Public];
    let classes = [
        "physical_access",
        "authentication",
        "alarm",
        "public_report",
    ];
    let mut out = Vec::new();
    for n in 0..60u128 {
        let i = usize::try_from(n).unwrap();
        let tenant = if n % 5 == 4 { "globex" } else { "acme" };
        let mut e = event(tenant, n, i64::try_from(n * 37 % 50).unwrap() * 60);
        e.domain = domains[i % 3];
        e.class = classes[i % 4].into();
        match i % 6 {
            0 => e.site = Some("dc2".into()),
            1 => e.site_id = Some("dc2".into()),
            2 => e.site = Some("hq".into()),
            3 => {
                e.site = Some("hq".into());
                e.site_id = Some("dc2".into());
            }
            _ => {}
        }
        match i % 7 {
            0 => e.person = Some("jdoe".into()),
            1 => e.person_id = Some("jdoe".into()),
            2 => e.user = Some("jdoe".into()),
            3 => e.badge = Some("jdoe".into()),
            4 => e.user = Some("asmith".into()),
            _ => {}
        }
        if i % 8 == 0 {
            e.message = Some(format!("Tailgating detected at DC2 turnstile {n}"));
        }
        if i % 9 == 0 {
            e.fields.insert("EventID".into(), json!(4625));
            e.fields
                .insert("Workstation".into(), json!("WS-TAILGATE-7"));
        }
        out.push(e);
    }
    out
}

/// What the store should return for `q`, computed the slow way.
fn reference_filter(q: &EventQuery, e: &Event) -> bool {
    let is = |v: &Option<String>, want: &String| v.as_ref() == Some(want);
    e.tenant == q.tenant
        && q.from.is_none_or(|f| e.time >= f)
        && q.to.is_none_or(|t| e.time < t)
        && q.domain.is_none_or(|d| e.domain == d)
        && q.class.as_ref().is_none_or(|c| &e.class == c)
        && q.site
            .as_ref()
            .is_none_or(|s| is(&e.site, s) || is(&e.site_id, s))
        && q.person.as_ref().is_none_or(|p| {
            is(&e.person, p) || is(&e.person_id, p) || is(&e.user, p) || is(&e.badge, p)
        })
        && q.text.as_ref().is_none_or(|t| {
            let t = t.to_lowercase();
            e.message
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains(&t)
                || serde_json::to_string(&e.fields)
                    .unwrap()
                    .to_lowercase()
                    .contains(&t)
        })
}

fn expected(corpus: &[Event], q: &EventQuery) -> Vec<Ulid> {
    let kept: Vec<Event> = corpus
        .iter()
        .filter(|e| reference_filter(q, e))
        .cloned()
        .collect();
    newest_first(&kept)
}

fn is_bad_cursor<T: std::fmt::Debug>(r: Result<Page<T>, StoreError>) -> bool {
    matches!(r, Err(StoreError::BadCursor))
}

// ---------------------------------------------------------------------------------------------
// Cases

#[path = "conformance/outbox.rs"]
mod outbox_cases;

mod cases {
    pub use super::outbox_cases::*;
    use super::*;

    pub async fn insert_and_get_round_trip(h: Arc<Harness>) {
        let s = &h.store;
        let mut e = event("acme", 1, 0);
        // Nanoseconds survive in the stored document even though ordering uses microseconds.
        e.time += Span::nanoseconds(123_456_789);
        e.observed = Some(e.time - Span::milliseconds(250));
        e.confidence = Some(80);
        e.derivation = Some("correlated".into());
        e.person = Some("Jane Doe".into());
        e.person_id = Some("p-0042".into());
        e.user = Some("jdoe".into());
        e.badge = Some("0x3F21A9".into());
        e.host = Some("dc2-gw".into());
        e.ip = Some("10.2.0.1".into());
        e.site = Some("dc2".into());
        e.site_id = Some("site-dc2".into());
        e.zone = Some("dc2-server-room".into());
        e.geo = Some(Geo {
            lat: 48.8566,
            lon: 2.3522,
            radius_m: Some(250.0),
            polygon: Some(vec![[2.35, 48.85], [2.36, 48.85], [2.36, 48.86]]),
        });
        e.place = Some("Paris, 4e".into());
        e.url = Some("https://example.org/advisory/1".into());
        e.fields.insert(
            "Nested".into(),
            json!({"a": [1, 2.5, null, true], "b": {"c": "ünïcode ✓"}, "big": u64::MAX}),
        );

        assert_eq!(s.insert_events(std::slice::from_ref(&e)).await.unwrap(), 1);
        assert_eq!(s.get_event("acme", e.id).await.unwrap(), Some(e.clone()));
        assert_eq!(s.get_event("acme", id(999)).await.unwrap(), None);
        let page = s.query_events(&EventQuery::new("acme")).await.unwrap();
        assert_eq!(page.items, vec![e]);
        assert_eq!(page.next_cursor, None);
        assert_eq!(s.insert_events(&[]).await.unwrap(), 0);
    }

    pub async fn insert_is_idempotent_on_id(h: Arc<Harness>) {
        let s = &h.store;
        let a = event("acme", 1, 0);
        let b = event("acme", 2, 1);
        let c = event("acme", 3, 2);
        assert_eq!(s.insert_events(&[a.clone(), b.clone()]).await.unwrap(), 2);
        // A replay changes nothing, even with different content under the same id.
        let mut changed = a.clone();
        changed.message = Some("rewritten".into());
        assert_eq!(
            s.insert_events(&[changed, b.clone(), c.clone()])
                .await
                .unwrap(),
            1
        );
        let d = event("acme", 4, 3);
        assert_eq!(s.insert_events(&[d.clone(), d.clone()]).await.unwrap(), 1);
        assert_eq!(s.get_event("acme", a.id).await.unwrap(), Some(a.clone()));
        assert_eq!(
            event_ids(s.as_ref(), &EventQuery::new("acme")).await,
            newest_first(&[a, b, c, d])
        );
    }

    pub async fn filter_by_time_range(h: Arc<Harness>) {
        let s = &h.store;
        let events: Vec<Event> = (0..10).map(|n| event("acme", n, 60 * n as i64)).collect();
        s.insert_events(&events).await.unwrap();
        let mut q = EventQuery::new("acme");
        q.from = Some(t0() + Span::minutes(2));
        q.to = Some(t0() + Span::minutes(5));
        // `from` is inclusive and `to` exclusive.
        assert_eq!(event_ids(s.as_ref(), &q).await, vec![id(4), id(3), id(2)]);
        q.to = None;
        assert_eq!(event_ids(s.as_ref(), &q).await.len(), 8);
        q.from = None;
        q.to = Some(t0());
        assert!(event_ids(s.as_ref(), &q).await.is_empty());
    }

    pub async fn filter_by_domain(h: Arc<Harness>) {
        let s = &h.store;
        let corpus = corpus();
        s.insert_events(&corpus).await.unwrap();
        for domain in Domain::ALL {
            let mut q = EventQuery::new("acme");
            q.domain = Some(domain);
            let got = all_events(s.as_ref(), &q).await;
            assert!(!got.is_empty());
            assert!(got.iter().all(|e| e.domain == domain));
            assert_eq!(ids(&got, |e| e.id), expected(&corpus, &q));
        }
    }

    pub async fn filter_by_class(h: Arc<Harness>) {
        let s = &h.store;
        let corpus = corpus();
        s.insert_events(&corpus).await.unwrap();
        let mut q = EventQuery::new("acme");
        q.class = Some("alarm".into());
        let got = all_events(s.as_ref(), &q).await;
        assert!(!got.is_empty());
        assert!(got.iter().all(|e| e.class == "alarm"));
        assert_eq!(ids(&got, |e| e.id), expected(&corpus, &q));
        q.class = Some("ALARM".into());
        assert!(event_ids(s.as_ref(), &q).await.is_empty());
    }

    pub async fn filter_by_site_matches_site_or_site_id(h: Arc<Harness>) {
        let s = &h.store;
        let corpus = corpus();
        s.insert_events(&corpus).await.unwrap();
        let mut q = EventQuery::new("acme");
        q.site = Some("dc2".into());
        let got = all_events(s.as_ref(), &q).await;
        let by_name = got
            .iter()
            .filter(|e| e.site.as_deref() == Some("dc2"))
            .count();
        let by_id = got
            .iter()
            .filter(|e| e.site.as_deref() != Some("dc2") && e.site_id.as_deref() == Some("dc2"))
            .count();
        assert!(by_name > 0 && by_id > 0, "{by_name} {by_id}");
        assert_eq!(ids(&got, |e| e.id), expected(&corpus, &q));
        q.site = Some("nowhere".into());
        assert!(event_ids(s.as_ref(), &q).await.is_empty());
    }

    pub async fn filter_by_person_matches_every_identity(h: Arc<Harness>) {
        let s = &h.store;
        let corpus = corpus();
        s.insert_events(&corpus).await.unwrap();
        let mut q = EventQuery::new("acme");
        q.person = Some("jdoe".into());
        let got = all_events(s.as_ref(), &q).await;
        let jdoe = Some("jdoe");
        assert!(got.iter().any(|e| e.person.as_deref() == jdoe));
        assert!(got.iter().any(|e| e.person_id.as_deref() == jdoe));
        assert!(got.iter().any(|e| e.user.as_deref() == jdoe));
        assert!(got.iter().any(|e| e.badge.as_deref() == jdoe));
        assert_eq!(ids(&got, |e| e.id), expected(&corpus, &q));
        q.person = Some("asmith".into());
        let got = all_events(s.as_ref(), &q).await;
        assert!(!got.is_empty());
        assert!(got.iter().all(|e| e.user.as_deref() == Some("asmith")));
    }

    pub async fn free_text_is_case_insensitive_over_message_and_fields(h: Arc<Harness>) {
        let s = &h.store;
        let mut a = event("acme", 1, 0);
        a.message = Some("Tailgating detected at the DC2 turnstile".into());
        let mut b = event("acme", 2, 1);
        b.fields
            .insert("Workstation".into(), json!("WS-TAILGATE-7"));
        let mut c = event("acme", 3, 2);
        c.message = Some("ÉCHEC d'authentification".into());
        let d = event("acme", 4, 3);
        s.insert_events(&[a.clone(), b.clone(), c.clone(), d])
            .await
            .unwrap();

        let search = |text: &str| {
            let mut q = EventQuery::new("acme");
            q.text = Some(text.into());
            q
        };
        assert_eq!(
            event_ids(s.as_ref(), &search("TAILGAT")).await,
            vec![b.id, a.id]
        );
        assert_eq!(event_ids(s.as_ref(), &search("échec")).await, vec![c.id]);
        // The serialised fields are searched as JSON text, keys included.
        assert_eq!(
            event_ids(s.as_ref(), &search("\"workstation\":")).await,
            vec![b.id]
        );
        assert_eq!(
            event_ids(s.as_ref(), &search("credentialnotfound"))
                .await
                .len(),
            4
        );
        assert!(
            event_ids(s.as_ref(), &search("no such words"))
                .await
                .is_empty()
        );
    }

    pub async fn free_text_wildcards_are_literal(h: Arc<Harness>) {
        let s = &h.store;
        let mut a = event("acme", 1, 0);
        a.message = Some("50% of doors_offline at C:\\Sites\\HQ".into());
        let mut b = event("acme", 2, 1);
        b.message = Some("5000 of doorsXoffline".into());
        s.insert_events(&[a.clone(), b]).await.unwrap();
        for needle in ["50%", "doors_off", "C:\\Sites", "%", "_"] {
            let mut q = EventQuery::new("acme");
            q.text = Some(needle.into());
            assert_eq!(event_ids(s.as_ref(), &q).await, vec![a.id], "{needle}");
        }
        let mut q = EventQuery::new("acme");
        q.text = Some("x' OR '1'='1".into());
        assert!(event_ids(s.as_ref(), &q).await.is_empty());
    }

    pub async fn combined_filters_agree_with_a_reference_filter(h: Arc<Harness>) {
        let s = &h.store;
        let corpus = corpus();
        s.insert_events(&corpus).await.unwrap();
        let mut checked_nonempty = 0;
        for tenant in ["acme", "globex"] {
            for domain in [None, Some(Domain::Physical), Some(Domain::Cyber)] {
                for class in [None, Some("physical_access"), Some("alarm")] {
                    for site in [None, Some("dc2"), Some("hq")] {
                        for person in [None, Some("jdoe")] {
                            for text in [None, Some("tailgat")] {
                                for (from, to) in [(None, None), (Some(10), Some(40))] {
                                    let mut q = EventQuery::new(tenant);
                                    q.domain = domain;
                                    q.class = class.map(Into::into);
                                    q.site = site.map(Into::into);
                                    q.person = person.map(Into::into);
                                    q.text = text.map(Into::into);
                                    q.from = from.map(|m| t0() + Span::minutes(m));
                                    q.to = to.map(|m| t0() + Span::minutes(m));
                                    let want = expected(&corpus, &q);
                                    checked_nonempty += usize::from(!want.is_empty());
                                    assert_eq!(event_ids(s.as_ref(), &q).await, want, "{q:?}");
                                }
                            }
                        }
                    }
                }
            }
        }
        // The corpus is varied enough that many combinations select something.
        assert!(checked_nonempty > 50, "{checked_nonempty}");
    }

    pub async fn newest_first_with_id_as_tie_break(h: Arc<Harness>) {
        let s = &h.store;
        let mut events = Vec::new();
        for n in 0..12u128 {
            // Several events share a time; inserted in scrambled order.
            let n = n * 7 % 12;
            events.push(event("acme", n, i64::try_from(n / 4).unwrap()));
        }
        s.insert_events(&events).await.unwrap();
        let got = event_ids(s.as_ref(), &EventQuery::new("acme")).await;
        assert_eq!(got, newest_first(&events));
        assert_eq!(got.first(), Some(&id(11)));
        assert_eq!(got.last(), Some(&id(0)));
    }

    pub async fn times_are_exact_to_the_microsecond(h: Arc<Harness>) {
        let s = &h.store;
        let mut events = Vec::new();
        for n in 0..5u128 {
            let mut e = event("acme", 10 - n, 0);
            e.time = t0() + Span::microseconds(i64::try_from(n).unwrap());
            events.push(e);
        }
        s.insert_events(&events).await.unwrap();
        // Later time wins over a larger id.
        assert_eq!(
            event_ids(s.as_ref(), &EventQuery::new("acme")).await,
            vec![id(6), id(7), id(8), id(9), id(10)]
        );
        let mut q = EventQuery::new("acme");
        q.from = Some(t0() + Span::microseconds(1));
        q.to = Some(t0() + Span::microseconds(3));
        assert_eq!(event_ids(s.as_ref(), &q).await, vec![id(8), id(9)]);
    }

    pub async fn paging_visits_every_event_once(h: Arc<Harness>) {
        let s = &h.store;
        let events: Vec<Event> = (0..57u128)
            .map(|n| event("acme", n, i64::try_from(n % 13).unwrap()))
            .collect();
        s.insert_events(&events).await.unwrap();
        let mut q = EventQuery::new("acme");
        q.limit = 10;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = s.query_events(&q).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 10);
            seen.extend(page.items.iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => {
                    assert_eq!(page.items.len(), 10);
                    q.cursor = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(pages, 6);
        assert_eq!(seen, newest_first(&events));

        // Paging composes with filters.
        let mut q = EventQuery::new("acme");
        q.limit = 3;
        q.from = Some(t0() + Span::seconds(5));
        let mut seen = Vec::new();
        loop {
            let page = s.query_events(&q).await.unwrap();
            seen.extend(page.items.iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let kept: Vec<Event> = events
            .iter()
            .filter(|e| e.time >= t0() + Span::seconds(5))
            .cloned()
            .collect();
        assert_eq!(seen, newest_first(&kept));
    }

    pub async fn cursor_is_stable_while_events_arrive(h: Arc<Harness>) {
        let s = &h.store;
        let original: Vec<Event> = (0..30u128)
            .map(|n| event("acme", n, 100 + i64::try_from(n).unwrap()))
            .collect();
        s.insert_events(&original).await.unwrap();
        let mut q = EventQuery::new("acme");
        q.limit = 10;
        let first = s.query_events(&q).await.unwrap();
        let mut seen: Vec<Ulid> = ids(&first.items, |e| e.id);

        // Newer events, older events, and one between already-listed and not-yet-listed ones.
        let newer: Vec<Event> = (100..105u128)
            .map(|n| event("acme", n, 1000 + i64::try_from(n).unwrap()))
            .collect();
        let older: Vec<Event> = (200..205u128)
            .map(|n| event("acme", n, i64::try_from(n).unwrap() - 200))
            .collect();
        let mut between = event("acme", 300, 115);
        between.time += Span::milliseconds(500);
        s.insert_events(&newer).await.unwrap();
        s.insert_events(&older).await.unwrap();
        s.insert_events(std::slice::from_ref(&between))
            .await
            .unwrap();

        q.cursor = first.next_cursor;
        while q.cursor.is_some() {
            let page = s.query_events(&q).await.unwrap();
            seen.extend(page.items.iter().map(|e| e.id));
            q.cursor = page.next_cursor;
        }
        let unique: HashSet<Ulid> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "an event was listed twice");
        let mut want = original.clone();
        want.extend(older);
        want.push(between);
        assert_eq!(seen, newest_first(&want));
        assert!(newer.iter().all(|e| !unique.contains(&e.id)));
    }

    pub async fn malformed_cursors_are_refused(h: Arc<Harness>) {
        let s = &h.store;
        let events: Vec<Event> = (0..3u128).map(|n| event("acme", n, 0)).collect();
        s.insert_events(&events).await.unwrap();
        for a in 0..3u128 {
            s.upsert_alert(&alert("acme", a, 0)).await.unwrap();
        }
        let mut q = EventQuery::new("acme");
        q.limit = 1;
        let event_cursor = s.query_events(&q).await.unwrap().next_cursor.unwrap();
        let mut aq = AlertQuery::new("acme");
        aq.limit = 1;
        let alert_cursor = s.query_alerts(&aq).await.unwrap().next_cursor.unwrap();

        for bad in [
            "",
            "not-a-cursor",
            "zz",
            "0",
            &"ab".repeat(200),
            "'; DROP TABLE events; --",
            &alert_cursor,
        ] {
            q.cursor = Some(bad.into());
            assert!(is_bad_cursor(s.query_events(&q).await), "{bad:?}");
        }
        aq.cursor = Some(event_cursor.clone());
        assert!(is_bad_cursor(s.query_alerts(&aq).await));
        let mut dq = DeadLetterQuery::new("acme");
        dq.cursor = Some(event_cursor);
        assert!(is_bad_cursor(s.list_dead_letters(&dq).await));
        assert!(StoreError::BadCursor.is_client_error());
        // The store still works afterwards.
        assert_eq!(
            event_ids(s.as_ref(), &EventQuery::new("acme")).await.len(),
            3
        );
    }

    pub async fn limit_is_clamped(h: Arc<Harness>) {
        let s = &h.store;
        let events: Vec<Event> = (0..1005u128)
            .map(|n| event("acme", n, i64::try_from(n).unwrap()))
            .collect();
        assert_eq!(s.insert_events(&events).await.unwrap(), 1005);
        let mut q = EventQuery::new("acme");
        q.limit = 0;
        let page = s.query_events(&q).await.unwrap();
        assert_eq!(ids(&page.items, |e| e.id), vec![id(1004)]);
        assert!(page.next_cursor.is_some());
        q.limit = 5000;
        let page = s.query_events(&q).await.unwrap();
        assert_eq!(page.items.len(), 1000);
        q.cursor = page.next_cursor;
        let rest = s.query_events(&q).await.unwrap();
        assert_eq!(
            ids(&rest.items, |e| e.id),
            (0..5).rev().map(id).collect::<Vec<_>>()
        );
        assert_eq!(rest.next_cursor, None);
    }

    pub async fn events_are_isolated_by_tenant(h: Arc<Harness>) {
        let s = &h.store;
        let acme: Vec<Event> = (0..5u128).map(|n| event("acme", n, 0)).collect();
        let globex: Vec<Event> = (10..13u128).map(|n| event("globex", n, 0)).collect();
        s.insert_events(&acme).await.unwrap();
        s.insert_events(&globex).await.unwrap();
        assert_eq!(
            event_ids(s.as_ref(), &EventQuery::new("globex")).await,
            newest_first(&globex)
        );
        assert_eq!(s.get_event("globex", id(0)).await.unwrap(), None);
        assert!(s.get_event("acme", id(0)).await.unwrap().is_some());
        assert!(
            event_ids(s.as_ref(), &EventQuery::new("initech"))
                .await
                .is_empty()
        );
        // A cursor from one tenant's listing reveals nothing of it in another's.
        let mut q = EventQuery::new("acme");
        q.limit = 1;
        q.cursor = s.query_events(&q).await.unwrap().next_cursor;
        q.tenant = "globex".into();
        q.limit = 100;
        let leaked = s.query_events(&q).await.unwrap().items;
        assert!(leaked.iter().all(|e| e.tenant == "globex"));
        // The same id under another tenant is a replay, not a second event.
        let mut clash = event("globex", 0, 0);
        clash.message = Some("other tenant".into());
        assert_eq!(s.insert_events(&[clash]).await.unwrap(), 0);
        assert_eq!(s.get_event("globex", id(0)).await.unwrap(), None);
    }

    pub async fn retention_purges_only_older_events(h: Arc<Harness>) {
        let s = &h.store;
        let mut events = Vec::new();
        for n in 0..20u128 {
            let tenant = if n % 2 == 0 { "acme" } else { "globex" };
            events.push(event(tenant, n, 60 * i64::try_from(n).unwrap()));
        }
        s.insert_events(&events).await.unwrap();
        let cutoff = t0() + Span::minutes(8);
        assert_eq!(s.purge_events_before(cutoff).await.unwrap(), 8);
        assert_eq!(s.purge_events_before(cutoff).await.unwrap(), 0);
        let mut left = event_ids(s.as_ref(), &EventQuery::new("acme")).await;
        left.extend(event_ids(s.as_ref(), &EventQuery::new("globex")).await);
        let mut left: Vec<u128> = left.iter().map(|u| u.random()).collect();
        left.sort_unstable();
        assert_eq!(left, (8..20).collect::<Vec<u128>>());
    }

    pub async fn retention_purges_in_batches_until_done(h: Arc<Harness>) {
        let s = &h.store;
        // More than one purge batch (5 000 rows), to exercise the loop.
        let events: Vec<Event> = (0..5_300u128)
            .map(|n| event("acme", n, i64::try_from(n).unwrap()))
            .collect();
        assert_eq!(s.insert_events(&events).await.unwrap(), 5_300);
        let cutoff = t0() + Span::seconds(5_200);
        assert_eq!(s.purge_events_before(cutoff).await.unwrap(), 5_200);
        assert_eq!(
            event_ids(s.as_ref(), &EventQuery::new("acme")).await,
            (5_200..5_300u128).rev().map(id).collect::<Vec<_>>()
        );
    }

    pub async fn dead_letters_keep_raw_bytes_exactly(h: Arc<Harness>) {
        let s = &h.store;
        let every_byte: Vec<u8> = (0..=255u8).collect();
        let not_utf8 = b"<14>Mar  1 12:00:00 gw \xff\xfe\x00 bad \xc3\x28 utf-8".to_vec();
        let big = vec![b'x'; tocsin_model::DEAD_LETTER_RAW_LIMIT + 5];
        let letters = [
            dead_letter("acme", 1, 0, "syslog-udp", &every_byte),
            dead_letter("acme", 2, 1, "syslog-udp", &not_utf8),
            dead_letter("acme", 3, 2, "http", b""),
            dead_letter("acme", 4, 3, "http", &big),
            DeadLetter::new(id(5), "acme", "file", t0(), "no line", None, b"{}"),
        ];
        for d in &letters {
            s.insert_dead_letter(d).await.unwrap();
        }
        let page = s
            .list_dead_letters(&DeadLetterQuery::new("acme"))
            .await
            .unwrap();
        let mut got = page.items;
        got.sort_by_key(|d| d.id);
        assert_eq!(got, letters.to_vec());
        let cut = got.iter().find(|d| d.id == id(4)).unwrap();
        assert!(cut.truncated);
        assert_eq!(cut.raw.len(), tocsin_model::DEAD_LETTER_RAW_LIMIT);
    }

    pub async fn dead_letters_filter_page_and_isolate_tenants(h: Arc<Harness>) {
        let s = &h.store;
        let mut all = Vec::new();
        for n in 0..25u128 {
            let tenant = if n % 5 == 0 { "globex" } else { "acme" };
            let source = if n % 2 == 0 { "syslog-udp" } else { "mqtt" };
            let d = dead_letter(tenant, n, i64::try_from(n % 7).unwrap(), source, b"x");
            s.insert_dead_letter(&d).await.unwrap();
            all.push(d);
        }
        let want = |tenant: &str, source: Option<&str>| {
            let mut v: Vec<&DeadLetter> = all
                .iter()
                .filter(|d| d.tenant == tenant && source.is_none_or(|s| d.source == s))
                .collect();
            v.sort_by_key(|x| Reverse((x.received, x.id)));
            v.iter().map(|d| d.id).collect::<Vec<_>>()
        };
        for (tenant, source) in [
            ("acme", None),
            ("acme", Some("mqtt")),
            ("globex", None),
            ("globex", Some("syslog-udp")),
            ("initech", None),
        ] {
            let mut q = DeadLetterQuery::new(tenant);
            q.source = source.map(Into::into);
            q.limit = 3;
            let mut seen = Vec::new();
            loop {
                let page = s.list_dead_letters(&q).await.unwrap();
                assert!(page.items.iter().all(|d| d.tenant == tenant));
                seen.extend(page.items.iter().map(|d| d.id));
                match page.next_cursor {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(seen, want(tenant, source), "{tenant} {source:?}");
        }
    }

    pub async fn dead_letters_ignore_replays_and_refuse_huge_lines(h: Arc<Harness>) {
        let s = &h.store;
        let d = dead_letter("acme", 1, 0, "http", b"first");
        s.insert_dead_letter(&d).await.unwrap();
        s.insert_dead_letter(&dead_letter("acme", 1, 0, "http", b"second"))
            .await
            .unwrap();
        let page = s
            .list_dead_letters(&DeadLetterQuery::new("acme"))
            .await
            .unwrap();
        assert_eq!(page.items, vec![d]);
        let mut huge = dead_letter("acme", 2, 0, "http", b"x");
        huge.line = Some(u64::MAX);
        let err = s.insert_dead_letter(&huge).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "line", .. }),
            "{err}"
        );
    }

    pub async fn alert_upsert_replaces_by_id(h: Arc<Harness>) {
        let s = &h.store;
        let mut a = alert("acme", 1, 0);
        s.upsert_alert(&a).await.unwrap();
        assert_eq!(s.get_alert("acme", a.id).await.unwrap(), Some(a.clone()));
        a.count = 7;
        a.last_seen += Span::minutes(3);
        a.status = AlertStatus::Acknowledged;
        a.severity = Severity::CRITICAL;
        a.evidence.push(id(20_000));
        s.upsert_alert(&a).await.unwrap();
        assert_eq!(s.get_alert("acme", a.id).await.unwrap(), Some(a.clone()));
        let page = s.query_alerts(&AlertQuery::new("acme")).await.unwrap();
        assert_eq!(page.items, vec![a.clone()]);
        let mut q = AlertQuery::new("acme");
        q.status = Some(AlertStatus::Open);
        assert!(s.query_alerts(&q).await.unwrap().items.is_empty());
        assert_eq!(s.get_alert("acme", id(2)).await.unwrap(), None);
    }

    pub async fn find_open_alert_respects_window_status_and_tenant(h: Arc<Harness>) {
        let s = &h.store;
        let key = "rule:door-forced:dc2";
        let older = alert("acme", 1, 0);
        let mut newer = alert("acme", 2, 0);
        newer.last_seen = t0() + Span::minutes(10);
        let mut other_key = alert("acme", 3, 0);
        other_key.dedup_key = "rule:door-forced:hq".into();
        other_key.last_seen = t0() + Span::minutes(20);
        let mut elsewhere = alert("globex", 4, 0);
        elsewhere.last_seen = t0() + Span::minutes(30);
        for a in [&older, &newer, &other_key, &elsewhere] {
            s.upsert_alert(a).await.unwrap();
        }
        let find = |since: DateTime<Utc>| {
            let s = s.clone();
            async move { s.find_open_alert("acme", key, since).await.unwrap() }
        };
        // The one seen most recently, as long as it is inside the window (bound inclusive).
        assert_eq!(find(t0()).await, Some(newer.clone()));
        assert_eq!(find(newer.last_seen).await, Some(newer.clone()));
        assert_eq!(find(newer.last_seen + Span::microseconds(1)).await, None);
        // A closed alert is not open; the next most recent one still is.
        let mut closed = newer.clone();
        closed.status = AlertStatus::Closed;
        s.upsert_alert(&closed).await.unwrap();
        assert_eq!(find(t0()).await, Some(older.clone()));
        assert_eq!(find(t0() + Span::seconds(1)).await, None);
        let mut acked = older.clone();
        acked.status = AlertStatus::Acknowledged;
        s.upsert_alert(&acked).await.unwrap();
        assert_eq!(find(t0()).await, Some(acked));
        assert_eq!(
            s.find_open_alert("globex", key, t0()).await.unwrap(),
            Some(elsewhere)
        );
        assert_eq!(s.find_open_alert("initech", key, t0()).await.unwrap(), None);
    }

    pub async fn alert_filters_and_paging(h: Arc<Harness>) {
        let s = &h.store;
        let detectors = ["rule", "sigma", "presence_conflict"];
        let statuses = [
            AlertStatus::Open,
            AlertStatus::Acknowledged,
            AlertStatus::Closed,
        ];
        let mut all = Vec::new();
        for n in 0..40u128 {
            let i = usize::try_from(n).unwrap();
            let mut a = alert("acme", n, i64::try_from(n % 9).unwrap());
            a.detector = detectors[i % 3].into();
            a.status = statuses[i % 4 % 3];
            a.severity = Severity::new(u8::try_from(i % 7).unwrap()).unwrap();
            s.upsert_alert(&a).await.unwrap();
            all.push(a);
        }
        let mut combos = 0;
        for detector in [None, Some("sigma")] {
            for status in [None, Some(AlertStatus::Open), Some(AlertStatus::Closed)] {
                for severity_min in [None, Some(4u8)] {
                    let mut q = AlertQuery::new("acme");
                    q.detector = detector.map(Into::into);
                    q.status = status;
                    q.severity_min = severity_min;
                    q.limit = 4;
                    let mut seen = Vec::new();
                    loop {
                        let page = s.query_alerts(&q).await.unwrap();
                        seen.extend(page.items.iter().map(|a| a.id));
                        match page.next_cursor {
                            Some(c) => q.cursor = Some(c),
                            None => break,
                        }
                    }
                    let mut want: Vec<&Alert> = all
                        .iter()
                        .filter(|a| {
                            detector.is_none_or(|d| a.detector == d)
                                && status.is_none_or(|st| a.status == st)
                                && severity_min.is_none_or(|m| a.severity.id() >= m)
                        })
                        .collect();
                    want.sort_by_key(|x| Reverse((x.detected, x.id)));
                    let want: Vec<Ulid> = want.iter().map(|a| a.id).collect();
                    combos += usize::from(!want.is_empty());
                    assert_eq!(seen, want, "{detector:?} {status:?} {severity_min:?}");
                }
            }
        }
        assert_eq!(combos, 12);
    }

    pub async fn alerts_are_isolated_by_tenant(h: Arc<Harness>) {
        let s = &h.store;
        let mine = alert("acme", 1, 0);
        s.upsert_alert(&mine).await.unwrap();
        s.upsert_alert(&alert("globex", 2, 0)).await.unwrap();
        assert_eq!(s.get_alert("globex", mine.id).await.unwrap(), None);
        let page = s.query_alerts(&AlertQuery::new("globex")).await.unwrap();
        assert_eq!(ids(&page.items, |a| a.id), vec![id(2)]);
        // Another tenant cannot take over an alert id.
        let mut hijack = mine.clone();
        hijack.tenant = "globex".into();
        hijack.title = "hijacked".into();
        let err = s.upsert_alert(&hijack).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(s.get_alert("acme", mine.id).await.unwrap(), Some(mine));
        assert_eq!(s.get_alert("globex", hijack.id).await.unwrap(), None);
    }

    pub async fn incidents_round_trip_and_group_lookup(h: Arc<Harness>) {
        let s = &h.store;
        let mut inc = incident("acme", 1, 0);
        inc.add_alert(&alert("acme", 2, 30), t0() + Span::seconds(40));
        inc.note("Guard sent to DC2", "ana", t0() + Span::seconds(60))
            .unwrap();
        s.upsert_incidents(std::slice::from_ref(&inc))
            .await
            .unwrap();
        let stale = inc.clone();
        inc.revision = 1;
        assert_eq!(
            s.get_incident("acme", inc.id).await.unwrap(),
            Some(inc.clone())
        );
        assert_eq!(s.get_incident("acme", id(9)).await.unwrap(), None);
        // A copy read before that write is refused, whatever it changes.
        let mut late = stale.clone();
        late.note("written from a stale copy", "ben", t0()).unwrap();
        let err = s.upsert_incidents(&[late]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(
            s.get_incident("acme", inc.id).await.unwrap(),
            Some(inc.clone())
        );

        // The lookup honours the key, the window on the latest alert, and the state.
        let since = |secs| t0() + Span::seconds(secs);
        let found = s
            .find_open_incident("acme", "site=dc2", since(30))
            .await
            .unwrap();
        assert_eq!(found.map(|i| i.id), Some(inc.id));
        assert_eq!(
            s.find_open_incident("acme", "site=dc2", since(31))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.find_open_incident("acme", "site=hq", since(0))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.find_open_incident("globex", "site=dc2", since(0))
                .await
                .unwrap(),
            None
        );

        inc.acknowledge("ana", Some(Disposition::TruePositive), since(90))
            .unwrap();
        inc.transition(IncidentState::Investigating, "ana", since(100))
            .unwrap();
        s.upsert_incidents(std::slice::from_ref(&inc))
            .await
            .unwrap();
        let stored = s.get_incident("acme", inc.id).await.unwrap().unwrap();
        assert_eq!(stored.state, IncidentState::Investigating);
        assert_eq!(
            stored.alerts[0].disposition,
            Some(Disposition::TruePositive)
        );
        assert!(
            s.find_open_incident("acme", "site=dc2", since(0))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(stored.revision, 2);
        inc = stored;
        inc.transition(IncidentState::Resolved, "ana", since(200))
            .unwrap();
        s.upsert_incidents(std::slice::from_ref(&inc))
            .await
            .unwrap();
        assert_eq!(
            s.find_open_incident("acme", "site=dc2", since(0))
                .await
                .unwrap(),
            None
        );
        // Nothing stored for an empty batch, and it is not an error.
        s.upsert_incidents(&[]).await.unwrap();
    }

    pub async fn incident_of_alert_follows_merge_and_split(h: Arc<Harness>) {
        let s = &h.store;
        let mut x = incident("acme", 1, 0);
        let mut y = incident("acme", 2, 10);
        s.upsert_incidents(&[x.clone(), y.clone()]).await.unwrap();
        x.revision = 1;
        y.revision = 1;
        let of = |n| async move {
            s.incident_of_alert("acme", id(n))
                .await
                .unwrap()
                .map(|i| i.id)
        };
        assert_eq!(of(1).await, Some(x.id));
        assert_eq!(of(2).await, Some(y.id));
        assert_eq!(of(3).await, None);
        assert_eq!(s.incident_of_alert("globex", id(1)).await.unwrap(), None);

        tocsin_incidents::merge(&mut x, &mut y, "ana", t0() + Span::minutes(5)).unwrap();
        s.upsert_incidents(&[x.clone(), y.clone()]).await.unwrap();
        assert_eq!(of(1).await, Some(x.id));
        assert_eq!(of(2).await, Some(x.id));
        let closed = s.get_incident("acme", y.id).await.unwrap().unwrap();
        assert_eq!(closed.merged_into, Some(x.id));
        x.revision = 2;

        let z =
            tocsin_incidents::split(&mut x, &[id(2)], id(60_000), "ben", t0() + Span::minutes(6))
                .unwrap();
        s.upsert_incidents(&[x.clone(), z.clone()]).await.unwrap();
        assert_eq!(of(1).await, Some(x.id));
        assert_eq!(of(2).await, Some(z.id));
        let stored = s.get_incident("acme", z.id).await.unwrap().unwrap();
        assert_eq!(stored.revision, 1);
        assert_eq!(stored.alerts, z.alerts);
        assert_eq!(stored.timeline, z.timeline);
    }

    pub async fn incident_filters_and_paging(h: Arc<Harness>) {
        let s = &h.store;
        let mut all = Vec::new();
        for n in 1..=7u128 {
            let mut inc = incident("acme", n, i64::try_from(n).unwrap() * 60);
            if n % 2 == 0 {
                inc.acknowledge("ana", None, t0() + Span::hours(1)).unwrap();
                inc.assign(Some("soc"), Some("p-ana"), "lead", t0() + Span::hours(1))
                    .unwrap();
            }
            all.push(inc);
        }
        s.upsert_incidents(&all).await.unwrap();
        let newest: Vec<Ulid> = all.iter().rev().map(|i| i.id).collect();

        let mut q = IncidentQuery::new("acme");
        q.limit = 3;
        let mut seen = Vec::new();
        loop {
            let page = s.query_incidents(&q).await.unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(|i| i.id));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, newest);

        let mut q = IncidentQuery::new("acme");
        q.state = Some(IncidentState::Acknowledged);
        let acked = s.query_incidents(&q).await.unwrap();
        let expect: Vec<Ulid> = all
            .iter()
            .rev()
            .filter(|i| i.state == IncidentState::Acknowledged)
            .map(|i| i.id)
            .collect();
        assert_eq!(ids(&acked.items, |i| i.id), expect);
        assert_eq!(expect.len(), 3);

        let mut q = IncidentQuery::new("acme");
        q.team = Some("soc".into());
        q.person = Some("p-ana".into());
        assert_eq!(s.query_incidents(&q).await.unwrap().items.len(), 3);
        q.person = Some("p-ben".into());
        assert!(s.query_incidents(&q).await.unwrap().items.is_empty());

        let mut q = IncidentQuery::new("acme");
        q.from = Some(all[2].opened);
        q.to = Some(all[5].opened);
        let window = s.query_incidents(&q).await.unwrap();
        assert_eq!(
            ids(&window.items, |i| i.id),
            vec![all[4].id, all[3].id, all[2].id]
        );

        let mut q = IncidentQuery::new("acme");
        q.severity_min = Some(5);
        assert!(s.query_incidents(&q).await.unwrap().items.is_empty());

        let mut q = IncidentQuery::new("acme");
        q.cursor = Some("zz".into());
        assert!(matches!(
            s.query_incidents(&q).await,
            Err(StoreError::BadCursor)
        ));
        let alerts_cursor = {
            for n in 1..=2 {
                s.upsert_alert(&alert("acme", n, 0)).await.unwrap();
            }
            let mut aq = AlertQuery::new("acme");
            aq.limit = 1;
            s.query_alerts(&aq).await.unwrap().next_cursor.unwrap()
        };
        q.cursor = Some(alerts_cursor);
        assert!(matches!(
            s.query_incidents(&q).await,
            Err(StoreError::BadCursor)
        ));
    }

    pub async fn incidents_are_isolated_by_tenant(h: Arc<Harness>) {
        let s = &h.store;
        let mut mine = incident("acme", 1, 0);
        s.upsert_incidents(std::slice::from_ref(&mine))
            .await
            .unwrap();
        mine.revision = 1;
        s.upsert_incidents(&[incident("globex", 2, 0)])
            .await
            .unwrap();
        assert_eq!(s.get_incident("globex", mine.id).await.unwrap(), None);
        let page = s
            .query_incidents(&IncidentQuery::new("globex"))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].tenant, "globex");
        // A batch that would take over another tenant's id writes nothing at all.
        let fresh = incident("globex", 3, 0);
        let mut hijack = mine.clone();
        hijack.tenant = "globex".into();
        let err = s
            .upsert_incidents(&[fresh.clone(), hijack])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(s.get_incident("globex", fresh.id).await.unwrap(), None);
        assert_eq!(s.get_incident("acme", mine.id).await.unwrap(), Some(mine));
    }

    pub async fn tokens_insert_find_list_and_revoke(h: Arc<Harness>) {
        let s = &h.store;
        let a = token("tok-a", "acme", 1);
        let b = token("tok-b", "acme", 2);
        let c = token("tok-c", "globex", 3);
        for t in [&a, &b, &c] {
            s.insert_token(t).await.unwrap();
        }
        assert_eq!(s.find_token(&a.token_hash).await.unwrap(), Some(a.clone()));
        assert_eq!(s.find_token(&c.token_hash).await.unwrap(), Some(c.clone()));
        assert_eq!(s.find_token(&"ff".repeat(32)).await.unwrap(), None);
        assert_eq!(
            s.list_tokens("acme").await.unwrap(),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(s.list_tokens("globex").await.unwrap(), vec![c.clone()]);
        // Revocation is confined to the tenant.
        assert!(!s.delete_token("globex", "tok-a").await.unwrap());
        assert!(s.delete_token("acme", "tok-a").await.unwrap());
        assert!(!s.delete_token("acme", "tok-a").await.unwrap());
        assert_eq!(s.find_token(&a.token_hash).await.unwrap(), None);
        assert_eq!(s.list_tokens("acme").await.unwrap(), vec![b]);
    }

    pub async fn token_hash_and_id_are_unique(h: Arc<Harness>) {
        let s = &h.store;
        let a = token("tok-a", "acme", 1);
        s.insert_token(&a).await.unwrap();
        let same_hash = token("tok-other", "globex", 1);
        let err = s.insert_token(&same_hash).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        let same_id = token("tok-a", "acme", 9);
        let err = s.insert_token(&same_id).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(s.find_token(&a.token_hash).await.unwrap(), Some(a.clone()));
        assert_eq!(s.find_token(&same_id.token_hash).await.unwrap(), None);
        assert_eq!(s.list_tokens("acme").await.unwrap(), vec![a]);
    }

    pub async fn users_upsert_find_list_and_delete(h: Arc<Harness>) {
        let s = &h.store;
        let ann = user("ann", "acme", "lead");
        let bob = user("bob", "acme", "viewer");
        let cy = user("cy", "globex", "admin");
        for u in [&bob, &ann, &cy] {
            s.upsert_user(u).await.unwrap();
        }
        assert_eq!(s.find_user("ann").await.unwrap(), Some(ann.clone()));
        assert_eq!(s.find_user("nobody").await.unwrap(), None);
        assert_eq!(
            s.list_users("acme").await.unwrap(),
            vec![ann.clone(), bob.clone()]
        );
        // Upserting again changes the password and role, not the creation time.
        let mut changed = ann.clone();
        changed.password_hash = "$argon2id$v=19$changed".into();
        changed.role = "admin".into();
        changed.created = t0() + Span::days(3);
        s.upsert_user(&changed).await.unwrap();
        let got = s.find_user("ann").await.unwrap().unwrap();
        assert_eq!(got.password_hash, changed.password_hash);
        assert_eq!(got.role, "admin");
        assert_eq!(got.created, ann.created);
        // A user is deleted only within its tenant.
        assert!(!s.delete_user("globex", "ann").await.unwrap());
        assert!(s.delete_user("acme", "ann").await.unwrap());
        assert_eq!(s.find_user("ann").await.unwrap(), None);
        assert_eq!(s.list_users("globex").await.unwrap(), vec![cy]);
    }

    pub async fn sessions_expire_and_end_with_their_user(h: Arc<Harness>) {
        let s = &h.store;
        s.upsert_user(&user("ann", "acme", "lead")).await.unwrap();
        let live = session("aa", "ann", t0() + Span::hours(8));
        let old = session("bb", "ann", t0() + Span::minutes(5));
        s.insert_session(&live).await.unwrap();
        s.insert_session(&old).await.unwrap();
        let err = s.insert_session(&live).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        // A session for an unknown user is refused.
        assert!(
            s.insert_session(&session("cc", "nobody", t0() + Span::hours(1)))
                .await
                .is_err()
        );

        let now = t0() + Span::hours(1);
        assert_eq!(
            s.find_session(&live.id_hash, now).await.unwrap(),
            Some(live.clone())
        );
        assert_eq!(s.find_session(&old.id_hash, now).await.unwrap(), None);
        assert_eq!(s.purge_sessions(now).await.unwrap(), 1);
        assert_eq!(s.find_session(&old.id_hash, t0()).await.unwrap(), None);

        assert!(s.delete_session(&live.id_hash).await.unwrap());
        assert!(!s.delete_session(&live.id_hash).await.unwrap());
        assert_eq!(s.find_session(&live.id_hash, now).await.unwrap(), None);

        // Deleting the user ends every session of theirs.
        let again = session("dd", "ann", t0() + Span::hours(8));
        s.insert_session(&again).await.unwrap();
        assert!(s.delete_user("acme", "ann").await.unwrap());
        assert_eq!(s.find_session(&again.id_hash, now).await.unwrap(), None);
    }

    pub async fn nul_characters_are_stored_as_replacement(h: Arc<Harness>) {
        let s = &h.store;
        let mut e = event("acme", 1, 0);
        e.message = Some("door\0ajar".into());
        e.person = Some("j\0doe".into());
        e.fields
            .insert("raw\0key".into(), json!(["a\0b", {"c": "\0"}]));
        assert_eq!(s.insert_events(&[e.clone()]).await.unwrap(), 1);
        let got = s.get_event("acme", e.id).await.unwrap().unwrap();
        assert_eq!(got.message.as_deref(), Some("door\u{FFFD}ajar"));
        assert_eq!(
            got.fields.get("raw\u{FFFD}key"),
            Some(&json!(["a\u{FFFD}b", {"c": "\u{FFFD}"}]))
        );
        // Filters written with the NUL find what was stored.
        let mut q = EventQuery::new("acme");
        q.person = Some("j\0doe".into());
        q.text = Some("DOOR\0AJAR".into());
        assert_eq!(event_ids(s.as_ref(), &q).await, vec![e.id]);

        let mut d = dead_letter("acme", 2, 0, "http", b"\0raw\0");
        d.reason = "field `message`: contains \0".into();
        s.insert_dead_letter(&d).await.unwrap();
        let got = s
            .list_dead_letters(&DeadLetterQuery::new("acme"))
            .await
            .unwrap();
        assert_eq!(got.items.len(), 1);
        assert_eq!(got.items[0].raw, b"\0raw\0");
        assert_eq!(got.items[0].reason, "field `message`: contains \u{FFFD}");

        let mut a = alert("acme", 3, 0);
        a.title = "bad\0title".into();
        s.upsert_alert(&a).await.unwrap();
        let got = s.get_alert("acme", a.id).await.unwrap().unwrap();
        assert_eq!(got.title, "bad\u{FFFD}title");
    }

    pub async fn concurrent_writers_lose_nothing(h: Arc<Harness>) {
        let mut tasks = Vec::new();
        for w in 0..8u128 {
            let s = h.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut inserted = 0;
                for n in 0..25u128 {
                    let e = event("acme", w * 100 + n, i64::try_from(n).unwrap());
                    inserted += s.insert_events(&[e]).await.unwrap();
                    s.insert_dead_letter(&dead_letter("acme", w * 100 + n, 0, "http", b"x"))
                        .await
                        .unwrap();
                }
                inserted
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, 200);
        let got = event_ids(h.store.as_ref(), &EventQuery::new("acme")).await;
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 200);
        let mut q = DeadLetterQuery::new("acme");
        q.limit = 1000;
        assert_eq!(
            h.store.list_dead_letters(&q).await.unwrap().items.len(),
            200
        );
    }

    pub async fn reopening_runs_no_migration_twice(h: Arc<Harness>) {
        let s = &h.store;
        let e = event("acme", 1, 0);
        s.insert_events(std::slice::from_ref(&e)).await.unwrap();
        s.ping().await.unwrap();
        let again = h.reopen().await;
        assert_eq!(again.backend(), s.backend());
        again.ping().await.unwrap();
        assert_eq!(again.get_event("acme", e.id).await.unwrap(), Some(e));
        let third = h.reopen().await;
        third.ping().await.unwrap();
        again.close().await;
        third.close().await;
        assert!(["sqlite", "postgres"].contains(&s.backend()));
    }

    pub async fn closed_store_is_unavailable(h: Arc<Harness>) {
        let s = &h.store;
        s.ping().await.unwrap();
        s.close().await;
        let err = s.ping().await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
        let err = s.insert_events(&[event("acme", 1, 0)]).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    }
}

/// Regression: opening futures once held a sqlx future whose `Send` could not be proven, so a
/// caller could not open a store inside `tokio::spawn`.
#[test]
fn opening_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let dir = std::path::PathBuf::from("unused");
    assert_send(&open_sqlite(&dir));
    assert_send(&open_postgres(DEFAULT_POSTGRES_URL));
    assert_send(&tocsin_store::open(&tocsin_store::StorageConfig::default()));
}

#[tokio::test]
async fn open_in_puts_sqlite_in_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let store = tocsin_store::open_in(&tocsin_store::StorageConfig::default(), &data)
        .await
        .unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.ping().await.unwrap();
    assert!(data.join(tocsin_store::SQLITE_FILE_NAME).is_file());
    store.close().await;
}

#[tokio::test]
async fn unusable_postgres_settings_are_named() {
    let err = open_postgres("not a url").await.unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err}");
    let err = tocsin_store::open_postgres_with(DEFAULT_POSTGRES_URL, Some(0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}

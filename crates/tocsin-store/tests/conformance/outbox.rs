//! Conformance cases of the notification outbox and silences.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use tocsin_store::{
    Delivered, Delivery, DeliveryQuery, DeliveryResult, DeliveryStatus, StoredSilence,
};

use super::*;

fn delivery(tenant: &str, alert: Ulid, n: u32, due: DateTime<Utc>, audience: &str) -> Delivery {
    Delivery {
        id: Ulid::new().to_string(),
        key: format!("{alert}/route/{n}/0/0"),
        tenant: tenant.into(),
        alert_id: alert,
        incident_id: None,
        route: "route".into(),
        plan: "soc".into(),
        step: n,
        repeat: 0,
        audience: audience.into(),
        recipients: vec!["person:p-ana".into()],
        visibility: "internal".into(),
        channels: vec!["soc-webhook".into(), "log".into()],
        channel: None,
        status: DeliveryStatus::Pending,
        reason: None,
        due,
        next_attempt: due,
        attempts: 0,
        last_error: None,
        payload: Some(json!({"title": "Door forced open"})),
        created: t0(),
        sent: None,
        claim: None,
        lease_until: None,
    }
}

fn sent(at: DateTime<Utc>) -> DeliveryResult {
    DeliveryResult::Sent {
        channel: "soc-webhook".into(),
        at,
        payload: json!({"title": "sent"}),
    }
}

async fn statuses(s: &dyn Store, tenant: &str, alert: Ulid) -> Vec<DeliveryStatus> {
    let mut q = DeliveryQuery::new(tenant);
    q.alert = Some(alert);
    let mut out: Vec<(u32, DeliveryStatus)> = s
        .list_deliveries(&q)
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| (d.step, d.status))
        .collect();
    out.sort_by_key(|(step, _)| *step);
    out.into_iter().map(|(_, st)| st).collect()
}

pub async fn outbox_claims_sends_retries_and_gives_up(h: Arc<Harness>) {
    let s = h.store.as_ref();
    let a = alert("acme", 1, 0);
    s.upsert_alert(&a).await.unwrap();
    let now = t0();
    let later = now + Span::minutes(5);
    let rows = vec![
        delivery("acme", a.id, 0, now, "team soc"),
        delivery("acme", a.id, 1, now, "person p-ana"),
        delivery("acme", a.id, 2, later, "team soc"),
    ];
    assert_eq!(s.enqueue_deliveries(&rows).await.unwrap(), 3);
    // Planning again enqueues nothing twice, whatever the new ids.
    let again: Vec<Delivery> = rows
        .iter()
        .map(|d| Delivery {
            id: Ulid::new().to_string(),
            ..d.clone()
        })
        .collect();
    assert_eq!(s.enqueue_deliveries(&again).await.unwrap(), 0);

    let claimed = s
        .claim_deliveries(now, 10, Span::minutes(10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "only the due rows");
    assert!(
        claimed
            .iter()
            .all(|d| d.status == DeliveryStatus::Sending && d.claim.is_some())
    );
    // Claimed rows are not handed out twice while the lease holds.
    assert!(
        s.claim_deliveries(now, 10, Span::minutes(10))
            .await
            .unwrap()
            .is_empty()
    );

    let first = claimed.iter().find(|d| d.step == 0).unwrap();
    let second = claimed.iter().find(|d| d.step == 1).unwrap();
    let at = now + Span::seconds(1);
    assert_eq!(
        s.deliver(first, Box::pin(async move { sent(at) }))
            .await
            .unwrap(),
        Delivered::Done(DeliveryStatus::Sent)
    );
    let stored = s.get_alert("acme", a.id).await.unwrap().unwrap();
    assert_eq!(
        stored.notified,
        Some(at),
        "the first send sets the alert's notified time"
    );
    let retry = now + Span::seconds(30);
    let failed = DeliveryResult::Failed {
        error: "channel soc-webhook: connection refused".into(),
        at,
        retry_at: Some(retry),
    };
    assert_eq!(
        s.deliver(second, Box::pin(async move { failed }))
            .await
            .unwrap(),
        Delivered::Done(DeliveryStatus::Failed)
    );
    // A completed claim cannot be used again.
    assert_eq!(
        s.deliver(first, Box::pin(async move { sent(at) }))
            .await
            .unwrap(),
        Delivered::Skipped
    );
    assert!(
        s.claim_deliveries(now + Span::seconds(29), 10, Span::minutes(10))
            .await
            .unwrap()
            .is_empty()
    );
    let retried = s
        .claim_deliveries(retry, 10, Span::minutes(10))
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    let dead = DeliveryResult::Failed {
        error: "gave up".into(),
        at: retry,
        retry_at: None,
    };
    assert_eq!(
        s.deliver(&retried[0], Box::pin(async move { dead }))
            .await
            .unwrap(),
        Delivered::Done(DeliveryStatus::Dead)
    );
    assert_eq!(
        statuses(s, "acme", a.id).await,
        vec![
            DeliveryStatus::Sent,
            DeliveryStatus::Dead,
            DeliveryStatus::Pending
        ]
    );

    let mut q = DeliveryQuery::new("acme");
    q.status = Some(DeliveryStatus::Dead);
    let page = s.list_deliveries(&q).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].attempts, 2);
    assert_eq!(page.items[0].last_error.as_deref(), Some("gave up"));
    let mut q = DeliveryQuery::new("acme");
    q.status = Some(DeliveryStatus::Sent);
    let page = s.list_deliveries(&q).await.unwrap();
    assert_eq!(page.items[0].channel.as_deref(), Some("soc-webhook"));
    assert_eq!(page.items[0].payload, Some(json!({"title": "sent"})));
    assert_eq!(page.items[0].sent, Some(at));
    let mut q = DeliveryQuery::new("acme");
    q.audience = Some("team soc".into());
    assert_eq!(s.list_deliveries(&q).await.unwrap().items.len(), 2);
    // Paging visits every row once; other tenants see nothing.
    let mut q = DeliveryQuery::new("acme");
    q.limit = 2;
    let p1 = s.list_deliveries(&q).await.unwrap();
    q.cursor = p1.next_cursor.clone();
    let p2 = s.list_deliveries(&q).await.unwrap();
    assert_eq!(p1.items.len() + p2.items.len(), 3);
    assert!(p2.next_cursor.is_none());
    q.cursor = Some("not-a-cursor".into());
    assert!(matches!(
        s.list_deliveries(&q).await,
        Err(StoreError::BadCursor)
    ));
    assert!(
        s.list_deliveries(&DeliveryQuery::new("other"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn acknowledgement_cancels_every_pending_step(h: Arc<Harness>) {
    let s = h.store.as_ref();
    let a = alert("acme", 1, 0);
    let b = alert("acme", 2, 0);
    s.upsert_alert(&a).await.unwrap();
    s.upsert_alert(&b).await.unwrap();
    let now = t0();
    s.enqueue_deliveries(&[
        delivery("acme", a.id, 0, now, "team soc"),
        delivery("acme", a.id, 1, now + Span::minutes(2), "person p-lead"),
        delivery("acme", a.id, 2, now + Span::minutes(4), "person p-ciso"),
        delivery("acme", b.id, 0, now, "team soc"),
    ])
    .await
    .unwrap();
    let claimed = s
        .claim_deliveries(now, 10, Span::minutes(10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    // Another tenant cannot acknowledge it.
    let none = s.acknowledge_alerts("other", &[a.id], now).await.unwrap();
    assert!(none.acknowledged.is_empty());
    assert_eq!(none.cancelled, 0);

    let out = s.acknowledge_alerts("acme", &[a.id], now).await.unwrap();
    assert_eq!(out.acknowledged, vec![a.id]);
    assert_eq!(out.cancelled, 3, "the claimed step and both later steps");
    let stored = s.get_alert("acme", a.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AlertStatus::Acknowledged);
    assert_eq!(stored.acknowledged, Some(now));
    assert_eq!(
        statuses(s, "acme", a.id).await,
        vec![DeliveryStatus::Cancelled; 3]
    );
    // The claim taken before the acknowledgement sends nothing.
    let polled = Arc::new(AtomicBool::new(false));
    let mine = claimed.iter().find(|d| d.alert_id == a.id).unwrap();
    let flag = polled.clone();
    let r = s
        .deliver(
            mine,
            Box::pin(async move {
                flag.store(true, Ordering::SeqCst);
                sent(now)
            }),
        )
        .await
        .unwrap();
    assert_eq!(r, Delivered::Skipped);
    assert!(
        !polled.load(Ordering::SeqCst),
        "a cancelled row must never be sent"
    );
    // Nothing of an acknowledged alert is claimed later, and the other alert is untouched.
    let later = s
        .claim_deliveries(now + Span::hours(1), 10, Span::minutes(10))
        .await
        .unwrap();
    assert!(later.iter().all(|d| d.alert_id != a.id));
    assert_eq!(
        statuses(s, "acme", b.id).await,
        vec![DeliveryStatus::Sending]
    );
    // Acknowledging again changes nothing.
    let twice = s.acknowledge_alerts("acme", &[a.id], now).await.unwrap();
    assert!(twice.acknowledged.is_empty());
    assert_eq!(twice.cancelled, 0);
}

pub async fn acknowledgement_waits_for_a_send_in_flight(h: Arc<Harness>) {
    let s = h.store.clone();
    let a = alert("acme", 1, 0);
    s.upsert_alert(&a).await.unwrap();
    let now = t0();
    s.enqueue_deliveries(&[delivery("acme", a.id, 0, now, "team soc")])
        .await
        .unwrap();
    let claimed = s
        .claim_deliveries(now, 10, Span::minutes(10))
        .await
        .unwrap();
    let row = claimed[0].clone();
    let log = Arc::new(Mutex::new(Vec::<&'static str>::new()));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let sender = {
        let (s, log) = (s.clone(), log.clone());
        tokio::spawn(async move {
            s.deliver(
                &row,
                Box::pin(async move {
                    let _ = started_tx.send(());
                    let _ = release_rx.await;
                    log.lock().unwrap().push("arrived");
                    sent(now)
                }),
            )
            .await
            .unwrap()
        })
    };
    // The send is in flight (the sink holds it); now acknowledge.
    started_rx.await.unwrap();
    let acker = {
        let (s, log) = (s.clone(), log.clone());
        tokio::spawn(async move {
            let out = s.acknowledge_alerts("acme", &[a.id], now).await.unwrap();
            log.lock().unwrap().push("ack committed");
            out
        })
    };
    let _ = release_tx.send(());
    assert_eq!(sender.await.unwrap(), Delivered::Done(DeliveryStatus::Sent));
    let out = acker.await.unwrap();
    assert_eq!(out.acknowledged, vec![a.id]);
    assert_eq!(out.cancelled, 0, "the row was sent, not cancelled");
    assert_eq!(*log.lock().unwrap(), vec!["arrived", "ack committed"]);
    assert_eq!(
        statuses(s.as_ref(), "acme", a.id).await,
        vec![DeliveryStatus::Sent]
    );
}

pub async fn release_makes_sending_rows_due_again(h: Arc<Harness>) {
    let s = h.store.as_ref();
    let a = alert("acme", 1, 0);
    s.upsert_alert(&a).await.unwrap();
    let now = t0();
    s.enqueue_deliveries(&[delivery("acme", a.id, 0, now, "team soc")])
        .await
        .unwrap();
    let first = s
        .claim_deliveries(now, 10, Span::minutes(10))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(s.release_deliveries(now).await.unwrap(), 1);
    let again = s
        .claim_deliveries(now, 10, Span::minutes(10))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id, "the same idempotency key");
    // The old claim is dead: it cannot record anything.
    assert_eq!(
        s.deliver(&first[0], Box::pin(async move { sent(now) }))
            .await
            .unwrap(),
        Delivered::Skipped
    );
    // A lease that runs out lets another worker take the row.
    let later = now + Span::minutes(11);
    let stolen = s
        .claim_deliveries(later, 10, Span::minutes(10))
        .await
        .unwrap();
    assert_eq!(stolen.len(), 1);
    assert_ne!(stolen[0].claim, again[0].claim);
}

pub async fn silences_insert_list_expire_and_delete(h: Arc<Harness>) {
    let s = h.store.as_ref();
    let now = t0();
    let sil = StoredSilence {
        id: "sil-1".into(),
        tenant: "acme".into(),
        matchers: json!({"site": ["hq"]}),
        starts: now,
        ends: now + Span::hours(2),
        created_by: "lead".into(),
        comment: "maintenance".into(),
    };
    s.insert_silence(&sil).await.unwrap();
    assert!(matches!(
        s.insert_silence(&sil).await,
        Err(StoreError::Conflict { .. })
    ));
    let bad = StoredSilence {
        id: "sil-2".into(),
        ends: now,
        ..sil.clone()
    };
    assert!(matches!(
        s.insert_silence(&bad).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        s.list_silences("acme", now).await.unwrap(),
        vec![sil.clone()]
    );
    assert!(
        s.list_silences("acme", now + Span::hours(2))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.list_silences("other", now).await.unwrap().is_empty());
    assert!(!s.delete_silence("other", "sil-1").await.unwrap());
    assert!(s.delete_silence("acme", "sil-1").await.unwrap());
    assert!(s.list_silences("acme", now).await.unwrap().is_empty());
}

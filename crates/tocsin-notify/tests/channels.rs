//! Every channel against a real listener on 127.0.0.1.

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;
use tocsin_model::{Alert, AlertStatus, Domain, FakeClock, Geo, Severity, SystemClock};
use tocsin_notify::{
    ChannelConfig, ChannelGroup, Message, Notifier, REDACTED, Visibility, build_with_env, sign,
};
use ulid::Ulid;

fn alert() -> Alert {
    let t = Utc.with_ymd_and_hms(2026, 3, 2, 8, 15, 0).unwrap();
    let entities = json!({
        "person_name": "Jonas Berg",
        "user": "jberg",
        "badge": "B-1187",
        "host": "srv-pay-01",
        "site": "dc-north",
        "zone": "cage-4"
    });
    Alert {
        id: Ulid::from_parts(1_772_000_000_000, 42),
        tenant: "default".into(),
        detector: "tailgating".into(),
        rule: Some("door-held".into()),
        domain: Domain::Physical,
        severity: Severity::CRITICAL,
        title: "Tailgating into cage-4 behind jberg".into(),
        summary: "Two people entered cage-4 at dc-north on one badge (B-1187, Jonas Berg); srv-pay-01 is in the cage. | pipe = equals\nnew line".into(),
        status: AlertStatus::Open,
        time: t,
        ingested: t,
        detected: t,
        last_seen: t,
        count: 1,
        dedup_key: "B-1187|cage-4".into(),
        evidence: vec![Ulid::from_parts(1_772_000_000_000, 1)],
        entities: entities.as_object().unwrap().clone(),
        geo: Some(Geo { lat: 60.1699, lon: 24.9384, radius_m: None, polygon: None }),
        site_id: Some("dc-north".into()),
        notified: None,
        acknowledged: None,
    }
}

fn env(var: &str) -> Option<String> {
    match var {
        "HOOK_KEY" => Some("s3cret-hmac-key".into()),
        "PD_KEY" => Some("R0UTINGKEY0123456789abcdef012345".into()),
        _ => None,
    }
}

fn channel(toml_text: &str) -> Arc<dyn Notifier> {
    let cfg: ChannelConfig = toml::from_str(toml_text).unwrap();
    build_with_env(&cfg, Arc::new(SystemClock), &env).unwrap()
}

const LEAKS: [&str; 4] = ["Jonas", "jberg", "B-1187", "srv-pay-01"];

#[tokio::test]
async fn webhook_posts_signed_json() {
    let mut sink = support::http_sink().await;
    let ch = channel(&format!(
        "type = \"webhook\"\nname = \"soc-hook\"\nurl = \"{}\"\nsecret_env = \"HOOK_KEY\"\nvisibility = \"full\"",
        sink.url("/hooks/tocsin")
    ));
    ch.notify(&alert(), false).await.unwrap();
    let req = sink.requests.recv().await.unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/tocsin");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.header("x-tocsin-signature").unwrap(),
        sign(b"s3cret-hmac-key", &req.body)
    );
    assert_ne!(
        req.header("x-tocsin-signature").unwrap(),
        sign(b"another-key", &req.body)
    );
    let body = req.json();
    assert_eq!(body["alert_id"], alert().id.to_string());
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["entities"]["user"], "jberg");
}

#[tokio::test]
async fn webhook_redacts_for_a_partner() {
    let mut sink = support::http_sink().await;
    let ch = channel(&format!(
        "type = \"webhook\"\nname = \"guards\"\nurl = \"{}\"\nvisibility = \"partner\"",
        sink.url("/")
    ));
    ch.notify(&alert(), false).await.unwrap();
    let req = sink.requests.recv().await.unwrap();
    assert!(req.header("x-tocsin-signature").is_none());
    let text = String::from_utf8(req.body.clone()).unwrap();
    for leak in LEAKS {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    assert_eq!(req.json()["entities"]["badge"], REDACTED);
    assert!(text.contains("cage-4"));
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused() {
    let mut target = support::http_sink().await;
    let mut redirector = support::http_sink_answering(
        "307 Temporary Redirect",
        vec![("Location".into(), target.url("/stolen"))],
        "",
    )
    .await;
    let ch = channel(&format!(
        "type = \"webhook\"\nname = \"hook\"\nurl = \"{}\"",
        redirector.url("/")
    ));
    let err = ch.notify(&alert(), false).await.unwrap_err().to_string();
    assert!(err.contains("refused redirect"), "{err}");
    assert!(redirector.requests.recv().await.is_some());
    assert!(target.requests.try_recv().is_err());
}

#[tokio::test]
async fn a_redirect_to_an_allowed_host_is_followed() {
    let mut target = support::http_sink().await;
    let redirector = support::http_sink_answering(
        "307 Temporary Redirect",
        vec![("Location".into(), target.url("/moved"))],
        "",
    )
    .await;
    let ch = channel(&format!(
        "type = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\nallow_hosts = [\"{}\"]",
        redirector.url("/"),
        target.url("/")
    ));
    ch.notify(&alert(), false).await.unwrap();
    assert_eq!(target.requests.recv().await.unwrap().path, "/moved");
}

#[tokio::test]
async fn an_error_status_fails_the_delivery() {
    let sink = support::http_sink_answering("500 Internal Server Error", vec![], "boom").await;
    let ch = channel(&format!(
        "type = \"webhook\"\nname = \"hook\"\nurl = \"{}\"",
        sink.url("/")
    ));
    let err = ch.notify(&alert(), false).await.unwrap_err().to_string();
    assert!(err.contains("500"), "{err}");
}

#[tokio::test]
async fn chat_formats() {
    for kind in ["slack", "mattermost", "teams"] {
        let mut sink = support::http_sink().await;
        let ch = channel(&format!(
            "type = \"{kind}\"\nname = \"chat\"\nurl = \"{}\"\nvisibility = \"partner\"",
            sink.url("/hooks/abc")
        ));
        ch.notify(&alert(), false).await.unwrap();
        let body = sink.requests.recv().await.unwrap().json();
        let text = body.to_string();
        for leak in LEAKS {
            assert!(!text.contains(leak), "{kind}: {leak} in {text}");
        }
        if kind == "teams" {
            assert_eq!(body["@type"], "MessageCard");
            assert!(
                body["title"]
                    .as_str()
                    .unwrap()
                    .starts_with("CRITICAL: Tailgating")
            );
            assert_eq!(body["sections"][0]["facts"][0]["value"], "critical");
        } else {
            assert!(
                body["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("CRITICAL: Tailgating")
            );
            assert_eq!(body["attachments"][0]["color"], "#B71C1C");
            assert_eq!(body.get("username").is_some(), kind == "mattermost");
        }
    }
}

#[tokio::test]
async fn pagerduty_events_v2() {
    let mut sink =
        support::http_sink_answering("202 Accepted", vec![], "{\"status\":\"success\"}").await;
    let ch = channel(&format!(
        "type = \"pagerduty\"\nname = \"pd\"\nurl = \"{}\"\nrouting_key_env = \"PD_KEY\"",
        sink.url("/v2/enqueue")
    ));
    let mut a = alert();
    ch.notify(&a, false).await.unwrap();
    let body = sink.requests.recv().await.unwrap().json();
    assert_eq!(body["routing_key"], "R0UTINGKEY0123456789abcdef012345");
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["dedup_key"], format!("tocsin-{}", a.id));
    assert_eq!(body["payload"]["severity"], "critical");
    assert_eq!(body["payload"]["source"], "tocsin");
    assert_eq!(body["payload"]["timestamp"], "2026-03-02T08:15:00+00:00");
    assert_eq!(body["payload"]["custom_details"]["count"], 1);

    a.status = AlertStatus::Closed;
    ch.notify(&a, false).await.unwrap();
    let body = sink.requests.recv().await.unwrap().json();
    assert_eq!(body["event_action"], "resolve");
    assert_eq!(body["dedup_key"], format!("tocsin-{}", a.id));
    assert!(body.get("payload").is_none());
}

#[tokio::test]
async fn a_missing_secret_is_a_build_error_naming_the_field() {
    let cfg: ChannelConfig = toml::from_str(
        "type = \"pagerduty\"\nname = \"pd\"\nrouting_key_env = \"NOT_SET_ANYWHERE\"",
    )
    .unwrap();
    let err = build_with_env(&cfg, Arc::new(SystemClock), &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("routing_key_env") && err.contains("NOT_SET_ANYWHERE"),
        "{err}"
    );
    let dbg = format!(
        "{:?}",
        build_with_env(
            &toml::from_str::<ChannelConfig>(
                "type = \"pagerduty\"\nname = \"pd\"\nrouting_key_env = \"PD_KEY\""
            )
            .unwrap(),
            Arc::new(SystemClock),
            &env
        )
        .unwrap()
    );
    assert!(!dbg.contains("R0UTINGKEY"), "{dbg}");
}

#[tokio::test]
async fn email_over_smtp() {
    let mut sink = support::smtp_sink().await;
    let ch = channel(&format!(
        "type = \"email\"\nname = \"mail\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Tocsin <tocsin@example.org>\"\nto = [\"soc@example.org\", \"guards@example.org\"]\nvisibility = \"partner\"",
        sink.addr.port()
    ));
    ch.notify(&alert(), false).await.unwrap();
    let mail = sink.mails.recv().await.unwrap();
    assert_eq!(mail.from, "<tocsin@example.org>");
    assert_eq!(mail.to, vec!["<soc@example.org>", "<guards@example.org>"]);
    assert!(
        mail.data
            .contains("Subject: [Tocsin] CRITICAL: Tailgating into cage-4"),
        "{}",
        mail.data
    );
    assert!(
        mail.data
            .contains("To: soc@example.org, guards@example.org"),
        "{}",
        mail.data
    );
    let unfolded = mail.data.replace("=\r\n", "");
    assert!(
        unfolded.contains("Two people entered cage-4"),
        "{}",
        mail.data
    );
    for leak in LEAKS {
        assert!(!mail.data.contains(leak), "{leak} in {}", mail.data);
    }
}

#[tokio::test]
async fn email_to_a_closed_port_fails() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ch = channel(&format!(
        "type = \"email\"\nname = \"mail\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"tocsin@example.org\"\nto = [\"soc@example.org\"]"
    ));
    assert!(ch.notify(&alert(), false).await.is_err());
}

fn check_syslog_line(line: &str) {
    // local4 (20) * 8 + critical (2)
    assert!(
        line.starts_with(
            "<162>1 2026-03-02T08:15:00.000Z siem-fwd tocsin - alert - CEF:0|Tocsin|Tocsin|"
        ),
        "{line}"
    );
    let cef = line.split_once(" - alert - ").unwrap().1;
    assert!(
        cef.contains("|tailgating/door-held|Tailgating into cage-4 behind jberg|9|"),
        "{cef}"
    );
    assert!(cef.contains("msg=Two people entered"), "{cef}");
    assert!(cef.contains(". | pipe \\= equals\\nnew line "), "{cef}");
    assert!(cef.contains("suser=jberg"), "{cef}");
    assert!(cef.contains("shost=srv-pay-01"), "{cef}");
    assert!(!line.contains('\n'));
}

#[tokio::test]
async fn syslog_cef_over_udp() {
    let (addr, mut rx) = support::udp_catcher().await;
    let ch = channel(&format!(
        "type = \"syslog\"\nname = \"siem\"\ntransport = \"udp\"\naddress = \"{addr}\"\nhostname = \"siem-fwd\"\nvisibility = \"full\""
    ));
    ch.notify(&alert(), false).await.unwrap();
    check_syslog_line(&rx.recv().await.unwrap());
}

#[tokio::test]
async fn syslog_cef_over_tcp() {
    let (addr, mut rx) = support::tcp_catcher().await;
    let ch = channel(&format!(
        "type = \"syslog\"\nname = \"siem\"\ntransport = \"tcp\"\naddress = \"{addr}\"\nhostname = \"siem-fwd\"\nvisibility = \"full\""
    ));
    ch.notify(&alert(), false).await.unwrap();
    ch.notify(&alert(), true).await.unwrap();
    check_syslog_line(&rx.recv().await.unwrap());
    assert!(
        rx.recv()
            .await
            .unwrap()
            .contains(" - alert-repeat - CEF:0|")
    );
}

#[tokio::test]
async fn cap_actual_and_exercise() {
    let mut sink = support::http_sink().await;
    let ch = channel(&format!(
        "type = \"cap\"\nname = \"cap\"\nurl = \"{}\"\nsender = \"security@example.org\"\nvisibility = \"public\"",
        sink.url("/cap")
    ));
    ch.notify(&alert(), false).await.unwrap();
    let req = sink.requests.recv().await.unwrap();
    assert_eq!(req.header("content-type"), Some("application/cap+xml"));
    let xml = String::from_utf8(req.body).unwrap();
    assert!(xml.contains("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"));
    assert!(xml.contains("<status>Actual</status>"));
    assert!(xml.contains("<msgType>Alert</msgType>"));
    assert!(xml.contains("<scope>Public</scope>"));
    assert!(xml.contains("<sent>2026-03-02T08:15:00+00:00</sent>"));
    assert!(xml.contains("<severity>Extreme</severity>"));
    assert!(xml.contains("<circle>60.2,24.9 10</circle>"), "{xml}");
    for leak in LEAKS.iter().chain(&["dc-north", "cage-4"]) {
        assert!(!xml.contains(leak), "{leak} in {xml}");
    }

    let mut drill = alert();
    drill.entities.insert("exercise".into(), json!(true));
    ch.notify(&drill, true).await.unwrap();
    let xml = String::from_utf8(sink.requests.recv().await.unwrap().body).unwrap();
    assert!(xml.contains("<status>Exercise</status>"));
    assert!(xml.contains("<msgType>Update</msgType>"));
}

#[tokio::test]
async fn group_fails_over_to_the_next_channel() {
    let down = support::http_sink_answering("503 Service Unavailable", vec![], "").await;
    let mut up = support::http_sink().await;
    let first = channel(&format!(
        "type = \"webhook\"\nname = \"primary\"\nurl = \"{}\"",
        down.url("/")
    ));
    let second = channel(&format!(
        "type = \"slack\"\nname = \"backup\"\nurl = \"{}\"",
        up.url("/")
    ));
    let group = ChannelGroup::new("soc", vec![first, second]);
    let m = Message::from_alert(&alert(), Visibility::Internal, false);
    assert_eq!(group.send_report(&m).await.unwrap(), "backup");
    assert!(up.requests.recv().await.unwrap().json()["text"].is_string());
}

#[tokio::test]
async fn group_reports_every_failure() {
    let a = support::http_sink_answering("500 Internal Server Error", vec![], "").await;
    let b = support::http_sink_answering("404 Not Found", vec![], "").await;
    let group = ChannelGroup::new(
        "soc",
        vec![
            channel(&format!(
                "type = \"webhook\"\nname = \"a\"\nurl = \"{}\"",
                a.url("/")
            )),
            channel(&format!(
                "type = \"webhook\"\nname = \"b\"\nurl = \"{}\"",
                b.url("/")
            )),
        ],
    );
    let err = group.notify(&alert(), false).await.unwrap_err().to_string();
    assert!(err.contains("500") && err.contains("404"), "{err}");
}

#[tokio::test]
async fn rate_limit_moves_to_the_next_channel_until_refilled() {
    let clock = FakeClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap());
    let mut primary = support::http_sink().await;
    let mut backup = support::http_sink().await;
    let cfg: ChannelConfig = toml::from_str(&format!(
        "type = \"webhook\"\nname = \"primary\"\nurl = \"{}\"\nrate_limit = {{ per_minute = 1, burst = 1 }}",
        primary.url("/")
    ))
    .unwrap();
    let limited = build_with_env(&cfg, Arc::new(clock.clone()), &env).unwrap();
    let group = ChannelGroup::new(
        "soc",
        vec![
            limited,
            channel(&format!(
                "type = \"webhook\"\nname = \"backup\"\nurl = \"{}\"",
                backup.url("/")
            )),
        ],
    );
    assert_eq!(
        group.notify_report(&alert(), false).await.unwrap(),
        "primary"
    );
    assert_eq!(group.notify_report(&alert(), true).await.unwrap(), "backup");
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        group.notify_report(&alert(), true).await.unwrap(),
        "primary"
    );
    assert_eq!(
        primary.requests.recv().await.unwrap().json()["repeat"],
        false
    );
    assert_eq!(backup.requests.recv().await.unwrap().json()["repeat"], true);
    assert_eq!(
        primary.requests.recv().await.unwrap().json()["repeat"],
        true
    );
}

#[test]
fn config_rejects_unknown_fields_and_bad_values() {
    let err = toml::from_str::<ChannelConfig>(
        "type = \"webhook\"\nname = \"h\"\nurl = \"http://x\"\nsecret = \"inline\"",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("secret"), "{err}");
    let cfg: ChannelConfig =
        toml::from_str("type = \"webhook\"\nname = \"h\"\nurl = \"ftp://x/\"").unwrap();
    let err = build_with_env(&cfg, Arc::new(SystemClock), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("url") && err.contains("ftp"), "{err}");
    let cfg: ChannelConfig = toml::from_str("type = \"slack\"\nname = \"s\"").unwrap();
    assert!(cfg.validate().unwrap_err().contains("url_env"));
    let cfg: ChannelConfig = toml::from_str(
        "type = \"syslog\"\nname = \"s\"\ntransport = \"udp\"\naddress = \"nohost\"",
    )
    .unwrap();
    let err = build_with_env(&cfg, Arc::new(SystemClock), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("address"), "{err}");
}

#[tokio::test]
async fn nats_publish() {
    use futures_util::StreamExt;

    let sub_client = match async_nats::connect("nats://127.0.0.1:4222").await {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "NATS on 127.0.0.1:4222 is required in CI: {e}"
            );
            println!("skipping: no NATS server on 127.0.0.1:4222: {e}");
            return;
        }
    };
    let subject = format!("tocsin.test.alerts.{}", Ulid::new());
    let mut sub = sub_client.subscribe(subject.clone()).await.unwrap();
    sub_client.flush().await.unwrap();
    let ch = channel(&format!(
        "type = \"nats\"\nname = \"bus\"\nsubject = \"{subject}\"\nvisibility = \"partner\""
    ));
    ch.notify(&alert(), false).await.unwrap();
    let msg = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
        .await
        .expect("no message within 10 s")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(body["alert_id"], alert().id.to_string());
    assert_eq!(body["entities"]["user"], REDACTED);
    let headers = msg.headers.unwrap();
    assert_eq!(
        headers.get("Nats-Msg-Id").unwrap().as_str(),
        format!("{}-1", alert().id)
    );
}

#[test]
fn nats_subject_is_checked() {
    let cfg: ChannelConfig =
        toml::from_str("type = \"nats\"\nname = \"n\"\nsubject = \"alerts.*\"").unwrap();
    assert!(cfg.validate().unwrap_err().starts_with("subject:"));
}

#[tokio::test]
async fn nats_unreachable_server_fails() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ch = channel(&format!(
        "type = \"nats\"\nname = \"n\"\nurl = \"nats://127.0.0.1:{port}\"\nsubject = \"alerts\"\ntimeout_secs = 2"
    ));
    let err = ch.notify(&alert(), false).await.unwrap_err().to_string();
    assert!(err.contains("connecting"), "{err}");
}

#[test]
fn debug_never_shows_secrets() {
    let env = |v: &str| match v {
        "CHAT_URL" => Some("https://hooks.example.org/services/T0/B0/XyZsecretPath".into()),
        "SMTP_PW" => Some("smtp-pass-123".into()),
        other => env(other),
    };
    let configs = [
        "type = \"webhook\"\nname = \"w\"\nurl = \"https://hooks.example.org/in\"\nsecret_env = \"HOOK_KEY\"",
        "type = \"slack\"\nname = \"s\"\nurl_env = \"CHAT_URL\"",
        "type = \"email\"\nname = \"e\"\nhost = \"smtp.example.org\"\nusername = \"tocsin\"\npassword_env = \"SMTP_PW\"\nfrom = \"t@example.org\"\nto = [\"soc@example.org\"]",
        "type = \"pagerduty\"\nname = \"pd\"\nrouting_key_env = \"PD_KEY\"",
    ];
    for text in configs {
        let cfg: ChannelConfig = toml::from_str(text).unwrap();
        let dbg = format!(
            "{:?}",
            build_with_env(&cfg, Arc::new(SystemClock), &env).unwrap()
        );
        for secret in [
            "s3cret-hmac-key",
            "XyZsecretPath",
            "smtp-pass-123",
            "R0UTINGKEY",
        ] {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
    }
}

#[tokio::test]
async fn a_silent_destination_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and holds the connection without ever answering.
    let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            held_tx.send(s).ok();
        }
    });
    let ch = channel(&format!(
        "type = \"webhook\"\nname = \"slow\"\nurl = \"http://{addr}/\"\ntimeout_secs = 1"
    ));
    let err = ch.notify(&alert(), false).await.unwrap_err().to_string();
    assert!(err.contains("request failed"), "{err}");
    assert!(held_rx.recv().await.is_some());
}

#[tokio::test]
async fn a_large_response_is_read_only_up_to_the_limit() {
    let big: &'static str = Box::leak(
        "x".repeat(3 * tocsin_notify::MAX_RESPONSE_BYTES)
            .into_boxed_str(),
    );
    let sink = support::http_sink_answering("200 OK", vec![], big).await;
    let out = tocsin_notify::Outbound::new(
        "hook",
        &sink.url("/"),
        &[],
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let got = out
        .post("application/json", &[], b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(got.len(), tocsin_notify::MAX_RESPONSE_BYTES);
}

#[test]
fn the_example_config_parses_and_checks() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        channels: Vec<ChannelConfig>,
    }
    let text = include_str!("../channels.example.toml");
    let file: File = toml::from_str(text).unwrap();
    tocsin_notify::validate_all(&file.channels).unwrap();
    let kinds: Vec<&str> = file.channels.iter().map(ChannelConfig::kind).collect();
    assert_eq!(
        kinds,
        [
            "log",
            "webhook",
            "slack",
            "mattermost",
            "teams",
            "pagerduty",
            "email",
            "syslog",
            "cap",
            "nats"
        ]
    );
    let env = |v: &str| match v {
        "TOCSIN_SLACK_URL" | "TOCSIN_TEAMS_URL" => Some(format!("https://hooks.example.org/{v}")),
        _ => v.starts_with("TOCSIN_").then(|| format!("value-of-{v}")),
    };
    for c in &file.channels {
        build_with_env(c, Arc::new(SystemClock), &env).unwrap();
    }
}

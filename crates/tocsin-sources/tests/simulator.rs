//! The demo's physical simulator (which lives in the server crate) against the real receivers:
//! it is compiled here too so that its frames, pushes and messages are checked by the sources
//! that will receive them.

#[path = "../../tocsin-server/src/demo/physical.rs"]
mod physical;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use physical::{PhysicalTargets, run_physical_simulator};
use tocsin_model::{Clock, Event, SystemClock};
use tocsin_sources::{BuiltSource, Sink, Source, SourceConfig, build_typed};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const KEY: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";

fn build(text: &str) -> BuiltSource {
    #[derive(serde::Deserialize)]
    struct File {
        sources: Vec<SourceConfig>,
    }
    build_typed(&toml::from_str::<File>(text).unwrap().sources.remove(0)).unwrap()
}

#[tokio::test]
async fn the_simulator_feeds_every_receiver() {
    let mqtt_up = tokio::net::TcpStream::connect("127.0.0.1:1883")
        .await
        .is_ok();
    if !mqtt_up && std::env::var("CI").as_deref() == Ok("true") {
        panic!("Mosquitto is not reachable on 127.0.0.1:1883 and CI=true");
    }
    let BuiltSource::Dc09(dc09) = build(&format!(
        r#"
[[sources]]
type = "dc09"
name = "alarm-receiver"
tcp = "127.0.0.1:0"
udp = "127.0.0.1:0"
accept_unknown_accounts = false
[sources.accounts.1234]
key_hex = "{KEY}"
site = "dc-frankfurt"
"#
    )) else {
        panic!()
    };
    let BuiltSource::Onvif(onvif) = build(
        r#"
[[sources]]
type = "onvif"
name = "onvif-events"
listen = "127.0.0.1:0"
"#,
    ) else {
        panic!()
    };
    let prefix = format!("tocsin-sim-{}", ulid::Ulid::new());
    let BuiltSource::Mqtt(mqtt) = build(&format!(
        r#"
[[sources]]
type = "mqtt"
name = "sensors"
clean_session = true
client_id = "{prefix}"
[[sources.subscriptions]]
topic = "{prefix}/doors/+"
preset = "door_contact"
[[sources.subscriptions]]
topic = "{prefix}/env/+"
preset = "environment"
[[sources.subscriptions]]
topic = "{prefix}/frigate/events"
preset = "frigate"
"#
    )) else {
        panic!()
    };
    let (tx, mut events) = mpsc::channel::<Event>(1024);
    let (dtx, mut dead) = mpsc::channel(1024);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sink = Sink::new(tx, dtx, clock);
    let shutdown = CancellationToken::new();
    dc09.clone()
        .start(sink.clone(), shutdown.clone())
        .await
        .unwrap();
    onvif
        .clone()
        .start(sink.clone(), shutdown.clone())
        .await
        .unwrap();
    if mqtt_up {
        mqtt.clone()
            .start(sink.clone(), shutdown.clone())
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !mqtt.is_connected() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "mqtt never connected"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let targets = PhysicalTargets {
        dc09_tcp: dc09.tcp_addr(),
        dc09_udp: dc09.udp_addr(),
        dc09_key_hex: Some(KEY.to_owned()),
        onvif: onvif.local_addr(),
        mqtt: mqtt_up.then(|| "127.0.0.1:1883".parse().unwrap()),
        mqtt_prefix: prefix.clone(),
        interval: Duration::from_millis(1),
        ..PhysicalTargets::default()
    };
    let sim = tokio::spawn(run_physical_simulator(targets, 42, shutdown.clone()));

    let mut want: HashSet<(&str, &str)> = [
        ("alarm-receiver", "disarmed"),
        ("alarm-receiver", "burglary"),
        ("alarm-receiver", "burglary_restore"),
        ("alarm-receiver", "forced"),
        ("onvif-events", "granted"),
        ("onvif-events", "taken"),
        ("onvif-events", "denied"),
        ("onvif-events", "forced"),
    ]
    .into_iter()
    .collect();
    if mqtt_up {
        want.insert(("sensors", "door_opened"));
        want.insert(("sensors", "object_detected"));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !want.is_empty() {
        let e = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("never saw {want:?}"))
            .unwrap();
        let key = (e.source.as_str(), e.activity.as_deref().unwrap_or(""));
        want.retain(|w| *w != key);
    }
    shutdown.cancel();
    sim.await.unwrap();
    assert!(
        dead.try_recv().is_err(),
        "the simulator sent something refused"
    );
    // Both transports were used, every frame understood, encrypted with the account's key.
    let c = dc09.counters().snapshot();
    assert_eq!(c.rejected, 0);
    assert!(dc09.polls() > 0);
}

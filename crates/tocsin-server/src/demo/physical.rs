//! The demo organisation's physical stream, sent over the real protocols: SIA DC-09 frames to
//! the alarm receiver (TCP and UDP), ONVIF Notify pushes to the ONVIF endpoint, and, when a
//! broker is given, MQTT sensor and Frigate messages. Everything it sends goes through the same
//! parsers and sources as a real site's traffic.
//!
//! Deterministic for a seed (no wall-clock randomness); it never fails: a receiver that is not
//! there is logged at debug level and tried again on the next round.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tocsin_parsers::dc09::{self, AesKey, FrameSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

/// Where the simulator sends. Any target left `None` is skipped.
#[derive(Debug, Clone)]
pub struct PhysicalTargets {
    /// The DC-09 receiver's TCP address.
    pub dc09_tcp: Option<SocketAddr>,
    /// The DC-09 receiver's UDP address.
    pub dc09_udp: Option<SocketAddr>,
    /// The panel account the frames come from (configure it on the receiver).
    pub dc09_account: String,
    /// AES key (hex) of that account, to send encrypted frames; `None` sends them in clear.
    pub dc09_key_hex: Option<String>,
    /// The ONVIF endpoint's address.
    pub onvif: Option<SocketAddr>,
    /// The ONVIF endpoint's path.
    pub onvif_path: String,
    /// An MQTT broker; only then are MQTT messages published.
    pub mqtt: Option<SocketAddr>,
    /// Topic prefix of the MQTT messages: `<prefix>/doors/<portal>`, `<prefix>/env/<sensor>`,
    /// `<prefix>/frigate/events`.
    pub mqtt_prefix: String,
    /// Time between two rounds.
    pub interval: Duration,
}

impl Default for PhysicalTargets {
    fn default() -> Self {
        Self {
            dc09_tcp: None,
            dc09_udp: None,
            dc09_account: "1234".to_owned(),
            dc09_key_hex: None,
            onvif: None,
            onvif_path: "/onvif/events".to_owned(),
            mqtt: None,
            mqtt_prefix: "tocsin-demo".to_owned(),
            interval: Duration::from_secs(2),
        }
    }
}

/// Badges of the demo people and the doors they use (see `demo/org`).
const BADGES: &[&str] = &["0x3F21A9", "0x3F21B2", "0x3F21C7", "0x3F21D0", "0x3F21E4"];
const PORTALS: &[&str] = &[
    "DC-MANTRAP",
    "DC-SRV-ROOM-A",
    "DC-SRV-ROOM-B",
    "HQ-LOBBY-1",
    "HQ-SECURE",
    "LON-MAIN",
    "LON-COMMS",
];
const CAMERAS: &[&str] = &["cam-hq-01", "cam-fra-01", "cam-fra-02"];
const STEPS: u64 = 12;

/// Deterministic pseudo-random numbers (xorshift64*), enough to vary the demo.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let n = from.len().max(1) as u64;
        let i = usize::try_from(self.next() % n).unwrap_or(0);
        from.get(i).copied().unwrap_or("")
    }
}

/// Sends the physical stream until `shutdown` is cancelled.
pub async fn run_physical_simulator(
    targets: PhysicalTargets,
    seed: u64,
    shutdown: CancellationToken,
) {
    let mut sim = Simulator {
        key: targets
            .dc09_key_hex
            .as_deref()
            .and_then(|k| AesKey::from_hex(k).ok()),
        rng: Rng(seed | 1),
        sequence: 0,
        tcp: None,
        udp: None,
        mqtt: None,
        targets,
    };
    let mut round: u64 = 0;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(sim.targets.interval) => {}
        }
        sim.round(round, chrono::Utc::now()).await;
        round = round.wrapping_add(1);
    }
}

struct Simulator {
    targets: PhysicalTargets,
    key: Option<AesKey>,
    rng: Rng,
    sequence: u16,
    tcp: Option<TcpStream>,
    udp: Option<UdpSocket>,
    mqtt: Option<TcpStream>,
}

impl Simulator {
    async fn round(&mut self, round: u64, now: DateTime<Utc>) {
        let badge = self.rng.pick(BADGES);
        let portal = self.rng.pick(PORTALS);
        match round % STEPS {
            0 | 6 => self.dc09("NULL", "", now).await,
            1 => {
                self.onvif(&[
                    access("AccessGranted/Credential", portal, badge, now),
                    access("AccessTaken/Credential", portal, badge, now),
                ])
                .await;
            }
            2 => {
                let data = format!(
                    "#{}|Nri1/OP{:03}",
                    self.targets.dc09_account,
                    self.rng.next() % 20
                );
                self.dc09("SIA-DCS", &data, now).await;
            }
            3 => self.mqtt_door(portal, round).await,
            4 => {
                let reason = "CredentialNotFound/Card";
                self.onvif(&[access(&format!("Denied/{reason}"), portal, "0xDEAD01", now)])
                    .await;
            }
            5 => self.mqtt_environment(round).await,
            7 => {
                // A passage with no grant before it: what tailgating looks like.
                self.onvif(&[access("AccessTaken/Credential", portal, "", now)])
                    .await;
            }
            8 => {
                let acct = self.targets.dc09_account.clone();
                self.dc09("ADM-CID", &format!("#{acct}|1130 01 015"), now)
                    .await;
                self.dc09("ADM-CID", &format!("#{acct}|3130 01 015"), now)
                    .await;
            }
            9 => self.mqtt_frigate(round).await,
            10 => {
                self.onvif(&[door_alarm(portal, "DoorForcedOpen", now)])
                    .await;
                let acct = self.targets.dc09_account.clone();
                self.dc09("SIA-DCS", &format!("#{acct}|Nri1/DF03"), now)
                    .await;
            }
            _ => {
                let acct = self.targets.dc09_account.clone();
                self.dc09("SIA-DCS", &format!("#{acct}|Nri1/TA007/TR007"), now)
                    .await;
            }
        }
    }

    /// Sends one DC-09 frame, over TCP and UDP in turn, and reads the answer.
    async fn dc09(&mut self, token: &str, data: &str, now: DateTime<Utc>) {
        self.sequence = self.sequence % 9999 + 1;
        let frame = dc09::encode(
            &FrameSpec {
                token,
                sequence: self.sequence,
                receiver: Some("R1"),
                line: "L1",
                account: &self.targets.dc09_account,
                data,
                timestamp: Some(now),
            },
            self.key.as_ref(),
            self.rng.next(),
        );
        let by_tcp = self.sequence.is_multiple_of(2) || self.targets.dc09_udp.is_none();
        let result = if by_tcp {
            self.dc09_tcp(&frame).await
        } else {
            self.dc09_udp(&frame).await
        };
        if let Err(e) = result {
            tracing::debug!("demo physical: dc09: {e}");
        }
    }

    async fn dc09_tcp(&mut self, frame: &[u8]) -> std::io::Result<()> {
        let Some(addr) = self.targets.dc09_tcp else {
            return Ok(());
        };
        if self.tcp.is_none() {
            self.tcp = Some(TcpStream::connect(addr).await?);
        }
        let Some(stream) = self.tcp.as_mut() else {
            return Ok(());
        };
        let sent = async {
            stream.write_all(frame).await?;
            let mut byte = [0u8; 1];
            // The answer ends at CR; reading it keeps the connection in step.
            for _ in 0..dc09::MAX_FRAME_BYTES {
                stream.read_exact(&mut byte).await?;
                if byte[0] == b'\r' {
                    break;
                }
            }
            std::io::Result::Ok(())
        };
        let r = tokio::time::timeout(Duration::from_secs(5), sent)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
        if r.is_err() {
            self.tcp = None;
        }
        r
    }

    async fn dc09_udp(&mut self, frame: &[u8]) -> std::io::Result<()> {
        let Some(addr) = self.targets.dc09_udp else {
            return Ok(());
        };
        if self.udp.is_none() {
            let bind: SocketAddr = if addr.is_ipv4() {
                SocketAddr::from(([127, 0, 0, 1], 0))
            } else {
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))
            };
            let s = UdpSocket::bind(bind).await?;
            s.connect(addr).await?;
            self.udp = Some(s);
        }
        let Some(socket) = self.udp.as_ref() else {
            return Ok(());
        };
        socket.send(frame).await?;
        let mut buf = [0u8; 512];
        // The answer is not needed, only drained; a lost one is not worth waiting for.
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await;
        Ok(())
    }

    async fn onvif(&mut self, messages: &[String]) {
        let Some(addr) = self.targets.onvif else {
            return;
        };
        let body = notify(messages);
        let path = self.targets.onvif_path.clone();
        let send = async {
            let mut s = TcpStream::connect(addr).await?;
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(body.as_bytes()).await?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await?;
            std::io::Result::Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(5), send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("demo physical: onvif: {e}"),
            Err(_) => tracing::debug!("demo physical: onvif: timed out"),
        }
    }

    async fn mqtt_door(&mut self, portal: &str, round: u64) {
        let open = round % 2 == 1;
        let topic = format!("{}/doors/{portal}", self.targets.mqtt_prefix);
        let body = format!(
            r#"{{"contact": {}, "battery": 91, "linkquality": 120}}"#,
            !open
        );
        self.publish(&topic, &body).await;
    }

    async fn mqtt_environment(&mut self, round: u64) {
        let hot = round % (STEPS * 5) == 5;
        let temp = if hot {
            36.4
        } else {
            21.0 + (self.rng.next() % 30) as f64 / 10.0
        };
        let hum = 35 + self.rng.next() % 15;
        let topic = format!("{}/env/fra-srv-rack-04", self.targets.mqtt_prefix);
        let body = format!(
            r#"{{"temperature": {temp:.1}, "humidity": {hum}, "smoke": false, "water_leak": false}}"#
        );
        self.publish(&topic, &body).await;
    }

    async fn mqtt_frigate(&mut self, round: u64) {
        let camera = self.rng.pick(CAMERAS);
        let id = format!("{round}.{}-demo", self.rng.next() % 100_000);
        let start = chrono::Utc::now().timestamp();
        let topic = format!("{}/frigate/events", self.targets.mqtt_prefix);
        for (kind, zones) in [
            ("new", "[]"),
            ("update", r#"["loading_bay"]"#),
            ("end", r#"["loading_bay"]"#),
        ] {
            let end = if kind == "end" {
                format!("{}", start + 9)
            } else {
                "null".to_owned()
            };
            let body = format!(
                r#"{{"type":"{kind}","before":{{}},"after":{{"id":"{id}","camera":"{camera}","label":"person","top_score":0.84,"start_time":{start},"end_time":{end},"entered_zones":{zones},"current_zones":{zones}}}}}"#
            );
            self.publish(&topic, &body).await;
        }
    }

    /// Publishes at QoS 0 with a minimal MQTT 3.1.1 client (CONNECT, PUBLISH), reconnecting
    /// when the broker went away.
    async fn publish(&mut self, topic: &str, payload: &str) {
        let Some(addr) = self.targets.mqtt else {
            return;
        };
        let r = async {
            if self.mqtt.is_none() {
                let mut s = TcpStream::connect(addr).await?;
                s.write_all(&mqtt_connect("tocsin-demo-simulator")).await?;
                let mut connack = [0u8; 4];
                s.read_exact(&mut connack).await?;
                if connack[0] != 0x20 || connack[3] != 0 {
                    return Err(std::io::Error::other("broker refused the connection"));
                }
                self.mqtt = Some(s);
            }
            match self.mqtt.as_mut() {
                Some(s) => s.write_all(&mqtt_publish(topic, payload.as_bytes())).await,
                None => Ok(()),
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), r).await {
            Ok(Ok(())) => {}
            other => {
                tracing::debug!("demo physical: mqtt: {other:?}");
                self.mqtt = None;
            }
        }
    }
}

fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
}

fn mqtt_string(s: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.get(..usize::from(len)).unwrap_or(s));
}

fn mqtt_connect(client_id: &str) -> Vec<u8> {
    let mut var = Vec::new();
    mqtt_string(b"MQTT", &mut var);
    // Protocol level 4 (3.1.1), clean session, keep-alive 0 (the broker never times us out).
    var.extend_from_slice(&[4, 0x02, 0, 0]);
    mqtt_string(client_id.as_bytes(), &mut var);
    let mut out = vec![0x10];
    remaining_length(var.len(), &mut out);
    out.extend_from_slice(&var);
    out
}

fn mqtt_publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut var = Vec::new();
    mqtt_string(topic.as_bytes(), &mut var);
    var.extend_from_slice(payload);
    let mut out = vec![0x30];
    remaining_length(var.len(), &mut out);
    out.extend_from_slice(&var);
    out
}

fn utc(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn access(topic: &str, portal: &str, badge: &str, now: DateTime<Utc>) -> String {
    let data = if badge.is_empty() {
        String::new()
    } else {
        format!(
            r#"<tt:SimpleItem Name="CredentialToken" Value="{badge}"/><tt:SimpleItem Name="Card" Value="{badge}"/>"#
        )
    };
    message(
        &format!("tns1:AccessControl/{topic}"),
        &format!(r#"<tt:SimpleItem Name="AccessPointToken" Value="{portal}"/>"#),
        &data,
        now,
    )
}

fn door_alarm(portal: &str, state: &str, now: DateTime<Utc>) -> String {
    message(
        "tns1:Door/State/DoorAlarm",
        &format!(r#"<tt:SimpleItem Name="DoorToken" Value="{portal}"/>"#),
        &format!(r#"<tt:SimpleItem Name="State" Value="{state}"/>"#),
        now,
    )
}

fn message(topic: &str, source: &str, data: &str, now: DateTime<Utc>) -> String {
    format!(
        r#"<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic><wsnt:Message><tt:Message UtcTime="{}" PropertyOperation="Changed"><tt:Source>{source}</tt:Source><tt:Data>{data}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#,
        utc(now)
    )
}

fn notify(messages: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><s:Body><wsnt:Notify>{}</wsnt:Notify></s:Body></s:Envelope>"#,
        messages.concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_packets_are_well_formed() {
        let c = mqtt_connect("x");
        assert_eq!(
            c,
            [
                0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 0, 0, 1, b'x'
            ]
        );
        let p = mqtt_publish("a/b", &[b'z'; 200]);
        // 2 + 3 + 200 = 205 bytes follow: two length bytes.
        assert_eq!(&p[..3], &[0x30, 0xCD, 0x01]);
    }

    #[test]
    fn the_rng_is_deterministic() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        assert_eq!(
            (0..5).map(|_| a.next()).collect::<Vec<_>>(),
            (0..5).map(|_| b.next()).collect::<Vec<_>>()
        );
    }
}

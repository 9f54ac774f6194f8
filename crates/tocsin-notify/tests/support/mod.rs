//! Small real listeners on 127.0.0.1:0 that capture what the channels send.
#![allow(dead_code)]

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

/// One captured HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP/1.1 sink answering every request with a fixed status line and headers.
pub struct HttpSink {
    pub addr: SocketAddr,
    pub requests: mpsc::UnboundedReceiver<Request>,
}

impl HttpSink {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub async fn http_sink() -> HttpSink {
    http_sink_answering("200 OK", Vec::new(), "ok").await
}

pub async fn http_sink_answering(
    status: &'static str,
    headers: Vec<(String, String)>,
    answer: &'static str,
) -> HttpSink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let headers = headers.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(stream);
                let mut line = String::new();
                r.read_line(&mut line).await.unwrap();
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().to_string();
                let mut hs = Vec::new();
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).await.unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        hs.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len: usize = hs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                r.read_exact(&mut body).await.unwrap();
                tx.send(Request {
                    method,
                    path,
                    headers: hs,
                    body,
                })
                .ok();
                let mut resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    answer.len()
                );
                for (k, v) in &headers {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                resp.push_str(answer);
                let mut stream = r.into_inner();
                stream.write_all(resp.as_bytes()).await.unwrap();
                stream.shutdown().await.ok();
            });
        }
    });
    HttpSink { addr, requests: rx }
}

/// One message captured by the SMTP sink.
#[derive(Debug, Clone)]
pub struct Mail {
    pub ehlo: String,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A minimal ESMTP server: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP, QUIT.
pub struct SmtpSink {
    pub addr: SocketAddr,
    pub mails: mpsc::UnboundedReceiver<Mail>,
}

pub async fn smtp_sink() -> SmtpSink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                let mut rd = BufReader::new(rd);
                wr.write_all(b"220 sink.test ESMTP ready\r\n").await.ok();
                let mut mail = Mail {
                    ehlo: String::new(),
                    from: String::new(),
                    to: Vec::new(),
                    data: String::new(),
                };
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let upper = cmd.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        mail.ehlo = cmd.get(5..).unwrap_or_default().to_string();
                        b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = cmd.get(10..).unwrap_or_default().to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.to.push(cmd.get(8..).unwrap_or_default().to_string());
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        wr.write_all(b"354 end with .\r\n").await.ok();
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if rd.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            let l = l.strip_prefix('.').unwrap_or(&l);
                            data.push_str(l);
                        }
                        mail.data = data;
                        tx.send(mail.clone()).ok();
                        mail.to.clear();
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        wr.write_all(b"221 bye\r\n").await.ok();
                        return;
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 ok\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    wr.write_all(reply).await.ok();
                }
            });
        }
    });
    SmtpSink { addr, mails: rx }
}

/// A UDP syslog catcher: each datagram is one message.
pub async fn udp_catcher() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, _)) = sock.recv_from(&mut buf).await {
            tx.send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .ok();
        }
    });
    (addr, rx)
}

/// A TCP syslog catcher reading octet-counted frames (RFC 6587).
pub async fn tcp_catcher() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(stream);
                loop {
                    let mut len = Vec::new();
                    if r.read_until(b' ', &mut len).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
                    let mut frame = vec![0; n];
                    r.read_exact(&mut frame).await.unwrap();
                    tx.send(String::from_utf8(frame).unwrap()).ok();
                }
            });
        }
    });
    (addr, rx)
}

//! `tocsin alerts …`, `tocsin incidents …`, `tocsin silences …`: a command-line client of a
//! running server's API, for responders at a terminal and for scripts. Output is JSON (one
//! document, or one item per line with `--lines`), the report is Markdown or HTML.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the server is and how to authenticate.
#[derive(Debug, Args)]
pub struct Conn {
    /// The server's base URL.
    #[arg(
        long,
        env = "TOCSIN_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// An API token (`tocsin token create`).
    #[arg(long, env = "TOCSIN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print listings one item per line (NDJSON) instead of one JSON document.
    #[arg(long, global = true)]
    lines: bool,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List {
        /// open, acknowledged or closed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        detector: Option<String>,
        /// Lowest severity id (0–6).
        #[arg(long)]
        severity_min: Option<u8>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one alert.
    Show { id: String },
    /// Acknowledge an alert, with an optional disposition (true_positive, benign,
    /// false_positive, duplicate, exercise). Pending escalation steps stop.
    Ack {
        id: String,
        #[arg(long)]
        disposition: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: IncidentsCommand,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest opened first.
    List {
        /// new, acknowledged, investigating, contained, resolved or closed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        severity_min: Option<u8>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one incident with its timeline.
    Show { id: String },
    /// Acknowledge an incident and its alerts.
    Ack {
        id: String,
        #[arg(long)]
        disposition: Option<String>,
    },
    /// Move an incident to another state.
    State { id: String, state: String },
    /// Assign an incident to a team and/or a person.
    Assign {
        id: String,
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        person: Option<String>,
    },
    /// Add a note to the shared timeline.
    Note { id: String, text: String },
    /// Merge incident FROM into ID.
    Merge { id: String, from: String },
    /// Move the listed alerts of ID to a new incident.
    Split {
        id: String,
        #[arg(required = true)]
        alerts: Vec<String>,
    },
    /// Tick (or with --undo untick) checklist step INDEX (0-based).
    Check {
        id: String,
        index: usize,
        #[arg(long)]
        undo: bool,
    },
    /// Answer review questions: --exploited, --threat, --impact, --improve.
    Review {
        id: String,
        #[arg(long)]
        exploited: Option<String>,
        #[arg(long)]
        threat: Option<String>,
        #[arg(long)]
        impact: Option<String>,
        #[arg(long)]
        improve: Option<String>,
    },
    /// Print the after-action report.
    Report {
        id: String,
        /// md or html.
        #[arg(long, default_value = "md")]
        format: String,
    },
}

#[derive(Debug, Args)]
pub struct SilencesArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: SilencesCommand,
}

#[derive(Debug, Subcommand)]
pub enum SilencesCommand {
    /// List silences.
    List,
    /// Create a silence from a JSON body (see the API document), e.g.
    /// '{"matchers":{"site":"hq"},"ends":"2026-12-04T08:00:00Z","comment":"maintenance"}'.
    Add { json: String },
    /// Delete a silence.
    Delete { id: String },
}

struct Client {
    http: reqwest::Client,
    conn: Conn,
}

impl Client {
    fn new(conn: Conn) -> Result<Self> {
        if conn.token.is_none() {
            bail!("no API token: pass --token or set TOCSIN_TOKEN (tocsin token create)");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Client { http, conn })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.conn.url.trim_end_matches('/'))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req
            .bearer_auth(self.conn.token.as_deref().unwrap_or_default())
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.conn.url))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let message = body["error"]["message"]
            .as_str()
            .map_or_else(|| status.to_string(), str::to_owned);
        bail!("{status}: {message}")
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        let req = self.http.get(self.url(path)).query(query);
        Ok(self.send(req).await?.json().await?)
    }

    async fn write(&self, method: reqwest::Method, path: &str, body: &Value) -> Result<Value> {
        let req = self.http.request(method, self.url(path)).json(body);
        let resp = self.send(req).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Ok(resp.json().await?)
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.write(reqwest::Method::POST, path, body).await
    }

    fn print(&self, v: &Value) -> Result<()> {
        match v.get("items").and_then(Value::as_array) {
            Some(items) if self.conn.lines => {
                for i in items {
                    println!("{}", serde_json::to_string(i)?);
                }
            }
            _ => println!("{}", serde_json::to_string_pretty(v)?),
        }
        Ok(())
    }
}

fn opt(name: &'static str, v: Option<impl ToString>) -> Option<(&'static str, String)> {
    v.map(|v| (name, v.to_string()))
}

pub async fn alerts(a: AlertsArgs) -> Result<()> {
    let c = Client::new(a.conn)?;
    let out = match a.command {
        AlertsCommand::List {
            status,
            detector,
            severity_min,
            limit,
        } => {
            let q: Vec<_> = [
                opt("status", status),
                opt("detector", detector),
                opt("severity_min", severity_min),
                opt("limit", Some(limit)),
            ]
            .into_iter()
            .flatten()
            .collect();
            c.get("/api/v1/alerts", &q).await?
        }
        AlertsCommand::Show { id } => c.get(&format!("/api/v1/alerts/{id}"), &[]).await?,
        AlertsCommand::Ack { id, disposition } => {
            c.post(
                &format!("/api/v1/alerts/{id}/ack"),
                &json!({ "disposition": disposition }),
            )
            .await?
        }
    };
    c.print(&out)
}

pub async fn incidents(a: IncidentsArgs) -> Result<()> {
    let c = Client::new(a.conn)?;
    let path = |id: &str, tail: &str| format!("/api/v1/incidents/{id}{tail}");
    let out = match a.command {
        IncidentsCommand::List {
            state,
            team,
            person,
            severity_min,
            limit,
        } => {
            let q: Vec<_> = [
                opt("state", state),
                opt("team", team),
                opt("person", person),
                opt("severity_min", severity_min),
                opt("limit", Some(limit)),
            ]
            .into_iter()
            .flatten()
            .collect();
            c.get("/api/v1/incidents", &q).await?
        }
        IncidentsCommand::Show { id } => c.get(&path(&id, ""), &[]).await?,
        IncidentsCommand::Ack { id, disposition } => {
            c.post(&path(&id, "/ack"), &json!({ "disposition": disposition }))
                .await?
        }
        IncidentsCommand::State { id, state } => {
            c.post(&path(&id, "/state"), &json!({ "state": state }))
                .await?
        }
        IncidentsCommand::Assign { id, team, person } => {
            if team.is_none() && person.is_none() {
                bail!("give --team, --person or both");
            }
            c.post(
                &path(&id, "/assign"),
                &json!({ "team": team, "person": person }),
            )
            .await?
        }
        IncidentsCommand::Note { id, text } => {
            c.post(&path(&id, "/notes"), &json!({ "text": text }))
                .await?
        }
        IncidentsCommand::Merge { id, from } => {
            c.post(&path(&id, "/merge"), &json!({ "from": from }))
                .await?
        }
        IncidentsCommand::Split { id, alerts } => {
            c.post(&path(&id, "/split"), &json!({ "alerts": alerts }))
                .await?
        }
        IncidentsCommand::Check { id, index, undo } => {
            c.post(
                &path(&id, &format!("/checklist/{index}")),
                &json!({ "done": !undo }),
            )
            .await?
        }
        IncidentsCommand::Review {
            id,
            exploited,
            threat,
            impact,
            improve,
        } => {
            let answers: serde_json::Map<String, Value> = [
                ("exploited", exploited),
                ("threat", threat),
                ("impact", impact),
                ("improve", improve),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::String(v))))
            .collect();
            if answers.is_empty() {
                bail!("give at least one of --exploited, --threat, --impact, --improve");
            }
            c.write(
                reqwest::Method::PUT,
                &path(&id, "/review"),
                &json!({ "answers": answers }),
            )
            .await?
        }
        IncidentsCommand::Report { id, format } => {
            let req = c
                .http
                .get(c.url(&path(&id, "/report")))
                .query(&[("format", format)]);
            print!("{}", c.send(req).await?.text().await?);
            return Ok(());
        }
    };
    c.print(&out)
}

pub async fn silences(a: SilencesArgs) -> Result<()> {
    let c = Client::new(a.conn)?;
    let out = match a.command {
        SilencesCommand::List => c.get("/api/v1/silences", &[]).await?,
        SilencesCommand::Add { json } => {
            let body: Value =
                serde_json::from_str(&json).context("the silence is not valid JSON")?;
            c.post("/api/v1/silences", &body).await?
        }
        SilencesCommand::Delete { id } => {
            c.write(
                reqwest::Method::DELETE,
                &format!("/api/v1/silences/{id}"),
                &Value::Null,
            )
            .await?
        }
    };
    c.print(&out)
}

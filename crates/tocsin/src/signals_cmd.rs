//! `tocsin signals ...`: public-signal tools — train the event-type model, evaluate detection on
//! labelled crisis posts, parse feed files, geoparse and classify a text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tocsin_public::classify::TrainOptions;
use tocsin_public::crisislex::Dataset;
use tocsin_public::eval::{EvalOptions, evaluate, train_model};
use tocsin_public::feeds::{FeedKind, FeedOptions, parse_feed, sniff};
use tocsin_public::{Classifier, Gazetteer};

#[derive(Debug, Subcommand)]
pub enum SignalsCommand {
    /// Train the event-type and informativeness model from a CrisisLex-style folder.
    Train(TrainArgs),
    /// Replay labelled posts as one stream and report detection figures.
    Eval(EvalArgs),
    /// Parse public feed files (RSS/Atom, CAP, USGS, GDACS, KEV, NVD, social) and print events as NDJSON.
    Parse(ParseArgs),
    /// Geoparse and classify a text.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder laid out like $TOCSIN_REFERENCE_DATA/crisislex (T26/, T6/).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = "crates/tocsin-public/data/classifier.bin.gz")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder laid out like $TOCSIN_REFERENCE_DATA/crisislex (T26/, T6/).
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Use the shipped model for every event instead of one trained without the event.
    #[arg(long)]
    pub no_hold_out: bool,
    /// Also print every alert and update, with the events it matched, to stderr.
    #[arg(long)]
    pub trace: bool,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// rss, cap, usgs, gdacs, kev, nvd or social; by default guessed from the content.
    #[arg(long)]
    pub kind: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    pub text: String,
}

pub fn run(cmd: SignalsCommand) -> Result<ExitCode> {
    match cmd {
        SignalsCommand::Train(a) => train(a),
        SignalsCommand::Eval(a) => eval(a),
        SignalsCommand::Parse(a) => parse(a),
        SignalsCommand::Explain(a) => explain(a),
    }
}

fn train(a: TrainArgs) -> Result<ExitCode> {
    let data = Dataset::load(&a.data).with_context(|| format!("reading {}", a.data.display()))?;
    eprintln!("{} events, {} posts", data.events.len(), data.posts.len());
    let model = train_model(
        &data,
        &TrainOptions {
            epochs: a.epochs,
            ..TrainOptions::default()
        },
    );
    let bytes = model.save();
    std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!("wrote {} ({} bytes)", a.out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.digits$}"))
}

fn eval(a: EvalArgs) -> Result<ExitCode> {
    let data = Dataset::load(&a.data).with_context(|| format!("reading {}", a.data.display()))?;
    let gaz = Gazetteer::embedded().context("loading the gazetteer")?;
    let opts = EvalOptions {
        hold_out: !a.no_hold_out,
        ..EvalOptions::default()
    };
    let r = evaluate(&data, gaz, Classifier::embedded(), &opts);
    if a.trace {
        for l in &r.log {
            eprintln!(
                "{} {:<28} {:<20} {:<3} {:<18} sources {:>4}  {}",
                l.time.format("%Y-%m-%d %H:%M:%S"),
                l.key,
                l.place,
                l.country,
                l.event_type,
                l.sources,
                if l.matched.is_empty() {
                    "FALSE".to_owned()
                } else {
                    l.matched.join(",")
                }
            );
        }
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = r.summary_json();
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "events (with ground truth)  {}", r.events)?;
        writeln!(out, "posts replayed              {}", r.posts)?;
        writeln!(
            out,
            "model                       {}",
            if r.held_out {
                "leave-one-event-out"
            } else {
                "shipped"
            }
        )?;
        writeln!(out, "event recall                {:.3}", r.event_recall)?;
        writeln!(
            out,
            "alert precision             {:.3} ({} alerts, {} false)",
            r.alert_precision, r.alerts, r.false_alerts
        )?;
        writeln!(
            out,
            "false alerts per hour       {:.4} ({} active hours)",
            r.false_alerts_per_hour, r.active_hours
        )?;
        writeln!(
            out,
            "latency median / p90 (s)    {} / {}",
            fmt_opt(r.latency_median_s, 0),
            fmt_opt(r.latency_p90_s, 0)
        )?;
        writeln!(
            out,
            "event-type accuracy         {}",
            fmt_opt(r.type_accuracy, 3)
        )?;
        writeln!(
            out,
            "geolocation error median    {} km",
            fmt_opt(r.geo_error_median_km, 1)
        )?;
        writeln!(out, "found                       {}", r.found.join(", "))?;
        writeln!(out, "missed                      {}", r.missed.join(", "))?;
        for d in &r.per_event {
            writeln!(
                out,
                "  {:<34} latency {:>9} s  geo error {:>7} km  type {} (truth {})",
                d.name,
                fmt_opt(d.latency_s, 0),
                fmt_opt(d.geo_error_km, 1),
                d.predicted_type,
                d.true_type
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse(a: ParseArgs) -> Result<ExitCode> {
    let forced = a
        .kind
        .as_deref()
        .map(str::parse::<FeedKind>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for f in &a.files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let Some(kind) = forced.or_else(|| sniff(&bytes)) else {
            eprintln!("{}: cannot tell the feed kind; use --kind", f.display());
            failed = true;
            continue;
        };
        let opts = FeedOptions::new(&format!("file:{}", f.display()), chrono::Utc::now());
        match parse_feed(kind, &bytes, &opts) {
            Ok(feed) => {
                for item in &feed.items {
                    writeln!(out, "{}", serde_json::to_string(&item.event)?)?;
                }
                for s in &feed.skipped {
                    eprintln!("{}: item {}: {}", f.display(), s.index, s.reason);
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn explain(a: ExplainArgs) -> Result<ExitCode> {
    let gaz = Gazetteer::embedded().context("loading the gazetteer")?;
    let c = Classifier::embedded().classify(&a.text);
    let places: Vec<serde_json::Value> = gaz
        .geoparse(&a.text)
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name, "kind": r.kind.as_str(), "country": r.country, "surface": r.surface,
                "probability": (r.probability * 1000.0).round() / 1000.0,
                "lat": r.lat, "lon": r.lon, "radius_m": r.radius_m.round(),
            })
        })
        .collect();
    let v = serde_json::json!({
        "event_type": c.event_type.as_str(),
        "type_probability": (c.type_probability * 1000.0).round() / 1000.0,
        "informative": (c.informative * 1000.0).round() / 1000.0,
        "places": places,
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}

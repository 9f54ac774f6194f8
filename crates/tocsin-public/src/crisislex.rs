//! Reads a folder laid out like the CrisisLex collections: `T26/<event>/` with labelled posts and
//! an event description, `T6/<event>/` with on-topic/off-topic posts.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::classify::{EventType, TrainingSet};

/// Largest file read.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}: holds no T26/ or T6/ folder")]
    Layout(String),
}

/// Ground truth of one event, from its description (T6 events have none).
#[derive(Debug, Clone, PartialEq)]
pub struct EventTruth {
    /// Folder name.
    pub name: String,
    pub collection: &'static str,
    pub event_type: Option<EventType>,
    /// The description's type as written (e.g. `Wildfire`).
    pub type_text: Option<String>,
    pub country: Option<String>,
    pub place: Option<String>,
    /// `Focalized` or `Diffused`.
    pub diffused: bool,
}

impl EventTruth {
    pub fn described(&self) -> bool {
        self.event_type.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Informative,
    RelatedNotInformative,
    NotRelated,
    NotApplicable,
    OnTopic,
    OffTopic,
}

impl Label {
    /// About the event (informative or not).
    pub fn related(self) -> Option<bool> {
        match self {
            Label::Informative | Label::RelatedNotInformative | Label::OnTopic => Some(true),
            Label::NotRelated | Label::OffTopic => Some(false),
            Label::NotApplicable => None,
        }
    }

    pub fn informative(self) -> Option<bool> {
        match self {
            Label::Informative => Some(true),
            Label::RelatedNotInformative | Label::NotRelated | Label::OffTopic => Some(false),
            Label::NotApplicable | Label::OnTopic => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPost {
    pub id: u64,
    pub time: DateTime<Utc>,
    pub text: String,
    /// Index into [`Dataset::events`].
    pub event: usize,
    pub label: Label,
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub events: Vec<EventTruth>,
    pub posts: Vec<LabelledPost>,
}

/// Twitter snowflake ids carry their creation time.
pub fn snowflake_time(id: u64) -> Option<DateTime<Utc>> {
    let ms = i64::try_from((id >> 22) + 1_288_834_974_657).ok()?;
    DateTime::from_timestamp_millis(ms)
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    use std::io::Read;
    let err = |reason: String| DataError::File {
        path: path.display().to_string(),
        reason,
    };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES)
        .read_to_end(&mut buf)
        .map_err(|e| err(e.to_string()))?;
    Ok(buf)
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn find_file(dir: &Path, suffix: &str) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    v.sort();
    v.into_iter().next()
}

fn parse_id(s: &str) -> Option<u64> {
    s.trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .parse()
        .ok()
}

fn label_of(s: &str) -> Option<Label> {
    match s.trim() {
        "Related and informative" => Some(Label::Informative),
        "Related - but not informative" => Some(Label::RelatedNotInformative),
        "Not related" => Some(Label::NotRelated),
        "Not applicable" => Some(Label::NotApplicable),
        "on-topic" => Some(Label::OnTopic),
        "off-topic" => Some(Label::OffTopic),
        _ => None,
    }
}

fn description(path: &Path, name: &str) -> Result<EventTruth, DataError> {
    let bytes = read(path)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| DataError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let s = |a: &str, b: &str| {
        v.get(a)
            .and_then(|x| x.get(b))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .filter(|x| !x.trim().is_empty())
    };
    let type_text = s("categorization", "type");
    Ok(EventTruth {
        name: name.to_owned(),
        collection: "T26",
        event_type: Some(EventType::from_hazard(type_text.as_deref().unwrap_or(""))),
        type_text,
        country: s("location", "country"),
        place: s("location", "location_description"),
        diffused: s("location", "spread").is_some_and(|x| x.eq_ignore_ascii_case("diffused")),
    })
}

fn read_posts(
    path: &Path,
    event: usize,
    id_col: usize,
    text_col: usize,
    label_col: usize,
    out: &mut Vec<LabelledPost>,
) -> Result<usize, DataError> {
    let bytes = read(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let mut n = 0;
    for rec in rdr.records().flatten() {
        let (Some(id), Some(text), Some(label)) = (
            rec.get(id_col).and_then(parse_id),
            rec.get(text_col),
            rec.get(label_col).and_then(label_of),
        ) else {
            continue;
        };
        let Some(time) = snowflake_time(id) else {
            continue;
        };
        out.push(LabelledPost {
            id,
            time,
            text: text.to_owned(),
            event,
            label,
        });
        n += 1;
    }
    Ok(n)
}

impl Dataset {
    pub fn load(dir: &Path) -> Result<Dataset, DataError> {
        let mut d = Dataset::default();
        let (t26, t6) = (dir.join("T26"), dir.join("T6"));
        if !t26.is_dir() && !t6.is_dir() {
            return Err(DataError::Layout(dir.display().to_string()));
        }
        for ev in sorted_dirs(&t26) {
            let name = ev
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            let Some(labelled) = find_file(&ev, "-tweets_labeled.csv") else {
                continue;
            };
            let truth = match find_file(&ev, "-event_description.json") {
                Some(p) => description(&p, &name)?,
                None => EventTruth {
                    name: name.clone(),
                    collection: "T26",
                    event_type: None,
                    type_text: None,
                    country: None,
                    place: None,
                    diffused: false,
                },
            };
            let idx = d.events.len();
            d.events.push(truth);
            read_posts(&labelled, idx, 0, 1, 4, &mut d.posts)?;
        }
        for ev in sorted_dirs(&t6) {
            let name = ev
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            let Some(file) = find_file(&ev, "-ontopic_offtopic.csv") else {
                continue;
            };
            let truth = match find_file(&ev, "-event_description.json") {
                Some(p) => EventTruth {
                    collection: "T6",
                    ..description(&p, &name)?
                },
                None => EventTruth {
                    name,
                    collection: "T6",
                    event_type: None,
                    type_text: None,
                    country: None,
                    place: None,
                    diffused: false,
                },
            };
            let idx = d.events.len();
            d.events.push(truth);
            read_posts(&file, idx, 0, 1, 2, &mut d.posts)?;
        }
        d.posts.sort_by_key(|p| (p.time, p.id));
        d.posts.dedup_by_key(|p| p.id);
        Ok(d)
    }

    /// Training examples: the type of a post about a described event is that event's type; posts
    /// not about their event are `other`. Each event is its own group, for leave-one-out runs.
    pub fn training_set(&self) -> TrainingSet {
        let mut set = TrainingSet::default();
        for p in &self.posts {
            let Some(truth) = self.events.get(p.event) else {
                continue;
            };
            let ty = match p.label.related() {
                Some(true) => truth.event_type,
                Some(false) => Some(EventType::Other),
                None => None,
            };
            let group = u32::try_from(p.event).unwrap_or(u32::MAX - 1);
            if ty.is_some() || p.label.informative().is_some() {
                set.add(&p.text, ty, p.label.informative(), 1.0, group);
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflake_ids_give_the_post_time() {
        let t = snowflake_time(295_460_048_749_096_960).unwrap();
        assert_eq!(t.format("%Y-%m-%d").to_string(), "2013-01-27");
    }
}

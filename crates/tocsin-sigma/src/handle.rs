//! [`SigmaHandle`]: the rule set in force, replaced whole on reload or when a rule is added,
//! while detectors keep running.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::ruleset::{RejectKind, Rejected, parse_text};
use crate::{SigmaOptions, SigmaRuleSet};

/// Longest id an uploaded rule may have; it becomes a file name.
const MAX_ID_LEN: usize = 128;

/// Why a reload kept the rules in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read rule folder {}: {reason}", path.display())]
    Folder { path: PathBuf, reason: String },
}

/// Why a rule sent to [`SigmaHandle::add_rule`] was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddRuleError {
    /// The rule itself cannot load; the text is the exact reason.
    #[error("{0}")]
    Invalid(String),
    /// A rule folder could not be read, so no new set was built.
    #[error(transparent)]
    Reload(#[from] ReloadError),
    #[error("no rule folder is configured to store the rule in")]
    NoFolder,
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a reload produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Detection and correlation rules now in force.
    pub loaded: usize,
    /// Rules and files that could not be loaded (listed by [`SigmaHandle::rejected`]).
    pub rejected: usize,
    /// The rule set's generation; it grows by one per swap.
    pub generation: u64,
}

/// A rule added by [`SigmaHandle::add_rule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedRule {
    pub id: String,
    pub title: String,
    /// Where it was written, so it loads again after a restart.
    pub path: PathBuf,
    /// Detection and correlation rules now in force.
    pub loaded: usize,
}

struct Loaded {
    set: Arc<SigmaRuleSet>,
    rejected: Arc<Vec<Rejected>>,
}

/// The Sigma rules in force, loaded from folders and swapped whole.
///
/// Loading happens on the caller's thread (call [`SigmaHandle::reload`] and
/// [`SigmaHandle::add_rule`] off async threads). Detectors made with
/// [`crate::SigmaDetector::with_handle`] notice a new generation before their next event and
/// switch to it between two events, so no event is dropped. The folders are the truth: a rule
/// added over the API is written into the first folder, and a file removed from a folder is
/// gone after the next reload.
pub struct SigmaHandle {
    dirs: Vec<PathBuf>,
    options: SigmaOptions,
    current: RwLock<Loaded>,
    generation: AtomicU64,
    /// One load at a time, so that two reloads cannot swap in an older set last.
    loading: Mutex<()>,
}

impl std::fmt::Debug for SigmaHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaHandle")
            .field("dirs", &self.dirs)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// The first configured folder that could not be read at all, if any.
fn failed_folder(dirs: &[PathBuf], rejected: &[Rejected]) -> Option<ReloadError> {
    rejected
        .iter()
        .find(|r| r.kind == RejectKind::Io && r.rule.is_none() && dirs.contains(&r.path))
        .map(|r| ReloadError::Folder {
            path: r.path.clone(),
            reason: r.reason.clone(),
        })
}

/// Whether an id can name a file in the rule folder as it is.
fn safe_file_stem(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl SigmaHandle {
    /// Loads the folders; rules that cannot load are kept in [`SigmaHandle::rejected`].
    pub fn load(dirs: Vec<PathBuf>, options: SigmaOptions) -> Self {
        let (set, rejected) = SigmaRuleSet::load_dirs(&dirs, &options);
        Self {
            dirs,
            options,
            current: RwLock::new(Loaded {
                set: Arc::new(set),
                rejected: Arc::new(rejected),
            }),
            generation: AtomicU64::new(0),
            loading: Mutex::new(()),
        }
    }

    /// The rule set in force.
    pub fn current(&self) -> Arc<SigmaRuleSet> {
        self.read().set.clone()
    }

    /// Rules and files of the set in force that could not be loaded, with their reasons.
    pub fn rejected(&self) -> Arc<Vec<Rejected>> {
        self.read().rejected.clone()
    }

    /// Grows by one each time a new set is swapped in.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn options(&self) -> &SigmaOptions {
        &self.options
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn swap(&self, set: SigmaRuleSet, rejected: Vec<Rejected>) -> u64 {
        set.carry_hits_from(&self.current());
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        *cur = Loaded {
            set: Arc::new(set),
            rejected: Arc::new(rejected),
        };
        drop(cur);
        // The set is in place before the generation moves, so a detector that sees the new
        // generation reads the new set.
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Reads the folders again and swaps in the new set. Single rules that cannot load are
    /// rejected as at start; a folder that cannot be read at all keeps the set in force.
    pub fn reload(&self) -> Result<ReloadSummary, ReloadError> {
        let _guard = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        let (set, rejected) = SigmaRuleSet::load_dirs(&self.dirs, &self.options);
        if let Some(e) = failed_folder(&self.dirs, &rejected) {
            return Err(e);
        }
        let loaded = set.len();
        let rejected_n = rejected.len();
        let generation = self.swap(set, rejected);
        Ok(ReloadSummary {
            loaded,
            rejected: rejected_n,
            generation,
        })
    }

    /// Validates one Sigma rule (one YAML document with an `id`), adds it to the set in force
    /// and writes it into the first folder as `<id>.yml`. A rule that cannot load is refused
    /// with the exact reason and nothing changes.
    pub fn add_rule(&self, yaml: &str) -> Result<AddedRule, AddRuleError> {
        let limit = self.options.max_rule_file_bytes;
        if yaml.len() as u64 > limit {
            return Err(AddRuleError::Invalid(format!(
                "rule is {} bytes, more than the limit of {limit}",
                yaml.len()
            )));
        }
        let dir = self.dirs.first().ok_or(AddRuleError::NoFolder)?;
        let mut problems = Vec::new();
        let parsed = parse_text(Path::new("api"), yaml, &mut problems);
        if let Some(p) = problems.first() {
            return Err(AddRuleError::Invalid(p.reason.clone()));
        }
        let Some(parsed) = parsed else {
            return Err(AddRuleError::Invalid("the rule could not be parsed".into()));
        };
        let c = &parsed.collection;
        let documents = c.rules.len() + c.correlations.len() + c.filters.len();
        let (id, title) = match (c.rules.first(), c.correlations.first(), c.filters.first()) {
            _ if documents != 1 => {
                return Err(AddRuleError::Invalid(format!(
                    "expected one Sigma rule, found {documents} documents"
                )));
            }
            (Some(r), _, _) => (r.id.clone(), r.title.clone()),
            (_, Some(r), _) => (r.id.clone(), r.title.clone()),
            (_, _, Some(r)) => (r.id.clone(), r.title.clone()),
            (None, None, None) => (None, String::new()),
        };
        let Some(id) = id else {
            return Err(AddRuleError::Invalid(
                "the rule has no id; an uploaded rule is stored as <id>.yml".into(),
            ));
        };
        if !safe_file_stem(&id) {
            return Err(AddRuleError::Invalid(format!(
                "id {id:?} cannot name a file: use letters, digits, '-', '_' and '.' (at most {MAX_ID_LEN})"
            )));
        }
        let path = dir.join(format!("{id}.yml"));

        let _guard = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        let (set, rejected) = SigmaRuleSet::load(
            &self.dirs,
            &[(path.clone(), yaml.to_owned())],
            &self.options,
        );
        if let Some(e) = failed_folder(&self.dirs, &rejected) {
            return Err(e.into());
        }
        let own: Vec<&str> = rejected
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.reason.as_str())
            .collect();
        if !own.is_empty() {
            return Err(AddRuleError::Invalid(own.join("; ")));
        }
        // Written beside the file name, then renamed, so a reload never reads half a rule.
        let tmp = dir.join(format!(".{id}.yml.tmp"));
        let write = std::fs::write(&tmp, yaml).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(source) = write {
            let _ = std::fs::remove_file(&tmp);
            return Err(AddRuleError::Write { path, source });
        }
        let loaded = set.len();
        self.swap(set, rejected);
        Ok(AddedRule {
            id,
            title,
            path,
            loaded,
        })
    }
}

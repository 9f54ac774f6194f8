use std::collections::BTreeMap;

/// How rules load and how the detector keeps state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaOptions {
    /// Values of `%name%` placeholders used by `|expand` (pySigma's `value_placeholders`). A rule
    /// naming a placeholder without values is rejected with that reason.
    pub placeholders: BTreeMap<String, Vec<String>>,
    /// How long after the newest event time an older event still counts in correlation windows.
    /// Older events are counted as late and left out of windows.
    pub lateness_secs: u64,
    /// Cap on correlation groups held across all correlation rules; the stalest group is evicted
    /// (and counted) when a new one would exceed it.
    pub max_groups: usize,
    /// Cap on entries one correlation group keeps; the oldest entry is dropped beyond it.
    pub max_group_entries: usize,
    /// Deduplication window handed to the alert stage.
    pub dedup_window_secs: u64,
    /// Evidence event ids kept per correlation alert.
    pub max_evidence: usize,
    /// Largest rule file read, in bytes.
    pub max_rule_file_bytes: u64,
}

impl Default for SigmaOptions {
    fn default() -> Self {
        Self {
            placeholders: BTreeMap::new(),
            lateness_secs: 60,
            max_groups: 100_000,
            max_group_entries: 10_000,
            dedup_window_secs: 3_600,
            max_evidence: 20,
            max_rule_file_bytes: 1024 * 1024,
        }
    }
}

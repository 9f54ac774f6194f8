/// Size limits applied to every record before and while it is normalised.
///
/// They bound the memory one record may take anywhere in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted raw record, in bytes (one JSON object, one syslog message, one CSV row).
    pub max_record_bytes: usize,
    /// Longest accepted value of a top-level string field (`message`, `user`, ...), in bytes.
    pub max_string_bytes: usize,
    /// Most keys accepted in `fields`, counted at every nesting level.
    pub max_fields: usize,
    /// Deepest accepted nesting of `fields`.
    pub max_depth: usize,
    /// Most vertices in a `geo` polygon.
    pub max_polygon_points: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_record_bytes: 256 * 1024,
            max_string_bytes: 16 * 1024,
            max_fields: 1024,
            max_depth: 16,
            max_polygon_points: 4096,
        }
    }
}

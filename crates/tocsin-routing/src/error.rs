use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a routes file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoutesError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Path of the field, e.g. `plans.soc.steps[1].after`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RoutesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RoutesError {}

/// Every error found in a routes file, so that they can all be fixed in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RoutesErrors(pub Vec<RoutesError>);

impl fmt::Display for RoutesErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

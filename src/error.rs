//! How a command fails: the error chain, a hint, and the exit code (0 success, 1 the data
//! failed validation, 2 bad pipeline definition or usage, 3 internal error), and the text a
//! user reads for it.

use crate::ingest::IngestError;
use crate::pipeline::LoadError;

/// Exit codes.
pub const EXIT_DATA: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;

/// A command that did not succeed: the error chain, a hint, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code,
            error: error.into(),
            hint: None,
        }
    }
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Failure::new(EXIT_INTERNAL, error)
    }
    pub fn hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Self {
        Failure::new(EXIT_USAGE, e)
    }
}

impl From<IngestError> for Failure {
    fn from(e: IngestError) -> Self {
        let code = if e.is_definition_problem() {
            EXIT_USAGE
        } else {
            EXIT_DATA
        };
        let hint = e.hint();
        Failure::new(code, e).hint(hint)
    }
}

impl From<crate::validate::ValidateError> for Failure {
    fn from(e: crate::validate::ValidateError) -> Self {
        match e {
            crate::validate::ValidateError::Ingest(e) => e.into(),
            crate::validate::ValidateError::Polars(e) => Failure::internal(e),
        }
    }
}

/// The user-facing text of a failure: `error:`, then `Caused by:` lines, then `hint:`.
pub fn render_failure(failure: &Failure) -> String {
    let mut out = format!("error: {}", failure.error);
    let causes: Vec<String> = failure
        .error
        .chain()
        .skip(1)
        .map(|c| c.to_string())
        .collect();
    if !causes.is_empty() {
        out.push_str("\n\nCaused by:");
        for c in causes {
            out.push_str(&format!("\n  {c}"));
        }
    }
    if let Some(hint) = &failure.hint {
        out.push_str(&format!("\n\nhint: {hint}"));
    }
    out
}

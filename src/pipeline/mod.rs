//! Pipeline definitions: read a TOML file, parse it into a `Spec` (what the user wrote), and
//! resolve that into a checked `Plan` (what the stages run). Every problem in the file is
//! reported in one go, each naming its key, line and column.

pub mod layout;
pub mod plan;
pub mod presets;
pub mod problems;
pub mod spec;

pub use plan::Plan;
pub use problems::{Problem, Problems};

use sha2::{Digest, Sha256};
use std::path::Path;

/// Why a pipeline definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read pipeline definition `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Problems(#[from] Problems),
}

/// Read, parse and resolve a pipeline definition.
pub fn load(path: &Path) -> Result<Plan, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let sha = hex(&Sha256::digest(&bytes));
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(Problems {
                file: path.to_path_buf(),
                problems: vec![Problem {
                    key: String::new(),
                    position: None,
                    message: format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                    hint: None,
                }],
            }
            .into());
        }
    };
    // Windows editors save UTF-8 with a byte-order mark; it is not part of the TOML.
    from_text(text.strip_prefix('\u{FEFF}').unwrap_or(&text), path, sha)
}

/// Parse and resolve pipeline text as if read from `path`.
pub fn from_text(text: &str, path: &Path, sha256: String) -> Result<Plan, LoadError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut collector = problems::Collector::new(text);
    let plan = problems::parse_spec(text, &mut collector)
        .and_then(|spec| plan::resolve(spec, path, sha256, dir, &mut collector));
    collector.finish(path)?;
    Ok(plan.expect("a plan exists when no problem was found"))
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

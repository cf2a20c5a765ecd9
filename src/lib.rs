//! equity-gap reads a district's assessment, survey and demographic extracts and publishes,
//! for every school, subgroup baselines, year-of-growth targets and gap closure.
//!
//! The flow, in module order: a `pipeline` definition (TOML) is resolved into a checked plan;
//! `ingest` reads each extract into canonical text columns with file and line; `validate` types
//! and checks every row, quarantining bad ones with a reason; `metrics` computes baselines,
//! growth, gaps, survey favorability, Dashboard levels and flags exactly as METRICS.md
//! defines them, with suppression; `render` turns the metric tables into each school's PDF and
//! HTML packets with their charts, the supervisors' index and the data-quality page; `publish` writes the run into a staging folder and renames
//! it into place with a manifest. `app` calls them in that order;
//! `sample` writes a synthetic district with planted effects for demos and tests, and `audit`
//! reads a published run and tries to work out every value suppression hides; `bench` times
//! whole runs from files on disk and runs the detection study of the gap flags; `progress`
//! draws progress bars on a terminal.

pub mod app;
pub mod audit;
pub mod bench;
pub mod canonical;
pub mod cli;
pub mod error;
pub mod freeze;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod render;
pub mod sample;
pub mod validate;

pub use error::render_failure;

/// 1234567 -> "1,234,567".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A byte count as people read it: "3.2 MB".
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KB", n as f64 / (1 << 10) as f64),
        n => format!("{n} B"),
    }
}

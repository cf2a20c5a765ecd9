//! Helpers shared by the integration tests: running the binary, temporary districts, and
//! running the library stages directly.

use equity_gap::{ingest, pipeline, validate};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `equity-gap` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_equity-gap"))
}

/// Run the binary in `dir` with `args`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .env_remove("EQUITY_GAP_TEST_PAUSE_BEFORE_COMMIT_MS")
        .output()
        .expect("the binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The project's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// A pipeline head shared by small fixtures: three windows, one Smarter Balanced assessment
/// `sbac` given in every window.
pub const WINDOWS_AND_SCALES: &str = r#"
[[windows]]
id = "fall"
share_of_year = 0.2

[[windows]]
id = "winter"
share_of_year = 0.55

[[windows]]
id = "spring"
share_of_year = 1.0

[scales.sbac]
preset = "smarter_balanced"

[assessments.sbac]
scale = "sbac"
"#;

/// Load a pipeline file, ingest and validate it with the library.
pub fn validate_file(path: &Path) -> validate::Validated {
    let plan = pipeline::load(path).unwrap_or_else(|e| panic!("{e}"));
    let raw = ingest::ingest(&plan).unwrap_or_else(|e| panic!("{e}"));
    validate::validate(raw, &plan).expect("validation runs")
}

/// The non-null values of a text column.
pub fn strs(df: &polars::prelude::DataFrame, column: &str) -> Vec<String> {
    df.column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

/// The shipped sample pipeline, run once for the whole test binary (it renders 255 packets):
/// the published run folder.
pub fn sample_run() -> &'static Path {
    static RUN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let out = tempdir().keep();
        let o = run_in(
            &root(),
            &[
                "run",
                "pipelines/sample.toml",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let run = PathBuf::from(stdout(&o).trim());
        assert!(run.starts_with(&out));
        run
    })
}

/// Every file under `dir`, at any depth.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A folder with the small format fixture district (`tests/fixtures/formats/`) and a
/// `pipeline.toml` named `district` that reads it, with `extra` added to the pipeline.
pub fn format_district(extra: &str) -> tempfile::TempDir {
    let dir = tempdir();
    for f in ["schools.csv", "students.csv", "assessments.csv"] {
        std::fs::copy(fixture(&format!("formats/{f}")), dir.path().join(f)).unwrap();
    }
    let text = format!(
        "name = \"district\"\n[inputs.schools]\npath = \"schools.csv\"\n[inputs.students]\npath = \"students.csv\"\n[inputs.assessments]\npath = \"assessments.csv\"\n{WINDOWS_AND_SCALES}{extra}"
    );
    std::fs::write(dir.path().join("pipeline.toml"), text).unwrap();
    dir
}

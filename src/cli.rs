//! The command line: `run`, `check`, `sample`, `bench` and `audit`.

use crate::sample::model::SurveyVolume;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// equity-gap: nightly subgroup baselines, year-of-growth targets and gap closure for every
/// school in a district, published as data tables and chart packets.
#[derive(Debug, Parser)]
#[command(name = "equity-gap", version, propagate_version = true)]
#[command(after_help = "Examples:
  equity-gap check pipelines/sample.toml
  equity-gap run pipelines/sample.toml
  equity-gap run pipelines/sample.toml --out /srv/reports --schools 101,204
  equity-gap sample --students 20000 --schools 24 --out /tmp/district --dirty
  equity-gap audit reports/sample

Exit codes: 0 success, 1 the data failed validation, 2 bad pipeline definition or usage (or
a run folder that cannot be written), 3 internal error.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: read and check every extract, then publish a new run folder.
    #[command(after_help = "Example:
  equity-gap run pipelines/sample.toml

Outputs land in `<out>/<pipeline name>/<run id>/`; `<out>/<pipeline name>/LATEST` names the
newest run. A run that fails publishes nothing and leaves earlier runs untouched.")]
    Run(RunArgs),
    /// Check a pipeline definition and that its inputs exist and have the required columns,
    /// without computing anything.
    #[command(after_help = "Example:
  equity-gap check pipelines/sample.toml")]
    Check(CheckArgs),
    /// Write a synthetic district (schools, students, scores, surveys) with planted effects
    /// and a truth file that records them.
    #[command(after_help = "Example:
  equity-gap sample --students 74000 --schools 85 --years 4 --seed 7 --out /tmp/district --dirty

Writes the extracts, a pipeline definition `pipeline.toml` that reads them, and `truth.json`.")]
    Sample(SampleArgs),
    /// Time `equity-gap run` end to end on a generated district on disk, packets off: each
    /// stage's wall time and the run's peak memory, beside the input's size.
    #[command(after_help = "Examples:
  equity-gap bench --students 74000 --format csv --repeat 3
  equity-gap bench --students 1000000 --format parquet

  equity-gap bench --students 74000 --years 4 --detection
  equity-gap bench --detection --pipeline pipelines/sample.toml --truth sample_data/truth.json

The district (realistic survey volume: about 8 million responses at 74,000 students over three
years) is generated once per set of arguments and kept for the next bench. Each run is a
separate `equity-gap run` process, so its peak memory is the kernel's record of that process
alone. Build with `--release` for figures worth quoting.")]
    Bench(BenchArgs),
    /// Try to work out every suppressed value of a published run from its published rows, as
    /// a reader of the packets and tables could. Exits 1 when one can be.
    #[command(after_help = "Examples:
  equity-gap audit reports/sample/LATEST-run-folder
  equity-gap audit reports/sample            (the newest run, from `LATEST`)
  equity-gap audit reports/sample --json

Every suppressed row and every unpublished part (a group's rest, the students in no group of a
partition) is an unknown; the relations METRICS.md lists (partitions, a group and its rest, a
district and its schools, and every combination of them) are solved exactly. Prints each value
that can be recovered, with the relations and published rows it follows from.

Exit codes: 0 nothing can be recovered, 1 something can, 2 not a run folder.")]
    Audit(AuditArgs),
    /// Freeze a window: the numbers a published run holds for it become the numbers of record,
    /// kept by every later run of the pipeline until the window is restated.
    #[command(after_help = "Example:
  equity-gap freeze reports/sample/20261204T020000Z spring

The frozen values are kept under `<out>/<pipeline>/frozen/<school year>/<window>/`. Later runs
keep publishing them, and list each value that recomputation would change in their summary and
on the quality page. `[[windows]] closed = true` in the pipeline freezes the current year's
window from the first run that finds it closed.")]
    Freeze(FreezeArgs),
    /// Publish the recomputed numbers of a frozen window, with a reason: a new run whose packets
    /// for the window (and every later run's) carry a dated note of what changed and why.
    #[command(after_help = "Example:
  equity-gap restate pipelines/sample.toml spring --reason \"Late spring scores from one school\"")]
    Restate(RestateArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A run folder (`<out>/<pipeline>/<run id>`), or `<out>/<pipeline>` for its newest run.
    pub run_dir: PathBuf,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// A run of the same data with `min_n_display = 1`, kept private: the audit then also
    /// knows which unpublished parts (a group's rest, the students in no group of a partition)
    /// are empty, as an insider might, and checks each value it recovers against the true one.
    #[arg(long, value_name = "RUN_DIR")]
    pub open_run: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// A published run folder (`<out>/<pipeline>/<run id>`).
    pub run_dir: PathBuf,
    /// The window to freeze, as in the pipeline's `[[windows]]`.
    pub window: String,
    /// The school year (`2025-26`). Default: the run's latest.
    #[arg(long)]
    pub year: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestateArgs {
    /// The pipeline definition (TOML), run in full.
    pub pipeline: PathBuf,
    /// The frozen window to restate.
    pub window: String,
    /// Why the numbers change, in a sentence the packets show.
    #[arg(long)]
    pub reason: String,
    /// The school year (`2025-26`). Default: the run's latest.
    #[arg(long)]
    pub year: Option<String>,
    /// Folder runs publish under. Default: the pipeline's `outputs.dir`, else `./reports`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of students enrolled in the first year.
    #[arg(long, default_value_t = 74_000)]
    pub students: usize,
    /// Number of schools. Default: 85 per 74,000 students, so schools keep their size.
    #[arg(long)]
    pub schools: Option<usize>,
    /// Number of school years, ending with 2025-26.
    #[arg(long, default_value_t = 3)]
    pub years: usize,
    /// Random seed for the district.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// The format of the extracts the run reads.
    #[arg(long, value_enum, default_value_t = BenchFormat::Csv)]
    pub format: BenchFormat,
    /// Plant the sample's faults, so validation quarantines rows as it would at night.
    #[arg(long)]
    pub dirty: bool,
    /// How many times to run.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Where generated districts are kept for reuse. Default: `$XDG_CACHE_HOME/equity-gap/bench`
    /// (or `~/.cache/equity-gap/bench`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run the detection study instead: do the gap flags find the district's planted trends
    /// with the right label on each basis, how often do they fire elsewhere, and how precise
    /// is each basis (use `--years 4` or more, so each trend runs over three years).
    #[arg(long)]
    pub detection: bool,
    /// With `--detection`: study a district on disk instead, read by this pipeline definition
    /// (for example the shipped sample), with the trends of `--truth`.
    #[arg(long, requires_all = ["detection", "truth"])]
    pub pipeline: Option<PathBuf>,
    /// The `truth.json` `equity-gap sample` wrote beside the district `--pipeline` reads.
    #[arg(long, requires = "pipeline")]
    pub truth: Option<PathBuf>,
}

/// The format of a benchmark district's extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchFormat {
    Csv,
    Parquet,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline definition (TOML).
    pub pipeline: PathBuf,
    /// Folder runs publish under. Default: the pipeline's `outputs.dir`, else `./reports`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Publish only these schools' rows (comma-separated school ids). Every school is still
    /// read and validated.
    #[arg(long, value_delimiter = ',')]
    pub schools: Option<Vec<String>>,
    /// No progress bars (they are drawn only when stderr is a terminal anyway).
    #[arg(long, short)]
    pub quiet: bool,
    /// Render every packet, even those the previous run published with the same key (by
    /// default their files are linked from it).
    #[arg(long)]
    pub rerender: bool,
    /// Set by `equity-gap restate`: the window (and school year, when given) to publish anew,
    /// and why.
    #[arg(skip)]
    pub restate: Option<(String, Option<String>, String)>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The pipeline definition (TOML).
    pub pipeline: PathBuf,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Number of students enrolled in the first year.
    #[arg(long, default_value_t = 74_000)]
    pub students: usize,
    /// Number of schools (about 65% elementary, 18% middle, 17% high).
    #[arg(long, default_value_t = 85)]
    pub schools: usize,
    /// Number of school years, ending with 2025-26. Planted gap trends run through every
    /// change of year, so four years give each three years of trend.
    #[arg(long, default_value_t = 4)]
    pub years: usize,
    /// Random seed; the same seed writes the same district.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Folder to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Add realistic faults (duplicates, out-of-range scores, unknown codes, blank ids,
    /// students without demographics) and record their counts in the truth file.
    #[arg(long)]
    pub dirty: bool,
    /// Write the large tables as CSV instead of Parquet.
    #[arg(long)]
    pub csv: bool,
    /// How much of a climate survey the district gives.
    #[arg(long, value_enum, default_value_t = SurveyVolume::Realistic)]
    pub survey: SurveyVolume,
}

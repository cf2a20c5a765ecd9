//! `equity-gap bench`: what a user waits for. It generates a district on disk (or reuses one
//! it generated before with the same arguments), then times `equity-gap run` on it with
//! packets off, as a separate process, and reports each stage's wall time and the process's
//! peak memory beside the input's size. `--detection` runs the detection study of the gap
//! flags on both bases of change instead.

use crate::canonical::Table;
use crate::cli::{BenchArgs, BenchFormat, SampleArgs};
use crate::error::{EXIT_USAGE, Failure};
use crate::pipeline::{self, Plan};
use crate::sample::model::SurveyVolume;
use crate::{human_bytes, ingest, metrics, thousands, validate};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bumped whenever the generator writes different data for the same arguments, so a cached
/// district from an older generator is never timed as if it were today's.
const GENERATOR: u32 = 3;

/// `equity-gap bench`.
pub fn bench(args: &BenchArgs) -> Result<(), Failure> {
    let schools = args
        .schools
        .unwrap_or_else(|| (args.students * 85).div_ceil(74_000).max(3));
    if args.repeat == 0 || args.years == 0 || args.students < schools * 5 {
        return Err(usage(anyhow::anyhow!(
            "`--repeat` and `--years` must be at least 1, and `--students` at least 5 per school"
        )));
    }
    if args.detection {
        return detection_study(args, schools);
    }
    let district = district(args, schools)?;
    let pipeline = district.join("bench.toml");
    let inputs = inputs(&district)?;
    println!(
        "district: {} students in {} schools over {} years, {}, {}",
        thousands(args.students),
        schools,
        args.years,
        format_name(args.format),
        district.display()
    );
    for (table, rows, bytes) in &inputs {
        println!(
            "  {table:<17} {:>12} rows {:>10}",
            thousands(*rows),
            human_bytes(*bytes)
        );
    }
    println!(
        "  {:<17} {:>12} rows {:>10}",
        "total",
        thousands(inputs.iter().map(|t| t.1).sum()),
        human_bytes(inputs.iter().map(|t| t.2).sum())
    );

    let exe = std::env::current_exe().map_err(Failure::internal)?;
    let mut runs = Vec::new();
    for i in 0..args.repeat {
        let out = district.join("bench-runs");
        let _ = fs::remove_dir_all(&out);
        let run = child::time(&exe, &pipeline, &out)?;
        let list = |parts: &[(String, f64)]| {
            parts
                .iter()
                .map(|(s, t)| format!("{s} {t:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        eprintln!(
            "  run {}: {:.2} s wall, {} peak ({})\n    metrics: {}",
            i + 1,
            run.wall,
            human_bytes(run.peak),
            list(&run.stages),
            list(&run.metrics)
        );
        let _ = fs::remove_dir_all(&out);
        runs.push(run);
    }
    print!("{}", summary(&runs));
    Ok(())
}

fn usage(e: anyhow::Error) -> Failure {
    Failure::new(EXIT_USAGE, e)
}

fn format_name(f: BenchFormat) -> &'static str {
    match f {
        BenchFormat::Csv => "CSV",
        BenchFormat::Parquet => "Parquet",
    }
}

/// The district's folder: generated now unless an earlier bench left one for these
/// arguments. A district is written to a temporary name and renamed when complete, so an
/// interrupted generation is never reused.
fn district(args: &BenchArgs, schools: usize) -> Result<PathBuf, Failure> {
    let root = match &args.data {
        Some(d) => d.clone(),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("equity-gap/bench"),
    };
    let name = format!(
        "g{GENERATOR}-{}s-{schools}sch-{}y-seed{}-{}{}",
        args.students,
        args.years,
        args.seed,
        match args.format {
            BenchFormat::Csv => "csv",
            BenchFormat::Parquet => "parquet",
        },
        if args.dirty { "-dirty" } else { "" }
    );
    let dir = root.join(&name);
    if dir.join("bench.toml").is_file() {
        eprintln!("reusing the district in `{}`", dir.display());
        return Ok(dir);
    }
    let partial = root.join(format!("{name}.partial.{}", std::process::id()));
    let clock = Instant::now();
    eprintln!("generating a district in `{}` ...", dir.display());
    let sample = SampleArgs {
        students: args.students,
        schools,
        years: args.years,
        seed: args.seed,
        out: partial.clone(),
        dirty: args.dirty,
        csv: args.format == BenchFormat::Csv,
        survey: SurveyVolume::Realistic,
    };
    crate::sample::write(&sample).map_err(usage)?;
    let text = fs::read_to_string(partial.join("pipeline.toml")).map_err(Failure::internal)?;
    fs::write(
        partial.join("bench.toml"),
        format!("{text}\n[outputs]\n# Tables only: the benchmark times the engine, not packets.\nformats = []\n"),
    )
    .map_err(Failure::internal)?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(Failure::internal)?;
    }
    fs::rename(&partial, &dir).map_err(Failure::internal)?;
    eprintln!("  generated in {:.1} s", clock.elapsed().as_secs_f64());
    Ok(dir)
}

/// The input files of a district: per table, its name, rows (from the truth file) and bytes
/// on disk.
fn inputs(dir: &Path) -> Result<Vec<(String, usize, u64)>, Failure> {
    let truth: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.join("truth.json")).map_err(Failure::internal)?,
    )
    .map_err(Failure::internal)?;
    Ok(Table::ALL
        .iter()
        // The sample writes no published state results.
        .filter(|t| **t != Table::StateResults)
        .map(|t| {
            let name = t.name();
            let rows = truth["rows"][name].as_u64().unwrap_or(0) as usize;
            let bytes = ["csv", "parquet"]
                .iter()
                .filter_map(|ext| fs::metadata(dir.join(format!("{name}.{ext}"))).ok())
                .map(|m| m.len())
                .sum();
            (name.to_string(), rows, bytes)
        })
        .collect())
}

/// One timed run.
struct Timed {
    wall: f64,
    peak: u64,
    /// Each stage's wall time in seconds, as the run's manifest records it.
    stages: Vec<(String, f64)>,
    /// Each part of the metrics stage, likewise.
    metrics: Vec<(String, f64)>,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Medians (and ranges) over the runs: wall time, peak memory and each stage.
fn summary(runs: &[Timed]) -> String {
    let mut out = format!(
        "\n{} run{} of `equity-gap run` with packets off (median, with the range):\n",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    let line = |name: &str, xs: Vec<f64>, unit: &dyn Fn(f64) -> String| {
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!(
            "  {name:<12} {:>10}   ({} to {})\n",
            unit(median(xs)),
            unit(lo),
            unit(hi)
        )
    };
    let secs = |s: f64| format!("{s:.2} s");
    let bytes = |b: f64| human_bytes(b as u64);
    out.push_str(&line("wall", runs.iter().map(|r| r.wall).collect(), &secs));
    out.push_str(&line(
        "peak memory",
        runs.iter().map(|r| r.peak as f64).collect(),
        &bytes,
    ));
    if let Some(first) = runs.first() {
        for (stage, _) in &first.stages {
            let xs = runs
                .iter()
                .filter_map(|r| r.stages.iter().find(|(s, _)| s == stage).map(|(_, t)| *t))
                .collect();
            out.push_str(&line(stage, xs, &secs));
        }
    }
    out
}

/// Running `equity-gap run` as a child process, with its wall time and peak resident memory.
mod child {
    use super::{Failure, Timed};
    use fs_err as fs;
    use std::path::Path;
    use std::time::Instant;

    pub fn time(exe: &Path, pipeline: &Path, out: &Path) -> Result<Timed, Failure> {
        let log = out.with_extension("log");
        let stderr = fs::File::create(&log).map_err(Failure::internal)?;
        let clock = Instant::now();
        let child = std::process::Command::new(exe)
            .arg("run")
            .arg(pipeline)
            .arg("--out")
            .arg(out)
            .arg("--quiet")
            .stdout(std::process::Stdio::null())
            .stderr(stderr.into_parts().0)
            .spawn()
            .map_err(Failure::internal)?;
        let (ended, peak) = wait(child.id());
        let wall = clock.elapsed().as_secs_f64();
        if ended != Ended::Exit(0) {
            let text = fs::read_to_string(&log).unwrap_or_default();
            return Err(Failure::internal(anyhow::anyhow!(
                "`equity-gap run {}` failed after {wall:.1} s at {} peak memory ({ended}):\n{text}",
                pipeline.display(),
                crate::human_bytes(peak)
            )));
        }
        let _ = fs::remove_file(&log);
        // The run publishes under `<out>/<pipeline name>/`; it is the only folder there.
        let root = fs::read_dir(out)
            .map_err(Failure::internal)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("LATEST").is_file())
            .ok_or_else(|| Failure::internal(anyhow::anyhow!("the run published no folder")))?;
        let latest = fs::read_to_string(root.join("LATEST")).map_err(Failure::internal)?;
        let manifest: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(root.join(latest.trim()).join("manifest.json"))
                .map_err(Failure::internal)?,
        )
        .map_err(Failure::internal)?;
        let seconds = |key: &str| -> Vec<(String, f64)> {
            manifest[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| {
                            Some((t["stage"].as_str()?.to_string(), t["ms"].as_f64()? / 1000.0))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Timed {
            wall,
            peak,
            stages: seconds("timings_ms"),
            metrics: seconds("metrics_ms"),
        })
    }

    /// Wait for the child and read its resource usage: the kernel's record of its peak
    /// resident memory, which no sampling can miss.
    fn wait(pid: u32) -> (Ended, u64) {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for the kernel to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes only through the two pointers, which live for the call.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        let ended = if r < 0 {
            Ended::Unknown
        } else if libc::WIFEXITED(status) {
            Ended::Exit(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Ended::Signal(libc::WTERMSIG(status))
        } else {
            Ended::Unknown
        };
        // ru_maxrss is in kilobytes on Linux.
        (ended, usage.ru_maxrss as u64 * 1024)
    }

    /// How the run's process ended.
    #[derive(Debug, PartialEq)]
    enum Ended {
        Exit(i32),
        Signal(i32),
        Unknown,
    }

    impl std::fmt::Display for Ended {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Ended::Exit(code) => write!(f, "exit code {code}"),
                Ended::Signal(9) => write!(
                    f,
                    "killed by signal 9, most often the kernel ending a process that ran out of memory"
                ),
                Ended::Signal(sig) => write!(f, "killed by signal {sig}"),
                Ended::Unknown => write!(f, "its end could not be read"),
            }
        }
    }
}

/// `equity-gap bench --detection` on a generated district (held in memory) or, with
/// `--pipeline` and `--truth`, on a district on disk read as `run` reads it.
fn detection_study(args: &BenchArgs, schools: usize) -> Result<(), Failure> {
    if let (Some(path), Some(truth)) = (&args.pipeline, &args.truth) {
        let plan = pipeline::load(path)?;
        let text = fs::read_to_string(truth).map_err(|e| usage(anyhow::Error::from(e)))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| usage(anyhow::anyhow!("`{}`: {e}", truth.display())))?;
        let trends: Vec<crate::sample::PlantedTrend> =
            serde_json::from_value(value.get("trends").cloned().unwrap_or_default())
                .map_err(|e| usage(anyhow::anyhow!("`{}`: trends: {e}", truth.display())))?;
        let raw = ingest::ingest(&plan)?;
        let validated = validate::validate(raw, &plan)?;
        // The metrics of the study are computed from canonical text, as a test would give it.
        let mut tables = std::collections::BTreeMap::new();
        for &t in validated.tables.keys() {
            if let Some(df) = validated.text_table(t).map_err(Failure::internal)? {
                tables.insert(t, df);
            }
        }
        return detection(&plan, &tables, &trends);
    }
    let survey = SurveyVolume::Light;
    let toml = crate::sample::pipeline_toml("bench", "", "parquet", None, survey);
    let plan = pipeline::from_text(&toml, Path::new("bench.toml"), String::new())?;
    let clock = Instant::now();
    let district = crate::sample::generate(args.students, schools, args.years, args.seed, survey);
    let tables = crate::sample::typed_tables(&district).map_err(Failure::internal)?;
    let trends = crate::sample::planted_trends(&district);
    drop(district);
    eprintln!(
        "generated {} students in {} schools over {} years in {:.1} s",
        thousands(args.students),
        schools,
        args.years,
        clock.elapsed().as_secs_f64(),
    );
    detection(&plan, &tables, &trends)
}

/// `equity-gap bench --detection`: the detection study on both bases of change.
fn detection(
    plan: &Plan,
    tables: &std::collections::BTreeMap<Table, polars::prelude::DataFrame>,
    trends: &[crate::sample::PlantedTrend],
) -> Result<(), Failure> {
    use crate::pipeline::plan::Basis;
    use crate::sample::detection;
    for basis in Basis::ALL {
        let mut plan = plan.clone();
        plan.flags.basis = basis;
        let clock = Instant::now();
        let m = metrics::compute(&plan, tables).map_err(Failure::internal)?;
        let source = match basis {
            Basis::SameStudents => "cohort_gaps",
            Basis::CrossSectional => "gaps",
        };
        let (Some(rows), Some(flags)) = (m.table(source), m.table("flags")) else {
            return Err(Failure::internal(anyhow::anyhow!("no gap tables computed")));
        };
        let year = crate::render::model::current_year(
            &crate::render::model::Rows::read(&m.tables).map_err(Failure::internal)?,
        )
        .unwrap_or_default();
        let d = detection::study(
            basis,
            rows,
            flags,
            trends,
            &year,
            plan.windows.last().map_or("", |w| w.id.as_str()),
            plan.privacy.min_n_accountability,
        )
        .map_err(Failure::internal)?;
        eprintln!("metrics in {:.1} s", clock.elapsed().as_secs_f64());
        print!("{}", detection::report(&d));
    }
    Ok(())
}

//! `equity-gap bench`: the metrics stage alone on a generated district held in memory, with
//! its time per part and peak memory; and `--detection`, the detection study of the gap flags
//! on both bases of change.

use crate::canonical::Table;
use crate::cli::BenchArgs;
use crate::error::{EXIT_USAGE, Failure};
use crate::pipeline::{self, Plan};
use crate::{human_bytes, ingest, metrics, thousands, validate};
use std::time::Instant;

/// `equity-gap bench`: the metrics stage alone on a generated district.
pub fn bench(args: &BenchArgs) -> Result<(), Failure> {
    let schools = args
        .schools
        .unwrap_or_else(|| (args.students * 85).div_ceil(74_000).max(3));
    if args.repeat == 0 || args.years == 0 || args.students < schools * 5 {
        return Err(Failure::new(
            EXIT_USAGE,
            anyhow::anyhow!(
                "`--repeat` and `--years` must be at least 1, and `--students` at least 5 per school"
            ),
        ));
    }
    let toml = crate::sample::pipeline_toml("bench", "", "parquet", None);
    let plan = pipeline::from_text(&toml, std::path::Path::new("bench.toml"), String::new())?;
    if let (Some(path), Some(truth)) = (&args.pipeline, &args.truth) {
        // A district on disk: read and checked as `run` does.
        let plan = pipeline::load(path)?;
        let text = fs_err::read_to_string(truth)
            .map_err(|e| Failure::new(EXIT_USAGE, anyhow::Error::from(e)))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::new(EXIT_USAGE, anyhow::anyhow!("`{}`: {e}", truth.display())))?;
        let trends: Vec<crate::sample::PlantedTrend> = serde_json::from_value(
            value.get("trends").cloned().unwrap_or_default(),
        )
        .map_err(|e| {
            Failure::new(
                EXIT_USAGE,
                anyhow::anyhow!("`{}`: trends: {e}", truth.display()),
            )
        })?;
        let raw = ingest::ingest(&plan)?;
        let validated = validate::validate(raw, &plan).map_err(Failure::internal)?;
        return detection(&plan, &validated.tables, &trends);
    }
    let clock = Instant::now();
    let district = crate::sample::generate(args.students, schools, args.years, args.seed);
    let tables = crate::sample::typed_tables(&district).map_err(Failure::internal)?;
    let trends = crate::sample::planted_trends(&district);
    drop(district);
    let rows = |t: Table| tables.get(&t).map_or(0, |df| df.height());
    eprintln!(
        "generated {} students in {} schools over {} years in {:.1} s: {} students rows, {} scores, {} survey responses",
        thousands(args.students),
        schools,
        args.years,
        clock.elapsed().as_secs_f64(),
        thousands(rows(Table::Students)),
        thousands(rows(Table::Assessments)),
        thousands(rows(Table::SurveyResponses)),
    );
    if args.detection {
        return detection(&plan, &tables, &trends);
    }
    let frames: usize = tables.values().map(|df| df.estimated_size()).sum();
    memory::release_freed();
    let baseline_rss = memory::reset_peak();
    let mut times = Vec::new();
    let mut out_rows = 0;
    for i in 0..args.repeat {
        let clock = Instant::now();
        let m = metrics::compute(&plan, &tables).map_err(Failure::internal)?;
        let secs = clock.elapsed().as_secs_f64();
        out_rows = m.tables.iter().map(|(_, df)| df.height()).sum();
        let parts: Vec<String> = m
            .timings
            .iter()
            .map(|(part, s)| format!("{part} {s:.2}"))
            .collect();
        eprintln!("  run {}: {:.2} s ({})", i + 1, secs, parts.join(", "));
        times.push(secs);
    }
    let peak = memory::peak();
    times.sort_by(f64::total_cmp);
    println!(
        "metrics stage, {} students ({} scores, {} survey responses) -> {} metric rows: best {:.2} s, median {:.2} s over {} runs; peak memory {} (resident before computing: {}, of which input tables {})",
        thousands(args.students),
        thousands(rows(Table::Assessments)),
        thousands(rows(Table::SurveyResponses)),
        thousands(out_rows),
        times[0],
        times[times.len() / 2],
        times.len(),
        peak.map_or("unknown".to_string(), human_bytes),
        baseline_rss.map_or("unknown".to_string(), human_bytes),
        human_bytes(frames as u64),
    );
    Ok(())
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

/// The process's resident memory, from `/proc/self` (Linux).
mod memory {
    fn status(field: &str) -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = text.lines().find(|l| l.starts_with(field))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Give memory the allocator holds but no longer uses back to the system.
    /// The binary allocates with mimalloc (see `main.rs`).
    pub fn release_freed() {
        // SAFETY: mi_collect only frees mimalloc's empty pages and segments; it touches no live
        // allocation.
        unsafe {
            libmimalloc_sys::mi_collect(true);
        }
    }

    /// Reset the high-water mark to the current resident size, and return that size.
    pub fn reset_peak() -> Option<u64> {
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
        status("VmRSS:")
    }

    /// The high-water mark of resident memory since the last reset.
    pub fn peak() -> Option<u64> {
        status("VmHWM:")
    }
}

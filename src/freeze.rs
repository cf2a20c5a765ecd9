//! Frozen windows at the level of a run: a run holds each frozen window at its published
//! values and reports what would change, freezes the closed windows it first publishes, and
//! keeps a restated window's new values; `equity-gap freeze` freezes a window from a published
//! run. How frozen values are stored and compared is `publish::frozen`.

use crate::cli::FreezeArgs;
use crate::error::{EXIT_USAGE, Failure};
use crate::metrics::Metrics;
use crate::pipeline::Plan;
use crate::publish;
use crate::thousands;
use polars::prelude::*;

/// Whether a window is closed but not yet frozen (the next full run freezes it).
pub(crate) fn closed_unfrozen(plan: &Plan, root: &std::path::Path) -> bool {
    let records = publish::frozen::load(root).unwrap_or_default();
    plan.windows
        .iter()
        .any(|w| w.closed && !records.iter().any(|r| r.window == w.id))
}

/// The frozen windows of a run: what was held, which windows the run freezes once published,
/// and the window it restates (an index into `outcome.windows`).
pub(crate) struct FrozenRun {
    pub(crate) outcome: publish::frozen::Outcome,
    pub(crate) to_freeze: Vec<(String, String)>,
    pub(crate) restated: Option<usize>,
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Hold every frozen window at its published values (`publish::frozen`), except the one being
/// restated; note the closed windows of the current year that have no frozen values yet.
pub(crate) fn hold_frozen(
    plan: &Plan,
    root: &std::path::Path,
    metrics: &mut Metrics,
    restate: Option<&(String, Option<String>, String)>,
) -> Result<FrozenRun, Failure> {
    use publish::frozen;
    let records = frozen::load(root).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    let year = frozen::current_year(&metrics.tables).map_err(Failure::internal)?;
    let mut restated = None;
    let lift = match restate {
        Some((window, wanted_year, _)) => {
            let y = wanted_year
                .clone()
                .or_else(|| year.clone())
                .unwrap_or_default();
            let Some(i) = records
                .iter()
                .position(|r| r.window == *window && r.school_year == y)
            else {
                return Err(Failure::new(
                    EXIT_USAGE,
                    anyhow::anyhow!(
                        "window `{window}` of {y} is not frozen under `{}`; nothing to restate and nothing was published",
                        root.join(frozen::FOLDER).display()
                    ),
                )
                .hint(Some(
                    "`equity-gap freeze RUN_DIR WINDOW` freezes a window, or `closed = true` under its `[[windows]]`".into(),
                )));
            };
            restated = Some(i);
            Some((y, window.clone()))
        }
        None => None,
    };
    let (held, lifted) = frozen::apply(
        root,
        &records,
        metrics,
        lift.as_ref().map(|(y, w)| (y.as_str(), w.as_str())),
    )
    .map_err(|e| Failure::new(EXIT_USAGE, e))?;
    let mut outcome = frozen::Outcome {
        windows: records,
        would_change: held,
    };
    if let (Some(i), Some((_, _, reason))) = (restated, restate) {
        outcome.windows[i].restatements.push(frozen::Restatement {
            date: today(),
            reason: reason.clone(),
            run: String::new(),
            changes: lifted,
        });
    }
    let to_freeze = match &year {
        Some(y) => plan
            .windows
            .iter()
            .filter(|w| w.closed)
            .filter(|w| {
                !outcome
                    .windows
                    .iter()
                    .any(|r| r.window == w.id && r.school_year == *y)
            })
            .map(|w| (y.clone(), w.id.clone()))
            .collect(),
        None => Vec::new(),
    };
    Ok(FrozenRun {
        outcome,
        to_freeze,
        restated,
    })
}

pub(crate) fn print_frozen(frozen: &FrozenRun) {
    for r in &frozen.outcome.windows {
        eprintln!(
            "  frozen   {} {}: frozen on {} from run {}{}",
            r.window,
            r.school_year,
            r.frozen_on,
            r.from_run,
            match r.restatements.len() {
                0 => String::new(),
                n => format!(", restated {n} time{}", if n == 1 { "" } else { "s" }),
            }
        );
    }
    if let Some(i) = frozen.restated {
        let r = &frozen.outcome.windows[i];
        let changes = &r.restatements.last().map_or(&[][..], |x| &x.changes[..]);
        eprintln!(
            "  restate  {} {}: publishing {} changed value{}",
            r.window,
            r.school_year,
            thousands(changes.len()),
            if changes.len() == 1 { "" } else { "s" }
        );
    }
    let would = &frozen.outcome.would_change;
    if !would.is_empty() {
        eprintln!(
            "  frozen   {} value{} would change; kept at the published value{} (all are on the quality page; `equity-gap restate` publishes them):",
            thousands(would.len()),
            if would.len() == 1 { "" } else { "s" },
            if would.len() == 1 { "" } else { "s" }
        );
        for c in would.iter().take(10) {
            eprintln!("             {}", c.describe());
        }
        if would.len() > 10 {
            eprintln!("             and {} more", thousands(would.len() - 10));
        }
    }
    for (y, w) in &frozen.to_freeze {
        eprintln!("  freeze   {w} {y} is closed: this run's values become its frozen values");
    }
    eprintln!();
}

/// After publishing: freeze the closed windows first published by this run, and keep the
/// restated window's new values as its frozen values.
pub(crate) fn save_frozen(
    plan: &Plan,
    root: &std::path::Path,
    frozen: &FrozenRun,
    metrics: &Metrics,
    dir: &std::path::Path,
) -> Result<(), Failure> {
    use publish::frozen::{self, Record};
    let run_id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fail = |e: anyhow::Error| {
        Failure::new(
            EXIT_USAGE,
            e.context(format!(
                "the run was published at `{}`, but its frozen values could not be saved under `{}`",
                dir.display(),
                root.join(frozen::FOLDER).display()
            )),
        )
    };
    for (y, w) in &frozen.to_freeze {
        let record = Record {
            school_year: y.clone(),
            window: w.clone(),
            frozen_on: today(),
            from_run: run_id.clone(),
            restatements: Vec::new(),
        };
        frozen::write(root, &record, &metrics.tables, is_last(plan, w)).map_err(fail)?;
    }
    if let Some(i) = frozen.restated {
        let mut record = frozen.outcome.windows[i].clone();
        if let Some(r) = record.restatements.last_mut() {
            r.run = run_id.clone();
        }
        let last = is_last(plan, &record.window);
        frozen::write(root, &record, &metrics.tables, last).map_err(fail)?;
    }
    Ok(())
}

fn is_last(plan: &Plan, window: &str) -> bool {
    plan.windows.last().is_some_and(|w| w.id == window)
}

/// `equity-gap freeze RUN_DIR WINDOW`: the run's values of the window become its frozen values.
pub(crate) fn freeze(args: &FreezeArgs) -> Result<(), Failure> {
    use publish::frozen::{self, Record};
    let run = &args.run_dir;
    let not_run = |why: String| {
        Failure::new(EXIT_USAGE, anyhow::anyhow!(why)).hint(Some(
            "give the folder of a published run (`<out>/<pipeline>/<run id>`, with `manifest.json` and `metrics/`)".into(),
        ))
    };
    if !run.join("manifest.json").is_file() {
        return Err(not_run(format!(
            "`{}` is not a published run",
            run.display()
        )));
    }
    let root = run
        .parent()
        .ok_or_else(|| not_run(format!("`{}` has no pipeline folder", run.display())))?;
    let mut tables: Vec<(&str, DataFrame)> = Vec::new();
    for name in frozen::TABLES {
        let path = run.join("metrics").join(format!("{name}.parquet"));
        if !path.is_file() {
            continue;
        }
        let file = std::fs::File::open(&path)
            .map_err(|e| not_run(format!("cannot read `{}`: {e}", path.display())))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| not_run(format!("cannot read `{}`: {e}", path.display())))?;
        tables.push((name, df));
    }
    let year = match &args.year {
        Some(y) => y.clone(),
        None => frozen::current_year(&tables)
            .map_err(Failure::internal)?
            .ok_or_else(|| not_run(format!("`{}` has no baselines", run.display())))?,
    };
    let rows: usize = tables
        .iter()
        .map(|(_, df)| {
            df.clone()
                .lazy()
                .filter(
                    col("school_year")
                        .eq(lit(year.clone()))
                        .and(col("window").eq(lit(args.window.clone()))),
                )
                .collect()
                .map(|d| d.height())
                .unwrap_or(0)
        })
        .sum();
    if rows == 0 {
        return Err(Failure::new(
            EXIT_USAGE,
            anyhow::anyhow!(
                "run `{}` published no rows for window `{}` of {year}; nothing was frozen",
                run.display(),
                args.window
            ),
        ));
    }
    let existing = frozen::load(root).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    if let Some(r) = existing
        .iter()
        .find(|r| r.window == args.window && r.school_year == year)
    {
        return Err(Failure::new(
            EXIT_USAGE,
            anyhow::anyhow!(
                "window `{}` of {year} was frozen on {} from run {}; nothing was changed",
                args.window,
                r.frozen_on,
                r.from_run
            ),
        )
        .hint(Some(
            "`equity-gap restate PIPELINE WINDOW --reason \"...\"` publishes new values for a frozen window".into(),
        )));
    }
    let run_id = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let record = Record {
        school_year: year.clone(),
        window: args.window.clone(),
        frozen_on: today(),
        from_run: run_id.clone(),
        restatements: Vec::new(),
    };
    // Whether the window is the year's last (summative) one, from the run's own configuration.
    let manifest: serde_json::Value = std::fs::read(run.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let last = manifest["config"]["windows"]
        .as_array()
        .and_then(|w| w.last())
        .is_some_and(|w| w["id"] == args.window.as_str());
    frozen::write(root, &record, &tables, last).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    eprintln!(
        "froze {} {year} from run {run_id}: {} published rows kept under `{}`",
        args.window,
        thousands(rows),
        root.join(frozen::FOLDER)
            .join(&year)
            .join(&args.window)
            .display()
    );
    Ok(())
}

//! The one place the stages are called in order: load the pipeline, ingest, validate,
//! compute metrics, (render,) publish. Each command returns `Ok` or a `Failure` carrying its exit code.

use crate::canonical::Table;
use crate::cli::{AuditArgs, CheckArgs, Cli, Command, RestateArgs, RunArgs, SampleArgs};
use crate::error::{EXIT_DATA, EXIT_USAGE, Failure};
use crate::freeze::{closed_unfrozen, hold_frozen, print_frozen, save_frozen};
use crate::ingest;
use crate::metrics::{self, Metrics};
use crate::pipeline::{self, Plan};
use crate::publish::{self, Manifest, Staging, manifest::Timing};
use crate::render;
use crate::thousands;
use crate::validate::{self, Quality, Validated};
use polars::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run(args) => run_pipeline(&args).map(|_| ()),
        Command::Check(args) => check(&args),
        Command::Sample(args) => sample(&args),
        Command::Bench(args) => crate::bench::bench(&args),
        Command::Audit(args) => audit(&args),
        Command::Freeze(args) => crate::freeze::freeze(&args),
        Command::Restate(args) => restate(&args),
    }
}

/// `equity-gap audit`: can a reader work out a suppressed value of a published run?
fn audit(args: &AuditArgs) -> Result<(), Failure> {
    let report = crate::audit::audit(&args.run_dir, args.open_run.as_deref()).map_err(|e| {
        Failure::new(EXIT_USAGE, e).hint(Some(
            "give the folder a run published (it holds `manifest.json` and `metrics/`), or its pipeline folder with `LATEST`".into(),
        ))
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(Failure::internal)?
        );
    } else {
        print!("{}", crate::audit::text(&report));
    }
    if report.findings.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            EXIT_DATA,
            anyhow::anyhow!(
                "{} suppressed value{} can be worked out from published rows; do not send this run out",
                report.findings.len(),
                if report.findings.len() == 1 { "" } else { "s" }
            ),
        )
        .hint(Some(
            "runs publish with `privacy.complementary = true` (the default) to prevent this".into(),
        )))
    }
}

/// What a successful run published.
#[derive(Debug)]
pub struct Published {
    pub dir: PathBuf,
    /// `None` when nothing changed since the previous run and its files were published again.
    pub quality: Option<Quality>,
}

/// `equity-gap run`: the whole pipeline.
pub fn run_pipeline(args: &RunArgs) -> Result<Published, Failure> {
    let started = chrono::Utc::now();
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |stage: &'static str, timings: &mut Vec<Timing>| {
        timings.push(Timing {
            stage,
            ms: clock.elapsed().as_millis(),
        });
        clock = Instant::now();
    };

    let plan = pipeline::load(&args.pipeline)?;
    lap("load", &mut timings);
    eprintln!(
        "equity-gap {}: running pipeline `{}` from `{}`",
        env!("CARGO_PKG_VERSION"),
        plan.name,
        args.pipeline.display()
    );

    publish::clean_up_on_interrupt();
    let progress = crate::progress::Progress::new(args.quiet);
    let raw = ingest::ingest_with(&plan, &progress)?;
    for t in &raw {
        for f in &t.files {
            eprintln!(
                "  read     {:<17} {:>10} rows  `{}`",
                f.table,
                thousands(f.rows),
                f.path.display()
            );
        }
    }
    let inputs: Vec<ingest::FileRead> = raw.iter().flat_map(|t| t.files.clone()).collect();
    let out = args
        .out
        .clone()
        .or_else(|| plan.outputs.dir.clone())
        .unwrap_or_else(|| PathBuf::from("reports"));
    let previous = publish::previous::Previous::latest(&out.join(&plan.name));
    let header_changes = publish::manifest::header_changes(previous.as_ref(), &inputs);
    for change in &header_changes {
        eprintln!("  layout   {change}");
    }
    lap("ingest", &mut timings);

    // Nothing the run is made from changed since the previous run: publish its files again.
    let root = out.join(&plan.name);
    let run_key = publish::previous::run_key(
        render::tool_identity().map_err(Failure::internal)?,
        &plan.source_sha256,
        &inputs,
        args.schools.as_deref(),
        &root,
    )
    .map_err(|e| output_failure(&out, e.into()))?;
    if let Some(previous) = previous.as_ref().filter(|p| {
        p.run_key == run_key
            && !args.rerender
            && args.restate.is_none()
            && header_changes.is_empty()
            && !closed_unfrozen(&plan, &root)
    }) {
        return relink_unchanged(&plan, &out, previous, started, timings);
    }

    let validated = validate::validate_with(raw, &plan, &progress)?;
    lap("validate", &mut timings);
    if let Some(clash) = validate::school_folder_clash(&validated) {
        return Err(Failure::new(EXIT_DATA, anyhow::anyhow!("{clash}; nothing was published")).hint(Some(
            "school ids name each school's folder of packets; give every school an id that differs in more than punctuation or letter case, and none called `district`".into(),
        )));
    }
    print_quality(&validated.quality);
    check_reject_share(&plan, &validated.quality)?;

    let selected = select_schools(&validated, args.schools.as_deref())?;

    let mut metrics = metrics::compute_with(
        &plan,
        &validated.tables,
        validated.survey.as_ref(),
        &validated.ids,
        &progress,
    )
    .map_err(Failure::internal)?;
    lap("metrics", &mut timings);
    print_metrics(&plan, &metrics);
    let mut frozen = hold_frozen(&plan, &root, &mut metrics, args.restate.as_ref())?;
    print_frozen(&frozen);

    let mut staging = Staging::begin(&out, &plan.name, started)
        .map_err(|e| output_failure(&out, anyhow::Error::new(e)))?;
    if let Some(i) = frozen.restated
        && let Some(r) = frozen.outcome.windows[i].restatements.last_mut()
    {
        r.run = staging.run_id().to_string();
    }
    publish::tables::write(&mut staging, &plan, selected.clone(), &validated, &metrics)
        .map_err(|e| output_failure(&out, e))?;
    lap("tables", &mut timings);

    let request = render::Request {
        plan: &plan,
        metrics: &metrics,
        validated: &validated,
        inputs: &inputs,
        provenance: render::Provenance {
            data_as_of: data_as_of(&validated)
                .unwrap_or_else(|| started.format("%Y-%m-%d").to_string()),
            run_id: staging.run_id().to_string(),
            pipeline: plan.name.clone(),
            pipeline_hash: plan.source_sha256.chars().take(12).collect(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        },
        schools: selected.as_deref(),
        previous: previous.as_ref(),
        rerender: args.rerender,
        frozen: &frozen.outcome,
    };
    let rendered = render::render(&request, staging.dir()).map_err(|e| {
        output_failure(
            &out,
            e.context("rendering the packets failed; nothing was published"),
        )
    })?;
    staging.adopt(rendered.files.iter().cloned());
    lap("render", &mut timings);
    let reuse = share_with_previous(&staging, previous.as_ref(), &rendered)
        .map_err(|e| output_failure(&out, e.into()))?;
    lap("link", &mut timings);
    eprintln!("{}\n", render_summary(&plan, &rendered, &reuse));
    pause_before_commit();

    let manifest = Manifest {
        tool: "equity-gap",
        version: env!("CARGO_PKG_VERSION"),
        run_id: staging.run_id(),
        run_key: &run_key,
        pipeline: publish::manifest::PipelineRef::of(&plan),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        inputs: &inputs,
        header_changes: &header_changes,
        rows: &validated.quality,
        outputs: staging.written(),
        packets: &rendered.packets,
        reuse: &reuse,
        frozen: &frozen.outcome,
        timings_ms: timings,
        metrics_ms: metrics
            .timings
            .iter()
            .map(|&(stage, secs)| Timing {
                stage,
                ms: (secs * 1000.0).round() as u128,
            })
            .collect(),
        suppression: metrics
            .suppression
            .iter()
            .map(|(t, rules)| {
                (
                    t.to_string(),
                    rules
                        .iter()
                        .map(|(r, n)| (r.code().to_string(), *n))
                        .collect(),
                )
            })
            .collect(),
        config: &plan,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(Failure::internal)?;
    staging
        .bytes("manifest.json", &json)
        .map_err(|e| output_failure(&out, e.into()))?;
    let n_files = staging.written().len();
    let total: u64 = staging.written().iter().map(|w| w.bytes).sum();
    let new_bytes = total - reuse.bytes_linked;
    let dir = staging.commit().map_err(|e| {
        output_failure(
            &out,
            anyhow::Error::new(e).context("cannot move the finished run into place"),
        )
    })?;
    print_published(&dir, n_files, total, new_bytes, started);
    save_frozen(&plan, &root, &frozen, &metrics, &dir)?;
    println!("{}", dir.display());
    Ok(Published {
        dir,
        quality: Some(validated.quality),
    })
}

/// The run's last line on stderr: where it was published, how much, and how long it took.
fn print_published(
    dir: &std::path::Path,
    files: usize,
    total: u64,
    new_bytes: u64,
    started: chrono::DateTime<chrono::Utc>,
) {
    eprintln!(
        "published `{}` ({} files, {}; {} new on disk) in {:.1} s",
        dir.display(),
        files,
        crate::human_bytes(total),
        crate::human_bytes(new_bytes),
        (chrono::Utc::now() - started).num_milliseconds() as f64 / 1000.0
    );
}

/// Lets the test suite interrupt a run while its staging folder is full.
fn pause_before_commit() {
    if let Ok(ms) = std::env::var("EQUITY_GAP_TEST_PAUSE_BEFORE_COMMIT_MS") {
        std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0)));
    }
}

/// A run whose program, pipeline file, input files and frozen windows are those of the
/// previous run: it publishes the same files, linked, with the index, the quality page and the
/// manifest naming the new run.
fn relink_unchanged(
    plan: &Plan,
    out: &std::path::Path,
    previous: &publish::previous::Previous,
    started: chrono::DateTime<chrono::Utc>,
    mut timings: Vec<Timing>,
) -> Result<Published, Failure> {
    let fail = |e: anyhow::Error| output_failure(out, e);
    let mut staging = Staging::begin(out, &plan.name, started).map_err(|e| fail(e.into()))?;
    let clock = Instant::now();
    let run_id = staging.run_id().to_string();
    let now = || chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let started_at = started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (written, mut manifest) = previous
        .relink_all(staging.dir(), &run_id, (&started_at, &now()))
        .map_err(|e| fail(e.into()))?;
    timings.push(Timing {
        stage: "link",
        ms: clock.elapsed().as_millis(),
    });
    manifest["timings_ms"] = serde_json::to_value(&timings).map_err(Failure::internal)?;
    let reuse = manifest["reuse"].clone();
    staging.adopt(written);
    let json = serde_json::to_vec_pretty(&manifest).map_err(Failure::internal)?;
    staging
        .bytes("manifest.json", &json)
        .map_err(|e| fail(e.into()))?;
    let n_files = staging.written().len();
    let total: u64 = staging.written().iter().map(|w| w.bytes).sum();
    pause_before_commit();
    let dir = staging.commit().map_err(|e| {
        fail(anyhow::Error::new(e).context("cannot move the finished run into place"))
    })?;
    eprintln!(
        "  nothing changed since run {} (the same program, pipeline file, input files and frozen windows): {} packets and {} files linked from it; the index and the data-quality page name this run\n",
        previous.run_id,
        reuse["packets_reused"],
        thousands(reuse["files_linked"].as_u64().unwrap_or(0) as usize),
    );
    let new_bytes = total - reuse["bytes_linked"].as_u64().unwrap_or(0);
    print_published(&dir, n_files, total, new_bytes, started);
    println!("{}", dir.display());
    Ok(Published { dir, quality: None })
}

/// `equity-gap restate PIPELINE WINDOW --reason`: a run that publishes the window's
/// recomputed values and records why.
fn restate(args: &RestateArgs) -> Result<(), Failure> {
    let run = RunArgs {
        pipeline: args.pipeline.clone(),
        out: args.out.clone(),
        schools: None,
        quiet: args.quiet,
        rerender: false,
        restate: Some((args.window.clone(), args.year.clone(), args.reason.clone())),
    };
    run_pipeline(&run).map(|_| ())
}

/// Link every file the run wrote with the same bytes as the previous run's at the same path,
/// and count what was linked and what was written anew.
fn share_with_previous(
    staging: &Staging,
    previous: Option<&publish::previous::Previous>,
    rendered: &render::Rendered,
) -> std::io::Result<publish::previous::Reuse> {
    use publish::previous::Action;
    let (files_linked, bytes_linked) = match previous {
        Some(p) => p.share_identical(staging.dir(), staging.written())?,
        None => (0, 0),
    };
    let written = staging.written();
    // The manifest is written after this count and is always new.
    Ok(publish::previous::Reuse {
        from_run: previous.map(|p| p.run_id.clone()),
        packets_rendered: rendered.count(Action::Rendered),
        packets_reused: rendered.count(Action::Reused),
        files_linked,
        bytes_linked,
        files_written: written.len() - files_linked,
        bytes_written: written.iter().map(|w| w.bytes).sum::<u64>() - bytes_linked,
    })
}

/// What the render stage actually wrote, in one line.
fn render_summary(
    plan: &Plan,
    rendered: &render::Rendered,
    reuse: &publish::previous::Reuse,
) -> String {
    let formats = &plan.outputs.formats;
    let linked = format!(
        "{} files ({}) linked from the previous run, {} written ({})",
        thousands(reuse.files_linked),
        crate::human_bytes(reuse.bytes_linked),
        thousands(reuse.files_written),
        crate::human_bytes(reuse.bytes_written)
    );
    if formats.is_empty() {
        return format!(
            "  no packets or charts (`outputs.formats` is empty); wrote the index and the data-quality page; {linked}"
        );
    }
    let reused = match (&reuse.from_run, reuse.packets_reused) {
        (_, 0) => String::new(),
        (Some(run), n) => format!(", {} unchanged and reused from run {run}", thousands(n)),
        (None, n) => format!(", {} reused", thousands(n)),
    };
    format!(
        "  packets ({}): {} rendered{reused}; {} charts drawn; the index and the data-quality page; {linked}",
        formats
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", "),
        thousands(reuse.packets_rendered),
        thousands(rendered.charts)
    )
}

/// A failure while writing the run: the machine's problem (a full disk, a folder that cannot
/// be written) when an I/O error is behind it, else a bug. Either way nothing was published.
fn output_failure(out: &std::path::Path, e: anyhow::Error) -> Failure {
    let io = e
        .chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some());
    if !io {
        return Failure::internal(e);
    }
    Failure::new(
        EXIT_USAGE,
        e.context(format!(
            "cannot write the run under `{}`; nothing was published",
            out.display()
        )),
    )
    .hint(Some(
        "check that the folder is writable and its disk has free space (or choose another with `--out`); earlier runs are untouched".into(),
    ))
}

/// The latest test date among accepted scores, `YYYY-MM-DD`.
fn data_as_of(validated: &Validated) -> Option<String> {
    let df = validated.table(Table::Assessments)?;
    let c = df.column("test_date").ok()?.cast(&DataType::String).ok()?;
    let max = c.str().ok()?.iter().flatten().max()?.to_string();
    Some(max)
}

/// The school filter of `--schools`, checked against the accepted schools.
fn select_schools(
    validated: &Validated,
    schools: Option<&[String]>,
) -> Result<Option<Vec<String>>, Failure> {
    let Some(wanted) = schools else {
        return Ok(None);
    };
    let known: Vec<String> = validated
        .table(Table::Schools)
        .and_then(|s| s.column("school_id").ok())
        .and_then(|c| c.str().ok().cloned())
        .map(|c| c.iter().flatten().map(str::to_string).collect())
        .unwrap_or_default();
    let refs: Vec<&str> = known.iter().map(String::as_str).collect();
    for w in wanted {
        if !known.contains(w) {
            let hint =
                pipeline::problems::did_you_mean(w, &refs).map(|g| format!("did you mean `{g}`?"));
            return Err(Failure::new(
                EXIT_USAGE,
                anyhow::anyhow!("`--schools`: no school `{w}` in the schools extract"),
            )
            .hint(hint));
        }
    }
    Ok(Some(wanted.to_vec()))
}

fn check_reject_share(plan: &Plan, quality: &Quality) -> Result<(), Failure> {
    let max = plan.validation.max_reject_pct;
    let over: Vec<String> = quality
        .tables
        .iter()
        .filter(|t| t.quarantined_pct() > max)
        .map(|t| format!("{} ({:.1}%)", t.table, t.quarantined_pct()))
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        EXIT_DATA,
        anyhow::anyhow!(
            "more than {max}% of rows were quarantined in {}; nothing was published",
            over.join(", ")
        ),
    )
    .hint(Some(format!(
        "the reasons are listed above; fix the extract or the codebook in `{}`, or raise `validation.max_reject_pct`",
        plan.source.display()
    ))))
}

fn print_quality(q: &Quality) {
    eprintln!(
        "\n  {:<17} {:>10} {:>10} {:>11} {:>9}  reasons",
        "table", "read", "accepted", "quarantined", "excluded"
    );
    for t in &q.tables {
        let reasons: Vec<String> = validate::Reason::ALL
            .iter()
            .filter_map(|r| {
                t.by_reason
                    .get(r.code())
                    .map(|n| format!("{} {}", r.code(), thousands(*n)))
            })
            .collect();
        eprintln!(
            "  {:<17} {:>10} {:>10} {:>11} {:>9}  {}",
            t.table,
            thousands(t.read),
            thousands(t.accepted),
            thousands(t.quarantined),
            thousands(t.excluded),
            reasons.join(", ")
        );
    }
    for note in &q.layout_notes {
        eprintln!("  layout: {note}");
    }
    if q.students_without_demographics > 0 {
        eprintln!(
            "  warning: {} students have scores but no students row for that year ({} scores); they count in `all` only",
            thousands(q.students_without_demographics),
            thousands(q.scores_without_demographics)
        );
    }
    eprintln!();
}

fn print_metrics(plan: &Plan, m: &Metrics) {
    eprintln!(
        "  {:<17} {:>10} {:>11}  why (rule: rows)",
        "metrics", "rows", "suppressed"
    );
    for (name, df) in &m.tables {
        let suppressed = df
            .column("suppressed")
            .ok()
            .and_then(|c| c.bool().ok().map(|b| b.sum().unwrap_or(0) as usize));
        let why = m
            .suppression
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, rules)| {
                rules
                    .iter()
                    .map(|(r, n)| format!("{} {}", r.code(), thousands(*n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        eprintln!(
            "  {:<17} {:>10} {:>11}  {}",
            name,
            thousands(df.height()),
            suppressed.map_or("-".to_string(), thousands),
            why
        );
    }
    if !plan.privacy.complementary {
        eprintln!(
            "  warning: complementary suppression is off (`privacy.complementary = false`): hidden small groups can be worked out by subtraction; do not share this run"
        );
    }
    eprintln!();
}

/// `equity-gap check`: the definition, and that every input can be read with its columns.
fn check(args: &CheckArgs) -> Result<(), Failure> {
    let plan = pipeline::load(&args.pipeline)?;
    let files = ingest::check_inputs(&plan, &crate::progress::Progress::new(false))?;
    let rows: usize = files.iter().map(|f| f.rows).sum();
    println!(
        "ok: pipeline `{}` ({} windows, {} assessments, {} groups, {} gap pairs); {} input files, {} rows",
        plan.name,
        plan.windows.len(),
        plan.assessments.len(),
        plan.groups.len(),
        plan.gaps.pairs.len(),
        files.len(),
        thousands(rows)
    );
    Ok(())
}

fn sample(args: &SampleArgs) -> Result<(), Failure> {
    let truth = crate::sample::write(args).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    eprintln!(
        "wrote a district of {} students in {} schools over {} school years to `{}`",
        thousands(truth.students),
        truth.schools,
        truth.years.len(),
        args.out.display()
    );
    println!("{}", args.out.join("pipeline.toml").display());
    Ok(())
}

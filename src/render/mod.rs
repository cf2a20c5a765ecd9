//! Render: the people-facing outputs, from the metric tables alone. Per school and window of the
//! current school year, a typeset PDF packet, a self-contained HTML packet, and every chart as
//! SVG and PNG under `schools/<id>/<window>/`; for the district, `index.html` for supervisors
//! (with district charts under `district/charts/`) and `quality.html`. Packets are rendered in
//! parallel across schools (rayon); each reads only its own school's rows and the district's.

pub mod charts;
pub mod figures;
pub mod format;
mod html;
mod index;
pub mod model;
mod pdf;
#[cfg(test)]
mod tests;

use crate::canonical::Table;
use crate::ingest::FileRead;
use crate::metrics::{DISTRICT, Metrics};
use crate::pipeline::Plan;
use crate::publish::previous::{Action, PacketRecord, Previous};
use crate::publish::{Written, write_file};
use crate::thousands;
use crate::validate::{Quality, Validated};
use figures::Figure;

pub use model::Provenance;
use model::{Builder, Packet, Rows, School};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What the render stage needs.
pub struct Request<'a> {
    pub plan: &'a Plan,
    pub metrics: &'a Metrics,
    pub validated: &'a Validated,
    pub inputs: &'a [FileRead],
    pub provenance: Provenance,
    /// `--schools`: render only these (the index lists only them).
    pub schools: Option<&'a [String]>,
    /// The previous run of the pipeline, whose packets are reused when their key is unchanged.
    pub previous: Option<&'a Previous>,
    /// `--rerender`: render every packet even when the previous run has it.
    pub rerender: bool,
    /// The frozen windows: their restatements go into their packets, their would-be changes
    /// onto the quality page.
    pub frozen: &'a crate::publish::frozen::Outcome,
}

/// What the render stage wrote.
pub struct Rendered {
    pub files: Vec<Written>,
    /// Every packet of the run, rendered or reused, in school and window order.
    pub packets: Vec<PacketRecord>,
    /// Charts drawn in this run (in rendered packets and on the index).
    pub charts: usize,
}

impl Rendered {
    pub fn count(&self, action: Action) -> usize {
        self.packets.iter().filter(|p| p.action == action).count()
    }
}

#[derive(Clone, Copy, Serialize)]
pub struct Formats {
    pdf: bool,
    html: bool,
    svg: bool,
    png: bool,
}

/// The folder of a school's packet for a window, relative to the run folder.
pub fn packet_dir(school: &str, window: &str) -> String {
    format!("schools/{}/{window}", crate::canonical::folder_name(school))
}

/// Render everything into `dir` (the run's staging folder).
pub fn render(req: &Request, dir: &Path) -> anyhow::Result<Rendered> {
    let plan = req.plan;
    use crate::pipeline::plan::OutputFormat;
    let has = |f| plan.outputs.wants(f);
    let formats = Formats {
        pdf: has(OutputFormat::Pdf),
        html: has(OutputFormat::Html),
        svg: has(OutputFormat::Svg),
        png: has(OutputFormat::Png),
    };
    let mut rows = Rows::read(&req.metrics.tables)?;
    if let Some(state) = req.validated.table(Table::StateResults) {
        rows.read_state(state)?;
    }
    let schools: Vec<School> = match req.validated.table(Table::Schools) {
        Some(df) => model::schools(df)?,
        None => Vec::new(),
    }
    .into_iter()
    .filter(|s| req.schools.is_none_or(|ids| ids.contains(&s.id)))
    .collect();
    let year = model::current_year(&rows);
    let by_school = model::split_by_school(rows);
    let empty = Rows::default();
    let district = by_school.get(DISTRICT).unwrap_or(&empty);

    // Every (school, window) packet of the current year, when the plan asks for packets.
    let mut jobs: Vec<Job> = Vec::new();
    let packets_wanted = formats.pdf || formats.html || formats.svg || formats.png;
    if let Some(year) = year.as_ref().filter(|_| packets_wanted) {
        for s in &schools {
            let own = by_school.get(&s.id).unwrap_or(&empty);
            let b = Builder::new(plan, own, &req.provenance, year);
            let windows = b.windows_of(&s.id);
            for w in &windows {
                let siblings = windows
                    .iter()
                    .filter(|o| *o != w)
                    .map(|o| (label_of(plan, o), format!("../{o}/packet.html")))
                    .collect();
                jobs.push(Job {
                    school: s,
                    window: w.clone(),
                    siblings,
                });
            }
        }
    }
    let line = req.provenance.line();
    let tool = tool_identity()?;
    // Charts, PNGs and the HTML page of every packet, across schools on the rayon pool. The
    // PDFs come second, on their own threads (see `pdf::typeset_all`). A packet whose key the
    // previous run has is linked from it instead.
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("render-{i}"))
        .build()?;
    let results: Vec<anyhow::Result<Drawn>> = pool.install(|| {
        jobs.par_iter()
            .map(
                |Job {
                     school,
                     window,
                     siblings,
                 }| {
                    let own = by_school.get(&school.id).unwrap_or(&empty);
                    let rows = model::with_district(own, district);
                    let year = year.as_deref().unwrap_or_default();
                    let b = Builder::new(plan, &rows, &req.provenance, year);
                    let mut packet = b.packet(school, window, siblings.clone());
                    packet.restatements = req
                        .frozen
                        .restatements(year, window)
                        .iter()
                        .map(|r| model::RestatementNote::of(plan, r, &school.id))
                        .collect();
                    // What changed since the previous published version of the packet: when
                    // its key numbers are unchanged, the comparison it already showed stays.
                    let numbers = packet.key_numbers();
                    let previous = req.previous.and_then(|p| p.packet(&school.id, window));
                    let first_published = match previous {
                        Some(p) if p.numbers == numbers => {
                            packet.since = p.since.clone();
                            p.first_published.clone()
                        }
                        Some(p) if !p.numbers.is_empty() => {
                            let date = run_date(&p.first_published);
                            packet.since = Some(model::since(date, &p.numbers, &numbers));
                            req.provenance.run_id.clone()
                        }
                        _ => req.provenance.run_id.clone(),
                    };
                    let key = packet_key(tool, formats, &packet)?;
                    let record = |action, files: &[Written]| PacketRecord {
                        school: school.id.clone(),
                        window: window.clone(),
                        key: key.clone(),
                        action,
                        files: files.iter().map(|w| w.path.clone()).collect(),
                        numbers: numbers.clone(),
                        first_published: first_published.clone(),
                        since: packet.since.clone(),
                    };
                    if !req.rerender
                        && let Some(previous) = req.previous
                        && let Some(files) = previous.reuse_packet(&key, dir)?
                    {
                        return Ok(Drawn {
                            record: record(Action::Reused, &files),
                            files,
                            charts: 0,
                            pdf: None,
                        });
                    }
                    let mut drawn = write_packet(dir, &packet, &line, formats, &key)?;
                    drawn.record = record(Action::Rendered, &drawn.files);
                    if let Some(pdf) = &drawn.pdf {
                        drawn.record.files.push(pdf.path.clone());
                    }
                    Ok(drawn)
                },
            )
            .collect()
    });
    let mut files = Vec::new();
    let mut n_charts = 0;
    let mut to_typeset = Vec::new();
    let mut packets = Vec::with_capacity(jobs.len());
    for r in results {
        let drawn = r?;
        files.extend(drawn.files);
        n_charts += drawn.charts;
        to_typeset.extend(drawn.pdf);
        packets.push(drawn.record);
    }
    files.extend(pdf::typeset_all(dir, to_typeset)?);

    let (index_files, index_charts) =
        write_index(req, dir, &schools, &by_school, year.as_deref(), formats)?;
    files.extend(index_files);
    n_charts += index_charts;
    files.push(write_quality(req, dir, year.as_deref())?);
    Ok(Rendered {
        files,
        packets,
        charts: n_charts,
    })
}

/// One packet to render: a school, a window, and links to the school's other windows.
struct Job<'a> {
    school: &'a School,
    window: String,
    siblings: Vec<(String, String)>,
}

fn label_of(plan: &Plan, window: &str) -> String {
    plan.windows
        .iter()
        .find(|w| w.id == window)
        .map_or(window.to_string(), |w| w.label.clone())
}

#[derive(Serialize)]
struct FigureView<'a> {
    id: &'a str,
    section: &'a str,
    subject: Option<&'a str>,
    title: &'a str,
    subtitle: &'a str,
    alt: &'a str,
    svg: String,
    table: &'a charts::DataTable,
}

#[derive(Serialize)]
struct PdfFigure<'a> {
    id: &'a str,
    alt: &'a str,
    /// The drawing's size in its own pixels, to scale the labels with it.
    width: u32,
    height: u32,
    labels: Vec<charts::Label>,
}

/// What drawing a packet wrote, and the input of its PDF when one is wanted.
struct Drawn {
    files: Vec<Written>,
    charts: usize,
    pdf: Option<pdf::Job>,
    record: PacketRecord,
}

/// The date of a run, `YYYY-MM-DD`, from its id (`20261123T170512Z`).
fn run_date(run_id: &str) -> String {
    let d = run_id.get(..8).unwrap_or_default();
    match (d.get(..4), d.get(4..6), d.get(6..8)) {
        (Some(y), Some(m), Some(day)) => format!("{y}-{m}-{day}"),
        _ => run_id.to_string(),
    }
}

/// A hash of the running program itself (its code, templates and fonts are all in it), taken
/// once per process: a packet rendered by another build is never taken for an unchanged one.
pub fn tool_identity() -> anyhow::Result<&'static str> {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(id) = ID.get() {
        return Ok(id);
    }
    let exe = std::env::current_exe()?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(&exe)?)?;
    Ok(ID.get_or_init(|| hasher.finalize().to_hex().to_string()))
}

/// The key of a packet: everything it is made from (its model, with the school, window,
/// numbers, provenance line and links; the formats asked for; the program that draws it).
/// Two runs that give a packet the same key write byte-identical files for it.
pub fn packet_key(tool: &str, formats: Formats, packet: &Packet) -> anyhow::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(tool.as_bytes());
    serde_json::to_writer(&mut hasher, &formats)?;
    serde_json::to_writer(&mut hasher, packet)?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn write_packet(
    dir: &Path,
    packet: &Packet,
    provenance: &str,
    formats: Formats,
    key: &str,
) -> anyhow::Result<Drawn> {
    let base = packet_dir(&packet.school.id, &packet.window);
    let figs: Vec<Figure> = figures::figures(packet);
    let mut files = Vec::new();
    let mut views = Vec::new();
    let mut svgs = Vec::new();
    for f in &figs {
        let svg = write_chart(
            dir,
            &format!("{base}/charts"),
            &f.chart,
            provenance,
            formats,
            &mut files,
        )?;
        views.push(FigureView {
            id: &f.chart.id,
            section: f.section,
            subject: f.subject.as_deref(),
            title: &f.chart.title,
            subtitle: &f.chart.subtitle,
            alt: &f.chart.alt,
            svg: svg.clone(),
            table: &f.chart.table,
        });
        svgs.push(svg);
    }
    if formats.html {
        let page = html::page(
            "packet.html",
            minijinja::context! { p => packet, figures => &views, png => formats.png, pdf => formats.pdf },
        )?;
        files.push(write_file(
            dir,
            &format!("{base}/packet.html"),
            page.as_bytes(),
        )?);
    }
    let pdf = if formats.pdf {
        Some(pdf_job(packet, &figs, &svgs, &base, key)?)
    } else {
        None
    };
    Ok(Drawn {
        files,
        charts: figs.len(),
        pdf,
        record: PacketRecord {
            school: packet.school.id.clone(),
            window: packet.window.clone(),
            key: key.to_string(),
            action: Action::Rendered,
            files: Vec::new(),
            numbers: Vec::new(),
            first_published: String::new(),
            since: None,
        },
    })
}

/// The input of a packet's PDF: its JSON (the packet, each figure's drawing size and texts,
/// and the measures of its texts) and its charts' drawings without their texts.
fn pdf_job(
    packet: &Packet,
    figs: &[Figure],
    svgs: &[String],
    base: &str,
    key: &str,
) -> anyhow::Result<pdf::Job> {
    let mut drawings = Vec::with_capacity(figs.len());
    let mut pdf_figs: Vec<PdfFigure> = Vec::with_capacity(figs.len());
    for (f, svg) in figs.iter().zip(svgs) {
        let (drawing, labels) = charts::text_apart(svg);
        drawings.push((f.chart.id.clone(), drawing));
        pdf_figs.push(PdfFigure {
            id: &f.chart.id,
            alt: &f.chart.alt,
            width: charts::WIDTH,
            height: f.chart.height(),
            labels,
        });
    }
    let packet_json = serde_json::to_value(packet)?;
    let measures = pdf::measures(&packet_json, &packet.suppressed_text);
    let data = serde_json::to_vec(&serde_json::json!({
        "packet": packet_json,
        "figures": pdf_figs,
        "measures": measures,
    }))?;
    Ok(pdf::Job {
        path: format!("{base}/packet.pdf"),
        what: format!("packet of `{}` at {}", packet.school.id, packet.window),
        data,
        charts: drawings,
        ident: key.to_string(),
        date: packet.provenance.data_as_of.clone(),
    })
}

/// Draw `chart`, write it under `folder` as SVG and PNG as far as `formats` asks (adding the
/// files to `files`), and return its SVG for the pages that show it.
fn write_chart(
    dir: &Path,
    folder: &str,
    chart: &charts::Chart,
    provenance: &str,
    formats: Formats,
    files: &mut Vec<Written>,
) -> anyhow::Result<String> {
    let drawn = chart.draw(provenance, formats.png)?;
    if formats.svg {
        files.push(write_file(
            dir,
            &format!("{folder}/{}.svg", chart.id),
            drawn.svg.as_bytes(),
        )?);
    }
    if let Some(png) = &drawn.png {
        files.push(write_file(dir, &format!("{folder}/{}.png", chart.id), png)?);
    }
    Ok(drawn.svg)
}

#[allow(clippy::too_many_arguments)]
fn write_index(
    req: &Request,
    dir: &Path,
    schools: &[School],
    by_school: &BTreeMap<String, Rows>,
    year: Option<&str>,
    formats: Formats,
) -> anyhow::Result<(Vec<Written>, usize)> {
    let plan = req.plan;
    // Names link to the HTML packet when there is one, else to the PDF.
    let page = if formats.html {
        "packet.html"
    } else {
        "packet.pdf"
    };
    let ix = index::build(
        plan,
        schools,
        by_school,
        year,
        page,
        formats.pdf && formats.html,
    );
    let line = req.provenance.line();
    let charts = figures::district_charts(&ix.dfs, &ix.gap_changes, &ix.when, ix.basis);
    let mut files = Vec::new();
    let mut views = Vec::new();
    for c in &charts {
        let svg = write_chart(dir, "district/charts", c, &line, formats, &mut files)?;
        views.push(FigureView {
            id: &c.id,
            section: "district",
            subject: None,
            title: &c.title,
            subtitle: &c.subtitle,
            alt: &c.alt,
            svg,
            table: &c.table,
        });
    }
    let page = html::page(
        "index.html",
        minijinja::context! {
            district => &plan.district,
            provenance_line => req.provenance.run_line(),
            when => &ix.when,
            subjects => &ix.heads,
            rows => &ix.rows,
            supervisors => &ix.supervisors,
            levels => &ix.levels,
            flag_kinds => &ix.flag_kinds,
            beside => &ix.beside,
            figures => &views,
            png => formats.png,
            suppressed_text => model::SUPPRESSED_TEXT,
        },
    )?;
    files.push(write_file(dir, "index.html", page.as_bytes())?);
    Ok((files, charts.len()))
}

#[derive(Serialize)]
struct QualityTable {
    table: String,
    read: String,
    accepted: String,
    quarantined: String,
    excluded: String,
    share: String,
}

#[derive(Serialize)]
struct QualityExcluded {
    table: String,
    why: String,
    rows: String,
}

#[derive(Serialize)]
struct QualityReason {
    table: String,
    reason: String,
    rows: String,
    meaning: &'static str,
}

#[derive(Serialize)]
struct QualityFile {
    table: String,
    path: String,
    rows: String,
    sha: String,
}

#[derive(Serialize)]
struct Coverage {
    name: String,
    enrolled: String,
    tested: Vec<String>,
    respondents: String,
}

fn meaning(reason: &str) -> &'static str {
    match reason {
        "missing_required" => "A required field is empty.",
        "bad_type" => "A value is not of the expected type (a number, a date, a school year).",
        "unknown_code" => {
            "A code is not in the codebook or the pipeline's lists (a school, grade, window, group code or item)."
        }
        "out_of_range" => "A value is outside what the scale or item allows.",
        "duplicate_superseded" => {
            "Another row for the same student and test (or item) was kept instead."
        }
        "excluded_by_source" => {
            "Not an error: the file itself marks the row as not counted (see the rows excluded by the file)."
        }
        _ => "",
    }
}

/// Would-be changes of frozen windows listed on the quality page; the manifest has them all.
const QUALITY_CHANGES: usize = 500;

fn write_quality(req: &Request, dir: &Path, year: Option<&str>) -> anyhow::Result<Written> {
    let q: &Quality = &req.validated.quality;
    let tables: Vec<QualityTable> = q
        .tables
        .iter()
        .map(|t| QualityTable {
            table: t.table.to_string(),
            read: thousands(t.read),
            accepted: thousands(t.accepted),
            quarantined: thousands(t.quarantined),
            excluded: thousands(t.excluded),
            share: format!("{:.2}%", t.quarantined_pct()),
        })
        .collect();
    let reasons: Vec<QualityReason> = q
        .tables
        .iter()
        .flat_map(|t| {
            crate::validate::Reason::ALL.iter().filter_map(move |r| {
                t.by_reason.get(r.code()).map(|n| QualityReason {
                    table: t.table.to_string(),
                    reason: r.code().to_string(),
                    rows: thousands(*n),
                    meaning: meaning(r.code()),
                })
            })
        })
        .collect();
    let excluded: Vec<QualityExcluded> = q
        .tables
        .iter()
        .flat_map(|t| {
            t.excluded_by.iter().map(move |(why, n)| QualityExcluded {
                table: t.table.to_string(),
                why: why.clone(),
                rows: thousands(*n),
            })
        })
        .collect();
    let files: Vec<QualityFile> = req
        .inputs
        .iter()
        .map(|f| QualityFile {
            table: f.table.clone(),
            path: f
                .path
                .file_name()
                .map_or(f.path.display().to_string(), |n| {
                    n.to_string_lossy().into_owned()
                }),
            rows: thousands(f.rows),
            sha: f.sha256.chars().take(12).collect(),
        })
        .collect();
    let year = year.unwrap_or_default();
    let windows: Vec<&crate::pipeline::plan::Window> = req.plan.windows.iter().collect();
    let coverage = coverage(req, year, &windows)?;
    let page = html::page(
        "quality.html",
        minijinja::context! {
            district => &req.plan.district,
            run_id => &req.provenance.run_id,
            provenance_line => req.provenance.run_line(),
            quarantine_csv => req.plan.outputs.quarantine_csv,
            tables => &tables,
            reasons => &reasons,
            excluded => &excluded,
            layout_notes => &q.layout_notes,
            without_demographics => format!(
                "{} students had scores but no accepted students row for that school year ({} scores). They count in all students, in every group's comparison group (rest) and in the district roll-up, but in no other group.",
                thousands(q.students_without_demographics),
                thousands(q.scores_without_demographics)
            ),
            files => &files,
            year => year,
            windows => windows.iter().map(|w| w.label.clone()).collect::<Vec<_>>(),
            coverage => &coverage,
            frozen => &req.frozen.windows,
            would_change => &req.frozen.would_change[..req.frozen.would_change.len().min(QUALITY_CHANGES)],
            would_change_count => thousands(req.frozen.would_change.len()),
            would_change_more => req.frozen.would_change.len().saturating_sub(QUALITY_CHANGES),
        },
    )?;
    Ok(write_file(dir, "quality.html", page.as_bytes())?)
}

/// Per school: enrolled students, tested students per window, student survey respondents.
fn coverage(
    req: &Request,
    year: &str,
    windows: &[&crate::pipeline::plan::Window],
) -> anyhow::Result<Vec<Coverage>> {
    let count = |t: Table, id: &str, by: &[&str]| -> PolarsResult<BTreeMap<Vec<String>, u32>> {
        let Some(df) = req.validated.table(t) else {
            return Ok(BTreeMap::new());
        };
        // School years are coded by the year they start (see `validate::codes`).
        let start = crate::canonical::SchoolYear::parse(year).map_or(i32::MIN, |y| y.0);
        let lf = df.clone().lazy().filter(col("school_year").eq(lit(start)));
        let by_cols: Vec<Expr> = by.iter().map(|c| col(*c)).collect();
        // In batches: a state's year of scores is tens of millions of rows.
        let out = crate::metrics::stream(
            lf.group_by(by_cols)
                .agg([col(id).n_unique().cast(DataType::UInt32).alias("n")]),
        )?;
        // Schools are numbered and windows coded (see `validate::ids`); the counts are keyed
        // by their text.
        let out = req.validated.ids.decode(&out)?;
        let keys: Vec<Vec<Option<&str>>> = by
            .iter()
            .map(|c| {
                out.column(c)
                    .and_then(|c| c.str().map(|s| s.iter().collect()))
            })
            .collect::<PolarsResult<_>>()?;
        let n: Vec<Option<u32>> = out.column("n")?.u32()?.iter().collect();
        Ok((0..out.height())
            .map(|i| {
                (
                    keys.iter()
                        .map(|k| k[i].unwrap_or_default().to_string())
                        .collect(),
                    n[i].unwrap_or(0),
                )
            })
            .collect())
    };
    let enrolled = count(Table::Students, "student_id", &["school_id"])?;
    let tested = count(Table::Assessments, "student_id", &["school_id", "window"])?;
    let respondents = match &req.validated.survey {
        Some(survey) => student_respondents(survey, year)?,
        None => BTreeMap::new(),
    };
    let schools = match req.validated.table(Table::Schools) {
        Some(df) => model::schools(df)?,
        None => Vec::new(),
    };
    let get = |m: &BTreeMap<Vec<String>, u32>, k: Vec<String>| {
        thousands(*m.get(&k).unwrap_or(&0) as usize)
    };
    Ok(schools
        .into_iter()
        .filter(|s| req.schools.is_none_or(|ids| ids.contains(&s.id)))
        .map(|s| Coverage {
            enrolled: get(&enrolled, vec![s.id.clone()]),
            tested: windows
                .iter()
                .map(|w| get(&tested, vec![s.id.clone(), w.id.clone()]))
                .collect(),
            respondents: get(&respondents, vec![s.id.clone()]),
            name: s.name,
        })
        .collect())
}

/// Per school, the student respondents of `year`. The responses are coded and in parts by
/// respondent (see `validate::survey_codes` and `validate::parts`), so each part's distinct
/// respondents per school add up.
fn student_respondents(
    survey: &crate::validate::Survey,
    year: &str,
) -> PolarsResult<BTreeMap<Vec<String>, u32>> {
    use crate::validate::survey_codes::RESPONDENT_TYPES;
    let start = crate::canonical::SchoolYear::parse(year).map_or(i32::MIN, |y| y.0);
    let student = RESPONDENT_TYPES
        .iter()
        .position(|r| *r == "student")
        .expect("student is a respondent type") as u32;
    let mut out: BTreeMap<Vec<String>, u32> = BTreeMap::new();
    for part in survey.parts.frames() {
        let counts = part?
            .lazy()
            .filter(
                col("school_year")
                    .eq(lit(start))
                    .and(col("respondent_type").eq(lit(student))),
            )
            .group_by([col("school_id")])
            .agg([col("respondent_id")
                .n_unique()
                .cast(DataType::UInt32)
                .alias("n")])
            .collect()?;
        let schools = counts.column("school_id")?.u32()?;
        let ns = counts.column("n")?.u32()?;
        for (school, n) in schools.iter().zip(ns.iter()) {
            if let (Some(school), Some(n)) = (school, n) {
                let id = survey.codes.schools[school as usize].clone();
                *out.entry(vec![id]).or_default() += n;
            }
        }
    }
    Ok(out)
}

//! The checked plan: a `Spec` resolved against the canonical model and itself. Every cross
//! reference is checked (windows, scales, subjects, groups, constructs), defaults are filled in,
//! and paths are made absolute. Later stages see only a `Plan`.

use super::layout::{self, ColumnSource, Field, Keep, KnownHeader};
use super::presets;
use super::problems::Collector;
use super::spec::{self, Spec};
use crate::canonical::{CodeList, Kind, Table};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A checked pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub district: String,
    /// The pipeline file, as given.
    pub source: PathBuf,
    /// sha256 of the pipeline file's bytes.
    pub source_sha256: String,
    pub inputs: Vec<Input>,
    pub codebook: BTreeMap<String, BTreeMap<String, String>>,
    pub windows: Vec<Window>,
    pub scales: BTreeMap<String, Scale>,
    pub assessments: BTreeMap<String, Assessment>,
    pub growth: Growth,
    pub groups: Vec<GroupDef>,
    pub gaps: Gaps,
    pub constructs: Vec<Construct>,
    pub privacy: Privacy,
    pub validation: Validation,
    pub dashboard: Dashboard,
    pub flags: Flags,
    pub outputs: Outputs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Utf8,
    Windows1252,
    Latin1,
}

/// One extract to read.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub table: Table,
    pub paths: Vec<PathBuf>,
    pub format: Format,
    pub delimiter: u8,
    pub encoding: Encoding,
    pub sheet: Option<String>,
    /// Whether the file's first row names its columns.
    pub header: bool,
    /// The layout preset it starts from, if any.
    pub preset: Option<String>,
    /// Where each canonical column of the table comes from, in the table's order.
    pub columns: Vec<(String, ColumnSource)>,
    /// The extract's own codes per canonical column (vendor value -> canonical value).
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
    /// Rows the file marks as not counted.
    pub keep: Vec<Keep>,
    /// Headers the preset knows, for drift reports.
    pub known_headers: Vec<KnownHeader>,
    /// Built from another input's rows (students from the assessments' demographics at
    /// testing): one row per student and school year, and the column the latest test is
    /// picked by.
    pub derived_from: Option<Table>,
    /// Students built at testing: the date each test was taken, to pick the latest.
    pub when: Option<ColumnSource>,
}

impl Input {
    /// How messages and the quarantine name the source of a canonical column.
    pub fn vendor_name(&self, canonical: &str) -> String {
        self.columns
            .iter()
            .find(|(c, _)| c == canonical)
            .map_or(canonical.to_string(), |(_, s)| s.label())
    }

    /// Where a canonical column comes from.
    pub fn source(&self, canonical: &str) -> Option<&ColumnSource> {
        self.columns
            .iter()
            .find(|(c, _)| c == canonical)
            .map(|(_, s)| s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub id: String,
    pub label: String,
    pub share_of_year: f64,
    /// `closed = true`: the current year's window is frozen (see `publish::frozen`).
    pub closed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cuts {
    pub near: i32,
    pub at: i32,
    pub above: i32,
    pub lowest: i32,
    pub highest: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    pub id: String,
    pub label: String,
    /// subject -> grade -> cuts.
    pub cuts: BTreeMap<String, BTreeMap<i32, Cuts>>,
    /// subject -> grade -> expected annual growth in scale points.
    pub expected_growth: BTreeMap<String, BTreeMap<i32, f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub id: String,
    pub label: String,
    pub scale: String,
    pub windows: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub baseline_window: String,
    pub years_to_standard: Option<u32>,
}

/// A student group: `all` has no column; others are "column holds one of values".
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GroupDef {
    pub id: String,
    pub label: String,
    pub short: String,
    pub column: Option<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    MeanDfs,
    PctMetStandard,
    PctMetGrowthTarget,
}

impl Metric {
    pub const ALL: [Metric; 3] = [
        Metric::MeanDfs,
        Metric::PctMetStandard,
        Metric::PctMetGrowthTarget,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Metric::MeanDfs => "mean_dfs",
            Metric::PctMetStandard => "pct_met_standard",
            Metric::PctMetGrowthTarget => "pct_met_growth_target",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Points(f64),
    Fraction { fraction: f64, years: u32 },
}

impl Target {
    /// Points of gap to close in a year, given the baseline gap.
    pub fn annual_closure(self, baseline_gap: f64) -> f64 {
        match self {
            Target::Points(p) => p,
            Target::Fraction { fraction, years } => fraction / f64::from(years) * baseline_gap,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GapPair {
    pub focal: String,
    /// A group id, `all` or `rest`.
    pub reference: String,
    pub target: Target,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gaps {
    pub metrics: Vec<Metric>,
    pub min_gap: f64,
    pub pairs: Vec<GapPair>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Construct {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Privacy {
    pub min_n_display: u32,
    pub min_n_accountability: u32,
    pub complementary: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub max_reject_pct: f64,
    pub date_formats: Vec<String>,
    pub chunk_rows: usize,
    pub part_rows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub enabled: bool,
    pub min_n_color: u32,
    pub min_n_color_small: u32,
    pub small_groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Flags {
    /// Which change gap flags read.
    pub basis: Basis,
    pub gap_widening: Option<f64>,
    pub bright_spot: bool,
    pub closing_by_decline: bool,
    /// (below_pct, min_n) when enabled.
    pub low_growth: Option<(f64, u32)>,
}

/// The change a gap flag reads (METRICS.md "Flags").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// `cohort_gaps`: the same students a year apart.
    SameStudents,
    /// `gaps.gap_change`: this year's students against last year's.
    CrossSectional,
}

impl Basis {
    pub const ALL: [Basis; 2] = [Basis::SameStudents, Basis::CrossSectional];
    pub fn name(self) -> &'static str {
        match self {
            Basis::SameStudents => "same_students",
            Basis::CrossSectional => "cross_sectional",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outputs {
    /// Where runs publish; `None` means `reports` in the current folder.
    pub dir: Option<PathBuf>,
    pub formats: Vec<OutputFormat>,
    pub quarantine_csv: bool,
}

/// A packet format `outputs.formats` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Pdf,
    Html,
    Svg,
    /// Each chart as a 1600 px bitmap, for slides.
    Png,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Pdf,
        OutputFormat::Html,
        OutputFormat::Svg,
        OutputFormat::Png,
    ];
    /// PNGs are drawn only when asked for: a bitmap of every chart of every packet took a
    /// third of a district's render time and 60% of its bytes, for the few who paste charts
    /// into slides (SVG pastes into most slide tools too).
    pub const DEFAULT: [OutputFormat; 3] =
        [OutputFormat::Pdf, OutputFormat::Html, OutputFormat::Svg];

    /// The name in `outputs.formats`.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Pdf => "pdf",
            OutputFormat::Html => "html",
            OutputFormat::Svg => "svg",
            OutputFormat::Png => "png",
        }
    }
}

impl Outputs {
    pub fn wants(&self, format: OutputFormat) -> bool {
        self.formats.contains(&format)
    }
}

impl Plan {
    pub fn input(&self, table: Table) -> Option<&Input> {
        self.inputs.iter().find(|i| i.table == table)
    }

    pub fn last_window(&self) -> &Window {
        self.windows.last().expect("a plan has at least one window")
    }

    pub fn group(&self, id: &str) -> Option<&GroupDef> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Every subject some scale defines, sorted.
    pub fn subjects(&self) -> BTreeSet<&str> {
        self.scales
            .values()
            .flat_map(|s| s.cuts.keys().map(String::as_str))
            .collect()
    }

    /// The members of a code list that comes from the pipeline definition.
    pub fn code_members(&self, list: CodeList) -> Vec<String> {
        match list {
            CodeList::Window => self.windows.iter().map(|w| w.id.clone()).collect(),
            CodeList::Assessment => self.assessments.keys().cloned().collect(),
            CodeList::Subject => self.subjects().into_iter().map(str::to_string).collect(),
            CodeList::Construct => self.constructs.iter().map(|c| c.id.clone()).collect(),
            CodeList::Group => self.groups.iter().map(|g| g.id.clone()).collect(),
            other => other
                .fixed_members()
                .unwrap_or_default()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// Resolve a parsed spec. `dir` is the pipeline file's folder; relative paths resolve there.
pub fn resolve(
    spec: Spec,
    source: &Path,
    source_sha256: String,
    dir: &Path,
    c: &mut Collector<'_>,
) -> Option<Plan> {
    let name_ok = !spec.name.is_empty()
        && spec
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if !name_ok {
        c.push(
            "name",
            format!(
                "`{}` is not a usable pipeline name: use letters, digits, `-` and `_`",
                spec.name
            ),
        );
    }

    let windows = resolve_windows(&spec.windows, c);
    let window_ids: Vec<&str> = windows.iter().map(|w| w.id.as_str()).collect();
    let scales = resolve_scales(&spec.scales, c);
    let assessments = resolve_assessments(&spec.assessments, &scales, &window_ids, c);

    let growth = Growth {
        baseline_window: match &spec.growth.baseline_window {
            Some(w) if window_ids.contains(&w.as_str()) => w.clone(),
            Some(w) => {
                c.unknown("growth.baseline_window", "window", w, &window_ids);
                String::new()
            }
            None => windows.last().map(|w| w.id.clone()).unwrap_or_default(),
        },
        years_to_standard: match spec.growth.years_to_standard {
            Some(0) => {
                c.push("growth.years_to_standard", "must be at least 1");
                None
            }
            other => other,
        },
    };

    let groups = resolve_groups(&spec.groups, c);
    let group_ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let gaps = resolve_gaps(&spec.gaps, &group_ids, c);

    let constructs: Vec<Construct> = spec
        .survey
        .constructs
        .iter()
        .map(|k| Construct {
            id: k.id.clone(),
            label: k.label.clone().unwrap_or_else(|| k.id.replace('_', " ")),
        })
        .collect();
    let mut seen = BTreeSet::new();
    for (i, k) in constructs.iter().enumerate() {
        if !seen.insert(&k.id) {
            c.push(
                format!("survey.constructs[{i}].id"),
                format!("construct `{}` is listed twice", k.id),
            );
        }
    }

    let inputs = resolve_inputs(&spec.inputs, dir, c);
    if inputs.iter().any(|i| i.table == Table::SurveyResponses) {
        if !inputs.iter().any(|i| i.table == Table::SurveyItems) {
            c.push(
                "inputs.survey_responses",
                "survey responses need `[inputs.survey_items]` to say which construct each item measures",
            );
        }
        if constructs.is_empty() {
            c.push_hint(
                "inputs.survey_responses",
                "survey responses are read but no constructs are defined",
                Some("add `[[survey.constructs]]` entries with `id` and `label`"),
            );
        }
    }

    let codebook = resolve_codebook(&spec.codebook, c);

    let privacy = Privacy {
        min_n_display: positive(
            c,
            "privacy.min_n_display",
            spec.privacy.min_n_display.unwrap_or(11),
        ),
        min_n_accountability: positive(
            c,
            "privacy.min_n_accountability",
            spec.privacy.min_n_accountability.unwrap_or(30),
        ),
        complementary: spec.privacy.complementary.unwrap_or(true),
    };

    let max_reject_pct = spec.validation.max_reject_pct.unwrap_or(5.0);
    if !(0.0..=100.0).contains(&max_reject_pct) {
        c.push(
            "validation.max_reject_pct",
            format!("must be between 0 and 100, found {max_reject_pct}"),
        );
    }
    let date_formats = spec
        .validation
        .date_formats
        .clone()
        .unwrap_or_else(|| vec!["%Y-%m-%d".into(), "%m/%d/%Y".into()]);
    for (i, f) in date_formats.iter().enumerate() {
        if !f.contains('%') {
            c.push(
                format!("validation.date_formats[{i}]"),
                format!("`{f}` is not a strftime format (for example `%Y-%m-%d`)"),
            );
        }
    }

    let chunk_rows = spec
        .validation
        .chunk_rows
        .unwrap_or(crate::ingest::CHUNK_ROWS);
    let part_rows = spec
        .validation
        .part_rows
        .unwrap_or(crate::validate::PART_ROWS);
    for (key, n) in [
        ("validation.chunk_rows", chunk_rows),
        ("validation.part_rows", part_rows),
    ] {
        if n == 0 {
            c.push(key, "must be at least 1, found 0".to_string());
        }
    }

    let small_groups = spec
        .dashboard
        .small_groups
        .clone()
        .unwrap_or_else(|| vec!["foster".into(), "homeless".into()]);
    for (i, g) in small_groups.iter().enumerate() {
        if !group_ids.contains(&g.as_str()) {
            c.unknown(
                format!("dashboard.small_groups[{i}]"),
                "group",
                g,
                &group_ids,
            );
        }
    }
    let dashboard = Dashboard {
        enabled: spec.dashboard.enabled.unwrap_or(false),
        min_n_color: spec.dashboard.min_n_color.unwrap_or(30),
        min_n_color_small: spec.dashboard.min_n_color_small.unwrap_or(15),
        small_groups,
    };

    let f = &spec.flags;
    let basis = match f.basis.as_deref() {
        None => Basis::SameStudents,
        Some(name) => Basis::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .unwrap_or_else(|| {
                let names: Vec<&str> = Basis::ALL.iter().map(|b| b.name()).collect();
                c.unknown("flags.basis".to_string(), "basis", name, &names);
                Basis::SameStudents
            }),
    };
    let flags = Flags {
        basis,
        gap_widening: f
            .gap_widening
            .enabled
            .unwrap_or(true)
            .then(|| f.gap_widening.min_change.unwrap_or(3.0)),
        bright_spot: f.bright_spot.enabled.unwrap_or(true),
        closing_by_decline: f.closing_by_decline.enabled.unwrap_or(true),
        low_growth: f.low_growth.enabled.unwrap_or(true).then(|| {
            (
                f.low_growth.below_pct.unwrap_or(40.0),
                f.low_growth.min_n.unwrap_or(30),
            )
        }),
    };

    let formats = match &spec.outputs.formats {
        None => OutputFormat::DEFAULT.to_vec(),
        Some(names) => {
            let known = OutputFormat::ALL.map(OutputFormat::name);
            let mut formats = Vec::new();
            for (i, f) in names.iter().enumerate() {
                match OutputFormat::ALL.into_iter().find(|o| o.name() == f) {
                    Some(o) => formats.push(o),
                    None => c.unknown(format!("outputs.formats[{i}]"), "format", f, &known),
                }
            }
            formats
        }
    };
    let outputs = Outputs {
        dir: spec.outputs.dir.as_ref().map(|d| normalize(&dir.join(d))),
        formats,
        quarantine_csv: spec.outputs.quarantine_csv.unwrap_or(true),
    };

    let plan = Plan {
        district: spec.district.clone().unwrap_or_else(|| spec.name.clone()),
        name: spec.name,
        source: source.to_path_buf(),
        source_sha256,
        inputs,
        codebook,
        windows,
        scales,
        assessments,
        growth,
        groups,
        gaps,
        constructs,
        privacy,
        validation: Validation {
            max_reject_pct,
            date_formats,
            chunk_rows,
            part_rows,
        },
        dashboard,
        flags,
        outputs,
    };
    check_codebook(&plan, c);
    c.is_empty().then_some(plan)
}

/// Codebook values must be canonical codes of their column.
fn check_codebook(plan: &Plan, c: &mut Collector<'_>) {
    for (column, map) in &plan.codebook {
        let Some(list) = code_list_of(column) else {
            continue;
        };
        let allowed = plan.code_members(list);
        let known: Vec<&str> = allowed.iter().map(String::as_str).collect();
        for (vendor, canonical) in map {
            if list == CodeList::StudentGrade && grade_number(canonical).is_some() {
                continue;
            }
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(canonical)) {
                c.unknown(
                    format!("codebook.{column}.{vendor}"),
                    &format!("{column} code"),
                    canonical,
                    &known,
                );
            }
        }
    }
}

fn positive(c: &mut Collector<'_>, key: &str, n: u32) -> u32 {
    if n == 0 {
        c.push(key, "must be at least 1");
    }
    n
}

/// The grade number of a students-grade code ("5" -> 5); TK and K have none.
pub fn grade_number(code: &str) -> Option<i32> {
    code.trim().parse().ok().filter(|g| (1..=12).contains(g))
}

fn code_list_of(column: &str) -> Option<CodeList> {
    Table::ALL
        .iter()
        .filter_map(|t| t.column(column))
        .find_map(|col| match col.kind {
            Kind::Code(list) => Some(list),
            _ => None,
        })
}

fn resolve_codebook(
    spec: &BTreeMap<String, BTreeMap<String, String>>,
    c: &mut Collector<'_>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut coded: Vec<&str> = Table::ALL
        .iter()
        .flat_map(|t| t.columns())
        .filter(|col| matches!(col.kind, Kind::Code(_)) || col.name == "grade")
        .map(|col| col.name)
        .collect();
    coded.sort_unstable();
    coded.dedup();
    let mut out = BTreeMap::new();
    for (column, map) in spec {
        if !coded.contains(&column.as_str()) {
            c.unknown(format!("codebook.{column}"), "coded column", column, &coded);
            continue;
        }
        out.insert(column.clone(), map.clone());
    }
    out
}

fn resolve_windows(spec: &[spec::WindowSpec], c: &mut Collector<'_>) -> Vec<Window> {
    if spec.is_empty() {
        c.push("windows", "at least one window is needed");
    }
    let mut out: Vec<Window> = Vec::new();
    let mut last_share = 0.0;
    for (i, w) in spec.iter().enumerate() {
        if out.iter().any(|o| o.id == w.id) {
            c.push(
                format!("windows[{i}].id"),
                format!("window `{}` is listed twice", w.id),
            );
        }
        let p = w.share_of_year;
        if !(p > 0.0 && p <= 1.0) {
            c.push(
                format!("windows[{i}].share_of_year"),
                format!("must be greater than 0 and at most 1, found {p}"),
            );
        } else if p <= last_share {
            c.push(
                format!("windows[{i}].share_of_year"),
                format!(
                    "windows are listed in calendar order, so shares must increase: {p} follows {last_share}"
                ),
            );
        }
        last_share = p;
        out.push(Window {
            id: w.id.clone(),
            label: w.label.clone().unwrap_or_else(|| capitalise(&w.id)),
            share_of_year: p,
            closed: w.closed.unwrap_or(false),
        });
    }
    if let Some(last) = spec.last()
        && last.share_of_year != 1.0
        && last.share_of_year > 0.0
        && last.share_of_year <= 1.0
    {
        c.push(
            format!("windows[{}].share_of_year", spec.len() - 1),
            format!(
                "the last window ends the year, so its share must be 1, found {}",
                last.share_of_year
            ),
        );
    }
    out
}

fn resolve_scales(
    spec: &BTreeMap<String, spec::ScaleSpec>,
    c: &mut Collector<'_>,
) -> BTreeMap<String, Scale> {
    if spec.is_empty() {
        c.push_hint(
            "scales",
            "at least one scale is needed",
            Some("add `[scales.sbac]` with `preset = \"smarter_balanced\"`"),
        );
    }
    let mut out = BTreeMap::new();
    for (id, s) in spec {
        let mut scale = Scale {
            id: id.clone(),
            label: s.label.clone().unwrap_or_else(|| id.clone()),
            cuts: BTreeMap::new(),
            expected_growth: BTreeMap::new(),
        };
        match s.preset.as_deref() {
            None => {}
            Some(presets::SMARTER_BALANCED) => {
                for (subject, grade, cuts) in presets::smarter_balanced_cuts() {
                    scale.cuts.entry(subject).or_default().insert(grade, cuts);
                }
                for (subject, grade, g) in presets::smarter_balanced_growth() {
                    scale
                        .expected_growth
                        .entry(subject)
                        .or_default()
                        .insert(grade, g);
                }
            }
            Some(other) => c.unknown(
                format!("scales.{id}.preset"),
                "preset",
                other,
                presets::PRESETS,
            ),
        }
        for (i, row) in s.cuts.iter().enumerate() {
            let key = format!("scales.{id}.cuts[{i}]");
            let Some(cuts) = checked_cuts(row, &key, c) else {
                continue;
            };
            scale
                .cuts
                .entry(row.subject.clone())
                .or_default()
                .insert(row.grade as i32, cuts);
        }
        for (i, row) in s.expected_growth.iter().enumerate() {
            let key = format!("scales.{id}.expected_growth[{i}]");
            let known = scale
                .cuts
                .get(&row.subject)
                .is_some_and(|g| g.contains_key(&(row.grade as i32)));
            if !known {
                c.push(
                    key,
                    format!(
                        "no cut scores for {} grade {} on this scale, so no growth target can use it",
                        row.subject, row.grade
                    ),
                );
                continue;
            }
            if !row.points.is_finite() {
                c.push(format!("{key}.points"), "must be a finite number");
                continue;
            }
            scale
                .expected_growth
                .entry(row.subject.clone())
                .or_default()
                .insert(row.grade as i32, row.points);
        }
        if scale.cuts.is_empty() && s.preset.is_none() {
            c.push_hint(
                format!("scales.{id}"),
                "the scale has no cut scores",
                Some("set `preset = \"smarter_balanced\"` or add `cuts` rows"),
            );
        }
        out.insert(id.clone(), scale);
    }
    out
}

fn checked_cuts(row: &spec::CutSpec, key: &str, c: &mut Collector<'_>) -> Option<Cuts> {
    let fits = |v: i64| i32::try_from(v).ok();
    let (Some(lowest), Some(near), Some(at), Some(above), Some(highest)) = (
        fits(row.lowest),
        fits(row.near),
        fits(row.at),
        fits(row.above),
        fits(row.highest),
    ) else {
        c.push(key, "cut scores must fit in 32 bits");
        return None;
    };
    if !(1..=12).contains(&row.grade) {
        c.push(
            format!("{key}.grade"),
            format!("must be a grade from 1 to 12, found {}", row.grade),
        );
        return None;
    }
    if !(lowest <= near && near < at && at < above && above <= highest) {
        c.push(
            key,
            format!(
                "cut scores must satisfy lowest <= near < at < above <= highest, found {lowest}, {near}, {at}, {above}, {highest}"
            ),
        );
        return None;
    }
    Some(Cuts {
        near,
        at,
        above,
        lowest,
        highest,
    })
}

fn resolve_assessments(
    spec: &BTreeMap<String, spec::AssessmentSpec>,
    scales: &BTreeMap<String, Scale>,
    windows: &[&str],
    c: &mut Collector<'_>,
) -> BTreeMap<String, Assessment> {
    if spec.is_empty() {
        c.push("assessments", "at least one assessment is needed");
    }
    let scale_ids: Vec<&str> = scales.keys().map(String::as_str).collect();
    let mut out = BTreeMap::new();
    for (id, a) in spec {
        if !scales.contains_key(&a.scale) {
            c.unknown(
                format!("assessments.{id}.scale"),
                "scale",
                &a.scale,
                &scale_ids,
            );
        }
        let ws: Vec<String> = match &a.windows {
            None => windows.iter().map(|s| s.to_string()).collect(),
            Some(list) => {
                for (i, w) in list.iter().enumerate() {
                    if !windows.contains(&w.as_str()) {
                        c.unknown(
                            format!("assessments.{id}.windows[{i}]"),
                            "window",
                            w,
                            windows,
                        );
                    }
                }
                list.clone()
            }
        };
        out.insert(
            id.clone(),
            Assessment {
                id: id.clone(),
                label: a.label.clone().unwrap_or_else(|| id.clone()),
                scale: a.scale.clone(),
                windows: ws,
            },
        );
    }
    out
}

const GROUP_COLUMNS: &[&str] = &[
    "grade",
    "gender",
    "race_ethnicity",
    "el_status",
    "swd",
    "sed",
    "foster",
    "homeless",
];

fn resolve_groups(spec: &spec::GroupsSpec, c: &mut Collector<'_>) -> Vec<GroupDef> {
    let mut groups = presets::default_groups();
    let default_ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let default_refs: Vec<&str> = default_ids.iter().map(String::as_str).collect();
    for (i, id) in spec.remove.iter().enumerate() {
        if id == "all" {
            c.push(format!("groups.remove[{i}]"), "`all` cannot be removed");
        } else if !default_refs.contains(&id.as_str()) {
            c.unknown(
                format!("groups.remove[{i}]"),
                "default group",
                id,
                &default_refs,
            );
        }
    }
    groups.retain(|g| !spec.remove.contains(&g.id));
    for (id, def) in &spec.add {
        let key = format!("groups.add.{id}");
        if id == "rest" || groups.iter().any(|g| &g.id == id) {
            c.push(&key, format!("group `{id}` already exists"));
            continue;
        }
        if !GROUP_COLUMNS.contains(&def.column.as_str()) {
            c.unknown(
                format!("{key}.column"),
                "students column",
                &def.column,
                GROUP_COLUMNS,
            );
            continue;
        }
        if def.values.is_empty() {
            c.push(format!("{key}.values"), "at least one value is needed");
        }
        let list = Table::Students
            .column(&def.column)
            .and_then(|col| match col.kind {
                Kind::Code(l) => l.fixed_members(),
                _ => None,
            })
            .unwrap_or_default();
        let mut values = Vec::new();
        for (i, v) in def.values.iter().enumerate() {
            match crate::canonical::canonical_code(list, v) {
                Some(canon) => values.push(canon.to_string()),
                None => c.unknown(
                    format!("{key}.values[{i}]"),
                    &format!("{} code", def.column),
                    v,
                    list,
                ),
            }
        }
        groups.push(GroupDef {
            id: id.clone(),
            label: def.label.clone(),
            short: def.label.clone(),
            column: Some(def.column.clone()),
            values,
        });
    }
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    for (id, label) in &spec.labels {
        match groups.iter_mut().find(|g| &g.id == id) {
            Some(g) => g.label = label.clone(),
            None => {
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                c.unknown(format!("groups.labels.{id}"), "group", id, &refs);
            }
        }
    }
    groups
}

fn resolve_target(t: &spec::TargetSpec, key: &str, c: &mut Collector<'_>) -> Option<Target> {
    match (t.points, t.fraction, t.years) {
        (Some(p), None, None) if p.is_finite() && p >= 0.0 => Some(Target::Points(p)),
        (Some(p), None, None) => {
            c.push(
                format!("{key}.points"),
                format!("must be 0 or more, found {p}"),
            );
            None
        }
        (None, Some(f), Some(k)) if f > 0.0 && f <= 1.0 && k >= 1 => Some(Target::Fraction {
            fraction: f,
            years: k,
        }),
        (None, Some(f), Some(k)) => {
            c.push(
                key,
                format!("`fraction` must be in (0, 1] and `years` at least 1, found {f} and {k}"),
            );
            None
        }
        _ => {
            c.push_hint(
                key,
                "a target is either `{ points = x }` or `{ fraction = f, years = k }`",
                Some("for example `target = { fraction = 0.5, years = 3 }`"),
            );
            None
        }
    }
}

fn resolve_gaps(spec: &spec::GapsSpec, groups: &[&str], c: &mut Collector<'_>) -> Gaps {
    let metrics = match &spec.metrics {
        None => Metric::ALL.to_vec(),
        Some(list) => {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            list.iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    let found = Metric::ALL.into_iter().find(|x| x.name() == m);
                    if found.is_none() {
                        c.unknown(format!("gaps.metrics[{i}]"), "metric", m, &names);
                    }
                    found
                })
                .collect()
        }
    };
    let default_target = match &spec.target {
        Some(t) => resolve_target(t, "gaps.target", c),
        None => None,
    }
    .unwrap_or(Target::Fraction {
        fraction: 0.5,
        years: 3,
    });
    let min_gap = spec.min_gap.unwrap_or(5.0);
    if !(min_gap.is_finite() && min_gap >= 0.0) {
        c.push(
            "gaps.min_gap",
            format!("must be 0 or more, found {min_gap}"),
        );
    }
    let mut pairs = Vec::new();
    match &spec.pairs {
        None => {
            for (f, r) in presets::DEFAULT_PAIRS {
                // Default pairs whose groups were removed are dropped quietly.
                if groups.contains(f) && (groups.contains(r) || *r == "rest") {
                    pairs.push(GapPair {
                        focal: f.to_string(),
                        reference: r.to_string(),
                        target: default_target,
                    });
                }
            }
        }
        Some(list) => {
            let mut refs: Vec<&str> = groups.to_vec();
            refs.push("rest");
            for (i, p) in list.iter().enumerate() {
                let key = format!("gaps.pairs[{i}]");
                if p.focal == "all" {
                    c.push(format!("{key}.focal"), "the focal group cannot be `all`");
                } else if !groups.contains(&p.focal.as_str()) {
                    c.unknown(format!("{key}.focal"), "group", &p.focal, groups);
                }
                if !refs.contains(&p.reference.as_str()) {
                    c.unknown(format!("{key}.reference"), "group", &p.reference, &refs);
                } else if p.reference == p.focal {
                    c.push(
                        format!("{key}.reference"),
                        "a group cannot be compared with itself",
                    );
                }
                let target = match &p.target {
                    Some(t) => resolve_target(t, &format!("{key}.target"), c),
                    None => Some(default_target),
                };
                if let Some(target) = target {
                    pairs.push(GapPair {
                        focal: p.focal.clone(),
                        reference: p.reference.clone(),
                        target,
                    });
                }
            }
        }
    }
    Gaps {
        metrics,
        min_gap,
        pairs,
    }
}

const FORMAT_NAMES: &[&str] = &["csv", "parquet", "xlsx"];
const ENCODINGS: &[&str] = &["utf-8", "windows-1252", "latin-1"];
const DELIMITERS: &[&str] = &[",", "\\t", "tab", "^", "|", ";"];

fn resolve_inputs(spec: &spec::InputsSpec, dir: &Path, c: &mut Collector<'_>) -> Vec<Input> {
    // Every input table by name, so a new one cannot be left out here.
    let spec::InputsSpec {
        schools,
        students,
        assessments,
        survey_items,
        survey_responses,
        state_results,
    } = spec;
    let mut out: Vec<Input> = Vec::new();
    // Without a students input, an assessments preset that carries demographics at testing
    // builds them.
    let implied_students = match (students, &assessments.preset) {
        (None, Some(name)) => layout::preset(name)
            .filter(|p| p.tables.contains_key(Table::Students.name()))
            .map(|_| spec::InputSpec {
                preset: Some(name.clone()),
                ..Default::default()
            }),
        _ => None,
    };
    if students.is_none() && implied_students.is_none() {
        c.push_hint(
            "inputs.students",
            "`[inputs.students]` is required",
            Some("point it at a students extract, or use an assessments preset that carries demographics at testing (`caaspp_student_score_file`)"),
        );
    }
    let entries = [
        (Table::Schools, Some(schools)),
        (
            Table::Students,
            students.as_ref().or(implied_students.as_ref()),
        ),
        (Table::Assessments, Some(assessments)),
        (Table::SurveyItems, survey_items.as_ref()),
        (Table::SurveyResponses, survey_responses.as_ref()),
        (Table::StateResults, state_results.as_ref()),
    ];
    let mut at_testing = None;
    for (table, given) in entries {
        let Some(given) = given else { continue };
        let key = format!("inputs.{}", table.name());
        let (input, known_headers) = match &given.preset {
            None => (None, Vec::new()),
            Some(name) => match layout::preset(name) {
                None => {
                    c.unknown(
                        format!("{key}.preset"),
                        "layout preset",
                        name,
                        &layout::preset_names(),
                    );
                    (None, Vec::new())
                }
                Some(mut preset) => match preset.tables.remove(table.name()) {
                    None => {
                        c.push(
                            format!("{key}.preset"),
                            format!(
                                "the `{name}` layout has no {table} (it has {})",
                                preset.tables.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        );
                        (None, Vec::new())
                    }
                    Some(base) => (Some(layout::overlay(given, base)), preset.headers),
                },
            },
        };
        let input = input.as_ref().unwrap_or(given);
        let at_testing_here = match input.demographics.as_deref() {
            None | Some("enrollment") => false,
            Some("at_testing") if table == Table::Students => true,
            Some(other) if table == Table::Students => {
                c.unknown(
                    format!("{key}.demographics"),
                    "demographics source",
                    other,
                    &["enrollment", "at_testing"],
                );
                false
            }
            Some(_) => {
                c.push(
                    format!("{key}.demographics"),
                    "`demographics` applies only to `[inputs.students]`",
                );
                false
            }
        };
        if at_testing_here {
            if given.path.is_some() {
                c.push_hint(
                    format!("{key}.path"),
                    "students built at testing come from the assessments extract, not a file of their own",
                    Some("remove `path`, or `demographics = \"at_testing\"` to read this file"),
                );
            }
            at_testing = Some((key, input_columns_only(input), known_headers));
            continue;
        }
        let raw_paths: Vec<&String> = match &given.path {
            Some(spec::Paths::One(p)) => vec![p],
            Some(spec::Paths::Many(ps)) => ps.iter().collect(),
            None => Vec::new(),
        };
        if raw_paths.is_empty() {
            c.push(format!("{key}.path"), "at least one path is needed");
            continue;
        }
        let paths: Vec<PathBuf> = raw_paths.iter().map(|p| normalize(&dir.join(p))).collect();
        let ext = paths[0]
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let format = match input.format.as_deref() {
            Some("csv") => Format::Csv,
            Some("parquet") => Format::Parquet,
            Some("xlsx") => Format::Xlsx,
            Some(other) => {
                c.unknown(format!("{key}.format"), "format", other, FORMAT_NAMES);
                Format::Csv
            }
            None => match ext.as_str() {
                "csv" | "txt" | "tsv" | "dat" => Format::Csv,
                "parquet" | "pq" => Format::Parquet,
                "xlsx" => Format::Xlsx,
                _ => {
                    c.push_hint(
                        format!("{key}.path"),
                        format!(
                            "cannot tell the format of `{}` from its extension",
                            raw_paths[0]
                        ),
                        Some("add `format = \"csv\"`, `\"parquet\"` or `\"xlsx\"`"),
                    );
                    Format::Csv
                }
            },
        };
        let delimiter = match input.delimiter.as_deref() {
            None if ext == "tsv" => b'\t',
            None => b',',
            Some("\t") | Some("\\t") | Some("tab") => b'\t',
            Some(d @ ("," | "^" | "|" | ";")) => d.as_bytes()[0],
            Some(other) => {
                c.unknown(format!("{key}.delimiter"), "delimiter", other, DELIMITERS);
                b','
            }
        };
        let encoding = match input
            .encoding
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("utf-8") | Some("utf8") => Encoding::Utf8,
            Some("windows-1252") | Some("cp1252") => Encoding::Windows1252,
            Some("latin-1") | Some("iso-8859-1") | Some("latin1") => Encoding::Latin1,
            Some(other) => {
                c.unknown(format!("{key}.encoding"), "encoding", other, ENCODINGS);
                Encoding::Utf8
            }
        };
        let header = input.header.unwrap_or(true);
        if format != Format::Csv {
            for (field, set) in [
                ("delimiter", input.delimiter.is_some()),
                ("encoding", input.encoding.is_some()),
                ("header", input.header.is_some()),
            ] {
                if set {
                    c.push(
                        format!("{key}.{field}"),
                        format!("`{field}` applies only to CSV files"),
                    );
                }
            }
        }
        if input.sheet.is_some() && format != Format::Xlsx {
            c.push(format!("{key}.sheet"), "`sheet` applies only to XLSX files");
        }
        let (columns, codes, keep) = resolve_columns(table, input, &key, header, c);
        out.push(Input {
            table,
            paths,
            format,
            delimiter,
            encoding,
            sheet: input.sheet.clone(),
            header,
            preset: given.preset.clone(),
            columns,
            codes,
            keep,
            known_headers,
            derived_from: None,
            when: None,
        });
    }
    if let Some((key, students, _)) = at_testing {
        match out.iter().find(|i| i.table == Table::Assessments).cloned() {
            None => c.push(
                format!("{key}.demographics"),
                "students at testing need `[inputs.assessments]`",
            ),
            Some(assessments) => {
                let (columns, codes, _) =
                    resolve_columns(Table::Students, &students, &key, assessments.header, c);
                let when = assessments.source("test_date").cloned();
                out.push(Input {
                    table: Table::Students,
                    preset: assessments.preset.clone(),
                    columns,
                    codes,
                    derived_from: Some(Table::Assessments),
                    when,
                    ..assessments
                });
            }
        }
    }
    out.sort_by_key(|i| i.table);
    out
}

/// An input spec's column map, codes and filters alone (what a derived table reads of it).
fn input_columns_only(input: &spec::InputSpec) -> spec::InputSpec {
    spec::InputSpec {
        columns: input.columns.clone(),
        codes: input.codes.clone(),
        ..Default::default()
    }
}

type ColumnMap = (
    Vec<(String, ColumnSource)>,
    BTreeMap<String, BTreeMap<String, String>>,
    Vec<Keep>,
);

/// Where each canonical column comes from, the extract's codes and its row filters.
fn resolve_columns(
    table: Table,
    input: &spec::InputSpec,
    key: &str,
    header: bool,
    c: &mut Collector<'_>,
) -> ColumnMap {
    let canonical: Vec<&str> = table.columns().iter().map(|col| col.name).collect();
    let mut given: BTreeMap<&str, ColumnSource> = BTreeMap::new();
    let mut vendors: BTreeMap<String, &str> = BTreeMap::new();
    for (canon, value) in &input.columns {
        let at = format!("{key}.columns.{canon}");
        if !canonical.contains(&canon.as_str()) {
            c.unknown(&at, &format!("{} column", table.name()), canon, &canonical);
            continue;
        }
        let Some(source) = layout::column_source(value, &at, header, c) else {
            continue;
        };
        if let ColumnSource::Field(Field::Names(names)) = &source {
            for n in names {
                if let Some(prev) = vendors.insert(n.to_lowercase(), canon.as_str())
                    && prev != canon.as_str()
                {
                    c.push(
                        &at,
                        format!("vendor column `{n}` is already mapped to `{prev}`"),
                    );
                }
            }
        }
        if let ColumnSource::Flags(_) = &source
            && canon != "race_ethnicity"
        {
            c.push(&at, "flag columns give `race_ethnicity` only");
        }
        given.insert(
            canonical[canonical.iter().position(|n| n == canon).unwrap_or(0)],
            source,
        );
    }
    let mut columns = Vec::new();
    for col in table.columns() {
        match given.remove(col.name) {
            Some(source) => columns.push((col.name.to_string(), source)),
            None if !header => {
                if col.required {
                    c.push_hint(
                        format!("{key}.columns.{}", col.name),
                        format!(
                            "a file without a header needs the position of `{}`",
                            col.name
                        ),
                        Some(format!(
                            "add `{} = <position>` under `[{key}.columns]`",
                            col.name
                        )),
                    );
                }
            }
            None => columns.push((
                col.name.to_string(),
                ColumnSource::Field(Field::Names(vec![col.name.to_string()])),
            )),
        }
    }
    for column in input.codes.keys() {
        if !canonical.contains(&column.as_str()) {
            c.unknown(
                format!("{key}.codes.{column}"),
                &format!("{} column", table.name()),
                column,
                &canonical,
            );
        }
    }
    let keep = layout::keeps(input.keep.as_deref().unwrap_or_default(), key, header, c);
    (columns, input.codes.clone(), keep)
}

/// `pipelines/../sample_data/x.csv` -> `sample_data/x.csv`, without touching the file system
/// (so a path that does not exist yet still reads well in messages).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn capitalise(s: &str) -> String {
    let mut ch = s.chars();
    match ch.next() {
        Some(f) => f
            .to_uppercase()
            .chain(ch)
            .collect::<String>()
            .replace('_', " "),
        None => String::new(),
    }
}

//! The pipeline definition exactly as the user wrote it in TOML. Every struct rejects unknown
//! keys; every field's doc comment is its user documentation (`pipelines/REFERENCE.md` mirrors
//! them). Nothing here is checked beyond its TOML type: `plan.rs` turns a `Spec` into a `Plan`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A whole pipeline definition file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name of the pipeline: letters, digits, `-` and `_`. Runs publish under
    /// `<outputs.dir>/<name>/<run id>/`. Required.
    pub name: String,
    /// The district's name as shown on packets and the index. Default: the pipeline name.
    pub district: Option<String>,
    /// The extracts to read, one entry per canonical table. Required.
    pub inputs: InputsSpec,
    /// Vendor codes mapped to canonical codes, per canonical column:
    /// `[codebook.race_ethnicity]` then `"Hispanic or Latino" = "HI"`. Applies to that column in
    /// every table. Canonical codes themselves always pass, in any letter case. Default: empty.
    #[serde(default)]
    pub codebook: BTreeMap<String, BTreeMap<String, String>>,
    /// The assessment windows of a school year, in calendar order. Required, at least one; the
    /// last one has `share_of_year = 1`.
    pub windows: Vec<WindowSpec>,
    /// Score scales by id (for example `sbac`). Required, at least one.
    pub scales: BTreeMap<String, ScaleSpec>,
    /// The assessments registry by assessment id as it appears (after the codebook) in the
    /// assessments extract. Required, at least one.
    pub assessments: BTreeMap<String, AssessmentSpec>,
    /// Year-of-growth settings.
    #[serde(default)]
    pub growth: GrowthSpec,
    /// Student groups: the defaults (see `pipelines/REFERENCE.md`), less `remove`, plus `add`.
    #[serde(default)]
    pub groups: GroupsSpec,
    /// Gap pairs, the metrics they are computed on, and closure targets.
    #[serde(default)]
    pub gaps: GapsSpec,
    /// Survey constructs. Items come from `inputs.survey_items`.
    #[serde(default)]
    pub survey: SurveySpec,
    /// Privacy thresholds.
    #[serde(default)]
    pub privacy: PrivacySpec,
    /// Row-validation settings.
    #[serde(default)]
    pub validation: ValidationSpec,
    /// California School Dashboard status, change and color.
    #[serde(default)]
    pub dashboard: DashboardSpec,
    /// Flag rules.
    #[serde(default)]
    pub flags: FlagsSpec,
    /// What the run publishes and where.
    #[serde(default)]
    pub outputs: OutputsSpec,
}

/// The extracts, one per canonical table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsSpec {
    /// Schools: school_id, school_name, level, supervisor, triad (optional). Required.
    pub schools: InputSpec,
    /// Students, one row per student per school year. With `demographics = "at_testing"` it is
    /// built from the assessments extract and needs no path. Required, unless the assessments'
    /// `preset` can build students at testing (`caaspp_student_score_file`): then, when it is
    /// left out, the students are built from the assessments extract.
    pub students: Option<InputSpec>,
    /// Assessment scores, one row per student per test. Required.
    pub assessments: InputSpec,
    /// Survey items: item_id, construct, respondent_type, scale_min, scale_max, favorable_min,
    /// reversed (optional), text (optional). Required when `survey_responses` is given.
    pub survey_items: Option<InputSpec>,
    /// Survey responses, one row per respondent per item. Optional.
    pub survey_responses: Option<InputSpec>,
    /// The state's and county's published results (the CAASPP research file, preset
    /// `caaspp_research_file`): area (`state`, `county`), area_code, school_year, subject,
    /// group (a pipeline group id), tested, mean_scale_score, pct_met. Shown in packets and the
    /// index beside the school's and the district's for the same year. Optional.
    pub state_results: Option<InputSpec>,
}

/// One extract: where it is, how to read it, and how its columns map to canonical ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// A layout preset from `pipelines/presets/` (for example `caaspp_student_score_file`):
    /// it sets the format, delimiter, encoding, column map, codes and row filters of a real
    /// extract, and knows its header variants. Every key given here overrides the preset's,
    /// `columns` and `codes` entry by entry. Default: none.
    pub preset: Option<String>,
    /// Path of the file, or a list of paths read as one table (for example one per year).
    /// Relative paths resolve against the pipeline file's folder. Required, except for
    /// students built from the assessments (`demographics = "at_testing"`).
    pub path: Option<Paths>,
    /// `csv`, `parquet` or `xlsx`. Default: from the file extension (`.csv`, `.txt`, `.tsv`
    /// are CSV).
    pub format: Option<String>,
    /// CSV field delimiter: `","`, `"\t"` (or `"tab"`), `"^"`, `"|"` or `";"`. Default: `","`,
    /// or tab for `.tsv` files.
    pub delimiter: Option<String>,
    /// CSV text encoding: `utf-8` (a byte-order mark is allowed), `windows-1252` or `latin-1`.
    /// Default: `utf-8`.
    pub encoding: Option<String>,
    /// Whether the first row of a CSV file names its columns. With `header = false`, every
    /// column is given by position (`student_id = 3`, counting from 1). Default: true.
    pub header: Option<bool>,
    /// XLSX worksheet name. Default: the first sheet.
    pub sheet: Option<String>,
    /// Where each canonical column comes from, for columns not under their canonical name:
    /// a vendor column name (`"SSID"`); several names, the first the file has
    /// (`["EthnicityforTesting", "ReportingEthnicity"]`); a position in a header-less file
    /// (`3`); the same value on every row (`{ value = "spring" }`); the school year a date
    /// falls in, July to June (`{ school_year_of = "FinalTestCompletedDate" }`); or race and
    /// ethnicity from yes/blank flag columns (`{ flags = { HI = "HispanicorLatino", ... } }`,
    /// see `pipelines/REFERENCE.md`). Default: empty.
    #[serde(default)]
    pub columns: BTreeMap<String, toml::Value>,
    /// This extract's own codes, per canonical column, applied before the pipeline's
    /// `codebook`: `[inputs.assessments.codes.subject]` then `"01" = "ela"`. Default: empty.
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
    /// Rows the file itself marks as not to be counted: each filter keeps a row only when its
    /// column holds one of `values`. The others are set aside as `excluded_by_source` with the
    /// filter's reason, counted on the quality page. A preset's filters stay and these are
    /// added. Default: none.
    pub keep: Option<Vec<KeepSpec>>,
    /// Students only: `at_testing` builds the students table from the demographics in the
    /// assessments extract (one row per student and school year), as the state's own
    /// reporting does; `enrollment` (the default) reads this input's own file.
    pub demographics: Option<String>,
}

/// A row filter: rows whose `column` is not one of `values` are excluded by the source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepSpec {
    /// The vendor column (a name, or a position in a header-less file).
    pub column: toml::Value,
    /// The values that keep a row (compared after trimming, in any letter case).
    pub values: Vec<String>,
    /// Why the others are excluded, in words for the quality page.
    pub reason: String,
}

/// One path or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Paths {
    One(String),
    Many(Vec<String>),
}

/// A window of the school year.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Window id as it appears (after the codebook) in the extracts, for example `fall`.
    pub id: String,
    /// Plain-language name for packets. Default: the id with a capital letter.
    pub label: Option<String>,
    /// Share of the school year elapsed at this window, greater than 0 and at most 1; the last
    /// window is 1.
    pub share_of_year: f64,
    /// The window of the current school year is closed: its published numbers are frozen
    /// (the first run that finds it closed freezes its own values) and later runs keep them.
    /// Default: false.
    pub closed: Option<bool>,
}

/// A score scale: cut scores, obtainable range and expected growth per subject and grade.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// Plain-language name. Default: the scale id.
    pub label: Option<String>,
    /// Start from shipped tables: `smarter_balanced` (CAASPP ELA and math, grades 3–8 and 11,
    /// with keep-pace expected growth for grades 4–8). Default: none.
    pub preset: Option<String>,
    /// Cut-score rows; a row replaces the preset's row for the same subject and grade.
    #[serde(default)]
    pub cuts: Vec<CutSpec>,
    /// Expected annual growth rows; a row replaces the preset's value for the same subject and
    /// grade. Grades without a value get no growth target.
    #[serde(default)]
    pub expected_growth: Vec<GrowthRowSpec>,
}

/// Cut scores of one subject and grade.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutSpec {
    /// Subject id, for example `ela` or `math`.
    pub subject: String,
    /// Tested grade.
    pub grade: i64,
    /// Level 2 minimum ("standard nearly met").
    pub near: i64,
    /// Level 3 minimum ("standard met"); distance from standard is measured from it.
    pub at: i64,
    /// Level 4 minimum ("standard exceeded").
    pub above: i64,
    /// Lowest obtainable score; lower scores are quarantined as out_of_range.
    pub lowest: i64,
    /// Highest obtainable score; higher scores are quarantined as out_of_range.
    pub highest: i64,
}

/// Expected annual growth of one subject and grade.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrowthRowSpec {
    /// Subject id.
    pub subject: String,
    /// The student's current grade.
    pub grade: i64,
    /// Scale-score points of a year of growth.
    pub points: f64,
}

/// An assessment in the registry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentSpec {
    /// Id of the scale its scores are on. Required.
    pub scale: String,
    /// Plain-language name. Default: the assessment id.
    pub label: Option<String>,
    /// Windows in which it is given. Default: every window.
    pub windows: Option<Vec<String>>,
}

/// Year-of-growth settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrowthSpec {
    /// The window of the previous school year whose scores are the growth baseline.
    /// Default: the last window (last spring's summative).
    pub baseline_window: Option<String>,
    /// Catch-up: a student below standard at baseline is also expected to close
    /// 1/years_to_standard of the distance a year. Default: none (keep pace only).
    pub years_to_standard: Option<u32>,
}

/// Student groups.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsSpec {
    /// Default groups to leave out, by id. Default: none.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Extra groups by id: a predicate over the students row.
    #[serde(default)]
    pub add: BTreeMap<String, GroupDefSpec>,
    /// Plain-language labels replacing the defaults, by group id.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A group definition: students whose `column` holds one of `values`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDefSpec {
    /// Plain-language name, plural ("Newcomer students"). Required.
    pub label: String,
    /// A students column: grade, gender, race_ethnicity, el_status, swd, sed, foster, homeless.
    pub column: String,
    /// Canonical codes that put a student in the group (`["Y"]` for yes/no columns).
    pub values: Vec<String>,
}

/// Gap pairs and targets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapsSpec {
    /// Metrics gaps are computed on: any of `mean_dfs`, `pct_met_standard`,
    /// `pct_met_growth_target`. Default: all three.
    pub metrics: Option<Vec<String>>,
    /// Smallest baseline gap (points) for which closure_pct is computed. Default: 5.
    pub min_gap: Option<f64>,
    /// Target for pairs without their own. Default: `{ fraction = 0.5, years = 3 }`.
    pub target: Option<TargetSpec>,
    /// The pairs. Default: english_learner, swd and sed each against `rest`;
    /// african_american and hispanic against white; female against male.
    pub pairs: Option<Vec<PairSpec>>,
}

/// One gap pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// The focal group's id.
    pub focal: String,
    /// Another group's id, `all`, or `rest` (everyone not in the focal group).
    pub reference: String,
    /// This pair's closure target. Default: `gaps.target`.
    pub target: Option<TargetSpec>,
}

/// A closure target: either `{ points = x }` (close x points a year) or
/// `{ fraction = f, years = k }` (close f of the baseline gap within k years).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Points of gap to close each year.
    pub points: Option<f64>,
    /// Share of the baseline gap to close, greater than 0 and at most 1.
    pub fraction: Option<f64>,
    /// Years over which `fraction` is closed.
    pub years: Option<u32>,
}

/// Survey constructs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveySpec {
    /// The constructs items may belong to. Default: none (then survey inputs are an error).
    #[serde(default)]
    pub constructs: Vec<ConstructSpec>,
}

/// A survey construct.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstructSpec {
    /// Construct id as it appears in the survey items file.
    pub id: String,
    /// Plain-language name ("Sense of belonging"). Default: the id.
    pub label: Option<String>,
}

/// Privacy thresholds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySpec {
    /// Rows with fewer students (respondents) show no values or counts. Default: 11.
    pub min_n_display: Option<u32>,
    /// Both sides of a gap need this many students to raise a flag. Default: 30.
    pub min_n_accountability: Option<u32>,
    /// Complementary suppression: also hide rows from which a hidden small group could be
    /// worked out by subtraction (METRICS.md, "Privacy suppression"). Default: true. Turn it
    /// off only to test the disclosure audit; a run without it is marked so in its summary
    /// and manifest.
    pub complementary: Option<bool>,
}

/// Row-validation settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    /// Fail the run (exit 1, nothing published) when more than this percentage of any table's
    /// rows is quarantined. Default: 5.
    pub max_reject_pct: Option<f64>,
    /// strftime formats tried in order for dates. Default: `["%Y-%m-%d", "%m/%d/%Y"]`.
    pub date_formats: Option<Vec<String>>,
    /// Rows parsed and checked at a time. Default: 1,048,576.
    pub chunk_rows: Option<usize>,
    /// Survey responses in one part: a larger table is split by respondent into parts kept
    /// on disk and checked and summarised one part at a time; scores are placed on their
    /// scale at most this many (or 4,194,304) at a time. Default: 33,554,432.
    pub part_rows: Option<usize>,
}

/// California School Dashboard settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSpec {
    /// Compute the `dashboard` table. Default: false.
    pub enabled: Option<bool>,
    /// Students needed in both years for a color. Default: 30.
    pub min_n_color: Option<u32>,
    /// The lower color threshold for small populations. Default: 15.
    pub min_n_color_small: Option<u32>,
    /// Groups that use `min_n_color_small`. Default: `["foster", "homeless"]`.
    pub small_groups: Option<Vec<String>>,
}

/// Flag rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsSpec {
    /// Which change gap flags read: `same_students` (default) or `cross_sectional`.
    pub basis: Option<String>,
    /// A gap widened by more than `min_change` points, distinguishably.
    #[serde(default)]
    pub gap_widening: GapWideningSpec,
    /// A gap narrowed distinguishably, not by decline.
    #[serde(default)]
    pub bright_spot: ToggleSpec,
    /// A gap narrowed distinguishably mostly because the reference group fell.
    #[serde(default)]
    pub closing_by_decline: ToggleSpec,
    /// Few students met their year-of-growth target.
    #[serde(default)]
    pub low_growth: LowGrowthSpec,
}

/// A rule that can be switched off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToggleSpec {
    /// Default: true.
    pub enabled: Option<bool>,
}

/// The gap-widening rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapWideningSpec {
    /// Default: true.
    pub enabled: Option<bool>,
    /// Points of widening needed. Default: 3.
    pub min_change: Option<f64>,
}

/// The low-growth rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowGrowthSpec {
    /// Default: true.
    pub enabled: Option<bool>,
    /// Flag when fewer than this percentage of students met their target. Default: 40.
    pub below_pct: Option<f64>,
    /// Students with a baseline needed. Default: 30.
    pub min_n: Option<u32>,
}

/// Outputs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsSpec {
    /// Folder runs publish under, relative to the pipeline file; `--out` overrides it.
    /// Default: `reports` in the current folder.
    pub dir: Option<String>,
    /// Packet formats: any of `pdf`, `html`, `svg`, `png`. Default: `pdf`, `html`, `svg`.
    pub formats: Option<Vec<String>>,
    /// Also write the quarantine table as CSV for analysts. Default: true.
    pub quarantine_csv: Option<bool>,
}

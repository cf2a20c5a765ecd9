//! The report model: plain data read off the metric tables, one `Packet` per school and window
//! and one `Index` for the district. Every number a reader sees is formatted here, once, so
//! the PDF, the HTML and the charts' data tables show the same text. A suppressed row carries
//! no value at all from this point on: only its label and the suppression note.

use super::format::{pct, points, points_plain, signed_pct, signed_points};
use crate::metrics::flags::{FlagKind, group_phrase, is_closing_by_decline, possessive};
use crate::metrics::{DISTRICT, Z95};
use crate::pipeline::Plan;
use crate::pipeline::plan::Target;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a packet shows in place of a suppressed row's values: the same words for a group below
/// `min_n_display` and for a larger group hidden so that a smaller one cannot be worked out,
/// since telling them apart would say which groups are small.
pub const SUPPRESSED_TEXT: &str = "not shown to protect small groups";

/// Where a page's numbers come from; printed on every page and chart.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The latest test date among accepted scores (else the run date), `YYYY-MM-DD`.
    pub data_as_of: String,
    /// Named on the index and the quality page, never in a packet: a packet is the same file
    /// in every run that gives it the same numbers.
    #[serde(skip)]
    pub run_id: String,
    pub pipeline: String,
    /// The first 12 hex digits of the pipeline file's sha256.
    pub pipeline_hash: String,
    pub tool_version: String,
}

impl Provenance {
    /// The line under every chart and packet page.
    pub fn line(&self) -> String {
        format!(
            "Data as of {} · pipeline {} ({}) · equity-gap {}",
            self.data_as_of, self.pipeline, self.pipeline_hash, self.tool_version
        )
    }

    /// The line of the index and the quality page, which also name the run.
    pub fn run_line(&self) -> String {
        format!("{} · run {}", self.line(), self.run_id)
    }
}

/// One row of the `schools` table.
#[derive(Debug, Clone, Serialize)]
pub struct School {
    pub id: String,
    pub name: String,
    pub level: String,
    pub supervisor: String,
    pub triad: String,
}

/// The metric rows the render stage reads, typed.
#[derive(Debug, Default)]
pub struct Rows {
    pub baselines: Vec<Baseline>,
    pub growth: Vec<Growth>,
    pub gaps: Vec<Gap>,
    pub cohort_change: Vec<Matched>,
    pub cohort_gaps: Vec<CohortGap>,
    pub survey: Vec<Survey>,
    pub dashboard: Vec<Dashboard>,
    pub flags: Vec<Flag>,
    /// The state's and county's published results (`state_results`), when given.
    pub state: Vec<StateResult>,
}

/// One published result of the state or a county.
#[derive(Debug, Clone)]
pub struct StateResult {
    pub area: String,
    pub area_code: String,
    pub school_year: String,
    pub subject: String,
    pub group: String,
    pub pct_met: Option<f64>,
}

impl Rows {
    /// The accepted `state_results` table's rows.
    pub fn read_state(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let c = Cols(df);
        let [area, code, year, subject, group] =
            ["area", "area_code", "school_year", "subject", "group"].map(|k| c.text(k));
        let (area, code, year, subject, group) = (area?, code?, year?, subject?, group?);
        let met = c.f64("pct_met")?;
        self.state = (0..df.height())
            .map(|i| StateResult {
                area: area[i].clone(),
                area_code: code[i].clone(),
                school_year: year[i].clone(),
                subject: subject[i].clone(),
                group: group[i].clone(),
                pct_met: met[i],
            })
            .collect();
        Ok(())
    }

    /// The state's and (when one county is given) the county's % met standard for a year,
    /// subject and group: (state, county).
    pub fn state_pct_met(
        &self,
        year: &str,
        subject: &str,
        group: &str,
    ) -> (Option<f64>, Option<f64>) {
        let of = |area: &str| {
            self.state
                .iter()
                .find(|r| {
                    r.area == area
                        && r.school_year == year
                        && r.subject == subject
                        && r.group == group
                })
                .and_then(|r| r.pct_met)
        };
        let county = if self.single_county().is_some() {
            of("county")
        } else {
            None
        };
        (of("state"), county)
    }

    /// The county code, when the state results hold exactly one county.
    pub fn single_county(&self) -> Option<&str> {
        let mut codes = self
            .state
            .iter()
            .filter(|r| r.area == "county")
            .map(|r| r.area_code.as_str());
        let first = codes.next()?;
        codes.all(|c| c == first).then_some(first)
    }

    /// Whether the state results have a row (published or suppressed) for this year, subject
    /// and group.
    pub fn has_state_group(&self, year: &str, subject: &str, group: &str) -> bool {
        self.state
            .iter()
            .any(|r| r.school_year == year && r.subject == subject && r.group == group)
    }

    /// Whether any state result is for this year and subject.
    pub fn has_state(&self, year: &str, subject: &str) -> bool {
        self.state
            .iter()
            .any(|r| r.school_year == year && r.subject == subject)
    }
}

/// (school_year, window, assessment, subject, group) of a cell.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellKey {
    pub school_id: String,
    pub school_year: String,
    pub window: String,
    pub assessment: String,
    pub subject: String,
}

#[derive(Debug, Clone)]
pub struct Baseline {
    pub key: CellKey,
    pub group: String,
    pub n: Option<i64>,
    pub mean_dfs: Option<f64>,
    pub bands: Option<[f64; 4]>,
    pub pct_met: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Growth {
    pub key: CellKey,
    pub group: String,
    pub n_with_baseline: Option<i64>,
    pub mean_growth: Option<f64>,
    pub median_growth: Option<f64>,
    pub pct_met: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Gap {
    pub key: CellKey,
    pub metric: String,
    pub focal: String,
    pub reference: String,
    pub n_focal: Option<i64>,
    pub n_reference: Option<i64>,
    pub gap: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub distinguishable: Option<bool>,
    pub baseline_gap: Option<f64>,
    pub baseline_se: Option<f64>,
    pub gap_change: Option<f64>,
    pub change_se: Option<f64>,
    pub change_distinguishable: Option<bool>,
    pub focal_change: Option<f64>,
    pub reference_change: Option<f64>,
    pub target_gap: Option<f64>,
    pub on_track: Option<bool>,
    pub suppressed: bool,
}

/// A `cohort_change` row: how many of a group's students were also tested here a year
/// earlier, and their average change.
#[derive(Debug, Clone)]
pub struct Matched {
    pub key: CellKey,
    pub group: String,
    pub n_matched: Option<i64>,
    pub mean_change: Option<f64>,
    pub suppressed: bool,
}

/// A `cohort_gaps` row: a pair's change in gap among the same students.
#[derive(Debug, Clone)]
pub struct CohortGap {
    pub key: CellKey,
    pub focal: String,
    pub reference: String,
    pub n_focal: Option<i64>,
    pub n_reference: Option<i64>,
    pub focal_change: Option<f64>,
    pub reference_change: Option<f64>,
    pub gap_change: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub distinguishable: Option<bool>,
    pub suppressed: bool,
}

#[derive(Debug, Clone)]
pub struct Survey {
    pub school_id: String,
    pub school_year: String,
    pub window: String,
    pub respondent_type: String,
    pub construct: String,
    pub group: String,
    pub n_respondents: Option<i64>,
    pub pct_favorable: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub school_id: String,
    pub school_year: String,
    pub assessment: String,
    pub subject: String,
    pub group: String,
    pub n: Option<i64>,
    pub status: Option<f64>,
    pub change: Option<f64>,
    pub status_level: Option<i32>,
    pub change_level: Option<i32>,
    pub color: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub school_id: String,
    pub school_year: String,
    pub window: String,
    pub subject: String,
    pub flag: String,
    pub focal_group: String,
    pub reference_group: Option<String>,
    pub reason: String,
}

/// Typed access to a frame's columns by name.
struct Cols<'a>(&'a DataFrame);

impl<'a> Cols<'a> {
    fn str(&self, name: &str) -> PolarsResult<Vec<Option<&'a str>>> {
        Ok(self.0.column(name)?.str()?.iter().collect())
    }
    fn text(&self, name: &str) -> PolarsResult<Vec<String>> {
        Ok(self
            .str(name)?
            .into_iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect())
    }
    fn f64(&self, name: &str) -> PolarsResult<Vec<Option<f64>>> {
        let c = self.0.column(name)?.cast(&DataType::Float64)?;
        Ok(c.f64()?.iter().collect())
    }
    fn i64(&self, name: &str) -> PolarsResult<Vec<Option<i64>>> {
        let c = self.0.column(name)?.cast(&DataType::Int64)?;
        Ok(c.i64()?.iter().collect())
    }
    fn bool(&self, name: &str) -> PolarsResult<Vec<Option<bool>>> {
        Ok(self.0.column(name)?.bool()?.iter().collect())
    }
    fn keys(&self) -> PolarsResult<Vec<CellKey>> {
        let [s, y, w, a, j] = [
            "school_id",
            "school_year",
            "window",
            "assessment",
            "subject",
        ]
        .map(|c| self.text(c));
        let (s, y, w, a, j) = (s?, y?, w?, a?, j?);
        Ok((0..self.0.height())
            .map(|i| CellKey {
                school_id: s[i].clone(),
                school_year: y[i].clone(),
                window: w[i].clone(),
                assessment: a[i].clone(),
                subject: j[i].clone(),
            })
            .collect())
    }
}

impl Rows {
    /// Read the metric tables (any that are missing stay empty).
    pub fn read(tables: &[(&str, DataFrame)]) -> PolarsResult<Rows> {
        let mut rows = Rows::default();
        for (name, df) in tables {
            let c = Cols(df);
            match *name {
                "baselines" => {
                    let (keys, group, n) = (c.keys()?, c.text("group")?, c.i64("n")?);
                    let mean = c.f64("mean_dfs")?;
                    let b = ["pct_below", "pct_near", "pct_at", "pct_above"].map(|k| c.f64(k));
                    let [b0, b1, b2, b3] = b;
                    let (b0, b1, b2, b3) = (b0?, b1?, b2?, b3?);
                    let met = c.f64("pct_met_standard")?;
                    rows.baselines = keys
                        .into_iter()
                        .enumerate()
                        .map(|(i, key)| Baseline {
                            key,
                            group: group[i].clone(),
                            n: n[i],
                            mean_dfs: mean[i],
                            bands: match (b0[i], b1[i], b2[i], b3[i]) {
                                (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
                                _ => None,
                            },
                            pct_met: met[i],
                        })
                        .collect();
                }
                "growth" => {
                    let (keys, group) = (c.keys()?, c.text("group")?);
                    let n = c.i64("n_with_baseline")?;
                    let (mean, median) = (c.f64("mean_growth")?, c.f64("median_growth")?);
                    let met = c.f64("pct_met_growth_target")?;
                    rows.growth = keys
                        .into_iter()
                        .enumerate()
                        .map(|(i, key)| Growth {
                            key,
                            group: group[i].clone(),
                            n_with_baseline: n[i],
                            mean_growth: mean[i],
                            median_growth: median[i],
                            pct_met: met[i],
                        })
                        .collect();
                }
                "gaps" => {
                    let keys = c.keys()?;
                    let [metric, focal, reference] =
                        ["metric", "focal_group", "reference_group"].map(|k| c.text(k));
                    let (metric, focal, reference) = (metric?, focal?, reference?);
                    let [nf, nr] = ["n_focal", "n_reference"].map(|k| c.i64(k));
                    let (nf, nr) = (nf?, nr?);
                    let f = |k: &str| c.f64(k);
                    let (gap, lo, hi, se) = (f("gap")?, f("ci_low")?, f("ci_high")?, f("se")?);
                    let (bgap, change, cse) =
                        (f("baseline_gap")?, f("gap_change")?, f("change_se")?);
                    let (fc, rc, tg) =
                        (f("focal_change")?, f("reference_change")?, f("target_gap")?);
                    let (dist, cdist, on_track, supp) = (
                        c.bool("distinguishable")?,
                        c.bool("change_distinguishable")?,
                        c.bool("on_track")?,
                        c.bool("suppressed")?,
                    );
                    rows.gaps = keys
                        .into_iter()
                        .enumerate()
                        .map(|(i, key)| Gap {
                            key,
                            metric: metric[i].clone(),
                            focal: focal[i].clone(),
                            reference: reference[i].clone(),
                            n_focal: nf[i],
                            n_reference: nr[i],
                            gap: gap[i],
                            ci: lo[i].zip(hi[i]),
                            distinguishable: dist[i],
                            baseline_gap: bgap[i],
                            // change_se² = se² + baseline_se².
                            baseline_se: cse[i]
                                .zip(se[i])
                                .map(|(c, s)| (c * c - s * s).max(0.0).sqrt()),
                            gap_change: change[i],
                            change_se: cse[i],
                            change_distinguishable: cdist[i],
                            focal_change: fc[i],
                            reference_change: rc[i],
                            target_gap: tg[i],
                            on_track: on_track[i],
                            suppressed: supp[i].unwrap_or(true),
                        })
                        .collect();
                }
                "cohort_change" => {
                    let (keys, group) = (c.keys()?, c.text("group")?);
                    let (n, mean) = (c.i64("n_matched")?, c.f64("mean_change")?);
                    let supp = c.bool("suppressed")?;
                    rows.cohort_change = keys
                        .into_iter()
                        .enumerate()
                        .map(|(i, key)| Matched {
                            key,
                            group: group[i].clone(),
                            n_matched: n[i],
                            mean_change: mean[i],
                            suppressed: supp[i].unwrap_or(true),
                        })
                        .collect();
                }
                "cohort_gaps" => {
                    let keys = c.keys()?;
                    let (focal, reference) = (c.text("focal_group")?, c.text("reference_group")?);
                    let (nf, nr) = (c.i64("n_focal")?, c.i64("n_reference")?);
                    let f = |k: &str| c.f64(k);
                    let (fc, rc, change) =
                        (f("focal_change")?, f("reference_change")?, f("gap_change")?);
                    let (lo, hi) = (f("ci_low")?, f("ci_high")?);
                    let (dist, supp) = (c.bool("distinguishable")?, c.bool("suppressed")?);
                    rows.cohort_gaps = keys
                        .into_iter()
                        .enumerate()
                        .map(|(i, key)| CohortGap {
                            key,
                            focal: focal[i].clone(),
                            reference: reference[i].clone(),
                            n_focal: nf[i],
                            n_reference: nr[i],
                            focal_change: fc[i],
                            reference_change: rc[i],
                            gap_change: change[i],
                            ci: lo[i].zip(hi[i]),
                            distinguishable: dist[i],
                            suppressed: supp[i].unwrap_or(true),
                        })
                        .collect();
                }
                "survey" => {
                    let [s, y, w, t, k, g] = [
                        "school_id",
                        "school_year",
                        "window",
                        "respondent_type",
                        "construct",
                        "group",
                    ]
                    .map(|k| c.text(k));
                    let (s, y, w, t, k, g) = (s?, y?, w?, t?, k?, g?);
                    let (n, p) = (c.i64("n_respondents")?, c.f64("pct_favorable")?);
                    rows.survey = (0..df.height())
                        .map(|i| Survey {
                            school_id: s[i].clone(),
                            school_year: y[i].clone(),
                            window: w[i].clone(),
                            respondent_type: t[i].clone(),
                            construct: k[i].clone(),
                            group: g[i].clone(),
                            n_respondents: n[i],
                            pct_favorable: p[i],
                        })
                        .collect();
                }
                "dashboard" => {
                    let [s, y, a, j, g] =
                        ["school_id", "school_year", "assessment", "subject", "group"]
                            .map(|k| c.text(k));
                    let (s, y, a, j, g) = (s?, y?, a?, j?, g?);
                    let (n, status, change) = (c.i64("n")?, c.f64("status")?, c.f64("change")?);
                    let lvl = |k: &str| -> PolarsResult<Vec<Option<i32>>> {
                        Ok(c.i64(k)?.into_iter().map(|v| v.map(|v| v as i32)).collect())
                    };
                    let (sl, cl, color) =
                        (lvl("status_level")?, lvl("change_level")?, lvl("color")?);
                    rows.dashboard = (0..df.height())
                        .map(|i| Dashboard {
                            school_id: s[i].clone(),
                            school_year: y[i].clone(),
                            assessment: a[i].clone(),
                            subject: j[i].clone(),
                            group: g[i].clone(),
                            n: n[i],
                            status: status[i],
                            change: change[i],
                            status_level: sl[i],
                            change_level: cl[i],
                            color: color[i],
                        })
                        .collect();
                }
                "flags" => {
                    let [s, y, w, j, f, g, r] = [
                        "school_id",
                        "school_year",
                        "window",
                        "subject",
                        "flag",
                        "focal_group",
                        "reason",
                    ]
                    .map(|k| c.text(k));
                    let (s, y, w, j, f, g, r) = (s?, y?, w?, j?, f?, g?, r?);
                    let reference = c.str("reference_group")?;
                    rows.flags = (0..df.height())
                        .map(|i| Flag {
                            school_id: s[i].clone(),
                            school_year: y[i].clone(),
                            window: w[i].clone(),
                            subject: j[i].clone(),
                            flag: f[i].clone(),
                            focal_group: g[i].clone(),
                            reference_group: reference[i].map(str::to_string),
                            reason: r[i].clone(),
                        })
                        .collect();
                }
                _ => {}
            }
        }
        Ok(rows)
    }
}

/// The schools table, in school-id order.
pub fn schools(df: &DataFrame) -> PolarsResult<Vec<School>> {
    let c = Cols(df);
    let [id, name, level, supervisor] =
        ["school_id", "school_name", "level", "supervisor"].map(|k| c.text(k));
    let (id, name, level, supervisor) = (id?, name?, level?, supervisor?);
    let triad = match df.column("triad") {
        Ok(_) => c.text("triad")?,
        Err(_) => vec![String::new(); df.height()],
    };
    let mut out: Vec<School> = (0..df.height())
        .map(|i| School {
            id: id[i].clone(),
            name: name[i].clone(),
            level: level[i].clone(),
            supervisor: supervisor[i].clone(),
            triad: triad[i].clone(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A value shown beside its group, or the suppression note.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub group: String,
    pub label: String,
    /// The label charts use.
    pub short: String,
    /// `None` when the group is below the display threshold.
    pub n: Option<String>,
    pub suppressed: bool,
}

/// One group's row in the baselines section.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineRow {
    #[serde(flatten)]
    pub who: Shown,
    pub mean_dfs: Option<String>,
    pub pct_met: Option<String>,
    pub bands: Option<[String; 4]>,
    pub district_mean_dfs: Option<String>,
    #[serde(skip)]
    pub values: Option<(f64, [f64; 4])>,
    #[serde(skip)]
    pub district: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrowthRow {
    #[serde(flatten)]
    pub who: Shown,
    pub pct_met: Option<String>,
    pub mean_growth: Option<String>,
    pub median_growth: Option<String>,
    pub district_pct_met: Option<String>,
    #[serde(skip)]
    pub value: Option<f64>,
    #[serde(skip)]
    pub district: Option<f64>,
}

/// A pair's change in gap among the students tested here both years.
#[derive(Debug, Clone, Serialize)]
pub struct SameStudents {
    pub suppressed: bool,
    /// Who it covers: "412 students" or "30 female students and 30 male students".
    pub students: Option<String>,
    pub change: Option<String>,
    pub interval: Option<String>,
    /// The plain sentence: "Among the 412 students tested here both years, the gap narrowed
    /// by 9.5 points (95% range 2.3 to 16.7)."
    pub sentence: String,
    pub closing_by_decline: bool,
    #[serde(skip)]
    pub value: Option<(f64, Option<(f64, f64)>)>,
}

/// One gap pair in a subject, at the packet's window, with its path across the year.
#[derive(Debug, Clone, Serialize)]
pub struct GapRow {
    pub pair: String,
    /// The pair in short labels, for charts.
    pub short: String,
    pub focal_label: String,
    pub reference_label: String,
    pub metric: String,
    pub suppressed: bool,
    pub gap: Option<String>,
    pub interval: Option<String>,
    pub baseline_gap: Option<String>,
    pub gap_change: Option<String>,
    pub target_gap: Option<String>,
    pub on_track: Option<String>,
    /// The decomposition of the change, in words.
    pub story: String,
    pub closing_by_decline: bool,
    /// The change among the same students, where the pair has a `cohort_gaps` row.
    pub same: Option<SameStudents>,
    /// The cross-sectional change with its 95% range, for the change chart.
    #[serde(skip)]
    pub change: Option<(f64, Option<(f64, f64)>)>,
    #[serde(skip)]
    pub now: Option<(f64, Option<(f64, f64)>)>,
    #[serde(skip)]
    pub then: Option<(f64, Option<f64>)>,
    /// The gap at each window of the year.
    #[serde(skip)]
    pub path: Vec<PathPoint>,
}

/// A gap at one window: this year, a year earlier, and its target.
#[derive(Debug, Clone)]
pub struct PathPoint {
    pub window: String,
    pub now: Option<f64>,
    pub then: Option<f64>,
    pub target: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Glance {
    pub subject: String,
    pub assessment: String,
    pub rows: Vec<GlanceRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GlanceRow {
    pub measure: String,
    pub school: String,
    pub district: String,
    pub change: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DashboardRow {
    #[serde(flatten)]
    pub who: Shown,
    pub status: Option<String>,
    pub status_level: Option<String>,
    pub change: Option<String>,
    pub change_level: Option<String>,
    pub color: Option<String>,
    /// 1 (Red) … 5 (Blue), for the swatch.
    pub color_code: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DashboardTable {
    pub subject: String,
    pub school_year: String,
    pub rows: Vec<DashboardRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveyCell {
    pub value: Option<String>,
    pub n: Option<String>,
    pub suppressed: bool,
    #[serde(skip)]
    pub pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveyRow {
    pub construct: String,
    pub respondent: String,
    pub cell: SurveyCell,
    pub district: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveyGroupRow {
    pub label: String,
    pub cells: Vec<SurveyCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveySection {
    /// "Spring 2024-25": the latest administration up to the packet's window.
    pub when: String,
    pub constructs: Vec<SurveyRow>,
    /// Student constructs (column heads) and one row per student group.
    pub group_heads: Vec<String>,
    pub by_group: Vec<SurveyGroupRow>,
}

/// A subject's sections.
#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    pub id: String,
    pub title: String,
    pub assessment: String,
    pub baselines: Vec<BaselineRow>,
    pub growth: Vec<GrowthRow>,
    pub gaps: Vec<GapRow>,
    pub growth_line: Option<String>,
    #[serde(skip)]
    pub growth_line_value: Option<f64>,
    /// Whether any group has a growth value to show (a school whose tested grade has no test
    /// the year before, such as grade 11, has none).
    pub growth_shown: bool,
    pub window_label: String,
    /// "412 of 530 students tested this winter were also tested here last winter."
    pub coverage: Option<String>,
    /// The school's % met standard beside the district's, the county's and the state's, in the
    /// summative window of a year whose published results are given.
    pub beside: Option<Beside>,
}

/// % met standard of the school beside the district, the county and the state.
#[derive(Debug, Clone, Serialize)]
pub struct Beside {
    /// "CAASPP research file, 2024-25".
    pub source: String,
    /// "County 19", when the state results hold one county.
    pub county: Option<String>,
    pub rows: Vec<BesideRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BesideRow {
    #[serde(flatten)]
    pub who: Shown,
    pub school: Option<String>,
    pub district: Option<String>,
    pub county: Option<String>,
    pub state: Option<String>,
}

/// A flag as the packet shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub subject: String,
    pub kind: String,
    pub reason: String,
}

/// Everything one packet shows.
#[derive(Debug, Clone, Serialize)]
pub struct Packet {
    pub district: String,
    pub school: School,
    pub school_year: String,
    pub window: String,
    pub window_label: String,
    pub title: String,
    pub provenance: Provenance,
    pub provenance_line: String,
    pub min_n: u32,
    pub suppressed_text: String,
    pub glance: Vec<Glance>,
    pub subjects: Vec<Subject>,
    pub dashboard: Vec<DashboardTable>,
    pub survey: Option<SurveySection>,
    pub bright_spots: Vec<Note>,
    pub watch: Vec<Note>,
    pub notes: Vec<String>,
    /// Other windows' packets of this school (label, relative link), for the HTML.
    pub siblings: Vec<(String, String)>,
    /// The window's restatements (it was frozen, then its numbers deliberately changed),
    /// oldest first.
    pub restatements: Vec<RestatementNote>,
    /// The key numbers that changed since the previous published version of this packet.
    pub since: Option<Since>,
}

/// What changed since the previous published version of a packet.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Since {
    /// When the previous version was first published, `YYYY-MM-DD`.
    pub date: String,
    pub rows: Vec<SinceRow>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SinceRow {
    pub subject: String,
    pub measure: String,
    pub before: String,
    pub now: String,
}

impl Packet {
    /// The school's values at a glance: the numbers a visit is prepared around.
    pub fn key_numbers(&self) -> Vec<crate::publish::previous::Number> {
        self.glance
            .iter()
            .flat_map(|g| {
                g.rows.iter().map(|r| crate::publish::previous::Number {
                    subject: g.subject.clone(),
                    measure: r.measure.clone(),
                    value: r.school.clone(),
                })
            })
            .collect()
    }
}

/// The key numbers of `now` that differ from `before` (a packet's previous version, first
/// published on `date`).
pub fn since(
    date: String,
    before: &[crate::publish::previous::Number],
    now: &[crate::publish::previous::Number],
) -> Since {
    let rows = now
        .iter()
        .filter_map(|n| {
            let old = before
                .iter()
                .find(|b| b.subject == n.subject && b.measure == n.measure)
                .map_or(String::new(), |b| b.value.clone());
            (old != n.value).then(|| SinceRow {
                subject: n.subject.clone(),
                measure: n.measure.clone(),
                before: if old.is_empty() {
                    "none".to_string()
                } else {
                    old
                },
                now: n.value.clone(),
            })
        })
        .collect();
    Since { date, rows }
}

/// A restatement of a frozen window, as a packet of it tells it.
#[derive(Debug, Clone, Serialize)]
pub struct RestatementNote {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub reason: String,
    /// This school's changed values, described (at most `SHOWN_CHANGES`).
    pub changes: Vec<String>,
    /// This school's changed values not listed.
    pub more: usize,
    /// Values changed at other schools and in the district roll-up.
    pub elsewhere: usize,
}

const SHOWN_CHANGES: usize = 12;

/// A changed value in words: "English language arts · English learners: average distance from
/// standard −92.9 → −87.9".
fn plain_change(plan: &Plan, c: &crate::publish::frozen::Change) -> String {
    let mut subject = String::new();
    let mut rest = Vec::new();
    for part in c.key.split(", ") {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k {
            "school_id" | "assessment" => {}
            "subject" => subject = subject_title(v),
            _ => rest.push(
                plan.groups
                    .iter()
                    .find(|g| g.id == v)
                    .map_or_else(|| v.replace('_', " "), |g| g.label.clone()),
            ),
        }
    }
    let what = match c.column.as_str() {
        "n" => "students".to_string(),
        "mean_dfs" => "average distance from standard".to_string(),
        "mean_scale_score" => "average scale score".to_string(),
        "pct_below" => "% standard not met".to_string(),
        "pct_near" => "% standard nearly met".to_string(),
        "pct_at" => "% standard met".to_string(),
        "pct_above" => "% standard exceeded".to_string(),
        "pct_met_standard" => "% met or exceeded standard".to_string(),
        "pct_met_target" => "% met growth target".to_string(),
        "suppressed" => "hidden to protect small groups".to_string(),
        other => other.replace('_', " "),
    };
    let value = |v: &str| -> String {
        if v.is_empty() {
            return "none".to_string();
        }
        match v.parse::<f64>() {
            Ok(x) if v.contains('.') => format!("{x:.1}").replace('-', "−"),
            _ => v.replace('-', "−"),
        }
    };
    let head = [subject]
        .into_iter()
        .chain(rest)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    format!("{head}: {what} {} → {}", value(&c.old), value(&c.new))
}

impl RestatementNote {
    /// The note of `r` in the packet of `school`.
    pub fn of(
        plan: &Plan,
        r: &crate::publish::frozen::Restatement,
        school: &str,
    ) -> RestatementNote {
        let own: Vec<String> = r
            .changes
            .iter()
            .filter(|c| c.school_id == school)
            .map(|c| plain_change(plan, c))
            .collect();
        RestatementNote {
            date: r.date.clone(),
            reason: r.reason.clone(),
            more: own.len().saturating_sub(SHOWN_CHANGES),
            elsewhere: r.changes.len() - own.len(),
            changes: own.into_iter().take(SHOWN_CHANGES).collect(),
        }
    }
}

/// The packets of the current school year: one per school and window with scores.
pub struct Builder<'a> {
    pub plan: &'a Plan,
    pub rows: &'a Rows,
    pub provenance: &'a Provenance,
    /// The latest school year with scores.
    pub year: String,
    pub previous: Option<String>,
}

pub fn subject_title(id: &str) -> String {
    match id {
        "ela" => "English language arts".to_string(),
        "math" => "Mathematics".to_string(),
        other => {
            let mut c = other.replace('_', " ");
            if let Some(f) = c.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            c
        }
    }
}

impl<'a> Builder<'a> {
    pub fn new(plan: &'a Plan, rows: &'a Rows, provenance: &'a Provenance, year: &str) -> Self {
        let previous = crate::canonical::SchoolYear::parse(year).map(|y| y.previous().to_string());
        Builder {
            plan,
            rows,
            provenance,
            year: year.to_string(),
            previous,
        }
    }

    pub fn suppressed_text(&self) -> String {
        SUPPRESSED_TEXT.to_string()
    }

    fn window_label(&self, id: &str) -> String {
        self.plan
            .windows
            .iter()
            .find(|w| w.id == id)
            .map_or(id.to_string(), |w| w.label.clone())
    }

    fn group_label(&self, id: &str) -> String {
        match id {
            "rest" => "Other students".to_string(),
            _ => self
                .plan
                .group(id)
                .map_or(id.to_string(), |g| g.label.clone()),
        }
    }

    fn assessment_label(&self, id: &str) -> String {
        self.plan
            .assessments
            .get(id)
            .map_or(id.to_string(), |a| a.label.clone())
    }

    /// The windows of the current year at which this school has scores, in plan order.
    pub fn windows_of(&self, school: &str) -> Vec<String> {
        self.plan
            .windows
            .iter()
            .filter(|w| {
                self.rows.baselines.iter().any(|b| {
                    b.key.school_id == school
                        && b.key.school_year == self.year
                        && b.key.window == w.id
                })
            })
            .map(|w| w.id.clone())
            .collect()
    }

    fn shown(&self, group: &str, n: Option<i64>) -> Shown {
        Shown {
            group: group.to_string(),
            label: self.group_label(group),
            short: match group {
                "rest" => "Other students".to_string(),
                _ => self
                    .plan
                    .group(group)
                    .map_or(group.to_string(), |g| g.short.clone()),
            },
            n: n.map(|n| crate::thousands(n as usize)),
            suppressed: n.is_none(),
        }
    }

    /// The (assessment, subject) pairs this school has at (year, window), in plan order.
    fn subjects_at(&self, school: &str, window: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for b in &self.rows.baselines {
            let k = &b.key;
            if k.school_id == school && k.school_year == self.year && k.window == window {
                let pair = (k.assessment.clone(), k.subject.clone());
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
        out
    }

    pub fn packet(&self, school: &School, window: &str, siblings: Vec<(String, String)>) -> Packet {
        let plan = self.plan;
        let window_label = self.window_label(window);
        let subjects: Vec<Subject> = self
            .subjects_at(&school.id, window)
            .into_iter()
            .map(|(assessment, subject)| self.subject(&school.id, window, &assessment, &subject))
            .collect();
        let glance = subjects
            .iter()
            .map(|s| self.glance(&school.id, window, s))
            .collect();
        let (bright_spots, watch) = self.notes_from_flags(&school.id, window);
        let min_n = plan.privacy.min_n_display;
        Packet {
            district: plan.district.clone(),
            school: school.clone(),
            school_year: self.year.clone(),
            window: window.to_string(),
            title: format!("{window_label} {}", self.year),
            window_label,
            provenance: self.provenance.clone(),
            provenance_line: self.provenance.line(),
            min_n,
            suppressed_text: self.suppressed_text(),
            glance,
            dashboard: self.dashboard(&school.id, window),
            survey: self.survey(&school.id, window),
            subjects,
            bright_spots,
            watch,
            notes: self.notes(),
            siblings,
            restatements: Vec::new(),
            since: None,
        }
    }

    fn cell<'r, T>(
        &self,
        rows: &'r [T],
        key: impl Fn(&T) -> (&CellKey, &str),
        at: (&str, &str, &str, &str, &str),
        group: &str,
    ) -> Option<&'r T> {
        rows.iter().find(|r| {
            let (k, g) = key(r);
            g == group
                && k.school_id == at.0
                && k.school_year == at.1
                && k.window == at.2
                && k.assessment == at.3
                && k.subject == at.4
        })
    }

    fn baseline(&self, at: (&str, &str, &str, &str, &str), group: &str) -> Option<&Baseline> {
        self.cell(&self.rows.baselines, |b| (&b.key, &b.group), at, group)
    }

    fn growth_row(&self, at: (&str, &str, &str, &str, &str), group: &str) -> Option<&Growth> {
        self.cell(&self.rows.growth, |g| (&g.key, &g.group), at, group)
    }

    fn subject(&self, school: &str, window: &str, assessment: &str, subject: &str) -> Subject {
        let at = (school, self.year.as_str(), window, assessment, subject);
        let district = (DISTRICT, self.year.as_str(), window, assessment, subject);
        let mut baselines = Vec::new();
        let mut growth = Vec::new();
        for g in &self.plan.groups {
            if let Some(b) = self.baseline(at, &g.id) {
                let d = self.baseline(district, &g.id).and_then(|d| d.mean_dfs);
                let values = b.mean_dfs.zip(b.bands);
                baselines.push(BaselineRow {
                    who: self.shown(&g.id, b.n),
                    mean_dfs: b.mean_dfs.map(signed_points),
                    pct_met: b.pct_met.map(pct),
                    bands: b.bands.map(|bs| bs.map(pct)),
                    district_mean_dfs: d.map(signed_points),
                    values,
                    district: d,
                });
            }
            if let Some(r) = self.growth_row(at, &g.id) {
                let d = self.growth_row(district, &g.id).and_then(|d| d.pct_met);
                // A group with no baseline at all (n_with_baseline 0) has nothing to show.
                if r.n_with_baseline.is_none() && r.pct_met.is_none() {
                    let had_any = self
                        .baseline(at, &g.id)
                        .is_some_and(|b| b.n.is_some_and(|n| n >= 1));
                    if !had_any && g.id != "all" {
                        continue;
                    }
                }
                growth.push(GrowthRow {
                    who: self.shown(&g.id, r.n_with_baseline),
                    pct_met: r.pct_met.map(pct),
                    mean_growth: r.mean_growth.map(signed_points),
                    median_growth: r.median_growth.map(signed_points),
                    district_pct_met: d.map(pct),
                    value: r.pct_met,
                    district: d,
                });
            }
        }
        let gaps = self
            .plan
            .gaps
            .pairs
            .iter()
            .filter_map(|p| self.gap_row(at, &p.focal, &p.reference, &p.target))
            .collect();
        let (growth_line, growth_line_value) = match self.plan.flags.low_growth {
            Some((below, _)) => (
                Some(format!("Low-growth flag below {}", pct(below))),
                Some(below),
            ),
            None => (None, None),
        };
        let growth_shown = growth.iter().any(|g| !g.who.suppressed);
        let coverage = self.coverage(at);
        let beside = self.beside(at, district);
        Subject {
            beside,
            coverage,
            growth_shown,
            id: subject.to_string(),
            title: subject_title(subject),
            assessment: self.assessment_label(assessment),
            baselines,
            growth,
            gaps,
            growth_line,
            growth_line_value,
            window_label: self.window_label(window),
        }
    }

    /// The school's % met standard beside the district's, the county's and the state's, for
    /// the summative (last) window of a year whose published results are given; a group the
    /// school suppresses shows as suppressed, the published values still shown.
    fn beside(
        &self,
        at: (&str, &str, &str, &str, &str),
        district: (&str, &str, &str, &str, &str),
    ) -> Option<Beside> {
        let (_, year, window, _, subject) = at;
        if window != self.plan.last_window().id || !self.rows.has_state(year, subject) {
            return None;
        }
        let rows: Vec<BesideRow> = self
            .plan
            .groups
            .iter()
            .filter_map(|g| {
                let b = self.baseline(at, &g.id)?;
                if !self.rows.has_state_group(year, subject, &g.id) {
                    return None;
                }
                let (state, county) = self.rows.state_pct_met(year, subject, &g.id);
                Some(BesideRow {
                    who: self.shown(&g.id, b.n),
                    school: b.pct_met.map(pct),
                    // A district value suppressed (by complementary suppression) says so.
                    district: self
                        .baseline(district, &g.id)
                        .map(|d| d.pct_met.map_or_else(|| self.suppressed_text(), pct)),
                    county: county.map(pct),
                    state: state.map(pct),
                })
            })
            .collect();
        (!rows.is_empty()).then(|| Beside {
            source: format!("CAASPP published results, {year}"),
            county: self.rows.single_county().map(|c| format!("County {c}")),
            rows,
        })
    }

    fn gap(
        &self,
        at: (&str, &str, &str, &str, &str),
        focal: &str,
        reference: &str,
    ) -> Option<&Gap> {
        self.rows.gaps.iter().find(|g| {
            g.metric == "mean_dfs"
                && g.focal == focal
                && g.reference == reference
                && g.key.school_id == at.0
                && g.key.school_year == at.1
                && g.key.window == at.2
                && g.key.assessment == at.3
                && g.key.subject == at.4
        })
    }

    fn gap_row(
        &self,
        at: (&str, &str, &str, &str, &str),
        focal: &str,
        reference: &str,
        target: &Target,
    ) -> Option<GapRow> {
        let g = self.gap(at, focal, reference)?;
        let focal_label = self.group_label(focal);
        let reference_label = self.group_label(reference);
        let pair = format!("{focal_label} vs {}", reference_label.to_lowercase_first());
        let short_of = |id: &str| match id {
            "rest" => "others".to_string(),
            "all" => "all".to_string(),
            _ => self
                .plan
                .group(id)
                .map_or(id.to_string(), |g| g.short.clone()),
        };
        let short = format!("{} vs {}", short_of(focal), short_of(reference));
        let path = self
            .plan
            .windows
            .iter()
            .map(|w| {
                let assessment = self.assessment_at(at.0, &w.id, at.4).unwrap_or_default();
                let now = (
                    at.0,
                    self.year.as_str(),
                    w.id.as_str(),
                    assessment.as_str(),
                    at.4,
                );
                let row = self.gap(now, focal, reference).filter(|g| !g.suppressed);
                let before = self.previous.as_deref().and_then(|p| {
                    let then = (at.0, p, w.id.as_str(), assessment.as_str(), at.4);
                    self.gap(then, focal, reference)
                        .filter(|g| !g.suppressed)
                        .and_then(|g| g.gap)
                });
                PathPoint {
                    window: w.label.clone(),
                    now: row.and_then(|r| r.gap),
                    then: before,
                    target: row.and_then(|r| r.target_gap),
                }
            })
            .collect();
        let target_text = match target {
            Target::Points(p) => format!("close {} points a year", points(*p)),
            Target::Fraction { fraction, years } => format!(
                "close {} of the gap within {years} years",
                pct(fraction * 100.0)
            ),
        };
        if g.suppressed {
            return Some(GapRow {
                pair,
                short,
                focal_label,
                reference_label,
                metric: "Average distance from standard".to_string(),
                suppressed: true,
                gap: None,
                interval: None,
                baseline_gap: None,
                gap_change: None,
                target_gap: None,
                on_track: None,
                story: format!("Not shown: one side has {}.", self.suppressed_text()),
                closing_by_decline: false,
                same: self.same_students(at, focal, reference),
                change: None,
                now: None,
                then: None,
                path,
            });
        }
        let decline = match (g.gap_change, g.focal_change, g.reference_change) {
            (Some(d), Some(fc), Some(rc)) => {
                g.change_distinguishable == Some(true) && is_closing_by_decline(d, fc, rc)
            }
            _ => false,
        };
        Some(GapRow {
            pair,
            short,
            metric: "Average distance from standard".to_string(),
            suppressed: false,
            gap: g.gap.map(signed_points),
            interval: g
                .ci
                .map(|(lo, hi)| format!("{} to {}", signed_points(lo), signed_points(hi))),
            baseline_gap: g.baseline_gap.map(signed_points),
            gap_change: g.gap_change.map(signed_points),
            target_gap: g.target_gap.map(signed_points),
            on_track: g
                .on_track
                .map(|t| if t { "on track" } else { "not yet on track" }.to_string()),
            story: self.story(g, &target_text),
            closing_by_decline: decline,
            same: self.same_students(at, focal, reference),
            change: g
                .gap_change
                .map(|d| (d, g.change_se.map(|se| (d - Z95 * se, d + Z95 * se)))),
            now: g.gap.map(|v| (v, g.ci)),
            then: g.baseline_gap.map(|v| (v, g.baseline_se)),
            path,
            focal_label,
            reference_label,
        })
    }

    /// The pair's change among the same students, in the packet's words.
    fn same_students(
        &self,
        at: (&str, &str, &str, &str, &str),
        focal: &str,
        reference: &str,
    ) -> Option<SameStudents> {
        let c = self.rows.cohort_gaps.iter().find(|c| {
            c.focal == focal
                && c.reference == reference
                && c.key.school_id == at.0
                && c.key.school_year == at.1
                && c.key.window == at.2
                && c.key.assessment == at.3
                && c.key.subject == at.4
        })?;
        let both = self.both_windows(at.2);
        let (Some(d), Some(nf), Some(nr)) = (c.gap_change, c.n_focal, c.n_reference) else {
            return Some(SameStudents {
                suppressed: true,
                students: None,
                change: None,
                interval: None,
                sentence: format!(
                    "Among the students tested here {both}: {}.",
                    self.suppressed_text()
                ),
                closing_by_decline: false,
                value: None,
            });
        };
        let n = |k: i64| crate::thousands(k.max(0) as usize);
        let students = match reference {
            "all" => format!("{} students", n(nr)),
            "rest" => format!("{} students", n(nf + nr)),
            _ => format!(
                "{} {} and {} {}",
                n(nf),
                group_phrase(self.plan, focal),
                n(nr),
                group_phrase(self.plan, reference)
            ),
        };
        // Said in the direction of the change, with its interval turned the same way.
        let (moved, range) = match c.ci {
            Some((lo, hi)) if d < 0.0 => ("narrowed", Some((-hi, -lo))),
            Some((lo, hi)) if d > 0.0 => ("widened", Some((lo, hi))),
            ci => (if d < 0.0 { "narrowed" } else { "widened" }, ci),
        };
        let amount = if d == 0.0 {
            "did not change".to_string()
        } else {
            format!("{moved} by {} points", points(d.abs()))
        };
        let range_text = range.map_or_else(
            || " (too few students on one side for a 95% range)".to_string(),
            |(a, b)| format!(" (95% range {} to {})", points_plain(a), points_plain(b)),
        );
        let decline = match (c.focal_change, c.reference_change) {
            (Some(fc), Some(rc)) => {
                c.distinguishable == Some(true) && is_closing_by_decline(d, fc, rc)
            }
            _ => false,
        };
        let movement = match (c.focal_change, c.reference_change) {
            (Some(fc), Some(rc)) => format!(
                " On average {} {} and {} {}.",
                group_phrase(self.plan, focal),
                changed_by(fc),
                group_phrase(self.plan, reference),
                changed_by(rc)
            ),
            _ => String::new(),
        };
        Some(SameStudents {
            suppressed: false,
            sentence: format!(
                "Among the {students} tested here {both}, the gap {amount}{range_text}.{movement}"
            ),
            students: Some(students),
            change: Some(signed_points(d)),
            interval: c
                .ci
                .map(|(lo, hi)| format!("{} to {}", signed_points(lo), signed_points(hi))),
            closing_by_decline: decline,
            value: Some((d, c.ci)),
        })
    }

    /// "both this winter and last winter".
    fn both_windows(&self, window: &str) -> String {
        let w = self.window_label(window).to_lowercase();
        format!("both this {w} and last {w}")
    }

    /// How many of the cell's students were also tested here a year earlier.
    fn coverage(&self, at: (&str, &str, &str, &str, &str)) -> Option<String> {
        let tested = self.baseline(at, "all")?;
        let matched = self.cell(&self.rows.cohort_change, |m| (&m.key, &m.group), at, "all");
        let w = self.window_label(at.2).to_lowercase();
        Some(match (matched.and_then(|m| m.n_matched), tested.n) {
            (Some(m), Some(n)) => format!(
                "{} of {} students tested this {w} were also tested here last {w}.",
                crate::thousands(m.max(0) as usize),
                crate::thousands(n.max(0) as usize)
            ),
            _ if matched.is_none() => {
                format!("None of the students tested this {w} were tested here last {w}.")
            }
            _ => format!(
                "Students tested here both this {w} and last {w}: {}.",
                self.suppressed_text()
            ),
        })
    }

    /// The assessment a school took in a subject at a window of the current year.
    fn assessment_at(&self, school: &str, window: &str, subject: &str) -> Option<String> {
        self.rows
            .baselines
            .iter()
            .find(|b| {
                b.key.school_id == school
                    && b.key.school_year == self.year
                    && b.key.window == window
                    && b.key.subject == subject
            })
            .map(|b| b.key.assessment.clone())
    }

    /// The decomposition of a gap's change, in words, without judgement.
    fn story(&self, g: &Gap, target: &str) -> String {
        let f = group_phrase(self.plan, &g.focal);
        let r = group_phrase(self.plan, &g.reference);
        let (Some(change), Some(fc), Some(rc)) = (g.gap_change, g.focal_change, g.reference_change)
        else {
            return format!(
                "No comparison of this year's students with last year's: the same window last year has no shown gap. Target: {target}."
            );
        };
        let noise = if g.change_distinguishable == Some(true) {
            "larger than year-to-year noise would explain"
        } else {
            "within year-to-year noise"
        };
        let moved = |x: f64| {
            if x > 0.0 {
                format!("rose by {}", points(x.abs()))
            } else if x < 0.0 {
                format!("fell by {}", points(x.abs()))
            } else {
                "did not change".to_string()
            }
        };
        let direction = if change < 0.0 {
            "narrowed"
        } else if change > 0.0 {
            "widened"
        } else {
            "did not change"
        };
        let because = if change < 0.0 {
            if !is_closing_by_decline(change, fc, rc) {
                format!("mostly because {f} rose")
            } else if fc > 0.0 {
                format!("because {r} fell more than {f} rose (closing by decline)")
            } else {
                format!("because {r} fell; {f} did not rise (closing by decline)")
            }
        } else if change > 0.0 {
            if fc < 0.0 && -fc >= rc {
                format!("mostly because {f} fell")
            } else {
                format!("because {r} rose more than {f}")
            }
        } else {
            "because both groups moved by the same amount".to_string()
        };
        let amount = if change == 0.0 {
            String::new()
        } else {
            format!(" by {} points", points(change.abs()))
        };
        format!(
            "Comparing this year's students with last year's, the gap {direction}{amount} since a year earlier, {because}: {} average {} points, {} average {} points. The change is {noise}. Target: {target}{}.",
            possessive(&f),
            moved(fc),
            possessive(&r),
            moved(rc),
            match g.on_track {
                Some(true) => "; on track",
                Some(false) => "; not yet on track",
                None => "",
            }
        )
    }

    fn glance(&self, school: &str, window: &str, s: &Subject) -> Glance {
        let assessment = self
            .assessment_at(school, window, &s.id)
            .unwrap_or_default();
        let a = assessment.as_str();
        let j = s.id.as_str();
        let y = self.year.as_str();
        let now = self.baseline((school, y, window, a, j), "all");
        let dnow = self.baseline((DISTRICT, y, window, a, j), "all");
        let before = self
            .previous
            .as_deref()
            .and_then(|p| self.baseline((school, p, window, a, j), "all"));
        let gr = self.growth_row((school, y, window, a, j), "all");
        let dgr = self.growth_row((DISTRICT, y, window, a, j), "all");
        let sup = || self.suppressed_text();
        let dash = "—".to_string();
        let since = |f: fn(&Baseline) -> Option<f64>, fmt: fn(f64) -> String| match (
            now.and_then(f),
            before.and_then(f),
        ) {
            (Some(a), Some(b)) => fmt(a - b),
            _ => dash.clone(),
        };
        let value = |v: Option<f64>, n: Option<i64>, fmt: fn(f64) -> String| match (v, n) {
            (Some(v), _) => fmt(v),
            (None, None) => sup(),
            _ => dash.clone(),
        };
        let rows = vec![
            GlanceRow {
                measure: "Average distance from standard (points)".to_string(),
                school: value(
                    now.and_then(|b| b.mean_dfs),
                    now.and_then(|b| b.n),
                    signed_points,
                ),
                district: dnow
                    .and_then(|b| b.mean_dfs)
                    .map_or(dash.clone(), signed_points),
                // The same students' change where there is one; else this year's students
                // against last year's.
                change: match self
                    .cell(
                        &self.rows.cohort_change,
                        |m| (&m.key, &m.group),
                        (school, y, window, a, j),
                        "all",
                    )
                    .and_then(|m| m.mean_change.zip(m.n_matched))
                {
                    Some((c, n)) => format!(
                        "{} among the {} students tested here both years",
                        signed_points(c),
                        crate::thousands(n.max(0) as usize)
                    ),
                    None => match since(|b| b.mean_dfs, signed_points) {
                        d if d == dash => d,
                        d => format!("{d} (this year's vs last year's students)"),
                    },
                },
            },
            GlanceRow {
                measure: "Met or exceeded standard".to_string(),
                school: value(now.and_then(|b| b.pct_met), now.and_then(|b| b.n), pct),
                district: dnow.and_then(|b| b.pct_met).map_or(dash.clone(), pct),
                change: since(|b| b.pct_met, signed_pct),
            },
            GlanceRow {
                measure: "Met their year-of-growth target to date".to_string(),
                school: value(
                    gr.and_then(|g| g.pct_met),
                    gr.and_then(|g| g.n_with_baseline),
                    pct,
                ),
                district: dgr.and_then(|g| g.pct_met).map_or(dash.clone(), pct),
                change: dash.clone(),
            },
        ];
        Glance {
            subject: s.title.clone(),
            assessment: s.assessment.clone(),
            rows,
        }
    }

    fn dashboard(&self, school: &str, window: &str) -> Vec<DashboardTable> {
        if !self.plan.dashboard.enabled {
            return Vec::new();
        }
        // The Dashboard is computed for the summative window: the current year's once it is
        // in, else last year's.
        let year = if window == self.plan.last_window().id {
            self.year.clone()
        } else {
            match &self.previous {
                Some(p) => p.clone(),
                None => return Vec::new(),
            }
        };
        let mut subjects: Vec<(&str, &str)> = Vec::new();
        for d in &self.rows.dashboard {
            if d.school_id == school && d.school_year == year {
                let k = (d.assessment.as_str(), d.subject.as_str());
                if !subjects.contains(&k) {
                    subjects.push(k);
                }
            }
        }
        subjects
            .into_iter()
            .map(|(assessment, subject)| {
                let rows = self
                    .plan
                    .groups
                    .iter()
                    .filter_map(|g| {
                        let d = self.rows.dashboard.iter().find(|d| {
                            d.school_id == school
                                && d.school_year == year
                                && d.assessment == assessment
                                && d.subject == subject
                                && d.group == g.id
                        })?;
                        Some(DashboardRow {
                            who: self.shown(&g.id, d.n),
                            status: d.status.map(signed_points),
                            status_level: d.status_level.map(|l| STATUS[(l - 1) as usize].into()),
                            change: d.change.map(signed_points),
                            change_level: d.change_level.map(|l| CHANGE[(l - 1) as usize].into()),
                            color: d.color.map(|c| COLOR[(c - 1) as usize].into()),
                            color_code: d.color,
                        })
                    })
                    .collect();
                DashboardTable {
                    subject: subject_title(subject),
                    school_year: year.clone(),
                    rows,
                }
            })
            .collect()
    }

    fn survey(&self, school: &str, window: &str) -> Option<SurveySection> {
        // The latest administration at or before this packet's window.
        let order = |w: &str| self.plan.windows.iter().position(|x| x.id == w);
        let here = order(window)?;
        let (year, win) = self
            .rows
            .survey
            .iter()
            .filter(|s| s.school_id == school)
            .filter(|s| {
                s.school_year < self.year
                    || (s.school_year == self.year && order(&s.window).is_some_and(|o| o <= here))
            })
            .map(|s| (s.school_year.clone(), order(&s.window).unwrap_or(0)))
            .max()?;
        let wid = self.plan.windows[win].id.clone();
        let of = |who: &str, t: &str, c: &str, g: &str| {
            self.rows.survey.iter().find(|s| {
                s.school_id == who
                    && s.school_year == year
                    && s.window == wid
                    && s.respondent_type == t
                    && s.construct == c
                    && s.group == g
            })
        };
        let cell = |s: Option<&Survey>| SurveyCell {
            value: s.and_then(|s| s.pct_favorable).map(pct),
            n: s.and_then(|s| s.n_respondents)
                .map(|n| crate::thousands(n as usize)),
            suppressed: s.is_some_and(|s| s.n_respondents.is_none()),
            pct: s.and_then(|s| s.pct_favorable),
        };
        let mut constructs = Vec::new();
        for t in ["student", "staff", "parent"] {
            for c in &self.plan.constructs {
                if let Some(s) = of(school, t, &c.id, "all") {
                    constructs.push(SurveyRow {
                        construct: c.label.clone(),
                        respondent: respondent_label(t).to_string(),
                        cell: cell(Some(s)),
                        district: of(DISTRICT, t, &c.id, "all")
                            .and_then(|d| d.pct_favorable)
                            .map(pct),
                    });
                }
            }
        }
        let student_constructs: Vec<_> = self
            .plan
            .constructs
            .iter()
            .filter(|c| of(school, "student", &c.id, "all").is_some())
            .collect();
        let by_group = self
            .plan
            .groups
            .iter()
            .filter(|g| g.id != "all")
            .filter_map(|g| {
                let cells: Vec<SurveyCell> = student_constructs
                    .iter()
                    .map(|c| cell(of(school, "student", &c.id, &g.id)))
                    .collect();
                cells
                    .iter()
                    .any(|c| c.value.is_some() || c.suppressed)
                    .then(|| SurveyGroupRow {
                        label: self.group_label(&g.id),
                        cells,
                    })
            })
            .collect();
        Some(SurveySection {
            when: format!("{} {year}", self.plan.windows[win].label),
            constructs,
            group_heads: student_constructs.iter().map(|c| c.label.clone()).collect(),
            by_group,
        })
    }

    fn notes_from_flags(&self, school: &str, window: &str) -> (Vec<Note>, Vec<Note>) {
        let mut bright = Vec::new();
        let mut watch = Vec::new();
        for f in &self.rows.flags {
            if f.school_id != school || f.school_year != self.year || f.window != window {
                continue;
            }
            let note = Note {
                subject: subject_title(&f.subject),
                kind: flag_label(&f.flag).to_string(),
                reason: f.reason.clone(),
            };
            if f.flag == FlagKind::BrightSpot.code() {
                bright.push(note);
            } else {
                watch.push(note);
            }
        }
        (bright, watch)
    }

    fn notes(&self) -> Vec<String> {
        let p = self.plan;
        let min = p.privacy.min_n_display;
        let mut notes = vec![
            format!(
                "Distance from standard is a student's scale score minus the score that meets the standard (Level 3) for the grade tested; 0 means exactly at the standard. Averages are over students with a valid score in the window."
            ),
            format!(
                "Groups of fewer than {min} students are not shown, in charts and tables alike, to protect student privacy. Neither is a larger group whose figures, together with the others shown, would let a reader work out a smaller group's results by subtraction (for example all students minus girls and boys); such a group also reads \"{}\". A gap is not shown when either side is hidden. Counts (n) are the students behind each value.",
                self.suppressed_text()
            ),
            format!(
                "Gaps are the comparison group's average minus the focal group's: a positive gap means the focal group trails. The interval is a 95% range (± 1.96 standard errors); a gap whose interval includes 0 cannot be told apart from no gap."
            ),
            "A gap's change since the same window a year earlier is shown two ways. Among the same students: each student tested here both years is compared with themselves, so differences between one year's students and the next drop out and a real change shows through; but it covers only those students (a school whose students change a lot covers few), and students who left a group (English learners who were reclassified, for example) count in the group they belong to this year. This year's students against last year's: every student tested counts, as on the state Dashboard, but part of any change is simply that the students are different, so it moves a lot by chance.".to_string(),
            format!(
                "A year-of-growth target is the student's score last {} plus the growth expected for the grade{}, scaled to the share of the year at this window. Students without last year's score have no target.",
                p.windows
                    .iter()
                    .find(|w| w.id == p.growth.baseline_window)
                    .map_or(p.growth.baseline_window.clone(), |w| w.label.to_lowercase()),
                p.growth.years_to_standard.map_or(String::new(), |k| format!(
                    ", plus a share of the distance to the standard for students below it (reaching it within {k} years)"
                ))
            ),
            format!(
                "Flags read the change {}, and need at least {} students on each side, so small groups never raise one. A gap that narrows mostly because the comparison group fell (it fell by more than the focal group rose) is labelled closing by decline, never a bright spot.",
                match p.flags.basis {
                    crate::pipeline::plan::Basis::SameStudents => "among the same students",
                    crate::pipeline::plan::Basis::CrossSectional => "of this year's students against last year's",
                },
                p.privacy.min_n_accountability
            ),
            "What the data cannot show: why scores moved, how individual students are doing (these are group averages), or the effect of any one program. Small groups move a lot from year to year by chance; read their changes with their intervals.".to_string(),
        ];
        if min == 0 {
            notes.remove(1);
        }
        notes
    }
}

/// "rose by 6.1 points", "fell by 2.0 points", "did not change".
fn changed_by(x: f64) -> String {
    if points(x.abs()) == points(0.0) {
        "did not change".to_string()
    } else if x > 0.0 {
        format!("rose by {} points", points(x.abs()))
    } else {
        format!("fell by {} points", points(x.abs()))
    }
}

trait LowerFirst {
    fn to_lowercase_first(&self) -> String;
}

impl LowerFirst for String {
    /// "Other students" → "other students"; names keep their capitals.
    fn to_lowercase_first(&self) -> String {
        if self == "Other students" || self == "All students" {
            let mut c = self.chars();
            return c.next().map_or(String::new(), |f| {
                f.to_lowercase().collect::<String>() + c.as_str()
            });
        }
        self.clone()
    }
}

pub const STATUS: [&str; 5] = ["Very Low", "Low", "Medium", "High", "Very High"];
pub const CHANGE: [&str; 5] = [
    "Declined significantly",
    "Declined",
    "Maintained",
    "Increased",
    "Increased significantly",
];
pub const COLOR: [&str; 5] = ["Red", "Orange", "Yellow", "Green", "Blue"];

pub fn respondent_label(t: &str) -> &str {
    match t {
        "student" => "Students",
        "staff" => "Staff",
        "parent" => "Families",
        other => other,
    }
}

/// A flag's name in packets and the index (its code when unknown).
pub fn flag_label(f: &str) -> &str {
    match FlagKind::parse(f) {
        Some(k) => k.label(),
        None => f,
    }
}

/// The latest school year with scores.
pub fn current_year(rows: &Rows) -> Option<String> {
    rows.baselines
        .iter()
        .map(|b| &b.key.school_year)
        .max()
        .cloned()
}

/// The rows, moved into one set per school for quick lookups (schools are rendered in
/// parallel, each reading only its own rows and the district's), in their order.
pub fn split_by_school(rows: Rows) -> BTreeMap<String, Rows> {
    let mut out: BTreeMap<String, Rows> = BTreeMap::new();
    fn at<'m>(out: &'m mut BTreeMap<String, Rows>, s: &str) -> &'m mut Rows {
        if !out.contains_key(s) {
            out.insert(s.to_string(), Rows::default());
        }
        out.get_mut(s).expect("inserted above")
    }
    for r in rows.baselines {
        at(&mut out, &r.key.school_id).baselines.push(r);
    }
    for r in rows.growth {
        at(&mut out, &r.key.school_id).growth.push(r);
    }
    for r in rows.gaps {
        at(&mut out, &r.key.school_id).gaps.push(r);
    }
    for r in rows.cohort_change {
        at(&mut out, &r.key.school_id).cohort_change.push(r);
    }
    for r in rows.cohort_gaps {
        at(&mut out, &r.key.school_id).cohort_gaps.push(r);
    }
    for r in rows.survey {
        at(&mut out, &r.school_id).survey.push(r);
    }
    for r in rows.dashboard {
        at(&mut out, &r.school_id).dashboard.push(r);
    }
    for r in rows.flags {
        at(&mut out, &r.school_id).flags.push(r);
    }
    // The published results go with the district's rows, which every school reads.
    if !rows.state.is_empty() {
        at(&mut out, DISTRICT).state = rows.state;
    }
    out
}

/// A school's rows plus the district's.
pub fn with_district(school: &Rows, district: &Rows) -> Rows {
    let mut r = Rows {
        baselines: school.baselines.clone(),
        growth: school.growth.clone(),
        gaps: school.gaps.clone(),
        cohort_change: school.cohort_change.clone(),
        cohort_gaps: school.cohort_gaps.clone(),
        survey: school.survey.clone(),
        dashboard: school.dashboard.clone(),
        flags: school.flags.clone(),
        state: district.state.clone(),
    };
    r.baselines.extend(district.baselines.iter().cloned());
    r.growth.extend(district.growth.iter().cloned());
    r.cohort_change
        .extend(district.cohort_change.iter().cloned());
    r.survey.extend(district.survey.iter().cloned());
    r
}

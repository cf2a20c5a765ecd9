//! The detection study: on a generated district with planted gap trends, how many trends do
//! the gap flags find with the right label, how often do they fire where nothing was planted,
//! and how precise is each basis of change. Read off the published metric tables, so the same
//! study runs on any run of a generated district.
//!
//! - A planted trend is *eligible* in the last school year when at least one of its school's
//!   rows for the pair (any window, any subject) is eligible for a flag: unsuppressed, a change
//!   to judge, and both sides with at least `min_n_accountability` students on the basis read.
//! - It is *found* when one of those rows raises the planted flag, *mislabelled* when one
//!   raises another gap flag.
//! - The *false-flag share* is the share of eligible rows at schools without a planted trend
//!   that raise a gap flag.
//! - Two stricter rules are measured beside the contract's: a flag stands only when the same
//!   flag is raised for the same school, subject and pair at two or more windows of the year;
//!   or only flags at the year's last (summative) window count.

use crate::metrics::flags::FlagKind;
use crate::pipeline::plan::Basis;
use crate::sample::PlantedTrend;
use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// (school, window, subject, focal, reference) of a gap row in the last year.
type RowKey = (String, String, String, String, String);

/// What one basis finds.
#[derive(Debug, Clone)]
pub struct Detection {
    pub basis: Basis,
    pub trends: Vec<TrendResult>,
    /// Eligible rows at schools without a planted trend, and how many raise a gap flag.
    pub eligible_elsewhere: usize,
    pub flagged_elsewhere: usize,
    /// The same under the two-window rule.
    pub flagged_elsewhere_two_windows: usize,
    /// Eligible rows and flags elsewhere by window, by pair, and flags by kind, to see where
    /// false flags come from.
    pub elsewhere_by_window: BTreeMap<String, (usize, usize)>,
    pub elsewhere_by_pair: BTreeMap<String, (usize, usize)>,
    pub elsewhere_by_flag: BTreeMap<String, usize>,
    /// The year's last window (the summative test).
    pub last_window: String,
    /// Median standard error of the change on this basis's eligible rows.
    pub median_se: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct TrendResult {
    pub trend: PlantedTrend,
    pub eligible_rows: usize,
    /// Rows that raise the planted flag; other gap flags raised on the pair.
    pub right: usize,
    pub wrong: Vec<String>,
    /// Under the two-window rule: the planted flag stands, and other gap flags that stand.
    pub right_two_windows: bool,
    pub wrong_two_windows: Vec<String>,
    /// At the year's last (summative) window alone: the planted flag, and other gap flags.
    pub right_last_window: bool,
    pub wrong_last_window: Vec<String>,
    /// The fewest matched (or tested) students on either side over the eligible rows.
    pub smallest_side: Option<i64>,
}

impl TrendResult {
    pub fn eligible(&self) -> bool {
        self.eligible_rows > 0
    }
    pub fn found(&self) -> bool {
        self.right > 0
    }
}

impl Detection {
    pub fn eligible_trends(&self) -> usize {
        self.trends.iter().filter(|t| t.eligible()).count()
    }
    /// Eligible trends that raise the planted flag on at least one row.
    pub fn found(&self) -> usize {
        self.trends.iter().filter(|t| t.found()).count()
    }
    /// Eligible trends on whose pair a different gap flag is raised too.
    pub fn mislabelled(&self) -> usize {
        self.trends.iter().filter(|t| !t.wrong.is_empty()).count()
    }
    pub fn found_two_windows(&self) -> usize {
        self.trends.iter().filter(|t| t.right_two_windows).count()
    }
    pub fn found_last_window(&self) -> usize {
        self.trends.iter().filter(|t| t.right_last_window).count()
    }
    pub fn mislabelled_last_window(&self) -> usize {
        self.trends
            .iter()
            .filter(|t| !t.wrong_last_window.is_empty())
            .count()
    }
    pub fn mislabelled_two_windows(&self) -> usize {
        self.trends
            .iter()
            .filter(|t| !t.wrong_two_windows.is_empty())
            .count()
    }
    pub fn false_share(&self) -> f64 {
        ratio(self.flagged_elsewhere, self.eligible_elsewhere)
    }
    pub fn false_share_two_windows(&self) -> f64 {
        ratio(self.flagged_elsewhere_two_windows, self.eligible_elsewhere)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn texts(df: &DataFrame, c: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(c)?
        .cast(&DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

fn floats(df: &DataFrame, c: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df
        .column(c)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .collect())
}

/// The study on one basis. `gaps` or `cohort_gaps` (per `basis`) and `flags` are the published
/// tables of a run whose flags read that basis; `year` is the last school year.
pub fn study(
    basis: Basis,
    rows: &DataFrame,
    flags: &DataFrame,
    trends: &[PlantedTrend],
    year: &str,
    last_window: &str,
    min_n_accountability: u32,
) -> PolarsResult<Detection> {
    let acc = f64::from(min_n_accountability);
    let mut lf = rows.clone().lazy().filter(
        col("school_year")
            .eq(lit(year))
            .and(col("school_id").neq(lit(crate::metrics::DISTRICT)))
            .and(col("suppressed").not()),
    );
    let (change, se) = match basis {
        Basis::SameStudents => ("gap_change", "se"),
        Basis::CrossSectional => {
            lf = lf.filter(col("metric").eq(lit("mean_dfs")));
            ("gap_change", "change_se")
        }
    };
    let eligible = lf
        .filter(
            col(change)
                .is_not_null()
                .and(col("n_focal").cast(DataType::Float64).gt_eq(lit(acc)))
                .and(col("n_reference").cast(DataType::Float64).gt_eq(lit(acc))),
        )
        .collect()?;
    let key_cols = [
        "school_id",
        "window",
        "subject",
        "focal_group",
        "reference_group",
    ];
    let keys: Vec<Vec<String>> = key_cols
        .iter()
        .map(|c| texts(&eligible, c))
        .collect::<PolarsResult<_>>()?;
    let key_of = |i: usize| -> RowKey {
        (
            keys[0][i].clone(),
            keys[1][i].clone(),
            keys[2][i].clone(),
            keys[3][i].clone(),
            keys[4][i].clone(),
        )
    };
    let n_focal = floats(&eligible, "n_focal")?;
    let n_reference = floats(&eligible, "n_reference")?;
    let mut ses: Vec<f64> = floats(&eligible, se)?.into_iter().flatten().collect();
    ses.sort_by(f64::total_cmp);
    let median_se = (!ses.is_empty()).then(|| ses[ses.len() / 2]);

    // The gap flags of the last year, by row.
    let flags = flags
        .clone()
        .lazy()
        .filter(
            col("school_year")
                .eq(lit(year))
                .and(col("flag").neq(lit(FlagKind::LowGrowth.code()))),
        )
        .collect()?;
    let fk: Vec<Vec<String>> = key_cols
        .iter()
        .chain(&["flag"])
        .map(|c| texts(&flags, c))
        .collect::<PolarsResult<_>>()?;
    let flagged: BTreeMap<RowKey, String> = (0..flags.height())
        .map(|i| {
            let key = (
                fk[0][i].clone(),
                fk[1][i].clone(),
                fk[2][i].clone(),
                fk[3][i].clone(),
                fk[4][i].clone(),
            );
            (key, fk[5][i].clone())
        })
        .collect();
    // Windows at which each (school, subject, pair) raised each flag.
    let mut windows: BTreeMap<(String, String, String, String, String), BTreeSet<String>> =
        BTreeMap::new();
    for ((school, window, subject, f, r), flag) in &flagged {
        windows
            .entry((
                school.clone(),
                subject.clone(),
                f.clone(),
                r.clone(),
                flag.clone(),
            ))
            .or_default()
            .insert(window.clone());
    }
    let confirmed = |k: &RowKey, flag: &str| {
        windows
            .get(&(
                k.0.clone(),
                k.2.clone(),
                k.3.clone(),
                k.4.clone(),
                flag.to_string(),
            ))
            .is_some_and(|w| w.len() >= 2)
    };

    let planted: BTreeSet<&str> = trends.iter().map(|t| t.school_id.as_str()).collect();
    let mut results: Vec<TrendResult> = trends
        .iter()
        .map(|t| TrendResult {
            trend: t.clone(),
            eligible_rows: 0,
            right: 0,
            wrong: Vec::new(),
            right_two_windows: false,
            wrong_two_windows: Vec::new(),
            right_last_window: false,
            wrong_last_window: Vec::new(),
            smallest_side: None,
        })
        .collect();
    let (mut eligible_elsewhere, mut flagged_elsewhere, mut flagged_two) = (0, 0, 0);
    let mut by_window: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_pair: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_flag: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..eligible.height() {
        let k = key_of(i);
        let flag = flagged.get(&k);
        if !planted.contains(k.0.as_str()) {
            eligible_elsewhere += 1;
            let w = by_window.entry(k.1.clone()).or_default();
            let p = by_pair.entry(format!("{} vs {}", k.3, k.4)).or_default();
            w.0 += 1;
            p.0 += 1;
            if let Some(f) = flag {
                flagged_elsewhere += 1;
                w.1 += 1;
                p.1 += 1;
                *by_flag.entry(f.clone()).or_default() += 1;
                if confirmed(&k, f) {
                    flagged_two += 1;
                }
            }
            continue;
        }
        let Some(r) = results.iter_mut().find(|r| {
            r.trend.school_id == k.0 && r.trend.focal_group == k.3 && r.trend.reference_group == k.4
        }) else {
            continue;
        };
        r.eligible_rows += 1;
        let side = n_focal[i].zip(n_reference[i]).map(|(a, b)| a.min(b) as i64);
        r.smallest_side = match (r.smallest_side, side) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match flag {
            Some(f) if *f == r.trend.expected_flag => {
                r.right += 1;
                r.right_two_windows |= confirmed(&k, f);
                r.right_last_window |= k.1 == last_window;
            }
            Some(f) => {
                if k.1 == last_window && !r.wrong_last_window.contains(f) {
                    r.wrong_last_window.push(f.clone());
                }
                if !r.wrong.contains(f) {
                    r.wrong.push(f.clone());
                }
                if confirmed(&k, f) && !r.wrong_two_windows.contains(f) {
                    r.wrong_two_windows.push(f.clone());
                }
            }
            None => {}
        }
    }
    Ok(Detection {
        basis,
        trends: results,
        eligible_elsewhere,
        flagged_elsewhere,
        flagged_elsewhere_two_windows: flagged_two,
        elsewhere_by_window: by_window,
        elsewhere_by_pair: by_pair,
        elsewhere_by_flag: by_flag,
        last_window: last_window.to_string(),
        median_se,
    })
}

/// The study as people read it: one line per trend, then the shares.
pub fn report(d: &Detection) -> String {
    let mut out = format!("basis {}:\n", d.basis.name());
    for t in &d.trends {
        let status = if !t.eligible() {
            "not eligible (a side has fewer matched students than flags need)".to_string()
        } else if t.found() {
            format!(
                "found ({} of {} eligible rows{}; two-window rule: {})",
                t.right,
                t.eligible_rows,
                if t.wrong.is_empty() {
                    String::new()
                } else {
                    format!(", and {} on another", t.wrong.join(", "))
                },
                if t.right_two_windows {
                    "found"
                } else {
                    "missed"
                }
            )
        } else if !t.wrong.is_empty() {
            format!("mislabelled as {}", t.wrong.join(", "))
        } else {
            format!("missed (0 of {} eligible rows)", t.eligible_rows)
        };
        out.push_str(&format!(
            "  school {} ({}, {} students, {} English learners) {} -> {}: {status}; smallest side {}\n",
            t.trend.school_id,
            t.trend.level,
            t.trend.students,
            t.trend.english_learners,
            serde_json::to_value(t.trend.pattern)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            t.trend.expected_flag,
            t.smallest_side
                .map_or("-".to_string(), |n| n.to_string())
        ));
    }
    out.push_str(&format!(
        "  planted trends found with the right label: {} of {} eligible ({} planted), {} also with another label; two-window rule: {} found, {} with another label\n",
        d.found(),
        d.eligible_trends(),
        d.trends.len(),
        d.mislabelled(),
        d.found_two_windows(),
        d.mislabelled_two_windows()
    ));
    let last = d
        .elsewhere_by_window
        .get(&d.last_window)
        .copied()
        .unwrap_or_default();
    out.push_str(&format!(
        "  at the last window alone ({}): {} found, {} with another label; rows elsewhere flagged {} of {} ({:.1}%)\n",
        d.last_window,
        d.found_last_window(),
        d.mislabelled_last_window(),
        last.1,
        last.0,
        100.0 * ratio(last.1, last.0)
    ));
    out.push_str(&format!(
        "  eligible rows elsewhere that raise a gap flag: {} of {} ({:.1}%); two-window rule: {} ({:.1}%)\n",
        d.flagged_elsewhere,
        d.eligible_elsewhere,
        100.0 * d.false_share(),
        d.flagged_elsewhere_two_windows,
        100.0 * d.false_share_two_windows()
    ));
    let share = |m: &BTreeMap<String, (usize, usize)>| {
        m.iter()
            .map(|(k, (n, f))| format!("{k} {f}/{n} ({:.1}%)", 100.0 * ratio(*f, *n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "    by window: {}\n    by pair: {}\n    by flag: {}\n",
        share(&d.elsewhere_by_window),
        share(&d.elsewhere_by_pair),
        d.elsewhere_by_flag
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "  median standard error of the change on eligible rows: {}\n",
        d.median_se
            .map_or("-".to_string(), |s| format!("{s:.2} points"))
    ));
    out
}

//! The supervisors' index as a plain model, built from the metric rows: the window it shows,
//! one row per school (all students' values, the largest gap and its change, flags), the
//! filters' choices, and the values behind the district charts. `write_index` in
//! `render/mod.rs` draws the charts and writes the page from it.

use super::format::{pct, signed_points};
use super::model::{self, Baseline, Rows, School};
use super::{label_of, packet_dir};
use crate::metrics::DISTRICT;
use crate::metrics::flags::FlagKind;
use crate::pipeline::Plan;
use serde::Serialize;
use std::collections::BTreeMap;

/// One value in the index, with the number it sorts by.
#[derive(Serialize)]
pub(super) struct IndexValue {
    text: String,
    sort: String,
    suppressed: bool,
}

impl IndexValue {
    fn of(v: Option<f64>, n: Option<i64>, present: bool, fmt: fn(f64) -> String) -> Self {
        IndexValue {
            text: v.map_or_else(|| if present { String::new() } else { "—".into() }, fmt),
            sort: v.map_or(String::new(), |v| format!("{v:.6}")),
            suppressed: present && n.is_none(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct IndexGap {
    text: String,
    pair: String,
    sort: String,
}

#[derive(Serialize)]
pub(super) struct IndexFlag {
    kind: String,
    subject: String,
    reason: String,
}

#[derive(Serialize)]
pub(super) struct IndexRow<'a> {
    school: &'a School,
    link: String,
    /// The print-ready PDF beside the HTML packet the name links to.
    pdf: Option<String>,
    others: Vec<(String, String)>,
    values: Vec<IndexValue>,
    gap: IndexGap,
    gap_change: IndexValue,
    flags: Vec<IndexFlag>,
    flag_kinds: Vec<String>,
}

#[derive(Serialize)]
pub(super) struct SubjectHead {
    id: String,
    short: String,
}

/// Everything the index page shows.
pub(super) struct Index<'a> {
    /// "Spring 2025-26": the window shown.
    pub when: String,
    pub heads: Vec<SubjectHead>,
    pub rows: Vec<IndexRow<'a>>,
    pub supervisors: Vec<&'a str>,
    pub levels: Vec<&'a str>,
    pub flag_kinds: Vec<(&'static str, &'static str)>,
    /// Per subject: id, title, the schools' average distance from standard, the district's.
    pub dfs: Vec<(String, String, Vec<f64>, Option<f64>)>,
    /// Per subject title: the schools' gap changes on the flags' basis.
    pub gap_changes: Vec<(String, Vec<f64>)>,
    /// Which change the gap-change chart shows, in words.
    pub basis: &'static str,
    /// Per subject, the district's % met standard beside the county's and the state's, when
    /// the published results of the year are given and the index shows the last window.
    pub beside: Vec<IndexBeside>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexBeside {
    pub title: String,
    pub source: String,
    pub county: Option<String>,
    pub rows: Vec<IndexBesideRow>,
}

/// A group's % met standard: the district's, the county's, the state's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexBesideRow {
    pub label: String,
    pub district: Option<String>,
    pub county: Option<String>,
    pub state: Option<String>,
}

/// Build the index of the current `year`. Names link to `page` (the HTML packet when there is
/// one, else the PDF), with a PDF link beside them when `pdf_links`.
pub(super) fn build<'a>(
    plan: &Plan,
    schools: &'a [School],
    by_school: &BTreeMap<String, Rows>,
    year: Option<&str>,
    page: &str,
    pdf_links: bool,
) -> Index<'a> {
    let empty = Rows::default();
    let year = year.unwrap_or_default();
    // Every school's baselines and the district's, in the table's order.
    let baselines: Vec<&Baseline> = by_school.values().flat_map(|r| &r.baselines).collect();
    // The index shows the latest window of the current year with scores anywhere.
    let window = plan
        .windows
        .iter()
        .rev()
        .find(|w| {
            baselines
                .iter()
                .any(|b| b.key.school_year == year && b.key.window == w.id)
        })
        .map(|w| w.id.clone())
        .unwrap_or_default();
    let when = format!("{} {year}", label_of(plan, &window));
    let mut subjects: Vec<String> = Vec::new();
    for b in &baselines {
        if b.key.school_year == year && b.key.window == window && !subjects.contains(&b.key.subject)
        {
            subjects.push(b.key.subject.clone());
        }
    }
    subjects.sort();
    let mut out_rows = Vec::new();
    let mut dfs_by_subject: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut changes_by_subject: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in schools {
        let own = by_school.get(&s.id).unwrap_or(&empty);
        let windows: Vec<String> = plan
            .windows
            .iter()
            .filter(|w| {
                own.baselines
                    .iter()
                    .any(|b| b.key.school_year == year && b.key.window == w.id)
            })
            .map(|w| w.id.clone())
            .collect();
        let link_window = if windows.contains(&window) {
            window.clone()
        } else {
            windows.last().cloned().unwrap_or_default()
        };
        let here = (!windows.is_empty()).then(|| packet_dir(&s.id, &link_window));
        let link = here
            .as_ref()
            .map(|d| format!("{d}/{page}"))
            .unwrap_or_default();
        let pdf = here
            .filter(|_| pdf_links)
            .map(|d| format!("{d}/packet.pdf"));
        let others = windows
            .iter()
            .filter(|w| **w != link_window)
            .map(|w| {
                (
                    label_of(plan, w),
                    format!("{}/{page}", packet_dir(&s.id, w)),
                )
            })
            .collect();
        let mut values = Vec::new();
        for subj in &subjects {
            let b = own.baselines.iter().find(|b| {
                b.key.school_year == year
                    && b.key.window == window
                    && &b.key.subject == subj
                    && b.group == "all"
            });
            let g = own.growth.iter().find(|g| {
                g.key.school_year == year
                    && g.key.window == window
                    && &g.key.subject == subj
                    && g.group == "all"
            });
            if let Some(v) = b.and_then(|b| b.mean_dfs) {
                dfs_by_subject.entry(subj).or_default().push(v);
            }
            values.push(IndexValue::of(
                b.and_then(|b| b.mean_dfs),
                b.and_then(|b| b.n),
                b.is_some(),
                signed_points,
            ));
            values.push(IndexValue::of(
                b.and_then(|b| b.pct_met),
                b.and_then(|b| b.n),
                b.is_some(),
                pct,
            ));
            values.push(IndexValue::of(
                g.and_then(|g| g.pct_met),
                g.and_then(|g| g.n_with_baseline),
                g.is_some(),
                pct,
            ));
        }
        let gaps: Vec<&model::Gap> = own
            .gaps
            .iter()
            .filter(|g| {
                g.key.school_year == year
                    && g.key.window == window
                    && g.metric == "mean_dfs"
                    && !g.suppressed
                    && plan
                        .gaps
                        .pairs
                        .iter()
                        .any(|p| p.focal == g.focal && p.reference == g.reference)
            })
            .collect();
        // A pair's change among the same students, where it is shown.
        let same_change = |g: &model::Gap| {
            own.cohort_gaps
                .iter()
                .find(|c| c.key == g.key && c.focal == g.focal && c.reference == g.reference)
                .filter(|c| !c.suppressed)
                .and_then(|c| c.gap_change)
        };
        let same_basis = plan.flags.basis == crate::pipeline::plan::Basis::SameStudents;
        for g in &gaps {
            let change = if same_basis {
                same_change(g)
            } else {
                g.gap_change
            };
            if let Some(c) = change {
                changes_by_subject
                    .entry(subject_key(&subjects, &g.key.subject))
                    .or_default()
                    .push(c);
            }
        }
        let largest = gaps.iter().filter(|g| g.gap.is_some()).max_by(|a, b| {
            a.gap
                .unwrap_or(0.0)
                .abs()
                .total_cmp(&b.gap.unwrap_or(0.0).abs())
        });
        let label = |id: &str| match id {
            "rest" => "other students".to_string(),
            _ => plan.group(id).map_or(id.to_string(), |g| g.label.clone()),
        };
        let gap = IndexGap {
            text: largest
                .and_then(|g| g.gap)
                .map_or(String::new(), signed_points),
            pair: largest.map_or(String::new(), |g| {
                format!(
                    "{} vs {}, {}",
                    label(&g.focal),
                    label(&g.reference),
                    crate::metrics::subject_label(&g.key.subject)
                )
            }),
            sort: largest
                .and_then(|g| g.gap)
                .map_or(String::new(), |v| format!("{v:.6}")),
        };
        // The same students' change where there is one, saying so; else this year's
        // students against last year's.
        let (change, basis) = match largest.and_then(|g| same_change(g)) {
            Some(c) => (Some(c), "same students"),
            None => (
                largest.and_then(|g| g.gap_change),
                "this year's vs last year's students",
            ),
        };
        let mut gap_change = IndexValue::of(change, Some(1), true, signed_points);
        if change.is_some() {
            gap_change.text = format!("{} ({basis})", gap_change.text);
        }
        let flags: Vec<IndexFlag> = own
            .flags
            .iter()
            .filter(|f| f.school_year == year && f.window == window)
            .map(|f| IndexFlag {
                kind: model::flag_label(&f.flag).to_string(),
                subject: crate::metrics::subject_label(&f.subject),
                reason: f.reason.clone(),
            })
            .collect();
        let mut flag_kinds: Vec<String> = own
            .flags
            .iter()
            .filter(|f| f.school_year == year && f.window == window)
            .map(|f| f.flag.clone())
            .collect();
        flag_kinds.dedup();
        flag_kinds.sort();
        flag_kinds.dedup();
        out_rows.push(IndexRow {
            school: s,
            link,
            pdf,
            others,
            values,
            gap,
            gap_change,
            flags,
            flag_kinds,
        });
    }
    let district_dfs = |subj: &str| {
        baselines
            .iter()
            .find(|b| {
                b.key.school_id == DISTRICT
                    && b.key.school_year == year
                    && b.key.window == window
                    && b.key.subject == subj
                    && b.group == "all"
            })
            .and_then(|b| b.mean_dfs)
    };
    let hist_subjects: Vec<(String, String, Vec<f64>, Option<f64>)> = dfs_by_subject
        .iter()
        .map(|(s, v)| {
            (
                s.to_string(),
                model::subject_title(s),
                v.clone(),
                district_dfs(s),
            )
        })
        .collect();
    let hist_changes: Vec<(String, Vec<f64>)> = changes_by_subject
        .iter()
        .map(|(s, v)| (model::subject_title(s), v.clone()))
        .collect();
    let basis = match plan.flags.basis {
        crate::pipeline::plan::Basis::SameStudents => {
            "among the students tested at the school both years"
        }
        crate::pipeline::plan::Basis::CrossSectional => "this year's students against last year's",
    };
    let mut supervisors: Vec<&str> = schools.iter().map(|s| s.supervisor.as_str()).collect();
    supervisors.sort();
    supervisors.dedup();
    let mut levels: Vec<&str> = schools.iter().map(|s| s.level.as_str()).collect();
    levels.sort();
    levels.dedup();
    let flag_kinds: Vec<(&str, &str)> = FlagKind::ALL
        .into_iter()
        .map(|f| (f.code(), f.label()))
        .collect();
    let heads: Vec<SubjectHead> = subjects
        .iter()
        .map(|s| SubjectHead {
            id: s.clone(),
            short: crate::metrics::subject_label(s).replace("math", "Math"),
        })
        .collect();
    let district_rows = by_school.get(DISTRICT).unwrap_or(&empty);
    let beside: Vec<IndexBeside> = subjects
        .iter()
        .filter(|s| window == plan.last_window().id && district_rows.has_state(year, s))
        .map(|subj| IndexBeside {
            title: model::subject_title(subj),
            source: format!("CAASPP published results, {year}"),
            county: district_rows.single_county().map(|c| format!("County {c}")),
            rows: plan
                .groups
                .iter()
                .filter_map(|g| {
                    if !district_rows.has_state_group(year, subj, &g.id) {
                        return None;
                    }
                    let (state, county) = district_rows.state_pct_met(year, subj, &g.id);
                    let district = baselines
                        .iter()
                        .find(|b| {
                            b.key.school_id == DISTRICT
                                && b.key.school_year == year
                                && b.key.window == window
                                && b.key.subject == *subj
                                && b.group == g.id
                        })
                        .map(|b| {
                            b.pct_met
                                .map_or_else(|| model::SUPPRESSED_TEXT.to_string(), pct)
                        });
                    Some(IndexBesideRow {
                        label: g.label.clone(),
                        district,
                        county: county.map(pct),
                        state: state.map(pct),
                    })
                })
                .collect(),
        })
        .filter(|b| !b.rows.is_empty())
        .collect();
    Index {
        beside,
        when,
        heads,
        rows: out_rows,
        supervisors,
        levels,
        flag_kinds,
        dfs: hist_subjects,
        gap_changes: hist_changes,
        basis,
    }
}

fn subject_key<'s>(subjects: &'s [String], s: &str) -> &'s str {
    subjects.iter().find(|x| *x == s).map_or("", |x| x.as_str())
}

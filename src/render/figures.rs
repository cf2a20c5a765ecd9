//! Which charts a packet has, built from its model: titles that say what the chart shows,
//! alt text, and the data table behind each.

use super::charts::{
    BLUE, BarRow, Bars, Chart, DataTable, GREEN, Histogram, IntervalRow, Intervals, Kind, PURPLE,
    Panel, Paths, Stacked, StackedRow,
};
use super::format::signed_points;
use super::model::{Packet, Subject};
use crate::metrics::Z95;

/// The band names a principal knows from the state's reports.
pub const BAND_NAMES: [&str; 4] = [
    "Standard not met",
    "Standard nearly met",
    "Standard met",
    "Standard exceeded",
];

/// A chart and the section it belongs to.
pub struct Figure {
    pub section: &'static str,
    pub subject: Option<String>,
    pub chart: Chart,
}

fn alt(title: &str, subtitle: &str, table: &DataTable) -> String {
    let rows: Vec<String> = table
        .rows
        .iter()
        .map(|r| {
            let mut cells = r.iter();
            let first = cells.next().cloned().unwrap_or_default();
            let rest: Vec<String> = table.head[1..]
                .iter()
                .zip(cells)
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| format!("{} {v}", h.to_lowercase()))
                .collect();
            format!("{first}: {}", rest.join(", "))
        })
        .collect();
    format!("{title}. {subtitle} {}.", rows.join("; "))
}

fn chart(id: String, title: String, subtitle: String, table: DataTable, kind: Kind) -> Chart {
    Chart {
        alt: alt(&title, &subtitle, &table),
        id,
        title,
        subtitle,
        table,
        kind,
    }
}

pub fn figures(p: &Packet) -> Vec<Figure> {
    let mut out = Vec::new();
    for s in &p.subjects {
        let when = format!("{}, {} {}", s.assessment, s.window_label, p.school_year);
        out.push(Figure {
            section: "baselines",
            subject: Some(s.id.clone()),
            chart: mean_dfs(p, s, &when),
        });
        out.push(Figure {
            section: "baselines",
            subject: Some(s.id.clone()),
            chart: bands(p, s, &when),
        });
        if s.growth_shown {
            out.push(Figure {
                section: "growth",
                subject: Some(s.id.clone()),
                chart: growth(p, s, &when),
            });
        }
        if !s.gaps.is_empty() {
            out.push(Figure {
                section: "gaps",
                subject: Some(s.id.clone()),
                chart: gaps(p, s, &when),
            });
            out.push(Figure {
                section: "gaps",
                subject: Some(s.id.clone()),
                chart: gap_change(p, s, &when),
            });
            out.push(Figure {
                section: "gaps",
                subject: Some(s.id.clone()),
                chart: gap_paths(p, s),
            });
        }
    }
    if let Some(sv) = &p.survey
        && !sv.constructs.is_empty()
    {
        let colors = |t: &str| match t {
            "Students" => BLUE,
            "Staff" => GREEN,
            _ => PURPLE,
        };
        let rows = sv
            .constructs
            .iter()
            .map(|r| BarRow {
                label: r.construct.clone(),
                value: r.cell.pct,
                text: match (&r.cell.value, &r.cell.n) {
                    (Some(v), Some(n)) => format!("{v} · n {n} {}", r.respondent.to_lowercase()),
                    _ => p.suppressed_text.clone(),
                },
                marker: r
                    .cell
                    .pct
                    .and(r.district.as_ref().and_then(|d| parse_pct(d))),
                color: colors(&r.respondent),
            })
            .collect();
        let table = DataTable {
            head: vec![
                "Construct".into(),
                "Respondents".into(),
                "Favorable".into(),
                "N".into(),
                "District".into(),
            ],
            rows: sv
                .constructs
                .iter()
                .map(|r| {
                    vec![
                        r.construct.clone(),
                        r.respondent.clone(),
                        r.cell
                            .value
                            .clone()
                            .unwrap_or_else(|| p.suppressed_text.clone()),
                        r.cell.n.clone().unwrap_or_default(),
                        if r.cell.suppressed {
                            String::new()
                        } else {
                            r.district.clone().unwrap_or_default()
                        },
                    ]
                })
                .collect(),
        };
        let mut types: Vec<&str> = Vec::new();
        for r in &sv.constructs {
            if !types.contains(&r.respondent.as_str()) {
                types.push(&r.respondent);
            }
        }
        out.push(Figure {
            section: "survey",
            subject: None,
            chart: chart(
                "survey-favorable".into(),
                "Share of favorable survey responses by construct".into(),
                format!(
                    "Students, staff and families, {}. Each bar pools the construct's items.",
                    sv.when
                ),
                table,
                Kind::Bars(Bars {
                    rows,
                    axis: "Favorable responses (%)".into(),
                    range: Some((0.0, 100.0)),
                    reference: None,
                    marker_label: Some("District".into()),
                    legend: types.iter().map(|t| (t.to_string(), colors(t))).collect(),
                }),
            ),
        });
    }
    out
}

fn parse_pct(s: &str) -> Option<f64> {
    s.trim_end_matches('%')
        .replace('\u{2212}', "-")
        .parse()
        .ok()
}

fn mean_dfs(p: &Packet, s: &Subject, when: &str) -> Chart {
    let rows = s
        .baselines
        .iter()
        .map(|r| BarRow {
            label: r.who.short.clone(),
            value: r.values.map(|v| v.0),
            text: match (&r.mean_dfs, &r.who.n) {
                (Some(v), Some(n)) => format!("{v} · n {n}"),
                _ => p.suppressed_text.clone(),
            },
            marker: r.district,
            color: BLUE,
        })
        .collect();
    let table = DataTable {
        head: vec![
            "Group".into(),
            "Average distance from standard".into(),
            "N".into(),
            "District".into(),
        ],
        rows: s
            .baselines
            .iter()
            .map(|r| {
                vec![
                    r.who.label.clone(),
                    r.mean_dfs
                        .clone()
                        .unwrap_or_else(|| p.suppressed_text.clone()),
                    r.who.n.clone().unwrap_or_default(),
                    if r.who.suppressed {
                        String::new()
                    } else {
                        r.district_mean_dfs.clone().unwrap_or_default()
                    },
                ]
            })
            .collect(),
    };
    chart(
        format!("{}-mean-dfs", s.id),
        format!(
            "{}: average distance from standard by student group",
            s.title
        ),
        format!("{when}. Points above (+) or below (\u{2212}) the score that meets the standard."),
        table,
        Kind::Bars(Bars {
            rows,
            axis: "Average distance from standard (scale-score points)".into(),
            range: None,
            reference: None,
            marker_label: Some("District, same group".into()),
            legend: vec![(p.school.name.clone(), BLUE)],
        }),
    )
}

fn bands(p: &Packet, s: &Subject, when: &str) -> Chart {
    let rows = s
        .baselines
        .iter()
        .map(|r| StackedRow {
            label: r.who.short.clone(),
            shares: r.values.map(|v| v.1),
            text: match &r.who.n {
                Some(n) => format!("n {n}"),
                None => p.suppressed_text.clone(),
            },
        })
        .collect();
    let mut head = vec!["Group".to_string()];
    head.extend(BAND_NAMES.iter().map(|b| b.to_string()));
    head.push("N".into());
    let table = DataTable {
        head,
        rows: s
            .baselines
            .iter()
            .map(|r| {
                let mut row = vec![r.who.label.clone()];
                match &r.bands {
                    Some(b) => row.extend(b.iter().cloned()),
                    None => {
                        row.push(p.suppressed_text.clone());
                        row.extend(["", "", ""].map(String::from));
                    }
                }
                row.push(r.who.n.clone().unwrap_or_default());
                row
            })
            .collect(),
    };
    chart(
        format!("{}-bands", s.id),
        format!(
            "{}: share of students in each achievement level by group",
            s.title
        ),
        format!("{when}. Each bar adds to 100% of the group's tested students."),
        table,
        Kind::Stacked(Stacked {
            rows,
            parts: BAND_NAMES.iter().map(|b| b.to_string()).collect(),
        }),
    )
}

fn growth(p: &Packet, s: &Subject, when: &str) -> Chart {
    let rows = s
        .growth
        .iter()
        .map(|r| BarRow {
            label: r.who.short.clone(),
            value: r.value,
            text: match (&r.pct_met, &r.who.n) {
                (Some(v), Some(n)) => format!("{v} · n {n}"),
                (None, Some(n)) => format!("no targets · n {n}"),
                _ => p.suppressed_text.clone(),
            },
            marker: r.district,
            color: GREEN,
        })
        .collect();
    let table = DataTable {
        head: vec![
            "Group".into(),
            "Met year-of-growth target".into(),
            "Students with last year's score".into(),
            "Mean growth".into(),
            "Median growth".into(),
            "District".into(),
        ],
        rows: s
            .growth
            .iter()
            .map(|r| {
                vec![
                    r.who.label.clone(),
                    r.pct_met.clone().unwrap_or_else(|| {
                        if r.who.suppressed {
                            p.suppressed_text.clone()
                        } else {
                            "no targets".into()
                        }
                    }),
                    r.who.n.clone().unwrap_or_default(),
                    r.mean_growth.clone().unwrap_or_default(),
                    r.median_growth.clone().unwrap_or_default(),
                    if r.who.suppressed {
                        String::new()
                    } else {
                        r.district_pct_met.clone().unwrap_or_default()
                    },
                ]
            })
            .collect(),
    };
    chart(
        format!("{}-growth", s.id),
        format!(
            "{}: students on track for a year of growth, by group",
            s.title
        ),
        format!("{when}. Students with last year's score who met their target to date."),
        table,
        Kind::Bars(Bars {
            rows,
            axis: "Met their year-of-growth target to date (%)".into(),
            range: Some((0.0, 100.0)),
            reference: s.growth_line_value.zip(s.growth_line.clone()),
            marker_label: Some("District, same group".into()),
            legend: vec![(p.school.name.clone(), GREEN)],
        }),
    )
}

fn gaps(p: &Packet, s: &Subject, when: &str) -> Chart {
    let rows = s
        .gaps
        .iter()
        .map(|g| IntervalRow {
            label: g.short.clone(),
            now: g.now,
            then: g
                .then
                .map(|(v, se)| (v, se.map(|se| (v - Z95 * se, v + Z95 * se)))),
            text: if g.suppressed {
                p.suppressed_text.clone()
            } else {
                match (&g.gap, &g.baseline_gap) {
                    (Some(a), Some(b)) => format!("{a} (was {b})"),
                    (Some(a), None) => a.clone(),
                    _ => String::new(),
                }
            },
        })
        .collect();
    let table = DataTable {
        head: vec![
            "Pair".into(),
            "Gap".into(),
            "95% range".into(),
            "A year earlier".into(),
            "Change".into(),
            "Target".into(),
            "Progress".into(),
        ],
        rows: s
            .gaps
            .iter()
            .map(|g| {
                let o = |v: &Option<String>| v.clone().unwrap_or_default();
                vec![
                    g.pair.clone(),
                    if g.suppressed {
                        p.suppressed_text.clone()
                    } else {
                        o(&g.gap)
                    },
                    o(&g.interval),
                    o(&g.baseline_gap),
                    o(&g.gap_change),
                    o(&g.target_gap),
                    o(&g.on_track),
                ]
            })
            .collect(),
    };
    chart(
        format!("{}-gaps", s.id),
        format!(
            "{}: gaps in average distance from standard, now and a year earlier",
            s.title
        ),
        format!("{when}. Above 0, the first group trails. Lines are 95% ranges."),
        table,
        Kind::Intervals(Intervals {
            rows,
            axis: "Gap (scale-score points)".into(),
            legend: [
                "This year, with its 95% range".into(),
                "Same window a year earlier".into(),
            ],
        }),
    )
}

/// Each pair's change in gap since a year earlier, two ways: among the same students (with
/// its 95% range) and comparing this year's students with last year's.
fn gap_change(p: &Packet, s: &Subject, when: &str) -> Chart {
    let rows = s
        .gaps
        .iter()
        .map(|g| {
            let same = g.same.as_ref().and_then(|x| x.value);
            let cross = if g.suppressed { None } else { g.change };
            IntervalRow {
                label: g.short.clone(),
                now: same,
                then: cross,
                text: match (&g.same, &g.gap_change) {
                    (Some(x), _) if x.suppressed => p.suppressed_text.clone(),
                    (Some(x), Some(c)) => {
                        format!("{} · all tested {c}", x.change.clone().unwrap_or_default())
                    }
                    (Some(x), None) => x.change.clone().unwrap_or_default(),
                    (None, Some(c)) => format!("all tested {c}"),
                    (None, None) if g.suppressed => p.suppressed_text.clone(),
                    (None, None) => "no comparison a year earlier".to_string(),
                },
            }
        })
        .collect();
    let table = DataTable {
        head: vec![
            "Pair".into(),
            "Same students".into(),
            "95% range".into(),
            "Students followed".into(),
            "This year's vs last year's students".into(),
        ],
        rows: s
            .gaps
            .iter()
            .map(|g| {
                let o = |v: &Option<String>| v.clone().unwrap_or_default();
                let same = g.same.as_ref();
                vec![
                    g.pair.clone(),
                    match same {
                        Some(x) if x.suppressed => p.suppressed_text.clone(),
                        Some(x) => o(&x.change),
                        None => String::new(),
                    },
                    same.map_or(String::new(), |x| o(&x.interval)),
                    same.map_or(String::new(), |x| o(&x.students)),
                    if g.suppressed {
                        p.suppressed_text.clone()
                    } else {
                        o(&g.gap_change)
                    },
                ]
            })
            .collect(),
    };
    chart(
        format!("{}-gap-change", s.id),
        format!("{}: change in each gap since a year earlier", s.title),
        format!("{when}. Below 0 the gap narrowed; lines are 95% ranges."),
        table,
        Kind::Intervals(Intervals {
            rows,
            axis: "Change in the gap since a year earlier (points)".into(),
            legend: [
                "Same students, with its 95% range".into(),
                "This year's vs last year's students".into(),
            ],
        }),
    )
}

fn gap_paths(p: &Packet, s: &Subject) -> Chart {
    let windows: Vec<String> = s
        .gaps
        .first()
        .map(|g| g.path.iter().map(|x| x.window.clone()).collect())
        .unwrap_or_default();
    let panels = s
        .gaps
        .iter()
        .map(|g| {
            let none = g.path.iter().all(|x| x.now.is_none() && x.then.is_none());
            Panel {
                title: g.short.clone(),
                now: g.path.iter().map(|x| x.now).collect(),
                then: g.path.iter().map(|x| x.then).collect(),
                target: g.path.iter().map(|x| x.target).collect(),
                note: none.then(|| format!("Not shown: {}", p.suppressed_text)),
            }
        })
        .collect();
    let o = |v: Option<f64>| v.map(signed_points).unwrap_or_default();
    let table = DataTable {
        head: vec![
            "Pair".into(),
            "Window".into(),
            "Gap this year".into(),
            "Gap a year earlier".into(),
            "Target".into(),
        ],
        rows: s
            .gaps
            .iter()
            .flat_map(|g| {
                g.path.iter().map(|x| {
                    vec![
                        g.pair.clone(),
                        x.window.clone(),
                        o(x.now),
                        o(x.then),
                        o(x.target),
                    ]
                })
            })
            .collect(),
    };
    chart(
        format!("{}-gap-paths", s.id),
        format!(
            "{}: each gap across the year against its target path",
            s.title
        ),
        format!(
            "{} {}, window by window, against a year earlier; nearer 0 is a smaller gap.",
            p.school.name, p.school_year
        ),
        table,
        Kind::Paths(Paths {
            windows,
            panels,
            axis: "Gap in average distance from standard (points); panels share one scale.".into(),
        }),
    )
}

/// The index page's district charts: schools' average distance from standard per subject, and
/// schools' gap changes.
pub fn district_charts(
    subjects: &[(String, String, Vec<f64>, Option<f64>)],
    gap_changes: &[(String, Vec<f64>)],
    when: &str,
    basis: &str,
) -> Vec<Chart> {
    let mut out = Vec::new();
    for (id, title, values, district) in subjects {
        let table = histogram_table(values);
        out.push(chart(
            format!("district-{id}-mean-dfs"),
            format!("{title}: how schools' average distance from standard is spread"),
            format!("{when}. All students at each school; one bar counts the schools in a range."),
            table,
            Kind::Histogram(Histogram {
                values: values.clone(),
                axis: "School's average distance from standard (points)".into(),
                marker: district.map(|d| (d, format!("District {}", signed_points(d)))),
            }),
        ));
    }
    for (id, title, values) in gap_changes.iter().map(|(t, v)| (t.clone(), t.clone(), v)) {
        let slug: String = id
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        out.push(chart(
            format!("district-{slug}-gap-change"),
            format!("{title}: change in schools' gaps since a year earlier"),
            format!("{when}. Every configured pair at every school with a shown change, {basis}; below 0 the gap narrowed."),
            histogram_table(values),
            Kind::Histogram(Histogram {
                values: values.clone(),
                axis: "Change in gap (points)".into(),
                marker: Some((0.0, "No change".into())),
            }),
        ));
    }
    out
}

fn histogram_table(values: &[f64]) -> DataTable {
    let b = super::charts::bins(values);
    let rows = b
        .counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| {
            let x = b.lo + k as f64 * b.step;
            vec![
                format!("{} to {}", signed_points(x), signed_points(x + b.step)),
                n.to_string(),
            ]
        })
        .collect();
    DataTable {
        head: vec!["Range".into(), "Schools".into()],
        rows,
    }
}

//! Flags for supervisors and the steering committee: gaps that widened, bright spots, gaps
//! that closed by decline, and low growth. Each flag reads only rows large enough to be
//! accountable and carries one plain sentence that describes, without judging.

use super::{sorted, subject_label};
use crate::canonical::SchoolYear;
use crate::pipeline::Plan;
use crate::pipeline::plan::{Basis, Metric};
use polars::prelude::*;

pub const COLUMNS: [&str; 9] = [
    "school_id",
    "school_year",
    "window",
    "subject",
    "flag",
    "focal_group",
    "reference_group",
    "value",
    "reason",
];

/// The kinds of flag, in the order the index lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    BrightSpot,
    GapWidening,
    ClosingByDecline,
    LowGrowth,
}

impl FlagKind {
    pub const ALL: [FlagKind; 4] = [
        FlagKind::BrightSpot,
        FlagKind::GapWidening,
        FlagKind::ClosingByDecline,
        FlagKind::LowGrowth,
    ];

    /// The `flag` column's value.
    pub fn code(self) -> &'static str {
        match self {
            FlagKind::BrightSpot => "bright_spot",
            FlagKind::GapWidening => "gap_widening",
            FlagKind::ClosingByDecline => "closing_by_decline",
            FlagKind::LowGrowth => "low_growth",
        }
    }

    /// Its name in packets and the index.
    pub fn label(self) -> &'static str {
        match self {
            FlagKind::BrightSpot => "Bright spot",
            FlagKind::GapWidening => "Gap widening",
            FlagKind::ClosingByDecline => "Closing by decline",
            FlagKind::LowGrowth => "Growth to watch",
        }
    }

    pub fn parse(code: &str) -> Option<FlagKind> {
        FlagKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

struct Flag {
    school_id: String,
    school_year: String,
    window: String,
    subject: String,
    flag: FlagKind,
    focal: String,
    reference: Option<String>,
    value: f64,
    reason: String,
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df.column(name)?.f64()?.iter().collect())
}

/// One decimal, rounded half away from zero (as the Dashboard rounds), never "-0.0".
pub fn one_decimal(x: f64) -> String {
    let s = format!("{:.1}", (x * 10.0).round() / 10.0);
    if s == "-0.0" { "0.0".to_string() } else { s }
}

pub fn table(
    plan: &Plan,
    gaps: &DataFrame,
    cohort_gaps: &DataFrame,
    growth: &DataFrame,
) -> PolarsResult<DataFrame> {
    let mut flags = gap_flags(plan, gaps, cohort_gaps)?;
    flags.extend(low_growth(plan, growth)?);
    let col_of = |f: fn(&Flag) -> Option<String>| flags.iter().map(f).collect::<Vec<_>>();
    let df = df![
        "school_id" => col_of(|f| Some(f.school_id.clone())),
        "school_year" => col_of(|f| Some(f.school_year.clone())),
        "window" => col_of(|f| Some(f.window.clone())),
        "subject" => col_of(|f| Some(f.subject.clone())),
        "flag" => col_of(|f| Some(f.flag.code().to_string())),
        "focal_group" => col_of(|f| Some(f.focal.clone())),
        "reference_group" => col_of(|f| f.reference.clone()),
        "value" => flags.iter().map(|f| f.value).collect::<Vec<_>>(),
        "reason" => col_of(|f| Some(f.reason.clone())),
    ]?;
    sorted("flags", df.lazy().select(COLUMNS.map(col)))
}

/// Which gap flag a distinguishable change raises (METRICS.md "Flags"): widening above the
/// threshold; otherwise a narrowing is closing by decline when the reference group fell and
/// fell by more than the focal group rose, else a bright spot. `None`: no flag (or its rule
/// is switched off; a narrowing by decline is never relabelled a bright spot).
pub fn gap_flag(plan: &Plan, change: f64, focal: f64, reference: f64) -> Option<FlagKind> {
    if change > 0.0 {
        return plan
            .flags
            .gap_widening
            .is_some_and(|min| change > min)
            .then_some(FlagKind::GapWidening);
    }
    if change >= 0.0 {
        return None;
    }
    if is_closing_by_decline(change, focal, reference) {
        plan.flags
            .closing_by_decline
            .then_some(FlagKind::ClosingByDecline)
    } else {
        plan.flags.bright_spot.then_some(FlagKind::BrightSpot)
    }
}

/// METRICS.md's decline rule: a gap narrowed (`change` < 0) mostly because the reference group
/// fell: it fell, and by more than the focal group rose. The one home of this rule; packets
/// label rows with it too.
pub fn is_closing_by_decline(change: f64, focal: f64, reference: f64) -> bool {
    change < 0.0 && reference < 0.0 && -reference > focal
}

/// The rows gap flags read on the plan's basis: unsuppressed, every side (and `rest` when R is
/// `all`) with at least `min_n_accountability` students, and the change distinguishable.
fn eligible(plan: &Plan, gaps: &DataFrame, cohort_gaps: &DataFrame) -> PolarsResult<DataFrame> {
    let acc = i64::from(plan.privacy.min_n_accountability);
    let sized = col("suppressed")
        .not()
        .and(col("n_focal").gt_eq(lit(acc)))
        .and(col("n_reference").gt_eq(lit(acc)))
        .and(col("n_other").fill_null(lit(acc)).gt_eq(lit(acc)));
    match plan.flags.basis {
        Basis::SameStudents => cohort_gaps
            .clone()
            .lazy()
            .filter(sized.and(col("distinguishable").fill_null(lit(false))))
            .collect(),
        Basis::CrossSectional => gaps
            .clone()
            .lazy()
            .filter(
                col("metric")
                    .eq(lit(Metric::MeanDfs.name()))
                    .and(sized)
                    .and(col("change_distinguishable").fill_null(lit(false))),
            )
            .collect(),
    }
}

fn gap_flags(plan: &Plan, gaps: &DataFrame, cohort_gaps: &DataFrame) -> PolarsResult<Vec<Flag>> {
    let eligible = eligible(plan, gaps, cohort_gaps)?;
    let same = plan.flags.basis == Basis::SameStudents;
    let school = strs(&eligible, "school_id")?;
    let year = strs(&eligible, "school_year")?;
    let window = strs(&eligible, "window")?;
    let subject = strs(&eligible, "subject")?;
    let focal = strs(&eligible, "focal_group")?;
    let reference = strs(&eligible, "reference_group")?;
    let change = floats(&eligible, "gap_change")?;
    let focal_change = floats(&eligible, "focal_change")?;
    let reference_change = floats(&eligible, "reference_change")?;
    let n_focal: Vec<Option<i64>> = eligible.column("n_focal")?.i64()?.iter().collect();
    let n_reference: Vec<Option<i64>> = eligible.column("n_reference")?.i64()?.iter().collect();
    // The interval (same students) or the two gaps (cross-sectional) the sentence quotes.
    let (first, second) = if same {
        (floats(&eligible, "ci_low")?, floats(&eligible, "ci_high")?)
    } else {
        (
            floats(&eligible, "baseline_gap")?,
            floats(&eligible, "gap")?,
        )
    };

    let mut out = Vec::new();
    for i in 0..eligible.height() {
        let (Some(d), Some(fc), Some(rc), Some(a), Some(b), Some(nf), Some(nr)) = (
            change[i],
            focal_change[i],
            reference_change[i],
            first[i],
            second[i],
            n_focal[i],
            n_reference[i],
        ) else {
            continue;
        };
        let Some(flag) = gap_flag(plan, d, fc, rc) else {
            continue;
        };
        let words = Words::new(
            plan,
            &focal[i],
            &reference[i],
            &window[i],
            &year[i],
            &subject[i],
        );
        let reason = if same {
            words.same_students(flag, (nf, nr), d, (a, b), (fc, rc))
        } else {
            words.cross_sectional(flag, (nf, nr), (a, b), (fc, rc))
        };
        out.push(Flag {
            school_id: school[i].clone(),
            school_year: year[i].clone(),
            window: window[i].clone(),
            subject: subject[i].clone(),
            flag,
            focal: focal[i].clone(),
            reference: Some(reference[i].clone()),
            value: d,
            reason,
        });
    }
    Ok(out)
}

fn low_growth(plan: &Plan, growth: &DataFrame) -> PolarsResult<Vec<Flag>> {
    let Some((below, min_n)) = plan.flags.low_growth else {
        return Ok(Vec::new());
    };
    let rows = growth
        .clone()
        .lazy()
        .filter(
            col("group")
                .eq(lit("all"))
                .and(col("suppressed").not())
                .and(col("n_with_baseline").gt_eq(lit(i64::from(min_n))))
                .and(col("pct_met_growth_target").lt(lit(below))),
        )
        .collect()?;
    let school = strs(&rows, "school_id")?;
    let year = strs(&rows, "school_year")?;
    let window = strs(&rows, "window")?;
    let subject = strs(&rows, "subject")?;
    let pct = floats(&rows, "pct_met_growth_target")?;
    let n: Vec<Option<i64>> = rows.column("n_with_baseline")?.i64()?.iter().collect();
    let mut out = Vec::new();
    for i in 0..rows.height() {
        let (Some(p), Some(n)) = (pct[i], n[i]) else {
            continue;
        };
        let words = Words::new(plan, "all", "all", &window[i], &year[i], &subject[i]);
        out.push(Flag {
            school_id: school[i].clone(),
            school_year: year[i].clone(),
            window: window[i].clone(),
            subject: subject[i].clone(),
            flag: FlagKind::LowGrowth,
            focal: "all".to_string(),
            reference: None,
            value: p,
            reason: format!(
                "{}, {}% of the {} students with a baseline score had reached their growth target for this point in the year; this flag is raised below {}%.",
                words.lead,
                one_decimal(p),
                crate::thousands(n as usize),
                one_decimal(below)
            ),
        });
    }
    Ok(out)
}

/// The phrases a flag's sentence is built from.
struct Words {
    lead: String,
    window: String,
    since: String,
    focal: String,
    reference: String,
    focal_possessive: String,
    reference_possessive: String,
}

impl Words {
    fn new(
        plan: &Plan,
        focal: &str,
        reference: &str,
        window: &str,
        year: &str,
        subject: &str,
    ) -> Words {
        let window_label = plan
            .windows
            .iter()
            .find(|w| w.id == window)
            .map_or(window.to_string(), |w| w.label.to_lowercase());
        let previous = SchoolYear::parse(year)
            .map(|y| y.previous().to_string())
            .unwrap_or_default();
        let focal = group_phrase(plan, focal);
        let reference = group_phrase(plan, reference);
        Words {
            lead: format!("In {} at the {window_label} window", subject_label(subject)),
            window: window_label.clone(),
            since: format!("{window_label} {previous}"),
            focal_possessive: possessive(&focal),
            reference_possessive: possessive(&reference),
            focal,
            reference,
        }
    }
}

impl Words {
    /// "212 English learners and 1,034 other students": who a change covers; with R = `all`
    /// the focal group is among all students.
    fn counts(&self, (n_focal, n_reference): (i64, i64)) -> String {
        let n = |k: i64| crate::thousands(k.max(0) as usize);
        if self.reference == "all students" {
            format!(
                "{} students, {} of them {}",
                n(n_reference),
                n(n_focal),
                self.focal
            )
        } else {
            format!(
                "{} {} and {} {}",
                n(n_focal),
                self.focal,
                n(n_reference),
                self.reference
            )
        }
    }

    /// The sentence of a flag on the same-students basis.
    fn same_students(
        &self,
        flag: FlagKind,
        n: (i64, i64),
        change: f64,
        (low, high): (f64, f64),
        (focal, reference): (f64, f64),
    ) -> String {
        let (f, r, since) = (&self.focal, &self.reference, &self.since);
        // Said in the direction of the change, the interval with it.
        let (moved, low, high) = if change > 0.0 {
            (
                format!("{r} gained {} points on {f}", one_decimal(change)),
                low,
                high,
            )
        } else {
            (
                format!("{f} gained {} points on {r}", one_decimal(-change)),
                -high,
                -low,
            )
        };
        let head = format!(
            "{}, among the {} tested here both this {} and in {since}, {moved} (95% range {} to {})",
            self.lead,
            self.counts(n),
            self.window,
            one_decimal(low),
            one_decimal(high)
        );
        match flag {
            FlagKind::GapWidening => {
                format!("{head}; the change is larger than year-to-year noise would explain.")
            }
            FlagKind::BrightSpot => format!(
                "{head}; {} distance from standard rose by {} points on average.",
                self.focal_possessive,
                one_decimal(focal)
            ),
            _ => format!(
                "{head}, but this is closing by decline: {} distance from standard fell by {} points on average while {} {}.",
                self.reference_possessive,
                one_decimal(-reference),
                self.focal_possessive,
                focal_movement(focal)
            ),
        }
    }

    /// The sentence of a flag on the cross-sectional basis.
    fn cross_sectional(
        &self,
        flag: FlagKind,
        n: (i64, i64),
        (before, now): (f64, f64),
        (focal, reference): (f64, f64),
    ) -> String {
        let moved = self.movement(before, now);
        let lead = format!(
            "{}, comparing the {} tested this year with last year's students",
            self.lead,
            self.counts(n)
        );
        match flag {
            FlagKind::GapWidening => format!(
                "{lead}, {moved}; the change is larger than year-to-year noise would explain."
            ),
            FlagKind::BrightSpot => format!(
                "{lead}, {moved}; {} average rose by {} points.",
                self.focal_possessive,
                one_decimal(focal)
            ),
            _ => format!(
                "{lead}, {moved}, but this is closing by decline: {} average fell by {} points while {} average {}.",
                self.reference_possessive,
                one_decimal(-reference),
                self.focal_possessive,
                focal_movement(focal)
            ),
        }
    }

    /// How the gap moved from `before` to `now` (positive: the focal group trails), said the
    /// way it reads when the focal group is behind, ahead, or has crossed over.
    fn movement(&self, before: f64, now: f64) -> String {
        let (f, r, since) = (&self.focal, &self.reference, &self.since);
        let change = one_decimal((now - before).abs());
        match (before >= 0.0, now >= 0.0) {
            (true, true) => format!(
                "the gap between {f} and {r} {} by {change} points since {since} (from {} to {} points)",
                if now > before { "widened" } else { "narrowed" },
                one_decimal(before),
                one_decimal(now)
            ),
            (false, false) => format!(
                "{} lead over {r} {} by {change} points since {since} (from {} to {} points)",
                self.focal_possessive,
                if now > before { "narrowed" } else { "grew" },
                one_decimal(-before),
                one_decimal(-now)
            ),
            (false, true) => format!(
                "{f} went from {} points ahead of {r} in {since} to {} points behind",
                one_decimal(-before),
                one_decimal(now)
            ),
            (true, false) => format!(
                "{f} went from {} points behind {r} in {since} to {} points ahead",
                one_decimal(before),
                one_decimal(-now)
            ),
        }
    }
}

/// What the focal group did while a gap closed by decline.
fn focal_movement(change: f64) -> String {
    match one_decimal(change).as_str() {
        "0.0" => "held steady".to_string(),
        _ if change > 0.0 => format!("rose by {} points", one_decimal(change)),
        _ => format!("fell by {} points", one_decimal(-change)),
    }
}

/// A group's label as it reads inside a sentence.
pub(crate) fn group_phrase(plan: &Plan, id: &str) -> String {
    match id {
        "rest" => "other students".to_string(),
        "all" => "all students".to_string(),
        _ => {
            let label = plan.group(id).map_or(id, |g| g.label.as_str());
            // Common words are lowercased mid-sentence; names of languages and peoples keep
            // their capital.
            let first = label.split(' ').next().unwrap_or_default();
            let common = [
                "Students",
                "Female",
                "Male",
                "Nonbinary",
                "Socioeconomically",
                "Foster",
                "Reclassified",
            ];
            if common.contains(&first) {
                let mut chars = label.chars();
                chars
                    .next()
                    .map(|c| c.to_lowercase().collect::<String>() + chars.as_str())
                    .unwrap_or_default()
            } else {
                label.to_string()
            }
        }
    }
}

pub(crate) fn possessive(phrase: &str) -> String {
    if phrase.ends_with('s') {
        format!("{phrase}'")
    } else {
        format!("{phrase}'s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let text = "name = \"t\"\n[inputs.schools]\npath = \"s.csv\"\n[inputs.students]\npath = \"st.csv\"\n[inputs.assessments]\npath = \"a.csv\"\n[[windows]]\nid = \"fall\"\nshare_of_year = 0.2\n[[windows]]\nid = \"spring\"\nshare_of_year = 1.0\n[scales.sbac]\npreset = \"smarter_balanced\"\n[assessments.sbac]\nscale = \"sbac\"\n";
        crate::pipeline::from_text(text, std::path::Path::new("/t/p.toml"), String::new()).unwrap()
    }

    #[test]
    fn sentences_say_who_is_behind_or_ahead() {
        let p = plan();
        let w = Words::new(&p, "female", "male", "fall", "2025-26", "math");
        assert_eq!(w.lead, "In math at the fall window");
        assert_eq!(
            w.movement(40.0, 46.25),
            "the gap between female students and male students widened by 6.3 points since fall 2024-25 (from 40.0 to 46.3 points)"
        );
        assert_eq!(
            w.movement(-19.1, 15.5),
            "female students went from 19.1 points ahead of male students in fall 2024-25 to 15.5 points behind"
        );
        assert_eq!(
            w.movement(-10.0, -4.0),
            "female students' lead over male students narrowed by 6.0 points since fall 2024-25 (from 10.0 to 4.0 points)"
        );
        let el = Words::new(&p, "english_learner", "rest", "spring", "2025-26", "ela");
        assert_eq!(
            el.movement(12.0, -3.0),
            "English learners went from 12.0 points behind other students in spring 2024-25 to 3.0 points ahead"
        );
        assert_eq!(el.focal_possessive, "English learners'");
        assert_eq!(one_decimal(-0.04), "0.0");
    }
}

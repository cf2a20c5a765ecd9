//! Shipped defaults: the Smarter Balanced (CAASPP) cut scores and obtainable score ranges from
//! the state's published tables, and the default student groups and gap pairs.

use super::plan::{Cuts, GroupDef};

pub const SMARTER_BALANCED: &str = "smarter_balanced";
pub const PRESETS: &[&str] = &[SMARTER_BALANCED];

const SB_GRADES: [i32; 7] = [3, 4, 5, 6, 7, 8, 11];

/// One subject's table, each row by grade 3, 4, 5, 6, 7, 8, 11.
struct SbTable {
    subject: &'static str,
    near: [i32; 7],
    at: [i32; 7],
    above: [i32; 7],
    lowest: [i32; 7],
    highest: [i32; 7],
}

#[rustfmt::skip]
const SB_TABLES: [SbTable; 2] = [
    SbTable {
        subject: "ela",
        near:    [2367, 2416, 2442, 2457, 2479, 2487, 2493],
        at:      [2432, 2473, 2502, 2531, 2552, 2567, 2583],
        above:   [2490, 2533, 2582, 2618, 2649, 2668, 2682],
        lowest:  [2115, 2140, 2200, 2230, 2260, 2290, 2300],
        highest: [2650, 2690, 2730, 2770, 2810, 2850, 2900],
    },
    SbTable {
        subject: "math",
        near:    [2381, 2411, 2455, 2473, 2484, 2504, 2543],
        at:      [2436, 2485, 2528, 2552, 2567, 2586, 2628],
        above:   [2501, 2549, 2579, 2610, 2635, 2653, 2718],
        lowest:  [2190, 2205, 2220, 2235, 2250, 2265, 2280],
        highest: [2660, 2700, 2740, 2780, 2820, 2860, 2900],
    },
];

/// The Smarter Balanced cut rows.
pub fn smarter_balanced_cuts() -> Vec<(String, i32, Cuts)> {
    let mut out = Vec::new();
    for t in SB_TABLES {
        for (i, grade) in SB_GRADES.into_iter().enumerate() {
            out.push((
                t.subject.to_string(),
                grade,
                Cuts {
                    near: t.near[i],
                    at: t.at[i],
                    above: t.above[i],
                    lowest: t.lowest[i],
                    highest: t.highest[i],
                },
            ));
        }
    }
    out
}

/// Keep-pace expected growth for grades 4–8: at[g] − at[g−1].
pub fn smarter_balanced_growth() -> Vec<(String, i32, f64)> {
    let mut out = Vec::new();
    for t in SB_TABLES {
        // Grades 4..8 are positions 1..=5; grade 11 follows grade 8 by three years.
        for (i, grade) in SB_GRADES.into_iter().enumerate().take(6).skip(1) {
            out.push((
                t.subject.to_string(),
                grade,
                f64::from(t.at[i] - t.at[i - 1]),
            ));
        }
    }
    out
}

/// The default student groups, in display order. `all` has no predicate.
pub fn default_groups() -> Vec<GroupDef> {
    let g = |id: &str, label: &str, short: &str, column: Option<&str>, value: &str| GroupDef {
        id: id.to_string(),
        label: label.to_string(),
        short: short.to_string(),
        column: column.map(str::to_string),
        values: if column.is_some() {
            vec![value.to_string()]
        } else {
            Vec::new()
        },
    };
    vec![
        g("all", "All students", "All", None, ""),
        g("female", "Female students", "Female", Some("gender"), "F"),
        g("male", "Male students", "Male", Some("gender"), "M"),
        g(
            "nonbinary",
            "Nonbinary students",
            "Nonbinary",
            Some("gender"),
            "X",
        ),
        g(
            "african_american",
            "African American students",
            "African American",
            Some("race_ethnicity"),
            "AA",
        ),
        g(
            "american_indian",
            "American Indian or Alaska Native students",
            "Am. Indian/Alaska Native",
            Some("race_ethnicity"),
            "AI",
        ),
        g(
            "asian",
            "Asian students",
            "Asian",
            Some("race_ethnicity"),
            "AS",
        ),
        g(
            "filipino",
            "Filipino students",
            "Filipino",
            Some("race_ethnicity"),
            "FI",
        ),
        g(
            "hispanic",
            "Hispanic or Latino students",
            "Hispanic/Latino",
            Some("race_ethnicity"),
            "HI",
        ),
        g(
            "pacific_islander",
            "Pacific Islander students",
            "Pacific Islander",
            Some("race_ethnicity"),
            "PI",
        ),
        g(
            "white",
            "White students",
            "White",
            Some("race_ethnicity"),
            "WH",
        ),
        g(
            "two_or_more",
            "Students of two or more races",
            "Two or more races",
            Some("race_ethnicity"),
            "MR",
        ),
        g(
            "english_learner",
            "English learners",
            "English learners",
            Some("el_status"),
            "EL",
        ),
        g(
            "reclassified",
            "Reclassified English learners",
            "Reclassified",
            Some("el_status"),
            "RFEP",
        ),
        g(
            "swd",
            "Students with disabilities",
            "Students w/ disabilities",
            Some("swd"),
            "Y",
        ),
        g(
            "sed",
            "Socioeconomically disadvantaged students",
            "Socioecon. disadvantaged",
            Some("sed"),
            "Y",
        ),
        g(
            "foster",
            "Foster youth",
            "Foster youth",
            Some("foster"),
            "Y",
        ),
        g(
            "homeless",
            "Students experiencing homelessness",
            "Homeless",
            Some("homeless"),
            "Y",
        ),
    ]
}

/// The default gap pairs: (focal, reference).
pub const DEFAULT_PAIRS: &[(&str, &str)] = &[
    ("english_learner", "rest"),
    ("swd", "rest"),
    ("sed", "rest"),
    ("african_american", "white"),
    ("hispanic", "white"),
    ("female", "male"),
];

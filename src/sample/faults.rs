//! Realistic faults for `sample --dirty`, each injected into rows no other fault touches so
//! that the quarantine reason of every faulty row is known exactly: blank ids
//! (missing_required), unscored tests (bad_type), codes the codebook lacks (unknown_code),
//! impossible scores and answers (out_of_range), re-sent rows (duplicate_superseded), and
//! students dropped from the students extract (scores without demographics).

use super::{District, ScoreRow};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Share of rows given each kind of fault.
const RATE: f64 = 0.002;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Faults {
    /// table -> reason -> rows quarantined for it.
    pub quarantined: BTreeMap<String, BTreeMap<String, usize>>,
    /// Students rows left out of the students extract.
    pub students_rows_dropped: usize,
    /// Distinct (student, year) with an accepted score but no accepted students row.
    pub students_without_demographics: usize,
    /// Accepted scores of those students.
    pub scores_without_demographics: usize,
}

fn count(n: usize) -> usize {
    ((n as f64 * RATE).round() as usize).max(1)
}

/// Distinct random indexes below `n`, `k` for each of `kinds` kinds.
fn disjoint(rng: &mut ChaCha8Rng, n: usize, k: usize, kinds: usize) -> Vec<Vec<usize>> {
    let all = rand::seq::index::sample(rng, n, (k * kinds).min(n)).into_vec();
    all.chunks(k).map(<[usize]>::to_vec).collect()
}

pub fn inject(d: &mut District, seed: u64) -> Faults {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xFA01_7500);
    let mut f = Faults::default();
    let mut note = |table: &str, reason: &str, n: usize| {
        *f.quarantined
            .entry(table.to_string())
            .or_default()
            .entry(reason.to_string())
            .or_default() += n;
    };

    // Students: drop, blank id, unknown race code, re-sent row.
    let k = count(d.students.len());
    let picks = disjoint(&mut rng, d.students.len(), k, 4);
    for &i in &picks[1] {
        d.students[i].student_id = String::new();
    }
    note("students", "missing_required", picks[1].len());
    for &i in &picks[2] {
        d.students[i].race = "Other";
    }
    note("students", "unknown_code", picks[2].len());
    for &i in &picks[3] {
        let copy = d.students[i].clone();
        d.students.push(copy);
    }
    note("students", "duplicate_superseded", picks[3].len());
    let dropped: HashSet<usize> = picks[0].iter().copied().collect();
    f.students_rows_dropped = dropped.len();
    let mut i = 0;
    d.students.retain(|_| {
        let keep = !dropped.contains(&i);
        i += 1;
        keep
    });

    // Assessments: blank id, unscored, unknown subject, impossible score, re-sent earlier.
    let k = count(d.scores.len());
    let picks = disjoint(&mut rng, d.scores.len(), k, 5);
    let mut faulty: HashSet<usize> = HashSet::new();
    for &i in &picks[0] {
        d.scores[i].student_id = String::new();
    }
    note("assessments", "missing_required", picks[0].len());
    for &i in &picks[1] {
        d.scores[i].score = "NS".into();
    }
    note("assessments", "bad_type", picks[1].len());
    for &i in &picks[2] {
        d.scores[i].subject = "Science";
    }
    note("assessments", "unknown_code", picks[2].len());
    let cuts = super::sb_cuts();
    for &i in &picks[3] {
        let r = &d.scores[i];
        let subject = if r.subject == "ELA" { "ela" } else { "math" };
        let c = cuts[&(subject, r.grade)];
        let over = c.highest + 1 + rng.random_range(0..200);
        d.scores[i].score = over.to_string();
    }
    note("assessments", "out_of_range", picks[3].len());
    for p in &picks[..4] {
        faulty.extend(p.iter().copied());
    }
    for &i in &picks[4] {
        let r = &d.scores[i];
        let subject = if r.subject == "ELA" { "ela" } else { "math" };
        let c = cuts[&(subject, r.grade)];
        let score: i32 = r.score.parse().expect("clean scores are numbers");
        let copy = ScoreRow {
            score: (score - 10).max(c.lowest).to_string(),
            test_date: r.test_date - chrono::TimeDelta::days(14),
            ..r.clone()
        };
        d.scores.push(copy);
    }
    note("assessments", "duplicate_superseded", picks[4].len());

    // Survey responses: blank respondent, out-of-scale answer, unknown item, re-sent answer.
    let k = count(d.survey.len());
    let picks = disjoint(&mut rng, d.survey.len(), k, 4);
    for &i in &picks[0] {
        d.survey[i].blank_id = true;
    }
    note("survey_responses", "missing_required", picks[0].len());
    for &i in &picks[1] {
        d.survey[i].response = 9;
    }
    note("survey_responses", "out_of_range", picks[1].len());
    for &i in &picks[2] {
        d.survey[i].item = super::UNKNOWN_ITEM;
    }
    note("survey_responses", "unknown_code", picks[2].len());
    for &i in &picks[3] {
        let mut copy = d.survey[i];
        copy.response = if copy.response == 3 { 4 } else { 3 };
        d.survey.push(copy);
    }
    note("survey_responses", "duplicate_superseded", picks[3].len());

    // Scores without demographics, counted exactly as validation will.
    let with_row: HashSet<(&str, i32)> = d
        .students
        .iter()
        .filter(|s| !s.student_id.is_empty() && s.race != "Other")
        .map(|s| (s.student_id.as_str(), s.year))
        .collect();
    let n_original = d.scores.len() - picks_len(&f, "assessments", "duplicate_superseded");
    let mut orphans: HashSet<(&str, i32)> = HashSet::new();
    for (i, r) in d.scores[..n_original].iter().enumerate() {
        if faulty.contains(&i) {
            continue;
        }
        if !with_row.contains(&(r.student_id.as_str(), r.year)) {
            orphans.insert((r.student_id.as_str(), r.year));
            f.scores_without_demographics += 1;
        }
    }
    f.students_without_demographics = orphans.len();
    f
}

fn picks_len(f: &Faults, table: &str, reason: &str) -> usize {
    f.quarantined
        .get(table)
        .and_then(|t| t.get(reason))
        .copied()
        .unwrap_or(0)
}

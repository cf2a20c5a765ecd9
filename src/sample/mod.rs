//! `equity-gap sample`: a synthetic large urban district, realistic enough to demo packets and
//! to test that metrics recover what was planted. Students are followed across school years
//! (advancing grades, a few leaving, arriving and moving schools); Smarter Balanced ELA and
//! math scores arise from planted group and school effects, persistent ability, keep-pace
//! growth and measurement noise; surveys from planted favorability. `--dirty` adds faults of
//! every quarantine reason and records their exact counts in `truth.json`.

pub mod detection;
mod faults;
pub mod layouts;
pub mod model;
mod typed;
mod write;

pub use typed::typed_tables;
pub use write::{Truth, pipeline_toml};

use crate::cli::SampleArgs;
use crate::metrics::flags::FlagKind;
use crate::pipeline::plan::Cuts;
use crate::pipeline::presets;
use model::*;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::BTreeMap;

/// Generate the district and write it to `args.out`.
pub fn write(args: &SampleArgs) -> anyhow::Result<Truth> {
    if args.schools < 3 {
        anyhow::bail!("`--schools` must be at least 3 (one per level)");
    }
    if args.years == 0 || args.years > 10 {
        anyhow::bail!("`--years` must be between 1 and 10");
    }
    if args.students < args.schools * 5 {
        anyhow::bail!("`--students` must be at least 5 per school");
    }
    if args.dirty {
        // Faults are planted across the whole district, so it is held in memory.
        let mut district = generate(
            args.students,
            args.schools,
            args.years,
            args.seed,
            args.survey,
        );
        let faults = faults::inject(&mut district, args.seed);
        return write::write_all(&district, Some(faults), args, None);
    }
    // Survey responses (over a hundred a student) and scores are written as they are made, so
    // a state's district never holds them all.
    std::fs::create_dir_all(&args.out)?;
    let mut survey = write::StreamFile::new(&args.out, "survey_responses", args.csv);
    let mut scores = write::StreamFile::new(&args.out, "assessments", args.csv);
    let district = generate_with(
        args.students,
        args.schools,
        args.years,
        args.seed,
        args.survey,
        Some(Sinks {
            survey: &mut |schools: &[School], items: &[Item], rows: &[SurveyRow]| {
                survey.survey(schools, items, rows)
            },
            scores: &mut |rows: &[ScoreRow]| scores.scores(rows),
        }),
    );
    let streamed = write::Streamed {
        survey: survey.finish()?,
        scores: scores.finish()?,
    };
    write::write_all(&district, None, args, Some(streamed))
}

pub struct School {
    pub id: String,
    pub name: String,
    pub level: &'static str,
    pub supervisor: String,
    pub triad: String,
    /// School effect on DFS, by subject.
    pub effect: [f64; 2],
    /// 0 (affluent) to 1 (high poverty): shifts demographics and climate.
    pub poverty: f64,
    pub climate: f64,
    pub pattern: Option<Pattern>,
    capacity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// English learners grow faster than typical: the EL gap closes.
    Closing,
    /// English learners grow slower: the EL gap widens.
    Widening,
    /// Everyone else declines while English learners grow typically.
    ClosingByDecline,
}

#[derive(Clone)]
pub struct Student {
    pub id: String,
    pub school: usize,
    pub grade: usize,
    pub gender: &'static str,
    pub race: &'static str,
    pub el: &'static str,
    pub swd: bool,
    pub sed: bool,
    pub foster: bool,
    pub homeless: bool,
    /// True (noise-free) DFS this year, by subject.
    pub dfs: [f64; 2],
    /// True spring score last year, by subject, when the student was tested then.
    pub last_spring: Option<[f64; 2]>,
    /// Persistent favorability of this student's survey answers (logit shift).
    pub warmth: f64,
}

/// One students-table row.
#[derive(Clone)]
pub struct StudentRow {
    pub student_id: String,
    pub year: i32,
    pub school_id: String,
    pub grade: &'static str,
    pub gender: &'static str,
    pub race: &'static str,
    pub el: &'static str,
    pub swd: bool,
    pub sed: bool,
    pub foster: bool,
    pub homeless: bool,
}

/// One assessments-table row; the score is text so faults can write non-numbers.
#[derive(Clone)]
pub struct ScoreRow {
    pub student_id: String,
    pub year: i32,
    pub window: &'static str,
    pub assessment: &'static str,
    pub subject: &'static str,
    pub grade: i32,
    pub score: String,
    pub school_id: String,
    pub test_date: chrono::NaiveDate,
}

/// One survey response, kept small (a district of a million students answers over a hundred
/// million): ids are numbers and indices, turned into text only when written.
#[derive(Clone, Copy)]
pub struct SurveyRow {
    /// The student's id for students and parents; the staff member's number at the school.
    pub who: u64,
    pub kind: RespondentKind,
    /// The respondent id was left blank (a planted fault).
    pub blank_id: bool,
    /// Index into `District::schools`.
    pub school: u32,
    pub year: i32,
    /// Index into `SURVEY_WINDOWS`.
    pub window: u8,
    /// Index into `District::items`; `UNKNOWN_ITEM` for an item the district never asked.
    pub item: u16,
    pub response: i8,
}

/// The windows a survey is given in.
pub const SURVEY_WINDOWS: [&str; 2] = ["fall", "spring"];
const SPRING: u8 = 1;
/// An item id no item table lists (a planted fault).
pub const UNKNOWN_ITEM: u16 = u16::MAX;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RespondentKind {
    Student,
    Staff,
    Parent,
}

impl RespondentKind {
    pub fn code(self) -> &'static str {
        match self {
            RespondentKind::Student => "student",
            RespondentKind::Staff => "staff",
            RespondentKind::Parent => "parent",
        }
    }
}

impl SurveyRow {
    /// The respondent id as the district's survey platform exports it.
    pub fn respondent_id(&self, schools: &[School]) -> String {
        if self.blank_id {
            return String::new();
        }
        match self.kind {
            RespondentKind::Student => self.who.to_string(),
            RespondentKind::Parent => format!("P{}", self.who),
            RespondentKind::Staff => {
                format!("T{}-{:03}", schools[self.school as usize].id, self.who)
            }
        }
    }

    pub fn item_id<'d>(&self, items: &'d [Item]) -> &'d str {
        items
            .get(self.item as usize)
            .map_or("Q99", |i| i.id.as_str())
    }
}

pub struct Item {
    pub id: String,
    pub construct: &'static str,
    pub respondent_type: &'static str,
    pub reversed: bool,
    pub text: String,
}

/// A planted trend in one school's gap between English learners and everyone else, for the
/// truth file and the detection study: it runs at every change of school year the district
/// has, so it is in each year-to-year comparison at every window.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlantedTrend {
    pub school_id: String,
    pub level: String,
    pub pattern: Pattern,
    pub focal_group: String,
    pub reference_group: String,
    /// The group whose scores move, and by how much a year (DFS points, against typical growth).
    pub moving_group: String,
    pub change_per_year: f64,
    /// The school years whose change from the year before carries the trend.
    pub years: Vec<String>,
    /// Enrolment and English learners at the school in the last year.
    pub students: usize,
    pub english_learners: usize,
    /// The flag the trend should raise.
    pub expected_flag: String,
}

/// The planted trends of a district, with each school's size in its last year.
pub fn planted_trends(d: &District) -> Vec<PlantedTrend> {
    let last = d.years.last().copied().unwrap_or(LAST_YEAR);
    let mut out = Vec::new();
    for s in &d.schools {
        let Some(pattern) = s.pattern else { continue };
        let rows = d
            .students
            .iter()
            .filter(|r| r.year == last && r.school_id == s.id);
        let (students, english_learners) =
            rows.fold((0, 0), |(n, el), r| (n + 1, el + usize::from(r.el == "EL")));
        let (moving, change, flag) = match pattern {
            Pattern::Closing => ("english_learner", PLANTED_SHIFT, FlagKind::BrightSpot),
            Pattern::Widening => ("english_learner", -PLANTED_SHIFT, FlagKind::GapWidening),
            Pattern::ClosingByDecline => ("rest", -PLANTED_SHIFT, FlagKind::ClosingByDecline),
        };
        out.push(PlantedTrend {
            school_id: s.id.clone(),
            level: s.level.to_string(),
            pattern,
            focal_group: "english_learner".into(),
            reference_group: "rest".into(),
            moving_group: moving.into(),
            change_per_year: change,
            years: d
                .years
                .iter()
                .skip(1)
                .map(|y| crate::canonical::SchoolYear(*y).to_string())
                .collect(),
            students,
            english_learners,
            expected_flag: flag.code().into(),
        });
    }
    out
}

/// The true (noise-free) spring DFS of one group, for the truth file.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct TrueMean {
    pub n: usize,
    pub mean_dfs: f64,
}

pub struct District {
    pub schools: Vec<School>,
    pub years: Vec<i32>,
    pub students: Vec<StudentRow>,
    pub scores: Vec<ScoreRow>,
    pub items: Vec<Item>,
    pub survey: Vec<SurveyRow>,
    pub survey_volume: SurveyVolume,
    pub enrolled_first_year: usize,
    /// year -> subject -> group -> true spring DFS over tested students.
    pub true_means: BTreeMap<String, BTreeMap<String, BTreeMap<String, TrueMean>>>,
    /// year -> subject -> grade -> mean true growth (scale points) of students tested in
    /// both springs.
    pub true_growth: BTreeMap<String, BTreeMap<String, BTreeMap<i32, TrueMean>>>,
}

const SUBJECTS: [&str; 2] = ["ELA", "Math"];
const SUBJECT_IDS: [&str; 2] = ["ela", "math"];

fn sb_cuts() -> BTreeMap<(&'static str, i32), Cuts> {
    presets::smarter_balanced_cuts()
        .into_iter()
        .map(|(s, g, c)| ((if s == "ela" { "ela" } else { "math" }, g), c))
        .collect()
}

fn sb_growth(subject: usize, grade: i32) -> f64 {
    presets::smarter_balanced_growth()
        .into_iter()
        .find(|(s, g, _)| s == SUBJECT_IDS[subject] && *g == grade)
        .map_or(FALLBACK_GROWTH, |(_, _, p)| p)
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, weighted: &'a [(T, f64)]) -> &'a T {
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    &weighted.last().expect("non-empty weights").0
}

fn make_schools(n: usize, rng: &mut ChaCha8Rng) -> Vec<School> {
    let n_high = (n as f64 * 0.17).round().max(1.0) as usize;
    let n_middle = (n as f64 * 0.18).round().max(1.0) as usize;
    let n_elem = n - n_high - n_middle;
    let normal = Normal::new(0.0, 1.0).expect("valid normal");
    let mut schools = Vec::new();
    let mut name_i = 0;
    // Ids number each level from its own base, three digits while the levels fit (500
    // elementary, 200 middle and 199 high schools), five beyond, so no two schools share one.
    let [elementary, middle, high] = if n_elem <= 500 && n_middle <= 200 && n_high <= 199 {
        [101, 601, 801]
    } else {
        [10_001, 60_001, 80_001]
    };
    for (level, count, suffix, first_id) in [
        ("elementary", n_elem, "Elementary", elementary),
        ("middle", n_middle, "Middle School", middle),
        ("high", n_high, "High School", high),
    ] {
        for i in 0..count {
            let poverty: f64 = rng.random();
            let base = normal.sample(rng) * SCHOOL_SD - 30.0 * (poverty - 0.5);
            let effect = [base, 0.8 * base + normal.sample(rng) * 8.0];
            let name = SCHOOL_NAMES[name_i % SCHOOL_NAMES.len()];
            let name = if name_i >= SCHOOL_NAMES.len() {
                format!(
                    "{name} {} {suffix}",
                    ["North", "South", "East", "West"][name_i / SCHOOL_NAMES.len() % 4]
                )
            } else {
                format!("{name} {suffix}")
            };
            name_i += 1;
            schools.push(School {
                id: (first_id + i).to_string(),
                name,
                level,
                supervisor: String::new(),
                triad: String::new(),
                effect,
                poverty,
                climate: normal.sample(rng) * 0.3 - 0.3 * (poverty - 0.5),
                pattern: None,
                capacity: 0.6 + 0.8 * rng.random::<f64>(),
            });
        }
    }
    // Supervisors oversee about ten schools of mixed levels; triads group similar schools
    // (same level, neighbouring poverty).
    let n_sup = n.div_ceil(10).min(SUPERVISORS.len()).max(1);
    for (i, s) in schools.iter_mut().enumerate() {
        s.supervisor = SUPERVISORS[i % n_sup].to_string();
    }
    let mut order: Vec<usize> = (0..schools.len()).collect();
    order.sort_by(|&a, &b| {
        (schools[a].level, schools[a].poverty)
            .partial_cmp(&(schools[b].level, schools[b].poverty))
            .expect("finite poverty")
    });
    for (k, &i) in order.iter().enumerate() {
        schools[i].triad = format!("T{:02}", k / 3 + 1);
    }
    // Planted gap patterns at high-EL (high-poverty) elementary and middle schools.
    let mut candidates: Vec<usize> = (0..schools.len())
        .filter(|&i| schools[i].level != "high")
        .collect();
    candidates.sort_by(|&a, &b| {
        schools[b]
            .poverty
            .partial_cmp(&schools[a].poverty)
            .expect("finite poverty")
    });
    candidates.truncate((candidates.len() / 2).max(3));
    // Schools of every size: the candidates in order of size (level, then capacity), taken at
    // evenly spaced places, and each pattern dealt round the sizes in turn.
    candidates.sort_by(|&a, &b| {
        let size = |i: usize| {
            let level = if schools[i].level == "middle" {
                2.0
            } else {
                1.0
            };
            level * schools[i].capacity
        };
        size(a).total_cmp(&size(b))
    });
    let per = (n / 12).clamp(1, 4);
    let take = (3 * per).min(candidates.len());
    let chosen: Vec<usize> = (0..take)
        .map(|k| candidates[k * candidates.len() / take])
        .collect();
    let mut deal: Vec<usize> = (0..take).collect();
    deal.shuffle(rng);
    for (k, &slot) in deal.iter().enumerate() {
        schools[chosen[slot]].pattern = Some(match k % 3 {
            0 => Pattern::Closing,
            1 => Pattern::Widening,
            _ => Pattern::ClosingByDecline,
        });
    }
    schools
}

struct Generator<'a> {
    rng: ChaCha8Rng,
    schools: &'a [School],
    by_level: BTreeMap<&'static str, Vec<(usize, f64)>>,
    next_id: u64,
    normal: Normal<f64>,
}

impl Generator<'_> {
    fn school_for(&mut self, grade: usize) -> usize {
        let options = &self.by_level[level_of(grade)];
        *pick(&mut self.rng, options)
    }

    fn new_student(&mut self, grade: usize) -> Student {
        let school = self.school_for(grade);
        let s = &self.schools[school];
        let u = s.poverty;
        let race_w: Vec<(&'static str, f64)> = RACE_SHARES
            .iter()
            .map(|&(r, w)| {
                let m = match r {
                    "HI" => 0.5 + u,
                    "WH" | "AS" => 1.5 - u,
                    "AA" => 0.7 + 0.6 * u,
                    _ => 1.0,
                };
                (r, w * m)
            })
            .collect();
        let race = *pick(&mut self.rng, &race_w);
        let gender = *pick(&mut self.rng, &[("F", 0.49), ("M", 0.495), ("X", 0.015)]);
        let grade_factor = match grade {
            0..=3 => 1.3,
            4..=6 => 1.0,
            7..=9 => 0.7,
            _ => 0.5,
        };
        let el_base = match race {
            "HI" => 0.33,
            "AS" => 0.25,
            "FI" => 0.10,
            _ => 0.03,
        };
        let x: f64 = self.rng.random();
        let el = if x < el_base * grade_factor {
            "EL"
        } else if x < el_base * grade_factor + el_base * 0.9 / grade_factor {
            "RFEP"
        } else if x < el_base * grade_factor + el_base * 0.9 / grade_factor + 0.05 {
            "IFEP"
        } else {
            "EO"
        };
        let sed_p = (0.69
            + 0.5 * (u - 0.5)
            + match race {
                "HI" | "AA" => 0.1,
                "WH" => -0.35,
                "AS" => -0.2,
                _ => 0.0,
            })
        .clamp(0.05, 0.97);
        let sed = self.rng.random::<f64>() < sed_p;
        let swd = self.rng.random::<f64>() < 0.125;
        let foster = self.rng.random::<f64>() < 0.005;
        let homeless = self.rng.random::<f64>() < 0.02 + 0.03 * u;
        self.next_id += 1;
        let mut st = Student {
            id: format!("{}", 300_000_000 + self.next_id * 7),
            school,
            grade,
            gender,
            race,
            el,
            swd,
            sed,
            foster,
            homeless,
            dfs: [0.0; 2],
            last_spring: None,
            warmth: self.normal.sample(&mut self.rng) * 0.7,
        };
        let ability = self.normal.sample(&mut self.rng);
        for subj in 0..2 {
            let own = self.normal.sample(&mut self.rng);
            // Abilities in the two subjects correlate at about 0.8.
            let z = 0.8 * ability + 0.6 * own;
            st.dfs[subj] = expected_dfs(&st, s, subj) + STUDENT_SD * z;
        }
        st
    }
}

/// The planted expected DFS of a student at a school (no ability, no noise).
pub fn expected_dfs(st: &Student, school: &School, subj: usize) -> f64 {
    let mut e = INTERCEPT[subj] + school.effect[subj] + race_effect(st.race)[subj];
    if st.el == "EL" {
        e += EFFECT_EL[subj];
    }
    if st.el == "RFEP" {
        e += EFFECT_RFEP[subj];
    }
    if st.swd {
        e += EFFECT_SWD[subj];
    }
    if st.sed {
        e += EFFECT_SED[subj];
    }
    if st.gender == "F" {
        e += EFFECT_FEMALE[subj];
    }
    e
}

/// The ids of the default groups a student belongs to (besides `all`).
fn groups_of(st: &Student) -> Vec<&'static str> {
    let mut g = vec!["all"];
    g.push(match st.gender {
        "F" => "female",
        "M" => "male",
        _ => "nonbinary",
    });
    g.push(match st.race {
        "AA" => "african_american",
        "AI" => "american_indian",
        "AS" => "asian",
        "FI" => "filipino",
        "HI" => "hispanic",
        "PI" => "pacific_islander",
        "WH" => "white",
        "MR" => "two_or_more",
        _ => "not_reported",
    });
    match st.el {
        "EL" => g.push("english_learner"),
        "RFEP" => g.push("reclassified"),
        _ => {}
    }
    if st.el != "EL" {
        g.push("not_english_learner");
    }
    for (flag, id) in [
        (st.swd, "swd"),
        (st.sed, "sed"),
        (st.foster, "foster"),
        (st.homeless, "homeless"),
    ] {
        if flag {
            g.push(id);
        }
    }
    g
}

pub fn generate(
    n_students: usize,
    n_schools: usize,
    n_years: usize,
    seed: u64,
    survey_volume: SurveyVolume,
) -> District {
    generate_with(n_students, n_schools, n_years, seed, survey_volume, None)
}

/// Where survey responses and scores go as they are made, in order, a few million at a time,
/// when they are not kept in the district.
pub struct Sinks<'a> {
    pub survey: &'a mut SurveySink<'a>,
    pub scores: &'a mut dyn FnMut(&[ScoreRow]),
}

/// Takes survey responses with the schools and items their indices point into.
pub type SurveySink<'a> = dyn FnMut(&[School], &[Item], &[SurveyRow]) + 'a;

/// Rows gathered before they are handed to [`Sinks`].
const FLUSH_ROWS: usize = 4_000_000;

/// [`generate`], handing the survey responses and scores to `sinks` (when given) instead of
/// keeping them in the district.
pub fn generate_with(
    n_students: usize,
    n_schools: usize,
    n_years: usize,
    seed: u64,
    survey_volume: SurveyVolume,
    mut sinks: Option<Sinks<'_>>,
) -> District {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let schools = make_schools(n_schools, &mut rng);
    let mut by_level: BTreeMap<&'static str, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, s) in schools.iter().enumerate() {
        by_level.entry(s.level).or_default().push((i, s.capacity));
    }
    let cuts = sb_cuts();
    let mut g = Generator {
        rng,
        schools: &schools,
        by_level,
        next_id: 0,
        normal: Normal::new(0.0, 1.0).expect("valid normal"),
    };
    let grade_w: Vec<(usize, f64)> = (0..GRADES.len())
        .map(|i| (i, grade_weight(GRADES[i])))
        .collect();
    let mut students: Vec<Student> = (0..n_students)
        .map(|_| {
            let grade = *pick(&mut g.rng, &grade_w);
            g.new_student(grade)
        })
        .collect();
    let tk_cohort = students.iter().filter(|s| s.grade == 0).count();

    let first_year = LAST_YEAR - n_years as i32 + 1;
    let years: Vec<i32> = (first_year..=LAST_YEAR).collect();
    let mut rows = Vec::new();
    let mut scores = Vec::new();
    let mut survey = Vec::new();
    let constructs = survey_volume.constructs();
    let items = make_items(constructs);
    let survey_windows: &[u8] = match survey_volume {
        SurveyVolume::Light => &[SPRING],
        SurveyVolume::Realistic => &[0, SPRING],
    };
    let mut true_means = BTreeMap::new();
    let mut true_growth = BTreeMap::new();

    for (yi, &year) in years.iter().enumerate() {
        if yi > 0 {
            advance_year(&mut g, &mut students, tk_cohort, n_students);
        }
        let year_label = crate::canonical::SchoolYear(year).to_string();
        let mut sums: BTreeMap<(usize, &'static str), (usize, f64)> = BTreeMap::new();
        let mut growth_sums: BTreeMap<(usize, i32), (usize, f64)> = BTreeMap::new();
        for st in students.iter_mut() {
            let school = &schools[st.school];
            rows.push(StudentRow {
                student_id: st.id.clone(),
                year,
                school_id: school.id.clone(),
                grade: GRADES[st.grade],
                gender: st.gender,
                race: st.race,
                el: st.el,
                swd: st.swd,
                sed: st.sed,
                foster: st.foster,
                homeless: st.homeless,
            });
            let tested_grade = tested(st.grade);
            let mut spring = [0.0; 2];
            if let Some(grade) = tested_grade {
                for subj in 0..2 {
                    let c = cuts[&(SUBJECT_IDS[subj], grade)];
                    let true_spring = f64::from(c.at) + st.dfs[subj];
                    spring[subj] = true_spring;
                    let start = st
                        .last_spring
                        .map_or(true_spring - sb_growth(subj, grade), |l| l[subj]);
                    for key in groups_of(st) {
                        let e = sums.entry((subj, key)).or_default();
                        e.0 += 1;
                        e.1 += st.dfs[subj];
                    }
                    if let Some(l) = st.last_spring {
                        let e = growth_sums.entry((subj, grade)).or_default();
                        e.0 += 1;
                        e.1 += true_spring - l[subj];
                    }
                    for (wi, (window, p)) in WINDOWS.iter().enumerate() {
                        if g.rng.random::<f64>() >= PARTICIPATION {
                            continue;
                        }
                        let true_w = start + p * (true_spring - start);
                        let observed = (true_w + g.normal.sample(&mut g.rng) * SEM)
                            .round()
                            .clamp(f64::from(c.lowest), f64::from(c.highest));
                        let (month, day0, span) = match wi {
                            0 => (9, 15, 30),
                            1 => (1, 10, 30),
                            _ => (4, 15, 35),
                        };
                        let cal_year = if wi == 0 { year } else { year + 1 };
                        let date = chrono::NaiveDate::from_ymd_opt(cal_year, month, day0)
                            .expect("valid date")
                            + chrono::TimeDelta::days(g.rng.random_range(0..span));
                        scores.push(ScoreRow {
                            student_id: st.id.clone(),
                            year,
                            window,
                            assessment: if wi == WINDOWS.len() - 1 {
                                "SBAC Summative"
                            } else {
                                "SBAC Interim"
                            },
                            subject: SUBJECTS[subj],
                            grade,
                            score: format!("{observed}"),
                            school_id: school.id.clone(),
                            test_date: date,
                        });
                    }
                }
            }
            st.last_spring = tested_grade.map(|_| spring);
            let survey_at = SurveyAt {
                constructs,
                items: &items,
                year,
            };
            for &window in survey_windows {
                survey_answers(&mut g, st, &survey_at, window, &mut survey);
            }
            if let Some(sinks) = sinks.as_mut() {
                if survey.len() >= FLUSH_ROWS {
                    (sinks.survey)(&schools, &items, &survey);
                    survey.clear();
                }
                if scores.len() >= FLUSH_ROWS {
                    (sinks.scores)(&scores);
                    scores.clear();
                }
            }
        }
        let survey_at = SurveyAt {
            constructs,
            items: &items,
            year,
        };
        staff_and_parent_surveys(&mut g, &students, &survey_at, &mut survey);
        if let Some(sinks) = sinks.as_mut() {
            (sinks.survey)(&schools, &items, &survey);
            survey.clear();
            (sinks.scores)(&scores);
            scores.clear();
        }
        let mut by_subject: BTreeMap<String, BTreeMap<String, TrueMean>> = BTreeMap::new();
        for ((subj, key), (n, sum)) in sums {
            by_subject
                .entry(SUBJECT_IDS[subj].to_string())
                .or_default()
                .insert(
                    key.to_string(),
                    TrueMean {
                        n,
                        mean_dfs: sum / n as f64,
                    },
                );
        }
        true_means.insert(year_label.clone(), by_subject);
        let mut growth_by: BTreeMap<String, BTreeMap<i32, TrueMean>> = BTreeMap::new();
        for ((subj, grade), (n, sum)) in growth_sums {
            growth_by
                .entry(SUBJECT_IDS[subj].to_string())
                .or_default()
                .insert(
                    grade,
                    TrueMean {
                        n,
                        mean_dfs: sum / n as f64,
                    },
                );
        }
        true_growth.insert(year_label, growth_by);
    }
    District {
        schools,
        years,
        students: rows,
        scores,
        items,
        survey,
        survey_volume,
        enrolled_first_year: n_students,
        true_means,
        true_growth,
    }
}

/// Move everyone a year on: grade 12 graduates, some leave, new students arrive, some move
/// schools, English learners reclassify, and true DFS drifts by each student's growth.
fn advance_year(
    g: &mut Generator<'_>,
    students: &mut Vec<Student>,
    tk_cohort: usize,
    target: usize,
) {
    let schools = g.schools;
    let mut next = Vec::with_capacity(students.len());
    for mut st in students.drain(..) {
        if st.grade + 1 >= GRADES.len() || g.rng.random::<f64>() < TURNOVER {
            continue;
        }
        let old_level = level_of(st.grade);
        st.grade += 1;
        if level_of(st.grade) != old_level || g.rng.random::<f64>() < MOVERS {
            st.school = g.school_for(st.grade);
        }
        if st.el == "EL" && st.grade >= 4 && g.rng.random::<f64>() < 0.12 {
            st.el = "RFEP";
        }
        let pattern = schools[st.school].pattern;
        for subj in 0..2 {
            let shift = match (pattern, st.el == "EL") {
                (Some(Pattern::Closing), true) => PLANTED_SHIFT,
                (Some(Pattern::Widening), true) => -PLANTED_SHIFT,
                (Some(Pattern::ClosingByDecline), false) => -PLANTED_SHIFT,
                _ => 0.0,
            };
            st.dfs[subj] += shift + g.normal.sample(&mut g.rng) * GROWTH_SD;
        }
        next.push(st);
    }
    for _ in 0..tk_cohort {
        let st = g.new_student(0);
        next.push(st);
    }
    let grade_w: Vec<(usize, f64)> = (1..GRADES.len()).map(|i| (i, 1.0)).collect();
    while next.len() < target {
        let grade = *pick(&mut g.rng, &grade_w);
        let st = g.new_student(grade);
        next.push(st);
    }
    *students = next;
}

fn make_items(constructs: &[ConstructDef]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut n = 0;
    for c in constructs {
        let (construct, label, rtype, reversed) = (c.id, c.label, c.respondent_type, c.reversed);
        for k in 0..c.items {
            n += 1;
            let prefix = match rtype {
                "student" => "S",
                "staff" => "T",
                _ => "P",
            };
            items.push(Item {
                id: format!("{prefix}{n:02}"),
                construct,
                respondent_type: rtype,
                reversed: reversed == Some(k),
                text: format!(
                    "{label}: statement {}{}",
                    k + 1,
                    if reversed == Some(k) {
                        " (reversed)"
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    items
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn answer(rng: &mut ChaCha8Rng, favorable: bool, reversed: bool) -> i32 {
    // Scale 1–5, favorable at 4 or more; reversed items are favorable at 2 or less.
    let v = if favorable {
        4 + i32::from(rng.random::<bool>())
    } else {
        rng.random_range(1..=3)
    };
    if reversed { 6 - v } else { v }
}

/// The survey of one school year: its constructs and items.
struct SurveyAt<'a> {
    constructs: &'static [ConstructDef],
    items: &'a [Item],
    year: i32,
}

fn survey_answers(
    g: &mut Generator<'_>,
    st: &Student,
    at: &SurveyAt<'_>,
    window: u8,
    out: &mut Vec<SurveyRow>,
) {
    // Students in grades 4–12 take the climate survey; about 80% respond each time.
    if st.grade < 4 || g.rng.random::<f64>() >= 0.8 {
        return;
    }
    let shift = |c: &ConstructDef| {
        let mut logit = st.warmth;
        if c.id == "sense_of_belonging" {
            if st.el == "EL" {
                logit += BELONGING_EFFECT_EL;
            }
            if st.race == "AA" {
                logit += BELONGING_EFFECT_AA;
            }
        }
        logit
    };
    let respondent = Respondent {
        who: student_number(&st.id),
        kind: RespondentKind::Student,
        school: st.school,
        window,
    };
    respond(g, &respondent, at, shift, out);
}

/// Generated student ids are numbers.
fn student_number(id: &str) -> u64 {
    id.parse().expect("generated student ids are numbers")
}

/// Who answers a survey, where and when.
struct Respondent {
    who: u64,
    kind: RespondentKind,
    school: usize,
    window: u8,
}

/// One respondent's answers to every item of their survey: favorable with probability
/// sigmoid(construct base + school climate + `shift`).
fn respond(
    g: &mut Generator<'_>,
    who: &Respondent,
    at: &SurveyAt<'_>,
    shift: impl Fn(&ConstructDef) -> f64,
    out: &mut Vec<SurveyRow>,
) {
    let climate = g.schools[who.school].climate;
    let kind = who.kind.code();
    for c in at.constructs.iter().filter(|c| c.respondent_type == kind) {
        let p = sigmoid(c.base + climate + shift(c));
        for (index, item) in at.items.iter().enumerate() {
            if item.construct != c.id {
                continue;
            }
            let fav = g.rng.random::<f64>() < p;
            out.push(SurveyRow {
                who: who.who,
                kind: who.kind,
                blank_id: false,
                school: who.school as u32,
                year: at.year,
                window: who.window,
                item: index as u16,
                response: answer(&mut g.rng, fav, item.reversed) as i8,
            });
        }
    }
}

fn staff_and_parent_surveys(
    g: &mut Generator<'_>,
    students: &[Student],
    at: &SurveyAt<'_>,
    out: &mut Vec<SurveyRow>,
) {
    let n_schools = g.schools.len();
    let mut enrolment = vec![0usize; n_schools];
    for st in students {
        enrolment[st.school] += 1;
    }
    for (si, &enrolled) in enrolment.iter().enumerate() {
        let n_staff = 20 + enrolled / 25;
        for k in 0..n_staff {
            if g.rng.random::<f64>() >= 0.85 {
                continue;
            }
            let warmth = g.normal.sample(&mut g.rng) * 0.6;
            let respondent = Respondent {
                who: k as u64,
                kind: RespondentKind::Staff,
                school: si,
                window: SPRING,
            };
            respond(g, &respondent, at, |_| warmth, out);
        }
    }
    for st in students {
        if g.rng.random::<f64>() >= 0.2 {
            continue;
        }
        let warmth = g.normal.sample(&mut g.rng) * 0.6;
        let respondent = Respondent {
            who: student_number(&st.id),
            kind: RespondentKind::Parent,
            school: st.school,
            window: SPRING,
        };
        respond(g, &respondent, at, |_| warmth, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A district of a state's size has more schools of a level than three digits hold; every
    /// school still has its own id, and small districts keep their three-digit ids.
    #[test]
    fn school_ids_are_unique_at_any_size() {
        for (n, first) in [(85, "101"), (1_149, "10001"), (6_900, "10001")] {
            let schools = make_schools(n, &mut ChaCha8Rng::seed_from_u64(1));
            let ids: std::collections::BTreeSet<&str> =
                schools.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids.len(), n, "{n} schools");
            assert_eq!(schools[0].id, first);
        }
    }
}

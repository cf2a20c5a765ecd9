//! The generative model of the synthetic district: who the students are, where they enrol,
//! and how their scores and survey answers arise. Every planted effect is a named constant
//! here and is copied into the truth file, so tests can check that metrics recover it.

/// School years written, the last one ending the series.
pub const LAST_YEAR: i32 = 2025; // 2025-26

/// Windows and their share of the year.
pub const WINDOWS: [(&str, f64); 3] = [("fall", 0.2), ("winter", 0.55), ("spring", 1.0)];

/// District race/ethnicity shares (PRODUCT.md: 57% Latino, 13% African American, 13% White,
/// 7% Asian; the rest split among the smaller groups).
pub const RACE_SHARES: [(&str, f64); 9] = [
    ("HI", 0.57),
    ("AA", 0.13),
    ("WH", 0.13),
    ("AS", 0.07),
    ("FI", 0.03),
    ("MR", 0.04),
    ("PI", 0.01),
    ("AI", 0.005),
    ("NR", 0.015),
];

/// Planted additive effects on distance from standard (scale points), by subject
/// (ELA, math). A student's expected DFS is the sum of the effects of the groups they belong
/// to, plus their school's effect, plus a grade-free intercept.
pub const INTERCEPT: [f64; 2] = [5.0, -10.0];
pub const EFFECT_EL: [f64; 2] = [-55.0, -45.0];
pub const EFFECT_RFEP: [f64; 2] = [10.0, 5.0];
pub const EFFECT_SWD: [f64; 2] = [-75.0, -70.0];
pub const EFFECT_SED: [f64; 2] = [-25.0, -25.0];
pub const EFFECT_FEMALE: [f64; 2] = [10.0, -3.0];
pub fn race_effect(code: &str) -> [f64; 2] {
    match code {
        "AA" => [-40.0, -45.0],
        "HI" => [-20.0, -25.0],
        "AS" => [35.0, 45.0],
        "FI" => [15.0, 15.0],
        "MR" => [5.0, 5.0],
        "PI" => [-20.0, -20.0],
        "AI" => [-25.0, -25.0],
        _ => [0.0, 0.0],
    }
}

/// Standard deviation of school effects on DFS.
pub const SCHOOL_SD: f64 = 20.0;
/// Standard deviation of a student's persistent ability around the expected DFS.
pub const STUDENT_SD: f64 = 55.0;
/// Measurement noise (standard error of measurement) of one test score.
pub const SEM: f64 = 22.0;
/// Year-to-year deviation from keep-pace growth, per student.
pub const GROWTH_SD: f64 = 15.0;
/// Planted yearly change of English learners' DFS relative to typical growth, at the schools
/// chosen for each pattern (the rest of the school grows typically unless stated).
pub const PLANTED_SHIFT: f64 = 15.0;
/// Expected growth for grades without a keep-pace value (grade 3 and 11), used only to place
/// interim scores below the year's end.
pub const FALLBACK_GROWTH: f64 = 35.0;

/// Share of tested students who sit each test in a window.
pub const PARTICIPATION: f64 = 0.96;
/// Students who leave the district between years; as many arrive.
pub const TURNOVER: f64 = 0.05;
/// Students who change school within a level between years.
pub const MOVERS: f64 = 0.06;

/// A survey construct of the synthetic district.
pub struct ConstructDef {
    pub id: &'static str,
    pub label: &'static str,
    pub respondent_type: &'static str,
    pub items: usize,
    /// Index of the one reversed item, if any.
    pub reversed: Option<usize>,
    /// Base logit of a favorable answer.
    pub base: f64,
}

const fn k(
    id: &'static str,
    label: &'static str,
    respondent_type: &'static str,
    items: usize,
    reversed: Option<usize>,
    base: f64,
) -> ConstructDef {
    ConstructDef {
        id,
        label,
        respondent_type,
        items,
        reversed,
        base,
    }
}

#[rustfmt::skip]
pub const CONSTRUCTS: [ConstructDef; 8] = [
    k("sense_of_belonging", "Sense of belonging", "student", 3, Some(2), 0.6),
    k("growth_mindset", "Growth mindset", "student", 3, None, 0.8),
    k("self_management", "Self-management", "student", 3, None, 1.0),
    k("safety", "Safety", "student", 3, Some(1), 0.7),
    k("climate_of_support", "Climate of support for academic learning", "student", 3, None, 0.9),
    k("staff_climate", "Staff: climate of support", "staff", 3, None, 1.1),
    k("staff_safety", "Staff: safety", "staff", 2, None, 1.3),
    k("family_engagement", "Families: engagement and welcome", "parent", 3, Some(0), 1.2),
];
/// How much of a climate survey the district gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyVolume {
    /// 32 items on 8 constructs for students in grades 4–12, fall and spring; 15 items each
    /// for staff and families in spring (about 8 million responses at 74,000 students over
    /// three years).
    Realistic,
    /// 15 items on 5 constructs for students, spring only; 5 for staff and 3 for families
    /// (a small demonstration district).
    Light,
}

impl SurveyVolume {
    pub fn constructs(self) -> &'static [ConstructDef] {
        match self {
            SurveyVolume::Realistic => &REALISTIC_CONSTRUCTS,
            SurveyVolume::Light => &CONSTRUCTS,
        }
    }
}

/// The realistic survey: students in grades 4–12 answer 32 items on 8 constructs in fall and
/// spring; staff and families answer 15 climate items each in spring.
#[rustfmt::skip]
pub const REALISTIC_CONSTRUCTS: [ConstructDef; 14] = [
    k("sense_of_belonging", "Sense of belonging", "student", 4, Some(2), 0.6),
    k("growth_mindset", "Growth mindset", "student", 4, None, 0.8),
    k("self_management", "Self-management", "student", 4, None, 1.0),
    k("safety", "Safety", "student", 4, Some(1), 0.7),
    k("climate_of_support", "Climate of support for academic learning", "student", 4, None, 0.9),
    k("self_efficacy", "Self-efficacy", "student", 4, None, 0.5),
    k("social_awareness", "Social awareness", "student", 4, Some(3), 0.9),
    k("teacher_relationships", "Teacher-student relationships", "student", 4, None, 1.0),
    k("staff_climate", "Staff: climate of support", "staff", 5, None, 1.1),
    k("staff_safety", "Staff: safety", "staff", 5, None, 1.3),
    k("staff_collaboration", "Staff: collaboration", "staff", 5, Some(4), 0.9),
    k("family_engagement", "Families: engagement and welcome", "parent", 5, Some(0), 1.2),
    k("family_safety", "Families: safety", "parent", 5, None, 1.4),
    k("family_communication", "Families: communication", "parent", 5, None, 1.0),
];

/// Planted survey effects on the logit of a favorable answer to sense of belonging.
pub const BELONGING_EFFECT_EL: f64 = -0.4;
pub const BELONGING_EFFECT_AA: f64 = -0.5;

/// Students per school-year row's grade band, for enrolment: TK is smaller.
pub const GRADES: [&str; 14] = [
    "TK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
];
pub fn grade_weight(g: &str) -> f64 {
    if g == "TK" { 0.4 } else { 1.0 }
}

/// The school level serving a grade.
pub fn level_of(grade_index: usize) -> &'static str {
    match grade_index {
        0..=6 => "elementary",
        7..=9 => "middle",
        _ => "high",
    }
}

/// Grades tested by Smarter Balanced, as indexes into GRADES.
pub fn tested(grade_index: usize) -> Option<i32> {
    match GRADES[grade_index] {
        g @ ("3" | "4" | "5" | "6" | "7" | "8" | "11") => g.parse().ok(),
        _ => None,
    }
}

pub const SCHOOL_NAMES: [&str; 60] = [
    "Alder",
    "Balboa",
    "Cabrillo",
    "Del Mar",
    "Encinal",
    "Fremont",
    "Garfield",
    "Hillcrest",
    "Irvington",
    "Jefferson",
    "Kennedy",
    "Lakeview",
    "Madison",
    "Northgate",
    "Oakridge",
    "Parkside",
    "Quintara",
    "Redwood",
    "Sequoia",
    "Tamalpais",
    "Union",
    "Valley Oak",
    "Westlake",
    "Yosemite",
    "Arroyo",
    "Bayview",
    "Cesar Chavez",
    "Dolores Huerta",
    "Edison",
    "Franklin",
    "Glenview",
    "Harbor",
    "Island",
    "Juniper",
    "King",
    "Lincoln",
    "Mission",
    "Noe Valley",
    "Ocean View",
    "Pacific",
    "Rosa Parks",
    "Sunset",
    "Twin Peaks",
    "Vista",
    "Willow",
    "Acorn",
    "Bridgeway",
    "Crocker",
    "Diamond",
    "Excelsior",
    "Fair Oaks",
    "Golden Gate",
    "Hawthorne",
    "Ingleside",
    "Jordan",
    "Kimball",
    "Laurel",
    "Marina",
    "Newcomb",
    "Orchard",
];

pub const SUPERVISORS: [&str; 10] = [
    "Dr. Ana Rivera",
    "Marcus Bell",
    "Dr. Linh Tran",
    "Rosa Delgado",
    "James Okafor",
    "Priya Natarajan",
    "Daniel Whitehorse",
    "Grace Kim",
    "Tomás Ortega",
    "Alicia Washington",
];

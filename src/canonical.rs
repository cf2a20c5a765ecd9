//! The canonical data model: the tables every extract is mapped onto, their columns, which
//! are required, how each is typed, and the closed code lists (grades, genders, race/ethnicity
//! reporting groups, English-learner statuses). Pipeline definitions map vendor names and codes
//! onto these; everything downstream sees only canonical names and codes.

use std::fmt;

const fn c(name: &'static str, kind: Kind, required: bool) -> Column {
    Column {
        name,
        kind,
        required,
    }
}

use Kind::{Date, Id, Integer, Text};

const SCHOOLS: &[Column] = &[
    c("school_id", Id, true),
    c("school_name", Text, true),
    c("level", Kind::Code(CodeList::Level), true),
    c("supervisor", Text, true),
    c("triad", Text, false),
];
const STUDENTS: &[Column] = &[
    c("student_id", Id, true),
    c("school_year", Kind::SchoolYear, true),
    c("school_id", Id, true),
    c("grade", Kind::Code(CodeList::StudentGrade), true),
    c("gender", Kind::Code(CodeList::Gender), true),
    c("race_ethnicity", Kind::Code(CodeList::RaceEthnicity), true),
    c("el_status", Kind::Code(CodeList::ElStatus), true),
    c("swd", Kind::Code(CodeList::YesNo), true),
    c("sed", Kind::Code(CodeList::YesNo), true),
    c("foster", Kind::Code(CodeList::YesNo), false),
    c("homeless", Kind::Code(CodeList::YesNo), false),
];
const ASSESSMENTS: &[Column] = &[
    c("student_id", Id, true),
    c("school_year", Kind::SchoolYear, true),
    c("window", Kind::Code(CodeList::Window), true),
    c("assessment", Kind::Code(CodeList::Assessment), true),
    c("subject", Kind::Code(CodeList::Subject), true),
    c("grade", Integer, true),
    c("scale_score", Integer, true),
    c("school_id", Id, true),
    c("test_date", Date, false),
];
const SURVEY_ITEMS: &[Column] = &[
    c("item_id", Id, true),
    c("construct", Kind::Code(CodeList::Construct), true),
    c(
        "respondent_type",
        Kind::CodeSet(CodeList::RespondentType),
        false,
    ),
    c("scale_min", Integer, true),
    c("scale_max", Integer, true),
    c("favorable_min", Integer, true),
    c("reversed", Kind::Code(CodeList::YesNo), false),
    c("text", Text, false),
];
const SURVEY_RESPONSES: &[Column] = &[
    c("respondent_id", Id, true),
    c(
        "respondent_type",
        Kind::Code(CodeList::RespondentType),
        true,
    ),
    c("school_id", Id, true),
    c("school_year", Kind::SchoolYear, true),
    c("window", Kind::Code(CodeList::Window), true),
    c("item_id", Id, true),
    c("response", Integer, true),
];

const STATE_RESULTS: &[Column] = &[
    c("area", Kind::Code(CodeList::Area), true),
    c("area_code", Id, true),
    c("school_year", Kind::SchoolYear, true),
    c("subject", Kind::Code(CodeList::Subject), true),
    c("group", Kind::Code(CodeList::Group), true),
    c("tested", Integer, false),
    c("mean_scale_score", Kind::Decimal, false),
    c("pct_met", Kind::Decimal, false),
];

/// A canonical input table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Schools,
    Students,
    Assessments,
    SurveyItems,
    SurveyResponses,
    /// The state's and county's published results (not student-level), shown beside the
    /// school's and the district's.
    StateResults,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Schools,
        Table::Students,
        Table::Assessments,
        Table::SurveyItems,
        Table::SurveyResponses,
        Table::StateResults,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Schools => "schools",
            Table::Students => "students",
            Table::Assessments => "assessments",
            Table::SurveyItems => "survey_items",
            Table::SurveyResponses => "survey_responses",
            Table::StateResults => "state_results",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The canonical columns of this table, in output order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Schools => SCHOOLS,
            Table::Students => STUDENTS,
            Table::Assessments => ASSESSMENTS,
            Table::SurveyItems => SURVEY_ITEMS,
            Table::SurveyResponses => SURVEY_RESPONSES,
            Table::StateResults => STATE_RESULTS,
        }
    }

    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The key that makes a row unique; later rows compete with earlier ones on it.
    pub fn unique_key(self) -> &'static [&'static str] {
        match self {
            Table::Schools => &["school_id"],
            Table::Students => &["student_id", "school_year"],
            Table::Assessments => &[
                "student_id",
                "school_year",
                "window",
                "assessment",
                "subject",
            ],
            Table::SurveyItems => &["item_id"],
            Table::SurveyResponses => &[
                "respondent_id",
                "respondent_type",
                "school_year",
                "window",
                "item_id",
            ],
            Table::StateResults => &["area", "area_code", "school_year", "subject", "group"],
        }
    }
}

/// The order validation leaves accepted assessments in, and so the order of every table with
/// one row per score (`student_growth` keeps it rather than sorting millions of rows again).
pub const SCORE_ORDER: [&str; 6] = [
    "student_id",
    "school_id",
    "school_year",
    "window",
    "assessment",
    "subject",
];

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// How a column is typed after ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identifier kept as text (leading zeros matter).
    Id,
    /// Free text.
    Text,
    /// `2024-25`; `2024-2025` is accepted and normalised.
    SchoolYear,
    /// A whole number.
    Integer,
    /// A number with decimals (`45.67`).
    Decimal,
    /// A calendar date.
    Date,
    /// A value from a closed list, after the pipeline's codebook is applied.
    Code(CodeList),
    /// Several values of a closed list (`student; staff`), or blank or `any` for all of them;
    /// typed as the members in list order joined by `;`, null for all.
    CodeSet(CodeList),
}

/// The closed code lists. Those whose members come from the pipeline definition (windows,
/// assessments, subjects, constructs) are checked against the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeList {
    Level,
    StudentGrade,
    Gender,
    RaceEthnicity,
    ElStatus,
    YesNo,
    Window,
    Assessment,
    Subject,
    Construct,
    RespondentType,
    /// Where published results are for: `state` or `county`.
    Area,
    /// The pipeline's student groups, by id.
    Group,
}

impl CodeList {
    /// The fixed members of the list, in canonical spelling; `None` for lists that come from
    /// the pipeline definition.
    pub fn fixed_members(self) -> Option<&'static [&'static str]> {
        Some(match self {
            CodeList::Level => &["elementary", "middle", "high"],
            CodeList::StudentGrade => &[
                "TK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
            ],
            CodeList::Gender => &["F", "M", "X"],
            CodeList::RaceEthnicity => &["AA", "AI", "AS", "FI", "HI", "PI", "WH", "MR", "NR"],
            CodeList::ElStatus => &["EO", "IFEP", "EL", "RFEP", "TBD"],
            CodeList::YesNo => &["Y", "N"],
            CodeList::RespondentType => &["student", "staff", "parent"],
            CodeList::Area => &["state", "county"],
            CodeList::Window
            | CodeList::Assessment
            | CodeList::Subject
            | CodeList::Construct
            | CodeList::Group => {
                return None;
            }
        })
    }
}

/// A school year such as `2024-25`. Parsing accepts `2024-25` and `2024-2025`; the ending
/// year must follow the starting year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchoolYear(pub i32);

impl SchoolYear {
    pub fn parse(text: &str) -> Option<SchoolYear> {
        let (a, b) = text.trim().split_once('-')?;
        if a.len() != 4 || !a.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let start: i32 = a.parse().ok()?;
        let end: i32 = match b.len() {
            2 if b.bytes().all(|c| c.is_ascii_digit()) => {
                let yy: i32 = b.parse().ok()?;
                let century = (start + 1) / 100 * 100;
                century + yy
            }
            4 if b.bytes().all(|c| c.is_ascii_digit()) => b.parse().ok()?,
            _ => return None,
        };
        (end == start + 1).then_some(SchoolYear(start))
    }

    pub fn previous(self) -> SchoolYear {
        SchoolYear(self.0 - 1)
    }

    pub fn next(self) -> SchoolYear {
        SchoolYear(self.0 + 1)
    }
}

impl fmt::Display for SchoolYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.0, (self.0 + 1) % 100)
    }
}

/// Look up `raw` in a fixed code list, ignoring case and surrounding space; returns the
/// canonical spelling.
pub fn canonical_code(list: &'static [&'static str], raw: &str) -> Option<&'static str> {
    let raw = raw.trim();
    list.iter().copied().find(|m| m.eq_ignore_ascii_case(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_years_parse_and_print() {
        assert_eq!(SchoolYear::parse("2024-25"), Some(SchoolYear(2024)));
        assert_eq!(SchoolYear::parse("2024-2025"), Some(SchoolYear(2024)));
        assert_eq!(SchoolYear::parse("1999-00"), Some(SchoolYear(1999)));
        assert_eq!(SchoolYear::parse("2024-26"), None);
        assert_eq!(SchoolYear::parse("2025"), None);
        assert_eq!(SchoolYear::parse("24-25"), None);
        assert_eq!(SchoolYear(2024).to_string(), "2024-25");
        assert_eq!(SchoolYear(1999).to_string(), "1999-00");
    }

    #[test]
    fn codes_match_without_case() {
        let genders = CodeList::Gender.fixed_members().unwrap();
        assert_eq!(canonical_code(genders, " f "), Some("F"));
        assert_eq!(canonical_code(genders, "Female"), None);
    }
}

/// A school id as a folder name. Ids are data: anything but ASCII letters, digits, `-` and `_`
/// becomes `_` (so `..`, `/` and `\\` cannot climb out of the run folder), a name Windows
/// reserves for a device (`CON`, `NUL`, `COM1`, …) gains a trailing `_`, and an empty id is `_`.
/// Validation refuses two schools whose folders would clash.
pub fn folder_name(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    let upper = s.to_ascii_uppercase();
    let device = RESERVED.contains(&upper.as_str())
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit());
    if device || s.is_empty() {
        s.push('_');
    }
    s
}

#[cfg(test)]
mod folder_tests {
    use super::folder_name;

    #[test]
    fn school_ids_become_safe_folder_names() {
        assert_eq!(folder_name("101"), "101");
        assert_eq!(folder_name(".."), "__");
        assert_eq!(folder_name("/"), "_");
        assert_eq!(folder_name("a/b"), "a_b");
        assert_eq!(folder_name("CON"), "CON_");
        assert_eq!(folder_name("com1"), "com1_");
        assert_eq!(folder_name("COM"), "COM");
        assert_eq!(folder_name("Escuela Niños"), "Escuela_Ni_os");
    }
}

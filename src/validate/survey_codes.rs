//! The survey responses as validation keeps them. They are the largest table by far (a
//! student answers about 30 items in each of two windows a year, so a large district has tens
//! of millions of rows and a state billions), and as text every value takes 16 bytes. So
//! every column except the respondent's id is kept as a small integer code:
//!
//! - `school_id`: the school's position among the accepted schools' ids, sorted (`UInt32`);
//! - `respondent_type`: its position in [`RESPONDENT_TYPES`] (`UInt32`);
//! - `school_year`: the year it starts, 2024 for 2024-25 (`Int32`);
//! - `window`: its position among the pipeline's windows (`UInt32`);
//! - `item_id`: the item's position among the accepted items' ids, sorted (`UInt32`);
//! - `respondent_id`: the id's student number (see [`Numbering`]) when it is a student's id;
//!   otherwise the count of student ids plus its position among the other respondents' ids in
//!   the order they first appear (`UInt32`). So every code is the respondent's number, and a
//!   student who answers has the number their scores and demographics carry;
//! - `response` stays `Int32`.
//!
//! Validation has rejected every row whose school, item or code is unknown, so every code
//! decodes. Every list but the other respondents' ids derives from the pipeline and the
//! accepted schools, items and student ids, so metrics rebuild them with [`SurveyCodes::new`];
//! validation hands on its own `SurveyCodes`, which also knows the other respondents, and
//! [`SurveyCodes::decode`] with it gives the canonical text back (for published tables).

use super::Numbering;
use crate::canonical::Table;
use crate::metrics::keys;
use crate::pipeline::Plan;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Respondent types in code order (alphabetical, as metrics pack them).
pub const RESPONDENT_TYPES: [&str; 3] = ["parent", "staff", "student"];

/// The columns held as codes by expressions, in the table's order (`respondent_id` is coded
/// through [`SurveyCodes::code_respondents`]).
const CODED: [&str; 5] = [
    "respondent_type",
    "school_id",
    "school_year",
    "window",
    "item_id",
];

/// What each code stands for.
#[derive(Debug, Clone)]
pub struct SurveyCodes {
    pub schools: Vec<String>,
    pub items: Vec<String>,
    pub windows: Vec<String>,
    /// Every student id in number order (see [`Numbering`]): respondent codes below their
    /// count.
    pub students: Vec<String>,
    /// Other respondents' ids in the order they were coded: codes from `students.len()` on.
    pub others: Vec<String>,
    /// Each id's code, filled when respondents are first coded, let go once every response
    /// is coded (see `sealed`).
    book: PlHashMap<String, u32>,
    sealed: bool,
}

impl SurveyCodes {
    /// The code lists of a run, from its plan, its accepted schools and items and its student
    /// ids.
    pub fn new(
        plan: &Plan,
        tables: &BTreeMap<Table, DataFrame>,
        students: &Numbering,
    ) -> PolarsResult<SurveyCodes> {
        SurveyCodes::with_windows(
            plan.windows.iter().map(|w| w.id.clone()).collect(),
            tables,
            students,
        )
    }

    /// The code lists for windows `windows` (a pipeline's, in its order).
    pub fn with_windows(
        windows: Vec<String>,
        tables: &BTreeMap<Table, DataFrame>,
        students: &Numbering,
    ) -> PolarsResult<SurveyCodes> {
        let ids = |t: Table, c: &str| -> PolarsResult<Vec<String>> {
            tables
                .get(&t)
                .map_or(Ok(Vec::new()), |df| keys::distinct(df, c))
        };
        Ok(SurveyCodes {
            schools: ids(Table::Schools, "school_id")?,
            items: ids(Table::SurveyItems, "item_id")?,
            windows,
            students: students.list(),
            others: Vec::new(),
            book: PlHashMap::new(),
            sealed: false,
        })
    }

    /// Replace the text `respondent_id` of `df` by codes, numbering ids not seen before.
    pub fn code_respondents(&mut self, mut df: DataFrame) -> PolarsResult<DataFrame> {
        if self.sealed {
            polars_bail!(ComputeError: "survey respondents are coded only while the responses are checked");
        }
        if self.book.is_empty() {
            self.book = self
                .students
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect();
        }
        let n_students = self.students.len();
        let ids = df.column("respondent_id")?.str()?.clone();
        let mut codes: Vec<Option<u32>> = Vec::with_capacity(ids.len());
        for id in ids.iter() {
            codes.push(id.map(|id| match self.book.get(id) {
                Some(&c) => c,
                None => {
                    let c = (n_students + self.others.len()) as u32;
                    self.others.push(id.to_string());
                    self.book.insert(id.to_string(), c);
                    c
                }
            }));
        }
        df.with_column(Column::new("respondent_id".into(), codes))?;
        Ok(df)
    }

    /// These codes once every response is coded: the book from id to code (a state's tens of
    /// millions of respondents, about a gigabyte) is let go, and ids are only decoded from
    /// here on.
    pub fn sealed(mut self) -> SurveyCodes {
        self.book = PlHashMap::new();
        self.sealed = true;
        self
    }

    /// Every respondent id in code order, for [`SurveyCodes::decode_with`].
    pub fn respondents(&self) -> Series {
        Series::new(
            "respondent_id".into(),
            self.students
                .iter()
                .chain(&self.others)
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
    }

    fn list(&self, column: &str) -> Vec<String> {
        match column {
            "respondent_type" => RESPONDENT_TYPES.map(String::from).to_vec(),
            "school_id" => self.schools.clone(),
            "window" => self.windows.clone(),
            "item_id" => self.items.clone(),
            _ => unreachable!("`{column}` is not a listed survey code"),
        }
    }

    /// The coded columns from their canonical text (same names).
    pub fn encode(&self) -> Vec<Expr> {
        CODED
            .iter()
            .map(|&c| {
                if c == "school_year" {
                    return super::codes::school_year_start(c);
                }
                let list = self.list(c);
                let codes: Vec<u32> = (0..list.len() as u32).collect();
                keys::map_text(c, &list, &codes, DataType::UInt32).alias(c)
            })
            .collect()
    }

    /// The canonical text of one coded column, for a table whose school years start between
    /// `years.0` and `years.1`: each code picks its text from a short list.
    pub fn decoded(&self, column: &str, years: (i32, i32)) -> Expr {
        if column == "school_year" {
            return super::codes::school_year_text(column, years);
        }
        super::codes::code_text(column, &self.list(column))
    }

    /// The first and last school year (by starting year) of a coded table.
    pub fn years(df: &DataFrame) -> PolarsResult<(i32, i32)> {
        let years = df.column("school_year")?.i32()?;
        Ok((years.min().unwrap_or(0), years.max().unwrap_or(0)))
    }

    /// The rows of a coded table at the schools `ids`, chosen by their codes.
    pub fn of_schools(&self, df: &DataFrame, ids: &[String]) -> PolarsResult<DataFrame> {
        let chosen: Vec<u32> = (0..self.schools.len() as u32)
            .filter(|&c| ids.contains(&self.schools[c as usize]))
            .collect();
        let chosen = Series::new("chosen".into(), chosen);
        df.clone()
            .lazy()
            .filter(col("school_id").is_in(lit(chosen).implode(false), false))
            .collect()
    }

    /// A table of canonical text made coded.
    pub fn encode_frame(&mut self, df: DataFrame) -> PolarsResult<DataFrame> {
        let df = df.lazy().with_columns(self.encode()).collect()?;
        self.code_respondents(df)
    }

    /// A coded table with its canonical text back (needs the `SurveyCodes` that coded it).
    pub fn decode(&self, df: &DataFrame) -> PolarsResult<DataFrame> {
        self.decode_with(df, &self.respondents())
    }

    /// [`SurveyCodes::decode`] with the respondent ids in code order given, for a table
    /// decoded a slice at a time.
    pub fn decode_with(&self, df: &DataFrame, respondents: &Series) -> PolarsResult<DataFrame> {
        let years = SurveyCodes::years(df)?;
        let mut out = df
            .clone()
            .lazy()
            .with_columns(CODED.map(|c| self.decoded(c, years)))
            .collect()?;
        let codes = df.column("respondent_id")?.u32()?;
        out.with_column(super::ids::take_by_code(respondents, codes)?.into_column())?;
        // The ids come back as one chunk; writers need every column chunked alike.
        out.rechunk_mut_par();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Coding and decoding gives every value back, years across a century's turn included.
    #[test]
    fn codes_decode_to_the_text_they_came_from() {
        let schools = df!["school_id" => ["B2", "A1", "C3"]].unwrap();
        let items = df!["item_id" => ["q9", "q10"]].unwrap();
        let students = df!["student_id" => ["r3", "r9"]].unwrap();
        let tables = BTreeMap::from([
            (Table::Schools, schools),
            (Table::Students, students),
            (Table::SurveyItems, items),
        ]);
        let students = super::super::Ids::of(&tables, Default::default())
            .unwrap()
            .students;
        let mut codes =
            SurveyCodes::with_windows(vec!["fall".into(), "spring".into()], &tables, &students)
                .unwrap();
        let text = df![
            "respondent_id" => ["r1", "r2", "r3"],
            "respondent_type" => ["student", "parent", "staff"],
            "school_id" => ["C3", "A1", "B2"],
            "school_year" => ["2099-00", "2008-09", "2024-25"],
            "window" => ["spring", "fall", "spring"],
            "item_id" => ["q9", "q10", "q9"],
            "response" => [1i32, 5, 3],
        ]
        .unwrap();
        let coded = codes.encode_frame(text.clone()).unwrap();
        let as_u32 = |c: &str| -> Vec<u32> {
            coded
                .column(c)
                .unwrap()
                .u32()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        // Positions in the sorted ids, the type list and the pipeline's windows; a student
        // respondent by their student id, the others after the students in order of appearance.
        assert_eq!(as_u32("respondent_id"), [2, 3, 0]);
        assert_eq!(codes.others, ["r1", "r2"]);
        assert_eq!(as_u32("school_id"), [2, 0, 1]);
        assert_eq!(as_u32("respondent_type"), [2, 0, 1]);
        assert_eq!(as_u32("window"), [1, 0, 1]);
        assert_eq!(as_u32("item_id"), [1, 0, 1]);
        let years: Vec<i32> = coded
            .column("school_year")
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(years, [2099, 2008, 2024]);
        assert!(codes.decode(&coded).unwrap().equals(&text));
    }
}

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
//! - `response` stays `Int32` and `respondent_id` text (it joins the students table).
//!
//! Validation has rejected every row whose school, item or code is unknown, so every code
//! decodes. The codes are derived from the pipeline and the accepted schools and items alone,
//! so a consumer rebuilds the lists with [`SurveyCodes::new`]; [`SurveyCodes::decode`] gives
//! the canonical text columns back (for published tables and for pages).

use crate::canonical::{SchoolYear, Table};
use crate::metrics::keys;
use crate::pipeline::Plan;
use polars::prelude::*;
use std::collections::BTreeMap;

/// Respondent types in code order (alphabetical, as metrics pack them).
pub const RESPONDENT_TYPES: [&str; 3] = ["parent", "staff", "student"];

/// The columns held as codes, in the table's order.
const CODED: [&str; 5] = [
    "respondent_type",
    "school_id",
    "school_year",
    "window",
    "item_id",
];

/// What each code stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyCodes {
    pub schools: Vec<String>,
    pub items: Vec<String>,
    pub windows: Vec<String>,
}

impl SurveyCodes {
    /// The code lists of a run, from its plan and its accepted schools and items.
    pub fn new(plan: &Plan, tables: &BTreeMap<Table, DataFrame>) -> PolarsResult<SurveyCodes> {
        SurveyCodes::with_windows(plan.windows.iter().map(|w| w.id.clone()).collect(), tables)
    }

    /// The code lists for windows `windows` (a pipeline's, in its order).
    pub fn with_windows(
        windows: Vec<String>,
        tables: &BTreeMap<Table, DataFrame>,
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
        })
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
                    // Canonical school years are `YYYY-YY`.
                    return col(c)
                        .str()
                        .slice(lit(0), lit(4))
                        .cast(DataType::Int32)
                        .alias(c);
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
        let (list, first) = if column == "school_year" {
            let (first, last) = years;
            let list: Vec<String> = (first..=last.max(first))
                .map(|y| SchoolYear(y).to_string())
                .collect();
            (list, first)
        } else {
            (self.list(column), 0)
        };
        if list.is_empty() {
            return lit(NULL).cast(DataType::String).alias(column);
        }
        let codes: Vec<i64> = (0..list.len() as i64)
            .map(|i| i + i64::from(first))
            .collect();
        col(column)
            .cast(DataType::Int64)
            .replace_strict(
                lit(Series::new("codes".into(), codes)),
                lit(Series::new("values".into(), list)),
                Some(lit(NULL).cast(DataType::String)),
                Some(DataType::String),
            )
            .alias(column)
    }

    /// The first and last school year (by starting year) of a coded table.
    pub fn years(df: &DataFrame) -> PolarsResult<(i32, i32)> {
        let years = df.column("school_year")?.i32()?;
        Ok((years.min().unwrap_or(0), years.max().unwrap_or(0)))
    }

    /// A table of canonical text made coded.
    pub fn encode_frame(&self, df: DataFrame) -> PolarsResult<DataFrame> {
        df.lazy().with_columns(self.encode()).collect()
    }

    /// A coded table with its canonical text back.
    pub fn decode(&self, df: &DataFrame) -> PolarsResult<DataFrame> {
        let years = SurveyCodes::years(df)?;
        df.clone()
            .lazy()
            .with_columns(CODED.map(|c| self.decoded(c, years)))
            .collect()
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
        let tables = BTreeMap::from([(Table::Schools, schools), (Table::SurveyItems, items)]);
        let codes =
            SurveyCodes::with_windows(vec!["fall".into(), "spring".into()], &tables).unwrap();
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
        // Positions in the sorted ids, the type list and the pipeline's windows.
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

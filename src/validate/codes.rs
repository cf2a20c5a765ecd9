//! The code columns of the students and assessments tables as validation hands them on. A
//! state has tens of millions of scores and students rows, and as text every code takes 16
//! bytes and every group or join by it hashes it. So each chunk's accepted rows are coded as
//! soon as they are checked, by the same rules as the survey responses' codes (see
//! `survey_codes`):
//!
//! - `school_year`: the year it starts, 2024 for 2024-25 (`Int32`);
//! - every other code column (the students' `grade`, `gender`, `race_ethnicity` and
//!   `el_status`; the assessments' `window`, `assessment` and `subject`): its position in the
//!   pipeline's list for it, [`Plan::code_members`] (`UInt32`). Windows are in the pipeline's
//!   order, assessments and subjects alphabetical, fixed lists in canonical order.
//!
//! Yes/no columns are already Boolean. Validation has rejected every row whose code is not in
//! its list, so every code decodes; [`Codes::decode_into`] gives the canonical text back.

use crate::canonical::{Kind, SchoolYear, Table};
use crate::metrics::keys;
use crate::pipeline::Plan;
use polars::prelude::*;

/// The tables whose code columns are coded.
pub(crate) const CODED_TABLES: [Table; 2] = [Table::Students, Table::Assessments];

/// What each code of the coded columns stands for.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    /// Each coded column (but `school_year`) with its list, in code order.
    lists: Vec<(&'static str, Vec<String>)>,
}

impl Codes {
    /// The code lists of a pipeline.
    pub fn of(plan: &Plan) -> Codes {
        let mut lists: Vec<(&'static str, Vec<String>)> = Vec::new();
        for t in CODED_TABLES {
            for c in t.columns() {
                if let Kind::Code(list) = c.kind
                    && list != crate::canonical::CodeList::YesNo
                    && !lists.iter().any(|(name, _)| *name == c.name)
                {
                    lists.push((c.name, plan.code_members(list)));
                }
            }
        }
        Codes { lists }
    }

    /// Codes with the given lists (tests).
    #[cfg(test)]
    pub(crate) fn from_lists(lists: Vec<(&'static str, Vec<String>)>) -> Codes {
        Codes { lists }
    }

    /// The list of a coded column, in code order.
    pub fn list(&self, column: &str) -> Option<&[String]> {
        self.lists
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, list)| list.as_slice())
    }

    /// The codes of `values` in `column` (values not in its list left out).
    pub fn codes_of(&self, column: &str, values: &[String]) -> Vec<u32> {
        let list = self.list(column).unwrap_or_default();
        values
            .iter()
            .filter_map(|v| list.iter().position(|m| m == v).map(|p| p as u32))
            .collect()
    }

    /// Whether `df` holds `column` coded.
    pub fn is_coded_in(&self, df: &DataFrame, column: &str) -> bool {
        let want = if column == "school_year" {
            DataType::Int32
        } else if self.list(column).is_some() {
            DataType::UInt32
        } else {
            return false;
        };
        df.column(column).is_ok_and(|c| c.dtype() == &want)
    }

    /// `df` (canonical text, of a coded table) with its code columns coded.
    pub fn encode_frame(&self, df: DataFrame) -> PolarsResult<DataFrame> {
        let is_text = |c: &str| df.column(c).is_ok_and(|c| c.dtype() == &DataType::String);
        let mut exprs = Vec::new();
        if is_text("school_year") {
            exprs.push(school_year_start("school_year"));
        }
        for (name, list) in &self.lists {
            if is_text(name) {
                let codes: Vec<u32> = (0..list.len() as u32).collect();
                exprs.push(keys::map_text(name, list, &codes, DataType::UInt32).alias(*name));
            }
        }
        if exprs.is_empty() {
            return Ok(df);
        }
        df.lazy().with_columns(exprs).collect()
    }

    /// `df` with its coded columns made canonical text again (unchanged when it has none).
    pub fn decode_into(&self, df: &mut DataFrame) -> PolarsResult<()> {
        let mut exprs = Vec::new();
        if self.is_coded_in(df, "school_year") {
            let years = df.column("school_year")?.i32()?;
            let range = (years.min().unwrap_or(0), years.max().unwrap_or(0));
            exprs.push(school_year_text("school_year", range));
        }
        for (name, list) in &self.lists {
            if self.is_coded_in(df, name) {
                exprs.push(code_text(name, list));
            }
        }
        if !exprs.is_empty() {
            *df = std::mem::take(df).lazy().with_columns(exprs).collect()?;
        }
        Ok(())
    }

    /// Whether `df` holds any column coded.
    pub fn any_coded_in(&self, df: &DataFrame) -> bool {
        self.is_coded_in(df, "school_year")
            || self
                .lists
                .iter()
                .any(|(name, _)| self.is_coded_in(df, name))
    }
}

/// The starting year of a canonical text school year (`YYYY-YY`), as `Int32`.
pub fn school_year_start(column: &str) -> Expr {
    col(column)
        .str()
        .slice(lit(0), lit(4))
        .cast(DataType::Int32)
        .alias(column)
}

/// The canonical text of a school year column held as starting years between `years.0` and
/// `years.1`: each year picks its text from a short list.
pub fn school_year_text(column: &str, years: (i32, i32)) -> Expr {
    let (first, last) = years;
    let list: Vec<String> = (first..=last.max(first))
        .map(|y| SchoolYear(y).to_string())
        .collect();
    let starts: Vec<i64> = (first..=last.max(first)).map(i64::from).collect();
    keys::map_int(column, starts, Series::new("values".into(), list)).alias(column)
}

/// The text of a column of codes into `list` (positions).
pub fn code_text(column: &str, list: &[String]) -> Expr {
    if list.is_empty() {
        return lit(NULL).cast(DataType::String).alias(column);
    }
    let codes: Vec<i64> = (0..list.len() as i64).collect();
    keys::map_int(column, codes, Series::new("values".into(), list.to_vec())).alias(column)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code column of students and assessments takes its position in the pipeline's
    /// list (windows in the pipeline's order), the school year its starting year, and
    /// decoding gives the text back.
    #[test]
    fn codes_are_positions_in_the_pipelines_lists() {
        let codes = Codes {
            lists: vec![
                (
                    "window",
                    vec!["fall".into(), "winter".into(), "spring".into()],
                ),
                ("gender", vec!["F".into(), "M".into(), "X".into()]),
            ],
        };
        let text = df![
            "school_year" => ["2024-25", "1999-00", "2024-25"],
            "window" => ["spring", "fall", "winter"],
            "gender" => [Some("X"), None, Some("F")],
            "other" => ["a", "b", "c"],
        ]
        .unwrap();
        let coded = codes.encode_frame(text.clone()).unwrap();
        let ints = |c: &str| -> Vec<Option<u32>> { coded[c].u32().unwrap().iter().collect() };
        assert_eq!(ints("window"), [Some(2), Some(0), Some(1)]);
        assert_eq!(ints("gender"), [Some(2), None, Some(0)]);
        let years: Vec<Option<i32>> = coded["school_year"].i32().unwrap().iter().collect();
        assert_eq!(years, [Some(2024), Some(1999), Some(2024)]);
        assert!(codes.any_coded_in(&coded) && !codes.any_coded_in(&text));
        assert_eq!(
            codes.codes_of("window", &["spring".into(), "x".into()]),
            [2]
        );
        let mut back = coded;
        codes.decode_into(&mut back).unwrap();
        assert!(back.equals_missing(&text), "{back}");
    }
}

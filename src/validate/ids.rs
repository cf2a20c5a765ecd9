//! Student and school ids as validation hands them on. A state has millions of students and
//! tens of millions of scores; as text every id takes 16 bytes and every join, group or
//! lookup by it hashes it. So from validation on, `student_id` and `school_id` in the students
//! and assessments tables are `UInt32` numbers, each an id's position in its [`Numbering`]:
//!
//! - students: the students' ids sorted, then, sorted, the ids found only in the assessments.
//!   Survey respondents who are students have the same number (see `survey_codes`);
//! - schools: every school id of the schools, students and assessments tables, sorted, so
//!   numbers order as the ids do.
//!
//! Metrics key students and schools by their numbers with no text hashed; publishing decodes
//! them back a slice at a time.

use super::Codes;
use crate::canonical::Table;
use crate::metrics::keys;
use polars::prelude::*;
use std::collections::BTreeMap;

/// The tables whose ids are numbered.
const NUMBERED: [Table; 2] = [Table::Students, Table::Assessments];

/// Every id of one column in number order.
#[derive(Debug, Clone)]
pub struct Numbering {
    ids: Series,
}

impl Numbering {
    fn new(column: &str, ids: Vec<String>) -> PolarsResult<Numbering> {
        if ids.len() > u32::MAX as usize {
            polars_bail!(ComputeError: "more than {} distinct `{column}` in one run", u32::MAX);
        }
        Ok(Numbering {
            ids: Series::new(column.into(), ids),
        })
    }

    /// The numbered column.
    pub fn column(&self) -> &str {
        self.ids.name()
    }

    /// How many ids are numbered: the first number no id has.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids in number order.
    pub fn list(&self) -> Vec<String> {
        self.ids
            .str()
            .expect("ids are text")
            .iter()
            .flatten()
            .map(str::to_string)
            .collect()
    }

    /// The numbers of `ids` (ids not numbered left out).
    pub fn numbers_of(&self, ids: &[String]) -> Vec<u32> {
        let list = self.list();
        let number: PlHashMap<&str, u32> = list
            .iter()
            .enumerate()
            .map(|(n, id)| (id.as_str(), n as u32))
            .collect();
        ids.iter()
            .filter_map(|id| number.get(id.as_str()).copied())
            .collect()
    }

    /// The column's numbers, from its text.
    fn encode(&self) -> Expr {
        let list = self.list();
        let numbers: Vec<u32> = (0..list.len() as u32).collect();
        keys::map_text(self.column(), &list, &numbers, DataType::UInt32).alias(self.column())
    }

    /// Whether `df` holds this column as numbers.
    fn is_numbered_in(&self, df: &DataFrame) -> bool {
        df.column(self.column())
            .is_ok_and(|c| c.dtype() == &DataType::UInt32)
    }

    /// `df` with this column made text again, when it holds numbers.
    fn decode_into(&self, df: &mut DataFrame) -> PolarsResult<()> {
        if self.is_numbered_in(df) {
            let numbers = df.column(self.column())?.u32()?.clone();
            df.with_column(take_by_code(&self.ids, &numbers)?.into_column())?;
        }
        Ok(())
    }
}

/// The numberings of a run's student and school ids, and what the codes of the students' and
/// assessments' code columns stand for (see [`Codes`]): everything needed to give a table
/// held by validation its canonical text back.
#[derive(Debug, Clone)]
pub struct Ids {
    pub students: Numbering,
    pub schools: Numbering,
    pub codes: Codes,
}

impl Ids {
    /// The numberings of the ids of `tables`, whose ids are still text, beside `codes`.
    pub fn of(tables: &BTreeMap<Table, DataFrame>, codes: Codes) -> PolarsResult<Ids> {
        let distinct = |t: Table, column: &str| -> PolarsResult<Vec<String>> {
            match tables.get(&t) {
                Some(df) if df.column(column).is_ok() => keys::distinct(df, column),
                _ => Ok(Vec::new()),
            }
        };
        let mut students = distinct(Table::Students, "student_id")?;
        // Both lists are sorted.
        let tested_only: Vec<String> = distinct(Table::Assessments, "student_id")?
            .into_iter()
            .filter(|id| students.binary_search(id).is_err())
            .collect();
        students.extend(tested_only);
        let mut schools = Vec::new();
        for t in [Table::Schools, Table::Students, Table::Assessments] {
            schools.extend(distinct(t, "school_id")?);
        }
        schools.sort_unstable();
        schools.dedup();
        Ok(Ids {
            students: Numbering::new("student_id", students)?,
            schools: Numbering::new("school_id", schools)?,
            codes,
        })
    }

    /// Number the ids of `tables` and replace the numbered tables' text ids by their numbers
    /// (their code columns are coded by `codes` already).
    pub fn code(tables: &mut BTreeMap<Table, DataFrame>, codes: Codes) -> PolarsResult<Ids> {
        let ids = Ids::of(tables, codes)?;
        for t in NUMBERED {
            if let Some(df) = tables.get_mut(&t) {
                let encode: Vec<Expr> = [&ids.students, &ids.schools]
                    .into_iter()
                    .filter(|n| df.column(n.column()).is_ok())
                    .map(Numbering::encode)
                    .collect();
                *df = std::mem::take(df).lazy().with_columns(encode).collect()?;
            }
        }
        Ok(ids)
    }

    /// `df` with numbered ids and coded columns made text again (unchanged when it has
    /// none).
    pub fn decode(&self, df: &DataFrame) -> PolarsResult<DataFrame> {
        let mut out = df.clone();
        if !(self.students.is_numbered_in(df)
            || self.schools.is_numbered_in(df)
            || self.codes.any_coded_in(df))
        {
            return Ok(out);
        }
        self.codes.decode_into(&mut out)?;
        self.students.decode_into(&mut out)?;
        self.schools.decode_into(&mut out)?;
        // The ids come back as one chunk; writers need every column chunked alike.
        out.rechunk_mut_par();
        Ok(out)
    }

    /// The rows of `df` (school ids numbered or text) at the schools `wanted`.
    pub fn of_schools(&self, df: &DataFrame, wanted: &[String]) -> PolarsResult<DataFrame> {
        let chosen = if self.schools.is_numbered_in(df) {
            Series::new("chosen".into(), self.schools.numbers_of(wanted))
        } else {
            Series::new("chosen".into(), wanted.to_vec())
        };
        df.clone()
            .lazy()
            .filter(col("school_id").is_in(lit(chosen).implode(false), false))
            .collect()
    }
}

/// The values of `values` at the positions `codes` (null for a null code).
pub(crate) fn take_by_code(values: &Series, codes: &UInt32Chunked) -> PolarsResult<Series> {
    let idx: IdxCa = codes.iter().map(|c| c.map(|c| c as IdxSize)).collect();
    values.take(&idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Students' ids come first, sorted as text, then ids only tested, sorted; schools are
    /// every table's, sorted. The tables carry the numbers, decoding gives the text back, and
    /// a school filter picks by number.
    #[test]
    fn ids_are_numbered_and_decode_back() {
        let schools = df!["school_id" => ["B", "A"]].unwrap();
        let students = df![
            "student_id" => ["S9", "S10", "S9"],
            "school_id" => ["B", "A", "C"],
            "school_year" => ["2024-25", "2024-25", "2025-26"],
        ]
        .unwrap();
        let scores = df![
            "student_id" => ["T2", "S9", "A1", "T2"],
            "school_id" => ["A", "B", "D", "A"],
            "scale_score" => [1i32, 2, 3, 4],
        ]
        .unwrap();
        let mut tables = BTreeMap::from([
            (Table::Schools, schools.clone()),
            (Table::Students, students.clone()),
            (Table::Assessments, scores.clone()),
        ]);
        let ids = Ids::code(&mut tables, Codes::default()).unwrap();
        assert_eq!(ids.students.list(), ["S10", "S9", "A1", "T2"]);
        assert_eq!(ids.schools.list(), ["A", "B", "C", "D"]);
        let numbers = |t: Table, c: &str| -> Vec<u32> {
            tables[&t][c].u32().unwrap().into_no_null_iter().collect()
        };
        assert_eq!(numbers(Table::Students, "student_id"), [1, 0, 1]);
        assert_eq!(numbers(Table::Assessments, "student_id"), [3, 1, 2, 3]);
        assert_eq!(numbers(Table::Students, "school_id"), [1, 0, 2]);
        assert_eq!(numbers(Table::Assessments, "school_id"), [0, 1, 3, 0]);
        assert!(tables[&Table::Schools].equals(&schools));
        let back = |t: Table| ids.decode(&tables[&t]).unwrap();
        assert!(back(Table::Students).equals(&students));
        assert!(back(Table::Assessments).equals(&scores));
        let at_a = ids
            .of_schools(&tables[&Table::Assessments], &["A".to_string()])
            .unwrap();
        assert_eq!(at_a.height(), 2);
        assert_eq!(
            ids.of_schools(&students, &["C".to_string()])
                .unwrap()
                .height(),
            1
        );
    }
}

//! Student ids as validation hands them on. A state has millions of students and tens of
//! millions of scores; as text every id takes 16 bytes and every join or group by it hashes
//! it. So from validation on, `student_id` in the students and assessments tables is a
//! `UInt32` number: the id's position in [`StudentIds`], which lists the students' ids sorted
//! and then, sorted, the ids found only in the assessments. Survey respondents who are
//! students have the same number (see `survey_codes`). Metrics key students by the number
//! with no text hashed; publishing decodes it back a slice at a time.

use crate::canonical::Table;
use crate::metrics::keys;
use polars::prelude::*;
use std::collections::BTreeMap;

/// The tables whose `student_id` is coded.
const CODED: [Table; 2] = [Table::Students, Table::Assessments];

/// Every student id of a run, in number order.
#[derive(Debug, Clone)]
pub struct StudentIds {
    ids: Series,
}

impl StudentIds {
    /// The numbering of the student ids of `tables`, whose `student_id` is still text.
    pub fn of(tables: &BTreeMap<Table, DataFrame>) -> PolarsResult<StudentIds> {
        let distinct = |t: Table| -> PolarsResult<Vec<String>> {
            tables
                .get(&t)
                .map_or(Ok(Vec::new()), |df| keys::distinct(df, "student_id"))
        };
        let mut ids = distinct(Table::Students)?;
        // Both lists are sorted.
        let tested_only: Vec<String> = distinct(Table::Assessments)?
            .into_iter()
            .filter(|id| ids.binary_search(id).is_err())
            .collect();
        ids.extend(tested_only);
        if ids.len() > u32::MAX as usize {
            polars_bail!(ComputeError: "more than {} student ids in one run", u32::MAX);
        }
        Ok(StudentIds {
            ids: Series::new("student_id".into(), ids),
        })
    }

    /// Number the student ids of `tables` and replace each coded table's text ids by their
    /// numbers.
    pub fn code(tables: &mut BTreeMap<Table, DataFrame>) -> PolarsResult<StudentIds> {
        let numbering = StudentIds::of(tables)?;
        let list = numbering.list();
        let numbers: Vec<u32> = (0..list.len() as u32).collect();
        for t in CODED {
            if let Some(df) = tables.get_mut(&t) {
                let coded = keys::map_text("student_id", &list, &numbers, DataType::UInt32)
                    .alias("student_id");
                *df = std::mem::take(df).lazy().with_column(coded).collect()?;
            }
        }
        Ok(numbering)
    }

    /// How many ids are numbered: the first number no student has.
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
            .expect("student ids are text")
            .iter()
            .flatten()
            .map(str::to_string)
            .collect()
    }

    /// `df` with a coded `student_id` made text again (unchanged when it has none).
    pub fn decode(&self, df: &DataFrame) -> PolarsResult<DataFrame> {
        let Ok(codes) = df.column("student_id") else {
            return Ok(df.clone());
        };
        if codes.dtype() != &DataType::UInt32 {
            return Ok(df.clone());
        }
        let mut out = df.clone();
        out.with_column(take_by_code(&self.ids, codes.u32()?)?.into_column())?;
        // The ids come back as one chunk; writers need every column chunked alike.
        out.rechunk_mut_par();
        Ok(out)
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

    /// Students' ids come first, sorted as text; ids only tested follow, sorted; both tables
    /// carry the numbers, and decoding gives the text back.
    #[test]
    fn ids_are_numbered_students_first_and_decode_back() {
        let students = df![
            "student_id" => ["S9", "S10", "S9"],
            "school_year" => ["2024-25", "2024-25", "2025-26"],
        ]
        .unwrap();
        let scores = df![
            "student_id" => ["T2", "S9", "A1", "T2"],
            "scale_score" => [1i32, 2, 3, 4],
        ]
        .unwrap();
        let mut tables = BTreeMap::from([
            (Table::Students, students.clone()),
            (Table::Assessments, scores.clone()),
        ]);
        let ids = StudentIds::code(&mut tables).unwrap();
        assert_eq!(ids.list(), ["S10", "S9", "A1", "T2"]);
        let numbers = |t: Table| -> Vec<u32> {
            tables[&t]["student_id"]
                .u32()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        assert_eq!(numbers(Table::Students), [1, 0, 1]);
        assert_eq!(numbers(Table::Assessments), [3, 1, 2, 3]);
        assert!(
            ids.decode(&tables[&Table::Students])
                .unwrap()
                .equals(&students)
        );
        assert!(
            ids.decode(&tables[&Table::Assessments])
                .unwrap()
                .equals(&scores)
        );
    }
}

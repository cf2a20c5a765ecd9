//! Duplicates among valid rows. Assessments keep the later test date (a missing date is the
//! earliest), then the higher score, then the first row in the file. Every other table keeps
//! the later row in the file (the district's latest word on a student, school or item).

use crate::canonical::Table;
use crate::ingest::SEQ_COL;
use polars::prelude::*;

/// Split valid rows into (kept, superseded); superseded holds only the row order column.
/// Kept rows stay in file order.
///
/// Assessments' keys are nearly always unique, so rows are first counted per key (a hash
/// aggregation) and only the rows that share a key are sorted by the tie-break order. `rows`
/// come in file order.
pub fn resolve(table: Table, rows: DataFrame) -> PolarsResult<(DataFrame, DataFrame)> {
    let key: Vec<Expr> = table.unique_key().iter().map(|c| col(*c)).collect();
    if table != Table::Assessments {
        return keep_last_in_file(rows, key);
    }
    let counted = rows
        .lazy()
        .with_column(len().over(key.clone())?.gt(lit(1)).alias("__shared"))
        .collect()?;
    let unique = counted
        .clone()
        .lazy()
        .filter(col("__shared").not())
        .drop(by_name(["__shared"], true, false));
    let (order, descending, nulls_last): (Vec<Expr>, Vec<bool>, Vec<bool>) = match table {
        Table::Assessments => (
            vec![col("test_date"), col("scale_score"), col(SEQ_COL)],
            vec![true, true, false],
            vec![true, true, true],
        ),
        _ => (vec![col(SEQ_COL)], vec![true], vec![true]),
    };
    let contested = counted
        .lazy()
        .filter(col("__shared"))
        .drop(by_name(["__shared"], true, false))
        .sort_by_exprs(
            order,
            SortMultipleOptions::default()
                .with_order_descending_multi(descending)
                .with_nulls_last_multi(nulls_last)
                .with_maintain_order(true),
        )
        .with_column(as_struct(key).is_first_distinct().alias("__keep"))
        .collect()?;
    let winners =
        contested
            .clone()
            .lazy()
            .filter(col("__keep"))
            .drop(by_name(["__keep"], true, false));
    let kept = concat([unique, winners], UnionArgs::default())?
        .sort([SEQ_COL], SortMultipleOptions::default())
        .collect()?;
    let superseded = contested
        .lazy()
        .filter(col("__keep").not())
        .select([col(SEQ_COL)])
        .collect()?;
    Ok((kept, superseded))
}

/// The later row in the file wins: a row is kept when it is the last of its key. One hash
/// aggregation marks the rows and one filter keeps them, in file order, with no sort (the
/// survey responses of a large district are tens of millions of rows).
fn keep_last_in_file(rows: DataFrame, key: Vec<Expr>) -> PolarsResult<(DataFrame, DataFrame)> {
    let marked = rows
        .lazy()
        .with_column(
            col(SEQ_COL)
                .eq(col(SEQ_COL).max().over(key)?)
                .alias("__keep"),
        )
        .collect()?;
    let kept = marked
        .clone()
        .lazy()
        .filter(col("__keep"))
        .drop(by_name(["__keep"], true, false))
        .collect()?;
    let superseded = marked
        .lazy()
        .filter(col("__keep").not())
        .select([col(SEQ_COL)])
        .collect()?;
    Ok((kept, superseded))
}

/// Why a superseded row lost, for the quarantine's detail column.
pub fn detail(table: Table) -> String {
    let key = table.unique_key().join(", ");
    match table {
        Table::Assessments => format!(
            "another valid row has the same {key}; kept the later test date, then the higher score, then the first in the file"
        ),
        _ => format!("a later row in the file has the same {key} and was kept"),
    }
}

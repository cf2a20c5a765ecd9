//! Duplicates among valid rows. Assessments keep the later test date (a missing date is the
//! earliest), then the higher score, then the first row in the file. Every other table keeps
//! the later row in the file (the district's latest word on a student, school or item).

use crate::canonical::Table;
use crate::ingest::SEQ_COL;
use polars::prelude::*;

/// Column holding a hash of each valid row's unique key, computed chunk by chunk.
pub const HASH_COL: &str = "__key_hash";

/// The hash of each row's unique key (the same for equal keys in any chunk of any file), added
/// as [`HASH_COL`].
pub fn with_key_hash(table: Table, mut rows: DataFrame) -> PolarsResult<DataFrame> {
    let state = PlSeedableRandomStateQuality::seed_from_u64(0x5eed);
    let mut hashes = Vec::with_capacity(rows.height());
    for (i, name) in table.unique_key().iter().enumerate() {
        let key = rows.column(name)?.as_materialized_series().clone();
        if i == 0 {
            key.vec_hash(state.clone(), &mut hashes)?;
        } else {
            key.vec_hash_combine(state.clone(), &mut hashes)?;
        }
    }
    rows.with_column(Column::new(HASH_COL.into(), hashes))?;
    Ok(rows)
}

/// Split valid rows (with [`HASH_COL`]) into (kept, superseded); superseded holds only the
/// row order column. Kept rows stay in file order.
///
/// Keys are nearly always unique, so only rows whose key hash is shared are compared by
/// their keys (the survey responses of a large district are tens of millions of rows, and
/// grouping them by five text columns would take gigabytes); a shared hash is nearly always
/// a true duplicate, and the rare collision of different keys is told apart by that exact
/// comparison.
pub fn resolve(table: Table, rows: DataFrame) -> PolarsResult<(DataFrame, DataFrame)> {
    let shared = shared_hashes(rows.column(HASH_COL)?.u64()?);
    let no_seqs = || DataFrame::new(0, vec![Column::new(SEQ_COL.into(), Vec::<u64>::new())]);
    if shared.is_empty() {
        return Ok((rows.drop(HASH_COL)?, no_seqs()?));
    }
    let key: Vec<Expr> = table.unique_key().iter().map(|c| col(*c)).collect();
    let contested = rows
        .clone()
        .lazy()
        .filter(col(HASH_COL).is_in(
            lit(Series::new("shared".into(), shared)).implode(false),
            false,
        ))
        .collect()?;
    let losers = match table {
        Table::Assessments => contested
            .lazy()
            .sort_by_exprs(
                [col("test_date"), col("scale_score"), col(SEQ_COL)],
                SortMultipleOptions::default()
                    .with_order_descending_multi([true, true, false])
                    .with_nulls_last_multi([true, true, true])
                    .with_maintain_order(true),
            )
            .filter(as_struct(key).is_first_distinct().not()),
        // The later row in the file wins.
        _ => contested
            .lazy()
            .filter(col(SEQ_COL).neq(col(SEQ_COL).max().over(key)?)),
    }
    .select([col(SEQ_COL)])
    .sort([SEQ_COL], SortMultipleOptions::default())
    .collect()?;
    if losers.height() == 0 {
        return Ok((rows.drop(HASH_COL)?, no_seqs()?));
    }
    let lost: Vec<u64> = losers.column(SEQ_COL)?.u64()?.into_no_null_iter().collect();
    let keep: BooleanChunked = rows
        .column(SEQ_COL)?
        .u64()?
        .into_no_null_iter()
        .map(|seq| lost.binary_search(&seq).is_err())
        .collect();
    let kept = filter_by_column(rows.drop(HASH_COL)?, &keep)?;
    Ok((kept, losers))
}

/// The hashes that occur more than once, from a sorted copy (8 bytes a row, where grouping
/// by hash would take several times that).
fn shared_hashes(hashes: &UInt64Chunked) -> Vec<u64> {
    use rayon::prelude::*;
    let mut sorted: Vec<u64> = hashes.into_no_null_iter().collect();
    sorted.par_sort_unstable();
    let mut shared: Vec<u64> = sorted
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    shared.dedup();
    shared
}

/// `df` filtered one column at a time, so only one column is ever held twice.
fn filter_by_column(df: DataFrame, mask: &BooleanChunked) -> PolarsResult<DataFrame> {
    let height = mask.sum().unwrap_or(0) as usize;
    let columns = df
        .into_columns()
        .into_iter()
        .map(|c| c.filter(mask))
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(height, columns)
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

//! Integer keys. Grouping and joining by several text columns is several times slower in
//! Polars than by one integer, and the metrics group millions of rows once per student group,
//! so key columns are turned into dense codes once and packed into a single `u64`: each
//! text key gets the bits its distinct values need, `school_id` the highest, so the district
//! cell is the school cell with those bits cleared. Students, schools and survey respondents
//! come numbered from validation, and the code columns coded (see `validate::ids`,
//! `validate::codes` and `validate::survey_codes`), so their codes are given to
//! [`Packing::cell_with`] rather than encoded from text.

use polars::prelude::*;

struct Field {
    name: String,
    values: Vec<String>,
    shift: u32,
    bits: u32,
}

/// How a list of text key columns packs into one integer.
pub struct Packing {
    fields: Vec<Field>,
    /// Bits used in all.
    pub bits: u32,
}

fn bits_for(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// The distinct non-null values of a text column, sorted.
pub fn distinct(df: &DataFrame, column: &str) -> PolarsResult<Vec<String>> {
    let unique = df.clone().lazy().select([col(column).unique()]).collect()?;
    let mut values: Vec<String> = unique
        .column(column)?
        .str()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    values.sort_unstable();
    Ok(values)
}

/// Lists this short are encoded by comparing, which is cheaper than hashing every row.
const COMPARE_UP_TO: usize = 8;

/// Map a text column through a table (`from[i]` -> `to[i]`, anything else null): short
/// tables by comparing, which is cheaper than hashing every row, long ones by hashing.
pub fn map_text<T>(column: &str, from: &[String], to: &[T], dtype: DataType) -> Expr
where
    T: Literal + Clone,
    Series: NamedFrom<Vec<T>, [T]>,
{
    let null = lit(NULL).cast(dtype.clone());
    if from.len() > COMPARE_UP_TO {
        return col(column).replace_strict(
            lit(<Series as NamedFrom<Vec<String>, [String]>>::new(
                "from".into(),
                from.to_vec(),
            )),
            lit(Series::new("to".into(), to.to_vec())),
            Some(null),
            Some(dtype),
        );
    }
    let is = |v: &str| col(column).eq(lit(v));
    let mut pairs = from.iter().zip(to);
    let Some((first, first_to)) = pairs.next() else {
        return null;
    };
    let first = when(is(first)).then(lit(first_to.clone()));
    match pairs.next() {
        None => first.otherwise(null),
        Some((v, t)) => {
            let mut chain = first.when(is(v)).then(lit(t.clone()));
            for (v, t) in pairs {
                chain = chain.when(is(v)).then(lit(t.clone()));
            }
            chain.otherwise(null)
        }
    }
}

/// Map an integer column through a table (`from[i]` -> `to[i]`, anything else null).
pub fn map_int(column: &str, from: Vec<i64>, to: Series) -> Expr {
    let dtype = to.dtype().clone();
    col(column).cast(DataType::Int64).replace_strict(
        lit(Series::new("from".into(), from)),
        lit(to),
        Some(lit(NULL).cast(dtype.clone())),
        Some(dtype),
    )
}

/// Map a text column to its code (position in `values`), as `u64`.
pub fn encode(column: &str, values: &[String]) -> Expr {
    let codes: Vec<u64> = (0..values.len() as u64).collect();
    map_text(column, values, &codes, DataType::UInt64)
}

impl Packing {
    /// Codes for each (key column, its possible values); the first key is the school.
    pub fn new(keys: Vec<(&str, Vec<String>)>) -> PolarsResult<Packing> {
        let names: Vec<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
        let mut fields = Vec::new();
        let mut shift = 0;
        for (key, values) in keys.into_iter().rev() {
            let bits = bits_for(values.len());
            fields.push(Field {
                name: key.to_string(),
                values,
                shift,
                bits,
            });
            shift += bits;
        }
        fields.reverse();
        if shift > 40 {
            polars_bail!(ComputeError: "the keys {names:?} have too many distinct values to pack into one integer");
        }
        Ok(Packing {
            fields,
            bits: shift,
        })
    }

    /// The packed key, taking the codes of some fields from given expressions (codes already
    /// computed another way) instead of encoding their text column.
    pub fn cell_with(&self, codes: &[(&str, Expr)]) -> Expr {
        self.fields
            .iter()
            .map(|f| {
                let code = codes
                    .iter()
                    .find(|(name, _)| *name == f.name)
                    .map_or_else(|| encode(&f.name, &f.values), |(_, e)| e.clone());
                code * lit(1u64 << f.shift)
            })
            .reduce(|a, b| a + b)
            .expect("at least one key")
    }

    /// Where the field `name` starts in a packed cell.
    pub fn shift(&self, name: &str) -> u32 {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .expect("a packed key")
            .shift
    }

    /// The code of `value` in the key column `name`.
    pub fn code(&self, name: &str, value: &str) -> Option<u64> {
        let f = self.fields.iter().find(|f| f.name == name)?;
        f.values.iter().position(|v| v == value).map(|i| i as u64)
    }

    /// The code of key column `name` inside a packed cell.
    pub fn field(&self, cell: Expr, name: &str) -> Expr {
        let f = self
            .fields
            .iter()
            .find(|f| f.name == name)
            .expect("a packed key");
        (cell / lit(1u64 << f.shift)) % lit(1u64 << f.bits)
    }

    /// The district cell of a packed school cell: the school's bits cleared.
    pub fn district(&self, cell: Expr) -> Expr {
        cell % lit(1u64 << self.fields[0].shift)
    }

    /// The key columns back from a packed cell, leaving out the first `skip` (1 for the
    /// district cell, which has no school).
    pub fn decode(&self, cell: &str, skip: usize) -> Vec<Expr> {
        self.fields
            .iter()
            .skip(skip)
            .map(|f| {
                if f.values.is_empty() {
                    // No rows: nothing to decode, but the column keeps its type.
                    return lit(NULL).cast(DataType::String).alias(f.name.as_str());
                }
                let codes: Vec<u64> = (0..f.values.len() as u64).collect();
                ((col(cell) / lit(1u64 << f.shift)) % lit(1u64 << f.bits))
                    .replace_strict(
                        lit(Series::new("codes".into(), codes)),
                        lit(Series::new("values".into(), f.values.clone())),
                        None,
                        Some(DataType::String),
                    )
                    .alias(f.name.as_str())
            })
            .collect()
    }
}

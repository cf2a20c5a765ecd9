//! Parquet extracts. Polars decodes them; before it does, the page headers are checked
//! against the file's own footer, because a damaged count in a header (a negative or vast
//! number of values) makes the decoder ask for more memory than exists, and that aborts the
//! process instead of panicking, so no catch can turn it into a clean error.

use polars::prelude::*;
use polars_buffer::Buffer;
use polars_parquet::parquet::compression::DecompressionContext;
use polars_parquet::parquet::page::{CompressedPage, DataPageHeader, Page};
use polars_parquet::parquet::read::{PageReader, decompress, read_metadata};
use std::io::Cursor;

/// More rows than any district extract holds (a 74,000-student district's survey file has
/// about 8 million); a footer claiming more is damaged, and decoding it would exhaust memory.
pub const MAX_ROWS: usize = 500_000_000;

/// Read a Parquet file into a frame, after [`check_counts`].
pub fn read(bytes: Vec<u8>) -> Result<DataFrame, String> {
    let buffer = Buffer::from(bytes);
    check_counts(&buffer)?;
    ParquetReader::new(Cursor::new(buffer))
        .finish()
        .map_err(|e| e.to_string())
}

/// Every count the decoder sizes an allocation by, checked for sense: row groups within
/// [`MAX_ROWS`] in all, each column chunk's values no more than that, and each page's values
/// within its chunk's, and a dictionary's entries within its bytes. A footer that cannot be read is left for
/// Polars to report in its own words.
pub fn check_counts(buffer: &Buffer<u8>) -> Result<(), String> {
    let Ok(meta) = read_metadata(&mut Cursor::new(buffer.clone())) else {
        return Ok(());
    };
    let too_many = |what: &str, n: i64| {
        format!("the footer claims {n} values in {what}, which no extract holds")
    };
    let mut rows = 0usize;
    for (g, group) in meta.row_groups.iter().enumerate() {
        rows = rows.saturating_add(group.num_rows());
        if rows > MAX_ROWS {
            return Err(format!(
                "the footer claims more than {MAX_ROWS} rows by row group {}",
                g + 1
            ));
        }
        for column in group.parquet_columns() {
            let name = &column.descriptor().path_in_schema;
            let total = column.num_values();
            if !(0..=MAX_ROWS as i64).contains(&total) {
                return Err(too_many(&format!("column `{}`", name.join(".")), total));
            }
            let range = column.byte_range();
            if range.end > buffer.len() as u64 || range.start > range.end {
                return Err(format!(
                    "column `{}` of row group {} lies past the end of the file",
                    name.join("."),
                    g + 1
                ));
            }
            let mut reader = Cursor::new(buffer.clone());
            reader.set_position(range.start);
            let pages = PageReader::new(reader, column, Vec::new(), usize::MAX);
            for page in pages {
                // A page that cannot be read is Polars' to report; only counts are judged here.
                let Ok(page) = page else { break };
                let counts: Vec<i64> = match page {
                    // A dictionary may hold entries no row uses, so it is bounded by its own
                    // bytes (every entry takes at least one), not by the column's values.
                    CompressedPage::Dict(_) => {
                        let mut context = DecompressionContext::Unset;
                        match decompress(page, &mut Vec::new(), &mut context) {
                            Ok(Page::Dict(d)) if d.num_values > d.buffer.len() => {
                                return Err(format!(
                                    "the dictionary of column `{}` in row group {} claims {} \
                                     entries in {} bytes",
                                    name.join("."),
                                    g + 1,
                                    d.num_values,
                                    d.buffer.len()
                                ));
                            }
                            _ => continue,
                        }
                    }
                    CompressedPage::Data(ref d) => match d.header() {
                        DataPageHeader::V1(h) => vec![h.num_values.into()],
                        DataPageHeader::V2(h) => {
                            vec![h.num_values.into(), h.num_nulls.into(), h.num_rows.into()]
                        }
                    },
                };
                if let Some(&bad) = counts.iter().find(|&&n| !(0..=total).contains(&n)) {
                    return Err(format!(
                        "a page of column `{}` in row group {} claims {bad} values, but the \
                         column holds {total}",
                        name.join("."),
                        g + 1
                    ));
                }
            }
        }
    }
    Ok(())
}

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

/// More rows than any row group of a real extract holds (writers cut groups at about a million
/// rows); a footer claiming more in one group is damaged, and decoding it would exhaust memory.
pub const MAX_ROWS: usize = 500_000_000;

/// More rows than a file can hold in all (a state's survey file has about 800 million; each row
/// is numbered within its file in 40 bits). Files are read a row group at a time, so only a
/// group's count sizes an allocation.
pub const MAX_FILE_ROWS: usize = (1 << 40) - 1;

/// A Parquet extract held in memory, its counts checked (see [`check_counts`]), read a slice
/// of rows at a time.
pub struct Parquet {
    buffer: Buffer<u8>,
    metadata: FileMetadataRef,
    names: Vec<String>,
}

impl Parquet {
    pub fn open(bytes: Vec<u8>) -> Result<Parquet, String> {
        let buffer = Buffer::from(bytes);
        check_counts(&buffer)?;
        let mut reader = ParquetReader::new(Cursor::new(buffer.clone()));
        let schema = reader.schema().map_err(|e| e.to_string())?;
        let metadata = reader.get_metadata().map_err(|e| e.to_string())?.clone();
        let names = schema.iter_names().map(|n| n.to_string()).collect();
        Ok(Parquet {
            buffer,
            metadata,
            names,
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    pub fn rows(&self) -> usize {
        self.metadata.num_rows
    }

    /// Row numbers at which chunks of about `target` rows end, on row-group boundaries.
    pub fn chunk_bounds(&self, target: usize) -> Vec<usize> {
        let (mut bounds, mut at, mut since) = (Vec::new(), 0, 0);
        for group in &self.metadata.row_groups {
            at += group.num_rows();
            since += group.num_rows();
            if since >= target {
                bounds.push(at);
                since = 0;
            }
        }
        bounds
    }

    /// Rows `rows` (sorted): a run of rows is read as one slice; scattered rows are taken from
    /// the chunks that hold them, one chunk at a time.
    pub fn read(&self, rows: &[usize]) -> Result<DataFrame, String> {
        let (Some(&first), Some(&last)) = (rows.first(), rows.last()) else {
            return self.slice(0, 0);
        };
        if last - first + 1 == rows.len() {
            return self.slice(first, rows.len());
        }
        let mut out: Option<DataFrame> = None;
        let mut from = 0;
        for to in self
            .chunk_bounds(super::CHUNK_ROWS)
            .into_iter()
            .chain([self.rows()])
        {
            let wanted: Vec<IdxSize> = rows
                .iter()
                .filter(|&&r| (from..to).contains(&r))
                .map(|&r| (r - from) as IdxSize)
                .collect();
            if !wanted.is_empty() {
                let part = self
                    .slice(from, to - from)?
                    .take(&IdxCa::from_vec("rows".into(), wanted))
                    .map_err(|e| e.to_string())?;
                match &mut out {
                    Some(df) => {
                        df.vstack_mut(&part).map_err(|e| e.to_string())?;
                    }
                    None => out = Some(part),
                }
            }
            from = to;
        }
        out.map_or_else(|| self.slice(0, 0), Ok)
    }

    fn slice(&self, offset: usize, len: usize) -> Result<DataFrame, String> {
        let mut reader = ParquetReader::new(Cursor::new(self.buffer.clone()));
        reader.set_metadata(self.metadata.clone());
        reader
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| e.to_string())
    }
}

/// Every count the decoder sizes an allocation by, checked for sense: each row group within
/// [`MAX_ROWS`] rows and the file within [`MAX_FILE_ROWS`], each column chunk's values no more
/// than [`MAX_ROWS`], and each page's values
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
        if group.num_rows() > MAX_ROWS {
            return Err(format!(
                "the footer claims {} rows in row group {}, which no extract holds",
                group.num_rows(),
                g + 1
            ));
        }
        rows = rows.saturating_add(group.num_rows());
        if rows > MAX_FILE_ROWS {
            return Err(format!(
                "the footer claims more than {MAX_FILE_ROWS} rows by row group {}",
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

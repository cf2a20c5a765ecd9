//! The PDF packet, typeset by Typst from `packet.typ`. The template reads the packet as JSON
//! (`/data.json`) and the charts as SVG (`/charts/<id>.svg`) from an in-memory file system, so
//! no text from the data is ever parsed as markup. Fonts are the bundled Inter faces.

use super::charts::{FONT_BOLD, FONT_ITALIC, FONT_REGULAR, FONT_SEMIBOLD};
use crate::publish::{Written, write_file};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("templates/packet.typ");

struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let fonts: Vec<Font> = [FONT_REGULAR, FONT_SEMIBOLD, FONT_BOLD, FONT_ITALIC]
            .into_iter()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        Shared {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

fn id(path: &str) -> FileId {
    RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new(path).expect("template paths are absolute and valid"),
    )
    .intern()
}

/// One document's files.
struct Packet {
    main: Source,
    files: HashMap<FileId, Bytes>,
    today: Option<Datetime>,
}

impl World for Packet {
    fn library(&self) -> &LazyHash<Library> {
        &shared().library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &shared().book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotSource)
        }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.files
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(format!("{id:?}").into()))
    }
    fn font(&self, index: usize) -> Option<Font> {
        shared().fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        self.today
    }
}

/// What the template needs to know of the text's size before it lays anything out: the
/// regular face's cap height and the advance width of every short text in the packet, in
/// em. Typst lays out each cell of a table row of `auto` height twice, once to measure the
/// row and once in it; a row whose lines the template can count is given its height (see
/// `data-table` in `packet.typ`) and laid out once. For the sample's spring packet of school
/// 101 that is 7% fewer instructions (764 M to 707 M), and the same PDF, byte for byte.
#[derive(Debug, serde::Serialize)]
pub struct Measures {
    pub cap_height: f64,
    /// The suppressed-group text, which tables set in italic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<f64>,
    /// Widths without kerning, rounded up; a text with a character the font lacks is left
    /// out, and the template then lets its row find its own height.
    pub widths: std::collections::BTreeMap<String, f64>,
    /// The width of a space, and of each word of a text whose only places to break a line are
    /// its spaces (letters, figures and `.,%+−'’`), for the template to count the lines such
    /// a text takes in a column: Typst breaks a line at the last opportunity that fits.
    pub space: f64,
    pub words: std::collections::BTreeMap<String, Vec<f64>>,
}

/// Whether a text's only line-break opportunities are its spaces.
fn breaks_at_spaces_only(text: &str) -> bool {
    text.contains(' ')
        && !text.contains("  ")
        && text.trim() == text
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || " .,%+\u{2212}'\u{2019}".contains(c))
}

/// Longer texts are sentences, never one table cell on one line.
const MEASURED_CHARS: usize = 64;

/// The measures of every string in `packet` (its JSON) up to `MEASURED_CHARS` characters.
pub fn measures(packet: &serde_json::Value, suppressed: &str) -> Measures {
    fn strings<'a>(v: &'a serde_json::Value, out: &mut std::collections::BTreeSet<&'a str>) {
        match v {
            serde_json::Value::String(s) if s.chars().count() <= MEASURED_CHARS => {
                out.insert(s);
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            serde_json::Value::Object(fields) => fields.values().for_each(|f| strings(f, out)),
            _ => {}
        }
    }
    let face = |italic: bool| {
        let font = shared()
            .fonts
            .iter()
            .find(|f| {
                let variant = f.info().variant;
                variant.weight.to_number() == 400
                    && (variant.style == typst::text::FontStyle::Italic) == italic
            })
            .expect("the bundled faces include Inter Regular and Italic")
            .clone();
        let variant = font.info().variant;
        font.instantiate(
            variant,
            typst::layout::Abs::pt(10.0),
            &typst::text::FontVariations::default(),
        )
    };
    let (regular, italic) = (face(false), face(true));
    // Each text once: a packet repeats its group names and values many times.
    let mut found = std::collections::BTreeSet::new();
    strings(packet, &mut found);
    let widths = found
        .iter()
        .filter_map(|s| Some((s.to_string(), em_width(&regular, s)?)))
        .collect();
    let words = found
        .iter()
        .filter(|s| breaks_at_spaces_only(s))
        .filter_map(|s| {
            let words = s.split(' ').map(|w| em_width(&regular, w));
            Some((s.to_string(), words.collect::<Option<Vec<f64>>>()?))
        })
        .collect();
    Measures {
        cap_height: regular.metrics().cap_height.get(),
        suppressed: em_width(&italic, suppressed),
        widths,
        space: em_width(&regular, " ").unwrap_or(f64::MAX),
        words,
    }
}

/// The sum of the characters' advances in em, rounded up to a ten-thousandth.
fn em_width(font: &typst::text::FontInstance, text: &str) -> Option<f64> {
    let width: f64 = text
        .chars()
        .map(|c| {
            let glyph = font.ttf().glyph_index(c)?;
            font.x_advance(glyph.0).map(|em| em.get())
        })
        .sum::<Option<f64>>()?;
    Some((width * 1e4).ceil() / 1e4)
}

const PAGE_NUMBERS: &str = include_str!("templates/page-numbers.typ");

/// The packet with "Page N of M" at the right of each page's footer.
///
/// In the template a footer that counts pages would need the document's layout twice: Typst
/// knows a page's number and the page count only from a finished layout. That second pass was
/// 7% of the instructions typesetting a spring packet takes (707 M to 657 M). So the
/// template's footer has only its line and text, and the numbers, set by `page-numbers.typ`
/// for the page count the layout gave, go into each footer on the baseline of its text,
/// right-aligned to the text's width. The PDF is byte for byte what the counting footer gave.
fn number_pages(doc: &PagedDocument) -> anyhow::Result<PagedDocument> {
    use typst::layout::{Abs, Frame, FrameItem, Point};
    let total = doc.pages().len();
    let world = Packet {
        main: Source::new(id("/page-numbers.typ"), PAGE_NUMBERS.to_string()),
        files: HashMap::from([(id("/pages.txt"), Bytes::new(total.to_string().into_bytes()))]),
        today: None,
    };
    let numbers: PagedDocument = typst::compile(&world).output.map_err(|errors| {
        anyhow::anyhow!("setting the page numbers failed: {}", messages(&errors))
    })?;
    anyhow::ensure!(
        numbers.pages().len() == total,
        "setting the page numbers gave {} pages for {total}",
        numbers.pages().len()
    );

    /// Every text item of a frame, with its baseline position in the frame.
    fn texts(frame: &Frame, at: Point, out: &mut Vec<(Point, FrameItem)>) {
        for (pos, item) in frame.items() {
            match item {
                FrameItem::Group(g) => texts(&g.frame, at + *pos, out),
                FrameItem::Text(_) => out.push((at + *pos, item.clone())),
                _ => {}
            }
        }
    }

    let mut pages = Vec::with_capacity(total);
    for (page, number) in doc.pages().iter().zip(numbers.pages()) {
        let mut page = page.clone();
        let mut number_texts = Vec::new();
        texts(&number.frame, Point::zero(), &mut number_texts);
        // The number's one line: its texts' positions are on its baseline.
        let number_baseline = number_texts.first().map_or(Abs::zero(), |(pos, _)| pos.y);
        // The footer is the page's last group: `finalize` in typst-layout pushes it after the
        // body, and the packet has no foreground.
        let groups = page
            .frame
            .items()
            .filter(|(_, item)| matches!(item, FrameItem::Group(_)))
            .count();
        let mut seen = 0;
        let mut placed = false;
        // `retain` is how a frame lends out its items to be changed; it keeps them all.
        page.frame.retain(|item| {
            if let FrameItem::Group(footer) = item {
                seen += 1;
                if seen == groups {
                    let mut own = Vec::new();
                    texts(&footer.frame, Point::zero(), &mut own);
                    if let Some((first, _)) = own.first() {
                        let dx = footer.frame.width() - number.frame.width();
                        // Inside the footer's artifact: before the tags that close it.
                        let trailing_tags = footer
                            .frame
                            .items()
                            .rev()
                            .take_while(|(_, i)| matches!(i, FrameItem::Tag(_)))
                            .count();
                        let layer = footer.frame.layer() - trailing_tags;
                        for (k, (pos, text)) in number_texts.iter().enumerate() {
                            let at = Point::new(dx + pos.x, first.y + pos.y - number_baseline);
                            footer.frame.insert(layer + k, at, text.clone());
                        }
                        placed = true;
                    }
                }
            }
            true
        });
        anyhow::ensure!(placed, "a page of the packet has no footer text to number");
        pages.push(page);
    }
    Ok(PagedDocument::new(
        pages.into_iter().collect(),
        typst::model::Document::info(doc).clone(),
    ))
}

/// Typst's memo cache is trimmed after this many documents.
const EVICT_EVERY: usize = 8;

/// One PDF to typeset: where it goes, what it is (for error messages), its JSON and its charts.
#[derive(Clone)]
pub struct Job {
    pub path: String,
    pub what: String,
    pub data: Vec<u8>,
    pub charts: Vec<(String, String)>,
    /// What the PDF's document id is made from (the packet's key), so it is the same for the
    /// same packet and differs between packets.
    pub ident: String,
    /// The PDF's creation date, `YYYY-MM-DD`: the packet's data-as-of date, not the clock.
    pub date: String,
}

/// Typeset every job and write it under `dir`.
///
/// One thread per core takes the next job until none is left. Typst parallelises inside a
/// document with rayon; it does so on a pool of its own with room for deep layout recursion.
/// The packets are not themselves rayon tasks: a rayon worker waiting inside Typst would pick
/// up further packets on the same stack, and a district's worth of half-typeset documents
/// would pile up in memory. Here at most one document per core is in flight.
pub fn typeset_all(dir: &Path, jobs: Vec<Job>) -> anyhow::Result<Vec<Written>> {
    let _keep = KeepFreedPages::new();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(64 << 20)
        .thread_name(|i| format!("typeset-{i}"))
        .build()?;
    let next = AtomicUsize::new(0);
    let done_count = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let written = Mutex::new(Vec::with_capacity(jobs.len()));
    let first_error = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(jobs.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else {
                        break;
                    };
                    let result = pool
                        .install(|| packet(job))
                        .and_then(|pdf| Ok(write_file(dir, &job.path, &pdf)?))
                        .map_err(|e| e.context(job.what.clone()));
                    // Typst memoizes across documents. What the template shares stays in use;
                    // what was one packet's own is dropped a few packets later, or a
                    // district's worth would grow to gigabytes.
                    if (done_count.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(EVICT_EVERY)
                    {
                        typst::comemo::evict(2);
                    }
                    match result {
                        Ok(w) => written
                            .lock()
                            .expect("no panics hold this lock")
                            .push((i, w)),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error
                                .lock()
                                .expect("no panics hold this lock")
                                .get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("no panics hold this lock") {
        return Err(e);
    }
    // In the order of the jobs, whichever thread finished first: the manifest lists the
    // same files in the same order on every run.
    let mut written = written.into_inner().expect("no panics hold this lock");
    written.sort_by_key(|(i, _)| *i);
    Ok(written.into_iter().map(|(_, w)| w).collect())
}

/// While it lives, memory the allocator frees stays with it instead of going back to the
/// kernel. Typst allocates and frees a packet's worth of layout in bursts; by default mimalloc
/// hands pages idle for a second back (`madvise`), and a later burst faults them in again,
/// zeroed. In a full render of the sample district this cut the typesetting threads' page
/// faults from 442 K to 173 K. Only the typesetting keeps its pages: the metrics stage before
/// it peaks far higher on a large district, and what it frees goes back as before. Dropped,
/// it restores the setting, and pages held meanwhile go back a second later.
pub(super) struct KeepFreedPages(std::ffi::c_long);

impl KeepFreedPages {
    /// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (version 3), which the crate's
    /// bindings do not name; -1 there means never.
    pub(super) const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

    pub(super) fn new() -> Self {
        // SAFETY: plain integers in and out; mimalloc reads this option each time it
        // considers purging, from any thread.
        let before = unsafe { libmimalloc_sys::mi_option_get(Self::PURGE_DELAY) };
        unsafe { libmimalloc_sys::mi_option_set(Self::PURGE_DELAY, -1) };
        Self(before)
    }
}

impl Drop for KeepFreedPages {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe { libmimalloc_sys::mi_option_set(Self::PURGE_DELAY, self.0) };
    }
}

/// Typeset a packet: `job.data` is its JSON, `job.charts` its SVGs by file stem.
pub fn packet(job: &Job) -> anyhow::Result<Vec<u8>> {
    typeset(job, TEMPLATE, true)
}

/// Typeset `job` with `template`; `numbered`: with page numbers set after layout.
pub(super) fn typeset(job: &Job, template: &str, numbered: bool) -> anyhow::Result<Vec<u8>> {
    let mut files = HashMap::new();
    files.insert(id("/data.json"), Bytes::new(job.data.clone()));
    for (stem, svg) in &job.charts {
        files.insert(
            id(&format!("/charts/{stem}.svg")),
            Bytes::new(svg.clone().into_bytes()),
        );
    }
    let world = Packet {
        main: Source::new(id("/packet.typ"), template.to_string()),
        files,
        today: None,
    };
    let doc: PagedDocument = typst::compile(&world).output.map_err(|errors| {
        anyhow::anyhow!("typesetting the packet failed: {}", messages(&errors))
    })?;
    let doc = if numbered { number_pages(&doc)? } else { doc };
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom(job.ident.clone()),
        timestamp: date(&job.date).map(typst_pdf::Timestamp::new_utc),
        ..Default::default()
    };
    typst_pdf::pdf(&doc, &options)
        .map_err(|errors| anyhow::anyhow!("writing the PDF failed: {}", messages(&errors)))
}

/// A `YYYY-MM-DD` date as Typst's, at midnight.
fn date(text: &str) -> Option<Datetime> {
    let mut parts = text.splitn(3, '-').map(str::parse::<u32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Datetime::from_ymd_hms(
        i32::try_from(y).ok()?,
        m.try_into().ok()?,
        d.try_into().ok()?,
        0,
        0,
        0,
    )
}

fn messages(errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .map(|e| e.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

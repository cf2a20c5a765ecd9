//! The PDF packet, typeset by Typst from `packet.typ`. The template reads the packet as JSON
//! (`/data.json`) and the charts as SVG (`/charts/<id>.svg`) from an in-memory file system, so
//! no text from the data is ever parsed as markup. Fonts are the bundled Inter faces.

use super::charts::{FONT_BOLD, FONT_ITALIC, FONT_REGULAR, FONT_SEMIBOLD};
use std::collections::HashMap;
use std::sync::OnceLock;
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

/// Typeset a packet: `data` is its JSON, `charts` its SVGs by file stem.
pub fn packet(data: Vec<u8>, charts: &[(String, String)]) -> anyhow::Result<Vec<u8>> {
    let mut files = HashMap::new();
    files.insert(id("/data.json"), Bytes::new(data));
    for (stem, svg) in charts {
        files.insert(
            id(&format!("/charts/{stem}.svg")),
            Bytes::new(svg.clone().into_bytes()),
        );
    }
    let world = Packet {
        main: Source::new(id("/packet.typ"), TEMPLATE.to_string()),
        files,
        today: None,
    };
    let doc: PagedDocument = typst::compile(&world).output.map_err(|errors| {
        anyhow::anyhow!("typesetting the packet failed: {}", messages(&errors))
    })?;
    let options = typst_pdf::PdfOptions::default();
    let pdf = typst_pdf::pdf(&doc, &options)
        .map_err(|errors| anyhow::anyhow!("writing the PDF failed: {}", messages(&errors)));
    // Typst memoizes across compilations; each packet has its own data, so entries older than
    // a few packets are of no further use and would otherwise grow to gigabytes over a district.
    typst::comemo::evict(4);
    pdf
}

fn messages(errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .map(|e| e.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

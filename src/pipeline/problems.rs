//! Problems in a pipeline definition, collected all at once. Each problem names its key path
//! (`inputs.students.columns`), the line and column in the file, and where it helps a
//! "did you mean" hint. `parse_spec` turns TOML text into a `Spec`, reporting every unknown key
//! and mistyped value rather than stopping at the first.

use super::spec::Spec;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted key path; empty for the file as a whole.
    pub key: String,
    /// 1-based line and column of the key, when it exists in the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in one pipeline file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Problems {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "pipeline definition `{}` has {} problem{}:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  --> {}", self.file.display())?;
            if let Some((line, col)) = p.position {
                write!(f, ":{line}:{col}")?;
            }
            if p.key.is_empty() {
                write!(f, "\n      {}", p.message)?;
            } else {
                write!(f, "\n      `{}`: {}", p.key, p.message)?;
            }
            if let Some(hint) = &p.hint {
                write!(f, "\n      hint: {hint}")?;
            }
        }
        Ok(())
    }
}

/// Collects problems while a spec is parsed and resolved, locating keys in the source text.
pub struct Collector<'a> {
    locator: Locator<'a>,
    problems: Vec<Problem>,
}

impl<'a> Collector<'a> {
    pub fn new(text: &'a str) -> Self {
        Collector {
            locator: Locator::new(text),
            problems: Vec::new(),
        }
    }

    /// Record a problem at `key` (a dotted path, with `[i]` for array elements).
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.push_hint(key, message, None::<String>);
    }

    pub fn push_hint(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        hint: Option<impl Into<String>>,
    ) {
        let key = key.into();
        let position = self.locator.find(&key);
        let problem = Problem {
            key,
            position,
            message: message.into(),
            hint: hint.map(Into::into),
        };
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// Record an unknown name with a "did you mean" hint drawn from `known`.
    pub fn unknown(&mut self, key: impl Into<String>, what: &str, name: &str, known: &[&str]) {
        let hint = did_you_mean(name, known)
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                (!known.is_empty() && known.len() <= 12).then(|| {
                    format!(
                        "expected one of {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            });
        self.push_hint(key, format!("unknown {what} `{name}`"), hint);
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn finish(mut self, file: &Path) -> Result<(), Problems> {
        if self.problems.is_empty() {
            return Ok(());
        }
        // File order reads best: problems with a position first, by position.
        self.problems
            .sort_by_key(|p| p.position.unwrap_or((usize::MAX, usize::MAX)));
        Err(Problems {
            file: file.to_path_buf(),
            problems: self.problems,
        })
    }
}

/// The closest name within a small edit distance, if any.
pub fn did_you_mean<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Parse TOML text into a `Spec`, reporting every unknown key and wrongly typed value.
///
/// serde stops at the first error, so each error's key is removed from the document and the
/// document deserialized again until it succeeds or an error repeats. The TOML syntax itself
/// must be valid for any of this to happen: a syntax error is reported alone.
pub fn parse_spec(text: &str, collector: &mut Collector<'_>) -> Option<Spec> {
    let mut value: toml::Table = match text.parse() {
        Ok(v) => v,
        Err(e) => {
            let e: toml::de::Error = e;
            let position = e.span().map(|s| collector.locator.line_col(s.start));
            collector.problems.push(Problem {
                key: String::new(),
                position,
                message: format!("not valid TOML: {}", e.message().trim_end()),
                hint: None,
            });
            return None;
        }
    };
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..100 {
        let de = toml::Value::Table(value.clone());
        let err = match serde_path_to_error::deserialize::<_, Spec>(de) {
            // Unknown and mistyped keys were recorded and removed; resolving what remains
            // reports the rest of the file's problems in the same go.
            Ok(spec) => return Some(spec),
            Err(err) => err,
        };
        let path = path_string(err.path());
        let message = err.inner().message().trim_end().to_string();
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            let key = join(&path, field);
            let known: Vec<&str> = expected_names(&message);
            collector.unknown(&key, "key", field, &known);
            if !remove(&mut value, &key) {
                return None;
            }
            removed.push(key);
        } else if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            let key = join(&path, field);
            // A required key we removed ourselves was already reported as mistyped.
            if !removed.contains(&key) {
                collector.push(&key, "required key is missing");
            }
            return None;
        } else {
            collector.push(&path, tidy_type_message(&message));
            if path.is_empty() || !remove(&mut value, &path) {
                return None;
            }
            removed.push(path);
        }
    }
    None
}

/// The key path of `field` in the struct at `path`. serde_path_to_error already ends the path
/// with an unknown field's name, but not with a missing one's.
fn join(path: &str, field: &str) -> String {
    if path.is_empty() || path == "?" {
        field.to_string()
    } else if path == field || path.ends_with(&format!(".{field}")) {
        path.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

/// The names after "expected one of" in a serde unknown-field message.
fn expected_names(message: &str) -> Vec<&str> {
    let Some((_, rest)) = message.split_once("expected ") else {
        return Vec::new();
    };
    rest.split('`').skip(1).step_by(2).collect()
}

fn tidy_type_message(message: &str) -> String {
    // serde says "invalid type: string \"x\", expected u32"; users think in TOML words.
    message
        .replace("expected u32", "expected a whole number")
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("a sequence", "an array")
        .replace("expected struct ", "expected a table ")
        .replace(
            "data did not match any variant of untagged enum Paths",
            "expected a path or an array of paths",
        )
}

/// Remove the value at a dotted path with `[i]` indexes; returns whether anything was removed.
fn remove(table: &mut toml::Table, path: &str) -> bool {
    let segs = segments(path);
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur: &mut toml::Value = match parents.first() {
        None => return matches!(last, Seg::Key(k) if table.remove(*k).is_some()),
        Some(Seg::Key(k)) => match table.get_mut(*k) {
            Some(v) => v,
            None => return false,
        },
        Some(Seg::Index(_)) => return false,
    };
    for seg in &parents[1..] {
        cur = match (seg, cur) {
            (Seg::Key(k), toml::Value::Table(t)) => match t.get_mut(*k) {
                Some(v) => v,
                None => return false,
            },
            (Seg::Index(i), toml::Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (Seg::Key(k), toml::Value::Table(t)) => t.remove(*k).is_some(),
        (Seg::Index(i), toml::Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy)]
enum Seg<'p> {
    Key(&'p str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(i) = rest[1..end].parse() {
                out.push(Seg::Index(i));
            }
            rest = &rest[end + 1..];
        }
    }
    out
}

/// Finds keys in the source text, for line and column numbers.
struct Locator<'a> {
    text: &'a str,
    doc: Option<toml_edit::Document<&'a str>>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: toml_edit::Document::parse(text).ok(),
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// The position of the deepest part of `path` that exists in the file.
    fn find(&self, path: &str) -> Option<(usize, usize)> {
        use toml_edit::{Item, TableLike, Value};
        enum Cur<'d> {
            Item(&'d Item),
            Table(&'d dyn TableLike),
            Value(&'d Value),
        }
        let doc = self.doc.as_ref()?;
        let mut span = None;
        let mut cur = Cur::Item(doc.as_item());
        for seg in segments(path) {
            let next = match (seg, cur) {
                (Seg::Key(k), cur) => {
                    let table: Option<&dyn TableLike> = match cur {
                        Cur::Item(i) => i.as_table_like(),
                        Cur::Table(t) => Some(t),
                        Cur::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
                    };
                    table.and_then(|t| t.get_key_value(k)).map(|(key, value)| {
                        if let Some(s) = key.span() {
                            span = Some(s);
                        }
                        Cur::Item(value)
                    })
                }
                (Seg::Index(i), Cur::Item(Item::ArrayOfTables(a))) => a.get(i).map(|t| {
                    if let Some(s) = t.span() {
                        span = Some(s);
                    }
                    Cur::Table(t as &dyn TableLike)
                }),
                (Seg::Index(i), Cur::Item(Item::Value(Value::Array(a))))
                | (Seg::Index(i), Cur::Value(Value::Array(a))) => a.get(i).map(|v| {
                    if let Some(s) = v.span() {
                        span = Some(s);
                    }
                    Cur::Value(v)
                }),
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => break,
            }
        }
        span.map(|s| self.line_col(s.start))
    }
}

//! Where things are in a config file: byte spans by key path, from the TOML parser.
//!
//! Errors found after the file was read (an unknown flow, a misspelt module, a missing
//! environment variable, a mapping expression that does not compile) must point at the
//! line and column of the setting at fault. [`Spans`] parses the document once with the
//! TOML parser, which keeps the span of every key and value, and answers "where is
//! `routes[0].flows[1]`?" and "which setting is at this byte?" from that tree; no text
//! search. [`line_column`] turns a byte offset into the 1-based line and column printed
//! in `file:line:column:` messages, for these spans and for offsets other parts (the flow
//! mapper) report.
//!
//! What a span covers, as the parser gives it: a value's span is the value itself
//! (`"Deals"` with its quotes, `[1, 2]`, `{ a = 1 }`); a table opened by a header has
//! the header's span (`[zoho]`); each `[[routes]]` entry has its own header's span; a
//! table only implied by a dotted header (`poller` in `[[poller.streams]]`) has the span
//! of that key in the header.

use std::{fmt, ops::Range};

use serde::Deserialize;
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

/// One step of a key path: a table key or an array index. `Key::from("routes")`,
/// `Key::from(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key<'k> {
    /// A key of a table (`routes`, `flows`).
    Name(&'k str),
    /// An index into an array, 0-based (`[[routes]]` entries count as an array).
    Index(usize),
}

impl<'k> From<&'k str> for Key<'k> {
    fn from(name: &'k str) -> Self {
        Key::Name(name)
    }
}

impl From<usize> for Key<'_> {
    fn from(index: usize) -> Self {
        Key::Index(index)
    }
}

/// A key path written the way messages show it: `routes[0].flows[1]`,
/// `poller.streams[0].module`, `flows."my flow"` (a key that is not bare is quoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dotted<'p, 'k>(pub &'p [Key<'k>]);

impl fmt::Display for Dotted<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            match key {
                Key::Index(n) => write!(f, "[{n}]")?,
                Key::Name(name) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare { f.write_str(name)? } else { write!(f, "{name:?}")? }
                }
            }
        }
        Ok(())
    }
}

/// A parsed config file that knows where each of its keys and values is.
#[derive(Debug, Clone)]
pub struct Spans<'t> {
    text: &'t str,
    /// The document as a table value, spanning the file start (the parser's root span).
    root: Spanned<DeValue<'t>>,
}

impl<'t> Spans<'t> {
    /// Parses `text` as a TOML document; a syntax error comes back as the parser's, with
    /// its span.
    pub fn parse(text: &'t str) -> Result<Spans<'t>, toml::de::Error> {
        DeTable::parse(text).map(|root| Spans::from_table(text, root))
    }

    /// Parses `text` as far as it can: what a syntax error leaves readable, for locating
    /// that error's key.
    pub(crate) fn parse_partial(text: &'t str) -> Spans<'t> {
        Spans::from_table(text, DeTable::parse_recoverable(text).0)
    }

    fn from_table(text: &'t str, root: Spanned<DeTable<'t>>) -> Spans<'t> {
        let span = root.span();
        Spans { text, root: Spanned::new(span, DeValue::Table(root.into_inner())) }
    }

    /// The text parsed.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// Whether the document sets nothing (empty, or only comments and blank lines).
    pub fn is_empty(&self) -> bool {
        matches!(self.root.get_ref(), DeValue::Table(t) if t.is_empty())
    }

    /// Deserialises the parsed document into `T` (no second parse). Errors carry the
    /// span of the value, key or table at fault; [`Spans::field_at`] names it.
    pub fn deserialize<T: Deserialize<'t>>(&self) -> Result<T, toml::de::Error> {
        let table = match self.root.get_ref() {
            DeValue::Table(t) => t.clone(),
            _ => unreachable!("the root of a document is a table"),
        };
        T::deserialize(toml::de::Deserializer::from(Spanned::new(self.root.span(), table)))
    }

    /// The span of the value at `path`: the value itself, or the header of a table
    /// (see the module doc). `None` when the file does not set it.
    pub fn value(&self, path: &[Key]) -> Option<Range<usize>> {
        self.node(path).map(Spanned::span)
    }

    /// The span of the table at `path` (its header, or its `{ … }`), `None` when there is
    /// no table there. The root is the table at `&[]`, spanning the file start.
    pub fn table(&self, path: &[Key]) -> Option<Range<usize>> {
        self.node(path).filter(|v| v.get_ref().is_table()).map(Spanned::span)
    }

    /// Where to point for `path`: its value when set, else the nearest enclosing setting
    /// the file has (the header of the table a missing key belongs in), else the file
    /// start (`0..0`).
    pub fn locate(&self, path: &[Key]) -> Range<usize> {
        (0..=path.len()).rev().find_map(|n| self.value(&path[..n])).unwrap_or(0..0)
    }

    /// 1-based line and column of [`Spans::locate`]`(path)`.
    pub fn line_column_of(&self, path: &[Key]) -> (usize, usize) {
        line_column(self.text, self.locate(path).start)
    }

    /// The dotted path (`routes[0].flows[1]`) of the deepest key or value whose span holds
    /// byte `offset`, `None` when it falls outside every one (blank space, comments).
    pub fn field_at(&self, offset: usize) -> Option<String> {
        let mut path = Vec::new();
        search(self.root.get_ref(), offset, &mut path).then(|| Dotted(&path.iter().map(Owned::key).collect::<Vec<_>>()).to_string())
    }

    /// The setting a TOML syntax error at `span` is about, as a dotted path: the key or
    /// value there ([`Spans::field_at`]), else the key written there (a duplicate key)
    /// under the last table header before it, else that table; `None` before any header
    /// or setting. For a tree from [`Spans::parse_partial`].
    pub(crate) fn syntax_field(&self, span: Range<usize>) -> Option<String> {
        if let Some(field) = self.field_at(span.start) {
            return Some(field);
        }
        let mut headers = vec![(0, Vec::new())];
        collect_headers(self.text, self.root.get_ref(), &mut Vec::new(), &mut headers);
        let (_, mut path) = headers.into_iter().filter(|(start, _)| *start <= span.start).max_by_key(|(start, _)| *start)?;
        let written = self.text.get(span).unwrap_or_default().trim();
        if !written.is_empty() && written.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            path.push(Owned::Name(written.to_string()));
        }
        (!path.is_empty()).then(|| Dotted(&path.iter().map(Owned::key).collect::<Vec<_>>()).to_string())
    }

    fn node(&self, path: &[Key]) -> Option<&Spanned<DeValue<'t>>> {
        path.iter().try_fold(&self.root, |node, key| match (node.get_ref(), key) {
            (DeValue::Table(t), Key::Name(name)) => t.iter().find(|(k, _)| k.get_ref() == name).map(|(_, v)| v),
            (DeValue::Array(a), Key::Index(i)) => a.get(*i),
            _ => None,
        })
    }
}

/// An owned [`Key`], for paths built while searching.
#[derive(Clone)]
enum Owned {
    Name(String),
    Index(usize),
}

impl Owned {
    fn key(&self) -> Key<'_> {
        match self {
            Owned::Name(n) => Key::Name(n),
            Owned::Index(i) => Key::Index(*i),
        }
    }
}

/// Whether `span` holds `offset` (an empty span holds its own start: errors at the end
/// of a line have one).
fn holds(span: Range<usize>, offset: usize) -> bool {
    span.start <= offset && (offset < span.end || span.start == span.end && offset == span.start)
}

/// Depth first: children before their parent's own span, so the deepest match wins.
fn search(value: &DeValue, offset: usize, path: &mut Vec<Owned>) -> bool {
    match value {
        DeValue::Table(t) => {
            for (k, v) in t.iter() {
                path.push(Owned::Name(k.get_ref().to_string()));
                if holds(k.span(), offset) || search(v.get_ref(), offset, path) || holds(v.span(), offset) {
                    return true;
                }
                path.pop();
            }
        }
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Owned::Index(i));
                if search(v.get_ref(), offset, path) || holds(v.span(), offset) {
                    return true;
                }
                path.pop();
            }
        }
        _ => {}
    }
    false
}

/// Every table opened by a header (`[a.b]`, `[[c]]`) under `value`: where its header
/// starts, and its path.
fn collect_headers(text: &str, value: &DeValue, path: &mut Vec<Owned>, out: &mut Vec<(usize, Vec<Owned>)>) {
    let visit = |step: Owned, v: &Spanned<DeValue>, path: &mut Vec<Owned>, out: &mut Vec<(usize, Vec<Owned>)>| {
        // A tree recovered from a syntax error can have made-up tables: a header's text
        // names its table.
        path.push(step);
        let names_it = |header: &str| {
            let last = path.iter().rev().find_map(|k| if let Owned::Name(n) = k { Some(n.as_str()) } else { None });
            header.starts_with('[') && last.is_none_or(|n| header.contains(n))
        };
        if v.get_ref().is_table() && text.get(v.span()).is_some_and(names_it) {
            out.push((v.span().start, path.iter().map(Owned::clone).collect()));
        }
        collect_headers(text, v.get_ref(), path, out);
        path.pop();
    };
    match value {
        DeValue::Table(t) => t.iter().for_each(|(k, v)| visit(Owned::Name(k.get_ref().to_string()), v, path, out)),
        DeValue::Array(a) => a.iter().enumerate().for_each(|(i, v)| visit(Owned::Index(i), v, path, out)),
        _ => {}
    }
}

/// 1-based line and column (in characters) of byte `byte_offset` of `text`. An offset
/// past the end is the end; one inside a character is that character.
pub fn line_column(text: &str, byte_offset: usize) -> (usize, usize) {
    let mut offset = byte_offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "store = \"x.db\"\n\n[zoho]\nemulator = \"http://e\"\n\n[[poller.streams]]\nsystem = \"crm\"\nmodule = \"Deals\"\n\n[[routes]]\nsystem = \"crm\"\nmodule = \"Deals\"\nflows = [\"a\", \"b\"]\ninline = { \"my key\" = 1 }\n";

    fn at(spans: &Spans, path: &[Key]) -> Option<(usize, usize)> {
        spans.value(path).map(|s| line_column(spans.text(), s.start))
    }

    #[test]
    fn values_and_tables_are_found_by_key_path() {
        let s = Spans::parse(TEXT).unwrap();
        assert_eq!(at(&s, &["store".into()]), Some((1, 9)));
        assert_eq!(at(&s, &["zoho".into(), "emulator".into()]), Some((4, 12)));
        assert_eq!(at(&s, &["routes".into(), 0.into(), "flows".into(), 1.into()]), Some((13, 15)));
        assert_eq!(at(&s, &["poller".into(), "streams".into(), 0.into(), "module".into()]), Some((8, 10)));
        assert_eq!(s.table(&["zoho".into()]).map(|r| &TEXT[r]), Some("[zoho]"));
        assert_eq!(s.table(&["routes".into(), 0.into()]).map(|r| &TEXT[r]), Some("[[routes]]"));
        assert_eq!(s.table(&["store".into()]), None, "a string is not a table");
        assert_eq!(s.value(&["routes".into(), 1.into()]), None);
        assert_eq!(s.value(&["zoho".into(), 0.into()]), None, "a table has no index");
        // A missing key points at its table's header; a missing table at the file start.
        assert_eq!(s.line_column_of(&["zoho".into(), "dc".into()]), (3, 1));
        assert_eq!(s.line_column_of(&["worker".into(), "poll_ms".into()]), (1, 1));
        assert!(!s.is_empty());
        assert!(Spans::parse("# only a comment\n\n").unwrap().is_empty());
    }

    #[test]
    fn the_setting_at_an_offset_is_named_by_its_path() {
        let s = Spans::parse(TEXT).unwrap();
        let field = |needle: &str| s.field_at(TEXT.find(needle).unwrap());
        assert_eq!(field("\"b\"").as_deref(), Some("routes[0].flows[1]"));
        assert_eq!(field("flows").as_deref(), Some("routes[0].flows"));
        assert_eq!(field("[[routes]]").as_deref(), Some("routes[0]"));
        assert_eq!(field("emulator").as_deref(), Some("zoho.emulator"));
        assert_eq!(field("\"my key\"").as_deref(), Some("routes[0].inline.\"my key\""));
        assert_eq!(field("system = \"crm\"\nmodule = \"Deals\"\n\n[[routes]]").as_deref(), Some("poller.streams[0].system"));
        assert_eq!(s.field_at(TEXT.find("\n\n[zoho]").unwrap()), None, "a line end is no setting");
    }

    #[test]
    fn a_syntax_error_is_put_under_the_table_it_is_in() {
        let field = |text: &'static str, at: &str| {
            let start = text.rfind(at).unwrap();
            Spans::parse_partial(text).syntax_field(start..start + at.len())
        };
        assert_eq!(field("[zoho]\nemulator = \"a\"\nemulator = \"b\"\n", "emulator").as_deref(), Some("zoho.emulator"));
        assert_eq!(field("[zoho]\na = { b = 1 }\n[[routes]]\nx = 1\n!!\n", "!!").as_deref(), Some("routes[0]"));
        assert_eq!(field("[zoho\n", "").as_deref(), None);
        assert_eq!(field("[zoho\nemulator = \"http://e\"\n", "").as_deref(), None);
    }

    #[test]
    fn line_and_column_count_characters_from_one() {
        assert_eq!(line_column("", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab\ncd", 99), (2, 3));
        // "é" is two bytes: the column counts it once; an offset inside it is it.
        assert_eq!(line_column("é = 1", 3), (1, 3));
        assert_eq!(line_column("é = 1", 1), (1, 1));
        assert_eq!(line_column("a\r\nb", 3), (2, 1));
    }

    #[test]
    fn paths_print_dotted() {
        assert_eq!(Dotted(&["routes".into(), 0.into(), "flows".into(), 1.into()]).to_string(), "routes[0].flows[1]");
        assert_eq!(Dotted(&["flows".into(), "my flow".into()]).to_string(), "flows.\"my flow\"");
        assert_eq!(Dotted(&[]).to_string(), "");
    }
}

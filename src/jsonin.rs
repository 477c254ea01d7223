//! Reading redkit's own JSON Lines output (`redkit json`, schema in docs/json.md) back into
//! records, so a dump can be turned into an RDB or AOF again.
//!
//! Input: one JSON object per line (`\n`, optionally `\r\n`; blank lines are skipped). A line
//! with a `key` is a key record; a line without one is a `--meta` record (`aux`, `function`,
//! `module_aux`). A key's value is fed into a [`ValueBuf`] through the reader's `Sink` calls.
//!
//! Each line is parsed by the small JSON parser below rather than by serde_json: numbers are kept
//! as their text, so a score goes through `str::parse::<f64>` (correctly rounded, hence exactly
//! the double the writer printed in shortest round-trip form), and strings without escapes are
//! borrowed from the input. Work and memory are bounded by the line; nesting is capped.
//!
//! What comes back: byte strings exactly (JSON strings and `{"base64":...}`); integers the file
//! stored in binary come back as the bytes of their decimal text; scores exactly (`"inf"`,
//! `"-inf"`, `"nan"` included); stream metadata, groups and PELs as the reader produced them; a
//! module value's id is decoded from the front of its `raw` bytes. The `encoding` field is
//! ignored (it describes the source file, not the value).

use std::borrow::Cow;
use std::collections::HashMap;

use redkit_formats::length::{self, Len};
use redkit_formats::rdb::consts::Kind;
use redkit_formats::rdb::read::{Consumer, Group, PendingEntry, Sink, StreamId, StreamMeta};
use redkit_formats::value::ValueBuf;
use redkit_formats::{Elem, Error as FormatError};

use crate::error::{Error, Result};

/// One record of the input. For [`JsonItem::Key`] the value is in the `ValueBuf` passed to
/// [`JsonReader::next`] (its `kind()` is the key's type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonItem {
    Key {
        db: u64,
        key: Vec<u8>,
        /// Absolute expiry in unix ms.
        expire_ms: Option<i64>,
        /// `lru_idle_s` / `lfu_freq`, when the source file stored them.
        lru_idle_s: Option<u64>,
        lfu_freq: Option<u8>,
    },
    /// An RDB aux field (`--meta`).
    Aux { name: Vec<u8>, value: Vec<u8> },
    /// A function library's source (opcode 245).
    Function { code: Vec<u8> },
    /// A function in the Redis 7.0 release-candidate format (opcode 246).
    FunctionPreGa {
        name: Vec<u8>,
        engine: Vec<u8>,
        description: Option<Vec<u8>>,
        code: Vec<u8>,
    },
    /// Module aux data: the module's 64-bit type id and the bytes after the id.
    ModuleAux { module_id: u64, raw: Vec<u8> },
}

/// Reads records from JSON Lines held in memory (typically a mapped file).
pub struct JsonReader<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
    /// Where the last record returned (or failed) starts.
    last_offset: u64,
}

impl<'a> JsonReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        JsonReader {
            data,
            pos: 0,
            line: 0,
            last_offset: 0,
        }
    }

    /// Line number (1-based) of the last record returned.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Byte offset of the start of the last record returned.
    pub fn offset(&self) -> u64 {
        self.last_offset
    }

    /// The next record, or `None` at the end of the input. For a key, `v` is cleared with the
    /// key's type and receives its value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self, v: &mut ValueBuf) -> Result<Option<JsonItem>> {
        loop {
            if self.pos >= self.data.len() {
                return Ok(None);
            }
            let start = self.pos;
            let rest = &self.data[start..];
            let (mut line, next) = match rest.iter().position(|&c| c == b'\n') {
                Some(i) => (&rest[..i], start + i + 1),
                None => (rest, self.data.len()),
            };
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            self.pos = next;
            self.line += 1;
            self.last_offset = start as u64;
            if line.iter().all(|c| is_ws(*c)) {
                continue;
            }
            let at = start as u64;
            let lno = self.line;
            if let Err(e) = std::str::from_utf8(line) {
                return Err(fail(
                    at + e.valid_up_to() as u64,
                    lno,
                    None,
                    "bad JSON: not valid UTF-8",
                ));
            }
            let mut p = Parser {
                s: line,
                i: 0,
                depth: 0,
            };
            let doc = p
                .document()
                .map_err(|(i, m)| fail(at + i as u64, lno, None, format!("bad JSON: {m}")))?;
            return record(&doc, v).map(Some).map_err(|(key, m)| {
                let hint = if line.first() == Some(&b'[') {
                    " (the --format rdbtools array cannot be read back; use JSON Lines)"
                } else {
                    ""
                };
                fail(at, lno, key.as_deref(), format!("{m}{hint}"))
            });
        }
    }
}

fn fail(offset: u64, line: u64, key: Option<&[u8]>, msg: impl std::fmt::Display) -> Error {
    let e = FormatError::corrupt(format!("(line {line}) {msg}"), offset, "JSON line");
    Error::Format(e.with_key_opt(key))
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

// ------------------------------------------------------------------------------------------
// A minimal JSON parser (RFC 8259) over one line.
// ------------------------------------------------------------------------------------------

/// A parsed JSON value. Numbers stay text; strings are bytes (valid UTF-8: the line was).
#[derive(Debug)]
enum J<'a> {
    Null,
    Bool,
    Num(&'a str),
    Str(Cow<'a, [u8]>),
    Arr(Vec<J<'a>>),
    Obj(Vec<(Cow<'a, [u8]>, J<'a>)>),
}

/// Nesting deeper than this is refused (the schema needs about 7 levels); keeps the
/// recursion bounded whatever the input.
const MAX_DEPTH: u32 = 64;

type PResult<T> = std::result::Result<T, (usize, String)>;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn document(&mut self) -> PResult<J<'a>> {
        let v = self.value()?;
        self.ws();
        if self.i < self.s.len() {
            return Err((self.i, "unexpected text after the JSON value".into()));
        }
        Ok(v)
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && is_ws(self.s[self.i]) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> PResult<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", c as char)))
        }
    }

    fn unexpected(&self, wanted: &str) -> (usize, String) {
        match self.peek() {
            None => (
                self.i,
                format!("line ends where {wanted} was expected (truncated?)"),
            ),
            Some(c) if c.is_ascii_graphic() => {
                (self.i, format!("expected {wanted}, found '{}'", c as char))
            }
            Some(c) => (self.i, format!("expected {wanted}, found byte 0x{c:02x}")),
        }
    }

    fn value(&mut self) -> PResult<J<'a>> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.nested(|p| p.object()),
            Some(b'[') => self.nested(|p| p.array()),
            Some(b'"') => Ok(J::Str(self.string()?)),
            Some(b't') => self.word(b"true", J::Bool),
            Some(b'f') => self.word(b"false", J::Bool),
            Some(b'n') => self.word(b"null", J::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> PResult<J<'a>>) -> PResult<J<'a>> {
        if self.depth >= MAX_DEPTH {
            return Err((self.i, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn word(&mut self, w: &[u8], v: J<'a>) -> PResult<J<'a>> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn object(&mut self) -> PResult<J<'a>> {
        self.i += 1; // '{'
        let mut fields = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(J::Obj(fields));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("an object key (a string)"));
            }
            let k = self.string()?;
            self.expect(b':')?;
            let v = self.value()?;
            fields.push((k, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(J::Obj(fields));
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> PResult<J<'a>> {
        self.i += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(J::Arr(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(J::Arr(items));
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// A number, checked against the JSON grammar and returned as its text.
    fn number(&mut self) -> PResult<J<'a>> {
        let start = self.i;
        let digits = |p: &mut Self| -> usize {
            let from = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i - from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.unexpected("a digit"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.unexpected("a digit"));
            }
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        Ok(J::Num(text))
    }

    /// A string starting at the opening quote; borrowed when it holds no escape.
    fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        self.i += 1; // '"'
        let start = self.i;
        let mut owned: Option<Vec<u8>> = None;
        let mut run = start;
        loop {
            let Some(c) = self.peek() else {
                return Err((start - 1, "unterminated string (truncated?)".into()));
            };
            match c {
                b'"' => {
                    let end = self.i;
                    self.i += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(&self.s[start..end]),
                        Some(mut o) => {
                            o.extend_from_slice(&self.s[run..end]);
                            Cow::Owned(o)
                        }
                    });
                }
                b'\\' => {
                    let o = owned.get_or_insert_with(Vec::new);
                    o.extend_from_slice(&self.s[run..self.i]);
                    let esc_at = self.i;
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err((esc_at, "unterminated escape (truncated?)".into()));
                    };
                    self.i += 1;
                    match e {
                        b'"' => o.push(b'"'),
                        b'\\' => o.push(b'\\'),
                        b'/' => o.push(b'/'),
                        b'b' => o.push(8),
                        b'f' => o.push(12),
                        b'n' => o.push(b'\n'),
                        b'r' => o.push(b'\r'),
                        b't' => o.push(b'\t'),
                        b'u' => {
                            let hi = hex4(self.s, self.i).ok_or((esc_at, bad_u()))?;
                            self.i += 4;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                // A high surrogate must be followed by an escaped low one.
                                let lo = if self.s[self.i..].starts_with(b"\\u") {
                                    hex4(self.s, self.i + 2)
                                } else {
                                    None
                                };
                                match lo {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        self.i += 6;
                                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                    }
                                    _ => return Err((esc_at, "unpaired UTF-16 surrogate".into())),
                                }
                            } else {
                                hi
                            };
                            let ch = char::from_u32(cp)
                                .ok_or((esc_at, "unpaired UTF-16 surrogate".to_string()))?;
                            let mut buf = [0u8; 4];
                            o.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err((esc_at, "unknown escape in string".into())),
                    }
                    run = self.i;
                }
                0..=0x1f => {
                    return Err((self.i, "control character inside a string".into()));
                }
                _ => self.i += 1,
            }
        }
    }
}

fn bad_u() -> String {
    "\\u must be followed by four hex digits".into()
}

fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let h = s.get(at..at.checked_add(4)?)?;
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

// ------------------------------------------------------------------------------------------
// The schema
// ------------------------------------------------------------------------------------------

/// A schema error: the key it concerns (when known) and the message.
type SErr = (Option<Vec<u8>>, String);
type SResult<T> = std::result::Result<T, String>;
/// An object's members in source order.
type Members<'a> = [(Cow<'a, [u8]>, J<'a>)];
/// A field and its value, each borrowed or decoded.
type BytesPair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

fn desc(j: &J<'_>) -> &'static str {
    match j {
        J::Null => "null",
        J::Bool => "a boolean",
        J::Num(_) => "a number",
        J::Str(_) => "a string",
        J::Arr(_) => "an array",
        J::Obj(_) => "an object",
    }
}

/// The last value of field `name` (later duplicates win, as with serde_json).
fn get<'j, 'a>(obj: &'j Members<'a>, name: &str) -> Option<&'j J<'a>> {
    obj.iter()
        .rev()
        .find(|(k, _)| k.as_ref() == name.as_bytes())
        .map(|(_, v)| v)
}

fn need<'j, 'a>(obj: &'j Members<'a>, name: &str) -> SResult<&'j J<'a>> {
    get(obj, name).ok_or_else(|| format!("missing \"{name}\""))
}

fn as_obj<'j, 'a>(j: &'j J<'a>, what: &str) -> SResult<&'j Members<'a>> {
    match j {
        J::Obj(o) => Ok(o),
        other => Err(format!("{what}: expected an object, found {}", desc(other))),
    }
}

fn as_arr<'j, 'a>(j: &'j J<'a>, what: &str) -> SResult<&'j [J<'a>]> {
    match j {
        J::Arr(a) => Ok(a),
        other => Err(format!("{what}: expected an array, found {}", desc(other))),
    }
}

fn as_text<'j>(j: &'j J<'_>, what: &str) -> SResult<&'j [u8]> {
    match j {
        J::Str(s) => Ok(s),
        other => Err(format!("{what}: expected a string, found {}", desc(other))),
    }
}

fn as_u64(j: &J<'_>, what: &str) -> SResult<u64> {
    match j {
        J::Num(t) => t
            .parse()
            .map_err(|_| format!("{what}: {t} is not an unsigned 64-bit integer")),
        other => Err(format!(
            "{what}: expected an integer, found {}",
            desc(other)
        )),
    }
}

fn as_i64(j: &J<'_>, what: &str) -> SResult<i64> {
    match j {
        J::Num(t) => t
            .parse()
            .map_err(|_| format!("{what}: {t} is not a 64-bit integer")),
        other => Err(format!(
            "{what}: expected an integer, found {}",
            desc(other)
        )),
    }
}

/// `null` (or a missing field) is `None`.
fn opt<T>(
    j: Option<&J<'_>>,
    what: &str,
    f: impl Fn(&J<'_>, &str) -> SResult<T>,
) -> SResult<Option<T>> {
    match j {
        None | Some(J::Null) => Ok(None),
        Some(v) => f(v, what).map(Some),
    }
}

/// A byte string: a JSON string, or `{"base64":"..."}`.
fn bytes<'j, 'a>(j: &'j J<'a>, what: &str) -> SResult<Cow<'j, [u8]>> {
    match j {
        J::Str(s) => Ok(Cow::Borrowed(s.as_ref())),
        J::Obj(o) if o.len() == 1 && o[0].0.as_ref() == b"base64" => match &o[0].1 {
            J::Str(b) => base64_decode(b)
                .map(Cow::Owned)
                .ok_or_else(|| format!("{what}: bad base64")),
            other => Err(format!(
                "{what}: base64 must be a string, found {}",
                desc(other)
            )),
        },
        other => Err(format!(
            "{what}: expected a byte string (a string or {{\"base64\":...}}), found {}",
            desc(other)
        )),
    }
}

/// Standard alphabet; the `=` padding may be left out; anything else is refused.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let body = match s {
        [rest @ .., b'=', b'='] if s.len() & 3 == 0 => rest,
        [rest @ .., b'='] if s.len() & 3 == 0 => rest,
        _ => s,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * k);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

fn score(j: &J<'_>, what: &str) -> SResult<f64> {
    match j {
        J::Num(t) => t
            .parse()
            .map_err(|_| format!("{what}: {t} is not a number")),
        J::Str(s) => match s.as_ref() {
            b"inf" => Ok(f64::INFINITY),
            b"-inf" => Ok(f64::NEG_INFINITY),
            b"nan" => Ok(f64::NAN),
            _ => Err(format!(
                "{what}: a score is a number or \"inf\", \"-inf\", \"nan\""
            )),
        },
        other => Err(format!("{what}: expected a score, found {}", desc(other))),
    }
}

fn stream_id(j: &J<'_>, what: &str) -> SResult<StreamId> {
    let t = as_text(j, what)?;
    let bad = || {
        format!(
            "{what}: '{}' is not a stream id",
            String::from_utf8_lossy(t)
        )
    };
    let dash = t.iter().position(|&c| c == b'-').ok_or_else(bad)?;
    let num = |b: &[u8]| -> Option<u64> { std::str::from_utf8(b).ok()?.parse().ok() };
    Ok(StreamId {
        ms: num(&t[..dash]).ok_or_else(bad)?,
        seq: num(&t[dash + 1..]).ok_or_else(bad)?,
    })
}

/// Field/value pairs written as an object, or as an array of `[field, value]` pairs when some
/// field is not UTF-8.
fn pairs<'j, 'a, T>(
    j: &'j J<'a>,
    what: &str,
    val: impl Fn(&'j J<'a>, &str) -> SResult<T>,
) -> SResult<Vec<(Cow<'j, [u8]>, T)>> {
    match j {
        J::Obj(o) => o
            .iter()
            .map(|(k, v)| Ok((Cow::Borrowed(k.as_ref()), val(v, what)?)))
            .collect(),
        J::Arr(a) => a
            .iter()
            .map(|p| match p {
                J::Arr(fv) if fv.len() == 2 => Ok((bytes(&fv[0], what)?, val(&fv[1], what)?)),
                _ => Err(format!("{what}: expected [field, value] pairs")),
            })
            .collect(),
        other => Err(format!(
            "{what}: expected an object or an array of pairs, found {}",
            desc(other)
        )),
    }
}

fn record(doc: &J<'_>, v: &mut ValueBuf) -> std::result::Result<JsonItem, SErr> {
    let o = as_obj(doc, "record").map_err(|m| (None, m))?;
    if get(o, "key").is_some() {
        return key_record(o, v);
    }
    meta_record(o).map_err(|m| (None, m))
}

fn key_record(o: &Members<'_>, v: &mut ValueBuf) -> std::result::Result<JsonItem, SErr> {
    let key = bytes(need(o, "key").map_err(|m| (None, m))?, "key")
        .map_err(|m| (None, m))?
        .into_owned();
    let with_key = |m: String| (Some(key.clone()), m);
    let db = as_u64(need(o, "db").map_err(with_key)?, "db").map_err(with_key)?;
    let tname = as_text(need(o, "type").map_err(with_key)?, "type").map_err(with_key)?;
    let kind = std::str::from_utf8(tname)
        .ok()
        .and_then(Kind::from_name)
        .ok_or_else(|| with_key(format!("unknown type '{}'", String::from_utf8_lossy(tname))))?;
    let expire_ms = opt(get(o, "expire_at_ms"), "expire_at_ms", as_i64).map_err(with_key)?;
    let lru_idle_s = opt(get(o, "lru_idle_s"), "lru_idle_s", as_u64).map_err(with_key)?;
    let lfu_freq = opt(get(o, "lfu_freq"), "lfu_freq", as_u64).map_err(with_key)?;
    let lfu_freq = lfu_freq
        .map(|f| u8::try_from(f).map_err(|_| with_key(format!("lfu_freq: {f} is above 255"))))
        .transpose()?;
    let value = need(o, "value").map_err(with_key)?;
    v.start(kind);
    feed_value(kind, value, get(o, "field_expire_at_ms"), v).map_err(with_key)?;
    // What a writer would turn into a file a server refuses is refused here.
    v.check().map_err(with_key)?;
    Ok(JsonItem::Key {
        db,
        key,
        expire_ms,
        lru_idle_s,
        lfu_freq,
    })
}

fn feed_value(kind: Kind, j: &J<'_>, fexp: Option<&J<'_>>, v: &mut ValueBuf) -> SResult<()> {
    match kind {
        Kind::String => v.string(&bytes(j, "value")?),
        Kind::List | Kind::Set => {
            for (i, e) in as_arr(j, "value")?.iter().enumerate() {
                let b = bytes(e, &format!("element {i}"))?;
                if kind == Kind::List {
                    v.list_elem(Elem::Bytes(&b));
                } else {
                    v.set_member(Elem::Bytes(&b));
                }
            }
        }
        Kind::Zset => {
            for (i, e) in as_arr(j, "value")?.iter().enumerate() {
                let what = format!("member {i}");
                match e {
                    J::Arr(ms) if ms.len() == 2 => {
                        let m = bytes(&ms[0], &what)?;
                        v.zset_member(Elem::Bytes(&m), score(&ms[1], &what)?);
                    }
                    _ => return Err(format!("{what}: expected [member, score]")),
                }
            }
        }
        Kind::Hash => {
            let fields = pairs(j, "value", |e, w| bytes(e, w))?;
            let ttls: HashMap<Cow<'_, [u8]>, i64> = match fexp {
                None | Some(J::Null) => HashMap::new(),
                Some(f) => pairs(f, "field_expire_at_ms", as_i64)?
                    .into_iter()
                    .collect(),
            };
            let mut used = 0;
            for (f, val) in &fields {
                let exp = ttls.get(f.as_ref()).copied();
                used += usize::from(exp.is_some());
                v.hash_field(Elem::Bytes(f), Elem::Bytes(val), exp);
            }
            if used < ttls.len() {
                return Err("field_expire_at_ms names a field the hash does not have".into());
            }
        }
        Kind::Stream => feed_stream(j, v)?,
        Kind::Module => {
            let o = as_obj(j, "value")?;
            let raw = bytes(need(o, "raw")?, "raw")?;
            let id = match length::decode(&raw) {
                Ok((Len::Len(id), _)) => id,
                _ => return Err("raw: does not start with a module type id".into()),
            };
            v.module(id, &raw);
        }
    }
    Ok(())
}

fn feed_stream(j: &J<'_>, v: &mut ValueBuf) -> SResult<()> {
    let o = as_obj(j, "value")?;
    let mut fields: Vec<BytesPair<'_>> = Vec::new();
    for (i, e) in as_arr(need(o, "entries")?, "entries")?.iter().enumerate() {
        let what = format!("entry {i}");
        let eo = as_obj(e, &what)?;
        let id = stream_id(need(eo, "id")?, &what)?;
        fields.clear();
        fields.extend(pairs(need(eo, "fields")?, &what, |e, w| bytes(e, w))?);
        let elems: Vec<(Elem<'_>, Elem<'_>)> = fields
            .iter()
            .map(|(f, x)| (Elem::Bytes(f), Elem::Bytes(x)))
            .collect();
        v.stream_entry(id, &elems);
    }
    let meta = StreamMeta {
        length: as_u64(need(o, "length")?, "length")?,
        last_id: stream_id(need(o, "last_id")?, "last_id")?,
        first_id: opt(get(o, "first_id"), "first_id", stream_id)?,
        max_deleted_id: opt(get(o, "max_deleted_id"), "max_deleted_id", stream_id)?,
        entries_added: opt(get(o, "entries_added"), "entries_added", as_u64)?,
    };
    v.stream_meta(&meta);
    let groups = match get(o, "groups") {
        None | Some(J::Null) => &[][..],
        Some(g) => as_arr(g, "groups")?,
    };
    for (i, g) in groups.iter().enumerate() {
        v.stream_group(&group(g, &format!("group {i}"))?);
    }
    Ok(())
}

fn group(j: &J<'_>, what: &str) -> SResult<Group> {
    let o = as_obj(j, what)?;
    let mut consumers = Vec::new();
    for c in as_arr(need(o, "consumers")?, what)? {
        let co = as_obj(c, what)?;
        let mut pending = Vec::new();
        for p in as_arr(need(co, "pending")?, what)? {
            pending.push(stream_id(p, what)?);
        }
        consumers.push(Consumer {
            name: bytes(need(co, "name")?, what)?.into_owned(),
            seen_time_ms: as_u64(need(co, "seen_time_ms")?, what)?,
            active_time_ms: opt(get(co, "active_time_ms"), what, as_u64)?,
            pending,
        });
    }
    let mut pel = Vec::new();
    for p in as_arr(need(o, "pending")?, what)? {
        let po = as_obj(p, what)?;
        let consumer = match get(po, "consumer") {
            None | Some(J::Null) => None,
            Some(c) => {
                let name = bytes(c, what)?;
                Some(
                    consumers
                        .iter()
                        .position(|k| k.name == name.as_ref())
                        .ok_or_else(|| {
                            format!(
                                "{what}: pending entry names consumer '{}' that is not listed",
                                String::from_utf8_lossy(&name)
                            )
                        })?,
                )
            }
        };
        pel.push(PendingEntry {
            id: stream_id(need(po, "id")?, what)?,
            delivery_time_ms: as_u64(need(po, "delivery_time_ms")?, what)?,
            delivery_count: as_u64(need(po, "delivery_count")?, what)?,
            consumer,
        });
    }
    Ok(Group {
        name: bytes(need(o, "name")?, what)?.into_owned(),
        last_delivered_id: stream_id(need(o, "last_delivered_id")?, what)?,
        entries_read: opt(get(o, "entries_read"), what, as_u64)?,
        pending: pel,
        consumers,
    })
}

/// The 64-bit module type id from the 9-character name and the 10-bit version.
fn module_id(name: &[u8], version: u64) -> Option<u64> {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if name.len() != 9 || version >= 1024 {
        return None;
    }
    let mut id = 0u64;
    for c in name {
        id = (id << 6) | CHARSET.iter().position(|x| x == c)? as u64;
    }
    Some((id << 10) | version)
}

fn meta_record(o: &Members<'_>) -> SResult<JsonItem> {
    let t = as_text(need(o, "type")?, "type")?;
    let b = |name: &str| -> SResult<Vec<u8>> { Ok(bytes(need(o, name)?, name)?.into_owned()) };
    Ok(match t {
        b"aux" => JsonItem::Aux {
            name: b("name")?,
            value: b("value")?,
        },
        b"function" if get(o, "engine").is_some() || get(o, "name").is_some() => {
            JsonItem::FunctionPreGa {
                name: b("name")?,
                engine: b("engine")?,
                description: match get(o, "description") {
                    None | Some(J::Null) => None,
                    Some(d) => Some(bytes(d, "description")?.into_owned()),
                },
                code: b("code")?,
            }
        }
        b"function" => JsonItem::Function { code: b("code")? },
        b"module_aux" => {
            let name = as_text(need(o, "module")?, "module")?;
            let version = as_u64(need(o, "version")?, "version")?;
            let module_id = module_id(name, version).ok_or_else(|| {
                format!(
                    "module '{}' version {version} is not a module type name (9 characters of A-Z a-z 0-9 - _) and a version below 1024",
                    String::from_utf8_lossy(name)
                )
            })?;
            JsonItem::ModuleAux {
                module_id,
                raw: b("raw")?,
            }
        }
        other => {
            return Err(format!(
                "a record without \"key\" must be an aux, function or module_aux record, not '{}'",
                String::from_utf8_lossy(other)
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;
    use crate::rdbfile::RdbReader;
    use crate::tools::json::{run, Format, JsonOpts};
    use redkit_formats::rdb::consts::kind_of;
    use redkit_formats::rdb::read::{
        decode_value, parse_header, Item, Parser as RdbParser, Walker, HEADER_LEN,
    };
    use std::path::{Path, PathBuf};

    type Entry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

    /// A value in a shape that compares integers and their text as equal, NaNs as equal.
    #[derive(Debug, PartialEq)]
    enum Norm {
        String(Vec<u8>),
        Elems(Kind, Vec<Vec<u8>>),
        Zset(Vec<(Vec<u8>, u64)>),
        Hash(Vec<(Vec<u8>, Vec<u8>, Option<i64>)>),
        Stream(Vec<Entry>, Option<StreamMeta>, Vec<Group>),
        Module(u64, Vec<u8>),
    }

    fn norm(v: &ValueBuf) -> Norm {
        let b = |e: Elem<'_>| e.to_vec();
        match v.kind() {
            Kind::String => Norm::String(v.string().to_vec()),
            k @ (Kind::List | Kind::Set) => Norm::Elems(k, v.elems().map(b).collect()),
            Kind::Zset => Norm::Zset(
                v.zset()
                    .map(|(m, s)| (b(m), if s.is_nan() { 1 } else { s.to_bits() }))
                    .collect(),
            ),
            Kind::Hash => Norm::Hash(v.hash().map(|(f, x, t)| (b(f), b(x), t)).collect()),
            Kind::Stream => Norm::Stream(
                v.entries()
                    .iter()
                    .map(|e| (e.id, v.entry_fields(e).map(|(f, x)| (b(f), b(x))).collect()))
                    .collect(),
                v.stream_meta().cloned(),
                v.groups().to_vec(),
            ),
            Kind::Module => {
                let (id, raw) = v.module();
                Norm::Module(id, raw.to_vec())
            }
        }
    }

    type Rec = (JsonItem, Option<Norm>);

    /// Every record of an RDB decoded directly, as `redkit json --meta` would list them.
    fn direct(data: &[u8]) -> redkit_formats::Result<Vec<Rec>> {
        let header = parse_header(data)?;
        let mut p = RdbParser::new(header);
        let ctx = p.ctx();
        let mut w = Walker::default();
        let mut pos = HEADER_LEN;
        let mut out = Vec::new();
        let mut v = ValueBuf::default();
        let s = |st: &redkit_formats::string::Str<'_>| -> redkit_formats::Result<Vec<u8>> {
            let mut scratch = Vec::new();
            Ok(st.bytes(&mut scratch, 0)?.to_vec())
        };
        loop {
            let f = p.next(data, pos, 0)?;
            pos = f.end;
            match f.item {
                Item::Eof => return Ok(out),
                Item::Aux { name, value } => out.push((
                    JsonItem::Aux {
                        name: s(&name)?,
                        value: s(&value)?,
                    },
                    None,
                )),
                Item::Function { code } => out.push((JsonItem::Function { code: s(&code)? }, None)),
                Item::FunctionPreGa {
                    name,
                    engine,
                    description,
                    code,
                } => out.push((
                    JsonItem::FunctionPreGa {
                        name: s(&name)?,
                        engine: s(&engine)?,
                        description: description.as_ref().map(s).transpose()?,
                        code: s(&code)?,
                    },
                    None,
                )),
                Item::ModuleAux { module_id, raw } => out.push((
                    JsonItem::ModuleAux {
                        module_id,
                        raw: raw.to_vec(),
                    },
                    None,
                )),
                Item::Key(rec) => {
                    let kind = kind_of(rec.rdb_type).unwrap_or(Kind::Module);
                    v.start(kind);
                    decode_value(&ctx, &mut w, &rec, &mut v)?;
                    let aggregate =
                        matches!(kind, Kind::List | Kind::Set | Kind::Zset | Kind::Hash);
                    if aggregate && v.is_empty() {
                        continue; // the writer leaves empty aggregates out
                    }
                    out.push((
                        JsonItem::Key {
                            db: rec.db,
                            key: s(&rec.key)?,
                            expire_ms: rec.expire_ms,
                            lru_idle_s: rec.lru_idle,
                            lfu_freq: rec.lfu_freq,
                        },
                        Some(norm(&v)),
                    ));
                }
                _ => {}
            }
        }
    }

    fn read_all(json: &[u8]) -> Result<Vec<Rec>> {
        let mut r = JsonReader::new(json);
        let mut v = ValueBuf::default();
        let mut out = Vec::new();
        while let Some(item) = r.next(&mut v)? {
            let n = matches!(item, JsonItem::Key { .. }).then(|| norm(&v));
            out.push((item, n));
        }
        Ok(out)
    }

    fn json_of(path: &Path) -> Result<Vec<u8>> {
        let mut reader = RdbReader::open(path)?;
        let mut out = Vec::new();
        run(
            &mut reader,
            &JsonOpts {
                filter: Filter::default(),
                meta: true,
                format: Format::Lines,
                progress: false,
            },
            &mut out,
        )?;
        Ok(out)
    }

    /// Returns how many keys were compared.
    fn check_file(path: &Path, must_work: bool) -> usize {
        let data = std::fs::read(path).unwrap();
        let want = match direct(&data) {
            Ok(w) => w,
            Err(e) if !must_work => {
                eprintln!("skip {}: {e}", path.display());
                return 0;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let json = match json_of(path) {
            Ok(j) => j,
            Err(e) if !must_work => {
                eprintln!("skip {}: {e}", path.display());
                return 0;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let got = read_all(&json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got.len(), want.len(), "{}", path.display());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{}", path.display());
        }
        want.iter().filter(|r| r.1.is_some()).count()
    }

    #[test]
    fn samples_read_back_element_for_element() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{files:?}");
        let mut keys = 0;
        for f in &files {
            keys += check_file(f, true);
        }
        assert!(keys > 50, "{keys}");
    }

    /// The third-party corpus (hash field expiry, old encodings, modules), when it is there.
    #[test]
    fn corpus_rdbs_read_back_when_present() {
        let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/corpus"))
            .find(|p| p.join("README.md").is_file())
        else {
            eprintln!("no shared/corpus: skipped");
            return;
        };
        let mut stack = vec![root];
        let mut files = Vec::new();
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rdb") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let keys: usize = files.iter().map(|f| check_file(f, false)).sum();
        assert!(keys > 100, "{keys}");
    }

    fn one(line: &str) -> Result<(JsonItem, ValueBuf)> {
        let mut v = ValueBuf::default();
        let mut r = JsonReader::new(line.as_bytes());
        let item = r.next(&mut v)?.expect("a record");
        assert!(r.next(&mut v)?.is_none());
        Ok((item, v))
    }

    #[test]
    fn every_shape_of_the_schema() {
        let (item, v) = one(
            r#"{"db":3,"key":{"base64":"/wBh"},"type":"zset","encoding":"skiplist","expire_at_ms":-5,"value":[["a",0.1],["b","inf"],["c","-inf"],["e",-0],["f",1e+300],["g",5e-324]],"lru_idle_s":7,"lfu_freq":255}"#,
        )
        .unwrap();
        assert_eq!(
            item,
            JsonItem::Key {
                db: 3,
                key: b"\xff\x00a".to_vec(),
                expire_ms: Some(-5),
                lru_idle_s: Some(7),
                lfu_freq: Some(255)
            }
        );
        let z: Vec<(Vec<u8>, f64)> = v.zset().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(z[0].1, 0.1);
        assert_eq!(z[1].1, f64::INFINITY);
        assert_eq!(z[2].1, f64::NEG_INFINITY);
        assert_eq!(z[3].1.to_bits(), (-0.0f64).to_bits());
        assert_eq!(z[4].1, 1e300);
        assert_eq!(z[5].1, 5e-324);
        // NaN reads as a score, but no server holds it: the value is refused.
        let e = one(r#"{"db":0,"key":"z","type":"zset","value":[["d","nan"]]}"#)
            .expect_err("a NaN score is refused");
        assert!(e.to_string().contains("NaN"), "{e}");
        let e = one(r#"{"db":0,"key":"s","type":"set","value":["a","a"]}"#)
            .expect_err("a duplicate member is refused");
        assert!(e.to_string().contains("duplicate set member 'a'"), "{e}");

        // Hash as pairs with field expiries as pairs; escapes and a surrogate pair.
        let (_, v) = one(
            r#"{"db":0,"key":"h\u00e9\ud83d\ude00\n","type":"hash","value":[["b","\"\\\/"],[{"base64":"/w=="},"x"]],"field_expire_at_ms":[[{"base64":"/w"},123]]}"#,
        )
        .unwrap();
        let h: Vec<_> = v
            .hash()
            .map(|(f, x, t)| (f.to_vec(), x.to_vec(), t))
            .collect();
        assert_eq!(
            h,
            vec![
                (b"b".to_vec(), b"\"\\/".to_vec(), None),
                (b"\xff".to_vec(), b"x".to_vec(), Some(123)),
            ]
        );

        // A module value: the id comes from the front of raw.
        let mut raw = Vec::new();
        length::encode(0x1234_5678_9abc, &mut raw);
        raw.extend_from_slice(b"\x00");
        let mut b64 = Vec::new();
        crate::jsonout::base64(&mut b64, &raw);
        let line = format!(
            r#"{{"db":0,"key":"m","type":"module","value":{{"module":"x","version":1,"raw":{{"base64":"{}"}}}}}}"#,
            String::from_utf8(b64).unwrap()
        );
        let (_, v) = one(&line).unwrap();
        assert_eq!(v.module(), (0x1234_5678_9abc, &raw[..]));

        // Meta records.
        let (item, _) = one(r#"{"type":"aux","name":"redis-ver","value":"7.0.15"}"#).unwrap();
        assert_eq!(
            item,
            JsonItem::Aux {
                name: b"redis-ver".to_vec(),
                value: b"7.0.15".to_vec()
            }
        );
        let (item, _) =
            one(r#"{"type":"function","name":"l","engine":"LUA","description":null,"code":"c"}"#)
                .unwrap();
        assert!(matches!(
            item,
            JsonItem::FunctionPreGa {
                description: None,
                ..
            }
        ));
        let (item, _) = one(
            r#"{"type":"module_aux","module":"hellotype","version":3,"raw":{"base64":"AA=="}}"#,
        )
        .unwrap();
        let JsonItem::ModuleAux { module_id, raw } = item else {
            panic!("{item:?}")
        };
        assert_eq!(
            redkit_formats::rdb::consts::module_name(module_id),
            ("hellotype".to_string(), 3)
        );
        assert_eq!(raw, b"\x00");

        // Stream with a group, a consumer and an unclaimed pending entry.
        let (_, v) = one(
            r#"{"db":0,"key":"s","type":"stream","value":{"length":1,"last_id":"5-1","first_id":null,"max_deleted_id":null,"entries_added":null,"entries":[{"id":"5-1","fields":{"a":"1"}}],"groups":[{"name":"g","last_delivered_id":"5-1","entries_read":null,"pending":[{"id":"5-1","consumer":"c","delivery_time_ms":9,"delivery_count":2},{"id":"5-0","consumer":null,"delivery_time_ms":1,"delivery_count":1}],"consumers":[{"name":"c","seen_time_ms":8,"active_time_ms":null,"pending":["5-1"]}]}]}}"#,
        )
        .unwrap();
        assert_eq!(v.entries()[0].id, StreamId { ms: 5, seq: 1 });
        let g = &v.groups()[0];
        assert_eq!(g.pending[0].consumer, Some(0));
        assert_eq!(g.pending[1].consumer, None);
        assert_eq!(g.consumers[0].pending, vec![StreamId { ms: 5, seq: 1 }]);
        assert_eq!(v.stream_meta().map(|m| m.length), Some(1));
    }

    #[test]
    fn blank_lines_and_crlf_are_fine() {
        let text = "\n{\"db\":0,\"key\":\"a\",\"type\":\"string\",\"value\":\"1\"}\r\n  \n{\"db\":1,\"key\":\"b\",\"type\":\"list\",\"value\":[\"x\"]}";
        let got = read_all(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, Some(Norm::Elems(Kind::List, vec![b"x".to_vec()])));
    }

    #[test]
    fn bad_input_is_an_error_with_line_and_offset() {
        let good = r#"{"db":0,"key":"k","type":"string","value":"v"}"#;
        for (text, want) in [
            // Truncated lines.
            (format!("{good}\n{{\"db\":0,\"key\":\"k"), "(line 2)"),
            (format!("{good}\n{{\"db\":0,\"key\":\"k\",\"type\":"), "truncated"),
            (format!("{good}\n{}", &good[..good.len() - 1]), "[offset 92] (line 2)"),
            // Wrong types.
            (r#"{"db":"0","key":"k","type":"string","value":"v"}"#.into(), "db: expected an integer"),
            (r#"{"db":-1,"key":"k","type":"string","value":"v"}"#.into(), "not an unsigned"),
            (r#"{"db":0,"key":1,"type":"string","value":"v"}"#.into(), "key: expected a byte string"),
            (r#"{"db":0,"key":"k","type":"str","value":"v"}"#.into(), "unknown type 'str'"),
            (r#"{"db":0,"key":"k","type":"list","value":"v"}"#.into(), "expected an array"),
            (r#"{"db":0,"key":"k","type":"zset","value":[["a","x"]]}"#.into(), "a score is"),
            (r#"{"db":0,"key":"k","type":"zset","value":[["a"]]}"#.into(), "[member, score]"),
            (r#"{"db":0,"key":"k","type":"hash","value":{"a":"1"},"field_expire_at_ms":{"b":1}}"#.into(), "does not have"),
            (r#"{"db":0,"key":"k","type":"stream","value":{"length":0,"last_id":"1","entries":[]}}"#.into(), "not a stream id"),
            (r#"{"db":0,"key":"k","type":"string","expire_at_ms":1.5,"value":"v"}"#.into(), "expire_at_ms"),
            (r#"{"db":0,"key":"k","type":"string"}"#.into(), "missing \"value\""),
            (r#"{"type":"nope"}"#.into(), "not 'nope'"),
            (r#"[1,2]"#.into(), "rdbtools"),
            // Bad base64.
            (r#"{"db":0,"key":{"base64":"a"},"type":"string","value":"v"}"#.into(), "bad base64"),
            (r#"{"db":0,"key":{"base64":"a*=="},"type":"string","value":"v"}"#.into(), "bad base64"),
            (r#"{"db":0,"key":{"base64":1},"type":"string","value":"v"}"#.into(), "must be a string"),
            // Bad JSON.
            (r#"{"db":0,}"#.into(), "bad JSON"),
            (r#"{"db":01}"#.into(), "bad JSON"),
            (r#"{"k":"\ud800"}"#.into(), "surrogate"),
            (r#"{"k":"\x"}"#.into(), "unknown escape"),
            ("{\"k\":\"a\tb\"}".into(), "control character"),
            (format!("{good} x"), "after the JSON value"),
            ("[".repeat(100), "nested deeper"),
        ] {
            let err = read_all(text.as_bytes())
                .map(|r| format!("no error: {r:?}"))
                .unwrap_or_else(|e| e.to_string());
            assert!(err.contains(want), "{text}\n=> {err}\n(wanted {want})");
            assert!(!err.contains('\n'), "{err}");
        }
        let e = read_all(b"\xff\xfe").unwrap_err().to_string();
        assert!(e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn every_truncation_of_a_sample_fails_cleanly_or_reads_a_prefix() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/all-types.rdb");
        let json = json_of(&path).unwrap();
        let full = read_all(&json).unwrap();
        // Every cut: either an error or a prefix of the records (cut at a line end).
        let step = (json.len() / 3000).max(1);
        for cut in (0..json.len()).step_by(step) {
            match read_all(&json[..cut]) {
                Ok(r) => {
                    assert!(r.len() <= full.len());
                    assert_eq!(&full[..r.len()], &r[..], "cut {cut}");
                }
                Err(e) => assert!(e.to_string().contains("(line "), "{e}"),
            }
        }
    }
}

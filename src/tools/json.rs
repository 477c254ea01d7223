//! `redkit json`: an RDB file as JSON Lines (schema in docs/json.md), or in redis-rdb-tools'
//! shape with `--format rdbtools`.

use std::io::Write;
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;
use redkit_formats::rdb::consts::{encoding_name, kind_of, module_name, Family, Kind, TYPE_STRING};
use redkit_formats::rdb::read::{
    decode_value, Ctx, Group, Item, KeyRecord, Sink, StreamId, StreamMeta, Walker,
};
use redkit_formats::{string, Elem};

use crate::batch::{drive, DriveOpts, Event, KeyItem};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::jsonout as j;
use crate::rdbfile::RdbReader;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Lines,
    RdbTools,
}

pub struct JsonOpts {
    pub filter: Filter,
    pub meta: bool,
    pub format: Format,
    pub progress: bool,
}

/// Counts reported at the end (to stderr by the CLI).
#[derive(Debug, Default)]
pub struct JsonReport {
    pub keys: u64,
    pub empty_keys_skipped: u64,
    pub trailing_bytes: u64,
}

/// Write the file's keys as JSON to `out`. A writer thread does the writing, so output I/O
/// overlaps the rendering of the next keys.
pub fn run(
    reader: &mut RdbReader,
    opts: &JsonOpts,
    out: &mut (dyn Write + Send),
) -> Result<JsonReport> {
    let ctx = Ctx::new(reader.header(), false);
    let family = ctx.family;
    let mut report = JsonReport::default();
    let io = |e: std::io::Error| Error::Other(format!("writing output: {e}"));
    let rdbtools = opts.format == Format::RdbTools;
    let filter = &opts.filter;
    std::thread::scope(|sc| -> Result<()> {
        let (tx, rx) = sync_channel::<Vec<u8>>(16);
        let writer = sc.spawn(move || -> std::io::Result<()> {
            for buf in rx {
                out.write_all(&buf)?;
            }
            out.flush()
        });
        // A send fails only when the writer stopped on an error, which join reports.
        let send = |buf: Vec<u8>| tx.send(buf).is_ok();
        let mut cur_db: Option<u64> = None;
        if rdbtools {
            send(b"[".to_vec());
        }
        let r = drive(
            reader,
            &DriveOpts {
                progress: opts.progress,
            },
            |k, key| filter.keep(k, key),
            |ev| {
                match ev {
                    Event::Item(f) => {
                        if opts.meta && !rdbtools {
                            let mut buf = Vec::new();
                            meta_record(&f.item, &mut buf)?;
                            if !send(buf) {
                                return Err(Error::Other("output writer stopped".into()));
                            }
                        }
                    }
                    Event::Keys(keys) => {
                        let parts = render_keys(&ctx, keys, family, rdbtools);
                        for p in parts {
                            let (bytes, n, empty, err) = p;
                            let bytes = if rdbtools {
                                rdbtools_objects(&bytes, &mut cur_db)
                            } else {
                                bytes
                            };
                            if !send(bytes) {
                                return Err(Error::Other("output writer stopped".into()));
                            }
                            report.keys += n;
                            report.empty_keys_skipped += empty;
                            if let Some(e) = err {
                                return Err(e);
                            }
                        }
                    }
                }
                Ok(())
            },
        );
        if r.is_ok() && rdbtools {
            send(if cur_db.is_some() {
                b"}]\n".to_vec()
            } else {
                b"]\n".to_vec()
            });
        }
        drop(tx);
        let w = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("output writer panicked")));
        // The writer's own error explains a stopped writer better than the send failure.
        match (r, w) {
            // The reader of a pipe went away (`redkit json f | head`): stop quietly.
            (_, Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            (_, Err(e)) => Err(io(e)),
            (r, Ok(())) => r,
        }
    })?;
    report.trailing_bytes = reader.trailer().map_or(0, |t| t.trailing_bytes);
    Ok(report)
}

/// rdbtools output: records arrive as `db\tkey:value` lines; open a new object per db.
fn rdbtools_objects(bytes: &[u8], cur_db: &mut Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    for line in bytes.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let tab = line.iter().position(|&c| c == b'\t').unwrap_or(0);
        let db: u64 = std::str::from_utf8(&line[..tab])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match *cur_db {
            None => out.push(b'{'),
            Some(d) if d != db => out.extend_from_slice(b"},\n{"),
            Some(_) => out.extend_from_slice(b",\n"),
        }
        *cur_db = Some(db);
        out.extend_from_slice(&line[tab + 1..]);
    }
    out
}

type Part = (Vec<u8>, u64, u64, Option<Error>);

/// Keys per parallel part: large parts go to the output without another copy, and eight parts
/// per run keep both cores busy.
fn part_len(n: usize) -> usize {
    (n / 8).max(64)
}

/// Render keys in parallel; parts come back in order. A part stops at its first error.
fn render_keys(ctx: &Ctx, keys: &[KeyItem<'_>], family: Family, rdbtools: bool) -> Vec<Part> {
    keys.par_chunks(part_len(keys.len()))
        .map_init(Walker::default, |w, ks| {
            let mut out = Vec::with_capacity(ks.iter().map(|k| k.rec.value.len() * 2).sum());
            let (mut n, mut empty) = (0, 0);
            for k in ks {
                let res = if rdbtools {
                    render_rdbtools(ctx, w, &k.rec, &k.key, &mut out)
                } else {
                    render_record(ctx, w, &k.rec, &k.key, family, &mut out)
                };
                match res {
                    Ok(true) => n += 1,
                    Ok(false) => {
                        empty += 1;
                        eprintln!(
                            "warning: [offset {}] skipping empty key '{}' (Redis drops empty keys on load)",
                            k.start,
                            redkit_formats::escape_key(&k.key)
                        );
                    }
                    Err(e) => return (out, n, empty, Some(e)),
                }
            }
            (out, n, empty, None)
        })
        .collect()
}

/// Render one key as a JSON line. Returns false (and writes nothing) for an empty aggregate,
/// which Redis would drop on load.
pub fn render_record(
    ctx: &Ctx,
    w: &mut Walker,
    rec: &KeyRecord<'_>,
    key: &[u8],
    family: Family,
    out: &mut Vec<u8>,
) -> Result<bool> {
    let start = out.len();
    let kind = kind_of(rec.rdb_type).unwrap_or(Kind::Module);
    out.extend_from_slice(b"{\"db\":");
    j::uint(out, rec.db);
    out.extend_from_slice(b",\"key\":");
    j::bytes(out, key);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(kind.name().as_bytes());
    out.extend_from_slice(b"\",\"encoding\":\"");
    out.extend_from_slice(value_encoding(rec, family).as_bytes());
    out.extend_from_slice(b"\",\"expire_at_ms\":");
    match rec.expire_ms {
        Some(ms) => j::int(out, ms),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"value\":");
    let mut v = JsonValue::new(kind, false);
    if let Err(e) = render_value(ctx, w, rec, &mut v, out) {
        out.truncate(start);
        return Err(e.into());
    }
    if v.is_empty_aggregate() {
        out.truncate(start);
        return Ok(false);
    }
    if v.fexp_n > 0 {
        out.extend_from_slice(b",\"field_expire_at_ms\":");
        out.push(if v.pairs { b'[' } else { b'{' });
        out.extend_from_slice(&v.fexp);
        out.push(if v.pairs { b']' } else { b'}' });
    }
    if let Some(i) = rec.lru_idle {
        out.extend_from_slice(b",\"lru_idle_s\":");
        j::uint(out, i);
    }
    if let Some(f) = rec.lfu_freq {
        out.extend_from_slice(b",\"lfu_freq\":");
        out.extend_from_slice(f.to_string().as_bytes());
    }
    out.extend_from_slice(b"}\n");
    Ok(true)
}

/// The encoding name: for type-0 strings, how the string itself is stored.
pub fn value_encoding(rec: &KeyRecord<'_>, family: Family) -> &'static str {
    if rec.rdb_type == TYPE_STRING {
        if let Ok((s, _)) = string::decode(rec.value) {
            return s.encoding_name();
        }
    }
    encoding_name(rec.rdb_type, family)
}

/// Decode the value into `out`; hashes and stream entries whose field names are not all UTF-8
/// are rendered again as arrays of pairs.
fn render_value(
    ctx: &Ctx,
    w: &mut Walker,
    rec: &KeyRecord<'_>,
    v: &mut JsonValue,
    out: &mut Vec<u8>,
) -> redkit_formats::Result<()> {
    let vstart = out.len();
    v.open(out);
    decode_value(ctx, w, rec, &mut Target { v, out })?;
    if v.non_utf8_field && !v.pairs {
        out.truncate(vstart);
        *v = JsonValue::new(v.kind, v.rdbtools);
        v.pairs = true;
        v.open(out);
        decode_value(ctx, w, rec, &mut Target { v, out })?;
    }
    v.close(out);
    Ok(())
}

/// The JSON rendering state of one value.
struct JsonValue {
    kind: Kind,
    rdbtools: bool,
    /// Hash fields as `[field, value]` pairs instead of an object.
    pairs: bool,
    n: u64,
    non_utf8_field: bool,
    fexp: Vec<u8>,
    fexp_n: u64,
    stream_entries: Vec<u8>,
    stream_entries_n: u64,
    meta: Option<StreamMeta>,
    groups: Vec<u8>,
    groups_n: u64,
}

impl JsonValue {
    fn new(kind: Kind, rdbtools: bool) -> Self {
        JsonValue {
            kind,
            rdbtools,
            pairs: false,
            n: 0,
            non_utf8_field: false,
            fexp: Vec::new(),
            fexp_n: 0,
            stream_entries: Vec::new(),
            stream_entries_n: 0,
            meta: None,
            groups: Vec::new(),
            groups_n: 0,
        }
    }

    fn is_empty_aggregate(&self) -> bool {
        self.n == 0 && matches!(self.kind, Kind::List | Kind::Set | Kind::Zset | Kind::Hash)
    }

    fn open(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::List | Kind::Set => out.push(b'['),
            Kind::Zset if self.rdbtools => out.push(b'{'),
            Kind::Zset => out.push(b'['),
            Kind::Hash if self.pairs => out.push(b'['),
            Kind::Hash => out.push(b'{'),
            Kind::String | Kind::Stream | Kind::Module => {}
        }
    }

    fn close(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::List | Kind::Set => out.push(b']'),
            Kind::Zset if self.rdbtools => out.push(b'}'),
            Kind::Zset => out.push(b']'),
            Kind::Hash if self.pairs => out.push(b']'),
            Kind::Hash => out.push(b'}'),
            Kind::Stream => {
                let m = self.meta.clone().unwrap_or_default();
                out.extend_from_slice(b"{\"length\":");
                out.extend_from_slice(m.length.to_string().as_bytes());
                out.extend_from_slice(b",\"last_id\":");
                id(out, Some(m.last_id));
                out.extend_from_slice(b",\"first_id\":");
                id(out, m.first_id);
                out.extend_from_slice(b",\"max_deleted_id\":");
                id(out, m.max_deleted_id);
                out.extend_from_slice(b",\"entries_added\":");
                opt_u64(out, m.entries_added);
                out.extend_from_slice(b",\"entries\":[");
                out.extend_from_slice(&self.stream_entries);
                out.extend_from_slice(b"],\"groups\":[");
                out.extend_from_slice(&self.groups);
                out.extend_from_slice(b"]}");
            }
            Kind::String | Kind::Module => {}
        }
    }

    fn sep(&mut self, out: &mut Vec<u8>) {
        if self.n > 0 {
            out.push(b',');
        }
        self.n += 1;
    }
}

fn id(out: &mut Vec<u8>, id: Option<StreamId>) {
    match id {
        Some(i) => {
            out.push(b'"');
            j::uint(out, i.ms);
            out.push(b'-');
            j::uint(out, i.seq);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => out.extend_from_slice(v.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// Hash-like field list: object when all names are UTF-8 (or in rdbtools mode), else pairs.
/// An element; in rdbtools mode bytes that are not UTF-8 become one character per byte, as
/// redis-rdb-tools writes them, instead of the base64 object.
fn elem(out: &mut Vec<u8>, e: Elem<'_>, rdbtools: bool) {
    match e {
        Elem::Bytes(b) if rdbtools => j::bytes_latin1(out, b),
        _ => {
            j::elem(out, e);
        }
    }
}

/// Returns false when the field name was not UTF-8 (in object mode it was then written as
/// base64, which is not a valid object key: the caller renders the value again as pairs).
fn field_pair(
    out: &mut Vec<u8>,
    pairs: bool,
    lossy: bool,
    f: Elem<'_>,
    v: impl FnOnce(&mut Vec<u8>),
) -> bool {
    let mut text = true;
    if pairs {
        out.push(b'[');
        j::elem(out, f);
        out.push(b',');
        v(out);
        out.push(b']');
    } else {
        match f {
            Elem::Bytes(b) if lossy => j::bytes_latin1(out, b),
            _ => text = j::elem(out, f),
        }
        out.push(b':');
        v(out);
    }
    text
}

struct Target<'v, 'o> {
    v: &'v mut JsonValue,
    out: &'o mut Vec<u8>,
}

impl Sink for Target<'_, '_> {
    fn string(&mut self, b: &[u8]) {
        elem(self.out, Elem::Bytes(b), self.v.rdbtools);
        self.v.n += 1;
    }

    fn list_elem(&mut self, e: Elem<'_>) {
        self.v.sep(self.out);
        elem(self.out, e, self.v.rdbtools);
    }

    fn set_member(&mut self, e: Elem<'_>) {
        self.v.sep(self.out);
        elem(self.out, e, self.v.rdbtools);
    }

    fn zset_member(&mut self, m: Elem<'_>, score: f64) {
        self.v.sep(self.out);
        if self.v.rdbtools {
            // redis-rdb-tools writes scores as strings.
            field_pair(self.out, false, true, m, |o| {
                let mut t = Vec::new();
                j::score(&mut t, score);
                if t.first() == Some(&b'"') {
                    o.extend_from_slice(&t);
                } else {
                    o.push(b'"');
                    o.extend_from_slice(&t);
                    o.push(b'"');
                }
            });
        } else {
            self.out.push(b'[');
            j::elem(self.out, m);
            self.out.push(b',');
            j::score(self.out, score);
            self.out.push(b']');
        }
    }

    fn hash_field(&mut self, f: Elem<'_>, v: Elem<'_>, expire_ms: Option<i64>) {
        self.v.sep(self.out);
        let (pairs, lossy) = (self.v.pairs, self.v.rdbtools);
        if !field_pair(self.out, pairs, lossy, f, |o| {
            elem(o, v, lossy);
        }) {
            self.v.non_utf8_field = true;
        }
        if let Some(ms) = expire_ms {
            if self.v.fexp_n > 0 {
                self.v.fexp.push(b',');
            }
            self.v.fexp_n += 1;
            field_pair(&mut self.v.fexp, pairs, lossy, f, |o| j::int(o, ms));
        }
    }

    fn stream_entry(&mut self, sid: StreamId, fields: &[(Elem<'_>, Elem<'_>)]) {
        let o = &mut self.v.stream_entries;
        if self.v.stream_entries_n > 0 {
            o.push(b',');
        }
        self.v.stream_entries_n += 1;
        o.extend_from_slice(b"{\"id\":");
        id(o, Some(sid));
        o.extend_from_slice(b",\"fields\":");
        let pairs = !fields.iter().all(|(f, _)| j::elem_is_utf8(*f));
        o.push(if pairs { b'[' } else { b'{' });
        for (i, (f, v)) in fields.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            field_pair(o, pairs, false, *f, |o| {
                j::elem(o, *v);
            });
        }
        o.push(if pairs { b']' } else { b'}' });
        o.push(b'}');
    }

    fn stream_meta(&mut self, m: &StreamMeta) {
        self.v.meta = Some(m.clone());
    }

    fn stream_group(&mut self, g: &Group) {
        let o = &mut self.v.groups;
        if self.v.groups_n > 0 {
            o.push(b',');
        }
        self.v.groups_n += 1;
        o.extend_from_slice(b"{\"name\":");
        j::bytes(o, &g.name);
        o.extend_from_slice(b",\"last_delivered_id\":");
        id(o, Some(g.last_delivered_id));
        o.extend_from_slice(b",\"entries_read\":");
        opt_u64(o, g.entries_read);
        o.extend_from_slice(b",\"pending\":[");
        for (i, p) in g.pending.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            o.extend_from_slice(b"{\"id\":");
            id(o, Some(p.id));
            o.extend_from_slice(b",\"consumer\":");
            match p.consumer.and_then(|c| g.consumers.get(c)) {
                Some(c) => {
                    j::bytes(o, &c.name);
                }
                None => o.extend_from_slice(b"null"),
            }
            o.extend_from_slice(b",\"delivery_time_ms\":");
            o.extend_from_slice(p.delivery_time_ms.to_string().as_bytes());
            o.extend_from_slice(b",\"delivery_count\":");
            o.extend_from_slice(p.delivery_count.to_string().as_bytes());
            o.push(b'}');
        }
        o.extend_from_slice(b"],\"consumers\":[");
        for (i, c) in g.consumers.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            o.extend_from_slice(b"{\"name\":");
            j::bytes(o, &c.name);
            o.extend_from_slice(b",\"seen_time_ms\":");
            o.extend_from_slice(c.seen_time_ms.to_string().as_bytes());
            o.extend_from_slice(b",\"active_time_ms\":");
            opt_u64(o, c.active_time_ms);
            o.extend_from_slice(b",\"pending\":[");
            for (k, p) in c.pending.iter().enumerate() {
                if k > 0 {
                    o.push(b',');
                }
                id(o, Some(*p));
            }
            o.extend_from_slice(b"]}");
        }
        o.extend_from_slice(b"]}");
    }

    fn module(&mut self, module_id: u64, raw: &[u8]) {
        let (name, version) = module_name(module_id);
        self.out.extend_from_slice(b"{\"module\":");
        j::string(self.out, &name);
        self.out.extend_from_slice(b",\"version\":");
        self.out.extend_from_slice(version.to_string().as_bytes());
        self.out.extend_from_slice(b",\"raw\":{\"base64\":\"");
        j::base64(self.out, raw);
        self.out.extend_from_slice(b"\"}}");
        self.v.n += 1;
    }
}

/// rdbtools shape: `<db>\t"key":value\n`, reassembled into per-db objects by the writer.
fn render_rdbtools(
    ctx: &Ctx,
    w: &mut Walker,
    rec: &KeyRecord<'_>,
    key: &[u8],
    out: &mut Vec<u8>,
) -> Result<bool> {
    let start = out.len();
    let kind = kind_of(rec.rdb_type).unwrap_or(Kind::Module);
    j::uint(out, rec.db);
    out.push(b'\t');
    j::bytes_latin1(out, key);
    out.push(b':');
    let mut v = JsonValue::new(kind, true);
    if let Err(e) = render_value(ctx, w, rec, &mut v, out) {
        out.truncate(start);
        return Err(e.into());
    }
    if v.is_empty_aggregate() {
        out.truncate(start);
        return Ok(false);
    }
    out.push(b'\n');
    Ok(true)
}

/// A `--meta` record for a non-key item, or nothing for items that are not worth a record.
fn meta_record(item: &Item<'_>, out: &mut Vec<u8>) -> Result<()> {
    let s = |out: &mut Vec<u8>, st: &redkit_formats::string::Str<'_>| -> Result<()> {
        let mut scratch = Vec::new();
        j::bytes(out, st.bytes(&mut scratch, 0)?);
        Ok(())
    };
    match item {
        Item::Aux { name, value } => {
            out.extend_from_slice(b"{\"type\":\"aux\",\"name\":");
            s(out, name)?;
            out.extend_from_slice(b",\"value\":");
            s(out, value)?;
            out.extend_from_slice(b"}\n");
        }
        Item::Function { code } => {
            out.extend_from_slice(b"{\"type\":\"function\",\"code\":");
            s(out, code)?;
            out.extend_from_slice(b"}\n");
        }
        Item::FunctionPreGa {
            name,
            engine,
            description,
            code,
        } => {
            out.extend_from_slice(b"{\"type\":\"function\",\"name\":");
            s(out, name)?;
            out.extend_from_slice(b",\"engine\":");
            s(out, engine)?;
            out.extend_from_slice(b",\"description\":");
            match description {
                Some(d) => s(out, d)?,
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"code\":");
            s(out, code)?;
            out.extend_from_slice(b"}\n");
        }
        Item::ModuleAux { module_id, raw } => {
            let (name, version) = module_name(*module_id);
            out.extend_from_slice(b"{\"type\":\"module_aux\",\"module\":");
            j::string(out, &name);
            out.extend_from_slice(b",\"version\":");
            out.extend_from_slice(version.to_string().as_bytes());
            out.extend_from_slice(b",\"raw\":{\"base64\":\"");
            j::base64(out, raw);
            out.extend_from_slice(b"\"}}\n");
        }
        _ => {}
    }
    Ok(())
}

/// Render a whole keyspace (an AOF replayed into it) with the schema used for RDB files. Keys
/// come in db order and, within a db, in byte order, so the output is deterministic; the
/// `encoding` field is what `OBJECT ENCODING` answers for the in-memory value.
pub fn run_keyspace(
    ks: &crate::keyspace::Keyspace,
    opts: &JsonOpts,
    out: &mut dyn Write,
) -> Result<JsonReport> {
    if opts.format == Format::RdbTools {
        return Err(Error::Usage(
            "--format rdbtools is only for RDB input; AOF input gives JSON Lines".into(),
        ));
    }
    let io = |e: std::io::Error| Error::Other(format!("writing output: {e}"));
    let mut report = JsonReport::default();
    let mut buf = Vec::with_capacity(1 << 16);
    if opts.meta {
        for lib in ks.functions.values() {
            buf.extend_from_slice(b"{\"type\":\"function\",\"code\":");
            j::bytes(&mut buf, &lib.code);
            buf.extend_from_slice(b"}\n");
        }
    }
    for (dbi, db) in ks.dbs.iter().enumerate() {
        let mut keys: Vec<&crate::keyspace::SStr> = db.map.keys().collect();
        keys.sort_unstable();
        for key in keys {
            let Some(entry) = db.map.get(key.as_bytes()) else {
                continue;
            };
            let kind = Kind::from_name(entry.value.type_name());
            if !opts
                .filter
                .keep_parts(dbi as u64, kind, entry.expire(), key)
            {
                continue;
            }
            render_entry(dbi, key, entry, kind.unwrap_or(Kind::Module), &mut buf);
            report.keys += 1;
            if buf.len() >= 1 << 16 {
                out.write_all(&buf).map_err(io)?;
                buf.clear();
            }
        }
    }
    out.write_all(&buf).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(report)
}

fn render_entry(
    db: usize,
    key: &[u8],
    entry: &crate::keyspace::Entry,
    kind: Kind,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"db\":");
    j::uint(out, db as u64);
    out.extend_from_slice(b",\"key\":");
    j::bytes(out, key);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(kind.name().as_bytes());
    out.extend_from_slice(b"\",\"encoding\":\"");
    out.extend_from_slice(entry.value.encoding().as_bytes());
    out.extend_from_slice(b"\",\"expire_at_ms\":");
    match entry.expire() {
        Some(ms) => j::int(out, ms),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"value\":");
    let vstart = out.len();
    let mut v = JsonValue::new(kind, false);
    v.open(out);
    crate::keyspace::feed(&entry.value, &mut Target { v: &mut v, out });
    if v.non_utf8_field && !v.pairs {
        out.truncate(vstart);
        v = JsonValue::new(kind, false);
        v.pairs = true;
        v.open(out);
        crate::keyspace::feed(&entry.value, &mut Target { v: &mut v, out });
    }
    v.close(out);
    if v.fexp_n > 0 {
        out.extend_from_slice(b",\"field_expire_at_ms\":");
        out.push(if v.pairs { b'[' } else { b'{' });
        out.extend_from_slice(&v.fexp);
        out.push(if v.pairs { b']' } else { b'}' });
    }
    out.extend_from_slice(b"}\n");
}

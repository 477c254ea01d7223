//! Loading RDB data into the keyspace: whole files, AOF preambles, and DUMP payloads
//! (RESTORE).
//!
//! The file is framed on one thread (item boundaries only), values are decoded on the rayon
//! pool in batches, and a third thread inserts the finished keys into the databases, so both
//! cores work and no value is decoded twice. Each value type's `Loader` builds the value from
//! the reader's logical callbacks and picks the encoding Redis would pick after the same load.

use std::sync::mpsc::sync_channel;

use rayon::prelude::*;
use redkit_formats::crc64::crc64;
use redkit_formats::rdb::consts::*;
use redkit_formats::rdb::read::{
    decode_value, parse_header, Ctx as RdbCtx, Framed, Header, Item, KeyRecord, Parser, Sink,
    Walker, HEADER_LEN,
};
use redkit_formats::string::Str;
use redkit_formats::{Error as FmtError, ErrorKind};

use super::{
    hash, list, parse_library_header, set, stream, string, zset, Config, Entry, Keyspace, Library,
    ModuleValue, SStr, Value,
};
use crate::{Error, Result};

/// What to do while loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip keys whose expiry is before this time (a Redis master does this when it loads an
    /// RDB file, but not for an AOF preamble). `None` keeps every key.
    pub skip_expired_before: Option<i64>,
    /// Deep integrity checks of every blob (`sanitize-dump-payload yes`).
    pub deep: bool,
    /// Accept a later copy of a key replacing an earlier one (Redis refuses duplicates in an
    /// RDB file; an AOF preamble followed by commands is a different matter).
    pub allow_duplicates: bool,
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub header: Option<String>,
    pub keys: u64,
    pub expired_skipped: u64,
    /// Empty aggregates, which Redis drops on load.
    pub empty_skipped: u64,
    pub functions: u64,
    /// Offset just past the RDB data (after the checksum, if any).
    pub end: usize,
    /// The checksum was present and matched (false when the file has none or it is 0).
    pub checksum_verified: bool,
}

/// Keys per decoding batch: large enough to amortise the hand-offs, small enough to bound the
/// memory of batches in flight.
const BATCH_KEYS: usize = 2048;
/// Value bytes per batch (big values make smaller batches).
const BATCH_BYTES: usize = 8 << 20;

/// Decoded keys ready for insertion: (db, key, entry, offset of the record).
type Decoded = Vec<(usize, SStr, Entry, u64)>;

/// What one worker made of a run of records.
#[derive(Default)]
struct Part {
    keys: Decoded,
    /// Keys skipped because they had expired (`skip_expired_before`).
    expired: u64,
    /// Empty aggregates, which Redis drops on load.
    empty: u64,
}

/// Load the RDB data at the start of `data` into `ks`.
pub fn load_rdb(data: &[u8], ks: &mut Keyspace, opts: &LoadOptions) -> Result<LoadReport> {
    let header = parse_header(data)?;
    let rdb_ctx = RdbCtx::new(header, opts.deep);
    let cfg = ks.config.clone();
    let ndbs = ks.dbs.len();
    let mut report = LoadReport {
        header: Some(header.display()),
        ..LoadReport::default()
    };
    let mut functions: Vec<Library> = Vec::new();

    let (batch_tx, batch_rx) = sync_channel::<Vec<Framed<'_>>>(4);
    let (done_tx, done_rx) = sync_channel::<Decoded>(4);
    let dbs = &mut ks.dbs;
    let allow_dups = opts.allow_duplicates;

    let outcome: Result<(usize, u64)> = std::thread::scope(|s| {
        // Framing: item boundaries only, in file order.
        let framer = s.spawn(move || frame_all(data, header, batch_tx));
        // Inserting: the only thread that touches the databases.
        let inserter = s.spawn(move || -> Result<(u64, u64)> {
            let (mut keys, mut dups) = (0u64, 0u64);
            for batch in done_rx {
                for (db, key, entry, offset) in batch {
                    let Some(d) = dbs.get_mut(db) else {
                        continue;
                    };
                    if allow_dups {
                        if d.insert_owned(key, entry).is_some() {
                            dups += 1;
                        }
                    } else if let Err(dup) = d.insert_new(key, entry) {
                        return Err(FmtError::new(
                            ErrorKind::Corrupt(format!(
                                "duplicate key '{}' in db {db}",
                                redkit_formats::escape_key(&dup)
                            )),
                            offset,
                            "key",
                        )
                        .into());
                    }
                    keys += 1;
                }
            }
            Ok((keys, dups))
        });

        let mut first_err: Option<Error> = None;
        for batch in batch_rx.iter() {
            if first_err.is_some() {
                continue; // drain so the framer can finish
            }
            let mut recs: Vec<(&KeyRecord<'_>, u64)> = Vec::with_capacity(batch.len());
            for f in &batch {
                match &f.item {
                    Item::Key(rec) => {
                        if rec.db as usize >= ndbs {
                            first_err = Some(
                                FmtError::new(
                                    ErrorKind::Corrupt(format!(
                                        "key in db {} but only {ndbs} databases are configured",
                                        rec.db
                                    )),
                                    f.start,
                                    "key",
                                )
                                .into(),
                            );
                            break;
                        }
                        recs.push((rec, f.start));
                    }
                    Item::Function { code } => match library(code, None, None) {
                        Ok(l) => functions.push(l),
                        Err(e) => first_err = Some(at(e, f.start)),
                    },
                    Item::FunctionPreGa {
                        name, engine, code, ..
                    } => match library(code, Some(name), Some(engine)) {
                        Ok(l) => functions.push(l),
                        Err(e) => first_err = Some(at(e, f.start)),
                    },
                    _ => {}
                }
            }
            if first_err.is_some() {
                continue;
            }
            let results: Vec<std::result::Result<Part, FmtError>> = recs
                .par_chunks(64)
                .map_init(Walker::default, |w, chunk| {
                    let mut part = Part {
                        keys: Vec::with_capacity(chunk.len()),
                        ..Part::default()
                    };
                    for (rec, start) in chunk {
                        if let (Some(t), Some(exp)) = (opts.skip_expired_before, rec.expire_ms) {
                            if exp < t {
                                part.expired += 1;
                                continue;
                            }
                        }
                        let Some(value) = decode_record(&rdb_ctx, w, rec, &cfg)? else {
                            part.empty += 1;
                            continue;
                        };
                        let key = match &rec.key {
                            Str::Raw(b) => SStr::new(b),
                            other => SStr::from(other.to_vec(rec.key_offset)?),
                        };
                        let entry = Entry {
                            value,
                            expire_ms: rec.expire_ms.unwrap_or(super::NO_EXPIRE),
                        };
                        part.keys.push((rec.db as usize, key, entry, *start));
                    }
                    Ok(part)
                })
                .collect();
            let mut merged: Decoded = Vec::with_capacity(recs.len());
            for r in results {
                match r {
                    Ok(part) => {
                        report.expired_skipped += part.expired;
                        report.empty_skipped += part.empty;
                        merged.extend(part.keys);
                    }
                    Err(e) => {
                        first_err = Some(e.into());
                        break;
                    }
                }
            }
            if first_err.is_none() && done_tx.send(merged).is_err() {
                // The inserter stopped: its error is reported below.
                first_err = Some(Error::Other(String::new()));
            }
        }
        drop(done_tx);
        let framed = framer
            .join()
            .map_err(|_| Error::Other("RDB framing thread panicked".into()))?;
        let inserted = inserter
            .join()
            .map_err(|_| Error::Other("key insertion thread panicked".into()))?;
        let (keys, _dups) = inserted?;
        if let Some(e) = first_err {
            return Err(e);
        }
        let end = framed?;
        Ok((end, keys))
    });
    let (eof_end, keys) = outcome?;
    report.keys = keys;
    report.functions = functions.len() as u64;
    for l in functions {
        ks.functions.insert(l.name.clone(), l);
    }
    // The checksum covers everything up to and including the EOF opcode.
    report.end = eof_end;
    if header.has_checksum() {
        let Some(stored) = data.get(eof_end..eof_end + 8) else {
            return Err(FmtError::eof(
                (eof_end + 8 - data.len()) as u64,
                data.len() as u64,
                "checksum",
            )
            .into());
        };
        let stored = u64::from_le_bytes(stored.try_into().unwrap_or([0; 8]));
        report.end = eof_end + 8;
        if stored != 0 {
            let actual = crc64(0, &data[..eof_end]);
            if actual != stored {
                return Err(FmtError::new(
                    ErrorKind::CrcMismatch {
                        expected: stored,
                        actual,
                    },
                    eof_end as u64,
                    "checksum",
                )
                .into());
            }
            report.checksum_verified = true;
        }
    }
    Ok(report)
}

fn at(msg: String, offset: u64) -> Error {
    FmtError::new(ErrorKind::Corrupt(msg), offset, "function library").into()
}

/// Frame `data` into batches; returns the offset just after the EOF opcode.
fn frame_all<'a>(
    data: &'a [u8],
    header: Header,
    tx: std::sync::mpsc::SyncSender<Vec<Framed<'a>>>,
) -> Result<usize> {
    let mut parser = Parser::new(header);
    let mut pos = HEADER_LEN;
    let mut batch = Vec::with_capacity(BATCH_KEYS);
    let mut bytes = 0usize;
    loop {
        let f = parser.next(data, pos, 0)?;
        pos = f.end;
        let eof = matches!(f.item, Item::Eof);
        if let Item::Key(rec) = &f.item {
            bytes += rec.value.len();
        }
        if !eof {
            batch.push(f);
        }
        if eof || batch.len() >= BATCH_KEYS || bytes >= BATCH_BYTES {
            if !batch.is_empty() && tx.send(std::mem::take(&mut batch)).is_err() {
                // The consumer stopped on an error of its own.
                return Ok(pos);
            }
            bytes = 0;
        }
        if eof {
            return Ok(pos);
        }
    }
}

fn library(
    code: &Str<'_>,
    name: Option<&Str<'_>>,
    engine: Option<&Str<'_>>,
) -> std::result::Result<Library, String> {
    let code = code.to_vec(0).map_err(|e| e.to_string())?;
    let (eng, parsed_name) = match (name, engine) {
        (Some(n), Some(e)) => (
            e.to_vec(0).map_err(|e| e.to_string())?,
            n.to_vec(0).map_err(|e| e.to_string())?,
        ),
        _ => parse_library_header(&code)?,
    };
    Ok(Library {
        name: parsed_name,
        engine: eng,
        code,
    })
}

/// Collects a string value or a module value.
#[derive(Default)]
struct Scalar {
    string: Option<Vec<u8>>,
    module: Option<ModuleValue>,
}

impl Sink for Scalar {
    fn string(&mut self, v: &[u8]) {
        self.string = Some(v.to_vec());
    }
    fn module(&mut self, module_id: u64, raw: &[u8]) {
        self.module = Some(ModuleValue {
            module_id,
            raw: raw.to_vec(),
        });
    }
}

/// Decode one key record's value into a keyspace value; `None` for an empty aggregate.
pub fn decode_record(
    ctx: &RdbCtx,
    w: &mut Walker,
    rec: &KeyRecord<'_>,
    cfg: &Config,
) -> std::result::Result<Option<Value>, FmtError> {
    macro_rules! via {
        ($loader:path) => {{
            let mut l = <$loader>::new(cfg);
            decode_value(ctx, w, rec, &mut l)?;
            Ok(l.finish(cfg))
        }};
    }
    match rec.rdb_type {
        TYPE_STRING => {
            // Strings come straight from the record: no copy through the sink when raw.
            if let Str::Raw(b) = string_of(rec)? {
                return Ok(Some(string::string_value(b)));
            }
            let mut s = Scalar::default();
            decode_value(ctx, w, rec, &mut s)?;
            Ok(Some(string::string_value(&s.string.unwrap_or_default())))
        }
        TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            via!(list::Loader)
        }
        TYPE_SET | TYPE_SET_INTSET | TYPE_SET_LISTPACK => via!(set::Loader),
        TYPE_ZSET | TYPE_ZSET_2 | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => via!(zset::Loader),
        TYPE_HASH
        | TYPE_HASH_ZIPMAP
        | TYPE_HASH_ZIPLIST
        | TYPE_HASH_LISTPACK
        | TYPE_HASH_METADATA_PRE_GA
        | TYPE_HASH_LISTPACK_EX_PRE_GA
        | TYPE_HASH_METADATA
        | TYPE_HASH_LISTPACK_EX => via!(hash::Loader),
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            via!(stream::Loader)
        }
        TYPE_MODULE_2 => {
            let mut s = Scalar::default();
            decode_value(ctx, w, rec, &mut s)?;
            Ok(s.module.map(|m| Value::Module(Box::new(m))))
        }
        t => Err(FmtError::new(
            ErrorKind::UnknownType(t),
            rec.value_offset,
            "value type",
        )),
    }
}

/// The string of a type-0 record, undecoded.
fn string_of<'a>(rec: &KeyRecord<'a>) -> std::result::Result<Str<'a>, FmtError> {
    let (s, _) =
        redkit_formats::string::decode(rec.value).map_err(|e| e.rebase(rec.value_offset))?;
    Ok(s)
}

/// Decode a DUMP payload (`<type> <value> <2-byte LE rdb version> <8-byte LE CRC64>`) as
/// RESTORE does. Any version is accepted: up to 11 the layouts are shared, 12..=79 are Redis's
/// and 80 on Valkey's. `Err` carries Redis's reply text.
pub fn value_from_dump(
    payload: &[u8],
    cfg: &Config,
) -> std::result::Result<Option<Value>, &'static str> {
    const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
    const BAD_FORMAT: &str = "ERR Bad data format";
    if payload.len() < 10 {
        return Err(BAD_PAYLOAD);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().map_err(|_| BAD_PAYLOAD)?);
    if crc64(0, &payload[..payload.len() - 8]) != crc {
        return Err(BAD_PAYLOAD);
    }
    let header = if version >= 80 {
        format!("VALKEY{:03}", version.min(999))
    } else {
        format!("REDIS{:04}", version)
    };
    let header = parse_header(header.as_bytes()).map_err(|_| BAD_PAYLOAD)?;
    let ctx = RdbCtx::new(header, true);
    let Some((&rdb_type, value)) = body.split_first() else {
        return Err(BAD_FORMAT);
    };
    if !ctx.is_value_type(rdb_type) {
        return Err(BAD_FORMAT);
    }
    let rec = KeyRecord {
        db: 0,
        rdb_type,
        key: Str::Raw(b""),
        key_offset: 0,
        value,
        value_offset: 1,
        expire_ms: None,
        lru_idle: None,
        lfu_freq: None,
        meta: None,
    };
    let mut w = Walker::default();
    decode_record(&ctx, &mut w, &rec, cfg).map_err(|_| BAD_FORMAT)
}

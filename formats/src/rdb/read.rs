//! Reading RDB files, at three levels (after librdb):
//!
//! 1. **Framing** ([`Parser::next`]): split the file into items (aux fields, db switches, key
//!    records, functions, EOF) without decoding values. A key record hands out the raw bytes of
//!    its value, which is what DUMP payloads and replication need, and what a parallel decoder
//!    takes to a worker thread.
//! 2. **Encoded** ([`Walker::walk`] with a [`Sink`] that only looks at blobs): each value's
//!    serialized parts (listpacks, ziplists, intsets) for checks and statistics.
//! 3. **Logical** ([`Walker::walk`]): elements, members, fields, scores, stream entries and
//!    groups, pushed into a [`Sink`] one at a time, so a huge value never becomes a huge `Vec`.
//!
//! Everything works on byte slices. A framing call that runs out of bytes returns an
//! `UnexpectedEof` error ([`Error::is_incomplete`]); the caller reads more and calls again from
//! the same position, so the reader streams a file of any size through a bounded window.
//!
//! Key record layout: optional prefixes `EXPIRETIME_MS <8-byte LE ms>`, `EXPIRETIME <4-byte LE
//! seconds>`, `IDLE <length>`, `FREQ <1 byte>`, `KEY_META <count> (<4-byte class> <module data>)*`
//! (Redis RDB 13); then the type byte, the key (an RDB string) and the value.
//!
//! Value layouts by type (strings are RDB strings, lengths RDB lengths, see `string.rs`):
//! - 0 string: one string.
//! - 1 list, 2 set: count, then that many strings.
//! - 3 zset: count, then (member string, score as 1-byte length + ASCII; 253 NaN, 254 +inf,
//!   255 -inf). 5 zset2: count, then (member, 8-byte LE binary double).
//! - 4 hash: count, then (field, value) strings.
//! - 6 module (pre-GA): no generic layout; cannot be skipped. 7 module: 64-bit module id as a
//!   length, then typed items `<opcode length>` 1/2 = a length, 3 = 4-byte float, 4 = 8-byte
//!   double, 5 = a string, until opcode 0.
//! - 9 zipmap, 10 ziplist list, 11 intset, 12 ziplist zset, 13 ziplist hash, 16 listpack hash,
//!   17 listpack zset, 20 listpack set: one string holding the blob.
//! - 14 quicklist: count, then ziplist blobs. 18 quicklist 2: count, then (container length:
//!   1 plain = the string is one element, 2 packed = a listpack).
//! - 15/19/21 stream: count of (16-byte master id string, listpack), then length, last id
//!   (ms, seq lengths); from 19: first id, max deleted id, entries added; then groups: count,
//!   (name, last delivered id, from 19 entries read, PEL count, (16-byte raw id, 8-byte LE
//!   delivery ms, delivery count), consumers count, (name, 8-byte LE seen ms, from 21 8-byte LE
//!   active ms, PEL count, 16-byte raw ids)).
//! - 22 in Redis (7.4 RC): count, then (ttl length (absolute ms, 0 none), field, value).
//!   22 in Valkey (hash2): count, then (field, value, 8-byte LE signed absolute ms, -1 none).
//! - 24: 8-byte LE minimum expiry, count, then (ttl length: 0 none, else minimum + ttl - 1,
//!   field, value).
//! - 23: a listpack of (field, value, ttl) triples, ttl absolute ms, 0 none. 25: an 8-byte LE
//!   minimum expiry, then the same listpack.

use super::consts::*;
use crate::length::{self, Len};
use crate::string::{self, Str};
use crate::{intset, listpack, ziplist, zipmap, Elem, Error, ErrorKind, Result};

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub family: Family,
    /// The number in the header: 1..=13 for Redis, 80 for `VALKEY080`.
    pub version: u32,
}

/// Highest Redis RDB version understood.
pub const MAX_REDIS_VERSION: u32 = 13;
/// The Valkey versions understood (`VALKEY080`).
pub const VALKEY_VERSIONS: [u32; 1] = [80];
/// Size of the header in bytes (both families).
pub const HEADER_LEN: usize = 9;

impl Header {
    /// True when the file ends with an 8-byte CRC64 after the EOF opcode (version 5 on).
    pub fn has_checksum(&self) -> bool {
        self.family == Family::Valkey || self.version >= 5
    }

    pub fn display(&self) -> String {
        match self.family {
            Family::Redis => format!("REDIS{:04}", self.version),
            Family::Valkey => format!("VALKEY{:03}", self.version),
        }
    }
}

/// Parse the 9-byte header.
pub fn parse_header(data: &[u8]) -> Result<Header> {
    let head = |n: usize| data.get(..n);
    let (family, digits) = if head(5) == Some(b"REDIS") {
        (Family::Redis, data.get(5..9))
    } else if head(6) == Some(b"VALKEY") {
        (Family::Valkey, data.get(6..9))
    } else if data.len() < 6 && (b"REDIS".starts_with(data) || b"VALKEY".starts_with(data)) {
        return Err(Error::eof(
            (6 - data.len()) as u64,
            data.len() as u64,
            "header",
        ));
    } else {
        return Err(Error::new(ErrorKind::BadMagic, 0, "header"));
    };
    let Some(digits) = digits else {
        return Err(Error::eof(
            (HEADER_LEN - data.len()) as u64,
            data.len() as u64,
            "header",
        ));
    };
    // Escaped: the header of a damaged file may hold any bytes, the message stays one line.
    let text = crate::escape_key(digits);
    let version: u32 = if digits.iter().all(u8::is_ascii_digit) {
        text.parse().unwrap_or(0)
    } else {
        0
    };
    let ok = match family {
        Family::Redis => (1..=MAX_REDIS_VERSION).contains(&version),
        Family::Valkey => VALKEY_VERSIONS.contains(&version),
    };
    if !ok {
        let shown = match family {
            Family::Redis => format!("REDIS{text}"),
            Family::Valkey => format!("VALKEY{text}"),
        };
        return Err(Error::new(
            ErrorKind::UnsupportedVersion(shown),
            5 + (family == Family::Valkey) as u64,
            "header",
        ));
    }
    Ok(Header { family, version })
}

/// A bounds-checked reader over a byte slice whose first byte sits at absolute offset `base`.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8], pos: usize, base: u64) -> Self {
        Cursor { data, pos, base }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    #[inline]
    pub fn u8(&mut self, doing: &'static str) -> Result<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(Error::eof(1, self.offset(), doing)),
        }
    }

    #[inline]
    pub fn take(&mut self, n: usize, doing: &'static str) -> Result<&'a [u8]> {
        let rest = self.rest();
        if rest.len() < n {
            return Err(Error::eof((n - rest.len()) as u64, self.offset(), doing));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    #[inline]
    pub fn array<const N: usize>(&mut self, doing: &'static str) -> Result<[u8; N]> {
        let b = self.take(N, doing)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn u64_le(&mut self, doing: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(doing)?))
    }

    /// A length field; a special-encoding byte here is corruption.
    #[inline]
    pub fn length(&mut self, doing: &'static str) -> Result<u64> {
        if let Some(&b) = self.data.get(self.pos) {
            if b < 0x40 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.length_slow(doing)
    }

    #[inline(never)]
    fn length_slow(&mut self, doing: &'static str) -> Result<u64> {
        let at = self.offset();
        let (l, n) = length::decode(self.rest()).map_err(|e| retag(e.rebase(at), doing))?;
        match l {
            Len::Len(v) => {
                self.pos += n;
                Ok(v)
            }
            Len::Encoded(_) => Err(Error::corrupt(
                "string encoding where a length was expected",
                at,
                doing,
            )),
        }
    }

    /// A count of items (a length field). Never used to preallocate: a count larger than the
    /// data simply runs into the end of the input item by item.
    pub fn count(&mut self, doing: &'static str) -> Result<u64> {
        self.length(doing)
    }

    #[inline]
    pub fn string(&mut self, doing: &'static str) -> Result<Str<'a>> {
        // Fast paths for the common cases: short plain strings and small integers.
        let rest = self.rest();
        match *rest {
            [b, ..] if b < 0x40 => {
                if let Some(s) = rest.get(1..1 + b as usize) {
                    self.pos += 1 + b as usize;
                    return Ok(Str::Raw(s));
                }
            }
            [b, c, ..] if b < 0x80 => {
                let n = (((b & 0x3f) as usize) << 8) | c as usize;
                if let Some(s) = rest.get(2..2 + n) {
                    self.pos += 2 + n;
                    return Ok(Str::Raw(s));
                }
            }
            [0xc0, x, ..] => {
                self.pos += 2;
                return Ok(Str::Int(i64::from(x as i8)));
            }
            [0xc1, x, y, ..] => {
                self.pos += 3;
                return Ok(Str::Int(i64::from(i16::from_le_bytes([x, y]))));
            }
            [0xc2, x, y, z, w, ..] => {
                self.pos += 5;
                return Ok(Str::Int(i64::from(i32::from_le_bytes([x, y, z, w]))));
            }
            _ => {}
        }
        self.string_slow(doing)
    }

    /// Skip `n` strings (framing of plain lists, sets and hashes: the hottest loop there is).
    pub fn skip_strings(&mut self, n: u64, doing: &'static str) -> Result<()> {
        for _ in 0..n {
            let rest = self.data.get(self.pos..).unwrap_or(&[]);
            let step = match rest {
                [b, ..] if *b < 0x40 => 1 + *b as usize,
                [b, c, ..] if *b < 0x80 => 2 + ((((*b & 0x3f) as usize) << 8) | *c as usize),
                [0xc0, ..] => 2,
                [0xc1, ..] => 3,
                [0xc2, ..] => 5,
                _ => usize::MAX,
            };
            if step <= rest.len() {
                self.pos += step;
            } else {
                self.string_slow(doing)?;
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn string_slow(&mut self, doing: &'static str) -> Result<Str<'a>> {
        let at = self.offset();
        let (s, n) = string::decode(self.rest()).map_err(|e| retag(e.rebase(at), doing))?;
        self.pos += n;
        Ok(s)
    }
}

/// Keep the innermost decoder's description unless it only said "length"/"string".
fn retag(mut e: Error, doing: &'static str) -> Error {
    if matches!(e.doing, "length" | "string") {
        e.doing = doing;
    }
    e
}

/// One framed item of an RDB file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    Aux {
        name: Str<'a>,
        value: Str<'a>,
    },
    SelectDb(u64),
    ResizeDb {
        db_size: u64,
        expires_size: u64,
    },
    SlotInfo {
        slot: u64,
        size: u64,
        expires_size: u64,
    },
    /// Valkey 9 slot import state (opcode 243 in a VALKEY file), kept raw.
    SlotImport {
        raw: &'a [u8],
    },
    ModuleAux {
        module_id: u64,
        /// Everything after the module id, up to and including the module EOF opcode.
        raw: &'a [u8],
    },
    /// A function library (opcode 245): its source code.
    Function {
        code: Str<'a>,
    },
    /// The Redis 7.0 release-candidate function format (opcode 246).
    FunctionPreGa {
        name: Str<'a>,
        engine: Str<'a>,
        description: Option<Str<'a>>,
        code: Str<'a>,
    },
    Key(KeyRecord<'a>),
    /// The EOF opcode. The checksum (if the version has one) follows it.
    Eof,
}

/// A key and its still-serialized value.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord<'a> {
    pub db: u64,
    pub rdb_type: u8,
    pub key: Str<'a>,
    /// Absolute offset of the key string.
    pub key_offset: u64,
    /// The serialized value, from just after the key to the record's end.
    pub value: &'a [u8],
    /// Absolute offset of `value`.
    pub value_offset: u64,
    /// Absolute expiry in unix ms (EXPIRETIME seconds are converted).
    pub expire_ms: Option<i64>,
    pub lru_idle: Option<u64>,
    pub lfu_freq: Option<u8>,
    /// Raw KEY_META block (Redis RDB 13), after the opcode.
    pub meta: Option<&'a [u8]>,
}

/// Framing state: the file's header and the current db.
#[derive(Debug, Clone)]
pub struct Parser {
    pub header: Header,
    pub db: u64,
    /// The writer's rdb version matters for layouts; these flags are derived from it once.
    ctx: Ctx,
}

/// What a value decoder needs to know about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    pub family: Family,
    pub version: u32,
    /// Deep integrity checks, like Redis's `sanitize-dump-payload yes`: every entry of every
    /// blob is validated, counts are checked against headers, duplicate members are rejected.
    pub deep: bool,
}

impl Ctx {
    pub fn new(header: Header, deep: bool) -> Self {
        Ctx {
            family: header.family,
            version: header.version,
            deep,
        }
    }

    /// Is `t` a value type in this file's family and version?
    pub fn is_value_type(&self, t: u8) -> bool {
        match t {
            0..=7 | 9..=21 => true,
            22 => true,
            23..=25 => self.family == Family::Redis,
            _ => false,
        }
    }
}

/// The largest hash field expiry Redis stores (48 bits of milliseconds).
const HASH_FIELD_EXPIRE_MAX: i64 = (1 << 48) - 1;

/// Result of one framing step: the item, its starting offset, and the position after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Framed<'a> {
    pub item: Item<'a>,
    pub start: u64,
    pub end: usize,
}

impl Parser {
    pub fn new(header: Header) -> Self {
        Parser {
            header,
            db: 0,
            ctx: Ctx::new(header, false),
        }
    }

    pub fn ctx(&self) -> Ctx {
        self.ctx
    }

    /// Frame the next item of `data` starting at `pos` (`data[0]` is at absolute offset `base`).
    /// On `UnexpectedEof`, nothing was consumed: call again with more bytes from the same `pos`.
    pub fn next<'a>(&mut self, data: &'a [u8], pos: usize, base: u64) -> Result<Framed<'a>> {
        let mut cur = Cursor::new(data, pos, base);
        let start = cur.offset();
        let mut expire_ms = None;
        let mut lru_idle = None;
        let mut lfu_freq = None;
        let mut meta = None;
        loop {
            let op_at = cur.offset();
            let op = cur.u8("opcode")?;
            let item = match op {
                OP_EXPIRETIME_MS => {
                    expire_ms = Some(cur.u64_le("expire time")? as i64);
                    continue;
                }
                OP_EXPIRETIME => {
                    let s = i32::from_le_bytes(cur.array("expire time")?);
                    expire_ms = Some(i64::from(s) * 1000);
                    continue;
                }
                OP_IDLE => {
                    lru_idle = Some(cur.length("LRU idle time")?);
                    continue;
                }
                OP_FREQ => {
                    lfu_freq = Some(cur.u8("LFU frequency")?);
                    continue;
                }
                OP_KEY_META_OR_SLOT_IMPORT if self.header.family == Family::Valkey => {
                    let s = cur.pos();
                    cur.string("slot import job name")?;
                    let n = cur.length("slot import range count")?;
                    for _ in 0..n {
                        cur.length("slot import range")?;
                        cur.length("slot import range")?;
                    }
                    Item::SlotImport {
                        raw: &data[s..cur.pos()],
                    }
                }
                OP_KEY_META_OR_SLOT_IMPORT if self.header.version >= 13 => {
                    let s = cur.pos();
                    let n = cur.length("key metadata class count")?;
                    for _ in 0..n {
                        cur.take(4, "key metadata class")?;
                        skip_module_items(&mut cur, "key metadata")?;
                    }
                    meta = Some(&data[s..cur.pos()]);
                    continue;
                }
                OP_SLOT_INFO => Item::SlotInfo {
                    slot: cur.length("slot info")?,
                    size: cur.length("slot info")?,
                    expires_size: cur.length("slot info")?,
                },
                OP_FUNCTION2 => Item::Function {
                    code: cur.string("function library")?,
                },
                OP_FUNCTION_PRE_GA => {
                    let name = cur.string("function name")?;
                    let engine = cur.string("function engine")?;
                    // Any non-zero flag means a description follows (as the 7.0 RC loader read it).
                    let description = match cur.length("function description flag")? {
                        0 => None,
                        _ => Some(cur.string("function description")?),
                    };
                    let code = cur.string("function code")?;
                    Item::FunctionPreGa {
                        name,
                        engine,
                        description,
                        code,
                    }
                }
                OP_MODULE_AUX => {
                    let module_id = cur.length("module aux id")?;
                    let s = cur.pos();
                    let when_op = cur.length("module aux when")?;
                    if when_op != MODULE_OP_UINT {
                        return Err(Error::corrupt(
                            format!("module aux 'when' opcode {when_op}, expected 2"),
                            cur.offset(),
                            "module aux",
                        ));
                    }
                    cur.length("module aux when")?;
                    skip_module_items(&mut cur, "module aux data")?;
                    Item::ModuleAux {
                        module_id,
                        raw: &data[s..cur.pos()],
                    }
                }
                OP_AUX => Item::Aux {
                    name: cur.string("aux field name")?,
                    value: cur.string("aux field value")?,
                },
                OP_RESIZEDB => Item::ResizeDb {
                    db_size: cur.length("resizedb")?,
                    expires_size: cur.length("resizedb")?,
                },
                OP_SELECTDB => {
                    let db = cur.length("db number")?;
                    Item::SelectDb(db)
                }
                OP_EOF => Item::Eof,
                t if self.ctx.is_value_type(t) => {
                    let key_offset = cur.offset();
                    let key = cur.string("key")?;
                    let vs = cur.pos();
                    let value_offset = cur.offset();
                    let mut w = Walker::default();
                    w.walk(&self.ctx, t, &mut cur, &mut SkipSink)
                        .map_err(|e| keyed(e, key))?;
                    Item::Key(KeyRecord {
                        db: self.db,
                        rdb_type: t,
                        key,
                        key_offset,
                        value: &data[vs..cur.pos()],
                        value_offset,
                        expire_ms,
                        lru_idle,
                        lfu_freq,
                        meta,
                    })
                }
                t => {
                    return Err(Error::new(ErrorKind::UnknownType(t), op_at, "record type"));
                }
            };
            if let Item::SelectDb(db) = item {
                self.db = db;
            }
            return Ok(Framed {
                item,
                start,
                end: cur.pos(),
            });
        }
    }
}

/// Attach the key to an error.
fn keyed(e: Error, key: Str<'_>) -> Error {
    match key {
        Str::Raw(k) => e.with_key(k),
        Str::Int(i) => e.with_key(i.to_string().as_bytes()),
        // Errors are rare: decompressing a compressed key to name it is worth it.
        Str::Lzf { .. } => match key.to_vec(0) {
            Ok(k) => e.with_key(&k),
            Err(_) => e,
        },
    }
}

/// Skip typed module items up to and including the module EOF opcode.
fn skip_module_items(cur: &mut Cursor<'_>, doing: &'static str) -> Result<()> {
    loop {
        let at = cur.offset();
        match cur.length(doing)? {
            MODULE_OP_EOF => return Ok(()),
            MODULE_OP_SINT | MODULE_OP_UINT => {
                cur.length(doing)?;
            }
            MODULE_OP_FLOAT => {
                cur.take(4, doing)?;
            }
            MODULE_OP_DOUBLE => {
                cur.take(8, doing)?;
            }
            MODULE_OP_STRING => {
                cur.string(doing)?;
            }
            op => return Err(Error::new(ErrorKind::UnknownModuleOpcode(op), at, doing)),
        }
    }
}

/// A stream entry or group id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    fn from_be(b: &[u8]) -> Option<StreamId> {
        let a: [u8; 16] = b.try_into().ok()?;
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&a[..8]);
        seq.copy_from_slice(&a[8..]);
        Some(StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Stream metadata stored after the entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamMeta {
    pub length: u64,
    pub last_id: StreamId,
    /// Not stored before type 19.
    pub first_id: Option<StreamId>,
    pub max_deleted_id: Option<StreamId>,
    pub entries_added: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: StreamId,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
    /// Index into the group's consumers, once a consumer claims it.
    pub consumer: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    pub seen_time_ms: u64,
    /// Not stored before type 21.
    pub active_time_ms: Option<u64>,
    pub pending: Vec<StreamId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: Vec<u8>,
    pub last_delivered_id: StreamId,
    /// Not stored before type 19; None also when Redis stored -1 (unknown).
    pub entries_read: Option<u64>,
    pub pending: Vec<PendingEntry>,
    pub consumers: Vec<Consumer>,
}

/// Receives a value's logical contents. Every method has an empty default, so a sink implements
/// only what it cares about. Element slices are only valid during the call.
pub trait Sink {
    /// False for sinks that only need the value's extent (framing): blobs are not opened and
    /// compressed strings are not decompressed.
    const DECODE: bool = true;
    /// A count the file announces before the elements (untrusted: never preallocate from it).
    fn len_hint(&mut self, _n: u64) {}
    /// The value of a string key.
    fn string(&mut self, _v: &[u8]) {}
    fn list_elem(&mut self, _e: Elem<'_>) {}
    fn set_member(&mut self, _e: Elem<'_>) {}
    fn zset_member(&mut self, _m: Elem<'_>, _score: f64) {}
    /// A hash field; `expire_ms` is the field's own absolute expiry, if any.
    fn hash_field(&mut self, _f: Elem<'_>, _v: Elem<'_>, _expire_ms: Option<i64>) {}
    /// A live (not deleted) stream entry with its field/value pairs.
    fn stream_entry(&mut self, _id: StreamId, _fields: &[(Elem<'_>, Elem<'_>)]) {}
    fn stream_meta(&mut self, _m: &StreamMeta) {}
    fn stream_group(&mut self, _g: &Group) {}
    /// A module value: its 64-bit type id and the whole serialized value.
    fn module(&mut self, _module_id: u64, _raw: &[u8]) {}
    /// A serialized blob inside the value (listpack, ziplist, intset, zipmap, or a stream
    /// listpack), with the RDB type it belongs to: the "encoded" level for stats and checks.
    fn blob(&mut self, _rdb_type: u8, _bytes: &[u8]) {}
}

/// A sink that wants nothing: used for framing.
pub struct SkipSink;
impl Sink for SkipSink {
    const DECODE: bool = false;
}

/// Counts a value's elements: list elements, set/zset members, hash fields, stream entries;
/// 1 for strings and module values. Every element is really produced, so this is also what
/// checks and fuzzing decode into.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CountSink(pub u64);

impl Sink for CountSink {
    fn string(&mut self, _v: &[u8]) {
        self.0 += 1;
    }
    fn list_elem(&mut self, _e: Elem<'_>) {
        self.0 += 1;
    }
    fn set_member(&mut self, _e: Elem<'_>) {
        self.0 += 1;
    }
    fn zset_member(&mut self, _m: Elem<'_>, _s: f64) {
        self.0 += 1;
    }
    fn hash_field(&mut self, _f: Elem<'_>, _v: Elem<'_>, _e: Option<i64>) {
        self.0 += 1;
    }
    fn stream_entry(&mut self, _id: StreamId, _f: &[(Elem<'_>, Elem<'_>)]) {
        self.0 += 1;
    }
    fn module(&mut self, _id: u64, _raw: &[u8]) {
        self.0 += 1;
    }
}

/// Reusable scratch space for decoding values (decompressed strings and blobs).
#[derive(Default)]
pub struct Walker {
    a: Vec<u8>,
    b: Vec<u8>,
    blob: Vec<u8>,
    dups: DupTable,
}

/// Decode the value of a framed record into `sink`.
pub fn decode_value<S: Sink>(
    ctx: &Ctx,
    walker: &mut Walker,
    rec: &KeyRecord<'_>,
    sink: &mut S,
) -> Result<()> {
    let mut cur = Cursor::new(rec.value, 0, rec.value_offset);
    walker
        .walk(ctx, rec.rdb_type, &mut cur, sink)
        .map_err(|e| keyed(e, rec.key))?;
    if !cur.is_empty() {
        return Err(Error::new(
            ErrorKind::Trailing((rec.value.len() - cur.pos()) as u64),
            cur.offset(),
            "value",
        ));
    }
    Ok(())
}

/// Parse a double stored as text (zset type 3 and ziplist/listpack zset scores).
fn parse_score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    match s {
        "inf" | "+inf" | "Inf" | "+Inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-Inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" | "NaN" | "-nan" => Some(f64::NAN),
        _ => s.trim().parse().ok(),
    }
}

fn elem_score(e: Elem<'_>) -> Option<f64> {
    match e {
        Elem::Int(i) => Some(i as f64),
        Elem::Bytes(b) => parse_score(b),
    }
}

/// A 64-bit hash of an element's string form (integers hash as their decimal text, so `Int(5)`
/// and `Bytes("5")` collide as they should), for duplicate detection in deep checks.
fn fingerprint(e: Elem<'_>) -> u64 {
    let int = |i: i64| hash_bytes(&i.to_le_bytes()) ^ 0x5bd1_e995;
    match e {
        Elem::Int(i) => int(i),
        // A string that is a canonical integer is the same member as that integer.
        Elem::Bytes(b) if b.len() <= 20 && matches!(b.first(), Some(b'-' | b'0'..=b'9')) => {
            match crate::listpack::parse_canonical_i64(b) {
                Some(i) => int(i),
                None => hash_bytes(b),
            }
        }
        Elem::Bytes(b) => hash_bytes(b),
    }
}

/// A string as an element: integers stay integers (no formatting), LZF is decompressed.
#[inline]
fn elem_of<'s>(s: Str<'s>, scratch: &'s mut Vec<u8>, at: u64) -> Result<Elem<'s>> {
    match s {
        Str::Raw(b) => Ok(Elem::Bytes(b)),
        Str::Int(i) => Ok(Elem::Int(i)),
        Str::Lzf { .. } => Ok(Elem::Bytes(s.bytes(scratch, at)?)),
    }
}

/// A small fast hash (two overlapping 8-byte loads for the common short members).
/// Duplicates are judged by hash alone: a false positive between two members of one value is
/// about n^2/2^65 likely (3e-14 for 1000 members).
#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xd6e8_feb8_6659_fd93;
    let n = b.len();
    let mix = |a: u64, b: u64| {
        let m = u128::from(a ^ K1) * u128::from(b ^ K2);
        (m as u64) ^ ((m >> 64) as u64)
    };
    let le8 = |s: &[u8]| {
        let mut t = [0u8; 8];
        t.copy_from_slice(&s[..8]);
        u64::from_le_bytes(t)
    };
    let (a, c) = if n > 16 {
        let mut h = n as u64;
        let mut i = 0;
        while n - i > 16 {
            h = mix(h ^ le8(&b[i..]), le8(&b[i + 8..]));
            i += 16;
        }
        // The last 16 bytes, overlapping what the loop already mixed.
        (h ^ le8(&b[n - 16..]), le8(&b[n - 8..]))
    } else if n >= 8 {
        (le8(b) ^ n as u64, le8(&b[n - 8..]))
    } else if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        (u64::from(lo) | (n as u64) << 32, u64::from(hi))
    } else if n > 0 {
        let v = u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16;
        (v | (n as u64) << 32, 0)
    } else {
        (0, 0)
    };
    mix(a, c)
}

/// Open-addressing set of fingerprints, reused across values. Each value gets a table sized
/// for its announced count (capped; it grows if the count lied), so small values stay in cache
/// and clearing costs only the slots the value used.
#[derive(Default)]
struct DupTable {
    /// 0 is an empty slot; stored hashes have their low bit set.
    slots: Vec<u64>,
    mask: usize,
    used: usize,
    /// Set by `note` when an insert found the hash already present.
    dup_seen: bool,
}

impl DupTable {
    /// Start a new value expected to hold about `n` members (an untrusted hint).
    fn begin(&mut self, n: u64) {
        let want = (n.min(1 << 16) as usize * 2).next_power_of_two().max(16);
        self.reset(want);
        self.dup_seen = false;
    }

    fn reset(&mut self, size: usize) {
        if self.slots.len() < size {
            self.slots.resize(size, 0);
        }
        self.slots[..size].fill(0);
        self.mask = size - 1;
        self.used = 0;
    }

    #[inline]
    fn note(&mut self, h: u64) {
        if !self.insert(h | 1) {
            self.dup_seen = true;
        }
    }

    /// Insert a hash with its low bit set; false when already present.
    #[inline]
    fn insert(&mut self, h: u64) -> bool {
        if self.slots.is_empty() {
            self.reset(16);
        }
        if (self.used + 1) * 2 > self.mask + 1 {
            self.grow();
        }
        let mut i = (h >> 1) as usize & self.mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                self.slots[i] = h;
                self.used += 1;
                return true;
            }
            if s == h {
                return false;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let old: Vec<u64> = self.slots[..=self.mask]
            .iter()
            .copied()
            .filter(|&h| h != 0)
            .collect();
        self.reset((self.mask + 1) * 2);
        for h in old {
            self.insert(h);
        }
    }
}

impl Walker {
    /// Walk one value of type `t` at the cursor, feeding `sink`.
    pub fn walk<'a, S: Sink>(
        &mut self,
        ctx: &Ctx,
        t: u8,
        cur: &mut Cursor<'a>,
        sink: &mut S,
    ) -> Result<()> {
        let check_dups = S::DECODE && ctx.deep;
        if check_dups {
            self.dups.begin(16);
        }
        let start = cur.offset();
        if !S::DECODE {
            // Framing only needs the extent of plain collections: skip their strings fast.
            match t {
                TYPE_LIST | TYPE_SET => {
                    let n = cur.count("element count")?;
                    return cur.skip_strings(n, "element");
                }
                TYPE_HASH => {
                    let n = cur.count("hash field count")?;
                    return cur.skip_strings(n.saturating_mul(2), "hash field or value");
                }
                _ => {}
            }
        }
        match t {
            TYPE_STRING => {
                let at = cur.offset();
                let s = cur.string("string value")?;
                if S::DECODE {
                    let v = s.bytes(&mut self.a, at)?;
                    sink.len_hint(1);
                    sink.string(v);
                }
            }
            TYPE_LIST | TYPE_SET => {
                let n = cur.count("element count")?;
                sink.len_hint(n);
                if check_dups {
                    self.dups.begin(n);
                }
                for _ in 0..n {
                    let at = cur.offset();
                    let s = cur.string(if t == TYPE_LIST {
                        "list element"
                    } else {
                        "set member"
                    })?;
                    if S::DECODE {
                        let e = elem_of(s, &mut self.a, at)?;
                        if t == TYPE_LIST {
                            sink.list_elem(e);
                        } else {
                            if check_dups {
                                self.dups.note(fingerprint(e));
                            }
                            sink.set_member(e);
                        }
                    }
                }
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = cur.count("zset member count")?;
                sink.len_hint(n);
                if check_dups {
                    self.dups.begin(n);
                }
                for _ in 0..n {
                    let at = cur.offset();
                    let m = cur.string("zset member")?;
                    let score_at = cur.offset();
                    let score = if t == TYPE_ZSET_2 {
                        f64::from_le_bytes(cur.array("zset score")?)
                    } else {
                        let l = cur.u8("zset score")?;
                        match l {
                            253 => f64::NAN,
                            254 => f64::INFINITY,
                            255 => f64::NEG_INFINITY,
                            _ => {
                                let b = cur.take(l as usize, "zset score")?;
                                match parse_score(b) {
                                    Some(f) => f,
                                    None if S::DECODE => {
                                        return Err(Error::new(
                                            ErrorKind::BadDouble(b.to_vec()),
                                            score_at,
                                            "zset score",
                                        ))
                                    }
                                    None => 0.0,
                                }
                            }
                        }
                    };
                    if S::DECODE {
                        // Redis refuses NaN scores in every mode.
                        if score.is_nan() {
                            return Err(Error::corrupt(
                                "zset score is NaN",
                                score_at,
                                "zset score",
                            ));
                        }
                        let e = elem_of(m, &mut self.a, at)?;
                        if check_dups {
                            self.dups.note(fingerprint(e));
                        }
                        sink.zset_member(e, score);
                    }
                }
            }
            TYPE_HASH => {
                let n = cur.count("hash field count")?;
                sink.len_hint(n);
                if check_dups {
                    self.dups.begin(n);
                }
                for _ in 0..n {
                    let fa = cur.offset();
                    let f = cur.string("hash field")?;
                    let va = cur.offset();
                    let v = cur.string("hash value")?;
                    if S::DECODE {
                        let f = elem_of(f, &mut self.a, fa)?;
                        let v = elem_of(v, &mut self.b, va)?;
                        if check_dups {
                            self.dups.note(fingerprint(f));
                        }
                        sink.hash_field(f, v, None);
                    }
                }
            }
            TYPE_HASH_METADATA_PRE_GA if ctx.family == Family::Valkey => {
                let n = cur.count("hash field count")?;
                sink.len_hint(n);
                if check_dups {
                    self.dups.begin(n);
                }
                for _ in 0..n {
                    let fa = cur.offset();
                    let f = cur.string("hash field")?;
                    let va = cur.offset();
                    let v = cur.string("hash value")?;
                    let ttl = cur.u64_le("hash field expiry")? as i64;
                    if S::DECODE {
                        let f = elem_of(f, &mut self.a, fa)?;
                        let v = elem_of(v, &mut self.b, va)?;
                        if check_dups {
                            self.dups.note(fingerprint(f));
                        }
                        sink.hash_field(f, v, (ttl != -1).then_some(ttl));
                    }
                }
            }
            TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA => {
                let min = if t == TYPE_HASH_METADATA {
                    Some(cur.u64_le("hash minimum expiry")?)
                } else {
                    None
                };
                let n = cur.count("hash field count")?;
                sink.len_hint(n);
                if check_dups {
                    self.dups.begin(n);
                }
                for _ in 0..n {
                    let ta = cur.offset();
                    let ttl = cur.length("hash field expiry")?;
                    let fa = cur.offset();
                    let f = cur.string("hash field")?;
                    let va = cur.offset();
                    let v = cur.string("hash value")?;
                    if S::DECODE {
                        let exp = match (ttl, min) {
                            (0, _) => None,
                            (ttl, Some(min)) => Some(
                                ttl.checked_add(min)
                                    .and_then(|x| x.checked_sub(1))
                                    .and_then(|x| i64::try_from(x).ok())
                                    .ok_or_else(|| {
                                        Error::corrupt(
                                            "field expiry overflows",
                                            ta,
                                            "hash field expiry",
                                        )
                                    })?,
                            ),
                            (ttl, None) => Some(i64::try_from(ttl).map_err(|_| {
                                Error::corrupt("field expiry overflows", ta, "hash field expiry")
                            })?),
                        };
                        // Redis keeps field expiries in 48 bits.
                        if exp.is_some_and(|x| x > HASH_FIELD_EXPIRE_MAX) {
                            return Err(Error::corrupt(
                                format!("field expiry {} beyond 2^48-1", exp.unwrap_or(0)),
                                ta,
                                "hash field expiry",
                            ));
                        }
                        let f = elem_of(f, &mut self.a, fa)?;
                        let v = elem_of(v, &mut self.b, va)?;
                        if check_dups {
                            self.dups.note(fingerprint(f));
                        }
                        sink.hash_field(f, v, exp);
                    }
                }
            }
            TYPE_MODULE_PRE_GA => {
                return Err(Error::new(ErrorKind::ModulePreGa, start, "module value"));
            }
            TYPE_MODULE_2 => {
                let id = cur.length("module id")?;
                skip_module_items(cur, "module value")?;
                if S::DECODE {
                    let raw = cur_slice(cur, start);
                    sink.len_hint(1);
                    sink.module(id, raw);
                }
            }
            TYPE_HASH_ZIPMAP
            | TYPE_LIST_ZIPLIST
            | TYPE_SET_INTSET
            | TYPE_ZSET_ZIPLIST
            | TYPE_HASH_ZIPLIST
            | TYPE_HASH_LISTPACK
            | TYPE_ZSET_LISTPACK
            | TYPE_SET_LISTPACK
            | TYPE_HASH_LISTPACK_EX_PRE_GA
            | TYPE_HASH_LISTPACK_EX => {
                if t == TYPE_HASH_LISTPACK_EX {
                    cur.u64_le("hash minimum expiry")?;
                }
                let at = cur.offset();
                let s = cur.string("encoded value")?;
                if S::DECODE {
                    let base = BlobBase::of(&s, at, cur.offset());
                    let blob = s.bytes(&mut self.blob, at)?;
                    sink.blob(t, blob);
                    walk_blob(ctx, t, blob, base, sink, &mut self.dups, check_dups)?;
                }
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let n = cur.count("quicklist node count")?;
                sink.len_hint(n);
                if check_dups {
                    self.dups.begin(n);
                }
                for _ in 0..n {
                    let container = if t == TYPE_LIST_QUICKLIST_2 {
                        let ca = cur.offset();
                        let c = cur.length("quicklist node container")?;
                        if c != QUICKLIST_NODE_PLAIN && c != QUICKLIST_NODE_PACKED {
                            return Err(Error::corrupt(
                                format!("quicklist node container {c} (expected 1 or 2)"),
                                ca,
                                "quicklist node",
                            ));
                        }
                        c
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    let at = cur.offset();
                    let s = cur.string("quicklist node")?;
                    if !S::DECODE {
                        continue;
                    }
                    let base = BlobBase::of(&s, at, cur.offset());
                    let blob = s.bytes(&mut self.blob, at)?;
                    if container == QUICKLIST_NODE_PLAIN {
                        sink.list_elem(Elem::Bytes(blob));
                        continue;
                    }
                    sink.blob(t, blob);
                    let sub = if t == TYPE_LIST_QUICKLIST {
                        TYPE_LIST_ZIPLIST
                    } else {
                        TYPE_LIST_QUICKLIST_2
                    };
                    // Redis skips empty nodes on load (an old bug could write them), so an
                    // empty node is not an error; a list left empty is an empty key.
                    let mut no_fp = DupTable::default();
                    walk_blob(ctx, sub, blob, base, sink, &mut no_fp, false)?;
                }
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                self.walk_stream(ctx, t, cur, sink)?;
            }
            t => return Err(Error::new(ErrorKind::UnknownType(t), start, "value type")),
        }
        if check_dups && self.dups.dup_seen {
            return Err(Error::corrupt("duplicate member or field", start, "value"));
        }
        Ok(())
    }

    fn walk_stream<'a, S: Sink>(
        &mut self,
        ctx: &Ctx,
        t: u8,
        cur: &mut Cursor<'a>,
        sink: &mut S,
    ) -> Result<()> {
        let n = cur.count("stream listpack count")?;
        let start = cur.offset();
        let mut masters = Vec::new();
        for _ in 0..n {
            let ka = cur.offset();
            let k = cur.string("stream node key")?;
            let master = match k {
                Str::Raw(b) if b.len() == 16 => StreamId::from_be(b),
                _ if !S::DECODE => None,
                Str::Raw(_) => None,
                _ => {
                    let v = k.to_vec(ka)?;
                    StreamId::from_be(&v)
                }
            };
            let la = cur.offset();
            let s = cur.string("stream listpack")?;
            if !S::DECODE {
                continue;
            }
            let Some(master) = master else {
                return Err(Error::corrupt(
                    "stream node key is not a 16-byte id",
                    ka,
                    "stream node key",
                ));
            };
            masters.push(master);
            let base = BlobBase::of(&s, la, cur.offset());
            let blob = s.bytes(&mut self.blob, la)?;
            sink.blob(t, blob);
            stream_listpack(ctx, master, blob, sink).map_err(|e| base.rebase(e))?;
        }
        // Redis keeps nodes in a radix tree by master id: a repeated id is corruption.
        masters.sort_unstable();
        if masters.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::corrupt(
                "two stream nodes with the same master id",
                start,
                "stream nodes",
            ));
        }
        let v2 = t >= TYPE_STREAM_LISTPACKS_2;
        let mut meta = StreamMeta {
            length: cur.length("stream length")?,
            last_id: StreamId {
                ms: cur.length("stream last id")?,
                seq: cur.length("stream last id")?,
            },
            ..StreamMeta::default()
        };
        if v2 {
            meta.first_id = Some(StreamId {
                ms: cur.length("stream first id")?,
                seq: cur.length("stream first id")?,
            });
            meta.max_deleted_id = Some(StreamId {
                ms: cur.length("stream max deleted id")?,
                seq: cur.length("stream max deleted id")?,
            });
            meta.entries_added = Some(cur.length("stream entries added")?);
        }
        if S::DECODE {
            if meta.length > 0 && n == 0 {
                return Err(Error::corrupt(
                    format!("stream length {} but no nodes", meta.length),
                    start,
                    "stream length",
                ));
            }
            sink.len_hint(meta.length);
            sink.stream_meta(&meta);
        }
        let mut group_names: Vec<Vec<u8>> = Vec::new();
        let groups = cur.count("stream group count")?;
        for _ in 0..groups {
            let na = cur.offset();
            let name = cur.string("stream group name")?;
            let last = StreamId {
                ms: cur.length("stream group last id")?,
                seq: cur.length("stream group last id")?,
            };
            // Redis stores -1 (as an unsigned length) when it does not know the count.
            let entries_read = if v2 {
                Some(cur.length("stream group entries read")?).filter(|&n| n != u64::MAX)
            } else {
                None
            };
            let pel_n = cur.count("stream group PEL size")?;
            let mut pending = Vec::new();
            for _ in 0..pel_n {
                let ida = cur.offset();
                let id = cur.take(16, "stream PEL id")?;
                let delivery_time_ms = cur.u64_le("stream PEL delivery time")?;
                let delivery_count = cur.length("stream PEL delivery count")?;
                if S::DECODE {
                    let id = StreamId::from_be(id)
                        .ok_or_else(|| Error::corrupt("bad PEL id", ida, "stream PEL id"))?;
                    pending.push(PendingEntry {
                        id,
                        delivery_time_ms,
                        delivery_count,
                        consumer: None,
                    });
                }
            }
            if S::DECODE {
                // Redis writes the PEL in id order but accepts any order; a repeated id is
                // corruption whatever the mode.
                pending.sort_by_key(|p| p.id);
                if let Some(w) = pending.windows(2).find(|w| w[0].id == w[1].id) {
                    return Err(Error::corrupt(
                        format!("group PEL holds {} twice", w[0].id),
                        na,
                        "stream group PEL",
                    ));
                }
            }
            let cons_n = cur.count("stream consumer count")?;
            let mut consumers = Vec::new();
            for _ in 0..cons_n {
                let ca = cur.offset();
                let cname = cur.string("stream consumer name")?;
                let seen_time_ms = cur.u64_le("stream consumer seen time")?;
                let active_time_ms = if t >= TYPE_STREAM_LISTPACKS_3 {
                    Some(cur.u64_le("stream consumer active time")?)
                } else {
                    None
                };
                let cp = cur.count("stream consumer PEL size")?;
                let mut cpending = Vec::new();
                for _ in 0..cp {
                    let ida = cur.offset();
                    let id = cur.take(16, "stream consumer PEL id")?;
                    if S::DECODE {
                        let id = StreamId::from_be(id).ok_or_else(|| {
                            Error::corrupt("bad PEL id", ida, "stream consumer PEL id")
                        })?;
                        // Every consumer PEL id must be in the group PEL (sorted: search). When
                        // two consumers claim one entry, the last one wins, as in Redis.
                        match pending.binary_search_by(|p| p.id.cmp(&id)) {
                            Ok(i) => {
                                pending[i].consumer = Some(consumers.len());
                            }
                            Err(_) => {
                                return Err(Error::corrupt(
                                    format!("consumer PEL entry {id} not in the group PEL"),
                                    ida,
                                    "stream consumer PEL id",
                                ))
                            }
                        }
                        cpending.push(id);
                    }
                }
                if S::DECODE {
                    cpending.sort_unstable();
                    if let Some(w) = cpending.windows(2).find(|w| w[0] == w[1]) {
                        return Err(Error::corrupt(
                            format!("consumer PEL holds {} twice", w[0]),
                            ca,
                            "stream consumer PEL",
                        ));
                    }
                    let name = cname.to_vec(ca)?;
                    if consumers.iter().any(|c: &Consumer| c.name == name) {
                        return Err(Error::corrupt(
                            "two consumers with the same name in one group",
                            ca,
                            "stream consumer name",
                        ));
                    }
                    consumers.push(Consumer {
                        name,
                        seen_time_ms,
                        active_time_ms,
                        pending: cpending,
                    });
                }
            }
            if S::DECODE {
                if ctx.deep {
                    if let Some(p) = pending.iter().find(|p| p.consumer.is_none()) {
                        return Err(Error::corrupt(
                            format!("group PEL entry {} has no consumer", p.id),
                            na,
                            "stream group",
                        ));
                    }
                }
                let name = name.to_vec(na)?;
                if group_names.contains(&name) {
                    return Err(Error::corrupt(
                        "two consumer groups with the same name",
                        na,
                        "stream group name",
                    ));
                }
                group_names.push(name.clone());
                sink.stream_group(&Group {
                    name,
                    last_delivered_id: last,
                    entries_read,
                    pending,
                    consumers,
                });
            }
        }
        Ok(())
    }
}

/// Decode one blob of a compact encoding. Returns the number of entries seen.
fn walk_blob<S: Sink>(
    ctx: &Ctx,
    t: u8,
    blob: &[u8],
    base: BlobBase,
    sink: &mut S,
    fp: &mut DupTable,
    check_dups: bool,
) -> Result<u64> {
    let mut count = 0u64;
    let r: Result<()> = (|| {
        match t {
            TYPE_SET_INTSET => {
                if ctx.deep {
                    intset::validate(blob, true)?;
                }
                let is = intset::Intset::parse(blob)?;
                sink.len_hint(is.len() as u64);
                for v in is.iter() {
                    count += 1;
                    sink.set_member(Elem::Int(v));
                }
            }
            TYPE_HASH_ZIPMAP => {
                if ctx.deep {
                    zipmap::validate(blob, true)?;
                }
                let zm = zipmap::Zipmap::parse(blob)?;
                for kv in zm.iter() {
                    let (k, v) = kv?;
                    count += 1;
                    sink.hash_field(Elem::Bytes(k), Elem::Bytes(v), None);
                }
            }
            TYPE_LIST_ZIPLIST | TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST => {
                if ctx.deep {
                    ziplist::validate(blob, true)?;
                }
                let zl = ziplist::Ziplist::parse(blob)?;
                if let Some(n) = zl.header_count() {
                    sink.len_hint(u64::from(n));
                }
                count = pairs(t, zl.iter(), sink, fp, check_dups)?;
            }
            _ => {
                // Listpack based: list (quicklist 2 node), set, zset, hash, hash with TTLs.
                if ctx.deep {
                    listpack::validate(blob, true)?;
                }
                let lp = listpack::Listpack::parse(blob)?;
                if let Some(n) = lp.header_count() {
                    sink.len_hint(u64::from(n));
                }
                count = pairs(t, lp.iter(), sink, fp, check_dups)?;
            }
        }
        Ok(())
    })();
    r.map_err(|e| base.rebase(e))?;
    Ok(count)
}

fn cur_slice<'a>(cur: &Cursor<'a>, start_abs: u64) -> &'a [u8] {
    let start = (start_abs - cur.base) as usize;
    &cur.data[start..cur.pos]
}

/// Where a blob's bytes sit in the file, for error offsets. Errors inside an LZF-compressed
/// blob cannot be placed in the file byte by byte; they name the compressed string's offset.
#[derive(Clone, Copy)]
struct BlobBase {
    at: u64,
    exact: bool,
}

impl BlobBase {
    /// `start` is the string's offset, `end` the offset just after it.
    fn of(s: &Str<'_>, start: u64, end: u64) -> Self {
        match s {
            Str::Raw(b) => BlobBase {
                at: end - b.len() as u64,
                exact: true,
            },
            _ => BlobBase {
                at: start,
                exact: false,
            },
        }
    }

    fn rebase(self, mut e: Error) -> Error {
        if self.exact {
            e.rebase(self.at)
        } else {
            e.offset = self.at;
            e
        }
    }
}

/// Feed the elements of a compact list/set/zset/hash blob to the sink, by the owning type.
fn pairs<'b, S: Sink, I: Iterator<Item = Result<Elem<'b>>>>(
    t: u8,
    mut it: I,
    sink: &mut S,
    fp: &mut DupTable,
    check_dups: bool,
) -> Result<u64> {
    let mut n = 0u64;
    match t {
        TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST_2 => {
            for e in it {
                sink.list_elem(e?);
                n += 1;
            }
        }
        TYPE_SET_LISTPACK => {
            for e in it {
                let e = e?;
                if check_dups {
                    fp.note(fingerprint(e));
                }
                sink.set_member(e);
                n += 1;
            }
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            while let Some(m) = it.next() {
                let m = m?;
                let Some(s) = it.next() else {
                    return Err(Error::corrupt(
                        "zset blob has a member without a score",
                        0,
                        "zset blob",
                    ));
                };
                let s = s?;
                let Some(score) = elem_score(s) else {
                    return Err(Error::new(
                        ErrorKind::BadDouble(s.to_vec()),
                        0,
                        "zset blob score",
                    ));
                };
                if check_dups {
                    fp.note(fingerprint(m));
                }
                sink.zset_member(m, score);
                n += 1;
            }
        }
        TYPE_HASH_LISTPACK_EX_PRE_GA | TYPE_HASH_LISTPACK_EX => {
            while let Some(f) = it.next() {
                let f = f?;
                let (Some(v), Some(ttl)) = (it.next(), it.next()) else {
                    return Err(Error::corrupt(
                        "hash listpack entries are not (field, value, ttl) triples",
                        0,
                        "hash listpack",
                    ));
                };
                let (v, ttl) = (v?, ttl?);
                let ttl = match ttl {
                    Elem::Int(i) => i,
                    Elem::Bytes(b) => std::str::from_utf8(b)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| {
                            Error::corrupt("hash field TTL is not an integer", 0, "hash listpack")
                        })?,
                };
                if check_dups {
                    fp.note(fingerprint(f));
                }
                sink.hash_field(f, v, (ttl != 0).then_some(ttl));
                n += 1;
            }
        }
        _ => {
            // Hash ziplist / listpack: field, value pairs.
            while let Some(f) = it.next() {
                let f = f?;
                let Some(v) = it.next() else {
                    return Err(Error::corrupt(
                        "hash blob has a field without a value",
                        0,
                        "hash blob",
                    ));
                };
                let v = v?;
                if check_dups {
                    fp.note(fingerprint(f));
                }
                sink.hash_field(f, v, None);
                n += 1;
            }
        }
    }
    Ok(n)
}

fn lp_int(e: Option<Result<Elem<'_>>>, what: &'static str) -> Result<i64> {
    match e {
        Some(Ok(Elem::Int(i))) => Ok(i),
        Some(Ok(Elem::Bytes(b))) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::corrupt(format!("stream {what} is not an integer"), 0, what)),
        Some(Err(e)) => Err(e),
        None => Err(Error::corrupt(
            format!("stream listpack ends before the {what}"),
            0,
            what,
        )),
    }
}

fn lp_elem<'b>(e: Option<Result<Elem<'b>>>, what: &'static str) -> Result<Elem<'b>> {
    match e {
        Some(r) => r,
        None => Err(Error::corrupt(
            format!("stream listpack ends before the {what}"),
            0,
            what,
        )),
    }
}

/// Decode one stream node listpack: a master entry, then entries delta-encoded against it.
///
/// Master entry: count, deleted count, number of master fields, the fields, a 0 terminator.
/// Each entry: flags, ms delta, seq delta, then either (SAMEFIELDS) one value per master
/// field, or a field count and field/value pairs; then the number of listpack elements the
/// entry used (so it can be walked backwards).
fn stream_listpack<'b, S: Sink>(
    ctx: &Ctx,
    master: StreamId,
    blob: &'b [u8],
    sink: &mut S,
) -> Result<()> {
    if ctx.deep {
        listpack::validate(blob, true)?;
    }
    let lp = listpack::Listpack::parse(blob)?;
    let mut it = lp.iter();
    let count = lp_int(it.next(), "master entry count")?;
    let deleted = lp_int(it.next(), "master entry deleted count")?;
    let nmaster = lp_int(it.next(), "master field count")?;
    if nmaster < 0 || count < 0 || deleted < 0 {
        return Err(Error::corrupt(
            "negative stream master counts",
            0,
            "stream master entry",
        ));
    }
    // Master fields are re-read for each SAMEFIELDS entry from a second iterator position.
    let master_fields_it = it.clone();
    for _ in 0..nmaster {
        lp_elem(it.next(), "master field")?;
    }
    if lp_int(it.next(), "master entry terminator")? != 0 {
        return Err(Error::corrupt(
            "stream master entry not terminated by 0",
            0,
            "stream master entry",
        ));
    }
    let mut seen = 0i64;
    let mut seen_deleted = 0i64;
    let mut fields: Vec<(Elem<'b>, Elem<'b>)> = Vec::new();
    loop {
        let flags = match it.next() {
            None => break,
            Some(r) => match r? {
                Elem::Int(i) => i,
                Elem::Bytes(_) => {
                    return Err(Error::corrupt(
                        "stream entry flags not an integer",
                        0,
                        "stream entry",
                    ))
                }
            },
        };
        let ms = lp_int(it.next(), "entry id ms delta")?;
        let seq = lp_int(it.next(), "entry id seq delta")?;
        let id = StreamId {
            ms: master.ms.wrapping_add(ms as u64),
            seq: master.seq.wrapping_add(seq as u64),
        };
        fields.clear();
        let used = if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 {
            let mut mf = master_fields_it.clone();
            for _ in 0..nmaster {
                let f = lp_elem(mf.next(), "master field")?;
                let v = lp_elem(it.next(), "entry value")?;
                fields.push((f, v));
            }
            nmaster.saturating_add(3)
        } else {
            let nf = lp_int(it.next(), "entry field count")?;
            if nf < 0 {
                return Err(Error::corrupt(
                    "negative entry field count",
                    0,
                    "stream entry",
                ));
            }
            for _ in 0..nf {
                let f = lp_elem(it.next(), "entry field")?;
                let v = lp_elem(it.next(), "entry value")?;
                fields.push((f, v));
            }
            nf.saturating_mul(2).saturating_add(4)
        };
        let lpcount = lp_int(it.next(), "entry element count")?;
        if ctx.deep && lpcount != used {
            return Err(Error::corrupt(
                format!("stream entry says it used {lpcount} elements, it used {used}"),
                0,
                "stream entry",
            ));
        }
        if flags & STREAM_ITEM_FLAG_DELETED != 0 {
            seen_deleted += 1;
        } else {
            seen += 1;
            sink.stream_entry(id, &fields);
        }
    }
    fields.clear();
    if ctx.deep && (seen != count || seen_deleted != deleted) {
        return Err(Error::corrupt(
            format!(
                "stream master entry counts {count} live / {deleted} deleted, found {seen} / {seen_deleted}"
            ),
            0,
            "stream master entry",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep_check(t: u8, value: &[u8]) -> Result<()> {
        let ctx = Ctx {
            family: Family::Redis,
            version: 11,
            deep: true,
        };
        let rec = KeyRecord {
            db: 0,
            rdb_type: t,
            key: Str::Raw(b"k"),
            key_offset: 0,
            value,
            value_offset: 100,
            expire_ms: None,
            lru_idle: None,
            lfu_freq: None,
            meta: None,
        };
        decode_value(&ctx, &mut Walker::default(), &rec, &mut SkipSink2)
    }

    struct SkipSink2;
    impl Sink for SkipSink2 {}

    #[test]
    fn duplicate_members_are_caught_in_every_set_and_hash_form() {
        // Plain set: two members "a".
        assert!(deep_check(TYPE_SET, b"\x02\x01a\x01a").is_err());
        assert!(deep_check(TYPE_SET, b"\x02\x01a\x01b").is_ok());
        // An int-encoded 7 and the text "7" are the same member.
        assert!(deep_check(TYPE_SET, b"\x02\xc0\x07\x017").is_err());
        // Plain hash with field "f" twice.
        assert!(deep_check(TYPE_HASH, b"\x02\x01f\x011\x01f\x012").is_err());
        // Listpack set with the member 5 twice, and a big set that grows the table.
        let mut b = crate::listpack::Builder::new();
        b.push_bytes(b"5");
        b.push_bytes(b"x");
        b.push_bytes(b"5");
        let lp = b.finish();
        let mut v = Vec::new();
        crate::string::encode_raw(&lp, &mut v);
        let err = deep_check(TYPE_SET_LISTPACK, &v).unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
        let mut big = Vec::new();
        crate::length::encode(3000, &mut big);
        for i in 0..3000 {
            crate::string::encode_raw(format!("m{i}").as_bytes(), &mut big);
        }
        assert!(deep_check(TYPE_SET, &big).is_ok());
        // The same members plus a repeat of one of them.
        let mut dup = Vec::new();
        crate::length::encode(3001, &mut dup);
        dup.extend_from_slice(&big[2..]);
        crate::string::encode_raw(b"m1234", &mut dup);
        let big = dup;
        assert!(deep_check(TYPE_SET, &big).is_err());
    }

    /// A type-19 stream with one entry 1-0 {f: v} and one group "g" whose PEL holds 1-5 and 1-3
    /// (in that order); `consumers` lists each consumer's name and PEL.
    fn stream_value(groups: &[&str], consumers: &[(&str, &[u64])]) -> Vec<u8> {
        use crate::{length::encode as len, string::encode_raw as s};
        let id = |ms: u64, seq: u64| {
            let mut v = ms.to_be_bytes().to_vec();
            v.extend_from_slice(&seq.to_be_bytes());
            v
        };
        let mut lp = crate::listpack::Builder::new();
        for e in [Elem::Int(1), Elem::Int(0), Elem::Int(1)] {
            lp.push(e);
        }
        lp.push(Elem::Bytes(b"f"));
        lp.push(Elem::Int(0));
        for e in [
            Elem::Int(STREAM_ITEM_FLAG_SAMEFIELDS),
            Elem::Int(0),
            Elem::Int(0),
        ] {
            lp.push(e);
        }
        lp.push(Elem::Bytes(b"v"));
        lp.push(Elem::Int(4));
        let mut v = Vec::new();
        len(1, &mut v);
        s(&id(1, 0), &mut v);
        s(&lp.finish(), &mut v);
        for n in [1, 1, 0, 1, 0, 0, 0, 1] {
            len(n, &mut v); // length, last id, first id, max deleted id, entries added
        }
        len(groups.len() as u64, &mut v);
        for g in groups {
            s(g.as_bytes(), &mut v);
            for n in [1, 0, 1] {
                len(n, &mut v); // last delivered id, entries read
            }
            len(2, &mut v);
            for seq in [5, 3] {
                v.extend_from_slice(&id(1, seq));
                v.extend_from_slice(&1000u64.to_le_bytes());
                len(1, &mut v);
            }
            len(consumers.len() as u64, &mut v);
            for (name, pel) in consumers {
                s(name.as_bytes(), &mut v);
                v.extend_from_slice(&2000u64.to_le_bytes());
                len(pel.len() as u64, &mut v);
                for &seq in pel.iter() {
                    v.extend_from_slice(&id(1, seq));
                }
            }
        }
        v
    }

    #[derive(Default)]
    struct Groups(Vec<Group>);
    impl Sink for Groups {
        fn stream_group(&mut self, g: &Group) {
            self.0.push(g.clone());
        }
    }

    #[test]
    fn stream_rules_follow_redis() {
        let ctx = Ctx {
            family: Family::Redis,
            version: 10,
            deep: true,
        };
        let decode = |v: &[u8]| -> Result<Vec<Group>> {
            let rec = KeyRecord {
                db: 0,
                rdb_type: TYPE_STREAM_LISTPACKS_2,
                key: Str::Raw(b"s"),
                key_offset: 0,
                value: v,
                value_offset: 0,
                expire_ms: None,
                lru_idle: None,
                lfu_freq: None,
                meta: None,
            };
            let mut g = Groups::default();
            decode_value(&ctx, &mut Walker::default(), &rec, &mut g)?;
            Ok(g.0)
        };
        // A PEL in any order is accepted and comes out sorted, owners resolved.
        let g = decode(&stream_value(&["g"], &[("c", &[5, 3])])).unwrap();
        let ids: Vec<u64> = g[0].pending.iter().map(|p| p.id.seq).collect();
        assert_eq!(ids, vec![3, 5]);
        assert!(g[0].pending.iter().all(|p| p.consumer == Some(0)));
        // Two consumers claiming one entry: the last one wins.
        let g = decode(&stream_value(&["g"], &[("a", &[3, 5]), ("b", &[5])])).unwrap();
        assert_eq!(g[0].pending[1].consumer, Some(1));
        // Refused whatever the mode, as Redis refuses them.
        for (v, what) in [
            (
                stream_value(&["g"], &[("c", &[3]), ("c", &[5])]),
                "two consumers",
            ),
            (
                stream_value(&["g", "g"], &[("c", &[3, 5])]),
                "two consumer groups",
            ),
            (stream_value(&["g"], &[("c", &[3, 3, 5])]), "twice"),
            (
                stream_value(&["g"], &[("c", &[3, 7])]),
                "not in the group PEL",
            ),
        ] {
            let e = decode(&v).unwrap_err().to_string();
            assert!(e.contains(what), "expected '{what}' in: {e}");
        }
    }

    #[test]
    fn hash_bytes_handles_every_length_and_spreads() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut seen = std::collections::HashSet::new();
        for n in 0..=100 {
            assert!(seen.insert(hash_bytes(&data[..n])), "length {n} collides");
        }
        assert_ne!(
            fingerprint(Elem::Bytes(b"12")),
            fingerprint(Elem::Bytes(b"13"))
        );
        assert_eq!(fingerprint(Elem::Bytes(b"12")), fingerprint(Elem::Int(12)));
        assert_ne!(fingerprint(Elem::Bytes(b"012")), fingerprint(Elem::Int(12)));
    }

    #[test]
    fn headers_of_both_families() {
        assert_eq!(
            parse_header(b"REDIS0011").unwrap(),
            Header {
                family: Family::Redis,
                version: 11
            }
        );
        assert_eq!(
            parse_header(b"VALKEY080").unwrap(),
            Header {
                family: Family::Valkey,
                version: 80
            }
        );
        assert!(parse_header(b"REDIS").unwrap_err().is_incomplete());
        assert!(parse_header(b"RED").unwrap_err().is_incomplete());
        assert_eq!(
            parse_header(b"REDIS0099").unwrap_err().kind,
            ErrorKind::UnsupportedVersion("REDIS0099".into())
        );
        assert_eq!(
            parse_header(b"VALKEY081").unwrap_err().kind,
            ErrorKind::UnsupportedVersion("VALKEY081".into())
        );
        assert_eq!(
            parse_header(b"HELLO0001").unwrap_err().kind,
            ErrorKind::BadMagic
        );
        assert!(!Header {
            family: Family::Redis,
            version: 4
        }
        .has_checksum());
        assert!(Header {
            family: Family::Redis,
            version: 5
        }
        .has_checksum());
    }
}

//! Writing RDB files for a chosen target: Redis RDB 9 (6.2), 10 (7.0), 11 (7.2), 12 (7.4), or
//! Valkey `VALKEY080` (9.0).
//!
//! A file is `header, aux fields, (SELECTDB RESIZEDB key records)*, EOF, CRC64 LE`; see `read.rs`
//! and `formats/README.md` for every layout. The writer streams: each item is encoded into a
//! scratch buffer, then written out and added to the running CRC64.
//!
//! Values are written in the encoding the target's server would hold them in after building the
//! value with ordinary commands under the given [`Limits`] (the `*-max-listpack-*` settings):
//!
//! | value  | RDB 9                | RDB 10               | RDB 11 / VALKEY080        | RDB 12                      |
//! |--------|----------------------|----------------------|---------------------------|-----------------------------|
//! | list   | 14 quicklist/ziplist | 18 quicklist/listpack| 18                        | 18 (big elements plain)     |
//! | set    | 11 intset / 2        | 11 / 2               | 11 / 20 listpack / 2      | 11 / 20 / 2                 |
//! | zset   | 12 ziplist / 5       | 17 listpack / 5      | 17 / 5                    | 17 / 5                      |
//! | hash   | 13 ziplist / 4       | 16 listpack / 4      | 16 / 4 (Valkey TTLs: 22)  | 16 / 4, TTLs: 25 / 24       |
//! | stream | 15                   | 19                   | 21                        | 21                          |
//! | module | 7                    | 7                    | 7                         | 7                           |
//!
//! Strings everywhere (keys, values, elements of plain encodings, blobs) follow Redis's rule for
//! saving a string: a canonical decimal integer of at most 11 bytes that fits 32 bits is stored
//! int-encoded, a string longer than 20 bytes is LZF-compressed when compression is on and saves
//! at least 4 bytes, anything else is stored raw.
//!
//! What a target cannot hold (field expiries before RDB 12, stream metadata before RDB 10, ...)
//! is dropped; [`losses`] tells the caller in advance.

use std::borrow::Cow;
use std::io::{self, Write};

use super::consts::*;
use super::read::{Group, StreamId};
use crate::listpack::{self, parse_canonical_i64};
use crate::value::ValueBuf;
use crate::{crc64, intset, length, lzf, ziplist, Elem};

/// The file format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub family: Family,
    /// 9..=12 for Redis, 80 for Valkey.
    pub version: u32,
}

impl Target {
    pub const REDIS_9: Target = Target::redis(9);
    pub const REDIS_10: Target = Target::redis(10);
    pub const REDIS_11: Target = Target::redis(11);
    pub const REDIS_12: Target = Target::redis(12);
    pub const VALKEY_80: Target = Target {
        family: Family::Valkey,
        version: 80,
    };
    /// Every target the writer supports, oldest first.
    pub const ALL: [Target; 5] = [
        Target::REDIS_9,
        Target::REDIS_10,
        Target::REDIS_11,
        Target::REDIS_12,
        Target::VALKEY_80,
    ];

    const fn redis(version: u32) -> Target {
        Target {
            family: Family::Redis,
            version,
        }
    }

    /// "9" ... "12" (also "redis9" ...), "valkey80" or "80".
    pub fn parse(s: &str) -> Option<Target> {
        let s = s.trim().to_ascii_lowercase();
        let num = s.strip_prefix("redis").unwrap_or(&s);
        match num {
            "9" => Some(Target::REDIS_9),
            "10" => Some(Target::REDIS_10),
            "11" => Some(Target::REDIS_11),
            "12" => Some(Target::REDIS_12),
            "80" | "valkey80" | "valkey" => Some(Target::VALKEY_80),
            _ => None,
        }
    }

    /// The server version this format's reference server reports in its version aux field.
    pub fn redis_ver(&self) -> &'static str {
        match (self.family, self.version) {
            (Family::Valkey, _) => "9.0.0",
            (_, 9) => "6.2.14",
            (_, 10) => "7.0.15",
            (_, 11) => "7.2.4",
            _ => "7.4.0",
        }
    }

    /// Name of the version aux field: Valkey servers write `valkey-ver` instead of `redis-ver`.
    pub fn ver_aux_name(&self) -> &'static [u8] {
        match self.family {
            Family::Redis => b"redis-ver",
            Family::Valkey => b"valkey-ver",
        }
    }

    /// The 9-byte header.
    pub fn magic(&self) -> [u8; 9] {
        let mut m = [b'0'; 9];
        let s = match self.family {
            Family::Redis => format!("REDIS{:04}", self.version),
            Family::Valkey => format!("VALKEY{:03}", self.version),
        };
        // Versions too wide for the header only exist for unsupported targets.
        for (d, c) in m.iter_mut().zip(s.bytes()) {
            *d = c;
        }
        m
    }

    /// The Redis release whose encoding rules apply: Valkey 8/9 keep Redis 7.2's.
    fn level(&self) -> u32 {
        match self.family {
            Family::Redis => self.version,
            Family::Valkey => 11,
        }
    }

    /// Can the target store hash field expiries?
    pub fn has_field_expiry(&self) -> bool {
        self.family == Family::Valkey || self.version >= 12
    }

    /// Can the target store functions (opcode 245)?
    pub fn has_functions(&self) -> bool {
        self.level() >= 10
    }

    fn supported(&self) -> bool {
        Target::ALL.contains(self)
    }
}

/// The encoding thresholds of the target server (its `*-max-listpack-*` settings; the 6.2
/// `*-max-ziplist-*` names hold the same numbers) and `rdbcompression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hash_max_listpack_entries: i64,
    pub hash_max_listpack_value: i64,
    pub set_max_intset_entries: i64,
    pub set_max_listpack_entries: i64,
    pub set_max_listpack_value: i64,
    pub zset_max_listpack_entries: i64,
    pub zset_max_listpack_value: i64,
    /// Negative: -1..-5 = 4, 8, 16, 32, 64 KB per quicklist node; positive: entries per node.
    pub list_max_listpack_size: i64,
    pub compression: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            compression: true,
        }
    }
}

/// Stream nodes are split like a server with the default `stream-node-max-bytes 4096` and
/// `stream-node-max-entries 100`.
const STREAM_NODE_MAX_BYTES: usize = 4096;
const STREAM_NODE_MAX_ENTRIES: usize = 100;

/// Something a value (or file) holds that the target format cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loss {
    /// Hash field expiries (needs Redis RDB 12 or VALKEY080); fields are written without them.
    FieldExpiry,
    /// Function libraries (needs RDB 10).
    Function,
    /// Stream max deleted id / entries added (needs RDB 10); the loader recomputes guesses.
    StreamMetadata,
    /// Consumer group entries-read counters (needs RDB 10).
    GroupEntriesRead,
    /// Consumer active time distinct from seen time (needs RDB 11).
    ConsumerActiveTime,
}

impl Loss {
    pub fn describe(&self) -> &'static str {
        match self {
            Loss::FieldExpiry => "hash field expiries",
            Loss::Function => "function libraries",
            Loss::StreamMetadata => "stream max-deleted-id / entries-added",
            Loss::GroupEntriesRead => "consumer group entries-read",
            Loss::ConsumerActiveTime => "consumer active time",
        }
    }
}

/// What `target` would drop from `v`; empty when the value is written exactly.
pub fn losses(target: &Target, v: &ValueBuf) -> Vec<Loss> {
    let mut out = Vec::new();
    match v.kind() {
        Kind::Hash if v.has_field_ttls() && !target.has_field_expiry() => {
            out.push(Loss::FieldExpiry);
        }
        Kind::Stream => {
            let lv = target.level();
            if lv < 10 {
                if let Some(m) = v.stream_meta() {
                    let n = v.entries().len() as u64;
                    let deleted = m.max_deleted_id.is_some_and(|d| d != StreamId::default());
                    let added = m.entries_added.is_some_and(|a| a != n);
                    if deleted || added {
                        out.push(Loss::StreamMetadata);
                    }
                }
                if v.groups().iter().any(|g| g.entries_read.is_some()) {
                    out.push(Loss::GroupEntriesRead);
                }
            }
            if lv < 11
                && v.groups().iter().any(|g| {
                    g.consumers
                        .iter()
                        .any(|c| c.active_time_ms.is_some_and(|a| a != c.seen_time_ms))
                })
            {
                out.push(Loss::ConsumerActiveTime);
            }
        }
        _ => {}
    }
    out
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// Streams an RDB file into `out`, keeping the CRC64 of everything written.
pub struct Writer<W: Write> {
    out: W,
    target: Target,
    limits: Limits,
    crc: u64,
    pos: u64,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Start a file: writes the 9-byte header.
    pub fn new(out: W, target: Target, limits: Limits) -> io::Result<Self> {
        if !target.supported() {
            return Err(invalid("unsupported RDB target version"));
        }
        let mut w = Writer {
            out,
            target,
            limits,
            crc: 0,
            pos: 0,
            buf: Vec::with_capacity(256),
        };
        w.buf.extend_from_slice(&target.magic());
        w.flush_item()?;
        Ok(w)
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// CRC64 of the bytes written so far.
    pub fn crc(&self) -> u64 {
        self.crc
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    fn flush_item(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.crc = crc64::crc64(self.crc, &self.buf);
        self.pos += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// An AUX field. Both strings are saved like every RDB string (a canonical integer that
    /// fits 32 bits is int-encoded, as Redis stores `redis-bits` or `ctime`).
    pub fn aux(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        let c = self.limits.compression;
        self.buf.push(OP_AUX);
        put_str(&mut self.buf, name, c);
        put_str(&mut self.buf, value, c);
        self.flush_item()
    }

    fn aux_int(&mut self, name: &[u8], value: i64) -> io::Result<()> {
        let mut b = [0u8; 20];
        let digits = crate::fmt_i64(value, &mut b).to_vec();
        self.aux(name, &digits)
    }

    /// The aux fields the target's server writes at the start of every RDB, in its order:
    /// version, `redis-bits` 64, `ctime`, `used-mem`, then `aof-preamble` (RDB 9) or `aof-base`
    /// (later), 1 when the file is the RDB part of an AOF.
    pub fn standard_aux(&mut self, ctime: i64, used_mem: u64, preamble: bool) -> io::Result<()> {
        let t = self.target;
        self.aux(t.ver_aux_name(), t.redis_ver().as_bytes())?;
        self.aux_int(b"redis-bits", 64)?;
        self.aux_int(b"ctime", ctime)?;
        let mut b = [0u8; 20];
        let mem = match i64::try_from(used_mem) {
            Ok(m) => crate::fmt_i64(m, &mut b).to_vec(),
            Err(_) => used_mem.to_string().into_bytes(),
        };
        self.aux(b"used-mem", &mem)?;
        let name: &[u8] = if t.level() <= 9 {
            b"aof-preamble"
        } else {
            b"aof-base"
        };
        self.aux_int(name, i64::from(preamble))
    }

    /// A function library (opcode 245). Refused for RDB 9, which has no functions.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        if !self.target.has_functions() {
            return Err(invalid("RDB 9 cannot hold functions"));
        }
        self.buf.push(OP_FUNCTION2);
        put_str(&mut self.buf, code, self.limits.compression);
        self.flush_item()
    }

    /// Module aux data (opcode 247), carried through: `raw` is what the reader's
    /// `Item::ModuleAux` gives (everything after the module id).
    pub fn module_aux(&mut self, module_id: u64, raw: &[u8]) -> io::Result<()> {
        self.buf.push(OP_MODULE_AUX);
        length::encode(module_id, &mut self.buf);
        self.buf.extend_from_slice(raw);
        self.flush_item()
    }

    /// SELECTDB and RESIZEDB (the sizes are only a hint to the loader).
    pub fn select_db(&mut self, db: u64, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.buf.push(OP_SELECTDB);
        length::encode(db, &mut self.buf);
        self.buf.push(OP_RESIZEDB);
        length::encode(db_size, &mut self.buf);
        length::encode(expires_size, &mut self.buf);
        self.flush_item()
    }

    /// A key record: optional EXPIRETIME_MS, the type byte, the key, the value.
    ///
    /// Empty lists, sets, sorted sets and hashes are not written (servers refuse to load empty
    /// keys and never save them); empty streams are.
    pub fn key(&mut self, key: &[u8], expire_ms: Option<i64>, v: &ValueBuf) -> io::Result<()> {
        if encode_key_record(self.target, &self.limits, key, expire_ms, v, &mut self.buf)? {
            self.flush_item()?;
        }
        Ok(())
    }

    /// Bytes made by [`encode_key_record`] (on another thread, say), written as they are.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.crc = crc64::crc64(self.crc, bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// EOF and the CRC64 trailer; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(OP_EOF);
        self.flush_item()?;
        let crc = self.crc.to_le_bytes();
        self.out.write_all(&crc)?;
        self.pos += 8;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Append a whole key record to `out` (what [`Writer::key`] writes): optional EXPIRETIME_MS, the
/// type byte, the key, the value. Returns false, appending nothing, for an empty list, set,
/// sorted set or hash (servers never save those and refuse to load them).
pub fn encode_key_record(
    target: Target,
    limits: &Limits,
    key: &[u8],
    expire_ms: Option<i64>,
    v: &ValueBuf,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    if v.is_empty() && matches!(v.kind(), Kind::List | Kind::Set | Kind::Zset | Kind::Hash) {
        return Ok(false);
    }
    let start = out.len();
    if let Some(ms) = expire_ms {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&ms.to_le_bytes());
    }
    let type_at = out.len();
    out.push(0);
    put_str(out, key, limits.compression);
    let mut enc = Encoder {
        target,
        limits,
        out: &mut *out,
    };
    match enc.value(v) {
        Ok(t) => {
            out[type_at] = t;
            Ok(true)
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Encode one value (after the key) into `out`; returns the type byte.
pub fn encode_value(
    target: Target,
    limits: &Limits,
    v: &ValueBuf,
    out: &mut Vec<u8>,
) -> io::Result<u8> {
    Encoder {
        target,
        limits,
        out,
    }
    .value(v)
}

struct Encoder<'a> {
    target: Target,
    limits: &'a Limits,
    out: &'a mut Vec<u8>,
}

/// Append `b` as an RDB string the way Redis's `rdbSaveRawString` does (see the module doc).
pub fn put_str(out: &mut Vec<u8>, b: &[u8], compress: bool) {
    if b.len() <= 11 {
        if let Some(i) = parse_canonical_i64(b) {
            if crate::string::encode_int(i, out) {
                return;
            }
        }
    }
    if compress && b.len() > 20 {
        if let Some(c) = lzf::compress(b) {
            // Redis keeps the compressed form only when it saves at least 4 bytes.
            if c.len() + 4 <= b.len() {
                out.push(0xc0 | crate::string::ENC_LZF);
                length::encode(c.len() as u64, out);
                length::encode(b.len() as u64, out);
                out.extend_from_slice(&c);
                return;
            }
        }
    }
    crate::string::encode_raw(b, out);
}

/// Append an element as an RDB string (integers as their decimal text would be saved).
fn put_elem(out: &mut Vec<u8>, e: Elem<'_>, compress: bool) {
    match e {
        Elem::Int(i) => {
            if !crate::string::encode_int(i, out) {
                crate::string::encode_raw(crate::fmt_i64(i, &mut [0u8; 20]), out);
            }
        }
        Elem::Bytes(b) => put_str(out, b, compress),
    }
}

/// Length of an element's string form.
fn elem_len(e: Elem<'_>) -> usize {
    match e {
        Elem::Int(i) => crate::fmt_i64(i, &mut [0u8; 20]).len(),
        Elem::Bytes(b) => b.len(),
    }
}

fn elem_bytes(e: Elem<'_>) -> Cow<'_, [u8]> {
    match e {
        Elem::Int(i) => Cow::Owned(crate::fmt_i64(i, &mut [0u8; 20]).to_vec()),
        Elem::Bytes(b) => Cow::Borrowed(b),
    }
}

/// Do two elements stand for the same string?
fn same_str(a: Elem<'_>, b: Elem<'_>) -> bool {
    match (a, b) {
        (Elem::Int(x), Elem::Int(y)) => x == y,
        (Elem::Bytes(x), Elem::Bytes(y)) => x == y,
        (Elem::Int(i), Elem::Bytes(s)) | (Elem::Bytes(s), Elem::Int(i)) => {
            crate::fmt_i64(i, &mut [0u8; 20]) == s
        }
    }
}

fn is_int(e: Elem<'_>) -> Option<i64> {
    match e {
        Elem::Int(i) => Some(i),
        Elem::Bytes(b) => parse_canonical_i64(b),
    }
}

fn lp_push(b: &mut listpack::Builder, e: Elem<'_>) {
    match e {
        Elem::Int(i) => b.push_int(i),
        Elem::Bytes(s) => b.push_bytes(s),
    }
}

fn zl_push(b: &mut ziplist::Builder, e: Elem<'_>) {
    match e {
        Elem::Int(i) => b.push_int(i),
        Elem::Bytes(s) => b.push_bytes(s),
    }
}

/// A limit setting as a count (negative settings disable the compact form).
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Quicklist node size limits by negative `list-max-listpack-size`.
const QL_SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Largest multi-element node when the limit is an entry count.
const QL_SAFETY_LIMIT: usize = 8192;
/// RDB 10/11 servers put an element in a node of its own from this size on.
const QL_PACKED_THRESHOLD: usize = 1 << 30;

fn ql_size_limit(fill: i64) -> Option<usize> {
    if fill >= 0 {
        return None;
    }
    let off = (-(fill + 1)).min(4) as usize;
    Some(QL_SIZE_LEVELS[off])
}

/// The 7.2+ rule: does a node of `sz` bytes and `count` entries break the fill setting?
fn ql_exceeds(fill: i64, sz: usize, count: usize) -> bool {
    match ql_size_limit(fill) {
        Some(l) => sz > l,
        None => sz > QL_SAFETY_LIMIT || count > limit(fill).max(1),
    }
}

/// 6.2 / 7.0 rule, both: the size requirement of a negative fill, else the safety limit and
/// entry count of a positive one.
fn ql_allow_old(fill: i64, new_sz: usize, count: usize) -> bool {
    if fill < 0 {
        // Out-of-range negative settings meet no size level: one entry per node.
        let off = (-(fill + 1)) as usize;
        if let Some(&l) = QL_SIZE_LEVELS.get(off) {
            if new_sz <= l {
                return true;
            }
        }
    }
    if new_sz > QL_SAFETY_LIMIT {
        return false;
    }
    (count as i64) < fill
}

/// 6.2's estimate of what one more element costs a ziplist.
fn ziplist_overhead(sz: usize) -> usize {
    let prev = if sz < 254 { 1 } else { 5 };
    let enc = if sz < 64 {
        1
    } else if sz < 16384 {
        2
    } else {
        5
    };
    prev + enc
}

/// Would the target's server give this element a plain quicklist node of its own?
fn ql_is_large(level: u32, fill: i64, sz: usize) -> bool {
    match level {
        ..=9 => false,
        10 | 11 => sz >= QL_PACKED_THRESHOLD,
        _ => match ql_size_limit(fill) {
            Some(l) => sz > l,
            None => sz > QL_SAFETY_LIMIT,
        },
    }
}

enum QlNode {
    Packed(Vec<u8>),
    Plain(Vec<u8>),
}

/// Split a list into quicklist 2 nodes as RPUSHes into an empty key would on the target.
fn quicklist2_nodes(level: u32, fill: i64, v: &ValueBuf) -> Vec<QlNode> {
    let mut nodes = Vec::new();
    let mut cur: Option<listpack::Builder> = None;
    // From 7.2 a list starts as a single listpack and becomes a quicklist (with that listpack
    // as its first node) once a push would break the node limit.
    let mut single = level >= 11;
    for e in v.elems() {
        let sz = elem_len(e);
        if single {
            let (bytes, count) = cur
                .as_ref()
                .map_or((7, 0), |b| (b.encoded_len(), b.count()));
            if !ql_exceeds(fill, bytes + sz, count + 1) {
                lp_push(cur.get_or_insert_with(listpack::Builder::new), e);
                continue;
            }
            single = false;
        }
        if ql_is_large(level, fill, sz) {
            if let Some(b) = cur.take() {
                nodes.push(QlNode::Packed(b.finish()));
            }
            nodes.push(QlNode::Plain(elem_bytes(e).into_owned()));
            continue;
        }
        if let Some(b) = cur.as_mut() {
            let new_sz = b.encoded_len() + sz + 8;
            let ok = if level >= 12 {
                !ql_exceeds(fill, new_sz, b.count() + 1)
            } else {
                ql_allow_old(fill, new_sz, b.count())
            };
            if ok {
                lp_push(b, e);
                continue;
            }
        }
        if let Some(b) = cur.take() {
            nodes.push(QlNode::Packed(b.finish()));
        }
        let mut b = listpack::Builder::new();
        lp_push(&mut b, e);
        cur = Some(b);
    }
    if let Some(b) = cur {
        nodes.push(QlNode::Packed(b.finish()));
    }
    nodes
}

/// Split a list into 6.2 quicklist ziplist nodes.
fn quicklist_ziplists(fill: i64, v: &ValueBuf) -> Vec<Vec<u8>> {
    let mut nodes = Vec::new();
    let mut cur: Option<ziplist::Builder> = None;
    for e in v.elems() {
        let sz = elem_len(e);
        if let Some(b) = cur.as_mut() {
            let new_sz = b.encoded_len() + sz + ziplist_overhead(sz);
            if ql_allow_old(fill, new_sz, b.count()) {
                zl_push(b, e);
                continue;
            }
        }
        if let Some(b) = cur.take() {
            nodes.push(b.finish());
        }
        let mut b = ziplist::Builder::new();
        zl_push(&mut b, e);
        cur = Some(b);
    }
    if let Some(b) = cur {
        nodes.push(b.finish());
    }
    nodes
}

/// `%.17g`, as 6.2 and 7.0 print non-integer scores.
fn fmt_g17(v: f64) -> String {
    let s = format!("{v:.16e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |m: &str| -> String {
        if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            m.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim(mant), sign, exp.unsigned_abs())
    } else {
        let prec = (16 - exp) as usize;
        trim(&format!("{v:.prec$}"))
    }
}

/// Shortest round-trip digits laid out like the `fpconv_dtoa` of 7.2 and later.
fn fmt_short(v: f64) -> String {
    let s = format!("{:e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e10: i64 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i64;
    let k = e10 - (nd - 1);
    let aexp = e10.abs();
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if k >= 0 && aexp < nd + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
    } else if k < 0 && (k > -7 || aexp < 4) {
        let offset = nd + k;
        if offset <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-offset) as usize));
            out.push_str(&digits);
        } else {
            let (a, b) = digits.split_at(offset as usize);
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        }
    } else {
        let (a, b) = digits.split_at(1);
        out.push_str(a);
        if !b.is_empty() {
            out.push('.');
            out.push_str(b);
        }
        out.push('e');
        out.push(if e10 < 0 { '-' } else { '+' });
        out.push_str(&aexp.to_string());
    }
    out
}

/// 7.0+: a score that is an integer in ±2^62 is stored as a listpack integer.
fn double2ll(v: f64) -> Option<i64> {
    let lim = (i64::MAX / 2) as f64;
    if !(-lim..=lim).contains(&v) {
        return None;
    }
    let i = v as i64;
    (i as f64 == v).then_some(i)
}

/// A score as the target's server prints it into a compact zset (`d2string`).
fn score_text(level: u32, v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if level <= 9 {
        if v > -4503599627370495.0 && v < 4503599627370496.0 && (v as i64) as f64 == v {
            return (v as i64).to_string();
        }
        return fmt_g17(v);
    }
    if let Some(i) = double2ll(v) {
        return i.to_string();
    }
    if level <= 10 {
        fmt_g17(v)
    } else {
        fmt_short(v)
    }
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

/// The entries-read a server gives a consumer group loaded from a file that did not store it
/// (RDB 9 and older): there, entries-added is the length and nothing was deleted, so the
/// counter is known when the group's id is the last id or at/before the first entry.
fn estimate_entries_read(
    id: StreamId,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
) -> Option<u64> {
    let added = length;
    if added == 0 {
        return Some(0);
    }
    match id.cmp(&last_id) {
        std::cmp::Ordering::Equal => return Some(added),
        std::cmp::Ordering::Greater => return None,
        std::cmp::Ordering::Less => {}
    }
    match id.cmp(&first_id) {
        std::cmp::Ordering::Less => Some(added - length),
        std::cmp::Ordering::Equal => Some(added - length + 1),
        std::cmp::Ordering::Greater => None,
    }
}

/// Size of a listpack integer entry (encoding and back-length).
fn lp_int_size(v: i64) -> usize {
    let mut b = Vec::with_capacity(10);
    listpack::write_int_entry(&mut b, v);
    b.len()
}

/// One stream node being built: everything after the master entry's live count.
struct StreamNode {
    master: StreamId,
    /// Index of the entry whose fields make the master entry.
    master_entry: usize,
    body: Vec<u8>,
    elems: usize,
    count: i64,
}

impl StreamNode {
    /// `lpBytes` of the node as it stands.
    fn bytes(&self) -> usize {
        6 + lp_int_size(self.count) + self.body.len() + 1
    }

    fn finish(self) -> (StreamId, Vec<u8>) {
        let mut lp = Vec::with_capacity(self.bytes());
        lp.extend_from_slice(&[0; 6]);
        listpack::write_int_entry(&mut lp, self.count);
        lp.extend_from_slice(&self.body);
        lp.push(0xff);
        let total = u32::try_from(lp.len()).unwrap_or(u32::MAX);
        let n = u16::try_from(self.elems + 1).unwrap_or(listpack::COUNT_UNKNOWN);
        lp[0..4].copy_from_slice(&total.to_le_bytes());
        lp[4..6].copy_from_slice(&n.to_le_bytes());
        (self.master, lp)
    }
}

/// Build stream node listpacks from the live entries, as XADDs on a server would.
fn stream_nodes(v: &ValueBuf) -> Vec<(StreamId, Vec<u8>)> {
    let entries = v.entries();
    let mut nodes = Vec::new();
    let mut cur: Option<StreamNode> = None;
    for (i, e) in entries.iter().enumerate() {
        let tot: usize = v
            .entry_fields(e)
            .map(|(f, val)| elem_len(f) + elem_len(val))
            .sum();
        if let Some(n) = &cur {
            if n.bytes() + tot >= STREAM_NODE_MAX_BYTES
                || n.count as usize >= STREAM_NODE_MAX_ENTRIES
            {
                if let Some(n) = cur.take() {
                    nodes.push(n.finish());
                }
            }
        }
        let node = match cur.as_mut() {
            Some(n) => n,
            None => {
                let mut n = StreamNode {
                    master: e.id,
                    master_entry: i,
                    body: Vec::new(),
                    elems: 0,
                    count: 0,
                };
                listpack::write_int_entry(&mut n.body, 0); // deleted
                listpack::write_int_entry(&mut n.body, e.pairs as i64);
                for (f, _) in v.entry_fields(e) {
                    listpack::write_entry(&mut n.body, f);
                }
                listpack::write_int_entry(&mut n.body, 0); // master terminator
                n.elems = 3 + e.pairs;
                cur.insert(n)
            }
        };
        let master = &entries[node.master_entry];
        let same = master.pairs == e.pairs
            && v.entry_fields(master)
                .zip(v.entry_fields(e))
                .all(|((a, _), (b, _))| same_str(a, b));
        let flags = if same { STREAM_ITEM_FLAG_SAMEFIELDS } else { 0 };
        let b = &mut node.body;
        listpack::write_int_entry(b, flags);
        listpack::write_int_entry(b, e.id.ms.wrapping_sub(node.master.ms) as i64);
        listpack::write_int_entry(b, e.id.seq.wrapping_sub(node.master.seq) as i64);
        let used = if same {
            for (_, val) in v.entry_fields(e) {
                listpack::write_entry(b, val);
            }
            e.pairs + 3
        } else {
            listpack::write_int_entry(b, e.pairs as i64);
            for (f, val) in v.entry_fields(e) {
                listpack::write_entry(b, f);
                listpack::write_entry(b, val);
            }
            2 * e.pairs + 4
        };
        listpack::write_int_entry(b, used as i64);
        node.elems += used + 1;
        node.count += 1;
    }
    if let Some(n) = cur {
        nodes.push(n.finish());
    }
    nodes
}

impl Encoder<'_> {
    fn c(&self) -> bool {
        self.limits.compression
    }

    fn blob(&mut self, b: &[u8]) {
        let c = self.c();
        put_str(self.out, b, c);
    }

    fn len(&mut self, n: u64) {
        length::encode(n, self.out);
    }

    fn value(&mut self, v: &ValueBuf) -> io::Result<u8> {
        Ok(match v.kind() {
            Kind::String => {
                self.blob(v.string());
                TYPE_STRING
            }
            Kind::List => self.list(v),
            Kind::Set => self.set(v),
            Kind::Zset => self.zset(v),
            Kind::Hash => self.hash(v),
            Kind::Stream => self.stream(v),
            Kind::Module => {
                // The reader hands out the value from the module id on: carried verbatim.
                let (_, raw) = v.module();
                if raw.is_empty() {
                    return Err(invalid("module value without its serialized bytes"));
                }
                self.out.extend_from_slice(raw);
                TYPE_MODULE_2
            }
        })
    }

    fn list(&mut self, v: &ValueBuf) -> u8 {
        let level = self.target.level();
        let fill = self.limits.list_max_listpack_size;
        if level <= 9 {
            let nodes = quicklist_ziplists(fill, v);
            self.len(nodes.len() as u64);
            for n in &nodes {
                self.blob(n);
            }
            return TYPE_LIST_QUICKLIST;
        }
        let nodes = quicklist2_nodes(level, fill, v);
        self.len(nodes.len() as u64);
        for n in &nodes {
            match n {
                QlNode::Packed(b) => {
                    self.len(QUICKLIST_NODE_PACKED);
                    self.blob(b);
                }
                QlNode::Plain(b) => {
                    self.len(QUICKLIST_NODE_PLAIN);
                    self.blob(b);
                }
            }
        }
        TYPE_LIST_QUICKLIST_2
    }

    fn set(&mut self, v: &ValueBuf) -> u8 {
        let l = self.limits;
        let n = v.len();
        if n <= limit(l.set_max_intset_entries) {
            let ints: Option<Vec<i64>> = v.elems().map(is_int).collect();
            if let Some(ints) = ints {
                self.blob(&intset::encode(&ints));
                return TYPE_SET_INTSET;
            }
        }
        if self.target.level() >= 11
            && n <= limit(l.set_max_listpack_entries)
            && v.max_elem_len() <= limit(l.set_max_listpack_value)
        {
            let mut b = listpack::Builder::new();
            for e in v.elems() {
                lp_push(&mut b, e);
            }
            self.blob(&b.finish());
            return TYPE_SET_LISTPACK;
        }
        self.len(n as u64);
        let c = self.c();
        for e in v.elems() {
            put_elem(self.out, e, c);
        }
        TYPE_SET
    }

    fn zset(&mut self, v: &ValueBuf) -> u8 {
        let l = self.limits;
        let level = self.target.level();
        // Servers keep members ordered by score, then by member bytes.
        let mut m: Vec<(f64, Cow<'_, [u8]>, Elem<'_>)> =
            v.zset().map(|(e, s)| (s, elem_bytes(e), e)).collect();
        m.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.1.cmp(&b.1))
        });
        if m.len() <= limit(l.zset_max_listpack_entries)
            && v.max_elem_len() <= limit(l.zset_max_listpack_value)
        {
            if level <= 9 {
                let mut b = ziplist::Builder::new();
                for (s, _, e) in &m {
                    zl_push(&mut b, *e);
                    b.push_bytes(score_text(level, *s).as_bytes());
                }
                self.blob(&b.finish());
                return TYPE_ZSET_ZIPLIST;
            }
            let mut b = listpack::Builder::new();
            for (s, _, e) in &m {
                lp_push(&mut b, *e);
                match double2ll(*s) {
                    Some(i) => b.push_int(i),
                    None => b.push_bytes(score_text(level, *s).as_bytes()),
                }
            }
            self.blob(&b.finish());
            return TYPE_ZSET_LISTPACK;
        }
        self.len(m.len() as u64);
        let c = self.c();
        // Written from the highest ranked member down, as servers do.
        for (s, _, e) in m.iter().rev() {
            put_elem(self.out, *e, c);
            self.out.extend_from_slice(&s.to_le_bytes());
        }
        TYPE_ZSET_2
    }

    fn hash(&mut self, v: &ValueBuf) -> u8 {
        let l = self.limits;
        let level = self.target.level();
        let c = self.c();
        let compact = v.len() <= limit(l.hash_max_listpack_entries)
            && v.max_elem_len() <= limit(l.hash_max_listpack_value);
        if v.has_field_ttls() && self.target.family == Family::Valkey {
            // Valkey keeps hashes with field expiries in a hash table: type 22, each field with
            // its absolute expiry in ms, -1 for none.
            self.len(v.len() as u64);
            for (f, val, ttl) in v.hash() {
                put_elem(self.out, f, c);
                put_elem(self.out, val, c);
                self.out.extend_from_slice(&ttl.unwrap_or(-1).to_le_bytes());
            }
            return TYPE_HASH_METADATA_PRE_GA;
        }
        if v.has_field_ttls() && level >= 12 {
            let min = v.hash().filter_map(|(_, _, t)| t).min().unwrap_or(0);
            self.out.extend_from_slice(&(min as u64).to_le_bytes());
            if compact {
                // Fields with an expiry come first, soonest first; the rest keep their order.
                let mut fields: Vec<_> = v.hash().collect();
                fields.sort_by_key(|(_, _, t)| (t.is_none(), *t));
                let mut b = listpack::Builder::new();
                for (f, val, ttl) in fields {
                    lp_push(&mut b, f);
                    lp_push(&mut b, val);
                    b.push_int(ttl.unwrap_or(0));
                }
                self.blob(&b.finish());
                return TYPE_HASH_LISTPACK_EX;
            }
            self.len(v.len() as u64);
            for (f, val, ttl) in v.hash() {
                // 0 = no expiry, else the distance from the minimum plus one.
                let rel = ttl.map_or(0, |t| t.abs_diff(min).saturating_add(1));
                self.len(rel);
                put_elem(self.out, f, c);
                put_elem(self.out, val, c);
            }
            return TYPE_HASH_METADATA;
        }
        if compact {
            let blob = if level <= 9 {
                let mut b = ziplist::Builder::new();
                for (f, val, _) in v.hash() {
                    zl_push(&mut b, f);
                    zl_push(&mut b, val);
                }
                b.finish()
            } else {
                let mut b = listpack::Builder::new();
                for (f, val, _) in v.hash() {
                    lp_push(&mut b, f);
                    lp_push(&mut b, val);
                }
                b.finish()
            };
            self.blob(&blob);
            return if level <= 9 {
                TYPE_HASH_ZIPLIST
            } else {
                TYPE_HASH_LISTPACK
            };
        }
        self.len(v.len() as u64);
        for (f, val, _) in v.hash() {
            put_elem(self.out, f, c);
            put_elem(self.out, val, c);
        }
        TYPE_HASH
    }

    fn stream(&mut self, v: &ValueBuf) -> u8 {
        let level = self.target.level();
        let t = match level {
            ..=9 => TYPE_STREAM_LISTPACKS,
            10 => TYPE_STREAM_LISTPACKS_2,
            _ => TYPE_STREAM_LISTPACKS_3,
        };
        let nodes = stream_nodes(v);
        self.len(nodes.len() as u64);
        let c = self.c();
        for (master, lp) in &nodes {
            let mut key = Vec::with_capacity(16);
            put_id(&mut key, *master);
            put_str(self.out, &key, c);
            put_str(self.out, lp, c);
        }
        let entries = v.entries();
        let meta = v.stream_meta();
        // The stored length is what servers report (a file may disagree with its entries).
        let length = meta.map_or(entries.len() as u64, |m| m.length);
        let first = entries.first().map(|e| e.id).unwrap_or_default();
        let last = entries.last().map(|e| e.id).unwrap_or_default();
        let last_id = meta.map_or(last, |m| m.last_id.max(last));
        let put_sid = |out: &mut Vec<u8>, id: StreamId| {
            length::encode(id.ms, out);
            length::encode(id.seq, out);
        };
        self.len(length);
        put_sid(self.out, last_id);
        if level >= 10 {
            let first_id = meta.and_then(|m| m.first_id).unwrap_or(first);
            put_sid(self.out, first_id);
            put_sid(
                self.out,
                meta.and_then(|m| m.max_deleted_id).unwrap_or_default(),
            );
            self.len(meta.and_then(|m| m.entries_added).unwrap_or(length));
        }
        // Groups and consumers are kept in radix trees: written in name order.
        let mut groups: Vec<&Group> = v.groups().iter().collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        self.len(groups.len() as u64);
        for g in groups {
            put_str(self.out, &g.name, c);
            put_sid(self.out, g.last_delivered_id);
            if level >= 10 {
                // A group from a file older than RDB 10 has no entries-read: estimate it the
                // way a server loading that file does; unknown is stored as -1.
                let read = match (g.entries_read, meta.and_then(|m| m.entries_added)) {
                    (Some(r), _) => Some(r),
                    (None, None) => {
                        estimate_entries_read(g.last_delivered_id, length, last_id, first)
                    }
                    (None, Some(_)) => None,
                };
                self.len(read.unwrap_or(u64::MAX));
            }
            let mut pel: Vec<_> = g.pending.iter().collect();
            pel.sort_by_key(|p| p.id);
            self.len(pel.len() as u64);
            for p in pel {
                put_id(self.out, p.id);
                self.out
                    .extend_from_slice(&p.delivery_time_ms.to_le_bytes());
                length::encode(p.delivery_count, self.out);
            }
            let mut cons: Vec<_> = g.consumers.iter().collect();
            cons.sort_by(|a, b| a.name.cmp(&b.name));
            self.len(cons.len() as u64);
            for cn in cons {
                put_str(self.out, &cn.name, c);
                self.out.extend_from_slice(&cn.seen_time_ms.to_le_bytes());
                if t == TYPE_STREAM_LISTPACKS_3 {
                    // Servers loading older files take the seen time as the active time.
                    let a = cn.active_time_ms.unwrap_or(cn.seen_time_ms);
                    self.out.extend_from_slice(&a.to_le_bytes());
                }
                let mut ids = cn.pending.clone();
                ids.sort_unstable();
                self.len(ids.len() as u64);
                for id in ids {
                    put_id(self.out, id);
                }
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::read::{
        decode_value, parse_header, Consumer, Ctx, Item, Parser, PendingEntry, Sink, StreamMeta,
        Walker,
    };

    /// One key as read back.
    struct Rec {
        key: Vec<u8>,
        rdb_type: u8,
        expire_ms: Option<i64>,
        value: Vec<u8>,
        v: ValueBuf,
        /// Hash fields as the reader produced them. Kept apart from `v` because `ValueBuf`
        /// drops the expiry of a hash whose first field is the first to carry one (see the
        /// report on issue 5: `field_ttls.resize(0, None)` leaves the vector empty).
        hash: Vec<(Vec<u8>, Vec<u8>, Option<i64>)>,
    }

    /// Feeds the ValueBuf and records hash fields on the side.
    struct Collect {
        v: ValueBuf,
        hash: Vec<(Vec<u8>, Vec<u8>, Option<i64>)>,
    }

    impl Sink for Collect {
        fn string(&mut self, x: &[u8]) {
            Sink::string(&mut self.v, x)
        }
        fn list_elem(&mut self, e: Elem<'_>) {
            self.v.list_elem(e)
        }
        fn set_member(&mut self, e: Elem<'_>) {
            self.v.set_member(e)
        }
        fn zset_member(&mut self, m: Elem<'_>, s: f64) {
            self.v.zset_member(m, s)
        }
        fn hash_field(&mut self, f: Elem<'_>, x: Elem<'_>, t: Option<i64>) {
            self.hash
                .push((elem_bytes(f).into_owned(), elem_bytes(x).into_owned(), t));
            self.v.hash_field(f, x, t)
        }
        fn stream_entry(&mut self, id: StreamId, f: &[(Elem<'_>, Elem<'_>)]) {
            self.v.stream_entry(id, f)
        }
        fn stream_meta(&mut self, m: &StreamMeta) {
            Sink::stream_meta(&mut self.v, m)
        }
        fn stream_group(&mut self, g: &Group) {
            self.v.stream_group(g)
        }
        fn module(&mut self, id: u64, raw: &[u8]) {
            Sink::module(&mut self.v, id, raw)
        }
    }

    fn norm_hash(mut m: Vec<(Vec<u8>, Vec<u8>, Option<i64>)>, t: Target) -> String {
        let keep = t.has_field_expiry();
        for f in &mut m {
            f.2 = f.2.filter(|_| keep);
        }
        m.sort();
        format!("{m:?}")
    }

    struct File {
        aux: Vec<(Vec<u8>, crate::string::Str<'static>)>,
        funcs: Vec<Vec<u8>>,
        module_aux: Vec<(u64, Vec<u8>)>,
        keys: Vec<Rec>,
    }

    /// Read a whole file back (deep checks on), checking the header and the CRC.
    fn read_back(data: &[u8], target: Target) -> File {
        let h = parse_header(data).unwrap();
        assert_eq!((h.family, h.version), (target.family, target.version));
        let mut p = Parser::new(h);
        let ctx = Ctx::new(h, true);
        let mut pos = 9;
        let mut f = File {
            aux: vec![],
            funcs: vec![],
            module_aux: vec![],
            keys: vec![],
        };
        loop {
            let fr = p.next(data, pos, 0).unwrap();
            pos = fr.end;
            match fr.item {
                Item::Eof => break,
                Item::Aux { name, value } => {
                    let v: crate::string::Str<'static> = match value {
                        crate::string::Str::Int(i) => crate::string::Str::Int(i),
                        s => crate::string::Str::Raw(Box::leak(
                            s.to_vec(0).unwrap().into_boxed_slice(),
                        )),
                    };
                    f.aux.push((name.to_vec(0).unwrap(), v));
                }
                Item::Function { code } => f.funcs.push(code.to_vec(0).unwrap()),
                Item::ModuleAux { module_id, raw } => f.module_aux.push((module_id, raw.to_vec())),
                Item::Key(rec) => {
                    let mut c = Collect {
                        v: ValueBuf::new(kind_of(rec.rdb_type).unwrap()),
                        hash: vec![],
                    };
                    decode_value(&ctx, &mut Walker::default(), &rec, &mut c).unwrap();
                    f.keys.push(Rec {
                        key: rec.key.to_vec(0).unwrap(),
                        rdb_type: rec.rdb_type,
                        expire_ms: rec.expire_ms,
                        value: rec.value.to_vec(),
                        v: c.v,
                        hash: c.hash,
                    });
                }
                _ => {}
            }
        }
        assert_eq!(data.len(), pos + 8, "CRC64 trailer follows EOF");
        let crc = crate::crc64::crc64(0, &data[..pos]);
        assert_eq!(data[pos..], crc.to_le_bytes(), "CRC64");
        f
    }

    fn b(s: &str) -> Elem<'_> {
        Elem::Bytes(s.as_bytes())
    }

    fn string(s: &[u8]) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::String);
        Sink::string(&mut v, s);
        v
    }

    fn list(elems: &[Elem<'_>]) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::List);
        for e in elems {
            v.list_elem(*e);
        }
        v
    }

    fn set(elems: &[Elem<'_>]) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::Set);
        for e in elems {
            v.set_member(*e);
        }
        v
    }

    fn zset(m: &[(Elem<'_>, f64)]) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::Zset);
        for (e, s) in m {
            v.zset_member(*e, *s);
        }
        v
    }

    fn hash(m: &[(Elem<'_>, Elem<'_>, Option<i64>)]) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::Hash);
        for (f, x, t) in m {
            v.hash_field(*f, *x, *t);
        }
        v
    }

    fn owned(n: usize, f: impl Fn(usize) -> String) -> Vec<String> {
        (0..n).map(f).collect()
    }

    fn elems(v: &[String]) -> Vec<Elem<'_>> {
        v.iter().map(|s| Elem::Bytes(s.as_bytes())).collect()
    }

    fn sid(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// A stream: `n` entries with fields f1,f2 (every 7th entry with other fields), meta with
    /// deletions, two groups (given out of name order) with PELs and consumers.
    fn stream(n: u64, value_len: usize, groups: bool) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::Stream);
        let big = "x".repeat(value_len);
        for i in 0..n {
            let id = sid(1_700_000_000_000 + i / 3, i % 3);
            let seq = i.to_string();
            if i % 7 == 3 {
                v.stream_entry(id, &[(b("other"), Elem::Int(i as i64)), (b("f1"), b(&big))]);
            } else {
                v.stream_entry(id, &[(b("f1"), b(&seq)), (b("f2"), b(&big))]);
            }
        }
        let last = v.entries().last().map(|e| e.id).unwrap_or(sid(5, 0));
        let first_id = Some(v.entries().first().map(|e| e.id).unwrap_or_default());
        Sink::stream_meta(
            &mut v,
            &StreamMeta {
                length: n,
                last_id: sid(last.ms, last.seq + 1),
                first_id,
                max_deleted_id: Some(sid(last.ms, last.seq + 1)),
                entries_added: Some(n + 1),
            },
        );
        if groups {
            let p = |ms, seq, c| PendingEntry {
                id: sid(ms, seq),
                delivery_time_ms: 1_700_000_000_500,
                delivery_count: 2,
                consumer: Some(c),
            };
            let first = v.entries().first().map(|e| e.id).unwrap_or(sid(1, 0));
            let g2 = Group {
                name: b"g2".to_vec(),
                last_delivered_id: first,
                entries_read: Some(1),
                pending: if n > 0 {
                    vec![p(first.ms, first.seq, 1)]
                } else {
                    vec![]
                },
                consumers: vec![
                    Consumer {
                        name: b"zed".to_vec(),
                        seen_time_ms: 10,
                        active_time_ms: Some(20),
                        pending: vec![],
                    },
                    Consumer {
                        name: b"alice".to_vec(),
                        seen_time_ms: 30,
                        active_time_ms: None,
                        pending: if n > 0 { vec![first] } else { vec![] },
                    },
                ],
            };
            let g1 = Group {
                name: b"g1".to_vec(),
                last_delivered_id: sid(0, 0),
                entries_read: None,
                pending: vec![],
                consumers: vec![],
            };
            v.stream_group(&g2);
            v.stream_group(&g1);
        }
        v
    }

    fn module_raw(id: u64) -> Vec<u8> {
        let mut raw = Vec::new();
        length::encode(id, &mut raw);
        for n in [MODULE_OP_UINT, 77, MODULE_OP_STRING] {
            length::encode(n, &mut raw);
        }
        crate::string::encode_raw(b"module payload", &mut raw);
        length::encode(MODULE_OP_DOUBLE, &mut raw);
        raw.extend_from_slice(&1.5f64.to_le_bytes());
        length::encode(MODULE_OP_EOF, &mut raw);
        raw
    }

    /// Logical form for comparison: strings of every element, order kept where it matters.
    fn norm(v: &ValueBuf, t: Target) -> String {
        let s = |e: Elem<'_>| String::from_utf8_lossy(&elem_bytes(e)).into_owned();
        match v.kind() {
            Kind::String => format!("{:?}", v.string()),
            Kind::List => format!("{:?}", v.elems().map(s).collect::<Vec<_>>()),
            Kind::Set => {
                let mut m: Vec<_> = v.elems().map(s).collect();
                m.sort();
                format!("{m:?}")
            }
            Kind::Zset => {
                // -0 and 0 are the same score to a server (7.0+ stores both as integer 0).
                let mut m: Vec<_> = v
                    .zset()
                    .map(|(e, x)| (s(e), if x == 0.0 { 0.0 } else { x }))
                    .collect();
                m.sort_by(|a, b| a.0.cmp(&b.0));
                format!("{m:?}")
            }
            Kind::Hash => norm_hash(
                v.hash()
                    .map(|(f, x, ttl)| {
                        (elem_bytes(f).into_owned(), elem_bytes(x).into_owned(), ttl)
                    })
                    .collect(),
                t,
            ),
            Kind::Stream => {
                let lv = t.level();
                let ents: Vec<_> = v
                    .entries()
                    .iter()
                    .map(|e| {
                        let f: Vec<_> = v.entry_fields(e).map(|(a, b)| (s(a), s(b))).collect();
                        (e.id, f)
                    })
                    .collect();
                let m = v.stream_meta().cloned().unwrap_or_default();
                let meta = if lv >= 10 {
                    format!(
                        "{} {} {:?} {:?} {:?}",
                        ents.len(),
                        m.last_id,
                        ents.first().map(|e| e.0).or(m.first_id),
                        m.max_deleted_id,
                        m.entries_added
                    )
                } else {
                    format!("{} {}", ents.len(), m.last_id)
                };
                let mut groups: Vec<String> = v
                    .groups()
                    .iter()
                    .map(|g| {
                        let mut cons: Vec<_> = g
                            .consumers
                            .iter()
                            .map(|c| {
                                let active = if lv >= 11 {
                                    Some(c.active_time_ms.unwrap_or(c.seen_time_ms))
                                } else {
                                    None
                                };
                                let mut p = c.pending.clone();
                                p.sort();
                                (c.name.clone(), c.seen_time_ms, active, p)
                            })
                            .collect();
                        cons.sort();
                        let mut pel: Vec<_> = g
                            .pending
                            .iter()
                            .map(|p| {
                                let owner = p
                                    .consumer
                                    .and_then(|i| g.consumers.get(i))
                                    .map(|c| c.name.clone());
                                (p.id, p.delivery_time_ms, p.delivery_count, owner)
                            })
                            .collect();
                        pel.sort();
                        let er = if lv >= 10 { g.entries_read } else { None };
                        format!(
                            "{:?} {} {er:?} {pel:?} {cons:?}",
                            g.name, g.last_delivered_id
                        )
                    })
                    .collect();
                groups.sort();
                format!("{ents:?} | {meta} | {groups:?}")
            }
            Kind::Module => format!("{:?}", v.module()),
        }
    }

    /// Write `cases` for `t` and read them back; returns the records in order.
    fn round_trip(t: Target, limits: Limits, cases: &[(Vec<u8>, Option<i64>, &ValueBuf)]) -> File {
        let mut w = Writer::new(Vec::new(), t, limits).unwrap();
        w.standard_aux(1_700_000_000, 123_456, false).unwrap();
        w.select_db(0, cases.len() as u64, 0).unwrap();
        for (k, exp, v) in cases {
            w.key(k, *exp, v).unwrap();
        }
        let pos = w.position();
        let data = w.finish().unwrap();
        assert_eq!(data.len() as u64, pos + 9);
        let f = read_back(&data, t);
        let written: Vec<_> = cases
            .iter()
            .filter(|(_, _, v)| {
                !(v.is_empty()
                    && matches!(v.kind(), Kind::List | Kind::Set | Kind::Zset | Kind::Hash))
            })
            .collect();
        assert_eq!(f.keys.len(), written.len(), "{t:?}");
        for ((k, exp, v), r) in written.iter().zip(&f.keys) {
            let name = String::from_utf8_lossy(k);
            assert_eq!(&r.key, k);
            assert_eq!(r.expire_ms, *exp, "{name}");
            let got = if v.kind() == Kind::Hash {
                norm_hash(r.hash.clone(), t)
            } else {
                norm(&r.v, t)
            };
            assert_eq!(got, norm(v, t), "{t:?} key {name}");
        }
        f
    }

    /// (key, value, expected type byte per target: 9, 10, 11, 12, valkey80)
    fn cases() -> Vec<(String, ValueBuf, [u8; 5])> {
        let mut c: Vec<(String, ValueBuf, [u8; 5])> = Vec::new();
        let mut add = |k: &str, v: ValueBuf, t: [u8; 5]| c.push((k.to_string(), v, t));
        let s0 = [0u8; 5];
        for (i, s) in [
            "",
            "0",
            "-1",
            "127",
            "-128",
            "32767",
            "-32768",
            "2147483647",
            "-2147483648",
            "2147483648",
            "-0",
            "007",
            "+5",
            " 5",
            "9223372036854775807",
            "12345678901234567890",
            "hello",
        ]
        .iter()
        .enumerate()
        {
            add(&format!("str{i}"), string(s.as_bytes()), s0);
        }
        add("lzf", string(&b"abcabcabc".repeat(20)), s0);
        add("lzf20", string(&[b'a'; 20]), s0);
        add("lzf21", string(&[b'a'; 21]), s0);
        add("binary", string(&(0..=255u8).collect::<Vec<_>>()), s0);

        let q = [14, 18, 18, 18, 18];
        add(
            "list_small",
            list(&[
                b("a"),
                Elem::Int(1),
                b("-5"),
                b("007"),
                Elem::Int(1 << 40),
                b(""),
            ]),
            q,
        );
        let many = owned(5000, |i| format!("element-{i}"));
        add("list_big", list(&elems(&many)), q);
        let huge = "h".repeat(9000);
        add(
            "list_huge_elem",
            list(&[b("a"), b(&huge), b("b"), b(&huge)]),
            q,
        );
        add("list_empty", list(&[]), q);

        let ints512 = owned(512, |i| (i as i64 * 1000 - 7).to_string());
        let ints513 = owned(513, |i| (i as i64 * 1000 - 7).to_string());
        add("set_int512", set(&elems(&ints512)), [11; 5]);
        add("set_int513", set(&elems(&ints513)), [2; 5]);
        add(
            "set_int_mixed",
            set(&[
                Elem::Int(i64::MIN),
                b("5"),
                Elem::Int(i64::MAX),
                b("-40000"),
            ]),
            [11; 5],
        );
        let lp = [2, 2, 20, 20, 20];
        add(
            "set_str",
            set(&[b("a"), Elem::Int(1), b("007"), b("-0")]),
            lp,
        );
        let s128 = owned(128, |i| format!("m{i}"));
        let s129 = owned(129, |i| format!("m{i}"));
        add("set_128", set(&elems(&s128)), lp);
        add("set_129", set(&elems(&s129)), [2; 5]);
        let v64 = "v".repeat(64);
        let v65 = "v".repeat(65);
        add("set_len64", set(&[b(&v64), b("x")]), lp);
        add("set_len65", set(&[b(&v65), b("x")]), [2; 5]);

        let zc = [12, 17, 17, 17, 17];
        let scores = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.5,
            1e20,
            1.5e-7,
            3.0,
            -2.5,
            1e300,
            9007199254740993.0,
            0.1,
            -1e-300,
            123456.789,
            4611686018427387904.0,
        ];
        let zm = owned(scores.len(), |i| format!("z{i}"));
        let zpairs: Vec<_> = zm
            .iter()
            .zip(scores)
            .map(|(m, s)| (b(m), s))
            .chain([(Elem::Int(42), 1.0), (b("same"), 1.0), (b("10"), 1.0)])
            .collect();
        add("zset_scores", zset(&zpairs), zc);
        let zbig: Vec<_> = zpairs.iter().map(|(_, s)| *s).collect();
        let z129 = owned(129, |i| format!("zm{i}"));
        let zp: Vec<_> = z129
            .iter()
            .enumerate()
            .map(|(i, m)| (b(m), zbig[i % zbig.len()]))
            .collect();
        add("zset_129", zset(&zp), [5; 5]);
        add("zset_128", zset(&zp[..128]), zc);
        add("zset_len64", zset(&[(b(&v64), 1.0)]), zc);
        add("zset_len65", zset(&[(b(&v65), 1.0), (b("a"), 2.0)]), [5; 5]);

        let hc = [13, 16, 16, 16, 16];
        let hf = owned(513, |i| format!("field{i}"));
        let hp: Vec<_> = hf
            .iter()
            .enumerate()
            .map(|(i, f)| (b(f), Elem::Int(i as i64), None))
            .collect();
        add("hash_512", hash(&hp[..512]), hc);
        add("hash_513", hash(&hp), [4; 5]);
        add(
            "hash_len64",
            hash(&[(b("f"), b(&v64), None), (Elem::Int(7), b("007"), None)]),
            hc,
        );
        add("hash_len65", hash(&[(b(&v65), b("v"), None)]), [4; 5]);
        let ttl = 1_900_000_000_000i64;
        let hx: Vec<_> = hf
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let t = match i % 3 {
                    0 => None,
                    1 => Some(ttl + i as i64),
                    _ => Some(ttl - i as i64),
                };
                (b(f), b("value"), t)
            })
            .collect();
        add("hash_ttl_small", hash(&hx[..10]), [13, 16, 16, 25, 22]);
        add("hash_ttl_big", hash(&hx), [4, 4, 4, 24, 22]);

        let st = [15, 19, 21, 21, 21];
        add("stream_many", stream(250, 5, true), st);
        add("stream_bigvals", stream(40, 1000, false), st);
        add("stream_empty_groups", stream(0, 1, true), st);
        add("stream_empty", stream(0, 1, false), st);

        let mut m = ValueBuf::new(Kind::Module);
        Sink::module(
            &mut m,
            0x1234_5678_9abc_d001,
            &module_raw(0x1234_5678_9abc_d001),
        );
        add("module", m, [7; 5]);
        c
    }

    #[test]
    fn every_type_round_trips_on_every_target_with_the_expected_type_byte() {
        let cs = cases();
        for (ti, t) in Target::ALL.iter().enumerate() {
            let input: Vec<_> = cs
                .iter()
                .enumerate()
                .map(|(i, (k, v, _))| {
                    (
                        k.clone().into_bytes(),
                        (i % 5 == 0).then_some(1_800_000_000_000 + i as i64),
                        v,
                    )
                })
                .collect();
            let f = round_trip(*t, Limits::default(), &input);
            let mut recs = f.keys.iter();
            for (k, v, types) in &cs {
                if v.is_empty() && v.kind() != Kind::Stream {
                    continue;
                }
                let r = recs.next().unwrap();
                assert_eq!(r.rdb_type, types[ti], "{t:?} key {k}");
            }
        }
    }

    fn find<'a>(f: &'a File, k: &str) -> &'a Rec {
        f.keys.iter().find(|r| r.key == k.as_bytes()).unwrap()
    }

    #[test]
    fn string_encodings_follow_redis() {
        let cs = cases();
        let input: Vec<_> = cs
            .iter()
            .map(|(k, v, _)| (k.clone().into_bytes(), None, v))
            .collect();
        let f = round_trip(Target::REDIS_11, Limits::default(), &input);
        let first = |k: &str| find(&f, k).value[0];
        assert_eq!(first("str1"), 0xc0); // "0"
        assert_eq!(first("str4"), 0xc0); // -128
        assert_eq!(first("str5"), 0xc1); // 32767
        assert_eq!(first("str8"), 0xc2); // -2147483648
        for k in [
            "str0", "str9", "str10", "str11", "str12", "str13", "str14", "str15",
        ] {
            assert!(first(k) < 0xc0, "{k} must be stored raw");
        }
        assert_eq!(first("lzf"), 0xc3);
        assert_eq!(first("lzf20"), 20);
        assert_eq!(first("lzf21"), 0xc3);
        // Compression off: raw.
        let off = Limits {
            compression: false,
            ..Limits::default()
        };
        let f = round_trip(Target::REDIS_11, off, &input);
        assert_eq!(find(&f, "lzf").value[0], 0x40); // raw, 2-byte length (180 bytes)
                                                    // Keys are saved like values: an integer key is int-encoded.
        let v = string(b"x");
        let mut w = Writer::new(Vec::new(), Target::REDIS_10, Limits::default()).unwrap();
        w.key(b"12", None, &v).unwrap();
        let d = w.finish().unwrap();
        assert_eq!(&d[9..12], &[0, 0xc0, 12]);
    }

    /// Quicklist nodes of a type 14 / 18 value: (container, bytes) per node.
    fn nodes(r: &Rec) -> Vec<(u64, usize)> {
        let mut cur = crate::rdb::read::Cursor::new(&r.value, 0, 0);
        let n = cur.length("n").unwrap();
        (0..n)
            .map(|_| {
                let c = if r.rdb_type == TYPE_LIST_QUICKLIST_2 {
                    cur.length("c").unwrap()
                } else {
                    2
                };
                let s = cur.string("s").unwrap();
                (c, s.decoded_len())
            })
            .collect()
    }

    #[test]
    fn quicklist_nodes_split_like_each_server() {
        let cs = cases();
        let input: Vec<_> = cs
            .iter()
            .map(|(k, v, _)| (k.clone().into_bytes(), None, v))
            .collect();
        for t in Target::ALL {
            let f = round_trip(t, Limits::default(), &input);
            let big = nodes(find(&f, "list_big"));
            assert!(big.len() > 5, "{t:?}: {big:?}");
            assert!(
                big.iter().all(|&(c, sz)| c == 2 && sz <= 8192),
                "{t:?}: {big:?}"
            );
            let huge = nodes(find(&f, "list_huge_elem"));
            if t.level() >= 12 {
                // 7.4 gives an element beyond the node size limit a plain node.
                assert_eq!(
                    huge.iter().map(|n| n.0).collect::<Vec<_>>(),
                    [2, 1, 2, 1],
                    "{t:?}"
                );
            } else {
                assert!(huge.iter().all(|n| n.0 == 2), "{t:?}");
                assert_eq!(huge.len(), 4, "{t:?}: {huge:?}");
            }
            assert_eq!(nodes(find(&f, "list_small")).len(), 1);
        }
        // Entry-count fill: 3 per node.
        let l = Limits {
            list_max_listpack_size: 3,
            ..Limits::default()
        };
        let many = owned(10, |i| i.to_string());
        let v = list(&elems(&many));
        for t in Target::ALL {
            let f = round_trip(t, l, &[(b"l".to_vec(), None, &v)]);
            let n = nodes(&f.keys[0]);
            assert_eq!(n.len(), 4, "{t:?}");
        }
    }

    #[test]
    fn quicklist_node_bytes_hug_the_limit() {
        // 7.0's rule: a node takes an element while its size + element + 8 stays within 8 KB.
        let many = owned(3000, |i| format!("{i:08}x"));
        let v = list(&elems(&many));
        let f = round_trip(
            Target::REDIS_10,
            Limits::default(),
            &[(b"l".to_vec(), None, &v)],
        );
        let n = nodes(&f.keys[0]);
        // Each entry: 1 + 9 bytes + 1 backlen = 11; 7 header bytes.
        for (_, sz) in &n[..n.len() - 1] {
            assert!(*sz + 11 + 8 > 8192 && *sz <= 8192, "{n:?}");
        }
    }

    #[test]
    fn zset_order_and_skiplist_order() {
        let v = zset(&[
            (b("b"), 2.0),
            (b("a"), 2.0),
            (Elem::Int(10), 1.0),
            (b("9"), 1.0),
        ]);
        let f = round_trip(
            Target::REDIS_10,
            Limits::default(),
            &[(b"z".to_vec(), None, &v)],
        );
        let got: Vec<_> = f.keys[0]
            .v
            .zset()
            .map(|(e, s)| (elem_bytes(e).into_owned(), s))
            .collect();
        let want: Vec<(Vec<u8>, f64)> = vec![
            (b"10".to_vec(), 1.0),
            (b"9".to_vec(), 1.0),
            (b"a".to_vec(), 2.0),
            (b"b".to_vec(), 2.0),
        ];
        assert_eq!(got, want);
        // ZSET_2: highest first.
        let l = Limits {
            zset_max_listpack_entries: 0,
            ..Limits::default()
        };
        let f = round_trip(Target::REDIS_10, l, &[(b"z".to_vec(), None, &v)]);
        assert_eq!(f.keys[0].rdb_type, TYPE_ZSET_2);
        let got: Vec<_> = f.keys[0]
            .v
            .zset()
            .map(|(e, s)| (elem_bytes(e).into_owned(), s))
            .collect();
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(got, rev);
    }

    #[test]
    fn score_text_matches_each_servers_printing() {
        assert_eq!(score_text(9, 1e20), "1e+20");
        assert_eq!(score_text(10, 1e20), "1e+20");
        assert_eq!(score_text(11, 1e20), "1e+20");
        assert_eq!(score_text(11, 1e15), "1000000000000000");
        assert_eq!(score_text(11, 1.5e15), "1500000000000000");
        assert_eq!(score_text(9, 0.1), "0.10000000000000001");
        assert_eq!(score_text(11, 0.1), "0.1");
        assert_eq!(score_text(9, 1.5e-7), "1.4999999999999999e-07");
        assert_eq!(score_text(11, 1.5e-7), "1.5e-7");
        assert_eq!(score_text(11, 1e300), "1e+300");
        assert_eq!(score_text(11, -2.5), "-2.5");
        assert_eq!(score_text(11, 123456.789), "123456.789");
        assert_eq!(score_text(9, -0.0), "-0");
        assert_eq!(score_text(12, f64::NEG_INFINITY), "-inf");
        assert_eq!(score_text(9, 3.0), "3");
        for x in [
            0.1,
            1.5e-7,
            1e300,
            -1e-300,
            123456.789,
            9007199254740993.0,
            5e-324,
        ] {
            for lv in [9, 10, 11] {
                assert_eq!(score_text(lv, x).parse::<f64>().unwrap(), x, "{x} at {lv}");
            }
        }
    }

    #[test]
    fn hash_field_expiries_by_target() {
        let v = hash(&[
            (b("a"), b("1"), None),
            (b("b"), b("2"), Some(2_000_000_000_000)),
            (b("c"), b("3"), Some(1_900_000_000_000)),
        ]);
        for t in Target::ALL {
            let lost = losses(&t, &v);
            assert_eq!(lost.is_empty(), t.has_field_expiry(), "{t:?}");
            let f = round_trip(t, Limits::default(), &[(b"h".to_vec(), None, &v)]);
            let ttls = f.keys[0].hash.iter().filter(|h| h.2.is_some()).count();
            assert_eq!(ttls, if t.has_field_expiry() { 2 } else { 0 }, "{t:?}");
        }
        // 7.4 keeps expiring fields first, soonest first, and stores the minimum up front.
        let f = round_trip(
            Target::REDIS_12,
            Limits::default(),
            &[(b"h".to_vec(), None, &v)],
        );
        let r = &f.keys[0];
        assert_eq!(r.value[..8], 1_900_000_000_000u64.to_le_bytes());
        let order: Vec<_> = r.hash.iter().map(|h| h.0.clone()).collect();
        assert_eq!(order, [b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn stream_nodes_and_losses() {
        let v = stream(250, 5, true);
        for t in Target::ALL {
            let lost = losses(&t, &v);
            let want: Vec<Loss> = match t.level() {
                9 => vec![
                    Loss::StreamMetadata,
                    Loss::GroupEntriesRead,
                    Loss::ConsumerActiveTime,
                ],
                10 => vec![Loss::ConsumerActiveTime],
                _ => vec![],
            };
            assert_eq!(lost, want, "{t:?}");
        }
        let nodes = stream_nodes(&v);
        // 100 entries per node at most.
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0].0, v.entries()[0].id);
        assert_eq!(nodes[1].0, v.entries()[100].id);
        let big = stream(40, 1000, false);
        let nodes = stream_nodes(&big);
        assert!(nodes.len() >= 10, "{}", nodes.len());
        assert!(nodes.iter().all(|(_, lp)| lp.len() < 4096 + 2100));
        for (_, lp) in &nodes {
            listpack::validate(lp, true).unwrap();
        }
    }

    #[test]
    fn aux_functions_and_module_aux() {
        for t in Target::ALL {
            let mut w = Writer::new(Vec::new(), t, Limits::default()).unwrap();
            w.standard_aux(1_700_000_000, 3_000_000_000, true).unwrap();
            w.aux(b"repl-id", b"0123456789abcdef0123456789abcdef01234567")
                .unwrap();
            let f9 = w
                .function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)");
            assert_eq!(f9.is_ok(), t.has_functions());
            let mut raw = Vec::new();
            for n in [MODULE_OP_UINT, 2, MODULE_OP_SINT, 5, MODULE_OP_EOF] {
                length::encode(n, &mut raw);
            }
            w.module_aux(0xabcdef, &raw).unwrap();
            let data = w.finish().unwrap();
            let f = read_back(&data, t);
            let names: Vec<_> = f
                .aux
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .collect();
            let ver = if t.family == Family::Valkey {
                "valkey-ver"
            } else {
                "redis-ver"
            };
            let base = if t.version == 9 {
                "aof-preamble"
            } else {
                "aof-base"
            };
            assert_eq!(
                names,
                [ver, "redis-bits", "ctime", "used-mem", base, "repl-id"]
            );
            use crate::string::Str;
            assert_eq!(f.aux[0].1, Str::Raw(t.redis_ver().as_bytes()));
            assert_eq!(f.aux[1].1, Str::Int(64));
            assert_eq!(f.aux[2].1, Str::Int(1_700_000_000));
            assert_eq!(f.aux[3].1, Str::Raw(b"3000000000"));
            assert_eq!(f.aux[4].1, Str::Int(1));
            assert_eq!(f.funcs.len(), usize::from(t.has_functions()));
            assert_eq!(f.module_aux, [(0xabcdef, raw)]);
        }
    }

    #[test]
    fn targets_parse_and_magic() {
        assert_eq!(Target::parse("9"), Some(Target::REDIS_9));
        assert_eq!(Target::parse("12"), Some(Target::REDIS_12));
        assert_eq!(Target::parse("valkey80"), Some(Target::VALKEY_80));
        assert_eq!(Target::parse("80"), Some(Target::VALKEY_80));
        assert_eq!(Target::parse("13"), None);
        assert_eq!(Target::parse("8"), None);
        assert_eq!(&Target::REDIS_10.magic(), b"REDIS0010");
        assert_eq!(&Target::VALKEY_80.magic(), b"VALKEY080");
        assert_eq!(Target::REDIS_9.redis_ver(), "6.2.14");
        assert!(Writer::new(Vec::new(), Target::redis(13), Limits::default()).is_err());
    }

    /// Writes sample files for a manual check with real servers:
    /// `REDKIT_SAMPLE_DIR=/tmp/x cargo test -p redkit-formats --lib rdb::write -- --ignored`.
    #[test]
    #[ignore]
    fn write_sample_files() {
        let Ok(dir) = std::env::var("REDKIT_SAMPLE_DIR") else {
            return;
        };
        let cs = cases();
        for t in Target::ALL {
            let mut w = Writer::new(Vec::new(), t, Limits::default()).unwrap();
            w.standard_aux(1_700_000_000, 1_000_000, false).unwrap();
            // The module value needs its module loaded: left out of server checks.
            let keys: Vec<_> = cs
                .iter()
                .filter(|(_, v, _)| v.kind() != Kind::Module)
                .collect();
            w.select_db(0, keys.len() as u64, 1).unwrap();
            for (k, v, _) in keys {
                let exp = (k == "str16").then_some(4_000_000_000_000);
                w.key(k.as_bytes(), exp, v).unwrap();
            }
            let data = w.finish().unwrap();
            std::fs::write(format!("{dir}/{}.rdb", t.magic().escape_ascii()), data).unwrap();
        }
    }
}

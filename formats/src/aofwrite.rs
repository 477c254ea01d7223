//! Writing keys as the commands of an append-only file (AOF) in "rewrite form": the commands
//! Redis's AOF rewrite (`BGREWRITEAOF`) emits to rebuild each key, for a chosen Redis version.
//!
//! # Layout
//!
//! The output is a plain RESP command stream (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per
//! argument, see `resp.rs`), which is also the body of a single-file AOF or the BASE file of a
//! multi-part one. Per key, in this order:
//!
//! - `SELECT <db>` when the database differs from the previous key's (and before the first key);
//! - the value:
//!   - string: `SET key value`;
//!   - list: `RPUSH key e1 .. e64`, one command per 64 elements (Redis's
//!     `AOF_REWRITE_ITEMS_PER_CMD`), the last one shorter;
//!   - set: `SADD key m..` in the same batches;
//!   - sorted set: `ZADD key score member ..`, 64 pairs a command; scores are printed as
//!     `printf("%.17g")` before 7.2 and as the shortest round-trip form (grisu) from 7.2 on,
//!     `inf`/`-inf` for infinities;
//!   - hash: `HMSET key f v ..`, 64 pairs a command. From 7.4, a hash where some field has an
//!     expiry is written one field at a time instead: `HMSET key f v`, then, when that field
//!     expires, `HPEXPIREAT key <unix-ms> FIELDS 1 f`;
//!   - stream: `XADD key <id> f v ..` per entry; an empty stream is created with
//!     `XADD key MAXLEN 0 0-1 x y` (the entry is trimmed away at once). Then
//!     `XSETID key <last-id>`, with `ENTRIESADDED n MAXDELETEDID <id>` from 7.0. Per consumer
//!     group `XGROUP CREATE key group <last-delivered-id>` (plus `ENTRIESREAD n`, `-1` when
//!     unknown, from 7.0), then per consumer, either one
//!     `XCLAIM key group consumer 0 <id> TIME <ms> RETRYCOUNT <n> JUSTID FORCE` per pending
//!     entry it owns, or, for a consumer owning none, `XGROUP CREATECONSUMER key group consumer`
//!     (6.2+);
//!   - module value: Redis asks the module for commands, which only the module knows; this
//!     writer emits `RESTORE key 0 <DUMP payload>` instead (4.0+), which loads wherever the
//!     module is loaded;
//! - `PEXPIREAT key <unix-ms>` when the key expires.
//!
//! Functions (7.0+) are `FUNCTION LOAD <code>`, one per library, written before all keys.
//!
//! What a target cannot express is left out: [`losses`] lists it per value so the caller can
//! refuse or warn, and [`AofWriter::key`] then writes what remains. Keys whose expiry has
//! passed are written like any other (older rewrites skipped them): filtering is the caller's.
//!
//! Output goes through a 64 KiB buffer; long arguments are handed to the writer directly, so
//! nothing is copied twice and no argument allocates.

use std::fmt;
use std::io::{self, Write};

use crate::crc64::crc64;
use crate::rdb::consts::{Kind, TYPE_MODULE_2};
use crate::rdb::read::{Group, StreamId};
use crate::value::ValueBuf;
use crate::Elem;

/// Most elements (or pairs) one variadic command carries, as in Redis's rewrite.
pub const ITEMS_PER_CMD: usize = 64;

/// The buffer is handed to the output once it holds this much.
const BUF_CAP: usize = 64 * 1024;

/// Arguments at least this long bypass the buffer.
const DIRECT_LEN: usize = 16 * 1024;

/// The Redis version the commands are meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AofTarget {
    pub major: u32,
    pub minor: u32,
}

impl Default for AofTarget {
    fn default() -> Self {
        AofTarget::new(7, 0)
    }
}

impl fmt::Display for AofTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl AofTarget {
    pub const fn new(major: u32, minor: u32) -> Self {
        AofTarget { major, minor }
    }

    /// `"7"`, `"7.0"` or `"7.0.15"` (the patch level is ignored). Versions before 2.6 (no
    /// `PEXPIREAT`) are not targets and give `None`, like anything that is not a version.
    pub fn parse(s: &str) -> Option<AofTarget> {
        let mut parts = s.trim().split('.');
        let num = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            if p.is_empty() || p.len() > 6 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = match parts.next() {
            None => 0,
            some => num(some)?,
        };
        if let Some(patch) = parts.next() {
            num(Some(patch))?;
        }
        if parts.next().is_some() {
            return None;
        }
        let t = AofTarget::new(major, minor);
        (t >= AofTarget::new(2, 6)).then_some(t)
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        *self >= AofTarget::new(major, minor)
    }

    /// Streams exist (5.0).
    pub fn has_streams(&self) -> bool {
        self.at_least(5, 0)
    }

    /// `XGROUP CREATECONSUMER` exists (6.2).
    pub fn has_create_consumer(&self) -> bool {
        self.at_least(6, 2)
    }

    /// Streams carry entries-added / max-deleted-id and groups entries-read (7.0).
    pub fn has_stream_counters(&self) -> bool {
        self.at_least(7, 0)
    }

    /// `FUNCTION LOAD` exists (7.0).
    pub fn has_functions(&self) -> bool {
        self.at_least(7, 0)
    }

    /// Hash fields can expire: `HPEXPIREAT` (7.4).
    pub fn has_field_expiry(&self) -> bool {
        self.at_least(7, 4)
    }

    /// Module values exist (4.0).
    pub fn has_modules(&self) -> bool {
        self.at_least(4, 0)
    }

    /// The rewrite prints scores in the shortest round-trip form (7.2) instead of `%.17g`.
    pub fn shortest_scores(&self) -> bool {
        self.at_least(7, 2)
    }

    /// The RDB version the target writes, and the newest its `RESTORE` accepts.
    pub fn rdb_version(&self) -> u16 {
        match (self.major, self.minor) {
            (..=2, _) | (3, 0) => 6,
            (3, _) => 7,
            (4, _) => 8,
            (5 | 6, _) => 9,
            (7, 0) => 10,
            (7, 1..=3) => 11,
            _ => 12,
        }
    }
}

/// Something a value holds that the target cannot express; the writer leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loss {
    /// The whole key: a stream before 5.0.
    Stream,
    /// A stream's entries-added counter or largest deleted id (before 7.0).
    StreamMetadata,
    /// Consumer groups' entries-read counters (before 7.0).
    StreamGroups,
    /// Consumers that own no pending entry (before 6.2 there is no command creating one).
    StreamEmptyConsumers,
    /// Pending entries that no consumer owns (no command creates one, on any version).
    StreamUnownedPending,
    /// Pending entries whose stream entry was deleted: a server replaying XCLAIM of a missing
    /// id drops it from the PEL (Redis's own rewrite loses them the same way).
    StreamDeletedPending,
    /// Hash field expiries (before 7.4).
    FieldExpiry,
    /// A function library (before 7.0).
    Function,
    /// The whole key: a module value before 4.0.
    Module,
}

impl Loss {
    pub fn describe(self) -> &'static str {
        match self {
            Loss::Stream => "stream key (streams need 5.0)",
            Loss::StreamMetadata => "stream entries-added counter and max deleted id (need 7.0)",
            Loss::StreamGroups => "consumer group entries-read counters (need 7.0)",
            Loss::StreamEmptyConsumers => "consumers without pending entries (need 6.2)",
            Loss::StreamUnownedPending => "pending entries owned by no consumer",
            Loss::StreamDeletedPending => {
                "pending entries of deleted stream entries (XCLAIM cannot recreate them)"
            }
            Loss::FieldExpiry => "hash field expiries (need 7.4)",
            Loss::Function => "function libraries (need 7.0)",
            Loss::Module => "module value (modules need 4.0)",
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// What writing `v` for target `t` leaves out (empty when nothing is lost).
pub fn losses(t: &AofTarget, v: &ValueBuf) -> Vec<Loss> {
    let mut out = Vec::new();
    match v.kind() {
        Kind::Stream => {
            if !t.has_streams() {
                out.push(Loss::Stream);
                return out;
            }
            if !t.has_stream_counters() {
                if let Some(m) = v.stream_meta() {
                    let added = m.entries_added.is_some_and(|n| n != m.length);
                    let deleted = m.max_deleted_id.is_some_and(|id| id != ZERO_ID);
                    if added || deleted {
                        out.push(Loss::StreamMetadata);
                    }
                }
                if v.groups().iter().any(|g| g.entries_read.is_some()) {
                    out.push(Loss::StreamGroups);
                }
            }
            if !t.has_create_consumer()
                && v.groups()
                    .iter()
                    .any(|g| g.consumers.iter().any(|c| c.pending.is_empty()))
            {
                out.push(Loss::StreamEmptyConsumers);
            }
            if v.groups()
                .iter()
                .any(|g| g.pending.iter().any(|p| p.consumer.is_none()))
            {
                out.push(Loss::StreamUnownedPending);
            }
            let live = v.entries();
            let deleted = |id: &StreamId| live.binary_search_by(|e| e.id.cmp(id)).is_err();
            if v.groups()
                .iter()
                .any(|g| g.pending.iter().any(|p| deleted(&p.id)))
            {
                out.push(Loss::StreamDeletedPending);
            }
        }
        Kind::Hash => {
            if !t.has_field_expiry() && v.has_field_ttls() {
                out.push(Loss::FieldExpiry);
            }
        }
        Kind::Module => {
            if !t.has_modules() {
                out.push(Loss::Module);
            }
        }
        Kind::String | Kind::List | Kind::Set | Kind::Zset => {}
    }
    out
}

/// What writing function libraries for target `t` leaves out.
pub fn function_losses(t: &AofTarget) -> Vec<Loss> {
    if t.has_functions() {
        Vec::new()
    } else {
        vec![Loss::Function]
    }
}

const ZERO_ID: StreamId = StreamId { ms: 0, seq: 0 };

/// Decimal digits of `v` into the end of `buf`.
fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// `<ms>-<seq>`, as stream ids are printed.
fn fmt_id(id: StreamId, buf: &mut [u8; 41]) -> &[u8] {
    let mut n = [0u8; 20];
    let ms = fmt_u64(id.ms, &mut n);
    let a = ms.len();
    buf[..a].copy_from_slice(ms);
    buf[a] = b'-';
    let seq = fmt_u64(id.seq, &mut n);
    buf[a + 1..a + 1 + seq.len()].copy_from_slice(seq);
    &buf[..a + 1 + seq.len()]
}

/// A score as the target's rewrite prints it: `%.17g` before 7.2, the grisu shortest form
/// from 7.2 (see [`format_score`]).
pub fn format_score_for<'a>(t: &AofTarget, d: f64, buf: &'a mut [u8; 32]) -> &'a [u8] {
    format_score(d, t.shortest_scores(), buf)
}

/// Print `d` like C's `printf("%.17g")` (`shortest == false`) or like Redis 7.2+'s
/// `fpconv_dtoa` (`shortest == true`): the shortest digits that read back as `d`, as an integer
/// when the exponent is small, as a decimal fraction when it is slightly negative, else in
/// `1.5e+30` form. `fpconv_dtoa` uses grisu2, which on rare inputs picks one digit more than
/// the shortest; both strings parse to the same double. NaN prints as `nan`, infinities as
/// `inf`/`-inf`, negative zero as `-0`. No allocation.
pub fn format_score(d: f64, shortest: bool, buf: &mut [u8; 32]) -> &[u8] {
    let mut o = 0;
    if d.is_sign_negative() {
        buf[0] = b'-';
        o = 1;
    }
    let a = d.abs();
    if a.is_nan() || a.is_infinite() {
        let s: &[u8] = if a.is_nan() { b"nan" } else { b"inf" };
        buf[o..o + 3].copy_from_slice(s);
        return &buf[..o + 3];
    }
    if a == 0.0 {
        buf[o] = b'0';
        return &buf[..o + 1];
    }
    if !shortest {
        // Most scores (integers, binary fractions like 0.25) are exactly a short decimal:
        // then %.17g prints exactly those digits and no rounding step is needed.
        let mut digits = [0u8; 40];
        if let Some((nd, x)) = exact_short_digits(a, &mut digits) {
            let mut w = Out { buf, pos: o };
            lay_out_g17(&digits[..nd], x, &mut w);
            let end = w.pos;
            return &buf[..end];
        }
    }
    // Let the standard library pick the digits (exactly rounded to 17 digits, or the shortest
    // round trip) in scientific form, `d.ddde<exp>`, then lay them out the C way.
    let mut sci = [0u8; 40];
    let len = {
        let mut w: &mut [u8] = &mut sci;
        let r = if shortest {
            write!(w, "{a:e}")
        } else {
            write!(w, "{a:.16e}")
        };
        if r.is_err() {
            return &buf[..0];
        }
        40 - w.len()
    };
    let sci = &sci[..len];
    let Some(epos) = sci.iter().position(|&c| c == b'e') else {
        return &buf[..0];
    };
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &c in &sci[..epos] {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let (neg_exp, exp_digits) = match sci.get(epos + 1) {
        Some(b'-') => (true, &sci[epos + 2..]),
        _ => (false, &sci[epos + 1..]),
    };
    let mut x: i32 = 0;
    for &c in exp_digits {
        x = x * 10 + i32::from(c - b'0');
    }
    if neg_exp {
        x = -x;
    }
    let mut w = Out { buf, pos: o };
    if shortest {
        lay_out_fpconv(&digits[..nd], x, &mut w);
    } else {
        // %g drops trailing zeros of the 17 digits.
        while nd > 1 && digits[nd - 1] == b'0' {
            nd -= 1;
        }
        lay_out_g17(&digits[..nd], x, &mut w);
    }
    let end = w.pos;
    &buf[..end]
}

/// The exact decimal digits of a positive finite `a` (no trailing zeros) and the exponent of
/// the first one, when the exact value has at most 17 significant digits and is cheap to expand
/// (m * 2^e with 0 <= e <= 11, or m / 2^k with k <= 27, computed in u128). `None` otherwise.
fn exact_short_digits(a: f64, digits: &mut [u8; 40]) -> Option<(usize, i32)> {
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 || exp == 0x7ff {
        return None;
    }
    let mut m = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let mut e = exp - 1075;
    let tz = (m.trailing_zeros() as i32).min(-e.min(0));
    m >>= tz;
    e += tz;
    // The value is n / 10^k.
    let (n, k): (u128, i32) = if e >= 0 {
        if e > 11 {
            return None;
        }
        (u128::from(m) << e, 0)
    } else {
        let k = -e;
        if k > 27 {
            return None;
        }
        (u128::from(m) * 5u128.pow(k as u32), k)
    };
    let mut tmp = [0u8; 40];
    let mut len = 0;
    let mut v = n;
    while v > 0 {
        tmp[len] = b'0' + (v % 10) as u8;
        v /= 10;
        len += 1;
    }
    // tmp holds the digits least significant first; drop trailing zeros of the number.
    let mut low = 0;
    while low < len && tmp[low] == b'0' {
        low += 1;
    }
    let nd = len - low;
    if nd == 0 || nd > 17 {
        return None;
    }
    for i in 0..nd {
        digits[i] = tmp[len - 1 - i];
    }
    Some((nd, len as i32 - 1 - k))
}

struct Out<'a> {
    buf: &'a mut [u8; 32],
    pos: usize,
}

impl Out<'_> {
    fn put(&mut self, b: &[u8]) {
        let end = (self.pos + b.len()).min(self.buf.len());
        let n = end - self.pos;
        self.buf[self.pos..end].copy_from_slice(&b[..n]);
        self.pos = end;
    }
    fn zeros(&mut self, n: usize) {
        for _ in 0..n {
            self.put(b"0");
        }
    }
}

/// `%.17g` layout of `digits` (trailing zeros already gone) times 10^x (x = exponent of the
/// first digit): plain notation when -4 <= x < 17, else `d.ddde±XX` with at least two
/// exponent digits.
fn lay_out_g17(digits: &[u8], x: i32, w: &mut Out<'_>) {
    let nd = digits.len();
    if (-4..17).contains(&x) {
        if x >= 0 {
            let int_len = x as usize + 1;
            if nd <= int_len {
                w.put(digits);
                w.zeros(int_len - nd);
            } else {
                w.put(&digits[..int_len]);
                w.put(b".");
                w.put(&digits[int_len..]);
            }
        } else {
            w.put(b"0.");
            w.zeros((-x - 1) as usize);
            w.put(digits);
        }
    } else {
        w.put(&digits[..1]);
        if nd > 1 {
            w.put(b".");
            w.put(&digits[1..]);
        }
        w.put(if x < 0 { b"e-" } else { b"e+" });
        let e = x.unsigned_abs();
        if e < 10 {
            w.put(b"0");
        }
        let mut n = [0u8; 20];
        w.put(fmt_u64(u64::from(e), &mut n));
    }
}

/// `fpconv_dtoa` layout of `digits` times 10^x (x = exponent of the first digit).
fn lay_out_fpconv(digits: &[u8], x: i32, w: &mut Out<'_>) {
    let nd = digits.len() as i32;
    // k: exponent of the last digit.
    let k = x - (nd - 1);
    let e = x.abs();
    if k >= 0 && e < nd + 7 {
        w.put(digits);
        w.zeros(k as usize);
    } else if k < 0 && (k > -7 || e < 4) {
        let int_len = nd + k;
        if int_len <= 0 {
            w.put(b"0.");
            w.zeros((-int_len) as usize);
            w.put(digits);
        } else {
            let int_len = int_len as usize;
            w.put(&digits[..int_len]);
            w.put(b".");
            w.put(&digits[int_len..]);
        }
    } else {
        w.put(&digits[..1]);
        if nd > 1 {
            w.put(b".");
            w.put(&digits[1..]);
        }
        w.put(if x < 0 { b"e-" } else { b"e+" });
        let mut n = [0u8; 20];
        w.put(fmt_u64(u64::from(x.unsigned_abs()), &mut n));
    }
}

/// Writes keys as AOF rewrite commands. Output is buffered: call [`AofWriter::finish`] to
/// flush it (dropping the writer loses what is still buffered).
pub struct AofWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    target: AofTarget,
    /// The database the commands so far leave selected; `None` before the first SELECT.
    db: Option<u64>,
    /// Bytes already handed to `out`.
    flushed: u64,
}

impl<W: Write> AofWriter<W> {
    pub fn new(out: W, target: AofTarget) -> Self {
        AofWriter {
            out,
            buf: Vec::with_capacity(BUF_CAP + 1024),
            target,
            db: None,
            flushed: 0,
        }
    }

    pub fn target(&self) -> AofTarget {
        self.target
    }

    /// The database the commands written so far leave selected (`None` before any SELECT).
    pub fn db(&self) -> Option<u64> {
        self.db
    }

    /// Take `db` as already selected: for a writer whose output is appended after commands
    /// that selected it (keys encoded in parallel, in parts).
    pub fn assume_db(&mut self, db: Option<u64>) {
        self.db = db;
    }

    /// Append bytes made by another writer (whole commands) as they are.
    pub fn write_raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.flush_buf()?;
        self.out.write_all(b)?;
        self.flushed += b.len() as u64;
        Ok(())
    }

    /// Bytes produced so far, buffered ones included.
    pub fn bytes_written(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Flush the buffer and the output, and give the output back.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_buf()?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.flushed += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    #[inline]
    fn argc(&mut self, n: usize) {
        let mut d = [0u8; 20];
        self.buf.push(b'*');
        self.buf.extend_from_slice(fmt_u64(n as u64, &mut d));
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn bulk(&mut self, b: &[u8]) -> io::Result<()> {
        let mut d = [0u8; 20];
        self.buf.push(b'$');
        self.buf.extend_from_slice(fmt_u64(b.len() as u64, &mut d));
        self.buf.extend_from_slice(b"\r\n");
        if b.len() >= DIRECT_LEN {
            self.flush_buf()?;
            self.out.write_all(b)?;
            self.flushed += b.len() as u64;
        } else {
            self.buf.extend_from_slice(b);
        }
        self.buf.extend_from_slice(b"\r\n");
        if self.buf.len() >= BUF_CAP {
            self.flush_buf()?;
        }
        Ok(())
    }

    #[inline]
    fn bulk_i64(&mut self, v: i64) -> io::Result<()> {
        let mut d = [0u8; 20];
        self.bulk(crate::fmt_i64(v, &mut d))
    }

    #[inline]
    fn bulk_u64(&mut self, v: u64) -> io::Result<()> {
        let mut d = [0u8; 20];
        self.bulk(fmt_u64(v, &mut d))
    }

    #[inline]
    fn bulk_elem(&mut self, e: Elem<'_>) -> io::Result<()> {
        match e {
            Elem::Bytes(b) => self.bulk(b),
            Elem::Int(i) => self.bulk_i64(i),
        }
    }

    fn bulk_id(&mut self, id: StreamId) -> io::Result<()> {
        let mut d = [0u8; 41];
        self.bulk(fmt_id(id, &mut d))
    }

    fn bulk_score(&mut self, s: f64) -> io::Result<()> {
        let mut d = [0u8; 32];
        let t = self.target;
        self.bulk(format_score_for(&t, s, &mut d))
    }

    /// Write any command as is. A well-formed `SELECT <db>` updates the selected database;
    /// any other `SELECT` makes the next key select again.
    pub fn write_command(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.argc(args.len());
        for a in args {
            self.bulk(a)?;
        }
        if let Some(first) = args.first() {
            if first.eq_ignore_ascii_case(b"select") {
                self.db = match args {
                    [_, n] => parse_u64(n),
                    _ => None,
                };
            }
        }
        Ok(())
    }

    /// `SELECT db`, unless `db` is already selected.
    pub fn select(&mut self, db: u64) -> io::Result<()> {
        if self.db != Some(db) {
            self.buf.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n");
            self.bulk_u64(db)?;
            self.db = Some(db);
        }
        Ok(())
    }

    /// `FUNCTION LOAD <code>` for one library (7.0+; left out for older targets, see
    /// [`function_losses`]). Callers write functions before keys, as Redis does.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        if !self.target.has_functions() {
            return Ok(());
        }
        self.buf
            .extend_from_slice(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n");
        self.bulk(code)
    }

    /// Write one key: SELECT if needed, the value's commands, PEXPIREAT if `expire_ms` is set
    /// (absolute unix time in ms). What the target cannot express (see [`losses`]) is left
    /// out; a stream before 5.0 or a module value before 4.0 writes nothing at all, and so
    /// does an empty list, set, sorted set or hash (Redis never holds one).
    pub fn key(
        &mut self,
        db: u64,
        key: &[u8],
        expire_ms: Option<i64>,
        v: &ValueBuf,
    ) -> io::Result<()> {
        let kind = v.kind();
        let writes_nothing = match kind {
            Kind::Stream => !self.target.has_streams(),
            Kind::Module => !self.target.has_modules(),
            Kind::List | Kind::Set | Kind::Zset | Kind::Hash => v.is_empty(),
            Kind::String => false,
        };
        if writes_nothing {
            return Ok(());
        }
        self.select(db)?;
        match kind {
            Kind::String => {
                self.buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
                self.bulk(key)?;
                self.bulk(v.string())?;
            }
            Kind::List => self.batched(b"RPUSH", key, v.elems())?,
            Kind::Set => self.batched(b"SADD", key, v.elems())?,
            Kind::Zset => self.zset(key, v)?,
            Kind::Hash => self.hash(key, v)?,
            Kind::Stream => self.stream(key, v)?,
            Kind::Module => self.module(key, v)?,
        }
        if let Some(ms) = expire_ms {
            self.buf.extend_from_slice(b"*3\r\n$9\r\nPEXPIREAT\r\n");
            self.bulk(key)?;
            self.bulk_i64(ms)?;
        }
        Ok(())
    }

    /// `cmd key e..` with at most [`ITEMS_PER_CMD`] elements each.
    fn batched<'v>(
        &mut self,
        cmd: &[u8],
        key: &[u8],
        items: impl ExactSizeIterator<Item = Elem<'v>>,
    ) -> io::Result<()> {
        let mut left = items.len();
        let mut in_cmd = 0;
        for e in items {
            if in_cmd == 0 {
                let n = left.min(ITEMS_PER_CMD);
                self.argc(2 + n);
                self.bulk(cmd)?;
                self.bulk(key)?;
                in_cmd = n;
            }
            self.bulk_elem(e)?;
            in_cmd -= 1;
            left -= 1;
        }
        Ok(())
    }

    fn zset(&mut self, key: &[u8], v: &ValueBuf) -> io::Result<()> {
        // Members scored -0 go last: a server replaying the file stores scores of a still-small
        // (listpack) set as integers, which turns -0 into 0; after the first 128 members the
        // set is a skiplist and keeps -0, so a big set written this way reads back exactly.
        let neg_zero = |s: f64| s == 0.0 && s.is_sign_negative();
        let items = v
            .zset()
            .filter(|(_, s)| !neg_zero(*s))
            .chain(v.zset().filter(|(_, s)| neg_zero(*s)));
        let mut left = v.zset().len();
        let mut in_cmd = 0;
        for (m, score) in items {
            if in_cmd == 0 {
                let n = left.min(ITEMS_PER_CMD);
                self.argc(2 + 2 * n);
                self.bulk(b"ZADD")?;
                self.bulk(key)?;
                in_cmd = n;
            }
            self.bulk_score(score)?;
            self.bulk_elem(m)?;
            in_cmd -= 1;
            left -= 1;
        }
        Ok(())
    }

    fn hash(&mut self, key: &[u8], v: &ValueBuf) -> io::Result<()> {
        if v.has_field_ttls() && self.target.has_field_expiry() {
            // 7.4's form: each field on its own, its expiry right after it.
            for (f, val, ttl) in v.hash() {
                self.buf.extend_from_slice(b"*4\r\n$5\r\nHMSET\r\n");
                self.bulk(key)?;
                self.bulk_elem(f)?;
                self.bulk_elem(val)?;
                if let Some(ms) = ttl {
                    self.buf.extend_from_slice(b"*6\r\n$10\r\nHPEXPIREAT\r\n");
                    self.bulk(key)?;
                    self.bulk_i64(ms)?;
                    self.bulk(b"FIELDS")?;
                    self.bulk(b"1")?;
                    self.bulk_elem(f)?;
                }
            }
            return Ok(());
        }
        let items = v.hash();
        let mut left = items.len();
        let mut in_cmd = 0;
        for (f, val, _) in items {
            if in_cmd == 0 {
                let n = left.min(ITEMS_PER_CMD);
                self.argc(2 + 2 * n);
                self.bulk(b"HMSET")?;
                self.bulk(key)?;
                in_cmd = n;
            }
            self.bulk_elem(f)?;
            self.bulk_elem(val)?;
            in_cmd -= 1;
            left -= 1;
        }
        Ok(())
    }

    fn stream(&mut self, key: &[u8], v: &ValueBuf) -> io::Result<()> {
        let entries = v.entries();
        for e in entries {
            self.argc(3 + 2 * e.pairs);
            self.bulk(b"XADD")?;
            self.bulk(key)?;
            self.bulk_id(e.id)?;
            for (f, val) in v.entry_fields(e) {
                self.bulk_elem(f)?;
                self.bulk_elem(val)?;
            }
        }
        if entries.is_empty() {
            // Create the key with a throwaway entry that MAXLEN 0 trims at once; XSETID below
            // then puts the real last id back.
            self.buf.extend_from_slice(b"*7\r\n$4\r\nXADD\r\n");
            self.bulk(key)?;
            self.buf.extend_from_slice(
                b"$6\r\nMAXLEN\r\n$1\r\n0\r\n$3\r\n0-1\r\n$1\r\nx\r\n$1\r\ny\r\n",
            );
        }
        let meta = v.stream_meta();
        let last_id = match meta {
            Some(m) => m.last_id,
            None => entries.last().map_or(ZERO_ID, |e| e.id),
        };
        if self.target.has_stream_counters() {
            // A stream read from an RDB older than these counters gets what Redis gives it
            // on load: entries-added = length, no deleted id.
            let length = meta.map_or(entries.len() as u64, |m| m.length);
            let added = meta.and_then(|m| m.entries_added).unwrap_or(length);
            let max_del = meta.and_then(|m| m.max_deleted_id).unwrap_or(ZERO_ID);
            self.argc(7);
            self.bulk(b"XSETID")?;
            self.bulk(key)?;
            self.bulk_id(last_id)?;
            self.bulk(b"ENTRIESADDED")?;
            self.bulk_u64(added)?;
            self.bulk(b"MAXDELETEDID")?;
            self.bulk_id(max_del)?;
        } else {
            self.argc(3);
            self.bulk(b"XSETID")?;
            self.bulk(key)?;
            self.bulk_id(last_id)?;
        }
        for g in v.groups() {
            self.group(key, g)?;
        }
        Ok(())
    }

    fn group(&mut self, key: &[u8], g: &Group) -> io::Result<()> {
        let counters = self.target.has_stream_counters();
        self.argc(if counters { 7 } else { 5 });
        self.bulk(b"XGROUP")?;
        self.bulk(b"CREATE")?;
        self.bulk(key)?;
        self.bulk(&g.name)?;
        self.bulk_id(g.last_delivered_id)?;
        if counters {
            self.bulk(b"ENTRIESREAD")?;
            // -1 is Redis's "unknown", which XGROUP CREATE accepts.
            match g.entries_read {
                Some(n) => self.bulk_u64(n)?,
                None => self.bulk(b"-1")?,
            }
        }
        for c in &g.consumers {
            if c.pending.is_empty() {
                if self.target.has_create_consumer() {
                    self.argc(5);
                    self.bulk(b"XGROUP")?;
                    self.bulk(b"CREATECONSUMER")?;
                    self.bulk(key)?;
                    self.bulk(&g.name)?;
                    self.bulk(&c.name)?;
                }
                continue;
            }
            for id in &c.pending {
                // The group PEL holds the delivery time and count; it is sorted by id when
                // read from an RDB, but do not rely on it.
                let nack = match g.pending.binary_search_by(|p| p.id.cmp(id)) {
                    Ok(i) => g.pending.get(i),
                    Err(_) => g.pending.iter().find(|p| p.id == *id),
                };
                let Some(nack) = nack else {
                    // Not in the group PEL: nothing to restore it from.
                    continue;
                };
                self.argc(12);
                self.bulk(b"XCLAIM")?;
                self.bulk(key)?;
                self.bulk(&g.name)?;
                self.bulk(&c.name)?;
                self.bulk(b"0")?;
                self.bulk_id(*id)?;
                self.bulk(b"TIME")?;
                self.bulk_u64(nack.delivery_time_ms)?;
                self.bulk(b"RETRYCOUNT")?;
                self.bulk_u64(nack.delivery_count)?;
                self.bulk(b"JUSTID")?;
                self.bulk(b"FORCE")?;
            }
        }
        Ok(())
    }

    /// `RESTORE key 0 <payload>`: the payload is what DUMP gives for the value: RDB type 7,
    /// the serialized value (module id first), the target's RDB version (2 bytes LE) and the
    /// CRC64 of all that (8 bytes LE). It is streamed, not built.
    fn module(&mut self, key: &[u8], v: &ValueBuf) -> io::Result<()> {
        let (_, raw) = v.module();
        if raw.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "module values cannot be written as commands without their serialized form",
            ));
        }
        let ver = self.target.rdb_version().to_le_bytes();
        let mut crc = crc64(0, &[TYPE_MODULE_2]);
        crc = crc64(crc, raw);
        crc = crc64(crc, &ver);
        let mut d = [0u8; 20];
        self.argc(4);
        self.bulk(b"RESTORE")?;
        self.bulk(key)?;
        self.bulk(b"0")?;
        self.buf.push(b'$');
        let total = 1 + raw.len() as u64 + 2 + 8;
        self.buf.extend_from_slice(fmt_u64(total, &mut d));
        self.buf.extend_from_slice(b"\r\n");
        self.buf.push(TYPE_MODULE_2);
        if raw.len() >= DIRECT_LEN {
            self.flush_buf()?;
            self.out.write_all(raw)?;
            self.flushed += raw.len() as u64;
        } else {
            self.buf.extend_from_slice(raw);
        }
        self.buf.extend_from_slice(&ver);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf.extend_from_slice(b"\r\n");
        if self.buf.len() >= BUF_CAP {
            self.flush_buf()?;
        }
        Ok(())
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::read::{Consumer, PendingEntry, Sink, StreamMeta};
    use crate::resp::{encode_command, next_record, Record};

    fn t(s: &str) -> AofTarget {
        AofTarget::parse(s).unwrap()
    }

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The RESP bytes of `cmds`, each given as its arguments.
    fn enc(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            encode_command(&args, &mut out);
        }
        out
    }

    /// Split a command stream back into argument lists.
    fn dec(data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < data.len() {
            match next_record(data, pos, 0, 1).unwrap() {
                Record::Command(c) => {
                    out.push(c.args.iter().map(|a| a.to_vec()).collect());
                    pos = c.end;
                }
                Record::Annotation { .. } => panic!("annotation"),
            }
        }
        out
    }

    fn cmd(args: &[&[u8]]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.to_vec()).collect()
    }

    fn write_keys(target: AofTarget, keys: &[(u64, &[u8], Option<i64>, &ValueBuf)]) -> Vec<u8> {
        let mut w = AofWriter::new(Vec::new(), target);
        for (db, k, exp, v) in keys {
            w.key(*db, k, *exp, v).unwrap();
        }
        let n = w.bytes_written();
        let out = w.finish().unwrap();
        assert_eq!(n, out.len() as u64);
        out
    }

    fn one(target: AofTarget, v: &ValueBuf) -> Vec<u8> {
        write_keys(target, &[(0, b"k", None, v)])
    }

    fn select0() -> Vec<Vec<u8>> {
        cmd(&[b"SELECT", b"0"])
    }

    fn score(d: f64, shortest: bool) -> String {
        let mut b = [0u8; 32];
        String::from_utf8(format_score(d, shortest, &mut b).to_vec()).unwrap()
    }

    #[test]
    fn parses_targets() {
        assert_eq!(AofTarget::parse("7.0"), Some(AofTarget::new(7, 0)));
        assert_eq!(AofTarget::parse("6.2"), Some(AofTarget::new(6, 2)));
        assert_eq!(AofTarget::parse("7.0.15"), Some(AofTarget::new(7, 0)));
        assert_eq!(AofTarget::parse("5"), Some(AofTarget::new(5, 0)));
        assert_eq!(AofTarget::parse("2.6"), Some(AofTarget::new(2, 6)));
        assert_eq!(AofTarget::parse(" 7.4 "), Some(AofTarget::new(7, 4)));
        for bad in ["2.4", "", "7.", ".7", "7.x", "7.0.1.2", "-7", "7.0.", "1"] {
            assert_eq!(AofTarget::parse(bad), None, "{bad}");
        }
        assert_eq!(AofTarget::default(), AofTarget::new(7, 0));
        assert_eq!(t("7.0").to_string(), "7.0");
        assert_eq!(t("7.0").rdb_version(), 10);
        assert_eq!(t("7.2").rdb_version(), 11);
        assert_eq!(t("7.4").rdb_version(), 12);
        assert_eq!(t("6.2").rdb_version(), 9);
        assert_eq!(t("4.0").rdb_version(), 8);
    }

    #[test]
    fn string_bytes_and_expiry() {
        let mut v = ValueBuf::new(Kind::String);
        Sink::string(&mut v, b"hello\r\nworld");
        let out = write_keys(t("7.0"), &[(0, b"k", Some(1_700_000_000_123), &v)]);
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
              *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello\r\nworld\r\n\
              *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$13\r\n1700000000123\r\n"
                .to_vec()
        );
    }

    #[test]
    fn select_only_when_the_db_changes() {
        let mut v = ValueBuf::new(Kind::String);
        Sink::string(&mut v, b"v");
        let out = write_keys(
            t("7.0"),
            &[
                (3, b"a", None, &v),
                (3, b"b", None, &v),
                (0, b"c", None, &v),
                (0, b"d", None, &v),
                (3, b"e", None, &v),
            ],
        );
        let names: Vec<Vec<u8>> = dec(&out).into_iter().map(|c| c.concat()).collect();
        let want: Vec<&[u8]> = vec![
            b"SELECT3", b"SETav", b"SETbv", b"SELECT0", b"SETcv", b"SETdv", b"SELECT3", b"SETev",
        ];
        assert_eq!(names, want);

        // Explicit select and pass-through commands keep the state in step.
        let mut w = AofWriter::new(Vec::new(), t("7.0"));
        w.select(5).unwrap();
        w.select(5).unwrap();
        w.write_command(&[b"select", b"7"]).unwrap();
        w.key(7, b"x", None, &v).unwrap();
        w.write_command(&[b"SELECT", b"zz"]).unwrap();
        w.key(7, b"y", None, &v).unwrap();
        let out = w.finish().unwrap();
        let c: Vec<Vec<u8>> = dec(&out).into_iter().map(|c| c.concat()).collect();
        let want: Vec<&[u8]> = vec![
            b"SELECT5",
            b"select7",
            b"SETxv",
            b"SELECTzz",
            b"SELECT7",
            b"SETyv",
        ];
        assert_eq!(c, want);
    }

    fn list(n: usize) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::List);
        for i in 0..n {
            if i.is_multiple_of(2) {
                v.list_elem(Elem::Int(i as i64));
            } else {
                v.list_elem(Elem::Bytes(format!("e{i}").as_bytes()));
            }
        }
        v
    }

    fn elem_bytes(i: usize) -> Vec<u8> {
        if i.is_multiple_of(2) {
            i.to_string().into_bytes()
        } else {
            format!("e{i}").into_bytes()
        }
    }

    #[test]
    fn lists_and_sets_batch_at_64() {
        for n in [1usize, 63, 64, 65, 128, 129] {
            let v = list(n);
            let got = dec(&one(t("7.0"), &v));
            let mut want = vec![select0()];
            for start in (0..n).step_by(64) {
                let mut c = cmd(&[b"RPUSH", b"k"]);
                c.extend((start..n.min(start + 64)).map(elem_bytes));
                want.push(c);
            }
            assert_eq!(got, want, "n={n}");
            assert_eq!(got.len(), 1 + n.div_ceil(64));

            let mut s = ValueBuf::new(Kind::Set);
            for e in v.elems() {
                s.set_member(e);
            }
            let got = dec(&one(t("7.0"), &s));
            for (g, w) in got.iter().zip(want.iter()).skip(1) {
                assert_eq!(g[0], b"SADD");
                assert_eq!(g[1..], w[1..]);
            }
        }
        // Exact bytes of a small one, integers in decimal.
        let mut v = ValueBuf::new(Kind::List);
        v.list_elem(Elem::Int(-12));
        v.list_elem(Elem::Bytes(b""));
        assert_eq!(
            one(t("7.0"), &v),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*4\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$3\r\n-12\r\n$0\r\n\r\n"
                .to_vec()
        );
    }

    #[test]
    fn empty_collections_write_nothing() {
        for k in [Kind::List, Kind::Set, Kind::Zset, Kind::Hash] {
            let v = ValueBuf::new(k);
            assert!(write_keys(t("7.0"), &[(0, b"k", Some(5), &v)]).is_empty());
        }
    }

    #[test]
    fn zsets_batch_pairs_and_format_scores() {
        for n in [64usize, 65, 129] {
            let mut v = ValueBuf::new(Kind::Zset);
            for i in 0..n {
                v.zset_member(Elem::Int(i as i64), i as f64 + 0.5);
            }
            let got = dec(&one(t("7.0"), &v));
            assert_eq!(got.len(), 1 + n.div_ceil(64));
            let sizes: Vec<usize> = got[1..].iter().map(|c| c.len()).collect();
            let mut want = vec![2 + 128; n / 64];
            if n % 64 != 0 {
                want.push(2 + 2 * (n % 64));
            }
            assert_eq!(sizes, want);
            assert_eq!(got[1][2..4], [b"0.5".to_vec(), b"0".to_vec()]);
        }
        let mut v = ValueBuf::new(Kind::Zset);
        v.zset_member(Elem::Bytes(b"a"), 0.1);
        v.zset_member(Elem::Bytes(b"b"), f64::NEG_INFINITY);
        assert_eq!(
            one(t("7.0"), &v),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*6\r\n$4\r\nZADD\r\n$1\r\nk\r\n\
              $19\r\n0.10000000000000001\r\n$1\r\na\r\n$4\r\n-inf\r\n$1\r\nb\r\n"
                .to_vec()
        );
        let got = dec(&one(t("7.2"), &v));
        assert_eq!(got[1][2], b"0.1");
    }

    #[test]
    fn exact_fast_path_matches_c_printf() {
        extern "C" {
            fn snprintf(buf: *mut u8, n: usize, fmt: *const u8, ...) -> i32;
        }
        let printf = |d: f64| -> String {
            let mut b = [0u8; 64];
            // SAFETY: the buffer is 64 bytes, "%.17g" of a double fits, and the format string
            // is NUL-terminated.
            let n = unsafe { snprintf(b.as_mut_ptr(), b.len(), c"%.17g".as_ptr().cast(), d) };
            String::from_utf8_lossy(&b[..n as usize]).into_owned()
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for i in 0..200_000u64 {
            let r = next();
            let d = match i % 4 {
                0 => (r % (1 << 24)) as f64 / 256.0,
                1 => (r >> 11) as f64 / 2f64.powi((r % 40) as i32),
                2 => ((r >> 3) as i64 % 1_000_000_000_000) as f64 * 2f64.powi((r % 12) as i32),
                _ => f64::from_bits(r),
            };
            if !d.is_finite() {
                continue;
            }
            for d in [d, -d] {
                assert_eq!(score(d, false), printf(d), "{d:e}");
                checked += 1;
            }
        }
        assert!(checked > 300_000);
    }

    #[test]
    fn scores_like_printf_g17() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e300, "1.0000000000000001e+300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (9007199254740993.0, "9007199254740992"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1e-7, "9.9999999999999995e-08"),
            (0.0001, "0.0001"),
            (1e-5, "1.0000000000000001e-05"),
            (123456.0, "123456"),
            (-2.5, "-2.5"),
            (1.0 + 2f64.powi(-17), "1.0000076293945312"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "nan"),
        ];
        for (d, s) in cases {
            assert_eq!(score(*d, false), *s, "{d:e}");
        }
    }

    #[test]
    fn scores_like_fpconv() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (1e300, "1e+300"),
            (1e105, "1e+105"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (9007199254740993.0, "9007199254740992"),
            (1e7, "10000000"),
            (1e8, "1e+8"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (0.001234, "0.001234"),
            (0.0001234, "1.234e-4"),
            (123456.7, "123456.7"),
            (-2.5, "-2.5"),
            (1.25e-5, "1.25e-5"),
            (5e-324, "5e-324"),
        ];
        for (d, s) in cases {
            assert_eq!(score(*d, true), *s, "{d:e}");
        }
        // Whatever the layout, the text reads back as the same double.
        let mut x = 1.0e-310f64;
        while x < 1e308 {
            for d in [x, -x, x * 1.2345678901, 1.0 / x] {
                for sh in [false, true] {
                    let s = score(d, sh);
                    assert_eq!(s.parse::<f64>().unwrap(), d, "{s}");
                }
            }
            x *= 7.77;
        }
    }

    fn hash(ttls: bool, n: usize) -> ValueBuf {
        let mut v = ValueBuf::new(Kind::Hash);
        for i in 0..n {
            // Odd fields expire.
            let ttl = (ttls && i % 2 == 1).then_some(1_800_000_000_000 + i as i64);
            v.hash_field(
                Elem::Bytes(format!("f{i}").as_bytes()),
                Elem::Int(i as i64),
                ttl,
            );
        }
        v
    }

    #[test]
    fn hashes_batch_with_hmset() {
        for n in [1usize, 64, 65, 128, 129] {
            let got = dec(&one(t("7.0"), &hash(false, n)));
            assert_eq!(got.len(), 1 + n.div_ceil(64), "n={n}");
            assert!(got[1..]
                .iter()
                .all(|c| c[0] == b"HMSET" && c.len() <= 2 + 128));
            let fields: usize = got[1..].iter().map(|c| (c.len() - 2) / 2).sum();
            assert_eq!(fields, n);
        }
        assert_eq!(
            one(t("7.0"), &hash(false, 1)),
            enc(&[select0(), cmd(&[b"HMSET", b"k", b"f0", b"0"])])
        );
    }

    #[test]
    fn field_expiry_from_7_4_only() {
        let v = hash(true, 3);
        assert_eq!(losses(&t("7.2"), &v), vec![Loss::FieldExpiry]);
        assert!(losses(&t("7.4"), &v).is_empty());
        assert_eq!(
            one(t("7.4"), &v),
            enc(&[
                select0(),
                cmd(&[b"HMSET", b"k", b"f0", b"0"]),
                cmd(&[b"HMSET", b"k", b"f1", b"1"]),
                cmd(&[
                    b"HPEXPIREAT",
                    b"k",
                    b"1800000000001",
                    b"FIELDS",
                    b"1",
                    b"f1"
                ]),
                cmd(&[b"HMSET", b"k", b"f2", b"2"]),
            ])
        );
        // Older targets: the plain batched form, expiries dropped.
        assert_eq!(
            one(t("7.2"), &v),
            enc(&[
                select0(),
                cmd(&[b"HMSET", b"k", b"f0", b"0", b"f1", b"1", b"f2", b"2"])
            ])
        );
        // Without field expiries 7.4 keeps the batched form.
        assert_eq!(
            one(t("7.4"), &hash(false, 2)),
            one(t("7.0"), &hash(false, 2))
        );
    }

    /// A stream with two entries, an XDEL'd last id, a group with two consumers (one owning
    /// both pending entries, one owning none) and a second group with nothing.
    fn stream() -> ValueBuf {
        let mut v = ValueBuf::new(Kind::Stream);
        v.stream_entry(id(1, 0), &[(Elem::Bytes(b"f"), Elem::Int(1))]);
        v.stream_entry(
            id(2, 5),
            &[
                (Elem::Bytes(b"a"), Elem::Bytes(b"x")),
                (Elem::Int(7), Elem::Bytes(b"")),
            ],
        );
        Sink::stream_meta(
            &mut v,
            &StreamMeta {
                length: 2,
                last_id: id(3, 0),
                first_id: Some(id(1, 0)),
                max_deleted_id: Some(id(3, 0)),
                entries_added: Some(3),
            },
        );
        v.stream_group(&Group {
            name: b"g1".to_vec(),
            last_delivered_id: id(2, 5),
            entries_read: Some(2),
            pending: vec![
                PendingEntry {
                    id: id(1, 0),
                    delivery_time_ms: 1000,
                    delivery_count: 2,
                    consumer: Some(0),
                },
                PendingEntry {
                    id: id(2, 5),
                    delivery_time_ms: 2000,
                    delivery_count: 1,
                    consumer: Some(0),
                },
            ],
            consumers: vec![
                Consumer {
                    name: b"alice".to_vec(),
                    seen_time_ms: 5,
                    active_time_ms: Some(5),
                    pending: vec![id(1, 0), id(2, 5)],
                },
                Consumer {
                    name: b"bob".to_vec(),
                    seen_time_ms: 6,
                    active_time_ms: None,
                    pending: vec![],
                },
            ],
        });
        v.stream_group(&Group {
            name: b"g2".to_vec(),
            last_delivered_id: id(0, 0),
            entries_read: None,
            pending: vec![],
            consumers: vec![],
        });
        v
    }

    fn xclaim(c: &[u8], eid: &[u8], time: &[u8], count: &[u8]) -> Vec<Vec<u8>> {
        cmd(&[
            b"XCLAIM",
            b"k",
            b"g1",
            c,
            b"0",
            eid,
            b"TIME",
            time,
            b"RETRYCOUNT",
            count,
            b"JUSTID",
            b"FORCE",
        ])
    }

    #[test]
    fn streams_for_7_0() {
        let v = stream();
        assert!(losses(&t("7.0"), &v).is_empty());
        assert_eq!(
            one(t("7.0"), &v),
            enc(&[
                select0(),
                cmd(&[b"XADD", b"k", b"1-0", b"f", b"1"]),
                cmd(&[b"XADD", b"k", b"2-5", b"a", b"x", b"7", b""]),
                cmd(&[
                    b"XSETID",
                    b"k",
                    b"3-0",
                    b"ENTRIESADDED",
                    b"3",
                    b"MAXDELETEDID",
                    b"3-0"
                ]),
                cmd(&[
                    b"XGROUP",
                    b"CREATE",
                    b"k",
                    b"g1",
                    b"2-5",
                    b"ENTRIESREAD",
                    b"2"
                ]),
                xclaim(b"alice", b"1-0", b"1000", b"2"),
                xclaim(b"alice", b"2-5", b"2000", b"1"),
                cmd(&[b"XGROUP", b"CREATECONSUMER", b"k", b"g1", b"bob"]),
                cmd(&[
                    b"XGROUP",
                    b"CREATE",
                    b"k",
                    b"g2",
                    b"0-0",
                    b"ENTRIESREAD",
                    b"-1"
                ]),
            ])
        );
    }

    #[test]
    fn streams_for_6_2_and_5_0_and_4_0() {
        let v = stream();
        assert_eq!(
            losses(&t("6.2"), &v),
            vec![Loss::StreamMetadata, Loss::StreamGroups]
        );
        let old = |with_bob: bool| {
            let mut c = vec![
                select0(),
                cmd(&[b"XADD", b"k", b"1-0", b"f", b"1"]),
                cmd(&[b"XADD", b"k", b"2-5", b"a", b"x", b"7", b""]),
                cmd(&[b"XSETID", b"k", b"3-0"]),
                cmd(&[b"XGROUP", b"CREATE", b"k", b"g1", b"2-5"]),
                xclaim(b"alice", b"1-0", b"1000", b"2"),
                xclaim(b"alice", b"2-5", b"2000", b"1"),
            ];
            if with_bob {
                c.push(cmd(&[b"XGROUP", b"CREATECONSUMER", b"k", b"g1", b"bob"]));
            }
            c.push(cmd(&[b"XGROUP", b"CREATE", b"k", b"g2", b"0-0"]));
            enc(&c)
        };
        assert_eq!(one(t("6.2"), &v), old(true));
        assert_eq!(
            losses(&t("5.0"), &v),
            vec![
                Loss::StreamMetadata,
                Loss::StreamGroups,
                Loss::StreamEmptyConsumers
            ]
        );
        assert_eq!(one(t("5.0"), &v), old(false));
        assert_eq!(losses(&t("4.0"), &v), vec![Loss::Stream]);
        assert!(one(t("4.0"), &v).is_empty());
    }

    #[test]
    fn empty_streams_use_the_maxlen_trick() {
        let mut v = ValueBuf::new(Kind::Stream);
        Sink::stream_meta(
            &mut v,
            &StreamMeta {
                length: 0,
                last_id: id(9, 9),
                first_id: None,
                max_deleted_id: None,
                entries_added: None,
            },
        );
        assert_eq!(
            one(t("7.0"), &v),
            enc(&[
                select0(),
                cmd(&[b"XADD", b"k", b"MAXLEN", b"0", b"0-1", b"x", b"y"]),
                cmd(&[
                    b"XSETID",
                    b"k",
                    b"9-9",
                    b"ENTRIESADDED",
                    b"0",
                    b"MAXDELETEDID",
                    b"0-0"
                ]),
            ])
        );
        assert_eq!(
            one(t("6.0"), &v),
            enc(&[
                select0(),
                cmd(&[b"XADD", b"k", b"MAXLEN", b"0", b"0-1", b"x", b"y"]),
                cmd(&[b"XSETID", b"k", b"9-9"]),
            ])
        );
        // No metadata at all: last id 0-0.
        let v = ValueBuf::new(Kind::Stream);
        let got = dec(&one(t("7.0"), &v));
        assert_eq!(got[2][2], b"0-0");
    }

    #[test]
    fn unowned_pending_entries_are_a_loss() {
        let mut v = stream();
        let mut g = v.groups()[0].clone();
        g.name = b"g3".to_vec();
        g.pending[0].consumer = None;
        g.consumers[0].pending = vec![id(2, 5)];
        v.stream_group(&g);
        assert_eq!(losses(&t("7.0"), &v), vec![Loss::StreamUnownedPending]);
        // A pending id that is no live entry cannot come back through XCLAIM.
        let mut gone = v.clone();
        let mut g = gone.groups()[0].clone();
        g.pending[0].id = id(99, 0);
        gone.stream_group(&g);
        assert!(losses(&t("7.0"), &gone).contains(&Loss::StreamDeletedPending));
        let got = dec(&one(t("7.0"), &v));
        let g3_claims = got
            .iter()
            .filter(|c| c[0] == b"XCLAIM" && c[2] == b"g3")
            .count();
        assert_eq!(g3_claims, 1);
    }

    #[test]
    fn functions_from_7_0() {
        let mut w = AofWriter::new(Vec::new(), t("7.0"));
        w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            .unwrap();
        let out = w.finish().unwrap();
        assert_eq!(
            dec(&out),
            vec![cmd(&[
                b"FUNCTION",
                b"LOAD",
                b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"
            ])]
        );
        assert!(out.starts_with(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$"));
        let mut w = AofWriter::new(Vec::new(), t("6.2"));
        w.function(b"code").unwrap();
        assert!(w.finish().unwrap().is_empty());
        assert_eq!(function_losses(&t("6.2")), vec![Loss::Function]);
        assert!(function_losses(&t("7.0")).is_empty());
    }

    #[test]
    fn module_values_become_restore() {
        let mut v = ValueBuf::new(Kind::Module);
        // Module id (a 64-bit length-encoded value), then module EOF opcode.
        let mut raw = vec![0x81];
        raw.extend_from_slice(&0x1234_5678_9abc_de01u64.to_be_bytes());
        raw.push(0);
        Sink::module(&mut v, 0x1234_5678_9abc_de01, &raw);
        let got = dec(&write_keys(t("7.0"), &[(0, b"k", Some(99), &v)]));
        assert_eq!(got[1][..3], cmd(&[b"RESTORE", b"k", b"0"])[..]);
        let p = &got[1][3];
        assert_eq!(p[0], TYPE_MODULE_2);
        assert_eq!(&p[1..1 + raw.len()], &raw[..]);
        let n = p.len();
        assert_eq!(&p[n - 10..n - 8], &10u16.to_le_bytes());
        assert_eq!(&p[n - 8..], &crc64(0, &p[..n - 8]).to_le_bytes());
        assert_eq!(got[2], cmd(&[b"PEXPIREAT", b"k", b"99"]));
        assert_eq!(losses(&t("3.2"), &v), vec![Loss::Module]);
        assert!(one(t("3.2"), &v).is_empty());
        let empty = ValueBuf::new(Kind::Module);
        let mut w = AofWriter::new(Vec::new(), t("7.0"));
        let e = w.key(0, b"k", None, &empty).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn long_arguments_bypass_the_buffer() {
        let big = vec![b'z'; DIRECT_LEN * 5 + 3];
        let mut v = ValueBuf::new(Kind::List);
        for _ in 0..70 {
            v.list_elem(Elem::Bytes(&big));
            v.list_elem(Elem::Int(i64::MIN));
        }
        let out = one(t("7.0"), &v);
        let got = dec(&out);
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].len(), 66);
        assert_eq!(got[1][2], big);
        assert_eq!(got[1][3], i64::MIN.to_string().into_bytes());
        assert_eq!(got[3].len(), 2 + 12);
    }

    /// Writes `/tmp/redkit_aofwrite_check.aof` when REDKIT_AOF_CHECK is set, for loading into
    /// a real server (see the README section).
    #[test]
    fn sample_file_for_a_real_server() {
        let Some(path) = std::env::var_os("REDKIT_AOF_CHECK") else {
            return;
        };
        let mut w = AofWriter::new(Vec::new(), t("7.0"));
        w.function(
            b"#!lua name=mylib\nredis.register_function('myf', function(keys, args) return 1 end)",
        )
        .unwrap();
        let mut s = ValueBuf::new(Kind::String);
        Sink::string(&mut s, b"bin\x00\r\nary");
        w.key(0, b"str", Some(4_000_000_000_000), &s).unwrap();
        w.key(0, b"list", None, &list(130)).unwrap();
        let mut z = ValueBuf::new(Kind::Zset);
        for (i, sc) in [
            1.0,
            1.5,
            0.1,
            -0.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9007199254740993.0,
        ]
        .iter()
        .enumerate()
        {
            z.zset_member(Elem::Bytes(format!("m{i}").as_bytes()), *sc);
        }
        w.key(0, b"zset", None, &z).unwrap();
        let mut set = ValueBuf::new(Kind::Set);
        for i in 0..100 {
            set.set_member(Elem::Int(i));
        }
        w.key(2, b"set", None, &set).unwrap();
        w.key(2, b"hash", None, &hash(false, 70)).unwrap();
        w.key(2, b"stream", None, &stream()).unwrap();
        let mut e = ValueBuf::new(Kind::Stream);
        Sink::stream_meta(
            &mut e,
            &StreamMeta {
                length: 0,
                last_id: id(5, 5),
                first_id: Some(id(0, 0)),
                max_deleted_id: Some(id(5, 5)),
                entries_added: Some(4),
            },
        );
        w.key(2, b"empty", None, &e).unwrap();
        std::fs::write(path, w.finish().unwrap()).unwrap();
    }
}

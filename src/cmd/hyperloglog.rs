//! HyperLogLog commands (Redis 7.0's `hyperloglog.c`): PFADD, PFCOUNT, PFMERGE, PFDEBUG.
//!
//! A HyperLogLog is an ordinary string value holding Redis's byte layout, so GET, DUMP and
//! DEBUG DIGEST see exactly what Redis would store:
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached cardinality (u64 LE,
//! top bit set = stale) | registers
//! ```
//!
//! 16384 registers of 6 bits. Dense: 12288 bytes of packed registers, least significant bits
//! first. Sparse: run-length opcodes (ZERO 00xxxxxx: 1-64 zero registers; XZERO 01xxxxxx
//! xxxxxxxx: 1-16384 zero registers; VAL 1vvvvvxx: 1-4 registers of value 1-32), promoted to
//! dense when a value above 32 is needed or the string would grow past 3000 bytes.
//!
//! Every edit follows Redis's own sequence of opcode splits and merges, because two sparse
//! strings with the same registers can differ in their bytes.

use super::util::WRONGTYPE;
use super::{flags, CommandSpec, Ctx, Reply};
use crate::keyspace::{SStr, Value};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "pfadd",
        -2,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        (1, 1, 1),
        pfadd,
    ),
    CommandSpec::new(
        "pfcount",
        -2,
        flags::READONLY | flags::MAY_REPLICATE,
        (1, -1, 1),
        pfcount,
    ),
    CommandSpec::new(
        "pfmerge",
        -2,
        flags::WRITE | flags::DENYOOM,
        (1, -1, 1),
        pfmerge,
    ),
    CommandSpec::new(
        "pfdebug",
        3,
        flags::WRITE | flags::DENYOOM | flags::ADMIN,
        (2, 2, 1),
        pfdebug,
    ),
];

const P: u32 = 14;
const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
const HDR: usize = 16;
/// Size of a dense HyperLogLog string.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Redis's `hll-sparse-max-bytes` default.
const SPARSE_MAX_BYTES: usize = 3000;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u64 = 0xadc8_3b19;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

// ------------------------------------------------------------------------------------------
// Hashing
// ------------------------------------------------------------------------------------------

/// MurmurHash2, 64-bit version (MurmurHash64A), reading 8-byte blocks little endian as
/// Redis's endian-neutral variant does.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element updates and the value it offers (position of the first 1 bit
/// after the index bits, counting from 1).
fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ------------------------------------------------------------------------------------------
// Dense registers
// ------------------------------------------------------------------------------------------

#[inline]
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u32::from(regs[byte]);
    // The byte after the last one is the string's terminator: zero.
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

#[inline]
fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u32::from(val);
    regs[byte] &= !((63u32 << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((63u32 >> (8 - fb)) as u8);
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Raise register `i` to `count`; true if it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

// ------------------------------------------------------------------------------------------
// Sparse opcodes
// ------------------------------------------------------------------------------------------

/// Byte `i` of the string, or 0 past its end (Redis reads the terminator there).
#[inline]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

#[inline]
fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}
#[inline]
fn is_xzero(op: u8) -> bool {
    op & 0xc0 == 0x40
}
#[inline]
fn is_val(op: u8) -> bool {
    op & 0x80 != 0
}
#[inline]
fn zero_len(op: u8) -> usize {
    usize::from(op & 0x3f) + 1
}
#[inline]
fn xzero_len(b: &[u8], p: usize) -> usize {
    ((usize::from(at(b, p) & 0x3f) << 8) | usize::from(at(b, p + 1))) + 1
}
#[inline]
fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}
#[inline]
fn val_len(op: u8) -> usize {
    usize::from(op & 3) + 1
}
#[inline]
fn val_op(val: u8, len: usize) -> u8 {
    0x80 | ((val - 1) << 2) | (len as u8 - 1)
}
fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push((l & 0xff) as u8);
    } else {
        out.push((len - 1) as u8);
    }
}

/// A new, empty HyperLogLog: sparse, one XZERO opcode for all registers, cached cardinality
/// 0 and valid.
pub fn new_hll() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let l = REGISTERS - 1;
    v.push(0x40 | (l >> 8) as u8);
    v.push((l & 0xff) as u8);
    v
}

/// One opcode of a sparse representation: a run of zero registers (ZERO, or XZERO when
/// `two_bytes`) or a run of registers holding one value (VAL).
enum Run {
    Zero { len: usize, two_bytes: bool },
    Val { len: usize, val: u8 },
}

/// The opcodes of the sparse string `s`, in order. Every reader of the sparse form walks them
/// the same way; what a run past the 16384th register means is up to the reader.
fn sparse_runs(s: &[u8]) -> impl Iterator<Item = Run> + '_ {
    let mut p = HDR;
    std::iter::from_fn(move || {
        let op = *s.get(p)?;
        Some(if is_zero(op) {
            p += 1;
            Run::Zero {
                len: zero_len(op),
                two_bytes: false,
            }
        } else if is_xzero(op) {
            let len = xzero_len(s, p);
            p += 2;
            Run::Zero {
                len,
                two_bytes: true,
            }
        } else {
            p += 1;
            Run::Val {
                len: val_len(op),
                val: val_value(op),
            }
        })
    })
}

/// The dense form of a sparse HyperLogLog, header (cached cardinality included) kept; `None`
/// if the opcodes do not cover exactly 16384 registers.
fn sparse_to_dense(s: &[u8]) -> Option<Vec<u8>> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&s[..HDR]);
    d[4] = DENSE;
    let regs = &mut d[HDR..];
    let mut idx = 0usize;
    for run in sparse_runs(s) {
        match run {
            Run::Zero { len, .. } => idx += len,
            Run::Val { len, val } => {
                if len + idx > REGISTERS {
                    break;
                }
                for r in idx..idx + len {
                    dense_set(regs, r, val);
                }
                idx += len;
            }
        }
    }
    (idx == REGISTERS).then_some(d)
}

/// Set sparse register `index` to `count` if that raises it (`hllSparseSet`): 1 updated,
/// 0 unchanged, -1 corrupt. May replace `s` with its dense form.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8) -> i32 {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = s.len();
    let (mut p, mut first, mut span) = (HDR, 0usize, 0usize);
    let mut prev: Option<usize> = None;
    while p < end {
        let op = s[p];
        let mut oplen = 1;
        if is_zero(op) {
            span = zero_len(op);
        } else if is_val(op) {
            span = val_len(op);
        } else {
            span = xzero_len(s, p);
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return -1;
    }
    let op = s[p];
    let oldlen = if is_xzero(op) { 2 } else { 1 };
    let has_next = p + oldlen < end;
    let (zero, xzero) = (is_zero(op), is_xzero(op));
    let runlen = if zero {
        zero_len(op)
    } else if xzero {
        xzero_len(s, p)
    } else {
        val_len(op)
    };
    // Step 2: the trivial in-place cases.
    let mut in_place = false;
    if !zero && !xzero {
        if val_value(op) >= count {
            return 0;
        }
        if runlen == 1 {
            s[p] = val_op(count, 1);
            in_place = true;
        }
    }
    if zero && runlen == 1 {
        s[p] = val_op(count, 1);
        in_place = true;
    }
    let mut end = end;
    if !in_place {
        // Step 3: split the opcode into up to three.
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        if zero || xzero {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        } else {
            let cur = val_value(op);
            if index != first {
                seq.push(val_op(cur, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(cur, last - index));
            }
        }
        let delta = seq.len() as isize - oldlen as isize;
        if delta > 0 && s.len() + delta as usize > SPARSE_MAX_BYTES {
            return promote(s, index, count);
        }
        let new_len = (s.len() as isize + delta) as usize;
        if has_next {
            s.splice(p..p + oldlen, seq);
        } else {
            // The last opcode (possibly cut short): the string ends after the new sequence.
            s.truncate(p);
            s.extend_from_slice(&seq);
            s.truncate(new_len);
        }
        end = s.len();
    }
    // Step 4: merge equal neighbouring VAL opcodes, looking at up to 5 opcodes from the one
    // before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < end {
        if scan == 0 {
            break;
        }
        scan -= 1;
        let op = s[p];
        if is_xzero(op) {
            p += 2;
            continue;
        }
        if is_zero(op) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(s[p + 1]) {
            let (v1, v2) = (val_value(op), val_value(s[p + 1]));
            if v1 == v2 {
                let len = val_len(op) + val_len(s[p + 1]);
                if len <= VAL_MAX_LEN {
                    s[p + 1] = val_op(v1, len);
                    s.remove(p);
                    end -= 1;
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate(s);
    1
}

/// Switch `s` to dense and set the register there.
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> i32 {
    let Some(mut d) = sparse_to_dense(s) else {
        return -1;
    };
    dense_raise(&mut d[HDR..], index, count);
    *s = d;
    1
}

fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// Add one element (`hllAdd`): 1 if a register changed, 0 if not, -1 if corrupt.
fn hll_add(s: &mut Vec<u8>, ele: &[u8]) -> i32 {
    let (index, count) = pat_len(ele);
    match s[4] {
        DENSE => i32::from(dense_raise(&mut s[HDR..], index, count)),
        SPARSE => sparse_set(s, index, count),
        _ => -1,
    }
}

/// Fold `s` into the per-register maxima `max` (`hllMerge`); false if a sparse string is
/// corrupt.
fn merge_into(max: &mut [u8], s: &[u8]) -> bool {
    if s[4] == DENSE {
        let regs = &s[HDR..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            let v = dense_get(regs, i);
            if v > *m {
                *m = v;
            }
        }
        return true;
    }
    let mut i = 0usize;
    for run in sparse_runs(s) {
        match run {
            Run::Zero { len, .. } => i += len,
            Run::Val { len, val } => {
                if len + i > REGISTERS {
                    break;
                }
                for m in &mut max[i..i + len] {
                    if val > *m {
                        *m = val;
                    }
                }
                i += len;
            }
        }
    }
    i == REGISTERS
}

// ------------------------------------------------------------------------------------------
// Estimation
// ------------------------------------------------------------------------------------------

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's improved estimator over a register histogram, as `hllCount` computes it.
fn estimate(hist: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - hist[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += hist[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(hist[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimate of a stored HyperLogLog; `None` if a sparse one is corrupt.
fn count(s: &[u8]) -> Option<u64> {
    let mut hist = [0i64; 64];
    if s[4] == DENSE {
        let regs = &s[HDR..];
        for i in 0..REGISTERS {
            hist[usize::from(dense_get(regs, i))] += 1;
        }
    } else {
        let mut idx = 0usize;
        for run in sparse_runs(s) {
            let (len, val) = match run {
                Run::Zero { len, .. } => (len, 0),
                Run::Val { len, val } => (len, val),
            };
            idx += len;
            hist[usize::from(val)] += len as i64;
        }
        if idx != REGISTERS {
            return None;
        }
    }
    Some(estimate(&hist))
}

fn count_raw(max: &[u8]) -> u64 {
    let mut hist = [0i64; 64];
    for &v in max {
        hist[usize::from(v & 63)] += 1;
    }
    estimate(&hist)
}

// ------------------------------------------------------------------------------------------
// Values
// ------------------------------------------------------------------------------------------

/// Is `v` a string holding a HyperLogLog (`isHLLObjectOrReply`)? Returns its bytes.
fn hll_bytes(v: &Value) -> Result<&[u8], Reply> {
    let b: &[u8] = match v {
        Value::Emb(s) | Value::Raw(s) => s,
        // An integer-encoded string cannot be one.
        Value::Int(_) => return Err(Reply::err(NOT_HLL)),
        _ => return Err(Reply::err(WRONGTYPE)),
    };
    if b.len() < HDR
        || &b[..4] != b"HYLL"
        || b[4] > SPARSE
        || (b[4] == DENSE && b.len() != DENSE_SIZE)
    {
        return Err(Reply::err(NOT_HLL));
    }
    Ok(b)
}

/// The live value at `key` checked to be a HyperLogLog; `Ok(None)` when missing.
fn lookup_hll<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Value>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(v) => {
            hll_bytes(v)?;
            Ok(Some(v))
        }
    }
}

/// Edit a HyperLogLog value in place: it always ends up `raw`, as Redis's
/// `dbUnshareStringValue` makes it. A dense value is edited without copying.
fn edit<R>(v: &mut Value, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = match std::mem::replace(v, Value::Int(0)) {
        Value::Emb(s) | Value::Raw(s) => match s {
            SStr::Heap(b) => b.into_vec(),
            other => other.to_vec(),
        },
        other => {
            *v = other;
            return f(&mut Vec::new());
        }
    };
    let r = f(&mut buf);
    *v = Value::Raw(SStr::from(buf));
    r
}

// ------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------

fn pfadd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let key = args[1];
    let mut updated = 0u64;
    let v = match lookup_hll(ctx, key) {
        Err(e) => return e,
        Ok(Some(v)) => v,
        Ok(None) => {
            updated = 1;
            ctx.db().set(key, Value::Raw(SStr::from(new_hll())));
            match ctx.db().get_mut(key) {
                Some(e) => &mut e.value,
                None => return Reply::err(CORRUPT),
            }
        }
    };
    let corrupt = edit(v, |s| {
        for ele in &args[2..] {
            match hll_add(s, ele) {
                1 => updated += 1,
                -1 => return true,
                _ => {}
            }
        }
        if updated > 0 {
            invalidate(s);
        }
        false
    });
    if corrupt {
        return Reply::err(CORRUPT);
    }
    ctx.dirty(updated);
    Reply::Int(i64::from(updated > 0))
}

fn pfcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() > 2 {
        // The union of several: merged into a scratch register array, nothing is written.
        let mut max = vec![0u8; REGISTERS];
        for key in &args[1..] {
            match lookup_hll(ctx, key) {
                Err(e) => return e,
                Ok(None) => {}
                Ok(Some(v)) => {
                    let Ok(b) = hll_bytes(v) else {
                        return Reply::err(NOT_HLL);
                    };
                    if !merge_into(&mut max, b) {
                        return Reply::err(CORRUPT);
                    }
                }
            }
        }
        return Reply::Int(count_raw(&max) as i64);
    }
    let v = match lookup_hll(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(v)) => v,
    };
    // A stale cached cardinality is recomputed and stored: a write, propagated as is.
    let r = edit(v, |s| {
        if s[15] & 0x80 == 0 {
            let mut c = [0u8; 8];
            c.copy_from_slice(&s[8..16]);
            return Ok((u64::from_le_bytes(c), false));
        }
        let card = count(s).ok_or(())?;
        s[8..16].copy_from_slice(&card.to_le_bytes());
        Ok((card, true))
    });
    match r {
        Err(()) => Reply::err(CORRUPT),
        Ok((card, wrote)) => {
            if wrote {
                ctx.dirty(1);
            }
            Reply::Int(card as i64)
        }
    }
}

fn pfmerge(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for key in &args[1..] {
        match lookup_hll(ctx, key) {
            Err(e) => return e,
            Ok(None) => {}
            Ok(Some(v)) => {
                let Ok(b) = hll_bytes(v) else {
                    return Reply::err(NOT_HLL);
                };
                if b[4] == DENSE {
                    use_dense = true;
                }
                if !merge_into(&mut max, b) {
                    return Reply::err(CORRUPT);
                }
            }
        }
    }
    let dst = args[1];
    if ctx.lookup(dst).is_none() {
        ctx.db().set(dst, Value::Raw(SStr::from(new_hll())));
    }
    let Some(entry) = ctx.db().get_mut(dst) else {
        return Reply::err(CORRUPT);
    };
    let ok = edit(&mut entry.value, |s| {
        if use_dense && s[4] == SPARSE {
            match sparse_to_dense(s) {
                Some(d) => *s = d,
                None => return false,
            }
        }
        for (j, &m) in max.iter().enumerate() {
            if m == 0 {
                continue;
            }
            if s[4] == DENSE {
                dense_raise(&mut s[HDR..], j, m);
            } else {
                sparse_set(s, j, m);
            }
        }
        invalidate(s);
        true
    });
    if !ok {
        return Reply::err(CORRUPT);
    }
    ctx.dirty(1);
    Reply::Ok
}

fn pfdebug(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let sub = args[1];
    let v = match lookup_hll(ctx, args[2]) {
        Err(e) => return e,
        Ok(None) => return Reply::err("ERR The specified key does not exist"),
        Ok(Some(v)) => v,
    };
    let name = String::from_utf8_lossy(sub.split(|&c| c == 0).next().unwrap_or(b""));
    let lower = name.to_ascii_lowercase();
    let (reply, dirty) = edit(v, |s| match lower.as_str() {
        "getreg" | "todense" => {
            let mut conv = false;
            if s[4] == SPARSE {
                match sparse_to_dense(s) {
                    Some(d) => *s = d,
                    None => return (Reply::err(CORRUPT), false),
                }
                conv = true;
            }
            if lower == "todense" {
                return (Reply::Int(i64::from(conv)), conv);
            }
            let regs = &s[HDR..];
            let all = (0..REGISTERS)
                .map(|i| Reply::Int(i64::from(dense_get(regs, i))))
                .collect();
            (Reply::Array(all), conv)
        }
        "decode" => {
            if s[4] != SPARSE {
                return (Reply::err("ERR HLL encoding is not sparse"), false);
            }
            let out: Vec<String> = sparse_runs(s)
                .map(|run| match run {
                    Run::Zero {
                        len,
                        two_bytes: false,
                    } => format!("z:{len}"),
                    Run::Zero { len, .. } => format!("Z:{len}"),
                    Run::Val { len, val } => format!("v:{val},{len}"),
                })
                .collect();
            (Reply::Bulk(out.join(" ").into_bytes()), false)
        }
        "encoding" => (
            Reply::status(if s[4] == DENSE { "dense" } else { "sparse" }),
            false,
        ),
        _ => (
            Reply::err(format!("ERR Unknown PFDEBUG subcommand '{name}'")),
            false,
        ),
    });
    if dirty {
        ctx.dirty(1);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs_of(s: &[u8]) -> Vec<u8> {
        if s[4] == DENSE {
            (0..REGISTERS).map(|i| dense_get(&s[HDR..], i)).collect()
        } else {
            let mut max = vec![0u8; REGISTERS];
            assert!(merge_into(&mut max, s));
            max
        }
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_hll();
        let mut model = vec![0u8; REGISTERS];
        for i in 0..5000u32 {
            let e = i.to_le_bytes();
            let (idx, c) = pat_len(&e);
            model[idx] = model[idx].max(c);
            assert!(hll_add(&mut s, &e) >= 0);
            if i % 97 == 0 {
                assert_eq!(regs_of(&s), model, "after {i}");
            }
        }
        assert_eq!(s[4], DENSE);
        assert_eq!(s.len(), DENSE_SIZE);
        assert_eq!(regs_of(&s), model);
        let est = count(&s).unwrap();
        assert!((4500..5500).contains(&est), "{est}");
        assert_eq!(count(&new_hll()), Some(0));
    }
}

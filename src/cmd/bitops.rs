//! Bit commands on string values (Redis's `bitops.c`): SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO.
//!
//! Bits are numbered from the most significant bit of the first byte. Writers turn the value
//! `raw` and zero-pad it up to the highest bit they touch (even when no bit changes, as
//! Redis does); readers see an `int` value as its decimal text.

use std::borrow::Cow;

use super::t_string::PROTO_MAX_BULK_LEN;
use super::util::{eq_ic, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::string::{make_raw, raw_bytes_mut, raw_grow_zero, raw_value, string_bytes};
use crate::keyspace::Value;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, (1, 1, 1), setbit),
    CommandSpec::new("getbit", 3, READONLY | FAST, (1, 1, 1), getbit),
    CommandSpec::new("bitcount", -2, READONLY, (1, 1, 1), bitcount),
    CommandSpec::new("bitpos", -3, READONLY, (1, 1, 1), bitpos),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), bitfield),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), bitfield_ro),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset argument (Redis's `getBitOffsetFromArgument`). With `hash_bits` > 0 the
/// `#N` form means N fields of that width. The limit is `proto-max-bulk-len` bytes.
fn bit_offset(arg: &[u8], hash_bits: u32) -> Result<u64, Reply> {
    let (usehash, digits) = match arg.first() {
        Some(b'#') if hash_bits > 0 => (true, &arg[1..]),
        _ => (false, arg),
    };
    let Some(mut off) = parse_i64(digits) else {
        return Err(Reply::err(BAD_OFFSET));
    };
    if usehash {
        // Redis multiplies without an overflow check; a wrapped product is then caught
        // (or not) by the range check, as there.
        off = off.wrapping_mul(i64::from(hash_bits));
    }
    if off < 0 || (off >> 3) as u64 >= PROTO_MAX_BULK_LEN {
        return Err(Reply::err(BAD_OFFSET));
    }
    Ok(off as u64)
}

/// The bytes of a string value for reading (`int` as its text), or WRONGTYPE.
fn read_bytes(v: &Value) -> Result<Cow<'_, [u8]>, Reply> {
    string_bytes(v).ok_or_else(|| Reply::err(WRONGTYPE))
}

/// Redis's `lookupStringForBitCommand`: the key's value made `raw` and at least
/// `maxbit / 8 + 1` bytes long, created if missing. Returns whether it was created or grew.
fn string_for_write(ctx: &mut Ctx<'_>, key: &[u8], maxbit: u64) -> Result<bool, Reply> {
    let len = (maxbit >> 3) as usize + 1;
    match ctx.lookup_value(key) {
        None => {
            ctx.db().set(key, raw_value(vec![0u8; len]));
            Ok(true)
        }
        Some(v) => {
            if !v.is_string() {
                return Err(Reply::err(WRONGTYPE));
            }
            make_raw(v);
            Ok(raw_grow_zero(v, len))
        }
    }
}

/// The writable bytes of `key`, which [`string_for_write`] made raw.
fn bytes_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> &'a mut [u8] {
    ctx.db()
        .get_mut(key)
        .and_then(|e| raw_bytes_mut(&mut e.value))
        .unwrap_or(&mut [])
}

fn setbit(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let off = match bit_offset(args[2], 0) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let on = match parse_i64(args[3]) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return Reply::err(BAD_BIT),
    };
    let grew = match string_for_write(ctx, args[1], off) {
        Ok(g) => g,
        Err(e) => return e,
    };
    let bytes = bytes_mut(ctx, args[1]);
    let (byte, shift) = ((off >> 3) as usize, 7 - (off & 7) as u32);
    let Some(b) = bytes.get_mut(byte) else {
        return Reply::Int(0);
    };
    let old = (*b >> shift) & 1;
    if grew || old != on {
        *b = (*b & !(1 << shift)) | (on << shift);
        ctx.dirty(1);
    }
    Reply::Int(i64::from(old))
}

fn getbit(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let off = match bit_offset(args[2], 0) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let Some(v) = ctx.lookup_value(args[1]) else {
        return Reply::Int(0);
    };
    let s = match read_bytes(v) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let bit = s
        .get((off >> 3) as usize)
        .map_or(0, |b| (b >> (7 - (off & 7))) & 1);
    Reply::Int(i64::from(bit))
}

/// Resolve a BITCOUNT/BITPOS range over `len` bytes into bit positions `[from, to]`
/// (inclusive), Redis's clamping; `None` when empty.
fn bit_range(mut start: i64, mut end: i64, len: i64, isbit: bool) -> Option<(u64, u64)> {
    let total = if isbit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if isbit {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// Set bits of `s` in bit positions `from..=to`.
fn count_bits(s: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let Some(slice) = s.get(fb..=tb) else {
        return 0;
    };
    let mut n: u64 = slice.iter().map(|b| u64::from(b.count_ones())).sum();
    // Take off the bits of the edge bytes outside the range.
    let head = from & 7;
    if head != 0 {
        n -= u64::from((s[fb] >> (8 - head)).count_ones());
    }
    let tail = 7 - (to & 7);
    if tail != 0 {
        n -= u64::from((s[tb] & ((1u8 << tail) - 1)).count_ones());
    }
    n
}

fn bitcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let Some(v) = ctx.lookup_value(args[1]) else {
        return Reply::Int(0);
    };
    let s = match read_bytes(v) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let len = s.len() as i64;
    let range = match args.len() {
        2 => bit_range(0, -1, len, false),
        4 | 5 => {
            let (Some(start), Some(end)) = (parse_i64(args[2]), parse_i64(args[3])) else {
                return Reply::err(NOT_INTEGER);
            };
            if start < 0 && end < 0 && start > end {
                return Reply::Int(0);
            }
            let isbit = match args.get(4) {
                None => false,
                Some(a) if eq_ic(a, "BIT") => true,
                Some(a) if eq_ic(a, "BYTE") => false,
                Some(_) => return Reply::err(SYNTAX),
            };
            bit_range(start, end, len, isbit)
        }
        _ => return Reply::err(SYNTAX),
    };
    match range {
        None => Reply::Int(0),
        Some((from, to)) => Reply::Int(count_bits(&s, from, to) as i64),
    }
}

/// The first bit equal to `bit` in positions `from..=to`.
fn find_bit(s: &[u8], bit: u8, from: u64, to: u64) -> Option<u64> {
    let skip = if bit == 1 { 0u8 } else { 0xff };
    let mut pos = from;
    while pos <= to {
        let byte = s.get((pos >> 3) as usize).copied().unwrap_or(0);
        // Whole bytes that cannot contain the bit are skipped at once.
        if pos & 7 == 0 && byte == skip && pos + 7 <= to {
            pos += 8;
            continue;
        }
        if (byte >> (7 - (pos & 7))) & 1 == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

fn bitpos(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let bit = match parse_i64(args[2]) {
        None => return Reply::err(NOT_INTEGER),
        Some(b @ (0 | 1)) => b as u8,
        Some(_) => return Reply::err("ERR The bit argument must be 1 or 0."),
    };
    let Some(v) = ctx.lookup_value(args[1]) else {
        return Reply::Int(if bit == 1 { -1 } else { 0 });
    };
    let s = match read_bytes(v) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let len = s.len() as i64;
    let (range, end_given) = match args.len() {
        3 => (bit_range(0, -1, len, false), false),
        4..=6 => {
            let Some(start) = parse_i64(args[3]) else {
                return Reply::err(NOT_INTEGER);
            };
            let isbit = match args.get(5) {
                None => false,
                Some(a) if eq_ic(a, "BIT") => true,
                Some(a) if eq_ic(a, "BYTE") => false,
                Some(_) => return Reply::err(SYNTAX),
            };
            let end = match args.get(4) {
                Some(a) => match parse_i64(a) {
                    Some(e) => e,
                    None => return Reply::err(NOT_INTEGER),
                },
                None => len - 1,
            };
            (bit_range(start, end, len, isbit), args.len() >= 5)
        }
        _ => return Reply::err(SYNTAX),
    };
    let Some((from, to)) = range else {
        return Reply::Int(-1);
    };
    match find_bit(&s, bit, from, to) {
        Some(p) => Reply::Int(p as i64),
        // No clear bit in the string: without an explicit end, the string is taken as
        // followed by zeros, so the answer is the first bit after the range.
        None if bit == 0 && !end_given => Reply::Int(to as i64 + 1),
        None => Reply::Int(-1),
    }
}

fn bitop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    #[derive(PartialEq, Clone, Copy)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match args[1] {
        a if eq_ic(a, "AND") => Op::And,
        a if eq_ic(a, "OR") => Op::Or,
        a if eq_ic(a, "XOR") => Op::Xor,
        a if eq_ic(a, "NOT") => Op::Not,
        _ => return Reply::err(SYNTAX),
    };
    if op == Op::Not && args.len() != 4 {
        return Reply::err("ERR BITOP NOT must be called with a single source key.");
    }
    let mut srcs: Vec<Vec<u8>> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        match ctx.lookup_value(key) {
            None => srcs.push(Vec::new()),
            Some(v) => match string_bytes(v) {
                Some(b) => srcs.push(b.into_owned()),
                None => return Reply::err(WRONGTYPE),
            },
        }
    }
    let maxlen = srcs.iter().map(Vec::len).max().unwrap_or(0);
    let dest = args[2];
    if maxlen == 0 {
        if ctx.db().remove(dest).is_some() {
            ctx.dirty(1);
        }
        return Reply::Int(0);
    }
    let mut out = vec![0u8; maxlen];
    for (i, o) in out.iter_mut().enumerate() {
        let at = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        let mut acc = at(&srcs[0]);
        match op {
            Op::Not => acc = !acc,
            Op::And => srcs[1..].iter().for_each(|s| acc &= at(s)),
            Op::Or => srcs[1..].iter().for_each(|s| acc |= at(s)),
            Op::Xor => srcs[1..].iter().for_each(|s| acc ^= at(s)),
        }
        *o = acc;
    }
    // Storing looks the destination up first, so an expired one is deleted (and that
    // propagated) before it is replaced.
    ctx.expire_if_needed(dest);
    ctx.db().set(dest, raw_value(out));
    ctx.dirty(1);
    Reply::Int(maxlen as i64)
}

// ---------------------------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

#[derive(Debug, Clone, Copy)]
struct Field {
    op: FieldOp,
    offset: u64,
    bits: u32,
    signed: bool,
    overflow: Overflow,
}

/// `i8`...`i64`, `u1`...`u63` (Redis reads the width up to a NUL byte).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(Reply::err(BAD_TYPE)),
    };
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    match parse_i64(rest) {
        Some(b) if b >= 1 && b <= if signed { 64 } else { 63 } => Ok((signed, b as u32)),
        _ => Err(Reply::err(BAD_TYPE)),
    }
}

/// Read `bits` bits at bit `offset` as an unsigned number (bits past the end read as 0).
pub fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..u64::from(bits) {
        let pos = offset + j;
        let byte = s.get((pos >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | u64::from((byte >> (7 - (pos & 7))) & 1);
    }
    v
}

/// Read a two's complement signed field.
pub fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Write the low `bits` bits of `value` at bit `offset` (the bytes must be there).
pub fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let bit = ((value >> (u64::from(bits) - 1 - j)) & 1) as u8;
        let pos = offset + j;
        if let Some(b) = s.get_mut((pos >> 3) as usize) {
            let sh = 7 - (pos & 7);
            *b = (*b & !(1 << sh)) | (bit << sh);
        }
    }
}

/// Unsigned overflow check of `value + incr` in `bits` bits (Redis's
/// `checkUnsignedBitfieldOverflow`): `(direction, replacement)`, direction 0 when it fits.
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i32, u64) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrapped = || {
        let mask = if bits == 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        let lim = match ow {
            Overflow::Wrap => wrapped(),
            _ => max,
        };
        (1, lim)
    } else if incr < 0 && incr < minincr {
        let lim = match ow {
            Overflow::Wrap => wrapped(),
            _ => 0,
        };
        (-1, lim)
    } else {
        (0, 0)
    }
}

/// Signed overflow check (Redis's `checkSignedBitfieldOverflow`).
pub fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, i64) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        let lim = match ow {
            Overflow::Wrap => wrapped(),
            _ => max,
        };
        (1, lim)
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        let lim = match ow {
            Overflow::Wrap => wrapped(),
            _ => min,
        };
        (-1, lim)
    } else {
        (0, 0)
    }
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], ro: bool) -> Reply {
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest: u64 = 0;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = args[j];
        let kind = if eq_ic(sub, "GET") && rem >= 2 {
            0
        } else if eq_ic(sub, "SET") && rem >= 3 {
            1
        } else if eq_ic(sub, "INCRBY") && rem >= 3 {
            2
        } else if eq_ic(sub, "OVERFLOW") && rem >= 1 {
            let t = args[j + 1];
            overflow = if eq_ic(t, "WRAP") {
                Overflow::Wrap
            } else if eq_ic(t, "SAT") {
                Overflow::Sat
            } else if eq_ic(t, "FAIL") {
                Overflow::Fail
            } else {
                return Reply::err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return Reply::err(SYNTAX);
        };
        let (signed, bits) = match field_type(args[j + 1]) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let offset = match bit_offset(args[j + 2], bits) {
            Ok(o) => o,
            Err(e) => return e,
        };
        let op = if kind == 0 {
            FieldOp::Get
        } else {
            readonly = false;
            highest = highest.max(offset + u64::from(bits) - 1);
            let Some(v) = parse_i64(args[j + 3]) else {
                return Reply::err(NOT_INTEGER);
            };
            if kind == 1 {
                FieldOp::Set(v)
            } else {
                FieldOp::Incr(v)
            }
        };
        ops.push(Field {
            op,
            offset,
            bits,
            signed,
            overflow,
        });
        j += if kind == 0 { 3 } else { 4 };
    }
    let key = args[1];
    let mut grew = false;
    if readonly {
        if let Some(v) = ctx.lookup_value(key) {
            if !v.is_string() {
                return Reply::err(WRONGTYPE);
            }
        }
    } else {
        if ro {
            return Reply::err("ERR BITFIELD_RO only supports the GET subcommand");
        }
        grew = match string_for_write(ctx, key, highest) {
            Ok(g) => g,
            Err(e) => return e,
        };
    }
    let mut replies = Vec::with_capacity(ops.len());
    let mut changes = 0u64;
    for f in &ops {
        match f.op {
            FieldOp::Get => {
                // Copy the (at most 9) bytes the field spans, zero-padded past the end.
                let start = (f.offset >> 3) as usize;
                let mut window = [0u8; 9];
                if let Some(b) = ctx.db().get(key).and_then(|e| string_bytes(&e.value)) {
                    let part = b.get(start..).unwrap_or(&[]);
                    let n = part.len().min(9);
                    window[..n].copy_from_slice(&part[..n]);
                }
                let rel = f.offset - (start as u64) * 8;
                let r = if f.signed {
                    get_signed(&window, rel, f.bits)
                } else {
                    get_unsigned(&window, rel, f.bits) as i64
                };
                replies.push(Reply::Int(r));
            }
            FieldOp::Set(arg) | FieldOp::Incr(arg) => {
                let is_incr = matches!(f.op, FieldOp::Incr(_));
                let bytes = bytes_mut(ctx, key);
                let (fail, reply, old, new) = if f.signed {
                    let old = get_signed(bytes, f.offset, f.bits);
                    let (ov, lim) = if is_incr {
                        signed_overflow(old, arg, f.bits, f.overflow)
                    } else {
                        signed_overflow(arg, 0, f.bits, f.overflow)
                    };
                    let new = match (ov != 0, is_incr) {
                        (true, _) => lim,
                        (false, true) => old.wrapping_add(arg),
                        (false, false) => arg,
                    };
                    let reply = if is_incr { new } else { old };
                    (
                        ov != 0 && f.overflow == Overflow::Fail,
                        reply,
                        old as u64,
                        new as u64,
                    )
                } else {
                    let old = get_unsigned(bytes, f.offset, f.bits);
                    let (ov, lim) = if is_incr {
                        unsigned_overflow(old, arg, f.bits, f.overflow)
                    } else {
                        unsigned_overflow(arg as u64, 0, f.bits, f.overflow)
                    };
                    let new = match (ov != 0, is_incr) {
                        (true, _) => lim,
                        (false, true) => old.wrapping_add(arg as u64),
                        (false, false) => arg as u64,
                    };
                    let reply = if is_incr { new } else { old };
                    (
                        ov != 0 && f.overflow == Overflow::Fail,
                        reply as i64,
                        old,
                        new,
                    )
                };
                if fail {
                    replies.push(Reply::Nil);
                } else {
                    replies.push(Reply::Int(reply));
                    set_field(bytes, f.offset, f.bits, new);
                    if grew || old != new {
                        changes += 1;
                    }
                }
            }
        }
    }
    ctx.dirty(changes);
    Reply::Array(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_get_set_round_trip() {
        let mut s = vec![0u8; 4];
        set_field(&mut s, 3, 5, 0b10110);
        assert_eq!(s[0], 0b0001_0110);
        assert_eq!(get_unsigned(&s, 3, 5), 22);
        assert_eq!(get_signed(&s, 3, 5), 22 - 32);
        set_field(&mut s, 0, 32, u64::MAX);
        assert_eq!(get_signed(&s, 0, 32), -1);
        // Past the end reads zeros.
        assert_eq!(get_unsigned(&s, 28, 8), 0xf0);
        assert_eq!(get_signed(&[0x80; 8], 0, 64), i64::from_be_bytes([0x80; 8]));
    }

    #[test]
    fn unsigned_overflow_modes() {
        use Overflow::*;
        assert_eq!(unsigned_overflow(250, 10, 8, Wrap), (1, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Sat), (1, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Wrap), (-1, 251));
        assert_eq!(unsigned_overflow(5, -10, 8, Sat), (-1, 0));
        assert_eq!(unsigned_overflow(5, 250, 8, Fail).0, 0);
        // SET of a negative number: as an unsigned 64-bit value it is above the max.
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Sat), (1, 255));
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Wrap), (1, 255));
        assert_eq!(unsigned_overflow(0, i64::MAX, 63, Wrap), (0, 0));
        assert_eq!(
            unsigned_overflow(1, i64::MAX, 63, Sat),
            (1, i64::MAX as u64)
        );
    }

    #[test]
    fn signed_overflow_modes() {
        use Overflow::*;
        assert_eq!(signed_overflow(120, 10, 8, Wrap), (1, -126));
        assert_eq!(signed_overflow(120, 10, 8, Sat), (1, 127));
        assert_eq!(signed_overflow(-120, -10, 8, Wrap), (-1, 126));
        assert_eq!(signed_overflow(-120, -10, 8, Sat), (-1, -128));
        assert_eq!(signed_overflow(300, 0, 8, Wrap), (1, 44));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Wrap), (1, i64::MIN));
        assert_eq!(signed_overflow(i64::MIN, -1, 64, Sat), (-1, i64::MIN));
        assert_eq!(signed_overflow(-5, i64::MAX, 64, Sat), (0, 0));
        assert_eq!(signed_overflow(0, i64::MIN, 64, Fail), (0, 0));
    }

    #[test]
    fn offsets_and_types() {
        assert_eq!(bit_offset(b"#3", 8).ok(), Some(24));
        assert!(bit_offset(b"#3", 0).is_err());
        assert_eq!(bit_offset(b"4294967295", 0).ok(), Some(4294967295));
        assert!(bit_offset(b"4294967296", 0).is_err());
        assert!(bit_offset(b"-1", 0).is_err());
        assert_eq!(field_type(b"i64").ok(), Some((true, 64)));
        assert!(field_type(b"u64").is_err());
        assert!(field_type(b"I8").is_err());
        assert_eq!(field_type(b"u8\0junk").ok(), Some((false, 8)));
    }

    #[test]
    fn counting_and_finding() {
        let s = [0b1010_0000u8, 0xff, 0x01];
        assert_eq!(count_bits(&s, 0, 23), 11);
        assert_eq!(count_bits(&s, 1, 2), 1);
        assert_eq!(count_bits(&s, 2, 9), 3);
        assert_eq!(find_bit(&s, 1, 1, 23), Some(2));
        assert_eq!(find_bit(&s, 0, 8, 15), None);
        assert_eq!(find_bit(&s, 1, 16, 23), Some(23));
    }
}

//! List commands with Redis 7.0's replies, errors and propagation (`t_list.c`), and Redis
//! 7.2's listpack/quicklist conversions when the keyspace uses that profile.
//!
//! The blocking commands never wait: redkit replays and executes, it has no other clients
//! that could feed a list. They behave as Redis does for a client that may not block (inside
//! MULTI or a script): served at once when a list has data, else the "no data" reply
//! (`*-1` for BLPOP/BRPOP/BLMPOP, `$-1` for BLMOVE/BRPOPLPUSH). When served they propagate as
//! their non-blocking forms, like Redis.

use super::util::{
    eq_ic, parse_f64, parse_i64, NOT_INTEGER, NO_KEY, OUT_OF_RANGE, SYNTAX, WRONGTYPE,
};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::list::List;
use crate::keyspace::{Db, Value};
use redkit_formats::listpack::parse_canonical_i64;
use redkit_formats::Elem;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx),
    CommandSpec::new("lpop", -2, WRITE | FAST, (1, 1, 1), lpop),
    CommandSpec::new("rpop", -2, WRITE | FAST, (1, 1, 1), rpop),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset),
    CommandSpec::new("lrem", 4, WRITE, (1, 1, 1), lrem),
    CommandSpec::new("ltrim", 4, WRITE, (1, 1, 1), ltrim),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush),
    // Keys follow a count (movable keys): no fixed range.
    CommandSpec::new("lmpop", -4, WRITE, (0, 0, 0), lmpop),
    CommandSpec::new("lrange", 4, READONLY, (1, 1, 1), lrange),
    CommandSpec::new("llen", 2, READONLY | FAST, (1, 1, 1), llen),
    CommandSpec::new("lindex", 3, READONLY, (1, 1, 1), lindex),
    CommandSpec::new("lpos", -3, READONLY, (1, 1, 1), lpos),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), blpop),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), brpop),
    CommandSpec::new(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        (1, 2, 1),
        blmove,
    ),
    CommandSpec::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        (1, 2, 1),
        brpoplpush,
    ),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, (0, 0, 0), blmpop),
];

const POSITIVE: &str = "ERR value is out of range, must be positive";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The live list at `key`: `Ok(None)` when there is no key, `Err` (WRONGTYPE) for another type.
fn list_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut List>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(Reply::err(WRONGTYPE)),
    }
}

/// The list at `key` without expiry checks (after a lookup already did them).
fn list_at<'a>(db: &'a mut Db, key: &[u8]) -> Option<&'a mut List> {
    match db.get_mut(key).map(|e| &mut e.value) {
        Some(Value::List(l)) => Some(l),
        _ => None,
    }
}

/// After removing elements: delete the key when the list is empty, else let a 7.2 list turn
/// back into a listpack.
fn after_removal(ctx: &mut Ctx<'_>, key: &[u8]) {
    let db = ctx.db();
    match list_at(db, key) {
        Some(l) if l.is_empty() => {
            db.remove(key);
        }
        Some(l) => l.shrink_check(),
        None => {}
    }
}

fn internal() -> Reply {
    Reply::err("ERR list vanished during the command")
}

/// `getLongFromObjectOrReply` without a custom message.
fn long_arg(a: &[u8]) -> Result<i64, Reply> {
    parse_i64(a).ok_or_else(|| Reply::err(NOT_INTEGER))
}

/// `getRangeLongFromObjectOrReply` with a message: the same text for "not a number" and
/// "out of range".
fn range_arg(a: &[u8], min: i64, msg: &'static str) -> Result<i64, Reply> {
    match parse_i64(a) {
        Some(v) if v >= min => Ok(v),
        _ => Err(Reply::err(msg)),
    }
}

/// LEFT / RIGHT: true for the head.
fn where_arg(a: &[u8]) -> Result<bool, Reply> {
    if eq_ic(a, "left") {
        Ok(true)
    } else if eq_ic(a, "right") {
        Ok(false)
    } else {
        Err(Reply::err(SYNTAX))
    }
}

/// Check a blocking timeout as `getTimeoutFromObjectOrReply` (seconds, a long double): only its
/// validity matters here since nothing waits.
fn timeout_arg(a: &[u8]) -> Result<(), Reply> {
    const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    const NEGATIVE: &str = "ERR timeout is negative";
    /// 2^63: the first value a C cast to `long long` cannot hold.
    const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;
    // Whole seconds are exact in a long double: decide them exactly.
    if let Some(secs) = parse_i64(a) {
        return match i64::try_from(i128::from(secs) * 1000) {
            Ok(ms) if ms >= 0 => Ok(()),
            _ => Err(Reply::err(NEGATIVE)),
        };
    }
    let secs = parse_long_double(a).ok_or_else(|| Reply::err(NOT_FLOAT))?;
    let ms = (secs * 1000.0).ceil();
    // C converts a value past i64 (or infinite) to i64::MIN on x86: "negative".
    if !(0.0..I64_LIMIT).contains(&ms) {
        return Err(Reply::err(NEGATIVE));
    }
    Ok(())
}

/// Redis's `string2ld` (strtold on the whole argument), approximated with f64: the accepted
/// syntax is strtold's (decimal, hexadecimal, inf/infinity; no NaN, no spaces), and the range
/// is long double's (about 1e±4932), whose values past f64 are returned as infinities or zero.
fn parse_long_double(a: &[u8]) -> Option<f64> {
    if a.is_empty() || a.len() >= 5 * 1024 {
        return None;
    }
    if let Some(v) = parse_f64(a) {
        return Some(v);
    }
    let s = std::str::from_utf8(a).ok()?;
    if s.starts_with(|c: char| c.is_ascii_whitespace() || c == '\x0b' || c == '\x0c') {
        return None;
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let lower = body.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return parse_hex_float(hex).map(|v| sign * v);
    }
    // A decimal outside f64's range: within long double's it is a (huge or tiny) number.
    let (mant, exp) = match lower.split_once('e') {
        Some((m, e)) => (m, exponent(e)?),
        None => (lower.as_str(), 0),
    };
    let (int_part, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac.is_empty()
        || !int_part
            .bytes()
            .chain(frac.bytes())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int_part}{frac}");
    let first_nz = digits.bytes().position(|c| c != b'0')?;
    // The number is about 10^magnitude.
    let magnitude = exp
        .saturating_add(int_part.len() as i64)
        .saturating_sub(first_nz as i64 + 1);
    if !(-4950..=4932).contains(&magnitude) {
        return None;
    }
    Some(if magnitude > 0 {
        sign * f64::INFINITY
    } else {
        sign * 0.0
    })
}

/// A float's exponent digits (optional sign, leading zeros allowed), saturated far past any
/// range that matters.
fn exponent(e: &str) -> Option<i64> {
    let (neg, digits) = match e.as_bytes().first() {
        Some(b'-') => (true, &e[1..]),
        Some(b'+') => (false, &e[1..]),
        _ => (false, e),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = digits
        .bytes()
        .fold(0i64, |acc, c| (acc * 10 + i64::from(c - b'0')).min(1 << 40));
    Some(if neg { -v } else { v })
}

/// The part of a hexadecimal float after `0x`: hex digits, an optional fraction, an optional
/// binary exponent `p±n`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, exponent(e)?),
        None => (s, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in ip.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp.clamp(-20000, 20000) as i32))
}

fn bulk_of(e: Elem<'_>) -> Reply {
    Reply::Bulk(e.to_vec())
}

/// String bytes a value adds for 7.2's conversion check: integers cost nothing there (Redis
/// only counts string-encoded objects).
fn added_bytes(v: &[u8]) -> usize {
    if parse_canonical_i64(v).is_some() {
        0
    } else {
        v.len()
    }
}

/// Pop up to `count` elements from one end (already known non-empty), elements in pop order.
fn pop_range(l: &mut List, head: bool, count: i64) -> Vec<Reply> {
    let n = usize::try_from(count).unwrap_or(usize::MAX).min(l.len());
    let out: Vec<Reply> = if head {
        l.iter().take(n).map(bulk_of).collect()
    } else {
        l.iter_rev().take(n).map(bulk_of).collect()
    };
    l.del_range_end(n, head);
    out
}

// ---------------------------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------------------------

fn lpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    push_generic(ctx, args, true, false)
}
fn rpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    push_generic(ctx, args, false, false)
}
fn lpushx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    push_generic(ctx, args, true, true)
}
fn rpushx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    push_generic(ctx, args, false, true)
}

fn push_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], head: bool, xx: bool) -> Reply {
    let key = args[1];
    let exists = match list_mut(ctx, key) {
        Err(e) => return e,
        Ok(l) => l.is_some(),
    };
    if !exists {
        if xx {
            return Reply::Int(0);
        }
        let l = List::with_config(ctx.config());
        ctx.db().set(key, Value::List(Box::new(l)));
    }
    let Some(l) = list_at(ctx.db(), key) else {
        return internal();
    };
    let vals = &args[2..];
    l.grow_check(vals.iter().map(|v| v.len()).sum(), vals.len());
    for v in vals {
        l.push(Elem::Bytes(v), head);
    }
    let len = l.len();
    ctx.dirty(vals.len() as u64);
    Reply::Int(len as i64)
}

fn linsert(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let after = if eq_ic(args[2], "after") {
        true
    } else if eq_ic(args[2], "before") {
        false
    } else {
        return Reply::err(SYNTAX);
    };
    let l = match list_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(l)) => l,
    };
    // 7.2 converts before searching, whether or not the pivot is found.
    l.grow_check(args[4].len(), 1);
    if !l.insert(args[3], args[4], after) {
        return Reply::Int(-1);
    }
    let len = l.len();
    ctx.dirty(1);
    Reply::Int(len as i64)
}

fn lset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let l = match list_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::err(NO_KEY),
        Ok(Some(l)) => l,
    };
    let index = match long_arg(args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    l.grow_check(args[3].len(), 1);
    if !l.set(index, args[3]) {
        return Reply::err(OUT_OF_RANGE);
    }
    l.shrink_check();
    ctx.dirty(1);
    Reply::Ok
}

// ---------------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------------

fn lpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    pop_generic(ctx, args, true)
}
fn rpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    pop_generic(ctx, args, false)
}

fn pop_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], head: bool) -> Reply {
    if args.len() > 3 {
        let name = if head { "lpop" } else { "rpop" };
        return Reply::err(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let count = match args.get(2) {
        Some(a) => match range_arg(a, 0, POSITIVE) {
            Ok(c) => Some(c),
            Err(e) => return e,
        },
        None => None,
    };
    let key = args[1];
    let l = match list_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) if count.is_some() => return Reply::NilArray,
        Ok(None) => return Reply::Nil,
        Ok(Some(l)) => l,
    };
    let reply = match count {
        Some(0) => return Reply::Array(Vec::new()),
        Some(c) => {
            let items = pop_range(l, head, c);
            ctx.dirty(items.len() as u64);
            Reply::Array(items)
        }
        None => match l.pop(head) {
            Some(v) => {
                ctx.dirty(1);
                Reply::Bulk(v)
            }
            None => Reply::Nil,
        },
    };
    after_removal(ctx, key);
    reply
}

/// Pop from the first non-empty list among `keys` (LMPOP, BLMPOP and, with `count` None,
/// BLPOP/BRPOP). `None` when every key is missing or empty.
fn multi_pop(ctx: &mut Ctx<'_>, keys: &[&[u8]], head: bool, count: Option<i64>) -> Option<Reply> {
    for &key in keys {
        let l = match list_mut(ctx, key) {
            Err(e) => return Some(e),
            Ok(None) => continue,
            Ok(Some(l)) if l.is_empty() => continue,
            Ok(Some(l)) => l,
        };
        let pop_name: &[u8] = if head { b"LPOP" } else { b"RPOP" };
        let reply = match count {
            Some(c) => {
                let items = pop_range(l, head, c);
                let n = items.len();
                ctx.dirty(n as u64);
                ctx.propagate(vec![
                    pop_name.to_vec(),
                    key.to_vec(),
                    n.to_string().into_bytes(),
                ]);
                Reply::Array(vec![Reply::bulk(key), Reply::Array(items)])
            }
            None => {
                let v = l.pop(head).unwrap_or_default();
                ctx.dirty(1);
                ctx.propagate(vec![pop_name.to_vec(), key.to_vec()]);
                Reply::Array(vec![Reply::bulk(key), Reply::Bulk(v)])
            }
        };
        after_removal(ctx, key);
        return Some(reply);
    }
    None
}

/// Parse `numkeys key... LEFT|RIGHT [COUNT n]` starting at `numkeys_idx`: the keys, the side
/// and the count (1 when not given).
fn parse_mpop<'a>(
    args: &[&'a [u8]],
    numkeys_idx: usize,
) -> Result<(Vec<&'a [u8]>, bool, i64), Reply> {
    let numkeys = range_arg(args[numkeys_idx], 1, "ERR numkeys should be greater than 0")?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_idx + 1))
        .filter(|&w| w < args.len())
        .ok_or_else(|| Reply::err(SYNTAX))?;
    let head = where_arg(args[where_idx])?;
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && eq_ic(args[j], "count") && more > 0 {
            j += 1;
            count = range_arg(args[j], 1, "ERR count should be greater than 0")?;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    Ok((args[numkeys_idx + 1..where_idx].to_vec(), head, count))
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (keys, head, count) = match parse_mpop(args, 1) {
        Ok(p) => p,
        Err(e) => return e,
    };
    multi_pop(ctx, &keys, head, Some(count)).unwrap_or(Reply::NilArray)
}

fn blmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (keys, head, count) = match parse_mpop(args, 2) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Err(e) = timeout_arg(args[1]) {
        return e;
    }
    multi_pop(ctx, &keys, head, Some(count)).unwrap_or(Reply::NilArray)
}

fn blpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    blocking_pop(ctx, args, true)
}
fn brpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    blocking_pop(ctx, args, false)
}

fn blocking_pop(ctx: &mut Ctx<'_>, args: &[&[u8]], head: bool) -> Reply {
    let last = args.len() - 1;
    if let Err(e) = timeout_arg(args[last]) {
        return e;
    }
    multi_pop(ctx, &args[1..last], head, None).unwrap_or(Reply::NilArray)
}

// ---------------------------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------------------------

fn lmove(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let from = match where_arg(args[3]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let to = match where_arg(args[4]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    lmove_generic(ctx, args[1], args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    lmove_generic(ctx, args[1], args[2], false, true)
}

fn blmove(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let from = match where_arg(args[3]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let to = match where_arg(args[4]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    if let Err(e) = timeout_arg(args[5]) {
        return e;
    }
    let r = lmove_generic(ctx, args[1], args[2], from, to);
    if ctx.dirty > 0 {
        ctx.propagate(
            args[..5]
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    if i == 0 {
                        b"LMOVE".to_vec()
                    } else {
                        a.to_vec()
                    }
                })
                .collect(),
        );
    }
    r
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if let Err(e) = timeout_arg(args[3]) {
        return e;
    }
    let r = lmove_generic(ctx, args[1], args[2], false, true);
    if ctx.dirty > 0 {
        ctx.propagate(vec![
            b"RPOPLPUSH".to_vec(),
            args[1].to_vec(),
            args[2].to_vec(),
        ]);
    }
    r
}

/// Pop from `src` at `from` (true: head), push on `dst` at `to`; the moved element, or nil
/// when `src` does not exist.
fn lmove_generic(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: bool, to: bool) -> Reply {
    match list_mut(ctx, src) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(l)) if l.is_empty() => return Reply::Nil,
        Ok(Some(_)) => {}
    }
    let dst_exists = match list_mut(ctx, dst) {
        Err(e) => return e,
        Ok(l) => l.is_some(),
    };
    let Some(v) = list_at(ctx.db(), src).and_then(|l| l.pop(from)) else {
        return internal();
    };
    if !dst_exists {
        let l = List::with_config(ctx.config());
        ctx.db().set(dst, Value::List(Box::new(l)));
    }
    let Some(d) = list_at(ctx.db(), dst) else {
        return internal();
    };
    d.grow_check(added_bytes(&v), 1);
    d.push(Elem::Bytes(&v), to);
    after_removal(ctx, src);
    ctx.dirty(1);
    Reply::Bulk(v)
}

// ---------------------------------------------------------------------------------------------
// Reads, trims and removals
// ---------------------------------------------------------------------------------------------

/// Clamp a Redis `start..=end` range (negative from the tail) to offsets; `None` when empty.
fn clamp_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i128;
    let mut s = start as i128;
    let mut e = end as i128;
    if s < 0 {
        s += len;
    }
    if e < 0 {
        e += len;
    }
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

fn lrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (start, end) = match (long_arg(args[2]), long_arg(args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = match list_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(Vec::new()),
        Ok(Some(l)) => l,
    };
    match clamp_range(l.len(), start, end) {
        None => Reply::Array(Vec::new()),
        Some((s, e)) => Reply::Array(l.iter_from(s).take(e - s + 1).map(bulk_of).collect()),
    }
}

fn llen(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match list_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(l)) => Reply::Int(l.len() as i64),
    }
}

fn lindex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let l = match list_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(l)) => l,
    };
    match long_arg(args[2]) {
        Err(e) => e,
        Ok(i) => l.get(i).map_or(Reply::Nil, bulk_of),
    }
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (start, end) = match (long_arg(args[2]), long_arg(args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let key = args[1];
    let l = match list_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Ok,
        Ok(Some(l)) => l,
    };
    let len = l.len();
    let (ltrim, rtrim) = match clamp_range(len, start, end) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.del_range_end(ltrim, true);
    l.del_range_end(rtrim, false);
    ctx.dirty((ltrim + rtrim) as u64);
    after_removal(ctx, key);
    Reply::Ok
}

fn lrem(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let count = match long_arg(args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let key = args[1];
    let l = match list_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(l)) => l,
    };
    let removed = l.remove(args[3], count);
    let empty = l.is_empty();
    ctx.dirty(removed as u64);
    // 7.2 only tries the listpack conversion when something was removed.
    if empty || removed > 0 {
        after_removal(ctx, key);
    }
    Reply::Int(removed as i64)
}

fn lpos(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: i64 = -1; // -1: no COUNT option
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if eq_ic(opt, "rank") && more > 0 {
            j += 1;
            rank = match long_arg(args[j]) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if rank == 0 {
                return Reply::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
            }
        } else if eq_ic(opt, "count") && more > 0 {
            j += 1;
            count = match range_arg(args[j], 0, "ERR COUNT can't be negative") {
                Ok(c) => c,
                Err(e) => return e,
            };
        } else if eq_ic(opt, "maxlen") && more > 0 {
            j += 1;
            maxlen = match range_arg(args[j], 0, "ERR MAXLEN can't be negative") {
                Ok(m) => m,
                Err(e) => return e,
            };
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    let from_tail = rank < 0;
    // Redis negates in C: i64::MIN stays negative, so every match qualifies.
    let rank = rank.wrapping_abs();
    let l = match list_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) if count != -1 => return Reply::Array(Vec::new()),
        Ok(None) => return Reply::Nil,
        Ok(Some(l)) => l,
    };
    let ele = args[2];
    let len = l.len();
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    let mut iter: Box<dyn Iterator<Item = Elem<'_>>> = if from_tail {
        Box::new(l.iter_rev())
    } else {
        Box::new(l.iter())
    };
    let mut index: i64 = 0;
    let mut single = None;
    while maxlen == 0 || index < maxlen {
        let Some(e) = iter.next() else { break };
        if crate::keyspace::lp::elem_eq(e, ele) {
            matches += 1;
            let at = if from_tail {
                len as i64 - index - 1
            } else {
                index
            };
            if matches >= rank {
                if count != -1 {
                    found.push(Reply::Int(at));
                    if count != 0 && matches - rank + 1 >= count {
                        break;
                    }
                } else {
                    single = Some(at);
                    break;
                }
            }
        }
        index += 1;
    }
    if count != -1 {
        Reply::Array(found)
    } else {
        single.map_or(Reply::Nil, Reply::Int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_like_redis() {
        for ok in [
            "0",
            "1.5",
            "-0",
            "-0.0001",
            "0x10",
            "1e-400",
            "9223372036854775",
        ] {
            assert!(timeout_arg(ok.as_bytes()).is_ok(), "{ok}");
        }
        for (bad, msg) in [
            ("inf", "ERR timeout is negative"),
            ("-inf", "ERR timeout is negative"),
            ("1e400", "ERR timeout is negative"),
            ("-1", "ERR timeout is negative"),
            ("9223372036854775.9", "ERR timeout is negative"),
            ("nan", "ERR timeout is not a float or out of range"),
            ("abc", "ERR timeout is not a float or out of range"),
            ("", "ERR timeout is not a float or out of range"),
            (" 1", "ERR timeout is not a float or out of range"),
            ("1 ", "ERR timeout is not a float or out of range"),
            ("1e5000", "ERR timeout is not a float or out of range"),
            ("0x", "ERR timeout is not a float or out of range"),
        ] {
            assert_eq!(timeout_arg(bad.as_bytes()), Err(Reply::err(msg)), "{bad}");
        }
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(5, 0, -1), Some((0, 4)));
        assert_eq!(clamp_range(5, -100, 100), Some((0, 4)));
        assert_eq!(clamp_range(5, 3, 2), None);
        assert_eq!(clamp_range(5, 5, 10), None);
        assert_eq!(clamp_range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(clamp_range(5, i64::MAX, i64::MIN), None);
    }
}

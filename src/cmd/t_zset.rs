//! Sorted set commands, with Redis 7.0's replies, errors, encodings and propagation
//! (`t_zset.c`). The value type and its encodings are in `crate::keyspace::zset`.
//!
//! The blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) behave as a client that may not block
//! (inside MULTI or a script): when nothing can be popped they answer a null array at once.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::util::{eq_ic, parse_f64, parse_i64, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::zset::{
    AddFlags, AddOutcome, LexBound, LexRange, ScoreRange, Sorted, View, ZSet,
};
use crate::keyspace::{SStr, Value};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby),
    CommandSpec::new("zrem", -3, WRITE | FAST, (1, 1, 1), zrem),
    CommandSpec::new("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore),
    CommandSpec::new("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank),
    CommandSpec::new("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), zunionstore),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), zinterstore),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), zdiffstore),
    CommandSpec::new("zunion", -3, READONLY, (0, 0, 0), zunion),
    CommandSpec::new("zinter", -3, READONLY, (0, 0, 0), zinter),
    CommandSpec::new("zintercard", -3, READONLY, (0, 0, 0), zintercard),
    CommandSpec::new("zdiff", -3, READONLY, (0, 0, 0), zdiff),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore),
    CommandSpec::new("zrange", -4, READONLY, (1, 1, 1), zrange),
    CommandSpec::new("zrangebyscore", -4, READONLY, (1, 1, 1), zrangebyscore),
    CommandSpec::new(
        "zrevrangebyscore",
        -4,
        READONLY,
        (1, 1, 1),
        zrevrangebyscore,
    ),
    CommandSpec::new("zrangebylex", -4, READONLY, (1, 1, 1), zrangebylex),
    CommandSpec::new("zrevrangebylex", -4, READONLY, (1, 1, 1), zrevrangebylex),
    CommandSpec::new("zrevrange", -4, READONLY, (1, 1, 1), zrevrange),
    CommandSpec::new("zcount", 4, READONLY | FAST, (1, 1, 1), zcount),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount),
    CommandSpec::new("zcard", 2, READONLY | FAST, (1, 1, 1), zcard),
    CommandSpec::new("zscore", 3, READONLY | FAST, (1, 1, 1), zscore),
    CommandSpec::new("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore),
    CommandSpec::new("zrank", 3, READONLY | FAST, (1, 1, 1), zrank),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, (1, 1, 1), zrevrank),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax),
    CommandSpec::new(
        "bzpopmin",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        (1, -2, 1),
        bzpopmin,
    ),
    CommandSpec::new(
        "bzpopmax",
        -3,
        WRITE | NOSCRIPT | FAST | BLOCKING,
        (1, -2, 1),
        bzpopmax,
    ),
    CommandSpec::new("zmpop", -4, WRITE, (0, 0, 0), zmpop),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING, (0, 0, 0), bzmpop),
    CommandSpec::new("zrandmember", -2, READONLY, (1, 1, 1), zrandmember),
];

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";

fn err(s: &'static str) -> Reply {
    Reply::Error(Cow::Borrowed(s))
}

/// The live sorted set at `key`: `Ok(None)` when missing, `Err` (WRONGTYPE) for another type.
fn zset_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err(WRONGTYPE)),
    }
}

fn zset_ref<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    zset_mut(ctx, key).map(|o| o.map(|z| &*z))
}

fn parse_long(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or_else(|| err(NOT_INTEGER))
}

fn delete_if_empty(ctx: &mut Ctx<'_>, key: &[u8]) {
    let empty =
        matches!(ctx.db().get(key), Some(e) if matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        ctx.db().remove(key);
    }
}

fn scored(items: Vec<(Vec<u8>, f64)>, withscores: bool) -> Reply {
    let mut out = Vec::with_capacity(items.len() * if withscores { 2 } else { 1 });
    for (m, s) in items {
        out.push(Reply::Bulk(m));
        if withscores {
            out.push(Reply::Double(s));
        }
    }
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// Range arguments
// ---------------------------------------------------------------------------------------------

/// C's `strtod` over a whole C string (stops at NUL), as `zslParseRange` uses it: leading
/// white space, hexadecimal, `inf`/`nan` and out-of-range values are all taken; anything left
/// unparsed is an error. An empty string reads as 0 (strtod converts nothing and stops at
/// the terminator).
pub fn strtod_whole(b: &[u8]) -> Option<f64> {
    let b = match b.iter().position(|&c| c == 0) {
        Some(p) => &b[..p],
        None => b,
    };
    let ws = b
        .iter()
        .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    match strtod_prefix(&b[ws..]) {
        None => b.is_empty().then_some(0.0),
        Some((n, v)) => (ws + n == b.len()).then_some(v),
    }
}

/// The longest prefix strtod would convert: (bytes used, value), or `None` for no conversion.
fn strtod_prefix(b: &[u8]) -> Option<(usize, f64)> {
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &b[i..];
    let starts =
        |p: &str| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    if starts("infinity") {
        return Some((i + 8, sign * f64::INFINITY));
    }
    if starts("inf") {
        return Some((i + 3, sign * f64::INFINITY));
    }
    if starts("nan") {
        let mut n = i + 3;
        if b.get(n) == Some(&b'(') {
            if let Some(close) = b[n..].iter().position(|&c| c == b')') {
                if b[n + 1..n + close]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    n += close + 1;
                }
            }
        }
        return Some((n, f64::NAN));
    }
    if (starts("0x")) && rest.len() > 2 {
        let hex = &rest[2..];
        let int = hex.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let mut frac = 0;
        if hex.get(int) == Some(&b'.') {
            frac = hex[int + 1..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
        }
        if int + frac > 0 {
            let mut v = 0.0f64;
            for &c in &hex[..int] {
                v = v * 16.0 + f64::from((c as char).to_digit(16).unwrap_or(0));
            }
            let mut used = int;
            let mut exp2: i64 = 0;
            if hex.get(int) == Some(&b'.') {
                for &c in &hex[int + 1..int + 1 + frac] {
                    v = v * 16.0 + f64::from((c as char).to_digit(16).unwrap_or(0));
                    exp2 -= 4;
                }
                used = int + 1 + frac;
            }
            if matches!(hex.get(used), Some(b'p' | b'P')) {
                let mut k = used + 1;
                let eneg = match hex.get(k) {
                    Some(b'-') => {
                        k += 1;
                        true
                    }
                    Some(b'+') => {
                        k += 1;
                        false
                    }
                    _ => false,
                };
                let d = hex[k..].iter().take_while(|c| c.is_ascii_digit()).count();
                if d > 0 {
                    let mut e: i64 = 0;
                    for &c in &hex[k..k + d] {
                        e = (e * 10 + i64::from(c - b'0')).min(100_000);
                    }
                    exp2 += if eneg { -e } else { e };
                    used = k + d;
                }
            }
            let v = v * 2f64.powi(exp2.clamp(-5000, 5000) as i32);
            return Some((i + 2 + used, sign * v));
        }
    }
    let int = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut used = int;
    let mut frac = 0;
    if rest.get(int) == Some(&b'.') {
        frac = rest[int + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        used = int + 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(rest.get(used), Some(b'e' | b'E')) {
        let mut k = used + 1;
        if matches!(rest.get(k), Some(b'-' | b'+')) {
            k += 1;
        }
        let d = rest[k..].iter().take_while(|c| c.is_ascii_digit()).count();
        if d > 0 {
            used = k + d;
        }
    }
    let text = std::str::from_utf8(&b[..i + used]).ok()?;
    // Rust rejects "5." and ".5"? It accepts both; fix the forms it does not.
    let v: f64 = text.parse().ok().or_else(|| {
        let t = text.replace("e+", "e");
        t.parse().ok()
    })?;
    Some((i + used, v))
}

/// `zslParseRange`.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let one = |b: &[u8]| -> Option<(f64, bool)> {
        let (ex, body) = match b.first() {
            Some(b'(') => (true, &b[1..]),
            _ => (false, b),
        };
        let v = strtod_whole(body)?;
        (!v.is_nan()).then_some((v, ex))
    };
    let (min, minex) = one(min)?;
    let (max, maxex) = one(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// `zslParseLexRange`.
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    let one = |b: &[u8]| -> Option<LexBound> {
        match b.first()? {
            b'+' if b.len() == 1 => Some(LexBound::PosInf),
            b'-' if b.len() == 1 => Some(LexBound::NegInf),
            b'(' => Some(LexBound::Excl(b[1..].to_vec())),
            b'[' => Some(LexBound::Incl(b[1..].to_vec())),
            _ => None,
        }
    };
    Some(LexRange {
        min: one(min)?,
        max: one(max)?,
    })
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM, ZREMRANGEBY*
// ---------------------------------------------------------------------------------------------

fn zadd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], incr_cmd: bool) -> Reply {
    let key = args[1];
    let mut f = AddFlags {
        incr: incr_cmd,
        ..Default::default()
    };
    let mut ch = false;
    let mut idx = 2;
    while idx < args.len() {
        let o = args[idx];
        if eq_ic(o, "nx") {
            f.nx = true;
        } else if eq_ic(o, "xx") {
            f.xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            f.incr = true;
        } else if eq_ic(o, "gt") {
            f.gt = true;
        } else if eq_ic(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return err(SYNTAX);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return err("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 1 {
        return err("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        match parse_f64(args[idx + 2 * j]) {
            Some(s) => scores.push(s),
            None => return err(NOT_FLOAT),
        }
    }
    let cfg = ctx.config().clone();
    let mut fresh = None;
    let z: &mut ZSet = match zset_mut(ctx, key) {
        Err(e) => return e,
        Ok(Some(z)) => z,
        Ok(None) => {
            if f.xx {
                return if f.incr { Reply::Nil } else { Reply::Int(0) };
            }
            fresh.insert(ZSet::for_zadd(&cfg, args[idx + 1].len()))
        }
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    if !f.incr {
        // Many members at once: one pass over a listpack instead of one per member.
        let items: Vec<(&[u8], f64)> = scores
            .iter()
            .enumerate()
            .map(|(j, &s)| (args[idx + 1 + 2 * j], s))
            .collect();
        let (a, u, p) = z.add_many(&items, f, &cfg);
        (added, updated, processed) = (a, u, p);
    }
    for (j, &s) in scores.iter().enumerate().filter(|_| f.incr) {
        let (out, new) = z.add(args[idx + 1 + 2 * j], s, f, &cfg);
        match out {
            AddOutcome::Nan => {
                nan = true;
                break;
            }
            AddOutcome::Added => added += 1,
            AddOutcome::Updated => updated += 1,
            AddOutcome::Unchanged | AddOutcome::Nop => {}
        }
        if out != AddOutcome::Nop {
            processed += 1;
        }
        score = new;
    }
    if let Some(z) = fresh {
        // Redis adds the key before the first element; a set that got nothing stays empty
        // only in the impossible NaN-on-a-new-key case, which we do not store.
        if !z.is_empty() {
            ctx.db().set(key, Value::ZSet(Box::new(z)));
        }
    }
    if nan {
        return err(NAN_ERR);
    }
    ctx.dirty((added + updated) as u64);
    if f.incr {
        if processed > 0 {
            Reply::Double(score)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if ch { added + updated } else { added })
    }
}

fn zrem(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let key = args[1];
    let z = match zset_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(z)) => z,
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    delete_if_empty(ctx, key);
    ctx.dirty(deleted);
    Reply::Int(deleted as i64)
}

enum RemRange {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (start, end) = match (parse_long(args[2]), parse_long(args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    zremrange(ctx, args[1], RemRange::Rank(start, end))
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match parse_score_range(args[2], args[3]) {
        Some(r) => zremrange(ctx, args[1], RemRange::Score(r)),
        None => err(RANGE_NOT_FLOAT),
    }
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match parse_lex_range(args[2], args[3]) {
        Some(r) => zremrange(ctx, args[1], RemRange::Lex(r)),
        None => err(RANGE_NOT_LEX),
    }
}

/// Clamp Redis-style (possibly negative) inclusive rank bounds; `None` when empty.
fn rank_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

fn zremrange(ctx: &mut Ctx<'_>, key: &[u8], range: RemRange) -> Reply {
    let z = match zset_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(z)) => z,
    };
    let (a, b) = {
        let v = z.view();
        match &range {
            RemRange::Rank(s, e) => match rank_bounds(*s, *e, v.len()) {
                Some((s, e)) => (s, e + 1),
                None => return Reply::Int(0),
            },
            RemRange::Score(r) => v.score_bounds(r),
            RemRange::Lex(r) => match v.lex_first(r) {
                Some(first) => (first, first + v.lex_run(first, r)),
                None => (0, 0),
            },
        }
    };
    let deleted = z.delete_ranks(a, b);
    delete_if_empty(ctx, key);
    ctx.dirty(deleted as u64);
    Reply::Int(deleted as i64)
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF (and STORE), ZINTERCARD
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, a: Aggregate) {
    match a {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// One input of a set operation.
struct Src<'a> {
    key: &'a [u8],
    val: Option<&'a Value>,
    weight: f64,
    /// Members of a plain set, for lookups.
    set_members: Option<HashSet<Vec<u8>>>,
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self.val {
            Some(Value::ZSet(z)) => z.len(),
            Some(Value::Set(s)) => s.len(),
            _ => 0,
        }
    }

    /// (member, score) pairs; a plain set's members score 1.
    fn entries(&self) -> Vec<(Vec<u8>, f64)> {
        match self.val {
            Some(Value::ZSet(z)) => z.iter().map(|(m, s)| (m.to_vec(), s)).collect(),
            Some(Value::Set(s)) => s.iter().map(|e| (e.to_vec(), 1.0)).collect(),
            _ => Vec::new(),
        }
    }

    fn find(&mut self, m: &[u8]) -> Option<f64> {
        match self.val {
            Some(Value::ZSet(z)) => z.score(m),
            Some(Value::Set(s)) => {
                let members = self
                    .set_members
                    .get_or_insert_with(|| s.iter().map(|e| e.to_vec()).collect());
                members.contains(m).then_some(1.0)
            }
            _ => None,
        }
    }
}

fn zunionstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, Some(args[1]), 2, SetOp::Union, false)
}
fn zinterstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, Some(args[1]), 2, SetOp::Inter, false)
}
fn zdiffstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, Some(args[1]), 2, SetOp::Diff, false)
}
fn zunion(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, None, 1, SetOp::Union, false)
}
fn zinter(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, None, 1, SetOp::Inter, false)
}
fn zintercard(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, None, 1, SetOp::Inter, true)
}
fn zdiff(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zsetop(ctx, args, None, 1, SetOp::Diff, false)
}

/// `zunionInterDiffGenericCommand`.
fn zsetop(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) -> Reply {
    let setnum = match parse_long(args[numkeys_idx]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if setnum < 1 {
        return Reply::err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(args[0]).to_ascii_lowercase()
        ));
    }
    if setnum > (args.len() - (numkeys_idx + 1)) as i64 {
        return err(SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    for k in keys {
        match ctx.lookup_value(k) {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return err(WRONGTYPE),
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: i64 = 0;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                match parse_f64(args[j]) {
                    Some(v) => *w = v,
                    None => return err("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = args[j + 1];
            agg = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return err(SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            match parse_i64(args[j + 1]) {
                Some(v) if v >= 0 => limit = v,
                _ => return err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return err(SYNTAX);
        }
    }

    let db = &ctx.ks.dbs[ctx.db];
    let mut srcs: Vec<Src<'_>> = keys
        .iter()
        .zip(&weights)
        .map(|(k, &w)| Src {
            key: k,
            val: db.get(k).map(|e| &e.value),
            weight: w,
            set_members: None,
        })
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(Src::len);
    }

    // The result, measured as Redis measures it for the listpack decision.
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut maxelelen = 0usize;
    let mut totelelen = 0usize;
    let mut cardinality = 0i64;
    match op {
        SetOp::Inter => {
            if srcs[0].len() > 0 {
                let first = srcs[0].entries();
                let (w0, k0) = (srcs[0].weight, srcs[0].key);
                'outer: for (m, s) in first {
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for src in srcs[1..].iter_mut() {
                        let value = if src.key == k0 && src.val.is_some() {
                            s * src.weight
                        } else {
                            match src.find(&m) {
                                Some(v) => v * src.weight,
                                None => continue 'outer,
                            }
                        };
                        aggregate(&mut score, value, agg);
                    }
                    if card_only {
                        cardinality += 1;
                        if limit > 0 && cardinality >= limit {
                            break;
                        }
                    } else {
                        maxelelen = maxelelen.max(m.len());
                        totelelen += m.len();
                        result.push((m, score));
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for src in &srcs {
                for (m, s) in src.entries() {
                    let mut score = src.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            maxelelen = maxelelen.max(m.len());
                            totelelen += m.len();
                            acc.insert(m, score);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let len0 = srcs[0].len();
            if len0 > 0 {
                let k0 = srcs[0].key;
                let same = srcs[1..].iter().any(|s| s.key == k0);
                if !same {
                    // Redis picks one of two algorithms; only the first measures the
                    // element lengths, so the listpack decision differs between them.
                    let one: u64 = (setnum as u64 * len0 as u64) / 2;
                    let two: u64 = srcs.iter().map(|s| s.len() as u64).sum();
                    let measured = one <= two;
                    let first = srcs[0].entries();
                    for (m, s) in first {
                        if srcs[1..].iter_mut().any(|src| src.find(&m).is_some()) {
                            continue;
                        }
                        if measured {
                            maxelelen = maxelelen.max(m.len());
                            totelelen += m.len();
                        }
                        result.push((m, s));
                    }
                }
            }
        }
    }
    drop(srcs);

    if card_only {
        return Reply::Int(cardinality);
    }
    match dst {
        Some(dst) => {
            if result.is_empty() {
                if ctx.db().remove(dst).is_some() {
                    ctx.dirty(1);
                }
                return Reply::Int(0);
            }
            let pairs = result
                .into_iter()
                .map(|(m, s)| (SStr::from(m), s))
                .collect();
            let mut z = ZSet::from_sorted(Sorted::from_pairs(pairs));
            let cfg = ctx.config().clone();
            z.convert_to_listpack_if_needed(maxelelen, totelelen, &cfg);
            let n = z.len();
            ctx.db().set(dst, Value::ZSet(Box::new(z)));
            ctx.dirty(1);
            Reply::Int(n as i64)
        }
        None => {
            result.sort_by(|a, b| crate::keyspace::zset::cmp_entry(a.1, &a.0, b.1, &b.0));
            scored(result, withscores)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and friends, ZRANGESTORE
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

fn zrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, Dir::Auto)
}
fn zrangestore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 2, Some(args[1]), RangeType::Auto, Dir::Auto)
}
fn zrevrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Dir::Rev)
}
fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Dir::Fwd)
}
fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Dir::Rev)
}
fn zrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Dir::Fwd)
}
fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Dir::Rev)
}

enum Parsed {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// `zrangeGenericCommand`: `argc_start` is the source key's position.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    argc_start: usize,
    store: Option<&[u8]>,
    mut rt: RangeType,
    mut dir: Dir,
) -> Reply {
    let key = args[argc_start];
    let mut minidx = argc_start + 1;
    let mut maxidx = argc_start + 2;
    let mut withscores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut j = argc_start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            match (parse_long(args[j + 1]), parse_long(args[j + 2])) {
                (Ok(o), Ok(l)) => {
                    offset = o;
                    limit = l;
                }
                (Err(e), _) | (_, Err(e)) => return e,
            }
            j += 2;
        } else if dir == Dir::Auto && eq_ic(a, "rev") {
            dir = Dir::Rev;
        } else if rt == RangeType::Auto && eq_ic(a, "bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && eq_ic(a, "byscore") {
            rt = RangeType::Score;
        } else {
            return err(SYNTAX);
        }
        j += 1;
    }
    if dir == Dir::Auto {
        dir = Dir::Fwd;
    }
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rt == RangeType::Lex {
        return err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let rev = dir == Dir::Rev;
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let parsed = match rt {
        RangeType::Score => match parse_score_range(args[minidx], args[maxidx]) {
            Some(r) => Parsed::Score(r),
            None => return err(RANGE_NOT_FLOAT),
        },
        RangeType::Lex => match parse_lex_range(args[minidx], args[maxidx]) {
            Some(r) => Parsed::Lex(r),
            None => return err(RANGE_NOT_LEX),
        },
        _ => match (parse_long(args[minidx]), parse_long(args[maxidx])) {
            (Ok(a), Ok(b)) => Parsed::Rank(a, b),
            (Err(e), _) | (_, Err(e)) => return e,
        },
    };
    let cfg = ctx.config().clone();
    let z = match zset_ref(ctx, key) {
        Err(e) => return e,
        Ok(z) => z,
    };
    // For ZRANGESTORE: the size Redis announces before emitting (decides the encoding
    // the destination starts with); -1 when unknown.
    let mut announced: i64 = -1;
    let items = match z {
        None => Vec::new(),
        Some(z) => {
            let v = z.view();
            match &parsed {
                Parsed::Rank(s, e) => match rank_bounds(*s, *e, v.len()) {
                    None => {
                        announced = 0;
                        Vec::new()
                    }
                    Some((s, e)) => {
                        let n = e - s + 1;
                        announced = n as i64;
                        if rev {
                            v.collect(v.len() - 1 - s, n, true)
                        } else {
                            v.collect(s, n, false)
                        }
                    }
                },
                Parsed::Score(r) => {
                    let (lo, hi) = v.score_bounds(r);
                    walk_ranks(lo, hi, offset, limit, rev, &v)
                }
                Parsed::Lex(r) => walk_lex(r, offset, limit, rev, &v),
            }
        }
    };
    match store {
        None => scored(items, withscores),
        Some(dst) => {
            let n = items.len();
            if n == 0 {
                if ctx.db().remove(dst).is_some() {
                    ctx.dirty(1);
                }
                return Reply::Int(0);
            }
            let mut out = if announced > cfg.zset_max_listpack_entries as i64 {
                ZSet::new_skiplist()
            } else {
                ZSet::new()
            };
            for (m, s) in &items {
                out.add(m, *s, AddFlags::default(), &cfg);
            }
            ctx.db().set(dst, Value::ZSet(Box::new(out)));
            ctx.dirty(1);
            Reply::Int(n as i64)
        }
    }
}

/// Entries of the rank interval `lo..hi` (a score range) after skipping `offset`, at most
/// `limit` (negative: no limit), from the low end or (`rev`) the high end.
fn walk_ranks(
    lo: usize,
    hi: usize,
    offset: i64,
    limit: i64,
    rev: bool,
    v: &View<'_>,
) -> Vec<(Vec<u8>, f64)> {
    if hi <= lo || offset < 0 {
        return Vec::new();
    }
    let avail = hi - lo;
    let off = offset as u64;
    if off >= avail as u64 {
        return Vec::new();
    }
    let off = off as usize;
    let n = avail - off;
    let n = if limit < 0 {
        n
    } else {
        n.min(limit as u64 as usize)
    };
    if rev {
        v.collect(hi - 1 - off, n, true)
    } else {
        v.collect(lo + off, n, false)
    }
}

/// `genericZrangebylexCommand`'s walk.
fn walk_lex(r: &LexRange, offset: i64, limit: i64, rev: bool, v: &View<'_>) -> Vec<(Vec<u8>, f64)> {
    let start = if rev { v.lex_last(r) } else { v.lex_first(r) };
    let Some(start) = start else {
        return Vec::new();
    };
    if offset < 0 {
        return Vec::new();
    }
    let off = offset as u64;
    let mut out = Vec::new();
    let mut left = limit;
    if rev {
        if off > start as u64 {
            return out;
        }
        let mut i = start - off as usize;
        loop {
            if left == 0 || !v.member_is(i, |m| r.gte_min(m)) {
                break;
            }
            left = left.wrapping_sub(1);
            out.extend(v.entry(i));
            if i == 0 {
                break;
            }
            i -= 1;
        }
    } else {
        if off >= (v.len() - start) as u64 {
            return out;
        }
        let mut i = start + off as usize;
        while i < v.len() && left != 0 && v.member_is(i, |m| r.lte_max(m)) {
            left = left.wrapping_sub(1);
            out.extend(v.entry(i));
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reads by member, counts
// ---------------------------------------------------------------------------------------------

fn zcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let Some(r) = parse_score_range(args[2], args[3]) else {
        return err(RANGE_NOT_FLOAT);
    };
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(z)) => {
            let (lo, hi) = z.view().score_bounds(&r);
            Reply::Int((hi - lo) as i64)
        }
    }
}

fn zlexcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let Some(r) = parse_lex_range(args[2], args[3]) else {
        return err(RANGE_NOT_LEX);
    };
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(z)) => {
            let v = z.view();
            let n = v.lex_first(&r).map_or(0, |f| v.lex_run(f, &r));
            Reply::Int(n as i64)
        }
    }
}

fn zcard(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(z)) => Reply::Int(z.len() as i64),
    }
}

fn zscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(z)) => z.score(args[2]).map_or(Reply::Nil, Reply::Double),
    }
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(z) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
                .collect(),
        ),
    }
}

fn zrank(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrank_generic(ctx, args, false)
}
fn zrevrank(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zrank_generic(ctx, args, true)
}

fn zrank_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], rev: bool) -> Reply {
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(z)) => match z.rank(args[2]) {
            None => Reply::Nil,
            Some(r) if rev => Reply::Int((z.len() - 1 - r) as i64),
            Some(r) => Reply::Int(r as i64),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------------

/// Reply shapes of `genericZpopCommand`.
#[derive(Clone, Copy)]
struct PopShape {
    emit_key: bool,
    nested: bool,
    nil_when_empty: bool,
}

/// `genericZpopCommand`: pops from the first existing key. `count` -1 is a plain single pop.
/// Returns the reply and, when something was popped, (key, number popped).
fn generic_pop<'k>(
    ctx: &mut Ctx<'_>,
    keys: &[&'k [u8]],
    max: bool,
    count: i64,
    shape: PopShape,
) -> (Reply, Option<(&'k [u8], usize)>) {
    let mut found = None;
    for &k in keys {
        match ctx.lookup_value(k) {
            None => continue,
            Some(Value::ZSet(_)) => {
                found = Some(k);
                break;
            }
            Some(_) => return (err(WRONGTYPE), None),
        }
    }
    let Some(key) = found else {
        let r = if shape.nil_when_empty {
            Reply::NilArray
        } else {
            Reply::Array(Vec::new())
        };
        return (r, None);
    };
    if count == 0 {
        return (Reply::Array(Vec::new()), None);
    }
    let count = if count == -1 { 1 } else { count as u64 };
    let Ok(Some(z)) = zset_mut(ctx, key) else {
        return (Reply::Array(Vec::new()), None);
    };
    let llen = z.len();
    let n = (count.min(llen as u64)) as usize;
    let items = {
        let v = z.view();
        if max {
            v.collect(llen - 1, n, true)
        } else {
            v.collect(0, n, false)
        }
    };
    if max {
        z.delete_ranks(llen - n, llen);
    } else {
        z.delete_ranks(0, n);
    }
    delete_if_empty(ctx, key);
    ctx.dirty(n as u64);
    let pairs: Vec<Reply> = if shape.nested {
        items
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
            .collect()
    } else {
        items
            .into_iter()
            .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
            .collect()
    };
    let reply = match (shape.emit_key, shape.nested) {
        (false, _) => Reply::Array(pairs),
        (true, false) => {
            let mut v = Vec::with_capacity(pairs.len() + 1);
            v.push(Reply::Bulk(key.to_vec()));
            v.extend(pairs);
            Reply::Array(v)
        }
        (true, true) => Reply::Array(vec![Reply::Bulk(key.to_vec()), Reply::Array(pairs)]),
    };
    (reply, Some((key, n)))
}

fn zpopmin(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zpop(ctx, args, false)
}
fn zpopmax(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zpop(ctx, args, true)
}

fn zpop(ctx: &mut Ctx<'_>, args: &[&[u8]], max: bool) -> Reply {
    if args.len() > 3 {
        return err(SYNTAX);
    }
    let mut count = -1;
    if args.len() == 3 {
        match parse_i64(args[2]) {
            Some(c) if c >= 0 => count = c,
            _ => return err("ERR value is out of range, must be positive"),
        }
    }
    let shape = PopShape {
        emit_key: false,
        nested: false,
        nil_when_empty: false,
    };
    generic_pop(ctx, &args[1..2], max, count, shape).0
}

fn pop_name(max: bool) -> Vec<u8> {
    if max { b"ZPOPMAX" } else { b"ZPOPMIN" }.to_vec()
}

/// `getTimeoutFromObjectOrReply` in seconds; only errors matter here (nothing blocks).
fn check_timeout(b: &[u8]) -> Result<(), Reply> {
    let v = match b.first() {
        Some(c) if !c.is_ascii_whitespace() && *c != 0x0b && *c != 0x0c => strtod_whole(b),
        _ => None,
    };
    match v {
        Some(v) if !v.is_nan() => {
            if (v * 1000.0).ceil() < 0.0 {
                Err(err("ERR timeout is negative"))
            } else {
                Ok(())
            }
        }
        _ => Err(err("ERR timeout is not a float or out of range")),
    }
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    bzpop(ctx, args, false)
}
fn bzpopmax(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    bzpop(ctx, args, true)
}

fn bzpop(ctx: &mut Ctx<'_>, args: &[&[u8]], max: bool) -> Reply {
    let n = args.len();
    blocking_pop(ctx, &args[1..n - 1], args[n - 1], max, -1, false)
}

/// `blockingGenericZpopCommand` for a client that cannot block.
fn blocking_pop(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    timeout: &[u8],
    max: bool,
    count: i64,
    nested: bool,
) -> Reply {
    if let Err(e) = check_timeout(timeout) {
        return e;
    }
    for &k in keys {
        match zset_ref(ctx, k) {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(z)) if z.is_empty() => continue,
            Ok(Some(_)) => {}
        }
        let shape = PopShape {
            emit_key: true,
            nested,
            nil_when_empty: nested,
        };
        let (reply, popped) = generic_pop(ctx, &[k], max, count, shape);
        if let Some((key, n)) = popped {
            if count == -1 {
                ctx.propagate(vec![pop_name(max), key.to_vec()]);
            } else {
                ctx.propagate(vec![
                    pop_name(max),
                    key.to_vec(),
                    n.to_string().into_bytes(),
                ]);
            }
        }
        return reply;
    }
    Reply::NilArray
}

fn zmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zmpop_generic(ctx, args, 1, false)
}
fn bzmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    zmpop_generic(ctx, args, 2, true)
}

fn zmpop_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], numkeys_idx: usize, block: bool) -> Reply {
    let numkeys = match parse_i64(args[numkeys_idx]) {
        Some(n) if n >= 1 => n as u64,
        _ => return err("ERR numkeys should be greater than 0"),
    };
    let where_idx = (numkeys_idx as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_idx >= args.len() as u64 {
        return err(SYNTAX);
    }
    let where_idx = where_idx as usize;
    let max = if eq_ic(args[where_idx], "min") {
        false
    } else if eq_ic(args[where_idx], "max") {
        true
    } else {
        return err(SYNTAX);
    };
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && eq_ic(args[j], "count") && more > 0 {
            j += 1;
            match parse_i64(args[j]) {
                Some(c) if c >= 1 => count = c,
                _ => return err("ERR count should be greater than 0"),
            }
        } else {
            return err(SYNTAX);
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    let keys = &args[numkeys_idx + 1..where_idx];
    if block {
        return blocking_pop(ctx, keys, args[1], max, count, true);
    }
    let shape = PopShape {
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    };
    let (reply, popped) = generic_pop(ctx, keys, max, count, shape);
    if let Some((key, n)) = popped {
        ctx.propagate(vec![
            pop_name(max),
            key.to_vec(),
            n.to_string().into_bytes(),
        ]);
    }
    reply
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER (random by design: only its shape and errors are Redis's)
// ---------------------------------------------------------------------------------------------

fn next_random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Most elements one ZRANDMEMBER reply with repetitions is allowed to build here.
const RANDMEMBER_MAX: u64 = 1 << 22;

fn zrandmember(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() >= 3 {
        let l = match parse_i64(args[2]) {
            None => return err(NOT_INTEGER),
            Some(i64::MIN) => {
                return err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Some(l) => l,
        };
        let withscores = args.len() == 4;
        if args.len() > 4 || (withscores && !eq_ic(args[3], "withscores")) {
            return err(SYNTAX);
        }
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return err("ERR value is out of range");
        }
        let z = match zset_ref(ctx, args[1]) {
            Err(e) => return e,
            Ok(None) => return Reply::Array(Vec::new()),
            Ok(Some(z)) => z,
        };
        let v = z.view();
        let len = v.len();
        let items: Vec<(Vec<u8>, f64)> = if l == 0 {
            Vec::new()
        } else if l < 0 {
            let n = l.unsigned_abs().min(RANDMEMBER_MAX);
            (0..n)
                .filter_map(|_| v.entry((next_random() % len as u64) as usize))
                .collect()
        } else {
            let n = (l as u64).min(len as u64) as usize;
            // A random subset, in random order.
            let mut idx: Vec<usize> = (0..len).collect();
            for i in 0..n {
                let k = i + (next_random() % (len - i) as u64) as usize;
                idx.swap(i, k);
            }
            idx[..n].iter().filter_map(|&i| v.entry(i)).collect()
        };
        return scored(items, withscores);
    }
    match zset_ref(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(z)) => {
            let v = z.view();
            match v.entry((next_random() % v.len().max(1) as u64) as usize) {
                Some((m, _)) => Reply::Bulk(m),
                None => Reply::Nil,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_c() {
        for (s, v) in [
            ("1.5", Some(1.5)),
            (" 2", Some(2.0)),
            ("", Some(0.0)),
            (" ", None),
            ("2 ", None),
            ("0x10", Some(16.0)),
            ("0x1p3", Some(8.0)),
            ("1e400", Some(f64::INFINITY)),
            ("-inf", Some(f64::NEG_INFINITY)),
            ("+Infinity", Some(f64::INFINITY)),
            ("1e", None),
            ("5.", Some(5.0)),
            (".5", Some(0.5)),
            (".", None),
            ("abc", None),
            ("1e+5", Some(1e5)),
        ] {
            assert_eq!(strtod_whole(s.as_bytes()), v, "{s:?}");
        }
        assert!(strtod_whole(b"nan").unwrap().is_nan());
        assert!(parse_score_range(b"nan", b"1").is_none());
        assert!(parse_score_range(b"(1", b"(2").is_some());
    }

    #[test]
    fn lex_ranges_parse() {
        assert!(parse_lex_range(b"-", b"+").is_some());
        assert!(parse_lex_range(b"a", b"+").is_none());
        assert!(parse_lex_range(b"+x", b"+").is_none());
        assert!(parse_lex_range(b"", b"+").is_none());
        assert_eq!(
            parse_lex_range(b"(a", b"[b"),
            Some(LexRange {
                min: LexBound::Excl(b"a".to_vec()),
                max: LexBound::Incl(b"b".to_vec())
            })
        );
    }
}

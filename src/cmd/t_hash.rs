//! Hash commands, with Redis 7.0.15's replies, errors, encodings and propagation (`t_hash.c`),
//! plus Redis 7.4's hash field expiry commands (HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL,
//! HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST) so that 7.4 AOFs replay.
//!
//! Field expiry follows 7.4: a field whose expiry is in the past is invisible to reads; the
//! commands that look a single field up (HGET, HMGET, HEXISTS, HSTRLEN, HSETNX, HINCRBY,
//! HINCRBYFLOAT) delete it and propagate `HDEL key field` (and drop the key when it was the last
//! field); HGETALL/HKEYS/HVALS skip it; HLEN and HDEL still count it. While replaying a file
//! (`ctx.loading`) no field expires, like keys.
//!
//! HINCRBYFLOAT computes in x87 80-bit `long double` like Redis on x86-64; the [`ld`] module
//! emulates that format exactly (parsing like `strtold`, adding with round-to-nearest-even,
//! printing like `%.17Lf`).

use super::util::{eq_ic, parse_i64, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::hash::Hash;
use crate::keyspace::string::LongDouble;
use crate::keyspace::{Entry, Value};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hsetnx),
    CommandSpec::new("hget", 3, READONLY | FAST, (1, 1, 1), hget),
    CommandSpec::new("hmget", -3, READONLY | FAST, (1, 1, 1), hmget),
    CommandSpec::new("hdel", -3, WRITE | FAST, (1, 1, 1), hdel),
    CommandSpec::new("hlen", 2, READONLY | FAST, (1, 1, 1), hlen),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, (1, 1, 1), hstrlen),
    CommandSpec::new("hexists", 3, READONLY | FAST, (1, 1, 1), hexists),
    CommandSpec::new("hkeys", 2, READONLY, (1, 1, 1), hkeys),
    CommandSpec::new("hvals", 2, READONLY, (1, 1, 1), hvals),
    CommandSpec::new("hgetall", 2, READONLY, (1, 1, 1), hgetall),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrby),
    CommandSpec::new(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hincrbyfloat,
    ),
    CommandSpec::new("hrandfield", -2, READONLY, (1, 1, 1), hrandfield),
    // Redis 7.4 hash field expiry.
    CommandSpec::new("hexpire", -6, WRITE | DENYOOM | FAST, (1, 1, 1), hexpire),
    CommandSpec::new("hpexpire", -6, WRITE | DENYOOM | FAST, (1, 1, 1), hpexpire),
    CommandSpec::new(
        "hexpireat",
        -6,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hexpireat,
    ),
    CommandSpec::new(
        "hpexpireat",
        -6,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hpexpireat,
    ),
    CommandSpec::new("httl", -5, READONLY | FAST, (1, 1, 1), httl),
    CommandSpec::new("hpttl", -5, READONLY | FAST, (1, 1, 1), hpttl),
    CommandSpec::new("hexpiretime", -5, READONLY | FAST, (1, 1, 1), hexpiretime),
    CommandSpec::new("hpexpiretime", -5, READONLY | FAST, (1, 1, 1), hpexpiretime),
    CommandSpec::new("hpersist", -5, WRITE | FAST, (1, 1, 1), hpersist),
];

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

/// The live hash at `key`: `Ok(None)` when missing, `Err(WRONGTYPE)` for another type.
fn hash_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut Hash>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Reply::err(WRONGTYPE)),
    }
}

/// Does a live hash exist at `key`? `Err(WRONGTYPE)` for another type.
fn hash_exists(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, Reply> {
    hash_mut(ctx, key).map(|h| h.is_some())
}

/// The hash at `key`, created empty when missing (`hashTypeLookupWriteOrCreate`).
fn hash_or_create<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<&'c mut Hash, Reply> {
    if !hash_exists(ctx, key)? {
        ctx.db().set(key, Value::Hash(Box::default()));
    }
    stored_hash(ctx, key).ok_or_else(|| Reply::err(WRONGTYPE))
}

/// The hash stored at `key` with no expiry check (after a lookup did it).
fn stored_hash<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Option<&'c mut Hash> {
    match ctx.db().get_mut(key) {
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Some(h),
        _ => None,
    }
}

/// What a single-field lookup found (7.4's `GetFieldRes`).
enum Field {
    Live(Vec<u8>),
    Missing,
    /// Expired and deleted now.
    Expired,
    /// Expired and deleted, and the hash (now empty) with it.
    ExpiredHash,
}

/// Look `field` up in the hash at `key` (already checked to exist), deleting it when expired:
/// `HDEL key field` is propagated and an emptied hash is removed.
fn get_field(ctx: &mut Ctx<'_>, key: &[u8], field: &[u8]) -> Field {
    let (now, loading) = (ctx.now_ms, ctx.loading);
    let Some(h) = stored_hash(ctx, key) else {
        return Field::Missing;
    };
    let Some((v, ttl)) = h.get(field) else {
        return Field::Missing;
    };
    if loading || ttl.is_none_or(|t| t >= now) {
        return Field::Live(v.to_vec());
    }
    h.delete(field);
    let emptied = h.is_empty();
    if emptied {
        ctx.db().remove(key);
    }
    propagate_hdel(ctx, key, field);
    if emptied {
        Field::ExpiredHash
    } else {
        Field::Expired
    }
}

fn propagate_hdel(ctx: &mut Ctx<'_>, key: &[u8], field: &[u8]) {
    ctx.propagate(vec![b"HDEL".to_vec(), key.to_vec(), field.to_vec()]);
}

fn own_argv(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

fn hset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let is_hset = args[0]
        .get(1)
        .is_some_and(|c| c.eq_ignore_ascii_case(&b's'));
    if args.len() % 2 == 1 {
        let name = if is_hset { "hset" } else { "hmset" };
        return Reply::err(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let cfg = ctx.config().clone();
    let h = match hash_or_create(ctx, args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    h.try_conversion(&args[2..], &cfg);
    let created = h.set_many(&args[2..], &cfg) as i64;
    ctx.dirty(((args.len() - 2) / 2) as u64);
    if is_hset {
        Reply::Int(created)
    } else {
        Reply::Ok
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let cfg = ctx.config().clone();
    if let Err(e) = hash_or_create(ctx, args[1]) {
        return e;
    }
    let lazy = match get_field(ctx, args[1], args[2]) {
        Field::Live(_) => return Reply::Int(0),
        Field::Missing => false,
        Field::Expired => true,
        Field::ExpiredHash => {
            ctx.db().set(args[1], Value::Hash(Box::default()));
            true
        }
    };
    let Some(h) = stored_hash(ctx, args[1]) else {
        return Reply::Int(0);
    };
    h.try_conversion(&args[2..4], &cfg);
    h.set(args[2], args[3], false, &cfg);
    ctx.dirty(1);
    if lazy {
        ctx.propagate(own_argv(args));
    }
    Reply::Int(1)
}

/// The current value of a field for HINCRBY/HINCRBYFLOAT (creating the hash, expiring the
/// field lazily): `Ok((value, lazily_deleted))`.
fn incr_target(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    field: &[u8],
) -> Result<(Option<Vec<u8>>, bool), Reply> {
    hash_or_create(ctx, key)?;
    Ok(match get_field(ctx, key, field) {
        Field::Live(v) => (Some(v), false),
        Field::Missing => (None, false),
        Field::Expired => (None, true),
        Field::ExpiredHash => {
            ctx.db().set(key, Value::Hash(Box::default()));
            (None, true)
        }
    })
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let Some(incr) = parse_i64(args[3]) else {
        return Reply::err(NOT_INTEGER);
    };
    let cfg = ctx.config().clone();
    let (cur, lazy) = match incr_target(ctx, args[1], args[2]) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let old = match cur {
        Some(v) => match parse_i64(&v) {
            Some(i) => i,
            None => return Reply::err("ERR hash value is not an integer"),
        },
        None => 0,
    };
    let Some(new) = old.checked_add(incr) else {
        return Reply::err("ERR increment or decrement would overflow");
    };
    if let Some(h) = stored_hash(ctx, args[1]) {
        h.set(args[2], new.to_string().as_bytes(), true, &cfg);
    }
    ctx.dirty(1);
    if lazy {
        ctx.propagate(own_argv(args));
    }
    Reply::Int(new)
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let Some(incr) = LongDouble::parse(args[3]) else {
        return Reply::err(NOT_FLOAT);
    };
    if !incr.is_finite() {
        return Reply::err("ERR value is NaN or Infinity");
    }
    let cfg = ctx.config().clone();
    let (cur, _) = match incr_target(ctx, args[1], args[2]) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let old = match cur {
        Some(v) => match LongDouble::parse(&v) {
            Some(x) => x,
            None => return Reply::err("ERR hash value is not a float"),
        },
        None => LongDouble::from_i64(0),
    };
    let Some(sum) = old.checked_add(incr) else {
        return Reply::err("ERR increment would produce NaN or Infinity");
    };
    let text = sum.to_human();
    if let Some(h) = stored_hash(ctx, args[1]) {
        h.set(args[2], &text, true, &cfg);
    }
    ctx.dirty(1);
    // Replicated as HSET with the result, so replicas and AOF replays don't redo the float math.
    ctx.propagate(vec![
        b"HSET".to_vec(),
        args[1].to_vec(),
        args[2].to_vec(),
        text.clone(),
    ]);
    Reply::Bulk(text)
}

fn hdel(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let h = match hash_mut(ctx, args[1]) {
        Ok(Some(h)) => h,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let mut deleted = 0;
    let mut emptied = false;
    for f in &args[2..] {
        if h.delete(f) {
            deleted += 1;
            if h.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    if emptied {
        ctx.db().remove(args[1]);
    }
    ctx.dirty(deleted);
    Reply::Int(deleted as i64)
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

fn hget(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match hash_exists(ctx, args[1]) {
        Ok(true) => {}
        Ok(false) => return Reply::Nil,
        Err(e) => return e,
    }
    match get_field(ctx, args[1], args[2]) {
        Field::Live(v) => Reply::Bulk(v),
        _ => Reply::Nil,
    }
}

fn hmget(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut exists = match hash_exists(ctx, args[1]) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let mut out = Vec::with_capacity(args.len() - 2);
    for f in &args[2..] {
        if !exists {
            out.push(Reply::Nil);
            continue;
        }
        out.push(match get_field(ctx, args[1], f) {
            Field::Live(v) => Reply::Bulk(v),
            Field::ExpiredHash => {
                exists = false;
                Reply::Nil
            }
            _ => Reply::Nil,
        });
    }
    Reply::Array(out)
}

fn hlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match hash_mut(ctx, args[1]) {
        Ok(Some(h)) => Reply::Int(h.len() as i64),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match hash_exists(ctx, args[1]) {
        Ok(true) => {}
        Ok(false) => return Reply::Int(0),
        Err(e) => return e,
    }
    match get_field(ctx, args[1], args[2]) {
        Field::Live(v) => Reply::Int(v.len() as i64),
        _ => Reply::Int(0),
    }
}

fn hexists(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match hash_exists(ctx, args[1]) {
        Ok(true) => {}
        Ok(false) => return Reply::Int(0),
        Err(e) => return e,
    }
    match get_field(ctx, args[1], args[2]) {
        Field::Live(_) => Reply::Int(1),
        _ => Reply::Int(0),
    }
}

/// HKEYS / HVALS / HGETALL: the live fields, in storage order.
fn getall(ctx: &mut Ctx<'_>, key: &[u8], keys: bool, vals: bool) -> Reply {
    let (now, loading) = (ctx.now_ms, ctx.loading);
    let h = match hash_mut(ctx, key) {
        Ok(Some(h)) => h,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    };
    let per = usize::from(keys) + usize::from(vals);
    let mut out = Vec::with_capacity(h.len() * per);
    for (f, v, ttl) in h.iter() {
        if !(loading || ttl.is_none_or(|t| t >= now)) {
            continue;
        }
        if keys {
            out.push(Reply::Bulk(f.to_vec()));
        }
        if vals {
            out.push(Reply::Bulk(v.to_vec()));
        }
    }
    Reply::Array(out)
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    getall(ctx, args[1], true, false)
}

fn hvals(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    getall(ctx, args[1], false, true)
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    getall(ctx, args[1], true, true)
}

/// A small per-thread generator for HRANDFIELD (random by design; seeded per process).
fn rand_below(n: usize) -> usize {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(crate::now_ms() as u64);
            h.finish() | 1
        });
    }
    if n == 0 {
        return 0;
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x % n as u64) as usize
    })
}

/// Most elements one HRANDFIELD with a negative count produces: Redis streams any number, but
/// a reply here is built in memory.
const RANDOM_REPLY_MAX: u64 = 1 << 22;

/// HRANDFIELD's lazy expiry (7.4 `hashTypeExpireIfNeeded`): delete every expired field,
/// propagating HDELs; true when the hash went away.
fn expire_all_fields(ctx: &mut Ctx<'_>, key: &[u8]) -> bool {
    if ctx.loading {
        return false;
    }
    let now = ctx.now_ms;
    let Some(h) = stored_hash(ctx, key) else {
        return true;
    };
    let gone = h.remove_expired(now);
    let emptied = h.is_empty();
    if emptied {
        ctx.db().remove(key);
    }
    for f in &gone {
        propagate_hdel(ctx, key, f);
    }
    emptied
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() == 2 {
        match hash_exists(ctx, args[1]) {
            Ok(true) => {}
            Ok(false) => return Reply::Nil,
            Err(e) => return e,
        }
        if expire_all_fields(ctx, args[1]) {
            return Reply::Nil;
        }
        let Some(h) = stored_hash(ctx, args[1]) else {
            return Reply::Nil;
        };
        let i = rand_below(h.len());
        return match h.iter().nth(i) {
            Some((f, _, _)) => Reply::Bulk(f.to_vec()),
            None => Reply::Nil,
        };
    }
    let Some(l) = parse_i64(args[2]) else {
        return Reply::err(NOT_INTEGER);
    };
    if l == i64::MIN {
        return Reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    let withvalues = match args.len() {
        3 => false,
        4 if eq_ic(args[3], "withvalues") => true,
        _ => return Reply::err(SYNTAX),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Reply::err("ERR value is out of range");
    }
    match hash_exists(ctx, args[1]) {
        Ok(true) => {}
        Ok(false) => return Reply::Array(Vec::new()),
        Err(e) => return e,
    }
    if expire_all_fields(ctx, args[1]) {
        return Reply::Array(Vec::new());
    }
    let Some(h) = stored_hash(ctx, args[1]) else {
        return Reply::Array(Vec::new());
    };
    let all: Vec<(Vec<u8>, Vec<u8>)> = h.iter().map(|(f, v, _)| (f.to_vec(), v.to_vec())).collect();
    let size = all.len();
    let push = |out: &mut Vec<Reply>, (f, v): &(Vec<u8>, Vec<u8>)| {
        out.push(Reply::Bulk(f.clone()));
        if withvalues {
            out.push(Reply::Bulk(v.clone()));
        }
    };
    let mut out = Vec::new();
    if l == 0 || size == 0 {
        return Reply::Array(out);
    }
    if l < 0 {
        let n = l.unsigned_abs().min(RANDOM_REPLY_MAX);
        for _ in 0..n {
            push(&mut out, &all[rand_below(size)]);
        }
        return Reply::Array(out);
    }
    let count = l as u64;
    if count >= size as u64 {
        for p in &all {
            push(&mut out, p);
        }
        return Reply::Array(out);
    }
    // A partial Fisher-Yates shuffle picks `count` distinct fields.
    let mut idx: Vec<usize> = (0..size).collect();
    for i in 0..count as usize {
        let j = i + rand_below(size - i);
        idx.swap(i, j);
        push(&mut out, &all[idx[i]]);
    }
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// Field expiry (Redis 7.4)
// ---------------------------------------------------------------------------------------------

/// Largest absolute field expiry the commands accept (48 bits, two reserved: 2^46 - 1 ms).
const HFE_MAX_ABS_TIME_MS: i64 = ((1i64 << 48) - 1) >> 2;

const FIELDS_MISSING: &str =
    "ERR Mandatory argument FIELDS is missing or not at the right position";
const NUMFIELDS_MISMATCH: &str = "ERR The `numfields` parameter must match the number of arguments";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

/// Parse `numfields` at `args[at]` (a positive count equal to the number of arguments after
/// it); `Err` with the reply.
fn numfields(args: &[&[u8]], at: usize, range_msg: &'static str) -> Result<usize, Reply> {
    if !args
        .get(at.wrapping_sub(1))
        .is_some_and(|a| eq_ic(a, "FIELDS"))
    {
        return Err(Reply::err(FIELDS_MISSING));
    }
    let n = match args.get(at).and_then(|a| parse_i64(a)) {
        Some(n) if n >= 1 => n,
        _ => return Err(Reply::err(range_msg)),
    };
    if n as u64 != (args.len() - at - 1) as u64 {
        return Err(Reply::err(NUMFIELDS_MISMATCH));
    }
    Ok(n as usize)
}

fn hexpire(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    hexpire_generic(ctx, args, "hexpire", now, true)
}

fn hpexpire(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    hexpire_generic(ctx, args, "hpexpire", now, false)
}

fn hexpireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    hexpire_generic(ctx, args, "hexpireat", 0, true)
}

fn hpexpireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    hexpire_generic(ctx, args, "hpexpireat", 0, false)
}

/// HEXPIRE and friends: `basetime` is the command's time for relative forms, 0 for the *AT ones.
/// Per field: -2 no such field, 0 condition not met, 1 set, 2 deleted (time in the past).
/// Propagated as `HPEXPIREAT key <ms> [cond] FIELDS <n> <the fields set>` after an HDEL for
/// every field deleted; nothing but the HDELs when no field was set.
fn hexpire_generic(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    name: &'static str,
    basetime: i64,
    seconds: bool,
) -> Reply {
    let key = args[1];
    let exists = match hash_exists(ctx, key) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let Some(mut expire) = parse_i64(args[2]) else {
        return Reply::err(NOT_INTEGER);
    };
    if expire < 0 {
        return Reply::err("ERR invalid expire time, must be >= 0");
    }
    let bad_time = || Reply::err(format!("ERR invalid expire time in '{name}' command"));
    if seconds {
        if expire > HFE_MAX_ABS_TIME_MS / 1000 {
            return bad_time();
        }
        expire *= 1000;
    }
    if expire > HFE_MAX_ABS_TIME_MS - basetime {
        return bad_time();
    }
    expire += basetime;
    let cond = match args[3] {
        a if eq_ic(a, "nx") => Cond::Nx,
        a if eq_ic(a, "xx") => Cond::Xx,
        a if eq_ic(a, "gt") => Cond::Gt,
        a if eq_ic(a, "lt") => Cond::Lt,
        _ => Cond::None,
    };
    let at = if cond == Cond::None { 4 } else { 5 };
    let n = match numfields(
        args,
        at,
        "ERR Parameter `numFields` should be greater than 0",
    ) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if !exists {
        return Reply::Array(vec![Reply::Int(-2); n]);
    }
    let past = ctx.already_expired(expire);
    let Some(h) = stored_hash(ctx, key) else {
        return Reply::Array(vec![Reply::Int(-2); n]);
    };
    h.enable_field_ttls();
    let mut replies = Vec::with_capacity(n);
    let mut set_fields: Vec<&[u8]> = Vec::new();
    let mut deleted: Vec<&[u8]> = Vec::new();
    for &f in &args[at + 1..] {
        let code = match h.field_ttl(f) {
            None => -2,
            Some(prev) => {
                let refused = match prev {
                    None => matches!(cond, Cond::Xx | Cond::Gt),
                    Some(p) => {
                        cond == Cond::Nx
                            || (cond == Cond::Gt && p >= expire)
                            || (cond == Cond::Lt && p <= expire)
                    }
                };
                if refused {
                    0
                } else if past {
                    h.delete(f);
                    deleted.push(f);
                    2
                } else {
                    h.set_field_ttl(f, Some(expire));
                    set_fields.push(f);
                    1
                }
            }
        };
        replies.push(Reply::Int(code));
    }
    if !deleted.is_empty() && h.is_empty() {
        ctx.db().remove(key);
    }
    ctx.dirty((deleted.len() + set_fields.len()) as u64);
    for f in &deleted {
        propagate_hdel(ctx, key, f);
    }
    if !set_fields.is_empty() {
        let mut argv: Vec<Vec<u8>> = Vec::with_capacity(set_fields.len() + 6);
        argv.push(if name == "hpexpireat" {
            args[0].to_vec()
        } else {
            b"HPEXPIREAT".to_vec()
        });
        argv.push(key.to_vec());
        argv.push(if name == "hpexpireat" {
            args[2].to_vec()
        } else {
            expire.to_string().into_bytes()
        });
        argv.extend(args[3..at].iter().map(|a| a.to_vec()));
        argv.push(if set_fields.len() == n {
            args[at].to_vec()
        } else {
            set_fields.len().to_string().into_bytes()
        });
        argv.extend(set_fields.iter().map(|f| f.to_vec()));
        ctx.propagate(argv);
    } else if deleted.is_empty() {
        ctx.propagate_nothing();
    }
    Reply::Array(replies)
}

fn httl(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    httl_generic(ctx, args, now, true)
}

fn hpttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    httl_generic(ctx, args, now, false)
}

fn hexpiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    httl_generic(ctx, args, 0, true)
}

fn hpexpiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    httl_generic(ctx, args, 0, false)
}

/// HTTL and friends: per field -2 no such field (or expired), -1 no expiry, else the time
/// left (`basetime` = now) or the absolute time (`basetime` = 0), seconds rounded up.
fn httl_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], basetime: i64, seconds: bool) -> Reply {
    let (now, loading) = (ctx.now_ms, ctx.loading);
    let h = match hash_mut(ctx, args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let n = match numfields(args, 3, "ERR Number of fields must be a positive integer") {
        Ok(n) => n,
        Err(e) => return e,
    };
    let Some(h) = h else {
        return Reply::Array(vec![Reply::Int(-2); n]);
    };
    // 7.4 compares with <= in a listpackex and < in a hash table.
    let inclusive = h.encoding() == "listpackex";
    let out = args[4..]
        .iter()
        .map(|f| {
            Reply::Int(match h.field_ttl(f) {
                None => -2,
                Some(None) => -1,
                Some(Some(t)) if !loading && (t < now || (inclusive && t == now)) => -2,
                Some(Some(t)) => {
                    if seconds {
                        (t + 999 - basetime) / 1000
                    } else {
                        t - basetime
                    }
                }
            })
        })
        .collect();
    Reply::Array(out)
}

/// HPERSIST: per field -2 no such field (or expired), -1 no expiry, 1 expiry removed.
fn hpersist(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (now, loading) = (ctx.now_ms, ctx.loading);
    let h = match hash_mut(ctx, args[1]) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let n = match numfields(args, 3, "ERR Number of fields must be a positive integer") {
        Ok(n) => n,
        Err(e) => return e,
    };
    let Some(h) = h else {
        return Reply::Array(vec![Reply::Int(-2); n]);
    };
    let mut changed = false;
    let mut out = Vec::with_capacity(n);
    for f in &args[4..] {
        out.push(Reply::Int(match h.field_ttl(f) {
            None => -2,
            Some(None) => -1,
            Some(Some(t)) if !loading && t < now => -2,
            Some(Some(_)) => {
                h.set_field_ttl(f, None);
                changed = true;
                1
            }
        }));
    }
    if changed {
        ctx.dirty(1);
    }
    Reply::Array(out)
}

/// HINCRBYFLOAT's arithmetic is the x87 long double of `keyspace::string`, shared with
/// INCRBYFLOAT; these cases were checked against redis-server 7.0's HINCRBYFLOAT.
#[cfg(test)]
mod tests {
    use crate::keyspace::string::LongDouble as Ld;

    fn incr(a: &str, b: &str) -> String {
        let x = Ld::parse(a.as_bytes()).unwrap();
        let y = Ld::parse(b.as_bytes()).unwrap();
        String::from_utf8(x.checked_add(y).unwrap().to_human()).unwrap()
    }

    #[test]
    fn sums_print_like_redis() {
        // Values checked against redis-server 7.0 HINCRBYFLOAT / INCRBYFLOAT.
        assert_eq!(incr("0", "0.1"), "0.1");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert_eq!(incr("1", "-1"), "0");
        assert_eq!(incr("-0.0", "0"), "0");
        assert_eq!(incr("0", "1e-20"), "0");
        assert_eq!(incr("0", "-1e-20"), "0");
        assert_eq!(incr("0", "3.0e-5"), "0.00003");
        assert_eq!(incr("0", "0x10"), "16");
        assert_eq!(incr("1e30", "1"), "1000000000000000000024696061952");
        // An exact tie at the 17th decimal rounds to even, like glibc.
        assert_eq!(incr("0", "0.000003814697265625"), "0.00000381469726562");
        assert_eq!(incr("0", "1.5e-17"), "0.00000000000000002");
        assert_eq!(incr("0", "2.5e-17"), "0.00000000000000002");
        assert!(incr("1.7976931348623157e308", "1e308").starts_with(
            "27976931348623157000235224044135007878929992917961993400398769561769337091883"
        ));
        assert!(incr("0", "1e4000").starts_with(
            "99999999999999999999654638730996237849324925835069576313015083330432619433063"
        ));
        assert_eq!(incr("0", "0x1p-16445"), "0");
        assert_eq!(incr("0", "1e-4950"), "0");
    }

    #[test]
    fn parse_matches_redis() {
        // HINCRBYFLOAT on a missing field of redis-server 7.0 (None: not a valid float).
        let cases: &[(&str, Option<&str>)] = &[
            ("1e-4952", None),
            ("1e-4951", None),
            ("1e4933", None),
            ("+1", Some("1")),
            (".5", Some("0.5")),
            ("5.", Some("5")),
            ("0x.8", Some("0.5")),
            ("0x1p", None),
            ("0x1p-", None),
            ("0x1.8p1", Some("3")),
            ("1e+", None),
            ("00012", Some("12")),
            ("-0", Some("0")),
            ("0X1P3", Some("8")),
            ("3.6e-4951", Some("0")),
            ("1.9e-4951", Some("0")),
            ("1.8e-4951", None),
            ("1.0e", None),
            ("0x", None),
            ("0x1p99999", None),
        ];
        for (input, want) in cases {
            let got = Ld::parse(input.as_bytes()).map(|v| {
                String::from_utf8(Ld::from_i64(0).checked_add(v).unwrap().to_human()).unwrap()
            });
            assert_eq!(got.as_deref(), *want, "{input}");
        }
        assert!(Ld::parse(b"1e4932").unwrap().to_human().starts_with(
            b"10000000000000000000060189493879638913238377742545331147737850413525330194866087"
        ));
    }

    #[test]
    fn parse_rules() {
        for bad in [
            "", " 1", "1 ", "nan", "-nan", "abc", "1e", "1e+", ".", "-", "0x", "1e99999",
            "1e-99999", "infinit", "--1",
        ] {
            assert!(Ld::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(!Ld::parse(b"inf").unwrap().is_finite());
        assert!(!Ld::parse(b"-Infinity").unwrap().is_finite());
        assert!(Ld::parse(b"1e4933").is_none());
        assert!(Ld::parse(b"1e4932").is_some());
        assert!(Ld::parse(b"1e-4950").is_some());
        assert!(Ld::parse(b"1e-4952").is_none());
        // string2ld parses a NUL-terminated copy but then demands the whole length was read.
        assert_eq!(Ld::parse(b"1\0junk"), None);
        assert_eq!(Ld::from_i64(-7).to_human(), b"-7");
        assert_eq!(Ld::from_i64(i64::MAX).to_human(), b"9223372036854775807");
    }
}

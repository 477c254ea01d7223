//! Commands on keys of any type (Redis's db.c, expire.c and OBJECT from object.c): DEL,
//! UNLINK, EXISTS, TYPE, TOUCH, the EXPIRE family, PERSIST, TTL/PTTL/EXPIRETIME/PEXPIRETIME,
//! RENAME, RENAMENX, MOVE, COPY, OBJECT, DBSIZE, KEYS, RANDOMKEY; and the glob matcher KEYS
//! uses ([`string_match`], Redis's `stringmatchlen`).
//!
//! Every read or write goes through `Ctx::lookup` first, so an expired key is deleted (and its
//! DEL propagated) exactly where Redis's `lookupKey*` would do it. A lookup in another database
//! (MOVE, COPY ... DB) is done by [`expire_in_db`], which propagates the deletion in that
//! database itself.
//!
//! OBJECT IDLETIME and FREQ answer from defaults: redkit does not track access times, so
//! IDLETIME is always 0, and FREQ gives Redis's error for the default (non-LFU) maxmemory
//! policy. OBJECT REFCOUNT follows Redis's shared integers: an `int` string in 0..10000 answers
//! `i32::MAX` (a shared object), anything else 1 (a copy made by COPY answers 2147483647 here
//! where Redis, which duplicates the object, says 1).

use super::util::{eq_ic, parse_i64, DB_INDEX, NOT_INTEGER, NO_KEY, SYNTAX};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::{Value, NO_EXPIRE};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, (1, -1, 1), del),
    CommandSpec::new("unlink", -2, WRITE | FAST, (1, -1, 1), del),
    CommandSpec::new("exists", -2, READONLY | FAST, (1, -1, 1), exists),
    CommandSpec::new("type", 2, READONLY | FAST, (1, 1, 1), type_cmd),
    CommandSpec::new("touch", -2, READONLY | FAST, (1, -1, 1), touch),
    CommandSpec::new("expire", -3, WRITE | FAST, (1, 1, 1), expire),
    CommandSpec::new("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire),
    CommandSpec::new("expireat", -3, WRITE | FAST, (1, 1, 1), expireat),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat),
    CommandSpec::new("persist", 2, WRITE | FAST, (1, 1, 1), persist),
    CommandSpec::new("ttl", 2, READONLY | FAST, (1, 1, 1), ttl),
    CommandSpec::new("pttl", 2, READONLY | FAST, (1, 1, 1), pttl),
    CommandSpec::new("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime),
    CommandSpec::new("rename", 3, WRITE, (1, 2, 1), rename),
    CommandSpec::new("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx),
    CommandSpec::new("move", 3, WRITE | FAST, (1, 1, 1), move_cmd),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy),
    CommandSpec::container("object", -2, 0, OBJECT_SUBCOMMANDS),
    CommandSpec::new("dbsize", 1, READONLY | FAST, (0, 0, 0), dbsize),
    CommandSpec::new("keys", 2, READONLY, (0, 0, 0), keys),
    CommandSpec::new("randomkey", 1, READONLY, (0, 0, 0), randomkey),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, READONLY, (2, 2, 1), object_encoding),
    CommandSpec::new("refcount", 3, READONLY, (2, 2, 1), object_refcount),
    CommandSpec::new("idletime", 3, READONLY, (2, 2, 1), object_idletime),
    CommandSpec::new("freq", 3, READONLY, (2, 2, 1), object_freq),
    CommandSpec::new("help", 2, LOADING | STALE, (0, 0, 0), object_help),
];

/// Redis's `getIntFromObjectOrReply`: an integer that fits a C `int`. `msg` replaces both
/// errors when given (SWAPDB's "invalid first DB index").
pub(crate) fn get_int(arg: &[u8], msg: Option<&'static str>) -> Result<i32, Reply> {
    match parse_i64(arg) {
        None => Err(Reply::err(msg.unwrap_or(NOT_INTEGER))),
        Some(v) => i32::try_from(v).map_err(|_| {
            Reply::err(msg.unwrap_or(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ))
        }),
    }
}

/// An argument as C's `%s` prints it: up to the first NUL byte.
pub(crate) fn c_str(arg: &[u8]) -> String {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    String::from_utf8_lossy(&arg[..end]).into_owned()
}

/// A valid database index, or Redis's error for it (`getIntFromObjectOrReply` then
/// `selectDb`).
pub(crate) fn db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, Reply> {
    let i = get_int(arg, None)?;
    if i < 0 || i as usize >= ctx.ks.dbs.len() {
        return Err(Reply::err(DB_INDEX));
    }
    Ok(i as usize)
}

/// Lazy expiry of `key` in database `db`, which may not be the current one. Redis propagates
/// that deletion in `db`; `Ctx` propagates everything in the current database, so a deletion
/// elsewhere is recorded in `other` and later emitted wrapped in SELECTs by
/// [`propagate_other_db_dels`]. Returns true when the key is alive afterwards.
pub(crate) fn expire_in_db(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    other: &mut Vec<(usize, Vec<u8>)>,
) -> bool {
    if db == ctx.db {
        return ctx.exists(key);
    }
    let now = ctx.now_ms;
    let loading = ctx.loading;
    let d = &mut ctx.ks.dbs[db];
    if !loading && d.is_expired(key, now) {
        d.remove(key);
        other.push((db, key.to_vec()));
        return false;
    }
    d.get(key).is_some()
}

/// Emit the deletions recorded by [`expire_in_db`] as `SELECT other; DEL key; SELECT current`,
/// followed by the command itself when it changed something (a custom propagation replaces
/// the automatic one).
pub(crate) fn propagate_other_db_dels(
    ctx: &mut Ctx<'_>,
    other: Vec<(usize, Vec<u8>)>,
    args: &[&[u8]],
    dirty_before: u64,
) {
    if other.is_empty() || !ctx.propagating {
        return;
    }
    let here = ctx.db.to_string().into_bytes();
    for (db, key) in other {
        ctx.propagate(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
        ctx.propagate(vec![b"DEL".to_vec(), key]);
        ctx.propagate(vec![b"SELECT".to_vec(), here.clone()]);
    }
    if ctx.dirty > dirty_before {
        ctx.propagate(args.iter().map(|a| a.to_vec()).collect());
    }
}

// ---------------------------------------------------------------------------------------------
// DEL, EXISTS, TYPE, TOUCH
// ---------------------------------------------------------------------------------------------

/// DEL and UNLINK (redkit frees synchronously either way). An expired key is deleted by the
/// lazy expiry (its own DEL is propagated) and not counted.
fn del(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut n = 0;
    for key in &args[1..] {
        ctx.expire_if_needed(key);
        if ctx.db().remove(key).is_some() {
            n += 1;
        }
    }
    ctx.dirty(n as u64);
    Reply::Int(n)
}

/// EXISTS counts a key once per time it is named.
fn exists(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let n = args[1..].iter().filter(|k| ctx.exists(k)).count();
    Reply::Int(n as i64)
}

fn touch(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    exists(ctx, args)
}

fn type_cmd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[1]) {
        Some(v) => Reply::status(v.type_name()),
        None => Reply::status("none"),
    }
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

fn expire(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    expire_generic(ctx, args, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    expire_generic(ctx, args, true, false, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    expire_generic(ctx, args, false, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    expire_generic(ctx, args, false, false, "pexpireat")
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT. Propagated as PEXPIREAT with the
/// absolute time (options kept), or as DEL when the time is already past.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    relative: bool,
    seconds: bool,
    name: &str,
) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if eq_ic(opt, "nx") {
            nx = true;
        } else if eq_ic(opt, "xx") {
            xx = true;
        } else if eq_ic(opt, "gt") {
            gt = true;
        } else if eq_ic(opt, "lt") {
            lt = true;
        } else {
            return Reply::err(format!("ERR Unsupported option {}", c_str(opt)));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::err("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::err("ERR GT and LT options at the same time are not compatible");
    }
    let Some(mut when) = parse_i64(args[2]) else {
        return Reply::err(NOT_INTEGER);
    };
    let bad_time = || Reply::err(format!("ERR invalid expire time in '{name}' command"));
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return bad_time();
        }
        when *= 1000;
    }
    let base = if relative { ctx.now_ms } else { 0 };
    if when > i64::MAX - base {
        return bad_time();
    }
    when += base;

    let key = args[1];
    let Some(entry) = ctx.lookup(key) else {
        return Reply::Int(0);
    };
    // Redis reads "no expiry" as -1 here.
    let current = entry.expire().unwrap_or(-1);
    if (nx && current != -1)
        || (xx && current == -1)
        || (gt && (when <= current || current == -1))
        || (lt && current != -1 && when >= current)
    {
        return Reply::Int(0);
    }
    if ctx.already_expired(when) {
        ctx.db().remove(key);
        ctx.dirty(1);
        ctx.propagate(vec![b"DEL".to_vec(), key.to_vec()]);
        return Reply::Int(1);
    }
    ctx.db().set_expire(key, when);
    ctx.dirty(1);
    if ctx.propagating {
        let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        if relative || seconds {
            argv[0] = b"PEXPIREAT".to_vec();
            argv[2] = when.to_string().into_bytes();
        }
        ctx.propagate(argv);
    }
    Reply::Int(1)
}

fn persist(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup(args[1]) {
        Some(e) if e.expire().is_some() => {
            ctx.db().set_expire(args[1], NO_EXPIRE);
            ctx.dirty(1);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 without the key, -1 without an expiry, never below
/// 0 otherwise; seconds are rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> Reply {
    let now = ctx.now_ms;
    let Some(e) = ctx.lookup(key) else {
        return Reply::Int(-2);
    };
    let Some(when) = e.expire() else {
        return Reply::Int(-1);
    };
    let t = if absolute {
        when
    } else {
        when.saturating_sub(now)
    }
    .max(0);
    Reply::Int(if ms { t } else { (t + 500) / 1000 })
}

fn ttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    ttl_generic(ctx, args[1], false, false)
}

fn pttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    ttl_generic(ctx, args[1], true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    ttl_generic(ctx, args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    ttl_generic(ctx, args[1], true, true)
}

// ---------------------------------------------------------------------------------------------
// RENAME, MOVE, COPY
// ---------------------------------------------------------------------------------------------

fn rename(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    rename_generic(ctx, args, true)
}

/// The value moves with its expiry; the destination is overwritten (RENAME) or left alone
/// (RENAMENX answers 0). Renaming a key to itself only checks that it exists.
fn rename_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], nx: bool) -> Reply {
    let (src, dst) = (args[1], args[2]);
    if !ctx.exists(src) {
        return Reply::err(NO_KEY);
    }
    let done = if nx { Reply::Int(1) } else { Reply::Ok };
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::Ok };
    }
    if ctx.exists(dst) && nx {
        return Reply::Int(0);
    }
    let db = ctx.db();
    if let Some(entry) = db.remove(src) {
        db.insert(dst, entry);
    }
    ctx.dirty(1);
    done
}

fn move_cmd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let key = args[1];
    let dst = match db_index(ctx, args[2]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if dst == ctx.db {
        return Reply::err("ERR source and destination objects are the same");
    }
    if !ctx.exists(key) {
        return Reply::Int(0);
    }
    let mut other = Vec::new();
    let dirty_before = ctx.dirty;
    let reply = if expire_in_db(ctx, dst, key, &mut other) {
        Reply::Int(0)
    } else {
        if let Some(entry) = ctx.db().remove(key) {
            ctx.ks.dbs[dst].insert(key, entry);
        }
        ctx.dirty(1);
        Reply::Int(1)
    };
    propagate_other_db_dels(ctx, other, args, dirty_before);
    reply
}

/// COPY src dst [DB n] [REPLACE]: a deep copy (same encoding) with the source's expiry.
fn copy(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut dst_db = ctx.db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - j - 1;
        if eq_ic(args[j], "replace") {
            replace = true;
        } else if eq_ic(args[j], "db") && more >= 1 {
            dst_db = match db_index(ctx, args[j + 1]) {
                Ok(d) => d,
                Err(e) => return e,
            };
            j += 1;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    let (src, dst) = (args[1], args[2]);
    if dst_db == ctx.db && src == dst {
        return Reply::err("ERR source and destination objects are the same");
    }
    let Some(entry) = ctx.lookup(src).map(|e| e.clone()) else {
        return Reply::Int(0);
    };
    let mut other = Vec::new();
    let dirty_before = ctx.dirty;
    let reply = if expire_in_db(ctx, dst_db, dst, &mut other) && !replace {
        Reply::Int(0)
    } else {
        ctx.ks.dbs[dst_db].insert(dst, entry);
        ctx.dirty(1);
        Reply::Int(1)
    };
    propagate_other_db_dels(ctx, other, args, dirty_before);
    reply
}

// ---------------------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------------------

fn object_encoding(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[2]) {
        Some(v) => Reply::bulk(v.encoding().as_bytes()),
        None => Reply::Nil,
    }
}

/// Redis shares the integer objects 0..9999 (refcount `INT_MAX`); every other value has one
/// reference.
fn object_refcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[2]) {
        Some(Value::Int(i)) if (0..10_000).contains(i) => Reply::Int(i32::MAX as i64),
        Some(_) => Reply::Int(1),
        None => Reply::Nil,
    }
}

/// Access times are not tracked: every key is reported as just used.
fn object_idletime(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[2]) {
        Some(_) => Reply::Int(0),
        None => Reply::Nil,
    }
}

/// With Redis's default maxmemory policy (not LFU), FREQ is always this error.
fn object_freq(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[2]) {
        Some(_) => Reply::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please \
             note that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust.",
        ),
        None => Reply::Nil,
    }
}

fn object_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    help_reply(
        args[0],
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    )
}

/// The layout of every Redis HELP subcommand: a header naming the command, the lines, and
/// the HELP entry itself.
pub(crate) fn help_reply(cmd: &[u8], lines: &[&'static str]) -> Reply {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::status(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(cmd).to_ascii_uppercase()
    )));
    out.extend(lines.iter().map(|l| Reply::status(*l)));
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// DBSIZE, KEYS, RANDOMKEY
// ---------------------------------------------------------------------------------------------

/// Keys in the current db, expired ones not yet deleted included (like Redis's dict size).
fn dbsize(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> Reply {
    Reply::Int(ctx.db().len() as i64)
}

/// KEYS skips expired keys without deleting them.
fn keys(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let pat = args[1];
    let all = pat == b"*";
    let now = ctx.now_ms;
    let loading = ctx.loading;
    let out: Vec<Reply> = ctx
        .db()
        .map
        .iter()
        .filter(|(k, e)| {
            (all || string_match(pat, k, false))
                && (loading || e.expire_ms == NO_EXPIRE || e.expire_ms >= now)
        })
        .map(|(k, _)| Reply::bulk(k))
        .collect();
    Reply::Array(out)
}

/// A key picked at random; an expired pick is deleted (lazy expiry) and another one drawn.
fn randomkey(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> Reply {
    loop {
        let n = ctx.db().len();
        if n == 0 {
            return Reply::Nil;
        }
        let pick = (random_u64() % n as u64) as usize;
        let Some(key) = ctx.db().map.keys().nth(pick).map(|k| k.to_vec()) else {
            return Reply::Nil;
        };
        if ctx.expire_if_needed(&key) {
            continue;
        }
        return Reply::Bulk(key);
    }
}

/// A random number from the standard library's per-process random hasher keys and a counter.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

// ---------------------------------------------------------------------------------------------
// Glob matching
// ---------------------------------------------------------------------------------------------

/// Redis's glob matching (`stringmatchlen`), quirks included: `*`, `?`, `[abc]`, `[^abc]`,
/// `[a-z]` (ends in either order, compared as signed chars like C), `\x` escapes inside and
/// outside brackets, an unclosed `[` running to the end of the pattern, and an empty subject
/// matching only the empty pattern. `nocase` folds ASCII letters.
///
/// Redis matches recursively and stops trying longer matches for an earlier `*` once a later
/// one has run out of subject; only the last `*` seen is ever retried, so this keeps just
/// that backtracking point and runs in constant stack whatever the pattern.
pub fn string_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    // Redis's patterns are NUL-terminated sds strings and the matcher peeks one byte past the
    // end in places; this reads that terminator.
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let fold = |c: i32| {
        if nocase && (b'A' as i32..=b'Z' as i32).contains(&c) {
            c + 32
        } else {
            c
        }
    };
    let plen = pat.len();
    let slen = s.len();
    let (mut p, mut i) = (0usize, 0usize);
    // After a `*`: where the rest of the pattern starts and the subject position tried last.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let ok = 'attempt: loop {
            if p >= plen || i >= slen {
                break 'attempt p == plen && i == slen;
            }
            match pat[p] {
                b'*' => {
                    while p < plen && at(p + 1) == b'*' {
                        p += 1;
                    }
                    if plen - p == 1 {
                        return true;
                    }
                    p += 1;
                    star = Some((p, i));
                    continue 'attempt;
                }
                b'?' => i += 1,
                b'[' => {
                    p += 1;
                    let not = at(p) == b'^';
                    if not {
                        p += 1;
                    }
                    let c = s[i];
                    let mut hit = false;
                    loop {
                        let rem = plen - p;
                        if at(p) == b'\\' && rem >= 2 {
                            p += 1;
                            if pat[p] == c {
                                hit = true;
                            }
                        } else if at(p) == b']' {
                            break;
                        } else if rem == 0 {
                            // Unclosed: step back so the outer advance lands on the end.
                            p -= 1;
                            break;
                        } else if rem >= 3 && at(p + 1) == b'-' {
                            let mut lo = fold(pat[p] as i8 as i32);
                            let mut hi = fold(pat[p + 2] as i8 as i32);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            let ch = fold(c as i8 as i32);
                            p += 2;
                            if (lo..=hi).contains(&ch) {
                                hit = true;
                            }
                        } else if fold(pat[p] as i32) == fold(c as i32) {
                            hit = true;
                        }
                        p += 1;
                    }
                    if hit == not {
                        break 'attempt false;
                    }
                    i += 1;
                }
                b => {
                    let mut b = b;
                    if b == b'\\' && plen - p >= 2 {
                        p += 1;
                        b = pat[p];
                    }
                    if fold(b as i32) != fold(s[i] as i32) {
                        break 'attempt false;
                    }
                    i += 1;
                }
            }
            p += 1;
            if i == slen {
                while at(p) == b'*' {
                    p += 1;
                }
                break 'attempt p == plen;
            }
        };
        if ok {
            return true;
        }
        // Retry the last `*` one subject byte further; a `*` never takes the whole rest.
        match star {
            Some((sp, si)) if si + 1 < slen => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct transcription of Redis's recursive algorithm, as the reference for the
    /// iterative matcher.
    fn reference(pat: &[u8], s: &[u8], nocase: bool) -> bool {
        fn go(pat: &[u8], mut p: usize, s: &[u8], mut i: usize, nc: bool, skip: &mut bool) -> bool {
            let at = |k: usize| pat.get(k).copied().unwrap_or(0);
            let low = |c: i32| {
                if nc && (65..=90).contains(&c) {
                    c + 32
                } else {
                    c
                }
            };
            let plen = pat.len();
            while p < plen && i < s.len() {
                match pat[p] {
                    b'*' => {
                        while p < plen && at(p + 1) == b'*' {
                            p += 1;
                        }
                        if plen - p == 1 {
                            return true;
                        }
                        while i < s.len() {
                            if go(pat, p + 1, s, i, nc, skip) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            i += 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => i += 1,
                    b'[' => {
                        p += 1;
                        let not = at(p) == b'^';
                        if not {
                            p += 1;
                        }
                        let mut m = false;
                        loop {
                            if at(p) == b'\\' && plen - p >= 2 {
                                p += 1;
                                if pat[p] == s[i] {
                                    m = true;
                                }
                            } else if at(p) == b']' {
                                break;
                            } else if plen == p {
                                p -= 1;
                                break;
                            } else if plen - p >= 3 && at(p + 1) == b'-' {
                                let (mut a, mut b) =
                                    (low(pat[p] as i8 as i32), low(pat[p + 2] as i8 as i32));
                                if a > b {
                                    std::mem::swap(&mut a, &mut b);
                                }
                                let c = low(s[i] as i8 as i32);
                                p += 2;
                                if c >= a && c <= b {
                                    m = true;
                                }
                            } else if low(pat[p] as i32) == low(s[i] as i32) {
                                m = true;
                            }
                            p += 1;
                        }
                        if not {
                            m = !m;
                        }
                        if !m {
                            return false;
                        }
                        i += 1;
                    }
                    c => {
                        let mut c = c;
                        if c == b'\\' && plen - p >= 2 {
                            p += 1;
                            c = pat[p];
                        }
                        if low(c as i32) != low(s[i] as i32) {
                            return false;
                        }
                        i += 1;
                    }
                }
                p += 1;
                if i == s.len() {
                    while at(p) == b'*' {
                        p += 1;
                    }
                    break;
                }
            }
            p == plen && i == s.len()
        }
        let mut skip = false;
        go(pat, 0, s, 0, nocase, &mut skip)
    }

    #[test]
    fn glob_known_redis_answers() {
        let m = |p: &str, s: &str| string_match(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", "abc"));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "ab"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range");
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("[\\]]", "]"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        // An empty subject only matches the empty pattern (KEYS "*" is special-cased).
        assert!(!m("*", ""));
        assert!(m("", ""));
        // Unclosed brackets run to the end of the pattern.
        assert!(m("[abc", "b"));
        assert!(!m("[", "a"));
        assert!(m("[^", "x"));
        // "[a-]" is the range ']'..='a' (ends swapped), and the ']' is used up by it.
        assert!(m("[a-]", "_"));
        assert!(!m("[a-]", "b"));
        assert!(m("*[a-]", "x_"));
        assert!(m("**a", "ba"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(!m("a*b*c", "aXbY"));
        // Signed chars: [a-\xff] is the range -1..='a'.
        assert!(string_match(b"[a-\xff]", b"\x01", false));
        assert!(!string_match(b"[a-\xff]", b"z", false));
        assert!(string_match(b"HELLO*", b"hello world", true));
        assert!(string_match(b"[A-C]x", b"bx", true));
    }

    #[test]
    fn glob_iterative_equals_recursive() {
        let alphabet = b"ab*?[]^-\\";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let pl = (next() % 8) as usize;
            let sl = (next() % 6) as usize;
            let pat: Vec<u8> = (0..pl)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let s: Vec<u8> = (0..sl).map(|_| b"ab]-*"[(next() % 5) as usize]).collect();
            let nc = next() % 4 == 0;
            assert_eq!(
                string_match(&pat, &s, nc),
                reference(&pat, &s, nc),
                "{:?} {:?}",
                String::from_utf8_lossy(&pat),
                String::from_utf8_lossy(&s)
            );
        }
    }

    #[test]
    fn glob_deep_patterns_do_not_recurse() {
        let pat: Vec<u8> = b"*a".repeat(100_000);
        let s = vec![b'a'; 100_000];
        assert!(string_match(&pat, &s, false));
        assert!(!string_match(&pat, &s[1..], false));
    }
}

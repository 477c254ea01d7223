//! String commands (Redis's `t_string.c`): SET and its variants, GET and its variants,
//! MGET/MSET, APPEND, SETRANGE/GETRANGE, STRLEN, INCR/DECR and INCRBYFLOAT, LCS.
//!
//! Values are `Value::Int` / `Emb` / `Raw` chosen like Redis (see `keyspace::string`): what
//! SET stores goes through `string_value`, in-place edits (APPEND on an existing key, SETRANGE)
//! leave `raw`, INCR leaves `int`, INCRBYFLOAT leaves `embstr`/`raw` text. Relative expiries,
//! GETSET, GETEX, GETDEL and INCRBYFLOAT are propagated as the deterministic commands Redis
//! 7.0 rewrites them to.

use std::borrow::Cow;

use super::util::{eq_ic, i64_bytes, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::string::{
    make_raw, raw_edit, raw_value, string_bytes, string_len, string_value, LongDouble,
};
use crate::keyspace::{Value, NO_EXPIRE};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("set", -3, WRITE | DENYOOM, (1, 1, 1), set_cmd),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex),
    CommandSpec::new("get", 2, READONLY | FAST, (1, 1, 1), get),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset),
    CommandSpec::new("getdel", 2, WRITE | FAST, (1, 1, 1), getdel),
    CommandSpec::new("getex", -2, WRITE | FAST, (1, 1, 1), getex),
    CommandSpec::new("mget", -2, READONLY | FAST, (1, -1, 1), mget),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange),
    CommandSpec::new("getrange", 4, READONLY, (1, 1, 1), getrange),
    CommandSpec::new("substr", 4, READONLY, (1, 1, 1), getrange),
    CommandSpec::new("strlen", 2, READONLY | FAST, (1, 1, 1), strlen),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby),
    CommandSpec::new(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        incrbyfloat,
    ),
    CommandSpec::new("lcs", -3, READONLY, (1, 2, 1), lcs),
];

/// The largest string a client may build (`proto-max-bulk-len`, 512 MB by default).
pub const PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

// Option flags of SET / GETEX, as parsed.
const NX: u32 = 1 << 0;
const XX: u32 = 1 << 1;
const EX: u32 = 1 << 2;
const PX: u32 = 1 << 3;
const KEEPTTL: u32 = 1 << 4;
const GET: u32 = 1 << 5;
const EXAT: u32 = 1 << 6;
const PXAT: u32 = 1 << 7;
const PERSIST: u32 = 1 << 8;
const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;

/// The value of `key` when it is a string: `Ok(None)` when missing, `Err(WRONGTYPE)` when of
/// another type.
fn get_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(v) => match string_bytes(v) {
            Some(b) => Ok(Some(b.into_owned())),
            None => Err(Reply::err(WRONGTYPE)),
        },
    }
}

/// Like [`get_string`] for a key that may be of another type (Redis's `checkType` reply).
fn string_or_wrongtype<'v>(v: &'v Value) -> Result<Cow<'v, [u8]>, Reply> {
    string_bytes(v).ok_or_else(|| Reply::err(WRONGTYPE))
}

fn expire_time_error(name: &str) -> Reply {
    Reply::err(format!("ERR invalid expire time in '{name}' command"))
}

/// Parse the options of SET (from argument 3) or GETEX (from argument 2), with Redis's
/// conflicts: each option is refused (syntax error) when a conflicting one came before it.
/// Returns the flags and the position of the expire value.
fn parse_options(args: &[&[u8]], for_set: bool) -> Result<(u32, Option<usize>), Reply> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = if for_set { 3 } else { 2 };
    while j < args.len() {
        let opt = args[j];
        let has_next = j + 1 < args.len();
        let none_of = |mask: u32| flags & mask == 0;
        if for_set && eq_ic(opt, "NX") && none_of(XX) {
            flags |= NX;
        } else if for_set && eq_ic(opt, "XX") && none_of(NX) {
            flags |= XX;
        } else if for_set && eq_ic(opt, "GET") {
            flags |= GET;
        } else if for_set && eq_ic(opt, "KEEPTTL") && none_of(PERSIST | ANY_EXPIRE) {
            flags |= KEEPTTL;
        } else if !for_set && eq_ic(opt, "PERSIST") && none_of(ANY_EXPIRE | KEEPTTL) {
            flags |= PERSIST;
        } else if eq_ic(opt, "EX") && none_of(KEEPTTL | PERSIST | EXAT | PX | PXAT) && has_next {
            flags |= EX;
            expire = Some(j + 1);
            j += 1;
        } else if eq_ic(opt, "PX") && none_of(KEEPTTL | PERSIST | EX | EXAT | PXAT) && has_next {
            flags |= PX;
            expire = Some(j + 1);
            j += 1;
        } else if eq_ic(opt, "EXAT") && none_of(KEEPTTL | PERSIST | EX | PX | PXAT) && has_next {
            flags |= EXAT;
            expire = Some(j + 1);
            j += 1;
        } else if eq_ic(opt, "PXAT") && none_of(KEEPTTL | PERSIST | EX | EXAT | PX) && has_next {
            flags |= PXAT;
            expire = Some(j + 1);
            j += 1;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        j += 1;
    }
    Ok((flags, expire))
}

/// The absolute expiry in ms for an expire argument (Redis's `getExpireMillisecondsOrReply`):
/// positive, seconds scaled without overflow, relative ones (EX/PX) added to the clock.
fn expire_at(ctx: &Ctx<'_>, arg: &[u8], flags: u32, name: &str) -> Result<i64, Reply> {
    let Some(mut ms) = parse_i64(arg) else {
        return Err(Reply::err(NOT_INTEGER));
    };
    let seconds = flags & (EX | EXAT) != 0;
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(expire_time_error(name));
    }
    if seconds {
        ms *= 1000;
    }
    if flags & (EX | PX) != 0 {
        // Redis adds in signed arithmetic and detects the wrap as a non-positive result.
        ms = ms.wrapping_add(ctx.now_ms);
    }
    if ms <= 0 {
        return Err(expire_time_error(name));
    }
    Ok(ms)
}

fn set_cmd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (flags, expire) = match parse_options(args, true) {
        Ok(x) => x,
        Err(e) => return e,
    };
    set_generic(ctx, args, flags, args[1], args[2], expire, "set", None)
}

fn setnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    set_generic(
        ctx,
        args,
        NX,
        args[1],
        args[2],
        None,
        "setnx",
        Some((Reply::Int(1), Reply::Int(0))),
    )
}

fn setex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    set_generic(ctx, args, EX, args[1], args[3], Some(2), "setex", None)
}

fn psetex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    set_generic(ctx, args, PX, args[1], args[3], Some(2), "psetex", None)
}

/// SET and its variants (Redis's `setGenericCommand`). `replies` are the (done, not done)
/// replies when they are not OK / nil.
#[allow(clippy::too_many_arguments)]
fn set_generic(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    flags: u32,
    key: &[u8],
    val: &[u8],
    expire: Option<usize>,
    name: &str,
    replies: Option<(Reply, Reply)>,
) -> Reply {
    let when = match expire {
        Some(pos) => match expire_at(ctx, args[pos], flags, name) {
            Ok(ms) => Some(ms),
            Err(e) => return e,
        },
        None => None,
    };
    let mut old_reply = Reply::Nil;
    if flags & GET != 0 {
        match get_string(ctx, key) {
            Ok(Some(b)) => old_reply = Reply::Bulk(b),
            Ok(None) => {}
            Err(e) => return e,
        }
    }
    let found = ctx.exists(key);
    if (flags & NX != 0 && found) || (flags & XX != 0 && !found) {
        if flags & GET != 0 {
            return old_reply;
        }
        return replies.map_or(Reply::Nil, |r| r.1);
    }
    let value = string_value(val);
    let db = ctx.db();
    if flags & KEEPTTL != 0 {
        db.set_keep_ttl(key, value);
    } else {
        db.set(key, value);
    }
    ctx.dirty(1);
    if let Some(ms) = when {
        ctx.db().set_expire(key, ms);
        // Any expiry goes out as an absolute PXAT, whatever the form given.
        ctx.propagate(vec![
            b"SET".to_vec(),
            key.to_vec(),
            val.to_vec(),
            b"PXAT".to_vec(),
            i64_bytes(ms),
        ]);
    } else if flags & GET != 0 && ctx.propagating {
        // Propagated without its GET option(s); the key and value are never dropped.
        let argv = args
            .iter()
            .enumerate()
            .filter(|(j, a)| *j < 3 || !eq_ic(a, "GET"))
            .map(|(_, a)| a.to_vec())
            .collect();
        ctx.propagate(argv);
    }
    if flags & GET != 0 {
        return old_reply;
    }
    replies.map_or(Reply::Ok, |r| r.0)
}

fn get(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match get_string(ctx, args[1]) {
        Ok(Some(b)) => Reply::Bulk(b),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

fn getset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let old = match get_string(ctx, args[1]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    ctx.db().set(args[1], string_value(args[2]));
    ctx.dirty(1);
    ctx.propagate(vec![b"SET".to_vec(), args[1].to_vec(), args[2].to_vec()]);
    old.map_or(Reply::Nil, Reply::Bulk)
}

fn getdel(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let old = match get_string(ctx, args[1]) {
        Ok(Some(o)) => o,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    ctx.db().remove(args[1]);
    ctx.dirty(1);
    ctx.propagate(vec![b"DEL".to_vec(), args[1].to_vec()]);
    Reply::Bulk(old)
}

fn getex(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (flags, expire) = match parse_options(args, false) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let key = args[1];
    let val = match get_string(ctx, key) {
        Ok(Some(v)) => v,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    // The expire value is checked only once the key is known to exist.
    let when = match expire {
        Some(pos) => match expire_at(ctx, args[pos], flags, "getex") {
            Ok(ms) => Some(ms),
            Err(e) => return e,
        },
        None => None,
    };
    match when {
        Some(ms) if flags & (EXAT | PXAT) != 0 && ctx.already_expired(ms) => {
            ctx.db().remove(key);
            ctx.dirty(1);
            ctx.propagate(vec![b"DEL".to_vec(), key.to_vec()]);
        }
        Some(ms) => {
            ctx.db().set_expire(key, ms);
            ctx.dirty(1);
            ctx.propagate(vec![b"PEXPIREAT".to_vec(), key.to_vec(), i64_bytes(ms)]);
        }
        None if flags & PERSIST != 0 => {
            let had_ttl = ctx.db().get(key).is_some_and(|e| e.expire().is_some());
            if had_ttl {
                ctx.db().set_expire(key, NO_EXPIRE);
                ctx.dirty(1);
                ctx.propagate(vec![b"PERSIST".to_vec(), key.to_vec()]);
            }
        }
        None => {}
    }
    Reply::Bulk(val)
}

fn mget(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut out = Vec::with_capacity(args.len() - 1);
    for key in &args[1..] {
        let r = match ctx.lookup_value(key).and_then(|v| string_bytes(v)) {
            Some(b) => Reply::Bulk(b.into_owned()),
            None => Reply::Nil,
        };
        out.push(r);
    }
    Reply::Array(out)
}

fn mset_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], nx: bool, name: &str) -> Reply {
    if args.len().is_multiple_of(2) {
        return Reply::err(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    if nx {
        for pair in args[1..].chunks(2) {
            if ctx.exists(pair[0]) {
                return Reply::Int(0);
            }
        }
    }
    for pair in args[1..].chunks(2) {
        // Redis's setKey looks each key up (expiring it) before replacing it.
        ctx.expire_if_needed(pair[0]);
        ctx.db().set(pair[0], string_value(pair[1]));
    }
    ctx.dirty((args.len() as u64 - 1) / 2);
    if nx {
        Reply::Int(1)
    } else {
        Reply::Ok
    }
}

fn mset(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    mset_generic(ctx, args, false, "mset")
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    mset_generic(ctx, args, true, "msetnx")
}

/// Would a string of `size + append` bytes pass the size limit? (Redis's
/// `checkStringLength`; replayed files are trusted in Redis, see the module notes.)
fn check_string_length(size: u64, append: u64) -> Result<(), Reply> {
    match size.checked_add(append) {
        Some(total) if total <= PROTO_MAX_BULK_LEN => Ok(()),
        _ => Err(Reply::err(STRING_TOO_LONG)),
    }
}

fn append(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (key, add) = (args[1], args[2]);
    let total = match ctx.lookup_value(key) {
        None => {
            ctx.db().set(key, string_value(add));
            add.len()
        }
        Some(v) => {
            let Some(len) = string_len(v) else {
                return Reply::err(WRONGTYPE);
            };
            if let Err(e) = check_string_length(len as u64, add.len() as u64) {
                return e;
            }
            make_raw(v);
            raw_edit(v, |b| {
                b.extend_from_slice(add);
                b.len()
            })
            .unwrap_or(0)
        }
    };
    ctx.dirty(1);
    Reply::Int(total as i64)
}

fn setrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (key, value) = (args[1], args[3]);
    let Some(offset) = parse_i64(args[2]) else {
        return Reply::err(NOT_INTEGER);
    };
    if offset < 0 {
        return Reply::err("ERR offset is out of range");
    }
    let offset = offset as u64;
    match ctx.lookup_value(key) {
        None => {
            if value.is_empty() {
                return Reply::Int(0);
            }
            if let Err(e) = check_string_length(offset, value.len() as u64) {
                return e;
            }
            // Bounded by the check above.
            let mut b = vec![0u8; offset as usize + value.len()];
            b[offset as usize..].copy_from_slice(value);
            let len = b.len();
            ctx.db().set(key, raw_value(b));
            ctx.dirty(1);
            Reply::Int(len as i64)
        }
        Some(v) => {
            let Some(olen) = string_len(v) else {
                return Reply::err(WRONGTYPE);
            };
            if value.is_empty() {
                return Reply::Int(olen as i64);
            }
            if let Err(e) = check_string_length(offset, value.len() as u64) {
                return e;
            }
            make_raw(v);
            let off = offset as usize;
            let len = raw_edit(v, |b| {
                if b.len() < off + value.len() {
                    b.resize(off + value.len(), 0);
                }
                b[off..off + value.len()].copy_from_slice(value);
                b.len()
            })
            .unwrap_or(0);
            ctx.dirty(1);
            Reply::Int(len as i64)
        }
    }
}

/// Redis's clamping of a `start..=end` byte range over a string of `len` bytes (GETRANGE):
/// `None` for an empty result.
fn clamp_range(mut start: i64, mut end: i64, len: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start = start.saturating_add(len);
    }
    if end < 0 {
        end = end.saturating_add(len);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (Some(start), Some(end)) = (parse_i64(args[2]), parse_i64(args[3])) else {
        return Reply::err(NOT_INTEGER);
    };
    let Some(v) = ctx.lookup_value(args[1]) else {
        return Reply::Bulk(Vec::new());
    };
    let s = match string_or_wrongtype(v) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match clamp_range(start, end, s.len() as i64) {
        Some((a, b)) => Reply::Bulk(s[a..=b].to_vec()),
        None => Reply::Bulk(Vec::new()),
    }
}

fn strlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[1]) {
        None => Reply::Int(0),
        Some(v) => match string_len(v) {
            Some(n) => Reply::Int(n as i64),
            None => Reply::err(WRONGTYPE),
        },
    }
}

fn incr_decr(ctx: &mut Ctx<'_>, key: &[u8], incr: i64) -> Reply {
    let old = match ctx.lookup_value(key) {
        None => 0,
        Some(Value::Int(i)) => *i,
        Some(v) => match string_bytes(v) {
            None => return Reply::err(WRONGTYPE),
            Some(b) => match parse_i64(&b) {
                Some(i) => i,
                None => return Reply::err(NOT_INTEGER),
            },
        },
    };
    let Some(new) = old.checked_add(incr) else {
        return Reply::err(super::util::OVERFLOW);
    };
    // The new integer replaces the value; an existing key keeps its expiry.
    ctx.db().set_keep_ttl(key, Value::Int(new));
    ctx.dirty(1);
    Reply::Int(new)
}

fn incr(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    incr_decr(ctx, args[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    incr_decr(ctx, args[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match parse_i64(args[2]) {
        Some(n) => incr_decr(ctx, args[1], n),
        None => Reply::err(NOT_INTEGER),
    }
}

fn decrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match parse_i64(args[2]) {
        Some(i64::MIN) => Reply::err("ERR decrement would overflow"),
        Some(n) => incr_decr(ctx, args[1], -n),
        None => Reply::err(NOT_INTEGER),
    }
}

const NOT_FLOAT: &str = "ERR value is not a valid float";

fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let key = args[1];
    let current = match ctx.lookup_value(key) {
        None => LongDouble::from_i64(0),
        Some(Value::Int(i)) => LongDouble::from_i64(*i),
        Some(v) => match string_bytes(v) {
            None => return Reply::err(WRONGTYPE),
            Some(b) => match LongDouble::parse(&b) {
                Some(x) => x,
                None => return Reply::err(NOT_FLOAT),
            },
        },
    };
    let Some(incr) = LongDouble::parse(args[2]) else {
        return Reply::err(NOT_FLOAT);
    };
    let Some(sum) = current.checked_add(incr) else {
        return Reply::err("ERR increment would produce NaN or Infinity");
    };
    let text = sum.to_human();
    // Stored as text created whole: embstr or raw, never int.
    let value = if text.len() <= crate::keyspace::string::EMBSTR_MAX {
        Value::Emb(crate::keyspace::SStr::new(&text))
    } else {
        raw_value(text.clone())
    };
    ctx.db().set_keep_ttl(key, value);
    ctx.dirty(1);
    ctx.propagate(vec![
        b"SET".to_vec(),
        key.to_vec(),
        text.clone(),
        b"KEEPTTL".to_vec(),
    ]);
    Reply::Bulk(text)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let a = ctx
        .lookup_value(args[1])
        .map(|v| string_bytes(v).map(Cow::into_owned));
    let b = ctx
        .lookup_value(args[2])
        .map(|v| string_bytes(v).map(Cow::into_owned));
    let (a, b) = match (a, b) {
        (Some(None), _) | (_, Some(None)) => {
            return Reply::err("ERR The specified keys must contain string values")
        }
        (a, b) => (
            a.flatten().unwrap_or_default(),
            b.flatten().unwrap_or_default(),
        ),
    };
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args[j];
        let more = args.len() - j - 1;
        if eq_ic(opt, "IDX") {
            getidx = true;
        } else if eq_ic(opt, "LEN") {
            getlen = true;
        } else if eq_ic(opt, "WITHMATCHLEN") {
            withmatchlen = true;
        } else if eq_ic(opt, "MINMATCHLEN") && more >= 1 {
            match parse_i64(args[j + 1]) {
                Some(n) => minmatchlen = n.max(0),
                None => return Reply::err(NOT_INTEGER),
            }
            j += 1;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Reply::err("ERR If you want both the length and indexes, please just use IDX.");
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Reply::err("ERR String too long for LCS");
    }
    // The dynamic-programming table: (|a|+1) x (|b|+1) lengths. Refuse what cannot be
    // allocated rather than abort.
    let (alen, blen) = (a.len(), b.len());
    let Some(cells) = (alen + 1).checked_mul(blen + 1) else {
        return Reply::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    };
    if cells.saturating_mul(4) as u64 > PROTO_MAX_BULK_LEN {
        return Reply::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells];
    for i in 1..=alen {
        for k in 1..=blen {
            dp[i * w + k] = if a[i - 1] == b[k - 1] {
                dp[(i - 1) * w + k - 1] + 1
            } else {
                dp[(i - 1) * w + k].max(dp[i * w + k - 1])
            };
        }
    }
    let idx = dp[alen * w + blen] as usize;
    if getlen {
        return Reply::Int(idx as i64);
    }
    // Walk back from the end collecting the common string and, for IDX, the matched ranges
    // (reported from the end of the strings towards the start, as Redis does).
    let mut result = vec![0u8; idx];
    let mut fill = idx;
    let mut matches = Vec::new();
    let (mut i, mut k) = (alen, blen);
    // The range being tracked: (a start, a end, b start, b end).
    let mut range: Option<(usize, usize, usize, usize)> = None;
    while i > 0 && k > 0 {
        let mut emit = false;
        if a[i - 1] == b[k - 1] {
            fill -= 1;
            result[fill] = a[i - 1];
            match range {
                None => range = Some((i - 1, i - 1, k - 1, k - 1)),
                Some((sa, ea, sb, eb)) if sa == i && sb == k => {
                    range = Some((sa - 1, ea, sb - 1, eb));
                }
                Some(_) => emit = true,
            }
            if range.is_some_and(|(sa, _, sb, _)| sa == 0 || sb == 0) {
                emit = true;
            }
            i -= 1;
            k -= 1;
        } else {
            if dp[(i - 1) * w + k] > dp[i * w + k - 1] {
                i -= 1;
            } else {
                k -= 1;
            }
            emit |= range.is_some();
        }
        if emit {
            if let Some((sa, ea, sb, eb)) = range.take() {
                let mlen = (ea - sa + 1) as i64;
                if getidx && mlen >= minmatchlen {
                    let mut m = vec![
                        Reply::Array(vec![Reply::Int(sa as i64), Reply::Int(ea as i64)]),
                        Reply::Array(vec![Reply::Int(sb as i64), Reply::Int(eb as i64)]),
                    ];
                    if withmatchlen {
                        m.push(Reply::Int(mlen));
                    }
                    matches.push(Reply::Array(m));
                }
            }
        }
    }
    if getidx {
        Reply::Array(vec![
            Reply::bulk(b"matches"),
            Reply::Array(matches),
            Reply::bulk(b"len"),
            Reply::Int(idx as i64),
        ])
    } else {
        Reply::Bulk(result)
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::{Executor, Session};
    use crate::keyspace::Keyspace;

    const NOW: i64 = 1_000_000;

    fn ex() -> (Executor, Session) {
        let mut ex = Executor::new(Keyspace::default());
        ex.propagating = true;
        ex.clock_ms = Some(NOW);
        (ex, Session::default())
    }

    /// Run `cmd` and return what it propagated (as space-joined text).
    fn prop(ex: &mut Executor, s: &mut Session, cmd: &str) -> Vec<String> {
        ex.propagated.clear();
        let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
        ex.execute(s, &args);
        ex.propagated
            .iter()
            .map(|p| {
                p.argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// What Redis 7.0.15 propagates (read from t_string.c and checked in a real server's AOF).
    #[test]
    fn propagation_matches_redis() {
        let (mut e, mut s) = ex();
        let cases: &[(&str, &[&str])] = &[
            ("SET a 1", &["SET a 1"]),
            ("SET a 2 EX 10", &["SET a 2 PXAT 1010000"]),
            ("SET a 2 px 5 NX", &[]),
            ("SET a 3 px 5 XX", &["SET a 3 PXAT 1000005"]),
            ("SET a 4 EXAT 2000", &["SET a 4 PXAT 2000000"]),
            ("SET a 5 PXAT 2000000", &["SET a 5 PXAT 2000000"]),
            ("SET a 6 get NX get", &[]),
            ("SET a 6 get XX GET", &["SET a 6 XX"]),
            ("SET a 7 KEEPTTL", &["SET a 7 KEEPTTL"]),
            ("SET a 8 GET EX 10", &["SET a 8 PXAT 1010000"]),
            ("SETEX b 10 v", &["SET b v PXAT 1010000"]),
            ("PSETEX b 10 v", &["SET b v PXAT 1000010"]),
            ("SETEX b 0 v", &[]),
            ("SETNX b v", &[]),
            ("SETNX c v", &["SETNX c v"]),
            ("GETSET c w", &["SET c w"]),
            ("GETDEL c", &["DEL c"]),
            ("GETDEL c", &[]),
            ("GETEX b", &[]),
            ("GETEX b PERSIST", &["PERSIST b"]),
            ("GETEX b PERSIST", &[]),
            ("GETEX b EX 10", &["PEXPIREAT b 1010000"]),
            ("GETEX b PX 10", &["PEXPIREAT b 1000010"]),
            ("GETEX b EXAT 5000", &["PEXPIREAT b 5000000"]),
            ("GETEX b PXAT 5000", &["DEL b"]),
            ("GETEX b PXAT 5000", &[]),
            ("INCRBYFLOAT f 1.5", &["SET f 1.5 KEEPTTL"]),
            ("INCRBYFLOAT f abc", &[]),
            ("INCR i", &["INCR i"]),
            ("INCRBY i 9223372036854775807", &[]),
            ("DECRBY i 5", &["DECRBY i 5"]),
            ("APPEND i x", &["APPEND i x"]),
            ("APPEND i ", &["APPEND i "]),
            ("SETRANGE i 0 ", &[]),
            ("SETRANGE i 1 zz", &["SETRANGE i 1 zz"]),
            ("MSET m1 1 m2 2", &["MSET m1 1 m2 2"]),
            ("MSETNX m1 1 m3 2", &[]),
            ("MSETNX m3 1 m4 2", &["MSETNX m3 1 m4 2"]),
            ("SETBIT g 0 0", &["SETBIT g 0 0"]),
            ("SETBIT g 0 0", &[]),
            ("SETBIT g 0 1", &["SETBIT g 0 1"]),
            ("BITFIELD h OVERFLOW FAIL INCRBY u8 0 300", &[]),
            ("BITFIELD h GET u8 0 SET u8 0 0", &[]),
            ("BITFIELD h SET u8 0 7", &["BITFIELD h SET u8 0 7"]),
            ("BITOP AND h2 nosuch", &[]),
            ("BITOP AND h nosuch", &["BITOP AND h nosuch"]),
            ("BITOP OR h2 g", &["BITOP OR h2 g"]),
            ("GET g", &[]),
        ];
        for (cmd, want) in cases {
            let got = prop(&mut e, &mut s, cmd);
            assert_eq!(got, *want, "{cmd}");
        }
        // A huge sum is propagated as its full decimal expansion (glibc prints the same 401
        // digits for 1.5 + 1e400 in long double).
        let got = prop(&mut e, &mut s, "INCRBYFLOAT f 1e400");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("SET f 100000000000000000002818806839475865145864534336290520"));
        assert!(got[0].ends_with(" KEEPTTL"));
        assert_eq!(got[0].len(), "SET f ".len() + 401 + " KEEPTTL".len());
    }

    #[test]
    fn expired_keys_propagate_del_first() {
        let (mut e, mut s) = ex();
        prop(&mut e, &mut s, "SET k v PXAT 500000");
        prop(&mut e, &mut s, "SET j v PXAT 500000");
        assert_eq!(
            prop(&mut e, &mut s, "MSET k 1 x 2"),
            ["MULTI", "DEL k", "MSET k 1 x 2", "EXEC"]
        );
        assert_eq!(
            prop(&mut e, &mut s, "SET j 1 GET"),
            ["MULTI", "DEL j", "SET j 1", "EXEC"]
        );
        prop(&mut e, &mut s, "SET d v PXAT 500000");
        assert_eq!(
            prop(&mut e, &mut s, "BITOP OR d j"),
            ["MULTI", "DEL d", "BITOP OR d j", "EXEC"]
        );
    }

    #[test]
    fn loading_keeps_past_expiries() {
        let (mut e, mut s) = ex();
        e.loading = true;
        prop(&mut e, &mut s, "SET k v");
        assert!(prop(&mut e, &mut s, "GETEX k PXAT 5").len() == 1);
        assert_eq!(e.ks.dbs[0].get(b"k").and_then(|x| x.expire()), Some(5));
    }
}

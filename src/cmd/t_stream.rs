//! Stream commands (Redis 7.0's `t_stream.c`): XADD, XDEL, XTRIM, XRANGE, XREVRANGE, XLEN,
//! XREAD, XREADGROUP, XGROUP, XACK, XCLAIM, XAUTOCLAIM, XPENDING, XSETID, XINFO.
//!
//! Replies, errors and their order follow Redis. BLOCK never blocks here: a read that finds
//! nothing answers as a timed-out one (what Redis does inside MULTI). Propagation follows
//! Redis's rewrites: XADD with the id it generated and `~` trims as exact ones, XREADGROUP and
//! XCLAIM/XAUTOCLAIM as one idempotent XCLAIM per pending entry touched (plus XGROUP SETID /
//! CREATECONSUMER where Redis emits them).

use super::util::{eq_ic, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::sstr::SStr;
use crate::keyspace::stream::{
    id_bytes, id_decr, id_incr, AppendError, Consumer, Group, Nack, Stream, StreamId, TrimArgs,
    TrimStrategy, ENTRIES_READ_INVALID, ID_MAX, ID_MIN,
};
use crate::keyspace::{Entry, Value};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, (1, 1, 1), xadd),
    CommandSpec::new("xdel", -3, WRITE | FAST, (1, 1, 1), xdel),
    CommandSpec::new("xtrim", -4, WRITE, (1, 1, 1), xtrim),
    CommandSpec::new("xrange", -4, READONLY, (1, 1, 1), xrange),
    CommandSpec::new("xrevrange", -4, READONLY, (1, 1, 1), xrevrange),
    CommandSpec::new("xlen", 2, READONLY | FAST, (1, 1, 1), xlen),
    CommandSpec::new("xread", -4, READONLY | BLOCKING, (0, 0, 0), xread),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING, (0, 0, 0), xread),
    CommandSpec::new("xack", -4, WRITE | FAST, (1, 1, 1), xack),
    CommandSpec::new("xclaim", -6, WRITE | FAST, (1, 1, 1), xclaim),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, (1, 1, 1), xautoclaim),
    CommandSpec::new("xpending", -3, READONLY, (1, 1, 1), xpending),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, (1, 1, 1), xsetid),
    CommandSpec::container("xgroup", -2, 0, XGROUP_SUBCOMMANDS),
    CommandSpec::container("xinfo", -2, 0, XINFO_SUBCOMMANDS),
];

const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, WRITE | DENYOOM, (2, 2, 1), xgroup),
    CommandSpec::new("setid", -5, WRITE, (2, 2, 1), xgroup),
    CommandSpec::new("destroy", 4, WRITE, (2, 2, 1), xgroup),
    CommandSpec::new("createconsumer", 5, WRITE | DENYOOM, (2, 2, 1), xgroup),
    CommandSpec::new("delconsumer", 5, WRITE, (2, 2, 1), xgroup),
    CommandSpec::new("help", 2, LOADING | STALE, (0, 0, 0), xgroup),
];

const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("stream", -3, READONLY, (2, 2, 1), xinfo),
    CommandSpec::new("groups", 3, READONLY, (2, 2, 1), xinfo),
    CommandSpec::new("consumers", 4, READONLY, (2, 2, 1), xinfo),
    CommandSpec::new("help", 2, LOADING | STALE, (0, 0, 0), xinfo),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

/// What C string functions see of an argument: the bytes before the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// An argument shown in an error with `%s`.
fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(c_str(b)).into_owned()
}

/// Redis's `string2ull`: a canonical integer (not negative), else whatever `strtoull` accepts
/// whole (leading spaces, a sign, leading zeros; a minus sign wraps).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = i;
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add(u64::from(s[i] - b'0'))?;
        i += 1;
    }
    if i == digits || i != s.len() {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's `streamGenericParseIDOrReply`. `strict` refuses `-` and `+`; with `seq_star` the
/// `ms-*` form is accepted and reported as `(id, false)`.
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Option<(StreamId, bool)> {
    if arg.len() > 127 {
        return None;
    }
    let s = c_str(arg);
    if s == b"-" || s == b"+" {
        if strict {
            return None;
        }
        return Some((if s == b"-" { ID_MIN } else { ID_MAX }, true));
    }
    let (ms_part, seq_part) = match s.iter().position(|&c| c == b'-') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let ms = string2ull(ms_part)?;
    match seq_part {
        None => Some((
            StreamId {
                ms,
                seq: missing_seq,
            },
            true,
        )),
        Some(b"*") if seq_star => Some((StreamId { ms, seq: 0 }, false)),
        Some(p) => Some((
            StreamId {
                ms,
                seq: string2ull(p)?,
            },
            true,
        )),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(arg, missing_seq, false, false)
        .map(|x| x.0)
        .ok_or_else(|| Reply::err(INVALID_ID))
}

fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(arg, missing_seq, true, false)
        .map(|x| x.0)
        .ok_or_else(|| Reply::err(INVALID_ID))
}

/// A range bound: `(` makes it exclusive (then `-`/`+` are refused).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Reply> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// The range start and end of XRANGE/XPENDING, exclusive bounds moved inwards.
fn parse_range(start: &[u8], end: &[u8]) -> Result<(StreamId, StreamId), Reply> {
    let (mut s, sx) = parse_interval(start, 0)?;
    if sx {
        s = id_incr(s).ok_or_else(|| Reply::err("ERR invalid start ID for the interval"))?;
    }
    let (mut e, ex) = parse_interval(end, u64::MAX)?;
    if ex {
        e = id_decr(e).ok_or_else(|| Reply::err("ERR invalid end ID for the interval"))?;
    }
    Ok((s, e))
}

fn ll(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::err(NOT_INTEGER))
}

fn ll_msg(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::err(format!("ERR {msg}")))
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id_bytes(id))
}

fn entry_reply(id: StreamId, fv: Vec<Vec<u8>>) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(fv.into_iter().map(Reply::Bulk).collect()),
    ])
}

fn subcommand_syntax(args: &[&[u8]]) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&c_str(args[1])[..c_str(args[1]).len().min(128)]),
        String::from_utf8_lossy(args[0]).to_ascii_uppercase()
    ))
}

fn help_reply(cmd: &[u8], lines: &[&str]) -> Reply {
    let mut out = vec![Reply::status(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(cmd).to_ascii_uppercase()
    ))];
    out.extend(lines.iter().map(|l| Reply::status(l.to_string())));
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}

/// The stream at `key`: `Ok(None)` when missing, an error for another type.
fn stream_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut Stream>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::err(WRONGTYPE)),
    }
}

fn bulk_args(v: &[&[u8]]) -> Vec<Vec<u8>> {
    v.iter().map(|a| a.to_vec()).collect()
}

/// The idempotent XCLAIM Redis propagates for a pending entry created or changed.
fn xclaim_argv(
    key: &[u8],
    group: &[u8],
    id_arg: &[u8],
    nack: &Nack,
    last: StreamId,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        nack.consumer.to_vec(),
        b"0".to_vec(),
        id_arg.to_vec(),
        b"TIME".to_vec(),
        nack.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        id_bytes(last),
    ]
}

fn setid_argv(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        id_bytes(g.last_id),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

// ---------------------------------------------------------------------------------------------
// XADD / XTRIM
// ---------------------------------------------------------------------------------------------

struct AddTrim {
    trim: TrimArgs,
    /// Index of the MAXLEN/MINID value (for the propagation rewrite).
    trim_arg: usize,
    id: Option<(StreamId, bool)>,
    nomkstream: bool,
    /// Index of the id argument (XADD).
    id_pos: usize,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(
    args: &[&[u8]],
    xadd: bool,
    obey: bool,
    node_entries: usize,
) -> Result<AddTrim, Reply> {
    let mut a = AddTrim {
        trim: TrimArgs {
            strategy: TrimStrategy::None,
            approx: false,
            limit: 0,
        },
        trim_arg: 0,
        id: None,
        nomkstream: false,
        id_pos: args.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && c_str(opt) == b"*" {
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            let maxlen = eq_ic(opt, "maxlen");
            if a.trim.strategy != TrimStrategy::None {
                return Err(Reply::err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.trim.approx = false;
            let next = c_str(args[i + 1]);
            if more >= 2 && next == b"~" {
                a.trim.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if maxlen {
                let n = ll(args[i + 1])?;
                if n < 0 {
                    return Err(Reply::err("ERR The MAXLEN argument must be >= 0."));
                }
                a.trim.strategy = TrimStrategy::MaxLen(n as u64);
            } else {
                a.trim.strategy = TrimStrategy::MinId(parse_strict_id(args[i + 1], 0)?);
            }
            i += 1;
            a.trim_arg = i;
        } else if eq_ic(opt, "limit") && more > 0 {
            let n = ll(args[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR The LIMIT argument must be >= 0."));
            }
            a.trim.limit = n;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            let id = parse_id_full(opt, 0, true, true).ok_or_else(|| Reply::err(INVALID_ID))?;
            a.id = Some(id);
            break;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 1;
    }
    a.id_pos = i;
    if a.trim.limit != 0 && a.trim.strategy == TrimStrategy::None {
        return Err(Reply::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.strategy == TrimStrategy::None {
        return Err(Reply::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if obey {
        a.trim.limit = 0;
    } else if limit_given {
        if !a.trim.approx {
            return Err(Reply::err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.trim.approx {
        let mut l = 100i64.saturating_mul(node_entries as i64);
        if l <= 0 {
            l = 10000;
        }
        a.trim.limit = l.min(1_000_000);
    } else {
        a.trim.limit = 0;
    }
    Ok(a)
}

/// The argument vector with a `~` trim rewritten as the exact trim it turned out to be.
fn rewrite_trim(argv: &mut [Vec<u8>], s: &Stream, a: &AddTrim) {
    argv[a.trim_arg - 1] = b"=".to_vec();
    argv[a.trim_arg] = match a.trim.strategy {
        TrimStrategy::MaxLen(_) => s.length.to_string().into_bytes(),
        _ => id_bytes(s.edge_id(true, false)),
    };
}

fn xadd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let cfg = ctx.config().clone();
    let now = ctx.now_ms;
    let a = match parse_add_trim(args, true, ctx.loading, cfg.stream_node_max_entries) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let field_pos = a.id_pos + 1;
    let nf = args.len().saturating_sub(field_pos);
    if field_pos > args.len() || nf < 2 || nf % 2 == 1 {
        return Reply::err("ERR wrong number of arguments for 'xadd' command");
    }
    if let Some((id, true)) = a.id {
        if id == ID_MIN {
            return Reply::err("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let key = args[1];
    let exists = match ctx.lookup_value(key) {
        None => false,
        Some(Value::Stream(_)) => true,
        Some(_) => return Reply::err(WRONGTYPE),
    };
    if !exists {
        if a.nomkstream {
            return Reply::Nil;
        }
        ctx.db()
            .insert(key, Entry::new(Value::Stream(Box::new(Stream::new()))));
    }
    let Ok(Some(s)) = stream_mut(ctx, key) else {
        return Reply::err(WRONGTYPE);
    };
    if s.last_id == ID_MAX {
        return Reply::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        );
    }
    let id =
        match s.append(&args[field_pos..], a.id, now, &cfg) {
            Ok(id) => id,
            Err(AppendError::IdTooSmall) => return Reply::err(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            ),
            Err(AppendError::TooLarge | AppendError::SeqExhausted) => {
                return Reply::err("ERR Elements are too large to be stored")
            }
        };
    let mut argv: Option<Vec<Vec<u8>>> = None;
    if a.trim.strategy != TrimStrategy::None {
        s.trim(&a.trim);
        if a.trim.approx {
            let v = argv.get_or_insert_with(|| bulk_args(args));
            rewrite_trim(v, s, &a);
        }
    }
    if !matches!(a.id, Some((_, true))) {
        let v = argv.get_or_insert_with(|| bulk_args(args));
        v[a.id_pos] = id_bytes(id);
    }
    ctx.dirty(1);
    if let Some(v) = argv {
        ctx.propagate(v);
    }
    id_reply(id)
}

fn xtrim(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let node_entries = ctx.config().stream_node_max_entries;
    let a = match parse_add_trim(args, false, ctx.loading, node_entries) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let s = match stream_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(s)) => s,
    };
    let deleted = s.trim(&a.trim);
    if deleted > 0 {
        let mut argv = None;
        if a.trim.approx {
            let mut v = bulk_args(args);
            rewrite_trim(&mut v, s, &a);
            argv = Some(v);
        }
        ctx.dirty(deleted);
        if let Some(v) = argv {
            ctx.propagate(v);
        }
    }
    Reply::Int(deleted as i64)
}

// ---------------------------------------------------------------------------------------------
// XDEL, XRANGE, XREVRANGE, XLEN
// ---------------------------------------------------------------------------------------------

fn xdel(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let s = match stream_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(s)) => s,
    };
    let mut ids = Vec::with_capacity(args.len().min(1024));
    for a in &args[2..] {
        match parse_strict_id(a, 0) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let mut deleted = 0u64;
    let mut first_entry = false;
    for id in ids {
        if s.delete(id) {
            if id == s.first_id {
                first_entry = true;
            }
            if id > s.max_deleted_id {
                s.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.length == 0 {
            s.first_id = ID_MIN;
        } else if first_entry {
            s.first_id = s.edge_id(true, true);
        }
        ctx.dirty(deleted);
    }
    Reply::Int(deleted as i64)
}

fn xrange_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], rev: bool) -> Reply {
    let (sa, ea) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let (start, end) = match parse_range(sa, ea) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(args[j], "COUNT") && j + 1 < args.len() {
            count = match ll(args[j + 1]) {
                Ok(c) => c.max(0),
                Err(e) => return e,
            };
            j += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let s = match stream_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(vec![]),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return Reply::NilArray;
    }
    let n = if count < 0 { 0 } else { count as usize };
    Reply::Array(
        s.range(start, end, rev, n)
            .into_iter()
            .map(|(id, fv)| entry_reply(id, fv))
            .collect(),
    )
}

fn xrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    xrange_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    xrange_generic(ctx, args, true)
}

fn xlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match stream_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(s)) => Reply::Int(s.length as i64),
    }
}

// ---------------------------------------------------------------------------------------------
// XREAD / XREADGROUP
// ---------------------------------------------------------------------------------------------

/// Deliver entries after `start` (exclusive bound already applied) to a group's consumer,
/// creating or moving pending entries; the reply items and the propagation.
#[allow(clippy::too_many_arguments)]
fn deliver_new(
    s: &mut Stream,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: usize,
    noack: bool,
    now: i64,
    props: &mut Vec<Vec<Vec<u8>>>,
) -> Vec<Reply> {
    let entries = s.range(start, ID_MAX, false, count);
    let mut out = Vec::with_capacity(entries.len());
    let mut propagate_last = false;
    for (id, fv) in entries {
        if s.groups.get(group).is_some_and(|g| id > g.last_id) {
            s.advance_group(group, id);
            if noack {
                propagate_last = true;
            }
        }
        out.push(entry_reply(id, fv));
        if noack {
            continue;
        }
        let Some(g) = s.groups.get_mut(group) else {
            continue;
        };
        if let Some(old) = g.pel.get(&id).map(|n| n.consumer.clone()) {
            if let Some(c) = g.consumers.get_mut(old.as_bytes()) {
                c.pel.remove(&id);
            }
        }
        g.pel.insert(
            id,
            Nack {
                delivery_time: now,
                delivery_count: 1,
                consumer: SStr::new(consumer),
            },
        );
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        if let Some(n) = g.pel.get(&id) {
            props.push(xclaim_argv(key, group, &id_bytes(id), n, g.last_id));
        }
    }
    if propagate_last {
        if let Some(g) = s.groups.get(group) {
            props.push(setid_argv(key, group, g));
        }
    }
    out
}

/// Serve a consumer's own history (XREADGROUP with an id other than `>`).
fn deliver_history(
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
) -> Vec<Reply> {
    let ids: Vec<StreamId> = match s.groups.get(group).and_then(|g| g.consumers.get(consumer)) {
        Some(c) => c
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect(),
        None => return Vec::new(),
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match s.get(id) {
            Some(fv) => {
                out.push(entry_reply(id, fv));
                if let Some(n) = s.groups.get_mut(group).and_then(|g| g.pel.get_mut(&id)) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
        }
    }
    out
}

fn xread(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let xreadgroup = args[0].len() == 10;
    let now = ctx.now_ms;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut streams_count = 0;
    let mut noack = false;
    let mut group_name: Option<&[u8]> = None;
    let mut consumer_name: &[u8] = b"";
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if eq_ic(o, "BLOCK") && more > 0 {
            i += 1;
            match parse_i64(args[i]) {
                None => return Reply::err("ERR timeout is not an integer or out of range"),
                Some(t) if t < 0 => return Reply::err("ERR timeout is negative"),
                Some(_) => {}
            }
        } else if eq_ic(o, "COUNT") && more > 0 {
            i += 1;
            count = match ll(args[i]) {
                Ok(c) => c.max(0),
                Err(e) => return e,
            };
        } else if eq_ic(o, "STREAMS") && more > 0 {
            streams_arg = i + 1;
            streams_count = args.len() - streams_arg;
            if streams_count % 2 != 0 {
                return Reply::err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
            }
            streams_count /= 2;
            break;
        } else if eq_ic(o, "GROUP") && more >= 2 {
            if !xreadgroup {
                return Reply::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            group_name = Some(args[i + 1]);
            consumer_name = args[i + 2];
            i += 2;
        } else if eq_ic(o, "NOACK") {
            if !xreadgroup {
                return Reply::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            noack = true;
        } else {
            return Reply::err(SYNTAX);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Reply::err(SYNTAX);
    }
    if xreadgroup && group_name.is_none() {
        return Reply::err("ERR Missing GROUP option for XREADGROUP");
    }
    if xreadgroup {
        ctx.propagate_nothing();
    }
    // Resolve every key's starting id first: any error aborts before anything is served.
    let mut ids = Vec::with_capacity(streams_count.min(1024));
    for k in 0..streams_count {
        let key = args[streams_arg + k];
        let id_arg = args[streams_arg + streams_count + k];
        let s = match stream_mut(ctx, key) {
            Err(e) => return e,
            Ok(s) => s,
        };
        if let Some(g) = group_name {
            if !s.as_ref().is_some_and(|s| s.groups.contains_key(g)) {
                return Reply::err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    show(key),
                    show(g)
                ));
            }
        }
        let cid = c_str(id_arg);
        if cid == b"$" {
            if xreadgroup {
                return Reply::err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            ids.push(s.map_or(ID_MIN, |s| s.last_id));
            continue;
        } else if cid == b">" {
            if !xreadgroup {
                return Reply::err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            }
            ids.push(ID_MAX);
            continue;
        }
        match parse_strict_id(id_arg, 0) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let mut results = Vec::new();
    let mut props = Vec::new();
    let mut dirty = 0;
    for (k, &gt0) in ids.iter().enumerate() {
        let key = args[streams_arg + k];
        let Ok(Some(s)) = stream_mut(ctx, key) else {
            continue;
        };
        let mut gt = gt0;
        let mut serve = false;
        let mut history = false;
        if let Some(g) = group_name {
            if gt != ID_MAX {
                serve = true;
                history = true;
            } else if s.length > 0 {
                let last = s.groups.get(g).map_or(ID_MAX, |g| g.last_id);
                if s.last_valid_id() > last {
                    serve = true;
                    gt = last;
                }
            }
        } else if s.length > 0 && s.last_valid_id() > gt {
            serve = true;
        }
        if !serve {
            continue;
        }
        let start = id_incr(gt).unwrap_or(ID_MIN);
        let items = match group_name {
            None => s
                .range(start, ID_MAX, false, count as usize)
                .into_iter()
                .map(|(id, fv)| entry_reply(id, fv))
                .collect(),
            Some(g) => {
                let mut created = false;
                if let Some(grp) = s.groups.get_mut(g) {
                    match grp.consumers.get_mut(consumer_name) {
                        Some(c) => c.seen_time = now,
                        None => {
                            grp.consumers
                                .insert(SStr::new(consumer_name), Consumer::new(now));
                            created = true;
                        }
                    }
                }
                if created {
                    dirty += 1;
                    if noack {
                        props.push(vec![
                            b"XGROUP".to_vec(),
                            b"CREATECONSUMER".to_vec(),
                            key.to_vec(),
                            g.to_vec(),
                            consumer_name.to_vec(),
                        ]);
                    }
                }
                dirty += 1;
                if history {
                    deliver_history(s, g, consumer_name, start, count as usize, now)
                } else {
                    deliver_new(
                        s,
                        key,
                        g,
                        consumer_name,
                        start,
                        count as usize,
                        noack,
                        now,
                        &mut props,
                    )
                }
            }
        };
        results.push(Reply::Array(vec![Reply::bulk(key), Reply::Array(items)]));
    }
    ctx.dirty(dirty);
    for p in props {
        ctx.propagate(p);
    }
    if results.is_empty() {
        Reply::NilArray
    } else {
        Reply::Array(results)
    }
}

// ---------------------------------------------------------------------------------------------
// XGROUP, XSETID
// ---------------------------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

fn xgroup(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let opt = args[1];
    let now = ctx.now_ms;
    if args.len() == 2 && eq_ic(opt, "HELP") {
        return help_reply(args[0], XGROUP_HELP);
    }
    let create = eq_ic(opt, "CREATE");
    let setid = eq_ic(opt, "SETID");
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    let mut i = 5;
    while i < args.len() {
        if create && eq_ic(args[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && eq_ic(args[i], "ENTRIESREAD") && i + 1 < args.len() {
            entries_read = match ll(args[i + 1]) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                return Reply::err("ERR value for ENTRIESREAD must be positive or -1");
            }
            i += 2;
        } else {
            return subcommand_syntax(args);
        }
    }
    let key = args[2];
    let grp = args[3];
    let exists = match stream_mut(ctx, key) {
        Err(e) => return e,
        Ok(s) => s.is_some(),
    };
    if !mkstream {
        if !exists {
            return Reply::err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
        }
        let has_group = matches!(stream_mut(ctx, key), Ok(Some(s)) if s.groups.contains_key(grp));
        if !has_group && (setid || eq_ic(opt, "CREATECONSUMER") || eq_ic(opt, "DELCONSUMER")) {
            return Reply::err(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                show(grp),
                show(key)
            ));
        }
    }
    if create && args.len() <= 8 {
        let id = if c_str(args[4]) == b"$" {
            match stream_mut(ctx, key) {
                Ok(Some(s)) => s.last_id,
                _ => ID_MIN,
            }
        } else {
            match parse_strict_id(args[4], 0) {
                Ok(id) => id,
                Err(e) => return e,
            }
        };
        if !exists {
            ctx.db()
                .insert(key, Entry::new(Value::Stream(Box::new(Stream::new()))));
        }
        let Ok(Some(s)) = stream_mut(ctx, key) else {
            return Reply::err(WRONGTYPE);
        };
        if s.groups.contains_key(grp) {
            return Reply::err("BUSYGROUP Consumer Group name already exists");
        }
        s.groups
            .insert(SStr::new(grp), Group::new(id, entries_read));
        ctx.dirty(1);
        Reply::Ok
    } else if setid && (args.len() == 5 || args.len() == 7) {
        let Ok(Some(s)) = stream_mut(ctx, key) else {
            return Reply::err(WRONGTYPE);
        };
        let id = if c_str(args[4]) == b"$" {
            s.last_id
        } else {
            match parse_id(args[4], 0) {
                Ok(id) => id,
                Err(e) => return e,
            }
        };
        if let Some(g) = s.groups.get_mut(grp) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        ctx.dirty(1);
        Reply::Ok
    } else if eq_ic(opt, "DESTROY") && args.len() == 4 {
        let Ok(Some(s)) = stream_mut(ctx, key) else {
            return Reply::Int(0);
        };
        if s.groups.remove(grp).is_some() {
            ctx.dirty(1);
            Reply::Int(1)
        } else {
            Reply::Int(0)
        }
    } else if eq_ic(opt, "CREATECONSUMER") && args.len() == 5 {
        let Ok(Some(s)) = stream_mut(ctx, key) else {
            return Reply::Int(0);
        };
        let Some(g) = s.groups.get_mut(grp) else {
            return Reply::Int(0);
        };
        if g.consumers.contains_key(args[4]) {
            return Reply::Int(0);
        }
        g.consumers.insert(SStr::new(args[4]), Consumer::new(now));
        ctx.dirty(1);
        Reply::Int(1)
    } else if eq_ic(opt, "DELCONSUMER") && args.len() == 5 {
        let Ok(Some(s)) = stream_mut(ctx, key) else {
            return Reply::Int(0);
        };
        let Some(g) = s.groups.get_mut(grp) else {
            return Reply::Int(0);
        };
        let Some(c) = g.consumers.remove(args[4]) else {
            return Reply::Int(0);
        };
        for id in &c.pel {
            g.pel.remove(id);
        }
        ctx.dirty(1);
        Reply::Int(c.pel.len() as i64)
    } else {
        subcommand_syntax(args)
    }
}

fn xsetid(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let id = match parse_strict_id(args[2], 0) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut max_xdel = ID_MIN;
    let mut entries_added: i64 = -1;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq_ic(args[i], "ENTRIESADDED") && more > 0 {
            entries_added = match ll(args[i + 1]) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if entries_added < 0 {
                return Reply::err("ERR entries_added must be positive");
            }
            i += 2;
        } else if eq_ic(args[i], "MAXDELETEDID") && more > 0 {
            max_xdel = match parse_strict_id(args[i + 1], 0) {
                Ok(id) => id,
                Err(e) => return e,
            };
            if id < max_xdel {
                return Reply::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            i += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let s = match stream_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::err("ERR no such key"),
        Ok(Some(s)) => s,
    };
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Reply::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Reply::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if max_xdel != ID_MIN {
        s.max_deleted_id = max_xdel;
    }
    ctx.dirty(1);
    Reply::Ok
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------------------------

fn xack(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let s = match stream_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(s)) => s,
    };
    let Some(g) = s.groups.get_mut(args[2]) else {
        return Reply::Int(0);
    };
    let mut ids = Vec::with_capacity(args.len().min(1024));
    for a in &args[3..] {
        match parse_strict_id(a, 0) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let mut acked = 0;
    for id in ids {
        if g.remove_pending(id).is_some() {
            acked += 1;
        }
    }
    ctx.dirty(acked);
    Reply::Int(acked as i64)
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        show(key),
        show(group)
    ))
}

fn xpending(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    let justinfo = args.len() == 3;
    if args.len() != 3 && (args.len() < 6 || args.len() > 9) {
        return Reply::err(SYNTAX);
    }
    let mut range = (ID_MIN, ID_MAX);
    let mut count: i64 = 0;
    let mut minidle: i64 = 0;
    let mut consumer: Option<&[u8]> = None;
    if args.len() >= 6 {
        let mut startidx = 3;
        if eq_ic(args[3], "IDLE") {
            minidle = match ll(args[4]) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if args.len() < 8 {
                return Reply::err(SYNTAX);
            }
            startidx += 2;
        }
        count = match ll(args[startidx + 2]) {
            Ok(n) => n.max(0),
            Err(e) => return e,
        };
        range = match parse_range(args[startidx], args[startidx + 1]) {
            Ok(r) => r,
            Err(e) => return e,
        };
        if startidx + 3 < args.len() {
            consumer = Some(args[startidx + 3]);
        }
    }
    let s = match stream_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get(args[2])) else {
        return nogroup(args[1], args[2]);
    };
    if justinfo {
        let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value())
        else {
            return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
        };
        let owners = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::bulk(n),
                    Reply::Bulk(c.pel.len().to_string().into_bytes()),
                ])
            })
            .collect();
        return Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(owners),
        ]);
    }
    let (start, end) = range;
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(name) => match g.consumers.get(name) {
            None => return Reply::Array(vec![]),
            Some(c) if start <= end => Box::new(c.pel.range(start..=end).copied()),
            Some(_) => Box::new(std::iter::empty()),
        },
        None if start <= end => Box::new(g.pel.range(start..=end).map(|(k, _)| *k)),
        None => Box::new(std::iter::empty()),
    };
    let mut out = Vec::new();
    for id in ids {
        if count == 0 {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if minidle != 0 && now - n.delivery_time < minidle {
            continue;
        }
        count -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::bulk(&n.consumer),
            Reply::Int((now - n.delivery_time).max(0)),
            Reply::Int(n.delivery_count as i64),
        ]));
    }
    Reply::Array(out)
}

/// Get (creating it if needed) a consumer for a claim: its seen time is refreshed.
fn claim_consumer(g: &mut Group, name: &[u8], now: i64) -> bool {
    match g.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.consumers.insert(SStr::new(name), Consumer::new(now));
            true
        }
    }
}

/// Give pending entry `id` to consumer `name`.
fn move_nack(g: &mut Group, id: StreamId, name: &[u8]) {
    let Some(n) = g.pel.get_mut(&id) else { return };
    if n.consumer.as_bytes() != name {
        let old = std::mem::replace(&mut n.consumer, SStr::new(name));
        if let Some(c) = g.consumers.get_mut(old.as_bytes()) {
            c.pel.remove(&id);
        }
    }
    if let Some(c) = g.consumers.get_mut(name) {
        c.pel.insert(id);
    }
}

fn xclaim(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    let (key, gname, cname) = (args[1], args[2], args[3]);
    match stream_mut(ctx, key) {
        Err(e) => return e,
        Ok(Some(s)) if s.groups.contains_key(gname) => {}
        Ok(_) => return nogroup(key, gname),
    }
    let minidle = match ll_msg(args[4], "Invalid min-idle-time argument for XCLAIM") {
        Ok(n) => n.max(0),
        Err(e) => return e,
    };
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id_full(args[j], 0, true, false) {
            Some((id, _)) => ids.push((id, j)),
            None => break,
        }
        j += 1;
    }
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut force = false;
    let mut justid = false;
    let mut last_id = ID_MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if eq_ic(opt, "FORCE") {
            force = true;
        } else if eq_ic(opt, "JUSTID") {
            justid = true;
        } else if eq_ic(opt, "IDLE") && more > 0 {
            j += 1;
            deliverytime = match ll_msg(args[j], "Invalid IDLE option argument for XCLAIM") {
                Ok(n) => now.wrapping_sub(n),
                Err(e) => return e,
            };
        } else if eq_ic(opt, "TIME") && more > 0 {
            j += 1;
            deliverytime = match ll_msg(args[j], "Invalid TIME option argument for XCLAIM") {
                Ok(n) => n,
                Err(e) => return e,
            };
        } else if eq_ic(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retrycount = match ll_msg(args[j], "Invalid RETRYCOUNT option argument for XCLAIM") {
                Ok(n) => n,
                Err(e) => return e,
            };
        } else if eq_ic(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = match parse_strict_id(args[j], 0) {
                Ok(id) => id,
                Err(e) => return e,
            };
        } else {
            return Reply::err(format!("ERR Unrecognized XCLAIM option '{}'", show(opt)));
        }
        j += 1;
    }
    let Ok(Some(s)) = stream_mut(ctx, key) else {
        return nogroup(key, gname);
    };
    let mut props = Vec::new();
    let mut dirty = 0;
    let mut propagate_last = false;
    {
        let Some(g) = s.groups.get_mut(gname) else {
            return nogroup(key, gname);
        };
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last = true;
        }
    }
    if deliverytime == -1 || deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let mut out = Vec::new();
    let mut have_consumer = false;
    for (id, argi) in ids {
        let exists = s.exists(id);
        let Some(g) = s.groups.get_mut(gname) else {
            break;
        };
        if !exists {
            if let Some(n) = g.pel.get(&id) {
                props.push(xclaim_argv(key, gname, args[argi], n, g.last_id));
                propagate_last = false;
                dirty += 1;
                g.remove_pending(id);
            }
            continue;
        }
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            fresh = true;
        }
        if !fresh && !g.pel.contains_key(&id) {
            continue;
        }
        if !fresh && minidle != 0 {
            if let Some(n) = g.pel.get(&id) {
                if now - n.delivery_time < minidle {
                    continue;
                }
            }
        }
        if !have_consumer {
            if claim_consumer(g, cname, now) {
                dirty += 1;
            }
            have_consumer = true;
        }
        if fresh {
            g.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: SStr::new(cname),
                },
            );
        }
        move_nack(g, id, cname);
        let last = g.last_id;
        let Some(n) = g.pel.get_mut(&id) else {
            continue;
        };
        n.delivery_time = deliverytime;
        if retrycount >= 0 {
            n.delivery_count = retrycount as u64;
        } else if !justid {
            n.delivery_count += 1;
        }
        props.push(xclaim_argv(key, gname, args[argi], n, last));
        propagate_last = false;
        dirty += 1;
        if justid {
            out.push(id_reply(id));
        } else if let Some(fv) = s.get(id) {
            out.push(entry_reply(id, fv));
        }
    }
    if propagate_last {
        if let Some(g) = s.groups.get(gname) {
            props.push(setid_argv(key, gname, g));
        }
        dirty += 1;
    }
    ctx.propagate_nothing();
    ctx.dirty(dirty);
    for p in props {
        ctx.propagate(p);
    }
    Reply::Array(out)
}

fn xautoclaim(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let minidle = match ll_msg(args[4], "Invalid min-idle-time argument for XAUTOCLAIM") {
        Ok(n) => n.max(0),
        Err(e) => return e,
    };
    let (mut start, ex) = match parse_interval(args[5], 0) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if ex {
        match id_incr(start) {
            Some(s) => start = s,
            None => return Reply::err("ERR invalid start ID for the interval"),
        }
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "COUNT") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return Reply::err("ERR COUNT must be > 0"),
            };
            j += 1;
        } else if eq_ic(args[j], "JUSTID") {
            justid = true;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    let s = match stream_mut(ctx, key) {
        Err(e) => return e,
        Ok(Some(s)) if s.groups.contains_key(gname) => s,
        Ok(_) => return nogroup(key, gname),
    };
    let mut attempts = count.saturating_mul(10);
    let mut props = Vec::new();
    let mut dirty = 0;
    let mut out = Vec::new();
    let mut deleted = Vec::new();
    let mut have_consumer = false;
    let mut cursor = Some(start);
    while let Some(from) = cursor {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let next = s
            .groups
            .get(gname)
            .and_then(|g| g.pel.range(from..).next().map(|(k, _)| *k));
        let Some(id) = next else {
            cursor = None;
            break;
        };
        cursor = id_incr(id);
        let exists = s.exists(id);
        let Some(g) = s.groups.get_mut(gname) else {
            break;
        };
        if !exists {
            if let Some(n) = g.pel.get(&id) {
                props.push(xclaim_argv(key, gname, &id_bytes(id), n, g.last_id));
            }
            dirty += 1;
            g.remove_pending(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if minidle != 0 {
            if let Some(n) = g.pel.get(&id) {
                if now - n.delivery_time < minidle {
                    continue;
                }
            }
        }
        if !have_consumer {
            if claim_consumer(g, cname, now) {
                dirty += 1;
            }
            have_consumer = true;
        }
        move_nack(g, id, cname);
        let last = g.last_id;
        let Some(n) = g.pel.get_mut(&id) else {
            continue;
        };
        n.delivery_time = now;
        if !justid {
            n.delivery_count += 1;
        }
        props.push(xclaim_argv(key, gname, &id_bytes(id), n, last));
        dirty += 1;
        count -= 1;
        if justid {
            out.push(id_reply(id));
        } else if let Some(fv) = s.get(id) {
            out.push(entry_reply(id, fv));
        }
    }
    // The cursor: the next pending id after the last one looked at, or 0-0.
    let next = cursor.and_then(|from| {
        s.groups
            .get(gname)
            .and_then(|g| g.pel.range(from..).next().map(|(k, _)| *k))
    });
    ctx.propagate_nothing();
    ctx.dirty(dirty);
    for p in props {
        ctx.propagate(p);
    }
    Reply::Array(vec![
        id_reply(next.unwrap_or(ID_MIN)),
        Reply::Array(out),
        Reply::Array(deleted.into_iter().map(id_reply).collect()),
    ])
}

// ---------------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------------

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

fn name(s: &str) -> Reply {
    Reply::bulk(s.as_bytes())
}

fn opt_int(v: Option<i64>) -> Reply {
    v.map_or(Reply::Nil, Reply::Int)
}

fn xinfo(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let now = ctx.now_ms;
    if eq_ic(args[1], "HELP") {
        if args.len() != 2 {
            return subcommand_syntax(args);
        }
        return help_reply(args[0], XINFO_HELP);
    }
    if args.len() < 3 {
        return subcommand_syntax(args);
    }
    let opt = args[1];
    let key = args[2];
    let s: &Stream = match stream_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::err("ERR no such key"),
        Ok(Some(s)) => s,
    };
    if eq_ic(opt, "CONSUMERS") && args.len() == 4 {
        let Some(g) = s.groups.get(args[3]) else {
            return Reply::err(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                show(args[3]),
                show(key)
            ));
        };
        Reply::Array(
            g.consumers
                .iter()
                .map(|(n, c)| {
                    Reply::Array(vec![
                        name("name"),
                        Reply::bulk(n),
                        name("pending"),
                        Reply::Int(c.pel.len() as i64),
                        name("idle"),
                        Reply::Int((now - c.seen_time).max(0)),
                    ])
                })
                .collect(),
        )
    } else if eq_ic(opt, "GROUPS") && args.len() == 3 {
        Reply::Array(
            s.groups
                .iter()
                .map(|(n, g)| {
                    Reply::Array(vec![
                        name("name"),
                        Reply::bulk(n),
                        name("consumers"),
                        Reply::Int(g.consumers.len() as i64),
                        name("pending"),
                        Reply::Int(g.pel.len() as i64),
                        name("last-delivered-id"),
                        id_reply(g.last_id),
                        name("entries-read"),
                        opt_int((g.entries_read != ENTRIES_READ_INVALID).then_some(g.entries_read)),
                        name("lag"),
                        opt_int(s.lag(g)),
                    ])
                })
                .collect(),
        )
    } else if eq_ic(opt, "STREAM") {
        xinfo_stream(s, args)
    } else {
        subcommand_syntax(args)
    }
}

fn xinfo_stream(s: &Stream, args: &[&[u8]]) -> Reply {
    let optv = &args[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !optv.is_empty() {
        if optv.len() != 1 && optv.len() != 3 {
            return subcommand_syntax(args);
        }
        if !eq_ic(optv[0], "full") {
            return subcommand_syntax(args);
        }
        if optv.len() == 3 {
            if !eq_ic(optv[1], "count") {
                return subcommand_syntax(args);
            }
            count = match ll(optv[2]) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if count < 0 {
                count = 10;
            }
        }
        full = true;
    }
    let (keys, nodes) = s.rax_stats();
    let mut out = vec![
        name("length"),
        Reply::Int(s.length as i64),
        name("radix-tree-keys"),
        Reply::Int(keys as i64),
        name("radix-tree-nodes"),
        Reply::Int(nodes as i64),
        name("last-generated-id"),
        id_reply(s.last_id),
        name("max-deleted-entry-id"),
        id_reply(s.max_deleted_id),
        name("entries-added"),
        Reply::Int(s.entries_added as i64),
        name("recorded-first-entry-id"),
        id_reply(s.first_id),
    ];
    if !full {
        out.push(name("groups"));
        out.push(Reply::Int(s.groups.len() as i64));
        for (label, rev) in [("first-entry", false), ("last-entry", true)] {
            out.push(name(label));
            out.push(match s.range(ID_MIN, ID_MAX, rev, 1).pop() {
                Some((id, fv)) => entry_reply(id, fv),
                None => Reply::Nil,
            });
        }
        return Reply::Array(out);
    }
    let n = count as usize;
    let take = |len: usize| if n == 0 { len } else { len.min(n) };
    out.push(name("entries"));
    out.push(Reply::Array(
        s.range(ID_MIN, ID_MAX, false, n)
            .into_iter()
            .map(|(id, fv)| entry_reply(id, fv))
            .collect(),
    ));
    out.push(name("groups"));
    let mut groups = Vec::with_capacity(s.groups.len());
    for (gname, g) in &s.groups {
        let pel: Vec<Reply> = g
            .pel
            .iter()
            .take(take(g.pel.len()))
            .map(|(id, nk)| {
                Reply::Array(vec![
                    id_reply(*id),
                    Reply::bulk(&nk.consumer),
                    Reply::Int(nk.delivery_time),
                    Reply::Int(nk.delivery_count as i64),
                ])
            })
            .collect();
        let consumers: Vec<Reply> = g
            .consumers
            .iter()
            .map(|(cn, c)| {
                let cpel: Vec<Reply> = c
                    .pel
                    .iter()
                    .take(take(c.pel.len()))
                    .map(|id| {
                        let nk = g.pel.get(id);
                        Reply::Array(vec![
                            id_reply(*id),
                            Reply::Int(nk.map_or(0, |n| n.delivery_time)),
                            Reply::Int(nk.map_or(0, |n| n.delivery_count as i64)),
                        ])
                    })
                    .collect();
                Reply::Array(vec![
                    name("name"),
                    Reply::bulk(cn),
                    name("seen-time"),
                    Reply::Int(c.seen_time),
                    name("pel-count"),
                    Reply::Int(c.pel.len() as i64),
                    name("pending"),
                    Reply::Array(cpel),
                ])
            })
            .collect();
        groups.push(Reply::Array(vec![
            name("name"),
            Reply::bulk(gname),
            name("last-delivered-id"),
            id_reply(g.last_id),
            name("entries-read"),
            opt_int((g.entries_read != ENTRIES_READ_INVALID).then_some(g.entries_read)),
            name("lag"),
            opt_int(s.lag(g)),
            name("pel-count"),
            Reply::Int(g.pel.len() as i64),
            name("pending"),
            Reply::Array(pel),
            name("consumers"),
            Reply::Array(consumers),
        ]));
    }
    out.push(Reply::Array(groups));
    Reply::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    fn props(cmds: &[&[&str]]) -> Vec<String> {
        use crate::cmd::{Executor, Session};
        let mut ex = Executor::new(crate::keyspace::Keyspace::default());
        ex.clock_ms = Some(5000);
        ex.propagating = true;
        let mut sess = Session::default();
        for c in cmds {
            let a: Vec<&[u8]> = c.iter().map(|s| s.as_bytes()).collect();
            ex.execute(&mut sess, &a);
        }
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

    #[test]
    fn propagation_rewrites() {
        assert_eq!(
            props(&[
                &["XADD", "s", "*", "f", "v"],
                &["XADD", "s", "5000-*", "f", "v"],
                &["XADD", "s", "MAXLEN", "~", "1", "6000-1", "f", "v"],
                &["XADD", "s", "MAXLEN", "=", "1", "7000-1", "f", "v"],
                &["XADD", "s", "MINID", "~", "1", "LIMIT", "5", "7000-*", "f", "v"],
            ]),
            vec![
                "XADD s 5000-0 f v",
                "XADD s 5000-1 f v",
                "XADD s MAXLEN = 3 6000-1 f v",
                "XADD s MAXLEN = 1 7000-1 f v",
                // The first id counting tombstones, as Redis writes it.
                "XADD s MINID = 5000-0 LIMIT 5 7000-2 f v",
            ]
        );
        assert_eq!(
            props(&[
                &["XADD", "s", "1-1", "f", "v"],
                &["XGROUP", "CREATE", "s", "g", "0"],
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
                &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
                &["XADD", "s", "2-1", "f", "v"],
                &[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "d",
                    "NOACK",
                    "STREAMS",
                    "s",
                    ">"
                ],
                &["XCLAIM", "s", "g", "e", "0", "1-1", "JUSTID"],
                &["XCLAIM", "s", "g", "e", "0", "9-9", "LASTID", "5-5"],
            ]),
            vec![
                "XADD s 1-1 f v",
                "XGROUP CREATE s g 0",
                "XCLAIM s g c 0 1-1 TIME 5000 RETRYCOUNT 1 FORCE JUSTID LASTID 1-1",
                "XADD s 2-1 f v",
                "MULTI",
                "XGROUP CREATECONSUMER s g d",
                "XGROUP SETID s g 2-1 ENTRIESREAD 2",
                "EXEC",
                "XCLAIM s g e 0 1-1 TIME 5000 RETRYCOUNT 1 FORCE JUSTID LASTID 2-1",
                "XGROUP SETID s g 5-5 ENTRIESREAD 2",
            ]
        );
    }

    #[test]
    fn id_parsing_like_redis() {
        let p = |s: &str| parse_id_full(s.as_bytes(), 0, true, true);
        assert_eq!(p("5"), Some((id(5, 0), true)));
        assert_eq!(p("5-3"), Some((id(5, 3), true)));
        assert_eq!(p("5-*"), Some((id(5, 0), false)));
        assert_eq!(p("-"), None);
        assert_eq!(p("+"), None);
        assert_eq!(p("5-"), None);
        assert_eq!(p("a-1"), None);
        assert_eq!(p("1-a"), None);
        assert_eq!(p("1--1"), None);
        assert_eq!(
            p("18446744073709551615-18446744073709551615"),
            Some((ID_MAX, true))
        );
        assert_eq!(p("18446744073709551616"), None);
        // strtoull's leniency: leading zeros, spaces and a plus sign.
        assert_eq!(p("007-+1"), Some((id(7, 1), true)));
        assert_eq!(p(" 7"), Some((id(7, 0), true)));
        assert_eq!(p("7 "), None);
        assert_eq!(p(""), None);
        assert_eq!(parse_id_full(b"-", 0, false, false), Some((ID_MIN, true)));
        assert_eq!(
            parse_id_full(b"3", u64::MAX, false, false),
            Some((id(3, u64::MAX), true))
        );
        assert_eq!(parse_id_full(&[b'1'; 128], 0, false, false), None);
        assert_eq!(parse_range(b"(5", b"(6-0"), Ok((id(5, 1), id(5, u64::MAX))));
        assert_eq!(
            parse_range(b"5", b"(6"),
            Ok((id(5, 0), id(6, u64::MAX - 1)))
        );
        assert!(parse_range(b"(18446744073709551615-18446744073709551615", b"+").is_err());
        assert!(parse_range(b"-", b"(0-0").is_err());
    }
}

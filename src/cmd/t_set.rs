//! Set commands (Redis's `t_set.c`): SADD, SREM, SMOVE, SPOP, SRANDMEMBER, SISMEMBER,
//! SMISMEMBER, SCARD, SMEMBERS, SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF,
//! SDIFFSTORE.
//!
//! The encoding of every set a command creates follows Redis's construction order (which
//! kind of empty set it starts from, then member by member), because OBJECT ENCODING and the
//! RDB files written later must agree with Redis. SPOP is propagated as SREM of the popped
//! members (or DEL when it empties the set), like Redis.

use std::cell::Cell;
use std::collections::HashSet;

use super::util::{eq_ic, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags, CommandSpec, Ctx, Reply};
use crate::keyspace::set::Set;
use crate::keyspace::{Config, Profile, Value};
use redkit_formats::Elem;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "sadd",
        -3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        (1, 1, 1),
        sadd,
    ),
    CommandSpec::new("srem", -3, flags::WRITE | flags::FAST, (1, 1, 1), srem),
    CommandSpec::new("smove", 4, flags::WRITE | flags::FAST, (1, 2, 1), smove),
    CommandSpec::new("spop", -2, flags::WRITE | flags::FAST, (1, 1, 1), spop),
    CommandSpec::new("srandmember", -2, flags::READONLY, (1, 1, 1), srandmember),
    CommandSpec::new(
        "sismember",
        3,
        flags::READONLY | flags::FAST,
        (1, 1, 1),
        sismember,
    ),
    CommandSpec::new(
        "smismember",
        -3,
        flags::READONLY | flags::FAST,
        (1, 1, 1),
        smismember,
    ),
    CommandSpec::new("scard", 2, flags::READONLY | flags::FAST, (1, 1, 1), scard),
    CommandSpec::new("smembers", 2, flags::READONLY, (1, 1, 1), smembers),
    CommandSpec::new("sinter", -2, flags::READONLY, (1, -1, 1), sinter),
    // Keys are counted by an argument: no fixed range (Redis's legacy range is empty too).
    CommandSpec::new("sintercard", -3, flags::READONLY, (0, 0, 0), sintercard),
    CommandSpec::new(
        "sinterstore",
        -3,
        flags::WRITE | flags::DENYOOM,
        (1, -1, 1),
        sinterstore,
    ),
    CommandSpec::new("sunion", -2, flags::READONLY, (1, -1, 1), sunion),
    CommandSpec::new(
        "sunionstore",
        -3,
        flags::WRITE | flags::DENYOOM,
        (1, -1, 1),
        sunionstore,
    ),
    CommandSpec::new("sdiff", -2, flags::READONLY, (1, -1, 1), sdiff),
    CommandSpec::new(
        "sdiffstore",
        -3,
        flags::WRITE | flags::DENYOOM,
        (1, -1, 1),
        sdiffstore,
    ),
];

/// Most elements one SRANDMEMBER with a negative count may return: Redis streams any number,
/// redkit builds the reply in memory, so a bound keeps a hostile count from exhausting it.
const MAX_RANDOM_REPLY: u64 = 1 << 24;

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A random number below `n` (n > 0). SPOP and SRANDMEMBER only need "random", not a
/// particular sequence, so a seeded xorshift is enough.
fn random_below(n: usize) -> usize {
    RNG.with(|c| {
        let mut x = c.get();
        if x == 0 {
            x = (crate::now_ms() as u64) ^ 0x9E37_79B9_7F4A_7C15 ^ (c as *const _ as u64);
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % (n.max(1) as u64)) as usize
    })
}

/// `k` distinct indices below `n`, chosen uniformly (Floyd's algorithm); k <= n.
fn random_indices(k: usize, n: usize) -> HashSet<usize> {
    let mut chosen = HashSet::with_capacity(k);
    for j in n - k..n {
        let t = random_below(j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen
}

fn wrongtype() -> Reply {
    Reply::err(WRONGTYPE)
}

/// Look up `key` as a set (after lazy expiry): `Ok(None)` when missing.
fn set_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Set>, Reply> {
    match ctx.lookup_value(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(wrongtype()),
    }
}

/// The sets at `keys` (missing keys as `None`), expiring keys first; WRONGTYPE if any key
/// holds another type.
fn gather<'a>(ctx: &'a mut Ctx<'_>, keys: &[&[u8]]) -> Result<Vec<Option<&'a Set>>, Reply> {
    for k in keys {
        ctx.expire_if_needed(k);
    }
    let db = &ctx.ks.dbs[ctx.db];
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        match db.get(k).map(|e| &e.value) {
            None => out.push(None),
            Some(Value::Set(s)) => out.push(Some(&**s)),
            Some(_) => return Err(wrongtype()),
        }
    }
    Ok(out)
}

fn bulk_elem(e: Elem<'_>) -> Reply {
    Reply::Bulk(e.to_vec())
}

fn members_reply(s: &Set) -> Reply {
    Reply::Array(s.iter().map(bulk_elem).collect())
}

/// Redis's `getRangeLongFromObjectOrReply` errors for a count argument.
fn parse_long(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::err(NOT_INTEGER))
}

/// Store `set` at `dst` (or delete `dst` when the result is empty), like the *STORE
/// commands: replies with the new cardinality.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], set: Set) -> Reply {
    if set.is_empty() {
        // Redis deletes without looking at the expiry first.
        if ctx.db().remove(dst).is_some() {
            ctx.dirty(1);
        }
        return Reply::Int(0);
    }
    ctx.expire_if_needed(dst);
    let n = set.len() as i64;
    ctx.db().set(dst, Value::Set(Box::new(set)));
    ctx.dirty(1);
    Reply::Int(n)
}

// ------------------------------------------------------------------------------------------
// Single-key commands
// ------------------------------------------------------------------------------------------

fn sadd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let cfg = ctx.config().clone();
    let key = args[1];
    let members = &args[2..];
    let added = match set_mut(ctx, key) {
        Err(e) => return e,
        Ok(Some(s)) => {
            s.maybe_convert(members.len(), &cfg);
            members.iter().filter(|m| s.add(m, &cfg)).count()
        }
        Ok(None) => {
            let mut s = Set::create(members[0], members.len(), &cfg);
            let n = members.iter().filter(|m| s.add(m, &cfg)).count();
            ctx.db().set(key, Value::Set(Box::new(s)));
            n
        }
    };
    ctx.dirty(added as u64);
    Reply::Int(added as i64)
}

fn srem(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let key = args[1];
    let mut deleted = 0;
    let mut emptied = false;
    match set_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(s)) => {
            for m in &args[2..] {
                if s.remove(m) {
                    deleted += 1;
                    if s.is_empty() {
                        emptied = true;
                        break;
                    }
                }
            }
        }
    }
    if emptied {
        ctx.db().remove(key);
    }
    ctx.dirty(deleted);
    Reply::Int(deleted as i64)
}

fn smove(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let cfg = ctx.config().clone();
    let (src, dst, ele) = (args[1], args[2], args[3]);
    ctx.expire_if_needed(src);
    ctx.expire_if_needed(dst);
    let db = ctx.db();
    match db.get(src).map(|e| &e.value) {
        None => return Reply::Int(0),
        Some(Value::Set(_)) => {}
        Some(_) => return wrongtype(),
    }
    match db.get(dst).map(|e| &e.value) {
        None | Some(Value::Set(_)) => {}
        Some(_) => return wrongtype(),
    }
    if src == dst {
        let is = matches!(db.get(src).map(|e| &e.value), Some(Value::Set(s)) if s.contains(ele));
        return Reply::Int(i64::from(is));
    }
    let Some(Value::Set(s)) = db.get_mut(src).map(|e| &mut e.value) else {
        return Reply::Int(0);
    };
    if !s.remove(ele) {
        return Reply::Int(0);
    }
    if s.is_empty() {
        db.remove(src);
    }
    let added = match db.get_mut(dst).map(|e| &mut e.value) {
        Some(Value::Set(d)) => d.add(ele, &cfg),
        _ => {
            let mut d = Set::create(ele, 1, &cfg);
            let added = d.add(ele, &cfg);
            db.set(dst, Value::Set(Box::new(d)));
            added
        }
    };
    ctx.dirty(1 + u64::from(added));
    Reply::Int(1)
}

fn sismember(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match set_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(s)) => Reply::Int(i64::from(s.contains(args[2]))),
    }
}

fn smismember(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match set_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(s) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| Reply::Int(i64::from(s.as_ref().is_some_and(|s| s.contains(m)))))
                .collect(),
        ),
    }
}

fn scard(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match set_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(s)) => Reply::Int(s.len() as i64),
    }
}

fn smembers(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match set_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Array(Vec::new()),
        Ok(Some(s)) => members_reply(s),
    }
}

// ------------------------------------------------------------------------------------------
// SPOP / SRANDMEMBER
// ------------------------------------------------------------------------------------------

fn spop(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() == 3 {
        return spop_count(ctx, args);
    }
    if args.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let key = args[1];
    let (ele, emptied) = match set_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(s)) => {
            let i = random_below(s.len());
            let Some(ele) = s.nth(i).map(|e| e.to_vec()) else {
                return Reply::Nil;
            };
            s.remove(&ele);
            (ele, s.is_empty())
        }
    };
    if emptied {
        ctx.db().remove(key);
    }
    ctx.dirty(1);
    ctx.propagate(vec![b"SREM".to_vec(), key.to_vec(), ele.clone()]);
    Reply::Bulk(ele)
}

fn spop_count(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let cfg = ctx.config().clone();
    let key = args[1];
    // Redis reports a malformed count with the same message as a negative one.
    let count = match parse_i64(args[2]) {
        Some(c) if c >= 0 => c as u64,
        _ => return Reply::err("ERR value is out of range, must be positive"),
    };
    let set = match set_mut(ctx, key) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(Vec::new()),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    let size = set.len();
    if count >= size as u64 {
        // The whole set: reply with it, delete the key, propagate a DEL.
        let reply = members_reply(set);
        ctx.db().remove(key);
        ctx.dirty(size as u64);
        ctx.propagate(vec![b"DEL".to_vec(), key.to_vec()]);
        return reply;
    }
    let count = count as usize;
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * 5 > count {
        // Few to pop: take them out of the set.
        let chosen = random_indices(count, size);
        let picked: Vec<Vec<u8>> = set
            .iter()
            .enumerate()
            .filter(|(i, _)| chosen.contains(i))
            .map(|(_, e)| e.to_vec())
            .collect();
        for m in &picked {
            set.remove(m);
        }
        picked
    } else {
        // Most of the set goes: build a new set of the few members that stay.
        let keep = random_indices(remaining, size);
        let mut kept: Vec<Vec<u8>> = Vec::with_capacity(remaining);
        let mut popped = Vec::with_capacity(count);
        for (i, e) in set.iter().enumerate() {
            if keep.contains(&i) {
                kept.push(e.to_vec());
            } else {
                popped.push(e.to_vec());
            }
        }
        let mut fresh = match (cfg.profile, &*set) {
            (Profile::Redis70, _) => Set::create(kept.first().map_or(&b""[..], |m| m), 1, &cfg),
            (Profile::Redis72, Set::Intset(_)) => Set::new(),
            (Profile::Redis72, _) => Set::new_listpack(),
        };
        for m in &kept {
            fresh.add(m, &cfg);
        }
        *set = fresh;
        popped
    };
    ctx.dirty(count as u64);
    if ctx.propagating {
        match cfg.profile {
            // 7.0 propagates one SREM per popped member, 7.2 batches them by 1024.
            Profile::Redis70 => {
                for m in &popped {
                    ctx.propagate(vec![b"SREM".to_vec(), key.to_vec(), m.clone()]);
                }
            }
            Profile::Redis72 => {
                for chunk in popped.chunks(1024) {
                    let mut argv = vec![b"SREM".to_vec(), key.to_vec()];
                    argv.extend(chunk.iter().cloned());
                    ctx.propagate(argv);
                }
            }
        }
    } else {
        ctx.propagate_nothing();
    }
    Reply::Array(popped.into_iter().map(Reply::Bulk).collect())
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() == 3 {
        return srandmember_count(ctx, args);
    }
    if args.len() > 3 {
        return Reply::err(SYNTAX);
    }
    match set_mut(ctx, args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(s)) => s.nth(random_below(s.len())).map_or(Reply::Nil, bulk_elem),
    }
}

fn srandmember_count(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let l = match parse_long(args[2]) {
        Err(e) => return e,
        Ok(i64::MIN) => {
            return Reply::err(format!(
                "ERR value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            ))
        }
        Ok(l) => l,
    };
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let s = match set_mut(ctx, args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(Vec::new()),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    let size = s.len();
    if !uniq || count == 1 {
        if count > MAX_RANDOM_REPLY {
            return Reply::err("ERR count is too large for redkit to reply with");
        }
        // Repetitions allowed: index a snapshot of the members.
        let all: Vec<Elem<'_>> = s.iter().collect();
        return Reply::Array(
            (0..count)
                .map(|_| bulk_elem(all[random_below(all.len())]))
                .collect(),
        );
    }
    if count >= size as u64 {
        return members_reply(s);
    }
    let chosen = random_indices(count as usize, size);
    Reply::Array(
        s.iter()
            .enumerate()
            .filter(|(i, _)| chosen.contains(i))
            .map(|(_, e)| bulk_elem(e))
            .collect(),
    )
}

// ------------------------------------------------------------------------------------------
// Intersection, union, difference
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum InterOut<'k> {
    Reply,
    Card(u64),
    Store(&'k [u8]),
}

/// SINTER / SINTERCARD / SINTERSTORE (`sinterGenericCommand`).
fn sinter_generic(ctx: &mut Ctx<'_>, keys: &[&[u8]], out: InterOut<'_>) -> Reply {
    let cfg: Config = ctx.config().clone();
    let result: Result<Option<Set>, Reply> = (|| {
        let sets = gather(ctx, keys)?;
        let mut present: Vec<(&[u8], &Set)> = Vec::with_capacity(sets.len());
        for (k, s) in keys.iter().zip(&sets) {
            match s {
                Some(s) => present.push((k, s)),
                // An empty set in the mix: the intersection is empty.
                None => {
                    return match out {
                        InterOut::Reply => Err(Reply::Array(Vec::new())),
                        InterOut::Card(_) => Err(Reply::Int(0)),
                        InterOut::Store(_) => Ok(None),
                    }
                }
            }
        }
        // Smallest first (a stable sort, like glibc's qsort for small arrays).
        present.sort_by_key(|(_, s)| s.len());
        let (k0, first) = present[0];
        let others: Vec<&Set> = present[1..]
            .iter()
            .filter(|(k, _)| *k != k0)
            .map(|(_, s)| *s)
            .collect();
        let in_all = |e: Elem<'_>| others.iter().all(|s| s.contains_elem(e));
        match out {
            InterOut::Card(limit) => {
                let mut n = 0u64;
                for e in first.iter() {
                    if in_all(e) {
                        n += 1;
                        if limit != 0 && n >= limit {
                            break;
                        }
                    }
                }
                Err(Reply::Int(n as i64))
            }
            InterOut::Reply => Err(Reply::Array(
                first.iter().filter(|e| in_all(*e)).map(bulk_elem).collect(),
            )),
            InterOut::Store(_) => {
                let mut dst = match (cfg.profile, first) {
                    (Profile::Redis70, _) | (_, Set::Intset(_)) => Set::new(),
                    _ => Set::new_listpack(),
                };
                let first_is_table = matches!(first, Set::Table(_));
                let mut only_integers = true;
                for e in first.iter() {
                    if !in_all(e) {
                        continue;
                    }
                    if let Elem::Bytes(b) = e {
                        if only_integers && !(first_is_table && parse_i64(b).is_some()) {
                            only_integers = false;
                        }
                    }
                    dst.add_elem(e, &cfg);
                }
                if cfg.profile == Profile::Redis72 && only_integers && !dst.is_empty() {
                    dst.maybe_convert_to_intset(&cfg);
                }
                Ok(Some(dst))
            }
        }
    })();
    match (result, out) {
        (Err(r), _) => r,
        (Ok(set), InterOut::Store(dst)) => store(ctx, dst, set.unwrap_or_else(Set::new)),
        (Ok(_), _) => Reply::Array(Vec::new()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// SUNION / SDIFF and their STORE forms (`sunionDiffGenericCommand`): the result is built
/// in a set that starts as an intset, member by member, with the same algorithm choice as
/// Redis (the encoding of the stored result depends on it).
fn sunion_diff(ctx: &mut Ctx<'_>, keys: &[&[u8]], dst: Option<&[u8]>, op: Op) -> Reply {
    let cfg: Config = ctx.config().clone();
    let result: Result<Set, Reply> = (|| {
        let sets = gather(ctx, keys)?;
        let mut out = Set::new();
        match op {
            Op::Union => {
                for s in sets.iter().flatten() {
                    for e in s.iter() {
                        out.add_elem(e, &cfg);
                    }
                }
            }
            Op::Diff => {
                let Some(first) = sets[0] else {
                    return Ok(out);
                };
                if keys[1..].contains(&keys[0]) {
                    return Ok(out);
                }
                let (mut one, mut two) = (0u64, 0u64);
                for s in sets.iter().flatten() {
                    one += first.len() as u64;
                    two += s.len() as u64;
                }
                one /= 2;
                let rest: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                if one <= two {
                    for e in first.iter() {
                        if !rest.iter().any(|s| s.contains_elem(e)) {
                            out.add_elem(e, &cfg);
                        }
                    }
                } else {
                    for e in first.iter() {
                        out.add_elem(e, &cfg);
                    }
                    for s in &rest {
                        if out.is_empty() {
                            break;
                        }
                        for e in s.iter() {
                            out.remove_elem(e);
                        }
                    }
                }
            }
        }
        Ok(out)
    })();
    match (result, dst) {
        (Err(r), _) => r,
        (Ok(set), Some(d)) => store(ctx, d, set),
        (Ok(set), None) => members_reply(&set),
    }
}

fn sinter(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sinter_generic(ctx, &args[1..], InterOut::Reply)
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sinter_generic(ctx, &args[2..], InterOut::Store(args[1]))
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match parse_i64(args[1]) {
        Some(n) if n >= 1 => n,
        _ => return Reply::err(NUMKEYS),
    };
    if numkeys > args.len() as i64 - 2 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0u64;
    let mut j = 2 + numkeys;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "LIMIT") && more > 0 {
            j += 1;
            match parse_i64(args[j]) {
                Some(l) if l >= 0 => limit = l as u64,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            }
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    sinter_generic(ctx, &args[2..2 + numkeys], InterOut::Card(limit))
}

fn sunion(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sunion_diff(ctx, &args[1..], None, Op::Union)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sunion_diff(ctx, &args[2..], Some(args[1]), Op::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sunion_diff(ctx, &args[1..], None, Op::Diff)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sunion_diff(ctx, &args[2..], Some(args[1]), Op::Diff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{Executor, Session};
    use crate::keyspace::Keyspace;

    fn run(ex: &mut Executor, s: &mut Session, args: &[&str]) -> Reply {
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
        ex.execute(s, &a)
    }

    #[test]
    fn spop_propagates_srem_or_del() {
        let mut ex = Executor::new(Keyspace::default());
        ex.propagating = true;
        let mut s = Session::default();
        run(
            &mut ex,
            &mut s,
            &["SADD", "k", "1", "2", "3", "4", "5", "6"],
        );
        ex.propagated.clear();
        let r = run(&mut ex, &mut s, &["SPOP", "k", "2"]);
        let Reply::Array(items) = r else { panic!() };
        assert_eq!(items.len(), 2);
        // Two SREMs from one call: Redis 7.0 wraps a call's propagated commands in MULTI/EXEC.
        assert_eq!(ex.propagated.len(), 4);
        assert_eq!(ex.propagated[0].argv, vec![b"MULTI".to_vec()]);
        assert_eq!(ex.propagated[3].argv, vec![b"EXEC".to_vec()]);
        assert!(ex.propagated[1..3]
            .iter()
            .all(|p| p.argv[0] == b"SREM" && p.argv.len() == 3));
        ex.propagated.clear();
        // Popping at least the whole set deletes the key and propagates a DEL.
        let r = run(&mut ex, &mut s, &["SPOP", "k", "10"]);
        let Reply::Array(items) = r else { panic!() };
        assert_eq!(items.len(), 4);
        assert_eq!(ex.propagated.len(), 1);
        assert_eq!(ex.propagated[0].argv, vec![b"DEL".to_vec(), b"k".to_vec()]);
        assert!(ex.ks.dbs[0].get(b"k").is_none());
    }

    #[test]
    fn spop_keep_strategy_encodings() {
        for (profile, want) in [(Profile::Redis70, "intset"), (Profile::Redis72, "listpack")] {
            let mut ex = Executor::new(Keyspace::new(Config::for_profile(profile)));
            let mut s = Session::default();
            let mut args = vec!["SADD".to_string(), "k".into(), "x".into()];
            for i in 0..200 {
                args.push(i.to_string());
            }
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&mut ex, &mut s, &a);
            // Pop all but 1: what stays is rebuilt (7.0: by the member, 7.2: a listpack).
            run(&mut ex, &mut s, &["SPOP", "k", "200"]);
            let Some(Value::Set(set)) = ex.ks.dbs[0].get(b"k").map(|e| &e.value) else {
                panic!()
            };
            assert_eq!(set.len(), 1);
            let m = set.members().remove(0);
            if profile == Profile::Redis70 && m == b"x" {
                assert_eq!(set.encoding(), "hashtable");
            } else {
                assert_eq!(set.encoding(), want);
            }
        }
    }

    #[test]
    fn sinterstore_72_back_to_intset() {
        let mut ex = Executor::new(Keyspace::new(Config::for_profile(Profile::Redis72)));
        let mut s = Session::default();
        run(&mut ex, &mut s, &["SADD", "a", "1", "2", "x"]);
        run(&mut ex, &mut s, &["SADD", "b", "1", "2", "y"]);
        assert_eq!(
            run(&mut ex, &mut s, &["SINTERSTORE", "d", "a", "b"]),
            Reply::Int(2)
        );
        assert_eq!(ex.ks.dbs[0].get(b"d").unwrap().value.encoding(), "intset");
        assert_eq!(ex.ks.dbs[0].get(b"a").unwrap().value.encoding(), "listpack");
        run(&mut ex, &mut s, &["SUNIONSTORE", "u", "a", "b"]);
        assert_eq!(ex.ks.dbs[0].get(b"u").unwrap().value.encoding(), "listpack");
    }
}

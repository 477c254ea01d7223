//! RESTORE: create a key from a DUMP payload of any RDB version.

use super::util::{eq_ic, parse_i64, NOT_INTEGER, SYNTAX};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::load::value_from_dump;
use crate::keyspace::NO_EXPIRE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "restore",
    -4,
    WRITE | DENYOOM,
    (1, 1, 1),
    restore,
)];

fn restore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        let a = args[j];
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && more >= 1 && freq.is_none() {
            let Some(v) = parse_i64(args[j + 1]) else {
                return Reply::err(NOT_INTEGER);
            };
            if v < 0 {
                return Reply::err("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(v);
            j += 1;
        } else if eq_ic(a, "freq") && more >= 1 && idle.is_none() {
            let Some(v) = parse_i64(args[j + 1]) else {
                return Reply::err(NOT_INTEGER);
            };
            if !(0..=255).contains(&v) {
                return Reply::err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
            j += 1;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    let key = args[1];
    if !replace && ctx.exists(key) {
        return Reply::err("BUSYKEY Target key name already exists.");
    }
    let Some(mut ttl) = parse_i64(args[2]) else {
        return Reply::err(NOT_INTEGER);
    };
    if ttl < 0 {
        return Reply::err("ERR Invalid TTL value, must be >= 0");
    }
    let cfg = ctx.config().clone();
    let value = match value_from_dump(args[3], &cfg) {
        Ok(Some(v)) => v,
        // An empty aggregate: Redis refuses it as bad data (rdbLoadObject fails on it).
        Ok(None) => return Reply::err("ERR Bad data format"),
        Err(msg) => return Reply::err(msg),
    };
    let deleted = replace && ctx.db().remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(ctx.now_ms);
    }
    if ttl != 0 && ctx.already_expired(ttl) {
        if deleted {
            ctx.dirty(1);
            if ctx.propagating {
                ctx.propagate(vec![b"DEL".to_vec(), key.to_vec()]);
            }
        }
        return Reply::Ok;
    }
    ctx.db().set(key, value);
    if ttl != 0 {
        ctx.db().set_expire(key, ttl);
        if !absttl && ctx.propagating {
            // Propagated with the absolute time, so a replay does not extend it.
            let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            argv[2] = ttl.to_string().into_bytes();
            argv.push(b"ABSTTL".to_vec());
            ctx.propagate(argv);
        }
    } else {
        ctx.db().set_expire(key, NO_EXPIRE);
    }
    ctx.dirty(1);
    Reply::Ok
}

//! Connection and server commands: SELECT, PING (the keys helper extends this file with
//! SWAPDB, FLUSHDB, FLUSHALL, DBSIZE, FUNCTION ...).

use super::util::{parse_i64, DB_INDEX};
use super::{flags::*, CommandSpec, Ctx, Reply};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("select", 2, LOADING | STALE | FAST, (0, 0, 0), select),
    CommandSpec::new("ping", -1, FAST, (0, 0, 0), ping),
];

fn select(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let Some(i) = parse_i64(args[1]) else {
        return Reply::err("ERR value is not an integer or out of range");
    };
    if i < 0 || i as usize >= ctx.ks.dbs.len() {
        return Reply::err(DB_INDEX);
    }
    ctx.db = i as usize;
    Reply::Ok
}

fn ping(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match args.len() {
        1 => Reply::status("PONG"),
        2 => Reply::bulk(args[1]),
        _ => Reply::err("ERR wrong number of arguments for 'ping' command"),
    }
}

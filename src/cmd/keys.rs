//! Commands on keys of any type (the keys helper extends this file): TYPE, OBJECT ENCODING,
//! PEXPIRETIME.

use super::{flags::*, CommandSpec, Ctx, Reply};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("type", 2, READONLY | FAST, (1, 1, 1), type_cmd),
    CommandSpec::container("object", -2, 0, OBJECT_SUBCOMMANDS),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "encoding",
    3,
    READONLY,
    (2, 2, 1),
    object_encoding,
)];

fn type_cmd(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[1]) {
        Some(v) => Reply::status(v.type_name()),
        None => Reply::status("none"),
    }
}

fn object_encoding(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup_value(args[2]) {
        Some(v) => Reply::bulk(v.encoding().as_bytes()),
        None => Reply::Nil,
    }
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    match ctx.lookup(args[1]) {
        None => Reply::Int(-2),
        Some(e) => Reply::Int(e.expire().unwrap_or(-1)),
    }
}

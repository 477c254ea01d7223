//! Connection and server commands: SELECT, PING, ECHO, SWAPDB, FLUSHDB, FLUSHALL, TIME,
//! INFO (keyspace section only), the FUNCTION library commands, and the scripting commands
//! redkit declares but does not run.
//!
//! Functions: `Keyspace::functions` keeps each library's name, engine and full source. redkit
//! has no Lua, so FUNCTION LOAD validates the `#!lua name=...` header exactly like Redis but
//! cannot run the body: a library that registers no function, or does not compile, is
//! accepted where Redis refuses it, and FUNCTION LIST shows an empty `functions` list.
//! FUNCTION DUMP writes Redis's payload format (one function opcode and RDB string per
//! library, RDB version, CRC64); its bytes may differ from Redis's where LZF compression
//! does, but it restores the same libraries. EVAL, EVALSHA (and their _RO forms), FCALL,
//! FCALL_RO and SCRIPT reply [`SCRIPTS_UNSUPPORTED`].

use super::keys::{c_str, get_int};
use super::util::{eq_ic, parse_i64, DB_INDEX, SYNTAX};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::{Library, Profile};
use redkit_formats::rdb::consts::{OP_FUNCTION2, OP_FUNCTION_PRE_GA};
use redkit_formats::rdb::read::Cursor;
use std::collections::BTreeMap;

/// The reply of every command that would run Lua.
pub const SCRIPTS_UNSUPPORTED: &str =
    "ERR redkit does not run Lua scripts (EVAL, EVALSHA, FCALL and SCRIPT are not supported)";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("select", 2, LOADING | STALE | FAST, (0, 0, 0), select),
    CommandSpec::new("ping", -1, FAST, (0, 0, 0), ping),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, (0, 0, 0), echo),
    CommandSpec::new("swapdb", 3, WRITE | FAST, (0, 0, 0), swapdb),
    CommandSpec::new("flushdb", -1, WRITE, (0, 0, 0), flushdb),
    CommandSpec::new("flushall", -1, WRITE, (0, 0, 0), flushall),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, (0, 0, 0), time),
    CommandSpec::new("info", -1, LOADING | STALE, (0, 0, 0), info),
    CommandSpec::container("function", -2, 0, FUNCTION_SUBCOMMANDS),
    CommandSpec::new("eval", -3, SCRIPT_FLAGS, (0, 0, 0), no_scripts),
    CommandSpec::new("evalsha", -3, SCRIPT_FLAGS, (0, 0, 0), no_scripts),
    CommandSpec::new("eval_ro", -3, SCRIPT_RO_FLAGS, (0, 0, 0), no_scripts),
    CommandSpec::new("evalsha_ro", -3, SCRIPT_RO_FLAGS, (0, 0, 0), no_scripts),
    CommandSpec::new("fcall", -3, SCRIPT_FLAGS, (0, 0, 0), no_scripts),
    CommandSpec::new("fcall_ro", -3, SCRIPT_RO_FLAGS, (0, 0, 0), no_scripts),
    CommandSpec::container("script", -2, 0, SCRIPT_SUBCOMMANDS),
];

const SCRIPT_FLAGS: u32 = NOSCRIPT | MAY_REPLICATE | STALE;
const SCRIPT_RO_FLAGS: u32 = NOSCRIPT | STALE | READONLY;

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "load",
        -3,
        NOSCRIPT | WRITE | DENYOOM,
        (0, 0, 0),
        function_load,
    ),
    CommandSpec::new("delete", 3, NOSCRIPT | WRITE, (0, 0, 0), function_delete),
    CommandSpec::new("flush", -2, NOSCRIPT | WRITE, (0, 0, 0), function_flush),
    CommandSpec::new("dump", 2, NOSCRIPT, (0, 0, 0), function_dump),
    CommandSpec::new(
        "restore",
        -3,
        NOSCRIPT | WRITE | DENYOOM,
        (0, 0, 0),
        function_restore,
    ),
    CommandSpec::new("list", -2, NOSCRIPT, (0, 0, 0), function_list),
    CommandSpec::new("kill", 2, NOSCRIPT, (0, 0, 0), function_kill),
];

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", 3, NOSCRIPT | STALE, (0, 0, 0), no_scripts),
    CommandSpec::new("flush", -2, NOSCRIPT, (0, 0, 0), no_scripts),
    CommandSpec::new("exists", -3, NOSCRIPT, (0, 0, 0), no_scripts),
];

fn no_scripts(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> Reply {
    Reply::err(SCRIPTS_UNSUPPORTED)
}

// ---------------------------------------------------------------------------------------------
// Connection and databases
// ---------------------------------------------------------------------------------------------

fn select(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let i = match get_int(args[1], None) {
        Ok(i) => i,
        Err(e) => return e,
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

fn echo(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    Reply::bulk(args[1])
}

/// SWAPDB exchanges two databases' contents; sessions stay on their index. Swapping a db with
/// itself is a (propagated) no-op.
fn swapdb(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let a = match get_int(args[1], Some("ERR invalid first DB index")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let b = match get_int(args[2], Some("ERR invalid second DB index")) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let n = ctx.ks.dbs.len();
    if a < 0 || b < 0 || a as usize >= n || b as usize >= n {
        return Reply::err(DB_INDEX);
    }
    ctx.ks.dbs.swap(a as usize, b as usize);
    ctx.dirty(1);
    Reply::Ok
}

/// The optional SYNC|ASYNC argument of FLUSHDB and FLUSHALL (redkit always frees at once).
fn flush_args_ok(args: &[&[u8]]) -> bool {
    match args.len() {
        1 => true,
        2 => eq_ic(args[1], "sync") || eq_ic(args[1], "async"),
        _ => false,
    }
}

/// FLUSHDB and FLUSHALL are propagated even when there was nothing to delete; functions are
/// kept.
fn flushdb(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if !flush_args_ok(args) {
        return Reply::err(SYNTAX);
    }
    let n = ctx.db().len() as u64;
    ctx.db().clear();
    ctx.dirty(n);
    ctx.propagate(args.iter().map(|a| a.to_vec()).collect());
    Reply::Ok
}

fn flushall(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if !flush_args_ok(args) {
        return Reply::err(SYNTAX);
    }
    let mut n = 0;
    for db in ctx.ks.dbs.iter_mut() {
        n += db.len() as u64;
        db.clear();
    }
    ctx.dirty(n);
    ctx.propagate(args.iter().map(|a| a.to_vec()).collect());
    Reply::Ok
}

/// Wall-clock time, seconds and microseconds.
fn time(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> Reply {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::bulks([d.as_secs().to_string(), d.subsec_micros().to_string()])
}

/// INFO: only the keyspace section is produced (for no argument, `keyspace`, `default`,
/// `all` or `everything`); any other section is empty. `avg_ttl` is always 0.
fn info(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let wanted = args.len() == 1
        || args[1..].iter().any(|a| {
            ["keyspace", "default", "all", "everything"]
                .iter()
                .any(|s| eq_ic(a, s))
        });
    let mut out = String::new();
    if wanted {
        out.push_str("# Keyspace\r\n");
        for (i, db) in ctx.ks.dbs.iter().enumerate() {
            if !db.is_empty() || db.expires() > 0 {
                out.push_str(&format!(
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    db.len(),
                    db.expires()
                ));
            }
        }
    }
    Reply::Bulk(out.into_bytes())
}

// ---------------------------------------------------------------------------------------------
// FUNCTION
// ---------------------------------------------------------------------------------------------

/// What Redis's `addReplySubcommandSyntaxError` says.
fn subcommand_syntax(args: &[&[u8]]) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        super::clip(args[1], 128),
        String::from_utf8_lossy(args[0]).to_ascii_uppercase()
    ))
}

/// Split a shebang line into words like Redis's `sdssplitargs`: blanks separate words,
/// double quotes take `\n`-style and `\xHH` escapes, single quotes only `\'`; a closing quote
/// must end the word. `None` for unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(out);
        }
        let mut word = Vec::new();
        let (mut dq, mut sq) = (false, false);
        loop {
            let c = at(p);
            if dq {
                if p >= line.len() {
                    return None;
                }
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && hex(at(p + 2)).is_some()
                    && hex(at(p + 3)).is_some()
                {
                    word.push(hex(at(p + 2))? * 16 + hex(at(p + 3))?);
                    p += 3;
                } else if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    word.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if p + 1 < line.len() && !is_space(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    word.push(c);
                }
            } else if sq {
                if p >= line.len() {
                    return None;
                }
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    word.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !is_space(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    word.push(c);
                }
            } else {
                if p >= line.len() {
                    break;
                }
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        p += 1;
                        break;
                    }
                    b'"' => dq = true,
                    b'\'' => sq = true,
                    _ => word.push(c),
                }
            }
            p += 1;
        }
        out.push(word);
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Validate a library's source like Redis's `functionExtractLibMetaData` and the checks of
/// `functionsCreateWithLibraryCtx` that do not need Lua. Returns the library name.
fn parse_library(code: &[u8]) -> Result<Vec<u8>, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    // Redis looks for the newline in a C string: a NUL before it means there is none.
    let nl = code
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .filter(|&i| code[i] == b'\n');
    let Some(nl) = nl else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = match split_args(&code[..nl]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!("ERR Invalid metadata value given: {}", c_str(part)));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if name.is_empty() || !name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err(
            "ERR Library names can only contain letters, numbers, or underscores(_) \
                    and must be at least one character long"
                .into(),
        );
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(&engine)
        ));
    }
    Ok(name)
}

/// Add a library to `libs` (`functionsCreateWithLibraryCtx` without running it).
fn create_library(libs: &mut Libraries, code: &[u8], replace: bool) -> Result<Vec<u8>, String> {
    let name = parse_library(code)?;
    if libs.contains_key(&name) && !replace {
        return Err(format!(
            "ERR Library '{}' already exists",
            String::from_utf8_lossy(&name)
        ));
    }
    libs.insert(
        name.clone(),
        Library {
            name: name.clone(),
            engine: b"LUA".to_vec(),
            code: code.to_vec(),
        },
    );
    Ok(name)
}

fn function_load(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        let a = args[pos];
        pos += 1;
        if eq_ic(a, "replace") {
            replace = true;
            continue;
        }
        return Reply::err(format!("ERR Unknown option given: {}", c_str(a)));
    }
    match create_library(&mut ctx.ks.functions, args[pos], replace) {
        Ok(name) => {
            ctx.dirty(1);
            Reply::Bulk(name)
        }
        Err(e) => Reply::err(e),
    }
}

fn function_delete(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if ctx.ks.functions.remove(args[2]).is_none() {
        return Reply::err("ERR Library not found");
    }
    ctx.dirty(1);
    Reply::Ok
}

fn function_flush(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() > 3 {
        return subcommand_syntax(args);
    }
    if args.len() == 3 && !eq_ic(args[2], "sync") && !eq_ic(args[2], "async") {
        return Reply::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    ctx.ks.functions.clear();
    ctx.dirty(1);
    Reply::Ok
}

fn function_kill(_ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> Reply {
    Reply::err("NOTBUSY No scripts in execution right now.")
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]. The pattern is a case-insensitive glob.
fn function_list(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if !with_code && eq_ic(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(a, "libraryname") {
            if i >= args.len() - 1 {
                return Reply::err("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(args[i]);
        } else {
            return Reply::err(format!("ERR Unknown argument {}", c_str(a)));
        }
        i += 1;
    }
    let libs = ctx
        .ks
        .functions
        .values()
        .filter(|l| pattern.is_none_or(|p| super::keys::string_match(p, &l.name, true)))
        .map(|l| {
            let mut m = vec![
                Reply::bulk(b"library_name"),
                Reply::bulk(&l.name),
                Reply::bulk(b"engine"),
                Reply::bulk(&l.engine),
                Reply::bulk(b"functions"),
                Reply::Array(Vec::new()),
            ];
            if with_code {
                m.push(Reply::bulk(b"library_code"));
                m.push(Reply::bulk(&l.code));
            }
            Reply::Array(m)
        })
        .collect();
    Reply::Array(libs)
}

/// The RDB version written into and accepted from DUMP payloads.
fn rdb_version(ctx: &Ctx<'_>) -> u16 {
    match ctx.config().profile {
        Profile::Redis70 => 10,
        Profile::Redis72 => 11,
    }
}

/// A string as Redis's `rdbSaveRawString` writes it: small canonical integers as integers,
/// strings over 20 bytes LZF-compressed when that saves at least 4 bytes.
fn write_rdb_string(b: &[u8], out: &mut Vec<u8>) {
    use redkit_formats::{length, lzf, string};
    if b.len() <= 11 {
        if let Some(v) = parse_i64(b) {
            if string::encode_int(v, out) {
                return;
            }
        }
    }
    if b.len() > 20 {
        if let Some(c) = lzf::compress(b) {
            if c.len() <= b.len() - 4 {
                out.push(0xc0 | string::ENC_LZF);
                length::encode(c.len() as u64, out);
                length::encode(b.len() as u64, out);
                out.extend_from_slice(&c);
                return;
            }
        }
    }
    string::encode_raw(b, out);
}

fn function_dump(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> Reply {
    let mut out = Vec::new();
    for lib in ctx.ks.functions.values() {
        out.push(OP_FUNCTION2);
        write_rdb_string(&lib.code, &mut out);
    }
    out.extend_from_slice(&rdb_version(ctx).to_le_bytes());
    let crc = redkit_formats::crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    Reply::Bulk(out)
}

type Libraries = BTreeMap<Vec<u8>, Library>;

/// Read the libraries of a DUMP payload (already verified) into a fresh set, like Redis's
/// `rdbFunctionLoad` into a temporary context. Also returns the names in payload order (the
/// order Redis's temporary dict most likely iterates in, for which conflict is reported).
fn read_payload(data: &[u8]) -> Result<(Libraries, Vec<Vec<u8>>), String> {
    let mut libs = BTreeMap::new();
    let mut order = Vec::new();
    let mut cur = Cursor::new(data, 0, 0);
    let string = |cur: &mut Cursor<'_>, what: &str| -> Result<Vec<u8>, String> {
        cur.string("function")
            .and_then(|s| s.to_vec(0))
            .map_err(|_| format!("ERR Failed loading library {what}"))
    };
    while data.len() - cur.pos() > 10 {
        let t = cur
            .u8("function")
            .map_err(|_| "ERR can not read data type".to_string())?;
        let code = if t == OP_FUNCTION2 {
            string(&mut cur, "payload")?
        } else if t == OP_FUNCTION_PRE_GA {
            // 7.0 release candidates: name, engine, optional description, then the body.
            let name = string(&mut cur, "name")?;
            let engine = string(&mut cur, "engine")?;
            let has_desc = cur
                .length("function")
                .map_err(|_| "ERR Failed loading library description indicator".to_string())?;
            if has_desc != 0 {
                string(&mut cur, "description")?;
            }
            let blob = string(&mut cur, "blob")?;
            let mut code = b"#!".to_vec();
            code.extend_from_slice(&engine);
            code.extend_from_slice(b" name=");
            code.extend_from_slice(&name);
            code.push(b'\n');
            code.extend_from_slice(&blob);
            code
        } else {
            return Err("ERR given type is not a function".into());
        };
        order.push(create_library(&mut libs, &code, false)?);
    }
    Ok((libs, order))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn function_restore(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    if args.len() > 4 {
        return subcommand_syntax(args);
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let mut policy = Policy::Append;
    if args.len() == 4 {
        policy = if eq_ic(args[3], "append") {
            Policy::Append
        } else if eq_ic(args[3], "replace") {
            Policy::Replace
        } else if eq_ic(args[3], "flush") {
            Policy::Flush
        } else {
            return Reply::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        };
    }
    let data = args[2];
    if !payload_footer_ok(data, rdb_version(ctx)) {
        return Reply::err("ERR DUMP payload version or checksum are wrong");
    }
    let (libs, order) = match read_payload(data) {
        Ok(l) => l,
        Err(e) => return Reply::err(e),
    };
    if policy == Policy::Flush {
        ctx.ks.functions = libs;
    } else {
        if policy == Policy::Append {
            if let Some(name) = order.iter().find(|n| ctx.ks.functions.contains_key(*n)) {
                return Reply::err(format!(
                    "ERR Library {} already exists",
                    String::from_utf8_lossy(name)
                ));
            }
        }
        ctx.ks.functions.extend(libs);
    }
    ctx.dirty(1);
    Reply::Ok
}

/// Redis's `verifyDumpPayload`: a 2-byte RDB version no newer than ours, then the CRC64 of
/// everything before it.
fn payload_footer_ok(data: &[u8], max_version: u16) -> bool {
    if data.len() < 10 {
        return false;
    }
    let footer = &data[data.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > max_version {
        return false;
    }
    let crc = redkit_formats::crc64::crc64(0, &data[..data.len() - 8]);
    crc.to_le_bytes() == footer[2..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_headers_like_redis() {
        assert_eq!(
            parse_library(b"#!lua name=mylib\nredis.register_function('f', function() end)"),
            Ok(b"mylib".to_vec())
        );
        assert_eq!(parse_library(b"#!LUA NAME=x\n"), Ok(b"x".to_vec()));
        assert_eq!(parse_library(b"#!lua \"name=a b\"\n").unwrap_err(), "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
        assert_eq!(
            parse_library(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            parse_library(b"#!lua name=x").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            parse_library(b"#!lua \"name=x\n").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            parse_library(b"#!lua\n").unwrap_err(),
            "ERR Library name was not given"
        );
        assert_eq!(
            parse_library(b"#!lua name=a name=b\n").unwrap_err(),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            parse_library(b"#!lua foo=bar name=a\n").unwrap_err(),
            "ERR Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            parse_library(b"#!js name=a\n").unwrap_err(),
            "ERR Engine 'js' not found"
        );
    }

    #[test]
    fn split_args_quotes() {
        assert_eq!(
            split_args(b"a \"b c\" 'd\\'e' \"\\x41\\n\"").unwrap(),
            vec![
                b"a".to_vec(),
                b"b c".to_vec(),
                b"d'e".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert!(split_args(b"\"a\"b").is_none());
        assert!(split_args(b"'a").is_none());
    }
}

//! Comparing two redis-servers that should hold the same data (used by tests/convert.rs and
//! tests/rewrite.rs): [`assert_same_server`] and what it may leave out ([`Loose`]), plus the
//! helpers those tests share to fill servers, run redkit and pipe files into redis-cli.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// What a comparison may leave out, for targets that cannot hold everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loose {
    /// The second server loaded an RDB 9 (stream type 15): stream counters (`entries-added`,
    /// `max-deleted-entry-id`, `recorded-first-entry-id`) and group read counters
    /// (`entries-read`, `lag`) are not compared.
    pub v1_streams: bool,
    /// The second server is expected to hold no functions at all.
    pub no_functions_in_b: bool,
    /// The second server was loaded from commands: a zset score of -0 may come back as 0 (a
    /// zset created by ZADD starts as a listpack, which stores an integral score as an integer,
    /// so the sign of zero is lost for whatever the first batches add, in Redis's own AOF too).
    pub zset_zero_sign: bool,
}

/// One key as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    pub ty: String,
    pub digest: String,
    pub pexpiretime: i64,
    /// Normalised `XINFO STREAM key FULL COUNT 0` (streams only).
    pub stream: Option<String>,
}

/// A whole server as the comparison sees it.
#[derive(Debug, Clone)]
pub struct ServerState {
    pub digest: String,
    pub dbs: BTreeMap<u64, BTreeMap<Vec<u8>, KeyState>>,
    pub function_list: String,
    pub libraries: usize,
    pub function_dump: Vec<u8>,
}

impl ServerState {
    pub fn keys(&self) -> usize {
        self.dbs.values().map(|d| d.len()).sum()
    }
}

/// Read everything [`assert_same_server`] compares from `s`.
pub fn snapshot(s: &mut RedisServer, loose: Loose) -> ServerState {
    let digest = s.ok(&["DEBUG", "DIGEST"]).text();
    let mut dbs = BTreeMap::new();
    for db in 0..16u64 {
        let r = s.pipeline_ok(&[cmdv!["SELECT", db.to_string()], cmdv!["KEYS", "*"]]);
        let mut keys = r[1].bulks();
        if keys.is_empty() {
            continue;
        }
        keys.sort();
        let mut cmds = Vec::with_capacity(keys.len() * 3);
        for k in &keys {
            cmds.push(cmdv!["TYPE", k]);
            cmds.push(cmdv!["DEBUG", "DIGEST-VALUE", k]);
            cmds.push(cmdv!["PEXPIRETIME", k]);
        }
        let replies = s.pipeline_ok(&cmds);
        let mut map = BTreeMap::new();
        for (k, r) in keys.iter().zip(replies.chunks(3)) {
            let ty = r[0].text();
            let digest = match &r[1] {
                Reply::Array(Some(a)) if a.len() == 1 => a[0].text(),
                other => other.text(),
            };
            let stream = if ty == "stream" {
                let full = s.pipeline_ok(&[cmdv!["XINFO", "STREAM", k, "FULL", "COUNT", "0"]]);
                Some(render_stream(&full[0], loose))
            } else {
                None
            };
            map.insert(
                k.clone(),
                KeyState {
                    ty,
                    digest,
                    pexpiretime: r[2].int(),
                    stream,
                },
            );
        }
        dbs.insert(db, map);
    }
    s.ok(&["SELECT", "0"]);
    let list = s.ok(&["FUNCTION", "LIST", "WITHCODE"]);
    let libraries = list.array().len();
    let function_list = render_functions(&list);
    let function_dump = s.ok(&["FUNCTION", "DUMP"]).bulk().to_vec();
    ServerState {
        digest,
        dbs,
        function_list,
        libraries,
        function_dump,
    }
}

/// A reply as one line of text (bulk strings escaped, arrays in brackets).
fn render_reply(r: &Reply, out: &mut String) {
    match r {
        Reply::Simple(b) | Reply::Bulk(Some(b)) => out.push_str(&show_bytes(b)),
        Reply::Error(e) => out.push_str(&format!("ERR({})", show_bytes(e))),
        Reply::Int(i) => out.push_str(&i.to_string()),
        Reply::Bulk(None) | Reply::Array(None) => out.push_str("nil"),
        Reply::Array(Some(a)) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render_reply(x, out);
            }
            out.push(']');
        }
    }
}

/// `name=value` pairs of a RESP2 map reply, in the server's order, leaving out `skip`.
fn render_map(
    r: &Reply,
    skip: &[&str],
    out: &mut String,
    mut nested: impl FnMut(&str, &Reply, &mut String) -> bool,
) {
    out.push('{');
    for pair in r.array().chunks(2) {
        let name = pair[0].text();
        if skip.contains(&name.as_str()) {
            continue;
        }
        out.push_str(&name);
        out.push('=');
        if !nested(&name, &pair[1], out) {
            render_reply(&pair[1], out);
        }
        out.push(' ');
    }
    out.push('}');
}

/// `XINFO STREAM key FULL` without what depends on node layout or load time (see the file
/// comment).
fn render_stream(full: &Reply, loose: Loose) -> String {
    let mut top_skip = vec!["radix-tree-keys", "radix-tree-nodes"];
    let mut group_skip = vec![];
    if loose.v1_streams {
        top_skip.extend([
            "entries-added",
            "max-deleted-entry-id",
            "recorded-first-entry-id",
        ]);
        group_skip.extend(["entries-read", "lag"]);
    }
    let mut out = String::new();
    render_map(full, &top_skip, &mut out, |name, v, out| {
        if name != "groups" {
            return false;
        }
        out.push('[');
        for g in v.array() {
            render_map(g, &group_skip, out, |name, v, out| {
                if name != "consumers" {
                    return false;
                }
                out.push('[');
                for c in v.array() {
                    render_map(c, &["seen-time", "active-time"], out, |_, _, _| false);
                }
                out.push(']');
                true
            });
        }
        out.push(']');
        true
    });
    out
}

/// FUNCTION LIST WITHCODE with libraries and their functions sorted by name.
fn render_functions(list: &Reply) -> String {
    let mut libs: Vec<String> = list
        .array()
        .iter()
        .map(|lib| {
            let mut s = String::new();
            render_map(lib, &[], &mut s, |name, v, out| {
                if name != "functions" {
                    return false;
                }
                let mut fs: Vec<String> = v
                    .array()
                    .iter()
                    .map(|f| {
                        let mut t = String::new();
                        render_reply(f, &mut t);
                        t
                    })
                    .collect();
                fs.sort();
                out.push_str(&fs.join(" "));
                true
            });
            s
        })
        .collect();
    libs.sort();
    libs.join("\n")
}

/// The first difference of two long strings, with some context.
fn first_text_diff(a: &str, b: &str) -> String {
    let i = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = i.saturating_sub(120);
    let cut = |s: &str| -> String { s.chars().skip(from).take(300).collect() };
    format!(
        "at char {i}:\n      a: ...{}\n      b: ...{}",
        cut(a),
        cut(b)
    )
}

/// Compare two snapshots; one message per difference.
pub fn diff_states(a: &ServerState, b: &ServerState, loose: Loose) -> Vec<String> {
    let mut errs = Vec::new();
    let dbs: std::collections::BTreeSet<u64> = a.dbs.keys().chain(b.dbs.keys()).copied().collect();
    let empty = BTreeMap::new();
    for db in dbs {
        let ka = a.dbs.get(&db).unwrap_or(&empty);
        let kb = b.dbs.get(&db).unwrap_or(&empty);
        for (k, sa) in ka {
            let Some(sb) = kb.get(k) else {
                errs.push(format!(
                    "db {db} key {}: only in a ({})",
                    show_bytes(k),
                    sa.ty
                ));
                continue;
            };
            if sa.ty != sb.ty {
                errs.push(format!(
                    "db {db} key {}: type {} vs {}",
                    show_bytes(k),
                    sa.ty,
                    sb.ty
                ));
                continue;
            }
            if sa.digest != sb.digest {
                errs.push(format!(
                    "db {db} key {} ({}): DEBUG DIGEST-VALUE {} vs {}",
                    show_bytes(k),
                    sa.ty,
                    sa.digest,
                    sb.digest
                ));
            }
            if sa.pexpiretime != sb.pexpiretime {
                errs.push(format!(
                    "db {db} key {} ({}): PEXPIRETIME {} vs {}",
                    show_bytes(k),
                    sa.ty,
                    sa.pexpiretime,
                    sb.pexpiretime
                ));
            }
            if let (Some(x), Some(y)) = (&sa.stream, &sb.stream) {
                if x != y {
                    errs.push(format!(
                        "db {db} key {}: XINFO STREAM FULL differs {}",
                        show_bytes(k),
                        first_text_diff(x, y)
                    ));
                }
            }
        }
        for (k, sb) in kb {
            if !ka.contains_key(k) {
                errs.push(format!(
                    "db {db} key {}: only in b ({})",
                    show_bytes(k),
                    sb.ty
                ));
            }
        }
    }
    if a.digest != b.digest {
        errs.push(format!("DEBUG DIGEST {} vs {}", a.digest, b.digest));
    }
    if loose.no_functions_in_b {
        if b.libraries != 0 {
            errs.push(format!(
                "b should hold no functions, has:\n{}",
                b.function_list
            ));
        }
    } else {
        if a.function_list != b.function_list {
            errs.push(format!(
                "FUNCTION LIST WITHCODE differs {}",
                first_text_diff(&a.function_list, &b.function_list)
            ));
        }
        if a.libraries <= 1 && b.libraries <= 1 && a.function_dump != b.function_dump {
            errs.push(format!(
                "FUNCTION DUMP differs: {} vs {}",
                show_bytes(&a.function_dump),
                show_bytes(&b.function_dump)
            ));
        }
    }
    errs
}

pub fn fail_with(what: &str, errs: &[String]) {
    if errs.is_empty() {
        return;
    }
    let mut msg = format!(
        "{what}: {} difference(s) between server a and server b:\n",
        errs.len()
    );
    for e in errs.iter().take(30) {
        msg.push_str("  ");
        msg.push_str(e);
        msg.push('\n');
    }
    if errs.len() > 30 {
        msg.push_str("  ...\n");
    }
    panic!("{msg}");
}

/// Panics unless `a` and `b` hold the same data (see the file comment for what is compared).
/// Returns a's snapshot, so callers can check what the data covered.
pub fn assert_same_server(a: &mut RedisServer, b: &mut RedisServer, what: &str) -> ServerState {
    assert_same_server_with(a, b, what, Loose::default())
}

/// [`assert_same_server`] leaving out what `loose` says.
pub fn assert_same_server_with(
    a: &mut RedisServer,
    b: &mut RedisServer,
    what: &str,
    loose: Loose,
) -> ServerState {
    let sa = snapshot(a, loose);
    let mut sb = snapshot(b, loose);
    if loose.zset_zero_sign {
        excuse_zero_sign(a, b, &sa, &mut sb);
    }
    let mut errs = diff_states(&sa, &sb, loose);
    explain_digests(a, b, &sa, &sb, &mut errs);
    fail_with(what, &errs);
    sa
}

/// Zsets whose only difference is -0 against 0 as a score count as equal (see
/// [`Loose::zset_zero_sign`]); so does the dataset digest when nothing else differs.
fn excuse_zero_sign(
    a: &mut RedisServer,
    b: &mut RedisServer,
    sa: &ServerState,
    sb: &mut ServerState,
) {
    let zero = |v: Vec<Vec<u8>>| -> Vec<Vec<u8>> {
        v.into_iter()
            .enumerate()
            .map(|(i, x)| {
                if i % 2 == 1 && x == b"-0" {
                    b"0".to_vec()
                } else {
                    x
                }
            })
            .collect()
    };
    for (db, keys) in &sa.dbs {
        for (k, ka) in keys {
            let Some(kb) = sb.dbs.get_mut(db).and_then(|d| d.get_mut(k)) else {
                continue;
            };
            if ka.ty == "zset" && kb.ty == "zset" && ka.digest != kb.digest {
                let va = zero(value_dump(a, *db, k, "zset"));
                let vb = zero(value_dump(b, *db, k, "zset"));
                if va == vb {
                    kb.digest = ka.digest.clone();
                }
            }
        }
    }
    let same_keys = sa.dbs.len() == sb.dbs.len()
        && sa.dbs.iter().all(|(db, keys)| {
            sb.dbs.get(db).is_some_and(|kb| {
                kb.len() == keys.len()
                    && keys.iter().all(|(k, ka)| {
                        kb.get(k).is_some_and(|x| {
                            x.digest == ka.digest && (x.pexpiretime > 0) == (ka.pexpiretime > 0)
                        })
                    })
            })
        });
    if same_keys {
        sb.digest = sa.digest.clone();
    }
}

/// A key's value as a list of byte strings, in a canonical order (sets and hashes sorted).
fn value_dump(s: &mut RedisServer, db: u64, key: &[u8], ty: &str) -> Vec<Vec<u8>> {
    let c = match ty {
        "string" => cmdv!["GET", key],
        "list" => cmdv!["LRANGE", key, "0", "-1"],
        "set" => cmdv!["SMEMBERS", key],
        "zset" => cmdv!["ZRANGE", key, "0", "-1", "WITHSCORES"],
        "hash" => cmdv!["HGETALL", key],
        "stream" => cmdv!["XRANGE", key, "-", "+"],
        _ => return Vec::new(),
    };
    let r = s.pipeline_ok(&[cmdv!["SELECT", db.to_string()], c, cmdv!["SELECT", "0"]]);
    let mut out = Vec::new();
    render_flat(&r[1], &mut out);
    match ty {
        "set" => out.sort(),
        "hash" => {
            let mut pairs: Vec<Vec<u8>> = out.chunks(2).map(|p| p.concat()).collect();
            pairs.sort();
            out = pairs;
        }
        _ => {}
    }
    out
}

fn render_flat(r: &Reply, out: &mut Vec<Vec<u8>>) {
    match r {
        Reply::Array(Some(a)) => a.iter().for_each(|x| render_flat(x, out)),
        Reply::Bulk(Some(b)) | Reply::Simple(b) => out.push(b.clone()),
        Reply::Int(i) => out.push(i.to_string().into_bytes()),
        _ => out.push(b"nil".to_vec()),
    }
}

/// For the first keys whose digests differ, say where their values differ.
fn explain_digests(
    a: &mut RedisServer,
    b: &mut RedisServer,
    sa: &ServerState,
    sb: &ServerState,
    errs: &mut Vec<String>,
) {
    let mut shown = 0;
    for (db, keys) in &sa.dbs {
        for (k, ka) in keys {
            let Some(kb) = sb.dbs.get(db).and_then(|d| d.get(k)) else {
                continue;
            };
            if ka.digest == kb.digest || ka.ty != kb.ty || shown >= 5 {
                continue;
            }
            shown += 1;
            let va = value_dump(a, *db, k, &ka.ty);
            let vb = value_dump(b, *db, k, &kb.ty);
            let i = va
                .iter()
                .zip(&vb)
                .position(|(x, y)| x != y)
                .unwrap_or(va.len().min(vb.len()));
            let show = |v: &[Vec<u8>]| {
                v.iter()
                    .skip(i.saturating_sub(2))
                    .take(5)
                    .map(|x| show_bytes(x))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            errs.push(format!(
                "  db {db} key {}: {} vs {} items; from item {}: a: {} | b: {}",
                show_bytes(k),
                va.len(),
                vb.len(),
                i.saturating_sub(2),
                show(&va),
                show(&vb)
            ));
        }
    }
}

/// A server that loads the appendonlydir `dir`, panicking with its log when it refuses.
pub fn server_from_aof_dir(dir: &Path) -> RedisServer {
    RedisServer::start_with_aof_dir(dir, &[])
}

/// Wait for a BGREWRITEAOF to finish.
pub fn bgrewrite(srv: &mut RedisServer) {
    srv.ok(&["BGREWRITEAOF"]);
    for _ in 0..400 {
        let info = srv.ok(&["INFO", "persistence"]).text();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("BGREWRITEAOF did not finish");
}

/// How an output made of commands is compared with [`redis_own_aof_rewrite`]'s server.
pub const COMMANDS: Loose = Loose {
    v1_streams: false,
    no_functions_in_b: false,
    zset_zero_sign: true,
};

/// INFO persistence field `name`.
fn persistence_field(s: &mut RedisServer, name: &str) -> String {
    let info = s.ok(&["INFO", "persistence"]).text();
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("INFO persistence has no {name}:\n{info}"))
        .trim()
        .to_string()
}

/// The reference for an output made of commands: a fresh server loaded from what Redis 7.0's
/// own AOF rewrite (RESP, no preamble) of `a`'s data writes. Some things do not survive the
/// command form even in Redis: PEL entries whose stream entry was deleted (XCLAIM drops them)
/// and the sign of a -0 score written while the zset is still a listpack (the first ZADD batch
/// of a big zset).
pub fn redis_own_aof_rewrite(a: &mut RedisServer) -> RedisServer {
    a.ok(&["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
    let before: u64 = persistence_field(a, "aof_rewrites").parse().unwrap();
    if persistence_field(a, "aof_enabled") == "1" {
        a.ok(&["BGREWRITEAOF"]);
    } else {
        a.ok(&["CONFIG", "SET", "appendonly", "yes"]);
    }
    for _ in 0..2000 {
        let done: u64 = persistence_field(a, "aof_rewrites").parse().unwrap();
        if done > before
            && persistence_field(a, "aof_rewrite_in_progress") == "0"
            && persistence_field(a, "aof_rewrite_scheduled") == "0"
        {
            assert_eq!(persistence_field(a, "aof_last_bgrewrite_status"), "ok");
            return RedisServer::start_with_aof_dir(&a.dir.join("appendonlydir"), &[]);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("redis-server's AOF rewrite did not finish");
}

/// A Lua library whose `wset` writes (FCALL is logged as its effects).
pub const WORKLOAD_LIB: &str = "#!lua name=wl\n\
    redis.register_function('wset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n\
    redis.register_function{function_name='wget', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n";

/// One random write of a mixed workload (every type; what Redis rewrites when it logs it:
/// SPOP, INCRBYFLOAT, EXPIRE, XREADGROUP, FCALL...).
fn workload_cmd(rng: &mut Rng, far_ms: i64) -> Cmd {
    let n = rng.below(6);
    let k = |t: &str| format!("{t}:{n}");
    match rng.below(40) {
        0 => cmdv!["SET", k("s"), rng.alnum(8)],
        1 => cmdv![
            "SET",
            k("s"),
            rng.below(100_000).to_string(),
            "EX",
            "100000000"
        ],
        2 => cmdv!["INCRBY", k("n"), rng.below(1000).to_string()],
        3 => cmdv!["INCRBYFLOAT", k("f"), "1.25"],
        4 => cmdv!["APPEND", k("s"), "xy"],
        5 => cmdv!["RPUSH", k("l"), rng.alnum(5), rng.below(100).to_string()],
        6 => cmdv!["LPOP", k("l")],
        7 => {
            let mut c = cmdv!["RPUSH", "biglist"];
            for _ in 0..40 {
                c.push(rng.alnum(6));
            }
            c
        }
        8 => cmdv!["SADD", k("set"), rng.below(30).to_string(), rng.alnum(3)],
        9 => cmdv!["SPOP", k("set")],
        10 => {
            let mut c = cmdv!["SADD", "bigintset"];
            for _ in 0..60 {
                c.push(rng.below(1_000_000).to_string().into_bytes());
            }
            c
        }
        11 => cmdv!["ZADD", k("z"), rng.below(50).to_string(), rng.alnum(4)],
        12 => cmdv!["ZINCRBY", k("z"), "2.5", rng.alnum(1)],
        13 => cmdv!["ZPOPMIN", k("z")],
        14 => {
            let mut c = cmdv!["ZADD", "bigzset"];
            for _ in 0..30 {
                c.push(rng.below(10_000).to_string().into_bytes());
                c.push(rng.alnum(5));
            }
            c
        }
        15 => cmdv!["HSET", k("h"), rng.alnum(2), rng.alnum(6)],
        16 => cmdv!["HINCRBY", k("h"), "cnt", "3"],
        17 => cmdv!["HDEL", k("h"), rng.alnum(2)],
        18 => {
            let mut c = cmdv!["HSET", "bighash"];
            for _ in 0..70 {
                c.push(rng.alnum(6));
                c.push(rng.alnum(3));
            }
            c
        }
        19 | 20 => cmdv![
            "XADD",
            k("x"),
            "*",
            "f",
            rng.alnum(4),
            "g",
            rng.below(99).to_string()
        ],
        21 => cmdv!["XADD", k("x"), "MAXLEN", "30", "*", "a", "1"],
        22 => cmdv!["XGROUP", "CREATE", k("x"), "g", "0", "MKSTREAM"],
        23 | 24 => cmdv![
            "XREADGROUP",
            "GROUP",
            "g",
            if rng.chance(1, 2) { "alice" } else { "bob" },
            "COUNT",
            "3",
            "STREAMS",
            k("x"),
            ">"
        ],
        25 => cmdv!["XACK", k("x"), "g", format!("0-{}", rng.below(3))],
        26 => cmdv!["XAUTOCLAIM", k("x"), "g", "carol", "0", "0-0", "COUNT", "2"],
        27 => cmdv!["XDEL", k("x"), "0-1"],
        28 => cmdv!["XGROUP", "CREATECONSUMER", k("x"), "g", "dave"],
        29 => cmdv!["XTRIM", k("x"), "MAXLEN", "25"],
        30 => cmdv!["EXPIRE", k("l"), "100000"],
        31 => cmdv!["PEXPIREAT", k("h"), far_ms.to_string()],
        32 => cmdv!["PERSIST", k("l")],
        33 => cmdv!["DEL", k("s")],
        34 => cmdv!["SELECT", rng.below(3).to_string()],
        35 => cmdv!["FCALL", "wset", "1", k("fs"), rng.alnum(5)],
        36 => cmdv!["SETBIT", k("bits"), rng.below(300).to_string(), "1"],
        37 => cmdv!["PFADD", k("hll"), rng.alnum(3)],
        38 => cmdv!["GETEX", k("s"), "PX", "90000000"],
        _ => cmdv![
            "LMOVE",
            k("l"),
            format!("l:{}", rng.below(6)),
            "LEFT",
            "RIGHT"
        ],
    }
}

/// Run `commands` random writes on `srv` (some inside MULTI/EXEC). Loads [`WORKLOAD_LIB`] first
/// unless it is there.
pub fn workload(srv: &mut RedisServer, seed: u64, commands: usize) {
    let _ = srv.cmd(&[b"FUNCTION", b"LOAD", WORKLOAD_LIB.as_bytes()]);
    let mut rng = Rng::new(seed);
    let far = srv.now_ms() + 86_400_000 * 3650;
    let mut cmds = Vec::new();
    while cmds.len() < commands {
        if rng.chance(1, 12) {
            cmds.push(cmdv!["MULTI"]);
            for _ in 0..rng.range(1, 4) {
                cmds.push(workload_cmd(&mut rng, far));
            }
            cmds.push(cmdv!["EXEC"]);
        } else {
            cmds.push(workload_cmd(&mut rng, far));
        }
    }
    // WRONGTYPE and similar errors are part of the mix: Redis logs nothing for them.
    srv.pipeline(&cmds);
    srv.ok(&["SELECT", "0"]);
}

/// All files of a directory, by name.
pub fn dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("dir entry").path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, bytes)
        })
        .collect()
}

/// `redkit ARGS`, which must exit 0; returns stderr (the report).
pub fn redkit_ok(args: &[&OsStr]) -> String {
    let run = redkit_run(args);
    assert_eq!(run.code, 0, "`{}` failed:\n{}", run.shown, run.all_text());
    run.stderr
}

/// `redis-check-aof FILE` must say valid.
pub fn assert_check_aof_valid(file: &Path) {
    check_tool("redis-check-aof");
    let out = Command::new("redis-check-aof")
        .arg(file)
        .output()
        .expect("cannot run redis-check-aof");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && (text.contains("is valid") || text.contains("are valid")),
        "redis-check-aof {} says:\n{text}",
        file.display()
    );
}

/// A server with appendonly on, a workload, a rewrite, more workload: its appendonlydir has a
/// base (RDB or RESP) and an incr file of mixed commands.
pub fn aof_server(preamble: bool, seed: u64) -> RedisServer {
    let mut s = RedisServer::start(&[
        ("appendonly", "yes"),
        ("aof-use-rdb-preamble", if preamble { "yes" } else { "no" }),
        ("aof-timestamp-enabled", "yes"),
    ]);
    workload(&mut s, seed, 1200);
    bgrewrite(&mut s);
    workload(&mut s, seed + 1, 1200);
    s
}

pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

/// An `OsStr` argument.
pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

//! Generic key commands (DEL, EXISTS, the EXPIRE family, RENAME, MOVE, COPY, SWAPDB, KEYS,
//! OBJECT ...), server commands (SELECT, FLUSHDB, FUNCTION ...) and SORT against a real
//! redis-server 7.0.
//!
//! String keys are created on both sides by hand (SET on redis, `Db::set` on redkit) so these
//! tests do not depend on the string commands; `compare_strings` then compares every key's
//! value, encoding and expiry directly. Tests that need the other types' commands have
//! `cross_type` in their names and run once every type is merged.

mod common;
mod oracle;

use common::{Reply, Rng};
use oracle::{Case, Norm, Pair};
use redkit::keyspace::string::{string_bytes, string_value};

/// Create the string `key` = `value` in the current db of both sides.
fn set_both(p: &mut Pair, key: &[u8], value: &[u8]) {
    let r = p.redis.cmd(&[b"SET", key, value]);
    assert_eq!(r, Reply::Simple(b"OK".to_vec()));
    let db = p.sess.db;
    p.ex.ks.dbs[db].set(key, string_value(value));
    p.history
        .push(vec![b"SET".to_vec(), key.to_vec(), value.to_vec()]);
}

/// Compare every database holding only strings: key sets, values, encodings, expiries.
fn compare_strings(p: &mut Pair) {
    let saved = p.sess.db;
    for db in 0..p.ex.ks.dbs.len() {
        let sel = args![b"SELECT", db.to_string()];
        p.run(&[Case::exact(sel)]);
        let mut theirs = p.redis.cmd(&[b"KEYS", b"*"]).bulks();
        let now = redkit::now_ms();
        let mut ours: Vec<Vec<u8>> = p.ex.ks.dbs[db]
            .map
            .iter()
            .filter(|(_, e)| e.expire().is_none_or(|t| t >= now))
            .map(|(k, _)| k.to_vec())
            .collect();
        theirs.sort();
        ours.sort();
        assert_eq!(theirs, ours, "db {db} keys differ; history:\n{}", recent(p));
        for key in &theirs {
            let want = p.redis.cmd(&[b"GET", key]);
            let entry = p.ex.ks.dbs[db].get(key).expect("key listed").clone();
            let got = string_bytes(&entry.value).map(|b| b.into_owned());
            assert_eq!(want, Reply::Bulk(got), "db {db} value of {key:?}");
            p.run(&[
                Case::exact(args![b"OBJECT", b"ENCODING", key]),
                Case::exact(args![b"TYPE", key]),
            ]);
            let want = p.redis.cmd(&[b"PEXPIRETIME", key]).int();
            let got = entry.expire().unwrap_or(-1);
            assert!(
                want == got || (want > 0 && got > 0 && (want - got).abs() <= 1000),
                "db {db} key {key:?}: PEXPIRETIME redis {want} redkit {got}\n{}",
                recent(p)
            );
        }
    }
    p.run(&[Case::exact(args![b"SELECT", saved.to_string()])]);
}

fn recent(p: &Pair) -> String {
    let from = p.history.len().saturating_sub(30);
    p.history[from..]
        .iter()
        .map(|c| format!("  {}\n", oracle::show(c)))
        .collect()
}

const KEYS: &[&[u8]] = &[
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"key:a",
    b"key:b",
    b"a[b",
    b"x*y",
    b"x\\y",
    b"",
    b"K0",
    b"\xff\x00z",
];

fn pick_key(rng: &mut Rng) -> Vec<u8> {
    rng.pick(KEYS).to_vec()
}

fn pick_db(rng: &mut Rng) -> Vec<u8> {
    match rng.below(14) {
        0 => b"16".to_vec(),
        1 => b"-1".to_vec(),
        2 => b"x".to_vec(),
        3 => b"4294967296".to_vec(),
        4 => b"99999999999999999999".to_vec(),
        _ => rng.below(4).to_string().into_bytes(),
    }
}

fn expire_opts(rng: &mut Rng, cmd: &mut Vec<Vec<u8>>) {
    for _ in 0..rng.below(3) {
        let o = rng
            .pick(&[&b"NX"[..], b"xx", b"GT", b"lt", b"nx", b"XX", b"bad"])
            .to_vec();
        if o == b"bad" && !rng.chance(1, 4) {
            continue;
        }
        cmd.push(o);
    }
}

/// A far-future absolute time base (unix seconds) for EXPIREAT, so replies do not depend on
/// the clock.
const FUTURE_S: i64 = 4_000_000_000;

fn time_arg(rng: &mut Rng, name: &[u8]) -> Vec<u8> {
    let ms = name.starts_with(b"P") || name.starts_with(b"p");
    let abs = name.ends_with(b"AT") || name.ends_with(b"at");
    match rng.below(20) {
        0 => b"notanumber".to_vec(),
        1 => b"9223372036854775807".to_vec(),
        2 => b"-9223372036854775808".to_vec(),
        3 => b"9223372036854775".to_vec(),
        4 => b"9223372036854776".to_vec(),
        5 => b"-9223372036854775".to_vec(),
        6 => b"-1".to_vec(),
        7 => b"0".to_vec(),
        8 => b"1.5".to_vec(),
        _ => {
            let secs = if abs {
                FUTURE_S + rng.below(6) as i64
            } else {
                1000 + rng.below(6) as i64
            };
            // Millisecond values stay far from a half-second boundary so TTL's rounding is
            // the same on both sides.
            let v = if ms {
                secs * 1000 + 100 * rng.below(3) as i64
            } else {
                secs
            };
            v.to_string().into_bytes()
        }
    }
}

/// One random step: `None` creates a key by hand, `Some(case)` runs a command on both sides.
fn step(rng: &mut Rng) -> Option<Case> {
    let k = pick_key(rng);
    let c = match rng.below(30) {
        0..=5 => return None,
        6 => {
            let mut cmd = vec![rng.pick(&[&b"DEL"[..], b"UNLINK"]).to_vec()];
            for _ in 0..rng.range(1, 3) {
                cmd.push(pick_key(rng));
            }
            Case::exact(cmd)
        }
        7 => {
            let mut cmd = vec![rng.pick(&[&b"EXISTS"[..], b"TOUCH"]).to_vec()];
            for _ in 0..rng.range(1, 4) {
                cmd.push(pick_key(rng));
            }
            Case::exact(cmd)
        }
        8 => Case::exact(args![b"TYPE", k]),
        9..=12 => {
            let name = rng
                .pick(&[
                    &b"EXPIRE"[..],
                    b"PEXPIRE",
                    b"EXPIREAT",
                    b"PEXPIREAT",
                    b"expire",
                ])
                .to_vec();
            let t = time_arg(rng, &name);
            let mut cmd = vec![name, k, t];
            expire_opts(rng, &mut cmd);
            Case::exact(cmd)
        }
        13 => Case::exact(args![b"PERSIST", k]),
        14 => Case::exact(args![b"TTL", k]),
        15 => Case::with(
            Norm::Shape,
            args![rng.pick(&[&b"PTTL"[..], b"EXPIRETIME", b"PEXPIRETIME"]), k],
        ),
        16 => {
            let dst = if rng.chance(1, 6) {
                k.clone()
            } else {
                pick_key(rng)
            };
            Case::exact(args![rng.pick(&[&b"RENAME"[..], b"RENAMENX"]), k, dst])
        }
        17 => Case::exact(args![b"MOVE", k, pick_db(rng)]),
        18 | 19 => {
            let dst = if rng.chance(1, 6) {
                k.clone()
            } else {
                pick_key(rng)
            };
            let mut cmd = args![b"COPY", k, dst];
            for _ in 0..rng.below(3) {
                match rng.below(6) {
                    0 | 1 => cmd.push(b"REPLACE".to_vec()),
                    2..=4 => {
                        cmd.push(b"DB".to_vec());
                        if !rng.chance(1, 10) {
                            cmd.push(pick_db(rng));
                        }
                    }
                    _ => cmd.push(b"bogus".to_vec()),
                }
            }
            Case::exact(cmd)
        }
        20 => Case::exact(args![b"SWAPDB", pick_db(rng), pick_db(rng)]),
        21 => match rng.below(12) {
            0 => Case::exact(args![b"FLUSHDB"]),
            1 => Case::exact(args![b"FLUSHDB", b"async"]),
            2 => Case::exact(args![b"FLUSHDB", b"bogus"]),
            3 => Case::exact(args![b"FLUSHALL", b"SYNC", b"x"]),
            _ => Case::exact(args![b"DBSIZE"]),
        },
        22 => Case::with(Norm::Unordered, args![b"KEYS", glob(rng)]),
        23 => Case::exact(args![b"SELECT", pick_db(rng)]),
        24 => match rng.below(7) {
            0 => Case::exact(args![b"OBJECT", b"ENCODING", k]),
            1 => Case::with(Norm::Shape, args![b"OBJECT", b"REFCOUNT", k]),
            2 => Case::with(Norm::Shape, args![b"OBJECT", b"IDLETIME", k]),
            3 => Case::exact(args![b"OBJECT", b"FREQ", k]),
            4 => Case::exact(args![b"OBJECT", b"HELP"]),
            5 => Case::exact(args![b"OBJECT", b"NOPE", k]),
            _ => Case::exact(args![b"OBJECT", b"encoding"]),
        },
        25 => Case::with(Norm::Shape, args![b"RANDOMKEY"]),
        26 => {
            // Wrong arity.
            const BAD: &[&[&str]] = &[
                &["EXPIRE", "k0"],
                &["RENAME", "k0"],
                &["MOVE", "k0"],
                &["COPY", "k0"],
                &["TYPE"],
                &["TYPE", "a", "b"],
                &["OBJECT"],
                &["KEYS"],
                &["SWAPDB", "1"],
                &["DEL"],
                &["PERSIST", "a", "b"],
                &["DBSIZE", "x"],
                &["ECHO"],
                &["SELECT"],
            ];
            let cmd: Vec<&[u8]> = rng.pick(BAD).iter().map(|a| a.as_bytes()).collect();
            Case::new(Norm::Exact, &cmd)
        }
        27 => Case::exact(args![b"ECHO", k]),
        _ => Case::exact(args![b"EXISTS", k, k]),
    };
    Some(c)
}

/// A random glob over the characters that matter to the matcher.
fn glob(rng: &mut Rng) -> Vec<u8> {
    const PARTS: &[&[u8]] = &[
        b"*", b"?", b"k", b"0", b"1", b"[", b"]", b"^", b"-", b"\\", b"a", b"y", b":", b"[a-z]",
        b"[^k]", b"[0-2]", b"K", b"x", b"\xff",
    ];
    let n = rng.below(6) as usize;
    (0..n).flat_map(|_| rng.pick(PARTS).to_vec()).collect()
}

fn value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => rng.below(20000).to_string().into_bytes(),
        1 => (rng.next_u64() as i64).to_string().into_bytes(),
        2 => rng.alnum(50),
        3 => Vec::new(),
        _ => {
            let n = rng.range(1, 8) as usize;
            rng.alnum(n)
        }
    }
}

fn random_run(seed: u64, steps: usize) {
    let mut p = Pair::start();
    let mut rng = Rng::new(seed);
    for i in 0..steps {
        match step(&mut rng) {
            None => {
                let k = pick_key(&mut rng);
                let v = value(&mut rng);
                set_both(&mut p, &k, &v);
            }
            Some(c) => p.run(&[c]),
        }
        if i % 150 == 149 {
            compare_strings(&mut p);
        }
    }
    compare_strings(&mut p);
}

#[test]
fn random_generic_commands_seed_1() {
    random_run(1, 6000);
}

#[test]
fn random_generic_commands_seed_2() {
    random_run(2, 6000);
}

#[test]
fn random_generic_commands_seed_3() {
    random_run(3, 10000);
}

/// Keys that have expired but are still stored (Redis's active expiry is switched off) meet
/// every command's lazy expiry.
#[test]
fn lazy_expiry_matches_redis() {
    let mut p = Pair::start();
    p.redis.ok(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let mut cases = Vec::new();
    for k in ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"] {
        set_both(&mut p, k.as_bytes(), b"v");
        cases.push(Case::exact(args![b"PEXPIRE", k, b"30"]));
    }
    set_both(&mut p, b"x1", b"7");
    set_both(&mut p, b"x2", b"8");
    p.run(&cases);
    p.run(&[Case::exact(args![b"SELECT", b"1"])]);
    set_both(&mut p, b"x1", b"old");
    set_both(&mut p, b"x2", b"old");
    p.run(&[
        Case::exact(args![b"PEXPIRE", b"x1", b"30"]),
        Case::exact(args![b"PEXPIRE", b"x2", b"30"]),
        Case::exact(args![b"SELECT", b"0"]),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    p.run(&[
        Case::exact(args![b"DBSIZE"]),
        Case::with(Norm::Unordered, args![b"KEYS", b"*"]),
        Case::exact(args![b"DBSIZE"]),
        Case::exact(args![b"EXISTS", b"e1", b"e1", b"x1"]),
        Case::exact(args![b"DBSIZE"]),
        Case::exact(args![b"TYPE", b"e2"]),
        Case::exact(args![b"DEL", b"e3", b"x2"]),
        Case::exact(args![b"RENAME", b"e4", b"y"]),
        Case::exact(args![b"COPY", b"x1", b"e5"]),
        Case::exact(args![b"TTL", b"e6"]),
        Case::exact(args![b"EXPIRE", b"e7", b"100"]),
        Case::exact(args![b"PERSIST", b"e8"]),
        Case::exact(args![b"OBJECT", b"ENCODING", b"e9"]),
        Case::exact(args![b"DBSIZE"]),
        Case::exact(args![b"MOVE", b"x1", b"1"]),
        Case::exact(args![b"COPY", b"e5", b"x2", b"DB", b"1"]),
        Case::exact(args![b"SELECT", b"1"]),
        Case::exact(args![b"DBSIZE"]),
        Case::exact(args![b"SELECT", b"0"]),
        Case::exact(args![b"DBSIZE"]),
    ]);
    compare_strings(&mut p);
}

#[test]
fn expire_options_and_errors() {
    let mut p = Pair::start();
    set_both(&mut p, b"a", b"1");
    set_both(&mut p, b"b", b"hello");
    let far = (FUTURE_S * 1000).to_string();
    let later = (FUTURE_S * 1000 + 5000).to_string();
    let cases = vec![
        Case::exact(args![b"EXPIRE", b"a", b"100", b"NX", b"XX"]),
        Case::exact(args![b"EXPIRE", b"a", b"100", b"NX", b"GT"]),
        Case::exact(args![b"EXPIRE", b"a", b"100", b"GT", b"LT"]),
        Case::exact(args![b"EXPIRE", b"a", b"100", b"FOO"]),
        Case::exact(args![b"EXPIRE", b"a", b"x", b"FOO"]),
        Case::exact(args![b"EXPIRE", b"a", b"x"]),
        Case::exact(args![b"EXPIRE", b"a", b"9223372036854775"]),
        Case::exact(args![b"PEXPIRE", b"a", b"9223372036854775807"]),
        Case::exact(args![b"EXPIREAT", b"a", b"9223372036854776"]),
        Case::exact(args![b"PEXPIREAT", b"a", far]),
        Case::exact(args![b"PEXPIREAT", b"a", later, b"LT"]),
        Case::exact(args![b"PEXPIREAT", b"a", later, b"GT"]),
        Case::exact(args![b"PEXPIREAT", b"a", far, b"LT"]),
        Case::exact(args![b"PEXPIREAT", b"a", far, b"LT"]),
        Case::exact(args![b"PEXPIREAT", b"a", far, b"GT"]),
        Case::exact(args![b"PEXPIREAT", b"a", far, b"XX"]),
        Case::exact(args![b"PEXPIRETIME", b"a"]),
        Case::exact(args![b"EXPIRETIME", b"a"]),
        Case::exact(args![b"PEXPIREAT", b"b", far, b"GT"]),
        Case::exact(args![b"PEXPIREAT", b"b", far, b"LT"]),
        Case::exact(args![b"PEXPIREAT", b"b", far, b"XX"]),
        Case::exact(args![b"PEXPIREAT", b"b", later, b"NX"]),
        Case::exact(args![b"PEXPIREAT", b"b", later, b"NX"]),
        Case::exact(args![b"PERSIST", b"b"]),
        Case::exact(args![b"PERSIST", b"b"]),
        Case::exact(args![b"TTL", b"b"]),
        Case::exact(args![b"TTL", b"nokey"]),
        Case::exact(args![b"PEXPIREAT", b"b", b"9223372036854775807"]),
        Case::exact(args![b"PEXPIRETIME", b"b"]),
        Case::exact(args![b"EXPIRE", b"b", b"-5"]),
        Case::exact(args![b"EXISTS", b"b"]),
        Case::exact(args![b"EXPIRE", b"nokey", b"10"]),
        Case::exact(args![b"EXPIREAT", b"a", b"-9223372036854775"]),
        Case::exact(args![b"DBSIZE"]),
    ];
    p.run(&cases);
    compare_strings(&mut p);
}

#[test]
fn rename_move_copy_edges() {
    let mut p = Pair::start();
    set_both(&mut p, b"a", b"1");
    set_both(&mut p, b"b", &[b'x'; 60]);
    let cases = vec![
        Case::exact(args![b"RENAME", b"nokey", b"nokey"]),
        Case::exact(args![b"RENAMENX", b"nokey", b"x"]),
        Case::exact(args![b"RENAME", b"a", b"a"]),
        Case::exact(args![b"RENAMENX", b"a", b"a"]),
        Case::exact(args![b"PEXPIREAT", b"a", (FUTURE_S * 1000).to_string()]),
        Case::exact(args![b"RENAMENX", b"a", b"b"]),
        Case::exact(args![b"RENAME", b"a", b"b"]),
        Case::exact(args![b"PEXPIRETIME", b"b"]),
        Case::exact(args![b"MOVE", b"b", b"0"]),
        Case::exact(args![b"MOVE", b"b", b"16"]),
        Case::exact(args![b"MOVE", b"b", b"2147483648"]),
        Case::exact(args![b"MOVE", b"b", b"x"]),
        Case::exact(args![b"MOVE", b"nokey", b"0"]),
        Case::exact(args![b"COPY", b"b", b"b"]),
        Case::exact(args![b"COPY", b"b", b"b", b"DB", b"1"]),
        Case::exact(args![b"COPY", b"b", b"c", b"DB"]),
        Case::exact(args![b"COPY", b"b", b"c", b"DB", b"99"]),
        Case::exact(args![b"COPY", b"b", b"c", b"REPLACE", b"REPLACE"]),
        Case::exact(args![b"COPY", b"b", b"c"]),
        Case::exact(args![b"COPY", b"b", b"c", b"REPLACE"]),
        Case::exact(args![b"MOVE", b"b", b"1"]),
        Case::exact(args![b"MOVE", b"c", b"1"]),
        Case::exact(args![b"SELECT", b"1"]),
        Case::exact(args![b"PEXPIRETIME", b"b"]),
        Case::exact(args![b"SWAPDB", b"0", b"1"]),
        Case::exact(args![b"SWAPDB", b"x", b"1"]),
        Case::exact(args![b"SWAPDB", b"0", b"x"]),
        Case::exact(args![b"SWAPDB", b"0", b"16"]),
        Case::exact(args![b"SWAPDB", b"3", b"3"]),
        Case::exact(args![b"DBSIZE"]),
        Case::exact(args![b"SELECT", b"2147483648"]),
        Case::exact(args![b"SELECT", b"-1"]),
        Case::exact(args![b"SELECT", b"0"]),
        Case::exact(args![b"OBJECT", b"REFCOUNT", b"nokey"]),
        Case::exact(args![b"OBJECT", b"IDLETIME", b"nokey"]),
        Case::exact(args![b"OBJECT", b"FREQ", b"c"]),
        Case::exact(args![b"OBJECT", b"HELP", b"x"]),
        Case::exact(args![b"FLUSHALL"]),
        Case::exact(args![b"DBSIZE"]),
    ];
    p.run(&cases);
    compare_strings(&mut p);
    // Shared integers answer i32::MAX.
    set_both(&mut p, b"n", b"5");
    set_both(&mut p, b"m", b"50000");
    p.run(&[
        Case::exact(args![b"OBJECT", b"REFCOUNT", b"n"]),
        Case::exact(args![b"OBJECT", b"REFCOUNT", b"m"]),
    ]);
}

#[test]
fn keys_glob_matches_redis() {
    let mut p = Pair::start();
    let mut rng = Rng::new(7);
    let alphabet: &[u8] = b"ab-]^[\\*?x\xff";
    for _ in 0..300 {
        let n = rng.below(5) as usize;
        let k: Vec<u8> = (0..n).map(|_| *rng.pick(alphabet)).collect();
        set_both(&mut p, &k, b"v");
    }
    let mut cases = Vec::new();
    for _ in 0..3000 {
        let n = rng.below(7) as usize;
        let pat: Vec<u8> = (0..n).map(|_| *rng.pick(alphabet)).collect();
        cases.push(Case::with(Norm::Unordered, args![b"KEYS", pat]));
    }
    p.run(&cases);
}

#[test]
fn info_echo_ping_time() {
    let mut p = Pair::start();
    set_both(&mut p, b"a", b"1");
    p.run(&[
        Case::exact(args![b"INFO", b"keyspace"]),
        Case::exact(args![b"ECHO", b"hi"]),
        Case::exact(args![b"PING"]),
        Case::exact(args![b"PING", b"x"]),
        Case::exact(args![b"PING", b"x", b"y"]),
        Case::with(Norm::Shape, args![b"TIME"]),
        Case::exact(args![b"SELECT", b"3"]),
        Case::exact(args![b"INFO", b"keyspace"]),
    ]);
}

/// Redis registers functions by running the library; redkit cannot, so FUNCTION LIST is
/// compared without the `functions` entry.
fn function_list_without_functions(r: &Reply) -> Vec<Vec<Reply>> {
    let mut libs: Vec<Vec<Reply>> = r
        .array()
        .iter()
        .map(|lib| {
            let a = lib.array();
            let mut out = Vec::new();
            for pair in a.chunks(2) {
                if pair[0].bulk() != b"functions" {
                    out.extend_from_slice(pair);
                }
            }
            out
        })
        .collect();
    libs.sort_by_key(|l| format!("{l:?}"));
    libs
}

fn lib(name: &str, f: &str) -> Vec<u8> {
    format!("#!lua name={name}\nredis.register_function('{f}', function() return 1 end)")
        .into_bytes()
}

#[test]
fn functions_match_redis() {
    let mut p = Pair::start();
    let cases = vec![
        Case::exact(args![b"FUNCTION", b"LOAD", lib("lib1", "f1")]),
        Case::exact(args![b"FUNCTION", b"LOAD", lib("lib1", "f9")]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"REPLACE", lib("lib1", "f1")]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"BOGUS", lib("lib2", "f2")]),
        Case::exact(args![b"FUNCTION", b"LOAD", lib("lib2", "f2")]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"return 1"]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"#!lua name=x"]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"#!lua\nreturn 1"]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"#!lua name=a-b\nreturn 1"]),
        Case::exact(args![
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=a name=b\nreturn 1"
        ]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"#!lua foo=1 name=b\nreturn 1"]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"#!js name=b\nreturn 1"]),
        Case::exact(args![b"FUNCTION", b"LOAD", b"#!lua \"name=b\nreturn 1"]),
        Case::exact(args![
            b"FUNCTION",
            b"LOAD",
            b"#!LUA NAME=lib3\nredis.register_function('f3', function() return 1 end)"
        ]),
        Case::exact(args![b"FUNCTION", b"DELETE", b"nolib"]),
        Case::exact(args![b"FUNCTION", b"DELETE", b"lib3"]),
        Case::exact(args![b"FUNCTION", b"LIST", b"BOGUS"]),
        Case::exact(args![b"FUNCTION", b"LIST", b"LIBRARYNAME"]),
        Case::exact(args![b"FUNCTION", b"FLUSH", b"x"]),
        Case::exact(args![b"FUNCTION", b"FLUSH", b"x", b"y"]),
        Case::exact(args![b"FUNCTION", b"RESTORE", b"x"]),
        Case::exact(args![b"FUNCTION", b"RESTORE", b"x", b"BADPOLICY"]),
        Case::exact(args![b"FUNCTION", b"RESTORE", b"x", b"FLUSH", b"y"]),
        Case::exact(args![b"FUNCTION", b"KILL"]),
        Case::exact(args![b"FUNCTION", b"NOPE"]),
    ];
    p.run(&cases);
    // Redis runs scripts; redkit refuses them all with one message.
    for cmd in [
        args![b"EVAL", b"return 1", b"0"],
        args![b"EVALSHA_RO", b"abc", b"0"],
        args![b"FCALL", b"f1", b"0"],
        args![b"SCRIPT", b"EXISTS", b"abc"],
    ] {
        assert_eq!(
            p.redkit(&cmd),
            Reply::Error(redkit::cmd::server::SCRIPTS_UNSUPPORTED.as_bytes().to_vec())
        );
    }
    for pattern in [&b"lib*"[..], b"LIB1", b"nomatch"] {
        for extra in [&[][..], &[&b"WITHCODE"[..]][..]] {
            let mut cmd = args![b"FUNCTION", b"LIST", b"LIBRARYNAME", pattern];
            cmd.extend(extra.iter().map(|a| a.to_vec()));
            let want = p.redis.pipeline(&[cmd.clone()]).remove(0);
            let got = p.redkit(&cmd);
            assert_eq!(
                function_list_without_functions(&want),
                function_list_without_functions(&got),
                "{}",
                oracle::show(&cmd)
            );
        }
    }

    // A payload from redis restores into redkit, and redkit's into redis.
    let dump = p.redis.cmd(&[b"FUNCTION", b"DUMP"]).bulk().to_vec();
    // Only one library conflicts: which one Redis names first depends on its hash seed.
    p.run(&[
        Case::exact(args![b"FUNCTION", b"DELETE", b"lib2"]),
        Case::exact(args![b"FUNCTION", b"RESTORE", dump]),
        Case::exact(args![b"FUNCTION", b"RESTORE", dump, b"APPEND"]),
        Case::exact(args![b"FUNCTION", b"RESTORE", dump, b"REPLACE"]),
        Case::exact(args![b"FUNCTION", b"FLUSH"]),
        Case::exact(args![b"FUNCTION", b"RESTORE", dump, b"append"]),
    ]);
    let mut bad = dump.clone();
    let at = bad.len() - 12;
    bad[at] ^= 1;
    p.run(&[Case::exact(args![b"FUNCTION", b"RESTORE", bad, b"FLUSH"])]);
    let list = args![b"FUNCTION", b"LIST", b"WITHCODE"];
    let want = p.redis.pipeline(std::slice::from_ref(&list)).remove(0);
    assert_eq!(
        function_list_without_functions(&want),
        function_list_without_functions(&p.redkit(&list))
    );

    let ours = match p.redkit(&args![b"FUNCTION", b"DUMP"]) {
        Reply::Bulk(Some(b)) => b,
        other => panic!("FUNCTION DUMP: {other:?}"),
    };
    p.redis.ok(&["FUNCTION", "FLUSH"]);
    let r = p.redis.cmd(&[b"FUNCTION", b"RESTORE", &ours]);
    assert_eq!(
        r,
        Reply::Simple(b"OK".to_vec()),
        "redis refused redkit's dump"
    );
    let want = p.redis.pipeline(std::slice::from_ref(&list)).remove(0);
    assert_eq!(
        function_list_without_functions(&want),
        function_list_without_functions(&p.redkit(&list))
    );
    // A long library goes through LZF in the payload.
    let long = format!(
        "#!lua name=biglib\n{}redis.register_function('big', function() return 1 end)",
        "-- padding padding padding padding\n".repeat(40)
    );
    p.run(&[Case::exact(args![b"FUNCTION", b"LOAD", long])]);
    let ours = p.redkit(&args![b"FUNCTION", b"DUMP"]);
    let Reply::Bulk(Some(ours)) = ours else {
        panic!("FUNCTION DUMP: {ours:?}")
    };
    p.redis.ok(&["FUNCTION", "FLUSH"]);
    let r = p.redis.cmd(&[b"FUNCTION", b"RESTORE", &ours]);
    assert_eq!(
        r,
        Reply::Simple(b"OK".to_vec()),
        "redis refused redkit's dump"
    );
    let want = p.redis.pipeline(std::slice::from_ref(&list)).remove(0);
    assert_eq!(
        function_list_without_functions(&want),
        function_list_without_functions(&p.redkit(&list))
    );
    p.run(&[
        Case::exact(args![b"FUNCTION", b"FLUSH", b"ASYNC"]),
        Case::exact(args![b"FUNCTION", b"LIST"]),
    ]);
}

#[test]
fn sort_without_other_types() {
    let mut p = Pair::start();
    set_both(&mut p, b"str", b"1");
    set_both(&mut p, b"dst", b"x");
    p.run(&[
        Case::exact(args![b"SORT", b"nokey"]),
        Case::exact(args![b"SORT", b"nokey", b"LIMIT", b"0"]),
        Case::exact(args![b"SORT", b"nokey", b"LIMIT", b"x", b"1"]),
        Case::exact(args![b"SORT", b"nokey", b"BOGUS"]),
        Case::exact(args![b"SORT", b"str"]),
        Case::exact(args![b"SORT", b"str", b"BOGUS"]),
        Case::exact(args![b"SORT_RO", b"nokey", b"STORE", b"dst"]),
        Case::exact(args![
            b"SORT", b"nokey", b"BY", b"w_*", b"GET", b"#", b"DESC", b"ALPHA"
        ]),
        Case::exact(args![b"SORT", b"nokey", b"STORE", b"dst"]),
        Case::exact(args![b"EXISTS", b"dst"]),
        Case::exact(args![b"SORT", b"nokey", b"STORE", b"dst"]),
    ]);
    compare_strings(&mut p);
}

#[test]
fn propagation_of_expires() {
    use redkit::cmd::{Executor, Session};
    use redkit::keyspace::Keyspace;
    let mut ex = Executor::new(Keyspace::default());
    ex.propagating = true;
    ex.clock_ms = Some(1_000_000);
    let mut s = Session::default();
    ex.ks.dbs[0].set(b"a", string_value(b"1"));
    ex.ks.dbs[0].set(b"b", string_value(b"1"));
    ex.ks.dbs[1].set(b"c", string_value(b"1"));
    let run = |ex: &mut Executor, s: &mut Session, a: &[&[u8]]| {
        ex.propagated.clear();
        ex.execute(s, a);
        ex.propagated
            .iter()
            .map(|p| {
                let words: Vec<String> = p
                    .argv
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect();
                format!("{}:{}", p.db, words.join(" "))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run(&mut ex, &mut s, &[b"EXPIRE", b"a", b"10", b"NX"]),
        ["0:PEXPIREAT a 1010000 NX"]
    );
    assert_eq!(
        run(&mut ex, &mut s, &[b"pexpire", b"a", b"5", b"LT"]),
        ["0:PEXPIREAT a 1000005 LT"]
    );
    assert_eq!(
        run(&mut ex, &mut s, &[b"EXPIREAT", b"a", b"2000"]),
        ["0:PEXPIREAT a 2000000"]
    );
    assert_eq!(
        run(&mut ex, &mut s, &[b"pexpireat", b"a", b"3000000"]),
        ["0:pexpireat a 3000000"]
    );
    assert_eq!(
        run(&mut ex, &mut s, &[b"EXPIRE", b"a", b"10", b"NX"]),
        Vec::<String>::new()
    );
    assert_eq!(run(&mut ex, &mut s, &[b"EXPIRE", b"a", b"-1"]), ["0:DEL a"]);
    assert_eq!(run(&mut ex, &mut s, &[b"FLUSHDB"]), ["0:FLUSHDB"]);
    assert_eq!(run(&mut ex, &mut s, &[b"DEL", b"zz"]), Vec::<String>::new());
    // A key found expired in the destination db of MOVE is deleted there.
    ex.ks.dbs[0].set(b"c", string_value(b"2"));
    ex.ks.dbs[1].set_expire(b"c", 10);
    assert_eq!(
        run(&mut ex, &mut s, &[b"MOVE", b"c", b"1"]),
        [
            "0:MULTI",
            "0:SELECT 1",
            "0:DEL c",
            "0:SELECT 0",
            "0:MOVE c 1",
            "0:EXEC"
        ]
    );
    // While loading, a past expiry is set rather than deleting.
    ex.loading = true;
    ex.ks.dbs[0].set(b"d", string_value(b"1"));
    ex.execute(&mut s, &[b"PEXPIREAT", b"d", b"5"]);
    assert_eq!(ex.ks.dbs[0].get(b"d").and_then(|e| e.expire()), Some(5));
}

// ---------------------------------------------------------------------------------------------
// After the merge: SORT and the generic commands over every type.
// ---------------------------------------------------------------------------------------------

#[test]
fn sort_cross_type() {
    let mut p = Pair::start_with(&[("zset-max-listpack-entries", "8")]);
    let setup: Vec<Vec<Vec<u8>>> = vec![
        args![
            b"RPUSH", b"l", b"3", b"1", b"2", b"10", b"1.5", b"-4", b"2", b" 5", b"0x10", b"1e2",
            b"inf", b""
        ],
        args![
            b"RPUSH", b"la", b"b", b"a", b"C", b"aa", b"", b"b", b"a\x00z", b"a\x00y", b"\xff",
            b"Z"
        ],
        args![b"SADD", b"s", b"5", b"3", b"9", b"1"],
        args![b"SADD", b"sa", b"x", b"yy", b"a", b"b"],
        args![b"ZADD", b"z", b"1", b"c", b"2", b"b", b"3", b"a", b"2", b"d"],
        args![b"ZADD", b"zn", b"1", b"30", b"2", b"20", b"3", b"10"],
        args![b"MSET", b"w_3", b"30", b"w_1", b"10", b"w_2", b"-5", b"w_10", b"7"],
        args![b"MSET", b"w_a", b"3", b"w_b", b"1", b"w_c", b"2", b"w_aa", b"b", b"w_d", b"2"],
        args![b"HSET", b"h_1", b"f", b"9", b"g", b"one"],
        args![b"HSET", b"h_2", b"f", b"-1", b"g", b"two"],
        args![b"HSET", b"h_3", b"f", b"4"],
        args![b"SET", b"str", b"v"],
        args![b"SET", b"out5", b"v"],
        args![b"PEXPIREAT", b"out5", (FUTURE_S * 1000).to_string()],
    ];
    p.run(&setup.into_iter().map(Case::exact).collect::<Vec<_>>());
    let cases = vec![
        args![b"SORT", b"l"],
        args![b"SORT", b"l", b"DESC"],
        args![b"SORT", b"l", b"LIMIT", b"1", b"3"],
        args![b"SORT", b"l", b"LIMIT", b"-5", b"2"],
        args![b"SORT", b"l", b"LIMIT", b"5", b"100"],
        args![b"SORT", b"l", b"LIMIT", b"50", b"1"],
        args![b"SORT", b"l", b"LIMIT", b"0", b"0"],
        args![b"SORT", b"l", b"LIMIT", b"2", b"-1"],
        args![b"SORT", b"l", b"LIMIT", b"2", b"-7"],
        args![b"SORT", b"l", b"BY", b"nosort"],
        args![b"SORT", b"l", b"BY", b"nosort", b"DESC"],
        args![b"SORT", b"l", b"BY", b"nosort", b"DESC", b"LIMIT", b"1", b"2"],
        args![b"SORT", b"l", b"BY", b"nosort", b"LIMIT", b"2", b"3"],
        args![b"SORT", b"l", b"BY", b"nosort", b"LIMIT", b"20", b"3"],
        args![b"SORT", b"l", b"BY", b"nosort", b"LIMIT", b"0", b"0", b"DESC"],
        args![b"SORT", b"l", b"BY", b"#"],
        args![b"SORT", b"l", b"BY", b"w_*"],
        args![b"SORT", b"l", b"BY", b"w_*", b"LIMIT", b"1", b"4"],
        args![b"SORT", b"l", b"BY", b"w_*", b"ALPHA"],
        args![b"SORT", b"l", b"BY", b"w_*", b"ALPHA", b"DESC"],
        args![b"SORT", b"l", b"BY", b"w_*", b"GET", b"#", b"GET", b"w_*", b"GET", b"nostar"],
        args![
            b"SORT",
            b"l",
            b"BY",
            b"h_*->f",
            b"GET",
            b"h_*->g",
            b"GET",
            b"h_*->",
            b"GET",
            b"h_*->nof"
        ],
        args![b"SORT", b"l", b"BY", b"h_*->f", b"DESC", b"LIMIT", b"0", b"3"],
        args![b"SORT", b"l", b"GET", b"str"],
        args![b"SORT", b"la"],
        args![b"SORT", b"la", b"ALPHA"],
        args![b"SORT", b"la", b"ALPHA", b"DESC"],
        args![b"SORT", b"la", b"ALPHA", b"BY", b"w_*"],
        args![b"SORT", b"la", b"BY", b"w_*"],
        args![b"SORT", b"s"],
        args![b"SORT", b"s", b"DESC", b"LIMIT", b"1", b"2"],
        args![b"SORT", b"sa", b"ALPHA"],
        args![b"SORT", b"sa"],
        args![b"SORT", b"z"],
        args![b"SORT", b"z", b"ALPHA"],
        args![b"SORT", b"z", b"ALPHA", b"DESC"],
        args![b"SORT", b"z", b"BY", b"nosort"],
        args![b"SORT", b"z", b"BY", b"nosort", b"DESC"],
        args![b"SORT", b"z", b"BY", b"nosort", b"DESC", b"LIMIT", b"1", b"5"],
        args![b"SORT", b"z", b"BY", b"nosort", b"LIMIT", b"1", b"2"],
        args![b"SORT", b"z", b"BY", b"w_*", b"GET", b"#"],
        args![b"OBJECT", b"ENCODING", b"z"],
        args![b"SORT_RO", b"l", b"BY", b"w_*", b"GET", b"#"],
        args![b"SORT_RO", b"zn", b"LIMIT", b"0", b"2"],
        args![b"SORT", b"str"],
        args![b"SORT", b"h_1"],
        args![b"SORT", b"l", b"STORE", b"out"],
        args![b"SORT", b"sa", b"BY", b"nosort", b"STORE", b"out2"],
        args![b"SORT", b"la", b"ALPHA", b"GET", b"w_*", b"GET", b"#", b"STORE", b"out3"],
        args![b"SORT", b"la", b"ALPHA", b"STORE", b"out4"],
        args![b"SORT", b"zn", b"DESC", b"STORE", b"out5"],
        args![b"SORT", b"zn", b"STORE", b"str"],
        args![b"SORT", b"z", b"STORE", b"out6"],
        args![b"SORT", b"nokey", b"STORE", b"out"],
        args![b"EXISTS", b"out"],
    ];
    let mut all: Vec<Case> = cases.into_iter().map(Case::exact).collect();
    all.push(Case::with(
        Norm::Unordered,
        args![b"SORT", b"s", b"BY", b"nosort"],
    ));
    p.run(&all);
    p.compare_keyspace();
}

#[test]
fn copy_and_rename_every_type_cross_type() {
    let mut p = Pair::start();
    p.run(
        &[
            args![b"RPUSH", b"l", b"a", b"b"],
            args![b"SADD", b"s", b"1", b"2"],
            args![b"SADD", b"s2", b"x", b"2"],
            args![b"ZADD", b"z", b"1", b"a"],
            args![b"HSET", b"h", b"f", b"v"],
            args![b"XADD", b"x", b"1-1", b"f", b"v"],
            args![b"PEXPIREAT", b"h", (FUTURE_S * 1000).to_string()],
        ]
        .into_iter()
        .map(Case::exact)
        .collect::<Vec<_>>(),
    );
    let mut cases = Vec::new();
    for k in [&b"l"[..], b"s", b"s2", b"z", b"h", b"x"] {
        let mut c = k.to_vec();
        c.extend_from_slice(b"_copy");
        cases.push(Case::exact(args![b"COPY", k, c]));
        cases.push(Case::exact(args![b"COPY", k, c, b"DB", b"2"]));
        cases.push(Case::exact(args![b"TYPE", c]));
        cases.push(Case::exact(args![b"OBJECT", b"ENCODING", c]));
        let mut r = k.to_vec();
        r.extend_from_slice(b"_renamed");
        cases.push(Case::exact(args![b"RENAME", k, r]));
        cases.push(Case::exact(args![b"MOVE", r, b"3"]));
    }
    p.run(&cases);
    p.compare_keyspace();
}

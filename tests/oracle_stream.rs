//! Stream commands against a real redis-server: random XADD/XDEL/XTRIM/XRANGE/XREAD and the
//! consumer group commands with explicit ids and consumers, replies compared exactly (idle times,
//! which depend on each server's clock, are zeroed first), keyspaces compared after each batch.

mod common;
mod oracle;

use common::{Cmd, Reply, Rng};
use oracle::{show, Pair};

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Exact,
    /// Both errors or both not.
    Shape,
    /// XPENDING's extended form: the idle column zeroed.
    PendingIdle,
    /// XINFO CONSUMERS: the idle field zeroed.
    ConsumerIdle,
}

fn norm(kind: Kind, r: &Reply) -> Reply {
    match (kind, r) {
        (Kind::PendingIdle, Reply::Array(Some(items))) => Reply::Array(Some(
            items
                .iter()
                .map(|e| match e {
                    Reply::Array(Some(f)) if f.len() == 4 => {
                        let mut f = f.clone();
                        f[2] = Reply::Int(0);
                        Reply::Array(Some(f))
                    }
                    other => other.clone(),
                })
                .collect(),
        )),
        (Kind::ConsumerIdle, Reply::Array(Some(items))) => Reply::Array(Some(
            items
                .iter()
                .map(|e| match e {
                    Reply::Array(Some(f)) if f.len() == 6 => {
                        let mut f = f.clone();
                        f[5] = Reply::Int(0);
                        Reply::Array(Some(f))
                    }
                    other => other.clone(),
                })
                .collect(),
        )),
        _ => r.clone(),
    }
}

fn run(p: &mut Pair, cases: &[(Cmd, Kind)]) {
    let cmds: Vec<Cmd> = cases.iter().map(|c| c.0.clone()).collect();
    let theirs = p.redis.pipeline(&cmds);
    for ((cmd, kind), want) in cases.iter().zip(theirs) {
        p.history.push(cmd.clone());
        let got = p.redkit(cmd);
        let ok = match kind {
            Kind::Shape => want.is_error() == got.is_error(),
            k => norm(*k, &want) == norm(*k, &got),
        };
        if !ok {
            let from = p.history.len().saturating_sub(40);
            let recent: String = p.history[from..]
                .iter()
                .map(|c| format!("  {}\n", show(c)))
                .collect();
            panic!(
                "reply differs for {}\n redis:  {:?}\n redkit: {:?}\n last commands:\n{}",
                show(cmd),
                text(&want),
                text(&got),
                recent
            );
        }
    }
}

/// A reply with its strings as text, for failure messages.
fn text(r: &Reply) -> String {
    match r {
        Reply::Simple(b) => format!("+{}", String::from_utf8_lossy(b)),
        Reply::Error(b) => format!("-{}", String::from_utf8_lossy(b)),
        Reply::Int(i) => format!(":{i}"),
        Reply::Bulk(None) => "nil".into(),
        Reply::Bulk(Some(b)) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Array(None) => "*nil".into(),
        Reply::Array(Some(a)) => format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(", ")),
    }
}

fn key(r: &mut Rng) -> Vec<u8> {
    format!("s:{}", r.below(4)).into_bytes()
}

fn group(r: &mut Rng) -> Vec<u8> {
    format!("g{}", r.below(3)).into_bytes()
}

fn consumer(r: &mut Rng) -> Vec<u8> {
    format!("c{}", r.below(3)).into_bytes()
}

/// An explicit id, mostly valid and small so commands meet each other's entries.
fn id(r: &mut Rng, t: u64) -> Vec<u8> {
    // Mostly near the newest ids, sometimes anywhere.
    let ms = if r.chance(1, 3) {
        r.below(t + 5)
    } else {
        t.saturating_sub(r.below(40)) + r.below(3)
    };
    match r.below(30) {
        0 => b"bad".to_vec(),
        1 => b"1-x".to_vec(),
        2 => b"18446744073709551616".to_vec(),
        3 => ms.to_string().into_bytes(),
        4 => b"0-0".to_vec(),
        _ => format!("{}-{}", ms, r.below(3)).into_bytes(),
    }
}

/// A range bound: ids, `-`, `+`, exclusive forms.
fn bound(r: &mut Rng, t: u64) -> Vec<u8> {
    match r.below(10) {
        0 => b"-".to_vec(),
        1 => b"+".to_vec(),
        2 | 3 => {
            let mut v = b"(".to_vec();
            v.extend(id(r, t));
            v
        }
        _ => id(r, t),
    }
}

fn field(r: &mut Rng) -> Vec<u8> {
    match r.below(6) {
        0 => b"g".to_vec(),
        1 => oracle::value(r),
        _ => b"f".to_vec(),
    }
}

fn trim_args(r: &mut Rng, t: u64, out: &mut Cmd) {
    let maxlen = r.chance(1, 2);
    out.push(if maxlen {
        b"MAXLEN".to_vec()
    } else {
        b"MINID".to_vec()
    });
    match r.below(3) {
        0 => out.push(b"~".to_vec()),
        1 => out.push(b"=".to_vec()),
        _ => {}
    }
    if maxlen {
        out.push(oracle::int_arg(r, -1, 60));
    } else {
        out.push(id(r, t));
    }
    if r.chance(1, 6) {
        out.push(b"LIMIT".to_vec());
        out.push(oracle::int_arg(r, -1, 20));
    }
}

fn gen(r: &mut Rng, clock: &mut u64) -> (Cmd, Kind) {
    let t = *clock;
    let k = key(r);
    let ex = Kind::Exact;
    match r.below(30) {
        0..=7 => {
            let mut c = args![b"XADD", k];
            if r.chance(1, 10) {
                c.push(b"NOMKSTREAM".to_vec());
            }
            if r.chance(1, 4) {
                trim_args(r, t, &mut c);
            }
            // Mostly increasing ids.
            *clock += r.below(3);
            c.push(match r.below(12) {
                0 => format!("{}-*", t.saturating_sub(r.below(3))).into_bytes(),
                1 => id(r, t),
                _ => format!("{}-{}", t, r.below(4)).into_bytes(),
            });
            let n = if r.chance(1, 20) { 0 } else { r.range(1, 3) };
            for _ in 0..n {
                c.push(field(r));
                c.push(oracle::value(r));
            }
            if r.chance(1, 30) {
                c.push(b"odd".to_vec());
            }
            (c, ex)
        }
        8 => {
            let mut c = args![b"XDEL", k];
            for _ in 0..r.range(1, 4) {
                c.push(id(r, t));
            }
            (c, ex)
        }
        9 => {
            let mut c = args![b"XTRIM", k];
            trim_args(r, t, &mut c);
            (c, ex)
        }
        10 | 11 => {
            let rev = r.chance(1, 2);
            let mut c = args![
                if rev { "XREVRANGE" } else { "XRANGE" },
                k,
                bound(r, t),
                bound(r, t)
            ];
            if r.chance(1, 2) {
                c.push(b"COUNT".to_vec());
                c.push(oracle::int_arg(r, -1, 5));
            }
            if r.chance(1, 40) {
                c.push(b"junk".to_vec());
            }
            (c, ex)
        }
        12 => (args![b"XLEN", k], ex),
        13 => {
            let mut c = args![b"XREAD"];
            if r.chance(1, 2) {
                c.push(b"COUNT".to_vec());
                c.push(oracle::int_arg(r, 0, 4));
            }
            c.push(b"STREAMS".to_vec());
            let k2 = key(r);
            let two = r.chance(1, 3);
            c.push(k);
            if two {
                c.push(k2);
            }
            for _ in 0..if two { 2 } else { 1 } {
                c.push(if r.chance(1, 5) {
                    b"$".to_vec()
                } else {
                    id(r, t)
                });
            }
            if r.chance(1, 30) {
                c.pop();
            }
            (c, ex)
        }
        14..=16 => {
            let mut c = args![b"XREADGROUP", b"GROUP", group(r), consumer(r)];
            if r.chance(1, 2) {
                c.push(b"COUNT".to_vec());
                c.push(oracle::int_arg(r, 0, 4));
            }
            if r.chance(1, 6) {
                c.push(b"NOACK".to_vec());
            }
            c.push(b"STREAMS".to_vec());
            c.push(k);
            c.push(match r.below(6) {
                0 => id(r, t),
                1 => b"0".to_vec(),
                2 => b"$".to_vec(),
                _ => b">".to_vec(),
            });
            (c, ex)
        }
        17 | 18 => {
            let c = match r.below(8) {
                0..=2 => {
                    let mut c = args![
                        b"XGROUP",
                        b"CREATE",
                        k,
                        group(r),
                        if r.chance(1, 3) {
                            b"$".to_vec()
                        } else {
                            id(r, t)
                        }
                    ];
                    if r.chance(1, 2) {
                        c.push(b"MKSTREAM".to_vec());
                    }
                    if r.chance(1, 4) {
                        c.push(b"ENTRIESREAD".to_vec());
                        c.push(oracle::int_arg(r, -2, 10));
                    }
                    c
                }
                3 => {
                    let mut c = args![b"XGROUP", b"SETID", k, group(r), id(r, t)];
                    if r.chance(1, 3) {
                        c.push(b"ENTRIESREAD".to_vec());
                        c.push(oracle::int_arg(r, -2, 10));
                    }
                    c
                }
                4 => args![b"XGROUP", b"DESTROY", k, group(r)],
                5 => args![b"XGROUP", b"CREATECONSUMER", k, group(r), consumer(r)],
                6 => args![b"XGROUP", b"DELCONSUMER", k, group(r), consumer(r)],
                _ => match r.below(4) {
                    0 => args![b"XGROUP", b"NOSUCH", k],
                    1 => args![b"XGROUP", b"CREATE", k],
                    2 => args![b"XGROUP", b"HELP"],
                    _ => args![b"XGROUP", b"CREATE", k, group(r), b"$", b"BAD"],
                },
            };
            (c, ex)
        }
        19 => {
            let mut c = args![b"XACK", k, group(r)];
            for _ in 0..r.range(1, 3) {
                c.push(id(r, t));
            }
            (c, ex)
        }
        20 | 21 => {
            let minidle: &[u8] = match r.below(5) {
                0 => b"1000000",
                1 => b"-5",
                2 if r.chance(1, 4) => b"x",
                _ => b"0",
            };
            let mut c = args![b"XCLAIM", k, group(r), consumer(r), minidle];
            for _ in 0..r.range(1, 3) {
                c.push(id(r, t));
            }
            for _ in 0..r.below(3) {
                match r.below(8) {
                    0 => c.extend(args![b"IDLE", b"5000000"]),
                    1 => c.extend(args![b"TIME", b"0"]),
                    2 => c.extend(args![b"RETRYCOUNT", oracle::int_arg(r, 0, 5)]),
                    3 => c.push(b"FORCE".to_vec()),
                    4 => c.push(b"JUSTID".to_vec()),
                    5 => c.extend(args![b"LASTID", id(r, t)]),
                    6 => c.push(b"BOGUS".to_vec()),
                    _ => c.push(b"FORCE".to_vec()),
                }
            }
            (c, ex)
        }
        22 => {
            let minidle: &[u8] = if r.chance(1, 3) { b"1000000" } else { b"0" };
            let mut c = args![
                b"XAUTOCLAIM",
                k,
                group(r),
                consumer(r),
                minidle,
                bound(r, t)
            ];
            if r.chance(1, 2) {
                c.push(b"COUNT".to_vec());
                c.push(oracle::int_arg(r, -1, 4));
            }
            if r.chance(1, 3) {
                c.push(b"JUSTID".to_vec());
            }
            (c, ex)
        }
        23 | 24 => {
            if r.chance(1, 2) {
                (args![b"XPENDING", k, group(r)], ex)
            } else {
                let mut c = args![b"XPENDING", k, group(r)];
                if r.chance(1, 4) {
                    c.push(b"IDLE".to_vec());
                    c.push(if r.chance(1, 2) {
                        b"1000000".to_vec()
                    } else {
                        b"0".to_vec()
                    });
                }
                c.push(bound(r, t));
                c.push(bound(r, t));
                c.push(oracle::int_arg(r, -1, 5));
                if r.chance(1, 2) {
                    c.push(consumer(r));
                }
                (c, Kind::PendingIdle)
            }
        }
        25 => {
            let mut c = args![b"XSETID", k, id(r, t)];
            if r.chance(1, 3) {
                c.push(b"ENTRIESADDED".to_vec());
                c.push(oracle::int_arg(r, -1, 300));
            }
            if r.chance(1, 3) {
                c.push(b"MAXDELETEDID".to_vec());
                c.push(id(r, t));
            }
            (c, ex)
        }
        26 | 27 => match r.below(5) {
            0 | 1 => (args![b"XINFO", b"STREAM", k], ex),
            2 => (args![b"XINFO", b"GROUPS", k], ex),
            3 => (
                args![b"XINFO", b"CONSUMERS", k, group(r)],
                Kind::ConsumerIdle,
            ),
            _ => (args![b"XINFO", b"STREAM", k, b"FULL"], Kind::Shape),
        },
        _ => {
            // Wrong arity and bad arguments.
            let c = match r.below(8) {
                0 => args![b"XADD", k],
                1 => args![b"XADD", k, b"MAXLEN", b"~", b"x", b"1-1", b"f", b"v"],
                2 => args![b"XADD", k, b"0-0", b"f", b"v"],
                3 => args![b"XRANGE", k, b"-"],
                4 => args![b"XREAD", b"STREAMS", k, b">"],
                5 => args![b"XREADGROUP", b"GROUP", b"nog", b"c", b"STREAMS", k, b">"],
                6 => args![b"XCLAIM", k, b"nog", b"c", b"0", b"1-1"],
                _ => args![b"XTRIM", k, b"LIMIT", b"5", b"MAXLEN", b"1"],
            };
            (c, ex)
        }
    }
}

fn check(p: &mut Pair, seed: u64, rounds: usize, batch: usize) {
    let mut r = Rng::new(seed);
    let mut clock = 1;
    for _ in 0..rounds {
        let cases: Vec<(Cmd, Kind)> = (0..batch).map(|_| gen(&mut r, &mut clock)).collect();
        run(p, &cases);
        p.compare_keyspace();
    }
}

#[test]
fn random_stream_commands_match_redis() {
    let mut p = Pair::start();
    check(&mut p, 1, 80, 60);
}

#[test]
fn small_nodes_match_redis() {
    // Small nodes: approximate trims, node splits and XINFO's radix-tree numbers get exercised.
    let mut p = Pair::start_with(&[
        ("stream-node-max-entries", "4"),
        ("stream-node-max-bytes", "120"),
    ]);
    check(&mut p, 2, 80, 60);
}

#[test]
fn fixed_cases_match_redis() {
    let mut p = Pair::start();
    let e = Kind::Exact;
    let mut cases: Vec<(Cmd, Kind)> = vec![
        (args![b"XADD", b"s", b"1-1", b"a", b"1"], e),
        (args![b"XADD", b"s", b"1-1", b"a", b"1"], e),
        (args![b"XADD", b"s", b"1-*", b"a", b"1"], e),
        (
            args![b"XADD", b"s", b"1-18446744073709551615", b"a", b"1"],
            e,
        ),
        (args![b"XADD", b"s", b"1-*", b"a", b"1"], e),
        (args![b"XADD", b"s", b"0-0", b"a", b"1"], e),
        (args![b"XADD", b"s", b"0-*", b"a", b"1"], e),
        (args![b"XADD", b"s", b"-", b"a", b"1"], e),
        (
            args![b"XADD", b"s", b"MAXLEN", b"1", b"LIMIT", b"3", b"5-1", b"a", b"1"],
            e,
        ),
        (
            args![b"XADD", b"s", b"MAXLEN", b"1", b"MINID", b"3", b"5-1", b"a", b"1"],
            e,
        ),
        (
            args![b"XADD", b"s", b"MAXLEN", b"-1", b"5-1", b"a", b"1"],
            e,
        ),
        (args![b"XADD", b"s", b"NOMKSTREAM", b"MAXLEN"], e),
        (
            args![b"XADD", b"nokey", b"NOMKSTREAM", b"5-1", b"a", b"1"],
            e,
        ),
        (args![b"XADD", b"s", b"007-+1", b"a", b"1"], e),
        (args![b"XADD", b"s", b" 8-1", b"a", b"1"], e),
        (
            args![
                b"XADD",
                b"s",
                b"18446744073709551615-18446744073709551615",
                b"a",
                b"1"
            ],
            e,
        ),
        (
            args![b"XADD", b"s", b"18446744073709551615-*", b"a", b"1"],
            e,
        ),
        (args![b"XRANGE", b"s", b"-", b"+"], e),
        (args![b"XRANGE", b"s", b"(-", b"+"], e),
        (
            args![
                b"XRANGE",
                b"s",
                b"(18446744073709551615-18446744073709551615",
                b"+"
            ],
            e,
        ),
        (args![b"XREVRANGE", b"s", b"+", b"-", b"COUNT", b"0"], e),
        (args![b"XINFO", b"STREAM", b"s"], e),
        (args![b"XINFO", b"STREAM", b"s", b"FULL", b"COUNT"], e),
        (args![b"XINFO", b"STREAM", b"s", b"BLAH"], e),
        (args![b"XINFO", b"HELP"], e),
        (args![b"XINFO", b"NOPE", b"s"], e),
        (args![b"XINFO", b"STREAM", b"nokey"], e),
        (args![b"XGROUP", b"HELP"], e),
        (
            args![
                b"XGROUP",
                b"CREATE",
                b"s",
                b"g",
                b"$",
                b"ENTRIESREAD",
                b"-3"
            ],
            e,
        ),
        (
            args![b"XGROUP", b"SETID", b"s", b"g", b"$", b"ENTRIESREAD"],
            e,
        ),
        (args![b"XGROUP", b"CREATE", b"s", b"g", b"0"], e),
        (args![b"XGROUP", b"CREATE", b"s", b"g", b"0"], e),
        (
            args![b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b"$"],
            e,
        ),
        (
            args![b"XREAD", b"GROUP", b"g", b"c", b"STREAMS", b"s", b"0"],
            e,
        ),
        (args![b"XREAD", b"NOACK", b"STREAMS", b"s", b"0"], e),
        (args![b"XREAD", b"BLOCK", b"-1", b"STREAMS", b"s", b"0"], e),
        (args![b"XREAD", b"BLOCK", b"10", b"STREAMS", b"s", b"0"], e),
        (args![b"XREADGROUP", b"STREAMS", b"s", b"0"], e),
        (
            args![
                b"XREADGROUP",
                b"GROUP",
                b"g",
                b"c",
                b"COUNT",
                b"1",
                b"STREAMS",
                b"s",
                b">"
            ],
            e,
        ),
        (
            args![b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b">"],
            e,
        ),
        (
            args![b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b"0"],
            e,
        ),
        (args![b"XDEL", b"s", b"1-1"], e),
        (
            args![b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b"0"],
            e,
        ),
        (args![b"XPENDING", b"s", b"g"], e),
        (
            args![b"XPENDING", b"s", b"g", b"-", b"+", b"10"],
            Kind::PendingIdle,
        ),
        (args![b"XPENDING", b"s", b"g", b"IDLE", b"0", b"-"], e),
        (args![b"XPENDING", b"s", b"g", b"-", b"+"], e),
        (
            args![b"XCLAIM", b"s", b"g", b"d", b"0", b"1-1", b"1-2", b"JUSTID"],
            e,
        ),
        (
            args![b"XAUTOCLAIM", b"s", b"g", b"d", b"0", b"0", b"COUNT", b"0"],
            e,
        ),
        (
            args![b"XAUTOCLAIM", b"s", b"g", b"d", b"0", b"0", b"COUNT", b"1"],
            e,
        ),
        (args![b"XAUTOCLAIM", b"s", b"g", b"d", b"0", b"0"], e),
        (args![b"XINFO", b"GROUPS", b"s"], e),
        (
            args![b"XINFO", b"CONSUMERS", b"s", b"g"],
            Kind::ConsumerIdle,
        ),
        (args![b"XINFO", b"CONSUMERS", b"s", b"nog"], e),
        (args![b"XSETID", b"s", b"1-1"], e),
        (args![b"XSETID", b"s", b"99-1", b"ENTRIESADDED", b"1"], e),
        (
            args![b"XSETID", b"s", b"99-1", b"MAXDELETEDID", b"100-1"],
            e,
        ),
        (args![b"XSETID", b"nokey", b"99-1"], e),
        (args![b"XTRIM", b"s", b"MAXLEN", b"~", b"0"], e),
        (args![b"XTRIM", b"s", b"MAXLEN", b"0"], e),
        (args![b"XINFO", b"STREAM", b"s"], e),
        (args![b"XINFO", b"GROUPS", b"s"], e),
        (args![b"XGROUP", b"DELCONSUMER", b"s", b"g", b"d"], e),
        (args![b"XGROUP", b"DESTROY", b"s", b"g"], e),
    ];
    // WRONGTYPE against a string.
    p.redis.cmd(&[b"SET", b"str", b"1"]);
    p.ex.ks.dbs[0].set(b"str", redkit::keyspace::string::string_value(b"1"));
    for c in [
        args![b"XADD", b"str", b"1-1", b"a", b"b"],
        args![b"XLEN", b"str"],
        args![b"XRANGE", b"str", b"-", b"+"],
        args![b"XREAD", b"STREAMS", b"str", b"0"],
        args![b"XGROUP", b"CREATE", b"str", b"g", b"$", b"MKSTREAM"],
        args![b"XINFO", b"STREAM", b"str"],
        args![b"XPENDING", b"str", b"g"],
        args![b"XCLAIM", b"str", b"g", b"c", b"0", b"1"],
        args![b"XAUTOCLAIM", b"str", b"g", b"c", b"0", b"1"],
        args![b"XACK", b"str", b"g", b"1"],
        args![b"XDEL", b"str", b"1"],
        args![b"XTRIM", b"str", b"MAXLEN", b"1"],
        args![b"XSETID", b"str", b"1"],
    ] {
        cases.push((c, e));
    }
    run(&mut p, &cases);
    p.redis.cmd(&[b"DEL", b"str"]);
    p.ex.ks.dbs[0].remove(b"str");
    p.compare_keyspace();
}

/// XADD with generated ids: only the shape of replies can match, but lengths and groups can.
#[test]
fn generated_ids_shape() {
    let mut p = Pair::start();
    let mut cases = Vec::new();
    for i in 0..50 {
        cases.push((
            args![b"XADD", b"auto", b"*", b"f", i.to_string()],
            Kind::Shape,
        ));
        cases.push((args![b"XLEN", b"auto"], Kind::Exact));
    }
    cases.push((
        args![b"XADD", b"auto", b"MAXLEN", b"~", b"10", b"*", b"f", b"v"],
        Kind::Shape,
    ));
    cases.push((args![b"XLEN", b"auto"], Kind::Exact));
    run(&mut p, &cases);
}

/// Stream commands on keys of other types and other types' commands on streams (needs the other
/// type modules: runs after the merge).
#[test]
fn cross_type_wrongtype_and_overwrite() {
    let mut p = Pair::start();
    let e = Kind::Exact;
    let cases: Vec<(Cmd, Kind)> = vec![
        (args![b"RPUSH", b"l", b"a"], e),
        (args![b"HSET", b"h", b"f", b"v"], e),
        (args![b"XADD", b"x", b"1-1", b"f", b"v"], e),
        (args![b"XADD", b"l", b"1-1", b"f", b"v"], e),
        (args![b"XLEN", b"h"], e),
        (
            args![b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"l", b">"],
            e,
        ),
        (args![b"XINFO", b"GROUPS", b"h"], e),
        (args![b"LPUSH", b"x", b"a"], e),
        (args![b"GET", b"x"], e),
        (args![b"SET", b"x", b"1"], e),
        (args![b"TYPE", b"x"], e),
        (args![b"XADD", b"x", b"1-1", b"f", b"v"], e),
    ];
    run(&mut p, &cases);
    p.compare_keyspace();
}

//! List commands against a real redis-server 7.0: random command streams (fixed seeds) with
//! default and small node sizes, hand-written bad input, WRONGTYPE, and the propagated
//! commands compared with what Redis writes to its AOF.

mod common;
mod oracle;

use common::{Cmd, Rng};
use oracle::{Case, Pair};

fn lkey(rng: &mut Rng) -> Vec<u8> {
    oracle::key(rng, "l", 6)
}

/// Elements from a small pool (so LREM / LINSERT / LPOS find them), sometimes anything.
fn elem(rng: &mut Rng) -> Vec<u8> {
    const POOL: &[&str] = &["a", "b", "c", "1", "2", "-3", "", "100000", "x y"];
    match rng.below(10) {
        0..=5 => rng.pick(POOL).as_bytes().to_vec(),
        6 => {
            // Long values make the 8 KiB nodes split.
            let n = rng.range(100, 3000) as usize;
            vec![b'L'; n]
        }
        _ => oracle::value(rng),
    }
}

/// An index or count: usually small, sometimes huge, negative or not a number.
fn index(rng: &mut Rng) -> Vec<u8> {
    match rng.below(30) {
        0 => i64::MIN.to_string().into_bytes(),
        1 => i64::MAX.to_string().into_bytes(),
        2 => b"-9223372036854775809".to_vec(),
        _ => oracle::int_arg(rng, -12, 12),
    }
}

fn side(rng: &mut Rng) -> Vec<u8> {
    rng.pick(&["LEFT", "right", "Left", "RIGHT", "middle"])
        .as_bytes()
        .to_vec()
}

fn timeout(rng: &mut Rng) -> Vec<u8> {
    rng.pick(&["0", "0.01", "1", "-1", "abc", "inf", "1e400", "0x10", "-0"])
        .as_bytes()
        .to_vec()
}

fn push_args(rng: &mut Rng, name: &str) -> Cmd {
    let mut c = vec![name.as_bytes().to_vec(), lkey(rng)];
    let n = if rng.chance(1, 8) {
        rng.range(20, 120)
    } else {
        rng.range(0, 4)
    };
    for _ in 0..n {
        c.push(elem(rng));
    }
    c
}

/// One step: usually one command, blocking ones wrapped in MULTI/EXEC so Redis never waits.
fn gen(rng: &mut Rng) -> Vec<Case> {
    let ex = Case::exact;
    let k = lkey(rng);
    match rng.below(40) {
        0..=5 => vec![ex(push_args(rng, "RPUSH"))],
        6..=8 => vec![ex(push_args(rng, "LPUSH"))],
        9 => vec![ex(push_args(rng, "LPUSHX"))],
        10 => vec![ex(push_args(rng, "RPUSHX"))],
        11 | 12 => {
            let name = rng.pick(&["LPOP", "RPOP"]).to_string();
            let c = match rng.below(4) {
                0 => args![name, k],
                1 => args![name, k, index(rng), b"extra"],
                _ => args![name, k, index(rng)],
            };
            vec![ex(c)]
        }
        13 => {
            let w = rng.pick(&["BEFORE", "after", "MIDDLE"]).to_string();
            vec![ex(args![b"LINSERT", k, w, elem(rng), elem(rng)])]
        }
        14 => vec![ex(args![b"LSET", k, index(rng), elem(rng)])],
        15 => vec![ex(args![b"LREM", k, index(rng), elem(rng)])],
        16 => vec![ex(args![b"LTRIM", k, index(rng), index(rng)])],
        17 => vec![ex(args![b"LMOVE", k, lkey(rng), side(rng), side(rng)])],
        18 => vec![ex(args![b"RPOPLPUSH", k, lkey(rng)])],
        19 | 20 => {
            let mut c = args![b"LMPOP"];
            let nk = rng.below(4);
            c.push(match rng.below(12) {
                0 => b"0".to_vec(),
                1 => b"abc".to_vec(),
                2 => b"99".to_vec(),
                _ => nk.to_string().into_bytes(),
            });
            for _ in 0..nk {
                c.push(lkey(rng));
            }
            c.push(side(rng));
            match rng.below(5) {
                0 => {}
                1 => c.extend(args![b"COUNT", index(rng)]),
                2 => c.extend(args![b"COUNT", b"2", b"COUNT", b"3"]),
                _ => c.extend(args![b"count", rng.range(1, 30).to_string()]),
            }
            vec![ex(c)]
        }
        21..=24 => {
            let c = match rng.below(4) {
                0 => args![b"LRANGE", k, b"0", b"-1"],
                _ => args![b"LRANGE", k, index(rng), index(rng)],
            };
            vec![ex(c)]
        }
        25 => vec![ex(args![b"LLEN", k])],
        26 => vec![ex(args![b"LINDEX", k, index(rng)])],
        27 | 28 => {
            let mut c = args![b"LPOS", k, elem(rng)];
            for _ in 0..rng.below(4) {
                match rng.below(8) {
                    0 => c.extend(args![b"RANK", index(rng)]),
                    1 => c.extend(args![b"rank", rng.range(1, 4).to_string()]),
                    2 => c.extend(args![b"RANK", format!("-{}", rng.range(1, 4))]),
                    3 => c.extend(args![b"COUNT", index(rng)]),
                    4 => c.extend(args![b"COUNT", rng.below(4).to_string()]),
                    5 => c.extend(args![b"MAXLEN", index(rng)]),
                    6 => c.extend(args![b"MAXLEN", rng.below(6).to_string()]),
                    _ => c.push(b"BOGUS".to_vec()),
                }
            }
            vec![ex(c)]
        }
        29..=33 => {
            let blocking = match rng.below(5) {
                0 | 1 => {
                    let mut c = vec![rng.pick(&["BLPOP", "BRPOP"]).as_bytes().to_vec()];
                    for _ in 0..rng.range(1, 4) {
                        c.push(lkey(rng));
                    }
                    c.push(timeout(rng));
                    c
                }
                2 => args![b"BLMOVE", k, lkey(rng), side(rng), side(rng), timeout(rng)],
                3 => args![b"BRPOPLPUSH", k, lkey(rng), timeout(rng)],
                _ => {
                    let nk = rng.range(1, 4);
                    let mut c = args![b"BLMPOP", timeout(rng), nk.to_string()];
                    for _ in 0..nk {
                        c.push(lkey(rng));
                    }
                    c.push(side(rng));
                    if rng.chance(1, 2) {
                        c.extend(args![b"COUNT", index(rng)]);
                    }
                    c
                }
            };
            vec![ex(args![b"MULTI"]), ex(blocking), ex(args![b"EXEC"])]
        }
        34 => vec![ex(args![b"DEL", k])],
        _ => {
            // Wrong arity.
            let c = match rng.below(8) {
                0 => args![b"LPUSH", k],
                1 => args![b"LINSERT", k, b"BEFORE", b"a"],
                2 => args![b"LSET", k, b"0"],
                3 => args![b"LRANGE", k, b"0"],
                4 => args![b"LMPOP", b"1"],
                5 => args![b"BLPOP", k],
                6 => args![b"LPOS", k],
                _ => args![b"LTRIM", k, b"0", b"1", b"2"],
            };
            vec![ex(c)]
        }
    }
}

/// DEL is not a list command but the generator uses it to start keys over: a minimal one
/// is needed on the redkit side only if the keys helper has not provided it yet.
fn has_del(p: &mut Pair) -> bool {
    !matches!(
        p.redkit(&args![b"DEL", b"__probe__"]),
        common::Reply::Error(_)
    )
}

fn random_run(p: &mut Pair, seed: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let del = has_del(p);
    let mut batch = Vec::new();
    for step in 0..steps {
        let cases = gen(&mut rng);
        if !del && cases.iter().any(|c| c.cmd[0] == b"DEL") {
            continue;
        }
        batch.extend(cases);
        if batch.len() >= 60 || step + 1 == steps {
            p.run(&batch);
            batch.clear();
            p.compare_keyspace();
        }
    }
    // The stream did something: lists exist and many commands ran.
    eprintln!(
        "seed {seed}: {} commands, {} keys, {} elements",
        p.history.len(),
        p.ex.ks.key_count(),
        p.ex.ks.dbs[0]
            .map
            .values()
            .map(|e| match &e.value {
                redkit::keyspace::Value::List(l) => l.len(),
                _ => 0,
            })
            .sum::<usize>()
    );
    assert!(p.history.len() > steps && p.ex.ks.key_count() > 0);
}

#[test]
fn random_commands_default_config() {
    let mut p = Pair::start();
    random_run(&mut p, 1, 8000);
}

#[test]
fn random_commands_small_nodes() {
    let mut p = Pair::start_with(&[("list-max-listpack-size", "4")]);
    random_run(&mut p, 2, 6000);
}

#[test]
fn random_commands_other_node_sizes() {
    for (i, fill) in ["1", "-1", "0", "-5", "-7", "100000"].iter().enumerate() {
        let mut p = Pair::start_with(&[("list-max-listpack-size", fill)]);
        random_run(&mut p, 10 + i as u64, 1500);
    }
}

#[test]
fn bad_input_and_edge_cases() {
    let mut p = Pair::start_with(&[("list-max-listpack-size", "4")]);
    let cases: Vec<Cmd> = vec![
        args![b"RPUSH", b"k", b"a", b"b", b"c", b"a", b"b", b"c", b"1", b"-1", b"a"],
        // LPOP / RPOP counts: nil vs empty array.
        args![b"LPOP", b"k", b"0"],
        args![b"LPOP", b"nokey", b"0"],
        args![b"LPOP", b"nokey"],
        args![b"RPOP", b"nokey", b"3"],
        args![b"LPOP", b"k", b"-1"],
        args![b"LPOP", b"k", b"abc"],
        args![b"LPOP", b"k", b"1", b"2"],
        args![b"RPOP", b"k", b"99999999999999999999"],
        args![b"RPUSH", b"k", b"a", b"b", b"c", b"a", b"b", b"c", b"1", b"-1", b"a"],
        args![b"RPOP", b"k", b"2"],
        args![b"LPOP", b"k", b"9223372036854775807"],
        args![b"RPUSH", b"k", b"a", b"b", b"c", b"a", b"b", b"c", b"1", b"-1", b"a"],
        // Indexes.
        args![b"LINDEX", b"k", b"-1"],
        args![b"LINDEX", b"k", b"-9223372036854775808"],
        args![b"LINDEX", b"k", b"9223372036854775807"],
        args![b"LINDEX", b"k", b"1.5"],
        args![b"LINDEX", b"nokey", b"abc"],
        args![b"LSET", b"nokey", b"0", b"x"],
        args![b"LSET", b"k", b"100", b"x"],
        args![b"LSET", b"k", b"-100", b"x"],
        args![b"LSET", b"k", b"abc", b"x"],
        args![b"LSET", b"k", b"-1", b"last"],
        args![b"LSET", b"k", b"0", b"12345"],
        args![
            b"LRANGE",
            b"k",
            b"-9223372036854775808",
            b"9223372036854775807"
        ],
        args![
            b"LRANGE",
            b"k",
            b"9223372036854775807",
            b"-9223372036854775808"
        ],
        args![b"LRANGE", b"k", b"x", b"1"],
        args![b"LRANGE", b"nokey", b"x", b"1"],
        args![b"LRANGE", b"k", b"-3", b"-2"],
        // LINSERT.
        args![b"LINSERT", b"k", b"middle", b"a", b"x"],
        args![b"LINSERT", b"nokey", b"middle", b"a", b"x"],
        args![b"LINSERT", b"nokey", b"before", b"a", b"x"],
        args![b"LINSERT", b"k", b"before", b"zzz", b"x"],
        args![b"LINSERT", b"k", b"AFTER", b"1", b"after-one"],
        args![b"LINSERT", b"k", b"BEFORE", b"-1", b"before-minus-one"],
        // LREM.
        args![b"LREM", b"k", b"-1", b"a"],
        args![b"LREM", b"k", b"1", b"b"],
        args![b"LREM", b"k", b"0", b"c"],
        args![b"LREM", b"k", b"x", b"c"],
        args![b"LREM", b"k", b"-9223372036854775808", b"a"],
        args![b"LREM", b"nokey", b"0", b"a"],
        // LPOS.
        args![b"RPUSH", b"p", b"a", b"b", b"a", b"c", b"a", b"a"],
        args![b"LPOS", b"p", b"a"],
        args![b"LPOS", b"p", b"a", b"RANK", b"0"],
        args![b"LPOS", b"p", b"a", b"RANK", b"-1"],
        args![b"LPOS", b"p", b"a", b"RANK", b"-9223372036854775808"],
        args![b"LPOS", b"p", b"a", b"RANK", b"-9223372036854775807"],
        args![b"LPOS", b"p", b"a", b"RANK", b"2", b"COUNT", b"0"],
        args![b"LPOS", b"p", b"a", b"RANK", b"-2", b"COUNT", b"2"],
        args![b"LPOS", b"p", b"a", b"COUNT", b"-1"],
        args![b"LPOS", b"p", b"a", b"COUNT", b"x"],
        args![b"LPOS", b"p", b"a", b"MAXLEN", b"-1"],
        args![b"LPOS", b"p", b"a", b"MAXLEN", b"2", b"COUNT", b"0"],
        args![b"LPOS", b"p", b"a", b"RANK"],
        args![b"LPOS", b"p", b"zzz", b"COUNT", b"0"],
        args![b"LPOS", b"nokey", b"a", b"COUNT", b"0"],
        args![b"LPOS", b"nokey", b"a"],
        args![b"LPOS", b"nokey", b"a", b"RANK", b"0"],
        // LMPOP parsing.
        args![b"LMPOP", b"0", b"k", b"LEFT"],
        args![b"LMPOP", b"-1", b"k", b"LEFT"],
        args![b"LMPOP", b"abc", b"k", b"LEFT"],
        args![b"LMPOP", b"5", b"k", b"LEFT"],
        args![b"LMPOP", b"9223372036854775806", b"k", b"LEFT"],
        args![b"LMPOP", b"1", b"k", b"UP"],
        args![b"LMPOP", b"1", b"k", b"LEFT", b"COUNT", b"0"],
        args![b"LMPOP", b"1", b"k", b"LEFT", b"COUNT"],
        args![b"LMPOP", b"1", b"k", b"LEFT", b"COUNT", b"1", b"COUNT", b"1"],
        args![b"LMPOP", b"2", b"nokey", b"k", b"RIGHT", b"COUNT", b"3"],
        args![b"LMPOP", b"2", b"nokey", b"nokey2", b"RIGHT"],
        // LMOVE on one key, nil source, syntax.
        args![b"LMOVE", b"p", b"p", b"LEFT", b"RIGHT"],
        args![b"LMOVE", b"p", b"p", b"RIGHT", b"LEFT"],
        args![b"LMOVE", b"nokey", b"p", b"LEFT", b"RIGHT"],
        args![b"LMOVE", b"p", b"q", b"UP", b"RIGHT"],
        args![b"RPOPLPUSH", b"p", b"q"],
        args![b"RPUSH", b"one", b"x"],
        args![b"RPOPLPUSH", b"one", b"one"],
        args![b"RPOPLPUSH", b"one", b"other"],
        // LTRIM.
        args![b"LTRIM", b"k", b"1", b"-2"],
        args![b"LTRIM", b"k", b"x", b"0"],
        args![b"LTRIM", b"nokey", b"0", b"1"],
        args![b"LTRIM", b"k", b"0", b"-1"],
        args![b"LTRIM", b"k", b"5", b"1"],
        args![b"LLEN", b"k"],
        // Pushes.
        args![b"LPUSHX", b"nokey", b"a"],
        args![b"RPUSHX", b"p", b"z", b"y"],
        args![
            b"LPUSH",
            b"big",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"0012"
        ],
    ];
    let cases: Vec<Case> = cases.into_iter().map(Case::exact).collect();
    p.run(&cases);
    p.compare_keyspace();

    // Blocking forms inside MULTI (Redis does not block there).
    let blocking: Vec<Cmd> = vec![
        args![b"BLPOP", b"nokey", b"0"],
        args![b"BLPOP", b"nokey", b"p", b"0"],
        args![b"BRPOP", b"p", b"nokey", b"0.5"],
        args![b"BLPOP", b"nokey", b"-1"],
        args![b"BLPOP", b"nokey", b"abc"],
        args![b"BLPOP", b"nokey", b"inf"],
        args![b"BLPOP", b"nokey", b"9223372036854775"],
        args![b"BLPOP", b"nokey", b"9223372036854776"],
        args![b"BLPOP", b"nokey", b"-0.0001"],
        args![b"BLMOVE", b"nokey", b"q", b"LEFT", b"LEFT", b"0"],
        args![b"BLMOVE", b"p", b"q", b"LEFT", b"UP", b"0"],
        args![b"BLMOVE", b"p", b"q", b"LEFT", b"RIGHT", b"x"],
        args![b"BLMOVE", b"p", b"q", b"RIGHT", b"LEFT", b"0"],
        args![b"BRPOPLPUSH", b"nokey", b"q", b"0"],
        args![b"BRPOPLPUSH", b"p", b"q", b"0"],
        args![b"BRPOPLPUSH", b"p", b"q", b"-5"],
        args![b"BLMPOP", b"0", b"1", b"nokey", b"LEFT"],
        args![b"BLMPOP", b"bad", b"1", b"nokey", b"LEFT"],
        args![b"BLMPOP", b"bad", b"0", b"nokey", b"LEFT"],
        args![b"BLMPOP", b"0", b"2", b"nokey", b"q", b"RIGHT", b"COUNT", b"10"],
        args![b"BLMPOP", b"0", b"2", b"nokey", b"q", b"RIGHT", b"COUNT", b"-1"],
    ];
    for c in blocking {
        p.run(&[
            Case::exact(args![b"MULTI"]),
            Case::exact(c),
            Case::exact(args![b"EXEC"]),
        ]);
    }
    p.compare_keyspace();
}

#[test]
fn wrongtype_against_a_string() {
    let mut p = Pair::start();
    p.redis.cmd(&[b"SET", b"s", b"1"]);
    p.ex.ks.dbs[0].set(b"s", redkit::keyspace::string::string_value(b"1"));
    p.run(&[Case::exact(args![b"RPUSH", b"l", b"a", b"b"])]);
    let cmds: Vec<Cmd> = vec![
        args![b"LPUSH", b"s", b"a"],
        args![b"RPUSHX", b"s", b"a"],
        args![b"LPOP", b"s"],
        args![b"LPOP", b"s", b"abc"],
        args![b"RPOP", b"s", b"0"],
        args![b"LLEN", b"s"],
        args![b"LINDEX", b"s", b"abc"],
        args![b"LSET", b"s", b"abc", b"x"],
        args![b"LRANGE", b"s", b"0", b"-1"],
        args![b"LRANGE", b"s", b"x", b"-1"],
        args![b"LTRIM", b"s", b"0", b"-1"],
        args![b"LREM", b"s", b"0", b"a"],
        args![b"LINSERT", b"s", b"before", b"a", b"b"],
        args![b"LINSERT", b"s", b"nowhere", b"a", b"b"],
        args![b"LPOS", b"s", b"a"],
        args![b"LPOS", b"s", b"a", b"RANK", b"0"],
        args![b"LMOVE", b"s", b"l", b"LEFT", b"LEFT"],
        args![b"LMOVE", b"l", b"s", b"LEFT", b"LEFT"],
        args![b"LMOVE", b"nokey", b"s", b"LEFT", b"LEFT"],
        args![b"RPOPLPUSH", b"l", b"s"],
        args![b"LMPOP", b"2", b"nokey", b"s", b"LEFT"],
        args![b"LMPOP", b"2", b"l", b"s", b"LEFT"],
        args![b"LLEN", b"l"],
    ];
    p.run(&cmds.into_iter().map(Case::exact).collect::<Vec<_>>());
    for c in [
        args![b"BLPOP", b"nokey", b"s", b"0"],
        args![b"BLPOP", b"l", b"s", b"0"],
        args![b"BLMOVE", b"s", b"l", b"LEFT", b"LEFT", b"0"],
        args![b"BRPOPLPUSH", b"l", b"s", b"0"],
        args![b"BLMPOP", b"0", b"1", b"s", b"LEFT"],
    ] {
        p.run(&[
            Case::exact(args![b"MULTI"]),
            Case::exact(c),
            Case::exact(args![b"EXEC"]),
        ]);
    }
    // The string is untouched (compare_keyspace needs GET, a string command, so check here).
    assert!(matches!(
        p.ex.ks.dbs[0].get(b"s").map(|e| &e.value),
        Some(redkit::keyspace::Value::Int(1))
    ));
}

/// Commands of an AOF (RESP arrays of bulk strings), without SELECT / MULTI / EXEC.
fn aof_commands(data: &[u8]) -> Vec<Cmd> {
    fn line(d: &[u8], pos: &mut usize) -> Vec<u8> {
        let start = *pos;
        while !d[*pos..].starts_with(b"\r\n") {
            *pos += 1;
        }
        let l = d[start..*pos].to_vec();
        *pos += 2;
        l
    }
    let num = |b: &[u8]| -> usize { std::str::from_utf8(b).unwrap().parse().unwrap() };
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let head = line(data, &mut pos);
        assert_eq!(head[0], b'*', "AOF record does not start with *");
        let n = num(&head[1..]);
        let mut cmd = Vec::new();
        for _ in 0..n {
            let h = line(data, &mut pos);
            let len = num(&h[1..]);
            cmd.push(data[pos..pos + len].to_vec());
            pos += len + 2;
        }
        out.push(cmd);
    }
    out.retain(|c| {
        let name = c[0].to_ascii_uppercase();
        name != b"SELECT" && name != b"MULTI" && name != b"EXEC"
    });
    out
}

/// What redkit propagates must be what Redis writes to its AOF for the same commands.
#[test]
fn propagation_matches_the_redis_aof() {
    // Pair::start_with only takes settings redkit knows: build this pair by hand.
    let cfg = redkit::keyspace::Config {
        list_max_listpack_size: 4,
        ..Default::default()
    };
    let mut p = Pair {
        redis: common::RedisServer::start(&[
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("list-max-listpack-size", "4"),
        ]),
        ex: redkit::cmd::Executor::new(redkit::keyspace::Keyspace::new(cfg)),
        sess: redkit::cmd::Session::default(),
        history: Vec::new(),
    };
    p.ex.propagating = true;
    let mut rng = Rng::new(77);
    let del = has_del(&mut p);
    p.ex.propagated.clear();
    for _ in 0..60 {
        let mut batch = Vec::new();
        for _ in 0..60 {
            let cases = gen(&mut rng);
            if !del && cases.iter().any(|c| c.cmd[0] == b"DEL") {
                continue;
            }
            batch.extend(cases);
        }
        p.run(&batch);
    }
    // Every command has been answered, and with appendfsync always written before the reply.
    let dir = p.redis.dir.join("appendonlydir");
    let incr = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.to_string_lossy().ends_with(".incr.aof"))
        .expect("no incr AOF file");
    let theirs = aof_commands(&std::fs::read(incr).unwrap());
    let ours: Vec<Cmd> =
        p.ex.propagated
            .iter()
            .map(|pr| pr.argv.clone())
            .filter(|c| {
                let name = c[0].to_ascii_uppercase();
                name != b"MULTI" && name != b"EXEC"
            })
            .collect();
    assert!(theirs.len() > 100, "too few writes: {}", theirs.len());
    let mut names: Vec<String> = theirs
        .iter()
        .map(|c| String::from_utf8_lossy(&c[0]).into_owned())
        .collect();
    names.sort();
    names.dedup();
    eprintln!("{} propagated commands: {names:?}", theirs.len());
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(
            oracle::show(a),
            oracle::show(b),
            "propagated command {i} differs"
        );
    }
    assert_eq!(theirs.len(), ours.len());
}

/// Lists meeting other types (needs the other types' commands: runs after merging).
#[test]
fn cross_type_wrongtype() {
    let mut p = Pair::start();
    let cmds: Vec<Cmd> = vec![
        args![b"HSET", b"h", b"f", b"v"],
        args![b"SADD", b"s", b"m"],
        args![b"ZADD", b"z", b"1", b"m"],
        args![b"RPUSH", b"l", b"a", b"b"],
        args![b"LPUSH", b"h", b"a"],
        args![b"LRANGE", b"s", b"0", b"-1"],
        args![b"LMOVE", b"l", b"z", b"LEFT", b"LEFT"],
        args![b"LMPOP", b"3", b"nokey", b"h", b"l", b"LEFT"],
        args![b"SET", b"l", b"x"],
        args![b"LLEN", b"l"],
        args![b"RPUSH", b"l2", b"a"],
        args![b"HSET", b"l2", b"f", b"v"],
        args![b"SADD", b"l2", b"m"],
        args![b"GET", b"l2"],
    ];
    p.run(&cmds.into_iter().map(Case::exact).collect::<Vec<_>>());
    p.compare_keyspace();
}

/// Lists saved by Redis load through `list::Loader` (adopting the quicklist-2 nodes) into the
/// same elements, with the encoding Redis reports.
#[test]
fn rdb_lists_load_through_the_loader() {
    use redkit_formats::rdb::read::{decode_value, parse_header, Item, Parser, Walker, HEADER_LEN};
    for fill in ["-2", "4", "1"] {
        let mut srv = common::RedisServer::start(&[("list-max-listpack-size", fill)]);
        let mut rng = Rng::new(5);
        let mut want: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
        for k in 0..6 {
            let key = format!("list:{k}").into_bytes();
            let n = [1, 3, 50, 700, 5000, 20][k];
            let mut cmd = args![b"RPUSH", key];
            for _ in 0..n {
                cmd.push(elem(&mut rng));
            }
            srv.pipeline_ok(&[cmd]);
            let items = srv.cmd(&[b"LRANGE", &key, b"0", b"-1"]).bulks();
            want.push((key, items));
        }
        let data = std::fs::read(srv.save()).unwrap();
        let header = parse_header(&data).unwrap();
        let mut parser = Parser::new(header);
        let ctx = parser.ctx();
        let mut walker = Walker::default();
        let cfg = {
            let mut c = redkit::keyspace::Config::default();
            c.set("list-max-listpack-size", fill).unwrap();
            c
        };
        let mut pos = HEADER_LEN;
        let mut got = Vec::new();
        loop {
            let f = parser.next(&data, pos, 0).unwrap();
            pos = f.end;
            match f.item {
                Item::Key(rec) => {
                    let mut ld = redkit::keyspace::list::Loader::new(&cfg);
                    decode_value(&ctx, &mut walker, &rec, &mut ld).unwrap();
                    let key = rec.key.to_vec(rec.key_offset).unwrap();
                    got.push((key, ld.finish(&cfg).unwrap()));
                }
                Item::Eof => break,
                _ => {}
            }
        }
        assert_eq!(got.len(), want.len());
        for (key, items) in &want {
            let (_, v) = got.iter().find(|(k, _)| k == key).unwrap();
            let redkit::keyspace::Value::List(l) = v else {
                panic!("not a list")
            };
            let ours: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
            assert_eq!(&ours, items, "fill {fill} key {}", oracle::show_arg(key));
            assert_eq!(v.encoding(), "quicklist");
            // Redis's nodes were adopted as they are.
            let enc = srv.cmd(&[b"OBJECT", b"ENCODING", key]);
            assert_eq!(enc.bulk(), b"quicklist");
            let dbg = srv.cmd(&[b"DEBUG", b"OBJECT", key]).text();
            let ql_nodes: usize = dbg
                .split(' ')
                .find_map(|w| w.strip_prefix("ql_nodes:"))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(l.nodes().count(), ql_nodes, "{dbg}");
            // Pushing the same elements splits nodes where Redis does.
            let mut pushed = redkit::keyspace::list::List::with_config(&cfg);
            for e in items {
                pushed.push_tail(redkit_formats::Elem::Bytes(e));
            }
            assert_eq!(pushed.nodes().count(), ql_nodes, "pushed, fill {fill}");
        }
    }
}

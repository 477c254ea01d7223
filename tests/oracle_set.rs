//! Set commands against redis-server 7.0: random SADD/SREM/SMOVE/SINTER*/SUNION*/SDIFF*/...
//! with integer and string members around the intset limits, replies compared and the whole
//! keyspace (members and OBJECT ENCODING) compared after every batch. SPOP and SRANDMEMBER
//! are random by design: their invariants are checked separately.

mod common;
mod oracle;

use std::collections::HashSet;

use common::{Reply, Rng};
use oracle::{Case, Norm, Pair};

const KEYS: u64 = 6;

fn skey(rng: &mut Rng) -> Vec<u8> {
    oracle::key(rng, "s", KEYS)
}

/// A member exercising the encodings: small and big integers, integer-looking strings that
/// are not canonical, strings at and past the 64-byte listpack limit, the empty string.
fn member(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0..=7 => rng.below(40).to_string().into_bytes(),
        8 => format!("-{}", rng.range(1, 40)).into_bytes(),
        9 => rng
            .pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "70000",
                "-70000",
                "1099511627776",
                "32767",
                "32768",
                "-32768",
                "-32769",
                "2147483648",
            ])
            .as_bytes()
            .to_vec(),
        10 => rng
            .pick(&["01", "-0", "+1", " 1", "1 ", "1.5", "9223372036854775808"])
            .as_bytes()
            .to_vec(),
        11 => {
            let mut v = vec![b'x'; 63];
            v.push(b'a' + rng.below(3) as u8);
            v
        }
        12 => {
            let mut v = vec![b'y'; 64];
            v.push(b'a' + rng.below(3) as u8);
            v
        }
        13 => Vec::new(),
        14 => vec![0xff, rng.below(4) as u8],
        _ => vec![b'a' + rng.below(8) as u8],
    }
}

fn members(rng: &mut Rng, n: u64) -> Vec<Vec<u8>> {
    (0..rng.range(1, n)).map(|_| member(rng)).collect()
}

fn keys(rng: &mut Rng, n: u64) -> Vec<Vec<u8>> {
    (0..rng.range(1, n)).map(|_| skey(rng)).collect()
}

fn cmd(name: &str, rest: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut v = vec![name.as_bytes().to_vec()];
    v.extend(rest);
    v
}

fn gen_case(rng: &mut Rng) -> Case {
    let exact = Case::exact;
    match rng.below(80) {
        0..=21 => {
            let mut a = vec![skey(rng)];
            a.extend(members(rng, 6));
            exact(cmd("SADD", a))
        }
        22..=26 => {
            // Many integers at once: grows sets past the intset limit.
            let mut a = vec![skey(rng)];
            for _ in 0..rng.range(40, 220) {
                a.push(rng.below(1000).to_string().into_bytes());
            }
            exact(cmd("SADD", a))
        }
        27..=36 => {
            let mut a = vec![skey(rng)];
            a.extend(members(rng, 5));
            exact(cmd("SREM", a))
        }
        37..=41 => exact(cmd("SMOVE", vec![skey(rng), skey(rng), member(rng)])),
        42..=44 => exact(cmd("SISMEMBER", vec![skey(rng), member(rng)])),
        45..=46 => {
            let mut a = vec![skey(rng)];
            a.extend(members(rng, 5));
            exact(cmd("SMISMEMBER", a))
        }
        47..=48 => exact(cmd("SCARD", vec![skey(rng)])),
        49..=50 => Case::with(Norm::Unordered, cmd("SMEMBERS", vec![skey(rng)])),
        51..=53 => Case::with(Norm::Unordered, cmd("SINTER", keys(rng, 4))),
        54..=55 => Case::with(Norm::Unordered, cmd("SUNION", keys(rng, 4))),
        56..=58 => Case::with(Norm::Unordered, cmd("SDIFF", keys(rng, 4))),
        59..=61 => {
            let mut a = vec![skey(rng)];
            a.extend(keys(rng, 4));
            exact(cmd("SINTERSTORE", a))
        }
        62..=63 => {
            let mut a = vec![skey(rng)];
            a.extend(keys(rng, 4));
            exact(cmd("SUNIONSTORE", a))
        }
        64..=66 => {
            let mut a = vec![skey(rng)];
            a.extend(keys(rng, 4));
            exact(cmd("SDIFFSTORE", a))
        }
        67..=69 => {
            let ks = keys(rng, 4);
            let mut a = vec![];
            match rng.below(10) {
                0 => a.push(b"0".to_vec()),
                1 => a.push(b"x".to_vec()),
                2 => a.push((ks.len() + 1).to_string().into_bytes()),
                _ => a.push(ks.len().to_string().into_bytes()),
            }
            a.extend(ks);
            match rng.below(8) {
                0 => a.push(b"LIMIT".to_vec()),
                1 => a.extend([b"limit".to_vec(), b"-1".to_vec()]),
                2 => a.extend([b"LIMIT".to_vec(), b"abc".to_vec()]),
                3 => a.push(b"FOO".to_vec()),
                4 | 5 => a.extend([b"LIMIT".to_vec(), rng.below(5).to_string().into_bytes()]),
                _ => {}
            }
            exact(cmd("SINTERCARD", a))
        }
        // Popping at least the whole set is deterministic.
        70 => Case::with(
            Norm::Unordered,
            cmd("SPOP", vec![skey(rng), b"100000".to_vec()]),
        ),
        71 => {
            let k = skey(rng);
            let bad = rng
                .pick(&["-1", "x", "0", "-9223372036854775808", "1.5"])
                .as_bytes()
                .to_vec();
            match rng.below(3) {
                0 => exact(cmd("SPOP", vec![k, bad])),
                1 => exact(cmd("SPOP", vec![k, b"1".to_vec(), b"2".to_vec()])),
                _ => {
                    let bad = rng
                        .pick(&["x", "0", "-9223372036854775808", "1.5", ""])
                        .as_bytes()
                        .to_vec();
                    exact(cmd("SRANDMEMBER", vec![k, bad]))
                }
            }
        }
        72..=73 => {
            // Random by design: only the reply's kind is compared.
            let k = skey(rng);
            let count = rng.pick(&["1", "3", "-3", "100", "0"]).as_bytes().to_vec();
            if rng.chance(1, 3) {
                Case::with(Norm::Shape, cmd("SRANDMEMBER", vec![k]))
            } else {
                Case::with(Norm::Shape, cmd("SRANDMEMBER", vec![k, count]))
            }
        }
        74 => exact(cmd(
            "SRANDMEMBER",
            vec![skey(rng), b"1".to_vec(), b"2".to_vec()],
        )),
        _ => {
            // Arity errors.
            let k = skey(rng);
            let c = match rng.below(7) {
                0 => cmd("SADD", vec![k]),
                1 => cmd("SREM", vec![k]),
                2 => cmd("SMOVE", vec![k.clone(), k]),
                3 => cmd("SISMEMBER", vec![k]),
                4 => cmd("SCARD", vec![]),
                5 => cmd("SINTERSTORE", vec![k]),
                _ => cmd("SINTERCARD", vec![b"1".to_vec()]),
            };
            exact(c)
        }
    }
}

/// Random batches, comparing keyspaces after each; also checks that the run met both
/// encodings and sets past `min_big` members, so the test cannot pass by staying small.
fn random_run(p: &mut Pair, seed: u64, min_big: usize) {
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::new();
    let mut biggest = 0;
    for _ in 0..25 {
        p.check(&mut rng, 1, 80, gen_case);
        for e in p.ex.ks.dbs[0].map.values() {
            if let redkit::keyspace::Value::Set(s) = &e.value {
                seen.insert(s.encoding());
                biggest = biggest.max(s.len());
            }
        }
    }
    assert!(
        seen.contains("intset") && seen.contains("hashtable"),
        "{seen:?}"
    );
    assert!(biggest > min_big, "largest set {biggest}");
}

#[test]
fn set_commands_match_redis() {
    let mut p = Pair::start();
    random_run(&mut p, 11, 512);
}

#[test]
fn set_commands_with_a_small_intset_limit() {
    let mut p = Pair::start_with(&[("set-max-intset-entries", "4")]);
    random_run(&mut p, 12, 4);
}

#[test]
fn set_thresholds_exactly() {
    let mut p = Pair::start();
    // 512 integers stay an intset; the 513th converts; a string converts at once.
    let mut a: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"big".to_vec()];
    a.extend((0..512).map(|i| i.to_string().into_bytes()));
    let mut cases = vec![Case::exact(a)];
    cases.push(Case::exact(args![b"SADD", b"big", b"511"]));
    cases.push(Case::exact(args![b"SADD", b"ints", b"1", b"2"]));
    cases.push(Case::exact(args![b"SADD", b"mixed", b"1", b"x"]));
    cases.push(Case::exact(args![b"SADD", b"strs", b"x", b"1"]));
    p.run(&cases);
    p.compare_keyspace();
    p.run(&[
        Case::exact(args![b"SADD", b"big", b"512"]),
        Case::exact(args![b"SADD", b"ints", b"01"]),
        // Stores: integers-only results are intsets, others tables.
        Case::exact(args![b"SINTERSTORE", b"d1", b"mixed", b"strs"]),
        Case::exact(args![b"SUNIONSTORE", b"d2", b"big", b"ints"]),
        Case::exact(args![b"SDIFFSTORE", b"d3", b"mixed", b"ints"]),
        Case::exact(args![b"SDIFFSTORE", b"d4", b"big", b"ints"]),
        Case::exact(args![b"SMOVE", b"mixed", b"new1", b"1"]),
        Case::exact(args![b"SMOVE", b"mixed", b"new2", b"x"]),
        Case::exact(args![b"SINTERSTORE", b"d5", b"nosuch", b"big"]),
        Case::exact(args![b"SINTERSTORE", b"d1", b"nosuch"]),
    ]);
    p.compare_keyspace();
}

fn array_of(r: &Reply) -> Vec<Vec<u8>> {
    r.bulks()
}

/// SPOP and SRANDMEMBER: the shape of the replies and the invariants (popped members were
/// in the set and are gone; sizes), and the encoding of what stays when it does not depend
/// on the random draw.
#[test]
fn spop_and_srandmember_invariants() {
    let mut p = Pair::start();
    let ints: Vec<Vec<u8>> = (0..300).map(|i| i.to_string().into_bytes()).collect();
    let strs: Vec<Vec<u8>> = (0..300).map(|i| format!("m{i}").into_bytes()).collect();
    let mixed: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                i.to_string().into_bytes()
            } else {
                format!("s{i}").into_bytes()
            }
        })
        .collect();
    for (name, elems) in [("ints", &ints), ("strs", &strs), ("mixed", &mixed)] {
        for count in [1usize, 3, 50, 250, 299, 310] {
            let key = format!("{name}{count}").into_bytes();
            let mut sadd = vec![b"SADD".to_vec(), key.clone()];
            sadd.extend(elems.iter().cloned());
            p.run(&[Case::exact(sadd)]);
            let all: HashSet<Vec<u8>> = elems.iter().cloned().collect();
            let size = all.len();

            // SRANDMEMBER with a positive count: distinct members of the set.
            let c = count.to_string().into_bytes();
            let r = p.redkit(&args![b"SRANDMEMBER", key, c]);
            let got = array_of(&r);
            assert_eq!(got.len(), count.min(size));
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
            assert!(got.iter().all(|m| all.contains(m)));
            // Negative: exactly |count| members, repeats allowed.
            let neg = format!("-{count}").into_bytes();
            let got = array_of(&p.redkit(&args![b"SRANDMEMBER", key, neg]));
            assert_eq!(got.len(), count);
            assert!(got.iter().all(|m| all.contains(m)));
            let one = p.redkit(&args![b"SRANDMEMBER", key]);
            assert!(all.contains(one.bulk()));

            // SPOP on both sides; the members differ but the sizes do not.
            let want = p.redis.cmd(&[b"SPOP", &key, &c]);
            let got = p.redkit(&args![b"SPOP", key, c]);
            assert_eq!(array_of(&want).len(), array_of(&got).len());
            let popped = array_of(&got);
            assert_eq!(popped.len(), count.min(size));
            assert_eq!(popped.iter().collect::<HashSet<_>>().len(), popped.len());
            assert!(popped.iter().all(|m| all.contains(m)));
            for m in &popped {
                assert_eq!(p.redkit(&args![b"SISMEMBER", key, m]), Reply::Int(0));
            }
            let card = p.redkit(&args![b"SCARD", key]).int() as usize;
            assert_eq!(card, size - popped.len());
            assert_eq!(p.redis.cmd(&[b"SCARD", &key]).int() as usize, card);
            if name != "mixed" {
                // All integers or all strings: the encoding does not depend on the draw.
                let cmd = args![b"OBJECT", b"ENCODING", key];
                let want = p.redis.pipeline(std::slice::from_ref(&cmd)).remove(0);
                assert_eq!(p.redkit(&cmd), want, "{name} SPOP {count}");
            }
            // Single SPOP.
            if card > 0 {
                let got = p.redkit(&args![b"SPOP", key]);
                assert!(all.contains(got.bulk()));
                p.redis.cmd(&[b"SPOP", &key]);
            }
            // Empty both sides again (deterministic: pops everything).
            p.run(&[Case::with(Norm::Shape, args![b"SPOP", key, b"1000"])]);
        }
    }
    p.compare_keyspace();
    // SPOP propagates SREM of each popped member, or DEL when it takes everything.
    p.ex.propagating = true;
    p.run(&[Case::exact(args![
        b"SADD", b"pk", b"1", b"2", b"3", b"4", b"5"
    ])]);
    p.ex.propagated.clear();
    let got = array_of(&p.redkit(&args![b"SPOP", b"pk", b"2"]));
    let prop: Vec<Vec<Vec<u8>>> = p.ex.propagated.iter().map(|x| x.argv.clone()).collect();
    // Several commands from one call go out in MULTI/EXEC, as Redis 7.0 wraps them.
    let mut want = vec![args![b"MULTI"]];
    want.extend(got.iter().map(|m| args![b"SREM", b"pk", m]));
    want.push(args![b"EXEC"]);
    assert_eq!(prop, want);
    p.ex.propagated.clear();
    p.redkit(&args![b"SPOP", b"pk", b"5"]);
    assert_eq!(p.ex.propagated[0].argv, args![b"DEL", b"pk"]);
}

/// WRONGTYPE against a string key (created by hand on both sides: SET is another module).
#[test]
fn set_commands_against_a_string_key() {
    let mut p = Pair::start();
    p.redis.cmd(&[b"SET", b"str", b"1"]);
    p.ex.ks.dbs[0].set(b"str", redkit::keyspace::string::string_value(b"1"));
    p.run(&[Case::exact(args![b"SADD", b"s", b"a", b"1"])]);
    let cases: Vec<Case> = [
        args![b"SADD", b"str", b"a"],
        args![b"SREM", b"str", b"a"],
        args![b"SMOVE", b"str", b"s", b"a"],
        args![b"SMOVE", b"s", b"str", b"a"],
        args![b"SMOVE", b"nosuch", b"str", b"a"],
        args![b"SISMEMBER", b"str", b"a"],
        args![b"SMISMEMBER", b"str", b"a"],
        args![b"SCARD", b"str"],
        args![b"SMEMBERS", b"str"],
        args![b"SPOP", b"str"],
        args![b"SPOP", b"str", b"2"],
        args![b"SPOP", b"str", b"x"],
        args![b"SRANDMEMBER", b"str"],
        args![b"SRANDMEMBER", b"str", b"2"],
        args![b"SINTER", b"nosuch", b"str"],
        args![b"SINTER", b"s", b"str"],
        args![b"SINTERCARD", b"2", b"nosuch", b"str"],
        args![b"SUNION", b"s", b"str"],
        args![b"SDIFF", b"nosuch", b"str"],
        args![b"SINTERSTORE", b"d", b"s", b"str"],
        args![b"SUNIONSTORE", b"d", b"str"],
        args![b"SDIFFSTORE", b"d", b"s", b"str"],
        args![b"SMISMEMBER", b"s", b"a", b"b", b"1"],
    ]
    .into_iter()
    .map(Case::exact)
    .collect();
    p.run(&cases);
    // A STORE onto the string key replaces it with a set.
    p.run(&[Case::exact(args![b"SUNIONSTORE", b"str", b"s"])]);
    p.compare_keyspace();
}

/// Runs after merging (needs SET, GET, LPUSH, DEL from the other modules).
#[test]
fn set_cross_type_cases() {
    let mut p = Pair::start();
    let mut cases: Vec<Case> = [
        args![b"SET", b"str", b"v"],
        args![b"LPUSH", b"list", b"a"],
        args![b"SADD", b"s", b"a", b"2"],
        args![b"SADD", b"list", b"a"],
        args![b"SINTER", b"s", b"list"],
        args![b"SINTERSTORE", b"list", b"s"],
        args![b"SET", b"s", b"now a string"],
        args![b"SADD", b"s2", b"1"],
        args![b"EXPIRE", b"s2", b"100"],
        args![b"SUNIONSTORE", b"s2", b"s2"],
        args![b"SDIFFSTORE", b"str", b"nosuch"],
        args![b"DEL", b"s2"],
    ]
    .into_iter()
    .map(Case::exact)
    .collect();
    cases.push(Case::with(Norm::Unordered, args![b"SMEMBERS", b"list"]));
    p.run(&cases);
    p.compare_keyspace();
}

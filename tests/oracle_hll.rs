//! HyperLogLog commands against redis-server 7.0: random PFADD (enough elements to cross from
//! sparse to dense), PFCOUNT (one key: updates the cached cardinality in the value; several:
//! the union), PFMERGE. After every batch each key's stored string is compared byte for byte
//! with Redis's, with its type and OBJECT ENCODING.

mod common;
mod oracle;

use common::{Reply, Rng};
use oracle::{Case, Norm, Pair};
use redkit::keyspace::string::{string_bytes, string_value};

/// Compare every key of db 0: TYPE, OBJECT ENCODING, and for strings the exact bytes (read
/// from redkit's keyspace directly, so this works without the string module's GET).
fn compare_hll_keyspace(p: &mut Pair) {
    let mut keys = p.redis.cmd(&[b"KEYS", b"*"]).bulks();
    keys.sort();
    let mut ours: Vec<Vec<u8>> = p.ex.ks.dbs[0].map.keys().map(|k| k.to_vec()).collect();
    ours.sort();
    assert_eq!(
        keys.iter().map(|k| oracle::show_arg(k)).collect::<Vec<_>>(),
        ours.iter().map(|k| oracle::show_arg(k)).collect::<Vec<_>>(),
        "key sets differ"
    );
    for k in &keys {
        for cmd in [args![b"TYPE", k], args![b"OBJECT", b"ENCODING", k]] {
            let want = p.redis.pipeline(std::slice::from_ref(&cmd)).remove(0);
            assert_eq!(p.redkit(&cmd), want, "{}", oracle::show(&cmd));
        }
        let ty = p.redis.cmd(&[b"TYPE", k]).text();
        if ty == "string" {
            let want = p.redis.cmd(&[b"GET", k]).bulk().to_vec();
            let e = p.ex.ks.dbs[0].get(k).expect("key");
            let got = string_bytes(&e.value).expect("a string").to_vec();
            assert!(
                want == got,
                "key {}: stored bytes differ (len redis {} redkit {})\n first difference at {:?}",
                oracle::show_arg(k),
                want.len(),
                got.len(),
                want.iter().zip(&got).position(|(a, b)| a != b)
            );
        } else {
            for (cmd, norm) in oracle::value_reads(&ty, k) {
                let want = p.redis.pipeline(std::slice::from_ref(&cmd)).remove(0);
                let got = p.redkit(&cmd);
                assert!(oracle::same(norm, &want, &got), "{}", oracle::show(&cmd));
            }
        }
    }
}

fn hkey(rng: &mut Rng) -> Vec<u8> {
    if rng.chance(1, 25) {
        // A set: WRONGTYPE for every HLL command.
        return b"aset".to_vec();
    }
    format!("h:{}", rng.below(5)).into_bytes()
}

fn element(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0 => Vec::new(),
        1 => rng.below(100).to_string().into_bytes(),
        2 => {
            let n = rng.range(1, 40) as usize;
            rng.bytes(n)
        }
        _ => format!("e{}", rng.below(1_000_000)).into_bytes(),
    }
}

fn gen_case(rng: &mut Rng) -> Case {
    match rng.below(20) {
        0..=7 => {
            let mut a = args![b"PFADD", hkey(rng)];
            for _ in 0..rng.below(8) {
                a.push(element(rng));
            }
            Case::exact(a)
        }
        8..=10 => {
            // Many elements at once: sparse strings grow and turn dense.
            let mut a = args![b"PFADD", hkey(rng)];
            for _ in 0..rng.range(100, 700) {
                a.push(element(rng));
            }
            Case::exact(a)
        }
        11..=13 => Case::exact(args![b"PFCOUNT", hkey(rng)]),
        14..=15 => {
            let mut a = args![b"PFCOUNT"];
            for _ in 0..rng.range(2, 4) {
                a.push(hkey(rng));
            }
            Case::exact(a)
        }
        16..=18 => {
            let mut a = args![b"PFMERGE"];
            for _ in 0..rng.range(1, 4) {
                a.push(hkey(rng));
            }
            Case::exact(a)
        }
        _ => match rng.below(4) {
            0 => Case::exact(args![b"PFADD"]),
            1 => Case::exact(args![b"PFCOUNT"]),
            2 => Case::exact(args![b"PFMERGE"]),
            _ => Case::exact(args![b"PFDEBUG", b"ENCODING", hkey(rng)]),
        },
    }
}

fn start() -> Pair {
    let mut p = Pair::start();
    p.run(&[Case::exact(args![b"SADD", b"aset", b"x"])]);
    p
}

#[test]
fn hll_commands_match_redis_byte_for_byte() {
    let mut p = start();
    let mut rng = Rng::new(21);
    let (mut saw_sparse, mut saw_dense) = (false, false);
    for _ in 0..20 {
        let cases: Vec<Case> = (0..40).map(|_| gen_case(&mut rng)).collect();
        p.run(&cases);
        compare_hll_keyspace(&mut p);
        for e in p.ex.ks.dbs[0].map.values() {
            if let Some(b) = string_bytes(&e.value) {
                saw_sparse |= b[4] == 1 && b.len() > 100;
                saw_dense |= b[4] == 0;
            }
        }
    }
    assert!(
        saw_sparse && saw_dense,
        "sparse {saw_sparse} dense {saw_dense}"
    );
}

/// One key filled slowly: every PFADD of a few elements, with PFCOUNT and the bytes compared
/// often, through the whole sparse life up to the promotion.
#[test]
fn hll_sparse_growth_step_by_step() {
    let mut p = start();
    let mut rng = Rng::new(22);
    for round in 0..120 {
        let mut cases = Vec::new();
        for _ in 0..5 {
            let mut a = args![b"PFADD", b"h"];
            for _ in 0..rng.range(1, 8) {
                a.push(format!("x{}", rng.below(100_000)).into_bytes());
            }
            cases.push(Case::exact(a));
        }
        if round % 3 == 0 {
            cases.push(Case::exact(args![b"PFCOUNT", b"h"]));
        }
        if round % 10 == 0 {
            cases.push(Case::exact(args![b"PFDEBUG", b"DECODE", b"h"]));
            cases.push(Case::exact(args![b"PFMERGE", b"m", b"h", b"nosuch"]));
            cases.push(Case::exact(args![b"PFCOUNT", b"m", b"h"]));
        }
        p.run(&cases);
        compare_hll_keyspace(&mut p);
    }
    p.run(&[
        Case::exact(args![b"PFDEBUG", b"ENCODING", b"h"]),
        Case::exact(args![b"PFDEBUG", b"TODENSE", b"m"]),
        Case::exact(args![b"PFDEBUG", b"TODENSE", b"m"]),
        Case::exact(args![b"PFDEBUG", b"GETREG", b"h"]),
        Case::exact(args![b"PFDEBUG", b"NOSUCH", b"h"]),
        Case::exact(args![b"PFDEBUG", b"GETREG", b"nosuch"]),
        Case::exact(args![b"PFDEBUG", b"DECODE", b"m"]),
        Case::exact(args![b"PFCOUNT", b"h"]),
        Case::exact(args![b"PFCOUNT", b"h"]),
    ]);
    compare_hll_keyspace(&mut p);
}

/// Strings that are not HyperLogLogs, and corrupt ones, created by hand on both sides.
#[test]
fn hll_invalid_and_corrupt_values() {
    let mut p = start();
    let hdr = |enc: u8, card: [u8; 8]| {
        let mut v = b"HYLL".to_vec();
        v.push(enc);
        v.extend_from_slice(&[0, 0, 0]);
        v.extend_from_slice(&card);
        v
    };
    let stale = [0, 0, 0, 0, 0, 0, 0, 0x80];
    let mut short = hdr(1, stale);
    short.extend_from_slice(&[0x40, 99]); // XZERO 100: too few registers
    let mut long = hdr(1, stale);
    long.extend_from_slice(&[0x7f, 0xff, 0x7f, 0xff]); // twice 16384 registers
    let mut cached = hdr(1, [42, 0, 0, 0, 0, 0, 0, 0]);
    cached.extend_from_slice(&[0x7f, 0xff]);
    let mut cut = hdr(1, stale);
    cut.extend_from_slice(&[0x80, 0x7f]); // a VAL then a cut XZERO
    let mut bad_dense = hdr(0, stale);
    bad_dense.extend_from_slice(&[0; 100]);
    let mut bad_enc = hdr(2, stale);
    bad_enc.extend_from_slice(&[0x7f, 0xff]);
    let mut vals = hdr(1, stale);
    // VAL runs covering the registers in pieces (non-canonical but valid).
    vals.extend_from_slice(&[0x83, 0x83, 0x7f, 0xf7]);
    let values: Vec<(&[u8], Vec<u8>)> = vec![
        (b"str", b"hello world".to_vec()),
        (b"int", b"12345".to_vec()),
        (b"tiny", b"HYLL".to_vec()),
        (b"short", short),
        (b"long", long),
        (b"cached", cached),
        (b"cut", cut),
        (b"baddense", bad_dense),
        (b"badenc", bad_enc),
        (b"vals", vals),
    ];
    for (k, v) in &values {
        assert!(!p.redis.cmd(&[b"SET", k, v]).is_error());
        p.ex.ks.dbs[0].set(k, string_value(v));
    }
    compare_hll_keyspace(&mut p);
    let mut cases = Vec::new();
    for (k, _) in &values {
        cases.push(Case::exact(args![b"PFCOUNT", k]));
        cases.push(Case::exact(args![b"PFCOUNT", k, b"nosuch"]));
        cases.push(Case::exact(args![b"PFDEBUG", b"DECODE", k]));
        cases.push(Case::exact(args![
            b"PFADD", k, b"a", b"b", b"c", b"d", b"e"
        ]));
        cases.push(Case::exact(args![b"PFCOUNT", k]));
        cases.push(Case::exact(args![b"PFMERGE", b"dst", k]));
        cases.push(Case::exact(args![b"PFMERGE", k, b"nosuch"]));
    }
    cases.push(Case::exact(args![b"PFADD", b"aset", b"a"]));
    cases.push(Case::exact(args![b"PFCOUNT", b"aset"]));
    cases.push(Case::exact(args![b"PFCOUNT", b"nosuch", b"aset"]));
    cases.push(Case::exact(args![b"PFMERGE", b"aset", b"nosuch"]));
    cases.push(Case::exact(args![b"PFMERGE", b"nosuch", b"aset"]));
    cases.push(Case::exact(args![b"PFADD", b"fresh"]));
    cases.push(Case::exact(args![b"PFADD", b"fresh"]));
    cases.push(Case::exact(args![b"PFCOUNT", b"fresh"]));
    p.run(&cases);
    compare_hll_keyspace(&mut p);
}

/// PFCOUNT of one key writes the cached cardinality: it is propagated like a write, once.
#[test]
fn pfcount_propagates_only_when_it_writes_the_cache() {
    let mut p = start();
    p.ex.propagating = true;
    p.run(&[Case::exact(args![b"PFADD", b"h", b"a", b"b"])]);
    p.ex.propagated.clear();
    assert_eq!(p.redkit(&args![b"PFCOUNT", b"h"]), Reply::Int(2));
    assert_eq!(p.ex.propagated.len(), 1);
    assert_eq!(p.ex.propagated[0].argv, args![b"PFCOUNT", b"h"]);
    p.ex.propagated.clear();
    assert_eq!(p.redkit(&args![b"PFCOUNT", b"h"]), Reply::Int(2));
    assert_eq!(p.redkit(&args![b"PFCOUNT", b"h", b"x"]), Reply::Int(2));
    assert_eq!(p.redkit(&args![b"PFADD", b"h", b"a"]), Reply::Int(0));
    assert!(p.ex.propagated.is_empty());
    let _ = Norm::Exact;
}

/// Runs after merging (needs SET, GET, APPEND, LPUSH from the other modules).
#[test]
fn hll_cross_type_cases() {
    let mut p = Pair::start();
    let cases: Vec<Case> = [
        args![b"PFADD", b"h", b"a", b"b", b"c"],
        args![b"GET", b"h"],
        args![b"LPUSH", b"l", b"x"],
        args![b"PFADD", b"l", b"a"],
        args![b"PFCOUNT", b"h", b"l"],
        args![b"SET", b"s", b"plain"],
        args![b"PFMERGE", b"s", b"h"],
        args![b"APPEND", b"h", b"junk"],
        args![b"PFCOUNT", b"h"],
        args![b"PFADD", b"h", b"z"],
    ]
    .into_iter()
    .map(Case::exact)
    .collect();
    p.run(&cases);
    p.compare_keyspace();
}

/// Element by element up to the promotion to dense, the string length after every PFADD is
/// the same as Redis's: the 3000-byte limit is applied at exactly the same step.
#[test]
fn hll_promotion_step_is_exact() {
    let mut p = start();
    let mut hit_limit_edge = false;
    for key in 0..6u32 {
        let k = format!("grow{key}").into_bytes();
        let mut cmds = Vec::new();
        for i in 0..3500u32 {
            cmds.push(args![b"PFADD", k, format!("{key}:{i}")]);
            cmds.push(args![b"STRLEN", k]);
        }
        let theirs = p.redis.pipeline(&cmds);
        let mut prev = 0;
        for (i, pair) in cmds.chunks(2).enumerate() {
            let got = p.redkit(&pair[0]);
            assert_eq!(got, theirs[2 * i], "{}", oracle::show(&pair[0]));
            let len = string_bytes(&p.ex.ks.dbs[0].get(&k).unwrap().value)
                .unwrap()
                .len() as i64;
            assert_eq!(
                len,
                theirs[2 * i + 1].int(),
                "{} after {i}",
                oracle::show_arg(&k)
            );
            if (2998..=3000).contains(&prev) {
                hit_limit_edge = true;
            }
            prev = len;
        }
    }
    assert!(hit_limit_edge);
    compare_hll_keyspace(&mut p);
}

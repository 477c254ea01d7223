//! String and bit commands against a real redis-server 7.0: random commands with fixed seeds
//! (replies compared one by one, whole keyspaces compared after each batch: value, encoding,
//! expiry), bad input, and focused edge cases.

mod common;
mod oracle;

use common::Rng;
use oracle::{Case, Norm, Pair};

fn skey(rng: &mut Rng) -> Vec<u8> {
    oracle::key(rng, "s", 6)
}

/// Values that meet INCR/INCRBYFLOAT/bit commands in interesting ways.
fn sval(rng: &mut Rng) -> Vec<u8> {
    match rng.below(18) {
        12..=14 => (rng.below(200) as i64 - 100).to_string().into_bytes(),
        15 => format!("{}.{}", rng.below(100), rng.below(1000)).into_bytes(),
        0 => b"9223372036854775807".to_vec(),
        1 => b"-9223372036854775808".to_vec(),
        2 => b"3.5".to_vec(),
        3 => b" 1".to_vec(),
        4 => b"01".to_vec(),
        5 => rng.alnum(44),
        6 => vec![0xff; rng.range(1, 10) as usize],
        _ => oracle::value(rng),
    }
}

/// A key of the pool that holds numbers (so INCR & co. mostly succeed).
fn nkey(rng: &mut Rng) -> Vec<u8> {
    if rng.chance(1, 4) {
        return skey(rng);
    }
    format!("sn:{}", rng.below(4)).into_bytes()
}

fn num_val(rng: &mut Rng) -> Vec<u8> {
    match rng.below(8) {
        0 => format!("{}.{}", rng.below(1000) as i64 - 500, rng.below(10000)).into_bytes(),
        1 => format!("{}e{}", rng.below(1000), rng.below(10)).into_bytes(),
        2 => (rng.next_u64() as i64 / 4).to_string().into_bytes(),
        _ => (rng.below(2000) as i64 - 1000).to_string().into_bytes(),
    }
}

fn now_s() -> i64 {
    redkit::now_ms() / 1000
}

/// An expiry option of SET/GETEX with its value (relative ones far enough in the future
/// not to expire during the test; absolute ones in the past or the future).
fn expire_opt(rng: &mut Rng, out: &mut Vec<Vec<u8>>) {
    let (name, v): (&str, String) = match rng.below(12) {
        0 => ("EX", rng.range(100, 10_000).to_string()),
        1 => ("PX", rng.range(100_000, 10_000_000).to_string()),
        2 => (
            "EXAT",
            (now_s() + rng.range(1000, 100_000) as i64).to_string(),
        ),
        3 => (
            "PXAT",
            (redkit::now_ms() + rng.range(1_000_000, 10_000_000) as i64).to_string(),
        ),
        4 => ("EXAT", rng.range(1, 1000).to_string()),
        5 => ("PXAT", rng.range(1, 1000).to_string()),
        6 => ("EX", "0".into()),
        7 => ("PX", "-5".into()),
        8 => ("EX", "9223372036854775807".into()),
        9 => ("PX", "9223372036854775807".into()),
        10 => ("EX", "1.5".into()),
        _ => ("EXAT", "9223372036854775".into()),
    };
    let name = if rng.chance(1, 4) {
        name.to_ascii_lowercase()
    } else {
        name.to_string()
    };
    out.push(name.into_bytes());
    if !rng.chance(1, 30) {
        out.push(v.into_bytes());
    }
}

fn set_options(rng: &mut Rng, out: &mut Vec<Vec<u8>>, for_set: bool) {
    for _ in 0..rng.below(3) {
        match rng.below(if for_set { 6 } else { 3 }) {
            0 | 1 => expire_opt(rng, out),
            2 => out.push(if for_set {
                b"KEEPTTL".to_vec()
            } else {
                b"PERSIST".to_vec()
            }),
            3 => out.push(b"NX".to_vec()),
            4 => out.push(b"XX".to_vec()),
            _ => out.push(b"get".to_vec()),
        }
    }
    if rng.chance(1, 40) {
        out.push(b"BOGUS".to_vec());
    }
}

fn offset_arg(rng: &mut Rng, max: u64) -> Vec<u8> {
    match rng.below(60) {
        0 => b"-1".to_vec(),
        1 => b"abc".to_vec(),
        2 => b"4294967296".to_vec(),
        3 => b"9223372036854775807".to_vec(),
        _ => rng.below(max).to_string().into_bytes(),
    }
}

fn range_arg(rng: &mut Rng) -> Vec<u8> {
    match rng.below(14) {
        0 => b"9223372036854775807".to_vec(),
        1 => b"-9223372036854775808".to_vec(),
        2 => b"x".to_vec(),
        _ => (rng.below(40) as i64 - 20).to_string().into_bytes(),
    }
}

fn incr_float_arg(rng: &mut Rng) -> Vec<u8> {
    match rng.below(14) {
        0 => b"0.1".to_vec(),
        1 => b"1e400".to_vec(),
        2 => b"-1e400".to_vec(),
        3 => b"0x1p3".to_vec(),
        4 => b"1e-5000".to_vec(),
        5 => b"0.000003814697265625".to_vec(),
        6 => format!("{}e{}", rng.range(1, 999), rng.below(60) as i64 - 30).into_bytes(),
        7 => b"+.5".to_vec(),
        _ => oracle::float_arg(rng),
    }
}

fn field_type(rng: &mut Rng) -> Vec<u8> {
    match rng.below(60) {
        0 => b"u64".to_vec(),
        1 => b"i0".to_vec(),
        2 => b"x8".to_vec(),
        3 => b"I8".to_vec(),
        _ => {
            let signed = rng.chance(1, 2);
            let bits = rng.range(1, if signed { 64 } else { 63 });
            format!("{}{bits}", if signed { 'i' } else { 'u' }).into_bytes()
        }
    }
}

fn field_value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(30) {
        0 => b"9223372036854775807".to_vec(),
        1 => b"-9223372036854775808".to_vec(),
        2 => b"nope".to_vec(),
        3 => (rng.next_u64() as i64).to_string().into_bytes(),
        _ => (rng.below(600) as i64 - 300).to_string().into_bytes(),
    }
}

fn bitfield_args(rng: &mut Rng, out: &mut Vec<Vec<u8>>) {
    for _ in 0..rng.range(1, 4) {
        match rng.below(30) {
            0..=2 => {
                out.push(b"OVERFLOW".to_vec());
                out.push(
                    rng.pick(&[&b"WRAP"[..], b"sat", b"FAIL", b"FAIL", b"SAT"])
                        .to_vec(),
                );
            }
            3 => {
                out.push(b"OVERFLOW".to_vec());
                out.push(b"bad".to_vec());
            }
            4..=10 => {
                out.push(b"GET".to_vec());
                out.push(field_type(rng));
                out.push(bit_field_offset(rng));
            }
            11..=19 => {
                out.push(b"INCRBY".to_vec());
                out.push(field_type(rng));
                out.push(bit_field_offset(rng));
                out.push(field_value(rng));
            }
            29 => out.push(b"GET".to_vec()),
            _ => {
                out.push(if rng.chance(1, 2) {
                    b"SET".to_vec()
                } else {
                    b"set".to_vec()
                });
                out.push(field_type(rng));
                out.push(bit_field_offset(rng));
                out.push(field_value(rng));
            }
        }
    }
}

fn bit_field_offset(rng: &mut Rng) -> Vec<u8> {
    match rng.below(40) {
        0..=5 => format!("#{}", rng.below(8)).into_bytes(),
        6 => b"#-1".to_vec(),
        7 => b"-3".to_vec(),
        _ => rng.below(300).to_string().into_bytes(),
    }
}

/// One random string or bit command.
fn gen_string(rng: &mut Rng) -> Case {
    let k = skey(rng);
    let k2 = skey(rng);
    let mut a: Vec<Vec<u8>> = match rng.below(44) {
        0..=3 => {
            let mut a = args![b"SET", k, sval(rng)];
            set_options(rng, &mut a, true);
            a
        }
        4 => args![b"SETNX", k, sval(rng)],
        38..=42 => {
            let mut a = args![b"SET", nkey(rng), num_val(rng)];
            if rng.chance(1, 3) {
                expire_opt(rng, &mut a);
            }
            a
        }
        5 => args![b"SETEX", k, oracle::int_arg(rng, -2, 5000), sval(rng)],
        6 => args![b"PSETEX", k, oracle::int_arg(rng, -2, 5_000_000), sval(rng)],
        7 | 8 => args![b"GET", k],
        9 => args![b"GETSET", k, sval(rng)],
        10 => args![b"GETDEL", k],
        11 => {
            let mut a = args![b"GETEX", k];
            set_options(rng, &mut a, false);
            a
        }
        12 => {
            let mut a = args![b"MGET"];
            for _ in 0..rng.range(1, 5) {
                a.push(skey(rng));
            }
            a
        }
        13 | 14 => {
            let mut a = args![if rng.chance(1, 2) { "MSET" } else { "MSETNX" }];
            for _ in 0..rng.range(1, 3) {
                a.push(skey(rng));
                a.push(sval(rng));
            }
            if rng.chance(1, 15) {
                a.pop();
            }
            a
        }
        15 | 16 => args![b"APPEND", k, sval(rng)],
        17 => args![b"SETRANGE", k, offset_arg(rng, 80), sval(rng)],
        18 => args![
            if rng.chance(1, 4) {
                "SUBSTR"
            } else {
                "GETRANGE"
            },
            k,
            range_arg(rng),
            range_arg(rng)
        ],
        19 => args![b"STRLEN", k],
        20 | 21 => args![*rng.pick(&["INCR", "DECR"]), nkey(rng)],
        22 => args![
            *rng.pick(&["INCRBY", "DECRBY"]),
            nkey(rng),
            match rng.below(6) {
                0 => b"9223372036854775807".to_vec(),
                1 => b"-9223372036854775808".to_vec(),
                _ => oracle::int_arg(rng, -1000, 1000),
            }
        ],
        23 | 24 => args![b"INCRBYFLOAT", nkey(rng), incr_float_arg(rng)],
        25 | 26 => args![
            b"SETBIT",
            k,
            offset_arg(rng, 400),
            *rng.pick(&["0", "1", "1", "0", "1", "1", "2", "-1", "x"])
        ],
        27 => args![b"GETBIT", k, offset_arg(rng, 400)],
        28 => {
            let mut a = args![b"BITCOUNT", k];
            if rng.chance(2, 3) {
                a.push(range_arg(rng));
                a.push(range_arg(rng));
                if rng.chance(1, 2) {
                    a.push(rng.pick(&[&b"BIT"[..], b"byte", b"bits"]).to_vec());
                }
            } else if rng.chance(1, 3) {
                a.push(range_arg(rng));
            }
            a
        }
        29 | 30 => {
            let mut a = args![
                b"BITPOS",
                k,
                *rng.pick(&["0", "1", "0", "1", "0", "1", "2", "x"])
            ];
            let n = rng.below(5);
            if n >= 1 {
                a.push(range_arg(rng));
            }
            if n >= 2 {
                a.push(range_arg(rng));
            }
            if n >= 3 {
                a.push(rng.pick(&[&b"BIT"[..], b"BYTE", b"nope"]).to_vec());
            }
            if n >= 4 && rng.chance(1, 4) {
                a.push(b"extra".to_vec());
            }
            a
        }
        31 | 32 => {
            let op = *rng.pick(&["AND", "or", "XOR", "NOT", "nand"]);
            let mut a = args![b"BITOP", op, k];
            for _ in 0..rng.range(1, 3) {
                a.push(skey(rng));
            }
            a
        }
        33..=35 => {
            let mut a = args![b"BITFIELD", k];
            bitfield_args(rng, &mut a);
            a
        }
        36 => {
            let mut a = args![b"BITFIELD_RO", k];
            for _ in 0..rng.range(1, 3) {
                a.push(b"GET".to_vec());
                a.push(field_type(rng));
                a.push(bit_field_offset(rng));
            }
            if rng.chance(1, 5) {
                bitfield_args(rng, &mut a);
            }
            a
        }
        37 => {
            let mut a = args![b"LCS", k, k2];
            for _ in 0..rng.below(3) {
                match rng.below(5) {
                    0 => a.push(b"LEN".to_vec()),
                    1 => a.push(b"IDX".to_vec()),
                    2 => a.push(b"WITHMATCHLEN".to_vec()),
                    3 => {
                        a.push(b"MINMATCHLEN".to_vec());
                        a.push(oracle::int_arg(rng, -1, 4));
                    }
                    _ => a.push(b"nope".to_vec()),
                }
            }
            a
        }
        _ => args![b"SET", k, sval(rng)],
    };
    // Now and then a wrong argument count.
    if rng.chance(1, 40) {
        if rng.chance(1, 2) && a.len() > 1 {
            a.truncate(rng.range(1, a.len() as u64 - 1) as usize);
        } else {
            a.push(b"extra".to_vec());
        }
    }
    Case::exact(a)
}

#[test]
fn random_string_and_bit_commands() {
    let mut p = Pair::start();
    for seed in [1u64, 2, 3, 4, 5, 6] {
        let mut rng = Rng::new(0x5757_0000 + seed);
        p.check(&mut rng, 40, 80, gen_string);
    }
}

fn run_exact(p: &mut Pair, cmds: &[&[&str]]) {
    let cases: Vec<Case> = cmds
        .iter()
        .map(|c| {
            Case::new(
                Norm::Exact,
                &c.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
            )
        })
        .collect();
    p.run(&cases);
    p.compare_keyspace();
}

#[test]
fn integer_edges_and_encodings() {
    let mut p = Pair::start();
    run_exact(
        &mut p,
        &[
            &["SET", "a", "9223372036854775807"],
            &["INCR", "a"],
            &["INCRBY", "a", "-1"],
            &["SET", "b", "-9223372036854775808"],
            &["DECR", "b"],
            &["DECRBY", "b", "-9223372036854775808"],
            &["INCRBY", "b", "-9223372036854775808"],
            &["INCRBY", "b", "9223372036854775807"],
            &["INCRBY", "b", "9223372036854775808"],
            &["INCRBY", "b", "1.0"],
            &["SET", "c", " 1"],
            &["INCR", "c"],
            &["SET", "c", "01"],
            &["INCR", "c"],
            &["SET", "c", ""],
            &["INCR", "c"],
            &["INCR", "new"],
            &["DECRBY", "new2", "-5"],
            &["SET", "d", "12345678901234567890"],
            &["SET", "e", "123456789012345678901"],
            &["APPEND", "d", ""],
            &["SET", "f", "10"],
            &["SETRANGE", "f", "0", ""],
            &["SETRANGE", "f", "1", "1"],
            &["SET", "g", "0123456789012345678901234567890123456789abcd"],
            &["SET", "h", "0123456789012345678901234567890123456789abcde"],
            &["GETRANGE", "d", "0", "-1"],
            &["GETRANGE", "d", "-5", "-9223372036854775808"],
            &[
                "GETRANGE",
                "d",
                "-9223372036854775808",
                "9223372036854775807",
            ],
            &["GETRANGE", "c", "0", "-1"],
            &["GETRANGE", "nosuch", "0", "x"],
            &["STRLEN", "b"],
            &["INCR", "g"],
            &["SET", "t", "5", "EX", "1000"],
            &["INCR", "t"],
            &["APPEND", "t", "5"],
            &["SET", "u", "7"],
            &["SETBIT", "u", "0", "0"],
        ],
    );
}

#[test]
fn incrbyfloat_long_double_results() {
    let mut p = Pair::start();
    run_exact(
        &mut p,
        &[
            &["INCRBYFLOAT", "f", "10.5"],
            &["INCRBYFLOAT", "f", "0.1"],
            &["INCRBYFLOAT", "g", "0.1"],
            &["INCRBYFLOAT", "g", "0.2"],
            &["INCRBYFLOAT", "h", "0.000003814697265625"],
            &["INCRBYFLOAT", "h2", "0.000011444091796875"],
            &["INCRBYFLOAT", "i", "1e400"],
            &["INCRBYFLOAT", "i", "1.5"],
            &["INCRBYFLOAT", "j", "inf"],
            &["INCRBYFLOAT", "j", "nan"],
            &["INCRBYFLOAT", "j", "1e-5000"],
            &["INCRBYFLOAT", "j", "3.6e-4951"],
            &["INCRBYFLOAT", "k", "0x1p3"],
            &["INCRBYFLOAT", "k", "0X.8"],
            &["INCRBYFLOAT", "k", " 1"],
            &["INCRBYFLOAT", "k", "1 "],
            &["INCRBYFLOAT", "k", "+.5"],
            &["INCRBYFLOAT", "k", "5."],
            &["INCRBYFLOAT", "k", "-15"],
            &["SET", "l", "10"],
            &["INCRBYFLOAT", "l", "-10"],
            &["SET", "m", "1e4932"],
            &["INCRBYFLOAT", "m", "1e4932"],
            &["INCRBYFLOAT", "m", "-1e4932"],
            &["SET", "n", "abc"],
            &["INCRBYFLOAT", "n", "1"],
            &["INCRBYFLOAT", "o", "1e-17"],
            &["INCRBYFLOAT", "o", "-2e-17"],
            &["INCRBYFLOAT", "p", "123456789012345678901234567890"],
            &["INCRBYFLOAT", "q", "1e30"],
            &["SET", "r", "5", "PX", "100000000"],
            &["INCRBYFLOAT", "r", "1.25"],
            &["INCRBYFLOAT", "s", "9223372036854775807"],
            &["INCRBYFLOAT", "s", "1"],
        ],
    );
    let mut rng = Rng::new(77);
    let mut cases = Vec::new();
    for _ in 0..400 {
        let k = format!("x{}", rng.below(4));
        cases.push(Case::exact(args![
            b"INCRBYFLOAT",
            k,
            incr_float_arg(&mut rng)
        ]));
    }
    p.run(&cases);
    p.compare_keyspace();
}

#[test]
fn set_options_and_errors() {
    let mut p = Pair::start();
    let future_s = (now_s() + 5000).to_string();
    let future_ms = (redkit::now_ms() + 5_000_000).to_string();
    run_exact(
        &mut p,
        &[
            &["SET", "a", "1", "NX", "XX"],
            &["SET", "a", "1", "XX", "NX"],
            &["SET", "a", "1", "EX", "10", "PX", "100"],
            &["SET", "a", "1", "KEEPTTL", "EX", "10"],
            &["SET", "a", "1", "EX"],
            &["SET", "a", "1", "EX", "0"],
            &["SET", "a", "1", "EX", "-1"],
            &["SET", "a", "1", "EX", "9223372036854775"],
            &["SET", "a", "1", "EX", "9223372036854776"],
            &["SET", "a", "1", "PX", "9223372036854775807"],
            &["SET", "a", "1", "EXAT", "9223372036854775"],
            &["SET", "a", "1", "PXAT", "9223372036854775807"],
            &["SET", "a", "1", "PERSIST"],
            &["SET", "a", "1", "EX", "abc"],
            &["SET", "a", "1", "GET", "GET", "NX"],
            &["SET", "a", "2", "NX", "GET"],
            &["SET", "a", "3", "XX", "GET", "PXAT", &future_ms],
            &["SET", "a", "4", "KEEPTTL", "get"],
            &["SET", "b", "1", "EXAT", &future_s],
            &["SET", "c", "1", "EXAT", "1"],
            &["GET", "c"],
            &["SETEX", "d", "0", "v"],
            &["SETEX", "d", "x", "v"],
            &["SETEX", "d", "100", "v"],
            &["PSETEX", "d", "-1", "v"],
            &["PSETEX", "d", "100000", "v"],
            &["SETNX", "d", "w"],
            &["SETNX", "e", "w"],
            &["GETEX", "e", "PERSIST", "EX", "10"],
            &["GETEX", "e", "EX", "10", "PERSIST"],
            &["GETEX", "e", "KEEPTTL"],
            &["GETEX", "e", "NX"],
            &["GETEX", "nosuch", "EX", "-1"],
            &["GETEX", "e", "EX", "-1"],
            &["GETEX", "e", "EX", "100"],
            &["GETEX", "e", "PERSIST"],
            &["GETEX", "e", "EXAT", &future_s],
            &["GETEX", "e", "PXAT", "1"],
            &["GETEX", "e"],
            &["GETSET", "d", "x"],
            &["GETDEL", "d"],
            &["GETDEL", "d"],
            &["MSET", "a", "1", "b"],
            &["MSETNX", "a", "1", "zz"],
            &["MSETNX", "y", "1", "a", "2"],
            &["MSETNX", "y", "1", "z", "2"],
            &["MGET", "a", "y", "nosuch"],
            &["SETRANGE", "n", "-1", "x"],
            &["SETRANGE", "n", "536870912", ""],
            &["SETRANGE", "n", "536870912", "x"],
            &["SETRANGE", "n", "536870911", "xy"],
            &["SETRANGE", "a", "536870912", "x"],
            &["SETRANGE", "a", "9223372036854775807", "x"],
            &["SETRANGE", "a", "3", "x"],
            &["SET"],
            &["GET", "a", "b"],
            &["GETEX"],
            &["MSET", "a"],
            &["MSETNX", "a"],
            &["SETEX", "a", "1"],
            &["SUBSTR", "a", "0"],
            &["LCS", "a"],
        ],
    );
}

#[test]
fn bit_command_edges() {
    let mut p = Pair::start();
    run_exact(
        &mut p,
        &[
            &["SETBIT", "b", "4294967296", "1"],
            &["SETBIT", "b", "-1", "1"],
            &["SETBIT", "b", "7", "2"],
            &["SETBIT", "b", "7", "1"],
            &["SETBIT", "b", "100", "1"],
            &["GETBIT", "b", "4294967295"],
            &["GETBIT", "b", "4294967296"],
            &["GETBIT", "nosuch", "x"],
            &["SET", "i", "255"],
            &["GETBIT", "i", "2"],
            &["BITCOUNT", "i"],
            &["BITCOUNT", "b", "0"],
            &["BITCOUNT", "nosuch", "0"],
            &["BITCOUNT", "b", "-1", "-2", "junk"],
            &["BITCOUNT", "b", "1", "2", "junk"],
            &["BITCOUNT", "b", "5", "30", "BIT"],
            &["BITCOUNT", "b", "0", "-1", "bit"],
            &["BITCOUNT", "b", "1", "x"],
            &["BITPOS", "b", "1"],
            &["BITPOS", "b", "0"],
            &["BITPOS", "nosuch", "0"],
            &["BITPOS", "nosuch", "1", "x"],
            &["BITPOS", "b", "2"],
            &["BITPOS", "b", "1", "2", "-1", "BIT"],
            &["BITPOS", "b", "0", "7", "7", "BIT"],
            &["BITPOS", "b", "1", "1", "2", "3"],
            &["SETBIT", "ff", "0", "1"],
            &["SETBIT", "ff", "1", "1"],
            &["SETBIT", "ff", "2", "1"],
            &["SETBIT", "ff", "3", "1"],
            &["SETBIT", "ff", "4", "1"],
            &["SETBIT", "ff", "5", "1"],
            &["SETBIT", "ff", "6", "1"],
            &["SETBIT", "ff", "7", "1"],
            &["BITPOS", "ff", "0"],
            &["BITPOS", "ff", "0", "0"],
            &["BITPOS", "ff", "0", "0", "-1"],
            &["SET", "e", ""],
            &["BITPOS", "e", "0"],
            &["BITPOS", "e", "1"],
            &["BITCOUNT", "e"],
            &["BITOP", "NOT", "d", "b", "i"],
            &["BITOP", "NAND", "d", "b"],
            &["BITOP", "AND", "d", "b", "i", "nosuch"],
            &["BITOP", "OR", "d", "b", "i"],
            &["BITOP", "XOR", "d", "b", "i"],
            &["BITOP", "NOT", "d2", "i"],
            &["BITOP", "AND", "d2", "nosuch", "nosuch2"],
            &["BITOP", "AND", "d3", "nosuch", "nosuch2"],
            &["BITFIELD", "bf", "SET", "u8", "#1", "300"],
            &["BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "u8", "#1", "-1"],
            &[
                "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "200",
            ],
            &[
                "BITFIELD", "bf2", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300",
            ],
            &["BITFIELD", "bf", "GET", "u64", "0"],
            &["BITFIELD", "bf", "GET", "i64", "#-1"],
            &["BITFIELD", "bf", "GET", "i64", "#9223372036854775807"],
            &["BITFIELD", "bf", "GET", "i64", "#144115188075855872"],
            &[
                "BITFIELD",
                "bf",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807",
            ],
            &[
                "BITFIELD",
                "bf",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807",
            ],
            &[
                "BITFIELD",
                "bf",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "-9223372036854775808",
            ],
            &[
                "BITFIELD",
                "bf",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "u63",
                "1",
                "9223372036854775807",
            ],
            &["BITFIELD", "bf", "OVERFLOW", "BAD", "GET", "u8", "0"],
            &["BITFIELD", "bf", "GET", "u8"],
            &["BITFIELD", "bf", "FOO"],
            &["BITFIELD", "bf"],
            &["BITFIELD", "i", "GET", "u8", "0", "GET", "i4", "4"],
            &[
                "BITFIELD", "i", "SET", "u1", "0", "0", "OVERFLOW", "FAIL", "SET", "u2", "0", "9",
            ],
            &["BITFIELD_RO", "bf", "GET", "u8", "0"],
            &["BITFIELD_RO", "bf", "SET", "u8", "0", "1"],
            &["BITFIELD_RO", "nosuch", "GET", "u8", "0"],
            &["LCS", "b", "i"],
            &["SET", "l1", "ohmytext"],
            &["SET", "l2", "mynewtext"],
            &["LCS", "l1", "l2"],
            &["LCS", "l1", "l2", "LEN"],
            &["LCS", "l1", "l2", "IDX"],
            &["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
            &["LCS", "l1", "l2", "IDX", "LEN"],
            &["LCS", "l1", "l2", "MINMATCHLEN"],
            &["LCS", "l1", "nosuch", "IDX"],
        ],
    );
}

/// WRONGTYPE and overwriting keys of other types: needs the other types' commands, so it only
/// runs once the type modules are merged.
#[test]
fn cross_type_string_commands() {
    let mut p = Pair::start();
    let mut cmds: Vec<Vec<&str>> = vec![
        vec!["LPUSH", "l", "a"],
        vec!["SADD", "s", "1"],
        vec!["HSET", "h", "f", "v"],
        vec!["ZADD", "z", "1", "m"],
    ];
    for k in ["l", "s", "h", "z"] {
        cmds.extend([
            vec!["GET", k],
            vec!["GETEX", k, "EX", "-1"],
            vec!["GETDEL", k],
            vec!["GETSET", k, "v"],
            vec!["APPEND", k, "x"],
            vec!["SETRANGE", k, "0", "x"],
            vec!["GETRANGE", k, "0", "1"],
            vec!["STRLEN", k],
            vec!["INCR", k],
            vec!["INCRBYFLOAT", k, "1"],
            vec!["SETBIT", k, "1", "1"],
            vec!["GETBIT", k, "1"],
            vec!["BITCOUNT", k],
            vec!["BITPOS", k, "1"],
            vec!["BITFIELD", k, "GET", "u8", "0"],
            vec!["BITFIELD", k, "SET", "u8", "0", "1"],
            vec!["BITOP", "AND", "dest", k],
            vec!["LCS", k, "dest"],
            vec!["MGET", k, "dest"],
            vec!["SET", k, "1", "GET"],
            vec!["MSETNX", k, "1"],
        ]);
    }
    cmds.extend([
        vec!["LPUSH", "l2", "a"],
        vec!["SET", "l2", "1", "KEEPTTL"],
        vec!["SADD", "s2", "1"],
        vec!["MSET", "s2", "x"],
        vec!["HSET", "h2", "f", "v"],
        vec!["BITOP", "OR", "h2", "nosuch"],
    ]);
    let refs: Vec<&[&str]> = cmds.iter().map(Vec::as_slice).collect();
    run_exact(&mut p, &refs);
}

//! Bad input to the keyspace side: the RDB loader, DUMP payloads (RESTORE) and AOF replay get
//! truncated, bit-flipped and oversized input. Never a panic; truncated files and payloads are
//! errors; a flipped one is an error or loads something (a flip can land in a value's bytes).

mod common;

use redkit::cmd::{Executor, Reply, Session};
use redkit::keyspace::load::{load_rdb, value_from_dump};
use redkit::keyspace::{Config, Keyspace};
use redkit::replay::{replay, ReplayOptions};
use redkit_formats::crc64::crc64;
use redkit_formats::rdb::read::{parse_header, Item, Parser, HEADER_LEN};

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(common::sample_file(name)).expect("bundled sample")
}

#[test]
fn rdb_load_truncated_at_every_offset_is_an_error() {
    for name in [
        "streams.rdb",
        "strings.rdb",
        "function.rdb",
        "multidb-expiry.rdb",
    ] {
        let data = sample(name);
        for cut in 0..data.len() {
            let mut ks = Keyspace::default();
            let r = load_rdb(&data[..cut], &mut ks, &Default::default());
            assert!(r.is_err(), "{name} cut at {cut} loaded");
        }
    }
}

#[test]
fn rdb_load_with_flipped_bytes_never_panics() {
    let data = sample("all-types.rdb");
    let mut rng = common::Rng::new(4);
    let mut errors = 0;
    for _ in 0..1500 {
        let mut d = data.clone();
        for _ in 0..rng.range(1, 3) {
            let i = rng.below(d.len() as u64 - 8) as usize;
            d[i] ^= 1 << rng.below(8);
        }
        // Without the trailing CRC check every flip would be caught at the end: zero it (Redis
        // skips a zero checksum) so the decoders see the damage.
        let n = d.len();
        d[n - 8..].fill(0);
        let mut ks = Keyspace::default();
        if let Err(e) = load_rdb(&d, &mut ks, &Default::default()) {
            errors += 1;
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
    assert!(
        errors > 100,
        "only {errors} of 1500 damaged files were refused"
    );
}

#[test]
fn duplicate_key_in_an_rdb_is_an_error_with_its_offset() {
    // strings.rdb holds each key once; append a copy of its first key record before the EOF.
    let data = sample("strings.rdb");
    let header = parse_header(&data).unwrap();
    let mut parser = Parser::new(header);
    let mut pos = HEADER_LEN;
    let mut first_key = None;
    let eof_at = loop {
        let f = parser.next(&data, pos, 0).unwrap();
        match f.item {
            Item::Key(_) if first_key.is_none() => first_key = Some((f.start as usize, f.end)),
            Item::Eof => break f.start as usize,
            _ => {}
        }
        pos = f.end;
    };
    let (rec_start, rec_end) = first_key.expect("a key record");
    let mut d = data[..eof_at].to_vec();
    d.extend_from_slice(&data[rec_start..rec_end]);
    d.push(0xFF);
    let crc = crc64(0, &d);
    d.extend_from_slice(&crc.to_le_bytes());
    let err = load_rdb(&d, &mut Keyspace::default(), &Default::default())
        .expect_err("a duplicate key must be refused")
        .to_string();
    assert!(
        err.contains(&format!("[offset {eof_at}]")) && err.contains("duplicate key"),
        "{err}"
    );
}

/// DUMP payloads made from the key records of a real dump.
fn payloads() -> Vec<Vec<u8>> {
    let data = sample("all-types.rdb");
    let header = parse_header(&data).unwrap();
    let mut parser = Parser::new(header);
    let mut pos = HEADER_LEN;
    let mut out = Vec::new();
    loop {
        let f = parser.next(&data, pos, 0).unwrap();
        pos = f.end;
        match f.item {
            Item::Key(rec) => {
                let mut p = vec![rec.rdb_type];
                p.extend_from_slice(rec.value);
                p.extend_from_slice(&(header.version as u16).to_le_bytes());
                let crc = crc64(0, &p);
                p.extend_from_slice(&crc.to_le_bytes());
                out.push(p);
            }
            Item::Eof => return out,
            _ => {}
        }
    }
}

fn with_crc(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn dump_payloads_damaged_behind_a_valid_crc_never_panic() {
    let cfg = Config::default();
    let all = payloads();
    assert!(all.len() > 50);
    let mut rng = common::Rng::new(9);
    for p in &all {
        assert!(
            matches!(value_from_dump(p, &cfg), Ok(Some(_))),
            "an intact payload of type {} did not load",
            p[0]
        );
        let body = &p[..p.len() - 8];
        let version = &body[body.len() - 2..];
        let value = &body[..body.len() - 2];
        // Truncated values (the version and a correct CRC re-appended): always refused.
        for cut in 1..value.len() {
            let mut b = value[..cut].to_vec();
            b.extend_from_slice(version);
            assert!(
                value_from_dump(&with_crc(&b), &cfg).is_err(),
                "type {} cut at {cut} accepted",
                p[0]
            );
        }
        // Flipped bits behind a valid CRC: refused or loaded, never a panic.
        for _ in 0..20 {
            let mut b = value.to_vec();
            let i = rng.below(b.len() as u64) as usize;
            b[i] ^= 1 << rng.below(8);
            b.extend_from_slice(version);
            let _ = value_from_dump(&with_crc(&b), &cfg);
        }
    }
    // A wrong CRC, an unknown version family and short payloads.
    let p = &all[0];
    let mut bad = p.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        value_from_dump(&bad, &cfg).err(),
        Some("ERR DUMP payload version or checksum are wrong")
    );
    for short in 0..10 {
        assert!(value_from_dump(&vec![0u8; short], &cfg).is_err());
    }
}

#[test]
fn restore_with_oversized_and_bad_arguments_answers_errors() {
    let payload = payloads().remove(0);
    let mut ex = Executor::new(Keyspace::default());
    let mut s = Session::default();
    let mut run = |args: &[&[u8]]| ex.execute(&mut s, args);
    let r = run(&[b"RESTORE", b"k", b"99999999999999999999", &payload]);
    assert_eq!(r, Reply::err("ERR value is not an integer or out of range"));
    let r = run(&[b"RESTORE", b"k", b"-1", &payload]);
    assert_eq!(r, Reply::err("ERR Invalid TTL value, must be >= 0"));
    let r = run(&[b"RESTORE", b"k", b"0", &payload, b"FREQ", b"256"]);
    assert_eq!(
        r,
        Reply::err("ERR Invalid FREQ value, must be >= 0 and <= 255")
    );
    let r = run(&[b"RESTORE", b"k", b"0", b"garbage"]);
    assert_eq!(
        r,
        Reply::err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(run(&[b"RESTORE", b"k", b"0", &payload]), Reply::Ok);
    assert_eq!(
        run(&[b"RESTORE", b"k", b"0", &payload]),
        Reply::err("BUSYKEY Target key name already exists.")
    );
    // Huge counts and ranges on what exists: bounded replies, no allocation by the count.
    for args in [
        &[&b"LRANGE"[..], b"k", b"0", b"9223372036854775807"][..],
        &[
            b"ZRANGE",
            b"k",
            b"0",
            b"-1",
            b"BYSCORE",
            b"LIMIT",
            b"0",
            b"9223372036854775807",
        ],
        &[
            b"XRANGE",
            b"k",
            b"-",
            b"+",
            b"COUNT",
            b"9223372036854775807",
        ],
        &[b"SPOP", b"k", b"9223372036854775807"],
        &[b"LPOP", b"k", b"9223372036854775807"],
        &[b"HRANDFIELD", b"k", b"9223372036854775807"],
    ] {
        let _ = run(args);
    }
}

#[test]
fn aof_replay_of_every_truncation_and_flips_never_panics() {
    let mut aof = Vec::new();
    for c in [
        &[&b"SELECT"[..], b"1"][..],
        &[b"SET", b"s", b"v", b"PXAT", b"99999999999999"],
        &[b"MULTI"],
        &[b"RPUSH", b"l", b"a", b"b", b"1"],
        &[b"HSET", b"h", b"f", b"v"],
        &[b"EXEC"],
        &[b"ZADD", b"z", b"1.5", b"m"],
        &[b"XADD", b"x", b"1-1", b"f", b"v"],
        &[b"SADD", b"set", b"1", b"2"],
    ] {
        redkit_formats::resp::encode_command(c, &mut aof);
    }
    let dir = common::TempDir::new("replay-fuzz");
    let mut rng = common::Rng::new(5);
    for cut in 0..=aof.len() {
        let f = dir.file("t.aof", &aof[..cut]);
        let mut ex = Executor::new(Keyspace::default());
        match replay(&f, &mut ex, &ReplayOptions::default()) {
            Ok(r) => assert!(
                cut == aof.len() || cut == 0 || !r.warnings.is_empty() || aof[cut - 1] == b'\n',
                "cut at {cut}: no warning"
            ),
            Err(e) => assert!(!e.to_string().contains('\n')),
        }
        let mut d = aof.clone();
        let i = rng.below(d.len() as u64) as usize;
        d[i] ^= 1 << rng.below(8);
        let f = dir.file("f.aof", &d);
        let mut ex = Executor::new(Keyspace::default());
        if let Err(e) = replay(
            &f,
            &mut ex,
            &ReplayOptions {
                skip_errors: true,
                ..Default::default()
            },
        ) {
            assert!(e.to_string().contains("[offset"), "{e}");
        }
    }
}

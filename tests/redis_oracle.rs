//! redis-server 7.0 as the oracle for the RDB read path.
//!
//! Each test fills a fresh private redis-server from a fixed seed with data of every type and
//! every encoding Redis 7.0 writes, SAVEs, runs `redkit json --meta` on the dump and compares
//! every record with what the server returns for that key (TYPE, OBJECT ENCODING, the value,
//! PEXPIRETIME, XINFO for streams, DBSIZE per db, FUNCTION LIST). `redkit check-rdb` and the real
//! `redis-check-rdb` must both accept the same dumps.

mod common;

use common::*;
use std::process::Command;

/// Databases the generator writes to.
const DBS: [u64; 4] = [0, 1, 5, 15];

/// 2100-01-01T00:00:00Z in ms: expiries after it never fire during a test.
const FAR_FUTURE_MS: u64 = 4_102_444_800_000;

/// Elements at least this long go into plain quicklist nodes (set with DEBUG).
const PACKED_THRESHOLD: usize = 8192;

struct Filler<'a> {
    s: &'a mut RedisServer,
    rng: Rng,
    seed: u64,
    n: u64,
    cmds: Vec<Cmd>,
}

impl<'a> Filler<'a> {
    fn new(s: &'a mut RedisServer, seed: u64) -> Self {
        s.ok(&[
            "DEBUG",
            "QUICKLIST-PACKED-THRESHOLD",
            &PACKED_THRESHOLD.to_string(),
        ]);
        Filler {
            s,
            rng: Rng::new(seed),
            seed,
            n: 0,
            cmds: Vec::new(),
        }
    }

    fn push(&mut self, c: Cmd) {
        self.cmds.push(c);
        if self.cmds.len() >= 256 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let cmds = std::mem::take(&mut self.cmds);
        self.s.pipeline_ok(&cmds);
    }

    /// Run one command now (after everything queued) and return its reply.
    fn now(&mut self, c: Cmd) -> Reply {
        self.flush();
        self.s.pipeline_ok(&[c]).pop().unwrap()
    }

    fn select(&mut self, db: u64) {
        self.push(cmdv!["SELECT", db.to_string()]);
    }

    /// A unique key of one of several shapes (int-like, binary, long, UTF-8, plain).
    fn key(&mut self, tag: &str) -> Vec<u8> {
        self.n += 1;
        let n = self.n;
        let seed = self.seed;
        match self.rng.below(8) {
            // Stored int-encoded in the RDB.
            0 => format!("{}", 1_000_000 * seed + n).into_bytes(),
            1 => format!("-{}", 1_000_000 * seed + n).into_bytes(),
            // Not valid UTF-8.
            2 => {
                let mut k = vec![0xff, 0xfe, b':'];
                k.extend_from_slice(tag.as_bytes());
                k.extend_from_slice(format!(":{n}:").as_bytes());
                k.extend(self.rng.bytes(3));
                k
            }
            // Long and compressible: LZF in the RDB.
            3 => format!("{tag}:{}:{n}", "k".repeat(40)).into_bytes(),
            4 => format!("clé:{tag}:☃:{n}").into_bytes(),
            5 => {
                let mut k = format!("{tag}:{n}:").into_bytes();
                k.extend([0u8, b'\n', b'"', b'\\', 0x7f]);
                k
            }
            _ => format!("{tag}:{seed}:{n}").into_bytes(),
        }
    }

    /// An element for lists, sets, hashes and streams, covering the listpack encodings.
    fn elem(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        match r.below(14) {
            0 => r.below(128).to_string().into_bytes(),
            1 => (r.below(8192) as i64 - 4096).to_string().into_bytes(),
            2 => (r.next_u64() as i16).to_string().into_bytes(),
            3 => ((r.next_u64() as i32) >> 8).to_string().into_bytes(),
            4 => (r.next_u64() as i32).to_string().into_bytes(),
            5 => (r.next_u64() as i64).to_string().into_bytes(),
            6 => Vec::new(),
            7 => {
                let mut b = vec![0x80];
                let len = r.range(0, 30) as usize;
                b.extend(r.bytes(len));
                b
            }
            8 => {
                let len = r.range(64, 300) as usize;
                r.alnum(len)
            }
            9 => "héllo wörld ☃ 🎉".as_bytes().to_vec(),
            10 => b"007".to_vec(),
            _ => {
                let len = r.range(1, 40) as usize;
                r.alnum(len)
            }
        }
    }

    fn string_value(&mut self) -> Vec<u8> {
        const FIXED: &[&str] = &[
            "",
            "0",
            "-1",
            "1",
            "127",
            "-128",
            "255",
            "32767",
            "-32768",
            "65535",
            "2147483647",
            "-2147483648",
            "2147483648",
            "-2147483649",
            "4294967295",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "007",
            "+5",
            "-0",
            "1e3",
            " 12",
            "12 ",
            "0x10",
            "3.14",
        ];
        let r = &mut self.rng;
        match r.below(12) {
            0 | 1 => r.pick(FIXED).as_bytes().to_vec(),
            2 => (r.next_u64() as i64).to_string().into_bytes(),
            3 => (r.next_u64() as i32).to_string().into_bytes(),
            4 => {
                let len = r.range(1, 20) as usize;
                r.alnum(len)
            }
            5 => {
                let len = r.range(20, 21) as usize;
                r.alnum(len)
            }
            6 => {
                // Periodic: surely compressed with LZF.
                let plen = r.range(1, 4) as usize;
                let unit = r.alnum(plen);
                let len = r.range(32, 3000) as usize;
                unit.iter().cycle().take(len).copied().collect()
            }
            7 => {
                let mut v = b"abcdefgh".repeat(r.range(3, 50) as usize);
                let tail = r.alnum(5);
                v.extend(tail);
                v
            }
            8 => {
                let len = r.range(1, 200) as usize;
                let mut b = vec![0xff];
                b.extend(r.bytes(len));
                b
            }
            9 => {
                let len = r.range(21, 500) as usize;
                r.bytes(len)
            }
            10 => "héllo wörld ☃ 🎉 "
                .repeat(r.range(1, 5) as usize)
                .into_bytes(),
            _ => {
                let len = r.range(21, 100) as usize;
                r.alnum(len)
            }
        }
    }

    fn maybe_expire(&mut self, key: &[u8]) {
        match self.rng.below(20) {
            0..=3 => {
                let at = FAR_FUTURE_MS + self.rng.below(10_000_000_000);
                self.push(cmdv!["PEXPIREAT", key, at.to_string()]);
            }
            4 => {
                let at = FAR_FUTURE_MS / 1000 + self.rng.below(10_000_000);
                self.push(cmdv!["EXPIREAT", key, at.to_string()]);
            }
            _ => {}
        }
    }

    fn string_key(&mut self) {
        let k = self.key("str");
        let v = self.string_value();
        match self.rng.below(6) {
            // APPEND leaves a raw (never int) encoded object in memory.
            0 => self.push(cmdv!["APPEND", k, v]),
            _ => self.push(cmdv!["SET", k, v]),
        }
        self.maybe_expire(&k);
    }

    fn push_multi(&mut self, head: Cmd, items: Vec<Vec<u8>>, per: usize) {
        for chunk in items.chunks(per * 200) {
            let mut c = head.clone();
            c.extend(chunk.iter().cloned());
            self.push(c);
        }
    }

    fn list_key(&mut self, size: usize) {
        let k = self.key("list");
        let mut items = Vec::with_capacity(size);
        for _ in 0..size {
            items.push(self.elem());
        }
        if self.rng.chance(1, 4) {
            // Some elements past the packed threshold: plain nodes.
            for _ in 0..self.rng.range(1, 3) {
                let len = PACKED_THRESHOLD + self.rng.below(4000) as usize;
                let at = self.rng.below(items.len() as u64 + 1) as usize;
                let big = if self.rng.chance(1, 2) {
                    b"xyz".repeat(len / 3)
                } else {
                    self.rng.bytes(len)
                };
                items.insert(at, big);
            }
        }
        if self.rng.chance(1, 5) {
            // Elements just under the threshold: 32-bit-length listpack strings.
            let len = 4096 + self.rng.below(3000) as usize;
            let e = self.rng.alnum(len);
            items.push(e);
        }
        let cmd = if self.rng.chance(1, 2) {
            "RPUSH"
        } else {
            "LPUSH"
        };
        self.push_multi(cmdv![cmd, k], items, 1);
        self.maybe_expire(&k);
    }

    fn set_key(&mut self, size: usize, kind: u64) {
        let k = self.key("set");
        let mut items: Vec<Vec<u8>> = Vec::new();
        for i in 0..size {
            let v = match kind {
                // Integers only: intset while <= 512 members.
                0 => match self.rng.below(3) {
                    0 => (self.rng.next_u64() as i16).to_string(),
                    1 => (self.rng.next_u64() as i32).to_string(),
                    _ => (self.rng.next_u64() as i64).to_string(),
                }
                .into_bytes(),
                1 => (i as i64 - 100).to_string().into_bytes(),
                _ => self.elem(),
            };
            items.push(v);
        }
        if items.is_empty() {
            items.push(b"only".to_vec());
        }
        self.push_multi(cmdv!["SADD", k], items, 1);
        self.maybe_expire(&k);
    }

    fn score(&mut self) -> String {
        const FIXED: &[&str] = &[
            "inf",
            "-inf",
            "+inf",
            "0",
            "-0",
            "0.1",
            "-0.1",
            "1e300",
            "-1e300",
            "5e-324",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "3.14159",
            "-2.5",
            "42",
            "-7",
            "9007199254740993",
            "1e-10",
            "123456789.123456789",
        ];
        let r = &mut self.rng;
        match r.below(4) {
            0 => r.pick(FIXED).to_string(),
            1 => (r.below(2000) as i64 - 1000).to_string(),
            2 => format!("{}", (r.below(2000) as f64 - 1000.0) / 8.0),
            _ => loop {
                let f = f64::from_bits(r.next_u64());
                if f.is_finite() {
                    break format!("{f:e}");
                }
            },
        }
    }

    fn zset_key(&mut self, size: usize, long_member: bool) {
        let k = self.key("zset");
        let mut args = Vec::new();
        for i in 0..size.max(1) {
            args.push(self.score().into_bytes());
            let mut m = self.elem();
            m.truncate(60);
            m.extend(format!("#{i}").into_bytes());
            args.push(m);
        }
        if long_member {
            args.push(b"1.5".to_vec());
            let len = 65 + self.rng.below(100) as usize;
            args.push(self.rng.alnum(len));
        }
        self.push_multi(cmdv!["ZADD", k], args, 2);
        self.maybe_expire(&k);
    }

    fn hash_key(&mut self, size: usize, long_value: bool) {
        let k = self.key("hash");
        let mut args = Vec::new();
        for i in 0..size.max(1) {
            let mut f = self.elem();
            f.truncate(50);
            f.extend(format!("~{i}").into_bytes());
            args.push(f);
            let mut v = self.elem();
            v.truncate(64);
            args.push(v);
        }
        if long_value {
            args.push(b"long".to_vec());
            let len = 65 + self.rng.below(1000) as usize;
            args.push(self.rng.alnum(len));
        }
        self.push_multi(cmdv!["HSET", k], args, 2);
        self.maybe_expire(&k);
    }

    fn stream_key(&mut self, size: usize) {
        let k = self.key("stream");
        let field_pool: Vec<Vec<u8>> = vec![
            b"name".to_vec(),
            b"age".to_vec(),
            b"temp".to_vec(),
            b"v".to_vec(),
            b"1".to_vec(),
            b"-12345".to_vec(),
            vec![b'f', 0xff, b'!'],
            "ünï".as_bytes().to_vec(),
            Vec::new(),
        ];
        let mut ms: u64 = 1_600_000_000_000 + self.seed * 1_000_000_000 + self.n * 100_000;
        let mut seq: u64 = 0;
        let mut ids: Vec<String> = Vec::new();
        let mut first_fields: Option<Vec<Vec<u8>>> = None;
        for _ in 0..size {
            if self.rng.chance(1, 3) {
                seq += 1;
            } else {
                ms += self.rng.range(1, 1000);
                seq = self.rng.below(3);
            }
            let id = format!("{ms}-{seq}");
            let fields: Vec<Vec<u8>> = match (&first_fields, self.rng.below(3)) {
                (Some(f), 0 | 1) => f.clone(),
                _ => {
                    let nf = self.rng.range(1, 5) as usize;
                    let mut f: Vec<Vec<u8>> = Vec::new();
                    for _ in 0..nf {
                        let name = self.rng.pick(&field_pool).clone();
                        // Repeated field names are legal in stream entries; keep them rare.
                        if !f.contains(&name) || self.rng.chance(1, 20) {
                            f.push(name);
                        }
                    }
                    if f.is_empty() {
                        f.push(b"v".to_vec());
                    }
                    f
                }
            };
            if first_fields.is_none() {
                first_fields = Some(fields.clone());
            }
            let mut c = cmdv!["XADD", k, id];
            for f in fields {
                c.push(f);
                c.push(self.elem());
            }
            self.push(c);
            ids.push(id);
        }
        if ids.is_empty() {
            // An empty stream with a group.
            self.push(cmdv!["XGROUP", "CREATE", k, "g", "$", "MKSTREAM"]);
            self.maybe_expire(&k);
            return;
        }
        // Delete some entries, maybe trim.
        for id in &ids {
            if self.rng.chance(1, 10) {
                self.push(cmdv!["XDEL", k, id]);
            }
        }
        if self.rng.chance(1, 4) {
            let keep = self.rng.below(ids.len() as u64 + 1);
            self.push(cmdv!["XTRIM", k, "MAXLEN", "=", keep.to_string()]);
        } else if self.rng.chance(1, 6) {
            let at = self.rng.pick(&ids).clone();
            self.push(cmdv!["XTRIM", k, "MINID", "=", at]);
        }
        if self.rng.chance(1, 5) {
            // Delete everything: an empty stream that still has ids and counters.
            for id in &ids {
                self.push(cmdv!["XDEL", k, id]);
            }
        }
        // Consumer groups.
        if self.rng.chance(3, 4) {
            let g1: &[u8] = b"group-1";
            let g_bin: &[u8] = &[b'g', 0xfe, b'2'];
            self.push(cmdv!["XGROUP", "CREATE", k, g1, "0"]);
            self.push(cmdv!["XGROUP", "CREATE", k, g_bin, "$"]);
            let mid = self.rng.pick(&ids).clone();
            self.push(cmdv!["XGROUP", "CREATE", k, "from-mid", mid]);
            let alice: &[u8] = b"alice";
            let bob: &[u8] = &[b'b', 0xf0, b'b'];
            let mut read_ids: Vec<String> = Vec::new();
            for (g, c, count) in [
                (g1, alice, 5u64),
                (g1, bob, 3),
                (b"from-mid".as_slice(), alice, 2),
            ] {
                let count = self.rng.range(1, count);
                let r = self.now(cmdv![
                    "XREADGROUP",
                    "GROUP",
                    g,
                    c,
                    "COUNT",
                    count.to_string(),
                    "STREAMS",
                    k,
                    ">"
                ]);
                if !r.is_nil() {
                    for e in r.array()[0].array()[1].array() {
                        let id = e.array()[0].text();
                        if g == g1 {
                            read_ids.push(id);
                        }
                    }
                }
            }
            // Ack some, claim some for a third consumer (with a fixed delivery time).
            for id in &read_ids {
                match self.rng.below(4) {
                    0 => self.push(cmdv!["XACK", k, g1, id]),
                    1 => {
                        let t = 1_650_000_000_000 + self.rng.below(1_000_000);
                        let rc = self.rng.range(1, 9);
                        self.push(cmdv![
                            "XCLAIM",
                            k,
                            g1,
                            "carol",
                            "0",
                            id,
                            "TIME",
                            t.to_string(),
                            "RETRYCOUNT",
                            rc.to_string()
                        ]);
                    }
                    _ => {}
                }
            }
            // A consumer with nothing pending.
            self.push(cmdv!["XGROUP", "CREATECONSUMER", k, g1, "dave"]);
            if self.rng.chance(1, 2) {
                // Deleting entries that are still pending.
                for id in &read_ids {
                    if self.rng.chance(1, 3) {
                        self.push(cmdv!["XDEL", k, id]);
                    }
                }
            }
        }
        self.maybe_expire(&k);
    }

    /// `count` random keys in the current db.
    fn random_keys(&mut self, count: usize) {
        for _ in 0..count {
            match self.rng.below(20) {
                0..=5 => self.string_key(),
                6 => {
                    let n = self.rng.range(1, 20) as usize;
                    self.list_key(n)
                }
                7 => {
                    let n = self.rng.range(100, 3000) as usize;
                    self.list_key(n)
                }
                8 => {
                    let n = self.rng.range(1, 60) as usize;
                    self.set_key(n, 0)
                }
                9 => {
                    let n = self.rng.range(513, 700) as usize;
                    let kind = self.rng.below(2);
                    self.set_key(n, kind)
                }
                10 => {
                    let n = self.rng.range(1, 80) as usize;
                    self.set_key(n, 2)
                }
                11 => {
                    let n = self.rng.range(1, 128) as usize;
                    self.zset_key(n, false)
                }
                12 => {
                    let n = self.rng.range(129, 400) as usize;
                    self.zset_key(n, false)
                }
                13 => {
                    let n = self.rng.range(1, 10) as usize;
                    self.zset_key(n, true)
                }
                14 => {
                    let n = self.rng.range(1, 100) as usize;
                    self.hash_key(n, false)
                }
                15 => {
                    let n = self.rng.range(513, 800) as usize;
                    self.hash_key(n, false)
                }
                16 => {
                    let n = self.rng.range(1, 10) as usize;
                    self.hash_key(n, true)
                }
                _ => {
                    let n = self.rng.range(0, 40) as usize;
                    self.stream_key(n)
                }
            }
        }
    }

    /// At least one key of every type and encoding, whatever the random draws did.
    fn one_of_each(&mut self) {
        self.push(cmdv!["SET", format!("int:{}", self.seed), "12345"]);
        self.push(cmdv![
            "SET",
            format!("lzf:{}", self.seed),
            "abc".repeat(100)
        ]);
        self.push(cmdv!["SET", format!("str:{}", self.seed), "hello"]);
        self.push(cmdv!["SET", format!("empty:{}", self.seed), ""]);
        self.push(cmdv!["SET", [0xffu8, 0x00, 0x80], [0xc3u8, 0x28]]);
        self.list_key(5);
        self.set_key(10, 0);
        self.set_key(600, 1);
        self.set_key(512, 1);
        self.set_key(10, 2);
        self.zset_key(10, false);
        self.zset_key(200, false);
        self.hash_key(10, false);
        self.hash_key(600, false);
        self.stream_key(30);
        self.stream_key(0);
    }

    fn function(&mut self, name: &str) {
        let code = format!(
            "#!lua name={name}\nredis.register_function('{name}_echo', function(keys, args) return args[1] end)\n\
             redis.register_function{{function_name='{name}_ro', callback=function(keys, args) return #keys end, \
             flags={{'no-writes'}}, description='seed {seed} \"quoted\" ünï'}}\n",
            seed = self.seed
        );
        self.now(cmdv!["FUNCTION", "LOAD", code]);
    }
}

/// Fill a server from `seed` with `per_db` random keys in each of [`DBS`] (db 0 gets twice as
/// many) and, when `big`, a few large values.
fn fill(s: &mut RedisServer, seed: u64, per_db: usize, big: bool) {
    let mut f = Filler::new(s, seed);
    for (i, db) in DBS.iter().enumerate() {
        f.select(*db);
        if i == 0 {
            f.one_of_each();
        }
        f.random_keys(if *db == 0 { per_db * 2 } else { per_db });
    }
    f.function(&format!("oracle_{seed}"));
    if big {
        f.select(0);
        f.push(cmdv![
            "SET",
            "big:lzf",
            "0123456789abcdef".repeat(64 * 1024)
        ]);
        let rnd = f.rng.bytes(200_000);
        f.push(cmdv!["SET", "big:random", rnd]);
        f.list_key(30_000);
        f.set_key(10_000, 2);
        f.zset_key(3_000, false);
        f.hash_key(3_000, false);
        f.stream_key(1_500);
        f.function("oracle_second");
    }
    f.flush();
}

/// The dump of a server filled from `seed`, with the server still running.
fn dump_for(
    seed: u64,
    per_db: usize,
    big: bool,
    extra: &[(&str, &str)],
) -> (RedisServer, std::path::PathBuf) {
    let mut s = RedisServer::start(extra);
    fill(&mut s, seed, per_db, big);
    if extra.contains(&("maxmemory-policy", "allkeys-lru")) {
        // Let the keys idle, so the saved idle times are not all 0.
        std::thread::sleep(std::time::Duration::from_millis(2100));
    }
    let dump = s.save();
    (s, dump)
}

fn oracle(seed: u64, per_db: usize, big: bool, extra: &[(&str, &str)]) -> Coverage {
    let t0 = std::time::Instant::now();
    let (mut s, dump) = dump_for(seed, per_db, big, extra);
    let records = redkit_json_meta(&dump, &[]);
    let (errs, cov) = compare_with_server(&mut s, &records);
    assert_no_mismatch(&format!("seed {seed}"), &errs);

    // Non-key records (aux, functions) come before the keys; dbs ascend.
    let first_key = records
        .iter()
        .position(|r| r.get("key").is_some())
        .unwrap_or(records.len());
    assert!(
        records[first_key..].iter().all(|r| r.get("key").is_some()),
        "seed {seed}: a metadata record follows a key"
    );
    let dbs: Vec<u64> = records
        .iter()
        .filter_map(|r| r.get("db").and_then(Json::as_u64))
        .collect();
    assert!(
        dbs.windows(2).all(|w| w[0] <= w[1]),
        "seed {seed}: dbs are not in file order"
    );

    // What the data was meant to cover, it did cover.
    cov.assert_every_encoding(&format!("seed {seed}"));
    assert!(cov.functions >= 1, "seed {seed}: no function record");
    assert!(
        cov.with_expiry > 0 && cov.base64_keys > 0 && cov.pel_entries > 0,
        "seed {seed}: {cov:?}"
    );
    for db in DBS {
        assert!(cov.dbs.contains_key(&db), "seed {seed}: nothing in db {db}");
    }
    assert_eq!(
        cov.expired_keys, 0,
        "seed {seed}: no key should have expired"
    );

    // Without --meta: exactly the key records.
    let out = run_redkit(&["json".as_ref(), dump.as_os_str()]);
    let plain = parse_json_lines(&out).unwrap();
    let keyed: Vec<&Json> = records.iter().filter(|r| r.get("key").is_some()).collect();
    assert_eq!(plain.len(), keyed.len(), "seed {seed}: json without --meta");
    for (a, b) in plain.iter().zip(keyed) {
        assert_eq!(a, b, "seed {seed}: json without --meta differs");
    }
    eprintln!(
        "seed {seed}: {} keys compared ({} bytes of RDB) in {:.1?}",
        cov.keys,
        std::fs::metadata(&dump).unwrap().len(),
        t0.elapsed()
    );
    cov
}

#[test]
fn oracle_seed_1() {
    let cov = oracle(1, 60, false, &[]);
    assert_eq!(
        cov.lfu_keys + cov.lru_keys,
        0,
        "no LRU/LFU data is saved under noeviction"
    );
}

/// In-memory compressed quicklist nodes are saved as they are (an LZF blob per node).
#[test]
fn oracle_seed_2_compressed_lists() {
    oracle(2, 60, false, &[("list-compress-depth", "1")]);
}

#[test]
fn oracle_seed_3_big_values() {
    oracle(3, 60, true, &[]);
}

/// Under an LFU policy every key is preceded by a FREQ opcode (no decay, so OBJECT FREQ stays put).
#[test]
fn oracle_seed_5_lfu() {
    let cov = oracle(
        5,
        25,
        false,
        &[("maxmemory-policy", "allkeys-lfu"), ("lfu-decay-time", "0")],
    );
    assert_eq!(cov.lfu_keys, cov.keys, "every key should carry lfu_freq");
}

/// Under an LRU policy every key is preceded by an IDLE opcode.
#[test]
fn oracle_seed_6_lru() {
    let cov = oracle(6, 25, false, &[("maxmemory-policy", "allkeys-lru")]);
    assert_eq!(cov.lru_keys, cov.keys, "every key should carry lru_idle_s");
    assert!(
        cov.max_lru_idle_s >= 2,
        "keys idled 2 s before SAVE: {cov:?}"
    );
}

fn total_keys(s: &mut RedisServer) -> i64 {
    let mut n = 0;
    for db in 0..16 {
        let r = s.pipeline_ok(&[cmdv!["SELECT", db.to_string()], cmdv!["DBSIZE"]]);
        n += r[1].int();
    }
    n
}

#[test]
fn redkit_check_rdb_accepts_oracle_dump() {
    let (mut s, dump) = dump_for(4, 60, false, &[]);
    let keys = total_keys(&mut s);
    let out = redkit()
        .args(["check-rdb", "--json"])
        .arg(&dump)
        .output()
        .expect("cannot run redkit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redkit check-rdb rejected a dump redis-server wrote: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let j = Json::parse(stdout.trim())
        .unwrap_or_else(|e| panic!("check-rdb --json output: {e}: {stdout}"));
    assert_eq!(
        j.get("ok"),
        Some(&Json::Bool(true)),
        "check-rdb --json: {stdout}"
    );
    assert_eq!(
        j.get("keys").and_then(Json::as_i64),
        Some(keys),
        "check-rdb --json key count: {stdout}"
    );

    // Without --json: exit 0 too.
    let st = redkit().arg("check-rdb").arg(&dump).output().unwrap();
    assert!(
        st.status.success(),
        "redkit check-rdb (text) failed: {}",
        String::from_utf8_lossy(&st.stdout)
    );
}

/// Sanity of the oracle: the real redis-check-rdb accepts what the test generator produces.
#[test]
fn real_redis_check_rdb_accepts_oracle_dump() {
    check_tool("redis-check-rdb");
    let (mut s, dump) = dump_for(4, 60, false, &[]);
    let keys = total_keys(&mut s);
    let out = Command::new("redis-check-rdb")
        .arg(&dump)
        .output()
        .expect("cannot run redis-check-rdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis-check-rdb rejected the dump:\n{text}"
    );
    assert!(
        text.contains("RDB looks OK"),
        "redis-check-rdb output:\n{text}"
    );
    assert!(
        text.contains(&format!("{keys} keys read")),
        "redis-check-rdb should read {keys} keys:\n{text}"
    );
}

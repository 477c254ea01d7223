//! `redkit convert` checked end to end by redis-server 7.0: the source is loaded into one server,
//! redkit's output into a fresh one, and [`assert_same_server`] compares the two.
//!
//! What "the same" means (see [`assert_same_server_with`]):
//! - the key set of every db, and per key its TYPE, `DEBUG DIGEST-VALUE` and PEXPIRETIME
//!   (the digest only says whether a key has an expiry, not when);
//! - `DEBUG DIGEST` of the whole dataset;
//! - `XINFO STREAM key FULL COUNT 0` of every stream (the digest ignores groups, PEL, consumers and
//!   the stream counters). Left out: `radix-tree-keys`/`radix-tree-nodes` (how entries are cut
//!   into nodes is a storage detail: redkit rebuilds the nodes, Redis keeps the saved ones), and
//!   a consumer's `seen-time`/`active-time` (a server that replays an AOF sets them to the load
//!   time; everything else, PEL delivery times included, must match: a rewrite writes them with
//!   `XCLAIM ... TIME`);
//! - `FUNCTION LIST WITHCODE` (libraries and functions sorted by name, as the order of a server's
//!   listing depends on its hash seed) and, when there is at most one library, the exact
//!   `FUNCTION DUMP` payload.
//!
//! Encodings (OBJECT ENCODING) are not compared: the loading server picks them from its own
//! thresholds.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

use common::same_server::*;
// =============================================================================================

/// Dbs the generator writes to.
const DBS: [u64; 4] = [0, 1, 7, 15];

/// 2100-01-01 in ms: expiries after it never fire during a test.
const FAR_MS: u64 = 4_102_444_800_000;

/// Fills a server with every type and the encodings on both sides of each threshold.
struct Filler<'a> {
    s: &'a mut RedisServer,
    rng: Rng,
    n: u64,
    cmds: Vec<Cmd>,
}

impl Filler<'_> {
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

    fn key(&mut self, tag: &str) -> Vec<u8> {
        self.n += 1;
        let n = self.n;
        match self.rng.below(5) {
            0 => format!("{}", 900_000 + n).into_bytes(),
            1 => {
                let mut k = vec![0xfe, b':'];
                k.extend_from_slice(tag.as_bytes());
                k.extend_from_slice(format!(":{n}\0\r\n").as_bytes());
                k
            }
            2 => format!("{tag}:{}:{n}", "k".repeat(30)).into_bytes(),
            _ => format!("{tag}:{n}").into_bytes(),
        }
    }

    fn elem(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        match r.below(9) {
            0 => r.below(128).to_string().into_bytes(),
            1 => (r.next_u64() as i16).to_string().into_bytes(),
            2 => (r.next_u64() as i32).to_string().into_bytes(),
            3 => (r.next_u64() as i64).to_string().into_bytes(),
            4 => Vec::new(),
            5 => {
                let len = r.range(1, 20) as usize;
                let mut b = vec![0x80];
                b.extend(r.bytes(len));
                b
            }
            6 => {
                let len = r.range(64, 200) as usize;
                r.alnum(len)
            }
            _ => {
                let len = r.range(1, 30) as usize;
                r.alnum(len)
            }
        }
    }

    fn maybe_expire(&mut self, k: &[u8]) {
        if self.rng.chance(1, 4) {
            let at = FAR_MS + self.rng.below(1_000_000_000);
            self.push(cmdv!["PEXPIREAT", k, at.to_string()]);
        }
    }

    fn string(&mut self) {
        let k = self.key("str");
        let v: Vec<u8> = match self.rng.below(8) {
            0 => (self.rng.next_u64() as i64).to_string().into_bytes(),
            1 => self.rng.below(10_000).to_string().into_bytes(),
            2 => {
                let len = self.rng.range(1, 44) as usize;
                self.rng.alnum(len)
            }
            3 => {
                let len = self.rng.range(45, 300) as usize;
                self.rng.bytes(len)
            }
            4 => b"abc".repeat(self.rng.range(20, 400) as usize),
            5 => Vec::new(),
            6 => b"007".to_vec(),
            _ => "héllo ☃".as_bytes().to_vec(),
        };
        if self.rng.chance(1, 5) {
            // APPEND leaves a raw-encoded object even for a number.
            self.push(cmdv!["APPEND", k, v]);
        } else {
            self.push(cmdv!["SET", k, v]);
        }
        self.maybe_expire(&k);
    }

    fn many(&mut self, head: Cmd, items: Vec<Vec<u8>>) {
        for chunk in items.chunks(400) {
            let mut c = head.clone();
            c.extend(chunk.iter().cloned());
            self.push(c);
        }
    }

    fn list(&mut self, size: usize, big_elem: bool) {
        let k = self.key("list");
        let mut items: Vec<Vec<u8>> = (0..size.max(1)).map(|_| self.elem()).collect();
        if big_elem {
            // Past the packed threshold set below: a plain quicklist node.
            items.insert(size / 2, b"xyz".repeat(3000));
        }
        self.many(cmdv!["RPUSH", k], items);
        self.maybe_expire(&k);
    }

    fn set(&mut self, size: usize, ints: bool) {
        let k = self.key("set");
        let items: Vec<Vec<u8>> = (0..size.max(1))
            .map(|i| {
                if ints {
                    (i as i64 * 7919 - (self.rng.below(3) as i64) * 1_000_000_007)
                        .to_string()
                        .into_bytes()
                } else {
                    let mut e = self.elem();
                    e.extend(format!("#{i}").into_bytes());
                    e
                }
            })
            .collect();
        self.many(cmdv!["SADD", k], items);
        self.maybe_expire(&k);
    }

    fn score(&mut self) -> String {
        const FIXED: &[&str] = &[
            "inf",
            "-inf",
            "0",
            "-0",
            "0.1",
            "1e300",
            "5e-324",
            "-2.5",
            "42",
            "9007199254740993",
        ];
        match self.rng.below(3) {
            0 => self.rng.pick(FIXED).to_string(),
            1 => (self.rng.below(2000) as i64 - 1000).to_string(),
            _ => format!("{}", (self.rng.below(20000) as f64 - 10000.0) / 16.0),
        }
    }

    fn zset(&mut self, size: usize, long_member: bool) {
        let k = self.key("zset");
        let mut items = Vec::new();
        for i in 0..size.max(1) {
            items.push(self.score().into_bytes());
            let mut m = self.elem();
            m.truncate(50);
            m.extend(format!("#{i}").into_bytes());
            items.push(m);
        }
        if long_member {
            items.push(b"1.5".to_vec());
            items.push(self.rng.alnum(100));
        }
        for chunk in items.chunks(400) {
            let mut c = cmdv!["ZADD", k];
            c.extend(chunk.iter().cloned());
            self.push(c);
        }
        self.maybe_expire(&k);
    }

    fn hash(&mut self, size: usize, long_value: bool) {
        let k = self.key("hash");
        let mut items = Vec::new();
        for i in 0..size.max(1) {
            let mut f = self.elem();
            f.truncate(40);
            f.extend(format!("~{i}").into_bytes());
            items.push(f);
            let mut v = self.elem();
            v.truncate(60);
            items.push(v);
        }
        if long_value {
            items.push(b"long".to_vec());
            items.push(self.rng.alnum(300));
        }
        for chunk in items.chunks(400) {
            let mut c = cmdv!["HSET", k];
            c.extend(chunk.iter().cloned());
            self.push(c);
        }
        self.maybe_expire(&k);
    }

    /// A stream with deleted entries, groups, a PEL (some entries claimed with fixed delivery
    /// times, some deleted while pending) and consumers with and without pending entries.
    fn stream(&mut self, size: usize, all_deleted: bool) {
        let k = self.key("stream");
        let mut ms = 1_600_000_000_000 + self.n * 10_000;
        let mut ids = Vec::new();
        for i in 0..size {
            ms += self.rng.range(0, 3);
            let id = format!("{ms}-{i}");
            let mut c = cmdv!["XADD", k, id];
            let nf = self.rng.range(1, 3);
            for f in 0..nf {
                c.push(if i % 3 == 0 {
                    format!("f{f}").into_bytes()
                } else {
                    self.rng.alnum(3)
                });
                c.push(self.elem());
            }
            self.push(c);
            ids.push(id);
        }
        if ids.is_empty() {
            self.push(cmdv!["XGROUP", "CREATE", k, "empty", "$", "MKSTREAM"]);
            return;
        }
        for id in ids.iter().step_by(5) {
            self.push(cmdv!["XDEL", k, id]);
        }
        self.push(cmdv!["XGROUP", "CREATE", k, "g1", "0"]);
        self.push(cmdv!["XGROUP", "CREATE", k, [b'g', 0xff], "$"]);
        self.push(cmdv![
            "XGROUP",
            "CREATE",
            k,
            "mid",
            ids[ids.len() / 2].clone()
        ]);
        self.push(cmdv![
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "4",
            "STREAMS",
            k,
            ">"
        ]);
        self.push(cmdv![
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "3",
            "STREAMS",
            k,
            ">"
        ]);
        self.push(cmdv![
            "XREADGROUP",
            "GROUP",
            "mid",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            k,
            ">"
        ]);
        self.push(cmdv!["XGROUP", "CREATECONSUMER", k, "g1", "idle"]);
        for (i, id) in ids.iter().enumerate().take(7) {
            match i % 3 {
                0 => self.push(cmdv!["XACK", k, "g1", id]),
                1 => {
                    let t = 1_650_000_000_000 + self.rng.below(1_000_000);
                    let rc = self.rng.range(1, 9);
                    self.push(cmdv![
                        "XCLAIM",
                        k,
                        "g1",
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
        // Pending entries deleted from the stream stay in the PEL.
        if let Some(id) = ids.get(1) {
            self.push(cmdv!["XDEL", k, id]);
        }
        if all_deleted {
            for id in &ids {
                self.push(cmdv!["XDEL", k, id]);
            }
        }
        self.maybe_expire(&k);
    }

    fn random_keys(&mut self, count: usize) {
        for _ in 0..count {
            match self.rng.below(16) {
                0..=4 => self.string(),
                5 => {
                    let n = self.rng.range(1, 30) as usize;
                    self.list(n, false)
                }
                6 => {
                    let n = self.rng.range(129, 600) as usize;
                    self.list(n, false)
                }
                7 => {
                    let n = self.rng.range(1, 100) as usize;
                    self.set(n, true)
                }
                8 => {
                    let n = self.rng.range(1, 60) as usize;
                    self.set(n, false)
                }
                9 => {
                    let n = self.rng.range(1, 128) as usize;
                    self.zset(n, false)
                }
                10 => {
                    let n = self.rng.range(129, 300) as usize;
                    self.zset(n, false)
                }
                11 => {
                    let n = self.rng.range(1, 100) as usize;
                    self.hash(n, false)
                }
                12 => {
                    let n = self.rng.range(513, 700) as usize;
                    self.hash(n, false)
                }
                13 => {
                    let n = self.rng.range(1, 5) as usize;
                    self.hash(n, true)
                }
                _ => {
                    let n = self.rng.range(0, 40) as usize;
                    self.stream(n, false)
                }
            }
        }
    }

    /// Every type and encoding, whatever the random draws do.
    fn one_of_each(&mut self) {
        self.push(cmdv!["SET", "int", "12345"]);
        self.push(cmdv!["SET", "int-neg", "-9223372036854775808"]);
        self.push(cmdv!["SET", "emb", "short string"]);
        self.push(cmdv!["SET", "raw", "r".repeat(60)]);
        self.push(cmdv!["SET", "lzf", "abcd".repeat(500)]);
        self.push(cmdv!["SET", "empty", ""]);
        self.push(cmdv!["SET", "ttl", "v", "PX", "999999999999"]);
        self.list(5, false);
        self.list(300, false);
        self.list(20, true);
        self.set(10, true);
        self.set(512, true);
        self.set(513, true);
        self.set(20, false);
        self.zset(10, false);
        self.zset(128, false);
        self.zset(129, false);
        self.zset(3, true);
        self.hash(10, false);
        self.hash(512, false);
        self.hash(513, false);
        self.hash(3, true);
        self.stream(30, false);
        self.stream(250, false);
        self.stream(10, true);
        self.stream(0, false);
    }
}

/// Fill `s` from `seed`: every type in db 0 plus `per_db` random keys in each of [`DBS`], and
/// one function library with two functions.
fn fill(s: &mut RedisServer, seed: u64, per_db: usize) {
    s.ok(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "8192"]);
    let mut f = Filler {
        s,
        rng: Rng::new(seed),
        n: 0,
        cmds: Vec::new(),
    };
    for (i, db) in DBS.iter().enumerate() {
        f.push(cmdv!["SELECT", db.to_string()]);
        if i == 0 {
            f.one_of_each();
        }
        f.random_keys(per_db);
    }
    f.push(cmdv!["SELECT", "0"]);
    f.flush();
    let lib = format!(
        "#!lua name=convlib{seed}\n\
         redis.register_function('echo{seed}', function(keys, args) return args[1] end)\n\
         redis.register_function{{function_name='ro{seed}', callback=function(keys, args) return #keys end, \
         flags={{'no-writes'}}, description='ünï \"q\"'}}\n"
    );
    s.ok(&["FUNCTION", "LOAD", &lib]);
}

/// A filled server and its dump.
fn source(seed: u64) -> (RedisServer, PathBuf) {
    let mut s = RedisServer::start(&[]);
    fill(&mut s, seed, 25);
    let dump = s.save();
    (s, dump)
}

/// What the snapshot of a filled server must contain, so a test cannot pass on empty data.
fn assert_covers_everything(st: &ServerState) {
    for db in DBS {
        assert!(
            st.dbs.get(&db).is_some_and(|d| !d.is_empty()),
            "nothing in db {db}"
        );
    }
    let mut types = std::collections::BTreeSet::new();
    let mut expiring = 0;
    let mut groups = 0;
    for d in st.dbs.values() {
        for k in d.values() {
            types.insert(k.ty.clone());
            if k.pexpiretime > 0 {
                expiring += 1;
            }
            if k.stream
                .as_deref()
                .is_some_and(|s| s.contains("pel-count=1") || s.contains("pending=[["))
            {
                groups += 1;
            }
        }
    }
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["hash", "list", "set", "stream", "string", "zset"],
        "types covered"
    );
    assert!(expiring > 5, "only {expiring} keys with an expiry");
    assert!(groups > 0, "no stream with a PEL");
    assert_eq!(st.libraries, 1, "one function library expected");
}

fn check_rdb_ok(file: &Path) {
    if let Err(text) = check_rdb(file) {
        panic!("redis-check-rdb {} says:\n{text}", file.display());
    }
}

/// `redis-check-rdb FILE`: Ok when it calls the file sane, else what it printed.
fn check_rdb(file: &Path) -> Result<(), String> {
    check_tool("redis-check-rdb");
    let out = Command::new("redis-check-rdb")
        .arg(file)
        .output()
        .expect("cannot run redis-check-rdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() && text.contains("RDB looks OK") {
        Ok(())
    } else {
        Err(text)
    }
}

/// The 9-byte magic of an RDB file, if it is one.
fn rdb_magic(p: &Path) -> Option<String> {
    let mut f = std::fs::File::open(p).ok()?;
    let mut b = [0u8; 9];
    std::io::Read::read_exact(&mut f, &mut b).ok()?;
    let s = String::from_utf8(b.to_vec()).ok()?;
    (s.starts_with("REDIS0") || s.starts_with("VALKEY")).then_some(s)
}

// =============================================================================================
// 1. RDB -> AOF
// =============================================================================================

#[test]
fn rdb_to_aof_single_multi_part_and_preamble_load_in_redis() {
    let (mut a, dump) = source(101);
    let tmp = TempDir::new("conv-aof");

    // Commands cannot recreate pending entries of deleted stream entries (XCLAIM of a missing
    // id drops it): without --lossy the conversion is refused, naming that, and writes nothing.
    let refused_out = tmp.path().join("refused");
    let run = redkit_run([
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("aof"),
        os("--multi-part"),
        os("-o"),
        refused_out.as_os_str(),
    ]);
    assert_eq!(run.code, 1, "{}", run.all_text());
    assert!(
        run.stderr
            .contains("pending entries of deleted stream entries"),
        "{}",
        run.stderr
    );
    assert!(!refused_out.exists(), "a refused conversion leaves nothing");

    // Multi-part: the output directory is an appendonlydir Redis 7.0 starts from.
    let mp = tmp.path().join("mp");
    let report = redkit_ok(&[
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("aof"),
        os("--multi-part"),
        os("--lossy"),
        os("-o"),
        mp.as_os_str(),
    ]);
    assert!(report.contains("wrote"), "{report}");
    assert_check_aof_valid(&mp.join("appendonly.aof.manifest"));
    // Commands cannot carry everything an RDB does (see redis_own_aof_rewrite): the reference
    // is what Redis's own rewrite of the same data loads as.
    let mut c = redis_own_aof_rewrite(&mut a);
    let mut b = server_from_aof_dir(&mp);
    let st = assert_same_server_with(
        &mut c,
        &mut b,
        "RDB -> multi-part AOF (vs Redis's own rewrite)",
        COMMANDS,
    );
    assert_covers_everything(&st);
    drop(b);

    // A single RESP file: put in an appendonlydir by hand, with the manifest Redis 7 wants.
    for (name, extra) in [("plain.aof", None), ("preamble.aof", Some("--preamble"))] {
        let out = tmp.path().join(name);
        let mut args = vec![
            os("convert"),
            dump.as_os_str(),
            os("--to"),
            os("aof"),
            os("-o"),
            out.as_os_str(),
        ];
        // The preamble holds everything; plain commands lose deleted entries' PEL (above).
        args.push(os(extra.unwrap_or("--lossy")));
        redkit_ok(&args);
        assert_check_aof_valid(&out);
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(
            bytes.starts_with(b"REDIS"),
            extra.is_some(),
            "{name}: preamble or not"
        );
        let dir = tmp.path().join(format!("{name}.dir"));
        std::fs::create_dir(&dir).unwrap();
        let base = if extra.is_some() {
            "appendonly.aof.1.base.rdb"
        } else {
            "appendonly.aof.1.base.aof"
        };
        std::fs::copy(&out, dir.join(base)).unwrap();
        std::fs::write(dir.join("appendonly.aof.1.incr.aof"), b"").unwrap();
        std::fs::write(
            dir.join("appendonly.aof.manifest"),
            format!("file {base} seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"),
        )
        .unwrap();
        let mut b = server_from_aof_dir(&dir);
        if extra.is_some() {
            // An RDB base holds everything: compared with the source itself.
            assert_same_server(&mut a, &mut b, &format!("RDB -> {name}"));
        } else {
            assert_same_server_with(
                &mut c,
                &mut b,
                &format!("RDB -> {name} (vs Redis's own rewrite)"),
                COMMANDS,
            );
        }
    }
}

// =============================================================================================
// 2. RDB -> RDB 10 and RDB 9
// =============================================================================================

#[test]
fn rdb_to_rdb_10_is_equal_and_rdb_9_needs_lossy() {
    let (mut a, dump) = source(202);
    let tmp = TempDir::new("conv-rdb");

    let r10 = tmp.path().join("v10.rdb");
    redkit_ok(&[
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("rdb"),
        os("--rdb-version"),
        os("10"),
        os("-o"),
        r10.as_os_str(),
    ]);
    assert_eq!(rdb_magic(&r10).as_deref(), Some("REDIS0010"));
    check_rdb_ok(&r10);
    let mut b = RedisServer::start_with_rdb(&r10, &[]);
    let st = assert_same_server(&mut a, &mut b, "RDB -> RDB 10");
    assert_covers_everything(&st);
    drop(b);

    // RDB 9 cannot hold functions nor the stream counters of RDB 10: refused without --lossy,
    // nothing written.
    let r9 = tmp.path().join("v9.rdb");
    let run = redkit_run([
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("rdb"),
        os("--rdb-version"),
        os("9"),
        os("-o"),
        r9.as_os_str(),
    ]);
    assert_eq!(
        run.code,
        1,
        "`{}` should refuse:\n{}",
        run.shown,
        run.all_text()
    );
    let msg = run.stderr.to_lowercase();
    assert!(
        msg.contains("function") && msg.contains("stream") && msg.contains("--lossy"),
        "{}",
        run.stderr
    );
    assert!(
        !r9.exists(),
        "nothing should be written: {} exists",
        r9.display()
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only v10.rdb should be there: {leftovers:?}"
    );

    let run = redkit_run([
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("rdb"),
        os("--rdb-version"),
        os("9"),
        os("--lossy"),
        os("-o"),
        r9.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}: {}", run.shown, run.all_text());
    assert!(
        run.stderr.contains("function"),
        "the losses are reported: {}",
        run.stderr
    );
    assert_eq!(rdb_magic(&r9).as_deref(), Some("REDIS0009"));
    check_rdb_ok(&r9);
    let mut b = RedisServer::start_with_rdb(&r9, &[]);
    assert_same_server_with(
        &mut a,
        &mut b,
        "RDB -> RDB 9 --lossy",
        Loose {
            v1_streams: true,
            no_functions_in_b: true,
            zset_zero_sign: false,
        },
    );
}

// =============================================================================================
// 3. AOF written by a real server -> RDB
// =============================================================================================

#[test]
fn aof_from_redis_to_rdb_plain_preamble_and_multi_part() {
    let tmp = TempDir::new("conv-aof-in");
    for preamble in [false, true] {
        let src = aof_server(preamble, 300 + preamble as u64 * 10);
        let dir = src.dir.join("appendonlydir");
        let mut a = server_from_aof_dir(&dir);

        // The whole directory (its manifest) -> RDB.
        let out = tmp.path().join(format!("mp-{preamble}.rdb"));
        redkit_ok(&[
            os("convert"),
            dir.as_os_str(),
            os("--to"),
            os("rdb"),
            os("-o"),
            out.as_os_str(),
        ]);
        check_rdb_ok(&out);
        let mut b = RedisServer::start_with_rdb(&out, &[]);
        let st = assert_same_server(
            &mut a,
            &mut b,
            &format!("multi-part AOF (preamble {preamble}) -> RDB"),
        );
        assert!(
            st.keys() > 20 && st.libraries == 1,
            "too little data: {} keys",
            st.keys()
        );
        drop(b);

        // The same data as one old-style file: base then incr, concatenated (an RDB base makes
        // it a preamble AOF).
        let base = files_ending(&dir, ".base.rdb")
            .into_iter()
            .chain(files_ending(&dir, ".base.aof"))
            .next()
            .expect("a base file");
        let incr = files_ending(&dir, ".incr.aof");
        assert_eq!(incr.len(), 1, "{incr:?}");
        let mut one = std::fs::read(&base).unwrap();
        assert_eq!(one.starts_with(b"REDIS"), preamble);
        one.extend(std::fs::read(&incr[0]).unwrap());
        let single = tmp.file(&format!("single-{preamble}.aof"), &one);
        let out = tmp.path().join(format!("single-{preamble}.rdb"));
        redkit_ok(&[
            os("convert"),
            single.as_os_str(),
            os("--to"),
            os("rdb"),
            os("-o"),
            out.as_os_str(),
        ]);
        let mut b = RedisServer::start_with_rdb(&out, &[]);
        assert_same_server(
            &mut a,
            &mut b,
            &format!("single-file AOF (preamble {preamble}) -> RDB"),
        );
    }

    // A plain AOF with no base: the incr file of a fresh server (whose base is empty).
    let mut src = RedisServer::start(&[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")]);
    workload(&mut src, 333, 1500);
    let dir = src.dir.join("appendonlydir");
    let incr = files_ending(&dir, ".incr.aof");
    let mut a = server_from_aof_dir(&dir);
    let out = tmp.path().join("incr.rdb");
    redkit_ok(&[
        os("convert"),
        incr[0].as_os_str(),
        os("--to"),
        os("rdb"),
        os("-o"),
        out.as_os_str(),
    ]);
    let mut b = RedisServer::start_with_rdb(&out, &[]);
    let st = assert_same_server(&mut a, &mut b, "plain AOF -> RDB");
    assert!(st.keys() > 20, "too little data: {} keys", st.keys());
}

// =============================================================================================
// 5. RDB -> JSON -> RDB
// =============================================================================================

#[test]
fn rdb_to_json_and_back_to_rdb_keeps_everything() {
    let (mut a, dump) = source(505);
    let tmp = TempDir::new("conv-json");
    let json = tmp.path().join("x.json");
    redkit_ok(&[
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("json"),
        os("--meta"),
        os("-o"),
        json.as_os_str(),
    ]);
    let text = std::fs::read(&json).unwrap();
    let recs = parse_json_lines(&text).expect("JSON Lines");
    assert!(
        recs.iter()
            .any(|r| r.get("type").and_then(Json::as_str) == Some("function")),
        "the function travels in the JSON"
    );
    let back = tmp.path().join("back.rdb");
    redkit_ok(&[
        os("convert"),
        json.as_os_str(),
        os("--to"),
        os("rdb"),
        os("-o"),
        back.as_os_str(),
    ]);
    check_rdb_ok(&back);
    let mut b = RedisServer::start_with_rdb(&back, &[]);
    let st = assert_same_server(&mut a, &mut b, "RDB -> JSON -> RDB");
    assert_covers_everything(&st);
}

// =============================================================================================
// 6. RESP for redis-cli --pipe
// =============================================================================================

fn pipe_into(file: &Path, port: u16) {
    check_tool("redis-cli");
    let input = std::fs::File::open(file).unwrap();
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::from(input))
        .output()
        .expect("cannot run redis-cli");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("errors: 0,"),
        "redis-cli --pipe < {}:\n{text}",
        file.display()
    );
}

#[test]
fn resp_and_restore_output_piped_through_redis_cli() {
    let (mut a, dump) = source(606);
    let mut c = redis_own_aof_rewrite(&mut a);
    let tmp = TempDir::new("conv-resp");
    for restore in [false, true] {
        let out = tmp.path().join(format!("r-{restore}.resp"));
        let mut args = vec![
            os("convert"),
            dump.as_os_str(),
            os("--to"),
            os("resp"),
            os("-o"),
            out.as_os_str(),
        ];
        // RESTORE payloads hold everything; plain commands lose deleted entries' PEL.
        args.push(os(if restore { "--restore" } else { "--lossy" }));
        redkit_ok(&args);
        let bytes = std::fs::read(&out).unwrap();
        let has_restore = bytes.windows(9).any(|w| w == b"\r\nRESTORE");
        assert_eq!(has_restore, restore, "RESTORE commands iff --restore");
        let mut b = RedisServer::start(&[]);
        pipe_into(&out, b.port);
        // RESTORE payloads are exact; plain commands are held to what Redis's own rewrite keeps.
        let reference = if restore { &mut a } else { &mut c };
        let st = assert_same_server_with(
            reference,
            &mut b,
            &format!("--to resp (restore {restore}) | redis-cli --pipe"),
            if restore { Loose::default() } else { COMMANDS },
        );
        assert_covers_everything(&st);
    }
}

// =============================================================================================
// 7. The corpus: every RDB redis 7.0 loads, re-written as RDB 10
// =============================================================================================

#[test]
fn corpus_rdbs_rewritten_as_rdb_10_load_to_the_same_digest() {
    check_tool("redis-check-rdb");
    let root = corpus_dir();
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_none_or(|x| x != "aof") {
                if let Some(m) = rdb_magic(&p) {
                    let v: u32 = m.get(5..).and_then(|v| v.parse().ok()).unwrap_or(99);
                    if m.starts_with("REDIS") && v <= 10 {
                        files.push(p);
                    }
                }
            }
        }
    }
    files.sort();
    let tmp = TempDir::new("conv-corpus");
    let mut used = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    let mut lossy = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        let ok = Command::new("redis-check-rdb")
            .arg(f)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            skipped.push(format!("{rel} (redis-check-rdb refuses it)"));
            continue;
        }
        let out = tmp.path().join(format!("{i}.rdb"));
        let run = redkit_run([
            os("convert"),
            f.as_os_str(),
            os("--to"),
            os("rdb"),
            os("--rdb-version"),
            os("10"),
            os("--lossy"),
            os("-o"),
            out.as_os_str(),
        ]);
        if run.code != 0 {
            failures.push(format!(
                "{rel}: `{}` failed: {}",
                run.shown,
                run.stderr.trim()
            ));
            continue;
        }
        // Every file of version <= 10 redkit writes must pass redis-check-rdb.
        if let Err(text) = check_rdb(&out) {
            let last = text.lines().last().unwrap_or("").to_string();
            failures.push(format!(
                "{rel}: redis-check-rdb refuses redkit's RDB 10: {last}"
            ));
            continue;
        }
        // Servers that refuse the original (modules, ...) do not count.
        let a = std::panic::catch_unwind(|| RedisServer::start_with_rdb(f, &[]));
        let Ok(mut a) = a else {
            skipped.push(format!("{rel} (redis-server 7.0 does not load it)"));
            continue;
        };
        let b = std::panic::catch_unwind(|| RedisServer::start_with_rdb(&out, &[]));
        let Ok(mut b) = b else {
            failures.push(format!(
                "{rel}: redis-server 7.0 loads the original but not redkit's RDB 10"
            ));
            continue;
        };
        // What redkit reports as dropped under --lossy is not held against it.
        let dropped: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("dropped (--lossy)"))
            .collect();
        let loose = Loose {
            v1_streams: dropped
                .iter()
                .any(|l| l.contains("stream") || l.contains("entries-read")),
            no_functions_in_b: dropped.iter().any(|l| l.contains("function")),
            zset_zero_sign: false,
        };
        if !dropped.is_empty() {
            lossy.push(format!("{rel}: {}", dropped.join("; ")));
        }
        let sa = snapshot(&mut a, loose);
        let sb = snapshot(&mut b, loose);
        let errs = diff_states(&sa, &sb, loose);
        if !errs.is_empty() {
            failures.push(format!(
                "{rel} ({} keys): {}",
                sa.keys(),
                errs.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            ));
        }
        used.push(format!("{rel} ({} keys)", sa.keys()));
    }
    eprintln!(
        "corpus files compared ({}):\n  {}",
        used.len(),
        used.join("\n  ")
    );
    eprintln!("skipped ({}):\n  {}", skipped.len(), skipped.join("\n  "));
    eprintln!(
        "reported losses ({}):\n  {}",
        lossy.len(),
        lossy.join("\n  ")
    );
    assert!(
        failures.is_empty(),
        "{} corpus file(s) differ after redkit's rewrite to RDB 10:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(
        used.len() >= 60,
        "only {} corpus files were compared",
        used.len()
    );
}

// =============================================================================================
// 8. Versions 11, 12 and VALKEY080 re-written in their own version
// =============================================================================================

/// `redkit json --meta FILE` without the aux records (redis-ver, ctime, used-mem: they describe
/// the writer, not the data).
///
/// The writer picks each value's encoding from its size, as Redis does when it saves, so an
/// original written under other thresholds (a small hash with field TTLs kept as a hashtable,
/// `hash_metadata`) comes back in another encoding: the `encoding` field is left out, and the
/// members of unordered values (hash fields and their TTLs, set members) are sorted, since each
/// encoding lists them in its own order. Everything else (lists, zsets, streams, ids, counters,
/// expiries, functions) must be identical, in order.
fn data_records(file: &Path) -> Vec<Json> {
    fn sorted_obj(j: &mut Json) {
        if let Json::Obj(m) = j {
            m.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    redkit_json_meta(file, &[])
        .into_iter()
        .filter(|r| r.get("type").and_then(Json::as_str) != Some("aux"))
        .map(|mut r| {
            let ty = r
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            if let Json::Obj(m) = &mut r {
                m.retain(|(k, _)| k != "encoding");
                for (k, v) in m.iter_mut() {
                    match (ty.as_str(), k.as_str()) {
                        ("hash", "value" | "field_expire_at_ms") => sorted_obj(v),
                        ("set", "value") => {
                            if let Json::Arr(a) = v {
                                a.sort_by_key(|x| x.render());
                            }
                        }
                        _ => {}
                    }
                }
            }
            r
        })
        .collect()
}

#[test]
fn rdb_11_12_and_valkey_files_rewritten_in_their_own_version_read_back_the_same() {
    let root = corpus_dir();
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(m) = rdb_magic(&p) {
                let target = match m.as_str() {
                    "REDIS0011" => "11",
                    "REDIS0012" => "12",
                    "VALKEY080" => "valkey80",
                    _ => continue,
                };
                files.push((p, m, target));
            }
        }
    }
    files.sort();
    let tmp = TempDir::new("conv-newer");
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, (f, magic, target)) in files.iter().enumerate() {
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        let out = tmp.path().join(format!("{i}.rdb"));
        let run = redkit_run([
            os("convert"),
            f.as_os_str(),
            os("--to"),
            os("rdb"),
            os("--rdb-version"),
            os(target),
            os("-o"),
            out.as_os_str(),
        ]);
        if run.code != 0 {
            failures.push(format!(
                "{rel}: `{}` failed: {}",
                run.shown,
                run.stderr.trim()
            ));
            continue;
        }
        if rdb_magic(&out).as_deref() != Some(magic.as_str()) {
            failures.push(format!(
                "{rel}: output magic {:?}, expected {magic}",
                rdb_magic(&out)
            ));
            continue;
        }
        let want = data_records(f);
        let got = data_records(&out);
        if want != got {
            let i = want
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            failures.push(format!(
                "{rel}: {} records vs {}; first difference at {i}:\n      original: {}\n      redkit:   {}",
                want.len(),
                got.len(),
                want.get(i).map(Json::render).unwrap_or_default(),
                got.get(i).map(Json::render).unwrap_or_default()
            ));
        }
        seen.insert(magic.clone());
        eprintln!("{rel}: {magic}, {} records", want.len());
    }
    assert!(
        failures.is_empty(),
        "{} file(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert_eq!(
        seen.len(),
        3,
        "versions 11, 12 and VALKEY080 all present: {seen:?}"
    );
    assert!(files.len() >= 8, "only {} files", files.len());
}

// =============================================================================================
// 9. Filters, point in time, bad input
// =============================================================================================

#[test]
fn filters_db_and_type_keep_exactly_what_they_say() {
    let (mut a, dump) = source(909);
    let sa = snapshot(&mut a, Loose::default());
    let tmp = TempDir::new("conv-filter");

    let out = tmp.path().join("db7.rdb");
    redkit_ok(&[
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("rdb"),
        os("--db"),
        os("7"),
        os("-o"),
        out.as_os_str(),
    ]);
    let mut b = RedisServer::start_with_rdb(&out, &[]);
    let sb = snapshot(&mut b, Loose::default());
    assert_eq!(
        sb.dbs.keys().copied().collect::<Vec<_>>(),
        [7],
        "--db 7: only db 7"
    );
    assert_eq!(sb.dbs[&7], sa.dbs[&7], "--db 7: db 7 as in the source");
    drop(b);

    let out = tmp.path().join("hash-zset.rdb");
    redkit_ok(&[
        os("convert"),
        dump.as_os_str(),
        os("--to"),
        os("rdb"),
        os("--type"),
        os("hash"),
        os("--type"),
        os("zset"),
        os("-o"),
        out.as_os_str(),
    ]);
    let mut b = RedisServer::start_with_rdb(&out, &[]);
    let sb = snapshot(&mut b, Loose::default());
    let mut want = sa.clone();
    for d in want.dbs.values_mut() {
        d.retain(|_, k| k.ty == "hash" || k.ty == "zset");
    }
    want.dbs.retain(|_, d| !d.is_empty());
    assert!(
        want.keys() > 10,
        "too few hashes and zsets: {}",
        want.keys()
    );
    // The dataset digest covers what was filtered out; functions are not keys.
    want.digest = sb.digest.clone();
    want.function_list = sb.function_list.clone();
    want.function_dump = sb.function_dump.clone();
    want.libraries = sb.libraries;
    let errs = diff_states(&want, &sb, Loose::default());
    fail_with("--type hash --type zset", &errs);
}

#[test]
fn until_offset_and_until_timestamp_stop_where_they_say() {
    let cmd = |args: &[&str]| -> Vec<u8> {
        let mut b = Vec::new();
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        redkit_formats::resp::encode_command(&refs, &mut b);
        b
    };
    let mut aof = Vec::new();
    let mut offsets = Vec::new();
    for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
        aof.extend(format!("#TS:{}\r\n", 1_700_000_000 + i * 10).into_bytes());
        offsets.push(aof.len());
        aof.extend(cmd(&["SET", k, &i.to_string()]));
    }
    let tmp = TempDir::new("conv-pitr");
    let f = tmp.file("x.aof", &aof);
    let keys_of = |extra: &[&str]| -> Vec<String> {
        let out = tmp.path().join("out.json");
        let _ = std::fs::remove_file(&out);
        let mut args = vec![
            os("convert"),
            f.as_os_str(),
            os("--to"),
            os("json"),
            os("-o"),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(|s| os(s)));
        redkit_ok(&args);
        let recs = parse_json_lines(&std::fs::read(&out).unwrap()).unwrap();
        recs.iter()
            .filter_map(|r| r.get("key").and_then(Json::as_str).map(str::to_string))
            .collect()
    };
    assert_eq!(keys_of(&[]), ["a", "b", "c", "d"]);
    // Stop before the command that starts at the offset: "c" and later are not applied.
    let at_c = offsets[2].to_string();
    assert_eq!(
        keys_of(&["--until-offset", &at_c]),
        ["a", "b"],
        "--until-offset {at_c}"
    );
    let inside_c = (offsets[2] + 3).to_string();
    assert_eq!(
        keys_of(&["--until-offset", &inside_c]),
        ["a", "b", "c"],
        "--until-offset {inside_c}"
    );
    // #TS later than T stops the replay: T = the second annotation keeps "a" and "b".
    assert_eq!(
        keys_of(&["--until-timestamp", "1700000010"]),
        ["a", "b"],
        "--until-timestamp"
    );
    // Like redis-check-aof --truncate-to-timestamp: nothing before T is an error, and no output.
    let out = tmp.path().join("none.json");
    let run = redkit_run([
        os("convert"),
        f.as_os_str(),
        os("--to"),
        os("json"),
        os("-o"),
        out.as_os_str(),
        os("--until-timestamp"),
        os("1600000000"),
    ]);
    assert_eq!(run.code, 1, "{}: {}", run.shown, run.all_text());
    assert!(
        run.stderr.contains("nothing before timestamp"),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "{} written", out.display());
}

#[test]
fn bad_input_exits_1_with_one_line_and_leaves_no_output() {
    let (_a, dump) = source(990);
    let tmp = TempDir::new("conv-bad");
    let good = std::fs::read(&dump).unwrap();
    let mut rng = Rng::new(7);
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("garbage.bin", rng.bytes(5000)),
        ("text.rdb", b"hello, this is not a dump\n".to_vec()),
        ("truncated.rdb", good[..good.len() / 2].to_vec()),
        ("truncated-header.rdb", good[..7].to_vec()),
        ("bad-crc.rdb", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 3] ^= 0x55;
            b
        }),
    ];
    for (name, bytes) in inputs {
        let input = tmp.file(name, &bytes);
        for to in ["rdb", "aof", "json"] {
            let out = tmp.path().join(format!("out-{name}.{to}"));
            let run = redkit_run([
                os("convert"),
                input.as_os_str(),
                os("--to"),
                os(to),
                os("-o"),
                out.as_os_str(),
            ]);
            assert_eq!(
                run.code,
                1,
                "`{}` should fail:\n{}",
                run.shown,
                run.all_text()
            );
            let lines: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            assert_eq!(
                lines.len(),
                1,
                "`{}`: one line of error expected, got:\n{}",
                run.shown,
                run.stderr
            );
            assert!(!out.exists(), "`{}` left {}", run.shown, out.display());
        }
        let dirs: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("out") || n.contains("tmp"))
            .collect();
        assert!(dirs.is_empty(), "{name}: left behind {dirs:?}");
    }
}

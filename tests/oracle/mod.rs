//! The command oracle: the same commands go to a real redis-server 7.0 and to redkit's
//! executor; replies are compared (after normalising what is unordered by design), and after
//! each batch the whole keyspaces are compared through read commands: every key's type,
//! value, encoding and absolute expiry.
//!
//! Each data type's test file (`tests/oracle_<type>.rs`) brings its own generator of random
//! [`Case`]s and calls [`check`].
#![allow(dead_code)]

use crate::common::{Cmd, RedisServer, Reply, Rng};
use redkit::cmd::{Executor, Reply as KReply, Session};
use redkit::keyspace::{Config, Keyspace};

/// How to compare one command's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Byte for byte.
    Exact,
    /// An array whose order is not defined (SMEMBERS, SINTER...): compared sorted.
    Unordered,
    /// A flat array of pairs in no defined order (HGETALL): compared as sorted pairs.
    UnorderedPairs,
    /// Random by design: only "both errors" or "both not errors" is compared.
    Shape,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub cmd: Cmd,
    pub norm: Norm,
}

impl Case {
    pub fn new(norm: Norm, args: &[&[u8]]) -> Case {
        Case {
            cmd: args.iter().map(|a| a.to_vec()).collect(),
            norm,
        }
    }
    pub fn exact(args: Vec<Vec<u8>>) -> Case {
        Case {
            cmd: args,
            norm: Norm::Exact,
        }
    }
    pub fn with(norm: Norm, args: Vec<Vec<u8>>) -> Case {
        Case { cmd: args, norm }
    }
}

/// Build an argument vector from anything byte-like: `args![b"SET", key, 5.to_string()]`.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        vec![$(AsRef::<[u8]>::as_ref(&$a).to_vec()),*]
    };
}

/// A redis-server and a redkit executor fed the same commands.
pub struct Pair {
    pub redis: RedisServer,
    pub ex: Executor,
    pub sess: Session,
    /// Commands run so far (for failure messages).
    pub history: Vec<Cmd>,
}

impl Pair {
    pub fn start() -> Pair {
        Pair::start_with(&[])
    }

    /// Start both sides with the same redis.conf settings (`hash-max-listpack-entries` ...).
    pub fn start_with(settings: &[(&str, &str)]) -> Pair {
        let redis = RedisServer::start(settings);
        let mut cfg = Config::default();
        for (k, v) in settings {
            cfg.set(k, v)
                .unwrap_or_else(|e| panic!("redkit config {k} {v}: {e}"));
        }
        Pair {
            redis,
            ex: Executor::new(Keyspace::new(cfg)),
            sess: Session::default(),
            history: Vec::new(),
        }
    }

    /// Run one command on redkit.
    pub fn redkit(&mut self, cmd: &Cmd) -> Reply {
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        to_test_reply(&self.ex.execute(&mut self.sess, &args))
    }

    /// Run `cases` on both sides and compare the replies.
    pub fn run(&mut self, cases: &[Case]) {
        let cmds: Vec<Cmd> = cases.iter().map(|c| c.cmd.clone()).collect();
        let theirs = self.redis.pipeline(&cmds);
        for (case, want) in cases.iter().zip(theirs) {
            self.history.push(case.cmd.clone());
            let got = self.redkit(&case.cmd);
            if !same(case.norm, &want, &got) {
                panic!(
                    "reply differs for {}\n redis:  {:?}\n redkit: {:?}\n last commands:\n{}",
                    show(&case.cmd),
                    want,
                    got,
                    self.recent(30)
                );
            }
        }
    }

    fn recent(&self, n: usize) -> String {
        // ORACLE_HISTORY=all shows every command sent so far.
        let n = if std::env::var_os("ORACLE_HISTORY").is_some() {
            usize::MAX
        } else {
            n
        };
        let from = self.history.len().saturating_sub(n);
        self.history[from..]
            .iter()
            .map(|c| format!("  {}\n", show(c)))
            .collect()
    }

    /// Compare every database: the key sets, then each key's type, value, encoding and expiry.
    pub fn compare_keyspace(&mut self) {
        let dbs = self.ex.ks.dbs.len();
        let saved = self.sess.db;
        for db in 0..dbs {
            let sel = vec![b"SELECT".to_vec(), db.to_string().into_bytes()];
            self.redis.pipeline(std::slice::from_ref(&sel));
            self.redkit(&sel);
            let mut theirs = self.redis.cmd(&[b"KEYS", b"*"]).bulks();
            let mut ours: Vec<Vec<u8>> = self.ex.ks.dbs[db]
                .map
                .iter()
                .filter(|(_, e)| e.expire().is_none_or(|t| t >= redkit::now_ms()))
                .map(|(k, _)| k.to_vec())
                .collect();
            theirs.sort();
            ours.sort();
            if theirs != ours {
                panic!(
                    "db {db}: keys differ\n redis:  {:?}\n redkit: {:?}\n last commands:\n{}",
                    theirs.iter().map(|k| show_arg(k)).collect::<Vec<_>>(),
                    ours.iter().map(|k| show_arg(k)).collect::<Vec<_>>(),
                    self.recent(40)
                );
            }
            for key in &theirs {
                self.compare_key(db, key);
            }
        }
        let sel = vec![b"SELECT".to_vec(), saved.to_string().into_bytes()];
        self.redis.pipeline(std::slice::from_ref(&sel));
        self.redkit(&sel);
    }

    fn compare_key(&mut self, db: usize, key: &[u8]) {
        let k = key.to_vec();
        let ty = self.redis.cmd(&[b"TYPE", key]).text();
        let mut reads: Vec<(Cmd, Norm)> = vec![
            (args![b"TYPE", k], Norm::Exact),
            (args![b"OBJECT", b"ENCODING", k], Norm::Exact),
        ];
        reads.extend(value_reads(&ty, &k));
        for (cmd, norm) in reads {
            let want = self.redis.pipeline(std::slice::from_ref(&cmd)).remove(0);
            let got = self.redkit(&cmd);
            if !same(norm, &want, &got) {
                panic!(
                    "db {db} key {}: {} differs\n redis:  {:?}\n redkit: {:?}\n last commands:\n{}",
                    show_arg(key),
                    show(&cmd),
                    want,
                    got,
                    self.recent(40)
                );
            }
        }
        // Absolute expiry: equal, or within a second when set from a relative TTL.
        let cmd = args![b"PEXPIRETIME", k];
        let want = self.redis.pipeline(std::slice::from_ref(&cmd)).remove(0);
        let got = self.redkit(&cmd);
        let ok = match (&want, &got) {
            (Reply::Int(a), Reply::Int(b)) => a == b || (*a > 0 && *b > 0 && (a - b).abs() <= 1000),
            _ => want == got,
        };
        assert!(
            ok,
            "db {db} key {}: PEXPIRETIME redis {want:?} redkit {got:?}\n last commands:\n{}",
            show_arg(key),
            self.recent(40)
        );
    }

    /// Generate and check `rounds` batches of `batch` cases, comparing keyspaces after each.
    pub fn check(&mut self, rng: &mut Rng, rounds: usize, batch: usize, gen: fn(&mut Rng) -> Case) {
        for _ in 0..rounds {
            let cases: Vec<Case> = (0..batch).map(|_| gen(rng)).collect();
            self.run(&cases);
            self.compare_keyspace();
        }
    }
}

/// The read commands that show a value of type `ty` completely.
pub fn value_reads(ty: &str, k: &[u8]) -> Vec<(Cmd, Norm)> {
    match ty {
        "string" => vec![(args![b"GET", k], Norm::Exact)],
        "list" => vec![(args![b"LRANGE", k, b"0", b"-1"], Norm::Exact)],
        "set" => vec![
            (args![b"SMEMBERS", k], Norm::Unordered),
            (args![b"SCARD", k], Norm::Exact),
        ],
        "zset" => vec![(args![b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"], Norm::Exact)],
        "hash" => vec![
            (args![b"HGETALL", k], Norm::UnorderedPairs),
            (args![b"HLEN", k], Norm::Exact),
        ],
        "stream" => vec![
            (args![b"XRANGE", k, b"-", b"+"], Norm::Exact),
            (args![b"XLEN", k], Norm::Exact),
            (args![b"XINFO", b"GROUPS", k], Norm::Exact),
        ],
        _ => Vec::new(),
    }
}

/// Compare two replies under `norm`.
pub fn same(norm: Norm, want: &Reply, got: &Reply) -> bool {
    match norm {
        Norm::Exact => want == got,
        Norm::Shape => want.is_error() == got.is_error(),
        Norm::Unordered => sorted(want, 1) == sorted(got, 1),
        Norm::UnorderedPairs => sorted(want, 2) == sorted(got, 2),
    }
}

fn sorted(r: &Reply, chunk: usize) -> Reply {
    match r {
        Reply::Array(Some(items)) => {
            let mut groups: Vec<Vec<Reply>> = items.chunks(chunk).map(<[Reply]>::to_vec).collect();
            groups.sort_by_key(|g| format!("{g:?}"));
            Reply::Array(Some(groups.into_iter().flatten().collect()))
        }
        other => other.clone(),
    }
}

/// redkit's reply in the test client's terms (the RESP2 a server would send).
pub fn to_test_reply(r: &KReply) -> Reply {
    match r {
        KReply::Ok => Reply::Simple(b"OK".to_vec()),
        KReply::Status(s) => Reply::Simple(s.as_bytes().to_vec()),
        KReply::Error(s) => Reply::Error(s.as_bytes().to_vec()),
        KReply::Int(i) => Reply::Int(*i),
        KReply::Bulk(b) => Reply::Bulk(Some(b.clone())),
        KReply::Nil => Reply::Bulk(None),
        KReply::NilArray => Reply::Array(None),
        KReply::Array(a) => Reply::Array(Some(a.iter().map(to_test_reply).collect())),
        KReply::Double(_) => {
            // Exactly what goes on the wire.
            let wire = r.to_resp2();
            let body = &wire[wire.iter().position(|&c| c == b'\n').unwrap() + 1..wire.len() - 2];
            Reply::Bulk(Some(body.to_vec()))
        }
    }
}

pub fn show_arg(a: &[u8]) -> String {
    redkit_formats::escape_key(a)
}

pub fn show(c: &Cmd) -> String {
    c.iter().map(|a| show_arg(a)).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Random arguments shared by the generators
// ---------------------------------------------------------------------------------------------

/// A key from a small pool, so commands meet each other's keys (and the wrong types).
/// `prefix` keeps a type's keys mostly to itself; one pick in `mix` takes a shared key.
pub fn key(rng: &mut Rng, prefix: &str, pool: u64) -> Vec<u8> {
    if rng.chance(1, 12) {
        return format!("shared:{}", rng.below(3)).into_bytes();
    }
    format!("{prefix}:{}", rng.below(pool)).into_bytes()
}

/// A value that exercises encodings: small ints, big ints, short strings, strings past the
/// 64-byte listpack value limit, binary bytes, the empty string.
pub fn value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0 => rng.below(20).to_string().into_bytes(),
        1 => (rng.next_u64() as i64).to_string().into_bytes(),
        2 => Vec::new(),
        3 => {
            let n = rng.range(60, 70) as usize;
            rng.alnum(n)
        }
        4 => {
            let n = rng.range(1, 8) as usize;
            rng.bytes(n)
        }
        5 => format!("-{}", rng.below(1000)).into_bytes(),
        _ => {
            let n = rng.range(1, 6) as usize;
            rng.alnum(n)
        }
    }
}

/// An integer argument, sometimes not an integer at all or out of range.
pub fn int_arg(rng: &mut Rng, lo: i64, hi: i64) -> Vec<u8> {
    match rng.below(20) {
        0 => b"notanumber".to_vec(),
        1 => b"99999999999999999999".to_vec(),
        2 => b"1.5".to_vec(),
        _ => (lo + rng.below((hi - lo + 1) as u64) as i64)
            .to_string()
            .into_bytes(),
    }
}

/// A float argument, sometimes special or invalid.
pub fn float_arg(rng: &mut Rng) -> Vec<u8> {
    match rng.below(16) {
        0 => b"inf".to_vec(),
        1 => b"-inf".to_vec(),
        2 => b"nan".to_vec(),
        3 => b"abc".to_vec(),
        4 => b"1e400".to_vec(),
        5 => (rng.below(100) as i64 - 50).to_string().into_bytes(),
        _ => format!("{:.3}", (rng.below(20000) as f64 - 10000.0) / 7.0).into_bytes(),
    }
}

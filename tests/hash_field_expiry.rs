//! Hash field expiry (Redis 7.4). Redis 7.0, the oracle of the other tests, has none, so this
//! checks against what 7.4 itself wrote: the corpus's RDB files from Redis 7.4.5 (types 24 and
//! 25) decoded into the hash loader, and the AOFs next to them replayed through the executor,
//! both compared with the corpus's expected JSON; then the commands' documented 7.4 behaviour
//! (reply codes, lazy expiry and its HDEL propagation, NX/XX/GT/LT, errors).

mod common;

use common::Json;
use redkit::cmd::{Executor, Reply, Session};
use redkit::keyspace::hash::{Hash, Loader};
use redkit::keyspace::{Config, Keyspace, Value};
use redkit_formats::rdb::read::{decode_value, parse_header, Item, Parser, Walker, HEADER_LEN};

/// (field, value, expiry) of a hash, sorted by field.
type Fields = Vec<(Vec<u8>, Vec<u8>, Option<i64>)>;

fn fields_of(h: &Hash) -> Fields {
    let mut v: Fields = h
        .iter()
        .map(|(f, v, t)| (f.to_vec(), v.to_vec(), t))
        .collect();
    v.sort();
    v
}

/// The corpus's expected record: key, and fields with their expiry (0 = none).
fn expected(case: &str) -> (Vec<u8>, Fields) {
    let path = common::corpus_file(&format!("HDT3213-rdb/cases/{case}.json"));
    let text = std::fs::read_to_string(&path).expect("read expected JSON");
    let json = Json::parse(&text).expect("parse expected JSON");
    let recs = json.arr();
    assert_eq!(recs.len(), 1, "{case}: one key expected");
    let rec = &recs[0];
    assert_eq!(rec.at("type").str(), "hash");
    let key = rec.at("key").str().as_bytes().to_vec();
    let exp = rec.at("expire");
    let mut fields: Fields = rec
        .at("hash")
        .obj()
        .iter()
        .map(|(f, v)| {
            let t = exp.at(f).i64();
            (
                f.as_bytes().to_vec(),
                v.str().as_bytes().to_vec(),
                (t != 0).then_some(t),
            )
        })
        .collect();
    fields.sort();
    (key, fields)
}

/// Decode the one key of an RDB file of the corpus into a hash through [`Loader`].
fn load_rdb(case: &str, cfg: &Config) -> (Vec<u8>, u8, Hash) {
    let path = common::corpus_file(&format!("HDT3213-rdb/cases/{case}.rdb"));
    let data = std::fs::read(&path).expect("read rdb");
    let header = parse_header(&data).expect("rdb header");
    let mut parser = Parser::new(header);
    let mut walker = Walker::default();
    let mut pos = HEADER_LEN;
    let mut found = None;
    loop {
        let framed = parser.next(&data, pos, 0).expect("frame rdb");
        pos = framed.end;
        match framed.item {
            Item::Key(rec) => {
                let mut loader = Loader::new(cfg);
                decode_value(&parser.ctx(), &mut walker, &rec, &mut loader).expect("decode");
                let Some(Value::Hash(h)) = loader.finish(cfg) else {
                    panic!("{case}: not a non-empty hash");
                };
                assert!(found.is_none(), "{case}: one key expected");
                found = Some((rec.key.to_vec(0).expect("key"), rec.rdb_type, *h));
            }
            Item::Eof => break,
            _ => {}
        }
    }
    found.expect("a key")
}

#[test]
fn redis_74_rdb_files_load_with_field_expiries() {
    let cfg = Config::default();
    for (case, rdb_type) in [("hash_with_hfe", 24), ("hash_as_listpack_with_hfe", 25)] {
        let (key, want) = expected(case);
        let (got_key, t, h) = load_rdb(case, &cfg);
        assert_eq!(t, rdb_type, "{case}: rdb type");
        assert_eq!(got_key, key, "{case}: key");
        assert_eq!(fields_of(&h), want, "{case}: fields, values, expiries");
        // Small, so Redis 7.4 keeps both as listpackex; expiry order inside it.
        assert_eq!(h.encoding(), "listpackex", "{case}");
        assert!(h.has_field_ttls());
        let ttls: Vec<i64> = h.iter().map(|(_, _, t)| t.unwrap_or(i64::MAX)).collect();
        assert!(ttls.windows(2).all(|w| w[0] <= w[1]), "{case}: {ttls:?}");
    }
    // Over the entry limit both become hash tables with the same fields and expiries.
    let small = Config {
        hash_max_listpack_entries: 2,
        ..Config::default()
    };
    for case in ["hash_with_hfe", "hash_as_listpack_with_hfe"] {
        let (_, want) = expected(case);
        let (_, _, h) = load_rdb(case, &small);
        assert_eq!(h.encoding(), "hashtable", "{case}");
        assert_eq!(fields_of(&h), want, "{case}");
    }
}

/// Parse a RESP AOF into argument vectors.
fn aof_commands(case: &str) -> Vec<Vec<Vec<u8>>> {
    let path = common::corpus_file(&format!("HDT3213-rdb/cases/{case}.aof"));
    let data = std::fs::read(&path).expect("read aof");
    let mut out = Vec::new();
    let (mut pos, mut line) = (0usize, 1u64);
    while pos < data.len() {
        let rec = redkit_formats::resp::next_record(&data, pos, 0, line).expect("aof record");
        if let redkit_formats::resp::Record::Command(c) = &rec {
            out.push(c.args.iter().map(|a| a.to_vec()).collect());
        }
        pos = rec.end();
        line = rec.next_line();
    }
    out
}

#[test]
fn redis_74_aofs_replay_to_the_same_hash() {
    for case in ["hash_with_hfe", "hash_as_listpack_with_hfe"] {
        let (key, want) = expected(case);
        let mut ex = Executor::new(Keyspace::default());
        ex.loading = true;
        let mut s = Session::default();
        for argv in aof_commands(case) {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            let r = ex.execute(&mut s, &args);
            assert!(!r.is_error(), "{case}: {r:?} for {argv:?}");
        }
        let Some(Value::Hash(h)) = ex.ks.dbs[0].get(&key).map(|e| &e.value) else {
            panic!("{case}: no hash after replay");
        };
        assert_eq!(fields_of(h), want, "{case}");
        assert_eq!(h.encoding(), "listpackex");
    }
}

// ---------------------------------------------------------------------------------------------
// Command semantics (Redis 7.4 documentation and t_hash.c)
// ---------------------------------------------------------------------------------------------

const NOW: i64 = 1_700_000_000_000;

struct T {
    ex: Executor,
    s: Session,
}

impl T {
    fn new() -> T {
        let mut ex = Executor::new(Keyspace::default());
        ex.clock_ms = Some(NOW);
        ex.propagating = true;
        T {
            ex,
            s: Session::default(),
        }
    }

    fn run(&mut self, args: &[&str]) -> Reply {
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
        self.ex.execute(&mut self.s, &a)
    }

    fn ints(&mut self, args: &[&str]) -> Vec<i64> {
        match self.run(args) {
            Reply::Array(v) => v
                .into_iter()
                .map(|r| match r {
                    Reply::Int(i) => i,
                    other => panic!("{args:?}: {other:?}"),
                })
                .collect(),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    /// Commands propagated since the last call, as text.
    fn props(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ex.propagated)
            .into_iter()
            .map(|p| {
                p.argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn encoding(&mut self, key: &str) -> String {
        match self.run(&["OBJECT", "ENCODING", key]) {
            Reply::Bulk(b) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        }
    }
}

fn err(r: Reply) -> String {
    match r {
        Reply::Error(e) => e.into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn hexpire_codes_ttl_and_persist() {
    let mut t = T::new();
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    t.props();
    assert_eq!(t.encoding("h"), "listpack");
    // 1 set, -2 no such field.
    assert_eq!(
        t.ints(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz"]),
        [1, -2]
    );
    assert_eq!(t.encoding("h"), "listpackex");
    assert_eq!(
        t.props(),
        [format!("HPEXPIREAT h {} FIELDS 1 a", NOW + 100_000)]
    );
    assert_eq!(
        t.ints(&["HTTL", "h", "FIELDS", "3", "a", "b", "zz"]),
        [100, -1, -2]
    );
    assert_eq!(t.ints(&["HPTTL", "h", "FIELDS", "1", "a"]), [100_000]);
    assert_eq!(
        t.ints(&["HEXPIRETIME", "h", "FIELDS", "1", "a"]),
        [(NOW + 100_000) / 1000]
    );
    assert_eq!(
        t.ints(&["HPEXPIRETIME", "h", "FIELDS", "1", "a"]),
        [NOW + 100_000]
    );
    // NX / XX / GT / LT.
    assert_eq!(
        t.ints(&["HPEXPIRE", "h", "5000", "NX", "FIELDS", "2", "a", "b"]),
        [0, 1]
    );
    assert_eq!(
        t.ints(&["HPEXPIRE", "h", "9000", "xx", "FIELDS", "2", "b", "c"]),
        [1, 0]
    );
    assert_eq!(
        t.ints(&["HPEXPIRE", "h", "1000", "GT", "FIELDS", "2", "b", "c"]),
        [0, 0]
    );
    assert_eq!(
        t.ints(&["HPEXPIRE", "h", "1000", "LT", "FIELDS", "2", "b", "c"]),
        [1, 1]
    );
    assert_eq!(
        t.ints(&["HPTTL", "h", "FIELDS", "3", "a", "b", "c"]),
        [100_000, 1000, 1000]
    );
    t.props();
    // Only the fields set are propagated, with the count rewritten.
    assert_eq!(
        t.ints(&[
            "HPEXPIREAT",
            "h",
            &(NOW + 7).to_string(),
            "GT",
            "FIELDS",
            "2",
            "a",
            "b"
        ]),
        [0, 0]
    );
    assert!(t.props().is_empty());
    assert_eq!(
        t.ints(&[
            "HEXPIREAT",
            "h",
            &(NOW / 1000 + 50).to_string(),
            "FIELDS",
            "2",
            "zz",
            "b"
        ]),
        [-2, 1]
    );
    assert_eq!(
        t.props(),
        [format!(
            "HPEXPIREAT h {} FIELDS 1 b",
            (NOW / 1000 + 50) * 1000
        )]
    );
    // HPERSIST: 1 removed, -1 no expiry, -2 no field; propagated as is.
    assert_eq!(
        t.ints(&["HPERSIST", "h", "FIELDS", "3", "a", "x", "b"]),
        [1, -2, 1]
    );
    assert_eq!(t.props(), ["HPERSIST h FIELDS 3 a x b"]);
    assert_eq!(t.ints(&["HPERSIST", "h", "FIELDS", "1", "a"]), [-1]);
    assert!(t.props().is_empty());
    // A missing key answers -2 for every field.
    assert_eq!(
        t.ints(&["HTTL", "nokey", "FIELDS", "2", "a", "b"]),
        [-2, -2]
    );
    assert_eq!(
        t.ints(&["HEXPIRE", "nokey", "10", "FIELDS", "1", "a"]),
        [-2]
    );
    assert_eq!(t.ints(&["HPERSIST", "nokey", "FIELDS", "1", "a"]), [-2]);
    // HSET drops a field's expiry; HINCRBY keeps it.
    t.run(&["HPEXPIRE", "h", "5000", "FIELDS", "2", "a", "c"]);
    t.run(&["HSET", "h", "a", "10"]);
    t.run(&["HINCRBY", "h", "c", "5"]);
    assert_eq!(t.ints(&["HPTTL", "h", "FIELDS", "2", "a", "c"]), [-1, 5000]);
}

#[test]
fn past_times_delete_fields_and_propagate_hdel() {
    let mut t = T::new();
    t.run(&["HSET", "h", "a", "1", "b", "2"]);
    t.props();
    assert_eq!(
        t.ints(&["HPEXPIREAT", "h", "1", "FIELDS", "2", "a", "zz"]),
        [2, -2]
    );
    assert_eq!(t.props(), ["HDEL h a"]);
    assert_eq!(t.run(&["HLEN", "h"]), Reply::Int(1));
    // The last field: the key goes too.
    assert_eq!(t.ints(&["HEXPIRE", "h", "0", "FIELDS", "1", "b"]), [2]);
    assert_eq!(t.props(), ["HDEL h b"]);
    assert!(t.ex.ks.dbs[0].get(b"h").is_none());
    // While loading, a past time is set rather than deleting.
    t.run(&["HSET", "h", "a", "1"]);
    t.ex.loading = true;
    assert_eq!(t.ints(&["HPEXPIREAT", "h", "1", "FIELDS", "1", "a"]), [1]);
    assert_eq!(t.run(&["HGET", "h", "a"]), Reply::Bulk(b"1".to_vec()));
    t.ex.loading = false;
    t.props();
    // Afterwards it is expired: invisible, then lazily deleted with an HDEL.
    assert_eq!(t.run(&["HLEN", "h"]), Reply::Int(1));
    assert_eq!(t.run(&["HGETALL", "h"]), Reply::Array(vec![]));
    assert_eq!(t.ints(&["HTTL", "h", "FIELDS", "1", "a"]), [-2]);
    assert_eq!(t.ints(&["HPERSIST", "h", "FIELDS", "1", "a"]), [-2]);
    assert!(t.props().is_empty());
    assert_eq!(t.run(&["HGET", "h", "a"]), Reply::Nil);
    assert_eq!(t.props(), ["HDEL h a"]);
    assert!(
        t.ex.ks.dbs[0].get(b"h").is_none(),
        "last field expired: key deleted"
    );
}

#[test]
fn lazy_expiry_on_writes() {
    let mut t = T::new();
    t.run(&["HSET", "h", "a", "5", "b", "x"]);
    t.ex.loading = true;
    t.run(&["HPEXPIREAT", "h", "1", "FIELDS", "2", "a", "b"]);
    t.ex.loading = false;
    t.props();
    // The expired field counts as missing: HINCRBY starts from 0 and HDEL goes first.
    assert_eq!(t.run(&["HINCRBY", "h", "a", "2"]), Reply::Int(2));
    // The lazy HDEL and the command, one call: wrapped in MULTI/EXEC as Redis 7 does.
    assert_eq!(t.props(), ["MULTI", "HDEL h a", "HINCRBY h a 2", "EXEC"]);
    assert_eq!(t.run(&["HSETNX", "h", "b", "new"]), Reply::Int(1));
    assert_eq!(t.props(), ["MULTI", "HDEL h b", "HSETNX h b new", "EXEC"]);
    assert_eq!(t.run(&["HGET", "h", "b"]), Reply::Bulk(b"new".to_vec()));
    // HINCRBYFLOAT propagates HSET with the result.
    assert_eq!(
        t.run(&["HINCRBYFLOAT", "h", "a", "0.1"]),
        Reply::Bulk(b"2.1".to_vec())
    );
    assert_eq!(t.props(), ["HSET h a 2.1"]);
    // HMGET on a hash whose only fields all expired: nils, and the key is gone.
    t.run(&["HSET", "g", "x", "1"]);
    t.ex.loading = true;
    t.run(&["HPEXPIREAT", "g", "1", "FIELDS", "1", "x"]);
    t.ex.loading = false;
    t.props();
    assert_eq!(
        t.run(&["HMGET", "g", "x", "x"]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(t.props(), ["HDEL g x"]);
    assert!(t.ex.ks.dbs[0].get(b"g").is_none());
}

#[test]
fn expiry_survives_conversion_to_hashtable() {
    let mut t = T::new();
    t.run(&["HSET", "h", "a", "1", "b", "2"]);
    t.run(&["HPEXPIRE", "h", "3000", "FIELDS", "1", "b"]);
    assert_eq!(t.encoding("h"), "listpackex");
    t.run(&["HSET", "h", "long", &"x".repeat(100)]);
    assert_eq!(t.encoding("h"), "hashtable");
    assert_eq!(
        t.ints(&["HPTTL", "h", "FIELDS", "3", "a", "b", "long"]),
        [-1, 3000, -1]
    );
    assert_eq!(
        t.ints(&["HPEXPIRE", "h", "10", "LT", "FIELDS", "2", "a", "b"]),
        [1, 1]
    );
    assert_eq!(t.ints(&["HPERSIST", "h", "FIELDS", "2", "a", "b"]), [1, 1]);
}

#[test]
fn argument_errors() {
    let mut t = T::new();
    t.run(&["HSET", "h", "a", "1"]);
    t.ex.ks.dbs[0].set(b"s", redkit::keyspace::string::string_value(b"x"));
    let e = |t: &mut T, a: &[&str]| err(t.run(a));
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "10", "FIELD", "1", "a"]),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "10", "NX", "1", "a"]),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "10", "FIELDS", "0", "a"]),
        "ERR Parameter `numFields` should be greater than 0"
    );
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "10", "FIELDS", "2", "a"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "-1", "FIELDS", "1", "a"]),
        "ERR invalid expire time, must be >= 0"
    );
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "abc", "FIELDS", "1", "a"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        e(
            &mut t,
            &["HEXPIRE", "h", "70368744177664", "FIELDS", "1", "a"]
        ),
        "ERR invalid expire time in 'hexpire' command"
    );
    assert_eq!(
        e(
            &mut t,
            &["HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "a"]
        ),
        "ERR invalid expire time in 'hpexpireat' command"
    );
    assert_eq!(
        t.ints(&["HPEXPIREAT", "h", "70368744177663", "FIELDS", "1", "a"]),
        [1]
    );
    assert_eq!(
        e(&mut t, &["HTTL", "h", "FIELDS", "x", "a"]),
        "ERR Number of fields must be a positive integer"
    );
    assert_eq!(
        e(&mut t, &["HPERSIST", "h", "FIELDS", "2", "a"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        e(&mut t, &["HTTL", "h", "FIELDS", "1"]),
        "ERR wrong number of arguments for 'httl' command"
    );
    assert_eq!(
        e(&mut t, &["HEXPIRE", "h", "1", "FIELDS", "1"]),
        "ERR wrong number of arguments for 'hexpire' command"
    );
    assert!(e(&mut t, &["HTTL", "s", "FIELDS", "1", "a"]).starts_with("WRONGTYPE"));
    assert!(e(&mut t, &["HEXPIRE", "s", "-1", "FIELDS", "1", "a"]).starts_with("WRONGTYPE"));
}

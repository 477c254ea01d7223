//! `aofdir::write_aof_dir` against redis-server 7.0.15: a directory written by redkit (RESP base
//! or RDB base, default or custom `appendfilename`) is loaded by a real server with
//! `appendonly yes`, which must see the data, keep using the directory as it is (no rewrite
//! needed: the manifest stays byte for byte), and redis-check-aof must call it valid.

mod common;

use std::path::Path;
use std::process::Command;

use common::{check_tool, sample_file, RedisServer, TempDir};
use redkit::aofdir::{write_aof_dir, AofDirSpec};
use redkit::Error;

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    redkit_formats::resp::encode_command(args, &mut out);
    out
}

fn check_aof_valid(manifest: &Path) {
    check_tool("redis-check-aof");
    let out = Command::new("redis-check-aof")
        .arg(manifest)
        .output()
        .expect("run redis-check-aof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-check-aof failed:\n{text}");
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
}

#[test]
fn a_resp_base_loads_into_redis() {
    let tmp = TempDir::new("aofdir-resp");
    let mut spec = AofDirSpec::new(tmp.path().join("appendonlydir"));
    spec.base_is_rdb = false;
    let manifest = write_aof_dir(&spec, |w| {
        w.write_all(&resp(&[b"SET", b"a", b"1"]))
            .and_then(|()| w.write_all(&resp(&[b"RPUSH", b"l", b"x", b"y"])))
            .map_err(|e| Error::Other(e.to_string()))
    })
    .expect("write the directory");
    check_aof_valid(&manifest);
    let written = std::fs::read(&manifest).unwrap();

    let mut server = RedisServer::start_with_aof_dir(&spec.dir, &[]);
    assert_eq!(server.ok(&["GET", "a"]).bulk(), b"1");
    assert_eq!(server.ok(&["LLEN", "l"]).int(), 2);
    // The server appends to our incr file and keeps our manifest.
    server.ok(&["SET", "b", "2"]);
    let dir = server.dir.join("appendonlydir");
    assert_eq!(
        std::fs::read(dir.join("appendonly.aof.manifest")).unwrap(),
        written
    );
    let incr = std::fs::read(dir.join("appendonly.aof.1.incr.aof")).unwrap();
    assert!(
        incr.windows(b"$1\r\nb\r\n".len())
            .any(|w| w == b"$1\r\nb\r\n"),
        "{}",
        String::from_utf8_lossy(&incr)
    );
}

#[test]
fn an_rdb_base_with_a_custom_filename_loads_into_redis() {
    let tmp = TempDir::new("aofdir-rdb");
    let sample = sample_file("all-types.rdb");
    let mut spec = AofDirSpec::new(tmp.path().join("appendonlydir"));
    spec.filename = "custom.aof".into();
    let manifest = write_aof_dir(&spec, |w| {
        let bytes = std::fs::read(&sample).map_err(|e| Error::io(&sample, e))?;
        w.write_all(&bytes).map_err(|e| Error::Other(e.to_string()))
    })
    .expect("write the directory");
    assert_eq!(
        manifest,
        spec.dir.join("custom.aof.manifest"),
        "manifest path"
    );
    assert!(spec.dir.join("custom.aof.1.base.rdb").is_file());
    check_aof_valid(&manifest);

    let mut from_aof =
        RedisServer::start_with_aof_dir(&spec.dir, &[("appendfilename", "custom.aof")]);
    let mut from_rdb = RedisServer::start_with_rdb(&sample, &[]);
    let n = from_rdb.ok(&["DBSIZE"]).int();
    assert!(n > 10, "{n}");
    assert_eq!(from_aof.ok(&["DBSIZE"]).int(), n);
    assert_eq!(
        from_aof.ok(&["DEBUG", "DIGEST"]).bulk(),
        from_rdb.ok(&["DEBUG", "DIGEST"]).bulk()
    );
}

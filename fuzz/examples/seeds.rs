//! Build seed corpora for every fuzz target from real RDB files.
//!
//! `cargo run --example seeds -- OUT_DIR FILE.rdb...` writes `OUT_DIR/<target>/` for each target:
//! the RDB files themselves (`rdb`), every blob found in them by the kind of blob (`listpack`,
//! `ziplist`, `intset`, `zipmap`), each type-0 value as stored (`length_string`), and blobs
//! compressed with this crate's LZF behind their 2-byte length (`lzf`), and file prefixes
//! behind a zero starting value and a split point (`crc64`). Nothing is written into
//! the repository: point OUT_DIR at a temporary directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use redkit_formats::lzf;
use redkit_formats::rdb::consts::*;
use redkit_formats::rdb::read::{
    decode_value, parse_header, Ctx, Item, Parser, Sink, Walker, HEADER_LEN,
};

struct Collect {
    blobs: Vec<(u8, Vec<u8>)>,
}

impl Sink for Collect {
    fn blob(&mut self, t: u8, bytes: &[u8]) {
        self.blobs.push((t, bytes.to_vec()));
    }
}

fn target_of(t: u8) -> &'static str {
    match t {
        TYPE_HASH_ZIPMAP => "zipmap",
        TYPE_SET_INTSET => "intset",
        TYPE_LIST_ZIPLIST | TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST | TYPE_LIST_QUICKLIST => {
            "ziplist"
        }
        _ => "listpack",
    }
}

struct Out {
    root: PathBuf,
    seen: HashSet<Vec<u8>>,
    n: usize,
}

impl Out {
    fn put(&mut self, target: &str, data: &[u8]) {
        let mut key = target.as_bytes().to_vec();
        key.extend_from_slice(data);
        if !self.seen.insert(key) {
            return;
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create output dir");
        self.n += 1;
        std::fs::write(dir.join(format!("seed-{:05}", self.n)), data).expect("write seed");
    }
}

fn scan(path: &Path, out: &mut Out) {
    let data = std::fs::read(path).expect("read RDB file");
    out.put("rdb", &data);
    // crc64: a zero starting value, a split point, then the start of the file.
    let mut seed = vec![0u8; 8];
    seed.extend_from_slice(&(data.len() as u16 / 2).to_le_bytes());
    seed.extend_from_slice(&data[..data.len().min(8192)]);
    out.put("crc64", &seed);
    let Ok(header) = parse_header(&data) else {
        return;
    };
    let ctx = Ctx::new(header, false);
    let mut parser = Parser::new(header);
    let mut walker = Walker::default();
    let mut pos = HEADER_LEN;
    while let Ok(f) = parser.next(&data, pos, 0) {
        pos = f.end;
        match f.item {
            Item::Eof => break,
            Item::Key(rec) => {
                if rec.rdb_type == TYPE_STRING {
                    out.put("length_string", rec.value);
                }
                let mut sink = Collect { blobs: Vec::new() };
                let _ = decode_value(&ctx, &mut walker, &rec, &mut sink);
                for (t, b) in sink.blobs {
                    out.put(target_of(t), &b);
                    if let (Some(c), Ok(n)) = (lzf::compress(&b), u16::try_from(b.len())) {
                        let mut seed = n.to_le_bytes().to_vec();
                        seed.extend_from_slice(&c);
                        out.put("lzf", &seed);
                    }
                }
            }
            _ => {}
        }
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: seeds OUT_DIR FILE.rdb...");
        std::process::exit(2);
    };
    let mut out = Out {
        root: PathBuf::from(root),
        seen: HashSet::new(),
        n: 0,
    };
    for f in args {
        scan(Path::new(&f), &mut out);
    }
    println!("{} seeds written under {}", out.n, out.root.display());
}

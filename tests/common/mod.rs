//! Test harness shared by the integration tests (`mod common;`).
//!
//! - Paths: [`corpus_dir`] / [`corpus_file`] (the third-party corpus), [`samples_dir`] /
//!   [`sample_file`] (the committed samples), [`TempDir`] (removed on drop).
//! - Running the CLI: [`run_redkit`] (must exit 0) and [`redkit_run`] (any input: exit 0 or 1,
//!   never a panic or a signal).
//! - [`RedisServer`]: a private redis-server on 127.0.0.1, a free port and its own temp dir, killed
//!   (and the dir removed) when dropped.
//! - [`Client`]: a minimal synchronous RESP2 client with pipelining.
//! - [`Json`]: a small strict JSON parser that keeps numbers as their source text (so scores are
//!   parsed with Rust's correctly rounded `f64` parser) and objects in source order; redkit byte
//!   strings, hashes, scores and raw members ([`json_bytes`], [`json_pairs`], [`json_score`],
//!   [`json_raw`]).
//! - [`compare_with_server`]: checks `redkit json --meta` records against what a server holds.
//! - [`Rng`]: a deterministic PRNG (splitmix64) for fixed seeds.
//!
//! Missing tools or corpus make tests panic with a clear message: nothing here skips silently.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt::{self, Write as _};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Build one command (a `Vec` of byte-string arguments) from anything that is `AsRef<[u8]>`:
/// `cmdv!["SET", key, format!("{n}")]`.
#[macro_export]
macro_rules! cmdv {
    ($($a:expr),* $(,)?) => {
        vec![$( AsRef::<[u8]>::as_ref(&$a).to_vec() ),*]
    };
}

pub type Cmd = Vec<Vec<u8>>;

// ---------------------------------------------------------------------------------------------
// Paths and binaries
// ---------------------------------------------------------------------------------------------

/// `../shared/corpus` relative to the crate root; panics when it (or its README.md) is missing.
pub fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !dir.join("README.md").is_file() {
        panic!(
            "the third-party corpus is MISSING: expected {} with its README.md (../shared/corpus \
             beside the workspace); these tests need it",
            dir.display()
        );
    }
    dir
}

/// A file of the corpus, by its path relative to the corpus root; panics when it is missing.
pub fn corpus_file(rel: &str) -> PathBuf {
    let p = corpus_dir().join(rel);
    assert!(p.is_file(), "corpus file missing: {}", p.display());
    p
}

/// The crate's `samples/` directory.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A committed sample (`samples/NAME`); panics when it is missing.
pub fn sample_file(name: &str) -> PathBuf {
    let p = samples_dir().join(name);
    assert!(
        p.is_file(),
        "committed sample missing: {} (see samples/README.md)",
        p.display()
    );
    p
}

/// A `Command` for the `redkit` binary built for this test run.
pub fn redkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redkit"))
}

/// The outcome of one [`redkit_run`].
pub struct RedkitRun {
    /// The command line, for messages.
    pub shown: String,
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl RedkitRun {
    /// stdout and stderr together, for message checks that should not depend on the stream.
    pub fn all_text(&self) -> String {
        format!("{}\n{}", String::from_utf8_lossy(&self.stdout), self.stderr)
    }
}

/// Runs `redkit ARGS` (stdin from /dev/null). Whatever the input, it must never panic, be killed,
/// or exit with anything but 0 or 1.
pub fn redkit_run<I, S>(args: I) -> RedkitRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let shown = format!(
        "redkit {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = redkit()
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "`{shown}` panicked:\n{stderr}"
    );
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "`{shown}` was killed by a signal ({:?}):\n{stderr}",
            out.status
        )
    });
    assert!(
        code == 0 || code == 1,
        "`{shown}` exited with {code} (only 0 or 1 allowed):\n{stderr}"
    );
    RedkitRun {
        shown,
        code,
        stdout: out.stdout,
        stderr,
    }
}

/// Run `redkit` with `args`; panics unless it exits 0. Returns stdout.
pub fn run_redkit(args: &[&OsStr]) -> Vec<u8> {
    let out = redkit()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the redkit binary");
    if !out.status.success() {
        panic!(
            "redkit {:?} failed with {}\nstderr:\n{}",
            args,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// `redkit json --meta [extra...] FILE`, parsed: one [`Json`] per line.
pub fn redkit_json_meta(file: &Path, extra: &[&str]) -> Vec<Json> {
    let mut args: Vec<&OsStr> = vec!["json".as_ref(), "--meta".as_ref()];
    args.extend(extra.iter().map(|s| OsStr::new(*s)));
    args.push(file.as_os_str());
    let out = run_redkit(&args);
    parse_json_lines(&out)
        .unwrap_or_else(|e| panic!("redkit json output on {}: {e}", file.display()))
}

/// Parse JSON Lines (empty lines are an error, a final newline is required).
pub fn parse_json_lines(out: &[u8]) -> Result<Vec<Json>, String> {
    let text = std::str::from_utf8(out).map_err(|e| format!("output is not UTF-8: {e}"))?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if !text.ends_with('\n') {
        return Err("output does not end with a newline".into());
    }
    text[..text.len() - 1]
        .split('\n')
        .enumerate()
        .map(|(i, line)| Json::parse(line).map_err(|e| format!("line {}: {e}: {line:.200}", i + 1)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// redis-server
// ---------------------------------------------------------------------------------------------

const INSTALL_HINT: &str = "install redis-server (apt-get install redis-server redis-tools)";

/// Panics unless `redis-server --version` says 7.0.x. Returns the version ("7.0.15").
pub fn check_redis_version() -> String {
    let out = match Command::new("redis-server").arg("--version").output() {
        Ok(o) => o,
        Err(e) => panic!("redis-server not found ({e}): {INSTALL_HINT}"),
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ver = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .unwrap_or_else(|| {
            panic!("cannot read the version of redis-server from {text:?}; {INSTALL_HINT}")
        })
        .to_string();
    if !ver.starts_with("7.0.") {
        panic!(
            "the tests need redis-server 7.0.x as their oracle, but the installed one is {ver} \
             ({INSTALL_HINT}, from a Debian release that ships 7.0)"
        );
    }
    ver
}

/// Panics unless `tool` (redis-check-rdb, redis-cli) can be run.
pub fn check_tool(tool: &str) {
    if Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        panic!("{tool} not found: {INSTALL_HINT}");
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A fresh empty directory under the system temp dir.
pub fn make_temp_dir(tag: &str) -> PathBuf {
    let base = std::env::temp_dir();
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("redkit-{tag}-{}-{n}-{nanos}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create temp dir {}: {e}", dir.display()),
        }
    }
}

/// A temporary directory (see [`make_temp_dir`]), removed with its contents on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(make_temp_dir(tag))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write `bytes` to a file in this dir and return its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; the server start retries on a race).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    l.local_addr().unwrap().port()
}

/// A private redis-server 7.0. Killed and its dir removed on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    client: Client,
}

impl RedisServer {
    /// Start an empty server. `extra_config` pairs are passed as `--name value`.
    pub fn start(extra_config: &[(&str, &str)]) -> RedisServer {
        Self::start_inner(None, None, extra_config)
    }

    /// Start a server with appendonly on, loading a copy of the appendonlydir `aof_dir`.
    pub fn start_with_aof_dir(aof_dir: &Path, extra_config: &[(&str, &str)]) -> RedisServer {
        let mut cfg = vec![("appendonly", "yes")];
        cfg.extend_from_slice(extra_config);
        Self::start_inner(None, Some(aof_dir), &cfg)
    }

    /// Start a server that loads `rdb` (copied into its dir as dump.rdb before it starts).
    pub fn start_with_rdb(rdb: &Path, extra_config: &[(&str, &str)]) -> RedisServer {
        Self::start_inner(Some(rdb), None, extra_config)
    }

    fn start_inner(
        rdb: Option<&Path>,
        aof_dir: Option<&Path>,
        extra_config: &[(&str, &str)],
    ) -> RedisServer {
        check_redis_version();
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let dir = make_temp_dir("redis");
            if let Some(rdb) = rdb {
                std::fs::copy(rdb, dir.join("dump.rdb")).unwrap_or_else(|e| {
                    panic!("cannot copy {} into {}: {e}", rdb.display(), dir.display())
                });
            }
            if let Some(src) = aof_dir {
                let dst = dir.join("appendonlydir");
                std::fs::create_dir_all(&dst).expect("create appendonlydir");
                for e in std::fs::read_dir(src).expect("read appendonlydir") {
                    let p = e.expect("dir entry").path();
                    std::fs::copy(&p, dst.join(p.file_name().unwrap())).expect("copy AOF file");
                }
            }
            let port = free_port();
            let mut cmd = Command::new("redis-server");
            cmd.arg("--port")
                .arg(port.to_string())
                .args(["--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(&dir)
                .args(["--dbfilename", "dump.rdb"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .args(["--enable-debug-command", "yes"])
                .args(["--daemonize", "no"])
                .arg("--logfile")
                .arg(dir.join("redis.log"));
            for (k, v) in extra_config {
                cmd.arg(format!("--{k}")).arg(v);
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!("cannot start redis-server ({e}): {INSTALL_HINT}");
                }
            };
            match wait_ready(&mut child, port) {
                Ok(client) => {
                    return RedisServer {
                        child,
                        port,
                        dir,
                        client,
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                    last_err = format!("{e}\nredis.log:\n{log}");
                    let _ = std::fs::remove_dir_all(&dir);
                    if log.contains("Address already in use") {
                        continue;
                    }
                    break;
                }
            }
        }
        panic!("redis-server did not start: {last_err}");
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// A second connection to this server.
    pub fn connect(&self) -> Client {
        Client::connect(self.port).expect("cannot connect to redis-server")
    }

    pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.client.cmd(args)
    }

    /// Run a command given as strings; panics on an error reply.
    pub fn ok(&mut self, args: &[&str]) -> Reply {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let r = self.client.cmd(&a);
        if let Reply::Error(e) = &r {
            panic!("{:?} failed: {}", args, String::from_utf8_lossy(e));
        }
        r
    }

    pub fn pipeline(&mut self, cmds: &[Cmd]) -> Vec<Reply> {
        self.client.pipeline(cmds)
    }

    /// Pipeline `cmds`, panicking on the first error reply (naming the command).
    pub fn pipeline_ok(&mut self, cmds: &[Cmd]) -> Vec<Reply> {
        self.client.pipeline_ok(cmds)
    }

    /// SAVE and return the dump's path.
    pub fn save(&mut self) -> PathBuf {
        match self.client.cmd(&[b"SAVE"]) {
            Reply::Simple(s) if s == b"OK" => {}
            other => panic!("SAVE failed: {other:?}"),
        }
        let p = self.dir.join("dump.rdb");
        assert!(
            p.is_file(),
            "SAVE said OK but {} does not exist",
            p.display()
        );
        p
    }

    pub fn dump_path(&self) -> PathBuf {
        self.dir.join("dump.rdb")
    }

    /// The server's clock in unix ms (TIME).
    pub fn now_ms(&mut self) -> i64 {
        let r = self.client.cmd(&[b"TIME"]);
        let a = r.array();
        let s: i64 = a[0].text().parse().unwrap();
        let us: i64 = a[1].text().parse().unwrap();
        s * 1000 + us / 1000
    }

    /// `redis_version` from INFO server.
    pub fn version(&mut self) -> String {
        let info = self.client.cmd(&[b"INFO", b"server"]);
        let info = String::from_utf8_lossy(info.bulk()).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .expect("INFO has no redis_version")
            .trim()
            .to_string()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_ready(child: &mut Child, port: u16) -> Result<Client, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!("redis-server exited with {status}: {err}"));
        }
        if let Ok(mut c) = Client::connect(port) {
            loop {
                match c.try_cmd(&[b"PING"]) {
                    Ok(Reply::Simple(s)) if s == b"PONG" => return Ok(c),
                    Ok(Reply::Error(e)) if e.starts_with(b"LOADING") => {}
                    Ok(other) => return Err(format!("PING answered {other:?}")),
                    Err(_) => break,
                }
                if Instant::now() > deadline {
                    return Err("redis-server still loading after 60 s".into());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "redis-server did not answer on port {port} within 60 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// RESP2 client
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The bytes of a bulk or simple string; panics otherwise.
    pub fn bulk(&self) -> &[u8] {
        match self {
            Reply::Bulk(Some(b)) | Reply::Simple(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    /// A bulk/simple string as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bulk()).into_owned()
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    pub fn array(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(a)) => a,
            other => panic!("expected an array, got {other:?}"),
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Bulk(None) | Reply::Array(None))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// A RESP2 "map" (flat array of name/value pairs) as a lookup table.
    pub fn map(&self) -> HashMap<String, &Reply> {
        let a = self.array();
        assert!(a.len().is_multiple_of(2), "odd-length map reply: {self:?}");
        a.chunks(2).map(|p| (p[0].text(), &p[1])).collect()
    }

    /// An array of bulk strings.
    pub fn bulks(&self) -> Vec<Vec<u8>> {
        self.array().iter().map(|r| r.bulk().to_vec()).collect()
    }
}

pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let writer = s.try_clone()?;
        Ok(Client {
            reader: BufReader::with_capacity(1 << 16, s),
            writer,
        })
    }

    pub fn try_cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut buf = Vec::new();
        redkit_formats::resp::encode_command(args, &mut buf);
        self.writer.write_all(&buf)?;
        self.read_reply()
    }

    /// Send one command and read its reply. Panics on I/O errors (error replies are returned).
    pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.try_cmd(args).unwrap_or_else(|e| {
            panic!(
                "I/O error talking to redis-server for {:?}: {e}",
                show_cmd_refs(args)
            )
        })
    }

    /// Write all `cmds`, then read all replies (in chunks, so neither side's buffers grow
    /// without bound).
    pub fn pipeline(&mut self, cmds: &[Cmd]) -> Vec<Reply> {
        let mut replies = Vec::with_capacity(cmds.len());
        for chunk in cmds.chunks(512) {
            let mut buf = Vec::new();
            for c in chunk {
                let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
                redkit_formats::resp::encode_command(&refs, &mut buf);
            }
            self.writer.write_all(&buf).expect("write to redis-server");
            for _ in chunk {
                replies.push(self.read_reply().expect("read from redis-server"));
            }
        }
        replies
    }

    pub fn pipeline_ok(&mut self, cmds: &[Cmd]) -> Vec<Reply> {
        let replies = self.pipeline(cmds);
        for (c, r) in cmds.iter().zip(&replies) {
            if let Reply::Error(e) = r {
                panic!("{} failed: {}", show_cmd(c), String::from_utf8_lossy(e));
            }
        }
        replies
    }

    fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_reply(&mut self) -> std::io::Result<Reply> {
        let line = self.read_line()?;
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad RESP");
        let (&t, rest) = line.split_first().ok_or_else(bad)?;
        let num = || -> std::io::Result<i64> {
            std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)
        };
        Ok(match t {
            b'+' => Reply::Simple(rest.to_vec()),
            b'-' => Reply::Error(rest.to_vec()),
            b':' => Reply::Int(num()?),
            b'$' => {
                let n = num()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut b)?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            b'*' => {
                let n = num()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut v = Vec::with_capacity(n.min(1 << 16) as usize);
                    for _ in 0..n {
                        v.push(self.read_reply()?);
                    }
                    Reply::Array(Some(v))
                }
            }
            _ => return Err(bad()),
        })
    }
}

fn show_cmd_refs(args: &[&[u8]]) -> String {
    let v: Vec<String> = args.iter().take(6).map(|a| show_bytes(a)).collect();
    let more = if args.len() > 6 { " ..." } else { "" };
    format!("[{}{more}]", v.join(" "))
}

fn show_cmd(c: &Cmd) -> String {
    let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
    show_cmd_refs(&refs)
}

/// Bytes for a message: printable ASCII as is, the rest escaped, long values cut.
pub fn show_bytes(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(120) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    if b.len() > 120 {
        let _ = write!(s, "...({} bytes)", b.len());
    }
    s
}

// ---------------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------------

/// splitmix64: tiny, deterministic, good enough for test data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// A generator whose state is `state` as is (`new` mixes the seed first).
    pub fn from_state(state: u64) -> Rng {
        Rng(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// Random letters and digits.
    pub fn alnum(&mut self, len: usize) -> Vec<u8> {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| A[self.below(A.len() as u64) as usize])
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// A parsed JSON value. Numbers keep their text; objects keep their order (and duplicates).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parse one complete JSON text (RFC 8259, strict).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing characters at byte {}", p.i));
        }
        Ok(v)
    }

    pub fn get(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The member `k`; panics when there is none.
    pub fn at(&self, k: &str) -> &Json {
        self.get(k)
            .unwrap_or_else(|| panic!("JSON object lacks {k:?}: {}", short(self)))
    }

    fn expected(&self, what: &str) -> ! {
        panic!("expected {what}, got {}", short(self))
    }

    /// The string; panics on anything else.
    pub fn str(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| self.expected("a JSON string"))
    }

    /// The array; panics on anything else.
    pub fn arr(&self) -> &[Json] {
        self.as_arr()
            .unwrap_or_else(|| self.expected("a JSON array"))
    }

    /// The object's members; panics on anything else.
    pub fn obj(&self) -> &[(String, Json)] {
        self.as_obj()
            .unwrap_or_else(|| self.expected("a JSON object"))
    }

    /// An integer; panics on anything else.
    pub fn i64(&self) -> i64 {
        match self {
            Json::Num(n) => n
                .parse()
                .unwrap_or_else(|_| panic!("expected an integer, got {n}")),
            _ => self.expected("a JSON number"),
        }
    }

    /// A number; panics on anything else.
    pub fn f64(&self) -> f64 {
        match self {
            Json::Num(n) => n
                .parse()
                .unwrap_or_else(|_| panic!("expected a number, got {n}")),
            _ => self.expected("a JSON number"),
        }
    }

    /// `None` for a missing or null member, else its integer value.
    pub fn opt_i64(&self, k: &str) -> Option<i64> {
        self.get(k).filter(|v| !v.is_null()).map(Json::i64)
    }

    /// `None` for a missing or null member, else its string value.
    pub fn opt_str(&self, k: &str) -> Option<String> {
        self.get(k)
            .filter(|v| !v.is_null())
            .map(|v| v.str().to_string())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn as_arr(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_obj(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// Compact one-line rendering, for messages.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s);
        s
    }

    fn render_into(&self, s: &mut String) {
        match self {
            Json::Null => s.push_str("null"),
            Json::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => s.push_str(n),
            Json::Str(t) => {
                let _ = write!(s, "{t:?}");
            }
            Json::Arr(a) => {
                s.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    v.render_into(s);
                }
                s.push(']');
            }
            Json::Obj(o) => {
                s.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{k:?}:");
                    v.render_into(s);
                }
                s.push('}');
            }
        }
    }
}

impl fmt::Display for Json {
    /// The same text as [`Json::render`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("bad literal")
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 200 {
            return self.err("nesting too deep");
        }
        match self.peek() {
            None => self.err("unexpected end"),
            Some(b'n') => self.lit("null", Json::Null),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(v));
                }
                loop {
                    self.ws();
                    v.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(v));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(v));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return self.err("expected a member name");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return self.err("expected :");
                    }
                    self.i += 1;
                    self.ws();
                    v.push((k, self.value(depth + 1)?));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(v));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let st = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i - st
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else if digits(self) == 0 {
            return self.err("bad number");
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return self.err("bad fraction");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return self.err("bad exponent");
            }
        }
        Ok(Json::Num(
            String::from_utf8(self.s[start..self.i].to_vec()).unwrap(),
        ))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        if self.i + 4 > self.s.len() {
            return self.err("short \\u escape");
        }
        let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).map_err(|e| e.to_string())?;
        let v =
            u32::from_str_radix(h, 16).map_err(|_| format!("bad \\u escape at byte {}", self.i))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return self.err("unterminated escape");
                    };
                    self.i += 1;
                    let ch: char = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let u = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&u) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return self.err("lone high surrogate");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return self.err("bad low surrogate");
                                }
                                0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)
                            } else if (0xdc00..0xe000).contains(&u) {
                                return self.err("lone low surrogate");
                            } else {
                                u
                            };
                            char::from_u32(cp).unwrap()
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                0..=0x1f => return self.err("control character in string"),
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|e| format!("string is not UTF-8: {e}"))
    }
}

/// Strict standard base64 (with padding) decoder.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", b.len()));
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (ci, chunk) in b.chunks(4).enumerate() {
        let last = ci == b.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err("misplaced base64 padding".into());
        }
        let mut n: u32 = 0;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c).ok_or_else(|| format!("bad base64 character {:?}", c as char))?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Non-canonical encodings (stray bits in the last character) are an error.
        let keep = 3 - pad;
        if pad > 0 && bytes[keep..].iter().any(|&x| x != 0) {
            return Err("non-zero bits in base64 padding".into());
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

/// A redkit byte string: a JSON string (valid UTF-8) or `{"base64": ...}` (only for bytes that
/// are not valid UTF-8).
pub fn json_bytes(j: &Json) -> Result<Vec<u8>, String> {
    match j {
        Json::Str(s) => Ok(s.as_bytes().to_vec()),
        Json::Obj(o) if o.len() == 1 && o[0].0 == "base64" => {
            let b = json_raw(j)?;
            if std::str::from_utf8(&b).is_ok() {
                return Err(format!(
                    "{} holds valid UTF-8: it should be a plain JSON string",
                    short(j)
                ));
            }
            Ok(b)
        }
        other => Err(format!("not a byte string: {}", short(other))),
    }
}

/// A `raw` member: `{"base64": ...}` whatever the bytes.
pub fn json_raw(j: &Json) -> Result<Vec<u8>, String> {
    match j {
        Json::Obj(o) if o.len() == 1 && o[0].0 == "base64" => {
            base64_decode(o[0].1.as_str().ok_or("base64 value is not a string")?)
        }
        other => Err(format!(
            "a raw member must be {{\"base64\": ...}}: {}",
            short(other)
        )),
    }
}

fn short(j: &Json) -> String {
    let mut s = j.render();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Field/value pairs, in order.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The members of a hash-like JSON value (a hash, a field-expiry map), in order, values left as
/// JSON: an object `{field: value}` or an array of `[field, value]` pairs (fields as byte
/// strings).
pub fn json_pair_refs(j: &Json) -> Result<Vec<(Vec<u8>, &Json)>, String> {
    match j {
        Json::Obj(o) => Ok(o.iter().map(|(k, v)| (k.as_bytes().to_vec(), v)).collect()),
        Json::Arr(a) => a
            .iter()
            .map(|p| match p.as_arr() {
                Some([f, v]) => Ok((json_bytes(f)?, v)),
                _ => Err(format!("not a [field, value] pair: {}", short(p))),
            })
            .collect(),
        other => Err(format!("not a hash value: {}", short(other))),
    }
}

/// A hash-like JSON value: an object `{field: value}` (all fields UTF-8) or an array of
/// `[field, value]` pairs (only when a field is not UTF-8). Returns the pairs in order.
pub fn json_pairs(j: &Json) -> Result<Pairs, String> {
    let pairs: Pairs = json_pair_refs(j)?
        .into_iter()
        .map(|(f, v)| Ok((f, json_bytes(v)?)))
        .collect::<Result<_, String>>()?;
    if matches!(j, Json::Arr(_)) && pairs.iter().all(|(f, _)| std::str::from_utf8(f).is_ok()) {
        return Err("array-of-pairs form used although every field is UTF-8".into());
    }
    Ok(pairs)
}

/// A score as redkit writes it: a number, or "inf" / "-inf" / "nan".
pub fn json_score(j: &Json) -> Result<f64, String> {
    match j {
        Json::Num(n) => n.parse::<f64>().map_err(|e| format!("score {n}: {e}")),
        Json::Str(s) if s == "inf" => Ok(f64::INFINITY),
        Json::Str(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        Json::Str(s) if s == "nan" => Ok(f64::NAN),
        other => Err(format!("bad score {}", short(other))),
    }
}

/// A score as Redis replies it ("inf", "-inf", "%.17g").
pub fn redis_score(b: &[u8]) -> f64 {
    let s = std::str::from_utf8(b).expect("score is not UTF-8");
    s.parse::<f64>()
        .unwrap_or_else(|e| panic!("Redis score {s:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Comparing `redkit json --meta` with a live server
// ---------------------------------------------------------------------------------------------

/// Encodings seen while comparing, to let tests assert their data covered what they meant to.
#[derive(Default, Debug)]
pub struct Coverage {
    /// (type, encoding) -> number of keys
    pub encodings: BTreeMap<(String, String), usize>,
    pub keys: usize,
    pub expired_keys: usize,
    pub functions: usize,
    pub streams_with_groups: usize,
    pub pel_entries: usize,
    pub with_expiry: usize,
    pub lfu_keys: usize,
    pub lru_keys: usize,
    pub max_lru_idle_s: i64,
    pub base64_keys: usize,
    pub dbs: BTreeMap<u64, usize>,
}

impl Coverage {
    pub fn has(&self, ty: &str, enc: &str) -> bool {
        self.encodings
            .contains_key(&(ty.to_string(), enc.to_string()))
    }

    /// Panics (naming `what`) unless a key of every type and RDB encoding that Redis 7.0 writes
    /// was seen.
    pub fn assert_every_encoding(&self, what: &str) {
        for (ty, enc) in [
            ("string", "int"),
            ("string", "string"),
            ("string", "lzf"),
            ("list", "quicklist2"),
            ("set", "intset"),
            ("set", "hashtable"),
            ("zset", "listpack"),
            ("zset", "zset2"),
            ("hash", "listpack"),
            ("hash", "hashtable"),
            ("stream", "stream_listpacks2"),
        ] {
            assert!(
                self.has(ty, enc),
                "{what}: no {ty} key with encoding {enc}: {:?}",
                self.encodings
            );
        }
    }
}

/// What RDB encoding name a key with this server-side `OBJECT ENCODING` must have in a file saved
/// by Redis 7.0 (strings are checked separately, from their bytes).
fn expected_rdb_encoding(ty: &str, server_enc: &str) -> Option<&'static str> {
    Some(match (ty, server_enc) {
        ("list", "quicklist") => "quicklist2",
        ("set", "intset") => "intset",
        ("set", "hashtable") => "hashtable",
        ("zset", "listpack") => "listpack",
        ("zset", "skiplist") => "zset2",
        ("hash", "listpack") => "listpack",
        ("hash", "hashtable") => "hashtable",
        ("stream", "stream") => "stream_listpacks2",
        _ => return None,
    })
}

/// Is `b` the canonical decimal form of an integer that fits in 32 bits (what Redis 7.0 stores
/// as an int-encoded RDB string)?
pub fn is_int32_string(b: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(b) else {
        return false;
    };
    match s.parse::<i64>() {
        Ok(v) => v.to_string() == s && i32::try_from(v).is_ok(),
        Err(_) => false,
    }
}

/// A string that LZF certainly shrinks by more than 4 bytes: at least 32 bytes with a period of
/// at most 4.
pub fn is_surely_compressible(b: &[u8]) -> bool {
    b.len() >= 32 && (1..=4).any(|p| b.iter().skip(p).zip(b).all(|(x, y)| x == y))
}

struct Rec<'a> {
    line: usize,
    db: u64,
    key: Vec<u8>,
    ty: String,
    enc: String,
    expire: Option<i64>,
    j: &'a Json,
}

/// Compare `redkit json --meta` records with the keyspace, functions and version of `server`.
/// Returns every mismatch found (empty = all equal) and what the records covered.
///
/// Keys whose expiry is before the server's clock are expected to be absent from the server
/// (a master drops them on load); everything else must match exactly: type, encoding (mapped
/// from OBJECT ENCODING), value, PEXPIRETIME, per-db key counts, function library code, and the
/// redis-ver aux field.
pub fn compare_with_server(server: &mut RedisServer, records: &[Json]) -> (Vec<String>, Coverage) {
    let mut errs: Vec<String> = Vec::new();
    let mut cov = Coverage::default();
    let now = server.now_ms();
    let mut recs: Vec<Rec> = Vec::new();
    let mut function_codes: Vec<String> = Vec::new();
    let mut aux: Vec<(String, String)> = Vec::new();
    let mut seen_keys: HashMap<(u64, Vec<u8>), usize> = HashMap::new();

    for (i, j) in records.iter().enumerate() {
        let line = i + 1;
        let ty = j.get("type").and_then(Json::as_str).unwrap_or("");
        if j.get("key").is_none() {
            match ty {
                "aux" => {
                    let name = j.get("name").and_then(Json::as_str);
                    let value = j.get("value").map(json_bytes);
                    match (name, value) {
                        (Some(n), Some(Ok(v))) => {
                            aux.push((n.to_string(), String::from_utf8_lossy(&v).into()))
                        }
                        _ => errs.push(format!("line {line}: malformed aux record {}", short(j))),
                    }
                }
                "function" => match j.get("code").and_then(Json::as_str) {
                    Some(c) => function_codes.push(c.to_string()),
                    None => errs.push(format!(
                        "line {line}: function record without code {}",
                        short(j)
                    )),
                },
                _ => errs.push(format!(
                    "line {line}: unexpected non-key record {}",
                    short(j)
                )),
            }
            continue;
        }
        let key = match json_bytes(j.get("key").unwrap()) {
            Ok(k) => k,
            Err(e) => {
                errs.push(format!("line {line}: bad key: {e}"));
                continue;
            }
        };
        if matches!(j.get("key"), Some(Json::Obj(_))) {
            cov.base64_keys += 1;
        }
        let Some(db) = j.get("db").and_then(Json::as_u64) else {
            errs.push(format!(
                "line {line}: key {} has no numeric db",
                show_bytes(&key)
            ));
            continue;
        };
        let enc = j
            .get("encoding")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let expire = match j.get("expire_at_ms") {
            Some(Json::Null) => None,
            Some(v) => match v.as_i64() {
                Some(ms) => Some(ms),
                None => {
                    errs.push(format!("line {line}: bad expire_at_ms {}", short(v)));
                    None
                }
            },
            None => {
                errs.push(format!(
                    "line {line}: key {} has no expire_at_ms",
                    show_bytes(&key)
                ));
                None
            }
        };
        if let Some(prev) = seen_keys.insert((db, key.clone()), line) {
            errs.push(format!(
                "line {line}: db {db} key {} already listed on line {prev}",
                show_bytes(&key)
            ));
        }
        for f in ["db", "key", "type", "encoding", "expire_at_ms", "value"] {
            if j.get(f).is_none() {
                errs.push(format!(
                    "line {line}: key {} lacks field {f:?}",
                    show_bytes(&key)
                ));
            }
        }
        recs.push(Rec {
            line,
            db,
            key,
            ty: ty.to_string(),
            enc,
            expire,
            j,
        });
    }

    // Aux: the version that wrote the file.
    let ver = server.version();
    match aux.iter().find(|(n, _)| n == "redis-ver") {
        Some((_, v)) if *v == ver => {}
        Some((_, v)) => errs.push(format!("aux redis-ver: expected {ver:?}, got {v:?}")),
        None => errs.push("no aux record named redis-ver".into()),
    }

    // Functions: the set of library codes.
    let fl = server.cmd(&[b"FUNCTION", b"LIST", b"WITHCODE"]);
    let mut server_codes: Vec<String> = fl
        .array()
        .iter()
        .map(|lib| {
            let m = lib.map();
            m.get("library_code")
                .expect("FUNCTION LIST without library_code")
                .text()
        })
        .collect();
    server_codes.sort();
    function_codes.sort();
    cov.functions = function_codes.len();
    if server_codes != function_codes {
        errs.push(format!(
            "function libraries: expected codes {server_codes:?}, got {function_codes:?}"
        ));
    }

    // Per-db counts of live keys.
    let mut expected_counts: BTreeMap<u64, i64> = BTreeMap::new();
    for r in &recs {
        *cov.dbs.entry(r.db).or_default() += 1;
        if r.expire.is_some_and(|e| e <= now) {
            continue;
        }
        *expected_counts.entry(r.db).or_default() += 1;
    }
    let ndbs: u64 = server.cmd(&[b"CONFIG", b"GET", b"databases"]).array()[1]
        .text()
        .parse()
        .unwrap();
    for db in 0..ndbs {
        let r = server.pipeline_ok(&[cmdv!["SELECT", db.to_string()], cmdv!["DBSIZE"]]);
        let got = expected_counts.get(&db).copied().unwrap_or(0);
        if r[1].int() != got {
            errs.push(format!(
                "db {db}: DBSIZE is {} but the file lists {got} live keys",
                r[1].int()
            ));
        }
    }
    for db in expected_counts.keys() {
        if *db >= ndbs {
            errs.push(format!("db {db} is out of the server's range"));
        }
    }

    // Keys, in batches per db.
    let mut by_db: BTreeMap<u64, Vec<&Rec>> = BTreeMap::new();
    for r in &recs {
        by_db.entry(r.db).or_default().push(r);
    }
    for (db, list) in by_db {
        if db >= ndbs {
            continue;
        }
        server.pipeline_ok(&[cmdv!["SELECT", db.to_string()]]);
        for batch in list.chunks(64) {
            let mut cmds: Vec<Cmd> = Vec::new();
            let mut spans: Vec<(usize, usize)> = Vec::new();
            for r in batch {
                let start = cmds.len();
                let k = &r.key;
                if r.expire.is_some_and(|e| e <= now) {
                    // Must not be on the server; DEBUG OBJECT does not touch expiry.
                    cmds.push(cmdv!["DEBUG", "OBJECT", k]);
                } else {
                    // Before anything that could touch the key's LRU/LFU data.
                    if r.j.get("lfu_freq").is_some() {
                        cmds.push(cmdv!["OBJECT", "FREQ", k]);
                    }
                    if r.j.get("lru_idle_s").is_some() {
                        cmds.push(cmdv!["OBJECT", "IDLETIME", k]);
                    }
                    cmds.push(cmdv!["TYPE", k]);
                    cmds.push(cmdv!["OBJECT", "ENCODING", k]);
                    cmds.push(cmdv!["PEXPIRETIME", k]);
                    match r.ty.as_str() {
                        "string" => cmds.push(cmdv!["GET", k]),
                        "list" => cmds.push(cmdv!["LRANGE", k, "0", "-1"]),
                        "set" => cmds.push(cmdv!["SMEMBERS", k]),
                        "zset" => cmds.push(cmdv!["ZRANGE", k, "0", "-1", "WITHSCORES"]),
                        "hash" => cmds.push(cmdv!["HGETALL", k]),
                        "stream" => {
                            cmds.push(cmdv!["XRANGE", k, "-", "+"]);
                            cmds.push(cmdv!["XINFO", "STREAM", k, "FULL", "COUNT", "0"]);
                            cmds.push(cmdv!["XINFO", "GROUPS", k]);
                        }
                        _ => {}
                    }
                }
                spans.push((start, cmds.len()));
            }
            let replies = server.pipeline(&cmds);
            for (r, (a, b)) in batch.iter().zip(spans) {
                let mut e = Vec::new();
                check_key(r, &replies[a..b], now, &mut e, &mut cov);
                for m in e {
                    errs.push(format!(
                        "db {} key {} (line {}): {m}",
                        r.db,
                        show_bytes(&r.key),
                        r.line
                    ));
                }
            }
        }
    }
    (errs, cov)
}

fn check_key(r: &Rec, rep: &[Reply], now: i64, errs: &mut Vec<String>, cov: &mut Coverage) {
    cov.keys += 1;
    *cov.encodings
        .entry((r.ty.clone(), r.enc.clone()))
        .or_default() += 1;
    if r.expire.is_some() {
        cov.with_expiry += 1;
    }
    if let Some(e) = r.expire.filter(|&e| e <= now) {
        cov.expired_keys += 1;
        if !rep[0].is_error() {
            errs.push(format!(
                "expire_at_ms {e} is in the past (now {now}), yet the server loaded the key: {:?}",
                rep[0]
            ));
        }
        return;
    }
    let mut rep = rep;
    if let Some(f) = r.j.get("lfu_freq") {
        cov.lfu_keys += 1;
        match &rep[0] {
            Reply::Int(want) if f.as_i64() == Some(*want) => {}
            other => errs.push(format!(
                "lfu_freq: expected {other:?} (OBJECT FREQ), got {}",
                short(f)
            )),
        }
        rep = &rep[1..];
    }
    if let Some(i) = r.j.get("lru_idle_s") {
        cov.lru_keys += 1;
        cov.max_lru_idle_s = cov.max_lru_idle_s.max(i.as_i64().unwrap_or(0));
        // The server's idle time keeps growing after the save: allow a few seconds.
        match (&rep[0], i.as_i64()) {
            (Reply::Int(idle), Some(got)) if got <= *idle && *idle <= got + 10 => {}
            (other, _) => errs.push(format!(
                "lru_idle_s: expected about {other:?} (OBJECT IDLETIME, at most 10 s more), got {}",
                short(i)
            )),
        }
        rep = &rep[1..];
    }
    let server_type = match &rep[0] {
        Reply::Simple(t) => String::from_utf8_lossy(t).into_owned(),
        other => panic!("TYPE answered {other:?}"),
    };
    if server_type != r.ty {
        errs.push(format!("type: expected {server_type:?}, got {:?}", r.ty));
        return;
    }
    let server_enc = rep[1].text();
    // PEXPIRETIME
    let pt = rep[2].int();
    let want = if pt == -1 { None } else { Some(pt) };
    if want != r.expire {
        errs.push(format!(
            "expire_at_ms: expected {want:?} (PEXPIRETIME {pt}), got {:?}",
            r.expire
        ));
    }
    let Some(value) = r.j.get("value") else {
        return;
    };
    let vrep = &rep[3..];
    match r.ty.as_str() {
        "string" => {
            let server_val = vrep[0].bulk();
            match json_bytes(value) {
                Ok(v) if v == server_val => {}
                Ok(v) => errs.push(format!(
                    "value: expected {}, got {}",
                    show_bytes(server_val),
                    show_bytes(&v)
                )),
                Err(e) => errs.push(format!("value: {e}")),
            }
            // Redis 7.0 writes canonical 32-bit integers int-encoded, may LZF-compress values
            // longer than 20 bytes, and writes everything else as a plain string.
            let ok = if is_int32_string(server_val) {
                r.enc == "int"
            } else if server_val.len() <= 20 {
                r.enc == "string"
            } else if is_surely_compressible(server_val) {
                r.enc == "lzf"
            } else {
                r.enc == "string" || r.enc == "lzf"
            };
            if !ok {
                errs.push(format!(
                    "encoding {:?} is impossible for this {}-byte value (OBJECT ENCODING {server_enc})",
                    r.enc,
                    server_val.len()
                ));
            }
            if server_enc == "int" && is_int32_string(server_val) && r.enc != "int" {
                errs.push(format!("encoding: expected \"int\", got {:?}", r.enc));
            }
            return;
        }
        _ => match expected_rdb_encoding(&r.ty, &server_enc) {
            Some(want) if want == r.enc => {}
            Some(want) => errs.push(format!(
                "encoding: expected {want:?} (OBJECT ENCODING {server_enc}), got {:?}",
                r.enc
            )),
            None => errs.push(format!(
                "unexpected OBJECT ENCODING {server_enc} for a {}",
                r.ty
            )),
        },
    }
    match r.ty.as_str() {
        "list" => {
            let server_list = vrep[0].bulks();
            match value
                .as_arr()
                .map(|a| a.iter().map(json_bytes).collect::<Result<Vec<_>, _>>())
            {
                Some(Ok(l)) => {
                    if l != server_list {
                        errs.push(first_list_diff("list", &server_list, &l));
                    }
                }
                Some(Err(e)) => errs.push(format!("value: {e}")),
                None => errs.push(format!("list value is not an array: {}", short(value))),
            }
        }
        "set" => {
            let mut server_set = vrep[0].bulks();
            server_set.sort();
            match value
                .as_arr()
                .map(|a| a.iter().map(json_bytes).collect::<Result<Vec<_>, _>>())
            {
                Some(Ok(mut l)) => {
                    l.sort();
                    if l.windows(2).any(|w| w[0] == w[1]) {
                        errs.push("set value repeats a member".into());
                    }
                    if l != server_set {
                        errs.push(first_list_diff("set (sorted)", &server_set, &l));
                    }
                }
                Some(Err(e)) => errs.push(format!("value: {e}")),
                None => errs.push(format!("set value is not an array: {}", short(value))),
            }
        }
        "zset" => {
            let flat = vrep[0].bulks();
            let server_z: BTreeMap<Vec<u8>, f64> = flat
                .chunks(2)
                .map(|p| (p[0].clone(), redis_score(&p[1])))
                .collect();
            let Some(arr) = value.as_arr() else {
                errs.push(format!("zset value is not an array: {}", short(value)));
                return;
            };
            let mut got: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for p in arr {
                let parsed = match p.as_arr() {
                    Some([m, s]) => json_bytes(m).and_then(|m| Ok((m, json_score(s)?))),
                    _ => Err(format!("not a [member, score] pair: {}", short(p))),
                };
                match parsed {
                    Ok((m, s)) => {
                        if got.insert(m.clone(), s).is_some() {
                            errs.push(format!("zset member {} listed twice", show_bytes(&m)));
                        }
                    }
                    Err(e) => {
                        errs.push(format!("value: {e}"));
                        return;
                    }
                }
            }
            if got.len() != server_z.len() {
                errs.push(format!(
                    "zset: expected {} members, got {}",
                    server_z.len(),
                    got.len()
                ));
            }
            for (m, s) in &server_z {
                match got.get(m) {
                    None => errs.push(format!("zset member {} missing", show_bytes(m))),
                    Some(g) if g.to_bits() != s.to_bits() => errs.push(format!(
                        "zset member {}: expected score {s:?}, got {g:?}",
                        show_bytes(m)
                    )),
                    _ => {}
                }
            }
            for m in got.keys() {
                if !server_z.contains_key(m) {
                    errs.push(format!(
                        "zset member {} is not on the server",
                        show_bytes(m)
                    ));
                }
            }
        }
        "hash" => {
            let flat = vrep[0].bulks();
            let mut server_h: Vec<(Vec<u8>, Vec<u8>)> = flat
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            server_h.sort();
            match json_pairs(value) {
                Ok(mut h) => {
                    h.sort();
                    if h.windows(2).any(|w| w[0].0 == w[1].0) {
                        errs.push("hash value repeats a field".into());
                    }
                    if h != server_h {
                        let s: Vec<Vec<u8>> = server_h
                            .iter()
                            .map(|(f, v)| [f.as_slice(), b" => ", v].concat())
                            .collect();
                        let g: Vec<Vec<u8>> = h
                            .iter()
                            .map(|(f, v)| [f.as_slice(), b" => ", v].concat())
                            .collect();
                        errs.push(first_list_diff("hash (sorted)", &s, &g));
                    }
                }
                Err(e) => errs.push(format!("value: {e}")),
            }
        }
        "stream" => check_stream(r, value, &vrep[0], &vrep[1], &vrep[2], errs, cov),
        other => errs.push(format!("unexpected type {other:?}")),
    }
}

fn first_list_diff(what: &str, want: &[Vec<u8>], got: &[Vec<u8>]) -> String {
    let i = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    format!(
        "{what}: expected {} elements, got {}; first difference at index {i}: expected {}, got {}",
        want.len(),
        got.len(),
        want.get(i).map(|b| show_bytes(b)).unwrap_or("<end>".into()),
        got.get(i).map(|b| show_bytes(b)).unwrap_or("<end>".into()),
    )
}

fn jfield<'a>(j: &'a Json, name: &str, errs: &mut Vec<String>, ctx: &str) -> Option<&'a Json> {
    let v = j.get(name);
    if v.is_none() {
        errs.push(format!("{ctx}: no field {name:?}"));
    }
    v
}

fn expect_str(j: Option<&Json>, want: &str, what: &str, errs: &mut Vec<String>) {
    if let Some(j) = j {
        if j.as_str() != Some(want) {
            errs.push(format!("{what}: expected {want:?}, got {}", short(j)));
        }
    }
}

fn expect_int(j: Option<&Json>, want: i64, what: &str, errs: &mut Vec<String>) {
    if let Some(j) = j {
        if j.as_i64() != Some(want) {
            errs.push(format!("{what}: expected {want}, got {}", short(j)));
        }
    }
}

fn check_stream(
    r: &Rec,
    v: &Json,
    xrange: &Reply,
    full: &Reply,
    groups_rep: &Reply,
    errs: &mut Vec<String>,
    cov: &mut Coverage,
) {
    let full = full.map();
    let ctx = "stream";
    expect_int(
        jfield(v, "length", errs, ctx),
        full["length"].int(),
        "stream length",
        errs,
    );
    expect_str(
        jfield(v, "last_id", errs, ctx),
        &full["last-generated-id"].text(),
        "stream last_id",
        errs,
    );
    expect_str(
        jfield(v, "first_id", errs, ctx),
        &full["recorded-first-entry-id"].text(),
        "stream first_id",
        errs,
    );
    expect_str(
        jfield(v, "max_deleted_id", errs, ctx),
        &full["max-deleted-entry-id"].text(),
        "stream max_deleted_id",
        errs,
    );
    expect_int(
        jfield(v, "entries_added", errs, ctx),
        full["entries-added"].int(),
        "stream entries_added",
        errs,
    );

    // Entries, in order, with their fields in order.
    let server_entries: Vec<(String, Pairs)> = xrange
        .array()
        .iter()
        .map(|e| {
            let a = e.array();
            let f = a[1].bulks();
            (
                a[0].text(),
                f.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
            )
        })
        .collect();
    if let Some(entries) = jfield(v, "entries", errs, ctx) {
        let Some(entries) = entries.as_arr() else {
            errs.push("stream entries is not an array".into());
            return;
        };
        if entries.len() != server_entries.len() {
            errs.push(format!(
                "stream: expected {} entries, got {}",
                server_entries.len(),
                entries.len()
            ));
        }
        for (i, (e, (sid, sf))) in entries.iter().zip(&server_entries).enumerate() {
            let id = e.get("id").and_then(Json::as_str).unwrap_or("<none>");
            if id != sid {
                errs.push(format!("stream entry {i}: expected id {sid}, got {id}"));
                break;
            }
            match e.get("fields").map(json_pairs) {
                Some(Ok(f)) if f == *sf => {}
                Some(Ok(f)) => {
                    let show = |p: &[(Vec<u8>, Vec<u8>)]| {
                        p.iter()
                            .map(|(a, b)| format!("{}={}", show_bytes(a), show_bytes(b)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    };
                    errs.push(format!(
                        "stream entry {sid}: expected fields {}, got {}",
                        show(sf),
                        show(&f)
                    ));
                }
                Some(Err(e)) => errs.push(format!("stream entry {sid} fields: {e}")),
                None => errs.push(format!("stream entry {sid} has no fields")),
            }
        }
    }

    // Groups, PEL, consumers.
    let server_groups = full["groups"].array();
    let xgroups: HashMap<String, HashMap<String, &Reply>> = groups_rep
        .array()
        .iter()
        .map(|g| {
            let m = g.map();
            (m["name"].text(), m)
        })
        .collect();
    let Some(groups) = jfield(v, "groups", errs, ctx).and_then(Json::as_arr) else {
        errs.push("stream groups is missing or not an array".into());
        return;
    };
    if !groups.is_empty() {
        cov.streams_with_groups += 1;
    }
    if groups.len() != server_groups.len() {
        errs.push(format!(
            "stream: expected {} groups, got {}",
            server_groups.len(),
            groups.len()
        ));
    }
    let mut by_name: HashMap<Vec<u8>, &Json> = HashMap::new();
    for g in groups {
        match g.get("name").map(json_bytes) {
            Some(Ok(n)) => {
                if by_name.insert(n.clone(), g).is_some() {
                    errs.push(format!("group {} listed twice", show_bytes(&n)));
                }
            }
            _ => errs.push(format!("group without a valid name: {}", short(g))),
        }
    }
    for sg in server_groups {
        let sg = sg.map();
        let name = sg["name"].bulk().to_vec();
        let gctx = format!("group {}", show_bytes(&name));
        let Some(g) = by_name.get(&name) else {
            errs.push(format!("{gctx} missing"));
            continue;
        };
        expect_str(
            jfield(g, "last_delivered_id", errs, &gctx),
            &sg["last-delivered-id"].text(),
            &format!("{gctx} last_delivered_id"),
            errs,
        );
        let er = jfield(g, "entries_read", errs, &gctx);
        let xg_er = xgroups
            .get(&String::from_utf8_lossy(&name).into_owned())
            .map(|m| m["entries-read"]);
        for (src, rep) in [
            ("XINFO STREAM FULL", Some(sg["entries-read"])),
            ("XINFO GROUPS", xg_er),
        ] {
            let Some(rep) = rep else {
                errs.push(format!("{gctx} not in XINFO GROUPS"));
                continue;
            };
            let want = match rep {
                Reply::Int(i) => Some(*i),
                _ => None,
            };
            if let Some(er) = er {
                let got = if er.is_null() { None } else { er.as_i64() };
                if got != want || (!er.is_null() && got.is_none()) {
                    errs.push(format!(
                        "{gctx} entries_read: expected {} ({src}), got {}",
                        want.map(|w| w.to_string()).unwrap_or("null".into()),
                        short(er)
                    ));
                }
            }
        }
        // Group PEL.
        let spel: Vec<(String, Vec<u8>, i64, i64)> = sg["pending"]
            .array()
            .iter()
            .map(|p| {
                let a = p.array();
                (a[0].text(), a[1].bulk().to_vec(), a[2].int(), a[3].int())
            })
            .collect();
        cov.pel_entries += spel.len();
        if let Some(pel) = jfield(g, "pending", errs, &gctx).and_then(Json::as_arr) {
            if pel.len() != spel.len() {
                errs.push(format!(
                    "{gctx}: expected {} pending entries, got {}",
                    spel.len(),
                    pel.len()
                ));
            }
            for (p, (id, consumer, dt, dc)) in pel.iter().zip(&spel) {
                let pctx = format!("{gctx} pending {id}");
                expect_str(
                    jfield(p, "id", errs, &pctx),
                    id,
                    &format!("{pctx} id"),
                    errs,
                );
                match p.get("consumer").map(json_bytes) {
                    Some(Ok(c)) if c == *consumer => {}
                    other => errs.push(format!(
                        "{pctx} consumer: expected {}, got {other:?}",
                        show_bytes(consumer)
                    )),
                }
                expect_int(
                    jfield(p, "delivery_time_ms", errs, &pctx),
                    *dt,
                    &format!("{pctx} delivery_time_ms"),
                    errs,
                );
                expect_int(
                    jfield(p, "delivery_count", errs, &pctx),
                    *dc,
                    &format!("{pctx} delivery_count"),
                    errs,
                );
            }
        }
        // Consumers.
        let scons = sg["consumers"].array();
        let Some(cons) = jfield(g, "consumers", errs, &gctx).and_then(Json::as_arr) else {
            continue;
        };
        if cons.len() != scons.len() {
            errs.push(format!(
                "{gctx}: expected {} consumers, got {}",
                scons.len(),
                cons.len()
            ));
        }
        let mut cons_by_name: HashMap<Vec<u8>, &Json> = HashMap::new();
        for c in cons {
            if let Some(Ok(n)) = c.get("name").map(json_bytes) {
                cons_by_name.insert(n, c);
            } else {
                errs.push(format!(
                    "{gctx}: consumer without a valid name: {}",
                    short(c)
                ));
            }
        }
        for sc in scons {
            let sc = sc.map();
            let cname = sc["name"].bulk().to_vec();
            let cctx = format!("{gctx} consumer {}", show_bytes(&cname));
            let Some(c) = cons_by_name.get(&cname) else {
                errs.push(format!("{cctx} missing"));
                continue;
            };
            expect_int(
                jfield(c, "seen_time_ms", errs, &cctx),
                sc["seen-time"].int(),
                &format!("{cctx} seen_time_ms"),
                errs,
            );
            // Redis 7.0 (RDB type 19) does not store active-time.
            if r.enc == "stream_listpacks2" {
                if let Some(a) = jfield(c, "active_time_ms", errs, &cctx) {
                    if !a.is_null() {
                        errs.push(format!(
                            "{cctx} active_time_ms: expected null for a type-19 stream, got {}",
                            short(a)
                        ));
                    }
                }
            }
            let sp: Vec<String> = sc["pending"]
                .array()
                .iter()
                .map(|p| p.array()[0].text())
                .collect();
            match jfield(c, "pending", errs, &cctx).and_then(Json::as_arr) {
                Some(p) => {
                    let got: Vec<String> = p
                        .iter()
                        .map(|x| x.as_str().unwrap_or("<not a string>").to_string())
                        .collect();
                    if got != sp {
                        errs.push(format!("{cctx} pending: expected {sp:?}, got {got:?}"));
                    }
                }
                None => errs.push(format!("{cctx} pending is not an array")),
            }
        }
    }
}

/// Panic with the mismatches if there is any: a summary by kind (one example each), then the
/// first ones in full.
pub fn assert_no_mismatch(what: &str, errs: &[String]) {
    if errs.is_empty() {
        return;
    }
    // Kind: the message without its "db N key K (line L): " prefix, cut at the first ':'.
    let mut kinds: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for e in errs {
        let body = e.split_once("): ").map(|(_, b)| b).unwrap_or(e);
        let kind: String = body
            .split(':')
            .next()
            .unwrap_or(body)
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(80)
            .collect();
        kinds.entry(kind).or_insert((0, e)).0 += 1;
    }
    let mut msg = format!(
        "{what}: {} mismatch(es) between redkit and redis-server\nby kind:\n",
        errs.len()
    );
    for (k, (n, ex)) in &kinds {
        let _ = writeln!(msg, "  {n:5} x {k}\n          e.g. {ex}");
    }
    msg.push_str("first ones:\n");
    for e in errs.iter().take(40) {
        let _ = writeln!(msg, "  {e}");
    }
    if errs.len() > 40 {
        msg.push_str("  ...\n");
    }
    panic!("{msg}");
}

// After the macros above, which it uses.
pub mod same_server;

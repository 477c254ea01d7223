//! The command table and executor.
//!
//! Every command is declared once, as a [`CommandSpec`] row in the `COMMANDS` table of the
//! module for its data type (`t_string`, `t_list`, ...), like Redis's command table: name,
//! arity (negative: at least that many arguments, the name included), flags and key positions.
//! Arity is checked once, centrally, in [`Executor::execute`]; implementations can index their
//! arguments up to the arity without checking.
//!
//! Implementations get a [`Ctx`]: the keyspace, the current database, the command's clock, and
//! the propagation hook. A write command that changed something calls [`Ctx::dirty`]; unless it
//! says otherwise with [`Ctx::propagate`], its own argument vector is what gets propagated (to
//! an AOF writer or replicas). Commands whose effect is not deterministic as written (SPOP,
//! relative expiries, INCRBYFLOAT, ...) propagate the deterministic equivalent instead, as
//! Redis does.

pub mod reply;
pub mod util;

pub mod bitops;
pub mod hyperloglog;
pub mod keys;
pub mod restore;
pub mod server;
pub mod sort;
pub mod t_hash;
pub mod t_list;
pub mod t_set;
pub mod t_stream;
pub mod t_string;
pub mod t_zset;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::keyspace::{Config, Db, Entry, Keyspace, Value};
pub use reply::Reply;

/// Command flags (Redis's `CMD_*`).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    /// May use more memory (refused under OOM in a server).
    pub const DENYOOM: u32 = 1 << 2;
    pub const FAST: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 6;
    pub const STALE: u32 = 1 << 7;
    /// Not allowed inside MULTI (queued commands are refused).
    pub const NO_MULTI: u32 = 1 << 8;
    /// Writes that replicate though they are not WRITE (FUNCTION, SCRIPT, ...).
    pub const MAY_REPLICATE: u32 = 1 << 9;
    pub const BLOCKING: u32 = 1 << 10;
}

/// The signature of every command implementation. `args[0]` is the command name (for a
/// subcommand, `args[1]` is its name).
pub type CmdFn = fn(&mut Ctx<'_>, &[&[u8]]) -> Reply;

/// One row of the command table.
#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lower case. For a subcommand: the subcommand's own name (`create`).
    pub name: &'static str,
    /// Number of arguments including the name; negative: at least `-arity`.
    pub arity: i32,
    pub flags: u32,
    /// 1-based position of the first key, 0 if the command takes no keys.
    pub first_key: i32,
    /// Position of the last key; -1 means the last argument, -2 the one before, ...
    pub last_key: i32,
    pub step: i32,
    pub run: CmdFn,
    /// For container commands (XGROUP, OBJECT, FUNCTION, XINFO): the subcommands, dispatched
    /// by `args[1]`; `run` is then unused.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: (i32, i32, i32),
        run: CmdFn,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            run,
            subcommands: &[],
        }
    }

    pub const fn container(
        name: &'static str,
        arity: i32,
        flags: u32,
        subcommands: &'static [CommandSpec],
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            run: no_direct_call,
            subcommands,
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags & flags::WRITE != 0
    }

    /// Positions of the keys in `args` (for a server's key-based routing and for tests).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key
        };
        let step = self.step.max(1);
        (self.first_key..=last.min(argc as i32 - 1))
            .step_by(step as usize)
            .map(|p| p as usize)
            .collect()
    }
}

fn no_direct_call(_: &mut Ctx<'_>, _: &[&[u8]]) -> Reply {
    Reply::err("ERR container command called without a subcommand")
}

/// Transactions are handled by the executor itself; these rows give them names and arity.
const CORE: &[CommandSpec] = &[
    CommandSpec::new(
        "multi",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST,
        (0, 0, 0),
        no_direct_call,
    ),
    CommandSpec::new(
        "exec",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        (0, 0, 0),
        no_direct_call,
    ),
    CommandSpec::new(
        "discard",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST,
        (0, 0, 0),
        no_direct_call,
    ),
];

/// Every command module's table, in one list.
fn all_tables() -> [&'static [CommandSpec]; 13] {
    [
        CORE,
        t_string::COMMANDS,
        bitops::COMMANDS,
        hyperloglog::COMMANDS,
        t_list::COMMANDS,
        t_hash::COMMANDS,
        t_set::COMMANDS,
        t_zset::COMMANDS,
        t_stream::COMMANDS,
        keys::COMMANDS,
        server::COMMANDS,
        sort::COMMANDS,
        restore::COMMANDS,
    ]
}

/// The command table, by lower-case name.
pub fn table() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static TABLE: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for t in all_tables() {
            for c in t {
                let old = m.insert(c.name, c);
                debug_assert!(old.is_none(), "command {} declared twice", c.name);
            }
        }
        m
    })
}

/// Look a command up by name, any case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let s = std::str::from_utf8(lower).ok()?;
    table().get(s).copied()
}

/// A subcommand of `spec`, any case.
pub fn lookup_sub(spec: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    spec.subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
}

/// A command as it is propagated: the database it ran in and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagated {
    pub db: usize,
    pub argv: Vec<Vec<u8>>,
}

/// What a command sees while it runs.
pub struct Ctx<'a> {
    pub ks: &'a mut Keyspace,
    /// The current database index; SELECT changes it for the session.
    pub db: usize,
    /// The command's clock in unix ms: Redis reads the time once per command.
    pub now_ms: i64,
    /// True while replaying a file: keys never expire (Redis's `server.loading`), and
    /// expiries already in the past are set rather than deleting the key.
    pub loading: bool,
    /// Changes made by this command (Redis's `server.dirty` delta).
    pub dirty: u64,
    /// Collect propagation? Off for plain replays, where nobody reads it.
    pub propagating: bool,
    /// Commands this command asked to propagate instead of its own arguments.
    custom: Option<Vec<Vec<Vec<u8>>>>,
    /// Deletions of expired keys found while running (propagated before the command).
    expired: Vec<Vec<Vec<u8>>>,
}

impl<'a> Ctx<'a> {
    pub fn new(ks: &'a mut Keyspace, db: usize, now_ms: i64) -> Ctx<'a> {
        Ctx {
            ks,
            db,
            now_ms,
            loading: false,
            dirty: 0,
            propagating: false,
            custom: None,
            expired: Vec::new(),
        }
    }

    /// The current database.
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.ks.dbs[self.db]
    }

    pub fn config(&self) -> &Config {
        &self.ks.config
    }

    /// Count changes: a write command that changed nothing is not propagated.
    #[inline]
    pub fn dirty(&mut self, n: u64) {
        self.dirty += n;
    }

    /// Propagate `argv` (in the current db) instead of the command's own arguments. May be
    /// called several times; the commands are propagated in order.
    pub fn propagate(&mut self, argv: Vec<Vec<u8>>) {
        if self.propagating {
            self.custom.get_or_insert_with(Vec::new).push(argv);
        }
    }

    /// Propagate nothing for this command even if it is dirty (e.g. it only deleted expired
    /// keys, which are propagated separately).
    pub fn propagate_nothing(&mut self) {
        self.custom.get_or_insert_with(Vec::new);
    }

    /// Lazy expiry: if `key` has expired, delete it (and propagate a DEL), unless loading.
    /// Returns true when the key was deleted.
    #[inline]
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        if self.loading {
            return false;
        }
        let now = self.now_ms;
        let db = &mut self.ks.dbs[self.db];
        if !db.is_expired(key, now) {
            return false;
        }
        db.remove(key);
        if self.propagating {
            self.expired.push(vec![b"DEL".to_vec(), key.to_vec()]);
        }
        true
    }

    /// The live entry of `key` in the current db (expiring it first if due).
    #[inline]
    pub fn lookup(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.expire_if_needed(key);
        self.ks.dbs[self.db].get_mut(key)
    }

    /// The live value of `key`.
    #[inline]
    pub fn lookup_value(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.lookup(key).map(|e| &mut e.value)
    }

    /// Does `key` exist (and is alive)?
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(key).is_some()
    }

    /// Is `when_ms` already in the past for an expiry set now? (Redis's `checkAlreadyExpired`:
    /// never while loading.)
    pub fn already_expired(&self, when_ms: i64) -> bool {
        !self.loading && when_ms <= self.now_ms
    }

    fn take_propagation(&mut self, argv: &[&[u8]]) -> Vec<Vec<Vec<u8>>> {
        let mut out = std::mem::take(&mut self.expired);
        match self.custom.take() {
            Some(c) => out.extend(c),
            None if self.dirty > 0 => out.push(argv.iter().map(|a| a.to_vec()).collect()),
            None => {}
        }
        out
    }
}

/// Per-connection state: the selected db and an open MULTI.
#[derive(Debug, Default, Clone)]
pub struct Session {
    pub db: usize,
    /// Commands queued since MULTI.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// A command was refused while queueing: EXEC must abort.
    pub multi_error: bool,
}

/// Owns the keyspace and runs commands against it.
pub struct Executor {
    pub ks: Keyspace,
    /// Replaying a file (see [`Ctx::loading`]).
    pub loading: bool,
    /// Collect what write commands propagate into [`Executor::propagated`].
    pub propagating: bool,
    pub propagated: Vec<Propagated>,
    /// A fixed clock for tests and deterministic tools; `None` reads the system clock.
    pub clock_ms: Option<i64>,
    /// Total changes (Redis's `server.dirty`).
    pub dirty: u64,
}

impl Executor {
    pub fn new(ks: Keyspace) -> Executor {
        Executor {
            ks,
            loading: false,
            propagating: false,
            propagated: Vec::new(),
            clock_ms: None,
            dirty: 0,
        }
    }

    fn now(&self) -> i64 {
        self.clock_ms.unwrap_or_else(crate::now_ms)
    }

    /// Run one command for `sess`: name lookup, arity check, MULTI queueing, execution and
    /// propagation.
    pub fn execute(&mut self, sess: &mut Session, args: &[&[u8]]) -> Reply {
        let spec = match resolve(args) {
            Ok(s) => s,
            Err(e) => {
                if sess.multi.is_some() {
                    sess.multi_error = true;
                }
                return e;
            }
        };
        let name = spec.name;
        if sess.multi.is_some() && !matches!(name, "exec" | "discard" | "multi" | "watch") {
            if spec.flags & flags::NO_MULTI != 0 {
                sess.multi_error = true;
                return Reply::err("ERR Command not allowed inside a transaction");
            }
            if let Some(q) = sess.multi.as_mut() {
                q.push(args.iter().map(|a| a.to_vec()).collect());
            }
            return Reply::status("QUEUED");
        }
        match name {
            "multi" => {
                if sess.multi.is_some() {
                    return Reply::err("ERR MULTI calls can not be nested");
                }
                sess.multi = Some(Vec::new());
                sess.multi_error = false;
                Reply::Ok
            }
            "discard" => {
                if sess.multi.take().is_none() {
                    return Reply::err("ERR DISCARD without MULTI");
                }
                sess.multi_error = false;
                Reply::Ok
            }
            "exec" => self.exec(sess),
            _ => {
                let mut props = Vec::new();
                let r = self.run(sess, spec, args, &mut props);
                self.emit(props);
                r
            }
        }
    }

    /// EXEC: run the queued commands back to back (nothing can interleave: the executor has
    /// one owner), replies in an array; several propagated writes are wrapped in MULTI/EXEC.
    fn exec(&mut self, sess: &mut Session) -> Reply {
        let Some(queue) = sess.multi.take() else {
            return Reply::err("ERR EXEC without MULTI");
        };
        if std::mem::take(&mut sess.multi_error) {
            return Reply::err("EXECABORT Transaction discarded because of previous errors.");
        }
        let mut props = Vec::new();
        let mut replies = Vec::with_capacity(queue.len());
        for argv in &queue {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            let r = match resolve(&args) {
                Ok(spec) => self.run(sess, spec, &args, &mut props),
                Err(e) => e,
            };
            replies.push(r);
        }
        self.emit(props);
        Reply::Array(replies)
    }

    fn run(
        &mut self,
        sess: &mut Session,
        spec: &'static CommandSpec,
        args: &[&[u8]],
        props: &mut Vec<Propagated>,
    ) -> Reply {
        let now = self.now();
        let mut ctx = Ctx::new(&mut self.ks, sess.db, now);
        ctx.loading = self.loading;
        ctx.propagating = self.propagating;
        let db_before = sess.db;
        let reply = (spec.run)(&mut ctx, args);
        let dirty = ctx.dirty;
        let new_db = ctx.db;
        if self.propagating {
            for argv in ctx.take_propagation(args) {
                props.push(Propagated {
                    db: db_before,
                    argv,
                });
            }
        }
        self.dirty += dirty;
        sess.db = new_db;
        reply
    }

    /// Hand what one call propagated to the consumer: several commands (an EXEC, an SPOP of
    /// many members, a lazy-expiry DEL before the command) go out as one MULTI/EXEC block, as
    /// Redis 7.0 wraps a call's propagated commands.
    fn emit(&mut self, mut props: Vec<Propagated>) {
        if !self.propagating {
            return;
        }
        if props.len() > 1 {
            let first_db = props[0].db;
            let last_db = props[props.len() - 1].db;
            props.insert(
                0,
                Propagated {
                    db: first_db,
                    argv: vec![b"MULTI".to_vec()],
                },
            );
            props.push(Propagated {
                db: last_db,
                argv: vec![b"EXEC".to_vec()],
            });
        }
        self.propagated.extend(props);
    }
}

/// Find the spec for `args` (through a subcommand when the command has them) and check arity.
pub fn resolve(args: &[&[u8]]) -> Result<&'static CommandSpec, Reply> {
    let Some(name) = args.first() else {
        return Err(Reply::err("ERR empty command"));
    };
    let Some(mut spec) = lookup(name) else {
        return Err(unknown_command(args));
    };
    let mut full = String::new();
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match lookup_sub(spec, args[1]) {
            Some(sub) => {
                full = format!("{}|{}", spec.name, sub.name);
                spec = sub;
            }
            None => {
                return Err(Reply::err(format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    clip(args[1], 128),
                    spec.name.to_ascii_uppercase()
                )))
            }
        }
    }
    let argc = args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        let shown = if full.is_empty() { spec.name } else { &full };
        return Err(Reply::err(format!(
            "ERR wrong number of arguments for '{shown}' command"
        )));
    }
    Ok(spec)
}

/// Redis's message for an unknown command: the name and the start of its arguments.
fn unknown_command(args: &[&[u8]]) -> Reply {
    let mut shown = String::new();
    for a in &args[1..] {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push('\'');
        shown.push_str(&clip(a, room));
        shown.push_str("' ");
    }
    Reply::err(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        clip(args[0], 128),
        shown
    ))
}

/// The first `n` bytes of `b` as text (lossy), like `%.128s`.
pub fn clip(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_are_sane() {
        for (name, spec) in table() {
            assert_eq!(*name, spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase(), "{name}");
            assert!(spec.arity != 0, "{name} has arity 0");
            for sub in spec.subcommands {
                assert!(sub.arity != 0, "{name}|{} has arity 0", sub.name);
            }
            assert!(
                !(spec.flags & flags::WRITE != 0 && spec.flags & flags::READONLY != 0),
                "{name} is both write and readonly"
            );
        }
    }

    /// Every command issue 4 lists (the ones that appear in AOFs and replication streams, and
    /// the reads needed to test them) is in the table.
    #[test]
    fn required_commands_are_declared() {
        let required = "set setex psetex setnx mset msetnx append setrange incr decr incrby decrby \
            incrbyfloat getset getdel getex setbit bitop bitfield del unlink expire pexpire expireat \
            pexpireat persist rename renamenx move copy restore swapdb flushdb flushall select lpush \
            rpush lpushx rpushx lpop rpop linsert lset lrem ltrim lmove rpoplpush lmpop hset hmset \
            hsetnx hdel hincrby hincrbyfloat hexpire hpexpire hexpireat hpexpireat hpersist sadd srem \
            smove spop sinterstore sunionstore sdiffstore zadd zincrby zrem zremrangebyscore \
            zremrangebyrank zremrangebylex zpopmin zpopmax zunionstore zinterstore zdiffstore \
            zrangestore xadd xdel xtrim xgroup xack xclaim xautoclaim xsetid pfadd pfmerge sort multi \
            exec function ping get mget strlen getrange lrange llen lindex smembers scard sismember \
            zrange zrangebyscore zrevrange zscore zcard hgetall hget hlen xrange xlen xinfo ttl pttl \
            expiretime pexpiretime type exists dbsize object";
        let missing: Vec<&str> = required
            .split_whitespace()
            .filter(|n| lookup(n.as_bytes()).is_none())
            .collect();
        assert!(missing.is_empty(), "not in the command table: {missing:?}");
        for (cmd, subs) in [
            (
                "xgroup",
                &[
                    "create",
                    "setid",
                    "destroy",
                    "createconsumer",
                    "delconsumer",
                ][..],
            ),
            ("function", &["load", "delete", "flush", "restore"][..]),
            ("object", &["encoding"][..]),
            ("xinfo", &["stream", "groups", "consumers"][..]),
        ] {
            let spec = lookup(cmd.as_bytes()).unwrap();
            for sub in subs {
                assert!(
                    lookup_sub(spec, sub.as_bytes()).is_some(),
                    "{cmd} {sub} missing"
                );
            }
        }
    }

    #[test]
    fn unknown_and_arity_errors() {
        let mut ex = Executor::new(Keyspace::default());
        let mut s = Session::default();
        assert_eq!(
            ex.execute(&mut s, &[b"nosuch", b"a", b"b"]),
            Reply::err("ERR unknown command 'nosuch', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            ex.execute(&mut s, &[b"EXEC"]),
            Reply::err("ERR EXEC without MULTI")
        );
    }
}

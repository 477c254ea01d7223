//! The in-memory keyspace: databases of keys, each holding a [`Value`] and an optional
//! absolute expiry in unix milliseconds.
//!
//! One module per value type (`string`, `list`, `hash`, `set`, `zset`, `stream`), like Redis's
//! `t_*.c`, each owning its representation and its compact encodings; the commands that use
//! them are in `crate::cmd`. The keyspace has one owner (the executor) and no locking.
//!
//! Expiry is kept in the key's entry rather than in a second table keyed by the same name
//! (Redis's `db->expires`): the same lookups, no second copy of every key with a TTL. Each
//! database counts its keys with an expiry, which is what `INFO keyspace` and RESIZEDB need.

pub mod hash;
pub mod list;
pub mod load;
pub mod lp;
pub mod set;
pub mod sstr;
pub mod stream;
pub mod string;
pub mod zset;

use std::collections::{HashMap, HashSet};

/// The keyspace's hash tables (keys, hash fields, set and zset members): foldhash with a
/// per-process random seed. SipHash (std's default) was ~18% of an RDB load; these keys are
/// short, where foldhash is several times faster, and the random seed keeps bucket order
/// unpredictable.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

pub use lp::Lp;
pub use sstr::SStr;

/// No expiry.
pub const NO_EXPIRE: i64 = i64::MIN;

/// Which Redis version's encoding rules and thresholds to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Redis 7.0: lists are always quicklists, sets are intsets or hashtables.
    Redis70,
    /// Redis 7.2 and later: small lists are single listpacks, small sets of strings listpacks.
    Redis72,
}

/// Encoding thresholds, named like their redis.conf settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub profile: Profile,
    pub databases: usize,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    /// 0 with the 7.0 profile: sets of strings are always hashtables there.
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// Positive: entries per quicklist node; -1..=-5: node size limit 4, 8, 16, 32, 64 KiB.
    pub list_max_listpack_size: i64,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
}

impl Config {
    pub fn for_profile(profile: Profile) -> Config {
        Config {
            profile,
            databases: 16,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: match profile {
                Profile::Redis70 => 0,
                Profile::Redis72 => 128,
            },
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }

    /// Set one threshold by its redis.conf name (also the old `ziplist` spellings). `Err`
    /// carries a message for an unknown name or a bad value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let num = || -> Result<i64, String> {
            value
                .parse::<i64>()
                .map_err(|_| format!("bad value '{value}' for {name}"))
        };
        let unsigned = || -> Result<usize, String> {
            usize::try_from(num()?).map_err(|_| format!("bad value '{value}' for {name}"))
        };
        match name.replace("ziplist", "listpack").as_str() {
            "databases" => self.databases = unsigned()?.max(1),
            "hash-max-listpack-entries" => self.hash_max_listpack_entries = unsigned()?,
            "hash-max-listpack-value" => self.hash_max_listpack_value = unsigned()?,
            "set-max-intset-entries" => self.set_max_intset_entries = unsigned()?,
            "set-max-listpack-entries" => self.set_max_listpack_entries = unsigned()?,
            "set-max-listpack-value" => self.set_max_listpack_value = unsigned()?,
            "zset-max-listpack-entries" => self.zset_max_listpack_entries = unsigned()?,
            "zset-max-listpack-value" => self.zset_max_listpack_value = unsigned()?,
            "list-max-listpack-size" => self.list_max_listpack_size = num()?,
            "stream-node-max-bytes" => self.stream_node_max_bytes = unsigned()?,
            "stream-node-max-entries" => self.stream_node_max_entries = unsigned()?,
            _ => return Err(format!("unknown setting {name}")),
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::for_profile(Profile::Redis70)
    }
}

/// A value of any type. Strings are flat variants so a short string costs no allocation
/// beyond the key's entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string that is a canonical 64-bit integer (`OBJECT ENCODING` int).
    Int(i64),
    /// A string created whole and at most 44 bytes (`embstr`).
    Emb(SStr),
    /// Any other string (`raw`).
    Raw(SStr),
    List(Box<list::List>),
    Hash(Box<hash::Hash>),
    Set(Box<set::Set>),
    ZSet(Box<zset::ZSet>),
    Stream(Box<stream::Stream>),
    Module(Box<ModuleValue>),
}

/// A module value, kept opaque: redkit cannot interpret it, only carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleValue {
    /// The 64-bit module type id (9-character name and 10-bit encoding version).
    pub module_id: u64,
    /// The serialized value as the RDB file holds it after the id, up to and including the
    /// module EOF opcode.
    pub raw: Vec<u8>,
}

/// Decode a module type id into its 9-character type name and encoding version.
pub fn module_type_name(id: u64) -> (String, u64) {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = String::with_capacity(9);
    for i in 0..9 {
        let shift = 64 - 6 * (i + 1);
        name.push(CHARSET[((id >> shift) & 63) as usize] as char);
    }
    (name, id & 1023)
}

impl Value {
    /// What `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Emb(_) | Value::Raw(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
            Value::Module(_) => "module",
        }
    }

    /// What `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Emb(_) => "embstr",
            Value::Raw(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
            Value::Module(_) => "raw",
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Emb(_) | Value::Raw(_))
    }
}

/// Push a value's contents into an RDB-reader [`Sink`](redkit_formats::rdb::read::Sink), as if
/// it had been read from a file: the JSON renderer and other per-element consumers work the
/// same on a keyspace as on an RDB.
pub fn feed<S: redkit_formats::rdb::read::Sink>(v: &Value, s: &mut S) {
    match v {
        Value::Int(i) => s.string(i.to_string().as_bytes()),
        Value::Emb(b) | Value::Raw(b) => s.string(b),
        Value::List(l) => {
            for e in l.iter() {
                s.list_elem(e);
            }
        }
        Value::Set(x) => {
            for e in x.iter() {
                s.set_member(e);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                s.zset_member(m, score);
            }
        }
        Value::Hash(h) => {
            for (f, val, exp) in h.iter() {
                s.hash_field(f, val, exp);
            }
        }
        Value::Stream(st) => feed_stream(st, s),
        Value::Module(m) => s.module(m.module_id, &m.raw),
    }
}

/// A stream in the order the RDB reader produces it: live entries, the metadata, the groups.
fn feed_stream<S: redkit_formats::rdb::read::Sink>(st: &stream::Stream, s: &mut S) {
    use redkit_formats::rdb::read::{Consumer, Group, PendingEntry, StreamMeta};
    let mut pairs = Vec::new();
    st.for_range(stream::ID_MIN, stream::ID_MAX, false, true, |e| {
        pairs.clear();
        pairs.extend(e.fv.chunks_exact(2).map(|c| (c[0], c[1])));
        s.stream_entry(e.id, &pairs);
        true
    });
    s.stream_meta(&StreamMeta {
        length: st.length,
        last_id: st.last_id,
        first_id: Some(st.first_id),
        max_deleted_id: Some(st.max_deleted_id),
        entries_added: Some(st.entries_added),
    });
    for (name, g) in &st.groups {
        let names: Vec<&SStr> = g.consumers.keys().collect();
        let group = Group {
            name: name.to_vec(),
            last_delivered_id: g.last_id,
            entries_read: u64::try_from(g.entries_read).ok(),
            pending: g
                .pel
                .iter()
                .map(|(id, n)| PendingEntry {
                    id: *id,
                    delivery_time_ms: n.delivery_time.max(0) as u64,
                    delivery_count: n.delivery_count,
                    consumer: names.iter().position(|c| **c == n.consumer),
                })
                .collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(cn, c)| Consumer {
                    name: cn.to_vec(),
                    seen_time_ms: c.seen_time.max(0) as u64,
                    active_time_ms: u64::try_from(c.active_time).ok(),
                    pending: c.pel.iter().copied().collect(),
                })
                .collect(),
        };
        s.stream_group(&group);
    }
}

/// A key's value and expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute unix ms, or [`NO_EXPIRE`].
    pub expire_ms: i64,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_ms: NO_EXPIRE,
        }
    }

    pub fn expire(&self) -> Option<i64> {
        (self.expire_ms != NO_EXPIRE).then_some(self.expire_ms)
    }
}

/// One database.
#[derive(Debug, Default, Clone)]
pub struct Db {
    pub map: FastMap<SStr, Entry>,
    /// Keys with an expiry.
    expires: usize,
}

impl Db {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys with an expiry.
    pub fn expires(&self) -> usize {
        self.expires
    }

    /// The entry of `key`, expired or not (see [`Db::is_expired`]).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// Is `key` present with an expiry at or before `now_ms`? (Redis: expired when
    /// `now > when`; a key expiring at exactly `now` is still alive.)
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        self.map
            .get(key)
            .is_some_and(|e| e.expire_ms != NO_EXPIRE && e.expire_ms < now_ms)
    }

    /// Insert or overwrite `key` with `value` and no expiry (like Redis's `setKey` without
    /// KEEPTTL). Returns the old entry.
    pub fn set(&mut self, key: &[u8], value: Value) -> Option<Entry> {
        self.insert(key, Entry::new(value))
    }

    /// Insert a whole entry (value and expiry). Returns the old entry.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        if entry.expire_ms != NO_EXPIRE {
            self.expires += 1;
        }
        let old = self.map.insert(SStr::new(key), entry);
        if let Some(o) = &old {
            if o.expire_ms != NO_EXPIRE {
                self.expires -= 1;
            }
        }
        old
    }

    /// Insert with an owned key (the loaders use this to avoid a copy).
    pub fn insert_owned(&mut self, key: SStr, entry: Entry) -> Option<Entry> {
        if entry.expire_ms != NO_EXPIRE {
            self.expires += 1;
        }
        let old = self.map.insert(key, entry);
        if let Some(o) = &old {
            if o.expire_ms != NO_EXPIRE {
                self.expires -= 1;
            }
        }
        old
    }

    /// Insert a key that must not exist yet (loading an RDB file). When it does, nothing
    /// changes and the existing key is handed back (for the error message).
    pub fn insert_new(&mut self, key: SStr, entry: Entry) -> Result<(), SStr> {
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => Err(o.key().clone()),
            std::collections::hash_map::Entry::Vacant(v) => {
                if entry.expire_ms != NO_EXPIRE {
                    self.expires += 1;
                }
                v.insert(entry);
                Ok(())
            }
        }
    }

    /// Replace the value of an existing key keeping its expiry, or insert it without one.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        match self.map.get_mut(key) {
            Some(e) => e.value = value,
            None => {
                self.map.insert(SStr::new(key), Entry::new(value));
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.map.remove(key)?;
        if old.expire_ms != NO_EXPIRE {
            self.expires -= 1;
        }
        Some(old)
    }

    /// Set or clear (`NO_EXPIRE`) the expiry of an existing key; false if there is no key.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) -> bool {
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        match (e.expire_ms != NO_EXPIRE, when_ms != NO_EXPIRE) {
            (false, true) => self.expires += 1,
            (true, false) => self.expires -= 1,
            _ => {}
        }
        e.expire_ms = when_ms;
        true
    }

    pub fn clear(&mut self) {
        self.map = FastMap::default();
        self.expires = 0;
    }
}

/// A function library as FUNCTION DUMP/RESTORE and the RDB carry it: its engine, name and
/// source (the name is parsed from the `#!<engine> name=<name>` shebang line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    pub name: Vec<u8>,
    pub engine: Vec<u8>,
    pub code: Vec<u8>,
}

/// All databases and the function libraries.
#[derive(Debug, Clone)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
    pub config: Config,
    /// Libraries by name, in name order (deterministic output).
    pub functions: std::collections::BTreeMap<Vec<u8>, Library>,
}

impl Keyspace {
    pub fn new(config: Config) -> Keyspace {
        let n = config.databases.max(1);
        Keyspace {
            dbs: (0..n).map(|_| Db::default()).collect(),
            config,
            functions: Default::default(),
        }
    }

    /// Total keys in all databases.
    pub fn key_count(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace::new(Config::default())
    }
}

/// Parse the library name out of a function library's first line, `#!<engine> name=<name>
/// [other=...]`. `Err` with Redis's message when the shebang is missing or has no name.
pub fn parse_library_header(code: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let line = code.split(|&b| b == b'\n').next().unwrap_or(b"");
    let Some(rest) = line.strip_prefix(b"#!") else {
        return Err("ERR Missing library metadata".into());
    };
    let mut parts = rest
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec);
    let engine = parts.next().unwrap_or_default();
    let mut name = None;
    for p in parts {
        if let Some(n) = p.strip_prefix(b"name=") {
            name = Some(n.to_vec());
        } else {
            return Err(format!(
                "ERR Invalid metadata value given: {}",
                String::from_utf8_lossy(&p)
            ));
        }
    }
    match name {
        Some(n) => Ok((engine, n)),
        None => Err("ERR Library name was not given".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_entry_stay_small() {
        assert!(std::mem::size_of::<Value>() <= 32);
        assert!(std::mem::size_of::<Entry>() <= 40);
    }

    #[test]
    fn expires_counter_follows_edits() {
        let mut db = Db::default();
        db.set(b"a", Value::Int(1));
        assert!(db.set_expire(b"a", 100));
        assert_eq!(db.expires(), 1);
        db.set(b"a", Value::Int(2));
        assert_eq!(db.expires(), 0);
        db.insert(
            b"b",
            Entry {
                value: Value::Int(1),
                expire_ms: 5,
            },
        );
        assert_eq!(db.expires(), 1);
        assert!(db.is_expired(b"b", 6));
        assert!(!db.is_expired(b"b", 5));
        db.remove(b"b");
        assert_eq!(db.expires(), 0);
    }

    #[test]
    fn module_names_decode() {
        // "ReJSON-RL" version 3, as RedisJSON registers it.
        let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = 0u64;
        for c in b"ReJSON-RL" {
            id = (id << 6) | charset.iter().position(|x| x == c).unwrap() as u64;
        }
        id = (id << 10) | 3;
        assert_eq!(module_type_name(id), ("ReJSON-RL".to_string(), 3));
    }

    #[test]
    fn library_headers() {
        assert_eq!(
            parse_library_header(b"#!lua name=mylib\nredis.register_function('f', function() end)"),
            Ok((b"lua".to_vec(), b"mylib".to_vec()))
        );
        assert!(parse_library_header(b"return 1").is_err());
        assert!(parse_library_header(b"#!lua\n").is_err());
    }
}

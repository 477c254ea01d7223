//! Numbers that appear in RDB files: value types, opcodes, module opcodes, and their names.
//!
//! On-disk bytes stay plain `u8` constants, not a closed enum: an unknown byte must reach the
//! reader intact so it can report it.

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// Redis 7.4 release candidates: hash with field TTLs, absolute. Valkey 9: `hash2` (see read.rs).
pub const TYPE_HASH_METADATA_PRE_GA: u8 = 22;
pub const TYPE_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
pub const TYPE_HASH_METADATA: u8 = 24;
pub const TYPE_HASH_LISTPACK_EX: u8 = 25;

/// Redis 8 (RDB 13): module metadata attached to the next key. Valkey 9: slot import state.
pub const OP_KEY_META_OR_SLOT_IMPORT: u8 = 243;
pub const OP_SLOT_INFO: u8 = 244;
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION_PRE_GA: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

pub const MODULE_OP_EOF: u64 = 0;
pub const MODULE_OP_SINT: u64 = 1;
pub const MODULE_OP_UINT: u64 = 2;
pub const MODULE_OP_FLOAT: u64 = 3;
pub const MODULE_OP_DOUBLE: u64 = 4;
pub const MODULE_OP_STRING: u64 = 5;

/// Quicklist 2 node containers.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// Stream listpack entry flags.
pub const STREAM_ITEM_FLAG_DELETED: i64 = 1;
pub const STREAM_ITEM_FLAG_SAMEFIELDS: i64 = 2;

/// The writer's family, decided by the header. Types 22 and opcode 243 mean different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Redis,
    Valkey,
}

/// The logical Redis type a value type byte stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    String,
    List,
    Set,
    Zset,
    Hash,
    Stream,
    Module,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Zset => "zset",
            Kind::Hash => "hash",
            Kind::Stream => "stream",
            Kind::Module => "module",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Some(match s {
            "string" => Kind::String,
            "list" => Kind::List,
            "set" => Kind::Set,
            "zset" => Kind::Zset,
            "hash" => Kind::Hash,
            "stream" => Kind::Stream,
            "module" => Kind::Module,
            _ => return None,
        })
    }

    pub const ALL: [Kind; 7] = [
        Kind::String,
        Kind::List,
        Kind::Set,
        Kind::Zset,
        Kind::Hash,
        Kind::Stream,
        Kind::Module,
    ];
}

/// The logical type of value type `t`, or None when `t` is not a value type.
pub fn kind_of(t: u8) -> Option<Kind> {
    Some(match t {
        TYPE_STRING => Kind::String,
        TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => Kind::List,
        TYPE_SET | TYPE_SET_INTSET | TYPE_SET_LISTPACK => Kind::Set,
        TYPE_ZSET | TYPE_ZSET_2 | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => Kind::Zset,
        TYPE_HASH
        | TYPE_HASH_ZIPMAP
        | TYPE_HASH_ZIPLIST
        | TYPE_HASH_LISTPACK
        | TYPE_HASH_METADATA_PRE_GA
        | TYPE_HASH_LISTPACK_EX_PRE_GA
        | TYPE_HASH_METADATA
        | TYPE_HASH_LISTPACK_EX => Kind::Hash,
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => Kind::Stream,
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => Kind::Module,
        _ => return None,
    })
}

/// The name `redkit json` gives the on-disk encoding of value type `t` (type-0 strings are named
/// by their string encoding instead, see `string::Str::encoding_name`).
pub fn encoding_name(t: u8, family: Family) -> &'static str {
    match t {
        TYPE_STRING => "string",
        TYPE_LIST => "linkedlist",
        TYPE_SET | TYPE_HASH => "hashtable",
        TYPE_ZSET => "skiplist",
        TYPE_ZSET_2 => "zset2",
        TYPE_MODULE_PRE_GA => "module",
        TYPE_MODULE_2 => "module2",
        TYPE_HASH_ZIPMAP => "zipmap",
        TYPE_LIST_ZIPLIST | TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST => "ziplist",
        TYPE_SET_INTSET => "intset",
        TYPE_LIST_QUICKLIST => "quicklist",
        TYPE_STREAM_LISTPACKS => "stream_listpacks",
        TYPE_HASH_LISTPACK | TYPE_ZSET_LISTPACK | TYPE_SET_LISTPACK => "listpack",
        TYPE_LIST_QUICKLIST_2 => "quicklist2",
        TYPE_STREAM_LISTPACKS_2 => "stream_listpacks2",
        TYPE_STREAM_LISTPACKS_3 => "stream_listpacks3",
        TYPE_HASH_METADATA_PRE_GA => match family {
            Family::Redis => "hash_metadata_pre_ga",
            Family::Valkey => "hash2",
        },
        TYPE_HASH_LISTPACK_EX_PRE_GA => "hash_listpack_ex_pre_ga",
        TYPE_HASH_METADATA => "hash_metadata",
        TYPE_HASH_LISTPACK_EX => "hash_listpack_ex",
        _ => "unknown",
    }
}

/// Decode a module type id into its 9-character name and 10-bit encoding version.
/// The top 54 bits hold nine 6-bit indexes into `A-Z a-z 0-9 - _`, first character highest.
pub fn module_name(id: u64) -> (String, u16) {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(9);
    let mut bits = id >> 10;
    let mut chars = [0u8; 9];
    for c in chars.iter_mut().rev() {
        *c = CHARSET[(bits & 63) as usize];
        bits >>= 6;
    }
    for c in chars {
        s.push(c as char);
    }
    (s, (id & 1023) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_decode_from_their_ids() {
        // Build an id the way a module registers it: 9 chars then a 10-bit version.
        let name = b"hellotype";
        const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = 0u64;
        for &c in name {
            id = (id << 6) | CHARSET.iter().position(|&x| x == c).unwrap() as u64;
        }
        id = (id << 10) | 3;
        assert_eq!(module_name(id), ("hellotype".to_string(), 3));
    }

    #[test]
    fn every_value_type_has_a_kind_and_a_name() {
        for t in (0u8..=25).filter(|&t| t != 8) {
            assert!(kind_of(t).is_some(), "type {t}");
            assert_ne!(encoding_name(t, Family::Redis), "unknown", "type {t}");
        }
        assert_eq!(kind_of(8), None);
        assert_eq!(kind_of(26), None);
    }
}

//! SORT and SORT_RO (Redis's sort.c): sort the elements of a list, set or sorted set
//! numerically or (ALPHA) as strings, optionally by the values of other keys (`BY pattern`,
//! hash fields with `->`) or not at all (`BY` without `*`), with LIMIT, GET patterns (`#` is
//! the element itself), ASC/DESC and STORE (a list; the command is propagated as written).
//!
//! The elements are copied out of the value first (SORT reads other keys while it works), as
//! strings. The order follows Redis exactly where Redis defines it: numeric ties are broken
//! by the elements' bytes, ALPHA compares like `strcoll` in the C/C.UTF-8 locale (bytes up to
//! the first NUL) unless storing (then whole bytes), and the sort is stable like glibc's
//! `qsort` (a merge sort). What Redis leaves to its hash tables (a set's order without
//! sorting, the input order of a sorted set's or set's equal elements) is not reproduced.
//!
//! Like Redis, SORT converts a listpack sorted set to a skiplist before reading it.

use super::util::{eq_ic, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{flags::*, CommandSpec, Ctx, Reply};
use crate::keyspace::string::string_bytes;
use crate::keyspace::{list, zset, Value};
use redkit_formats::rdb::read::Sink;
use redkit_formats::Elem;
use std::cmp::Ordering;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, (1, 1, 1), sort),
    CommandSpec::new("sort_ro", -2, READONLY, (1, 1, 1), sort_ro),
];

fn sort(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> Reply {
    sort_generic(ctx, args, true)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// One element being sorted and what it sorts by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    /// ALPHA BY: the looked-up string (`None` when missing: sorts first).
    by: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], readonly: bool) -> Reply {
    let mut desc = false;
    let mut alpha = false;
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut store: Option<&[u8]> = None;
    let mut by: Option<&[u8]> = None;
    let mut dontsort = false;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if eq_ic(a, "asc") {
            desc = false;
        } else if eq_ic(a, "desc") {
            desc = true;
        } else if eq_ic(a, "alpha") {
            alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            match (parse_i64(args[j + 1]), parse_i64(args[j + 2])) {
                (Some(s), Some(c)) => (limit_start, limit_count) = (s, c),
                _ => return Reply::err(NOT_INTEGER),
            }
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            store = Some(args[j + 1]);
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            by = Some(args[j + 1]);
            // A pattern without '*' names one fixed key for all: nothing to sort by.
            dontsort = !c_prefix(args[j + 1]).contains(&b'*');
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            gets.push(args[j + 1]);
            j += 1;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }

    let cfg = ctx.config().clone();
    let key = args[1];
    let kind = match ctx.lookup_value(key) {
        None => None,
        Some(Value::List(_)) => Some(Kind::List),
        Some(Value::Set(_)) => Some(Kind::Set),
        Some(Value::ZSet(z)) => {
            if z.encoding() == "listpack" {
                to_skiplist(z, &cfg);
            }
            Some(Kind::ZSet)
        }
        Some(_) => return Reply::err(WRONGTYPE),
    };

    // A set has no order of its own: when its result is stored, sort it for determinism.
    if dontsort && kind == Some(Kind::Set) && store.is_some() {
        dontsort = false;
        alpha = true;
        by = None;
    }

    let len = match ctx.lookup_value(key) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;

    // LIMIT, clamped to the value like Redis (an empty range is start > end).
    let mut start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    // Lists and sorted sets not being sorted are read in their order (reversed by DESC), only
    // the requested range.
    let ordered = dontsort && matches!(kind, Some(Kind::List) | Some(Kind::ZSet));
    let mut elems: Vec<Vec<u8>> = Vec::new();
    if ordered {
        if end >= start {
            let (skip, take) = (start as usize, (end - start + 1) as usize);
            elems = read_range(ctx, key, desc, skip, take);
            end -= start;
            start = 0;
        }
    } else if kind.is_some() {
        elems = read_range(ctx, key, false, 0, len as usize);
    }

    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            by: None,
        })
        .collect();

    let mut conversion_error = false;
    if !dontsort {
        for it in items.iter_mut() {
            let byval = match by {
                Some(pat) => match lookup_by_pattern(ctx, pat, &it.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if alpha {
                if by.is_some() {
                    it.by = Some(byval);
                }
            } else {
                match strtod_whole(&byval) {
                    Some(v) => it.score = v,
                    None => conversion_error = true,
                }
            }
        }
        let storing = store.is_some();
        let has_by = by.is_some();
        let cmp = |a: &Item, b: &Item| -> Ordering {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if has_by {
                match (&a.by, &b.by) {
                    (Some(x), Some(y)) => {
                        if storing {
                            x.cmp(y)
                        } else {
                            c_prefix(x).cmp(c_prefix(y))
                        }
                    }
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else if storing {
                a.elem.cmp(&b.elem)
            } else {
                c_prefix(&a.elem).cmp(c_prefix(&b.elem))
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        };
        items.sort_by(cmp);
    }

    if conversion_error {
        return Reply::err("ERR One or more scores can't be converted into double");
    }

    let range: &[Item] = if end >= start && start >= 0 {
        items
            .get(start as usize..=(end as usize).min(items.len().saturating_sub(1)))
            .unwrap_or(&[])
    } else {
        &[]
    };

    let Some(dst) = store else {
        let mut out = Vec::with_capacity(range.len() * gets.len().max(1));
        for it in range {
            if gets.is_empty() {
                out.push(Reply::bulk(&it.elem));
            }
            for g in &gets {
                out.push(match lookup_by_pattern(ctx, g, &it.elem) {
                    Some(v) => Reply::Bulk(v),
                    None => Reply::Nil,
                });
            }
        }
        return Reply::Array(out);
    };

    let mut stored: Vec<Vec<u8>> = Vec::with_capacity(range.len() * gets.len().max(1));
    for it in range {
        if gets.is_empty() {
            stored.push(it.elem.clone());
        }
        for g in &gets {
            stored.push(lookup_by_pattern(ctx, g, &it.elem).unwrap_or_default());
        }
    }
    let n = stored.len();
    if n > 0 {
        let mut loader = list::Loader::new(&cfg);
        loader.len_hint(n as u64);
        for e in &stored {
            loader.list_elem(Elem::Bytes(e));
        }
        if let Some(v) = loader.finish(&cfg) {
            ctx.expire_if_needed(dst);
            ctx.db().set(dst, v);
        }
        ctx.dirty(n as u64);
    } else if ctx.db().remove(dst).is_some() {
        // Redis deletes the destination without an expiry check here.
        ctx.dirty(1);
    }
    Reply::Int(n as i64)
}

/// Elements of the value at `key` as strings: `take` of them after skipping `skip`, from the
/// tail when `rev` (lists and sorted sets; sets have no tail).
fn read_range(ctx: &mut Ctx<'_>, key: &[u8], rev: bool, skip: usize, take: usize) -> Vec<Vec<u8>> {
    fn collect<'a>(
        it: impl DoubleEndedIterator<Item = Elem<'a>>,
        rev: bool,
        skip: usize,
        take: usize,
    ) -> Vec<Vec<u8>> {
        if rev {
            it.rev().skip(skip).take(take).map(|e| e.to_vec()).collect()
        } else {
            it.skip(skip).take(take).map(|e| e.to_vec()).collect()
        }
    }
    match ctx.lookup_value(key) {
        Some(Value::List(l)) => {
            let v: Vec<Elem<'_>> = l.iter().collect();
            collect(v.into_iter(), rev, skip, take)
        }
        Some(Value::Set(s)) => s.iter().skip(skip).take(take).map(|e| e.to_vec()).collect(),
        Some(Value::ZSet(z)) => {
            let v: Vec<Elem<'_>> = z.iter().map(|(m, _)| m).collect();
            collect(v.into_iter(), rev, skip, take)
        }
        _ => Vec::new(),
    }
}

/// Rebuild a sorted set in the skiplist encoding (what Redis's `zsetConvert` does before
/// SORT reads one), through the loader with a listpack limit of zero.
fn to_skiplist(z: &mut Box<crate::keyspace::zset::ZSet>, cfg: &crate::keyspace::Config) {
    let mut big = cfg.clone();
    big.zset_max_listpack_entries = 0;
    let mut loader = zset::Loader::new(&big);
    loader.len_hint(z.len() as u64);
    for (m, score) in z.iter() {
        loader.zset_member(m, score);
    }
    if let Some(Value::ZSet(new)) = loader.finish(&big) {
        *z = new;
    }
}

/// The part of `b` a C string function sees: up to the first NUL.
fn c_prefix(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` of the
/// pattern is replaced by the element to name a key, whose string value is returned, or with
/// `->field` after the `*`, that field of the hash at that key. `None` when the pattern has
/// no `*`, the key is missing or of another type, or the field is missing.
fn lookup_by_pattern(ctx: &mut Ctx<'_>, pat: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    // Redis reads the pattern as a C string in places (the '#', '*' and '->' searches) and as
    // the whole argument in others (the lengths); both are kept here.
    if pat.first() == Some(&b'#') && pat.get(1).is_none_or(|&c| c == 0) {
        return Some(subst.to_vec());
    }
    let cpat = c_prefix(pat);
    let star = cpat.iter().position(|&c| c == b'*')?;
    let arrow = cpat[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < cpat.len());
    let (post_end, field) = match arrow {
        Some(f) => (f, Some(&pat[f + 2..])),
        None => (pat.len(), None),
    };
    let mut key = Vec::with_capacity(star + subst.len() + (post_end - star));
    key.extend_from_slice(&pat[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pat[star + 1..post_end]);
    let now = ctx.now_ms;
    match (ctx.lookup_value(&key)?, field) {
        (Value::Hash(h), Some(f)) => h
            .iter()
            .find(|(k, _, exp)| elem_is(*k, f) && exp.is_none_or(|t| t >= now))
            .map(|(_, v, _)| v.to_vec()),
        (v, None) => string_bytes(v).map(|b| b.into_owned()),
        _ => None,
    }
}

fn elem_is(e: Elem<'_>, b: &[u8]) -> bool {
    match e {
        Elem::Bytes(x) => x == b,
        Elem::Int(_) => e.to_vec() == b,
    }
}

/// SORT's number parsing: C's `strtod` over the C string, which must be consumed whole (an
/// empty string is 0); NaN and out-of-range results (overflow, underflow) are errors.
fn strtod_whole(b: &[u8]) -> Option<f64> {
    let s = c_prefix(b);
    if s.is_empty() {
        return Some(0.0);
    }
    let (v, used, range_err) = strtod(s)?;
    if used != s.len() || range_err || v.is_nan() {
        return None;
    }
    Some(v)
}

/// A model of glibc's `strtod` on `s`: the value, the bytes consumed, and whether it set
/// ERANGE. `None` when nothing converts.
fn strtod(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+') | Some(b'-')) {
        i += 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let lower: Vec<u8> = rest.iter().take(8).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"infinity") {
        return Some((sign * f64::INFINITY, i + 8, false));
    }
    if lower.starts_with(b"inf") {
        return Some((sign * f64::INFINITY, i + 3, false));
    }
    if lower.starts_with(b"nan") {
        let mut end = i + 3;
        if s.get(end) == Some(&b'(') {
            if let Some(close) = s[end..].iter().position(|&c| c == b')') {
                if s[end + 1..end + close]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    end += close + 1;
                }
            }
        }
        return Some((f64::NAN, end, false));
    }
    if lower.starts_with(b"0x") {
        if let Some(r) = hex_float(&s[i + 2..]) {
            let (v, used) = r;
            let v = sign * v;
            let range = v.is_infinite() || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
            return Some((v, i + 2 + used, range));
        }
        // Only the "0" converts.
        return Some((0.0 * sign, i + 1, false));
    }
    let start = i;
    let mut digits = 0;
    let mut nonzero = false;
    while i < s.len() && s[i].is_ascii_digit() {
        nonzero |= s[i] != b'0';
        i += 1;
        digits += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            nonzero |= s[i] != b'0';
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e') | Some(b'E')) {
        let mut k = i + 1;
        if matches!(s.get(k), Some(b'+') | Some(b'-')) {
            k += 1;
        }
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            i = k;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    let range = v.is_infinite() || (nonzero && (v == 0.0 || v < f64::MIN_POSITIVE));
    Some((sign * v, i, range))
}

/// The digits of a hexadecimal float after "0x": mantissa with an optional point, optional
/// binary exponent `p[+-]d`. `None` without any hex digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let mut v = 0.0f64;
    let mut digits = 0;
    let mut scale = 0i32;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(16)) {
        v = v * 16.0 + d as f64;
        i += 1;
        digits += 1;
    }
    if s.get(i) == Some(&b'.') {
        let mut k = i + 1;
        while let Some(d) = s.get(k).and_then(|&c| (c as char).to_digit(16)) {
            v = v * 16.0 + d as f64;
            scale -= 4;
            k += 1;
            digits += 1;
        }
        if digits > 0 {
            i = k;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'p') | Some(b'P')) {
        let mut k = i + 1;
        let neg = s.get(k) == Some(&b'-');
        if matches!(s.get(k), Some(b'+') | Some(b'-')) {
            k += 1;
        }
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            let mut e: i32 = 0;
            while let Some(&c) = s.get(k).filter(|c| c.is_ascii_digit()) {
                e = e.saturating_mul(10).saturating_add((c - b'0') as i32);
                k += 1;
            }
            scale = scale.saturating_add(if neg { -e } else { e });
            i = k;
        }
    }
    Some((v * 2f64.powi(scale), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_glibc() {
        assert_eq!(strtod_whole(b"1.5"), Some(1.5));
        assert_eq!(strtod_whole(b" 7"), Some(7.0));
        assert_eq!(strtod_whole(b"7 "), None);
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b"12\0junk"), Some(12.0));
        assert_eq!(strtod_whole(b"inf"), Some(f64::INFINITY));
        assert_eq!(strtod_whole(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_whole(b"nan"), None);
        assert_eq!(strtod_whole(b"1e400"), None);
        assert_eq!(strtod_whole(b"1e-400"), None);
        assert_eq!(strtod_whole(b"0x10"), Some(16.0));
        assert_eq!(strtod_whole(b"0x1p-2"), Some(0.25));
        assert_eq!(strtod_whole(b"1e"), None);
        assert_eq!(strtod_whole(b"1e5"), Some(1e5));
        assert_eq!(strtod_whole(b".5"), Some(0.5));
        assert_eq!(strtod_whole(b"5."), Some(5.0));
        assert_eq!(strtod_whole(b"."), None);
        assert_eq!(strtod_whole(b"abc"), None);
        assert_eq!(strtod_whole(b"-0"), Some(-0.0));
        assert_eq!(strtod_whole(b"0.0"), Some(0.0));
    }

    #[test]
    fn c_prefix_stops_at_nul() {
        assert_eq!(c_prefix(b"ab\0c"), b"ab");
        assert_eq!(c_prefix(b"abc"), b"abc");
    }
}

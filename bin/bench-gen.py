#!/usr/bin/env python3
"""Write the RESP commands that fill a redis-server with the benchmark dataset.

Stdlib only. The output is meant for `redis-cli -p PORT --pipe`. The dataset is
fully determined by --seed and the size options, so the same command always
produces the same commands (and so the same keys and values).

Dataset (issue spec), for --keys N:
  60% strings: `value-<random 48-bit>` or a random 40-bit integer, half each
  10% lists:   5, 10 or 200 elements
  10% hashes:  5, 10 or 600 fields
  10% sets:    5, 10 or 600 members; half of the sets hold only integers
  10% zsets:   5, 10 or 200 members
  10% of all keys get a TTL far in the future (year 2100 and later), so that
  nothing expires while the benchmark runs.

The element lengths (--list-len, --hash-val-len, --set-len, --zset-len) were
tuned so that 1,000,000 keys SAVE to about 650 MB; each element is
`len + 0..7` random alphanumeric bytes.
"""

import argparse
import random
import sys

ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
POOL_BITS = 22
POOL_SIZE = 1 << POOL_BITS
TTL_BASE_MS = 4102444800000  # 2100-01-01T00:00:00Z


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--list-len", type=int, default=5, help="base length of a list element")
    ap.add_argument("--hash-val-len", type=int, default=4, help="base length of a hash value")
    ap.add_argument("--set-len", type=int, default=5, help="base length of a non-integer set member")
    ap.add_argument("--zset-len", type=int, default=5, help="base length of a zset member")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    # A pool of random alphanumeric bytes: elements are slices of it at random
    # offsets, which is much faster than drawing every byte.
    table = bytes(ALNUM[i % len(ALNUM)] for i in range(256))
    pool = rng.randbytes(POOL_SIZE + 64).translate(table)

    getbits = rng.getrandbits
    rand = rng.random
    out = sys.stdout.buffer
    buf = []
    buffered = 0

    def elem(base):
        r = getbits(POOL_BITS + 3)
        off = r >> 3
        return pool[off : off + base + (r & 7)]

    def count(small, big):
        r = getbits(2)
        while r == 3:
            r = getbits(2)
        return (small[0], small[1], big)[r]

    hash_fields = [b"f%d" % j for j in range(600)]

    for i in range(args.keys):
        parts = []
        t = rng.randrange(10)  # 0-5 string, 6 list, 7 hash, 8 set, 9 zset
        if t <= 5:
            key = b"str:%d" % i
            if getbits(1):
                val = b"value-%d" % getbits(48)
            else:
                val = b"%d" % getbits(40)
            parts = [b"SET", key, val]
        elif t == 6:
            key = b"list:%d" % i
            n = count((5, 10), 200)
            parts = [b"RPUSH", key]
            parts.extend(elem(args.list_len) for _ in range(n))
        elif t == 7:
            key = b"hash:%d" % i
            n = count((5, 10), 600)
            parts = [b"HSET", key]
            for j in range(n):
                parts.append(hash_fields[j])
                parts.append(elem(args.hash_val_len))
        elif t == 8:
            key = b"set:%d" % i
            n = count((5, 10), 600)
            parts = [b"SADD", key]
            if getbits(1):
                parts.extend(b"%d" % getbits(31) for _ in range(n))
            else:
                parts.extend(elem(args.set_len) for _ in range(n))
        else:
            key = b"zset:%d" % i
            n = count((5, 10), 200)
            parts = [b"ZADD", key]
            for _ in range(n):
                # Multiples of 1/256: exact in a double, short as text.
                parts.append(repr(getbits(24) / 256).encode())
                parts.append(elem(args.zset_len))
        cmd = [b"*%d\r\n" % len(parts)]
        for p in parts:
            cmd.append(b"$%d\r\n" % len(p))
            cmd.append(p)
            cmd.append(b"\r\n")
        if rand() < 0.1:  # 10% of keys get a TTL
            ms = b"%d" % (TTL_BASE_MS + getbits(32))
            cmd.append(b"*3\r\n$9\r\nPEXPIREAT\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(ms), ms))
        chunk = b"".join(cmd)
        buf.append(chunk)
        buffered += len(chunk)
        if buffered >= 1 << 20:
            out.write(b"".join(buf))
            buf.clear()
            buffered = 0
    out.write(b"".join(buf))
    out.flush()


if __name__ == "__main__":
    main()

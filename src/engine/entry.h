/*
 * entry.h — the byte layout of one key-value entry, as it lies in a shard's arena.
 *
 *   +-------+-------+--------+----------+-----------+-------------+------------+-----------+
 *   | head  | [ext] | [klen] | vlen, P  | version   | expire_at   | key        | value     |
 *   | 1 B   | 0-1 B | varint | varint   | varint    | 8 B, only   | klen B, or | vlen B    |
 *   |       |       | 0-5 B  | 1-5 B    | 1-10 B    | if ENT_TTL  | klen - L B |           |
 *   +-------+-------+--------+----------+-----------+-------------+------------+-----------+
 *
 * The head byte:   bits 7-6  access frequency (0-3), what the eviction policies read (evict.c)
 *                  bit  5    ENT_TTL: an expiration time is present
 *                  bits 4-0  key length when below 30; 30: the length follows as a varint;
 *                            31: an extension byte of rarer flags (ENT_COMPRESSED, ENT_TYPED)
 *                            follows, then the length as a varint.
 * Keys are short and most values plain, so the common entry spends one byte on flags, key
 * length and the policy's counter together; compressed or typed values (large by nature) pay
 * one or two bytes more. The frequency bits change in place on reads (under the shard lock);
 * every other byte of an entry is immutable once written, except expire_at (TTL updates) and
 * an overwrite of the same size rewriting it in place (shard_store(), entry_rewrite()).
 *
 * The second varint is vlen << 1 | P. With P set, the key's first L bytes are not stored: they
 * are the prefix of the segment the entry lies in (entry_pfx, L = its len, 1-15), and only the
 * rest of the key follows (klen, in the head or its varint, is still the whole key's length).
 * Keys in a keyspace share prefixes ("user:", "session:", "key:00"), so a 16-byte key often
 * keeps 6-10 bytes; P costs nothing below 64-byte values (vlen 0-63 still fits one byte).
 * Only keys of up to ENT_PFX_KEY_MAX bytes are stored this way, so that a whole key can always
 * be rebuilt in a small buffer (entry_key()).
 *
 * The version is stored relative to vbase, the version its segment started with (arena.h),
 * split the way the clock builds it (Unix ms << 16 | logical counter, util/clock.h):
 *
 *     varint( zigzag(ms - vbase's ms) << 2 | min(counter, 3) ) [ varint(counter - 3) ]
 *
 * Versions come from the shard's own clock (design.md "Versions"), so the counter is 0-2 unless
 * one shard takes several writes in one millisecond, and the ms difference is the age of the
 * segment when the entry was written: 1 byte for entries written within 16 ms of their
 * segment's start, 2 within 2 s. An entry copied to another segment (compaction, TTL changes,
 * eviction's reinsertion) is encoded against that segment's base; zigzag keeps older versions
 * (negative differences) cheap too. Any 64-bit value round-trips (restored versions need not
 * have come from this clock).
 *
 * Entries are packed back to back with no alignment or padding (fields are read with memcpy),
 * so a 16-byte key with a 32-byte value and no TTL takes 51-55 bytes, 6 fewer with a 6-byte
 * prefix. Entries are never resized
 * in place: a write that changes the size appends a new entry and leaves the old bytes as they
 * were. Whether an entry is live is known from the index; but a dead entry's first bytes are
 * overwritten with a marker (entry_kill(): an extension byte with its top bit set, which no
 * live entry has, then the entry's size), so that compaction and eviction, which walk a
 * segment's entries in order, skip dead ones without hashing the key and probing the index
 * (half the entries a compaction visits under random overwrites; 7 % of a pipelined SET's
 * server time was that probe).
 */
#ifndef MNEMO_ENGINE_ENTRY_H
#define MNEMO_ENGINE_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    ENT_TYPE_STRING = 0,   /* no flags: a plain string value */
    ENT_KLEN_MASK = 0x1f,  /* key length field of the head */
    ENT_KLEN_VAR = 30,     /* field value: the key length follows as a varint */
    ENT_KLEN_EXT = 31,     /* field value: an extension byte, then the length as a varint */
    ENT_TTL = 0x20,        /* in the head byte */
    ENT_FREQ_SHIFT = 6,    /* the head byte's top two bits */
    ENT_FREQ_MAX = 3,
    /* Logical flags (entry.flags); ENT_COMPRESSED and ENT_TYPED live in the extension byte,
     * shifted down by 6 (bit 0 and bit 1). */
    ENT_COMPRESSED = 0x40,
    ENT_TYPED = 0x80,
    ENT_EXT_FLAGS = ENT_COMPRESSED | ENT_TYPED,
    ENT_FLAGS = ENT_TTL | ENT_EXT_FLAGS,
    ENT_EXT_DEAD = 0x80,   /* in the extension byte: a dead entry (entry_kill()) */
    ENT_MIN_SIZE = 3,      /* head, vlen and version: an empty key and value */
};

#define ENT_PFX_MAX 15      /* longest segment prefix */
#define ENT_PFX_KEY_MAX 64  /* longest key stored after a prefix (what entry_key() needs) */

/* A segment's key prefix: the first `len` bytes of the keys its P entries leave out. */
typedef struct entry_pfx {
    uint8_t len; /* 0: the segment has none */
    uint8_t b[ENT_PFX_MAX];
} entry_pfx;

/* A decoded entry: pointers into the arena, valid while the shard lock is held and until the
 * next write to the shard. The key is pfx[0..plen) followed by key[0..klen - plen): use
 * entry_key() or entry_key_eq() rather than `key` alone. */
typedef struct entry {
    uint8_t *base;
    uint8_t flags;         /* ENT_TTL | ENT_COMPRESSED | ENT_TYPED */
    uint8_t plen;          /* key bytes taken from the segment's prefix (0 if not P) */
    uint32_t klen, vlen;   /* klen: the whole key */
    uint64_t version;
    uint8_t *exp;  /* 8 bytes, or NULL without ENT_TTL */
    uint8_t *key;  /* the stored part of the key: klen - plen bytes */
    uint8_t *val;
    uint32_t size; /* whole entry, header included */
    uint8_t pfx[ENT_PFX_MAX]; /* a copy (the segment table may move when the arena grows) */
} entry;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ENT_FIRST_DIFF(x) ((unsigned)__builtin_clzll(x) / 8) /* index of the first unequal byte */
#else
#define ENT_FIRST_DIFF(x) ((unsigned)__builtin_ctzll(x) / 8)
#endif

/* The length of the common prefix of a[0..n) and b[0..n), n <= 16, with word loads (two that
 * overlap from 8 bytes up) instead of a call to memcmp: prefixes are short and compared on
 * every write and every prefixed lookup. */
static inline unsigned entry_lcp16(const uint8_t *a, const uint8_t *b, unsigned n)
{
    if (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return ENT_FIRST_DIFF(x ^ y);
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y ? n : n - 8 + ENT_FIRST_DIFF(x ^ y);
    }
    unsigned i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Whether a[0..n) equals b[0..n), n <= 16: two overlapping word loads of 8 or 4 bytes (a key's
 * stored rest after a segment prefix is often 4-7 bytes, which entry_lcp16() compares a byte
 * at a time). */
static inline int entry_eq16(const uint8_t *a, const uint8_t *b, unsigned n)
{
    if (n >= 8)
        return entry_lcp16(a, b, n) == n;
    if (n >= 4) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    for (unsigned i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* How many of the key's bytes a segment with prefix p leaves out: p->len if the key starts
 * with the prefix (and is short enough to be rebuilt in a small buffer), else 0. */
static inline unsigned entry_pfx_use(const entry_pfx *p, const void *key, size_t klen)
{
    if (!p || !p->len || klen < p->len || klen > ENT_PFX_KEY_MAX ||
        entry_lcp16((const uint8_t *)key, p->b, p->len) != p->len)
        return 0;
    return p->len;
}

/* The whole key: e->key itself, or the prefix and the stored rest assembled in buf (which has
 * at least ENT_PFX_KEY_MAX bytes). */
static inline const uint8_t *entry_key(const entry *e, uint8_t *buf)
{
    if (!e->plen)
        return e->key;
    memcpy(buf, e->pfx, ENT_PFX_MAX); /* a fixed size is inlined; the rest overwrites it */
    memcpy(buf + e->plen, e->key, e->klen - e->plen);
    return buf;
}

/* Whether the entry's key is key[0..klen). A stored rest of up to 16 bytes (most keys) is
 * compared inline with entry_eq16's word loads: the call to memcmp was 2-4 % of a pipelined
 * GET or INCR. */
static inline int entry_key_eq(const entry *e, const void *key, size_t klen)
{
    const uint8_t *k = (const uint8_t *)key;
    size_t rest = klen - e->plen;
    return e->klen == klen && (e->plen == 0 || entry_eq16(k, e->pfx, e->plen)) &&
           (rest <= 16 ? entry_eq16(k + e->plen, e->key, (unsigned)rest)
                       : memcmp(k + e->plen, e->key, rest) == 0);
}

static inline size_t entry_varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *entry_varint_put(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline const uint8_t *entry_varint_get(const uint8_t *p, uint32_t *v)
{
    uint32_t r = 0;
    unsigned shift = 0;
    while (*p & 0x80) {
        r |= (uint32_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    *v = r | (uint32_t)*p++ << shift;
    return p;
}

static inline size_t entry_varint64_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The stored form of a version (see the top of this file): the leading varint, and whether the
 * counter needs a second one. */
static inline uint64_t entry_vcode(uint64_t version, uint64_t vbase)
{
    int64_t d = (int64_t)((version >> 16) - (vbase >> 16));
    uint64_t z = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
    uint64_t c = version & 0xffff;
    return z << 2 | (c < 3 ? c : 3);
}

static inline size_t entry_vsize(uint64_t version, uint64_t vbase)
{
    uint64_t c = version & 0xffff;
    return entry_varint64_len(entry_vcode(version, vbase)) +
           (c < 3 ? 0 : entry_varint_len((uint32_t)c - 3));
}

/* Padding: the version's leading varint may be written wider than it needs (continuation bytes
 * with nothing in them, which entry_decode() reads as any varint), up to the 10 bytes a 64-bit
 * varint can take. That lets a rewrite in place keep an entry's size when its new version is
 * shorter, and lets an entry leave room for versions to come (ENT_VERSION_ROOM). */
#define ENT_VERSION_ROOM 4 /* bytes an overwritten key's version field is padded to */

/* Most padding the version field of (version, vbase) can take. */
static inline size_t entry_vpad_max(uint64_t version, uint64_t vbase)
{
    return 10 - entry_varint64_len(entry_vcode(version, vbase));
}

/* Padding that makes the version field of (version, vbase) at least `room` bytes. */
static inline size_t entry_vpad(uint64_t version, uint64_t vbase, unsigned room)
{
    size_t vs = entry_vsize(version, vbase);
    return vs < room ? room - vs : 0;
}

/* Size of an entry with these lengths, flags (ENT_FLAGS), version and segment base, leaving out
 * plen bytes of the key (entry_pfx_use()). */
static inline size_t entry_size(uint32_t klen, uint32_t vlen, uint8_t flags, uint64_t version,
                                uint64_t vbase, unsigned plen)
{
    size_t head = 1;
    if (flags & ENT_EXT_FLAGS)
        head += 1 + entry_varint_len(klen);
    else if (klen >= ENT_KLEN_VAR)
        head += entry_varint_len(klen);
    return head + entry_varint_len(vlen << 1 | (plen != 0)) + entry_vsize(version, vbase) +
           ((flags & ENT_TTL) ? 8 : 0) + klen - plen + vlen;
}

/* The access frequency the eviction policies keep in the head byte (0..ENT_FREQ_MAX). */
static inline unsigned entry_freq(const uint8_t *p)
{
    return p[0] >> ENT_FREQ_SHIFT;
}

static inline void entry_set_freq(uint8_t *p, unsigned f)
{
    p[0] = (uint8_t)((p[0] & ~(ENT_FREQ_MAX << ENT_FREQ_SHIFT)) | f << ENT_FREQ_SHIFT);
}

/* Counts an access: saturating, and a store only when the count changes (a hot key's line is
 * not dirtied on every read). */
static inline void entry_touch(uint8_t *p)
{
    if (p[0] < (ENT_FREQ_MAX << ENT_FREQ_SHIFT))
        p[0] = (uint8_t)(p[0] + (1u << ENT_FREQ_SHIFT));
}

static inline uint64_t entry_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void entry_store64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Only the whole key of the entry at p (as entry_key(), into buf when it has a prefix) and
 * its length: the header is skipped, not decoded. An index migration rehashes every key of a
 * growing shard, a few times each, and needs nothing else of the entry. */
static inline const uint8_t *entry_key_at(const uint8_t *p, const entry_pfx *pfx, uint8_t *buf,
                                          uint32_t *klen)
{
    const uint8_t *q = p + 1;
    uint32_t kl = p[0] & ENT_KLEN_MASK, vl;
    if (kl >= ENT_KLEN_VAR) {
        q += kl == ENT_KLEN_EXT;
        q = entry_varint_get(q, &kl);
    }
    q = entry_varint_get(q, &vl);
    int counter_follows = (*q & 3) == 3; /* the version's low bits: min(counter, 3) */
    while (*q++ & 0x80) {
    }
    if (counter_follows) {
        while (*q++ & 0x80) {
        }
    }
    if (p[0] & ENT_TTL)
        q += 8;
    *klen = kl;
    if (!(vl & 1))
        return q;
    memcpy(buf, pfx->b, ENT_PFX_MAX);
    memcpy(buf + pfx->len, q, kl - pfx->len);
    return buf;
}

/* Decodes the entry at p, which lies in a segment whose version base is vbase and whose prefix
 * is pfx. */
static inline void entry_decode(uint8_t *p, uint64_t vbase, const entry_pfx *pfx, entry *e)
{
    const uint8_t *q = p + 1;
    e->base = p;
    e->flags = p[0] & ENT_TTL;
    e->klen = p[0] & ENT_KLEN_MASK;
    if (e->klen >= ENT_KLEN_VAR) {
        if (e->klen == ENT_KLEN_EXT)
            e->flags |= (uint8_t)(*q++ << 6) & ENT_EXT_FLAGS;
        q = entry_varint_get(q, &e->klen);
    }
    q = entry_varint_get(q, &e->vlen);
    e->plen = 0;
    if (e->vlen & 1) {
        e->plen = pfx->len;
        memcpy(e->pfx, pfx->b, ENT_PFX_MAX);
    }
    e->vlen >>= 1;
    uint64_t z = 0;
    unsigned shift = 0;
    while (*q & 0x80) {
        z |= (uint64_t)(*q++ & 0x7f) << shift;
        shift += 7;
    }
    z |= (uint64_t)*q++ << shift;
    uint32_t c = (uint32_t)(z & 3);
    if (c == 3) {
        q = entry_varint_get(q, &c);
        c += 3;
    }
    z >>= 2;
    e->version = ((vbase >> 16) + (uint64_t)((int64_t)(z >> 1) ^ -(int64_t)(z & 1))) << 16 | c;
    if (e->flags & ENT_TTL) {
        e->exp = (uint8_t *)q;
        q += 8;
    } else {
        e->exp = NULL;
    }
    e->key = (uint8_t *)q;
    e->val = (uint8_t *)q + e->klen - e->plen;
    e->size = (uint32_t)(e->val + e->vlen - p);
}

/* Writes the header and key of a new entry at p (which has entry_size() + vpad bytes, for the
 * same flags, version, vbase and plen; vpad <= entry_vpad_max()), with access frequency 0;
 * fills *e. plen is 0 or entry_pfx_use(pfx, key, klen) for the prefix of p's segment. The
 * value bytes are the caller's to write, at e->val. ENT_TTL is taken from expire_at, not from
 * flags. */
static inline void entry_init_pad(uint8_t *p, uint8_t flags, const void *key, uint32_t klen,
                                  uint32_t vlen, uint64_t version, uint64_t vbase,
                                  const entry_pfx *pfx, unsigned plen, int64_t expire_at,
                                  size_t vpad, entry *e)
{
    uint8_t *q = p;
    flags &= ENT_FLAGS;
    if (expire_at > 0)
        flags |= ENT_TTL;
    else
        flags &= (uint8_t)~ENT_TTL;
    if (flags & ENT_EXT_FLAGS) {
        *q++ = (uint8_t)((flags & ENT_TTL) | ENT_KLEN_EXT);
        *q++ = (uint8_t)((flags & ENT_EXT_FLAGS) >> 6);
        q = entry_varint_put(q, klen);
    } else if (klen >= ENT_KLEN_VAR) {
        *q++ = (uint8_t)((flags & ENT_TTL) | ENT_KLEN_VAR);
        q = entry_varint_put(q, klen);
    } else {
        *q++ = (uint8_t)((flags & ENT_TTL) | klen);
    }
    q = entry_varint_put(q, vlen << 1 | (plen != 0));
    uint64_t z = entry_vcode(version, vbase);
    int more = (z & 3) == 3;
    for (size_t n = entry_varint64_len(z) + vpad; n > 1; n--) { /* padded: 0x80 bytes */
        *q++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *q++ = (uint8_t)z;
    if (more)
        q = entry_varint_put(q, (uint32_t)(version & 0xffff) - 3);
    if (flags & ENT_TTL) {
        entry_store64(q, (uint64_t)expire_at);
        q += 8;
    }
    if (klen > plen)
        memcpy(q, (const uint8_t *)key + plen, klen - plen);
    entry_decode(p, vbase, pfx, e);
}

/* Rewrites in place the version and expiration of the entry *e for a new value of the same
 * length and flags, which the caller then writes at e->val: the head, lengths and key stay as
 * they are, and the version field keeps its width (padded as entry_init_pad() pads). Returns 0,
 * writing nothing, if the version does not fit that width. What a counter's INCR needs:
 * entry_init_pad() rebuilds and decodes the whole entry, 220 of a pipelined INCR's 2,488
 * instructions. */
static inline int entry_rewrite(entry *e, uint64_t version, uint64_t vbase, int64_t expire_at)
{
    const uint8_t *q = e->base + 1;
    unsigned kf = e->base[0] & ENT_KLEN_MASK;
    if (kf >= ENT_KLEN_VAR) {
        q += kf == ENT_KLEN_EXT;
        while (*q++ & 0x80) { /* the key length */
        }
    }
    while (*q++ & 0x80) { /* vlen << 1 | P */
    }
    uint8_t *w = (uint8_t *)q, *end = e->exp ? e->exp : e->key;
    size_t width = (size_t)(end - w);
    uint64_t z = entry_vcode(version, vbase), c = version & 0xffff;
    size_t more = c < 3 ? 0 : entry_varint_len((uint32_t)c - 3);
    size_t zw = width - more; /* the leading varint's width, padded */
    if (more + entry_varint64_len(z) > width || zw > 10)
        return 0;
    for (size_t n = zw; n > 1; n--) {
        *w++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *w++ = (uint8_t)z;
    if (more)
        (void)entry_varint_put(w, (uint32_t)c - 3);
    if (e->exp)
        entry_store64(e->exp, (uint64_t)expire_at);
    e->version = version;
    return 1;
}

/* entry_init() with a version field of minimal width. */
static inline void entry_init(uint8_t *p, uint8_t flags, const void *key, uint32_t klen,
                              uint32_t vlen, uint64_t version, uint64_t vbase,
                              const entry_pfx *pfx, unsigned plen, int64_t expire_at, entry *e)
{
    entry_init_pad(p, flags, key, klen, vlen, version, vbase, pfx, plen, expire_at, 0, e);
}

/* Marks the entry of `size` bytes at p dead: a head with an extension byte that has
 * ENT_EXT_DEAD, then the size as a varint (3 bytes up to 127, 4 up to 16383: an entry always
 * has room for its own size). The rest of its bytes are left as they were. */
static inline void entry_kill(uint8_t *p, uint32_t size)
{
    p[0] = ENT_KLEN_EXT;
    p[1] = ENT_EXT_DEAD;
    (void)entry_varint_put(p + 2, size);
}

/* The size of the entry at p if entry_kill() marked it dead, else 0. */
static inline uint32_t entry_dead_size(const uint8_t *p)
{
    if ((p[0] & ENT_KLEN_MASK) != ENT_KLEN_EXT || !(p[1] & ENT_EXT_DEAD))
        return 0;
    uint32_t n;
    (void)entry_varint_get(p + 2, &n);
    return n;
}

static inline uint64_t entry_version(const entry *e)
{
    return e->version;
}

/* Absolute expiration in Unix ms, 0 if none. */
static inline int64_t entry_expire_at(const entry *e)
{
    return e->exp ? (int64_t)entry_load64(e->exp) : 0;
}

#endif

/*
 * entry.h — the byte layout of one key-value entry, as it lies in a shard's arena.
 *
 *   +-------+-------+--------+--------+-----------+-------------+---------+-----------+
 *   | head  | [ext] | [klen] | vlen   | version   | expire_at   | key     | value     |
 *   | 1 B   | 0-1 B | varint | varint | varint    | 8 B, only   | klen B  | vlen B    |
 *   |       |       | 0-5 B  | 1-5 B  | 1-10 B    | if ENT_TTL  |         |           |
 *   +-------+-------+--------+--------+-----------+-------------+---------+-----------+
 *
 * The head byte:   bits 7-6  access frequency (0-3), what the eviction policies read (evict.c)
 *                  bit  5    ENT_TTL: an expiration time is present
 *                  bits 4-0  key length when below 30; 30: the length follows as a varint;
 *                            31: an extension byte of rarer flags (ENT_COMPRESSED, ENT_TYPED)
 *                            follows, then the length as a varint.
 * Keys are short and most values plain, so the common entry spends one byte on flags, key
 * length and the policy's counter together; compressed or typed values (large by nature) pay
 * one or two bytes more. The frequency bits change in place on reads (under the shard lock);
 * every other byte of an entry is immutable once written, except expire_at (TTL updates).
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
 * so a 16-byte key with a 32-byte value and no TTL takes 51-55 bytes. Entries are never resized
 * in place: a write that changes the size appends a new entry and leaves the old bytes as they
 * were; whether an entry is live is known from the index alone (compaction asks it), so no
 * header bit is spent on it.
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
};

/* A decoded entry: pointers into the arena, valid while the shard lock is held and until the
 * next write to the shard. */
typedef struct entry {
    uint8_t *base;
    uint8_t flags;         /* ENT_TTL | ENT_COMPRESSED | ENT_TYPED */
    uint32_t klen, vlen;
    uint64_t version;
    uint8_t *exp;  /* 8 bytes, or NULL without ENT_TTL */
    uint8_t *key;
    uint8_t *val;
    uint32_t size; /* whole entry, header included */
} entry;

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

/* Size of an entry with these lengths, flags (ENT_FLAGS), version and segment base. */
static inline size_t entry_size(uint32_t klen, uint32_t vlen, uint8_t flags, uint64_t version,
                                uint64_t vbase)
{
    size_t head = 1;
    if (flags & ENT_EXT_FLAGS)
        head += 1 + entry_varint_len(klen);
    else if (klen >= ENT_KLEN_VAR)
        head += entry_varint_len(klen);
    return head + entry_varint_len(vlen) + entry_vsize(version, vbase) +
           ((flags & ENT_TTL) ? 8 : 0) + klen + vlen;
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

/* Decodes the entry at p, which lies in a segment whose version base is vbase. */
static inline void entry_decode(uint8_t *p, uint64_t vbase, entry *e)
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
    e->val = (uint8_t *)q + e->klen;
    e->size = (uint32_t)(e->val + e->vlen - p);
}

/* Writes the header and key of a new entry at p (which has entry_size() bytes, for the same
 * flags, version and vbase), with access frequency 0; fills *e. The value bytes are the
 * caller's to write, at e->val. ENT_TTL is taken from expire_at, not from flags. */
static inline void entry_init(uint8_t *p, uint8_t flags, const void *key, uint32_t klen,
                              uint32_t vlen, uint64_t version, uint64_t vbase, int64_t expire_at,
                              entry *e)
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
    q = entry_varint_put(q, vlen);
    uint64_t z = entry_vcode(version, vbase);
    int more = (z & 3) == 3;
    while (z >= 0x80) {
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
    if (klen)
        memcpy(q, key, klen);
    entry_decode(p, vbase, e);
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

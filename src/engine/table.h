/*
 * table.h — a shard's index: open addressing with linear probing over 32-bit arena refs.
 *
 *   ctrl[cap + 16]  one control byte per slot: 0 empty, 1 tombstone, 0x80|tag occupied
 *                   (the last 16 bytes mirror the first 16, so a 16-byte SIMD load at any slot
 *                   reads the probe sequence without wrapping)
 *   refs[cap]       the entry's arena ref
 *
 * 5 bytes per slot at a load between 0.75 and 0.875: 5.7-6.7 bytes per key. The tag (7 hash
 * bits) rules out all but 1/128 of the non-matching slots before the entry is touched.
 *
 * The home slot of a hash is its top 32 bits scaled to cap ((h >> 32) * cap >> 32), so home
 * positions rise with the hash, for any cap (no power-of-two rounding of memory). An entry sits
 * at or after its home with no empty slot in between (tombstones keep runs unbroken; deletion
 * never moves entries). That is what SCAN's hash-range cursors rely on: every key whose hash is
 * in [a, b) lies in the run of slots starting at home(a) that ends at the first empty slot
 * after home(b - 1).
 *
 * Both arrays live in one allocation. From TABLE_MMAP_MIN bytes up it is a private mapping of
 * its own, so that a table freed after a resize goes back to the kernel at once instead of
 * staying behind as a hole in the malloc heap (which kept RSS ~4 bytes per key above what the
 * store accounts; at 16 KiB still ~2 bytes, the holes left by the 4-16 KiB tables of growing
 * shards, too small or oddly placed for the 4 KiB segments to reuse), and the table takes all
 * the slots its pages hold; from 2 MiB up the mapping asks for transparent huge pages.
 *
 * Not thread-safe: the owning shard's lock protects a table.
 */
#ifndef MNEMO_ENGINE_TABLE_H
#define MNEMO_ENGINE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define TABLE_EMPTY 0x00
#define TABLE_TOMB 0x01
#define TABLE_MIN_CAP 16u
#define TABLE_GROUP 16u
#define TABLE_MMAP_MIN (4u * 1024)

typedef struct table {
    uint8_t *ctrl;   /* NULL when cap == 0; refs follow in the same allocation (table_refs) */
    uint32_t cap;
    uint32_t count;  /* occupied slots */
    uint32_t tombs;  /* tombstones */
    uint32_t bytes;  /* memory held for ctrl and refs (mapping length, or the malloc chunk),
                        kept so that accounting need not ask the allocator on every write */
} table;

/* The refs array: after the control bytes, 4-byte aligned. */
static inline uint32_t *table_refs(const table *t)
{
    return (uint32_t *)(void *)(t->ctrl + (((size_t)t->cap + 16 + 3) & ~(size_t)3));
}

static inline uint8_t table_tag(uint64_t h)
{
    return (uint8_t)(0x80 | ((h >> 16) & 0x7f));
}

static inline uint32_t table_home(uint32_t cap, uint64_t h)
{
    return (uint32_t)(((h >> 32) * (uint64_t)cap) >> 32);
}

/* Allocates an empty table of `cap` slots (rounded up to a multiple of 16, at least 16).
 * Returns 0, or -1 on allocation failure (t untouched). */
int table_alloc(table *t, uint32_t cap);
void table_free(table *t);

/* Bytes the table's arrays hold (for memory accounting). */
static inline uint64_t table_mem(const table *t)
{
    return t->bytes;
}

static inline void table_set_ctrl(table *t, uint32_t i, uint8_t c)
{
    t->ctrl[i] = c;
    if (i < TABLE_GROUP)
        t->ctrl[t->cap + i] = c;
}

/* Probe state: walks the slots from the home of a hash whose ctrl byte equals the tag,
 * stopping at the first empty slot. */
typedef struct table_probe {
    uint32_t pos;      /* first slot of the current 16-slot group */
    uint32_t mask;     /* remaining candidate bits in the group */
    uint32_t empty;    /* 1 once the group holding the run's end was loaded */
    uint32_t insert;   /* first tombstone or empty slot seen, UINT32_MAX if none yet */
    uint8_t tag;
} table_probe;

/* The probe is inline: a lookup runs it up to three times (the hint's second pass, the lookup,
 * an insert's slot); out of line in table.c, the calls and the probe state in memory were
 * 135 of a pipelined INCR's 2,226 instructions. */
/* Bit i set where ctrl[pos + i] == c, for the 16 slots of a group. */
static inline uint32_t table_group_match(const uint8_t *ctrl, uint32_t pos, uint8_t c)
{
#if defined(__SSE2__)
    __m128i g = _mm_loadu_si128((const __m128i *)(ctrl + pos));
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_set1_epi8((char)c)));
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < TABLE_GROUP; i++)
        m |= (uint32_t)(ctrl[pos + i] == c) << i;
    return m;
#endif
}

/* Bit i set where ctrl[pos + i] is empty or a tombstone (high bit clear). */
static inline uint32_t table_group_free(const uint8_t *ctrl, uint32_t pos)
{
#if defined(__SSE2__)
    __m128i g = _mm_loadu_si128((const __m128i *)(ctrl + pos));
    return (uint32_t)_mm_movemask_epi8(g) ^ 0xffffu;
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < TABLE_GROUP; i++)
        m |= (uint32_t)(ctrl[pos + i] < 0x80) << i;
    return m;
#endif
}

/* Loads the group at p->pos: its candidates, whether the run ends in it, and (until one is
 * found) the first slot a new entry could take. */
static inline void table_probe_load(const table *t, table_probe *p)
{
    uint32_t m = table_group_match(t->ctrl, p->pos, p->tag);
    uint32_t e = table_group_match(t->ctrl, p->pos, TABLE_EMPTY);
    if (p->insert == UINT32_MAX) {
        uint32_t f = table_group_free(t->ctrl, p->pos);
        if (e) /* a slot past the run's end is no place to insert */
            f &= (e & -e) | ((e & -e) - 1);
        if (f) {
            uint32_t s = p->pos + (uint32_t)__builtin_ctz(f);
            p->insert = s >= t->cap ? s - t->cap : s;
        }
    }
    if (e) {
        m &= (e & -e) - 1; /* candidates before the first empty slot only */
        p->empty = 1;
    }
    p->mask = m;
}

static inline void table_probe_start(const table *t, uint64_t h, table_probe *p)
{
    p->tag = table_tag(h);
    p->insert = UINT32_MAX;
    p->empty = 0;
    p->mask = 0;
    if (!t->cap) {
        p->pos = 0;
        p->empty = 1;
        return;
    }
    p->pos = table_home(t->cap, h);
    table_probe_load(t, p);
}

/* Next candidate slot (ctrl matches the tag), or UINT32_MAX when the run ended. After it has
 * returned UINT32_MAX, p->insert is the slot where a new entry with this hash belongs. */
static inline uint32_t table_probe_next(const table *t, table_probe *p)
{
    for (;;) {
        if (p->mask) {
            uint32_t s = p->pos + (uint32_t)__builtin_ctz(p->mask);
            p->mask &= p->mask - 1;
            return s >= t->cap ? s - t->cap : s;
        }
        if (p->empty)
            return UINT32_MAX;
        p->pos += TABLE_GROUP;
        if (p->pos >= t->cap)
            p->pos -= t->cap;
        table_probe_load(t, p);
    }
}

/* Puts ref at slot (which must be empty or a tombstone). */
void table_put(table *t, uint32_t slot, uint64_t h, uint32_t ref);

/* Removes the entry at slot (leaves a tombstone, or an empty slot when the next one is empty). */
void table_remove(table *t, uint32_t slot);

/* Finds a slot for a hash known to be absent (during rehash): the first empty or tombstone. */
uint32_t table_insert_slot(const table *t, uint64_t h);

/* Largest count + tombs before the table must be rebuilt: 7/8 of cap. */
static inline uint32_t table_max_fill(const table *t)
{
    return t->cap - t->cap / 8;
}

#endif

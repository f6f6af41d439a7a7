/*
 * arena.h — where a shard's entries live: a log-structured set of segments.
 *
 * Small entries (up to ARENA_LARGE bytes) are appended to the shard's head segment (4-64 KiB
 * less a malloc header, growing with the shard); when it is full it is sealed and a new head is started. A larger entry
 * gets a segment of its own, of exactly its size. An entry is named by a 32-bit ref:
 *
 *     ref = segment id << 16 | byte offset in the segment        (so segments are <= 64 KiB)
 *
 * which is what the index stores: 4 bytes per key instead of an 8-byte pointer, and no
 * per-entry malloc header or size-class rounding. Each small segment has a key prefix of its
 * own (learned from the shard's recent keys when the segment starts, arena_alloc_entry()) that
 * the keys of its entries may leave out (entry.h). Dead entries (overwritten or deleted) stay in
 * their segment, marked dead (entry_kill(); the index no longer points at them), until the
 * segment is freed: at once when its last live entry
 * dies, or when compaction copies its live entries to the head (arena_pick_victim() chooses the
 * sealed segment with the most garbage; the shard moves the entries and fixes the index).
 *
 * Segments are kept in two FIFO queues, each with a head of its own that new entries are
 * appended to: queue 0 (ARENA_Q_SMALL, the probation queue of S3-FIFO) and queue 1
 * (ARENA_Q_MAIN). Sealed segments are linked oldest first; eviction (evict.c) takes a queue's
 * oldest segment, reinserts the entries its policy keeps at that queue's (or the other queue's)
 * head and drops the rest, which frees the segment whole: evicting never fragments memory.
 * Compaction copies a segment's live entries to the head of the queue it belongs to.
 *
 * Memory accounting (alloc_bytes) uses malloc_usable_size plus the allocator's chunk header, so
 * it follows what the process really holds. Not thread-safe: the owning shard's lock protects it.
 */
#ifndef MNEMO_ENGINE_ARENA_H
#define MNEMO_ENGINE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "engine/entry.h"

#define ARENA_SEG_MAX (64u * 1024)   /* largest small segment; offsets fit in 16 bits */
#define ARENA_SEG_MIN (4u * 1024)
#define ARENA_SEG_HDR 8u             /* malloc's chunk header: a small segment is 2^k - 8 bytes */
#define ARENA_LARGE (8u * 1024)      /* entries above this get their own segment */
#define ARENA_MAX_SEGS 65536u
#define ARENA_NONE UINT32_MAX

enum { ARENA_Q_SMALL = 0, ARENA_Q_MAIN = 1, ARENA_QUEUES = 2 };

typedef struct arena_seg {
    uint8_t *base; /* NULL for a free id */
    uint64_t vbase;/* version base its entries are encoded against (entry.h) */
    int64_t born;  /* Unix ms when it was started (the age eviction orders by) */
    uint32_t cap;  /* bytes allocated */
    uint32_t used; /* bytes appended */
    uint32_t live; /* bytes of live entries */
    uint32_t prev, next; /* its queue's FIFO links (older, newer); ARENA_NONE at the ends */
    uint8_t large; /* 1 if it holds one large entry */
    uint8_t queue; /* ARENA_Q_SMALL or ARENA_Q_MAIN */
    uint8_t sealed;/* 1 once linked into its queue (a head is not, until sealed) */
    entry_pfx pfx; /* the key prefix its entries may leave out (entry.h); fixed when started */
} arena_seg;      /* 64 bytes, line-aligned in the table */

_Static_assert(sizeof(arena_seg) == 64, "a segment record is one cache line");

typedef struct arena_queue {
    uint32_t head;       /* small segment entries are appended to, or ARENA_NONE */
    uint32_t oldest;     /* sealed segments, oldest first ... */
    uint32_t newest;     /* ... to newest; ARENA_NONE when none */
    uint64_t bytes;      /* cap of all its segments, head included */
} arena_queue;

typedef struct arena {
    arena_seg *segs;     /* first: what a lookup needs (arena_ptr) */
    uint32_t nsegs;      /* ids in use or free: segs[0..nsegs) */
    uint32_t segs_cap;
    uint32_t *free_ids;  /* stack of free ids below nsegs */
    uint32_t nfree;
    arena_queue q[ARENA_QUEUES];
    uint64_t alloc_bytes;/* memory held: segments and the arena's own arrays */
    uint64_t small_cap;  /* sum of cap over small segments */
    uint64_t small_live; /* sum of live over small segments */
    uint64_t head_room;  /* sum of cap - used over the queues' heads (not garbage yet) */
    uint64_t live_bytes; /* bytes of live entries, small and large */
    /* Learning the prefix the next segments get: keys written to small segments are compared
     * with a reference key, and lcp_count[n] counts those sharing exactly n bytes with it
     * (arena_alloc_entry). */
    entry_pfx ref;
    uint32_t lcp_count[ENT_PFX_MAX + 1];
} arena;

void arena_init(arena *a);
void arena_free_all(arena *a);

static inline uint8_t *arena_ptr(const arena *a, uint32_t ref)
{
    return a->segs[ref >> 16].base + (ref & 0xffff);
}

static inline uint64_t arena_vbase(const arena *a, uint32_t ref)
{
    return a->segs[ref >> 16].vbase;
}

static inline const entry_pfx *arena_pfx(const arena *a, uint32_t ref)
{
    return &a->segs[ref >> 16].pfx;
}

/* Decodes the entry at ref. */
static inline void arena_decode(const arena *a, uint32_t ref, entry *e)
{
    const arena_seg *s = &a->segs[ref >> 16];
    entry_decode(s->base + (ref & 0xffff), s->vbase, &s->pfx, e);
}

static inline unsigned arena_queue_of(const arena *a, uint32_t ref)
{
    return a->segs[ref >> 16].queue;
}

/* Where arena_alloc_entry() put an entry, and how to encode it there (entry_init()). */
typedef struct arena_place {
    uint32_t ref;
    uint32_t size;  /* the entry's size, as entry_size() */
    uint64_t vbase; /* the base to encode the version against */
    unsigned plen;  /* key bytes the segment's prefix holds (entry_pfx_use()) */
    unsigned vpad;  /* padding of the version field (entry_init_pad()), included in size */
} arena_place;

/* Reserves room in queue `q` for a new live entry with this key, value length, flags (entry.h)
 * and version, its version field padded to at least `vroom` bytes (entry_vpad(); 0: minimal);
 * fills *pl. A segment started for it takes `version` as its base, `now` as its
 * birth time and the learned key prefix. NULL on allocation failure. (A segment being
 * compacted or evicted is sealed, so it is never the head that entries are appended to.)
 * The segment table may move: pointers into it (arena_pfx()) are valid until the next call. */
uint8_t *arena_alloc_entry(arena *a, unsigned q, const void *key, uint32_t klen, uint32_t vlen,
                           uint8_t flags, uint64_t version, unsigned vroom, int64_t now,
                           arena_place *pl);

/* The oldest segment of queue q, sealing its head first if it has no sealed segment (so that
 * eviction can take it); ARENA_NONE if the queue is empty. */
uint32_t arena_oldest(arena *a, unsigned q);

/* Accounts the entry at ref (of `size` bytes) as dead; frees its segment if nothing live is
 * left, else marks the entry dead in place (entry_kill()): its bytes must not be read after
 * this call. */
void arena_release(arena *a, uint32_t ref, uint32_t size);

/* Bytes held by small segments that are not live data (dead entries and sealed slack). Kept
 * by counters, without reading the heads' segment records: it runs after every write. */
static inline uint64_t arena_garbage(const arena *a)
{
    return a->small_cap - a->small_live - a->head_room;
}

/* A sealed small segment worth compacting (the one with the most garbage) or ARENA_NONE. */
uint32_t arena_pick_victim(const arena *a);

#endif

/*
 * expheap.h — a shard's expiry index: a binary min-heap of (deadline, key hash).
 *
 * A record is pushed whenever a key gets a (new) deadline; records are never updated or removed
 * in place. When the active expiry cycle pops a due record it looks the hash up in the index
 * and expires whatever entries with that hash are really past their deadline; a record whose key
 * was deleted, persisted or given a later deadline is simply dropped (stale). Keying by hash
 * rather than by arena ref keeps records valid when compaction moves entries. Stale records are
 * bounded: when they outnumber the keys with a TTL, the shard rebuilds the heap from its table.
 *
 * 16 bytes per record. Not thread-safe: the owning shard's lock protects it.
 */
#ifndef MNEMO_ENGINE_EXPHEAP_H
#define MNEMO_ENGINE_EXPHEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct exp_rec {
    int64_t at;    /* deadline, Unix ms */
    uint64_t hash;
} exp_rec;

typedef struct expheap {
    exp_rec *v;
    uint32_t n, cap;
    uint64_t bytes; /* memory v holds (malloc chunk), kept at each (re)allocation */
} expheap;

void expheap_free(expheap *hp);
/* Returns 0, or -1 on allocation failure (heap unchanged). */
int expheap_push(expheap *hp, int64_t at, uint64_t hash);
/* The earliest record; heap must not be empty. */
static inline const exp_rec *expheap_top(const expheap *hp)
{
    return &hp->v[0];
}
void expheap_pop(expheap *hp);
static inline uint64_t expheap_mem(const expheap *hp)
{
    return hp->bytes;
}

#endif

/*
 * evict.h — the memory ceiling: accounting against maxmemory and the eviction policies.
 *
 * The store keeps a running total of shard_mem() over all shards (mem_used, brought up to date
 * by shard_sync_mem() after each write; memory changes only when a segment, table or heap is
 * allocated or freed, so the shared counter is touched rarely). Above the high-water mark the
 * background thread evicts down to the low-water mark in slices of one shard lock each; a write
 * that finds the total above the ceiling itself evicts a few slices first (evict_reserve()).
 *
 * Policies work on the arena's segment FIFOs (arena.h) and the 2-bit access count in each
 * entry's head byte (entry.h), raised by lookups:
 *   lru     CLOCK: the oldest segment's entries are reinserted at the main queue's head if
 *           touched since they were last considered (count reset), else evicted;
 *   lfu     the same with the count decremented instead of reset (a key read 3 times survives
 *           3 passes): frequency with aging;
 *   s3fifo  S3-FIFO (Yang et al., SOSP 2023): new keys enter the small queue (~10% of memory);
 *           leaving it, a key read meanwhile moves to the main queue, others are evicted and
 *           remembered in a ghost table; a new key found there is admitted to main directly;
 *           main is evicted as lfu;
 *   random  uniformly sampled keys;
 *   ttl     the nearest deadlines first (from the expiry heap);
 * allkeys-* consider every key, volatile-* only keys with a TTL (others are kept). Due keys are
 * always expired before anything is evicted.
 */
#ifndef MNEMO_ENGINE_EVICT_H
#define MNEMO_ENGINE_EVICT_H

#include <stdint.h>

#include "engine/shard.h"
#include "mnemo.h"

/* The queue a new key (hash h) enters under the current policy. Shard lock held. */
unsigned evict_admit_queue(mnemo_store *st, shard *sh, uint64_t h);

/* The slow path of evict_reserve() (store_int.h), above the high-water mark: wakes the
 * background evictor; above the ceiling evicts a few slices itself. Returns MNEMO_OK, or
 * MNEMO_ENOSPACE if the store is above its ceiling and nothing can be evicted (noeviction, or
 * no candidate for a volatile policy). */
int evict_reserve_slow(mnemo_store *st, uint64_t used);

/* The background thread's share: evicts down to the low-water mark if asked to. */
void evict_background(mnemo_store *st);

/* Frees a shard's eviction state (ghost table). Shard lock held. */
void evict_shard_clear(shard *sh);

#endif

/*
 * hash.h — the one hash function of the store: XXH3-64 (Debian's libxxhash).
 *
 * How the 64 bits are used (engine/table.h and engine/store.c rely on this split staying put):
 *   bits  0..15  shard index (low bits; at most 65536 shards)
 *   bits 16..22  the 7-bit tag kept in the index's control bytes
 *   bits 32..63  the home slot in a shard's table (scaled to the table size, so home positions
 *                are monotonic in the hash and SCAN cursors can be hash values)
 */
#ifndef MNEMO_UTIL_HASH_H
#define MNEMO_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t hash_bytes(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

#endif

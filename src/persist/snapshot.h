/*
 * snapshot.h — point-in-time snapshots: the file format, the fork-based writer, the loader.
 *
 * File:  header (32 B): "MNEMOSNP" | format u32 | databases u32 | lsn u64 | zero u32 | check u32
 *        blocks:        len u32 | nkeys u32 | pcheck u32 | hcheck u32 | payload (len B)
 *        terminator:    a block with nkeys = 0xffffffff whose payload is the total keys (u64)
 * A block's payload is `nkeys` entries:  db v | version u64 | expire_at v | klen v | key |
 * vlen v | value. pcheck/hcheck as in the log (low 32 bits of XXH3-64 over the payload / the
 * 12 header bytes before hcheck). Blocks are about 1 MiB and independent, so a loader can
 * hand them to several threads; the writer walks the shards in order, so one block's keys
 * fall into few shards and the loading threads rarely meet on a shard lock.
 *
 * A snapshot is written to `<file>.tmp`, fsynced and renamed, and only then named by the
 * manifest: a snapshot file that the manifest names is complete, so any damage in it is
 * corruption (there is no torn tail to forgive).
 *
 * Writer (persist_snapshot_start): with every shard lock held (the stall clients see), it
 * notes the last LSN L, moves the log to a new segment that starts at L+1, and fork()s; the
 * parent releases the locks at once, the child walks the shards of its copy-on-write image,
 * writes the file and _exit()s. The persist thread reaps it and switches the manifest to
 * "snapshot (up to L) + the segment from L+1", then deletes the older files.
 * Memory: the child shares every page with the parent; a page is copied when the parent
 * writes to it during the snapshot. Bound: the pages written meanwhile — at most the whole
 * dataset (every page touched), in practice the write rate times the snapshot's duration.
 */
#ifndef MNEMO_PERSIST_SNAPSHOT_H
#define MNEMO_PERSIST_SNAPSHOT_H

#include <stdint.h>

#include "mnemo.h"

struct mnemo_store;
struct persist;

#define SNAP_MAGIC "MNEMOSNP"
#define SNAP_FORMAT 1
#define SNAP_HDR 32
#define SNAP_BLOCK_HDR 16
#define SNAP_BLOCK_TARGET ((size_t)1 << 20)
#define SNAP_END_MARK 0xffffffffu

/* Loads snapshot `fname` (whose last LSN must be `lsn`) into st, with several threads.
 * Keys already expired at `now` are skipped. *keys receives the keys loaded. */
int snapshot_load(struct mnemo_store *st, struct persist *p, const char *fname, uint64_t lsn,
                  int64_t now, uint64_t *keys);

/* Verifies a snapshot file without loading it. Returns 0, or -1 after reporting the damage. */
int snapshot_check(int dirfd, const char *fname, uint64_t lsn, const mnemo_persist_config *pc,
                   uint64_t *keys);

/* Writes the snapshot of st's shards to fd (the child's work; no locks are taken). */
int snapshot_write(struct mnemo_store *st, int fd, uint64_t lsn);

/* Decodes a snapshot from memory, validating everything, and calls fn for each entry; for
 * the fuzzer and the loader's single-threaded path. Returns 0 or -1 (*why, *bad_off set). */
typedef int (*snapshot_entry_fn)(void *ctx, unsigned db, const uint8_t *key, size_t klen,
                                 const uint8_t *val, size_t vlen, uint64_t version,
                                 int64_t expire_at);
int snapshot_parse(const uint8_t *data, size_t n, uint64_t *lsn, snapshot_entry_fn fn,
                   void *ctx, const char **why, size_t *bad_off);

#endif

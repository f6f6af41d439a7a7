/*
 * persist.h — persistence of one store: its directory, manifest, recovery and snapshots.
 *
 * Directory layout (docs/on-disk-format.md):
 *   <dir>/<name>.manifest              which snapshot and which log segments are current
 *   <dir>/<name>.<seq>.base.msnap      a snapshot
 *   <dir>/<name>.<seq>.incr.mlog       a log segment
 *   <dir>/<name>.lock                  flock()ed while a store has the directory open
 *
 * Lifecycle: mnemo_store_open() calls persist_open() before the background thread starts:
 * it loads the snapshot and replays the log into the (still private) store, then attaches
 * the journal (st->journal), so that only changes made after the load are logged.
 * mnemo_store_close() calls persist_close() once every shard is closed (no more appends).
 *
 * `mu` protects the manifest, the file sequence and the snapshot state. It is never taken
 * while a shard lock is held, except by persist_rotate_locked() during a snapshot's fork
 * point, which is why nothing holding `mu` ever takes a shard lock.
 */
#ifndef MNEMO_PERSIST_PERSIST_H
#define MNEMO_PERSIST_PERSIST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "mnemo.h"
#include "persist/manifest.h"

struct mnemo_store;

typedef struct persist {
    mnemo_persist_config pc; /* a copy; dir and name point to the strings below */
    char *dir, *name;
    int dirfd, lockfd;

    pthread_mutex_t mu;
    manifest man;            /* mu */
    uint64_t loaded_keys;
    int64_t load_ms;

    /* snapshots (snapshot.c); mu */
    pid_t child;             /* a running snapshot's process, 0 if none */
    void *fork_shards;       /* the shard array as the child sees it (persist.c), or NULL */
    size_t fork_shards_bytes;
    uint64_t snap_seq;       /* its file number */
    uint64_t snap_lsn;       /* the last LSN it contains */
    int64_t snap_start_ms;
    _Atomic int in_progress;
    _Atomic int64_t last_snapshot_ms;
    _Atomic int last_snapshot_ok;
    _Atomic int64_t last_snapshot_duration_ms;
    _Atomic int64_t last_fork_us;
    _Atomic uint64_t snapshots;
    _Atomic uint64_t dirty_base; /* appended LSN of the last snapshot (or of the load) */
    _Atomic uint64_t base_bytes;
    uint64_t snap_seg;           /* index in man.logs of the segment the snapshot precedes */
    uint64_t rot_log_bytes;      /* the log's size when it was rotated for the snapshot */
    uint64_t load_log_bytes;     /* size of the segments found at load */
    pthread_cond_t done;         /* a snapshot finished (mu) */

    /* the persist thread: reaps snapshots, starts automatic ones (log rewrite) */
    pthread_t thread;
    int started, stop;           /* stop: mu */
    pthread_cond_t wake;
} persist;

/* See the lifecycle above. persist_open returns a mnemo_status. */
int persist_open(struct mnemo_store *st);
void persist_close(struct mnemo_store *st);

/* Loads the directory's state into st (recover.c). Fills *next_lsn, and opens the last log
 * segment for appending (*fd, *size). Returns a mnemo_status. */
int persist_load(struct mnemo_store *st, persist *p, uint64_t *next_lsn, int *fd,
                 uint64_t *size);

/* Stores key = val in db with the given version and absolute expiration (0: none), as
 * replay and snapshot loading need (a key past `now` is removed instead). Takes the shard
 * lock. The caller moves the store's clock past `version` (hlc_observe), once per batch of
 * entries if it likes: one shared atomic per entry is what parallel loaders avoid.
 * Returns a mnemo_status. */
int persist_restore_set(struct mnemo_store *st, unsigned db, const void *key, size_t klen,
                        const void *val, size_t vlen, uint64_t version, int64_t expire_at,
                        int64_t now);

/* Replays a whole segment held in memory (header included) into st, as recovery does, with
 * the clock at `now`. Returns LREC_END (all of it applied), LREC_TORN or LREC_CORRUPT, with
 * the offset after the last good record and its LSN. For the fuzzer and tests. */
int persist_replay_mem(struct mnemo_store *st, const uint8_t *data, size_t n, uint64_t first,
                       int64_t now, size_t *good_end, uint64_t *last_lsn);

/* Opens (creates) log segment `seq` with a header for first_lsn. Returns the fd or -1. */
int persist_create_segment(persist *p, uint64_t seq, uint64_t first_lsn);

#endif

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
 * mnemo_persist_attach() does the same on an open store without loading anything.
 * mnemo_store_close() calls persist_close() once every shard is closed (no more appends).
 *
 * Modes. MNEMO_PERSIST_LOG: snapshots + the log (st->journal set). MNEMO_PERSIST_SNAPSHOTS:
 * snapshots only, st->journal NULL; a snapshot then carries `base_lsn`, the last LSN of the
 * state, and the manifest names no log once one completed. Every snapshot is one of:
 *   SNAP_ROTATE  the log is on: the log moves to a new segment at the fork point, which the
 *                manifest names (first 0) before the fork; done: snapshot + that segment on.
 *   SNAP_PLAIN   the log is off: done: the snapshot alone (older logs are dropped).
 *   SNAP_SWITCH  switching the log on: a new segment (first L+1) receives the changes after
 *                the fork point L, but the manifest names it only with the snapshot, in one
 *                write when the snapshot is done. Meanwhile the journal's durable LSN is
 *                capped at L, so nothing after L is reported durable (the server holds those
 *                replies) before it is recoverable.
 *
 * `mu` protects the manifest, the file sequence, the mode and the snapshot state. Order:
 * mu → shard locks → the journal's locks; nothing holding a shard lock takes mu.
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

enum { SNAP_ROTATE = 0, SNAP_PLAIN = 1, SNAP_SWITCH = 2 };

typedef struct persist {
    mnemo_persist_config pc; /* a copy; dir and name point to the strings below */
    _Atomic int log_state;   /* MNEMO_LOGSTATE_*; written under mu */
    _Atomic int fsync;       /* mnemo_fsync in force (the journal's own copy once it exists) */
    _Atomic(struct journal *) j; /* the log writer once the log has been on (NULL before); lives
                                until close even while the log is off (st->journal NULL) */
    uint64_t base_lsn;       /* log off: the last LSN of the state (mu) */
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
    int snap_kind;           /* SNAP_* */
    int snap_cancelled;      /* killed on purpose: not reported as a failure */
    uint64_t snap_changes;   /* the shards' change count at its fork point */
    char pend_seg[MANIFEST_NAME_MAX]; /* SNAP_SWITCH: the new log's segment */
    int64_t snap_start_ms;
    _Atomic int in_progress;
    _Atomic int64_t last_snapshot_ms;
    _Atomic int last_snapshot_ok;
    _Atomic int64_t last_snapshot_duration_ms;
    _Atomic int64_t last_fork_us;
    _Atomic uint64_t snapshots;
    _Atomic uint64_t dirty_base; /* the change count of the last snapshot (or of the load) */
    _Atomic uint64_t base_bytes;
    uint64_t snap_seg;           /* index in man.logs of the segment the snapshot precedes */
    uint64_t rot_log_bytes;      /* the log's size when it was rotated for the snapshot */
    uint64_t load_log_bytes;     /* size of the segments found at load */
    _Atomic uint64_t load_done;  /* bytes of the files loaded so far (load_progress) */
    uint64_t load_total;
    pthread_cond_t done;         /* a snapshot finished (mu) */

    /* the persist thread: reaps snapshots, starts automatic ones (log rewrite) */
    pthread_t thread;
    int started, stop;           /* stop: mu */
    pthread_cond_t wake;
} persist;

/* See the lifecycle above. persist_open returns a mnemo_status. */
int persist_open(struct mnemo_store *st);
void persist_close(struct mnemo_store *st);

/* Loads the directory's state into st (recover.c). Fills *next_lsn, and, in MNEMO_PERSIST_LOG
 * mode, opens the last log segment for appending (*fd, *size; a segment is created after a
 * snapshot-only manifest); in MNEMO_PERSIST_SNAPSHOTS mode *fd is -1. Returns a mnemo_status. */
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

/* Adds `bytes` to the load's progress and reports it (pc.load_progress). Thread-safe. */
void persist_load_progress(persist *p, uint64_t bytes);

/* The shards' change count (shard.changes summed; exact when every shard lock is held). */
uint64_t persist_changes(struct mnemo_store *st);

/* Opens (creates) log segment `seq` with a header for first_lsn. Returns the fd or -1. */
int persist_create_segment(persist *p, uint64_t seq, uint64_t first_lsn);

#endif

/*
 * journal.h — the engine's change feed and the append-only log writer.
 *
 *   engine thread (shard lock held)          log thread / committing threads
 *   ─────────────────────────────            ───────────────────────────────────────────
 *   journal_set/del/expire/...  ──encode──►  buf (mu)  ──swap──► wbuf (wmu) ──write──► fd
 *        │ inside a unit: to a thread-local                         fdatasync ──► durable
 *        ▼ buffer, appended as one record at the unit's end
 *   LSN = next_lsn++ (mu)                    appended ≥ written ≥ durable   (atomics)
 *
 * Every change the engine makes is encoded as a log operation while the key's shard lock is
 * held, so the log's order for a key is the order its changes were applied. A record is
 * appended to `buf` under `mu` and gets the next LSN. Multi-key operations (MSET, MDEL,
 * RENAME, MOVE, COPY, transactions) open a *unit* on their thread: their operations collect in
 * a thread-local buffer and go into the log as one record when the unit ends, still under the
 * locks, so recovery applies all of them or none (a record is checksummed as a whole).
 *
 * Writing: `wmu` serialises the file. write_pending() swaps `buf` for the empty `wbuf` (double
 * buffering: appenders never wait for the disk), writes it, and advances `written`. "Writes"
 * is a copy into a shared mapping of the segment (preallocated with fallocate(2) a window at
 * a time), so handing records to the kernel costs no system call: the page cache holds them,
 * a crash of the process loses nothing, and fdatasync(2) makes them durable as it would
 * written ones. The copy runs in address order, so a process killed during it leaves whole
 * records, then part of one, then the zeros of space never written; recovery cuts that tail
 * off. Where a mapping is refused (no fallocate, no space), pwrite(2) takes over. The log
 * thread does that in a loop:
 *   - always:   as soon as there is data; then fdatasync, then `durable` = the last LSN it
 *               wrote. Records appended during the fsync form the next batch: one fsync
 *               covers every record appended before it started (group commit).
 *               With async_commit (the server) the committers lead instead, as Redis's
 *               event loop does: a thread with replies waiting calls journal_sync_try();
 *               one sync runs at a time (smu), a thread that finds one running is woken by
 *               its durable callback and leads the next. No hand-off to the log thread and
 *               back per batch; the log thread only sweeps up every few ms.
 *   - everysec: a write at least every second (callers normally write sooner, see
 *               journal_write_out()) and an fdatasync once per second if anything new.
 *   - no:       writes like everysec, never syncs; durable == written.
 * A commit (the end of a library write call, or the server's event batch) either waits for
 * `durable` (always) or writes the pending records itself (everysec, no), so an acknowledged
 * change is in the kernel before the caller hears of it and survives a crash of the process.
 *
 * Segments: the log thread is the only one that closes descriptors. journal_rotate() (called
 * with every shard lock held, by a snapshot) writes what is pending to the current segment and
 * makes a new one current; the old one is synced and closed by the log thread before
 * `durable` passes the rotation point.
 *
 * Locks: shard locks → mu. smu → wmu → mu. The durable callback runs with no lock held, on
 * the thread that synced.
 */
#ifndef MNEMO_PERSIST_JOURNAL_H
#define MNEMO_PERSIST_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mnemo.h"
#include "persist/logfmt.h"

#define JOURNAL_WRITE_THRESHOLD ((size_t)1 << 20) /* wake the log thread above this backlog */
#define JOURNAL_NO_CAP UINT64_MAX
#define JOURNAL_SLOW_FSYNC_NS 1000000u

typedef struct journal {
    _Atomic int mode;            /* mnemo_fsync; may change at run time */
    int async_commit;            /* the caller handles commits (the server) */
    mnemo_durable_fn on_durable;
    void *on_durable_ctx;
    mnemo_log_fn log;
    void *log_ctx;

    pthread_mutex_t mu;          /* protects buf, next_lsn, sleeping, stop, sync_req */
    pthread_cond_t wake;         /* the log thread waits here */
    lbuf buf;                    /* encoded records not yet taken by a writer */
    uint64_t next_lsn;
    int sleeping, stop;
    _Atomic uint64_t appended;   /* last LSN appended (written under mu) */

    pthread_mutex_t wmu;         /* protects wbuf, fd, seg_bytes, retired */
    lbuf wbuf;
    int fd;                      /* current segment (read-write) */
    uint64_t seg_bytes;          /* the end of its records; the file may be longer (map) */
    uint8_t *map;                /* a shared mapping of the segment around seg_bytes, or NULL */
    uint64_t map_off;            /* its file offset */
    size_t map_len;
    int map_refused;        /* a mapping failed: pwrite(2) from now on */
    uint64_t filled;             /* always: zeros are written up to here (prefill()) */
    int fill_refused;            /* writing them failed (for this segment) */
    int retired[4];              /* rotated-out segments the log thread still has to sync */
    int nretired;
    _Atomic uint64_t written;    /* last LSN handed to the kernel */
    _Atomic uint64_t durable;    /* last LSN on stable storage */
    _Atomic uint64_t durable_cap; /* JOURNAL_NO_CAP, or `durable` does not pass it: a switch-on's
                                    base snapshot is being written, and records after the
                                    fork point are recoverable only once the manifest names
                                    their segment (persist.c) */
    _Atomic uint64_t log_bytes;  /* size of every live segment (for the rewrite trigger) */
    _Atomic int write_err;       /* errno of the last failed write or sync, 0 if it worked */
    _Atomic int64_t last_fsync_ms;
    _Atomic uint64_t fsyncs;     /* fdatasyncs done ... */
    _Atomic uint64_t slow_fsync_ns; /* ... and the time of those of JOURNAL_SLOW_FSYNC_NS or more */

    pthread_mutex_t smu;         /* held by the one thread syncing (write_and_sync) */
    pthread_mutex_t dmu;         /* waiters for `durable` (library commits under always) */
    pthread_cond_t dcond;
    _Atomic int dwaiters;

    pthread_t thread;
    int started;
} journal;

/* Creates a journal writing to `fd` (positioned at its end, `size` bytes), whose next record
 * gets `next_lsn`. Does not start the thread. Returns NULL if out of memory. */
journal *journal_create(const mnemo_persist_config *pc, int fd, uint64_t size, uint64_t next_lsn);

/* Starts the log thread. Returns 0 or -1. */
int journal_start(journal *j);

/* Writes and syncs everything appended, stops the thread, closes the segments, frees j.
 * No append may run concurrently (the store is closed). Returns 0, or -1 if the final write
 * or sync failed. */
int journal_destroy(journal *j);

/* ---- the change feed: called by the engine with the key's shard lock held ----------------- */
void journal_set(journal *j, unsigned db, const void *key, size_t klen, const void *val,
                 size_t vlen, uint64_t version, int64_t expire_at);
/* `client`: 1 for a caller's delete (the caller will commit), 0 for expiry and eviction. */
void journal_del(journal *j, unsigned db, const void *key, size_t klen, int client);
void journal_expire(journal *j, unsigned db, const void *key, size_t klen, int64_t at);
void journal_flush(journal *j, int all, unsigned db);
void journal_swapdb(journal *j, unsigned db1, unsigned db2);

/* Units: operations between begin and end (on this thread) become one record. Nestable. */
void journal_unit_begin(journal *j);
void journal_unit_end(journal *j);

/* Called by the engine after a write call released its locks: makes this thread's changes
 * durable according to the policy (waits for the fsync under always, writes to the kernel
 * otherwise). Does nothing with async_commit or when the thread changed nothing. */
void journal_commit(journal *j);

/* Hands every record up to `lsn` to the kernel (write(2)) if not done yet. Returns 0 or -1. */
int journal_write_out(journal *j, uint64_t lsn);

/* Writes and fdatasyncs everything appended so far, in the caller's thread. 0 or -1. */
int journal_sync(journal *j);

/* journal_sync(), unless another thread is syncing: then returns 1 at once (its end is
 * announced through the durable callback). 0, 1 or -1. */
int journal_sync_try(journal *j);
/* Blocks until `durable` >= lsn. Returns 0, or -1 if the log has a write error meanwhile. */
int journal_wait(journal *j, uint64_t lsn);

/* Holds `durable` at or below `cap` (JOURNAL_NO_CAP: lifts the cap). Lifting it writes and syncs what is
 * pending, so `durable` catches up and the waiters and the durable callback hear of it.
 * Returns 0, or -1 if that sync failed. */
int journal_set_durable_cap(journal *j, uint64_t cap);

/* With every shard lock held: the records appended so far stay in the current segment, the
 * following ones go to `fd` (a new segment whose header is written). The old segment is synced
 * and closed by the log thread. Returns 0 or -1 (errno). */
int journal_rotate(journal *j, int fd, uint64_t size);

/* 1 if journal_rotate() would be refused because every slot for retired segments is taken
 * (they wait for a sync: under everysec, up to a second). A sync empties them. */
int journal_retired_full(journal *j);

/* Logs through the configured callback. */
void journal_logf(const mnemo_persist_config *pc, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

/*
 * persist.c — a store's persistence: opening the directory, the persist thread, snapshots'
 * start and completion, and the public persistence API (see persist.h, snapshot.h).
 */
#include "persist/persist.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/store_int.h"
#include "persist/journal.h"
#include "persist/snapshot.h"
#include "util/clock.h"
#include "util/pages.h"

void mnemo_persist_config_init(mnemo_persist_config *pc)
{
    memset(pc, 0, sizeof(*pc));
    pc->name = "appendonly.aof";
    pc->fsync = MNEMO_FSYNC_EVERYSEC;
    pc->rewrite_percentage = 100;
    pc->rewrite_min_size = (uint64_t)64 << 20;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (char *q = tmp + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *q = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void persist_free(persist *p)
{
    if (p->dirfd >= 0)
        close(p->dirfd);
    if (p->lockfd >= 0)
        close(p->lockfd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    free(p->dir);
    free(p->name);
    if (p->fork_shards)
        pages_free(p->fork_shards, p->fork_shards_bytes);
    free(p);
}

uint64_t persist_changes(mnemo_store *st)
{
    uint64_t n = 0;
    size_t ns = (size_t)st->cfg.databases * st->nshards;
    for (size_t i = 0; i < ns; i++)
        n += atomic_load_explicit(&st->shards[i].changes, memory_order_relaxed);
    return n;
}

/* Every shard lock of the databases in use, in order (the fork point of a snapshot, a switch
 * of the log), and db_lock, which keeps the others out of use (empty) until unlock_all(): their
 * shards are not touched, so their pages stay unwritten. */
static void lock_all(mnemo_store *st)
{
    pthread_mutex_lock(&st->db_lock);
    for (unsigned db = 0; db < st->cfg.databases; db++)
        for (size_t i = 0; i < st->nshards && store_db_live(st, db); i++)
            mlock_lock(&st->shards[(size_t)db * st->nshards + i].lock);
}

static void unlock_all(mnemo_store *st)
{
    for (unsigned db = st->cfg.databases; db-- > 0;)
        for (size_t i = st->nshards; i-- > 0 && store_db_live(st, db);)
            mlock_unlock(&st->shards[(size_t)db * st->nshards + i].lock);
    pthread_mutex_unlock(&st->db_lock);
}

static void *persist_thread(void *arg);

/* Validates the settings, creates and locks the directory. Returns a mnemo_status. */
static int persist_setup(const mnemo_persist_config *in, persist **out)
{
    if (!in->dir || !in->dir[0] || (in->name && (!in->name[0] || strchr(in->name, '/'))) ||
        in->fsync < MNEMO_FSYNC_NO || in->fsync > MNEMO_FSYNC_ALWAYS ||
        (in->mode != MNEMO_PERSIST_LOG && in->mode != MNEMO_PERSIST_SNAPSHOTS))
        return MNEMO_EINVAL;
    persist *p = calloc(1, sizeof(*p));
    if (!p)
        return MNEMO_ENOMEM;
    p->pc = *in;
    p->dir = strdup(in->dir);
    p->name = strdup(in->name ? in->name : "appendonly.aof");
    p->dirfd = p->lockfd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (!p->dir || !p->name) {
        persist_free(p);
        return MNEMO_ENOMEM;
    }
    p->pc.dir = p->dir;
    p->pc.name = p->name;
    atomic_init(&p->fsync, in->fsync);
    const mnemo_persist_config *pc = &p->pc;
    if (make_dirs(p->dir) != 0 ||
        (p->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't use directory %s: %s", p->dir,
                     strerror(errno));
        persist_free(p);
        return MNEMO_EIO;
    }
    char lockname[MANIFEST_NAME_MAX + 8];
    snprintf(lockname, sizeof(lockname), "%s.lock", p->name);
    p->lockfd = openat(p->dirfd, lockname, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (p->lockfd < 0 || flock(p->lockfd, LOCK_EX | LOCK_NB) != 0) {
        int busy = p->lockfd >= 0 && errno == EWOULDBLOCK;
        journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: %s/%s: %s", p->dir, lockname,
                     busy ? "another store has this directory open" : strerror(errno));
        persist_free(p);
        return busy ? MNEMO_EBUSY : MNEMO_EIO;
    }
    *out = p;
    return MNEMO_OK;
}

/* Publishes p on st and starts its thread. */
static void persist_publish(mnemo_store *st, persist *p)
{
    atomic_store(&p->last_snapshot_ms, clock_realtime_ms());
    atomic_store(&p->last_snapshot_ok, 1);
    atomic_store(&st->persist, p);
    if (pthread_create(&p->thread, NULL, persist_thread, st) == 0)
        p->started = 1;
}

int persist_open(mnemo_store *st)
{
    persist *p;
    int rc = persist_setup(st->cfg.persist, &p);
    if (rc != MNEMO_OK)
        return rc;
    uint64_t next_lsn = 1, size = 0;
    int fd = -1;
    rc = persist_load(st, p, &next_lsn, &fd, &size);
    if (rc != MNEMO_OK) {
        persist_free(p);
        return rc;
    }
    if (p->pc.mode == MNEMO_PERSIST_LOG) {
        journal *j = journal_create(&p->pc, fd, size, next_lsn);
        if (!j || journal_start(j) != 0) {
            if (j)
                journal_destroy(j);
            else
                close(fd);
            persist_free(p);
            return MNEMO_ENOMEM;
        }
        if (p->load_log_bytes)
            atomic_store(&j->log_bytes, p->load_log_bytes);
        p->j = j;
        atomic_store(&p->log_state, MNEMO_LOGSTATE_ON);
        atomic_store(&st->journal, j);
    }
    p->base_lsn = next_lsn - 1;
    atomic_store(&p->dirty_base, persist_changes(st));
    persist_publish(st, p);
    return MNEMO_OK;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

static void snap_tmp_name(persist *p, uint64_t seq, char *out, size_t cap)
{
    char f[MANIFEST_NAME_MAX];
    manifest_snap_name(p->name, seq, f, sizeof(f));
    snprintf(out, cap, "%s.tmp", f);
}

/* Switches the log off (mu held): every change up to now is in the files the manifest names
 * (written and synced here), and nothing more is logged. */
static void log_off_locked(mnemo_store *st, persist *p)
{
    journal *j = p->j;
    lock_all(st);
    atomic_store(&st->journal, NULL);
    p->base_lsn = atomic_load(&j->appended);
    unlock_all(st);
    if (journal_set_durable_cap(j, JOURNAL_NO_CAP) != 0)
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: the final sync of the log failed");
    atomic_store(&p->log_state, MNEMO_LOGSTATE_OFF);
    p->pc.mode = MNEMO_PERSIST_SNAPSHOTS;
}

/*
 * Writes a manifest naming an empty log segment (mu held): the state "nothing" (after
 * base_lsn). A switch-on in a directory without a manifest does this first: the segment it
 * logs into is not named before its snapshot is done, and a restart after a crash in between
 * must find a manifest (a segment without one is refused as damage) and start empty, as
 * nothing was acknowledged after the switch. Returns 0 or -1.
 */
static int empty_state_locked(persist *p)
{
    manifest m = p->man;
    int fd = persist_create_segment(p, m.seq, p->base_lsn + 1);
    manifest_log_name(p->name, m.seq, m.logs[0], MANIFEST_NAME_MAX);
    m.first[0] = p->base_lsn + 1;
    m.nlogs = 1;
    m.seq++;
    if (fd < 0 || manifest_write(p->dirfd, p->name, &m) != 0) {
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't write a manifest in %s: %s",
                     p->dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlinkat(p->dirfd, m.logs[0], 0);
        }
        return -1;
    }
    close(fd);
    p->man = m;
    return 0;
}

/*
 * Starts a snapshot of the given kind (persist.h; mu held). Returns a mnemo_status.
 * The fork point takes every shard lock, so no change is half made and the log position is
 * exactly the state's.
 */
static int snapshot_start_locked(mnemo_store *st, persist *p, int kind)
{
    journal *j = p->j;
    if (p->child)
        return MNEMO_EBUSY;
    if (kind == SNAP_ROTATE && p->man.nlogs >= MANIFEST_MAX_LOGS) {
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: too many log segments");
        return MNEMO_EIO;
    }
    if (kind == SNAP_SWITCH && !p->man.has_snapshot && p->man.nlogs == 0 &&
        empty_state_locked(p) != 0)
        return MNEMO_EIO;
    /* Rotations faster than the log thread syncs the segments they retire (everysec: once a
     * second) would find no slot for one more: sync them now, before the stall, instead. */
    if (kind == SNAP_ROTATE && journal_retired_full(j))
        (void)journal_sync(j);
    uint64_t seq = p->man.seq;
    char segname[MANIFEST_NAME_MAX], tmpname[MANIFEST_NAME_MAX + 8];
    manifest_log_name(p->name, seq, segname, sizeof(segname));
    snap_tmp_name(p, seq, tmpname, sizeof(tmpname));
    manifest m = p->man;
    int segfd = -1;
    if (kind == SNAP_ROTATE) {
        /* The new segment is named by the manifest before it receives anything: until the
         * snapshot completes, the state is "old snapshot + old segments + this one". Its
         * first LSN (0 here: "continues the previous") is in its header, written at the fork
         * point. */
        segfd = openat(p->dirfd, segname, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        strcpy(m.logs[m.nlogs], segname);
        m.first[m.nlogs++] = 0;
    } else if (kind == SNAP_SWITCH) {
        /* The log is off, so the state's last LSN is base_lsn until the fork point. */
        segfd = persist_create_segment(p, seq, p->base_lsn + 1);
    }
    m.seq = seq + 1;
    int snapfd = openat(p->dirfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if ((kind != SNAP_PLAIN && segfd < 0) || snapfd < 0 ||
        (kind == SNAP_ROTATE && manifest_write(p->dirfd, p->name, &m) != 0)) {
        int e = errno;
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't start a snapshot in %s: %s",
                     p->dir, strerror(e));
        if (segfd >= 0) {
            close(segfd);
            unlinkat(p->dirfd, segname, 0);
        }
        if (snapfd >= 0) {
            close(snapfd);
            unlinkat(p->dirfd, tmpname, 0);
        }
        return MNEMO_EIO;
    }
    manifest prev = p->man; /* to go back to if the rotation below is refused */
    p->man = m;
    if (kind == SNAP_SWITCH) {
        int rc = MNEMO_OK;
        if (!j) {
            p->pc.fsync = atomic_load(&p->fsync);
            j = journal_create(&p->pc, segfd, LOG_FILE_HDR, p->base_lsn + 1);
            if (!j || journal_start(j) != 0) {
                if (j)
                    journal_destroy(j); /* closes segfd */
                else
                    close(segfd);
                j = NULL;
                rc = MNEMO_ENOMEM;
            }
            p->j = j;
        } else if (journal_rotate(j, segfd, LOG_FILE_HDR) != 0) {
            close(segfd);
            rc = MNEMO_EIO;
        }
        if (rc != MNEMO_OK) {
            journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't start the log in %s",
                         p->dir);
            unlinkat(p->dirfd, segname, 0);
            close(snapfd);
            unlinkat(p->dirfd, tmpname, 0);
            return rc;
        }
        atomic_store(&j->log_bytes, LOG_FILE_HDR);
        atomic_store(&j->durable_cap, p->base_lsn);
        atomic_store(&p->log_state, MNEMO_LOGSTATE_STARTING);
    }

    /* The shard array, for the child. After fork() every page the parent writes first takes a
     * copy-on-write fault, and releasing the shard locks writes every page of the shard array:
     * hundreds of faults (100-200 us each on a paravirtualised VM), 40-57 ms of stall at 1M
     * keys. So the child gets a copy made under the locks (into a buffer faulted in once, here,
     * outside the stall) and the array itself is not mapped into the child at all. */
    size_t dbsize = (size_t)st->nshards * sizeof(shard);
    if (!p->fork_shards) {
        void *b = pages_alloc(st->shards_bytes);
        if (b) {
            p->fork_shards = b;
            p->fork_shards_bytes = st->shards_bytes;
        }
    }
    /* Only the databases in use are copied (the others are zero in both arrays): their part of
     * the buffer is faulted in here. One coming into use before lock_all() faults in the stall. */
    for (unsigned db = 0; p->fork_shards && db < st->cfg.databases; db++)
        if (store_db_live(st, db))
            memset((char *)p->fork_shards + db * dbsize, 0, dbsize);

    uint64_t t0 = clock_monotonic_ns();
    lock_all(st);
    int own_copy = p->fork_shards && pages_inherit(st->shards, st->shards_bytes, 0) == 0;
    if (own_copy) {
        /* Everything but the lock words, which threads waiting for them may be marking
         * contended right now (the child takes no locks; its copies stay 0, unlocked). */
        shard *dst = p->fork_shards;
        _Static_assert(offsetof(shard, lock) == 0, "the lock leads the shard");
        size_t skip = sizeof(mlock);
        for (size_t i = 0; i < (size_t)st->cfg.databases * st->nshards; i++)
            if (store_db_live(st, (unsigned)(i / st->nshards)))
                memcpy((char *)&dst[i] + skip, (const char *)&st->shards[i] + skip,
                       sizeof(shard) - skip);
    }
    uint64_t lsn = kind == SNAP_ROTATE ? atomic_load(&j->appended) : p->base_lsn;
    int ok = 1;
    uint64_t log_before = 0;
    if (kind == SNAP_ROTATE) {
        uint8_t h[LOG_FILE_HDR];
        logfmt_file_header(h, lsn + 1);
        ok = write(segfd, h, sizeof(h)) == (ssize_t)sizeof(h);
        if (ok) {
            ok = journal_rotate(j, segfd, LOG_FILE_HDR) == 0;
            log_before = atomic_load(&j->log_bytes);
        }
    } else if (kind == SNAP_SWITCH) {
        atomic_store(&st->journal, j); /* changes after the fork point go to the new segment */
    }
    p->snap_changes = persist_changes(st);
    pid_t pid = ok ? fork() : -1;
    if (pid == 0) {
        if (own_copy)
            st->shards = p->fork_shards; /* the array itself is not mapped here */
        int rc = snapshot_write(st, snapfd, lsn);
        _exit(rc == 0 ? 0 : 1);
    }
    int e = errno;
    if (own_copy)
        (void)pages_inherit(st->shards, st->shards_bytes, 1);
    if (pid < 0 && kind == SNAP_SWITCH)
        atomic_store(&st->journal, NULL);
    /* Not rotated, the journal goes on in the old segment, past lsn: the new segment must not
     * keep the header that says its records start at lsn + 1. Emptied while the locks still
     * hold every writer back, it is a torn header that recovery rewrites where it is the last
     * segment, and a named, never written segment that it skips elsewhere; below it also
     * leaves the manifest. */
    int unrotated = kind == SNAP_ROTATE && !ok;
    if (unrotated && ftruncate(segfd, 0) != 0)
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't empty %s/%s: %s", p->dir,
                     segname, strerror(errno));
    unlock_all(st);
    atomic_store(&p->last_fork_us, (int64_t)((clock_monotonic_ns() - t0) / 1000u));
    close(snapfd);
    if (pid < 0) {
        if (unrotated) {
            close(segfd);
            prev.seq = m.seq; /* the name is not given out twice */
            if (manifest_write(p->dirfd, p->name, &prev) == 0) {
                p->man = prev;
                unlinkat(p->dirfd, segname, 0);
            }
        }
        if (kind == SNAP_SWITCH) {
            journal_set_durable_cap(j, JOURNAL_NO_CAP);
            atomic_store(&p->log_state, MNEMO_LOGSTATE_OFF);
            unlinkat(p->dirfd, segname, 0);
        }
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't start a snapshot: %s",
                     strerror(e));
        unlinkat(p->dirfd, tmpname, 0);
        atomic_store(&p->last_snapshot_ok, 0);
        return MNEMO_EIO;
    }
    if (kind == SNAP_ROTATE) {
        atomic_store(&j->log_bytes, log_before + LOG_FILE_HDR);
        p->rot_log_bytes = log_before;
        p->snap_seg = (uint64_t)(p->man.nlogs - 1);
        p->man.first[p->snap_seg] = lsn + 1;
    } else if (kind == SNAP_SWITCH) {
        strcpy(p->pend_seg, segname);
        p->pc.mode = MNEMO_PERSIST_LOG;
    }
    p->snap_kind = kind;
    p->snap_cancelled = 0;
    p->child = pid;
    p->snap_seq = seq;
    p->snap_lsn = lsn;
    p->snap_start_ms = clock_realtime_ms();
    atomic_store(&p->in_progress, 1);
    journal_logf(&p->pc, MNEMO_LOG_NOTICE,
                 "Background snapshot started by pid %d (up to LSN %" PRIu64 ", fork stall %"
                 PRId64 " us)%s", (int)pid, lsn, atomic_load(&p->last_fork_us),
                 kind == SNAP_SWITCH ? ": the base of the log being switched on"
                 : kind == SNAP_PLAIN ? " (snapshots only)" : "");
    return MNEMO_OK;
}

/* Completes a snapshot whose child exited with `status` (mu held). */
static void snapshot_finish_locked(mnemo_store *st, persist *p, int status)
{
    char tmpname[MANIFEST_NAME_MAX + 8], fname[MANIFEST_NAME_MAX];
    snap_tmp_name(p, p->snap_seq, tmpname, sizeof(tmpname));
    manifest_snap_name(p->name, p->snap_seq, fname, sizeof(fname));
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    struct stat sb;
    manifest m = p->man;
    if (ok)
        ok = fstatat(p->dirfd, tmpname, &sb, 0) == 0 &&
             renameat(p->dirfd, tmpname, p->dirfd, fname) == 0 && fsync(p->dirfd) == 0;
    /* The logs the new state keeps: from the rotation on (ROTATE), the new log (SWITCH), or
     * none (PLAIN); every older one is covered by the snapshot. */
    int keep_from = p->snap_kind == SNAP_ROTATE ? (int)p->snap_seg : m.nlogs;
    if (ok) {
        m.has_snapshot = 1;
        strcpy(m.snapshot, fname);
        m.snapshot_lsn = p->snap_lsn;
        m.snapshot_bytes = (uint64_t)sb.st_size;
        int k = keep_from;
        memmove(m.logs, m.logs + k, (size_t)(m.nlogs - k) * sizeof(m.logs[0]));
        memmove(m.first, m.first + k, (size_t)(m.nlogs - k) * sizeof(m.first[0]));
        m.nlogs -= k;
        if (p->snap_kind == SNAP_SWITCH) {
            strcpy(m.logs[0], p->pend_seg);
            m.first[0] = p->snap_lsn + 1;
            m.nlogs = 1;
        }
        ok = manifest_write(p->dirfd, p->name, &m) == 0;
    }
    if (ok) {
        /* The manifest no longer names the older files: delete them. */
        if (p->man.has_snapshot && strcmp(p->man.snapshot, fname) != 0)
            unlinkat(p->dirfd, p->man.snapshot, 0);
        for (int i = 0; i < keep_from; i++)
            unlinkat(p->dirfd, p->man.logs[i], 0);
        p->man = m;
        if (p->snap_kind == SNAP_ROTATE)
            atomic_fetch_sub(&p->j->log_bytes, p->rot_log_bytes);
        atomic_store(&p->base_bytes, m.snapshot_bytes);
        atomic_store(&p->dirty_base, p->snap_changes);
        atomic_fetch_add(&p->snapshots, 1);
        journal_logf(&p->pc, MNEMO_LOG_NOTICE,
                     "Background snapshot done: %s/%s, %" PRIu64 " bytes, up to LSN %" PRIu64,
                     p->dir, fname, m.snapshot_bytes, p->snap_lsn);
        if (p->snap_kind == SNAP_SWITCH) {
            /* The new log is recoverable now: what it holds may count as durable. */
            if (journal_set_durable_cap(p->j, JOURNAL_NO_CAP) != 0)
                journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't sync the log");
            atomic_store(&p->log_state, MNEMO_LOGSTATE_ON);
            journal_logf(&p->pc, MNEMO_LOG_NOTICE, "Persistence: the log is on (%s/%s)",
                         p->dir, p->pend_seg);
        }
    } else {
        unlinkat(p->dirfd, tmpname, 0);
        if (!p->snap_cancelled)
            journal_logf(&p->pc, MNEMO_LOG_WARNING, "Background snapshot failed (%s)",
                         WIFSIGNALED(status) ? "child killed by a signal"
                                             : "child error or the files could not be switched");
        if (p->snap_kind == SNAP_SWITCH) {
            /* The new segment is not named and cannot be without its base: the switch is
             * abandoned, and the files keep the state from before it. */
            log_off_locked(st, p);
            unlinkat(p->dirfd, p->pend_seg, 0);
            journal_logf(&p->pc, MNEMO_LOG_WARNING,
                         "Persistence: switching the log on %s; snapshots only",
                         p->snap_cancelled ? "was cancelled" : "failed");
        }
    }
    int64_t now = clock_realtime_ms();
    if (!p->snap_cancelled)
        atomic_store(&p->last_snapshot_ok, ok);
    if (ok)
        atomic_store(&p->last_snapshot_ms, now);
    atomic_store(&p->last_snapshot_duration_ms, now - p->snap_start_ms);
    p->child = 0;
    atomic_store(&p->in_progress, 0);
    pthread_cond_broadcast(&p->done);
}

/* Reaps the child if it exited (mu held); blocking waits for it. */
static void reap_locked(mnemo_store *st, persist *p, int blocking)
{
    if (!p->child)
        return;
    int status = 0;
    pid_t r;
    do {
        r = waitpid(p->child, &status, blocking ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return;
    if (r < 0)
        status = 1 << 8; /* ECHILD: someone else reaped it; its result is unknown */
    snapshot_finish_locked(st, p, status);
}

/* Stops the running snapshot, if any (mu held). */
static void cancel_locked(mnemo_store *st, persist *p)
{
    if (!p->child)
        return;
    p->snap_cancelled = 1;
    kill(p->child, SIGKILL);
    reap_locked(st, p, 1);
}

/* The kind of snapshot the log's state calls for (mu held). */
static int snap_kind_locked(persist *p)
{
    return atomic_load(&p->log_state) == MNEMO_LOGSTATE_OFF ? SNAP_PLAIN : SNAP_ROTATE;
}

int mnemo_snapshot(mnemo_store *st, int wait)
{
    persist *p = st ? atomic_load(&st->persist) : NULL;
    if (!p)
        return MNEMO_EINVAL;
    if (store_txn)
        return MNEMO_ETXN;
    if (atomic_load(&st->closed))
        return MNEMO_ECLOSED;
    pthread_mutex_lock(&p->mu);
    if (wait)
        reap_locked(st, p, 1); /* SAVE during a background snapshot: let it finish first */
    int rc = snapshot_start_locked(st, p, snap_kind_locked(p));
    if (rc == MNEMO_OK && wait) {
        reap_locked(st, p, 1);
        rc = atomic_load(&p->last_snapshot_ok) ? MNEMO_OK : MNEMO_EIO;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int mnemo_persist_set_mode(mnemo_store *st, mnemo_persist_mode mode)
{
    persist *p = st ? atomic_load(&st->persist) : NULL;
    if (!p || (mode != MNEMO_PERSIST_LOG && mode != MNEMO_PERSIST_SNAPSHOTS))
        return MNEMO_EINVAL;
    if (store_txn)
        return MNEMO_ETXN;
    if (atomic_load(&st->closed))
        return MNEMO_ECLOSED;
    int rc = MNEMO_OK;
    pthread_mutex_lock(&p->mu);
    int state = atomic_load(&p->log_state);
    if (mode == MNEMO_PERSIST_LOG && state == MNEMO_LOGSTATE_OFF) {
        /* A snapshot running now would be superseded by the base of the log. */
        cancel_locked(st, p);
        rc = snapshot_start_locked(st, p, SNAP_SWITCH);
    } else if (mode == MNEMO_PERSIST_SNAPSHOTS && state == MNEMO_LOGSTATE_STARTING) {
        cancel_locked(st, p); /* abandons the switch (snapshot_finish_locked) */
    } else if (mode == MNEMO_PERSIST_SNAPSHOTS && state == MNEMO_LOGSTATE_ON) {
        log_off_locked(st, p);
        journal_logf(&p->pc, MNEMO_LOG_NOTICE, "Persistence: the log is off (snapshots only)");
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int mnemo_persist_attach(mnemo_store *st, const mnemo_persist_config *pc)
{
    if (!st || !pc)
        return MNEMO_EINVAL;
    if (store_txn)
        return MNEMO_ETXN;
    if (atomic_load(&st->closed))
        return MNEMO_ECLOSED;
    if (atomic_load(&st->persist))
        return MNEMO_EBUSY;
    persist *p;
    int rc = persist_setup(pc, &p);
    if (rc != MNEMO_OK)
        return rc;
    char why[256];
    int r = manifest_read(p->dirfd, p->name, &p->man, why, sizeof(why));
    if (r != 0) {
        char probe[MANIFEST_NAME_MAX];
        manifest_log_name(p->name, 1, probe, sizeof(probe));
        if (r == -2 || (r == 1 && faccessat(p->dirfd, probe, F_OK, 0) == 0)) {
            journal_logf(&p->pc, MNEMO_LOG_WARNING,
                         "Persistence: %s/%s.manifest is %s; refusing to write over the "
                         "directory (mnemo-check reports on it)", p->dir, p->name,
                         r == -2 ? why : "missing beside log segments");
            persist_free(p);
            return MNEMO_ECORRUPT;
        }
        if (r == -1) {
            persist_free(p);
            return MNEMO_EIO;
        }
        memset(&p->man, 0, sizeof(p->man));
        p->man.seq = 1;
    } else {
        /* Kept in p->man so that the first snapshot deletes these files and numbers its own
         * after them. */
        journal_logf(&p->pc, MNEMO_LOG_WARNING,
                     "Persistence: %s already holds a state of '%s'; the store's contents "
                     "replace it at the first snapshot", p->dir, p->name);
    }
    p->pc.mode = MNEMO_PERSIST_SNAPSHOTS; /* until the switch below */
    p->base_lsn = 0;
    atomic_store(&p->dirty_base, 0); /* nothing of the store is saved yet */
    struct persist *none = NULL;
    if (!atomic_compare_exchange_strong(&st->persist, &none, p)) {
        persist_free(p);
        return MNEMO_EBUSY;
    }
    persist_publish(st, p);
    journal_logf(&p->pc, MNEMO_LOG_NOTICE, "Persistence: attached to %s", p->dir);
    if (pc->mode == MNEMO_PERSIST_LOG)
        rc = mnemo_persist_set_mode(st, MNEMO_PERSIST_LOG);
    return rc;
}

static void *persist_thread(void *arg)
{
    mnemo_store *st = arg;
    persist *p = atomic_load(&st->persist);
    pthread_setname_np(pthread_self(), "mnemo-persist");
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->wake, &p->mu, &ts);
        if (p->stop)
            break;
        reap_locked(st, p, 0);
        if (atomic_load(&p->log_state) != MNEMO_LOGSTATE_ON)
            continue;
        /* Log rewrite: a snapshot when the log outgrew the last one by the set percentage. */
        uint64_t logb = atomic_load(&p->j->log_bytes);
        uint64_t base = atomic_load(&p->base_bytes);
        if (!p->child && p->pc.rewrite_percentage && logb >= p->pc.rewrite_min_size &&
            (base == 0 || (logb - (logb < base ? logb : base)) * 100 >=
                              base * (uint64_t)p->pc.rewrite_percentage)) {
            journal_logf(&p->pc, MNEMO_LOG_NOTICE,
                         "Starting automatic log rewrite: the log is %" PRIu64
                         " bytes, the last snapshot %" PRIu64, logb, base);
            if (snapshot_start_locked(st, p, SNAP_ROTATE) != MNEMO_OK)
                atomic_store(&p->base_bytes, logb); /* do not retry in a loop */
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void persist_close(mnemo_store *st)
{
    persist *p = atomic_load(&st->persist);
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    pthread_mutex_lock(&p->mu);
    /* A snapshot still running is not needed for the state (the manifest names the log from
     * before it), so it is stopped rather than waited for; except the base of a log being
     * switched on: without it, the changes logged since the switch would be lost. */
    if (p->child && p->snap_kind == SNAP_SWITCH)
        reap_locked(st, p, 1);
    cancel_locked(st, p);
    pthread_mutex_unlock(&p->mu);
    if (p->j && journal_destroy(p->j) != 0)
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: the final sync of the log failed");
    atomic_store(&st->journal, NULL);
    atomic_store(&st->persist, NULL);
    persist_free(p);
}

/* ---- the public log API -------------------------------------------------------------------- */

/* The log writer, whether the log is on or not (NULL if it never was). */
static journal *log_of(mnemo_store *st)
{
    persist *p = st ? atomic_load(&st->persist) : NULL;
    return p ? p->j : NULL;
}

uint64_t mnemo_log_lsn(mnemo_store *st, int which)
{
    journal *j = log_of(st);
    if (!j)
        return 0;
    switch (which) {
    case MNEMO_LSN_APPENDED:
        return atomic_load_explicit(&j->appended, memory_order_acquire);
    case MNEMO_LSN_WRITTEN:
        return atomic_load_explicit(&j->written, memory_order_acquire);
    default:
        return atomic_load_explicit(&j->durable, memory_order_acquire);
    }
}

int mnemo_log_flush(mnemo_store *st)
{
    journal *j = log_of(st);
    if (!j)
        return MNEMO_OK;
    return journal_write_out(j, atomic_load(&j->appended)) == 0 ? MNEMO_OK : MNEMO_EIO;
}

int mnemo_log_sync(mnemo_store *st, int wait)
{
    journal *j = log_of(st);
    if (!j)
        return MNEMO_OK;
    int rc = wait ? journal_sync(j) : journal_sync_try(j);
    return rc == 0 ? MNEMO_OK : rc > 0 ? MNEMO_EBUSY : MNEMO_EIO;
}

int mnemo_log_wait(mnemo_store *st, uint64_t lsn)
{
    journal *j = log_of(st);
    if (!j)
        return MNEMO_OK;
    return journal_wait(j, lsn) == 0 ? MNEMO_OK : MNEMO_EIO;
}

int mnemo_log_state(mnemo_store *st)
{
    persist *p = st ? atomic_load(&st->persist) : NULL;
    return p ? atomic_load(&p->log_state) : MNEMO_LOGSTATE_OFF;
}

int mnemo_persist_info_get(mnemo_store *st, mnemo_persist_info *out)
{
    if (!st || !out)
        return MNEMO_EINVAL;
    memset(out, 0, sizeof(*out));
    persist *p = atomic_load(&st->persist);
    if (!p)
        return MNEMO_OK;
    journal *j = p->j;
    out->enabled = 1;
    out->log_state = atomic_load(&p->log_state);
    out->mode = out->log_state == MNEMO_LOGSTATE_OFF ? MNEMO_PERSIST_SNAPSHOTS : MNEMO_PERSIST_LOG;
    if (j) {
        out->fsync = atomic_load(&j->mode);
        out->last_write_errno = atomic_load(&j->write_err);
        out->appended_lsn = atomic_load(&j->appended);
        out->written_lsn = atomic_load(&j->written);
        out->durable_lsn = atomic_load(&j->durable);
        out->log_bytes = out->log_state != MNEMO_LOGSTATE_OFF ? atomic_load(&j->log_bytes) : 0;
        out->last_fsync_ms = atomic_load(&j->last_fsync_ms);
        out->fsyncs = atomic_load(&j->fsyncs);
        out->slow_fsync_us = atomic_load(&j->slow_fsync_ns) / 1000u;
    } else {
        out->fsync = atomic_load(&p->fsync);
    }
    out->last_write_ok = out->last_write_errno == 0;
    out->base_bytes = atomic_load(&p->base_bytes);
    uint64_t base = atomic_load(&p->dirty_base), now = persist_changes(st);
    out->changes_since_save = now > base ? now - base : 0;
    out->snapshot_in_progress = atomic_load(&p->in_progress);
    out->last_snapshot_ms = atomic_load(&p->last_snapshot_ms);
    out->last_snapshot_ok = atomic_load(&p->last_snapshot_ok);
    out->last_snapshot_duration_ms = atomic_load(&p->last_snapshot_duration_ms);
    out->last_fork_us = atomic_load(&p->last_fork_us);
    out->snapshots = atomic_load(&p->snapshots);
    out->loaded_keys = p->loaded_keys;
    out->load_ms = p->load_ms;
    return MNEMO_OK;
}

int mnemo_persist_set_fsync(mnemo_store *st, mnemo_fsync mode)
{
    if (!st || mode < MNEMO_FSYNC_NO || mode > MNEMO_FSYNC_ALWAYS)
        return MNEMO_EINVAL;
    persist *p = atomic_load(&st->persist);
    if (!p)
        return MNEMO_OK;
    /* Under mu, so that a log being created now gets the new policy or this call sees it. */
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->fsync, mode);
    journal *j = p->j;
    pthread_mutex_unlock(&p->mu);
    if (!j)
        return MNEMO_OK;
    atomic_store(&j->mode, mode);
    pthread_mutex_lock(&j->mu);
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->mu);
    return MNEMO_OK;
}

/*
 * persist.c — a store's persistence: opening the directory, the persist thread, snapshots'
 * start and completion, and the public persistence API (see persist.h, snapshot.h).
 */
#include "persist/persist.h"

#include <errno.h>
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

static void *persist_thread(void *arg);

int persist_open(mnemo_store *st)
{
    const mnemo_persist_config *in = st->cfg.persist;
    if (!in->dir || !in->dir[0] || (in->name && (!in->name[0] || strchr(in->name, '/'))) ||
        in->fsync < MNEMO_FSYNC_NO || in->fsync > MNEMO_FSYNC_ALWAYS)
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
    uint64_t next_lsn = 1, size = 0;
    int fd = -1;
    int rc = persist_load(st, p, &next_lsn, &fd, &size);
    if (rc != MNEMO_OK) {
        persist_free(p);
        return rc;
    }
    journal *j = journal_create(pc, fd, size, next_lsn);
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
    atomic_store(&p->dirty_base, next_lsn - 1);
    atomic_store(&p->last_snapshot_ms, clock_realtime_ms());
    atomic_store(&p->last_snapshot_ok, 1);
    st->journal = j;
    st->persist = p;
    if (pthread_create(&p->thread, NULL, persist_thread, st) == 0)
        p->started = 1;
    return MNEMO_OK;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

static void snap_tmp_name(persist *p, uint64_t seq, char *out, size_t cap)
{
    char f[MANIFEST_NAME_MAX];
    manifest_snap_name(p->name, seq, f, sizeof(f));
    snprintf(out, cap, "%s.tmp", f);
}

/* Starts a snapshot (mu held). Returns a mnemo_status. */
static int snapshot_start_locked(mnemo_store *st, persist *p)
{
    journal *j = st->journal;
    if (p->child)
        return MNEMO_EBUSY;
    if (p->man.nlogs >= MANIFEST_MAX_LOGS) {
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: too many log segments");
        return MNEMO_EIO;
    }
    uint64_t seq = p->man.seq;
    char segname[MANIFEST_NAME_MAX], tmpname[MANIFEST_NAME_MAX + 8];
    manifest_log_name(p->name, seq, segname, sizeof(segname));
    snap_tmp_name(p, seq, tmpname, sizeof(tmpname));
    int segfd = openat(p->dirfd, segname, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                       0644);
    int snapfd = openat(p->dirfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    /* The new segment is named by the manifest before it receives anything: until the
     * snapshot completes, the state is "old snapshot + old segments + this one". Its first
     * LSN (0 here: "continues the previous") is in its header, written at the fork point. */
    manifest m = p->man;
    strcpy(m.logs[m.nlogs], segname);
    m.first[m.nlogs++] = 0;
    m.seq = seq + 1;
    if (segfd < 0 || snapfd < 0 || manifest_write(p->dirfd, p->name, &m) != 0) {
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
    p->man = m;

    /* The shard array, for the child. After fork() every page the parent writes first takes a
     * copy-on-write fault, and releasing the shard locks writes every page of the shard array:
     * hundreds of faults (100-200 us each on a paravirtualised VM), 23-58 ms of stall at 1M
     * keys. So the child gets a copy made under the locks (a buffer faulted in once, here,
     * outside the stall) and the array itself is not mapped into the child at all. */
    size_t n = (size_t)st->cfg.databases * st->nshards;
    if (!p->fork_shards) {
        void *b = pages_alloc(st->shards_bytes);
        if (b) {
            memset(b, 0, st->shards_bytes);
            p->fork_shards = b;
            p->fork_shards_bytes = st->shards_bytes;
        }
    }

    /* The fork point: every shard lock, so no change is half made and the log position is
     * exactly the state's. */
    uint64_t t0 = clock_monotonic_ns();
    for (size_t i = 0; i < n; i++)
        mlock_lock(&st->shards[i].lock);
    int own_copy = p->fork_shards && pages_inherit(st->shards, st->shards_bytes, 0) == 0;
    if (own_copy)
        memcpy(p->fork_shards, st->shards, n * sizeof(shard));
    uint64_t lsn = atomic_load(&j->appended);
    uint8_t h[LOG_FILE_HDR];
    logfmt_file_header(h, lsn + 1);
    int ok = write(segfd, h, sizeof(h)) == (ssize_t)sizeof(h);
    uint64_t log_before = 0;
    if (ok) {
        ok = journal_rotate(j, segfd, LOG_FILE_HDR) == 0;
        log_before = atomic_load(&j->log_bytes);
    }
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
    for (size_t i = n; i-- > 0;)
        mlock_unlock(&st->shards[i].lock);
    atomic_store(&p->last_fork_us, (int64_t)((clock_monotonic_ns() - t0) / 1000u));
    close(snapfd);
    if (pid < 0) {
        if (!ok)
            close(segfd); /* not rotated: the segment stays empty and is torn-header-safe */
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: can't start a snapshot: %s",
                     strerror(e));
        unlinkat(p->dirfd, tmpname, 0);
        atomic_store(&p->last_snapshot_ok, 0);
        return MNEMO_EIO;
    }
    atomic_store(&j->log_bytes, log_before + LOG_FILE_HDR);
    p->rot_log_bytes = log_before;
    p->child = pid;
    p->snap_seq = seq;
    p->snap_lsn = lsn;
    p->snap_seg = (uint64_t)(p->man.nlogs - 1);
    p->man.first[p->snap_seg] = lsn + 1;
    p->snap_start_ms = clock_realtime_ms();
    atomic_store(&p->in_progress, 1);
    journal_logf(&p->pc, MNEMO_LOG_NOTICE,
                 "Background snapshot started by pid %d (up to LSN %" PRIu64 ", fork stall %"
                 PRId64 " us)", (int)pid, lsn, atomic_load(&p->last_fork_us));
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
    if (ok) {
        m.has_snapshot = 1;
        strcpy(m.snapshot, fname);
        m.snapshot_lsn = p->snap_lsn;
        m.snapshot_bytes = (uint64_t)sb.st_size;
        int k = (int)p->snap_seg;
        memmove(m.logs, m.logs + k, (size_t)(m.nlogs - k) * sizeof(m.logs[0]));
        memmove(m.first, m.first + k, (size_t)(m.nlogs - k) * sizeof(m.first[0]));
        m.nlogs -= k;
        ok = manifest_write(p->dirfd, p->name, &m) == 0;
    }
    if (ok) {
        /* The manifest no longer names the older files: delete them. */
        if (p->man.has_snapshot)
            unlinkat(p->dirfd, p->man.snapshot, 0);
        for (uint64_t i = 0; i < p->snap_seg; i++)
            unlinkat(p->dirfd, p->man.logs[i], 0);
        p->man = m;
        atomic_fetch_sub(&st->journal->log_bytes, p->rot_log_bytes);
        atomic_store(&p->base_bytes, m.snapshot_bytes);
        atomic_store(&p->dirty_base, p->snap_lsn);
        atomic_fetch_add(&p->snapshots, 1);
        journal_logf(&p->pc, MNEMO_LOG_NOTICE,
                     "Background snapshot done: %s/%s, %" PRIu64 " bytes, up to LSN %" PRIu64,
                     p->dir, fname, m.snapshot_bytes, p->snap_lsn);
    } else {
        unlinkat(p->dirfd, tmpname, 0);
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Background snapshot failed (%s)",
                     WIFSIGNALED(status) ? "child killed by a signal"
                                         : "child error or the files could not be switched");
    }
    int64_t now = clock_realtime_ms();
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

int mnemo_snapshot(mnemo_store *st, int wait)
{
    if (!st || !st->persist)
        return MNEMO_EINVAL;
    if (store_txn)
        return MNEMO_ETXN;
    if (atomic_load(&st->closed))
        return MNEMO_ECLOSED;
    persist *p = st->persist;
    pthread_mutex_lock(&p->mu);
    if (wait)
        reap_locked(st, p, 1); /* SAVE during a background snapshot: let it finish first */
    int rc = snapshot_start_locked(st, p);
    if (rc == MNEMO_OK && wait) {
        reap_locked(st, p, 1);
        rc = atomic_load(&p->last_snapshot_ok) ? MNEMO_OK : MNEMO_EIO;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void *persist_thread(void *arg)
{
    mnemo_store *st = arg;
    persist *p = st->persist;
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
        /* Log rewrite: a snapshot when the log outgrew the last one by the set percentage. */
        uint64_t logb = atomic_load(&st->journal->log_bytes);
        uint64_t base = atomic_load(&p->base_bytes);
        if (!p->child && p->pc.rewrite_percentage && logb >= p->pc.rewrite_min_size &&
            (base == 0 || (logb - (logb < base ? logb : base)) * 100 >=
                              base * (uint64_t)p->pc.rewrite_percentage)) {
            journal_logf(&p->pc, MNEMO_LOG_NOTICE,
                         "Starting automatic log rewrite: the log is %" PRIu64
                         " bytes, the last snapshot %" PRIu64, logb, base);
            if (snapshot_start_locked(st, p) != MNEMO_OK)
                atomic_store(&p->base_bytes, logb); /* do not retry in a loop */
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void persist_close(mnemo_store *st)
{
    persist *p = st->persist;
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
    if (p->child) {
        /* A snapshot still running: it is not needed for the state (the manifest names the
         * log from before it), so stop it rather than make close wait for it. */
        kill(p->child, SIGKILL);
        reap_locked(st, p, 1);
    }
    pthread_mutex_unlock(&p->mu);
    if (journal_destroy(st->journal) != 0)
        journal_logf(&p->pc, MNEMO_LOG_WARNING, "Persistence: the final sync of the log failed");
    st->journal = NULL;
    st->persist = NULL;
    persist_free(p);
}

/* ---- the public log API -------------------------------------------------------------------- */

uint64_t mnemo_log_lsn(mnemo_store *st, int which)
{
    journal *j = st ? st->journal : NULL;
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
    journal *j = st ? st->journal : NULL;
    if (!j)
        return MNEMO_OK;
    return journal_write_out(j, atomic_load(&j->appended)) == 0 ? MNEMO_OK : MNEMO_EIO;
}

int mnemo_log_wait(mnemo_store *st, uint64_t lsn)
{
    journal *j = st ? st->journal : NULL;
    if (!j)
        return MNEMO_OK;
    return journal_wait(j, lsn) == 0 ? MNEMO_OK : MNEMO_EIO;
}

int mnemo_persist_info_get(mnemo_store *st, mnemo_persist_info *out)
{
    if (!st || !out)
        return MNEMO_EINVAL;
    memset(out, 0, sizeof(*out));
    journal *j = st->journal;
    persist *p = st->persist;
    if (!j || !p)
        return MNEMO_OK;
    out->enabled = 1;
    out->fsync = atomic_load(&j->mode);
    out->last_write_errno = atomic_load(&j->write_err);
    out->last_write_ok = out->last_write_errno == 0;
    out->appended_lsn = atomic_load(&j->appended);
    out->written_lsn = atomic_load(&j->written);
    out->durable_lsn = atomic_load(&j->durable);
    out->log_bytes = atomic_load(&j->log_bytes);
    out->base_bytes = atomic_load(&p->base_bytes);
    out->last_fsync_ms = atomic_load(&j->last_fsync_ms);
    uint64_t base = atomic_load(&p->dirty_base);
    out->changes_since_save = out->appended_lsn > base ? out->appended_lsn - base : 0;
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
    if (!st->journal)
        return MNEMO_OK;
    atomic_store(&st->journal->mode, mode);
    pthread_mutex_lock(&st->journal->mu);
    pthread_cond_signal(&st->journal->wake);
    pthread_mutex_unlock(&st->journal->mu);
    return MNEMO_OK;
}

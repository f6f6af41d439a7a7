/* journal.c — see journal.h. */
#include "persist/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

#define WBUF_KEEP ((size_t)16 << 20) /* a write buffer larger than this is given back */
#define ALWAYS_SWEEP_MS 5 /* always + async_commit: the log thread syncs leftovers this often */
#define MAP_WINDOW ((size_t)1 << 20) /* the segment is preallocated and mapped this much at a time */
#define FILL_AHEAD ((uint64_t)1 << 20) /* always: zeros written this far past the records */
#define FILL_STEP ((size_t)64 << 10)   /* ... this much per write, wmu held */

/* Formats a message and hands it to a log callback (none: nothing). */
static void vlogf(mnemo_log_fn log, void *ctx, int level, const char *fmt, va_list ap)
{
    if (!log)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    log(ctx, level, msg);
}

void journal_logf(const mnemo_persist_config *pc, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlogf(pc ? pc->log : NULL, pc ? pc->log_ctx : NULL, level, fmt, ap);
    va_end(ap);
}

static void jlog(journal *j, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void jlog(journal *j, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlogf(j->log, j->log_ctx, level, fmt, ap);
    va_end(ap);
}

static void atomic_max(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load(a);
    while (cur < v && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

/* `lsn`, or the durable cap if lower. */
static uint64_t capped(journal *j, uint64_t lsn)
{
    uint64_t cap = atomic_load(&j->durable_cap);
    return cap < lsn ? cap : lsn;
}

/* ---- thread-local state: the open unit and this thread's last commit-worthy LSN ------------ */

typedef struct tl_state {
    journal *j;      /* the journal the unit is open for */
    int depth;
    lbuf b;          /* LOG_REC_HDR bytes reserved, then the unit's operations */
    uint64_t pending; /* last LSN this thread appended for a caller (0: none to commit) */
} tl_state;

static _Thread_local tl_state tl;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

/* Frees the thread's unit buffer when the thread exits. */
static void tl_destroy(void *p)
{
    tl_state *t = p;
    lbuf_free(&t->b);
}

static void tl_key_init(void)
{
    pthread_key_create(&tl_key, tl_destroy);
}

/* ---- appending ----------------------------------------------------------------------------- */

static void append_failed(journal *j)
{
    atomic_store(&j->write_err, ENOMEM);
    jlog(j, MNEMO_LOG_WARNING, "Persistence: out of memory for the log buffer; a change was "
                               "not logged and the log no longer matches the store");
}

/* Reserves a record of `len` payload bytes in buf (mu held). Returns its header or NULL. */
static uint8_t *reserve_locked(journal *j, size_t len)
{
    if (len > LOG_MAX_PAYLOAD || lbuf_reserve(&j->buf, LOG_REC_HDR + len))
        return NULL;
    uint8_t *h = j->buf.p + j->buf.len;
    j->buf.len += LOG_REC_HDR + len;
    return h;
}

/* Seals the record at h and publishes it (mu held); wakes the log thread if it should run. */
static void publish_locked(journal *j, uint8_t *h, size_t len, int client)
{
    uint64_t lsn = j->next_lsn++;
    logfmt_seal(h, (uint32_t)len, lsn);
    atomic_store_explicit(&j->appended, lsn, memory_order_release);
    if (client)
        tl.pending = lsn;
    /* Under always the thread syncs at once, unless the caller commits (async_commit): then
     * the caller syncs itself or asks in journal_wait(). */
    if (j->sleeping &&
        ((!j->async_commit &&
          atomic_load_explicit(&j->mode, memory_order_relaxed) == MNEMO_FSYNC_ALWAYS) ||
         j->buf.len >= JOURNAL_WRITE_THRESHOLD)) {
        j->sleeping = 0;
        pthread_cond_signal(&j->wake);
    }
}

/* Where an operation of `len` bytes goes: the open unit, or a fresh record in buf (then mu is
 * held on return and *locked is set). Returns NULL if out of memory. */
static uint8_t *op_begin(journal *j, size_t len, int *locked)
{
    if (tl.depth && tl.j == j) {
        *locked = 0;
        if (lbuf_reserve(&tl.b, len))
            return NULL;
        uint8_t *p = tl.b.p + tl.b.len;
        tl.b.len += len;
        return p;
    }
    pthread_mutex_lock(&j->mu);
    *locked = 1;
    uint8_t *h = reserve_locked(j, len);
    if (!h) {
        pthread_mutex_unlock(&j->mu);
        *locked = 0;
        return NULL;
    }
    return h + LOG_REC_HDR;
}

static void op_end(journal *j, uint8_t *p, size_t len, int locked, int client)
{
    if (!locked)
        return;
    publish_locked(j, p - LOG_REC_HDR, len, client);
    pthread_mutex_unlock(&j->mu);
}

void journal_set(journal *j, unsigned db, const void *key, size_t klen, const void *val,
                 size_t vlen, uint64_t version, int64_t expire_at)
{
    size_t len = lop_set_size(db, klen, vlen, expire_at);
    int locked;
    uint8_t *p = op_begin(j, len, &locked);
    if (!p) {
        append_failed(j);
        return;
    }
    lop_put_set(p, db, key, klen, val, vlen, version, expire_at);
    op_end(j, p, len, locked, 1);
}

static void simple_op(journal *j, int type, unsigned db, unsigned db2, const void *key,
                      size_t klen, int64_t at, int client)
{
    size_t len = lop_size(type, db, db2, klen, at);
    int locked;
    uint8_t *p = op_begin(j, len, &locked);
    if (!p) {
        append_failed(j);
        return;
    }
    lop_put(p, type, db, db2, key, klen, at);
    op_end(j, p, len, locked, client);
}

void journal_del(journal *j, unsigned db, const void *key, size_t klen, int client)
{
    simple_op(j, LOP_DEL, db, 0, key, klen, 0, client);
}

void journal_expire(journal *j, unsigned db, const void *key, size_t klen, int64_t at)
{
    simple_op(j, LOP_EXPIRE, db, 0, key, klen, at, 1);
}

void journal_flush(journal *j, int all, unsigned db)
{
    simple_op(j, all ? LOP_FLUSHALL : LOP_FLUSHDB, db, 0, NULL, 0, 0, 1);
}

void journal_swapdb(journal *j, unsigned db1, unsigned db2)
{
    simple_op(j, LOP_SWAPDB, db1, db2, NULL, 0, 0, 1);
}

void journal_unit_begin(journal *j)
{
    if (tl.depth++ == 0) {
        pthread_once(&tl_once, tl_key_init);
        pthread_setspecific(tl_key, &tl);
        tl.j = j;
        tl.b.len = 0;
        if (lbuf_reserve(&tl.b, LOG_REC_HDR) == 0)
            tl.b.len = LOG_REC_HDR;
    }
}

void journal_unit_end(journal *j)
{
    if (tl.depth == 0 || --tl.depth > 0)
        return;
    size_t len = tl.b.len >= LOG_REC_HDR ? tl.b.len - LOG_REC_HDR : 0;
    tl.j = NULL;
    if (len == 0)
        return;
    if (tl.b.cap < LOG_REC_HDR) { /* the header could not be reserved at begin */
        append_failed(j);
        return;
    }
    pthread_mutex_lock(&j->mu);
    uint8_t *h = reserve_locked(j, len);
    if (h) {
        memcpy(h + LOG_REC_HDR, tl.b.p + LOG_REC_HDR, len);
        publish_locked(j, h, len, 1);
    }
    pthread_mutex_unlock(&j->mu);
    if (!h)
        append_failed(j);
    tl.b.len = 0;
    if (tl.b.cap > ((size_t)1 << 20))
        lbuf_free(&tl.b);
}

/* ---- writing ------------------------------------------------------------------------------- */

/* ---- the mapped tail of the segment (wmu held) --------------------------------------------- */

static void map_drop(journal *j)
{
    if (j->map)
        munmap(j->map, j->map_len);
    j->map = NULL;
}

/* Maps the part of the segment from seg_bytes's page on, at least `need` bytes past
 * seg_bytes: allocated first (fallocate, so a full disk fails here and not as SIGBUS on a
 * store), and kept out of forked children. Returns 0 or -1; then pwrite(2) is used for
 * this segment from now on. */
static int map_window(journal *j, size_t need)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t start = j->seg_bytes & ~(uint64_t)(pg - 1);
    size_t len = (size_t)(j->seg_bytes - start) + need;
    len = len < MAP_WINDOW ? MAP_WINDOW : (len + pg - 1) & ~(pg - 1);
    map_drop(j);
    void *p = MAP_FAILED;
    if (fallocate(j->fd, 0, (off_t)start, (off_t)len) == 0)
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, (off_t)start);
    if (p == MAP_FAILED) {
        int e = errno;
        j->map_refused = 1;
        jlog(j, MNEMO_LOG_NOTICE, "Persistence: the log is written with pwrite(2), not through "
                                  "a mapping (%s)", strerror(e));
        errno = e;
        return -1;
    }
    /* Not prefaulted (MADV_POPULATE_WRITE): it would dirty the whole window, so the next
     * fdatasync would write zeros and write-protect the pages again anyway. */
    madvise(p, len, MADV_DONTFORK);
    j->map = p;
    j->map_off = start;
    j->map_len = len;
    return 0;
}

/* Copies in address order, 8 bytes per store with a compiler barrier between, so that a
 * process killed mid-copy leaves a prefix of the bytes (memcpy may store its last bytes
 * first, which would put record bytes after a hole). */
static void copy_forward(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        memcpy(dst + i, &v, 8);
        __asm__ volatile("" ::: "memory");
    }
    for (; i < n; i++) {
        dst[i] = src[i];
        __asm__ volatile("" ::: "memory");
    }
}

/* Puts n bytes at the end of the segment's records: into the mapping, or with pwrite(2).
 * Under always, pwrite: each fdatasync write-protects the pages it cleaned, so the next copy
 * into the mapping would take a page fault per round, dearer than the one pwrite per round
 * (measured: 0.13 faults per SET). Both reach the same page cache. */
static int put_records(journal *j, const uint8_t *p, size_t n)
{
    if (atomic_load_explicit(&j->mode, memory_order_relaxed) == MNEMO_FSYNC_ALWAYS)
        return logfmt_pwrite_all(j->fd, p, n, j->seg_bytes);
    if (!j->map_refused && (!j->map || j->seg_bytes + n > j->map_off + j->map_len))
        map_window(j, n); /* on failure: no mapping, and pwrite from now on */
    if (j->map) {
        copy_forward(j->map + (j->seg_bytes - j->map_off), p, n);
        return 0;
    }
    return logfmt_pwrite_all(j->fd, p, n, j->seg_bytes);
}

/* The segment's file ends where its records do (before it is retired or closed): drops the
 * mapping and cuts off the preallocated rest. Returns 1 (cut), 0 (nothing to cut) or -1. */
static int trim_segment(journal *j)
{
    map_drop(j);
    struct stat sb;
    if (fstat(j->fd, &sb) != 0)
        return -1;
    j->filled = j->seg_bytes;
    if ((uint64_t)sb.st_size <= j->seg_bytes)
        return 0;
    return ftruncate(j->fd, (off_t)j->seg_bytes) == 0 ? 1 : -1;
}

/* Under always, the log thread keeps FILL_AHEAD bytes of zeros written and synced past the
 * records, so that a commit's fdatasync overwrites blocks the file already has: no size or
 * extent change, so no file-system journal commit, only the data and a cache flush
 * (measured on ext4: fdatasync of a 1.5 KB append 117 us at the median and 166-194 at p99,
 * over written zeros 84-90 and 127-135; over fallocate(2)'s unwritten extents 80 but 167 at
 * p99, as each first write converts an extent). Recovery reads the zeros as a
 * preallocated tail; closing and rotating cut them off (trim_segment()). Runs without smu:
 * a commit's sync overlapping it may carry some zeros and the size change once. Writes at
 * most `budget` bytes (rounded up to a step) per call. */
static void prefill(journal *j, uint64_t budget)
{
    static const uint8_t zeros[FILL_STEP];
    int fd = -1;
    uint64_t from = 0, to = 0;
    while (to - from < budget) {
        pthread_mutex_lock(&j->wmu);
        uint64_t start = j->filled > j->seg_bytes ? j->filled : j->seg_bytes;
        if (j->fill_refused || (fd < 0 && start - j->seg_bytes >= FILL_AHEAD / 2) ||
            start - j->seg_bytes >= FILL_AHEAD ||
            atomic_load_explicit(&j->mode, memory_order_relaxed) != MNEMO_FSYNC_ALWAYS) {
            pthread_mutex_unlock(&j->wmu);
            break;
        }
        map_drop(j); /* not used under always; its window would overlap */
        if (logfmt_pwrite_all(j->fd, zeros, FILL_STEP, start) != 0) {
            j->fill_refused = 1; /* a full disk: records still go where they always did */
            pthread_mutex_unlock(&j->wmu);
            break;
        }
        j->filled = start + FILL_STEP;
        if (fd < 0 || start != to) { /* a new stretch (or a rotation): sync from here */
            if (fd >= 0)
                close(fd);
            fd = dup(j->fd);
            from = start;
        }
        to = j->filled;
        pthread_mutex_unlock(&j->wmu);
    }
    if (fd < 0)
        return;
    /* The zeros first, then the size (fdatasync), so commits find both done. */
    if (sync_file_range(fd, (off_t)from, (off_t)(to - from), SYNC_FILE_RANGE_WAIT_BEFORE |
                        SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0 ||
        fdatasync(fd) != 0) {
        /* only speed is lost: the records' own syncs cover what they need */
    }
    close(fd);
}

/* Takes what is appended and writes it to the current segment (wmu held). Returns 0, or -1
 * (errno) with the unwritten bytes kept for the next attempt and the file cut back. */
static int write_pending(journal *j)
{
    pthread_mutex_lock(&j->mu);
    if (j->wbuf.len == 0) {
        lbuf t = j->wbuf;
        j->wbuf = j->buf;
        j->buf = t;
    } else if (j->buf.len) {
        if (lbuf_reserve(&j->wbuf, j->buf.len)) {
            pthread_mutex_unlock(&j->mu);
            errno = ENOMEM;
            return -1;
        }
        memcpy(j->wbuf.p + j->wbuf.len, j->buf.p, j->buf.len);
        j->wbuf.len += j->buf.len;
        j->buf.len = 0;
    }
    uint64_t last = j->next_lsn - 1;
    pthread_mutex_unlock(&j->mu);
    if (j->wbuf.len) {
        if (put_records(j, j->wbuf.p, j->wbuf.len) != 0) {
            int e = errno;
            map_drop(j); /* a mapping past the cut would fault (SIGBUS) */
            if (ftruncate(j->fd, (off_t)j->seg_bytes) != 0) {
                /* cannot cut back: the next attempt overwrites the partial record anyway */
            }
            j->filled = j->seg_bytes;
            if (atomic_exchange(&j->write_err, e) != e)
                jlog(j, MNEMO_LOG_WARNING, "Persistence: error writing the log: %s",
                     strerror(e));
            errno = e;
            return -1;
        }
        j->seg_bytes += j->wbuf.len;
        atomic_fetch_add(&j->log_bytes, j->wbuf.len);
        j->wbuf.len = 0;
        if (j->wbuf.cap > WBUF_KEEP)
            lbuf_free(&j->wbuf);
    }
    if (atomic_load(&j->write_err) != ENOMEM) /* a lost append is never forgiven */
        atomic_store(&j->write_err, 0);
    atomic_max(&j->written, last);
    if (atomic_load_explicit(&j->mode, memory_order_relaxed) == MNEMO_FSYNC_NO)
        atomic_max(&j->durable, capped(j, last));
    return 0;
}

int journal_write_out(journal *j, uint64_t lsn)
{
    if (atomic_load_explicit(&j->written, memory_order_acquire) >= lsn)
        return 0;
    pthread_mutex_lock(&j->wmu);
    int rc = atomic_load(&j->written) >= lsn ? 0 : write_pending(j);
    pthread_mutex_unlock(&j->wmu);
    return rc;
}

static void notify_durable(journal *j, uint64_t lsn)
{
    if (atomic_load(&j->dwaiters)) {
        pthread_mutex_lock(&j->dmu);
        pthread_cond_broadcast(&j->dcond);
        pthread_mutex_unlock(&j->dmu);
    }
    if (j->on_durable)
        j->on_durable(j->on_durable_ctx, lsn);
}

/* fdatasync(2), counted (INFO; the server's commit delay follows the slow ones). */
static int timed_fdatasync(journal *j, int fd)
{
    uint64_t t0 = clock_monotonic_ns();
    int rc = fdatasync(fd);
    uint64_t ns = clock_monotonic_ns() - t0;
    atomic_fetch_add_explicit(&j->fsyncs, 1, memory_order_relaxed);
    if (ns >= JOURNAL_SLOW_FSYNC_NS)
        atomic_fetch_add_explicit(&j->slow_fsync_ns, ns, memory_order_relaxed);
    return rc;
}

/* Syncs the retired segments and `fd`; closes the retired ones. Returns 0 or -1 (errno). */
static int sync_fds(journal *j, int fd, int *retired, int nretired)
{
    int rc = 0;
    for (int i = 0; i < nretired; i++) {
        if (timed_fdatasync(j, retired[i]) != 0)
            rc = -1;
        close(retired[i]);
    }
    if (fd < 0 || timed_fdatasync(j, fd) != 0)
        rc = -1;
    atomic_store(&j->last_fsync_ms, clock_realtime_ms());
    return rc;
}

/* write_and_sync()'s work. A sync round (`synced` != NULL, smu held) stores there the
 * durable LSN to announce (0: none). */
static int write_round(journal *j, uint64_t *synced)
{
    int sync = synced != NULL;
    int retired[4], nr = 0;
    int mode = atomic_load(&j->mode);
    uint64_t before = atomic_load(&j->durable);
    pthread_mutex_lock(&j->wmu);
    int rc = write_pending(j);
    uint64_t target = atomic_load(&j->written);
    /* A copy: a rotation may retire j->fd, and whoever takes it from `retired` closes it. */
    int fd = sync ? dup(j->fd) : -1;
    if (sync || mode == MNEMO_FSYNC_NO) {
        nr = j->nretired;
        memcpy(retired, j->retired, sizeof(retired));
        j->nretired = 0;
    }
    pthread_mutex_unlock(&j->wmu);
    if (!sync) {
        for (int i = 0; i < nr; i++)
            close(retired[i]);
        if (mode == MNEMO_FSYNC_NO && atomic_load(&j->durable) > before)
            notify_durable(j, atomic_load(&j->durable));
        return rc;
    }
    if (rc == 0 && before >= target && nr == 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    int src = sync_fds(j, fd, retired, nr);
    if (fd >= 0)
        close(fd);
    if (src != 0) {
        int e = errno;
        if (atomic_exchange(&j->write_err, e) != e)
            jlog(j, MNEMO_LOG_WARNING, "Persistence: fsync of the log failed: %s", strerror(e));
        return -1;
    }
    atomic_max(&j->durable, capped(j, target));
    *synced = atomic_load(&j->durable);
    return rc;
}

/* One round of the log thread or of journal_sync(): write, then sync if `sync`. Without a
 * sync, rotated-out segments stay for a later sync round (under `no` they are just closed).
 * Syncs run one at a time (smu); with `try`, returns 1 at once if one is running. */
static int write_and_sync(journal *j, int sync, int try)
{
    if (!sync)
        return write_round(j, 0);
    if (try) {
        if (pthread_mutex_trylock(&j->smu) != 0)
            return 1;
    } else {
        pthread_mutex_lock(&j->smu);
    }
    uint64_t durable = 0;
    int rc = write_round(j, &durable);
    /* Unlocked before the callback: a thread whose try failed and that registers for the
     * callback afterwards is then either told, or finds smu free when it tries again. */
    pthread_mutex_unlock(&j->smu);
    if (durable)
        notify_durable(j, durable);
    return rc;
}

int journal_sync(journal *j)
{
    return write_and_sync(j, 1, 0);
}

int journal_sync_try(journal *j)
{
    return write_and_sync(j, 1, 1);
}

static void timed_wait(journal *j, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    j->sleeping = 1;
    pthread_cond_timedwait(&j->wake, &j->mu, &ts);
    j->sleeping = 0;
}

static void *log_thread(void *arg)
{
    journal *j = arg;
    pthread_setname_np(pthread_self(), "mnemo-log");
    int64_t last_sync = clock_realtime_ms();
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int mode = atomic_load_explicit(&j->mode, memory_order_relaxed);
        if (mode == MNEMO_FSYNC_ALWAYS) {
            /* Bounded: a failed write is retried even when nothing new arrives. With
             * async_commit the callers lead the syncs (journal_sync_try()); this thread only
             * picks up, every few ms, what no caller synced (expiries, evictions). */
            if (!j->stop &&
                (j->buf.len == 0 || (j->async_commit && atomic_load(&j->dwaiters) == 0)))
                timed_wait(j, j->async_commit ? ALWAYS_SWEEP_MS : 1000);
        } else {
            int64_t left = last_sync + 1000 - clock_realtime_ms();
            if (!j->stop && j->buf.len < JOURNAL_WRITE_THRESHOLD && left > 0)
                timed_wait(j, left);
        }
        int stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        mode = atomic_load_explicit(&j->mode, memory_order_relaxed);
        int64_t now = clock_realtime_ms();
        int due = now - last_sync >= 1000;
        int sync = mode == MNEMO_FSYNC_ALWAYS || (mode == MNEMO_FSYNC_EVERYSEC && due);
        /* The sweep under always + async_commit is for what no caller syncs: while callers
         * do sync, it would only split their group (a caller's batch half taken here, the
         * caller then waiting for this sync before its own: measured as the 1 % of SETs
         * that waited two syncs, Redis's p99 exceeded). */
        int skip = mode == MNEMO_FSYNC_ALWAYS && j->async_commit && !stop &&
                   atomic_load(&j->dwaiters) == 0 && atomic_load(&j->write_err) == 0 &&
                   (uint64_t)(now - atomic_load(&j->last_fsync_ms)) < ALWAYS_SWEEP_MS;
        if (!skip && write_and_sync(j, sync, mode == MNEMO_FSYNC_ALWAYS && j->async_commit) < 0 &&
            mode == MNEMO_FSYNC_ALWAYS) {
            struct timespec ts = {0, 100 * 1000000}; /* a failing disk: retry, do not spin */
            nanosleep(&ts, NULL);
        }
        /* For the server (async_commit) this thread is off the commit path; for a library
         * caller under always it is the commit path: there it fills only when no commit is
         * waiting, 64 KiB at a time (a 1 MiB fill and its sync took 4-5 ms here). */
        if (mode == MNEMO_FSYNC_ALWAYS && !stop &&
            (j->async_commit || atomic_load(&j->appended) <= atomic_load(&j->written)))
            prefill(j, j->async_commit ? FILL_AHEAD : FILL_STEP);
        if (due)
            last_sync = now;
        if (stop)
            break;
    }
    return NULL;
}

/* ---- commits ------------------------------------------------------------------------------- */

int journal_wait(journal *j, uint64_t lsn)
{
    if (atomic_load_explicit(&j->durable, memory_order_acquire) >= lsn)
        return 0;
    /* Counted before the log thread is woken: under always with async_commit it syncs at once
     * only while someone waits (log_thread()). */
    atomic_fetch_add(&j->dwaiters, 1);
    pthread_mutex_lock(&j->mu);
    if (j->sleeping) {
        j->sleeping = 0;
        pthread_cond_signal(&j->wake);
    }
    pthread_mutex_unlock(&j->mu);
    if (atomic_load(&j->mode) != MNEMO_FSYNC_ALWAYS &&
        atomic_load(&j->durable_cap) == JOURNAL_NO_CAP) {
        atomic_fetch_sub(&j->dwaiters, 1);
        return journal_sync(j) == 0 && atomic_load(&j->durable) >= lsn ? 0 : -1;
    }
    pthread_mutex_lock(&j->dmu);
    while (atomic_load(&j->durable) < lsn &&
           (atomic_load(&j->mode) == MNEMO_FSYNC_ALWAYS ||
            atomic_load(&j->durable_cap) != JOURNAL_NO_CAP)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&j->dcond, &j->dmu, &ts);
    }
    pthread_mutex_unlock(&j->dmu);
    atomic_fetch_sub(&j->dwaiters, 1);
    if (atomic_load(&j->durable) < lsn)
        return journal_sync(j) == 0 && atomic_load(&j->durable) >= lsn ? 0 : -1;
    return 0;
}

void journal_commit(journal *j)
{
    uint64_t lsn = tl.pending;
    if (!lsn || j->async_commit)
        return;
    tl.pending = 0;
    if (atomic_load_explicit(&j->mode, memory_order_relaxed) == MNEMO_FSYNC_ALWAYS ||
        atomic_load_explicit(&j->durable_cap, memory_order_relaxed) != JOURNAL_NO_CAP)
        journal_wait(j, lsn);
    else
        journal_write_out(j, lsn);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

journal *journal_create(const mnemo_persist_config *pc, int fd, uint64_t size, uint64_t next_lsn)
{
    journal *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    atomic_init(&j->mode, pc->fsync);
    j->async_commit = pc->async_commit;
    j->on_durable = pc->on_durable;
    j->on_durable_ctx = pc->on_durable_ctx;
    j->log = pc->log;
    j->log_ctx = pc->log_ctx;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->wmu, NULL);
    pthread_mutex_init(&j->dmu, NULL);
    pthread_mutex_init(&j->smu, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_cond_init(&j->dcond, NULL);
    j->fd = fd;
    j->seg_bytes = size;
    j->filled = size;
    j->next_lsn = next_lsn;
    atomic_init(&j->appended, next_lsn - 1);
    atomic_init(&j->written, next_lsn - 1);
    atomic_init(&j->durable, next_lsn - 1);
    atomic_init(&j->durable_cap, JOURNAL_NO_CAP);
    atomic_init(&j->log_bytes, size);
    return j;
}

int journal_start(journal *j)
{
    if (pthread_create(&j->thread, NULL, log_thread, j) != 0)
        return -1;
    j->started = 1;
    return 0;
}

int journal_destroy(journal *j)
{
    if (!j)
        return 0;
    if (j->started) {
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->wake);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thread, NULL);
    }
    int rc = journal_sync(j);
    if (j->fd >= 0) {
        pthread_mutex_lock(&j->wmu);
        int cut = trim_segment(j);
        if (cut < 0 || (cut > 0 && fdatasync(j->fd) != 0))
            rc = -1;
        pthread_mutex_unlock(&j->wmu);
        close(j->fd);
    }
    for (int i = 0; i < j->nretired; i++)
        close(j->retired[i]);
    lbuf_free(&j->buf);
    lbuf_free(&j->wbuf);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->wmu);
    pthread_mutex_destroy(&j->dmu);
    pthread_mutex_destroy(&j->smu);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->dcond);
    free(j);
    return rc;
}

int journal_set_durable_cap(journal *j, uint64_t cap)
{
    atomic_store(&j->durable_cap, cap);
    if (cap != JOURNAL_NO_CAP)
        return 0;
    int rc = journal_sync(j);
    /* Waiters under a policy other than always sleep in journal_wait() only while capped. */
    pthread_mutex_lock(&j->dmu);
    pthread_cond_broadcast(&j->dcond);
    pthread_mutex_unlock(&j->dmu);
    return rc;
}

int journal_retired_full(journal *j)
{
    pthread_mutex_lock(&j->wmu);
    int full = j->nretired == (int)(sizeof(j->retired) / sizeof(j->retired[0]));
    pthread_mutex_unlock(&j->wmu);
    return full;
}

int journal_rotate(journal *j, int fd, uint64_t size)
{
    pthread_mutex_lock(&j->wmu);
    if (j->nretired == (int)(sizeof(j->retired) / sizeof(j->retired[0])) ||
        write_pending(j) != 0) {
        pthread_mutex_unlock(&j->wmu);
        errno = errno ? errno : EBUSY;
        return -1;
    }
    if (trim_segment(j) < 0) {
        int e = errno;
        pthread_mutex_unlock(&j->wmu);
        errno = e;
        return -1;
    }
    j->retired[j->nretired++] = j->fd;
    j->fd = fd;
    j->seg_bytes = size;
    j->filled = size;
    j->map_refused = 0;
    j->fill_refused = 0;
    pthread_mutex_unlock(&j->wmu);
    return 0;
}

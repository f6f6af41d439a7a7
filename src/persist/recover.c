/*
 * recover.c — loading a persistence directory into a store, and checking one (mnemo-check).
 *
 * Load: the manifest names the snapshot (if any) and the log segments; the snapshot is loaded
 * (snapshot.c), then each segment is replayed record by record. Every record is validated as
 * a whole (checksums, LSN sequence, every operation decodable) before any of its operations is
 * applied, so a transaction is applied entirely or not at all. Operations are applied with
 * their recorded versions and absolute expiration times; keys whose time has passed are
 * dropped. The store's clock is moved past every replayed version.
 *
 * Damage: a torn record at the end of the last segment is cut off (ftruncate + fsync) with a
 * warning; anything else — damage before the end, a gap in the LSNs, a segment that does not
 * start where the previous one ended — stops the load with MNEMO_ECORRUPT and a message naming
 * the file and the byte offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/store_int.h"
#include "persist/journal.h"
#include "persist/logfmt.h"
#include "persist/mapfile.h"
#include "persist/persist.h"
#include "persist/snapshot.h"
#include "util/clock.h"
#include "util/hash.h"

/* ---- scanning a segment -------------------------------------------------------------------- */

typedef int (*rec_fn)(void *ctx, const uint8_t *payload, uint32_t len, uint64_t lsn);

typedef struct seg_scan {
    int status;         /* LREC_END (all good), LREC_TORN, LREC_CORRUPT */
    size_t good_end;    /* offset just past the last good record (or the header) */
    uint64_t last_lsn;  /* the last good record's LSN (first - 1 if none) */
    uint64_t records;
    const char *why;
} seg_scan;

/* A record is well-formed if every operation in it decodes. */
static int payload_ok(const uint8_t *p, uint32_t len)
{
    const uint8_t *q = p, *end = p + len;
    lop o;
    int r;
    while ((r = lop_next(&q, end, &o)) == 1) {
    }
    return r == 0 && len > 0;
}

typedef struct progress {
    const mnemo_persist_config *pc;
    const char *file;
    uint64_t t0_ns, last_ns;
    uint64_t *keys;
    persist *p;         /* the load's byte count (persist_load_progress) */
    size_t reported;    /* offset in the file reported so far */
} progress;

static void scan_segment(const uint8_t *data, size_t n, uint64_t first, rec_fn fn, void *ctx,
                         progress *pr, seg_scan *out)
{
    memset(out, 0, sizeof(*out));
    out->last_lsn = first - 1;
    uint64_t hdr_first;
    if (n < LOG_FILE_HDR) {
        out->status = LREC_TORN;
        out->why = "incomplete segment header";
        return;
    }
    if (logfmt_parse_file_header(data, n, &hdr_first) != 0) {
        out->status = LREC_CORRUPT;
        out->why = "bad segment header (magic, format or checksum)";
        return;
    }
    if (hdr_first != first) {
        out->status = LREC_CORRUPT;
        out->why = "segment does not start at the LSN the manifest gives";
        return;
    }
    size_t off = LOG_FILE_HDR;
    out->good_end = off;
    for (;;) {
        const uint8_t *pl;
        uint32_t plen;
        size_t used;
        uint64_t lsn;
        int r = logfmt_next(data + off, n - off, out->last_lsn + 1, &pl, &plen, &used, &lsn,
                            &out->why);
        if (r == LREC_OK && !payload_ok(pl, plen)) {
            r = LREC_CORRUPT;
            out->why = "record with valid checksums holds a malformed operation";
        }
        if (r != LREC_OK) {
            out->status = r;
            return;
        }
        if (fn && fn(ctx, pl, plen, lsn) != 0) {
            out->status = LREC_CORRUPT;
            out->why = "record cannot be applied (database out of range?)";
            return;
        }
        off += used;
        out->good_end = off;
        out->last_lsn = lsn;
        out->records++;
        if (pr && off - pr->reported >= ((size_t)1 << 20)) {
            persist_load_progress(pr->p, off - pr->reported);
            pr->reported = off;
        }
        if (pr && (out->records & 0xffff) == 0) {
            uint64_t now = clock_monotonic_ns();
            if (now - pr->last_ns >= 1000000000ull) {
                pr->last_ns = now;
                double secs = (double)(now - pr->t0_ns) / 1e9;
                journal_logf(pr->pc, MNEMO_LOG_NOTICE,
                             "Loading %s: %.0f%%, %" PRIu64 " records, %.0f keys/s", pr->file,
                             100.0 * (double)off / (double)n, out->records,
                             secs > 0 ? (double)*pr->keys / secs : 0.0);
            }
        }
    }
}

/* Only preallocated zeros after the last good record (logfmt.h). */
static int zero_tail(const seg_scan *s)
{
    return s->status == LREC_TORN && s->why == LOGFMT_ZERO_TAIL;
}

/* ---- applying ------------------------------------------------------------------------------ */

/* Records waiting to be applied in parallel (apply_flush). */
typedef struct pend_rec {
    const uint8_t *p;
    uint32_t len;
} pend_rec;

#define APPLY_BATCH 65536u   /* records collected before the threads apply them */
#define APPLY_PARALLEL_MIN 2048u /* fewer are applied by the collecting thread alone */

typedef struct apply_ctx {
    mnemo_store *st;
    int64_t now;
    uint64_t skip_upto; /* records up to this LSN are in the snapshot already */
    uint64_t applied;
    unsigned delay_us;  /* load_key_delay_us (testing) */
    unsigned threads;   /* appliers (load_threads); 0 or 1: every record at once, in order */
    pend_rec *pend;     /* collected records, in LSN order, not yet applied */
    size_t npend;
    int failed;         /* an operation of a collected record could not be applied */
    uint64_t max_version; /* the highest version replayed (the store's floor goes above it) */
} apply_ctx;

int persist_restore_set(mnemo_store *st, unsigned db, const void *key, size_t klen,
                        const void *val, size_t vlen, uint64_t version, int64_t expire_at,
                        int64_t now)
{
    uint64_t h = hash_bytes(key, klen);
    size_t idx = store_shard_index(st, db, h);
    shard *sh = &st->shards[idx];
    op o = {st, db, now, 1};
    int rc;
    if ((rc = store_lock(st, idx)) != MNEMO_OK)
        return rc;
    if ((rc = shard_prepare_insert(sh)) == MNEMO_OK) {
        loc l;
        int found = shard_find(sh, &o, key, klen, h, &l);
        if (expire_at && expire_at <= now) {
            if (found)
                shard_remove(sh, &o, &l, MNEMO_EVENT_DEL);
        } else {
            vsrc v = {.p1 = val, .n1 = vlen};
            shard_restore_version = version;
            rc = shard_store(sh, &o, &l, key, klen, h, &v, expire_at, NULL);
            shard_restore_version = 0;
        }
        shard_maintain_after_write(st, sh);
    }
    store_unlock(st, idx);
    return rc;
}

static int apply_set(apply_ctx *a, const lop *x, uint64_t *max_version)
{
    if (x->version > *max_version)
        *max_version = x->version;
    return persist_restore_set(a->st, x->db, x->key, x->klen, x->val, x->vlen, x->version,
                               x->expire_at, a->now);
}

static int apply_expire(apply_ctx *a, const lop *x)
{
    mnemo_store *st = a->st;
    uint64_t h = hash_bytes(x->key, x->klen);
    size_t idx = store_shard_index(st, x->db, h);
    shard *sh = &st->shards[idx];
    op o = {st, x->db, a->now, 1};
    int rc;
    if ((rc = store_lock(st, idx)) != MNEMO_OK)
        return rc;
    loc l;
    if (shard_find(sh, &o, x->key, x->klen, h, &l)) {
        if (x->expire_at && x->expire_at <= a->now)
            shard_remove(sh, &o, &l, MNEMO_EVENT_DEL);
        else
            rc = shard_set_expire(sh, &o, &l, h, x->expire_at);
        shard_maintain_after_write(st, sh);
    }
    store_unlock(st, idx);
    return rc;
}

/* Applies one operation (any type); *max_version follows the versions it restores (per thread:
 * the store's floor is raised once, at the end of the replay). */
static int apply_op(apply_ctx *a, const lop *x, uint64_t *max_version)
{
    int rc = MNEMO_OK;
    switch (x->type) {
    case LOP_SET:
        rc = apply_set(a, x, max_version);
        break;
    case LOP_DEL:
        rc = mnemo_del(a->st, x->db, x->key, x->klen);
        rc = rc == MNEMO_ENOTFOUND ? MNEMO_OK : rc;
        break;
    case LOP_EXPIRE:
        rc = apply_expire(a, x);
        break;
    case LOP_FLUSHDB:
        rc = mnemo_flush(a->st, x->db);
        break;
    case LOP_FLUSHALL:
        rc = mnemo_flush_all(a->st);
        break;
    case LOP_SWAPDB:
        rc = mnemo_swapdb(a->st, x->db, x->db2);
        break;
    }
    return rc;
}

/* ---- parallel replay -------------------------------------------------------------------------
 * Replay is what a large log after a snapshot costs at start-up, and one thread applies ~600k
 * records/s here. Operations on one key always land in one shard, and shards are independent,
 * so the records collected in LSN order are applied by `threads` threads, each taking the
 * operations whose shard index is its own modulo `threads`, in LSN order: every key sees its
 * operations in the log's order, and no two threads meet on a shard lock. Operations that span
 * shards (FLUSHDB, FLUSHALL, SWAPDB) are barriers: what was collected before is applied first,
 * then the record alone. Atomicity of a multi-key record does not matter while nothing reads
 * the store. */

typedef struct applier {
    apply_ctx *a;
    unsigned t;
    int failed;
    uint64_t max_version;
} applier;

static void *applier_main(void *arg)
{
    applier *w = arg;
    apply_ctx *a = w->a;
    mnemo_store *st = a->st;
    unsigned nt = a->threads;
    for (size_t i = 0; i < a->npend && !w->failed; i++) {
        const uint8_t *q = a->pend[i].p, *end = q + a->pend[i].len;
        lop x;
        while (lop_next(&q, end, &x) == 1) {
            uint64_t h = hash_bytes(x.key, x.klen);
            if (store_shard_index(st, x.db, h) % nt != w->t)
                continue;
            if (apply_op(a, &x, &w->max_version) != MNEMO_OK) {
                w->failed = 1;
                break;
            }
        }
    }
    return NULL;
}

/* Applies the collected records: in parallel when there are enough, else here in order.
 * Returns 0, or -1 if an operation failed (a->failed is set). */
static int apply_flush(apply_ctx *a)
{
    if (!a->npend)
        return a->failed ? -1 : 0;
    if (a->npend < APPLY_PARALLEL_MIN || a->threads < 2) {
        for (size_t i = 0; i < a->npend && !a->failed; i++) {
            const uint8_t *q = a->pend[i].p, *end = q + a->pend[i].len;
            lop x;
            while (lop_next(&q, end, &x) == 1)
                if (apply_op(a, &x, &a->max_version) != MNEMO_OK) {
                    a->failed = 1;
                    break;
                }
        }
    } else {
        applier w[16];
        pthread_t th[16];
        unsigned nt = a->threads > 16 ? 16 : a->threads;
        a->threads = nt;
        for (unsigned t = 0; t < nt; t++)
            w[t] = (applier){a, t, 0, 0};
        int spawned[16] = {0};
        for (unsigned t = 1; t < nt; t++)
            spawned[t] = pthread_create(&th[t], NULL, applier_main, &w[t]) == 0;
        applier_main(&w[0]);
        for (unsigned t = 1; t < nt; t++) {
            if (spawned[t])
                pthread_join(th[t], NULL);
            else
                applier_main(&w[t]); /* no thread: this one does that share too */
        }
        for (unsigned t = 0; t < nt; t++) {
            a->failed |= w[t].failed;
            if (w[t].max_version > a->max_version)
                a->max_version = w[t].max_version;
        }
    }
    a->npend = 0;
    return a->failed ? -1 : 0;
}

static int apply_record(void *ctx, const uint8_t *p, uint32_t len, uint64_t lsn)
{
    apply_ctx *a = ctx;
    if (lsn <= a->skip_upto)
        return 0;
    if (a->delay_us)
        usleep(a->delay_us);
    const uint8_t *q = p, *end = p + len;
    lop x;
    unsigned ndb = a->st->cfg.databases;
    int barrier = 0;
    /* Validate every database index first: a record is applied whole or not at all. */
    while (lop_next(&q, end, &x) == 1) {
        if ((x.type != LOP_FLUSHALL && x.db >= ndb) || (x.type == LOP_SWAPDB && x.db2 >= ndb)) {
            (void)apply_flush(a); /* what came before is good */
            return -1;
        }
        barrier |= x.type == LOP_FLUSHDB || x.type == LOP_FLUSHALL || x.type == LOP_SWAPDB;
    }
    if (a->pend && !barrier) {
        a->pend[a->npend++] = (pend_rec){p, len};
        a->applied++;
        return a->npend == APPLY_BATCH ? apply_flush(a) : 0;
    }
    if (apply_flush(a) != 0)
        return -1;
    q = p;
    while (lop_next(&q, end, &x) == 1)
        if (apply_op(a, &x, &a->max_version) != MNEMO_OK)
            return -1;
    a->applied++;
    return 0;
}

int persist_replay_mem(mnemo_store *st, const uint8_t *data, size_t n, uint64_t first,
                       int64_t now, size_t *good_end, uint64_t *last_lsn)
{
    apply_ctx a = {st, now, 0, 0, 0, 0, NULL, 0, 0, 0};
    seg_scan s;
    scan_segment(data, n, first, apply_record, &a, NULL, &s);
    hlc_observe(&st->hlc, a.max_version);
    *good_end = s.good_end;
    *last_lsn = s.last_lsn;
    return s.status;
}

/* ---- loading ------------------------------------------------------------------------------- */

void persist_load_progress(persist *p, uint64_t bytes)
{
    uint64_t done = atomic_fetch_add(&p->load_done, bytes) + bytes;
    if (p->pc.load_progress)
        p->pc.load_progress(p->pc.load_progress_ctx, done < p->load_total ? done : p->load_total,
                            p->load_total);
}

int persist_create_segment(persist *p, uint64_t seq, uint64_t first_lsn)
{
    char fname[MANIFEST_NAME_MAX];
    manifest_log_name(p->name, seq, fname, sizeof(fname));
    int fd = openat(p->dirfd, fname, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    uint8_t h[LOG_FILE_HDR];
    logfmt_file_header(h, first_lsn);
    if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) || fdatasync(fd) != 0 ||
        fsync(p->dirfd) != 0) {
        int e = errno;
        close(fd);
        errno = e ? e : ENOSPC;
        return -1;
    }
    return fd;
}

static int has_files(int dirfd, const char *name)
{
    char probe[MANIFEST_NAME_MAX];
    for (uint64_t s = 1; s <= 4; s++) {
        manifest_log_name(name, s, probe, sizeof(probe));
        if (faccessat(dirfd, probe, F_OK, 0) == 0)
            return 1;
    }
    return 0;
}

int persist_load(mnemo_store *st, persist *p, uint64_t *next_lsn, int *fd_out, uint64_t *size)
{
    const mnemo_persist_config *pc = &p->pc;
    int log_on = pc->mode == MNEMO_PERSIST_LOG;
    char why[256];
    *fd_out = -1;
    *size = 0;
    int r = manifest_read(p->dirfd, p->name, &p->man, why, sizeof(why));
    if (r == -1) {
        journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't read %s/%s.manifest: %s",
                     p->dir, p->name, strerror(errno));
        return MNEMO_EIO;
    }
    if (r == -2) {
        journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: %s/%s.manifest is corrupt: %s",
                     p->dir, p->name, why);
        return MNEMO_ECORRUPT;
    }
    if (r == 1) {
        if (has_files(p->dirfd, p->name)) {
            journal_logf(pc, MNEMO_LOG_WARNING,
                         "Persistence: %s has log segments of '%s' but no manifest; refusing "
                         "to start over them (restore the manifest or move the files away)",
                         p->dir, p->name);
            return MNEMO_ECORRUPT;
        }
        memset(&p->man, 0, sizeof(p->man));
        if (!log_on) {
            /* Snapshots only: nothing is written before the first snapshot. */
            p->man.seq = 1;
            *next_lsn = 1;
            journal_logf(pc, MNEMO_LOG_NOTICE, "Persistence: no files in %s yet (snapshots only)",
                         p->dir);
            return MNEMO_OK;
        }
        int fd = persist_create_segment(p, 1, 1);
        if (fd < 0) {
            journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't create the log in %s: %s",
                         p->dir, strerror(errno));
            return MNEMO_EIO;
        }
        manifest_log_name(p->name, 1, p->man.logs[0], MANIFEST_NAME_MAX);
        p->man.first[0] = 1;
        p->man.nlogs = 1;
        p->man.seq = 2;
        if (manifest_write(p->dirfd, p->name, &p->man) != 0) {
            journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't write the manifest in %s: %s",
                         p->dir, strerror(errno));
            close(fd);
            return MNEMO_EIO;
        }
        journal_logf(pc, MNEMO_LOG_NOTICE, "Persistence: new log %s/%s", p->dir,
                     p->man.logs[0]);
        *next_lsn = 1;
        *fd_out = fd;
        *size = LOG_FILE_HDR;
        return MNEMO_OK;
    }

    uint64_t t0 = clock_monotonic_ns();
    op o0 = {st, 0, 0, 1};
    apply_ctx a = {st, op_now(&o0), 0, 0, pc->load_key_delay_us, 0, NULL, 0, 0, 0};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    a.threads = pc->load_threads ? pc->load_threads : (unsigned)(cpus > 0 ? cpus : 1);
    uint64_t keys_done = 0;
    /* The progress's total: every file the manifest names. */
    struct stat fsb;
    if (p->man.has_snapshot && fstatat(p->dirfd, p->man.snapshot, &fsb, 0) == 0)
        p->load_total += (uint64_t)fsb.st_size;
    for (int i = 0; i < p->man.nlogs; i++)
        if (fstatat(p->dirfd, p->man.logs[i], &fsb, 0) == 0)
            p->load_total += (uint64_t)fsb.st_size;
    persist_load_progress(p, 0);
    if (p->man.has_snapshot) {
        int rc = snapshot_load(st, p, p->man.snapshot, p->man.snapshot_lsn, a.now, &keys_done);
        if (rc != MNEMO_OK)
            return rc;
        a.skip_upto = p->man.snapshot_lsn;
        atomic_store(&p->base_bytes, p->man.snapshot_bytes);
    }
    uint64_t expect = p->man.has_snapshot ? p->man.snapshot_lsn + 1 : 1;
    if (p->man.first[0] > expect) {
        journal_logf(pc, MNEMO_LOG_WARNING,
                     "Persistence: %s/%s starts at LSN %" PRIu64 " but the state before it "
                     "ends at %" PRIu64 ": records are missing",
                     p->dir, p->man.logs[0], p->man.first[0], expect - 1);
        return MNEMO_ECORRUPT;
    }
    uint64_t last = expect - 1;
    uint64_t total_bytes = 0;
    if (a.threads > 1 && !a.delay_us) /* the test knob's delay wants the records one by one */
        a.pend = malloc(APPLY_BATCH * sizeof(*a.pend)); /* NULL: applied one by one */
    for (int i = 0; i < p->man.nlogs; i++) {
        const char *fname = p->man.logs[i];
        int fd;
        const uint8_t *data;
        size_t n;
        if (mapfile_open(p->dirfd, fname, 0, &fd, &data, &n) != 0) {
            journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't open %s/%s: %s", p->dir,
                         fname, strerror(errno));
            free(a.pend);
            return MNEMO_EIO;
        }
        uint64_t first = i == 0 ? p->man.first[0] : last + 1;
        if (n == 0 && i < p->man.nlogs - 1) {
            /* Named and never written: a rotation that was refused (persist.c) and could not
             * take the name back. The next segment's first LSN still proves continuity. */
            journal_logf(pc, MNEMO_LOG_NOTICE, "Persistence: %s/%s is empty: skipped", p->dir,
                         fname);
            close(fd);
            continue;
        }
        if (i > 0 && p->man.first[i] && p->man.first[i] != first) {
            journal_logf(pc, MNEMO_LOG_WARNING,
                         "Persistence: %s/%s starts at LSN %" PRIu64 ", expected %" PRIu64,
                         p->dir, fname, p->man.first[i], first);
            mapfile_close(data, n);
            close(fd);
            free(a.pend);
            return MNEMO_ECORRUPT;
        }
        progress pr = {pc, fname, t0, clock_monotonic_ns(), &a.applied, p, 0};
        seg_scan s;
        scan_segment(data, n, first, apply_record, &a, &pr, &s);
        if (apply_flush(&a) != 0 && s.status != LREC_CORRUPT) { /* before the mapping goes */
            s.status = LREC_CORRUPT;
            s.why = "record cannot be applied";
        }
        persist_load_progress(p, n - pr.reported);
        mapfile_close(data, n);
        int lastseg = i == p->man.nlogs - 1;
        /* Zeros after the last record are preallocated space the writer did not get to trim:
         * the process stopped between naming a new segment and rotating into it. Nothing is
         * lost in them; if records were (a machine crash), the next segment does not start
         * at the LSN after this one's last, and that check refuses to start. */
        if (s.status == LREC_CORRUPT || (s.status == LREC_TORN && !lastseg && !zero_tail(&s))) {
            journal_logf(pc, MNEMO_LOG_WARNING,
                         "Persistence: %s/%s is corrupt at offset %zu (after LSN %" PRIu64
                         "): %s. Refusing to start; run mnemo-check to see the damage, and "
                         "mnemo-check --fix to cut the log back to its last good record",
                         p->dir, fname, s.good_end, s.last_lsn, s.why);
            close(fd);
            free(a.pend);
            return MNEMO_ECORRUPT;
        }
        if (zero_tail(&s)) {
            journal_logf(pc, MNEMO_LOG_NOTICE,
                         "Persistence: %s/%s has %zu bytes of preallocated space after its "
                         "last record (offset %zu): cutting it off (the log was not closed)",
                         p->dir, fname, n - s.good_end, s.good_end);
        } else if (s.status == LREC_TORN) {
            journal_logf(pc, MNEMO_LOG_WARNING,
                         "Persistence: %s/%s ends with a torn record at offset %zu (%s, %zu "
                         "bytes): truncating it (a crash while it was written)",
                         p->dir, fname, s.good_end, s.why, n - s.good_end);
        }
        if (s.status == LREC_TORN) {
            int trc;
            if (s.good_end < LOG_FILE_HDR) {
                uint8_t h[LOG_FILE_HDR];
                logfmt_file_header(h, first);
                trc = ftruncate(fd, 0) == 0 && pwrite(fd, h, sizeof(h), 0) == sizeof(h) ? 0 : -1;
                s.good_end = LOG_FILE_HDR;
            } else {
                trc = ftruncate(fd, (off_t)s.good_end);
            }
            if (trc != 0 || fdatasync(fd) != 0) {
                journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't truncate %s/%s: %s",
                             p->dir, fname, strerror(errno));
                close(fd);
                free(a.pend);
                return MNEMO_EIO;
            }
            n = s.good_end;
        }
        last = s.last_lsn;
        total_bytes += n;
        if (lastseg) {
            close(fd);
            fd = openat(p->dirfd, fname, O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't open %s/%s: %s",
                             p->dir, fname, strerror(errno));
                free(a.pend);
                return MNEMO_EIO;
            }
            *fd_out = fd;
            *size = n;
        } else {
            close(fd);
        }
    }
    free(a.pend);
    hlc_observe(&st->hlc, a.max_version);
    *next_lsn = last + 1;
    uint64_t done = atomic_load(&p->load_done);
    if (done < p->load_total) /* file headers and the snapshot's terminator */
        persist_load_progress(p, p->load_total - done);
    if (!log_on && *fd_out >= 0) {
        /* Snapshots only: the segments stay named until the next snapshot replaces them. */
        close(*fd_out);
        *fd_out = -1;
        *size = 0;
    } else if (log_on && p->man.nlogs == 0) {
        /* A snapshots-only state and the log wanted: a new log that starts after it. */
        manifest m = p->man;
        int fd = persist_create_segment(p, m.seq, last + 1);
        manifest_log_name(p->name, m.seq, m.logs[0], MANIFEST_NAME_MAX);
        m.first[0] = last + 1;
        m.nlogs = 1;
        m.seq++;
        if (fd < 0 || manifest_write(p->dirfd, p->name, &m) != 0) {
            journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't start the log in %s: %s",
                         p->dir, strerror(errno));
            if (fd >= 0)
                close(fd);
            return MNEMO_EIO;
        }
        p->man = m;
        journal_logf(pc, MNEMO_LOG_NOTICE, "Persistence: new log %s/%s after the snapshot",
                     p->dir, m.logs[0]);
        *fd_out = fd;
        *size = LOG_FILE_HDR;
    }
    uint64_t dbkeys = 0;
    for (unsigned db = 0; db < st->cfg.databases; db++) {
        uint64_t k = 0;
        mnemo_dbsize(st, db, &k);
        dbkeys += k;
    }
    p->loaded_keys = dbkeys;
    p->load_ms = (int64_t)((clock_monotonic_ns() - t0) / 1000000u);
    p->load_log_bytes = total_bytes;
    journal_logf(pc, MNEMO_LOG_NOTICE,
                 "Persistence: loaded %" PRIu64 " keys (%" PRIu64 " log records replayed, "
                 "last LSN %" PRIu64 ") in %" PRId64 " ms",
                 dbkeys, a.applied, last, p->load_ms);
    return MNEMO_OK;
}

/* ---- checking ------------------------------------------------------------------------------ */

int mnemo_persist_check(const mnemo_persist_config *pc, int fix, int *summary)
{
    if (!pc || !pc->dir)
        return MNEMO_EINVAL;
    const char *name = pc->name ? pc->name : "appendonly.aof";
    int dirfd = open(pc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        journal_logf(pc, MNEMO_LOG_WARNING, "can't open %s: %s", pc->dir, strerror(errno));
        return MNEMO_EIO;
    }
    manifest m;
    char why[256];
    int worst = 0;
    int r = manifest_read(dirfd, name, &m, why, sizeof(why));
    if (r != 0) {
        journal_logf(pc, MNEMO_LOG_WARNING, "%s/%s.manifest: %s", pc->dir, name,
                     r == 1 ? "missing" : r == -1 ? strerror(errno) : why);
        close(dirfd);
        if (summary)
            *summary = 2;
        return r == -1 ? MNEMO_EIO : MNEMO_OK;
    }
    journal_logf(pc, MNEMO_LOG_NOTICE, "%s/%s.manifest: ok (%s%d log segment%s)", pc->dir, name,
                 m.has_snapshot ? "a snapshot and " : "", m.nlogs, m.nlogs == 1 ? "" : "s");
    if (m.has_snapshot) {
        uint64_t keys = 0;
        if (snapshot_check(dirfd, m.snapshot, m.snapshot_lsn, pc, &keys) != 0)
            worst = 2;
        else
            journal_logf(pc, MNEMO_LOG_NOTICE, "%s/%s: ok, %" PRIu64 " keys, up to LSN %" PRIu64,
                         pc->dir, m.snapshot, keys, m.snapshot_lsn);
    }
    uint64_t last = m.has_snapshot ? m.snapshot_lsn : 0;
    if (m.nlogs > 0 && m.first[0] > last + 1) {
        journal_logf(pc, MNEMO_LOG_WARNING, "%s/%s starts at LSN %" PRIu64 ": LSNs %" PRIu64
                     "..%" PRIu64 " are missing", pc->dir, m.logs[0], m.first[0], last + 1,
                     m.first[0] - 1);
        worst = 2;
    }
    if (m.nlogs > 0)
        last = m.first[0] - 1;
    for (int i = 0; i < m.nlogs; i++) {
        int fd;
        const uint8_t *data;
        size_t n;
        if (mapfile_open(dirfd, m.logs[i], 0, &fd, &data, &n) != 0) {
            journal_logf(pc, MNEMO_LOG_WARNING, "%s/%s: %s", pc->dir, m.logs[i],
                         strerror(errno));
            worst = 2;
            break;
        }
        int lastseg = i == m.nlogs - 1;
        if (n == 0 && !lastseg) {
            journal_logf(pc, MNEMO_LOG_NOTICE, "%s/%s: empty (named, never written): skipped",
                         pc->dir, m.logs[i]);
            close(fd);
            continue;
        }
        seg_scan s;
        scan_segment(data, n, last + 1, NULL, NULL, NULL, &s);
        mapfile_close(data, n);
        if (s.status == LREC_END) {
            journal_logf(pc, MNEMO_LOG_NOTICE, "%s/%s: ok, %" PRIu64 " records, LSN %" PRIu64
                         "..%" PRIu64 ", %zu bytes", pc->dir, m.logs[i], s.records, last + 1,
                         s.last_lsn, n);
            last = s.last_lsn;
            close(fd);
            continue;
        }
        if (zero_tail(&s)) {
            /* Preallocated space the writer did not trim (it stopped without closing the
             * log): start-up cuts it off in any segment, and the next segment's first LSN
             * (checked next) says whether records are missing. */
            if (worst < 1)
                worst = 1;
            int ok = !fix || (ftruncate(fd, (off_t)s.good_end) == 0 && fsync(fd) == 0);
            journal_logf(pc, ok ? MNEMO_LOG_NOTICE : MNEMO_LOG_WARNING,
                         "%s/%s: %" PRIu64 " records, LSN %" PRIu64 "..%" PRIu64 ", then %zu "
                         "bytes of preallocated space (zeros) at offset %zu%s",
                         pc->dir, m.logs[i], s.records, last + 1, s.last_lsn, n - s.good_end,
                         s.good_end, !fix ? ": start-up cuts them off" : ok ? ": cut off"
                                                                           : ": FAILED to cut off");
            if (fix && ok && worst == 1)
                worst = 0;
            last = s.last_lsn;
            close(fd);
            continue;
        }
        int sev = s.status == LREC_TORN && lastseg ? 1 : 2;
        if (sev > worst)
            worst = sev;
        journal_logf(pc, MNEMO_LOG_WARNING,
                     "%s/%s: %s at offset %zu (after %" PRIu64 " good records, last good LSN %"
                     PRIu64 "): %s; %zu bytes from there to the end",
                     pc->dir, m.logs[i], sev == 1 ? "torn tail" : "CORRUPT", s.good_end,
                     s.records, s.last_lsn, s.why, n - s.good_end);
        if (fix) {
            size_t cut = s.good_end < LOG_FILE_HDR ? 0 : s.good_end;
            int ok = ftruncate(fd, (off_t)cut) == 0;
            if (ok && cut == 0) {
                uint8_t h[LOG_FILE_HDR];
                logfmt_file_header(h, last + 1);
                ok = pwrite(fd, h, sizeof(h), 0) == sizeof(h);
            }
            ok = ok && fsync(fd) == 0;
            int dropped = m.nlogs - i - 1;
            if (ok && dropped) {
                m.nlogs = i + 1;
                ok = manifest_write(dirfd, name, &m) == 0;
            }
            journal_logf(pc, ok ? MNEMO_LOG_NOTICE : MNEMO_LOG_WARNING,
                         "%s/%s: %s to %zu bytes (%zu bytes dropped%s)", pc->dir, m.logs[i],
                         ok ? "truncated" : "FAILED to truncate", cut ? cut : LOG_FILE_HDR,
                         n - s.good_end, dropped ? ", and the later segments removed from "
                                                   "the manifest" : "");
            if (ok)
                worst = 0;
        }
        close(fd);
        break;
    }
    close(dirfd);
    if (summary)
        *summary = worst;
    return MNEMO_OK;
}

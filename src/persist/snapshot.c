/* snapshot.c — see snapshot.h. */
#include "persist/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/compress.h"
#include "engine/store_int.h"
#include "persist/journal.h"
#include "persist/logfmt.h"
#include "persist/mapfile.h"
#include "persist/persist.h"
#include "util/clock.h"

/* ---- writing (in the forked child) --------------------------------------------------------- */

static void seal_block(uint8_t *h, uint32_t len, uint32_t nkeys)
{
    logfmt_put32(h, len);
    logfmt_put32(h + 4, nkeys);
    logfmt_put32(h + 8, logfmt_check(h + SNAP_BLOCK_HDR, len));
    logfmt_put32(h + 12, logfmt_check(h, 12));
}

static int flush_block(int fd, lbuf *b, uint32_t nkeys)
{
    seal_block(b->p, (uint32_t)(b->len - SNAP_BLOCK_HDR), nkeys);
    int rc = logfmt_write_all(fd, b->p, b->len);
    b->len = SNAP_BLOCK_HDR;
    return rc;
}

int snapshot_write(mnemo_store *st, int fd, uint64_t lsn)
{
    uint8_t h[SNAP_HDR];
    memcpy(h, SNAP_MAGIC, 8);
    logfmt_put32(h + 8, SNAP_FORMAT);
    logfmt_put32(h + 12, st->cfg.databases);
    logfmt_put64(h + 16, lsn);
    logfmt_put32(h + 24, 0);
    logfmt_put32(h + 28, logfmt_check(h, 28));
    if (logfmt_write_all(fd, h, sizeof(h)) != 0)
        return -1;
    lbuf b = {0};
    if (lbuf_reserve(&b, SNAP_BLOCK_TARGET + 64))
        return -1;
    b.len = SNAP_BLOCK_HDR;
    uint32_t nkeys = 0;
    uint64_t total = 0;
    size_t n = (size_t)st->cfg.databases * st->nshards;
    for (size_t i = 0; i < n; i++) {
        shard *sh = &st->shards[i];
        unsigned db = (unsigned)(i / st->nshards);
        table *ts[2] = {&sh->old, &sh->tab};
        for (int t = 0; t < 2; t++) {
            for (uint32_t s = 0; s < ts[t]->cap; s++) {
                if (ts[t]->ctrl[s] < 0x80)
                    continue;
                uint32_t ref = table_refs(ts[t])[s];
                entry e;
                arena_decode(&sh->ar, ref, &e);
                int64_t at = entry_expire_at(&e);
                /* Values as written: a compressed one is decompressed (into this thread's
                 * buffer, valid until the next entry). */
                const uint8_t *val;
                size_t vlen;
                if (entry_value(&e, &val, &vlen) != MNEMO_OK) {
                    lbuf_free(&b);
                    return -1;
                }
                size_t need = logfmt_vlen(db) + 8 + logfmt_vlen((uint64_t)at) +
                              logfmt_vlen(e.klen) + e.klen + logfmt_vlen(vlen) + vlen;
                if (lbuf_reserve(&b, need)) {
                    lbuf_free(&b);
                    return -1;
                }
                uint8_t *p = b.p + b.len;
                p = logfmt_vput(p, db);
                logfmt_put64(p, e.version);
                p += 8;
                p = logfmt_vput(p, (uint64_t)at);
                p = logfmt_vput(p, e.klen);
                uint8_t kb[ENT_PFX_KEY_MAX];
                memcpy(p, entry_key(&e, kb), e.klen);
                p += e.klen;
                p = logfmt_vput(p, vlen);
                memcpy(p, val, vlen);
                p += vlen;
                b.len = (size_t)(p - b.p);
                nkeys++;
                total++;
                if (b.len >= SNAP_BLOCK_TARGET) {
                    if (flush_block(fd, &b, nkeys) != 0) {
                        lbuf_free(&b);
                        return -1;
                    }
                    nkeys = 0;
                }
            }
        }
    }
    int rc = nkeys ? flush_block(fd, &b, nkeys) : 0;
    if (rc == 0) {
        logfmt_put64(b.p + SNAP_BLOCK_HDR, total);
        b.len = SNAP_BLOCK_HDR + 8;
        rc = flush_block(fd, &b, SNAP_END_MARK);
    }
    lbuf_free(&b);
    return rc == 0 ? fsync(fd) : -1;
}

/* ---- parsing ------------------------------------------------------------------------------- */

typedef struct block {
    size_t off;     /* of the header */
    uint32_t len, nkeys;
} block;

/* Validates the header and the block chain (headers and the terminator, not payloads).
 * Returns the blocks (malloc()ed) or NULL with *why / *bad_off set. */
static block *index_blocks(const uint8_t *d, size_t n, uint64_t *lsn, size_t *nblocks,
                           uint64_t *total, const char **why, size_t *bad_off)
{
    *bad_off = 0;
    if (n < SNAP_HDR || memcmp(d, SNAP_MAGIC, 8) != 0 ||
        !logfmt_check_ok(logfmt_get32(d + 28), d, 28) || logfmt_get32(d + 8) != SNAP_FORMAT) {
        *why = "bad snapshot header (magic, format or checksum)";
        return NULL;
    }
    *lsn = logfmt_get64(d + 16);
    size_t cap = 64, nb = 0, off = SNAP_HDR;
    block *bl = malloc(cap * sizeof(*bl));
    if (!bl) {
        *why = "out of memory";
        return NULL;
    }
    for (;;) {
        *bad_off = off;
        if (n - off < SNAP_BLOCK_HDR) {
            *why = off == n ? "snapshot ends without its terminator" : "incomplete block header";
            break;
        }
        const uint8_t *h = d + off;
        if (!logfmt_check_ok(logfmt_get32(h + 12), h, 12)) {
            *why = "block header checksum mismatch";
            break;
        }
        uint32_t len = logfmt_get32(h), nkeys = logfmt_get32(h + 4);
        if (len > n - off - SNAP_BLOCK_HDR) {
            *why = "block runs past the end of the file";
            break;
        }
        if (nkeys == SNAP_END_MARK) {
            if (len != 8 || !logfmt_check_ok(logfmt_get32(h + 8), h + SNAP_BLOCK_HDR, 8)) {
                *why = "bad terminator block";
                break;
            }
            if (off + SNAP_BLOCK_HDR + 8 != n) {
                *why = "bytes after the terminator block";
                break;
            }
            *total = logfmt_get64(h + SNAP_BLOCK_HDR);
            *nblocks = nb;
            return bl;
        }
        if (nb == cap) {
            block *nbl = realloc(bl, 2 * cap * sizeof(*bl));
            if (!nbl) {
                *why = "out of memory";
                break;
            }
            bl = nbl;
            cap *= 2;
        }
        bl[nb++] = (block){off, len, nkeys};
        off += SNAP_BLOCK_HDR + len;
    }
    free(bl);
    return NULL;
}

/* Decodes one block, calling fn per entry; `verify`: check the payload's checksum first.
 * Returns 0 or -1 (*why). */
static int parse_block_v(const uint8_t *d, const block *b, snapshot_entry_fn fn, void *ctx,
                         int verify, const char **why)
{
    const uint8_t *p = d + b->off + SNAP_BLOCK_HDR, *end = p + b->len;
    if (verify && !logfmt_check_ok(logfmt_get32(d + b->off + 8), p, b->len)) {
        *why = "block payload checksum mismatch";
        return -1;
    }
    for (uint32_t k = 0; k < b->nkeys; k++) {
        uint64_t db, at, klen, vlen;
        if (logfmt_vget(&p, end, &db) || db > 0xffffffffu || end - p < 8)
            goto bad;
        uint64_t version = logfmt_get64(p);
        p += 8;
        if (logfmt_vget(&p, end, &at) || at > INT64_MAX || logfmt_vget(&p, end, &klen) ||
            klen > (uint64_t)(end - p))
            goto bad;
        const uint8_t *key = p;
        p += klen;
        if (logfmt_vget(&p, end, &vlen) || vlen > (uint64_t)(end - p))
            goto bad;
        const uint8_t *val = p;
        p += vlen;
        if (fn && fn(ctx, (unsigned)db, key, klen, val, vlen, version, (int64_t)at) != 0) {
            *why = "entry cannot be loaded (database out of range?)";
            return -1;
        }
    }
    if (p == end)
        return 0;
bad:
    *why = "malformed entry in a block with a valid checksum";
    return -1;
}

static int parse_block(const uint8_t *d, const block *b, snapshot_entry_fn fn, void *ctx,
                       const char **why)
{
    return parse_block_v(d, b, fn, ctx, 1, why);
}

int snapshot_parse(const uint8_t *d, size_t n, uint64_t *lsn, snapshot_entry_fn fn, void *ctx,
                   const char **why, size_t *bad_off)
{
    size_t nb;
    uint64_t total, seen = 0;
    block *bl = index_blocks(d, n, lsn, &nb, &total, why, bad_off);
    if (!bl)
        return -1;
    for (size_t i = 0; i < nb; i++) {
        *bad_off = bl[i].off;
        if (parse_block(d, &bl[i], fn, ctx, why) != 0) {
            free(bl);
            return -1;
        }
        seen += bl[i].nkeys;
    }
    free(bl);
    if (seen != total) {
        *why = "key count in the terminator does not match the blocks";
        *bad_off = n;
        return -1;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------- */

typedef struct load_ctx {
    mnemo_store *st;
    const uint8_t *d;
    const block *bl;
    size_t nb;
    int64_t now;
    _Atomic size_t next;
    _Atomic uint64_t keys;
    _Atomic int failed;
    persist *p;          /* progress (persist_load_progress) and load_key_delay_us */
    size_t bad_off;
    const char *why;
    pthread_mutex_t mu;
} load_ctx;

/* The highest version a loading thread has seen (thread-local, folded in per block). */
static _Thread_local uint64_t load_max_version;

static int load_entry(void *ctx, unsigned db, const uint8_t *key, size_t klen,
                      const uint8_t *val, size_t vlen, uint64_t version, int64_t at)
{
    load_ctx *l = ctx;
    if (db >= l->st->cfg.databases)
        return -1;
    if (version > load_max_version)
        load_max_version = version;
    if (l->p->pc.load_key_delay_us)
        usleep(l->p->pc.load_key_delay_us);
    if (at && at <= l->now)
        return 0;
    if (persist_restore_set(l->st, db, key, klen, val, vlen, version, at, l->now) != MNEMO_OK)
        return -1;
    return 0;
}

static void *load_worker(void *arg)
{
    load_ctx *l = arg;
    size_t i;
    while (!atomic_load(&l->failed) && (i = atomic_fetch_add(&l->next, 1)) < l->nb) {
        const char *why;
        if (parse_block(l->d, &l->bl[i], load_entry, l, &why) != 0) {
            pthread_mutex_lock(&l->mu);
            if (!atomic_exchange(&l->failed, 1) || l->bl[i].off < l->bad_off) {
                l->bad_off = l->bl[i].off;
                l->why = why;
            }
            pthread_mutex_unlock(&l->mu);
            break;
        }
        atomic_fetch_add(&l->keys, l->bl[i].nkeys);
        hlc_observe(&l->st->hlc, load_max_version);
        persist_load_progress(l->p, SNAP_BLOCK_HDR + l->bl[i].len);
    }
    return NULL;
}

/* Counting pass: entries per database (and every block's checksum verified before any key
 * is inserted). */
typedef struct count_ctx {
    uint64_t *per_db;
    unsigned ndb;
} count_ctx;

static int count_entry(void *ctx, unsigned db, const uint8_t *key, size_t klen,
                       const uint8_t *val, size_t vlen, uint64_t version, int64_t at)
{
    count_ctx *c = ctx;
    if (db >= c->ndb)
        return -1;
    c->per_db[db]++;
    return 0;
}

/*
 * Gives every empty shard a table sized for its share of the database's keys. Not only to
 * save the resizes: the writer walks each shard's table in slot order, which is hash order,
 * so a shard's keys arrive sorted by hash; a small table that grows as they come holds keys
 * from a narrow band of the hash space, all homed in a few slots, and linear probing then
 * walks long runs (a 5M-key load took 2-3x longer). A table of the final size spreads them.
 */
static void presize(mnemo_store *st, const uint64_t *per_db)
{
    for (unsigned db = 0; db < st->cfg.databases; db++) {
        uint64_t per = per_db[db] / st->nshards;
        if (per < TABLE_MIN_CAP)
            continue;
        uint64_t cap = per + per / 8 + 4 * TABLE_GROUP; /* ~ +3 standard deviations */
        cap = cap * 10 / 7;
        if (cap > UINT32_MAX / 2)
            continue;
        for (uint32_t i = 0; i < st->nshards; i++) {
            size_t idx = (size_t)db * st->nshards + i;
            shard *sh = &st->shards[idx];
            if (store_lock(st, idx) != MNEMO_OK)
                return;
            if (sh->tab.cap == 0 && sh->old.cap == 0)
                (void)table_alloc(&sh->tab, (uint32_t)cap); /* failure: it grows as usual */
            store_unlock(st, idx);
        }
    }
}

int snapshot_load(mnemo_store *st, persist *p, const char *fname, uint64_t lsn, int64_t now,
                  uint64_t *keys)
{
    const mnemo_persist_config *pc = &p->pc;
    const uint8_t *d;
    size_t n;
    if (mapfile_open(p->dirfd, fname, 1, NULL, &d, &n) != 0) {
        journal_logf(pc, MNEMO_LOG_WARNING, "Persistence: can't read %s/%s: %s", p->dir, fname,
                     strerror(errno));
        return MNEMO_EIO;
    }
    const char *why = NULL;
    size_t bad_off = 0, nb = 0;
    uint64_t flsn = 0, total = 0;
    block *bl = index_blocks(d, n, &flsn, &nb, &total, &why, &bad_off);
    if (bl && flsn != lsn) {
        why = "snapshot LSN differs from the manifest's";
        bad_off = 16;
        free(bl);
        bl = NULL;
    }
    if (!bl) {
        journal_logf(pc, MNEMO_LOG_WARNING,
                     "Persistence: snapshot %s/%s is corrupt at offset %zu: %s. Refusing to "
                     "start; run mnemo-check",
                     p->dir, fname, bad_off, why);
        mapfile_close(d, n);
        return MNEMO_ECORRUPT;
    }
    uint64_t *per_db = calloc(st->cfg.databases, sizeof(uint64_t));
    if (per_db) {
        /* Unverified (the loading pass checks every block): hashing 1 MiB blocks twice was a
         * fifth of a 5M-key load. */
        count_ctx cc = {per_db, st->cfg.databases};
        for (size_t i = 0; i < nb && !why; i++) {
            if (parse_block_v(d, &bl[i], count_entry, &cc, 0, &why) != 0) {
                bad_off = bl[i].off;
                parse_block(d, &bl[i], NULL, NULL, &why); /* the precise reason, if damage */
            }
        }
        if (why) {
            journal_logf(pc, MNEMO_LOG_WARNING,
                         "Persistence: snapshot %s/%s is corrupt at offset %zu: %s. Refusing "
                         "to start; run mnemo-check",
                         p->dir, fname, bad_off, why);
            free(per_db);
            free(bl);
            mapfile_close(d, n);
            return MNEMO_ECORRUPT;
        }
        presize(st, per_db);
        free(per_db);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = pc->load_threads ? pc->load_threads : (size_t)(cpus > 0 ? cpus : 1);
    if (nt > 16)
        nt = 16;
    if (nt > nb)
        nt = nb ? nb : 1;
    load_ctx l = {.st = st, .d = d, .bl = bl, .nb = nb, .now = now, .p = p,
                  .bad_off = SIZE_MAX};
    pthread_mutex_init(&l.mu, NULL);
    pthread_t th[16];
    size_t started = 0;
    for (size_t i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, load_worker, &l) == 0)
            started++;
    load_worker(&l);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&l.mu);
    free(bl);
    mapfile_close(d, n);
    if (atomic_load(&l.failed)) {
        journal_logf(pc, MNEMO_LOG_WARNING,
                     "Persistence: snapshot %s/%s is corrupt at offset %zu: %s. Refusing to "
                     "start; run mnemo-check",
                     p->dir, fname, l.bad_off, l.why);
        return MNEMO_ECORRUPT;
    }
    *keys = atomic_load(&l.keys);
    journal_logf(pc, MNEMO_LOG_NOTICE,
                 "Persistence: snapshot %s/%s: %" PRIu64 " entries read (%zu blocks, %zu "
                 "threads)", p->dir, fname, *keys, nb, started + 1);
    return MNEMO_OK;
}

int snapshot_check(int dirfd, const char *fname, uint64_t lsn, const mnemo_persist_config *pc,
                   uint64_t *keys)
{
    const uint8_t *d;
    size_t n;
    if (mapfile_open(dirfd, fname, 0, NULL, &d, &n) != 0) {
        journal_logf(pc, MNEMO_LOG_WARNING, "%s/%s: %s", pc->dir, fname, strerror(errno));
        return -1;
    }
    const char *why = NULL;
    size_t bad = 0;
    uint64_t flsn = 0;
    int rc = snapshot_parse(d, n, &flsn, NULL, NULL, &why, &bad);
    if (rc == 0 && flsn != lsn) {
        rc = -1;
        why = "snapshot LSN differs from the manifest's";
        bad = 16;
    }
    if (rc == 0) {
        size_t nb;
        uint64_t total = 0, l2;
        block *bl = index_blocks(d, n, &l2, &nb, &total, &why, &bad);
        free(bl);
        *keys = total;
    } else {
        journal_logf(pc, MNEMO_LOG_WARNING, "%s/%s: CORRUPT at offset %zu: %s", pc->dir, fname,
                     bad, why);
    }
    if (d)
        mapfile_close(d, n);
    return rc;
}

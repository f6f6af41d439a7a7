/*
 * test_model.c — libmnemo against a reference model, plus the deterministic contract tests.
 *
 * The property test runs many random operation sequences over a small key space (so operations
 * collide) in several databases, on a store with a clock the test controls and no background
 * thread. A plain in-test model (key -> value, expiration, version, per database) predicts every
 * status and every output; after each operation the store's answer, its hook events and its
 * statistics are compared with the model, and periodically its whole contents.
 *
 * How the model handles what the header leaves open:
 *   - Versions are not predicted but learnt: after a write the test reads the key back
 *     (get_with) and requires its version to exceed every version seen before, to carry the
 *     clock's time in its upper 48 bits, and to match the SET event and the version the call
 *     returned. A version must then stay the same until the next write (TTL changes included).
 *   - An expired key the store may still hold (a "ghost") is tracked, so that dbsize and
 *     stats.keys can be bounded: live <= count <= live + ghosts. A ghost leaves the model when
 *     its EXPIRE event arrives, when it is overwritten, or when its database is flushed.
 *   - The clock never lands exactly on a deadline and absolute times are never "now", so the
 *     inclusive/exclusive boundary of expiry is never tested.
 *   - Where Redis's documented behaviour is the reference (INCR parsing, GETRANGE clamping,
 *     INCRBYFLOAT formatting), the model follows Redis 7.
 *   - Compression is invisible to the model: most sequences run with it on (thresholds from 1
 *     byte up, switched at run time by an operation of their own), values include compressible
 *     ones (runs, zero padding, numbers like 1000000000), and every output is compared byte for
 *     byte as ever. Only the statistics are checked against what get_with's stored_len shows.
 *
 * Environment: MNEMO_TEST_SEED (base seed; a failing sequence prints its own seed, which can be
 * given back here with MNEMO_TEST_SEQS=1 to replay just that one), MNEMO_TEST_SCALE (multiplies
 * the number of sequences, default 1), MNEMO_TEST_SEQS, MNEMO_TEST_OPS (per sequence).
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "mnemo.h"
#include "test.h"

/* ------------------------------------------------------------------------------------------
 * Random numbers (splitmix64), environment
 * ---------------------------------------------------------------------------------------- */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }
static int one_in(unsigned n) { return rnd_below(n) == 0; }
static int64_t rnd_range(int64_t lo, int64_t hi) { return lo + (int64_t)rnd_below((uint64_t)(hi - lo + 1)); }

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    return strtoull(s, NULL, 0);
}

/* ------------------------------------------------------------------------------------------
 * Small shared helpers
 * ---------------------------------------------------------------------------------------- */
static int64_t test_clock_fn(void *ctx) { return *(int64_t *)ctx; }

#define T0 INT64_C(1700000000000) /* a plausible Unix time in ms */

static mnemo_store *open_store(const mnemo_config *cfg)
{
    mnemo_store *st = NULL;
    int rc = mnemo_store_open(cfg, &st);
    ASSERT_EQ(rc, MNEMO_OK);
    ASSERT(st != NULL);
    return st;
}

static void base_config(mnemo_config *cfg, int64_t *clock)
{
    mnemo_config_init(cfg);
    cfg->background_thread = 0;
    cfg->clock = test_clock_fn;
    cfg->clock_ctx = clock;
}

static int set_str(mnemo_store *st, unsigned db, const char *k, const char *v, int64_t ttl_ms,
                   uint64_t *ver)
{
    mnemo_set_opts o = {0};
    o.ttl_ms = ttl_ms;
    return mnemo_set(st, db, k, strlen(k), v, strlen(v), &o, NULL, ver);
}

static uint64_t version_of(mnemo_store *st, unsigned db, const void *k, size_t klen)
{
    mnemo_value v = {0};
    if (mnemo_get(st, db, k, klen, &v) != MNEMO_OK) return 0;
    uint64_t ver = v.version;
    mnemo_value_release(&v);
    return ver;
}

/* ==========================================================================================
 * Part 1: the model-based property test
 * ======================================================================================== */

#define MAXV_SMALL 200  /* max_value_size of most sequences' stores */
#define MAXV_BIG 12000  /* of "big" sequences: values around the arena's 8 KiB large-entry limit */
#define MAXV (M.maxv)
#define MAXK 24  /* max_key_size of the model's store */
#define MAX_DB 4
#define VBUF 12288

typedef struct {
    const char *b;
    size_t len;
} keydef;

/* Keys chosen to collide and to exercise globbing: the empty key, NUL bytes, glob
 * metacharacters, non-ASCII bytes, a key of exactly max_key_size and one byte over. */
static const keydef FIXED_KEYS[] = {
    {"", 0},       {"a", 1},       {"b", 1},        {"k0", 2},      {"k1", 2},
    {"k2", 2},     {"k10", 3},     {"K1", 2},       {"key:1", 5},   {"key:2", 5},
    {"key:10", 6}, {"x\0y", 3},    {"\0", 1},       {"*", 1},       {"?x", 2},
    {"[ab]", 4},   {"\\k", 2},     {"\xff\xfe", 2}, {"abcdefghijklmnopqrstuvwx", 24},
};
#define NFIXED ((int)(sizeof FIXED_KEYS / sizeof FIXED_KEYS[0]))
/* "Wide" sequences also use NWIDE keys w000..w199, enough to make tables grow and shrink. */
#define NWIDE 200
#define NKEYS (NFIXED + NWIDE + 1)
#define BIGKEY (NKEYS - 1) /* one byte over max_key_size: MNEMO_ETOOBIG */
static keydef KEYS[NKEYS];
static char wide_names[NWIDE][8];

static void init_keys(void)
{
    for (int i = 0; i < NFIXED; i++) KEYS[i] = FIXED_KEYS[i];
    for (int i = 0; i < NWIDE; i++) {
        snprintf(wide_names[i], sizeof wide_names[i], "w%03d", i);
        KEYS[NFIXED + i].b = wide_names[i];
        KEYS[NFIXED + i].len = 4;
    }
    KEYS[BIGKEY].b = "abcdefghijklmnopqrstuvwxy";
    KEYS[BIGKEY].len = 25;
}

static int key_index(const void *k, size_t len)
{
    for (int i = 0; i < NKEYS; i++)
        if (KEYS[i].len == len && (len == 0 || memcmp(KEYS[i].b, k, len) == 0)) return i;
    return -1;
}

enum { GHOST_NONE = 0, GHOST_SURE, GHOST_MAYBE };

typedef struct {
    int live; /* present and not expired */
    unsigned char val[VBUF];
    size_t len;
    int64_t exp; /* absolute ms, 0 = none */
    uint64_t ver;
    int ghost; /* GHOST_*: expired, and the store may still hold it */
    int ghost_ver_known;
    uint64_t ghost_ver;
} mentry;

typedef struct {
    unsigned type;
    unsigned db;
    unsigned char key[64];
    size_t klen;
    uint64_t ver;
} rec_event;

typedef struct {
    unsigned types; /* acceptable event types (mask) */
    unsigned db;
    int key;
    int any_ver;
    uint64_t ver;
    int optional;
    int max_hits;
    int hits;
    int clears_ghost; /* a hit means the store dropped this ghost */
} exp_event;

#define MAX_EVENTS 4096
#define MAX_EXPECT 4096
#define UNK INT64_MIN

static struct model {
    mnemo_store *st;
    unsigned ndb;
    int wide; /* this sequence also uses the wide keys */
    int big;  /* this sequence uses large values */
    int compression; /* the store's compression setting, and its threshold */
    size_t compress_min;
    int compression_ever; /* compression was on at some point of the sequence */
    size_t maxv;
    int64_t now;
    mentry ents[MAX_DB][NKEYS];
    uint64_t max_ver; /* greatest version seen so far */
    uint64_t key_max[MAX_DB][NKEYS]; /* greatest version each (db, key) has held */
    uint64_t ver_floor; /* the last mnemo_store_next_version() */

    rec_event evs[MAX_EVENTS];
    size_t nevs;
    int ev_overflow;
    exp_event exps[MAX_EXPECT];
    size_t nexps;

    /* keys the current operation wrote: (db, key, how many times) */
    struct {
        unsigned db;
        int key;
        int times;
        int64_t vout_idx; /* index into vouts, -1 if the call returned no version */
    } written[16];
    int nwritten;
    uint64_t vouts[4];
    int nvouts;

    int set_slack; /* extra "sets" the stats may count for a TTL-only change */
    int flush_op;

    mnemo_stats before, after;
    char desc[512];
    uint64_t seed;
    long opno;
    /* statistics of what the test exercised, printed at the end */
    unsigned long n_ops, n_ok, n_err;
} M;

#define DESC(...) snprintf(M.desc, sizeof M.desc, __VA_ARGS__)

/* Coverage of the random test (printed with MNEMO_TEST_VERBOSE=1): how often each operation
 * ended in each status, so that a change that stops exercising a path is noticed. */
static struct {
    char name[24];
    unsigned long by_status[32];
} coverage[48];

static void cover(int rc)
{
    char name[24];
    size_t n = strcspn(M.desc, " ");
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, M.desc, n);
    name[n] = 0;
    for (int i = 0; i < 48; i++) {
        if (!coverage[i].name[0]) strcpy(coverage[i].name, name);
        if (strcmp(coverage[i].name, name) == 0) {
            coverage[i].by_status[rc <= 0 && rc > -32 ? -rc : 31]++;
            return;
        }
    }
}

static mentry *ent(unsigned db, int k) { return &M.ents[db][k]; }

static void model_hook(void *ctx, mnemo_event ev, unsigned db, const void *key, size_t key_len,
                       uint64_t version)
{
    (void)ctx;
    if (M.nevs >= MAX_EVENTS) {
        M.ev_overflow = 1;
        return;
    }
    rec_event *r = &M.evs[M.nevs++];
    r->type = (unsigned)ev;
    r->db = db;
    r->klen = key_len;
    memcpy(r->key, key, key_len < sizeof r->key ? key_len : sizeof r->key);
    r->ver = version;
}

static void expect_event(unsigned types, unsigned db, int key, uint64_t ver, int any_ver,
                         int optional, int max_hits, int clears_ghost)
{
    if (M.nexps >= MAX_EXPECT) return;
    exp_event *x = &M.exps[M.nexps++];
    x->types = types;
    x->db = db;
    x->key = key;
    x->ver = ver;
    x->any_ver = any_ver;
    x->optional = optional;
    x->max_hits = max_hits;
    x->hits = 0;
    x->clears_ghost = clears_ghost;
}

/* The operation references (db, k): if the model has a ghost there, the store may now reclaim
 * it, with an EXPIRE event carrying the ghost's version. */
static void touch(unsigned db, int k)
{
    if (k == BIGKEY || db >= M.ndb) return;
    mentry *e = ent(db, k);
    if (e->ghost)
        expect_event(MNEMO_EVENT_EXPIRE, db, k, e->ghost_ver, !e->ghost_ver_known, 1, 1, 1);
}

/* Operations that walk a database (scan, keys, maintain, ...) may reclaim any of its ghosts. */
static void touch_all_ghosts(unsigned db_mask)
{
    for (unsigned db = 0; db < M.ndb; db++) {
        if (!(db_mask & (1u << db))) continue;
        for (int k = 0; k < NKEYS; k++) touch(db, k);
    }
}

static void written_add(unsigned db, int k, int vout_idx)
{
    for (int i = 0; i < M.nwritten; i++)
        if (M.written[i].db == db && M.written[i].key == k) {
            M.written[i].times++;
            M.written[i].vout_idx = vout_idx;
            return;
        }
    if (M.nwritten >= 16) return;
    M.written[M.nwritten].db = db;
    M.written[M.nwritten].key = k;
    M.written[M.nwritten].times = 1;
    M.written[M.nwritten].vout_idx = vout_idx;
    M.nwritten++;
}

/* Applies a successful write of (db, k) to the model. Its version is learnt afterwards. */
static void model_write(unsigned db, int k, const void *v, size_t len, int64_t exp, int vout_idx)
{
    mentry *e = ent(db, k);
    memcpy(e->val, v, len);
    e->len = len;
    e->exp = exp;
    e->live = 1;
    e->ghost = GHOST_NONE; /* a write replaces whatever expired entry was there */
    written_add(db, k, vout_idx);
}

static void model_remove(unsigned db, int k)
{
    mentry *e = ent(db, k);
    e->live = 0;
    e->ghost = GHOST_NONE;
}

/* A set whose expiration time is already past: nothing is stored, a live previous value is
 * deleted with a delete event. An expired previous entry may be dropped with or without an
 * event, so the model no longer knows whether the store still holds it. */
static void model_set_in_past(unsigned db, int k)
{
    mentry *e = ent(db, k);
    M.set_slack = 1;
    if (e->live) {
        expect_event(MNEMO_EVENT_DEL, db, k, e->ver, 0, 0, 1, 0);
        model_remove(db, k);
    } else if (e->ghost) {
        e->ghost = GHOST_MAYBE;
    }
}

static void stats_read(mnemo_stats *s)
{
    memset(s, 0, sizeof *s);
    int rc = mnemo_store_stats(M.st, s);
    CHECK_EQ(rc, MNEMO_OK);
}

static void begin_op(void)
{
    M.nevs = 0;
    M.ev_overflow = 0;
    M.nexps = 0;
    M.nwritten = 0;
    M.nvouts = 0;
    M.set_slack = 0;
    M.flush_op = 0;
    stats_read(&M.before);
    M.nevs = 0;
}

static void note_version(uint64_t v)
{
    if (v > M.max_ver) M.max_ver = v;
}

typedef struct {
    int calls;
    unsigned char key[64];
    size_t klen;
    unsigned char val[VBUF];
    size_t vlen;
    uint64_t ver;
    int64_t exp;
} got_item;

static void copy_item_header(void *ctx, const mnemo_item *it)
{
    mnemo_item *out = ctx;
    *out = *it;
    out->key = out->value = NULL;
}

static void grab_item(void *ctx, const mnemo_item *it)
{
    got_item *g = ctx;
    g->calls++;
    g->klen = it->key_len;
    memcpy(g->key, it->key, it->key_len < sizeof g->key ? it->key_len : sizeof g->key);
    g->vlen = it->value_len;
    memcpy(g->val, it->value, it->value_len < sizeof g->val ? it->value_len : sizeof g->val);
    g->ver = it->version;
    g->exp = it->expire_at_ms;
}

/* Learns the versions of the keys the operation wrote and checks them. */
static void discover_versions(void)
{
    for (int i = 0; i < M.nwritten; i++) {
        unsigned db = M.written[i].db;
        int k = M.written[i].key;
        mentry *e = ent(db, k);
        if (!e->live) continue;
        got_item g = {0};
        int rc = mnemo_get_with(M.st, db, KEYS[k].b, KEYS[k].len, grab_item, &g);
        CHECK_EQ(rc, MNEMO_OK);
        CHECK_EQ(g.calls, rc == MNEMO_OK);
        if (rc != MNEMO_OK || g.calls != 1) continue;
        CHECK_MEM_EQ(g.val, g.vlen, e->val, e->len);
        CHECK_EQ(g.exp, e->exp);
        /* strictly newer than every version this key held, and than next_version's last */
        if (!(g.ver > M.key_max[db][k] && g.ver > M.ver_floor))
            TEST_FAIL_("version of a write %llu not above the key's earlier %llu or the "
                       "store's next_version %llu", (unsigned long long)g.ver,
                       (unsigned long long)M.key_max[db][k], (unsigned long long)M.ver_floor);
        M.key_max[db][k] = g.ver;
        /* HLC: upper 48 bits carry the (test) clock's time, never behind it */
        if ((int64_t)(g.ver >> 16) < M.now)
            TEST_FAIL_("version %llu has physical time %lld behind clock %lld",
                       (unsigned long long)g.ver, (long long)(g.ver >> 16), (long long)M.now);
        if (M.written[i].vout_idx >= 0) CHECK_U64_EQ(M.vouts[M.written[i].vout_idx], g.ver);
        e->ver = g.ver;
        note_version(g.ver);
        expect_event(MNEMO_EVENT_SET, db, k, g.ver, 0, 0, 1, 0);
        /* a key written twice in one batch may report its first write too */
        if (M.written[i].times > 1)
            expect_event(MNEMO_EVENT_SET, db, k, 0, 1, 1, M.written[i].times - 1, 0);
    }
}

static void check_events(void)
{
    if (M.ev_overflow) TEST_FAIL_("more than %d hook events in one operation", MAX_EVENTS);
    for (size_t i = 0; i < M.nevs; i++) {
        rec_event *r = &M.evs[i];
        int k = r->klen <= sizeof r->key ? key_index(r->key, r->klen) : -1;
        int found = 0;
        for (size_t j = 0; j < M.nexps && !found; j++) {
            exp_event *x = &M.exps[j];
            if (!(x->types & r->type) || x->db != r->db || x->key != k) continue;
            if (!x->any_ver && x->ver != r->ver) continue;
            if (x->hits >= x->max_hits) continue;
            x->hits++;
            found = 1;
            if (x->clears_ghost && r->type == MNEMO_EVENT_EXPIRE && k >= 0) {
                ent(r->db, k)->ghost = GHOST_NONE;
            }
        }
        if (!found) {
            const char *ty = r->type == MNEMO_EVENT_SET      ? "SET"
                             : r->type == MNEMO_EVENT_DEL    ? "DEL"
                             : r->type == MNEMO_EVENT_EXPIRE ? "EXPIRE"
                             : r->type == MNEMO_EVENT_EVICT  ? "EVICT"
                                                             : "?";
            TEST_FAIL_("unexpected hook event %s db=%u key#%d (len %zu) version=%llu", ty, r->db,
                       k, r->klen, (unsigned long long)r->ver);
        }
    }
    for (size_t j = 0; j < M.nexps; j++) {
        exp_event *x = &M.exps[j];
        if (!x->optional && x->hits == 0)
            TEST_FAIL_("missing hook event (types %u) db=%u key#%d version=%llu", x->types, x->db,
                       x->key, (unsigned long long)x->ver);
    }
}

static void model_counts(uint64_t *live, uint64_t *live_ttl, uint64_t *ghost_sure,
                         uint64_t *ghost_maybe, int only_db)
{
    *live = *live_ttl = *ghost_sure = *ghost_maybe = 0;
    for (unsigned db = 0; db < M.ndb; db++) {
        if (only_db >= 0 && db != (unsigned)only_db) continue;
        for (int k = 0; k < NKEYS; k++) {
            mentry *e = ent(db, k);
            if (e->live) {
                (*live)++;
                if (e->exp) (*live_ttl)++;
            }
            if (e->ghost == GHOST_SURE) (*ghost_sure)++;
            if (e->ghost == GHOST_MAYBE) (*ghost_maybe)++;
        }
    }
}

#define DELTA(f) ((int64_t)(M.after.f - M.before.f))

/* What must hold of the compression figures whatever was written: compressed values are live
 * keys, their bytes part of the live data, each at most 7/8 of its original length. */
static void check_compression_stats(const mnemo_stats *s)
{
    CHECK(s->compressed_values <= s->keys);
    CHECK(s->compressed_bytes <= s->data_bytes);
    CHECK(8 * s->compressed_bytes <= 7 * s->compressed_original_bytes + 7 * s->compressed_values);
    if (s->compressed_values == 0) {
        CHECK_U64_EQ(s->compressed_bytes, 0);
        CHECK_U64_EQ(s->compressed_original_bytes, 0);
        CHECK(s->compression_ratio == 0.0);
    } else {
        CHECK(s->compressed_bytes >= 2 * s->compressed_values); /* a header and a block each */
        double r = (double)s->compressed_original_bytes / (double)s->compressed_bytes;
        if (fabs(s->compression_ratio - r) > 1e-9)
            TEST_FAIL_("compression_ratio %g, expected %g", s->compression_ratio, r);
    }
}

/* Compares the statistics after the operation with the model. gets/hits/misses: the exact
 * expected deltas, or UNK where the header does not pin them down (batch reads, reads inside
 * writes). The other counters are compared with the hook events, which the header defines the
 * same way (a SET event per written key, DEL per key a caller removed, EXPIRE per expired key). */
static void check_stats(int64_t gets, int64_t hits, int64_t misses)
{
    unsigned nset = 0, ndel = 0, nexp = 0;
    for (size_t i = 0; i < M.nevs; i++) {
        if (M.evs[i].type == MNEMO_EVENT_SET) nset++;
        if (M.evs[i].type == MNEMO_EVENT_DEL) ndel++;
        if (M.evs[i].type == MNEMO_EVENT_EXPIRE) nexp++;
    }
    if (gets != UNK) CHECK_EQ(DELTA(gets), gets);
    if (hits != UNK) CHECK_EQ(DELTA(hits), hits);
    if (misses != UNK) CHECK_EQ(DELTA(misses), misses);
    if (DELTA(sets) != (int64_t)nset && DELTA(sets) != (int64_t)nset + M.set_slack)
        TEST_FAIL_("stats.sets grew by %lld, but %u SET events fired", (long long)DELTA(sets),
                   nset);
    if (!M.flush_op) CHECK_EQ(DELTA(deletes), ndel);
    CHECK_EQ(DELTA(expired), nexp);
    CHECK_EQ(DELTA(evicted), 0);
    uint64_t reads = M.after.hits + M.after.misses;
    double rate = reads ? (double)M.after.hits / (double)reads : 0.0;
    if (fabs(M.after.hit_rate - rate) > 1e-9)
        TEST_FAIL_("hit_rate %g, expected %g", M.after.hit_rate, rate);

    uint64_t live, live_ttl, gs, gm;
    model_counts(&live, &live_ttl, &gs, &gm, -1);
    if (M.after.keys < live + gs || M.after.keys > live + gs + gm)
        TEST_FAIL_("stats.keys %llu outside [%llu, %llu] (live %llu, expired not reclaimed %llu+%llu)",
                   (unsigned long long)M.after.keys, (unsigned long long)(live + gs),
                   (unsigned long long)(live + gs + gm), (unsigned long long)live,
                   (unsigned long long)gs, (unsigned long long)gm);
    if (M.after.keys_with_ttl < live_ttl || M.after.keys_with_ttl > live_ttl + gs + gm)
        TEST_FAIL_("stats.keys_with_ttl %llu outside [%llu, %llu]",
                   (unsigned long long)M.after.keys_with_ttl, (unsigned long long)live_ttl,
                   (unsigned long long)(live_ttl + gs + gm));
    if (M.after.keys == 0) CHECK_U64_EQ(M.after.data_bytes, 0);
    if (M.after.keys > 0) CHECK(M.after.data_bytes > 0);
    check_compression_stats(&M.after);
}

/* Ends an operation: reads the stats, learns versions, then checks events and stats. */
static void end_op(int64_t gets, int64_t hits, int64_t misses)
{
    stats_read(&M.after);
    discover_versions();
    check_events();
    check_stats(gets, hits, misses);
}

/* ------------------------------------------------------------------------------------------
 * Value and key generation
 * ---------------------------------------------------------------------------------------- */
static const char *VALUE_POOL[] = {
    "",     "0",     "1",   "-1",  "42",   "9223372036854775807", "-9223372036854775808",
    "9223372036854775806", "-9223372036854775807", "abc", "1.5", "007", "+5", "-0", " 1",
    "1 ",   "3.25",  "-2",  "10",  "1e3",  "inf", "nan", "12a", "99999999999999999999",
    "0.015625", "-7.5", "hello world",
};
#define NPOOL ((int)(sizeof VALUE_POOL / sizeof VALUE_POOL[0]))

/* A value that compresses: a run of a short random unit with a few random bytes in it, or a
 * number made mostly of zeros (which INCR must still read when it is stored compressed). */
static size_t gen_compressible(unsigned char *buf, int allow_too_big)
{
    if (one_in(4)) {
        size_t n = 1 + rnd_below(19);
        buf[0] = (unsigned char)('1' + rnd_below(9));
        memset(buf + 1, '0', n - 1);
        if (one_in(3)) {
            memmove(buf + 1, buf, n);
            buf[0] = '-';
            n++;
        }
        return n;
    }
    size_t n = rnd_below(100) < 97 || !allow_too_big ? rnd_below(MAXV + 1) : MAXV + 1 + rnd_below(40);
    size_t unit = 1 + rnd_below(8);
    unsigned char u[8];
    for (size_t i = 0; i < unit; i++) u[i] = (unsigned char)rnd();
    for (size_t i = 0; i < n; i++) buf[i] = one_in(50) ? (unsigned char)rnd() : u[i % unit];
    return n;
}

static size_t gen_value(unsigned char *buf, int allow_too_big)
{
    if (one_in(4)) return gen_compressible(buf, allow_too_big);
    unsigned r = (unsigned)rnd_below(100);
    if (r < 45) {
        const char *s = VALUE_POOL[rnd_below(NPOOL)];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        return n;
    }
    size_t n;
    if (M.big && r < 75) {
        /* entries just under and just over the arena's 8 KiB large-entry limit, and larger */
        if (r < 65) n = 8100 + rnd_below(160);
        else n = 9000 + rnd_below(MAXV - 9000);
    } else if (r < 90) n = rnd_below(24);
    else if (r < 97 || !allow_too_big) n = MAXV - rnd_below(12);
    else n = MAXV + 1 + rnd_below(40);
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned)rnd_below(8);
        buf[i] = c == 0 ? 0 : c < 4 ? (unsigned char)('a' + rnd_below(26)) : (unsigned char)rnd();
    }
    return n;
}

static unsigned pick_db(void)
{
    if (one_in(60)) return M.ndb + (unsigned)rnd_below(3); /* out of range: MNEMO_EDB */
    return (unsigned)rnd_below(M.ndb);
}

static int pick_key(void)
{
    if (one_in(35)) return BIGKEY;
    /* favour a handful of keys so that operations collide often */
    if (rnd_below(100) < (M.wide ? 25 : 60)) return 1 + (int)rnd_below(8);
    return (int)rnd_below(M.wide ? NKEYS - 1 : NFIXED);
}

static const char *PATTERN_POOL[] = {
    "*",     "k*",     "key:*", "k?",    "?",   "[ab]",    "[^a-k]*", "*1",   "\\*",
    "\\[ab\\]", "*:*", "K*",    "[k-l]?", "",    "x?y",     "?*",      "*0*",  "[\\\\]k",
    "w*",    "w1??",   "w?0?",  "w[0-4]*",
};
#define NPATTERNS ((int)(sizeof PATTERN_POOL / sizeof PATTERN_POOL[0]))

/* Returns a pattern in buf (NULL for "no pattern") and its length. */
static const char *gen_pattern(char *buf, size_t *len)
{
    unsigned r = (unsigned)rnd_below(100);
    if (r < 15) {
        *len = 0;
        return NULL;
    }
    if (r < 70) {
        const char *p = PATTERN_POOL[rnd_below(NPATTERNS)];
        *len = strlen(p);
        return p;
    }
    static const char alphabet[] = "ak01:*?[]^-\\xKw";
    size_t n = rnd_below(6);
    for (size_t i = 0; i < n; i++) buf[i] = alphabet[rnd_below(sizeof alphabet - 1)];
    buf[n] = 0;
    *len = n;
    return buf;
}

static int pattern_matches(const char *pat, size_t plen, int k)
{
    if (!pat) return 1;
    return mnemo_glob_match(pat, plen, KEYS[k].b, KEYS[k].len, 0) != 0;
}

/* A time for EXPIRE_AT-style arguments: future or past, never exactly now. */
static int64_t gen_abs_time(int past)
{
    if (past) return M.now - rnd_range(1, 1000);
    return M.now + rnd_range(1, 3000);
}

/* ------------------------------------------------------------------------------------------
 * Reference parsing (Redis 7 semantics)
 * ---------------------------------------------------------------------------------------- */

/* Redis's string2ll: optional '-', no leading zeros, no '+', no spaces, no "-0". */
static int parse_ll(const unsigned char *p, size_t len, int64_t *out)
{
    if (len == 0 || len > 20) return 0;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return 1;
    }
    size_t i = 0;
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return 0;
    }
    if (p[i] < '1' || p[i] > '9') return 0;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10) return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v;
    }
    return 1;
}

/* Redis's string2ld: 1 = a finite number, 0 = not one, -1 = a form the test does not judge
 * (embedded NUL, hex floats, underflow). */
static int parse_ld(const unsigned char *p, size_t len, long double *out)
{
    if (len == 0) return 0;
    if (len > 100) return -1;
    if (memchr(p, 0, len)) return -1;
    char buf[128];
    memcpy(buf, p, len);
    buf[len] = 0;
    if (strpbrk(buf, "xXpP")) return -1;
    if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n' || buf[0] == '\r' || buf[0] == '\v' ||
        buf[0] == '\f')
        return 0;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (*end != 0) return 0;
    if (isnan(v)) return 0;
    if (isinf(v)) return 2; /* a number (as in Redis), but no finite sum */
    if (errno == ERANGE) return -1;
    *out = v;
    return 1;
}

/* Redis's ld2string(LD_STR_HUMAN): %.17Lf without trailing zeros, "-0" as "0". */
static void format_ld(long double v, char *buf, size_t n)
{
    int l = snprintf(buf, n, "%.17Lf", v);
    if (strchr(buf, '.')) {
        while (l > 0 && buf[l - 1] == '0') l--;
        if (l > 0 && buf[l - 1] == '.') l--;
        buf[l] = 0;
    }
    if (strcmp(buf, "-0") == 0) strcpy(buf, "0");
}

/* Redis 7 GETRANGE: returns 1 and (off, n) if the result is determined, 0 for the region where
 * Redis versions differ (end before the start of the string: Redis 7 clamps it to 0, later ones
 * answer empty); then (*off, *n) is the Redis 7 answer and empty is accepted too. */
static int model_getrange(size_t len, int64_t s, int64_t e, size_t *off, size_t *n)
{
    int determined = !(e < 0 && (int64_t)len + e < 0);
    *off = 0;
    *n = 0;
    if (s < 0 && e < 0 && s > e) return 1;
    if (s < 0) s = (int64_t)len + s;
    if (e < 0) e = (int64_t)len + e;
    if (s < 0) s = 0;
    if (e < 0) e = 0;
    if (len == 0) return 1;
    if (e >= (int64_t)len) e = (int64_t)len - 1;
    if (s > e) return 1;
    *off = (size_t)s;
    *n = (size_t)(e - s + 1);
    return determined;
}

/* ------------------------------------------------------------------------------------------
 * The operations
 * ---------------------------------------------------------------------------------------- */
static void check_value_eq(const mnemo_value *v, const mentry *e)
{
    CHECK(v->data != NULL);
    if (!v->data) return;
    CHECK_MEM_EQ(v->data, v->len, e->val, e->len);
    CHECK_EQ(((const char *)v->data)[v->len], 0);
    CHECK_U64_EQ(v->version, e->ver);
    CHECK_EQ(v->expire_at_ms, e->exp);
}

static int db_ok(unsigned db) { return db < M.ndb; }

static void op_set(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    unsigned char val[VBUF];
    size_t vlen = gen_value(val, 1);
    mnemo_set_opts o = {0};
    unsigned r = (unsigned)rnd_below(100);
    if (r < 45) o.flags = 0;
    else if (r < 60) o.flags = MNEMO_SET_NX;
    else if (r < 75) o.flags = MNEMO_SET_XX;
    else if (r < 92) o.flags = MNEMO_SET_IF_VERSION;
    else if (r < 97) o.flags = MNEMO_SET_XX | MNEMO_SET_IF_VERSION;
    else o.flags = MNEMO_SET_NX | MNEMO_SET_XX;
    int64_t ttl_neg = 0;
    r = (unsigned)rnd_below(100);
    if (r < 40) {
    } else if (r < 60) {
        o.ttl_ms = one_in(10) ? rnd_range(1000000, 1000000000) : rnd_range(1, 3000);
    } else if (r < 72) {
        o.flags |= MNEMO_SET_EXPIRE_AT;
        o.expire_at_ms = gen_abs_time(0);
        if (one_in(2)) o.ttl_ms = rnd_range(1, 100); /* ignored with EXPIRE_AT */
    } else if (r < 80) {
        o.flags |= MNEMO_SET_EXPIRE_AT;
        o.expire_at_ms = gen_abs_time(1);
    } else if (r < 94) {
        o.flags |= MNEMO_SET_KEEPTTL;
    } else if (r < 98) {
        o.flags |= MNEMO_SET_NO_TTL;
    } else {
        o.ttl_ms = -rnd_range(1, 1000);
        ttl_neg = 1;
    }
    if (one_in(3)) o.flags |= MNEMO_SET_GET;
    mentry *e = db_ok(db) && k != BIGKEY ? ent(db, k) : NULL;
    if (o.flags & MNEMO_SET_IF_VERSION) {
        unsigned c = (unsigned)rnd_below(10);
        if (e && e->live && c < 6) o.version = e->ver;
        else if (e && e->live && c < 8) o.version = e->ver + (c == 6 ? 1 : (uint64_t)-1);
        else if (e && e->ghost && e->ghost_ver_known && c < 9) o.version = e->ghost_ver;
        else o.version = rnd_below(3) == 0 ? 0 : M.max_ver - rnd_below(1000);
    }
    int pass_null_opts = o.flags == 0 && o.ttl_ms == 0 && one_in(2);
    DESC("set db=%u key#%d vlen=%zu flags=0x%x ttl=%lld at=%lld ver=%llu", db, k, vlen, o.flags,
         (long long)o.ttl_ms, (long long)o.expire_at_ms, (unsigned long long)o.version);

    begin_op();
    touch(db, k);
    mnemo_value old = {0};
    uint64_t vout = 12345;
    int rc = mnemo_set(M.st, db, KEYS[k].b, KEYS[k].len, val, vlen, pass_null_opts ? NULL : &o,
                       (o.flags & MNEMO_SET_GET) ? &old : NULL, &vout);
    cover(rc);

    /* argument errors: any of them may be reported; nothing changes */
    int e_db = !db_ok(db), e_big = k == BIGKEY || vlen > MAXV,
        e_inval = (o.flags & MNEMO_SET_NX) && (o.flags & MNEMO_SET_XX),
        e_ttl = ttl_neg;
    if (e_db || e_big || e_inval || e_ttl) {
        if (!((e_db && rc == MNEMO_EDB) || (e_big && rc == MNEMO_ETOOBIG) ||
              (e_inval && rc == MNEMO_EINVAL) || (e_ttl && rc == MNEMO_ETTL)))
            TEST_FAIL_("set with invalid arguments returned %d (%s)", rc, mnemo_strerror(rc));
        mnemo_value_release(&old);
        end_op(UNK, UNK, UNK);
        return;
    }
    int exists = e->live;
    int want = MNEMO_OK;
    if ((o.flags & MNEMO_SET_NX) && exists) want = MNEMO_EEXISTS;
    else if ((o.flags & MNEMO_SET_XX) && !exists) want = MNEMO_ENOTFOUND;
    else if ((o.flags & MNEMO_SET_IF_VERSION) && !exists) want = MNEMO_ENOTFOUND;
    else if ((o.flags & MNEMO_SET_IF_VERSION) && e->ver != o.version) want = MNEMO_EVERSION;
    CHECK_EQ(rc, want);
    if (o.flags & MNEMO_SET_GET) {
        if (exists) check_value_eq(&old, e);
        else CHECK(old.data == NULL);
    }
    mnemo_value_release(&old);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        int64_t exp;
        if (o.flags & MNEMO_SET_EXPIRE_AT) exp = o.expire_at_ms;
        else if (o.ttl_ms > 0) exp = M.now + o.ttl_ms;
        else if (o.flags & MNEMO_SET_KEEPTTL) exp = exists ? e->exp : 0;
        else exp = 0;
        if (exp && exp <= M.now) {
            /* a time already past: the set succeeds without storing anything, and a previous
             * value is deleted (a delete event) */
            model_set_in_past(db, k);
            end_op((o.flags & MNEMO_SET_GET) ? UNK : 0, (o.flags & MNEMO_SET_GET) ? UNK : 0,
                   (o.flags & MNEMO_SET_GET) ? UNK : 0);
            return;
        }
        M.vouts[0] = vout;
        model_write(db, k, val, vlen, exp, 0);
    } else {
        CHECK_U64_EQ(vout, 12345); /* out-parameters are written only on success */
    }
    if (o.flags & MNEMO_SET_GET) end_op(UNK, UNK, UNK);
    else end_op(0, 0, 0);
}

static int64_t read_hit(const mentry *e) { return e && e->live ? 1 : 0; }

/* Common prologue of single-key operations: returns 0 if an argument error was expected and
 * checked (the operation is then over). */
static int key_args_ok(unsigned db, int k, int rc)
{
    if (!db_ok(db)) {
        CHECK_EQ(rc, MNEMO_EDB);
        return 0;
    }
    if (k == BIGKEY) {
        CHECK_EQ(rc, MNEMO_ETOOBIG);
        return 0;
    }
    return 1;
}

static void op_get(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    DESC("get db=%u key#%d", db, k);
    begin_op();
    touch(db, k);
    mnemo_value v = {NULL, 7777, 8888, 9999};
    int rc = mnemo_get(M.st, db, KEYS[k].b, KEYS[k].len, &v);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        mnemo_value_release(&v);
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK && e->live) check_value_eq(&v, e);
    if (rc != MNEMO_OK) {
        /* out-parameters are written only on success */
        CHECK(v.data == NULL && v.len == 7777 && v.version == 8888 && v.expire_at_ms == 9999);
        v.data = NULL;
    }
    mnemo_value_release(&v);
    end_op(1, read_hit(e), !read_hit(e));
}

static void op_get_with(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    DESC("get_with db=%u key#%d", db, k);
    begin_op();
    touch(db, k);
    got_item g = {0};
    int rc = mnemo_get_with(M.st, db, KEYS[k].b, KEYS[k].len, grab_item, &g);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        CHECK_EQ(g.calls, 0);
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    CHECK_EQ(g.calls, e->live ? 1 : 0);
    if (g.calls == 1 && e->live) {
        CHECK_MEM_EQ(g.key, g.klen, KEYS[k].b, KEYS[k].len);
        CHECK_MEM_EQ(g.val, g.vlen, e->val, e->len);
        CHECK_U64_EQ(g.ver, e->ver);
        CHECK_EQ(g.exp, e->exp);
    }
    end_op(1, read_hit(e), !read_hit(e));
}

static void op_exists(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    DESC("exists db=%u key#%d", db, k);
    begin_op();
    touch(db, k);
    int rc = mnemo_exists(M.st, db, KEYS[k].b, KEYS[k].len);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    end_op(1, read_hit(e), !read_hit(e));
}

static void op_ttl(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    int absolute = (int)rnd_below(2);
    DESC("%s db=%u key#%d", absolute ? "expire_time" : "ttl", db, k);
    begin_op();
    touch(db, k);
    int64_t out = 4242;
    int rc = absolute ? mnemo_expire_time(M.st, db, KEYS[k].b, KEYS[k].len, &out)
                      : mnemo_ttl(M.st, db, KEYS[k].b, KEYS[k].len, &out);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK && e->live) {
        if (!e->exp) CHECK_EQ(out, -1);
        else CHECK_EQ(out, absolute ? e->exp : e->exp - M.now);
    }
    if (rc != MNEMO_OK) CHECK_EQ(out, 4242);
    end_op(1, read_hit(e), !read_hit(e));
}

static void op_strlen(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    DESC("strlen db=%u key#%d", db, k);
    begin_op();
    touch(db, k);
    size_t n = 4242;
    int rc = mnemo_strlen(M.st, db, KEYS[k].b, KEYS[k].len, &n);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK && e->live) CHECK_EQ(n, e->len);
    end_op(1, read_hit(e), !read_hit(e));
}

static int64_t gen_index(void)
{
    unsigned r = (unsigned)rnd_below(100);
    if (r < 40) return rnd_range(0, 30);
    if (r < 75) return -rnd_range(1, 30);
    if (r < 85) return rnd_range(150, 260);
    if (r < 90) return INT64_MAX;
    if (r < 95) return INT64_MIN;
    return -rnd_range(150, 260);
}

static void op_getrange(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    int64_t s = gen_index(), en = gen_index();
    DESC("getrange db=%u key#%d %lld %lld", db, k, (long long)s, (long long)en);
    begin_op();
    touch(db, k);
    mnemo_value v = {0};
    int rc = mnemo_getrange(M.st, db, KEYS[k].b, KEYS[k].len, s, en, &v);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        mnemo_value_release(&v);
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK && e->live) {
        size_t off, n;
        int determined = model_getrange(e->len, s, en, &off, &n);
        if (!determined && v.len == 0) {
            /* accepted: newer Redis answers empty here */
        } else {
            CHECK_MEM_EQ(v.data ? (const char *)v.data : "", v.len, e->val + off, n);
        }
        if (v.data) CHECK_EQ(((const char *)v.data)[v.len], 0);
    }
    mnemo_value_release(&v);
    end_op(1, read_hit(e), !read_hit(e));
}

static void op_del(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    int mode = (int)rnd_below(3); /* 0 del, 1 del_if_version, 2 getdel */
    uint64_t ver = 0;
    mentry *e = db_ok(db) && k != BIGKEY ? ent(db, k) : NULL;
    if (mode == 1) {
        unsigned c = (unsigned)rnd_below(10);
        if (e && e->live && c < 6) ver = e->ver;
        else if (e && e->live && c < 8) ver = e->ver + (c == 6 ? 1 : (uint64_t)-1);
        else if (e && e->ghost && e->ghost_ver_known) ver = e->ghost_ver;
        else ver = rnd();
    }
    DESC("%s db=%u key#%d ver=%llu", mode == 0 ? "del" : mode == 1 ? "del_if_version" : "getdel",
         db, k, (unsigned long long)ver);
    begin_op();
    touch(db, k);
    mnemo_value v = {0};
    int with_out = one_in(4) ? 0 : 1;
    int rc = mode == 0   ? mnemo_del(M.st, db, KEYS[k].b, KEYS[k].len)
             : mode == 1 ? mnemo_del_if_version(M.st, db, KEYS[k].b, KEYS[k].len, ver)
                         : mnemo_getdel(M.st, db, KEYS[k].b, KEYS[k].len, with_out ? &v : NULL);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        mnemo_value_release(&v);
        end_op(UNK, UNK, UNK);
        return;
    }
    int want = !e->live ? MNEMO_ENOTFOUND
               : (mode == 1 && ver != e->ver) ? MNEMO_EVERSION
                                              : MNEMO_OK;
    CHECK_EQ(rc, want);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        if (mode == 2 && with_out) check_value_eq(&v, e);
        expect_event(MNEMO_EVENT_DEL, db, k, e->ver, 0, 0, 1, 0);
        model_remove(db, k);
    }
    mnemo_value_release(&v);
    if (mode == 2) end_op(UNK, UNK, UNK);
    else end_op(0, 0, 0);
}

static void op_expire(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    static const unsigned combos[] = {
        0, 0, 0, 0, MNEMO_EXPIRE_NX, MNEMO_EXPIRE_XX, MNEMO_EXPIRE_GT, MNEMO_EXPIRE_LT,
        MNEMO_EXPIRE_XX | MNEMO_EXPIRE_GT, MNEMO_EXPIRE_XX | MNEMO_EXPIRE_LT,
    };
    static const unsigned invalid[] = {
        MNEMO_EXPIRE_NX | MNEMO_EXPIRE_XX, MNEMO_EXPIRE_NX | MNEMO_EXPIRE_GT,
        MNEMO_EXPIRE_NX | MNEMO_EXPIRE_LT, MNEMO_EXPIRE_GT | MNEMO_EXPIRE_LT,
    };
    unsigned flags = one_in(12) ? invalid[rnd_below(4)]
                                : combos[rnd_below(sizeof combos / sizeof combos[0])];
    int64_t when;
    int past = one_in(6);
    mentry *cur = db_ok(db) && k != BIGKEY ? ent(db, k) : NULL;
    if (cur && cur->live && cur->exp && one_in(5)) {
        /* GT/LT boundaries: the current deadline itself, or one off */
        flags |= MNEMO_EXPIRE_AT;
        when = cur->exp + rnd_range(-1, 1);
        if (when == M.now) when++;
    } else if (one_in(2)) {
        flags |= MNEMO_EXPIRE_AT;
        when = gen_abs_time(past);
    } else {
        when = past ? -rnd_range(1, 1000) : rnd_range(1, 3000);
    }
    int e_inval = ((flags & MNEMO_EXPIRE_NX) &&
                   (flags & (MNEMO_EXPIRE_XX | MNEMO_EXPIRE_GT | MNEMO_EXPIRE_LT))) ||
                  ((flags & MNEMO_EXPIRE_GT) && (flags & MNEMO_EXPIRE_LT));
    DESC("expire db=%u key#%d when=%lld flags=0x%x", db, k, (long long)when, flags);
    begin_op();
    touch(db, k);
    int rc = mnemo_expire(M.st, db, KEYS[k].b, KEYS[k].len, when, flags);
    cover(rc);
    if (!db_ok(db) || k == BIGKEY || e_inval) {
        if (!((!db_ok(db) && rc == MNEMO_EDB) || (k == BIGKEY && rc == MNEMO_ETOOBIG) ||
              (e_inval && rc == MNEMO_EINVAL)))
            TEST_FAIL_("expire with invalid arguments returned %d (%s)", rc, mnemo_strerror(rc));
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    int64_t nexp = (flags & MNEMO_EXPIRE_AT) ? when : M.now + when;
    int want = MNEMO_OK;
    if (!e->live) want = MNEMO_ENOTFOUND;
    else if ((flags & MNEMO_EXPIRE_NX) && e->exp != 0) want = MNEMO_ECOND;
    else if ((flags & MNEMO_EXPIRE_XX) && e->exp == 0) want = MNEMO_ECOND;
    else if ((flags & MNEMO_EXPIRE_GT) && (e->exp == 0 || nexp <= e->exp)) want = MNEMO_ECOND;
    else if ((flags & MNEMO_EXPIRE_LT) && e->exp != 0 && nexp >= e->exp) want = MNEMO_ECOND;
    CHECK_EQ(rc, want);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        if (nexp <= M.now) {
            /* a time already past deletes the key, reported as a delete event */
            expect_event(MNEMO_EVENT_DEL, db, k, e->ver, 0, 0, 1, 0);
            model_remove(db, k);
        } else {
            /* a TTL change keeps the version; whether it is also a SET event is open */
            expect_event(MNEMO_EVENT_SET, db, k, e->ver, 0, 1, 1, 0);
            M.set_slack = 1;
            e->exp = nexp;
        }
    }
    end_op(0, 0, 0);
}

static void op_persist(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    DESC("persist db=%u key#%d", db, k);
    begin_op();
    touch(db, k);
    int rc = mnemo_persist(M.st, db, KEYS[k].b, KEYS[k].len);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    int want = !e->live ? MNEMO_ENOTFOUND : e->exp == 0 ? MNEMO_ECOND : MNEMO_OK;
    CHECK_EQ(rc, want);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        expect_event(MNEMO_EVENT_SET, db, k, e->ver, 0, 1, 1, 0);
        M.set_slack = 1;
        e->exp = 0;
    }
    end_op(0, 0, 0);
}

static void op_getex(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    /* 0 leave, 1 relative TTL, 2 PERSIST, 3 AT future, 4 AT past, 5 invalid arguments */
    unsigned mode = (unsigned)rnd_below(11);
    if (mode > 5) mode = mode < 8 ? 1 : mode < 10 ? 0 : 2;
    unsigned flags = 0;
    int64_t when = 0;
    int want_err = 0;
    switch (mode) {
    case 0: break;
    case 1: when = rnd_range(1, 3000); break;
    case 2: flags = MNEMO_EXPIRE_PERSIST, when = rnd_range(-5, 5000); break;
    case 3: flags = MNEMO_EXPIRE_AT, when = gen_abs_time(0); break;
    case 4: flags = MNEMO_EXPIRE_AT, when = gen_abs_time(1); break;
    default: {
        unsigned c = (unsigned)rnd_below(5);
        if (c == 0) when = -rnd_range(1, 100), want_err = MNEMO_ETTL;
        else if (c == 1) flags = MNEMO_EXPIRE_AT, when = -rnd_range(0, 100), want_err = MNEMO_ETTL;
        else if (c == 2) flags = MNEMO_EXPIRE_AT | MNEMO_EXPIRE_PERSIST, when = gen_abs_time(0),
                         want_err = MNEMO_EINVAL;
        else if (c == 3) flags = MNEMO_EXPIRE_NX << rnd_below(4), when = 100,
                         want_err = MNEMO_EINVAL;
        else flags = MNEMO_EXPIRE_PERSIST | MNEMO_EXPIRE_GT, want_err = MNEMO_EINVAL;
    }
    }
    int with_out = !one_in(5);
    DESC("getex db=%u key#%d when=%lld flags=0x%x out=%d", db, k, (long long)when, flags,
         with_out);
    begin_op();
    touch(db, k);
    mnemo_value v = {0};
    int rc = mnemo_getex(M.st, db, KEYS[k].b, KEYS[k].len, when, flags, with_out ? &v : NULL);
    cover(rc);
    if (!db_ok(db) || k == BIGKEY || want_err) {
        mentry *e = db_ok(db) && k != BIGKEY ? ent(db, k) : NULL;
        int ok = (!db_ok(db) && rc == MNEMO_EDB) || (k == BIGKEY && rc == MNEMO_ETOOBIG) ||
                 (want_err && rc == want_err) ||
                 /* argument checks before or after the lookup: both are fine for a miss */
                 (want_err && e && !e->live && rc == MNEMO_ENOTFOUND);
        if (!ok) TEST_FAIL_("getex with invalid arguments returned %d (%s)", rc, mnemo_strerror(rc));
        mnemo_value_release(&v);
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    int hit = e->live;
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK && e->live) {
        if (with_out) {
            CHECK(v.data != NULL);
            if (v.data) {
                CHECK_MEM_EQ(v.data, v.len, e->val, e->len);
                CHECK_EQ(((char *)v.data)[v.len], 0);
                CHECK_U64_EQ(v.version, e->ver);
            }
        }
        int64_t nexp = e->exp;
        if (mode == 1) nexp = M.now + when;
        else if (mode == 2) nexp = 0;
        else if (mode == 3) nexp = when;
        if (mode == 4) {
            /* already past: deleted after being read, a delete event */
            expect_event(MNEMO_EVENT_DEL, db, k, e->ver, 0, 0, 1, 0);
            model_remove(db, k);
        } else if (nexp != e->exp) {
            /* a TTL change keeps the version; whether it is also a SET event is open */
            expect_event(MNEMO_EVENT_SET, db, k, e->ver, 0, 1, 1, 0);
            M.set_slack = 1;
            e->exp = nexp;
        }
    }
    mnemo_value_release(&v);
    end_op(1, hit, !hit);
}

static void op_incr(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    static const int64_t deltas[] = {1, -1, 0, 5, -5, 100, INT64_MAX, INT64_MIN, 2, -2,
                                     INT64_MAX - 1, INT64_MIN + 1};
    int64_t d = one_in(3) ? deltas[rnd_below(sizeof deltas / sizeof deltas[0])]
                          : rnd_range(-1000, 1000);
    int64_t curv;
    if (db_ok(db) && k != BIGKEY && ent(db, k)->live && one_in(4) &&
        parse_ll(ent(db, k)->val, ent(db, k)->len, &curv)) {
        /* overflow boundaries: land exactly on INT64_MAX / INT64_MIN, or one past */
        if (curv > 0) d = INT64_MAX - curv + (int64_t)rnd_below(2);
        else if (curv < 0) d = INT64_MIN - curv - (int64_t)rnd_below(2);
    }
    DESC("incr db=%u key#%d delta=%lld", db, k, (long long)d);
    begin_op();
    touch(db, k);
    int64_t res = 4242;
    int rc = mnemo_incr(M.st, db, KEYS[k].b, KEYS[k].len, d, one_in(5) ? NULL : &res);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    int64_t cur = 0;
    int want = MNEMO_OK;
    if (e->live && !parse_ll(e->val, e->len, &cur)) want = MNEMO_ENOTINT;
    else if ((d > 0 && cur > INT64_MAX - d) || (d < 0 && cur < INT64_MIN - d))
        want = MNEMO_EOVERFLOW;
    CHECK_EQ(rc, want);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        int64_t nv = cur + d;
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)nv);
        if (res != 4242 || nv == 4242) CHECK_EQ(res, nv);
        model_write(db, k, buf, (size_t)n, e->live ? e->exp : 0, -1);
    } else {
        CHECK_EQ(res, 4242);
    }
    end_op(UNK, UNK, UNK);
}

static void op_incr_float(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    static const long double deltas[] = {0.5L, -0.25L, 1.0L, -3.0L, 0.015625L, 1024.5L, 0.0L,
                                         2.0L, -0.5L, 7.0L};
    long double d = deltas[rnd_below(sizeof deltas / sizeof deltas[0])];
    int bad_delta = 0;
    if (one_in(40)) {
        unsigned c = (unsigned)rnd_below(3);
        d = c == 0 ? (long double)INFINITY : c == 1 ? -(long double)INFINITY : (long double)NAN;
        bad_delta = 1;
    }
    DESC("incr_float db=%u key#%d delta=%Lg", db, k, d);
    begin_op();
    touch(db, k);
    char out[MNEMO_FLOAT_STRLEN];
    memset(out, 'Z', sizeof out);
    size_t out_len = 4242;
    int rc = mnemo_incr_float(M.st, db, KEYS[k].b, KEYS[k].len, d, out, &out_len);
    cover(rc);
    if (bad_delta && (!db_ok(db) || k == BIGKEY)) {
        /* two argument errors: either may be reported */
        if (rc != MNEMO_ENOTFINITE && rc != (db_ok(db) ? MNEMO_ETOOBIG : MNEMO_EDB))
            TEST_FAIL_("incr_float with invalid arguments returned %d", rc);
        end_op(UNK, UNK, UNK);
        return;
    }
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    if (bad_delta) {
        CHECK_EQ(rc, MNEMO_ENOTFINITE);
        end_op(UNK, UNK, UNK);
        return;
    }
    long double cur = 0;
    int p = e->live ? parse_ld(e->val, e->len, &cur) : 1;
    if (p == 0) {
        CHECK_EQ(rc, MNEMO_ENOTFLOAT);
        end_op(UNK, UNK, UNK);
        return;
    }
    if (p == 2) {
        CHECK_EQ(rc, MNEMO_ENOTFINITE);
        end_op(UNK, UNK, UNK);
        return;
    }
    if (p == 1) CHECK_EQ(rc, MNEMO_OK);
    else if (rc != MNEMO_OK && rc != MNEMO_ENOTFINITE && rc != MNEMO_ENOTFLOAT)
        TEST_FAIL_("incr_float returned %d (%s)", rc, mnemo_strerror(rc));
    if (rc == MNEMO_OK) {
        CHECK(out_len < MNEMO_FLOAT_STRLEN);
        if (out_len >= MNEMO_FLOAT_STRLEN) {
            end_op(UNK, UNK, UNK);
            return;
        }
        CHECK_EQ(out[out_len], 0);
        CHECK_EQ(strlen(out), out_len);
        if (p == 1) {
            long double r = cur + d;
            char want[128];
            format_ld(r, want, sizeof want);
            long double scaled = r * 64.0L;
            if (fabsl(r) < 1099511627776.0L && scaled == floorl(scaled)) {
                CHECK_STR_EQ(out, want);
            } else {
                long double got = strtold(out, NULL);
                if (!(fabsl(got - r) <= fabsl(r) * 1e-15L + 1e-15L))
                    TEST_FAIL_("incr_float gave %s, expected about %s", out, want);
            }
            if (strpbrk(out, "eE")) TEST_FAIL_("incr_float result %s has an exponent", out);
        }
        model_write(db, k, out, out_len, e->live ? e->exp : 0, -1);
    }
    end_op(UNK, UNK, UNK);
}

static void op_append(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    unsigned char data[VBUF];
    size_t dlen = one_in(4) ? gen_value(data, 1) : rnd_below(12);
    if (dlen <= 12)
        for (size_t i = 0; i < dlen; i++) data[i] = (unsigned char)rnd();
    DESC("append db=%u key#%d dlen=%zu", db, k, dlen);
    begin_op();
    touch(db, k);
    size_t nl = 4242;
    int rc = mnemo_append(M.st, db, KEYS[k].b, KEYS[k].len, data, dlen, &nl);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    size_t cur = e->live ? e->len : 0;
    int want = cur + dlen > MAXV ? MNEMO_ETOOBIG : MNEMO_OK;
    CHECK_EQ(rc, want);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        CHECK_EQ(nl, cur + dlen);
        if (e->live && dlen == 0) {
            /* Appending nothing to a key: whether that counts as a write is open. The version
             * must then either stay or move forward with a SET event. */
            uint64_t v = version_of(M.st, db, KEYS[k].b, KEYS[k].len);
            if (v != e->ver) {
                M.vouts[0] = v;
                model_write(db, k, e->val, e->len, e->exp, 0);
            }
        } else {
            unsigned char nv[2 * VBUF];
            if (e->live) memcpy(nv, e->val, e->len);
            memcpy(nv + cur, data, dlen);
            model_write(db, k, nv, cur + dlen, e->live ? e->exp : 0, -1);
        }
    }
    end_op(UNK, UNK, UNK);
}

static void op_setrange(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    unsigned char data[16];
    size_t dlen = rnd_below(8);
    for (size_t i = 0; i < dlen; i++) data[i] = (unsigned char)('A' + rnd_below(26));
    size_t off;
    unsigned r = (unsigned)rnd_below(100);
    if (M.big && r >= 40 && r < 70) off = 8100 + rnd_below(200); /* across 8 KiB */
    else if (r < 70) off = rnd_below(40);
    else if (r < 92) off = MAXV - 10 + rnd_below(20);
    else off = SIZE_MAX - rnd_below(4);
    if (dlen == 0 && off > MAXV) off = rnd_below(MAXV); /* Redis and the header disagree there */
    DESC("setrange db=%u key#%d off=%zu dlen=%zu", db, k, off, dlen);
    begin_op();
    touch(db, k);
    size_t nl = 4242;
    int rc = mnemo_setrange(M.st, db, KEYS[k].b, KEYS[k].len, off, data, dlen, &nl);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    int too_big = dlen > 0 && (off > MAXV || off + dlen > MAXV);
    if (too_big) {
        CHECK_EQ(rc, MNEMO_ETOOBIG);
    } else if (dlen == 0) {
        CHECK_EQ(rc, MNEMO_OK);
        CHECK_EQ(nl, e->live ? e->len : 0);
    } else {
        CHECK_EQ(rc, MNEMO_OK);
        size_t cur = e->live ? e->len : 0;
        unsigned char nv[2 * VBUF];
        memset(nv, 0, sizeof nv);
        if (e->live) memcpy(nv, e->val, cur);
        memcpy(nv + off, data, dlen);
        size_t nlen = cur > off + dlen ? cur : off + dlen;
        CHECK_EQ(nl, nlen);
        if (rc == MNEMO_OK) model_write(db, k, nv, nlen, e->live ? e->exp : 0, -1);
    }
    end_op(UNK, UNK, UNK);
}

static void op_mset(void)
{
    unsigned db = pick_db();
    size_t n = 1 + rnd_below(6);
    int ks[8];
    unsigned char vals[8][VBUF];
    size_t vlens[8];
    mnemo_kv kvs[8];
    int e_big = 0;
    for (size_t i = 0; i < n; i++) {
        ks[i] = one_in(3) && i > 0 ? ks[rnd_below(i)] : pick_key();
        vlens[i] = gen_value(vals[i], one_in(3));
        if (ks[i] == BIGKEY || vlens[i] > MAXV) e_big = 1;
        kvs[i].key = KEYS[ks[i]].b;
        kvs[i].key_len = KEYS[ks[i]].len;
        kvs[i].value = vals[i];
        kvs[i].value_len = vlens[i];
    }
    mnemo_set_opts o = {0};
    int e_inval = 0, e_ttl = 0, use_null = 0;
    unsigned r = (unsigned)rnd_below(100);
    if (r < 30) use_null = 1;
    else if (r < 50) o.flags = MNEMO_SET_NX;
    else if (r < 60) o.ttl_ms = rnd_range(1, 3000);
    else if (r < 68) {
        o.flags = MNEMO_SET_EXPIRE_AT;
        o.expire_at_ms = gen_abs_time(0);
    } else if (r < 73) {
        o.flags = MNEMO_SET_EXPIRE_AT;
        o.expire_at_ms = gen_abs_time(1);
    } else if (r < 85) o.flags = MNEMO_SET_KEEPTTL;
    else if (r < 88) o.flags = MNEMO_SET_NO_TTL;
    else if (r < 91) {
        o.flags = MNEMO_SET_GET;
        e_inval = 1;
    } else if (r < 94) {
        o.flags = MNEMO_SET_IF_VERSION;
        e_inval = 1;
    } else if (r < 95) {
        o.flags = MNEMO_SET_NX | MNEMO_SET_XX;
        e_inval = 1;
    } else if (r < 97) {
        o.flags = MNEMO_SET_XX;
        e_inval = 1;
    } else {
        o.ttl_ms = -5;
        e_ttl = 1;
    }
    if (o.flags == MNEMO_SET_NX && one_in(3)) o.ttl_ms = rnd_range(1, 3000);
    DESC("mset db=%u n=%zu flags=0x%x ttl=%lld at=%lld big=%d", db, n, o.flags,
         (long long)o.ttl_ms, (long long)o.expire_at_ms, e_big);
    begin_op();
    for (size_t i = 0; i < n; i++) touch(db, ks[i]);
    int rc = mnemo_mset(M.st, db, kvs, n, use_null ? NULL : &o);
    cover(rc);
    if (!db_ok(db) || e_big || e_inval || e_ttl) {
        if (!((!db_ok(db) && rc == MNEMO_EDB) || (e_big && rc == MNEMO_ETOOBIG) ||
              (e_inval && rc == MNEMO_EINVAL) || (e_ttl && rc == MNEMO_ETTL)))
            TEST_FAIL_("mset with invalid arguments returned %d (%s)", rc, mnemo_strerror(rc));
        end_op(UNK, UNK, UNK);
        return;
    }
    int any_exists = 0;
    for (size_t i = 0; i < n; i++) any_exists |= ent(db, ks[i])->live;
    int want = (o.flags & MNEMO_SET_NX) && !use_null && any_exists ? MNEMO_EEXISTS : MNEMO_OK;
    CHECK_EQ(rc, want);
    if (want == MNEMO_OK && rc == MNEMO_OK) {
        for (size_t i = 0; i < n; i++) {
            mentry *e = ent(db, ks[i]);
            int64_t exp;
            if (use_null) exp = 0;
            else if (o.flags & MNEMO_SET_EXPIRE_AT) exp = o.expire_at_ms;
            else if (o.ttl_ms > 0) exp = M.now + o.ttl_ms;
            else if (o.flags & MNEMO_SET_KEEPTTL) exp = e->live ? e->exp : 0;
            else exp = 0;
            if (exp && exp <= M.now) {
                model_set_in_past(db, ks[i]);
            } else {
                model_write(db, ks[i], vals[i], vlens[i], exp, -1);
            }
        }
    }
    end_op(0, 0, 0);
}

static void gen_keys(int *ks, mnemo_key *keys, size_t n, int *e_big)
{
    *e_big = 0;
    for (size_t i = 0; i < n; i++) {
        ks[i] = one_in(4) && i > 0 ? ks[rnd_below(i)] : pick_key();
        if (ks[i] == BIGKEY) *e_big = 1;
        keys[i].key = KEYS[ks[i]].b;
        keys[i].key_len = KEYS[ks[i]].len;
    }
}

typedef struct {
    int calls;
    int order_ok;
    size_t next;
    got_item items[8];
    int present[8];
} mget_ctx;

static void grab_mitem(void *ctx, size_t index, const mnemo_item *it)
{
    mget_ctx *c = ctx;
    c->calls++;
    if (index != c->next) c->order_ok = 0;
    c->next = index + 1;
    if (index >= 8) return;
    c->present[index] = it != NULL;
    if (it) grab_item(&c->items[index], it);
}

static void op_mget(void)
{
    unsigned db = pick_db();
    size_t n = 1 + rnd_below(6);
    int ks[8], e_big;
    mnemo_key keys[8];
    gen_keys(ks, keys, n, &e_big);
    int with = (int)rnd_below(2);
    DESC("%s db=%u n=%zu", with ? "mget_with" : "mget", db, n);
    begin_op();
    for (size_t i = 0; i < n; i++) touch(db, ks[i]);
    mnemo_value out[8];
    memset(out, 0x5a, sizeof out);
    mget_ctx c;
    memset(&c, 0, sizeof c);
    c.order_ok = 1;
    int rc = with ? mnemo_mget_with(M.st, db, keys, n, grab_mitem, &c)
                  : mnemo_mget(M.st, db, keys, n, out);
    cover(rc);
    if (!db_ok(db) || e_big) {
        CHECK_EQ(rc, !db_ok(db) ? MNEMO_EDB : MNEMO_ETOOBIG);
        if (!with) {
            /* on error every out[i] is left zeroed */
            for (size_t i = 0; i < n; i++)
                CHECK(out[i].data == NULL && out[i].len == 0 && out[i].version == 0 &&
                      out[i].expire_at_ms == 0);
        } else {
            CHECK_EQ(c.calls, 0);
        }
        end_op(UNK, UNK, UNK);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    if (rc != MNEMO_OK) {
        end_op(UNK, UNK, UNK);
        return;
    }
    if (with) {
        CHECK_EQ(c.calls, n);
        CHECK(c.order_ok);
    }
    for (size_t i = 0; i < n; i++) {
        mentry *e = ent(db, ks[i]);
        if (!with) {
            if (e->live) check_value_eq(&out[i], e);
            else CHECK(out[i].data == NULL);
            mnemo_value_release(&out[i]);
        } else {
            CHECK_EQ(c.present[i], e->live);
            if (c.present[i] && e->live) {
                CHECK_MEM_EQ(c.items[i].key, c.items[i].klen, KEYS[ks[i]].b, KEYS[ks[i]].len);
                CHECK_MEM_EQ(c.items[i].val, c.items[i].vlen, e->val, e->len);
                CHECK_U64_EQ(c.items[i].ver, e->ver);
                CHECK_EQ(c.items[i].exp, e->exp);
            }
        }
    }
    end_op(UNK, UNK, UNK);
}

static void op_mdel(void)
{
    unsigned db = pick_db();
    size_t n = 1 + rnd_below(6);
    int ks[8], e_big;
    mnemo_key keys[8];
    gen_keys(ks, keys, n, &e_big);
    int exists_op = (int)rnd_below(2);
    DESC("%s db=%u n=%zu", exists_op ? "mexists" : "mdel", db, n);
    begin_op();
    for (size_t i = 0; i < n; i++) touch(db, ks[i]);
    size_t cnt = 4242;
    int rc = exists_op ? mnemo_mexists(M.st, db, keys, n, &cnt)
                       : mnemo_mdel(M.st, db, keys, n, one_in(5) ? NULL : &cnt);
    cover(rc);
    if (!db_ok(db) || e_big) {
        CHECK_EQ(rc, !db_ok(db) ? MNEMO_EDB : MNEMO_ETOOBIG);
        end_op(UNK, UNK, UNK);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    size_t want = 0;
    if (exists_op) {
        for (size_t i = 0; i < n; i++) want += ent(db, ks[i])->live ? 1 : 0;
        CHECK_EQ(cnt, want);
        end_op(UNK, UNK, UNK);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        mentry *e = ent(db, ks[i]);
        if (e->live) {
            want++;
            expect_event(MNEMO_EVENT_DEL, db, ks[i], e->ver, 0, 0, 1, 0);
            model_remove(db, ks[i]);
        }
    }
    if (cnt != 4242) CHECK_EQ(cnt, want);
    end_op(0, 0, 0);
}

typedef struct {
    int counts[NKEYS];
    int unknown;
} key_counts;

static void count_key(void *ctx, const void *key, size_t key_len)
{
    key_counts *c = ctx;
    int k = key_index(key, key_len);
    if (k < 0) c->unknown++;
    else c->counts[k]++;
}

static void check_key_counts(const key_counts *c, unsigned db, const char *pat, size_t plen,
                             const char *what)
{
    if (c->unknown) TEST_FAIL_("%s reported %d keys the test never wrote", what, c->unknown);
    for (int k = 0; k < NKEYS; k++) {
        int want = ent(db, k)->live && pattern_matches(pat, plen, k) ? 1 : 0;
        if (k == BIGKEY) want = 0;
        if (c->counts[k] != want)
            TEST_FAIL_("%s reported key#%d %d times, expected %d (pattern \"%.*s\")", what, k,
                       c->counts[k], want, (int)plen, pat ? pat : "(null)");
    }
}

static void full_scan(unsigned db, const char *pat, size_t plen, key_counts *c, int *rc_out)
{
    uint64_t cursor = 0;
    long steps = 0;
    memset(c, 0, sizeof *c);
    do {
        uint64_t next = 0xdeadbeef;
        size_t count = one_in(4) ? 0 : one_in(3) ? 1000 : 1 + rnd_below(10);
        int rc = mnemo_scan(M.st, db, cursor, pat, plen, count, count_key, c, &next);
        *rc_out = rc;
        if (rc != MNEMO_OK) return;
        cursor = next;
        if (++steps > 10000000) {
            TEST_FAIL_("scan did not finish after %ld steps", steps);
            return;
        }
    } while (cursor != 0);
}

static void op_scan(void)
{
    unsigned db = pick_db();
    char pbuf[16];
    size_t plen;
    const char *pat = gen_pattern(pbuf, &plen);
    unsigned kind = (unsigned)rnd_below(4); /* scan, keys, count_matching, delete_matching */
    if (kind == 3 && !one_in(3)) kind = (unsigned)rnd_below(3);
    static const char *names[] = {"scan", "keys", "count_matching", "delete_matching"};
    DESC("%s db=%u pattern=\"%.*s\"%s", names[kind], db, (int)plen, pat ? pat : "",
         pat ? "" : " (NULL)");
    begin_op();
    if (db_ok(db)) touch_all_ghosts(1u << db);
    key_counts c;
    memset(&c, 0, sizeof c);
    int rc;
    uint64_t cnt = 4242;
    if (kind == 0) full_scan(db, pat, plen, &c, &rc);
    else if (kind == 1) rc = mnemo_keys(M.st, db, pat, plen, count_key, &c);
    else if (kind == 2) rc = mnemo_count_matching(M.st, db, pat, plen, &cnt);
    else rc = mnemo_delete_matching(M.st, db, pat, plen, &cnt);
    cover(rc);
    if (!db_ok(db)) {
        CHECK_EQ(rc, MNEMO_EDB);
        end_op(UNK, UNK, UNK);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    if (kind <= 1) {
        check_key_counts(&c, db, pat, plen, names[kind]);
    } else {
        uint64_t want = 0;
        for (int k = 0; k < NKEYS; k++) {
            mentry *e = ent(db, k);
            if (!e->live || !pattern_matches(pat, plen, k)) continue;
            want++;
            if (kind == 3) {
                expect_event(MNEMO_EVENT_DEL, db, k, e->ver, 0, 0, 1, 0);
                model_remove(db, k);
            }
        }
        CHECK_U64_EQ(cnt, want);
    }
    end_op(0, 0, 0);
}

static int pick_other_key(int k)
{
    return one_in(8) ? k : pick_key();
}

static void op_rename(void)
{
    unsigned db = pick_db();
    int src = pick_key(), dst = pick_other_key(src);
    int nx = (int)rnd_below(2);
    DESC("rename db=%u key#%d -> key#%d nx=%d", db, src, dst, nx);
    begin_op();
    touch(db, src);
    touch(db, dst);
    int rc = mnemo_rename(M.st, db, KEYS[src].b, KEYS[src].len, KEYS[dst].b, KEYS[dst].len, nx);
    cover(rc);
    if (!db_ok(db)) {
        CHECK_EQ(rc, MNEMO_EDB);
        end_op(UNK, UNK, UNK);
        return;
    }
    if (src == BIGKEY || dst == BIGKEY) {
        CHECK_EQ(rc, MNEMO_ETOOBIG);
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *s_ = ent(db, src), *d = ent(db, dst);
    int want = !s_->live                ? MNEMO_ENOTFOUND
               : src == dst && nx       ? MNEMO_EEXISTS
               : src == dst             ? MNEMO_OK
               : nx && d->live          ? MNEMO_EEXISTS
                                        : MNEMO_OK;
    CHECK_EQ(rc, want);
    if (rc == MNEMO_OK && want == MNEMO_OK && src != dst) {
        /* a delete event for src, a set event for dst with a new version */
        expect_event(MNEMO_EVENT_DEL, db, src, s_->ver, 0, 0, 1, 0);
        unsigned char val[VBUF];
        size_t len = s_->len;
        int64_t exp = s_->exp;
        memcpy(val, s_->val, len);
        model_remove(db, src);
        model_write(db, dst, val, len, exp, -1);
    }
    end_op(0, 0, 0);
}

static void op_copy_move(void)
{
    unsigned db = pick_db();
    unsigned ddb = one_in(5) ? db : pick_db();
    if (ddb == db && M.ndb > 1 && !one_in(5)) ddb = (db + 1) % M.ndb;
    int src = pick_key();
    int is_move = (int)rnd_below(2);
    int dst = is_move ? src : pick_other_key(src);
    int replace = (int)rnd_below(2);
    DESC("%s db=%u key#%d -> db=%u key#%d replace=%d", is_move ? "move" : "copy", db, src, ddb,
         dst, replace);
    begin_op();
    touch(db, src);
    touch(ddb, dst);
    int rc = is_move ? mnemo_move(M.st, db, KEYS[src].b, KEYS[src].len, ddb)
                     : mnemo_copy(M.st, db, KEYS[src].b, KEYS[src].len, ddb, KEYS[dst].b,
                                  KEYS[dst].len, replace);
    cover(rc);
    int same = db == ddb && (is_move || src == dst);
    int e_db = !db_ok(db) || !db_ok(ddb), e_big = src == BIGKEY || dst == BIGKEY;
    if (e_db || e_big) {
        /* any of the argument errors that apply */
        if (!((e_db && rc == MNEMO_EDB) || (e_big && rc == MNEMO_ETOOBIG) ||
              (same && rc == MNEMO_EINVAL)))
            TEST_FAIL_("%s with invalid arguments returned %d (%s)", is_move ? "move" : "copy",
                       rc, mnemo_strerror(rc));
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *s_ = ent(db, src), *d = ent(ddb, dst);
    if (same) {
        /* same database (move) or same key in the same database (copy): an argument error,
         * which may also be found after the lookup of a missing key */
        if (!(rc == MNEMO_EINVAL || (!s_->live && rc == MNEMO_ENOTFOUND)))
            TEST_FAIL_("%s onto itself returned %d (%s)", is_move ? "move" : "copy", rc,
                       mnemo_strerror(rc));
        end_op(UNK, UNK, UNK);
        return;
    }
    int want = !s_->live                         ? MNEMO_ENOTFOUND
               : d->live && (is_move || !replace) ? MNEMO_EEXISTS
                                                  : MNEMO_OK;
    CHECK_EQ(rc, want);
    if (rc == MNEMO_OK && want == MNEMO_OK) {
        unsigned char val[VBUF];
        size_t len = s_->len;
        int64_t exp = s_->exp;
        memcpy(val, s_->val, len);
        if (d->live) /* a replaced copy target may be reported as deleted */
            expect_event(MNEMO_EVENT_DEL, ddb, dst, d->ver, 0, 1, 1, 0);
        if (is_move) {
            /* undocumented whether a move fires a delete event in the source database */
            expect_event(MNEMO_EVENT_DEL, db, src, s_->ver, 0, 1, 1, 0);
            model_remove(db, src);
        }
        model_write(ddb, dst, val, len, exp, -1);
    }
    end_op(0, 0, 0);
}

static void op_swapdb(void)
{
    unsigned a = pick_db(), b = one_in(6) ? a : pick_db();
    DESC("swapdb %u %u", a, b);
    begin_op();
    int rc = mnemo_swapdb(M.st, a, b);
    cover(rc);
    if (!db_ok(a) || !db_ok(b)) {
        CHECK_EQ(rc, MNEMO_EDB);
        end_op(UNK, UNK, UNK);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    if (rc == MNEMO_OK && a != b) {
        static mentry tmp[NKEYS];
        memcpy(tmp, M.ents[a], sizeof tmp);
        memcpy(M.ents[a], M.ents[b], sizeof tmp);
        memcpy(M.ents[b], tmp, sizeof tmp);
        /* the shards' clocks both move to the larger: a later write to either name is above
         * what either held */
        for (int k = 0; k < NKEYS; k++) {
            uint64_t m = M.key_max[a][k] > M.key_max[b][k] ? M.key_max[a][k] : M.key_max[b][k];
            M.key_max[a][k] = M.key_max[b][k] = m;
        }
    }
    end_op(0, 0, 0);
}

static void op_random_key(void)
{
    unsigned db = pick_db();
    DESC("random_key db=%u", db);
    begin_op();
    if (db_ok(db)) touch_all_ghosts(1u << db);
    mnemo_value v = {0};
    int rc = mnemo_random_key(M.st, db, &v);
    cover(rc);
    if (!db_ok(db)) {
        CHECK_EQ(rc, MNEMO_EDB);
        mnemo_value_release(&v);
        end_op(UNK, UNK, UNK);
        return;
    }
    int any = 0;
    for (int k = 0; k < NKEYS; k++) any |= ent(db, k)->live;
    CHECK_EQ(rc, any ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK) {
        int k = key_index(v.data ? v.data : "", v.len);
        if (!v.data || k < 0 || !ent(db, k)->live)
            TEST_FAIL_("random_key returned a key that is not live (len %zu, key#%d)", v.len, k);
        else CHECK_EQ(((char *)v.data)[v.len], 0);
    }
    mnemo_value_release(&v);
    end_op(UNK, UNK, UNK);
}

static void op_key_memory(void)
{
    unsigned db = pick_db();
    int k = pick_key();
    DESC("key_memory db=%u key#%d", db, k);
    begin_op();
    touch(db, k);
    size_t bytes = 0;
    int rc = mnemo_key_memory(M.st, db, KEYS[k].b, KEYS[k].len, &bytes);
    cover(rc);
    if (!key_args_ok(db, k, rc)) {
        end_op(UNK, UNK, UNK);
        return;
    }
    mentry *e = ent(db, k);
    CHECK_EQ(rc, e->live ? MNEMO_OK : MNEMO_ENOTFOUND);
    if (rc == MNEMO_OK) CHECK(bytes >= KEYS[k].len && bytes > 0);
    end_op(UNK, UNK, UNK);
}

static void op_clock(void);

static void op_flush(void)
{
    if (!one_in(3)) {
        op_clock();
        return;
    }
    int all = one_in(4);
    unsigned db = pick_db();
    DESC("%s db=%u", all ? "flush_all" : "flush", db);
    begin_op();
    M.flush_op = 1;
    int rc = all ? mnemo_flush_all(M.st) : mnemo_flush(M.st, db);
    cover(rc);
    if (!all && !db_ok(db)) {
        CHECK_EQ(rc, MNEMO_EDB);
        end_op(UNK, UNK, UNK);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    for (unsigned d = 0; d < M.ndb; d++) {
        if (!all && d != db) continue;
        for (int k = 0; k < NKEYS; k++) model_remove(d, k);
    }
    end_op(0, 0, 0);
}

static void check_dbsize(unsigned db)
{
    uint64_t n = 4242;
    int rc = mnemo_dbsize(M.st, db, &n);
    if (!db_ok(db)) {
        CHECK_EQ(rc, MNEMO_EDB);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    uint64_t live, lt, gs, gm;
    model_counts(&live, &lt, &gs, &gm, (int)db);
    if (n < live + gs || n > live + gs + gm)
        TEST_FAIL_("dbsize(%u) = %llu outside [%llu, %llu]", db, (unsigned long long)n,
                   (unsigned long long)(live + gs), (unsigned long long)(live + gs + gm));
}

static void op_dbsize(void)
{
    unsigned db = pick_db();
    DESC("dbsize db=%u", db);
    begin_op();
    check_dbsize(db);
    end_op(0, 0, 0);
}

static void op_maintain(void)
{
    unsigned budget = 1 + (unsigned)rnd_below(one_in(3) ? 1000 : 8);
    DESC("maintain budget=%u", budget);
    begin_op();
    touch_all_ghosts(~0u);
    int64_t r = mnemo_store_maintain(M.st, budget);
    CHECK(r >= 0);
    if (r > (int64_t)budget) TEST_FAIL_("maintain(%u) expired %lld keys", budget, (long long)r);
    unsigned nexp = 0;
    for (size_t i = 0; i < M.nevs; i++) nexp += M.evs[i].type == MNEMO_EVENT_EXPIRE;
    CHECK_EQ(r, nexp);
    end_op(0, 0, 0);
}

static void op_next_version(void)
{
    DESC("next_version");
    begin_op();
    uint64_t v = mnemo_store_next_version(M.st);
    if (!(v > M.max_ver))
        TEST_FAIL_("next_version %llu not above %llu", (unsigned long long)v,
                   (unsigned long long)M.max_ver);
    if ((int64_t)(v >> 16) < M.now) TEST_FAIL_("next_version %llu behind the clock", (unsigned long long)v);
    note_version(v);
    M.ver_floor = v;
    end_op(0, 0, 0);
}

static void advance_clock(int64_t by)
{
    int64_t t = M.now + by;
    /* never land exactly on a deadline: whether a key is expired at its deadline is open */
    for (;;) {
        int hit = 0;
        for (unsigned db = 0; db < M.ndb; db++)
            for (int k = 0; k < NKEYS; k++)
                if (ent(db, k)->live && ent(db, k)->exp == t) hit = 1;
        if (!hit) break;
        t++;
    }
    M.now = t;
    for (unsigned db = 0; db < M.ndb; db++)
        for (int k = 0; k < NKEYS; k++) {
            mentry *e = ent(db, k);
            if (e->live && e->exp && e->exp <= M.now) {
                e->live = 0;
                e->ghost = GHOST_SURE;
                e->ghost_ver = e->ver;
                e->ghost_ver_known = 1;
            }
        }
}

static void op_clock(void)
{
    unsigned r = (unsigned)rnd_below(100);
    int64_t by = r < 60 ? rnd_range(1, 5) : r < 95 ? rnd_range(10, 1500) : rnd_range(5000, 100000);
    DESC("advance clock by %lld", (long long)by);
    begin_op();
    advance_clock(by);
    end_op(0, 0, 0);
}

/* Switches compression on or off, or changes its threshold, at run time. Stored values do not
 * change: every later read must return them as before (full_check compares them all). */
static void op_compression(void)
{
    static const size_t mins[] = {0, 1, 8, 20, 64, 150, 100000};
    int on = !one_in(3);
    size_t min = mins[rnd_below(sizeof mins / sizeof mins[0])];
    DESC("set_compression on=%d min=%zu", on, min);
    begin_op();
    int rc = mnemo_store_set_compression(M.st, on, min);
    cover(rc);
    CHECK_EQ(rc, min ? MNEMO_OK : MNEMO_EINVAL);
    if (rc == MNEMO_OK) {
        M.compression = on;
        M.compress_min = min;
        M.compression_ever |= on;
    }
    end_op(0, 0, 0);
}

static void op_stats_reset(void)
{
    DESC("stats_reset");
    begin_op();
    int rc = mnemo_stats_reset(M.st);
    CHECK_EQ(rc, MNEMO_OK);
    mnemo_stats s;
    stats_read(&s);
    CHECK_U64_EQ(s.gets, 0);
    CHECK_U64_EQ(s.hits, 0);
    CHECK_U64_EQ(s.misses, 0);
    CHECK_U64_EQ(s.sets, 0);
    CHECK_U64_EQ(s.deletes, 0);
    CHECK_U64_EQ(s.expired, 0);
    CHECK_U64_EQ(s.evicted, 0);
    CHECK_U64_EQ(s.keys, M.before.keys);
    CHECK(s.hit_rate == 0.0);
    M.before = s; /* the deltas below are measured from the reset */
    stats_read(&M.after);
    check_events();
    check_stats(0, 0, 0);
}

/* The compression figures against what get_with shows of every live key (stored_len below
 * value_len means compressed): exact when the store holds no expired key, bounded otherwise. */
static void check_live_compression(const mnemo_stats *s)
{
    uint64_t n = 0, stored = 0, orig = 0;
    for (unsigned db = 0; db < M.ndb; db++)
        for (int k = 0; k < NKEYS - 1; k++) {
            if (!ent(db, k)->live) continue;
            mnemo_item got = {0};
            int rc = mnemo_get_with(M.st, db, KEYS[k].b, KEYS[k].len, copy_item_header, &got);
            CHECK_EQ(rc, MNEMO_OK);
            CHECK(got.stored_len <= got.value_len);
            if (got.stored_len < got.value_len) {
                n++;
                stored += got.stored_len;
                orig += got.value_len;
            }
        }
    uint64_t live, lt, gs, gm;
    model_counts(&live, &lt, &gs, &gm, -1);
    if (s->keys == live) {
        CHECK_U64_EQ(s->compressed_values, n);
        CHECK_U64_EQ(s->compressed_bytes, stored);
        CHECK_U64_EQ(s->compressed_original_bytes, orig);
    } else {
        CHECK(s->compressed_values >= n && s->compressed_values <= n + (s->keys - live));
    }
    if (!M.compression_ever) CHECK_U64_EQ(s->compressed_values, 0);
}

/* Compares everything: each database's full contents (scan and keys), each live key's value,
 * version and TTL, dbsize and stats; then runs maintenance until no expired key is left. */
static void full_check(void)
{
    DESC("full check");
    begin_op();
    touch_all_ghosts(~0u);
    for (unsigned db = 0; db < M.ndb; db++) {
        key_counts c;
        int rc;
        full_scan(db, NULL, 0, &c, &rc);
        CHECK_EQ(rc, MNEMO_OK);
        check_key_counts(&c, db, NULL, 0, "full scan");
        memset(&c, 0, sizeof c);
        rc = mnemo_keys(M.st, db, NULL, 0, count_key, &c);
        CHECK_EQ(rc, MNEMO_OK);
        check_key_counts(&c, db, NULL, 0, "keys");
        uint64_t live, lt, gs, gm, cnt = 0;
        model_counts(&live, &lt, &gs, &gm, (int)db);
        rc = mnemo_count_matching(M.st, db, NULL, 0, &cnt);
        CHECK_EQ(rc, MNEMO_OK);
        CHECK_U64_EQ(cnt, live);
        for (int k = 0; k < NKEYS - 1; k++) {
            mentry *e = ent(db, k);
            if (!e->live) continue;
            mnemo_value v = {0};
            rc = mnemo_get(M.st, db, KEYS[k].b, KEYS[k].len, &v);
            CHECK_EQ(rc, MNEMO_OK);
            if (rc == MNEMO_OK) check_value_eq(&v, e);
            mnemo_value_release(&v);
            int64_t t = 0;
            rc = mnemo_ttl(M.st, db, KEYS[k].b, KEYS[k].len, &t);
            CHECK_EQ(rc, MNEMO_OK);
            CHECK_EQ(t, e->exp ? e->exp - M.now : -1);
        }
    }
    /* sum of dbsize == stats.keys */
    uint64_t sum = 0;
    for (unsigned db = 0; db < M.ndb; db++) {
        uint64_t n = 0;
        CHECK_EQ(mnemo_dbsize(M.st, db, &n), MNEMO_OK);
        sum += n;
    }
    mnemo_stats s;
    stats_read(&s);
    CHECK_U64_EQ(sum, s.keys);
    CHECK_EQ(mnemo_databases(M.st), M.ndb);
    check_live_compression(&s);
    check_events();

    /* Maintenance reclaims every expired key; each one is reported with an EXPIRE event. */
    for (int round = 0; round < 200; round++) {
        uint64_t live, lt, gs, gm;
        model_counts(&live, &lt, &gs, &gm, -1);
        stats_read(&s);
        if (s.keys == live) break;
        begin_op();
        touch_all_ghosts(~0u);
        int64_t r = mnemo_store_maintain(M.st, 1000);
        CHECK(r >= 0);
        end_op(0, 0, 0);
        if (round == 199) TEST_FAIL_("maintenance left %llu expired keys in the store",
                                     (unsigned long long)(s.keys - live));
    }
    /* the store now holds exactly the live keys: forget the ghosts */
    uint64_t live, lt, gs, gm;
    model_counts(&live, &lt, &gs, &gm, -1);
    stats_read(&s);
    if (s.keys == live)
        for (unsigned db = 0; db < M.ndb; db++)
            for (int k = 0; k < NKEYS; k++) ent(db, k)->ghost = GHOST_NONE;
    for (unsigned db = 0; db < M.ndb; db++) check_dbsize(db);
}

typedef void (*op_fn)(void);
static const struct {
    op_fn fn;
    unsigned weight;
} OPS[] = {
    {op_set, 22},      {op_get, 10},      {op_get_with, 4},  {op_exists, 4},
    {op_ttl, 5},       {op_strlen, 3},    {op_getrange, 5},  {op_del, 8},
    {op_expire, 9},    {op_persist, 3},   {op_getex, 4},     {op_incr, 7},
    {op_incr_float, 4}, {op_append, 5},   {op_setrange, 5},  {op_mset, 6},
    {op_mget, 6},      {op_mdel, 5},      {op_scan, 4},      {op_flush, 1},
    {op_dbsize, 2},    {op_maintain, 3},  {op_next_version, 1}, {op_clock, 10},
    {op_stats_reset, 1}, {op_rename, 4},  {op_copy_move, 4},  {op_swapdb, 1},
    {op_random_key, 2}, {op_key_memory, 2}, {op_compression, 1},
};
#define NOPS ((int)(sizeof OPS / sizeof OPS[0]))

static int run_sequence(uint64_t seed, long nops)
{
    static const unsigned shard_choices[] = {1, 2, 4, 8, 16, 64};
    int failures_before = test_failures_;
    rng_state = seed;
    memset(&M, 0, sizeof M);
    M.seed = seed;
    M.ndb = 1 + (unsigned)rnd_below(MAX_DB);
    M.wide = one_in(3);
    M.big = one_in(5);
    M.maxv = M.big ? MAXV_BIG : MAXV_SMALL;
    M.now = T0 + (int64_t)rnd_below(1000000);
    static const size_t min_choices[] = {1, 8, 20, 64, 150};
    M.compression = !one_in(5);
    M.compress_min = min_choices[rnd_below(sizeof min_choices / sizeof min_choices[0])];
    mnemo_config cfg;
    base_config(&cfg, &M.now);
    cfg.compression = M.compression;
    cfg.compress_min = M.compress_min;
    M.compression_ever = M.compression;
    cfg.databases = M.ndb;
    cfg.shards = shard_choices[rnd_below(sizeof shard_choices / sizeof shard_choices[0])];
    cfg.max_key_size = MAXK;
    cfg.max_value_size = MAXV;
    cfg.hook = model_hook;
    cfg.hook_ctx = &M;
    cfg.hook_events = MNEMO_EVENT_SET | MNEMO_EVENT_DEL | MNEMO_EVENT_EXPIRE | MNEMO_EVENT_EVICT;
    M.st = open_store(&cfg);

    unsigned total = 0;
    for (int i = 0; i < NOPS; i++) total += OPS[i].weight;
    for (M.opno = 0; M.opno < nops; M.opno++) {
        int before = test_failures_;
        unsigned w = (unsigned)rnd_below(total);
        int i = 0;
        while (w >= OPS[i].weight) w -= OPS[i].weight, i++;
        OPS[i].fn();
        if (test_failures_ == before && M.opno % 64 == 63) full_check();
        if (test_failures_ != before) {
            fprintf(stderr,
                    "  model test failed: seed=%llu (MNEMO_TEST_SEED=%llu MNEMO_TEST_SEQS=1 "
                    "replays it) op #%ld: %s; clock=%lld shards=%u dbs=%u wide=%d big=%d "
                    "compression=%d min=%zu\n",
                    (unsigned long long)seed, (unsigned long long)seed, M.opno, M.desc,
                    (long long)M.now, cfg.shards, M.ndb, M.wide, M.big, M.compression,
                    M.compress_min);
            break;
        }
    }
    if (test_failures_ == failures_before) full_check();
    mnemo_store_free(M.st);
    M.st = NULL;
    return test_failures_ == failures_before;
}

static void test_model_random(void)
{
    uint64_t scale = env_u64("MNEMO_TEST_SCALE", 1);
    uint64_t base = env_u64("MNEMO_TEST_SEED", 0x6d6e656d6f2d31ull);
    uint64_t seqs = env_u64("MNEMO_TEST_SEQS", 100 * scale);
    long nops = (long)env_u64("MNEMO_TEST_OPS", 2000);
    int failed = 0;
    for (uint64_t s = 0; s < seqs && failed < 3; s++) {
        uint64_t seed = seqs == 1 ? base : base + s * 0x9E3779B97F4A7C15ull;
        if (!run_sequence(seed, nops)) failed++;
    }
    if (env_u64("MNEMO_TEST_VERBOSE", 0)) {
        for (int i = 0; i < 48 && coverage[i].name[0]; i++) {
            fprintf(stderr, "  %-16s", coverage[i].name);
            for (int st = 0; st < 32; st++)
                if (coverage[i].by_status[st])
                    fprintf(stderr, " %s:%lu", st == 31 ? "other" : st == 0 ? "OK" : mnemo_strerror(-st),
                            coverage[i].by_status[st]);
            fputc('\n', stderr);
        }
    }
}

/* ==========================================================================================
 * Part 2: deterministic contract tests
 * ======================================================================================== */

static void test_strerror(void)
{
#define X_(name, code, text) CHECK_STR_EQ(mnemo_strerror(MNEMO_##name), text);
    MNEMO_STATUS_MAP(X_)
#undef X_
    int lowest = 0;
#define X_(name, code, text) if ((code) < lowest) lowest = (code);
    MNEMO_STATUS_MAP(X_)
#undef X_
    CHECK_STR_EQ(mnemo_strerror(1), "unknown status");
    CHECK_STR_EQ(mnemo_strerror(lowest - 1), "unknown status");
    CHECK_STR_EQ(mnemo_strerror(12345), "unknown status");
    CHECK_STR_EQ(mnemo_strerror(INT_MIN), "unknown status");
    CHECK_EQ(MNEMO_OK, 0);
}

static void test_config_defaults_and_validation(void)
{
    mnemo_config c;
    memset(&c, 0xab, sizeof c);
    mnemo_config_init(&c);
    CHECK_EQ(c.databases, 16);
    CHECK_EQ(c.shards, 256);
    CHECK_U64_EQ(c.max_key_size, 512u * 1024 * 1024);
    CHECK_U64_EQ(c.max_value_size, 512u * 1024 * 1024);
    CHECK_EQ(c.default_ttl_ms, 0);
    CHECK_EQ(c.min_ttl_ms, 0);
    CHECK_EQ(c.max_ttl_ms, 0);
    CHECK_EQ(c.background_thread, 1);
    CHECK_EQ(c.hz, 10);
    CHECK(c.hook == NULL);
    CHECK_EQ(c.hook_events, 0);
    CHECK(c.clock == NULL);

    mnemo_store *st = NULL;
    CHECK_EQ(mnemo_store_open(NULL, &st), MNEMO_OK);
    CHECK_EQ(mnemo_databases(st), 16);
    CHECK_EQ(set_str(st, 15, "k", "v", 0, NULL), MNEMO_OK);
    CHECK_EQ(set_str(st, 16, "k", "v", 0, NULL), MNEMO_EDB);
    mnemo_store_free(st);
    CHECK_EQ(mnemo_databases(NULL), 0);

    struct {
        unsigned databases, shards;
        int ok;
    } cases[] = {{0, 4, 0}, {1025, 4, 0}, {1024, 1, 1}, {1, 0, 0}, {1, 65537, 0},
                 {1, 65536, 1}, {1, 3, 1}, {2, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mnemo_config_init(&c);
        c.background_thread = 0;
        c.databases = cases[i].databases;
        c.shards = cases[i].shards;
        st = NULL;
        int rc = mnemo_store_open(&c, &st);
        if (cases[i].ok) {
            CHECK_EQ(rc, MNEMO_OK);
            if (rc == MNEMO_OK) {
                CHECK_EQ(mnemo_databases(st), cases[i].databases);
                CHECK_EQ(set_str(st, cases[i].databases - 1, "k", "v", 0, NULL), MNEMO_OK);
                CHECK_EQ(set_str(st, cases[i].databases, "k", "v", 0, NULL), MNEMO_EDB);
            }
        } else {
            CHECK_EQ(rc, MNEMO_EINVAL);
        }
        if (st) mnemo_store_free(st);
    }
}

static void noop_key_fn(void *ctx, const void *key, size_t key_len)
{
    (void)ctx, (void)key, (void)key_len;
    ++*(int *)ctx;
}
static void noop_read_fn(void *ctx, const mnemo_item *it)
{
    (void)it;
    ++*(int *)ctx;
}
static void noop_mread_fn(void *ctx, size_t i, const mnemo_item *it)
{
    (void)i, (void)it;
    ++*(int *)ctx;
}

/* Calls every per-database function with (db, key) and checks each returns `want`. */
static void all_calls_return(mnemo_store *st, unsigned db, const void *key, size_t klen, int want,
                             const char *why)
{
    int calls = 0;
    mnemo_value v = {0};
    int64_t i64 = 0;
    size_t sz = 0;
    char fbuf[MNEMO_FLOAT_STRLEN];
    mnemo_kv kv = {key, klen, "v", 1};
    mnemo_key mk = {key, klen};
    mnemo_value mv[1] = {{0}};
    int rcs[32], n = 0;
    const char *names[32];
#define CALL_(name, expr) (names[n] = name, rcs[n++] = (expr))
    CALL_("set", mnemo_set(st, db, key, klen, "v", 1, NULL, NULL, NULL));
    CALL_("get", mnemo_get(st, db, key, klen, &v));
    mnemo_value_release(&v);
    CALL_("get_with", mnemo_get_with(st, db, key, klen, noop_read_fn, &calls));
    CALL_("exists", mnemo_exists(st, db, key, klen));
    CALL_("ttl", mnemo_ttl(st, db, key, klen, &i64));
    CALL_("expire_time", mnemo_expire_time(st, db, key, klen, &i64));
    CALL_("expire", mnemo_expire(st, db, key, klen, 1000, 0));
    CALL_("persist", mnemo_persist(st, db, key, klen));
    CALL_("getex", mnemo_getex(st, db, key, klen, 0, 0, &v));
    mnemo_value_release(&v);
    CALL_("incr", mnemo_incr(st, db, key, klen, 1, &i64));
    CALL_("incr_float", mnemo_incr_float(st, db, key, klen, 1.5L, fbuf, &sz));
    CALL_("append", mnemo_append(st, db, key, klen, "x", 1, &sz));
    CALL_("strlen", mnemo_strlen(st, db, key, klen, &sz));
    CALL_("getrange", mnemo_getrange(st, db, key, klen, 0, -1, &v));
    mnemo_value_release(&v);
    CALL_("setrange", mnemo_setrange(st, db, key, klen, 1, "y", 1, &sz));
    CALL_("mset", mnemo_mset(st, db, &kv, 1, NULL));
    CALL_("mget", mnemo_mget(st, db, &mk, 1, mv));
    mnemo_value_release(&mv[0]);
    CALL_("mget_with", mnemo_mget_with(st, db, &mk, 1, noop_mread_fn, &calls));
    CALL_("mexists", mnemo_mexists(st, db, &mk, 1, &sz));
    CALL_("getdel", mnemo_getdel(st, db, key, klen, &v));
    mnemo_value_release(&v);
    CALL_("del_if_version", mnemo_del_if_version(st, db, key, klen, 1));
    CALL_("del", mnemo_del(st, db, key, klen));
    CALL_("mdel", mnemo_mdel(st, db, &mk, 1, &sz));
#undef CALL_
    for (int i = 0; i < n; i++)
        if (rcs[i] != want)
            TEST_FAIL_("%s: %s returned %d (%s), expected %d (%s)", why, names[i], rcs[i],
                       mnemo_strerror(rcs[i]), want, mnemo_strerror(want));
    CHECK_EQ(calls, 0);
}

/* The per-database calls that take no key. */
static void db_calls_return(mnemo_store *st, unsigned db, int want, const char *why)
{
    int calls = 0;
    uint64_t u64 = 0, cur = 0;
    int rcs[8], n = 0;
    const char *names[8];
#define CALL_(name, expr) (names[n] = name, rcs[n++] = (expr))
    CALL_("scan", mnemo_scan(st, db, 0, NULL, 0, 10, noop_key_fn, &calls, &cur));
    CALL_("keys", mnemo_keys(st, db, "*", 1, noop_key_fn, &calls));
    CALL_("count_matching", mnemo_count_matching(st, db, "*", 1, &u64));
    CALL_("delete_matching", mnemo_delete_matching(st, db, "zz*", 3, &u64));
    CALL_("dbsize", mnemo_dbsize(st, db, &u64));
    CALL_("flush", mnemo_flush(st, db));
#undef CALL_
    for (int i = 0; i < n; i++)
        if (rcs[i] != want)
            TEST_FAIL_("%s: %s returned %d (%s), expected %d (%s)", why, names[i], rcs[i],
                       mnemo_strerror(rcs[i]), want, mnemo_strerror(want));
    CHECK_EQ(calls, 0);
}

static void test_closed_store(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 2;
    mnemo_store *st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "k", "v", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_store_close(st), MNEMO_OK);
    CHECK_EQ(mnemo_store_close(st), MNEMO_ECLOSED); /* idempotent */
    CHECK_EQ(mnemo_store_close(st), MNEMO_ECLOSED);
    all_calls_return(st, 0, "k", 1, MNEMO_ECLOSED, "closed store");
    db_calls_return(st, 0, MNEMO_ECLOSED, "closed store");
    CHECK_EQ(mnemo_flush_all(st), MNEMO_ECLOSED);
    mnemo_stats s;
    CHECK_EQ(mnemo_store_stats(st, &s), MNEMO_ECLOSED);
    CHECK_EQ(mnemo_stats_reset(st), MNEMO_ECLOSED);
    CHECK_EQ(mnemo_store_maintain(st, 100), MNEMO_ECLOSED);
    mnemo_store_free(st);

    CHECK_EQ(mnemo_store_close(NULL), MNEMO_EINVAL);

    /* closing a store with a background thread and keys with TTLs */
    mnemo_config_init(&cfg);
    cfg.databases = 1;
    st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "t", "v", 5, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_store_close(st), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, "t", 1, &(mnemo_value){0}), MNEMO_ECLOSED);
    mnemo_store_free(st);

    /* free without close */
    st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "t", "v", 0, NULL), MNEMO_OK);
    mnemo_store_free(st);
}

static void test_invalid_db(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 3;
    mnemo_store *st = open_store(&cfg);
    all_calls_return(st, 3, "k", 1, MNEMO_EDB, "db 3 of 3");
    all_calls_return(st, UINT_MAX, "k", 1, MNEMO_EDB, "db UINT_MAX");
    db_calls_return(st, 3, MNEMO_EDB, "db 3 of 3");
    db_calls_return(st, UINT_MAX, MNEMO_EDB, "db UINT_MAX");
    /* nothing was created anywhere */
    mnemo_stats s;
    CHECK_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    CHECK_U64_EQ(s.keys, 0);
    /* mget with a bad db leaves out zeroed */
    mnemo_key k = {"k", 1};
    mnemo_value out[1];
    memset(out, 0x77, sizeof out);
    CHECK_EQ(mnemo_mget(st, 7, &k, 1, out), MNEMO_EDB);
    CHECK(out[0].data == NULL && out[0].len == 0 && out[0].version == 0);
    mnemo_store_free(st);
}

static void test_too_big(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    cfg.max_key_size = 8;
    cfg.max_value_size = 16;
    mnemo_store *st = open_store(&cfg);
    const char *k8 = "12345678", *k9 = "123456789";
    /* every call with a key one byte too long */
    all_calls_return(st, 0, k9, 9, MNEMO_ETOOBIG, "9-byte key, max 8");
    /* a key of exactly max_key_size is fine */
    CHECK_EQ(mnemo_set(st, 0, k8, 8, "v", 1, NULL, NULL, NULL), MNEMO_OK);

    char v17[17];
    memset(v17, 'v', sizeof v17);
    CHECK_EQ(mnemo_set(st, 0, "a", 1, v17, 16, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, "b", 1, v17, 17, NULL, NULL, NULL), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_exists(st, 0, "b", 1), MNEMO_ENOTFOUND);
    /* a failed oversized set leaves the old value */
    CHECK_EQ(mnemo_set(st, 0, "a", 1, v17, 17, NULL, NULL, NULL), MNEMO_ETOOBIG);
    size_t len = 0;
    CHECK_EQ(mnemo_strlen(st, 0, "a", 1, &len), MNEMO_OK);
    CHECK_EQ(len, 16);

    /* append up to the limit, then one byte too many */
    CHECK_EQ(mnemo_set(st, 0, "c", 1, "0123456789", 10, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_append(st, 0, "c", 1, "abcdef", 6, &len), MNEMO_OK);
    CHECK_EQ(len, 16);
    CHECK_EQ(mnemo_append(st, 0, "c", 1, "x", 1, &len), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_strlen(st, 0, "c", 1, &len), MNEMO_OK);
    CHECK_EQ(len, 16);
    CHECK_EQ(mnemo_append(st, 0, "new", 3, v17, 17, &len), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_exists(st, 0, "new", 3), MNEMO_ENOTFOUND);

    /* setrange: offset + len must stay within max_value_size */
    CHECK_EQ(mnemo_setrange(st, 0, "d", 1, 15, "x", 1, &len), MNEMO_OK);
    CHECK_EQ(len, 16);
    CHECK_EQ(mnemo_setrange(st, 0, "d", 1, 16, "x", 1, &len), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_setrange(st, 0, "d", 1, 10, "1234567", 7, &len), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_setrange(st, 0, "d", 1, SIZE_MAX, "xy", 2, &len), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_setrange(st, 0, "e", 1, SIZE_MAX - 1, "xyz", 3, &len), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_exists(st, 0, "e", 1), MNEMO_ENOTFOUND);
    mnemo_value v = {0};
    CHECK_EQ(mnemo_get(st, 0, "d", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0x", 16);
    mnemo_value_release(&v);

    /* mset: one oversized key or value fails the whole batch */
    mnemo_kv kvs[3] = {{"m1", 2, "1", 1}, {"m2", 2, v17, 17}, {"m3", 2, "3", 1}};
    CHECK_EQ(mnemo_mset(st, 0, kvs, 3, NULL), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_exists(st, 0, "m1", 2), MNEMO_ENOTFOUND);
    kvs[1].value_len = 1;
    kvs[2].key = k9;
    kvs[2].key_len = 9;
    CHECK_EQ(mnemo_mset(st, 0, kvs, 3, NULL), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_exists(st, 0, "m1", 2), MNEMO_ENOTFOUND);
    mnemo_key keys[2] = {{"a", 1}, {k9, 9}};
    mnemo_value out[2];
    memset(out, 0x33, sizeof out);
    CHECK_EQ(mnemo_mget(st, 0, keys, 2, out), MNEMO_ETOOBIG);
    CHECK(out[0].data == NULL && out[1].data == NULL && out[0].len == 0);
    size_t cnt = 99;
    CHECK_EQ(mnemo_mdel(st, 0, keys, 2, &cnt), MNEMO_ETOOBIG);
    CHECK_EQ(mnemo_exists(st, 0, "a", 1), MNEMO_OK); /* the batch deleted nothing */
    mnemo_store_free(st);
}

static void test_ttl_bounds(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    cfg.min_ttl_ms = 100;
    cfg.max_ttl_ms = 10000;
    mnemo_store *st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "a", "v", 99, NULL), MNEMO_ETTL);
    CHECK_EQ(mnemo_exists(st, 0, "a", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(set_str(st, 0, "a", "v", 100, NULL), MNEMO_OK);
    CHECK_EQ(set_str(st, 0, "b", "v", 10000, NULL), MNEMO_OK);
    CHECK_EQ(set_str(st, 0, "c", "v", 10001, NULL), MNEMO_ETTL);
    CHECK_EQ(set_str(st, 0, "c", "v", -1, NULL), MNEMO_ETTL);
    CHECK_EQ(mnemo_exists(st, 0, "c", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(set_str(st, 0, "d", "v", 0, NULL), MNEMO_OK); /* 0 = default = no expiry */
    int64_t t = 0;
    CHECK_EQ(mnemo_ttl(st, 0, "d", 1, &t), MNEMO_OK);
    CHECK_EQ(t, -1);
    /* a failed set leaves the old value and TTL */
    CHECK_EQ(set_str(st, 0, "a", "other", 5, NULL), MNEMO_ETTL);
    CHECK_EQ(mnemo_ttl(st, 0, "a", 1, &t), MNEMO_OK);
    CHECK_EQ(t, 100);

    CHECK_EQ(mnemo_expire(st, 0, "d", 1, 99, 0), MNEMO_ETTL);
    CHECK_EQ(mnemo_expire(st, 0, "d", 1, 10001, 0), MNEMO_ETTL);
    CHECK_EQ(mnemo_ttl(st, 0, "d", 1, &t), MNEMO_OK);
    CHECK_EQ(t, -1);
    CHECK_EQ(mnemo_expire(st, 0, "d", 1, 100, 0), MNEMO_OK);
    CHECK_EQ(mnemo_expire(st, 0, "d", 1, 10000, 0), MNEMO_OK);
    CHECK_EQ(mnemo_ttl(st, 0, "d", 1, &t), MNEMO_OK);
    CHECK_EQ(t, 10000);

    mnemo_kv kv[2] = {{"m1", 2, "1", 1}, {"m2", 2, "2", 1}};
    mnemo_set_opts o = {0};
    o.ttl_ms = 50;
    CHECK_EQ(mnemo_mset(st, 0, kv, 2, &o), MNEMO_ETTL);
    CHECK_EQ(mnemo_exists(st, 0, "m1", 2), MNEMO_ENOTFOUND);
    o.ttl_ms = 500;
    CHECK_EQ(mnemo_mset(st, 0, kv, 2, &o), MNEMO_OK);
    mnemo_store_free(st);

    /* Without bounds: TTLs whose deadline overflows int64 are invalid (Redis: "invalid expire
     * time"), and a negative TTL in a set is MNEMO_ETTL. */
    base_config(&cfg, &now);
    cfg.databases = 1;
    st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "a", "v", INT64_MAX, NULL), MNEMO_ETTL);
    CHECK_EQ(set_str(st, 0, "a", "v", INT64_MAX - T0 / 2, NULL), MNEMO_ETTL);
    CHECK_EQ(set_str(st, 0, "a", "v", INT64_MIN, NULL), MNEMO_ETTL);
    CHECK_EQ(set_str(st, 0, "a", "v", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire(st, 0, "a", 1, INT64_MAX, 0), MNEMO_ETTL);
    CHECK_EQ(mnemo_exists(st, 0, "a", 1), MNEMO_OK);
    CHECK_EQ(mnemo_ttl(st, 0, "a", 1, &t), MNEMO_OK);
    CHECK_EQ(t, -1);
    mnemo_store_free(st);
}

static void test_default_ttl(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    cfg.default_ttl_ms = 5000;
    mnemo_store *st = open_store(&cfg);
    int64_t at = 0;
    CHECK_EQ(set_str(st, 0, "a", "v", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "a", 1, &at), MNEMO_OK);
    CHECK_EQ(at, T0 + 5000);
    CHECK_EQ(mnemo_set(st, 0, "n", 1, "v", 1, NULL, NULL, NULL), MNEMO_OK); /* opts NULL */
    CHECK_EQ(mnemo_expire_time(st, 0, "n", 1, &at), MNEMO_OK);
    CHECK_EQ(at, T0 + 5000);
    mnemo_set_opts o = {0};
    o.flags = MNEMO_SET_NO_TTL;
    CHECK_EQ(mnemo_set(st, 0, "b", 1, "v", 1, &o, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "b", 1, &at), MNEMO_OK);
    CHECK_EQ(at, -1);
    CHECK_EQ(set_str(st, 0, "c", "v", 250, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "c", 1, &at), MNEMO_OK);
    CHECK_EQ(at, T0 + 250);
    o.flags = MNEMO_SET_EXPIRE_AT;
    o.expire_at_ms = T0 + 777;
    CHECK_EQ(mnemo_set(st, 0, "d", 1, "v", 1, &o, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "d", 1, &at), MNEMO_OK);
    CHECK_EQ(at, T0 + 777);
    /* KEEPTTL on an existing key keeps its TTL rather than taking the default */
    now += 10;
    o.flags = MNEMO_SET_KEEPTTL;
    CHECK_EQ(mnemo_set(st, 0, "c", 1, "w", 1, &o, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "c", 1, &at), MNEMO_OK);
    CHECK_EQ(at, T0 + 250);
    /* mset without options takes the default */
    mnemo_kv kv[2] = {{"m1", 2, "1", 1}, {"m2", 2, "2", 1}};
    CHECK_EQ(mnemo_mset(st, 0, kv, 2, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "m2", 2, &at), MNEMO_OK);
    CHECK_EQ(at, now + 5000);
    o.flags = MNEMO_SET_NO_TTL;
    CHECK_EQ(mnemo_mset(st, 0, kv, 2, &o), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "m1", 2, &at), MNEMO_OK);
    CHECK_EQ(at, -1);
    /* incr/append on an existing key keep its TTL */
    CHECK_EQ(set_str(st, 0, "i", "1", 300, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr(st, 0, "i", 1, 1, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_append(st, 0, "i", 1, "0", 1, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "i", 1, &at), MNEMO_OK);
    CHECK_EQ(at, now + 300);
    /* incr/append/setrange creating a key give it the default TTL */
    CHECK_EQ(mnemo_incr(st, 0, "ci", 2, 1, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "ci", 2, &at), MNEMO_OK);
    CHECK_EQ(at, now + 5000);
    CHECK_EQ(mnemo_append(st, 0, "ca", 2, "x", 1, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "ca", 2, &at), MNEMO_OK);
    CHECK_EQ(at, now + 5000);
    CHECK_EQ(mnemo_setrange(st, 0, "cs", 2, 2, "x", 1, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "cs", 2, &at), MNEMO_OK);
    CHECK_EQ(at, now + 5000);
    /* persist, then a plain set: the default again */
    CHECK_EQ(mnemo_persist(st, 0, "i", 1), MNEMO_OK);
    CHECK_EQ(set_str(st, 0, "i", "5", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "i", 1, &at), MNEMO_OK);
    CHECK_EQ(at, now + 5000);
    /* the default really expires */
    now += 5001;
    CHECK_EQ(mnemo_exists(st, 0, "a", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_exists(st, 0, "b", 1), MNEMO_OK);
    mnemo_store_free(st);
}

/* ---- hooks ---- */
typedef struct {
    int n;
    struct {
        mnemo_event ev;
        unsigned db;
        char key[32];
        size_t klen;
        uint64_t ver;
    } e[256];
} hook_log;

static void log_hook(void *ctx, mnemo_event ev, unsigned db, const void *key, size_t key_len,
                     uint64_t version)
{
    hook_log *l = ctx;
    if (l->n >= 256) return;
    l->e[l->n].ev = ev;
    l->e[l->n].db = db;
    l->e[l->n].klen = key_len;
    memcpy(l->e[l->n].key, key, key_len < 32 ? key_len : 32);
    l->e[l->n].ver = version;
    l->n++;
}

#define CHECK_EVENT(log, i, ev_, db_, key_, ver_)                                              \
    do {                                                                                     \
        CHECK((log).n > (i));                                                                \
        if ((log).n > (i)) {                                                                 \
            CHECK_EQ((log).e[i].ev, ev_);                                                    \
            CHECK_EQ((log).e[i].db, db_);                                                    \
            CHECK_MEM_EQ((log).e[i].key, (log).e[i].klen, key_, strlen(key_));               \
            CHECK_U64_EQ((log).e[i].ver, ver_);                                              \
        }                                                                                    \
    } while (0)

static void test_hooks(void)
{
    static hook_log log;
    memset(&log, 0, sizeof log);
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 4;
    cfg.shards = 4;
    cfg.hook = log_hook;
    cfg.hook_ctx = &log;
    cfg.hook_events = MNEMO_EVENT_SET | MNEMO_EVENT_DEL | MNEMO_EVENT_EXPIRE;
    mnemo_store *st = open_store(&cfg);
    uint64_t v1, v2;
    CHECK_EQ(set_str(st, 3, "k", "v", 0, &v1), MNEMO_OK);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_SET, 3, "k", v1);
    CHECK_EQ(set_str(st, 3, "k", "w", 0, &v2), MNEMO_OK);
    CHECK(v2 > v1);
    CHECK_EVENT(log, 1, MNEMO_EVENT_SET, 3, "k", v2);
    CHECK_EQ(mnemo_del(st, 3, "k", 1), MNEMO_OK);
    CHECK_EVENT(log, 2, MNEMO_EVENT_DEL, 3, "k", v2);
    CHECK_EQ(log.n, 3);
    CHECK_EQ(mnemo_del(st, 3, "k", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(log.n, 3);

    /* writes of every kind fire SET with the new version */
    log.n = 0;
    CHECK_EQ(mnemo_incr(st, 1, "n", 1, 5, NULL), MNEMO_OK);
    CHECK_EVENT(log, 0, MNEMO_EVENT_SET, 1, "n", version_of(st, 1, "n", 1));
    CHECK_EQ(mnemo_append(st, 1, "n", 1, "1", 1, NULL), MNEMO_OK);
    CHECK_EVENT(log, 1, MNEMO_EVENT_SET, 1, "n", version_of(st, 1, "n", 1));
    CHECK_EQ(mnemo_setrange(st, 1, "n", 1, 3, "x", 1, NULL), MNEMO_OK);
    CHECK_EVENT(log, 2, MNEMO_EVENT_SET, 1, "n", version_of(st, 1, "n", 1));
    CHECK_EQ(mnemo_incr_float(st, 1, "f", 1, 1.5L, NULL, NULL), MNEMO_OK);
    CHECK_EVENT(log, 3, MNEMO_EVENT_SET, 1, "f", version_of(st, 1, "f", 1));
    CHECK_EQ(log.n, 4);
    /* failed writes fire nothing */
    CHECK_EQ(mnemo_incr(st, 1, "n", 1, 1, NULL), MNEMO_ENOTINT);
    mnemo_set_opts nx = {MNEMO_SET_NX, 0, 0, 0};
    CHECK_EQ(mnemo_set(st, 1, "n", 1, "z", 1, &nx, NULL, NULL), MNEMO_EEXISTS);
    CHECK_EQ(log.n, 4);

    /* getdel, mdel, delete_matching: DEL per removed key with its version */
    log.n = 0;
    uint64_t vn = version_of(st, 1, "n", 1), vf = version_of(st, 1, "f", 1);
    CHECK_EQ(mnemo_getdel(st, 1, "n", 1, NULL), MNEMO_OK);
    CHECK_EVENT(log, 0, MNEMO_EVENT_DEL, 1, "n", vn);
    mnemo_key mk[3] = {{"f", 1}, {"zz", 2}, {"f", 1}};
    size_t deleted = 0;
    CHECK_EQ(mnemo_mdel(st, 1, mk, 3, &deleted), MNEMO_OK);
    CHECK_EQ(deleted, 1);
    CHECK_EVENT(log, 1, MNEMO_EVENT_DEL, 1, "f", vf);
    CHECK_EQ(log.n, 2);
    CHECK_EQ(set_str(st, 2, "p:1", "v", 0, &v1), MNEMO_OK);
    CHECK_EQ(set_str(st, 2, "q:1", "v", 0, NULL), MNEMO_OK);
    log.n = 0;
    uint64_t ndel = 0;
    CHECK_EQ(mnemo_delete_matching(st, 2, "p:*", 3, &ndel), MNEMO_OK);
    CHECK_U64_EQ(ndel, 1);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_DEL, 2, "p:1", v1);

    /* lazy expiry: touching an expired key fires EXPIRE with its version */
    CHECK_EQ(set_str(st, 0, "t", "v", 100, &v1), MNEMO_OK);
    log.n = 0;
    now += 101;
    mnemo_value v = {0};
    CHECK_EQ(mnemo_get(st, 0, "t", 1, &v), MNEMO_ENOTFOUND);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_EXPIRE, 0, "t", v1);
    CHECK_EQ(mnemo_get(st, 0, "t", 1, &v), MNEMO_ENOTFOUND);
    CHECK_EQ(log.n, 1);

    /* active expiry through maintain: one EXPIRE per key, right db and version */
    uint64_t vers[5];
    char name[8];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "e%d", i);
        CHECK_EQ(set_str(st, 2, name, "v", 50 + i, &vers[i]), MNEMO_OK);
    }
    CHECK_EQ(set_str(st, 2, "keep", "v", 100000, NULL), MNEMO_OK);
    log.n = 0;
    now += 1000;
    int64_t total = 0;
    for (int i = 0; i < 100 && total < 5; i++) {
        int64_t r = mnemo_store_maintain(st, 1000);
        CHECK(r >= 0);
        total += r;
    }
    CHECK_EQ(total, 5);
    CHECK_EQ(log.n, 5);
    int seen[5] = {0};
    for (int i = 0; i < log.n; i++) {
        CHECK_EQ(log.e[i].ev, MNEMO_EVENT_EXPIRE);
        CHECK_EQ(log.e[i].db, 2);
        int idx = log.e[i].klen == 2 && log.e[i].key[0] == 'e' ? log.e[i].key[1] - '0' : -1;
        CHECK(idx >= 0 && idx < 5);
        if (idx >= 0 && idx < 5) {
            seen[idx]++;
            CHECK_U64_EQ(log.e[i].ver, vers[idx]);
        }
    }
    for (int i = 0; i < 5; i++) CHECK_EQ(seen[i], 1);
    CHECK_EQ(mnemo_exists(st, 2, "keep", 4), MNEMO_OK);

    /* expire with a time in the past deletes at once, reported as a delete */
    CHECK_EQ(set_str(st, 1, "x", "v", 0, &v1), MNEMO_OK);
    log.n = 0;
    CHECK_EQ(mnemo_expire(st, 1, "x", 1, now - 10, MNEMO_EXPIRE_AT), MNEMO_OK);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_DEL, 1, "x", v1);
    CHECK_EQ(mnemo_exists(st, 1, "x", 1), MNEMO_ENOTFOUND);
    /* so does a set with a past EXPIRE_AT over a live key; getex with a past AT likewise */
    CHECK_EQ(set_str(st, 1, "x", "v", 0, &v1), MNEMO_OK);
    log.n = 0;
    mnemo_set_opts past = {MNEMO_SET_EXPIRE_AT, 0, now - 1, 0};
    CHECK_EQ(mnemo_set(st, 1, "x", 1, "w", 1, &past, NULL, NULL), MNEMO_OK);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_DEL, 1, "x", v1);
    CHECK_EQ(mnemo_exists(st, 1, "x", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_set(st, 1, "x", 1, "w", 1, &past, NULL, NULL), MNEMO_OK); /* nothing there */
    CHECK_EQ(log.n, 1);
    CHECK_EQ(set_str(st, 1, "x", "v", 0, &v1), MNEMO_OK);
    log.n = 0;
    CHECK_EQ(mnemo_getex(st, 1, "x", 1, now - 1, MNEMO_EXPIRE_AT, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "v", 1);
    mnemo_value_release(&v);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_DEL, 1, "x", v1);

    /* rename: DEL for src, SET for dst with a new version */
    CHECK_EQ(set_str(st, 1, "r1", "v", 0, &v1), MNEMO_OK);
    log.n = 0;
    CHECK_EQ(mnemo_rename(st, 1, "r1", 2, "r2", 2, 0), MNEMO_OK);
    CHECK_EQ(log.n, 2);
    v2 = version_of(st, 1, "r2", 2);
    CHECK(v2 > v1);
    for (int i = 0; i < log.n; i++) {
        if (log.e[i].ev == MNEMO_EVENT_DEL) CHECK_EVENT(log, i, MNEMO_EVENT_DEL, 1, "r1", v1);
        else CHECK_EVENT(log, i, MNEMO_EVENT_SET, 1, "r2", v2);
    }

    /* flush fires no per-key events */
    CHECK_EQ(set_str(st, 1, "y", "v", 0, NULL), MNEMO_OK);
    log.n = 0;
    CHECK_EQ(mnemo_flush(st, 1), MNEMO_OK);
    CHECK_EQ(mnemo_flush_all(st), MNEMO_OK);
    CHECK_EQ(log.n, 0);
    mnemo_store_free(st);

    /* hook_events filters: only DEL requested */
    memset(&log, 0, sizeof log);
    cfg.hook_events = MNEMO_EVENT_DEL;
    st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "a", "v", 10, &v1), MNEMO_OK);
    CHECK_EQ(mnemo_incr(st, 0, "c", 1, 1, NULL), MNEMO_OK);
    now += 100;
    CHECK_EQ(mnemo_exists(st, 0, "a", 1), MNEMO_ENOTFOUND); /* expired: not a DEL */
    CHECK_EQ(log.n, 0);
    uint64_t vc = version_of(st, 0, "c", 1);
    CHECK_EQ(mnemo_del(st, 0, "c", 1), MNEMO_OK);
    CHECK_EQ(log.n, 1);
    CHECK_EVENT(log, 0, MNEMO_EVENT_DEL, 0, "c", vc);
    mnemo_store_free(st);

    /* hook_events 0 (default): none at all */
    memset(&log, 0, sizeof log);
    cfg.hook_events = 0;
    st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "a", "v", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_del(st, 0, "a", 1), MNEMO_OK);
    CHECK_EQ(log.n, 0);
    mnemo_store_free(st);
}

static void test_empty_and_binary(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    mnemo_store *st = open_store(&cfg);
    mnemo_value v = {0};
    /* the empty key */
    CHECK_EQ(mnemo_set(st, 0, "", 0, "empty-key", 9, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, "", 0, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "empty-key", 9);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_exists(st, 0, "", 0), MNEMO_OK);
    /* empty value: found, data non-NULL, len 0 */
    CHECK_EQ(mnemo_set(st, 0, "ev", 2, "", 0, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, "ev", 2, &v), MNEMO_OK);
    CHECK(v.data != NULL);
    CHECK_EQ(v.len, 0);
    if (v.data) CHECK_EQ(((char *)v.data)[0], 0);
    mnemo_value_release(&v);
    mnemo_value_release(&v); /* safe twice */
    mnemo_key mk[2] = {{"ev", 2}, {"missing", 7}};
    mnemo_value out[2] = {{0}};
    CHECK_EQ(mnemo_mget(st, 0, mk, 2, out), MNEMO_OK);
    CHECK(out[0].data != NULL); /* present, empty */
    CHECK_EQ(out[0].len, 0);
    CHECK(out[1].data == NULL); /* missing */
    mnemo_value_release(&out[0]);
    mnemo_value_release(&out[1]);

    /* keys differing only after a NUL byte, or by a trailing NUL, are distinct */
    CHECK_EQ(mnemo_set(st, 0, "a\0b", 3, "1\0x", 3, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, "a\0c", 3, "2", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, "a", 1, "3", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, "a\0", 2, "4", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, "a\0b", 3, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "1\0x", 3);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_get(st, 0, "a\0", 2, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "4", 1);
    mnemo_value_release(&v);
    uint64_t n = 0;
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 6);
    /* the empty key and the NUL keys come back from scan with their exact bytes */
    int nkeys = 0;
    CHECK_EQ(mnemo_keys(st, 0, "a?b", 3, noop_key_fn, &nkeys), MNEMO_OK);
    CHECK_EQ(nkeys, 1);
    nkeys = 0;
    CHECK_EQ(mnemo_keys(st, 0, NULL, 0, noop_key_fn, &nkeys), MNEMO_OK);
    CHECK_EQ(nkeys, 6);
    uint64_t cnt = 0;
    CHECK_EQ(mnemo_count_matching(st, 0, "a?b", 3, &cnt), MNEMO_OK);
    CHECK_U64_EQ(cnt, 1);
    CHECK_EQ(mnemo_count_matching(st, 0, "", 0, &cnt), MNEMO_OK);
    CHECK_U64_EQ(cnt, 1); /* "" matches only the empty key */
    CHECK_EQ(mnemo_count_matching(st, 0, "a*", 2, &cnt), MNEMO_OK);
    CHECK_U64_EQ(cnt, 4);
    /* binary value with every byte value */
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    CHECK_EQ(mnemo_set(st, 0, all, 200, all, 256, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, all, 200, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, all, 256);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_append(st, 0, all, 200, "\0\0", 2, NULL), MNEMO_OK);
    size_t len = 0;
    CHECK_EQ(mnemo_strlen(st, 0, all, 200, &len), MNEMO_OK);
    CHECK_EQ(len, 258);
    mnemo_store_free(st);
}

static void test_large_values(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    cfg.shards = 4;
    mnemo_store *st = open_store(&cfg);
    size_t n = 1u << 20;
    unsigned char *big = malloc(n + 10);
    ASSERT(big != NULL);
    uint64_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        big[i] = (unsigned char)(x >> 56);
    }
    CHECK_EQ(mnemo_set(st, 0, "big", 3, big, n, NULL, NULL, NULL), MNEMO_OK);
    mnemo_value v = {0};
    CHECK_EQ(mnemo_get(st, 0, "big", 3, &v), MNEMO_OK);
    CHECK_EQ(v.len, n);
    CHECK(v.data && memcmp(v.data, big, n) == 0);
    if (v.data) CHECK_EQ(((char *)v.data)[n], 0);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_getrange(st, 0, "big", 3, 500000, 500099, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, big + 500000, 100);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_getrange(st, 0, "big", 3, -10, -1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, big + n - 10, 10);
    mnemo_value_release(&v);
    size_t len = 0;
    CHECK_EQ(mnemo_append(st, 0, "big", 3, "tail", 4, &len), MNEMO_OK);
    CHECK_EQ(len, n + 4);
    memcpy(big + n, "tail", 4);
    CHECK_EQ(mnemo_setrange(st, 0, "big", 3, 7, "MID", 3, &len), MNEMO_OK);
    memcpy(big + 7, "MID", 3);
    mnemo_key mk = {"big", 3};
    mnemo_value out = {0};
    CHECK_EQ(mnemo_mget(st, 0, &mk, 1, &out), MNEMO_OK);
    CHECK_EQ(out.len, n + 4);
    CHECK(out.data && memcmp(out.data, big, n + 4) == 0);
    mnemo_value_release(&out);
    /* many large values, then overwrite with small ones: memory accounting follows */
    mnemo_stats s1, s2;
    for (int i = 0; i < 8; i++) {
        char k[8];
        snprintf(k, sizeof k, "b%d", i);
        CHECK_EQ(mnemo_set(st, 0, k, strlen(k), big, n, NULL, NULL, NULL), MNEMO_OK);
    }
    CHECK_EQ(mnemo_store_stats(st, &s1), MNEMO_OK);
    CHECK(s1.data_bytes >= 8 * (uint64_t)n / 2); /* even compressed, random bytes stay large */
    CHECK(s1.memory_used >= s1.data_bytes);
    for (int i = 0; i < 8; i++) {
        char k[8];
        snprintf(k, sizeof k, "b%d", i);
        CHECK_EQ(mnemo_set(st, 0, k, strlen(k), "s", 1, NULL, NULL, NULL), MNEMO_OK);
    }
    CHECK_EQ(mnemo_store_stats(st, &s2), MNEMO_OK);
    CHECK(s2.data_bytes + 7 * (uint64_t)n / 2 < s1.data_bytes);
    CHECK_EQ(mnemo_getdel(st, 0, "big", 3, &v), MNEMO_OK);
    CHECK_EQ(v.len, n + 4);
    CHECK(v.data && memcmp(v.data, big, n + 4) == 0);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_flush_all(st), MNEMO_OK);
    CHECK_EQ(mnemo_store_stats(st, &s2), MNEMO_OK);
    CHECK_U64_EQ(s2.keys, 0);
    CHECK_U64_EQ(s2.data_bytes, 0);
    /* the memory of the large values is given back */
    CHECK(s2.memory_used + 7 * (uint64_t)n < s1.memory_used);
    free(big);
    mnemo_store_free(st);
}

static void test_incr_edges(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    mnemo_store *st = open_store(&cfg);
    int64_t r = 0;
    CHECK_EQ(set_str(st, 0, "max", "9223372036854775806", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr(st, 0, "max", 3, 1, &r), MNEMO_OK);
    CHECK_EQ(r, INT64_MAX);
    CHECK_EQ(mnemo_incr(st, 0, "max", 3, 1, &r), MNEMO_EOVERFLOW);
    mnemo_value v = {0};
    CHECK_EQ(mnemo_get(st, 0, "max", 3, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "9223372036854775807", 19);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_incr(st, 0, "max", 3, INT64_MIN, &r), MNEMO_OK);
    CHECK_EQ(r, -1);
    CHECK_EQ(mnemo_incr(st, 0, "min", 3, INT64_MIN, &r), MNEMO_OK);
    CHECK_EQ(r, INT64_MIN);
    CHECK_EQ(mnemo_incr(st, 0, "min", 3, -1, &r), MNEMO_EOVERFLOW);
    CHECK_EQ(mnemo_get(st, 0, "min", 3, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "-9223372036854775808", 20);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_incr(st, 0, "min", 3, INT64_MAX, &r), MNEMO_OK);
    CHECK_EQ(r, -1);
    static const char *notint[] = {"", "abc", "1.5", "12a", " 1", "1 ", "+5", "007", "-0",
                                   "99999999999999999999", "9223372036854775808",
                                   "-9223372036854775809", "1\0", "--1", "-"};
    static const size_t notint_len[] = {0, 3, 3, 3, 2, 2, 2, 3, 2, 20, 19, 20, 2, 3, 1};
    for (size_t i = 0; i < sizeof notint / sizeof notint[0]; i++) {
        CHECK_EQ(mnemo_set(st, 0, "s", 1, notint[i], notint_len[i], NULL, NULL, NULL), MNEMO_OK);
        int rc = mnemo_incr(st, 0, "s", 1, 1, &r);
        if (rc != MNEMO_ENOTINT)
            TEST_FAIL_("incr on \"%.*s\" returned %d, expected MNEMO_ENOTINT (Redis string2ll)",
                       (int)notint_len[i], notint[i], rc);
    }
    /* incr keeps the TTL of an existing key, a missing key starts without one */
    CHECK_EQ(set_str(st, 0, "t", "10", 500, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr(st, 0, "t", 1, -20, &r), MNEMO_OK);
    CHECK_EQ(r, -10);
    int64_t ttl = 0;
    CHECK_EQ(mnemo_ttl(st, 0, "t", 1, &ttl), MNEMO_OK);
    CHECK_EQ(ttl, 500);
    CHECK_EQ(mnemo_incr(st, 0, "fresh", 5, 0, &r), MNEMO_OK);
    CHECK_EQ(r, 0);
    CHECK_EQ(mnemo_ttl(st, 0, "fresh", 5, &ttl), MNEMO_OK);
    CHECK_EQ(ttl, -1);

    /* incr_float, Redis INCRBYFLOAT formatting */
    char out[MNEMO_FLOAT_STRLEN];
    size_t ol = 0;
    CHECK_EQ(set_str(st, 0, "f", "10.50", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr_float(st, 0, "f", 1, 0.1L, out, &ol), MNEMO_OK);
    CHECK_STR_EQ(out, "10.6");
    CHECK_EQ(ol, 4);
    CHECK_EQ(set_str(st, 0, "f", "5.0e3", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr_float(st, 0, "f", 1, 2.0e2L, out, &ol), MNEMO_OK);
    CHECK_STR_EQ(out, "5200");
    CHECK_EQ(mnemo_incr_float(st, 0, "g", 1, -2.5L, out, &ol), MNEMO_OK);
    CHECK_STR_EQ(out, "-2.5");
    CHECK_EQ(mnemo_incr_float(st, 0, "g", 1, 2.5L, out, &ol), MNEMO_OK);
    CHECK_STR_EQ(out, "0");
    CHECK_EQ(mnemo_incr_float(st, 0, "g", 1, 1e20L, out, &ol), MNEMO_OK);
    CHECK_STR_EQ(out, "100000000000000000000");
    CHECK_EQ(mnemo_get(st, 0, "g", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "100000000000000000000", 21);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_incr_float(st, 0, "g", 1, (long double)INFINITY, out, &ol), MNEMO_ENOTFINITE);
    CHECK_EQ(mnemo_incr_float(st, 0, "g", 1, (long double)NAN, out, &ol), MNEMO_ENOTFINITE);
    /* Huge but finite: printed in full, as Redis does (4901 digits). */
    CHECK_EQ(set_str(st, 0, "h", "1e4900", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr_float(st, 0, "h", 1, 1e4900L, out, &ol), MNEMO_OK);
    CHECK_EQ(ol, 4901);
    CHECK_EQ(out[0], '2');
    /* Past LDBL_MAX: infinity is refused. */
    CHECK_EQ(set_str(st, 0, "h", "1e4932", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_incr_float(st, 0, "h", 1, 1e4932L, out, &ol), MNEMO_ENOTFINITE);
    /* "inf" is a number (as in Redis), but the sum is not finite */
    static const char *infinite[] = {"inf", "-inf"};
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ(set_str(st, 0, "s", infinite[i], 0, NULL), MNEMO_OK);
        CHECK_EQ(mnemo_incr_float(st, 0, "s", 1, 1.0L, out, &ol), MNEMO_ENOTFINITE);
    }
    static const char *notfloat[] = {"", "abc", " 1", "1 ", "nan", "1.2.3"};
    for (size_t i = 0; i < sizeof notfloat / sizeof notfloat[0]; i++) {
        CHECK_EQ(set_str(st, 0, "s", notfloat[i], 0, NULL), MNEMO_OK);
        int rc = mnemo_incr_float(st, 0, "s", 1, 1.0L, out, &ol);
        if (rc != MNEMO_ENOTFLOAT)
            TEST_FAIL_("incr_float on \"%s\" returned %d, expected MNEMO_ENOTFLOAT", notfloat[i],
                       rc);
    }
    /* NULL outputs are allowed */
    CHECK_EQ(mnemo_incr_float(st, 0, "n", 1, 1.25L, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, "n", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "1.25", 4);
    mnemo_value_release(&v);
    mnemo_store_free(st);
}

static void test_string_edits(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    mnemo_store *st = open_store(&cfg);
    mnemo_value v = {0};
    size_t len = 99;
    /* Redis's GETRANGE examples */
    CHECK_EQ(set_str(st, 0, "s", "This is a string", 0, NULL), MNEMO_OK);
    struct {
        int64_t s, e;
        const char *want;
    } gr[] = {{0, 3, "This"},          {-3, -1, "ing"}, {0, -1, "This is a string"},
              {10, 100, "string"},     {5, 3, ""},      {-100, 3, "This"},
              {INT64_MIN, 1, "Th"},    {15, INT64_MAX, "g"}, {16, 20, ""},
              {-1, -3, ""},            {3, 3, "s"}};
    for (size_t i = 0; i < sizeof gr / sizeof gr[0]; i++) {
        CHECK_EQ(mnemo_getrange(st, 0, "s", 1, gr[i].s, gr[i].e, &v), MNEMO_OK);
        CHECK_MEM_EQ(v.data ? (char *)v.data : "", v.len, gr[i].want, strlen(gr[i].want));
        mnemo_value_release(&v);
    }
    CHECK_EQ(mnemo_getrange(st, 0, "nope", 4, 0, -1, &v), MNEMO_ENOTFOUND);
    /* SETRANGE: Redis's example, zero padding, empty data */
    CHECK_EQ(set_str(st, 0, "k", "Hello World", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_setrange(st, 0, "k", 1, 6, "Redis", 5, &len), MNEMO_OK);
    CHECK_EQ(len, 11);
    CHECK_EQ(mnemo_get(st, 0, "k", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "Hello Redis", 11);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_setrange(st, 0, "p", 1, 6, "Redis", 5, &len), MNEMO_OK);
    CHECK_EQ(len, 11);
    CHECK_EQ(mnemo_get(st, 0, "p", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "\0\0\0\0\0\0Redis", 11);
    mnemo_value_release(&v);
    uint64_t ver = version_of(st, 0, "p", 1);
    CHECK_EQ(mnemo_setrange(st, 0, "p", 1, 100, "", 0, &len), MNEMO_OK);
    CHECK_EQ(len, 11);
    CHECK_U64_EQ(version_of(st, 0, "p", 1), ver); /* empty data changes nothing */
    CHECK_EQ(mnemo_setrange(st, 0, "q", 1, 5, "", 0, &len), MNEMO_OK);
    CHECK_EQ(len, 0);
    CHECK_EQ(mnemo_exists(st, 0, "q", 1), MNEMO_ENOTFOUND);
    /* APPEND creates, then appends; strlen */
    CHECK_EQ(mnemo_append(st, 0, "a", 1, "Hello", 5, &len), MNEMO_OK);
    CHECK_EQ(len, 5);
    CHECK_EQ(mnemo_append(st, 0, "a", 1, " World", 6, &len), MNEMO_OK);
    CHECK_EQ(len, 11);
    CHECK_EQ(mnemo_strlen(st, 0, "a", 1, &len), MNEMO_OK);
    CHECK_EQ(len, 11);
    CHECK_EQ(mnemo_strlen(st, 0, "zz", 2, &len), MNEMO_ENOTFOUND);
    /* append and setrange keep the TTL */
    CHECK_EQ(mnemo_expire(st, 0, "a", 1, 1000, 0), MNEMO_OK);
    CHECK_EQ(mnemo_append(st, 0, "a", 1, "!", 1, &len), MNEMO_OK);
    CHECK_EQ(mnemo_setrange(st, 0, "a", 1, 0, "J", 1, &len), MNEMO_OK);
    int64_t ttl = 0;
    CHECK_EQ(mnemo_ttl(st, 0, "a", 1, &ttl), MNEMO_OK);
    CHECK_EQ(ttl, 1000);
    mnemo_store_free(st);
}

static void test_versions_and_ttl_changes(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 2;
    mnemo_store *st = open_store(&cfg);
    uint64_t v1 = 0, v2 = 0, v3 = 0;
    CHECK_EQ(set_str(st, 0, "k", "v", 0, &v1), MNEMO_OK);
    CHECK((int64_t)(v1 >> 16) >= T0);
    /* versions order the writes of one key; next_version is above every version, and later
     * writes are above it */
    CHECK_EQ(set_str(st, 1, "other", "v", 0, &v2), MNEMO_OK);
    uint64_t nv = mnemo_store_next_version(st);
    CHECK(nv > v2 && nv > v1);
    /* TTL changes keep the version */
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 5000, 0), MNEMO_OK);
    CHECK_U64_EQ(version_of(st, 0, "k", 1), v1);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 9000, MNEMO_EXPIRE_GT), MNEMO_OK);
    CHECK_U64_EQ(version_of(st, 0, "k", 1), v1);
    CHECK_EQ(mnemo_persist(st, 0, "k", 1), MNEMO_OK);
    CHECK_U64_EQ(version_of(st, 0, "k", 1), v1);
    CHECK_EQ(mnemo_getex(st, 0, "k", 1, T0 + 100000, MNEMO_EXPIRE_AT, NULL), MNEMO_OK);
    CHECK_U64_EQ(version_of(st, 0, "k", 1), v1);
    int64_t at = 0;
    CHECK_EQ(mnemo_expire_time(st, 0, "k", 1, &at), MNEMO_OK);
    CHECK_EQ(at, T0 + 100000);
    CHECK_EQ(mnemo_getex(st, 0, "k", 1, 0, MNEMO_EXPIRE_PERSIST, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_expire_time(st, 0, "k", 1, &at), MNEMO_OK);
    CHECK_EQ(at, -1);
    CHECK_U64_EQ(version_of(st, 0, "k", 1), v1);
    /* a write with KEEPTTL is still a write */
    mnemo_set_opts o = {MNEMO_SET_KEEPTTL, 0, 0, 0};
    CHECK_EQ(mnemo_set(st, 0, "k", 1, "w", 1, &o, NULL, &v3), MNEMO_OK);
    CHECK(v3 > nv);
    /* compare-and-set */
    o.flags = MNEMO_SET_IF_VERSION;
    o.version = v1;
    CHECK_EQ(mnemo_set(st, 0, "k", 1, "x", 1, &o, NULL, NULL), MNEMO_EVERSION);
    o.version = v3;
    uint64_t v4 = 0;
    CHECK_EQ(mnemo_set(st, 0, "k", 1, "x", 1, &o, NULL, &v4), MNEMO_OK);
    CHECK(v4 > v3);
    CHECK_EQ(mnemo_set(st, 0, "k", 1, "y", 1, &o, NULL, NULL), MNEMO_EVERSION);
    CHECK_EQ(mnemo_set(st, 0, "nokey", 5, "y", 1, &o, NULL, NULL), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_del_if_version(st, 0, "k", 1, v3), MNEMO_EVERSION);
    CHECK_EQ(mnemo_del_if_version(st, 0, "k", 1, v4), MNEMO_OK);
    CHECK_EQ(mnemo_del_if_version(st, 0, "k", 1, v4), MNEMO_ENOTFOUND);
    /* the clock going backwards does not make versions go backwards */
    now -= 100000;
    uint64_t v5 = 0;
    CHECK_EQ(set_str(st, 0, "k", "z", 0, &v5), MNEMO_OK);
    CHECK(v5 > v4);
    /* many writes within one millisecond stay strictly increasing */
    uint64_t prev = v5;
    for (int i = 0; i < 70000; i++) {
        uint64_t v = mnemo_store_next_version(st);
        if (v <= prev) {
            TEST_FAIL_("next_version went from %llu to %llu", (unsigned long long)prev,
                       (unsigned long long)v);
            break;
        }
        prev = v;
    }
    now += 200000;
    CHECK_EQ(set_str(st, 0, "k", "z", 0, &v5), MNEMO_OK);
    CHECK(v5 > prev);
    CHECK_EQ((int64_t)(v5 >> 16), now > (int64_t)(prev >> 16) ? now : (int64_t)(prev >> 16));

    /* expire: GT/LT/NX/XX on a key without TTL (no expiry = infinite) */
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1000, MNEMO_EXPIRE_GT), MNEMO_ECOND);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1000, MNEMO_EXPIRE_XX), MNEMO_ECOND);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1000, MNEMO_EXPIRE_LT), MNEMO_OK);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 2000, MNEMO_EXPIRE_NX), MNEMO_ECOND);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 2000, MNEMO_EXPIRE_LT), MNEMO_ECOND);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1000, MNEMO_EXPIRE_GT), MNEMO_ECOND); /* equal */
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 2000, MNEMO_EXPIRE_GT | MNEMO_EXPIRE_XX), MNEMO_OK);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1, MNEMO_EXPIRE_NX | MNEMO_EXPIRE_XX), MNEMO_EINVAL);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1, MNEMO_EXPIRE_GT | MNEMO_EXPIRE_LT), MNEMO_EINVAL);
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, 1, MNEMO_EXPIRE_NX | MNEMO_EXPIRE_GT), MNEMO_EINVAL);
    CHECK_EQ(mnemo_persist(st, 0, "k", 1), MNEMO_OK);
    CHECK_EQ(mnemo_persist(st, 0, "k", 1), MNEMO_ECOND);
    CHECK_EQ(mnemo_persist(st, 0, "nokey", 5), MNEMO_ENOTFOUND);
    /* a negative TTL is a time in the past: the key is deleted, as Redis's EXPIRE does */
    CHECK_EQ(mnemo_expire(st, 0, "k", 1, -1, 0), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "k", 1), MNEMO_ENOTFOUND);
    /* set with EXPIRE_AT in the past: succeeds, the key is gone, GET returns the old value */
    CHECK_EQ(set_str(st, 0, "p", "old", 0, NULL), MNEMO_OK);
    mnemo_set_opts past = {MNEMO_SET_EXPIRE_AT | MNEMO_SET_GET, 0, now - 1, 0};
    mnemo_value old = {0};
    CHECK_EQ(mnemo_set(st, 0, "p", 1, "new", 3, &past, &old, NULL), MNEMO_OK);
    CHECK_MEM_EQ(old.data, old.len, "old", 3);
    mnemo_value_release(&old);
    CHECK_EQ(mnemo_exists(st, 0, "p", 1), MNEMO_ENOTFOUND);
    uint64_t n = 99;
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    mnemo_store_free(st);
}

static void test_index_shrinks(void)
{
    /* A shard's index sized for many keys shrinks when most of them are deleted, and the keys
     * left stay readable through the move (and after it). */
    mnemo_config cfg;
    int64_t now = T0;
    base_config(&cfg, &now);
    cfg.shards = 1;
    cfg.databases = 1;
    mnemo_store *st = open_store(&cfg);
    char k[32];
    enum { N = 50000 };
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "k%d", i);
        ASSERT_EQ(mnemo_set(st, 0, k, (size_t)n, "v", 1, NULL, NULL, NULL), MNEMO_OK);
    }
    mnemo_store_purge(st);
    mnemo_stats full;
    CHECK_EQ(mnemo_store_stats(st, &full), MNEMO_OK);
    for (int i = 0; i < N; i++) {
        if (i % 50 == 0)
            continue;
        int n = snprintf(k, sizeof k, "k%d", i);
        ASSERT_EQ(mnemo_del(st, 0, k, (size_t)n), MNEMO_OK);
        if (i % 997 == 0) { /* survivors readable while the index moves */
            int m = snprintf(k, sizeof k, "k%d", i - i % 50);
            CHECK_EQ(mnemo_exists(st, 0, k, (size_t)m), MNEMO_OK);
        }
    }
    mnemo_store_purge(st);
    mnemo_stats sparse;
    CHECK_EQ(mnemo_store_stats(st, &sparse), MNEMO_OK);
    CHECK_EQ(sparse.keys, N / 50);
    /* 1000 keys: the index is a few KiB, not the ~330 KiB that held 50,000 (what is left is
     * mostly segments holding the deleted entries, compacted later) */
    if (!(sparse.memory_used < full.memory_used / 4))
        TEST_FAIL_("memory_used %llu after deleting 98%% of %llu", (unsigned long long)
                   sparse.memory_used, (unsigned long long)full.memory_used);
    int missing = 0;
    for (int i = 0; i < N; i += 50) {
        int n = snprintf(k, sizeof k, "k%d", i);
        missing += mnemo_exists(st, 0, k, (size_t)n) != MNEMO_OK;
    }
    CHECK_EQ(missing, 0);
    /* and everything gone: the index goes too, and the shard still takes keys */
    for (int i = 0; i < N; i += 50) {
        int n = snprintf(k, sizeof k, "k%d", i);
        CHECK_EQ(mnemo_del(st, 0, k, (size_t)n), MNEMO_OK);
    }
    CHECK_EQ(mnemo_set(st, 0, "again", 5, "v", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "again", 5), MNEMO_OK);
    mnemo_store_free(st);
}

static void test_mset_batches(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    cfg.shards = 8;
    mnemo_store *st = open_store(&cfg);
    mnemo_kv kv[4] = {{"a", 1, "1", 1}, {"b", 1, "2", 1}, {"a", 1, "3", 1}, {"c", 1, "4", 1}};
    mnemo_set_opts nx = {MNEMO_SET_NX, 0, 0, 0};
    CHECK_EQ(mnemo_mset(st, 0, kv, 4, &nx), MNEMO_OK); /* duplicate key: last value wins */
    mnemo_value v = {0};
    CHECK_EQ(mnemo_get(st, 0, "a", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "3", 1);
    mnemo_value_release(&v);
    mnemo_kv kv2[3] = {{"x", 1, "1", 1}, {"c", 1, "new", 3}, {"y", 1, "2", 1}};
    CHECK_EQ(mnemo_mset(st, 0, kv2, 3, &nx), MNEMO_EEXISTS); /* all or nothing */
    CHECK_EQ(mnemo_exists(st, 0, "x", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_exists(st, 0, "y", 1), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_get(st, 0, "c", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "4", 1);
    mnemo_value_release(&v);
    mnemo_set_opts bad = {MNEMO_SET_GET, 0, 0, 0};
    CHECK_EQ(mnemo_mset(st, 0, kv2, 3, &bad), MNEMO_EINVAL);
    bad.flags = MNEMO_SET_IF_VERSION;
    CHECK_EQ(mnemo_mset(st, 0, kv2, 3, &bad), MNEMO_EINVAL);
    bad.flags = MNEMO_SET_XX;
    CHECK_EQ(mnemo_mset(st, 0, kv2, 3, &bad), MNEMO_EINVAL);
    CHECK_EQ(mnemo_exists(st, 0, "x", 1), MNEMO_ENOTFOUND);
    /* each key of a batch gets its own version */
    uint64_t va = version_of(st, 0, "a", 1), vb = version_of(st, 0, "b", 1),
             vc = version_of(st, 0, "c", 1);
    CHECK(va != vb && vb != vc && va != vc);
    mnemo_key keys[5] = {{"a", 1}, {"a", 1}, {"zz", 2}, {"b", 1}, {"zz", 2}};
    size_t cnt = 0;
    CHECK_EQ(mnemo_mexists(st, 0, keys, 5, &cnt), MNEMO_OK);
    CHECK_EQ(cnt, 3);
    CHECK_EQ(mnemo_mdel(st, 0, keys, 5, &cnt), MNEMO_OK);
    CHECK_EQ(cnt, 2);
    CHECK_EQ(mnemo_mexists(st, 0, keys, 5, &cnt), MNEMO_OK);
    CHECK_EQ(cnt, 0);
    mnemo_store_free(st);
}

static void test_glob(void)
{
    struct {
        const char *p, *s;
        int nocase, want;
    } cases[] = {
        {"*", "", 0, 1},          {"", "", 0, 1},           {"", "a", 0, 0},
        {"a*b", "ab", 0, 1},      {"a*b", "axxb", 0, 1},    {"a*b", "axxbc", 0, 0},
        {"?", "a", 0, 1},         {"?", "", 0, 0},          {"?", "ab", 0, 0},
        {"[abc]", "b", 0, 1},     {"[abc]", "d", 0, 0},     {"[a-c]", "b", 0, 1},
        {"[c-a]", "b", 0, 1},     {"[^a]", "b", 0, 1},      {"[^a]", "a", 0, 0},
        {"\\*", "*", 0, 1},       {"\\*", "a", 0, 0},       {"*.txt", "a.txt", 0, 1},
        {"h?llo", "hello", 0, 1}, {"h[ae]llo", "hallo", 0, 1}, {"h[^e]llo", "hello", 0, 0},
        {"ABC", "abc", 1, 1},     {"ABC", "abc", 0, 0},     {"[A-C]", "b", 1, 1},
        {"user:*:name", "user:42:name", 0, 1}, {"user:*:name", "user:42:mail", 0, 0},
        {"*a", "aaaa", 0, 1},     {"a*", "b", 0, 0},        {"[\\]]", "]", 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = mnemo_glob_match(cases[i].p, strlen(cases[i].p), cases[i].s,
                                   strlen(cases[i].s), cases[i].nocase);
        if (!!got != cases[i].want)
            TEST_FAIL_("glob \"%s\" vs \"%s\" (nocase %d): got %d, expected %d", cases[i].p,
                       cases[i].s, cases[i].nocase, got, cases[i].want);
    }
    /* binary-safe, and lengths are respected */
    CHECK_EQ(!!mnemo_glob_match("a?b", 3, "a\0b", 3, 0), 1);
    CHECK_EQ(!!mnemo_glob_match("a*", 1, "a", 1, 0), 1);
    CHECK_EQ(!!mnemo_glob_match("a*", 1, "ab", 2, 0), 0);
    CHECK_EQ(!!mnemo_glob_match("abc", 3, "abcdef", 3, 0), 1);
    /* a pattern that makes naive backtracking exponential */
    char pat[64], str[128];
    size_t pl = 0;
    for (int i = 0; i < 14; i++) pat[pl++] = 'a', pat[pl++] = '*';
    pat[pl++] = 'b';
    memset(str, 'a', 100);
    CHECK_EQ(!!mnemo_glob_match(pat, pl, str, 100, 0), 0);
    str[99] = 'b';
    CHECK_EQ(!!mnemo_glob_match(pat, pl, str, 100, 0), 1);
}

typedef struct {
    int *counts;
    int nk;
    int unknown;
} churn_ctx;

static void churn_key(void *ctx, const void *key, size_t len)
{
    churn_ctx *c = ctx;
    const char *k = key;
    int i = 0;
    if (len != 7 || memcmp(k, "s:", 2) != 0) {
        c->unknown++;
        return;
    }
    for (int j = 2; j < 7; j++) {
        if (k[j] < '0' || k[j] > '9') {
            c->unknown++;
            return;
        }
        i = i * 10 + (k[j] - '0');
    }
    if (i >= c->nk) c->unknown++;
    else c->counts[i]++;
}

/* Scans over a changing table: a key present for the whole scan comes back exactly once, also
 * while the tables grow and shrink under the cursor; a key never present is never reported. */
static void test_scan_under_churn(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    cfg.shards = 4;
    mnemo_store *st = open_store(&cfg);
    enum { NK = 12000 };
    static unsigned char present[NK], at_start[NK], touched[NK];
    static int counts[NK];
    rng_state = env_u64("MNEMO_TEST_SEED", 0x6d6e656d6f2d31ull) ^ 0x5ca1ab1e;
    char key[16];
    int live = 0;
    memset(present, 0, sizeof present);
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "s:%05d", i);
        CHECK_EQ(mnemo_set(st, 0, key, strlen(key), "v", 1, NULL, NULL, NULL), MNEMO_OK);
        present[i] = 1;
        live++;
    }
    int rounds = 12 * (int)env_u64("MNEMO_TEST_SCALE", 1);
    for (int round = 0; round < rounds && test_failures_ == 0; round++) {
        int mode = round % 3; /* 0 grow, 1 shrink, 2 mixed */
        memcpy(at_start, present, sizeof present);
        memset(touched, 0, sizeof touched);
        memset(counts, 0, sizeof counts);
        churn_ctx cc = {counts, NK, 0};
        uint64_t cursor = 0;
        long steps = 0;
        do {
            uint64_t next = 0;
            size_t count = 1 + rnd_below(32);
            int rc = mnemo_scan(st, 0, cursor, NULL, 0, count, churn_key, &cc, &next);
            CHECK_EQ(rc, MNEMO_OK);
            if (rc != MNEMO_OK) break;
            cursor = next;
            for (int j = 0; j < 6; j++) {
                int ins = mode == 0 ? live < NK - 500 : mode == 1 ? live < 300 : (int)rnd_below(2);
                int i = (int)rnd_below(NK);
                snprintf(key, sizeof key, "s:%05d", i);
                if (ins && !present[i]) {
                    CHECK_EQ(mnemo_set(st, 0, key, 7, "v", 1, NULL, NULL, NULL), MNEMO_OK);
                    present[i] = 1;
                    touched[i] = 1;
                    live++;
                } else if (!ins && present[i]) {
                    CHECK_EQ(mnemo_del(st, 0, key, 7), MNEMO_OK);
                    present[i] = 0;
                    touched[i] = 1;
                    live--;
                }
            }
            if (++steps > 10000000) {
                TEST_FAIL_("scan did not finish");
                break;
            }
        } while (cursor != 0);
        CHECK_EQ(cc.unknown, 0);
        int bad = 0;
        for (int i = 0; i < NK && bad < 5; i++) {
            if (at_start[i] && !touched[i] && counts[i] != 1) {
                TEST_FAIL_("round %d (mode %d): key s:%05d present throughout reported %d times",
                           round, mode, i, counts[i]);
                bad++;
            }
            if (!at_start[i] && !touched[i] && counts[i] != 0) {
                TEST_FAIL_("round %d: key s:%05d never present but reported %d times", round, i,
                           counts[i]);
                bad++;
            }
        }
    }
    uint64_t n = 0;
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    CHECK_U64_EQ(n, live);
    CHECK_EQ(mnemo_count_matching(st, 0, NULL, 0, &n), MNEMO_OK);
    CHECK_U64_EQ(n, live);
    CHECK_EQ(mnemo_count_matching(st, 0, "s:0000?", 7, &n), MNEMO_OK);
    uint64_t want = 0;
    for (int i = 0; i < 10; i++) want += present[i];
    CHECK_U64_EQ(n, want);
    /* a cursor the store never returned */
    uint64_t next = 0;
    CHECK_EQ(mnemo_scan(st, 0, UINT64_MAX, NULL, 0, 10, churn_key, &(churn_ctx){counts, NK, 0},
                        &next),
             MNEMO_EINVAL);
    /* delete_matching on a big table */
    uint64_t deleted = 0;
    CHECK_EQ(mnemo_delete_matching(st, 0, "s:0*", 4, &deleted), MNEMO_OK);
    want = 0;
    for (int i = 0; i < 10000; i++) want += present[i];
    CHECK_U64_EQ(deleted, want);
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    CHECK_U64_EQ(n, live - want);
    mnemo_store_free(st);
}

/* Active expiry through mnemo_store_maintain: bounded by its budget, complete in the end, and
 * counted in the stats. */
static void test_maintain(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 2;
    cfg.shards = 8;
    mnemo_store *st = open_store(&cfg);
    char key[16];
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof key, "t%d", i);
        CHECK_EQ(set_str(st, (unsigned)(i % 2), key, "v", 100 + i % 50, NULL), MNEMO_OK);
        snprintf(key, sizeof key, "p%d", i);
        CHECK_EQ(set_str(st, (unsigned)(i % 2), key, "v", i % 3 ? 0 : 1000000, NULL), MNEMO_OK);
    }
    CHECK_EQ(mnemo_store_maintain(st, 1000), 0); /* nothing due yet */
    now += 10000;
    int64_t r = mnemo_store_maintain(st, 10);
    CHECK(r >= 0 && r <= 10);
    int64_t total = r;
    for (int i = 0; i < 10000 && total < 600; i++) {
        r = mnemo_store_maintain(st, 50);
        CHECK(r >= 0 && r <= 50);
        if (r < 0) break;
        total += r;
    }
    CHECK_EQ(total, 600);
    CHECK_EQ(mnemo_store_maintain(st, 1000), 0);
    mnemo_stats s;
    CHECK_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    CHECK_U64_EQ(s.expired, 600);
    CHECK_U64_EQ(s.keys, 600);
    CHECK_U64_EQ(s.keys_with_ttl, 200);
    uint64_t n = 0;
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 300);
    CHECK_EQ(mnemo_store_maintain(st, 0), 0);
    mnemo_store_free(st);
}

/* Values of every size round-trip, in particular around the storage layout's limits (entries
 * of 4-8 KiB fill or overflow a small segment; above 8 KiB they get their own), whether the
 * value is written at once, grown by appends or by setrange, in a fresh or a full shard. */
static void test_value_sizes_around_arena_limits(void)
{
    static const size_t sizes[] = {0,    1,    255,  256,  4000, 4050, 4080, 4095, 4096, 4097,
                                   4100, 5000, 6000, 8000, 8150, 8170, 8180, 8190, 8191, 8192,
                                   8193, 8200, 8300, 9000, 16384, 65535, 65536, 70000, 200000};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    size_t maxlen = 200000 + 64;
    unsigned char *buf = malloc(maxlen);
    ASSERT(buf != NULL);
    for (size_t i = 0; i < maxlen; i++) buf[i] = (unsigned char)(i * 131 + (i >> 8));
    for (int fill = 0; fill < 2; fill++) {
        int64_t now = T0;
        mnemo_config cfg;
        base_config(&cfg, &now);
        cfg.databases = 1;
        cfg.shards = 1; /* every key in one shard, one arena */
        mnemo_store *st = open_store(&cfg);
        if (fill) /* a shard that already holds data, so segments are sized up */
            for (int i = 0; i < 3000; i++) {
                char k[16];
                int n = snprintf(k, sizeof k, "f%d", i);
                CHECK_EQ(mnemo_set(st, 0, k, (size_t)n, buf, 100, NULL, NULL, NULL), MNEMO_OK);
            }
        char key[32];
        for (int i = 0; i < NS; i++) {
            /* whole values, twice (the second write replaces the first entry) */
            int n = snprintf(key, sizeof key, "v%zu", sizes[i]);
            for (int rep = 0; rep < 2; rep++) {
                int rc = mnemo_set(st, 0, key, (size_t)n, buf + rep, sizes[i], NULL, NULL, NULL);
                CHECK_EQ(rc, MNEMO_OK);
            }
            mnemo_value v = {0};
            CHECK_EQ(mnemo_get(st, 0, key, (size_t)n, &v), MNEMO_OK);
            if (v.len != sizes[i] || (sizes[i] && memcmp(v.data, buf + 1, sizes[i]) != 0))
                TEST_FAIL_("value of %zu bytes came back as %zu bytes or different", sizes[i],
                           v.len);
            mnemo_value_release(&v);
            /* with a TTL (a larger header) */
            n = snprintf(key, sizeof key, "t%zu", sizes[i]);
            CHECK_EQ(set_str(st, 0, "tmp", "x", 0, NULL), MNEMO_OK);
            mnemo_set_opts o = {0, 100000, 0, 0};
            CHECK_EQ(mnemo_set(st, 0, key, (size_t)n, buf, sizes[i], &o, NULL, NULL), MNEMO_OK);
            CHECK_EQ(mnemo_strlen(st, 0, key, (size_t)n, &v.len), MNEMO_OK);
            CHECK_EQ(v.len, sizes[i]);
        }
        /* one value grown by appends of 1000 bytes from 0 to 20000, then by setrange */
        size_t len = 0;
        for (size_t step = 0; step < 20; step++) {
            size_t nl = 0;
            CHECK_EQ(mnemo_append(st, 0, "grow", 4, buf + len, 1000, &nl), MNEMO_OK);
            len += 1000;
            CHECK_EQ(nl, len);
        }
        CHECK_EQ(mnemo_setrange(st, 0, "sr", 2, 4090, buf, 10, NULL), MNEMO_OK);
        CHECK_EQ(mnemo_setrange(st, 0, "sr", 2, 8180, buf, 20, NULL), MNEMO_OK);
        mnemo_value v = {0};
        CHECK_EQ(mnemo_get(st, 0, "grow", 4, &v), MNEMO_OK);
        CHECK(v.len == 20000 && memcmp(v.data, buf, 20000) == 0);
        mnemo_value_release(&v);
        CHECK_EQ(mnemo_get(st, 0, "sr", 2, &v), MNEMO_OK);
        CHECK_EQ(v.len, 8200);
        if (v.len == 8200) {
            CHECK_MEM_EQ((char *)v.data + 4090, 10, buf, 10);
            CHECK_MEM_EQ((char *)v.data + 8180, 20, buf, 20);
        }
        mnemo_value_release(&v);
        /* everything else is intact */
        for (int i = 0; i < NS; i++) {
            int n = snprintf(key, sizeof key, "v%zu", sizes[i]);
            CHECK_EQ(mnemo_get(st, 0, key, (size_t)n, &v), MNEMO_OK);
            CHECK(v.len == sizes[i] && (!sizes[i] || memcmp(v.data, buf + 1, sizes[i]) == 0));
            mnemo_value_release(&v);
        }
        mnemo_store_free(st);
    }
    free(buf);
}

/* Transactions: declared keys usable, others MNEMO_ETXN, one per thread, whole-store mode. */
static void test_transactions(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 2;
    cfg.shards = 8;
    cfg.max_key_size = 8;
    mnemo_store *st = open_store(&cfg);
    CHECK_EQ(set_str(st, 0, "a", "1", 0, NULL), MNEMO_OK);
    CHECK_EQ(set_str(st, 1, "b", "x", 0, NULL), MNEMO_OK);
    CHECK_EQ(set_str(st, 0, "other", "o", 0, NULL), MNEMO_OK);
    mnemo_txn_key tk[3] = {{0, "a", 1}, {1, "b", 1}, {0, "new", 3}};
    mnemo_txn *tx = NULL;
    ASSERT_EQ(mnemo_txn_begin(st, tk, 3, 0, &tx), MNEMO_OK);
    ASSERT(tx != NULL);
    int64_t r = 0;
    mnemo_value v = {0};
    CHECK_EQ(mnemo_incr(st, 0, "a", 1, 5, &r), MNEMO_OK);
    CHECK_EQ(r, 6);
    CHECK_EQ(mnemo_append(st, 1, "b", 1, "y", 1, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 1, "b", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "xy", 2);
    mnemo_value_release(&v);
    CHECK_EQ(set_str(st, 0, "new", "n", 0, NULL), MNEMO_OK);
    /* undeclared: another key, or a declared key in another database. Locks are per shard:
     * the header promises MNEMO_ETXN for a key whose shard is not held, and the ordinary
     * result for an undeclared key that shares a held shard. */
    int rc_ = mnemo_get(st, 0, "other", 5, &v);
    CHECK(rc_ == MNEMO_ETXN || rc_ == MNEMO_OK);
    mnemo_value_release(&v);
    rc_ = mnemo_exists(st, 0, "zz", 2);
    CHECK(rc_ == MNEMO_ETXN || rc_ == MNEMO_ENOTFOUND);
    rc_ = set_str(st, 0, "b", "v", 0, NULL);
    CHECK(rc_ == MNEMO_ETXN || rc_ == MNEMO_OK);
    rc_ = mnemo_del(st, 1, "a", 1);
    CHECK(rc_ == MNEMO_ETXN || rc_ == MNEMO_ENOTFOUND);
    mnemo_key mk[2] = {{"a", 1}, {"new", 3}};
    mnemo_value out[2];
    CHECK_EQ(mnemo_mget(st, 0, mk, 2, out), MNEMO_OK);
    CHECK_MEM_EQ(out[0].data, out[0].len, "6", 1);
    CHECK_MEM_EQ(out[1].data, out[1].len, "n", 1);
    mnemo_value_release(&out[0]);
    mnemo_value_release(&out[1]);
    mk[1].key = "other";
    mk[1].key_len = 5;
    memset(out, 0x5a, sizeof out);
    rc_ = mnemo_mget(st, 0, mk, 2, out);
    CHECK(rc_ == MNEMO_ETXN || rc_ == MNEMO_OK);
    if (rc_ == MNEMO_ETXN) {
        CHECK(out[0].data == NULL && out[1].data == NULL);
    } else {
        mnemo_value_release(&out[0]);
        mnemo_value_release(&out[1]);
    }
    /* one transaction per thread */
    mnemo_txn *tx2 = NULL;
    CHECK_EQ(mnemo_txn_begin(st, tk, 1, 0, &tx2), MNEMO_EINVAL);
    mnemo_txn_end(tx);
    /* after the end: everything is usable again, and the writes are there */
    CHECK_EQ(mnemo_exists(st, 0, "other", 5), MNEMO_OK);
    CHECK_EQ(mnemo_get(st, 0, "a", 1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "6", 1);
    mnemo_value_release(&v);
    CHECK_EQ(mnemo_exists(st, 0, "new", 3), MNEMO_OK);

    /* whole store: any call */
    ASSERT_EQ(mnemo_txn_begin(st, NULL, 0, 1, &tx), MNEMO_OK);
    CHECK_EQ(set_str(st, 1, "w", "1", 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "other", 5), MNEMO_OK);
    uint64_t n = 0;
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    /* a, other, new (and b, if the undeclared set above was wrongly let through) */
    CHECK_U64_EQ(n, 3 + (mnemo_exists(st, 0, "b", 1) == MNEMO_OK));
    CHECK_EQ(mnemo_count_matching(st, 1, "*", 1, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 2);
    mnemo_kv kv[2] = {{"m1", 2, "1", 1}, {"m2", 2, "2", 1}};
    CHECK_EQ(mnemo_mset(st, 1, kv, 2, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_rename(st, 1, "m1", 2, "m3", 2, 0), MNEMO_OK);
    mnemo_txn_end(tx);
    CHECK_EQ(mnemo_exists(st, 1, "m3", 2), MNEMO_OK);

    /* begin's argument errors */
    mnemo_txn_key bad_db = {2, "a", 1}, bad_key = {0, "123456789", 9};
    tx = NULL;
    CHECK_EQ(mnemo_txn_begin(st, &bad_db, 1, 0, &tx), MNEMO_EDB);
    CHECK_EQ(mnemo_txn_begin(st, &bad_key, 1, 0, &tx), MNEMO_ETOOBIG);
    /* and a transaction can be begun again after those */
    ASSERT_EQ(mnemo_txn_begin(st, tk, 1, 0, &tx), MNEMO_OK);
    mnemo_txn_end(tx);
    mnemo_store_free(st);
}

/* A NULL pointer with length 0 is the empty key (callers naturally pass NULL, 0). Last, as a
 * sanitizer build stops at the first undefined behaviour. */
static void test_null_empty_key(void)
{
    int64_t now = T0;
    mnemo_config cfg;
    base_config(&cfg, &now);
    cfg.databases = 1;
    mnemo_store *st = open_store(&cfg);
    CHECK_EQ(mnemo_set(st, 0, NULL, 0, NULL, 0, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "", 0), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, NULL, 0), MNEMO_OK);
    CHECK_EQ(mnemo_append(st, 0, NULL, 0, NULL, 0, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_del(st, 0, NULL, 0), MNEMO_OK);
    mnemo_store_free(st);
}

int main(void)
{
    init_keys();
    TEST_RUN(test_strerror);
    TEST_RUN(test_config_defaults_and_validation);
    TEST_RUN(test_closed_store);
    TEST_RUN(test_invalid_db);
    TEST_RUN(test_too_big);
    TEST_RUN(test_ttl_bounds);
    TEST_RUN(test_default_ttl);
    TEST_RUN(test_hooks);
    TEST_RUN(test_empty_and_binary);
    TEST_RUN(test_large_values);
    TEST_RUN(test_value_sizes_around_arena_limits);
    TEST_RUN(test_incr_edges);
    TEST_RUN(test_string_edits);
    TEST_RUN(test_versions_and_ttl_changes);
    TEST_RUN(test_index_shrinks);
    TEST_RUN(test_mset_batches);
    TEST_RUN(test_glob);
    TEST_RUN(test_scan_under_churn);
    TEST_RUN(test_maintain);
    TEST_RUN(test_transactions);
    TEST_RUN(test_model_random);
    TEST_RUN(test_null_empty_key);
    return TEST_REPORT();
}

/*
 * compress_bench — what transparent LZ4 compression saves and costs, through the public API.
 *
 * Corpora (deterministic, generated here; keys "doc:%012u", 16 bytes):
 *   json    JSON-like documents of 200 B to 4 KiB (uniform): an order record with a random
 *           hex id, a customer, a list of line items and free text drawn from a small
 *           vocabulary, cut at the chosen length. Each value is compressed on its own (no
 *           shared dictionary), as the store does.
 *   random  random bytes of the same lengths: nothing to gain, so the figures show what a
 *           failed attempt costs.
 *
 * For each corpus and each setting (compression off, on with the default 64-byte threshold),
 * R times on a fresh store: load N keys with mnemo_set (SET load: into an empty store, so it
 * includes the first touch of the memory, which is expensive on virtual machines and
 * proportional to the bytes stored), read them all in a random order with mnemo_get (GET,
 * copy-out) and mnemo_get_with (GET 0-copy; the callback reads one byte per cache line), then
 * write every key again with the same value in that order (SET overwrite: the memory is the
 * heap's already, so this row shows the CPU cost of compressing). Printed: the medians of ops/s and of CPU time per operation (the
 * thread's own CPU clock, less disturbed by other processes than wall time; and its user-mode
 * part, which leaves out the kernel's page-fault handling), the spread of the
 * repeats (of ops/s), and, from the last repetition, the bytes stored: stats.data_bytes (entries as
 * stored) and stats.memory_used per key, against the keys' and values' own bytes, and the
 * store's compression figures. One thread; 4 shards per database are enough for it.
 *
 * Usage: compress_bench [-n N] [-r R] [--corpus json|random|both] [--csv]
 *   -n N   keys (default 100000, or $MNEMO_BENCH_N)
 *   -r R   repetitions (default 3, or $MNEMO_BENCH_R)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mnemo.h"

#include "benchutil.h"

#define KEY_LEN 16
#define VMIN 200
#define VMAX 4096
#define MAX_REPS 15

/* User-mode CPU seconds of the calling thread: without the kernel's page-fault handling, which
 * dominates loading on virtual machines. */
static double user_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "compress_bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- corpora ------------------------------------------------------------------------------- */

typedef struct corpus {
    const char *name;
    size_t n;
    char *keys;     /* n * KEY_LEN */
    char *data;     /* values back to back */
    size_t *off;    /* value i at data + off[i], length off[i+1] - off[i] */
    uint32_t *perm; /* a random read order */
    uint64_t value_bytes;
} corpus;

typedef struct gen {
    char *p;
    size_t len, cap;
    uint64_t s;
} gen;

static uint64_t gen_rnd(gen *g)
{
    return g->s = splitmix64(g->s);
}

static void gen_put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gen_put(gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(g->p + g->len, g->cap - g->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        g->len += (size_t)k < g->cap - g->len ? (size_t)k : g->cap - g->len - 1;
}

static const char *const words[] = {
    "express", "shipping", "gift", "wrap", "fragile", "handle", "with", "care", "leave",
    "at", "door", "customer", "requested", "delivery", "before", "noon", "blue", "large",
    "cotton", "shirt", "organic", "coffee", "beans", "steel", "bottle", "wireless", "mouse",
    "notebook", "pencil", "charger", "cable", "backpack", "return", "exchange", "discount"};
static const char *const first[] = {"Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace",
                                    "Hugo", "Ines", "Jonas", "Kira", "Liam"};
static const char *const last[] = {"Schmidt", "Martin", "Rossi", "Garcia", "Novak", "Smith",
                                   "Dubois", "Jensen", "Kowalski", "Silva"};
static const char *const countries[] = {"DE", "FR", "IT", "ES", "PL", "GB", "NL", "SE"};
static const char *const statuses[] = {"pending", "paid", "shipped", "delivered", "returned"};

#define PICK(g, a) (a)[gen_rnd(g) % (sizeof(a) / sizeof((a)[0]))]

/* One JSON-like document of exactly `len` bytes into dst. */
static void json_doc(char *dst, size_t len, uint64_t seed)
{
    char buf[VMAX + 512];
    gen g = {buf, 0, sizeof buf, seed};
    const char *fn = PICK(&g, first), *ln = PICK(&g, last);
    gen_put(&g,
            "{\"id\":%" PRIu64 ",\"uuid\":\"%016" PRIx64 "%016" PRIx64 "\",\"type\":\"order\","
            "\"created_at\":\"2024-%02d-%02dT%02d:%02d:%02dZ\",\"status\":\"%s\","
            "\"customer\":{\"name\":\"%s %s\",\"email\":\"%s.%s@example.com\","
            "\"country\":\"%s\",\"vip\":%s},\"items\":[",
            seed % 100000000, gen_rnd(&g), gen_rnd(&g), (int)(1 + gen_rnd(&g) % 12),
            (int)(1 + gen_rnd(&g) % 28), (int)(gen_rnd(&g) % 24), (int)(gen_rnd(&g) % 60),
            (int)(gen_rnd(&g) % 60), PICK(&g, statuses), fn, ln, fn, ln, PICK(&g, countries),
            gen_rnd(&g) % 4 ? "false" : "true");
    for (int i = 0; g.len < len + 64 && g.len < sizeof buf - 400; i++) {
        gen_put(&g,
                "%s{\"sku\":\"SKU-%06u\",\"name\":\"%s %s\",\"qty\":%u,\"price\":%u.%02u,"
                "\"note\":\"%s %s %s\"}",
                i ? "," : "", (unsigned)(gen_rnd(&g) % 1000000), PICK(&g, words),
                PICK(&g, words), (unsigned)(1 + gen_rnd(&g) % 5),
                (unsigned)(gen_rnd(&g) % 200), (unsigned)(gen_rnd(&g) % 100), PICK(&g, words),
                PICK(&g, words), PICK(&g, words));
    }
    gen_put(&g, "],\"total\":%u.%02u}", (unsigned)(gen_rnd(&g) % 2000),
            (unsigned)(gen_rnd(&g) % 100));
    memcpy(dst, buf, len); /* cut at the chosen length: JSON-like, not always valid JSON */
}

static void corpus_build(corpus *c, const char *name, size_t n)
{
    c->name = name;
    c->n = n;
    c->keys = xmalloc(n * KEY_LEN);
    c->off = xmalloc((n + 1) * sizeof *c->off);
    c->perm = xmalloc(n * sizeof *c->perm);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        c->off[i] = total;
        total += VMIN + splitmix64(i ^ 0x5eed) % (VMAX - VMIN + 1);
    }
    c->off[n] = total;
    c->value_bytes = total;
    c->data = xmalloc(total);
    int json = strcmp(name, "json") == 0;
    for (size_t i = 0; i < n; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "doc:%012zu", i);
        memcpy(c->keys + i * KEY_LEN, tmp, KEY_LEN);
        size_t len = c->off[i + 1] - c->off[i];
        char *v = c->data + c->off[i];
        if (json) {
            json_doc(v, len, splitmix64(i));
        } else {
            uint64_t s = splitmix64(i + 0xabcdef);
            for (size_t j = 0; j < len; j++) {
                if (j % 8 == 0)
                    s = splitmix64(s);
                v[j] = (char)(s >> (8 * (j % 8)));
            }
        }
        c->perm[i] = (uint32_t)i;
    }
    uint64_t s = 12345;
    for (size_t i = n; i > 1; i--) {
        s = splitmix64(s);
        size_t j = (size_t)(s % i);
        uint32_t t = c->perm[i - 1];
        c->perm[i - 1] = c->perm[j];
        c->perm[j] = t;
    }
}

static void corpus_free(corpus *c)
{
    free(c->keys);
    free(c->data);
    free(c->off);
    free(c->perm);
}

/* ---- runs ---------------------------------------------------------------------------------- */

enum { ROW_SET, ROW_GET, ROW_GET_WITH, ROW_OVERWRITE, NROWS };
static const char *const row_names[NROWS] = {"SET (load)", "GET (copy-out)", "GET (0-copy)",
                                             "SET (overwrite)"};

typedef struct result {
    double ops[NROWS][MAX_REPS], cpu_ns[NROWS][MAX_REPS], user_ns[NROWS][MAX_REPS];
    mnemo_stats stats;
} result;

static void touch_item(void *ctx, const mnemo_item *it)
{
    uint64_t *sink = ctx;
    const unsigned char *p = it->value;
    uint64_t x = 0;
    for (size_t i = 0; i < it->value_len; i += 64)
        x += p[i];
    *sink += x + it->value_len;
}

static void run_once(const corpus *c, int compression, int rep, result *r)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = 1;
    cfg.shards = 4;
    cfg.background_thread = 0;
    cfg.compression = compression;
    mnemo_store *st;
    if (mnemo_store_open(&cfg, &st) != MNEMO_OK) {
        fprintf(stderr, "compress_bench: cannot open a store\n");
        exit(1);
    }
    uint64_t sink = 0;
    for (int row = 0; row < NROWS; row++) {
        double t0 = now_s(), c0 = thread_cpu_s(), u0 = user_s();
        for (size_t j = 0; j < c->n; j++) {
            size_t i = row == ROW_SET ? j : c->perm[j];
            const char *k = c->keys + i * KEY_LEN;
            int rc;
            if (row == ROW_SET || row == ROW_OVERWRITE) {
                rc = mnemo_set(st, 0, k, KEY_LEN, c->data + c->off[i],
                               c->off[i + 1] - c->off[i], NULL, NULL, NULL);
            } else if (row == ROW_GET) {
                mnemo_value v;
                rc = mnemo_get(st, 0, k, KEY_LEN, &v);
                sink += v.len + (rc == MNEMO_OK ? ((unsigned char *)v.data)[v.len / 2] : 0);
                mnemo_value_release(&v);
            } else {
                rc = mnemo_get_with(st, 0, k, KEY_LEN, touch_item, &sink);
            }
            if (rc != MNEMO_OK) {
                fprintf(stderr, "compress_bench: %s failed: %s\n", row_names[row],
                        mnemo_strerror(rc));
                exit(1);
            }
        }
        double wall = now_s() - t0, cpu = thread_cpu_s() - c0, user = user_s() - u0;
        r->ops[row][rep] = (double)c->n / wall;
        r->cpu_ns[row][rep] = cpu * 1e9 / (double)c->n;
        r->user_ns[row][rep] = user * 1e9 / (double)c->n;
    }
    if (sink == 42)
        fputc(' ', stderr); /* keeps the reads */
    mnemo_store_stats(st, &r->stats);
    mnemo_store_free(st);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *spread)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    *spread = m > 0 ? (s[n - 1] - s[0]) / m : 0;
    return m;
}

int main(int argc, char **argv)
{
    size_t n = getenv("MNEMO_BENCH_N") ? strtoull(getenv("MNEMO_BENCH_N"), NULL, 10) : 100000;
    int reps = getenv("MNEMO_BENCH_R") ? atoi(getenv("MNEMO_BENCH_R")) : 3;
    const char *which = "both";
    int csv = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
            which = argv[++i];
        else if (strcmp(argv[i], "--csv") == 0)
            csv = 1;
        else {
            fprintf(stderr, "usage: %s [-n N] [-r R] [--corpus json|random|both] [--csv]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "compress_bench: need N >= 1 and 1 <= R <= %d\n", MAX_REPS);
        return 2;
    }
    const char *names[2] = {"json", "random"};
    if (csv)
        printf("corpus,compression,row,ops_per_s,cpu_ns_per_op,user_ns_per_op,spread\n");
    else
        printf("mnemo compress_bench: %zu keys of %d B, values %d-%d B (uniform), one thread, "
               "median of %d run(s)\n",
               n, KEY_LEN, VMIN, VMAX, reps);
    for (int ci = 0; ci < 2; ci++) {
        if (strcmp(which, "both") != 0 && strcmp(which, names[ci]) != 0)
            continue;
        corpus c;
        corpus_build(&c, names[ci], n);
        result res[2];
        memset(res, 0, sizeof res);
        for (int rep = 0; rep < reps; rep++)
            for (int comp = 0; comp < 2; comp++) /* interleaved: drift hits both alike */
                run_once(&c, comp, rep, &res[comp]);
        if (!csv) {
            printf("\ncorpus %s: %.1f MB of values, %.0f B per value on average\n", c.name,
                   (double)c.value_bytes / 1e6, (double)c.value_bytes / (double)n);
            printf("  %-16s %-12s %10s %10s %10s %7s\n", "operation", "compression", "ops/s",
                   "cpu ns/op", "user ns/op", "spread");
        }
        for (int row = 0; row < NROWS; row++) {
            for (int comp = 0; comp < 2; comp++) {
                double sp, sp2;
                double ops = median(res[comp].ops[row], reps, &sp);
                double cpu = median(res[comp].cpu_ns[row], reps, &sp2);
                double user = median(res[comp].user_ns[row], reps, &sp2);
                if (csv)
                    printf("%s,%s,%s,%.0f,%.0f,%.0f,%.2f\n", c.name, comp ? "on" : "off",
                           row_names[row], ops, cpu, user, sp);
                else
                    printf("  %-16s %-12s %10.0f %10.0f %10.0f %6.0f%%\n", row_names[row],
                           comp ? "on (64 B)" : "off", ops, cpu, user, 100 * sp);
            }
        }
        if (!csv) {
            printf("  stored (last run)          off            on\n");
            const mnemo_stats *a = &res[0].stats, *b = &res[1].stats;
            printf("  data_bytes / key    %12.1f  %12.1f   (key + value: %.1f B)\n",
                   (double)a->data_bytes / (double)n, (double)b->data_bytes / (double)n,
                   (double)(c.value_bytes + n * KEY_LEN) / (double)n);
            printf("  memory_used / key   %12.1f  %12.1f   (on/off: %.3f)\n",
                   (double)a->memory_used / (double)n, (double)b->memory_used / (double)n,
                   (double)b->memory_used / (double)a->memory_used);
            printf("  compressed values   %12" PRIu64 "  %12" PRIu64 "   (ratio of those: %.2f, "
                   "%.1f MB -> %.1f MB)\n",
                   a->compressed_values, b->compressed_values, b->compression_ratio,
                   (double)b->compressed_original_bytes / 1e6,
                   (double)b->compressed_bytes / 1e6);
        }
        corpus_free(&c);
    }
    return 0;
}

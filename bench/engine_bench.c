/*
 * engine_bench — throughput and memory of the libmnemo engine, through the public API only.
 *
 * Data set (the project's reference workload, shared with bench/mem_compare.sh and
 * bench/dataset.py, which must generate exactly the same bytes):
 *   key i   = "key:%012u" % i                         16 bytes, i in [0, N)
 *   value i = "%016x%016x" % (h, splitmix64(h)),      32 bytes, h = splitmix64(i)
 *   miss i  = "key:%012u" % (N + i)                   16 bytes, never stored
 * Every key list is visited in a random order fixed by a precomputed permutation, so that the
 * timed loops measure the store and not key formatting or the hardware prefetcher.
 *
 * Rows (each with 1 thread and with 2 threads on one store; the threads split the key range or
 * the op count, so every row does N operations in total, N keys for the batch rows):
 *   SET (load)               mnemo_set of every key into an empty store
 *   GET hit, get_with        zero-copy read of every key (callback touches the value)
 *   GET hit, get (copy)      copy-out read of every key, value released
 *   GET miss                 mnemo_get_with on N absent keys
 *   MGET x100, mget_with     N/100 batches of 100 present keys, zero copy; keys/s
 *   MGET x100, mget (copy)   the same with mnemo_mget; keys/s
 * Each row is repeated R times (each repetition loads a fresh store) and the median is printed,
 * with the spread of the repeats, the worker threads' CPU time per operation and the CPU share (CPU time
 * over threads x wall time): on a shared machine, a share well below 1 marks a row in which the
 * threads waited for locks or for CPUs held by other processes.
 *
 * Memory is measured once, on the first load of the run, before any store was freed in
 * this process (so freed-but-retained heap cannot hide growth): RSS before mnemo_store_open and
 * after loading, both after every data-set array was allocated and touched, next to the store's
 * own accounting (mnemo_stats) and the growth of the free space glibc's malloc holds, which is
 * RSS that no live allocation explains.
 *
 * Usage: engine_bench [-n N] [-r R] [-t THREADS_LIST] [--only OP] [--mem-only] [--csv]
 *   -n N         keys (default 1000000, or $MNEMO_BENCH_N)
 *   -r R         repetitions per row (default 3, or $MNEMO_BENCH_R)
 *   -t LIST      comma-separated thread counts (default "1,2", or $MNEMO_BENCH_THREADS)
 *   --only OP    load, then run only OP (set|get_with|get|miss|mget_with|mget); for callgrind,
 *                whose --toggle-collect can target the worker functions run_<op>
 *   --mem-only   load once with one thread and print the memory figures only
 *   --csv        machine-readable output
 */
#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mnemo.h"

#include "benchutil.h"

#define KEY_LEN 16
#define VAL_LEN 32
#define MGET_BATCH 100
#define MAX_THREADS 64
#define NOINLINE __attribute__((noinline))

typedef enum op {
    OP_SET,
    OP_GET_WITH,
    OP_GET,
    OP_MISS,
    OP_MGET_WITH,
    OP_MGET,
    OP_COUNT
} op;

static const char *const op_names[OP_COUNT] = {"set", "get_with", "get", "miss", "mget_with",
                                               "mget"};
static const char *const op_labels[OP_COUNT] = {
    "SET (load, empty store)", "GET hit, get_with (0-copy)", "GET hit, get (copy-out)",
    "GET miss (get_with)",     "MGET x100, mget_with, keys", "MGET x100, mget, keys"};

/* The data set and the run's parameters: read-only once the timed phases start. */
typedef struct dataset {
    size_t n;
    char *keys;         /* n * KEY_LEN, key i at i * KEY_LEN */
    char *values;       /* n * VAL_LEN */
    char *miss_keys;    /* n * KEY_LEN */
    uint32_t *perm;     /* a random permutation of [0, n) */
    mnemo_key *hit_seq; /* keys[perm[j]], the order of every hit row */
    mnemo_key *miss_seq;
} dataset;

typedef struct worker {
    pthread_t tid;
    const dataset *ds;
    mnemo_store *store;
    pthread_barrier_t *start;
    op what;
    size_t begin, end; /* range of sequence positions this thread covers */
    uint64_t sink;     /* bytes seen, so that reads cannot be optimised away */
    int failures;
    double t_start, t_end; /* CLOCK_MONOTONIC around run_op */
    double cpu;            /* this thread's CPU seconds in run_op */
} worker;

/* Bytes that malloc holds free (freed by the program, still part of the heap and, once touched,
 * of RSS): what separates an exact accounting of live allocations from RSS. */
static long heap_free_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (long)mi.fordblks;
#else
    return -1;
#endif
}

static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "engine_bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void fmt_key(char *dst, uint64_t i)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "key:%012" PRIu64, i);
    memcpy(dst, tmp, KEY_LEN);
}

static void dataset_build(dataset *ds, size_t n, uint64_t seed)
{
    char tmp[40];
    ds->n = n;
    ds->keys = xmalloc(n * KEY_LEN);
    ds->values = xmalloc(n * VAL_LEN);
    ds->miss_keys = xmalloc(n * KEY_LEN);
    ds->perm = xmalloc(n * sizeof *ds->perm);
    ds->hit_seq = xmalloc(n * sizeof *ds->hit_seq);
    ds->miss_seq = xmalloc(n * sizeof *ds->miss_seq);
    for (size_t i = 0; i < n; i++) {
        fmt_key(ds->keys + i * KEY_LEN, i);
        fmt_key(ds->miss_keys + i * KEY_LEN, n + i);
        uint64_t h = splitmix64(i);
        snprintf(tmp, sizeof tmp, "%016" PRIx64 "%016" PRIx64, h, splitmix64(h));
        memcpy(ds->values + i * VAL_LEN, tmp, VAL_LEN);
        ds->perm[i] = (uint32_t)i;
    }
    uint64_t s = seed;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        s = splitmix64(s);
        size_t j = (size_t)(s % i);
        uint32_t t = ds->perm[i - 1];
        ds->perm[i - 1] = ds->perm[j];
        ds->perm[j] = t;
    }
    for (size_t j = 0; j < n; j++) {
        ds->hit_seq[j] = (mnemo_key){ds->keys + (size_t)ds->perm[j] * KEY_LEN, KEY_LEN};
        /* a different order for misses: reversed permutation */
        ds->miss_seq[j] =
            (mnemo_key){ds->miss_keys + (size_t)ds->perm[n - 1 - j] * KEY_LEN, KEY_LEN};
    }
}

static void dataset_free(dataset *ds)
{
    free(ds->keys);
    free(ds->values);
    free(ds->miss_keys);
    free(ds->perm);
    free(ds->hit_seq);
    free(ds->miss_seq);
}

/* ---- the timed loops: one function per row, not inlined, so callgrind can isolate them ---- */

static void read_cb(void *ctx, const mnemo_item *item)
{
    worker *w = ctx;
    const unsigned char *v = item->value;
    w->sink += item->value_len + (item->value_len ? v[0] + v[item->value_len - 1] : 0);
}

static void mread_cb(void *ctx, size_t index, const mnemo_item *item)
{
    worker *w = ctx;
    if (!item) {
        w->failures++;
        return;
    }
    const unsigned char *v = item->value;
    w->sink += index + item->value_len + (item->value_len ? v[0] : 0);
}

NOINLINE static void run_set(worker *w)
{
    const dataset *ds = w->ds;
    for (size_t j = w->begin; j < w->end; j++) {
        size_t i = ds->perm[j];
        int rc = mnemo_set(w->store, 0, ds->keys + i * KEY_LEN, KEY_LEN,
                           ds->values + i * VAL_LEN, VAL_LEN, NULL, NULL, NULL);
        if (rc != MNEMO_OK)
            w->failures++;
    }
}

NOINLINE static void run_get_with(worker *w)
{
    const mnemo_key *seq = w->ds->hit_seq;
    for (size_t j = w->begin; j < w->end; j++)
        if (mnemo_get_with(w->store, 0, seq[j].key, KEY_LEN, read_cb, w) != MNEMO_OK)
            w->failures++;
}

NOINLINE static void run_get(worker *w)
{
    const mnemo_key *seq = w->ds->hit_seq;
    for (size_t j = w->begin; j < w->end; j++) {
        mnemo_value v;
        if (mnemo_get(w->store, 0, seq[j].key, KEY_LEN, &v) != MNEMO_OK) {
            w->failures++;
            continue;
        }
        w->sink += v.len + ((const unsigned char *)v.data)[0];
        mnemo_value_release(&v);
    }
}

NOINLINE static void run_miss(worker *w)
{
    const mnemo_key *seq = w->ds->miss_seq;
    for (size_t j = w->begin; j < w->end; j++)
        if (mnemo_get_with(w->store, 0, seq[j].key, KEY_LEN, read_cb, w) != MNEMO_ENOTFOUND)
            w->failures++;
}

NOINLINE static void run_mget_with(worker *w)
{
    const mnemo_key *seq = w->ds->hit_seq;
    for (size_t j = w->begin; j < w->end; j += MGET_BATCH) {
        size_t n = w->end - j < MGET_BATCH ? w->end - j : MGET_BATCH;
        if (mnemo_mget_with(w->store, 0, seq + j, n, mread_cb, w) != MNEMO_OK)
            w->failures++;
    }
}

NOINLINE static void run_mget(worker *w)
{
    const mnemo_key *seq = w->ds->hit_seq;
    mnemo_value out[MGET_BATCH];
    for (size_t j = w->begin; j < w->end; j += MGET_BATCH) {
        size_t n = w->end - j < MGET_BATCH ? w->end - j : MGET_BATCH;
        if (mnemo_mget(w->store, 0, seq + j, n, out) != MNEMO_OK) {
            w->failures++;
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            if (!out[k].data)
                w->failures++;
            w->sink += out[k].len;
            mnemo_value_release(&out[k]);
        }
    }
}

static void run_op(worker *w)
{
    switch (w->what) {
    case OP_SET: run_set(w); break;
    case OP_GET_WITH: run_get_with(w); break;
    case OP_GET: run_get(w); break;
    case OP_MISS: run_miss(w); break;
    case OP_MGET_WITH: run_mget_with(w); break;
    case OP_MGET: run_mget(w); break;
    default: break;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    /* Each worker times itself: the main thread may not get a CPU while the workers run. */
    double c0 = thread_cpu_s();
    w->t_start = now_s();
    run_op(w);
    w->t_end = now_s();
    w->cpu = thread_cpu_s() - c0;
    return NULL;
}

static volatile uint64_t g_sink; /* keeps the readers' results alive; written once per phase */

/* Runs `what` on `store` with `threads` threads over the whole sequence; returns wall seconds,
 * from the first worker's start to the last one's end. *cpu_secs receives the CPU time the
 * workers used: compared with threads x wall time it shows whether they ran all along or
 * waited (for locks, or for CPUs that other processes held); per op it is a cost that a busy
 * machine distorts less than wall time. */
static double timed_phase(const dataset *ds, mnemo_store *store, op what, int threads,
                          double *cpu_secs)
{
    worker ws[MAX_THREADS];
    pthread_barrier_t start;
    size_t n = ds->n, chunk = (n + (size_t)threads - 1) / (size_t)threads;
    /* batch rows: keep each thread's range a multiple of the batch size */
    if (what == OP_MGET || what == OP_MGET_WITH)
        chunk = (chunk + MGET_BATCH - 1) / MGET_BATCH * MGET_BATCH;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        worker *w = &ws[t];
        memset(w, 0, sizeof *w);
        w->ds = ds;
        w->store = store;
        w->start = &start;
        w->what = what;
        w->begin = (size_t)t * chunk < n ? (size_t)t * chunk : n;
        w->end = w->begin + chunk < n ? w->begin + chunk : n;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            fprintf(stderr, "engine_bench: pthread_create failed\n");
            exit(1);
        }
    }
    int failures = 0;
    uint64_t sink = 0;
    double t0 = 0, t1 = 0, cpu = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ws[t].tid, NULL);
        failures += ws[t].failures;
        sink += ws[t].sink;
        cpu += ws[t].cpu;
        if (t == 0 || ws[t].t_start < t0)
            t0 = ws[t].t_start;
        if (t == 0 || ws[t].t_end > t1)
            t1 = ws[t].t_end;
    }
    double dt = t1 - t0;
    *cpu_secs = cpu;
    pthread_barrier_destroy(&start);
    g_sink = sink;
    if (failures) {
        fprintf(stderr, "engine_bench: %s with %d thread(s): %d unexpected results\n",
                op_names[what], threads, failures);
        exit(1);
    }
    return dt;
}

static mnemo_store *store_open_or_die(void)
{
    mnemo_store *store = NULL;
    int rc = mnemo_store_open(NULL, &store);
    if (rc != MNEMO_OK) {
        fprintf(stderr, "engine_bench: mnemo_store_open: %s\n", mnemo_strerror(rc));
        exit(1);
    }
    return store;
}

/* Checks that the loaded store holds the data set (not timed). */
static void verify_loaded(const dataset *ds, mnemo_store *store)
{
    uint64_t count = 0;
    int rc = mnemo_dbsize(store, 0, &count);
    if (rc != MNEMO_OK || count != ds->n) {
        fprintf(stderr, "engine_bench: dbsize = %" PRIu64 " (%s), expected %zu\n", count,
                mnemo_strerror(rc), ds->n);
        exit(1);
    }
    for (size_t k = 0; k < 1000 && k < ds->n; k++) {
        size_t i = ds->perm[k];
        mnemo_value v;
        rc = mnemo_get(store, 0, ds->keys + i * KEY_LEN, KEY_LEN, &v);
        if (rc != MNEMO_OK || v.len != VAL_LEN || memcmp(v.data, ds->values + i * VAL_LEN, VAL_LEN)) {
            fprintf(stderr, "engine_bench: key %zu reads back wrong (%s)\n", i,
                    mnemo_strerror(rc));
            exit(1);
        }
        mnemo_value_release(&v);
    }
}

typedef struct mem_figures {
    long rss_before, rss_after;
    int threads; /* of the load it was measured on */
    long heap_free_before, heap_free_after; /* glibc: free bytes malloc holds; -1 elsewhere */
    mnemo_stats stats;
    int valid;
} mem_figures;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_mem(const mem_figures *m, size_t n, int csv)
{
    double growth = (double)(m->rss_after - m->rss_before);
    double used = (double)m->stats.memory_used;
    if (csv) {
        printf("mem,rss_before_bytes,%ld\n", m->rss_before);
        printf("mem,rss_after_bytes,%ld\n", m->rss_after);
        printf("mem,rss_bytes_per_key,%.1f\n", growth / (double)n);
        printf("mem,memory_used_bytes_per_key,%.1f\n", used / (double)n);
        printf("mem,data_bytes_per_key,%.1f\n", (double)m->stats.data_bytes / (double)n);
        printf("mem,memory_used_over_rss_growth,%.3f\n", growth > 0 ? used / growth : 0.0);
        if (m->heap_free_after >= 0)
            printf("mem,heap_free_growth_bytes_per_key,%.1f\n",
                   (double)(m->heap_free_after - m->heap_free_before) / (double)n);
        return;
    }
    printf("\nmemory after loading %zu keys (first load of the process, %d thread%s)\n", n,
           m->threads, m->threads == 1 ? "" : "s");
    printf("  RSS growth per key             %8.1f B   (%ld -> %ld bytes)\n", growth / (double)n,
           m->rss_before, m->rss_after);
    printf("  stats.memory_used per key      %8.1f B\n", used / (double)n);
    printf("  stats.data_bytes per key       %8.1f B   (key + value = %d B)\n",
           (double)m->stats.data_bytes / (double)n, KEY_LEN + VAL_LEN);
    printf("  memory_used / RSS growth       %8.3f\n", growth > 0 ? used / growth : 0.0);
    if (m->heap_free_after >= 0)
        printf("  malloc free space growth/key   %8.1f B   (freed but held by the heap)\n",
               (double)(m->heap_free_after - m->heap_free_before) / (double)n);
}

static void usage(void)
{
    fprintf(stderr, "usage: engine_bench [-n KEYS] [-r REPEATS] [-t 1,2] [--only OP] "
                    "[--mem-only] [--csv]\n  OP: set get_with get miss mget_with mget\n");
    exit(2);
}

static size_t parse_size(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0) {
        fprintf(stderr, "engine_bench: bad %s '%s'\n", what, s);
        exit(2);
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int repeats = 3, csv = 0, mem_only = 0, only = -1;
    int thread_list[8], nthreads = 0;
    const char *tl = "1,2";
    if (getenv("MNEMO_BENCH_N"))
        n = parse_size(getenv("MNEMO_BENCH_N"), "MNEMO_BENCH_N");
    if (getenv("MNEMO_BENCH_R"))
        repeats = (int)parse_size(getenv("MNEMO_BENCH_R"), "MNEMO_BENCH_R");
    if (getenv("MNEMO_BENCH_THREADS"))
        tl = getenv("MNEMO_BENCH_THREADS");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = parse_size(argv[++i], "key count");
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            repeats = (int)parse_size(argv[++i], "repeat count");
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            tl = argv[++i];
        else if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else if (!strcmp(argv[i], "--mem-only"))
            mem_only = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            const char *name = argv[++i];
            for (int o = 0; o < OP_COUNT; o++)
                if (!strcmp(name, op_names[o]))
                    only = o;
            if (only < 0)
                usage();
        } else
            usage();
    }
    for (const char *p = tl; *p && nthreads < 8;) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > MAX_THREADS) {
            fprintf(stderr, "engine_bench: bad thread list '%s'\n", tl);
            return 2;
        }
        thread_list[nthreads++] = (int)t;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            usage();
    }
    if (n > UINT32_MAX / 2) {
        fprintf(stderr, "engine_bench: at most %u keys\n", UINT32_MAX / 2);
        return 2;
    }
    if (mem_only) {
        nthreads = 1;
        thread_list[0] = 1;
        repeats = 1;
        only = OP_SET;
    }

    dataset ds;
    dataset_build(&ds, n, 0x6d6e656d6f ^ n);

    int ops_run[OP_COUNT] = {0};
    for (int o = 0; o < OP_COUNT; o++)
        ops_run[o] = only < 0 || o == OP_SET || o == only;

    size_t nsamples = (size_t)repeats * OP_COUNT * (size_t)nthreads;
    double *samples = xmalloc(sizeof(double) * nsamples);
    double *cpu_samples = xmalloc(sizeof(double) * nsamples);
    double *shares = xmalloc(sizeof(double) * (size_t)repeats);
#define IDX(ti, o, r) (((size_t)(ti) * OP_COUNT + (size_t)(o)) * (size_t)repeats + (size_t)(r))
#define SAMPLE(ti, o, r) samples[IDX(ti, o, r)]
    mem_figures mem = {0};

    for (int ti = 0; ti < nthreads; ti++) {
        int threads = thread_list[ti];
        for (int r = 0; r < repeats; r++) {
            int measure_mem = !mem.valid;
            if (measure_mem) {
                mem.heap_free_before = heap_free_bytes();
                mem.rss_before = rss_bytes();
            }
            mnemo_store *store = store_open_or_die();
            SAMPLE(ti, OP_SET, r) =
                timed_phase(&ds, store, OP_SET, threads, &cpu_samples[IDX(ti, OP_SET, r)]);
            if (measure_mem) {
                mem.rss_after = rss_bytes();
                mem.heap_free_after = heap_free_bytes();
                mnemo_store_stats(store, &mem.stats);
                mem.threads = threads;
                mem.valid = 1;
            }
            verify_loaded(&ds, store);
            if (!mem_only)
                for (int o = OP_SET + 1; o < OP_COUNT; o++)
                    if (ops_run[o])
                        SAMPLE(ti, o, r) = timed_phase(&ds, store, (op)o, threads,
                                                       &cpu_samples[IDX(ti, o, r)]);
            mnemo_store_free(store);
            if (!csv && !mem_only && isatty(STDERR_FILENO))
                fprintf(stderr, "  [threads=%d repeat %d/%d done]\n", threads, r + 1, repeats);
        }
    }

    if (!mem_only) {
        if (csv)
            printf("op,threads,keys,repeats,median_ops_per_s,min_ops_per_s,max_ops_per_s,"
                   "median_ns_per_op_per_thread,median_cpu_ns_per_op,median_cpu_share\n");
        else {
            printf("mnemo engine_bench: %zu keys of %d B, values of %d B, random order, "
                   "median of %d run(s)\n\n",
                   n, KEY_LEN, VAL_LEN, repeats);
            printf("%-28s %7s %11s %12s %10s %7s %5s\n", "operation", "threads", "ops/s",
                   "ns/op/thread", "cpu ns/op", "spread", "cpu");
        }
        for (int o = 0; o < OP_COUNT; o++) {
            if (!ops_run[o])
                continue;
            for (int ti = 0; ti < nthreads; ti++) {
                int th = thread_list[ti];
                double *v = &SAMPLE(ti, o, 0);
                for (int r = 0; r < repeats; r++)
                    shares[r] = cpu_samples[IDX(ti, o, r)] / (v[r] * th);
                double cpu = median(&cpu_samples[IDX(ti, o, 0)], repeats);
                double cpu_share = median(shares, repeats);
                double secs = median(v, repeats); /* sorts v: v[0] fastest, v[R-1] slowest */
                double ops = (double)n / secs, best = (double)n / v[0];
                double worst = (double)n / v[repeats - 1];
                double ns = secs * 1e9 * th / (double)n, cpu_ns = cpu * 1e9 / (double)n;
                if (csv)
                    printf("%s,%d,%zu,%d,%.0f,%.0f,%.0f,%.1f,%.1f,%.3f\n", op_names[o], th, n,
                           repeats, ops, worst, best, ns, cpu_ns, cpu_share);
                else
                    printf("%-28s %7d %11.0f %12.1f %10.1f %6.0f%% %4.0f%%\n", op_labels[o], th,
                           ops, ns, cpu_ns, 100 * (best - worst) / ops, 100 * cpu_share);
            }
        }
        if (!csv)
            printf("  ops/s, ns/op/thread: wall clock; cpu ns/op: CPU time of the threads per op (all "
                   "threads);\n  spread: (fastest - slowest run) / median; cpu: CPU time / "
                   "(threads x wall time)\n");
    }
    if (mem.valid)
        print_mem(&mem, n, csv);
    free(samples);
    free(cpu_samples);
    free(shares);
    dataset_free(&ds);
    return 0;
}

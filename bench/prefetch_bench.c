/*
 * prefetch_bench — what mnemo_prefetch_keys() buys a caller that holds several keys at once
 * (the server, before a pipelined batch: src/server/conn.c, parse_ahead).
 *
 * Loads N keys "key:%012u" with 32-byte values, then looks up M random existing keys with
 * mnemo_exists, in groups of G (16, redis-benchmark's -P 16): once plainly, once with
 * mnemo_prefetch_keys on each group first. A lookup on a large store is a chain of dependent
 * cache misses (shard, index control bytes, index slot, arena segment table, entry); the hint
 * starts every key's chain before the first lookup needs its end. Prints ns per lookup
 * (wall clock and the thread's CPU clock), median of R alternating repeats, and the ratio.
 *
 * Usage: prefetch_bench [-n N] [-m M] [-g G] [-r R]   (defaults 1000000 4000000 16 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "mnemo.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    unsigned n = 1000000, m = 4000000, g = 16, r = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned v = (unsigned)strtoul(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "-n") == 0)
            n = v;
        else if (strcmp(argv[i], "-m") == 0)
            m = v;
        else if (strcmp(argv[i], "-g") == 0)
            g = v;
        else if (strcmp(argv[i], "-r") == 0)
            r = v;
    }
    if (!n || !m || !g || g > 32 || r > 15) {
        fprintf(stderr, "usage: prefetch_bench [-n N] [-m M] [-g 1..32] [-r 1..15]\n");
        return 2;
    }
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.background_thread = 0;
    mnemo_store *st;
    if (mnemo_store_open(&cfg, &st) != MNEMO_OK)
        return 1;
    char val[32];
    memset(val, 'v', sizeof(val));
    char (*keys)[17] = malloc((size_t)m * sizeof(*keys));
    if (!keys)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        char k[17];
        snprintf(k, sizeof(k), "key:%012u", i);
        if (mnemo_set(st, 0, k, 16, val, sizeof(val), NULL, NULL, NULL) != MNEMO_OK)
            return 1;
    }
    uint64_t seed = 42;
    for (unsigned i = 0; i < m; i++) {
        seed = splitmix64(seed);
        snprintf(keys[i], sizeof(keys[i]), "key:%012u", (unsigned)(seed % n));
    }
    double wall[2][15], cpu[2][15];
    for (unsigned rep = 0; rep < r; rep++) {
        for (int hint = 0; hint < 2; hint++) {
            double w0 = now_s(), c0 = thread_cpu_s();
            unsigned hits = 0;
            for (unsigned i = 0; i < m; i += g) {
                unsigned k = m - i < g ? m - i : g;
                if (hint) {
                    const void *kp[32];
                    size_t kl[32];
                    for (unsigned j = 0; j < k; j++) {
                        kp[j] = keys[i + j];
                        kl[j] = 16;
                    }
                    mnemo_prefetch_keys(st, 0, kp, kl, k);
                }
                for (unsigned j = 0; j < k; j++)
                    hits += mnemo_exists(st, 0, keys[i + j], 16) == MNEMO_OK;
            }
            wall[hint][rep] = (now_s() - w0) * 1e9 / m;
            cpu[hint][rep] = (thread_cpu_s() - c0) * 1e9 / m;
            if (hits != m)
                fprintf(stderr, "lookups that missed: %u\n", m - hits);
        }
    }
    for (int hint = 0; hint < 2; hint++) {
        qsort(wall[hint], r, sizeof(double), cmp_double);
        qsort(cpu[hint], r, sizeof(double), cmp_double);
    }
    printf("prefetch_bench: %u keys, %u lookups in groups of %u, median of %u\n", n, m, g, r);
    printf("  plain                    %7.1f ns/lookup wall  %7.1f ns CPU\n", wall[0][r / 2],
           cpu[0][r / 2]);
    printf("  mnemo_prefetch_keys      %7.1f ns/lookup wall  %7.1f ns CPU\n", wall[1][r / 2],
           cpu[1][r / 2]);
    printf("  ratio (hinted / plain)   %7.2f                  %7.2f\n",
           wall[1][r / 2] / wall[0][r / 2], cpu[1][r / 2] / cpu[0][r / 2]);
    free(keys);
    mnemo_store_free(st);
    return 0;
}

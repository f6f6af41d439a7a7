/*
 * policy_sim.c — hit ratio of each eviction policy in the library itself (no server, no
 * network): a key trace drawn from Zipf(theta) over N keys, optionally mixed with one-time keys
 * (a scan: each such request names a key never seen before), replayed as get-then-set-on-miss
 * against a store with a memory ceiling. For choosing and tuning policies quickly; the
 * side-by-side comparison with Redis is bench/hitratio (over the network).
 *
 *   policy_sim [--mb 64] [--keys 4000000] [--requests 10000000] [--theta 0.99]
 *              [--scan 0.0] [--high 90] [--low 80] [--value 32] [--seed 1] [policy ...]
 *
 * Prints, per policy: hit ratio over the whole run and over its second half (steady state),
 * keys held and memory used at the end, their averages over the second half (sampled every
 * 10,000 requests; memory as a share of the ceiling), and "exact lfu": the steady hit ratio of
 * an exact LFU cache holding that average number of keys on the same trace (exact_lfu.h: the
 * best any cache of that many keys can do on such a trace, so the gap to it is what the policy
 * loses, and the rest is the key count). Default policies: allkeys-lru allkeys-lfu
 * allkeys-s3fifo allkeys-random.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exact_lfu.h"
#include "mnemo.h"

typedef struct zipf {
    uint64_t n;
    double theta, alpha, zetan, eta, half_pow;
} zipf;

/* Gray et al., "Quickly generating billion-record synthetic databases" (SIGMOD 1994), as YCSB
 * uses it: zeta(n) summed once, then each draw is O(1). */
static void zipf_init(zipf *z, uint64_t n, double theta)
{
    double zeta2 = 1.0 + pow(0.5, theta);
    z->n = n;
    z->theta = theta;
    z->zetan = 0;
    for (uint64_t i = 1; i <= n; i++)
        z->zetan += 1.0 / pow((double)i, theta);
    z->alpha = 1.0 / (1.0 - theta);
    z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);
    z->half_pow = 1.0 + pow(0.5, theta);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* A rank in [0, n): 0 the most popular. */
static uint64_t zipf_next(const zipf *z)
{
    double u = urand(), uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < z->half_pow)
        return 1;
    uint64_t r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
    return r < z->n ? r : z->n - 1;
}

/* The key a rank names: scattered so that popularity is not correlated with key order. */
static uint64_t scatter(uint64_t rank, uint64_t nkeys)
{
    return ((rank * 0x9e3779b97f4a7c15ull) ^ (rank >> 7)) % nkeys;
}

int main(int argc, char **argv)
{
    uint64_t mb = 64, nkeys = 4000000, requests = 10000000, seed = 1;
    double theta = 0.99, scan = 0;
    unsigned high = 90, low = 80;
    size_t vlen = 32;
    int policies[MNEMO_POLICY_COUNT_], np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--mb"))
            mb = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--keys"))
            nkeys = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--requests"))
            requests = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--theta"))
            theta = atof(v), i++;
        else if (!strcmp(a, "--scan"))
            scan = atof(v), i++;
        else if (!strcmp(a, "--high"))
            high = (unsigned)atoi(v), i++;
        else if (!strcmp(a, "--low"))
            low = (unsigned)atoi(v), i++;
        else if (!strcmp(a, "--value"))
            vlen = (size_t)atoi(v), i++;
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10), i++;
        else if (mnemo_policy_parse(a, strlen(a)) >= 0 && np < MNEMO_POLICY_COUNT_)
            policies[np++] = mnemo_policy_parse(a, strlen(a));
        else {
            fprintf(stderr, "usage: see the comment at the top of bench/policy_sim.c\n");
            return 2;
        }
    }
    if (!np) {
        policies[np++] = MNEMO_POLICY_ALLKEYS_LRU;
        policies[np++] = MNEMO_POLICY_ALLKEYS_LFU;
        policies[np++] = MNEMO_POLICY_ALLKEYS_S3FIFO;
        policies[np++] = MNEMO_POLICY_ALLKEYS_RANDOM;
    }
    if (theta <= 0 || theta >= 1 || nkeys < 2 || vlen > 4096) {
        fprintf(stderr, "policy_sim: theta must be in (0, 1), keys >= 2, value <= 4096\n");
        return 2;
    }
    zipf z;
    zipf_init(&z, nkeys, theta);
    printf("policy_sim: %llu MB, Zipf(%.2f) over %llu keys, %.0f%% one-time keys, %llu requests, "
           "%zu-byte values, watermarks %u/%u%%\n",
           (unsigned long long)mb, theta, (unsigned long long)nkeys, scan * 100,
           (unsigned long long)requests, vlen, high, low);
    printf("%-16s %9s %9s %10s %12s %10s %8s %10s\n", "policy", "hit", "steady", "keys",
           "used_memory", "avg keys", "avg used", "exact lfu");
    char val[4096];
    memset(val, 'v', sizeof(val));
    /* The trace as key ids, for exact_lfu (one-time keys numbered from nkeys up). */
    uint32_t *trace = requests <= UINT32_MAX && nkeys + requests < UINT32_MAX
                          ? malloc(requests * sizeof(uint32_t))
                          : NULL;
    uint64_t nids = nkeys;
    for (int p = 0; p < np; p++) {
        mnemo_config cfg;
        mnemo_config_init(&cfg);
        cfg.maxmemory = mb << 20;
        cfg.eviction_policy = policies[p];
        cfg.evict_high_pct = high;
        cfg.evict_low_pct = low;
        mnemo_store *st;
        if (mnemo_store_open(&cfg, &st) != MNEMO_OK) {
            fprintf(stderr, "policy_sim: cannot open a store with these settings\n");
            return 1;
        }
        rng_state = 0x9e3779b97f4a7c15ull ^ seed; /* the same trace for every policy */
        uint64_t hits = 0, steady_hits = 0, samples = 0;
        double sum_keys = 0, sum_used = 0;
        char key[32];
        for (uint64_t r = 0; r < requests; r++) {
            uint64_t x = scatter(zipf_next(&z), nkeys);
            if (scan > 0 && urand() < scan)
                x = nkeys + r; /* a key no request names again */
            if (p == 0 && trace)
                trace[r] = (uint32_t)(x < nkeys ? x : nids++);
            int kl = snprintf(key, sizeof(key), "key:%010llu", (unsigned long long)x);
            if (mnemo_exists(st, 0, key, (size_t)kl) == MNEMO_OK) {
                hits++;
                steady_hits += r >= requests / 2;
            } else {
                (void)mnemo_set(st, 0, key, (size_t)kl, val, vlen, NULL, NULL, NULL);
            }
            if (r >= requests / 2 && r % 10000 == 0) {
                mnemo_stats s;
                mnemo_store_stats(st, &s);
                sum_keys += (double)s.keys;
                sum_used += (double)s.memory_used;
                samples++;
            }
        }
        mnemo_stats s;
        mnemo_store_stats(st, &s);
        uint64_t avg_keys = samples ? (uint64_t)(sum_keys / (double)samples) : s.keys;
        uint64_t lfu = trace ? exact_lfu(trace, requests, (uint32_t)nids, avg_keys, requests / 2) : UINT64_MAX;
        char lfu_s[16] = "-";
        if (lfu != UINT64_MAX)
            snprintf(lfu_s, sizeof(lfu_s), "%.4f", (double)lfu / (double)(requests - requests / 2));
        printf("%-16s %9.4f %9.4f %10llu %12llu %10llu %7.1f%% %10s\n",
               mnemo_policy_name(policies[p]), (double)hits / (double)requests,
               (double)steady_hits / (double)(requests - requests / 2),
               (unsigned long long)s.keys, (unsigned long long)s.memory_used,
               (unsigned long long)avg_keys,
               samples ? 100.0 * sum_used / (double)samples / (double)(mb << 20) : 0.0, lfu_s);
        fflush(stdout);
        mnemo_store_free(st);
    }
    free(trace);
    return 0;
}

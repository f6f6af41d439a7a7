/*
 * exact_lfu.h — the reference the eviction benchmarks (policy_sim, hitratio) compare a policy
 * with: an exact LFU cache of a given number of keys, replayed over a trace of key ids.
 *
 * It counts every request of every key since the start (resident or not), stores every missed
 * key, and evicts a key with the lowest count, the oldest such. On a trace of independent draws
 * from a fixed distribution (the Zipf traces here) a key's count is all a cache can know of its
 * popularity, and the count is learnt whether the key is held or not, so holding the keys with
 * the highest counts is the best any cache holding that many keys can do: the gap between a
 * policy and this cache at the policy's key count is what the policy loses, the rest is the
 * key count (bytes per key, the watermarks).
 */
#ifndef MNEMO_BENCH_EXACT_LFU_H
#define MNEMO_BENCH_EXACT_LFU_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Replays trace[0..n) (key ids below nids) through an exact LFU cache of `cap` keys and
 * returns its hits among requests from `from` on, or UINT64_MAX when out of memory. Resident
 * keys are kept in one FIFO list per count (evicting from the lowest non-empty one), so each
 * request is O(1) amortised. */
static uint64_t exact_lfu(const uint32_t *trace, uint64_t n, uint32_t nids, uint64_t cap,
                          uint64_t from)
{
    const uint32_t none = UINT32_MAX;
    uint32_t maxc = 1;
    while (maxc < n + 2 && maxc < (1u << 24))
        maxc <<= 1; /* counts saturate at maxc - 1 */
    uint32_t *cnt = calloc(nids, sizeof(uint32_t)), *nx = malloc((size_t)nids * 4),
             *pv = malloc((size_t)nids * 4), *head = malloc((size_t)maxc * 4),
             *tail = malloc((size_t)maxc * 4);
    uint8_t *in = calloc(nids, 1);
    uint64_t hits = UINT64_MAX;
    if (!cnt || !nx || !pv || !head || !tail || !in)
        goto out;
    memset(head, 0xff, (size_t)maxc * 4);
    memset(tail, 0xff, (size_t)maxc * 4);
    hits = 0;
    uint64_t held = 0;
    uint32_t minc = 1;
    for (uint64_t r = 0; r < n; r++) {
        uint32_t x = trace[r], c;
        if (in[x]) {
            hits += r >= from;
            c = cnt[x]; /* unlink from its count's list */
            if (pv[x] != none)
                nx[pv[x]] = nx[x];
            else
                head[c] = nx[x];
            if (nx[x] != none)
                pv[nx[x]] = pv[x];
            else
                tail[c] = pv[x];
        } else {
            if (held == cap) {
                while (head[minc] == none)
                    minc++;
                uint32_t v = head[minc];
                head[minc] = nx[v];
                if (nx[v] != none)
                    pv[nx[v]] = none;
                else
                    tail[minc] = none;
                in[v] = 0;
                held--;
            }
            in[x] = 1;
            held++;
        }
        if (cnt[x] < maxc - 1)
            cnt[x]++;
        c = cnt[x]; /* link at the end of its new count's list */
        nx[x] = none;
        pv[x] = tail[c];
        if (tail[c] != none)
            nx[tail[c]] = x;
        else
            head[c] = x;
        tail[c] = x;
        if (c < minc)
            minc = c;
    }
out:
    free(cnt);
    free(nx);
    free(pv);
    free(head);
    free(tail);
    free(in);
    return hits;
}

#endif

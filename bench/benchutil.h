/*
 * benchutil.h — what the C benchmarks share: the splitmix64 mixer their data sets are drawn
 * from (bench/dataset.py spells the same function for the Python side), and clocks.
 */
#ifndef MNEMO_BENCH_BENCHUTIL_H
#define MNEMO_BENCH_BENCHUTIL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Wall-clock seconds (CLOCK_MONOTONIC). */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) the calling thread has used. */
static inline double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif

/*
 * slowlog.h — SLOWLOG and the latency monitor (LATENCY LATEST / HISTORY / RESET).
 *
 * Measuring. While one of the two features is on (slowlog-log-slower-than >= 0, or
 * latency-monitor-threshold > 0), cmd_call() reads the monotonic clock (vDSO, about 28 ns
 * here) once per command: after it. The start of a command is the end of the previous one
 * in the same pipeline batch (conn.c calls slowlog_batch_begin() before each batch, and the
 * first command of a batch reads the clock before it runs too). Redis's call() reads its
 * clock twice per command; the chained reading halves that, at the price of counting the
 * parsing of a command (sub-microsecond) in its duration. With both features off the hot
 * path costs one relaxed load of each setting.
 *
 * Recording. A command slower than the threshold is copied into one global ring (at most
 * slowlog-max-len entries, newest first) under a mutex; that lock is taken only for slow
 * commands and by the SLOWLOG command itself, never on the common path. Arguments are kept as
 * Redis keeps them: at most 32 (the last one saying how many more there were), each at most
 * 128 bytes ("... (N more bytes)").
 *
 * The latency monitor keeps, per event ("command" for commands not flagged fast,
 * "fast-command" for the others), the last 160 samples at one-second resolution (the largest
 * latency of each second) and the all-time maximum, as Redis's latency.c.
 */
#ifndef MNEMO_SERVER_SLOWLOG_H
#define MNEMO_SERVER_SLOWLOG_H

#include <stdatomic.h>
#include <stdint.h>

#include "resp/resp.h"

struct conn;
struct command;

/* Settings, read with relaxed loads (config.c points its rows at them). */
extern _Atomic long long slowlog_log_slower_than; /* µs; < 0 disables; default 10000 */
extern _Atomic long long slowlog_max_len;         /* entries kept; default 128 */
extern _Atomic long long latency_monitor_threshold; /* ms; 0 disables (default) */

/* 1 if commands need to be timed at all. */
static inline int slowlog_timing_on(void)
{
    return atomic_load_explicit(&slowlog_log_slower_than, memory_order_relaxed) >= 0 ||
           atomic_load_explicit(&latency_monitor_threshold, memory_order_relaxed) > 0;
}

/* End of the last timed command on this thread (monotonic ns), 0 at a batch start. */
extern _Thread_local uint64_t slowlog_t_last;

/* A new batch of commands starts: the next command reads the clock before it runs. */
static inline void slowlog_batch_begin(void)
{
    slowlog_t_last = 0;
}

/* 1 if a command that took `us` microseconds must be recorded by either feature. */
static inline int slowlog_qualifies(long long us)
{
    long long s = atomic_load_explicit(&slowlog_log_slower_than, memory_order_relaxed);
    long long l = atomic_load_explicit(&latency_monitor_threshold, memory_order_relaxed);
    return (s >= 0 && us >= s) || (l > 0 && us >= l * 1000);
}

/* Records a command that took `us` microseconds, if it qualifies for either feature. */
void slowlog_observe(struct conn *c, const struct command *cmd, int argc, const resp_arg *argv,
                     long long us);

/* Adds a latency sample (ms) to an event of the latency monitor if it reaches the threshold. */
void latency_add_sample(const char *event, long long ms);

#endif

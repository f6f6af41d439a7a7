/*
 * server.h — process-wide state of mnemo-server: the store, the workers, counters, and the
 * client registry.
 *
 * Ownership and locking:
 *   - `store` is closed after the workers have stopped; the library makes every call on it
 *     thread-safe. Without persistence it is opened before the workers start. With it, the
 *     workers start first and `loading` is 1 while the directory loads: `store` is written
 *     by the main thread before it clears `loading` (release), and a worker reads it only
 *     after seeing `loading` clear (acquire): in cmd_dispatch() for commands not allowed
 *     while loading, through srv_store() everywhere else.
 *   - Counters are atomics updated with relaxed ordering (INFO reads approximate sums).
 *   - The client registry (every connection of every worker) exists for CLIENT LIST / KILL and
 *     INFO; it is protected by clients_lock, which is taken only when a connection opens or
 *     closes and by those admin commands, never per request.
 */
#ifndef MNEMO_SERVER_SERVER_H
#define MNEMO_SERVER_SERVER_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mnemo.h"

struct worker;
struct conn;

/* The Redis version mnemo's protocol and replies follow (HELLO, INFO redis_version). */
#define MNEMO_REDIS_COMPAT_VERSION "7.0.0"

typedef struct server {
    mnemo_store *store;
    _Atomic int loading;              /* 1 while the persistence directory loads */
    int64_t load_start_ms;
    unsigned databases;
    /* SWAPDBs each database took part in. WATCH compares versions, and a version belongs to
     * one key in one database: after a swap the key under a watched name can carry a version
     * equal to the watched one (another shard's clock), so EXEC also checks this count. */
    _Atomic uint64_t *db_swaps;
    unsigned nworkers;
    struct worker *workers;

    _Atomic uint64_t next_client_id;
    _Atomic long connected;           /* open client connections, all workers */
    _Atomic int shutdown;             /* 1: a shutdown was requested */
    _Atomic int shutdown_save;        /* SHUTDOWN SAVE: 1, NOSAVE: -1, neither: 0 */
    _Atomic uint64_t total_connections;
    _Atomic uint64_t rejected_connections;
    _Atomic uint64_t stat_reset_commands; /* commands processed before the last RESETSTAT */

    /* Instantaneous rates (INFO): sampled by worker 0's cron every 100 ms over the last
     * 16 samples, as Redis's trackInstantaneousMetric(). */
    _Atomic long long inst_ops, inst_in_bps, inst_out_bps;

    int64_t start_ms;
    char run_id[41];
    char executable[PATH_MAX];
    int unix_fd; /* shared Unix socket listener, -1 if none */

    pthread_mutex_t clients_lock;
    struct conn *clients; /* registry, linked by conn.rnext/rprev; protected by clients_lock */
} server;

extern server g_srv;

/* The store, or NULL while it loads (see `loading` above). */
static inline mnemo_store *srv_store(void)
{
    return atomic_load_explicit(&g_srv.loading, memory_order_acquire) ? NULL : g_srv.store;
}

/* Asks the main thread to shut the server down (signal-safe). */
void server_request_shutdown(void);

/* Unix time in milliseconds / microseconds. */
int64_t server_now_ms(void);
int64_t server_now_us(void);

#endif

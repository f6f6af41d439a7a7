/*
 * worker.h — the worker threads: each runs its own event loop over its own connections.
 *
 * Design (docs/server.md has the measurements behind it):
 *   - N workers (setting `threads`), no shared event loop, no global lock on the request path.
 *   - Every worker has its own TCP listening socket per bind address, all bound to the same
 *     address with SO_REUSEPORT: the kernel spreads new connections over the workers by a
 *     hash of the 4-tuple, and a connection stays on the worker that accepted it for its whole
 *     life. The Unix socket is one listener shared by all workers (EPOLLEXCLUSIVE).
 *   - Each worker has an eventfd in its epoll set. Other threads write to it to wake the
 *     worker: shutdown, CLIENT KILL of one of its connections, and the per-worker pub/sub
 *     inbox (pubsub.h), drained after every event batch by pubsub_worker_tick().
 *   - A cron slice runs every 100 ms in each worker for its own connections: idle timeout,
 *     soft output buffer limits, kill requests.
 *   - Connections closed while an event batch is processed are freed after the batch, so an
 *     event later in the same batch never touches freed memory.
 *   - Two engines run that loop (setting `io-engine`): epoll (readiness, then read(2) and
 *     send(2) per connection), and io_uring (uring.h: completions of multishot recvs and of
 *     sends, all submitted with the one io_uring_enter(2) that also waits). Everything above
 *     the bytes (parsing, dispatch, flush lists, cron, pub/sub, held replies) is shared.
 */
#ifndef MNEMO_SERVER_WORKER_H
#define MNEMO_SERVER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "server/conn.h"

#define WORKER_MAX_LISTENERS 16

typedef struct listener {
    int kind; /* EV_LISTENER */
    int fd;
    int is_unix;
} listener;

typedef struct worker {
    int kind; /* EV_EVENTFD: the worker itself is the eventfd's epoll handle */
    unsigned id;
    pthread_t thread;
    int epfd;
    int evfd;
    int spare_fd;              /* reserve descriptor, see refuse_without_fds() */
    int64_t last_fd_warning_ms;
    listener listeners[WORKER_MAX_LISTENERS];
    int nlisteners;

    conn *conns;      /* this worker's open connections */
    conn *graveyard;  /* closed during the current batch, freed after it (linked by next) */
    conn *flush_list; /* replies to send once the batch is handled (linked by wnext) */
    _Atomic unsigned nconns; /* written by this worker only; INFO reads it */
    _Atomic unsigned recv_rate; /* uring: receives per ms lately (written by this worker) */
    int64_t now_ms;   /* cached at each loop iteration */
    int64_t last_cron_ms;

    /* statistics, written by this worker only, read by INFO */
    _Atomic uint64_t commands;
    _Atomic uint64_t net_in;
    _Atomic uint64_t net_out;
    _Atomic uint64_t batched_waits; /* uring waits that gathered a batch (io-batch-usec) */
    _Atomic uint64_t commit_delays; /* ... that did so before leading a sync (always) */

    /* set by CLIENT KILL (any thread) before the wake-up: the eventfd handler scans for
     * killed connections only then, so pub/sub wake-ups do not walk every connection */
    _Atomic int kill_pending;

    /* persistence (srv_persist.c): connections with replies waiting for the log (hprev/hnext),
     * the smallest LSN they wait for (0: none; the log thread wakes the worker when it is
     * durable), and whether this batch appended to the log (everysec / no: write it out) */
    struct conn *held;
    unsigned nheld;      /* connections in `held` */
    _Atomic uint64_t wait_lsn;
    int log_dirty;
    int commit_deferred; /* always: this round's sync waits for one batched wait (uring) */

    struct uring_engine *ue; /* the io_uring engine's state; NULL under epoll */
} worker;

/* Adds n to a counter that only the calling worker writes (no locked instruction). */
#define WSTAT_ADD(ctr, n)                                                                    \
    atomic_store_explicit(&(ctr), atomic_load_explicit(&(ctr), memory_order_relaxed) + (n),   \
                          memory_order_relaxed)

/* Creates the workers and their listening sockets (not yet running). Returns 0, or -1 after
 * logging why (e.g. the port is in use). */
int workers_init(unsigned n);

/* Starts the worker threads. */
int workers_start(void);

/* Wakes every worker (shutdown) and waits for all of them to finish: each stops accepting,
 * flushes pending replies for a bounded time and closes its connections. */
void workers_stop(void);

/* Wakes worker w (e.g. a connection of it was marked for kill). Thread-safe. */
void worker_wake(worker *w);

/* Frees the workers after workers_stop(). */
void workers_free(void);

/* For the engines (worker.c, uring.c), on the worker's own thread: */

/* Accepts what listener l has pending (at most a burst, for fairness). */
void worker_accept(worker *w, listener *l);

/* The eventfd fired: handles CLIENT KILL requests (the pub/sub inbox is drained after the
 * batch). */
void worker_on_wake(worker *w);

/* After each batch of events: the log, deferred replies, pub/sub, frees, and the cron when
 * it is due. */
void worker_after_batch(worker *w);

/* Frees the closed connections that no request in flight names any more. */
void worker_bury(worker *w);

/* Milliseconds until the next cron slice is due (the longest a loop may wait). */
int worker_cron_wait_ms(const worker *w);

/* Shutdown, on the worker's thread: stop accepting, give pending replies a bounded time to
 * leave, close every connection. */
void worker_shutdown(worker *w);

#endif

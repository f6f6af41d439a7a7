/*
 * uring.h — the workers' io_uring engine (setting `io-engine uring`).
 *
 * Why: a small request's server CPU is mostly system calls on these machines (about 1 µs of
 * entry/exit each), and under epoll a non-pipelined request costs three of them: epoll_wait,
 * read and send. Here a worker makes one io_uring_enter(2) per loop iteration, which submits
 * every send the previous batch produced and waits for the next completions; receives are
 * multishot recvs into a ring of provided buffers, armed once per connection, and cost no
 * system call of their own. (SQPOLL would save the enter too, but burns a core.)
 *
 * Per worker, one ring, created on the worker's thread with SINGLE_ISSUER | DEFER_TASKRUN
 * (only that thread touches it; completions are produced when it enters, so they come in
 * batches instead of interrupting it):
 *   - one multishot recv per connection; its buffers come from the worker's buffer ring,
 *     are copied into the connection's qbuf (conn_on_data) and given back at once, so a ring
 *     of a few hundred buffers serves any number of connections;
 *   - at most one send per connection in flight, over conn.sending (conn.h), which the
 *     kernel may read until its completion; a short send is resubmitted for the rest;
 *   - a one-shot poll per listener, re-armed after each accept burst (level-triggered, so a
 *     burst cut short for fairness is picked up again), and accept4(2) as under epoll;
 *   - a read of the worker's eventfd (cross-thread wake-ups: pub/sub, CLIENT KILL, held
 *     replies, shutdown), re-armed after each wake-up;
 *   - the cron: the wait's own timeout (IORING_FEAT_EXT_ARG), no timer request.
 *
 * user_data is a pointer with a tag in its two low bits (conns, listeners and workers are at
 * least 4-aligned). Closing a connection cancels its requests by fd before close(2): a
 * request holds a reference on the file, so close alone would neither end it nor let the
 * peer see the FIN. A closed conn stays in the worker's graveyard until every request that
 * names it has delivered its last completion (conn.uops == 0), then it is freed.
 *
 * If the kernel refuses io_uring (ENOSYS, EPERM: kernel.io_uring_disabled, seccomp) or lacks
 * what the engine needs (kernel < 6.1), uring_probe() fails and the server runs epoll.
 */
#ifndef MNEMO_SERVER_URING_H
#define MNEMO_SERVER_URING_H

#include <stddef.h>

struct worker;
struct conn;

/* Checks, from any thread, that this kernel lets the engine set up a ring as the workers
 * will. Returns 0, or -errno with a reason in err. */
int uring_probe(char *err, size_t cap);

/* Creates w's ring and buffers, on w's own thread. Returns 0, or -1 after logging why (the
 * worker then runs epoll). */
int uring_worker_init(struct worker *w);

/* w's loop until shutdown, then the shutdown (worker_shutdown) and the ring's teardown. */
void uring_worker_run(struct worker *w);

/* Submits, waits up to ms milliseconds for completions and handles them (shutdown's flush
 * loop). */
void uring_wait(struct worker *w, int ms);
/* Whether requests come fast enough that the next wait should gather more before the worker
 * leads its sync (appendfsync always). */
int uring_commit_defer(struct worker *w);

/* Stops accepting and reading (shutdown): cancels the listener polls before they close. */
void uring_stop_accepting(struct worker *w);

/* Arms c's multishot recv. Returns 0, or -1 (no submission entry: close c). */
int uring_recv_arm(struct conn *c);

/* Queues a send of c->sending.data[sending_off..len) (submitted with the next enter).
 * Returns 0, or -1 (close c). */
int uring_send(struct conn *c);

/* Cancels c's requests in flight, now (before its socket is closed). */
void uring_cancel(struct conn *c);

#endif

/* uring.c — the workers' io_uring engine (see uring.h). */
#include "server/uring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server/config.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/server.h"
#include "server/worker.h"

#ifdef MNEMO_HAVE_URING

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UR_SQ_ENTRIES 1024
#define UR_CQ_ENTRIES 8192 /* multishot recvs post many completions per submission */
/* Provided buffers per worker (a power of two). They are copied out and given back as each
 * completion is handled, so they only need to cover the receives of one wait; if they run
 * out, a recv ends with ENOBUFS and is re-armed. 128 x 16 KB = 2 MB per worker, touched at
 * start so that RSS does not creep up by it later (INFO used_memory tracks RSS growth). */
#define UR_NBUFS 128
#define UR_BUF_SIZE ((size_t)16 * 1024) /* as the epoll engine's smallest read */
#define UR_BGID 0
#define UR_SEND_MAX ((size_t)1 << 30)   /* an SQE's length is 32 bits */
#define UR_DRAIN_MS 1000

enum { UD_NONE = 0, UD_RECV = 1, UD_SEND = 2, UD_OBJ = 3 };
#define UD(p, tag) ((uint64_t)(uintptr_t)(p) | (uint64_t)(tag))
#define UD_PTR(ud) ((void *)(uintptr_t)((ud) & ~(uint64_t)3))

typedef struct uring_engine {
    struct io_uring ring;
    struct io_uring_buf_ring *br; /* the provided buffers' ring, shared with the kernel */
    char *bufs;                   /* UR_NBUFS buffers of UR_BUF_SIZE */
    uint64_t evbuf;               /* the eventfd read's target */
    int objops;                   /* listener polls and eventfd reads in flight */
    unsigned recvs;               /* receive completions since rate_ms ... */
    unsigned rate;                /* ... and per millisecond before it (batch_wanted) */
    int64_t rate_ms;
    int stopping;                 /* shutdown: no more reading or accepting */
} uring_engine;

static int ring_setup(struct io_uring *ring)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = UR_CQ_ENTRIES;
    int rc = io_uring_queue_init_params(UR_SQ_ENTRIES, ring, &p);
    if (rc < 0)
        return rc;
    /* EXT_ARG: the wait's timeout without a timer request; NODROP: completions are never
     * lost when the CQ is full (a lost send completion would leak its conn). */
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(ring);
        return -EOPNOTSUPP;
    }
    return 0;
}

static void buf_give(uring_engine *ue, unsigned bid)
{
    io_uring_buf_ring_add(ue->br, ue->bufs + (size_t)bid * UR_BUF_SIZE, (unsigned)UR_BUF_SIZE,
                          (unsigned short)bid, io_uring_buf_ring_mask(UR_NBUFS), 0);
    io_uring_buf_ring_advance(ue->br, 1);
}

static int bufs_setup(uring_engine *ue, unsigned nbufs)
{
    void *mem;
    if (posix_memalign(&mem, 4096, nbufs * sizeof(struct io_uring_buf)) != 0)
        return -ENOMEM;
    memset(mem, 0, nbufs * sizeof(struct io_uring_buf));
    ue->br = mem;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)mem;
    reg.ring_entries = nbufs;
    reg.bgid = UR_BGID;
    int rc = io_uring_register_buf_ring(&ue->ring, &reg, 0);
    if (rc < 0)
        return rc;
    io_uring_buf_ring_init(ue->br);
    return 0;
}

int uring_probe(char *err, size_t cap)
{
    uring_engine ue;
    memset(&ue, 0, sizeof(ue));
    int rc = ring_setup(&ue.ring);
    if (rc < 0) {
        snprintf(err, cap, "io_uring_setup: %s", strerror(-rc));
        return rc;
    }
    rc = bufs_setup(&ue, 8);
    if (rc < 0)
        snprintf(err, cap, "provided buffer ring: %s", strerror(-rc));
    io_uring_queue_exit(&ue.ring);
    free(ue.br);
    return rc;
}

int uring_worker_init(worker *w)
{
    uring_engine *ue = calloc(1, sizeof(*ue));
    if (!ue)
        return -1;
    int rc = ring_setup(&ue->ring);
    if (rc < 0) {
        log_warning("Worker %u: io_uring_setup: %s; using epoll", w->id, strerror(-rc));
        free(ue);
        return -1;
    }
    /* MAP_POPULATE: resident from the start (malloc + memset may become calloc, which
     * touches nothing). */
    void *m = mmap(NULL, UR_NBUFS * UR_BUF_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    ue->bufs = m == MAP_FAILED ? NULL : m;
    /* Not inherited by a snapshot's child, which never reads them: fork() has 2 MB fewer
     * to map, and the kernel's writes of received bytes into them do not each take a
     * copy-on-write fault while the child lives. */
    if (ue->bufs)
        madvise(ue->bufs, UR_NBUFS * UR_BUF_SIZE, MADV_DONTFORK);
    rc = ue->bufs ? bufs_setup(ue, UR_NBUFS) : -ENOMEM;
    if (rc < 0) {
        log_warning("Worker %u: io_uring buffers: %s; using epoll", w->id, strerror(-rc));
        io_uring_queue_exit(&ue->ring);
        free(ue->br);
        if (ue->bufs)
            munmap(ue->bufs, UR_NBUFS * UR_BUF_SIZE);
        free(ue);
        return -1;
    }
    for (unsigned i = 0; i < UR_NBUFS; i++)
        buf_give(ue, i);
    /* A registered ring fd spares each io_uring_enter the descriptor lookup; optional. */
    io_uring_register_ring_fd(&ue->ring);
    /* The read of the eventfd must wait for a write: an O_NONBLOCK file makes io_uring's
     * read fail with EAGAIN instead. Writers never block on an eventfd that is read. */
    int fl = fcntl(w->evfd, F_GETFL);
    if (fl >= 0)
        fcntl(w->evfd, F_SETFL, fl & ~O_NONBLOCK);
    w->ue = ue;
    return 0;
}

/* A submission entry; when the SQ is full, what it holds is submitted first. */
static struct io_uring_sqe *get_sqe(uring_engine *ue)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ue->ring);
    if (!sqe) {
        io_uring_submit(&ue->ring);
        sqe = io_uring_get_sqe(&ue->ring);
    }
    return sqe;
}

int uring_recv_arm(conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(c->w->ue);
    if (!sqe)
        return -1;
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UR_BGID;
    io_uring_sqe_set_data64(sqe, UD(c, UD_RECV));
    c->uops++;
    c->recv_armed = 1;
    return 0;
}

int uring_send(conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(c->w->ue);
    if (!sqe)
        return -1;
    size_t len = c->sending.len - c->sending_off;
    if (len > UR_SEND_MAX)
        len = UR_SEND_MAX;
    io_uring_prep_send(sqe, c->fd, c->sending.data + c->sending_off, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, UD(c, UD_SEND));
    c->uops++;
    return 0;
}

void uring_cancel(conn *c)
{
    if (!c->uops)
        return;
    uring_engine *ue = c->w->ue;
    struct io_uring_sqe *sqe = get_sqe(ue);
    if (!sqe)
        return; /* its requests end when the peer goes; the conn waits in the graveyard */
    io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, UD_NONE);
    /* Now, while the fd still names the socket: cancel finds requests by their file. */
    io_uring_submit(&ue->ring);
}

static void arm_listener(worker *w, listener *l)
{
    struct io_uring_sqe *sqe = get_sqe(w->ue);
    if (!sqe)
        return;
    io_uring_prep_poll_add(sqe, l->fd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD(l, UD_OBJ));
    w->ue->objops++;
}

static void arm_eventfd(worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w->ue);
    if (!sqe)
        return;
    io_uring_prep_read(sqe, w->evfd, &w->ue->evbuf, sizeof(w->ue->evbuf), 0);
    io_uring_sqe_set_data64(sqe, UD(w, UD_OBJ));
    w->ue->objops++;
}

static void on_recv(worker *w, conn *c, int res, unsigned flags)
{
    uring_engine *ue = w->ue;
    ue->recvs++;
    int has_buf = !!(flags & IORING_CQE_F_BUFFER);
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (!(flags & IORING_CQE_F_MORE)) {
        c->uops--;
        c->recv_armed = 0;
    }
    if ((c->flags & CONN_CLOSED) || ue->stopping) {
        if (has_buf)
            buf_give(ue, bid);
        return;
    }
    if (res > 0 && has_buf) {
        conn_on_data(c, ue->bufs + (size_t)bid * UR_BUF_SIZE, (size_t)res);
        buf_give(ue, bid);
    } else if (res == 0) {
        if (has_buf)
            buf_give(ue, bid);
        conn_on_eof(c);
        return;
    } else if (res < 0 && res != -ENOBUFS && res != -EINTR && res != -EAGAIN) {
        /* ENOBUFS: every buffer was in use; they are all back by the end of this reap. */
        conn_close(c, "read error");
        return;
    }
    if (!c->recv_armed && !(c->flags & CONN_CLOSED) && uring_recv_arm(c) != 0)
        conn_close(c, "io_uring submission queue full");
}

static void on_obj(worker *w, void *obj, int res)
{
    uring_engine *ue = w->ue;
    ue->objops--;
    if (ue->stopping || res == -ECANCELED)
        return;
    if (*(int *)obj == EV_LISTENER) {
        listener *l = obj;
        if (res < 0 && res != -EINTR) {
            log_warning("Polling listening socket %d: %s", l->fd, strerror(-res));
            return;
        }
        worker_accept(w, l);
        arm_listener(w, l);
        return;
    }
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
        log_warning("Reading the worker's eventfd: %s", strerror(-res));
        return;
    }
    worker_on_wake(w);
    arm_eventfd(w);
}

/* Requests from several connections in one wait (unpipelined clients under load): their keys
 * go to the store as one hint before any runs, so that their cache misses overlap instead of
 * coming one connection after another. Within a connection, parse_ahead (conn.c) does this
 * for a pipeline. */
#define HINT_CONNS_KEYS 32

static void hint_across(worker *w)
{
    struct io_uring *ring = &w->ue->ring;
    struct io_uring_cqe *cqe;
    unsigned head, nrecv = 0;
    const void *key[HINT_CONNS_KEYS];
    size_t klen[HINT_CONNS_KEYS], n = 0;
    unsigned db = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
        if ((cqe->user_data & 3) != UD_RECV || cqe->res <= 0 ||
            !(cqe->flags & IORING_CQE_F_BUFFER))
            continue;
        conn *c = UD_PTR(cqe->user_data);
        if (nrecv++ == 0)
            db = (unsigned)c->db;
        else if ((unsigned)c->db != db)
            continue; /* one hint, one database */
        const char *data = w->ue->bufs + (size_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) *
                                             UR_BUF_SIZE;
        n += conn_hint_keys(c, data, (size_t)cqe->res, key + n, klen + n,
                            HINT_CONNS_KEYS - n);
        if (n == HINT_CONNS_KEYS)
            break;
    }
    if (n >= 2 && nrecv >= 2)
        mnemo_prefetch_keys(srv_store(), db, key, klen, n);
}

static void reap(worker *w)
{
    struct io_uring *ring = &w->ue->ring;
    struct io_uring_cqe *cqe;
    unsigned head;
    if (io_uring_cq_ready(ring) >= 2)
        hint_across(w);
    io_uring_for_each_cqe(ring, head, cqe) {
        /* Copied out first: the slot is the kernel's again once the head moves. */
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cq_advance(ring, 1);
        switch (ud & 3) {
        case UD_RECV:
            on_recv(w, UD_PTR(ud), res, flags);
            break;
        case UD_SEND: {
            conn *c = UD_PTR(ud);
            c->uops--;
            if (!(c->flags & CONN_CLOSED))
                conn_on_sent(c, res);
            break;
        }
        case UD_OBJ:
            on_obj(w, UD_PTR(ud), res);
            break;
        default: /* cancellations */
            break;
        }
    }
}

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1u << 15) /* Linux 6.12: min_wait_usec in getevents_arg */
#endif

/* io_uring_enter that submits what is queued and waits the batch way (liburing 2.3 has no
 * wrapper for it): up to min_us for wait_nr completions beyond the submissions, then until
 * the first one, or ts. */
static void enter_batch(struct io_uring *ring, unsigned wait_nr, struct __kernel_timespec *ts,
                        unsigned min_us)
{
    struct io_uring_sq *sq = &ring->sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) { /* what io_uring_submit() does first (no SQPOLL here) */
        sq->sqe_head = tail;
        __atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
    }
    unsigned to_submit = tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.sigmask_sz = _NSIG / 8;
    arg.pad = min_us; /* min_wait_usec, in the headers of Linux 6.12 and later */
    arg.ts = (uint64_t)(uintptr_t)ts;
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    int fd = ring->ring_fd;
    if (ring->enter_ring_fd != ring->ring_fd) { /* registered: io_uring_register_ring_fd() */
        flags |= IORING_ENTER_REGISTERED_RING;
        fd = ring->enter_ring_fd;
    }
    /* Sends mostly complete during the call, so they count towards the completions awaited. */
    (void)syscall(__NR_io_uring_enter, fd, to_submit, to_submit + wait_nr, flags, &arg,
                  sizeof(arg));
}

/* How many completions beyond the submissions the next wait should gather (0: wait for the
 * first one, as without load). A worker that sleeps and wakes for every request pays the
 * scheduler's switch and the wake-up on each: with 50 unpipelined clients that was a fifth to
 * a third of its CPU per request (docs/BENCHMARKS.md "Batched waits"). Under load it waits the
 * way a network card coalesces interrupts: for up to io-batch-usec, or until UR_BATCH_MAX
 * requests (at most half its connections, each having one request in flight when unpipelined)
 * have come. Only when requests come fast enough that at least two are expected within the
 * window (the rate of the last millisecond), and only with UR_BATCH_MIN * 2 connections or
 * more, so a lone request or a few clients are not held back. */
#define UR_BATCH_MIN 4
#define UR_BATCH_MAX 16

/* The load rule: at least two requests expected within the window, and enough connections. */
static int busy_enough(uint64_t rate, unsigned conns, unsigned us)
{
    return rate * us >= 2000 && conns / 2 >= UR_BATCH_MIN;
}

static unsigned batch_wanted(worker *w, unsigned us)
{
    uring_engine *ue = w->ue;
    if (w->now_ms != ue->rate_ms) { /* a new millisecond: the last window's rate */
        int64_t span = w->now_ms - ue->rate_ms;
        ue->rate = span > 0 && span < 1000 ? ue->recvs / (unsigned)span : 0;
        atomic_store_explicit(&w->recv_rate, ue->rate, memory_order_relaxed);
        ue->recvs = 0;
        ue->rate_ms = w->now_ms;
    }
    unsigned nc = atomic_load_explicit(&w->nconns, memory_order_relaxed);
    if (!us || !(ue->ring.features & IORING_FEAT_MIN_TIMEOUT) || !busy_enough(ue->rate, nc, us))
        return 0;
    return nc / 2 < UR_BATCH_MAX ? nc / 2 : UR_BATCH_MAX;
}

void uring_wait(worker *w, int ms)
{
    if (ms < 0)
        ms = 0;
    struct __kernel_timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long long)(ms % 1000) * 1000000};
    struct io_uring_cqe *cqe;
    /* Not when the loop has work waiting (ms 0: min_wait_usec would outlast the timeout).
     * Under appendfsync always, not between a sync and the next request (the worker's own
     * sync, during which it reads nothing, gathers those already), but before the worker
     * leads a sync it deferred (srv_persist_worker_tick()): within io-batch-usec at most,
     * so that one sync covers more requests. */
    unsigned us = (unsigned)CFG(io_batch_usec);
    int always = CFG(appendonly) && CFG(appendfsync) == MNEMO_FSYNC_ALWAYS;
    if (w->commit_deferred) { /* bounded: the sync waits for this wait alone */
        /* The window grows with the workers (up to 4x): a sync that covers several of them
         * costs each a wake-up and a pass over its held replies, so larger batches pay
         * (2 workers, 50 clients: p99 2.8-3.3 ms at 100 us, 2.1-2.3 at 200, Redis's 2.6-3.2). */
        unsigned nw = g_srv.nworkers < 4 ? g_srv.nworkers : 4;
        unsigned win = us * (nw ? nw : 1);
        unsigned bound = (unsigned)ms * 1000u < win ? (unsigned)ms * 1000u : win;
        /* Until the connections not waiting for this sync have sent again (a client
         * waits for its reply, so those are the ones that can), or the bound. */
        unsigned nc = atomic_load_explicit(&w->nconns, memory_order_relaxed);
        unsigned nr = nc > w->nheld ? nc - w->nheld : 1;
        struct __kernel_timespec bt = {.tv_sec = bound / 1000000u,
                                       .tv_nsec = (long long)(bound % 1000000u) * 1000};
        enter_batch(&w->ue->ring, nr, &bt, bound);
        if (bound)
            WSTAT_ADD(w->commit_delays, 1);
        w->now_ms = server_now_ms();
        reap(w);
        return;
    }
    unsigned nr = ms > 0 && !always ? batch_wanted(w, us) : 0;
    if (nr) {
        enter_batch(&w->ue->ring, nr, &ts, us);
        WSTAT_ADD(w->batched_waits, 1);
        w->now_ms = server_now_ms();
        reap(w);
        return;
    }
    /* One io_uring_enter: submits the batch's sends (most complete inline, during the call)
     * and waits for the next completions or the timeout. */
    io_uring_submit_and_wait_timeout(&w->ue->ring, &cqe, 1, &ts, NULL);
    w->now_ms = server_now_ms();
    reap(w);
}

/* A sync covers what every worker appended, so what counts is the server's rate and
 * connections, not this worker's (with two workers, each saw half the rate and often led
 * its sync at once: 12k fdatasyncs per 200k SETs, against 7k with one worker). */
int uring_commit_defer(worker *w)
{
    unsigned us = (unsigned)CFG(io_batch_usec);
    (void)batch_wanted(w, us); /* brings this worker's rate up to date */
    if (!us || !(w->ue->ring.features & IORING_FEAT_MIN_TIMEOUT))
        return 0;
    uint64_t rate = 0;
    unsigned conns = 0;
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        rate += atomic_load_explicit(&g_srv.workers[i].recv_rate, memory_order_relaxed);
        conns += atomic_load_explicit(&g_srv.workers[i].nconns, memory_order_relaxed);
    }
    return busy_enough(rate, conns, us);
}

void uring_stop_accepting(worker *w)
{
    uring_engine *ue = w->ue;
    ue->stopping = 1;
    for (int i = 0; i < w->nlisteners; i++) {
        struct io_uring_sqe *sqe = get_sqe(ue);
        if (!sqe)
            break;
        io_uring_prep_cancel_fd(sqe, w->listeners[i].fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, UD_NONE);
    }
    io_uring_submit(&ue->ring);
}

/* After the shutdown: every request ends (cancelled) before the memory it names is freed. */
static void teardown(worker *w)
{
    uring_engine *ue = w->ue;
    struct io_uring_sqe *sqe = get_sqe(ue);
    if (sqe) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, UD_NONE);
    }
    int64_t deadline = server_now_ms() + UR_DRAIN_MS;
    while ((ue->objops > 0 || w->graveyard) && server_now_ms() < deadline) {
        uring_wait(w, 10);
        worker_bury(w); /* frees the conns whose last completion came */
    }
    if (ue->objops > 0 || w->graveyard)
        log_warning("Worker %u: io_uring requests still in flight at exit", w->id);
    io_uring_queue_exit(&ue->ring);
    /* What a lingering request might still name is not freed (the process is exiting). */
    if (!ue->objops && !w->graveyard) {
        free(ue->br);
        munmap(ue->bufs, UR_NBUFS * UR_BUF_SIZE);
        free(ue);
        w->ue = NULL;
    }
}

void uring_worker_run(worker *w)
{
    for (int i = 0; i < w->nlisteners; i++)
        arm_listener(w, &w->listeners[i]);
    arm_eventfd(w);
    while (!atomic_load_explicit(&g_srv.shutdown, memory_order_relaxed)) {
        uring_wait(w, worker_cron_wait_ms(w));
        worker_after_batch(w);
    }
    worker_shutdown(w);
    teardown(w);
}

#else /* !MNEMO_HAVE_URING */

int uring_probe(char *err, size_t cap)
{
    snprintf(err, cap, "mnemo-server was built without liburing");
    return -ENOSYS;
}
int uring_worker_init(struct worker *w) { return -1; }
void uring_worker_run(struct worker *w) {}
void uring_wait(struct worker *w, int ms) {}
int uring_commit_defer(struct worker *w) { return 0; }
void uring_stop_accepting(struct worker *w) {}
int uring_recv_arm(struct conn *c) { return -1; }
int uring_send(struct conn *c) { return -1; }
void uring_cancel(struct conn *c) {}

#endif

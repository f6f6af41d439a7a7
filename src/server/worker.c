/*
 * worker.c — listeners, the per-worker epoll loop, what both engines run after each batch
 * (cron included), and shutdown (see worker.h; the io_uring loop is in uring.c).
 */
#include "server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/log.h"
#include "server/srv_persist.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "server/uring.h"

#define MAX_EVENTS 256
#define CRON_MS 100
#define SHUTDOWN_FLUSH_MS 2000

/* ---- listening sockets ---------------------------------------------------------------------- */

/* Binds one TCP socket to addr:port; reuseport makes it one of a SO_REUSEPORT group. Returns
 * the fd, or -1 with errno. */
static int tcp_listen(const struct addrinfo *ai, int reuseport, int backlog)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        goto fail;
    if (backlog > 0 && listen(fd, backlog) != 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static int add_listener(worker *w, int fd, int is_unix)
{
    if (w->nlisteners == WORKER_MAX_LISTENERS) {
        log_warning("Too many listening addresses (at most %d)", WORKER_MAX_LISTENERS);
        return -1;
    }
    listener *l = &w->listeners[w->nlisteners++];
    l->kind = EV_LISTENER;
    l->fd = fd;
    l->is_unix = is_unix;
    return 0;
}

/* Binds every worker's socket for one address. An address given as "-addr" is optional: a
 * failure to bind it is logged and skipped (Redis's rule). Returns 0 / -1. */
static int bind_address(const char *spec, int port, int backlog)
{
    int optional = spec[0] == '-';
    const char *addr = optional ? spec + 1 : spec;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (strcmp(addr, "*") == 0)
        addr = "0.0.0.0";
    else if (strcmp(addr, "::*") == 0)
        addr = "::";
    int rc = getaddrinfo(addr, portstr, &hints, &res);
    if (rc != 0) {
        log_warning("Could not create server TCP listening socket %s:%d: %s", addr, port,
                    gai_strerror(rc));
        return optional ? 0 : -1;
    }
    /* A probe without SO_REUSEPORT first: it fails if any other socket holds the port, so two
     * servers can never silently share one port through SO_REUSEPORT. */
    int probe = tcp_listen(res, 0, 0);
    /* A predecessor killed a moment ago can still hold the port: with io_uring the kernel
     * tears its ring (and the listener a pending request references) down asynchronously,
     * ~10 ms after the process is gone. Give the port up to 2 s before calling it taken. */
    for (int tries = 0; probe < 0 && errno == EADDRINUSE && tries < 200; tries++) {
        if (tries == 0)
            log_notice("%s:%d is in use; waiting up to 2 s for it to be released", addr, port);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
        probe = tcp_listen(res, 0, 0);
    }
    if (probe < 0) {
        int e = errno;
        freeaddrinfo(res);
        if (optional || ((e == EADDRNOTAVAIL || e == EAFNOSUPPORT) && strchr(addr, ':'))) {
            log_warning("Skipping listening address %s:%d: %s", addr, port, strerror(e));
            return 0;
        }
        log_warning("Could not create server TCP listening socket %s:%d: bind: %s", addr, port,
                    strerror(e));
        return -1;
    }
    close(probe);
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        int fd = tcp_listen(res, 1, backlog);
        if (fd < 0) {
            log_warning("Could not create server TCP listening socket %s:%d: %s", addr, port,
                        strerror(errno));
            freeaddrinfo(res);
            return -1;
        }
        if (add_listener(&g_srv.workers[i], fd, 0) != 0) {
            close(fd);
            freeaddrinfo(res);
            return -1;
        }
    }
    log_notice("Listening on %s:%d (%u sockets, SO_REUSEPORT)", addr, port, g_srv.nworkers);
    freeaddrinfo(res);
    return 0;
}

static int unix_listen(const char *path, int perm, int backlog)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_warning("Unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, backlog) != 0) {
        log_warning("Opening Unix socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (perm)
        chmod(path, (mode_t)perm);
    log_notice("Listening on Unix socket %s", path);
    return fd;
}

int workers_init(unsigned n)
{
    g_srv.nworkers = n;
    g_srv.workers = calloc(n, sizeof(worker));
    g_srv.unix_fd = -1;
    if (!g_srv.workers)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        worker *w = &g_srv.workers[i];
        w->kind = EV_EVENTFD;
        w->id = i;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (w->epfd < 0 || w->evfd < 0) {
            log_warning("epoll/eventfd: %s", strerror(errno));
            return -1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
    }

    int port = (int)CFG(port);
    int backlog = (int)CFG(tcp_backlog);
    char bind_s[1024];
    config_get_string(&g_cfg.bind, bind_s, sizeof(bind_s));
    if (port > 0) {
        int bound = 0;
        char *save, *tok;
        for (tok = strtok_r(bind_s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            int before = g_srv.workers[0].nlisteners;
            if (bind_address(tok, port, backlog) != 0)
                return -1;
            bound += g_srv.workers[0].nlisteners > before;
        }
        if (!bound) {
            log_warning("Failed listening on port %d (tcp), aborting.", port);
            return -1;
        }
    }
    char path[512];
    config_get_string(&g_cfg.unixsocket, path, sizeof(path));
    if (path[0]) {
        int fd = unix_listen(path, (int)CFG(unixsocketperm), backlog);
        if (fd < 0)
            return -1;
        g_srv.unix_fd = fd;
        for (unsigned i = 0; i < n; i++)
            if (add_listener(&g_srv.workers[i], fd, 1) != 0)
                return -1;
    }
    if (port <= 0 && !path[0]) {
        log_warning("Neither a TCP port nor a Unix socket is configured");
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        worker *w = &g_srv.workers[i];
        for (int j = 0; j < w->nlisteners; j++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->listeners[j]};
            if (w->listeners[j].is_unix)
                ev.events |= EPOLLEXCLUSIVE;
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listeners[j].fd, &ev);
        }
    }
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------------- */

static const char max_clients_msg[] = "-ERR max number of clients reached\r\n";

/* Out of file descriptors: the pending connection would make a level-triggered listener fire
 * forever. Give back the spare descriptor, accept the connection, refuse it, and take the
 * spare again (the classic reserve-fd trick). */
static void refuse_without_fds(worker *w, listener *l)
{
    if (w->spare_fd >= 0) {
        close(w->spare_fd);
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = send(fd, max_clients_msg, sizeof(max_clients_msg) - 1,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
            close(fd);
            atomic_fetch_add(&g_srv.rejected_connections, 1);
        }
        w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (w->now_ms - w->last_fd_warning_ms >= 1000) {
        w->last_fd_warning_ms = w->now_ms;
        log_warning("Accepting client connection: out of file descriptors");
    }
}

void worker_accept(worker *w, listener *l)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                refuse_without_fds(w, l);
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warning("Accepting client connection: %s", strerror(errno));
            return;
        }
        atomic_fetch_add(&g_srv.total_connections, 1);
        long now = atomic_fetch_add(&g_srv.connected, 1) + 1;
        if (now > CFG(maxclients)) {
            ssize_t r = send(fd, max_clients_msg, sizeof(max_clients_msg) - 1,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
            close(fd);
            atomic_fetch_sub(&g_srv.connected, 1);
            atomic_fetch_add(&g_srv.rejected_connections, 1);
            log_verbose("Rejected a client: max number of clients reached");
            continue;
        }
        if (!l->is_unix) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            int ka = (int)CFG(tcp_keepalive);
            if (ka > 0) {
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka, sizeof(ka));
                int intvl = ka / 3 ? ka / 3 : 1;
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            }
        }
        if (!conn_create(w, fd, l->is_unix))
            atomic_fetch_sub(&g_srv.connected, 1);
    }
}

/* Per-worker periodic work over its own connections. */
static void cron(worker *w)
{
    cmd_clock_sync();
    long long timeout = CFG(timeout);
    conn *next;
    for (conn *c = w->conns; c; c = next) {
        next = c->next;
        if (atomic_load_explicit(&c->kill, memory_order_relaxed)) {
            conn_close(c, "killed by CLIENT KILL");
            continue;
        }
        if (timeout > 0 &&
            w->now_ms - atomic_load_explicit(&c->last_ms, memory_order_relaxed) >
                timeout * 1000) {
            conn_close(c, "idle timeout");
            continue;
        }
        if (conn_pending_out(c)) {
            conn_check_obl(c, w->now_ms);
            continue;
        }
        conn_trim_idle(c, w->now_ms);
    }
}

/* Worker 0 keeps the instantaneous rates: 16 samples, 100 ms apart. */
#define RATE_SAMPLES 16

static void track_rates(worker *w)
{
    static struct {
        int64_t ms;
        uint64_t v[3];
    } ring[RATE_SAMPLES];
    static unsigned idx, filled;
    uint64_t now[3] = {0, 0, 0};
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        worker *x = &g_srv.workers[i];
        now[0] += atomic_load_explicit(&x->commands, memory_order_relaxed);
        now[1] += atomic_load_explicit(&x->net_in, memory_order_relaxed);
        now[2] += atomic_load_explicit(&x->net_out, memory_order_relaxed);
    }
    unsigned oldest = filled < RATE_SAMPLES ? 0 : idx;
    ring[idx].ms = w->now_ms;
    memcpy(ring[idx].v, now, sizeof(now));
    idx = (idx + 1) % RATE_SAMPLES;
    if (filled < RATE_SAMPLES)
        filled++;
    int64_t dt = w->now_ms - ring[oldest].ms;
    if (filled < 2 || dt <= 0)
        return;
    long long r[3];
    for (int k = 0; k < 3; k++)
        r[k] = now[k] >= ring[oldest].v[k]
                   ? (long long)((now[k] - ring[oldest].v[k]) * 1000 / (uint64_t)dt)
                   : 0;
    atomic_store_explicit(&g_srv.inst_ops, r[0], memory_order_relaxed);
    atomic_store_explicit(&g_srv.inst_in_bps, r[1], memory_order_relaxed);
    atomic_store_explicit(&g_srv.inst_out_bps, r[2], memory_order_relaxed);
}

/* Sends the replies the batch produced (conn_flush_later), before closed connections are
 * freed. */
static void flush_pending(worker *w)
{
    while (w->flush_list) {
        conn *c = w->flush_list;
        w->flush_list = c->wnext;
        c->wnext = NULL;
        c->flags &= ~(unsigned)CONN_FLUSH_PENDING;
        if (!(c->flags & CONN_CLOSED))
            conn_flush(c);
    }
}

/* A conn that requests in flight still name (io_uring) waits for their completions. */
void worker_bury(worker *w)
{
    conn **pp = &w->graveyard;
    while (*pp) {
        conn *c = *pp;
        if (c->uops) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        conn_free(c);
    }
}

void worker_shutdown(worker *w)
{
    if (w->ue)
        uring_stop_accepting(w); /* before close: the polls hold the listening sockets */
    for (int i = 0; i < w->nlisteners; i++)
        if (!w->listeners[i].is_unix)
            close(w->listeners[i].fd);
    w->nlisteners = 0;
    int64_t deadline = server_now_ms() + SHUTDOWN_FLUSH_MS;
    for (;;) {
        int pending = 0;
        if (srv_persist_on)
            srv_persist_worker_tick(w); /* replies still waiting for the log */
        for (conn *c = w->conns; c; c = c->next)
            if (conn_pending_out(c) && conn_flush(c) == 0 && conn_pending_out(c))
                pending++;
        worker_bury(w);
        if (!pending || server_now_ms() >= deadline)
            break;
        if (w->ue) {
            uring_wait(w, 10); /* the sends' completions */
        } else {
            struct epoll_event evs[MAX_EVENTS];
            epoll_wait(w->epfd, evs, MAX_EVENTS, 10);
        }
    }
    while (w->conns)
        conn_close(w->conns, NULL);
    worker_bury(w);
}

void worker_on_wake(worker *w)
{
    /* Kill requests are handled now; the pub/sub inbox right after the batch. */
    if (!atomic_exchange(&w->kill_pending, 0))
        return;
    conn *next;
    for (conn *c = w->conns; c; c = next) {
        next = c->next;
        if (atomic_load_explicit(&c->kill, memory_order_relaxed))
            conn_close(c, "killed by CLIENT KILL");
    }
}

void worker_after_batch(worker *w)
{
    if (srv_persist_on)
        srv_persist_worker_tick(w);
    flush_pending(w);
    pubsub_worker_tick(w);
    worker_bury(w);
    if (w->now_ms - w->last_cron_ms >= CRON_MS) {
        w->last_cron_ms = w->now_ms;
        if (w->id == 0)
            track_rates(w);
        if (w->id == 0 && srv_persist_on)
            srv_persist_cron(w->now_ms);
        cron(w);
        worker_bury(w);
    }
}

int worker_cron_wait_ms(const worker *w)
{
    int64_t left = w->last_cron_ms + CRON_MS - server_now_ms();
    return left < 0 ? 0 : left > CRON_MS ? CRON_MS : (int)left;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    char tname[16];
    snprintf(tname, sizeof(tname), "mnemo-w%u", w->id);
    pthread_setname_np(pthread_self(), tname);
    w->now_ms = server_now_ms();
    w->last_cron_ms = w->now_ms;
    cmd_clock_sync();

    if (CFG(io_engine) == IO_ENGINE_URING && uring_worker_init(w) == 0) {
        uring_worker_run(w);
        return NULL;
    }
    while (!atomic_load_explicit(&g_srv.shutdown, memory_order_relaxed)) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, CRON_MS);
        w->now_ms = server_now_ms();
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (kind == EV_CONN) {
                conn *c = evs[i].data.ptr;
                if (c->flags & CONN_CLOSED)
                    continue;
                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_on_readable(c);
                if ((e & EPOLLOUT) && !(c->flags & CONN_CLOSED))
                    conn_on_writable(c);
            } else if (kind == EV_LISTENER) {
                worker_accept(w, evs[i].data.ptr);
            } else if (kind == EV_EVENTFD) {
                uint64_t v;
                ssize_t r = read(w->evfd, &v, sizeof(v));
                (void)r;
                worker_on_wake(w);
            }
        }
        worker_after_batch(w);
    }
    worker_shutdown(w);
    return NULL;
}

void worker_wake(worker *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->evfd, &one, sizeof(one));
    (void)r;
}

int workers_start(void)
{
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        if (pthread_create(&g_srv.workers[i].thread, NULL, worker_main, &g_srv.workers[i]) != 0) {
            log_warning("Could not start worker thread %u", i);
            return -1;
        }
    }
    return 0;
}

void workers_stop(void)
{
    atomic_store(&g_srv.shutdown, 1);
    for (unsigned i = 0; i < g_srv.nworkers; i++)
        worker_wake(&g_srv.workers[i]);
    for (unsigned i = 0; i < g_srv.nworkers; i++)
        pthread_join(g_srv.workers[i].thread, NULL);
    if (g_srv.unix_fd >= 0) {
        char path[512];
        close(g_srv.unix_fd);
        config_get_string(&g_cfg.unixsocket, path, sizeof(path));
        unlink(path);
        g_srv.unix_fd = -1;
    }
}

void workers_free(void)
{
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        close(g_srv.workers[i].epfd);
        close(g_srv.workers[i].evfd);
        if (g_srv.workers[i].spare_fd >= 0)
            close(g_srv.workers[i].spare_fd);
    }
    free(g_srv.workers);
    g_srv.workers = NULL;
}

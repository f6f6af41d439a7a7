/*
 * conn.c — a connection's life: accept, read, parse, dispatch, write, close (see conn.h).
 *
 * Reads: level-triggered epoll. On readiness the worker reads into the free tail of qbuf (at
 * least 16 KB, or as much as the argument the parser waits for); if the read filled the
 * space, more may be waiting, so it parses, then reads again (at most READ_ROUNDS times per
 * event, for fairness between connections). A read that does not fill the space has drained
 * the socket, and no extra read(2) is spent to learn EAGAIN.
 *
 * Pipelining: every complete command in qbuf is executed before anything is written; the
 * replies of the whole batch leave with one write(2). A partial write keeps the rest and arms
 * EPOLLOUT; reading continues meanwhile (as Redis does), bounded by the output buffer limits.
 *
 * Errors: a protocol error is answered with Redis's text and the connection is closed once
 * that reply is written; replies already produced for earlier commands of the same read go
 * out first. Nothing else on the server is affected.
 *
 * io_uring (uring.h): the engine calls conn_on_data / conn_on_eof / conn_on_sent instead of
 * the readiness handlers; parsing, dispatch, holds and limits are the same code. conn_flush
 * then hands the sendable bytes to a send request instead of calling send(2) (flush_uring).
 */
#include "server/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/log.h"
#include "server/pubsub.h"
#include "server/reply.h"
#include "server/server.h"
#include "server/slowlog.h"
#include "server/srv_persist.h"
#include "server/uring.h"
#include "server/worker.h"

#define QBUF_MIN ((size_t)16 * 1024)
#define QBUF_KEEP ((size_t)256 * 1024) /* larger idle query buffers are given back */
#define OUT_KEEP ((size_t)1024 * 1024) /* larger idle output buffers are given back */
#define READ_ROUNDS 16

static void format_addr(const struct sockaddr_storage *ss, int is_unix, const char *path,
                        char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (is_unix) {
        snprintf(buf, cap, "%s:0", path);
        return;
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, cap, "%s:%d", ip, port);
}

static void parser_limits(conn *c)
{
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk = CFG(proto_max_bulk_len);
    lim.unauthenticated = !c->authed;
    c->parser.limits = lim;
}

conn *conn_create(worker *w, int fd, int is_unix)
{
    conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->kind = EV_CONN;
    c->fd = fd;
    c->w = w;
    c->proto = 2;
    c->authed = !config_auth_required();
    c->id = atomic_fetch_add(&g_srv.next_client_id, 1) + 1;
    c->ctime_ms = w->now_ms;
    atomic_init(&c->last_ms, w->now_ms);
    atomic_init(&c->pub_multi, -1);
    c->fd0 = fd;
    c->is_unix = is_unix;
    resp_parser_init(&c->parser, NULL);
    parser_limits(c);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char path[128] = "";
    if (is_unix)
        config_get_string(&g_cfg.unixsocket, path, sizeof(path));
    memset(&ss, 0, sizeof(ss));
    getpeername(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, is_unix, path, c->addr, sizeof(c->addr));
    sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, is_unix, path, c->laddr, sizeof(c->laddr));

    if (w->ue) {
        /* Queued only: submitted with the loop's next enter. */
        if (uring_recv_arm(c) != 0) {
            log_warning("io_uring: no submission entry for a new connection");
            close(fd);
            free(c);
            return NULL;
        }
    } else {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            log_warning("epoll_ctl: %s", strerror(errno));
            close(fd);
            free(c);
            return NULL;
        }
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    WSTAT_ADD(w->nconns, 1);

    pthread_mutex_lock(&g_srv.clients_lock);
    c->rnext = g_srv.clients;
    if (g_srv.clients)
        g_srv.clients->rprev = c;
    g_srv.clients = c;
    pthread_mutex_unlock(&g_srv.clients_lock);
    log_verbose("Accepted %s", c->addr);
    return c;
}

void conn_close(conn *c, const char *why)
{
    worker *w = c->w;
    if (c->flags & CONN_CLOSED)
        return;
    c->flags |= CONN_CLOSED;
    if (why)
        log_verbose("Client id=%llu addr=%s closed: %s", (unsigned long long)c->id, c->addr,
                    why);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    WSTAT_ADD(w->nconns, -1);
    pubsub_conn_closed(c);
    srv_persist_conn_closed(c);

    pthread_mutex_lock(&g_srv.clients_lock);
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        g_srv.clients = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    pthread_mutex_unlock(&g_srv.clients_lock);
    /* Closed only once it has left the registry and the count: a client that sees EOF never
     * finds it in CLIENT LIST or connected_clients afterwards. */
    atomic_fetch_sub(&g_srv.connected, 1);
    if (w->ue)
        uring_cancel(c); /* its requests hold the file: cancel them while fd still names it */
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;

    c->next = w->graveyard;
    w->graveyard = c;
}

void conn_free(conn *c)
{
    conn_discard_multi(c);
    conn_unwatch(c);
    free(c->mq);
    free(c->watched);
    resp_parser_deinit(&c->parser);
    resp_buf_free(&c->out);
    resp_buf_free(&c->sending);
    free(c->qbuf);
    free(c->name);
    free(c);
}

void conn_discard_multi(conn *c)
{
    for (int i = 0; i < c->mq_len; i++)
        free(c->mq[i].argv);
    c->mq_len = 0;
    if (c->mq_cap > 64) {
        free(c->mq);
        c->mq = NULL;
        c->mq_cap = 0;
    }
    c->flags &= ~(unsigned)(CONN_MULTI | CONN_DIRTY_EXEC);
    atomic_store_explicit(&c->pub_multi, -1, memory_order_relaxed);
}

void conn_unwatch(conn *c)
{
    for (int i = 0; i < c->nwatched; i++)
        free(c->watched[i].key);
    c->nwatched = 0;
}

/* Arms EPOLLOUT while output is pending. A connection that is only waiting to send its last
 * replies before closing no longer listens for input, so a client that keeps sending cannot
 * make a level-triggered EPOLLIN fire in a loop. */
static void set_events(conn *c, int want_write)
{
    if (c->w->ue)
        return; /* io_uring: no readiness interest to change */
    int no_read = want_write && (c->flags & CONN_CLOSE_AFTER_REPLY);
    int cur_write = !!(c->flags & CONN_WANT_WRITE), cur_noread = !!(c->flags & CONN_NO_READ);
    if (cur_write == !!want_write && cur_noread == no_read)
        return;
    struct epoll_event ev = {.events = (no_read ? 0 : EPOLLIN) | (want_write ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->flags &= ~(unsigned)(CONN_WANT_WRITE | CONN_NO_READ);
    if (want_write)
        c->flags |= CONN_WANT_WRITE;
    if (no_read)
        c->flags |= CONN_NO_READ;
}

int conn_check_obl(conn *c, int64_t now_ms)
{
    size_t pending = conn_pending_out(c);
    int cls = pubsub_obl_class(c);
    long long hard = CFG(obl[cls].hard);
    long long soft = CFG(obl[cls].soft);
    if (hard > 0 && pending >= (size_t)hard) {
        log_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
                    (unsigned long long)c->id, c->addr);
        conn_close(c, NULL);
        return -1;
    }
    if (soft > 0 && pending >= (size_t)soft) {
        if (!c->obl_soft_since) {
            c->obl_soft_since = now_ms;
        } else if (now_ms - c->obl_soft_since >= CFG(obl[cls].seconds) * 1000) {
            log_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
                        (unsigned long long)c->id, c->addr);
            conn_close(c, NULL);
            return -1;
        }
    } else {
        c->obl_soft_since = 0;
    }
    return 0;
}

/* Everything is sent: resets the output state; closes if that was the last reply. */
static int flush_done(conn *c)
{
    c->out.len = 0;
    c->osent = 0;
    c->rel_off = 0;
    for (int i = 0; i < c->nholds; i++)
        c->hold_end[i] = 0;
    c->obl_soft_since = 0;
    if (c->out.cap > OUT_KEEP)
        resp_buf_free(&c->out);
    atomic_store_explicit(&c->pub_omem, 0, memory_order_relaxed);
    set_events(c, 0);
    if (c->flags & CONN_CLOSE_AFTER_REPLY) {
        conn_close(c, "closed after reply");
        return -1;
    }
    return 0;
}

/* io_uring: moves out[osent..sendable end) into `sending` and queues its send, unless a
 * send is in flight already (then the kernel has not taken the previous bytes yet: the
 * slow-reader case, where the output buffer limits apply). */
static int flush_uring(conn *c)
{
    int inflight = c->sending_off < c->sending.len;
    size_t lim = conn_sendable_end(c);
    if (!inflight && c->osent < lim) {
        size_t n = lim - c->osent;
        atomic_store_explicit(&c->last_ms, c->w->now_ms, memory_order_relaxed);
        if (c->osent == 0 && lim == c->out.len) {
            /* All of it: swap the buffers, no copy. */
            resp_buf t = c->sending;
            c->sending = c->out;
            c->out = t;
            c->out.len = 0;
        } else {
            c->sending.len = 0;
            if (resp_buf_reserve(&c->sending, n) != RESP_OK) {
                conn_close(c, "out of memory for the reply");
                return -1;
            }
            memcpy(c->sending.data, c->out.data + c->osent, n);
            c->sending.len = n;
            resp_buf_consume(&c->out, lim);
        }
        /* The offsets of held replies now count from what is left in out. */
        if (c->nholds)
            c->rel_off -= lim;
        for (int i = 0; i < c->nholds; i++)
            c->hold_end[i] -= lim;
        c->osent = 0;
        c->sending_off = 0;
        if (uring_send(c) != 0) {
            conn_close(c, "io_uring submission queue full");
            return -1;
        }
    }
    atomic_store_explicit(&c->pub_omem, conn_pending_out(c), memory_order_relaxed);
    if (inflight)
        return conn_check_obl(c, c->w->now_ms);
    if (c->sending_off < c->sending.len || c->osent < c->out.len)
        return 0; /* a send is on its way, or the rest waits for the log */
    return flush_done(c);
}

void conn_on_sent(conn *c, int res)
{
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
        conn_close(c, "write error");
        return;
    }
    if (res > 0) {
        c->sending_off += (size_t)res;
        WSTAT_ADD(c->w->net_out, (uint64_t)res);
    }
    if (c->sending_off < c->sending.len) {
        /* A short send: the socket buffer is full. The rest goes as soon as it has room. */
        if (uring_send(c) != 0) {
            conn_close(c, "io_uring submission queue full");
            return;
        }
        atomic_store_explicit(&c->pub_omem, conn_pending_out(c), memory_order_relaxed);
        conn_check_obl(c, c->w->now_ms);
        return;
    }
    c->sending.len = 0;
    c->sending_off = 0;
    if (c->sending.cap > OUT_KEEP)
        resp_buf_free(&c->sending);
    conn_flush(c); /* what was appended meanwhile, or the end of a close-after-reply */
}

int conn_flush(conn *c)
{
    if (c->flags & CONN_CLOSED)
        return -1;
    if (c->w->ue)
        return flush_uring(c);
    size_t lim = conn_sendable_end(c);
    if (c->osent < lim)
        atomic_store_explicit(&c->last_ms, c->w->now_ms, memory_order_relaxed);
    while (c->osent < lim) {
        ssize_t n = send(c->fd, c->out.data + c->osent, lim - c->osent, MSG_NOSIGNAL);
        if (n > 0) {
            c->osent += (size_t)n;
            WSTAT_ADD(c->w->net_out, (uint64_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Give back the sent prefix once it dominates the buffer. */
            if (c->osent >= ((size_t)64 << 10) && c->osent * 2 >= c->out.len) {
                resp_buf_consume(&c->out, c->osent);
                c->rel_off -= c->nholds ? c->osent : 0;
                for (int i = 0; i < c->nholds; i++)
                    c->hold_end[i] -= c->osent;
                c->osent = 0;
            }
            set_events(c, 1);
            atomic_store_explicit(&c->pub_omem, conn_pending_out(c), memory_order_relaxed);
            return conn_check_obl(c, c->w->now_ms);
        }
        conn_close(c, "write error");
        return -1;
    }
    if (c->osent < c->out.len) {
        /* The rest waits for the log to be durable; the release flushes it. */
        set_events(c, 0);
        atomic_store_explicit(&c->pub_omem, conn_pending_out(c), memory_order_relaxed);
        return 0;
    }
    return flush_done(c);
}

void conn_trim_idle(conn *c, int64_t now_ms)
{
    if (now_ms - atomic_load_explicit(&c->last_ms, memory_order_relaxed) < 2000)
        return;
    if (c->qbuf && c->qlen == 0) {
        free(c->qbuf);
        c->qbuf = NULL;
        c->qcap = 0;
        c->qpos = 0;
    }
    if (c->out.cap && c->out.len == 0)
        resp_buf_free(&c->out);
    if (c->sending.cap && c->sending.len == 0)
        resp_buf_free(&c->sending);
}

void conn_on_writable(conn *c)
{
    conn_flush(c);
}

/* Pipelined commands are parsed ahead, up to PARSE_AHEAD of them (at most PARSE_ARGS
 * arguments in all) in one pass over the query buffer (resp_parse_fast), each with its
 * command looked up once: the pass that finds their keys for the store's hint is also the
 * one that parses them and looks them up for dispatch. Parsing them in two passes (header
 * lines for the hint, then resp_parse and the lookup again) was 4-5 % of a pipelined INCR.
 * What the one pass does not take (the inline form, a partial command, more arguments than
 * fit, anything unusual) goes through resp_parse, which is the reference.
 *
 * The keys of those commands, at most HINT_KEYS, go to the store as one hint
 * (mnemo_prefetch_keys), so that their cache misses overlap instead of coming one after
 * another (find_in and table_probe_load were half of the server's samples under pipelined GET);
 * a lone key is not hinted (its lookup follows at once, nothing to overlap). A hint for the
 * wrong database (after a SELECT inside the batch) is only wasted.
 *
 * The commands parsed ahead point into the connection's query buffer, which does not move
 * while its commands run. One set per worker thread suffices: input is read and processed
 * only from the worker's event loop, never from inside a command, so process_input() is not
 * entered for another connection while this one's commands run. */
#define PARSE_AHEAD 16
#define PARSE_ARGS 64
#define HINT_KEYS 32

typedef struct ahead_cmd {
    size_t end;         /* query buffer offset just past the command */
    const command *cmd; /* NULL: unknown (cmd_dispatch_cmd replies so) */
    uint32_t arg0, argc;
} ahead_cmd;

static _Thread_local struct {
    int n, next;
    ahead_cmd cmd[PARSE_AHEAD];
    resp_arg argv[PARSE_ARGS];
} ahead;

static void parse_ahead(conn *c)
{
    const void *key[HINT_KEYS];
    size_t klen[HINT_KEYS];
    size_t pos = c->qpos, nargs = 0;
    int nkeys = 0, full = 0;
    ahead.n = ahead.next = 0;
    while (ahead.n < PARSE_AHEAD && !full && pos < c->qlen) {
        resp_arg *argv = ahead.argv + nargs;
        size_t argc;
        ssize_t r = resp_parse_fast(&c->parser, c->qbuf + pos, c->qlen - pos, argv,
                                    PARSE_ARGS - nargs, &argc);
        if (r <= 0)
            break;
        const command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
        if (cmd && cmd->first > 0) {
            long long last = cmd->last < 0 ? (long long)argc + cmd->last : cmd->last;
            int step = cmd->step > 0 ? cmd->step : 1, mark = nkeys;
            for (long long i = cmd->first; i <= last && i < (long long)argc; i += step) {
                if (nkeys == HINT_KEYS) {
                    full = 1; /* the hint is full: this command's keys stay out of it */
                    nkeys = mark;
                    break;
                }
                key[nkeys] = argv[i].ptr;
                klen[nkeys++] = argv[i].len;
            }
            if (full && ahead.n > 0)
                break; /* parsed in the next pass, with a hint of its own */
        }
        ahead.cmd[ahead.n++] = (ahead_cmd){(size_t)(pos + (size_t)r), cmd, (uint32_t)nargs,
                                           (uint32_t)argc};
        nargs += argc;
        pos += (size_t)r;
    }
    if (nkeys >= 2)
        mnemo_prefetch_keys(srv_store(), c->db, key, klen, (size_t)nkeys);
}

typedef struct hint_keys {
    const void **key;
    size_t *klen, n, max;
} hint_keys;

static void hint_key(void *ctx, const resp_arg *a)
{
    hint_keys *h = ctx;
    if (h->n < h->max) {
        h->key[h->n] = a->ptr;
        h->klen[h->n++] = a->len;
    }
}

size_t conn_hint_keys(conn *c, const char *data, size_t n, const void **key, size_t *klen,
                      size_t max)
{
    if (c->qpos != c->qlen || (c->flags & (CONN_CLOSED | CONN_CLOSE_AFTER_REPLY)))
        return 0; /* the data continues a command: parse_ahead hints what it completes */
    resp_arg argv[8];
    size_t argc;
    ssize_t r = resp_parse_fast(&c->parser, data, n, argv, 8, &argc);
    if (r <= 0 || (size_t)r < n)
        return 0; /* incomplete; or a pipeline, which parse_ahead hints as a whole */
    const command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    hint_keys h = {key, klen, 0, max};
    if (cmd)
        cmd_keys(cmd, (int)argc, argv, hint_key, &h);
    return h.n;
}

/* The next command through resp_parse: 1 if c->parser holds one to run, 0 if there was
 * nothing to run ("*0", an empty line), -1 to stop (incomplete, or a protocol error: then
 * the error is queued and the connection closes after it). */
static int parse_one(conn *c)
{
    ssize_t n = resp_parse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos);
    if (n == RESP_EUNFIN)
        return -1;
    if (n < 0) {
        const char *e = n == RESP_EPROTO ? resp_parser_error_reply(&c->parser)
                                         : "ERR out of memory";
        log_verbose("Protocol error from client id=%llu addr=%s: %s",
                    (unsigned long long)c->id, c->addr, e);
        c->werr |= resp_write_error(&c->out, e, strlen(e));
        c->flags |= CONN_CLOSE_AFTER_REPLY;
        c->qpos = c->qlen = 0;
        return -1;
    }
    c->qpos += (size_t)n;
    if (c->parser.argc == 0)
        return 0;
    if (c->parser.argc > (size_t)1 << 30) {
        reply_err(c, "ERR Protocol error: invalid multibulk length");
        c->flags |= CONN_CLOSE_AFTER_REPLY;
        return -1;
    }
    return 1;
}

/* Runs every complete command in the query buffer. */
static void process_input(conn *c)
{
    slowlog_batch_begin();
    ahead.n = ahead.next = 0;
    while (c->qpos < c->qlen && !(c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSED))) {
        if (ahead.next == ahead.n)
            parse_ahead(c);
        int authed_before = c->authed;
        if (ahead.next < ahead.n) {
            const ahead_cmd *a = &ahead.cmd[ahead.next++];
            c->qpos = a->end;
            cmd_dispatch_cmd(c, a->cmd, (int)a->argc, ahead.argv + a->arg0);
        } else {
            int r = parse_one(c);
            if (r < 0)
                break;
            if (r == 0)
                continue;
            cmd_dispatch(c, (int)c->parser.argc, c->parser.argv);
        }
        WSTAT_ADD(c->w->commands, 1);
        if (c->werr) {
            conn_close(c, "out of memory for the reply");
            return;
        }
        if (c->authed != authed_before) {
            parser_limits(c);
            ahead.n = ahead.next = 0; /* what follows is parsed again under the new limits */
        }
        if (conn_pending_out(c) > ((size_t)64 << 10) && conn_check_obl(c, c->w->now_ms) < 0)
            return;
    }
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
        /* No partial command is pending: pick up CONFIG SET proto-max-bulk-len. */
        if (c->parser.limits.max_bulk != CFG(proto_max_bulk_len))
            parser_limits(c);
    }
}

/* Makes room to read: at least QBUF_MIN free bytes, or what the pending argument needs. */
static int qbuf_make_room(conn *c)
{
    if (c->qpos > 0 && (c->qpos == c->qlen || c->qcap - c->qlen < QBUF_MIN)) {
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
    size_t need = c->qlen + QBUF_MIN;
    size_t want = resp_parser_want(&c->parser); /* relative to the command's start, qpos */
    if (want)
        want += c->qpos;
    if (want > need)
        need = want;
    if (need <= c->qcap)
        return 0;
    size_t cap = c->qcap ? c->qcap : QBUF_MIN;
    while (cap < need)
        cap *= 2;
    if (want > 0 && want + QBUF_MIN < cap && want > c->qcap)
        cap = want + QBUF_MIN; /* a big argument: read it in place, no doubling slack */
    char *nb = realloc(c->qbuf, cap);
    if (!nb)
        return -1;
    c->qbuf = nb;
    c->qcap = cap;
    return 0;
}

static void after_read(conn *c);

/* Takes n bytes just read into qbuf: statistics, the query buffer limit, then the commands.
 * Returns 0, or -1 if the connection was closed. */
static int took_input(conn *c, size_t n)
{
    c->qlen += n;
    WSTAT_ADD(c->w->net_in, (uint64_t)n);
    atomic_store_explicit(&c->last_ms, c->w->now_ms, memory_order_relaxed);
    if (c->qlen - c->qpos > (size_t)CFG(client_query_buffer_limit)) {
        log_warning("Closing client id=%llu addr=%s that reached max query buffer length",
                    (unsigned long long)c->id, c->addr);
        conn_close(c, NULL);
        return -1;
    }
    process_input(c);
    return 0;
}

void conn_on_data(conn *c, const char *data, size_t n)
{
    while (n > 0) {
        /* After a protocol error or QUIT, input is dropped (epoll stops reading instead). */
        if (c->flags & (CONN_CLOSED | CONN_CLOSE_AFTER_REPLY))
            return;
        if (qbuf_make_room(c) != 0) {
            conn_close(c, "out of memory for the query buffer");
            return;
        }
        size_t k = c->qcap - c->qlen;
        if (k > n)
            k = n;
        memcpy(c->qbuf + c->qlen, data, k);
        data += k;
        n -= k;
        if (took_input(c, k) != 0)
            return;
    }
    after_read(c);
}

void conn_on_eof(conn *c)
{
    /* Replies to what the peer sent before are still worth an attempt (queued before the
     * cancel, they are submitted first). */
    if (conn_pending_out(c))
        conn_flush(c);
    conn_close(c, "client closed connection");
}

void conn_on_readable(conn *c)
{
    for (int round = 0; round < READ_ROUNDS; round++) {
        if (c->flags & (CONN_CLOSED | CONN_CLOSE_AFTER_REPLY))
            break;
        if (qbuf_make_room(c) != 0) {
            conn_close(c, "out of memory for the query buffer");
            return;
        }
        size_t room = c->qcap - c->qlen;
        ssize_t n = read(c->fd, c->qbuf + c->qlen, room);
        if (n == 0) {
            /* The peer closed (or half-closed) its side: replies to what it sent before are
             * still worth a non-blocking attempt. */
            if (conn_pending_out(c))
                conn_flush(c);
            conn_close(c, "client closed connection");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(c, "read error");
            return;
        }
        if (took_input(c, (size_t)n) != 0)
            return;
        if ((size_t)n < room)
            break;
    }
    after_read(c);
}

/* After a read batch: trims the query buffer, publishes its size, holds the replies for
 * the log if needed, and queues the flush for the end of the worker's batch. */
static void after_read(conn *c)
{
    if (c->flags & CONN_CLOSED)
        return;
    if (c->qlen == 0 && c->qcap > QBUF_KEEP) {
        free(c->qbuf);
        c->qbuf = NULL;
        c->qcap = 0;
    }
    atomic_store_explicit(&c->pub_qbuf, c->qlen - c->qpos, memory_order_relaxed);
    if (srv_persist_on)
        srv_persist_after_read(c);
    if (conn_pending_out(c) > 0 || (c->flags & CONN_CLOSE_AFTER_REPLY))
        conn_flush_later(c);
}

void conn_flush_later(conn *c)
{
    if (c->flags & (CONN_FLUSH_PENDING | CONN_CLOSED))
        return;
    c->flags |= CONN_FLUSH_PENDING;
    c->wnext = c->w->flush_list;
    c->w->flush_list = c;
}

size_t conn_describe(conn *c, char *buf, size_t cap, int64_t now_ms)
{
    const command *cmd = atomic_load_explicit(&c->last_cmd, memory_order_relaxed);
    char flags[8];
    int nf = 0;
    int multi = atomic_load_explicit(&c->pub_multi, memory_order_relaxed);
    int subs = atomic_load_explicit(&c->pub_subs, memory_order_relaxed);
    int psubs = atomic_load_explicit(&c->pub_psubs, memory_order_relaxed);
    if (subs || psubs)
        flags[nf++] = 'P';
    if (multi >= 0)
        flags[nf++] = 'x';
    if (c->is_unix)
        flags[nf++] = 'U';
    if (!nf)
        flags[nf++] = 'N';
    flags[nf] = 0;
    int64_t last = atomic_load_explicit(&c->last_ms, memory_order_relaxed);
    size_t qb = atomic_load_explicit(&c->pub_qbuf, memory_order_relaxed);
    size_t om = atomic_load_explicit(&c->pub_omem, memory_order_relaxed);
    int n = snprintf(buf, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%u "
                     "sub=%d psub=%d ssub=0 multi=%d qbuf=%zu qbuf-free=0 argv-mem=0 multi-mem=0 "
                     "rbs=%zu rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
                     "user=default redir=-1 resp=%d\n",
                     (unsigned long long)c->id, c->addr, c->laddr, c->fd0, c->name ? c->name : "",
                     (long long)((now_ms - c->ctime_ms) / 1000),
                     (long long)((now_ms - last) / 1000), flags,
                     atomic_load_explicit(&c->pub_db, memory_order_relaxed), subs, psubs, multi, qb,
                     (size_t)QBUF_MIN, om, sizeof(conn) + qb + om, om ? "w" : "",
                     cmd ? cmd->name : "NULL", c->proto);
    return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}

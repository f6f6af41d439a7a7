/*
 * conn.h — one client connection: its buffers, its protocol state, its transaction state.
 *
 * A connection belongs to exactly one worker, which alone reads, writes and frees it; no lock
 * protects its private fields. The few fields other threads read (CLIENT LIST, CLIENT KILL,
 * INFO) are the "shared" block below: atomics, or the name, which is guarded by the server's
 * clients_lock.
 *
 * Input:   qbuf[qpos..qlen) holds bytes read but not yet consumed. The parser sees
 *          qbuf + qpos, so a command always starts at the parser's buf[0].
 * Output:  replies are appended to `out` during a whole pipeline and written at the end of
 *          the read batch with one write(2); out.data[osent..out.len) is what the kernel has not
 *          taken yet (EPOLLOUT is armed while that is non-empty).
 *
 *   read(2) ──> qbuf ──resp_parse──> argv ──dispatch──> handler ──> out ──write(2)──> socket
 *
 * Under the io_uring engine (uring.h) the same functions run; only the two ends differ:
 * received bytes arrive in the worker's provided buffers and are copied into qbuf
 * (conn_on_data), and the sendable part of `out` is handed to one send request at a time by
 * moving it into `sending`, which the kernel may read until the completion arrives
 * (conn_on_sent). `out` then only holds bytes not yet handed over, and osent stays 0.
 */
#ifndef MNEMO_SERVER_CONN_H
#define MNEMO_SERVER_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/resp_parse.h"
#include "resp/resp_write.h"

struct worker;
struct command;
struct psub;

/* Handle kinds stored first in every object registered with epoll. */
enum { EV_LISTENER = 1, EV_EVENTFD = 2, EV_CONN = 3 };

/* conn.flags */
enum {
    CONN_CLOSE_AFTER_REPLY = 1 << 0, /* stop reading; close once the output is flushed */
    CONN_CLOSED = 1 << 1,            /* closed, waiting to be freed at the end of the batch */
    CONN_MULTI = 1 << 2,             /* inside MULTI: commands are queued */
    CONN_DIRTY_EXEC = 1 << 3,        /* a command failed to queue: EXEC aborts */
    CONN_WANT_WRITE = 1 << 4,        /* EPOLLOUT armed */
    CONN_REPLY_OFF = 1 << 5,         /* CLIENT REPLY OFF */
    CONN_REPLY_SKIP_NEXT = 1 << 6,   /* CLIENT REPLY SKIP: drop the next command's reply */
    CONN_NO_READ = 1 << 7,           /* EPOLLIN disarmed (closing after the last reply) */
    CONN_FLUSH_PENDING = 1 << 8,     /* on the worker's flush list (wnext) */
};

/* A command queued by MULTI: its arguments copied into one allocation. */
typedef struct queued_cmd {
    const struct command *cmd;
    int argc;
    resp_arg *argv; /* argv and the bytes it points to: one malloc block */
} queued_cmd;

/* A key watched by WATCH, with what it was when watched. */
typedef struct watched_key {
    unsigned db;
    int present;
    uint64_t version;
    int64_t expire_at; /* a TTL change does not change the version, but aborts EXEC */
    uint64_t swaps;    /* g_srv.db_swaps[db] at WATCH */
    size_t len;
    char *key;
} watched_key;

typedef struct conn {
    int kind; /* EV_CONN */
    int fd;
    uint64_t id;
    struct worker *w;
    struct conn *prev, *next;   /* the worker's list */
    struct conn *rprev, *rnext; /* the server's registry (clients_lock) */
    struct conn *wnext;         /* the worker's flush list (CONN_FLUSH_PENDING) */
    unsigned flags;

    /* protocol state */
    int proto;    /* 2 or 3 */
    int authed;   /* passed AUTH (or no password configured at connect time) */
    unsigned db;
    int werr;     /* a reply append failed: close after this command */

    /* input */
    char *qbuf;
    size_t qpos, qlen, qcap;
    resp_parser parser;

    /* output */
    resp_buf out;
    size_t osent;
    int64_t obl_soft_since; /* ms when the soft output limit was first exceeded, 0 = not */

    /* transaction */
    queued_cmd *mq;
    int mq_len, mq_cap;
    watched_key *watched;
    int nwatched, watched_cap;
    int in_exec;

    /* pub/sub: NULL until the first (P)SUBSCRIBE (pubsub.h) */
    struct psub *ps;

    /* persistence under appendfsync always (srv_persist.h): output from rel_off on waits
     * until the log is durable up to hold_lsn[0] (then up to hold_end[0] may go), ... */
    int nholds;
    uint64_t hold_lsn[2];
    size_t hold_end[2];
    size_t rel_off;
    struct conn *hprev, *hnext; /* the worker's held list */
    int held;

    /* io_uring engine only (uring.h): a send in flight owns sending.data[sending_off..len)
     * (the kernel reads it until the completion), so replies appended meanwhile may move
     * `out`. uops counts the requests in flight that carry this conn in their user_data: a
     * closed conn is freed only once it is back to 0. */
    resp_buf sending;
    size_t sending_off;
    int uops;
    int recv_armed; /* a multishot recv is in flight */

    /* shared with other threads (CLIENT LIST / KILL, INFO): constant after creation, atomics,
     * or guarded by clients_lock */
    char addr[64], laddr[64];
    int fd0;     /* the socket's number, for CLIENT LIST (fd is -1 once closed) */
    int is_unix; /* came in on the Unix socket */
    char *name;                       /* clients_lock */
    int64_t ctime_ms;
    _Atomic int64_t last_ms;          /* last interaction */
    _Atomic unsigned pub_db;
    _Atomic(const struct command *) last_cmd;
    _Atomic size_t pub_qbuf, pub_omem;
    _Atomic int pub_multi;            /* queued commands, -1 outside MULTI */
    _Atomic int kill;                 /* set by CLIENT KILL from any thread */
    _Atomic int pub_subs, pub_psubs;  /* channel / pattern subscriptions, for CLIENT LIST */
} conn;

/* Creates a connection for an accepted, non-blocking socket and registers it with the worker
 * and the registry. Returns NULL (socket closed) on failure. */
conn *conn_create(struct worker *w, int fd, int is_unix);

/* Reads what the socket has, runs every complete command, writes the replies. */
void conn_on_readable(conn *c);

/* Sends pending output (EPOLLOUT). */
void conn_on_writable(conn *c);

/* io_uring engine: n bytes received from the peer (copied, data stays the caller's). Runs
 * every complete command as conn_on_readable does. */
void conn_on_data(conn *c, const char *data, size_t n);

/* The keys (up to max) of the one command that `data`, about to be given to conn_on_data(),
 * holds: for a hint across connections (uring.c). 0 if it continues a command, is not
 * complete, holds more than one command (parse_ahead hints a pipeline) or names no key. */
size_t conn_hint_keys(conn *c, const char *data, size_t n, const void **key, size_t *klen,
                      size_t max);

/* io_uring engine: the peer closed its side (a recv of 0 bytes). */
void conn_on_eof(conn *c);

/* io_uring engine: the send request completed with res (bytes sent, or -errno). */
void conn_on_sent(conn *c, int res);

/* Closes the socket now (pending output is dropped) and schedules the free for the end of the
 * worker's event batch. Idempotent. */
void conn_close(conn *c, const char *why);

/* Frees a closed connection (the worker does it after each batch). */
void conn_free(conn *c);

/* Writes as much pending output as the socket takes; arms or disarms EPOLLOUT. Returns 0, or
 * -1 if the connection was closed. */
int conn_flush(conn *c);

/* Queues c's replies to be sent when the worker has handled its whole batch of events (as
 * Redis writes in beforeSleep): the loop goes back to epoll_wait less often and finds more
 * ready connections each time. */
void conn_flush_later(conn *c);

/* Checks the output buffer limits; closes the connection if they are exceeded (returns -1). */
int conn_check_obl(conn *c, int64_t now_ms);

/* Gives back the buffers of a connection idle for 2 seconds or more with nothing pending
 * (as Redis's clientsCron does), so that many idle clients cost little memory. */
void conn_trim_idle(conn *c, int64_t now_ms);

/* Bytes of output that may be sent now (replies waiting for the log are not). */
static inline size_t conn_sendable_end(const conn *c)
{
    return c->nholds ? c->rel_off : c->out.len;
}

/* Bytes of output waiting to be sent (including a send still in flight). */
static inline size_t conn_pending_out(const conn *c)
{
    return c->out.len - c->osent + (c->sending.len - c->sending_off);
}

/* Drops the transaction state (MULTI queue and WATCHed keys). */
void conn_discard_multi(conn *c);
void conn_unwatch(conn *c);

/* Formats the CLIENT LIST line for c (called with clients_lock held, from any thread). */
size_t conn_describe(conn *c, char *buf, size_t cap, int64_t now_ms);

#endif

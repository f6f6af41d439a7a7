/*
 * reply.h — helpers that append a reply to a connection's output buffer.
 *
 * Every helper records a failed append (out of memory) in conn.werr; the connection is then
 * closed after the command instead of sending a stream with a reply missing. The hot-path
 * helpers are inline wrappers over resp_write.h.
 */
#ifndef MNEMO_SERVER_REPLY_H
#define MNEMO_SERVER_REPLY_H

#include <string.h>

#include "mnemo.h"
#include "resp/resp_write.h"
#include "server/conn.h"

static inline void reply_ok(conn *c)
{
    c->werr |= resp_write_ok(&c->out);
}

static inline void reply_int(conn *c, long long v)
{
    c->werr |= resp_write_int(&c->out, v);
}

static inline void reply_bulk(conn *c, const void *p, size_t n)
{
    c->werr |= resp_write_bulk(&c->out, (const char *)p, n);
}

static inline void reply_bulk_str(conn *c, const char *s)
{
    reply_bulk(c, s, strlen(s));
}

static inline void reply_simple(conn *c, const char *s)
{
    c->werr |= resp_write_simple(&c->out, s, strlen(s));
}

/* The whole error text, code included: "ERR syntax error", "WRONGPASS ...". */
static inline void reply_err(conn *c, const char *s)
{
    c->werr |= resp_write_error(&c->out, s, strlen(s));
}

static inline void reply_null(conn *c)
{
    c->werr |= resp_write_null(&c->out, c->proto);
}

static inline void reply_null_array(conn *c)
{
    c->werr |= resp_write_null_array(&c->out, c->proto);
}

static inline void reply_array(conn *c, size_t n)
{
    c->werr |= resp_write_array(&c->out, n);
}

static inline void reply_map(conn *c, size_t n)
{
    c->werr |= resp_write_map(&c->out, n, c->proto);
}

static inline void reply_set(conn *c, size_t n)
{
    c->werr |= resp_write_set(&c->out, n, c->proto);
}

static inline void reply_verbatim(conn *c, const char *s, size_t n)
{
    c->werr |= resp_write_verbatim(&c->out, "txt", s, n, c->proto);
}

/* A formatted error (printf), texts up to 1 KB. */
void reply_errf(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The errors every command family shares, worded as Redis words them. */
#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOTINT "ERR value is not an integer or out of range"
#define ERR_NOTFLOAT "ERR value is not a valid float"
#define ERR_OVERFLOW "ERR increment or decrement would overflow"
#define ERR_NOKEY "ERR no such key"
#define ERR_DBRANGE "ERR DB index is out of range"
#define ERR_TOOBIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_NOMEM "OOM command not allowed when used memory > 'maxmemory'."

/* Replies with the Redis error for a library status that a command did not handle itself. */
void reply_status(conn *c, int status);

/* The common tail of commands that answer a count: v if the library call succeeded, else the
 * error for its status. */
static inline void reply_int_or_status(conn *c, int rc, long long v)
{
    if (rc == MNEMO_OK)
        reply_int(c, v);
    else
        reply_status(c, rc);
}

#endif

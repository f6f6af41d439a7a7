/*
 * cmd.c — command lookup, the dispatcher, MULTI queueing, and shared argument helpers.
 *
 * Lookup is an open-addressing hash over the lower-cased name, built once at startup and
 * read-only afterwards (so workers read it without a lock). The dispatcher applies Redis's
 * checks in Redis's order: unknown command, authentication, arity, subcommand, MULTI.
 */
#include "server/cmd.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/config.h"
#include "server/pubsub.h"
#include "server/reply.h"
#include "server/server.h"
#include "server/slowlog.h"
#include "util/clock.h"
#include "util/num.h"

#define INDEX_SLOTS 1024 /* power of two, well above the number of commands */

/* The command index: a name's first 16 bytes, folded to lower case, as two words, so that a
 * lookup hashes and compares two words instead of walking the name byte by byte (a
 * byte-wise FNV hash and compare were 150 instructions per lookup of "INCR", 5 % of a
 * pipelined INCR's user instructions). Bytes past 16 are compared one by one. */
typedef struct cmd_slot {
    uint64_t w0, w1;
    const command *cmd; /* NULL: free */
    uint32_t len;
} cmd_slot;

static cmd_slot cmd_index[INDEX_SLOTS];
static size_t ncommands;

static const command *const tables[] = {
    cmd_string_table, cmd_keys_table,    cmd_server_table,  cmd_conn_table,
    cmd_txn_table,    cmd_mnemo_table,   cmd_command_table, cmd_pubsub_table,
    cmd_slowlog_table, cmd_introspect_table, cmd_persist_table};

/* ASCII case folding without the locale (tolower() asks it for every character). */
static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'A') < 26u ? c + ('a' - 'A') : c);
}

/* lower() on each byte of a word at once: bytes 'A'-'Z' get 0x20 added, no other changes. */
static inline uint64_t lower8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t h = w & (0x7f * ones);
    uint64_t ge_a = h + (0x80 - 'A') * ones; /* bit 7 set where the low 7 bits are >= 'A' */
    uint64_t gt_z = h + (0x7f - 'Z') * ones; /* ... where they are > 'Z' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & (0x80 * ones); /* and the byte is ASCII */
    return w | (upper >> 2);
}

static inline uint64_t load8(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint64_t load4(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

/* The name's first 16 bytes as two words, folded: for a given length, different names give
 * different words. Loads that overlap where the name is shorter than a word (of 4-7 or 9-15
 * bytes: the first and the last 4 or 8), never a byte past the name; a copy into a zeroed
 * buffer was 19 of the lookup's 91 instructions. */
static inline void name_words(const char *s, size_t n, uint64_t *w0, uint64_t *w1)
{
    uint64_t a = 0, b = 0;
    if (n >= 16) {
        a = load8(s);
        b = load8(s + 8);
    } else if (n > 8) {
        a = load8(s);
        b = load8(s + n - 8);
    } else if (n == 8) {
        a = load8(s);
    } else if (n >= 4) {
        a = load4(s) | load4(s + n - 4) << 32;
    } else {
        for (size_t i = 0; i < n; i++)
            a |= (uint64_t)(unsigned char)s[i] << (8 * i);
    }
    *w0 = lower8(a);
    *w1 = lower8(b);
}

static inline uint32_t name_slot(uint64_t w0, uint64_t w1, size_t n)
{
    uint64_t h = (w0 ^ (w1 * 0x9e3779b97f4a7c15ull) ^ n) * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 54) & (INDEX_SLOTS - 1);
}

/* Whether s[0..n) equals name[0..n), ignoring ASCII case. */
static int tail_eq(const char *name, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)name[i]) != lower((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Whether the table name `name` (nlen bytes) is s[0..n), ignoring ASCII case. */
static int name_eq(const char *name, size_t nlen, const char *s, size_t n)
{
    return nlen == n && tail_eq(name, s, n);
}

void cmd_init(void)
{
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const command *c = tables[t]; c->name; c++) {
            size_t n = strlen(c->name);
            uint64_t w0, w1;
            name_words(c->name, n, &w0, &w1);
            uint32_t i = name_slot(w0, w1, n);
            while (cmd_index[i].cmd)
                i = (i + 1) & (INDEX_SLOTS - 1);
            cmd_index[i] = (cmd_slot){w0, w1, c, (uint32_t)n};
            ncommands++;
        }
    }
}

const command *cmd_lookup(const char *name, size_t len)
{
    if (len > 64)
        return NULL;
    uint64_t w0, w1;
    name_words(name, len, &w0, &w1);
    for (uint32_t i = name_slot(w0, w1, len); cmd_index[i].cmd; i = (i + 1) & (INDEX_SLOTS - 1)) {
        const cmd_slot *e = &cmd_index[i];
        if (e->w0 == w0 && e->w1 == w1 && e->len == len &&
            (len <= 16 || tail_eq(e->cmd->name + 16, name + 16, len - 16)))
            return e->cmd;
    }
    return NULL;
}

const command *cmd_lookup_sub(const command *parent, const char *name, size_t len)
{
    size_t plen = strlen(parent->name);
    if (!parent->subs)
        return NULL;
    for (const command *s = parent->subs; s->name; s++)
        if (name_eq(s->name + plen + 1, strlen(s->name + plen + 1), name, len))
            return s;
    return NULL;
}

void cmd_foreach(void (*fn)(void *ctx, const command *cmd), void *ctx)
{
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const command *c = tables[t]; c->name; c++)
            fn(ctx, c);
}

size_t cmd_count(void)
{
    return ncommands;
}

int cmd_keys(const command *cmd, int argc, resp_arg *argv,
             void (*fn)(void *ctx, const resp_arg *key), void *ctx)
{
    if (cmd->first <= 0)
        return 0;
    int last = cmd->last < 0 ? argc + cmd->last : cmd->last;
    int step = cmd->step > 0 ? cmd->step : 1;
    int n = 0;
    for (int i = cmd->first; i <= last && i < argc; i += step) {
        fn(ctx, &argv[i]);
        n++;
    }
    return n;
}

/* ---- argument helpers ----------------------------------------------------------------------- */

int arg_eq(const resp_arg *a, const char *lit)
{
    size_t n = strlen(lit);
    return a->len == n && strncasecmp(a->ptr, lit, n) == 0;
}

int arg_ll(const resp_arg *a, long long *out)
{
    return resp_string2ll(a->ptr, a->len, out);
}

int arg_ll_or_reply(conn *c, const resp_arg *a, long long *out)
{
    if (resp_string2ll(a->ptr, a->len, out))
        return 1;
    reply_err(c, ERR_NOTINT);
    return 0;
}

void reply_errf(conn *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    c->werr |= resp_write_error(&c->out, buf, (size_t)n);
}

void reply_status(conn *c, int st)
{
    switch (st) {
    case MNEMO_ENOTINT:
        reply_err(c, ERR_NOTINT);
        break;
    case MNEMO_ENOTFLOAT:
        reply_err(c, ERR_NOTFLOAT);
        break;
    case MNEMO_ENOTFINITE:
        reply_err(c, "ERR increment would produce NaN or Infinity");
        break;
    case MNEMO_EOVERFLOW:
        reply_err(c, ERR_OVERFLOW);
        break;
    case MNEMO_ETOOBIG:
        reply_err(c, ERR_TOOBIG);
        break;
    case MNEMO_ENOMEM:
    case MNEMO_ENOSPACE:
        reply_err(c, ERR_NOMEM);
        break;
    case MNEMO_EDB:
        reply_err(c, ERR_DBRANGE);
        break;
    case MNEMO_ENOTFOUND:
        reply_err(c, ERR_NOKEY);
        break;
    default:
        reply_errf(c, "ERR %s", mnemo_strerror(st));
    }
}

/* ---- dispatch ------------------------------------------------------------------------------- */

/* A printable copy of an argument for error texts: at most max bytes, stopping at a NUL as
 * Redis's %s does. */
static int arg_print_len(const resp_arg *a, size_t max)
{
    size_t n = a->len < max ? a->len : max;
    const char *z = memchr(a->ptr, 0, n);
    return (int)(z ? (size_t)(z - a->ptr) : n);
}

static void reply_unknown(conn *c, int argc, resp_arg *argv)
{
    char args[512];
    size_t len = 0;
    args[0] = 0;
    for (int i = 1; i < argc && len < 128; i++) {
        int n = snprintf(args + len, sizeof(args) - len, "'%.*s' ",
                         arg_print_len(&argv[i], 128 - len), argv[i].ptr);
        if (n > 0)
            len += (size_t)n;
    }
    reply_errf(c, "ERR unknown command '%.*s', with args beginning with: %s",
               arg_print_len(&argv[0], 128), argv[0].ptr, args);
}

static int arity_ok(const command *cmd, int argc)
{
    return cmd->arity >= 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* Copies a command into the MULTI queue. */
static int queue_command(conn *c, const command *cmd, int argc, resp_arg *argv)
{
    size_t bytes = (size_t)argc * sizeof(resp_arg);
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    if (c->mq_len == c->mq_cap) {
        int cap = c->mq_cap ? c->mq_cap * 2 : 8;
        queued_cmd *q = realloc(c->mq, (size_t)cap * sizeof(*q));
        if (!q)
            return -1;
        c->mq = q;
        c->mq_cap = cap;
    }
    resp_arg *copy = malloc(bytes ? bytes : 1);
    if (!copy)
        return -1;
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        copy[i].ptr = p;
        copy[i].len = argv[i].len;
        p += argv[i].len;
    }
    c->mq[c->mq_len].cmd = cmd;
    c->mq[c->mq_len].argc = argc;
    c->mq[c->mq_len].argv = copy;
    c->mq_len++;
    atomic_store_explicit(&c->pub_multi, c->mq_len, memory_order_relaxed);
    return 0;
}

/* The running command's start (monotonic ns; 0 outside a timed command), and the wall
 * clock's offset from the monotonic one (sampled by cmd_clock_sync()). */
static _Thread_local uint64_t cmd_start_ns;
static _Thread_local int64_t wall_offset_ns;

void cmd_clock_sync(void)
{
    struct timespec r;
    clock_gettime(CLOCK_REALTIME, &r);
    uint64_t m = clock_monotonic_ns();
    wall_offset_ns = ((int64_t)r.tv_sec * 1000000000 + r.tv_nsec) - (int64_t)m;
}

int64_t cmd_store_clock(void *ctx)
{
    (void)ctx;
    if (cmd_start_ns && wall_offset_ns)
        return ((int64_t)cmd_start_ns + wall_offset_ns) / 1000000;
    return clock_realtime_ms();
}

void cmd_call(conn *c, const command *cmd, int argc, resp_arg *argv)
{
    atomic_store_explicit(&c->last_cmd, cmd, memory_order_relaxed);
    if (!slowlog_timing_on()) {
        cmd->fn(c, argc, argv);
        return;
    }
    /* One clock read per command: the previous command's end is this one's start. The store
     * takes its time from it too (cmd_store_clock), as Redis takes a command's time once. */
    uint64_t t0 = slowlog_t_last ? slowlog_t_last : clock_monotonic_ns();
    uint64_t outer = cmd_start_ns; /* EXEC runs its queued commands through here */
    cmd_start_ns = t0;
    cmd->fn(c, argc, argv);
    cmd_start_ns = outer;
    uint64_t t1 = clock_monotonic_ns();
    slowlog_t_last = t1;
    long long us = (long long)((t1 - t0) / 1000);
    if (slowlog_qualifies(us))
        slowlog_observe(c, cmd, argc, argv, us);
}

/* RESP2 clients in subscribed mode may only run these (Redis's rule). */
static int allowed_when_subscribed(const command *cmd)
{
    static const char *const ok[] = {"subscribe", "unsubscribe", "psubscribe", "punsubscribe",
                                     "ping", "quit", "reset", "ssubscribe", "sunsubscribe"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(cmd->name, ok[i]) == 0)
            return 1;
    return 0;
}

static void reject(conn *c)
{
    if (c->flags & CONN_MULTI)
        c->flags |= CONN_DIRTY_EXEC;
}

void cmd_dispatch(conn *c, int argc, resp_arg *argv)
{
    cmd_dispatch_cmd(c, cmd_lookup(argv[0].ptr, argv[0].len), argc, argv);
}

void cmd_dispatch_cmd(conn *c, const command *cmd, int argc, resp_arg *argv)
{
    size_t mark = c->out.len;
    int skip = (c->flags & CONN_REPLY_SKIP_NEXT) != 0;
    c->flags &= ~(unsigned)CONN_REPLY_SKIP_NEXT;

    if (!cmd) {
        reply_unknown(c, argc, argv);
        reject(c);
        goto done;
    }
    if (!c->authed && !(cmd->flags & CMD_NOAUTH)) {
        reply_err(c, "NOAUTH Authentication required.");
        reject(c);
        goto done;
    }
    if (!arity_ok(cmd, argc)) {
        reply_errf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        reject(c);
        goto done;
    }
    if (cmd->flags & CMD_CONTAINER) {
        const command *sub = cmd_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (!sub) {
            char up[64];
            size_t n = argv[0].len < sizeof(up) - 1 ? argv[0].len : sizeof(up) - 1;
            for (size_t i = 0; i < n; i++)
                up[i] = (char)toupper((unsigned char)argv[0].ptr[i]);
            up[n] = 0;
            reply_errf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                       arg_print_len(&argv[1], 128), argv[1].ptr, up);
            reject(c);
            goto done;
        }
        if (!arity_ok(sub, argc)) {
            reply_errf(c, "ERR wrong number of arguments for '%s' command", sub->name);
            reject(c);
            goto done;
        }
        cmd = sub;
    }
    /* While the directory loads there is no store yet (server.h): only commands flagged
     * CMD_LOADING run, and of those none that names keys (WATCH: Redis's would see the
     * half-loaded keyspace; mnemo's has none to look at). */
    if ((!(cmd->flags & CMD_LOADING) || cmd->first > 0) &&
        atomic_load_explicit(&g_srv.loading, memory_order_acquire)) {
        reply_err(c, "LOADING Redis is loading the dataset in memory");
        reject(c);
        goto done;
    }
    if (c->ps && c->proto == 2 && pubsub_count(c->ps) && !allowed_when_subscribed(cmd)) {
        reply_errf(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                      "QUIT / RESET are allowed in this context", cmd->name);
        reject(c);
        goto done;
    }
    if ((c->flags & CONN_MULTI) && !(cmd->flags & CMD_TXN_NOW)) {
        if (cmd->flags & CMD_NOMULTI) {
            reply_err(c, "ERR Command not allowed inside a transaction");
            reject(c);
        } else if (queue_command(c, cmd, argc, argv) != 0) {
            reply_err(c, ERR_NOMEM);
            reject(c);
        } else {
            reply_simple(c, "QUEUED");
        }
        goto done;
    }
    cmd_call(c, cmd, argc, argv);
    if ((skip || (c->flags & CONN_REPLY_OFF)) && c->out.len >= mark && !c->werr)
        c->out.len = mark;
    return;
done:
    /* Not run (refused or queued): the next command must not be charged for this one's
     * work, e.g. copying a large argument into the MULTI queue (slowlog.h). */
    slowlog_batch_begin();
    if ((skip || (c->flags & CONN_REPLY_OFF)) && c->out.len >= mark && !c->werr)
        c->out.len = mark;
}

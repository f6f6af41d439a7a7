/*
 * cmd_keys.c — the generic keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, DBSIZE, FLUSH*,
 * TOUCH, the EXPIRE family, RENAME, COPY, MOVE, SWAPDB, RANDOMKEY.
 *
 * KEYS and SCAN write each key into the reply from the library's callback (which runs under a
 * shard lock) and fix the array length at the end with a deferred header.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/notify.h"
#include "server/reply.h"
#include "server/server.h"

#define ST g_srv.store
#define STACK_KEYS 64

/* argv[from..argc) as a mnemo_key array (stack when small). */
static mnemo_key *keys_of(int argc, resp_arg *argv, int from, mnemo_key *stack)
{
    size_t n = (size_t)(argc - from);
    mnemo_key *k = n <= STACK_KEYS ? stack : malloc(n * sizeof(*k));
    if (!k)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        k[i].key = argv[from + i].ptr;
        k[i].key_len = argv[from + i].len;
    }
    return k;
}

static void cmd_del(conn *c, int argc, resp_arg *argv)
{
    mnemo_key stack[STACK_KEYS], *k = keys_of(argc, argv, 1, stack);
    size_t n = 0;
    if (!k) {
        reply_err(c, ERR_NOMEM);
        return;
    }
    /* The library reports which keys it deleted through the hook (notify.h). */
    int notify = notify_enabled(NOTIFY_GENERIC);
    if (notify)
        notify_capture_begin();
    int rc = mnemo_mdel(ST, c->db, k, (size_t)argc - 1, &n);
    if (notify)
        notify_capture_end(c->w, NOTIFY_GENERIC, "del", c->db);
    reply_int_or_status(c, rc, (long long)n);
    if (k != stack)
        free(k);
}

static void cmd_exists(conn *c, int argc, resp_arg *argv)
{
    mnemo_key stack[STACK_KEYS], *k = keys_of(argc, argv, 1, stack);
    size_t n = 0;
    if (!k) {
        reply_err(c, ERR_NOMEM);
        return;
    }
    int rc = mnemo_mexists(ST, c->db, k, (size_t)argc - 1, &n);
    reply_int_or_status(c, rc, (long long)n);
    if (k != stack)
        free(k);
}

static void cmd_type(conn *c, int argc, resp_arg *argv)
{
    int rc = mnemo_exists(ST, c->db, argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK || rc == MNEMO_ENOTFOUND)
        reply_simple(c, rc == MNEMO_OK ? "string" : "none");
    else
        reply_status(c, rc);
}

typedef struct key_sink {
    conn *c;
    size_t n;       /* keys written to the reply */
    size_t visited; /* keys the library reported (SCAN TYPE may drop them) */
    int skip;       /* SCAN TYPE other than string: report nothing */
} key_sink;

#define SCAN_MAX_STEPS 64

static void key_cb(void *ctx, const void *key, size_t len)
{
    key_sink *s = ctx;
    s->visited++;
    if (s->skip)
        return;
    reply_bulk(s->c, key, len);
    s->n++;
}

static const char *pattern_or_null(const resp_arg *p, size_t *len)
{
    *len = p->len;
    if (p->len == 1 && p->ptr[0] == '*')
        return NULL;
    return p->ptr;
}

static void cmd_keys_cmd(conn *c, int argc, resp_arg *argv)
{
    key_sink s = {c, 0, 0, 0};
    size_t plen;
    const char *pat = pattern_or_null(&argv[1], &plen);
    size_t mark = resp_write_deferred_begin(&c->out);
    int rc = mnemo_keys(ST, c->db, pat, pat ? plen : 0, key_cb, &s);
    if (rc != MNEMO_OK) {
        c->out.len = mark;
        reply_status(c, rc);
        return;
    }
    if (resp_write_deferred_end(&c->out, mark, RESP_AGG_ARRAY, s.n, c->proto) != RESP_OK)
        c->werr = 1;
}

static void cmd_scan(conn *c, int argc, resp_arg *argv)
{
    char *end;
    char cur[32];
    if (argv[1].len == 0 || argv[1].len >= sizeof(cur)) {
        reply_err(c, "ERR invalid cursor");
        return;
    }
    memcpy(cur, argv[1].ptr, argv[1].len);
    cur[argv[1].len] = 0;
    errno = 0;
    unsigned long long cursor = strtoull(cur, &end, 10);
    if (*end || errno || cur[0] == '-') {
        reply_err(c, "ERR invalid cursor");
        return;
    }
    const char *pat = NULL;
    size_t plen = 0;
    long long count = 10;
    int skip = 0;
    for (int j = 2; j < argc; j += 2) {
        if (j + 1 >= argc) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
        if (arg_eq(&argv[j], "COUNT")) {
            if (!arg_ll_or_reply(c, &argv[j + 1], &count))
                return;
            if (count < 1) {
                reply_err(c, ERR_SYNTAX);
                return;
            }
        } else if (arg_eq(&argv[j], "MATCH")) {
            pat = pattern_or_null(&argv[j + 1], &plen);
        } else if (arg_eq(&argv[j], "TYPE")) {
            skip = !arg_eq(&argv[j + 1], "string");
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    key_sink s = {c, 0, 0, skip};
    uint64_t next = 0;
    size_t mark0 = c->out.len;
    /* The cursor goes first: reserve the array and a maximal cursor, fix them after. */
    reply_array(c, 2);
    size_t cur_mark = c->out.len;
    size_t mark = resp_write_deferred_begin(&c->out);
    /* The library bounds each step by shards as well as by slots; keep stepping (each step a
     * valid continuation of the cursor) until about COUNT keys were visited or the scan is
     * complete, so that a small database is scanned in one call, as Redis does. */
    int rc = MNEMO_OK;
    size_t budget = (size_t)count;
    for (int step = 0; step < SCAN_MAX_STEPS; step++) {
        size_t before = s.visited;
        rc = mnemo_scan(ST, c->db, cursor, pat, pat ? plen : 0, budget, key_cb, &s, &next);
        if (rc != MNEMO_OK || next == 0)
            break;
        size_t seen = s.visited - before;
        if (seen >= budget)
            break;
        budget -= seen;
        cursor = next;
    }
    if (rc != MNEMO_OK) {
        c->out.len = mark0;
        if (rc == MNEMO_EINVAL)
            reply_err(c, "ERR invalid cursor");
        else
            reply_status(c, rc);
        return;
    }
    if (resp_write_deferred_end(&c->out, mark, RESP_AGG_ARRAY, s.n, c->proto) != RESP_OK) {
        c->werr = 1;
        return;
    }
    /* Insert the cursor bulk string before the key array. */
    char num[32];
    int nl = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    char hdr[48];
    int hl = snprintf(hdr, sizeof(hdr), "$%d\r\n%s\r\n", nl, num);
    if (resp_buf_reserve(&c->out, (size_t)hl) != RESP_OK) {
        c->werr = 1;
        return;
    }
    memmove(c->out.data + cur_mark + hl, c->out.data + cur_mark, c->out.len - cur_mark);
    memcpy(c->out.data + cur_mark, hdr, (size_t)hl);
    c->out.len += (size_t)hl;
}

static void cmd_dbsize(conn *c, int argc, resp_arg *argv)
{
    uint64_t n = 0;
    int rc = mnemo_dbsize(ST, c->db, &n);
    reply_int_or_status(c, rc, (long long)n);
}

static int flush_flags_ok(conn *c, int argc, resp_arg *argv)
{
    if (argc > 2 || (argc == 2 && !arg_eq(&argv[1], "ASYNC") && !arg_eq(&argv[1], "SYNC"))) {
        reply_err(c, ERR_SYNTAX);
        return 0;
    }
    return 1;
}

static void cmd_flushdb(conn *c, int argc, resp_arg *argv)
{
    if (!flush_flags_ok(c, argc, argv))
        return;
    int rc = mnemo_flush(ST, c->db);
    if (rc == MNEMO_OK)
        reply_ok(c);
    else
        reply_status(c, rc);
}

static void cmd_flushall(conn *c, int argc, resp_arg *argv)
{
    if (!flush_flags_ok(c, argc, argv))
        return;
    int rc = mnemo_flush_all(ST);
    if (rc == MNEMO_OK)
        reply_ok(c);
    else
        reply_status(c, rc);
}

/* ---- expiry --------------------------------------------------------------------------------- */

/* EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT, as Redis's expireGenericCommand(). */
static void expire_generic(conn *c, int argc, resp_arg *argv, int absolute, int seconds,
                           const char *name)
{
    unsigned flags = 0;
    for (int j = 3; j < argc; j++) {
        if (arg_eq(&argv[j], "NX"))
            flags |= MNEMO_EXPIRE_NX;
        else if (arg_eq(&argv[j], "XX"))
            flags |= MNEMO_EXPIRE_XX;
        else if (arg_eq(&argv[j], "GT"))
            flags |= MNEMO_EXPIRE_GT;
        else if (arg_eq(&argv[j], "LT"))
            flags |= MNEMO_EXPIRE_LT;
        else {
            reply_errf(c, "ERR Unsupported option %.*s", (int)argv[j].len, argv[j].ptr);
            return;
        }
    }
    if ((flags & MNEMO_EXPIRE_NX) &&
        (flags & (MNEMO_EXPIRE_XX | MNEMO_EXPIRE_GT | MNEMO_EXPIRE_LT))) {
        reply_err(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & MNEMO_EXPIRE_GT) && (flags & MNEMO_EXPIRE_LT)) {
        reply_err(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (!arg_ll_or_reply(c, &argv[2], &when))
        return;
    if (seconds && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000))
        goto bad;
    if (seconds)
        when *= 1000;
    if (!absolute) {
        int64_t now = server_now_ms();
        if (when > LLONG_MAX - now)
            goto bad;
        when += now;
    }
    if (when <= 0)
        when = 1; /* in the past: the key is deleted */
    int rc = mnemo_expire(ST, c->db, argv[1].ptr, argv[1].len, when, flags | MNEMO_EXPIRE_AT);
    if (rc == MNEMO_OK && notify_enabled(NOTIFY_GENERIC))
        notify_event(c->w, NOTIFY_GENERIC, when <= server_now_ms() ? "del" : "expire", c->db,
                     argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK)
        reply_int(c, 1);
    else if (rc == MNEMO_ENOTFOUND || rc == MNEMO_ECOND)
        reply_int(c, 0);
    else if (rc == MNEMO_ETTL)
        goto bad;
    else
        reply_status(c, rc);
    return;
bad:
    reply_errf(c, "ERR invalid expire time in '%s' command", name);
}

static void cmd_expire(conn *c, int argc, resp_arg *argv)
{
    expire_generic(c, argc, argv, 0, 1, "expire");
}

static void cmd_pexpire(conn *c, int argc, resp_arg *argv)
{
    expire_generic(c, argc, argv, 0, 0, "pexpire");
}

static void cmd_expireat(conn *c, int argc, resp_arg *argv)
{
    expire_generic(c, argc, argv, 1, 1, "expireat");
}

static void cmd_pexpireat(conn *c, int argc, resp_arg *argv)
{
    expire_generic(c, argc, argv, 1, 0, "pexpireat");
}

static void ttl_generic(conn *c, resp_arg *argv, int ms, int absolute)
{
    int64_t v;
    int rc = absolute ? mnemo_expire_time(ST, c->db, argv[1].ptr, argv[1].len, &v)
                      : mnemo_ttl(ST, c->db, argv[1].ptr, argv[1].len, &v);
    if (rc == MNEMO_ENOTFOUND) {
        reply_int(c, -2);
        return;
    }
    if (rc != MNEMO_OK) {
        reply_status(c, rc);
        return;
    }
    if (v < 0)
        reply_int(c, -1);
    else /* seconds rounded as Redis's (v + 500) / 1000, without overflowing at INT64_MAX ms */
        reply_int(c, ms ? v : v / 1000 + (v % 1000 >= 500));
}

static void cmd_ttl(conn *c, int argc, resp_arg *argv)
{
    ttl_generic(c, argv, 0, 0);
}

static void cmd_pttl(conn *c, int argc, resp_arg *argv)
{
    ttl_generic(c, argv, 1, 0);
}

static void cmd_expiretime(conn *c, int argc, resp_arg *argv)
{
    ttl_generic(c, argv, 0, 1);
}

static void cmd_pexpiretime(conn *c, int argc, resp_arg *argv)
{
    ttl_generic(c, argv, 1, 1);
}

static void cmd_persist(conn *c, int argc, resp_arg *argv)
{
    int rc = mnemo_persist(ST, c->db, argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_GENERIC, "persist", c->db, argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK || rc == MNEMO_ENOTFOUND || rc == MNEMO_ECOND)
        reply_int(c, rc == MNEMO_OK);
    else
        reply_status(c, rc);
}

static void cmd_touch(conn *c, int argc, resp_arg *argv)
{
    cmd_exists(c, argc, argv);
}

/* ---- renaming and moving -------------------------------------------------------------------- */

static void rename_generic(conn *c, resp_arg *argv, int nx)
{
    int rc = mnemo_rename(ST, c->db, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len, nx);
    if (rc == MNEMO_OK && notify_enabled(NOTIFY_GENERIC) &&
        !(argv[1].len == argv[2].len && memcmp(argv[1].ptr, argv[2].ptr, argv[1].len) == 0)) {
        notify_event(c->w, NOTIFY_GENERIC, "rename_from", c->db, argv[1].ptr, argv[1].len);
        notify_event(c->w, NOTIFY_GENERIC, "rename_to", c->db, argv[2].ptr, argv[2].len);
    }
    if (rc == MNEMO_OK)
        nx ? reply_int(c, 1) : reply_ok(c);
    else if (rc == MNEMO_EEXISTS && nx)
        reply_int(c, 0);
    else
        reply_status(c, rc);
}

static void cmd_rename(conn *c, int argc, resp_arg *argv)
{
    rename_generic(c, argv, 0);
}

static void cmd_renamenx(conn *c, int argc, resp_arg *argv)
{
    rename_generic(c, argv, 1);
}

/* A database index argument: replies and returns 0 if it is not an integer or out of range. */
static int db_arg(conn *c, const resp_arg *a, unsigned *db)
{
    long long v;
    if (!arg_ll_or_reply(c, a, &v))
        return 0;
    if (v < 0 || v >= g_srv.databases || v > INT_MAX) {
        reply_err(c, ERR_DBRANGE);
        return 0;
    }
    *db = (unsigned)v;
    return 1;
}

static void cmd_copy(conn *c, int argc, resp_arg *argv)
{
    unsigned dst_db = c->db;
    int replace = 0;
    for (int j = 3; j < argc; j++) {
        if (arg_eq(&argv[j], "REPLACE")) {
            replace = 1;
        } else if (arg_eq(&argv[j], "DB") && j + 1 < argc) {
            if (!db_arg(c, &argv[++j], &dst_db))
                return;
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    if (dst_db == c->db && argv[1].len == argv[2].len &&
        memcmp(argv[1].ptr, argv[2].ptr, argv[1].len) == 0) {
        reply_err(c, "ERR source and destination objects are the same");
        return;
    }
    int rc = mnemo_copy(ST, c->db, argv[1].ptr, argv[1].len, dst_db, argv[2].ptr, argv[2].len,
                        replace);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_GENERIC, "copy_to", dst_db, argv[2].ptr, argv[2].len);
    if (rc == MNEMO_OK || rc == MNEMO_ENOTFOUND || rc == MNEMO_EEXISTS)
        reply_int(c, rc == MNEMO_OK);
    else
        reply_status(c, rc);
}

static void cmd_move(conn *c, int argc, resp_arg *argv)
{
    unsigned dst;
    if (!db_arg(c, &argv[2], &dst))
        return;
    if (dst == c->db) {
        reply_err(c, "ERR source and destination objects are the same");
        return;
    }
    int rc = mnemo_move(ST, c->db, argv[1].ptr, argv[1].len, dst);
    if (rc == MNEMO_OK && notify_enabled(NOTIFY_GENERIC)) {
        notify_event(c->w, NOTIFY_GENERIC, "move_from", c->db, argv[1].ptr, argv[1].len);
        notify_event(c->w, NOTIFY_GENERIC, "move_to", dst, argv[1].ptr, argv[1].len);
    }
    if (rc == MNEMO_OK || rc == MNEMO_ENOTFOUND || rc == MNEMO_EEXISTS)
        reply_int(c, rc == MNEMO_OK);
    else
        reply_status(c, rc);
}

static void cmd_swapdb(conn *c, int argc, resp_arg *argv)
{
    long long a, b;
    if (!arg_ll(&argv[1], &a)) {
        reply_err(c, "ERR invalid first DB index");
        return;
    }
    if (!arg_ll(&argv[2], &b)) {
        reply_err(c, "ERR invalid second DB index");
        return;
    }
    if (a < 0 || a >= g_srv.databases || b < 0 || b >= g_srv.databases) {
        reply_err(c, ERR_DBRANGE);
        return;
    }
    /* Counted before the swap: an EXEC that reads the old count holds its watched keys' shard
     * locks, so the swap (which needs them all) happens after it. */
    atomic_fetch_add(&g_srv.db_swaps[a], 1);
    atomic_fetch_add(&g_srv.db_swaps[b], 1);
    int rc = mnemo_swapdb(ST, (unsigned)a, (unsigned)b);
    if (rc == MNEMO_OK)
        reply_ok(c);
    else
        reply_status(c, rc);
}

static void cmd_randomkey(conn *c, int argc, resp_arg *argv)
{
    mnemo_value k = {0};
    int rc = mnemo_random_key(ST, c->db, &k);
    if (rc == MNEMO_OK)
        reply_bulk(c, k.data, k.len);
    else if (rc == MNEMO_ENOTFOUND)
        reply_null(c);
    else
        reply_status(c, rc);
    mnemo_value_release(&k);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define WH CMD_WHOLE

const command cmd_keys_table[] = {
    {"del", -2, W, 1, -1, 1, cmd_del, "generic", "1.0.0", "Deletes one or more keys.",
     "key [key ...]", "@keyspace @write @slow", NULL},
    {"unlink", -2, W | F, 1, -1, 1, cmd_del, "generic", "4.0.0",
     "Asynchronously deletes one or more keys.", "key [key ...]", "@keyspace @write @fast",
     NULL},
    {"exists", -2, R | F, 1, -1, 1, cmd_exists, "generic", "1.0.0",
     "Determines whether one or more keys exist.", "key [key ...]", "@keyspace @read @fast",
     NULL},
    {"touch", -2, R | F, 1, -1, 1, cmd_touch, "generic", "3.2.1",
     "Returns the number of existing keys out of those specified after updating the time they "
     "were last accessed.",
     "key [key ...]", "@keyspace @read @fast", NULL},
    {"type", 2, R | F, 1, 1, 1, cmd_type, "generic", "1.0.0",
     "Determines the type of value stored at a key.", "key", "@keyspace @read @fast", NULL},
    {"keys", 2, R | WH, 0, 0, 0, cmd_keys_cmd, "generic", "1.0.0",
     "Returns all key names that match a pattern.", "pattern",
     "@keyspace @read @slow @dangerous", NULL},
    {"scan", -2, R | WH, 0, 0, 0, cmd_scan, "generic", "2.8.0",
     "Iterates over the key names in the database.",
     "cursor [MATCH pattern] [COUNT count] [TYPE type]", "@keyspace @read @slow", NULL},
    {"dbsize", 1, R | F | WH, 0, 0, 0, cmd_dbsize, "server", "1.0.0",
     "Returns the number of keys in the database.", NULL, "@keyspace @read @fast", NULL},
    {"flushdb", -1, W | WH, 0, 0, 0, cmd_flushdb, "server", "1.0.0",
     "Removes all keys from the current database.", "[ASYNC|SYNC]",
     "@keyspace @write @slow @dangerous", NULL},
    {"flushall", -1, W | WH, 0, 0, 0, cmd_flushall, "server", "1.0.0",
     "Removes all keys from all databases.", "[ASYNC|SYNC]",
     "@keyspace @write @slow @dangerous", NULL},
    {"expire", -3, W | F, 1, 1, 1, cmd_expire, "generic", "1.0.0",
     "Sets the expiration time of a key in seconds.", "key seconds [NX|XX|GT|LT]",
     "@keyspace @write @fast", NULL},
    {"pexpire", -3, W | F, 1, 1, 1, cmd_pexpire, "generic", "2.6.0",
     "Sets the expiration time of a key in milliseconds.", "key milliseconds [NX|XX|GT|LT]",
     "@keyspace @write @fast", NULL},
    {"expireat", -3, W | F, 1, 1, 1, cmd_expireat, "generic", "1.2.0",
     "Sets the expiration time of a key to a Unix timestamp.",
     "key unix-time-seconds [NX|XX|GT|LT]", "@keyspace @write @fast", NULL},
    {"pexpireat", -3, W | F, 1, 1, 1, cmd_pexpireat, "generic", "2.6.0",
     "Sets the expiration time of a key to a Unix milliseconds timestamp.",
     "key unix-time-milliseconds [NX|XX|GT|LT]", "@keyspace @write @fast", NULL},
    {"ttl", 2, R | F, 1, 1, 1, cmd_ttl, "generic", "1.0.0",
     "Returns the expiration time in seconds of a key.", "key", "@keyspace @read @fast", NULL},
    {"pttl", 2, R | F, 1, 1, 1, cmd_pttl, "generic", "2.6.0",
     "Returns the expiration time in milliseconds of a key.", "key", "@keyspace @read @fast",
     NULL},
    {"expiretime", 2, R | F, 1, 1, 1, cmd_expiretime, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix timestamp.", "key",
     "@keyspace @read @fast", NULL},
    {"pexpiretime", 2, R | F, 1, 1, 1, cmd_pexpiretime, "generic", "7.0.0",
     "Returns the expiration time of a key as a Unix milliseconds timestamp.", "key",
     "@keyspace @read @fast", NULL},
    {"persist", 2, W | F, 1, 1, 1, cmd_persist, "generic", "2.2.0",
     "Removes the expiration time of a key.", "key", "@keyspace @write @fast", NULL},
    {"rename", 3, W, 1, 2, 1, cmd_rename, "generic", "1.0.0", "Renames a key and overwrites "
     "the destination.", "key newkey", "@keyspace @write @slow", NULL},
    {"renamenx", 3, W | F, 1, 2, 1, cmd_renamenx, "generic", "1.0.0",
     "Renames a key only when the target key name doesn't exist.", "key newkey",
     "@keyspace @write @fast", NULL},
    {"copy", -3, W | WH, 1, 2, 1, cmd_copy, "generic", "6.2.0", "Copies the value of a key to "
     "a new key.", "source destination [DB destination-db] [REPLACE]",
     "@keyspace @write @slow", NULL},
    {"move", 3, W | F | WH, 1, 1, 1, cmd_move, "generic", "1.0.0",
     "Moves a key to another database.", "key db", "@keyspace @write @fast", NULL},
    {"swapdb", 3, W | F | WH, 0, 0, 0, cmd_swapdb, "server", "4.0.0",
     "Swaps two Redis databases.", "index1 index2", "@keyspace @write @fast @dangerous", NULL},
    {"randomkey", 1, R | WH, 0, 0, 0, cmd_randomkey, "generic", "1.0.0",
     "Returns a random key name from the database.", NULL, "@keyspace @read @slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

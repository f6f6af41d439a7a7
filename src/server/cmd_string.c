/*
 * cmd_string.c — the string commands: GET, SET and its relatives, counters, ranges.
 *
 * Each handler parses its arguments the way Redis does (same checks, same order, same error
 * texts), makes one library call and writes the reply. Reads use the zero-copy callbacks
 * (mnemo_get_with, mnemo_mget_with): the value is copied once, from the store straight into
 * the output buffer, while the shard lock is held.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/notify.h"
#include "server/reply.h"
#include "server/server.h"
#include "util/num.h"

#define ST g_srv.store

static void bulk_cb(void *ctx, const mnemo_item *it)
{
    reply_bulk(ctx, it->value, it->value_len);
}

static void cmd_get(conn *c, int argc, resp_arg *argv)
{
    int rc = mnemo_get_with(ST, c->db, argv[1].ptr, argv[1].len, bulk_cb, c);
    if (rc == MNEMO_ENOTFOUND)
        reply_null(c);
    else if (rc)
        reply_status(c, rc);
}

/* Validates an expire argument as Redis's getExpireMillisecondsOrReply(): an integer, > 0,
 * not overflowing once turned into absolute milliseconds. Returns 1 and fills *opts, or 0
 * after replying. unit_ms is 1000 for seconds; absolute is EXAT/PXAT. */
static int parse_expire(conn *c, const resp_arg *a, long long unit_ms, int absolute,
                        const char *cmdname, int64_t *ms_out)
{
    long long v;
    if (!arg_ll_or_reply(c, a, &v))
        return 0;
    if (v <= 0 || (unit_ms == 1000 && v > LLONG_MAX / 1000))
        goto bad;
    v *= unit_ms;
    if (!absolute && v > LLONG_MAX - server_now_ms())
        goto bad;
    *ms_out = v;
    return 1;
bad:
    reply_errf(c, "ERR invalid expire time in '%s' command", cmdname);
    return 0;
}

enum { EXP_NONE, EXP_EX, EXP_PX, EXP_EXAT, EXP_PXAT };

static void set_generic(conn *c, const resp_arg *key, const resp_arg *val, unsigned flags,
                        int exp_kind, int64_t ms, int reply_get)
{
    mnemo_set_opts o = {.flags = flags};
    mnemo_value old = {0};
    if (exp_kind == EXP_EX || exp_kind == EXP_PX) {
        o.ttl_ms = ms;
    } else if (exp_kind == EXP_EXAT || exp_kind == EXP_PXAT) {
        o.flags |= MNEMO_SET_EXPIRE_AT;
        o.expire_at_ms = ms;
    }
    int rc = mnemo_set(ST, c->db, key->ptr, key->len, val->ptr, val->len, &o,
                       reply_get ? &old : NULL, NULL);
    if (rc == MNEMO_OK) {
        notify_event(c->w, NOTIFY_STRING, "set", c->db, key->ptr, key->len);
        if (exp_kind != EXP_NONE)
            notify_event(c->w, NOTIFY_GENERIC, "expire", c->db, key->ptr, key->len);
    }
    if (rc == MNEMO_OK || rc == MNEMO_EEXISTS || rc == MNEMO_ENOTFOUND) {
        if (reply_get) {
            if (old.data)
                reply_bulk(c, old.data, old.len);
            else
                reply_null(c);
        } else if (rc == MNEMO_OK) {
            reply_ok(c);
        } else {
            reply_null(c);
        }
    } else {
        reply_status(c, rc);
    }
    mnemo_value_release(&old);
}

static void cmd_set(conn *c, int argc, resp_arg *argv)
{
    unsigned flags = 0;
    int exp = EXP_NONE, get = 0, keepttl = 0;
    const resp_arg *expval = NULL;

    for (int j = 3; j < argc; j++) {
        const resp_arg *a = &argv[j];
        int has_next = j + 1 < argc;
        if (arg_eq(a, "NX") && !(flags & MNEMO_SET_XX)) {
            flags |= MNEMO_SET_NX;
        } else if (arg_eq(a, "XX") && !(flags & MNEMO_SET_NX)) {
            flags |= MNEMO_SET_XX;
        } else if (arg_eq(a, "GET")) {
            get = 1;
        } else if (arg_eq(a, "KEEPTTL") && exp == EXP_NONE) {
            keepttl = 1;
        } else if (has_next && exp == EXP_NONE && !keepttl &&
                   (arg_eq(a, "EX") || arg_eq(a, "PX") || arg_eq(a, "EXAT") ||
                    arg_eq(a, "PXAT"))) {
            exp = arg_eq(a, "EX") ? EXP_EX : arg_eq(a, "PX") ? EXP_PX
                  : arg_eq(a, "EXAT") ? EXP_EXAT : EXP_PXAT;
            expval = &argv[++j];
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    int64_t ms = 0;
    if (expval && !parse_expire(c, expval, (exp == EXP_EX || exp == EXP_EXAT) ? 1000 : 1,
                                exp == EXP_EXAT || exp == EXP_PXAT, "set", &ms))
        return;
    if (keepttl)
        flags |= MNEMO_SET_KEEPTTL;
    if (get)
        flags |= MNEMO_SET_GET;
    set_generic(c, &argv[1], &argv[2], flags, exp, ms, get);
}

static void cmd_setnx(conn *c, int argc, resp_arg *argv)
{
    mnemo_set_opts o = {.flags = MNEMO_SET_NX};
    int rc = mnemo_set(ST, c->db, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len, &o, NULL,
                       NULL);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_STRING, "set", c->db, argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK || rc == MNEMO_EEXISTS)
        reply_int(c, rc == MNEMO_OK);
    else
        reply_status(c, rc);
}

static void setex_generic(conn *c, resp_arg *argv, long long unit, const char *name)
{
    int64_t ms;
    if (!parse_expire(c, &argv[2], unit, 0, name, &ms))
        return;
    set_generic(c, &argv[1], &argv[3], 0, EXP_PX, ms, 0);
}

static void cmd_setex(conn *c, int argc, resp_arg *argv)
{
    setex_generic(c, argv, 1000, "setex");
}

static void cmd_psetex(conn *c, int argc, resp_arg *argv)
{
    setex_generic(c, argv, 1, "psetex");
}

static void cmd_getset(conn *c, int argc, resp_arg *argv)
{
    set_generic(c, &argv[1], &argv[2], MNEMO_SET_GET, EXP_NONE, 0, 1);
}

static void mget_cb(void *ctx, size_t i, const mnemo_item *it)
{
    if (it)
        reply_bulk(ctx, it->value, it->value_len);
    else
        reply_null(ctx);
}

#define STACK_KEYS 64

static void cmd_mget(conn *c, int argc, resp_arg *argv)
{
    size_t n = (size_t)argc - 1;
    mnemo_key stack[STACK_KEYS], *keys = n <= STACK_KEYS ? stack : malloc(n * sizeof(*keys));
    if (!keys) {
        reply_err(c, ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i].key = argv[i + 1].ptr;
        keys[i].key_len = argv[i + 1].len;
    }
    size_t mark = c->out.len;
    reply_array(c, n);
    int rc = mnemo_mget_with(ST, c->db, keys, n, mget_cb, c);
    if (rc) {
        c->out.len = mark;
        reply_status(c, rc);
    }
    if (keys != stack)
        free(keys);
}

static void mset_generic(conn *c, int argc, resp_arg *argv, int nx)
{
    if (argc % 2 == 0) {
        reply_errf(c, "ERR wrong number of arguments for '%s' command", nx ? "msetnx" : "mset");
        return;
    }
    size_t n = (size_t)(argc - 1) / 2;
    mnemo_kv stack[STACK_KEYS], *kvs = n <= STACK_KEYS ? stack : malloc(n * sizeof(*kvs));
    if (!kvs) {
        reply_err(c, ERR_NOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        kvs[i].key = argv[1 + 2 * i].ptr;
        kvs[i].key_len = argv[1 + 2 * i].len;
        kvs[i].value = argv[2 + 2 * i].ptr;
        kvs[i].value_len = argv[2 + 2 * i].len;
    }
    mnemo_set_opts o = {.flags = nx ? MNEMO_SET_NX : 0};
    int rc = mnemo_mset(ST, c->db, kvs, n, &o);
    if (rc == MNEMO_OK && notify_enabled(NOTIFY_STRING))
        for (size_t i = 0; i < n; i++)
            notify_event(c->w, NOTIFY_STRING, "set", c->db, kvs[i].key, kvs[i].key_len);
    if (nx && (rc == MNEMO_OK || rc == MNEMO_EEXISTS))
        reply_int(c, rc == MNEMO_OK);
    else if (rc == MNEMO_OK)
        reply_ok(c);
    else
        reply_status(c, rc);
    if (kvs != stack)
        free(kvs);
}

static void cmd_mset(conn *c, int argc, resp_arg *argv)
{
    mset_generic(c, argc, argv, 0);
}

static void cmd_msetnx(conn *c, int argc, resp_arg *argv)
{
    mset_generic(c, argc, argv, 1);
}

static void reply_value_or_null(conn *c, int rc, mnemo_value *v)
{
    if (rc == MNEMO_OK)
        reply_bulk(c, v->data, v->len);
    else if (rc == MNEMO_ENOTFOUND)
        reply_null(c);
    else
        reply_status(c, rc);
    mnemo_value_release(v);
}

static void cmd_getdel(conn *c, int argc, resp_arg *argv)
{
    mnemo_value v = {0};
    int rc = mnemo_getdel(ST, c->db, argv[1].ptr, argv[1].len, &v);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_GENERIC, "del", c->db, argv[1].ptr, argv[1].len);
    reply_value_or_null(c, rc, &v);
}

static void cmd_getex(conn *c, int argc, resp_arg *argv)
{
    int exp = EXP_NONE, persist = 0;
    const resp_arg *expval = NULL;
    for (int j = 2; j < argc; j++) {
        const resp_arg *a = &argv[j];
        if (arg_eq(a, "PERSIST") && exp == EXP_NONE && !persist) {
            persist = 1;
        } else if (j + 1 < argc && exp == EXP_NONE && !persist &&
                   (arg_eq(a, "EX") || arg_eq(a, "PX") || arg_eq(a, "EXAT") ||
                    arg_eq(a, "PXAT"))) {
            exp = arg_eq(a, "EX") ? EXP_EX : arg_eq(a, "PX") ? EXP_PX
                  : arg_eq(a, "EXAT") ? EXP_EXAT : EXP_PXAT;
            expval = &argv[++j];
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    int64_t ms = 0;
    unsigned flags = 0;
    if (expval && !parse_expire(c, expval, (exp == EXP_EX || exp == EXP_EXAT) ? 1000 : 1,
                                exp == EXP_EXAT || exp == EXP_PXAT, "getex", &ms))
        return;
    if (exp == EXP_EXAT || exp == EXP_PXAT)
        flags = MNEMO_EXPIRE_AT;
    if (persist)
        flags = MNEMO_EXPIRE_PERSIST;
    mnemo_value v = {0};
    int64_t ttl_before = 0;
    int notify = (persist || exp != EXP_NONE) && notify_enabled(NOTIFY_GENERIC);
    if (notify && persist &&
        mnemo_ttl(ST, c->db, argv[1].ptr, argv[1].len, &ttl_before) != MNEMO_OK)
        ttl_before = -1;
    int rc = mnemo_getex(ST, c->db, argv[1].ptr, argv[1].len, ms, flags, &v);
    if (rc == MNEMO_ETTL) {
        reply_err(c, "ERR invalid expire time in 'getex' command");
        return;
    }
    if (rc == MNEMO_OK && notify) {
        const char *ev = persist ? (ttl_before >= 0 ? "persist" : NULL)
                         : (flags & MNEMO_EXPIRE_AT) && ms <= server_now_ms() ? "del"
                                                                              : "expire";
        if (ev)
            notify_event(c->w, NOTIFY_GENERIC, ev, c->db, argv[1].ptr, argv[1].len);
    }
    reply_value_or_null(c, rc, &v);
}

static void incr_generic(conn *c, const resp_arg *key, long long delta)
{
    int64_t r;
    int rc = mnemo_incr(ST, c->db, key->ptr, key->len, delta, &r);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_STRING, "incrby", c->db, key->ptr, key->len);
    if (rc == MNEMO_OK)
        reply_int(c, r);
    else
        reply_status(c, rc);
}

static void cmd_incr(conn *c, int argc, resp_arg *argv)
{
    incr_generic(c, &argv[1], 1);
}

static void cmd_decr(conn *c, int argc, resp_arg *argv)
{
    incr_generic(c, &argv[1], -1);
}

static void cmd_incrby(conn *c, int argc, resp_arg *argv)
{
    long long d;
    if (arg_ll_or_reply(c, &argv[2], &d))
        incr_generic(c, &argv[1], d);
}

static void cmd_decrby(conn *c, int argc, resp_arg *argv)
{
    long long d;
    if (!arg_ll_or_reply(c, &argv[2], &d))
        return;
    if (d == LLONG_MIN) {
        reply_err(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, &argv[1], -d);
}

static void cmd_incrbyfloat(conn *c, int argc, resp_arg *argv)
{
    long double d;
    if (!num_parse_ld(argv[2].ptr, argv[2].len, &d)) {
        reply_err(c, ERR_NOTFLOAT);
        return;
    }
    char out[MNEMO_FLOAT_STRLEN];
    size_t len;
    int rc = mnemo_incr_float(ST, c->db, argv[1].ptr, argv[1].len, d, out, &len);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_STRING, "incrbyfloat", c->db, argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK)
        reply_bulk(c, out, len);
    else
        reply_status(c, rc);
}

static void cmd_append(conn *c, int argc, resp_arg *argv)
{
    size_t len;
    int rc = mnemo_append(ST, c->db, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len, &len);
    if (rc == MNEMO_OK)
        notify_event(c->w, NOTIFY_STRING, "append", c->db, argv[1].ptr, argv[1].len);
    reply_int_or_status(c, rc, (long long)len);
}

static void cmd_strlen(conn *c, int argc, resp_arg *argv)
{
    size_t len = 0;
    int rc = mnemo_strlen(ST, c->db, argv[1].ptr, argv[1].len, &len);
    if (rc == MNEMO_OK || rc == MNEMO_ENOTFOUND)
        reply_int(c, rc == MNEMO_OK ? (long long)len : 0);
    else
        reply_status(c, rc);
}

static void cmd_getrange(conn *c, int argc, resp_arg *argv)
{
    long long s, e;
    if (!arg_ll_or_reply(c, &argv[2], &s) || !arg_ll_or_reply(c, &argv[3], &e))
        return;
    mnemo_value v = {0};
    int rc = mnemo_getrange(ST, c->db, argv[1].ptr, argv[1].len, s, e, &v);
    if (rc == MNEMO_OK)
        reply_bulk(c, v.data ? v.data : "", v.len);
    else if (rc == MNEMO_ENOTFOUND)
        reply_bulk(c, "", 0);
    else
        reply_status(c, rc);
    mnemo_value_release(&v);
}

static void cmd_setrange(conn *c, int argc, resp_arg *argv)
{
    long long off;
    if (!arg_ll_or_reply(c, &argv[2], &off))
        return;
    if (off < 0) {
        reply_err(c, "ERR offset is out of range");
        return;
    }
    if (argv[3].len && (unsigned long long)off + argv[3].len >
                           (unsigned long long)CFG(proto_max_bulk_len)) {
        reply_err(c, ERR_TOOBIG);
        return;
    }
    size_t len = 0;
    int rc = mnemo_setrange(ST, c->db, argv[1].ptr, argv[1].len, (size_t)off, argv[3].ptr,
                            argv[3].len, &len);
    if (rc == MNEMO_OK && argv[3].len)
        notify_event(c->w, NOTIFY_STRING, "setrange", c->db, argv[1].ptr, argv[1].len);
    if (rc == MNEMO_OK || rc == MNEMO_ENOTFOUND)
        reply_int(c, (long long)len);
    else
        reply_status(c, rc);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM

const command cmd_string_table[] = {
    {"get", 2, R | F, 1, 1, 1, cmd_get, "string", "1.0.0", "Returns the string value of a key.",
     "key", "@read @string @fast", NULL},
    {"set", -3, W | D, 1, 1, 1, cmd_set, "string", "1.0.0",
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|"
     "PXAT unix-time-milliseconds|KEEPTTL]",
     "@write @string @slow", NULL},
    {"setnx", 3, W | D | F, 1, 1, 1, cmd_setnx, "string", "1.0.0",
     "Set the string value of a key only when the key doesn't exist.", "key value",
     "@write @string @fast", NULL},
    {"setex", 4, W | D, 1, 1, 1, cmd_setex, "string", "2.0.0",
     "Sets the string value and expiration time of a key.", "key seconds value",
     "@write @string @slow", NULL},
    {"psetex", 4, W | D, 1, 1, 1, cmd_psetex, "string", "2.6.0",
     "Sets both string value and expiration time in milliseconds of a key.",
     "key milliseconds value", "@write @string @slow", NULL},
    {"getset", 3, W | D | F, 1, 1, 1, cmd_getset, "string", "1.0.0",
     "Returns the previous string value of a key after setting it to a new value.", "key value",
     "@write @string @fast", NULL},
    {"mget", -2, R | F, 1, -1, 1, cmd_mget, "string", "1.0.0",
     "Atomically returns the string values of one or more keys.", "key [key ...]",
     "@read @string @fast", NULL},
    {"mset", -3, W | D, 1, -1, 2, cmd_mset, "string", "1.0.1",
     "Atomically creates or modifies the string values of one or more keys.",
     "key value [key value ...]", "@write @string @slow", NULL},
    {"msetnx", -3, W | D, 1, -1, 2, cmd_msetnx, "string", "1.0.1",
     "Atomically modifies the string values of one or more keys only when all keys don't exist.",
     "key value [key value ...]", "@write @string @slow", NULL},
    {"getdel", 2, W | F, 1, 1, 1, cmd_getdel, "string", "6.2.0",
     "Returns the string value of a key after deleting the key.", "key",
     "@write @string @fast", NULL},
    {"getex", -2, W | F, 1, 1, 1, cmd_getex, "string", "6.2.0",
     "Returns the string value of a key after setting its expiration time.",
     "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|"
     "PERSIST]",
     "@write @string @fast", NULL},
    {"incr", 2, W | D | F, 1, 1, 1, cmd_incr, "string", "1.0.0",
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "key", "@write @string @fast", NULL},
    {"decr", 2, W | D | F, 1, 1, 1, cmd_decr, "string", "1.0.0",
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "key", "@write @string @fast", NULL},
    {"incrby", 3, W | D | F, 1, 1, 1, cmd_incrby, "string", "1.0.0",
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "key increment", "@write @string @fast", NULL},
    {"decrby", 3, W | D | F, 1, 1, 1, cmd_decrby, "string", "1.0.0",
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.",
     "key decrement", "@write @string @fast", NULL},
    {"incrbyfloat", 3, W | D | F, 1, 1, 1, cmd_incrbyfloat, "string", "2.6.0",
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the "
     "key doesn't exist.",
     "key increment", "@write @string @fast", NULL},
    {"append", 3, W | D | F, 1, 1, 1, cmd_append, "string", "2.0.0",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.",
     "key value", "@write @string @fast", NULL},
    {"strlen", 2, R | F, 1, 1, 1, cmd_strlen, "string", "2.2.0",
     "Returns the length of a string value.", "key", "@read @string @fast", NULL},
    {"getrange", 4, R, 1, 1, 1, cmd_getrange, "string", "2.4.0",
     "Returns a substring of the string stored at a key.", "key start end",
     "@read @string @slow", NULL},
    {"setrange", 4, W | D, 1, 1, 1, cmd_setrange, "string", "2.2.0",
     "Overwrites a part of a string value with another by an offset. Creates the key if it "
     "doesn't exist.",
     "key offset value", "@write @string @slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

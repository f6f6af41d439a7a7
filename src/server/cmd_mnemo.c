/*
 * cmd_mnemo.c — mnemo's own commands (docs/commands.md documents them fully).
 *
 *   MN.GETVER key                         -> [value, version] or nil
 *   MN.CAS key version value [EX s|PX ms] -> OK, or nil when the key is missing or its version
 *                                            differs
 *   MN.DELVER key version                 -> 1 if deleted, 0 if missing or version differs
 *   MN.COUNT pattern                      -> number of keys matching the glob
 *   MN.DELMATCH pattern                   -> number of keys deleted
 *
 * Versions are the library's 64-bit HLC versions (upper 48 bits Unix ms, lower 16 a counter),
 * sent as integers; they fit in a signed 64-bit integer until the year 10889.
 */
#include <limits.h>
#include <string.h>

#include "server/cmd.h"
#include "server/reply.h"
#include "server/server.h"
#include "util/num.h"

#define ST srv_store() /* NULL while loading: see server.h */

static int version_arg(conn *c, const resp_arg *a, uint64_t *v)
{
    if (num_parse_u64(a->ptr, a->len, v))
        return 1;
    reply_err(c, ERR_NOTINT);
    return 0;
}

static void getver_cb(void *ctx, const mnemo_item *it)
{
    conn *c = ctx;
    reply_array(c, 2);
    reply_bulk(c, it->value, it->value_len);
    reply_int(c, (long long)it->version);
}

static void cmd_getver(conn *c, int argc, resp_arg *argv)
{
    int rc = mnemo_get_with(ST, c->db, argv[1].ptr, argv[1].len, getver_cb, c);
    if (rc == MNEMO_ENOTFOUND)
        reply_null_array(c);
    else if (rc)
        reply_status(c, rc);
}

static void cmd_cas(conn *c, int argc, resp_arg *argv)
{
    uint64_t ver;
    if (!version_arg(c, &argv[2], &ver))
        return;
    mnemo_set_opts o = {.flags = MNEMO_SET_IF_VERSION, .version = ver};
    if (argc != 4 && argc != 6) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (argc == 6) {
        long long t;
        int ex = arg_eq(&argv[4], "EX");
        if (!ex && !arg_eq(&argv[4], "PX")) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
        if (!arg_ll_or_reply(c, &argv[5], &t))
            return;
        if (t <= 0 || (ex && t > LLONG_MAX / 1000)) {
            reply_err(c, "ERR invalid expire time in 'mn.cas' command");
            return;
        }
        o.ttl_ms = ex ? t * 1000 : t;
    }
    uint64_t newver;
    int rc = mnemo_set(ST, c->db, argv[1].ptr, argv[1].len, argv[3].ptr, argv[3].len, &o, NULL,
                       &newver);
    if (rc == MNEMO_OK)
        reply_ok(c);
    else if (rc == MNEMO_EVERSION || rc == MNEMO_ENOTFOUND)
        reply_null(c);
    else
        reply_status(c, rc);
}

static void cmd_delver(conn *c, int argc, resp_arg *argv)
{
    uint64_t ver;
    if (!version_arg(c, &argv[2], &ver))
        return;
    int rc = mnemo_del_if_version(ST, c->db, argv[1].ptr, argv[1].len, ver);
    if (rc == MNEMO_OK || rc == MNEMO_EVERSION || rc == MNEMO_ENOTFOUND)
        reply_int(c, rc == MNEMO_OK);
    else
        reply_status(c, rc);
}

static void cmd_mn_count(conn *c, int argc, resp_arg *argv)
{
    uint64_t n = 0;
    int rc = mnemo_count_matching(ST, c->db, argv[1].ptr, argv[1].len, &n);
    reply_int_or_status(c, rc, (long long)n);
}

static void cmd_delmatch(conn *c, int argc, resp_arg *argv)
{
    uint64_t n = 0;
    int rc = mnemo_delete_matching(ST, c->db, argv[1].ptr, argv[1].len, &n);
    reply_int_or_status(c, rc, (long long)n);
}

const command cmd_mnemo_table[] = {
    {"mn.getver", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, cmd_getver, "mnemo", "0.1.0",
     "Returns the string value of a key with its version.", "key", "@read @string @fast", NULL},
    {"mn.cas", -4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, cmd_cas, "mnemo", "0.1.0",
     "Sets the value of a key only if its current version is the one given.",
     "key version value [EX seconds|PX milliseconds]", "@write @string @fast", NULL},
    {"mn.delver", 3, CMD_WRITE | CMD_FAST, 1, 1, 1, cmd_delver, "mnemo", "0.1.0",
     "Deletes a key only if its current version is the one given.", "key version",
     "@keyspace @write @fast", NULL},
    {"mn.count", 2, CMD_READONLY | CMD_WHOLE, 0, 0, 0, cmd_mn_count, "mnemo", "0.1.0",
     "Counts the keys whose names match a glob pattern.", "pattern",
     "@keyspace @read @slow", NULL},
    {"mn.delmatch", 2, CMD_WRITE | CMD_WHOLE, 0, 0, 0, cmd_delmatch, "mnemo", "0.1.0",
     "Deletes the keys whose names match a glob pattern.", "pattern",
     "@keyspace @write @slow @dangerous", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

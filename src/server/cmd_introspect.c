/*
 * cmd_introspect.c — OBJECT, DEBUG OBJECT, CONFIG REWRITE, CLIENT NO-EVICT.
 *
 * OBJECT ENCODING reports what Redis would report for the value: "int" for a canonical
 * 64-bit decimal of at most 20 bytes, "embstr" up to 44 bytes, "raw" beyond (Redis decides
 * from the value the same way when it stores a string; it may say "raw" after an APPEND or
 * SETRANGE grew a value in place, which mnemo cannot tell apart). OBJECT FREQ and OBJECT
 * IDLETIME report what the eviction policy sees (mnemo_key_meta_get, which does not count as
 * an access): the 2-bit access count (0-3) and the seconds since the key entered its queue. As
 * in Redis, FREQ is an error unless a frequency-based policy (lfu, s3fifo) is selected, and
 * IDLETIME is an error under an lfu policy (docs/commands.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/config_rewrite.h"
#include "server/reply.h"
#include "server/server.h"

#define ST srv_store() /* NULL while loading: see server.h */

typedef struct obj_info {
    int found;
    size_t len;
    size_t stored; /* bytes in the store: len, or fewer when kept compressed */
    int is_int;
    long long ival;
} obj_info;

static void info_cb(void *ctx, const mnemo_item *it)
{
    obj_info *oi = ctx;
    long long v;
    oi->found = 1;
    oi->len = it->value_len;
    oi->stored = it->stored_len;
    oi->is_int = it->value_len <= 20 && resp_string2ll(it->value, it->value_len, &v);
    oi->ival = oi->is_int ? v : 0;
}

/* 1 if a lookup's rc is MNEMO_OK; else replies null (OBJECT's answer for a missing key) or
 * the error, and returns 0. */
static int found_or_reply(conn *c, int rc)
{
    if (rc == MNEMO_ENOTFOUND)
        reply_null(c);
    else if (rc != MNEMO_OK)
        reply_status(c, rc);
    return rc == MNEMO_OK;
}

/* Looks the key up; replies null (OBJECT) when it does not exist and returns 0. */
static int object_lookup(conn *c, const resp_arg *key, obj_info *oi)
{
    memset(oi, 0, sizeof(*oi));
    return found_or_reply(c, mnemo_get_with(ST, c->db, key->ptr, key->len, info_cb, oi));
}

static const char *encoding_of(const obj_info *oi)
{
    return oi->is_int ? "int" : oi->len <= 44 ? "embstr" : "raw";
}

static void cmd_object_encoding(conn *c, int argc, resp_arg *argv)
{
    obj_info oi;
    if (object_lookup(c, &argv[2], &oi))
        reply_bulk_str(c, encoding_of(&oi));
}

/* The key's eviction metadata and the policy in force; replies (null, error) and returns 0
 * when there is nothing to report. */
static int object_meta(conn *c, const resp_arg *key, mnemo_key_meta *m, int *policy)
{
    *policy = (int)CFG(maxmemory_policy);
    return found_or_reply(c, mnemo_key_meta_get(ST, c->db, key->ptr, key->len, m));
}

static int policy_is_lfu(int p)
{
    return p == MNEMO_POLICY_ALLKEYS_LFU || p == MNEMO_POLICY_VOLATILE_LFU;
}

static void cmd_object_freq(conn *c, int argc, resp_arg *argv)
{
    mnemo_key_meta m;
    int p;
    if (!object_meta(c, &argv[2], &m, &p))
        return;
    if (!policy_is_lfu(p) && p != MNEMO_POLICY_ALLKEYS_S3FIFO && p != MNEMO_POLICY_VOLATILE_S3FIFO)
        reply_err(c, "ERR An LFU maxmemory policy is not selected, access frequency not "
                     "tracked. Please note that when switching between policies at runtime LRU "
                     "and LFU data will take some time to adjust.");
    else
        reply_int(c, m.freq);
}

static void cmd_object_idletime(conn *c, int argc, resp_arg *argv)
{
    mnemo_key_meta m;
    int p;
    if (!object_meta(c, &argv[2], &m, &p))
        return;
    if (policy_is_lfu(p))
        reply_err(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                     "note that when switching between policies at runtime LRU and LFU data will "
                     "take some time to adjust.");
    else
        reply_int(c, m.age_ms / 1000);
}

static void cmd_object_refcount(conn *c, int argc, resp_arg *argv)
{
    obj_info oi;
    if (object_lookup(c, &argv[2], &oi))
        reply_int(c, 1);
}

static void cmd_object_help(conn *c, int argc, resp_arg *argv)
{
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

/* Length of Redis's RDB encoding of the value: an integer that fits 8/16/32 bits takes 2/3/5
 * bytes, anything else a length prefix (1, 2 or 5 bytes) plus the bytes, which are the stored
 * (LZ4) bytes for a value the store keeps compressed, as Redis counts its LZF-compressed
 * strings. An estimate for DEBUG OBJECT's serializedlength. */
static size_t serialized_len(const obj_info *oi)
{
    if (oi->is_int) {
        if (oi->ival >= -128 && oi->ival <= 127)
            return 2;
        if (oi->ival >= -32768 && oi->ival <= 32767)
            return 3;
        if (oi->ival >= -2147483648LL && oi->ival <= 2147483647LL)
            return 5;
    }
    size_t n = oi->stored < oi->len ? oi->stored : oi->len;
    size_t prefix = n < 64 ? 1 : n < 16384 ? 2 : 5;
    return prefix + n;
}

void introspect_debug_object(conn *c, int argc, resp_arg *argv)
{
    obj_info oi;
    if (argc != 3) {
        reply_err(c, "ERR wrong number of arguments for 'debug|object' command");
        return;
    }
    memset(&oi, 0, sizeof(oi));
    int rc = mnemo_get_with(ST, c->db, argv[2].ptr, argv[2].len, info_cb, &oi);
    if (rc == MNEMO_ENOTFOUND) {
        reply_err(c, ERR_NOKEY);
        return;
    }
    if (rc != MNEMO_OK) {
        reply_status(c, rc);
        return;
    }
    char line[256];
    snprintf(line, sizeof(line),
             "Value at:0x0 refcount:1 encoding:%s serializedlength:%zu lru:0 "
             "lru_seconds_idle:0",
             encoding_of(&oi), serialized_len(&oi));
    reply_simple(c, line);
}

void introspect_config_rewrite(conn *c, int argc, resp_arg *argv)
{
    char err[512];
    if (config_rewrite(err, sizeof(err)) != 0) {
        reply_errf(c, "ERR %s", err);
        return;
    }
    reply_ok(c);
}

/* Eviction does not exist yet; the flag is accepted so that clients which set it work. */
void introspect_client_no_evict(conn *c, int argc, resp_arg *argv)
{
    if (arg_eq(&argv[2], "on") || arg_eq(&argv[2], "off"))
        reply_ok(c);
    else
        reply_err(c, ERR_SYNTAX);
}

static void cmd_object_container(conn *c, int argc, resp_arg *argv)
{
    reply_err(c, "ERR internal error");
}

#define RO (CMD_READONLY)

static const command object_subs[] = {
    {"object|encoding", 3, RO, 2, 2, 1, cmd_object_encoding, "generic", "2.2.3",
     "Returns the internal encoding of a Redis object.", "key", "@keyspace @read @slow", NULL},
    {"object|freq", 3, RO, 2, 2, 1, cmd_object_freq, "generic", "4.0.0",
     "Returns the logarithmic access frequency counter of a Redis object.", "key",
     "@keyspace @read @slow", NULL},
    {"object|idletime", 3, RO, 2, 2, 1, cmd_object_idletime, "generic", "2.2.3",
     "Returns the time since the last access to a Redis object.", "key",
     "@keyspace @read @slow", NULL},
    {"object|refcount", 3, RO, 2, 2, 1, cmd_object_refcount, "generic", "2.2.3",
     "Returns the reference count of a value of a key.", "key", "@keyspace @read @slow", NULL},
    {"object|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_object_help, "generic", "6.2.0",
     "Returns helpful text about the different subcommands.", NULL, "@keyspace @slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const command cmd_introspect_table[] = {
    {"object", -2, CMD_CONTAINER, 0, 0, 0, cmd_object_container, "generic", "2.2.3",
     "A container for object introspection commands.", NULL, "@slow", object_subs},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

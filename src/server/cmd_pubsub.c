/*
 * cmd_pubsub.c — SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
 *
 * Replies follow Redis 7: each (un)subscription is acknowledged by its own three-element
 * reply [kind, name, subscriptions left] (RESP2 array, RESP3 push); UNSUBSCRIBE without
 * arguments leaves every channel, and when there is none it answers once with a null name and
 * 0. The registry and the cross-worker delivery live in pubsub.c.
 */
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/pubsub.h"
#include "server/reply.h"
#include "server/server.h"

static void ack(conn *c, const char *kind, const char *name, size_t len)
{
    c->werr |= resp_write_push(&c->out, 3, c->proto);
    reply_bulk_str(c, kind);
    if (name)
        reply_bulk(c, name, len);
    else
        reply_null(c);
    reply_int(c, pubsub_count(c->ps));
}

static void subscribe_generic(conn *c, int argc, resp_arg *argv, int pattern)
{
    for (int i = 1; i < argc; i++) {
        if (pubsub_sub(c, argv[i].ptr, argv[i].len, pattern) < 0) {
            reply_err(c, ERR_NOMEM);
            return;
        }
        ack(c, pattern ? "psubscribe" : "subscribe", argv[i].ptr, argv[i].len);
    }
}

static void unsubscribe_generic(conn *c, int argc, resp_arg *argv, int pattern)
{
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            pubsub_unsub(c, argv[i].ptr, argv[i].len, pattern);
            ack(c, kind, argv[i].ptr, argv[i].len);
        }
        return;
    }
    char *name;
    size_t len;
    int any = 0;
    while (pubsub_first(c, pattern, &name, &len)) {
        pubsub_unsub(c, name, len, pattern);
        ack(c, kind, name, len);
        free(name);
        any = 1;
    }
    if (!any)
        ack(c, kind, NULL, 0);
}

static void cmd_subscribe(conn *c, int argc, resp_arg *argv)
{
    subscribe_generic(c, argc, argv, 0);
}

static void cmd_psubscribe(conn *c, int argc, resp_arg *argv)
{
    subscribe_generic(c, argc, argv, 1);
}

static void cmd_unsubscribe(conn *c, int argc, resp_arg *argv)
{
    unsubscribe_generic(c, argc, argv, 0);
}

static void cmd_punsubscribe(conn *c, int argc, resp_arg *argv)
{
    unsubscribe_generic(c, argc, argv, 1);
}

static void cmd_publish(conn *c, int argc, resp_arg *argv)
{
    long long n = pubsub_publish(c->w, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len);
    reply_int(c, n);
}

/* ---- PUBSUB --------------------------------------------------------------------------------- */

static void channel_cb(void *ctx, const char *name, size_t len)
{
    reply_bulk(ctx, name, len);
}

static void cmd_pubsub_channels(conn *c, int argc, resp_arg *argv)
{
    if (argc > 3) {
        reply_err(c, "ERR wrong number of arguments for 'pubsub|channels' command");
        return;
    }
    const char *pat = argc == 3 ? argv[2].ptr : NULL;
    size_t plen = argc == 3 ? argv[2].len : 0;
    size_t mark = resp_write_deferred_begin(&c->out);
    long long n = pubsub_channels(pat, plen, channel_cb, c);
    if (resp_write_deferred_end(&c->out, mark, RESP_AGG_ARRAY, (size_t)n, c->proto) != RESP_OK)
        c->werr = 1;
}

static void cmd_pubsub_numsub(conn *c, int argc, resp_arg *argv)
{
    reply_array(c, (size_t)(argc - 2) * 2);
    for (int i = 2; i < argc; i++) {
        reply_bulk(c, argv[i].ptr, argv[i].len);
        reply_int(c, pubsub_numsub(argv[i].ptr, argv[i].len));
    }
}

static void cmd_pubsub_numpat(conn *c, int argc, resp_arg *argv)
{
    reply_int(c, pubsub_numpat());
}

/* Shard channels (Redis cluster) do not exist here: no shard channel is ever active. */
static void cmd_pubsub_shardchannels(conn *c, int argc, resp_arg *argv)
{
    if (argc > 3) {
        reply_err(c, "ERR wrong number of arguments for 'pubsub|shardchannels' command");
        return;
    }
    reply_array(c, 0);
}

static void cmd_pubsub_shardnumsub(conn *c, int argc, resp_arg *argv)
{
    reply_array(c, (size_t)(argc - 2) * 2);
    for (int i = 2; i < argc; i++) {
        reply_bulk(c, argv[i].ptr, argv[i].len);
        reply_int(c, 0);
    }
}

static void cmd_pubsub_help(conn *c, int argc, resp_arg *argv)
{
    static const char *lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

static void cmd_pubsub_container(conn *c, int argc, resp_arg *argv)
{
    reply_err(c, "ERR internal error");
}

#define PS (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE) /* (un)subscribe */
#define PQ (CMD_PUBSUB | CMD_LOADING | CMD_STALE)                /* publish, introspection */

static const command pubsub_subs[] = {
    {"pubsub|channels", -2, PQ, 0, 0, 0, cmd_pubsub_channels, "pubsub", "2.8.0",
     "Returns the active channels.", "[pattern]", "@pubsub @slow", NULL},
    {"pubsub|numsub", -2, PQ, 0, 0, 0, cmd_pubsub_numsub, "pubsub", "2.8.0",
     "Returns a count of subscribers to channels.", "[channel [channel ...]]", "@pubsub @slow",
     NULL},
    {"pubsub|numpat", 2, PQ, 0, 0, 0, cmd_pubsub_numpat, "pubsub", "2.8.0",
     "Returns a count of unique pattern subscriptions.", NULL, "@pubsub @slow", NULL},
    {"pubsub|shardchannels", -2, PQ, 0, 0, 0, cmd_pubsub_shardchannels, "pubsub", "7.0.0",
     "Returns the active shard channels.", "[pattern]", "@pubsub @slow", NULL},
    {"pubsub|shardnumsub", -2, PQ, 0, 0, 0, cmd_pubsub_shardnumsub, "pubsub", "7.0.0",
     "Returns the count of subscribers of shard channels.", "[shardchannel [shardchannel ...]]",
     "@pubsub @slow", NULL},
    {"pubsub|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_pubsub_help, "pubsub", "6.2.0",
     "Returns helpful text about the different subcommands.", NULL, "@slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const command cmd_pubsub_table[] = {
    {"subscribe", -2, PS, 0, 0, 0, cmd_subscribe, "pubsub", "2.0.0",
     "Listens for messages published to channels.", "channel [channel ...]", "@pubsub @slow",
     NULL},
    {"unsubscribe", -1, PS, 0, 0, 0, cmd_unsubscribe, "pubsub", "2.0.0",
     "Stops listening to messages posted to channels.", "[channel [channel ...]]",
     "@pubsub @slow", NULL},
    {"psubscribe", -2, PS, 0, 0, 0, cmd_psubscribe, "pubsub", "2.0.0",
     "Listens for messages published to channels that match one or more patterns.",
     "pattern [pattern ...]", "@pubsub @slow", NULL},
    {"punsubscribe", -1, PS, 0, 0, 0, cmd_punsubscribe, "pubsub", "2.0.0",
     "Stops listening to messages published to channels that match one or more patterns.",
     "[pattern [pattern ...]]", "@pubsub @slow", NULL},
    {"publish", 3, PQ | CMD_FAST, 0, 0, 0, cmd_publish, "pubsub", "2.0.0",
     "Posts a message to a channel.", "channel message", "@pubsub @fast", NULL},
    {"pubsub", -2, CMD_CONTAINER, 0, 0, 0, cmd_pubsub_container, "pubsub", "2.8.0",
     "A container for Pub/Sub commands.", NULL, "@slow", pubsub_subs},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

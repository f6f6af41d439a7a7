/*
 * cmd.h — the command table: every command as data, and the dispatcher.
 *
 * A row gives the name, arity (Redis's convention: N exactly, -N at least N, the name
 * counted), flags, the key positions (first, last, step; last < 0 counts from the end), the
 * handler, and the documentation that COMMAND DOCS serves (summary, group, since, and an
 * argument syntax string such as "key value [NX|XX] [GET]" from which redis-cli's hints are
 * built). Container commands (CLIENT, CONFIG, COMMAND, MEMORY, DEBUG) have a subcommand table:
 * the dispatcher resolves "client setname" to the row "client|setname" and checks its arity.
 *
 * The same rows answer COMMAND / COMMAND INFO, decide what an unauthenticated client may run,
 * what MULTI queues and what it runs at once, and which keys (and so which shards) EXEC locks.
 *
 * Handlers run on the connection's worker thread, append exactly one reply to c->out (or none
 * when the connection is to be closed without reply), and never block except DEBUG SLEEP.
 */
#ifndef MNEMO_SERVER_CMD_H
#define MNEMO_SERVER_CMD_H

#include <stddef.h>

#include "resp/resp.h"
#include "server/conn.h"

typedef void (*cmd_fn)(conn *c, int argc, resp_arg *argv);

enum {
    CMD_WRITE = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_FAST = 1 << 2,
    CMD_ADMIN = 1 << 3,
    CMD_NOAUTH = 1 << 4,    /* allowed before AUTH */
    CMD_TXN_NOW = 1 << 5,   /* runs at once inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT) */
    CMD_WHOLE = 1 << 6,     /* touches the store beyond its keys: EXEC locks the whole store */
    CMD_NOMULTI = 1 << 7,   /* refused inside MULTI */
    CMD_CONTAINER = 1 << 8, /* dispatches on its first argument (subcommands) */
    CMD_LOADING = 1 << 9,
    CMD_STALE = 1 << 10,
    CMD_NOSCRIPT = 1 << 11,
    CMD_DENYOOM = 1 << 12,
    CMD_PUBSUB = 1 << 13,   /* pub/sub command (COMMAND INFO flag "pubsub") */
};

typedef struct command {
    const char *name; /* lower case; "client|list" for a subcommand */
    int arity;
    unsigned flags;
    int first, last, step;
    cmd_fn fn;
    const char *group;   /* "string", "generic", "connection", "server", "transactions" */
    const char *since;
    const char *summary;
    const char *args;    /* argument syntax for COMMAND DOCS, NULL for none */
    const char *acl;     /* ACL categories: "@write @string @slow" */
    const struct command *subs; /* container: subcommands, ended by a row with name NULL */
} command;

/* Builds the lookup index. Call once before the workers start. */
void cmd_init(void);

/* Finds a top-level command by name (case-insensitive), NULL if unknown. */
const command *cmd_lookup(const char *name, size_t len);

/* Finds a subcommand of a container, NULL if unknown. */
const command *cmd_lookup_sub(const command *parent, const char *name, size_t len);

/* Runs (or queues, inside MULTI) the command in argv[0..argc) for c. */
void cmd_dispatch(conn *c, int argc, resp_arg *argv);
/* The same with the command already looked up (cmd_lookup(argv[0]); NULL: unknown). */
void cmd_dispatch_cmd(conn *c, const command *cmd, int argc, resp_arg *argv);

/* Runs an already resolved and checked command (EXEC uses it for the queued ones). */
void cmd_call(conn *c, const command *cmd, int argc, resp_arg *argv);

/* The store's clock (mnemo_config.clock): inside a timed command on a worker, the command's
 * start as wall-clock ms, derived from the monotonic reading the slowlog already takes (one
 * vdso call less per write: 2 % of a pipelined SET's time); anywhere else, CLOCK_REALTIME. */
int64_t cmd_store_clock(void *ctx);

/* Samples the wall clock's offset from the monotonic clock for this thread (a worker calls it
 * when it starts and from its cron, so a stepped wall clock is followed within a cron tick). */
void cmd_clock_sync(void);

/* Calls fn(ctx, db-relative key) for every key argument of cmd in argv (key positions).
 * Returns the number of keys. */
int cmd_keys(const command *cmd, int argc, resp_arg *argv,
             void (*fn)(void *ctx, const resp_arg *key), void *ctx);

/* Iterates the table (COMMAND): calls fn for every top-level command. */
void cmd_foreach(void (*fn)(void *ctx, const command *cmd), void *ctx);
size_t cmd_count(void);

/* Handlers of cmd_introspect.c that live under other families' containers. */
void introspect_debug_object(conn *c, int argc, resp_arg *argv);   /* DEBUG OBJECT */
void introspect_config_rewrite(conn *c, int argc, resp_arg *argv); /* CONFIG REWRITE */
void introspect_client_no_evict(conn *c, int argc, resp_arg *argv); /* CLIENT NO-EVICT */

/* Argument helpers shared by handlers. */
int arg_eq(const resp_arg *a, const char *lit);       /* case-insensitive */
int arg_ll(const resp_arg *a, long long *out);        /* Redis's string2ll */
int arg_ll_or_reply(conn *c, const resp_arg *a, long long *out); /* replies ERR_NOTINT */

/* The handler tables of each command family, joined by cmd.c. */
extern const command cmd_string_table[];
extern const command cmd_keys_table[];
extern const command cmd_server_table[];
extern const command cmd_conn_table[];
extern const command cmd_txn_table[];
extern const command cmd_mnemo_table[];
extern const command cmd_command_table[];
extern const command cmd_pubsub_table[];
extern const command cmd_slowlog_table[];
extern const command cmd_introspect_table[];
extern const command cmd_persist_table[];

#endif

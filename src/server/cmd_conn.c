/*
 * cmd_conn.c — connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.
 *
 * CLIENT LIST / KILL look at other workers' connections through the server's registry under
 * clients_lock; a kill only sets the target's atomic flag and wakes its worker, which closes
 * it (a connection is only ever closed by its own worker).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/pubsub.h"
#include "server/reply.h"
#include "server/server.h"
#include "server/worker.h"

static void cmd_ping(conn *c, int argc, resp_arg *argv)
{
    if (argc > 2) {
        reply_err(c, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->proto == 2 && pubsub_count(c->ps)) {
        /* Subscribed RESP2 clients get ["pong", message] (Redis). */
        reply_array(c, 2);
        reply_bulk_str(c, "pong");
        reply_bulk(c, argc == 2 ? argv[1].ptr : "", argc == 2 ? argv[1].len : 0);
        return;
    }
    if (argc == 2)
        reply_bulk(c, argv[1].ptr, argv[1].len);
    else
        reply_simple(c, "PONG");
}

static void cmd_echo(conn *c, int argc, resp_arg *argv)
{
    reply_bulk(c, argv[1].ptr, argv[1].len);
}

static void cmd_quit(conn *c, int argc, resp_arg *argv)
{
    reply_ok(c);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
}

static void select_db(conn *c, unsigned db)
{
    c->db = db;
    atomic_store_explicit(&c->pub_db, db, memory_order_relaxed);
}

static void cmd_select(conn *c, int argc, resp_arg *argv)
{
    long long id;
    if (!arg_ll_or_reply(c, &argv[1], &id))
        return;
    if (id < 0 || id >= g_srv.databases) {
        reply_err(c, ERR_DBRANGE);
        return;
    }
    select_db(c, (unsigned)id);
    reply_ok(c);
}

static void set_name(conn *c, const resp_arg *a)
{
    char *n = NULL;
    if (a->len) {
        n = malloc(a->len + 1);
        if (!n)
            return;
        memcpy(n, a->ptr, a->len);
        n[a->len] = 0;
    }
    pthread_mutex_lock(&g_srv.clients_lock);
    char *old = c->name;
    c->name = n;
    pthread_mutex_unlock(&g_srv.clients_lock);
    free(old);
}

static int name_valid(const resp_arg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~')
            return 0;
    return 1;
}

#define ERR_BADNAME "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* Checks user/password as Redis's default user: with no requirepass any password is taken
 * (the default user is "nopass"). Returns 1 if authenticated. */
static int check_auth(const resp_arg *user, const resp_arg *pass)
{
    if (user && !arg_eq(user, "default"))
        return 0;
    int r = config_check_password(pass->ptr, pass->len);
    return r != 0; /* -1: no password configured, 1: match */
}

static void cmd_auth(conn *c, int argc, resp_arg *argv)
{
    if (argc > 3) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (argc == 2 && !config_auth_required()) {
        reply_err(c, "ERR AUTH <password> called without any password configured for the "
                     "default user. Are you sure your configuration is correct?");
        return;
    }
    if (check_auth(argc == 3 ? &argv[1] : NULL, &argv[argc - 1])) {
        c->authed = 1;
        reply_ok(c);
    } else {
        reply_err(c, ERR_WRONGPASS);
    }
}

static void cmd_hello(conn *c, int argc, resp_arg *argv)
{
    long long ver = 0;
    const resp_arg *user = NULL, *pass = NULL, *name = NULL;
    if (argc >= 2) {
        if (!arg_ll(&argv[1], &ver)) {
            reply_err(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_err(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int j = 2; j < argc; j++) {
        int more = argc - 1 - j;
        if (arg_eq(&argv[j], "AUTH") && more >= 2) {
            user = &argv[j + 1];
            pass = &argv[j + 2];
            j += 2;
        } else if (arg_eq(&argv[j], "SETNAME") && more >= 1) {
            name = &argv[++j];
            if (!name_valid(name)) {
                reply_err(c, ERR_BADNAME);
                return;
            }
        } else {
            reply_errf(c, "ERR Syntax error in HELLO option '%.*s'", (int)argv[j].len,
                       argv[j].ptr);
            return;
        }
    }
    if (user) {
        if (!check_auth(user, pass)) {
            reply_err(c, ERR_WRONGPASS);
            return;
        }
        c->authed = 1;
    }
    if (!c->authed) {
        reply_err(c, "NOAUTH HELLO must be called with the client already authenticated, "
                     "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                     "authenticate the client and select the RESP protocol version at the same "
                     "time");
        return;
    }
    if (name)
        set_name(c, name);
    if (ver)
        c->proto = (int)ver;
    reply_map(c, 7);
    reply_bulk_str(c, "server");
    reply_bulk_str(c, "redis");
    reply_bulk_str(c, "version");
    reply_bulk_str(c, MNEMO_REDIS_COMPAT_VERSION);
    reply_bulk_str(c, "proto");
    reply_int(c, c->proto);
    reply_bulk_str(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_str(c, "mode");
    reply_bulk_str(c, "standalone");
    reply_bulk_str(c, "role");
    reply_bulk_str(c, "master");
    reply_bulk_str(c, "modules");
    reply_array(c, 0);
}

static void cmd_reset(conn *c, int argc, resp_arg *argv)
{
    conn_discard_multi(c);
    conn_unwatch(c);
    pubsub_conn_unsubscribe_all(c);
    select_db(c, 0);
    c->proto = 2;
    c->flags &= ~(unsigned)(CONN_REPLY_OFF | CONN_REPLY_SKIP_NEXT);
    resp_arg empty = {"", 0};
    set_name(c, &empty);
    c->authed = !config_auth_required();
    reply_simple(c, "RESET");
}

/* ---- CLIENT --------------------------------------------------------------------------------- */

static void cmd_client_id(conn *c, int argc, resp_arg *argv)
{
    reply_int(c, (long long)c->id);
}

static void cmd_client_setname(conn *c, int argc, resp_arg *argv)
{
    if (!name_valid(&argv[2])) {
        reply_err(c, ERR_BADNAME);
        return;
    }
    set_name(c, &argv[2]);
    reply_ok(c);
}

static void cmd_client_getname(conn *c, int argc, resp_arg *argv)
{
    if (c->name)
        reply_bulk_str(c, c->name);
    else
        reply_null(c);
}

/* Appends the CLIENT LIST lines of every client (or only `only`) to a malloc()ed string. */
/* Client types for CLIENT LIST / KILL TYPE: a connection with a subscription is "pubsub",
 * any other "normal" (there are no replicas). */
enum { CTYPE_ANY, CTYPE_NORMAL, CTYPE_PUBSUB, CTYPE_NONE };

static int type_matches(conn *x, int type)
{
    int sub = atomic_load_explicit(&x->pub_subs, memory_order_relaxed) +
              atomic_load_explicit(&x->pub_psubs, memory_order_relaxed);
    return type == CTYPE_ANY || (type == CTYPE_NORMAL && !sub) || (type == CTYPE_PUBSUB && sub);
}

static char *describe_clients(conn *only, size_t *len_out, const long long *ids, int nids,
                              int type)
{
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    int64_t now = server_now_ms();
    if (!s)
        return NULL;
    pthread_mutex_lock(&g_srv.clients_lock);
    for (conn *x = only ? only : g_srv.clients; x; x = only ? NULL : x->rnext) {
        if (!type_matches(x, type))
            continue;
        if (nids) {
            int hit = 0;
            for (int i = 0; i < nids; i++)
                hit |= (unsigned long long)ids[i] == x->id;
            if (!hit)
                continue;
        }
        if (cap - len < 1024) {
            char *ns = realloc(s, cap * 2);
            if (!ns)
                break;
            s = ns;
            cap *= 2;
        }
        len += conn_describe(x, s + len, cap - len, now);
    }
    pthread_mutex_unlock(&g_srv.clients_lock);
    *len_out = len;
    return s;
}

static void cmd_client_list(conn *c, int argc, resp_arg *argv)
{
    long long ids[64];
    int nids = 0, type = CTYPE_ANY;
    for (int j = 2; j < argc; j++) {
        if (arg_eq(&argv[j], "TYPE") && j + 1 < argc) {
            j++;
            if (!arg_eq(&argv[j], "normal") && !arg_eq(&argv[j], "master") &&
                !arg_eq(&argv[j], "replica") && !arg_eq(&argv[j], "slave") &&
                !arg_eq(&argv[j], "pubsub")) {
                reply_errf(c, "ERR Unknown client type '%.*s'", (int)argv[j].len, argv[j].ptr);
                return;
            }
            type = arg_eq(&argv[j], "normal")   ? CTYPE_NORMAL
                   : arg_eq(&argv[j], "pubsub") ? CTYPE_PUBSUB
                                                : CTYPE_NONE;
        } else if (arg_eq(&argv[j], "ID") && j + 1 < argc) {
            for (j++; j < argc && nids < 64; j++) {
                if (!arg_ll(&argv[j], &ids[nids])) {
                    reply_err(c, "ERR Invalid client ID");
                    return;
                }
                nids++;
            }
        } else {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    size_t len;
    char *s = describe_clients(NULL, &len, ids, nids, type);
    if (!s) {
        reply_err(c, ERR_NOMEM);
        return;
    }
    reply_verbatim(c, s, len);
    free(s);
}

static void cmd_client_info(conn *c, int argc, resp_arg *argv)
{
    size_t len;
    char *s = describe_clients(c, &len, NULL, 0, CTYPE_ANY);
    if (!s) {
        reply_err(c, ERR_NOMEM);
        return;
    }
    reply_verbatim(c, s, len);
    free(s);
}

static int addr_eq(const char *addr, const resp_arg *a)
{
    return strlen(addr) == a->len && memcmp(addr, a->ptr, a->len) == 0;
}

static void cmd_client_kill(conn *c, int argc, resp_arg *argv)
{
    const resp_arg *addr = NULL, *laddr = NULL;
    long long id = 0;
    int skipme = 1, old_form = argc == 3, killed = 0, self = 0, ktype = CTYPE_ANY;
    if (old_form) {
        addr = &argv[2];
        skipme = 0;
    } else {
        if ((argc - 2) % 2) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
        for (int j = 2; j < argc; j += 2) {
            const resp_arg *v = &argv[j + 1];
            if (arg_eq(&argv[j], "ID")) {
                if (!arg_ll(v, &id) || id <= 0) {
                    reply_err(c, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (arg_eq(&argv[j], "ADDR")) {
                addr = v;
            } else if (arg_eq(&argv[j], "LADDR")) {
                laddr = v;
            } else if (arg_eq(&argv[j], "SKIPME")) {
                if (arg_eq(v, "yes"))
                    skipme = 1;
                else if (arg_eq(v, "no"))
                    skipme = 0;
                else {
                    reply_err(c, ERR_SYNTAX);
                    return;
                }
            } else if (arg_eq(&argv[j], "TYPE")) {
                if (arg_eq(v, "normal")) {
                    ktype = CTYPE_NORMAL;
                } else if (arg_eq(v, "pubsub")) {
                    ktype = CTYPE_PUBSUB;
                } else if (arg_eq(v, "master") || arg_eq(v, "replica") || arg_eq(v, "slave")) {
                    ktype = CTYPE_NONE;
                } else {
                    reply_errf(c, "ERR Unknown client type '%.*s'", (int)v->len, v->ptr);
                    return;
                }
            } else if (arg_eq(&argv[j], "USER")) {
                if (!arg_eq(v, "default")) {
                    reply_errf(c, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                    return;
                }
            } else {
                reply_err(c, ERR_SYNTAX);
                return;
            }
        }
    }
    pthread_mutex_lock(&g_srv.clients_lock);
    for (conn *x = g_srv.clients; x; x = x->rnext) {
        if (addr && !addr_eq(x->addr, addr))
            continue;
        if (laddr && !addr_eq(x->laddr, laddr))
            continue;
        if (id && x->id != (unsigned long long)id)
            continue;
        if (!type_matches(x, ktype))
            continue;
        if (atomic_load(&x->kill))
            continue; /* already being closed */
        if (x == c) {
            if (skipme)
                continue;
            self = 1;
        } else {
            atomic_store(&x->kill, 1);
            atomic_store(&x->w->kill_pending, 1);
            worker_wake(x->w);
        }
        killed++;
    }
    pthread_mutex_unlock(&g_srv.clients_lock);
    if (self)
        c->flags |= CONN_CLOSE_AFTER_REPLY;
    if (old_form) {
        if (killed)
            reply_ok(c);
        else
            reply_err(c, "ERR No such client");
    } else {
        reply_int(c, killed);
    }
}

static void cmd_client_reply(conn *c, int argc, resp_arg *argv)
{
    if (arg_eq(&argv[2], "ON")) {
        c->flags &= ~(unsigned)(CONN_REPLY_OFF | CONN_REPLY_SKIP_NEXT);
        reply_ok(c);
    } else if (arg_eq(&argv[2], "OFF")) {
        c->flags |= CONN_REPLY_OFF;
    } else if (arg_eq(&argv[2], "SKIP")) {
        if (!(c->flags & CONN_REPLY_OFF))
            c->flags |= CONN_REPLY_SKIP_NEXT;
    } else {
        reply_err(c, ERR_SYNTAX);
    }
}

/* CLIENT SETINFO LIB-NAME name | LIB-VER version (Redis 7.2; redis-py 5 and other clients
 * send it on connect). Accepted and validated; not shown by CLIENT LIST yet. */
static void cmd_client_setinfo(conn *c, int argc, resp_arg *argv)
{
    if (!arg_eq(&argv[2], "LIB-NAME") && !arg_eq(&argv[2], "LIB-VER")) {
        reply_errf(c, "ERR Unrecognized option '%.*s'", (int)argv[2].len, argv[2].ptr);
        return;
    }
    if (!name_valid(&argv[3])) {
        reply_errf(c, "ERR %.*s cannot contain spaces, newlines or special characters.",
                   (int)argv[2].len, argv[2].ptr);
        return;
    }
    reply_ok(c);
}

static void cmd_client_help(conn *c, int argc, resp_arg *argv)
{
    static const char *lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
        "LIST [TYPE (NORMAL|PUBSUB)] [ID <id> [<id> ...]]", "    Return information about client connections.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "HELP", "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

static void cmd_container(conn *c, int argc, resp_arg *argv)
{
    /* never called: the dispatcher resolves subcommands */
    reply_err(c, "ERR internal error");
}

#define F CMD_FAST
#define NA CMD_NOAUTH
#define NOW CMD_TXN_NOW

static const command client_subs[] = {
    {"client|id", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_id,
     "connection", "5.0.0", "Returns the unique client ID of the connection.", NULL,
     "@slow @connection", NULL},
    {"client|setname", 3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_setname,
     "connection", "2.6.9", "Sets the connection name.", "connection-name",
     "@slow @connection", NULL},
    {"client|getname", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_getname,
     "connection", "2.6.9", "Returns the name of the connection.", NULL, "@slow @connection",
     NULL},
    {"client|list", -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     cmd_client_list, "connection", "2.4.0", "Lists open connections.",
     "[TYPE normal|master|replica|pubsub] [ID client-id [client-id ...]]",
     "@admin @slow @dangerous @connection", NULL},
    {"client|info", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_info,
     "connection", "6.2.0", "Returns information about the connection.", NULL,
     "@slow @connection", NULL},
    {"client|kill", -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     cmd_client_kill, "connection", "2.4.0", "Terminates open connections.",
     "ip:port|[ID client-id] [TYPE normal|pubsub] [USER username] [ADDR ip:port] [LADDR ip:port] "
     "[SKIPME yes|no]",
     "@admin @slow @dangerous @connection", NULL},
    {"client|reply", 3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_reply,
     "connection", "3.2.0", "Instructs the server whether to reply to commands.", "ON|OFF|SKIP",
     "@slow @connection", NULL},
    {"client|setinfo", 4, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_setinfo,
     "connection", "7.2.0", "Sets information specific to the client or connection.",
     "LIB-NAME libname|LIB-VER libver", "@slow @connection", NULL},
    {"client|no-evict", 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0,
     introspect_client_no_evict, "connection", "7.0.0",
     "Sets the client eviction mode of the connection.", "ON|OFF",
     "@admin @slow @dangerous @connection", NULL},
    {"client|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_client_help, "connection", "5.0.0",
     "Returns helpful text about the different subcommands.", NULL, "@slow @connection", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const command cmd_conn_table[] = {
    {"ping", -1, F, 0, 0, 0, cmd_ping, "connection", "1.0.0", "Returns the server's liveliness "
     "response.", "[message]", "@fast @connection", NULL},
    {"echo", 2, F, 0, 0, 0, cmd_echo, "connection", "1.0.0", "Returns the given string.",
     "message", "@fast @connection", NULL},
    {"quit", -1, NA | NOW | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_quit, "connection", "1.0.0",
     "Closes the connection.", NULL, "@fast @connection", NULL},
    {"reset", 1, NA | NOW | F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_reset,
     "connection", "6.2.0", "Resets the connection.", NULL, "@fast @connection", NULL},
    {"select", 2, F | CMD_WHOLE | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_select, "connection",
     "1.0.0", "Changes the selected database.", "index", "@fast @connection", NULL},
    {"auth", -2, NA | F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_auth,
     "connection", "1.0.0", "Authenticates the connection.", "[username] password",
     "@fast @connection", NULL},
    {"hello", -1, NA | F | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_hello,
     "connection", "6.0.0", "Handshakes with the Redis server.",
     "[protover [AUTH username password] [SETNAME clientname]]", "@fast @connection", NULL},
    {"client", -2, CMD_CONTAINER, 0, 0, 0, cmd_container, "connection", "2.4.0",
     "A container for client connection commands.", NULL, "@slow", client_subs},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

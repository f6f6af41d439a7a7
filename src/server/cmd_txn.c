/*
 * cmd_txn.c — MULTI, EXEC, DISCARD, WATCH, UNWATCH.
 *
 * MULTI queues commands (copies of their arguments) after the dispatcher's checks; a command
 * refused while queueing (unknown, wrong arity, not authenticated) marks the transaction
 * dirty and EXEC answers EXECABORT, as Redis does. Errors raised while a queued command runs
 * are ordinary replies inside EXEC's array.
 *
 * EXEC is atomic through the library: mnemo_txn_begin() locks the shards of every key the
 * queued commands name (found with the command table's key positions) plus the watched keys,
 * or the whole store when a queued command reaches beyond its keys (CMD_WHOLE: FLUSHDB, KEYS,
 * SCAN, SWAPDB, SELECT, MOVE, ...). Other clients' commands on those shards wait until
 * mnemo_txn_end().
 *
 * WATCH records each key's version (or its absence). EXEC, once the locks are held, reads the
 * versions again: any difference (written, deleted, created, expired) aborts with a null
 * reply. A TTL change does not change a version, so the expiration time is recorded and
 * compared too: EXPIRE/PERSIST of a watched key aborts EXEC, as in Redis.
 */
#include <stdlib.h>
#include <string.h>

#include "server/cmd.h"
#include "server/reply.h"
#include "server/server.h"

#define ST srv_store() /* NULL while loading: see server.h */

typedef struct key_state {
    uint64_t version;
    int64_t expire_at;
} key_state;

static void version_cb(void *ctx, const mnemo_item *it)
{
    key_state *ks = ctx;
    ks->version = it->version;
    ks->expire_at = it->expire_at_ms;
}

/* Reads a key's version and expiration: 1 and *ks if present, 0 if absent, <0 on error. */
static int key_version(unsigned db, const char *key, size_t len, key_state *ks)
{
    int rc = mnemo_get_with(ST, db, key, len, version_cb, ks);
    if (rc == MNEMO_OK)
        return 1;
    if (rc == MNEMO_ENOTFOUND)
        return 0;
    return rc;
}

static void cmd_multi(conn *c, int argc, resp_arg *argv)
{
    if (c->flags & CONN_MULTI) {
        reply_err(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CONN_MULTI;
    c->flags &= ~(unsigned)CONN_DIRTY_EXEC;
    atomic_store_explicit(&c->pub_multi, 0, memory_order_relaxed);
    reply_ok(c);
}

static void cmd_discard(conn *c, int argc, resp_arg *argv)
{
    if (!(c->flags & CONN_MULTI)) {
        reply_err(c, "ERR DISCARD without MULTI");
        return;
    }
    conn_discard_multi(c);
    conn_unwatch(c);
    reply_ok(c);
}

static void cmd_watch(conn *c, int argc, resp_arg *argv)
{
    if (c->flags & CONN_MULTI) {
        reply_err(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < argc; i++) {
        int dup = 0;
        for (int j = 0; j < c->nwatched && !dup; j++)
            dup = c->watched[j].db == c->db && c->watched[j].len == argv[i].len &&
                  memcmp(c->watched[j].key, argv[i].ptr, argv[i].len) == 0;
        if (dup)
            continue;
        if (c->nwatched == c->watched_cap) {
            int cap = c->watched_cap ? c->watched_cap * 2 : 8;
            watched_key *nw = realloc(c->watched, (size_t)cap * sizeof(*nw));
            if (!nw) {
                reply_err(c, ERR_NOMEM);
                return;
            }
            c->watched = nw;
            c->watched_cap = cap;
        }
        watched_key *wk = &c->watched[c->nwatched];
        wk->key = malloc(argv[i].len + 1);
        if (!wk->key) {
            reply_err(c, ERR_NOMEM);
            return;
        }
        memcpy(wk->key, argv[i].ptr, argv[i].len);
        wk->len = argv[i].len;
        wk->db = c->db;
        wk->swaps = atomic_load(&g_srv.db_swaps[c->db]);
        key_state ks = {0, 0};
        int rc = key_version(c->db, argv[i].ptr, argv[i].len, &ks);
        wk->version = ks.version;
        wk->expire_at = ks.expire_at;
        if (rc < 0) {
            free(wk->key);
            reply_status(c, rc);
            return;
        }
        wk->present = rc;
        c->nwatched++;
    }
    reply_ok(c);
}

static void cmd_unwatch(conn *c, int argc, resp_arg *argv)
{
    conn_unwatch(c);
    reply_ok(c);
}

typedef struct key_list {
    mnemo_txn_key *k;
    size_t n, cap;
    unsigned db;
    int oom;
} key_list;

static void add_key(void *ctx, const resp_arg *key)
{
    key_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        mnemo_txn_key *nk = realloc(l->k, cap * sizeof(*nk));
        if (!nk) {
            l->oom = 1;
            return;
        }
        l->k = nk;
        l->cap = cap;
    }
    l->k[l->n].db = l->db;
    l->k[l->n].key = key->ptr;
    l->k[l->n].key_len = key->len;
    l->n++;
}

/* 1 if every watched key still has the version and expiration it had at WATCH, and its
 * database took part in no SWAPDB since. */
static int watches_hold(conn *c)
{
    for (int i = 0; i < c->nwatched; i++) {
        watched_key *wk = &c->watched[i];
        key_state ks = {0, 0};
        int rc = key_version(wk->db, wk->key, wk->len, &ks);
        if (rc < 0 || rc != wk->present || atomic_load(&g_srv.db_swaps[wk->db]) != wk->swaps ||
            (rc && (ks.version != wk->version || ks.expire_at != wk->expire_at)))
            return 0;
    }
    return 1;
}

static void cmd_exec(conn *c, int argc, resp_arg *argv)
{
    if (!(c->flags & CONN_MULTI)) {
        reply_err(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CONN_DIRTY_EXEC) {
        reply_err(c, "EXECABORT Transaction discarded because of previous errors.");
        conn_discard_multi(c);
        conn_unwatch(c);
        return;
    }

    key_list kl = {.db = c->db};
    int whole = 0;
    for (int i = 0; i < c->mq_len && !whole; i++) {
        const command *cmd = c->mq[i].cmd;
        if (cmd->flags & CMD_WHOLE)
            whole = 1;
        else
            cmd_keys(cmd, c->mq[i].argc, c->mq[i].argv, add_key, &kl);
    }
    for (int i = 0; i < c->nwatched; i++) {
        resp_arg a = {c->watched[i].key, c->watched[i].len};
        kl.db = c->watched[i].db;
        add_key(&kl, &a);
    }
    if (kl.oom) {
        free(kl.k);
        reply_err(c, ERR_NOMEM);
        conn_discard_multi(c);
        conn_unwatch(c);
        return;
    }

    mnemo_txn *txn = NULL;
    int rc = mnemo_txn_begin(ST, kl.k, kl.n, whole, &txn);
    if (rc != MNEMO_OK) {
        free(kl.k);
        reply_status(c, rc);
        conn_discard_multi(c);
        conn_unwatch(c);
        return;
    }

    if (!watches_hold(c)) {
        mnemo_txn_end(txn);
        free(kl.k);
        conn_discard_multi(c);
        conn_unwatch(c);
        reply_null_array(c);
        return;
    }

    /* Run the queue: the commands must not be queued again. */
    queued_cmd *q = c->mq;
    int n = c->mq_len;
    c->flags &= ~(unsigned)CONN_MULTI;
    c->in_exec = 1;
    reply_array(c, (size_t)n);
    for (int i = 0; i < n; i++)
        cmd_call(c, q[i].cmd, q[i].argc, q[i].argv);
    c->in_exec = 0;
    mnemo_txn_end(txn);
    free(kl.k);
    conn_discard_multi(c);
    conn_unwatch(c);
}

#define NOW CMD_TXN_NOW
#define FL (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST)

const command cmd_txn_table[] = {
    {"multi", 1, NOW | FL, 0, 0, 0, cmd_multi, "transactions", "1.2.0",
     "Starts a transaction.", NULL, "@fast @transaction", NULL},
    {"exec", 1, NOW | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_exec,
     "transactions", "1.2.0", "Executes all commands in a transaction.", NULL,
     "@slow @transaction", NULL},
    {"discard", 1, NOW | FL, 0, 0, 0, cmd_discard, "transactions", "2.0.0",
     "Discards a transaction.", NULL, "@fast @transaction", NULL},
    {"watch", -2, NOW | FL, 1, -1, 1, cmd_watch, "transactions", "2.2.0",
     "Monitors changes to keys to determine the execution of a transaction.", "key [key ...]",
     "@fast @transaction", NULL},
    {"unwatch", 1, FL, 0, 0, 0, cmd_unwatch, "transactions", "2.2.0",
     "Forgets about watched keys of a transaction.", NULL, "@fast @transaction", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/*
 * pubsub.h — publish/subscribe across worker threads (SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB).
 *
 * A subscriber's connection lives on one worker; PUBLISH may run on any worker (or on the
 * store's background thread, for keyspace notifications of expired keys). Design:
 *
 *   registry (one rwlock)                     per-worker inbox (mutex + FIFO list)
 *   channel -> [psub, psub, ...]              ┌──────────┐  ┌──────────┐
 *   pattern -> [psub, ...]   ── PUBLISH ───>  │ worker 0 │  │ worker 1 │ ...  + eventfd wake-up
 *                                             └──────────┘  └──────────┘
 *
 *   - The registry maps each channel (hash table) and each pattern (list) to the subscribers'
 *     `psub` records. SUBSCRIBE/UNSUBSCRIBE take the lock for writing; PUBLISH and PUBSUB
 *     take it for reading, so publishers run in parallel. Nothing here is touched by the
 *     GET/SET path: a connection that never subscribes has c->ps == NULL.
 *   - PUBLISH resolves the receivers under the read lock and groups them by worker into one
 *     `batch` per worker (the message bytes are shared, refcounted). The batch for the
 *     publisher's own worker is delivered at once after the lock is released (so a client
 *     publishing to itself sees the message before the reply, as in Redis); the others are
 *     appended to their worker's inbox, and the worker is woken through its eventfd when its
 *     inbox goes from empty to non-empty.
 *   - The owning worker appends each message to the connection's output buffer in that
 *     connection's protocol (RESP2 array, RESP3 push) and flushes every touched connection
 *     once, at the end of its event batch (pubsub_worker_tick). Messages from one publisher
 *     to one subscriber keep their order.
 *   - A `psub` is refcounted: the connection holds one reference, every queued batch entry
 *     one more. When the connection closes it leaves the registry and clears psub.c; entries
 *     still queued for it are dropped when drained.
 *   - Slow subscribers: after appending, the worker applies the pubsub class of
 *     client-output-buffer-limit; a subscriber over the limit is disconnected.
 *
 * Lock order: a store shard lock (the library's hook) may be held when the registry lock is
 * taken, never the reverse (pub/sub never calls into the store). The inbox mutex is taken
 * with or without the registry lock, and nothing is taken under it.
 */
#ifndef MNEMO_SERVER_PUBSUB_H
#define MNEMO_SERVER_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct worker;
typedef struct psub psub;

/* Per-connection subscription state (only the owning worker reads or writes the counts). */
struct psub {
    _Atomic int refs;
    unsigned worker_id;
    struct conn *c;        /* NULL once the connection closed (owner thread only) */
    struct chan **chans;   /* channels subscribed to (registry lock for writes) */
    int nchans, chans_cap;
    struct pat **pats;     /* patterns subscribed to (registry lock for writes) */
    int npats, pats_cap;
    psub *flush_next;      /* owner thread: on the worker's to-flush list */
    int flush_queued;
};

/* Sets up the registry and one inbox per worker. Call once before the workers start. */
int pubsub_init(unsigned nworkers);

/* Frees everything after the workers stopped. */
void pubsub_free(void);

/* Subscriptions (channels + patterns) of the connection whose psub is ps (NULL: it never
 * subscribed). Owner thread. */
static inline int pubsub_count(const psub *ps)
{
    return ps ? ps->nchans + ps->npats : 0;
}

/* Subscribes c (creating its psub on first use) to a channel or, with pattern, a pattern.
 * Returns 1 if it is new, 0 if c was already subscribed, -1 out of memory. Owner thread. */
int pubsub_sub(struct conn *c, const char *name, size_t len, int pattern);

/* Unsubscribes c from one channel or pattern. Returns 1 if it was subscribed, else 0. */
int pubsub_unsub(struct conn *c, const char *name, size_t len, int pattern);

/* Copies the name of c's first channel (or pattern) subscription into a malloc()ed buffer
 * (*name, *len); returns 1, or 0 if there is none (or out of memory). For "unsubscribe all". */
int pubsub_first(struct conn *c, int pattern, char **name, size_t *len);

/* PUBSUB CHANNELS: calls fn(ctx, name, len) for every channel with subscribers whose name
 * matches the glob (NULL: all), under the registry's read lock (fn must not call pub/sub).
 * Returns the count. */
long long pubsub_channels(const char *pat, size_t plen,
                          void (*fn)(void *ctx, const char *name, size_t len), void *ctx);

/* PUBSUB NUMSUB for one channel: its number of subscribers. */
long long pubsub_numsub(const char *name, size_t len);

/* PUBSUB NUMPAT: number of distinct patterns with at least one subscriber. */
long long pubsub_numpat(void);

/* Called by the owning worker when c closes or RESETs: leaves every channel and pattern
 * without replying. Safe on a connection that never subscribed. */
void pubsub_conn_unsubscribe_all(struct conn *c);

/* Called by conn_close (owner thread): unsubscribes all and detaches the psub. */
void pubsub_conn_closed(struct conn *c);

/*
 * Publishes `msg` on `channel`; returns the number of receivers (channel subscribers plus
 * matching pattern subscriptions). `self` is the calling worker, or NULL from any other
 * thread (or from a context that must not write to connections, such as a library hook):
 * then every receiver is reached through its worker's inbox. Thread-safe.
 */
long long pubsub_publish(struct worker *self, const char *channel, size_t chlen, const char *msg,
                         size_t msglen);

/* 1 if anyone is subscribed to anything (a relaxed load, for cheap early exits). */
int pubsub_any(void);

/* The worker's periodic hook, run after each event batch: drains its inbox, appends the
 * messages, flushes the touched connections. Owner thread. */
void pubsub_worker_tick(struct worker *w);

/* Numbers for INFO: channels with at least one subscriber, patterns subscribed. */
void pubsub_stats(long long *channels, long long *patterns);

/* The output-buffer-limit class of c (OBL_PUBSUB if it is subscribed to anything). */
int pubsub_obl_class(const struct conn *c);

#endif

/*
 * pubsub.c — the channel/pattern registry, PUBLISH fan-out and per-worker delivery
 * (see pubsub.h for the design and the lock order).
 */
#include "server/pubsub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp_write.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/glob.h"
#include "util/hash.h"

/* ---- registry ------------------------------------------------------------------------------- */

typedef struct chan {
    struct chan *next; /* hash chain */
    uint64_t hash;
    psub **subs;
    int nsubs, cap;
    size_t len;
    char name[];
} chan;

typedef struct pat {
    struct pat *next, *prev;
    psub **subs;
    int nsubs, cap;
    size_t len;
    char name[];
} pat;

/* Everything below is protected by reg_lock (read: PUBLISH, PUBSUB; write: (un)subscribe). */
static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static chan **tab;
static size_t tab_mask; /* table size - 1 (power of two) */
static size_t nchannels;
static pat *patterns;
static size_t npatterns;
/* Subscriptions of every kind, updated under the write lock; read without it by
 * pubsub_publish() to skip all work when nobody listens (keyspace notifications). */
static _Atomic long nsubscriptions;

/* ---- delivery ------------------------------------------------------------------------------- */

/* A published message, shared by the batches that carry it. */
typedef struct pmsg {
    _Atomic int refs;
    size_t chlen, len;
    char data[]; /* channel, then payload */
} pmsg;

typedef struct bentry {
    psub *ps;       /* a reference */
    uint32_t patoff; /* pattern bytes in the batch's blob, for pmessage */
    uint32_t patlen;
    int is_pat;
} bentry;

/* The receivers of one message on one worker. */
typedef struct batch {
    struct batch *next;
    pmsg *m;
    int n;
    char *pats; /* pattern bytes (after the entries) */
    bentry e[];
} batch;

typedef struct inbox {
    pthread_mutex_t lock;
    batch *head, *tail; /* lock */
    _Atomic int nonempty;
    psub *flush_head;   /* owner worker only: connections to flush at the end of the tick */
    char pad[64];
} inbox;

static inbox *inboxes;
static unsigned ninboxes;

int pubsub_init(unsigned nworkers)
{
    tab_mask = 63;
    tab = calloc(tab_mask + 1, sizeof(*tab));
    inboxes = calloc(nworkers, sizeof(*inboxes));
    if (!tab || !inboxes)
        return -1;
    ninboxes = nworkers;
    for (unsigned i = 0; i < nworkers; i++)
        pthread_mutex_init(&inboxes[i].lock, NULL);
    return 0;
}

static void psub_ref(psub *ps)
{
    atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
}

static void psub_unref(psub *ps)
{
    if (atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) == 1) {
        free(ps->chans);
        free(ps->pats);
        free(ps);
    }
}

static void pmsg_unref(pmsg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

static void batch_free(batch *b)
{
    for (int i = 0; i < b->n; i++)
        psub_unref(b->e[i].ps);
    pmsg_unref(b->m);
    free(b);
}

void pubsub_free(void)
{
    for (unsigned i = 0; i < ninboxes; i++) {
        while (inboxes[i].head) {
            batch *b = inboxes[i].head;
            inboxes[i].head = b->next;
            batch_free(b);
        }
        pthread_mutex_destroy(&inboxes[i].lock);
    }
    free(inboxes);
    inboxes = NULL;
    ninboxes = 0;
    /* Every connection has closed by now, so the registry is empty. */
    free(tab);
    tab = NULL;
}

int pubsub_any(void)
{
    return atomic_load_explicit(&nsubscriptions, memory_order_relaxed) != 0;
}

/* ---- registry helpers (write lock held unless noted) ---------------------------------------- */

static chan *chan_find_locked(const char *name, size_t len, uint64_t h)
{
    for (chan *ch = tab[h & tab_mask]; ch; ch = ch->next)
        if (ch->hash == h && ch->len == len && memcmp(ch->name, name, len) == 0)
            return ch;
    return NULL;
}

static void tab_grow_locked(void)
{
    size_t nsize = (tab_mask + 1) * 2;
    chan **nt = calloc(nsize, sizeof(*nt));
    if (!nt)
        return; /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i <= tab_mask; i++) {
        chan *ch = tab[i];
        while (ch) {
            chan *next = ch->next;
            ch->next = nt[ch->hash & (nsize - 1)];
            nt[ch->hash & (nsize - 1)] = ch;
            ch = next;
        }
    }
    free(tab);
    tab = nt;
    tab_mask = nsize - 1;
}

static pat *pat_find_locked(const char *name, size_t len)
{
    for (pat *p = patterns; p; p = p->next)
        if (p->len == len && memcmp(p->name, name, len) == 0)
            return p;
    return NULL;
}

/* Appends x to a growable pointer array. Returns 0 or -1. */
static int ptr_push(void ***arr, int *n, int *cap, void *x)
{
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 4;
        void **na = realloc(*arr, (size_t)ncap * sizeof(void *));
        if (!na)
            return -1;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = x;
    return 0;
}

/* Removes x from the array, keeping the order of the rest. Returns 1 if found. */
static int ptr_remove(void **arr, int *n, const void *x)
{
    for (int i = 0; i < *n; i++) {
        if (arr[i] == x) {
            memmove(arr + i, arr + i + 1, (size_t)(*n - i - 1) * sizeof(void *));
            (*n)--;
            return 1;
        }
    }
    return 0;
}

/* Publishes c's subscription counts for CLIENT LIST (read by other threads). */
static void publish_counts(conn *c)
{
    psub *ps = c->ps;
    atomic_store_explicit(&c->pub_subs, ps ? ps->nchans : 0, memory_order_relaxed);
    atomic_store_explicit(&c->pub_psubs, ps ? ps->npats : 0, memory_order_relaxed);
}

static psub *psub_of(conn *c)
{
    if (c->ps)
        return c->ps;
    psub *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    atomic_init(&ps->refs, 1); /* the connection's reference */
    ps->worker_id = c->w->id;
    ps->c = c;
    c->ps = ps;
    return ps;
}

int pubsub_sub(conn *c, const char *name, size_t len, int pattern)
{
    psub *ps = psub_of(c);
    if (!ps)
        return -1;
    int rc = 1;
    pthread_rwlock_wrlock(&reg_lock);
    if (!pattern) {
        uint64_t h = hash_bytes(name, len);
        chan *ch = chan_find_locked(name, len, h);
        if (ch) {
            for (int i = 0; i < ps->nchans; i++)
                if (ps->chans[i] == ch) {
                    rc = 0;
                    goto out;
                }
        } else {
            ch = calloc(1, sizeof(*ch) + len + 1);
            if (!ch) {
                rc = -1;
                goto out;
            }
            ch->hash = h;
            ch->len = len;
            memcpy(ch->name, name, len);
            ch->next = tab[h & tab_mask];
            tab[h & tab_mask] = ch;
            if (++nchannels > (tab_mask + 1) * 2)
                tab_grow_locked();
        }
        if (ptr_push((void ***)&ch->subs, &ch->nsubs, &ch->cap, ps) != 0) {
            rc = -1;
        } else if (ptr_push((void ***)&ps->chans, &ps->nchans, &ps->chans_cap, ch) != 0) {
            ch->nsubs--;
            rc = -1;
        }
        if (rc < 0 && ch->nsubs == 0) {
            /* Undo the creation of an empty channel. */
            chan **pp = &tab[h & tab_mask];
            while (*pp != ch)
                pp = &(*pp)->next;
            *pp = ch->next;
            nchannels--;
            free(ch->subs);
            free(ch);
        }
    } else {
        pat *p = pat_find_locked(name, len);
        if (p) {
            for (int i = 0; i < ps->npats; i++)
                if (ps->pats[i] == p) {
                    rc = 0;
                    goto out;
                }
        } else {
            p = calloc(1, sizeof(*p) + len + 1);
            if (!p) {
                rc = -1;
                goto out;
            }
            p->len = len;
            memcpy(p->name, name, len);
            /* Appended at the end, so pmessages follow the order of PSUBSCRIBE. */
            if (!patterns) {
                patterns = p;
            } else {
                pat *t = patterns;
                while (t->next)
                    t = t->next;
                t->next = p;
                p->prev = t;
            }
            npatterns++;
        }
        if (ptr_push((void ***)&p->subs, &p->nsubs, &p->cap, ps) != 0) {
            rc = -1;
        } else if (ptr_push((void ***)&ps->pats, &ps->npats, &ps->pats_cap, p) != 0) {
            p->nsubs--;
            rc = -1;
        }
        if (rc < 0 && p->nsubs == 0) {
            if (p->prev)
                p->prev->next = p->next;
            else
                patterns = p->next;
            if (p->next)
                p->next->prev = p->prev;
            npatterns--;
            free(p->subs);
            free(p);
        }
    }
    if (rc == 1)
        atomic_fetch_add_explicit(&nsubscriptions, 1, memory_order_relaxed);
out:
    pthread_rwlock_unlock(&reg_lock);
    publish_counts(c);
    return rc;
}

/* Removes ps from channel ch (write lock held); frees the channel when it empties. */
static void chan_leave_locked(psub *ps, chan *ch)
{
    ptr_remove((void **)ch->subs, &ch->nsubs, ps);
    ptr_remove((void **)ps->chans, &ps->nchans, ch);
    atomic_fetch_sub_explicit(&nsubscriptions, 1, memory_order_relaxed);
    if (ch->nsubs == 0) {
        chan **pp = &tab[ch->hash & tab_mask];
        while (*pp != ch)
            pp = &(*pp)->next;
        *pp = ch->next;
        nchannels--;
        free(ch->subs);
        free(ch);
    }
}

static void pat_leave_locked(psub *ps, pat *p)
{
    ptr_remove((void **)p->subs, &p->nsubs, ps);
    ptr_remove((void **)ps->pats, &ps->npats, p);
    atomic_fetch_sub_explicit(&nsubscriptions, 1, memory_order_relaxed);
    if (p->nsubs == 0) {
        if (p->prev)
            p->prev->next = p->next;
        else
            patterns = p->next;
        if (p->next)
            p->next->prev = p->prev;
        npatterns--;
        free(p->subs);
        free(p);
    }
}

int pubsub_unsub(conn *c, const char *name, size_t len, int pattern)
{
    psub *ps = c->ps;
    int rc = 0;
    if (!ps)
        return 0;
    pthread_rwlock_wrlock(&reg_lock);
    if (!pattern) {
        for (int i = 0; i < ps->nchans; i++) {
            chan *ch = ps->chans[i];
            if (ch->len == len && memcmp(ch->name, name, len) == 0) {
                chan_leave_locked(ps, ch);
                rc = 1;
                break;
            }
        }
    } else {
        for (int i = 0; i < ps->npats; i++) {
            pat *p = ps->pats[i];
            if (p->len == len && memcmp(p->name, name, len) == 0) {
                pat_leave_locked(ps, p);
                rc = 1;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&reg_lock);
    publish_counts(c);
    return rc;
}

int pubsub_first(conn *c, int pattern, char **name, size_t *len)
{
    psub *ps = c->ps;
    /* Only the owner thread changes ps's lists, and it is the caller: no lock needed. */
    if (!ps || (pattern ? ps->npats : ps->nchans) == 0)
        return 0;
    const char *src = pattern ? ps->pats[0]->name : ps->chans[0]->name;
    size_t n = pattern ? ps->pats[0]->len : ps->chans[0]->len;
    char *copy = malloc(n + 1);
    if (!copy)
        return 0;
    memcpy(copy, src, n);
    copy[n] = 0;
    *name = copy;
    *len = n;
    return 1;
}

void pubsub_conn_unsubscribe_all(conn *c)
{
    psub *ps = c->ps;
    if (!ps || (ps->nchans == 0 && ps->npats == 0))
        return;
    pthread_rwlock_wrlock(&reg_lock);
    while (ps->nchans)
        chan_leave_locked(ps, ps->chans[ps->nchans - 1]);
    while (ps->npats)
        pat_leave_locked(ps, ps->pats[ps->npats - 1]);
    pthread_rwlock_unlock(&reg_lock);
    publish_counts(c);
}

void pubsub_conn_closed(conn *c)
{
    psub *ps = c->ps;
    if (!ps)
        return;
    pubsub_conn_unsubscribe_all(c);
    ps->c = NULL;
    c->ps = NULL;
    psub_unref(ps);
}

long long pubsub_channels(const char *pattern, size_t plen,
                          void (*fn)(void *ctx, const char *name, size_t len), void *ctx)
{
    long long n = 0;
    pthread_rwlock_rdlock(&reg_lock);
    for (size_t i = 0; i <= tab_mask; i++) {
        for (chan *ch = tab[i]; ch; ch = ch->next) {
            if (pattern && !glob_match(pattern, plen, ch->name, ch->len, 0))
                continue;
            fn(ctx, ch->name, ch->len);
            n++;
        }
    }
    pthread_rwlock_unlock(&reg_lock);
    return n;
}

long long pubsub_numsub(const char *name, size_t len)
{
    long long n = 0;
    if (!pubsub_any())
        return 0;
    pthread_rwlock_rdlock(&reg_lock);
    chan *ch = chan_find_locked(name, len, hash_bytes(name, len));
    if (ch)
        n = ch->nsubs;
    pthread_rwlock_unlock(&reg_lock);
    return n;
}

long long pubsub_numpat(void)
{
    pthread_rwlock_rdlock(&reg_lock);
    long long n = (long long)npatterns;
    pthread_rwlock_unlock(&reg_lock);
    return n;
}

void pubsub_stats(long long *channels, long long *pats)
{
    pthread_rwlock_rdlock(&reg_lock);
    *channels = (long long)nchannels;
    *pats = (long long)npatterns;
    pthread_rwlock_unlock(&reg_lock);
}

int pubsub_obl_class(const conn *c)
{
    return pubsub_count(c->ps) ? OBL_PUBSUB : OBL_NORMAL;
}

/* ---- publishing ----------------------------------------------------------------------------- */

typedef struct target {
    psub *ps;
    const pat *p; /* NULL for a channel subscription */
} target;

/* Scratch space of the publishing thread, reused across calls; freed when the thread exits
 * (a pthread key destructor). */
static _Thread_local target *tv;
static _Thread_local size_t tv_cap;
static pthread_key_t tv_key;
static pthread_once_t tv_once = PTHREAD_ONCE_INIT;

static void tv_key_make(void)
{
    pthread_key_create(&tv_key, free);
}

static int tv_push(size_t n, psub *ps, const pat *p)
{
    if (n == tv_cap) {
        size_t ncap = tv_cap ? tv_cap * 2 : 64;
        target *nt = realloc(tv, ncap * sizeof(*nt));
        if (!nt)
            return -1;
        tv = nt;
        tv_cap = ncap;
        pthread_once(&tv_once, tv_key_make);
        pthread_setspecific(tv_key, tv);
    }
    tv[n].ps = ps;
    tv[n].p = p;
    return 0;
}

static void deliver_batch(worker *w, batch *b);
static void drain_inbox(worker *w);

long long pubsub_publish(worker *self, const char *channel, size_t chlen, const char *msg,
                         size_t msglen)
{
    if (!pubsub_any())
        return 0;
    unsigned nw = ninboxes;
    batch *bs[256] = {0};
    int counts[256] = {0};
    size_t patbytes[256] = {0};
    size_t n = 0;
    pmsg *m = NULL;

    pthread_rwlock_rdlock(&reg_lock);
    chan *ch = nchannels ? chan_find_locked(channel, chlen, hash_bytes(channel, chlen)) : NULL;
    if (ch)
        for (int i = 0; i < ch->nsubs; i++)
            if (tv_push(n, ch->subs[i], NULL) == 0)
                n++;
    for (pat *p = patterns; p; p = p->next) {
        if (!glob_match(p->name, p->len, channel, chlen, 0))
            continue;
        for (int i = 0; i < p->nsubs; i++)
            if (tv_push(n, p->subs[i], p) == 0)
                n++;
    }
    if (n == 0)
        goto out;
    m = malloc(sizeof(*m) + chlen + msglen + 1);
    if (!m) {
        n = 0;
        goto out;
    }
    atomic_init(&m->refs, 0);
    m->chlen = chlen;
    m->len = msglen;
    memcpy(m->data, channel, chlen);
    memcpy(m->data + chlen, msg, msglen);
    for (size_t i = 0; i < n; i++) {
        unsigned wid = tv[i].ps->worker_id;
        counts[wid]++;
        if (tv[i].p)
            patbytes[wid] += tv[i].p->len;
    }
    for (unsigned wid = 0; wid < nw; wid++) {
        if (!counts[wid])
            continue;
        batch *b = malloc(sizeof(*b) + (size_t)counts[wid] * sizeof(bentry) + patbytes[wid]);
        if (!b)
            continue; /* those receivers miss this message */
        b->next = NULL;
        b->m = m;
        b->n = 0;
        b->pats = (char *)(b->e + counts[wid]);
        patbytes[wid] = 0; /* reused as the fill offset */
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        bs[wid] = b;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned wid = tv[i].ps->worker_id;
        batch *b = bs[wid];
        if (!b)
            continue;
        bentry *e = &b->e[b->n++];
        e->ps = tv[i].ps;
        psub_ref(e->ps);
        e->is_pat = tv[i].p != NULL;
        e->patoff = (uint32_t)patbytes[wid];
        e->patlen = 0;
        if (tv[i].p) {
            memcpy(b->pats + patbytes[wid], tv[i].p->name, tv[i].p->len);
            e->patlen = (uint32_t)tv[i].p->len;
            patbytes[wid] += tv[i].p->len;
        }
    }
out:
    pthread_rwlock_unlock(&reg_lock);
    if (!n)
        return 0;
    int refs = atomic_load_explicit(&m->refs, memory_order_relaxed);
    if (refs == 0) {
        free(m);
        return (long long)n;
    }
    for (unsigned wid = 0; wid < nw; wid++) {
        batch *b = bs[wid];
        if (!b)
            continue;
        if (self && self->id == wid) {
            /* Messages other workers queued for this one were published before this one
             * (their PUBLISH had returned): they go out first, as Redis orders them. */
            drain_inbox(self);
            deliver_batch(self, b);
            batch_free(b);
            continue;
        }
        inbox *in = &inboxes[wid];
        pthread_mutex_lock(&in->lock);
        int was_empty = in->head == NULL;
        if (in->tail)
            in->tail->next = b;
        else
            in->head = b;
        in->tail = b;
        atomic_store_explicit(&in->nonempty, 1, memory_order_release);
        pthread_mutex_unlock(&in->lock);
        if (was_empty)
            worker_wake(&g_srv.workers[wid]);
    }
    return (long long)n;
}

/* ---- delivery on the owning worker ---------------------------------------------------------- */

static void deliver_batch(worker *w, batch *b)
{
    inbox *in = &inboxes[w->id];
    const pmsg *m = b->m;
    for (int i = 0; i < b->n; i++) {
        bentry *e = &b->e[i];
        psub *ps = e->ps;
        conn *c = ps->c;
        if (!c || (c->flags & (CONN_CLOSED | CONN_CLOSE_AFTER_REPLY)))
            continue;
        resp_buf *o = &c->out;
        size_t mark = o->len;
        int err = 0;
        if (e->is_pat) {
            err |= resp_write_push(o, 4, c->proto);
            err |= resp_write_bulk(o, "pmessage", 8);
            err |= resp_write_bulk(o, b->pats + e->patoff, e->patlen);
        } else {
            err |= resp_write_push(o, 3, c->proto);
            err |= resp_write_bulk(o, "message", 7);
        }
        err |= resp_write_bulk(o, m->data, m->chlen);
        err |= resp_write_bulk(o, m->data + m->chlen, m->len);
        if (err) {
            o->len = mark; /* never send half a message */
            c->werr = 1;
        }
        if (!ps->flush_queued) {
            ps->flush_queued = 1;
            psub_ref(ps);
            ps->flush_next = in->flush_head;
            in->flush_head = ps;
        }
    }
}

/* Delivers what other workers queued for w, in the order they queued it. */
static void drain_inbox(worker *w)
{
    inbox *in = &inboxes[w->id];
    if (!atomic_load_explicit(&in->nonempty, memory_order_acquire))
        return;
    pthread_mutex_lock(&in->lock);
    batch *b = in->head;
    in->head = in->tail = NULL;
    atomic_store_explicit(&in->nonempty, 0, memory_order_relaxed);
    pthread_mutex_unlock(&in->lock);
    while (b) {
        batch *next = b->next;
        deliver_batch(w, b);
        batch_free(b);
        b = next;
    }
}

void pubsub_worker_tick(worker *w)
{
    if (!inboxes)
        return;
    inbox *in = &inboxes[w->id];
    drain_inbox(w);
    while (in->flush_head) {
        psub *ps = in->flush_head;
        in->flush_head = ps->flush_next;
        ps->flush_queued = 0;
        conn *c = ps->c;
        if (c && !(c->flags & CONN_CLOSED)) {
            if (c->werr)
                conn_close(c, "out of memory for a pub/sub message");
            else if (conn_check_obl(c, w->now_ms) == 0)
                conn_flush(c);
        }
        psub_unref(ps);
    }
}

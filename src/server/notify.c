/*
 * notify.c — keyspace notifications (see notify.h).
 */
#include "server/notify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/pubsub.h"

_Atomic int notify_flags;

static const struct {
    char ch;
    int flag;
} letters[] = {
    {'g', NOTIFY_GENERIC}, {'$', NOTIFY_STRING},  {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},    {'z', NOTIFY_ZSET},    {'x', NOTIFY_EXPIRED}, {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},  {'d', NOTIFY_MODULE},  {'n', NOTIFY_NEW},
};

int notify_parse(const char *s, int *out)
{
    int flags = 0;
    for (; *s; s++) {
        switch (*s) {
        case 'A': flags |= NOTIFY_ALL; continue;
        case 'K': flags |= NOTIFY_KEYSPACE; continue;
        case 'E': flags |= NOTIFY_KEYEVENT; continue;
        case 'm': flags |= NOTIFY_KEY_MISS; continue;
        default: break;
        }
        size_t i;
        for (i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
            if (letters[i].ch == *s)
                break;
        if (i == sizeof(letters) / sizeof(letters[0]))
            return 0;
        flags |= letters[i].flag;
    }
    *out = flags;
    return 1;
}

void notify_format(int flags, char *buf, size_t cap)
{
    size_t n = 0;
    char tmp[32];
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        tmp[n++] = 'A';
    } else {
        for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
            if (flags & letters[i].flag)
                tmp[n++] = letters[i].ch;
    }
    /* As Redis's keyspaceEventsFlagsToString(): 'n' is not printed next to 'A'. */
    if (flags & NOTIFY_KEYSPACE)
        tmp[n++] = 'K';
    if (flags & NOTIFY_KEYEVENT)
        tmp[n++] = 'E';
    if (flags & NOTIFY_KEY_MISS)
        tmp[n++] = 'm';
    tmp[n] = 0;
    snprintf(buf, cap, "%s", tmp);
}

void notify_publish(struct worker *self, const char *event, unsigned db, const void *key,
                    size_t klen)
{
    if (!pubsub_any())
        return;
    int f = atomic_load_explicit(&notify_flags, memory_order_relaxed);
    size_t elen = strlen(event);
    char stack[256];
    size_t need = 32 + (klen > elen ? klen : elen);
    char *ch = need <= sizeof(stack) ? stack : malloc(need);
    if (!ch)
        return;
    if (f & NOTIFY_KEYSPACE) {
        int n = snprintf(ch, need, "__keyspace@%u__:", db);
        memcpy(ch + n, key, klen);
        pubsub_publish(self, ch, (size_t)n + klen, event, elen);
    }
    if (f & NOTIFY_KEYEVENT) {
        int n = snprintf(ch, need, "__keyevent@%u__:", db);
        memcpy(ch + n, event, elen);
        pubsub_publish(self, ch, (size_t)n + elen, key, klen);
    }
    if (ch != stack)
        free(ch);
}

/* ---- capture of the library's delete events ------------------------------------------------- */

typedef struct capture {
    int on;
    char *buf; /* keys, each preceded by its length (size_t) */
    size_t len, cap;
} capture;

static _Thread_local capture cap_tl;
static pthread_key_t cap_key; /* its destructor frees the thread's buffer at exit */
static pthread_once_t cap_once = PTHREAD_ONCE_INIT;

static void cap_key_make(void)
{
    pthread_key_create(&cap_key, free);
}

void notify_capture_begin(void)
{
    cap_tl.on = 1;
    cap_tl.len = 0;
}

static void capture_add(const void *key, size_t klen)
{
    capture *c = &cap_tl;
    size_t need = c->len + sizeof(size_t) + klen;
    if (need > c->cap) {
        size_t ncap = c->cap ? c->cap : 256;
        while (ncap < need)
            ncap *= 2;
        char *nb = realloc(c->buf, ncap);
        if (!nb)
            return; /* that key's event is lost */
        c->buf = nb;
        c->cap = ncap;
        pthread_once(&cap_once, cap_key_make);
        pthread_setspecific(cap_key, nb);
    }
    memcpy(c->buf + c->len, &klen, sizeof(size_t));
    memcpy(c->buf + c->len + sizeof(size_t), key, klen);
    c->len = need;
}

void notify_capture_end(struct worker *self, int type, const char *event, unsigned db)
{
    capture *c = &cap_tl;
    c->on = 0;
    for (size_t off = 0; off < c->len;) {
        size_t klen;
        memcpy(&klen, c->buf + off, sizeof(size_t));
        notify_event(self, type, event, db, c->buf + off + sizeof(size_t), klen);
        off += sizeof(size_t) + klen;
    }
    c->len = 0;
    if (c->cap > ((size_t)1 << 20)) {
        free(c->buf);
        c->buf = NULL;
        c->cap = 0;
        pthread_setspecific(cap_key, NULL);
    }
}

void notify_hook(void *ctx, mnemo_event ev, unsigned db, const void *key, size_t key_len,
                 uint64_t version)
{
    (void)ctx;
    (void)version;
    switch (ev) {
    case MNEMO_EVENT_EXPIRE:
        /* Under the shard lock, possibly on a worker in the middle of a command: never write
         * to connections here (self = NULL queues to every receiver's worker). */
        if (notify_enabled(NOTIFY_EXPIRED))
            notify_event(NULL, NOTIFY_EXPIRED, "expired", db, key, key_len);
        break;
    case MNEMO_EVENT_EVICT:
        if (notify_enabled(NOTIFY_EVICTED))
            notify_event(NULL, NOTIFY_EVICTED, "evicted", db, key, key_len);
        break;
    case MNEMO_EVENT_DEL:
        if (cap_tl.on)
            capture_add(key, key_len);
        break;
    default:
        break;
    }
}

/*
 * notify.h — keyspace notifications (Redis's notify-keyspace-events) over pub/sub.
 *
 * An event on key K in database D publishes, depending on the K and E flags,
 *   __keyspace@D__:K      with the event name as the message, and
 *   __keyevent@D__:EVENT  with the key as the message.
 *
 * Where events come from:
 *   - command handlers, after a change succeeded: notify_event(c->w, NOTIFY_STRING, "set",
 *     ...), with Redis's event names (set, del, expire, persist, rename_from, rename_to,
 *     incrby, incrbyfloat, append, setrange, copy_to, move_from, move_to);
 *   - the library's hook (notify_hook, installed at store open for expire, evict and delete
 *     events): "expired" and "evicted" come from whichever thread removed the key (often the
 *     store's background thread), while the shard lock is held; the hook never calls into the
 *     store, it only publishes, which queues the message to the subscribers' workers;
 *   - delete events of the library are captured only while a DEL/UNLINK handler asks for
 *     them (notify_capture_begin/end on the same thread), so that DEL reports exactly the
 *     keys it removed while staying one atomic library call.
 *
 * Cost when off: every entry point first tests one relaxed atomic (the flags); with no
 * subscriber at all, publishing returns after a second relaxed load (pubsub_any).
 */
#ifndef MNEMO_SERVER_NOTIFY_H
#define MNEMO_SERVER_NOTIFY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mnemo.h"

struct worker;

/* Event classes, as Redis's NOTIFY_* (server.h). */
enum {
    NOTIFY_KEYSPACE = 1 << 0, /* K */
    NOTIFY_KEYEVENT = 1 << 1, /* E */
    NOTIFY_GENERIC = 1 << 2,  /* g */
    NOTIFY_STRING = 1 << 3,   /* $ */
    NOTIFY_LIST = 1 << 4,     /* l */
    NOTIFY_SET = 1 << 5,      /* s */
    NOTIFY_HASH = 1 << 6,     /* h */
    NOTIFY_ZSET = 1 << 7,     /* z */
    NOTIFY_EXPIRED = 1 << 8,  /* x */
    NOTIFY_EVICTED = 1 << 9,  /* e */
    NOTIFY_STREAM = 1 << 10,  /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m */
    NOTIFY_LOADED = 1 << 12,  /* module only */
    NOTIFY_MODULE = 1 << 13,  /* d */
    NOTIFY_NEW = 1 << 14,     /* n */
    NOTIFY_ALL = NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE,
};

/* The current flags (notify-keyspace-events); written by CONFIG SET, read anywhere. */
extern _Atomic int notify_flags;

/* Parses Redis's flag letters ("KEA", "Ex", ""). Returns 1 and the flags, or 0 if a
 * character is not a class letter. */
int notify_parse(const char *s, int *out);

/* Formats flags as Redis's CONFIG GET does ("AKE", "$xE"). */
void notify_format(int flags, char *buf, size_t cap);

/* 1 if events of class `type` are published at all (K or E set, and the class). */
static inline int notify_enabled(int type)
{
    int f = atomic_load_explicit(&notify_flags, memory_order_relaxed);
    return (f & type) && (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT));
}

/* notify_event() once notify_enabled() said yes: publishes to the channels the K and E
 * flags ask for. */
void notify_publish(struct worker *self, const char *event, unsigned db, const void *key,
                    size_t klen);

/* Publishes one event for key in db if its class is enabled. `self` is the calling worker
 * (its own subscribers get the message synchronously) or NULL. The test is inline: every write
 * command calls this, and with notifications off (the default) the call and the frame of the
 * publishing path were 19 instructions of a pipelined INCR's 2,097. */
static inline void notify_event(struct worker *self, int type, const char *event, unsigned db,
                                const void *key, size_t klen)
{
    if (notify_enabled(type))
        notify_publish(self, event, db, key, klen);
}

/* The library hook (mnemo_config.hook). Install it with hook_events
 * MNEMO_EVENT_EXPIRE | MNEMO_EVENT_EVICT | MNEMO_EVENT_DEL. */
void notify_hook(void *ctx, mnemo_event ev, unsigned db, const void *key, size_t key_len,
                 uint64_t version);

/* Starts recording the keys the library deletes on this thread (for DEL's "del" events). */
void notify_capture_begin(void);

/* Stops recording and publishes `event` (class `type`) for every key recorded. */
void notify_capture_end(struct worker *self, int type, const char *event, unsigned db);

#endif

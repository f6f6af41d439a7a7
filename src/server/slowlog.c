/*
 * slowlog.c — the slow log, the latency monitor, and their commands (see slowlog.h).
 */
#include "server/slowlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/cmd.h"
#include "server/conn.h"
#include "server/reply.h"
#include "server/server.h"

_Atomic long long slowlog_log_slower_than = 10000;
_Atomic long long slowlog_max_len = 128;
_Atomic long long latency_monitor_threshold = 0;
_Thread_local uint64_t slowlog_t_last;

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

typedef struct slow_entry {
    struct slow_entry *next; /* older */
    long long id;
    long long time;     /* Unix seconds */
    long long duration; /* µs */
    int argc;
    resp_arg *argv;     /* argv and its bytes: one allocation */
    char *peer;         /* "ip:port" */
    char *name;         /* client name, "" if none */
} slow_entry;

/* Protected by slow_lock. */
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static slow_entry *slow_head; /* newest first */
static long long slow_len;
static long long slow_next_id;

static void entry_free(slow_entry *e)
{
    free(e->argv);
    free(e->peer);
    free(e->name);
    free(e);
}

static int redacted(const command *cmd, int argc, const resp_arg *argv, int i)
{
    if (strcmp(cmd->name, "auth") == 0)
        return i >= 1;
    if (strcmp(cmd->name, "hello") == 0) {
        for (int j = 2; j < i && j < argc; j++)
            if (argv[j].len == 4 && strncasecmp(argv[j].ptr, "AUTH", 4) == 0 && i <= j + 2)
                return 1;
    }
    return 0;
}

static slow_entry *entry_new(conn *c, const command *cmd, int argc, const resp_arg *argv,
                             long long us)
{
    int n = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    char texts[SLOWLOG_MAX_ARGC][SLOWLOG_MAX_ARGLEN + 48];
    size_t lens[SLOWLOG_MAX_ARGC];
    const char *srcs[SLOWLOG_MAX_ARGC];
    size_t bytes = (size_t)n * sizeof(resp_arg);
    for (int i = 0; i < n; i++) {
        if (argc > SLOWLOG_MAX_ARGC && i == n - 1) {
            lens[i] = (size_t)snprintf(texts[i], sizeof(texts[i]), "... (%d more arguments)",
                                       argc - SLOWLOG_MAX_ARGC + 1);
            srcs[i] = texts[i];
        } else if (redacted(cmd, argc, argv, i)) {
            lens[i] = (size_t)snprintf(texts[i], sizeof(texts[i]), "(redacted)");
            srcs[i] = texts[i];
        } else if (argv[i].len > SLOWLOG_MAX_ARGLEN) {
            memcpy(texts[i], argv[i].ptr, SLOWLOG_MAX_ARGLEN);
            lens[i] = SLOWLOG_MAX_ARGLEN +
                      (size_t)snprintf(texts[i] + SLOWLOG_MAX_ARGLEN, 48, "... (%zu more bytes)",
                                       argv[i].len - SLOWLOG_MAX_ARGLEN);
            srcs[i] = texts[i];
        } else {
            lens[i] = argv[i].len;
            srcs[i] = argv[i].ptr;
        }
        bytes += lens[i];
    }
    slow_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->argv = malloc(bytes ? bytes : 1);
    e->peer = strdup(c->addr);
    e->name = strdup(c->name ? c->name : "");
    if (!e->argv || !e->peer || !e->name) {
        entry_free(e);
        return NULL;
    }
    char *p = (char *)(e->argv + n);
    for (int i = 0; i < n; i++) {
        memcpy(p, srcs[i], lens[i]);
        e->argv[i].ptr = p;
        e->argv[i].len = lens[i];
        p += lens[i];
    }
    e->argc = n;
    e->time = (long long)time(NULL);
    e->duration = us;
    return e;
}

/* Drops the oldest entries beyond max (slow_lock held). */
static void trim_locked(long long max)
{
    if (slow_len <= max)
        return;
    slow_entry **pp = &slow_head;
    for (long long i = 0; i < max && *pp; i++)
        pp = &(*pp)->next;
    slow_entry *e = *pp;
    *pp = NULL;
    while (e) {
        slow_entry *next = e->next;
        entry_free(e);
        slow_len--;
        e = next;
    }
}

void slowlog_observe(conn *c, const command *cmd, int argc, const resp_arg *argv, long long us)
{
    long long lat = atomic_load_explicit(&latency_monitor_threshold, memory_order_relaxed);
    if (lat > 0 && us / 1000 >= lat)
        latency_add_sample((cmd->flags & CMD_FAST) ? "fast-command" : "command", us / 1000);
    long long slower = atomic_load_explicit(&slowlog_log_slower_than, memory_order_relaxed);
    if (slower < 0 || us < slower)
        return;
    slow_entry *e = entry_new(c, cmd, argc, argv, us);
    if (!e)
        return;
    pthread_mutex_lock(&slow_lock);
    e->id = slow_next_id++;
    e->next = slow_head;
    slow_head = e;
    slow_len++;
    trim_locked(atomic_load_explicit(&slowlog_max_len, memory_order_relaxed));
    pthread_mutex_unlock(&slow_lock);
}

static void cmd_slowlog_get(conn *c, int argc, resp_arg *argv)
{
    long long count = 10;
    if (argc == 3) {
        if (!arg_ll(&argv[2], &count) || count < -1) {
            reply_err(c, "ERR count should be greater than or equal to -1");
            return;
        }
        if (count == -1)
            count = -1;
    }
    pthread_mutex_lock(&slow_lock);
    long long n = count < 0 || count > slow_len ? slow_len : count;
    reply_array(c, (size_t)n);
    slow_entry *e = slow_head;
    for (long long i = 0; i < n && e; i++, e = e->next) {
        reply_array(c, 6);
        reply_int(c, e->id);
        reply_int(c, e->time);
        reply_int(c, e->duration);
        reply_array(c, (size_t)e->argc);
        for (int j = 0; j < e->argc; j++)
            reply_bulk(c, e->argv[j].ptr, e->argv[j].len);
        reply_bulk_str(c, e->peer);
        reply_bulk_str(c, e->name);
    }
    pthread_mutex_unlock(&slow_lock);
}

static void cmd_slowlog_len(conn *c, int argc, resp_arg *argv)
{
    pthread_mutex_lock(&slow_lock);
    long long n = slow_len;
    pthread_mutex_unlock(&slow_lock);
    reply_int(c, n);
}

static void cmd_slowlog_reset(conn *c, int argc, resp_arg *argv)
{
    pthread_mutex_lock(&slow_lock);
    trim_locked(0);
    pthread_mutex_unlock(&slow_lock);
    reply_ok(c);
}

static void reply_help(conn *c, const char *const *lines, size_t n)
{
    reply_array(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

static void cmd_slowlog_help(conn *c, int argc, resp_arg *argv)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    };
    reply_help(c, lines, sizeof(lines) / sizeof(lines[0]));
}

/* ---- latency monitor ------------------------------------------------------------------------ */

#define LATENCY_EVENTS 8
#define LATENCY_SAMPLES 160

typedef struct lat_event {
    char name[32]; /* "" = free slot */
    struct {
        long long time, ms;
    } s[LATENCY_SAMPLES];
    int idx; /* next slot to write */
    long long max;
} lat_event;

/* Protected by lat_lock. */
static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;
static lat_event lat_events[LATENCY_EVENTS];

static lat_event *lat_find_locked(const char *name, size_t len, int create)
{
    lat_event *free_slot = NULL;
    for (int i = 0; i < LATENCY_EVENTS; i++) {
        lat_event *e = &lat_events[i];
        if (!e->name[0]) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (strlen(e->name) == len && memcmp(e->name, name, len) == 0)
            return e;
    }
    if (!create || !free_slot || len >= sizeof(free_slot->name))
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    memcpy(free_slot->name, name, len);
    return free_slot;
}

void latency_add_sample(const char *event, long long ms)
{
    long long th = atomic_load_explicit(&latency_monitor_threshold, memory_order_relaxed);
    if (th <= 0 || ms < th)
        return;
    long long now = (long long)time(NULL);
    pthread_mutex_lock(&lat_lock);
    lat_event *e = lat_find_locked(event, strlen(event), 1);
    if (e) {
        int prev = (e->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES;
        if (ms > e->max)
            e->max = ms;
        if (e->s[prev].time == now) {
            if (ms > e->s[prev].ms)
                e->s[prev].ms = ms;
        } else {
            e->s[e->idx].time = now;
            e->s[e->idx].ms = ms;
            e->idx = (e->idx + 1) % LATENCY_SAMPLES;
        }
    }
    pthread_mutex_unlock(&lat_lock);
}

static void cmd_latency_latest(conn *c, int argc, resp_arg *argv)
{
    pthread_mutex_lock(&lat_lock);
    size_t n = 0;
    for (int i = 0; i < LATENCY_EVENTS; i++)
        n += lat_events[i].name[0] != 0;
    reply_array(c, n);
    for (int i = 0; i < LATENCY_EVENTS; i++) {
        lat_event *e = &lat_events[i];
        if (!e->name[0])
            continue;
        int last = (e->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES;
        reply_array(c, 4);
        reply_bulk_str(c, e->name);
        reply_int(c, e->s[last].time);
        reply_int(c, e->s[last].ms);
        reply_int(c, e->max);
    }
    pthread_mutex_unlock(&lat_lock);
}

static void cmd_latency_history(conn *c, int argc, resp_arg *argv)
{
    pthread_mutex_lock(&lat_lock);
    lat_event *e = lat_find_locked(argv[2].ptr, argv[2].len, 0);
    if (!e) {
        reply_array(c, 0);
    } else {
        size_t n = 0;
        for (int i = 0; i < LATENCY_SAMPLES; i++)
            n += e->s[i].time != 0;
        reply_array(c, n);
        for (int k = 0; k < LATENCY_SAMPLES; k++) {
            int i = (e->idx + k) % LATENCY_SAMPLES; /* oldest first */
            if (!e->s[i].time)
                continue;
            reply_array(c, 2);
            reply_int(c, e->s[i].time);
            reply_int(c, e->s[i].ms);
        }
    }
    pthread_mutex_unlock(&lat_lock);
}

static void cmd_latency_reset(conn *c, int argc, resp_arg *argv)
{
    long long n = 0;
    pthread_mutex_lock(&lat_lock);
    if (argc == 2) {
        for (int i = 0; i < LATENCY_EVENTS; i++) {
            if (lat_events[i].name[0]) {
                lat_events[i].name[0] = 0;
                n++;
            }
        }
    } else {
        for (int j = 2; j < argc; j++) {
            lat_event *e = lat_find_locked(argv[j].ptr, argv[j].len, 0);
            if (e) {
                e->name[0] = 0;
                n++;
            }
        }
    }
    pthread_mutex_unlock(&lat_lock);
    reply_int(c, n);
}

static void cmd_latency_doctor(conn *c, int argc, resp_arg *argv)
{
    char buf[4096];
    size_t len = 0;
    pthread_mutex_lock(&lat_lock);
    int any = 0;
    for (int i = 0; i < LATENCY_EVENTS && len < sizeof(buf) - 256; i++) {
        lat_event *e = &lat_events[i];
        if (!e->name[0])
            continue;
        any = 1;
        len += (size_t)snprintf(buf + len, sizeof(buf) - len,
                                "%s: max latency %lld milliseconds.\n", e->name, e->max);
    }
    pthread_mutex_unlock(&lat_lock);
    if (!any) {
        long long th = atomic_load_explicit(&latency_monitor_threshold, memory_order_relaxed);
        len = (size_t)snprintf(buf, sizeof(buf),
                               th > 0 ? "Dave, no latency spike was observed during the lifetime "
                                        "of this Redis instance, not in the slightest bit.\n"
                                      : "I'm sorry, Dave, I can't do that. Latency monitoring is "
                                        "disabled in this Redis instance. You may use \"CONFIG "
                                        "SET latency-monitor-threshold <milliseconds>.\" in order "
                                        "to enable it.\n");
    }
    reply_verbatim(c, buf, len);
}

static void cmd_latency_help(conn *c, int argc, resp_arg *argv)
{
    static const char *const lines[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
    };
    reply_help(c, lines, sizeof(lines) / sizeof(lines[0]));
}

static void cmd_container(conn *c, int argc, resp_arg *argv)
{
    reply_err(c, "ERR internal error");
}

#define AD (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static const command slowlog_subs[] = {
    {"slowlog|get", -2, AD, 0, 0, 0, cmd_slowlog_get, "server", "2.2.12",
     "Returns the slow log's entries.", "[count]", "@admin @slow @dangerous", NULL},
    {"slowlog|len", 2, AD, 0, 0, 0, cmd_slowlog_len, "server", "2.2.12",
     "Returns the number of entries in the slow log.", NULL, "@admin @slow @dangerous", NULL},
    {"slowlog|reset", 2, AD, 0, 0, 0, cmd_slowlog_reset, "server", "2.2.12",
     "Clears all entries from the slow log.", NULL, "@admin @slow @dangerous", NULL},
    {"slowlog|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_slowlog_help, "server", "6.2.0",
     "Show helpful text about the different subcommands", NULL, "@slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const command latency_subs[] = {
    {"latency|latest", 2, AD, 0, 0, 0, cmd_latency_latest, "server", "2.8.13",
     "Returns the latest latency samples for all events.", NULL, "@admin @slow @dangerous",
     NULL},
    {"latency|history", 3, AD, 0, 0, 0, cmd_latency_history, "server", "2.8.13",
     "Returns timestamp-latency samples for an event.", "event", "@admin @slow @dangerous",
     NULL},
    {"latency|reset", -2, AD, 0, 0, 0, cmd_latency_reset, "server", "2.8.13",
     "Resets the latency data for one or more events.", "[event [event ...]]",
     "@admin @slow @dangerous", NULL},
    {"latency|doctor", 2, AD, 0, 0, 0, cmd_latency_doctor, "server", "2.8.13",
     "Returns a human-readable latency analysis report.", NULL, "@admin @slow @dangerous",
     NULL},
    {"latency|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_latency_help, "server", "2.8.13",
     "Returns helpful text about the different subcommands.", NULL, "@slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const command cmd_slowlog_table[] = {
    {"slowlog", -2, CMD_CONTAINER, 0, 0, 0, cmd_container, "server", "2.2.12",
     "A container for slow log commands.", NULL, "@slow", slowlog_subs},
    {"latency", -2, CMD_CONTAINER, 0, 0, 0, cmd_container, "server", "2.8.13",
     "A container for latency diagnostics commands.", NULL, "@slow", latency_subs},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

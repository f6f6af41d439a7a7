/*
 * config.c — the settings table and its parsers (see config.h).
 *
 * Each row names a setting, its type and where its value lives. Defaults are applied by
 * feeding each row's default text through the same parser a file line goes through, so a
 * default can never be a value a file could not express.
 */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/log.h"
#include "server/notify.h"
#include "server/srv_persist.h"
#include "server/slowlog.h"
#include "mnemo.h"
#include "util/glob.h"

srv_config g_cfg;
int (*config_apply)(const char *name, char *err, size_t errlen);

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int auth_required;

enum {
    T_INT, T_SIZE, T_BOOL, T_LOGLEVEL, T_STRING, T_WORDS, T_OCTAL, T_OBL, T_FIXED, T_NOTIFY,
    T_POLICY, T_FSYNC, T_SAVE, T_ENGINE, T_DELAY
};

typedef struct cfg_def {
    const char *name;
    int type;
    int runtime; /* may change with CONFIG SET */
    long long min, max;
    _Atomic long long *num;
    char **str;
    const char *def; /* default, as a file would spell it ("" for none) */
    const char *help;
} cfg_def;

#define N(f) &g_cfg.f, NULL
#define S(f) NULL, &g_cfg.f

static const cfg_def defs[] = {
    {"port", T_INT, 0, 0, 65535, N(port), "6379", "TCP port (0: no TCP listener)"},
    {"bind", T_WORDS, 0, 0, 0, S(bind), "127.0.0.1 ::1",
     "addresses to listen on; a '-' prefix makes one optional"},
    {"unixsocket", T_STRING, 0, 0, 0, S(unixsocket), "", "path of a Unix socket to listen on"},
    {"unixsocketperm", T_OCTAL, 0, 0, 0777, N(unixsocketperm), "0", "its permissions (octal)"},
    {"tcp-backlog", T_INT, 0, 1, INT_MAX, N(tcp_backlog), "511", "listen(2) backlog"},
    {"tcp-keepalive", T_INT, 1, 0, INT_MAX, N(tcp_keepalive), "300",
     "SO_KEEPALIVE interval in seconds (0: off)"},
    {"threads", T_INT, 0, 1, 256, N(threads), NULL, "worker threads (default: CPUs)"},
    {"io-engine", T_ENGINE, 0, 0, 1, N(io_engine), "uring",
     "worker event loop: epoll, or uring (io_uring; falls back to epoll if unavailable)"},
    {"io-batch-usec", T_INT, 1, 0, 100000, N(io_batch_usec), "100",
     "uring, under load: microseconds a wait may take to gather several requests (0: off)"},
    {"commit-delay", T_DELAY, 1, 0, 2, N(commit_delay), "auto",
     "appendfsync always, uring, under load: gather requests before a sync (io-batch-usec "
     "times the workers): yes, no, or auto (while slow fsyncs take 1 % of the time)"},
    {"disable-thp", T_BOOL, 0, 0, 1, N(disable_thp), "no",
     "no: with persistence on, the heap asks for transparent huge pages (short snapshot "
     "forks); yes: none"},
    {"databases", T_INT, 0, 1, 1024, N(databases), "16", "number of databases"},
    {"shards", T_INT, 0, 1, 65536, N(shards), "256", "lock shards per database"},
    {"maxclients", T_INT, 1, 1, 4294967295LL, N(maxclients), "10000", "most clients at once"},
    {"timeout", T_INT, 1, 0, INT_MAX, N(timeout), "0",
     "close a client idle this many seconds (0: never)"},
    {"proto-max-bulk-len", T_SIZE, 1, 1024 * 1024, LLONG_MAX, N(proto_max_bulk_len), "512mb",
     "longest argument a client may send"},
    {"client-query-buffer-limit", T_SIZE, 1, 1024 * 1024, LLONG_MAX,
     N(client_query_buffer_limit), "1gb", "largest unprocessed input per client"},
    {"client-output-buffer-limit", T_OBL, 1, 0, 0, NULL, NULL,
     "normal 0 0 0 pubsub 32mb 8mb 60",
     "<class> <hard> <soft> <seconds>, classes normal and pubsub"},
    {"loglevel", T_LOGLEVEL, 1, 0, 3, N(loglevel), "notice", "debug, verbose, notice, warning"},
    {"logfile", T_STRING, 0, 0, 0, S(logfile), "", "log file (\"\": standard output)"},
    {"requirepass", T_STRING, 1, 0, 0, S(requirepass), "", "password for AUTH (\"\": none)"},
    {"dir", T_STRING, 0, 0, 0, S(dir), "", "working directory"},
    {"pidfile", T_STRING, 0, 0, 0, S(pidfile), "", "write the process id here"},
    {"hz", T_INT, 0, 1, 500, N(hz), "10", "active expiry cycles per second"},
    {"maxmemory", T_SIZE, 1, 0, LLONG_MAX, N(maxmemory), "0",
     "memory ceiling (used_memory), e.g. 100mb, 2gb; 0 = none"},
    {"maxmemory-policy", T_POLICY, 1, 0, 0, N(maxmemory_policy), "allkeys-s3fifo",
     "what to evict at the ceiling: noeviction, allkeys-/volatile- lru, lfu, random, s3fifo, "
     "volatile-ttl"},
    {"maxmemory-high-watermark", T_INT, 1, 1, 100, N(maxmemory_high_pct), "90",
     "% of maxmemory where background eviction starts"},
    {"maxmemory-low-watermark", T_INT, 1, 1, 100, N(maxmemory_low_pct), "80",
     "% of maxmemory background eviction goes down to"},
    {"compression", T_BOOL, 1, 0, 1, N(compression), "yes",
     "store values LZ4-compressed when that saves 1/8 or more"},
    {"compression-threshold", T_SIZE, 1, 1, 2147483647LL, N(compression_threshold), "64",
     "smallest value length (bytes) that is compressed"},
    {"appendonly", T_BOOL, 1, 0, 1, N(appendonly), "no",
     "persistence with the append-only log (no: snapshots only, if save is set)"},
    {"appendfsync", T_FSYNC, 1, 0, 2, N(appendfsync), "everysec",
     "when the log reaches the disk: always, everysec, no"},
    {"save", T_SAVE, 1, 0, 0, S(save), "",
     "snapshot schedule: <seconds> <changes> pairs (\"\": none); enables persistence "
     "(snapshots only with appendonly no)"},
    {"appendfilename", T_STRING, 0, 0, 0, S(appendfilename), "appendonly.aof",
     "base name of the persistence files"},
    {"appenddirname", T_STRING, 0, 0, 0, S(appenddirname), "appendonlydir",
     "directory of the persistence files, inside dir"},
    {"auto-aof-rewrite-percentage", T_INT, 0, 0, INT_MAX, N(auto_aof_rewrite_percentage), "100",
     "snapshot and start a new log when the log grew this much over the last snapshot (0: "
     "never)"},
    {"auto-aof-rewrite-min-size", T_SIZE, 0, 0, LLONG_MAX, N(auto_aof_rewrite_min_size), "64mb",
     "... and is at least this big"},
    {"key-load-delay", T_INT, 0, 0, 1000000, N(key_load_delay), "0",
     "testing only: microseconds slept per key loaded at start-up (a slow load to observe)"},
    {"notify-keyspace-events", T_NOTIFY, 1, 0, 0, NULL, NULL, "\"\"",
     "keyspace notification classes, Redis's letters (\"\": off)"},
    {"slowlog-log-slower-than", T_INT, 1, -1, LLONG_MAX, &slowlog_log_slower_than, NULL,
     "10000", "log commands slower than this many microseconds (-1: off)"},
    {"slowlog-max-len", T_INT, 1, 0, LONG_MAX, &slowlog_max_len, NULL, "128",
     "entries the slow log keeps"},
    {"latency-monitor-threshold", T_INT, 1, 0, LLONG_MAX, &latency_monitor_threshold, NULL, "0",
     "record latency spikes of at least this many milliseconds (0: off)"},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const char *loglevels[] = {"debug", "verbose", "notice", "warning"};
static const char *io_engines[] = {"epoll", "uring"};
static const char *commit_delays[] = {"no", "yes", "auto"}; /* COMMIT_DELAY_* */

int config_parse_size(const char *s, long long *out)
{
    static const struct {
        const char *u;
        long long mul;
    } units[] = {{"", 1},           {"b", 1},           {"k", 1000},
                 {"kb", 1024},      {"m", 1000000},     {"mb", 1024 * 1024},
                 {"g", 1000000000}, {"gb", 1LL << 30}};
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].u) == 0) {
            if (v && (v > LLONG_MAX / units[i].mul || v < LLONG_MIN / units[i].mul))
                return 0;
            *out = v * units[i].mul;
            return 1;
        }
    }
    return 0;
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    if (!*s)
        return 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

static const cfg_def *find_def(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcasecmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

static void set_string(char **field, const char *v)
{
    char *copy = strdup(v);
    pthread_mutex_lock(&cfg_lock);
    char *old = *field;
    *field = copy;
    if (field == &g_cfg.requirepass)
        atomic_store(&auth_required, copy && *copy);
    pthread_mutex_unlock(&cfg_lock);
    free(old);
}

/* "normal 0 0 0 pubsub 32mb 8mb 60": one or more class triplets. replica/slave accepted and
 * ignored (no replication yet). */
static int set_obl(int n, const char **v, int check, char *err, size_t errlen)
{
    long long vals[OBL_CLASSES][3];
    int set[OBL_CLASSES] = {0};
    if (n == 0 || n % 4) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    for (int i = 0; i < n; i += 4) {
        int cls;
        if (strcasecmp(v[i], "normal") == 0)
            cls = OBL_NORMAL;
        else if (strcasecmp(v[i], "pubsub") == 0)
            cls = OBL_PUBSUB;
        else if (strcasecmp(v[i], "replica") == 0 || strcasecmp(v[i], "slave") == 0)
            cls = -1;
        else {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        long long h, s, sec;
        if (!config_parse_size(v[i + 1], &h) || !config_parse_size(v[i + 2], &s) ||
            !parse_int(v[i + 3], &sec) || h < 0 || s < 0 || sec < 0) {
            snprintf(err, errlen, "Error in hard, soft or soft_seconds setting in buffer limit "
                                  "configuration.");
            return -1;
        }
        if (cls >= 0) {
            vals[cls][0] = h;
            vals[cls][1] = s;
            vals[cls][2] = sec;
            set[cls] = 1;
        }
    }
    for (int c = 0; c < OBL_CLASSES && !check; c++) {
        if (!set[c])
            continue;
        atomic_store(&g_cfg.obl[c].hard, vals[c][0]);
        atomic_store(&g_cfg.obl[c].soft, vals[c][1]);
        atomic_store(&g_cfg.obl[c].seconds, vals[c][2]);
    }
    return 0;
}

int config_set(const char *name, int n, const char **v, int flags, char *err, size_t errlen)
{
    int startup = flags & CONFIG_STARTUP, check = flags & CONFIG_CHECK;
    const cfg_def *d = find_def(name);
    long long x;

    if (!d) {
        snprintf(err, errlen, "Bad directive or wrong number of arguments");
        return CONFIG_EUNKNOWN;
    }
    if (!startup && !d->runtime) {
        snprintf(err, errlen, "can't set immutable config");
        return CONFIG_EIMMUTABLE;
    }
    if (d->type == T_OBL)
        return set_obl(n, v, check, err, errlen);
    if (d->type == T_FIXED) {
        /* Accepted for tools that read or write them (redis-benchmark reads both); only the
         * value that means "no persistence" is allowed. */
        if ((n == 0 && !d->def[0]) || (n == 1 && strcasecmp(v[0], d->def) == 0))
            return 0;
        snprintf(err, errlen, "only '%s' is supported: persistence is not available yet",
                 d->def);
        return -1;
    }
    if (d->type == T_SAVE) {
        /* "save 900 1 300 10" in a file, "save '900 1 300 10'" or "save ''" anywhere. */
        char joined[1024] = "", norm[1024];
        size_t len = 0;
        for (int i = 0; i < n && len < sizeof(joined) - 1; i++)
            len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%s%s", i ? " " : "",
                                    v[i]);
        if (!srv_persist_parse_save(joined, NULL, 0, norm, sizeof(norm))) {
            snprintf(err, errlen, "Invalid save parameters");
            return -1;
        }
        if (check)
            return 0;
        char was[1024];
        config_get_string(d->str, was, sizeof(was));
        set_string(d->str, norm);
        if (!startup && config_apply && config_apply(d->name, err, errlen) != 0) {
            set_string(d->str, was);
            return -1;
        }
        return 0;
    }
    if (d->type == T_WORDS) {
        /* Words joined by single spaces; at least one. */
        size_t len = 0;
        for (int i = 0; i < n; i++)
            len += strlen(v[i]) + 1;
        if (n < 1) {
            snprintf(err, errlen, "wrong number of arguments");
            return -1;
        }
        if (check)
            return 0;
        char *j = malloc(len + 1);
        if (!j)
            return -1;
        j[0] = 0;
        for (int i = 0; i < n; i++) {
            if (i)
                strcat(j, " ");
            strcat(j, v[i]);
        }
        set_string(d->str, j);
        free(j);
        return 0;
    }
    if (n != 1) {
        snprintf(err, errlen, "wrong number of arguments");
        return -1;
    }
    switch (d->type) {
    case T_STRING:
        if (!check)
            set_string(d->str, v[0]);
        return 0;
    case T_FSYNC: {
        static const char *modes[] = {"no", "everysec", "always"};
        for (int i = 0; i < 3; i++) {
            if (strcasecmp(v[0], modes[i]) == 0) {
                if (!check) {
                    atomic_store(d->num, i);
                    srv_persist_fsync_changed();
                }
                return 0;
            }
        }
        snprintf(err, errlen, "argument(s) must be one of the following: always, everysec, no");
        return -1;
    }
    case T_ENGINE:
    case T_DELAY: {
        const char *const *words = d->type == T_ENGINE ? io_engines : commit_delays;
        int nw = d->type == T_ENGINE ? 2 : 3;
        for (int i = 0; i < nw; i++) {
            if (strcasecmp(v[0], words[i]) == 0) {
                x = i;
                goto store;
            }
        }
        snprintf(err, errlen, "argument(s) must be one of the following: %s",
                 d->type == T_ENGINE ? "epoll, uring" : "yes, no, auto");
        return -1;
    }
    case T_NOTIFY: {
        int fl;
        if (!notify_parse(v[0], &fl)) {
            snprintf(err, errlen,
                     "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
            return -1;
        }
        if (!check)
            atomic_store(&notify_flags, fl);
        return 0;
    }
    case T_POLICY: {
        int p = mnemo_policy_parse(v[0], strlen(v[0]));
        if (p < 0) {
            size_t len = (size_t)snprintf(err, errlen,
                                          "argument(s) must be one of the following:");
            for (int i = 0; mnemo_policy_name(i) && len < errlen; i++)
                len += (size_t)snprintf(err + len, errlen - len, "%s %s", i ? "," : "",
                                        mnemo_policy_name(i));
            return -1;
        }
        x = p;
        goto store;
    }
    case T_LOGLEVEL:
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(v[0], loglevels[i]) == 0) {
                if (!check) {
                    atomic_store(d->num, i);
                    log_set_level(i);
                }
                return 0;
            }
        }
        snprintf(err, errlen, "argument(s) must be one of the following: debug, verbose, "
                              "notice, warning");
        return -1;
    case T_BOOL:
        if (strcasecmp(v[0], "yes") == 0)
            x = 1;
        else if (strcasecmp(v[0], "no") == 0)
            x = 0;
        else {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        goto store;
    case T_OCTAL: {
        char *end;
        errno = 0;
        x = strtoll(v[0], &end, 8);
        if (errno || *end || !*v[0] || x < d->min || x > d->max) {
            snprintf(err, errlen, "Invalid socket file permissions");
            return -1;
        }
        if (!check)
            atomic_store(d->num, x);
        return 0;
    }
    case T_INT:
    case T_SIZE:
        if (!(d->type == T_INT ? parse_int(v[0], &x) : config_parse_size(v[0], &x))) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (x < d->min || x > d->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min,
                     d->max);
            return -1;
        }
        goto store;
    }
    return -1;
store:
    if (check)
        return 0;
    long long was = atomic_exchange(d->num, x);
    if (!startup && config_apply && config_apply(d->name, err, errlen) != 0) {
        atomic_store(d->num, was);
        return -1;
    }
    return 0;
}

static void format_value(const cfg_def *d, char *buf, size_t cap)
{
    switch (d->type) {
    case T_STRING:
    case T_WORDS:
        config_get_string(d->str, buf, cap);
        return;
    case T_LOGLEVEL:
        snprintf(buf, cap, "%s", loglevels[atomic_load(d->num) & 3]);
        return;
    case T_POLICY:
        snprintf(buf, cap, "%s", mnemo_policy_name((int)atomic_load(d->num)));
        return;
    case T_BOOL:
        snprintf(buf, cap, "%s", atomic_load(d->num) ? "yes" : "no");
        return;
    case T_FIXED:
        snprintf(buf, cap, "%s", d->def);
        return;
    case T_FSYNC: {
        static const char *modes[] = {"no", "everysec", "always"};
        snprintf(buf, cap, "%s", modes[atomic_load(d->num) % 3]);
        return;
    }
    case T_SAVE:
        config_get_string(d->str, buf, cap);
        return;
    case T_ENGINE:
        snprintf(buf, cap, "%s", io_engines[atomic_load(d->num) & 1]);
        return;
    case T_DELAY:
        snprintf(buf, cap, "%s", commit_delays[atomic_load(d->num) % 3]);
        return;
    case T_NOTIFY:
        notify_format(atomic_load(&notify_flags), buf, cap);
        return;
    case T_OCTAL:
        snprintf(buf, cap, "%llo", (unsigned long long)atomic_load(d->num));
        return;
    case T_OBL:
        snprintf(buf, cap, "normal %lld %lld %lld slave 268435456 67108864 60 pubsub %lld %lld %lld",
                 atomic_load(&g_cfg.obl[0].hard), atomic_load(&g_cfg.obl[0].soft),
                 atomic_load(&g_cfg.obl[0].seconds), atomic_load(&g_cfg.obl[1].hard),
                 atomic_load(&g_cfg.obl[1].soft), atomic_load(&g_cfg.obl[1].seconds));
        return;
    default:
        snprintf(buf, cap, "%lld", atomic_load(d->num));
    }
}

/* Spells s as one config-file word in double quotes, with Redis's escapes (sdscatrepr). */
static void quote_value(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap < 3) {
        if (cap)
            buf[0] = 0;
        return;
    }
    buf[n++] = '"';
    for (; *s && n + 6 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '\\': case '"': buf[n++] = '\\'; buf[n++] = (char)ch; break;
        case '\n': buf[n++] = '\\'; buf[n++] = 'n'; break;
        case '\r': buf[n++] = '\\'; buf[n++] = 'r'; break;
        case '\t': buf[n++] = '\\'; buf[n++] = 't'; break;
        default:
            if (isprint(ch))
                buf[n++] = (char)ch;
            else
                n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", ch);
        }
    }
    buf[n++] = '"';
    buf[n] = 0;
}

/* The value of row d (or its default) as a config file line spells it, normalised so that
 * a current value and a default compare equal exactly when they mean the same. */
static void file_value(const cfg_def *d, char *buf, size_t cap, int want_default)
{
    char tmp[4096];
    long long x;
    if (!want_default) {
        if (d->type == T_OBL) {
            snprintf(buf, cap, "normal %lld %lld %lld pubsub %lld %lld %lld",
                     atomic_load(&g_cfg.obl[0].hard), atomic_load(&g_cfg.obl[0].soft),
                     atomic_load(&g_cfg.obl[0].seconds), atomic_load(&g_cfg.obl[1].hard),
                     atomic_load(&g_cfg.obl[1].soft), atomic_load(&g_cfg.obl[1].seconds));
            return;
        }
        format_value(d, tmp, sizeof(tmp));
    } else if (!d->def) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(tmp, sizeof(tmp), "%ld", cpus > 0 ? cpus : 1);
    } else if (d->type == T_OBL) {
        char **w;
        int n = config_split(d->def, &w);
        size_t len = 0;
        tmp[0] = 0;
        for (int i = 0; i < n && len < sizeof(tmp) - 64; i++) {
            if (i % 4 && config_parse_size(w[i], &x))
                len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, " %lld", x);
            else
                len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%s%s", i ? " " : "", w[i]);
        }
        if (n >= 0)
            config_free_words(w, n);
        snprintf(buf, cap, "%s", tmp);
        return;
    } else if (d->type == T_INT || d->type == T_SIZE) {
        if (!config_parse_size(d->def, &x))
            x = 0;
        snprintf(tmp, sizeof(tmp), "%lld", x);
    } else if (d->type == T_OCTAL) {
        snprintf(tmp, sizeof(tmp), "%llo", (unsigned long long)strtoll(d->def, NULL, 8));
    } else if (d->type == T_NOTIFY || (d->type == T_FIXED && !d->def[0])) {
        tmp[0] = 0; /* both spelt "" */
    } else {
        snprintf(tmp, sizeof(tmp), "%s", d->def);
    }
    if (d->type == T_STRING || d->type == T_NOTIFY || (d->type == T_FIXED && !tmp[0]) ||
        (d->type == T_SAVE && !tmp[0]))
        quote_value(tmp, buf, cap);
    else
        snprintf(buf, cap, "%s", tmp);
}

int config_row(size_t i, const char **name, char *cur, size_t ccap, char *def, size_t dcap)
{
    if (i >= NDEFS)
        return 0;
    if (name)
        *name = defs[i].name;
    if (cur)
        file_value(&defs[i], cur, ccap, 0);
    if (def)
        file_value(&defs[i], def, dcap, 1);
    return 1;
}

void config_get(const char *pattern, size_t plen,
                void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    char val[4096];
    for (size_t i = 0; i < NDEFS; i++) {
        if (!glob_match(pattern, plen, defs[i].name, strlen(defs[i].name), 1))
            continue;
        format_value(&defs[i], val, sizeof(val));
        fn(ctx, defs[i].name, val);
    }
}

size_t config_get_string(char *const *field, char *buf, size_t cap)
{
    pthread_mutex_lock(&cfg_lock);
    const char *s = *field ? *field : "";
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    pthread_mutex_unlock(&cfg_lock);
    return n;
}

int config_auth_required(void)
{
    return atomic_load_explicit(&auth_required, memory_order_relaxed);
}

int config_check_password(const char *pass, size_t len)
{
    int rc;
    pthread_mutex_lock(&cfg_lock);
    const char *p = g_cfg.requirepass;
    if (!p || !*p) {
        rc = -1;
    } else {
        size_t plen = strlen(p);
        unsigned char diff = plen != len;
        for (size_t i = 0; i < len; i++)
            diff |= (unsigned char)(pass[i] ^ p[i < plen ? i : 0]);
        rc = diff == 0;
    }
    pthread_mutex_unlock(&cfg_lock);
    return rc;
}

/* ---- splitting lines ------------------------------------------------------------------------ */

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

int config_split(const char *p, char ***out)
{
    char **words = NULL;
    int n = 0, cap = 0;
    size_t len = strlen(p);
    char *cur = malloc(len + 1);
    if (!cur)
        return -1;

    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t cl = 0;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            if (inq) {
                if (!*p)
                    goto bad;
                if (p[0] == '\\' && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
                    isxdigit((unsigned char)p[3])) {
                    cur[cl++] = (char)(hexval(p[2]) * 16 + hexval(p[3]));
                    p += 3;
                } else if (p[0] == '\\' && p[1]) {
                    char c;
                    p++;
                    switch (*p) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = *p; break;
                    }
                    cur[cl++] = c;
                } else if (*p == '"') {
                    if (p[1] && !isspace((unsigned char)p[1]))
                        goto bad;
                    done = 1;
                } else {
                    cur[cl++] = *p;
                }
            } else if (insq) {
                if (!*p)
                    goto bad;
                if (p[0] == '\\' && p[1] == '\'') {
                    p++;
                    cur[cl++] = '\'';
                } else if (*p == '\'') {
                    if (p[1] && !isspace((unsigned char)p[1]))
                        goto bad;
                    done = 1;
                } else {
                    cur[cl++] = *p;
                }
            } else {
                switch (*p) {
                case ' ': case '\n': case '\r': case '\t': case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    cur[cl++] = *p;
                }
            }
            if (*p)
                p++;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nw = realloc(words, (size_t)cap * sizeof(char *));
            if (!nw)
                goto bad;
            words = nw;
        }
        words[n] = malloc(cl + 1);
        if (!words[n])
            goto bad;
        memcpy(words[n], cur, cl);
        words[n][cl] = 0;
        n++;
    }
    free(cur);
    *out = words;
    return n;
bad:
    free(cur);
    config_free_words(words, n);
    return -1;
}

void config_free_words(char **words, int n)
{
    for (int i = 0; i < n; i++)
        free(words[i]);
    free(words);
}

/* ---- loading -------------------------------------------------------------------------------- */

void config_init(void)
{
    char err[256];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char th[32];
    snprintf(th, sizeof(th), "%ld", cpus > 0 ? cpus : 1);
    for (size_t i = 0; i < NDEFS; i++) {
        const char *def = defs[i].def ? defs[i].def : th;
        char **w;
        int n = config_split(def, &w);
        if (n < 0)
            abort();
        if ((defs[i].type == T_STRING || defs[i].type == T_SAVE) && n == 0)
            set_string(defs[i].str, "");
        else if (config_set(defs[i].name, n, (const char **)w, CONFIG_STARTUP, err, sizeof(err)) != 0)
            abort();
        config_free_words(w, n);
    }
    g_cfg.config_file = strdup("");
}

/* Applies one line; returns 0, or -1 with the reason in err. */
static int apply_line(const char *line, char *err, size_t errlen)
{
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '#' || *line == 0)
        return 0;
    char **w;
    int n = config_split(line, &w);
    if (n < 0) {
        snprintf(err, errlen, "Unbalanced quotes in configuration line");
        return -1;
    }
    int rc = 0;
    if (n > 0 && w[0][0] != '#') {
        if (!find_def(w[0])) {
            snprintf(err, errlen, "Bad directive or wrong number of arguments");
            rc = -1;
        } else {
            rc = config_set(w[0], n - 1, (const char **)w + 1, CONFIG_STARTUP, err, errlen);
        }
    }
    config_free_words(w, n);
    return rc;
}

static int fail_line(char *err, size_t errlen, const char *where, int lineno, const char *line,
                     const char *why)
{
    snprintf(err, errlen,
             "\n*** FATAL CONFIG FILE ERROR (mnemo " "%s" ") ***\n"
             "Reading the configuration file, at %s %d\n>>> '%s'\n%s",
             "0.1.0", where, lineno, line, why);
    return -1;
}

int config_load(const char *path, int argc, char **argv, char *err, size_t errlen)
{
    char why[256];
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                     strerror(errno));
            return -1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int lineno = 0;
        char path_line[1100];
        snprintf(path_line, sizeof(path_line), "%s line", path);
        while ((len = getline(&line, &cap, f)) >= 0) {
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            if (apply_line(line, why, sizeof(why)) != 0) {
                fail_line(err, errlen, path_line, lineno, line, why);
                free(line);
                fclose(f);
                return -1;
            }
        }
        free(line);
        fclose(f);
        char *abs = realpath(path, NULL);
        free(g_cfg.config_file);
        g_cfg.config_file = abs ? abs : strdup(path);
    }
    /* "--name v1 v2 --other v" : each --name starts a setting, the words after it are its
     * values (Redis's rule). */
    for (int i = 0; i < argc;) {
        if (strncmp(argv[i], "--", 2) != 0 || !argv[i][2]) {
            snprintf(err, errlen, "Invalid argument '%s': settings are given as --name value",
                     argv[i]);
            return -1;
        }
        const char *name = argv[i] + 2;
        int j = i + 1;
        while (j < argc && strncmp(argv[j], "--", 2) != 0)
            j++;
        if (!find_def(name)) {
            fail_line(err, errlen, "command line argument", i + 1, argv[i],
                      "Bad directive or wrong number of arguments");
            return -1;
        }
        if (config_set(name, j - i - 1, (const char **)argv + i + 1, CONFIG_STARTUP, why,
                       sizeof(why)) != 0) {
            fail_line(err, errlen, "command line argument", i + 1, argv[i], why);
            return -1;
        }
        i = j;
    }
    return 0;
}

void config_print_help(const char *prog)
{
    printf("Usage: %s [/path/to/mnemo.conf] [--name value ...]\n"
           "       %s --version\n"
           "       %s --help\n\n"
           "Examples:\n"
           "       %s --port 7777\n"
           "       %s /etc/mnemo.conf --loglevel verbose\n\n"
           "Settings (defaults in brackets):\n",
           prog, prog, prog, prog, prog);
    for (size_t i = 0; i < NDEFS; i++)
        printf("  %-28s %s [%s]\n", defs[i].name, defs[i].help,
               defs[i].def ? defs[i].def : "CPUs");
}

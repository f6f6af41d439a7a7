/*
 * config.h — the server's settings: defaults, redis.conf-style files, --name value arguments,
 * CONFIG GET / CONFIG SET.
 *
 * Every setting is one row of a table (config.c): name, type, limits, whether it may change at
 * run time, and where its value lives in `srv_config`. Files, the command line and CONFIG SET
 * all go through that table, so they accept the same spellings (sizes with units such as 1k,
 * 1kb, 512mb, 1gb; yes/no; quoted strings), and CONFIG GET prints what a file would contain.
 *
 * Concurrency: numeric settings are atomics, read by the workers without a lock (relaxed
 * loads: a change takes effect for commands that start after it). String settings (requirepass,
 * bind, ...) are protected by the config lock; readers copy them with config_get_string().
 * Settings that shape the process (port, bind, threads, databases, ...) are fixed after
 * startup: CONFIG SET refuses them.
 */
#ifndef MNEMO_SERVER_CONFIG_H
#define MNEMO_SERVER_CONFIG_H

#include <stdatomic.h>
#include <stddef.h>

/* io-engine: how the workers wait for and move bytes (worker.h). */
enum { IO_ENGINE_EPOLL = 0, IO_ENGINE_URING = 1 };
enum { COMMIT_DELAY_NO = 0, COMMIT_DELAY_YES = 1, COMMIT_DELAY_AUTO = 2 };

/* Output buffer limit classes (client-output-buffer-limit). */
enum { OBL_NORMAL = 0, OBL_PUBSUB = 1, OBL_CLASSES = 2 };

typedef struct obl_limit {
    _Atomic long long hard;    /* bytes; 0 = none */
    _Atomic long long soft;    /* bytes; 0 = none */
    _Atomic long long seconds; /* how long the soft limit may be exceeded */
} obl_limit;

typedef struct srv_config {
    _Atomic long long port;
    _Atomic long long tcp_backlog;
    _Atomic long long tcp_keepalive;
    _Atomic long long unixsocketperm;
    _Atomic long long threads;
    _Atomic long long databases;
    _Atomic long long shards;
    _Atomic long long maxclients;
    _Atomic long long timeout;
    _Atomic long long proto_max_bulk_len;
    _Atomic long long client_query_buffer_limit;
    _Atomic long long loglevel;
    _Atomic long long hz;
    _Atomic long long maxmemory;            /* bytes, 0 = no ceiling */
    _Atomic long long maxmemory_policy;     /* mnemo_policy */
    _Atomic long long maxmemory_high_pct;   /* maxmemory-high-watermark */
    _Atomic long long maxmemory_low_pct;    /* maxmemory-low-watermark */
    _Atomic long long compression;           /* 1: LZ4 for values of compression_threshold+ */
    _Atomic long long compression_threshold; /* bytes */
    _Atomic long long appendonly;                 /* persistence on (srv_persist.h) */
    _Atomic long long appendfsync;                /* mnemo_fsync */
    _Atomic long long auto_aof_rewrite_percentage;
    _Atomic long long auto_aof_rewrite_min_size;
    _Atomic long long key_load_delay;             /* testing: microseconds per key loaded */
    _Atomic long long io_engine;                  /* IO_ENGINE_*: the workers' event loop */
    _Atomic long long io_batch_usec;              /* uring: how long a wait gathers a batch */
    _Atomic long long commit_delay;               /* COMMIT_DELAY_*: before an always sync */
    _Atomic long long disable_thp;                /* 1: no transparent huge pages (main.c) */
    obl_limit obl[OBL_CLASSES];
    /* Protected by the config lock (config.c). */
    char *bind;
    char *unixsocket;
    char *logfile;
    char *requirepass;
    char *dir;
    char *pidfile;
    char *save;           /* snapshot schedule: "seconds changes ..." pairs, "" = none */
    char *appendfilename; /* base name of the persistence files */
    char *appenddirname;  /* their directory, inside dir */
    char *config_file; /* absolute path of the file loaded, "" if none */
} srv_config;

extern srv_config g_cfg;

#define CFG(field) atomic_load_explicit(&g_cfg.field, memory_order_relaxed)

/* Called by CONFIG SET after a setting that may change at run time was stored (NULL until
 * the server sets it, once the store is open): applies it (e.g. to the store). A non-zero
 * return with a reason in err makes CONFIG SET restore the old value and fail. */
extern int (*config_apply)(const char *name, char *err, size_t errlen);

/* Fills g_cfg with the defaults (threads: number of CPUs). Call once, first. */
void config_init(void);

/* Loads settings from the file at `path` (may be NULL), then from the command-line arguments
 * argv[0..argc) ("--name value..." groups). On error writes a message naming the line into
 * err and returns -1. */
int config_load(const char *path, int argc, char **argv, char *err, size_t errlen);

/* config_set() flags and its distinct failures. */
enum { CONFIG_STARTUP = 1, CONFIG_CHECK = 2 };
enum { CONFIG_EINVALID = -1, CONFIG_EUNKNOWN = -2, CONFIG_EIMMUTABLE = -3 };

/* Sets one setting by name to the words vals[0..nvals). CONFIG_STARTUP also allows the
 * settings that are fixed at run time; CONFIG_CHECK only validates (nothing is stored).
 * Returns 0, or CONFIG_EUNKNOWN / CONFIG_EIMMUTABLE / CONFIG_EINVALID with a reason in err. */
int config_set(const char *name, int nvals, const char **vals, int flags, char *err,
               size_t errlen);

/* Calls fn(ctx, name, value) for every setting whose name matches the glob `pattern`
 * (nocase), in table order. `value` is a temporary string. */
void config_get(const char *pattern, size_t plen,
                void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

/* For CONFIG REWRITE: row i of the settings table, in table order. *name (may be NULL)
 * receives its name; cur / def (may be NULL) its current value and its default, spelt as the
 * arguments of a config file line (strings quoted) and normalised so that equal means equal.
 * Returns 1, or 0 when i is past the last row. */
int config_row(size_t i, const char **name, char *cur, size_t ccap, char *def, size_t dcap);

/* Copies a string setting into buf (NUL-terminated, truncated to cap). Returns its length. */
size_t config_get_string(char *const *field, char *buf, size_t cap);

/* Compares the given password with requirepass in constant time. Returns 1 on match;
 * -1 if no password is configured. */
int config_check_password(const char *pass, size_t len);

/* 1 if requirepass is set (cheap, for the per-connection auth check). */
int config_auth_required(void);

/* Parses a Redis memory size ("100", "1k", "1kb", "1mb", "1gb", ...). Returns 1 on success. */
int config_parse_size(const char *s, long long *out);

/* Splits a line into words as Redis's sdssplitargs() (quotes, escapes). Returns the count, or
 * -1 on unbalanced quotes. Words are malloc()ed into *words (free with config_free_words). */
int config_split(const char *line, char ***words);
void config_free_words(char **words, int n);

/* The help text for --help. */
void config_print_help(const char *prog);

#endif

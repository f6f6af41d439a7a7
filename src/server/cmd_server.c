/*
 * cmd_server.c — server commands: TIME, INFO, CONFIG, DEBUG, SHUTDOWN, MEMORY.
 *
 * INFO sums the workers' counters (relaxed atomics: a consistent-enough snapshot, never a
 * lock on the request path) and the store's statistics; field names are Redis's so that
 * monitoring tools parse them unchanged.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/log.h"
#include "server/pubsub.h"
#include "server/reply.h"
#include "server/server.h"
#include "server/srv_persist.h"
#include "server/worker.h"

#define ST srv_store() /* NULL while loading: see server.h */

static void cmd_time(conn *c, int argc, resp_arg *argv)
{
    int64_t us = server_now_us();
    char a[32], b[32];
    int na = snprintf(a, sizeof(a), "%lld", (long long)(us / 1000000));
    int nb = snprintf(b, sizeof(b), "%lld", (long long)(us % 1000000));
    reply_array(c, 2);
    reply_bulk(c, a, (size_t)na);
    reply_bulk(c, b, (size_t)nb);
}

/* ---- INFO ----------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            return;
        b->s = ns;
        b->cap = cap;
    }
}

static void human_bytes(char *buf, size_t cap, uint64_t n)
{
    double d = (double)n;
    if (n < 1024)
        snprintf(buf, cap, "%lluB", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, cap, "%.2fK", d / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, cap, "%.2fM", d / (1024 * 1024));
    else
        snprintf(buf, cap, "%.2fG", d / (1024.0 * 1024 * 1024));
}

static uint64_t rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int want_section(int argc, resp_arg *argv, const char *name, int in_default)
{
    if (argc < 2)
        return in_default;
    for (int i = 1; i < argc; i++) {
        if (arg_eq(&argv[i], name) || arg_eq(&argv[i], "all") || arg_eq(&argv[i], "everything"))
            return 1;
        if (arg_eq(&argv[i], "default") && in_default)
            return 1;
    }
    return 0;
}

static void sum_workers(uint64_t *cmds, uint64_t *in, uint64_t *out, uint64_t *batched,
                        uint64_t *delays)
{
    *cmds = *in = *out = *batched = *delays = 0;
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        worker *w = &g_srv.workers[i];
        *cmds += atomic_load_explicit(&w->commands, memory_order_relaxed);
        *in += atomic_load_explicit(&w->net_in, memory_order_relaxed);
        *out += atomic_load_explicit(&w->net_out, memory_order_relaxed);
        *batched += atomic_load_explicit(&w->batched_waits, memory_order_relaxed);
        *delays += atomic_load_explicit(&w->commit_delays, memory_order_relaxed);
    }
}

static void cmd_info(conn *c, int argc, resp_arg *argv)
{
    sbuf b = {0};
    int64_t now = server_now_ms();
    mnemo_stats st;
    memset(&st, 0, sizeof(st));
    mnemo_store_stats(ST, &st);
    int first = 1;
#define SECTION(title) \
    do { \
        sb_printf(&b, "%s# %s\r\n", first ? "" : "\r\n", title); \
        first = 0; \
    } while (0)

    if (want_section(argc, argv, "server", 1)) {
        struct utsname un;
        uname(&un);
        int64_t up = (now - g_srv.start_ms) / 1000;
        char cf[1024];
        config_get_string(&g_cfg.config_file, cf, sizeof(cf));
        SECTION("Server");
        sb_printf(&b,
                  "redis_version:%s\r\nmnemo_version:%s\r\nredis_mode:standalone\r\n"
                  "os:%s %s %s\r\narch_bits:%d\r\nmultiplexing_api:%s\r\n"
                  "gcc_version:%d.%d.%d\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%lld\r\n"
                  "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
                  "hz:%lld\r\nio_threads_active:0\r\nworker_threads:%u\r\nexecutable:%s\r\n"
                  "config_file:%s\r\n",
                  MNEMO_REDIS_COMPAT_VERSION, MNEMO_VERSION_STRING, un.sysname, un.release,
                  un.machine, (int)(sizeof(void *) * 8),
                  CFG(io_engine) == IO_ENGINE_URING ? "io_uring" : "epoll",
#ifdef __GNUC__
                  __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                  0, 0, 0,
#endif
                  (int)getpid(), g_srv.run_id, CFG(port), (long long)server_now_us(),
                  (long long)up, (long long)(up / 86400), CFG(hz), g_srv.nworkers,
                  g_srv.executable, cf);
    }
    if (want_section(argc, argv, "clients", 1)) {
        SECTION("Clients");
        sb_printf(&b,
                  "connected_clients:%ld\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
                  "client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n"
                  "blocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                  atomic_load(&g_srv.connected), CFG(maxclients));
        sb_printf(&b, "worker_clients:");
        for (unsigned i = 0; i < g_srv.nworkers; i++)
            sb_printf(&b, "%s%u", i ? "," : "",
                      atomic_load_explicit(&g_srv.workers[i].nconns, memory_order_relaxed));
        sb_printf(&b, "\r\n");
    }
    if (want_section(argc, argv, "memory", 1)) {
        char h1[32], h2[32], h3[32];
        uint64_t rss = rss_bytes();
        human_bytes(h1, sizeof(h1), st.memory_used);
        human_bytes(h2, sizeof(h2), rss);
        human_bytes(h3, sizeof(h3), st.maxmemory);
        SECTION("Memory");
        sb_printf(&b,
                  "used_memory:%llu\r\nused_memory_human:%s\r\nused_memory_rss:%llu\r\n"
                  "used_memory_rss_human:%s\r\nused_memory_dataset:%llu\r\n"
                  "maxmemory:%llu\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
                  "maxmemory_high_watermark:%lld\r\nmaxmemory_low_watermark:%lld\r\n"
                  "mem_fragmentation_ratio:%.2f\r\nmem_allocator:libc\r\n"
                  "compressed_values:%llu\r\ncompressed_bytes:%llu\r\n"
                  "compressed_original_bytes:%llu\r\ncompression_ratio:%.2f\r\n",
                  (unsigned long long)st.memory_used, h1, (unsigned long long)rss, h2,
                  (unsigned long long)st.data_bytes, (unsigned long long)st.maxmemory, h3,
                  mnemo_policy_name(st.eviction_policy), CFG(maxmemory_high_pct),
                  CFG(maxmemory_low_pct),
                  st.memory_used ? (double)rss / (double)st.memory_used : 0.0,
                  (unsigned long long)st.compressed_values,
                  (unsigned long long)st.compressed_bytes,
                  (unsigned long long)st.compressed_original_bytes, st.compression_ratio);
    }
    if (want_section(argc, argv, "persistence", 1)) {
        char pbuf[4096];
        size_t pn = srv_persist_info(pbuf, sizeof(pbuf));
        SECTION("Persistence");
        sb_printf(&b, "%.*s", (int)pn, pbuf);
    }
    if (want_section(argc, argv, "stats", 1)) {
        uint64_t cmds, in, out, batched, delays;
        sum_workers(&cmds, &in, &out, &batched, &delays);
        uint64_t base = atomic_load(&g_srv.stat_reset_commands);
        long long pchans, ppats;
        pubsub_stats(&pchans, &ppats);
        SECTION("Stats");
        sb_printf(&b,
                  "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                  "instantaneous_ops_per_sec:%lld\r\ntotal_net_input_bytes:%llu\r\n"
                  "total_net_output_bytes:%llu\r\ninstantaneous_input_kbps:%.2f\r\n"
                  "instantaneous_output_kbps:%.2f\r\nrejected_connections:%llu\r\n"
                  "expired_keys:%llu\r\nevicted_keys:%llu\r\nkeyspace_hits:%llu\r\n"
                  "keyspace_misses:%llu\r\npubsub_channels:%lld\r\npubsub_patterns:%lld\r\n"
                  "io_batched_waits:%llu\r\nio_commit_delays:%llu\r\n",
                  (unsigned long long)atomic_load(&g_srv.total_connections),
                  (unsigned long long)(cmds - (base < cmds ? base : cmds)),
                  atomic_load(&g_srv.inst_ops), (unsigned long long)in,
                  (unsigned long long)out, atomic_load(&g_srv.inst_in_bps) / 1024.0,
                  atomic_load(&g_srv.inst_out_bps) / 1024.0,
                  (unsigned long long)atomic_load(&g_srv.rejected_connections),
                  (unsigned long long)st.expired, (unsigned long long)st.evicted,
                  (unsigned long long)st.hits, (unsigned long long)st.misses, pchans, ppats,
                  (unsigned long long)batched, (unsigned long long)delays);
    }
    if (want_section(argc, argv, "keyspace", 1)) {
        SECTION("Keyspace");
        for (unsigned db = 0; db < g_srv.databases; db++) {
            mnemo_db_info di;
            if (mnemo_db_info_get(ST, db, &di) != MNEMO_OK || !di.keys)
                continue;
            sb_printf(&b, "db%u:keys=%llu,expires=%llu,avg_ttl=%lld\r\n", db,
                      (unsigned long long)di.keys, (unsigned long long)di.keys_with_ttl,
                      (long long)di.avg_ttl_ms);
        }
    }
    if (!b.s)
        reply_verbatim(c, "", 0);
    else
        reply_verbatim(c, b.s, b.len);
    free(b.s);
}

/* ---- CONFIG --------------------------------------------------------------------------------- */

typedef struct cfg_sink {
    conn *c;
    size_t n;
    const char **seen;
    size_t nseen;
} cfg_sink;

static void cfg_cb(void *ctx, const char *name, const char *value)
{
    cfg_sink *s = ctx;
    for (size_t i = 0; i < s->nseen; i++)
        if (s->seen[i] == name)
            return;
    if (s->nseen < 64)
        s->seen[s->nseen++] = name;
    reply_bulk_str(s->c, name);
    reply_bulk_str(s->c, value);
    s->n++;
}

static void cmd_config_get(conn *c, int argc, resp_arg *argv)
{
    const char *seen[64];
    cfg_sink s = {c, 0, seen, 0};
    size_t mark = resp_write_deferred_begin(&c->out);
    for (int i = 2; i < argc; i++)
        config_get(argv[i].ptr, argv[i].len, cfg_cb, &s);
    if (resp_write_deferred_end(&c->out, mark, RESP_AGG_MAP, s.n, c->proto) != RESP_OK)
        c->werr = 1;
}

/* Splits a CONFIG SET value into words ("normal 0 0 0"); "" is one empty word. */
static int value_words(const resp_arg *a, char ***w)
{
    char *val = strndup(a->ptr, a->len);
    if (!val)
        return -1;
    int n = config_split(val, w);
    if (n == 0) {
        free(*w);
        *w = malloc(sizeof(char *));
        if (!*w || !((*w)[0] = strdup(""))) {
            free(val);
            return -1;
        }
        n = 1;
    }
    free(val);
    return n;
}

/* CONFIG SET name value [name value ...]: every pair is validated before any is applied, so
 * a bad pair leaves the configuration unchanged (as Redis 7). */
static void cmd_config_set(conn *c, int argc, resp_arg *argv)
{
    if (argc % 2) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 2; i < argc; i += 2) {
            char name[128], err[256];
            char **w = NULL;
            snprintf(name, sizeof(name), "%.*s", (int)argv[i].len, argv[i].ptr);
            int n = value_words(&argv[i + 1], &w);
            int rc = n < 0 ? CONFIG_EINVALID
                           : config_set(name, n, (const char **)w, pass ? 0 : CONFIG_CHECK, err,
                                        sizeof(err));
            if (n < 0)
                snprintf(err, sizeof(err), "unbalanced quotes");
            else
                config_free_words(w, n);
            if (rc == CONFIG_EUNKNOWN) {
                reply_errf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                           name);
                return;
            }
            if (rc != 0) {
                reply_errf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                           name, err);
                return;
            }
        }
    }
    reply_ok(c);
}

static void cmd_config_resetstat(conn *c, int argc, resp_arg *argv)
{
    uint64_t cmds, in, out, batched, delays;
    mnemo_stats_reset(ST);
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        atomic_store(&g_srv.workers[i].net_in, 0);
        atomic_store(&g_srv.workers[i].net_out, 0);
        atomic_store(&g_srv.workers[i].batched_waits, 0);
        atomic_store(&g_srv.workers[i].commit_delays, 0);
    }
    sum_workers(&cmds, &in, &out, &batched, &delays);
    atomic_store(&g_srv.stat_reset_commands, cmds);
    atomic_store(&g_srv.total_connections, 0);
    atomic_store(&g_srv.rejected_connections, 0);
    reply_ok(c);
}

static void cmd_config_help(conn *c, int argc, resp_arg *argv)
{
    static const char *lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

/* ---- DEBUG, SHUTDOWN, MEMORY ---------------------------------------------------------------- */

static void cmd_debug(conn *c, int argc, resp_arg *argv)
{
    if (arg_eq(&argv[1], "SLEEP") && argc == 3) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(argv[2].len < 63 ? argv[2].len : 63),
                 argv[2].ptr);
        char *end;
        double secs = strtod(tmp, &end);
        if (*end || secs != secs) {
            reply_err(c, ERR_NOTFLOAT);
            return;
        }
        if (secs > 0) {
            struct timespec ts = {(time_t)secs, (long)((secs - floor(secs)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        reply_ok(c);
    } else if (arg_eq(&argv[1], "OBJECT")) {
        introspect_debug_object(c, argc, argv);
    } else if (arg_eq(&argv[1], "HELP")) {
        reply_array(c, 5);
        reply_simple(c, "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        reply_simple(c, "OBJECT <key>");
        reply_simple(c, "    Show low level info about `key` and associated value.");
        reply_simple(c, "SLEEP <seconds>");
        reply_simple(c, "    Stop the server for <seconds>. Decimals allowed.");
    } else {
        reply_errf(c, "ERR unknown subcommand '%.*s'. Try DEBUG HELP.",
                   (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].ptr);
    }
}

static void cmd_shutdown(conn *c, int argc, resp_arg *argv)
{
    for (int i = 1; i < argc; i++) {
        if (!arg_eq(&argv[i], "NOSAVE") && !arg_eq(&argv[i], "SAVE") &&
            !arg_eq(&argv[i], "NOW") && !arg_eq(&argv[i], "FORCE")) {
            reply_err(c, ERR_SYNTAX);
            return;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (arg_eq(&argv[i], "SAVE"))
            atomic_store(&g_srv.shutdown_save, 1);
        else if (arg_eq(&argv[i], "NOSAVE"))
            atomic_store(&g_srv.shutdown_save, -1);
    }
    log_warning("User requested shutdown...");
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    server_request_shutdown();
}

static void cmd_memory_usage(conn *c, int argc, resp_arg *argv)
{
    if (argc != 3 && !(argc == 5 && arg_eq(&argv[3], "SAMPLES"))) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    if (argc == 5) {
        long long s;
        if (!arg_ll_or_reply(c, &argv[4], &s))
            return;
    }
    size_t bytes;
    int rc = mnemo_key_memory(ST, c->db, argv[2].ptr, argv[2].len, &bytes);
    if (rc == MNEMO_OK)
        reply_int(c, (long long)bytes);
    else if (rc == MNEMO_ENOTFOUND)
        reply_null(c);
    else
        reply_status(c, rc);
}

static void cmd_memory_purge(conn *c, int argc, resp_arg *argv)
{
    int rc = mnemo_store_purge(ST);
    if (rc == MNEMO_OK)
        reply_ok(c);
    else
        reply_status(c, rc);
}

static void cmd_memory_help(conn *c, int argc, resp_arg *argv)
{
    reply_array(c, 5);
    reply_simple(c, "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    reply_simple(c, "USAGE <key> [SAMPLES <count>]");
    reply_simple(c, "    Return memory in bytes used by <key> and its value.");
    reply_simple(c, "PURGE");
    reply_simple(c, "    Finish index resizes in progress and return free heap pages to the system.");
}

static void cmd_container(conn *c, int argc, resp_arg *argv)
{
    reply_err(c, "ERR internal error");
}

#define AD (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static const command config_subs[] = {
    {"config|get", -3, AD, 0, 0, 0, cmd_config_get, "server", "2.0.0",
     "Returns the effective values of configuration parameters.", "parameter [parameter ...]",
     "@admin @slow @dangerous", NULL},
    {"config|set", -4, AD, 0, 0, 0, cmd_config_set, "server", "2.0.0",
     "Sets configuration parameters in-flight.", "parameter value [parameter value ...]",
     "@admin @slow @dangerous", NULL},
    {"config|resetstat", 2, AD | CMD_WHOLE, 0, 0, 0, cmd_config_resetstat, "server", "2.0.0",
     "Resets the server's statistics.", NULL, "@admin @slow @dangerous", NULL},
    {"config|rewrite", 2, AD, 0, 0, 0, introspect_config_rewrite, "server", "2.8.0",
     "Persists the effective configuration to file.", NULL, "@admin @slow @dangerous", NULL},
    {"config|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_config_help, "server", "5.0.0",
     "Returns helpful text about the different subcommands.", NULL, "@slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const command memory_subs[] = {
    {"memory|usage", -3, CMD_READONLY, 2, 2, 1, cmd_memory_usage, "server", "4.0.0",
     "Estimates the memory usage of a key.", "key [SAMPLES count]", "@read @slow", NULL},
    {"memory|purge", 2, 0, 0, 0, 0, cmd_memory_purge, "server", "4.0.0",
     "Asks the allocator to release memory.", NULL, "@slow", NULL},
    {"memory|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_memory_help, "server", "4.0.0",
     "Returns helpful text about the different subcommands.", NULL, "@slow", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const command cmd_server_table[] = {
    {"time", 1, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_time, "server", "2.6.0",
     "Returns the server time.", NULL, "@fast", NULL},
    {"info", -1, CMD_LOADING | CMD_STALE | CMD_WHOLE, 0, 0, 0, cmd_info, "server", "1.0.0",
     "Returns information and statistics about the server.", "[section [section ...]]",
     "@slow @dangerous", NULL},
    {"config", -2, CMD_CONTAINER, 0, 0, 0, cmd_container, "server", "2.0.0",
     "A container for server configuration commands.", NULL, "@slow", config_subs},
    {"debug", -2, AD, 0, 0, 0, cmd_debug, "server", "1.0.0",
     "A container for debugging commands.", NULL, "@admin @slow @dangerous", NULL},
    {"shutdown", -1, AD | CMD_NOMULTI, 0, 0, 0, cmd_shutdown, "server", "1.0.0",
     "Synchronously saves the database(s) to disk and shuts down the Redis server.",
     "[NOSAVE|SAVE] [NOW] [FORCE]", "@admin @slow @dangerous", NULL},
    {"memory", -2, CMD_CONTAINER, 0, 0, 0, cmd_container, "server", "4.0.0",
     "A container for memory diagnostics commands.", NULL, "@slow", memory_subs},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

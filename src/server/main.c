/*
 * main.c — mnemo-server's process: arguments, configuration, the store, the workers, signals.
 *
 *   mnemo-server [config-file] [--name value ...]
 *
 * The main thread does no request work. It loads the configuration, opens the store, binds the
 * listeners (failing fast, exit 1, if a port is taken), starts the workers and then waits in
 * sigwait() for SIGTERM or SIGINT (SHUTDOWN sends SIGTERM to the process). Shutdown: the
 * workers stop accepting, flush pending replies and close their connections; then the store
 * is closed and the process exits 0. All threads block those signals, so only the main thread
 * ever sees them, and no code runs in a signal handler.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mnemo.h"
#include "server/cmd.h"
#include "server/config.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "server/srv_persist.h"
#include "server/uring.h"
#include "server/worker.h"
#include "util/clock.h"

server g_srv;

int64_t server_now_ms(void)
{
    return clock_realtime_ms();
}

int64_t server_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void server_request_shutdown(void)
{
    atomic_store(&g_srv.shutdown, 1);
    kill(getpid(), SIGTERM);
}

/* Raises the open files limit to what maxclients needs (as Redis's adjustOpenFilesLimit): the
 * clients plus a reserve for listeners, epoll and eventfds, the log and the store. If the
 * hard limit is lower, maxclients is lowered to fit and a warning says so. */
#define RESERVED_FDS 32

static void adjust_open_files_limit(void)
{
    struct rlimit rl;
    long long want = CFG(maxclients) + RESERVED_FDS + 4 * CFG(threads);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if ((long long)rl.rlim_cur >= want)
        return;
    rlim_t target = rl.rlim_max == RLIM_INFINITY || (long long)rl.rlim_max >= want
                        ? (rlim_t)want
                        : rl.rlim_max;
    rl.rlim_cur = target;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long long)rl.rlim_cur < want) {
        long long fit = (long long)rl.rlim_cur - RESERVED_FDS - 4 * CFG(threads);
        if (fit < 1)
            fit = 1;
        log_warning("Open files limit is %llu: maxclients lowered from %lld to %lld",
                    (unsigned long long)rl.rlim_cur, CFG(maxclients), fit);
        atomic_store(&g_cfg.maxclients, fit);
    }
}

static void make_run_id(void)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[20];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(r, 1, sizeof(r), f) : 0;
    if (f)
        fclose(f);
    for (size_t i = got; i < sizeof(r); i++)
        r[i] = (unsigned char)(rand() ^ (int)i);
    for (int i = 0; i < 20; i++) {
        g_srv.run_id[2 * i] = hex[r[i] >> 4];
        g_srv.run_id[2 * i + 1] = hex[r[i] & 15];
    }
    g_srv.run_id[40] = 0;
}

/* CONFIG SET of a setting the store holds: passes it on (config.h, config_apply). */
static int apply_setting(const char *name, char *err, size_t errlen)
{
    mnemo_store *st = srv_store();
    int rc = MNEMO_OK;
    if (!st) {
        snprintf(err, errlen, "the dataset is still loading");
        return -1;
    }
    if (strcasecmp(name, "maxmemory") == 0) {
        rc = mnemo_set_maxmemory(st, (uint64_t)CFG(maxmemory));
    } else if (strcasecmp(name, "maxmemory-policy") == 0) {
        rc = mnemo_set_eviction_policy(st, (int)CFG(maxmemory_policy));
    } else if (strcasecmp(name, "maxmemory-high-watermark") == 0 ||
               strcasecmp(name, "maxmemory-low-watermark") == 0) {
        long long hi = CFG(maxmemory_high_pct), lo = CFG(maxmemory_low_pct);
        if (lo > hi) {
            snprintf(err, errlen, "maxmemory-low-watermark (%lld) must not be above "
                                  "maxmemory-high-watermark (%lld)", lo, hi);
            return -1;
        }
        rc = mnemo_set_eviction_marks(st, (unsigned)hi, (unsigned)lo);
    } else if (strcasecmp(name, "compression") == 0 ||
               strcasecmp(name, "compression-threshold") == 0) {
        rc = mnemo_store_set_compression(st, CFG(compression) != 0,
                                         (size_t)CFG(compression_threshold));
    } else if (strcasecmp(name, "appendonly") == 0 || strcasecmp(name, "save") == 0) {
        return srv_persist_apply(name, err, errlen);
    }
    if (rc != MNEMO_OK) {
        snprintf(err, errlen, "%s", mnemo_strerror(rc));
        return -1;
    }
    return 0;
}

/* Transparent huge pages for the heap, where the kernel gives them on request (THP "madvise").
 *
 * A snapshot is a fork(), and what fork() costs is copying the page tables: with 4 KiB pages,
 * 5 M keys (300 MB) took 22-24 ms, with 2 MiB pages 2-4 ms (docs/BENCHMARKS.md, "Snapshot
 * stall"). Since Linux 5.8 a write to a huge page shared with a snapshot child copies one
 * 4 KiB page, not 2 MiB, so the copy-on-write cost and memory bound stay as they were. The
 * price is memory: a heap of 2 MiB pages holds more than it uses under churn (RSS grew 1.12x
 * as much as used_memory under eviction, against 1.0x), so huge pages are asked for only when
 * persistence is configured at start-up (appendonly yes or a save schedule): without it there
 * is no fork to shorten.
 *
 * The store's memory comes from malloc (arena segments of 4-64 KiB), and glibc asks for huge
 * pages only with its tunable glibc.malloc.hugetlb=1, read once when the process starts: so
 * the server sets it and executes itself again, once, before anything else has started. Not
 * done where it cannot help or is already decided: no persistence at start-up, disable-thp
 * yes (which, as Redis's, turns huge pages off for the process), THP "never" or "always",
 * GLIBC_TUNABLES naming hugetlb already, a sanitizer's malloc, or valgrind (which would stop
 * following the process). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MALLOC_REPLACED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MALLOC_REPLACED 1
#endif
#endif

static void heap_huge_pages(char **argv)
{
    if (CFG(disable_thp)) {
        (void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
        return;
    }
#ifdef MALLOC_REPLACED
    (void)argv;
#else
    char save[8];
    config_get_string(&g_cfg.save, save, sizeof(save));
    if (!CFG(appendonly) && !save[0])
        return; /* no persistence configured: no fork to shorten */
    const char *tun = getenv("GLIBC_TUNABLES");
    const char *pre = getenv("LD_PRELOAD");
    if ((tun && strstr(tun, "glibc.malloc.hugetlb")) || (pre && strstr(pre, "vgpreload")))
        return;
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return;
    if (!fgets(mode, sizeof(mode), f))
        mode[0] = 0;
    fclose(f);
    if (!strstr(mode, "[madvise]"))
        return;
    char val[1024];
    int n = snprintf(val, sizeof(val), "%s%sglibc.malloc.hugetlb=1", tun ? tun : "",
                     tun && tun[0] ? ":" : "");
    if (n < 0 || (size_t)n >= sizeof(val) || setenv("GLIBC_TUNABLES", val, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* Still here: run on without (the variable stays, for the record in the environment). */
#endif
}

int main(int argc, char **argv)
{
    const char *conf = NULL;
    int first_opt = 1;
    char err[2048];

    /* One malloc arena for the whole process. With one per thread (glibc's default), arena
     * segments freed by whichever thread evicts them go back to the arena of the thread that
     * allocated them and are reused only by that thread: under eviction churn at 64 MB
     * (bench/hitratio, 10 M requests) RSS reached 84 MiB for 57 MiB of used_memory; with one
     * arena, 61 MiB. Small allocations still go through glibc's per-thread caches (tcache),
     * so workers rarely meet on the arena's lock. */
    mallopt(M_ARENA_MAX, 1);

    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
        printf("mnemo-server v=%s (Redis protocol %s)\n", MNEMO_VERSION_STRING,
               MNEMO_REDIS_COMPAT_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        config_init();
        config_print_help(argv[0]);
        return 0;
    }
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        conf = argv[1];
        first_opt = 2;
    }

    config_init();
    if (config_load(conf, argc - first_opt, argv + first_opt, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    heap_huge_pages(argv);
    char path[1024];
    config_get_string(&g_cfg.logfile, path, sizeof(path));
    if (log_open(path) != 0) {
        fprintf(stderr, "Can't open the log file %s: %s\n", path, strerror(errno));
        return 1;
    }
    config_get_string(&g_cfg.dir, path, sizeof(path));
    if (path[0] && chdir(path) != 0) {
        log_warning("Can't chdir to '%s': %s", path, strerror(errno));
        return 1;
    }

    /* Signals: blocked in every thread (the workers inherit the mask), taken by sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* as Redis: a closed terminal does not stop the server */

    ssize_t el = readlink("/proc/self/exe", g_srv.executable, sizeof(g_srv.executable) - 1);
    if (el > 0)
        g_srv.executable[el] = 0;
    adjust_open_files_limit();
    make_run_id();
    g_srv.start_ms = server_now_ms();
    pthread_mutex_init(&g_srv.clients_lock, NULL);
    cmd_init();

    mnemo_config mc;
    mnemo_config_init(&mc);
    mc.databases = (unsigned)CFG(databases);
    mc.shards = (unsigned)CFG(shards);
    mc.hz = (unsigned)CFG(hz);
    mc.maxmemory = (uint64_t)CFG(maxmemory);
    mc.eviction_policy = (int)CFG(maxmemory_policy);
    mc.evict_high_pct = (unsigned)CFG(maxmemory_high_pct);
    mc.evict_low_pct = (unsigned)CFG(maxmemory_low_pct);
    if (mc.evict_low_pct > mc.evict_high_pct) {
        log_warning("maxmemory-low-watermark (%u) must not be above maxmemory-high-watermark "
                    "(%u)", mc.evict_low_pct, mc.evict_high_pct);
        return 1;
    }
    mc.clock = cmd_store_clock;
    mc.compression = CFG(compression) != 0;
    mc.compress_min = (size_t)CFG(compression_threshold);
    /* Keyspace notifications: expired/evicted come from the hook; deletes are captured only
     * while DEL asks (notify.h). With notifications off the hook returns after one load. */
    mc.hook = notify_hook;
    mc.hook_events = MNEMO_EVENT_EXPIRE | MNEMO_EVENT_EVICT | MNEMO_EVENT_DEL;
    srv_persist_configure(&mc);
    if (srv_persist_on)
        log_notice("Persistence on: loading %s/%s (%s)", mc.persist->dir, mc.persist->name,
                   mc.persist->mode == MNEMO_PERSIST_SNAPSHOTS ? "snapshots only"
                   : mc.persist->fsync == MNEMO_FSYNC_ALWAYS   ? "log, appendfsync always"
                   : mc.persist->fsync == MNEMO_FSYNC_EVERYSEC ? "log, appendfsync everysec"
                                                               : "log, appendfsync no");
    g_srv.databases = mc.databases;
    g_srv.db_swaps = calloc(mc.databases, sizeof(*g_srv.db_swaps));
    if (!g_srv.db_swaps) {
        log_warning("out of memory");
        return 1;
    }
    if (!mc.maxmemory) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        log_warning("No maxmemory limit is set: the store will grow until this machine's %.1f "
                    "GiB of memory run out. Set maxmemory (e.g. 'maxmemory 4gb') to bound it.",
                    pages > 0 && page > 0 ? (double)pages * (double)page / (1 << 30) : 0.0);
    } else {
        log_notice("maxmemory %llu bytes, policy %s, eviction from %u%% down to %u%%",
                   (unsigned long long)mc.maxmemory, mnemo_policy_name(mc.eviction_policy),
                   mc.evict_high_pct, mc.evict_low_pct);
    }

    log_notice("mnemo-server %s starting, pid=%d, %lld worker threads, %u databases",
               MNEMO_VERSION_STRING, (int)getpid(), CFG(threads), mc.databases);
    if (pubsub_init((unsigned)CFG(threads)) != 0) {
        log_warning("Can't set up pub/sub: out of memory");
        return 1;
    }
    if (CFG(io_engine) == IO_ENGINE_URING) {
        char why[256];
        if (uring_probe(why, sizeof(why)) != 0) {
            log_warning("io-engine uring is not available (%s): using epoll", why);
            atomic_store(&g_cfg.io_engine, IO_ENGINE_EPOLL);
        }
    }
    log_notice("I/O engine: %s", CFG(io_engine) == IO_ENGINE_URING ? "io_uring" : "epoll");
    if (workers_init((unsigned)CFG(threads)) != 0)
        return 1;
    config_get_string(&g_cfg.pidfile, path, sizeof(path));
    if (path[0]) {
        FILE *pf = fopen(path, "w");
        if (pf) {
            fprintf(pf, "%d\n", (int)getpid());
            fclose(pf);
        }
    }
    config_apply = apply_setting;
    /* With persistence, the directory is loaded while the listeners already accept, as in
     * Redis: a command not flagged CMD_LOADING gets -LOADING, INFO shows the progress. The
     * workers read the store only once g_srv.loading is clear (srv_store()). Without
     * persistence the store opens at once, before anyone can connect. */
    int load_while_serving = srv_persist_on;
    if (load_while_serving) {
        g_srv.load_start_ms = server_now_ms();
        atomic_store(&g_srv.loading, 1);
        if (workers_start() != 0)
            return 1;
    }
    mnemo_store *store = NULL;
    int rc = mnemo_store_open(&mc, &store);
    if (rc != MNEMO_OK) {
        log_warning("Can't open the store: %s", mnemo_strerror(rc));
        if (rc == MNEMO_ECORRUPT)
            log_warning("Fatal error loading the persistence files: exiting. Inspect them "
                        "with mnemo-check, repair with mnemo-check --fix.");
        if (load_while_serving)
            workers_stop();
        if (path[0])
            unlink(path);
        return 1;
    }
    g_srv.store = store;
    atomic_store_explicit(&g_srv.loading, 0, memory_order_release);
    if (!load_while_serving && workers_start() != 0)
        return 1;
    log_notice("Ready to accept connections");

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        log_notice("Received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    workers_stop();
    srv_persist_shutdown();
    mnemo_store_close(g_srv.store); /* writes and syncs the log (its callback sees workers) */
    workers_free();
    pubsub_free();
    mnemo_store_free(g_srv.store);
    if (path[0])
        unlink(path);
    log_notice("mnemo is now ready to exit, bye bye...");
    return 0;
}

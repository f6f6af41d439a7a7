/* srv_persist.c — see srv_persist.h. */
#include "server/srv_persist.h"
#include "server/uring.h"

#include <inttypes.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/cmd.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/reply.h"
#include "server/server.h"
#include "server/worker.h"

#define ST srv_store() /* NULL while loading: see server.h */
#define SAVE_MAX_POINTS 16
#define SAVE_RETRY_MS 5000 /* after a failed snapshot, as Redis's CONFIG_BGSAVE_RETRY_DELAY */

_Atomic int srv_persist_on;

static mnemo_persist_config pcfg;
static char pdir[PATH_MAX], pname[256];

static void persist_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    log_msg(level, "%s", msg);
}

/* The worker leading a sync on this thread (srv_persist_worker_tick), NULL on others. */
static _Thread_local worker *syncing_worker;

/* Wakes every worker but `self` that waits for an LSN up to `lsn` (UINT64_MAX: any). */
static void wake_workers(const worker *self, uint64_t lsn)
{
    for (unsigned i = 0; i < g_srv.nworkers; i++) {
        worker *w = &g_srv.workers[i];
        if (w == self)
            continue;
        uint64_t want = atomic_load(&w->wait_lsn);
        if (want && want <= lsn && atomic_compare_exchange_strong(&w->wait_lsn, &want, 0))
            worker_wake(w);
    }
}

/* Whoever synced (a worker leading the group commit, or the log thread): wake every other
 * worker that waits for an LSN now durable. */
static void on_durable(void *ctx, uint64_t lsn)
{
    (void)ctx;
    wake_workers(syncing_worker, lsn);
}

/* The loading threads: how far the load is (INFO persistence while loading). */
static _Atomic uint64_t load_done, load_total;

static void on_load_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    atomic_store_explicit(&load_total, total, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&load_done, memory_order_relaxed);
    while (cur < done && !atomic_compare_exchange_weak(&load_done, &cur, done)) {
    }
}

void srv_persist_configure(mnemo_config *cfg)
{
    char save[1024];
    config_get_string(&g_cfg.save, save, sizeof(save));
    char dirname[PATH_MAX / 2];
    config_get_string(&g_cfg.appenddirname, dirname, sizeof(dirname));
    config_get_string(&g_cfg.appendfilename, pname, sizeof(pname));
    /* main() has already changed into `dir`: the directory is relative to it. */
    snprintf(pdir, sizeof(pdir), "%s", dirname[0] ? dirname : ".");
    mnemo_persist_config_init(&pcfg);
    pcfg.dir = pdir;
    pcfg.name = pname[0] ? pname : "appendonly.aof";
    pcfg.mode = CFG(appendonly) ? MNEMO_PERSIST_LOG : MNEMO_PERSIST_SNAPSHOTS;
    pcfg.fsync = (mnemo_fsync)CFG(appendfsync);
    pcfg.async_commit = 1;
    pcfg.rewrite_percentage = (unsigned)CFG(auto_aof_rewrite_percentage);
    pcfg.rewrite_min_size = (uint64_t)CFG(auto_aof_rewrite_min_size);
    pcfg.on_durable = on_durable;
    pcfg.log = persist_log;
    pcfg.load_progress = on_load_progress;
    pcfg.load_key_delay_us = (unsigned)CFG(key_load_delay);
    /* appendonly no and no save schedule: in memory only, the directory is not touched. */
    atomic_store(&srv_persist_on, CFG(appendonly) || save[0]);
    if (atomic_load(&srv_persist_on))
        cfg->persist = &pcfg;
}

static _Atomic int64_t last_switch_try_ms;
/* Serialises CONFIG SET appendonly / save (workers run them concurrently): pcfg and attach. */
static pthread_mutex_t apply_mu = PTHREAD_MUTEX_INITIALIZER;

/* Attaches persistence to the running store in `mode`. Returns a mnemo_status. */
static int attach(mnemo_persist_mode mode)
{
    pcfg.mode = mode;
    pcfg.fsync = (mnemo_fsync)CFG(appendfsync);
    log_notice("Persistence on at run time: %s/%s (%s)", pcfg.dir, pcfg.name,
               mode == MNEMO_PERSIST_LOG ? "appendonly yes" : "snapshots only");
    int rc = mnemo_persist_attach(ST, &pcfg);
    mnemo_persist_info pi;
    if (mnemo_persist_info_get(ST, &pi) == MNEMO_OK && pi.enabled)
        atomic_store(&srv_persist_on, 1);
    return rc;
}

int srv_persist_apply(const char *name, char *err, size_t errlen)
{
    int rc = MNEMO_OK;
    pthread_mutex_lock(&apply_mu);
    if (strcasecmp(name, "appendonly") == 0) {
        mnemo_persist_mode want = CFG(appendonly) ? MNEMO_PERSIST_LOG : MNEMO_PERSIST_SNAPSHOTS;
        last_switch_try_ms = server_now_ms();
        if (!atomic_load(&srv_persist_on))
            rc = want == MNEMO_PERSIST_LOG ? attach(want) : MNEMO_OK;
        else
            rc = mnemo_persist_set_mode(ST, want);
    } else if (strcasecmp(name, "save") == 0) {
        char save[1024];
        config_get_string(&g_cfg.save, save, sizeof(save));
        if (save[0] && !atomic_load(&srv_persist_on))
            rc = attach(MNEMO_PERSIST_SNAPSHOTS);
    }
    pthread_mutex_unlock(&apply_mu);
    if (rc != MNEMO_OK) {
        snprintf(err, errlen, "persistence: %s (see the server log)", mnemo_strerror(rc));
        return -1;
    }
    return 0;
}

void srv_persist_fsync_changed(void)
{
    if (atomic_load(&srv_persist_on) && ST)
        mnemo_persist_set_fsync(ST, (mnemo_fsync)CFG(appendfsync));
}

int srv_persist_parse_save(const char *s, long long (*pairs)[2], int max, char *norm,
                           size_t cap)
{
    char **w;
    int n = config_split(s, &w);
    if (n < 0 || n % 2) {
        if (n >= 0)
            config_free_words(w, n);
        return 0;
    }
    size_t len = 0;
    norm[0] = 0;
    int ok = 1;
    for (int i = 0; i < n && ok; i += 2) {
        char *e1, *e2;
        long long secs = strtoll(w[i], &e1, 10), changes = strtoll(w[i + 1], &e2, 10);
        if (*e1 || *e2 || !*w[i] || !*w[i + 1] || secs < 1 || changes < 0 ||
            i / 2 >= SAVE_MAX_POINTS) {
            ok = 0;
            break;
        }
        if (pairs && i / 2 < max) {
            pairs[i / 2][0] = secs;
            pairs[i / 2][1] = changes;
        }
        len += (size_t)snprintf(norm + len, cap > len ? cap - len : 0, "%s%lld %lld",
                                i ? " " : "", secs, changes);
    }
    config_free_words(w, n);
    return ok && len < cap ? n / 2 + 1 : 0;
}

/* ---- holding replies until durable ------------------------------------------------------- */

static void held_add(worker *w, conn *c)
{
    if (c->held)
        return;
    c->held = 1;
    w->nheld++;
    c->hprev = NULL;
    c->hnext = w->held;
    if (w->held)
        w->held->hprev = c;
    w->held = c;
}

static void held_remove(worker *w, conn *c)
{
    if (!c->held)
        return;
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        w->held = c->hnext;
    if (c->hnext)
        c->hnext->hprev = c->hprev;
    c->held = 0;
    w->nheld--;
    c->hprev = c->hnext = NULL;
}

void srv_persist_after_read(conn *c)
{
    int ls = mnemo_log_state(ST);
    if (ls == MNEMO_LOGSTATE_OFF)
        return;
    /* While the log is starting, nothing after its fork point is recoverable before its base
     * snapshot is in the manifest (the durable LSN waits for it): replies are held as under
     * always, whatever the policy. */
    if (CFG(appendfsync) != MNEMO_FSYNC_ALWAYS && ls != MNEMO_LOGSTATE_STARTING) {
        c->w->log_dirty = 1;
        return;
    }
    uint64_t lsn = mnemo_log_lsn(ST, MNEMO_LSN_APPENDED);
    if (lsn <= mnemo_log_lsn(ST, MNEMO_LSN_DURABLE))
        return;
    if (c->nholds == 0) {
        c->rel_off = c->osent;
        c->nholds = 1;
    } else if (c->nholds == 1) {
        c->nholds = 2;
    }
    /* Two marks at most: the second moves forward, the first never does, so a client that
     * keeps pipelining still sees its oldest replies leave after the next fsync. */
    c->hold_lsn[c->nholds - 1] = lsn;
    c->hold_end[c->nholds - 1] = c->out.len;
    held_add(c->w, c);
}

void srv_persist_conn_closed(conn *c)
{
    held_remove(c->w, c);
}

/* Releases the replies whose LSN is durable; the lowest LSN still waited for (0: none) goes
 * to w->wait_lsn for the durable callback. */
static void release_held(worker *w)
{
    for (;;) {
        uint64_t durable = mnemo_log_lsn(ST, MNEMO_LSN_DURABLE);
        uint64_t min_wait = 0;
        conn *next;
        for (conn *c = w->held; c; c = next) {
            next = c->hnext;
            int released = 0;
            while (c->nholds && c->hold_lsn[0] <= durable) {
                c->rel_off = c->hold_end[0];
                c->hold_lsn[0] = c->hold_lsn[1];
                c->hold_end[0] = c->hold_end[1];
                c->nholds--;
                released = 1;
            }
            if (!c->nholds)
                held_remove(w, c);
            else if (!min_wait || c->hold_lsn[0] < min_wait)
                min_wait = c->hold_lsn[0];
            if (released)
                conn_flush_later(c);
        }
        atomic_store(&w->wait_lsn, min_wait);
        /* The log thread may have advanced before it could see wait_lsn: look again. */
        if (!min_wait || mnemo_log_lsn(ST, MNEMO_LSN_DURABLE) < min_wait)
            return;
    }
}

/* Whether the commit delay is worth its cost (see srv_persist_worker_tick()): only where
 * slow syncs take a noticeable share of the time. The delay gathers more requests into each
 * sync, so that fewer syncs meet a slow one; but while it gathers, the disk idles and the
 * clients wait. Measured with one worker and 50 clients: where about 1 % of fdatasyncs took
 * over a millisecond (3.4 % of the time spent in them), it took p99 from 2.5-3.0 to 2.0-2.2
 * ms; where 0.06-0.13 % did (0.4 % of the time), it cost throughput (77-81k against 82-97k
 * SET/s without it) for no better p99 (docs/BENCHMARKS.md "The commit delay follows the
 * disk"). So under `commit-delay auto` (the default) the log's time in slow fdatasyncs
 * (mnemo_persist_info) is read once a second: the delay is on for the next second where it
 * was at least SLOW_SHARE_ON of the second, off again below SLOW_SHARE_OFF. */
#define SLOW_SHARE_ON 100 /* 1 %, in units of 1/10000 */
#define SLOW_SHARE_OFF 30 /* 0.3 % */

static _Atomic int64_t slow_since_ms;
static _Atomic uint64_t slow_us_before; /* as read at slow_since_ms */
static _Atomic int delay_wanted;

static void follow_slow_syncs(void)
{
    int64_t now = server_now_ms(), since = atomic_load_explicit(&slow_since_ms,
                                                                memory_order_relaxed);
    if (now - since < 1000 || !atomic_compare_exchange_strong(&slow_since_ms, &since, now))
        return;
    mnemo_persist_info pi;
    if (mnemo_persist_info_get(ST, &pi) != MNEMO_OK)
        return;
    uint64_t us = pi.slow_fsync_us - atomic_exchange(&slow_us_before, pi.slow_fsync_us);
    uint64_t share = us * 10000u / ((uint64_t)(now - since) * 1000u);
    if (share >= SLOW_SHARE_ON)
        atomic_store(&delay_wanted, 1);
    else if (share < SLOW_SHARE_OFF)
        atomic_store(&delay_wanted, 0);
}

static int commit_delay_on(void)
{
    long long set = CFG(commit_delay);
    return set == COMMIT_DELAY_AUTO ? atomic_load_explicit(&delay_wanted, memory_order_relaxed)
                                    : set == COMMIT_DELAY_YES;
}

/* Under always, the worker with replies waiting leads the group commit: it writes and syncs
 * what every worker appended, in its own thread, as Redis's event loop does before it
 * replies. If another worker's sync is running, it waits for that one and then syncs what
 * is left (unless that one covered it): like Redis's loop during an fsync, it reads nothing
 * meanwhile, so its clients' next requests gather into one batch instead of trickling into
 * many small ones, each waking it (measured: 0.27 against 0.04 epoll_waits per SET). */
static void lead_sync(worker *w)
{
    if (mnemo_log_state(ST) != MNEMO_LOGSTATE_ON ||
        mnemo_log_lsn(ST, MNEMO_LSN_DURABLE) >= mnemo_log_lsn(ST, MNEMO_LSN_APPENDED))
        return;
    syncing_worker = w;
    (void)mnemo_log_sync(ST, 1); /* an error is logged by the journal; the log thread retries */
    syncing_worker = NULL;
    follow_slow_syncs();
}

/* The worker gathering requests before it leads a sync (NULL: none). */
static _Atomic(worker *) gathering;

void srv_persist_worker_tick(worker *w)
{
    if (w->log_dirty) {
        w->log_dirty = 0;
        if (mnemo_log_flush(ST) != MNEMO_OK)
            log_warning("Error writing the append-only log (see previous messages)");
    }
    /* Under load, a round's sync first waits for one batched wait (uring_wait()), like a
     * commit delay: about 1 % of fdatasyncs took over a millisecond on the disk measured,
     * Redis's as mnemo's, so fewer syncs each covering more requests meet fewer of the slow
     * ones, and those set p99 (docs/BENCHMARKS.md "Commit delay"). One worker gathers at a
     * time; the others' replies wait for its sync instead of syncing on their own. */
    if (w->commit_deferred) {
        w->commit_deferred = 0;
        if (w->held)
            lead_sync(w);
        atomic_store(&gathering, NULL);
        /* The others with replies still held, whether that sync covered them or not (then
         * one of them leads the next). */
        wake_workers(w, UINT64_MAX);
    }
    release_held(w); /* publishes wait_lsn before `gathering` is read below */
    if (!w->held || CFG(appendfsync) != MNEMO_FSYNC_ALWAYS || atomic_load(&gathering))
        return; /* a gatherer that finishes after this look sees wait_lsn and wakes us */
    worker *none = NULL;
    if (!w->ue || atomic_load_explicit(&g_srv.shutdown, memory_order_relaxed) ||
        !commit_delay_on() || !uring_commit_defer(w)) {
        lead_sync(w);
        release_held(w);
    } else if (atomic_compare_exchange_strong(&gathering, &none, w)) {
        w->commit_deferred = 1;
    } /* else another worker just began to gather: its sync, or its wake-up, comes */
}

/* ---- the save schedule, commands, INFO ------------------------------------------------------ */

static int64_t last_bgsave_try_ms;

void srv_persist_cron(int64_t now_ms)
{
    char save[1024], norm[1024];
    long long pts[SAVE_MAX_POINTS][2];
    config_get_string(&g_cfg.save, save, sizeof(save));
    int n = save[0] ? srv_persist_parse_save(save, pts, SAVE_MAX_POINTS, norm, sizeof(norm)) - 1
                    : 0;
    mnemo_persist_info pi;
    if (mnemo_persist_info_get(ST, &pi) != MNEMO_OK || pi.snapshot_in_progress)
        return;
    /* appendonly yes whose switch-on failed (its snapshot did): try again, as Redis does. */
    if (CFG(appendonly) && pi.enabled && pi.log_state == MNEMO_LOGSTATE_OFF &&
        now_ms - atomic_load(&last_switch_try_ms) >= SAVE_RETRY_MS) {
        atomic_store(&last_switch_try_ms, now_ms);
        log_notice("appendonly yes: starting the log again");
        mnemo_persist_set_mode(ST, MNEMO_PERSIST_LOG);
        return;
    }
    if (n <= 0)
        return;
    if (!pi.last_snapshot_ok && now_ms - last_bgsave_try_ms < SAVE_RETRY_MS)
        return;
    for (int i = 0; i < n; i++) {
        if ((long long)pi.changes_since_save >= pts[i][1] && pts[i][1] > 0 &&
            now_ms - pi.last_snapshot_ms >= pts[i][0] * 1000) {
            log_notice("%lld changes in %lld seconds. Saving...", pts[i][1], pts[i][0]);
            last_bgsave_try_ms = now_ms;
            mnemo_snapshot(ST, 0);
            return;
        }
    }
}

/* INFO's loading fields (Redis's names; loading_rdb_used_mem is not tracked). */
static int loading_info(char *buf, size_t cap, int64_t now)
{
    if (!atomic_load(&g_srv.loading))
        return snprintf(buf, cap, "loading:0\r\nasync_loading:0\r\n");
    uint64_t done = atomic_load(&load_done), total = atomic_load(&load_total);
    double frac = total ? (double)done / (double)total : 0.0;
    double secs = (double)(now - g_srv.load_start_ms) / 1000.0;
    long long eta = done && total ? (long long)(secs * (double)(total - done) / (double)done)
                                  : 1; /* Redis says 1 before it knows */
    return snprintf(buf, cap,
                    "loading:1\r\nasync_loading:0\r\nloading_start_time:%lld\r\n"
                    "loading_total_bytes:%llu\r\nloading_loaded_bytes:%llu\r\n"
                    "loading_loaded_perc:%.2f\r\nloading_eta_seconds:%lld\r\n",
                    (long long)(g_srv.load_start_ms / 1000), (unsigned long long)total,
                    (unsigned long long)done, frac * 100.0, eta);
}

size_t srv_persist_info(char *buf, size_t cap)
{
    mnemo_persist_info pi;
    memset(&pi, 0, sizeof(pi));
    mnemo_persist_info_get(ST, &pi); /* NULL while loading: the fields stay 0 */
    int64_t now = server_now_ms();
    long long cur = -1; /* the running snapshot's age is not tracked */
    int n0 = loading_info(buf, cap, now);
    if (n0 < 0 || (size_t)n0 >= cap)
        return 0;
    buf += n0;
    cap -= (size_t)n0;
    int n = snprintf(
        buf, cap,
        "rdb_changes_since_last_save:%llu\r\n"
        "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
        "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\n"
        "rdb_saves:%llu\r\naof_enabled:%d\r\naof_rewrite_in_progress:%d\r\n"
        "aof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:%lld\r\n"
        "aof_current_rewrite_time_sec:%lld\r\naof_last_bgrewrite_status:%s\r\n"
        "aof_rewrites:%llu\r\naof_last_write_status:%s\r\n",
        (unsigned long long)pi.changes_since_save, pi.snapshot_in_progress,
        (long long)(pi.last_snapshot_ms / 1000), pi.last_snapshot_ok ? "ok" : "err",
        pi.snapshots ? (long long)(pi.last_snapshot_duration_ms / 1000) : -1LL, cur,
        (unsigned long long)pi.snapshots, pi.log_state != MNEMO_LOGSTATE_OFF,
        pi.snapshot_in_progress,
        pi.snapshots ? (long long)(pi.last_snapshot_duration_ms / 1000) : -1LL, cur,
        pi.last_snapshot_ok ? "ok" : "err", (unsigned long long)pi.snapshots,
        pi.last_write_ok ? "ok" : "err");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    if (pi.enabled) {
        int m = snprintf(buf + n, cap - (size_t)n,
                         "aof_current_size:%llu\r\naof_base_size:%llu\r\n"
                         "aof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n"
                         "aof_last_fsync_ago_ms:%lld\r\nlatest_fork_usec:%lld\r\n"
                         "mnemo_appendfsync:%s\r\nmnemo_log_state:%s\r\n"
                         "mnemo_log_appended_lsn:%llu\r\n"
                         "mnemo_log_written_lsn:%llu\r\nmnemo_log_durable_lsn:%llu\r\n"
                         "mnemo_loaded_keys:%llu\r\nmnemo_load_time_ms:%lld\r\n"
                         "mnemo_fsyncs:%llu\r\nmnemo_slow_fsync_ms:%llu\r\n",
                         (unsigned long long)pi.log_bytes, (unsigned long long)pi.base_bytes,
                         pi.last_fsync_ms ? (long long)(now - pi.last_fsync_ms) : -1LL,
                         (long long)pi.last_fork_us,
                         pi.fsync == MNEMO_FSYNC_ALWAYS     ? "always"
                         : pi.fsync == MNEMO_FSYNC_EVERYSEC ? "everysec"
                                                            : "no",
                         pi.log_state == MNEMO_LOGSTATE_ON         ? "on"
                         : pi.log_state == MNEMO_LOGSTATE_STARTING ? "starting"
                                                                   : "off",
                         (unsigned long long)pi.appended_lsn, (unsigned long long)pi.written_lsn,
                         (unsigned long long)pi.durable_lsn,
                         (unsigned long long)pi.loaded_keys, (long long)pi.load_ms,
                         (unsigned long long)pi.fsyncs,
                         (unsigned long long)(pi.slow_fsync_us / 1000u));
        if (m > 0 && (size_t)(n + m) < cap)
            n += m;
    }
    return (size_t)(n0 + n);
}

void srv_persist_shutdown(void)
{
    int want = atomic_load(&g_srv.shutdown_save);
    char save[16];
    config_get_string(&g_cfg.save, save, sizeof(save));
    if (!atomic_load(&srv_persist_on) || want < 0 || (want == 0 && !save[0]))
        return;
    log_notice("Saving the final snapshot before exiting.");
    int rc = mnemo_snapshot(ST, 1);
    if (rc != MNEMO_OK)
        log_warning("Error trying to save the snapshot: %s", mnemo_strerror(rc));
    else
        log_notice("Snapshot saved on disk");
}

static int persist_available(conn *c)
{
    if (atomic_load(&srv_persist_on))
        return 1;
    reply_err(c, "ERR persistence is off (set appendonly yes or a save schedule)");
    return 0;
}

static void cmd_save(conn *c, int argc, resp_arg *argv)
{
    if (!persist_available(c))
        return;
    int rc = mnemo_snapshot(ST, 1);
    if (rc == MNEMO_OK)
        reply_ok(c);
    else if (rc == MNEMO_EBUSY)
        reply_err(c, "ERR Background save already in progress");
    else
        reply_err(c, "ERR snapshot failed (see the server log)");
}

static void cmd_bgsave(conn *c, int argc, resp_arg *argv)
{
    if (!persist_available(c))
        return;
    if (argc > 2 || (argc == 2 && !arg_eq(&argv[1], "SCHEDULE"))) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    int rc = mnemo_snapshot(ST, 0);
    if (rc == MNEMO_OK)
        reply_simple(c, argv[0].len == 12 ? "Background append only file rewriting started"
                                          : "Background saving started");
    else if (rc == MNEMO_EBUSY)
        reply_err(c, "ERR Background save already in progress");
    else
        reply_err(c, "ERR snapshot failed (see the server log)");
}

static void cmd_lastsave(conn *c, int argc, resp_arg *argv)
{
    mnemo_persist_info pi;
    memset(&pi, 0, sizeof(pi));
    mnemo_persist_info_get(ST, &pi);
    reply_int(c, pi.enabled ? pi.last_snapshot_ms / 1000 : g_srv.start_ms / 1000);
}

#define AD (CMD_ADMIN | CMD_NOSCRIPT)
const command cmd_persist_table[] = {
    {"save", 1, AD | CMD_NOMULTI, 0, 0, 0, cmd_save, "server", "1.0.0",
     "Synchronously saves the database(s) to disk.", NULL, "@admin @slow @dangerous", NULL},
    {"bgsave", -1, AD | CMD_NOMULTI, 0, 0, 0, cmd_bgsave, "server", "1.0.0",
     "Asynchronously saves the database(s) to disk.", "[SCHEDULE]", "@admin @slow @dangerous",
     NULL},
    {"bgrewriteaof", 1, AD | CMD_NOMULTI, 0, 0, 0, cmd_bgsave, "server", "1.0.0",
     "Asynchronously rewrites the append-only file to disk.", NULL, "@admin @slow @dangerous",
     NULL},
    {"lastsave", 1, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_lastsave, "server",
     "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", NULL,
     "@admin @fast @dangerous", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

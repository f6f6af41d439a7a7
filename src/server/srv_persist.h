/*
 * srv_persist.h — the server's side of persistence: settings → library configuration,
 * commits (replies held until durable under appendfsync always), the save schedule, SAVE /
 * BGSAVE / BGREWRITEAOF / LASTSAVE, INFO persistence.
 *
 * Commit protocol (the store is opened with async_commit = 1, so library calls never block
 * on the disk and a worker keeps serving other connections during an fsync):
 *   - always:   after a connection's read batch, if the log holds records that are not yet
 *               durable (appended LSN > durable LSN), the replies produced so far are held:
 *               conn.holds records (output offset, LSN). The log thread's durable callback
 *               wakes every worker waiting for an LSN it reached (per-worker wait_lsn + its
 *               eventfd); the worker then releases the replies whose LSN is durable. Replies
 *               to reads are held too when writes are in flight, so no client ever sees a
 *               value that a crash could take back.
 *   - everysec / no: at the end of each event batch the worker hands the log to the kernel
 *               (one write(2) for every connection's changes) before any reply is sent.
 * Nothing here runs when persistence is off (one flag test per read batch).
 */
#ifndef MNEMO_SERVER_SRV_PERSIST_H
#define MNEMO_SERVER_SRV_PERSIST_H

#include <stddef.h>

#include "mnemo.h"

struct conn;
struct worker;

/* 1 when the store has persistence: started with appendonly yes or a save schedule, or given
 * one at run time by CONFIG SET appendonly yes / save (it then stays until exit). */
extern _Atomic int srv_persist_on;

/* Fills the library's persistence settings from the configuration; sets cfg->persist when
 * persistence is on. Call once before opening the store. */
void srv_persist_configure(mnemo_config *cfg);

/* CONFIG SET appendonly / save: switches the log on or off (mnemo_persist_set_mode), or
 * attaches persistence to a store started in memory only (appendonly yes: with the log;
 * a save schedule: snapshots only). Returns 0, or -1 with a message in err. */
int srv_persist_apply(const char *name, char *err, size_t errlen);

/* CONFIG SET appendfsync: applies the new policy to the open store. */
void srv_persist_fsync_changed(void);

/* Parses a save schedule ("" or "<seconds> <changes> ..."); fills up to max pairs (may be
 * NULL) and a normalised spelling. Returns the number of pairs + 1, or 0 if invalid. */
int srv_persist_parse_save(const char *s, long long (*pairs)[2], int max, char *norm,
                           size_t cap);

/* After a connection's read batch (conn.c). */
void srv_persist_after_read(struct conn *c);

/* After each event batch, before replies are sent (worker.c): writes the log out
 * (everysec / no) and releases the replies whose changes became durable (always). */
void srv_persist_worker_tick(struct worker *w);

/* A connection closes: it leaves its worker's held list. */
void srv_persist_conn_closed(struct conn *c);

/* Worker 0's cron: the save schedule. */
void srv_persist_cron(int64_t now_ms);

/* The INFO persistence section's fields. Returns the length written. */
size_t srv_persist_info(char *buf, size_t cap);

/* At shutdown, before the store is closed: a snapshot if asked (SHUTDOWN SAVE) or if a save
 * schedule is set and SHUTDOWN NOSAVE was not given. */
void srv_persist_shutdown(void);

/* SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE: cmd_persist_table in cmd.h. */

#endif

/*
 * log.h — the server's log: one line per event, Redis's format, to a file or stdout.
 *
 *   12345:M 23 Nov 2026 15:38:02.123 * Ready to accept connections
 *   pid  role  time (ms)            level  text
 *
 * Levels (loglevel setting), in Redis's order and with its markers: debug '.', verbose '-',
 * notice '*', warning '#'. A line is formatted into a local buffer and written with one
 * write(2) call, so lines from several threads never interleave (O_APPEND on a file). The
 * level is an atomic and may change at run time (CONFIG SET loglevel); the target is chosen
 * once at startup (log_open). Thread-safe.
 */
#ifndef MNEMO_SERVER_LOG_H
#define MNEMO_SERVER_LOG_H

enum { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3 };

/* Sends the log to `path` (appending), or to stdout for NULL or "". Returns 0, or -1 with errno
 * if the file cannot be opened (the log stays on stdout). */
int log_open(const char *path);

/* Sets / reads the least severe level that is written. */
void log_set_level(int level);
int log_get_level(void);

/* Writes one line at `level` (printf format, no newline needed). */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif

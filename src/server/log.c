/*
 * log.c — see log.h. The file descriptor is set once before the workers start and never
 * changes afterwards, so writers need no lock.
 */
#include "server/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDOUT_FILENO;
static _Atomic int log_level = LOG_NOTICE;

int log_open(const char *path)
{
    if (!path || !*path) {
        log_fd = STDOUT_FILENO;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    log_fd = fd;
    return 0;
}

void log_set_level(int level)
{
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int log_get_level(void)
{
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

void log_msg(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    if (level < log_get_level())
        return;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = (size_t)snprintf(line, sizeof(line), "%d:M ", (int)getpid());
    n += strftime(line + n, sizeof(line) - n, "%d %b %Y %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                          marks[level & 3]);
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, n);
    (void)w;
}

/* slow_fsync.c — an LD_PRELOAD shim for the integration tests: every fdatasync(2) takes
 * SLOW_FSYNC_USEC more (default 1500), as on a disk whose syncs are slow, so that a test can
 * see the server follow its disk (commit-delay auto). Built as build/libslow_fsync.so; not
 * part of mnemo. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int fdatasync(int fd)
{
    static int (*real)(int);
    static long usec = -1;
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (usec < 0) {
        const char *s = getenv("SLOW_FSYNC_USEC");
        usec = s ? atol(s) : 1500;
    }
    struct timespec ts = {usec / 1000000, (usec % 1000000) * 1000};
    nanosleep(&ts, NULL);
    return real(fd);
}

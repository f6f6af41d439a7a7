/* slow_fsync.c — an LD_PRELOAD shim for the integration tests: every fdatasync(2) takes
 * longer, as on a disk whose syncs are slow, so that a test can see the server follow its disk
 * (commit-delay auto). How much longer, in microseconds: the number in the file named by
 * SLOW_FSYNC_FILE, read at each call (so a test can make the disk fast again); none without
 * it. Built as build/libslow_fsync.so; not part of mnemo. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long extra_usec(void)
{
    const char *path = getenv("SLOW_FSYNC_FILE");
    long v = 0;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    long usec = extra_usec();
    if (usec > 0) {
        struct timespec ts = {usec / 1000000, (usec % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    return real(fd);
}

/* mapfile.c — see mapfile.h. */
#include "persist/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int mapfile_open(int dirfd, const char *name, int populate, int *fd_out, const uint8_t **data,
                 size_t *n)
{
    int fd = openat(dirfd, name, (fd_out ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *n = (size_t)sb.st_size;
    *data = NULL;
    if (*n) {
        void *m = mmap(NULL, *n, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (!populate)
            madvise(m, *n, MADV_SEQUENTIAL);
        *data = m;
    }
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    return 0;
}

void mapfile_close(const uint8_t *data, size_t n)
{
    if (data)
        munmap((void *)data, n);
}

/* manifest.c — see manifest.h. */
#include "persist/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "persist/logfmt.h"

void manifest_log_name(const char *name, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%" PRIu64 ".incr.mlog", name, seq);
}

void manifest_snap_name(const char *name, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%" PRIu64 ".base.msnap", name, seq);
}

static int format(const manifest *m, char *buf, size_t cap)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "mnemo-manifest 1\n");
    if (m->has_snapshot)
        n += (size_t)snprintf(buf + n, cap - n, "snapshot %s lsn %" PRIu64 " bytes %" PRIu64 "\n",
                              m->snapshot, m->snapshot_lsn, m->snapshot_bytes);
    for (int i = 0; i < m->nlogs && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "log %s first %" PRIu64 "\n", m->logs[i],
                              m->first[i]);
    if (n >= cap)
        return -1;
    n += (size_t)snprintf(buf + n, cap - n, "seq %" PRIu64 "\n", m->seq);
    if (n >= cap)
        return -1;
    uint32_t c = logfmt_check(buf, n);
    n += (size_t)snprintf(buf + n, cap - n, "check %08x\n", c);
    return n < cap ? (int)n : -1;
}

static int valid_file_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..") &&
           strlen(s) < MANIFEST_NAME_MAX;
}

int manifest_read(int dirfd, const char *name, manifest *m, char *why, size_t whylen)
{
    char path[MANIFEST_NAME_MAX + 16];
    snprintf(path, sizeof(path), "%s.manifest", name);
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    char buf[MANIFEST_MAX_LOGS * (MANIFEST_NAME_MAX + 40) + 1024];
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (len < 0) {
        errno = e;
        return -1;
    }
    buf[len] = 0;
    memset(m, 0, sizeof(*m));
    char *chk = strstr(buf, "\ncheck ");
    unsigned c;
    if (strncmp(buf, "mnemo-manifest 1\n", 17) != 0) {
        snprintf(why, whylen, "not a mnemo manifest (first line)");
        return -2;
    }
    if (!chk || sscanf(chk + 7, "%8x", &c) != 1 ||
        c != logfmt_check(buf, (size_t)(chk + 1 - buf))) {
        snprintf(why, whylen, "checksum line missing or wrong");
        return -2;
    }
    chk[1] = 0;
    int have_seq = 0;
    char *save, *line;
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char fname[MANIFEST_NAME_MAX];
        uint64_t a, b;
        if (strncmp(line, "mnemo-manifest", 14) == 0)
            continue;
        if (sscanf(line, "snapshot %255s lsn %" SCNu64 " bytes %" SCNu64, fname, &a, &b) == 3 &&
            valid_file_name(fname) && !m->has_snapshot) {
            m->has_snapshot = 1;
            strcpy(m->snapshot, fname);
            m->snapshot_lsn = a;
            m->snapshot_bytes = b;
        } else if (sscanf(line, "log %255s first %" SCNu64, fname, &a) == 2 &&
                   valid_file_name(fname) && m->nlogs < MANIFEST_MAX_LOGS &&
                   (m->nlogs == 0 ? a > 0 : a == 0 || a >= m->first[m->nlogs - 1])) {
            strcpy(m->logs[m->nlogs], fname);
            m->first[m->nlogs++] = a;
        } else if (sscanf(line, "seq %" SCNu64, &a) == 1) {
            m->seq = a;
            have_seq = 1;
        } else {
            snprintf(why, whylen, "unexpected line '%.80s'", line);
            return -2;
        }
    }
    /* No log line: a snapshots-only state (MNEMO_PERSIST_SNAPSHOTS); it needs the snapshot. */
    if (!have_seq || (m->nlogs == 0 && !m->has_snapshot)) {
        snprintf(why, whylen, "neither a snapshot nor a log segment, or no seq line");
        return -2;
    }
    return 0;
}

int manifest_write(int dirfd, const char *name, const manifest *m)
{
    char buf[MANIFEST_MAX_LOGS * (MANIFEST_NAME_MAX + 40) + 1024];
    int n = format(m, buf, sizeof(buf));
    if (n < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char tmp[MANIFEST_NAME_MAX + 32], path[MANIFEST_NAME_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.manifest.tmp", name);
    snprintf(path, sizeof(path), "%s.manifest", name);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, buf, (size_t)n);
    if (w != n || fsync(fd) != 0) {
        int e = w != n && w >= 0 ? ENOSPC : errno;
        close(fd);
        unlinkat(dirfd, tmp, 0);
        errno = e;
        return -1;
    }
    close(fd);
    if (renameat(dirfd, tmp, dirfd, path) != 0 || fsync(dirfd) != 0)
        return -1;
    return 0;
}

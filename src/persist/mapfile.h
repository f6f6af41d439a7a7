/*
 * mapfile.h — read-only file mappings for the loaders. (A module of its own because
 * <sys/mman.h> declares mlock(2), whose name the engine's lock type also uses.)
 */
#ifndef MNEMO_PERSIST_MAPFILE_H
#define MNEMO_PERSIST_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

/* Maps `name` (relative to dirfd) read-only. *data is NULL for an empty file. `populate`
 * faults every page in up front (for loaders that read all of it from several threads).
 * With fd_out, the file stays open read-write in *fd_out (for truncation); otherwise it is
 * closed. Returns 0 or -1 (errno). */
int mapfile_open(int dirfd, const char *name, int populate, int *fd_out, const uint8_t **data,
                 size_t *n);
void mapfile_close(const uint8_t *data, size_t n);

#endif

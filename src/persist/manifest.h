/*
 * manifest.h — the manifest: which snapshot and which log segments make up the state.
 *
 * A small text file, `<name>.manifest`, replaced atomically (written to a temporary file,
 * fsynced, renamed over the old one, directory fsynced), so at every instant the directory
 * holds exactly one valid manifest:
 *
 *   mnemo-manifest 1
 *   snapshot appendonly.aof.3.base.msnap lsn 1200 bytes 524288     (optional)
 *   log appendonly.aof.3.incr.mlog first 1201
 *   log appendonly.aof.4.incr.mlog first 5000       (any number; none: snapshots only)
 *   seq 5
 *   check 8c1f03aa
 *
 * `seq` is the next file number to use; `check` the low 32 bits of XXH3-64 over every byte
 * before the check line, in hex. A manifest names a snapshot, log segments, or both.
 * Segments are listed in LSN order and are contiguous: each starts where the previous one
 * ends. Not thread-safe by itself; persist.c serialises it.
 */
#ifndef MNEMO_PERSIST_MANIFEST_H
#define MNEMO_PERSIST_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_MAX_LOGS 64
#define MANIFEST_NAME_MAX 256

typedef struct manifest {
    int has_snapshot;
    char snapshot[MANIFEST_NAME_MAX];
    uint64_t snapshot_lsn;   /* the last LSN the snapshot contains */
    uint64_t snapshot_bytes;
    int nlogs;
    char logs[MANIFEST_MAX_LOGS][MANIFEST_NAME_MAX];
    uint64_t first[MANIFEST_MAX_LOGS];
    uint64_t seq;
} manifest;

/* Reads `<dirfd>/<name>.manifest`. Returns 0, 1 if it does not exist, -1 if it cannot be
 * read (errno) and -2 if it is malformed (a reason in why). */
int manifest_read(int dirfd, const char *name, manifest *m, char *why, size_t whylen);

/* Replaces the manifest atomically. Returns 0 or -1 (errno). */
int manifest_write(int dirfd, const char *name, const manifest *m);

/* File names for sequence number seq. */
void manifest_log_name(const char *name, uint64_t seq, char *out, size_t cap);
void manifest_snap_name(const char *name, uint64_t seq, char *out, size_t cap);

#endif

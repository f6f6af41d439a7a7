/*
 * compress.h — transparent LZ4 compression of values.
 *
 * A value of at least the store's threshold (mnemo_config.compress_min, 64 bytes by default)
 * is compressed when it is written, if compression is on and LZ4 makes it at least 1/8
 * smaller; the entry then carries ENT_COMPRESSED and its value bytes (entry.vlen of them) are
 *
 *   +------------------+-----------------------------------------------+
 *   | original length  | one LZ4 block (raw block format, no frame)    |
 *   | varint, 1-5 B    | vlen - (length of the varint) bytes           |
 *   +------------------+-----------------------------------------------+
 *
 * The original length comes first so that STRLEN and GETRANGE's clamping need no
 * decompression, and so that a reader knows how big a buffer to decompress into. The block
 * alone is what LZ4_compress_* produced; nothing else (no checksum: the value lives in memory).
 *
 * Readers never see this form. Every read path asks entry_value() for the logical value: a
 * plain entry's bytes as they are (one branch), or a compressed one's decompression into a
 * buffer of the calling thread. Decoding trusts nothing it reads: a malformed header or block
 * is MNEMO_ECORRUPT, never an overflow (LZ4_decompress_safe, bounded lengths).
 *
 * Writes that derive a value from the old one (APPEND, SETRANGE, INCR) read the logical value,
 * compute and store the result as a fresh value, which is compressed again if it qualifies.
 * Rename, copy, move, compaction and TTL changes copy the stored bytes and the flag as they
 * are.
 *
 * Per-thread buffers: decompressed values, values assembled from pieces before compression,
 * compressed output, and LZ4's compression state (16 KiB) belong to the calling thread,
 * allocated on first use and freed when the thread exits. Buffers above COMPRESS_KEEP bytes
 * are freed after the operation that needed them (compress_scratch_trim()), so one huge value
 * does not pin its size in every thread that ever touched it.
 */
#ifndef MNEMO_ENGINE_COMPRESS_H
#define MNEMO_ENGINE_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/entry.h"
#include "engine/shard.h"
#include "mnemo.h"

#define COMPRESS_MIN_DEFAULT 64u
#define COMPRESS_KEEP (256u * 1024)   /* per-thread buffers larger than this are not kept */
#define COMPRESS_HDR_MAX 5u           /* varint of a 32-bit length */
#define COMPRESS_MAX_RATIO 255u       /* LZ4 never expands more than ~255x (a 255-run per byte) */

/* ---- the codec: bytes in, bytes out, no store ---------------------------------------------- */

/* Compresses src[0..n) into dst, which has room for n bytes, if the result (header included)
 * is at most n - n/8 bytes. Returns the stored size, or 0 when compression does not save
 * enough (or n is 0 or above LZ4's input limit): store the value as it is. */
size_t compress_encode(const void *src, size_t n, uint8_t *dst);

/* Reads the original length from a stored value p[0..n). Returns 0, or -1 if the header is
 * malformed (runs past n, longer than 5 bytes, or claims more than the block could hold). */
int compress_orig_len(const uint8_t *p, size_t n, size_t *orig);

/* Decompresses the first `want` bytes (want <= the original length) of the stored value
 * p[0..n) into dst (room for `want` bytes). Returns 0, or -1 if the value is malformed. */
int compress_decode(const uint8_t *p, size_t n, uint8_t *dst, size_t want);

/* ---- per-thread buffers -------------------------------------------------------------------- */

enum { COMPRESS_BUF_READ, COMPRESS_BUF_JOIN, COMPRESS_BUF_OUT, COMPRESS_NBUF };

/* Buffer `which` of the calling thread, with room for at least n bytes (its old contents are
 * lost); NULL on allocation failure. Valid until the next call for the same buffer on this
 * thread, compress_scratch_trim() or compress_scratch_drop() of it. */
uint8_t *compress_scratch(int which, size_t n);

/* Frees this thread's buffers that are larger than COMPRESS_KEEP: at the end of an operation,
 * when none of them is in use any more. */
void compress_scratch_trim(void);

/* The same for buffer `which` alone: within an operation that still holds another one (a SET
 * with GET reads the old value while its new value waits, compressed, in COMPRESS_BUF_OUT). */
void compress_scratch_drop(int which);

/* ---- entries ------------------------------------------------------------------------------- */

/* The slow path of entry_value() / entry_value_len(): a compressed value. */
int compress_entry_value(const entry *e, size_t want, const uint8_t **p, size_t *len);
int compress_entry_len(const entry *e, size_t *len);

/*
 * The logical value of entry e: *p and *len receive e's own bytes for a plain entry, or, for
 * a compressed one, its first `want` bytes decompressed into this thread's READ buffer (valid
 * until the next decompression on this thread, under the same shard lock) and its original
 * length (so *len may exceed want). want = SIZE_MAX for the whole value.
 * Returns MNEMO_OK, MNEMO_ENOMEM or MNEMO_ECORRUPT.
 */
static inline int entry_value_prefix(const entry *e, size_t want, const uint8_t **p,
                                     size_t *len)
{
    if (__builtin_expect(!(e->flags & ENT_COMPRESSED), 1)) {
        *p = e->val;
        *len = e->vlen;
        return MNEMO_OK;
    }
    return compress_entry_value(e, want, p, len);
}

static inline int entry_value(const entry *e, const uint8_t **p, size_t *len)
{
    return entry_value_prefix(e, SIZE_MAX, p, len);
}

/* The logical length of e's value, without decompressing. MNEMO_OK or MNEMO_ECORRUPT. */
static inline int entry_value_len(const entry *e, size_t *len)
{
    if (__builtin_expect(!(e->flags & ENT_COMPRESSED), 1)) {
        *len = e->vlen;
        return MNEMO_OK;
    }
    return compress_entry_len(e, len);
}

/* ---- writes -------------------------------------------------------------------------------- */

/* Tries to compress the value v describes (any pieces, VSRC_AUTO or VSRC_PLAIN): on success
 * fills *out (which may be v) with a one-piece VSRC_LZ4 source in this thread's OUT buffer
 * and returns 1. Returns 0, *out untouched, when it does not save 1/8 or a buffer cannot be
 * had: the value is then stored as it is. The threshold is the caller's to check. */
int compress_vsrc(const vsrc *v, vsrc *out);

#endif

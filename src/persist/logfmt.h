/*
 * logfmt.h — the byte format of the append-only log (docs/on-disk-format.md is the reference).
 *
 * A log segment is a file header followed by records:
 *
 *   file header (32 B): "MNEMOLOG" | format u32 | kind u32 | first_lsn u64 | zero u32 | check u32
 *   record:             len u32 | lsn u64 | pcheck u32 | hcheck u32 | payload (len B)
 *
 * All integers little-endian. `check`/`hcheck` are the low 32 bits of XXH3-64 over the bytes
 * before them (header fields), `pcheck` the low 32 bits of XXH3-64 over the payload. Having a
 * separate header check lets recovery trust `len` before it reads the payload, so a flipped
 * length byte in the middle of a file is reported as corruption instead of being mistaken for
 * a record torn at the end of the file.
 *
 * LSNs (log sequence numbers) number records 1, 2, 3, ... without gaps across segments.
 * A record is one atomic unit: one or more operations, applied all or not at all. A payload
 * is a sequence of operations:
 *
 *   SET      1 | db v | version u64 | expire_at v | klen v | key | vlen v | value
 *   DEL      2 | db v | klen v | key
 *   EXPIRE   3 | db v | expire_at v (0 = persist) | klen v | key
 *   FLUSHDB  4 | db v
 *   FLUSHALL 5
 *   SWAPDB   6 | db v | db v
 *
 * (v = unsigned LEB128 varint, at most 10 bytes.) expire_at is absolute Unix ms, 0 = none.
 * Pure functions, no state: thread-safe.
 */
#ifndef MNEMO_PERSIST_LOGFMT_H
#define MNEMO_PERSIST_LOGFMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOG_MAGIC "MNEMOLOG"
#define LOG_FORMAT 1
#define LOG_FILE_HDR 32
#define LOG_REC_HDR 20
#define LOG_MAX_PAYLOAD ((uint32_t)0xfffffff0u)

enum { LOP_SET = 1, LOP_DEL = 2, LOP_EXPIRE = 3, LOP_FLUSHDB = 4, LOP_FLUSHALL = 5,
       LOP_SWAPDB = 6 };

/* A decoded operation: pointers into the payload. */
typedef struct lop {
    int type;
    uint32_t db, db2;
    uint64_t version;
    int64_t expire_at;
    const uint8_t *key, *val;
    size_t klen, vlen;
} lop;

/* A growable byte buffer. */
typedef struct lbuf {
    uint8_t *p;
    size_t len, cap;
} lbuf;

/* Makes room for n more bytes. Returns 0, or -1 (out of memory, buffer unchanged). */
int lbuf_reserve(lbuf *b, size_t n);
void lbuf_free(lbuf *b);

uint32_t logfmt_check(const void *p, size_t n);

/* 1 if `stored` is the check of p[0..n). Fuzzing builds (libFuzzer's convention,
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) accept any value, so that mutated inputs reach
 * the decoders behind the checksums. */
static inline int logfmt_check_ok(uint32_t stored, const void *p, size_t n)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)stored;
    (void)p;
    (void)n;
    return 1;
#else
    return stored == logfmt_check(p, n);
#endif
}

static inline void logfmt_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void logfmt_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t logfmt_get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t logfmt_get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static inline size_t logfmt_vlen(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *logfmt_vput(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a varint from [*p, end). Returns 0, or -1 if it is cut or longer than 10 bytes.
 * One-byte values (lengths, databases, "no expiry") take the inline path. */
int logfmt_vget_slow(const uint8_t **p, const uint8_t *end, uint64_t *v);
static inline int logfmt_vget(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (*p < end && **p < 0x80) {
        *v = **p;
        (*p)++;
        return 0;
    }
    return logfmt_vget_slow(p, end, v);
}

/* Encoded size of a SET op, and its encoder (returns the end). */
size_t lop_set_size(unsigned db, size_t klen, size_t vlen, int64_t expire_at);
uint8_t *lop_put_set(uint8_t *p, unsigned db, const void *key, size_t klen, const void *val,
                     size_t vlen, uint64_t version, int64_t expire_at);
/* Size and encoder of the other ops: DEL (key), EXPIRE (key, at), FLUSHDB (db), FLUSHALL,
 * SWAPDB (db, db2). Unused arguments are ignored. */
size_t lop_size(int type, unsigned db, unsigned db2, size_t klen, int64_t at);
uint8_t *lop_put(uint8_t *p, int type, unsigned db, unsigned db2, const void *key, size_t klen,
                 int64_t at);

/* Writes a record header for a payload at hdr + LOG_REC_HDR of `len` bytes. */
void logfmt_seal(uint8_t *hdr, uint32_t len, uint64_t lsn);

/* Writes a segment file header. */
void logfmt_file_header(uint8_t hdr[LOG_FILE_HDR], uint64_t first_lsn);

/* Checks a segment file header; *first_lsn receives its first LSN. Returns 0 or -1. */
int logfmt_parse_file_header(const uint8_t *p, size_t n, uint64_t *first_lsn);

/* Result of logfmt_next(). */
enum {
    LREC_OK = 0,     /* a whole, valid record */
    LREC_END = 1,    /* no bytes left */
    LREC_TORN = 2,   /* an incomplete or damaged last record: a crash while it was written */
    LREC_CORRUPT = 3 /* damage before the end of the file */
};

/* Examines the record at p (n bytes to the end of the file), expecting LSN `lsn` (0: any).
 * On LREC_OK, *payload / *plen / *used / *got_lsn describe it. `why` receives a short reason
 * for TORN and CORRUPT. */
int logfmt_next(const uint8_t *p, size_t n, uint64_t lsn, const uint8_t **payload,
                uint32_t *plen, size_t *used, uint64_t *got_lsn, const char **why);

/* Decodes the next op of a payload. Returns 1 (an op), 0 (end of payload), -1 (malformed). */
int lop_next(const uint8_t **p, const uint8_t *end, lop *o);

/* The `why` of an LREC_TORN that is only zeros from the record on (preallocated space the
 * writer did not trim): the one torn tail that is acceptable in any segment (recover.c). */
extern const char LOGFMT_ZERO_TAIL[];

/* Writes all n bytes to fd (retrying short writes and EINTR). Returns 0, or -1 (errno set). */
int logfmt_write_all(int fd, const uint8_t *p, size_t n);
/* The same at file offset `off`. */
int logfmt_pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off);

#endif

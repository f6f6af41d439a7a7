/* logfmt.c — see logfmt.h. */
#include "persist/logfmt.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/hash.h"

int lbuf_reserve(lbuf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void lbuf_free(lbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint32_t logfmt_check(const void *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

int logfmt_vget_slow(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *pp = p;
            return 0;
        }
    }
    return -1;
}

size_t lop_set_size(unsigned db, size_t klen, size_t vlen, int64_t expire_at)
{
    return 1 + logfmt_vlen(db) + 8 + logfmt_vlen((uint64_t)expire_at) + logfmt_vlen(klen) +
           klen + logfmt_vlen(vlen) + vlen;
}

uint8_t *lop_put_set(uint8_t *p, unsigned db, const void *key, size_t klen, const void *val,
                     size_t vlen, uint64_t version, int64_t expire_at)
{
    *p++ = LOP_SET;
    p = logfmt_vput(p, db);
    logfmt_put64(p, version);
    p += 8;
    p = logfmt_vput(p, (uint64_t)expire_at);
    p = logfmt_vput(p, klen);
    if (klen)
        memcpy(p, key, klen);
    p += klen;
    p = logfmt_vput(p, vlen);
    if (vlen)
        memcpy(p, val, vlen);
    return p + vlen;
}

size_t lop_size(int type, unsigned db, unsigned db2, size_t klen, int64_t at)
{
    switch (type) {
    case LOP_DEL:
        return 1 + logfmt_vlen(db) + logfmt_vlen(klen) + klen;
    case LOP_EXPIRE:
        return 1 + logfmt_vlen(db) + logfmt_vlen((uint64_t)at) + logfmt_vlen(klen) + klen;
    case LOP_FLUSHDB:
        return 1 + logfmt_vlen(db);
    case LOP_FLUSHALL:
        return 1;
    case LOP_SWAPDB:
        return 1 + logfmt_vlen(db) + logfmt_vlen(db2);
    }
    return 0;
}

uint8_t *lop_put(uint8_t *p, int type, unsigned db, unsigned db2, const void *key, size_t klen,
                 int64_t at)
{
    *p++ = (uint8_t)type;
    if (type == LOP_FLUSHALL)
        return p;
    p = logfmt_vput(p, db);
    if (type == LOP_SWAPDB)
        return logfmt_vput(p, db2);
    if (type == LOP_FLUSHDB)
        return p;
    if (type == LOP_EXPIRE)
        p = logfmt_vput(p, (uint64_t)at);
    p = logfmt_vput(p, klen);
    if (klen)
        memcpy(p, key, klen);
    return p + klen;
}

void logfmt_seal(uint8_t *hdr, uint32_t len, uint64_t lsn)
{
    logfmt_put32(hdr, len);
    logfmt_put64(hdr + 4, lsn);
    logfmt_put32(hdr + 12, logfmt_check(hdr + LOG_REC_HDR, len));
    logfmt_put32(hdr + 16, logfmt_check(hdr, 16));
}

void logfmt_file_header(uint8_t h[LOG_FILE_HDR], uint64_t first_lsn)
{
    memcpy(h, LOG_MAGIC, 8);
    logfmt_put32(h + 8, LOG_FORMAT);
    logfmt_put32(h + 12, 0);
    logfmt_put64(h + 16, first_lsn);
    logfmt_put32(h + 24, 0);
    logfmt_put32(h + 28, logfmt_check(h, 28));
}

int logfmt_parse_file_header(const uint8_t *h, size_t n, uint64_t *first_lsn)
{
    if (n < LOG_FILE_HDR || memcmp(h, LOG_MAGIC, 8) != 0 ||
        !logfmt_check_ok(logfmt_get32(h + 28), h, 28) || logfmt_get32(h + 8) != LOG_FORMAT)
        return -1;
    *first_lsn = logfmt_get64(h + 16);
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

const char LOGFMT_ZERO_TAIL[] = "zero-filled tail";

int logfmt_next(const uint8_t *p, size_t n, uint64_t lsn, const uint8_t **payload,
                uint32_t *plen, size_t *used, uint64_t *got_lsn, const char **why)
{
    if (n == 0)
        return LREC_END;
    if (n < LOG_REC_HDR) {
        *why = "incomplete record header";
        return LREC_TORN;
    }
    /* A record that fails its checks and is followed only by zeros was being written when
     * the process or machine stopped: the journal preallocates the segment and copies
     * records into it in address order, and some file systems extend a file before its data
     * reaches the disk. Nothing valid follows it, so it is a torn tail. Anything else is
     * damage. */
    if (!logfmt_check_ok(logfmt_get32(p + 16), p, 16)) {
        if (all_zero(p, n)) {
            *why = LOGFMT_ZERO_TAIL;
            return LREC_TORN;
        }
        if (all_zero(p + LOG_REC_HDR, n - LOG_REC_HDR)) {
            *why = "incomplete record header";
            return LREC_TORN;
        }
        *why = "record header checksum mismatch";
        return LREC_CORRUPT;
    }
    uint32_t len = logfmt_get32(p);
    uint64_t l = logfmt_get64(p + 4);
    if (lsn && l != lsn) {
        *why = "record out of sequence (unexpected LSN)";
        return LREC_CORRUPT;
    }
    if (len > LOG_MAX_PAYLOAD) {
        *why = "record length out of range";
        return LREC_CORRUPT;
    }
    if ((size_t)len > n - LOG_REC_HDR) {
        *why = "incomplete record";
        return LREC_TORN;
    }
    if (!logfmt_check_ok(logfmt_get32(p + 12), p + LOG_REC_HDR, len)) {
        size_t end = LOG_REC_HDR + (size_t)len;
        if (all_zero(p + end, n - end)) {
            *why = "last record's payload checksum mismatch";
            return LREC_TORN;
        }
        *why = "record payload checksum mismatch";
        return LREC_CORRUPT;
    }
    *payload = p + LOG_REC_HDR;
    *plen = len;
    *used = LOG_REC_HDR + (size_t)len;
    *got_lsn = l;
    return LREC_OK;
}

static int get_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **out, size_t *len)
{
    uint64_t n;
    if (logfmt_vget(p, end, &n) || n > (uint64_t)(end - *p))
        return -1;
    *out = *p;
    *len = (size_t)n;
    *p += n;
    return 0;
}

int lop_next(const uint8_t **pp, const uint8_t *end, lop *o)
{
    const uint8_t *p = *pp;
    uint64_t v;
    if (p >= end)
        return 0;
    memset(o, 0, sizeof(*o));
    o->type = *p++;
    if (o->type != LOP_FLUSHALL) {
        if (logfmt_vget(&p, end, &v) || v > 0xffffffffu)
            return -1;
        o->db = (uint32_t)v;
    }
    switch (o->type) {
    case LOP_SET:
        if (end - p < 8)
            return -1;
        o->version = logfmt_get64(p);
        p += 8;
        if (logfmt_vget(&p, end, &v) || v > INT64_MAX)
            return -1;
        o->expire_at = (int64_t)v;
        if (get_bytes(&p, end, &o->key, &o->klen) || get_bytes(&p, end, &o->val, &o->vlen))
            return -1;
        break;
    case LOP_DEL:
        if (get_bytes(&p, end, &o->key, &o->klen))
            return -1;
        break;
    case LOP_EXPIRE:
        if (logfmt_vget(&p, end, &v) || v > INT64_MAX)
            return -1;
        o->expire_at = (int64_t)v;
        if (get_bytes(&p, end, &o->key, &o->klen))
            return -1;
        break;
    case LOP_FLUSHDB:
    case LOP_FLUSHALL:
        break;
    case LOP_SWAPDB:
        if (logfmt_vget(&p, end, &v) || v > 0xffffffffu)
            return -1;
        o->db2 = (uint32_t)v;
        break;
    default:
        return -1;
    }
    *pp = p;
    return 1;
}

int logfmt_pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return 0;
}

int logfmt_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* compress.c — see compress.h. */
#include "engine/compress.h"

#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-thread state ---------------------------------------------------------------------- */

typedef struct compress_tls {
    int registered;          /* tls_key holds this thread's pointer (destructor armed) */
    LZ4_stream_t *lz;        /* compression state, kept between calls (see compress_encode) */
    uint8_t *buf[COMPRESS_NBUF];
    size_t cap[COMPRESS_NBUF];
} compress_tls;

static _Thread_local compress_tls tls;

/* The only process-wide state: a key whose destructor frees a thread's buffers when it exits.
 * It holds no store data, so two stores in one process share it harmlessly. */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_ok;

static void tls_free(void *arg)
{
    compress_tls *t = arg;
    for (int i = 0; i < COMPRESS_NBUF; i++) {
        free(t->buf[i]);
        t->buf[i] = NULL;
        t->cap[i] = 0;
    }
    if (t->lz)
        LZ4_freeStream(t->lz);
    t->lz = NULL;
    t->registered = 0;
}

static void tls_key_init(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_free) == 0;
}

/* Arms the destructor the first time this thread allocates something. */
static void tls_register(void)
{
    if (tls.registered)
        return;
    pthread_once(&tls_once, tls_key_init);
    if (tls_key_ok && pthread_setspecific(tls_key, &tls) == 0)
        tls.registered = 1;
}

uint8_t *compress_scratch(int which, size_t n)
{
    if (tls.cap[which] >= n && tls.buf[which])
        return tls.buf[which];
    tls_register();
    size_t cap = n < 256 ? 256 : n;
    uint8_t *p = malloc(cap);
    if (!p)
        return NULL;
    free(tls.buf[which]);
    tls.buf[which] = p;
    tls.cap[which] = cap;
    return p;
}

void compress_scratch_drop(int which)
{
    if (tls.cap[which] > COMPRESS_KEEP) {
        free(tls.buf[which]);
        tls.buf[which] = NULL;
        tls.cap[which] = 0;
    }
}

void compress_scratch_trim(void)
{
    for (int i = 0; i < COMPRESS_NBUF; i++)
        compress_scratch_drop(i);
}

/* ---- codec --------------------------------------------------------------------------------- */

/*
 * LZ4_compress_default() initialises a 16 KiB hash table on every call, which costs more than
 * compressing a few hundred bytes. A stream kept per thread and reset with
 * LZ4_resetStream_fast() before each value produces the same independent block (no dictionary:
 * decodable by LZ4_decompress_safe alone) without that memset. Without a stream (allocation
 * failed) the one-shot call is used.
 */
size_t compress_encode(const void *src, size_t n, uint8_t *dst)
{
    if (n == 0 || n > LZ4_MAX_INPUT_SIZE)
        return 0;
    size_t budget = n - n / 8; /* the stored form must fit in 7/8 of the value */
    uint8_t *q = entry_varint_put(dst, (uint32_t)n);
    size_t hdr = (size_t)(q - dst);
    if (budget <= hdr)
        return 0;
    int cap = (int)(budget - hdr), got;
    if (!tls.lz) {
        tls_register();
        tls.lz = LZ4_createStream();
    }
    if (tls.lz) {
        LZ4_resetStream_fast(tls.lz);
        got = LZ4_compress_fast_continue(tls.lz, src, (char *)q, (int)n, cap, 1);
    } else {
        got = LZ4_compress_default(src, (char *)q, (int)n, cap);
    }
    return got > 0 ? hdr + (size_t)got : 0;
}

int compress_orig_len(const uint8_t *p, size_t n, size_t *orig)
{
    uint64_t v = 0;
    size_t i = 0;
    for (;; i++) {
        if (i >= n || i >= COMPRESS_HDR_MAX)
            return -1;
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            break;
    }
    size_t block = n - (i + 1);
    if (v > LZ4_MAX_INPUT_SIZE || block == 0 || v > (uint64_t)block * COMPRESS_MAX_RATIO + 64)
        return -1;
    *orig = (size_t)v;
    return 0;
}

static size_t hdr_len(const uint8_t *p)
{
    size_t i = 0;
    while (p[i] & 0x80)
        i++;
    return i + 1;
}

int compress_decode(const uint8_t *p, size_t n, uint8_t *dst, size_t want)
{
    size_t orig;
    if (compress_orig_len(p, n, &orig) || want > orig)
        return -1;
    size_t h = hdr_len(p);
    const char *block = (const char *)p + h;
    int bn = (int)(n - h);
    if (want == orig) {
        /* The whole value: the block must decode to exactly its recorded length. */
        int got = LZ4_decompress_safe(block, (char *)dst, bn, (int)orig);
        return got >= 0 && (size_t)got == orig ? 0 : -1;
    }
    if (want == 0)
        return 0;
    int got = LZ4_decompress_safe_partial(block, (char *)dst, bn, (int)want, (int)want);
    return got >= 0 && (size_t)got == want ? 0 : -1;
}

/* ---- entries ------------------------------------------------------------------------------- */

int compress_entry_len(const entry *e, size_t *len)
{
    return compress_orig_len(e->val, e->vlen, len) ? MNEMO_ECORRUPT : MNEMO_OK;
}

int compress_entry_value(const entry *e, size_t want, const uint8_t **p, size_t *len)
{
    size_t orig;
    if (compress_orig_len(e->val, e->vlen, &orig))
        return MNEMO_ECORRUPT;
    if (want > orig)
        want = orig;
    /* One spare byte, so that an empty result still has a valid pointer. */
    uint8_t *buf = compress_scratch(COMPRESS_BUF_READ, want + 1);
    if (!buf)
        return MNEMO_ENOMEM;
    if (compress_decode(e->val, e->vlen, buf, want))
        return MNEMO_ECORRUPT;
    *p = buf;
    *len = orig;
    return MNEMO_OK;
}

/* ---- writes -------------------------------------------------------------------------------- */

static void join_pieces(uint8_t *dst, const vsrc *v)
{
    if (v->n1)
        memcpy(dst, v->p1, v->n1);
    dst += v->n1;
    memset(dst, 0, v->zeros);
    dst += v->zeros;
    if (v->n2)
        memcpy(dst, v->p2, v->n2);
    dst += v->n2;
    if (v->n3)
        memcpy(dst, v->p3, v->n3);
}

int compress_vsrc(const vsrc *v, vsrc *out)
{
    size_t n = vsrc_len(v);
    const void *src = v->p1;
    if (n != v->n1) {
        uint8_t *j = compress_scratch(COMPRESS_BUF_JOIN, n);
        if (!j)
            return 0;
        join_pieces(j, v);
        src = j;
    }
    uint8_t *dst = compress_scratch(COMPRESS_BUF_OUT, n);
    if (!dst)
        return 0;
    size_t stored = compress_encode(src, n, dst);
    if (!stored)
        return 0;
    vsrc r = {.p1 = dst, .n1 = stored, .enc = VSRC_LZ4};
    *out = r;
    return 1;
}

/*
 * fuzz_compress.c — libFuzzer target for engine/compress. The first input byte picks a mode,
 * the rest is the payload:
 *
 *   0  the payload is a stored (compressed) value as the arena would hold it: reading its
 *      header, decoding it whole into a buffer of exactly the length it claims, decoding a
 *      prefix, and entry_value()/entry_value_len() on an entry flagged ENT_COMPRESSED must
 *      never read or write out of bounds (ASan) and must agree on success and lengths;
 *   1  the payload is a value: compress_encode() either declines or produces a stored form of
 *      at most 7/8 of it that decodes to exactly the payload, whole and by prefixes;
 *   2  the payload is a value written through the library (threshold 1 byte): get, strlen,
 *      getrange, append and setrange give back the same bytes as a plain model.
 *
 * Checked (abort on violation) beyond the sanitizers. Seeds: tests/fuzz/corpus/compress/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress.h"
#include "mnemo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void stored_value(const uint8_t *p, size_t n)
{
    size_t orig;
    int hdr_ok = compress_orig_len(p, n, &orig) == 0;
    /* the entry paths: a copy of exactly n bytes, so that over-reads show */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    entry e;
    memset(&e, 0, sizeof e);
    e.flags = ENT_COMPRESSED;
    e.val = copy;
    e.vlen = (uint32_t)n;
    size_t len = 0;
    int rc_len = entry_value_len(&e, &len);
    if ((rc_len == MNEMO_OK) != hdr_ok || (hdr_ok && len != orig))
        abort();
    const uint8_t *v;
    size_t vlen;
    int rc = entry_value(&e, &v, &vlen);
    if (rc != MNEMO_OK && rc != MNEMO_ECORRUPT && rc != MNEMO_ENOMEM)
        abort();
    if (!hdr_ok) {
        if (rc != MNEMO_ECORRUPT)
            abort();
        free(copy);
        return;
    }
    uint8_t *out = malloc(orig ? orig : 1);
    int whole = compress_decode(copy, n, out, orig);
    if (rc != MNEMO_ENOMEM && (whole == 0) != (rc == MNEMO_OK))
        abort();
    if (rc == MNEMO_OK && vlen != orig)
        abort();
    /* Bytes are not compared here: a damaged block LZ4 still accepts (a match offset of 0, for one)
     * copies whatever the output buffer held. Only the bounds are at stake (ASan). */
    if (orig > 1) {
        size_t want = orig / 2;
        uint8_t *half = malloc(want);
        (void)compress_decode(copy, n, half, want);
        free(half);
    }
    free(out);
    free(copy);
    compress_scratch_trim();
}

static void round_trip(const uint8_t *p, size_t n)
{
    uint8_t *dst = malloc(n ? n : 1);
    size_t s = compress_encode(p, n, dst);
    if (s) {
        if (s > n - n / 8)
            abort();
        uint8_t *back = malloc(n);
        if (compress_decode(dst, s, back, n) != 0 || memcmp(back, p, n) != 0)
            abort();
        for (size_t want = 0; want < n; want += 1 + want / 2) {
            if (compress_decode(dst, s, back, want) != 0 || memcmp(back, p, want) != 0)
                abort();
        }
        free(back);
    }
    free(dst);
}

static mnemo_store *store;

static void check_get(const void *want, size_t n)
{
    mnemo_value v;
    if (mnemo_get(store, 0, "k", 1, &v) != MNEMO_OK || v.len != n ||
        (n && memcmp(v.data, want, n) != 0))
        abort();
    mnemo_value_release(&v);
    size_t len = 0;
    if (mnemo_strlen(store, 0, "k", 1, &len) != MNEMO_OK || len != n)
        abort();
}

static void through_store(const uint8_t *p, size_t n)
{
    if (!store) {
        mnemo_config c;
        mnemo_config_init(&c);
        c.databases = 1;
        c.shards = 1;
        c.background_thread = 0;
        c.compress_min = 1;
        if (mnemo_store_open(&c, &store) != MNEMO_OK)
            abort();
    }
    if (mnemo_set(store, 0, "k", 1, p, n, NULL, NULL, NULL) != MNEMO_OK)
        abort();
    check_get(p, n);
    if (n) {
        size_t a = p[0] % n, b = p[n - 1] % n;
        mnemo_value r;
        if (mnemo_getrange(store, 0, "k", 1, (int64_t)a, (int64_t)b, &r) != MNEMO_OK)
            abort();
        if (a <= b ? (r.len != b - a + 1 || memcmp(r.data, p + a, r.len) != 0) : r.len != 0)
            abort();
        mnemo_value_release(&r);
    }
    /* model: the payload twice, then its first half overwritten with itself reversed */
    uint8_t *m = malloc(2 * n + 1);
    memcpy(m, p, n);
    memcpy(m + n, p, n);
    if (mnemo_append(store, 0, "k", 1, p, n, NULL) != MNEMO_OK)
        abort();
    check_get(m, 2 * n);
    size_t h = n / 2;
    uint8_t *rev = malloc(h + 1);
    for (size_t i = 0; i < h; i++)
        rev[i] = p[h - 1 - i];
    memcpy(m, rev, h);
    if (mnemo_setrange(store, 0, "k", 1, 0, rev, h, NULL) != MNEMO_OK)
        abort();
    check_get(m, 2 * n);
    free(rev);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        stored_value(p, n);
        break;
    case 1:
        round_trip(p, n);
        break;
    default:
        if (n <= 1 << 16)
            through_store(p, n);
    }
    return 0;
}

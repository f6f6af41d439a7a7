/*
 * fuzz_resp_reply.c — libFuzzer target for the reply parser (resp_reply_parse).
 *
 * Input: byte 0 picks the nesting limit (1..8), byte 1 seeds the chunk sizes, the rest is a
 * stream of replies.
 *
 * Properties checked (abort on violation):
 *   - the stream parsed whole and parsed in pseudo-random chunks gives the same trees and
 *     stops the same way;
 *   - every call gets an exact-size heap copy of its bytes (ASan sees out-of-bounds reads);
 *   - trees are well formed: strings NUL-terminated, nesting within the limit;
 *   - each tree, written back in RESP3 by the reply writer, parses to the same tree (up to
 *     what the writer normalises: CR/LF in simple strings, the '-' of errors, null kinds,
 *     the spelling of doubles).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp_reply.h"
#include "resp/resp_write.h"

#define REQUIRE(c)                                                                         \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #c);      \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static void append(resp_buf *out, const void *p, size_t n)
{
    REQUIRE(resp_buf_append(out, p, n) == RESP_OK);
}

static size_t kids(const resp_value *v)
{
    return v->type == RESP_T_MAP || v->type == RESP_T_ATTR ? 2 * v->n : v->n;
}

/* The tree as text. `norm` leaves out what the writer does not preserve. */
static void dump(resp_buf *o, const resp_value *v, int norm, unsigned depth, unsigned max)
{
    char line[160];
    int n;

    /* A value inside k aggregates (attributes included) sits at depth k. An attribute sits
     * at the depth of the value it describes. */
    REQUIRE(depth <= max);
    if (v->attr) {
        append(o, "@", 1);
        dump(o, v->attr, norm, depth, max);
    }
    if (v->type == RESP_T_DOUBLE) {
        if (isnan(v->dbl))
            n = snprintf(line, sizeof(line), ", nan");
        else
            n = snprintf(line, sizeof(line), ", %.17g", v->dbl);
        append(o, line, (size_t)n);
        if (!norm)
            append(o, v->str, v->len);
        append(o, "\n", 1);
        return;
    }
    n = snprintf(line, sizeof(line), "%c%c i=%lld n=%zu f=", v->type, norm ? ' ' : v->wire,
                 v->integer, v->n);
    append(o, line, (size_t)n);
    append(o, v->fmt, 3);
    append(o, " s=", 3);
    if (v->str) {
        REQUIRE(v->str[v->len] == '\0');
        const char *s = v->str;
        size_t len = v->len;
        if (norm && v->type == RESP_T_ERROR)
            while (len > 0 && s[0] == '-')
                s++, len--;
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            if (norm && (v->type == RESP_T_SIMPLE || v->type == RESP_T_ERROR ||
                         v->type == RESP_T_BIGNUM) && (c == '\n' || c == '\r'))
                c = ' ';
            append(o, &c, 1);
        }
    } else {
        REQUIRE(v->len == 0);
    }
    append(o, "\n", 1);
    if (kids(v))
        REQUIRE(v->elems != NULL);
    for (size_t i = 0; i < kids(v); i++)
        dump(o, &v->elems[i], norm, depth + 1, max);
}

static void encode(resp_buf *b, const resp_value *v);

static void encode_attr(resp_buf *b, const resp_value *a)
{
    if (a->attr)
        encode_attr(b, a->attr);
    REQUIRE(resp_write_attr(b, a->n, 3) == RESP_OK);
    for (size_t i = 0; i < 2 * a->n; i++)
        encode(b, &a->elems[i]);
}

/* Writes the tree back with the reply writer, RESP3. */
static void encode(resp_buf *b, const resp_value *v)
{
    int rc = RESP_OK;

    if (v->attr)
        encode_attr(b, v->attr);
    switch (v->type) {
    case RESP_T_SIMPLE: rc = resp_write_simple(b, v->str, v->len); break;
    case RESP_T_ERROR: rc = resp_write_error(b, v->str, v->len); break;
    case RESP_T_INT: rc = resp_write_int(b, v->integer); break;
    case RESP_T_BULK: rc = resp_write_bulk(b, v->str, v->len); break;
    case RESP_T_NULL: rc = v->wire == '*' ? resp_write_null_array(b, 3) : resp_write_null(b, 3);
        break;
    case RESP_T_DOUBLE: rc = resp_write_double(b, v->dbl, 3); break;
    case RESP_T_BOOL: rc = resp_write_bool(b, (int)v->integer, 3); break;
    case RESP_T_BLOB_ERROR: rc = resp_write_blob_error(b, v->str, v->len, 3); break;
    case RESP_T_VERBATIM: rc = resp_write_verbatim(b, v->fmt, v->str, v->len, 3); break;
    case RESP_T_BIGNUM: rc = resp_write_bignum(b, v->str, v->len, 3); break;
    case RESP_T_ARRAY: rc = resp_write_array(b, v->n); break;
    case RESP_T_MAP: rc = resp_write_map(b, v->n, 3); break;
    case RESP_T_SET: rc = resp_write_set(b, v->n, 3); break;
    case RESP_T_PUSH: rc = resp_write_push(b, v->n, 3); break;
    case RESP_T_ATTR: REQUIRE(!"an attribute as a value"); break;
    }
    REQUIRE(rc == RESP_OK);
    for (size_t i = 0; i < kids(v); i++)
        encode(b, &v->elems[i]);
}

static void round_trip(const resp_value *v, unsigned max_depth)
{
    resp_buf w, a, b;
    resp_reply_parser rp;
    resp_value *again = NULL;

    REQUIRE(resp_buf_init(&w, 0) == RESP_OK);
    encode(&w, v);
    char *copy = malloc(w.len);
    REQUIRE(copy);
    memcpy(copy, w.data, w.len);
    resp_reply_parser_init(&rp, max_depth, 0);
    REQUIRE(resp_reply_parse(&rp, copy, w.len, &again) == (ssize_t)w.len);
    REQUIRE(resp_buf_init(&a, 0) == RESP_OK);
    REQUIRE(resp_buf_init(&b, 0) == RESP_OK);
    dump(&a, v, 1, 0, max_depth);
    dump(&b, again, 1, 0, max_depth);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        fprintf(stderr, "before:\n%.*s\nafter:\n%.*s\n", (int)a.len, a.data, (int)b.len,
                b.data);
        abort();
    }
    resp_value_free(again);
    free(copy);
    resp_buf_free(&w);
    resp_buf_free(&a);
    resp_buf_free(&b);
}

static void record(resp_buf *out, const resp_reply_parser *rp, ssize_t r, const resp_value *v,
                   size_t left)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "r=%zd left=%zu|", r, left);

    append(out, line, (size_t)n);
    if (r > 0)
        dump(out, v, 0, 0, rp->max_depth);
    if (r == RESP_EPROTO) {
        const char *e = resp_reply_parser_error(rp);
        REQUIRE(strncmp(e, "Protocol error: ", 16) == 0);
        append(out, e, strlen(e));
    }
    append(out, "\n", 1);
}

static void run_whole(const uint8_t *data, size_t n, unsigned depth, resp_buf *out)
{
    resp_reply_parser rp;
    size_t off = 0;
    char *copy = malloc(n ? n : 1);

    REQUIRE(copy);
    memcpy(copy, data, n);
    resp_reply_parser_init(&rp, depth, 0);
    for (;;) {
        resp_value *v = NULL;
        ssize_t r = resp_reply_parse(&rp, copy + off, n - off, &v);
        REQUIRE((r > 0) == (v != NULL));
        REQUIRE(r <= (ssize_t)(n - off));
        record(out, &rp, r, v, r == RESP_EUNFIN ? n - off : 0);
        if (r <= 0)
            break;
        round_trip(v, depth);
        resp_value_free(v);
        off += (size_t)r;
    }
    free(copy);
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void run_chunked(const uint8_t *data, size_t n, unsigned depth, uint32_t seed,
                        resp_buf *out)
{
    resp_reply_parser rp;
    size_t fed = 0, off = 0;
    ssize_t r = RESP_EUNFIN;

    resp_reply_parser_init(&rp, depth, 0);
    do {
        size_t chunk = 1 + next_rand(&seed) % (seed & 1 ? 4 : 64);
        fed += chunk < n - fed ? chunk : n - fed;
        for (;;) {
            size_t avail = fed - off;
            resp_value *v = NULL;
            char *copy = malloc(avail ? avail : 1);
            REQUIRE(copy);
            memcpy(copy, data + off, avail);
            r = resp_reply_parse(&rp, copy, avail, &v);
            if (r > 0 || r == RESP_EPROTO || fed == n)
                record(out, &rp, r, v, r == RESP_EUNFIN ? avail : 0);
            resp_value_free(v);
            free(copy);
            if (r <= 0)
                break;
            off += (size_t)r;
        }
    } while (fed < n && r != RESP_EPROTO);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resp_buf whole, chunked;

    if (size < 2)
        return 0;
    unsigned depth = 1 + data[0] % 8;
    uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 0x01000193u);
    data += 2;
    size -= 2;

    REQUIRE(resp_buf_init(&whole, 0) == RESP_OK);
    REQUIRE(resp_buf_init(&chunked, 0) == RESP_OK);
    run_whole(data, size, depth, &whole);
    run_chunked(data, size, depth, seed, &chunked);
    if (whole.len != chunked.len || memcmp(whole.data, chunked.data, whole.len) != 0) {
        fprintf(stderr, "whole:\n%.*s\nchunked:\n%.*s\n", (int)whole.len, whole.data,
                (int)chunked.len, chunked.data);
        abort();
    }
    resp_buf_free(&whole);
    resp_buf_free(&chunked);
    return 0;
}

/*
 * fuzz_resp.c — libFuzzer target for the request parser (resp_parse).
 *
 * Input: byte 0 picks the limits (bit 0: tiny limits, so that every limit is reachable in a
 * few bytes; bit 1: unauthenticated), byte 1 seeds the chunk sizes, the rest is the stream.
 *
 * Properties checked (abort on violation):
 *   - the stream parsed whole and parsed in pseudo-random chunks gives the same commands and
 *     stops the same way (same error text, or EUNFIN with the same leftover);
 *   - every call gets an exact-size heap copy of its bytes, moved between calls, so ASan sees
 *     any read out of bounds and any pointer kept from an earlier buffer;
 *   - byte counts and argument counts stay within the input and the limits;
 *   - each command, written back as a multibulk by the reply writer, parses to itself;
 *   - resp_parse_fast, wherever it takes a command, takes the same bytes and arguments.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp_parse.h"
#include "resp/resp_write.h"

#define REQUIRE(c)                                                                         \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #c);      \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

static void limits_for(uint8_t flags, resp_limits *lim)
{
    resp_limits_default(lim);
    if (flags & 1) {
        lim->max_multibulk = 8;
        lim->max_bulk = 64;
        lim->max_inline = 32;
    }
    lim->unauthenticated = (flags & 2) != 0;
}

static void append(resp_buf *out, const void *p, size_t n)
{
    REQUIRE(resp_buf_append(out, p, n) == RESP_OK);
}

/* Checks one result and appends it to `out` in a comparable form. */
static void record(resp_buf *out, const resp_parser *p, ssize_t r, const char *buf, size_t len)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "r=%zd|", r > 0 ? (ssize_t)0 : r);

    append(out, line, (size_t)n);
    if (r == RESP_EPROTO) {
        const char *e = resp_parser_error(p);
        REQUIRE(strncmp(e, "Protocol error: ", 16) == 0);
        REQUIRE(strcmp(resp_parser_error_reply(p) + 4, e) == 0);
        append(out, e, strlen(e));
    }
    if (r > 0) {
        REQUIRE((size_t)r <= len);
        n = snprintf(line, sizeof(line), "%zd argc=%zu inline=%d|", r, p->argc, p->is_inline);
        append(out, line, (size_t)n);
        if (!p->is_inline && p->argc > 0)
            REQUIRE((long long)p->argc <= p->limits.max_multibulk);
        for (size_t i = 0; i < p->argc; i++) {
            const resp_arg *a = &p->argv[i];
            if (!p->is_inline) {
                /* Multibulk arguments are zero-copy: inside the buffer, within the limit. */
                REQUIRE(a->ptr >= buf && a->ptr + a->len <= buf + r);
                REQUIRE((long long)a->len <= p->limits.max_bulk);
            } else {
                REQUIRE(a->len < (size_t)r);
            }
            n = snprintf(line, sizeof(line), "%zu:", a->len);
            append(out, line, (size_t)n);
            append(out, a->ptr, a->len);
        }
    }
    append(out, "\n", 1);
}

/* Writes the command back as a multibulk and parses it again: same arguments. */
static void round_trip(const resp_parser *p)
{
    resp_buf w;
    resp_parser q;
    resp_limits lim;

    if (p->argc == 0)
        return;
    resp_limits_default(&lim);
    REQUIRE(resp_buf_init(&w, 0) == RESP_OK);
    REQUIRE(resp_write_array(&w, p->argc) == RESP_OK);
    for (size_t i = 0; i < p->argc; i++)
        REQUIRE(resp_write_bulk(&w, p->argv[i].ptr, p->argv[i].len) == RESP_OK);
    char *copy = malloc(w.len);
    REQUIRE(copy);
    memcpy(copy, w.data, w.len);
    resp_parser_init(&q, &lim);
    REQUIRE(resp_parse(&q, copy, w.len) == (ssize_t)w.len);
    REQUIRE(q.argc == p->argc && !q.is_inline);
    for (size_t i = 0; i < p->argc; i++)
        REQUIRE(q.argv[i].len == p->argv[i].len &&
                memcmp(q.argv[i].ptr, p->argv[i].ptr, p->argv[i].len) == 0);
    resp_parser_deinit(&q);
    free(copy);
    resp_buf_free(&w);
}

static void run_whole(const uint8_t *data, size_t n, const resp_limits *lim, resp_buf *out)
{
    resp_parser p;
    size_t off = 0;
    char *copy = malloc(n ? n : 1);

    REQUIRE(copy);
    memcpy(copy, data, n);
    resp_parser_init(&p, lim);
    for (;;) {
        /* The one-pass path, where it answers, answers as resp_parse does. */
        resp_arg fast[8];
        size_t fargc = 0;
        ssize_t f = resp_parse_fast(&p, copy + off, n - off, fast, 8, &fargc);
        ssize_t r = resp_parse(&p, copy + off, n - off);
        REQUIRE(f >= 0);
        if (f > 0) {
            REQUIRE(r == f && fargc == p.argc && fargc >= 1);
            for (size_t i = 0; i < fargc; i++)
                REQUIRE(fast[i].ptr == p.argv[i].ptr && fast[i].len == p.argv[i].len);
        }
        record(out, &p, r, copy + off, n - off);
        if (r <= 0) {
            if (r == RESP_EUNFIN) {
                char line[32];
                int k = snprintf(line, sizeof(line), "left=%zu\n", n - off);
                append(out, line, (size_t)k);
            }
            break;
        }
        round_trip(&p);
        off += (size_t)r;
    }
    resp_parser_deinit(&p);
    free(copy);
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void run_chunked(const uint8_t *data, size_t n, const resp_limits *lim, uint32_t seed,
                        resp_buf *out)
{
    resp_parser p;
    size_t fed = 0, off = 0;
    ssize_t r = RESP_EUNFIN;

    resp_parser_init(&p, lim);
    do {
        size_t chunk = 1 + next_rand(&seed) % (seed & 1 ? 4 : 64);
        fed += chunk < n - fed ? chunk : n - fed;
        for (;;) {
            size_t avail = fed - off;
            char *copy = malloc(avail ? avail : 1);
            REQUIRE(copy);
            memcpy(copy, data + off, avail);
            r = resp_parse(&p, copy, avail);
            if (r > 0 || r == RESP_EPROTO || fed == n)
                record(out, &p, r, copy, avail);
            if (r == RESP_EUNFIN && fed == n) {
                char line[32];
                int k = snprintf(line, sizeof(line), "left=%zu\n", avail);
                append(out, line, (size_t)k);
            }
            free(copy);
            if (r <= 0)
                break;
            off += (size_t)r;
        }
    } while (fed < n && r != RESP_EPROTO);
    resp_parser_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resp_limits lim;
    resp_buf whole, chunked;

    if (size < 2)
        return 0;
    limits_for(data[0], &lim);
    uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 0x01000193u);
    data += 2;
    size -= 2;

    REQUIRE(resp_buf_init(&whole, 0) == RESP_OK);
    REQUIRE(resp_buf_init(&chunked, 0) == RESP_OK);
    run_whole(data, size, &lim, &whole);
    run_chunked(data, size, &lim, seed, &chunked);
    if (whole.len != chunked.len || memcmp(whole.data, chunked.data, whole.len) != 0) {
        fprintf(stderr, "whole:\n%.*s\nchunked:\n%.*s\n", (int)whole.len, whole.data,
                (int)chunked.len, chunked.data);
        abort();
    }
    resp_buf_free(&whole);
    resp_buf_free(&chunked);
    return 0;
}

/*
 * resp_write.c — the reply writer (see resp_write.h for the contract).
 *
 * Every reply is written in two steps: compute its exact size, reserve it once, then fill it.
 * A failed reservation therefore leaves the buffer untouched, and a reply never costs more
 * than one capacity check on the common path.
 */
#include "resp/resp_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The longest number header: a prefix byte, '-' and 19 digits (or 20 unsigned), CRLF. */
#define NUM_HDR_MAX 24
#define BUF_MIN 64

#define E(n) #n "\r\n"
#define E10(t) E(t##0), E(t##1), E(t##2), E(t##3), E(t##4), E(t##5), E(t##6), E(t##7), \
               E(t##8), E(t##9)
const char resp_num_crlf[100][5] = {
    E(0), E(1), E(2), E(3), E(4), E(5), E(6), E(7), E(8), E(9),
    E10(1), E10(2), E10(3), E10(4), E10(5), E10(6), E10(7), E10(8), E10(9),
};
#undef E
#undef E10

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* ---------------------------------------------------------------------------------------------
 * Buffer
 * ------------------------------------------------------------------------------------------- */

int resp_buf_init(resp_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    if (cap == 0)
        return RESP_OK;
    b->data = malloc(cap);
    if (!b->data)
        return RESP_ENOMEM;
    b->cap = cap;
    return RESP_OK;
}

void resp_buf_free(resp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int resp_buf_reserve(resp_buf *b, size_t extra)
{
    size_t need, cap;
    char *d;

    if (b->cap - b->len >= extra)
        return RESP_OK;
    if (extra > (size_t)-1 - b->len)
        return RESP_ENOMEM;
    need = b->len + extra;
    cap = b->cap < BUF_MIN ? BUF_MIN : b->cap;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    d = realloc(b->data, cap);
    if (!d)
        return RESP_ENOMEM;
    b->data = d;
    b->cap = cap;
    return RESP_OK;
}

void resp_buf_consume(resp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int resp_buf_append(resp_buf *b, const void *p, size_t n)
{
    if (resp_buf_reserve(b, n) != RESP_OK)
        return RESP_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return RESP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------------------------------- */

/* Writes v in decimal at dst; returns the number of digits. */
static size_t u64_to_dec(char *dst, unsigned long long v)
{
    size_t n = resp_digits10(v), i = n;

    while (v >= 100) {
        unsigned idx = (unsigned)(v % 100) * 2;
        v /= 100;
        dst[--i] = digit_pairs[idx + 1];
        dst[--i] = digit_pairs[idx];
    }
    if (v >= 10) {
        dst[--i] = digit_pairs[v * 2 + 1];
        dst[--i] = digit_pairs[v * 2];
    } else {
        dst[--i] = (char)('0' + v);
    }
    return n;
}

/* Writes "<prefix><v>\r\n" at dst (room for NUM_HDR_MAX); returns its length. */
static size_t num_line(char *dst, char prefix, long long v)
{
    size_t n = 1;
    unsigned long long u = (unsigned long long)v;

    dst[0] = prefix;
    if (v < 0) {
        dst[n++] = '-';
        u = 0 - u;
    }
    n += u64_to_dec(dst + n, u);
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

/* Same for a non-negative count or length. */
static size_t len_line(char *dst, char prefix, size_t v)
{
    size_t n = 1;

    dst[0] = prefix;
    n += u64_to_dec(dst + n, v);
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

static int write_len_line(resp_buf *b, char prefix, size_t v)
{
    if (resp_buf_reserve(b, NUM_HDR_MAX) != RESP_OK)
        return RESP_ENOMEM;
    b->len += len_line(b->data + b->len, prefix, v);
    return RESP_OK;
}

int resp_write_int_slow(resp_buf *b, long long v)
{
    if (resp_buf_reserve(b, NUM_HDR_MAX) != RESP_OK)
        return RESP_ENOMEM;
    b->len += num_line(b->data + b->len, ':', v);
    return RESP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------------------------- */

/* "<prefix><len>\r\n<s>\r\n". */
static int write_blob(resp_buf *b, char prefix, const char *s, size_t n)
{
    char hdr[NUM_HDR_MAX];
    size_t h = len_line(hdr, prefix, n);

    if (n > (size_t)-1 - h - 2 || resp_buf_reserve(b, h + n + 2) != RESP_OK)
        return RESP_ENOMEM;
    char *o = b->data + b->len;
    memcpy(o, hdr, h);
    if (n)
        memcpy(o + h, s, n);
    o[h + n] = '\r';
    o[h + n + 1] = '\n';
    b->len += h + n + 2;
    return RESP_OK;
}

int resp_write_bulk_slow(resp_buf *b, const char *s, size_t n)
{
    return write_blob(b, '$', s, n);
}

/* "<prefix><s>\r\n" with CR and LF in s replaced by spaces. */
static int write_line(resp_buf *b, char prefix, const char *s, size_t n)
{
    if (n > (size_t)-1 - 3 || resp_buf_reserve(b, n + 3) != RESP_OK)
        return RESP_ENOMEM;
    char *o = b->data + b->len;
    o[0] = prefix;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        o[1 + i] = c == '\r' || c == '\n' ? ' ' : c;
    }
    o[n + 1] = '\r';
    o[n + 2] = '\n';
    b->len += n + 3;
    return RESP_OK;
}

int resp_write_simple(resp_buf *b, const char *s, size_t n)
{
    return write_line(b, '+', s, n);
}

int resp_write_error(resp_buf *b, const char *s, size_t n)
{
    if (n > 0 && s[0] == '-')
        return write_line(b, '-', s + 1, n - 1);
    return write_line(b, '-', s, n);
}

int resp_write_blob_error(resp_buf *b, const char *s, size_t n, int proto)
{
    if (proto >= 3)
        return write_blob(b, '!', s, n);
    return resp_write_error(b, s, n);
}

int resp_write_bignum(resp_buf *b, const char *s, size_t n, int proto)
{
    if (proto >= 3)
        return write_line(b, '(', s, n);
    return write_blob(b, '$', s, n);
}

int resp_write_verbatim(resp_buf *b, const char *fmt, const char *s, size_t n, int proto)
{
    char hdr[NUM_HDR_MAX];
    size_t h;

    if (proto < 3)
        return write_blob(b, '$', s, n);
    if (!fmt)
        fmt = "txt";
    if (n > (size_t)-1 - 4)
        return RESP_ENOMEM;
    h = len_line(hdr, '=', n + 4);
    if (n + 4 > (size_t)-1 - h - 2 || resp_buf_reserve(b, h + n + 6) != RESP_OK)
        return RESP_ENOMEM;
    char *o = b->data + b->len;
    memcpy(o, hdr, h);
    memcpy(o + h, fmt, 3);
    o[h + 3] = ':';
    if (n)
        memcpy(o + h + 4, s, n);
    o[h + 4 + n] = '\r';
    o[h + 5 + n] = '\n';
    b->len += h + n + 6;
    return RESP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Fixed replies and aggregates
 * ------------------------------------------------------------------------------------------- */

static int write_lit(resp_buf *b, const char *lit, size_t n)
{
    return resp_buf_append(b, lit, n);
}

int resp_write_null(resp_buf *b, int proto)
{
    return proto >= 3 ? write_lit(b, "_\r\n", 3) : write_lit(b, "$-1\r\n", 5);
}

int resp_write_null_array(resp_buf *b, int proto)
{
    return proto >= 3 ? write_lit(b, "_\r\n", 3) : write_lit(b, "*-1\r\n", 5);
}

int resp_write_bool(resp_buf *b, int v, int proto)
{
    if (proto >= 3)
        return write_lit(b, v ? "#t\r\n" : "#f\r\n", 4);
    return write_lit(b, v ? ":1\r\n" : ":0\r\n", 4);
}

int resp_write_array(resp_buf *b, size_t n)
{
    return write_len_line(b, '*', n);
}

int resp_write_map(resp_buf *b, size_t n, int proto)
{
    if (proto >= 3)
        return write_len_line(b, '%', n);
    if (n > (size_t)-1 / 2)
        return RESP_EINVAL;
    return write_len_line(b, '*', n * 2);
}

int resp_write_set(resp_buf *b, size_t n, int proto)
{
    return write_len_line(b, proto >= 3 ? '~' : '*', n);
}

int resp_write_push(resp_buf *b, size_t n, int proto)
{
    return write_len_line(b, proto >= 3 ? '>' : '*', n);
}

int resp_write_attr(resp_buf *b, size_t n, int proto)
{
    if (proto < 3)
        return RESP_EINVAL;
    return write_len_line(b, '|', n);
}

int resp_write_double(resp_buf *b, double d, int proto)
{
    char txt[40];
    int n;

    if (isnan(d))
        n = snprintf(txt, sizeof(txt), "nan");
    else if (isinf(d))
        n = snprintf(txt, sizeof(txt), "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(txt, sizeof(txt), "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof(txt))
        return RESP_EINVAL;
    if (proto >= 3)
        return write_line(b, ',', txt, (size_t)n);
    return write_blob(b, '$', txt, (size_t)n);
}

size_t resp_write_deferred_begin(const resp_buf *b)
{
    return b->len;
}

int resp_write_deferred_end(resp_buf *b, size_t mark, resp_agg kind, size_t n, int proto)
{
    char hdr[NUM_HDR_MAX];
    char prefix = (char)kind;
    size_t h;

    if (mark > b->len)
        return RESP_EINVAL;
    if (proto < 3) {
        if (kind == RESP_AGG_MAP) {
            if (n > (size_t)-1 / 2)
                return RESP_EINVAL;
            n *= 2;
        }
        prefix = '*';
    }
    h = len_line(hdr, prefix, n);
    if (resp_buf_reserve(b, h) != RESP_OK)
        return RESP_ENOMEM;
    memmove(b->data + mark + h, b->data + mark, b->len - mark);
    memcpy(b->data + mark, hdr, h);
    b->len += h;
    return RESP_OK;
}

/*
 * resp_write.h — the reply writer: appends RESP2 or RESP3 replies to a growable buffer.
 *
 * One resp_buf per connection collects the replies of a whole pipeline, so that the server
 * answers it with a single write. Every function appends one complete reply (or one aggregate
 * header, after which the caller appends the elements) and either succeeds or leaves the buffer
 * exactly as it was: on RESP_ENOMEM nothing half-written is ever sent.
 *
 * Protocol version. The caller passes `proto` (2 or 3; anything below 3 means RESP2) to every
 * function whose bytes differ between the two, and the RESP2 form is what Redis sends a RESP2
 * client: null "$-1" (or "*-1" for a null array), map as an array of 2N, set and push as an
 * array, double as a bulk string ("%.17g", "inf", "-inf", "nan"), boolean as integer 1/0,
 * big number and verbatim string as a bulk string. Attributes have no RESP2 form.
 *
 * Text. Simple strings and errors cannot carry CR or LF: the writer turns each into a space,
 * as Redis does for error texts, so a reply can never break the stream's framing.
 *
 * Hot path. resp_write_bulk(), resp_write_int() and resp_write_ok() are inline: when the buffer
 * has room, a length or integer below 100 costs one 4-byte copy from a const table of "N\r\n"
 * (standing in for Redis's shared "$N\r\n" header objects) and a few stores. Larger numbers,
 * and a buffer that must grow, go to the out-of-line *_slow functions, which convert two
 * digits at a time.
 *
 * Ownership: the buffer owns data[0..cap); data[0..len) is the output not yet sent. Arguments
 * are only read during a call. A resp_buf belongs to one connection, used by one thread at a
 * time.
 */
#ifndef MNEMO_RESP_RESP_WRITE_H
#define MNEMO_RESP_RESP_WRITE_H

#include <stddef.h>
#include <string.h>

#include "resp/resp.h"

typedef struct resp_buf {
    char *data; /* output bytes; NULL while cap == 0 */
    size_t len; /* bytes of output held */
    size_t cap; /* bytes allocated */
} resp_buf;

/* Aggregate kinds for the deferred header (resp_write_deferred_end). */
typedef enum resp_agg {
    RESP_AGG_ARRAY = '*',
    RESP_AGG_MAP = '%',
    RESP_AGG_SET = '~',
    RESP_AGG_PUSH = '>',
} resp_agg;

/* "N\r\n" for N in 0..99, NUL-padded to 5 bytes; the fast paths copy the first 4. */
extern const char resp_num_crlf[100][5];

/* ---------------------------------------------------------------------------------------------
 * Buffer
 * ------------------------------------------------------------------------------------------- */

/* Initialises an empty buffer with room for `cap` bytes (0: allocate on first use).
 * Returns RESP_OK, or RESP_ENOMEM with the buffer empty but usable. */
int resp_buf_init(resp_buf *b, size_t cap);

/* Frees the memory; the buffer is empty and usable again afterwards. */
void resp_buf_free(resp_buf *b);

/* Ensures room for `extra` more bytes (cap - len >= extra), growing geometrically.
 * Returns RESP_OK, or RESP_ENOMEM with the buffer unchanged. Pointers into data may move. */
int resp_buf_reserve(resp_buf *b, size_t extra);

/* Drops the first n bytes (n <= len), e.g. after a partial send; keeps the memory. */
void resp_buf_consume(resp_buf *b, size_t n);

/* Appends n raw bytes (already RESP). Returns RESP_OK or RESP_ENOMEM (buffer unchanged). */
int resp_buf_append(resp_buf *b, const void *p, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Replies. Each returns RESP_OK, or RESP_ENOMEM with the buffer unchanged (and RESP_EINVAL,
 * also writing nothing, where said). Not thread-safe on one buffer; see the top of the file.
 * ------------------------------------------------------------------------------------------- */

/* "+<s>\r\n" with CR and LF in s turned into spaces. */
int resp_write_simple(resp_buf *b, const char *s, size_t n);

/* "-<s>\r\n": s is the whole text, code included ("ERR unknown command 'x'", "WRONGTYPE ...").
 * A leading '-' in s is not doubled; CR and LF become spaces. */
int resp_write_error(resp_buf *b, const char *s, size_t n);

/* RESP3 "!<n>\r\n<s>\r\n" (binary-safe); RESP2 falls back to resp_write_error(). */
int resp_write_blob_error(resp_buf *b, const char *s, size_t n, int proto);

/* ":<v>\r\n". Out-of-line part of resp_write_int(). */
int resp_write_int_slow(resp_buf *b, long long v);

/* "$<n>\r\n<s>\r\n", binary-safe. Out-of-line part of resp_write_bulk(). */
int resp_write_bulk_slow(resp_buf *b, const char *s, size_t n);

/* "*<n>\r\n": the caller appends n replies after it. */
int resp_write_array(resp_buf *b, size_t n);

/* The null reply: RESP3 "_\r\n", RESP2 "$-1\r\n" (null bulk string). */
int resp_write_null(resp_buf *b, int proto);

/* The null array: RESP3 "_\r\n", RESP2 "*-1\r\n". */
int resp_write_null_array(resp_buf *b, int proto);

/* Map header for n key-value pairs: RESP3 "%<n>\r\n", RESP2 "*<2n>\r\n" (RESP_EINVAL if 2n
 * overflows size_t). */
int resp_write_map(resp_buf *b, size_t n, int proto);

/* Set header: RESP3 "~<n>\r\n", RESP2 "*<n>\r\n". */
int resp_write_set(resp_buf *b, size_t n, int proto);

/* Push header (pub/sub messages, invalidations): RESP3 "><n>\r\n", RESP2 "*<n>\r\n". */
int resp_write_push(resp_buf *b, size_t n, int proto);

/* Attribute header for n pairs, RESP3 "|<n>\r\n", followed by the pairs and then the reply
 * they describe. RESP2 has no attributes: returns RESP_EINVAL and writes nothing (Redis
 * refuses them too), so the caller writes only the reply. */
int resp_write_attr(resp_buf *b, size_t n, int proto);

/* Double: RESP3 ",<d>\r\n", RESP2 bulk string. Formatted "%.17g" as Redis does, except
 * infinities ("inf", "-inf") and NaN ("nan"), spelt the same on every libc. */
int resp_write_double(resp_buf *b, double d, int proto);

/* Boolean: RESP3 "#t\r\n"/"#f\r\n", RESP2 ":1\r\n"/":0\r\n". */
int resp_write_bool(resp_buf *b, int v, int proto);

/* Big number given as its decimal text: RESP3 "(<s>\r\n", RESP2 bulk string. */
int resp_write_bignum(resp_buf *b, const char *s, size_t n, int proto);

/* Verbatim string: RESP3 "=<n+4>\r\n<fmt>:<s>\r\n", RESP2 bulk string of s. fmt is exactly
 * three bytes ("txt", "mkd"); NULL means "txt". */
int resp_write_verbatim(resp_buf *b, const char *fmt, const char *s, size_t n, int proto);

/* Deferred aggregate length, for replies whose element count is known only at the end (KEYS,
 * SCAN): resp_write_deferred_begin() returns a mark (the current length); the caller appends
 * the elements; resp_write_deferred_end() inserts the header for n elements (pairs for a map)
 * at the mark, moving the elements once. Returns RESP_OK; RESP_ENOMEM with the buffer unchanged
 * (the elements stay, without header: the caller drops them with b->len = mark); RESP_EINVAL
 * if mark is past the end, or 2n overflows for a RESP2 map. */
size_t resp_write_deferred_begin(const resp_buf *b);
int resp_write_deferred_end(resp_buf *b, size_t mark, resp_agg kind, size_t n, int proto);

/* ---------------------------------------------------------------------------------------------
 * Hot path
 * ------------------------------------------------------------------------------------------- */

/* "$<n>\r\n<s>\r\n": a bulk string from a pointer and a length, binary-safe. */
static inline int resp_write_bulk(resp_buf *b, const char *s, size_t n)
{
    if (n < 100 && b->cap - b->len >= n + 7) {
        char *o = b->data + b->len;
        o[0] = '$';
        memcpy(o + 1, resp_num_crlf[n], 4);
        o += n < 10 ? 4 : 5;
        if (n)
            memcpy(o, s, n);
        o[n] = '\r';
        o[n + 1] = '\n';
        b->len = (size_t)(o + n + 2 - b->data);
        return RESP_OK;
    }
    return resp_write_bulk_slow(b, s, n);
}

/* ":<v>\r\n": an integer reply. */
static inline int resp_write_int(resp_buf *b, long long v)
{
    if (v >= 0 && v < 100 && b->cap - b->len >= 5) {
        char *o = b->data + b->len;
        o[0] = ':';
        memcpy(o + 1, resp_num_crlf[v], 4);
        b->len += v < 10 ? 4 : 5;
        return RESP_OK;
    }
    return resp_write_int_slow(b, v);
}

/* "+OK\r\n". */
static inline int resp_write_ok(resp_buf *b)
{
    if (b->cap - b->len < 5 && resp_buf_reserve(b, 5) != RESP_OK)
        return RESP_ENOMEM;
    memcpy(b->data + b->len, "+OK\r\n", 5);
    b->len += 5;
    return RESP_OK;
}

#endif

/*
 * resp.h — what the two halves of the RESP layer share: status codes and the byte-string type.
 *
 * The RESP layer (src/resp/) turns bytes into commands (resp_parse.h) and replies into bytes
 * (resp_write.h). It depends on libc only: no engine, no sockets, no globals, no locks. Every
 * object in it (parser, reply parser, output buffer) belongs to one connection and is used by
 * one thread at a time; distinct objects may be used from distinct threads freely.
 *
 * Status codes are negative so that functions returning a byte count (> 0) can return them in
 * the same ssize_t: "incomplete, read more" (RESP_EUNFIN) is never an error, and is kept apart
 * from "invalid" (RESP_EPROTO), after which the connection is answered and closed.
 */
#ifndef MNEMO_RESP_RESP_H
#define MNEMO_RESP_RESP_H

#include <stddef.h>

#define RESP_STATUS_MAP(X)                                                                     \
    X(OK, 0, "ok")                                                                             \
    X(EUNFIN, -1, "incomplete input, read more")                                               \
    X(EPROTO, -2, "protocol error")                                                            \
    X(ENOMEM, -3, "out of memory")                                                             \
    X(EINVAL, -4, "invalid argument")

typedef enum resp_status {
#define RESP_X_(name, code, text) RESP_##name = (code),
    RESP_STATUS_MAP(RESP_X_)
#undef RESP_X_
} resp_status;

/* A static text for a resp_status ("unknown status" otherwise). Thread-safe. */
const char *resp_strerror(int status);

/* Parses s[0..n) as a signed 64-bit decimal with Redis's string2ll() rules: optional '-', no
 * '+', no blanks, no leading zeros ("0" alone is fine, "-0" and "007" are not), no overflow.
 * Returns 1 and sets *out on success, 0 otherwise. Thread-safe. */
int resp_string2ll(const char *s, size_t n, long long *out);

/* Number of decimal digits of v (1 for 0). */
static inline unsigned resp_digits10(unsigned long long v)
{
    unsigned n = 1;
    while (v >= 10000) {
        v /= 10000;
        n += 4;
    }
    return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* A byte string: `len` bytes at `ptr`, binary-safe (may hold NUL, CR, LF). Who owns the bytes
 * and how long they stay valid is said by whatever hands one out. */
typedef struct resp_arg {
    const char *ptr;
    size_t len;
} resp_arg;

#endif

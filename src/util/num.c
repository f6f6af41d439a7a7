/*
 * num.c — Redis-compatible number <-> string conversions (see num.h for the rules).
 *
 * Integers are parsed and printed by hand: parsing is one pass with no overflow check below 20
 * digits (19 decimal digits always fit in 64 bits), printing emits two digits per division from
 * a 200-byte table. Floats go through the C library (strtold/strtod/snprintf) exactly as Redis
 * does, so the accepted grammar and the printed digits are the C library's, i.e. Redis's on the
 * same platform; the input is first copied into a NUL-terminated stack buffer because the
 * caller's bytes are not terminated, which bounds float inputs at NUM_LD_STR_MAX - 1 bytes.
 *
 * Checked against redis-server 7.0.15 (INCRBY k 0, INCRBYFLOAT k 0, ZADD) on ~6,000 inputs;
 * the deviations, on purpose:
 *   - num_parse_double() has the same NUM_LD_STR_MAX input bound as num_parse_ld(); Redis's
 *     string2d() has none, which matters only for valid numbers padded past 5 KB with zeros.
 *   - num_format_ld() with a small cap still succeeds when the trimmed form fits (see num.h).
 */
#include "util/num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "00" "01" ... "99": the two digits of n at [2n], [2n+1]. */
static const char num_digits2[201] = "0001020304050607080910111213141516171819"
                                     "2021222324252627282930313233343536373839"
                                     "4041424344454647484950515253545556575859"
                                     "6061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/* Canonical unsigned magnitude: "0", or 1-9 then digits; at most 20 digits, <= UINT64_MAX. */
static int num_parse_mag(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return 0;
    if (s[0] == '0') {
        if (len != 1)
            return 0;
        *out = 0;
        return 1;
    }
    uint64_t v = 0;
    size_t fast = len < 20 ? len : 19; /* 19 digits cannot overflow */
    for (size_t i = 0; i < fast; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    if (len == 20) {
        unsigned d = (unsigned)(unsigned char)s[19] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int num_parse_i64(const char *s, size_t len, int64_t *out)
{
    uint64_t mag;
    int64_t v;

    if (len > 0 && s[0] == '-') {
        if (!num_parse_mag(s + 1, len - 1, &mag) || mag == 0 || mag > (uint64_t)INT64_MAX + 1)
            return 0; /* "-0" is not canonical; below INT64_MIN is out of range */
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (!num_parse_mag(s, len, &mag) || mag > (uint64_t)INT64_MAX)
            return 0;
        v = (int64_t)mag;
    }
    if (out)
        *out = v;
    return 1;
}

int num_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v;

    if (!num_parse_mag(s, len, &v))
        return 0;
    if (out)
        *out = v;
    return 1;
}

static inline size_t num_u64_digits(uint64_t u)
{
    size_t n = 1;
    while (u >= 10000) {
        u /= 10000;
        n += 4;
    }
    if (u >= 1000)
        return n + 3;
    if (u >= 100)
        return n + 2;
    return u >= 10 ? n + 1 : n;
}

size_t num_format_i64(int64_t v, char *buf)
{
    /* Negate in unsigned arithmetic: -INT64_MIN does not exist as an int64. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t len = (v < 0) + num_u64_digits(u);
    char *p = buf + len;

    *p = '\0';
    while (u >= 100) {
        size_t i = (size_t)(u % 100) * 2;
        u /= 100;
        *--p = num_digits2[i + 1];
        *--p = num_digits2[i];
    }
    if (u >= 10) {
        *--p = num_digits2[u * 2 + 1];
        *--p = num_digits2[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    return len;
}

/*
 * Copies s[0..len) into buf (NUM_LD_STR_MAX bytes) with a NUL. Returns 0 for what Redis
 * rejects before calling strto*(): empty, too long, leading whitespace.
 */
static int num_float_prepare(const char *s, size_t len, char *buf)
{
    if (len == 0 || len >= NUM_LD_STR_MAX || isspace((unsigned char)s[0]))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 1;
}

int num_parse_ld(const char *s, size_t len, long double *out)
{
    char buf[NUM_LD_STR_MAX];
    char *end;

    if (!num_float_prepare(s, len, buf))
        return 0;
    int saved = errno;
    errno = 0;
    long double v = strtold(buf, &end);
    int range = errno == ERANGE;
    errno = saved;
    /* end short of len: junk, trailing space or an embedded NUL. ERANGE alone is not an
     * error: a subnormal result is kept, as in Redis; only overflow and total underflow are. */
    if (end != buf + len || isnan(v) || (range && (isinf(v) || v == 0)))
        return 0;
    if (out)
        *out = v;
    return 1;
}

int num_parse_double(const char *s, size_t len, double *out)
{
    char buf[NUM_LD_STR_MAX];
    char *end;

    if (!num_float_prepare(s, len, buf))
        return 0;
    int saved = errno;
    errno = 0;
    double v = strtod(buf, &end);
    int range = errno == ERANGE;
    errno = saved;
    if (end != buf + len || isnan(v) || (range && (isinf(v) || v == 0)))
        return 0;
    if (out)
        *out = v;
    return 1;
}

/* Trims "%.17Lf" output b[0..l) in place as ld2string()'s human mode; returns the new length. */
static size_t num_ld_trim(char *b, size_t l)
{
    if (memchr(b, '.', l) != NULL) { /* always, for a finite value and precision 17 */
        while (b[l - 1] == '0')
            l--;
        if (b[l - 1] == '.')
            l--;
    }
    if (l == 2 && b[0] == '-' && b[1] == '0') {
        b[0] = '0';
        l = 1;
    }
    b[l] = '\0';
    return l;
}

size_t num_format_ld(long double v, char *buf, size_t cap)
{
    const char *word = NULL;
    size_t l;
    int n;

    if (cap == 0)
        return 0;
    if (isnan(v))
        word = "nan";
    else if (isinf(v))
        word = v > 0 ? "inf" : "-inf";
    if (word) {
        l = strlen(word);
        if (l + 1 > cap)
            goto nospace;
        memcpy(buf, word, l + 1);
        return l;
    }

    n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0)
        goto nospace;
    if ((size_t)n < cap)
        return num_ld_trim(buf, (size_t)n);

    /* The untrimmed digits do not fit, the trimmed ones may: redo it in a buffer that holds
     * any long double. */
    char big[NUM_LD_STR_MAX];
    n = snprintf(big, sizeof(big), "%.17Lf", v);
    if (n < 0 || (size_t)n >= sizeof(big))
        goto nospace;
    l = num_ld_trim(big, (size_t)n);
    if (l + 1 > cap)
        goto nospace;
    memcpy(buf, big, l + 1);
    return l;

nospace:
    buf[0] = '\0';
    return 0;
}

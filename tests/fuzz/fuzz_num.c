/*
 * fuzz_num.c — libFuzzer target for util/num: the raw input goes to every parser.
 *
 * Checked (abort on violation), beyond the sanitizers:
 *   - whatever num_parse_i64() accepts is canonical: num_format_i64() gives back exactly the
 *     input bytes, and that output parses back to the same value;
 *   - num_parse_u64() likewise against the canonical form, and it agrees with num_parse_i64()
 *     on every input whose value both ranges hold;
 *   - an accepted integer or double is also an accepted long double;
 *   - an accepted long double formats (num_format_ld) into NUM_LD_STR_MAX bytes, the output
 *     parses again and formats to the same bytes, and a 48-byte cap gives the same bytes or 0.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/num.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ld(long double v)
{
    char a[NUM_LD_STR_MAX], b[NUM_LD_STR_MAX];
    char small[48];
    size_t n = num_format_ld(v, a, sizeof(a));
    if (n == 0 || a[n] != '\0' || strlen(a) != n)
        abort();
    size_t k = num_format_ld(v, small, sizeof(small));
    if (k != 0 && (k != n || memcmp(small, a, n) != 0))
        abort();
    if (isinf(v))
        return; /* "inf"/"-inf" parse again, but the round trip below is for finite values */
    long double back;
    if (!num_parse_ld(a, n, &back))
        abort();
    size_t m = num_format_ld(back, b, sizeof(b));
    if (m != n || memcmp(a, b, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char buf[NUM_I64_STR_MAX], ref[32];
    int64_t i = 0;
    uint64_t u = 0;
    long double ld = 0;
    double d = 0;

    int ok_i = num_parse_i64(s, size, &i);
    int ok_u = num_parse_u64(s, size, &u);
    int ok_ld = num_parse_ld(s, size, &ld);
    int ok_d = num_parse_double(s, size, &d);

    if (ok_i) {
        size_t n = num_format_i64(i, buf);
        if (n != size || memcmp(buf, s, size) != 0)
            abort();
        int64_t back;
        if (!num_parse_i64(buf, n, &back) || back != i)
            abort();
        if (!ok_ld || ld != (long double)i) /* integers are floats too, correctly rounded */
            abort();
        if (ok_u != (i >= 0) || (ok_u && u != (uint64_t)i))
            abort();
    }
    if (ok_u) {
        int n = snprintf(ref, sizeof(ref), "%" PRIu64, u);
        if ((size_t)n != size || memcmp(ref, s, size) != 0)
            abort();
        if (u <= (uint64_t)INT64_MAX && !ok_i)
            abort();
        if (!ok_ld)
            abort();
    }
    if (ok_d && !ok_ld) /* double's range lies inside long double's */
        abort();
    if (ok_d && isnan(d))
        abort();
    if (ok_ld) {
        if (isnan(ld))
            abort();
        check_ld(ld);
    }
    return 0;
}

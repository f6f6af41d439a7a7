/*
 * test_num.c — num_parse_i64/u64, num_format_i64, num_parse_ld, num_format_ld,
 * num_parse_double: tables of accepted and rejected inputs (boundaries, signs, spaces, leading
 * zeros, NUL, oversized inputs), round trips of random int64s, and INCRBYFLOAT sequences.
 *
 * Expected strings marked "redis" are what redis-server 7.0.15 (x86-64) replied to the same
 * commands. Float results that depend on long double being the x87 80-bit type (as on x86-64
 * Linux, where Redis's INCRBYFLOAT digits come from) are checked only there.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/num.h"

#define X87_LONG_DOUBLE (LDBL_MANT_DIG == 64)

/* A literal with its true length (embedded NULs count). */
#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------------------------------------
 * Integers
 * ---------------------------------------------------------------------------------------- */

struct i64_case {
    const char *s;
    size_t len;
    int ok;
    int64_t v;
};

static const struct i64_case i64_cases[] = {
    {S("0"), 1, 0},
    {S("1"), 1, 1},
    {S("-1"), 1, -1},
    {S("9"), 1, 9},
    {S("10"), 1, 10},
    {S("-10"), 1, -10},
    {S("123456789"), 1, 123456789},
    {S("9223372036854775807"), 1, INT64_MAX},
    {S("-9223372036854775808"), 1, INT64_MIN},
    {S("9223372036854775806"), 1, INT64_MAX - 1},
    {S("-9223372036854775807"), 1, INT64_MIN + 1},
    {S("9223372036854775808"), 0, 0},  /* INT64_MAX + 1 */
    {S("-9223372036854775809"), 0, 0}, /* INT64_MIN - 1 */
    {S("18446744073709551615"), 0, 0},
    {S("18446744073709551616"), 0, 0},
    {S("99999999999999999999"), 0, 0},
    {S("100000000000000000000"), 0, 0}, /* 21 digits */
    {S("-99999999999999999999"), 0, 0},
    {S(""), 0, 0},
    {S("-"), 0, 0},
    {S("+"), 0, 0},
    {S("-0"), 0, 0},
    {S("00"), 0, 0},
    {S("007"), 0, 0},
    {S("-01"), 0, 0},
    {S("+1"), 0, 0},
    {S(" 1"), 0, 0},
    {S("1 "), 0, 0},
    {S("\t1"), 0, 0},
    {S("1\n"), 0, 0},
    {S("1\0"), 0, 0},
    {S("\0" "1"), 0, 0},
    {S("1\0" "2"), 0, 0},
    {S("1a"), 0, 0},
    {S("a1"), 0, 0},
    {S("0x10"), 0, 0},
    {S("1e3"), 0, 0},
    {S("1.0"), 0, 0},
    {S("1_000"), 0, 0},
    {S("--1"), 0, 0},
    {S("/"), 0, 0}, /* '0' - 1 */
    {S(":"), 0, 0}, /* '9' + 1 */
    {S("\xb1"), 0, 0},
};

static void test_parse_i64_table(void)
{
    for (size_t i = 0; i < sizeof(i64_cases) / sizeof(i64_cases[0]); i++) {
        const struct i64_case *c = &i64_cases[i];
        int64_t v = 0x5a5a5a5a;
        int ok = num_parse_i64(c->s, c->len, &v);
        if (ok != c->ok)
            fprintf(stderr, "case %zu: \"%.*s\" (%zu bytes)\n", i, (int)c->len, c->s, c->len);
        CHECK_EQ(ok, c->ok);
        if (c->ok)
            CHECK_EQ(v, c->v);
        else
            CHECK_EQ(v, 0x5a5a5a5a); /* untouched on failure */
        CHECK_EQ(num_parse_i64(c->s, c->len, NULL), c->ok);
    }
}

static void test_parse_i64_not_terminated(void)
{
    /* Only s[0..len) counts: the bytes after it are never looked at. */
    int64_t v = 0;
    CHECK_EQ(num_parse_i64("123456", 3, &v), 1);
    CHECK_EQ(v, 123);
    CHECK_EQ(num_parse_i64("-5x", 2, &v), 1);
    CHECK_EQ(v, -5);
    CHECK_EQ(num_parse_i64("0123", 1, &v), 1);
    CHECK_EQ(v, 0);
    CHECK_EQ(num_parse_i64("7", 0, &v), 0);
    CHECK_EQ(num_parse_i64(NULL, 0, &v), 0);

    /* Exact-size heap copies: ASan reports any read past the end. */
    static const char *const inputs[] = {"9223372036854775807", "-9223372036854775808", "12",
                                         "-", "0", "18446744073709551615"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t n = strlen(inputs[i]);
        char *b = malloc(n);
        ASSERT(b != NULL);
        memcpy(b, inputs[i], n);
        uint64_t u;
        int64_t s;
        CHECK_EQ(num_parse_i64(b, n, &s), i < 3 || i == 4);
        CHECK_EQ(num_parse_u64(b, n, &u), i != 1 && i != 3);
        free(b);
    }

    /* A huge string of digits. */
    enum { HUGE = 100000 };
    char *h = malloc(HUGE);
    ASSERT(h != NULL);
    memset(h, '9', HUGE);
    CHECK_EQ(num_parse_i64(h, HUGE, &v), 0);
    CHECK_EQ(num_parse_u64(h, HUGE, NULL), 0);
    h[0] = '-';
    CHECK_EQ(num_parse_i64(h, HUGE, &v), 0);
    free(h);
}

struct u64_case {
    const char *s;
    size_t len;
    int ok;
    uint64_t v;
};

static const struct u64_case u64_cases[] = {
    {S("0"), 1, 0},
    {S("1"), 1, 1},
    {S("9223372036854775808"), 1, (uint64_t)INT64_MAX + 1},
    {S("18446744073709551615"), 1, UINT64_MAX},
    {S("18446744073709551614"), 1, UINT64_MAX - 1},
    {S("10000000000000000000"), 1, 10000000000000000000u},
    {S("18446744073709551616"), 0, 0},
    {S("18446744073709551620"), 0, 0},
    {S("19000000000000000000"), 0, 0},
    {S("99999999999999999999"), 0, 0},
    {S("100000000000000000000"), 0, 0},
    {S("-0"), 0, 0},
    {S("-1"), 0, 0},
    {S("+1"), 0, 0},
    {S("01"), 0, 0},
    {S(""), 0, 0},
    {S(" 1"), 0, 0},
    {S("1 "), 0, 0},
    {S("1\0"), 0, 0},
    {S("1844674407370955161\0"), 0, 0},
    {S("1844674407370955161a"), 0, 0},
};

static void test_parse_u64_table(void)
{
    for (size_t i = 0; i < sizeof(u64_cases) / sizeof(u64_cases[0]); i++) {
        const struct u64_case *c = &u64_cases[i];
        uint64_t v = 77;
        int ok = num_parse_u64(c->s, c->len, &v);
        if (ok != c->ok)
            fprintf(stderr, "case %zu: \"%.*s\" (%zu bytes)\n", i, (int)c->len, c->s, c->len);
        CHECK_EQ(ok, c->ok);
        CHECK_U64_EQ(v, c->ok ? c->v : 77);
    }
}

static void test_format_i64_table(void)
{
    static const struct {
        int64_t v;
        const char *s;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-1, "-1"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {-100, "-100"},
        {101, "101"},
        {12345, "12345"},
        {-987654321, "-987654321"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
        {INT64_MIN + 1, "-9223372036854775807"},
        {1000000000000000000, "1000000000000000000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[NUM_I64_STR_MAX];
        memset(buf, 'x', sizeof(buf));
        size_t n = num_format_i64(cases[i].v, buf);
        CHECK_EQ(n, strlen(cases[i].s));
        CHECK_EQ(buf[n], '\0');
        CHECK_STR_EQ(buf, cases[i].s);
    }
    /* The longest output fills the documented buffer exactly. */
    char exact[NUM_I64_STR_MAX];
    CHECK_EQ(num_format_i64(INT64_MIN, exact), NUM_I64_STR_MAX - 1);
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Every int64 formats to a string that parses back to it and that snprintf agrees with. */
static void test_i64_round_trip(void)
{
    char buf[NUM_I64_STR_MAX], ref[32];
    long failures = 0;

    for (long i = 0; i < 1000000; i++) {
        uint64_t r = rng_next();
        /* Spread over all magnitudes, not just 19-digit numbers. */
        int64_t v = (int64_t)(r >> (rng_next() % 64));
        if (rng_next() & 1)
            v = v == INT64_MIN ? v : -v;
        size_t n = num_format_i64(v, buf);
        int64_t back = 0;
        snprintf(ref, sizeof(ref), "%" PRId64, v);
        if (strcmp(buf, ref) != 0 || n != strlen(ref) || !num_parse_i64(buf, n, &back) ||
            back != v) {
            if (failures++ < 5)
                fprintf(stderr, "round trip of %s: got \"%s\"\n", ref, buf);
        }
    }
    /* Around every power of ten, both signs. */
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        for (int64_t d = -2; d <= 2; d++) {
            int64_t vs[2] = {p * 10 + d, -(p * 10 + d)};
            for (int k = 0; k < 2; k++) {
                size_t n = num_format_i64(vs[k], buf);
                int64_t back = 0;
                snprintf(ref, sizeof(ref), "%" PRId64, vs[k]);
                if (strcmp(buf, ref) != 0 || !num_parse_i64(buf, n, &back) || back != vs[k])
                    failures++;
            }
        }
    }
    CHECK_EQ(failures, 0);
}

/* u64 agrees with strtoull on canonical strings, and with "not canonical" otherwise. */
static void test_u64_random(void)
{
    char buf[32];
    long failures = 0;
    for (long i = 0; i < 200000; i++) {
        uint64_t v = rng_next() >> (rng_next() % 64), got = 0;
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
        if (!num_parse_u64(buf, (size_t)n, &got) || got != v)
            failures++;
    }
    CHECK_EQ(failures, 0);
}

/* ------------------------------------------------------------------------------------------
 * Floats
 * ---------------------------------------------------------------------------------------- */

struct float_case {
    const char *s;
    size_t len;
    int ok;          /* num_parse_ld and num_parse_double agree on these */
    long double v;   /* checked when ok, compared as double */
};

static const struct float_case float_cases[] = {
    {S("0"), 1, 0},
    {S("1"), 1, 1},
    {S("-1"), 1, -1},
    {S("1.5"), 1, 1.5L},
    {S("+1.5"), 1, 1.5L}, /* strtod's '+' is accepted, unlike the integer parser */
    {S("-.5"), 1, -0.5L},
    {S(".5"), 1, 0.5L},
    {S("5."), 1, 5},
    {S("1e3"), 1, 1000},
    {S("1E3"), 1, 1000},
    {S("5.0e3"), 1, 5000},
    {S("-2.5e-3"), 1, -0.0025L},
    {S("0x10"), 1, 16},
    {S("0x1p-2"), 1, 0.25L},
    {S("007"), 1, 7}, /* leading zeros are fine for floats */
    {S("-0"), 1, 0},
    {S("inf"), 1, INFINITY},
    {S("+inf"), 1, INFINITY},
    {S("-inf"), 1, -INFINITY},
    {S("INF"), 1, INFINITY},
    {S("Infinity"), 1, INFINITY},
    {S("-infinity"), 1, -INFINITY},
    {S(""), 0, 0},
    {S(" 1"), 0, 0},
    {S("\t1"), 0, 0},
    {S("\n1"), 0, 0},
    {S("1 "), 0, 0},
    {S("1\n"), 0, 0},
    {S(" "), 0, 0},
    {S("."), 0, 0},
    {S("-"), 0, 0},
    {S("+"), 0, 0},
    {S("e5"), 0, 0},
    {S("1e"), 0, 0},
    {S("1e+"), 0, 0},
    {S("1,5"), 0, 0},
    {S("1_000"), 0, 0},
    {S("1.5x"), 0, 0},
    {S("0x"), 0, 0},
    {S("nan"), 0, 0},
    {S("NaN"), 0, 0},
    {S("-nan"), 0, 0},
    {S("nan(123)"), 0, 0},
    {S("inf "), 0, 0},
    {S("infx"), 0, 0},
    {S("1\0"), 0, 0},
    {S("1\0" "5"), 0, 0},
    {S("\0" "1"), 0, 0},
    {S("1e5000"), 0, 0},   /* overflow, for long double and double */
    {S("-1e5000"), 0, 0},
    {S("1e-5000"), 0, 0},  /* underflow to zero */
    {S("0e-5000"), 1, 0},  /* an exact zero is no underflow */
    {S("0e5000"), 1, 0},
};

static void test_parse_float_table(void)
{
    for (size_t i = 0; i < sizeof(float_cases) / sizeof(float_cases[0]); i++) {
        const struct float_case *c = &float_cases[i];
        long double ld = 42;
        double d = 42;
        int okl = num_parse_ld(c->s, c->len, &ld);
        int okd = num_parse_double(c->s, c->len, &d);
        if (okl != c->ok || okd != c->ok)
            fprintf(stderr, "case %zu: \"%.*s\" (%zu bytes)\n", i, (int)c->len, c->s, c->len);
        CHECK_EQ(okl, c->ok);
        CHECK_EQ(okd, c->ok);
        if (c->ok) {
            CHECK((double)ld == (double)c->v);
            CHECK(d == (double)c->v);
        } else {
            CHECK(ld == 42 && d == 42); /* untouched on failure */
        }
        CHECK_EQ(num_parse_ld(c->s, c->len, NULL), c->ok);
        CHECK_EQ(num_parse_double(c->s, c->len, NULL), c->ok);
    }
}

/* Where long double and double part ways: the range of each. */
static void test_parse_float_ranges(void)
{
    long double ld;
    double d;

    CHECK_EQ(num_parse_double(S("1.7976931348623157e308"), &d), 1);
    CHECK(d == DBL_MAX);
    CHECK_EQ(num_parse_double(S("1e309"), &d), 0);
    CHECK_EQ(num_parse_double(S("1e-400"), &d), 0);
    CHECK_EQ(num_parse_double(S("4.9e-324"), &d), 1); /* subnormal: kept, as in Redis */
    CHECK(d > 0);
    CHECK_EQ(num_parse_double(S("-0.0"), &d), 1);
    CHECK(d == 0 && signbit(d));
#if X87_LONG_DOUBLE
    CHECK_EQ(num_parse_ld(S("1e309"), &ld), 1);
    CHECK_EQ(num_parse_ld(S("1e-400"), &ld), 1);
    CHECK_EQ(num_parse_ld(S("1.18973149535723176502e+4932"), &ld), 1);
    CHECK(ld == LDBL_MAX);
    CHECK_EQ(num_parse_ld(S("1.2e4932"), &ld), 0);
    CHECK_EQ(num_parse_ld(S("4e-4951"), &ld), 1); /* subnormal */
    CHECK_EQ(num_parse_ld(S("1e-4960"), &ld), 0);
#endif
    (void)ld;
}

static void test_parse_float_lengths(void)
{
    /* Not NUL-terminated: only s[0..len) counts. */
    long double ld = 0;
    double d = 0;
    CHECK_EQ(num_parse_ld("2.5e10", 3, &ld), 1);
    CHECK(ld == 2.5L);
    CHECK_EQ(num_parse_double("2.5e10", 3, &d), 1);
    CHECK(d == 2.5);
    CHECK_EQ(num_parse_ld(NULL, 0, &ld), 0);
    CHECK_EQ(num_parse_double(NULL, 0, &d), 0);

    /* Exact-size heap buffers, so that ASan sees any over-read. */
    char *b = malloc(4);
    ASSERT(b != NULL);
    memcpy(b, "1.25", 4);
    CHECK_EQ(num_parse_ld(b, 4, &ld), 1);
    CHECK(ld == 1.25L);
    CHECK_EQ(num_parse_double(b, 4, &d), 1);
    CHECK(d == 1.25);
    free(b);

    /* The input bound: "1." then zeros is 1.0 at any length, up to NUM_LD_STR_MAX - 1. */
    size_t big = NUM_LD_STR_MAX + 10;
    char *h = malloc(big);
    ASSERT(h != NULL);
    memset(h, '0', big);
    h[0] = '1';
    h[1] = '.';
    CHECK_EQ(num_parse_ld(h, NUM_LD_STR_MAX - 1, &ld), 1);
    CHECK(ld == 1);
    CHECK_EQ(num_parse_double(h, NUM_LD_STR_MAX - 1, &d), 1);
    CHECK_EQ(num_parse_ld(h, NUM_LD_STR_MAX, &ld), 0);
    CHECK_EQ(num_parse_double(h, NUM_LD_STR_MAX, &d), 0);
    CHECK_EQ(num_parse_ld(h, big, &ld), 0);
    free(h);
}

static void test_parse_float_keeps_errno(void)
{
    long double ld;
    double d;
    errno = EAGAIN;
    CHECK_EQ(num_parse_ld(S("1e5000"), &ld), 0);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(num_parse_double(S("1e-400"), &d), 0);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(num_parse_double(S("3"), &d), 1);
    CHECK_EQ(errno, EAGAIN);
}

static void check_format_ld(long double v, const char *want)
{
    char buf[NUM_LD_STR_MAX];
    memset(buf, 'x', 64);
    size_t n = num_format_ld(v, buf, sizeof(buf));
    CHECK_EQ(n, strlen(want));
    CHECK_EQ(buf[n], '\0');
    CHECK_STR_EQ(buf, want);
}

static void test_format_ld(void)
{
    check_format_ld(0, "0");
    check_format_ld(-0.0L, "0"); /* "-0" normalised, as Redis */
    check_format_ld(1, "1");
    check_format_ld(-1, "-1");
    check_format_ld(1.5L, "1.5");
    check_format_ld(-2.25L, "-2.25");
    check_format_ld(100, "100");
    check_format_ld(1e10L, "10000000000");
    check_format_ld(0.5L, "0.5");
    check_format_ld(0.0625L, "0.0625");
    check_format_ld(1e-18L, "0");   /* below the 17th decimal: rounds to 0 */
    check_format_ld(-1e-20L, "0");  /* "-0.00000000000000000" trims to "-0", then "0" */
    check_format_ld(1e-17L, "0.00000000000000001");
    check_format_ld(INFINITY, "inf");
    check_format_ld(-INFINITY, "-inf");
    check_format_ld(NAN, "nan");
#if X87_LONG_DOUBLE
    check_format_ld(0.1L, "0.1");
    check_format_ld(3.14L, "3.14");
    check_format_ld(-123.456L, "-123.456");
#endif
}

/* INCRBYFLOAT: parse both, add, refuse NaN/inf, format. Returns 0 on a Redis error. */
static size_t incrbyfloat(const char *cur, const char *incr, char *out, size_t cap)
{
    long double a, b;
    if (!num_parse_ld(cur, strlen(cur), &a) || !num_parse_ld(incr, strlen(incr), &b))
        return 0;
    long double sum = a + b;
    if (isnan(sum) || isinf(sum))
        return 0;
    return num_format_ld(sum, out, cap);
}

static void check_incr(const char *cur, const char *incr, const char *want)
{
    char buf[NUM_LD_STR_MAX];
    size_t n = incrbyfloat(cur, incr, buf, sizeof(buf));
    if (want == NULL) {
        CHECK_EQ(n, 0);
        return;
    }
    CHECK_MEM_EQ(buf, n, want, strlen(want));
}

static const char redis_1e300[] = /* redis: SET k 1e300; INCRBYFLOAT k 0 */
    "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152"
    "0837504971903503725086142748359035925561846729839130962605207486462873271356418436532940842"
    "5510760601678972665293237003055138294762099454029477278188962060617926761162709741065056718"
    "7386105690089424915104006144";

static const char redis_dbl_max_x2[] = /* redis: SET k 1.7976931348623157e308; INCRBYFLOAT k <same> */
    "3595386269724631399918420935482088680967728938886583569706288415303532570462487927094037372"
    "1677417112885758683885104137861741672690227211071579455605295523414699795537257678967123632"
    "6588091188869859074894581254961338834769297758245552436667197907705664206565009503223382416"
    "235440319971852753604933726679072768";

static void test_incrbyfloat_examples(void)
{
    /* Redis's INCRBYFLOAT documentation. */
    check_incr("10.50", "0.1", "10.6");
    check_incr("10.6", "-5", "5.6");
    check_incr("5.0e3", "2.0e2", "5200");
    check_incr("3.0e0", "1.1", "4.1");
    check_incr("4.1", "0.000001", "4.100001");
    check_incr("4.100001", "-4.100001", "0");
    check_incr("0", "0.1", "0.1");
    check_incr("0.1", "0.2", "0.3");
    check_incr("-0", "-0", "0");
    check_incr("0", "-1e-20", "0");
    check_incr("0", "3.0e-4951", "0");
    check_incr("0", "0.1234567890123456789", "0.12345678901234568");
    check_incr("12345678.987654321", "0", "12345678.98765432100026374");
    check_incr("1e28", "1.5", "9999999999999999999731564544");
    check_incr("1e44", "0", "100000000000000000001038625398088182045605888");
    check_incr("-1e45", "0", "-1000000000000000000010386253980881820456058880");
    check_incr("1e300", "0", redis_1e300);
    check_incr("1.7976931348623157e308", "1.7976931348623157e308", redis_dbl_max_x2);
    /* Errors: "increment would produce NaN or Infinity", and unparsable operands. */
    check_incr("1", "inf", NULL);
    check_incr("inf", "1", NULL);
    check_incr("inf", "-inf", NULL);
    check_incr("1.18973149535723176502e+4932", "1.18973149535723176502e+4932", NULL);
    check_incr("1", "nan", NULL);
    check_incr("1", " 1", NULL);
    check_incr("abc", "1", NULL);
    check_incr("", "1", NULL);

    /* LDBL_MAX prints as its 4933 integer digits, which need the big buffer. */
    char buf[NUM_LD_STR_MAX];
    size_t n = incrbyfloat("1.18973149535723176502e+4932", "0", buf, sizeof(buf));
    CHECK_EQ(n, 4933);
    CHECK_MEM_EQ(buf, 20, "11897314953572317650", 20);
}

static void test_format_ld_cap(void)
{
    char buf[64];

    /* No room: 0, and an empty string when there is room for the NUL. */
    memset(buf, 'x', sizeof(buf));
    CHECK_EQ(num_format_ld(1.5L, buf, 0), 0);
    CHECK_EQ(buf[0], 'x');
    CHECK_EQ(num_format_ld(1.5L, buf, 3), 0);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(num_format_ld(1.5L, buf, 4), 3);
    CHECK_STR_EQ(buf, "1.5");
    CHECK_EQ(num_format_ld(-INFINITY, buf, 4), 0);
    CHECK_EQ(num_format_ld(-INFINITY, buf, 5), 4);
    CHECK_STR_EQ(buf, "-inf");
    CHECK_EQ(num_format_ld(NAN, buf, 3), 0);
    CHECK_EQ(num_format_ld(NAN, buf, 4), 3);

    /* Fits once trimmed although the untrimmed "%.17Lf" output would not. */
    CHECK_EQ(num_format_ld(-1e-20L, buf, 2), 1);
    CHECK_STR_EQ(buf, "0");
    CHECK_EQ(num_format_ld(123456.0L, buf, 7), 6);
    CHECK_STR_EQ(buf, "123456");

    /* cap 48: everything below 1e28 on any platform... */
    CHECK(num_format_ld(-9.999999999999999e27L, buf, 48) > 0);
    CHECK(num_format_ld(-1234567890123456789.123456789L, buf, 48) > 0);
#if X87_LONG_DOUBLE
    /* ...and below 1e46 with x87 long doubles, integers from 2^63 up. */
    CHECK_EQ(num_format_ld(-9.99e45L, buf, 48), 47);
    CHECK_EQ(num_format_ld(9.99e46L, buf, 48), 47);
    CHECK_EQ(num_format_ld(-9.99e46L, buf, 48), 0);
    CHECK_EQ(num_format_ld(1e300L, buf, 48), 0);
    CHECK_EQ(buf[0], '\0');
#endif
}

/* Every double formats, parses back and formats to the same string (the formatted string is
 * what INCRBYFLOAT stores and later parses again). */
static void test_ld_round_trip(void)
{
    char a[NUM_LD_STR_MAX], b[NUM_LD_STR_MAX];
    long failures = 0;
    for (long i = 0; i < 20000; i++) {
        double x;
        uint64_t bits = rng_next();
        memcpy(&x, &bits, sizeof(x));
        if (isnan(x) || isinf(x))
            continue;
        long double v = x, back = 0;
        size_t n = num_format_ld(v, a, sizeof(a));
        if (n == 0 || !num_parse_ld(a, n, &back)) {
            /* Only tiny magnitudes may print as "0"... which still parses. */
            failures++;
            continue;
        }
        size_t m = num_format_ld(back, b, sizeof(b));
        if (m != n || memcmp(a, b, n) != 0)
            failures++;
    }
    CHECK_EQ(failures, 0);
}

int main(void)
{
    TEST_RUN(test_parse_i64_table);
    TEST_RUN(test_parse_i64_not_terminated);
    TEST_RUN(test_parse_u64_table);
    TEST_RUN(test_format_i64_table);
    TEST_RUN(test_i64_round_trip);
    TEST_RUN(test_u64_random);
    TEST_RUN(test_parse_float_table);
    TEST_RUN(test_parse_float_ranges);
    TEST_RUN(test_parse_float_lengths);
    TEST_RUN(test_parse_float_keeps_errno);
    TEST_RUN(test_format_ld);
    TEST_RUN(test_incrbyfloat_examples);
    TEST_RUN(test_format_ld_cap);
    TEST_RUN(test_ld_round_trip);
    return TEST_REPORT();
}

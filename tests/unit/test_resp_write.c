/*
 * test_resp_write.c — the reply writer: byte-exact output of every reply type in RESP2 and
 * RESP3, the inline fast paths against the general ones, buffer growth and failure.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "resp/resp_write.h"
#include "test.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* The failure tests ask for impossible sizes: under AddressSanitizer, malloc must then return
 * NULL as libc's does instead of stopping the program. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* Checks that the buffer holds exactly `want`, then empties it. */
#define EXPECT(b, want)                                                                    \
    do {                                                                                   \
        CHECK_MEM_EQ((b)->data, (b)->len, want, sizeof(want) - 1);                         \
        (b)->len = 0;                                                                      \
    } while (0)

static void test_buf(void)
{
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    CHECK(b.data == NULL);
    CHECK_EQ(b.cap, 0);
    CHECK_EQ(resp_buf_append(&b, LIT("hello world")), RESP_OK);
    CHECK(b.cap >= 11);
    resp_buf_consume(&b, 6);
    EXPECT(&b, "world");
    CHECK_EQ(resp_buf_append(&b, LIT("abc")), RESP_OK);
    resp_buf_consume(&b, 10);
    CHECK_EQ(b.len, 0);

    /* Growth keeps the content. */
    for (int i = 0; i < 10000; i++)
        ASSERT(resp_buf_append(&b, "0123456789", 10) == RESP_OK);
    CHECK_EQ(b.len, 100000);
    CHECK(memcmp(b.data + 99990, "0123456789", 10) == 0);

    /* A reservation that cannot be met fails and leaves the buffer as it was. */
    size_t len = b.len, cap = b.cap;
    CHECK_EQ(resp_buf_reserve(&b, SIZE_MAX), RESP_ENOMEM);
    CHECK_EQ(resp_buf_reserve(&b, SIZE_MAX - b.len - 1), RESP_ENOMEM);
    CHECK_EQ(resp_buf_reserve(&b, (size_t)1 << 62), RESP_ENOMEM);
    CHECK_EQ(b.len, len);
    CHECK_EQ(b.cap, cap);
    /* Same for a reply too large to reserve: nothing is written, nothing is read from s. */
    CHECK_EQ(resp_write_bulk(&b, "x", SIZE_MAX - 10), RESP_ENOMEM);
    CHECK_EQ(resp_write_bulk(&b, "x", (size_t)1 << 62), RESP_ENOMEM);
    CHECK_EQ(resp_write_simple(&b, "x", SIZE_MAX), RESP_ENOMEM);
    CHECK_EQ(resp_write_verbatim(&b, "txt", "x", SIZE_MAX - 2, 3), RESP_ENOMEM);
    CHECK_EQ(resp_write_error(&b, "x", SIZE_MAX - 1), RESP_ENOMEM);
    CHECK_EQ(b.len, len);
    CHECK_EQ(b.cap, cap);
    resp_buf_free(&b);
    CHECK(b.data == NULL);
    CHECK_EQ(b.len, 0);

    ASSERT(resp_buf_init(&b, 100) == RESP_OK);
    CHECK_EQ(b.cap, 100);
    resp_buf_free(&b);
    CHECK_EQ(resp_buf_init(&b, SIZE_MAX), RESP_ENOMEM);
    CHECK(b.data == NULL);
    CHECK_EQ(b.cap, 0);
    CHECK_EQ(resp_write_ok(&b), RESP_OK);
    EXPECT(&b, "+OK\r\n");
    resp_buf_free(&b);
}

static void test_simple_and_errors(void)
{
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    CHECK_EQ(resp_write_ok(&b), RESP_OK);
    EXPECT(&b, "+OK\r\n");
    CHECK_EQ(resp_write_simple(&b, LIT("PONG")), RESP_OK);
    EXPECT(&b, "+PONG\r\n");
    CHECK_EQ(resp_write_simple(&b, LIT("")), RESP_OK);
    EXPECT(&b, "+\r\n");
    CHECK_EQ(resp_write_simple(&b, LIT("a\r\nb\nc\r")), RESP_OK);
    EXPECT(&b, "+a  b c \r\n");

    CHECK_EQ(resp_write_error(&b, LIT("ERR unknown command 'x'")), RESP_OK);
    EXPECT(&b, "-ERR unknown command 'x'\r\n");
    CHECK_EQ(resp_write_error(&b, LIT("-WRONGTYPE Operation against a key")), RESP_OK);
    EXPECT(&b, "-WRONGTYPE Operation against a key\r\n");
    CHECK_EQ(resp_write_error(&b, LIT("ERR bad\r\nthing")), RESP_OK);
    EXPECT(&b, "-ERR bad  thing\r\n");
    CHECK_EQ(resp_write_error(&b, LIT("")), RESP_OK);
    EXPECT(&b, "-\r\n");
    CHECK_EQ(resp_write_error(&b, LIT("-")), RESP_OK);
    EXPECT(&b, "-\r\n");

    CHECK_EQ(resp_write_blob_error(&b, LIT("SYNTAX a\r\nb"), 3), RESP_OK);
    EXPECT(&b, "!11\r\nSYNTAX a\r\nb\r\n");
    CHECK_EQ(resp_write_blob_error(&b, LIT("SYNTAX a\r\nb"), 2), RESP_OK);
    EXPECT(&b, "-SYNTAX a  b\r\n");
    resp_buf_free(&b);
}

static void test_integers(void)
{
    static const struct {
        long long v;
        const char *out;
    } cases[] = {
        {0, ":0\r\n"},
        {1, ":1\r\n"},
        {9, ":9\r\n"},
        {10, ":10\r\n"},
        {42, ":42\r\n"},
        {99, ":99\r\n"},
        {100, ":100\r\n"},
        {999, ":999\r\n"},
        {1000, ":1000\r\n"},
        {10000, ":10000\r\n"},
        {123456789, ":123456789\r\n"},
        {-1, ":-1\r\n"},
        {-10, ":-10\r\n"},
        {-100, ":-100\r\n"},
        {LLONG_MAX, ":9223372036854775807\r\n"},
        {LLONG_MIN, ":-9223372036854775808\r\n"},
        {1000000000000000000LL, ":1000000000000000000\r\n"},
    };
    resp_buf slow, fast;

    ASSERT(resp_buf_init(&slow, 0) == RESP_OK);
    ASSERT(resp_buf_init(&fast, 4096) == RESP_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* From an empty buffer (growth path) and with room (fast path): same bytes. */
        CHECK_EQ(resp_write_int(&slow, cases[i].v), RESP_OK);
        CHECK_MEM_EQ(slow.data, slow.len, cases[i].out, strlen(cases[i].out));
        CHECK_EQ(resp_write_int(&fast, cases[i].v), RESP_OK);
        CHECK_MEM_EQ(fast.data, fast.len, cases[i].out, strlen(cases[i].out));
        resp_buf_free(&slow);
        fast.len = 0;
    }
    /* Every value from -1000 to 100000 against printf. */
    char want[32];
    for (long long v = -1000; v <= 100000; v++) {
        int n = snprintf(want, sizeof(want), ":%lld\r\n", v);
        fast.len = 0;
        CHECK_EQ(resp_write_int(&fast, v), RESP_OK);
        if (fast.len != (size_t)n || memcmp(fast.data, want, (size_t)n) != 0) {
            CHECK_MEM_EQ(fast.data, fast.len, want, (size_t)n);
            break;
        }
    }
    /* Powers of ten and their neighbours, for the digit count. */
    for (unsigned long long p = 1; p <= 1000000000000000000ULL; p *= 10) {
        for (long long d = -1; d <= 1; d++) {
            long long v = (long long)p + d;
            int n = snprintf(want, sizeof(want), ":%lld\r\n", v);
            fast.len = 0;
            CHECK_EQ(resp_write_int(&fast, v), RESP_OK);
            CHECK_MEM_EQ(fast.data, fast.len, want, (size_t)n);
        }
    }
    resp_buf_free(&fast);
}

static void test_bulk(void)
{
    resp_buf b, fast;
    char data[1200], want[1300];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    ASSERT(resp_buf_init(&fast, 4096) == RESP_OK);
    CHECK_EQ(resp_write_bulk(&b, LIT("hello")), RESP_OK);
    EXPECT(&b, "$5\r\nhello\r\n");
    CHECK_EQ(resp_write_bulk(&b, NULL, 0), RESP_OK);
    EXPECT(&b, "$0\r\n\r\n");
    CHECK_EQ(resp_write_bulk(&b, LIT("a\0\r\nb")), RESP_OK);
    EXPECT(&b, "$5\r\na\0\r\nb\r\n");
    /* Each length from 0 to 1200, from an empty buffer and with room. */
    for (size_t n = 0; n <= sizeof(data); n++) {
        int h = snprintf(want, sizeof(want), "$%zu\r\n", n);
        memcpy(want + h, data, n);
        memcpy(want + h + n, "\r\n", 2);
        resp_buf_free(&b);
        CHECK_EQ(resp_write_bulk(&b, data, n), RESP_OK);
        CHECK_MEM_EQ(b.data, b.len, want, (size_t)h + n + 2);
        fast.len = 0;
        CHECK_EQ(resp_write_bulk(&fast, data, n), RESP_OK);
        CHECK_MEM_EQ(fast.data, fast.len, want, (size_t)h + n + 2);
    }
    /* Exactly enough room for the fast path, and one byte less. */
    for (size_t n = 0; n < 100; n++) {
        for (int slack = -1; slack <= 1; slack++) {
            resp_buf t;
            size_t exact = (n < 10 ? 4 : 5) + n + 2;
            ASSERT(resp_buf_init(&t, exact + (size_t)(slack + 1)) == RESP_OK);
            CHECK_EQ(resp_write_bulk(&t, data, n), RESP_OK);
            CHECK_EQ(t.len, exact);
            resp_buf_free(&t);
        }
    }
    resp_buf_free(&b);
    resp_buf_free(&fast);
}

static void test_nulls_and_aggregates(void)
{
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    CHECK_EQ(resp_write_null(&b, 2), RESP_OK);
    EXPECT(&b, "$-1\r\n");
    CHECK_EQ(resp_write_null(&b, 3), RESP_OK);
    EXPECT(&b, "_\r\n");
    CHECK_EQ(resp_write_null_array(&b, 2), RESP_OK);
    EXPECT(&b, "*-1\r\n");
    CHECK_EQ(resp_write_null_array(&b, 3), RESP_OK);
    EXPECT(&b, "_\r\n");

    CHECK_EQ(resp_write_array(&b, 0), RESP_OK);
    EXPECT(&b, "*0\r\n");
    CHECK_EQ(resp_write_array(&b, 12345), RESP_OK);
    EXPECT(&b, "*12345\r\n");
    CHECK_EQ(resp_write_map(&b, 3, 3), RESP_OK);
    EXPECT(&b, "%3\r\n");
    CHECK_EQ(resp_write_map(&b, 3, 2), RESP_OK);
    EXPECT(&b, "*6\r\n");
    CHECK_EQ(resp_write_map(&b, SIZE_MAX, 2), RESP_EINVAL);
    CHECK_EQ(b.len, 0);
    CHECK_EQ(resp_write_set(&b, 2, 3), RESP_OK);
    EXPECT(&b, "~2\r\n");
    CHECK_EQ(resp_write_set(&b, 2, 2), RESP_OK);
    EXPECT(&b, "*2\r\n");
    CHECK_EQ(resp_write_push(&b, 3, 3), RESP_OK);
    EXPECT(&b, ">3\r\n");
    CHECK_EQ(resp_write_push(&b, 3, 2), RESP_OK);
    EXPECT(&b, "*3\r\n");
    CHECK_EQ(resp_write_attr(&b, 1, 3), RESP_OK);
    EXPECT(&b, "|1\r\n");
    CHECK_EQ(resp_write_attr(&b, 1, 2), RESP_EINVAL);
    CHECK_EQ(b.len, 0);
    resp_buf_free(&b);
}

static void test_scalars_resp3(void)
{
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    CHECK_EQ(resp_write_bool(&b, 1, 3), RESP_OK);
    EXPECT(&b, "#t\r\n");
    CHECK_EQ(resp_write_bool(&b, 0, 3), RESP_OK);
    EXPECT(&b, "#f\r\n");
    CHECK_EQ(resp_write_bool(&b, 7, 2), RESP_OK);
    EXPECT(&b, ":1\r\n");
    CHECK_EQ(resp_write_bool(&b, 0, 2), RESP_OK);
    EXPECT(&b, ":0\r\n");

    CHECK_EQ(resp_write_bignum(&b, LIT("-3492890328409238509324850943850943825024385"), 3),
             RESP_OK);
    EXPECT(&b, "(-3492890328409238509324850943850943825024385\r\n");
    CHECK_EQ(resp_write_bignum(&b, LIT("12345678901234567890"), 2), RESP_OK);
    EXPECT(&b, "$20\r\n12345678901234567890\r\n");

    CHECK_EQ(resp_write_verbatim(&b, "txt", LIT("Some string"), 3), RESP_OK);
    EXPECT(&b, "=15\r\ntxt:Some string\r\n");
    CHECK_EQ(resp_write_verbatim(&b, NULL, LIT(""), 3), RESP_OK);
    EXPECT(&b, "=4\r\ntxt:\r\n");
    CHECK_EQ(resp_write_verbatim(&b, "mkd", LIT("# a\r\nb"), 3), RESP_OK);
    EXPECT(&b, "=10\r\nmkd:# a\r\nb\r\n");
    CHECK_EQ(resp_write_verbatim(&b, "txt", LIT("Some string"), 2), RESP_OK);
    EXPECT(&b, "$11\r\nSome string\r\n");
    resp_buf_free(&b);
}

static void test_doubles(void)
{
    static const struct {
        double d;
        const char *r3, *r2;
    } cases[] = {
        {0.0, ",0\r\n", "$1\r\n0\r\n"},
        {-0.0, ",-0\r\n", "$2\r\n-0\r\n"},
        {3.0, ",3\r\n", "$1\r\n3\r\n"},
        {-2.5, ",-2.5\r\n", "$4\r\n-2.5\r\n"},
        {0.1, ",0.10000000000000001\r\n", "$19\r\n0.10000000000000001\r\n"},
        {1e300, ",1.0000000000000001e+300\r\n", "$23\r\n1.0000000000000001e+300\r\n"},
        {1.5e-7, ",1.4999999999999999e-07\r\n", "$22\r\n1.4999999999999999e-07\r\n"},
        {123456789012.0, ",123456789012\r\n", "$12\r\n123456789012\r\n"},
        {INFINITY, ",inf\r\n", "$3\r\ninf\r\n"},
        {-INFINITY, ",-inf\r\n", "$4\r\n-inf\r\n"},
        {NAN, ",nan\r\n", "$3\r\nnan\r\n"},
        {-NAN, ",nan\r\n", "$3\r\nnan\r\n"},
    };
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ(resp_write_double(&b, cases[i].d, 3), RESP_OK);
        CHECK_MEM_EQ(b.data, b.len, cases[i].r3, strlen(cases[i].r3));
        b.len = 0;
        CHECK_EQ(resp_write_double(&b, cases[i].d, 2), RESP_OK);
        CHECK_MEM_EQ(b.data, b.len, cases[i].r2, strlen(cases[i].r2));
        b.len = 0;
    }
    resp_buf_free(&b);
}

static void test_deferred(void)
{
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    CHECK_EQ(resp_write_ok(&b), RESP_OK);
    size_t mark = resp_write_deferred_begin(&b);
    CHECK_EQ(mark, 5);
    for (int i = 0; i < 12; i++)
        ASSERT(resp_write_int(&b, i) == RESP_OK);
    CHECK_EQ(resp_write_deferred_end(&b, mark, RESP_AGG_ARRAY, 12, 3), RESP_OK);
    EXPECT(&b, "+OK\r\n*12\r\n:0\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n:9\r\n"
               ":10\r\n:11\r\n");

    mark = resp_write_deferred_begin(&b);
    ASSERT(resp_write_bulk(&b, LIT("k")) == RESP_OK);
    ASSERT(resp_write_int(&b, 1) == RESP_OK);
    CHECK_EQ(resp_write_deferred_end(&b, mark, RESP_AGG_MAP, 1, 3), RESP_OK);
    EXPECT(&b, "%1\r\n$1\r\nk\r\n:1\r\n");
    mark = resp_write_deferred_begin(&b);
    ASSERT(resp_write_bulk(&b, LIT("k")) == RESP_OK);
    ASSERT(resp_write_int(&b, 1) == RESP_OK);
    CHECK_EQ(resp_write_deferred_end(&b, mark, RESP_AGG_MAP, 1, 2), RESP_OK);
    EXPECT(&b, "*2\r\n$1\r\nk\r\n:1\r\n");
    mark = resp_write_deferred_begin(&b);
    CHECK_EQ(resp_write_deferred_end(&b, mark, RESP_AGG_SET, 0, 3), RESP_OK);
    EXPECT(&b, "~0\r\n");
    mark = resp_write_deferred_begin(&b);
    CHECK_EQ(resp_write_deferred_end(&b, mark, RESP_AGG_PUSH, 0, 2), RESP_OK);
    EXPECT(&b, "*0\r\n");
    CHECK_EQ(resp_write_deferred_end(&b, 10, RESP_AGG_PUSH, 0, 2), RESP_EINVAL);
    resp_buf_free(&b);
}

/* What a pub/sub message and an HGETALL look like to RESP2 and RESP3 clients. */
static void test_composite(void)
{
    resp_buf b;

    ASSERT(resp_buf_init(&b, 0) == RESP_OK);
    for (int proto = 2; proto <= 3; proto++) {
        ASSERT(resp_write_push(&b, 3, proto) == RESP_OK);
        ASSERT(resp_write_bulk(&b, LIT("message")) == RESP_OK);
        ASSERT(resp_write_bulk(&b, LIT("ch")) == RESP_OK);
        ASSERT(resp_write_bulk(&b, LIT("hi")) == RESP_OK);
        ASSERT(resp_write_map(&b, 1, proto) == RESP_OK);
        ASSERT(resp_write_bulk(&b, LIT("f")) == RESP_OK);
        ASSERT(resp_write_null(&b, proto) == RESP_OK);
        if (proto == 2)
            EXPECT(&b, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n*2\r\n$1\r\nf\r\n$-1\r\n");
        else
            EXPECT(&b, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n%1\r\n$1\r\nf\r\n_\r\n");
    }
    resp_buf_free(&b);
}

int main(void)
{
    TEST_RUN(test_buf);
    TEST_RUN(test_simple_and_errors);
    TEST_RUN(test_integers);
    TEST_RUN(test_bulk);
    TEST_RUN(test_nulls_and_aggregates);
    TEST_RUN(test_scalars_resp3);
    TEST_RUN(test_doubles);
    TEST_RUN(test_deferred);
    TEST_RUN(test_composite);
    return TEST_REPORT();
}

/*
 * test_resp_reply.c — the RESP3 reply parser: every type, nesting, attributes, errors, the
 * depth limit, splits at every byte boundary, and round trips writer -> parser in RESP2/RESP3.
 */
#include <math.h>

#include "resp/resp_reply.h"
#include "resp/resp_write.h"
#include "test.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* A tree as text, to compare two parses: attributes first, then type, payload, children. */
static void dump(resp_buf *o, const resp_value *v)
{
    char line[128];
    int n;

    if (v->attr) {
        ASSERT(resp_buf_append(o, "@", 1) == RESP_OK);
        dump(o, v->attr);
    }
    n = snprintf(line, sizeof(line), "%c%c i=%lld n=%zu d=%.17g f=%s s=", v->type, v->wire,
                 v->integer, v->n, v->type == RESP_T_DOUBLE ? v->dbl : 0.0, v->fmt);
    ASSERT(resp_buf_append(o, line, (size_t)n) == RESP_OK);
    if (v->str) {
        ASSERT(v->str[v->len] == '\0');
        ASSERT(resp_buf_append(o, v->str, v->len) == RESP_OK);
    }
    ASSERT(resp_buf_append(o, "\n", 1) == RESP_OK);
    size_t kids = v->type == RESP_T_MAP || v->type == RESP_T_ATTR ? 2 * v->n : v->n;
    for (size_t i = 0; i < kids; i++)
        dump(o, &v->elems[i]);
}

/* Parses one reply that must take all of in[0..n), and returns its tree. */
static resp_value *parse_one(const char *in, size_t n)
{
    resp_reply_parser rp;
    resp_value *v = NULL;

    resp_reply_parser_init(&rp, 0, 0);
    ssize_t r = resp_reply_parse(&rp, in, n, &v);
    CHECK_EQ(r, (ssize_t)n);
    if (r < 0) {
        fprintf(stderr, "  error: %s\n", resp_reply_parser_error(&rp));
        return NULL;
    }
    return v;
}

static void expect_err(const char *in, size_t n, const char *text)
{
    resp_reply_parser rp;
    resp_value *v = NULL;

    resp_reply_parser_init(&rp, 0, 0);
    CHECK_EQ(resp_reply_parse(&rp, in, n, &v), RESP_EPROTO);
    CHECK_STR_EQ(resp_reply_parser_error(&rp), text);
    CHECK(v == NULL);
    /* Usable again afterwards. */
    CHECK_EQ(resp_reply_parse(&rp, LIT("+OK\r\n"), &v), 5);
    resp_value_free(v);
}

static void expect_unfin(const char *in, size_t n)
{
    resp_reply_parser rp;
    resp_value *v = NULL;

    resp_reply_parser_init(&rp, 0, 0);
    CHECK_EQ(resp_reply_parse(&rp, in, n, &v), RESP_EUNFIN);
    CHECK(v == NULL);
}

static void test_scalars(void)
{
    resp_value *v;

    v = parse_one(LIT("+OK\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_SIMPLE);
    CHECK_MEM_EQ(v->str, v->len, "OK", 2);
    resp_value_free(v);

    v = parse_one(LIT("-ERR bad thing\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_ERROR);
    CHECK_STR_EQ(v->str, "ERR bad thing");
    resp_value_free(v);

    v = parse_one(LIT(":-9223372036854775808\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_INT);
    CHECK(v->integer == -9223372036854775807LL - 1);
    CHECK(v->str == NULL);
    resp_value_free(v);

    v = parse_one(LIT("$5\r\na\0\r\nb\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_BULK);
    CHECK_MEM_EQ(v->str, v->len, "a\0\r\nb", 5);
    resp_value_free(v);

    v = parse_one(LIT("$0\r\n\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_BULK);
    CHECK_EQ(v->len, 0);
    CHECK_STR_EQ(v->str, "");
    resp_value_free(v);

    v = parse_one(LIT("$-1\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_NULL);
    CHECK_EQ(v->wire, '$');
    resp_value_free(v);

    v = parse_one(LIT("*-1\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_NULL);
    CHECK_EQ(v->wire, '*');
    resp_value_free(v);

    v = parse_one(LIT("_\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_NULL);
    CHECK_EQ(v->wire, '_');
    resp_value_free(v);

    v = parse_one(LIT(",3.25\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_DOUBLE);
    CHECK(v->dbl == 3.25);
    CHECK_STR_EQ(v->str, "3.25");
    resp_value_free(v);
    v = parse_one(LIT(",-1.5e-3\r\n"));
    ASSERT(v);
    CHECK(v->dbl == -1.5e-3);
    resp_value_free(v);
    v = parse_one(LIT(",inf\r\n"));
    ASSERT(v);
    CHECK(isinf(v->dbl) && v->dbl > 0);
    resp_value_free(v);
    v = parse_one(LIT(",-inf\r\n"));
    ASSERT(v);
    CHECK(isinf(v->dbl) && v->dbl < 0);
    resp_value_free(v);
    v = parse_one(LIT(",nan\r\n"));
    ASSERT(v);
    CHECK(isnan(v->dbl));
    resp_value_free(v);

    v = parse_one(LIT("#t\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_BOOL);
    CHECK_EQ(v->integer, 1);
    resp_value_free(v);
    v = parse_one(LIT("#f\r\n"));
    ASSERT(v);
    CHECK_EQ(v->integer, 0);
    resp_value_free(v);

    v = parse_one(LIT("!21\r\nSYNTAX invalid syntax\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_BLOB_ERROR);
    CHECK_STR_EQ(v->str, "SYNTAX invalid syntax");
    resp_value_free(v);

    v = parse_one(LIT("=15\r\ntxt:Some string\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_VERBATIM);
    CHECK_STR_EQ(v->fmt, "txt");
    CHECK_STR_EQ(v->str, "Some string");
    resp_value_free(v);

    v = parse_one(LIT("(3492890328409238509324850943850943825024385\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_BIGNUM);
    CHECK_STR_EQ(v->str, "3492890328409238509324850943850943825024385");
    resp_value_free(v);
}

static void test_aggregates(void)
{
    resp_value *v;

    v = parse_one(LIT("*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_ARRAY);
    ASSERT(v->n == 3);
    CHECK_EQ(v->elems[0].integer, 1);
    ASSERT(v->elems[1].n == 2);
    CHECK_STR_EQ(v->elems[1].elems[0].str, "a");
    CHECK_STR_EQ(v->elems[1].elems[1].str, "b");
    CHECK_EQ(v->elems[2].type, RESP_T_ARRAY);
    CHECK_EQ(v->elems[2].n, 0);
    CHECK(v->elems[2].elems == NULL);
    resp_value_free(v);

    v = parse_one(LIT("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_MAP);
    ASSERT(v->n == 2);
    CHECK_STR_EQ(v->elems[0].str, "first");
    CHECK_EQ(v->elems[1].integer, 1);
    CHECK_STR_EQ(v->elems[2].str, "second");
    CHECK_EQ(v->elems[3].integer, 2);
    resp_value_free(v);

    v = parse_one(LIT("~2\r\n+a\r\n#t\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_SET);
    CHECK_EQ(v->n, 2);
    resp_value_free(v);

    v = parse_one(LIT(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_PUSH);
    ASSERT(v->n == 3);
    CHECK_STR_EQ(v->elems[2].str, "hi");
    resp_value_free(v);

    /* Nulls inside aggregates. */
    v = parse_one(LIT("*3\r\n$-1\r\n*-1\r\n_\r\n"));
    ASSERT(v);
    ASSERT(v->n == 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(v->elems[i].type, RESP_T_NULL);
    resp_value_free(v);
}

static void test_attributes(void)
{
    resp_value *v;

    /* The example of the RESP3 specification. */
    v = parse_one(LIT("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
                      "*2\r\n:2039123\r\n:9543892\r\n"));
    ASSERT(v);
    CHECK_EQ(v->type, RESP_T_ARRAY);
    ASSERT(v->n == 2);
    CHECK_EQ(v->elems[1].integer, 9543892);
    ASSERT(v->attr != NULL);
    CHECK_EQ(v->attr->type, RESP_T_ATTR);
    ASSERT(v->attr->n == 1);
    CHECK_STR_EQ(v->attr->elems[0].str, "key-popularity");
    ASSERT(v->attr->elems[1].n == 2);
    CHECK(v->attr->elems[1].elems[3].dbl == 0.0012);
    CHECK(v->attr->attr == NULL);
    resp_value_free(v);

    /* Inside an aggregate, an attribute is not one of its elements. */
    v = parse_one(LIT("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n"));
    ASSERT(v);
    ASSERT(v->n == 2);
    ASSERT(v->elems[0].attr != NULL);
    CHECK_STR_EQ(v->elems[0].attr->elems[1].str, "b");
    CHECK_EQ(v->elems[0].integer, 1);
    CHECK(v->elems[1].attr == NULL);
    resp_value_free(v);

    /* Two attributes before one value: the later one links the earlier. */
    v = parse_one(LIT("|1\r\n+a\r\n:1\r\n|0\r\n:5\r\n"));
    ASSERT(v);
    CHECK_EQ(v->integer, 5);
    ASSERT(v->attr && v->attr->n == 0);
    ASSERT(v->attr->attr && v->attr->attr->n == 1);
    resp_value_free(v);

    /* An attribute alone is not a reply: wait for its value. */
    expect_unfin(LIT("|1\r\n+a\r\n+b\r\n"));
    expect_unfin(LIT("*1\r\n|1\r\n+a\r\n+b\r\n"));
}

static void test_pipelined(void)
{
    static const char in[] = "+OK\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n$-1\r\n";
    static const resp_type want[] = {RESP_T_SIMPLE, RESP_T_INT, RESP_T_ARRAY, RESP_T_NULL};
    resp_reply_parser rp;
    size_t off = 0;

    resp_reply_parser_init(&rp, 0, 0);
    for (size_t i = 0; i < 4; i++) {
        resp_value *v = NULL;
        ssize_t r = resp_reply_parse(&rp, in + off, sizeof(in) - 1 - off, &v);
        ASSERT(r > 0);
        CHECK_EQ(v->type, want[i]);
        resp_value_free(v);
        off += (size_t)r;
    }
    CHECK_EQ(off, sizeof(in) - 1);
}

static void test_errors(void)
{
    expect_err(LIT("?\r\n"), "Protocol error: invalid reply type byte '?'");
    expect_err(LIT("\r\n"), "Protocol error: invalid reply type byte 0x0d");
    expect_err(LIT("\0"), "Protocol error: invalid reply type byte 0x00");
    expect_err(LIT("+a\rb\r\n"), "Protocol error: CR not followed by LF");
    expect_err(LIT(":abc\r\n"), "Protocol error: invalid integer");
    expect_err(LIT(":\r\n"), "Protocol error: invalid integer");
    expect_err(LIT(":01\r\n"), "Protocol error: invalid integer");
    expect_err(LIT("_x\r\n"), "Protocol error: invalid null");
    expect_err(LIT("#x\r\n"), "Protocol error: invalid boolean");
    expect_err(LIT("#\r\n"), "Protocol error: invalid boolean");
    expect_err(LIT(",abc\r\n"), "Protocol error: invalid double");
    expect_err(LIT(",\r\n"), "Protocol error: invalid double");
    expect_err(LIT(",1.5x\r\n"), "Protocol error: invalid double");
    expect_err(LIT(",0x10\r\n"), "Protocol error: invalid double");
    expect_err(LIT("(12a\r\n"), "Protocol error: invalid big number");
    expect_err(LIT("(-\r\n"), "Protocol error: invalid big number");
    expect_err(LIT("$-2\r\n"), "Protocol error: invalid bulk length");
    expect_err(LIT("$abc\r\n"), "Protocol error: invalid bulk length");
    expect_err(LIT("!-1\r\n"), "Protocol error: invalid bulk length");
    expect_err(LIT("=-1\r\n"), "Protocol error: invalid bulk length");
    expect_err(LIT("$3\r\nabcd\r\n"), "Protocol error: expected CRLF after bulk data");
    expect_err(LIT("=3\r\ntxt\r\n"), "Protocol error: invalid verbatim string");
    expect_err(LIT("=5\r\ntxtX1\r\n"), "Protocol error: invalid verbatim string");
    expect_err(LIT("*-2\r\n"), "Protocol error: invalid aggregate length");
    expect_err(LIT("%-1\r\n"), "Protocol error: invalid aggregate length");
    expect_err(LIT("%9223372036854775807\r\n"), "Protocol error: invalid aggregate length");
    expect_err(LIT("$?\r\n"), "Protocol error: streamed strings are not supported");
    expect_err(LIT("*?\r\n"), "Protocol error: streamed aggregates are not supported");
    expect_err(LIT("*2\r\n:1\r\n:x\r\n"), "Protocol error: invalid integer");
    /* An invalid type byte is refused without waiting for a line end. */
    expect_err(LIT("x"), "Protocol error: invalid reply type byte 'x'");

    expect_unfin(LIT(""));
    expect_unfin(LIT("+OK"));
    expect_unfin(LIT("+OK\r"));
    expect_unfin(LIT("$3\r\nab"));
    expect_unfin(LIT("$3\r\nabc\r"));
    expect_unfin(LIT("*2\r\n:1\r\n"));
    /* A huge announced length is never allocated: it just waits. */
    expect_unfin(LIT("*9223372036854775807\r\n:1\r\n"));
    expect_unfin(LIT("%4611686018427387903\r\n"));
}

static void test_limits(void)
{
    resp_reply_parser rp;
    resp_value *v = NULL;
    char in[256];
    size_t n = 0;

    /* Default depth 16: 16 nested arrays are fine, 17 are not. */
    for (int i = 0; i < 16; i++) {
        memcpy(in + n, "*1\r\n", 4);
        n += 4;
    }
    memcpy(in + n, ":1\r\n", 4);
    resp_reply_parser_init(&rp, 0, 0);
    CHECK_EQ(resp_reply_parse(&rp, in, n + 4, &v), (ssize_t)n + 4);
    resp_value_free(v);
    memmove(in + 4, in, n + 4);
    CHECK_EQ(resp_reply_parse(&rp, in, n + 8, &v), RESP_EPROTO);
    CHECK_STR_EQ(resp_reply_parser_error(&rp), "Protocol error: reply nested too deeply");

    /* Attributes count as nesting too. */
    resp_reply_parser_init(&rp, 1, 0);
    CHECK_EQ(resp_reply_parse(&rp, LIT("*1\r\n|0\r\n:1\r\n"), &v), 12);
    resp_value_free(v);
    CHECK_EQ(resp_reply_parse(&rp, LIT("*1\r\n|1\r\n:1\r\n:1\r\n:1\r\n"), &v), RESP_EPROTO);
    CHECK_EQ(resp_reply_parse(&rp, LIT("*1\r\n*1\r\n:1\r\n"), &v), RESP_EPROTO);
    CHECK_EQ(resp_reply_parse(&rp, LIT("*1\r\n*0\r\n"), &v), 8);
    resp_value_free(v);

    /* The cap. */
    resp_reply_parser_init(&rp, 1000, 0);
    CHECK_EQ(rp.max_depth, RESP_REPLY_MAX_DEPTH);

    resp_reply_parser_init(&rp, 0, 5);
    CHECK_EQ(resp_reply_parse(&rp, LIT("$6\r\n"), &v), RESP_EPROTO);
    CHECK_STR_EQ(resp_reply_parser_error(&rp), "Protocol error: invalid bulk length");
    CHECK_EQ(resp_reply_parse(&rp, LIT("$5\r\n"), &v), RESP_EUNFIN);
}

/* ---------------------------------------------------------------------------------------------
 * Incremental parsing
 * ------------------------------------------------------------------------------------------- */

static const char *const samples[] = {
    "+OK\r\n",
    "$5\r\nhello\r\n",
    "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n",
    "%2\r\n+first\r\n:1\r\n+second\r\n,2.5\r\n",
    ("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
     "*2\r\n:2039123\r\n:9543892\r\n"),
    ">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n",
    "~3\r\n#t\r\n#f\r\n_\r\n",
    "*4\r\n=15\r\ntxt:Some string\r\n!3\r\nERR\r\n(12345678901234567890\r\n$-1\r\n",
    "*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n*1\r\n*1\r\n*-1\r\n",
};

/* Every prefix gives EUNFIN on one parser (resuming each time, from a moved copy), then the
 * whole gives the same tree as a fresh parse. */
static void test_every_prefix(void)
{
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        const char *in = samples[s];
        size_t n = strlen(in);
        resp_buf ref, got;
        resp_reply_parser rp;
        resp_value *v = parse_one(in, n);

        ASSERT(v);
        ASSERT(resp_buf_init(&ref, 0) == RESP_OK);
        dump(&ref, v);
        resp_value_free(v);

        resp_reply_parser_init(&rp, 0, 0);
        for (size_t k = 0; k < n; k++) {
            char *copy = malloc(k + 1);
            memcpy(copy, in, k);
            v = NULL;
            CHECK_EQ(resp_reply_parse(&rp, copy, k, &v), RESP_EUNFIN);
            CHECK(v == NULL);
            free(copy);
        }
        char *copy = malloc(n);
        memcpy(copy, in, n);
        CHECK_EQ(resp_reply_parse(&rp, copy, n, &v), (ssize_t)n);
        free(copy);
        ASSERT(resp_buf_init(&got, 0) == RESP_OK);
        dump(&got, v);
        resp_value_free(v);
        CHECK_MEM_EQ(got.data, got.len, ref.data, ref.len);
        resp_buf_free(&got);
        resp_buf_free(&ref);
    }
}

/* A reply of 100000 elements in 1000-byte reads: resumes each time. */
static void test_big_reply_chunked(void)
{
    resp_buf in;
    resp_reply_parser rp;
    resp_value *v = NULL;

    ASSERT(resp_buf_init(&in, 0) == RESP_OK);
    ASSERT(resp_write_array(&in, 100000) == RESP_OK);
    for (int i = 0; i < 100000; i++)
        ASSERT((i % 2 ? resp_write_int(&in, i) : resp_write_bulk(&in, "abc", 3)) == RESP_OK);

    resp_reply_parser_init(&rp, 0, 0);
    ssize_t r = RESP_EUNFIN;
    size_t have = 0;
    while (r == RESP_EUNFIN) {
        have = in.len - have < 1000 ? in.len : have + 1000;
        r = resp_reply_parse(&rp, in.data, have, &v);
    }
    CHECK_EQ(r, (ssize_t)in.len);
    ASSERT(v && v->n == 100000);
    CHECK_EQ(v->elems[99999].integer, 99999);
    CHECK_STR_EQ(v->elems[99998].str, "abc");
    resp_value_free(v);
    resp_buf_free(&in);
}

/* ---------------------------------------------------------------------------------------------
 * Round trips: what the writer writes, the reply parser reads back.
 * ------------------------------------------------------------------------------------------- */

static void write_everything(resp_buf *b, int proto)
{
    ASSERT(resp_write_array(b, proto >= 3 ? 17 : 16) == RESP_OK);
    ASSERT(resp_write_ok(b) == RESP_OK);
    ASSERT(resp_write_simple(b, LIT("a\r\nb")) == RESP_OK);
    ASSERT(resp_write_error(b, LIT("ERR x")) == RESP_OK);
    ASSERT(resp_write_blob_error(b, LIT("ERR y"), proto) == RESP_OK);
    ASSERT(resp_write_int(b, -42) == RESP_OK);
    ASSERT(resp_write_bulk(b, LIT("bin\0\r\n")) == RESP_OK);
    ASSERT(resp_write_null(b, proto) == RESP_OK);
    ASSERT(resp_write_null_array(b, proto) == RESP_OK);
    ASSERT(resp_write_double(b, 2.5, proto) == RESP_OK);
    ASSERT(resp_write_double(b, -INFINITY, proto) == RESP_OK);
    ASSERT(resp_write_bool(b, 1, proto) == RESP_OK);
    ASSERT(resp_write_bignum(b, LIT("-123456789012345678901234567890"), proto) == RESP_OK);
    ASSERT(resp_write_verbatim(b, "txt", LIT("v\r\n"), proto) == RESP_OK);
    ASSERT(resp_write_map(b, 1, proto) == RESP_OK);
    ASSERT(resp_write_bulk(b, LIT("k")) == RESP_OK);
    ASSERT(resp_write_null(b, proto) == RESP_OK);
    ASSERT(resp_write_set(b, 2, proto) == RESP_OK);
    ASSERT(resp_write_int(b, 1) == RESP_OK);
    ASSERT(resp_write_int(b, 2) == RESP_OK);
    size_t mark = resp_write_deferred_begin(b);
    ASSERT(resp_write_bulk(b, LIT("x")) == RESP_OK);
    ASSERT(resp_write_deferred_end(b, mark, RESP_AGG_PUSH, 1, proto) == RESP_OK);
    if (proto >= 3) {
        ASSERT(resp_write_attr(b, 1, proto) == RESP_OK);
        ASSERT(resp_write_simple(b, LIT("ttl")) == RESP_OK);
        ASSERT(resp_write_int(b, 100) == RESP_OK);
        ASSERT(resp_write_int(b, 7) == RESP_OK);
    }
}

static void test_round_trip(void)
{
    for (int proto = 2; proto <= 3; proto++) {
        resp_buf b;
        ASSERT(resp_buf_init(&b, 0) == RESP_OK);
        write_everything(&b, proto);
        resp_value *v = parse_one(b.data, b.len);
        ASSERT(v);
        resp_value *e = v->elems;
        int r3 = proto >= 3;
        ASSERT(v->type == RESP_T_ARRAY && v->n == (r3 ? 17u : 16u));
        CHECK(e[0].type == RESP_T_SIMPLE && !strcmp(e[0].str, "OK"));
        CHECK(e[1].type == RESP_T_SIMPLE && !strcmp(e[1].str, "a  b"));
        CHECK(e[2].type == RESP_T_ERROR && !strcmp(e[2].str, "ERR x"));
        CHECK(e[3].type == (r3 ? RESP_T_BLOB_ERROR : RESP_T_ERROR) && !strcmp(e[3].str, "ERR y"));
        CHECK(e[4].type == RESP_T_INT && e[4].integer == -42);
        CHECK(e[5].type == RESP_T_BULK);
        CHECK_MEM_EQ(e[5].str, e[5].len, "bin\0\r\n", 6);
        CHECK(e[6].type == RESP_T_NULL && e[6].wire == (r3 ? '_' : '$'));
        CHECK(e[7].type == RESP_T_NULL && e[7].wire == (r3 ? '_' : '*'));
        CHECK(e[8].type == (r3 ? RESP_T_DOUBLE : RESP_T_BULK) && !strcmp(e[8].str, "2.5"));
        CHECK(!r3 || e[8].dbl == 2.5);
        CHECK(e[9].type == (r3 ? RESP_T_DOUBLE : RESP_T_BULK) && !strcmp(e[9].str, "-inf"));
        CHECK(!r3 || (isinf(e[9].dbl) && e[9].dbl < 0));
        CHECK(e[10].type == (r3 ? RESP_T_BOOL : RESP_T_INT) && e[10].integer == 1);
        CHECK(e[11].type == (r3 ? RESP_T_BIGNUM : RESP_T_BULK) &&
              !strcmp(e[11].str, "-123456789012345678901234567890"));
        CHECK(e[12].type == (r3 ? RESP_T_VERBATIM : RESP_T_BULK) && !strcmp(e[12].str, "v\r\n"));
        CHECK(!r3 || !strcmp(e[12].fmt, "txt"));
        if (r3) {
            CHECK(e[13].type == RESP_T_MAP && e[13].n == 1);
        } else {
            CHECK(e[13].type == RESP_T_ARRAY && e[13].n == 2);
        }
        CHECK(e[13].elems[1].type == RESP_T_NULL);
        CHECK(e[14].type == (r3 ? RESP_T_SET : RESP_T_ARRAY) && e[14].n == 2);
        CHECK(e[14].elems[1].integer == 2);
        CHECK(e[15].type == (r3 ? RESP_T_PUSH : RESP_T_ARRAY) && e[15].n == 1);
        CHECK(!strcmp(e[15].elems[0].str, "x"));
        CHECK(e[15].attr == NULL);
        if (r3) {
            /* The attribute is not an element: it belongs to the 17th. */
            CHECK(e[16].type == RESP_T_INT && e[16].integer == 7);
            ASSERT(e[16].attr && e[16].attr->n == 1);
            CHECK(!strcmp(e[16].attr->elems[0].str, "ttl"));
            CHECK(e[16].attr->elems[1].integer == 100);
        }
        resp_value_free(v);
        if (r3) {
            /* The attribute and its value, as a reply on their own. */
            size_t mark = b.len;
            ASSERT(resp_write_attr(&b, 1, 3) == RESP_OK);
            ASSERT(resp_write_simple(&b, LIT("ttl")) == RESP_OK);
            ASSERT(resp_write_int(&b, 100) == RESP_OK);
            ASSERT(resp_write_int(&b, 7) == RESP_OK);
            v = parse_one(b.data + mark, b.len - mark);
            ASSERT(v);
            CHECK(v->type == RESP_T_INT && v->integer == 7);
            CHECK(v->attr && v->attr->elems[1].integer == 100);
            resp_value_free(v);
        }
        resp_buf_free(&b);
    }
}

int main(void)
{
    TEST_RUN(test_scalars);
    TEST_RUN(test_aggregates);
    TEST_RUN(test_attributes);
    TEST_RUN(test_pipelined);
    TEST_RUN(test_errors);
    TEST_RUN(test_limits);
    TEST_RUN(test_every_prefix);
    TEST_RUN(test_big_reply_chunked);
    TEST_RUN(test_round_trip);
    return TEST_REPORT();
}

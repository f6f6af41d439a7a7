/*
 * test_resp_parse.c — the request parser: both request forms, every Redis error text and limit,
 * inline quoting, splits at every byte boundary, pipelines, binary-safe arguments.
 */
#include <stdarg.h>

#include "resp/resp_parse.h"
#include "resp/resp_write.h"
#include "test.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* Parses `in` with a fresh parser (default limits) and checks the byte count and the
 * arguments, given as NUL-terminated strings. */
static void expect_cmd(const char *in, size_t n, ssize_t consumed, size_t argc, ...)
{
    resp_parser p;
    va_list ap;

    resp_parser_init(&p, NULL);
    ssize_t r = resp_parse(&p, in, n);
    CHECK_EQ(r, consumed);
    if (r > 0) {
        CHECK_EQ(p.argc, argc);
        va_start(ap, argc);
        for (size_t i = 0; i < argc && i < p.argc; i++) {
            const char *want = va_arg(ap, const char *);
            CHECK_MEM_EQ(p.argv[i].ptr, p.argv[i].len, want, strlen(want));
        }
        va_end(ap);
    } else if (r == RESP_EPROTO) {
        fprintf(stderr, "  unexpected error: %s\n", resp_parser_error(&p));
    }
    resp_parser_deinit(&p);
}

/* Parses `in` with the given limits (NULL: defaults) and expects a protocol error `text`. */
static void expect_err_lim(const char *in, size_t n, const resp_limits *lim, const char *text)
{
    resp_parser p;

    resp_parser_init(&p, lim);
    ssize_t r = resp_parse(&p, in, n);
    CHECK_EQ(r, RESP_EPROTO);
    CHECK_STR_EQ(resp_parser_error(&p), text);
    CHECK_EQ(strncmp(resp_parser_error_reply(&p), "ERR ", 4), 0);
    CHECK_STR_EQ(resp_parser_error_reply(&p) + 4, text);
    /* The parser is usable again after an error. */
    CHECK_EQ(resp_parse(&p, LIT("PING\r\n")), 6);
    CHECK_EQ(p.argc, 1);
    CHECK_STR_EQ(resp_parser_error(&p), "");
    resp_parser_deinit(&p);
}

static void expect_err(const char *in, size_t n, const char *text)
{
    expect_err_lim(in, n, NULL, text);
}

static void expect_unfin(const char *in, size_t n, const resp_limits *lim)
{
    resp_parser p;

    resp_parser_init(&p, lim);
    CHECK_EQ(resp_parse(&p, in, n), RESP_EUNFIN);
    resp_parser_deinit(&p);
}

/* ---------------------------------------------------------------------------------------------
 * Results as bytes, to compare one way of feeding the parser with another.
 * ------------------------------------------------------------------------------------------- */

static void record(resp_buf *out, const resp_parser *p, ssize_t r)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "r=%zd argc=%zu inline=%d|", r, r > 0 ? p->argc : 0,
                     r > 0 ? p->is_inline : 0);
    ASSERT(resp_buf_append(out, line, (size_t)n) == RESP_OK);
    if (r > 0) {
        for (size_t i = 0; i < p->argc; i++) {
            n = snprintf(line, sizeof(line), "%zu:", p->argv[i].len);
            ASSERT(resp_buf_append(out, line, (size_t)n) == RESP_OK);
            ASSERT(resp_buf_append(out, p->argv[i].ptr, p->argv[i].len) == RESP_OK);
        }
    } else if (r == RESP_EPROTO) {
        ASSERT(resp_buf_append(out, resp_parser_error(p), strlen(resp_parser_error(p))) ==
               RESP_OK);
    }
    ASSERT(resp_buf_append(out, "\n", 1) == RESP_OK);
}

/* Everything the parser makes of `in` given whole: each command, then how it stops. */
static void run_whole(const char *in, size_t n, const resp_limits *lim, resp_buf *out)
{
    resp_parser p;
    size_t off = 0;

    resp_parser_init(&p, lim);
    for (;;) {
        ssize_t r = resp_parse(&p, in + off, n - off);
        record(out, &p, r);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    resp_parser_deinit(&p);
}

/* The same, fed `chunk` bytes at a time through a connection buffer that is copied to a new
 * allocation before every call, so that pointers kept from an earlier call would be caught. */
static void run_chunked(const char *in, size_t n, size_t chunk, const resp_limits *lim,
                        resp_buf *out)
{
    resp_parser p;
    size_t fed = 0, off = 0;
    ssize_t r = RESP_EUNFIN;

    resp_parser_init(&p, lim);
    while (fed < n) {
        fed += chunk < n - fed ? chunk : n - fed;
        for (;;) {
            size_t avail = fed - off;
            char *copy = malloc(avail ? avail : 1);
            ASSERT(copy != NULL);
            memcpy(copy, in + off, avail);
            r = resp_parse(&p, copy, avail);
            if (r > 0 || r == RESP_EPROTO || (r == RESP_EUNFIN && fed == n))
                record(out, &p, r);
            free(copy);
            if (r <= 0)
                break;
            off += (size_t)r;
        }
        if (r == RESP_EPROTO)
            break;
    }
    if (n == 0)
        record(out, &p, resp_parse(&p, in, 0));
    resp_parser_deinit(&p);
}

static void check_chunkings(const char *in, size_t n, const resp_limits *lim)
{
    resp_buf whole, chunked;

    ASSERT(resp_buf_init(&whole, 0) == RESP_OK);
    run_whole(in, n, lim, &whole);
    size_t step = n > 300 ? n / 37 + 1 : 1;
    for (size_t chunk = 1; chunk <= n; chunk += chunk < 16 ? 1 : step) {
        ASSERT(resp_buf_init(&chunked, 0) == RESP_OK);
        run_chunked(in, n, chunk, lim, &chunked);
        CHECK_MEM_EQ(chunked.data, chunked.len, whole.data, whole.len);
        resp_buf_free(&chunked);
    }
    resp_buf_free(&whole);
}

/* ---------------------------------------------------------------------------------------------
 * Multibulk
 * ------------------------------------------------------------------------------------------- */

static void test_multibulk_basic(void)
{
    expect_cmd(LIT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"), 31, 3, "SET", "k", "hello");
    expect_cmd(LIT("*1\r\n$4\r\nPING\r\n"), 14, 1, "PING");
    expect_cmd(LIT("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), 19, 2, "GET", "");
    /* The bytes after the command are left for the next call. */
    expect_cmd(LIT("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"), 14, 1, "PING");

    /* Arguments point into the caller's buffer: zero copy. */
    static const char in[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    resp_parser p;
    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, sizeof(in) - 1), sizeof(in) - 1);
    CHECK(p.argv[0].ptr == in + 8);
    CHECK(p.argv[1].ptr == in + 17);
    CHECK_EQ(p.is_inline, 0);
    resp_parser_deinit(&p);
}

static void test_multibulk_empty(void)
{
    /* Redis ignores these silently (tests/unit/protocol.tcl "Negative multibulk length"). */
    expect_cmd(LIT("*0\r\n"), 4, 0);
    expect_cmd(LIT("*-1\r\n"), 5, 0);
    expect_cmd(LIT("*-10\r\n"), 6, 0);
    expect_cmd(LIT("*-10\r\n*1\r\n$4\r\nPING\r\n"), 6, 0);
}

static void test_multibulk_binary(void)
{
    static const char in[] = "*3\r\n$3\r\nSET\r\n$4\r\n\0\r\n\0\r\n$6\r\n\r\n\r\n\r\n\r\n";
    resp_parser p;

    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, sizeof(in) - 1), sizeof(in) - 1);
    ASSERT(p.argc == 3);
    CHECK_MEM_EQ(p.argv[1].ptr, p.argv[1].len, "\0\r\n\0", 4);
    CHECK_MEM_EQ(p.argv[2].ptr, p.argv[2].len, "\r\n\r\n\r\n", 6);
    resp_parser_deinit(&p);
    check_chunkings(in, sizeof(in) - 1, NULL);
}

static void test_multibulk_errors(void)
{
    const char *mb = "Protocol error: invalid multibulk length";
    const char *bl = "Protocol error: invalid bulk length";

    expect_err(LIT("*abc\r\n"), mb);
    expect_err(LIT("*\r\n"), mb);
    expect_err(LIT("*01\r\n"), mb);
    expect_err(LIT("*+1\r\n"), mb);
    expect_err(LIT("* 1\r\n"), mb);
    expect_err(LIT("*1 \r\n"), mb);
    expect_err(LIT("*-0\r\n"), mb);
    expect_err(LIT("*20000000\r\n"), mb); /* protocol.tcl "Out of range multibulk length" */
    expect_err(LIT("*1048577\r\n"), mb);
    expect_err(LIT("*99999999999999999999\r\n"), mb);
    expect_err(LIT("*1\rX"), mb); /* mnemo is strict: CR must be followed by LF */
    expect_unfin(LIT("*1048576\r\n"), NULL);

    expect_err(LIT("*1\r\n$abc\r\n"), bl);
    expect_err(LIT("*1\r\n$\r\n"), bl);
    expect_err(LIT("*1\r\n$-1\r\n"), bl); /* protocol.tcl "Negative multibulk payload length" */
    expect_err(LIT("*1\r\n$01\r\n"), bl);
    expect_err(LIT("*1\r\n$536870913\r\n"), bl); /* 512 MB + 1 */
    expect_err(LIT("*1\r\n$9223372036854775807\r\n"), bl);
    expect_err(LIT("*1\r\n$99999999999999999999\r\n"), bl);
    expect_err(LIT("*1\r\n$3\rXfoo\r\n"), bl);
    expect_unfin(LIT("*1\r\n$536870912\r\n"), NULL);

    /* protocol.tcl "Wrong multibulk payload header". */
    expect_err(LIT("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"), "Protocol error: expected '$', got 'f'");
    expect_err(LIT("*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
    expect_err(LIT("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
    expect_err(LIT("*1\r\n\n\r\n"), "Protocol error: expected '$', got ' '");
    expect_err(LIT("*1\r\n\0\r\n"), "Protocol error: expected '$', got ' '");
    /* The '$' is checked once the line is complete, as in Redis. */
    expect_unfin(LIT("*1\r\nfoo"), NULL);

    expect_err(LIT("*1\r\n$1\r\nab\r\n"), "Protocol error: expected CRLF after bulk argument");
    expect_err(LIT("*1\r\n$1\r\na\n\r"), "Protocol error: expected CRLF after bulk argument");
    expect_unfin(LIT("*1\r\n$1\r\na\r"), NULL);
}

static void test_header_line_limits(void)
{
    size_t max = RESP_DEFAULT_MAX_INLINE;
    char *in = malloc(max + 16);
    ASSERT(in != NULL);

    /* Without a CR, Redis waits for up to max_inline bytes of a header line, then gives up. */
    in[0] = '*';
    memset(in + 1, '1', max + 8);
    expect_unfin(in, max, NULL);
    expect_err(in, max + 1, "Protocol error: too big mbulk count string");
    expect_err(in, max + 8, "Protocol error: too big mbulk count string");

    memcpy(in, "*1\r\n$", 5);
    memset(in + 5, '1', max + 8);
    expect_unfin(in, 4 + max, NULL);
    expect_err(in, 4 + max + 1, "Protocol error: too big bulk count string");

    /* A CR within the limit: the line is read, and its number judged. */
    memset(in + 5, '1', max);
    in[4 + max] = '\r';
    in[4 + max + 1] = '\n';
    expect_err(in, 4 + max + 2, "Protocol error: invalid bulk length");
    free(in);
}

static void test_limits(void)
{
    resp_limits lim;

    resp_limits_default(&lim);
    CHECK_EQ(lim.max_multibulk, 1024 * 1024);
    CHECK_EQ(lim.max_bulk, 512LL * 1024 * 1024);
    CHECK_EQ(lim.max_inline, 64 * 1024);
    CHECK_EQ(lim.unauthenticated, 0);

    lim.max_multibulk = 3;
    lim.max_bulk = 5;
    lim.max_inline = 16;
    expect_err_lim(LIT("*4\r\n"), &lim, "Protocol error: invalid multibulk length");
    expect_unfin(LIT("*3\r\n"), &lim);
    expect_err_lim(LIT("*1\r\n$6\r\n"), &lim, "Protocol error: invalid bulk length");
    expect_unfin(LIT("*1\r\n$5\r\n"), &lim);
    expect_err_lim(LIT("0123456789abcdefg"), &lim, "Protocol error: too big inline request");
    expect_unfin(LIT("0123456789abcdef"), &lim);

    /* Redis's limits before AUTH: 10 arguments, 16384 bytes each; the general limits first. */
    resp_limits_default(&lim);
    lim.unauthenticated = 1;
    expect_err_lim(LIT("*11\r\n"), &lim, "Protocol error: unauthenticated multibulk length");
    expect_err_lim(LIT("*100\r\n"), &lim, "Protocol error: unauthenticated multibulk length");
    expect_err_lim(LIT("*2000000\r\n"), &lim, "Protocol error: invalid multibulk length");
    expect_unfin(LIT("*10\r\n"), &lim);
    expect_err_lim(LIT("*1\r\n$16385\r\n"), &lim, "Protocol error: unauthenticated bulk length");
    expect_err_lim(LIT("*1\r\n$100000000\r\n"), &lim,
                   "Protocol error: unauthenticated bulk length");
    expect_err_lim(LIT("*1\r\n$600000000\r\n"), &lim, "Protocol error: invalid bulk length");
    expect_unfin(LIT("*1\r\n$16384\r\n"), &lim);

    /* Limits can change between commands (AUTH succeeded). */
    resp_parser p;
    resp_parser_init(&p, &lim);
    CHECK_EQ(resp_parse(&p, LIT("*1\r\n$4\r\nAUTH\r\n")), 14);
    p.limits.unauthenticated = 0;
    CHECK_EQ(resp_parse(&p, LIT("*11\r\n")), RESP_EUNFIN);
    resp_parser_deinit(&p);
}

/* ---------------------------------------------------------------------------------------------
 * Inline
 * ------------------------------------------------------------------------------------------- */

static void test_inline_basic(void)
{
    expect_cmd(LIT("PING\r\n"), 6, 1, "PING");
    expect_cmd(LIT("PING\n"), 5, 1, "PING");
    expect_cmd(LIT("SET k v\r\n"), 9, 3, "SET", "k", "v");
    expect_cmd(LIT("  SET \t k   v  \r\n"), 17, 3, "SET", "k", "v");
    expect_cmd(LIT("SET k v\r\nGET k\r\n"), 9, 3, "SET", "k", "v");
    /* A CR inside the line separates arguments; only the one before LF ends the line. */
    expect_cmd(LIT("a\rb\r\n"), 5, 2, "a", "b");
    expect_cmd(LIT("a\r\r\n"), 4, 1, "a");
    /* \v and \f are skipped between arguments but do not end one (sdssplitargs). */
    expect_cmd(LIT("\va\vb \fc\r\n"), 9, 2, "a\vb", "c");
    /* Empty lines and lines of blanks: nothing to execute. */
    expect_cmd(LIT("\r\n"), 2, 0);
    expect_cmd(LIT("\n"), 1, 0);
    expect_cmd(LIT("   \t \r\n"), 7, 0);
    expect_cmd(LIT("\r\nPING\r\n"), 2, 0);
    expect_unfin(LIT("PING"), NULL);
    expect_unfin(LIT("PING\r"), NULL);
    expect_unfin(LIT(""), NULL);
    /* The first byte decides the form: anything but '*' is inline. */
    expect_cmd(LIT("$3\r\n"), 4, 1, "$3");
    expect_cmd(LIT(" *1\r\n"), 5, 1, "*1");

    /* Arguments without quotes point into the caller's buffer. */
    static const char in[] = "SET key \"v\"\r\n";
    resp_parser p;
    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, sizeof(in) - 1), sizeof(in) - 1);
    CHECK(p.argv[0].ptr == in);
    CHECK(p.argv[1].ptr == in + 4);
    CHECK(p.argv[2].ptr < in || p.argv[2].ptr >= in + sizeof(in));
    CHECK_EQ(p.is_inline, 1);
    resp_parser_deinit(&p);
}

static void test_inline_quotes(void)
{
    expect_cmd(LIT("SET k \"a b\"\r\n"), 13, 3, "SET", "k", "a b");
    expect_cmd(LIT("SET k 'a b'\r\n"), 13, 3, "SET", "k", "a b");
    expect_cmd(LIT("\"\\x41\\x4a\\x4B\\xff\"\r\n"), 20, 1, "AJK\xff");
    expect_cmd(LIT("\"\\n\\r\\t\\b\\a\\\\\\\"\"\r\n"), 18, 1, "\n\r\t\b\a\\\"");
    expect_cmd(LIT("\"\\z\\'\"\n"), 7, 1, "z'");
    /* \x needs two hex digits; otherwise it is an escaped 'x'. */
    expect_cmd(LIT("\"\\xZZ\" \"\\x4\" \"\\x\"\r\n"), 19, 3, "xZZ", "x4", "x");
    /* Single quotes: only \' is an escape. */
    expect_cmd(LIT("'it\\'s' 'a\\nb' '\\x41'\r\n"), 23, 3, "it's", "a\\nb", "\\x41");
    expect_cmd(LIT("'\"' \"'\"\r\n"), 9, 2, "\"", "'");
    /* Quotes may start inside an argument; the closing one must end it. */
    expect_cmd(LIT("foo\"bar baz\"\r\n"), 14, 1, "foobar baz");
    expect_cmd(LIT("a'b'\r\n"), 6, 1, "ab");
    expect_cmd(LIT("\"\" ''\r\n"), 7, 2, "", "");
    expect_cmd(LIT("\"a\"\tb\r\n"), 7, 2, "a", "b");
    expect_cmd(LIT("\"a\"\vb\r\n"), 7, 2, "a", "b");
    expect_cmd(LIT("\"a\"\r\n"), 5, 1, "a");
    expect_cmd(LIT("\"a\"\r\r\n"), 6, 1, "a");
    /* Quoted CR and LF escapes inside an argument, next to plain arguments. */
    expect_cmd(LIT("x \"l1\\r\\nl2\" y 'q' z\r\n"), 22, 5, "x", "l1\r\nl2", "y", "q", "z");

    const char *uq = "Protocol error: unbalanced quotes in request";
    expect_err(LIT("\"foo\r\n"), uq);
    expect_err(LIT("'foo\r\n"), uq);
    expect_err(LIT("\"foo\"bar\r\n"), uq);
    expect_err(LIT("'foo'bar\r\n"), uq);
    expect_err(LIT("\"a\\\"\r\n"), uq);
    expect_err(LIT("\"\\\r\n"), uq);
    expect_err(LIT("'it\\'\r\n"), uq);
    expect_err(LIT("SET k \"v\r\n"), uq);
    expect_err(LIT("\"a\"\"b\"\r\n"), uq);
    expect_err(LIT("a'b'\"c\"\r\n"), uq);
    /* A backslash before the closing single quote escapes it. */
    expect_err(LIT("'\\\\'\r\n"), uq);
}

static void test_inline_binary(void)
{
    /* Redis stops at a NUL inside an inline line; mnemo keeps it (binary-safe). */
    static const char in[] = "SET k a\0b\r\n";
    resp_parser p;

    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, sizeof(in) - 1), sizeof(in) - 1);
    ASSERT(p.argc == 3);
    CHECK_MEM_EQ(p.argv[2].ptr, p.argv[2].len, "a\0b", 3);
    CHECK_EQ(resp_parse(&p, LIT("\"\\x00\\x00\"\r\n")), 12);
    ASSERT(p.argc == 1);
    CHECK_MEM_EQ(p.argv[0].ptr, p.argv[0].len, "\0\0", 2);
    resp_parser_deinit(&p);
}

static void test_inline_limit(void)
{
    size_t max = RESP_DEFAULT_MAX_INLINE;
    char *in = malloc(max + 8);
    ASSERT(in != NULL);

    memset(in, 'A', max + 8);
    expect_unfin(in, max, NULL);
    expect_err(in, max + 1, "Protocol error: too big inline request");
    expect_err(in, max + 8, "Protocol error: too big inline request");

    /* A line of max bytes ends with its LF at index max: accepted. One more byte is not. */
    in[max] = '\n';
    resp_parser p;
    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, max + 1), (ssize_t)max + 1);
    CHECK_EQ(p.argc, 1);
    CHECK_EQ(p.argv[0].len, max);
    resp_parser_deinit(&p);
    in[max] = 'A';
    in[max + 1] = '\n';
    expect_err(in, max + 2, "Protocol error: too big inline request");

    /* Many arguments on one line: argv grows, scratch holds the quoted ones. */
    size_t n = 0;
    while (n + 4 <= max) {
        memcpy(in + n, (n / 4) % 2 ? "'q' " : "ab  ", 4);
        n += 4;
    }
    in[n - 1] = '\n';
    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, n), (ssize_t)n);
    CHECK_EQ(p.argc, max / 4);
    CHECK_MEM_EQ(p.argv[0].ptr, p.argv[0].len, "ab", 2);
    CHECK_MEM_EQ(p.argv[1].ptr, p.argv[1].len, "q", 1);
    CHECK_MEM_EQ(p.argv[p.argc - 1].ptr, p.argv[p.argc - 1].len, "q", 1);
    resp_parser_deinit(&p);
    free(in);
}

/* ---------------------------------------------------------------------------------------------
 * Incremental parsing
 * ------------------------------------------------------------------------------------------- */

static const char *const samples[] = {
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
    "*1\r\n$0\r\n\r\n",
    "*2\r\n$4\r\nECHO\r\n$12\r\nab\r\ncd\r\nef\r\n\r\n",
    "*0\r\n",
    "*-1\r\n",
    "PING\r\n",
    "PING\n",
    "\r\n",
    "SET k \"a\\x41\\nb\" 'c d'\r\n",
    "  GET   key  \r\n",
    ("*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n"
     "$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n$10\r\n0123456789\r\n"),
};

/* For each sample: every prefix on one parser gives EUNFIN, then the whole gives the same
 * command as a fresh parse; and a fresh parser given one prefix, then the whole, too. */
static void test_every_prefix(void)
{
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        const char *in = samples[s];
        size_t n = strlen(in);
        resp_buf ref, got;
        resp_parser p;

        ASSERT(resp_buf_init(&ref, 0) == RESP_OK);
        resp_parser_init(&p, NULL);
        ssize_t r = resp_parse(&p, in, n);
        CHECK_EQ(r, (ssize_t)n);
        record(&ref, &p, r);
        resp_parser_deinit(&p);

        resp_parser_init(&p, NULL);
        for (size_t k = 0; k < n; k++) {
            char *copy = malloc(k + 1);
            memcpy(copy, in, k);
            CHECK_EQ(resp_parse(&p, copy, k), RESP_EUNFIN);
            free(copy);
        }
        char *copy = malloc(n);
        memcpy(copy, in, n);
        ASSERT(resp_buf_init(&got, 0) == RESP_OK);
        record(&got, &p, resp_parse(&p, copy, n));
        CHECK_MEM_EQ(got.data, got.len, ref.data, ref.len);
        resp_buf_free(&got);
        free(copy);
        resp_parser_deinit(&p);

        for (size_t k = 0; k < n; k++) {
            resp_parser_init(&p, NULL);
            CHECK_EQ(resp_parse(&p, in, k), RESP_EUNFIN);
            ASSERT(resp_buf_init(&got, 0) == RESP_OK);
            record(&got, &p, resp_parse(&p, in, n));
            CHECK_MEM_EQ(got.data, got.len, ref.data, ref.len);
            resp_buf_free(&got);
            resp_parser_deinit(&p);
        }
        resp_buf_free(&ref);
    }
}

/* All samples back to back, and some invalid streams, in every chunk size. */
static void test_chunkings(void)
{
    resp_buf all;

    ASSERT(resp_buf_init(&all, 0) == RESP_OK);
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++)
        ASSERT(resp_buf_append(&all, samples[s], strlen(samples[s])) == RESP_OK);
    check_chunkings(all.data, all.len, NULL);
    resp_buf_free(&all);

    static const char *const bad[] = {
        "PING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\nx\r\n",
        "PING\r\n\"unbalanced\r\nPING\r\n",
        "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$-5\r\n",
        "*1\r\n$2\r\nabc\r\n",
        "*1\r\n$3\r\nabc\r\n*x\r\n",
        "*5\r\n$3\r\nabc\r\n",
    };
    for (size_t s = 0; s < sizeof(bad) / sizeof(bad[0]); s++)
        check_chunkings(bad[s], strlen(bad[s]), NULL);

    /* Limits hit at different points of a chunked stream. */
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_inline = 8;
    static const char lim_in[] = "PING\r\n*1\r\n$4\r\nPING\r\n*123456789\r\n";
    check_chunkings(lim_in, sizeof(lim_in) - 1, &lim);
    static const char lim_in2[] = "*1\r\n$4\r\nPING\r\n*1\r\n$123456789";
    check_chunkings(lim_in2, sizeof(lim_in2) - 1, &lim);
    static const char lim_in3[] = "GET k\r\nGET abcdefgh\r\n";
    check_chunkings(lim_in3, sizeof(lim_in3) - 1, &lim);
}

static void test_pipeline(void)
{
    resp_buf in;
    resp_parser p;
    char key[32];
    int nk;

    ASSERT(resp_buf_init(&in, 0) == RESP_OK);
    for (int i = 0; i < 3000; i++) {
        nk = snprintf(key, sizeof(key), "key:%d", i);
        if (i % 3 == 0) {
            ASSERT(resp_write_array(&in, 3) == RESP_OK);
            ASSERT(resp_write_bulk(&in, "SET", 3) == RESP_OK);
            ASSERT(resp_write_bulk(&in, key, (size_t)nk) == RESP_OK);
            ASSERT(resp_write_bulk(&in, key, (size_t)nk) == RESP_OK);
        } else if (i % 3 == 1) {
            ASSERT(resp_buf_append(&in, "GET ", 4) == RESP_OK);
            ASSERT(resp_buf_append(&in, key, (size_t)nk) == RESP_OK);
            ASSERT(resp_buf_append(&in, "\r\n", 2) == RESP_OK);
        } else {
            ASSERT(resp_buf_append(&in, "*-1\r\n\n", 6) == RESP_OK);
        }
    }

    size_t off = 0, cmds = 0, empties = 0;
    resp_parser_init(&p, NULL);
    for (;;) {
        ssize_t r = resp_parse(&p, in.data + off, in.len - off);
        if (r <= 0) {
            CHECK_EQ(r, RESP_EUNFIN);
            break;
        }
        off += (size_t)r;
        if (p.argc == 0) {
            empties++;
            continue;
        }
        int i = (int)cmds++ / 2 * 3 + (p.is_inline ? 1 : 0);
        nk = snprintf(key, sizeof(key), "key:%d", i);
        if (p.is_inline) {
            ASSERT(p.argc == 2);
            CHECK_MEM_EQ(p.argv[0].ptr, p.argv[0].len, "GET", 3);
        } else {
            ASSERT(p.argc == 3);
            CHECK_MEM_EQ(p.argv[0].ptr, p.argv[0].len, "SET", 3);
            CHECK_MEM_EQ(p.argv[2].ptr, p.argv[2].len, key, (size_t)nk);
        }
        CHECK_MEM_EQ(p.argv[1].ptr, p.argv[1].len, key, (size_t)nk);
    }
    CHECK_EQ(off, in.len);
    CHECK_EQ(cmds, 2000);
    CHECK_EQ(empties, 2000);
    resp_parser_deinit(&p);
    resp_buf_free(&in);
}

/* A command of 2^20 arguments arriving in 16 KB reads into a buffer that grows by realloc:
 * the parser resumes where it stopped, and pointers are rebuilt for the final buffer. */
static void test_many_args_chunked(void)
{
    const size_t nargs = RESP_DEFAULT_MAX_MULTIBULK;
    resp_buf in;
    resp_parser p;

    ASSERT(resp_buf_init(&in, 0) == RESP_OK);
    ASSERT(resp_write_array(&in, nargs) == RESP_OK);
    for (size_t i = 0; i < nargs; i++) {
        char c = (char)('a' + i % 26);
        ASSERT(resp_write_bulk(&in, &c, 1) == RESP_OK);
    }

    char *conn = NULL;
    size_t have = 0, cap = 0, calls = 0;
    ssize_t r = RESP_EUNFIN;
    resp_parser_init(&p, NULL);
    while (r == RESP_EUNFIN && have < in.len) {
        size_t add = in.len - have < 16384 ? in.len - have : 16384;
        if (have + add > cap) {
            cap = cap ? cap * 2 : 16384;
            char *grown = realloc(conn, cap);
            ASSERT(grown != NULL);
            conn = grown;
        }
        memcpy(conn + have, in.data + have, add);
        have += add;
        r = resp_parse(&p, conn, have);
        calls++;
    }
    CHECK_EQ(r, (ssize_t)in.len);
    ASSERT(p.argc == nargs);
    for (size_t i = 0; i < nargs; i += 4099)
        CHECK_EQ(p.argv[i].ptr[0], 'a' + (int)(i % 26));
    CHECK_EQ(p.argv[nargs - 1].ptr[0], 'a' + (int)((nargs - 1) % 26));
    CHECK(p.argv[nargs - 1].ptr + 3 == conn + have);
    CHECK(calls > 100);

    /* The next command gives the big argv back. */
    CHECK(resp_parser_memory(&p) >= nargs * sizeof(resp_arg));
    CHECK_EQ(resp_parse(&p, LIT("PING\r\n")), 6);
    CHECK(resp_parser_memory(&p) < 4096 * sizeof(resp_arg) + 65536);
    resp_parser_deinit(&p);
    free(conn);
    resp_buf_free(&in);
}

/* A 64 MB argument in 16 KB reads: each call is O(1) once the header is read, and
 * resp_parser_want() announces the length the buffer needs. */
static void test_big_bulk_chunked(void)
{
    const size_t big = (size_t)64 << 20;
    static const char hdr[] = "*2\r\n$3\r\nSET\r\n$67108864\r\n";
    size_t total = sizeof(hdr) - 1 + big + 2;
    char *conn = malloc(total);
    resp_parser p;

    ASSERT(conn != NULL);
    memcpy(conn, hdr, sizeof(hdr) - 1);
    memset(conn + sizeof(hdr) - 1, 'v', big);
    memcpy(conn + total - 2, "\r\n", 2);

    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, conn, 6), RESP_EUNFIN);
    CHECK_EQ(resp_parser_want(&p), 0);
    CHECK_EQ(resp_parse(&p, conn, 10), RESP_EUNFIN);
    CHECK_EQ(resp_parser_want(&p), 13); /* "SET\r\n" after the 8 bytes read */
    size_t have = sizeof(hdr) - 1 + 100;
    CHECK_EQ(resp_parse(&p, conn, have), RESP_EUNFIN);
    CHECK_EQ(resp_parser_want(&p), total);
    ssize_t r = RESP_EUNFIN;
    while (have < total) {
        have = total - have < 16384 ? total : have + 16384;
        r = resp_parse(&p, conn, have);
        if (have < total)
            CHECK_EQ(r, RESP_EUNFIN);
    }
    CHECK_EQ(r, (ssize_t)total);
    ASSERT(p.argc == 2);
    CHECK_EQ(p.argv[1].len, big);
    CHECK(p.argv[1].ptr == conn + sizeof(hdr) - 1);
    resp_parser_deinit(&p);
    free(conn);
}

/* Fewer bytes than the previous call: the command starts over, nothing read out of bounds. */
static void test_shrinking_input(void)
{
    static const char in[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    resp_parser p;

    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, in, 15), RESP_EUNFIN);
    CHECK_EQ(resp_parse(&p, in, 5), RESP_EUNFIN);
    CHECK_EQ(resp_parse(&p, in, sizeof(in) - 1), sizeof(in) - 1);
    CHECK_EQ(p.argc, 2);
    CHECK_EQ(resp_parse(&p, LIT("PIN")), RESP_EUNFIN);
    CHECK_EQ(resp_parse(&p, LIT("P")), RESP_EUNFIN);
    CHECK_EQ(resp_parse(&p, LIT("PING\n")), 5);

    /* reset() forgets a partial command. */
    CHECK_EQ(resp_parse(&p, in, 15), RESP_EUNFIN);
    resp_parser_reset(&p);
    CHECK_EQ(resp_parse(&p, LIT("PING\n")), 5);
    resp_parser_deinit(&p);
    CHECK_STR_EQ(resp_strerror(RESP_EUNFIN), "incomplete input, read more");
    CHECK_STR_EQ(resp_strerror(42), "unknown status");
}

static void test_string2ll(void)
{
    long long v = 7;

    CHECK(resp_string2ll(LIT("0"), &v) && v == 0);
    CHECK(resp_string2ll(LIT("-1"), &v) && v == -1);
    CHECK(resp_string2ll(LIT("9223372036854775807"), &v) && v == 9223372036854775807LL);
    CHECK(resp_string2ll(LIT("-9223372036854775808"), &v) && v == -9223372036854775807LL - 1);
    CHECK(!resp_string2ll(LIT("9223372036854775808"), &v));
    CHECK(!resp_string2ll(LIT("-9223372036854775809"), &v));
    CHECK(!resp_string2ll(LIT("18446744073709551616"), &v));
    CHECK(!resp_string2ll(LIT(""), &v));
    CHECK(!resp_string2ll(LIT("-"), &v));
    CHECK(!resp_string2ll(LIT("-0"), &v));
    CHECK(!resp_string2ll(LIT("00"), &v));
    CHECK(!resp_string2ll(LIT("+1"), &v));
    CHECK(!resp_string2ll(LIT("1a"), &v));
}

/* ---------------------------------------------------------------------------------------------
 * The one-pass path
 * ------------------------------------------------------------------------------------------- */

/* resp_parse_fast on `in` with a fresh parser and limits `lim` (NULL: defaults): 0 if `takes`
 * is 0, else the same bytes and arguments as resp_parse. */
static void expect_fast(const char *in, size_t n, const resp_limits *lim, int takes)
{
    resp_parser p;
    resp_arg argv[8];
    size_t argc = 0;
    resp_parser_init(&p, lim);
    ssize_t f = resp_parse_fast(&p, in, n, argv, 8, &argc);
    ssize_t r = resp_parse(&p, in, n);
    if (!takes) {
        CHECK_EQ(f, 0);
    } else {
        CHECK(f > 0);
        CHECK_EQ(f, r);
        CHECK_EQ(argc, p.argc);
        for (size_t i = 0; i < argc && i < p.argc; i++) {
            CHECK(argv[i].ptr == p.argv[i].ptr);
            CHECK_EQ(argv[i].len, p.argv[i].len);
        }
    }
    resp_parser_deinit(&p);
}

static void test_fast_path(void)
{
    /* What clients send: taken, as resp_parse takes it. */
    expect_fast(LIT("*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"), NULL, 1);
    expect_fast(LIT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), NULL, 1);
    expect_fast(LIT("*2\r\n$4\r\nECHO\r\n$12\r\nab\r\ncd\r\nef\r\n\r\n"), NULL, 1);
    expect_fast(LIT("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), NULL, 1); /* the first */
    /* Everything else is left to resp_parse. */
    expect_fast(LIT("PING\r\n"), NULL, 0);                                /* inline */
    expect_fast(LIT("*0\r\n"), NULL, 0);                                  /* nothing to run */
    expect_fast(LIT("*-1\r\n"), NULL, 0);
    expect_fast(LIT("*01\r\n$4\r\nPING\r\n"), NULL, 0);                   /* leading zero */
    expect_fast(LIT("*1\r\n$04\r\nPING\r\n"), NULL, 0);
    expect_fast(LIT("*1\r\n$+4\r\nPING\r\n"), NULL, 0);                   /* sign */
    expect_fast(LIT("*1\r\n$4\r\nPING"), NULL, 0);                          /* incomplete */
    expect_fast(LIT("*2\r\n$4\r\nPING\r\n"), NULL, 0);
    expect_fast(LIT("*1\r\n$4\r\nPINGxx"), NULL, 0);                        /* no CRLF after */
    expect_fast(LIT("*1\n$4\r\nPING\r\n"), NULL, 0);                         /* LF alone */
    expect_fast(LIT("*1\r\n:4\r\nPING\r\n"), NULL, 0);                    /* not a bulk */
    expect_fast(LIT("*9\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"
                    "$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"), NULL, 0); /* > cap */
    expect_fast(LIT("*1\r\n$1234567890123456789\r\n"), NULL, 0);       /* 19 digits */
    /* Limits: past any of them, resp_parse gives the error. */
    resp_limits lim;
    resp_limits_default(&lim);
    lim.max_bulk = 3;
    expect_fast(LIT("*1\r\n$4\r\nPING\r\n"), &lim, 0);
    lim.max_bulk = 4;
    expect_fast(LIT("*1\r\n$4\r\nPING\r\n"), &lim, 1);
    lim.max_multibulk = 1;
    expect_fast(LIT("*2\r\n$4\r\nECHO\r\n$1\r\na\r\n"), &lim, 0);
    resp_limits_default(&lim);
    lim.max_inline = 2; /* "$10" is 3 bytes before its CR: too long a header line */
    expect_fast(LIT("*1\r\n$10\r\n0123456789\r\n"), &lim, 0);
    lim.max_inline = 3;
    expect_fast(LIT("*1\r\n$10\r\n0123456789\r\n"), &lim, 1);
    resp_limits_default(&lim);
    lim.unauthenticated = 1;
    expect_fast(LIT("*1\r\n$4\r\nPING\r\n"), &lim, 0);
    /* Not while a command is partly parsed. */
    resp_parser p;
    resp_arg argv[4];
    size_t argc;
    resp_parser_init(&p, NULL);
    CHECK_EQ(resp_parse(&p, LIT("*1\r\n$4\r\nPI")), RESP_EUNFIN);
    CHECK_EQ(resp_parse_fast(&p, LIT("*1\r\n$4\r\nPING\r\n"), argv, 4, &argc), 0);
    resp_parser_deinit(&p);
}

int main(void)
{
    TEST_RUN(test_string2ll);
    TEST_RUN(test_multibulk_basic);
    TEST_RUN(test_multibulk_empty);
    TEST_RUN(test_multibulk_binary);
    TEST_RUN(test_multibulk_errors);
    TEST_RUN(test_header_line_limits);
    TEST_RUN(test_limits);
    TEST_RUN(test_inline_basic);
    TEST_RUN(test_inline_quotes);
    TEST_RUN(test_inline_binary);
    TEST_RUN(test_inline_limit);
    TEST_RUN(test_every_prefix);
    TEST_RUN(test_chunkings);
    TEST_RUN(test_pipeline);
    TEST_RUN(test_many_args_chunked);
    TEST_RUN(test_big_bulk_chunked);
    TEST_RUN(test_shrinking_input);
    TEST_RUN(test_fast_path);
    return TEST_REPORT();
}

/*
 * test.h — the few assertions the unit tests use. Each failing assertion prints what was
 * expected and what came, with file and line, and the program exits non-zero at the end
 * (or at once with ASSERT_* so that later steps do not run on a broken state).
 *
 *   int main(void) { TEST_RUN(test_something); ...; return TEST_REPORT(); }
 */
#ifndef MNEMO_TEST_H
#define MNEMO_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_;
static int test_checks_;
static const char *test_current_ = "";

#define TEST_FAIL_(...)                                                                    \
    do {                                                                                   \
        fprintf(stderr, "%s:%d: in %s: ", __FILE__, __LINE__, test_current_);              \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        test_failures_++;                                                                  \
    } while (0)

/* Integer comparison (any integer type, compared as long long / unsigned long long). */
#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        test_checks_++;                                                                    \
        if (a_ != b_) TEST_FAIL_("expected %s == %s, got %lld and %lld", #a, #b, a_, b_); \
    } while (0)
#define CHECK_U64_EQ(a, b)                                                                 \
    do {                                                                                   \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);     \
        test_checks_++;                                                                    \
        if (a_ != b_) TEST_FAIL_("expected %s == %s, got %llu and %llu", #a, #b, a_, b_); \
    } while (0)
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        test_checks_++;                                                                    \
        if (!(cond)) TEST_FAIL_("expected %s", #cond);                                     \
    } while (0)
/* Byte-string comparison: pointer+length pairs. */
#define CHECK_MEM_EQ(p, plen, q, qlen)                                                     \
    do {                                                                                   \
        size_t pl_ = (size_t)(plen), ql_ = (size_t)(qlen);                                 \
        test_checks_++;                                                                    \
        if (pl_ != ql_ || (pl_ && memcmp((p), (q), pl_) != 0))                             \
            TEST_FAIL_("expected %s == %s: got \"%.*s\" (%zu) and \"%.*s\" (%zu)", #p, #q, \
                       (int)(pl_ > 80 ? 80 : pl_), (const char *)(p), pl_,                 \
                       (int)(ql_ > 80 ? 80 : ql_), (const char *)(q), ql_);                \
    } while (0)
#define CHECK_STR_EQ(p, q) CHECK_MEM_EQ((p), strlen(p), (q), strlen(q))

/* Fatal variants: stop the program at once. */
#define ASSERT_EQ(a, b)                                                                    \
    do {                                                                                   \
        int f_ = test_failures_;                                                           \
        CHECK_EQ(a, b);                                                                    \
        if (test_failures_ != f_) exit(1);                                                 \
    } while (0)
#define ASSERT(cond)                                                                       \
    do {                                                                                   \
        int f_ = test_failures_;                                                           \
        CHECK(cond);                                                                       \
        if (test_failures_ != f_) exit(1);                                                 \
    } while (0)

#define TEST_RUN(fn)                                                                       \
    do {                                                                                   \
        test_current_ = #fn;                                                               \
        int before_ = test_failures_;                                                      \
        fn();                                                                              \
        fprintf(stderr, "%s %s\n", test_failures_ == before_ ? "ok  " : "FAIL", #fn);      \
    } while (0)

#define TEST_REPORT()                                                                      \
    (fprintf(stderr, "%d checks, %d failed\n", test_checks_, test_failures_),              \
     test_failures_ ? 1 : 0)

#endif

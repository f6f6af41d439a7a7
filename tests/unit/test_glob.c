/*
 * test_glob.c — glob_match(): a table of cases (Redis's documented examples, every edge case
 * listed in glob.c, nocase, NUL and high bytes), pathological patterns that would be
 * exponential for a naive backtracker, invariants, and a randomized cross-check against a
 * simple recursive reference matcher written below.
 *
 * The case-sensitive rows of the table were also checked against redis-server 7.0.15 (KEYS):
 * all agree except the rows marked DEVIATION, which pin two deviations glob.c documents.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mnemo.h"
#include "test.h"
#include "util/glob.h"

struct glob_case {
    const char *pat;
    size_t plen;
    const char *str;
    size_t slen;
    int nocase;
    int expect;
};

/* String literals with their true length, so that embedded NULs count. */
#define G(p, s, e) { p, sizeof(p) - 1, s, sizeof(s) - 1, 0, e }
#define GI(p, s, e) { p, sizeof(p) - 1, s, sizeof(s) - 1, 1, e }

static const struct glob_case glob_cases[] = {
    /* Empty pattern / subject. */
    G("", "", 1),
    G("", "a", 0),
    G("a", "", 0),
    G("*", "", 1),  /* DEVIATION: stringmatchlen says 0 (KEYS * special-cases it to 1) */
    G("**", "", 1), /* DEVIATION: same */
    G("?", "", 0),
    G("*?", "", 0),
    G("[", "", 0),
    G("\\", "", 0),
    /* Redis's KEYS documentation. */
    G("h?llo", "hello", 1),
    G("h?llo", "hallo", 1),
    G("h?llo", "hxllo", 1),
    G("h?llo", "hllo", 0),
    G("h?llo", "heello", 0),
    G("h*llo", "hllo", 1),
    G("h*llo", "heeeello", 1),
    G("h*llo", "hello world", 0),
    G("h[ae]llo", "hello", 1),
    G("h[ae]llo", "hallo", 1),
    G("h[ae]llo", "hillo", 0),
    G("h[^e]llo", "hallo", 1),
    G("h[^e]llo", "hbllo", 1),
    G("h[^e]llo", "hello", 0),
    G("h[a-b]llo", "hallo", 1),
    G("h[a-b]llo", "hbllo", 1),
    G("h[a-b]llo", "hcllo", 0),
    /* Literals and '?'. */
    G("a", "a", 1),
    G("a", "b", 0),
    G("abc", "abc", 1),
    G("abc", "abcd", 0),
    G("abcd", "abc", 0),
    G("??", "a", 0),
    G("??", "ab", 1),
    G("*?", "a", 1),
    /* Stars. */
    G("*", "anything at all", 1),
    G("***", "x", 1),
    G("a*", "a", 1),
    G("*a", "ba", 1),
    G("*a", "ab", 0),
    G("a**b", "ab", 1),
    G("a*a", "a", 0),
    G("*a*", "bab", 1),
    G("*a*", "bbb", 0),
    G("a*b*c", "axbxc", 1),
    G("a*b*c", "axbx", 0),
    G("*ab", "aab", 1),
    G("*aab", "aaab", 1),
    G("*a?b", "aaxb", 1),
    G("a*bc*de", "abcbcde", 1),
    G("a*bc*de", "abcbcdf", 0),
    G("*.txt", "notes.txt", 1),
    G("*.txt", "notes.txt.gz", 0),
    G("user:*:name", "user:42:name", 1),
    G("user:*:name", "user:42:nam", 0),
    G("*[ab]", "xxa", 1),
    G("*[ab]", "xxc", 0),
    /* Brackets. */
    G("[abc]", "b", 1),
    G("[abc]", "d", 0),
    G("[abc]", "", 0),
    G("[abc]", "ab", 0),
    G("[a-c]", "b", 1),
    G("[a-a]", "a", 1),
    G("[z-a]", "m", 1), /* reversed range = [a-z] */
    G("[z-a]", "A", 0),
    G("[^a-c]", "d", 1),
    G("[^a-c]", "b", 0),
    G("[!a]", "!", 1), /* '!' is not a negation in Redis */
    G("[!a]", "b", 0),
    G("[*]", "*", 1),
    G("[*]", "a", 0),
    G("[?]", "?", 1),
    G("[?]", "a", 0),
    G("[[]", "[", 1),
    G("[^^]", "^", 0),
    G("[^^]", "a", 1),
    G("[a^]", "^", 1),
    G("[a-c-e]", "-", 1), /* a-c, then a literal '-' and 'e' */
    G("[a-c-e]", "e", 1),
    G("[a-c-e]", "d", 0),
    G("[--0]", "/", 1), /* range '-'..'0' */
    G("[--0]", "1", 0),
    /* Unterminated '[': the rest of the pattern is the class. */
    G("[abc", "b", 1),
    G("[abc", "[", 0),
    G("[abc", "d", 0),
    G("x[abc", "xc", 1),
    G("[a*", "*", 1),
    G("[a*", "ab", 0),
    G("[", "[", 0), /* empty class */
    G("[", "a", 0),
    G("[^", "x", 1), /* complement of the empty class */
    G("[^", "xy", 0),
    /* ']' right after '[' closes an empty class. */
    G("[]", "]", 0),
    G("[]a]", "a", 0),
    G("[]a]", "]a]", 0),
    G("[^]", "x", 1),
    G("[^]]", "x]", 1),
    G("[^]]", "]", 0),
    /* '-' at the edges. */
    G("[-a]", "-", 1),
    G("[-a]", "a", 1),
    G("[-a]", "b", 0),
    G("[-]", "-", 1),
    G("[a-]", "-", 0), /* range 'a'..']' (reordered ']'..'a'), class then unterminated */
    G("[a-]", "]", 1),
    G("[a-]", "_", 1),
    G("[a-]", "a", 1),
    G("[a-]", "b", 0),
    G("[a-]b", "b", 1), /* ... so 'b' is a member too */
    G("[a-]b", "ab", 0),
    G("[a-\\]", "\\", 1), /* range 'a'..'\' */
    G("[a-\\]", "_", 1),
    G("[a-\\]", "b", 0),
    /* Escapes. */
    G("\\*", "*", 1),
    G("\\*", "a", 0),
    G("\\?", "?", 1),
    G("\\?", "a", 0),
    G("\\[", "[", 1),
    G("\\[a]", "[a]", 1),
    G("\\\\", "\\", 1),
    G("\\a", "a", 1),
    G("\\", "\\", 1), /* trailing lone '\' is a literal backslash */
    G("a\\", "a\\", 1),
    G("a\\", "a", 0),
    G("*\\", "xx\\", 1),
    G("[\\]]", "]", 1),
    G("[\\]]", "\\", 0),
    G("[\\-z]", "-", 1), /* escaped '-' is no range */
    G("[\\-z]", "m", 0),
    G("[\\^a]", "^", 1),
    G("[\\", "\\", 1), /* unterminated class ending in '\': a literal member */
    G("[a\\", "\\", 1),
    G("[a\\", "a", 1),
    /* Binary: NUL is an ordinary byte in both pattern and subject. */
    G("a\0b", "a\0b", 1),
    G("a\0b", "a", 0),
    G("a\0b", "a\0c", 0),
    G("a?b", "a\0b", 1),
    G("*\0", "xyz\0", 1),
    G("*\0", "xyz", 0),
    G("\0*", "\0\0\0", 1),
    G("a*", "a\0", 1),
    G("\0", "", 0),
    G("[\0]", "\0", 1),
    G("[^\0]", "\0", 0),
    G("[^\0]", "a", 1),
    G("[\0-\x02]", "\x01", 1),
    G("\\\0", "\0", 1),
    /* High bytes: unsigned everywhere. */
    G("\xff", "\xff", 1),
    G("[\x80-\xff]", "\x90", 1),
    G("[\x80-\xff]", "\x7f", 0),
    G("[a-\xff]", "\xc0", 1), /* DEVIATION: x86 Redis (signed char: 'a'..-1) says 0 */
    G("[a-\xff]", "A", 0),     /* DEVIATION: x86 Redis says 1 (Redis on ARM agrees here) */
    /* nocase: ASCII letters only. */
    GI("HELLO", "hello", 1),
    G("HELLO", "hello", 0),
    GI("h*O", "HellO", 1),
    GI("h?LLO", "hello", 1),
    GI("h[A-Z]llo", "hello", 1),
    G("h[A-Z]llo", "hello", 0),
    GI("[a]", "A", 1),
    GI("[^a]", "A", 0),
    GI("\\a", "A", 1), /* escapes outside brackets do fold */
    GI("[\\a]", "A", 0), /* escapes inside brackets do not (as Redis) */
    GI("[\\a]", "a", 1),
    G("[A-z]", "_", 1),
    GI("[A-z]", "_", 0), /* bounds folded after ordering: 'a'..'z' */
    GI("[A-z]", "Q", 1),
    G("[Z-a]", "_", 1),
    GI("[Z-a]", "z", 0), /* folded to 'z'..'a': matches nothing */
    GI("[Z-a]", "_", 0),
    GI("@", "`", 0), /* not letters: never folded */
    GI("[", "{", 0),
    GI("\xc3\xa9", "\xc3\x89", 0), /* no folding outside ASCII */
    GI("a\0B", "A\0b", 1),
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
        const struct glob_case *c = &glob_cases[i];
        int got = glob_match(c->pat, c->plen, c->str, c->slen, c->nocase);
        if (got != c->expect)
            fprintf(stderr, "case %zu: pattern \"%.*s\" (%zu) string \"%.*s\" (%zu) nocase %d\n",
                    i, (int)c->plen, c->pat, c->plen, (int)c->slen, c->str, c->slen, c->nocase);
        CHECK_EQ(got, c->expect);
    }
}

static void test_public_wrapper(void)
{
    CHECK_EQ(mnemo_glob_match("user:*", 6, "user:1", 6, 0), 1);
    CHECK_EQ(mnemo_glob_match("USER:*", 6, "user:1", 6, 1), 1);
    CHECK_EQ(mnemo_glob_match("USER:*", 6, "user:1", 6, 0), 0);
    CHECK_EQ(mnemo_glob_match(NULL, 0, NULL, 0, 0), 1);
    CHECK_EQ(mnemo_glob_match(NULL, 0, "x", 1, 0), 0);
    CHECK_EQ(mnemo_glob_match("*", 1, NULL, 0, 0), 1);
}

/* Patterns that take exponential time in a naive recursive matcher. Correctness is checked;
 * that they finish at all (under the test timeout, with sanitizers) is the speed check. */
static void test_pathological(void)
{
    enum { N = 100000 };
    char *s = malloc(N + 1);
    ASSERT(s != NULL);
    memset(s, 'a', N);
    s[N] = 'b';

    static const char p1[] = "*a*a*a*a*a*a*a*b";
    static const char p2[] = "*a*a*a*a*a*a*a*a";
    CHECK_EQ(glob_match(p1, sizeof(p1) - 1, s, N, 0), 0);
    CHECK_EQ(glob_match(p1, sizeof(p1) - 1, s, N + 1, 0), 1);
    CHECK_EQ(glob_match(p2, sizeof(p2) - 1, s, N, 0), 1);
    CHECK_EQ(glob_match(p1, sizeof(p1) - 1, s, N, 1), 0);

    /* 2000 "*a" groups: Redis (7.0.15 checked) gives up (0) beyond 1000 nested stars; the
     * true answer is 1 when the subject has enough 'a's. */
    enum { K = 2000 };
    char *p = malloc(2 * K + 2);
    ASSERT(p != NULL);
    for (size_t i = 0; i < K; i++) {
        p[2 * i] = '*';
        p[2 * i + 1] = 'a';
    }
    CHECK_EQ(glob_match(p, 2 * K, s, K, 0), 1);
    CHECK_EQ(glob_match(p, 2 * K, s, K - 1, 0), 0);
    p[2 * K] = 'b';
    CHECK_EQ(glob_match(p, 2 * K + 1, s, N, 0), 0);
    CHECK_EQ(glob_match(p, 2 * K + 1, s, N + 1, 0), 1);

    /* A long star run and a long class after a star. */
    memset(p, '*', 2 * K);
    CHECK_EQ(glob_match(p, 2 * K, s, N, 0), 1);
    CHECK_EQ(glob_match(p, 2 * K, "", 0, 0), 1);
    p[0] = '*';
    p[1] = '[';
    memset(p + 2, 'x', 1000);
    p[1002] = ']';
    p[1003] = 'b';
    CHECK_EQ(glob_match(p, 1004, s, 20000, 0), 0);
    s[19998] = 'x';
    s[19999] = 'b';
    CHECK_EQ(glob_match(p, 1004, s, 20000, 0), 1);

    free(p);
    free(s);
}

/* ------------------------------------------------------------------------------------------
 * Reference matcher: the pattern is first turned into a list of elements, each a '*' or a
 * 256-entry membership table, then matched by plain recursion (exponential, fine for short
 * inputs). It encodes the same Redis rules as glob.c but shares no code with it.
 * ---------------------------------------------------------------------------------------- */

struct ref_elem {
    int star;
    unsigned char member[256];
};

static unsigned char ref_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static void ref_add(struct ref_elem *e, unsigned char c, int nocase)
{
    for (int b = 0; b < 256; b++)
        if (b == c || (nocase && ref_lower((unsigned char)b) == ref_lower(c)))
            e->member[b] = 1;
}

static size_t ref_compile(const unsigned char *p, size_t n, int nocase, struct ref_elem *out)
{
    size_t k = 0, i = 0;
    while (i < n) {
        struct ref_elem *e = &out[k++];
        memset(e, 0, sizeof(*e));
        if (p[i] == '*') {
            e->star = 1;
            i++;
        } else if (p[i] == '?') {
            memset(e->member, 1, sizeof(e->member));
            i++;
        } else if (p[i] == '\\' && i + 1 < n) {
            ref_add(e, p[i + 1], nocase);
            i += 2;
        } else if (p[i] == '[') {
            int negate = 0;
            i++;
            if (i < n && p[i] == '^') {
                negate = 1;
                i++;
            }
            while (i < n) {
                if (p[i] == '\\' && i + 1 < n) {
                    e->member[p[i + 1]] = 1;
                    i += 2;
                } else if (p[i] == ']') {
                    i++;
                    break;
                } else if (i + 2 < n && p[i + 1] == '-') {
                    unsigned lo = p[i] < p[i + 2] ? p[i] : p[i + 2];
                    unsigned hi = p[i] < p[i + 2] ? p[i + 2] : p[i];
                    if (nocase) {
                        lo = ref_lower((unsigned char)lo);
                        hi = ref_lower((unsigned char)hi);
                    }
                    for (int b = 0; b < 256; b++) {
                        unsigned x = nocase ? ref_lower((unsigned char)b) : (unsigned)b;
                        if (x >= lo && x <= hi)
                            e->member[b] = 1;
                    }
                    i += 3;
                } else {
                    ref_add(e, p[i], nocase);
                    i++;
                }
            }
            if (negate)
                for (int b = 0; b < 256; b++)
                    e->member[b] = !e->member[b];
        } else {
            ref_add(e, p[i], nocase);
            i++;
        }
    }
    return k;
}

static int ref_run(const struct ref_elem *e, size_t ne, const unsigned char *s, size_t ns)
{
    if (ne == 0)
        return ns == 0;
    if (e->star)
        return ref_run(e + 1, ne - 1, s, ns) || (ns > 0 && ref_run(e, ne, s + 1, ns - 1));
    return ns > 0 && e->member[s[0]] && ref_run(e + 1, ne - 1, s + 1, ns - 1);
}

static int ref_match(const char *p, size_t pn, const char *s, size_t sn, int nocase)
{
    struct ref_elem elems[16];
    ASSERT(pn <= 16);
    size_t ne = ref_compile((const unsigned char *)p, pn, nocase, elems);
    return ref_run(elems, ne, (const unsigned char *)s, sn);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t rng_fill(char *buf, size_t maxlen, const char *alpha, size_t alen)
{
    size_t n = (size_t)(rng_next() % (maxlen + 1));
    for (size_t i = 0; i < n; i++)
        buf[i] = alpha[rng_next() % alen];
    return n;
}

static void test_random_vs_reference(void)
{
    static const char pat_alpha[] = "ab*?[]^-\\";
    static const char pat_alpha_nc[] = "abAB*?[]^-\\Z_";
    static const char str_alpha[] = "abAB]^-\\*?[_\0"; /* includes NUL */
    char p[16], s[16];
    long mismatches = 0, matches = 0;
    const long rounds = 300000;

    for (long i = 0; i < rounds; i++) {
        int nocase = (int)(i & 1);
        size_t pn = nocase ? rng_fill(p, 10, pat_alpha_nc, sizeof(pat_alpha_nc) - 1)
                           : rng_fill(p, 10, pat_alpha, sizeof(pat_alpha) - 1);
        size_t sn = rng_fill(s, 8, str_alpha, sizeof(str_alpha) - 1);
        int want = ref_match(p, pn, s, sn, nocase);
        int got = glob_match(p, pn, s, sn, nocase);
        matches += want;
        if (got != want && mismatches++ < 10)
            fprintf(stderr, "random: pattern \"%.*s\" string \"%.*s\" nocase %d: want %d got %d\n",
                    (int)pn, p, (int)sn, s, nocase, want, got);
    }
    fprintf(stderr, "  %ld random cases, %ld matched, %ld mismatches\n", rounds, matches,
            mismatches);
    CHECK_EQ(mismatches, 0);
    CHECK(matches > rounds / 100); /* the generator must exercise matches, not only misses */
}

/* Escaping every byte of any string gives a pattern matching exactly that string; prefixing
 * any pattern with '*' keeps every match and allows any prefix on the subject. */
static void test_invariants(void)
{
    char s[64], p[160], q[200];
    for (int i = 0; i < 20000; i++) {
        size_t sn = (size_t)(rng_next() % 40), pn = 0;
        for (size_t j = 0; j < sn; j++) {
            s[j] = (char)(rng_next() & 0xff);
            p[pn++] = '\\';
            p[pn++] = s[j];
        }
        CHECK_EQ(glob_match(p, pn, s, sn, 0), 1);
        CHECK_EQ(glob_match(p, pn, s, sn, 1), 1);
        if (sn > 0) {
            CHECK_EQ(glob_match(p, pn, s, sn - 1, 0), 0);
            CHECK_EQ(glob_match(p, pn - 2, s, sn, 0), 0);
        }
    }
    static const char alpha[] = "ab*?[]^-\\";
    for (int i = 0; i < 50000; i++) {
        size_t pn = rng_fill(p, 12, alpha, sizeof(alpha) - 1);
        size_t sn = rng_fill(s, 10, "ab]^-\\*?[", 9);
        int nocase = i & 1;
        if (!glob_match(p, pn, s, sn, nocase))
            continue;
        q[0] = '*';
        memcpy(q + 1, p, pn);
        char t[80] = "zz";
        memcpy(t + 2, s, sn);
        CHECK_EQ(glob_match(q, pn + 1, s, sn, nocase), 1);
        CHECK_EQ(glob_match(q, pn + 1, t, sn + 2, nocase), 1);
    }
}

int main(void)
{
    TEST_RUN(test_table);
    TEST_RUN(test_public_wrapper);
    TEST_RUN(test_pathological);
    TEST_RUN(test_random_vs_reference);
    TEST_RUN(test_invariants);
    return TEST_REPORT();
}

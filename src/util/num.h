/*
 * num.h — Redis-compatible conversions between numbers and the strings that hold them
 * (INCR/INCRBY/DECRBY, INCRBYFLOAT/HINCRBYFLOAT, numeric command arguments).
 *
 * Invariants:
 *   - Inputs are byte strings with explicit lengths, never assumed NUL-terminated: nothing is
 *     read at or past s[len]. An embedded NUL makes an input invalid.
 *   - Integers are strict: what num_parse_i64() accepts is exactly what num_format_i64()
 *     produces (the canonical form), so a value that parses can be stored as an integer and
 *     printed back byte for byte. This is the rule of Redis's string2ll().
 *   - Floats follow Redis's string2ld()/string2d(): strtold()/strtod() grammar (decimal, exponent,
 *     hex floats, "inf"/"infinity" in any case, a leading '+' or '-'), but no leading or
 *     trailing space, no NaN, no overflow to infinity and no underflow to zero.
 *   - Out-parameters are written only on success and may be NULL (validation only).
 *   - No state, no allocation: every function is thread-safe. The float functions use the C
 *     library's strtold()/strtod()/snprintf(), which follow LC_NUMERIC: with a locale whose
 *     decimal point is not '.', an embedding application must keep LC_NUMERIC at "C" (the
 *     default unless it calls setlocale()), as Redis does.
 *
 * INCRBYFLOAT, as Redis does it: parse the stored value and the increment with num_parse_ld(),
 * add, reject a NaN or infinite sum ("increment would produce NaN or Infinity" — so "inf" is a
 * valid operand but can never be stored by INCRBYFLOAT), then num_format_ld() the sum.
 */
#ifndef MNEMO_UTIL_NUM_H
#define MNEMO_UTIL_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size that always holds num_format_i64()'s output: "-9223372036854775808" + NUL. */
#define NUM_I64_STR_MAX 21

/*
 * Redis's MAX_LONG_DOUBLE_CHARS. A buffer of this size always holds num_format_ld()'s output
 * for any long double (the largest finite 80-bit value prints as 4933 integer digits plus the
 * fraction). Float inputs of this length or longer are rejected by the parsers.
 */
#define NUM_LD_STR_MAX 5120

/*
 * Parses s[0..len) as a base-10 int64 in canonical form: an optional '-', then "0" alone or a
 * digit 1-9 followed by digits; no '+', no spaces, no leading zeros, not "-0", not empty,
 * within INT64_MIN..INT64_MAX (both included).
 *   out  receives the value on success; may be NULL.
 * Returns 1 on success, 0 if the input is not such a number. Thread-safe.
 */
int num_parse_i64(const char *s, size_t len, int64_t *out);

/*
 * As num_parse_i64(), for uint64: digits only ("0" alone or no leading zero), no sign at all,
 * up to UINT64_MAX. Returns 1 on success, 0 otherwise; *out (may be NULL) written on success.
 * Thread-safe.
 */
int num_parse_u64(const char *s, size_t len, uint64_t *out);

/*
 * Writes the canonical decimal form of v and a terminating NUL to buf, which must hold at
 * least NUM_I64_STR_MAX bytes. Returns the length without the NUL (1..20). Thread-safe.
 */
size_t num_format_i64(int64_t v, char *buf);

/*
 * Parses s[0..len) as a long double, as Redis's string2ld() (INCRBYFLOAT's operands).
 * Rejected: empty input, len >= NUM_LD_STR_MAX, a leading whitespace byte, anything strtold()
 * does not consume entirely (trailing space, embedded NUL, junk), NaN in any spelling, values
 * that overflow to infinity or underflow to zero (e.g. "1e5000", "1e-5000"). Accepted: all
 * else strtold() takes, e.g. "1e3", "-.5", "+2", "0x1p3", and "inf"/"-Infinity" — as in Redis,
 * where INCRBYFLOAT then fails on the infinite sum, not on the parse.
 *   out  receives the value on success; may be NULL.
 * Returns 1 on success, 0 otherwise. Thread-safe (see the locale note above); errno is
 * preserved.
 */
int num_parse_ld(const char *s, size_t len, long double *out);

/*
 * Formats v as Redis's ld2string() in "human friendly" mode (INCRBYFLOAT's result): "%.17Lf",
 * then trailing zeros after the '.' and a trailing '.' removed, and "-0" written as "0" (so
 * -0.0 and tiny negatives such as -1e-20 give "0"). Never exponent notation: 1e300 prints all
 * 301 integer digits, as Redis. Infinities give "inf"/"-inf" and NaN "nan", as ld2string().
 *   buf, cap  destination and its size; the result and a NUL are written if they fit.
 * Returns the length without the NUL, or 0 if the result does not fit in cap (then buf[0] is
 * set to NUL when cap > 0). cap = 48 fits every value below 1e28 in magnitude, and below 1e46
 * where long double is the x87 80-bit type (there every value from 2^63 up is an integer and
 * prints without a fraction). cap = NUM_LD_STR_MAX fits every value: Redis formats into a
 * buffer of that size, so with it the result is always Redis's, whereas with a smaller cap this
 * function still succeeds whenever the trimmed result fits (Redis's ld2string() would want
 * room for the untrimmed one). Thread-safe (see the locale note above).
 */
size_t num_format_ld(long double v, char *buf, size_t cap);

/*
 * Parses s[0..len) as a double, as Redis's string2d() / getDoubleFromObject() (ZADD scores,
 * numeric arguments): the same rules as num_parse_ld() with strtod(), so "+inf"/"-inf" are
 * accepted and "nan", " 1", "1 ", "", "1e400", "1e-400" are not.
 *   out  receives the value on success; may be NULL.
 * Returns 1 on success, 0 otherwise. Thread-safe (see the locale note above); errno is
 * preserved.
 */
int num_parse_double(const char *s, size_t len, double *out);

#endif

/*
 * fuzz_glob.c — libFuzzer target for glob_match().
 *
 * Input layout: byte 0 is the pattern length n (clamped to what is left), the next n bytes are
 * the pattern, the rest is the subject. Both are copied into buffers of their exact size so
 * that AddressSanitizer catches any read past either length.
 *
 * Checked, for nocase 0 and 1: no crash or sanitizer report; the result is 0 or 1 and equals
 * mnemo_glob_match(); it equals an independent dynamic-programming matcher (the Redis element
 * rules restated as 256-entry membership tables, then an O(elements * subject) table fill);
 * a match survives prefixing the pattern with '*' and the subject with anything; and the
 * pattern made by escaping every subject byte matches the subject. libFuzzer's -timeout
 * catches any super-linear blow-up.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mnemo.h"
#include "util/glob.h"

struct dp_elem {
    int star;
    unsigned char member[256];
};

static unsigned char dp_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void dp_add(struct dp_elem *e, unsigned char c, int nocase)
{
    e->member[c] = 1;
    if (nocase && c >= 'a' && c <= 'z')
        e->member[c - 32] = 1;
    if (nocase && c >= 'A' && c <= 'Z')
        e->member[c + 32] = 1;
}

static size_t dp_compile(const unsigned char *p, size_t n, int nocase, struct dp_elem *out)
{
    size_t k = 0, i = 0;
    while (i < n) {
        struct dp_elem *e = &out[k++];
        memset(e, 0, sizeof(*e));
        unsigned char c = p[i++];
        if (c == '*') {
            e->star = 1;
        } else if (c == '?') {
            memset(e->member, 1, 256);
        } else if (c == '\\') {
            dp_add(e, i < n ? p[i++] : '\\', nocase);
        } else if (c == '[') {
            int neg = i < n && p[i] == '^';
            i += (size_t)neg;
            for (;;) {
                if (i >= n)
                    break;
                if (p[i] == '\\' && i + 1 < n) {
                    e->member[p[i + 1]] = 1;
                    i += 2;
                    continue;
                }
                if (p[i] == ']') {
                    i++;
                    break;
                }
                if (i + 2 < n && p[i + 1] == '-') {
                    unsigned char lo = p[i], hi = p[i + 2];
                    if (lo > hi) {
                        unsigned char t = lo;
                        lo = hi;
                        hi = t;
                    }
                    if (nocase) {
                        lo = dp_lower(lo);
                        hi = dp_lower(hi);
                    }
                    for (unsigned b = 0; b < 256; b++) {
                        unsigned char x = nocase ? dp_lower((unsigned char)b) : (unsigned char)b;
                        if (x >= lo && x <= hi)
                            e->member[b] = 1;
                    }
                    i += 3;
                    continue;
                }
                dp_add(e, p[i++], nocase);
            }
            if (neg)
                for (unsigned b = 0; b < 256; b++)
                    e->member[b] ^= 1;
        } else {
            dp_add(e, c, nocase);
        }
    }
    return k;
}

/* Returns 0/1, or -1 if the input is too large for the quadratic oracle. */
static int dp_match(const unsigned char *p, size_t pn, const unsigned char *s, size_t sn,
                    int nocase)
{
    if ((pn + 1) * (sn + 1) > (1u << 20))
        return -1;
    struct dp_elem *el = malloc((pn + 1) * sizeof(*el));
    unsigned char *row = calloc(sn + 1, 1), *next = calloc(sn + 1, 1);
    if (!el || !row || !next)
        abort();
    size_t ne = dp_compile(p, pn, nocase, el);
    row[0] = 1; /* zero elements match exactly the empty prefix */
    for (size_t i = 0; i < ne; i++) {
        if (el[i].star) {
            unsigned char any = 0;
            for (size_t j = 0; j <= sn; j++)
                next[j] = any |= row[j];
        } else {
            next[0] = 0;
            for (size_t j = 1; j <= sn; j++)
                next[j] = row[j - 1] && el[i].member[s[j - 1]];
        }
        unsigned char *t = row;
        row = next;
        next = t;
    }
    int r = row[sn];
    free(el);
    free(row);
    free(next);
    return r;
}

static void check_one(const char *p, size_t pn, const char *s, size_t sn, int nocase)
{
    int r = glob_match(p, pn, s, sn, nocase);
    if (r != 0 && r != 1)
        abort();
    if (mnemo_glob_match(p, pn, s, sn, nocase) != r)
        abort();
    int want = dp_match((const unsigned char *)p, pn, (const unsigned char *)s, sn, nocase);
    if (want >= 0 && want != r)
        abort();
    if (r) {
        char *q = malloc(pn + 1), *t = malloc(sn + 3);
        if (!q || !t)
            abort();
        q[0] = '*';
        if (pn)
            memcpy(q + 1, p, pn);
        t[0] = 'x';
        t[1] = '\0';
        t[2] = '*';
        if (sn)
            memcpy(t + 3, s, sn);
        if (glob_match(q, pn + 1, s, sn, nocase) != 1)
            abort();
        if (glob_match(q, pn + 1, t, sn + 3, nocase) != 1)
            abort();
        free(q);
        free(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t pn = data[0] < size - 1 ? data[0] : size - 1;
    size_t sn = size - 1 - pn;
    /* Empty parts are passed as NULL, so that any dereference of them faults. */
    char *p = pn ? malloc(pn) : NULL, *s = sn ? malloc(sn) : NULL;
    char *esc = malloc(2 * sn + 1);
    if ((pn && !p) || (sn && !s) || !esc)
        abort();
    if (pn)
        memcpy(p, data + 1, pn);
    if (sn)
        memcpy(s, data + 1 + pn, sn);

    check_one(p, pn, s, sn, 0);
    check_one(p, pn, s, sn, 1);

    for (size_t i = 0; i < sn; i++) {
        esc[2 * i] = '\\';
        esc[2 * i + 1] = s[i];
    }
    if (glob_match(esc, 2 * sn, s, sn, 0) != 1 || glob_match(esc, 2 * sn, s, sn, 1) != 1)
        abort();

    free(p);
    free(s);
    free(esc);
    return 0;
}

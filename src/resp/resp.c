/*
 * resp.c — status texts and the integer parsing both RESP parsers share.
 */
#include "resp/resp.h"

#include <limits.h>

const char *resp_strerror(int status)
{
    switch (status) {
#define RESP_X_(name, code, text)                                                              \
    case RESP_##name:                                                                          \
        return text;
        RESP_STATUS_MAP(RESP_X_)
#undef RESP_X_
    }
    return "unknown status";
}

int resp_string2ll(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;

    if (n == 0 || n > 20)
        return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n || s[i] < '1' || s[i] > '9')
        return 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || v > (ULLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

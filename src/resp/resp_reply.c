/*
 * resp_reply.c — the reply parser (see resp_reply.h for the contract).
 *
 * Pass 1 (resumable): scan_element() reads one element's header (and, for strings, checks
 * that its payload and CRLF are there); the loop in resp_reply_parse() keeps a stack of open
 * aggregates with the number of elements each still expects. An attribute is a frame like any
 * other, except that finishing it does not count as an element of its parent: the value it
 * describes comes next. The reply is complete when an element finishes with the stack empty.
 *
 * Pass 2: build_value() walks the now validated bytes again with the same scan_element() and
 * fills a block of rp->nodes values followed by rp->bytes string bytes. Every element takes
 * exactly one node in both passes, so the counts always match.
 */
#include "resp/resp_reply.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One element as scan_element() sees it. */
typedef struct element {
    char type;                   /* resp_type, RESP_T_NULL for "$-1" and "*-1" */
    char wire;                   /* the byte on the wire */
    char fmt[4];                 /* verbatim format */
    int has_str;                 /* str_off/str_len are meaningful */
    size_t next;                 /* offset after the element (after the header: aggregates) */
    size_t str_off, str_len;     /* string payload */
    long long num;               /* integer, boolean, aggregate count */
    double dbl;                  /* double */
    unsigned long long children; /* elements that follow: n, or 2n for maps and attributes */
} element;

void resp_reply_parser_init(resp_reply_parser *rp, unsigned max_depth, long long max_bulk)
{
    memset(rp, 0, sizeof(*rp));
    if (max_depth == 0)
        max_depth = RESP_REPLY_DEFAULT_DEPTH;
    rp->max_depth = max_depth > RESP_REPLY_MAX_DEPTH ? RESP_REPLY_MAX_DEPTH : max_depth;
    rp->max_bulk = max_bulk > 0 ? max_bulk : RESP_REPLY_DEFAULT_MAX_BULK;
}

void resp_reply_parser_reset(resp_reply_parser *rp)
{
    rp->pos = 0;
    rp->scan = 0;
    rp->nodes = 0;
    rp->bytes = 0;
    rp->depth = 0;
}

const char *resp_reply_parser_error(const resp_reply_parser *rp)
{
    return rp->err;
}

void resp_value_free(resp_value *v)
{
    free(v);
}

static ssize_t perr(resp_reply_parser *rp, const char *text)
{
    snprintf(rp->err, sizeof(rp->err), "%s", text);
    return RESP_EPROTO;
}

/* Index of the CR ending the line that starts at `start`, once its LF is there too. `hint`
 * (may be NULL) remembers how far an earlier call searched. */
static ssize_t line_end(resp_reply_parser *rp, const char *buf, size_t len, size_t start,
                        size_t *hint)
{
    size_t from = hint && *hint > start ? *hint : start;
    const char *cr = from < len ? memchr(buf + from, '\r', len - from) : NULL;

    if (!cr) {
        if (hint)
            *hint = len;
        return RESP_EUNFIN;
    }
    size_t at = (size_t)(cr - buf);
    if (hint)
        *hint = at;
    if (at + 1 >= len)
        return RESP_EUNFIN;
    if (buf[at + 1] != '\n')
        return perr(rp, "Protocol error: CR not followed by LF");
    return (ssize_t)at;
}

static int parse_double(const char *s, size_t n, double *out)
{
    char tmp[64];
    char *end;

    if (n == 0 || n >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (!strcmp(tmp, "inf") || !strcmp(tmp, "+inf")) {
        *out = INFINITY;
        return 1;
    }
    if (!strcmp(tmp, "-inf")) {
        *out = -INFINITY;
        return 1;
    }
    if (!strcmp(tmp, "nan") || !strcmp(tmp, "-nan")) {
        *out = NAN;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eE", tmp[i]))
            return 0;
    *out = strtod(tmp, &end);
    return end == tmp + n;
}

static int valid_bignum(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-';

    if (i >= n)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int known_type(char t)
{
    return t && strchr("+-:$*_,#!=(%~>|", t) != NULL;
}

/* Reads the element at buf[start]. Returns 0, RESP_EUNFIN or RESP_EPROTO (text in rp->err). */
static ssize_t scan_element(resp_reply_parser *rp, const char *buf, size_t len, size_t start,
                            size_t *hint, element *el)
{
    long long ll;
    ssize_t r;

    memset(el, 0, sizeof(*el));
    if (start >= len)
        return RESP_EUNFIN;
    char t = buf[start];
    if (!known_type(t)) {
        unsigned char c = (unsigned char)t;
        if (c > ' ' && c < 127)
            snprintf(rp->err, sizeof(rp->err), "Protocol error: invalid reply type byte '%c'", c);
        else
            snprintf(rp->err, sizeof(rp->err), "Protocol error: invalid reply type byte 0x%02x",
                     c);
        return RESP_EPROTO;
    }
    r = line_end(rp, buf, len, start + 1, hint);
    if (r < 0)
        return r;

    size_t cr = (size_t)r, s = start + 1, n = cr - s;
    el->type = el->wire = t;
    el->next = cr + 2;
    switch (t) {
    case '+':
    case '-':
        el->has_str = 1;
        el->str_off = s;
        el->str_len = n;
        return 0;
    case ':':
        if (!resp_string2ll(buf + s, n, &el->num))
            return perr(rp, "Protocol error: invalid integer");
        return 0;
    case '_':
        if (n != 0)
            return perr(rp, "Protocol error: invalid null");
        return 0;
    case '#':
        if (n != 1 || (buf[s] != 't' && buf[s] != 'f'))
            return perr(rp, "Protocol error: invalid boolean");
        el->num = buf[s] == 't';
        return 0;
    case ',':
        if (!parse_double(buf + s, n, &el->dbl))
            return perr(rp, "Protocol error: invalid double");
        el->has_str = 1;
        el->str_off = s;
        el->str_len = n;
        return 0;
    case '(':
        if (!valid_bignum(buf + s, n))
            return perr(rp, "Protocol error: invalid big number");
        el->has_str = 1;
        el->str_off = s;
        el->str_len = n;
        return 0;
    case '$':
    case '!':
    case '=': {
        if (n == 1 && buf[s] == '?')
            return perr(rp, "Protocol error: streamed strings are not supported");
        if (!resp_string2ll(buf + s, n, &ll) || ll < -1 || ll > rp->max_bulk ||
            (ll == -1 && t != '$'))
            return perr(rp, "Protocol error: invalid bulk length");
        if (ll == -1) {
            el->type = RESP_T_NULL;
            return 0;
        }
        size_t d = cr + 2, blen = (size_t)ll;
        if (len - d < blen + 2)
            return RESP_EUNFIN;
        if (buf[d + blen] != '\r' || buf[d + blen + 1] != '\n')
            return perr(rp, "Protocol error: expected CRLF after bulk data");
        el->next = d + blen + 2;
        if (t == '=') {
            if (blen < 4 || buf[d + 3] != ':')
                return perr(rp, "Protocol error: invalid verbatim string");
            memcpy(el->fmt, buf + d, 3);
            d += 4;
            blen -= 4;
        }
        el->has_str = 1;
        el->str_off = d;
        el->str_len = blen;
        return 0;
    }
    default: /* '*', '%', '~', '>', '|' */
        if (n == 1 && buf[s] == '?')
            return perr(rp, "Protocol error: streamed aggregates are not supported");
        if (!resp_string2ll(buf + s, n, &ll) || ll < -1 || (ll == -1 && t != '*'))
            return perr(rp, "Protocol error: invalid aggregate length");
        if (ll == -1) {
            el->type = RESP_T_NULL;
            return 0;
        }
        el->num = ll;
        if (t == '%' || t == '|') {
            if (ll > LLONG_MAX / 2)
                return perr(rp, "Protocol error: invalid aggregate length");
            el->children = 2 * (unsigned long long)ll;
        } else {
            el->children = (unsigned long long)ll;
        }
        return 0;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Pass 2
 * ------------------------------------------------------------------------------------------- */

typedef struct builder {
    resp_reply_parser *rp;
    const char *buf;
    size_t len;
    size_t pos;
    resp_value *nodes;
    size_t used;
    char *strs;
} builder;

static void fill(builder *bd, resp_value *v, const element *el)
{
    memset(v, 0, sizeof(*v));
    v->type = (resp_type)el->type;
    v->wire = el->wire;
    memcpy(v->fmt, el->fmt, sizeof(v->fmt));
    v->integer = el->num;
    v->dbl = el->dbl;
    if (el->has_str) {
        if (el->str_len)
            memcpy(bd->strs, bd->buf + el->str_off, el->str_len);
        bd->strs[el->str_len] = '\0';
        v->str = bd->strs;
        v->len = el->str_len;
        bd->strs += el->str_len + 1;
    }
    if (el->type == RESP_T_MAP || el->type == RESP_T_ATTR || el->type == RESP_T_ARRAY ||
        el->type == RESP_T_SET || el->type == RESP_T_PUSH) {
        v->n = (size_t)el->num;
        v->integer = 0;
        if (el->children) {
            v->elems = bd->nodes + bd->used;
            bd->used += (size_t)el->children;
        }
    }
}

/* Builds the value at bd->pos into *slot, with the attributes that precede it. The bytes were
 * validated by pass 1, so scan_element() cannot fail here. */
static void build_value(builder *bd, resp_value *slot)
{
    const resp_value *attr = NULL;
    element el;

    for (;;) {
        scan_element(bd->rp, bd->buf, bd->len, bd->pos, NULL, &el);
        bd->pos = el.next;
        resp_value *v = slot;
        if (el.type == RESP_T_ATTR)
            v = bd->nodes + bd->used++;
        fill(bd, v, &el);
        for (unsigned long long i = 0; i < el.children; i++)
            build_value(bd, &v->elems[i]);
        v->attr = attr;
        if (el.type != RESP_T_ATTR)
            return;
        attr = v;
    }
}

static ssize_t build(resp_reply_parser *rp, const char *buf, size_t end, resp_value **out)
{
    size_t nodes = rp->nodes, bytes = rp->bytes;
    builder bd;

    resp_reply_parser_reset(rp);
    if (nodes > ((size_t)-1 - bytes) / sizeof(resp_value))
        return RESP_ENOMEM;
    resp_value *block = malloc(nodes * sizeof(resp_value) + bytes);
    if (!block)
        return RESP_ENOMEM;
    bd.rp = rp;
    bd.buf = buf;
    bd.len = end;
    bd.pos = 0;
    bd.nodes = block;
    bd.used = 1;
    bd.strs = (char *)(block + nodes);
    build_value(&bd, block);
    *out = block;
    return (ssize_t)end;
}

/* ---------------------------------------------------------------------------------------------
 * Pass 1
 * ------------------------------------------------------------------------------------------- */

ssize_t resp_reply_parse(resp_reply_parser *rp, const char *buf, size_t len, resp_value **out)
{
    size_t pos;
    element el;

    rp->err[0] = '\0';
    if (len < rp->pos || len < rp->scan)
        resp_reply_parser_reset(rp);
    pos = rp->pos;
    for (;;) {
        ssize_t r = scan_element(rp, buf, len, pos, &rp->scan, &el);
        if (r == RESP_EUNFIN) {
            rp->pos = pos;
            return RESP_EUNFIN;
        }
        if (r < 0) {
            resp_reply_parser_reset(rp);
            return r;
        }
        rp->nodes++;
        if (el.has_str)
            rp->bytes += el.str_len + 1;
        pos = el.next;
        if (el.children > 0) {
            if (rp->depth >= rp->max_depth) {
                resp_reply_parser_reset(rp);
                return perr(rp, "Protocol error: reply nested too deeply");
            }
            rp->stack[rp->depth].left = el.children;
            rp->stack[rp->depth].attr = el.type == RESP_T_ATTR;
            rp->depth++;
            continue;
        }
        /* An element is complete: close every aggregate it completes. */
        int attr = el.type == RESP_T_ATTR;
        for (;;) {
            if (attr)
                break; /* the value the attribute describes comes next */
            if (rp->depth == 0)
                return build(rp, buf, pos, out);
            if (--rp->stack[rp->depth - 1].left > 0)
                break;
            rp->depth--;
            attr = rp->stack[rp->depth].attr;
        }
    }
}

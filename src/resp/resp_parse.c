/*
 * resp_parse.c — the request parser (see resp_parse.h for the contract).
 *
 * State between calls, all relative to buf[0] (the start of the command), never a pointer:
 *   pos      every byte before it is validated: header lines read, arguments complete
 *   scan     the search for the end of the current line already looked at buf[..scan)
 *   want     arguments announced by "*N"; 0 while that line is not read
 *   bulklen  length of the argument whose "$len" line was read, -1 otherwise
 *   argc     arguments complete; argv[i].len is right, argv[i].ptr only if !resumed
 *
 * Header lines are canonical ("$" + digits without leading zeros + CRLF: string2ll accepts
 * nothing else), so the offset of every argument follows from the lengths alone; that is how
 * pointers are recomputed when the command completes in a later call than it started in.
 */
#include "resp/resp_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PS_IDLE, PS_INLINE, PS_MULTIBULK };

/* Above these sizes the argv array / scratch buffer is given back when the next command
 * starts, so that one huge command does not pin memory for the life of the connection. */
#define ARGV_KEEP 4096
#define ARGV_FIRST 16
#define SCRATCH_KEEP ((size_t)64 * 1024)

#define ERR_PREFIX "ERR "

void resp_limits_default(resp_limits *lim)
{
    lim->max_multibulk = RESP_DEFAULT_MAX_MULTIBULK;
    lim->max_bulk = RESP_DEFAULT_MAX_BULK;
    lim->max_inline = RESP_DEFAULT_MAX_INLINE;
    lim->unauthenticated = 0;
}

static void start_command(resp_parser *p)
{
    p->state = PS_IDLE;
    p->pos = 0;
    p->scan = 0;
    p->want = 0;
    p->bulklen = -1;
    p->resumed = 0;
}

void resp_parser_init(resp_parser *p, const resp_limits *lim)
{
    memset(p, 0, sizeof(*p));
    if (lim)
        p->limits = *lim;
    else
        resp_limits_default(&p->limits);
    start_command(p);
}

void resp_parser_deinit(resp_parser *p)
{
    free(p->argv);
    free(p->scratch);
    p->argv = NULL;
    p->scratch = NULL;
    p->argv_cap = 0;
    p->scratch_cap = 0;
    p->argc = 0;
    start_command(p);
}

void resp_parser_reset(resp_parser *p)
{
    p->argc = 0;
    start_command(p);
}

const char *resp_parser_error(const resp_parser *p)
{
    return p->err[0] ? p->err + sizeof(ERR_PREFIX) - 1 : "";
}

const char *resp_parser_error_reply(const resp_parser *p)
{
    return p->err;
}

size_t resp_parser_want(const resp_parser *p)
{
    if (p->state == PS_MULTIBULK && p->bulklen >= 0)
        return p->pos + (size_t)p->bulklen + 2;
    return 0;
}

size_t resp_parser_memory(const resp_parser *p)
{
    return p->argv_cap * sizeof(resp_arg) + p->scratch_cap;
}

/* Records a protocol error (text without the "ERR " prefix) and resets the command. */
static ssize_t fail(resp_parser *p, const char *text)
{
    snprintf(p->err, sizeof(p->err), ERR_PREFIX "%s", text);
    p->argc = 0;
    start_command(p);
    return RESP_EPROTO;
}

static ssize_t fail_nomem(resp_parser *p)
{
    p->argc = 0;
    start_command(p);
    return RESP_ENOMEM;
}

/* Makes room for `need` arguments in argv, growing geometrically. */
static int argv_reserve(resp_parser *p, size_t need)
{
    size_t cap = p->argv_cap ? p->argv_cap : ARGV_FIRST;
    resp_arg *a;

    if (need <= p->argv_cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > (size_t)-1 / sizeof(resp_arg))
        return -1;
    a = realloc(p->argv, cap * sizeof(resp_arg));
    if (!a)
        return -1;
    p->argv = a;
    p->argv_cap = cap;
    return 0;
}

/* Gives back memory a previous outsized command left behind. */
static void trim(resp_parser *p)
{
    if (p->argv_cap > ARGV_KEEP) {
        free(p->argv);
        p->argv = NULL;
        p->argv_cap = 0;
    }
    if (p->scratch_cap > SCRATCH_KEEP) {
        free(p->scratch);
        p->scratch = NULL;
        p->scratch_cap = 0;
    }
}

/* The end of the header line starting at `start`, searched from p->scan. Redis gives up with
 * `too_big` when more than max_inline bytes follow the line's start and none is a '\r'. Here
 * the '\r' must be among the first max_inline + 1 bytes of the line, a rule that gives the same
 * answer however the bytes were split into reads. Returns the index of the '\r' once the byte
 * after it is in the buffer too, else RESP_EUNFIN or RESP_EPROTO. */
static ssize_t find_line_end(resp_parser *p, const char *buf, size_t len, size_t start,
                             char byte, const char *too_big)
{
    size_t max = p->limits.max_inline;
    size_t stop = max >= len - start ? len : start + max + 1;
    size_t from = p->scan > start ? p->scan : start;
    const char *hit;

    if (from < stop) {
        hit = memchr(buf + from, byte, stop - from);
        if (hit) {
            size_t at = (size_t)(hit - buf);
            p->scan = at;
            if (byte == '\r' && at + 1 >= len)
                return RESP_EUNFIN;
            return (ssize_t)at;
        }
        p->scan = stop;
    }
    if (len - start > max)
        return fail(p, too_big);
    return RESP_EUNFIN;
}

/* ---------------------------------------------------------------------------------------------
 * Inline commands: Redis's sdssplitargs() over the line, without its stop at a NUL byte.
 * ------------------------------------------------------------------------------------------- */

/* isspace() in the C locale: separates arguments and may follow a closing quote. */
static int is_blank(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Ends an unquoted argument. Redis's list: \v and \f do not end one, although they are
 * skipped between arguments. */
static int is_term(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int push_arg(resp_parser *p, const char *ptr, size_t len)
{
    if (p->argc == p->argv_cap && argv_reserve(p, p->argc + 1) != 0)
        return -1;
    p->argv[p->argc].ptr = ptr;
    p->argv[p->argc].len = len;
    p->argc++;
    return 0;
}

/* Decodes one argument that contains quotes, starting at line[*i], into `out` (which has room:
 * a decoded argument is never longer than its wire form). Returns its length, or -1 for
 * unbalanced quotes. */
static ssize_t decode_quoted(const char *line, size_t n, size_t *i, char *out)
{
    char *o = out;
    int inq = 0, insq = 0;
    size_t k = *i;

    for (;;) {
        if (inq) {
            if (k == n)
                return -1;
            char c = line[k];
            if (c == '\\' && k + 3 < n && line[k + 1] == 'x' &&
                hex_val((unsigned char)line[k + 2]) >= 0 &&
                hex_val((unsigned char)line[k + 3]) >= 0) {
                *o++ = (char)(hex_val((unsigned char)line[k + 2]) * 16 +
                              hex_val((unsigned char)line[k + 3]));
                k += 4;
            } else if (c == '\\' && k + 1 < n) {
                switch (line[k + 1]) {
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                case 'b': *o++ = '\b'; break;
                case 'a': *o++ = '\a'; break;
                default: *o++ = line[k + 1]; break;
                }
                k += 2;
            } else if (c == '"') {
                /* The closing quote must be followed by a blank or the end of the line. */
                if (k + 1 < n && !is_blank((unsigned char)line[k + 1]))
                    return -1;
                k++;
                break;
            } else {
                *o++ = c;
                k++;
            }
        } else if (insq) {
            if (k == n)
                return -1;
            char c = line[k];
            if (c == '\\' && k + 1 < n && line[k + 1] == '\'') {
                *o++ = '\'';
                k += 2;
            } else if (c == '\'') {
                if (k + 1 < n && !is_blank((unsigned char)line[k + 1]))
                    return -1;
                k++;
                break;
            } else {
                *o++ = c;
                k++;
            }
        } else {
            /* Before the first quote (the caller found no blank there); a closing quote ends
             * the argument above, so this branch never sees the argument's end: the test
             * only guards the bounds. */
            if (k == n || is_term((unsigned char)line[k]))
                break;
            if (line[k] == '"')
                inq = 1;
            else if (line[k] == '\'')
                insq = 1;
            else
                *o++ = line[k];
            k++;
        }
    }
    *i = k;
    return o - out;
}

/* Splits line[0..n) into p->argv. Returns 0, RESP_EPROTO or RESP_ENOMEM (not yet recorded). */
static int split_inline(resp_parser *p, const char *line, size_t n)
{
    size_t i = 0, used = 0;

    p->argc = 0;
    for (;;) {
        while (i < n && is_blank((unsigned char)line[i]))
            i++;
        if (i == n)
            return 0;

        size_t start = i;
        while (i < n && !is_term((unsigned char)line[i]) && line[i] != '"' && line[i] != '\'')
            i++;
        if (i == n || is_term((unsigned char)line[i])) {
            /* No quotes: the argument is the wire bytes. */
            if (push_arg(p, line + start, i - start) != 0)
                return RESP_ENOMEM;
            continue;
        }

        /* Quotes: decode into scratch, sized once for the whole line so that pointers to
         * arguments decoded earlier stay valid. */
        if (p->scratch_cap < n) {
            char *s = realloc(p->scratch, n);
            if (!s)
                return RESP_ENOMEM;
            p->scratch = s;
            p->scratch_cap = n;
        }
        i = start;
        ssize_t dlen = decode_quoted(line, n, &i, p->scratch + used);
        if (dlen < 0)
            return RESP_EPROTO;
        if (push_arg(p, p->scratch + used, (size_t)dlen) != 0)
            return RESP_ENOMEM;
        used += (size_t)dlen;
    }
}

static ssize_t parse_inline(resp_parser *p, const char *buf, size_t len)
{
    ssize_t r = find_line_end(p, buf, len, 0, '\n', "Protocol error: too big inline request");
    if (r < 0)
        return r;

    size_t nl = (size_t)r, end = nl;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    int rc = split_inline(p, buf, end);
    if (rc == RESP_EPROTO)
        return fail(p, "Protocol error: unbalanced quotes in request");
    if (rc == RESP_ENOMEM)
        return fail_nomem(p);
    p->is_inline = 1;
    start_command(p);
    return (ssize_t)(nl + 1);
}

/* ---------------------------------------------------------------------------------------------
 * Multibulk commands.
 * ------------------------------------------------------------------------------------------- */

/* Gives every argument its pointer into `buf`, from the lengths (see the top of the file). */
static void rebase(resp_parser *p, const char *buf)
{
    size_t off = 3 + resp_digits10((unsigned long long)p->want);

    for (size_t i = 0; i < p->argc; i++) {
        off += 3 + resp_digits10(p->argv[i].len);
        p->argv[i].ptr = buf + off;
        off += p->argv[i].len + 2;
    }
}

static ssize_t parse_multibulk(resp_parser *p, const char *buf, size_t len)
{
    const resp_limits *lim = &p->limits;
    size_t pos = p->pos;
    long long ll;
    ssize_t r;

    if (p->want == 0) {
        r = find_line_end(p, buf, len, 0, '\r', "Protocol error: too big mbulk count string");
        if (r < 0)
            return r;
        size_t cr = (size_t)r;
        if (buf[cr + 1] != '\n' || !resp_string2ll(buf + 1, cr - 1, &ll) ||
            ll > lim->max_multibulk)
            return fail(p, "Protocol error: invalid multibulk length");
        if (lim->unauthenticated && ll > RESP_UNAUTH_MAX_MULTIBULK)
            return fail(p, "Protocol error: unauthenticated multibulk length");
        pos = cr + 2;
        if (ll <= 0) {
            /* "*0" and "*-1": nothing to execute, as in Redis. */
            p->argc = 0;
            p->is_inline = 0;
            start_command(p);
            return (ssize_t)pos;
        }
        /* Do not trust the count for memory: grow with the arguments that really come. */
        if (argv_reserve(p, ll < ARGV_FIRST ? (size_t)ll : ARGV_FIRST) != 0)
            return fail_nomem(p);
        p->want = ll;
        p->bulklen = -1;
        p->argc = 0;
    }

    while (p->argc < (size_t)p->want) {
        if (p->bulklen < 0) {
            r = find_line_end(p, buf, len, pos, '\r',
                              "Protocol error: too big bulk count string");
            if (r == RESP_EUNFIN)
                break;
            if (r < 0)
                return r;
            size_t cr = (size_t)r;
            if (buf[pos] != '$') {
                /* Redis formats the byte with %c and turns CR and LF into spaces; a NUL would
                 * cut the text short, so it becomes a space as well. */
                char got = buf[pos];
                char text[48];
                if (got == '\r' || got == '\n' || got == '\0')
                    got = ' ';
                snprintf(text, sizeof(text), "Protocol error: expected '$', got '%c'", got);
                return fail(p, text);
            }
            if (buf[cr + 1] != '\n' || !resp_string2ll(buf + pos + 1, cr - pos - 1, &ll) ||
                ll < 0 || ll > lim->max_bulk)
                return fail(p, "Protocol error: invalid bulk length");
            if (lim->unauthenticated && ll > RESP_UNAUTH_MAX_BULK)
                return fail(p, "Protocol error: unauthenticated bulk length");
            pos = cr + 2;
            p->bulklen = ll;
        }
        size_t blen = (size_t)p->bulklen;
        if (len - pos < blen + 2)
            break;
        if (buf[pos + blen] != '\r' || buf[pos + blen + 1] != '\n')
            return fail(p, "Protocol error: expected CRLF after bulk argument");
        if (p->argc == p->argv_cap && argv_reserve(p, p->argc + 1) != 0)
            return fail_nomem(p);
        p->argv[p->argc].ptr = buf + pos;
        p->argv[p->argc].len = blen;
        p->argc++;
        pos += blen + 2;
        p->bulklen = -1;
    }

    if (p->argc < (size_t)p->want) {
        p->pos = pos;
        p->resumed = 1;
        return RESP_EUNFIN;
    }
    if (p->resumed)
        rebase(p, buf);
    p->is_inline = 0;
    start_command(p);
    return (ssize_t)pos;
}

ssize_t resp_parse(resp_parser *p, const char *buf, size_t len)
{
    p->err[0] = '\0';
    if (p->state != PS_IDLE && (len < p->pos || len < p->scan)) {
        /* The caller passed fewer bytes than before: start the command over. */
        start_command(p);
    }
    if (p->state == PS_IDLE) {
        p->argc = 0;
        if (len == 0)
            return RESP_EUNFIN;
        trim(p);
        p->state = buf[0] == '*' ? PS_MULTIBULK : PS_INLINE;
    }
    if (p->state == PS_MULTIBULK)
        return parse_multibulk(p, buf, len);
    return parse_inline(p, buf, len);
}

/* ---------------------------------------------------------------------------------------------
 * The one-pass path (resp_parse_fast).
 * ------------------------------------------------------------------------------------------- */

/* Reads "<kind><digits>\r\n" at buf[pos..len) with the digits canonical (no sign, no leading
 * zero, at most 18 of them) and the '\r' within max_inline bytes of the line's start, as
 * find_line_end() wants it. Returns the number and moves *pos past the line, or -1. */
static inline long long fast_header(const char *buf, size_t len, size_t *pos, char kind,
                                    size_t max_inline)
{
    size_t i = *pos, start = i;
    if (i >= len || buf[i] != kind)
        return -1;
    i++;
    size_t first = i;
    long long v = 0;
    while (i < len && i - first < 18 && (unsigned char)(buf[i] - '0') < 10)
        v = v * 10 + (buf[i++] - '0');
    if (i == first || (buf[first] == '0' && i - first > 1) || len - i < 2 || buf[i] != '\r' ||
        buf[i + 1] != '\n' || i - start > max_inline)
        return -1;
    *pos = i + 2;
    return v;
}

ssize_t resp_parse_fast(const resp_parser *p, const char *buf, size_t len, resp_arg *argv,
                        size_t cap, size_t *argc)
{
    const resp_limits *lim = &p->limits;
    if (p->state != PS_IDLE || lim->unauthenticated)
        return 0;
    size_t pos = 0;
    long long n = fast_header(buf, len, &pos, '*', lim->max_inline);
    if (n <= 0 || (unsigned long long)n > cap || n > lim->max_multibulk)
        return 0;
    for (long long i = 0; i < n; i++) {
        long long blen = fast_header(buf, len, &pos, '$', lim->max_inline);
        if (blen < 0 || blen > lim->max_bulk || len - pos < (size_t)blen + 2 ||
            buf[pos + (size_t)blen] != '\r' || buf[pos + (size_t)blen + 1] != '\n')
            return 0;
        argv[i].ptr = buf + pos;
        argv[i].len = (size_t)blen;
        pos += (size_t)blen + 2;
    }
    *argc = (size_t)n;
    return (ssize_t)pos;
}

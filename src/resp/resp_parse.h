/*
 * resp_parse.h — the request parser: bytes from a client into one command's argument vector.
 *
 * Two request forms, told apart by the first byte, as Redis does:
 *
 *   multibulk  "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"   (what every client library sends)
 *   inline     "SET k \"a b\"\r\n"                          (telnet, redis-cli --pipe, old tools)
 *
 * Zero-copy. A multibulk argument is a (pointer, length) pair into the caller's buffer; so is an
 * inline argument without quotes. Only an inline argument with quotes, whose bytes differ from
 * the wire, is decoded into a scratch buffer the parser owns.
 *
 * Incremental. When the buffer ends inside a command, resp_parse() returns RESP_EUNFIN and
 * remembers how far it validated (the header lines read, the arguments found, the length of
 * the bulk it waits for). The next call, given the same bytes plus more, resumes there: a
 * 512 MB argument arriving in 16 KB reads costs O(1) per read, a 1M-argument command O(n) in
 * total. Arguments found before an EUNFIN are stored as lengths only; their pointers are
 * computed again from the buffer the completing call passes, so the caller may move or grow its
 * buffer between calls (realloc, compaction) as long as the command still starts at buf[0].
 *
 *   caller's buffer   [ consumed | *2\r\n$3\r\nGET\r\n$1\r\nk\r\n | *1\r\n$4\r\nPI ]
 *                                ^ buf                            ^ buf + returned count
 *   after success     argv[0] = {buf+8, 3} "GET", argv[1] = {buf+17, 1} "k"
 *   next call         buf points at "*1\r\n$4\r\nPI", returns RESP_EUNFIN until "NG\r\n" comes
 *
 * Limits (resp_limits) and error texts are Redis's (networking.c, processMultibulkBuffer and
 * processInlineBuffer); docs/resp.md lists them and the few places where mnemo is stricter.
 *
 * Ownership: argv and the scratch bytes belong to the parser and stay valid until the next
 * resp_parse(), resp_parser_reset() or resp_parser_deinit() on it; pointers into the caller's
 * buffer stay valid as long as the caller keeps those bytes where they are. A parser belongs
 * to one connection and is used by one thread at a time; it holds no global state.
 */
#ifndef MNEMO_RESP_RESP_PARSE_H
#define MNEMO_RESP_RESP_PARSE_H

#include <stddef.h>
#include <sys/types.h>

#include "resp/resp.h"

/* Redis's defaults: 1024*1024 arguments (Redis 7 allows up to INT_MAX), proto-max-bulk-len
 * 512 MB, PROTO_INLINE_MAX_SIZE 64 KB, and its limits for clients that have not yet
 * authenticated (10 arguments of at most 16384 bytes). */
#define RESP_DEFAULT_MAX_MULTIBULK (1024LL * 1024)
#define RESP_DEFAULT_MAX_BULK (512LL * 1024 * 1024)
#define RESP_DEFAULT_MAX_INLINE ((size_t)64 * 1024)
#define RESP_UNAUTH_MAX_MULTIBULK 10
#define RESP_UNAUTH_MAX_BULK 16384

/* What a client may send. The parser copies it at init; the copy in resp_parser.limits may be
 * changed between commands (after AUTH, after CONFIG SET proto-max-bulk-len). */
typedef struct resp_limits {
    long long max_multibulk; /* most arguments in one multibulk: "invalid multibulk length" */
    long long max_bulk;      /* longest argument (proto-max-bulk-len): "invalid bulk length" */
    size_t max_inline;       /* longest inline line, and longest "*N"/"$N" header line */
    int unauthenticated;     /* nonzero: also Redis's pre-AUTH limits, 10 args of 16 KB */
} resp_limits;

/* The parser. Public fields are the result of the last call that returned a byte count and
 * are read-only for the caller; the rest is private. Embed it in the connection (no malloc is
 * needed to create one). */
typedef struct resp_parser {
    resp_arg *argv;     /* argc arguments of the last command parsed (only meaningful
                           after a call that returned a byte count) */
    size_t argc;        /* 0: nothing to execute (empty inline line, "*0", "*-1") */
    int is_inline;      /* the last command came in the inline form */
    resp_limits limits; /* in force for the next command parsed */

    /* private */
    size_t argv_cap;
    char *scratch; /* decoded quoted inline arguments */
    size_t scratch_cap;
    int state;         /* idle, inline line, multibulk */
    size_t pos;        /* bytes of the current command validated so far */
    size_t scan;       /* where the search for the current line's end resumes */
    long long want;    /* multibulk: arguments announced */
    long long bulklen; /* multibulk: length of the argument awaited, -1 before its header */
    int resumed;       /* argv pointers from an earlier call must be recomputed */
    char err[80];      /* "ERR Protocol error: ..." */
} resp_parser;

/* Fills `lim` with Redis's defaults (above), unauthenticated off. Thread-safe. */
void resp_limits_default(resp_limits *lim);

/* Initialises `p` with a copy of `lim` (NULL: resp_limits_default()). Allocates nothing, so
 * it cannot fail; memory comes with the first command and is reused after. */
void resp_parser_init(resp_parser *p, const resp_limits *lim);

/* Frees what `p` allocated. `p` may be initialised again afterwards. */
void resp_parser_deinit(resp_parser *p);

/* Forgets a partly parsed command (keeps the limits and the memory). Call it when the caller
 * discards its buffer without a completed command, e.g. after a protocol error. */
void resp_parser_reset(resp_parser *p);

/*
 * Parses one command from the start of buf[0..len).
 *
 * buf must begin at the first byte not yet consumed. After RESP_EUNFIN, call again with the
 * same bytes at the start of buf followed by more (buf may have moved). Passing fewer bytes
 * than last time makes the parser start the command over; it never reads out of bounds.
 *
 * Returns:
 *   > 0          the command's length in bytes: the caller drops that many bytes and, if
 *                p->argc > 0, executes p->argv[0..argc). argc is 0 for an empty inline line
 *                (or one of blanks), "*0\r\n" and "*-1\r\n": Redis ignores those silently.
 *   RESP_EUNFIN  the buffer ends inside a command; nothing consumed. resp_parser_want() tells
 *                how many bytes would make progress when that is known.
 *   RESP_EPROTO  the input is not a valid request; resp_parser_error() has Redis's text.
 *                Redis replies "-ERR <text>" and closes the connection. The parser is reset.
 *   RESP_ENOMEM  an allocation failed (argv or scratch growth); the parser is reset.
 */
ssize_t resp_parse(resp_parser *p, const char *buf, size_t len);

/*
 * The common case in one pass, for a caller that parses ahead (a server running pipelined
 * commands): one complete multibulk command at the start of buf[0..len), written the way every
 * client library writes it, into the caller's argv[0..cap). The parser is only read (its
 * limits, and that no command is partly parsed); nothing is stored in it.
 *
 * Returns the command's length in bytes with *argc set (at least 1), exactly as resp_parse()
 * would return it and fill p->argv, or 0 when this cannot tell so cheaply: a command partly
 * parsed before, an unauthenticated client, the inline form, a count of 0 or below or above
 * `cap`, a header with a sign or a leading zero or more than 18 digits, a limit exceeded, a
 * command not complete in the buffer, or any byte out of place. Then resp_parse() decides
 * (an error, EUNFIN, or the command).
 */
ssize_t resp_parse_fast(const resp_parser *p, const char *buf, size_t len, resp_arg *argv,
                        size_t cap, size_t *argc);

/* After RESP_EPROTO: the error text as Redis words it, e.g. "Protocol error: invalid bulk
 * length". Owned by `p`, valid until the next call on it. "" if there was no error. */
const char *resp_parser_error(const resp_parser *p);

/* The same text with Redis's "ERR " prefix, ready for resp_write_error(). */
const char *resp_parser_error_reply(const resp_parser *p);

/* After RESP_EUNFIN: the buffer length the next call needs for the current command to make
 * progress, when the parser knows it (it waits for the rest of a bulk of known length), else
 * 0. A server can size its read buffer with it so that a large argument is read in place
 * with no intermediate growth. */
size_t resp_parser_want(const resp_parser *p);

/* Bytes of heap the parser holds (argv and scratch), for CLIENT LIST-style accounting. */
size_t resp_parser_memory(const resp_parser *p);

#endif

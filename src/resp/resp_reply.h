/*
 * resp_reply.h — the reply parser: RESP2/RESP3 replies into a tree of resp_value, for tests and
 * for the replication client.
 *
 * Every RESP3 type is understood, nested to a configurable depth:
 *
 *   + simple string   - error        : integer       $ bulk string ($-1: null)
 *   * array (*-1: null)              _ null          , double        # boolean
 *   ! blob error      = verbatim     ( big number    % map           ~ set
 *   > push            | attribute (describes the value that follows it)
 *
 * Streamed strings and aggregates ("$?", "*?"), which Redis never sends, are refused.
 *
 * Incremental in O(n): a first pass validates the reply and counts its nodes and string bytes
 * with an explicit stack (one frame per open aggregate: elements still expected), and keeps
 * that state across RESP_EUNFIN, so each call resumes at the element it stopped in. Once the
 * reply is complete, a second pass builds the tree in a single allocation sized exactly from
 * the counts, so nothing is ever allocated from a length the peer merely announced.
 *
 * Ownership: the tree is one malloc()ed block, independent of the input buffer (strings are
 * copied, NUL-terminated); the caller frees it with resp_value_free(). A parser belongs to one
 * connection and is used by one thread at a time.
 */
#ifndef MNEMO_RESP_RESP_REPLY_H
#define MNEMO_RESP_RESP_REPLY_H

#include <stddef.h>
#include <sys/types.h>

#include "resp/resp.h"

#define RESP_REPLY_MAX_DEPTH 64         /* hard cap on nesting */
#define RESP_REPLY_DEFAULT_DEPTH 16     /* default nesting limit */
#define RESP_REPLY_DEFAULT_MAX_BULK (512LL * 1024 * 1024)

/* Reply types: the type byte on the wire. */
typedef enum resp_type {
    RESP_T_SIMPLE = '+',
    RESP_T_ERROR = '-',
    RESP_T_INT = ':',
    RESP_T_BULK = '$',
    RESP_T_ARRAY = '*',
    RESP_T_NULL = '_',
    RESP_T_DOUBLE = ',',
    RESP_T_BOOL = '#',
    RESP_T_BLOB_ERROR = '!',
    RESP_T_VERBATIM = '=',
    RESP_T_BIGNUM = '(',
    RESP_T_MAP = '%',
    RESP_T_SET = '~',
    RESP_T_PUSH = '>',
    RESP_T_ATTR = '|',
} resp_type;

/* One value of a reply tree. */
typedef struct resp_value {
    resp_type type;
    char wire;   /* the type byte seen: equals type except RESP2 nulls ('$' for "$-1", '*') */
    char fmt[4]; /* VERBATIM: its 3-byte format ("txt"), NUL-terminated */
    const char *str; /* SIMPLE, ERROR, BULK, BLOB_ERROR, VERBATIM (text after "fmt:"), BIGNUM,
                        DOUBLE (its text as sent): len bytes plus a NUL; NULL otherwise */
    size_t len;
    long long integer; /* INT; BOOL (1 or 0) */
    double dbl;        /* DOUBLE */
    size_t n;          /* ARRAY, SET, PUSH: elements; MAP, ATTR: pairs (elems holds 2n) */
    struct resp_value *elems;      /* aggregate members; maps as key, value, key, value... */
    const struct resp_value *attr; /* attribute sent before this value (whose own attr field
                                      links an earlier one, if several were sent), or NULL */
} resp_value;

/* The reply parser. Fields are private except the two limits, which may be changed between
 * replies. Embed it; no malloc is needed to create one. */
typedef struct resp_reply_parser {
    unsigned max_depth; /* open aggregates allowed at once, 1..RESP_REPLY_MAX_DEPTH */
    long long max_bulk; /* longest bulk, blob error or verbatim string */

    /* private */
    size_t pos;   /* bytes of the current reply validated */
    size_t scan;  /* where the search for the current line's CR resumes */
    size_t nodes; /* values (attributes included) validated */
    size_t bytes; /* string bytes (NULs included) the tree will hold */
    unsigned depth;
    struct {
        unsigned long long left; /* elements still expected */
        int attr;                /* the frame is an attribute */
    } stack[RESP_REPLY_MAX_DEPTH];
    char err[96];
} resp_reply_parser;

/* Initialises `rp` with a nesting limit (0: RESP_REPLY_DEFAULT_DEPTH; capped at
 * RESP_REPLY_MAX_DEPTH) and a bulk length limit (0: RESP_REPLY_DEFAULT_MAX_BULK). Allocates
 * nothing. */
void resp_reply_parser_init(resp_reply_parser *rp, unsigned max_depth, long long max_bulk);

/* Forgets a partly parsed reply. */
void resp_reply_parser_reset(resp_reply_parser *rp);

/*
 * Parses one reply from the start of buf[0..len). After RESP_EUNFIN, call again with the same
 * bytes at the start of buf followed by more (buf may have moved); fewer bytes than last time
 * start the reply over.
 *
 * Returns:
 *   > 0          the reply's length in bytes; *out is its tree (caller frees it with
 *                resp_value_free()). Attributes before a top-level value are part of it.
 *   RESP_EUNFIN  incomplete; *out untouched.
 *   RESP_EPROTO  invalid (bad type byte, bad number, missing CRLF, too deep, bulk over the
 *                limit); resp_reply_parser_error() says what. The parser is reset.
 *   RESP_ENOMEM  the tree could not be allocated. The parser is reset.
 */
ssize_t resp_reply_parse(resp_reply_parser *rp, const char *buf, size_t len, resp_value **out);

/* After RESP_EPROTO: what was wrong, e.g. "Protocol error: invalid bulk length". Owned by
 * `rp`, valid until the next call on it. */
const char *resp_reply_parser_error(const resp_reply_parser *rp);

/* Frees a tree returned by resp_reply_parse() (the root only; NULL is fine). */
void resp_value_free(resp_value *v);

#endif

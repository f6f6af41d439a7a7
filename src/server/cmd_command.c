/*
 * cmd_command.c — COMMAND, COMMAND COUNT / INFO / DOCS / LIST, answered from the table.
 *
 * COMMAND INFO gives Redis 7's ten-element entry per command (name, arity, flags, first key,
 * last key, step, ACL categories, tips, key specifications, subcommands). COMMAND DOCS turns
 * each row's argument syntax string ("key value [NX|XX] [EX seconds|PX milliseconds]") into
 * Redis's argument maps, which redis-cli uses for its hints:
 *
 *   word       -> {name, type: key (for key-like names) or string}
 *   WORD       -> {name: word, type: pure-token, token: WORD}
 *   WORD word  -> {name: word, type: string, token: WORD}      (inside [] or an alternative)
 *   a|b|c      -> {type: oneof, arguments: [a, b, c]}
 *   [ ... ]    -> the same with flags: [optional]
 *   x [x ...]  -> x with flags: [multiple]
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "server/cmd.h"
#include "server/reply.h"
#include "server/server.h"

static const struct {
    unsigned bit;
    const char *name;
} flag_names[] = {
    {CMD_WRITE, "write"},   {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"},   {CMD_NOSCRIPT, "noscript"}, {CMD_LOADING, "loading"},
    {CMD_STALE, "stale"},   {CMD_FAST, "fast"},         {CMD_NOAUTH, "no_auth"},
    {CMD_NOMULTI, "no_multi"},  {CMD_PUBSUB, "pubsub"},
};

static void command_entry(conn *c, const command *cmd);

static void reply_flags(conn *c, const command *cmd)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        n += (cmd->flags & flag_names[i].bit) != 0;
    reply_set(c, n);
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
        if (cmd->flags & flag_names[i].bit)
            reply_simple(c, flag_names[i].name);
}

static void reply_acl(conn *c, const command *cmd)
{
    char buf[256];
    const char *words[16];
    size_t n = 0;
    snprintf(buf, sizeof(buf), "%s", cmd->acl ? cmd->acl : "");
    for (char *save, *t = strtok_r(buf, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
        words[n++] = t;
    reply_set(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, words[i]);
}

static void reply_keyspecs(conn *c, const command *cmd)
{
    if (cmd->first <= 0) {
        reply_set(c, 0);
        return;
    }
    reply_set(c, 1);
    reply_map(c, 3);
    reply_bulk_str(c, "flags");
    reply_set(c, 2);
    reply_simple(c, (cmd->flags & CMD_WRITE) ? "RW" : "RO");
    reply_simple(c, (cmd->flags & CMD_WRITE) ? "update" : "access");
    reply_bulk_str(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_str(c, "type");
    reply_bulk_str(c, "index");
    reply_bulk_str(c, "spec");
    reply_map(c, 1);
    reply_bulk_str(c, "index");
    reply_int(c, cmd->first);
    reply_bulk_str(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_str(c, "type");
    reply_bulk_str(c, "range");
    reply_bulk_str(c, "spec");
    reply_map(c, 3);
    reply_bulk_str(c, "lastkey");
    reply_int(c, cmd->last < 0 ? cmd->last : cmd->last - cmd->first);
    reply_bulk_str(c, "keystep");
    reply_int(c, cmd->step);
    reply_bulk_str(c, "limit");
    reply_int(c, 0);
}

static size_t nsubs(const command *cmd)
{
    size_t n = 0;
    for (const command *s = cmd->subs; s && s->name; s++)
        n++;
    return n;
}

static void command_entry(conn *c, const command *cmd)
{
    reply_array(c, 10);
    reply_bulk_str(c, cmd->name);
    reply_int(c, cmd->arity);
    reply_flags(c, cmd);
    reply_int(c, cmd->first);
    reply_int(c, cmd->last);
    reply_int(c, cmd->step);
    reply_acl(c, cmd);
    reply_set(c, 0);
    reply_keyspecs(c, cmd);
    reply_array(c, nsubs(cmd));
    for (const command *s = cmd->subs; s && s->name; s++)
        command_entry(c, s);
}

static void entry_cb(void *ctx, const command *cmd)
{
    command_entry(ctx, cmd);
}

static void cmd_command_all(conn *c, int argc, resp_arg *argv)
{
    reply_array(c, cmd_count());
    cmd_foreach(entry_cb, c);
}

static const command *lookup_full(const resp_arg *a)
{
    const char *bar = memchr(a->ptr, '|', a->len);
    if (!bar)
        return cmd_lookup(a->ptr, a->len);
    const command *p = cmd_lookup(a->ptr, (size_t)(bar - a->ptr));
    if (!p)
        return NULL;
    return cmd_lookup_sub(p, bar + 1, a->len - (size_t)(bar - a->ptr) - 1);
}

static void cmd_command_count(conn *c, int argc, resp_arg *argv)
{
    reply_int(c, (long long)cmd_count());
}

static void cmd_command_info(conn *c, int argc, resp_arg *argv)
{
    if (argc == 2) {
        cmd_command_all(c, argc, argv);
        return;
    }
    reply_array(c, (size_t)argc - 2);
    for (int i = 2; i < argc; i++) {
        const command *cmd = lookup_full(&argv[i]);
        if (cmd)
            command_entry(c, cmd);
        else
            reply_null_array(c);
    }
}

static void name_cb(void *ctx, const command *cmd)
{
    reply_bulk_str(ctx, cmd->name);
}

static void cmd_command_list(conn *c, int argc, resp_arg *argv)
{
    if (argc > 2) {
        reply_err(c, ERR_SYNTAX);
        return;
    }
    reply_array(c, cmd_count());
    cmd_foreach(name_cb, c);
}

/* ---- COMMAND DOCS: argument syntax to maps -------------------------------------------------- */

/* The end of the item starting at s[i] (a bracket group or a word), within n. */
static size_t item_end(const char *s, size_t i, size_t n)
{
    int depth = 0;
    for (; i < n; i++) {
        if (s[i] == '[')
            depth++;
        else if (s[i] == ']')
            depth--;
        else if (s[i] == ' ' && depth == 0)
            break;
        if (depth == 0 && s[i] == ']')
            return i + 1;
    }
    return i;
}

typedef struct span {
    const char *p;
    size_t n;
} span;

static size_t split_items(const char *s, size_t n, span *out, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max) {
        while (i < n && s[i] == ' ')
            i++;
        if (i >= n)
            break;
        size_t e = item_end(s, i, n);
        out[k].p = s + i;
        out[k].n = e - i;
        k++;
        i = e;
    }
    return k;
}

/* Splits on top-level '|'. */
static size_t split_alts(const char *s, size_t n, span *out, size_t max)
{
    size_t k = 0, start = 0;
    int depth = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i < n && s[i] == '[')
            depth++;
        else if (i < n && s[i] == ']')
            depth--;
        if (i == n || (s[i] == '|' && depth == 0)) {
            out[k].p = s + start;
            out[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

static int is_upper_word(span w)
{
    int letters = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (islower((unsigned char)w.p[i]))
            return 0;
        letters += isalpha((unsigned char)w.p[i]) != 0;
    }
    return letters > 0;
}

static void reply_lower(conn *c, span w)
{
    char buf[64];
    size_t n = w.n < sizeof(buf) ? w.n : sizeof(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)w.p[i]);
    reply_bulk(c, buf, n);
}

static int is_key_name(span w)
{
    static const char *keys[] = {"key", "newkey", "source", "destination"};
    for (size_t i = 0; i < 4; i++)
        if (strlen(keys[i]) == w.n && memcmp(keys[i], w.p, w.n) == 0)
            return 1;
    return 0;
}

static void emit_arg(conn *c, span s, int optional, int multiple);

/* Emits a sequence of items (an argument list or a block's content); returns the count. */
static size_t emit_seq(conn *c, span s, int count_only)
{
    span items[32];
    size_t n = split_items(s.p, s.n, items, 32), emitted = 0;
    for (size_t i = 0; i < n; i++) {
        span it = items[i];
        int multiple = 0;
        /* "x [x ...]": x repeated */
        if (i + 1 < n && items[i + 1].n > 5 && items[i + 1].p[0] == '[' &&
            memcmp(items[i + 1].p + items[i + 1].n - 5, " ...]", 5) == 0) {
            multiple = 1;
            i++;
        }
        if (!count_only) {
            if (it.p[0] == '[')
                emit_arg(c, (span){it.p + 1, it.n - 2}, 1, multiple);
            else
                emit_arg(c, it, 0, multiple);
        }
        emitted++;
    }
    return emitted;
}

static void emit_arg(conn *c, span s, int optional, int multiple)
{
    span alts[16], items[32];
    size_t na = split_alts(s.p, s.n, alts, 16);
    size_t fields = 2 + (optional || multiple);
    const char *type;
    span name = s, token = {NULL, 0};
    int block = 0;

    if (na > 1) {
        type = "oneof";
    } else {
        size_t ni = split_items(s.p, s.n, items, 32);
        if (ni == 1 && is_upper_word(items[0])) {
            type = "pure-token";
            token = items[0];
        } else if (ni == 1) {
            type = is_key_name(items[0]) ? "key" : "string";
            name = items[0];
        } else if (ni == 2 && is_upper_word(items[0]) && items[1].p[0] != '[') {
            type = "string";
            token = items[0];
            name = items[1];
        } else {
            type = "block";
            block = 1;
        }
    }
    if (token.p)
        fields++;
    if (na > 1 || block)
        fields++;
    reply_map(c, fields);
    reply_bulk_str(c, "name");
    if (na > 1 || block) {
        /* a synthetic name from the first word */
        span w[1];
        split_items(s.p, s.n, w, 1);
        size_t k = 0;
        while (k < w[0].n && w[0].p[k] != '|' && w[0].p[k] != '[')
            k++;
        reply_lower(c, (span){w[0].p, k ? k : w[0].n});
    } else if (!strcmp(type, "pure-token")) {
        reply_lower(c, token);
    } else {
        reply_bulk(c, name.p, name.n);
    }
    reply_bulk_str(c, "type");
    reply_bulk_str(c, type);
    if (token.p) {
        reply_bulk_str(c, "token");
        reply_bulk(c, token.p, token.n);
    }
    if (optional || multiple) {
        reply_bulk_str(c, "flags");
        reply_set(c, (size_t)(optional + multiple));
        if (optional)
            reply_simple(c, "optional");
        if (multiple)
            reply_simple(c, "multiple");
    }
    if (na > 1) {
        reply_bulk_str(c, "arguments");
        reply_array(c, na);
        for (size_t i = 0; i < na; i++)
            emit_arg(c, alts[i], 0, 0);
    } else if (block) {
        reply_bulk_str(c, "arguments");
        reply_array(c, emit_seq(c, s, 1));
        emit_seq(c, s, 0);
    }
}

static void doc_entry(conn *c, const command *cmd)
{
    size_t fields = 3 + (cmd->args != NULL) + (cmd->subs != NULL);
    reply_bulk_str(c, cmd->name);
    reply_map(c, fields);
    reply_bulk_str(c, "summary");
    reply_bulk_str(c, cmd->summary ? cmd->summary : "");
    reply_bulk_str(c, "since");
    reply_bulk_str(c, cmd->since ? cmd->since : "0.1.0");
    reply_bulk_str(c, "group");
    reply_bulk_str(c, cmd->group ? cmd->group : "generic");
    if (cmd->args) {
        span s = {cmd->args, strlen(cmd->args)};
        reply_bulk_str(c, "arguments");
        reply_array(c, emit_seq(c, s, 1));
        emit_seq(c, s, 0);
    }
    if (cmd->subs) {
        reply_bulk_str(c, "subcommands");
        reply_map(c, nsubs(cmd));
        for (const command *sc = cmd->subs; sc->name; sc++)
            doc_entry(c, sc);
    }
}

static void doc_cb(void *ctx, const command *cmd)
{
    doc_entry(ctx, cmd);
}

static void cmd_command_docs(conn *c, int argc, resp_arg *argv)
{
    if (argc == 2) {
        reply_map(c, cmd_count());
        cmd_foreach(doc_cb, c);
        return;
    }
    size_t found = 0;
    for (int i = 2; i < argc; i++)
        found += lookup_full(&argv[i]) != NULL;
    reply_map(c, found);
    for (int i = 2; i < argc; i++) {
        const command *cmd = lookup_full(&argv[i]);
        if (cmd)
            doc_entry(c, cmd);
    }
}

static void getkeys_cb(void *ctx, const resp_arg *key)
{
    reply_bulk(ctx, key->ptr, key->len);
}

static void count_cb(void *ctx, const resp_arg *key)
{
    (*(size_t *)ctx)++;
}

/* COMMAND GETKEYS command [arg ...]: the key arguments, from the table's key positions. */
static void cmd_command_getkeys(conn *c, int argc, resp_arg *argv)
{
    if (argc < 4) {
        reply_err(c, "ERR wrong number of arguments for 'command|getkeys' command");
        return;
    }
    int n = argc - 2;
    resp_arg *args = argv + 2;
    const command *cmd = cmd_lookup(args[0].ptr, args[0].len);
    if (cmd && (cmd->flags & CMD_CONTAINER) && n >= 2)
        cmd = cmd_lookup_sub(cmd, args[1].ptr, args[1].len);
    if (!cmd) {
        reply_err(c, "ERR Invalid command specified");
        return;
    }
    if ((cmd->arity > 0 && n != cmd->arity) || (cmd->arity < 0 && n < -cmd->arity)) {
        reply_err(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    size_t keys = 0;
    cmd_keys(cmd, n, args, count_cb, &keys);
    if (!keys) {
        reply_err(c, "ERR The command has no key arguments");
        return;
    }
    reply_array(c, keys);
    cmd_keys(cmd, n, args, getkeys_cb, c);
}

static void cmd_command_help(conn *c, int argc, resp_arg *argv)
{
    static const char *lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST", "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]", "    Return details about multiple commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
        "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
        "HELP", "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

static void cmd_command(conn *c, int argc, resp_arg *argv)
{
    if (argc == 1) {
        cmd_command_all(c, argc, argv);
        return;
    }
    static const struct {
        const char *name;
        int min;
        cmd_fn fn;
    } subs[] = {{"count", 2, cmd_command_count}, {"info", 2, cmd_command_info},
                {"docs", 2, cmd_command_docs},   {"list", 2, cmd_command_list},
                {"help", 2, cmd_command_help},   {"getkeys", 3, cmd_command_getkeys}};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (arg_eq(&argv[1], subs[i].name)) {
            if ((i == 0 || i == 4) && argc != 2) {
                reply_errf(c, "ERR wrong number of arguments for 'command|%s' command",
                           subs[i].name);
                return;
            }
            subs[i].fn(c, argc, argv);
            return;
        }
    }
    reply_errf(c, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
               (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].ptr);
}

const command cmd_command_table[] = {
    {"command", -1, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_command, "server", "2.8.13",
     "Returns detailed information about all commands.", "[COUNT|INFO|DOCS|LIST|HELP]",
     "@slow @connection", NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

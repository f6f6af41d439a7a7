/*
 * hitratio — cache hit ratio of a RESP server (mnemo-server, redis-server) under a Zipf trace.
 *
 * Workload ("get-then-set-on-miss", as a cache in front of a database would do it):
 *   for each request of the trace: GET key; if it missed, SET key value (value_size bytes).
 * The trace is deterministic for a given seed: request i draws a rank r in [1, keys] from a
 * Zipf(theta) distribution, P(r) = r^-theta / H(keys, theta), with Hörmann and Derflinger's
 * rejection-inversion sampler (exact, O(1) per draw, no table; the method of Apache Commons'
 * RejectionInversionZipfSampler). The rank is then scrambled by a keyed 32-bit bijection
 * (murmur3's finaliser after an xor with the seed), so that distinct ranks stay distinct keys and
 * the popular keys are spread over the keyspace (and over a server's shards) instead of being
 * keys 0, 1, 2, ...:
 *
 *   key   = "key:%012u" % fmix32((rank - 1) ^ seed32)          16 bytes, like bench/dataset.py
 *   value = value_size bytes of hex digits derived from the key's id; every hit is checked
 *           against it (a server returning the wrong bytes fails the run)
 *
 * Pipelined windows. To be fast over one connection the driver does not wait for each reply:
 * it sends a window of W GETs (default 64), reads their W replies, then sends one SET for each
 * key that missed in the window (once per key: a key that misses twice in one window is set
 * once) and reads the +OK replies. Within a window the GETs therefore all come before the SETs
 * of the window's misses; a key that misses and comes back in the same window misses twice
 * where a strictly sequential client would have hit the second time. Those "repeat misses" are
 * counted and printed: mostly in the warm-up, while hot keys are still absent; a key that
 * misses at steady state is rarely requested again within 64 requests (37 to 465 repeat misses
 * in 10 M requests in docs/BENCHMARKS.md's runs). -w 1 is strictly sequential.
 *
 * Warm-up. The cache starts empty, so the hit ratio of the whole run depends on its length.
 * Two figures are printed: over the whole run, and over the last (1 - warmup) of the requests
 * (default: the last 50 %), the steady-state figure that the benchmark reports.
 *
 * It also prints the hit ratio of a cache that never evicts, on the same trace (a request hits
 * when its key was requested before): the ceiling that only compulsory misses limit.
 *
 * At the end it reads the server's own figures: INFO memory and stats (used_memory,
 * used_memory_rss, maxmemory, maxmemory_policy, evicted_keys, keyspace_hits/misses) and DBSIZE.
 *
 * Usage: hitratio [-h HOST] [-p PORT] [-n REQUESTS] [-k KEYS] [-s THETA] [-d VALUE_SIZE]
 *                 [-w WINDOW] [--seed S] [--warmup FRACTION] [--flushall] [--csv] [-v]
 *        hitratio --zipf-check SAMPLES [-k KEYS] [-s THETA] [--seed S]
 *        hitratio --exact-lfu CACHE_KEYS [-n REQUESTS] [-k KEYS] [-s THETA] [--seed S]
 *                 [--warmup FRACTION]
 *   defaults: 127.0.0.1:6379, 10000000 requests, 4000000 keys, theta 0.99, 32-byte values,
 *   window 64, seed 1, warm-up 0.5.
 *   --flushall   FLUSHALL before the run (the benchmark starts fresh servers instead)
 *   --csv        one header line and one line of figures instead of the report
 *   --zipf-check draw SAMPLES ranks without a server and compare their frequencies with the
 *                exact Zipf probabilities (validates the sampler)
 *   --exact-lfu  replay the same trace without a server through an exact LFU cache holding
 *                CACHE_KEYS keys (bench/exact_lfu.h) and print its hit ratios: the best any
 *                cache holding that many keys can do on this trace (e.g. give it a server's
 *                average key count to see what that server's policy leaves on the table)
 * Exit status: 0 when the run completed; 1 on a connection or protocol error, an error reply to
 * a GET, or a hit with the wrong value (SET errors, e.g. OOM under noeviction, are counted).
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exact_lfu.h"

#define KEY_LEN 16
#define MAX_WINDOW 4096
#define MAX_VALUE 4096
#define RBUF_SIZE (1 << 20)

/* ---- random numbers and the Zipf sampler -------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 random bits. */
static double rand_unit(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

/* Rejection-inversion sampling of Zipf(s) over {1..n} (W. Hörmann, G. Derflinger, "Rejection-
 * inversion to generate variates from monotone discrete distributions", ACM TOMACS 6(3), 1996).
 * h(x) = x^-s is the unnormalised density; H is its integral, chosen so that the areas under h
 * around each integer k (from k - 1/2 to k + 1/2) dominate P(k); a uniform draw over the total
 * area is inverted through H and accepted when it falls under the step of the exact P(k). */
typedef struct zipf {
    double s;
    uint32_t n;
    double h_x1;  /* H(1.5) - 1 */
    double h_n;   /* H(n + 0.5) */
    double sconst; /* 2 - H^-1(H(2.5) - h(2)): acceptance shortcut */
} zipf;

/* log1p(x) / x, and expm1(x) / x, accurate near 0 (where s is near 1). */
static double helper1(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

static double helper2(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

static double zipf_h(const zipf *z, double x)
{
    return exp(-z->s * log(x));
}

/* H(x) = (x^(1-s) - 1) / (1 - s), or log(x) when s = 1. */
static double zipf_hint(const zipf *z, double x)
{
    double lx = log(x);
    return helper2((1.0 - z->s) * lx) * lx;
}

static double zipf_hint_inv(const zipf *z, double x)
{
    double t = x * (1.0 - z->s);
    if (t < -1.0)
        t = -1.0; /* rounding could push it below the domain of log1p */
    return exp(helper1(t) * x);
}

static void zipf_init(zipf *z, uint32_t n, double s)
{
    z->s = s;
    z->n = n;
    z->h_x1 = zipf_hint(z, 1.5) - 1.0;
    z->h_n = zipf_hint(z, (double)n + 0.5);
    z->sconst = 2.0 - zipf_hint_inv(z, zipf_hint(z, 2.5) - zipf_h(z, 2.0));
}

/* A rank in [1, n]; rank 1 is the most popular. */
static uint32_t zipf_next(const zipf *z, uint64_t *rng)
{
    for (;;) {
        double u = z->h_n + rand_unit(rng) * (z->h_x1 - z->h_n);
        double x = zipf_hint_inv(z, u);
        double kd = floor(x + 0.5);
        if (kd < 1.0)
            kd = 1.0;
        else if (kd > (double)z->n)
            kd = (double)z->n;
        if (kd - x <= z->sconst || u >= zipf_hint(z, kd + 0.5) - zipf_h(z, kd))
            return (uint32_t)kd;
    }
}

/* murmur3's 32-bit finaliser: a bijection of uint32, so distinct ranks give distinct keys. */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

/* ---- keys and values ------------------------------------------------------------------------ */

static void format_key(char out[KEY_LEN], uint32_t id)
{
    memcpy(out, "key:", 4);
    for (int i = KEY_LEN - 1; i >= 4; i--) {
        out[i] = (char)('0' + id % 10);
        id /= 10;
    }
}

static void format_value(char *out, size_t len, uint32_t id)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t st = id, w = 0;
    for (size_t i = 0; i < len; i++) {
        if (i % 16 == 0)
            w = splitmix64(&st);
        out[i] = hex[w & 15];
        w >>= 4;
    }
}

/* ---- a blocking RESP connection ----------------------------------------------------------- */

typedef struct conn {
    int fd;
    char *rbuf;
    size_t rpos, rlen; /* unread bytes are rbuf[rpos, rlen) */
    char *wbuf;
    size_t wlen, wcap;
} conn;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hitratio: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void conn_open(conn *c, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        die("%s:%s: %s", host, port, gai_strerror(rc));
    c->fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (c->fd < 0)
            continue;
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (c->fd < 0)
        die("cannot connect to %s:%s: %s", host, port, strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->rbuf = malloc(RBUF_SIZE);
    c->wcap = 1 << 16;
    c->wbuf = malloc(c->wcap);
    if (!c->rbuf || !c->wbuf)
        die("out of memory");
    c->rpos = c->rlen = c->wlen = 0;
}

static void conn_close(conn *c)
{
    close(c->fd);
    free(c->rbuf);
    free(c->wbuf);
}

static void wr(conn *c, const void *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        while (c->wlen + n > c->wcap)
            c->wcap *= 2;
        c->wbuf = realloc(c->wbuf, c->wcap);
        if (!c->wbuf)
            die("out of memory");
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

static void wr_str(conn *c, const char *s)
{
    wr(c, s, strlen(s));
}

static void conn_flush(conn *c)
{
    size_t off = 0;
    while (off < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("send: %s", strerror(errno));
        }
        off += (size_t)n;
    }
    c->wlen = 0;
}

/* Reads until at least `need` unread bytes are buffered. */
static void conn_fill(conn *c, size_t need)
{
    if (need > RBUF_SIZE)
        die("reply larger than %d bytes", RBUF_SIZE);
    if (c->rpos + need > RBUF_SIZE) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    while (c->rlen - c->rpos < need) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
        if (n == 0)
            die("the server closed the connection");
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("recv: %s", strerror(errno));
        }
        c->rlen += (size_t)n;
    }
}

/* The next reply line, without its CRLF, NUL-terminated in place; valid until the next read. */
static char *read_line(conn *c, size_t *len)
{
    size_t scanned = 0;
    for (;;) {
        char *p = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        for (size_t i = scanned; i + 1 < avail; i++) {
            if (p[i] == '\r' && p[i + 1] == '\n') {
                p[i] = '\0';
                *len = i;
                c->rpos += i + 2;
                return p;
            }
        }
        scanned = avail ? avail - 1 : 0;
        conn_fill(c, avail + 1);
    }
}

/* A bulk string reply's payload (after its "$len" line), `len` bytes plus CRLF. */
static char *read_payload(conn *c, size_t len)
{
    conn_fill(c, len + 2);
    char *p = c->rbuf + c->rpos;
    c->rpos += len + 2;
    return p;
}

/* Sends one command (argv as NUL-terminated strings) and returns its reply when it is a bulk
 * string or a simple string/integer, NUL-terminated in a malloc'd buffer (caller frees); NULL
 * for a null reply. Dies on an error reply or an aggregate. */
static char *command(conn *c, int argc, const char **argv)
{
    char hdr[32];
    snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
    wr_str(c, hdr);
    for (int i = 0; i < argc; i++) {
        snprintf(hdr, sizeof(hdr), "$%zu\r\n", strlen(argv[i]));
        wr_str(c, hdr);
        wr_str(c, argv[i]);
        wr_str(c, "\r\n");
    }
    conn_flush(c);
    size_t len;
    char *line = read_line(c, &len);
    if (line[0] == '-')
        die("%s: %s", argv[0], line + 1);
    if (line[0] == '+' || line[0] == ':')
        return strdup(line + 1);
    if ((line[0] == '$' || line[0] == '=') && line[1] != '-') {
        size_t n = strtoull(line + 1, NULL, 10);
        char *p = read_payload(c, n);
        char *out = malloc(n + 1);
        if (!out)
            die("out of memory");
        memcpy(out, p, n);
        out[n] = '\0';
        return out;
    }
    if (line[0] == '$' || line[0] == '_')
        return NULL;
    die("%s: unexpected reply type '%c'", argv[0], line[0]);
    return NULL;
}

/* The value of `field` in an INFO text ("field:value\r\n" lines), or "?" (copied into out). */
static void info_field(const char *info, const char *field, char *out, size_t cap)
{
    size_t fl = strlen(field);
    snprintf(out, cap, "?");
    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            size_t n = strcspn(p + fl + 1, "\r\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, p + fl + 1, n);
            out[n] = '\0';
            return;
        }
    }
}

/* ---- the run -------------------------------------------------------------------------------- */

typedef struct params {
    const char *host, *port;
    uint64_t requests;
    uint32_t keys;
    double theta;
    size_t value_size;
    unsigned window;
    uint64_t seed;
    double warmup;
    int flushall, csv, verbose;
    uint64_t zipf_check;
    uint64_t exact_lfu; /* --exact-lfu: keys of the exact LFU cache to replay the trace through */
} params;

typedef struct counts {
    uint64_t hits, misses;              /* whole run */
    uint64_t steady_hits, steady_misses; /* requests at index >= warm-up boundary */
    uint64_t sets, set_errors;
    uint64_t repeat_misses; /* misses of a key that already missed earlier in the same window */
    /* What a cache that never evicts would hit: requests for a key requested before. */
    uint64_t ceiling_hits, steady_ceiling_hits;
    double seconds;
} counts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run(const params *pr, conn *c, counts *ct)
{
    zipf z;
    zipf_init(&z, pr->keys, pr->theta);
    uint64_t rng = pr->seed;
    uint32_t scramble = (uint32_t)(pr->seed * 0x9e3779b97f4a7c15ULL >> 32);
    uint64_t steady_from = (uint64_t)((double)pr->requests * pr->warmup);
    static uint32_t ids[MAX_WINDOW], missed[MAX_WINDOW];
    char key[KEY_LEN], value[MAX_VALUE], expect[MAX_VALUE];
    char get_hdr[64], set_hdr[64], val_hdr[32];
    int get_hdr_len = snprintf(get_hdr, sizeof(get_hdr), "*2\r\n$3\r\nGET\r\n$%d\r\n", KEY_LEN);
    int set_hdr_len = snprintf(set_hdr, sizeof(set_hdr), "*3\r\n$3\r\nSET\r\n$%d\r\n", KEY_LEN);
    int val_hdr_len = snprintf(val_hdr, sizeof(val_hdr), "\r\n$%zu\r\n", pr->value_size);
    uint64_t next_report = pr->requests / 10;
    memset(ct, 0, sizeof(*ct));
    uint64_t *seen = calloc(pr->keys / 64 + 1, sizeof(uint64_t)); /* by rank: 1 bit a key */
    if (!seen)
        die("out of memory");

    double t0 = now_s();
    for (uint64_t done = 0; done < pr->requests;) {
        unsigned w = pr->window;
        if (pr->requests - done < w)
            w = (unsigned)(pr->requests - done);
        for (unsigned i = 0; i < w; i++) {
            uint32_t rank0 = zipf_next(&z, &rng) - 1;
            uint64_t bit = 1ULL << (rank0 % 64);
            if (seen[rank0 / 64] & bit) {
                ct->ceiling_hits++;
                ct->steady_ceiling_hits += (uint64_t)(done + i >= steady_from);
            }
            seen[rank0 / 64] |= bit;
            ids[i] = fmix32(rank0 ^ scramble);
            format_key(key, ids[i]);
            wr(c, get_hdr, (size_t)get_hdr_len);
            wr(c, key, KEY_LEN);
            wr(c, "\r\n", 2);
        }
        conn_flush(c);

        unsigned nmissed = 0;
        for (unsigned i = 0; i < w; i++) {
            size_t len;
            char *line = read_line(c, &len);
            int hit;
            if (line[0] == '$' && line[1] != '-') {
                size_t n = strtoull(line + 1, NULL, 10);
                char *p = read_payload(c, n);
                format_value(expect, pr->value_size, ids[i]);
                if (n != pr->value_size || memcmp(p, expect, n) != 0) {
                    format_key(key, ids[i]);
                    die("GET %.*s returned %zu bytes that are not the value that was set",
                        KEY_LEN, key, n);
                }
                hit = 1;
            } else if (line[0] == '$' || line[0] == '_') {
                hit = 0;
            } else {
                die("GET: unexpected reply: %s", line);
                return;
            }
            int steady = done + i >= steady_from;
            if (hit) {
                ct->hits++;
                ct->steady_hits += (uint64_t)steady;
                continue;
            }
            ct->misses++;
            ct->steady_misses += (uint64_t)steady;
            int repeat = 0;
            for (unsigned j = 0; j < nmissed && !repeat; j++)
                repeat = missed[j] == ids[i];
            if (repeat) {
                ct->repeat_misses++;
                continue;
            }
            missed[nmissed++] = ids[i];
            format_key(key, ids[i]);
            format_value(value, pr->value_size, ids[i]);
            wr(c, set_hdr, (size_t)set_hdr_len);
            wr(c, key, KEY_LEN);
            wr(c, val_hdr, (size_t)val_hdr_len);
            wr(c, value, pr->value_size);
            wr(c, "\r\n", 2);
        }
        if (nmissed) {
            conn_flush(c);
            for (unsigned i = 0; i < nmissed; i++) {
                size_t len;
                char *line = read_line(c, &len);
                ct->sets++;
                if (line[0] == '-') {
                    if (ct->set_errors++ == 0)
                        fprintf(stderr, "hitratio: SET: %s (further SET errors only counted)\n",
                                line + 1);
                } else if (line[0] != '+') {
                    die("SET: unexpected reply: %s", line);
                }
            }
        }
        done += w;
        if (pr->verbose && done >= next_report) {
            fprintf(stderr, "hitratio: %llu requests, hit ratio so far %.4f, %.1f s\n",
                    (unsigned long long)done, (double)ct->hits / (double)done, now_s() - t0);
            next_report += pr->requests / 10;
        }
    }
    ct->seconds = now_s() - t0;
    free(seen);
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void report(const params *pr, conn *c, const counts *ct)
{
    const char *info_mem_argv[] = {"INFO", "memory"};
    const char *info_stats_argv[] = {"INFO", "stats"};
    const char *dbsize_argv[] = {"DBSIZE"};
    char *mem = command(c, 2, info_mem_argv);
    char *stats = command(c, 2, info_stats_argv);
    char *dbsize = command(c, 1, dbsize_argv);
    char used[32], rss[32], maxmem[32], policy[64], evicted[32], khits[32], kmisses[32];
    info_field(mem, "used_memory", used, sizeof(used));
    info_field(mem, "used_memory_rss", rss, sizeof(rss));
    info_field(mem, "maxmemory", maxmem, sizeof(maxmem));
    info_field(mem, "maxmemory_policy", policy, sizeof(policy));
    info_field(stats, "evicted_keys", evicted, sizeof(evicted));
    info_field(stats, "keyspace_hits", khits, sizeof(khits));
    info_field(stats, "keyspace_misses", kmisses, sizeof(kmisses));

    uint64_t steady_n = ct->steady_hits + ct->steady_misses;
    double hr = ratio(ct->hits, pr->requests), shr = ratio(ct->steady_hits, steady_n);
    double rps = ct->seconds > 0 ? (double)pr->requests / ct->seconds : 0.0;
    double chr = ratio(ct->ceiling_hits, pr->requests);
    double schr = ratio(ct->steady_ceiling_hits, steady_n);
    if (pr->csv) {
        printf("requests,keys,theta,seed,value_size,window,warmup,hits,misses,hit_ratio,"
               "steady_requests,steady_hits,steady_hit_ratio,sets,set_errors,repeat_misses,"
               "seconds,requests_per_s,used_memory,used_memory_rss,maxmemory,maxmemory_policy,"
               "evicted_keys,dbsize,keyspace_hits,keyspace_misses,ceiling_hit_ratio,"
               "steady_ceiling_hit_ratio\n");
        printf("%llu,%u,%g,%llu,%zu,%u,%g,%llu,%llu,%.6f,%llu,%llu,%.6f,%llu,%llu,%llu,%.3f,%.0f,"
               "%s,%s,%s,%s,%s,%s,%s,%s,%.6f,%.6f\n",
               (unsigned long long)pr->requests, pr->keys, pr->theta,
               (unsigned long long)pr->seed, pr->value_size, pr->window, pr->warmup,
               (unsigned long long)ct->hits, (unsigned long long)ct->misses, hr,
               (unsigned long long)steady_n, (unsigned long long)ct->steady_hits, shr,
               (unsigned long long)ct->sets, (unsigned long long)ct->set_errors,
               (unsigned long long)ct->repeat_misses, ct->seconds, rps, used, rss, maxmem, policy,
               evicted, dbsize ? dbsize : "?", khits, kmisses, chr, schr);
    } else {
        printf("hitratio: %s:%s, %llu requests over %u keys, Zipf %g, seed %llu, "
               "%zu-byte values,\n"
               "  get-then-set-on-miss in pipelined windows of %u GETs\n",
               pr->host, pr->port, (unsigned long long)pr->requests, pr->keys, pr->theta,
               (unsigned long long)pr->seed, pr->value_size, pr->window);
        printf("  %-28s %12s %12s %12s %10s\n", "", "requests", "hits", "misses", "hit ratio");
        printf("  %-28s %12llu %12llu %12llu %10.4f\n", "whole run",
               (unsigned long long)pr->requests, (unsigned long long)ct->hits,
               (unsigned long long)ct->misses, hr);
        char label[64];
        snprintf(label, sizeof(label), "steady (last %.0f%%)", 100.0 * (1.0 - pr->warmup));
        printf("  %-28s %12llu %12llu %12llu %10.4f\n", label, (unsigned long long)steady_n,
               (unsigned long long)ct->steady_hits, (unsigned long long)ct->steady_misses, shr);
        printf("  %-28s %12s %12s %12s %10.4f (whole run %.4f)\n", "a cache that never evicts",
               "", "", "", schr, chr);
        printf("  SETs %llu (errors %llu), repeat misses within a window %llu\n",
               (unsigned long long)ct->sets, (unsigned long long)ct->set_errors,
               (unsigned long long)ct->repeat_misses);
        printf("  %.2f s, %.0f requests/s\n", ct->seconds, rps);
        printf("  server: used_memory %s, used_memory_rss %s, maxmemory %s, policy %s,\n"
               "          evicted_keys %s, keys (DBSIZE) %s, keyspace_hits %s, "
               "keyspace_misses %s\n",
               used, rss, maxmem, policy, evicted, dbsize ? dbsize : "?", khits, kmisses);
    }
    free(mem);
    free(stats);
    free(dbsize);
}

/* How many standard deviations `count` of `n` binomial draws is from the expected n * p. */
static double zscore(uint64_t count, double n, double p)
{
    double sd = sqrt(n * p * (1.0 - p));
    return sd > 0.0 ? ((double)count - n * p) / sd : 0.0;
}

/* Draws `samples` ranks and compares their frequencies with P(r) = r^-s / H(n, s). */
static int zipf_check(const params *pr)
{
    zipf z;
    zipf_init(&z, pr->keys, pr->theta);
    uint64_t rng = pr->seed;
    enum { TOP = 10 };
    static const uint32_t bounds[] = {10, 100, 1000, 10000, 100000, 1000000};
    enum { NB = sizeof(bounds) / sizeof(bounds[0]) };
    uint64_t top[TOP + 1] = {0}, below[NB] = {0};
    for (uint64_t i = 0; i < pr->zipf_check; i++) {
        uint32_t r = zipf_next(&z, &rng);
        if (r < 1 || r > pr->keys) {
            fprintf(stderr, "hitratio: rank %u out of [1, %u]\n", r, pr->keys);
            return 1;
        }
        if (r <= TOP)
            top[r]++;
        for (int b = 0; b < NB; b++)
            below[b] += r <= bounds[b];
    }
    /* The exact CDF at the bounds; summed from the smallest terms up for accuracy. */
    double hn = 0.0, cdf[NB] = {0};
    for (uint32_t k = pr->keys; k >= 1; k--)
        hn += pow((double)k, -pr->theta);
    double acc = 0.0;
    int b = 0;
    for (uint32_t k = 1; k <= pr->keys && b < NB; k++) {
        acc += pow((double)k, -pr->theta);
        while (b < NB && k == bounds[b])
            cdf[b++] = acc / hn;
    }
    double n = (double)pr->zipf_check;
    printf("zipf check: %llu draws over %u keys, theta %g (exact P(r) = r^-theta / %.6f)\n",
           (unsigned long long)pr->zipf_check, pr->keys, pr->theta, hn);
    printf("  %-12s %12s %12s %8s\n", "ranks", "expected", "observed", "z-score");
    for (uint32_t r = 1; r <= TOP && r <= pr->keys; r++) {
        double p = pow((double)r, -pr->theta) / hn;
        char label[32];
        snprintf(label, sizeof(label), "= %u", r);
        printf("  %-12s %12.6f %12.6f %8.2f\n", label, p, (double)top[r] / n, zscore(top[r], n, p));
    }
    for (int i = 0; i < NB && bounds[i] < pr->keys; i++) {
        double p = cdf[i];
        char label[32];
        snprintf(label, sizeof(label), "<= %u", bounds[i]);
        printf("  %-12s %12.6f %12.6f %8.2f\n", label, p, (double)below[i] / n,
               zscore(below[i], n, p));
    }
    printf("  (|z| mostly below 2 and none far above 3: the sampler draws from the exact "
           "distribution)\n");
    return 0;
}

/* Replays the trace through an exact LFU cache of pr->exact_lfu keys (exact_lfu.h), without a
 * server, and prints its hit ratios: the best a cache holding that many keys can do here. */
static int exact_lfu_run(const params *pr)
{
    uint32_t *trace = malloc(pr->requests * sizeof(uint32_t));
    if (!trace)
        die("out of memory for a trace of %llu requests", (unsigned long long)pr->requests);
    zipf z;
    zipf_init(&z, pr->keys, pr->theta);
    uint64_t rng = pr->seed;
    for (uint64_t i = 0; i < pr->requests; i++)
        trace[i] = zipf_next(&z, &rng) - 1; /* distinct ranks are distinct keys */
    uint64_t from = (uint64_t)((double)pr->requests * pr->warmup);
    uint64_t all = exact_lfu(trace, pr->requests, pr->keys, pr->exact_lfu, 0);
    uint64_t steady = exact_lfu(trace, pr->requests, pr->keys, pr->exact_lfu, from);
    free(trace);
    if (all == UINT64_MAX || steady == UINT64_MAX)
        die("out of memory for the exact LFU cache");
    printf("exact LFU holding %llu keys: hit ratio %.4f steady (last %.0f %% of the requests), "
           "%.4f whole run; %llu requests, Zipf %g over %u keys, seed %llu\n",
           (unsigned long long)pr->exact_lfu, (double)steady / (double)(pr->requests - from),
           100.0 * (1.0 - pr->warmup), (double)all / (double)pr->requests,
           (unsigned long long)pr->requests, pr->theta, pr->keys, (unsigned long long)pr->seed);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: hitratio [-h HOST] [-p PORT] [-n REQUESTS] [-k KEYS] [-s THETA] "
            "[-d VALUE_SIZE]\n"
            "                [-w WINDOW] [--seed S] [--warmup FRACTION] [--flushall] [--csv] "
            "[-v]\n"
            "       hitratio --zipf-check SAMPLES [-k KEYS] [-s THETA] [--seed S]\n"
            "       hitratio --exact-lfu CACHE_KEYS [-n REQUESTS] [-k KEYS] [-s THETA] "
            "[--seed S] [--warmup F]\n");
    exit(2);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        die("bad %s: %s", what, s);
    return v;
}

static double parse_double(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        die("bad %s: %s", what, s);
    return v;
}

int main(int argc, char **argv)
{
    params pr = {.host = "127.0.0.1",
                 .port = "6379",
                 .requests = 10000000,
                 .keys = 4000000,
                 .theta = 0.99,
                 .value_size = 32,
                 .window = 64,
                 .seed = 1,
                 .warmup = 0.5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--flushall"))
            pr.flushall = 1, takes = 0;
        else if (!strcmp(a, "--csv"))
            pr.csv = 1, takes = 0;
        else if (!strcmp(a, "-v"))
            pr.verbose = 1, takes = 0;
        else if (!v)
            usage();
        else if (!strcmp(a, "-h"))
            pr.host = v;
        else if (!strcmp(a, "-p"))
            pr.port = v;
        else if (!strcmp(a, "-n"))
            pr.requests = parse_u64(v, "request count");
        else if (!strcmp(a, "-k")) {
            uint64_t k = parse_u64(v, "key count");
            if (k < 1 || k > UINT32_MAX)
                die("key count must be in [1, %u]", UINT32_MAX);
            pr.keys = (uint32_t)k;
        } else if (!strcmp(a, "-s")) {
            pr.theta = parse_double(v, "theta");
            if (!(pr.theta >= 0.0 && pr.theta <= 10.0))
                die("theta must be in [0, 10]");
        } else if (!strcmp(a, "-d")) {
            pr.value_size = parse_u64(v, "value size");
            if (pr.value_size < 1 || pr.value_size > MAX_VALUE)
                die("value size must be in [1, %d]", MAX_VALUE);
        } else if (!strcmp(a, "-w")) {
            uint64_t w = parse_u64(v, "window");
            if (w < 1 || w > MAX_WINDOW)
                die("window must be in [1, %d]", MAX_WINDOW);
            pr.window = (unsigned)w;
        } else if (!strcmp(a, "--seed"))
            pr.seed = parse_u64(v, "seed");
        else if (!strcmp(a, "--warmup")) {
            pr.warmup = parse_double(v, "warm-up fraction");
            if (!(pr.warmup >= 0.0 && pr.warmup < 1.0))
                die("warm-up fraction must be in [0, 1)");
        } else if (!strcmp(a, "--zipf-check"))
            pr.zipf_check = parse_u64(v, "sample count");
        else if (!strcmp(a, "--exact-lfu"))
            pr.exact_lfu = parse_u64(v, "exact LFU key count");
        else
            usage();
        i += takes;
    }
    if (pr.zipf_check)
        return zipf_check(&pr);
    if (pr.exact_lfu)
        return exact_lfu_run(&pr);
    if (pr.requests == 0)
        die("nothing to do: 0 requests");

    conn c;
    conn_open(&c, pr.host, pr.port);
    if (pr.flushall) {
        const char *fa[] = {"FLUSHALL"};
        free(command(&c, 1, fa));
    }
    counts ct;
    run(&pr, &c, &ct);
    report(&pr, &c, &ct);
    conn_close(&c);
    return 0;
}

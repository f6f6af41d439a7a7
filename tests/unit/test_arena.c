/* Unit tests for engine/arena and engine/entry: layout, refs, release, victims, accounting. */
#include <stdio.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/entry.h"
#include "test.h"

static void test_entry_layout(void)
{
    uint8_t buf[128];
    entry e;
    uint64_t base = 1700000000000ull << 16;
    /* Head byte with the key length, vlen, and the version in one byte (entry.h): the same
     * millisecond as the base with a counter of 0-2, or up to 15 ms later: 1+1+1+16+32. */
    CHECK_EQ(entry_size(16, 32, 0, base, base, 0), 51);
    CHECK_EQ(entry_size(16, 32, 0, base + 2, base, 0), 51);
    CHECK_EQ(entry_size(16, 32, 0, base + (15ull << 16) + 2, base, 0), 51);
    /* A counter of 3 and more follows as a varint of its own. */
    CHECK_EQ(entry_size(16, 32, 0, base + 3, base, 0), 52);
    CHECK_EQ(entry_size(16, 32, 0, base + 130, base, 0), 52);
    CHECK_EQ(entry_size(16, 32, 0, base + 131, base, 0), 53);
    /* 16 ms later: zigzag 32 << 2 = 128, two bytes; a second later still two; an hour, four. */
    CHECK_EQ(entry_size(16, 32, 0, base + (16ull << 16), base, 0), 52);
    CHECK_EQ(entry_size(16, 32, 0, base + (1000ull << 16), base, 0), 52);
    CHECK_EQ(entry_size(16, 32, 0, base + (3600000ull << 16), base, 0), 54);
    CHECK_EQ(entry_size(16, 32, ENT_TTL, base, base, 0), 59);
    /* Older than the base (compaction moving an old entry): zigzag keeps it small. */
    CHECK_EQ(entry_size(16, 32, 0, base - (1ull << 16), base, 0), 51);
    /* Any 64-bit version round-trips, whatever its base. */
    uint64_t odd[] = {0, 1, 0xffff, 0x10000, UINT64_MAX, UINT64_MAX - 0x1ffff, base - 1,
                      base + 0xfffe, 1ull << 63};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        uint64_t bases[] = {base, 0, UINT64_MAX, odd[i]};
        for (size_t j = 0; j < 4; j++) {
            size_t sz = entry_size(3, 1, 0, odd[i], bases[j], 0);
            CHECK(sz <= 1 + 1 + 8 + 3 + 3 + 1);
            entry_init(buf, 0, "abc", 3, 1, odd[i], bases[j], NULL, 0, 0, &e);
            CHECK_EQ(e.size, sz);
            CHECK_U64_EQ(e.version, odd[i]);
        }
    }
    /* Keys of 30 bytes and more: the length follows the head as a varint. */
    CHECK_EQ(entry_size(29, 1, 0, base, base, 0), 1 + 1 + 1 + 29 + 1);
    CHECK_EQ(entry_size(30, 1, 0, base, base, 0), 1 + 1 + 1 + 1 + 30 + 1);
    CHECK_EQ(entry_size(31, 1, 0, base, base, 0), 1 + 1 + 1 + 1 + 31 + 1);
    /* Compressed or typed: an extension byte and the key length as a varint. */
    CHECK_EQ(entry_size(16, 32, ENT_COMPRESSED, base, base, 0), 1 + 1 + 1 + 1 + 1 + 16 + 32);
    CHECK_EQ(entry_size(16, 32, ENT_TYPED | ENT_TTL, base, base, 0), 1 + 1 + 1 + 1 + 1 + 8 + 16 + 32);
    CHECK_EQ(entry_size(200, 70000, 0, base, base, 0), 1 + 2 + 3 + 1 + 200 + 70000);
    static uint8_t big[400], keybuf[300];
    uint32_t klens[] = {0, 1, 29, 30, 31, 32, 127, 128, 300};
    uint8_t flagsets[] = {0, ENT_COMPRESSED, ENT_TYPED, ENT_COMPRESSED | ENT_TYPED};
    for (size_t i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
        for (size_t j = 0; j < sizeof(flagsets); j++) {
            for (unsigned fq = 0; fq <= ENT_FREQ_MAX; fq++) {
                entry_init(big, flagsets[j], keybuf, klens[i], 2, base + 5, base, NULL, 0, 77, &e);
                CHECK_EQ(entry_freq(big), 0);
                entry_set_freq(big, fq);
                entry d;
                entry_decode(big, base, NULL, &d);
                CHECK_EQ(d.klen, klens[i]);
                CHECK_EQ(d.vlen, 2);
                CHECK_EQ(d.size, entry_size(klens[i], 2, ENT_TTL | flagsets[j], base + 5, base, 0));
                CHECK_EQ(d.flags, ENT_TTL | flagsets[j]);
                CHECK_EQ(entry_expire_at(&d), 77);
                CHECK_EQ(entry_freq(big), fq);
            }
        }
    }
    /* Touches saturate at ENT_FREQ_MAX and leave every other bit alone. */
    entry_init(big, 0, keybuf, 5, 2, base, base, NULL, 0, 0, &e);
    for (int i = 0; i < 10; i++)
        entry_touch(big);
    CHECK_EQ(entry_freq(big), ENT_FREQ_MAX);
    entry_decode(big, base, NULL, &e);
    CHECK_EQ(e.klen, 5);
    CHECK_EQ(e.flags, 0);
    uint64_t vers[] = {0, 1, base - 5, base, base + 12345678, UINT64_MAX, 0x8000000000000000ull};
    for (size_t i = 0; i < sizeof(vers) / sizeof(vers[0]); i++) {
        entry_init(buf, ENT_TYPE_STRING, "0123456789abcdef", 16, 32, vers[i], base, NULL, 0, 0, &e);
        CHECK_EQ(e.size, entry_size(16, 32, 0, vers[i], base, 0));
        CHECK(e.exp == NULL);
        CHECK_U64_EQ(entry_version(&e), vers[i]);
        CHECK_MEM_EQ(e.key, e.klen, "0123456789abcdef", 16);
        entry d;
        entry_decode(buf, base, NULL, &d);
        CHECK_U64_EQ(d.version, vers[i]);
    }
    entry_init(buf, ENT_TYPE_STRING, "k", 1, 3, base + 7, base, NULL, 0, 1700000000123, &e);
    CHECK(e.flags & ENT_TTL);
    CHECK_EQ(entry_expire_at(&e), 1700000000123);
    memcpy(e.val, "abc", 3);
    entry d;
    entry_decode(buf, base, NULL, &d);
    CHECK_EQ(d.size, entry_size(1, 3, ENT_TTL, base + 7, base, 0));
    CHECK_U64_EQ(d.version, base + 7);
    CHECK_MEM_EQ(d.val, d.vlen, "abc", 3);
    /* varints at their boundaries */
    uint32_t vals[] = {0, 127, 128, 16383, 16384, (1u << 21) - 1, 1u << 21, UINT32_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t v[8];
        uint32_t back;
        uint8_t *end = entry_varint_put(v, vals[i]);
        CHECK_EQ((size_t)(end - v), entry_varint_len(vals[i]));
        CHECK((const uint8_t *)end == entry_varint_get(v, &back));
        CHECK_U64_EQ(back, vals[i]);
    }
}

/* entry_rewrite() changes only the version and expiration, keeps the entry's size, and agrees
 * with shard_store()'s in-place rule (the new version fits the field's width, padded). */
static void test_entry_rewrite(void)
{
    static uint8_t buf[512], before[512], key[200];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    const uint64_t base = 1700000000000ull << 16;
    uint32_t klens[] = {0, 5, 29, 30, 200};
    uint8_t flagsets[] = {0, ENT_COMPRESSED, ENT_TYPED};
    uint64_t vers[] = {base,         base + 2,           base + 3,          base + 200,
                       base + 0xffff, base + (15ull << 16), base + (20ull << 16) + 1000,
                       base - (3ull << 16), UINT64_MAX,    0,                 base + (1ull << 40)};
    size_t nv = sizeof(vers) / sizeof(vers[0]);
    int rewrote = 0, refused = 0;
    for (size_t k = 0; k < sizeof(klens) / sizeof(klens[0]); k++)
        for (size_t f = 0; f < sizeof(flagsets); f++)
            for (int ttl = 0; ttl < 2; ttl++)
                for (size_t pad = 0; pad <= 4; pad++)
                    for (size_t a = 0; a < nv; a++) {
                        uint64_t va = vers[a];
                        if (pad > entry_vpad_max(va, base))
                            continue;
                        entry e;
                        entry_init_pad(buf, flagsets[f], key, klens[k], 3, va, base, NULL, 0,
                                       ttl ? 1234 : 0, pad, &e);
                        memcpy(e.val, "abc", 3);
                        entry_set_freq(buf, 2);
                        for (size_t b = 0; b < nv; b++) {
                            uint64_t vb = vers[b];
                            entry d;
                            entry_decode(buf, base, NULL, &d);
                            memcpy(before, buf, d.size);
                            size_t need = entry_size(klens[k], 3, d.flags, vb, base, 0);
                            int fits = need <= d.size && d.size - need <= entry_vpad_max(vb, base);
                            int ok = entry_rewrite(&d, vb, base, ttl ? 5678 : 0);
                            CHECK_EQ(ok, fits);
                            if (!ok) {
                                CHECK(memcmp(before, buf, e.size) == 0);
                                refused++;
                                continue;
                            }
                            rewrote++;
                            memcpy(d.val, "xyz", 3);
                            CHECK_U64_EQ(d.version, vb);
                            entry g;
                            entry_decode(buf, base, NULL, &g);
                            CHECK_EQ(g.size, e.size);
                            CHECK_U64_EQ(g.version, vb);
                            CHECK_EQ(g.flags, d.flags);
                            CHECK_EQ(g.klen, klens[k]);
                            CHECK_MEM_EQ(g.key, g.klen, key, klens[k]);
                            CHECK_MEM_EQ(g.val, g.vlen, "xyz", 3);
                            CHECK_EQ(entry_expire_at(&g), ttl ? 5678 : 0);
                            CHECK_EQ(entry_freq(buf), 2);
                            /* back to the first version, for the next b */
                            CHECK(entry_rewrite(&g, va, base, ttl ? 1234 : 0));
                            memcpy(g.val, "abc", 3);
                            CHECK(memcmp(before, buf, e.size) == 0);
                        }
                    }
    CHECK(rewrote > 1000);
    CHECK(refused > 100);
}

/* entry_eq16() is memcmp() == 0 for every length up to 16 and every position of a difference. */
static void test_entry_eq16(void)
{
    uint8_t a[16], b[16];
    for (unsigned n = 0; n <= 16; n++) {
        for (unsigned i = 0; i < 16; i++)
            a[i] = b[i] = (uint8_t)(0x41 + i);
        CHECK(entry_eq16(a, b, n));
        for (unsigned d = 0; d < 16; d++) {
            b[d] ^= 0x20;
            CHECK_EQ(entry_eq16(a, b, n), memcmp(a, b, n) == 0);
            b[d] ^= 0x20;
        }
    }
}

/* Allocates an entry with a value of about `size` bytes (the header takes 4-5 more). */
static uint32_t put_v(arena *a, uint32_t vlen, uint8_t fill, uint64_t version, uint32_t *size)
{
    arena_place pl;
    uint8_t *p = arena_alloc_entry(a, ARENA_Q_MAIN, "k", 1, vlen, 0, version, 0, 1, &pl);
    ASSERT(p != NULL);
    entry e;
    entry_init(p, ENT_TYPE_STRING, "k", 1, vlen, version, pl.vbase, arena_pfx(a, pl.ref), pl.plen,
               0, &e);
    memset(e.val, fill, vlen);
    *size = pl.size;
    return pl.ref;
}

static uint32_t put(arena *a, uint32_t vlen, uint8_t fill)
{
    uint32_t size;
    return put_v(a, vlen, fill, 1000ull << 16, &size);
}

static void test_alloc_and_release(void)
{
    arena a;
    arena_init(&a);
    uint32_t s1, s2;
    uint32_t r1 = put_v(&a, 100, 1, 1000ull << 16, &s1), r2 = put_v(&a, 200, 2, 1001ull << 16, &s2);
    CHECK_EQ(r1 >> 16, r2 >> 16); /* same head segment */
    CHECK_EQ((r2 & 0xffff) - (r1 & 0xffff), s1);
    CHECK_EQ(s1, 1 + 2 + 1 + 1 + 100); /* vlen << 1 | P: two bytes from 64 up */
    CHECK_EQ(s2, 1 + 2 + 1 + 1 + 200);
    CHECK_EQ(a.live_bytes, s1 + s2);
    CHECK_U64_EQ(arena_vbase(&a, r2), 1000ull << 16);
    CHECK(a.alloc_bytes >= ARENA_SEG_MIN);
    entry e;
    arena_decode(&a, r2, &e);
    CHECK_U64_EQ(e.version, 1001ull << 16);
    /* A large entry gets a segment of its own, based at its version, freed when it dies. */
    uint64_t before = a.alloc_bytes;
    uint32_t sb;
    uint32_t big = put_v(&a, 100000, 3, 5000ull << 16, &sb);
    CHECK_EQ(big & 0xffff, 0);
    CHECK_U64_EQ(arena_vbase(&a, big), 5000ull << 16);
    CHECK(a.alloc_bytes >= before + 100000);
    arena_release(&a, big, sb);
    CHECK_EQ(a.alloc_bytes, before);
    arena_decode(&a, r1, &e);
    CHECK(e.val[0] == 1);
    arena_release(&a, r1, s1);
    CHECK_EQ(a.live_bytes, s2);
    arena_free_all(&a);
    CHECK_EQ(a.alloc_bytes, 0);
}

static void test_segments_fill_and_free(void)
{
    arena a;
    arena_init(&a);
    enum { N = 20000 };
    static uint32_t refs[N], sizes[N];
    for (int i = 0; i < N; i++)
        refs[i] = put_v(&a, 54, (uint8_t)i, (1000 + (uint64_t)i) << 16, &sizes[i]);
    CHECK(a.nsegs > 10);
    /* A new segment is based at its first entry's version, so deltas stay small. */
    for (int i = 0; i < N; i++)
        CHECK(sizes[i] <= 1 + 1 + 3 + 1 + 54);
    /* Everything in a sealed segment gone: the segment is freed at once. */
    uint32_t seg0 = refs[0] >> 16;
    uint64_t before = a.alloc_bytes;
    for (int i = 0; i < N && (refs[i] >> 16) == seg0; i++)
        arena_release(&a, refs[i], sizes[i]);
    CHECK(a.segs[seg0].base == NULL);
    CHECK(a.alloc_bytes < before);
    /* Kill 3 of 4 entries in one segment: it becomes the compaction victim. */
    uint32_t segv = refs[N / 2] >> 16;
    int k = 0;
    for (int i = 0; i < N; i++)
        if ((refs[i] >> 16) == segv && (k++ % 4))
            arena_release(&a, refs[i], sizes[i]);
    CHECK_EQ(arena_pick_victim(&a), segv);
    CHECK(arena_garbage(&a) > 0);
    /* Freed ids are reused. */
    uint32_t big = put(&a, 50000, 9);
    CHECK_EQ(big >> 16, seg0);
    arena_free_all(&a);
}

/* arena_garbage()'s definition, walked: the bytes of small segments that are not live, a
 * head's room past its last entry left out (entries go there next). */
static uint64_t garbage_walked(const arena *a)
{
    uint64_t g = 0;
    for (uint32_t id = 0; id < a->nsegs; id++) {
        const arena_seg *s = &a->segs[id];
        if (!s->base || s->large)
            continue;
        int head = 0;
        for (unsigned q = 0; q < ARENA_QUEUES; q++)
            head |= a->q[q].head == id;
        g += (head ? s->used : s->cap) - s->live;
    }
    return g;
}

/* The counters behind arena_garbage() follow appends, new heads, seals (arena_oldest),
 * releases that free whole segments, and large entries, in both queues. */
static void test_garbage_counters(void)
{
    arena a;
    arena_init(&a);
    enum { N = 4000 };
    static uint32_t refs[N], sizes[N];
    uint32_t n = 0, seed = 12345;
    for (int step = 0; step < 60000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        if (n < N && (r % 8 < 4 || n == 0)) {
            uint32_t vlen = r % 1000 == 0 ? ARENA_LARGE + r % 5000 : 10 + r % 300;
            arena_place pl;
            unsigned q = (r >> 4) & 1;
            uint64_t ver = (1000 + (uint64_t)step) << 16;
            uint8_t *p = arena_alloc_entry(&a, q, "k", 1, vlen, 0, ver, (r >> 5) & 4, 1, &pl);
            ASSERT(p != NULL);
            entry e;
            entry_init_pad(p, 0, "k", 1, vlen, ver, pl.vbase, arena_pfx(&a, pl.ref), pl.plen, 0,
                           pl.vpad, &e);
            refs[n] = pl.ref;
            sizes[n++] = pl.size;
        } else if (r % 8 < 7) {
            uint32_t i = (r >> 3) % n;
            arena_release(&a, refs[i], sizes[i]);
            refs[i] = refs[--n];
            sizes[i] = sizes[n];
        } else {
            (void)arena_oldest(&a, (r >> 4) & 1); /* seals the head when none is sealed */
        }
        CHECK_U64_EQ(arena_garbage(&a), garbage_walked(&a));
    }
    arena_free_all(&a);
}

/* Writes key -> a 32-byte value through the arena and returns its ref (and size). */
static uint32_t put_key(arena *a, const char *key, uint32_t *size)
{
    arena_place pl;
    uint32_t klen = (uint32_t)strlen(key);
    uint8_t *p = arena_alloc_entry(a, ARENA_Q_MAIN, key, klen, 32, 0, 1000ull << 16, 0, 1, &pl);
    ASSERT(p != NULL);
    entry e;
    entry_init(p, 0, key, klen, 32, 1000ull << 16, pl.vbase, arena_pfx(a, pl.ref), pl.plen, 0,
               &e);
    memset(e.val, key[klen - 1], 32);
    *size = pl.size;
    return pl.ref;
}

/* entry_key_at() (the index migration's key-only read) finds the key entry_decode() finds,
 * for every header shape: key length in the head, as a varint, after an extension byte; a
 * version counter in the low bits or in a varint of its own, a version field padded or not;
 * with and without a TTL, short and long value lengths, with and without the segment's
 * prefix. */
static void test_entry_key_at(void)
{
    static uint8_t buf[70400];
    uint8_t kb[ENT_PFX_KEY_MAX];
    entry_pfx px = {.len = 6};
    memcpy(px.b, "key:00", 6);
    uint64_t base = 1700000000000ull << 16;
    uint8_t flagsets[] = {0, ENT_TTL, ENT_COMPRESSED, ENT_TYPED, ENT_COMPRESSED | ENT_TTL,
                          ENT_COMPRESSED | ENT_TYPED | ENT_TTL};
    uint64_t vers[] = {base, base + 2, base + 3, base + 200, base - (5ull << 16),
                       base + (3600000ull << 16) + 70000, UINT64_MAX, 0};
    uint32_t vlens[] = {0, 63, 64, 8191, 8192, 70000};
    char key[300];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (char)('a' + i % 26);
    memcpy(key, "key:00", 6);
    uint32_t klens[] = {0, 6, 7, 16, 29, 30, 31, 64, 65, 300};
    for (size_t f = 0; f < sizeof(flagsets); f++)
        for (size_t v = 0; v < sizeof(vers) / sizeof(vers[0]); v++)
            for (size_t l = 0; l < sizeof(vlens) / sizeof(vlens[0]); l++)
                for (size_t k = 0; k < sizeof(klens) / sizeof(klens[0]); k++)
                    for (int variant = 0; variant < 4; variant++) {
                        uint32_t klen = klens[k];
                        unsigned plen = variant & 1 ? entry_pfx_use(&px, key, klen) : 0;
                        size_t vmax = entry_vpad_max(vers[v], base);
                        size_t vpad = variant & 2 ? (vmax < 3 ? vmax : 3) : 0; /* room */
                        if (variant & 1 && !plen)
                            continue;
                        entry e, d;
                        entry_init_pad(buf, flagsets[f], key, klen, vlens[l], vers[v], base, &px,
                                       plen, flagsets[f] & ENT_TTL ? 1234 : 0, vpad, &e);
                        entry_decode(buf, base, &px, &d);
                        uint32_t got = 0;
                        const uint8_t *kp = entry_key_at(buf, &px, kb, &got);
                        CHECK_EQ(got, klen);
                        CHECK_MEM_EQ(kp, got, key, klen);
                        CHECK_MEM_EQ(kp, got, entry_key(&d, kb), d.klen);
                    }
}

static void test_key_prefixes(void)
{
    /* The entry level: P leaves the prefix out and everything round-trips. */
    entry_pfx px = {.len = 6};
    memcpy(px.b, "key:00", 6);
    uint64_t base = 1700000000000ull << 16;
    CHECK_EQ(entry_pfx_use(&px, "key:001234567890", 16), 6);
    CHECK_EQ(entry_pfx_use(&px, "key:101234567890", 16), 0);
    CHECK_EQ(entry_pfx_use(&px, "key:0", 5), 0);      /* shorter than the prefix */
    CHECK_EQ(entry_pfx_use(&px, "key:00", 6), 6);     /* nothing stored after it */
    CHECK_EQ(entry_pfx_use(NULL, "key:00", 6), 0);
    static char longkey[ENT_PFX_KEY_MAX + 1];
    memset(longkey, 'x', sizeof(longkey));
    memcpy(longkey, "key:00", 6);
    CHECK_EQ(entry_pfx_use(&px, longkey, ENT_PFX_KEY_MAX), 6);
    CHECK_EQ(entry_pfx_use(&px, longkey, ENT_PFX_KEY_MAX + 1), 0); /* too long to rebuild */
    CHECK_EQ(entry_size(16, 32, 0, base, base, 6), 51 - 6);
    /* The P bit shares the value length's varint: 0-63 one byte, 64-8191 two. */
    CHECK_EQ(entry_size(16, 63, 0, base, base, 0), 1 + 1 + 1 + 16 + 63);
    CHECK_EQ(entry_size(16, 64, 0, base, base, 0), 1 + 2 + 1 + 16 + 64);
    uint8_t buf[256], kb[ENT_PFX_KEY_MAX];
    uint8_t flagsets[] = {0, ENT_TTL, ENT_COMPRESSED | ENT_TTL, ENT_TYPED};
    const char *keys[] = {"key:001234567890", "key:00", "key:00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t f = 0; f < sizeof(flagsets); f++) {
        for (size_t k = 0; k < 3; k++) {
            uint32_t klen = (uint32_t)strlen(keys[k]);
            entry e, d;
            entry_init(buf, flagsets[f], keys[k], klen, 70, base + 9, base, &px, 6,
                       flagsets[f] & ENT_TTL ? 99 : 0, &e);
            memset(e.val, 'v', 70);
            entry_decode(buf, base, &px, &d);
            CHECK_EQ(d.size, entry_size(klen, 70, flagsets[f], base + 9, base, 6));
            CHECK_EQ(d.klen, klen);
            CHECK_EQ(d.plen, 6);
            CHECK_EQ(d.vlen, 70);
            CHECK_U64_EQ(d.version, base + 9);
            CHECK_EQ(d.flags, flagsets[f]);
            CHECK_MEM_EQ(entry_key(&d, kb), d.klen, keys[k], klen);
            CHECK(entry_key_eq(&d, keys[k], klen));
            CHECK(!entry_key_eq(&d, "key:011234567890", 16));
            CHECK(!entry_key_eq(&d, "kex:001234567890", 16));
            CHECK(d.val[0] == 'v' && d.val[69] == 'v');
        }
    }
    /* Unprefixed entries in a segment with a prefix: the key is stored whole. */
    entry e, d;
    static const char other[16] = "other"; /* (16: the compiler cannot tell plen is 0 here) */
    entry_init(buf, 0, other, 5, 3, base, base, &px, 0, 0, &e);
    entry_decode(buf, base, &px, &d);
    CHECK_EQ(d.plen, 0);
    CHECK(d.key == entry_key(&d, kb));
    CHECK(entry_key_eq(&d, other, 5));

    /* The arena level: a keyspace with a common prefix learns it after the first segment. */
    arena a;
    arena_init(&a);
    enum { N = 4000 };
    static uint32_t refs[N], sizes[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "user:%06d", (i * 7919) % 1000000);
        refs[i] = put_key(&a, key, &sizes[i]);
    }
    uint32_t first_seg = refs[0] >> 16;
    CHECK_EQ(a.segs[first_seg].pfx.len, 0); /* nothing learned yet */
    int prefixed = 0;
    for (int i = 0; i < N; i++) {
        arena_decode(&a, refs[i], &d);
        snprintf(key, sizeof(key), "user:%06d", (i * 7919) % 1000000);
        CHECK(entry_key_eq(&d, key, strlen(key)));
        CHECK_EQ(d.size, sizes[i]);
        if (d.plen) {
            prefixed++;
            CHECK(d.plen >= 5); /* "user:" at least */
        }
    }
    CHECK(prefixed > N * 9 / 10);
    /* The keyspace moves on: the reference follows within a segment or two. */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "session:%06d", i);
        refs[i] = put_key(&a, key, &sizes[i]);
    }
    prefixed = 0;
    for (int i = N / 2; i < N; i++) {
        arena_decode(&a, refs[i], &d);
        snprintf(key, sizeof(key), "session:%06d", i);
        CHECK(entry_key_eq(&d, key, strlen(key)));
        prefixed += d.plen >= 8;
    }
    CHECK(prefixed > N / 2 * 9 / 10);
    /* Keys with nothing in common: no prefix, nothing lost. */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "%c%05d", 'a' + i % 26, i);
        refs[i] = put_key(&a, key, &sizes[i]);
        CHECK(sizes[i] <= 1 + 1 + 1 + 6 + 32);
    }
    for (int i = 0; i < N; i++) {
        arena_decode(&a, refs[i], &d);
        snprintf(key, sizeof(key), "%c%05d", 'a' + i % 26, i);
        CHECK(entry_key_eq(&d, key, strlen(key)));
    }
    arena_free_all(&a);
}

/* A dead entry carries a mark with its size (entry_kill()); no live entry reads as one. */
static void test_dead_marks(void)
{
    uint8_t buf[20000];
    uint32_t sizes[] = {ENT_MIN_SIZE, 4, 127, 128, 129, 8192, 16383, 16384};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(buf, 0xee, sizeof(buf));
        entry_kill(buf, sizes[i]);
        CHECK_EQ(entry_dead_size(buf), sizes[i]);
        CHECK_EQ(2 + entry_varint_len(sizes[i]) <= sizes[i], 1); /* fits in the entry */
    }
    /* Live entries of every head shape: short and long keys, TTL, the extension byte's flags,
     * at the highest access count. */
    uint8_t flags[] = {0, ENT_TTL, ENT_COMPRESSED, ENT_TYPED, ENT_COMPRESSED | ENT_TYPED | ENT_TTL};
    uint32_t klens[] = {0, 5, 29, 30, 31, 200};
    char key[200];
    memset(key, 'k', sizeof(key));
    for (size_t f = 0; f < sizeof(flags); f++) {
        for (size_t k = 0; k < sizeof(klens) / sizeof(klens[0]); k++) {
            entry e;
            entry_init(buf, flags[f], key, klens[k], 0, 7ull << 16, 7ull << 16, NULL, 0,
                       (flags[f] & ENT_TTL) ? 123 : 0, &e);
            entry_set_freq(buf, ENT_FREQ_MAX);
            CHECK_EQ(entry_dead_size(buf), 0);
            CHECK(e.size >= ENT_MIN_SIZE);
        }
    }
    /* Released entries are marked where they lie: a walk over the segment by each entry's
     * size (dead or decoded) meets exactly the live ones and ends at the segment's end. */
    arena a;
    arena_init(&a);
    enum { N = 300 };
    uint32_t refs[N], sz[N];
    for (int i = 0; i < N; i++)
        refs[i] = put_v(&a, (uint32_t)(i % 7) * 40, (uint8_t)i, (1000 + (uint64_t)i) << 16, &sz[i]);
    uint32_t seg = refs[0] >> 16;
    int live = 0;
    for (int i = 0; i < N; i++) {
        if ((refs[i] >> 16) != seg)
            continue;
        if (i % 3)
            arena_release(&a, refs[i], sz[i]);
        else
            live++;
    }
    CHECK(live > 10);
    uint32_t off = 0;
    int seen = 0;
    while (off < a.segs[seg].used) {
        uint32_t d = entry_dead_size(a.segs[seg].base + off);
        if (d) {
            off += d;
            continue;
        }
        entry e;
        arena_decode(&a, seg << 16 | off, &e);
        int i = 0;
        while (i < N && refs[i] != (seg << 16 | off))
            i++;
        CHECK(i < N && i % 3 == 0);
        if (i < N && e.vlen)
            CHECK_EQ(e.val[0], (uint8_t)i);
        seen++;
        off += e.size;
    }
    CHECK_EQ(off, a.segs[seg].used);
    CHECK_EQ(seen, live);
    arena_free_all(&a);
}

int main(void)
{
    TEST_RUN(test_entry_layout);
    TEST_RUN(test_entry_rewrite);
    TEST_RUN(test_entry_eq16);
    TEST_RUN(test_alloc_and_release);
    TEST_RUN(test_segments_fill_and_free);
    TEST_RUN(test_garbage_counters);
    TEST_RUN(test_entry_key_at);
    TEST_RUN(test_key_prefixes);
    TEST_RUN(test_dead_marks);
    return TEST_REPORT();
}

/* Unit tests for engine/arena and engine/entry: layout, refs, release, victims, accounting. */
#include "engine/arena.h"
#include "engine/entry.h"
#include "test.h"

static void test_entry_layout(void)
{
    uint8_t buf[128];
    entry e;
    CHECK_EQ(entry_size(16, 32, 0), 59);
    CHECK_EQ(entry_size(16, 32, 1), 67);
    CHECK_EQ(entry_size(200, 70000, 0), 1 + 2 + 3 + 8 + 200 + 70000);
    entry_init(buf, ENT_TYPE_STRING, "0123456789abcdef", 16, 32, 0x1122334455667788ull, 0, &e);
    CHECK_EQ(e.size, 59);
    CHECK(e.exp == NULL);
    CHECK_U64_EQ(entry_version(&e), 0x1122334455667788ull);
    CHECK_MEM_EQ(e.key, e.klen, "0123456789abcdef", 16);
    entry_init(buf, ENT_TYPE_STRING, "k", 1, 3, 7, 1700000000123, &e);
    CHECK(e.flags & ENT_TTL);
    CHECK_EQ(entry_expire_at(&e), 1700000000123);
    memcpy(e.val, "abc", 3);
    entry d;
    entry_decode(buf, &d);
    CHECK_EQ(d.size, entry_size(1, 3, 1));
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

static uint32_t put(arena *a, uint32_t size, uint8_t fill)
{
    uint32_t ref;
    uint8_t *p = arena_alloc(a, size, &ref, ARENA_NONE);
    ASSERT(p != NULL);
    memset(p, fill, size);
    p[0] = ENT_TYPE_STRING; /* not dead */
    return ref;
}

static void test_alloc_and_release(void)
{
    arena a;
    arena_init(&a);
    uint32_t r1 = put(&a, 100, 1), r2 = put(&a, 200, 2);
    CHECK_EQ(r1 >> 16, r2 >> 16); /* same head segment */
    CHECK_EQ((r2 & 0xffff) - (r1 & 0xffff), 100);
    CHECK_EQ(a.live_bytes, 300);
    CHECK(a.alloc_bytes >= ARENA_SEG_MIN);
    /* A large entry gets a segment of its own, freed when it dies. */
    uint64_t before = a.alloc_bytes;
    uint32_t big = put(&a, 100000, 3);
    CHECK_EQ(big & 0xffff, 0);
    CHECK(a.alloc_bytes >= before + 100000);
    arena_release(&a, big, 100000);
    CHECK_EQ(a.alloc_bytes, before);
    CHECK(arena_ptr(&a, r1)[1] == 1);
    arena_release(&a, r1, 100);
    CHECK(arena_ptr(&a, r1)[0] & ENT_DEAD);
    CHECK_EQ(a.live_bytes, 200);
    arena_free_all(&a);
    CHECK_EQ(a.alloc_bytes, 0);
}

static void test_segments_fill_and_free(void)
{
    arena a;
    arena_init(&a);
    enum { N = 20000 };
    static uint32_t refs[N];
    for (int i = 0; i < N; i++)
        refs[i] = put(&a, 59, (uint8_t)i);
    CHECK(a.nsegs > 10);
    CHECK_EQ(a.live_bytes, (uint64_t)N * 59);
    /* Everything in a sealed segment gone: the segment is freed at once. */
    uint32_t seg0 = refs[0] >> 16;
    uint64_t before = a.alloc_bytes;
    for (int i = 0; i < N && (refs[i] >> 16) == seg0; i++)
        arena_release(&a, refs[i], 59);
    CHECK(a.segs[seg0].base == NULL);
    CHECK(a.alloc_bytes < before);
    /* Kill 3 of 4 entries in one segment: it becomes the compaction victim. */
    uint32_t segv = refs[N / 2] >> 16;
    int k = 0;
    for (int i = 0; i < N; i++)
        if ((refs[i] >> 16) == segv && (k++ % 4))
            arena_release(&a, refs[i], 59);
    CHECK_EQ(arena_pick_victim(&a), segv);
    CHECK(arena_garbage(&a) > 0);
    /* Freed ids are reused. */
    uint32_t big = put(&a, 50000, 9);
    CHECK_EQ(big >> 16, seg0);
    arena_free_all(&a);
}

int main(void)
{
    TEST_RUN(test_entry_layout);
    TEST_RUN(test_alloc_and_release);
    TEST_RUN(test_segments_fill_and_free);
    return TEST_REPORT();
}

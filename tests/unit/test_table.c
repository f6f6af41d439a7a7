/* Unit tests for engine/table: probing, tombstones, wrap-around, hash-ordered homes. */
#include "engine/table.h"
#include "test.h"

#include <stdlib.h>

/* Hashes with chosen top bits (home) and tag bits. */
static uint64_t mkhash(uint32_t top, uint8_t tagbits)
{
    return (uint64_t)top << 32 | (uint64_t)(tagbits & 0x7f) << 16;
}

/* Finds ref among the candidates for h. */
static int lookup(const table *t, uint64_t h, uint32_t ref, uint32_t *slot_out)
{
    table_probe p;
    table_probe_start(t, h, &p);
    uint32_t s;
    while ((s = table_probe_next(t, &p)) != UINT32_MAX) {
        if (table_refs(t)[s] == ref) {
            if (slot_out)
                *slot_out = s;
            return 1;
        }
    }
    return 0;
}

static uint32_t insert(table *t, uint64_t h, uint32_t ref)
{
    table_probe p;
    table_probe_start(t, h, &p);
    while (table_probe_next(t, &p) != UINT32_MAX) {
    }
    table_put(t, p.insert, h, ref);
    return p.insert;
}

static void test_alloc_rounds_up(void)
{
    table t;
    ASSERT_EQ(table_alloc(&t, 1), 0);
    CHECK_EQ(t.cap, 16);
    table_free(&t);
    ASSERT_EQ(table_alloc(&t, 17), 0);
    CHECK_EQ(t.cap, 32);
    CHECK(table_mem(&t) >= 32 * 5);
    table_free(&t);
    CHECK(t.ctrl == NULL);
}

static void test_home_is_monotonic(void)
{
    uint32_t caps[] = {16, 48, 1000 * 16, 12345 * 16};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        uint32_t prev = 0;
        for (uint64_t top = 0; top < (1ull << 32); top += 0x10001) {
            uint32_t hm = table_home(caps[c], top << 32);
            CHECK(hm >= prev && hm < caps[c]);
            prev = hm;
        }
        CHECK_EQ(table_home(caps[c], UINT64_MAX), caps[c] - 1);
    }
}

static void test_collisions_and_tombstones(void)
{
    table t;
    ASSERT_EQ(table_alloc(&t, 64), 0);
    /* 20 keys with the same home and the same tag: one long run. */
    uint32_t slots[20];
    for (uint32_t i = 0; i < 20; i++)
        slots[i] = insert(&t, mkhash(0x40000000u, 5), 100 + i);
    CHECK_EQ(t.count, 20);
    for (uint32_t i = 0; i < 20; i++)
        CHECK(lookup(&t, mkhash(0x40000000u, 5), 100 + i, NULL));
    /* A different tag never matches these slots. */
    table_probe p;
    table_probe_start(&t, mkhash(0x40000000u, 6), &p);
    CHECK_EQ(table_probe_next(&t, &p), UINT32_MAX);
    /* Remove from the middle: a tombstone keeps the run, later keys stay reachable. */
    table_remove(&t, slots[5]);
    CHECK_EQ(t.tombs, 1);
    CHECK(!lookup(&t, mkhash(0x40000000u, 5), 105, NULL));
    for (uint32_t i = 6; i < 20; i++)
        CHECK(lookup(&t, mkhash(0x40000000u, 5), 100 + i, NULL));
    /* Reinsertion reuses the tombstone. */
    uint32_t s = insert(&t, mkhash(0x40000000u, 5), 999);
    CHECK_EQ(s, slots[5]);
    CHECK_EQ(t.tombs, 0);
    /* Removing the run's tail clears trailing tombstones instead of leaving them. */
    table_remove(&t, slots[18]);
    table_remove(&t, slots[19]);
    CHECK_EQ(t.tombs, 0);
    CHECK_EQ(t.count, 18);
    table_free(&t);
}

static void test_wraparound(void)
{
    table t;
    ASSERT_EQ(table_alloc(&t, 32), 0);
    /* Homes at the last slot: the run wraps to slot 0 and beyond. */
    uint32_t got[8];
    for (uint32_t i = 0; i < 8; i++)
        got[i] = insert(&t, mkhash(0xffffffffu, 9), i);
    CHECK_EQ(got[0], 31);
    CHECK_EQ(got[1], 0);
    CHECK_EQ(got[7], 6);
    for (uint32_t i = 0; i < 8; i++)
        CHECK(lookup(&t, mkhash(0xffffffffu, 9), i, NULL));
    /* The mirror bytes follow the first group. */
    for (uint32_t i = 0; i < TABLE_GROUP; i++)
        CHECK_EQ(t.ctrl[t.cap + i], t.ctrl[i]);
    table_remove(&t, got[3]);
    for (uint32_t i = 0; i < TABLE_GROUP; i++)
        CHECK_EQ(t.ctrl[t.cap + i], t.ctrl[i]);
    CHECK(lookup(&t, mkhash(0xffffffffu, 9), 7, NULL));
    table_free(&t);
}

static void test_random_against_model(void)
{
    /* Random inserts and removes; every present ref must be found, absent ones not. */
    enum { N = 3000 };
    table t;
    ASSERT_EQ(table_alloc(&t, 4096), 0);
    static uint64_t hs[N];
    static int present[N];
    static uint32_t slot[N];
    srand(7);
    for (int i = 0; i < N; i++)
        hs[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
    for (int round = 0; round < 20000; round++) {
        int i = rand() % N;
        if (present[i]) {
            uint32_t s = 0;
            ASSERT(lookup(&t, hs[i], (uint32_t)i, &s));
            CHECK_EQ(s, slot[i]);
            table_remove(&t, s);
            present[i] = 0;
        } else if (t.count + t.tombs + 1 <= table_max_fill(&t)) {
            CHECK(!lookup(&t, hs[i], (uint32_t)i, NULL));
            slot[i] = insert(&t, hs[i], (uint32_t)i);
            present[i] = 1;
        }
    }
    uint32_t n = 0;
    for (int i = 0; i < N; i++) {
        if (present[i]) {
            n++;
            CHECK(lookup(&t, hs[i], (uint32_t)i, NULL));
        }
    }
    CHECK_EQ(t.count, n);
    table_free(&t);
}

int main(void)
{
    TEST_RUN(test_alloc_rounds_up);
    TEST_RUN(test_home_is_monotonic);
    TEST_RUN(test_collisions_and_tombstones);
    TEST_RUN(test_wraparound);
    TEST_RUN(test_random_against_model);
    return TEST_REPORT();
}

/* Unit tests for engine/expheap: ordering under random pushes and pops. */
#include "engine/expheap.h"
#include "test.h"

static void test_order(void)
{
    expheap h = {0};
    srand(3);
    for (int i = 0; i < 5000; i++)
        ASSERT_EQ(expheap_push(&h, rand() % 100000, (uint64_t)i), 0);
    CHECK(expheap_mem(&h) >= 5000 * sizeof(exp_rec));
    int64_t prev = -1;
    int n = 0;
    while (h.n) {
        const exp_rec *r = expheap_top(&h);
        CHECK(r->at >= prev);
        prev = r->at;
        expheap_pop(&h);
        n++;
        if (n % 7 == 0)
            expheap_push(&h, prev + rand() % 1000, 0); /* never earlier than what was popped */
    }
    CHECK(n > 5000);
    CHECK(h.cap <= 128); /* shrank as it drained */
    expheap_free(&h);
    CHECK_EQ(expheap_mem(&h), 0);
}

int main(void)
{
    TEST_RUN(test_order);
    return TEST_REPORT();
}

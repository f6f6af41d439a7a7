/* table.c — see table.h. */
#include "engine/table.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "util/pages.h"

/* Bytes of the one allocation holding ctrl and refs for `cap` slots (cap rounded as stored). */
static size_t table_total(uint32_t cap)
{
    size_t ctrl_bytes = ((size_t)cap + TABLE_GROUP + 3) & ~(size_t)3; /* as table_refs() */
    return ctrl_bytes + (size_t)cap * sizeof(uint32_t);
}

int table_alloc(table *t, uint32_t cap)
{
    if (cap < TABLE_MIN_CAP)
        cap = TABLE_MIN_CAP;
    cap = (cap + TABLE_GROUP - 1) & ~(TABLE_GROUP - 1);
    size_t total = table_total(cap);
    uint8_t *base;
    uint64_t bytes;
    if (total >= TABLE_MMAP_MIN) {
        size_t len = pages_round(total);
        if (len > UINT32_MAX)
            return -1;
        /* The mapping is whole pages: give the table every slot they hold (free load headroom,
         * up to 800 slots, so the next resize comes later). */
        uint64_t fit = ((len - TABLE_GROUP - 3) / 5) & ~(uint64_t)(TABLE_GROUP - 1);
        while (fit > cap && table_total((uint32_t)fit) > len)
            fit -= TABLE_GROUP;
        if (fit > cap && fit <= UINT32_MAX - TABLE_GROUP)
            cap = (uint32_t)fit;
        base = pages_alloc(len);
        if (!base)
            return -1;
        if (len >= (2u << 20))
            pages_huge(base, len);
        bytes = len;
    } else {
        base = calloc(total, 1);
        if (!base)
            return -1;
        bytes = malloc_usable_size(base) + sizeof(size_t); /* and the chunk header */
    }
    t->ctrl = base;
    t->cap = cap;
    t->count = 0;
    t->tombs = 0;
    t->bytes = (uint32_t)bytes;
    return 0;
}

void table_free(table *t)
{
    if (t->ctrl && table_total(t->cap) >= TABLE_MMAP_MIN)
        pages_free(t->ctrl, t->bytes);
    else
        free(t->ctrl);
    memset(t, 0, sizeof(*t));
}

void table_put(table *t, uint32_t slot, uint64_t h, uint32_t ref)
{
    if (t->ctrl[slot] == TABLE_TOMB)
        t->tombs--;
    table_set_ctrl(t, slot, table_tag(h));
    table_refs(t)[slot] = ref;
    t->count++;
}

void table_remove(table *t, uint32_t slot)
{
    uint32_t next = slot + 1 == t->cap ? 0 : slot + 1;
    t->count--;
    if (t->ctrl[next] == TABLE_EMPTY) {
        /* The run ends here: no probe needs this slot, and trailing tombstones can go too. */
        table_set_ctrl(t, slot, TABLE_EMPTY);
        uint32_t prev = slot == 0 ? t->cap - 1 : slot - 1;
        while (t->ctrl[prev] == TABLE_TOMB) {
            table_set_ctrl(t, prev, TABLE_EMPTY);
            t->tombs--;
            prev = prev == 0 ? t->cap - 1 : prev - 1;
        }
    } else {
        table_set_ctrl(t, slot, TABLE_TOMB);
        t->tombs++;
    }
}

uint32_t table_insert_slot(const table *t, uint64_t h)
{
    uint32_t pos = table_home(t->cap, h);
    for (;;) {
        uint32_t f = table_group_free(t->ctrl, pos);
        if (f) {
            uint32_t s = pos + (uint32_t)__builtin_ctz(f);
            return s >= t->cap ? s - t->cap : s;
        }
        pos += TABLE_GROUP;
        if (pos >= t->cap)
            pos -= t->cap;
    }
}

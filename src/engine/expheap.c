/* expheap.c — see expheap.h. */
#include "engine/expheap.h"

#include <malloc.h>
#include <stdlib.h>

void expheap_free(expheap *hp)
{
    free(hp->v);
    hp->v = NULL;
    hp->n = hp->cap = 0;
    hp->bytes = 0;
}

/* Resizes v to ncap records. Returns 0, or -1 (heap unchanged). */
static int resize(expheap *hp, uint32_t ncap)
{
    exp_rec *v = realloc(hp->v, (size_t)ncap * sizeof(*v));
    if (!v)
        return -1;
    hp->v = v;
    hp->cap = ncap;
    hp->bytes = malloc_usable_size(v) + sizeof(size_t); /* and the chunk header */
    return 0;
}

int expheap_push(expheap *hp, int64_t at, uint64_t hash)
{
    if (hp->n == hp->cap && resize(hp, hp->cap ? hp->cap * 2 : 8))
        return -1;
    uint32_t i = hp->n++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (hp->v[parent].at <= at)
            break;
        hp->v[i] = hp->v[parent];
        i = parent;
    }
    hp->v[i].at = at;
    hp->v[i].hash = hash;
    return 0;
}

void expheap_pop(expheap *hp)
{
    exp_rec last = hp->v[--hp->n];
    uint32_t i = 0, n = hp->n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hp->v[c + 1].at < hp->v[c].at)
            c++;
        if (hp->v[c].at >= last.at)
            break;
        hp->v[i] = hp->v[c];
        i = c;
    }
    if (n)
        hp->v[i] = last;
    /* Give memory back once the heap has drained well below its capacity. */
    if (hp->cap > 64 && hp->n < hp->cap / 4)
        (void)resize(hp, hp->cap / 2);
}

/* pages.c — see pages.h. */
#include "util/pages.h"

#include <sys/mman.h>
#include <unistd.h>

size_t pages_round(size_t len)
{
    return (len + 4095) & ~(size_t)4095;
}

void *pages_alloc(size_t len)
{
    void *p = mmap(NULL, pages_round(len), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void pages_free(void *p, size_t len)
{
    if (p)
        munmap(p, pages_round(len));
}

int pages_inherit(void *p, size_t len, int on)
{
    return madvise(p, pages_round(len), on ? MADV_DOFORK : MADV_DONTFORK);
}

void pages_huge(void *p, size_t len)
{
    (void)madvise(p, pages_round(len), MADV_HUGEPAGE);
}

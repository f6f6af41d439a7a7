/* pages.c — see pages.h. */
#include "util/pages.h"

#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define PAGES_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGES_LSAN 1
#endif
#endif
#ifdef PAGES_LSAN
#include <sanitizer/lsan_interface.h>
#endif

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

void pages_hold_pointers(void *p, size_t len, int on)
{
#ifdef PAGES_LSAN
    if (on)
        __lsan_register_root_region(p, pages_round(len));
    else
        __lsan_unregister_root_region(p, pages_round(len));
#else
    (void)p;
    (void)len;
    (void)on;
#endif
}

void pages_huge(void *p, size_t len)
{
    (void)madvise(p, pages_round(len), MADV_HUGEPAGE);
}

/*
 * pages.h — memory straight from the kernel, in whole pages: for the few structures whose
 * placement matters (a shard array that a snapshot child must not share, index tables that go
 * back to the kernel when freed). Separate from the allocator so that callers need not
 * include <sys/mman.h> (its mlock() clashes with util/lock.h's type).
 */
#ifndef MNEMO_UTIL_PAGES_H
#define MNEMO_UTIL_PAGES_H

#include <stddef.h>

/* `len` rounded up to whole pages. */
size_t pages_round(size_t len);

/* A zeroed private anonymous mapping of pages_round(len) bytes, or NULL. */
void *pages_alloc(size_t len);

/* Unmaps what pages_alloc(len) returned (NULL is ignored). */
void pages_free(void *p, size_t len);

/* Whether a later fork() maps these pages into the child (on = 1, the default) or not (0).
 * Returns 0 or -1 with errno. */
int pages_inherit(void *p, size_t len, int on);

/* The range holds pointers to heap memory (the shard array): LeakSanitizer, which does not
 * look into mappings, is told to (on = 1) or not to any more (on = 0). No-op without it. */
void pages_hold_pointers(void *p, size_t len, int on);

/* Asks for transparent huge pages on the range (advice only). */
void pages_huge(void *p, size_t len);

#endif

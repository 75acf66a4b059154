/* alloc_count.so: an LD_PRELOAD allocation counter for the benchmark (issue 5, item 3).
 *
 * Interposes malloc, calloc, realloc, free, posix_memalign, aligned_alloc, memalign and
 * valloc/pvalloc (C++'s operator new ends in malloc) and counts the calls made by a thread
 * while that thread has said acids_alloc_watch(1). engine_bench finds the two functions with
 * dlsym and watches its audio thread around each acids_engine_process call, so the count is
 * exactly the allocations made by the audio path. Forwards to glibc's __libc_* entry points,
 * so no dlsym bootstrap is needed. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static _Thread_local int watching;
static atomic_long counts[4]; /* malloc-like, calloc, realloc, free */

__attribute__((visibility("default"))) void acids_alloc_watch(int on) { watching = on; }

__attribute__((visibility("default"))) void acids_alloc_counts(long out[4])
{
    for (int i = 0; i < 4; i++) out[i] = atomic_load(&counts[i]);
}

#define COUNT(i) do { if (watching) atomic_fetch_add(&counts[i], 1); } while (0)

void *malloc(size_t n) { COUNT(0); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { COUNT(1); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { COUNT(2); return __libc_realloc(p, n); }
void free(void *p) { if (p) COUNT(3); __libc_free(p); }
void *memalign(size_t a, size_t n) { COUNT(0); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { COUNT(0); return __libc_memalign(a, n); }
void *valloc(size_t n) { COUNT(0); return __libc_memalign(4096, n); }
void *pvalloc(size_t n) { COUNT(0); return __libc_memalign(4096, (n + 4095) & ~(size_t)4095); }
int posix_memalign(void **out, size_t a, size_t n)
{
    COUNT(0);
    if (a < sizeof(void *) || (a & (a - 1))) return EINVAL;
    void *p = __libc_memalign(a, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}

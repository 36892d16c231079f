/* alloc_counter.h — counts heap allocations by interposing malloc, calloc, realloc and
 * posix_memalign, for tests that check a steady state allocates nothing. Include it in
 * exactly one file of a test program. Under a sanitizer, which owns malloc, counting is
 * unsupported (ALLOC_COUNTER_SUPPORTED is 0) and tests should skip the check.
 *
 *   alloc_counter_start();  ...work...  long n = alloc_counter_stop();
 *
 * Allocations made directly by the BLAS library (oneDNN's sgemm allocates its packing
 * scratch on every call) are counted apart, in alloc_count_blas: they are the library's,
 * not zen's, and a test reports them rather than failing on them. */
#ifndef ZEN_TEST_ALLOC_COUNTER_H
#define ZEN_TEST_ALLOC_COUNTER_H

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_COUNTER_SUPPORTED 0
static __attribute__((unused)) long alloc_count_blas;
static inline void alloc_counter_start(void) {}
static inline long alloc_counter_stop(void) { return 0; }
#else
#define ALLOC_COUNTER_SUPPORTED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile int alloc_counting;
static volatile long alloc_count, alloc_count_blas;

/* caller: the code that called malloc & co. */
static inline void alloc_counted(void *caller) {
    if (!alloc_counting) return;
    Dl_info info;
    /* zen is C: operator new (libstdc++) is only ever called by oneDNN, a C++ library */
    if (dladdr(caller, &info) && info.dli_fname &&
        (strstr(info.dli_fname, "libdnnl") || strstr(info.dli_fname, "libopenblas") || strstr(info.dli_fname, "libstdc++")))
        __atomic_add_fetch(&alloc_count_blas, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
}
void *malloc(size_t n) {
    alloc_counted(__builtin_return_address(0));
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    alloc_counted(__builtin_return_address(0));
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    alloc_counted(__builtin_return_address(0));
    return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t align, size_t n) {
    alloc_counted(__builtin_return_address(0));
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12;
}
static inline void alloc_counter_start(void) {
    alloc_count = alloc_count_blas = 0;
    alloc_counting = 1;
}
static inline long alloc_counter_stop(void) {
    alloc_counting = 0;
    return alloc_count;
}
#endif

#endif

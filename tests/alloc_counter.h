/* alloc_counter.h — counts heap allocations by interposing malloc, calloc, realloc and
 * posix_memalign, for tests that check a steady state allocates nothing. Include it in
 * exactly one file of a test program. Under a sanitizer, which owns malloc, counting is
 * unsupported (ALLOC_COUNTER_SUPPORTED is 0) and tests should skip the check.
 *
 *   alloc_counter_start();  ...work...  long n = alloc_counter_stop(); */
#ifndef ZEN_TEST_ALLOC_COUNTER_H
#define ZEN_TEST_ALLOC_COUNTER_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_COUNTER_SUPPORTED 0
static inline void alloc_counter_start(void) {}
static inline long alloc_counter_stop(void) { return 0; }
#else
#define ALLOC_COUNTER_SUPPORTED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile int alloc_counting;
static volatile long alloc_count;

static inline void alloc_counted(void) {
    if (alloc_counting) __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
}
void *malloc(size_t n) {
    alloc_counted();
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    alloc_counted();
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    alloc_counted();
    return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t align, size_t n) {
    alloc_counted();
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12;
}
static inline void alloc_counter_start(void) {
    alloc_count = 0;
    alloc_counting = 1;
}
static inline long alloc_counter_stop(void) {
    alloc_counting = 0;
    return alloc_count;
}
#endif

#endif

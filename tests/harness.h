/* harness.h — the small test framework every zen test uses.
 *
 *   TEST(name) { CHECK(cond); CHECK_NEAR(a, b, tol); }
 *   int main(void) { return RUN_TESTS(test_a, test_b); }
 *
 * Fixtures are safetensors files written by tests/fixtures/make_fixtures.py (PyTorch);
 * fx_check_op compares an op's forward output and gradients with a fixture case and then
 * checks the gradients against central finite differences. */
#ifndef ZEN_TEST_HARNESS_H
#define ZEN_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "zen.h"

extern int harness_failures; /* failures in the current test */

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                 \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);            \
            harness_failures++;                                                                     \
        }                                                                                           \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                       \
    do {                                                                                            \
        double a_ = (a), b_ = (b);                                                                  \
        if (!(fabs(a_ - b_) <= (tol))) {                                                            \
            fprintf(stderr, "  %s:%d: %s = %g, expected %s = %g (tol %g)\n", __FILE__, __LINE__, #a, \
                    a_, #b, b_, (double)(tol));                                                     \
            harness_failures++;                                                                     \
        }                                                                                           \
    } while (0)

/* Checks that a zen call succeeded: the tensor is not NULL and the context has no error. */
#define CHECK_OK(ctx, t)                                                                            \
    do {                                                                                            \
        if (!(t) || zen_ctx_error(ctx)) {                                                           \
            fprintf(stderr, "  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #t,                    \
                    zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "NULL");                              \
            harness_failures++;                                                                     \
        }                                                                                           \
    } while (0)

typedef void (*harness_fn)(void);
int harness_run(const char *const *names, const harness_fn *fns, int n);
#define RUN_TESTS(...)                                                                              \
    harness_run((const char *const[]){HARNESS_NAMES(__VA_ARGS__)}, (const harness_fn[]){__VA_ARGS__}, \
                (int)(sizeof((harness_fn[]){__VA_ARGS__}) / sizeof(harness_fn)))
/* Turns the function list into a list of their names. */
#define HARNESS_NAMES(...) HARNESS_STR_EACH(__VA_ARGS__)
#define HARNESS_STR_EACH(...) HARNESS_SPLIT(#__VA_ARGS__)
#define HARNESS_SPLIT(s) s /* split at run time by harness_run */

/* ---- fixtures ---- */

typedef struct fx_file fx_file;
/* Opens tests/fixtures/<name> (directory compiled in); aborts the test program if missing. */
fx_file *fx_open(const char *name);
void fx_close(fx_file *f);
/* True if the fixture holds a tensor named key. */
int fx_has(const fx_file *f, const char *key);
/* A new leaf in ctx (param if trainable, else input) holding the fixture tensor key. */
zen_tensor *fx_param(zen_ctx *ctx, const fx_file *f, const char *key);
zen_tensor *fx_input(zen_ctx *ctx, const fx_file *f, const char *key);
/* Scalar parameters stored as 1-element tensors ("<case>.p.<name>"). */
int fx_int(const fx_file *f, const char *key);
float fx_float(const fx_file *f, const char *key);
/* Integer list parameters; returns the count (at most cap). */
int fx_ints(const fx_file *f, const char *key, int64_t *out, int cap);
/* The names of the cases in the file whose name starts with prefix (NULL-terminated
 * array owned by f). A case is the part of a key before the first '.'. */
const char *const *fx_cases(fx_file *f, const char *prefix);

/* Compares an f32 tensor with the fixture tensor key: |a - e| <= atol + rtol * |e|. */
int fx_check_tensor(const char *label, const zen_tensor *actual, const fx_file *f, const char *key,
                    double atol, double rtol);

/* The complete check of one op case:
 * - out's forward value against "<case>.out";
 * - with upstream gradient "<case>.gout", the gradient of every input named in names[]
 *   (leaves created with fx_param) against "<case>.grad.<name>";
 * - the same gradients against central finite differences of sum(out * gout).
 * tol scales the tolerances (1 = default). Returns the number of failures. */
int fx_check_op(zen_ctx *ctx, const fx_file *f, const char *case_name, zen_tensor *out, int n,
                zen_tensor *const *inputs, const char *const *names, double tol);

/* Finite-difference check alone: gradients of sum(out * w) for a fixed random w with
 * respect to each of the n leaves (which must be params), at up to max_elems elements
 * each. Returns the number of failures. */
int gradcheck(zen_ctx *ctx, zen_tensor *out, int n, zen_tensor *const *params, double eps, double tol);

#endif

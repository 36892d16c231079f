/* softmax.h — the row and column kernels that softmax.c and loss.c share. Every exp that a
 * softmax, log-softmax or cross-entropy evaluates goes through these functions (defined in
 * softmax.c, next to SOFTMAX_EXP, the one place to swap in a vectorized exp).
 *
 * Rows are contiguous runs of n floats along the reduced axis. Columns are n independent
 * positions side by side (the reduced axis is not the last one): one call handles one step
 * along the reduced axis for all of them. */
#ifndef ZEN_SOFTMAX_H
#define ZEN_SOFTMAX_H

#include <stdint.h>

/* Largest of x[0..n) (n >= 1). */
float zen__row_max(const float *x, int64_t n);
/* o[i] = exp(x[i] - shift) * scale; returns the sum of the o[i]. */
float zen__row_exp_shift(const float *x, float shift, float scale, float *o, int64_t n);
/* Sum of exp(x[i] - shift), nothing stored. */
float zen__row_exp_shift_sum(const float *x, float shift, int64_t n);

/* m[i] = max(m[i], x[i]). */
void zen__cols_max(float *m, const float *x, int64_t n);
/* o[i] = exp(x[i] - shift[i]) (o may be NULL); sum[i] += that (sum may be NULL). */
void zen__cols_exp_shift(const float *x, const float *shift, float *o, float *sum, int64_t n);

/* Columns are processed in blocks of at most this many (stack arrays of this size). */
#define ZEN_SOFTMAX_COLS 256

#endif

/* gradcheck.c — gradients against central finite differences.
 *
 * The scalar checked is L = sum(out * w) for a fixed random w. The analytic gradient comes
 * from zen_graph_backward; the numeric one perturbs one input element by ±eps, reruns the
 * forward, and evaluates L in double precision from out's values, so the only float error
 * is the op's own. */
#include "harness.h"

#include <string.h>

#define MAX_ELEMS_PER_PARAM 64
#define MAX_PARAMS (ZEN_MAX_SRC * 4)

static double weighted_sum(const zen_tensor *out, const float *w) {
    double s = 0;
    int64_t n = zen_numel(out);
    int64_t index[ZEN_MAX_DIMS];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i;
        for (int d = out->ndim - 1; d >= 0; d--) {
            index[d] = rem % out->shape[d];
            rem /= out->shape[d];
        }
        s += (double)zen_get_f32(out, index) * w[i];
    }
    return s;
}

int gradcheck(zen_ctx *ctx, zen_tensor *out, int n, zen_tensor *const *params, double eps, double tol) {
    zen_rng rng;
    zen_rng_seed(&rng, 1234);
    zen_tensor *w = zen_const(ctx, ZEN_F32, out->ndim, out->shape);
    zen_rng_fill_uniform(&rng, w, -1.0f, 1.0f);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, out, w), 0, NULL, false);
    /* Gradients from an earlier graph over the same nodes are replaced by this one's. */
    for (int i = 0; i < n; i++) params[i]->grad = NULL;
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, out);
    if (zen_graph_backward(g, loss) != 0 || zen_graph_plan(g) != 0 || zen_graph_compute(g) != 0) {
        fprintf(stderr, "  gradcheck: %s\n", zen_ctx_error(ctx));
        zen_graph_free(g);
        return 1;
    }
    /* Read every analytic gradient before any perturbation reruns the graph. */
    float *analytic[MAX_PARAMS] = {0};
    if (n > MAX_PARAMS) n = MAX_PARAMS;
    for (int p = 0; p < n; p++) {
        zen_tensor *x = params[p];
        if (!x->grad) continue;
        int64_t count = zen_numel(x);
        int64_t index[ZEN_MAX_DIMS];
        analytic[p] = malloc((size_t)count * sizeof(float));
        for (int64_t i = 0; i < count; i++) {
            int64_t rem = i;
            for (int d = x->ndim - 1; d >= 0; d--) {
                index[d] = rem % x->shape[d];
                rem /= x->shape[d];
            }
            analytic[p][i] = zen_get_f32(x->grad, index);
        }
    }
    int failures = 0;
    for (int p = 0; p < n; p++) {
        zen_tensor *x = params[p];
        if (!analytic[p]) {
            fprintf(stderr, "  gradcheck: no gradient for %s\n", x->name);
            failures++;
            continue;
        }
        int64_t count = zen_numel(x);
        int64_t step = count > MAX_ELEMS_PER_PARAM ? count / MAX_ELEMS_PER_PARAM : 1;
        float *xd = x->data;
        double worst = 0;
        int bad = 0;
        for (int64_t i = 0; i < count; i += step) {
            float orig = xd[i];
            xd[i] = orig + (float)eps;
            zen_graph_compute(g);
            double lp = weighted_sum(out, w->data);
            xd[i] = orig - (float)eps;
            zen_graph_compute(g);
            double lm = weighted_sum(out, w->data);
            xd[i] = orig;
            double h = (double)(orig + (float)eps) - (double)(orig - (float)eps);
            double numeric = (lp - lm) / h;
            double err = fabs(numeric - analytic[p][i]);
            double allowed = tol * (2e-3 + 1e-2 * fabs(numeric));
            if (err > allowed) {
                if (!bad)
                    fprintf(stderr, "  gradcheck %s[%lld]: analytic %g, numeric %g\n", x->name, (long long)i,
                            (double)analytic[p][i], numeric);
                bad++;
                if (err > worst) worst = err;
            }
        }
        if (bad) {
            fprintf(stderr, "  gradcheck %s: %d elements off (worst error %g)\n", x->name, bad, worst);
            failures++;
        }
    }
    for (int p = 0; p < n; p++) free(analytic[p]);
    zen_graph_compute(g); /* leave outputs as computed at the unperturbed point */
    zen_graph_free(g);
    return failures;
}

/* A user program built against an installed zen (pkg-config), as in the README. */
#include <stdio.h>
#include <zen.h>

int main(void) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    float *d = x->data;
    d[0] = 1, d[1] = 2, d[2] = 3;
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, x, x), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    if (zen_graph_backward(g, loss) || zen_graph_plan(g) || zen_graph_compute(g)) {
        fprintf(stderr, "consumer: %s\n", zen_ctx_error(ctx));
        return 1;
    }
    const float *gx = x->grad->data;
    printf("zen %s: loss %g, grad %g %g %g\n", zen_version(), *(float *)loss->data, gx[0], gx[1], gx[2]);
    int ok = *(float *)loss->data == 14 && gx[0] == 2 && gx[1] == 4 && gx[2] == 6;
    /* The data layer links too (zlib, pthreads): a missing file is a clean error. */
    ok = ok && zen_load_npy(ctx, "/nonexistent/x.npy", ZEN_F32, 0) == NULL && zen_ctx_error(ctx);
    zen_batch_iter_free(NULL);
    zen_graph_free(g);
    zen_ctx_free(ctx);
    return ok ? 0 : 1;
}

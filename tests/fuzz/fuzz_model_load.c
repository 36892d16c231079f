/* fuzz_model_load — libFuzzer target for the model-file loader (src/io/load.c and
 * safetensors.c): any bytes are given to zen_model_load's in-memory form; a model that
 * loads is then given the same bytes as a checkpoint to resume from (the checkpoint reader,
 * for the 24 training samples of the seed corpus's checkpoint), is written back out as JSON,
 * and predicts one sample. Everything must end in a model or a clean error: ASan, UBSan and
 * libFuzzer's leak and memory checks report anything else.
 *
 * Build and run: tests/fuzz/run.sh [SECONDS] (make fuzz-smoke, make fuzz FUZZ_SECONDS=600). */
#include "train/train.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 1);
    zen_model *m = zen__model_load_mem(ctx, data, size, "fuzz.zen");
    if (m) {
        if (m->trainer && m->trainer->opt) {
            zen_train_state ts = {0};
            if (zen__checkpoint_load_mem(m, data, size, "fuzz.zen", 24, 0, NULL, 0, &ts) == 0)
                zen__train_state_clear(&ts);
            zen_ctx_clear_error(ctx);
        }
        free(zen_model_to_json(m));
        int64_t shape[ZEN_MAX_DIMS + 1] = {1};
        int nd = zen_model_input_shape(m, 0, shape + 1);
        int64_t numel = 1;
        for (int d = 1; d <= nd; d++) numel *= shape[d] > 0 ? shape[d] : 1;
        /* one sample through the model, when it is small enough to be quick */
        if (nd >= 0 && nd < ZEN_MAX_DIMS && numel <= 4096 && zen_model_n_params(m, false) <= 100000) {
            zen_array *x = zen_array_new(ctx, ZEN_F32, nd + 1, shape);
            zen_array_free(x ? zen_model_predict(m, x, 1) : NULL);
            zen_array_free(x);
        }
    }
    zen_model_free(m);
    zen_ctx_free(ctx);
    return 0;
}

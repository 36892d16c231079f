/* generate.c — `zen generate MODEL ...`: text from a language model, streamed token by token,
 * and `zen import-gpt2 DIR -o model.zen`: a Hugging Face GPT-2 checkpoint as a zen model file.
 *
 * MODEL is a zen model file or a Hugging Face GPT-2 checkpoint (a directory with config.json
 * and model.safetensors, or that model.safetensors). The prompt is fed once (prefill); then
 * each new token is sampled from the last logits and fed alone, the earlier positions coming
 * from the key/value cache (zen_lm). When the context is full, the window slides: the last
 * half of the context is fed again (recomputed) and generation goes on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char *usage =
    "usage: zen generate MODEL [--prompt TEXT | --prompt-ids IDS] [options]\n"
    "  MODEL                    a zen model file, or a Hugging Face GPT-2 directory (config.json +\n"
    "                           model.safetensors) or its model.safetensors\n"
    "  --prompt TEXT            the prompt, encoded with the model's tokenizer (kept in the model file)\n"
    "  --prompt-ids 1,2,3       the prompt as token ids (default: <|endoftext|> for GPT-2, else token 0)\n"
    "  --max-tokens N           tokens to generate (default 100)\n"
    "  --temperature T          0 is greedy (default 1)\n"
    "  --top-k K                keep the K most likely tokens (default 0: all)\n"
    "  --top-p P                nucleus sampling: keep the most likely tokens up to probability P (default 1)\n"
    "  --seed S                 the sampling seed (default 0)\n"
    "  --threads N              threads (default: all cores or OMP_NUM_THREADS)\n"
    "Tokens are printed as they are made: as text when the model has a tokenizer (--ids: always as ids\n"
    "separated by spaces); timing goes to stderr.\n";

/* A model file, or a Hugging Face checkpoint (a directory, or a .safetensors without zen's
 * metadata: tried as GPT-2 when loading as a zen file fails). */
static zen_model *load_any(zen_ctx *ctx, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return zen_gpt2_import(ctx, path);
    zen_model *m = zen_model_load(ctx, path);
    if (m) return m;
    size_t n = strlen(path);
    if (n >= 12 && !strcmp(path + n - 12, ".safetensors") && strstr(zen_ctx_error(ctx), "not a zen model file")) {
        zen_ctx_clear_error(ctx);
        return zen_gpt2_import(ctx, path);
    }
    return NULL;
}

/* "1,2,3" -> ids; returns the count or -1 (message printed). */
static int parse_ids(const char *s, int32_t **out) {
    int cap = 16, n = 0;
    int32_t *ids = malloc(sizeof *ids * (size_t)cap);
    while (ids && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 2147483647L || (*end && *end != ',')) {
            fprintf(stderr, "zen generate: --prompt-ids needs token ids separated by commas, got '%s'\n", s);
            free(ids);
            return -1;
        }
        if (n == cap) {
            int32_t *g = realloc(ids, sizeof *ids * (size_t)(cap *= 2));
            if (!g) free(ids);
            ids = g;
            if (!ids) break;
        }
        ids[n++] = (int32_t)v;
        s = *end ? end + 1 : end;
    }
    if (!ids || n == 0) {
        fprintf(stderr, "zen generate: --prompt-ids is empty\n");
        free(ids);
        return -1;
    }
    *out = ids;
    return n;
}

int cmd_generate(int argc, char **argv) {
    const char *path = NULL, *prompt_ids = NULL, *prompt_text = NULL;
    bool as_ids = false;
    long max_tokens = 100, top_k = 0, seed = 0, threads = 0;
    double temperature = 1, top_p = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage, stdout), 0;
        else if (!strcmp(a, "--prompt-ids") && val) prompt_ids = argv[++i];
        else if (!strcmp(a, "--prompt") && val) prompt_text = argv[++i];
        else if (!strcmp(a, "--ids")) as_ids = true;
        else if (!strcmp(a, "--max-tokens")) ok = cli_int("generate", a, val, 0, 100000000, &max_tokens), i++;
        else if (!strcmp(a, "--temperature")) ok = cli_float("generate", a, val, 0, 1e6, &temperature), i++;
        else if (!strcmp(a, "--top-k")) ok = cli_int("generate", a, val, 0, 100000000, &top_k), i++;
        else if (!strcmp(a, "--top-p")) ok = cli_float("generate", a, val, 0, 1, &top_p), i++;
        else if (!strcmp(a, "--seed")) ok = cli_int("generate", a, val, 0, 2147483647L, &seed), i++;
        else if (!strcmp(a, "--threads")) ok = cli_int("generate", a, val, 1, 1024, &threads), i++;
        else if (a[0] == '-' || path) return fprintf(stderr, "zen generate: unknown or incomplete argument '%s'\n%s", a, usage), 2;
        else path = a;
        if (!ok) return 2;
    }
    if (!path) return fprintf(stderr, "zen generate: needs a model\n%s", usage), 2;
    if (prompt_ids && prompt_text) return fprintf(stderr, "zen generate: give --prompt or --prompt-ids, not both\n"), 2;
    int32_t *prompt = NULL;
    int np = prompt_ids ? parse_ids(prompt_ids, &prompt) : 1;
    if (np < 0) return 2;

    int rc = 1;
    zen_ctx *ctx = zen_ctx_new();
    if (threads) zen_ctx_set_threads(ctx, (int)threads);
    zen_model *m = load_any(ctx, path);
    zen_lm *lm = m ? zen_lm_new(m) : NULL;
    zen_tokenizer *tok = NULL;
    int32_t *window = NULL;
    float *logits = NULL;
    if (!lm) goto done;
    /* The model's tokenizer (train_lm.c and import-gpt2 store it) reads and writes text. */
    const char *tj = zen_model_tokenizer_json(m);
    if (tj && !(as_ids && !prompt_text) && !(tok = zen_tokenizer_from_json(ctx, tj))) goto done;
    if (prompt_text) {
        if (!tok) {
            fprintf(stderr, "zen generate: %s has no tokenizer to read --prompt with; give --prompt-ids\n", path);
            rc = 2;
            goto done;
        }
        int64_t n;
        prompt = zen_tokenizer_encode(ctx, tok, prompt_text, strlen(prompt_text), &n);
        if (!prompt) goto done;
        if (n == 0) {
            fprintf(stderr, "zen generate: --prompt is empty\n");
            rc = 2;
            goto done;
        }
        np = n > 0x7fffffff ? 0x7fffffff : (int)n;
    }
    if (!prompt) { /* no prompt: GPT-2's <|endoftext|>, else token 0 */
        prompt = calloc(1, sizeof *prompt);
        if (!prompt) goto done;
        if (tok && !strcmp(zen_tokenizer_type(tok), "gpt2")) prompt[0] = 50256;
    }
    if (tok && prompt_text) fputs(prompt_text, stdout);
    int64_t ctxlen = zen_lm_context_length(lm), vocab = zen_lm_vocab_size(lm);
    if (np > ctxlen) {
        fprintf(stderr, "zen generate: the prompt has %d tokens, more than the context length %lld\n", np,
                (long long)ctxlen);
        rc = 2;
        goto done;
    }
    /* The tokens of the current window (for sliding) and the logits of the last one. */
    window = malloc(sizeof *window * (size_t)ctxlen);
    logits = malloc(sizeof *logits * (size_t)vocab);
    if (!window || !logits) goto done;
    memcpy(window, prompt, sizeof *prompt * (size_t)np);
    int64_t nwin = np;
    double t0 = zen_time_seconds();
    if (zen_lm_feed(lm, np, prompt, logits, false) != 0) goto done;
    double t_prefill = zen_time_seconds() - t0, t_slides = 0;
    zen_sampling s = {.temperature = (float)temperature, .top_k = (int)top_k, .top_p = (float)top_p};
    zen_tokenizer *out_tok = as_ids ? NULL : tok;
    int64_t tok_vocab = tok && zen_tokenizer_vocab_size(tok) < vocab ? zen_tokenizer_vocab_size(tok) : vocab;
    zen_rng rng;
    zen_rng_seed(&rng, (uint64_t)seed);
    int slides = 0;
    long made = 0;
    t0 = zen_time_seconds();
    for (; made < max_tokens; made++) {
        /* Ids past the tokenizer's vocabulary (a model built with room to spare) are never drawn. */
        for (int64_t i = tok_vocab; i < vocab; i++) logits[i] = -INFINITY;
        int next = zen_sample_logits(ctx, logits, (int)vocab, &s, &rng);
        if (next < 0) goto done;
        if (out_tok) {
            int32_t t32 = next;
            size_t len;
            char *piece = zen_tokenizer_decode(ctx, out_tok, &t32, 1, &len);
            if (!piece) goto done;
            fwrite(piece, 1, len, stdout);
            free(piece);
        } else {
            printf("%s%d", made ? " " : "", next);
        }
        fflush(stdout);
        if (made + 1 == max_tokens) {
            made++;
            break;
        }
        int32_t t32 = next;
        if (nwin == ctxlen) {
            /* Slide: keep the last half of the context and feed it again. */
            double ts = zen_time_seconds();
            int64_t keep = ctxlen / 2;
            memmove(window, window + nwin - keep, sizeof *window * (size_t)keep);
            nwin = keep;
            zen_lm_reset(lm);
            if (zen_lm_feed(lm, (int)nwin, window, logits, false) != 0) goto done;
            slides++;
            t_slides += zen_time_seconds() - ts;
        }
        window[nwin++] = t32;
        if (zen_lm_feed(lm, 1, &t32, logits, false) != 0) goto done;
    }
    double t_gen = zen_time_seconds() - t0;
    printf("\n");
    fflush(stdout); /* the text before the timing on stderr */
    fprintf(stderr, "zen generate: prompt %d tokens in %.3f s; %ld tokens in %.3f s (%.1f tokens/s)%s\n", np, t_prefill,
            made, t_gen, made / (t_gen > 0 ? t_gen : 1e-9), slides ? ", with context slides" : "");
    if (slides) fprintf(stderr, "zen generate: the context slid %d times (%.3f s of recomputation)\n", slides, t_slides);
    rc = 0;
done:
    if (rc == 1 && zen_ctx_error(ctx)) fprintf(stderr, "zen generate: %s\n", zen_ctx_error(ctx));
    free(window);
    free(logits);
    free(prompt);
    zen_tokenizer_free(tok);
    zen_lm_free(lm);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return rc;
}

int cmd_import_gpt2(int argc, char **argv) {
    const char *path = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: zen import-gpt2 DIR_OR_MODEL_SAFETENSORS -o model.zen\n"
                   "  a Hugging Face GPT-2 checkpoint (config.json + model.safetensors) as a zen model file\n");
            return 0;
        }
        if (!strcmp(a, "-o") && i + 1 < argc) out = argv[++i];
        else if (a[0] == '-' || path) return fprintf(stderr, "zen import-gpt2: unknown or incomplete argument '%s'\n", a), 2;
        else path = a;
    }
    if (!path || !out) return fprintf(stderr, "zen import-gpt2: needs a checkpoint and -o model.zen\n"), 2;
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_gpt2_import(ctx, path);
    /* GPT-2's own vocabulary: the byte-level BPE tokenizer (zen_tokenizer_from_json). */
    if (m) {
        int64_t shape[ZEN_MAX_DIMS];
        int nd = zen_model_output_shape(m, 0, shape);
        if (nd > 0 && shape[nd - 1] == 50257) zen_model_set_tokenizer_json(m, "{\"type\": \"gpt2\", \"vocab_size\": 50257}");
    }
    int rc = m && zen_model_save(m, out) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "zen import-gpt2: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    else fprintf(stderr, "zen import-gpt2: %s -> %s (%lld parameters)\n", path, out, (long long)zen_model_n_params(m, true));
    zen_model_free(m);
    zen_ctx_free(ctx);
    return rc;
}

/* cli.h — what the zen subcommands share: argument parsing with clear errors. */
#ifndef ZEN_CLI_H
#define ZEN_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "zen.h"

/* Parses the value of a flag; on a bad value prints "zen CMD: --flag: ..." and returns false. */
bool cli_int(const char *cmd, const char *flag, const char *value, long lo, long hi, long *out);
bool cli_float(const char *cmd, const char *flag, const char *value, double lo, double hi, double *out);
/* Reads a whole (small) text file; NULL and a message naming it on failure. */
char *cli_read_file(const char *cmd, const char *path);

int cmd_train(int argc, char **argv);                /* train.c */
int zen_cmd_plot(int argc, char **argv);             /* plot.c: argv after "plot" */
int cmd_serve(int argc, char **argv);                /* serve.c (serve.h: its parts) */
int zen_cmd_tokenize(int argc, char **argv);         /* tokenize.c: argv after "tokenize" */
int cmd_generate(int argc, char **argv);             /* generate.c */
int cmd_import_gpt2(int argc, char **argv);          /* generate.c */
/* train_lm.c: is --data a text for a language model; its windows for model m (0; -1: error in ctx;
 * -2: message printed). */
bool cli_is_lm_text(const char *data);
int cli_lm_text_data(zen_ctx *ctx, zen_model *m, const char *data, double val_fraction, zen_dataset **train,
                     zen_dataset **val);

/* train_text.c: `zen train --data spam-assassin` — e-mails as token ids for the built model m
 * (its Input [steps], its Embedding's input_dim as the vocabulary size), split 80/20 by seed.
 * Returns 0, or -1 with a message printed or in ctx. */
int cli_text_data(zen_ctx *ctx, const zen_model *m, const char *dir, const char *loss, uint64_t seed,
                  zen_dataset **train, zen_dataset **test, zen_tokenizer **vocab);
/* Keeps vocab in the model's spec ("tokenizer"), so the model file carries it. */
int cli_keep_vocab(zen_ctx *ctx, zen_model *m, const zen_tokenizer *vocab);
/* ---- model_io.c: what predict, eval and summary share ---- */
typedef struct cJSON cJSON;
/* zen_model_load with "zen CMD: cannot load the model: ..." on failure. */
zen_model *cli_load_model(const char *cmd, zen_ctx *ctx, const char *path);
/* The safetensors header of a model file (cJSON_Delete it) and the file's size. */
cJSON *cli_model_header(const char *cmd, const char *path, long long *file_size);
/* The parsed "compile" metadata ({"loss", "metrics", "optimizer"}), or NULL. */
cJSON *cli_model_compile(const cJSON *header);
/* What a path holds, by its first bytes (gzip is looked into); CLI_BAD after a message. */
typedef enum { CLI_BAD, CLI_DIR, CLI_IMAGE, CLI_IDX, CLI_NPY, CLI_CSV } cli_kind;
cli_kind cli_sniff(const char *cmd, const char *path);
const char *cli_kind_name(cli_kind k);
/* Data flags shared by predict and eval: CSV layout and the scaling of u8 data. */
typedef struct cli_data_opts {
    zen_csv_opts csv;
    bool csv_has_label; /* --label-col/--label-name given (predict: that column is dropped) */
    bool no_scale;      /* u8 IDX/NPY data stays 0..255 */
    bool int_input;     /* the model takes i32 inputs (token ids): loaded as i32, unscaled */
} cli_data_opts;
/* Parses --header, --label-col, --label-name, --delimiter, --no-scale at argv[*i]: 1 when
 * taken (and *i moved past its value), 0 when not one of them, -1 after a message. */
int cli_csv_flag(const char *cmd, int argc, char **argv, int *i, cli_data_opts *o);
/* Samples of an IDX, NPY or CSV file as f32 [N, ...] (u8 scaled to [0, 1] unless no_scale;
 * a CSV without a label option is all features). */
zen_array *cli_load_samples(const char *cmd, zen_ctx *ctx, const char *path, cli_kind kind, const cli_data_opts *o);
/* f32 samples that are all integers as a new i32 array (f is freed); NULL after a message. */
zen_array *cli_to_i32(const char *cmd, zen_ctx *ctx, const char *path, zen_array *f);
/* Reshapes x to [N, model input] when a sample has as many values (or x is one sample
 * without a sample axis); else prints both shapes and returns -1. */
int cli_fit_input(const char *cmd, zen_model *m, zen_array *x, const char *what);
/* "(60, 8, 8, 1)"; "(3,)" for one dim. */
const char *cli_shape(char *buf, size_t n, int ndim, const int64_t *dims);
/* mnist / fashion-mnist / spam-assassin -> their directory under zen_data_path; other names as given. */
const char *cli_dataset_dir(const char *cmd, const char *name, char *buf, size_t n);

/* Class k's name from the model file, else "k" written into buf. */
const char *cli_class_label(const zen_model *m, int64_t k, char *buf, size_t n);

int cmd_predict(int argc, char **argv); /* predict.c */
int cmd_eval(int argc, char **argv);    /* eval.c */
int cmd_summary(int argc, char **argv); /* summary.c */

#endif

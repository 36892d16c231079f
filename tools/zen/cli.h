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

/* train_text.c: `zen train --data spam-assassin` — e-mails as token ids for the built model m
 * (its Input [steps], its Embedding's input_dim as the vocabulary size), split 80/20 by seed.
 * Returns 0, or -1 with a message printed or in ctx. */
int cli_text_data(zen_ctx *ctx, const zen_model *m, const char *dir, const char *loss, uint64_t seed,
                  zen_dataset **train, zen_dataset **test, zen_tokenizer **vocab);
/* Writes vocab as JSON to MODEL_PATH.vocab.json. */
int cli_save_vocab(zen_ctx *ctx, const zen_tokenizer *vocab, const char *model_path);

#endif

/* zen — the command-line tool. One file per subcommand (train.c, plot.c), dispatched here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_help(FILE *f) {
    fprintf(f,
            "zen %s — a deep-learning system in C\n"
            "\n"
            "usage: zen <command> [options]\n"
            "\n"
            "commands:\n"
            "  train       train the model of a JSON spec on a data set (zen train --help)\n"
            "  plot        draw training curves from a CSV history: zen plot history.csv -o curves.svg\n"
            "  predict     classes of samples or images from a model file (zen predict --help)\n"
            "  eval        loss, metrics, confusion matrix of a model on labelled data (zen eval --help)\n"
            "  summary     the layers of a model file and what the file holds (zen summary --help)\n"
            "  serve       serve models over HTTP, with a page to draw digits on (zen serve --help)\n"
            "  tokenize    GPT-2 token ids of text files, or text from ids (zen tokenize --help)\n"
            "  generate    text from a language model with a key/value cache (zen generate --help)\n"
            "  import-gpt2 a Hugging Face GPT-2 checkpoint as a zen model file: zen import-gpt2 DIR -o m.zen\n"
            "  help        show this help\n"
            "  version     print the version (also --version)\n",
            zen_version());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("zen %s\n", zen_version());
        return 0;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
    if (!strcmp(cmd, "plot")) return zen_cmd_plot(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc, argv);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc, argv);
    if (!strcmp(cmd, "summary")) return cmd_summary(argc, argv);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc, argv);
    if (!strcmp(cmd, "tokenize")) return zen_cmd_tokenize(argc - 2, argv + 2);
    if (!strcmp(cmd, "generate")) return cmd_generate(argc, argv);
    if (!strcmp(cmd, "import-gpt2")) return cmd_import_gpt2(argc, argv);
    fprintf(stderr, "zen: unknown command '%s' (try 'zen help')\n", cmd);
    return 2;
}

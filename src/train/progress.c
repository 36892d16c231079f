/* progress.c — what fit prints: Keras's progress bar on a terminal,
 *   Epoch 1/5
 *   750/750 [==============================] - 5s 6ms/step - loss: 0.1868 - accuracy: 0.9447
 * redrawn in place at most 20 times a second, and one plain line per epoch otherwise:
 *   Epoch 1/5 - 5.1s - 6.8ms/step - loss: 0.1868 - accuracy: 0.9447 - val_loss: ... */
#include "train.h"

#include <stdlib.h>
#include <unistd.h>

struct zen_progress {
    int mode; /* 0 silent, 1 bar, 2 line per epoch */
    int epochs;
    int64_t steps;
    double start, last_draw;
    bool line_open; /* the cursor is after text of the current epoch */
};

zen_progress *zen__progress_new(int verbose, int epochs) {
    zen_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->mode = verbose < 0 ? (isatty(STDOUT_FILENO) ? 1 : 2) : verbose > 2 ? 2 : verbose;
    p->epochs = epochs;
    return p;
}

void zen__progress_free(zen_progress *p) { free(p); }

int zen__progress_mode(const zen_progress *p) { return p ? p->mode : 0; }

void zen__progress_interrupt(zen_progress *p) {
    if (!p || !p->line_open) return;
    printf("\n");
    fflush(stdout);
    p->line_open = false;
}

static void print_logs(const zen_metrics *logs) {
    for (int i = 0; i < logs->n; i++) {
        if (!strcmp(logs->names[i], "learning_rate")) continue;
        printf(" - %s: %.4f", logs->names[i], logs->values[i]);
    }
}

static void print_duration(double s) {
    if (s >= 3600) printf("%d:%02d:%02d", (int)(s / 3600), (int)(s / 60) % 60, (int)s % 60);
    else if (s >= 60) printf("%d:%02d", (int)(s / 60), (int)s % 60);
    else printf("%.0fs", s);
}

void zen__progress_epoch_begin(zen_progress *p, int epoch, int64_t steps) {
    if (!p || !p->mode) return;
    p->steps = steps;
    p->start = zen_time_seconds();
    p->last_draw = 0;
    if (p->mode == 1) printf("Epoch %d/%d\n", epoch + 1, p->epochs);
    else printf("Epoch %d/%d", epoch + 1, p->epochs);
    p->line_open = p->mode == 2;
    fflush(stdout);
}

static void draw_bar(zen_progress *p, int64_t step) {
    const int width = 30;
    int done = p->steps ? (int)(width * step / p->steps) : width;
    int digits = snprintf(NULL, 0, "%lld", (long long)p->steps);
    printf("\r%*lld/%lld [", digits, (long long)step, (long long)p->steps);
    for (int i = 0; i < width; i++) putchar(i < done ? '=' : (i == done && step < p->steps) ? '>' : '.');
    printf("]");
}

void zen__progress_batch(zen_progress *p, int64_t step, const zen_metrics *logs) {
    if (!p || p->mode != 1) return;
    double now = zen_time_seconds();
    if (step < p->steps && now - p->last_draw < 0.05) return;
    p->last_draw = now;
    if (step == p->steps) return; /* the final line comes with the epoch's validation logs */
    draw_bar(p, step);
    double elapsed = now - p->start;
    printf(" - ETA: ");
    print_duration(elapsed / (double)step * (double)(p->steps - step));
    print_logs(logs);
    printf("\033[K"); /* clear what a longer previous line left */
    p->line_open = true;
    fflush(stdout);
}

void zen__progress_epoch_end(zen_progress *p, const zen_metrics *logs, double seconds) {
    if (!p || !p->mode) return;
    double per_step_ms = p->steps ? 1000.0 * seconds / (double)p->steps : 0;
    if (p->mode == 1) {
        draw_bar(p, p->steps);
        printf(" - ");
        print_duration(seconds);
        if (per_step_ms < 1) printf(" %.0fus/step", 1000 * per_step_ms);
        else printf(" %.0fms/step", per_step_ms);
        print_logs(logs);
        printf("\033[K\n");
    } else {
        if (per_step_ms < 1) printf(" - %.1fs - %.0fus/step", seconds, 1000 * per_step_ms);
        else printf(" - %.1fs - %.1fms/step", seconds, per_step_ms);
        print_logs(logs);
        printf("\n");
    }
    p->line_open = false;
    fflush(stdout);
}

/* harness.c — test runner. */
#include "harness.h"

#include <string.h>

int harness_failures;

/* names is one string "a, b, c" (the stringified argument list); split it here. */
int harness_run(const char *const *names, const harness_fn *fns, int n) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", names[0]);
    char *save = NULL, *tok = strtok_r(buf, ", \t\n", &save);
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        const char *name = tok ? tok : "?";
        harness_failures = 0;
        fns[i]();
        if (harness_failures) {
            printf("FAIL %s (%d checks failed)\n", name, harness_failures);
            failed++;
        } else {
            printf("ok   %s\n", name);
            passed++;
        }
        fflush(stdout);
        tok = strtok_r(NULL, ", \t\n", &save);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

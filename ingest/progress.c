/* progress.c: the one-line progress display (see progress.h). */
#include "ingest/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void silt_progress_start(silt_progress *p, const char *label, int mode) {
    memset(p, 0, sizeof *p);
    p->enabled = mode < 0 ? isatty(STDERR_FILENO) : mode;
    p->t_start = p->t_last = now_s();
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
}

void silt_progress_update(silt_progress *p, int64_t n_bytes, int64_t n_rows) {
    if (!p->enabled) return;
    double t = now_s();
    if (t - p->t_start < 1.0 || t - p->t_last < 0.25) return;
    p->t_last = t;
    double mb = (double)n_bytes / 1e6;
    char line[256];
    int n = snprintf(line, sizeof line, "\rsilt_ingest %s: %.1f MB, %lld rows, %.1f MB/s\033[K",
                     p->label, mb, (long long)n_rows, mb / (t - p->t_start));
    if (n > 0) {
        /* A failed write to the terminal is not worth failing the load for. */
        ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
        p->shown = 1;
    }
}

void silt_progress_end(silt_progress *p) {
    if (p->shown) {
        ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
        (void)w;
    }
    p->shown = 0;
}

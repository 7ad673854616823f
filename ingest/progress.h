/* progress.h: a one-line progress display for long loads (bytes, rows, rate), drawn on
 * stderr only when stderr is a terminal, and only once a load has run for a second, so that
 * short loads, scripts and logs stay silent. The line is erased when the load ends. */
#ifndef SILT_INGEST_PROGRESS_H
#define SILT_INGEST_PROGRESS_H

#include <stdint.h>

typedef struct silt_progress {
    int enabled;       /* drawing allowed */
    int shown;         /* a line is on screen */
    double t_start;    /* monotonic seconds at start */
    double t_last;     /* last redraw */
    char label[96];    /* what is being loaded */
} silt_progress;

/* mode: -1 = when stderr is a terminal, 0 = never, 1 = always (still on stderr). */
void silt_progress_start(silt_progress *p, const char *label, int mode);
/* Redraws at most four times a second. */
void silt_progress_update(silt_progress *p, int64_t n_bytes, int64_t n_rows);
void silt_progress_end(silt_progress *p);

#endif

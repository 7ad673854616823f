/* bench_mamba.c: silt's embedding time against sequence length for the random-weight models
 * of bench/mamba/models.py (a mamba-130m-shaped Mamba and a BERT-base-shaped BERT), one
 * text per call, the same token ids as the PyTorch reference.
 *
 *   bench_mamba MODELS_DIR LEN [LEN...]
 *
 * Prints one JSON line per (model, length): best time of a few runs, and the process's peak
 * RSS after that length (lengths run in increasing order, so a flat peak means memory did
 * not grow with the text). Then the largest difference between silt's Mamba embedding of
 * the 128-token text and PyTorch's (MODELS_DIR/mamba_ref_128.json). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/bert.h"
#include "core/mamba.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_rss_mb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;
}

/* Same ids as models.py: mamba_ids / bert_ids. */
static int32_t *make_ids(int is_mamba, int L) {
    int32_t *ids = malloc((size_t)L * sizeof *ids);
    if (!ids) exit(1);
    if (is_mamba) {
        for (int i = 0; i < L - 1; i++) ids[i] = 3 + (int32_t)(((long)i * 7919) % (1000 - 3));
        ids[L - 1] = 0;
    } else {
        ids[0] = 101;
        for (int i = 0; i < L - 2; i++) ids[i + 1] = 1000 + (int32_t)(((long)i * 7919) % 20000);
        ids[L - 1] = 102;
    }
    return ids;
}

static double time_embed(const silt_encoder *e, const int32_t *ids, int L, float *out) {
    char *err = NULL;
    double best = 1e30;
    int runs = L <= 512 ? 5 : L <= 2048 ? 3 : 2;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (e->ops->embed_batch(e, &ids, &L, 1, out, &err)) {
            fprintf(stderr, "embed: %s\n", err);
            exit(1);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_mamba MODELS_DIR LEN [LEN...]\n");
        return 2;
    }
    char path[4096], *err = NULL;
    float ref_diff = -1;
    for (int is_mamba = 1; is_mamba >= 0; is_mamba--) {
        const char *name = is_mamba ? "mamba" : "bert";
        for (int a = 2; a < argc; a++) {
            int L = atoi(argv[a]);
            snprintf(path, sizeof path, "%s/%s", argv[1], is_mamba ? "mamba-130m" : "bert-base");
            /* BERT's workspace follows its window, so give it exactly the length. */
            char opts[64];
            snprintf(opts, sizeof opts, "{\"max_tokens\":%d}", L);
            silt_encoder *e = is_mamba ? silt_mamba_load_hf(path, NULL, &err)
                                       : silt_hf_load(path, opts, &err);
            if (!e) {
                fprintf(stderr, "load %s: %s\n", path, err);
                return 1;
            }
            int32_t *ids = make_ids(is_mamba, L);
            float *out = malloc((size_t)e->dim * sizeof *out);
            double sec = time_embed(e, ids, L, out);
            printf("{\"impl\": \"silt\", \"model\": \"%s\", \"tokens\": %d, \"sec\": %.6f, "
                   "\"peak_rss_mb\": %ld}\n",
                   name, L, sec, peak_rss_mb());
            fflush(stdout);
            if (is_mamba && L == 128) {
                snprintf(path, sizeof path, "%s/mamba_ref_128.json", argv[1]);
                FILE *f = fopen(path, "r");
                ref_diff = 0;
                for (int i = 0; f && i < e->dim; i++) {
                    double v;
                    if (fscanf(f, " %*[[,] %lf", &v) != 1) break;
                    ref_diff = fmaxf(ref_diff, fabsf(out[i] - (float)v));
                }
                if (f) fclose(f);
                else ref_diff = -1;
            }
            free(out);
            free(ids);
            e->ops->destroy(e);
        }
    }
    if (ref_diff >= 0)
        printf("{\"check\": \"max |silt - torch| of the 128-token Mamba embedding\", "
               "\"value\": %.3g}\n", (double)ref_diff);
    return 0;
}

/* bench_mamba.c: silt's embedding time against sequence length for the random-weight models
 * of bench/mamba/models.py (a mamba-130m-shaped Mamba and a BERT-base-shaped BERT), one
 * text per call, the same token ids as the PyTorch reference.
 *
 *   bench_mamba MODELS_DIR LEN [LEN...]
 *
 * Prints JSON lines: first the Mamba model alone at each length in increasing order with the
 * process's peak RSS after it (a flat peak: memory did not grow with the text); then, per
 * length, the best time of Mamba and BERT run alternately; then the largest difference
 * between silt's Mamba embedding of the 128-token text and PyTorch's
 * (MODELS_DIR/mamba_ref_128.json). */
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

/* Best of `runs` calls embedding one text of L ids. */
static double time_embed(const silt_encoder *e, const int32_t *ids, int L, float *out, int runs) {
    char *err = NULL;
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (e->ops->embed_batch(e, &ids, &L, 1, out, &err)) {
            fprintf(stderr, "embed: %s\n", err);
            exit(1);
        }
        best = fmin(best, now() - t0);
    }
    return best;
}

static silt_encoder *load(int is_mamba, const char *dir, int L) {
    char path[4096], opts[64], *err = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, is_mamba ? "mamba-130m" : "bert-base");
    /* BERT's workspace follows its window, so give it exactly the length. */
    snprintf(opts, sizeof opts, "{\"max_tokens\":%d}", L);
    silt_encoder *e = is_mamba ? silt_mamba_load_hf(path, NULL, &err) : silt_hf_load(path, opts, &err);
    if (!e) {
        fprintf(stderr, "load %s: %s\n", path, err);
        exit(1);
    }
    return e;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_mamba MODELS_DIR LEN [LEN...]\n");
        return 2;
    }
    const char *dir = argv[1];
    silt_encoder *mamba = load(1, dir, 0);
    float *out = malloc((size_t)mamba->dim * sizeof *out);
    /* Phase 1, Mamba alone, lengths in increasing order: peak RSS after each length. */
    double ref_diff = -1;
    for (int a = 2; a < argc; a++) {
        int L = atoi(argv[a]);
        int32_t *ids = make_ids(1, L);
        double sec = time_embed(mamba, ids, L, out, 1);
        printf("{\"phase\": \"memory\", \"model\": \"mamba\", \"tokens\": %d, \"sec\": %.6f, "
               "\"peak_rss_mb\": %ld}\n", L, sec, peak_rss_mb());
        fflush(stdout);
        if (L == 128) {
            char path[4096];
            snprintf(path, sizeof path, "%s/mamba_ref_128.json", dir);
            FILE *f = fopen(path, "r");
            for (int i = 0; f && i < mamba->dim; i++) {
                double v;
                if (fscanf(f, " %*[[,] %lf", &v) != 1) break;
                ref_diff = fmax(ref_diff < 0 ? 0 : ref_diff, fabs(out[i] - v));
            }
            if (f) fclose(f);
        }
        free(ids);
    }
    /* Phase 2: Mamba and BERT alternately at each length (so that load on a shared machine
     * hits both alike), best time of each. */
    for (int a = 2; a < argc; a++) {
        int L = atoi(argv[a]);
        silt_encoder *bert = load(0, dir, L);
        float *bout = malloc((size_t)bert->dim * sizeof *bout);
        int32_t *im = make_ids(1, L), *ib = make_ids(0, L);
        int runs = L <= 512 ? 5 : L <= 2048 ? 3 : 2;
        double bm = 1e30, bb = 1e30;
        for (int r = 0; r < runs; r++) {
            bm = fmin(bm, time_embed(mamba, im, L, out, 1));
            bb = fmin(bb, time_embed(bert, ib, L, bout, 1));
        }
        printf("{\"impl\": \"silt\", \"model\": \"mamba\", \"tokens\": %d, \"sec\": %.6f}\n", L, bm);
        printf("{\"impl\": \"silt\", \"model\": \"bert\", \"tokens\": %d, \"sec\": %.6f}\n", L, bb);
        fflush(stdout);
        free(im);
        free(ib);
        free(bout);
        bert->ops->destroy(bert);
    }
    if (ref_diff >= 0)
        printf("{\"check\": \"max |silt - torch| of the 128-token Mamba embedding\", "
               "\"value\": %.3g}\n", ref_diff);
    free(out);
    mamba->ops->destroy(mamba);
    return 0;
}

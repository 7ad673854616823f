/* silt_worker.c: silt's side of bench/encode: the MiniLM-shaped BERT of model.py loaded
 * through silt's C encoder API (silt_hf_load, enc->ops->embed_batch) and run on the same
 * token ids as the peers.
 *
 *   silt_worker MODEL_DIR OPTIONS_JSON       e.g. silt_worker build/bench/encode-minilm '{"int8":true}'
 *
 * Speaks driver.py's line protocol on stdin/stdout: "time N" embeds the 32 x 128-token batch
 * N times and answers {"sec":[...]}; "emb PATH" writes the batch's embeddings (float32
 * [32, 384]) to PATH; "quit". The thread count is the process's: OPENBLAS_NUM_THREADS for the
 * products, and the CPUs the process may run on (driver.py pins one-thread runs with taskset)
 * for silt's pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bert.h"

#define BATCH 32
#define TOKENS 128

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: silt_worker MODEL_DIR OPTIONS_JSON\n");
        return 2;
    }
    char *err = NULL;
    silt_encoder *enc = silt_hf_load(argv[1], argv[2][0] ? argv[2] : NULL, &err);
    if (!enc) {
        fprintf(stderr, "silt_worker: %s\n", err);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/ids.bin", argv[1]);
    static int32_t ids[BATCH][TOKENS];
    FILE *f = fopen(path, "rb");
    if (!f || fread(ids, sizeof ids, 1, f) != 1) {
        fprintf(stderr, "silt_worker: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    const int32_t *rows[BATCH];
    int n_ids[BATCH];
    for (int i = 0; i < BATCH; i++) rows[i] = ids[i], n_ids[i] = TOKENS;
    float *out = malloc((size_t)BATCH * enc->dim * sizeof *out);
    if (!out) return 1;
    printf("{\"ready\":\"silt\"}\n");
    fflush(stdout);
    char line[4200];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16] = "", arg[4100] = "";
        if (sscanf(line, "%15s %4099s", cmd, arg) < 1 || strcmp(cmd, "quit") == 0) break;
        if (strcmp(cmd, "time") == 0) {
            int n = atoi(arg);
            printf("{\"sec\":[");
            for (int r = 0; r < n; r++) {
                double t0 = now();
                if (enc->ops->embed_batch(enc, rows, n_ids, BATCH, out, &err)) {
                    fprintf(stderr, "silt_worker: %s\n", err);
                    return 1;
                }
                printf("%s%.6f", r ? "," : "", now() - t0);
            }
            printf("]}\n");
        } else if (strcmp(cmd, "emb") == 0) {
            if (enc->ops->embed_batch(enc, rows, n_ids, BATCH, out, &err)) {
                fprintf(stderr, "silt_worker: %s\n", err);
                return 1;
            }
            FILE *o = fopen(arg, "wb");
            if (!o || fwrite(out, sizeof *out, (size_t)BATCH * enc->dim, o) != (size_t)BATCH * enc->dim) {
                fprintf(stderr, "silt_worker: cannot write %s\n", arg);
                return 1;
            }
            fclose(o);
            printf("{\"ok\":1}\n");
        }
        fflush(stdout);
    }
    free(out);
    silt_encoder_free(enc);
    return 0;
}

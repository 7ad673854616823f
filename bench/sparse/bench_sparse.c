/* bench_sparse.c: the learned-sparse index (index/sparse_index.h) on a synthetic SPLADE-like
 * collection: build time and size, query latency (p50/p99) and recall@10 against the exact
 * search at several speed settings.
 *
 *   bench_sparse [n_docs] [n_queries] [block_docs] [prune] [heap_factors] [query_cut]
 *                [block_max values]   (defaults 1,000,000 and 1,000; run.sh gives the rest)
 *
 * Collection (fixed seed): vocabulary 30,522 (bert-base-uncased's size). Term ranks follow a
 * Zipf law (exponent 1) and are scrambled into ids. A document has ~120 distinct terms
 * (uniform 60..180), a query ~40 (20..60). As in SPLADE, where the FLOPS regulariser drives
 * frequent terms towards zero, a term's weight grows with its rarity:
 *   w = (0.2 + 2.8 * ln(1 + rank) / ln(vocab)) * (0.1 + 0.9 u),  u uniform in [0, 1).
 * Without that (weights independent of frequency) nothing separates a relevant document from
 * one that merely shares many frequent terms, which is not what SPLADE vectors look like. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/sparse/synth.h"
#include "index/sparse_index.h"

/* Anonymous memory of this process and the part of it in transparent huge pages, in MB (from
 * /proc/self/smaps_rollup; -1 where that file is missing): shows whether the index's
 * huge-page advice took. */
static void anon_mb(double *anon, double *huge) {
    *anon = *huge = -1;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return;
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) *anon = kb / 1024.0;
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) *huge = kb / 1024.0;
    }
    fclose(f);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *name;
    silt_spidx_search_opts o;
} setting;

int main(int argc, char **argv) {
    uint32_t n_docs = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
    uint32_t n_q = argc > 2 ? (uint32_t)atol(argv[2]) : 1000;
    uint32_t block_docs = argc > 3 ? (uint32_t)atol(argv[3]) : SILT_SPIDX_BLOCK_DOCS;
    float prune = argc > 4 ? (float)atof(argv[4]) : 1.0f;
    uint64_t s;
    synth_init(&s);
    uint8_t *mark = calloc(VOCAB, 1);
    uint32_t ids[256];
    float w[256];

    char *err = NULL;
    silt_spidx_config cfg;
    silt_spidx_config_default(&cfg);
    cfg.memtable_docs = n_docs + 1; /* bulk: one segment built at the end */
    cfg.block_docs = block_docs;
    cfg.prune = prune;
    silt_spidx *ix = silt_spidx_new(&cfg, &err);
    if (!ix) return fprintf(stderr, "%s\n", err), 1;
    double t0 = now_s();
    uint64_t nnz = 0;
    for (uint32_t d = 0; d < n_docs; d++) {
        uint32_t n = 60 + (uint32_t)(rng_next(&s) % 121);
        make_vec(&s, n, mark, ids, w);
        silt_sparse_vec v = {n, ids, w};
        nnz += n;
        if (silt_spidx_add(ix, d + 1, &v, &err)) return fprintf(stderr, "%s\n", err), 1;
    }
    double t_gen = now_s() - t0;
    t0 = now_s();
    if (silt_spidx_optimize(ix, &err)) return fprintf(stderr, "%s\n", err), 1;
    double t_build = now_s() - t0;
    silt_spidx_stats st;
    silt_spidx_get_stats(ix, &st);
    void *snap;
    size_t snap_bytes;
    t0 = now_s();
    if (silt_spidx_serialize(ix, &snap, &snap_bytes, &err)) return fprintf(stderr, "%s\n", err), 1;
    double t_ser = now_s() - t0;
    t0 = now_s();
    silt_spidx *back = silt_spidx_deserialize(snap, snap_bytes, &err);
    double t_de = now_s() - t0;
    if (!back) return fprintf(stderr, "%s\n", err), 1;
    silt_spidx_free(back);
    free(snap);
    printf("collection: %u docs, %.1f non-zeros/doc on average, vocabulary %d (generated in %.1f s)\n",
           n_docs, (double)nnz / n_docs, VOCAB, t_gen);
    printf("index build (one segment from %u docs): %.2f s; in memory %.1f MB (%.2f bytes/posting);"
           " snapshot %.1f MB, written in %.2f s, read+checked in %.2f s\n",
           n_docs, t_build, st.bytes / 1e6, (double)st.bytes / nnz, snap_bytes / 1e6, t_ser, t_de);
    printf("parameters: block_docs %u, prune %.2f\n", block_docs, (double)prune);

    /* Queries. */
    silt_sparse_vec *qs = calloc(n_q, sizeof *qs);
    for (uint32_t i = 0; i < n_q; i++) {
        uint32_t n = 20 + (uint32_t)(rng_next(&s) % 41);
        qs[i].ids = malloc(n * 4), qs[i].weights = malloc(n * 4), qs[i].n = n;
        make_vec(&s, n, mark, qs[i].ids, qs[i].weights);
    }
    const uint32_t k = 10;
    /* Speed settings: heap_factor values from argv[5] (comma-separated), each also with the
     * query cut to 20 terms when argv[6] is set. */
    setting sets[32] = {{"exact", {1, 1.0, 0, 0}}};
    size_t n_set = 1;
    static char names[32][48];
    const char *hfs = argc > 5 ? argv[5] : "1.0,0.7,0.5,0.4,0.3";
    uint32_t qcut = argc > 6 ? (uint32_t)atol(argv[6]) : 0;
    for (const char *p = hfs; *p && n_set < 31;) {
        double hf = atof(p);
        snprintf(names[n_set], sizeof names[n_set], "fast heap_factor=%.2f", hf);
        sets[n_set].name = names[n_set];
        sets[n_set].o = (silt_spidx_search_opts){0, hf, 0, 0};
        n_set++;
        if (qcut && n_set < 31) {
            snprintf(names[n_set], sizeof names[n_set], "fast heap_factor=%.2f query_terms=%u", hf, qcut);
            sets[n_set].name = names[n_set];
            sets[n_set].o = (silt_spidx_search_opts){0, hf, qcut, 0};
            n_set++;
        }
        const char *c = strchr(p, ',');
        if (!c) break;
        p = c + 1;
    }
    /* Block-Max Pruning settings: block_max values from argv[7] (comma-separated). */
    for (const char *p = argc > 7 ? argv[7] : ""; *p && n_set < 31;) {
        double bm = atof(p);
        snprintf(names[n_set], sizeof names[n_set], "fast block_max=%g", bm);
        sets[n_set].name = names[n_set];
        sets[n_set].o = (silt_spidx_search_opts){0, 1.0, 0, bm};
        n_set++;
        const char *c = strchr(p, ',');
        if (!c) break;
        p = c + 1;
    }
    /* Truth first, untimed: the exact top k of every query. Then, timed, every setting runs
     * once per step (so that noise from a shared machine hits all alike), each on a different
     * query, (i + si x stride) mod n_q: a query comes back only about n_q searches later, so
     * no setting finds its query's lists left in cache by the setting before it. */
    int64_t *truth = calloc((size_t)n_q * k, sizeof *truth);
    uint32_t *n_truth = calloc(n_q, sizeof *n_truth);
    double *lat = malloc(n_set * n_q * sizeof *lat), *rec = calloc(n_set, sizeof *rec);
    for (uint32_t i = 0; i < n_q; i++) {
        silt_spidx_hit *h;
        uint32_t nh;
        if (silt_spidx_search(ix, &qs[i], k, &sets[0].o, NULL, &h, &nh, &err))
            return fprintf(stderr, "%s\n", err), 1;
        n_truth[i] = nh;
        for (uint32_t j = 0; j < nh; j++) truth[(size_t)i * k + j] = h[j].rowid;
        free(h);
    }
    /* A segment's block-max tables are derived at its first block_max search: once here,
     * timed on its own, not inside the latencies. */
    for (size_t si = 1; si < n_set; si++) {
        if (sets[si].o.block_max <= 0) continue;
        silt_spidx_hit *h;
        uint32_t nh;
        double a = now_s();
        if (silt_spidx_search(ix, &qs[0], k, &sets[si].o, NULL, &h, &nh, &err))
            return fprintf(stderr, "%s\n", err), 1;
        free(h);
        silt_spidx_get_stats(ix, &st);
        printf("first block_max search (derives the block-max tables): %.2f s; index in memory now %.1f MB\n",
               now_s() - a, st.bytes / 1e6);
        break;
    }
    double anon, huge;
    anon_mb(&anon, &huge);
    printf("process anonymous memory %.0f MB, of it in transparent huge pages %.0f MB\n", anon, huge);
    uint32_t stride = n_q / (uint32_t)n_set ? n_q / (uint32_t)n_set : 1;
    for (uint32_t i = 0; i < n_q; i++) {
        for (size_t si = 0; si < n_set; si++) {
            uint32_t qi = (uint32_t)((i + si * stride) % n_q);
            silt_spidx_hit *h;
            uint32_t nh;
            double a = now_s();
            if (silt_spidx_search(ix, &qs[qi], k, &sets[si].o, NULL, &h, &nh, &err))
                return fprintf(stderr, "%s\n", err), 1;
            lat[si * n_q + i] = (now_s() - a) * 1e3;
            uint32_t got = 0;
            for (uint32_t j = 0; j < nh; j++)
                for (uint32_t t = 0; t < n_truth[qi]; t++) got += h[j].rowid == truth[(size_t)qi * k + t];
            rec[si] += n_truth[qi] ? (double)got / n_truth[qi] : 1;
            free(h);
        }
    }
    printf("\n%u queries, k = %u\n\n| setting | p50 ms | p99 ms | mean ms | recall@10 | speed-up (p50) |\n"
           "|---|---|---|---|---|---|\n", n_q, k);
    double exact_p50 = 0;
    for (size_t si = 0; si < n_set; si++) {
        double *l = lat + si * n_q, mean = 0;
        for (uint32_t i = 0; i < n_q; i++) mean += l[i];
        mean /= n_q;
        qsort(l, n_q, sizeof *l, cmp_d);
        double p50 = l[n_q / 2], p99 = l[(size_t)(n_q * 0.99)];
        if (si == 0) exact_p50 = p50;
        printf("| %s | %.3f | %.3f | %.3f | %.4f | %.1fx |\n", sets[si].name, p50, p99, mean,
               rec[si] / n_q, exact_p50 / p50);
    }
    silt_spidx_free(ix);
    return 0;
}

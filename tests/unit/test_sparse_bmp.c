/* test_sparse_bmp.c: the block bounds of Block-Max Pruning (index/sparse_bmp.c), which the
 * search computes in 16-bit integer units of a per-query scale: every block's bound must be at
 * least the exact score of each of its documents, for ordinary queries and for the edge cases
 * of the quantisation (a tiny or a huge query weight beside ordinary ones, one term, negative
 * weights, thousands of terms); and block_max 1 on such queries must equal the exact search. */
#include <math.h>

#include "index/sparse_segment.h"
#include "testutil.h"

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

/* Documents for silt_spseg_build: doc i has n[i] terms at ids + off[i]. */
typedef struct {
    uint32_t n_docs;
    uint32_t *n, *ids;
    uint64_t *off;
    float *w;
} docs;

static int get_doc(void *ctx, uint32_t i, sp_doc *d, char **err) {
    (void)err;
    const docs *c = ctx;
    d->rowid = (int64_t)i * 3 - 100, d->n = c->n[i], d->ids = c->ids + c->off[i], d->w = c->w + c->off[i];
    return 0;
}

/* n_docs documents of about nnz distinct terms from vocab (every term when nnz >= vocab),
 * weights in (0.01, 3), a fifth of them negative when neg. */
static void docs_make(docs *c, uint32_t n_docs, uint32_t vocab, uint32_t nnz, int neg, uint64_t seed) {
    uint64_t s = seed;
    c->n_docs = n_docs;
    c->n = malloc(n_docs * sizeof *c->n);
    c->off = malloc((n_docs + 1) * sizeof *c->off);
    c->ids = malloc((size_t)n_docs * vocab * sizeof *c->ids);
    c->w = malloc((size_t)n_docs * vocab * sizeof *c->w);
    cr_assert(c->n && c->off && c->ids && c->w);
    uint64_t at = 0;
    for (uint32_t i = 0; i < n_docs; i++) {
        c->off[i] = at;
        uint32_t k = 0;
        for (uint32_t t = 0; t < vocab; t++) {
            /* term t with probability ~ 1 / (t + 1), as a Zipf law gives ranks */
            if (nnz < vocab && rng_unit(&s) * (t + 1) * log((double)vocab) > nnz) continue;
            float w = (float)(0.01 + 2.99 * rng_unit(&s) * rng_unit(&s));
            c->ids[at + k] = t, c->w[at + k] = neg && rng_unit(&s) < 0.2 ? -w : w;
            k++;
        }
        if (k == 0) c->ids[at] = i % vocab, c->w[at] = 1, k = 1;
        c->n[i] = k, at += k;
    }
    c->off[n_docs] = at;
}

static void docs_free(docs *c) { free(c->n), free(c->off), free(c->ids), free(c->w); }

/* Every live document's exact score is at most its block's bound. Returns how many blocks
 * hold a document sharing a query term (so that a test knows it checked something). */
static uint32_t assert_bounds(const sp_seg *s, const sp_query *q) {
    uint32_t nb = (s->n_docs + SP_BMP_BLOCK_DOCS - 1) / SP_BMP_BLOCK_DOCS, n_hit = 0, last = UINT32_MAX;
    double *ub = malloc((nb + 1) * sizeof *ub);
    char *err = NULL;
    cr_assert_eq(silt_spbmp_bounds(s, q, ub, &err), 0, "%s", err ? err : "");
    uint32_t n_found;
    float *qloc = silt_spseg_map_query(s, q, &n_found);
    cr_assert(qloc);
    for (uint32_t d = 0; d < s->n_docs; d++) {
        uint32_t j = d / SP_BMP_BLOCK_DOCS;
        cr_assert(ub[j] >= 0, "block %u bound %g", j, ub[j]);
        if (silt_spseg_is_dead(s, d)) continue;
        int sh;
        double sc = silt_spseg_score(s, d, qloc, &sh);
        if (!sh) continue;
        n_hit += j != last, last = j;
        cr_assert(sc <= ub[j], "document %u scores %.9g above its block's bound %.9g", d, sc, ub[j]);
    }
    free(qloc), free(ub);
    return n_hit;
}

/* A query over terms [0, n) of step `step`, weights from the seed. */
static sp_query make_query(uint32_t n, uint32_t step, uint32_t *ids, float *w, uint64_t seed) {
    uint64_t s = seed;
    for (uint32_t i = 0; i < n; i++) ids[i] = i * step, w[i] = (float)(0.05 + 2 * rng_unit(&s));
    return (sp_query){n, ids, w};
}

static sp_seg *build(docs *c, uint32_t n_docs, uint32_t vocab, uint32_t nnz, int neg, uint64_t seed) {
    docs_make(c, n_docs, vocab, nnz, neg, seed);
    char *err = NULL;
    sp_seg *s = silt_spseg_build(get_doc, c, n_docs, 16, 1, &err);
    cr_assert(s, "%s", err ? err : "");
    return s;
}

/* The top 5 of block_max 1 are the exact search's top 5, scores included. */
static void assert_block_max_1_is_exact(sp_seg *s, const sp_query *q) {
    char *err = NULL;
    double hs[5], he[5];
    int64_t rs[5], re[5];
    sp_heap a = {hs, rs, 0, 5}, b = {he, re, 0, 5};
    sp_search_opts ex = {1, 1, 0, 0};
    cr_assert_eq(silt_spseg_search(s, q, NULL, &ex, &a, &err), 0, "%s", err ? err : "");
    cr_assert_eq(silt_spbmp_search(s, q, NULL, 1.0, &b, &err), 0, "%s", err ? err : "");
    cr_assert_eq(a.n, 5);
    cr_assert_eq(b.n, 5);
    for (int i = 0; i < 5; i++) {
        int found = 0;
        for (int k = 0; k < 5; k++) found += rs[i] == re[k] && hs[i] == he[k];
        cr_assert_eq(found, 1, "exact hit %lld missing from block_max 1", (long long)rs[i]);
    }
}

Test(sparse_bmp, integer_bounds_are_upper_bounds) {
    docs c;
    sp_seg *s = build(&c, 3001, 400, 40, 0, 5); /* a last block of one document */
    uint32_t ids[400];
    float w[400];
    for (uint64_t seed = 1; seed <= 6; seed++) {
        sp_query q = make_query(10 + 10 * (uint32_t)seed, 7 - (uint32_t)seed % 3, ids, w, seed);
        cr_assert_gt(assert_bounds(s, &q), 100);
    }
    /* one term; one tiny weight beside ordinary ones (its integer weight rounds up to 1);
     * one huge weight beside ordinary ones (the others' shrink to a unit or two) */
    sp_query one = make_query(1, 1, ids, w, 9);
    cr_assert_gt(assert_bounds(s, &one), 10);
    sp_query tiny = make_query(30, 3, ids, w, 10);
    w[4] = 1e-30f, w[17] = 1e-7f;
    cr_assert_gt(assert_bounds(s, &tiny), 100);
    sp_query huge = make_query(30, 3, ids, w, 11);
    w[2] = 1e30f;
    cr_assert_gt(assert_bounds(s, &huge), 100);
    w[2] = 1e-3f, w[3] = 1e6f;
    cr_assert_gt(assert_bounds(s, &huge), 100);
    /* negative query weights on a segment without negative weights: they add nothing */
    sp_query negq = make_query(30, 3, ids, w, 12);
    for (int i = 0; i < 30; i += 2) w[i] = -w[i];
    cr_assert_gt(assert_bounds(s, &negq), 100);
    /* deleted documents keep their blocks' bounds valid for the live ones */
    for (uint32_t d = 0; d < s->n_docs; d += 3) silt_spseg_kill(s, d);
    sp_query after = make_query(40, 2, ids, w, 13);
    cr_assert_gt(assert_bounds(s, &after), 100);
    silt_spseg_free(s);
    docs_free(&c);
}

Test(sparse_bmp, integer_bounds_hold_with_negative_weights) {
    docs c;
    sp_seg *s = build(&c, 2000, 300, 30, 1, 6);
    uint32_t ids[300];
    float w[300];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        sp_query q = make_query(15 * (uint32_t)seed, 2, ids, w, seed);
        for (uint32_t i = 0; i < q.n; i += (uint32_t)seed) w[i] = -w[i];
        cr_assert_gt(assert_bounds(s, &q), 50);
    }
    silt_spseg_free(s);
    docs_free(&c);
}

/* Thousands of query terms, every one in every document: each term's share is a few units,
 * where rounding weighs most, and the sum stays below saturation (bound_units' argument):
 * bounds finite and above every score; block_max 1 equals the exact search. */
Test(sparse_bmp, many_terms_stay_finite_and_exact) {
    docs c;
    sp_seg *s = build(&c, 64, 3000, 3000, 0, 7);
    uint32_t *ids = malloc(3000 * sizeof *ids);
    float *w = malloc(3000 * sizeof *w);
    sp_query q = make_query(3000, 1, ids, w, 3);
    cr_assert_eq(assert_bounds(s, &q), 16);
    double ub[16];
    char *err = NULL;
    cr_assert_eq(silt_spbmp_bounds(s, &q, ub, &err), 0);
    for (int j = 0; j < 16; j++) cr_assert(isfinite(ub[j]));
    assert_block_max_1_is_exact(s, &q);
    free(ids), free(w);
    silt_spseg_free(s);
    docs_free(&c);
}

/* Every document holds every term at the term's largest weight, so every block's step count is
 * 255 for every term: the most a bound can sum. With 3,000 terms (below 16,000, where the
 * query's scale leaves room for each term's + 1 and ceiling) the bounds must stay finite; with
 * 20,000 (above) they may saturate, which counts as infinite. Either way they bound every
 * score and block_max 1 equals the exact search. */
static void check_all_at_max(uint32_t n_terms, int must_be_finite) {
    docs c;
    docs_make(&c, 64, n_terms, n_terms, 0, 8);
    for (uint64_t i = 0; i < c.off[64]; i++) c.w[i] = 1.0f;
    char *err = NULL;
    sp_seg *s = silt_spseg_build(get_doc, &c, 64, 16, 1, &err);
    cr_assert(s, "%s", err ? err : "");
    uint32_t *ids = malloc(n_terms * sizeof *ids);
    float *w = malloc(n_terms * sizeof *w);
    cr_assert(ids && w);
    sp_query q = make_query(n_terms, 1, ids, w, 4);
    cr_assert_eq(assert_bounds(s, &q), 16);
    double ub[16];
    cr_assert_eq(silt_spbmp_bounds(s, &q, ub, &err), 0);
    for (int j = 0; j < 16; j++)
        if (must_be_finite) cr_assert(isfinite(ub[j]), "block %d saturated with %u terms", j, n_terms);
    assert_block_max_1_is_exact(s, &q);
    free(ids), free(w);
    silt_spseg_free(s);
    docs_free(&c);
}

Test(sparse_bmp, every_term_at_its_maximum_stays_below_saturation) { check_all_at_max(3000, 1); }

Test(sparse_bmp, beyond_sixteen_thousand_terms_saturation_stays_an_upper_bound) { check_all_at_max(20000, 0); }

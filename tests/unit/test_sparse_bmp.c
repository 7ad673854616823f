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

/* Every live document's exact score is at most its own bound, which is at most its block's.
 * Returns how many blocks hold a document sharing a query term (so that a test knows it
 * checked something). */
static uint32_t assert_bounds(const sp_seg *s, const sp_query *q) {
    uint32_t nb = (s->n_docs + SP_BMP_BLOCK_DOCS - 1) / SP_BMP_BLOCK_DOCS, n_hit = 0, last = UINT32_MAX;
    double *ub = malloc((nb + 1) * sizeof *ub), *ud = malloc((s->n_docs + 1) * sizeof *ud);
    char *err = NULL;
    cr_assert(ub && ud);
    cr_assert_eq(silt_spbmp_bounds(s, q, ub, ud, &err), 0, "%s", err ? err : "");
    uint32_t n_found;
    float *qloc = silt_spseg_map_query(s, q, &n_found);
    cr_assert(qloc);
    for (uint32_t d = 0; d < s->n_docs; d++) {
        uint32_t j = d / SP_BMP_BLOCK_DOCS;
        cr_assert(ub[j] >= 0, "block %u bound %g", j, ub[j]);
        cr_assert(ud[d] >= 0 && ud[d] <= ub[j], "document %u bound %g, its block's %g", d, ud[d], ub[j]);
        if (silt_spseg_is_dead(s, d)) continue;
        int sh;
        double sc = silt_spseg_score(s, d, qloc, &sh);
        if (!sh) continue;
        n_hit += j != last, last = j;
        cr_assert(sc <= ud[d], "document %u scores %.9g above its own bound %.9g", d, sc, ud[d]);
    }
    free(qloc), free(ub), free(ud);
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
    cr_assert_eq(silt_spbmp_bounds(s, &q, ub, NULL, &err), 0);
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
    cr_assert_eq(silt_spbmp_bounds(s, &q, ub, NULL, &err), 0);
    for (int j = 0; j < 16; j++)
        if (must_be_finite) cr_assert(isfinite(ub[j]), "block %d saturated with %u terms", j, n_terms);
    assert_block_max_1_is_exact(s, &q);
    free(ids), free(w);
    silt_spseg_free(s);
    docs_free(&c);
}

Test(sparse_bmp, every_term_at_its_maximum_stays_below_saturation) { check_all_at_max(3000, 1); }

/* Rare terms only (postings, not rows: each term in one document of 1,024 blocks), each at
 * its largest weight, so that a document's own bound has no slack but its units' rounding:
 * every document's bound must still reach its score, and block_max 1 equal the exact search. */
Test(sparse_bmp, rare_terms_at_their_maximum_bound_every_document) {
    enum { N_DOCS = 4096, PER_DOC = 3 };
    docs c = {N_DOCS, malloc(N_DOCS * sizeof(uint32_t)), malloc(N_DOCS * PER_DOC * sizeof(uint32_t)),
              malloc((N_DOCS + 1) * sizeof(uint64_t)), malloc(N_DOCS * PER_DOC * sizeof(float))};
    cr_assert(c.n && c.ids && c.off && c.w);
    for (uint32_t i = 0; i < N_DOCS; i++) {
        c.n[i] = PER_DOC, c.off[i] = (uint64_t)i * PER_DOC;
        for (uint32_t j = 0; j < PER_DOC; j++) c.ids[i * PER_DOC + j] = i * PER_DOC + j, c.w[i * PER_DOC + j] = 1.0f;
    }
    c.off[N_DOCS] = (uint64_t)N_DOCS * PER_DOC;
    char *err = NULL;
    sp_seg *s = silt_spseg_build(get_doc, &c, N_DOCS, 16, 1, &err);
    cr_assert(s, "%s", err ? err : "");
    uint32_t *ids = malloc(N_DOCS * PER_DOC * sizeof *ids);
    float *w = malloc(N_DOCS * PER_DOC * sizeof *w);
    cr_assert(ids && w);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sp_query q = make_query(N_DOCS * PER_DOC / (uint32_t)seed, 1, ids, w, seed);
        cr_assert_geq(assert_bounds(s, &q), N_DOCS / SP_BMP_BLOCK_DOCS / seed);
        assert_block_max_1_is_exact(s, &q);
    }
    free(ids), free(w);
    silt_spseg_free(s);
    docs_free(&c);
}

Test(sparse_bmp, beyond_sixteen_thousand_terms_saturation_stays_an_upper_bound) { check_all_at_max(20000, 0); }

/* ---- per-document bounds over more documents than one scatter range ---------------------- */

/* n_docs documents of 4 terms: one of 8 frequent terms (dense rows), two rare ones (postings,
 * ~n_docs / 4,000 documents each) and, in the documents on either side of every multiple of
 * 2^16 (the scatter ranges of bound_units are 2^17 documents), term 9,000. */
static void docs_spread(docs *c, uint32_t n_docs, uint64_t seed) {
    uint64_t s = seed;
    c->n_docs = n_docs;
    c->n = malloc(n_docs * sizeof *c->n);
    c->off = malloc((n_docs + 1) * sizeof *c->off);
    c->ids = malloc((size_t)n_docs * 4 * sizeof *c->ids);
    c->w = malloc((size_t)n_docs * 4 * sizeof *c->w);
    cr_assert(c->n && c->off && c->ids && c->w);
    for (uint32_t i = 0; i < n_docs; i++) {
        uint32_t *id = c->ids + (size_t)i * 4, k = 0;
        c->off[i] = (uint64_t)i * 4;
        id[k++] = (uint32_t)(rng_next(&s) % 8);
        id[k++] = 8 + (uint32_t)(rng_next(&s) % 4000);
        id[k++] = 4008 + (uint32_t)(rng_next(&s) % 4000);
        uint32_t r = i & 0xffff;
        if (i >= 0xffff && (r == 0 || r == 0xffff || r == 1)) id[k++] = 9000;
        for (uint32_t j = 0; j < k; j++) c->w[(size_t)i * 4 + j] = (float)(0.01 + 2.99 * rng_unit(&s));
        c->n[i] = k;
    }
    c->off[n_docs] = (uint64_t)n_docs * 4;
}

/* A query over the 8 frequent terms, 60 rare ones and term 9,000 (heaviest). */
static sp_query spread_query(uint32_t *ids, float *w, uint64_t seed) {
    uint64_t s = seed;
    uint32_t n = 0;
    for (uint32_t t = 0; t < 8; t++) ids[n] = t, w[n++] = (float)(0.1 + rng_unit(&s));
    for (uint32_t t = 8; t < 8008; t += 8000 / 60) ids[n] = t, w[n++] = (float)(0.5 + 2 * rng_unit(&s));
    ids[n] = 9000, w[n++] = 5;
    return (sp_query){n, ids, w};
}

/* 3 x 2^17 + 7 documents: four scatter ranges, the last of 7 documents. Every document's bound
 * holds (the boundary documents share term 9,000), and block_max 1 equals the exact search. */
Test(sparse_bmp, document_bounds_hold_across_scatter_ranges) {
    docs c;
    docs_spread(&c, 3 * (1u << 17) + 7, 21);
    char *err = NULL;
    sp_seg *s = silt_spseg_build(get_doc, &c, c.n_docs, 64, 1, &err);
    cr_assert(s, "%s", err ? err : "");
    uint32_t ids[80];
    float w[80];
    for (uint64_t seed = 1; seed <= 2; seed++) {
        sp_query q = spread_query(ids, w, seed);
        cr_assert_gt(assert_bounds(s, &q), 90000);
        assert_block_max_1_is_exact(s, &q);
    }
    /* term 9,000 alone: only the boundary documents score, and their bounds must hold */
    uint32_t one_id = 9000;
    float one_w = 1;
    sp_query one = {1, &one_id, &one_w};
    cr_assert_eq(assert_bounds(s, &one), 12);
    assert_block_max_1_is_exact(s, &one);
    silt_spseg_free(s);
    docs_free(&c);
}

/* ---- out of memory ----------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
#include <sys/resource.h>
#include <unistd.h>

/* Bytes of address space the process holds now. */
static size_t vm_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    cr_assert(f);
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* The search under an address-space limit of `extra` bytes beyond what is held now: 0, or -1
 * with an out-of-memory error; never a crash. The limit is lifted before returning. */
static int search_limited(sp_seg *s, const sp_query *q, size_t extra, sp_heap *h, char **err) {
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = vm_bytes() + extra;
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    int rc = silt_spbmp_search(s, q, NULL, 1.0, h, err);
    setrlimit(RLIMIT_AS, &old);
    return rc;
}
#endif

/* Deriving the tables and the search's work arrays (per-document bounds: 2 bytes a document)
 * fail under an address-space limit: an error, and the next search answers exactly. */
Test(sparse_bmp, out_of_memory_is_an_error_and_the_next_search_answers) {
#ifdef UNDER_ASAN
    cr_skip_test("an address-space limit does not work under AddressSanitizer");
#else
    docs c;
    docs_spread(&c, 1u << 18, 22);
    char *err = NULL;
    sp_seg *s = silt_spseg_build(get_doc, &c, c.n_docs, 64, 1, &err);
    cr_assert(s, "%s", err ? err : "");
    uint32_t ids[80];
    float w[80];
    sp_query q = spread_query(ids, w, 3);
    double hs[5];
    int64_t rs[5];
    /* the tables (several MB) cannot be derived within 64 KB */
    sp_heap h = {hs, rs, 0, 5};
    cr_assert_eq(search_limited(s, &q, 1 << 16, &h, &err), -1);
    cr_assert(err && strstr(err, "out of memory"), "%s", err ? err : "(no error)");
    free(err), err = NULL;
    /* tables derived without a limit; then the work arrays (0.5 MB of bounds) cannot be had */
    cr_assert_eq(silt_spbmp_bounds(s, &q, NULL, NULL, &err), 0);
    h.n = 0;
    cr_assert_eq(search_limited(s, &q, 1 << 16, &h, &err), -1);
    cr_assert(err && strstr(err, "out of memory"), "%s", err ? err : "(no error)");
    free(err), err = NULL;
    assert_block_max_1_is_exact(s, &q);
    silt_spseg_free(s);
    docs_free(&c);
#endif
}

/* test_sparse_index.c: the in-memory learned-sparse index (index/sparse_index.h) against a
 * brute-force dot product: exact and fast search, filters, updates, merges, snapshots. */
#include <math.h>

#include "index/sparse_index.h"
#include "testutil.h"

/* A random SPLADE-like collection kept beside the index for brute-force answers. */
typedef struct {
    uint32_t n_docs, vocab;
    int64_t *rowid;
    silt_sparse_vec *doc;
    int *live;
} coll;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

/* Zipf-like term id in [0, vocab): rank ~ vocab^u - 1, scrambled so ids are not ranks. */
static uint32_t zipf_term(uint64_t *s, uint32_t vocab) {
    double r = pow((double)vocab, rng_unit(s)) - 1;
    uint32_t rank = (uint32_t)r % vocab;
    return (rank * 2654435761u) % vocab;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* A sparse vector of about nnz distinct terms; weights larger on rare terms (as SPLADE's),
 * negative ones when allow_neg. */
static void make_vec(uint64_t *s, uint32_t vocab, uint32_t nnz, int allow_neg, silt_sparse_vec *v) {
    uint32_t *ids = malloc(nnz * sizeof *ids);
    for (uint32_t i = 0; i < nnz; i++) ids[i] = zipf_term(s, vocab);
    qsort(ids, nnz, sizeof *ids, cmp_u32);
    uint32_t n = 0;
    for (uint32_t i = 0; i < nnz; i++)
        if (!n || ids[i] != ids[n - 1]) ids[n++] = ids[i];
    v->n = n;
    v->ids = ids;
    v->weights = malloc((n + 1) * sizeof(float));
    for (uint32_t i = 0; i < n; i++) {
        float w = (float)(0.05 + 2.5 * rng_unit(s) * rng_unit(s));
        if (allow_neg && rng_unit(s) < 0.2) w = -w;
        v->weights[i] = w;
    }
}

static void coll_make(coll *c, uint32_t n_docs, uint32_t vocab, uint32_t nnz, int neg, uint64_t seed) {
    c->n_docs = n_docs, c->vocab = vocab;
    c->rowid = malloc(n_docs * sizeof *c->rowid);
    c->doc = calloc(n_docs, sizeof *c->doc);
    c->live = calloc(n_docs, sizeof *c->live);
    uint64_t s = seed;
    for (uint32_t i = 0; i < n_docs; i++) {
        c->rowid[i] = (int64_t)(i * 7 + 3) * (i % 2 ? 1 : -1); /* unordered, negative too */
        make_vec(&s, vocab, nnz / 2 + (uint32_t)(rng_next(&s) % nnz), neg, &c->doc[i]);
    }
}

/* An empty collection of n documents over vocab terms, for tests that fill it by hand. */
static void coll_alloc(coll *c, uint32_t n, uint32_t vocab) {
    c->n_docs = n, c->vocab = vocab;
    c->rowid = malloc(n * sizeof *c->rowid);
    c->doc = calloc(n, sizeof *c->doc);
    c->live = calloc(n, sizeof *c->live);
    cr_assert(c->rowid && c->doc && c->live);
}

static void coll_free(coll *c) {
    for (uint32_t i = 0; i < c->n_docs; i++) silt_sparse_vec_free(&c->doc[i]);
    free(c->rowid), free(c->doc), free(c->live);
}

static double dot(const silt_sparse_vec *q, const silt_sparse_vec *d, int *shares) {
    uint32_t i = 0, j = 0;
    double sum = 0;
    *shares = 0;
    while (i < q->n && j < d->n) {
        if (q->ids[i] < d->ids[j]) i++;
        else if (q->ids[i] > d->ids[j]) j++;
        else sum += (double)q->weights[i++] * (double)d->weights[j++], *shares = 1;
    }
    return sum;
}

typedef struct {
    double score;
    int64_t rowid;
} ans;
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
static int cmp_ans(const void *a, const void *b) {
    const ans *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

/* Brute-force top k among live docs (and, when allow, rowids in allow). Returns the count. */
static uint32_t brute(const coll *c, const silt_sparse_vec *q, uint32_t k, const int64_t *allow,
                      size_t n_allow, ans *out) {
    ans *all = malloc((c->n_docs + 1) * sizeof *all);
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_docs; i++) {
        if (!c->live[i]) continue;
        if (allow) {
            int in = 0;
            for (size_t j = 0; j < n_allow; j++) in |= allow[j] == c->rowid[i];
            if (!in) continue;
        }
        int sh;
        double sc = dot(q, &c->doc[i], &sh);
        if (sh) all[n].score = sc, all[n].rowid = c->rowid[i], n++;
    }
    qsort(all, n, sizeof *all, cmp_ans);
    if (n > k) n = k;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

static silt_spidx *index_coll(coll *c, const silt_spidx_config *cfg) {
    char *err = NULL;
    silt_spidx *ix = silt_spidx_new(cfg, &err);
    cr_assert(ix, "%s", err ? err : "");
    for (uint32_t i = 0; i < c->n_docs; i++) {
        cr_assert_eq(silt_spidx_add(ix, c->rowid[i], &c->doc[i], &err), 0, "%s", err ? err : "");
        c->live[i] = 1;
    }
    return ix;
}

/* Asserts that search gives exactly the brute-force answer (rowids and scores). */
static void assert_exact(const silt_spidx *ix, const coll *c, const silt_sparse_vec *q, uint32_t k,
                         const silt_spidx_search_opts *o, const int64_t *allow, size_t n_allow) {
    ans *want = malloc(((k < c->n_docs ? k : c->n_docs) + 1) * sizeof *want);
    uint32_t nw = brute(c, q, k, allow, n_allow, want);
    silt_spidx_hit *hits;
    uint32_t nh;
    char *err = NULL;
    silt_spidx_filter f = {allow, n_allow, INT64_MIN, INT64_MAX};
    cr_assert_eq(silt_spidx_search(ix, q, k, o, allow ? &f : NULL, &hits, &nh, &err), 0, "%s",
                 err ? err : "");
    cr_assert_eq(nh, nw, "hits %u, brute force %u", nh, nw);
    for (uint32_t i = 0; i < nh; i++) {
        cr_assert_eq(hits[i].rowid, want[i].rowid, "rank %u: rowid %lld, expected %lld", i,
                     (long long)hits[i].rowid, (long long)want[i].rowid);
        cr_assert_eq(hits[i].score, want[i].score, "rank %u score", i);
    }
    free(hits);
    free(want);
}

/* A rowid range filter gives the brute-force answer over the rows in the range. */
static void assert_range(const silt_spidx *ix, const coll *c, const silt_sparse_vec *q, uint32_t k,
                         const silt_spidx_search_opts *o, int64_t lo, int64_t hi) {
    int64_t *in = malloc((c->n_docs + 1) * sizeof *in);
    size_t n = 0;
    for (uint32_t i = 0; i < c->n_docs; i++)
        if (c->rowid[i] >= lo && c->rowid[i] <= hi) in[n++] = c->rowid[i];
    ans *want = malloc((c->n_docs + 1) * sizeof *want);
    uint32_t nw = brute(c, q, k, in, n, want);
    silt_spidx_filter f = {NULL, 0, lo, hi};
    silt_spidx_hit *hits;
    uint32_t nh;
    char *err = NULL;
    cr_assert_eq(silt_spidx_search(ix, q, k, o, &f, &hits, &nh, &err), 0);
    cr_assert_eq(nh, nw);
    for (uint32_t i = 0; i < nh; i++) {
        cr_assert_eq(hits[i].rowid, want[i].rowid);
        cr_assert_eq(hits[i].score, want[i].score);
    }
    free(hits), free(want), free(in);
}

/* Recall@k of search against brute force, and that every reported score is exact. */
static double recall(const silt_spidx *ix, const coll *c, const silt_sparse_vec *q, uint32_t k,
                     const silt_spidx_search_opts *o) {
    ans *want = malloc((k + 1) * sizeof *want);
    uint32_t nw = brute(c, q, k, NULL, 0, want);
    silt_spidx_hit *hits;
    uint32_t nh;
    char *err = NULL;
    cr_assert_eq(silt_spidx_search(ix, q, k, o, NULL, &hits, &nh, &err), 0);
    uint32_t got = 0;
    for (uint32_t i = 0; i < nh; i++) {
        for (uint32_t j = 0; j < nw; j++) got += hits[i].rowid == want[j].rowid;
        for (uint32_t d = 0; d < c->n_docs; d++)
            if (c->rowid[d] == hits[i].rowid) {
                int sh;
                cr_assert_eq(hits[i].score, dot(q, &c->doc[d], &sh), "score of a fast hit is exact");
            }
        if (i) cr_assert(hits[i].score <= hits[i - 1].score, "ordered by score");
    }
    free(hits);
    free(want);
    return nw ? (double)got / nw : 1.0;
}

Test(sparse, exact_search_equals_brute_force) {
    coll c;
    coll_make(&c, 3000, 2000, 60, 0, 11);
    silt_spidx_config cfg = {32, 1, 256}; /* several segments and a memtable */
    silt_spidx *ix = index_coll(&c, &cfg);
    silt_spidx_stats st;
    silt_spidx_get_stats(ix, &st);
    cr_assert_gt(st.n_segments, 1);
    cr_assert_gt(st.memtable_docs, 0);
    cr_assert_eq(st.n_docs, 3000);
    uint64_t s = 99;
    silt_spidx_search_opts ex = {1, 1, 0, 0};
    for (int i = 0; i < 30; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 5 + i, 0, &q);
        assert_exact(ix, &c, &q, 10, &ex, NULL, 0);
        assert_exact(ix, &c, &q, 1, &ex, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, fast_search_with_safe_parameters_is_exact) {
    coll c;
    coll_make(&c, 3000, 2000, 60, 0, 12);
    silt_spidx_config cfg = {64, 1, 512};
    silt_spidx *ix = index_coll(&c, &cfg);
    uint64_t s = 5;
    silt_spidx_search_opts fast = {0, 1, 0, 0};
    for (int i = 0; i < 30; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 3 + i, 0, &q);
        assert_exact(ix, &c, &q, 10, &fast, NULL, 0);
        assert_exact(ix, &c, &q, 50, NULL, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

/* A segment larger than one chunk of the search (about 32K documents, whose candidates are
 * collected as soon as every term has passed it), with blocks that do not divide 64: the
 * chunk boundaries must never split a block or a word of the touched bitset. */
Test(sparse, searches_spanning_many_chunks_are_exact) {
    coll c;
    coll_make(&c, 70000, 3000, 12, 0, 21);
    silt_spidx_config cfg = {100, 1, 100000};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0, "%s", err ? err : "");
    silt_spidx_stats st;
    silt_spidx_get_stats(ix, &st);
    cr_assert_eq(st.n_segments, 1);
    uint64_t s = 8;
    silt_spidx_search_opts ex = {1, 1, 0, 0}, fast = {0, 1, 0, 0};
    for (int i = 0; i < 6; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 4 + 3 * i, 0, &q);
        assert_exact(ix, &c, &q, 10, &ex, NULL, 0);
        assert_exact(ix, &c, &q, 25, &fast, NULL, 0);
        assert_range(ix, &c, &q, 10, &ex, -150000, 150000); /* crosses a chunk boundary */
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

/* Rescoring ranks candidates by their quantised weights first and scores exactly only those
 * that may enter the top k: documents whose weights differ by far less than one impact unit
 * (so their quantised scores tie) must still come out in exact score order, in every mode
 * that promises exactness, with negative weights too. */
Test(sparse, quantised_rescoring_resolves_near_ties_exactly) {
    coll c;
    uint32_t n = 3000;
    coll_alloc(&c, n, 400);
    uint64_t s = 77;
    for (uint32_t i = 0; i < n; i++) {
        c.rowid[i] = (int64_t)((i * 7919u) % 10007u);
        silt_sparse_vec *v = &c.doc[i];
        v->n = 4;
        v->ids = malloc(4 * sizeof *v->ids);
        v->weights = malloc(4 * sizeof *v->weights);
        /* terms 5 and 7 in every document, weights 1e-5 apart (an impact unit is ~1e-2) */
        v->ids[0] = 5, v->weights[0] = 1.0f + (float)(i % 97) * 1e-5f;
        v->ids[1] = 7, v->weights[1] = (i % 5 ? 0.5f : -0.5f) + (float)(i % 89) * 1e-5f;
        v->ids[2] = 100 + (uint32_t)(rng_next(&s) % 150);
        v->ids[3] = 250 + (uint32_t)(rng_next(&s) % 150);
        v->weights[2] = (float)(0.01 + 0.02 * rng_unit(&s));
        v->weights[3] = (float)(0.01 + 0.02 * rng_unit(&s));
    }
    silt_spidx_config cfg = {64, 1, 1024};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0, "%s", err ? err : "");
    silt_spidx_search_opts ex = {1, 1, 0, 0}, fast = {0, 1, 0, 0};
    uint32_t q_ids[4][4] = {{5, 7}, {5, 7, 120, 300}, {5}, {7, 101, 260, 399}};
    float q_w[4][4] = {{1, 1}, {0.7f, 1.3f, 0.02f, 0.03f}, {2}, {-1, 0.5f, 0.5f, 0.5f}};
    uint32_t q_n[4] = {2, 4, 1, 4};
    for (int i = 0; i < 4; i++) {
        silt_sparse_vec q = {q_n[i], q_ids[i], q_w[i]};
        for (uint32_t k = 1; k <= 64; k *= 4) {
            assert_exact(ix, &c, &q, k, &ex, NULL, 0);
            assert_exact(ix, &c, &q, k, &fast, NULL, 0);
        }
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

/* A pruned list's head, read by fast searches, stores document gaps as varints of one, two
 * or three bytes (decoded without a branch up to two). A single-term query's best documents
 * are exactly the head's strongest, so a fast search must return the exact answer; the
 * strong documents sit at gaps of every width, across chunks and at the segment's end. */
Test(sparse, head_gaps_of_every_width_decode) {
    coll c;
    uint32_t n = 90000;
    coll_alloc(&c, n, 50);
    uint8_t *strong = calloc(n, 1);
    uint64_t s = 5;
    uint32_t d = 3, n_strong = 0;
    for (uint32_t i = 0; d < n; i++) { /* gaps 1..127, 128..16383, then 16384 and more */
        strong[d] = 1, n_strong++;
        uint32_t g = i % 50 == 49   ? 16384 + (uint32_t)(rng_next(&s) % 3000)
                     : i % 50 == 24 ? 16000 + (uint32_t)(rng_next(&s) % 384)
                     : i % 3        ? 1 + (uint32_t)(rng_next(&s) % 127)
                                    : 128 + (uint32_t)(rng_next(&s) % 2000);
        d += g;
    }
    strong[n - 1] = 1, n_strong++; /* the last document: the head's last posting */
    for (uint32_t i = 0; i < n; i++) {
        c.rowid[i] = i + 1;
        silt_sparse_vec *v = &c.doc[i];
        v->n = 2;
        v->ids = malloc(2 * sizeof *v->ids);
        v->weights = malloc(2 * sizeof *v->weights);
        v->ids[0] = 1, v->ids[1] = 2 + (uint32_t)(rng_next(&s) % 40);
        v->weights[0] = strong[i] ? (float)(5 + 5 * rng_unit(&s)) : (float)(0.01 + 0.01 * rng_unit(&s));
        v->weights[1] = 1;
    }
    free(strong);
    cr_assert_gt(n_strong, 100);
    silt_spidx_config cfg = {64, 0.001f, 1024};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0, "%s", err ? err : "");
    silt_spidx_search_opts fast = {0, 1, 0, 0};
    uint32_t q_id = 1;
    float q_w = 1;
    silt_sparse_vec q = {1, &q_id, &q_w};
    assert_exact(ix, &c, &q, n_strong, &fast, NULL, 0);
    assert_exact(ix, &c, &q, 10, &fast, NULL, 0);
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, negative_weights_are_scored_exactly) {
    coll c;
    coll_make(&c, 1500, 800, 40, 1, 13);
    silt_spidx_config cfg = {16, 1, 200};
    silt_spidx *ix = index_coll(&c, &cfg);
    uint64_t s = 8;
    silt_spidx_search_opts ex = {1, 1, 0, 0}, fast = {0, 1, 0, 0};
    for (int i = 0; i < 20; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 4 + i, 1, &q);
        assert_exact(ix, &c, &q, 10, &ex, NULL, 0);
        assert_exact(ix, &c, &q, 10, &fast, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

/* Mean recall@10 of 40 random queries with options o over one optimized segment of a
 * random collection (4,000 documents of ~80 terms over 3,000 terms). recall() checks that
 * every returned score is exact. */
static double mean_recall(uint64_t coll_seed, uint64_t query_seed, const silt_spidx_config *cfg,
                          const silt_spidx_search_opts *o) {
    coll c;
    coll_make(&c, 4000, 3000, 80, 0, coll_seed);
    silt_spidx *ix = index_coll(&c, cfg);
    char *err = NULL;
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0);
    uint64_t s = query_seed;
    double sum = 0;
    for (int i = 0; i < 40; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 20, 0, &q);
        sum += recall(ix, &c, &q, 10, o);
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
    return sum / 40;
}

Test(sparse, approximate_fast_search_keeps_high_recall_and_exact_scores) {
    silt_spidx_config cfg = {32, 0.05f, 4000};
    silt_spidx_search_opts o = {0, 0.5, 0, 0};
    double r = mean_recall(14, 21, &cfg, &o);
    cr_assert_gt(r, 0.9, "mean recall@10 %.3f", r);
}

Test(sparse, only_rows_sharing_a_term_are_returned) {
    char *err = NULL;
    silt_spidx *ix = silt_spidx_new(NULL, &err);
    uint32_t a_ids[] = {1, 5}, b_ids[] = {2}, c_ids[] = {5, 9};
    float a_w[] = {1, 2}, b_w[] = {3}, c_w[] = {-1, 1};
    silt_sparse_vec a = {2, a_ids, a_w}, b = {1, b_ids, b_w}, cv = {2, c_ids, c_w};
    cr_assert_eq(silt_spidx_add(ix, 10, &a, &err), 0);
    cr_assert_eq(silt_spidx_add(ix, 20, &b, &err), 0);
    cr_assert_eq(silt_spidx_add(ix, 30, &cv, &err), 0);
    uint32_t q_ids[] = {5, 7};
    float q_w[] = {1, 4};
    silt_sparse_vec q = {2, q_ids, q_w};
    for (int exact = 0; exact < 2; exact++) {
        silt_spidx_search_opts o = {exact, 1, 0, 0};
        silt_spidx_hit *h;
        uint32_t n;
        cr_assert_eq(silt_spidx_search(ix, &q, 10, &o, NULL, &h, &n, &err), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(h[0].rowid, 10);
        cr_assert_eq(h[0].score, 2.0);
        cr_assert_eq(h[1].rowid, 30);
        cr_assert_eq(h[1].score, -1.0); /* negative, but it shares a term */
        free(h);
        uint32_t none_ids[] = {1000};
        silt_sparse_vec none = {1, none_ids, q_w};
        cr_assert_eq(silt_spidx_search(ix, &none, 10, &o, NULL, &h, &n, &err), 0);
        cr_assert_eq(n, 0);
        cr_assert_null(h);
    }
    /* Same again once sealed into a segment. */
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0);
    silt_spidx_hit *h;
    uint32_t n;
    cr_assert_eq(silt_spidx_search(ix, &q, 10, NULL, NULL, &h, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(h[0].rowid, 10);
    cr_assert_eq(h[1].rowid, 30);
    free(h);
    silt_spidx_free(ix);
}

Test(sparse, filters_by_rowid_both_selective_and_broad) {
    coll c;
    coll_make(&c, 2000, 1000, 50, 0, 15);
    silt_spidx_config cfg = {32, 1, 300};
    silt_spidx *ix = index_coll(&c, &cfg);
    uint64_t s = 3;
    int64_t *allow = malloc(2000 * sizeof *allow);
    for (int round = 0; round < 2; round++) {
        size_t n_allow = 0;
        for (uint32_t i = 0; i < c.n_docs; i++)
            if ((round == 0 && i % 250 == 7) || (round == 1 && i % 3 == 0)) allow[n_allow++] = c.rowid[i];
        qsort(allow, n_allow, sizeof *allow, cmp_i64);
        for (int i = 0; i < 10; i++) {
            silt_sparse_vec q;
            make_vec(&s, c.vocab, 30, 0, &q);
            silt_spidx_search_opts ex = {1, 1, 0, 0}, fast = {0, 1, 0, 0};
            assert_exact(ix, &c, &q, 10, &ex, allow, n_allow);
            assert_exact(ix, &c, &q, 10, &fast, allow, n_allow);
            assert_range(ix, &c, &q, 10, &ex, -3000, 5000);
            assert_range(ix, &c, &q, 10, &fast, 100, 200);
            silt_sparse_vec_free(&q);
        }
    }
    free(allow);
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, updates_deletes_and_merges_stay_exact) {
    coll c;
    coll_make(&c, 2500, 1500, 40, 0, 16);
    silt_spidx_config cfg = {16, 1, 128};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    uint64_t s = 77;
    /* Delete a third, replace a fifth with new vectors. */
    for (uint32_t i = 0; i < c.n_docs; i++) {
        if (i % 3 == 0) {
            cr_assert_eq(silt_spidx_remove(ix, c.rowid[i]), 1);
            cr_assert_eq(silt_spidx_remove(ix, c.rowid[i]), 0);
            c.live[i] = 0;
        } else if (i % 5 == 0) {
            cr_assert_eq(silt_spidx_remove(ix, c.rowid[i]), 1);
            silt_sparse_vec_free(&c.doc[i]);
            make_vec(&s, c.vocab, 30, 0, &c.doc[i]);
            cr_assert_eq(silt_spidx_add(ix, c.rowid[i], &c.doc[i], &err), 0, "%s", err);
        }
    }
    cr_assert_eq(silt_spidx_count(ix), 2500 - 834);
    silt_spidx_search_opts ex = {1, 1, 0, 0}, fast = {0, 1, 0, 0};
    for (int i = 0; i < 15; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 25, 0, &q);
        assert_exact(ix, &c, &q, 10, &ex, NULL, 0);
        assert_exact(ix, &c, &q, 10, &fast, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    /* get returns the current vector; removed rows are absent. */
    for (uint32_t i = 0; i < 50; i++) {
        silt_sparse_vec v;
        int r = silt_spidx_get(ix, c.rowid[i], &v, &err);
        cr_assert_eq(r, c.live[i] ? 1 : 0);
        if (r == 1) {
            cr_assert_eq(v.n, c.doc[i].n);
            cr_assert_eq(memcmp(v.ids, c.doc[i].ids, v.n * 4), 0);
            cr_assert_eq(memcmp(v.weights, c.doc[i].weights, v.n * 4), 0);
        }
        silt_sparse_vec_free(&v);
    }
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0);
    silt_spidx_stats st;
    silt_spidx_get_stats(ix, &st);
    cr_assert_eq(st.n_segments, 1);
    cr_assert_eq(st.n_dead, 0);
    cr_assert_eq(st.memtable_docs, 0);
    for (int i = 0; i < 10; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 25, 0, &q);
        assert_exact(ix, &c, &q, 20, &fast, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, adding_a_present_rowid_or_bad_vector_is_an_error) {
    char *err = NULL;
    silt_spidx *ix = silt_spidx_new(NULL, &err);
    uint32_t ids[] = {3, 4};
    float w[] = {1, 2};
    silt_sparse_vec v = {2, ids, w};
    cr_assert_eq(silt_spidx_add(ix, 1, &v, &err), 0);
    cr_assert_eq(silt_spidx_add(ix, 1, &v, &err), -1);
    cr_assert(strstr(err, "rowid 1 is already"), "%s", err);
    free(err), err = NULL;
    float bad[] = {1, NAN};
    silt_sparse_vec vb = {2, ids, bad};
    cr_assert_eq(silt_spidx_add(ix, 2, &vb, &err), -1);
    cr_assert(strstr(err, "weight of term 4"), "%s", err);
    free(err), err = NULL;
    uint32_t unsorted[] = {4, 3};
    silt_sparse_vec vu = {2, unsorted, w};
    cr_assert_eq(silt_spidx_add(ix, 2, &vu, &err), -1);
    cr_assert(strstr(err, "strictly increasing"), "%s", err);
    free(err), err = NULL;
    cr_assert_eq(silt_spidx_count(ix), 1);
    silt_spidx_search_opts o = {0, 1.5, 0, 0};
    silt_spidx_hit *h;
    uint32_t n;
    cr_assert_eq(silt_spidx_search(ix, &v, 1, &o, NULL, &h, &n, &err), -1);
    cr_assert(strstr(err, "heap_factor"), "%s", err);
    free(err), err = NULL;
    silt_spidx_config cfg = {300, 1, 10};
    cr_assert_null(silt_spidx_new(&cfg, &err));
    cr_assert(strstr(err, "block_docs"), "%s", err);
    free(err), err = NULL;
    cfg = (silt_spidx_config){64, 0, 10};
    cr_assert_eq(silt_spidx_set_config(ix, &cfg, &err), -1);
    cr_assert(strstr(err, "prune"), "%s", err);
    free(err);
    silt_spidx_free(ix);
}

Test(sparse, snapshot_round_trip_and_corruption) {
    coll c;
    coll_make(&c, 1200, 700, 30, 1, 17);
    silt_spidx_config cfg = {16, 0.7f, 200};
    silt_spidx *ix = index_coll(&c, &cfg);
    for (uint32_t i = 0; i < c.n_docs; i += 7) silt_spidx_remove(ix, c.rowid[i]), c.live[i] = 0;
    char *err = NULL;
    void *bytes;
    size_t n_bytes;
    cr_assert_eq(silt_spidx_serialize(ix, &bytes, &n_bytes, &err), 0);
    silt_spidx *back = silt_spidx_deserialize(bytes, n_bytes, &err);
    cr_assert(back, "%s", err ? err : "");
    silt_spidx_stats a, b;
    silt_spidx_get_stats(ix, &a);
    silt_spidx_get_stats(back, &b);
    cr_assert_eq(a.n_docs, b.n_docs);
    cr_assert_eq(a.n_segments, b.n_segments);
    cr_assert_eq(a.memtable_docs, b.memtable_docs);
    silt_spidx_config got;
    silt_spidx_get_config(back, &got);
    cr_assert_eq(got.block_docs, 16);
    cr_assert_eq(got.prune, 0.7f);
    uint64_t s = 4;
    silt_spidx_search_opts ex = {1, 1, 0, 0};
    for (int i = 0; i < 10; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 15, 0, &q);
        assert_exact(back, &c, &q, 10, &ex, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    /* Truncation anywhere and flipped bytes give an error or a consistent index, never a
     * crash (the test process would die). */
    for (size_t cut = 0; cut < n_bytes; cut += 1 + n_bytes / 300) {
        silt_spidx *t = silt_spidx_deserialize(bytes, cut, &err);
        cr_assert_null(t, "truncated at %zu accepted", cut);
        free(err), err = NULL;
    }
    uint8_t *copy = malloc(n_bytes);
    uint64_t r = 9;
    for (int i = 0; i < 300; i++) {
        memcpy(copy, bytes, n_bytes);
        size_t at = (size_t)(rng_next(&r) % n_bytes);
        copy[at] ^= (uint8_t)(1 + rng_next(&r) % 255);
        silt_spidx *t = silt_spidx_deserialize(copy, n_bytes, &err);
        if (t) {
            silt_sparse_vec q;
            make_vec(&s, c.vocab, 15, 0, &q);
            silt_spidx_hit *h;
            uint32_t n;
            silt_spidx_search(t, &q, 10, NULL, NULL, &h, &n, &err);
            free(h);
            silt_sparse_vec_free(&q);
            silt_spidx_free(t);
        }
        free(err), err = NULL;
    }
    free(copy);
    free(bytes);
    silt_spidx_free(back);
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, large_k_and_empty_index) {
    char *err = NULL;
    silt_spidx *ix = silt_spidx_new(NULL, &err);
    uint32_t ids[] = {1};
    float w[] = {1};
    silt_sparse_vec q = {1, ids, w};
    silt_spidx_hit *h;
    uint32_t n;
    cr_assert_eq(silt_spidx_search(ix, &q, 1000000, NULL, NULL, &h, &n, &err), 0);
    cr_assert_eq(n, 0);
    coll c;
    coll_make(&c, 500, 50, 10, 0, 18);
    for (uint32_t i = 0; i < c.n_docs; i++) silt_spidx_add(ix, c.rowid[i], &c.doc[i], &err), c.live[i] = 1;
    silt_spidx_search_opts ex = {1, 1, 0, 0};
    assert_exact(ix, &c, &q, 4000000000u, &ex, NULL, 0);
    assert_exact(ix, &c, &q, 4000000000u, NULL, NULL, 0);
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, large_vocabularies_use_wide_term_numbers) {
    /* Over 65,536 distinct terms in one segment: the forward index switches to 32-bit term
     * numbers; answers and snapshots stay exact. */
    coll c;
    coll_make(&c, 3000, 50000000, 100, 0, 19);
    silt_spidx_config cfg = {64, 0.2f, 100000};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0);
    void *bytes;
    size_t n_bytes;
    cr_assert_eq(silt_spidx_serialize(ix, &bytes, &n_bytes, &err), 0);
    silt_spidx *back = silt_spidx_deserialize(bytes, n_bytes, &err);
    cr_assert(back, "%s", err ? err : "");
    uint64_t s = 31;
    silt_spidx_search_opts ex = {1, 1, 0, 0};
    for (int i = 0; i < 10; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 40, 0, &q);
        assert_exact(ix, &c, &q, 10, &ex, NULL, 0);
        assert_exact(back, &c, &q, 10, &ex, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    free(bytes);
    silt_spidx_free(back);
    silt_spidx_free(ix);
    coll_free(&c);
}

Test(sparse, deferred_mode_buffers_until_flush) {
    coll c;
    coll_make(&c, 2000, 1000, 30, 0, 20);
    char *err = NULL;
    silt_spidx_config cfg = {32, 1, 256};
    silt_spidx *ix = silt_spidx_new(&cfg, &err);
    silt_spidx_set_deferred(ix, 1);
    for (uint32_t i = 0; i < c.n_docs; i++) {
        cr_assert_eq(silt_spidx_add(ix, c.rowid[i], &c.doc[i], &err), 0);
        c.live[i] = 1;
    }
    silt_spidx_stats st;
    silt_spidx_get_stats(ix, &st);
    cr_assert_eq(st.n_segments, 0);
    cr_assert_eq(st.memtable_docs, 2000);
    uint64_t s = 41;
    silt_spidx_search_opts ex = {1, 1, 0, 0}, fast = {0, 1, 0, 0};
    silt_sparse_vec q;
    make_vec(&s, c.vocab, 20, 0, &q);
    assert_exact(ix, &c, &q, 10, &ex, NULL, 0); /* brute force over the memtable */
    cr_assert_eq(silt_spidx_flush(ix, &err), 0);
    silt_spidx_get_stats(ix, &st);
    cr_assert_eq(st.n_segments, 1);
    cr_assert_eq(st.memtable_docs, 0);
    assert_exact(ix, &c, &q, 10, &fast, NULL, 0);
    silt_sparse_vec_free(&q);
    silt_spidx_free(ix);
    coll_free(&c);
}

/* ---- Block-Max Pruning (block_max) -------------------------------------------------------- */

/* block_max 1 promises the exact answer: over several segments and a memtable, one segment,
 * deleted and replaced rows, broad and selective rowid lists and ranges, k from 1 to more
 * documents than match. */
Test(sparse, block_max_one_equals_exact_search) {
    coll c;
    coll_make(&c, 3000, 1500, 50, 0, 31);
    silt_spidx_config cfg = {32, 0.05f, 400};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    uint64_t s = 17;
    silt_spidx_search_opts bm = {0, 1, 0, 1.0};
    int64_t *allow = malloc(3000 * sizeof *allow);
    for (int phase = 0; phase < 3; phase++) {
        if (phase == 1) /* delete a quarter, replace a tenth */
            for (uint32_t i = 0; i < c.n_docs; i++) {
                if (i % 4 == 1) {
                    cr_assert_eq(silt_spidx_remove(ix, c.rowid[i]), 1);
                    c.live[i] = 0;
                } else if (i % 10 == 3) {
                    cr_assert_eq(silt_spidx_remove(ix, c.rowid[i]), 1);
                    silt_sparse_vec_free(&c.doc[i]);
                    make_vec(&s, c.vocab, 40, 0, &c.doc[i]);
                    cr_assert_eq(silt_spidx_add(ix, c.rowid[i], &c.doc[i], &err), 0, "%s", err);
                }
            }
        if (phase == 2) cr_assert_eq(silt_spidx_optimize(ix, &err), 0, "%s", err ? err : "");
        size_t n_allow = 0;
        for (uint32_t i = 0; i < c.n_docs; i++)
            if (c.live[i] && i % 3 == 0) allow[n_allow++] = c.rowid[i];
        qsort(allow, n_allow, sizeof *allow, cmp_i64);
        for (int i = 0; i < 12; i++) {
            silt_sparse_vec q;
            make_vec(&s, c.vocab, 3 + 4 * i, 0, &q);
            assert_exact(ix, &c, &q, 1, &bm, NULL, 0);
            assert_exact(ix, &c, &q, 10, &bm, NULL, 0);
            assert_exact(ix, &c, &q, 3000, &bm, NULL, 0); /* every matching row */
            assert_exact(ix, &c, &q, 10, &bm, allow, n_allow);
            assert_exact(ix, &c, &q, 10, &bm, allow, 20); /* selective */
            assert_range(ix, &c, &q, 10, &bm, -2000, 6000);
            silt_sparse_vec_free(&q);
        }
    }
    free(allow);
    silt_spidx_free(ix);
    coll_free(&c);
}

/* Negative weights in documents and queries: a block's bound takes, per query term, the
 * largest weight of the query weight's sign, and rows whose score is negative (when fewer
 * than k score positive) must still come back in order. */
Test(sparse, block_max_one_is_exact_with_negative_weights) {
    coll c;
    coll_make(&c, 2000, 600, 30, 1, 32);
    silt_spidx_config cfg = {16, 1, 700};
    silt_spidx *ix = index_coll(&c, &cfg);
    uint64_t s = 9;
    silt_spidx_search_opts bm = {0, 1, 0, 1.0};
    for (int i = 0; i < 25; i++) {
        silt_sparse_vec q;
        make_vec(&s, c.vocab, 2 + i, 1, &q);
        if (i % 5 == 0)
            for (uint32_t j = 0; j < q.n; j++) q.weights[j] = -fabsf(q.weights[j]); /* all negative */
        assert_exact(ix, &c, &q, 10, &bm, NULL, 0);
        assert_exact(ix, &c, &q, 200, &bm, NULL, 0);
        silt_sparse_vec_free(&q);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

/* Ties: many rows with the same vector (equal scores: smaller rowid first) and rows whose
 * weights differ by far less than an impact unit, across more than one chunk of bounds
 * (8,192 blocks of 4 documents). */
Test(sparse, block_max_one_orders_ties_and_near_ties_exactly) {
    coll c;
    uint32_t n = 40000;
    coll_alloc(&c, n, 300);
    uint64_t s = 123;
    for (uint32_t i = 0; i < n; i++) {
        c.rowid[i] = (int64_t)((i * 7919u) % 100003u) - 50000;
        silt_sparse_vec *v = &c.doc[i];
        v->n = 3;
        v->ids = malloc(3 * sizeof *v->ids);
        v->weights = malloc(3 * sizeof *v->weights);
        v->ids[0] = 5, v->ids[1] = 7, v->ids[2] = 10 + (uint32_t)(rng_next(&s) % 290);
        v->weights[0] = i % 3 ? 1.0f : 1.0f + (float)(i % 97) * 1e-6f; /* exact ties and near ties */
        v->weights[1] = 0.5f;
        v->weights[2] = (float)(0.01 + 0.02 * rng_unit(&s));
    }
    silt_spidx_config cfg = {64, 1, 1024};
    silt_spidx *ix = index_coll(&c, &cfg);
    char *err = NULL;
    cr_assert_eq(silt_spidx_optimize(ix, &err), 0, "%s", err ? err : "");
    silt_spidx_search_opts bm = {0, 1, 0, 1.0};
    uint32_t q_ids[3][3] = {{5, 7}, {5, 7, 150}, {7}};
    float q_w[3][3] = {{1, 1}, {0.7f, 1.3f, 0.02f}, {2}};
    uint32_t q_n[3] = {2, 3, 1};
    for (int i = 0; i < 3; i++) {
        silt_sparse_vec q = {q_n[i], q_ids[i], q_w[i]};
        for (uint32_t k = 1; k <= 256; k *= 4) assert_exact(ix, &c, &q, k, &bm, NULL, 0);
    }
    silt_spidx_free(ix);
    coll_free(&c);
}

/* Lower block_max scores fewer blocks: recall stays high and every score is exact. */
Test(sparse, block_max_below_one_keeps_high_recall_and_exact_scores) {
    silt_spidx_config cfg = {64, 1, 4000};
    silt_spidx_search_opts o = {0, 1, 0, 0.9};
    double r = mean_recall(33, 22, &cfg, &o);
    cr_assert_gt(r, 0.9, "mean recall@10 %.3f", r);
}

Test(sparse, block_max_outside_zero_to_one_is_an_error) {
    char *err = NULL;
    silt_spidx *ix = silt_spidx_new(NULL, &err);
    uint32_t ids[] = {1, 2};
    float w[] = {1, 2};
    silt_sparse_vec v = {2, ids, w};
    cr_assert_eq(silt_spidx_add(ix, 1, &v, &err), 0);
    double bad[] = {1.5, -0.1, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        silt_spidx_search_opts o = {0, 1, 0, bad[i]};
        silt_spidx_hit *h;
        uint32_t n;
        cr_assert_eq(silt_spidx_search(ix, &v, 1, &o, NULL, &h, &n, &err), -1);
        cr_assert(strstr(err, "block_max must be 0 (off) or a number in (0, 1]"), "%s", err);
        free(err), err = NULL;
    }
    silt_spidx_search_opts off = {0, 1, 0, 0};
    silt_spidx_hit *h;
    uint32_t n;
    cr_assert_eq(silt_spidx_search(ix, &v, 1, &off, NULL, &h, &n, &err), 0);
    cr_assert_eq(n, 1);
    free(h);
    silt_spidx_free(ix);
}

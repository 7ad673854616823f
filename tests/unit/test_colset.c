/* test_colset.c: value hashes, exact overlap and DeepJoin column text (index/colset). */
#include "index/colset.h"
#include "testutil.h"

Test(colset, overlap_is_exact_on_sorted_unique_sets) {
    int64_t a[] = {5, 1, 3, 3, 9, 1}, b[] = {3, 4, 5, 6, 5};
    size_t na = silt_colset_unique(a, 6), nb = silt_colset_unique(b, 5);
    cr_assert_eq(na, 4);
    cr_assert_eq(nb, 4);
    cr_assert_eq(a[0], 1);
    cr_assert_eq(a[3], 9);
    cr_assert_eq(silt_colset_overlap(a, na, b, nb), 2);
    cr_assert_eq(silt_colset_overlap(a, na, b, 0), 0);
    cr_assert_eq(silt_colset_unique(a, 0), 0);
}

Test(colset, hash_separates_values_and_is_stable) {
    cr_assert_neq(silt_colset_hash("alice", 5), silt_colset_hash("alicf", 5));
    cr_assert_neq(silt_colset_hash("ab", 2), silt_colset_hash("ba", 2));
    cr_assert_neq(silt_colset_hash("", 0), silt_colset_hash("a", 1));
    cr_assert_eq(silt_colset_hash("alice", 5), silt_colset_hash("alice!", 5));
    /* 20,000 distinct short strings: no collision. */
    int64_t *h = malloc(20000 * sizeof *h);
    char buf[16];
    for (int i = 0; i < 20000; i++) h[i] = silt_colset_hash(buf, (size_t)sprintf(buf, "%d", i));
    cr_assert_eq(silt_colset_unique(h, 20000), 20000);
    free(h);
}

Test(colset, deepjoin_text_format_and_budget) {
    const char *vals[] = {"alice", "bob", "carol"};
    size_t lens[] = {5, 3, 5};
    char *t = silt_colset_text("orders", "customer", vals, lens, 3, 1000);
    cr_assert_str_eq(t, "orders. customer contains 3 values (5, 3, 4.3): alice, bob, carol");
    free(t);
    t = silt_colset_text("orders", "customer", vals, lens, 3, 12);
    cr_assert_str_eq(t, "orders. customer contains 3 values (5, 3, 4.3): alice, bob");
    free(t);
    t = silt_colset_text("t", "c", NULL, NULL, 0, 100);
    cr_assert_str_eq(t, "t. c contains 0 values (0, 0, 0.0):");
    free(t);
}

/* ---- exact top-k overlap search against brute force --------------------------------- */

/* A lake held in arrays: column i (id = i + 1) has sorted unique values sets[i][0..sizes[i]). */
typedef struct {
    size_t n_cols;
    int64_t **sets;
    size_t *sizes;
    size_t n_overlap_calls;
} toy_lake;

static int toy_list_len(void *ctx, int64_t h, size_t *len) {
    toy_lake *l = ctx;
    *len = 0;
    for (size_t i = 0; i < l->n_cols; i++) *len += silt_colset_overlap(&h, 1, l->sets[i], l->sizes[i]);
    return 0;
}

static int toy_list(void *ctx, int64_t h, int64_t **ids, size_t *n, size_t *cap) {
    toy_lake *l = ctx;
    *n = 0;
    for (size_t i = 0; i < l->n_cols; i++) {
        if (!silt_colset_overlap(&h, 1, l->sets[i], l->sizes[i])) continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 4;
            *ids = realloc(*ids, *cap * sizeof **ids);
            if (!*ids) return 99;
        }
        (*ids)[(*n)++] = (int64_t)i + 1;
    }
    return 0;
}

static int toy_size(void *ctx, int64_t id, size_t *n) {
    *n = ((toy_lake *)ctx)->sizes[id - 1];
    return 0;
}

static int toy_overlap(void *ctx, int64_t id, size_t size, const int64_t *q, size_t nq, size_t *ov) {
    toy_lake *l = ctx;
    cr_assert(size == SIZE_MAX || size == l->sizes[id - 1]);
    l->n_overlap_calls++;
    *ov = silt_colset_overlap(q, nq, l->sets[id - 1], l->sizes[id - 1]);
    return 0;
}

static uint64_t rng_next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Column sets over a small domain with a skewed value distribution (long and short posting
 * lists, many tied overlaps). */
static void toy_make(toy_lake *l, size_t n_cols, size_t domain, uint64_t seed) {
    l->n_cols = n_cols;
    l->sets = calloc(n_cols, sizeof *l->sets);
    l->sizes = calloc(n_cols, sizeof *l->sizes);
    l->n_overlap_calls = 0;
    for (size_t i = 0; i < n_cols; i++) {
        size_t n = 1 + rng_next(&seed) % 40;
        l->sets[i] = malloc(n * sizeof(int64_t));
        for (size_t j = 0; j < n; j++) {
            /* The product of two uniforms favours small values: a skewed domain. */
            uint64_t a = rng_next(&seed) % domain, b = rng_next(&seed) % domain;
            l->sets[i][j] = (int64_t)(a * b / domain);
        }
        l->sizes[i] = silt_colset_unique(l->sets[i], n);
    }
}

static void toy_free(toy_lake *l) {
    for (size_t i = 0; i < l->n_cols; i++) free(l->sets[i]);
    free(l->sets);
    free(l->sizes);
}

/* Brute force: every column's overlap, sorted by (overlap desc, id asc), zeros dropped, cut to k. */
static size_t brute_topk(const toy_lake *l, const int64_t *q, size_t nq, size_t k, int64_t exclude,
                         silt_colset_hit *out) {
    size_t n = 0;
    for (size_t i = 0; i < l->n_cols; i++) {
        size_t ov = silt_colset_overlap(q, nq, l->sets[i], l->sizes[i]);
        if (ov == 0 || (int64_t)i + 1 == exclude) continue;
        out[n++] = (silt_colset_hit){(int64_t)i + 1, ov};
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: stable and small */
        for (size_t j = i; j > 0; j--) {
            silt_colset_hit *a = &out[j - 1], *b = &out[j];
            if (a->overlap > b->overlap || (a->overlap == b->overlap && a->id < b->id)) break;
            silt_colset_hit t = *a;
            *a = *b;
            *b = t;
        }
    return n < k ? n : k;
}

static silt_colset_source toy_source(toy_lake *l, int with_size) {
    return (silt_colset_source){l, toy_list_len, toy_list, with_size ? toy_size : NULL, toy_overlap};
}

Test(colset, topk_equals_brute_force_over_random_lakes) {
    const size_t ks[] = {1, 3, 10, 50, 1000};
    size_t checked = 0, pruned = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        toy_lake l;
        toy_make(&l, 300, seed % 2 ? 200 : 60, seed);
        silt_colset_hit *want = malloc(l.n_cols * sizeof *want);
        for (int qi = 0; qi < 12; qi++) {
            /* Half the queries are lake columns (excluded from their own answer). */
            int64_t q[80];
            size_t nq;
            int64_t exclude = 0;
            uint64_t s = seed * 1000 + (uint64_t)qi;
            if (qi % 2) {
                exclude = (int64_t)(rng_next(&s) % l.n_cols) + 1;
                nq = l.sizes[exclude - 1];
                memcpy(q, l.sets[exclude - 1], nq * sizeof *q);
            } else {
                nq = 1 + rng_next(&s) % 60;
                for (size_t j = 0; j < nq; j++) q[j] = (int64_t)(rng_next(&s) % 250);
                nq = silt_colset_unique(q, nq);
            }
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                for (int with_size = 0; with_size < 2; with_size++) {
                    silt_colset_source src = toy_source(&l, with_size);
                    silt_colset_hit *got = NULL;
                    size_t n_got = 0;
                    silt_colset_stats st;
                    cr_assert_eq(silt_colset_topk(&src, q, nq, ks[ki], exclude, &got, &n_got, &st), 0);
                    size_t n_want = brute_topk(&l, q, nq, ks[ki], exclude, want);
                    cr_assert_eq(n_got, n_want, "seed %d query %d k %zu: %zu hits, want %zu", (int)seed, qi,
                                 ks[ki], n_got, n_want);
                    for (size_t i = 0; i < n_got; i++) {
                        cr_assert_eq(got[i].id, want[i].id, "seed %d query %d k %zu rank %zu", (int)seed, qi,
                                     ks[ki], i);
                        cr_assert_eq(got[i].overlap, want[i].overlap);
                    }
                    cr_assert_leq(st.lists_read, nq);
                    cr_assert_leq(st.verified, st.candidates);
                    pruned += st.lists_read < nq;
                    checked++;
                    free(got);
                }
            }
        }
        free(want);
        toy_free(&l);
    }
    cr_assert_eq(checked, 8 * 12 * 5 * 2);
    cr_assert_gt(pruned, checked / 10, "the prefix filter skipped lists in only %zu of %zu searches", pruned,
                 checked);
}

Test(colset, topk_prefix_filter_skips_common_values) {
    /* Columns 1..5 hold all 20 query values; 200 more columns hold only the 10 most common
     * ones. After the 10 rare lists the top 5 are known (overlap 20 > 10 values left), so the
     * 10 long lists are never read. */
    toy_lake l = {0};
    l.n_cols = 205;
    l.sets = calloc(l.n_cols, sizeof *l.sets);
    l.sizes = calloc(l.n_cols, sizeof *l.sizes);
    int64_t q[20];
    for (int i = 0; i < 20; i++) q[i] = 100 + i;
    for (size_t i = 0; i < l.n_cols; i++) {
        l.sets[i] = malloc(20 * sizeof(int64_t));
        l.sizes[i] = i < 5 ? 20 : 10;
        for (size_t j = 0; j < l.sizes[i]; j++) l.sets[i][j] = i < 5 ? q[j] : q[10 + j];
    }
    silt_colset_source src = toy_source(&l, 1);
    silt_colset_hit *got = NULL;
    size_t n = 0;
    silt_colset_stats st;
    cr_assert_eq(silt_colset_topk(&src, q, 20, 5, -1, &got, &n, &st), 0);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(got[i].id, (int64_t)i + 1);
        cr_assert_eq(got[i].overlap, 20);
    }
    cr_assert_leq(st.lists_read, 10, "read %zu lists", st.lists_read);
    cr_assert_leq(st.postings_read, 50);
    cr_assert_eq(st.verified, 5);
    free(got);
    /* k = 0 and an empty query return nothing. */
    cr_assert_eq(silt_colset_topk(&src, q, 20, 0, -1, &got, &n, NULL), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(silt_colset_topk(&src, q, 0, 5, -1, &got, &n, NULL), 0);
    cr_assert_eq(n, 0);
    toy_free(&l);
}

static int failing_list(void *ctx, int64_t h, int64_t **ids, size_t *n, size_t *cap) {
    (void)ctx, (void)h, (void)ids, (void)n, (void)cap;
    return 42;
}

Test(colset, topk_returns_callback_errors) {
    toy_lake l;
    toy_make(&l, 20, 30, 7);
    silt_colset_source src = toy_source(&l, 1);
    src.list = failing_list;
    int64_t q[] = {1, 2, 3};
    silt_colset_hit *got = (silt_colset_hit *)&got;
    size_t n = 9;
    cr_assert_eq(silt_colset_topk(&src, q, 3, 5, -1, &got, &n, NULL), 42);
    cr_assert_null(got);
    cr_assert_eq(n, 0);
    toy_free(&l);
}

/* test_dense_index.c: the in-memory index under silt_dense (index/dense_index.h) and
 * approximate search quality: IVF trains itself once enough rows exist (exact before),
 * HNSW recall against exact search, serialisation round trips and corrupt input. */
#include "dense_testutil.h"
#include "index/dense_index.h"

static silt_dense_index *new_index(int dim, silt_metric m, const char *factory) {
    char *err = NULL;
    silt_dense_index *ix = silt_dense_index_new(dim, m, factory, &err);
    cr_assert_not_null(ix, "%s: %s", factory, err ? err : "");
    return ix;
}

static void add_all(silt_dense_index *ix, const float *x, int n, int dim, int64_t first_rowid) {
    char *err = NULL;
    for (int i = 0; i < n; i++)
        cr_assert_eq(silt_dense_index_add(ix, first_rowid + i, x + (size_t)i * dim, &err), 0, "%s", err);
}

static int64_t search_ids(silt_dense_index *ix, const float *q, int64_t k, int64_t *ids) {
    silt_dense_query opt = {.k = k};
    silt_dense_hits h;
    char *err = NULL;
    cr_assert_eq(silt_dense_index_search(ix, q, &opt, &h, &err), 0, "%s", err ? err : "");
    for (int64_t i = 0; i < h.n; i++) ids[i] = h.rowids[i];
    int64_t n = h.n;
    silt_dense_hits_free(&h);
    return n;
}

/* Fraction of the exact top-k found by the approximate index, averaged over queries. */
static double recall_at(silt_dense_index *approx, silt_dense_index *exact, const float *queries,
                        int nq, int dim, int k) {
    int64_t a[64], e[64];
    int hit = 0;
    for (int i = 0; i < nq; i++) {
        int64_t na = search_ids(approx, queries + (size_t)i * dim, k, a);
        int64_t ne = search_ids(exact, queries + (size_t)i * dim, k, e);
        for (int64_t x = 0; x < ne; x++)
            for (int64_t y = 0; y < na; y++)
                if (e[x] == a[y]) hit++;
    }
    return (double)hit / (nq * k);
}

Test(dense, ivf_trains_after_enough_rows_and_is_exact_before) {
    const int dim = 8, n = 400;
    float *x = dense_clustered(n, dim, 8, 21);
    silt_dense_index *ivf = new_index(dim, SILT_METRIC_L2, "IVF4,Flat");
    silt_dense_index *flat = new_index(dim, SILT_METRIC_L2, "Flat");
    cr_assert_eq(silt_dense_index_train_min(ivf), 4 * 39);
    add_all(ivf, x, 100, dim, 1);
    add_all(flat, x, 100, dim, 1);
    char *err = NULL;
    cr_assert_eq(silt_dense_index_flush(ivf, &err), 0);
    cr_assert(!silt_dense_index_is_trained(ivf));
    cr_assert(recall_at(ivf, flat, x + 5 * dim, 20, dim, 10) == 1.0, "untrained must be exact");
    add_all(ivf, x + 100 * dim, n - 100, dim, 101);
    add_all(flat, x + 100 * dim, n - 100, dim, 101);
    cr_assert_eq(silt_dense_index_flush(ivf, &err), 0);
    cr_assert(silt_dense_index_is_trained(ivf));
    cr_assert_eq(silt_dense_index_count(ivf), n);
    /* After training, an exhaustive probe is exact again. */
    int64_t a[10], e[10];
    silt_dense_query opt = {.k = 10, .nprobe = 4};
    silt_dense_hits h;
    cr_assert_eq(silt_dense_index_search(ivf, x, &opt, &h, &err), 0);
    cr_assert_eq(search_ids(flat, x, 10, e), 10);
    for (int i = 0; i < 10; i++) a[i] = h.rowids[i];
    for (int i = 0; i < 10; i++) cr_assert_eq(a[i], e[i]);
    silt_dense_hits_free(&h);
    silt_dense_index_free(ivf);
    silt_dense_index_free(flat);
    free(x);
}

/* Through SQL: an IVF table answers exactly while small, and keeps answering correctly
 * through training, deletes and a reopen. */
Test(dense, ivf_table_trains_in_place) {
    const char *path = dense_path("ivf.db");
    sqlite3 *db = test_open(path);
    dense_exec(db, "CREATE VIRTUAL TABLE v USING silt_dense(dim=8, index='IVF4,Flat')");
    dense_exec(db, "CREATE VIRTUAL TABLE f USING silt_dense(dim=8)");
    float *x = dense_clustered(600, 8, 8, 4);
    for (int step = 0; step < 3; step++) {
        dense_exec(db, "BEGIN");
        for (int i = step * 200; i < step * 200 + 200; i++) {
            cr_assert_eq(dense_insert(db, "v", i + 1, x + i * 8, 8), 0);
            cr_assert_eq(dense_insert(db, "f", i + 1, x + i * 8, 8), 0);
        }
        dense_exec(db, "COMMIT");
        sqlite3_int64 a[10], e[10];
        for (int qi = 0; qi < 10; qi++) {
            int na = dense_knn(db, "SELECT rowid FROM v WHERE embedding MATCH ?1 AND k = 10 AND "
                                   "nprobe = 4", x + qi * 37 * 8, 8, a, NULL, 10);
            int ne = dense_knn(db, "SELECT rowid FROM f WHERE embedding MATCH ?1 AND k = 10",
                               x + qi * 37 * 8, 8, e, NULL, 10);
            cr_assert_eq(na, ne);
            for (int i = 0; i < na; i++) cr_assert_eq(a[i], e[i], "step %d query %d", step, qi);
        }
    }
    /* small commits went to the log; 'optimize' writes the trained index as a snapshot */
    assert_query(db, "SELECT count(*) FROM v_log", "600");
    dense_exec(db, "INSERT INTO v(v) VALUES ('optimize')");
    assert_query(db, "SELECT value > 0 FROM v_info WHERE key = 'snapshot_bytes'", "1");
    sqlite3_close(db);
    db = test_open(path);
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0,0,0,0,0,0,0]' AND k = 1000",
                 "600");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    free(x);
    sqlite3_close(db);
}

Test(dense, hnsw_recall_is_high_on_clustered_data) {
    const int dim = 32, n = 5000, nq = 50;
    float *x = dense_clustered(n + nq, dim, 50, 77);
    silt_dense_index *h = new_index(dim, SILT_METRIC_L2, "HNSW32");
    silt_dense_index *f = new_index(dim, SILT_METRIC_L2, "Flat");
    add_all(h, x, n, dim, 1);
    add_all(f, x, n, dim, 1);
    double r = recall_at(h, f, x + (size_t)n * dim, nq, dim, 10);
    cr_assert_geq(r, 0.95, "HNSW32 recall@10 = %.3f", r);
    silt_dense_index_free(h);
    silt_dense_index_free(f);
    free(x);
}

Test(dense, cosine_hnsw_matches_flat_ranking) {
    const int dim = 16, n = 2000;
    float *x = dense_clustered(n, dim, 20, 5);
    silt_dense_index *h = new_index(dim, SILT_METRIC_COSINE, "HNSW16");
    silt_dense_index *f = new_index(dim, SILT_METRIC_COSINE, "Flat");
    add_all(h, x, n, dim, 1);
    add_all(f, x, n, dim, 1);
    double r = recall_at(h, f, x, 30, dim, 10);
    cr_assert_geq(r, 0.95, "recall %.3f", r);
    silt_dense_index_free(h);
    silt_dense_index_free(f);
    free(x);
}

Test(dense, serialize_round_trip_keeps_rows_and_tombstones) {
    const int dim = 4, n = 300;
    float *x = dense_clustered(n, dim, 4, 8);
    const char *factories[] = {"HNSW8", "IVF4,Flat", "Flat", "IVF4,PQ2"};
    for (size_t t = 0; t < 4; t++) {
        silt_dense_index *ix = new_index(dim, SILT_METRIC_L2, factories[t]);
        add_all(ix, x, n, dim, 1000);
        for (int i = 0; i < n; i += 3) silt_dense_index_remove(ix, 1000 + i);
        void *buf;
        size_t len;
        char *err = NULL;
        cr_assert_eq(silt_dense_index_serialize(ix, &buf, &len, &err), 0);
        silt_dense_index *back =
            silt_dense_index_deserialize(buf, len, dim, SILT_METRIC_L2, factories[t], &err);
        cr_assert_not_null(back, "%s: %s", factories[t], err ? err : "");
        cr_assert_eq(silt_dense_index_count(back), silt_dense_index_count(ix));
        cr_assert_eq(silt_dense_index_is_trained(back), silt_dense_index_is_trained(ix));
        int64_t a[20], b[20];
        for (int q = 0; q < 10; q++) {
            int64_t na = search_ids(ix, x + q * 7 * dim, 20, a), nb = search_ids(back, x + q * 7 * dim, 20, b);
            cr_assert_eq(na, nb);
            for (int i = 0; i < na; i++) {
                cr_assert_eq(a[i], b[i]);
                cr_assert((a[i] - 1000) % 3 != 0, "deleted row came back");
            }
        }
        /* Wrong table options, truncation and garbage are refused, never crash. */
        cr_assert_null(silt_dense_index_deserialize(buf, len, dim + 1, SILT_METRIC_L2, factories[t], &err));
        cr_assert_null(silt_dense_index_deserialize(buf, len, dim, SILT_METRIC_IP, factories[t], &err));
        cr_assert_null(silt_dense_index_deserialize(buf, len, dim, SILT_METRIC_L2, "HNSW4", &err));
        for (size_t cut = 0; cut < len; cut += len / 17 + 1)
            cr_assert_null(silt_dense_index_deserialize(buf, cut, dim, SILT_METRIC_L2, factories[t], &err),
                           "%s cut at %zu", factories[t], cut);
        unsigned char *junk = malloc(len);
        memcpy(junk, buf, len);
        for (size_t i = 60; i < len; i += 97) junk[i] ^= 0x5a;
        /* the checksum catches damage before FAISS reads it (its reader leaks when it throws) */
        cr_assert_null(silt_dense_index_deserialize(junk, len, dim, SILT_METRIC_L2, factories[t], &err));
        cr_assert(strstr(err, "checksum"), "%s", err);
        free(junk);
        free(err);
        free(buf);
        silt_dense_index_free(back);
        silt_dense_index_free(ix);
    }
    free(x);
}

Test(dense, buffered_adds_removed_before_flush_leave_no_trace) {
    silt_dense_index *ix = new_index(2, SILT_METRIC_L2, "HNSW8");
    float a[2] = {0, 0}, b[2] = {1, 0}, c[2] = {2, 0};
    char *err = NULL;
    cr_assert_eq(silt_dense_index_add(ix, 1, a, &err), 0);
    cr_assert_eq(silt_dense_index_add(ix, 2, b, &err), 0);
    cr_assert_eq(silt_dense_index_add(ix, 3, c, &err), 0);
    cr_assert(silt_dense_index_remove(ix, 2));
    cr_assert(!silt_dense_index_remove(ix, 2));
    cr_assert_eq(silt_dense_index_add(ix, 1, c, &err), 0); /* replace while buffered */
    cr_assert_eq(silt_dense_index_flush(ix, &err), 0);
    cr_assert_eq(silt_dense_index_count(ix), 2);
    cr_assert_eq(silt_dense_index_dead(ix), 0);
    int64_t ids[4];
    cr_assert_eq(search_ids(ix, a, 4, ids), 2);
    cr_assert(ids[0] == 1 || ids[0] == 3);
    float got[2];
    cr_assert_eq(silt_dense_index_get_vector(ix, 1, got, &err), 1);
    cr_assert(got[0] == 2 && got[1] == 0);
    cr_assert_eq(silt_dense_index_get_vector(ix, 2, got, &err), 0);
    silt_dense_index_free(ix);
}

/* efConstruction reaches every HNSW graph (bare, or an IVF's quantizer once trained),
 * a snapshot remembers it, and 'rebuild' (clear without training) keeps it. */
Test(dense, ef_construction_reaches_the_graph_and_the_snapshot) {
    const int dim = 4, n = 600;
    float *x = dense_clustered(n, dim, 4, 9);
    const char *factories[] = {"HNSW8", "IVF2_HNSW4,Flat", "PCA2,HNSW8"};
    for (size_t t = 0; t < 3; t++) {
        silt_dense_index *ix = new_index(dim, SILT_METRIC_L2, factories[t]);
        cr_assert(silt_dense_index_has_hnsw(ix));
        cr_assert_eq(silt_dense_index_ef_construction(ix), SILT_DENSE_EF_CONSTRUCTION_DEFAULT);
        silt_dense_index_set_ef_construction(ix, 33);
        char *err = NULL;
        cr_assert_eq(silt_dense_index_clear(ix, 0, &err), 0);
        add_all(ix, x, n, dim, 1);
        void *buf;
        size_t len;
        cr_assert_eq(silt_dense_index_serialize(ix, &buf, &len, &err), 0, "%s", err ? err : "");
        cr_assert(silt_dense_index_is_trained(ix), "%s", factories[t]);
        silt_dense_index *back =
            silt_dense_index_deserialize(buf, len, dim, SILT_METRIC_L2, factories[t], &err);
        cr_assert_not_null(back, "%s: %s", factories[t], err ? err : "");
        cr_assert_eq(silt_dense_index_ef_construction(back), 33, "%s: got %d", factories[t],
                     silt_dense_index_ef_construction(back));
        free(buf);
        silt_dense_index_free(back);
        silt_dense_index_free(ix);
    }
    silt_dense_index *flat = new_index(dim, SILT_METRIC_L2, "Flat");
    cr_assert_not(silt_dense_index_has_hnsw(flat));
    silt_dense_index_free(flat);
    free(x);
}

/* A flat index fed across many flushes (its storage grows several times) holds every
 * vector exactly, in slot order, and finds each one as its own nearest neighbour. */
Test(dense, flat_storage_grows_across_flushes_without_losing_vectors) {
    const int dim = 64, n = 12000; /* 3 MB: several 1 MB flushes and storage growths */
    float *x = dense_clustered(n, dim, 50, 21);
    silt_dense_index *ix = new_index(dim, SILT_METRIC_L2, "Flat");
    char *err = NULL;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(silt_dense_index_add(ix, 5 + i, x + (size_t)i * dim, &err), 0);
        if (i % 4000 == 3999) cr_assert_eq(silt_dense_index_flush(ix, &err), 0); /* mid-way */
    }
    cr_assert_eq(silt_dense_index_flush(ix, &err), 0);
    cr_assert_eq(silt_dense_index_count(ix), n);
    float got[64];
    for (int i = 0; i < n; i += 97) {
        cr_assert_eq(silt_dense_index_get_vector(ix, 5 + i, got, &err), 1);
        cr_assert_eq(memcmp(got, x + (size_t)i * dim, sizeof got), 0, "row %d", i);
        int64_t id;
        cr_assert_eq(search_ids(ix, x + (size_t)i * dim, 1, &id), 1);
        cr_assert_eq(id, 5 + i);
    }
    silt_dense_index_free(ix);
    free(x);
}

/* dense_testutil.h: helpers for the silt_dense tests (suite "dense"): databases in a
 * private temporary directory, vector inserts and k-NN queries through prepared
 * statements, deterministic data (uniform and clustered). */
#ifndef SILT_DENSE_TESTUTIL_H
#define SILT_DENSE_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "testutil.h"

/* A fresh directory for this test's database files (each Criterion test runs in its own
 * process, so a static buffer is fine). */
static inline const char *dense_tmpdir(void) {
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/silt-dense-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    return dir;
}

/* Path of file name inside the test directory (static buffer per call site is enough). */
static inline char *dense_path(const char *name) {
    static char buf[4][128];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 128, "%s/%s", dense_tmpdir(), name);
    return p;
}

static inline void dense_exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "");
}

/* Runs sql and returns its error message (malloc'd) or NULL when it succeeded. */
static inline char *dense_exec_err(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK) return NULL;
    char *m = strdup(err ? err : "?");
    sqlite3_free(err);
    return m;
}

#define assert_exec_error(db, sql, fragment)                                                  \
    do {                                                                                      \
        char *m_ = dense_exec_err((db), (sql));                                               \
        cr_assert(m_ && strstr(m_, (fragment)), "%s: expected error '%s', got '%s'", (sql),   \
                  (fragment), m_ ? m_ : "(success)");                                         \
        free(m_);                                                                             \
    } while (0)

static inline sqlite3_int64 dense_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    cr_assert(rc == SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* INSERT INTO <table>(rowid, embedding) VALUES (rowid, v). Returns the SQLite result. */
static inline int dense_insert(sqlite3 *db, const char *table, sqlite3_int64 rowid,
                               const float *v, int dim) {
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO \"%s\"(rowid, embedding) VALUES (?1, ?2)", table);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_blob(st, 2, v, dim * (int)sizeof(float), SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs a k-NN query: sql has ?1 for the query vector. Writes up to max rowids (and
 * distances when dist is not NULL) and returns how many rows came back. */
static inline int dense_knn(sqlite3 *db, const char *sql, const float *q, int dim,
                            sqlite3_int64 *ids, double *dist, int max) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    sqlite3_bind_blob(st, 1, q, dim * (int)sizeof(float), SQLITE_TRANSIENT);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n < max) {
            ids[n] = sqlite3_column_int64(st, 0);
            if (dist) dist[n] = sqlite3_column_double(st, 1);
        }
        n++;
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return n;
}

/* Whether rowid is among the k nearest neighbours of q in table (k = every row). */
static inline int dense_knn_finds(sqlite3 *db, const char *table, const float *q, int dim,
                                  sqlite3_int64 rowid) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT rowid FROM \"%s\" WHERE embedding MATCH ?1 AND k = 1000000", table);
    static sqlite3_int64 ids[100000];
    int n = dense_knn(db, sql, q, dim, ids, NULL, 100000);
    for (int i = 0; i < n && i < 100000; i++)
        if (ids[i] == rowid) return 1;
    return 0;
}

/* Deterministic pseudo-random numbers (xorshift) and Gaussians (Box-Muller). */
static inline uint32_t dense_rand(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (uint32_t)(*s >> 16);
}
static inline float dense_gauss(uint64_t *s) {
    double u = (dense_rand(s) + 1.0) / 4294967297.0, v = (dense_rand(s) + 1.0) / 4294967297.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* n clustered vectors of dim (n_clusters Gaussian blobs, spread 0.1 around unit-scale
 * centres): realistic for approximate indexes, unlike uniform noise. */
static inline float *dense_clustered(int n, int dim, int n_clusters, uint64_t seed) {
    float *c = malloc(sizeof(float) * (size_t)n_clusters * dim);
    float *x = malloc(sizeof(float) * (size_t)n * dim);
    cr_assert(c && x);
    for (int i = 0; i < n_clusters * dim; i++) c[i] = dense_gauss(&seed);
    for (int i = 0; i < n; i++) {
        int cl = (int)(dense_rand(&seed) % (uint32_t)n_clusters);
        for (int j = 0; j < dim; j++) x[i * dim + j] = c[cl * dim + j] + 0.1f * dense_gauss(&seed);
    }
    free(c);
    return x;
}

#endif

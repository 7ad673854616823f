/* test_hostile.c: regression tests for the crashes and memory errors the fuzzers found
 * (tests/fuzz/, `make fuzz`); each reproducer is also in the fuzz seed corpus named below.
 * In the plain build a regression shows as a crashed test; in `make sanitize` the memory
 * errors are reported too. */
#include <stdlib.h>
#include <string.h>

#include "core/sparse_vec.h"
#include "core/tfjs.h"
#include "index/faiss_factory.h"
#include "tests/unit/modeltest_util.h"
#include "tests/unit/testutil.h"

/* corpus/vtab_args/crash_*: FAISS's index_factory divided by zero (PQ0, NSG8), crashed
 * (IVF0), looped forever (HNSW1) or allocated without bound (IVF100000000): the
 * host process died. Each is now an SQL error naming the part at fault, and no table is
 * left behind. */
Test(hostile, faiss_factory_crashers_are_sql_errors) {
    static const struct {
        const char *factory, *fragment;
    } cases[] = {
        {"PQ0", "the PQ sub-quantizer count m must be an integer between 1 and 8, got '0'"},
        {"IVF0,Flat", "the IVF list count nlist must be an integer between 1 and 262144"},
        {"IVF100000000,Flat", "got '100000000'"},
        {"HNSW1", "the HNSW neighbour count M must be an integer between 2 and 512, got '1'"},
        {"NSG8", "'NSG8' is not a supported index"},
        {"Residual0x8,Flat", "'Residual0x8' is not a supported index"},
        {"IVF4,PQ0", "got '0'"},
        {"HNSW32,PQ0", "got '0'"},
        {"PQ8x0", "the PQ bits per code must be an integer between 1 and 16"},
        {"PQ8x64", "got '64'"},
        /* corpus/vtab_args/leak_ivf4_pq5: FAISS leaked the half-built index on this one. */
        {"IVF4,PQ5", "PQ5: the dimension 8 is not a multiple of m = 5"},
    };
    sqlite3 *db = test_open(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *sql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING silt_dense(dim=8, index='%q')",
                                    cases[i].factory);
        char *frag = sqlite3_mprintf("silt_dense: index '%s' for dim 8: ", cases[i].factory);
        assert_error(db, sql, frag);
        assert_error(db, sql, cases[i].fragment);
        assert_query(db, "SELECT count(*) FROM sqlite_schema", "0");
        sqlite3_free(sql);
        sqlite3_free(frag);
    }
    sqlite3_close(db);
}

Test(hostile, faiss_factory_grammar) {
    static const char *const good[] = {
        "Flat", "LSH", "HNSW32", "HNSW8,Flat", "HNSW8_Flat", "HNSW8,PQ4", "HNSW2,SQfp16",
        "PQ8", "PQ4x4fs", "PQ8x16", "SQ4", "SQ8", "IVF4,Flat", "IVF262144,Flat",
        "IVF4_HNSW8,PQ2x8", "IVF4,PQ4x4fs", "PCA4,Flat", "PCAR4,HNSW8", "PCAWR4,Flat",
        "OPQ4_16,PQ4", "L2norm,Flat", "PCA4,L2norm,OPQ2,IVF4_HNSW8,PQ2x8", "PCA6,PQ3",
        "OPQ2_6,PQ3",
    };
    static const char *const bad[] = {
        "", "HNSW0", "HNSW513", "HNSW08", "HNSW32x", "PQ9", "PQ8x17", "SQ0", "IVF4",
        "IVF4,Flat,Flat", "IVF262145,Flat", "IVF4_HNSW1,Flat", "PCA0,Flat", "OPQ4_0,PQ4",
        "L2norm", "PCA4", "Flat,PQ4", "PQ2,Flat", "HNSW8,", ",Flat", "IVF4, Flat",
        "IVF99999999999999999999,Flat", "RQ2x8", "IDMap,Flat", "NSG32", "LSHrt",
        "PQ3", "IVF4,PQ5", "OPQ3,PQ4", "OPQ4_6,PQ4", "PCA6,PQ4", "HNSW8,PQ3",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *err = NULL;
        cr_expect_eq(silt_faiss_factory_check(good[i], 8, &err), 0, "%s: %s", good[i], err);
        free(err);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err = NULL;
        cr_expect_eq(silt_faiss_factory_check(bad[i], 8, &err), -1, "%s accepted", bad[i]);
        cr_expect(err && *err, "%s: no message", bad[i]);
        free(err);
    }
}

/* corpus/sparse/asan_empty_text_overread: the error message of a bad sparse JSON read the
 * text as a C string, past the len bytes it was given. */
Test(hostile, sparse_json_error_reads_only_len_bytes) {
    char *buf = malloc(8);
    cr_assert(buf);
    memcpy(buf, "[1]SECRE", 8);
    silt_sparse_vec v;
    char *err = NULL;
    cr_assert_eq(silt_sparse_from_json(buf, 3, NULL, NULL, &v, &err), -1);
    cr_assert(err && strstr(err, "got '[1]'") && !strstr(err, "SECRE"), "%s", err);
    free(err);
    err = NULL;
    cr_assert_eq(silt_sparse_from_json(buf, 0, NULL, NULL, &v, &err), -1);
    cr_assert(err && strstr(err, "got ''"), "%s", err);
    free(err);
    free(buf);
}

/* corpus/vtab_args/ubsan_sparse_merge_null: committing to a fresh silt_sparse table merged
 * zero segments through a NULL array (undefined behaviour, reported by UBSan). */
Test(hostile, sparse_first_commit_on_empty_index) {
    sqlite3 *db = test_open(NULL);
    assert_query(db, "CREATE VIRTUAL TABLE t USING silt_sparse", "(null)");
    assert_query(db, "INSERT INTO t(rowid, terms) VALUES (1, '{\"1\": 0.5, \"7\": 2}')", "(null)");
    assert_query(db, "SELECT group_concat(rowid) FROM t WHERE terms MATCH '{\"7\": 1}' AND k = 3", "1");
    sqlite3_close(db);
}

/* corpus/sparse/crash_flt_max_round_trip: a weight of -FLT_MAX written as JSON by
 * silt_sparse_to_json ("-3.4028235e+38", its shortest text) did not parse back: the check
 * compared the double with FLT_MAX instead of asking whether it rounds to a finite float. */
Test(hostile, sparse_json_accepts_what_rounds_to_a_finite_float) {
    silt_sparse_vec v = {0};
    char *err = NULL;
    const char *ok = "{\"1\": -3.4028235e+38, \"2\": 3.4028235e+38}";
    cr_assert_eq(silt_sparse_from_json(ok, strlen(ok), NULL, NULL, &v, &err), 0, "%s", err);
    cr_assert_eq(v.n, 2);
    cr_assert_eq(v.weights[0], -3.4028234663852886e38f);
    silt_sparse_vec_free(&v);
    const char *bad = "{\"1\": 3.5e38}";
    cr_assert_eq(silt_sparse_from_json(bad, strlen(bad), NULL, NULL, &v, &err), -1);
    cr_assert(err && strstr(err, "not a finite float32"), "%s", err);
    free(err);
}

/* corpus/tfjs/oom_manifest_larger_than_shards: a model.json whose weights claim 6.8 GB made
 * the loader allocate that much before it looked at the (tiny) shard files. The allocation
 * itself is caught by make fuzz-smoke (libFuzzer's malloc limit, on the corpus entry); here,
 * that the error names the shards. */
Test(hostile, tfjs_manifest_larger_than_its_shards) {
    char *dir = mt_tmpdir(), *json = mt_path(dir, "model.json"), *shard = mt_path(dir, "w.bin");
    const char *manifest =
        "{\"modelTopology\": {}, \"weightsManifest\": [{\"paths\": [\"w.bin\"], \"weights\": "
        "[{\"name\": \"big\", \"shape\": [1700000000], \"dtype\": \"float32\"}]}]}";
    mt_write(json, manifest, strlen(manifest));
    mt_write(shard, "\0\0\0\0\0\0\0\0", 8);
    char *err = NULL;
    silt_tfjs_model *m = silt_tfjs_open(dir, &err);
    cr_assert_null(m);
    cr_assert(err && strstr(err, "shard files hold 8 bytes"), "%s", err ? err : "(no error)");
    free(err);
    free(json);
    free(shard);
    mt_rmrf(dir);
}

/* fuzz_sqlfuncs.c: libFuzzer target for silt's SQL functions on hostile values, through the
 * static build: the input is bound as TEXT and as a BLOB to vector functions (silt_vec,
 * silt_vec_json, silt_normalize, distances), sparse functions (silt_sparse_json), model
 * functions on the tiny BERT of tests/data (silt_tokenize, silt_embed, options JSON) and
 * silt_chunks (words and model tokens). Every call must give a value or an SQL error.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_sqlfuncs tests/fuzz/corpus/sqlfuncs */
#include "tests/fuzz/fuzz_util.h"

#include <sqlite3.h>

#include "include/silt.h"

static sqlite3 *db;

static const char *const QUERIES[] = {
    "SELECT silt_vec(?1)",
    "SELECT silt_vec_json(?1)",
    "SELECT silt_vec_dim(?1)",
    "SELECT silt_normalize(?1)",
    "SELECT silt_distance_l2(?1, ?1)",
    "SELECT silt_distance_cosine(?1, '[1, 0, 0, 0]')",
    "SELECT silt_dot('[1, 2]', ?1)",
    "SELECT silt_sparse_json(?1)",
    "SELECT silt_sparse_json(?1, 'tb')",
    "SELECT silt_tokenize('tb', ?1)",
    "SELECT silt_embed('tb', ?1)",
    "SELECT silt_embed('tb', 'hello', ?1)",
    "SELECT silt_tokenize('tb', 'hello', ?1)",
    "SELECT silt_embed(?1, 'hello')",
    "SELECT count(*), max(\"end\") FROM silt_chunks(?1)",
    "SELECT count(*) FROM silt_chunks(?1, 'tb', 6, 2)",
    "SELECT count(*) FROM silt_chunks('one two three four', NULL, ?1, 1)",
};
#define N_QUERIES (sizeof QUERIES / sizeof *QUERIES)
static sqlite3_stmt *stmts[N_QUERIES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char *err = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || sqlite3_silt_init(db, &err, NULL) != SQLITE_OK)
        abort();
    if (sqlite3_exec(db, "SELECT silt_model_register('tb', '" SILT_FUZZ_REPO "/tests/data/tiny-bert')",
                     NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < N_QUERIES; i++)
        if (sqlite3_prepare_v2(db, QUERIES[i], -1, &stmts[i], NULL) != SQLITE_OK) {
            fprintf(stderr, "fuzz setup: %s: %s\n", QUERIES[i], sqlite3_errmsg(db));
            abort();
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    for (int as_blob = 0; as_blob < 2; as_blob++) {
        for (size_t i = 0; i < N_QUERIES; i++) {
            sqlite3_stmt *st = stmts[i];
            if (as_blob) sqlite3_bind_blob(st, 1, data, (int)size, SQLITE_TRANSIENT);
            else sqlite3_bind_text(st, 1, (const char *)data, (int)size, SQLITE_TRANSIENT);
            int rc;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                for (int c = 0; c < sqlite3_column_count(st); c++) (void)sqlite3_column_bytes(st, c);
            }
            FUZZ_CHECK(rc == SQLITE_DONE || rc == SQLITE_ERROR || rc == SQLITE_TOOBIG ||
                       rc == SQLITE_RANGE || rc == SQLITE_MISMATCH);
            if (rc != SQLITE_DONE) FUZZ_CHECK(sqlite3_errmsg(db)[0] != 0);
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
        }
    }
    return 0;
}

/* testutil.h: helpers shared by the Criterion unit tests. */
#ifndef SILT_TESTUTIL_H
#define SILT_TESTUTIL_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/silt.h"

/* Opens an in-memory database with silt registered (static build). */
static inline sqlite3 *test_open(const char *path) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path ? path : ":memory:", &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_silt_init(db, &err, NULL);
    cr_assert_eq(rc, SQLITE_OK, "silt init: %s", err ? err : "");
    return db;
}

/* Runs sql and returns the first column of the first row as a malloc'd string (NULL for
 * SQL NULL); on error returns "ERROR: <message>". */
static inline char *test_query1(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        const char *m = sqlite3_errmsg(db);
        out = malloc(strlen(m) + 8);
        sprintf(out, "ERROR: %s", m);
        return out;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t) out = strdup((const char *)t);
    } else if (rc != SQLITE_DONE) {
        const char *m = sqlite3_errmsg(db);
        out = malloc(strlen(m) + 8);
        sprintf(out, "ERROR: %s", m);
    }
    sqlite3_finalize(st);
    return out;
}

/* Asserts that sql's first value equals expected (text comparison). */
#define assert_query(db, sql, expected)                                                       \
    do {                                                                                      \
        char *got_ = test_query1((db), (sql));                                                \
        cr_assert_str_eq(got_ ? got_ : "(null)", (expected), "%s", (sql));                    \
        free(got_);                                                                           \
    } while (0)

/* Asserts that sql fails with a message containing fragment. */
#define assert_error(db, sql, fragment)                                                       \
    do {                                                                                      \
        char *got_ = test_query1((db), (sql));                                                \
        cr_assert(got_ && strncmp(got_, "ERROR: ", 7) == 0 && strstr(got_, (fragment)),       \
                  "%s: expected error with '%s', got '%s'", (sql), (fragment),                \
                  got_ ? got_ : "(null)");                                                    \
        free(got_);                                                                           \
    } while (0)

#endif

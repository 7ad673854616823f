/* embed_app.c: an application that links libsilt.a statically and uses silt through
 * sqlite3_auto_extension, as api.md describes:
 *
 *   cc embed_app.c $(pkg-config --static --libs build/silt.pc) -lsqlite3
 *
 * It opens an in-memory database, ranks three stored vectors by their distance to a query
 * and prints them; it exits non-zero if anything is not as expected. */
#include <stdio.h>
#include <string.h>

#include "silt.h"

int main(void) {
    sqlite3_auto_extension((void (*)(void))sqlite3_silt_init);
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    const char *setup =
        "CREATE TABLE docs(id INTEGER PRIMARY KEY, title TEXT, v BLOB);"
        "INSERT INTO docs VALUES (1, 'north', silt_vec('[0, 1]')),"
        "                        (2, 'east',  silt_vec('[1, 0]')),"
        "                        (3, 'north-east', silt_vec('[0.7, 0.7]'));";
    char *err = NULL;
    if (sqlite3_exec(db, setup, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    sqlite3_stmt *st;
    const char *q = "SELECT id, title, silt_distance_cosine(v, ?1) AS d FROM docs ORDER BY d";
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_bind_text(st, 1, "[0.2, 1.0]", -1, SQLITE_STATIC);
    printf("silt %s, nearest to [0.2, 1.0] by cosine distance:\n", SILT_VERSION);
    int first = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (first < 0) first = sqlite3_column_int(st, 0);
        printf("  %d %-11s %.4f\n", sqlite3_column_int(st, 0),
               (const char *)sqlite3_column_text(st, 1), sqlite3_column_double(st, 2));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (first != 1) {
        fprintf(stderr, "expected row 1 first, got %d\n", first);
        return 1;
    }
    return 0;
}

/* join_column.h: reading a column for silt_join, the same way for the query column of a search
 * and for a column being indexed: its distinct non-empty values, most frequent first (ties in
 * SQLite's order of values, i.e. SQLite's "GROUP BY v ORDER BY count(*) DESC, v"), and the
 * sorted, unique 64-bit hashes of their text forms (index/colset.h).
 *
 * Both orders matter outside this file: the hashes are the exact layer's sets, and the order
 * makes the column's DeepJoin text, whose digest decides whether a stored embedding is reused.
 * So there is one definition, SQLite's statement, and a faster way of getting the same result
 * for the common case (a table column with the BINARY collation): one pass over the column,
 * values grouped and ordered in C. The grouping in SQLite's sorter was about a third of the
 * cost of reading a query column of the 100,000-column benchmark lake (bench/README.md, join),
 * and both search modes pay it. tests/unit/test_join_column.c checks that the two ways agree. */
#ifndef SILT_JOIN_COLUMN_H
#define SILT_JOIN_COLUMN_H

#include <stddef.h>
#include <stdint.h>

#include "sqlext/sqlite.h"

typedef struct {
    char **values;  /* n_values texts (NUL-terminated, lens[i] bytes before the NUL), pointing into buf */
    size_t *lens;
    size_t n_values; /* distinct values (as SQLite compares them) */
    sqlite3_int64 n_rows; /* rows holding a value (not NULL, not '') */
    int64_t *hashes; /* sorted, unique */
    size_t n_hashes; /* fewer than n_values when two values share a text form (3 and 3.0) */
    char *buf;       /* the texts */
    int fast;        /* read the one-pass way (SILT_JOIN_READ_FAST taken, for tests) */
} silt_join_column;

/* How silt_join_column_read reads: SQL is the definition (any view, collation or type), FAST
 * takes the one-pass way where it gives the same result and SQL elsewhere. Tests use SQL to
 * check FAST. */
enum { SILT_JOIN_READ_FAST, SILT_JOIN_READ_SQL };

/* Reads column col of schema.table into *out. Returns SQLITE_OK; SQLITE_NOMEM; or
 * SQLITE_ERROR with *err a message (sqlite3_malloc'd) for a missing table or column or a
 * failed read. *out is empty unless SQLITE_OK. */
int silt_join_column_read(sqlite3 *db, const char *schema, const char *table, const char *col, int how,
                          silt_join_column *out, char **err);
void silt_join_column_free(silt_join_column *c);

#endif

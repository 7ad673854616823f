/* infer.h: schema inference for ingested files: the type of a text value, the type of a
 * column, whether the first record is a header, and valid, unique column names.
 *
 * Types are chosen to be safe: a column is INTEGER only when every non-empty value is a
 * canonical decimal integer that fits in 64 bits (no sign '+', no leading zeros, no spaces:
 * "007" and "02134" stay text, so identifiers and ZIP codes survive), REAL when every
 * non-empty value is a decimal number (integers included; no NaN/Inf, no thousands
 * separators), TEXT otherwise, and ANY (no declared type) when all values are empty.
 * Missing-value markers
 * (NA, N/A, NaN, NULL, None, #N/A...) count as empty: NULL in a numeric column, kept as text
 * in a TEXT column. */
#ifndef SILT_INGEST_INFER_H
#define SILT_INGEST_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/rows.h"

/* Declared column types. NUMERIC and BLOB are only reachable through the "types" option.
 * ANY is no declared type (BLOB affinity): for a column with no value in the sample, whose
 * later values are stored as they come (numbers as numbers, text as text). */
typedef enum silt_coltype {
    SILT_COL_INTEGER,
    SILT_COL_REAL,
    SILT_COL_TEXT,
    SILT_COL_NUMERIC,
    SILT_COL_BLOB,
    SILT_COL_ANY,
} silt_coltype;

/* The type as written in CREATE TABLE ("" for ANY). */
const char *silt_coltype_name(silt_coltype t);
/* Parses a type name (case-insensitive); 0, or -1 when it is none of the five named ones. */
int silt_coltype_parse(const char *name, silt_coltype *t);
/* The type SQLite's affinity rules give a declared type (for appending to an existing
 * table): INT -> INTEGER, CHAR/CLOB/TEXT -> TEXT, BLOB -> BLOB, none -> ANY, REAL/FLOA/DOUB
 * -> REAL, otherwise NUMERIC. */
silt_coltype silt_coltype_from_decl(const char *decl);

/* What a text value looks like. */
typedef enum silt_valclass {
    SILT_CLASS_EMPTY, /* "" or a missing-value marker: NA N/A n/a NaN nan #NA NULL null None #N/A */
    SILT_CLASS_INT,  /* *iv set */
    SILT_CLASS_REAL, /* *dv set */
    SILT_CLASS_TEXT,
} silt_valclass;

/* Classifies s (n_bytes, NUL-terminated at s[n_bytes]) and parses it when numeric. */
silt_valclass silt_infer_classify(const char *s, size_t n_bytes, int64_t *iv, double *dv);

/* Counts of value classes seen in one column. */
typedef struct silt_colstats {
    int64_t n_int;   /* integers (and JSON booleans) */
    int64_t n_real;  /* other numbers */
    int64_t n_text;  /* anything else non-empty (JSON strings and nested values included) */
    int64_t n_empty; /* empty fields and NULLs */
} silt_colstats;

void silt_colstats_add(silt_colstats *st, const silt_rows *r, const silt_field *f);
silt_coltype silt_colstats_type(const silt_colstats *st);

/* Decides whether record 0 of r is a header, given the records that follow it (up to
 * n_rows in all). Votes: a numeric column whose first value is text or a year-like integer over
 * other numbers (a "2018" column name) is for a header; a number over a column without
 * numbers is for; a number over a numeric column is against. A tie goes to "header" when
 * the first record has text and no numbers (most files have a header; header:false says
 * otherwise). */
int silt_infer_has_header(const silt_rows *r, size_t n_rows, size_t n_cols);

/* The same in two steps, so that the column statistics serve for the types too:
 * silt_infer_sample_stats fills st[j] (zeroed by the caller) with the classes of column j
 * over records 1..n_rows-1 and sets non_year[j] when one of them is a number that is not
 * year-like, for columns j0..j1-1, in one pass over the records (a pass per column would
 * walk the whole sample once per column); silt_infer_header_vote decides from them. */
void silt_infer_sample_stats(const silt_rows *r, size_t n_rows, size_t j0, size_t j1, silt_colstats *st,
                             unsigned char *non_year);
/* Classifies every SILT_VAL_RAW field of r not yet classified, storing the class and number
 * in the field (silt_field.cls and .v). The parser thread does this as it hands a batch over,
 * so that neither the statistics pass nor binding on the inserting thread, a load's critical
 * path, parses a value's text again. */
void silt_infer_classify_rows(silt_rows *r);

/* The class of RAW field f of r and its number (*iv for INT, *dv for REAL): the one stored
 * by silt_infer_classify_rows, or silt_infer_classify's when the field was not classified. */
silt_valclass silt_infer_field_class(const silt_rows *r, const silt_field *f, int64_t *iv, double *dv);

/* The same statistics over records i0..i1-1 (record i0 counts, whatever its index), added
 * to st and non_year: for a sample that arrives in parts. */
void silt_infer_rows_stats(const silt_rows *r, size_t i0, size_t i1, size_t j0, size_t j1, silt_colstats *st,
                           unsigned char *non_year);
int silt_infer_header_vote(const silt_rows *r, size_t n_rows, size_t n_cols, const silt_colstats *st,
                           const unsigned char *non_year);

/* Makes n column names valid and unique: control characters become spaces, surrounding
 * spaces are trimmed, an empty name becomes "col<N>" (N = 1-based position), and a name
 * equal to an earlier one (ignoring ASCII case, as SQLite does) gets "_2", "_3", ...
 * raw[j] may be NULL (treated as empty). Returns a malloc'd array of n malloc'd strings
 * (free with silt_infer_free_names), or NULL with *err set. */
char **silt_infer_names(const char *const *raw, size_t n, char **err);
void silt_infer_free_names(char **names, size_t n);

#endif

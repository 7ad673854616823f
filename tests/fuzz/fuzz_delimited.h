/* fuzz_delimited.h: the body of the CSV and TSV libFuzzer targets (fuzz_csv.c, fuzz_tsv.c),
 * which differ only in the delimiter and quote they pass to the reader. The input is fed in
 * chunks whose size comes from the first byte (records straddle chunk boundaries), then the
 * schema inference the ingest runs on a sample (header vote, column names, column types)
 * runs on what was read, as sqlext/ingest_load.c does. Oracles: chunking does not change the
 * records, and they are the records (fields, lines) and errors of the libcsv-based reader
 * ingest/csv_reader.c replaced (tests/ref/csv_libcsv.c): error messages are compared when the
 * input has no CR (see test_ingest_readers.c), and without quoting only when it has no NUL
 * (libcsv cannot turn quoting off and takes NUL as the quote). */
#ifndef SILT_FUZZ_DELIMITED_H
#define SILT_FUZZ_DELIMITED_H

#include "tests/fuzz/fuzz_util.h"

#include "ingest/csv_reader.h"
#include "ingest/infer.h"
#include "tests/ref/csv_libcsv.h"

typedef struct read_result {
    long n;             /* records, or -1 on error */
    uint64_t digest;    /* FNV-1a over every record's line, field count and fields */
    char err[160];      /* the error message */
} read_result;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    return h;
}

static void digest_rows(const silt_rows *r, uint64_t *h) {
    for (size_t i = 0; i < r->n_rows; i++) {
        *h = fnv(*h, &r->rows[i].line, sizeof r->rows[i].line);
        *h = fnv(*h, &r->rows[i].n_fields, sizeof r->rows[i].n_fields);
        for (uint32_t j = 0; j < r->rows[i].n_fields; j++) {
            const silt_field *f = silt_rows_field(r, i, j);
            *h = fnv(*h, &f->n_bytes, sizeof f->n_bytes);
            *h = fnv(*h, silt_rows_text(r, f), f->n_bytes);
        }
    }
}

/* Reads data in chunks with ctor's reader, clearing the records after each chunk as the
 * pipeline does. */
static read_result read_ref(silt_reader *(*ctor)(char, int, silt_rows *, char **), char delim, int quote,
                            const uint8_t *data, size_t size, size_t chunk) {
    read_result res = {.n = 0, .digest = 14695981039346656037ULL};
    silt_rows rows;
    silt_rows_init(&rows);
    char *err = NULL;
    silt_reader *rd = ctor(delim, quote, &rows, &err);
    FUZZ_CHECK(rd);
    int bad = 0;
    for (size_t at = 0; at < size && !bad; at += chunk) {
        bad = rd->feed(rd, (const char *)data + at, size - at < chunk ? size - at : chunk, &err) != 0;
        res.n += (long)rows.n_rows;
        digest_rows(&rows, &res.digest);
        silt_rows_clear(&rows);
    }
    if (!bad) bad = rd->finish(rd, &err) != 0;
    res.n += (long)rows.n_rows;
    digest_rows(&rows, &res.digest);
    if (bad) {
        res.n = -1;
        snprintf(res.err, sizeof res.err, "%s", err ? err : "?");
    }
    free(err);
    silt_reader_free(rd);
    silt_rows_free(&rows);
    return res;
}

/* Reads data in chunks of chunk bytes; returns the number of records, or -1 on error. */
static long read_all(char delim, int quote, const uint8_t *data, size_t size, size_t chunk,
                     int infer) {
    silt_rows rows;
    silt_rows_init(&rows);
    char *err = NULL;
    silt_reader *rd = silt_csv_reader_new(delim, quote, &rows, &err);
    FUZZ_CHECK(rd);
    long n = -1;
    size_t at = 0;
    int bad = 0;
    while (at < size && !bad) {
        size_t take = size - at < chunk ? size - at : chunk;
        bad = rd->feed(rd, (const char *)data + at, take, &err) != 0;
        at += take;
    }
    if (!bad) bad = rd->finish(rd, &err) != 0;
    if (!bad) {
        n = (long)rows.n_rows;
        if (infer && rows.n_rows) {
            size_t n_cols = rows.rows[0].n_fields;
            for (size_t i = 0; i < rows.n_rows; i++)
                if (rows.rows[i].n_fields > n_cols) n_cols = rows.rows[i].n_fields;
            if (n_cols > 4096) n_cols = 4096;
            int header = silt_infer_has_header(&rows, rows.n_rows, rows.rows[0].n_fields);
            const char **raw = calloc(n_cols ? n_cols : 1, sizeof *raw);
            FUZZ_CHECK(raw);
            for (size_t j = 0; j < n_cols; j++) {
                const silt_field *f = silt_rows_field(&rows, 0, j);
                raw[j] = f ? silt_rows_text(&rows, f) : NULL;
            }
            char **names = silt_infer_names(raw, n_cols, NULL);
            if (names) {
                for (size_t j = 0; j < n_cols; j++) {
                    FUZZ_CHECK(names[j] && names[j][0]);
                    for (size_t k = 0; k < j; k++) FUZZ_CHECK(strcasecmp(names[j], names[k]) != 0);
                }
                silt_infer_free_names(names, n_cols);
            }
            free(raw);
            for (size_t j = 0; j < n_cols; j++) {
                silt_colstats st = {0};
                for (size_t i = header ? 1 : 0; i < rows.n_rows; i++)
                    silt_colstats_add(&st, &rows, silt_rows_field(&rows, i, j));
                (void)silt_coltype_name(silt_colstats_type(&st));
            }
        }
    }
    free(err);
    silt_reader_free(rd);
    silt_rows_free(&rows);
    return n;
}

static int fuzz_delimited(char delim, int quote, const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t chunk = 1 + data[0] % 17;
    long whole = read_all(delim, quote, data + 1, size - 1, size, 1);
    long pieces = read_all(delim, quote, data + 1, size - 1, chunk, 0);
    FUZZ_CHECK(whole == pieces);
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    if (quote == SILT_CSV_NO_QUOTE && memchr(in, 0, n)) return 0;
    read_result want = read_ref(silt_ref_csv_reader_new, delim, quote, in, n, n ? n : 1);
    read_result got = read_ref(silt_csv_reader_new, delim, quote, in, n, chunk);
    FUZZ_CHECK((want.n < 0) == (got.n < 0));
    if (want.n >= 0) FUZZ_CHECK(want.n == got.n && want.digest == got.digest);
    else if (!memchr(in, '\r', n)) FUZZ_CHECK(strcmp(want.err, got.err) == 0);
    return 0;
}

#endif

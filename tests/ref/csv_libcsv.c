/* csv_libcsv.c: the CSV/TSV reader silt used before ingest/csv_reader.c, over libcsv's
 * streaming parser (Debian's libcsv-dev), kept as the reference that the unit tests and
 * tests/fuzz/fuzz_csv.c compare ingest/csv_reader.c with. Same interface and grammar (see
 * ingest/csv_reader.h), except that libcsv cannot turn quoting off: without a quote
 * character it treats NUL as one.
 *
 * Line numbers: libcsv reports a record's end and the byte that ended it, not positions,
 * so the reader counts lines itself. With CSV_REPALL_NL every CR or LF outside a record is
 * reported as an empty record: the LF of a CRLF pair is recognised by following a CR, other
 * empty records are blank lines. Newlines inside quoted fields are counted from the field
 * text. A parse error's line comes from counting newlines in the bytes fed. */
#include "tests/ref/csv_libcsv.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef struct csv_rd {
    silt_reader base;
    struct csv_parser parser; /* libcsv state, holds the field being parsed */
    int64_t nl_in_record;     /* LFs inside the fields of the record under construction */
    int64_t nl_fed;           /* LFs in all bytes handed to libcsv so far */
    int prev_end_cr;          /* the last record or blank line ended with a CR */
    int bom_done;             /* the first bytes have been checked for a BOM */
    unsigned char bom[3];     /* first bytes held back while checking for a BOM */
    size_t n_bom;             /* bytes in bom */
    int oom;                  /* an allocation failed inside a libcsv callback */
} csv_rd;

static int no_space(unsigned char c) {
    (void)c;
    return 0;
}

static size_t count_lf(const char *s, size_t n) {
    size_t k = 0;
    const char *end = s + n;
    while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) k++, s++;
    return k;
}

static void on_field(void *s, size_t len, void *data) {
    csv_rd *rd = data;
    if (rd->oom) return;
    if (silt_rows_add_text(rd->base.rows, SILT_VAL_RAW, s, len)) rd->oom = 1;
    if (len) rd->nl_in_record += (int64_t)count_lf(s, len);
    rd->prev_end_cr = 0;
}

static void on_record(int c, void *data) {
    csv_rd *rd = data;
    silt_rows *rows = rd->base.rows;
    if (rd->oom) return;
    if (silt_rows_cur_fields(rows) == 0) {
        if (c == '\n' && rd->prev_end_cr) {
            rd->prev_end_cr = 0; /* second half of CRLF */
            return;
        }
        if (c == '\n' || c == '\r') rows->cur_line++; /* blank line */
        rd->prev_end_cr = c == '\r';
        return;
    }
    int64_t next_line = rows->cur_line + rd->nl_in_record + 1;
    rd->nl_in_record = 0;
    rd->prev_end_cr = c == '\r';
    if (silt_rows_end(rows, next_line)) rd->oom = 1;
}

static int parse(csv_rd *rd, const char *data, size_t n, char **err) {
    size_t done = csv_parse(&rd->parser, data, n, on_field, on_record, rd);
    if (rd->oom) return silt_err(err, "out of memory reading CSV");
    if (done != n) {
        if (csv_error(&rd->parser) == CSV_EPARSE)
            return silt_err(err,
                            "line %lld: malformed quoted field (a quote inside an unquoted "
                            "field, or text after a closing quote)",
                            (long long)(1 + rd->nl_fed + (int64_t)count_lf(data, done)));
        return silt_err(err, "CSV parser: %s", csv_strerror(csv_error(&rd->parser)));
    }
    rd->nl_fed += (int64_t)count_lf(data, n);
    silt_rows *rows = rd->base.rows;
    if (rd->parser.entry_pos + (rows->arena_bytes - rows->cur_arena) >
        SILT_READER_MAX_RECORD_BYTES)
        return silt_err(err, "line %lld: record longer than %zu MiB (unterminated quote?)",
                        (long long)rows->cur_line, SILT_READER_MAX_RECORD_BYTES >> 20);
    return 0;
}

/* Holds back the first three bytes until it is known whether they are a UTF-8 BOM. */
static int csv_feed(silt_reader *base, const char *data, size_t n, char **err) {
    csv_rd *rd = (csv_rd *)base;
    if (!rd->bom_done) {
        static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
        while (n && rd->n_bom < 3 && (unsigned char)*data == bom[rd->n_bom]) {
            rd->bom[rd->n_bom++] = (unsigned char)*data;
            data++, n--;
        }
        if (rd->n_bom == 3) {
            rd->bom_done = 1;
        } else if (n) { /* not a BOM: the held bytes are data */
            rd->bom_done = 1;
            if (rd->n_bom && parse(rd, (const char *)rd->bom, rd->n_bom, err)) return -1;
        }
    }
    return n ? parse(rd, data, n, err) : 0;
}

static int csv_finish(silt_reader *base, char **err) {
    csv_rd *rd = (csv_rd *)base;
    if (!rd->bom_done && rd->n_bom < 3) {
        rd->bom_done = 1;
        if (rd->n_bom && parse(rd, (const char *)rd->bom, rd->n_bom, err)) return -1;
    }
    if (csv_fini(&rd->parser, on_field, on_record, rd) != 0) {
        if (rd->oom) return silt_err(err, "out of memory reading CSV");
        if (csv_error(&rd->parser) == CSV_EPARSE)
            return silt_err(err, "line %lld: quoted field not closed before the end of the input",
                            (long long)rd->base.rows->cur_line);
        return silt_err(err, "CSV parser: %s", csv_strerror(csv_error(&rd->parser)));
    }
    if (rd->oom) return silt_err(err, "out of memory reading CSV");
    return 0;
}

static void csv_destroy(silt_reader *base) {
    csv_rd *rd = (csv_rd *)base;
    csv_free(&rd->parser);
    free(rd);
}

silt_reader *silt_ref_csv_reader_new(char delimiter, int quote, silt_rows *rows, char **err) {
    if (delimiter == '\r' || delimiter == '\n' || (quote != SILT_CSV_NO_QUOTE && delimiter == quote)) {
        silt_err(err, "delimiter must differ from the quote character, CR and LF");
        return NULL;
    }
    if (quote != SILT_CSV_NO_QUOTE && (quote < 0 || quote > 255 || quote == '\r' || quote == '\n')) {
        silt_err(err, "bad quote character");
        return NULL;
    }
    csv_rd *rd = calloc(1, sizeof *rd);
    if (!rd || csv_init(&rd->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        free(rd);
        silt_err(err, "out of memory");
        return NULL;
    }
    csv_set_delim(&rd->parser, (unsigned char)delimiter);
    /* libcsv has no way to turn quoting off; NUL is the byte least likely to occur. */
    csv_set_quote(&rd->parser, quote == SILT_CSV_NO_QUOTE ? 0 : (unsigned char)quote);
    csv_set_space_func(&rd->parser, no_space);
    csv_set_blk_size(&rd->parser, 64 * 1024); /* libcsv grows a long field by this much at a time */
    rd->base.feed = csv_feed;
    rd->base.finish = csv_finish;
    rd->base.destroy = csv_destroy;
    rd->base.rows = rows;
    return &rd->base;
}

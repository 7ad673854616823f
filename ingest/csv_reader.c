/* csv_reader.c: CSV/TSV records (see csv_reader.h).
 *
 * silt read CSV through libcsv until a benchmark showed the parser on the critical path of
 * a load: libcsv hands every byte through its state machine into a field buffer of its own
 * and then to a callback, about 3 ns a byte (bench/README.md, ingest). Here a field without
 * quotes is found by scanning for the next byte that can end it, and handed to the record
 * batch straight from the input; only a quoted field, or a field cut by the end of a chunk,
 * is gathered in a buffer first. The grammar is libcsv's in its strict mode, with nothing
 * treated as white space: tests/fuzz/fuzz_csv.c checks the two agree on arbitrary input.
 *
 * States between chunks: at the start of a record, at the start of a field (after a
 * delimiter), inside an unquoted field, inside a quoted field, or just after a quote inside
 * a quoted field (which either closes it or, doubled, stands for one quote).
 *
 * Line numbers: a record starts at rows->cur_line; blank lines (a CR or LF at the start of
 * a record, except the LF of a CRLF that ended the previous one) count one line each, and a
 * record ends cur_line + 1 + the LFs inside its quoted fields. An error names the line of
 * the byte at fault, counted the same way. */
#include "ingest/csv_reader.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/err.h"

enum { C_DATA = 0, C_DELIM, C_QUOTE, C_CR, C_LF };
enum { ST_RECORD, ST_FIELD, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_SEEN };

typedef struct csv_rd {
    silt_reader base;
    unsigned char cls[256]; /* C_* of every byte */
    int quote;              /* the quote byte, or SILT_CSV_NO_QUOTE */
    unsigned char ends[4];  /* the bytes that end an unquoted field (the delimiter twice
                               when there is no quote) */
    int state;              /* ST_* */
    char *buf;              /* the field being gathered (quoted, or cut by a chunk's end) */
    size_t n_buf, buf_cap;
    int64_t nl_in_record;   /* LFs inside the finished fields of the record being read */
    int prev_end_cr;        /* the last record or blank line ended with a CR */
    int bom_done;           /* the first bytes have been checked for a BOM */
    unsigned char bom[3];   /* first bytes held back while checking for a BOM */
    size_t n_bom;           /* bytes in bom */
} csv_rd;

static size_t count_lf(const char *s, size_t n) {
    size_t k = 0;
    if (n == 0) return 0;
    const char *end = s + n;
    while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) k++, s++;
    return k;
}

static int64_t record_bytes(const csv_rd *rd) {
    const silt_rows *rows = rd->base.rows;
    return (int64_t)(rows->arena_bytes - rows->cur_arena + rd->n_buf);
}

static int gather(csv_rd *rd, const unsigned char *s, size_t n, char **err) {
    if (n == 0) return 0;
    if (rd->n_buf + n > rd->buf_cap) {
        if (record_bytes(rd) + (int64_t)n > (int64_t)SILT_READER_MAX_RECORD_BYTES)
            return silt_err(err, "line %lld: record longer than %zu MiB (unterminated quote?)",
                            (long long)rd->base.rows->cur_line, SILT_READER_MAX_RECORD_BYTES >> 20);
        size_t cap = rd->buf_cap ? rd->buf_cap : 256;
        while (cap < rd->n_buf + n) cap *= 2;
        char *b2 = realloc(rd->buf, cap);
        if (!b2) return silt_err(err, "out of memory reading CSV");
        rd->buf = b2;
        rd->buf_cap = cap;
    }
    memcpy(rd->buf + rd->n_buf, s, n);
    rd->n_buf += n;
    return 0;
}

/* Ends a field whose text is s[0..n) (a quoted one may hold LFs). */
static int field(csv_rd *rd, const char *s, size_t n, int quoted, char **err) {
    if (silt_rows_add_text(rd->base.rows, SILT_VAL_RAW, s, n)) return silt_err(err, "out of memory reading CSV");
    if (quoted && n) rd->nl_in_record += (int64_t)count_lf(s, n);
    return 0;
}

static int end_record(csv_rd *rd, int by_cr, char **err) {
    silt_rows *rows = rd->base.rows;
    int64_t next_line = rows->cur_line + rd->nl_in_record + 1;
    rd->nl_in_record = 0;
    rd->prev_end_cr = by_cr;
    rd->state = ST_RECORD;
    if (silt_rows_end(rows, next_line)) return silt_err(err, "out of memory reading CSV");
    return 0;
}

/* The first byte of q..end that can end an unquoted field, or end. Sixteen bytes at a time
 * where SSE2 is there (every x86-64): fields are mostly a few dozen bytes. */
static const unsigned char *field_end(const csv_rd *rd, const unsigned char *q, const unsigned char *end) {
#ifdef __SSE2__
    const __m128i e0 = _mm_set1_epi8((char)rd->ends[0]), e1 = _mm_set1_epi8((char)rd->ends[1]);
    const __m128i e2 = _mm_set1_epi8((char)rd->ends[2]), e3 = _mm_set1_epi8((char)rd->ends[3]);
    for (; end - q >= 16; q += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, e0), _mm_cmpeq_epi8(v, e1)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, e2), _mm_cmpeq_epi8(v, e3)));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) return q + __builtin_ctz(mask);
    }
#endif
    while (q < end && !rd->cls[*q]) q++;
    return q;
}

static int parse(csv_rd *rd, const char *data, size_t n, char **err) {
    const unsigned char *s = (const unsigned char *)data, *end = s + n;
    const unsigned char *cls = rd->cls;
    silt_rows *rows = rd->base.rows;
    while (s < end) {
        switch (rd->state) {
        case ST_RECORD: {
            int c = cls[*s];
            if (c == C_CR || c == C_LF) { /* a blank line, or the LF of a CRLF */
                if (c == C_LF && rd->prev_end_cr) rd->prev_end_cr = 0;
                else rows->cur_line++, rd->prev_end_cr = c == C_CR;
                s++;
                break;
            }
            rd->prev_end_cr = 0;
            rd->state = ST_FIELD;
            break;
        }
        case ST_FIELD:
            rd->n_buf = 0;
            if (cls[*s] == C_QUOTE) {
                rd->state = ST_QUOTED;
                s++;
            } else {
                rd->state = ST_UNQUOTED;
            }
            break;
        case ST_UNQUOTED: {
            const unsigned char *q = field_end(rd, s, end);
            if (q == end) { /* the field goes on in the next chunk */
                if (gather(rd, s, (size_t)(q - s), err)) return -1;
                s = q;
                break;
            }
            int c = cls[*q];
            if (c == C_QUOTE)
                return silt_err(err,
                                "line %lld: malformed quoted field (a quote inside an unquoted "
                                "field, or text after a closing quote)",
                                (long long)(rows->cur_line + rd->nl_in_record));
            int rc;
            if (rd->n_buf) {
                rc = gather(rd, s, (size_t)(q - s), err) || field(rd, rd->buf, rd->n_buf, 0, err);
                rd->n_buf = 0;
            } else {
                rc = field(rd, (const char *)s, (size_t)(q - s), 0, err);
            }
            if (rc) return -1;
            s = q + 1;
            if (c == C_DELIM) rd->state = ST_FIELD;
            else if (end_record(rd, c == C_CR, err)) return -1;
            break;
        }
        case ST_QUOTED: {
            const unsigned char *q = memchr(s, rd->quote, (size_t)(end - s));
            const unsigned char *stop = q ? q : end;
            if (gather(rd, s, (size_t)(stop - s), err)) return -1;
            if (q) rd->state = ST_QUOTE_SEEN;
            s = q ? q + 1 : end;
            break;
        }
        case ST_QUOTE_SEEN: {
            int c = cls[*s];
            if (c == C_QUOTE) { /* a doubled quote is one quote of the text */
                if (gather(rd, s, 1, err)) return -1;
                rd->state = ST_QUOTED;
                s++;
                break;
            }
            if (c == C_DATA)
                return silt_err(err,
                                "line %lld: malformed quoted field (a quote inside an unquoted "
                                "field, or text after a closing quote)",
                                (long long)(rows->cur_line + rd->nl_in_record +
                                            (int64_t)count_lf(rd->buf, rd->n_buf)));
            if (field(rd, rd->buf, rd->n_buf, 1, err)) return -1;
            rd->n_buf = 0;
            s++;
            if (c == C_DELIM) rd->state = ST_FIELD;
            else if (end_record(rd, c == C_CR, err)) return -1;
            break;
        }
        }
    }
    if (record_bytes(rd) > (int64_t)SILT_READER_MAX_RECORD_BYTES)
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
    switch (rd->state) {
    case ST_RECORD: return 0;
    case ST_QUOTED:
        return silt_err(err, "line %lld: quoted field not closed before the end of the input",
                        (long long)rd->base.rows->cur_line);
    case ST_FIELD: /* a delimiter was the last byte: one more, empty field */
        rd->n_buf = 0;
        break;
    default: break;
    }
    if (field(rd, rd->n_buf ? rd->buf : "", rd->n_buf, rd->state == ST_QUOTE_SEEN, err)) return -1;
    rd->n_buf = 0;
    return end_record(rd, 0, err);
}

static void csv_destroy(silt_reader *base) {
    csv_rd *rd = (csv_rd *)base;
    free(rd->buf);
    free(rd);
}

silt_reader *silt_csv_reader_new(char delimiter, int quote, silt_rows *rows, char **err) {
    if (delimiter == '\r' || delimiter == '\n' || (quote != SILT_CSV_NO_QUOTE && delimiter == quote)) {
        silt_err(err, "delimiter must differ from the quote character, CR and LF");
        return NULL;
    }
    if (quote != SILT_CSV_NO_QUOTE && (quote < 0 || quote > 255 || quote == '\r' || quote == '\n')) {
        silt_err(err, "bad quote character");
        return NULL;
    }
    csv_rd *rd = calloc(1, sizeof *rd);
    if (!rd) {
        silt_err(err, "out of memory");
        return NULL;
    }
    rd->cls[(unsigned char)delimiter] = C_DELIM;
    rd->cls['\r'] = C_CR;
    rd->cls['\n'] = C_LF;
    if (quote != SILT_CSV_NO_QUOTE) rd->cls[quote] = C_QUOTE;
    rd->quote = quote;
    rd->ends[0] = (unsigned char)delimiter;
    rd->ends[1] = '\r';
    rd->ends[2] = '\n';
    rd->ends[3] = quote != SILT_CSV_NO_QUOTE ? (unsigned char)quote : (unsigned char)delimiter;
    rd->state = ST_RECORD;
    rd->base.feed = csv_feed;
    rd->base.finish = csv_finish;
    rd->base.destroy = csv_destroy;
    rd->base.rows = rows;
    return &rd->base;
}

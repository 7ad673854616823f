/* infer.c: value classification, column types, header detection and column names (see
 * infer.h). */
#include "ingest/infer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

static const char *const type_names[] = {"INTEGER", "REAL", "TEXT", "NUMERIC", "BLOB", ""};

const char *silt_coltype_name(silt_coltype t) {
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "TEXT";
}

int silt_coltype_parse(const char *name, silt_coltype *t) {
    for (size_t i = 0; i < (size_t)SILT_COL_ANY; i++)
        if (strcasecmp(name, type_names[i]) == 0) {
            *t = (silt_coltype)i;
            return 0;
        }
    return -1;
}

silt_coltype silt_coltype_from_decl(const char *decl) {
    if (!decl || !*decl) return SILT_COL_ANY;
    /* SQLite's rules, in its order (section 3.1 of datatype3.html). */
    if (strcasestr(decl, "INT")) return SILT_COL_INTEGER;
    if (strcasestr(decl, "CHAR") || strcasestr(decl, "CLOB") || strcasestr(decl, "TEXT"))
        return SILT_COL_TEXT;
    if (strcasestr(decl, "BLOB")) return SILT_COL_BLOB;
    if (strcasestr(decl, "REAL") || strcasestr(decl, "FLOA") || strcasestr(decl, "DOUB"))
        return SILT_COL_REAL;
    return SILT_COL_NUMERIC;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Spellings of a missing value, as R, pandas and spreadsheets write them. */
static int is_null_token(const char *s, size_t n) {
    switch (n) {
    case 2: return !memcmp(s, "NA", 2);
    case 3: return !memcmp(s, "N/A", 3) || !memcmp(s, "n/a", 3) || !memcmp(s, "NaN", 3) ||
                   !memcmp(s, "nan", 3) || !memcmp(s, "#NA", 3);
    case 4: return !memcmp(s, "NULL", 4) || !memcmp(s, "null", 4) || !memcmp(s, "None", 4) ||
                   !memcmp(s, "#N/A", 4);
    default: return 0;
    }
}

/* Exact powers of ten: a decimal with at most 15 significant digits and at most 22
 * fraction digits is m / 10^k with both exactly representable, so one IEEE division gives
 * the correctly rounded value (Clinger's fast path) without strtod. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Whether the 8 bytes at p are all ASCII digits, and their value (8-digit SWAR: each step
 * merges neighbouring groups of digits with one multiply). Classifying is the inserting
 * thread's largest own cost on files of numbers, and most values have a run of 8 digits. */
static inline int eight_digits(const char *p, uint64_t *v) {
    uint64_t x;
    memcpy(&x, p, 8);
    if (((x & 0xF0F0F0F0F0F0F0F0u) | (((x + 0x0606060606060606u) & 0xF0F0F0F0F0F0F0F0u) >> 4)) !=
        0x3333333333333333u)
        return 0;
    x = ((x & 0x0F0F0F0F0F0F0F0Fu) * 2561) >> 8;          /* pairs of digits */
    x = ((x & 0x00FF00FF00FF00FFu) * 6553601) >> 16;      /* groups of four */
    *v = ((x & 0x0000FFFF0000FFFFu) * 42949672960001u) >> 32; /* all eight */
    return 1;
}

/* Reads the digits at *pp (up to end) into *acc, which holds *nd digits so far; only the
 * first 19 digits of a number are accumulated (below 10^19, so no overflow), the rest only
 * counted. Returns how many digits were read. */
static inline size_t read_digits(const char **pp, const char *end, uint64_t *acc, size_t *nd) {
    const char *p = *pp;
    uint64_t v;
    while (end - p >= 8 && *nd + 8 <= 19 && eight_digits(p, &v)) {
        *acc = *acc * 100000000u + v;
        *nd += 8;
        p += 8;
    }
    for (; p < end && is_digit(*p); p++) {
        if (*nd < 19) *acc = *acc * 10 + (unsigned)(*p - '0');
        (*nd)++;
    }
    size_t k = (size_t)(p - *pp);
    *pp = p;
    return k;
}

silt_valclass silt_infer_classify(const char *s, size_t n, int64_t *iv, double *dv) {
    if (n == 0) return SILT_CLASS_EMPTY;
    if (n <= 4 && (s[0] == 'N' || s[0] == 'n' || s[0] == '#') && is_null_token(s, n))
        return SILT_CLASS_EMPTY;
    const char *p = s, *end = s + n;
    int neg = *p == '-';
    if (neg) p++;
    const char *int_start = p;
    uint64_t mant = 0;
    size_t nd = 0; /* digits in mant (counting leading zeros), or more than 19 */
    size_t n_int_digits = read_digits(&p, end, &mant, &nd);
    if (n_int_digits > 1 && *int_start == '0') return SILT_CLASS_TEXT; /* leading zero */
    if (p == end) {
        if (n_int_digits == 0 || nd > 19) return SILT_CLASS_TEXT;
        uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (mant > lim) return SILT_CLASS_TEXT; /* an identifier, not a quantity */
        if (neg && mant == 0) return SILT_CLASS_TEXT; /* "-0" is not canonical */
        *iv = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        return SILT_CLASS_INT;
    }
    size_t n_frac_digits = 0;
    if (*p == '.') {
        p++;
        n_frac_digits = read_digits(&p, end, &mant, &nd);
    }
    if (n_int_digits + n_frac_digits == 0) return SILT_CLASS_TEXT;
    int has_exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        has_exp = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const char *e = p;
        while (p < end && is_digit(*p)) p++;
        if (p == e) return SILT_CLASS_TEXT;
    }
    if (p != end) return SILT_CLASS_TEXT;
    if (!has_exp && nd <= 19 && mant < (1ull << 53) && n_frac_digits <= 22) {
        double d = (double)mant / pow10_exact[n_frac_digits];
        *dv = neg ? -d : d;
        return SILT_CLASS_REAL;
    }
    char *stop = NULL;
    double d = strtod(s, &stop);
    if (stop != end || !isfinite(d)) return SILT_CLASS_TEXT;
    *dv = d;
    return SILT_CLASS_REAL;
}

void silt_colstats_add(silt_colstats *st, const silt_rows *r, const silt_field *f) {
    if (!f) {
        st->n_empty++;
        return;
    }
    switch ((silt_val_kind)f->kind) {
    case SILT_VAL_RAW: {
        int64_t iv;
        double dv;
        switch (silt_infer_field_class(r, f, &iv, &dv)) {
        case SILT_CLASS_EMPTY: st->n_empty++; break;
        case SILT_CLASS_INT: st->n_int++; break;
        case SILT_CLASS_REAL: st->n_real++; break;
        case SILT_CLASS_TEXT: st->n_text++; break;
        }
        break;
    }
    case SILT_VAL_NULL: st->n_empty++; break;
    case SILT_VAL_INT: st->n_int++; break;
    case SILT_VAL_REAL: st->n_real++; break;
    case SILT_VAL_TEXT:
    case SILT_VAL_JSON: st->n_text++; break;
    }
}

silt_coltype silt_colstats_type(const silt_colstats *st) {
    if (st->n_text) return SILT_COL_TEXT;
    if (st->n_real) return SILT_COL_REAL;
    if (st->n_int) return SILT_COL_INTEGER;
    return SILT_COL_ANY;
}

/* A first-record integer that may be a year used as a column name ("state,2018,2019"). */
static int year_like(int64_t v) { return v >= 1000 && v <= 2999; }

void silt_infer_sample_stats(const silt_rows *r, size_t n_rows, size_t j0, size_t j1, silt_colstats *st,
                             unsigned char *non_year) {
    silt_infer_rows_stats(r, 1, n_rows, j0, j1, st, non_year);
}

void silt_infer_classify_rows(silt_rows *r) {
    for (size_t k = 0; k < r->n_fields; k++) {
        silt_field *f = &r->fields[k];
        if (f->kind != SILT_VAL_RAW || f->cls) continue;
        int64_t iv = 0;
        double dv = 0;
        silt_valclass cls = silt_infer_classify(silt_rows_text(r, f), f->n_bytes, &iv, &dv);
        if (cls == SILT_CLASS_REAL) f->v.d = dv;
        else f->v.i = iv;
        f->cls = (uint8_t)(1 + cls);
    }
}

silt_valclass silt_infer_field_class(const silt_rows *r, const silt_field *f, int64_t *iv, double *dv) {
    if (!f->cls) return silt_infer_classify(silt_rows_text(r, f), f->n_bytes, iv, dv);
    silt_valclass cls = (silt_valclass)(f->cls - 1);
    if (cls == SILT_CLASS_REAL) *dv = f->v.d;
    else *iv = f->v.i;
    return cls;
}

void silt_infer_rows_stats(const silt_rows *r, size_t i0, size_t i1, size_t j0, size_t j1, silt_colstats *st,
                           unsigned char *non_year) {
    if (i1 > r->n_rows) i1 = r->n_rows;
    for (size_t i = i0; i < i1; i++) {
        const silt_row *row = &r->rows[i];
        size_t end = row->n_fields < j1 ? row->n_fields : j1;
        for (size_t j = j0; j < end; j++) {
            const silt_field *f = &r->fields[row->first_field + j];
            silt_colstats *c = &st[j - j0];
            if (f->kind != SILT_VAL_RAW) {
                silt_colstats_add(c, r, f);
                continue;
            }
            int64_t iv = 0;
            double dv;
            silt_valclass cls = silt_infer_field_class(r, f, &iv, &dv);
            switch (cls) {
            case SILT_CLASS_EMPTY: c->n_empty++; break;
            case SILT_CLASS_INT:
                c->n_int++;
                if (!year_like(iv)) non_year[j - j0] = 1;
                break;
            case SILT_CLASS_REAL:
                c->n_real++;
                non_year[j - j0] = 1;
                break;
            case SILT_CLASS_TEXT: c->n_text++; break;
            }
        }
        for (size_t j = end > j0 ? end : j0; j < j1; j++) st[j - j0].n_empty++; /* a short record */
    }
}

/* The vote for column j (see silt_infer_has_header): +1, -1 or 0; *typed set when record
 * 0 holds a typed (JSON) value, which makes it data. */
static int column_vote(const silt_rows *r, size_t j, const silt_colstats *st, int non_year, int *c0_out,
                       int *typed) {
    const silt_field *f0 = silt_rows_field(r, 0, j);
    int64_t iv = 0;
    double dv;
    silt_valclass c0 = SILT_CLASS_EMPTY;
    if (f0 && f0->kind == SILT_VAL_RAW)
        c0 = silt_infer_field_class(r, f0, &iv, &dv);
    else if (f0 && f0->kind != SILT_VAL_NULL)
        *typed = 1;
    *c0_out = (int)c0;
    if (st->n_text == 0 && st->n_int + st->n_real > 0) { /* a numeric column */
        if (c0 == SILT_CLASS_TEXT) return 1;
        if (c0 == SILT_CLASS_INT && year_like(iv) && non_year) return 1;
        if (c0 == SILT_CLASS_INT || c0 == SILT_CLASS_REAL) return -1;
    } else if (st->n_text > 0 && st->n_int + st->n_real == 0 && (c0 == SILT_CLASS_INT || c0 == SILT_CLASS_REAL)) {
        return 1; /* a number over a column without numbers: a name like "2018" */
    }
    return 0;
}

int silt_infer_header_vote(const silt_rows *r, size_t n_rows, size_t n_cols, const silt_colstats *st,
                           const unsigned char *non_year) {
    if (n_rows > r->n_rows) n_rows = r->n_rows;
    if (n_rows == 0) return 0;
    int score = 0, n_text = 0, n_num = 0;
    for (size_t j = 0; j < n_cols; j++) {
        int c0, typed = 0;
        score += column_vote(r, j, &st[j], non_year[j], &c0, &typed);
        if (typed) return 0; /* a typed value (JSON) is data, never a header */
        n_text += c0 == SILT_CLASS_TEXT;
        n_num += c0 == SILT_CLASS_INT || c0 == SILT_CLASS_REAL;
    }
    if (score != 0) return score > 0;
    return n_text > 0 && n_num == 0;
}

int silt_infer_has_header(const silt_rows *r, size_t n_rows, size_t n_cols) {
    if (n_rows > r->n_rows) n_rows = r->n_rows;
    if (n_rows == 0) return 0;
    silt_colstats *st = calloc(n_cols ? n_cols : 1, sizeof *st);
    unsigned char *non_year = calloc(n_cols ? n_cols : 1, 1);
    if (st && non_year) {
        silt_infer_sample_stats(r, n_rows, 0, n_cols, st, non_year);
        int h = silt_infer_header_vote(r, n_rows, n_cols, st, non_year);
        free(st);
        free(non_year);
        return h;
    }
    free(st);
    free(non_year);
    /* Out of memory for the per-column arrays: the same vote, one column at a time. */
    int score = 0, n_text = 0, n_num = 0;
    for (size_t j = 0; j < n_cols; j++) {
        silt_colstats one = {0};
        unsigned char ny = 0;
        int c0, typed = 0;
        silt_infer_sample_stats(r, n_rows, j, j + 1, &one, &ny);
        score += column_vote(r, j, &one, ny, &c0, &typed);
        if (typed) return 0;
        n_text += c0 == SILT_CLASS_TEXT;
        n_num += c0 == SILT_CLASS_INT || c0 == SILT_CLASS_REAL;
    }
    if (score != 0) return score > 0;
    return n_text > 0 && n_num == 0;
}

void silt_infer_free_names(char **names, size_t n) {
    if (!names) return;
    for (size_t j = 0; j < n; j++) free(names[j]);
    free(names);
}

/* Cleans one raw name into a malloc'd string (NULL when out of memory). */
static char *clean_name(const char *raw, size_t pos) {
    const char *s = raw ? raw : "";
    size_t n = strlen(s);
    char *out = malloc(n + 24);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[k] = 0;
    size_t a = 0;
    while (a < k && out[a] == ' ') a++;
    while (k > a && out[k - 1] == ' ') k--;
    memmove(out, out + a, k - a);
    out[k - a] = 0;
    if (!out[0]) snprintf(out, n + 24, "col%zu", pos + 1);
    return out;
}

static int name_taken(char **names, size_t n, const char *s) {
    for (size_t j = 0; j < n; j++)
        if (strcasecmp(names[j], s) == 0) return 1;
    return 0;
}

char **silt_infer_names(const char *const *raw, size_t n, char **err) {
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        silt_err(err, "out of memory");
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        char *c = clean_name(raw[j], j);
        if (!c) goto oom;
        if (name_taken(names, j, c)) {
            size_t len = strlen(c);
            char *u = malloc(len + 24);
            if (!u) {
                free(c);
                goto oom;
            }
            for (unsigned long k = 2;; k++) {
                snprintf(u, len + 24, "%s_%lu", c, k);
                if (!name_taken(names, j, u)) break;
            }
            free(c);
            c = u;
        }
        names[j] = c;
    }
    return names;
oom:
    silt_infer_free_names(names, n);
    silt_err(err, "out of memory");
    return NULL;
}

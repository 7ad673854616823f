/* test_ingest_infer.c: value classes, column types, header detection, column names and
 * the ingest options (suite ingest). */
#include "core/err.h"
#include "ingest/csv_reader.h"
#include "ingest/infer.h"
#include "ingest/options.h"
#include "testutil.h"

static silt_valclass cls(const char *s) {
    int64_t iv;
    double dv;
    return silt_infer_classify(s, strlen(s), &iv, &dv);
}

Test(ingest, classify_integers_strictly) {
    int64_t iv = 0;
    double dv;
    cr_assert_eq(silt_infer_classify("-42", 3, &iv, &dv), SILT_CLASS_INT);
    cr_assert_eq(iv, -42);
    cr_assert_eq(silt_infer_classify("9223372036854775807", 19, &iv, &dv), SILT_CLASS_INT);
    cr_assert_eq(iv, INT64_MAX);
    cr_assert_eq(silt_infer_classify("-9223372036854775808", 20, &iv, &dv), SILT_CLASS_INT);
    cr_assert_eq(iv, INT64_MIN);
    cr_assert_eq(cls("0"), SILT_CLASS_INT);
    /* not canonical or too large: text (identifiers, ZIP codes, phone numbers) */
    cr_assert_eq(cls("9223372036854775808"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("12345678901234567890123"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("007"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("+5"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("-0"), SILT_CLASS_TEXT);
    cr_assert_eq(cls(" 5"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("5 "), SILT_CLASS_TEXT);
    cr_assert_eq(cls("1,000"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("-"), SILT_CLASS_TEXT);
}

Test(ingest, classify_reals_and_missing_values) {
    int64_t iv;
    double dv = 0;
    cr_assert_eq(silt_infer_classify("-1.5e3", 6, &iv, &dv), SILT_CLASS_REAL);
    cr_assert_float_eq(dv, -1500.0, 1e-12);
    cr_assert_eq(cls("0.25"), SILT_CLASS_REAL);
    cr_assert_eq(cls(".5"), SILT_CLASS_REAL);
    cr_assert_eq(cls("5."), SILT_CLASS_REAL);
    cr_assert_eq(cls("1E-7"), SILT_CLASS_REAL);
    cr_assert_eq(cls("00.5"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("1e"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("."), SILT_CLASS_TEXT);
    cr_assert_eq(cls("1e999"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("inf"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("0x10"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("1.2.3"), SILT_CLASS_TEXT);
    cr_assert_eq(cls(""), SILT_CLASS_EMPTY);
    const char *missing[] = {"NA", "N/A", "n/a", "NaN", "nan", "#NA", "NULL", "null", "None", "#N/A"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++)
        cr_assert_eq(cls(missing[i]), SILT_CLASS_EMPTY, "%s", missing[i]);
    cr_assert_eq(cls("Na"), SILT_CLASS_TEXT);
    cr_assert_eq(cls("NAN"), SILT_CLASS_TEXT);
}

/* Records from CSV text (helper for the header and type tests). */
static void parse_csv(const char *text, silt_rows *r) {
    silt_rows_init(r);
    char *err = NULL;
    silt_reader *rd = silt_csv_reader_new(',', '"', r, &err);
    cr_assert(rd);
    cr_assert_eq(rd->feed(rd, text, strlen(text), &err), 0);
    cr_assert_eq(rd->finish(rd, &err), 0);
    silt_reader_free(rd);
}

static silt_coltype col_type(const silt_rows *r, size_t first, size_t j) {
    silt_colstats st = {0};
    for (size_t i = first; i < r->n_rows; i++) silt_colstats_add(&st, r, silt_rows_field(r, i, j));
    return silt_colstats_type(&st);
}

Test(ingest, column_types_fall_back_to_text) {
    silt_rows r;
    parse_csv("1,1.5,1,x,,007,1\n2,2,NA,y,,008,1.5\n,3,x,,,,\n", &r);
    cr_assert_eq(col_type(&r, 0, 0), SILT_COL_INTEGER);
    cr_assert_eq(col_type(&r, 0, 1), SILT_COL_REAL);
    cr_assert_eq(col_type(&r, 0, 2), SILT_COL_TEXT);
    cr_assert_eq(col_type(&r, 0, 3), SILT_COL_TEXT);
    cr_assert_eq(col_type(&r, 0, 4), SILT_COL_ANY); /* all empty: no declared type */
    cr_assert_eq(col_type(&r, 0, 5), SILT_COL_TEXT);
    cr_assert_eq(col_type(&r, 0, 6), SILT_COL_REAL);
    silt_rows_free(&r);
}

static int header_of(const char *csv) {
    silt_rows r;
    parse_csv(csv, &r);
    int h = silt_infer_has_header(&r, r.n_rows, r.n_rows ? r.rows[0].n_fields : 0);
    silt_rows_free(&r);
    return h;
}

Test(ingest, header_detection) {
    cr_assert_eq(header_of("id,name\n1,Alice\n2,Bob\n"), 1);
    cr_assert_eq(header_of("1,Alice\n2,Bob\n"), 0);
    cr_assert_eq(header_of("Alice,30\nBob,40\n"), 0);
    cr_assert_eq(header_of("0.1,0.2\n0.3,0.4\n"), 0);
    cr_assert_eq(header_of("state,2018\nAlabama,R+27\n"), 1);            /* year over text */
    cr_assert_eq(header_of("state,2018,2019\nOhio,15,17\nIowa,3,4\n"), 1); /* years over counts */
    cr_assert_eq(header_of("id,year\n1,1999\n2,2005\n"), 1);
    cr_assert_eq(header_of("1,1999\n2,2005\n"), 0);
    cr_assert_eq(header_of(",Pct,,\nx,1,2,3\n"), 1);                      /* empty names */
    cr_assert_eq(header_of("name,city\nAl,NY\n"), 1);                     /* all text: header */
    cr_assert_eq(header_of("only,a,header\n"), 1);
    cr_assert_eq(header_of("1,2\n"), 0);
    cr_assert_eq(header_of(""), 0);
    /* only the first n_rows records are looked at */
    silt_rows r;
    parse_csv("a,b\n1,2\nx,y\n", &r);
    cr_assert_eq(silt_infer_has_header(&r, 2, 2), 1);
    silt_rows_free(&r);
}

Test(ingest, names_valid_and_unique) {
    const char *raw[] = {" id ", "ID", "", NULL, "a\tb\nc", "id_2", "col3", "Name", "name"};
    char *err = NULL;
    char **names = silt_infer_names(raw, 9, &err);
    cr_assert(names);
    const char *want[] = {"id", "ID_2", "col3", "col4", "a b c", "id_2_2", "col3_2", "Name", "name_2"};
    for (int i = 0; i < 9; i++) cr_assert_str_eq(names[i], want[i], "name %d", i);
    silt_infer_free_names(names, 9);
}

Test(ingest, coltype_names_and_affinity) {
    silt_coltype t;
    cr_assert_eq(silt_coltype_parse("integer", &t), 0);
    cr_assert_eq(t, SILT_COL_INTEGER);
    cr_assert_eq(silt_coltype_parse("DATE", &t), -1);
    cr_assert_eq(silt_coltype_from_decl("BIGINT"), SILT_COL_INTEGER);
    cr_assert_eq(silt_coltype_from_decl("VARCHAR(10)"), SILT_COL_TEXT);
    cr_assert_eq(silt_coltype_from_decl("DOUBLE"), SILT_COL_REAL);
    cr_assert_eq(silt_coltype_from_decl(""), SILT_COL_ANY);
    cr_assert_eq(silt_coltype_from_decl("blob"), SILT_COL_BLOB);
    cr_assert_str_eq(silt_coltype_name(SILT_COL_ANY), "");
    cr_assert_eq(silt_coltype_parse("", &t), -1);
    cr_assert_eq(silt_coltype_from_decl("DECIMAL"), SILT_COL_NUMERIC);
    cr_assert_str_eq(silt_coltype_name(SILT_COL_REAL), "REAL");
}

static char *opts_error(const char *json) {
    silt_ingest_opts o;
    char *err = NULL;
    int rc = silt_ingest_opts_parse(json, &o, &err);
    silt_ingest_opts_free(&o);
    if (rc == 0) {
        free(err);
        return NULL;
    }
    return err;
}

Test(ingest, options_parse_and_reject) {
    silt_ingest_opts o;
    char *err = NULL;
    cr_assert_eq(silt_ingest_opts_parse("{\"format\":\"TSV\",\"header\":false,\"delimiter\":\";\","
                                        "\"quote\":\"\",\"if_exists\":\"append\",\"types\":{\"a\":\"real\"},"
                                        "\"max_bytes\":100,\"timeout_ms\":5,\"connect_timeout_ms\":6,"
                                        "\"max_redirects\":0,\"infer_rows\":7,\"early_rows\":0,\"force\":true,"
                                        "\"progress\":\"auto\"}",
                                        &o, &err),
                 0, "%s", err ? err : "");
    cr_assert_eq(o.format, SILT_FMT_TSV);
    cr_assert_eq(o.header, 0);
    cr_assert_eq(o.delimiter, ';');
    cr_assert_eq(o.quote, SILT_CSV_NO_QUOTE);
    cr_assert_eq(o.if_exists, SILT_IFX_APPEND);
    cr_assert_eq(o.n_types, 1);
    cr_assert_str_eq(o.type_cols[0], "a");
    cr_assert_eq(o.type_vals[0], SILT_COL_REAL);
    cr_assert_eq(o.max_bytes, 100);
    cr_assert_eq(o.timeout_ms, 5);
    cr_assert_eq(o.connect_timeout_ms, 6);
    cr_assert_eq(o.max_redirects, 0);
    cr_assert_eq(o.infer_rows, 7);
    cr_assert_eq(o.early_rows, 0);
    cr_assert_eq(o.force, 1);
    cr_assert_eq(o.progress, SILT_OPT_AUTO);
    silt_ingest_opts_free(&o);
    cr_assert_eq(silt_ingest_opts_parse(NULL, &o, &err), 0);
    cr_assert_eq(o.if_exists, SILT_IFX_FAIL);
    cr_assert_eq(o.max_redirects, SILT_INGEST_DEFAULT_MAX_REDIRECTS);
    cr_assert_eq(o.early_rows, SILT_INGEST_DEFAULT_EARLY_ROWS);
    silt_ingest_opts_free(&o);

    const char *bad[][2] = {
        {"{\"format\":\"xml\"}", "option format"},     {"{\"nope\":1}", "unknown option 'nope'"},
        {"{\"header\":2}", "option header"},           {"{\"delimiter\":\"\"}", "option delimiter"},
        {"{\"delimiter\":\"\\n\"}", "CR and LF"},      {"{\"if_exists\":\"x\"}", "option if_exists"},
        {"{\"types\":[1]}", "option types"},           {"{\"types\":{\"a\":\"DATE\"}}", "column \"a\""},
        {"{\"max_bytes\":1.5}", "option max_bytes"},   {"{\"timeout_ms\":-1}", "option timeout_ms"},
        {"{\"force\":1}", "option force"},             {"{\"infer_rows\":0}", "option infer_rows"},
        {"{\"a\":1", "must be a JSON object"},         {"7", "must be a JSON object"},
        {"{\"force\":true,\"force\":true}", "given twice"}, {"{\"early_rows\":-1}", "option early_rows"},
        {"{\"early_rows\":0.5}", "option early_rows"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *e = opts_error(bad[i][0]);
        cr_assert(e && strstr(e, bad[i][1]), "%s: got '%s'", bad[i][0], e ? e : "(no error)");
        free(e);
    }
}

/* The strtod-free path for short decimals gives exactly strtod's value. */
Test(ingest, classify_reals_match_strtod) {
    unsigned seed = 12345;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned a = seed % 1000000;
        seed = seed * 1103515245u + 12345u;
        unsigned b = seed % 100000000;
        int frac_digits = 1 + (int)(seed >> 28) % 9;
        snprintf(buf, sizeof buf, "%s%u.%0*u", (seed & 1) ? "-" : "", a, frac_digits, b % 1000000000u);
        int64_t iv;
        double dv;
        silt_valclass c = silt_infer_classify(buf, strlen(buf), &iv, &dv);
        if (a > 9 && buf[0] == '0') continue;
        cr_assert_eq(c, SILT_CLASS_REAL, "%s", buf);
        cr_assert(dv == strtod(buf, NULL), "%s: %.17g vs %.17g", buf, dv, strtod(buf, NULL));
    }
    const char *edge[] = {"0.1", "0.3", "9007199254740993.5", "123456789012345678.25", "1.00000000000000000000001",
                          "0.000000000000000000001", "-0.0", "4.35", "1e22", "2.2250738585072014e-308"};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        int64_t iv;
        double dv;
        cr_assert_eq(silt_infer_classify(edge[i], strlen(edge[i]), &iv, &dv), SILT_CLASS_REAL, "%s", edge[i]);
        cr_assert(dv == strtod(edge[i], NULL), "%s", edge[i]);
    }
}

/* The parser thread's classes (silt_infer_classify_rows, stored in the fields) are what
 * silt_infer_classify says of each field, and statistics over them are the statistics over
 * the text; classifying again changes nothing, and the records can still be dropped and moved
 * with their classes. */
Test(ingest, classified_rows_give_the_same_stats) {
    silt_rows r;
    parse_csv("h1,h2,h3\n12,1.5,x\n,NA,-7\n007,2e3,0.1\n1999,,\n", &r);
    silt_colstats a[3] = {{0}}, b[3] = {{0}};
    unsigned char nya[3] = {0}, nyb[3] = {0};
    for (size_t k = 0; k < r.n_fields; k++) cr_assert_eq(r.fields[k].cls, 0, "field %zu classified early", k);
    silt_infer_rows_stats(&r, 1, r.n_rows, 0, 3, b, nyb); /* from the text */
    silt_infer_classify_rows(&r);
    silt_infer_classify_rows(&r);
    for (size_t k = 0; k < r.n_fields; k++) {
        const silt_field *f = &r.fields[k];
        int64_t iv = 0, iv2 = 0;
        double dv = 0, dv2 = 0;
        silt_valclass c = silt_infer_classify(silt_rows_text(&r, f), f->n_bytes, &iv, &dv);
        cr_assert_eq(f->cls, 1 + (int)c, "field %zu", k);
        cr_assert_eq(silt_infer_field_class(&r, f, &iv2, &dv2), c, "field %zu", k);
        if (c == SILT_CLASS_INT) cr_assert(f->v.i == iv && iv2 == iv);
        if (c == SILT_CLASS_REAL) cr_assert(f->v.d == dv && dv2 == dv);
    }
    silt_infer_rows_stats(&r, 1, r.n_rows, 0, 3, a, nya); /* from the stored classes */
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_eq(memcmp(nya, nyb, sizeof nya), 0);
    cr_assert_eq(a[0].n_int, 2);
    cr_assert_eq(a[0].n_text, 1); /* "007" */
    cr_assert_eq(a[1].n_real, 2);
    cr_assert_eq(nya[0], 1); /* 12 is not year-like */
    silt_rows_drop(&r, 3); /* "007,2e3,0.1" comes first now */
    cr_assert_eq(silt_rows_field(&r, 0, 0)->cls, 1 + SILT_CLASS_TEXT);
    cr_assert_eq(silt_rows_field(&r, 0, 1)->cls, 1 + SILT_CLASS_REAL);
    cr_assert(silt_rows_field(&r, 0, 1)->v.d == 2e3);
    cr_assert_str_eq(silt_rows_text(&r, silt_rows_field(&r, 0, 2)), "0.1");
    silt_rows_free(&r);
}

/* test_ingest_readers.c: the CSV/TSV and JSON Lines readers and the record batch (suite
 * ingest): quoting, CRLF, BOM, line numbers in errors, and the same records whatever the
 * chunk sizes the input arrives in. */
#include "core/err.h"
#include "ingest/csv_reader.h"
#include "ingest/jsonl_reader.h"
#include "ingest/rows.h"
#include "testutil.h"
#include "tests/ref/csv_libcsv.h"

/* Appends the records of r as "f1|f2|...\n" (JSON-typed values as i:N, r:X, null, t:text,
 * j:json; CSV values as they are) with each record's line as "@L " prefix. */
static void dump(const silt_rows *r, char *out, size_t cap) {
    size_t k = strlen(out);
    for (size_t i = 0; i < r->n_rows; i++) {
        k += (size_t)snprintf(out + k, cap - k, "@%lld ", (long long)r->rows[i].line);
        for (uint32_t j = 0; j < r->rows[i].n_fields; j++) {
            const silt_field *f = silt_rows_field(r, i, j);
            if (j) k += (size_t)snprintf(out + k, cap - k, "|");
            switch (f->kind) {
            case SILT_VAL_RAW: k += (size_t)snprintf(out + k, cap - k, "%s", silt_rows_text(r, f)); break;
            case SILT_VAL_TEXT: k += (size_t)snprintf(out + k, cap - k, "t:%s", silt_rows_text(r, f)); break;
            case SILT_VAL_JSON: k += (size_t)snprintf(out + k, cap - k, "j:%s", silt_rows_text(r, f)); break;
            case SILT_VAL_INT: k += (size_t)snprintf(out + k, cap - k, "i:%lld", (long long)f->v.i); break;
            case SILT_VAL_REAL: k += (size_t)snprintf(out + k, cap - k, "r:%g", f->v.d); break;
            case SILT_VAL_NULL: k += (size_t)snprintf(out + k, cap - k, "null"); break;
            }
        }
        k += (size_t)snprintf(out + k, cap - k, "\n");
    }
}

/* Feeds input in chunks of `chunk` bytes (clearing the records between chunks, as the
 * pipeline does) and returns the dump, or "ERROR: <message>". Caller frees. */
typedef silt_reader *(*csv_ctor)(char delimiter, int quote, silt_rows *rows, char **err);

static char *read_with(csv_ctor ctor, int jsonl, char delim, int quote, const char *input, size_t n, size_t chunk) {
    silt_rows rows;
    silt_rows_init(&rows);
    char *err = NULL;
    silt_reader *rd = jsonl ? silt_jsonl_reader_new(&rows, &err) : ctor(delim, quote, &rows, &err);
    cr_assert(rd, "%s", err ? err : "");
    char *out = calloc(1, 1 << 16);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += chunk) {
        rc = rd->feed(rd, input + off, n - off < chunk ? n - off : chunk, &err);
        dump(&rows, out, 1 << 16);
        silt_rows_clear(&rows);
    }
    if (rc == 0) rc = rd->finish(rd, &err);
    dump(&rows, out, 1 << 16);
    if (rc) snprintf(out, 1 << 16, "ERROR: %s", err ? err : "?");
    if (jsonl && rc == 0) { /* keys appended as a last line */
        size_t k = strlen(out);
        k += (size_t)snprintf(out + k, (1 << 16) - k, "keys:");
        for (size_t i = 0; i < rd->n_keys; i++) k += (size_t)snprintf(out + k, (1 << 16) - k, " %s", rd->keys[i]);
    }
    free(err);
    silt_reader_free(rd);
    silt_rows_free(&rows);
    return out;
}

static char *read_all(int jsonl, char delim, int quote, const char *input, size_t n, size_t chunk) {
    return read_with(silt_csv_reader_new, jsonl, delim, quote, input, n, chunk);
}

/* The same result for every chunk size from 1 byte to the whole input. */
static void check_chunks(int jsonl, char delim, int quote, const char *input, const char *expected) {
    size_t n = strlen(input);
    for (size_t chunk = 1; chunk <= n + 1; chunk++) {
        char *got = read_all(jsonl, delim, quote, input, n, chunk);
        cr_assert_str_eq(got, expected, "chunk %zu: got [%s]", chunk, got);
        free(got);
    }
}

Test(ingest, csv_quotes_crlf_bom_in_any_chunks) {
    check_chunks(0, ',', '"',
                 "\xEF\xBB\xBFid,name\r\n1,\"Smith, J\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\r\nlines\"\r\n4,\r\n",
                 "@1 id|name\n@2 1|Smith, J\n@3 2|say \"hi\"\n@4 3|two\r\nlines\n@6 4|\n");
}

Test(ingest, csv_blank_lines_and_lone_lf_are_counted) {
    check_chunks(0, ',', '"', "a\n\n\nb\r\n\r\nc\n\"x\ny\"\nd", "@1 a\n@4 b\n@6 c\n@7 x\ny\n@9 d\n");
}

Test(ingest, csv_keeps_spaces_and_empty_fields) {
    check_chunks(0, ',', '"', " a , b ,,\"\"\n", "@1  a | b ||\n");
}

Test(ingest, csv_bom_only_at_start_and_partial_bom_is_data) {
    check_chunks(0, ',', '"', "\xEF\xBBx,y\n", "@1 \xEF\xBBx|y\n");
    check_chunks(0, ',', '"', "a\n\xEF\xBB\xBF" "b\n", "@1 a\n@2 \xEF\xBB\xBF" "b\n");
}

Test(ingest, tsv_without_quoting_keeps_quotes) {
    check_chunks(0, '\t', SILT_CSV_NO_QUOTE, "a\tb\n5\" screen\t\"x\"\n", "@1 a|b\n@2 5\" screen|\"x\"\n");
}

Test(ingest, csv_other_delimiter) {
    check_chunks(0, ';', '"', "a;b\n1;\"x;y\"\n", "@1 a|b\n@2 1|x;y\n");
}

Test(ingest, csv_stray_quote_names_the_line) {
    size_t n = strlen("a,b\n1,2\n\"multi\nline\",3\n4,x\"y\n");
    for (size_t chunk = 1; chunk <= n; chunk += 3) {
        char *got = read_all(0, ',', '"', "a,b\n1,2\n\"multi\nline\",3\n4,x\"y\n", n, chunk);
        cr_assert(strstr(got, "ERROR: line 5: malformed quoted field"), "%s", got);
        free(got);
    }
    char *got = read_all(0, ',', '"', "a\n\"b\"c\n", 7, 7);
    cr_assert(strstr(got, "ERROR: line 2: malformed"), "%s", got);
    free(got);
}

Test(ingest, csv_unterminated_quote_names_its_line) {
    const char *in = "a,b\n1,2\n3,\"never\nclosed\n";
    char *got = read_all(0, ',', '"', in, strlen(in), 4);
    cr_assert_str_eq(got, "ERROR: line 3: quoted field not closed before the end of the input");
    free(got);
}

/* ingest/csv_reader.c against the libcsv reader it replaced (tests/ref/csv_libcsv.c) on
 * random inputs over the bytes that matter to the grammar: the same records, line numbers
 * and errors, whole or in chunks. Every other input is long and mostly plain bytes, so that
 * fields of 16 bytes and more (the reader's 16-byte scan) occur often, whole and cut by chunk
 * ends. Error lines are compared only without CRs: for a record after a CR-only line end the
 * reference counts LFs alone, csv_reader.c counts the CR as the line end it is. */
Test(ingest, csv_reader_agrees_with_libcsv_reference) {
    static const char alphabet[] = {'a', 'b', '1', ',', ',', '"', '"', '\n', '\n', '\r', ' ', '\t', ';', '\'',
                                    (char)0xEF, (char)0xBB, (char)0xBF};
    static const struct { char delim; int quote; } modes[] = {{',', '"'}, {'\t', SILT_CSV_NO_QUOTE}, {';', '\''}};
    uint64_t seed = 0x5eed;
    char in[128];
    int errors = 0, records = 0, long_runs = 0;
    for (int iter = 0; iter < 6000; iter++) {
        int plain = iter % 2; /* a long input of mostly plain bytes */
        size_t n = 0, len = plain ? 40 + (size_t)(iter % 80) : (size_t)(iter % 40), run = 0, longest = 0;
        for (; n < len; n++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t r = seed >> 33;
            in[n] = plain && r % 12 ? (char)('a' + r / 12 % 26) : alphabet[r % sizeof alphabet];
            run = in[n] >= 'a' && in[n] <= 'z' ? run + 1 : 0;
            if (run > longest) longest = run;
        }
        in[n] = 0;
        long_runs += longest >= 20;
        int has_cr = memchr(in, '\r', n) != NULL;
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            char *want = read_with(silt_ref_csv_reader_new, 0, modes[m].delim, modes[m].quote, in, n, n + 1);
            int want_err = strncmp(want, "ERROR", 5) == 0;
            errors += want_err;
            records += !want_err && want[0];
            for (size_t chunk = 1; chunk <= n + 1; chunk += chunk < 4 ? 1 : 7) {
                char *got = read_all(0, modes[m].delim, modes[m].quote, in, n, chunk);
                int got_err = strncmp(got, "ERROR", 5) == 0;
                if (want_err && has_cr) cr_assert(got_err, "input [%s] mode %zu chunk %zu: got [%s], want an error", in, m, chunk, got);
                else cr_assert_str_eq(got, want, "input [%s] mode %zu chunk %zu", in, m, chunk);
                free(got);
            }
            free(want);
        }
    }
    /* The inputs exercise both outcomes, and fields longer than one 16-byte step. */
    cr_assert_gt(errors, 1000);
    cr_assert_gt(records, 3000);
    cr_assert_gt(long_runs, 1000);
}

Test(ingest, csv_bad_delimiter_is_refused) {
    silt_rows rows;
    silt_rows_init(&rows);
    char *err = NULL;
    cr_assert_null(silt_csv_reader_new('"', '"', &rows, &err));
    cr_assert(err && strstr(err, "delimiter"));
    free(err);
    err = NULL;
    cr_assert_null(silt_csv_reader_new('\n', '"', &rows, &err));
    free(err);
}

Test(ingest, jsonl_union_of_keys_types_and_crlf) {
    check_chunks(1, 0, 0,
                 "\xEF\xBB\xBF{\"a\":1,\"b\":\"x\"}\r\n\r\n{\"c\":[1,{\"d\":null}],\"a\":2.5}\n"
                 "  \n{\"b\":null,\"e\":true,\"f\":false,\"a\":-7}",
                 "@1 i:1|t:x\n@3 r:2.5|null|j:[1,{\"d\":null}]\n@5 i:-7|null|null|i:1|i:0\nkeys: a b c e f");
}

Test(ingest, jsonl_big_and_fractional_numbers) {
    check_chunks(1, 0, 0, "{\"x\":9007199254740993,\"y\":1.0,\"z\":1e300}\n",
                 "@1 r:9.0072e+15|i:1|r:1e+300\nkeys: x y z");
}

Test(ingest, jsonl_errors_name_the_line) {
    const char *in = "{\"a\":1}\n\n{\"a\":2,}\n";
    char *got = read_all(1, 0, 0, in, strlen(in), 5);
    cr_assert(strstr(got, "ERROR: line 3: malformed JSON at column"), "%s", got);
    free(got);
    in = "{\"a\":1}\n[1,2]\n";
    got = read_all(1, 0, 0, in, strlen(in), 100);
    cr_assert_str_eq(got, "ERROR: line 2: expected a JSON object, got another JSON value");
    free(got);
    in = "{\"a\":1} trailing\n";
    got = read_all(1, 0, 0, in, strlen(in), 100);
    cr_assert(strstr(got, "ERROR: line 1: malformed JSON"), "%s", got);
    free(got);
    in = "{\"a\":1}\n{\"a\":";
    got = read_all(1, 0, 0, in, strlen(in), 3);
    cr_assert(strstr(got, "ERROR: line 2: malformed JSON"), "%s", got);
    free(got);
}

Test(ingest, rows_drop_keeps_later_records_and_the_partial_one) {
    silt_rows r;
    silt_rows_init(&r);
    cr_assert_eq(silt_rows_add_text(&r, SILT_VAL_RAW, "a", 1), 0);
    silt_rows_end(&r, 2);
    silt_rows_add_int(&r, 5);
    silt_rows_add_text(&r, SILT_VAL_TEXT, "bb", 2);
    silt_rows_end(&r, 3);
    silt_rows_add_text(&r, SILT_VAL_RAW, "partial", 7);
    silt_rows_drop(&r, 1);
    cr_assert_eq(r.n_rows, 1);
    cr_assert_eq(silt_rows_field(&r, 0, 0)->v.i, 5);
    cr_assert_str_eq(silt_rows_text(&r, silt_rows_field(&r, 0, 1)), "bb");
    cr_assert_eq(r.rows[0].line, 2);
    silt_rows_add_text(&r, SILT_VAL_RAW, "more", 4);
    silt_rows_end(&r, 4);
    cr_assert_str_eq(silt_rows_text(&r, silt_rows_field(&r, 1, 0)), "partial");
    cr_assert_str_eq(silt_rows_text(&r, silt_rows_field(&r, 1, 1)), "more");
    /* moving the partial record to another batch */
    silt_rows_add_text(&r, SILT_VAL_RAW, "p2", 2);
    silt_rows other;
    silt_rows_init(&other);
    cr_assert_eq(silt_rows_move_partial(&other, &r), 0);
    silt_rows_clear(&r);
    cr_assert_eq(r.n_fields, 0);
    cr_assert_eq(r.arena_bytes, 0);
    silt_rows_end(&other, 5);
    cr_assert_eq(other.n_rows, 1);
    cr_assert_str_eq(silt_rows_text(&other, silt_rows_field(&other, 0, 0)), "p2");
    cr_assert_eq(other.rows[0].line, 4);
    silt_rows_free(&r);
    silt_rows_free(&other);
}

/* ---- progress line ---- */
#include <unistd.h>

#include "ingest/progress.h"

static char *read_back(int fd) {
    char *out = calloc(1, 4096);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, 4095);
    cr_assert(n >= 0);
    return out;
}

/* Three loads of 1.1 s (drawing starts after a second) with stderr redirected to a file: only
 * the one asked to draw writes, the automatic one stays silent because stderr is not a
 * terminal. */
Test(ingest, progress_only_when_asked_or_on_a_terminal) {
    char path[] = "/tmp/silt-progress-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    silt_progress on, autom, off;
    silt_progress_start(&on, "x.csv", 1);
    silt_progress_start(&autom, "y.csv", -1);
    silt_progress_start(&off, "z.csv", 0);
    silt_progress_update(&on, 1000, 1); /* too early: nothing yet */
    usleep(1100 * 1000);
    silt_progress_update(&autom, 5000000, 1234);
    silt_progress_update(&off, 5000000, 1234);
    silt_progress_end(&autom);
    silt_progress_end(&off);
    char *quiet = read_back(fd);
    silt_progress_update(&on, 5000000, 1234);
    silt_progress_end(&on);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *out = read_back(fd);
    close(fd);
    unlink(path);
    cr_assert_str_eq(quiet, "");
    cr_assert(strncmp(out, "\rsilt_ingest x.csv: 5.0 MB, 1234 rows, ", 38) == 0, "[%s]", out);
    cr_assert(strstr(out, "\r\033[K"), "the line is erased at the end");
    free(quiet);
    free(out);
}

/* Batches past rows.c's mapped-buffer threshold (256 KiB): growth from malloc'd to mapped
 * buffers and between mappings keeps every field; dropping and moving the partial record
 * work across it. */
Test(ingest, rows_survive_growth_into_mapped_buffers) {
    silt_rows rows;
    silt_rows_init(&rows);
    char buf[32];
    const size_t n = 200000; /* 400,000 fields: ~6 MB of fields, ~5 MB of text */
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf, sizeof buf, "v%zu", i);
        cr_assert_eq(silt_rows_add_text(&rows, SILT_VAL_RAW, buf, (size_t)k), 0);
        cr_assert_eq(silt_rows_add_int(&rows, (int64_t)i), 0);
        cr_assert_eq(silt_rows_end(&rows, (int64_t)i + 2), 0);
    }
    cr_assert_eq(silt_rows_add_text(&rows, SILT_VAL_RAW, "partial", 7), 0);
    for (size_t i = 0; i < n; i += 9973) {
        snprintf(buf, sizeof buf, "v%zu", i);
        cr_assert_str_eq(silt_rows_text(&rows, silt_rows_field(&rows, i, 0)), buf);
        cr_assert_eq(silt_rows_field(&rows, i, 1)->v.i, (int64_t)i);
    }
    silt_rows_drop(&rows, n - 1);
    cr_assert_eq(rows.n_rows, 1);
    snprintf(buf, sizeof buf, "v%zu", n - 1);
    cr_assert_str_eq(silt_rows_text(&rows, silt_rows_field(&rows, 0, 0)), buf);
    silt_rows other;
    silt_rows_init(&other);
    silt_rows_clear(&rows);
    cr_assert_eq(silt_rows_move_partial(&other, &rows), 0);
    cr_assert_eq(silt_rows_end(&other, 1), 0);
    cr_assert_str_eq(silt_rows_text(&other, silt_rows_field(&other, 0, 0)), "partial");
    silt_rows_free(&rows);
    silt_rows_free(&other);
}

/* A reservation takes what was asked and an eighth more, not the next power of two (the
 * sample's parts are carved from shared huge pages, and rounding up spread them over more
 * of them), and a batch that outgrows it keeps every record. */
Test(ingest, rows_reserve_takes_an_eighth_more_and_grows_past_it) {
    silt_rows rows;
    silt_rows_init(&rows);
    const size_t n = 70000, fields = 2 * n, bytes = 9 * n; /* ~1.1 MB of fields: slab memory */
    cr_assert_eq(silt_rows_reserve(&rows, n, fields, bytes), 0);
    cr_assert(rows.rows_cap >= n && rows.rows_cap <= n + n / 8, "%zu rows", rows.rows_cap);
    cr_assert(rows.fields_cap >= fields && rows.fields_cap <= fields + fields / 8, "%zu fields", rows.fields_cap);
    cr_assert(rows.arena_cap >= bytes && rows.arena_cap <= bytes + bytes / 8, "%zu bytes", rows.arena_cap);
    /* smaller reservations change nothing */
    size_t rc = rows.rows_cap, fc = rows.fields_cap, ac = rows.arena_cap;
    cr_assert_eq(silt_rows_reserve(&rows, 10, 20, 30), 0);
    cr_assert(rows.rows_cap == rc && rows.fields_cap == fc && rows.arena_cap == ac);
    char buf[32];
    const size_t m = 2 * n; /* past the reservation: the buffers double from it */
    for (size_t i = 0; i < m; i++) {
        int k = snprintf(buf, sizeof buf, "r%zu", i);
        cr_assert_eq(silt_rows_add_text(&rows, SILT_VAL_RAW, buf, (size_t)k), 0);
        cr_assert_eq(silt_rows_add_int(&rows, (int64_t)i), 0);
        cr_assert_eq(silt_rows_end(&rows, (int64_t)i + 2), 0);
    }
    cr_assert_gt(rows.rows_cap, rc);
    for (size_t i = 0; i < m; i += 7919) {
        snprintf(buf, sizeof buf, "r%zu", i);
        cr_assert_str_eq(silt_rows_text(&rows, silt_rows_field(&rows, i, 0)), buf);
        cr_assert_eq(silt_rows_field(&rows, i, 1)->v.i, (int64_t)i);
    }
    silt_rows_free(&rows);
}

#include "ingest/pipeline.h"

/* One batch's buffers as the consumer receives them: the first batch, or (after_sample) the
 * first one after the sample. */
typedef struct {
    int after_sample;
    int seen;
    size_t rows, arena_bytes, arena_cap, n_fields, fields_cap;
} batch_seen;

static int take_batch(void *ctx, const silt_batch *b, int final, char **err) {
    (void)err;
    batch_seen *bs = ctx;
    if (!final && !bs->seen && !(bs->after_sample && b->sample_part)) {
        bs->seen = 1;
        bs->rows = b->rows.n_rows;
        bs->arena_bytes = b->rows.arena_bytes, bs->arena_cap = b->rows.arena_cap;
        bs->n_fields = b->rows.n_fields, bs->fields_cap = b->rows.fields_cap;
    }
    return 0;
}

/* Writes a CSV of n records of eight columns (ids from id0) and runs the pipeline over it
 * with a 20,000-record sample whose first part is 1,000 records, into bs. */
static void run_on_csv(int n, int id0, batch_seen *bs) {
    char path[] = "/tmp/silt-parts-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    fprintf(f, "a,b,c,d,e,f,g,h\n");
    for (int i = 0; i < n; i++) fprintf(f, "%d,x%d,%d.5,yy,%d,z,%d,w\n", id0 + i, i, i, i * 7, i % 13);
    cr_assert_eq(fclose(f), 0);
    char url[128];
    snprintf(url, sizeof url, "file://%s", path);
    silt_ingest_opts o;
    silt_ingest_opts_default(&o);
    silt_pipeline_consumer c = {.records = take_batch, .ctx = bs, .sample_rows = 20000, .early_rows = 1000};
    silt_fetch_info info;
    memset(&info, 0, sizeof info);
    char *err = NULL;
    cr_assert_eq(silt_pipeline_run(url, &o, 0, NULL, NULL, &c, &info, &err), 0, "%s", err ? err : "");
    silt_fetch_info_free(&info);
    silt_ingest_opts_free(&o);
    unlink(path);
}

/* The first sample part is sized from the first chunk of input (its lines and delimiters),
 * not from the bound of 1 MiB of text and 64 fields a record: its buffers are then close to
 * what its records fill, which is fresh memory a small file's load does not zero. */
Test(ingest, first_sample_part_is_sized_from_the_input) {
    batch_seen fp = {0};
    run_on_csv(5000, 0, &fp);
    cr_assert(fp.seen);
    cr_assert(fp.rows >= 1000 && fp.rows < 2000, "%zu records", fp.rows);
    /* ~30 KB of text and 8 fields a record: the old bound reserved 2 MiB and 65,536 fields */
    cr_assert(fp.arena_cap <= 2 * fp.arena_bytes + 8192, "%zu bytes reserved for %zu", fp.arena_cap, fp.arena_bytes);
    cr_assert(fp.fields_cap <= 2 * fp.n_fields + 128, "%zu fields reserved for %zu", fp.fields_cap, fp.n_fields);
}

/* The batch that follows the sample starts from empty buffers (the consumer still holds the
 * sample's); they are reserved at once from the part before and the input still to come,
 * so they are close to what its ~3,000 records fill. Grown by doubling, they would hold a
 * third to a half more (a power of two) after passing through every smaller size, each a
 * fresh allocation. */
Test(ingest, batch_after_the_sample_is_sized_from_the_input_left) {
    batch_seen bs = {.after_sample = 1};
    run_on_csv(23000, 100000, &bs);
    cr_assert(bs.seen, "no batch after the sample");
    cr_assert(bs.rows > 500 && bs.rows <= 3000, "%zu records", bs.rows);
    cr_assert(bs.arena_cap * 4 <= bs.arena_bytes * 5, "%zu bytes reserved for %zu", bs.arena_cap, bs.arena_bytes);
    cr_assert(bs.fields_cap * 4 <= bs.n_fields * 5, "%zu fields reserved for %zu", bs.fields_cap, bs.n_fields);
}

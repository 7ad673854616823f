/* test_bad_inputs.c: the catalogue of bad inputs (tests/bad_inputs/catalogue.tsv) run against
 * one database built by tests/bad_inputs/setup.sql.
 *
 * Each catalogue row is `area <TAB> SQL <TAB> expected error fragment`. For every row the
 * test checks that the statement fails, that the message contains the fragment, that no
 * transaction is left open, and that the database is unchanged: a fingerprint of every
 * ordinary table (shadow tables included), of the schema, and of the answers of silt's
 * virtual tables to fixed queries (so an in-memory index that drifted from its tables shows
 * too) is the same before and after. $DATA in a row stands for tests/data and $TMP for a
 * scratch directory holding corrupt model files (made below). Run from the repository
 * root: build/test_unit --filter 'bad_inputs/ *' (without the space). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testutil.h"

#define CATALOGUE "tests/bad_inputs/catalogue.tsv"
#define SETUP "tests/bad_inputs/setup.sql"

/* Queries whose answers are part of the fingerprint. */
static const char *const PROBES[] = {
    "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
    "SELECT rowid, distance FROM d WHERE embedding MATCH '[1, 1, 1, 1]' AND k = 10",
    "SELECT rowid, distance FROM dh WHERE embedding MATCH '[1, 1, 1, 0]' AND k = 10",
    "SELECT rowid, distance FROM dm WHERE content MATCH 'apples and foxes' AND k = 10",
    "SELECT rowid, score FROM s WHERE terms MATCH '{\"1\": 1, \"7\": 1, \"9\": 1}' AND k = 10",
    "SELECT rowid, score FROM sm WHERE content MATCH 'quick apples' AND k = 10",
    "SELECT tbl, col, containment FROM j WHERE query_table = 'people' AND query_column = 'name' "
    "AND k = 10",
    "SELECT name, arch, kind, dim, max_tokens FROM silt_models ORDER BY name",
};

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s (run from the repository root)", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Copies src to dst, with the first n_head bytes replaced by head (when head is given) and
 * cut after max_bytes (0 = whole file). */
static void copy_file(const char *src, const char *dst, const void *head, size_t n_head,
                      size_t max_bytes) {
    FILE *f = fopen(src, "rb");
    cr_assert_not_null(f, "%s: %s", src, strerror(errno));
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n ? n : 1);
    cr_assert(b && fread(b, 1, n, f) == n);
    fclose(f);
    if (max_bytes && max_bytes < n) n = max_bytes;
    if (head) memcpy(b, head, n_head < n ? n_head : n);
    write_file(dst, b, n);
    free(b);
}

/* s with every $DATA and $TMP replaced (malloc'd). */
static char *expand(const char *s, const char *data, const char *tmp) {
    size_t cap = strlen(s) * 4 + 1024, n = 0;
    char *out = malloc(cap);
    cr_assert(out);
    while (*s) {
        const char *rep = NULL;
        size_t skip = 0;
        if (!strncmp(s, "$DATA", 5)) rep = data, skip = 5;
        else if (!strncmp(s, "$TMP", 4)) rep = tmp, skip = 4;
        size_t add = rep ? strlen(rep) : 1;
        if (n + add + 1 > cap) {
            cap = (n + add + 1) * 2;
            out = realloc(out, cap);
            cr_assert(out);
        }
        if (rep) memcpy(out + n, rep, add), s += skip;
        else out[n] = *s++;
        n += add;
    }
    out[n] = 0;
    return out;
}

/* The scratch directory of bad model files the catalogue refers to as $TMP/... */
static void make_bad_files(const char *tmp, const char *data) {
    char a[8192], b[8192];
    snprintf(a, sizeof a, "%s/tiny-bert-f16.gguf", data);
    snprintf(b, sizeof b, "%s/trunc.gguf", tmp);
    copy_file(a, b, NULL, 0, 1000); /* cut inside the metadata */
    snprintf(b, sizeof b, "%s/badver.gguf", tmp);
    copy_file(a, b, "GGUF\x63\x00\x00\x00", 8, 0); /* version 99 */
    snprintf(b, sizeof b, "%s/notgguf.bin", tmp);
    write_file(b, "hello", 5);
    snprintf(b, sizeof b, "%s/zero.gguf", tmp);
    write_file(b, "", 0);
    snprintf(b, sizeof b, "%s/empty_dir", tmp);
    cr_assert(mkdir(b, 0700) == 0);
    snprintf(b, sizeof b, "%s/badcfg", tmp);
    cr_assert(mkdir(b, 0700) == 0);
    snprintf(b, sizeof b, "%s/badcfg/config.json", tmp);
    write_file(b, "{not json", 9);
    /* A BERT directory whose safetensors header length points far past the end. */
    snprintf(b, sizeof b, "%s/badst", tmp);
    cr_assert(mkdir(b, 0700) == 0);
    static const char *const files[] = {"config.json", "vocab.txt", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/tiny-bert/%s", data, files[i]);
        snprintf(b, sizeof b, "%s/badst/%s", tmp, files[i]);
        copy_file(a, b, i == 2 ? "\xff\xff\xff\xff\xff\xff\x00\x00" : NULL, 8, 0);
    }
}

/* FNV-1a over typed values. */
static void mix(uint64_t *h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) *h = (*h ^ c[i]) * 1099511628211ull;
}

static void mix_query(sqlite3 *db, const char *sql, uint64_t *h) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "fingerprint: %s: %s", sql, sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            int t = sqlite3_column_type(st, c);
            mix(h, &t, sizeof t);
            const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, c) : sqlite3_column_text(st, c);
            int n = sqlite3_column_bytes(st, c);
            mix(h, &n, sizeof n);
            if (p) mix(h, p, (size_t)n);
        }
        mix(h, "\n", 1);
    }
    cr_assert_eq(rc, SQLITE_DONE, "fingerprint: %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

/* Every row of every ordinary table (shadow tables included), the schema, and the probes. */
static uint64_t fingerprint(sqlite3 *db) {
    uint64_t h = 1469598103934665603ull;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql "
                                    "NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name",
                                    -1, &st, NULL),
                 SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        mix(&h, name, strlen(name));
        char *q = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", name);
        sqlite3_stmt *try = NULL;
        if (sqlite3_prepare_v2(db, q, -1, &try, NULL) != SQLITE_OK) {
            sqlite3_free(q); /* WITHOUT ROWID: the primary key order */
            q = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY 1", name);
        }
        sqlite3_finalize(try);
        mix_query(db, q, &h);
        sqlite3_free(q);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < sizeof PROBES / sizeof *PROBES; i++) mix_query(db, PROBES[i], &h);
    return h;
}

/* Runs every statement of sql to the end; returns the first error message (malloc'd), or
 * NULL when everything succeeded. */
static char *run_sql(sqlite3 *db, const char *sql) {
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
        if (rc == SQLITE_OK && st) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            }
            if (rc == SQLITE_DONE) rc = SQLITE_OK;
        }
        if (rc != SQLITE_OK) {
            char *m = strdup(sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return m ? m : strdup("?");
        }
        sqlite3_finalize(st);
    }
    return NULL;
}

/* The fixture: bad files in tmp (mkdtemp'd), the database of setup.sql in tmp/lake.db. */
static sqlite3 *open_fixture(char *tmp, char *data, size_t data_bytes) {
    char cwd[2048];
    cr_assert(getcwd(cwd, sizeof cwd));
    snprintf(data, data_bytes, "%s/tests/data", cwd);
    cr_assert(mkdtemp(tmp));
    make_bad_files(tmp, data);
    char db_path[4200];
    snprintf(db_path, sizeof db_path, "%s/lake.db", tmp);
    sqlite3 *db = test_open(db_path);
    char *setup_raw = read_all(SETUP);
    char *setup = expand(setup_raw, data, tmp);
    char *msg = run_sql(db, setup);
    cr_assert_null(msg, "setup.sql: %s", msg);
    free(setup);
    free(setup_raw);
    return db;
}

static void remove_fixture(sqlite3 *db, const char *tmp) {
    sqlite3_close(db);
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmp);
    cr_expect_eq(system(rm), 0);
}

/* The fingerprint notices a change of a shadow table and of an in-memory index alone. */
Test(bad_inputs, fingerprint_sees_changes) {
    char data[2100], tmp[] = "/tmp/silt-bad-inputs-XXXXXX";
    sqlite3 *db = open_fixture(tmp, data, sizeof data);
    uint64_t a = fingerprint(db);
    cr_assert_eq(fingerprint(db), a, "the fingerprint is not stable");
    cr_assert_null(run_sql(db, "INSERT INTO s(rowid, terms) VALUES (5, '{\"9\": 1}')"));
    uint64_t b = fingerprint(db);
    cr_assert_neq(a, b);
    /* A shadow table written directly (and the index rebuilt from it). */
    cr_assert_null(run_sql(db, "UPDATE d_data SET embedding = silt_vec('[0,0,0,1]') WHERE id = 1"));
    cr_assert_null(run_sql(db, "INSERT INTO d(d) VALUES ('rebuild')"));
    cr_assert_neq(fingerprint(db), b);
    remove_fixture(db, tmp);
}

Test(bad_inputs, catalogue_errors_leave_database_unchanged) {
    char data[2100], tmp[] = "/tmp/silt-bad-inputs-XXXXXX";
    sqlite3 *db = open_fixture(tmp, data, sizeof data);

    char *cat = read_all(CATALOGUE);
    int n_rows = 0, n_fail = 0;
    size_t report_cap = 1 << 16, report_n = 0;
    char *report = calloc(1, report_cap);
    uint64_t before = fingerprint(db);
    int line_no = 0;
    for (char *line = strtok(cat, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        if (!*line || *line == '#') continue;
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        cr_assert(t1 && t2, CATALOGUE ": a row needs area<TAB>SQL<TAB>fragment: %s", line);
        *t1 = *t2 = 0;
        char *sql = expand(t1 + 1, data, tmp), *frag = expand(t2 + 1, data, tmp);
        n_rows++;
        char *err = run_sql(db, sql);
        const char *problem = NULL;
        if (!err) problem = "succeeded, expected an error";
        else if (!strstr(err, frag)) problem = "wrong message";
        else if (!sqlite3_get_autocommit(db)) problem = "left a transaction open";
        uint64_t after = fingerprint(db);
        if (!problem && after != before) problem = "changed the database";
        if (problem) {
            n_fail++;
            char buf[4096];
            int k = snprintf(buf, sizeof buf, "  [%s] %s\n    %s\n    expected: %s\n    got: %s\n",
                             line, sql, problem, frag, err ? err : "(no error)");
            if (k > 0 && report_n + (size_t)k + 1 < report_cap) {
                memcpy(report + report_n, buf, (size_t)k);
                report_n += (size_t)k;
            }
            if (!sqlite3_get_autocommit(db)) run_sql(db, "ROLLBACK");
            before = fingerprint(db); /* judge the next rows from here */
        }
        free(err);
        free(sql);
        free(frag);
    }
    cr_log_info("bad inputs: %d rows, %d failed", n_rows, n_fail);
    cr_expect_geq(n_rows, 100, "the catalogue must hold at least 100 bad inputs, has %d", n_rows);
    cr_expect_eq(n_fail, 0, "%d of %d bad inputs misbehaved:\n%s", n_fail, n_rows, report);

    /* The tables are still sound after all that. */
    static const char *const checks[] = {
        "PRAGMA integrity_check", "INSERT INTO d(d) VALUES ('integrity-check')",
        "INSERT INTO dh(dh) VALUES ('integrity-check')", "INSERT INTO dm(dm) VALUES ('integrity-check')",
        "INSERT INTO s(s) VALUES ('integrity-check')", "INSERT INTO sm(sm) VALUES ('integrity-check')",
        "INSERT INTO j(j) VALUES ('integrity-check')",
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        char *m = run_sql(db, checks[i]);
        cr_expect_null(m, "%s: %s", checks[i], m);
        free(m);
    }
    assert_query(db, "PRAGMA integrity_check", "ok");
    free(report);
    free(cat);
    remove_fixture(db, tmp);
}

/* test_join_sample.c: the in-memory sample of silt_join's posting lists (the values whose
 * hash lies below SILT_JOIN_SAMPLE_TAU, sqlext/join_summary.h) and equi's use of it, suite
 * "join_sample".
 *
 * The sample must hold exactly the lake's lists of the sampled values (or be absent when
 * <t>_values and <t>_df disagree), survive no allocation failure half-built, and be dropped
 * with the rest of the summary whenever the lake changes. Equi counts it as lists read, so a
 * wrong or stale list would give a wrong bound and drop a column from an answer: on lakes
 * where every column is a candidate, equi must return the containments of exact = 1. */
#include <unistd.h>

#include "index/colset.h"
#include "join_testutil.h"
#include "sqlite_faults.h"
#include "sqlext/join_summary.h"

#define N_TABLES 16 /* at most 20 columns: the ANN step can return every other column */

static int sampled(const char *v) { return silt_colset_hash(v, strlen(v)) < SILT_JOIN_SAMPLE_TAU; }

static uint64_t lcg(uint64_t *x) {
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

/* A lake file of N_TABLES one-column tables t0..t15(v), each `least` to least + span - 1
 * values drawn with skew from v0 ... v299. Small columns (SMALL) let many queries hold 8 or
 * more sampled values (equi then reads only a few other lists from the table) but fewer than
 * 16, from which equi does not search the embedding (join_vtab.c's SAMPLE_SKIPS_ANN: then
 * not every column is a candidate and equi's answer need not be exact's; assert_equi_is_exact
 * checks that premise); LARGE ones reach past 16. Returns the path (malloc'd). */
#define SMALL 20, 29
#define LARGE 30, 61
static char *make_lake(uint64_t seed, int least, int span) {
    char *path = strdup("/tmp/silt-join-sample-XXXXXX");
    cr_assert(path);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    sqlite3 *db = test_open(path);
    exec_ok(db, "BEGIN");
    char sql[128];
    for (int t = 0; t < N_TABLES; t++) {
        snprintf(sql, sizeof sql, "CREATE TABLE t%d(v TEXT)", t);
        exec_ok(db, sql);
        int n = least + (int)(lcg(&seed) % (uint64_t)span);
        for (int i = 0; i < n; i++) {
            unsigned r = (unsigned)(lcg(&seed) % 300);
            snprintf(sql, sizeof sql, "INSERT INTO t%d VALUES ('v%u')", t, r * r / 300);
            exec_ok(db, sql);
        }
    }
    exec_ok(db, "COMMIT");
    sqlite3_close(db);
    return path;
}

/* Indexes every table; p is "" or the attached schema's name and a dot. */
static void index_lake(sqlite3 *db, const char *lj, const char *p) {
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE %s USING silt_join(model=counter)", lj);
    exec_ok(db, sql);
    for (int t = 0; t < N_TABLES; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO %s(tbl) VALUES ('%st%d')", lj, p, t);
        exec_ok(db, sql);
    }
}

/* make_lake, opened and indexed as lj: how most tests start (drop_lake ends them). */
static sqlite3 *indexed_lake(uint64_t seed, int least, int span, char **path) {
    *path = make_lake(seed, least, span);
    sqlite3 *db = test_open(*path);
    index_lake(db, "lj", "");
    return db;
}

static void drop_lake(sqlite3 *db, char *path) {
    sqlite3_close(db);
    unlink(path);
    free(path);
}

/* A query's containments, best first, as text (free() it). */
static char *containments(sqlite3 *db, const char *lj, const char *qt, int k, int exact) {
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT group_concat(c, ' ') FROM (SELECT printf('%%.6f', containment) AS c FROM %s WHERE query_table = '%s'"
             " AND query_column = 'v' AND k = %d AND exact = %d ORDER BY containment DESC)",
             lj, qt, k, exact);
    char *a = test_query1(db, sql);
    cr_assert(!a || strncmp(a, "ERROR", 5) != 0, "%s: %s", sql, a);
    return a ? a : strdup("");
}

/* Equi against exact on every table of the lake that holds values, for k = 1, 3 and 10. */
static void assert_equi_is_exact(sqlite3 *db, const char *lj, const char *prefix, const char *when) {
    for (int t = 0; t < N_TABLES + 2; t++) {
        char qt[64], probe[160];
        snprintf(qt, sizeof qt, "%st%d", prefix, t);
        snprintf(probe, sizeof probe, "SELECT count(*) FROM %s WHERE v IS NOT NULL", qt);
        char *rows = test_query1(db, probe);
        int usable = rows && strncmp(rows, "ERROR", 5) != 0 && strcmp(rows, "0") != 0;
        free(rows);
        if (!usable) continue;
        snprintf(probe, sizeof probe, "SELECT DISTINCT v FROM %s WHERE v IS NOT NULL", qt);
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, probe, -1, &st, NULL), SQLITE_OK);
        int n_sampled = 0;
        while (sqlite3_step(st) == SQLITE_ROW) n_sampled += sampled((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        cr_assert_lt(n_sampled, 16, "%s: %s holds %d sampled values: equi would skip the embedding", when, qt, n_sampled);
        for (int k = 1; k <= 10; k += k < 3 ? 2 : 7) {
            char *e = containments(db, lj, qt, k, 0), *x = containments(db, lj, qt, k, 1);
            cr_assert_str_eq(e, x, "%s: query %s, k = %d: equi against exact", when, qt, k);
            free(e);
            free(x);
        }
    }
}

/* ---- the sample as loaded ------------------------------------------------------------ */

/* Every value of the lake: below the threshold the sample returns its whole list, in order;
 * above it the sample declines. About a quarter of the values are sampled. */
static void assert_sample_matches_table(sqlite3 *db, const silt_join_summary *s) {
    cr_assert(s->has_sample);
    sqlite3_stmt *st, *list;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT h FROM lj_df ORDER BY h", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT col_id FROM lj_values WHERE h = ?1 ORDER BY col_id", -1, &list, NULL),
                 SQLITE_OK);
    size_t n_in = 0, n_out = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        const uint32_t *ids = NULL;
        size_t n = 0;
        int in = silt_join_summary_sample_list(s, h, &ids, &n);
        cr_assert_eq(in, h < SILT_JOIN_SAMPLE_TAU);
        if (!in) {
            n_out++;
            continue;
        }
        n_in++;
        sqlite3_bind_int64(list, 1, h);
        size_t j = 0;
        while (sqlite3_step(list) == SQLITE_ROW) {
            cr_assert_lt(j, n, "value %lld: the sample's list is shorter", (long long)h);
            cr_assert_eq((sqlite3_int64)ids[j], sqlite3_column_int64(list, 0));
            j++;
        }
        cr_assert_eq(j, n, "value %lld: the sample's list is longer", (long long)h);
        sqlite3_reset(list);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(list);
    cr_assert_eq(s->n_sampled, n_in);
    cr_assert_gt(n_in, (n_in + n_out) / 8, "%zu of %zu values sampled", n_in, n_in + n_out);
    cr_assert_gt(n_out, (n_in + n_out) / 2, "%zu of %zu values sampled", n_in, n_in + n_out);
    /* A sampled hash no column holds: an empty list, not a refusal. */
    const uint32_t *ids;
    size_t n = 99;
    cr_assert(silt_join_summary_sample_list(s, INT64_MIN, &ids, &n));
    cr_assert_eq(n, 0);
}

/* A summary loaded now holds exactly the sampled lists of lj's tables. */
static void assert_fresh_sample_matches_table(sqlite3 *db) {
    silt_join_summary s;
    cr_assert_eq(silt_join_summary_load(db, "main", "lj", &s), SQLITE_OK);
    assert_sample_matches_table(db, &s);
    silt_join_summary_free(&s);
}

/* Every list length and every column's names as the tables hold them; nothing for a hash or
 * an id the lake lacks. */
static void assert_lookups_match_tables(sqlite3 *db, const silt_join_summary *s) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT h, n FROM lj_df", -1, &st, NULL), SQLITE_OK);
    size_t n_df = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        cr_assert_eq((sqlite3_int64)silt_join_summary_df(s, h), sqlite3_column_int64(st, 1), "value %lld", (long long)h);
        /* the neighbours of a stored hash are (almost surely) not stored */
        if (h < INT64_MAX) cr_assert_eq(silt_join_summary_df(s, h + 1), 0);
        n_df++;
    }
    sqlite3_finalize(st);
    cr_assert_eq(n_df, s->n_h);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id, tbl, col FROM lj_cols", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = NULL, *c = NULL;
        cr_assert(silt_join_summary_name(s, sqlite3_column_int64(st, 0), &t, &c));
        cr_assert_str_eq(t, (const char *)sqlite3_column_text(st, 1));
        cr_assert_str_eq(c, (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    const char *t, *c;
    cr_assert(!silt_join_summary_name(s, -1, &t, &c));
    cr_assert(!silt_join_summary_name(s, (int64_t)s->n_ids, &t, &c));
    cr_assert_eq(silt_join_summary_df(s, INT64_MIN), 0);
    cr_assert_eq(silt_join_summary_df(s, INT64_MAX), 0);
}

Test(join_sample, lookups_and_names_match_the_tables) {
    provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(14, LARGE, &path);
    exec_ok(db, "DELETE FROM lj WHERE tbl = 't5'"); /* ids without a column */
    silt_join_summary s;
    cr_assert_eq(silt_join_summary_load(db, "main", "lj", &s), SQLITE_OK);
    assert_lookups_match_tables(db, &s);
    const char *t, *c;
    cr_assert(!silt_join_summary_name(&s, 6, &t, &c), "t5's column id 6 is gone");
    silt_join_summary_free(&s);
    drop_lake(db, path);
}

/* Hashes crowded into a few buckets of the lookup index (not what a hash gives, but what a
 * damaged or crafted lake may hold), and the extremes of the range. */
Test(join_sample, lookups_on_crowded_hashes) {
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "CREATE TABLE lj_cols(id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, col TEXT NOT NULL, n_values INTEGER, "
                "n_distinct INTEGER);"
                "CREATE TABLE lj_values(h INTEGER NOT NULL, col_id INTEGER NOT NULL, PRIMARY KEY(h, col_id)) WITHOUT ROWID;"
                "CREATE TABLE lj_df(h INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
                "INSERT INTO lj_cols VALUES (1, 'a', 'x', 5000, 5000), (3, 'b', 'y', 5000, 5000);"
                "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 4999) "
                "INSERT INTO lj_values SELECT CASE WHEN i < 4000 THEN 1000 + 3 * i WHEN i = 4998 THEN -9223372036854775808 "
                "WHEN i = 4999 THEN 9223372036854775807 ELSE -4611686018427387904 + 3 * i END, 1 FROM s;"
                "INSERT INTO lj_values SELECT h, 3 FROM lj_values WHERE h % 2 = 0;"
                "INSERT INTO lj_df SELECT h, count(*) FROM lj_values GROUP BY h;");
    silt_join_summary s;
    cr_assert_eq(silt_join_summary_load(db, "main", "lj", &s), SQLITE_OK);
    cr_assert_eq(s.n_h, 5000);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT h, n FROM lj_df", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        cr_assert_eq((sqlite3_int64)silt_join_summary_df(&s, h), sqlite3_column_int64(st, 1), "%lld", (long long)h);
        if (h != INT64_MAX) cr_assert_eq(silt_join_summary_df(&s, h + 1), 0, "%lld", (long long)h + 1);
        const uint32_t *ids;
        size_t n = 0;
        if (silt_join_summary_sample_list(&s, h, &ids, &n))
            cr_assert_eq((sqlite3_int64)n, sqlite3_column_int64(st, 1), "%lld", (long long)h);
    }
    sqlite3_finalize(st);
    const char *t, *c;
    cr_assert(silt_join_summary_name(&s, 3, &t, &c) && !strcmp(t, "b") && !strcmp(c, "y"));
    cr_assert(!silt_join_summary_name(&s, 2, &t, &c));
    silt_join_summary_free(&s);
    sqlite3_close(db);
}

Test(join_sample, the_sample_holds_exactly_the_sampled_lists) {
    provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(11, SMALL, &path);
    assert_fresh_sample_matches_table(db);
    drop_lake(db, path);
}

/* A posting missing from <t>_values, or one more than <t>_df counts: the tables disagree, so
 * the summary comes without a sample (searches read the table) and searches still answer. */
Test(join_sample, a_lake_whose_tables_disagree_has_no_sample) {
    provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(12, SMALL, &path);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT h, col_id FROM lj_values WHERE h < %lld ORDER BY h LIMIT 1",
             (long long)SILT_JOIN_SAMPLE_TAU);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long h = sqlite3_column_int64(st, 0), id = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    for (int extra = 0; extra < 2; extra++) {
        if (extra) snprintf(sql, sizeof sql, "INSERT INTO lj_values(h, col_id) VALUES (%lld, 999)", h);
        else snprintf(sql, sizeof sql, "DELETE FROM lj_values WHERE h = %lld AND col_id = %lld", h, id);
        exec_ok(db, "BEGIN");
        exec_ok(db, sql);
        silt_join_summary s;
        cr_assert_eq(silt_join_summary_load(db, "main", "lj", &s), SQLITE_OK);
        cr_assert(!s.has_sample, "extra = %d", extra);
        cr_assert_gt(s.n_h, 0, "the rest of the summary is kept");
        const uint32_t *ids;
        size_t n;
        cr_assert(!silt_join_summary_sample_list(&s, h, &ids, &n));
        silt_join_summary_free(&s);
        /* The column that holds the value: its search reads that list, and with the extra
         * posting meets a column id past every indexed one (no count slot for it). */
        snprintf(sql, sizeof sql, "SELECT tbl FROM lj_cols WHERE id = %lld", id);
        char *qt = test_query1(db, sql);
        cr_assert(qt && strncmp(qt, "ERROR", 5) != 0);
        char *a = containments(db, "lj", qt, 10, 0);
        cr_assert(strlen(a) > 0, "%s", qt);
        free(a);
        free(qt);
        exec_ok(db, "ROLLBACK");
    }
    drop_lake(db, path);
}

/* Each allocation of the load fails in turn: an error and an empty summary, never a half
 * one; the next load is whole. (Searches under the same faults: join_summary's test.) */
Test(join_sample, every_allocation_failure_of_the_load_is_an_error) {
    install_faulty_allocator();
    provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(13, SMALL, &path);
    int failures = 0;
    for (long n = 1;; n++) {
        silt_join_summary s;
        injected = 0;
        fail_countdown = n;
        int rc = silt_join_summary_load(db, "main", "lj", &s);
        fail_countdown = 0;
        if (rc != SQLITE_OK) {
            cr_assert(injected, "allocation %ld: rc %d without a failure", n, rc);
            cr_assert(!s.h && !s.size && !s.s_off && !s.s_col && !s.has_sample && !s.first && !s.names && !s.name_at,
                      "allocation %ld: a half summary", n);
            failures++;
        } else {
            assert_sample_matches_table(db, &s);
            assert_lookups_match_tables(db, &s);
        }
        silt_join_summary_free(&s);
        if (!injected) break;
    }
    cr_assert_gt(failures, 3);
    assert_fresh_sample_matches_table(db);
    drop_lake(db, path);
}

/* ---- equi with the sample ------------------------------------------------------------ */

Test(join_sample, equi_returns_the_exact_containments_on_small_lakes) {
    provide_counter();
    for (uint64_t seed = 1; seed <= 6; seed++) {
        char *path;
        sqlite3 *db = indexed_lake(seed * 7919, SMALL, &path);
        char when[32];
        snprintf(when, sizeof when, "seed %llu", (unsigned long long)seed);
        assert_equi_is_exact(db, "lj", "", when);
        drop_lake(db, path);
    }
}

/* Query columns of which no value is sampled (the sample adds nothing: the lists come from
 * the table, all of them for a small column) and of which every value is. */
Test(join_sample, queries_with_no_or_only_sampled_values) {
    provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(14, SMALL, &path);
    exec_ok(db, "CREATE TABLE t16(v TEXT); CREATE TABLE t17(v TEXT)");
    int n_none = 0, n_all = 0;
    char sql[96], v[16];
    for (int i = 0; i < 300 && (n_none < 20 || n_all < 20); i++) {
        snprintf(v, sizeof v, "v%d", i);
        int s = sampled(v);
        if (s ? n_all >= 20 : n_none >= 20) continue;
        snprintf(sql, sizeof sql, "INSERT INTO t%d VALUES ('%s')", s ? 17 : 16, v);
        exec_ok(db, sql);
        *(s ? &n_all : &n_none) += 1;
    }
    cr_assert_eq(n_none, 20);
    cr_assert_eq(n_all, 20);
    for (int t = 16; t <= 17; t++) {
        char qt[16];
        snprintf(qt, sizeof qt, "t%d", t);
        for (int k = 1; k <= 10; k += 9) {
            char *e = containments(db, "lj", qt, k, 0), *x = containments(db, "lj", qt, k, 1);
            cr_assert(strlen(x) > 0, "%s shares values with the lake", qt);
            cr_assert_str_eq(e, x, "query %s, k = %d", qt, k);
            free(e);
            free(x);
        }
    }
    drop_lake(db, path);
}

/* ---- invalidation -------------------------------------------------------------------- */

/* Every query's answers (equi and exact, k = 1, 3 and 10, rows in order) as one string
 * (free() it). */
static char *all_answers(sqlite3 *db, const char *lj, const char *p) {
    size_t cap = 1 << 17, n = 0;
    char *out = calloc(1, cap);
    cr_assert(out);
    for (int t = 0; t < N_TABLES; t++)
        for (int j = 0; j < 6; j++) {
            char sql[400];
            snprintf(sql, sizeof sql,
                     "SELECT group_concat(tbl || ':' || printf('%%.6f', containment), ' ') FROM %s"
                     " WHERE query_table = '%st%d' AND query_column = 'v' AND k = %d AND exact = %d",
                     lj, p, t, j / 2 == 0 ? 1 : j / 2 == 1 ? 3 : 10, j & 1);
            char *a = test_query1(db, sql);
            n += (size_t)snprintf(out + n, cap - n, "t%d/%d: %s\n", t, j, a ? a : "");
            cr_assert_lt(n, cap);
            free(a);
        }
    return out;
}

/* This connection's answers against a new connection's on the same lake file. */
static void assert_fresh(sqlite3 *db, const char *path, const char *attach, const char *lj, const char *p,
                         const char *when) {
    sqlite3 *f = test_open(attach ? NULL : path);
    if (attach) exec_ok(f, attach);
    char *mine = all_answers(db, lj, p), *fresh = all_answers(f, lj, p);
    sqlite3_close(f);
    cr_assert_str_eq(mine, fresh, "%s", when);
    free(mine);
    free(fresh);
}

/* t3 becomes a copy of t5's values (and two new ones), t7 of t9's, each indexed again, by
 * this connection and by another: a stale sample would not list them under those values,
 * and the counts and bounds equi draws from the lists would be wrong. */
static void invalidation_scenario(sqlite3 *a, sqlite3 *b, const char *path, const char *attach, const char *lj,
                                  const char *p) {
    char sql[400];
    assert_fresh(a, path, attach, lj, p, "as indexed"); /* loads the sample */
    snprintf(sql, sizeof sql,
             "DELETE FROM %st3; INSERT INTO %st3 SELECT v FROM %st5 WHERE v IS NOT NULL;"
             " INSERT INTO %st3 VALUES ('new1'),('new2'); INSERT INTO %s(tbl) VALUES ('%st3')",
             p, p, p, p, lj, p);
    exec_ok(a, sql);
    assert_fresh(a, path, attach, lj, p, "t3 refilled by this connection");
    /* inside a transaction that wrote (no copy is used there), and after its rollback */
    snprintf(sql, sizeof sql, "BEGIN; DELETE FROM %s WHERE tbl = '%st5'", lj, p);
    exec_ok(a, sql);
    char *inside = all_answers(a, lj, p), t5[32];
    snprintf(t5, sizeof t5, "%st5:", p);
    cr_assert(!strstr(inside, t5), "the uncommitted delete shows inside its transaction: %s", inside);
    free(inside);
    exec_ok(a, "ROLLBACK");
    assert_fresh(a, path, attach, lj, p, "after the rollback");
    snprintf(sql, sizeof sql,
             "DELETE FROM %st7; INSERT INTO %st7 SELECT v FROM %st9 WHERE v IS NOT NULL; INSERT INTO %s(tbl) VALUES ('%st7')",
             p, p, p, lj, p);
    exec_ok(b, sql);
    assert_fresh(a, path, attach, lj, p, "t7 refilled by another connection");
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE tbl = '%st9'", lj, p);
    exec_ok(b, sql);
    assert_fresh(a, path, attach, lj, p, "t9 dropped by another connection");
}

Test(join_sample, the_sample_follows_every_change_of_the_lake) {
    provide_counter();
    char *path = make_lake(15, LARGE);
    sqlite3 *a = test_open(path), *b = test_open(path);
    index_lake(a, "lj", "");
    sqlite3_busy_timeout(a, 2000);
    sqlite3_busy_timeout(b, 2000);
    invalidation_scenario(a, b, path, NULL, "lj", "");
    sqlite3_close(a);
    sqlite3_close(b);
    unlink(path);
    free(path);
}

Test(join_sample, the_sample_follows_every_change_of_an_attached_lake) {
    provide_counter();
    char *path = make_lake(16, LARGE);
    char attach[200];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS lake", path);
    sqlite3 *a = test_open(NULL), *b = test_open(NULL);
    exec_ok(a, attach);
    exec_ok(b, attach);
    index_lake(a, "lake.lj", "lake.");
    sqlite3_busy_timeout(a, 2000);
    sqlite3_busy_timeout(b, 2000);
    invalidation_scenario(a, b, path, attach, "lake.lj", "lake.");
    sqlite3_close(a);
    sqlite3_close(b);
    unlink(path);
    free(path);
}

/* A query of which the sample holds many values is answered from the lists alone: the
 * encoder does not run for it (the column is not indexed, so it would), and the answer is
 * exact's where the best matches share many values. */
Test(join_sample, a_query_mostly_in_the_sample_does_not_search_the_embedding) {
    count_encoder *enc = provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(17, SMALL, &path);
    exec_ok(db, "CREATE TABLE big(v TEXT); WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 199)"
                " INSERT INTO big SELECT 'v' || i FROM r;");
    int n_sampled = 0;
    char v[16];
    for (int i = 0; i < 200; i++) {
        snprintf(v, sizeof v, "v%d", i);
        n_sampled += sampled(v);
    }
    cr_assert_geq(n_sampled, 24, "%d of big's values are sampled", n_sampled);
    long long before = texts_embedded(enc);
    for (int k = 1; k <= 3; k++) {
        char *e = containments(db, "lj", "big", k, 0), *x = containments(db, "lj", "big", k, 1);
        cr_assert(strlen(x) > 0);
        cr_assert_str_eq(e, x, "k = %d", k);
        free(e);
        free(x);
    }
    cr_assert_eq(texts_embedded(enc), before, "big's text was not embedded");
    drop_lake(db, path);
}

/* Values the sample does not hold, "u0", "u1", ...: their lists are read from the table. */
static int unsampled_values(char (*out)[16], int n) {
    int got = 0;
    for (int i = 0; got < n; i++) {
        snprintf(out[got], 16, "u%d", i);
        if (!sampled(out[got])) got++;
    }
    return got;
}

/* A query whose lists are not all read within equi's budgets (none of its values is sampled,
 * so at most 16 are read from the table first): when few are left, equi reads them too and
 * answers exactly from the counts, without the embedding; when many are left, it searches the
 * embedding as before. Values no column holds cost no read (their length is 0). */
Test(join_sample, equi_reads_the_few_lists_left_instead_of_searching_the_embedding) {
    count_encoder *enc = provide_counter();
    char *path;
    sqlite3 *db = indexed_lake(19, SMALL, &path);
    char u[90][16];
    unsampled_values(u, 90);
    char sql[256];
    exec_ok(db, "CREATE TABLE holder(v TEXT); CREATE TABLE half(v TEXT); CREATE TABLE few(v TEXT);"
                "CREATE TABLE wide(v TEXT); CREATE TABLE none(v TEXT)");
    for (int i = 0; i < 90; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO holder VALUES ('%s')", u[i]);
        exec_ok(db, sql);
        if (i % 2 == 0) {
            snprintf(sql, sizeof sql, "INSERT INTO half VALUES ('%s')", u[i]);
            exec_ok(db, sql);
        }
        if (i < 30) {
            snprintf(sql, sizeof sql, "INSERT INTO few VALUES ('%s')", u[i]);
            exec_ok(db, sql);
        }
        if (i < 70) {
            snprintf(sql, sizeof sql, "INSERT INTO wide VALUES ('%s')", u[i]);
            exec_ok(db, sql);
        }
        /* five values a column holds, the rest held by none */
        snprintf(sql, sizeof sql, "INSERT INTO none VALUES ('%s%s')", u[i], i < 5 ? "" : "-nowhere");
        exec_ok(db, sql);
    }
    exec_ok(db, "INSERT INTO lj(tbl) VALUES ('holder'), ('half')");
    /* few: 30 lists, 16 read first, 14 left: read as well. none: 85 empty lists and 5 read. */
    const char *decided[] = {"few", "none"};
    for (int q = 0; q < 2; q++) {
        long long before = texts_embedded(enc);
        for (int k = 1; k <= 10; k += k < 3 ? 2 : 7) {
            char *e = containments(db, "lj", decided[q], k, 0), *x = containments(db, "lj", decided[q], k, 1);
            cr_assert(strlen(x) > 0);
            cr_assert_str_eq(e, x, "%s, k = %d", decided[q], k);
            free(e);
            free(x);
        }
        cr_assert_eq(texts_embedded(enc), before, "%s: the lists decided, no embedding", decided[q]);
    }
    /* wide: 70 lists, 54 left after the first 16: too many, so the embedding is searched. */
    long long before = texts_embedded(enc);
    char *e = containments(db, "lj", "wide", 2, 0), *x = containments(db, "lj", "wide", 2, 1);
    cr_assert_str_eq(e, x);
    cr_assert_str_eq(x, "1.000000 0.500000");
    cr_assert_eq(texts_embedded(enc), before + 1, "wide: lists left unread, the embedding searched");
    free(e);
    free(x);
    drop_lake(db, path);
}

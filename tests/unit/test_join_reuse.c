/* test_join_reuse.c: silt_join's reuse of stored column embeddings (suite "join_reuse").
 *
 * Querying with an indexed column whose text is unchanged must not run the encoder, and must
 * answer as if it had; a changed column, a column named differently, or a table without
 * digests (made before them) must be embedded again and answer from its new text. A toy
 * encoder counts the texts it is given, which is how the tests see whether it ran. */
#include <math.h>

#include "join_testutil.h"

Test(join_reuse, unchanged_indexed_column_is_not_embedded_again) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    long long after_index = texts_embedded(enc);
    cr_assert_eq(after_index, 4, "one text per indexed column");
    assert_query(db, "SELECT count(*) FROM lj_digests", "4");

    char *equi = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'");
    char *sem = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                           " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), after_index, "the stored embeddings of a.x were reused");
    cr_assert_str_eq(equi, "b.y:0.800000:0.800000|c.z:0.200000:0.200000|");

    /* "main.a" is the same table under a name the index does not hold. equi reads every list
     * of its values and no other column shares one, so it answers without the embedding; the
     * semantic search embeds the text and answers as the reused embedding did. */
    char *equi2 = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a' AND query_column = 'x'");
    cr_assert_eq(texts_embedded(enc), after_index);
    char *sem2 = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a' AND query_column = 'x'"
                            " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), after_index + 1);
    cr_assert_str_eq(equi2, equi);
    cr_assert_str_eq(sem2, sem);
    free(equi);
    free(sem);
    free(equi2);
    free(sem2);
    sqlite3_close(db);
}

Test(join_reuse, changed_column_is_embedded_from_its_new_text) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    char *before = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                              " AND mode = 'semantic'");
    long long n0 = texts_embedded(enc);
    /* a.x now looks like d.w: the stored embedding of a.x is stale. */
    exec_ok(db, "DELETE FROM a; INSERT INTO a VALUES ('one'),('two'),('three'),('four');");
    char *after = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                             " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), n0 + 1, "the changed column was embedded again");
    cr_assert_str_neq(after, before);
    char *after_copy = strdup(after);
    cr_assert(after_copy);
    /* The scores are the cosines of the new text's embedding with the stored ones. */
    char *expect = answer(db, "SELECT c.tbl, c.col, 1 - v.distance, 0 FROM lj_vec AS v JOIN lj_cols AS c ON c.id = v.rowid"
                              " WHERE v.embedding MATCH silt_embed('counter', silt_column_text('a', 'x')) AND v.k = 10"
                              " AND NOT (c.tbl = 'a' AND c.col = 'x') ORDER BY v.distance, c.tbl");
    /* Compare tbl.col and score only (the expectation has no containment). */
    char *p = after, *q = expect;
    int rows = 0;
    while (*p && *q) {
        char *pe = strchr(p, '|'), *qe = strchr(q, '|');
        cr_assert(pe && qe);
        *pe = 0;
        *qe = 0;
        char *pc = strrchr(p, ':'), *qc = strrchr(q, ':');
        *pc = 0;
        *qc = 0;
        cr_assert_str_eq(p, q);
        p = pe + 1;
        q = qe + 1;
        rows++;
    }
    cr_assert_eq(rows, 3);
    cr_assert(!*p && !*q);
    cr_assert_eq(texts_embedded(enc), n0 + 2); /* silt_embed above */
    /* equi: every list read decides (no embedding); the containment is the new column's. */
    assert_query(db, "SELECT containment FROM lj WHERE query_table = 'a' AND query_column = 'x' AND tbl = 'd'", "0.75");
    cr_assert_eq(texts_embedded(enc), n0 + 2);
    /* Indexed again, the column's new digest is stored and reused. */
    exec_ok(db, "INSERT INTO lj(tbl) VALUES ('a')");
    cr_assert_eq(texts_embedded(enc), n0 + 3);
    char *again = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                             " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), n0 + 3);
    cr_assert_str_eq(again, after_copy);
    free(before);
    free(after);
    free(expect);
    free(again);
    free(after_copy);
    sqlite3_close(db);
}

Test(join_reuse, deleted_column_and_table_without_digests_embed_the_query) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    long long n0 = texts_embedded(enc);
    /* A deleted column's digest goes with it: the query column is embedded. */
    exec_ok(db, "DELETE FROM lj WHERE tbl = 'a'");
    assert_query(db, "SELECT count(*) FROM lj_digests", "3");
    /* (equi decides from the lists here, without the embedding; the semantic search embeds.) */
    char *gone = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'");
    cr_assert_str_eq(gone, "b.y:0.800000:0.800000|c.z:0.200000:0.200000|");
    cr_assert_eq(texts_embedded(enc), n0);
    free(answer(db, "SELECT tbl FROM lj WHERE query_table = 'a' AND query_column = 'x' AND mode = 'semantic'"));
    cr_assert_eq(texts_embedded(enc), n0 + 1);
    /* A table made before digests were kept (no lj_digests): queries embed, inserts work,
     * and 'rebuild' adds the digests back. */
    exec_ok(db, "DROP TABLE lj_digests");
    char *old = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'b' AND query_column = 'y'");
    cr_assert_str_eq(old, "c.z:0.200000:0.200000|");
    free(answer(db, "SELECT tbl FROM lj WHERE query_table = 'b' AND query_column = 'y' AND mode = 'semantic'"));
    cr_assert_eq(texts_embedded(enc), n0 + 2);
    exec_ok(db, "INSERT INTO lj(tbl) VALUES ('a')");
    cr_assert_eq(texts_embedded(enc), n0 + 3);
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('rebuild')");
    cr_assert_eq(texts_embedded(enc), n0 + 7);
    assert_query(db, "SELECT count(*) FROM lj_digests", "4");
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('integrity-check')");
    exec_ok(db, "DELETE FROM lj_digests WHERE id = (SELECT min(id) FROM lj_digests)");
    assert_error(db, "INSERT INTO lj(lj) VALUES ('integrity-check')", "1 wrong text digests");
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('rebuild')");
    cr_assert_eq(texts_embedded(enc), n0 + 11);
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('integrity-check')");
    char *back = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'b' AND query_column = 'y'");
    cr_assert_eq(texts_embedded(enc), n0 + 11, "reused after 'rebuild'");
    cr_assert_str_eq(back, "a.x:0.800000:0.800000|c.z:0.200000:0.200000|");
    free(gone);
    free(old);
    free(back);
    sqlite3_close(db);
}

/* The equi mode prunes candidates by the posting lists it read (c + |Q| - r >= the k-th best
 * overlap) and takes a candidate's count as its overlap when every list was read. In a lake
 * smaller than its candidate budget every column is a candidate, so pruning must not change
 * the answer: the containments equal those of the exact search, for every query column. */
Test(join_reuse, equi_pruning_keeps_the_exact_containments) {
    provide_counter();
    sqlite3 *db = test_open(NULL);
    uint64_t x = 12345;
    char sql[256];
    for (int t = 0; t < 24; t++) {
        snprintf(sql, sizeof sql, "CREATE TABLE t%d(v TEXT)", t);
        exec_ok(db, sql);
        /* Every third column draws 400 to 1,200 values uniformly from 1,500, so it has more
         * distinct values than the 256 whose lists equi samples and its bounds leave values
         * unread; the others draw 3 to 60, skewed to the low end, so lists differ in length. */
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = t % 3 == 0 ? 400 + (int)((x >> 33) % 800) : 3 + (int)((x >> 33) % 58);
        exec_ok(db, "BEGIN");
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(x >> 40) % 1500;
            snprintf(sql, sizeof sql, "INSERT INTO t%d VALUES ('w%u')", t, t % 3 == 0 ? r : r * r / 1500);
            exec_ok(db, sql);
        }
        exec_ok(db, "COMMIT");
    }
    exec_ok(db, "CREATE VIRTUAL TABLE lj USING silt_join(model=counter)");
    for (int t = 0; t < 24; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO lj(tbl) VALUES ('t%d')", t);
        exec_ok(db, sql);
    }
    for (int t = 0; t < 24; t++) {
        for (int k = 1; k <= 8; k *= 2) {
            char q[256];
            snprintf(q, sizeof q,
                     "SELECT group_concat(printf('%%.6f', containment), ',') FROM (SELECT containment FROM lj"
                     " WHERE query_table = 't%d' AND query_column = 'v' AND k = %d%s)",
                     t, k, "");
            char *equi = test_query1(db, q);
            snprintf(q, sizeof q,
                     "SELECT group_concat(printf('%%.6f', containment), ',') FROM (SELECT containment FROM lj"
                     " WHERE query_table = 't%d' AND query_column = 'v' AND k = %d%s)",
                     t, k, " AND exact = 1");
            char *exact = test_query1(db, q);
            cr_assert_str_eq(equi ? equi : "", exact ? exact : "", "t%d k=%d: equi %s exact %s", t, k, equi, exact);
            free(equi);
            free(exact);
        }
    }
    sqlite3_close(db);
}

/* equi reads the rare-value lists first; when the k-th best overlap they verify beats the
 * bound of every other column, the embedding is not searched (and the encoder not run for a
 * query column it would have to embed: "main.a" is not indexed under that name). */
Test(join_reuse, equi_skips_the_embedding_when_the_lists_decide) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    long long n0 = texts_embedded(enc);
    /* k = 1: b.y shares 4 values; every list was read, and no other column can share 4. */
    char *one = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a'"
                           " AND query_column = 'x' AND k = 1");
    cr_assert_str_eq(one, "b.y:0.800000:0.800000|");
    cr_assert_eq(texts_embedded(enc), n0, "the lists decided: no embedding");
    /* k = 3: only two columns share a value, so the top 3 is not full; but every list was
     * read, so no other column shares a value and the embedding could add no row: not
     * searched either. (Where it is: test_join_sample.c, lists left unread.) */
    char *three = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a'"
                             " AND query_column = 'x' AND k = 3");
    cr_assert_str_eq(three, "b.y:0.800000:0.800000|c.z:0.200000:0.200000|");
    cr_assert_eq(texts_embedded(enc), n0, "no other column shares a value: no embedding");
    char *exact = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a'"
                             " AND query_column = 'x' AND k = 3 AND exact = 1");
    cr_assert_str_eq(three, exact);
    free(one);
    free(three);
    free(exact);
    sqlite3_close(db);
}

/* test_dense_model.c: silt_dense with model= (auto-embedding) on the default model
 * (USE-Lite, 512-d): content inserted in a transaction is embedded together at commit or
 * before the next query, content MATCH embeds the query, updates re-embed, rollback drops
 * queued texts, and the vectors equal silt_embed's. Skipped when the model is absent. */
#include "dense_testutil.h"
#include "sqlext/models.h"

#define NEED_DEFAULT_MODEL()                                                                  \
    do {                                                                                      \
        char dir_[4096];                                                                      \
        if (silt_model_default_dir(dir_, sizeof dir_) != 0)                                   \
            cr_skip_test("default model absent: run make setup");                             \
    } while (0)

static sqlite3 *notes_table(const char *path) {
    sqlite3 *db = test_open(path);
    dense_exec(db, "CREATE VIRTUAL TABLE notes USING silt_dense(dim=512, metric=cosine, "
                   "model=default)");
    return db;
}

Test(dense, model_embeds_content_and_answers_text_queries) {
    NEED_DEFAULT_MODEL();
    sqlite3 *db = notes_table(NULL);
    dense_exec(db, "INSERT INTO notes(rowid, content) VALUES (1, 'The cat sat on the mat'), "
                   "(2, 'Stock markets fell sharply today'), (3, 'A kitten sleeps on the rug')");
    assert_query(db, "SELECT rowid FROM notes WHERE content MATCH 'the share price dropped' AND k = 1",
                 "2");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM notes WHERE content "
                     "MATCH 'cats and kittens' AND k = 2 ORDER BY rowid)", "1,3");
    /* the stored vector is the model's embedding of the text */
    assert_query(db, "SELECT silt_distance_cosine(embedding, silt_embed('Stock markets fell "
                     "sharply today')) < 1e-6 FROM notes WHERE rowid = 2", "1");
    assert_query(db, "SELECT count(*) FROM notes WHERE embedding IS NOT NULL", "3");
    /* an explicit vector wins over the text; a new text replaces the vector */
    dense_exec(db, "UPDATE notes SET content = 'Bond yields rose on inflation fears' WHERE rowid = 1");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM notes WHERE content "
                     "MATCH 'interest rates and bonds' AND k = 2 ORDER BY rowid)", "1,2");
    dense_exec(db, "INSERT INTO notes(rowid, embedding, content) "
                   "SELECT 9, embedding, 'label only' FROM notes WHERE rowid = 3");
    assert_query(db, "SELECT silt_distance_cosine(a.embedding, b.embedding) < 1e-6 FROM notes a, "
                     "notes b WHERE a.rowid = 3 AND b.rowid = 9", "1");
    dense_exec(db, "INSERT INTO notes(notes) VALUES ('integrity-check')");
    sqlite3_close(db);
}

/* Texts inserted in one transaction wait for the commit (or the next query) and are
 * embedded together; a rollback drops them. */
Test(dense, model_queues_texts_until_commit_or_query) {
    NEED_DEFAULT_MODEL();
    const char *path = dense_path("model.db");
    sqlite3 *db = notes_table(path);
    dense_exec(db, "BEGIN");
    dense_exec(db, "INSERT INTO notes(rowid, content) VALUES (1, 'red apples'), (2, 'green pears')");
    /* not embedded yet: the truth holds the text only */
    assert_query(db, "SELECT count(*) FROM notes_data WHERE embedding IS NULL", "2");
    /* a query in the same transaction sees them (embedded first) */
    assert_query(db, "SELECT rowid FROM notes WHERE content MATCH 'apple' AND k = 1", "1");
    dense_exec(db, "INSERT INTO notes(rowid, content) VALUES (3, 'ripe bananas')");
    dense_exec(db, "COMMIT");
    assert_query(db, "SELECT count(*) FROM notes_data WHERE embedding IS NULL", "0");
    dense_exec(db, "BEGIN");
    dense_exec(db, "INSERT INTO notes(rowid, content) VALUES (4, 'yellow lemons')");
    dense_exec(db, "ROLLBACK");
    assert_query(db, "SELECT count(*) FROM notes", "3");
    assert_query(db, "SELECT count(*) FROM notes WHERE content MATCH 'lemons' AND k = 10", "3");
    sqlite3_close(db);
    /* another connection sees the committed vectors */
    db = test_open(path);
    assert_query(db, "SELECT rowid FROM notes WHERE content MATCH 'banana' AND k = 1", "3");
    dense_exec(db, "INSERT INTO notes(notes) VALUES ('integrity-check')");
    sqlite3_close(db);
}

Test(dense, model_errors_are_clear) {
    NEED_DEFAULT_MODEL();
    sqlite3 *db = test_open(NULL);
    assert_exec_error(db, "CREATE VIRTUAL TABLE n USING silt_dense(dim=384, model=default)",
                      "silt_dense: model 'default' is a dense model of dim 512, but the table has "
                      "dim=384");
    dense_exec(db, "CREATE VIRTUAL TABLE n USING silt_dense(dim=512, model=default)");
    assert_exec_error(db, "INSERT INTO n(rowid, content) VALUES (1, NULL)",
                      "silt_dense: embedding and content are both NULL");
    assert_exec_error(db, "INSERT INTO n(rowid, content) VALUES (1, x'00')",
                      "silt_dense: content must be text to embed");
    assert_exec_error(db, "SELECT * FROM n WHERE content MATCH 42 AND k = 1",
                      "silt_dense: content MATCH expects a query text");
    /* without a model there is no content column */
    dense_exec(db, "CREATE VIRTUAL TABLE p USING silt_dense(dim=2)");
    assert_exec_error(db, "INSERT INTO p(rowid, content) VALUES (1, 'x')", "no column named content");
    sqlite3_close(db);
}

-- setup.sql: the database every row of catalogue.tsv starts from (tests/unit/test_bad_inputs.c).
-- $DATA is replaced by the path of tests/data, $TMP by a scratch directory of bad files.
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, year INT);
INSERT INTO docs VALUES (1, 'apples and pears', 2019), (2, 'the quick brown fox', 2020),
                        (3, 'sqlite is a small database', 2021);
CREATE TABLE orders(customer TEXT, amount REAL);
INSERT INTO orders VALUES ('ann', 1.5), ('bob', 2), ('cid', 3);
CREATE TABLE people(name TEXT, city TEXT);
INSERT INTO people VALUES ('ann', 'Paris'), ('bob', 'Oslo'), ('dan', 'Rome');
SELECT silt_model_register('tb', '$DATA/tiny-bert');
SELECT silt_model_register('sp', '$DATA/tiny-splade', '{"kind":"sparse"}');
CREATE VIRTUAL TABLE d USING silt_dense(dim=4, metric=cosine);
INSERT INTO d(rowid, embedding) VALUES (1, '[1,0,0,0]'), (2, '[0,1,0,0]'), (3, '[0,0,1,1]');
CREATE VIRTUAL TABLE dh USING silt_dense(dim=4, index='HNSW8');
INSERT INTO dh(rowid, embedding) SELECT rowid, embedding FROM d;
CREATE VIRTUAL TABLE dm USING silt_dense(dim=32, model=tb);
INSERT INTO dm(rowid, content) SELECT id, body FROM docs;
CREATE VIRTUAL TABLE s USING silt_sparse;
INSERT INTO s(rowid, terms) VALUES (1, '{"1": 0.5, "7": 2}'), (2, '{"7": 1, "9": 3}');
CREATE VIRTUAL TABLE sm USING silt_sparse(model=sp);
INSERT INTO sm(rowid, content) SELECT id, body FROM docs;
CREATE VIRTUAL TABLE j USING silt_join(model=tb);
INSERT INTO j(tbl) VALUES ('orders');
INSERT INTO j(tbl) VALUES ('people');

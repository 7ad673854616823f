-- silt_dense as a user meets it in the shell: create, insert, k-NN by k and by LIMIT,
-- filters, update/delete, transactions, commands, drop.
CREATE VIRTUAL TABLE doc_vec USING silt_dense(dim=3, metric=l2, index='HNSW16');
INSERT INTO doc_vec(rowid, embedding) VALUES
  (1, '[0, 0, 0]'), (2, '[1, 0, 0]'), (3, '[0, 2, 0]'), (4, '[0, 0, 3]'), (5, '[1, 1, 1]');
SELECT rowid, round(distance, 4) FROM doc_vec WHERE embedding MATCH '[0.9, 0, 0]' AND k = 3;
SELECT rowid, round(distance, 4) FROM doc_vec WHERE embedding MATCH silt_vec('[0,0,0]')
 ORDER BY distance LIMIT 2 OFFSET 1;
CREATE TABLE docs(id INTEGER PRIMARY KEY, year INT);
INSERT INTO docs VALUES (1, 2019), (2, 2018), (3, 2021), (4, 2022), (5, 2023);
SELECT rowid FROM doc_vec WHERE embedding MATCH '[0,0,0]' AND k = 2
   AND rowid IN (SELECT id FROM docs WHERE year >= 2020);
SELECT rowid, silt_vec_json(embedding) FROM doc_vec WHERE rowid BETWEEN 2 AND 3;
BEGIN;
DELETE FROM doc_vec WHERE rowid = 1;
UPDATE doc_vec SET embedding = '[0.9, 0, 0]' WHERE rowid = 4;
SELECT group_concat(rowid) FROM doc_vec WHERE embedding MATCH '[1,0,0]' AND k = 2;
ROLLBACK;
SELECT group_concat(rowid) FROM doc_vec WHERE embedding MATCH '[1,0,0]' AND k = 2;
INSERT INTO doc_vec(doc_vec) VALUES ('optimize');
INSERT INTO doc_vec(doc_vec) VALUES ('integrity-check');
SELECT count(*) FROM doc_vec_snapshot;
DROP TABLE doc_vec;
SELECT name FROM sqlite_master ORDER BY name;

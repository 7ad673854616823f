-- silt_sparse without a model: term ids in JSON or the sparse BLOB, search, filters, knobs,
-- updates, transactions, commands, errors.
CREATE VIRTUAL TABLE sp USING silt_sparse;
INSERT INTO sp(rowid, terms) VALUES
  (1, '{"2054": 0.8, "7592": 1.1}'),
  (2, '{"7592": 2, "10": 0.5}'),
  (3, '{"99": 1}'),
  (4, '{"10": 1.5, "11": -1}');
-- A sparse BLOB works as input too: n=2, ids 10 and 99, weights 1.0 and 0.25.
INSERT INTO sp(rowid, terms) VALUES (5, X'020000000A000000630000000000803F0000803E');
SELECT '-- stored form';
SELECT rowid, silt_sparse_json(terms), typeof(terms), length(terms) FROM sp ORDER BY rowid;

SELECT '-- k, score highest first, only rows sharing a term';
SELECT rowid, round(score, 4) FROM sp WHERE terms MATCH '{"7592": 1, "10": 2}' AND k = 10;
SELECT rowid, round(score, 4) FROM sp WHERE terms MATCH '{"7592": 1, "10": 2}' AND k = 2;
SELECT '-- no k: every row sharing a term; LIMIT and ORDER BY score DESC';
SELECT rowid, round(score, 4) FROM sp WHERE terms MATCH '{"10": 1}';
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' ORDER BY score DESC LIMIT 2;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' ORDER BY score DESC LIMIT 1 OFFSET 1;
SELECT '-- a term no row has';
SELECT count(*) FROM sp WHERE terms MATCH '{"5000": 1}' AND k = 10;
SELECT '-- query given as a BLOB; exact search; knobs echoed';
SELECT rowid, round(score, 4), exact, heap_factor, query_terms FROM sp
 WHERE terms MATCH (SELECT terms FROM sp WHERE rowid = 5) AND k = 3 AND exact = 1
   AND heap_factor = 0.7 AND query_terms = 1;
SELECT '-- rowid filters';
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1, "7592": 1}' AND k = 10 AND rowid IN (1, 4, 99);
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1, "7592": 1}' AND k = 10 AND rowid = 2;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1, "7592": 1}' AND k = 10 AND rowid >= 2 AND rowid < 5;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1, "7592": 1}' AND k = 2
   AND rowid IN (SELECT value FROM json_each('[1,2,4,5]') WHERE value > 1);
SELECT '-- scans';
SELECT rowid FROM sp WHERE rowid BETWEEN 2 AND 4;
SELECT count(*) FROM sp;

SELECT '-- UPDATE terms, rowid; DELETE; INSERT OR REPLACE';
UPDATE sp SET terms = '{"10": 3}' WHERE rowid = 3;
UPDATE sp SET rowid = 30 WHERE rowid = 3;
DELETE FROM sp WHERE rowid = 2;
INSERT OR REPLACE INTO sp(rowid, terms) VALUES (1, '{"10": 0.1}');
SELECT rowid, round(score, 4) FROM sp WHERE terms MATCH '{"10": 1, "7592": 1}';
INSERT INTO sp(sp) VALUES ('integrity-check');

SELECT '-- transactions: read your writes, rollback, savepoints';
BEGIN;
INSERT INTO sp(rowid, terms) VALUES (6, '{"10": 9}');
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND k = 1;
SAVEPOINT a;
DELETE FROM sp WHERE rowid = 6;
UPDATE sp SET terms = '{"10": 20}' WHERE rowid = 4;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND k = 1;
ROLLBACK TO a;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND k = 1;
ROLLBACK;
SELECT rowid, round(score, 4) FROM sp WHERE terms MATCH '{"10": 1}';
INSERT INTO sp(sp) VALUES ('integrity-check');

SELECT '-- commands';
INSERT INTO sp(sp) VALUES ('optimize');
INSERT INTO sp(sp) VALUES ('rebuild');
INSERT INTO sp(sp) VALUES ('integrity-check');
SELECT rowid, round(score, 4) FROM sp WHERE terms MATCH '{"10": 1}';
INSERT INTO sp(sp) VALUES ('vacuum');

SELECT '-- errors';
INSERT INTO sp(rowid, terms) VALUES (7, '{"apple": 1}');
INSERT INTO sp(rowid, terms) VALUES (7, '{"3": 1, "-3": 1}');
INSERT INTO sp(rowid, terms) VALUES (7, '{"3": "x"}');
INSERT INTO sp(rowid, terms) VALUES (7, '{"3": 1e400}');
INSERT INTO sp(rowid, terms) VALUES (7, '{"3": 1, "3": 2}');
INSERT INTO sp(rowid, terms) VALUES (7, '[1, 2]');
INSERT INTO sp(rowid, terms) VALUES (7, 42);
INSERT INTO sp(rowid, terms) VALUES (7, X'0100');
INSERT INTO sp(rowid, terms) VALUES (7, NULL);
INSERT INTO sp(rowid, content) VALUES (7, 'needs a model');
INSERT INTO sp(rowid, terms) VALUES ('seven', '{"3": 1}');
INSERT INTO sp(rowid, terms) VALUES (4, '{"3": 1}');
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND k = -1;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND exact = 2;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND heap_factor = 0;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND heap_factor = 1.5;
SELECT rowid FROM sp WHERE terms MATCH '{"10": 1}' AND query_terms = -1;
SELECT rowid FROM sp WHERE terms MATCH 'not json';
SELECT rowid FROM sp WHERE content MATCH 'needs a model';
SELECT rowid FROM sp WHERE k = 3;
SELECT count(*) FROM sp;
INSERT INTO sp(sp) VALUES ('integrity-check');
CREATE VIRTUAL TABLE bad1 USING silt_sparse(colour=red);
CREATE VIRTUAL TABLE bad2 USING silt_sparse(prune=0);
CREATE VIRTUAL TABLE bad3 USING silt_sparse(block_docs=300);
CREATE VIRTUAL TABLE bad4 USING silt_sparse(heap_factor=2);
CREATE VIRTUAL TABLE bad5 USING silt_sparse(query_terms=1.5);
CREATE VIRTUAL TABLE bad6 USING silt_sparse(prune=0.5, prune=0.6);
CREATE VIRTUAL TABLE bad7 USING silt_sparse(model=no_such_model);
CREATE VIRTUAL TABLE bad8 USING silt_sparse(model);

SELECT '-- options; rename; drop';
CREATE VIRTUAL TABLE tuned USING silt_sparse(block_docs=8, prune=1, heap_factor=1, query_terms=4);
INSERT INTO tuned(rowid, terms) SELECT value, json_object(CAST(value % 7 AS TEXT), 1.0, CAST(100 + value % 3 AS TEXT), 0.5)
  FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]');
SELECT rowid, score FROM tuned WHERE terms MATCH '{"3": 2, "101": 1}' AND k = 4;
ALTER TABLE tuned RENAME TO tuned2;
SELECT rowid, score FROM tuned2 WHERE terms MATCH '{"3": 2, "101": 1}' AND k = 4 AND exact = 1;
INSERT INTO tuned2(tuned2) VALUES ('integrity-check');
DROP TABLE tuned2;
DROP TABLE sp;
SELECT name FROM sqlite_master ORDER BY name;

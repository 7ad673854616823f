-- Hybrid retrieval (docs/hybrid.md): silt_dense + silt_sparse + FTS5 bm25 fused by weighted
-- reciprocal rank fusion in one statement, weights as parameters. Small hand-made corpus:
-- dense vectors (dim 3), sparse term ids and FTS5 text are given explicitly, so that the
-- expected ranking can be checked by hand (RRF constant 60).
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs VALUES
  (1, 'apple orchard harvest in autumn'),
  (2, 'fruit prices rise after a poor apple harvest'),
  (3, 'orchard tools and ladders'),
  (4, 'the history of the banana trade'),
  (5, 'apple pie recipe with cinnamon'),
  (6, 'ladders for roofers');
CREATE VIRTUAL TABLE doc_vec USING silt_dense(dim=3, metric=cosine);
INSERT INTO doc_vec(rowid, embedding) VALUES
  (1, '[0.9, 0.1, 0.0]'), (2, '[0.7, 0.6, 0.1]'), (3, '[0.5, 0.0, 0.8]'),
  (4, '[0.0, 1.0, 0.0]'), (5, '[0.8, 0.3, 0.2]'), (6, '[0.0, 0.1, 1.0]');
-- term ids: 10 apple, 11 orchard, 12 harvest, 13 fruit, 14 ladder, 15 banana, 16 pie
CREATE VIRTUAL TABLE doc_sp USING silt_sparse;
INSERT INTO doc_sp(rowid, terms) VALUES
  (1, '{"10": 1.2, "11": 1.5, "12": 0.9}'),
  (2, '{"10": 0.8, "12": 1.1, "13": 1.3}'),
  (3, '{"11": 1.4, "14": 1.0}'),
  (4, '{"15": 2.0, "13": 0.6}'),
  (5, '{"10": 1.1, "16": 1.7}'),
  (6, '{"14": 1.6}');
CREATE VIRTUAL TABLE doc_fts USING fts5(body, content='docs', content_rowid='id');
INSERT INTO doc_fts(doc_fts) VALUES ('rebuild');

-- The query "apple orchard", in each retriever's form.
.param set :qvec '[1.0, 0.2, 0.1]'
.param set :qsparse '{"10": 1.0, "11": 1.0}'
.param set :qfts 'apple OR orchard'
.param set :depth 5
.param set :k 4

SELECT '-- each retriever alone';
SELECT group_concat(rowid, ' ') FROM (SELECT rowid FROM doc_vec WHERE embedding MATCH :qvec AND k = :depth);
SELECT group_concat(rowid, ' ') FROM (SELECT rowid FROM doc_sp WHERE terms MATCH :qsparse AND k = :depth);
SELECT group_concat(rowid, ' ') FROM (SELECT rowid FROM doc_fts WHERE doc_fts MATCH :qfts ORDER BY bm25(doc_fts) LIMIT :depth);

SELECT '-- fused, equal weights';
.param set :w_dense 1.0
.param set :w_sparse 1.0
.param set :w_fts 1.0
WITH
dense AS (SELECT rowid AS id, row_number() OVER (ORDER BY distance) AS r
            FROM doc_vec WHERE embedding MATCH :qvec AND k = :depth),
sparse AS (SELECT rowid AS id, row_number() OVER (ORDER BY score DESC) AS r
             FROM doc_sp WHERE terms MATCH :qsparse AND k = :depth),
lexical AS (SELECT rowid AS id, row_number() OVER (ORDER BY bm25(doc_fts)) AS r
              FROM doc_fts WHERE doc_fts MATCH :qfts ORDER BY bm25(doc_fts) LIMIT :depth),
fused AS (SELECT id, :w_dense / (60.0 + r) AS s FROM dense
          UNION ALL SELECT id, :w_sparse / (60.0 + r) FROM sparse
          UNION ALL SELECT id, :w_fts / (60.0 + r) FROM lexical)
SELECT id, round(sum(s), 6) AS rrf, (SELECT body FROM docs WHERE docs.id = fused.id)
  FROM fused GROUP BY id ORDER BY rrf DESC, id LIMIT :k;

SELECT '-- the same by hand: doc 1 ranks 1 (dense), 1 (sparse), 2 (FTS5); doc 3 ranks 4, 2, 1';
SELECT round(1.0 / 61 + 1.0 / 61 + 1.0 / 62, 6), round(1.0 / 64 + 1.0 / 62 + 1.0 / 61, 6);

SELECT '-- weights (0, 1, 0): exactly the sparse ranking';
.param set :w_dense 0.0
.param set :w_fts 0.0
WITH
dense AS (SELECT rowid AS id, row_number() OVER (ORDER BY distance) AS r
            FROM doc_vec WHERE embedding MATCH :qvec AND k = :depth),
sparse AS (SELECT rowid AS id, row_number() OVER (ORDER BY score DESC) AS r
             FROM doc_sp WHERE terms MATCH :qsparse AND k = :depth),
lexical AS (SELECT rowid AS id, row_number() OVER (ORDER BY bm25(doc_fts)) AS r
              FROM doc_fts WHERE doc_fts MATCH :qfts ORDER BY bm25(doc_fts) LIMIT :depth),
fused AS (SELECT id, :w_dense / (60.0 + r) AS s FROM dense
          UNION ALL SELECT id, :w_sparse / (60.0 + r) FROM sparse
          UNION ALL SELECT id, :w_fts / (60.0 + r) FROM lexical)
SELECT group_concat(id, ' ') FROM (
  SELECT id, sum(s) AS rrf FROM fused GROUP BY id HAVING rrf > 0 ORDER BY rrf DESC, id LIMIT :k);

SELECT '-- weights (2, 0, 1): dense counts double, sparse not at all';
.param set :w_dense 2.0
.param set :w_sparse 0.0
.param set :w_fts 1.0
WITH
dense AS (SELECT rowid AS id, row_number() OVER (ORDER BY distance) AS r
            FROM doc_vec WHERE embedding MATCH :qvec AND k = :depth),
sparse AS (SELECT rowid AS id, row_number() OVER (ORDER BY score DESC) AS r
             FROM doc_sp WHERE terms MATCH :qsparse AND k = :depth),
lexical AS (SELECT rowid AS id, row_number() OVER (ORDER BY bm25(doc_fts)) AS r
              FROM doc_fts WHERE doc_fts MATCH :qfts ORDER BY bm25(doc_fts) LIMIT :depth),
fused AS (SELECT id, :w_dense / (60.0 + r) AS s FROM dense
          UNION ALL SELECT id, :w_sparse / (60.0 + r) FROM sparse
          UNION ALL SELECT id, :w_fts / (60.0 + r) FROM lexical)
SELECT id, round(sum(s), 6) AS rrf FROM fused GROUP BY id HAVING rrf > 0
 ORDER BY rrf DESC, id LIMIT :k;

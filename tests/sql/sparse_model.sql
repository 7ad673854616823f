-- silt_sparse with a SPLADE model (the tiny random BERT-MLM of
-- tests/reference/make_tiny_splade.py, bert-base-uncased vocabulary): content encoded at
-- commit, token-string terms, content MATCH, silt_embed_sparse / silt_sparse_json, updates.
.shell ln -s "$SILT_ROOT/tests/data" data
SELECT silt_model_register('splade', 'data/tiny-splade', '{"kind":"sparse"}');
SELECT silt_model_register('splade8', 'data/tiny-splade', '{"kind":"sparse","top_n":8}');
SELECT silt_model_register('tinybert', 'data/tiny-bert');
SELECT name, arch, kind, dim, max_tokens FROM silt_models WHERE name != 'default' ORDER BY name;

SELECT '-- the encoder';
SELECT silt_tokenize('splade', 'apple fruit orchard');
SELECT silt_vec_dim(silt_embed('tinybert', 'x')), length(silt_embed_sparse('splade', 'apple fruit orchard')) > 4;
SELECT (length(silt_embed_sparse('splade8', 'apple fruit orchard')) - 4) / 8;
SELECT json_extract(silt_sparse_json(silt_embed_sparse('splade', 'apple')), '$') IS NOT NULL;

SELECT '-- a table with the model';
CREATE VIRTUAL TABLE doc USING silt_sparse(model=splade);
INSERT INTO doc(rowid, content) VALUES
  (1, 'apple fruit orchard'),
  (2, 'what is paula deen''s brother'),
  (3, 'The quick brown fox jumps over the lazy dog.'),
  (4, 'Hello world');
-- terms were computed at commit and equal silt_embed_sparse of the content
SELECT rowid, terms = silt_embed_sparse('splade', content) FROM doc ORDER BY rowid;
-- a text query finds its own document first; scores equal the dot product
SELECT rowid FROM doc WHERE content MATCH 'apple fruit orchard' AND k = 1;
SELECT rowid FROM doc WHERE content MATCH 'Hello world' AND k = 1;
SELECT rowid FROM doc WHERE content MATCH 'what is paula deen''s brother' AND k = 1 AND exact = 1;
-- token strings as terms, shown back as token strings
INSERT INTO doc(rowid, terms) VALUES (10, '{"apple": 1.5, "fruit": 0.5, "##s": 0.25}');
SELECT silt_sparse_json(terms, 'splade') FROM doc WHERE rowid = 10;
SELECT rowid, score FROM doc WHERE terms MATCH '{"apple": 2}' AND rowid = 10;
SELECT rowid, score FROM doc WHERE terms MATCH '{"fruit": 1, "1012": 1}' AND rowid = 10;
-- both given: the terms are kept, the content stored as is
INSERT INTO doc(rowid, terms, content) VALUES (11, '{"orchard": 3}', 'some text');
SELECT rowid, content, silt_sparse_json(terms, 'splade') FROM doc WHERE rowid = 11;
-- a new content is encoded again (in the same transaction, before a query sees it)
BEGIN;
UPDATE doc SET content = 'Hello world' WHERE rowid = 1;
SELECT terms = silt_embed_sparse('splade', 'Hello world') FROM doc WHERE rowid = 1;
COMMIT;
SELECT rowid FROM doc WHERE content MATCH 'Hello world' AND k = 2;
INSERT INTO doc(doc) VALUES ('integrity-check');
INSERT INTO doc(doc) VALUES ('rebuild');
INSERT INTO doc(doc) VALUES ('integrity-check');

SELECT '-- errors';
INSERT INTO doc(rowid, terms) VALUES (20, '{"notawordpiecetoken": 1}');
INSERT INTO doc(rowid, content) VALUES (21, 42);
SELECT rowid FROM doc WHERE content MATCH 42;
SELECT rowid FROM doc WHERE content MATCH 'x' AND terms MATCH '{"x": 1}';
CREATE VIRTUAL TABLE d2 USING silt_sparse(model=tinybert);
CREATE VIRTUAL TABLE d3 USING silt_sparse(model=default);
SELECT silt_model_register('bad1', 'data/tiny-bert', '{"kind":"sparse"}');
SELECT silt_model_register('bad2', 'data/tiny-splade', '{"kind":"sparse","top_n":0}');
SELECT silt_model_register('bad3', 'data/tiny-splade', '{"kind":"sparse","pooling":"cls"}');
SELECT silt_model_register('bad4', 'data/tiny-bert-f16.gguf', '{"kind":"sparse"}');
SELECT silt_embed('splade', 'x');
SELECT count(*) FROM doc;

-- Mamba models work everywhere a model works: silt_model_register (Hugging Face directory
-- and GGUF), silt_models, silt_tokenize, silt_embed, silt_dense model=. The tiny random
-- model of tests/reference/make_tiny_mamba.py; ids and values are in tiny_mamba_gold.json.
.shell ln -s "$SILT_ROOT/tests/data" data
SELECT silt_model_register('mamba', 'data/tiny-mamba');
SELECT silt_model_register('mambag', 'data/tiny-mamba.gguf');
SELECT name, arch, kind, dim, max_tokens FROM silt_models WHERE arch = 'mamba';
-- ids end with EOS (0), the Mamba Retriever pooling position
SELECT silt_tokenize('mamba', 'hello world');
SELECT silt_tokenize('mamba', 'hello world') = silt_tokenize('mambag', 'hello world');
SELECT silt_tokenize('mamba', '');
SELECT silt_tokenize('mamba', 'x<|endoftext|>');
SELECT silt_vec_dim(silt_embed('mamba', 'hello world'));
SELECT printf('%.5f %.5f', json_extract(silt_vec_json(silt_embed('mamba', 'hello world')), '$[0]'),
              json_extract(silt_vec_json(silt_embed('mamba', 'hello world')), '$[31]'));
SELECT printf('%.5f', silt_dot(silt_embed('mamba', 'hello world'), silt_embed('mamba', 'hello world')));
SELECT silt_distance_cosine(silt_embed('mamba', 'hello world'), silt_embed('mambag', 'hello world')) < 1e-6;
-- the window: truncation keeps the first max_tokens - 1 tokens and EOS
SELECT silt_model_register('short', 'data/tiny-mamba.gguf', '{"max_tokens":4}');
SELECT silt_tokenize('short', 'hello world and more words');
SELECT silt_embed('short', 'hello world and more words', '{"truncate":false}');
SELECT silt_vec_dim(silt_embed('short', 'hello world and more words'));
-- errors
SELECT silt_model_register('x', 'data/tiny-mamba', '{"kind":"sparse"}');
SELECT silt_model_register('x', 'data/tiny-mamba', '{"pooling":"mean"}');
SELECT silt_model_register('x', 'data/tiny-mamba.gguf', '{"max_tokens":0}');
SELECT silt_embed_sparse('mamba', 'hello');
-- an index that embeds its text with the Mamba model
CREATE VIRTUAL TABLE v USING silt_dense(dim=32, metric=cosine, model=mamba);
INSERT INTO v(rowid, content) VALUES (1, 'hello world'), (2, 'state space models'),
  (3, 'a long passage about retrieval');
SELECT rowid, printf('%.4f', distance) FROM v WHERE content MATCH 'hello world' AND k = 2;

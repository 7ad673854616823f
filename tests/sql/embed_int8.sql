-- {"int8": true} at registration: a BERT whose four products per layer run on int8 weights
-- (core/ops_int8.h) embeds like its float32 twin: same tokens and dimension, cosine distance
-- below 0.001 on every text. Bad values of the option are errors and register nothing.
.shell ln -s "$SILT_ROOT/tests/data" data
SELECT silt_model_register('tiny', 'data/tiny-bert');
SELECT silt_model_register('tiny8', 'data/tiny-bert', '{"int8":true}');
SELECT silt_model_register('q8', 'data/tiny-bert-q8_0.gguf');
SELECT silt_model_register('q8i', 'data/tiny-bert-q8_0.gguf', '{"int8":true}');
SELECT name, arch, dim, max_tokens, options FROM silt_models WHERE name != 'default' ORDER BY name;
SELECT silt_tokenize('tiny8', 'Hello, World!') = silt_tokenize('tiny', 'Hello, World!');
WITH t(s) AS (VALUES ('hello world'), ('The quick brown fox jumps over the lazy dog.'),
                     ('北京欢迎你'), ('data lakes, vectors and int8 weights'))
SELECT s, silt_distance_cosine(silt_embed('tiny', s), silt_embed('tiny8', s)) < 0.001,
          silt_distance_cosine(silt_embed('q8', s), silt_embed('q8i', s)) < 0.001,
          silt_embed('tiny', s) != silt_embed('tiny8', s)
FROM t;
SELECT silt_model_register('bad', 'data/tiny-bert', '{"int8":"yes"}');
SELECT silt_model_register('bad', 'data/tiny-bert', '{"int8":1}');
SELECT count(*) FROM silt_models WHERE name = 'bad';

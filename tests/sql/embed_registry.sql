-- silt_model_register / silt_model_import / silt_model_unregister and the silt_models table.
-- Works in a private copy of the default model and of the tiny test models.
.shell cp -r "$SILT_ROOT/build/models/use-lite" m1
.shell ln -s "$SILT_ROOT/tests/data" data
SELECT silt_model_register('use', 'm1');
SELECT silt_model_register('tiny', 'data/tiny-bert');
SELECT silt_model_register('tinyq8', 'data/tiny-bert-q8_0.gguf', '{"kind":"dense"}');
SELECT name, arch, kind, dim, max_tokens, imported FROM silt_models;
SELECT name, length(sha256), options FROM silt_models WHERE name != 'default';
SELECT substr(sha256, 1, 16) FROM silt_models WHERE name = 'use';
SELECT path LIKE '/%/m1' FROM silt_models WHERE name = 'use';
-- a registered copy embeds exactly as the default model
SELECT silt_embed('use', 'hello world') = silt_embed('hello world');
SELECT silt_vec_dim(silt_embed('tiny', 'hello world')), silt_tokenize('tiny', 'hello world');
SELECT silt_tokenize('tinyq8', 'Hello, World!');
-- registration errors; nothing is written by a failed call
SELECT silt_model_register('use', 'm1');
SELECT silt_model_register('default', 'm1');
SELECT silt_model_register('Default', 'm1');
SELECT silt_model_register('no space', 'm1');
SELECT silt_model_register('x', 'missing-dir');
SELECT silt_model_register('x', NULL);
SELECT silt_model_register('x', 'm1', '{"kind":"sparse"}');
SELECT silt_model_register('x', 'm1', '{"pooling":"cls"}');
SELECT silt_model_register('x', 'data/tiny-bert', '{"pooling":"median"}');
SELECT silt_model_register('x', 'data/tiny-bert', 'not json');
SELECT silt_model_register('x', 'data');
SELECT silt_model_register('x', 'data/tiny_bert_gold.json');
.shell mkdir broken && echo '{"modelTopology":{}}' > broken/model.json && echo '[]' > broken/vocab.json
SELECT silt_model_register('x', 'broken');
SELECT count(*) FROM silt_models;
-- replacing
SELECT silt_model_register('tiny', 'data/tiny-bert-q8_0.gguf', '{"replace":true}');
SELECT name, max_tokens FROM silt_models WHERE name = 'tiny';
SELECT silt_model_register('tiny', 'data/tiny-bert', '{"replace":"yes"}');
-- importing copies the files into the database in chunks of at most 1 MiB
SELECT silt_model_import('use');
SELECT silt_model_import('use');
SELECT silt_model_import('tinyq8') > 0;
SELECT name, imported FROM silt_models;
SELECT name, count(DISTINCT file), max(length(data)) <= 1048576 FROM silt_model_files GROUP BY name;
SELECT silt_model_import('default');
SELECT silt_model_import('nope');
-- the imported model keeps working without its original files
.shell rm -rf m1
SELECT silt_embed('use', 'hello world') = silt_embed('hello world');
-- unregistering removes the row and the imported files
SELECT silt_model_unregister('use');
SELECT silt_model_unregister('use');
SELECT silt_model_unregister('default');
SELECT count(*) FROM silt_model_files WHERE name = 'use';
SELECT name FROM silt_models;
SELECT silt_embed('use', 'x');
-- the functions that write are not allowed in triggers or views
CREATE VIEW v AS SELECT silt_model_unregister('tiny');
SELECT * FROM v;

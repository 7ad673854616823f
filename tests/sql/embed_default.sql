-- silt_embed / silt_tokenize with the default model (USE-Lite; make test runs setup first).
SELECT silt_vec_dim(silt_embed('hello world'));
SELECT printf('%.5f %.5f', json_extract(silt_vec_json(silt_embed('hello world')), '$[0]'),
              json_extract(silt_vec_json(silt_embed('hello world')), '$[511]'));
SELECT printf('%.5f', silt_dot(silt_embed('hello world'), silt_embed('hello world')));
SELECT silt_embed('default', 'hello world') = silt_embed('hello world');
SELECT silt_embed('default', 'hello world', '{"truncate":true}') = silt_embed('hello world');
SELECT silt_tokenize('default', 'hello world');
SELECT silt_tokenize('hello world');
-- the more similar sentence is closer
SELECT silt_distance_cosine(silt_embed('How old are you?'), silt_embed('What is your age?'))
     < silt_distance_cosine(silt_embed('How old are you?'), silt_embed('SQLite is a database engine.'));
-- NULL gives NULL; numbers are embedded as their text
SELECT silt_embed(NULL) IS NULL, silt_embed('default', NULL) IS NULL, silt_tokenize('default', NULL) IS NULL;
SELECT silt_embed(2024) = silt_embed('2024'), silt_tokenize('default', 3.5) = silt_tokenize('default', '3.5');
-- the empty text has an embedding
SELECT silt_vec_dim(silt_embed(''));
-- longer than the 128-token window: truncated by default, an error on request
SELECT json_array_length(silt_tokenize('default', replace(hex(zeroblob(300)), '00', 'x ')));
SELECT silt_embed(replace(hex(zeroblob(300)), '00', 'x ')) = silt_embed('default', replace(hex(zeroblob(300)), '00', 'x '), '{"truncate":true}');
SELECT silt_embed('default', replace(hex(zeroblob(300)), '00', 'x '), '{"truncate":false}');
SELECT silt_tokenize('default', replace(hex(zeroblob(300)), '00', 'x '), '{"truncate":false}');
-- invalid UTF-8 reads as U+FFFD (unknown token 0), not an error
SELECT silt_tokenize('default', CAST(x'68656c6cff6f' AS TEXT));
SELECT silt_vec_dim(silt_embed(CAST(x'fffe' AS TEXT)));
-- errors
SELECT silt_embed(x'68656c6c6f');
SELECT silt_embed(NULL, 'x');
SELECT silt_embed(7, 'x');
SELECT silt_embed('nope', 'x');
SELECT silt_embed('default', 'x', 'truncate');
SELECT silt_embed('default', 'x', '{"truncate":0}');
SELECT silt_embed('default', 'x', '{"window":10}');
SELECT silt_embed_sparse('default', 'x');
SELECT silt_embed_sparse('x');
-- the models table lists the default model without any registration
SELECT name, arch, kind, dim, max_tokens, length(sha256), imported FROM silt_models;
SELECT path LIKE '%/use-lite' FROM silt_models;
CREATE VIRTUAL TABLE m USING silt_models;
-- per-row use
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs(body) VALUES ('the cat sat on the mat'), ('a dog barked'), (NULL), ('stock markets fell');
SELECT id, silt_vec_dim(silt_embed(body)) FROM docs;
SELECT id FROM docs WHERE body IS NOT NULL
 ORDER BY silt_distance_cosine(silt_embed(body), silt_embed('kitten on a rug')) LIMIT 1;

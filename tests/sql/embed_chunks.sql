-- silt_chunks: cutting texts into chunks by words or by model tokens.
.mode list
SELECT chunk_no, start, "end", text FROM silt_chunks('The quick brown fox jumps over the lazy dog', NULL, 4);
SELECT chunk_no, start, "end", text FROM silt_chunks('The quick brown fox jumps over the lazy dog', NULL, 4, 2);
-- offsets: substr(text, start + 1, end - start) is the chunk (ASCII)
WITH d(t) AS (SELECT '  leading   and trailing  spaces,	tabs
and newlines  ')
SELECT c.chunk_no, c.start, c."end", substr(d.t, c.start + 1, c."end" - c.start) = c.text
  FROM d, silt_chunks(d.t, NULL, 2) c;
-- multibyte text: byte offsets, whole characters
SELECT chunk_no, start, "end", text, length(text) FROM silt_chunks('café déjà vu — naïve façade', NULL, 2);
SELECT chunk_no, hex(CAST(substr(CAST('café déjà vu' AS BLOB), start + 1, "end" - start) AS BLOB)) = hex(CAST(text AS BLOB))
  FROM silt_chunks('café déjà vu', NULL, 1);
-- default: 128 words, no overlap
SELECT count(*), max("end") FROM silt_chunks((SELECT group_concat('w' || value, ' ') FROM json_each('[' || replace(hex(zeroblob(300)), '00', '0,') || '0]')));
-- with the default model: at most max_tokens model tokens per chunk
SELECT chunk_no, text, json_array_length(silt_tokenize('default', text))
  FROM silt_chunks('The quick brown fox jumps over the lazy dog. Supercalifragilisticexpialidocious!', 'default', 5, 1);
SELECT max(json_array_length(silt_tokenize('default', text))) <= 128, count(*)
  FROM silt_chunks((SELECT group_concat('word' || value, ' ') FROM json_each('[' || replace(hex(zeroblob(400)), '00', '1,') || '1]')), 'default');
-- text with no spaces is cut on character boundaries
SELECT chunk_no, text FROM silt_chunks('東京タワーと日本語のテキスト', 'default', 2);
SELECT chunk_no, text FROM silt_chunks('ÉÉÉÉÉÉÉ', 'default', 3);
-- a character that alone needs more tokens than max_tokens ('▁' + unknown = 2)
SELECT chunk_no, text FROM silt_chunks('東京', 'default', 1);
-- embed every chunk of every document
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs VALUES (1, 'one two three four five'), (2, 'six seven'), (3, NULL), (4, '   ');
SELECT d.id, c.chunk_no, c.text, silt_vec_dim(silt_embed(c.text)) FROM docs d, silt_chunks(d.body, NULL, 3) c;
-- errors
SELECT * FROM silt_chunks();
SELECT * FROM silt_chunks('a b', NULL, 0);
SELECT * FROM silt_chunks('a b', NULL, -3);
SELECT * FROM silt_chunks('a b', NULL, 2, 2);
SELECT * FROM silt_chunks('a b', NULL, 2, -1);
SELECT * FROM silt_chunks('a b', NULL, 'many');
SELECT * FROM silt_chunks('a b', NULL, 2.5);
SELECT * FROM silt_chunks('a b', 'default', 129);
SELECT * FROM silt_chunks('a b', 'nope');
SELECT * FROM silt_chunks(x'6162');

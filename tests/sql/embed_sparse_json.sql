-- The silt_sparse vector format: silt_sparse_json reads a sparse BLOB or a JSON object.
SELECT silt_sparse_json('{"7": 1.5, "3": 0.25, "9": 0}');
SELECT silt_sparse_json('  {}  ');
-- BLOB layout: uint32 n, n uint32 ids (increasing), n float32 weights, little-endian
SELECT silt_sparse_json(x'020000000300000007000000000080be0000c03f');
SELECT silt_sparse_json(x'00000000');
-- with a model, keys are its tokens (and token strings are accepted)
SELECT silt_sparse_json('{"2002": 1, "102": 2, "311": 0.5}', 'default');
SELECT silt_sparse_json('{"▁hell": 1, "o": 2}', 'default');
SELECT silt_sparse_json(silt_sparse_json('{"2002": 1, "102": 2, "0": 3}', 'default'), 'default');
SELECT silt_sparse_json(NULL) IS NULL;
-- errors
SELECT silt_sparse_json('{"apple": 1}');
SELECT silt_sparse_json('{"apple": 1}', 'default');
SELECT silt_sparse_json('{"1": 1, "1": 2}');
SELECT silt_sparse_json('{"1": "heavy"}');
SELECT silt_sparse_json('{"1": 1e39}');
SELECT silt_sparse_json('{"4294967296": 1}');
SELECT silt_sparse_json('[1, 2]');
SELECT silt_sparse_json('{"1": 1} trailing');
SELECT silt_sparse_json(12);
SELECT silt_sparse_json(x'0100000005000000');
SELECT silt_sparse_json(x'020000000500000003000000000080bf0000803f');
SELECT silt_sparse_json(x'010000000500000000000000');
SELECT silt_sparse_json('{}', NULL);
SELECT silt_sparse_json('{}', 'nope');
SELECT silt_embed_sparse('default', 'apple');

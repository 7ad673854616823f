-- ef_construction: the HNSW graph-build breadth, checked, kept with the table's definition.
CREATE VIRTUAL TABLE a USING silt_dense(dim=2, index='HNSW8', ef_construction=8);
CREATE VIRTUAL TABLE a USING silt_dense(dim=2, index='HNSW8', ef_construction=5000);
CREATE VIRTUAL TABLE a USING silt_dense(dim=2, index='HNSW8', ef_construction='lots');
CREATE VIRTUAL TABLE a USING silt_dense(dim=2, index='HNSW8', ef_construction=64, ef_construction=64);
CREATE VIRTUAL TABLE a USING silt_dense(dim=2, ef_construction=64);
CREATE VIRTUAL TABLE a USING silt_dense(dim=2, index='IVF2,Flat', ef_construction=64);
SELECT count(*) FROM sqlite_master;
ATTACH 'efc.db' AS f;
CREATE VIRTUAL TABLE f.v USING silt_dense(dim=2, index='HNSW8', ef_construction=300);
CREATE VIRTUAL TABLE f.q USING silt_dense(dim=2, index='IVF2_HNSW4,Flat', ef_construction=32);
INSERT INTO f.v(rowid, embedding) VALUES (1, '[0,0]'), (2, '[1,0]'), (3, '[5,5]');
INSERT INTO f.q(rowid, embedding) SELECT value, silt_vec('[' || value || ',' || (value % 7) || ']')
  FROM generate_series(1, 200);
DETACH f;
ATTACH 'efc.db' AS f;
SELECT sql FROM f.sqlite_master WHERE name IN ('v', 'q') ORDER BY name;
SELECT rowid, round(distance, 3) FROM f.v WHERE embedding MATCH '[0.9,0]' AND k = 2;
INSERT INTO f.v(v) VALUES ('rebuild');
INSERT INTO f.v(v) VALUES ('integrity-check');
SELECT rowid FROM f.q WHERE embedding MATCH '[100,2]' AND k = 1;
INSERT INTO f.q(q) VALUES ('integrity-check');

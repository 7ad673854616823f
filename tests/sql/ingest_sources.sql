-- silt_ingest provenance (silt_sources), skipping unchanged sources, if_exists
-- fail/replace/append, savepoints inside user transactions, and loads driven by a query.
.once s.csv
SELECT 'id,v' || char(10) || '1,a' || char(10) || '2,b';
SELECT silt_ingest('s.csv', 's');
SELECT tbl, rows, bytes, length(sha256), etag IS NOT NULL, last_modified LIKE '%GMT',
       loaded_at LIKE '____-__-__T__:__:__.___Z', url LIKE 'file:///%/s.csv' FROM silt_sources;
CREATE TEMP TABLE before AS SELECT * FROM silt_sources;
-- unchanged: skipped, the recorded row count is returned, nothing is written
SELECT silt_ingest('s.csv', 's');
SELECT count(*) FROM s;
SELECT s.loaded_at = b.loaded_at FROM silt_sources s, before b;
-- touched but identical: still skipped (same sha256), the validators are refreshed
.shell touch -d '2020-01-02 03:04:05 UTC' s.csv
SELECT silt_ingest('s.csv', 's');
SELECT s.loaded_at = b.loaded_at, s.etag != b.etag, s.last_modified FROM silt_sources s, before b;
-- changed: if_exists fail (the default) refuses, replace reloads
.once s.csv
SELECT 'id,v,w' || char(10) || '1,a,x' || char(10) || '2,b,y' || char(10) || '3,c,z';
SELECT silt_ingest('s.csv', 's');
SELECT silt_ingest('s.csv', 's', '{"if_exists":"replace"}');
SELECT sql FROM sqlite_schema WHERE name = 's';
SELECT rows, bytes FROM silt_sources WHERE tbl = 's';
-- append: columns matched by name, in any order; the same bytes again are skipped
.once s2.csv
SELECT 'w,id' || char(10) || 'q,4';
SELECT silt_ingest('s2.csv', 's', '{"if_exists":"append"}');
SELECT * FROM s ORDER BY id;
SELECT silt_ingest('s2.csv', 's', '{"if_exists":"append"}');
SELECT count(*) FROM s;
SELECT silt_ingest('s2.csv', 's', '{"if_exists":"append","force":true}');
SELECT count(*) FROM s;
SELECT count(*) FROM silt_sources WHERE tbl = 's';
-- append of a file with a column the table lacks: refused, table unchanged
.once s3.csv
SELECT 'id,zzz' || char(10) || '9,9';
SELECT silt_ingest('s3.csv', 's', '{"if_exists":"append"}');
SELECT count(*) FROM s;
-- JSON Lines appends add missing columns
.once s4.jsonl
SELECT '{"id":10,"extra":1.5}';
SELECT silt_ingest('s4.jsonl', 's', '{"if_exists":"append"}');
SELECT sql FROM sqlite_schema WHERE name = 's';
-- an unchanged source is skipped even with replace; force reloads, and replace drops the
-- provenance of every source loaded into the table
SELECT silt_ingest('s2.csv', 's', '{"if_exists":"replace"}');
SELECT count(*) FROM s;
SELECT silt_ingest('s2.csv', 's', '{"if_exists":"replace","force":true}');
SELECT url LIKE '%/s2.csv', rows FROM silt_sources WHERE tbl = 's';
-- a table dropped by the user is loaded again
DROP TABLE s;
SELECT silt_ingest('s2.csv', 's');
-- appending an empty file adds nothing
.once empty.csv
SELECT '' WHERE 0;
SELECT silt_ingest('empty.csv', 's', '{"if_exists":"append"}');
SELECT count(*) FROM s;
-- inside a user's transaction: a failed load undoes only itself
BEGIN;
SELECT silt_ingest('s.csv', 'in_tx');
.once bad.csv
SELECT 'a,b' || char(10) || '1,"x"y';
SELECT silt_ingest('bad.csv', 'in_tx_bad');
COMMIT;
SELECT count(*) FROM in_tx;
SELECT count(*) FROM sqlite_schema WHERE name = 'in_tx_bad';
SELECT count(*) FROM silt_sources WHERE tbl LIKE 'in_tx%';
-- ... and a rollback undoes a successful load, provenance included
BEGIN;
SELECT silt_ingest('s.csv', 'rolled_back');
ROLLBACK;
SELECT count(*) FROM sqlite_schema WHERE name = 'rolled_back';
SELECT count(*) FROM silt_sources WHERE tbl = 'rolled_back';
-- loads driven by a query over a table of sources
CREATE TABLE srcs(u, name);
INSERT INTO srcs VALUES ('s.csv', 'from_q1'), ('s2.csv', 'from_q2'), ('bad.csv', 'from_q3');
SELECT name, silt_ingest(u, name) FROM srcs WHERE name != 'from_q3';
SELECT name, silt_ingest(u, name) FROM srcs;
SELECT count(*) FROM sqlite_schema WHERE name = 'from_q3';
-- replace while the statement reads a table (SQLite forbids DROP TABLE then): the table is
-- emptied and its columns swapped in place
SELECT silt_ingest(u, 'from_q1', '{"if_exists":"replace","force":true}') FROM srcs WHERE name = 'from_q2';
SELECT sql FROM sqlite_schema WHERE name = 'from_q1';
SELECT * FROM from_q1;

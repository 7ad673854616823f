-- silt_ingest_dir: every matching file under a directory, one table each, named from the
-- relative path; a failing file gets an error status and leaves nothing behind.
.shell ln -s "$SILT_ROOT/tests/data/ingest/dir" lake
SELECT substr(path, 6), tbl, rows, status FROM silt_ingest_dir('lake');
SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;
SELECT * FROM a_two;
-- again: every source unchanged
SELECT tbl, rows, status FROM silt_ingest_dir('lake', '*.csv');
-- a glob with '/' matches relative paths
SELECT tbl, status FROM silt_ingest_dir('lake', 'a/*', '{"if_exists":"replace","force":true}');
-- options apply to every file
SELECT tbl, status FROM silt_ingest_dir('lake', '*.csv', '{"if_exists":"bogus"}');
-- two files of one call that would get the same table name
.shell mkdir -p twins/x-y twins/x_y
.once twins/x-y/t.csv
SELECT 'n' || char(10) || '1';
.once twins/x_y/t.csv
SELECT 'n' || char(10) || '2';
SELECT substr(path, 7), tbl, rows, status FROM silt_ingest_dir('twins/');
-- LIMIT stops the loading
.shell mkdir -p three
.once three/a.csv
SELECT 'n' || char(10) || '1';
.once three/b.csv
SELECT 'n' || char(10) || '1';
.once three/c.csv
SELECT 'n' || char(10) || '1';
SELECT tbl FROM silt_ingest_dir('three') LIMIT 1;
SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b', 'c');
-- errors
SELECT * FROM silt_ingest_dir('no-such-dir');
SELECT * FROM silt_ingest_dir();
SELECT * FROM silt_ingest_dir('');
SELECT count(*) FROM silt_ingest_dir('lake', '*.nothing');

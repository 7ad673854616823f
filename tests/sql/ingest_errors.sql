-- silt_ingest errors: each names the bad value or the line, and leaves nothing behind (no
-- table, no silt_sources row).
.shell ln -s "$SILT_ROOT/tests/data/ingest" in
SELECT silt_ingest('in/bad_quote.csv', 't1');
SELECT silt_ingest('in/unterminated.csv', 't2');
SELECT silt_ingest('in/bad.jsonl', 't3');
SELECT silt_ingest('in/notobj.jsonl', 't4');
SELECT silt_ingest('in/wide.csv', 't5');
SELECT silt_ingest('in/empty.csv', 't6');
SELECT silt_ingest('in/truncated.csv.gz', 't7');
SELECT silt_ingest('in/missing.csv', 't8');
SELECT silt_ingest('in', 't9');
SELECT silt_ingest('ftp://example.org/x.csv', 't10');
SELECT silt_ingest('gopher://example.org/x.csv', 't11');
SELECT silt_ingest('file://relative/x.csv', 't12');
SELECT silt_ingest('in/gz.csv.gz', 'sqlite_x');
SELECT silt_ingest('in/gz.csv.gz', 'silt_sources');
SELECT silt_ingest('in/gz.csv.gz', '');
SELECT silt_ingest(NULL, 't13');
SELECT silt_ingest('in/gz.csv.gz', 42);
SELECT silt_ingest('in/gz.csv.gz', 't14', '{"format":"xml"}');
SELECT silt_ingest('in/gz.csv.gz', 't15', '{"bogus":1}');
SELECT silt_ingest('in/gz.csv.gz', 't16', '{"header":"maybe"}');
SELECT silt_ingest('in/gz.csv.gz', 't17', '{"delimiter":"ab"}');
SELECT silt_ingest('in/gz.csv.gz', 't18', '{"if_exists":"merge"}');
SELECT silt_ingest('in/gz.csv.gz', 't19', '{"types":{"amount":"DATE"}}');
SELECT silt_ingest('in/gz.csv.gz', 't20', '{"types":{"nope":"TEXT"}}');
SELECT silt_ingest('in/gz.csv.gz', 't21', '{"max_bytes":-1}');
SELECT silt_ingest('in/gz.csv.gz', 't22', '{"max_bytes":10}');
SELECT silt_ingest('in/quotes.csv', 't23', '{"max_bytes":50}');
SELECT silt_ingest('in/gz.csv.gz', 't24', '[1]');
SELECT silt_ingest('in/gz.csv.gz', 't25', '{"force":true,"force":false}');
SELECT silt_ingest('in/gz.csv.gz', 't26', '{"delimiter":"\""}');
SELECT silt_ingest('in/gz.csv.gz', 't27', '{"infer_rows":0}');
SELECT silt_ingest('in/empty_objects.jsonl', 't28');
-- nothing was created by any of the above
SELECT count(*) FROM sqlite_schema WHERE name LIKE 't%';
SELECT count(*) FROM sqlite_schema WHERE name = 'silt_sources';
-- a view of that name is not replaced
CREATE VIEW v AS SELECT 1;
SELECT silt_ingest('in/gz.csv.gz', 'v', '{"if_exists":"replace"}');
-- silt_ingest is not callable from triggers or views (it reads files and the network)
CREATE TABLE urls(u);
CREATE TRIGGER trg AFTER INSERT ON urls BEGIN SELECT silt_ingest(new.u, 'from_trigger'); END;
INSERT INTO urls VALUES ('in/gz.csv.gz');
CREATE VIEW vv AS SELECT silt_ingest('in/gz.csv.gz', 'from_view');
SELECT * FROM vv;
SELECT count(*) FROM sqlite_schema WHERE name LIKE 'from_%';
-- a load cannot run inside a statement that writes (it could not be undone on failure)
CREATE TABLE log(n);
INSERT INTO log SELECT silt_ingest('in/gz.csv.gz', 'from_insert');
CREATE TABLE copy AS SELECT * FROM silt_ingest_dir('in/dir', '*.csv');
SELECT tbl, rows, substr(status, 1, 40) FROM copy;
SELECT count(*) FROM log;
SELECT count(*) FROM sqlite_schema WHERE name IN ('from_insert', 'a_one');

-- silt_ingest of local files: CSV (BOM, CRLF, quotes, embedded newlines), TSV, other
-- delimiters, JSON Lines, gzip; header detection, type inference, options.
.shell ln -s "$SILT_ROOT/tests/data/ingest" in
.headers on
-- CSV with a BOM, CRLF line ends, quoted commas, doubled quotes, a quoted CRLF
SELECT silt_ingest('in/quotes.csv', 'q') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'q';
SELECT id, name, score, typeof(score) AS t_score, zip, typeof(zip) AS t_zip, ratio, typeof(ratio) AS t_ratio FROM q;
SELECT hex(note) FROM q WHERE id = 1;
SELECT note FROM q WHERE id = 2;
-- a file:// URL names the same source
SELECT silt_ingest('file://' || (SELECT substr(url, 8) FROM silt_sources WHERE tbl = 'q'), 'q2') AS rows;
-- no header: generic column names; a missing last field is NULL in a REAL column
SELECT silt_ingest('in/noheader.csv', 'nh') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'nh';
SELECT col1, col2, col3, typeof(col3) FROM nh;
-- header forced off and on
SELECT silt_ingest('in/years.csv', 'y_off', '{"header":false}') AS rows;
SELECT * FROM y_off;
-- a year as a column name over text values is still a header
SELECT silt_ingest('in/years.csv', 'y') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'y';
-- TSV: no quoting, so a lone quote is data
SELECT silt_ingest('in/rain.tsv', 'rain') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'rain';
SELECT city, inches, typeof(inches), note, typeof(note) FROM rain;
-- another delimiter
SELECT silt_ingest('in/pipes.txt', 'p', '{"delimiter":"|"}') AS rows;
SELECT * FROM p;
-- JSON Lines: union of keys in first-seen order, nested values as JSON, booleans 1/0
SELECT silt_ingest('in/rows.jsonl', 'j') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'j';
SELECT id, name, tags, ok, score, meta FROM j;
-- gzip files, one member and several
SELECT silt_ingest('in/gz.csv.gz', 'gz') AS rows;
SELECT sum(amount), typeof(amount) FROM gz;
SELECT silt_ingest('in/multi.csv.gz', 'multi') AS rows;
SELECT * FROM multi;
-- only a header: an empty table with those columns
SELECT silt_ingest('in/header_only.csv', 'ho') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'ho';
-- types are inferred from the first infer_rows records; a later value that does not fit
-- is stored as it is
SELECT silt_ingest('in/late.csv', 'late', '{"infer_rows":2}') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'late';
SELECT n, typeof(n) FROM late;
SELECT silt_ingest('in/late.csv', 'late_all') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'late_all';
-- a column with no value in the sample gets no declared type: later values keep theirs,
-- and empty fields are NULL
SELECT silt_ingest('in/late_values.csv', 'lv', '{"infer_rows":2}') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'lv';
SELECT id, x, typeof(x), typeof(y) FROM lv;
-- type overrides
SELECT silt_ingest('in/quotes.csv', 'q_types', '{"types":{"ID":"TEXT","zip":"INTEGER"}}') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'q_types';
SELECT id, typeof(id), zip, typeof(zip) FROM q_types;
-- format forced
SELECT silt_ingest('in/pipes.txt', 'p_csv', '{"format":"csv"}') AS rows;
SELECT sql FROM sqlite_schema WHERE name = 'p_csv';
-- identifiers are always quoted
SELECT silt_ingest('in/gz.csv.gz', 'select "odd" name') AS rows;
SELECT count(*) FROM "select ""odd"" name";

-- silt_join: joinable-column discovery with exact containment.
CREATE TABLE orders(id INTEGER, customer TEXT, amount REAL);
INSERT INTO orders VALUES (1,'alice',3),(2,'bob',4),(3,'carol',5),(4,'alice',1),(5,'dave',2),(6,NULL,1),(7,'',2);
CREATE TABLE customers(name TEXT, city TEXT);
INSERT INTO customers VALUES ('alice','paris'),('bob','rome'),('carol','oslo'),('erin','lima');
CREATE TABLE cities(city TEXT, country TEXT, code INTEGER);
INSERT INTO cities VALUES ('paris','fr',1),('rome','it',2),('oslo','no',3),('lima','pe',4),('bern','ch',5);
CREATE TABLE codes(c REAL);
INSERT INTO codes VALUES (1.0),(2.0),(9.5);
CREATE VIRTUAL TABLE lj USING silt_join(model=default);
INSERT INTO lj(tbl) VALUES ('customers');
INSERT INTO lj(tbl) VALUES ('cities');
INSERT INTO lj(tbl, col) VALUES ('orders', 'customer');
INSERT INTO lj(tbl) VALUES ('codes');
SELECT rowid, tbl, col FROM lj ORDER BY rowid;
SELECT * FROM lj_cols ORDER BY id;
-- equi mode: containment |Q ∩ X| / |Q| over distinct non-empty values, exact
SELECT tbl, col, round(score, 4), round(containment, 4) FROM lj
 WHERE query_table = 'orders' AND query_column = 'customer' AND k = 3;
-- the query column itself is never returned
SELECT count(*) FROM lj WHERE query_table = 'orders' AND query_column = 'customer' AND k = 10 AND col = 'customer';
-- exact = 1: exhaustive overlap search agrees with brute force
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'customers' AND query_column = 'city' AND exact = 1;
SELECT round(1.0 * (SELECT count(DISTINCT city) FROM customers WHERE city IN (SELECT city FROM cities))
             / (SELECT count(DISTINCT city) FROM customers), 4);
-- an integral REAL joins an INTEGER (3.0 reads as 3)
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'codes' AND query_column = 'c' AND exact = 1;
-- table-valued form and the semantic mode
SELECT tbl, col, round(containment, 4) FROM lj('customers', 'city') WHERE mode = 'semantic' AND containment > 0;
-- a query column that is not indexed works too
CREATE TABLE visitors(who TEXT);
INSERT INTO visitors VALUES ('alice'), ('erin'), ('zoe');
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'visitors' AND query_column = 'who' AND exact = 1;
-- the column text embedded for a column (DeepJoin)
SELECT silt_column_text('orders', 'customer');
SELECT silt_column_text('orders', 'customer', 5);
-- re-adding replaces, deleting removes
INSERT INTO lj(tbl, col) VALUES ('orders', 'customer');
SELECT count(*) FROM lj;
DELETE FROM lj WHERE tbl = 'cities';
SELECT tbl, col FROM lj ORDER BY rowid;
SELECT count(*) FROM lj_values WHERE col_id NOT IN (SELECT id FROM lj_cols);
INSERT INTO lj(lj) VALUES ('integrity-check');
INSERT INTO lj(lj) VALUES ('rebuild');
INSERT INTO lj(lj) VALUES ('optimize');
SELECT count(*) FROM lj;
-- an ATTACHed database's table, as schema.table
ATTACH ':memory:' AS other;
CREATE TABLE other.people(first TEXT);
INSERT INTO other.people VALUES ('bob'), ('carol');
INSERT INTO lj(tbl) VALUES ('other.people');
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'other.people' AND query_column = 'first' AND exact = 1;
-- transactions: a rolled-back insert leaves nothing behind
BEGIN;
INSERT INTO lj(tbl) VALUES ('cities');
SELECT count(*) FROM lj;
ROLLBACK;
SELECT count(*) FROM lj;
INSERT INTO lj(lj) VALUES ('integrity-check');
-- a view's column is a query column like a table's
CREATE VIEW order_view AS SELECT customer AS who FROM orders;
SELECT tbl, col, containment FROM lj WHERE query_table = 'order_view' AND query_column = 'WHO' AND k = 2 AND exact = 1;
DROP VIEW order_view;
-- errors, each leaving the table as it was
INSERT INTO lj(tbl) VALUES ('nope');
INSERT INTO lj(tbl, col) VALUES ('orders', 'nope');
INSERT INTO lj(tbl) VALUES (42);
SELECT * FROM lj WHERE query_table = 'orders' AND query_column = 'zzz';
SELECT * FROM lj WHERE query_table = 'orders' AND query_column = 'ROWID';
SELECT * FROM lj WHERE query_table = 'nope' AND query_column = 'x';
SELECT * FROM lj WHERE query_table = 'orders';
SELECT * FROM lj WHERE query_table = 'orders' AND query_column = 'customer' AND k = 0;
SELECT * FROM lj WHERE query_table = 'orders' AND query_column = 'customer' AND mode = 'fuzzy';
SELECT * FROM lj WHERE query_table = 'orders' AND query_column = 'customer' AND exact = 2;
UPDATE lj SET tbl = 'x';
INSERT INTO lj(lj) VALUES ('vacuum');
CREATE TABLE empty(x TEXT);
SELECT * FROM lj WHERE query_table = 'empty' AND query_column = 'x';
CREATE VIRTUAL TABLE bad USING silt_join(model=nope);
CREATE VIRTUAL TABLE bad USING silt_join(color=red);
SELECT count(*) FROM lj;
-- exact = 1 is a top-k search: k cuts it, and a tie goes to the column indexed first
CREATE TABLE twin_a(v TEXT);
CREATE TABLE twin_b(v TEXT);
INSERT INTO twin_a VALUES ('paris'), ('rome');
INSERT INTO twin_b VALUES ('rome'), ('paris'), ('rome');
INSERT INTO lj(tbl) VALUES ('twin_b');
INSERT INTO lj(tbl) VALUES ('twin_a');
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'customers' AND query_column = 'city' AND exact = 1;
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'customers' AND query_column = 'city' AND exact = 1 AND k = 1;
-- posting list lengths (lj_df) follow inserts and deletes; integrity-check verifies them
DELETE FROM lj WHERE tbl = 'twin_a';
SELECT (SELECT count(*) FROM lj_df) = (SELECT count(DISTINCT h) FROM lj_values),
       (SELECT sum(n) FROM lj_df) = (SELECT count(*) FROM lj_values);
UPDATE lj_df SET n = n + 1 WHERE h = (SELECT min(h) FROM lj_df);
INSERT INTO lj(lj) VALUES ('integrity-check');
INSERT INTO lj(lj) VALUES ('rebuild');
INSERT INTO lj(lj) VALUES ('integrity-check');
-- each column's hashes are also kept in one blob (lj_sets), for cheap verification
SELECT count(*), sum(length(hashes)) = 8 * (SELECT count(*) FROM lj_values) FROM lj_sets;
DELETE FROM lj_sets WHERE id = (SELECT min(id) FROM lj_sets);
INSERT INTO lj(lj) VALUES ('integrity-check');
INSERT INTO lj(lj) VALUES ('rebuild');
-- a table made before lj_df and lj_sets existed: its searches count the lists and read
-- lj_values, and 'rebuild' adds them
DROP TABLE lj_df;
DROP TABLE lj_sets;
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'customers' AND query_column = 'city' AND exact = 1;
SELECT tbl, col, round(containment, 4) FROM lj WHERE query_table = 'orders' AND query_column = 'customer' AND k = 2;
INSERT INTO lj(tbl) VALUES ('twin_a');
INSERT INTO lj(lj) VALUES ('rebuild');
SELECT (SELECT sum(n) FROM lj_df) = (SELECT count(*) FROM lj_values), (SELECT count(*) FROM lj_sets) = (SELECT count(*) FROM lj_cols);
INSERT INTO lj(lj) VALUES ('integrity-check');
-- rename and drop carry the shadow tables
ALTER TABLE lj RENAME TO lake;
SELECT count(*) FROM lake;
SELECT name FROM sqlite_schema WHERE name LIKE 'lake%' ORDER BY name;
DROP TABLE lake;
SELECT count(*) FROM sqlite_schema WHERE name LIKE 'lake%' OR name LIKE 'lj%';

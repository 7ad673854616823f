-- Vector functions as a user sees them in the sqlite3 shell.
SELECT silt_vec_json(silt_vec('[0.5, -1, 2e3]'));
SELECT hex(silt_vec('[1]'));
SELECT silt_vec_dim(silt_vec('[1,2,3]'));
SELECT printf('%.4f', silt_distance_l2('[1,1]', '[4,5]'));
SELECT printf('%.4f', silt_distance_cosine('[1,2,3]', '[1,2,3]'));
SELECT silt_dot('[1,2]', silt_vec('[3,4]'));
SELECT silt_vec_json(silt_normalize(silt_vec('[0,5]')));
SELECT silt_vec(NULL) IS NULL;
CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
INSERT INTO t VALUES (1, silt_vec('[1,0]')), (2, silt_vec('[0,1]')), (3, silt_vec('[1,1]'));
SELECT id FROM t ORDER BY silt_distance_l2(v, '[0.9,0.1]') LIMIT 2;
-- errors: the shell prints them and goes on
SELECT silt_vec('[1,nan]');
SELECT silt_vec('[1, "two"]');
SELECT silt_vec(x'0102');
SELECT silt_distance_l2('[1]', '[1,2]');
SELECT silt_normalize('[0]');
INSERT INTO t VALUES (4, silt_vec('[]'));
SELECT count(*) FROM t;

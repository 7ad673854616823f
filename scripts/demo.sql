SELECT silt_version() AS version;
CREATE TABLE places(id INTEGER PRIMARY KEY, name TEXT, v BLOB);
INSERT INTO places(name, v) VALUES
  ('Lisbon', silt_vec('[-9.14, 38.72]')), ('Madrid', silt_vec('[-3.70, 40.42]')),
  ('Paris', silt_vec('[2.35, 48.86]')), ('Berlin', silt_vec('[13.40, 52.52]')),
  ('Rome', silt_vec('[12.50, 41.90]'));
SELECT name, round(silt_distance_l2(v, '[-8.6, 41.15]'), 2) AS distance_to_porto
  FROM places ORDER BY distance_to_porto LIMIT 3;
SELECT name, silt_vec_json(silt_normalize(v)) AS unit_vector FROM places LIMIT 2;

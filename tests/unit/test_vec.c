/* test_vec.c: vector kernels and the vector SQL functions. */
#include <math.h>

#include "core/vec.h"
#include "core/vecparse.h"
#include "testutil.h"

static float rnd(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return ((float)((*s >> 8) & 0xffff) / 65536.0f) - 0.5f;
}

/* Every SIMD level the CPU runs agrees with the portable kernels, for every length around
 * the 16-lane block size (tails included). */
Test(vec, simd_levels_agree_with_portable) {
    const silt_vec_kernels *p = silt_vec_level(SILT_SIMD_PORTABLE);
    unsigned seed = 7;
    float a[1030], b[1030];
    for (int i = 0; i < 1030; i++) a[i] = rnd(&seed), b[i] = rnd(&seed);
    for (int lv = SILT_SIMD_AVX2; lv <= SILT_SIMD_AVX512; lv++) {
        const silt_vec_kernels *k = silt_vec_level((silt_simd_level)lv);
        if (!k) continue;
        for (size_t n = 1; n < 1030; n += (n < 40 ? 1 : 37)) {
            float d0 = p->dot(a, b, n), d1 = k->dot(a, b, n);
            cr_assert(fabsf(d0 - d1) <= 1e-5f * (1 + fabsf(d0)), "%s dot n=%zu", k->name, n);
            float l0 = p->l2sq(a, b, n), l1 = k->l2sq(a, b, n);
            cr_assert(fabsf(l0 - l1) <= 1e-5f * (1 + l0), "%s l2 n=%zu", k->name, n);
            float x0, y0, z0, x1, y1, z1;
            p->cos_parts(a, b, n, &x0, &y0, &z0);
            k->cos_parts(a, b, n, &x1, &y1, &z1);
            cr_assert(fabsf(x0 - x1) <= 1e-5f * (1 + fabsf(x0)));
            cr_assert(fabsf(y0 - y1) <= 1e-5f * (1 + y0));
            cr_assert(fabsf(z0 - z1) <= 1e-5f * (1 + z0));
        }
    }
}

Test(vec, portable_matches_double_reference) {
    unsigned seed = 3;
    float a[384], b[384];
    for (int i = 0; i < 384; i++) a[i] = rnd(&seed), b[i] = rnd(&seed);
    double dot = 0, l2 = 0;
    for (int i = 0; i < 384; i++) dot += (double)a[i] * b[i], l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    cr_assert(fabs(silt_vec_best()->dot(a, b, 384) - dot) < 1e-4);
    cr_assert(fabs(silt_vec_best()->l2sq(a, b, 384) - l2) < 1e-4);
}

Test(vec, json_roundtrip_shortest) {
    float v[4] = {0.1f, -2.5f, 1e-30f, 3.4028235e38f};
    char *s = silt_vec_to_json(v, 4);
    cr_assert_str_eq(s, "[0.1,-2.5,1e-30,3.4028235e+38]");
    float *back;
    int dim;
    cr_assert_eq(silt_vec_from_json(s, strlen(s), &back, &dim, NULL), 0);
    cr_assert_eq(dim, 4);
    for (int i = 0; i < 4; i++) cr_assert_eq(back[i], v[i], "element %d", i);
    free(back);
    free(s);
}

Test(vec, json_errors_name_the_problem) {
    char *err = NULL;
    float *v;
    int dim;
    cr_assert_eq(silt_vec_from_json("[1,2", 4, &v, &dim, &err), -1);
    cr_assert(strstr(err, "JSON syntax"), "%s", err);
    cr_assert_eq(silt_vec_from_json("[1,\"x\",3]", 9, &v, &dim, &err), -1);
    cr_assert(strstr(err, "element 1 is not a number"), "%s", err);
    cr_assert_eq(silt_vec_from_json("[]", 2, &v, &dim, &err), -1);
    cr_assert(strstr(err, "empty"), "%s", err);
    cr_assert_eq(silt_vec_from_json("[1e39]", 6, &v, &dim, &err), -1);
    cr_assert(strstr(err, "not a finite float32"), "%s", err);
    cr_assert_eq(silt_vec_from_json("{\"a\":1}", 7, &v, &dim, &err), -1);
    cr_assert(strstr(err, "expected a JSON array"), "%s", err);
    free(err);
}

Test(vec, blob_checks) {
    char *err = NULL;
    int dim;
    float ok[2] = {1, 2}, bad[2] = {1, NAN}, inf[1] = {INFINITY};
    cr_assert_eq(silt_vec_check_blob(ok, 8, &dim, &err), 0);
    cr_assert_eq(dim, 2);
    cr_assert_eq(silt_vec_check_blob(ok, 7, &dim, &err), -1);
    cr_assert(strstr(err, "not a multiple of 4"), "%s", err);
    cr_assert_eq(silt_vec_check_blob(bad, 8, &dim, &err), -1);
    cr_assert(strstr(err, "element 1 is NaN"), "%s", err);
    cr_assert_eq(silt_vec_check_blob(inf, 4, &dim, &err), -1);
    cr_assert(strstr(err, "infinite"), "%s", err);
    cr_assert_eq(silt_vec_check_blob(ok, 0, &dim, &err), -1);
    free(err);
}

Test(vec_sql, functions_compute_expected_values) {
    sqlite3 *db = test_open(NULL);
    assert_query(db, "SELECT silt_vec_json(silt_vec('[1, 2.5, -3]'))", "[1,2.5,-3]");
    assert_query(db, "SELECT silt_vec_dim('[1,2,3,4,5]')", "5");
    assert_query(db, "SELECT length(silt_vec('[1,2,3]'))", "12");
    assert_query(db, "SELECT silt_vec_json(silt_normalize('[3,4]'))", "[0.6,0.8]");
    assert_query(db, "SELECT silt_distance_l2('[0,0]','[3,4]')", "5.0");
    assert_query(db, "SELECT silt_dot('[1,2,3]','[4,5,6]')", "32.0");
    assert_query(db, "SELECT silt_distance_cosine('[1,0]','[0,2]')", "1.0");
    assert_query(db, "SELECT silt_distance_cosine('[1,1]','[2,2]') < 1e-6", "1");
    assert_query(db, "SELECT silt_distance_cosine('[1,0]','[-1,0]')", "2.0");
    /* BLOB and JSON inputs are interchangeable. */
    assert_query(db, "SELECT silt_dot(silt_vec('[1,2]'), '[3,4]')", "11.0");
    /* NULL in, NULL out, as SQLite's own functions. */
    assert_query(db, "SELECT silt_vec(NULL) IS NULL AND silt_dot(NULL,'[1]') IS NULL", "1");
    assert_query(db, "SELECT silt_version()", SILT_VERSION);
    sqlite3_close(db);
}

Test(vec_sql, bad_input_is_a_clear_error) {
    sqlite3 *db = test_open(NULL);
    assert_error(db, "SELECT silt_vec('[1,\"a\"]')", "silt_vec argument 1: element 1 is not a number");
    assert_error(db, "SELECT silt_vec('[]')", "empty vector");
    assert_error(db, "SELECT silt_vec(x'000000')", "not a multiple of 4");
    assert_error(db, "SELECT silt_vec(x'0000c07f')", "NaN");
    assert_error(db, "SELECT silt_vec(42)", "expected a float32 BLOB or a JSON array text, got an integer");
    assert_error(db, "SELECT silt_vec(4.2)", "got a real");
    assert_error(db, "SELECT silt_vec('not json')", "JSON syntax error");
    assert_error(db, "SELECT silt_distance_l2('[1,2]','[1,2,3]')", "dimension mismatch: 2 vs 3");
    assert_error(db, "SELECT silt_dot('[1]','[1,2]')", "silt_dot: dimension mismatch");
    assert_error(db, "SELECT silt_distance_cosine('[0,0]','[1,2]')", "zero vector");
    assert_error(db, "SELECT silt_normalize('[0,0,0]')", "cannot normalise a zero vector");
    assert_error(db, "SELECT silt_vec_dim(x'')", "empty vector");
    /* Distances scan their inputs only when the result is not finite: the message still
     * names the argument and element. */
    assert_error(db, "SELECT silt_distance_l2('[1,2]', x'0000803f0000c07f')",
                 "silt_distance_l2 argument 2: element 1 is NaN");
    assert_error(db, "SELECT silt_dot(x'0000807f', '[0]')", "silt_dot argument 1: element 0 is infinite");
    assert_error(db, "SELECT silt_distance_cosine(x'0000c07f0000803f', '[1,1]')", "argument 1: element 0 is NaN");
    assert_error(db, "SELECT silt_distance_l2('[3e38]', '[-3e38]')", "overflows float32");
    sqlite3_close(db);
}

/* A BLOB at an odd address (substr of a larger blob lands anywhere) is read correctly. */
Test(vec_sql, unaligned_blob) {
    sqlite3 *db = test_open(NULL);
    assert_query(db, "SELECT silt_vec_json(substr(x'000000803f00000040', 2))", "[1,2]");
    sqlite3_close(db);
}

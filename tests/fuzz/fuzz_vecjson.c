/* fuzz_vecjson.c: libFuzzer target for dense vector input (core/vecparse.c): JSON arrays and
 * float32 BLOBs. Oracle: a parsed vector printed back to JSON reads back bit for bit, and
 * its BLOB form passes the BLOB check with the same dimension.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_vecjson tests/fuzz/corpus/vecjson */
#include "tests/fuzz/fuzz_util.h"

#include "core/vecparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float *v = NULL;
    int dim = 0;
    char *err = NULL;
    if (silt_vec_from_json((const char *)data, size, &v, &dim, &err) == 0) {
        FUZZ_CHECK(dim > 0 && v);
        int dim2 = 0;
        FUZZ_CHECK(silt_vec_check_blob(v, (size_t)dim * 4, &dim2, NULL) == 0 && dim2 == dim);
        char *json = silt_vec_to_json(v, dim);
        FUZZ_CHECK(json);
        float *w = NULL;
        int dim3 = 0;
        FUZZ_CHECK(silt_vec_from_json(json, strlen(json), &w, &dim3, NULL) == 0);
        FUZZ_CHECK(dim3 == dim && memcmp(v, w, (size_t)dim * 4) == 0);
        free(w);
        free(json);
    }
    free(err);
    free(v);
    err = NULL;
    /* The same bytes as a BLOB (copied: BLOB values are not aligned in SQLite either). */
    uint8_t *copy = malloc(size + 1);
    if (!copy) abort();
    if (size) memcpy(copy + 1, data, size);
    if (silt_vec_check_blob(copy + 1, size, &dim, &err) == 0) {
        FUZZ_CHECK(dim > 0 && (size_t)dim * 4 == size);
        float *f = malloc(size);
        if (!f) abort();
        memcpy(f, copy + 1, size);
        char *json = silt_vec_to_json(f, dim);
        FUZZ_CHECK(json);
        free(json);
        free(f);
    }
    free(err);
    free(copy);
    return 0;
}

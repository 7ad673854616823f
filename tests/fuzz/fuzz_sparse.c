/* fuzz_sparse.c: libFuzzer target for sparse vectors (core/sparse_vec.c): the JSON object
 * form {"term or id": weight} (with and without a vocabulary to look token strings up in)
 * and the BLOB form. Oracles: an accepted vector encodes to a BLOB that decodes to the same
 * vector, and its JSON form parses back to it.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_sparse tests/fuzz/corpus/sparse */
#include "tests/fuzz/fuzz_util.h"

#include "core/sparse_vec.h"

/* A toy vocabulary: id i is the word WORDS[i]. */
static const char *const WORDS[] = {"apple", "fruit", "pie", "", "42", "caf\xc3\xa9", "a b"};
#define N_WORDS ((int32_t)(sizeof WORDS / sizeof *WORDS))

static int32_t term_id(void *ctx, const char *tok, size_t len) {
    (void)ctx;
    for (int32_t i = 0; i < N_WORDS; i++)
        if (strlen(WORDS[i]) == len && memcmp(WORDS[i], tok, len) == 0) return i;
    return -1;
}
static const char *term_text(void *ctx, int32_t id) {
    (void)ctx;
    return id >= 0 && id < N_WORDS ? WORDS[id] : NULL;
}

static void same(const silt_sparse_vec *a, const silt_sparse_vec *b) {
    FUZZ_CHECK(a->n == b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        FUZZ_CHECK(a->ids[i] == b->ids[i]);
        FUZZ_CHECK(memcmp(&a->weights[i], &b->weights[i], 4) == 0);
    }
}

static void round_trip(const silt_sparse_vec *v) {
    for (uint32_t i = 1; i < v->n; i++) FUZZ_CHECK(v->ids[i - 1] < v->ids[i]);
    void *blob = NULL;
    size_t n_bytes = 0;
    FUZZ_CHECK(silt_sparse_encode(v, &blob, &n_bytes, NULL) == 0);
    FUZZ_CHECK(n_bytes == 4 + 8 * (size_t)v->n);
    silt_sparse_vec back = {0};
    FUZZ_CHECK(silt_sparse_decode(blob, n_bytes, &back, NULL) == 0);
    same(v, &back);
    silt_sparse_vec_free(&back);
    free(blob);
    for (int with_vocab = 0; with_vocab < 2; with_vocab++) {
        char *json = silt_sparse_to_json(v, with_vocab ? term_text : NULL,
                                         with_vocab ? term_id : NULL, NULL);
        FUZZ_CHECK(json);
        silt_sparse_vec again = {0};
        char *err = NULL;
        int rc = silt_sparse_from_json(json, strlen(json), with_vocab ? term_id : NULL, NULL,
                                       &again, &err);
        if (rc) fprintf(stderr, "re-parse of %s failed: %s\n", json, err);
        FUZZ_CHECK(rc == 0);
        same(v, &again);
        silt_sparse_vec_free(&again);
        free(json);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int with_vocab = 0; with_vocab < 2; with_vocab++) {
        silt_sparse_vec v = {0};
        char *err = NULL;
        if (silt_sparse_from_json((const char *)data, size, with_vocab ? term_id : NULL, NULL,
                                  &v, &err) == 0)
            round_trip(&v);
        free(err);
        silt_sparse_vec_free(&v);
    }
    uint8_t *copy = malloc(size + 1);
    if (!copy) abort();
    if (size) memcpy(copy, data, size);
    uint32_t n_terms = 0;
    char *err = NULL;
    int ok = silt_sparse_check(copy, size, &n_terms, &err) == 0;
    free(err);
    err = NULL;
    silt_sparse_vec v = {0};
    int dec = silt_sparse_decode(copy, size, &v, &err) == 0;
    free(err);
    FUZZ_CHECK(ok == dec);
    if (dec) {
        FUZZ_CHECK(v.n == n_terms);
        round_trip(&v);
    }
    silt_sparse_vec_free(&v);
    free(copy);
    return 0;
}

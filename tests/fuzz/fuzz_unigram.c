/* fuzz_unigram.c: libFuzzer target for the USE-Lite unigram tokenizer (core/unigram.c).
 * First input byte even: the input (after that byte) is a text tokenized with a fixed
 * vocabulary (the real USE-Lite vocab.json when `make setup` fetched it, else a small one
 * from tests/fuzz/data); odd: the input is a vocab.json, which must load or fail cleanly,
 * and then tokenizes a few fixed texts.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_unigram tests/fuzz/corpus/unigram */
#include "tests/fuzz/fuzz_util.h"

#include "core/unigram.h"

static silt_unigram *fixed;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *real = SILT_FUZZ_REPO "/build/models/use-lite/vocab.json";
    const char *path = access(real, R_OK) == 0 ? real : SILT_FUZZ_REPO "/tests/fuzz/data/unigram_vocab.json";
    size_t n;
    char *json = fuzz_slurp(path, &n);
    char *err = NULL;
    fixed = silt_unigram_load(json, n, &err);
    if (!fixed) {
        fprintf(stderr, "fuzz setup: %s: %s\n", path, err);
        abort();
    }
    free(json);
    return 0;
}

static void encode_check(const silt_unigram *u, const char *text, size_t len) {
    int32_t *ids = NULL;
    int n = 0;
    char *err = NULL;
    if (silt_unigram_encode(u, text, len, &ids, &n, &err) == 0) {
        FUZZ_CHECK(n >= 0 && (n == 0 || ids));
        for (int i = 0; i < n; i++) {
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < silt_unigram_size(u));
            const char *p = silt_unigram_piece(u, ids[i]);
            FUZZ_CHECK(p != NULL);
        }
    }
    free(ids);
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        encode_check(fixed, (const char *)data + 1, size - 1);
        return 0;
    }
    char *err = NULL;
    silt_unigram *u = silt_unigram_load((const char *)data + 1, size - 1, &err);
    free(err);
    if (!u) return 0;
    static const char *const texts[] = {"hello world", "", " ", "\xff\xfe", "a\xcc\x81 b  c"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        encode_check(u, texts[i], strlen(texts[i]));
    for (int i = 0; i < silt_unigram_size(u) && i < 64; i++) {
        const char *p = silt_unigram_piece(u, i);
        if (p) (void)silt_unigram_id(u, p, strlen(p));
    }
    (void)silt_unigram_piece(u, -1);
    (void)silt_unigram_piece(u, silt_unigram_size(u));
    silt_unigram_free(u);
    return 0;
}

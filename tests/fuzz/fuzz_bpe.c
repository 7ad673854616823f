/* fuzz_bpe.c: libFuzzer target for the byte-level BPE tokenizer (core/bpe.c). First input
 * byte even: the rest is a text for the tiny Mamba tokenizer (tests/data/tiny-mamba/
 * tokenizer.json), encoded with and without special-token parsing; odd: the rest is a
 * tokenizer.json, which must load or fail cleanly. Oracles: ids in range, and encoding with
 * max_ids gives a prefix of the full encoding.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_bpe tests/fuzz/corpus/bpe */
#include "tests/fuzz/fuzz_util.h"

#include "core/bpe.h"

static silt_bpe *fixed;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *path = SILT_FUZZ_REPO "/tests/data/tiny-mamba/tokenizer.json";
    size_t n;
    char *json = fuzz_slurp(path, &n);
    char *err = NULL;
    fixed = silt_bpe_from_tokenizer_json(json, n, &err);
    if (!fixed) {
        fprintf(stderr, "fuzz setup: %s: %s\n", path, err);
        abort();
    }
    free(json);
    return 0;
}

static void check(const silt_bpe *b, const char *text, size_t len, int parse_special) {
    int32_t *all = NULL, *some = NULL;
    int n_all = 0, n_some = 0;
    char *err = NULL;
    if (silt_bpe_encode(b, text, len, parse_special, -1, &all, &n_all, &err) == 0) {
        for (int i = 0; i < n_all; i++) {
            FUZZ_CHECK(all[i] >= 0 && all[i] < silt_bpe_vocab_size(b));
            (void)silt_bpe_token(b, all[i]);
        }
        int limit = (int)(len % 5);
        if (silt_bpe_encode(b, text, len, parse_special, limit, &some, &n_some, &err) == 0) {
            FUZZ_CHECK(n_some <= limit && n_some <= n_all);
            FUZZ_CHECK(n_some == (n_all < limit ? n_all : limit));
            FUZZ_CHECK(n_some == 0 || memcmp(some, all, (size_t)n_some * sizeof *some) == 0);
        }
    }
    free(err);
    free(all);
    free(some);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if ((data[0] & 1) == 0) {
        check(fixed, rest, n, 0);
        check(fixed, rest, n, 1);
        return 0;
    }
    char *err = NULL;
    silt_bpe *b = silt_bpe_from_tokenizer_json(rest, n, &err);
    free(err);
    if (!b) return 0;
    static const char *const texts[] = {"Hello world", "  \t\n x", "\xf0\x9f\x98\x80 's 're",
                                        "<|endoftext|>a", "\xc3\x28 123"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        check(b, texts[i], strlen(texts[i]), 0);
        check(b, texts[i], strlen(texts[i]), 1);
    }
    for (int i = 0; i < silt_bpe_vocab_size(b) && i < 300; i++) {
        const char *t = silt_bpe_token(b, i);
        if (t) (void)silt_bpe_token_id(b, t, strlen(t));
    }
    (void)silt_bpe_eos_id(b);
    (void)silt_bpe_bos_id(b);
    silt_bpe_free(b);
    return 0;
}

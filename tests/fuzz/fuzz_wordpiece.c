/* fuzz_wordpiece.c: libFuzzer target for the WordPiece tokenizer (core/wordpiece.c).
 * First input byte, low 2 bits: 0 = the rest is a text for the tiny BERT vocabulary
 * (tests/data/tiny-bert/vocab.txt) with default options; 1 = the same with options taken
 * from the second byte's bits; 2 = the rest is a vocab.txt file; 3 = the rest is a token
 * list (one per line) given to silt_wordpiece_new. Oracles: ids in range, at most the
 * window, and a limited tokenization is a prefix of the unlimited one.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_wordpiece tests/fuzz/corpus/wordpiece */
#include "tests/fuzz/fuzz_util.h"

#include "core/wordpiece.h"

static silt_wordpiece *fixed;
static char **toks;
static size_t *lens;
static int n_toks;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *path = SILT_FUZZ_REPO "/tests/data/tiny-bert/vocab.txt";
    char *err = NULL;
    silt_wordpiece_opts o = silt_wordpiece_default_opts();
    fixed = silt_wordpiece_from_vocab_txt(path, &o, &err);
    if (!fixed) {
        fprintf(stderr, "fuzz setup: %s: %s\n", path, err);
        abort();
    }
    n_toks = silt_wordpiece_vocab_size(fixed);
    toks = calloc((size_t)n_toks, sizeof *toks);
    lens = calloc((size_t)n_toks, sizeof *lens);
    for (int i = 0; i < n_toks; i++) {
        toks[i] = (char *)silt_wordpiece_token(fixed, i);
        lens[i] = strlen(toks[i]);
    }
    return 0;
}

static void check(const silt_wordpiece *wp, const char *text, size_t len) {
    int32_t *all = NULL, *some = NULL, *enc = NULL;
    int n_all = 0, n_some = 0, n_enc = 0, complete = 1;
    char *err = NULL;
    if (silt_wordpiece_tokenize(wp, text, len, -1, &all, &n_all, &complete, &err) == 0) {
        FUZZ_CHECK(complete);
        for (int i = 0; i < n_all; i++)
            FUZZ_CHECK(all[i] >= 0 && all[i] < silt_wordpiece_vocab_size(wp));
        int limit = (int)(len % 7);
        if (silt_wordpiece_tokenize(wp, text, len, limit, &some, &n_some, &complete, &err) == 0) {
            FUZZ_CHECK(n_some <= limit && n_some <= n_all);
            FUZZ_CHECK(n_some == 0 || memcmp(some, all, (size_t)n_some * sizeof *some) == 0);
            FUZZ_CHECK(complete == (n_all <= limit));
        }
    }
    free(err);
    err = NULL;
    int window = 2 + (int)(len % 13);
    if (silt_wordpiece_encode(wp, text, len, window, 1, &enc, &n_enc, &err) == 0) {
        FUZZ_CHECK(n_enc >= 2 && n_enc <= window);
        FUZZ_CHECK(enc[0] == silt_wordpiece_cls_id(wp));
        FUZZ_CHECK(enc[n_enc - 1] == silt_wordpiece_sep_id(wp));
    }
    free(err);
    err = NULL;
    int32_t *strict = NULL;
    int n_strict = 0;
    if (silt_wordpiece_encode(wp, text, len, window, 0, &strict, &n_strict, &err) == 0)
        FUZZ_CHECK(n_strict <= window);
    free(err);
    free(strict);
    free(all);
    free(some);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int mode = data[0] & 3;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        check(fixed, rest, n);
        return 0;
    }
    silt_wordpiece_opts o = silt_wordpiece_default_opts();
    char *err = NULL;
    silt_wordpiece *wp = NULL;
    if (mode == 1) {
        uint8_t b = (uint8_t)rest[0];
        o.lowercase = b & 1;
        o.strip_accents = (b >> 1 & 3) == 3 ? -1 : (b >> 1 & 1);
        o.handle_cjk = b >> 3 & 1;
        o.clean_text = b >> 4 & 1;
        o.max_chars_per_word = (b >> 5) * 3;
        wp = silt_wordpiece_new((const char *const *)toks, lens, n_toks, &o, &err);
        if (wp) check(wp, rest + 1, n - 1);
    } else if (mode == 2) {
        const char *path = fuzz_write(0, "vocab.txt", rest, n);
        wp = silt_wordpiece_from_vocab_txt(path, &o, &err);
    } else {
        const char *t[256];
        size_t l[256];
        int k = 0;
        size_t at = 0;
        while (at <= n && k < 256) {
            const char *nl = memchr(rest + at, '\n', n - at);
            size_t end = nl ? (size_t)(nl - rest) : n;
            t[k] = rest + at;
            l[k++] = end - at;
            at = end + 1;
        }
        wp = silt_wordpiece_new(t, l, k, &o, &err);
    }
    free(err);
    if (wp && mode != 1) {
        static const char text[] = "Hello, WORLD! un\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 x##y [UNK]";
        check(wp, text, sizeof text - 1);
        for (int i = 0; i < silt_wordpiece_vocab_size(wp); i++) {
            const char *s = silt_wordpiece_token(wp, i);
            FUZZ_CHECK(s != NULL);
            (void)silt_wordpiece_id(wp, s, strlen(s));
        }
    }
    silt_wordpiece_free(wp);
    return 0;
}

/* fuzz_gguf.c: libFuzzer target for GGUF files (core/gguf.c) and everything built on them:
 * the WordPiece and BPE tokenizers read from GGUF metadata (core/wordpiece.c, core/bpe.c) and
 * the BERT / Mamba model loaders (silt_encoder_load), which must reject any inconsistent file
 * with an error. When a model does load, one short text is tokenized and embedded.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_gguf tests/fuzz/corpus/gguf */
#include "tests/fuzz/fuzz_util.h"

#include "core/bpe.h"
#include "core/encoder.h"
#include "core/gguf.h"
#include "core/wordpiece.h"

static const char TEXT[] = "Hello, world! 12 \xc3\xa9t\xc3\xa9 \xe4\xb8\xad [CLS] x";

/* Reads every key, array element (a bounded number) and tensor through the public API. */
static void walk(const silt_gguf *g) {
    (void)silt_gguf_version(g);
    for (int i = 0; i < silt_gguf_kv_count(g); i++) {
        const silt_gguf_kv *kv = silt_gguf_kv_at(g, i);
        FUZZ_CHECK(kv && kv->key);
        FUZZ_CHECK(silt_gguf_find_kv(g, kv->key) != NULL);
        int64_t iv;
        double dv;
        const char *s;
        size_t n;
        (void)silt_gguf_get_int(g, kv->key, &iv, NULL);
        (void)silt_gguf_get_float(g, kv->key, &dv, NULL);
        if (silt_gguf_get_str(g, kv->key, &s, &n, NULL) == 0 && n) {
            volatile char c = s[n - 1];
            (void)c;
        }
        if (kv->type == SILT_GGUF_ARRAY) {
            for (uint64_t j = 0; j < kv->n && j < 64; j++) {
                (void)silt_gguf_arr_int(kv, j);
                (void)silt_gguf_arr_float(kv, j);
                const char *e = silt_gguf_arr_str(kv, j, &n);
                if (e && n) {
                    volatile char c = e[n - 1];
                    (void)c;
                }
            }
        }
    }
    for (int i = 0; i < silt_gguf_tensor_count(g); i++) {
        const silt_gguf_tensor *t = silt_gguf_tensor_at(g, i);
        FUZZ_CHECK(t && t->name);
        FUZZ_CHECK(silt_gguf_find_tensor(g, t->name) != NULL);
        (void)silt_ggml_type_name(t->type);
        if (t->n_elems > 0 && t->n_elems <= (1u << 16)) {
            float *out = malloc(t->n_elems * sizeof *out);
            if (!out) abort();
            char *err = NULL;
            if (silt_gguf_tensor_to_f32(t, out, &err)) free(err);
            free(out);
        }
    }
}

static void tokenizers(const silt_gguf *g) {
    char *err = NULL;
    silt_wordpiece *wp = silt_wordpiece_from_gguf(g, &err);
    free(err);
    err = NULL;
    if (wp) {
        int32_t *ids = NULL;
        int n = 0;
        if (silt_wordpiece_encode(wp, TEXT, sizeof TEXT - 1, 16, 1, &ids, &n, &err) == 0) {
            FUZZ_CHECK(n <= 16);
            for (int i = 0; i < n; i++)
                FUZZ_CHECK(ids[i] >= 0 && ids[i] < silt_wordpiece_vocab_size(wp));
        }
        free(ids);
        free(err);
        err = NULL;
        silt_wordpiece_free(wp);
    }
    for (int nfc = 0; nfc < 2; nfc++) {
        silt_bpe *b = silt_bpe_from_gguf(g, nfc, &err);
        free(err);
        err = NULL;
        if (!b) continue;
        int32_t *ids = NULL;
        int n = 0;
        if (silt_bpe_encode(b, TEXT, sizeof TEXT - 1, nfc, -1, &ids, &n, &err) == 0) {
            for (int i = 0; i < n; i++)
                FUZZ_CHECK(ids[i] >= 0 && ids[i] < silt_bpe_vocab_size(b));
        }
        free(ids);
        free(err);
        err = NULL;
        silt_bpe_free(b);
    }
}

static void model(const char *path) {
    char *err = NULL;
    silt_encoder *enc = silt_encoder_load(path, NULL, &err);
    free(err);
    err = NULL;
    if (!enc) return;
    FUZZ_CHECK(enc->dim > 0 && enc->max_tokens > 0);
    int32_t *ids = NULL;
    int n = 0;
    if (enc->ops->tokenize(enc, TEXT, sizeof TEXT - 1, 1, &ids, &n, &err) == 0) {
        FUZZ_CHECK(n <= enc->max_tokens);
        if (enc->dim <= (1 << 20)) {
            float *out = malloc((size_t)enc->dim * sizeof *out);
            if (!out) abort();
            const int32_t *const list[1] = {ids};
            if (enc->ops->embed_batch(enc, list, &n, 1, out, &err)) {
                free(err);
                err = NULL;
            }
            free(out);
        }
    }
    free(ids);
    free(err);
    silt_encoder_free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write(0, "model.gguf", data, size);
    char *err = NULL;
    silt_gguf *g = silt_gguf_open(path, &err);
    free(err);
    if (g) {
        walk(g);
        tokenizers(g);
        silt_gguf_close(g);
        model(path);
    }
    return 0;
}

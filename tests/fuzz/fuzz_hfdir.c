/* fuzz_hfdir.c: libFuzzer target for Hugging Face model directories: config.json,
 * tokenizer files (vocab.txt, tokenizer.json, tokenizer_config.json), sentence-transformers
 * files and safetensors weights (single or sharded). The input is an archive of those files
 * (fuzz_unpack in fuzz_util.h); silt_encoder_load must load a consistent directory and
 * reject anything else with an error. A loaded model tokenizes and embeds one text.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_hfdir tests/fuzz/corpus/hfdir */
#include "tests/fuzz/fuzz_util.h"

#include "core/encoder.h"
#include "core/safetensors.h"
#include "core/wordpiece.h"

static const char *const NAMES[] = {
    "config.json",          "model.safetensors",         "vocab.txt",
    "tokenizer.json",       "tokenizer_config.json",     "modules.json",
    "sentence_bert_config.json", "1_Pooling/config.json", "model.safetensors.index.json",
    "a.safetensors",        "b.safetensors",
};

static const char TEXT[] = "Hello, world! 12 \xc3\xa9t\xc3\xa9 \xe4\xb8\xad [SEP] x y";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_unpack(data, size, "hf", NAMES, (int)(sizeof NAMES / sizeof *NAMES));
    char *err = NULL;
    /* The pieces on their own, then the whole loader (with and without options). */
    silt_safetensors *st = silt_safetensors_open_dir(dir, &err);
    free(err);
    err = NULL;
    silt_safetensors_close(st);
    silt_wordpiece *wp = silt_wordpiece_from_hf_dir(dir, &err);
    free(err);
    err = NULL;
    silt_wordpiece_free(wp);
    const char *opts = size && (data[size - 1] & 1) ? "{\"kind\":\"sparse\"}" : NULL;
    silt_encoder *enc = silt_encoder_load(dir, opts, &err);
    free(err);
    err = NULL;
    if (!enc) return 0;
    FUZZ_CHECK(enc->dim > 0 && enc->max_tokens > 0);
    int32_t *ids = NULL;
    int n = 0;
    if (enc->ops->tokenize(enc, TEXT, sizeof TEXT - 1, 1, &ids, &n, &err) == 0) {
        FUZZ_CHECK(n <= enc->max_tokens);
        float *out = malloc((size_t)enc->dim * sizeof *out);
        if (!out) abort();
        const int32_t *const list[1] = {ids};
        if (enc->ops->embed_batch(enc, list, &n, 1, out, &err)) free(err);
        err = NULL;
        free(out);
        for (int i = 0; i < n; i++) (void)enc->ops->token_text(enc, ids[i]);
    }
    free(ids);
    free(err);
    silt_encoder_free(enc);
    return 0;
}

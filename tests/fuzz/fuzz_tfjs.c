/* fuzz_tfjs.c: libFuzzer target for TensorFlow.js graph-model directories (core/tfjs.c):
 * model.json's weightsManifest and its weight shards, and the USE-Lite loader on top
 * (core/use_lite.c, with vocab.json). The input is an archive of the files (fuzz_unpack in
 * fuzz_util.h).
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_tfjs tests/fuzz/corpus/tfjs */
#include "tests/fuzz/fuzz_util.h"

#include "core/encoder.h"
#include "core/tfjs.h"

static const char *const NAMES[] = {
    "model.json", "group1-shard1of2", "group1-shard2of2", "vocab.json", "w.bin",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_unpack(data, size, "tfjs", NAMES, (int)(sizeof NAMES / sizeof *NAMES));
    char *err = NULL;
    silt_tfjs_model *m = silt_tfjs_open(dir, &err);
    free(err);
    err = NULL;
    if (m) {
        for (int i = 0; i < silt_tfjs_count(m); i++) {
            const silt_tfjs_tensor *t = silt_tfjs_at(m, i);
            FUZZ_CHECK(t && t->name && silt_tfjs_find(m, t->name));
            if (t->n_elems) {
                volatile uint8_t last = ((const uint8_t *)t->data)[t->n_elems * 4 - 1];
                (void)last;
            }
            float f;
            int32_t v;
            if (silt_tfjs_scalar_f32(m, t->name, &f, &err)) free(err);
            err = NULL;
            if (silt_tfjs_scalar_i32(m, t->name, &v, &err)) free(err);
            err = NULL;
            if (!silt_tfjs_floats(m, t->name, t->rank, t->shape, &err)) free(err);
            err = NULL;
        }
        silt_tfjs_close(m);
    }
    silt_encoder *enc = silt_encoder_load(dir, NULL, &err);
    free(err);
    silt_encoder_free(enc);
    return 0;
}

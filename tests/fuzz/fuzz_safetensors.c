/* fuzz_safetensors.c: libFuzzer target for one .safetensors file (core/safetensors.c): the
 * header must be validated at open so that every tensor read afterwards stays in bounds.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_safetensors tests/fuzz/corpus/safetensors */
#include "tests/fuzz/fuzz_util.h"

#include "core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write(0, "model.safetensors", data, size);
    char *err = NULL;
    silt_safetensors *st = silt_safetensors_open(path, &err);
    free(err);
    if (!st) return 0;
    for (int i = 0; i < silt_safetensors_count(st); i++) {
        const silt_st_tensor *t = silt_safetensors_at(st, i);
        FUZZ_CHECK(t && t->name && silt_safetensors_find(st, t->name));
        (void)silt_st_dtype_name(t->dtype);
        if (t->n_bytes) {
            volatile uint8_t first = t->data[0], last = t->data[t->n_bytes - 1];
            (void)first;
            (void)last;
        }
        if (t->n_elems > 0 && t->n_elems <= (1u << 16)) {
            float *out = malloc(t->n_elems * sizeof *out);
            if (!out) abort();
            err = NULL;
            if (silt_st_tensor_to_f32(t, out, &err)) free(err);
            free(out);
        }
    }
    silt_safetensors_close(st);
    return 0;
}

/* gguf.h: read-only access to GGUF files (llama.cpp's model format, versions 2 and 3).
 *
 * The file is memory-mapped and fully validated at open: magic and version, every metadata
 * key/value (all types, arrays included), every tensor info (dimensions, ggml type, offset
 * aligned to general.alignment, bytes inside the file, no two tensors overlapping). Lookups
 * afterwards need no checks. The object is immutable: any number of threads may read it.
 *
 *   silt_gguf *g = silt_gguf_open("/models/bge-small-q8_0.gguf", &err);
 *   int64_t n_layers;
 *   silt_gguf_get_int(g, "bert.block_count", &n_layers, &err);
 *   const silt_gguf_tensor *t = silt_gguf_find_tensor(g, "token_embd.weight");
 *   silt_gguf_tensor_to_f32(t, out, &err);    // F32, F16, BF16, Q8_0 -> float32
 *   silt_gguf_close(g);
 *
 * Tensor shapes follow ggml: ne[0] is the length of a row (the fastest-varying dimension),
 * so a PyTorch [out, in] weight appears as ne = {in, out} with the same bytes. */
#ifndef SILT_GGUF_H
#define SILT_GGUF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SILT_GGUF_U8 = 0,
    SILT_GGUF_I8 = 1,
    SILT_GGUF_U16 = 2,
    SILT_GGUF_I16 = 3,
    SILT_GGUF_U32 = 4,
    SILT_GGUF_I32 = 5,
    SILT_GGUF_F32 = 6,
    SILT_GGUF_BOOL = 7,
    SILT_GGUF_STRING = 8,
    SILT_GGUF_ARRAY = 9,
    SILT_GGUF_U64 = 10,
    SILT_GGUF_I64 = 11,
    SILT_GGUF_F64 = 12,
} silt_gguf_vtype;

/* ggml tensor types silt knows the size of (others are rejected at open). */
enum {
    SILT_GGML_F32 = 0,
    SILT_GGML_F16 = 1,
    SILT_GGML_Q4_0 = 2,
    SILT_GGML_Q4_1 = 3,
    SILT_GGML_Q5_0 = 6,
    SILT_GGML_Q5_1 = 7,
    SILT_GGML_Q8_0 = 8,
    SILT_GGML_Q8_1 = 9,
    SILT_GGML_Q2_K = 10,
    SILT_GGML_Q3_K = 11,
    SILT_GGML_Q4_K = 12,
    SILT_GGML_Q5_K = 13,
    SILT_GGML_Q6_K = 14,
    SILT_GGML_Q8_K = 15,
    SILT_GGML_I8 = 24,
    SILT_GGML_I16 = 25,
    SILT_GGML_I32 = 26,
    SILT_GGML_I64 = 27,
    SILT_GGML_F64 = 28,
    SILT_GGML_BF16 = 30,
};

typedef struct {
    const char *key;          /* NUL-terminated, owned by the silt_gguf */
    silt_gguf_vtype type;     /* SILT_GGUF_ARRAY for arrays */
    silt_gguf_vtype arr_type; /* element type of an array */
    uint64_t n;               /* number of elements of an array (1 for a scalar) */
    const uint8_t *data;      /* first value byte in the map (numbers: little-endian) */
    const char **str;         /* strings (scalar: str[0]); not NUL-terminated */
    uint64_t *str_len;
} silt_gguf_kv;

#define SILT_GGUF_MAX_DIMS 4

typedef struct {
    const char *name;        /* NUL-terminated, owned by the silt_gguf */
    uint32_t type;           /* SILT_GGML_* */
    int n_dims;
    int64_t ne[SILT_GGUF_MAX_DIMS]; /* unused dimensions are 1 */
    uint64_t n_elems;
    const uint8_t *data;     /* aligned to general.alignment within the file */
    size_t n_bytes;
} silt_gguf_tensor;

typedef struct silt_gguf silt_gguf;

silt_gguf *silt_gguf_open(const char *path, char **err);
void silt_gguf_close(silt_gguf *g);

uint32_t silt_gguf_version(const silt_gguf *g);

int silt_gguf_kv_count(const silt_gguf *g);
const silt_gguf_kv *silt_gguf_kv_at(const silt_gguf *g, int i);
const silt_gguf_kv *silt_gguf_find_kv(const silt_gguf *g, const char *key);

/* Typed getters: 0 on success; -1 with *err naming the key when it is missing or of the
 * wrong type. get_int accepts every integer type and BOOL; get_float also accepts integers. */
int silt_gguf_get_int(const silt_gguf *g, const char *key, int64_t *out, char **err);
int silt_gguf_get_float(const silt_gguf *g, const char *key, double *out, char **err);
int silt_gguf_get_str(const silt_gguf *g, const char *key, const char **s, size_t *len,
                      char **err);

/* Element i of an array (i < kv->n). Numbers convert; wrong element types give 0 / NULL. */
int64_t silt_gguf_arr_int(const silt_gguf_kv *kv, uint64_t i);
double silt_gguf_arr_float(const silt_gguf_kv *kv, uint64_t i);
const char *silt_gguf_arr_str(const silt_gguf_kv *kv, uint64_t i, size_t *len);

int silt_gguf_tensor_count(const silt_gguf *g);
const silt_gguf_tensor *silt_gguf_tensor_at(const silt_gguf *g, int i);
const silt_gguf_tensor *silt_gguf_find_tensor(const silt_gguf *g, const char *name);

/* "F32", "Q8_0", ... or "?". */
const char *silt_ggml_type_name(uint32_t type);

/* Dequantises t into out[t->n_elems]. F32, F16, BF16 and Q8_0 are supported; other types
 * fail with a message naming the tensor and its type. */
int silt_gguf_tensor_to_f32(const silt_gguf_tensor *t, float *out, char **err);

#endif

/* tfjs.h: reads the weights of a TensorFlow.js graph-model directory.
 *
 * A tfjs directory holds model.json, whose "weightsManifest" lists groups of weights
 * ({name, shape, dtype}) stored back to back in the group's shard files. This reader loads
 * every shard into memory and validates the whole manifest before returning: dtypes
 * (float32 and int32 only, no quantization), shapes, shard names (plain file names), and
 * that each group's shards together hold exactly the bytes its weights need.
 *
 *   silt_tfjs_model *m = silt_tfjs_open("/models/use-lite", &err);
 *   const silt_tfjs_tensor *t = silt_tfjs_find(m, "module/Embeddings_en");
 *   const float *E = silt_tfjs_floats(m, "module/Embeddings_en", 2, (int64_t[]){8002, 256}, &err);
 *   silt_tfjs_close(m);
 *
 * Tensor data keeps the file's byte order (little-endian, the only one tfjs writes) and is
 * only 4-byte aligned: a tensor may start at any multiple of 4. Copy what you keep. */
#ifndef SILT_TFJS_H
#define SILT_TFJS_H

#include <stddef.h>
#include <stdint.h>

#define SILT_TFJS_MAX_RANK 8

typedef enum { SILT_TFJS_FLOAT32 = 1, SILT_TFJS_INT32 = 2 } silt_tfjs_dtype;

typedef struct {
    char *name;               /* full manifest name */
    silt_tfjs_dtype dtype;
    int rank;                 /* 0 for a scalar */
    int64_t shape[SILT_TFJS_MAX_RANK];
    size_t n_elems;           /* product of shape (1 for a scalar) */
    size_t offset_bytes;      /* offset inside its group's concatenated shards */
    int group;                /* index of its weightsManifest group */
    const void *data;         /* n_elems 4-byte values, 4-byte aligned */
} silt_tfjs_tensor;

typedef struct silt_tfjs_model silt_tfjs_model;

/* Loads and validates dir/model.json and all its shards. NULL and *err on failure. */
silt_tfjs_model *silt_tfjs_open(const char *dir, char **err);
void silt_tfjs_close(silt_tfjs_model *m);

/* Number of tensors over all groups, and tensor i in manifest order. */
int silt_tfjs_count(const silt_tfjs_model *m);
const silt_tfjs_tensor *silt_tfjs_at(const silt_tfjs_model *m, int i);

/* The tensor named exactly name, or NULL. */
const silt_tfjs_tensor *silt_tfjs_find(const silt_tfjs_model *m, const char *name);

/* Data of the float32 tensor `name` after checking it exists and has exactly this rank and
 * shape; NULL and *err (naming the tensor, expected and found shapes) otherwise. */
const float *silt_tfjs_floats(const silt_tfjs_model *m, const char *name, int rank,
                              const int64_t *shape, char **err);

/* Value of a scalar (shape [] or one element) float32 / int32 tensor. 0 or -1 and *err. */
int silt_tfjs_scalar_f32(const silt_tfjs_model *m, const char *name, float *out, char **err);
int silt_tfjs_scalar_i32(const silt_tfjs_model *m, const char *name, int32_t *out, char **err);

/* Reads a whole file (at most max_bytes) into a malloc'd NUL-terminated buffer; sets
 * *n_bytes. NULL and *err (with the path and reason) on failure. */
char *silt_tfjs_read_file(const char *path, size_t max_bytes, size_t *n_bytes, char **err);

#endif

/* safetensors.h: read-only access to Hugging Face .safetensors weight files.
 *
 * A file is memory-mapped and its JSON header validated once at open: header length inside
 * the file, every tensor's dtype known, shape consistent with its byte size, offsets inside
 * the data section and no two tensors overlapping. After that, tensors are looked up by name
 * and read without further checks. Sharded checkpoints (model.safetensors.index.json naming
 * several files) open as one object.
 *
 *   silt_safetensors *st = silt_safetensors_open_dir("/models/minilm", &err);
 *   const silt_st_tensor *t = silt_safetensors_find(st, "embeddings.word_embeddings.weight");
 *   silt_st_tensor_to_f32(t, out, &err);   // F32, F16 or BF16 -> float32
 *   silt_safetensors_close(st);
 *
 * The object is immutable after open: any number of threads may read it at once. */
#ifndef SILT_SAFETENSORS_H
#define SILT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SILT_ST_MAX_DIMS 8

/* Every dtype of the format is recognised (so its size can be validated); only F32, F16
 * and BF16 can be read as floats. Integer tensors appear in real checkpoints (BERT's
 * "embeddings.position_ids" buffer is I64), so they must not make a file unreadable. */
typedef enum {
    SILT_ST_F32,
    SILT_ST_F16,
    SILT_ST_BF16,
    SILT_ST_F64,
    SILT_ST_I64,
    SILT_ST_I32,
    SILT_ST_I16,
    SILT_ST_I8,
    SILT_ST_U64,
    SILT_ST_U32,
    SILT_ST_U16,
    SILT_ST_U8,
    SILT_ST_BOOL,
    SILT_ST_F8_E4M3,
    SILT_ST_F8_E5M2,
} silt_st_dtype;

typedef struct {
    const char *name;      /* NUL-terminated; owned by the silt_safetensors */
    silt_st_dtype dtype;
    int n_dims;
    int64_t shape[SILT_ST_MAX_DIMS];
    uint64_t n_elems;      /* product of shape (1 for a scalar) */
    const uint8_t *data;   /* inside the mapping; not necessarily aligned */
    size_t n_bytes;
} silt_st_tensor;

typedef struct silt_safetensors silt_safetensors;

/* Maps and validates one .safetensors file. NULL and *err set on failure. */
silt_safetensors *silt_safetensors_open(const char *path, char **err);

/* Opens the weights of a model directory: dir/model.safetensors, or when absent the shards
 * listed in dir/model.safetensors.index.json (every listed tensor must be in its shard). */
silt_safetensors *silt_safetensors_open_dir(const char *dir, char **err);

int silt_safetensors_count(const silt_safetensors *st);
const silt_st_tensor *silt_safetensors_at(const silt_safetensors *st, int i);
/* The tensor called name, or NULL. */
const silt_st_tensor *silt_safetensors_find(const silt_safetensors *st, const char *name);

/* "F32", "I64", ... */
const char *silt_st_dtype_name(silt_st_dtype dtype);

/* Converts t to float32 into out[t->n_elems]. Fails (naming the tensor and its dtype) when
 * t is not F32, F16 or BF16. */
int silt_st_tensor_to_f32(const silt_st_tensor *t, float *out, char **err);

void silt_safetensors_close(silt_safetensors *st);

#endif

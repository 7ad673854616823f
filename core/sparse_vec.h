/* sparse_vec.h: the silt_sparse vector format (learned-sparse / SPLADE vectors).
 *
 * Byte layout of a sparse BLOB, all little-endian, no padding:
 *
 *     uint32 n                 number of non-zero terms
 *     uint32 ids[n]            term ids, strictly increasing
 *     float32 weights[n]       weights[i] belongs to ids[i]; finite and non-zero
 *
 * so a BLOB is 4 + 8n bytes, and the empty vector is 4 zero bytes. At every input position
 * a sparse vector may also be a JSON object {"term or id": weight, ...}: a key made only of
 * decimal digits is a term id, any other key is a token string looked up in a model's
 * vocabulary. Zero weights are dropped; a term given twice is an error.
 *
 *   silt_sparse_vec v;
 *   silt_sparse_from_json("{\"12\": 0.5, \"7\": 1}", len, NULL, NULL, &v, &err);
 *   silt_sparse_encode(&v, &blob, &n_bytes, &err);    -> ids 7, 12
 */
#ifndef SILT_SPARSE_VEC_H
#define SILT_SPARSE_VEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t n;        /* number of terms */
    uint32_t *ids;     /* n ids, strictly increasing (malloc'd, owned) */
    float *weights;    /* n weights (malloc'd, owned) */
} silt_sparse_vec;

/* Frees the arrays of v and zeroes it. */
void silt_sparse_vec_free(silt_sparse_vec *v);

/* Checks a sparse BLOB (length, sorted unique ids, finite non-zero weights). On success
 * *n_terms is the term count. Returns 0, or -1 with *err naming the problem. */
int silt_sparse_check(const void *blob, size_t n_bytes, uint32_t *n_terms, char **err);

/* Decodes a sparse BLOB into owned arrays (checked as silt_sparse_check). */
int silt_sparse_decode(const void *blob, size_t n_bytes, silt_sparse_vec *out, char **err);

/* Encodes v (ids must be strictly increasing) into a malloc'd BLOB of *n_bytes bytes. */
int silt_sparse_encode(const silt_sparse_vec *v, void **blob, size_t *n_bytes, char **err);

/* Keeps the non-zero entries of a dense weight vector w[dim] (as a sparse encoder writes
 * them: index = term id) into out. */
int silt_sparse_from_dense(const float *w, int dim, silt_sparse_vec *out, char **err);

/* Looks up a token string; returns its id or -1 when unknown. */
typedef int32_t (*silt_sparse_term_id_fn)(void *ctx, const char *tok, size_t len);
/* Returns the text of a term id, or NULL when there is none. */
typedef const char *(*silt_sparse_term_text_fn)(void *ctx, int32_t id);

/* Parses a JSON object {"term or id": weight} into out (sorted by id). term_id may be NULL:
 * then only id keys are accepted and a token key is an error saying a model is needed.
 * Weights must be finite float32 numbers; ids must fit in uint32. */
int silt_sparse_from_json(const char *text, size_t len, silt_sparse_term_id_fn term_id,
                          void *ctx, silt_sparse_vec *out, char **err);

/* Writes v as a JSON object into a malloc'd string (NULL when out of memory). With term_text
 * the keys are token strings, except where a token's text would not read back to the same
 * id (unknown or ambiguous), which keeps its id; without it every key is the id. Weights
 * use the fewest digits that read back to the same float32. term_id is used only for that
 * round-trip check and may be NULL. */
char *silt_sparse_to_json(const silt_sparse_vec *v, silt_sparse_term_text_fn term_text,
                          silt_sparse_term_id_fn term_id, void *ctx);

#endif

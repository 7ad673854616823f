/* encoder.h: the one interface every text encoder implements (USE-Lite, BERT, SPLADE, Mamba).
 *
 * sqlext/ only ever talks to this interface; it never knows which architecture it calls.
 * An encoder is immutable once loaded, so one instance is shared by every connection and
 * thread of a process (weights are memory-mapped or owned by the encoder).
 *
 *   silt_encoder *enc = silt_encoder_load("/models/minilm", NULL, &err);
 *   int32_t *ids; int n;
 *   enc->ops->tokenize(enc, "hello", 5, 1, &ids, &n, &err);
 *   enc->ops->embed_batch(enc, (const int32_t *const *)&ids, &n, 1, out, &err);
 *   silt_encoder_free(enc);
 */
#ifndef SILT_ENCODER_H
#define SILT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SILT_KIND_DENSE = 1,  /* embed_batch writes dim floats per text */
    SILT_KIND_SPARSE = 2, /* embed_batch writes vocab-size term weights per text (dim = vocab) */
} silt_kind;

typedef struct silt_encoder silt_encoder;

struct silt_encoder_ops {
    /* Token ids the model is fed for text[0..len) (special tokens included). Texts longer
     * than the window are cut to max_tokens when truncate is non-zero, else it is an error.
     * Invalid UTF-8 is not an error: each bad sequence reads as U+FFFD.
     * On success *ids is malloc'd (caller frees) and *n_ids set. */
    int (*tokenize)(const silt_encoder *enc, const char *text, size_t len, int truncate,
                    int32_t **ids, int *n_ids, char **err);
    /* Encodes n tokenized texts into out[n * enc->dim] (pooled and normalised as the model
     * defines). ids[i] holds n_ids[i] ids as produced by tokenize. Thread-safe. */
    int (*embed_batch)(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                       int n, float *out, char **err);
    /* Text of token id, or NULL when out of range (for showing sparse vectors). */
    const char *(*token_text)(const silt_encoder *enc, int32_t id);
    /* Id of a token string, or -1 (for sparse JSON input given as token strings). */
    int32_t (*token_id)(const silt_encoder *enc, const char *tok, size_t len);
    void (*destroy)(silt_encoder *enc);
};

struct silt_encoder {
    const struct silt_encoder_ops *ops;
    char arch[32];  /* "use-lite", "bert", "bert-mlm", "mamba" */
    silt_kind kind;
    int dim;        /* output width: embedding size, or vocabulary size for sparse */
    int max_tokens; /* window, special tokens included */
};

/* Loads a model from a path: a directory (USE-Lite tfjs dir with model.json + vocab.json,
 * or a Hugging Face directory with config.json) or a GGUF file. options_json may be NULL or
 * a JSON object (e.g. {"kind":"sparse"}). Every header, offset, dtype and shape is
 * validated before the encoder is returned. */
silt_encoder *silt_encoder_load(const char *path, const char *options_json, char **err);

void silt_encoder_free(silt_encoder *enc);

#endif

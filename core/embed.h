/* embed.h: the one batching path from texts to embeddings, used by silt_embed, silt_dense's
 * automatic embedding, silt_sparse, silt_join and everything else that embeds text.
 *
 *   const char *texts[] = {"hello", "a longer text"};
 *   float *out = malloc(2 * enc->dim * sizeof(float));
 *   if (silt_embed_texts(enc, texts, NULL, 2, 1, out, &err)) ... *err says which text failed
 *
 * All texts are tokenized (in parallel), sorted by token count, and cut into batches of
 * similar lengths with a bounded number of (padded) tokens each, so that a batch wastes
 * little on padding and its activations stay in cache-sized buffers. Results are written in
 * input order: out[i * enc->dim ...] belongs to texts[i]. For a sparse encoder enc->dim is
 * the vocabulary size, so callers embed sparse texts in modest groups. */
#ifndef SILT_EMBED_H
#define SILT_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "core/encoder.h"

/* Padded tokens (longest text of a batch x texts in it) a batch may hold, and the most texts
 * per batch. A single text longer than the budget is a batch of its own. */
#define SILT_EMBED_BATCH_TOKENS 8192
#define SILT_EMBED_BATCH_TEXTS 64

/* Embeds texts[0..n): texts[i] holds lens[i] bytes of UTF-8 (lens may be NULL for
 * NUL-terminated texts). truncate non-zero cuts texts longer than the model's window;
 * zero makes such a text an error. out receives n * enc->dim floats. Returns 0, or -1 with
 * *err ("text <i>: <problem>"); out is then unspecified. */
int silt_embed_texts(const silt_encoder *enc, const char *const *texts, const size_t *lens,
                     int n, int truncate, float *out, char **err);

/* The same from token ids already produced by enc->ops->tokenize (ids[i] holds n_ids[i]
 * ids), for callers that tokenize once and reuse the ids. */
int silt_embed_tokens(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                      int n, float *out, char **err);

#endif

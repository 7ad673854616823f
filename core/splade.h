/* splade.h: SPLADE learned-sparse encoders: BERT plus its masked-language-model head, behind
 * the silt_encoder interface (kind SILT_KIND_SPARSE, arch "bert-mlm", dim = vocabulary size).
 *
 *   silt_encoder *e = silt_encoder_load("/models/splade-pp-en-v1", "{\"kind\":\"sparse\"}", &err);
 *   e->ops->embed_batch(e, ids, n_ids, n, out, &err);   // out[n * e->dim] term weights
 *
 * Weight of term j for a text: w_j = max over the text's token positions (attention mask 1,
 * [CLS] and [SEP] included, as naver/splade computes it) of log(1 + ReLU(logit_j)), where
 * logits = LayerNorm(act(h W_t^T + b_t)) E^T + b for the final hidden states h, the head's
 * transform (cls.predictions.transform.dense and .LayerNorm, act = config.json hidden_act)
 * and the decoder E (cls.predictions.decoder.weight, or the word embeddings it is tied to,
 * which is how transformers saves it) with bias b (cls.predictions.bias).
 *
 * Loaded from a Hugging Face BertForMaskedLM directory (as naver/splade-cocondenser-
 * ensembledistil and prithivida/Splade_PP_en_v1 ship) with options {"kind": "sparse"} and
 * optionally "top_n": N (keep each text's N heaviest terms; ties go to the smaller id) and
 * "max_tokens": N (a smaller window). GGUF files (llama.cpp drops the MLM head) cannot be. */
#ifndef SILT_SPLADE_H
#define SILT_SPLADE_H

#include "core/encoder.h"

/* 1 when options_json asks for a sparse encoder ("kind": "sparse"). */
int silt_splade_wanted(const char *options_json);

/* Loads a SPLADE encoder from a Hugging Face directory. NULL with *err on failure. */
silt_encoder *silt_splade_load_hf(const char *dir, const char *options_json, char **err);

/* Keeps the top_n largest of w[0..dim) (ties: smaller index first) and zeroes the rest. */
void silt_splade_keep_top(float *w, int dim, int top_n);

#endif

/* bert.h: BERT-family sentence encoders (BERT, MiniLM, BGE, E5, GTE, ...) behind the
 * silt_encoder interface of encoder.h, loaded from the two formats users have:
 *
 *   silt_encoder *a = silt_hf_load("/models/all-MiniLM-L6-v2", NULL, &err);
 *   silt_encoder *b = silt_gguf_load("/models/bge-small-en-v1.5-q8_0.gguf", NULL, &err);
 *
 * Hugging Face directory: config.json (architectures BertModel / BertForMaskedLM /
 * BertForPreTraining, or model_type "bert"), model.safetensors (or sharded with
 * model.safetensors.index.json; tensor names with or without the "bert." prefix; F32, F16 or
 * BF16), tokenizer.json or vocab.txt (+ tokenizer_config.json), and the sentence-transformers
 * files when present: modules.json with 1_Pooling/config.json (mean, cls, max or last-token
 * pooling) and a Normalize module (L2 normalisation), sentence_bert_config.json max_seq_length.
 * Without modules.json: mean pooling, no normalisation (sentence-transformers' default).
 *
 * GGUF file (v2/v3): general.architecture "bert" with llama.cpp's keys and tensor names
 * (token_embd, position_embd, token_types, token_embd_norm, blk.N.attn_q/k/v or attn_qkv,
 * attn_output, attn_output_norm, ffn_up, ffn_down, layer_output_norm; F32, F16, BF16 or Q8_0,
 * dequantised to float32 at load), bert.pooling_type (mean when absent or none), WordPiece
 * vocabulary in the metadata. Output is L2-normalised, as llama.cpp's embedding tools do.
 *
 * Options (JSON object, may be NULL): "kind": "dense" ("kind": "sparse" on a Hugging Face
 * directory loads BERT + its MLM head as a SPLADE encoder: core/splade.h), "pooling": "mean" | "cls" | "max" | "last",
 * "normalize": true | false, "max_tokens": N (a smaller window), "int8": true (the layers'
 * products on int8 weights quantised per row at load, activations per row on the fly:
 * core/ops_int8.h; ~2.4x faster with AVX-512 VNNI, cosine >= 0.999 against float32).
 * Unknown keys are an error.
 *
 * Every expected tensor is checked (present, shape, dtype) before an encoder is returned.
 * Loading is thread-safe; the encoder is immutable and may be used from any number of
 * threads at once. These two functions are silt's entry points for both formats: a Mamba
 * model (core/mamba.h claims it) is routed to the Mamba loader; other architectures plug into
 * the dispatch tables in bert.c (config.json architectures / GGUF general.architecture); an
 * unknown one is a clear error that lists what silt runs. */
#ifndef SILT_BERT_H
#define SILT_BERT_H

#include "core/encoder.h"

/* A Hugging Face model directory. NULL and *err on failure. */
silt_encoder *silt_hf_load(const char *dir, const char *options_json, char **err);

/* A GGUF file. NULL and *err on failure. */
silt_encoder *silt_gguf_load(const char *path, const char *options_json, char **err);

/* For encoders built on BERT (SPLADE's MLM head, core/splade.c). The final hidden states of n
 * tokenized texts, unpooled: out[sum of n_ids, hidden], text i's rows after those of texts
 * 0..i-1. enc must be a BERT encoder (arch "bert"); else an error. */
int silt_bert_hidden_states(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                            int n, float *out, char **err);

/* The word embedding table [*vocab_rows, *hidden] of a BERT encoder (what an MLM decoder is
 * tied to), owned by enc; NULL when enc is not BERT. */
const float *silt_bert_word_embeddings(const silt_encoder *enc, int *vocab_rows, int *hidden);

#endif

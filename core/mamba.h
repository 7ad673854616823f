/* mamba.h: Mamba-1 sentence encoders behind the silt_encoder interface (encoder.h), pooled as
 * Mamba Retriever does: the text's tokens, then EOS; the hidden state at the EOS position
 * after the final RMSNorm, L2-normalised (compare with cosine / inner product).
 *
 *   SELECT silt_model_register('mamba', '/models/mamba-130m-hf');          -- HF directory
 *   SELECT silt_model_register('mamba', '/models/mamba-130m-f16.gguf');    -- llama.cpp GGUF
 *   SELECT silt_embed('mamba', 'a long passage ...');
 *
 * Hugging Face directory: config.json with model_type "mamba" or architectures MambaModel /
 * MambaForCausalLM / MambaLMHeadModel (hidden_size or d_model, num_hidden_layers or n_layer,
 * state_size, conv_kernel, expand, intermediate_size, time_step_rank ("auto" = ceil(d/16)),
 * layer_norm_epsilon, eos_token_id), model.safetensors (or sharded) with the names
 * [backbone.]embeddings.weight (or embedding.weight), [backbone.]layers.N.norm.weight,
 * [backbone.]layers.N.mixer.{in_proj,conv1d,x_proj,dt_proj,out_proj}.weight, A_log, D,
 * conv1d.bias, dt_proj.bias (in_proj/out_proj .bias when use_bias), [backbone.]norm_f.weight;
 * tokenizer.json (byte-level BPE, bpe.h).
 * GGUF: general.architecture "mamba" with llama.cpp's keys (mamba.embedding_length,
 * block_count, ssm.conv_kernel, ssm.inner_size, ssm.state_size, ssm.time_step_rank,
 * attention.layer_norm_rms_epsilon) and tensors (token_embd, blk.N.attn_norm, ssm_in,
 * ssm_conv1d.weight/.bias, ssm_x, ssm_dt.weight/.bias, ssm_a = -exp(A_log), ssm_d, ssm_out,
 * output_norm), tokenizer.ggml.* of model "gpt2". Weights F32, F16, BF16 (GGUF also Q8_0)
 * are converted to float32 at load; every tensor's presence and shape is checked first.
 *
 * Options (JSON object or NULL): "kind": "dense"; "max_tokens": N (window, EOS included;
 * default 8192: the cost is linear, so the window is a policy, not a memory limit);
 * "chunk_tokens": N (rows per forward step, default 512: bounds the activations; the result
 * does not depend on it). Unknown options are an error.
 *
 * Memory: a batch runs through the layers in steps of chunk_tokens rows drawn from its texts
 * in order; a text longer than a step carries its recurrent state (d_conv-1 inputs and a
 * d_inner x d_state matrix per layer) to the next step, so memory does not grow with the
 * length of the text. */
#ifndef SILT_MAMBA_H
#define SILT_MAMBA_H

#include "core/encoder.h"

/* 1 when dir/config.json names a Mamba-1 model (model_type "mamba" or a Mamba architecture);
 * the directory loader uses it to route the model here. */
int silt_mamba_claims_hf(const char *dir);

/* 1 when path is a GGUF file with general.architecture "mamba". */
int silt_mamba_claims_gguf(const char *path);

/* Loaders; NULL and *err (naming the file, the tensor or key, and what was expected) on
 * failure. The encoder is immutable and thread-safe. */
silt_encoder *silt_mamba_load_hf(const char *dir, const char *options_json, char **err);
silt_encoder *silt_mamba_load_gguf(const char *path, const char *options_json, char **err);

#endif

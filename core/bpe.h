/* bpe.h: byte-level BPE tokenizer (GPT-2 / GPT-NeoX family, the tokenizer of Mamba models).
 *
 * Loaded from a Hugging Face tokenizer.json (model.type "BPE", pre_tokenizer ByteLevel,
 * optional NFC normalizer) or from GGUF metadata (tokenizer.ggml.model = "gpt2":
 * tokenizer.ggml.tokens / token_type / merges). Encoding follows Hugging Face tokenizers:
 *
 *   1. ill-formed UTF-8 reads as U+FFFD (one per maximal ill-formed subpart, as a WHATWG
 *      decoder or Rust's from_utf8_lossy), so any bytes are accepted;
 *   2. with parse_special, special (control) tokens written in the text become their id;
 *   3. NFC when the tokenizer asks for it (GPT-NeoX's does);
 *   4. the other added tokens (GPT-NeoX: runs of 2..24 spaces) are cut out, leftmost-longest;
 *   5. the rest is split by the GPT-2 pattern
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      (implemented by hand on utf8proc categories; \s is Oniguruma's: U+0009..U+000D,
 *      U+0085 and the Zs/Zl/Zp categories);
 *   6. each piece's UTF-8 bytes map to the 256 byte symbols and merge by rank (lowest rank
 *      first, leftmost on ties). A byte symbol missing from the vocabulary is dropped, as
 *      Hugging Face does for a BPE model without an unknown token.
 *
 *   silt_bpe *b = silt_bpe_from_tokenizer_json(json, json_len, &err);
 *   int32_t *ids; int n;
 *   silt_bpe_encode(b, "Hello world", 11, 0, -1, &ids, &n, &err);    ids = {12092, 1533}
 *
 * A loaded tokenizer is immutable: encode may run on any number of threads at once. */
#ifndef SILT_BPE_H
#define SILT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/gguf.h"

typedef struct silt_bpe silt_bpe;

/* Parses a tokenizer.json text. Fails, naming the field, on anything silt would not encode
 * as Hugging Face does (another model type or pre-tokenizer, a merge of unknown tokens...). */
silt_bpe *silt_bpe_from_tokenizer_json(const char *json, size_t json_len, char **err);

/* Reads tokenizer.ggml.* from an open GGUF. GGUF keeps no normalizer, so nfc says whether
 * to apply NFC (1 for GPT-NeoX vocabularies, whose tokenizer.json has it). llama.cpp's
 * converter stores added tokens as plain text and fills unused ids with "[PAD<id>]"; the
 * former are mapped back to their byte-level spelling, the latter are ordinary tokens. */
silt_bpe *silt_bpe_from_gguf(const silt_gguf *g, int nfc, char **err);

void silt_bpe_free(silt_bpe *b);

/* Token ids of text[0..len) (no BOS/EOS added). parse_special: 1 to turn special tokens
 * written in the text into their ids (Hugging Face's default), 0 to read them as plain text.
 * max_ids >= 0 stops after that many ids (the result is the prefix of the full encoding;
 * a long text is only read up to a cut just before a space that follows printable ASCII,
 * far enough for max_ids ids, which is exact unless an added token itself holds such a
 * space); -1 for no limit. *ids is malloc'd (NULL when *n_ids is 0). Fails only on out-of-memory. */
int silt_bpe_encode(const silt_bpe *b, const char *text, size_t len, int parse_special,
                    int max_ids, int32_t **ids, int *n_ids, char **err);

/* Number of ids (largest id + 1). */
int silt_bpe_vocab_size(const silt_bpe *b);
/* Vocabulary string of id as stored (byte-level form, "Ġthe"; added tokens as written),
 * NULL when id is out of range or unused. */
const char *silt_bpe_token(const silt_bpe *b, int32_t id);
/* Id of a vocabulary string (either spelling of an added token), or -1. */
int32_t silt_bpe_token_id(const silt_bpe *b, const char *tok, size_t len);

/* GGUF tokenizer.ggml.eos_token_id / bos_token_id, or -1 when absent (tokenizer.json does
 * not state them; the model's config.json does). */
int32_t silt_bpe_eos_id(const silt_bpe *b);
int32_t silt_bpe_bos_id(const silt_bpe *b);

#endif

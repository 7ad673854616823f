/* wordpiece.h: BERT's WordPiece tokenizer, behaving like Hugging Face's BertNormalizer +
 * BertPreTokenizer + WordPiece (the "fast" tokenizer that tokenizer.json describes):
 *
 *   1. clean text: drop NUL, U+FFFD and control/format/unassigned characters (Cc Cf Co Cn,
 *      but not \t \n \r), turn whitespace into spaces;
 *   2. put spaces around CJK ideographs;
 *   3. when stripping accents (default: when lower-casing): NFD, drop Mn marks;
 *   4. lower-case;
 *   5. split on whitespace, and isolate each punctuation character (ASCII symbols and P*);
 *   6. each word: greedy longest-match-first against the vocabulary, continuation pieces
 *      carrying the "##" prefix; a word with no full cover, or longer than
 *      max_chars_per_word (100) characters, becomes [UNK].
 *
 * Invalid UTF-8 never fails: each bad byte reads as U+FFFD (which step 1 then drops).
 * Vocabularies come from vocab.txt, tokenizer.json (model.vocab) or GGUF metadata
 * (tokenizer.ggml.tokens, where llama.cpp marks word-initial tokens with a U+2581 prefix and
 * stores continuation tokens bare; they are converted back to the ## convention).
 *
 *   silt_wordpiece *wp = silt_wordpiece_from_hf_dir("/models/minilm", &err);
 *   silt_wordpiece_encode(wp, "Hello!", 6, 512, 1, &ids, &n_ids, &err);  // [CLS] hello ! [SEP]
 *
 * A tokenizer is immutable once built: any number of threads may use it at once. */
#ifndef SILT_WORDPIECE_H
#define SILT_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

typedef struct silt_gguf silt_gguf;
typedef struct silt_wordpiece silt_wordpiece;

typedef struct {
    int lowercase;          /* non-zero: lower-case (do_lower_case) */
    int strip_accents;      /* 1 strip, 0 keep, -1 follow lowercase (HF's None) */
    int handle_cjk;         /* non-zero: isolate CJK ideographs (tokenize_chinese_chars) */
    int clean_text;         /* non-zero: step 1 above */
    int max_chars_per_word; /* longer words become [UNK]; HF default 100 */
} silt_wordpiece_opts;

/* HF BertTokenizer defaults: lower-case, accents follow, CJK on, clean on, 100. */
silt_wordpiece_opts silt_wordpiece_default_opts(void);

/* Builds a tokenizer from tokens in ## convention (tokens[i] is id i, lens[i] bytes).
 * [UNK], [CLS], [SEP] and [PAD] must be in the vocabulary. */
silt_wordpiece *silt_wordpiece_new(const char *const *tokens, const size_t *lens, int n_tokens,
                                   const silt_wordpiece_opts *opts, char **err);

/* vocab.txt: one token per line, line number = id. */
silt_wordpiece *silt_wordpiece_from_vocab_txt(const char *path, const silt_wordpiece_opts *opts,
                                              char **err);

/* A Hugging Face model directory: tokenizer.json when present (WordPiece model with its
 * BertNormalizer settings), else vocab.txt with tokenizer_config.json's do_lower_case,
 * strip_accents and tokenize_chinese_chars. Other tokenizer types are a clear error. */
silt_wordpiece *silt_wordpiece_from_hf_dir(const char *dir, char **err);

/* GGUF metadata with tokenizer.ggml.model = "bert". llama.cpp always lower-cases BERT input;
 * silt lower-cases when the vocabulary has no upper-case tokens (true of every uncased
 * model), so a cased vocabulary keeps its case as in Hugging Face. */
silt_wordpiece *silt_wordpiece_from_gguf(const silt_gguf *g, char **err);

void silt_wordpiece_free(silt_wordpiece *wp);

/* Word pieces of text[0..len), no special tokens. At most limit ids are produced (limit < 0:
 * no limit); *complete is set to 0 when the text had more. *ids is malloc'd. */
int silt_wordpiece_tokenize(const silt_wordpiece *wp, const char *text, size_t len, int limit,
                            int32_t **ids, int *n_ids, int *complete, char **err);

/* [CLS] pieces [SEP] for a model whose window is max_tokens (special tokens included).
 * Longer texts are cut to max_tokens when truncate is non-zero, else it is an error that says
 * how long the window is. *ids is malloc'd. */
int silt_wordpiece_encode(const silt_wordpiece *wp, const char *text, size_t len,
                          int max_tokens, int truncate, int32_t **ids, int *n_ids, char **err);

int silt_wordpiece_vocab_size(const silt_wordpiece *wp);
/* NUL-terminated text of token id (## convention), or NULL when out of range. */
const char *silt_wordpiece_token(const silt_wordpiece *wp, int32_t id);
/* Id of token tok[0..len), or -1. */
int32_t silt_wordpiece_id(const silt_wordpiece *wp, const char *tok, size_t len);

int32_t silt_wordpiece_cls_id(const silt_wordpiece *wp);
int32_t silt_wordpiece_sep_id(const silt_wordpiece *wp);
int32_t silt_wordpiece_pad_id(const silt_wordpiece *wp);
int32_t silt_wordpiece_unk_id(const silt_wordpiece *wp);
const silt_wordpiece_opts *silt_wordpiece_opts_of(const silt_wordpiece *wp);

#endif

/* chunk.h: cutting a text into overlapping chunks of bounded size, on word boundaries.
 *
 *   silt_chunk_span *c; int n;
 *   silt_chunk_words(text, len, 128, 16, &c, &n, &err);             by whitespace words
 *   silt_chunk_tokens(text, len, 120, 20, count_fn, enc, &c, &n, &err);  by model tokens
 *
 * A word is a maximal run of bytes that are not ASCII whitespace (space, \t, \n, \v, \f,
 * \r). A chunk runs from the first byte of its first word to the last byte of its last word,
 * so chunks never start or end in whitespace; text with no word has no chunk.
 *
 * By tokens: each chunk is as many whole words as tokenize to at most max_tokens tokens
 * (count_fn gives a span's count, special tokens excluded), and the next chunk starts at the
 * earliest word such that the words it shares with the previous chunk tokenize to at most
 * overlap tokens. A single word longer than max_tokens tokens (a long URL, or CJK text with
 * no spaces) is cut at UTF-8 character boundaries the same way. Token counts are assumed to
 * grow with the span (true of tokenizers whose pieces never cross whitespace: WordPiece,
 * USE-Lite's unigram); every emitted chunk's count was checked by count_fn. */
#ifndef SILT_CHUNK_H
#define SILT_CHUNK_H

#include <stddef.h>

typedef struct {
    size_t start, end; /* byte offsets, end exclusive */
} silt_chunk_span;

/* Tokens in text[0..len), special tokens excluded; return any value > the limit in use
 * (e.g. INT_MAX) when the span is too long to count. */
typedef int (*silt_chunk_count_fn)(void *ctx, const char *text, size_t len);

/* Chunks of at most max_words words, consecutive chunks sharing overlap words.
 * Requires 0 <= overlap < max_words. *out is malloc'd (NULL when *n_out is 0). */
int silt_chunk_words(const char *text, size_t len, int max_words, int overlap,
                     silt_chunk_span **out, int *n_out, char **err);

/* Chunks of at most max_tokens tokens as counted by count, sharing overlap tokens.
 * Requires 0 <= overlap < max_tokens. */
int silt_chunk_tokens(const char *text, size_t len, int max_tokens, int overlap,
                      silt_chunk_count_fn count, void *ctx, silt_chunk_span **out, int *n_out,
                      char **err);

#endif

/* unigram.h: the Universal Sentence Encoder Lite tokenizer (use-lite.md §3).
 *
 * A unigram vocabulary (vocab.json: [[piece, score], ...], id = index) driven by the exact
 * Viterbi rule of the JavaScript reference, quirks included: NFKC, every U+0020 becomes
 * U+2581 and one U+2581 is prepended; a score of exactly 0.0 in the lattice means "unset";
 * ties go to the later (shorter) edge; scores are summed in double; ids 0..5 are never
 * matched; runs of unknown code points collapse to one id 0. This is NOT SentencePiece.
 *
 *   silt_unigram *u = silt_unigram_load(json_text, json_len, &err);
 *   int32_t *ids; int n;
 *   silt_unigram_encode(u, "hello world", 11, &ids, &n, &err);   ids = {2002, 102, 311}
 *
 * A loaded tokenizer is immutable: encode may be called from any number of threads. */
#ifndef SILT_UNIGRAM_H
#define SILT_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct silt_unigram silt_unigram;

/* Parses the vocab.json text. NULL and *err when it is not a list of [string, number|null]
 * pairs (null reads as score 0, as the reference does). */
silt_unigram *silt_unigram_load(const char *json, size_t json_len, char **err);
void silt_unigram_free(silt_unigram *u);

/* Tokenizes text[0..len) (any bytes: invalid UTF-8 sequences read as U+FFFD). The whole text
 * is tokenized, never cut. *ids is malloc'd (may be NULL when *n_ids is 0). 0 or -1 and *err
 * (only on out-of-memory). */
int silt_unigram_encode(const silt_unigram *u, const char *text, size_t len, int32_t **ids,
                        int *n_ids, char **err);

/* Vocabulary size (number of pairs in vocab.json). */
int silt_unigram_size(const silt_unigram *u);
/* UTF-8 text of piece id (reserved ids included), NULL when out of range. */
const char *silt_unigram_piece(const silt_unigram *u, int32_t id);
/* Id the tokenizer uses for the piece text tok[0..len) (for a duplicated piece, the id the
 * tokenizer emits), a reserved id 0..5 when tok is one of those strings, else -1. */
int32_t silt_unigram_id(const silt_unigram *u, const char *tok, size_t len);

#endif

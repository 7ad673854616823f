/* chunk.c: word- and token-bounded chunking (see chunk.h).
 *
 * Token mode finds each chunk's end by binary search over word counts (a whitespace word is
 * at least one token, so max_tokens words bound the search): about log2(max_tokens)
 * tokenizations of at most one chunk's text per chunk. */
#include "core/chunk.h"

#include <stdlib.h>

#include "core/err.h"

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

typedef struct {
    silt_chunk_span *v;
    int n, cap;
} span_list;

static int push(span_list *l, size_t start, size_t end, char **err) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        silt_chunk_span *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return silt_err(err, "out of memory");
        l->v = v, l->cap = cap;
    }
    l->v[l->n].start = start;
    l->v[l->n++].end = end;
    return 0;
}

/* The words of text as spans. */
static int split_words(const char *text, size_t len, span_list *w, char **err) {
    for (size_t i = 0; i < len;) {
        while (i < len && is_space((unsigned char)text[i])) i++;
        if (i == len) break;
        size_t s = i;
        while (i < len && !is_space((unsigned char)text[i])) i++;
        if (push(w, s, i, err)) return -1;
    }
    return 0;
}

static int check_sizes(int max, int overlap, const char *unit, char **err) {
    if (max <= 0) return silt_err(err, "max_tokens must be positive, got %d", max);
    if (overlap < 0 || overlap >= max)
        return silt_err(err, "overlap must be at least 0 and smaller than max_tokens (%d %s), "
                             "got %d", max, unit, overlap);
    return 0;
}

int silt_chunk_words(const char *text, size_t len, int max_words, int overlap,
                     silt_chunk_span **out, int *n_out, char **err) {
    *out = NULL, *n_out = 0;
    if (check_sizes(max_words, overlap, "words", err)) return -1;
    span_list w = {0}, c = {0};
    int rc = split_words(text, len, &w, err);
    for (int i = 0; rc == 0 && i < w.n;) {
        int k = w.n - i < max_words ? w.n - i : max_words;
        rc = push(&c, w.v[i].start, w.v[i + k - 1].end, err);
        if (i + k >= w.n) break;
        i += k - overlap;
    }
    free(w.v);
    if (rc) {
        free(c.v);
        return -1;
    }
    *out = c.v, *n_out = c.n;
    return 0;
}

typedef struct {
    const char *text;
    silt_chunk_count_fn count;
    void *ctx;
} counter;

static int count_span(const counter *k, size_t start, size_t end) {
    return k->count(k->ctx, k->text + start, end - start);
}

/* Cuts one word [ws, we) that is longer than max tokens at character boundaries. */
static int chunk_long_word(const counter *k, size_t ws, size_t we, int max, int overlap,
                           span_list *c, char **err) {
    /* Character starts inside the word, plus we itself. */
    span_list b = {0};
    int rc = 0;
    for (size_t i = ws; i < we && rc == 0; i++)
        if (((unsigned char)k->text[i] & 0xC0) != 0x80) rc = push(&b, i, i, err);
    if (rc == 0) rc = push(&b, we, we, err);
    int nb = b.n; /* boundary j is at b.v[j].start */
    for (int p = 0; rc == 0 && p < nb - 1;) {
        size_t pos = b.v[p].start;
        int end_j;
        if (count_span(k, pos, we) <= max) {
            end_j = nb - 1;
        } else {
            int lo = p, hi = nb - 1; /* lo fits (empty), hi does not */
            while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (count_span(k, pos, b.v[mid].start) <= max) lo = mid;
                else hi = mid;
            }
            end_j = lo;
        }
        if (end_j == p) {
            rc = silt_err(err, "the character at byte %zu alone is more than max_tokens (%d) "
                               "tokens", pos, max);
            break;
        }
        rc = push(c, pos, b.v[end_j].start, err);
        if (rc || end_j == nb - 1) break;
        int next = end_j;
        if (overlap > 0 && count_span(k, b.v[end_j - 1].start, b.v[end_j].start) <= overlap) {
            int lo = p, hi = end_j - 1; /* hi's tail fits in overlap; find the earliest */
            while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (count_span(k, b.v[mid].start, b.v[end_j].start) <= overlap) hi = mid;
                else lo = mid;
            }
            next = hi;
        }
        p = next > p ? next : p + 1;
    }
    free(b.v);
    return rc;
}

int silt_chunk_tokens(const char *text, size_t len, int max_tokens, int overlap,
                      silt_chunk_count_fn count, void *ctx, silt_chunk_span **out, int *n_out,
                      char **err) {
    *out = NULL, *n_out = 0;
    if (check_sizes(max_tokens, overlap, "tokens", err)) return -1;
    counter k = {text, count, ctx};
    span_list w = {0}, c = {0};
    int rc = split_words(text, len, &w, err);
    for (int i = 0; rc == 0 && i < w.n;) {
        if (count_span(&k, w.v[i].start, w.v[i].end) > max_tokens) {
            rc = chunk_long_word(&k, w.v[i].start, w.v[i].end, max_tokens, overlap, &c, err);
            i++;
            continue;
        }
        int hi = w.n - i < max_tokens ? w.n - i : max_tokens; /* words in the chunk */
        int n_words;
        if (count_span(&k, w.v[i].start, w.v[i + hi - 1].end) <= max_tokens) {
            n_words = hi;
        } else {
            int lo = 1; /* lo words fit, hi do not */
            while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (count_span(&k, w.v[i].start, w.v[i + mid - 1].end) <= max_tokens) lo = mid;
                else hi = mid;
            }
            n_words = lo;
        }
        int last = i + n_words - 1;
        rc = push(&c, w.v[i].start, w.v[last].end, err);
        if (rc || last == w.n - 1) break;
        int next = last + 1;
        if (overlap > 0 && last > i && count_span(&k, w.v[last].start, w.v[last].end) <= overlap) {
            int lo = i, hi2 = last; /* words hi2..last fit in overlap; lo..last do not (or lo=i) */
            while (hi2 - lo > 1) {
                int mid = lo + (hi2 - lo) / 2;
                if (count_span(&k, w.v[mid].start, w.v[last].end) <= overlap) hi2 = mid;
                else lo = mid;
            }
            next = hi2;
        }
        i = next > i ? next : i + 1;
    }
    free(w.v);
    if (rc) {
        free(c.v);
        return -1;
    }
    *out = c.v, *n_out = c.n;
    return 0;
}

/* unigram.c: the USE-Lite unigram tokenizer (see unigram.h and use-lite.md §3).
 *
 * Pieces live in one open-addressing hash table keyed by their UTF-8 bytes. Every prefix
 * of every matchable piece is in the table too (as a prefix-only entry), so the lattice
 * walk from a position stops as soon as the text read so far begins no piece: the table
 * works as a trie without the pointers. */
#include "core/unigram.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"

/* Ids 0..5 (U+FFFD, <s>, </s>, extra_token_id_1..3) are reserved: never matched. */
#define UNIGRAM_N_RESERVED 6
#define UNIGRAM_UNK_ID 0
#define UNIGRAM_MAX_PIECES 1000000

typedef struct {
    const char *key;  /* UTF-8 bytes (a piece or a prefix of one); NULL = empty slot */
    uint32_t key_len; /* bytes */
    int32_t id;       /* piece id, or -1 when the key is only a prefix of pieces */
    double score;     /* log-probability, double as in JavaScript */
} slot;

struct silt_unigram {
    int n_pieces;
    char **pieces;   /* pieces[id]: NUL-terminated UTF-8, owned */
    slot *table;
    uint64_t mask;   /* table size - 1 (power of two) */
    int max_cp;      /* longest matchable piece, in code points */
};

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static inline uint64_t fnv_add(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return h;
}

/* Slot holding key (hash h), or the empty slot where it belongs. */
static slot *find_slot(const silt_unigram *u, uint64_t h, const char *key, size_t len) {
    for (uint64_t i = h & u->mask;; i = (i + 1) & u->mask) {
        slot *s = &u->table[i];
        if (!s->key || (s->key_len == len && memcmp(s->key, key, len) == 0)) return s;
    }
}

/* Byte length of the UTF-8 sequence starting with lead byte b (1 for stray bytes). */
static inline size_t seq_len(unsigned char b) {
    return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* Number of prefixes the table gets for a piece: one per sequence, stepping exactly as the
 * insertion does (a stray continuation byte is a step of its own; counting code points
 * instead undersized the table for such pieces, and probing a full table never ends). */
static size_t step_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t at = 0; at < n; c++) {
        size_t step = seq_len((unsigned char)s[at]);
        at += step > n - at ? n - at : step;
    }
    return c;
}

void silt_unigram_free(silt_unigram *u) {
    if (!u) return;
    if (u->pieces)
        for (int i = 0; i < u->n_pieces; i++) free(u->pieces[i]);
    free(u->pieces);
    free(u->table);
    free(u);
}

silt_unigram *silt_unigram_load(const char *json, size_t json_len, char **err) {
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    silt_unigram *u = calloc(1, sizeof *u);
    if (!u) {
        silt_err(err, "out of memory");
        goto fail;
    }
    if (!root || !cJSON_IsArray(root)) {
        silt_err(err, "vocabulary is not a JSON list of [piece, score] pairs");
        goto fail;
    }
    const int n = cJSON_GetArraySize(root);
    if (n <= UNIGRAM_N_RESERVED || n > UNIGRAM_MAX_PIECES) {
        silt_err(err, "vocabulary has %d entries, expected %d to %d", n,
                 UNIGRAM_N_RESERVED + 1, UNIGRAM_MAX_PIECES);
        goto fail;
    }
    u->pieces = calloc((size_t)n, sizeof *u->pieces);
    double *scores = u->pieces ? malloc((size_t)n * sizeof *scores) : NULL;
    if (!scores) {
        silt_err(err, "out of memory");
        goto fail;
    }
    u->n_pieces = n;
    size_t total_cp = 0;
    int i = 0;
    for (const cJSON *e = root->child; e; e = e->next, i++) {
        const cJSON *p = cJSON_GetArrayItem(e, 0), *s = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(p) ||
            !(cJSON_IsNumber(s) || cJSON_IsNull(s))) {
            free(scores);
            silt_err(err, "vocabulary entry %d is not a [string, number] pair", i);
            goto fail;
        }
        /* The reference adds the score with `+`, where null counts as 0. */
        scores[i] = cJSON_IsNumber(s) ? s->valuedouble : 0.0;
        u->pieces[i] = strdup(p->valuestring);
        if (!u->pieces[i]) {
            free(scores);
            silt_err(err, "out of memory");
            goto fail;
        }
        if (i >= UNIGRAM_N_RESERVED) total_cp += step_count(p->valuestring, strlen(p->valuestring));
    }
    uint64_t cap = 16;
    while (cap < 2 * total_cp + 16) cap <<= 1;
    u->table = calloc(cap, sizeof *u->table);
    if (!u->table) {
        free(scores);
        silt_err(err, "out of memory");
        goto fail;
    }
    u->mask = cap - 1;
    for (int id = UNIGRAM_N_RESERVED; id < n; id++) {
        const char *p = u->pieces[id];
        const size_t len = strlen(p);
        if (len == 0) continue; /* an empty piece matches nothing */
        uint64_t h = FNV_OFFSET;
        size_t at = 0;
        int ncp = 0;
        while (at < len) {
            size_t step = seq_len((unsigned char)p[at]);
            if (step > len - at) step = len - at;
            h = fnv_add(h, p + at, step);
            at += step;
            ncp++;
            slot *sl = find_slot(u, h, p, at);
            if (!sl->key) {
                sl->key = p;
                sl->key_len = (uint32_t)at;
                sl->id = -1;
            }
            if (at == len) {
                /* A later duplicate overwrites the earlier one, as in the reference. */
                sl->id = id;
                sl->score = scores[id];
            }
        }
        if (ncp > u->max_cp) u->max_cp = ncp;
    }
    free(scores);
    cJSON_Delete(root);
    return u;
fail:
    cJSON_Delete(root);
    silt_unigram_free(u);
    return NULL;
}

int silt_unigram_size(const silt_unigram *u) { return u->n_pieces; }

const char *silt_unigram_piece(const silt_unigram *u, int32_t id) {
    return id >= 0 && id < u->n_pieces ? u->pieces[id] : NULL;
}

int32_t silt_unigram_id(const silt_unigram *u, const char *tok, size_t len) {
    const slot *s = find_slot(u, fnv_add(FNV_OFFSET, tok, len), tok, len);
    if (s->key && s->id >= 0) return s->id;
    for (int id = 0; id < UNIGRAM_N_RESERVED; id++)
        if (strlen(u->pieces[id]) == len && memcmp(u->pieces[id], tok, len) == 0) return id;
    return -1;
}

/* ---- text preparation ------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode Table 3-7), or 0 when it is
 * ill-formed; then *bad is the length of its maximal ill-formed subpart (>= 1), the unit a
 * WHATWG decoder replaces by one U+FFFD. */
static size_t utf8_valid_len(const unsigned char *s, size_t n, size_t *bad) {
    const unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) need = 2, lo = 0xA0;
    else if (b == 0xED) need = 2, hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF) need = 2;
    else if (b == 0xF0) need = 3, lo = 0x90;
    else if (b == 0xF4) need = 3, hi = 0x8F;
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else {
        *bad = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (k >= n || s[k] < l || s[k] > h) {
            *bad = k;
            return 0;
        }
    }
    return need + 1;
}

/* Copy of text with each ill-formed sequence replaced by U+FFFD (malloc'd, *out_len set);
 * NULL with *out_len = 0 and *oom = 0 when text is already well-formed (no copy needed). */
static char *repair_utf8(const char *text, size_t len, size_t *out_len, int *oom) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, bad = 0;
    *oom = 0;
    while (i < len) {
        size_t v = utf8_valid_len(s + i, len - i, &bad);
        if (!v) break;
        i += v;
    }
    if (i == len) return NULL;
    /* Each replaced unit is >= 1 byte and becomes 3 bytes. */
    char *out = malloc(len * 3 + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    size_t o = i;
    memcpy(out, text, i);
    while (i < len) {
        size_t v = utf8_valid_len(s + i, len - i, &bad);
        if (v) {
            memcpy(out + o, text + i, v);
            o += v;
            i += v;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* P = U+2581 + NFKC(text) with each U+0020 replaced by U+2581 (malloc'd, *p_len bytes), and
 * the byte offset of every code point: off[0..*n_cp] (malloc'd). *n_cp = 0 (and nothing
 * allocated) when NFKC(text) is empty. */
static int prepare(const char *text, size_t len, char **p_out, size_t *p_len, size_t **off_out,
                   int *n_cp, char **err) {
    *p_out = NULL;
    *off_out = NULL;
    *n_cp = 0;
    if (len == 0) return 0;
    int oom;
    size_t fixed_len = 0;
    char *fixed = repair_utf8(text, len, &fixed_len, &oom);
    if (oom) return silt_err(err, "out of memory tokenizing %zu bytes", len);
    const char *src = fixed ? fixed : text;
    const size_t src_len = fixed ? fixed_len : len;
    int ascii = 1;
    for (size_t i = 0; i < src_len && ascii; i++) ascii = (unsigned char)src[i] < 0x80;
    /* NFKC leaves ASCII unchanged, so skip utf8proc for the common case. */
    utf8proc_uint8_t *nf = NULL;
    const char *norm = src;
    size_t norm_len = src_len;
    if (!ascii) {
        utf8proc_ssize_t r =
            utf8proc_map((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)src_len, &nf,
                         UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
        if (r < 0) {
            free(fixed);
            return silt_err(err, "NFKC normalisation failed: %s", utf8proc_errmsg(r));
        }
        norm = (const char *)nf;
        norm_len = (size_t)r;
    }
    if (norm_len == 0) {
        free(nf);
        free(fixed);
        return 0;
    }
    size_t spaces = 0;
    for (size_t i = 0; i < norm_len; i++) spaces += norm[i] == ' ';
    /* U+2581 is 3 bytes: one in front, and each space grows from 1 to 3 bytes. */
    const size_t plen = 3 + norm_len + 2 * spaces;
    char *p = malloc(plen + 1);
    size_t *off = malloc((plen + 2) * sizeof *off);
    if (!p || !off) {
        free(p);
        free(off);
        free(nf);
        free(fixed);
        return silt_err(err, "out of memory tokenizing %zu bytes", len);
    }
    size_t o = 0;
    memcpy(p, "\xE2\x96\x81", 3);
    o = 3;
    for (size_t i = 0; i < norm_len; i++) {
        if (norm[i] == ' ') {
            memcpy(p + o, "\xE2\x96\x81", 3);
            o += 3;
        } else {
            p[o++] = norm[i];
        }
    }
    p[o] = '\0';
    free(nf);
    free(fixed);
    int n = 0;
    for (size_t i = 0; i < plen; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80) off[n++] = i;
    off[n] = plen;
    *p_out = p;
    *p_len = plen;
    *off_out = off;
    *n_cp = n;
    return 0;
}

/* ---- lattice ------------------------------------------------------------------------------ */

/* The reference's acceptance rule: 0.0 means "no candidate yet"; ties go to the later edge. */
static inline void relax(double *best, int32_t *tok, int *tlen, int s, int e, double score,
                         int32_t id) {
    const double cand = score + best[s];
    if (best[e] == 0.0 || cand >= best[e]) {
        best[e] = cand;
        tok[e] = id;
        tlen[e] = e - s;
    }
}

int silt_unigram_encode(const silt_unigram *u, const char *text, size_t len, int32_t **ids,
                        int *n_ids, char **err) {
    *ids = NULL;
    *n_ids = 0;
    char *p = NULL;
    size_t plen = 0, *off = NULL;
    int n = 0;
    if (prepare(text, len, &p, &plen, &off, &n, err) != 0) return -1;
    if (n == 0) return 0;
    double *best = calloc((size_t)n + 1, sizeof *best);
    int32_t *tok = calloc((size_t)n + 1, sizeof *tok);
    int *tlen = malloc(((size_t)n + 1) * sizeof *tlen);
    int32_t *out = malloc((size_t)n * sizeof *out);
    if (!best || !tok || !tlen || !out) {
        free(best);
        free(tok);
        free(tlen);
        free(out);
        free(p);
        free(off);
        return silt_err(err, "out of memory tokenizing %zu bytes", len);
    }
    for (int e = 0; e <= n; e++) tlen[e] = 1;
    /* Edges are relaxed start by start and, per start, shortest first. For any end e that
     * visits its edges in increasing start (longest piece first), the order the rule needs,
     * and best[s] is final when start s is reached. */
    for (int s = 0; s < n; s++) {
        int found = 0;
        uint64_t h = FNV_OFFSET;
        const int max_l = n - s < u->max_cp ? n - s : u->max_cp;
        for (int l = 1; l <= max_l; l++) {
            const size_t b0 = off[s + l - 1], b1 = off[s + l];
            h = fnv_add(h, p + b0, b1 - b0);
            const slot *sl = find_slot(u, h, p + off[s], b1 - off[s]);
            if (!sl->key) break; /* no piece begins with c[s..s+l) */
            if (sl->id >= 0) {
                found = 1;
                relax(best, tok, tlen, s, s + l, sl->score, sl->id);
            }
        }
        if (!found) relax(best, tok, tlen, s, s + 1, 0.0, UNIGRAM_UNK_ID);
    }
    /* Backtrack (ids come out last first), then reverse while collapsing unknown runs. */
    int m = 0;
    for (int e = n; e > 0; e -= tlen[e]) out[m++] = tok[e];
    for (int i = 0, j = m - 1; i < j; i++, j--) {
        const int32_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    int k = 0;
    for (int i = 0; i < m; i++) {
        if (out[i] == UNIGRAM_UNK_ID && k > 0 && out[k - 1] == UNIGRAM_UNK_ID) continue;
        out[k++] = out[i];
    }
    free(best);
    free(tok);
    free(tlen);
    free(p);
    free(off);
    *ids = out;
    *n_ids = k;
    return 0;
}

/* bpe.c: byte-level BPE tokenizer (see bpe.h for the encoding steps and their sources).
 *
 * Lookups are hash tables: vocabulary string -> id, and (left id, right id) -> (rank, merged
 * id), so a merge step costs O(1) and a word of m bytes costs O(m log m) through a heap of
 * candidate pairs, never a scan of the merge list. */
#include "core/bpe.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"

/* Largest vocabulary accepted: a guard against absurd ids in a corrupt file. */
#define BPE_MAX_IDS (1 << 24)

typedef struct {
    int32_t id;
    char *text;  /* as matched in the input text (raw UTF-8), owned */
    size_t len;
    int special;    /* control token: matched only with parse_special */
    int normalized; /* matched after normalisation (else on the raw text) */
} bpe_added;

typedef struct {
    const char *s; /* NULL marks an empty slot; points into tok[] or aliases[] */
    uint32_t len;
    int32_t id;
} str_slot;

typedef struct {
    uint64_t key; /* left << 32 | right; UINT64_MAX marks an empty slot */
    int32_t rank;
    int32_t new_id;
} merge_slot;

struct silt_bpe {
    int n_ids;
    char **tok;         /* tok[id]: vocabulary string, owned, NULL for an unused id */
    uint32_t *tok_len;
    char **aliases;     /* extra owned spellings mapped in the string table */
    int n_aliases;
    str_slot *strs;     /* string -> id, open addressing, capacity str_cap (power of 2) */
    size_t str_cap;
    merge_slot *merges; /* pair -> rank, capacity merge_cap (power of 2) */
    size_t merge_cap;
    int32_t byte_id[256]; /* id of the symbol of each byte, -1 when not in the vocabulary */
    bpe_added *added;     /* sorted by first byte, then longest first */
    int n_added;
    int added_start[257]; /* added[added_start[b] .. added_start[b+1]) start with byte b */
    int nfc;
    int add_prefix_space;
    int ignore_merges; /* a piece that is itself in the vocabulary is not split */
    int32_t bos_id, eos_id;
};

/* ---- the byte <-> symbol map of GPT-2 ------------------------------------------------- */

/* Code point that stands for byte b in vocabulary strings: printable Latin-1 bytes stand for
 * themselves, the other 68 are moved to U+0100.. in byte order (GPT-2's bytes_to_unicode). */
static uint32_t byte_symbol(unsigned b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    return 256 + n;
}

/* Writes the byte-level spelling of s[0..n) into out (room for 2n bytes + NUL); returns the
 * length. Every symbol is below U+0800, so 1 or 2 UTF-8 bytes. */
static size_t byte_level_spelling(const unsigned char *s, size_t n, const uint32_t sym[256],
                                  char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = sym[s[i]];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = '\0';
    return o;
}

static void symbol_table(uint32_t sym[256]) {
    for (unsigned b = 0; b < 256; b++) sym[b] = byte_symbol(b);
}

/* ---- hash tables -------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL; /* splitmix64 finaliser */
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

static int32_t str_find(const silt_bpe *b, const char *s, size_t n) {
    if (!b->strs || n > UINT32_MAX) return -1;
    size_t mask = b->str_cap - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        const str_slot *e = &b->strs[i];
        if (!e->s) return -1;
        if (e->len == n && memcmp(e->s, s, n) == 0) return e->id;
    }
}

/* Maps s (not copied: it must live as long as b) to id unless s is already mapped. */
static void str_put(silt_bpe *b, const char *s, size_t n, int32_t id) {
    size_t mask = b->str_cap - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        str_slot *e = &b->strs[i];
        if (!e->s) {
            e->s = s;
            e->len = (uint32_t)n;
            e->id = id;
            return;
        }
        if (e->len == n && memcmp(e->s, s, n) == 0) return;
    }
}

static const merge_slot *merge_find(const silt_bpe *b, int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = b->merge_cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        const merge_slot *e = &b->merges[i];
        if (e->key == UINT64_MAX) return NULL;
        if (e->key == key) return e;
    }
}

/* Records merge (left, right) -> new_id with rank unless the pair already has a (lower)
 * rank: Hugging Face keeps the first occurrence of a repeated merge line too. */
static void merge_put(silt_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t new_id) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = b->merge_cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        merge_slot *e = &b->merges[i];
        if (e->key == key) return;
        if (e->key == UINT64_MAX) {
            e->key = key;
            e->rank = rank;
            e->new_id = new_id;
            return;
        }
    }
}

/* ---- building ------------------------------------------------------------------------ */

static silt_bpe *bpe_new(int n_ids, char **err) {
    silt_bpe *b = calloc(1, sizeof *b);
    if (b) {
        b->n_ids = n_ids;
        b->tok = calloc((size_t)n_ids, sizeof *b->tok);
        b->tok_len = calloc((size_t)n_ids, sizeof *b->tok_len);
        b->bos_id = b->eos_id = -1;
    }
    if (!b || !b->tok || !b->tok_len) {
        silt_bpe_free(b);
        silt_err(err, "out of memory loading a %d-token vocabulary", n_ids);
        return NULL;
    }
    return b;
}

static int set_token(silt_bpe *b, int32_t id, const char *s, size_t n, char **err) {
    char *c = malloc(n + 1);
    if (!c) return silt_err(err, "out of memory loading the vocabulary");
    memcpy(c, s, n);
    c[n] = '\0';
    free(b->tok[id]);
    b->tok[id] = c;
    b->tok_len[id] = (uint32_t)n;
    return 0;
}

/* Fills the string table with every token plus n_extra more slots of room. */
static int build_strings(silt_bpe *b, size_t n_extra, char **err) {
    b->str_cap = pow2_at_least(((size_t)b->n_ids + n_extra) * 2);
    b->strs = calloc(b->str_cap, sizeof *b->strs);
    if (!b->strs) return silt_err(err, "out of memory loading the vocabulary");
    for (int32_t id = 0; id < b->n_ids; id++)
        if (b->tok[id]) str_put(b, b->tok[id], b->tok_len[id], id);
    return 0;
}

static int add_alias(silt_bpe *b, const char *s, size_t n, int32_t id, char **err) {
    if (str_find(b, s, n) >= 0) return 0;
    char **a = realloc(b->aliases, (size_t)(b->n_aliases + 1) * sizeof *a);
    if (!a) return silt_err(err, "out of memory loading the vocabulary");
    b->aliases = a;
    char *c = malloc(n + 1);
    if (!c) return silt_err(err, "out of memory loading the vocabulary");
    memcpy(c, s, n);
    c[n] = '\0';
    a[b->n_aliases++] = c;
    str_put(b, c, n, id);
    return 0;
}

static int cmp_added(const void *pa, const void *pb) {
    const bpe_added *a = pa, *b = pb;
    unsigned ca = (unsigned char)a->text[0], cb = (unsigned char)b->text[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void index_added(silt_bpe *b) {
    if (b->n_added) qsort(b->added, (size_t)b->n_added, sizeof *b->added, cmp_added);
    int k = 0;
    for (int c = 0; c <= 256; c++) {
        while (c < 256 && k < b->n_added && (unsigned char)b->added[k].text[0] < c) k++;
        b->added_start[c] = c == 256 ? b->n_added : k;
    }
}

static int push_added(silt_bpe *b, int32_t id, const char *s, size_t n, int special,
                      int normalized, char **err) {
    if (n == 0) return 0; /* an empty added token can never match */
    bpe_added *a = realloc(b->added, (size_t)(b->n_added + 1) * sizeof *a);
    if (!a) return silt_err(err, "out of memory loading the added tokens");
    b->added = a;
    char *c = malloc(n + 1);
    if (!c) return silt_err(err, "out of memory loading the added tokens");
    memcpy(c, s, n);
    c[n] = '\0';
    a[b->n_added++] = (bpe_added){id, c, n, special, normalized};
    return 0;
}

/* Looks up the byte symbols once so that encoding never touches strings. */
static void resolve_bytes(silt_bpe *b) {
    uint32_t sym[256];
    symbol_table(sym);
    for (unsigned c = 0; c < 256; c++) {
        char s[3];
        unsigned char byte = (unsigned char)c;
        size_t n = byte_level_spelling(&byte, 1, sym, s);
        b->byte_id[c] = str_find(b, s, n);
    }
}

/* Adds merge number rank, given as its two halves; the merged string must be a token too.
 * what names the source for messages. */
static int add_merge(silt_bpe *b, const char *l, size_t ln, const char *r, size_t rn,
                     int32_t rank, const char *what, char **err) {
    int32_t li = str_find(b, l, ln), ri = str_find(b, r, rn);
    char small[256];
    int32_t ni = -1;
    if (li >= 0 && ri >= 0) {
        char *buf = ln + rn <= sizeof small ? small : malloc(ln + rn);
        if (!buf) return silt_err(err, "out of memory loading the merges");
        memcpy(buf, l, ln);
        memcpy(buf + ln, r, rn);
        ni = str_find(b, buf, ln + rn);
        if (buf != small) free(buf);
    }
    if (li < 0 || ri < 0 || ni < 0)
        return silt_err(err, "%s: merge %d (\"%.*s\" \"%.*s\") uses a token that is not in the "
                             "vocabulary", what, (int)rank, (int)(ln > 60 ? 60 : ln), l,
                        (int)(rn > 60 ? 60 : rn), r);
    merge_put(b, li, ri, rank, ni);
    return 0;
}

/* Splits merge line "left right" at its one space. */
static int split_merge_line(const char *s, size_t n, size_t *sp) {
    const char *p = memchr(s, ' ', n);
    if (!p || p == s || p == s + n - 1 || memchr(p + 1, ' ', n - (size_t)(p - s) - 1)) return -1;
    *sp = (size_t)(p - s);
    return 0;
}

static int alloc_merges(silt_bpe *b, size_t n, char **err) {
    b->merge_cap = pow2_at_least(n * 2);
    b->merges = malloc(b->merge_cap * sizeof *b->merges);
    if (!b->merges) return silt_err(err, "out of memory loading %zu merges", n);
    for (size_t i = 0; i < b->merge_cap; i++) b->merges[i].key = UINT64_MAX;
    return 0;
}

/* ---- tokenizer.json ------------------------------------------------------------------ */

static int json_flag(const cJSON *o, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

static const char *json_type(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* normalizer: null, NFC, or a Sequence of NFC only. */
static int parse_normalizer(silt_bpe *b, const cJSON *n, char **err) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *t = json_type(n);
    if (t && strcmp(t, "NFC") == 0) {
        b->nfc = 1;
        return 0;
    }
    if (t && strcmp(t, "Sequence") == 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(n, "normalizers")) {
            if (parse_normalizer(b, it, err)) return -1;
        }
        return 0;
    }
    return silt_err(err, "tokenizer.json: normalizer \"%s\" is not supported (silt's byte-level "
                         "BPE supports none or NFC)", t ? t : "?");
}

/* pre_tokenizer: ByteLevel with its GPT-2 pattern, alone or as the only step of a Sequence. */
static int parse_pre_tokenizer(silt_bpe *b, const cJSON *p, char **err) {
    const char *t = p ? json_type(p) : NULL;
    if (t && strcmp(t, "Sequence") == 0) {
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (cJSON_GetArraySize(steps) == 1) return parse_pre_tokenizer(b, steps->child, err);
    }
    if (!t || strcmp(t, "ByteLevel") != 0)
        return silt_err(err, "tokenizer.json: pre_tokenizer \"%s\" is not supported (silt "
                             "implements the GPT-2 ByteLevel pre-tokenizer)", t ? t : "none");
    if (!json_flag(p, "use_regex", 1))
        return silt_err(err, "tokenizer.json: ByteLevel pre_tokenizer with use_regex false is "
                             "not supported");
    b->add_prefix_space = json_flag(p, "add_prefix_space", 0);
    return 0;
}

static int check_model(const cJSON *model, char **err) {
    const char *t = json_type(model);
    if (t && strcmp(t, "BPE") != 0)
        return silt_err(err, "tokenizer.json: model type \"%s\" is not BPE", t);
    const char *fields[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, fields[i]);
        if (cJSON_IsString(v) && v->valuestring[0])
            return silt_err(err, "tokenizer.json: model.%s \"%s\" is not supported by byte-level "
                                 "BPE", fields[i], v->valuestring);
    }
    return 0;
}

static int json_id(const cJSON *v, int32_t *id) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= BPE_MAX_IDS ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return -1;
    *id = (int32_t)v->valuedouble;
    return 0;
}

silt_bpe *silt_bpe_from_tokenizer_json(const char *json, size_t json_len, char **err) {
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    silt_bpe *b = NULL;
    if (!root || !cJSON_IsObject(root)) {
        silt_err(err, "tokenizer.json is not valid JSON");
        goto fail;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
        silt_err(err, "tokenizer.json: expected model.vocab (an object) and model.merges (an "
                      "array) of a BPE model");
        goto fail;
    }
    if (check_model(model, err)) goto fail;
    int32_t max_id = -1, id;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (json_id(it, &id)) {
            silt_err(err, "tokenizer.json: vocabulary entry \"%.60s\" has no valid id", it->string);
            goto fail;
        }
        if (id > max_id) max_id = id;
    }
    cJSON_ArrayForEach(it, added) {
        if (json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "content"))) {
            silt_err(err, "tokenizer.json: added_tokens entry without a valid id and content");
            goto fail;
        }
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) {
        silt_err(err, "tokenizer.json: the vocabulary is empty");
        goto fail;
    }
    b = bpe_new(max_id + 1, err);
    if (!b) goto fail;
    cJSON_ArrayForEach(it, vocab) {
        json_id(it, &id);
        if (b->tok[id]) {
            silt_err(err, "tokenizer.json: id %d is given to both \"%.60s\" and \"%.60s\"", (int)id,
                     b->tok[id], it->string);
            goto fail;
        }
        if (set_token(b, id, it->string, strlen(it->string), err)) goto fail;
    }
    /* An added token not in model.vocab still takes its id (Hugging Face appends it). */
    cJSON_ArrayForEach(it, added) {
        json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id);
        const char *c = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
        if (!b->tok[id] && set_token(b, id, c, strlen(c), err)) goto fail;
    }
    if (build_strings(b, (size_t)cJSON_GetArraySize(added), err)) goto fail;
    cJSON_ArrayForEach(it, added) {
        json_id(cJSON_GetObjectItemCaseSensitive(it, "id"), &id);
        const char *c = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
        int special = json_flag(it, "special", 0);
        if (!special && (json_flag(it, "lstrip", 0) || json_flag(it, "rstrip", 0) ||
                         json_flag(it, "single_word", 0))) {
            silt_err(err, "tokenizer.json: added token \"%.60s\" uses lstrip/rstrip/single_word, "
                          "which silt does not implement", c);
            goto fail;
        }
        if (add_alias(b, c, strlen(c), id, err) ||
            push_added(b, id, c, strlen(c), special, json_flag(it, "normalized", !special), err))
            goto fail;
    }
    index_added(b);
    resolve_bytes(b);
    if (parse_normalizer(b, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), err) ||
        parse_pre_tokenizer(b, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), err))
        goto fail;
    b->ignore_merges = json_flag(model, "ignore_merges", 0);
    if (alloc_merges(b, (size_t)cJSON_GetArraySize(merges), err)) goto fail;
    int32_t rank = 0;
    cJSON_ArrayForEach(it, merges) {
        /* Older files write "left right", newer ones ["left", "right"]. */
        if (cJSON_IsString(it)) {
            size_t n = strlen(it->valuestring), sp;
            if (split_merge_line(it->valuestring, n, &sp)) {
                silt_err(err, "tokenizer.json: merge %d \"%.60s\" is not two tokens separated by "
                              "one space", (int)rank, it->valuestring);
                goto fail;
            }
            if (add_merge(b, it->valuestring, sp, it->valuestring + sp + 1, n - sp - 1, rank,
                          "tokenizer.json", err))
                goto fail;
        } else if (cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            const char *l = it->child->valuestring, *r = it->child->next->valuestring;
            if (add_merge(b, l, strlen(l), r, strlen(r), rank, "tokenizer.json", err)) goto fail;
        } else {
            silt_err(err, "tokenizer.json: merge %d is neither \"a b\" nor [\"a\", \"b\"]",
                     (int)rank);
            goto fail;
        }
        rank++;
    }
    cJSON_Delete(root);
    return b;
fail:
    cJSON_Delete(root);
    silt_bpe_free(b);
    return NULL;
}

/* ---- GGUF ---------------------------------------------------------------------------- */

enum { GGUF_TOKEN_CONTROL = 3, GGUF_TOKEN_USER_DEFINED = 4 };

/* 1 when s is "[PAD<id>]", the filler llama.cpp's converter writes for unused ids. */
static int is_pad_filler(const char *s, size_t n, int32_t id) {
    char buf[32];
    int k = snprintf(buf, sizeof buf, "[PAD%d]", (int)id);
    return (size_t)k == n && memcmp(buf, s, n) == 0;
}

silt_bpe *silt_bpe_from_gguf(const silt_gguf *g, int nfc, char **err) {
    const char *model;
    size_t model_len;
    if (silt_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, err)) return NULL;
    if (model_len != 4 || memcmp(model, "gpt2", 4) != 0) {
        silt_err(err, "GGUF tokenizer.ggml.model is \"%.*s\", expected \"gpt2\" (byte-level BPE)",
                 (int)(model_len > 40 ? 40 : model_len), model);
        return NULL;
    }
    const silt_gguf_kv *toks = silt_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const silt_gguf_kv *types = silt_gguf_find_kv(g, "tokenizer.ggml.token_type");
    const silt_gguf_kv *merges = silt_gguf_find_kv(g, "tokenizer.ggml.merges");
    if (!toks || toks->type != SILT_GGUF_ARRAY || toks->arr_type != SILT_GGUF_STRING ||
        toks->n == 0 || toks->n > BPE_MAX_IDS) {
        silt_err(err, "GGUF: tokenizer.ggml.tokens is missing or not a non-empty string array");
        return NULL;
    }
    if (!merges || merges->type != SILT_GGUF_ARRAY || merges->arr_type != SILT_GGUF_STRING) {
        silt_err(err, "GGUF: tokenizer.ggml.merges is missing or not a string array");
        return NULL;
    }
    if (types && (types->type != SILT_GGUF_ARRAY || types->n != toks->n)) {
        silt_err(err, "GGUF: tokenizer.ggml.token_type has %llu entries for %llu tokens",
                 (unsigned long long)types->n, (unsigned long long)toks->n);
        return NULL;
    }
    silt_bpe *b = bpe_new((int)toks->n, err);
    if (!b) return NULL;
    b->nfc = nfc;
    for (int32_t id = 0; id < b->n_ids; id++) {
        size_t n;
        const char *s = silt_gguf_arr_str(toks, (uint64_t)id, &n);
        if (!s || n > UINT32_MAX) {
            silt_err(err, "GGUF: tokenizer.ggml.tokens[%d] is not a string", (int)id);
            goto fail;
        }
        if (set_token(b, id, s, n, err)) goto fail;
    }
    if (build_strings(b, toks->n, err)) goto fail;
    uint32_t sym[256];
    symbol_table(sym);
    for (int32_t id = 0; types && id < b->n_ids; id++) {
        int64_t t = silt_gguf_arr_int(types, (uint64_t)id);
        const char *s = b->tok[id];
        size_t n = b->tok_len[id];
        if (t == GGUF_TOKEN_CONTROL) {
            if (push_added(b, id, s, n, 1, 0, err)) goto fail;
        } else if (t == GGUF_TOKEN_USER_DEFINED && !is_pad_filler(s, n, id)) {
            /* The converter wrote the added token's text; BPE merges produce its byte-level
             * spelling, which must map to the same id. */
            char *spell = malloc(2 * n + 1);
            if (!spell) {
                silt_err(err, "out of memory loading the vocabulary");
                goto fail;
            }
            size_t sn = byte_level_spelling((const unsigned char *)s, n, sym, spell);
            int rc = add_alias(b, spell, sn, id, err);
            free(spell);
            if (rc || push_added(b, id, s, n, 0, 1, err)) goto fail;
        }
    }
    index_added(b);
    resolve_bytes(b);
    if (alloc_merges(b, merges->n, err)) goto fail;
    for (uint64_t i = 0; i < merges->n; i++) {
        size_t n, sp;
        const char *s = silt_gguf_arr_str(merges, i, &n);
        if (!s || split_merge_line(s, n, &sp)) {
            silt_err(err, "GGUF: tokenizer.ggml.merges[%llu] is not two tokens separated by one "
                          "space", (unsigned long long)i);
            goto fail;
        }
        if (add_merge(b, s, sp, s + sp + 1, n - sp - 1, (int32_t)i, "GGUF", err)) goto fail;
    }
    int64_t v;
    if (silt_gguf_find_kv(g, "tokenizer.ggml.eos_token_id") &&
        silt_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &v, NULL) == 0 && v >= 0 &&
        v < b->n_ids)
        b->eos_id = (int32_t)v;
    if (silt_gguf_find_kv(g, "tokenizer.ggml.bos_token_id") &&
        silt_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v, NULL) == 0 && v >= 0 &&
        v < b->n_ids)
        b->bos_id = (int32_t)v;
    return b;
fail:
    silt_bpe_free(b);
    return NULL;
}

void silt_bpe_free(silt_bpe *b) {
    if (!b) return;
    for (int i = 0; b->tok && i < b->n_ids; i++) free(b->tok[i]);
    for (int i = 0; i < b->n_aliases; i++) free(b->aliases[i]);
    for (int i = 0; i < b->n_added; i++) free(b->added[i].text);
    free(b->tok);
    free(b->tok_len);
    free(b->aliases);
    free(b->added);
    free(b->strs);
    free(b->merges);
    free(b);
}

int silt_bpe_vocab_size(const silt_bpe *b) { return b->n_ids; }

const char *silt_bpe_token(const silt_bpe *b, int32_t id) {
    return id >= 0 && id < b->n_ids ? b->tok[id] : NULL;
}

int32_t silt_bpe_token_id(const silt_bpe *b, const char *tok, size_t len) {
    return str_find(b, tok, len);
}

int32_t silt_bpe_eos_id(const silt_bpe *b) { return b->eos_id; }
int32_t silt_bpe_bos_id(const silt_bpe *b) { return b->bos_id; }

/* ---- encoding -------------------------------------------------------------------------- */

/* Per-call state: the output and scratch buffers, grown on demand. */
typedef struct {
    int32_t *ids;
    int n, cap;
    int max_ids; /* -1: no limit */
    /* one piece being merged */
    int32_t *sym;
    int *prev, *next;
    struct heap_e {
        int32_t rank;
        int pos;
    } *heap;
    size_t piece_cap;
    /* code points of one segment */
    int32_t *cp;
    unsigned char *cls;
    size_t *off;
    size_t seg_cap;
    char *spell; /* byte-level spelling, for ignore_merges */
} enc_state;

static int full(const enc_state *st) { return st->max_ids >= 0 && st->n >= st->max_ids; }

static int emit(enc_state *st, int32_t id) {
    if (full(st)) return 0;
    if (st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 64;
        int32_t *p = realloc(st->ids, (size_t)cap * sizeof *p);
        if (!p) return -1;
        st->ids = p;
        st->cap = cap;
    }
    st->ids[st->n++] = id;
    return 0;
}

static int heap_less(const struct heap_e *a, const struct heap_e *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct heap_e *h, size_t *n, struct heap_e e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static struct heap_e heap_pop(struct heap_e *h, size_t *n) {
    struct heap_e top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static int grow_piece(enc_state *st, size_t m) {
    if (m <= st->piece_cap) return 0;
    size_t cap = m < 64 ? 64 : m * 2;
    int32_t *sym = realloc(st->sym, cap * sizeof *sym);
    if (sym) st->sym = sym;
    int *prev = realloc(st->prev, cap * sizeof *prev);
    if (prev) st->prev = prev;
    int *next = realloc(st->next, cap * sizeof *next);
    if (next) st->next = next;
    /* Each merge pushes at most two pairs: m initial + 2m later. */
    struct heap_e *heap = realloc(st->heap, 3 * cap * sizeof *heap);
    if (heap) st->heap = heap;
    char *spell = realloc(st->spell, 2 * cap + 1);
    if (spell) st->spell = spell;
    if (!sym || !prev || !next || !heap || !spell) return -1;
    st->piece_cap = cap;
    return 0;
}

/* Pushes the pair starting at symbol i (if it has a merge) onto the heap. */
static void push_pair(const silt_bpe *b, enc_state *st, size_t *hn, int i) {
    int j = st->next[i];
    if (i < 0 || j < 0) return;
    const merge_slot *m = merge_find(b, st->sym[i], st->sym[j]);
    if (m) heap_push(st->heap, hn, (struct heap_e){m->rank, i});
}

/* BPE of one pre-token s[0..m) (raw UTF-8 bytes); emits its ids. */
static int bpe_piece(const silt_bpe *b, enc_state *st, const unsigned char *s, size_t m) {
    if (m == 1) return b->byte_id[s[0]] >= 0 ? emit(st, b->byte_id[s[0]]) : 0;
    if (grow_piece(st, m)) return -1;
    if (b->ignore_merges) {
        uint32_t symtab[256];
        symbol_table(symtab);
        size_t n = byte_level_spelling(s, m, symtab, st->spell);
        int32_t id = str_find(b, st->spell, n);
        if (id >= 0) return emit(st, id);
    }
    int n = 0;
    for (size_t i = 0; i < m; i++) {
        int32_t id = b->byte_id[s[i]];
        if (id < 0) continue;
        st->sym[n] = id;
        st->prev[n] = n - 1;
        st->next[n] = n + 1;
        n++;
    }
    if (n == 0) return 0;
    st->next[n - 1] = -1;
    size_t hn = 0;
    for (int i = 0; i + 1 < n; i++) push_pair(b, st, &hn, i);
    while (hn) {
        struct heap_e e = heap_pop(st->heap, &hn);
        int i = e.pos, j = st->sym[i] >= 0 ? st->next[i] : -1;
        if (j < 0) continue;
        const merge_slot *mg = merge_find(b, st->sym[i], st->sym[j]);
        /* Stale entry: one side was merged away since it was pushed. */
        if (!mg || mg->rank != e.rank) continue;
        st->sym[i] = mg->new_id;
        st->sym[j] = -1;
        st->next[i] = st->next[j];
        if (st->next[j] >= 0) st->prev[st->next[j]] = i;
        if (st->prev[i] >= 0) push_pair(b, st, &hn, st->prev[i]);
        push_pair(b, st, &hn, i);
    }
    for (int i = 0; i >= 0; i = st->next[i])
        if (emit(st, st->sym[i])) return -1;
    return 0;
}

enum { CLS_L, CLS_N, CLS_S, CLS_O };

/* Oniguruma's \s (Unicode): the ASCII controls TAB..CR, NEL, and Zs/Zl/Zp. */
static unsigned char classify(int32_t c) {
    if ((c >= 9 && c <= 13) || c == 0x85) return CLS_S;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return CLS_L;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return CLS_N;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return CLS_S;
    default: return CLS_O;
    }
}

/* Length in code points of the contraction ('s 't 're 've 'm 'll 'd) at cp[i], or 0. */
static size_t contraction(const int32_t *cp, size_t i, size_t n) {
    if (cp[i] != '\'' || i + 1 >= n) return 0;
    int32_t a = cp[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 < n) {
        int32_t c = cp[i + 2];
        if ((a == 'r' && c == 'e') || (a == 'v' && c == 'e') || (a == 'l' && c == 'l')) return 3;
    }
    return 0;
}

/* Splits valid UTF-8 s[0..len) with the GPT-2 pattern and BPE-encodes each piece. */
static int pretokenize(const silt_bpe *b, enc_state *st, const char *s, size_t len) {
    if (len + 1 > st->seg_cap) {
        size_t cap = len + 1 < 256 ? 256 : (len + 1) * 2;
        int32_t *cp = realloc(st->cp, cap * sizeof *cp);
        if (cp) st->cp = cp;
        unsigned char *cls = realloc(st->cls, cap);
        if (cls) st->cls = cls;
        size_t *off = realloc(st->off, (cap + 1) * sizeof *off);
        if (off) st->off = off;
        if (!cp || !cls || !off) return -1;
        st->seg_cap = cap;
    }
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) return -1; /* cannot happen: the text was repaired */
        st->cp[n] = c;
        st->cls[n] = classify(c);
        st->off[n++] = i;
        i += (size_t)k;
    }
    st->off[n] = len;
    const int32_t *cp = st->cp;
    const unsigned char *cls = st->cls;
    for (size_t i = 0; i < n && !full(st);) {
        size_t end = i + contraction(cp, i, n);
        if (end == i) {
            /* " ?X+" for X in L, N, other: an optional U+0020 then a run of one class. */
            size_t j = (cp[i] == ' ' && i + 1 < n && cls[i + 1] != CLS_S) ? i + 1 : i;
            if (cls[j] != CLS_S) {
                end = j + 1;
                while (end < n && cls[end] == cls[j]) end++;
            } else {
                /* \s+(?!\S) leaves the last blank of a run to the word after it; a lone
                 * blank before a word is matched by \s+ alone. */
                end = i;
                while (end < n && cls[end] == CLS_S) end++;
                if (end < n && end - i >= 2) end--;
            }
        }
        if (bpe_piece(b, st, (const unsigned char *)s + st->off[i], st->off[end] - st->off[i]))
            return -1;
        i = end;
    }
    return 0;
}

/* Text without added tokens: ByteLevel's optional prefix space, then pre-tokenization. */
static int encode_plain(const silt_bpe *b, enc_state *st, const char *s, size_t len) {
    if (len == 0) return 0;
    if (b->add_prefix_space && s[0] != ' ') {
        char *t = malloc(len + 1);
        if (!t) return -1;
        t[0] = ' ';
        memcpy(t + 1, s, len);
        int rc = pretokenize(b, st, t, len + 1);
        free(t);
        return rc;
    }
    return pretokenize(b, st, s, len);
}

/* Longest added token of the wanted kind starting at s[i], or NULL. */
static const bpe_added *match_added(const silt_bpe *b, const char *s, size_t len, size_t i,
                                    int normalized, int parse_special) {
    unsigned c = (unsigned char)s[i];
    for (int k = b->added_start[c]; k < b->added_start[c + 1]; k++) {
        const bpe_added *a = &b->added[k];
        if (a->normalized != normalized || (a->special && !parse_special)) continue;
        if (a->len <= len - i && memcmp(a->text, s + i, a->len) == 0) return a;
    }
    return NULL;
}

static int encode_normalized(const silt_bpe *b, enc_state *st, const char *s, size_t len,
                             int parse_special);

/* Cuts s at the added tokens of the given pass (raw text: normalized = 0; normalised text:
 * 1), leftmost-longest, and hands the text between them to the next step. */
static int split_added(const silt_bpe *b, enc_state *st, const char *s, size_t len,
                       int normalized, int parse_special) {
    size_t start = 0;
    for (size_t i = 0; i < len && !full(st);) {
        const bpe_added *a = b->n_added ? match_added(b, s, len, i, normalized, parse_special) : NULL;
        if (!a) {
            i++;
            continue;
        }
        int rc = normalized ? encode_plain(b, st, s + start, i - start)
                            : encode_normalized(b, st, s + start, i - start, parse_special);
        if (rc || emit(st, a->id)) return -1;
        i += a->len;
        start = i;
    }
    if (full(st)) return 0;
    return normalized ? encode_plain(b, st, s + start, len - start)
                      : encode_normalized(b, st, s + start, len - start, parse_special);
}

/* NFC (when asked for) then the normalised added tokens. */
static int encode_normalized(const silt_bpe *b, enc_state *st, const char *s, size_t len,
                             int parse_special) {
    if (len == 0) return 0;
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (!b->nfc || ascii) return split_added(b, st, s, len, 1, parse_special);
    utf8proc_uint8_t *nf = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nf,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0) return -1;
    int rc = split_added(b, st, (const char *)nf, (size_t)r, 1, parse_special);
    free(nf);
    return rc;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode Table 3-7), or 0 with *bad =
 * length of its maximal ill-formed subpart (the unit replaced by one U+FFFD). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else return *bad = 1, 0;
    for (size_t k = 1; k <= need; k++) {
        if (k >= n || s[k] < (k == 1 ? lo : 0x80) || s[k] > (k == 1 ? hi : 0xBF))
            return *bad = k, 0;
    }
    return need + 1;
}

/* Copy of s with ill-formed sequences replaced by U+FFFD, or NULL (and *oom = 0) when s is
 * well-formed already. */
static char *utf8_repair(const char *s, size_t len, size_t *out_len, int *oom) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, bad = 0, v;
    *oom = 0;
    while (i < len && (v = utf8_seq(u + i, len - i, &bad))) i += v;
    if (i == len) return NULL;
    char *out = len <= (SIZE_MAX - 1) / 3 ? malloc(len * 3 + 1) : NULL;
    if (!out) {
        *oom = 1;
        return NULL;
    }
    memcpy(out, u, i);
    size_t o = i;
    while (i < len) {
        if ((v = utf8_seq(u + i, len - i, &bad))) {
            memcpy(out + o, u + i, v);
            o += v;
            i += v;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    *out_len = o;
    return out;
}

static int encode_all(const silt_bpe *b, const char *text, size_t len, int parse_special,
                      int max_ids, int32_t **ids, int *n_ids, char **err) {
    *ids = NULL;
    *n_ids = 0;
    if (len > (size_t)INT_MAX / 2)
        return silt_err(err, "text of %zu bytes is too long to tokenize", len);
    int oom;
    size_t fixed_len = 0;
    char *fixed = utf8_repair(text, len, &fixed_len, &oom);
    if (oom) return silt_err(err, "out of memory tokenizing %zu bytes", len);
    enc_state st = {.max_ids = max_ids < 0 ? -1 : max_ids};
    int rc = split_added(b, &st, fixed ? fixed : text, fixed ? fixed_len : len, 0, parse_special);
    free(fixed);
    free(st.sym);
    free(st.prev);
    free(st.next);
    free(st.heap);
    free(st.spell);
    free(st.cp);
    free(st.cls);
    free(st.off);
    if (rc) {
        free(st.ids);
        return silt_err(err, "out of memory tokenizing %zu bytes", len);
    }
    *ids = st.ids;
    *n_ids = st.n;
    return 0;
}

/* Largest cut <= at where text[0..cut) tokenizes as the start of the whole text: just before
 * a U+0020 that follows a printable ASCII character. There a pre-token always ends (runs of
 * letters, digits or symbols stop at a space; contractions hold none), NFC cannot compose
 * across (a space composes with nothing) and no GPT-NeoX added token spans it (they are
 * all spaces). 0 when there is no such place. */
static size_t safe_cut(const char *text, size_t at) {
    for (size_t c = at; c > 1; c--)
        if (text[c] == ' ' && text[c - 1] > ' ' && text[c - 1] < 0x7f) return c;
    return 0;
}

int silt_bpe_encode(const silt_bpe *b, const char *text, size_t len, int parse_special,
                    int max_ids, int32_t **ids, int *n_ids, char **err) {
    /* When only the first max_ids ids are wanted, tokenize a growing prefix that ends at a
     * safe cut, so that a window of 8k tokens never costs a pass (and 13 bytes of scratch per
     * byte) over a 100 MB text. */
    size_t want = max_ids >= 0 ? (size_t)max_ids * 16 : 0;
    for (size_t p = want < 65536 ? 65536 : want; max_ids >= 0 && p < len; p *= 4) {
        size_t cut = safe_cut(text, p);
        if (cut == 0) continue;
        if (encode_all(b, text, cut, parse_special, max_ids, ids, n_ids, err)) return -1;
        if (*n_ids >= max_ids) return 0;
        free(*ids);
    }
    return encode_all(b, text, len, parse_special, max_ids, ids, n_ids, err);
}

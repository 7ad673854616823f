/* wordpiece.c: BERT WordPiece tokenizer (see wordpiece.h for the exact behaviour).
 *
 * Text is processed in one streaming pass: each input code point is cleaned, normalised and
 * classified, and completed words are looked up at once, so a truncated encode of a huge
 * text stops as soon as the window is full. Unicode data comes from utf8proc. */
#include "core/wordpiece.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"
#include "core/gguf.h"

struct silt_wordpiece {
    silt_wordpiece_opts opts;
    int n_tokens;
    char **tokens;        /* tokens[id], NUL-terminated, in one arena */
    uint32_t *tok_len;    /* byte length of tokens[id] */
    char *arena;
    int32_t *table;       /* open-addressing hash: token id or -1 */
    uint32_t table_mask;
    int32_t cls_id, sep_id, pad_id, unk_id;
    /* Tokens matched verbatim in the raw text before normalisation (HF's special added
     * tokens: "[CLS]" typed by a user is the [CLS] token). */
    int32_t *special_ids;
    int n_special;
    uint8_t special_first[32]; /* bitmap of the first bytes of special tokens */
};

silt_wordpiece_opts silt_wordpiece_default_opts(void) {
    silt_wordpiece_opts o = {1, -1, 1, 1, 100};
    return o;
}

/* ---- vocabulary ------------------------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t silt_wordpiece_id(const silt_wordpiece *wp, const char *tok, size_t len) {
    for (uint32_t i = hash_bytes(tok, len) & wp->table_mask;; i = (i + 1) & wp->table_mask) {
        int32_t id = wp->table[i];
        if (id < 0) return -1;
        if (wp->tok_len[id] == len && memcmp(wp->tokens[id], tok, len) == 0) return id;
    }
}

/* Inserts id; a token already present is re-pointed to the later id, as HF's load_vocab
 * does for a vocab.txt that lists a token twice. */
static void table_insert(silt_wordpiece *wp, int32_t id) {
    const char *tok = wp->tokens[id];
    size_t len = wp->tok_len[id];
    for (uint32_t i = hash_bytes(tok, len) & wp->table_mask;; i = (i + 1) & wp->table_mask) {
        int32_t old = wp->table[i];
        if (old < 0 || (wp->tok_len[old] == len && memcmp(wp->tokens[old], tok, len) == 0)) {
            wp->table[i] = id;
            return;
        }
    }
}

void silt_wordpiece_free(silt_wordpiece *wp) {
    if (!wp) return;
    free(wp->tokens);
    free(wp->tok_len);
    free(wp->arena);
    free(wp->table);
    free(wp->special_ids);
    free(wp);
}

/* Marks id as a token matched verbatim in the raw text (no-op when already marked). */
static int add_special(silt_wordpiece *wp, int32_t id, char **err) {
    for (int i = 0; i < wp->n_special; i++)
        if (wp->special_ids[i] == id) return 0;
    if (wp->tok_len[id] == 0) return 0;
    int32_t *n = realloc(wp->special_ids, ((size_t)wp->n_special + 1) * sizeof *n);
    if (!n) return silt_err(err, "out of memory");
    wp->special_ids = n;
    wp->special_ids[wp->n_special++] = id;
    uint8_t b = (uint8_t)wp->tokens[id][0];
    wp->special_first[b >> 3] |= (uint8_t)(1u << (b & 7));
    return 0;
}

/* Looks up a required special token by name. */
static int special(silt_wordpiece *wp, const char *name, int32_t *out, char **err) {
    *out = silt_wordpiece_id(wp, name, strlen(name));
    if (*out < 0) return silt_err(err, "vocabulary has no %s token", name);
    return 0;
}

silt_wordpiece *silt_wordpiece_new(const char *const *tokens, const size_t *lens, int n_tokens,
                                   const silt_wordpiece_opts *opts, char **err) {
    if (n_tokens <= 0 || n_tokens > (1 << 26)) {
        silt_err(err, "vocabulary size %d is out of range", n_tokens);
        return NULL;
    }
    silt_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) {
        silt_err(err, "out of memory");
        return NULL;
    }
    wp->opts = opts ? *opts : silt_wordpiece_default_opts();
    if (wp->opts.max_chars_per_word <= 0) wp->opts.max_chars_per_word = 100;
    wp->n_tokens = n_tokens;
    size_t arena_bytes = 0;
    for (int i = 0; i < n_tokens; i++) arena_bytes += lens[i] + 1;
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)n_tokens) cap *= 2;
    wp->table_mask = cap - 1;
    wp->tokens = malloc((size_t)n_tokens * sizeof *wp->tokens);
    wp->tok_len = malloc((size_t)n_tokens * sizeof *wp->tok_len);
    wp->arena = malloc(arena_bytes);
    wp->table = malloc((size_t)cap * sizeof *wp->table);
    if (!wp->tokens || !wp->tok_len || !wp->arena || !wp->table) {
        silt_wordpiece_free(wp);
        silt_err(err, "out of memory");
        return NULL;
    }
    memset(wp->table, 0xff, (size_t)cap * sizeof *wp->table);
    char *p = wp->arena;
    for (int i = 0; i < n_tokens; i++) {
        if (lens[i] > UINT32_MAX / 2) {
            silt_wordpiece_free(wp);
            silt_err(err, "token %d is too long", i);
            return NULL;
        }
        memcpy(p, tokens[i], lens[i]);
        p[lens[i]] = 0;
        wp->tokens[i] = p;
        wp->tok_len[i] = (uint32_t)lens[i];
        p += lens[i] + 1;
        table_insert(wp, i);
    }
    if (special(wp, "[UNK]", &wp->unk_id, err) != 0 ||
        special(wp, "[CLS]", &wp->cls_id, err) != 0 ||
        special(wp, "[SEP]", &wp->sep_id, err) != 0 ||
        special(wp, "[PAD]", &wp->pad_id, err) != 0) {
        silt_wordpiece_free(wp);
        return NULL;
    }
    /* BertTokenizer's special tokens; loaders with a list of their own add to it. */
    static const char *const names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int32_t id = silt_wordpiece_id(wp, names[i], strlen(names[i]));
        if (id >= 0 && add_special(wp, id, err) != 0) {
            silt_wordpiece_free(wp);
            return NULL;
        }
    }
    return wp;
}

int silt_wordpiece_vocab_size(const silt_wordpiece *wp) { return wp->n_tokens; }
const char *silt_wordpiece_token(const silt_wordpiece *wp, int32_t id) {
    return id >= 0 && id < wp->n_tokens ? wp->tokens[id] : NULL;
}
int32_t silt_wordpiece_cls_id(const silt_wordpiece *wp) { return wp->cls_id; }
int32_t silt_wordpiece_sep_id(const silt_wordpiece *wp) { return wp->sep_id; }
int32_t silt_wordpiece_pad_id(const silt_wordpiece *wp) { return wp->pad_id; }
int32_t silt_wordpiece_unk_id(const silt_wordpiece *wp) { return wp->unk_id; }
const silt_wordpiece_opts *silt_wordpiece_opts_of(const silt_wordpiece *wp) { return &wp->opts; }

/* ---- loaders ------------------------------------------------------------------------------ */

/* Reads a whole file into a malloc'd NUL-terminated buffer (*n_bytes without the NUL). */
static char *read_file(const char *path, size_t max_bytes, size_t *n_bytes, char **err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        silt_err(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                silt_err(err, "out of memory");
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 65536, f);
        n += r;
        if (n > max_bytes) {
            free(buf);
            fclose(f);
            silt_err(err, "%s is larger than %zu bytes", path, max_bytes);
            return NULL;
        }
        if (r < 65536) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        silt_err(err, "cannot read %s", path);
        return NULL;
    }
    buf[n] = 0;
    if (n_bytes) *n_bytes = n;
    return buf;
}

silt_wordpiece *silt_wordpiece_from_vocab_txt(const char *path, const silt_wordpiece_opts *opts,
                                              char **err) {
    size_t n_bytes;
    char *text = read_file(path, 256u << 20, &n_bytes, err);
    if (!text) return NULL;
    int n = 0;
    for (size_t i = 0; i < n_bytes; i++) n += text[i] == '\n';
    if (n_bytes > 0 && text[n_bytes - 1] != '\n') n++;
    const char **toks = malloc(((size_t)n + 1) * sizeof *toks);
    size_t *lens = malloc(((size_t)n + 1) * sizeof *lens);
    silt_wordpiece *wp = NULL;
    if (!toks || !lens) {
        silt_err(err, "out of memory");
        goto done;
    }
    int k = 0;
    for (char *p = text; p < text + n_bytes;) {
        char *nl = memchr(p, '\n', (size_t)(text + n_bytes - p));
        char *e = nl ? nl : text + n_bytes;
        size_t len = (size_t)(e - p);
        if (len > 0 && p[len - 1] == '\r') len--;
        toks[k] = p;
        lens[k] = len;
        k++;
        p = nl ? nl + 1 : e;
    }
    wp = silt_wordpiece_new(toks, lens, k, opts, err);
    if (!wp) silt_err_prefix(err, "%s", path);
done:
    free(toks);
    free(lens);
    free(text);
    return wp;
}

/* Reads an optional boolean (JSON true/false; null or absent keep *out). */
static void json_bool(const cJSON *obj, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
}

/* Builds from a parsed tokenizer.json. */
static silt_wordpiece *from_tokenizer_json(const cJSON *root, const char *path, char **err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "WordPiece") != 0) {
        silt_err(err, "%s: tokenizer model type is '%s'; silt's BERT loader needs WordPiece",
                 path, cJSON_IsString(type) ? type->valuestring : "(missing)");
        return NULL;
    }
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    if (cJSON_IsString(prefix) && strcmp(prefix->valuestring, "##") != 0) {
        silt_err(err, "%s: continuing_subword_prefix '%s' is not supported (expected '##')",
                 path, prefix->valuestring);
        return NULL;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *pre_type = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (cJSON_IsObject(pre) &&
        (!cJSON_IsString(pre_type) || strcmp(pre_type->valuestring, "BertPreTokenizer") != 0)) {
        silt_err(err, "%s: pre_tokenizer '%s' is not supported (expected BertPreTokenizer)", path,
                 cJSON_IsString(pre_type) ? pre_type->valuestring : "(missing type)");
        return NULL;
    }
    silt_wordpiece_opts o = silt_wordpiece_default_opts();
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (cJSON_IsNumber(mc) && mc->valuedouble >= 1 && mc->valuedouble < 1e9)
        o.max_chars_per_word = (int)mc->valuedouble;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (cJSON_IsObject(norm)) {
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (!cJSON_IsString(nt) || strcmp(nt->valuestring, "BertNormalizer") != 0) {
            silt_err(err, "%s: normalizer '%s' is not supported (expected BertNormalizer)", path,
                     cJSON_IsString(nt) ? nt->valuestring : "(missing type)");
            return NULL;
        }
        json_bool(norm, "lowercase", &o.lowercase);
        json_bool(norm, "clean_text", &o.clean_text);
        json_bool(norm, "handle_chinese_chars", &o.handle_cjk);
        json_bool(norm, "strip_accents", &o.strip_accents);
    } else {
        /* No normalizer at all: the text reaches the pre-tokenizer untouched. */
        o.lowercase = 0;
        o.strip_accents = 0;
        o.handle_cjk = 0;
        o.clean_text = 0;
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    int n = cJSON_GetArraySize(vocab);
    if (!cJSON_IsObject(vocab) || n <= 0) {
        silt_err(err, "%s: model.vocab must be a non-empty object of token -> id", path);
        return NULL;
    }
    const char **toks = calloc((size_t)n, sizeof *toks);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    silt_wordpiece *wp = NULL;
    if (!toks || !lens) {
        silt_err(err, "out of memory");
        goto done;
    }
    for (const cJSON *e = vocab->child; e; e = e->next) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(d >= 0 && d < n) || d != (double)(int)d || toks[(int)d]) {
            silt_err(err, "%s: model.vocab['%s'] must be a unique id in 0..%d", path, e->string,
                     n - 1);
            goto done;
        }
        toks[(int)d] = e->string;
        lens[(int)d] = strlen(e->string);
    }
    wp = silt_wordpiece_new(toks, lens, n, &o, err);
    if (!wp) {
        silt_err_prefix(err, "%s", path);
        goto done;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        int32_t id = silt_wordpiece_id(wp, unk->valuestring, strlen(unk->valuestring));
        if (id < 0) {
            silt_err(err, "%s: unk_token '%s' is not in the vocabulary", path, unk->valuestring);
            silt_wordpiece_free(wp);
            wp = NULL;
            goto done;
        }
        wp->unk_id = id;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        if (!cJSON_IsString(content)) continue;
        int32_t id = silt_wordpiece_id(wp, content->valuestring, strlen(content->valuestring));
        if (id >= 0 && add_special(wp, id, err) != 0) {
            silt_wordpiece_free(wp);
            wp = NULL;
            goto done;
        }
    }
done:
    free(toks);
    free(lens);
    return wp;
}

silt_wordpiece *silt_wordpiece_from_hf_dir(const char *dir, char **err) {
    char *path = NULL;
    silt_wordpiece *wp = NULL;
    if (asprintf(&path, "%s/tokenizer.json", dir) < 0) {
        silt_err(err, "out of memory");
        return NULL;
    }
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        char *text = read_file(path, 256u << 20, NULL, err);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        if (text && !root) silt_err(err, "%s is not valid JSON", path);
        if (root) wp = from_tokenizer_json(root, path, err);
        cJSON_Delete(root);
        free(text);
        free(path);
        return wp;
    }
    free(path);
    silt_wordpiece_opts o = silt_wordpiece_default_opts();
    if (asprintf(&path, "%s/tokenizer_config.json", dir) < 0) {
        silt_err(err, "out of memory");
        return NULL;
    }
    probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        char *text = read_file(path, 16u << 20, NULL, err);
        cJSON *root = text ? cJSON_Parse(text) : NULL;
        if (!cJSON_IsObject(root)) {
            if (text) silt_err(err, "%s is not a JSON object", path);
            cJSON_Delete(root);
            free(text);
            free(path);
            return NULL;
        }
        json_bool(root, "do_lower_case", &o.lowercase);
        json_bool(root, "strip_accents", &o.strip_accents);
        json_bool(root, "tokenize_chinese_chars", &o.handle_cjk);
        cJSON_Delete(root);
        free(text);
    }
    free(path);
    if (asprintf(&path, "%s/vocab.txt", dir) < 0) {
        silt_err(err, "out of memory");
        return NULL;
    }
    wp = silt_wordpiece_from_vocab_txt(path, &o, err);
    free(path);
    return wp;
}

/* Converts a llama.cpp BERT token to the ## convention. llama.cpp's converter prefixes
 * word-initial tokens with U+2581 and stores continuation tokens without their "##"; control
 * tokens stay as they are (older converters also left every "[...]" token alone). So:
 * "▁x" -> "x"; a control token or "[...]" stays; anything else -> "##x". Returns a
 * malloc'd string. */
static char *gguf_token_to_wordpiece(const char *s, size_t len, int is_control,
                                     size_t *out_len) {
    static const char marker[] = "\xe2\x96\x81"; /* U+2581 */
    char *r = malloc(len + 3);
    if (!r) return NULL;
    if (len >= 3 && memcmp(s, marker, 3) == 0) {
        memcpy(r, s + 3, len - 3);
        *out_len = len - 3;
    } else if (is_control || (len >= 2 && s[0] == '[' && s[len - 1] == ']')) {
        memcpy(r, s, len);
        *out_len = len;
    } else {
        r[0] = r[1] = '#';
        memcpy(r + 2, s, len);
        *out_len = len + 2;
    }
    r[*out_len] = 0;
    return r;
}

silt_wordpiece *silt_wordpiece_from_gguf(const silt_gguf *g, char **err) {
    const char *model;
    size_t model_len;
    if (silt_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, err) != 0) return NULL;
    if (model_len != 4 || memcmp(model, "bert", 4) != 0) {
        silt_err(err, "GGUF tokenizer.ggml.model is '%.*s'; silt's BERT loader needs 'bert' "
                 "(WordPiece)", (int)(model_len > 64 ? 64 : model_len), model);
        return NULL;
    }
    const silt_gguf_kv *kv = silt_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!kv || kv->type != SILT_GGUF_ARRAY || kv->arr_type != SILT_GGUF_STRING || kv->n == 0 ||
        kv->n > (1u << 26)) {
        silt_err(err, "GGUF tokenizer.ggml.tokens must be a non-empty array of strings");
        return NULL;
    }
    int n = (int)kv->n;
    char **toks = calloc((size_t)n, sizeof *toks);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    silt_wordpiece *wp = NULL;
    if (!toks || !lens) {
        silt_err(err, "out of memory");
        goto done;
    }
    /* Token types (llama_token_type): 3 = control, 4 = user-defined; both are kept verbatim. */
    const silt_gguf_kv *types = silt_gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (types && (types->type != SILT_GGUF_ARRAY || types->n != kv->n)) types = NULL;
    int has_upper = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *s = silt_gguf_arr_str(kv, (uint64_t)i, &len);
        int64_t type = types ? silt_gguf_arr_int(types, (uint64_t)i) : 1;
        if (!(toks[i] = gguf_token_to_wordpiece(s, len, type == 3 || type == 4, &lens[i]))) {
            silt_err(err, "out of memory");
            goto done;
        }
        if (toks[i][0] != '[')
            for (size_t j = 0; j < lens[i]; j++)
                if (toks[i][j] >= 'A' && toks[i][j] <= 'Z') has_upper = 1;
    }
    silt_wordpiece_opts o = silt_wordpiece_default_opts();
    o.lowercase = !has_upper;
    wp = silt_wordpiece_new((const char *const *)toks, lens, n, &o, err);
    if (!wp) {
        silt_err_prefix(err, "GGUF vocabulary");
        goto done;
    }
    /* Special ids from the metadata win over the names, as llama.cpp uses them. */
    static const struct {
        const char *key;
        size_t field;
    } ids[] = {
        {"tokenizer.ggml.unknown_token_id", offsetof(silt_wordpiece, unk_id)},
        {"tokenizer.ggml.cls_token_id", offsetof(silt_wordpiece, cls_id)},
        {"tokenizer.ggml.seperator_token_id", offsetof(silt_wordpiece, sep_id)},
        {"tokenizer.ggml.padding_token_id", offsetof(silt_wordpiece, pad_id)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int64_t v;
        if (!silt_gguf_find_kv(g, ids[i].key)) continue;
        if (silt_gguf_get_int(g, ids[i].key, &v, err) != 0 || v < 0 || v >= n) {
            silt_err(err, "GGUF %s must be a token id below %d", ids[i].key, n);
            silt_wordpiece_free(wp);
            wp = NULL;
            goto done;
        }
        *(int32_t *)((char *)wp + ids[i].field) = (int32_t)v;
    }
    for (int i = 0; types && i < n; i++) {
        int64_t type = silt_gguf_arr_int(types, (uint64_t)i);
        if ((type == 3 || type == 4) && add_special(wp, i, err) != 0) {
            silt_wordpiece_free(wp);
            wp = NULL;
            goto done;
        }
    }
done:
    if (toks)
        for (int i = 0; i < n; i++) free(toks[i]);
    free(toks);
    free(lens);
    return wp;
}

/* ---- tokenization ---------------------------------------------------------------------------- */

static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Unicode White_Space (what Rust's char::is_whitespace tests). */
static int is_space(int32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Characters clean_text drops: Cc Cf Co Cn Cs except tab, newline, carriage return. */
static int is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_CS: return 1;
    default: return 0;
    }
}

static int is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* Per-call state: the word being built and the ids produced. */
typedef struct {
    const silt_wordpiece *wp;
    int32_t word[128];   /* code points of the current word (first max_chars+1 kept) */
    int word_chars;      /* true length, may exceed what is stored */
    char piece[128 * 4 + 3];
    int32_t *ids;
    int n_ids, cap_ids;
    int limit;           /* stop after this many ids (< 0: none) */
    int full;            /* limit reached with text left over */
    char **err;
} tok_state;

static int push_id(tok_state *s, int32_t id) {
    if (s->limit >= 0 && s->n_ids >= s->limit) {
        s->full = 1;
        return 0;
    }
    if (s->n_ids == s->cap_ids) {
        int cap = s->cap_ids ? s->cap_ids * 2 : 64;
        int32_t *n = realloc(s->ids, (size_t)cap * sizeof *n);
        if (!n) return silt_err(s->err, "out of memory");
        s->ids = n;
        s->cap_ids = cap;
    }
    s->ids[s->n_ids++] = id;
    return 0;
}

/* Emits the pieces of the current word (greedy longest match first) and clears it. */
static int flush_word(tok_state *s) {
    int n = s->word_chars;
    s->word_chars = 0;
    if (n == 0) return 0;
    const silt_wordpiece *wp = s->wp;
    if (n > wp->opts.max_chars_per_word || n > 127) return push_id(s, wp->unk_id);
    /* UTF-8 bytes after a "##" slot, with the byte offset of each character boundary. */
    char *bytes = s->piece + 2;
    int off[129];
    int nb = 0;
    for (int i = 0; i < n; i++) {
        off[i] = nb;
        nb += (int)utf8proc_encode_char(s->word[i], (utf8proc_uint8_t *)bytes + nb);
    }
    off[n] = nb;
    int32_t pieces[128];
    int n_pieces = 0;
    for (int start = 0; start < n;) {
        int32_t found = -1;
        int end = n;
        for (; end > start; end--) {
            const char *p = bytes + off[start];
            size_t len = (size_t)(off[end] - off[start]);
            if (start > 0) {
                /* Continuation pieces are looked up as "##" + piece: write the prefix into
                 * the two bytes before the piece (they are restored below). */
                char save0 = bytes[off[start] - 2], save1 = bytes[off[start] - 1];
                char *q = bytes + off[start] - 2;
                q[0] = q[1] = '#';
                found = silt_wordpiece_id(wp, q, len + 2);
                q[0] = save0;
                q[1] = save1;
            } else {
                found = silt_wordpiece_id(wp, p, len);
            }
            if (found >= 0) break;
        }
        if (found < 0) return push_id(s, wp->unk_id);
        pieces[n_pieces++] = found;
        start = end;
    }
    for (int i = 0; i < n_pieces; i++)
        if (push_id(s, pieces[i]) != 0) return -1;
    return 0;
}

static void add_char(tok_state *s, int32_t c) {
    if (s->word_chars < (int)(sizeof s->word / sizeof s->word[0])) s->word[s->word_chars] = c;
    if (s->word_chars < 1 << 30) s->word_chars++;
}

/* Handles one normalised character (after accent stripping and lower-casing). */
static int feed_norm(tok_state *s, int32_t c) {
    if (is_punct(c)) {
        if (flush_word(s) != 0) return -1;
        add_char(s, c);
        return flush_word(s);
    }
    add_char(s, c);
    return 0;
}

/* Lower-cases c as Rust's char::to_lowercase does; returns the number of code points (the
 * only multi-character lower case, U+0130, becomes 'i' + U+0307). */
static int lower(int32_t c, int32_t out[2]) {
    if (c == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = utf8proc_tolower(c);
    return 1;
}

/* Runs one input code point through steps 1-5. */
static int feed(tok_state *s, int32_t c) {
    const silt_wordpiece_opts *o = &s->wp->opts;
    if (o->clean_text) {
        if (c == 0 || c == 0xFFFD || is_control(c)) return 0;
    }
    if (is_space(c)) return flush_word(s);
    int cjk = o->handle_cjk && is_cjk(c);
    if (cjk && flush_word(s) != 0) return -1;
    int strip = o->strip_accents < 0 ? o->lowercase : o->strip_accents;
    int32_t dec[16];
    int n_dec = 1;
    dec[0] = c;
    if (strip) {
        utf8proc_ssize_t r = utf8proc_decompose_char(c, dec, 16, UTF8PROC_DECOMPOSE, NULL);
        n_dec = r > 0 && r <= 16 ? (int)r : 1;
        if (r <= 0 || r > 16) dec[0] = c;
    }
    for (int i = 0; i < n_dec; i++) {
        if (strip && utf8proc_category(dec[i]) == UTF8PROC_CATEGORY_MN) continue;
        int32_t low[2];
        int n_low = 1;
        low[0] = dec[i];
        if (o->lowercase) n_low = lower(dec[i], low);
        for (int j = 0; j < n_low; j++) {
            if (strip && utf8proc_category(low[j]) == UTF8PROC_CATEGORY_MN) continue;
            if (feed_norm(s, low[j]) != 0) return -1;
        }
    }
    if (cjk) return flush_word(s);
    return 0;
}

int silt_wordpiece_tokenize(const silt_wordpiece *wp, const char *text, size_t len, int limit,
                            int32_t **ids, int *n_ids, int *complete, char **err) {
    tok_state s;
    memset(&s, 0, sizeof s);
    s.wp = wp;
    s.limit = limit;
    s.err = err;
    *ids = NULL;
    *n_ids = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    while (i < len && !s.full) {
        uint8_t b0 = p[i];
        if (wp->special_first[b0 >> 3] & (1u << (b0 & 7))) {
            /* Longest special token starting here, matched on the raw bytes. */
            int32_t best = -1;
            for (int k = 0; k < wp->n_special; k++) {
                int32_t id = wp->special_ids[k];
                size_t tl = wp->tok_len[id];
                if (tl <= len - i && memcmp(p + i, wp->tokens[id], tl) == 0 &&
                    (best < 0 || tl > wp->tok_len[best]))
                    best = id;
            }
            if (best >= 0) {
                if (flush_word(&s) != 0 || push_id(&s, best) != 0) {
                    free(s.ids);
                    return -1;
                }
                i += wp->tok_len[best];
                continue;
            }
        }
        utf8proc_int32_t c;
        size_t avail = len - i;
        utf8proc_ssize_t r = utf8proc_iterate(p + i, avail > 8 ? 8 : (utf8proc_ssize_t)avail, &c);
        if (r <= 0) {
            c = 0xFFFD; /* one bad byte at a time */
            r = 1;
        }
        i += (size_t)r;
        if (feed(&s, c) != 0) {
            free(s.ids);
            return -1;
        }
    }
    if (!s.full && flush_word(&s) != 0) {
        free(s.ids);
        return -1;
    }
    /* Hitting the limit exactly at the last word is still complete unless text remains that
     * would produce pieces; be conservative and only report incomplete when ids were refused. */
    if (complete) *complete = !s.full;
    if (!s.ids) {
        s.ids = malloc(sizeof *s.ids);
        if (!s.ids) return silt_err(err, "out of memory");
    }
    *ids = s.ids;
    *n_ids = s.n_ids;
    return 0;
}

int silt_wordpiece_encode(const silt_wordpiece *wp, const char *text, size_t len,
                          int max_tokens, int truncate, int32_t **ids, int *n_ids, char **err) {
    if (max_tokens < 2)
        return silt_err(err, "window of %d tokens cannot hold [CLS] and [SEP]", max_tokens);
    int32_t *pieces;
    int n, complete;
    if (silt_wordpiece_tokenize(wp, text, len, max_tokens - 2, &pieces, &n, &complete, err) != 0)
        return -1;
    if (!complete && !truncate) {
        free(pieces);
        return silt_err(err, "text is longer than the model's window of %d tokens (and "
                        "truncation is off)", max_tokens);
    }
    int32_t *out = malloc(((size_t)n + 2) * sizeof *out);
    if (!out) {
        free(pieces);
        return silt_err(err, "out of memory");
    }
    out[0] = wp->cls_id;
    memcpy(out + 1, pieces, (size_t)n * sizeof *out);
    out[n + 1] = wp->sep_id;
    free(pieces);
    *ids = out;
    *n_ids = n + 2;
    return 0;
}

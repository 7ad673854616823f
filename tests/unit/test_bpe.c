/* test_bpe.c: the byte-level BPE tokenizer (core/bpe.h) against two references:
 *
 *  - llama.cpp's tokenizer cases for GPT-NeoX-20B (generated with Hugging Face tokenizers).
 *    llama.cpp ships ggml-vocab-gpt-neox.gguf without cases; MPT uses the same tokenizer and
 *    ggml-vocab-mpt.gguf holds exactly the same tokens, token types and merges (checked when
 *    the files were copied), so its .inp/.out cases are run on the GPT-NeoX vocabulary;
 *  - @huggingface/tokenizers (npm, pure JS) on GPT-NeoX's tokenizer.json rebuilt from that
 *    GGUF: tests/data/bpe_neox_hf.json (tests/reference/make_tiny_mamba.sh).
 *
 * Both loaders (GGUF metadata, tokenizer.json) must give the same ids, and malformed
 * tokenizers must fail with a message naming what is wrong. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bpe.h"
#include "core/gguf.h"
#include "tests/unit/modeltest_util.h"

#define NEOX_GGUF "tests/data/llama-vocab/ggml-vocab-gpt-neox.gguf"
#define NEOX_INP "tests/data/llama-vocab/ggml-vocab-mpt.gguf.inp"
#define NEOX_OUT "tests/data/llama-vocab/ggml-vocab-mpt.gguf.out"
#define HF_CASES "tests/data/bpe_neox_hf.json"
#define TINY_JSON "tests/data/tiny-mamba/tokenizer.json"
#define TINY_GGUF "tests/data/tiny-mamba.gguf"

static silt_bpe *load_gguf(const char *path) {
    char *err = NULL;
    silt_gguf *g = silt_gguf_open(path, &err);
    cr_assert_not_null(g, "%s: %s", path, err);
    silt_bpe *b = silt_bpe_from_gguf(g, 1, &err);
    cr_assert_not_null(b, "%s: %s", path, err);
    silt_gguf_close(g);
    return b;
}

static silt_bpe *load_json(const char *path) {
    size_t n;
    char *text = mt_read(path, &n), *err = NULL;
    cr_assert_not_null(text, "%s missing", path);
    silt_bpe *b = silt_bpe_from_tokenizer_json(text, n, &err);
    cr_assert_not_null(b, "%s: %s", path, err);
    free(text);
    return b;
}

/* Error message of loading tokenizer.json text (the load must fail). */
static char *json_error(const char *text) {
    char *err = NULL;
    silt_bpe *b = silt_bpe_from_tokenizer_json(text, strlen(text), &err);
    cr_assert_null(b, "expected failure for %s", text);
    cr_assert_not_null(err);
    return err;
}

static void encode(const silt_bpe *b, const char *s, size_t len, int special, int32_t **ids,
                   int *n) {
    char *err = NULL;
    cr_assert_eq(silt_bpe_encode(b, s, len, special, -1, ids, n, &err), 0, "%s", err);
}

/* "12 34 5" -> ids; returns the count. */
static int parse_ids(const char *line, int32_t *out, int cap) {
    int n = 0;
    for (char *end; *line && n < cap; line = end) {
        long v = strtol(line, &end, 10);
        if (end == line) break;
        out[n++] = (int32_t)v;
    }
    return n;
}

static char *from_hex(const char *hex, size_t *len) {
    *len = strlen(hex) / 2;
    char *s = malloc(*len + 1);
    for (size_t i = 0; i < *len; i++) sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&s[i]);
    s[*len] = 0;
    return s;
}

/* Runs every llama.cpp case through b; returns the number that match. */
static int run_llama_cases(const silt_bpe *b, int *total) {
    char *inp = mt_read(NEOX_INP, NULL), *out = mt_read(NEOX_OUT, NULL);
    cr_assert(inp && out, "llama.cpp cases missing");
    const char *sep = "\n__ggml_vocab_test__\n";
    int pass = 0;
    *total = 0;
    char *p = inp, *q = out;
    for (char *e; (e = strstr(p, sep)); p = e + strlen(sep)) {
        char *nl = strchr(q, '\n');
        cr_assert_not_null(nl, "fewer .out lines than .inp cases");
        *nl = 0;
        int32_t want[512], *ids;
        int n_want = parse_ids(q, want, 512), n;
        encode(b, p, (size_t)(e - p), 0, &ids, &n);
        int ok = n == n_want && (n == 0 || memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
        if (!ok) cr_log_error("case %d '%.*s' differs", *total, (int)(e - p), p);
        pass += ok;
        ++*total;
        free(ids);
        q = nl + 1;
    }
    free(inp);
    free(out);
    return pass;
}

Test(bpe, llama_cpp_gpt_neox_cases_from_gguf) {
    silt_bpe *b = load_gguf(NEOX_GGUF);
    int total, pass = run_llama_cases(b, &total);
    cr_log_info("llama.cpp GPT-NeoX cases: %d/%d", pass, total);
    cr_assert_eq(total, 46);
    cr_assert_eq(pass, total, "%d/%d llama.cpp cases match", pass, total);
    cr_assert_eq(silt_bpe_eos_id(b), 0);
    cr_assert_eq(silt_bpe_bos_id(b), 0);
    cr_assert_eq(silt_bpe_vocab_size(b), 50432);
    silt_bpe_free(b);
}

/* Runs the tokenizers.js cases through b (parse_special as HF's default). */
static void check_hf_cases(const silt_bpe *b, const silt_bpe *other) {
    char *text = mt_read(HF_CASES, NULL);
    cr_assert_not_null(text);
    cJSON *root = cJSON_Parse(text);
    const cJSON *c;
    int pass = 0, total = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        size_t len;
        char *s = from_hex(cJSON_GetObjectItem(c, "text_hex")->valuestring, &len);
        int32_t *ids;
        int n;
        encode(b, s, len, 1, &ids, &n);
        const cJSON *want = cJSON_GetObjectItem(c, "ids");
        int ok = n == cJSON_GetArraySize(want);
        for (int i = 0; ok && i < n; i++) ok = cJSON_GetArrayItem(want, i)->valueint == ids[i];
        if (!ok) cr_log_error("tokenizers.js case %d ('%s') differs", total, s);
        pass += ok;
        total++;
        if (other) {
            int32_t *ids2;
            int n2;
            encode(other, s, len, 1, &ids2, &n2);
            cr_assert(n2 == n && (n == 0 || memcmp(ids, ids2, (size_t)n * sizeof *ids) == 0),
                      "loaders differ on '%s'", s);
            free(ids2);
        }
        free(ids);
        free(s);
    }
    cr_log_info("tokenizers.js cases: %d/%d", pass, total);
    cr_assert_gt(total, 300);
    cr_assert_eq(pass, total, "%d/%d tokenizers.js cases match", pass, total);
    cJSON_Delete(root);
    free(text);
}

Test(bpe, matches_huggingface_tokenizers_js) {
    silt_bpe *b = load_gguf(NEOX_GGUF);
    check_hf_cases(b, NULL);
    silt_bpe_free(b);
}

Test(bpe, tokenizer_json_and_gguf_loaders_agree) {
    /* The tiny model's tokenizer exists in both forms (make_tiny_mamba.py). */
    silt_bpe *j = load_json(TINY_JSON), *g = load_gguf(TINY_GGUF);
    char *text = mt_read(HF_CASES, NULL);
    cJSON *root = cJSON_Parse(text);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        size_t len;
        char *s = from_hex(cJSON_GetObjectItem(c, "text_hex")->valuestring, &len);
        int32_t *a, *b;
        int na, nb;
        encode(j, s, len, 1, &a, &na);
        encode(g, s, len, 1, &b, &nb);
        cr_assert(na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0),
                  "differ on '%s'", s);
        free(a);
        free(b);
        free(s);
    }
    cJSON_Delete(root);
    free(text);
    /* Spellings: vocabulary form, and an added token under both of its spellings. */
    cr_assert_str_eq(silt_bpe_token(j, 0), "<|endoftext|>");
    cr_assert_eq(silt_bpe_token_id(j, "<|endoftext|>", 13), 0);
    cr_assert_eq(silt_bpe_token_id(j, "  ", 2), silt_bpe_token_id(j, "\xc4\xa0\xc4\xa0", 4));
    cr_assert_eq(silt_bpe_token_id(g, "  ", 2), silt_bpe_token_id(g, "\xc4\xa0\xc4\xa0", 4));
    cr_assert_eq(silt_bpe_token_id(j, "no such token", 13), -1);
    cr_assert_null(silt_bpe_token(j, -1));
    cr_assert_null(silt_bpe_token(j, silt_bpe_vocab_size(j)));
    cr_assert_eq(silt_bpe_eos_id(j), -1, "tokenizer.json states no EOS");
    silt_bpe_free(j);
    silt_bpe_free(g);
}

/* Decodes ids back to bytes through the byte-level alphabet (test-side inverse). */
static char *decode(const silt_bpe *b, const int32_t *ids, int n, size_t *len) {
    int inv[0x180];
    memset(inv, -1, sizeof inv);
    for (int c = 0, k = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
        inv[printable ? c : 256 + k++] = c;
    }
    size_t cap = 16;
    char *out = malloc(cap);
    *len = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *t = (const unsigned char *)silt_bpe_token(b, ids[i]);
        cr_assert_not_null(t);
        for (size_t k = 0; t[k];) {
            int cp = t[k] < 0x80 ? t[k] : ((t[k] & 0x1F) << 6) | (t[k + 1] & 0x3F);
            k += t[k] < 0x80 ? 1 : 2;
            cr_assert(cp < 0x180 && inv[cp] >= 0, "token %d is not byte-level", ids[i]);
            if (*len + 1 >= cap) out = realloc(out, cap *= 2);
            out[(*len)++] = (char)inv[cp];
        }
    }
    return out;
}

Test(bpe, ids_decode_back_to_the_text) {
    silt_bpe *b = load_gguf(NEOX_GGUF);
    /* ASCII without runs of spaces (added tokens are stored as text, not byte-level). */
    srand(3);
    for (int r = 0; r < 200; r++) {
        char s[80];
        int n = 1 + rand() % 79;
        for (int i = 0; i < n; i++) {
            s[i] = (char)(32 + rand() % 95);
            if (s[i] == ' ' && i > 0 && s[i - 1] == ' ') s[i] = 'x';
        }
        int32_t *ids;
        int k;
        encode(b, s, (size_t)n, 0, &ids, &k);
        size_t len;
        char *back = decode(b, ids, k, &len);
        cr_assert(len == (size_t)n && memcmp(back, s, len) == 0, "round trip of '%.*s'", n, s);
        free(back);
        free(ids);
    }
    silt_bpe_free(b);
}

Test(bpe, invalid_utf8_reads_as_replacement_characters) {
    silt_bpe *b = load_gguf(NEOX_GGUF);
    /* Each maximal ill-formed subpart is one U+FFFD (WHATWG / from_utf8_lossy). */
    const struct {
        const char *bad, *good;
    } cases[] = {
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},
        {"\xe2\x82", "\xef\xbf\xbd"},                      /* truncated 3-byte sequence */
        {"\xc0\xaf!", "\xef\xbf\xbd\xef\xbf\xbd!"},         /* overlong */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"x\xf4\x90\x80\x80", "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\x80\x80 ok", "\xef\xbf\xbd\xef\xbf\xbd ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t *x, *y;
        int nx, ny;
        encode(b, cases[i].bad, strlen(cases[i].bad), 0, &x, &nx);
        encode(b, cases[i].good, strlen(cases[i].good), 0, &y, &ny);
        cr_assert(nx == ny && nx > 0 && memcmp(x, y, (size_t)nx * sizeof *x) == 0, "case %zu", i);
        free(x);
        free(y);
    }
    /* Embedded NUL is an ordinary byte. */
    int32_t *ids;
    int n;
    encode(b, "a\0b", 3, 0, &ids, &n);
    cr_assert_eq(n, 3);
    free(ids);
    silt_bpe_free(b);
}

Test(bpe, special_tokens_only_when_asked) {
    silt_bpe *b = load_gguf(NEOX_GGUF);
    int32_t *ids;
    int n;
    encode(b, "a<|endoftext|>", 14, 1, &ids, &n);
    cr_assert(n == 2 && ids[1] == 0, "parsed as the special token");
    free(ids);
    encode(b, "a<|endoftext|>", 14, 0, &ids, &n);
    cr_assert_gt(n, 2);
    for (int i = 0; i < n; i++) cr_assert_neq(ids[i], 0, "plain text must not give EOS");
    free(ids);
    /* Runs of spaces are added tokens either way ("  " = 50276), leftmost-longest. */
    encode(b, "x     y", 7, 0, &ids, &n);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[1], 50273); /* five spaces */
    free(ids);
    silt_bpe_free(b);
}

Test(bpe, max_ids_gives_a_prefix) {
    silt_bpe *b = load_gguf(NEOX_GGUF);
    const char *s = "The quick brown fox, naïve café, jumps over   the lazy dog's 123 tail.";
    int32_t *all, *part;
    int n_all, n_part;
    char *err = NULL;
    encode(b, s, strlen(s), 0, &all, &n_all);
    for (int k = 0; k <= n_all + 2; k++) {
        cr_assert_eq(silt_bpe_encode(b, s, strlen(s), 0, k, &part, &n_part, &err), 0);
        cr_assert_eq(n_part, k < n_all ? k : n_all);
        cr_assert(n_part == 0 || memcmp(part, all, (size_t)n_part * sizeof *part) == 0);
        free(part);
    }
    free(all);
    silt_bpe_free(b);
}

Test(bpe, max_ids_on_long_text_reads_only_a_prefix) {
    /* 400 kB of mixed text: the prefix read for a few thousand ids ends well before the end,
     * and must give exactly the first ids of the whole encoding. */
    silt_bpe *b = load_gguf(NEOX_GGUF);
    const char *parts[] = {"word ", "  two spaces ", "\n\n", "naïve café ", "東京 ", "x's ",
                           "3.14 ", "!!  ", "\u3000 ", "e\xcc\x81 ", "\xff ", "tab\t"};
    size_t cap = 400000, n = 0;
    char *s = malloc(cap + 64);
    srand(5);
    while (n < cap) {
        const char *p = parts[rand() % (int)(sizeof parts / sizeof *parts)];
        memcpy(s + n, p, strlen(p));
        n += strlen(p);
    }
    int32_t *all, *part;
    int n_all, n_part;
    char *err = NULL;
    encode(b, s, n, 0, &all, &n_all);
    const int limits[] = {1, 4095, 5000, 20000, n_all, n_all + 1};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        cr_assert_eq(silt_bpe_encode(b, s, n, 0, limits[i], &part, &n_part, &err), 0);
        cr_assert_eq(n_part, limits[i] < n_all ? limits[i] : n_all);
        cr_assert(memcmp(part, all, (size_t)n_part * sizeof *part) == 0, "limit %d", limits[i]);
        free(part);
    }
    free(all);
    free(s);
    silt_bpe_free(b);
}

Test(bpe, long_words_stay_fast) {
    /* One pre-token of 300 kB: merging must not be quadratic in the word length. */
    silt_bpe *b = load_gguf(NEOX_GGUF);
    size_t n = 300000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int32_t *ids;
    int k;
    encode(b, s, n, 0, &ids, &k);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    size_t len;
    char *back = decode(b, ids, k, &len);
    cr_assert(len == n && memcmp(back, s, n) == 0);
    cr_assert_lt(sec, 2.0, "300 kB word took %.2f s", sec);
    free(back);
    free(ids);
    free(s);
    silt_bpe_free(b);
}

Test(bpe, malformed_tokenizer_json_is_a_clear_error) {
    const char *vocab = "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}";
    char buf[1024];
    char *e = json_error("{not json");
    cr_assert(strstr(e, "not valid JSON"), "%s", e);
    free(e);
    e = json_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}, \"merges\": []}}");
    cr_assert(strstr(e, "not BPE"), "%s", e);
    free(e);
    snprintf(buf, sizeof buf, "{\"model\": {%s, \"merges\": [\"a c\"]}, \"pre_tokenizer\": "
             "{\"type\": \"ByteLevel\"}}", vocab);
    e = json_error(buf);
    cr_assert(strstr(e, "merge 0") && strstr(e, "not in the vocabulary"), "%s", e);
    free(e);
    snprintf(buf, sizeof buf, "{\"model\": {%s, \"merges\": [\"a b c\"]}, \"pre_tokenizer\": "
             "{\"type\": \"ByteLevel\"}}", vocab);
    e = json_error(buf);
    cr_assert(strstr(e, "one space"), "%s", e);
    free(e);
    snprintf(buf, sizeof buf, "{\"model\": {%s, \"merges\": []}, \"pre_tokenizer\": "
             "{\"type\": \"Metaspace\"}}", vocab);
    e = json_error(buf);
    cr_assert(strstr(e, "pre_tokenizer \"Metaspace\""), "%s", e);
    free(e);
    snprintf(buf, sizeof buf, "{\"model\": {%s, \"merges\": []}, \"normalizer\": {\"type\": "
             "\"Lowercase\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", vocab);
    e = json_error(buf);
    cr_assert(strstr(e, "normalizer \"Lowercase\""), "%s", e);
    free(e);
    snprintf(buf, sizeof buf, "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}, "
             "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    e = json_error(buf);
    cr_assert(strstr(e, "id 0 is given to both"), "%s", e);
    free(e);
    e = json_error("{\"model\": {\"vocab\": {\"a\": -3}, \"merges\": []}}");
    cr_assert(strstr(e, "no valid id"), "%s", e);
    free(e);
    e = json_error("{\"model\": {\"vocab\": {}, \"merges\": []}}");
    cr_assert(strstr(e, "empty"), "%s", e);
    free(e);
    /* A well-formed minimal tokenizer loads, with merges given as pairs. */
    snprintf(buf, sizeof buf, "{\"model\": {%s, \"merges\": [[\"a\", \"b\"]]}, "
             "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", vocab);
    char *err = NULL;
    silt_bpe *b = silt_bpe_from_tokenizer_json(buf, strlen(buf), &err);
    cr_assert_not_null(b, "%s", err);
    int32_t *ids;
    int n;
    encode(b, "abba", 4, 0, &ids, &n);
    cr_assert(n == 3 && ids[0] == 2 && ids[1] == 1 && ids[2] == 0);
    free(ids);
    /* Bytes with no symbol in the vocabulary are dropped, as HF does without unk_token. */
    encode(b, "a-b", 3, 0, &ids, &n);
    cr_assert(n == 2 && ids[0] == 0 && ids[1] == 1);
    free(ids);
    silt_bpe_free(b);
}

Test(bpe, gguf_of_another_tokenizer_is_refused) {
    char *err = NULL;
    silt_gguf *g = silt_gguf_open("tests/data/llama-vocab/ggml-vocab-bert-bge.gguf", &err);
    cr_assert_not_null(g, "%s", err);
    cr_assert_null(silt_bpe_from_gguf(g, 1, &err));
    cr_assert(strstr(err, "expected \"gpt2\""), "%s", err);
    free(err);
    silt_gguf_close(g);
}

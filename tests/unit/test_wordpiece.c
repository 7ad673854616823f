/* test_wordpiece.c: the WordPiece tokenizer (core/wordpiece.c).
 *
 * Real cases: llama.cpp's ggml-vocab-bert-bge.gguf.inp/.out (token ids produced by Hugging
 * Face tokenizers for 46 texts: accents, CJK, emoji, whitespace runs, code) must be matched
 * exactly, and the golden ids of tests/data/tiny_bert_gold.json (from an independent Python
 * implementation, cross-checked against npm @huggingface/tokenizers) from each vocabulary
 * source: vocab.txt, tokenizer.json and GGUF metadata. Then invalid UTF-8, long words,
 * truncation, special tokens typed in the text, and broken vocabularies. */
#include <cjson/cJSON.h>

#include "core/gguf.h"
#include "core/wordpiece.h"
#include "tests/unit/modeltest_util.h"

#define BGE "tests/data/llama-vocab/ggml-vocab-bert-bge.gguf"
#define VOCAB "tests/data/tiny-bert/vocab.txt"

static silt_wordpiece *bge(silt_gguf **g) {
    char *err = NULL;
    *g = silt_gguf_open(BGE, &err);
    cr_assert_not_null(*g, "%s", err);
    silt_wordpiece *wp = silt_wordpiece_from_gguf(*g, &err);
    cr_assert_not_null(wp, "%s", err);
    return wp;
}

static silt_wordpiece *uncased(void) {
    char *err = NULL;
    silt_wordpiece *wp = silt_wordpiece_from_vocab_txt(VOCAB, NULL, &err);
    cr_assert_not_null(wp, "%s", err);
    return wp;
}

/* Pieces of text (no special tokens) as " id id id", the .out format. */
static void pieces_str(const silt_wordpiece *wp, const char *text, size_t len, char *buf,
                       size_t cap) {
    int32_t *ids;
    int n, complete;
    char *err = NULL;
    cr_assert_eq(silt_wordpiece_tokenize(wp, text, len, -1, &ids, &n, &complete, &err), 0, "%s",
                 err);
    cr_assert(complete);
    buf[0] = 0;
    for (int i = 0; i < n; i++) snprintf(buf + strlen(buf), cap - strlen(buf), " %d", ids[i]);
    free(ids);
}

Test(wordpiece, llama_cpp_bert_bge_cases) {
    silt_gguf *g;
    silt_wordpiece *wp = bge(&g);
    size_t n_in = 0, n_out = 0;
    char *in = mt_read(BGE ".inp", &n_in), *out = mt_read(BGE ".out", &n_out);
    cr_assert(in && out);
    /* Cases are separated by "\n__ggml_vocab_test__\n"; .out has one line per case. */
    const char *sep = "\n__ggml_vocab_test__\n";
    char *pos = in, *line = out;
    int total = 0, matched = 0;
    static char got[65536];
    while (pos < in + n_in) {
        char *next = strstr(pos, sep);
        size_t len = next ? (size_t)(next - pos) : strlen(pos);
        char *eol = strchr(line, '\n');
        cr_assert_not_null(eol, "fewer expected lines than cases");
        *eol = 0;
        pieces_str(wp, pos, len, got, sizeof got);
        total++;
        if (strcmp(got, line) == 0) matched++;
        else cr_log_error("case %d '%.*s':\n got %s\n want %s", total, (int)len, pos, got, line);
        line = eol + 1;
        if (!next) break;
        pos = next + strlen(sep);
    }
    fprintf(stderr, "wordpiece: llama.cpp bert-bge cases matched %d/%d\n", matched, total);
    cr_assert_eq(total, 46);
    cr_assert_eq(matched, total);
    free(in);
    free(out);
    silt_wordpiece_free(wp);
    silt_gguf_close(g);
}

/* Checks every golden text's ids (with [CLS]/[SEP] and the window) against wp. */
static void check_gold_ids(const silt_wordpiece *wp, const char *variant) {
    char *s = mt_read("tests/data/tiny_bert_gold.json", NULL);
    cr_assert_not_null(s);
    cJSON *g = cJSON_Parse(s);
    free(s);
    const cJSON *texts = cJSON_GetObjectItem(g, "texts");
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), variant);
    const int window = cJSON_GetObjectItem(v, "window")->valueint;
    const cJSON *want = cJSON_GetObjectItem(v, "ids");
    for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
        const char *t = cJSON_GetArrayItem(texts, i)->valuestring;
        int32_t *ids;
        int n;
        char *err = NULL;
        cr_assert_eq(silt_wordpiece_encode(wp, t, strlen(t), window, 1, &ids, &n, &err), 0);
        const cJSON *w = cJSON_GetArrayItem(want, i);
        cr_assert_eq(n, cJSON_GetArraySize(w), "%s text %d: %d ids, golden %d", variant, i, n,
                     cJSON_GetArraySize(w));
        for (int k = 0; k < n; k++)
            cr_assert_eq(ids[k], cJSON_GetArrayItem(w, k)->valueint, "%s text %d id %d", variant,
                         i, k);
        free(ids);
    }
    cJSON_Delete(g);
}

Test(wordpiece, golden_ids_from_vocab_txt) {
    silt_wordpiece *wp = uncased();
    cr_assert_eq(silt_wordpiece_vocab_size(wp), 30522);
    check_gold_ids(wp, "hf");
    silt_wordpiece_free(wp);
}

Test(wordpiece, golden_ids_from_gguf_metadata) {
    char *err = NULL;
    silt_gguf *g = silt_gguf_open("tests/data/tiny-bert-q8_0.gguf", &err);
    cr_assert_not_null(g, "%s", err);
    silt_wordpiece *wp = silt_wordpiece_from_gguf(g, &err);
    cr_assert_not_null(wp, "%s", err);
    check_gold_ids(wp, "gguf_q8_0");
    /* The two GGUF conventions (old: "[unused0]" bare; new: control tokens only) give the
     * same vocabulary as vocab.txt. */
    silt_gguf *g2;
    silt_wordpiece *old = bge(&g2), *txt = uncased();
    for (int32_t id = 0; id < 30522; id++) {
        cr_assert_str_eq(silt_wordpiece_token(wp, id), silt_wordpiece_token(txt, id), "id %d", id);
        cr_assert_str_eq(silt_wordpiece_token(old, id), silt_wordpiece_token(txt, id), "id %d", id);
    }
    silt_wordpiece_free(old);
    silt_wordpiece_free(txt);
    silt_gguf_close(g2);
    silt_wordpiece_free(wp);
    silt_gguf_close(g);
}

/* Writes a tokenizer.json for the tiny vocabulary into dir (model type and normalizer
 * configurable), as Hugging Face's tokenizers library saves one. */
static void write_tokenizer_json(const char *dir, const char *model_type, const char *pre_type,
                                 int lowercase) {
    size_t n = 0;
    char *v = mt_read(VOCAB, &n);
    cJSON *root = cJSON_CreateObject(), *model = cJSON_CreateObject(), *vocab = cJSON_CreateObject();
    cJSON *norm = cJSON_CreateObject();
    cJSON_AddStringToObject(norm, "type", "BertNormalizer");
    cJSON_AddBoolToObject(norm, "clean_text", 1);
    cJSON_AddBoolToObject(norm, "handle_chinese_chars", 1);
    cJSON_AddNullToObject(norm, "strip_accents");
    cJSON_AddBoolToObject(norm, "lowercase", lowercase);
    cJSON_AddItemToObject(root, "normalizer", norm);
    cJSON *pre = cJSON_CreateObject();
    cJSON_AddStringToObject(pre, "type", pre_type);
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    int id = 0;
    for (char *p = v, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = 0;
        cJSON_AddNumberToObject(vocab, p, id++);
    }
    cJSON_AddStringToObject(model, "type", model_type);
    cJSON_AddStringToObject(model, "unk_token", "[UNK]");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "##");
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", 100);
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(root, "model", model);
    char *text = cJSON_PrintUnformatted(root);
    char *p = mt_path(dir, "tokenizer.json");
    mt_write_str(p, text);
    free(p);
    free(text);
    cJSON_Delete(root);
    free(v);
}

Test(wordpiece, golden_ids_from_tokenizer_json) {
    char *d = mt_tmpdir(), *err = NULL;
    write_tokenizer_json(d, "WordPiece", "BertPreTokenizer", 1);
    silt_wordpiece *wp = silt_wordpiece_from_hf_dir(d, &err);
    cr_assert_not_null(wp, "%s", err);
    check_gold_ids(wp, "hf");
    silt_wordpiece_free(wp);
    /* lowercase false from the normalizer: "Hello" is not in an uncased vocabulary. */
    write_tokenizer_json(d, "WordPiece", "BertPreTokenizer", 0);
    wp = silt_wordpiece_from_hf_dir(d, &err);
    cr_assert_not_null(wp, "%s", err);
    char got[256];
    pieces_str(wp, "Hello hello", 11, got, sizeof got);
    cr_assert_str_eq(got, " 100 7592");
    silt_wordpiece_free(wp);
    write_tokenizer_json(d, "WordPiece", "Metaspace", 1);
    cr_assert_null(silt_wordpiece_from_hf_dir(d, &err));
    cr_assert(strstr(err, "pre_tokenizer 'Metaspace' is not supported"), "%s", err);
    write_tokenizer_json(d, "BPE", "ByteLevel", 1);
    cr_assert_null(silt_wordpiece_from_hf_dir(d, &err));
    cr_assert(strstr(err, "tokenizer model type is 'BPE'"), "%s", err);
    char *p = mt_path(d, "tokenizer.json");
    mt_write_str(p, "{\"model\": ");
    cr_assert_null(silt_wordpiece_from_hf_dir(d, &err));
    cr_assert(strstr(err, "not valid JSON"), "%s", err);
    free(p);
    free(err);
    mt_rmrf(d);
}

Test(wordpiece, invalid_utf8_never_fails) {
    silt_wordpiece *wp = uncased();
    char a[256], b[256];
    /* A stray byte reads as U+FFFD, which cleaning drops: "a\xffb" tokenizes as "ab". */
    pieces_str(wp, "a\xff" "b", 3, a, sizeof a);
    pieces_str(wp, "ab", 2, b, sizeof b);
    cr_assert_str_eq(a, b);
    static const char *const bad[] = {
        "caf\xc3",             /* truncated 2-byte sequence at the end */
        "\xed\xa0\x80 x",      /* UTF-16 surrogate */
        "\xc0\xaf slash",      /* overlong encoding */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\x80\x80\x80",         /* continuation bytes alone */
        "\xe2\x82",             /* cut 3-byte sequence */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids;
        int n;
        char *err = NULL;
        cr_assert_eq(silt_wordpiece_encode(wp, bad[i], strlen(bad[i]), 512, 1, &ids, &n, &err), 0,
                     "case %zu: %s", i, err ? err : "");
        cr_assert_geq(n, 2);
        free(ids);
    }
    /* Embedded NUL bytes are dropped like other control characters. */
    pieces_str(wp, "a\0b", 3, a, sizeof a);
    cr_assert_str_eq(a, b);
    silt_wordpiece_free(wp);
}

Test(wordpiece, long_words_become_unk) {
    silt_wordpiece *wp = uncased();
    char text[256], got[256];
    memset(text, 'a', 100);
    strcpy(text + 100, " a");
    pieces_str(wp, text, strlen(text), got, sizeof got);
    /* 100 characters are still split into pieces ... */
    cr_assert_str_neq(got, " 100 1037");
    memset(text, 'a', 101);
    strcpy(text + 101, " a");
    pieces_str(wp, text, strlen(text), got, sizeof got);
    /* ... 101 are [UNK] */
    cr_assert_str_eq(got, " 100 1037");
    /* characters, not bytes: 60 two-byte letters are 60 characters */
    char *p = text;
    for (int i = 0; i < 60; i++) p += sprintf(p, "\xc3\xa9");
    pieces_str(wp, text, strlen(text), got, sizeof got);
    cr_assert_str_neq(got, " 100");
    silt_wordpiece_free(wp);
}

Test(wordpiece, truncation_and_huge_text) {
    silt_wordpiece *wp = uncased();
    size_t len = 8u << 20; /* 8 MB of "hello " */
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++) text[i] = "hello "[i % 6];
    int32_t *ids;
    int n;
    char *err = NULL;
    cr_assert_eq(silt_wordpiece_encode(wp, text, len, 8, 1, &ids, &n, &err), 0);
    cr_assert_eq(n, 8);
    int32_t want[8] = {101, 7592, 7592, 7592, 7592, 7592, 7592, 102};
    cr_assert_arr_eq(ids, want, sizeof want);
    free(ids);
    cr_assert_eq(silt_wordpiece_encode(wp, text, len, 8, 0, &ids, &n, &err), -1);
    cr_assert(strstr(err, "window of 8"), "%s", err);
    /* 6 words fit exactly: no error without truncation. */
    cr_assert_eq(silt_wordpiece_encode(wp, text, 6 * 6, 8, 0, &ids, &n, &err), 0);
    cr_assert_eq(n, 8);
    free(ids);
    cr_assert_eq(silt_wordpiece_encode(wp, text, 6 * 6, 1, 1, &ids, &n, &err), -1);
    cr_assert(strstr(err, "cannot hold"), "%s", err);
    free(err);
    free(text);
    silt_wordpiece_free(wp);
}

Test(wordpiece, special_tokens_in_text) {
    silt_wordpiece *wp = uncased();
    char got[256];
    /* Matched verbatim, case-sensitive, even inside words; lower case is plain text. */
    pieces_str(wp, "a[SEP]b [MASK] [mask]", 21, got, sizeof got);
    cr_assert_str_eq(got, " 1037 102 1038 103 1031 7308 1033");
    cr_assert_eq(silt_wordpiece_id(wp, "##ing", 5), 2075);
    cr_assert_eq(silt_wordpiece_id(wp, "nonexistenttoken", 16), -1);
    cr_assert_eq(silt_wordpiece_cls_id(wp), 101);
    cr_assert_eq(silt_wordpiece_sep_id(wp), 102);
    cr_assert_eq(silt_wordpiece_pad_id(wp), 0);
    cr_assert_eq(silt_wordpiece_unk_id(wp), 100);
    silt_wordpiece_free(wp);
}

Test(wordpiece, broken_vocabularies) {
    char *d = mt_tmpdir(), *err = NULL;
    char *p = mt_path(d, "vocab.txt");
    mt_write_str(p, "[PAD]\n[CLS]\n[SEP]\nhello\n");
    cr_assert_null(silt_wordpiece_from_vocab_txt(p, NULL, &err));
    cr_assert(strstr(err, "no [UNK] token"), "%s", err);
    mt_write_str(p, "");
    cr_assert_null(silt_wordpiece_from_vocab_txt(p, NULL, &err));
    cr_assert(strstr(err, "vocabulary size 0"), "%s", err);
    cr_assert_null(silt_wordpiece_from_hf_dir("tests/data/none", &err));
    cr_assert(strstr(err, "vocab.txt"), "%s", err);
    /* CRLF line ends are tolerated. */
    mt_write_str(p, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\n##s\r\n");
    silt_wordpiece *wp = silt_wordpiece_from_vocab_txt(p, NULL, &err);
    cr_assert_not_null(wp, "%s", err);
    char got[64];
    pieces_str(wp, "His", 3, got, sizeof got);
    cr_assert_str_eq(got, " 4 5");
    silt_wordpiece_free(wp);
    /* A GGUF whose tokenizer is not WordPiece. */
    silt_gguf *g = silt_gguf_open("tests/data/llama-vocab/ggml-vocab-gpt-neox.gguf", &err);
    cr_assert_not_null(g, "%s", err);
    cr_assert_null(silt_wordpiece_from_gguf(g, &err));
    cr_assert(strstr(err, "tokenizer.ggml.model is 'gpt2'"), "%s", err);
    silt_gguf_close(g);
    free(err);
    free(p);
    mt_rmrf(d);
}

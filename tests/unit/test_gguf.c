/* test_gguf.c: the GGUF reader (core/gguf.c) on the committed files (tiny BERT variants,
 * llama.cpp's bert-bge vocabulary) and on hand-made files that lie in every way a header
 * can: each must be a clean error naming the problem, never a crash. */
#include <math.h>

#include "core/gguf.h"
#include "core/half.h"
#include "tests/unit/modeltest_util.h"

#define F16_GGUF "tests/data/tiny-bert-f16.gguf"
#define Q8_GGUF "tests/data/tiny-bert-q8_0.gguf"
#define BGE_VOCAB "tests/data/llama-vocab/ggml-vocab-bert-bge.gguf"

/* ---- real files ---------------------------------------------------------------------------- */

Test(gguf, reads_metadata_of_tiny_bert) {
    char *err = NULL;
    silt_gguf *g = silt_gguf_open(F16_GGUF, &err);
    cr_assert_not_null(g, "%s", err);
    cr_assert_eq(silt_gguf_version(g), 3);
    const char *s;
    size_t len;
    cr_assert_eq(silt_gguf_get_str(g, "general.architecture", &s, &len, &err), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(memcmp(s, "bert", 4), 0);
    int64_t v;
    cr_assert_eq(silt_gguf_get_int(g, "bert.block_count", &v, &err), 0);
    cr_assert_eq(v, 2);
    cr_assert_eq(silt_gguf_get_int(g, "bert.attention.causal", &v, &err), 0); /* a BOOL */
    cr_assert_eq(v, 0);
    double eps;
    cr_assert_eq(silt_gguf_get_float(g, "bert.attention.layer_norm_epsilon", &eps, &err), 0);
    cr_assert_float_eq(eps, 1e-12, 1e-18);
    const silt_gguf_kv *toks = silt_gguf_find_kv(g, "tokenizer.ggml.tokens");
    cr_assert_not_null(toks);
    cr_assert_eq(toks->type, SILT_GGUF_ARRAY);
    cr_assert_eq(toks->arr_type, SILT_GGUF_STRING);
    cr_assert_eq(toks->n, 30522);
    s = silt_gguf_arr_str(toks, 101, &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(s, "[CLS]", 5), 0);
    const silt_gguf_kv *types = silt_gguf_find_kv(g, "tokenizer.ggml.token_type");
    cr_assert_eq(silt_gguf_arr_int(types, 101), 3);
    cr_assert_eq(silt_gguf_arr_int(types, 2000), 1);
    /* Wrong-type and missing keys are errors that name the key. */
    cr_assert_eq(silt_gguf_get_int(g, "general.architecture", &v, &err), -1);
    cr_assert(strstr(err, "general.architecture") && strstr(err, "not an integer"), "%s", err);
    cr_assert_eq(silt_gguf_get_str(g, "no.such.key", &s, &len, &err), -1);
    cr_assert(strstr(err, "no.such.key") && strstr(err, "missing"), "%s", err);
    const silt_gguf_tensor *t = silt_gguf_find_tensor(g, "token_embd.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->type, SILT_GGML_F16);
    cr_assert_eq(t->n_dims, 2);
    cr_assert_eq(t->ne[0], 32);
    cr_assert_eq(t->ne[1], 30522);
    cr_assert_eq((uintptr_t)t->data % 32, 0, "tensor data must be aligned");
    cr_assert_null(silt_gguf_find_tensor(g, "token_embd"));
    free(err);
    silt_gguf_close(g);
}

Test(gguf, q8_0_dequantises_close_to_f16) {
    char *err = NULL;
    silt_gguf *a = silt_gguf_open(F16_GGUF, &err), *b = silt_gguf_open(Q8_GGUF, &err);
    cr_assert(a && b, "%s", err);
    const silt_gguf_tensor *ta = silt_gguf_find_tensor(a, "blk.1.ffn_down.weight");
    const silt_gguf_tensor *tb = silt_gguf_find_tensor(b, "blk.1.ffn_down.weight");
    cr_assert_eq(tb->type, SILT_GGML_Q8_0);
    cr_assert_eq(ta->n_elems, tb->n_elems);
    float *fa = malloc(ta->n_elems * sizeof(float)), *fb = malloc(tb->n_elems * sizeof(float));
    cr_assert_eq(silt_gguf_tensor_to_f32(ta, fa, &err), 0);
    cr_assert_eq(silt_gguf_tensor_to_f32(tb, fb, &err), 0);
    /* Q8_0's error is at most half a step of each 32-block's scale (amax / 127). */
    double worst = 0;
    for (uint64_t blk = 0; blk < ta->n_elems / 32; blk++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(fa[blk * 32 + j]));
        for (int j = 0; j < 32; j++) {
            double e = fabs(fa[blk * 32 + j] - fb[blk * 32 + j]);
            cr_assert_leq(e, amax / 127.0 * 0.51 + 2e-3 * amax, "block %llu", (unsigned long long)blk);
            if (e > worst) worst = e;
        }
    }
    cr_assert_gt(worst, 0); /* really quantised */
    free(fa);
    free(fb);
    silt_gguf_close(a);
    silt_gguf_close(b);
}

Test(gguf, reads_llama_cpp_vocab_file_without_tensors) {
    char *err = NULL;
    silt_gguf *g = silt_gguf_open(BGE_VOCAB, &err);
    cr_assert_not_null(g, "%s", err);
    cr_assert_eq(silt_gguf_tensor_count(g), 0);
    cr_assert_eq(silt_gguf_kv_count(g), 20);
    int64_t v;
    cr_assert_eq(silt_gguf_get_int(g, "tokenizer.ggml.cls_token_id", &v, &err), 0);
    cr_assert_eq(v, 101);
    silt_gguf_close(g);
}

Test(gguf, missing_and_non_gguf_files) {
    char *err = NULL;
    cr_assert_null(silt_gguf_open("tests/data/no-such-file.gguf", &err));
    cr_assert(strstr(err, "cannot open") && strstr(err, "no-such-file"), "%s", err);
    cr_assert_null(silt_gguf_open("tests/data/tiny-bert/vocab.txt", &err));
    cr_assert(strstr(err, "not a GGUF file"), "%s", err);
    cr_assert_null(silt_gguf_open("tests/data", &err));
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    free(err);
}

/* ---- hand-made files ------------------------------------------------------------------------- */

/* What a hand-made file says; defaults describe a valid file. */
typedef struct {
    const char *magic;
    uint32_t version;
    uint64_t n_kv_extra, n_tensors_extra; /* added to the true counts in the header */
    uint32_t alignment;
    uint32_t a_type;     /* tensor "a": ne {a_ne0, 2} */
    uint32_t a_n_dims;
    uint64_t a_ne0;
    uint64_t a_offset;
    uint64_t b_offset;   /* tensor "b": Q8_0, ne {32} */
    const char *b_name;
    uint64_t key_len_extra; /* added to the first key's length */
    int dup_key;
    uint32_t arr_elem_type; /* element type of "test.floats" */
    uint32_t value_type;    /* value type of "test.u32" */
} lies;

static lies valid(void) {
    return (lies){.magic = "GGUF", .version = 3, .alignment = 32, .a_type = SILT_GGML_F32,
                  .a_n_dims = 2, .a_ne0 = 4, .a_offset = 0, .b_offset = 32, .b_name = "b",
                  .arr_elem_type = SILT_GGUF_F32, .value_type = SILT_GGUF_U32};
}

/* Builds the file: 5 keys, tensors "a" (values 0..7 in a_type) and "b" (Q8_0, d = 0.5,
 * q = -16..15). Nothing follows b's last byte, so any shorter prefix is truncated. */
static mt_buf build(const lies *l) {
    mt_buf b = {0};
    mt_put(&b, l->magic, 4);
    mt_u32(&b, l->version);
    mt_u64(&b, 2 + l->n_tensors_extra);
    mt_u64(&b, 5 + (l->dup_key ? 1 : 0) + l->n_kv_extra);
    mt_u64(&b, strlen("general.architecture") + l->key_len_extra);
    mt_put(&b, "general.architecture", strlen("general.architecture"));
    mt_u32(&b, SILT_GGUF_STRING);
    mt_str(&b, "test");
    mt_str(&b, "general.alignment");
    mt_u32(&b, SILT_GGUF_U32);
    mt_u32(&b, l->alignment);
    mt_str(&b, "test.floats");
    mt_u32(&b, SILT_GGUF_ARRAY);
    mt_u32(&b, l->arr_elem_type);
    mt_u64(&b, 2);
    float fl[2] = {1.5f, -2.0f};
    mt_put(&b, fl, 8);
    mt_str(&b, "test.names");
    mt_u32(&b, SILT_GGUF_ARRAY);
    mt_u32(&b, SILT_GGUF_STRING);
    mt_u64(&b, 2);
    mt_str(&b, "a");
    mt_str(&b, "bc");
    mt_str(&b, "test.u32");
    mt_u32(&b, l->value_type);
    mt_u32(&b, 7);
    if (l->dup_key) {
        mt_str(&b, "test.u32");
        mt_u32(&b, SILT_GGUF_U32);
        mt_u32(&b, 8);
    }
    mt_str(&b, "a");
    mt_u32(&b, l->a_n_dims);
    mt_u64(&b, l->a_ne0);
    for (uint32_t d = 1; d < l->a_n_dims; d++) mt_u64(&b, d == 1 ? 2 : 1);
    mt_u32(&b, l->a_type);
    mt_u64(&b, l->a_offset);
    mt_str(&b, l->b_name);
    mt_u32(&b, 1);
    mt_u64(&b, 32);
    mt_u32(&b, SILT_GGML_Q8_0);
    mt_u64(&b, l->b_offset);
    mt_pad(&b, 32);
    /* tensor a: 8 values 0..7 */
    static const uint16_t f16[8] = {0x0000, 0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700};
    static const uint16_t bf16[8] = {0x0000, 0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0, 0x40C0, 0x40E0};
    size_t a_bytes = 0;
    for (int i = 0; i < 8; i++) {
        if (l->a_type == SILT_GGML_F16) mt_put(&b, &f16[i], 2), a_bytes += 2;
        else if (l->a_type == SILT_GGML_BF16) mt_put(&b, &bf16[i], 2), a_bytes += 2;
        else {
            float f = (float)i;
            mt_put(&b, &f, 4);
            a_bytes += 4;
        }
    }
    uint8_t zero[32] = {0};
    mt_put(&b, zero, 32 - a_bytes);
    uint16_t d = 0x3800; /* 0.5 */
    mt_put(&b, &d, 2);
    for (int j = 0; j < 32; j++) {
        int8_t q = (int8_t)(j - 16);
        mt_put(&b, &q, 1);
    }
    return b;
}

/* Writes the bytes to a temp file and opens it; returns the error message (malloc'd) or
 * NULL when the open succeeded. */
static char *open_bytes(const void *p, size_t n) {
    char *dir = mt_tmpdir();
    char *path = mt_path(dir, "f.gguf");
    mt_write(path, p, n);
    char *err = NULL;
    silt_gguf *g = silt_gguf_open(path, &err);
    if (g) {
        silt_gguf_close(g);
        free(err);
        err = NULL;
    } else {
        cr_assert_not_null(err, "failure without a message");
    }
    free(path);
    mt_rmrf(dir);
    return err;
}

static void expect_error(const lies *l, const char *fragment) {
    mt_buf b = build(l);
    char *err = open_bytes(b.p, b.n);
    cr_assert_not_null(err, "expected an error containing '%s'", fragment);
    cr_assert(strstr(err, fragment), "expected '%s' in: %s", fragment, err);
    free(err);
    free(b.p);
}

Test(gguf, hand_made_file_reads_back) {
    lies l = valid();
    mt_buf b = build(&l);
    char *dir = mt_tmpdir(), *path = mt_path(dir, "ok.gguf"), *err = NULL;
    mt_write(path, b.p, b.n);
    silt_gguf *g = silt_gguf_open(path, &err);
    cr_assert_not_null(g, "%s", err);
    const silt_gguf_kv *fl = silt_gguf_find_kv(g, "test.floats");
    cr_assert_eq(fl->n, 2);
    cr_assert_float_eq(silt_gguf_arr_float(fl, 1), -2.0, 0);
    size_t len;
    const char *s = silt_gguf_arr_str(silt_gguf_find_kv(g, "test.names"), 1, &len);
    cr_assert(len == 2 && memcmp(s, "bc", 2) == 0);
    float a[8], q[32];
    cr_assert_eq(silt_gguf_tensor_to_f32(silt_gguf_find_tensor(g, "a"), a, &err), 0);
    for (int i = 0; i < 8; i++) cr_assert_eq(a[i], (float)i);
    cr_assert_eq(silt_gguf_tensor_to_f32(silt_gguf_find_tensor(g, "b"), q, &err), 0);
    for (int j = 0; j < 32; j++) cr_assert_eq(q[j], 0.5f * (float)(j - 16));
    silt_gguf_close(g);
    free(path);
    mt_rmrf(dir);
    free(b.p);
}

Test(gguf, f16_and_bf16_tensors_convert_exactly) {
    uint32_t types[2] = {SILT_GGML_F16, SILT_GGML_BF16};
    for (int k = 0; k < 2; k++) {
        lies l = valid();
        l.a_type = types[k];
        mt_buf b = build(&l);
        char *dir = mt_tmpdir(), *path = mt_path(dir, "h.gguf"), *err = NULL;
        mt_write(path, b.p, b.n);
        silt_gguf *g = silt_gguf_open(path, &err);
        cr_assert_not_null(g, "%s", err);
        float a[8];
        cr_assert_eq(silt_gguf_tensor_to_f32(silt_gguf_find_tensor(g, "a"), a, &err), 0);
        for (int i = 0; i < 8; i++) cr_assert_eq(a[i], (float)i, "%s", silt_ggml_type_name(types[k]));
        silt_gguf_close(g);
        free(path);
        mt_rmrf(dir);
        free(b.p);
    }
}

Test(gguf, half_conversion_edge_values) {
    cr_assert_eq(silt_half_to_f32(0x3C00), 1.0f);
    cr_assert_eq(silt_half_to_f32(0xC000), -2.0f);
    cr_assert_eq(silt_half_to_f32(0x7BFF), 65504.0f);
    cr_assert_eq(silt_half_to_f32(0x0001), ldexpf(1.0f, -24)); /* smallest subnormal */
    cr_assert_eq(silt_half_to_f32(0x03FF), ldexpf(1023.0f, -24));
    cr_assert(isinf(silt_half_to_f32(0x7C00)) && silt_half_to_f32(0x7C00) > 0);
    cr_assert(isinf(silt_half_to_f32(0xFC00)) && silt_half_to_f32(0xFC00) < 0);
    cr_assert(isnan(silt_half_to_f32(0x7E00)));
    cr_assert(signbit(silt_half_to_f32(0x8000)));
    cr_assert_eq(silt_bf16_to_f32(0x3F80), 1.0f);
}

Test(gguf, every_truncation_is_a_clean_error) {
    lies l = valid();
    mt_buf b = build(&l);
    char *dir = mt_tmpdir(), *path = mt_path(dir, "t.gguf");
    mt_write(path, b.p, b.n);
    for (size_t n = b.n; n-- > 0;) {
        cr_assert_eq(truncate(path, (off_t)n), 0);
        char *err = NULL;
        silt_gguf *g = silt_gguf_open(path, &err);
        cr_assert_null(g, "a %zu-byte prefix of %zu opened", n, b.n);
        cr_assert_not_null(err);
        free(err);
    }
    free(path);
    mt_rmrf(dir);
    free(b.p);
}

Test(gguf, truncated_real_file) {
    size_t n;
    char *data = mt_read(Q8_GGUF, &n);
    cr_assert_not_null(data);
    char *err = open_bytes(data, n / 2);
    cr_assert(err && strstr(err, "past the end"), "%s", err ? err : "(opened)");
    free(err);
    free(data);
}

Test(gguf, lying_headers) {
    lies l;
    l = valid(), l.magic = "GGUX", expect_error(&l, "not a GGUF file");
    l = valid(), l.version = 1, expect_error(&l, "version 1 is not supported");
    l = valid(), l.version = 4, expect_error(&l, "version 4 is not supported");
    l = valid(), l.n_kv_extra = 1ull << 60, expect_error(&l, "more than the file can hold");
    l = valid(), l.n_tensors_extra = 1ull << 60, expect_error(&l, "more than the file can hold");
    l = valid(), l.n_kv_extra = 1, expect_error(&l, "");
    l = valid(), l.key_len_extra = 1ull << 40, expect_error(&l, "truncated");
    l = valid(), l.dup_key = 1, expect_error(&l, "appears twice");
    l = valid(), l.alignment = 24, expect_error(&l, "not a power of two");
    l = valid(), l.alignment = 0, expect_error(&l, "not a power of two");
    l = valid(), l.arr_elem_type = SILT_GGUF_ARRAY, expect_error(&l, "nested arrays");
    l = valid(), l.value_type = 99, expect_error(&l, "unknown value type 99");
    l = valid(), l.a_type = 99, expect_error(&l, "unknown ggml type 99");
    l = valid(), l.a_n_dims = 5, expect_error(&l, "5 dimensions");
    l = valid(), l.a_n_dims = 0, expect_error(&l, "0 dimensions");
    l = valid(), l.a_offset = 1ull << 40, expect_error(&l, "past the end");
    l = valid(), l.b_offset = 64, expect_error(&l, "past the end");
    l = valid(), l.a_offset = 8, expect_error(&l, "not a multiple of the alignment");
    l = valid(), l.b_offset = 0, expect_error(&l, "overlap");
    l = valid(), l.b_name = "a", expect_error(&l, "appears twice");
    l = valid(), l.a_type = SILT_GGML_Q8_0, expect_error(&l, "not a multiple of the Q8_0 block");
    /* A shape whose element count overflows. */
    l = valid(), l.a_ne0 = 1ull << 62, expect_error(&l, "");
}

Test(gguf, unsupported_tensor_type_is_an_error_on_read) {
    /* Q4_0 has a known size (so the file is valid) but silt cannot dequantise it. */
    lies l = valid();
    l.a_type = SILT_GGML_Q4_0;
    l.a_ne0 = 32; /* 2 blocks of 18 bytes = 36: overlaps b at 32, so move b */
    l.b_offset = 64;
    mt_buf b = build(&l);
    /* build() wrote a's data as 8 floats; pad so that b really sits at 64. */
    size_t head = b.n - 32 - 34;
    mt_buf c = {0};
    mt_put(&c, b.p, head);
    uint8_t zero[64] = {0};
    mt_put(&c, zero, 64);
    mt_put(&c, b.p + head + 32, 34);
    char *dir = mt_tmpdir(), *path = mt_path(dir, "q4.gguf"), *err = NULL;
    mt_write(path, c.p, c.n);
    silt_gguf *g = silt_gguf_open(path, &err);
    cr_assert_not_null(g, "%s", err);
    float out[64];
    cr_assert_eq(silt_gguf_tensor_to_f32(silt_gguf_find_tensor(g, "a"), out, &err), -1);
    cr_assert(strstr(err, "Q4_0") && strstr(err, "'a'"), "%s", err);
    free(err);
    silt_gguf_close(g);
    free(path);
    mt_rmrf(dir);
    free(b.p);
    free(c.p);
}

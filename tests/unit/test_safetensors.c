/* test_safetensors.c: the safetensors reader (core/safetensors.c) on the committed tiny BERT
 * checkpoint and on hand-made files whose headers lie: each lie must be a clean error that
 * names the problem, never a crash or a read outside the file. Also sharded checkpoints. */
#include <math.h>

#include "core/safetensors.h"
#include "tests/unit/modeltest_util.h"

#define HF_WEIGHTS "tests/data/tiny-bert/model.safetensors"

Test(safetensors, reads_tiny_bert_checkpoint) {
    char *err = NULL;
    silt_safetensors *st = silt_safetensors_open(HF_WEIGHTS, &err);
    cr_assert_not_null(st, "%s", err);
    /* 5 embedding tensors + 2 x 16 per layer + pooler (2) + position_ids */
    cr_assert_eq(silt_safetensors_count(st), 5 + 32 + 2 + 1);
    const silt_st_tensor *t = silt_safetensors_find(st, "embeddings.word_embeddings.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, SILT_ST_F16);
    cr_assert_eq(t->n_dims, 2);
    cr_assert_eq(t->shape[0], 30522);
    cr_assert_eq(t->shape[1], 32);
    cr_assert_eq(t->n_bytes, 30522u * 32 * 2);
    float *w = malloc(t->n_elems * sizeof *w);
    cr_assert_eq(silt_st_tensor_to_f32(t, w, &err), 0);
    double sum_sq = 0;
    for (uint64_t i = 0; i < t->n_elems; i++) sum_sq += (double)w[i] * w[i];
    /* generated with std 0.5 */
    cr_assert_float_eq(sqrt(sum_sq / (double)t->n_elems), 0.5, 0.01);
    free(w);
    /* The I64 buffer is listed (the file is valid) but cannot be read as floats. */
    t = silt_safetensors_find(st, "embeddings.position_ids");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, SILT_ST_I64);
    float tmp[64];
    cr_assert_eq(silt_st_tensor_to_f32(t, tmp, &err), -1);
    cr_assert(strstr(err, "embeddings.position_ids") && strstr(err, "dtype I64"), "%s", err);
    cr_assert_null(silt_safetensors_find(st, "embeddings"));
    cr_assert_null(silt_safetensors_find(st, "zzz"));
    free(err);
    silt_safetensors_close(st);
}

/* ---- hand-made files ---------------------------------------------------------------------- */

/* Writes header JSON + data bytes into dir/name (u64 length prefix as the format says,
 * plus extra added to the stated length). */
static void write_st(const char *dir, const char *name, const char *header, const void *data,
                     size_t data_bytes, uint64_t extra) {
    char *p = mt_path(dir, name);
    mt_buf b = {0};
    mt_u64(&b, strlen(header) + extra);
    mt_put(&b, header, strlen(header));
    mt_put(&b, data, data_bytes);
    mt_write(p, b.p, b.n);
    free(b.p);
    free(p);
}

/* Opens dir/name and returns the error (the open must fail). */
static char *st_error(const char *dir, const char *name) {
    char *p = mt_path(dir, name), *err = NULL;
    silt_safetensors *st = silt_safetensors_open(p, &err);
    cr_assert_null(st, "%s opened but should not have", p);
    cr_assert_not_null(err);
    free(p);
    return err;
}

static const float DATA[6] = {1, 2, 3, 4, 5, 6};

static void expect(const char *header, size_t data_bytes, uint64_t extra, const char *fragment) {
    char *d = mt_tmpdir();
    write_st(d, "x.safetensors", header, DATA, data_bytes, extra);
    char *err = st_error(d, "x.safetensors");
    cr_assert(strstr(err, fragment), "header %s: expected '%s' in: %s", header, fragment, err);
    free(err);
    mt_rmrf(d);
}

#define OK_HEADER                                                                           \
    "{\"__metadata__\":{\"format\":\"pt\"},"                                                \
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"                    \
    "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]},"                     \
    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[20,24]}}"

Test(safetensors, hand_made_file_reads_back) {
    char *d = mt_tmpdir(), *err = NULL;
    uint8_t data[24];
    memcpy(data, DATA, 16);
    uint16_t h[4] = {0x3C00, 0xC100 /* -2.5 */, 0x3F80, 0xC020 /* -2.5 */};
    memcpy(data + 16, h, 8);
    /* Header padded with spaces, as writers do for alignment. */
    write_st(d, "ok.safetensors", OK_HEADER "      ", data, sizeof data, 0);
    char *p = mt_path(d, "ok.safetensors");
    silt_safetensors *st = silt_safetensors_open(p, &err);
    cr_assert_not_null(st, "%s", err);
    float out[4];
    cr_assert_eq(silt_st_tensor_to_f32(silt_safetensors_find(st, "a"), out, &err), 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(out[i], (float)(i + 1));
    cr_assert_eq(silt_st_tensor_to_f32(silt_safetensors_find(st, "b"), out, &err), 0);
    cr_assert(out[0] == 1.0f && out[1] == -2.5f);
    cr_assert_eq(silt_st_tensor_to_f32(silt_safetensors_find(st, "c"), out, &err), 0);
    cr_assert(out[0] == 1.0f && out[1] == -2.5f);
    cr_assert_str_eq(silt_st_dtype_name(silt_safetensors_find(st, "c")->dtype), "BF16");
    silt_safetensors_close(st);
    free(p);
    mt_rmrf(d);
}

Test(safetensors, lying_headers) {
    expect(OK_HEADER, 24, 1000, "runs past the end of the file");
    expect(OK_HEADER, 24, 1ull << 62, "runs past the end of the file");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}", 16, 0,
           "not valid JSON");
    expect("[1,2,3]", 0, 0, "not a JSON object");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}} junk", 16, 0,
           "unexpected bytes after the JSON header");
    expect("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 16, 0,
           "unknown dtype 'Q4'");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 24, 0,
           "needs 24 bytes but data_offsets span 16");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, 0,
           "past the end of the data section");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 16, 0,
           "begin <= end");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8.5]}}", 16, 0,
           "data_offsets must be");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 16, 0,
           "shape[0] is not a non-negative integer");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
           16, 0, "9 dimensions");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
           "\"data_offsets\":[0,16]}}",
           16, 0, "shape is too large");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
           16, 0, "overlap");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
           16, 0, "appears twice");
    expect("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 16, 0, "needs string 'dtype'");
    expect("{\"a\":7}", 16, 0, "not a JSON object");
}

Test(safetensors, tiny_and_missing_files) {
    char *d = mt_tmpdir();
    char *p = mt_path(d, "short.safetensors");
    mt_write(p, "abc", 3);
    char *err = st_error(d, "short.safetensors");
    cr_assert(strstr(err, "8-byte header length"), "%s", err);
    free(err);
    err = NULL;
    cr_assert_null(silt_safetensors_open("tests/data/none.safetensors", &err));
    cr_assert(strstr(err, "cannot open") && strstr(err, "none.safetensors"), "%s", err);
    free(err);
    err = NULL;
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "has no model.safetensors"), "%s", err);
    char *bin = mt_path(d, "pytorch_model.bin");
    mt_write_str(bin, "pickle");
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "only has pytorch_model.bin"), "%s", err);
    free(bin);
    free(err);
    free(p);
    mt_rmrf(d);
}

Test(safetensors, every_truncation_is_a_clean_error) {
    uint8_t data[24] = {0};
    char *d = mt_tmpdir();
    write_st(d, "full.safetensors", OK_HEADER, data, sizeof data, 0);
    size_t n = 0;
    char *p = mt_path(d, "full.safetensors");
    char *bytes = mt_read(p, &n);
    for (size_t k = n; k-- > 0;) {
        cr_assert_eq(truncate(p, (off_t)k), 0);
        char *err = NULL;
        silt_safetensors *st = silt_safetensors_open(p, &err);
        cr_assert_null(st, "a %zu-byte prefix of %zu opened", k, n);
        free(err);
    }
    free(bytes);
    free(p);
    mt_rmrf(d);
}

/* ---- sharded checkpoints ----------------------------------------------------------------------- */

Test(safetensors, sharded_checkpoint_opens_as_one) {
    char *d = mt_tmpdir(), *err = NULL;
    write_st(d, "model-00001-of-00002.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", DATA, 8, 0);
    write_st(d, "model-00002-of-00002.safetensors",
             "{\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", DATA + 2, 12, 0);
    char *idx = mt_path(d, "model.safetensors.index.json");
    mt_write_str(idx, "{\"metadata\":{\"total_size\":20},\"weight_map\":{"
                      "\"a\":\"model-00001-of-00002.safetensors\","
                      "\"b\":\"model-00002-of-00002.safetensors\"}}");
    silt_safetensors *st = silt_safetensors_open_dir(d, &err);
    cr_assert_not_null(st, "%s", err);
    cr_assert_eq(silt_safetensors_count(st), 2);
    float out[3];
    cr_assert_eq(silt_st_tensor_to_f32(silt_safetensors_find(st, "b"), out, &err), 0);
    cr_assert(out[0] == 3 && out[2] == 5);
    silt_safetensors_close(st);

    /* The index names the wrong shard for a tensor. */
    mt_write_str(idx, "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\","
                      "\"b\":\"model-00002-of-00002.safetensors\"}}");
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "lists tensor 'a'"), "%s", err);
    /* A shard outside the directory. */
    mt_write_str(idx, "{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}");
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "must be a file name in the same directory"), "%s", err);
    /* The same tensor in two shards. */
    write_st(d, "model-00002-of-00002.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", DATA, 8, 0);
    mt_write_str(idx, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                      "\"b\":\"model-00002-of-00002.safetensors\"}}");
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "appears twice"), "%s", err);
    /* A missing shard. */
    mt_write_str(idx, "{\"weight_map\":{\"a\":\"model-00009-of-00009.safetensors\"}}");
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "model-00009-of-00009.safetensors"), "%s", err);
    mt_write_str(idx, "{\"weight_map\":[]}");
    cr_assert_null(silt_safetensors_open_dir(d, &err));
    cr_assert(strstr(err, "'weight_map' object"), "%s", err);
    free(err);
    free(idx);
    mt_rmrf(d);
}

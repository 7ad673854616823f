/* use_lite.c: Universal Sentence Encoder Lite forward pass (use-lite.md §5) and its
 * silt_encoder glue.
 *
 * The batch is packed, not padded: the tokens of all texts are rows of one matrix, so every
 * dense layer is one GEMM over all tokens of the batch, and only attention works text by
 * text (a text attends to its own tokens only, which is exactly what the graph's -1e9 padding
 * bias achieves). Shapes below: N = tokens in the chunk, B = texts in the chunk. The weight
 * matrices are arranged once at load (silt_ops_weight) so that a one-sentence call does not
 * spend as long re-arranging them as multiplying.
 *
 * Threads: the dense layers are large GEMMs (N ~ 1000 rows), parallel through core/ops.c
 * (OpenBLAS threads, or the silt_threads pool when OpenBLAS runs single-threaded: see
 * threads.h for the choice and its measurements); attention, many small per-text products,
 * runs on the pool, one range of texts per task. */
#include "core/use_lite.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/ops.h"
#include "core/tfjs.h"
#include "core/threads.h"
#include "core/unigram.h"

#define UL_DIM 512        /* output and layer-1 width */
#define UL_EMB 256        /* embedding and layer-0 attention width */
#define UL_FFN 1536       /* FFN hidden width */
#define UL_VOCAB_ROWS 8002
#define UL_MAX_TOKENS_CAP 4096 /* sanity bound on the manifest's max length */
/* Tokens per forward chunk: large enough for efficient GEMMs, small enough that the
 * workspace stays near 12 MB. */
#define UL_CHUNK_TOKENS 1024

#define KT "module_apply_default/Encoder_en/KonaTransformer"
#define ENC KT "/Encode"
#define TS ENC "/TransformerStack"
#define MOD "module/Encoder_en/KonaTransformer/Encode"

/* Weights of one transformer layer (d_in = 256 for layer 0, 512 for layer 1). */
typedef struct {
    const float *ln_a_g, *ln_a_b; /* attention pre-LN [d_in] */
    silt_ops_weight *wqkv;        /* [d_in, 3·d_a] */
    const float *bqkv;            /* [3·d_a] */
    silt_ops_weight *wo;          /* [d_a, 512] */
    const float *bo;              /* [512] */
    const float *ln_f_g, *ln_f_b; /* FFN pre-LN [512] */
    silt_ops_weight *w1;          /* [512, 1536] */
    const float *b1;              /* [1536] */
    silt_ops_weight *w2;          /* [1536, 512] */
    const float *b2;              /* [512] */
    float q_scale;                /* applied to Q before Q·Kᵀ */
    int d_a, d_head;              /* attention width and head size */
} ul_layer;

typedef struct {
    silt_encoder base;    /* must be first: the encoder handle is a ul_model */
    silt_unigram *vocab;
    float *blob;          /* vectors and E, copied to 64-byte aligned slots */
    const float *emb;     /* E [8002, 256] */
    silt_ops_weight *wd;  /* layer-0 residual projection [256, 512] */
    const float *bd;      /* [512] */
    silt_ops_weight *wt;  /* output tanh layer [512, 512] */
    const float *bt;      /* [512] */
    ul_layer layer[2];
    float ln_eps;
    float l2_floor;       /* floor on the squared norm before normalising */
    int n_heads;
    int vocab_rows;
    float *timing;        /* [max_tokens, 256]: sin half then cos half, per position */
} ul_model;

/* One weight to take out of the manifest: name, expected shape, where its pointer goes.
 * Matrices (packed = 1) become silt_ops_weight, arranged once for the products; the
 * last two dimensions are [in, out] (the 1x1 convolution kernels are [1, 1, in, out]). */
typedef struct {
    const char *name;
    int rank;
    int64_t shape[4];
    size_t ptr_offset; /* offsetof(ul_model, field): const float * or silt_ops_weight * */
    int packed;
} ul_weight;

#define W_(field) offsetof(ul_model, field)
static const ul_weight UL_WEIGHTS[] = {
    {"module/Embeddings_en", 2, {UL_VOCAB_ROWS, UL_EMB}, W_(emb), 0},
    {ENC "/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", 1, {256}, W_(layer[0].ln_a_g), 0},
    {ENC "/Layer_0/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", 1, {256}, W_(layer[0].ln_a_b), 0},
    {MOD "/Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", 4, {1, 1, 256, 768}, W_(layer[0].wqkv), 1},
    {ENC "/Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", 1, {768}, W_(layer[0].bqkv), 0},
    {MOD "/Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0", 4, {1, 1, 256, 512}, W_(layer[0].wo), 1},
    {ENC "/Layer_0/TransformerLayer/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", 1, {512}, W_(layer[0].bo), 0},
    {ENC "/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat", 2, {256, 512}, W_(wd), 1},
    {ENC "/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat", 1, {512}, W_(bd), 0},
    {ENC "/Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", 1, {512}, W_(layer[0].ln_f_g), 0},
    {ENC "/Layer_0/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", 1, {512}, W_(layer[0].ln_f_b), 0},
    {TS "/Layer_0/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", 2, {512, 1536}, W_(layer[0].w1), 1},
    {ENC "/Layer_0/TransformerLayer/FFN/conv1/bias/ConcatPartitions/concat", 1, {1536}, W_(layer[0].b1), 0},
    {TS "/Layer_0/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", 2, {1536, 512}, W_(layer[0].w2), 1},
    {ENC "/Layer_0/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat", 1, {512}, W_(layer[0].b2), 0},
    {ENC "/Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", 1, {512}, W_(layer[1].ln_a_g), 0},
    {ENC "/Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", 1, {512}, W_(layer[1].ln_a_b), 0},
    {MOD "/Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0", 4, {1, 1, 512, 1536}, W_(layer[1].wqkv), 1},
    {ENC "/Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat", 1, {1536}, W_(layer[1].bqkv), 0},
    {MOD "/Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0", 4, {1, 1, 512, 512}, W_(layer[1].wo), 1},
    {ENC "/Layer_1/TransformerLayer/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat", 1, {512}, W_(layer[1].bo), 0},
    {ENC "/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat", 1, {512}, W_(layer[1].ln_f_g), 0},
    {ENC "/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat", 1, {512}, W_(layer[1].ln_f_b), 0},
    {TS "/Layer_1/TransformerLayer/FFN/conv1/Tensordot/Reshape_1", 2, {512, 1536}, W_(layer[1].w1), 1},
    {ENC "/Layer_1/TransformerLayer/FFN/conv1/bias/ConcatPartitions/concat", 1, {1536}, W_(layer[1].b1), 0},
    {TS "/Layer_1/TransformerLayer/FFN/conv2/Tensordot/Reshape_1", 2, {1536, 512}, W_(layer[1].w2), 1},
    {ENC "/Layer_1/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat", 1, {512}, W_(layer[1].b2), 0},
    {"module/Encoder_en/hidden_layers/tanh_layer_0/weights", 2, {512, 512}, W_(wt), 1},
    {"module/Encoder_en/hidden_layers/tanh_layer_0/bias", 1, {512}, W_(bt), 0},
};
#undef W_
#define UL_N_WEIGHTS ((int)(sizeof UL_WEIGHTS / sizeof UL_WEIGHTS[0]))

/* Scalar constants of use-lite.md §2.2. */
#define C_QSCALE0 TS "/Layer_0/TransformerLayer/MultiheadAttention/mul/y"
#define C_QSCALE1 TS "/Layer_1/TransformerLayer/MultiheadAttention/mul/y"
#define C_LN_EPS TS "/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x"
#define C_L2_FLOOR "module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y"
#define C_MAX_LEN KT "/ClipToMaxLength/Less/y"
#define C_N_HEADS TS "/Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2"
#define C_D_HEAD0 TS "/Layer_0/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3"
#define C_D_HEAD1 TS "/Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3"
#define C_INV_TIMESCALES TS "/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1"

/* ---- forward pass ------------------------------------------------------------------------ */

/* Workspace of one chunk (one allocation per embed_batch call). */
typedef struct {
    const ul_model *m;
    const int32_t *const *ids;
    int *n_tok;      /* [B] tokens used per text (<= max_tokens) */
    int *row0;       /* [B+1] first row of each text in the packed matrices */
    int n_texts;
    float *x0;       /* [N, 256] layer-0 input */
    float *x;        /* [N, 512] residual stream */
    float *y;        /* [N, 512] LN output, then attention output */
    float *z;        /* [N, 1536] QKV, then FFN hidden */
    float *scratch;  /* [workers, max_tokens²] attention logits */
    int max_tokens;
    int n_tasks;     /* attention tasks per layer */
    const ul_layer *cur; /* layer whose attention the tasks compute */
} ul_work;

/* Attention for texts [task·B/n_tasks, (task+1)·B/n_tasks): y[rows of text] = MHA core. */
static void attention_task(void *ctx, int task, int worker) {
    ul_work *w = ctx;
    const ul_layer *L = w->cur;
    const int d3 = 3 * L->d_a;
    float *scratch = w->scratch + (size_t)worker * w->max_tokens * w->max_tokens;
    const int b0 = (int)((long long)task * w->n_texts / w->n_tasks);
    const int b1 = (int)((long long)(task + 1) * w->n_texts / w->n_tasks);
    for (int b = b0; b < b1; b++) {
        const int n = w->n_tok[b];
        if (n == 0) continue;
        const float *q = w->z + (size_t)w->row0[b] * d3;
        silt_ops_attention(q, d3, q + L->d_a, d3, q + 2 * L->d_a, d3, n, n, w->m->n_heads,
                           L->d_head, L->q_scale, NULL, w->y + (size_t)w->row0[b] * L->d_a,
                           L->d_a, scratch);
    }
}

/* One pre-norm transformer layer on the packed rows. Layer 0 reads x0 [N,256] and writes
 * x [N,512] (residual through the dense projection); layer 1 updates x in place. */
static void run_layer(ul_work *w, int li, int n_rows) {
    const ul_model *m = w->m;
    const ul_layer *L = &m->layer[li];
    const int d_in = li == 0 ? UL_EMB : UL_DIM;
    const float *in = li == 0 ? w->x0 : w->x;
    /* y = LN(in) [N, d_in]; z = y·Wqkv + b [N, 3·d_a] */
    memcpy(w->y, in, (size_t)n_rows * d_in * sizeof(float));
    silt_ops_layernorm(w->y, n_rows, d_in, L->ln_a_g, L->ln_a_b, m->ln_eps);
    silt_ops_linear_packed(w->y, n_rows, L->wqkv, L->bqkv, w->z);
    /* y = per-text attention [N, d_a] */
    w->cur = L;
    silt_threads_for(w->n_tasks, attention_task, w);
    if (li == 0) {
        /* x = y·Wo + bo + x0·Wd + bd */
        silt_ops_linear_packed(w->y, n_rows, L->wo, L->bo, w->x);
        silt_ops_matmul_packed_acc(w->x0, n_rows, m->wd, w->x);
        silt_ops_add_bias(w->x, n_rows, UL_DIM, m->bd);
    } else {
        silt_ops_matmul_packed_acc(w->y, n_rows, L->wo, w->x);
        silt_ops_add_bias(w->x, n_rows, UL_DIM, L->bo);
    }
    /* x += relu(LN(x)·W1 + b1)·W2 + b2 */
    memcpy(w->y, w->x, (size_t)n_rows * UL_DIM * sizeof(float));
    silt_ops_layernorm(w->y, n_rows, UL_DIM, L->ln_f_g, L->ln_f_b, m->ln_eps);
    silt_ops_linear_packed(w->y, n_rows, L->w1, L->b1, w->z);
    silt_ops_relu(w->z, (size_t)n_rows * UL_FFN);
    silt_ops_matmul_packed_acc(w->z, n_rows, L->w2, w->x);
    silt_ops_add_bias(w->x, n_rows, UL_DIM, L->b2);
}

/* Encodes texts [0, w->n_texts) of the chunk into out[n_texts, 512]. */
static void forward_chunk(ul_work *w, float *out) {
    const ul_model *m = w->m;
    const int n_rows = w->row0[w->n_texts];
    /* x0[p] = E[t] + (E[t] + s(p)), the graph's order of the doubled embedding (§5.1). */
    for (int b = 0; b < w->n_texts; b++) {
        for (int p = 0; p < w->n_tok[b]; p++) {
            const float *e = m->emb + (size_t)w->ids[b][p] * UL_EMB;
            const float *s = m->timing + (size_t)p * UL_EMB;
            float *dst = w->x0 + (size_t)(w->row0[b] + p) * UL_EMB;
            for (int k = 0; k < UL_EMB; k++) dst[k] = e[k] + (e[k] + s[k]);
        }
    }
    if (n_rows > 0) {
        run_layer(w, 0, n_rows);
        run_layer(w, 1, n_rows);
    }
    /* u_b = mean of the text's rows (0 for an empty text); out = normalize(tanh(u·Wt + bt)) */
    float *u = w->y; /* [B, 512], B <= N rows of y, or the y slot reserved for B texts */
    for (int b = 0; b < w->n_texts; b++) {
        float *ub = u + (size_t)b * UL_DIM;
        memset(ub, 0, UL_DIM * sizeof(float));
        const int n = w->n_tok[b];
        for (int p = 0; p < n; p++) silt_ops_add(ub, w->x + (size_t)(w->row0[b] + p) * UL_DIM, UL_DIM);
        if (n > 0)
            for (int j = 0; j < UL_DIM; j++) ub[j] /= (float)n;
    }
    silt_ops_linear_packed(u, w->n_texts, m->wt, m->bt, out);
    silt_ops_tanh(out, (size_t)w->n_texts * UL_DIM);
    silt_ops_l2_normalize(out, w->n_texts, UL_DIM, m->l2_floor);
}

static int ul_embed_batch(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                          int n, float *out, char **err) {
    const ul_model *m = (const ul_model *)enc;
    const int max_tok = enc->max_tokens;
    if (n < 0) return silt_err(err, "use-lite: negative batch size %d", n);
    if (n == 0) return 0;
    /* Validate everything first so that a bad id fails before any work. */
    long long total = 0;
    int max_chunk_texts = 0, texts = 0, rows = 0;
    for (int i = 0; i < n; i++) {
        if (n_ids[i] < 0) return silt_err(err, "use-lite: text %d has %d tokens", i, n_ids[i]);
        if (n_ids[i] > 0 && !ids[i]) return silt_err(err, "use-lite: text %d has no ids", i);
        const int k = n_ids[i] < max_tok ? n_ids[i] : max_tok;
        for (int p = 0; p < k; p++)
            if (ids[i][p] < 0 || ids[i][p] >= m->vocab_rows)
                return silt_err(err, "use-lite: token id %d of text %d is out of range 0..%d",
                                (int)ids[i][p], i, m->vocab_rows - 1);
        total += k;
        texts++;
        rows += k;
        if (rows >= UL_CHUNK_TOKENS || texts >= UL_CHUNK_TOKENS || i == n - 1) {
            if (texts > max_chunk_texts) max_chunk_texts = texts;
            texts = rows = 0;
        }
    }
    /* Rows of the largest chunk: below UL_CHUNK_TOKENS + one text, never above the total. */
    long long cap_rows = UL_CHUNK_TOKENS + max_tok;
    if (cap_rows > total) cap_rows = total;
    /* y also holds the pooled [B, 512] vectors, so it needs max(rows, texts) rows. */
    const long long y_rows = cap_rows > max_chunk_texts ? cap_rows : max_chunk_texts;
    const int workers = silt_threads_count();
    const size_t f_x0 = (size_t)cap_rows * UL_EMB, f_x = (size_t)cap_rows * UL_DIM,
                 f_y = (size_t)y_rows * UL_DIM, f_z = (size_t)cap_rows * UL_FFN,
                 f_s = (size_t)workers * max_tok * max_tok;
    /* Round each part to 16 floats so every matrix starts 64-byte aligned. */
#define UL_ROUND(v) (((v) + 15) & ~(size_t)15)
    const size_t floats = UL_ROUND(f_x0) + UL_ROUND(f_x) + UL_ROUND(f_y) + UL_ROUND(f_z) + UL_ROUND(f_s);
    float *mem = silt_ops_alloc(floats);
    int *ints = malloc(((size_t)2 * max_chunk_texts + 1) * sizeof(int));
    if (!mem || !ints) {
        free(mem);
        free(ints);
        return silt_err(err, "use-lite: out of memory for a batch of %d texts", n);
    }
    ul_work w = {.m = m, .max_tokens = max_tok, .n_tok = ints, .row0 = ints + max_chunk_texts};
    w.x0 = mem;
    w.x = w.x0 + UL_ROUND(f_x0);
    w.y = w.x + UL_ROUND(f_x);
    w.z = w.y + UL_ROUND(f_y);
    w.scratch = w.z + UL_ROUND(f_z);
#undef UL_ROUND
    for (int start = 0; start < n;) {
        int b = 0, r = 0;
        w.row0[0] = 0;
        while (start + b < n && r < UL_CHUNK_TOKENS && b < UL_CHUNK_TOKENS) {
            const int k = n_ids[start + b] < max_tok ? n_ids[start + b] : max_tok;
            w.n_tok[b] = k;
            r += k;
            w.row0[++b] = r;
        }
        w.ids = ids + start;
        w.n_texts = b;
        /* A few tasks per worker balance texts of different lengths. */
        w.n_tasks = b < 4 * workers ? b : 4 * workers;
        forward_chunk(&w, out + (size_t)start * UL_DIM);
        start += b;
    }
    free(mem);
    free(ints);
    return 0;
}

/* ---- tokenizer glue ------------------------------------------------------------------------ */

static int ul_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate,
                       int32_t **ids, int *n_ids, char **err) {
    const ul_model *m = (const ul_model *)enc;
    *ids = NULL;
    *n_ids = 0;
    if (!text && len > 0) return silt_err(err, "use-lite: NULL text");
    int32_t *t = NULL;
    int n = 0;
    /* The whole text is tokenized before the cut: the Viterbi path near token 128 can depend
     * on the text after it (§6). */
    if (silt_unigram_encode(m->vocab, text ? text : "", len, &t, &n, err) != 0) return -1;
    if (n > enc->max_tokens) {
        if (!truncate) {
            free(t);
            return silt_err(err,
                            "text is %d tokens long, more than the %d tokens use-lite reads "
                            "(allow truncation to keep the first %d)",
                            n, enc->max_tokens, enc->max_tokens);
        }
        n = enc->max_tokens;
    }
    *ids = t;
    *n_ids = n;
    return 0;
}

static const char *ul_token_text(const silt_encoder *enc, int32_t id) {
    return silt_unigram_piece(((const ul_model *)enc)->vocab, id);
}

static int32_t ul_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    return silt_unigram_id(((const ul_model *)enc)->vocab, tok, len);
}

static void ul_destroy(silt_encoder *enc) {
    ul_model *m = (ul_model *)enc;
    if (!m) return;
    silt_unigram_free(m->vocab);
    for (int i = 0; i < UL_N_WEIGHTS; i++)
        if (UL_WEIGHTS[i].packed)
            silt_ops_weight_free(*(silt_ops_weight **)((char *)m + UL_WEIGHTS[i].ptr_offset));
    free(m->blob);
    free(m->timing);
    free(m);
}

static const struct silt_encoder_ops UL_OPS = {
    .tokenize = ul_tokenize,
    .embed_batch = ul_embed_batch,
    .token_text = ul_token_text,
    .token_id = ul_token_id,
    .destroy = ul_destroy,
};

/* ---- loading ---------------------------------------------------------------------------------- */

/* Copies every weight of UL_WEIGHTS out of the manifest into one aligned blob and reads the
 * scalar constants. 0, or -1 and *err. */
static int load_weights(ul_model *m, const silt_tfjs_model *tf, char **err) {
    const float *src[UL_N_WEIGHTS];
    size_t n_elems[UL_N_WEIGHTS], total = 0;
    for (int i = 0; i < UL_N_WEIGHTS; i++) {
        const ul_weight *wd = &UL_WEIGHTS[i];
        src[i] = silt_tfjs_floats(tf, wd->name, wd->rank, wd->shape, err);
        if (!src[i]) return -1;
        n_elems[i] = silt_tfjs_find(tf, wd->name)->n_elems;
        if (!wd->packed) total += (n_elems[i] + 15) & ~(size_t)15;
    }
    m->blob = silt_ops_alloc(total);
    if (!m->blob) return silt_err(err, "out of memory for %zu weights", total);
    float *at = m->blob;
    for (int i = 0; i < UL_N_WEIGHTS; i++) {
        const ul_weight *wd = &UL_WEIGHTS[i];
        void *field = (char *)m + wd->ptr_offset;
        if (wd->packed) {
            /* The manifest's copy is only 4-byte aligned; packing reads it element-wise. */
            silt_ops_weight *w = silt_ops_weight_pack(src[i], (int)wd->shape[wd->rank - 2],
                                                      (int)wd->shape[wd->rank - 1], 0);
            if (!w) return silt_err(err, "out of memory packing weight '%s'", wd->name);
            *(silt_ops_weight **)field = w;
        } else {
            memcpy(at, src[i], n_elems[i] * sizeof(float));
            *(const float **)field = at;
            at += (n_elems[i] + 15) & ~(size_t)15;
        }
    }
    m->vocab_rows = UL_VOCAB_ROWS;

    int32_t max_len, n_heads, d_head0, d_head1;
    if (silt_tfjs_scalar_f32(tf, C_QSCALE0, &m->layer[0].q_scale, err) != 0 ||
        silt_tfjs_scalar_f32(tf, C_QSCALE1, &m->layer[1].q_scale, err) != 0 ||
        silt_tfjs_scalar_f32(tf, C_LN_EPS, &m->ln_eps, err) != 0 ||
        silt_tfjs_scalar_f32(tf, C_L2_FLOOR, &m->l2_floor, err) != 0 ||
        silt_tfjs_scalar_i32(tf, C_MAX_LEN, &max_len, err) != 0 ||
        silt_tfjs_scalar_i32(tf, C_N_HEADS, &n_heads, err) != 0 ||
        silt_tfjs_scalar_i32(tf, C_D_HEAD0, &d_head0, err) != 0 ||
        silt_tfjs_scalar_i32(tf, C_D_HEAD1, &d_head1, err) != 0)
        return -1;
    if (!(m->ln_eps > 0.0f && m->ln_eps < 1.0f) || !(m->l2_floor >= 0.0f) ||
        !isfinite(m->layer[0].q_scale) || !isfinite(m->layer[1].q_scale))
        return silt_err(err, "a scalar constant of the manifest is out of range");
    if (max_len < 1 || max_len > UL_MAX_TOKENS_CAP)
        return silt_err(err, "maximum sequence length %d is out of range 1..%d", (int)max_len,
                        UL_MAX_TOKENS_CAP);
    if (n_heads < 1 || d_head0 * n_heads != UL_EMB || d_head1 * n_heads != UL_DIM)
        return silt_err(err,
                        "attention heads (%d of sizes %d and %d) do not split widths %d and %d",
                        (int)n_heads, (int)d_head0, (int)d_head1, UL_EMB, UL_DIM);
    m->base.max_tokens = max_len;
    m->n_heads = n_heads;
    m->layer[0].d_a = UL_EMB;
    m->layer[0].d_head = d_head0;
    m->layer[1].d_a = UL_DIM;
    m->layer[1].d_head = d_head1;

    /* Timing signal table: a = p·inv[k] in float32, sines then cosines (§5.1). */
    const float *inv = silt_tfjs_floats(tf, C_INV_TIMESCALES, 2, (int64_t[]){1, UL_EMB / 2}, err);
    if (!inv) return -1;
    m->timing = silt_ops_alloc((size_t)max_len * UL_EMB);
    if (!m->timing) return silt_err(err, "out of memory");
    for (int p = 0; p < max_len; p++)
        for (int k = 0; k < UL_EMB / 2; k++) {
            float inv_k;
            memcpy(&inv_k, inv + k, sizeof inv_k); /* the manifest copy is only 4-aligned */
            const float a = (float)p * inv_k;
            m->timing[(size_t)p * UL_EMB + k] = (float)sin((double)a);
            m->timing[(size_t)p * UL_EMB + UL_EMB / 2 + k] = (float)cos((double)a);
        }
    return 0;
}

silt_encoder *silt_uselite_load(const char *dir, char **err) {
    if (!dir || !dir[0]) {
        silt_err(err, "use-lite: empty model directory");
        return NULL;
    }
    ul_model *m = calloc(1, sizeof *m);
    if (!m) {
        silt_err(err, "out of memory");
        return NULL;
    }
    m->base.ops = &UL_OPS;
    snprintf(m->base.arch, sizeof m->base.arch, "use-lite");
    m->base.kind = SILT_KIND_DENSE;
    m->base.dim = UL_DIM;

    silt_tfjs_model *tf = silt_tfjs_open(dir, err);
    if (!tf || load_weights(m, tf, err) != 0) {
        silt_tfjs_close(tf);
        silt_err_prefix(err, "use-lite model %s", dir);
        ul_destroy(&m->base);
        return NULL;
    }
    silt_tfjs_close(tf);

    const size_t path_len = strlen(dir) + sizeof "/vocab.json";
    char *vpath = malloc(path_len);
    if (!vpath) {
        silt_err(err, "out of memory");
        ul_destroy(&m->base);
        return NULL;
    }
    snprintf(vpath, path_len, "%s/vocab.json", dir);
    size_t vlen = 0;
    char *vtext = silt_tfjs_read_file(vpath, (size_t)64 << 20, &vlen, err);
    if (vtext) {
        m->vocab = silt_unigram_load(vtext, vlen, err);
        if (!m->vocab) silt_err_prefix(err, "%s", vpath);
    }
    free(vtext);
    free(vpath);
    if (!m->vocab) {
        silt_err_prefix(err, "use-lite model %s", dir);
        ul_destroy(&m->base);
        return NULL;
    }
    if (silt_unigram_size(m->vocab) > m->vocab_rows) {
        silt_err(err, "use-lite model %s: vocabulary has %d pieces but the embedding table %d rows",
                 dir, silt_unigram_size(m->vocab), m->vocab_rows);
        ul_destroy(&m->base);
        return NULL;
    }
    return &m->base;
}

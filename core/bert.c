/* bert.c: BERT encoder forward pass and its loaders from Hugging Face directories and GGUF
 * files (see bert.h).
 *
 * The batch is packed, not padded: the tokens of all texts are rows of one matrix, so every
 * dense layer is one GEMM over all tokens, and only attention works text by text, each text
 * attending to its own tokens. That is exactly what padding to the longest text and masking
 * the padded keys computes, without the wasted rows. How the work is spread over the cores
 * is explained at the forward pass. With option "int8": true the four products of every
 * layer run on int8 weights (core/ops_int8.h). Shapes below: N = tokens in the chunk,
 * H = hidden, F = FFN width. */
#include "core/bert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/gguf.h"
#include "core/ops.h"
#include "core/ops_int8.h"
#include "core/ops_simd.h"
#include "core/safetensors.h"
#include "core/threads.h"
#include "core/wordpiece.h"

/* Mamba (core/mamba.h) claims its own models; BERT's entry points route them there. */
#if __has_include("core/mamba.h")
#include "core/mamba.h"
#define HAVE_MAMBA 1
#define MAMBA_ARCHS ", MambaModel, MambaForCausalLM"
#define MAMBA_GGUF ", mamba"
#else
#define MAMBA_ARCHS ""
#define MAMBA_GGUF ""
#endif

/* SPLADE (core/splade.h) is BERT + its masked-language-model head: option "kind":"sparse"
 * on a Hugging Face directory is routed there; it runs this file's forward pass through
 * silt_bert_hidden_states. */
#if __has_include("core/splade.h")
#include "core/splade.h"
#define HAVE_SPLADE 1
#endif

/* Tokens per forward chunk: large enough for efficient GEMMs, small enough to bound the
 * workspace (about 1024 x (5H + F) floats). */
#define BERT_CHUNK_TOKENS 1024
/* Tokens per chunk when whole chunks go to the pool workers (see the forward pass). */
#define BERT_PAR_CHUNK_TOKENS 256
/* Sanity bounds on hyperparameters read from files, far above any real BERT; they keep
 * every size product inside int (BLAS) and size_t. */
#define BERT_MAX_HIDDEN 16384
#define BERT_MAX_FFN 65536
#define BERT_MAX_LAYERS 256
#define BERT_MAX_POS 65536
#define BERT_MAX_VOCAB (1 << 22)
#define BERT_MAX_TYPES 1024

typedef enum { POOL_MEAN, POOL_CLS, POOL_MAX, POOL_LAST } bert_pooling;
static const char *const POOL_NAMES[] = {"mean", "cls", "max", "last"};

/* The four products' weights are read in the files' [out, in] layout and transposed to
 * [in, out] once loaded (transpose_products), so that y = x·W is a plain row-major product:
 * silt's AVX-512 sgemm packs such a B with vector loads instead of a scalar gather. */
typedef struct {
    float *wqkv, *bqkv;   /* [3H, H] as read ([H, 3H] once loaded), [3H]: q, k, v blocks */
    float *wo, *bo;       /* attention output dense [H, H], [H] */
    float *ln1_g, *ln1_b; /* attention output LayerNorm [H] */
    float *wi, *bi;       /* intermediate dense [F, H] ([H, F] once loaded), [F] */
    float *wf, *bf;       /* output dense [H, F] ([F, H] once loaded), [H] */
    float *ln2_g, *ln2_b; /* output LayerNorm [H] */
    /* int8 copies of wqkv, wo, wi, wf (option "int8"), else NULL */
    silt_q8_matrix *q_qkv, *q_o, *q_i, *q_f;
} bert_layer;

typedef struct {
    silt_encoder base;    /* must be first: the encoder handle is a bert_model */
    silt_wordpiece *tok;
    int hidden, n_layers, n_heads, d_head, ffn;
    int vocab_rows, n_pos, n_types;
    float eps;            /* LayerNorm epsilon */
    bert_pooling pooling;
    int normalize;        /* L2-normalise the pooled vector */
    int gelu_tanh;        /* hidden_act gelu_new / gelu_pytorch_tanh instead of erf GELU */
    float *blob;          /* every weight, in 64-byte aligned slots */
    float *word;          /* [V, H] */
    float *pos;           /* [P, H] */
    float *types;         /* [T, H]; row 0 is added (single-segment input) */
    float *emb_ln_g, *emb_ln_b;
    bert_layer *layer;    /* [n_layers] */
} bert_model;

/* ---- forward pass --------------------------------------------------------------------------- */

/* Both cores are used in one of two ways. A call with enough texts for at least two chunks
 * of BERT_PAR_CHUNK_TOKENS per worker hands whole chunks to the pool workers: every step of
 * a chunk then runs on one core with no barrier inside the forward pass (a nested pool call,
 * such as the product's own split, runs on the calling worker), and chunks are handed out
 * one at a time, so on a busy machine a descheduled worker's share goes to the other. A call
 * with few texts (one query) runs its chunks one after the other with each step split over
 * the pool. Measured on the shared 2-core machine (MiniLM-shaped model, 32 x 128 tokens,
 * interleaved runs): int8 1.3-1.5x faster with 256-token chunks per worker than with 1024-
 * token chunks and split steps (512-token chunks in between); float32 the same within noise
 * (smaller products re-pack the weights more often, which eats the saved barriers). Chunks
 * per worker need products that run on the calling thread (silt's AVX-512 sgemm and int8
 * kernels); without AVX-512 the products go to OpenBLAS, which threads itself, and steps are
 * split instead. */

/* Activations of one chunk: one set per worker that runs chunks. */
typedef struct {
    float *x;    /* [N, H] hidden state */
    float *qkv;  /* [N, 3H] */
    float *ctx;  /* [N, H] attention output */
    float *h;    /* [N, F] FFN hidden */
    void *q8;    /* int8 activation scratch (int8 models), else NULL */
    int *row0;   /* [texts + 1] first row of each text of the chunk */
    int t0;      /* first text of the chunk */
    int layer;   /* layer the current step belongs to */
} bert_ws;

/* One run_batch call. */
typedef struct {
    const bert_model *m;
    const int32_t *const *ids;
    const int *n_ids;
    const int *chunk0;      /* [n_chunks + 1] first text of each chunk */
    const size_t *out_row0; /* [n_chunks] first output row of each chunk (no_pool) */
    bert_ws *ws;            /* [1] when split_steps, else [workers] */
    float *scratch;         /* [workers][scratch_floats] attention logits */
    size_t scratch_floats;
    float *out;
    int no_pool;            /* write the final hidden states instead of pooled vectors */
    int split_steps;        /* 1: one chunk at a time, each step over the pool */
} bert_job;

/* One step of a chunk over rows (or texts) [r0, r1), on pool worker `worker`. */
typedef void (*step_fn)(const bert_job *j, bert_ws *ws, int r0, int r1, int worker);

typedef struct {
    const bert_job *j;
    bert_ws *ws;
    step_fn fn;
    int n, n_tasks;
} step_call;

static void step_task(void *arg, int task, int worker) {
    const step_call *c = arg;
    c->fn(c->j, c->ws, (int)((long long)c->n * task / c->n_tasks),
          (int)((long long)c->n * (task + 1) / c->n_tasks), worker);
}

/* Runs fn over [0, n): split over the pool when split_steps, else on this worker. */
static void run_step(const bert_job *j, bert_ws *ws, int n, int worker, step_fn fn) {
    int tasks = j->split_steps ? 4 * silt_threads_count() : 1;
    if (tasks > n) tasks = n;
    if (tasks <= 1) {
        if (n > 0) fn(j, ws, 0, n, worker);
        return;
    }
    step_call c = {j, ws, fn, n, tasks};
    silt_threads_for(tasks, step_task, &c);
}

/* GELU with the tanh approximation (HF "gelu_new" / "gelu_pytorch_tanh"). */
static void gelu_tanh(float *x, size_t n) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

/* x[rows] = LN(x + bias)·g + b (bias may be NULL). */
static void bias_layernorm(const bert_model *m, float *x, int n_rows, const float *bias,
                           const float *g, const float *b) {
    if (silt_simd_available()) {
        silt_simd_bias_layernorm(x, n_rows, m->hidden, bias, g, b, m->eps);
        return;
    }
    if (bias) silt_ops_add_bias(x, n_rows, m->hidden, bias);
    silt_ops_layernorm(x, n_rows, m->hidden, g, b, m->eps);
}

/* x rows of texts [t0, t1) = LN(word[id] + pos[p] + types[0]). */
static void step_embed(const bert_job *j, bert_ws *ws, int t0, int t1, int worker) {
    (void)worker;
    const bert_model *m = j->m;
    const int H = m->hidden;
    for (int t = t0; t < t1; t++) {
        const int32_t *ids = j->ids[ws->t0 + t];
        float *x = ws->x + (size_t)ws->row0[t] * H;
        const int n = ws->row0[t + 1] - ws->row0[t];
        for (int p = 0; p < n; p++) {
            const float *e = m->word + (size_t)ids[p] * H, *ps = m->pos + (size_t)p * H;
            float *dst = x + (size_t)p * H;
            for (int k = 0; k < H; k++) dst[k] = e[k] + ps[k] + m->types[k];
        }
        bias_layernorm(m, x, n, NULL, m->emb_ln_g, m->emb_ln_b);
    }
}

static void step_qkv_bias(const bert_job *j, bert_ws *ws, int r0, int r1, int worker) {
    (void)worker;
    const int H3 = 3 * j->m->hidden;
    silt_ops_add_bias(ws->qkv + (size_t)r0 * H3, r1 - r0, H3, j->m->layer[ws->layer].bqkv);
}

/* ctx rows of texts [t0, t1) = softmax(q·kᵀ/√d)·v per head. */
static void step_attention(const bert_job *j, bert_ws *ws, int t0, int t1, int worker) {
    const bert_model *m = j->m;
    const int H = m->hidden, H3 = 3 * m->hidden;
    float *scratch = j->scratch + (size_t)worker * j->scratch_floats;
    const float scale = 1.0f / sqrtf((float)m->d_head);
    for (int t = t0; t < t1; t++) {
        const int n = ws->row0[t + 1] - ws->row0[t];
        if (n == 0) continue;
        const float *q = ws->qkv + (size_t)ws->row0[t] * H3;
        float *ctx = ws->ctx + (size_t)ws->row0[t] * H;
        if (silt_simd_available())
            silt_simd_attention(q, H3, q + H, H3, q + 2 * H, H3, n, n, m->n_heads, m->d_head,
                                scale, NULL, ctx, H, scratch);
        else
            silt_ops_attention(q, H3, q + H, H3, q + 2 * H, H3, n, n, m->n_heads, m->d_head,
                               scale, NULL, ctx, H, scratch);
    }
}

/* The int8 products add their bias themselves; the float ones leave it to these steps. */
static void step_ln1(const bert_job *j, bert_ws *ws, int r0, int r1, int worker) {
    (void)worker;
    const bert_layer *L = &j->m->layer[ws->layer];
    bias_layernorm(j->m, ws->x + (size_t)r0 * j->m->hidden, r1 - r0, L->q_o ? NULL : L->bo,
                   L->ln1_g, L->ln1_b);
}

static void step_ln2(const bert_job *j, bert_ws *ws, int r0, int r1, int worker) {
    (void)worker;
    const bert_layer *L = &j->m->layer[ws->layer];
    bias_layernorm(j->m, ws->x + (size_t)r0 * j->m->hidden, r1 - r0, L->q_f ? NULL : L->bf,
                   L->ln2_g, L->ln2_b);
}

static void step_gelu(const bert_job *j, bert_ws *ws, int r0, int r1, int worker) {
    (void)worker;
    const bert_model *m = j->m;
    const bert_layer *L = &m->layer[ws->layer];
    const int F = m->ffn;
    float *h = ws->h + (size_t)r0 * F;
    const float *bias = L->q_i ? NULL : L->bi;
    if (!m->gelu_tanh && silt_simd_available()) {
        silt_simd_bias_gelu(h, r1 - r0, F, bias);
        return;
    }
    if (bias) silt_ops_add_bias(h, r1 - r0, F, bias);
    if (m->gelu_tanh) gelu_tanh(h, (size_t)(r1 - r0) * F);
    else silt_ops_gelu(h, (size_t)(r1 - r0) * F);
}

/* Encodes chunk c (texts chunk0[c] .. chunk0[c+1]-1) with workspace ws. */
static void forward_chunk(const bert_job *j, int c, bert_ws *ws, int worker) {
    const bert_model *m = j->m;
    const int H = m->hidden, F = m->ffn;
    const int nt = j->chunk0[c + 1] - j->chunk0[c];
    ws->t0 = j->chunk0[c];
    ws->row0[0] = 0;
    for (int t = 0; t < nt; t++) ws->row0[t + 1] = ws->row0[t] + j->n_ids[ws->t0 + t];
    const int N = ws->row0[nt];
    float *x = ws->x;
    run_step(j, ws, nt, worker, step_embed);
    for (int l = 0; l < m->n_layers && N > 0; l++) {
        const bert_layer *L = &m->layer[l];
        ws->layer = l;
        /* qkv[N,3H] = x·Wqkvᵀ + b; ctx[N,H] = per-text multi-head attention */
        if (L->q_qkv) {
            silt_q8_linear(L->q_qkv, x, N, H, L->bqkv, 0, ws->qkv, 3 * H, ws->q8);
        } else {
            silt_ops_matmul(x, N, H, L->wqkv, 3 * H, ws->qkv);
            run_step(j, ws, N, worker, step_qkv_bias);
        }
        run_step(j, ws, nt, worker, step_attention);
        /* x = LN(x + ctx·Woᵀ + bo)  (post-LN) */
        if (L->q_o) silt_q8_linear(L->q_o, ws->ctx, N, H, L->bo, 1, x, H, ws->q8);
        else silt_ops_matmul_acc(ws->ctx, N, H, L->wo, H, x);
        run_step(j, ws, N, worker, step_ln1);
        /* h[N,F] = gelu(x·Wiᵀ + bi); x = LN(x + h·Wfᵀ + bf) */
        if (L->q_i) silt_q8_linear(L->q_i, x, N, H, L->bi, 0, ws->h, F, ws->q8);
        else silt_ops_matmul(x, N, H, L->wi, F, ws->h);
        run_step(j, ws, N, worker, step_gelu);
        if (L->q_f) silt_q8_linear(L->q_f, ws->h, N, F, L->bf, 1, x, H, ws->q8);
        else silt_ops_matmul_acc(ws->h, N, F, L->wf, H, x);
        run_step(j, ws, N, worker, step_ln2);
    }
    if (j->no_pool) {
        memcpy(j->out + j->out_row0[c] * H, x, (size_t)N * H * sizeof *x);
        return;
    }
    /* out[b] = pool(rows of text b); an empty text pools to zeros */
    float *out = j->out + (size_t)ws->t0 * H;
    for (int b = 0; b < nt; b++) {
        float *o = out + (size_t)b * H;
        const int n = ws->row0[b + 1] - ws->row0[b];
        const float *rows = x + (size_t)ws->row0[b] * H;
        memset(o, 0, (size_t)H * sizeof *o);
        if (n == 0) continue;
        switch (m->pooling) {
        case POOL_CLS: memcpy(o, rows, (size_t)H * sizeof *o); break;
        case POOL_LAST: memcpy(o, rows + (size_t)(n - 1) * H, (size_t)H * sizeof *o); break;
        case POOL_MAX:
            memcpy(o, rows, (size_t)H * sizeof *o);
            for (int p = 1; p < n; p++)
                for (int k = 0; k < H; k++)
                    if (rows[(size_t)p * H + k] > o[k]) o[k] = rows[(size_t)p * H + k];
            break;
        case POOL_MEAN:
            for (int p = 0; p < n; p++) silt_ops_add(o, rows + (size_t)p * H, (size_t)H);
            silt_ops_scale(o, (size_t)H, 1.0f / (float)n);
            break;
        }
    }
    /* sentence-transformers' Normalize: x / max(|x|, 1e-12) */
    if (m->normalize) silt_ops_l2_normalize(out, nt, H, 1e-24f);
}

static void chunk_task(void *arg, int c, int worker) {
    const bert_job *j = arg;
    forward_chunk(j, c, &j->ws[worker], worker);
}

/* Cuts texts [0, n) into chunks of about `target` rows (a chunk holds at least one text):
 * chunk0[0..n_chunks] (chunk0 may be NULL to count only). Returns the chunk count and sets
 * the most rows and texts in one chunk. */
static int make_chunks(const int *n_ids, int n, int target, int *chunk0, int *max_rows,
                       int *max_texts) {
    int c = 0;
    *max_rows = *max_texts = 0;
    for (int start = 0; start < n; c++) {
        int b = 0, r = 0;
        while (start + b < n && (b == 0 || r + n_ids[start + b] <= target)) r += n_ids[start + b++];
        if (chunk0) chunk0[c] = start;
        if (r > *max_rows) *max_rows = r;
        if (b > *max_texts) *max_texts = b;
        start += b;
    }
    if (chunk0) chunk0[c] = n;
    return c;
}

/* Runs n texts through the model: pooled vectors out[n, H], or with no_pool the final hidden
 * states out[Σ n_ids, H]. */
static int run_batch(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                     int n, float *out, int no_pool, char **err) {
    const bert_model *m = (const bert_model *)enc;
    const int window = enc->max_tokens, H = m->hidden;
    if (n < 0) return silt_err(err, "bert: negative batch size %d", n);
    if (n == 0) return 0;
    /* Validate everything first so that a bad id fails before any work. */
    for (int i = 0; i < n; i++) {
        if (n_ids[i] < 0 || n_ids[i] > window)
            return silt_err(err, "bert: text %d has %d tokens; the model's window is %d", i,
                            n_ids[i], window);
        if (n_ids[i] > 0 && !ids[i]) return silt_err(err, "bert: text %d has no ids", i);
        for (int p = 0; p < n_ids[i]; p++)
            if (ids[i][p] < 0 || ids[i][p] >= m->vocab_rows)
                return silt_err(err, "bert: token id %d of text %d is out of range 0..%d",
                                (int)ids[i][p], i, m->vocab_rows - 1);
    }
    /* Attention scratch is sized by the longest text, not the window (a long-window model
     * embedding short texts must not allocate window² floats per worker). */
    int longest = 1;
    for (int i = 0; i < n; i++)
        if (n_ids[i] > longest) longest = n_ids[i];
    const int workers = silt_threads_count();
    int max_rows, max_texts;
    const int n_par = make_chunks(n_ids, n, BERT_PAR_CHUNK_TOKENS, NULL, &max_rows, &max_texts);
    const int split_steps = !(workers > 1 && n_par >= 2 * workers && silt_simd_available());
    const int n_chunks = make_chunks(n_ids, n, split_steps ? BERT_CHUNK_TOKENS : BERT_PAR_CHUNK_TOKENS,
                                     NULL, &max_rows, &max_texts);
    const int n_ws = split_steps ? 1 : workers;
    size_t scratch = (size_t)longest * longest;
    if (silt_simd_available() && silt_simd_attention_scratch(longest, longest, m->d_head) > scratch)
        scratch = silt_simd_attention_scratch(longest, longest, m->d_head);
    const int int8 = m->layer[0].q_qkv != NULL;
    const int widest_in = m->ffn > H ? m->ffn : H;
#define ROUND16(v) (((size_t)(v) + 15) & ~(size_t)15)
    const size_t cap = (size_t)max_rows;
    const size_t f_x = ROUND16(cap * H), f_qkv = ROUND16(cap * 3 * H), f_ctx = ROUND16(cap * H),
                 f_h = ROUND16(cap * m->ffn),
                 f_q8 = int8 ? ROUND16((silt_q8_scratch_bytes(max_rows, widest_in) + 3) / 4) : 0;
    const size_t f_ws = f_x + f_qkv + f_ctx + f_h + f_q8, f_s = ROUND16(scratch);
#undef ROUND16
    float *mem = silt_ops_alloc(f_ws * n_ws + f_s * workers);
    int *ints = malloc(((size_t)n_chunks + 1 + (size_t)n_ws * (max_texts + 1)) * sizeof *ints);
    size_t *out_row0 = malloc((size_t)n_chunks * sizeof *out_row0);
    bert_ws *ws = calloc((size_t)n_ws, sizeof *ws);
    if (!mem || !ints || !out_row0 || !ws) {
        free(mem);
        free(ints);
        free(out_row0);
        free(ws);
        return silt_err(err, "bert: out of memory for a batch of %d texts", n);
    }
    int *chunk0 = ints;
    make_chunks(n_ids, n, split_steps ? BERT_CHUNK_TOKENS : BERT_PAR_CHUNK_TOKENS, chunk0,
                &max_rows, &max_texts);
    size_t rows = 0;
    for (int c = 0, t = 0; c < n_chunks; c++) {
        out_row0[c] = rows;
        for (; t < chunk0[c + 1]; t++) rows += (size_t)n_ids[t];
    }
    for (int i = 0; i < n_ws; i++) {
        float *base = mem + (size_t)i * f_ws;
        ws[i].x = base;
        ws[i].qkv = base + f_x;
        ws[i].ctx = ws[i].qkv + f_qkv;
        ws[i].h = ws[i].ctx + f_ctx;
        ws[i].q8 = int8 ? (void *)(ws[i].h + f_h) : NULL;
        ws[i].row0 = ints + n_chunks + 1 + (size_t)i * (max_texts + 1);
    }
    bert_job j = {.m = m, .ids = ids, .n_ids = n_ids, .chunk0 = chunk0, .out_row0 = out_row0,
                  .ws = ws, .scratch = mem + f_ws * n_ws, .scratch_floats = f_s, .out = out,
                  .no_pool = no_pool, .split_steps = split_steps};
    if (split_steps)
        for (int c = 0; c < n_chunks; c++) forward_chunk(&j, c, &ws[0], 0);
    else
        silt_threads_for(n_chunks, chunk_task, &j);
    free(mem);
    free(ints);
    free(out_row0);
    free(ws);
    return 0;
}

static int bert_embed_batch(const silt_encoder *enc, const int32_t *const *ids,
                            const int *n_ids, int n, float *out, char **err) {
    return run_batch(enc, ids, n_ids, n, out, 0, err);
}

int silt_bert_hidden_states(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids,
                            int n, float *out, char **err) {
    if (!enc || strcmp(enc->arch, "bert") != 0)
        return silt_err(err, "hidden states: not a BERT encoder");
    return run_batch(enc, ids, n_ids, n, out, 1, err);
}

const float *silt_bert_word_embeddings(const silt_encoder *enc, int *vocab_rows, int *hidden) {
    if (!enc || strcmp(enc->arch, "bert") != 0) return NULL;
    const bert_model *m = (const bert_model *)enc;
    *vocab_rows = m->vocab_rows;
    *hidden = m->hidden;
    return m->word;
}

/* ---- encoder glue ------------------------------------------------------------------------------ */

static int bert_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate,
                         int32_t **ids, int *n_ids, char **err) {
    const bert_model *m = (const bert_model *)enc;
    *ids = NULL;
    *n_ids = 0;
    if (!text && len > 0) return silt_err(err, "bert: NULL text");
    return silt_wordpiece_encode(m->tok, text ? text : "", len, enc->max_tokens, truncate, ids,
                                 n_ids, err);
}

static const char *bert_token_text(const silt_encoder *enc, int32_t id) {
    return silt_wordpiece_token(((const bert_model *)enc)->tok, id);
}

static int32_t bert_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    return silt_wordpiece_id(((const bert_model *)enc)->tok, tok, len);
}

static void bert_destroy(silt_encoder *enc) {
    bert_model *m = (bert_model *)enc;
    if (!m) return;
    silt_wordpiece_free(m->tok);
    for (int l = 0; m->layer && l < m->n_layers; l++) {
        silt_q8_free(m->layer[l].q_qkv);
        silt_q8_free(m->layer[l].q_o);
        silt_q8_free(m->layer[l].q_i);
        silt_q8_free(m->layer[l].q_f);
    }
    free(m->blob);
    free(m->layer);
    free(m);
}

static const struct silt_encoder_ops BERT_OPS = {
    .tokenize = bert_tokenize,
    .embed_batch = bert_embed_batch,
    .token_text = bert_token_text,
    .token_id = bert_token_id,
    .destroy = bert_destroy,
};

/* ---- options ------------------------------------------------------------------------------------ */

typedef struct {
    int pooling;    /* bert_pooling, or -1: as the model says */
    int normalize;  /* 0/1, or -1: as the model says */
    int max_tokens; /* 0: the model's window */
    int int8;       /* quantise the layers' products to int8 */
} bert_options;

static int parse_options(const char *json, bert_options *o, char **err) {
    o->pooling = -1;
    o->normalize = -1;
    o->max_tokens = 0;
    o->int8 = 0;
    if (!json || !*json) return 0;
    cJSON *root = cJSON_Parse(json);
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        silt_err(err, "model options: expected a JSON object, got '%.60s'", json);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "kind") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "dense") == 0) continue;
            if (cJSON_IsString(it) && strcmp(it->valuestring, "sparse") == 0) {
                silt_err(err, "option \"kind\":\"sparse\" needs a BERT + MLM head (SPLADE) "
                         "encoder, which this build does not implement yet");
                goto done;
            }
            silt_err(err, "option \"kind\" must be \"dense\" or \"sparse\"");
            goto done;
        } else if (strcmp(k, "pooling") == 0) {
            o->pooling = -2;
            for (int i = 0; i < 4 && cJSON_IsString(it); i++)
                if (strcmp(it->valuestring, POOL_NAMES[i]) == 0) o->pooling = i;
            if (o->pooling == -2) {
                silt_err(err, "option \"pooling\" must be \"mean\", \"cls\", \"max\" or \"last\"");
                goto done;
            }
        } else if (strcmp(k, "normalize") == 0) {
            if (!cJSON_IsBool(it)) {
                silt_err(err, "option \"normalize\" must be true or false");
                goto done;
            }
            o->normalize = cJSON_IsTrue(it);
        } else if (strcmp(k, "max_tokens") == 0) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 2 || it->valuedouble > BERT_MAX_POS ||
                it->valuedouble != (double)(int)it->valuedouble) {
                silt_err(err, "option \"max_tokens\" must be an integer of at least 2");
                goto done;
            }
            o->max_tokens = (int)it->valuedouble;
        } else if (strcmp(k, "int8") == 0) {
            if (!cJSON_IsBool(it)) {
                silt_err(err, "option \"int8\" must be true or false");
                goto done;
            }
            o->int8 = cJSON_IsTrue(it);
        } else {
            silt_err(err, "unknown option \"%s\" for a BERT model (expected kind, pooling, "
                     "normalize, max_tokens, int8)", k);
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* w[rows, cols] becomes its transpose [cols, rows], through tmp (rows·cols floats). */
static void transpose(float *w, int rows, int cols, float *tmp) {
    memcpy(tmp, w, (size_t)rows * cols * sizeof *w);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) w[(size_t)c * rows + r] = tmp[(size_t)r * cols + c];
}

/* Packs the int8 copies (when asked) from the [out, in] weights, then transposes the float
 * weights to [in, out] (see bert_layer). */
static int prepare_products(bert_model *m, int int8, char **err) {
    const int H = m->hidden, F = m->ffn;
    /* int8: per-row symmetric weights, quantised once here (a Q8_0 GGUF was dequantised at
     * load and is requantised per row). The float weights are kept: the blob is one block. */
    for (int l = 0; int8 && l < m->n_layers; l++) {
        bert_layer *L = &m->layer[l];
        if (!(L->q_qkv = silt_q8_pack(L->wqkv, 3 * H, H, SILT_Q8_AUTO, err)) ||
            !(L->q_o = silt_q8_pack(L->wo, H, H, SILT_Q8_AUTO, err)) ||
            !(L->q_i = silt_q8_pack(L->wi, F, H, SILT_Q8_AUTO, err)) ||
            !(L->q_f = silt_q8_pack(L->wf, H, F, SILT_Q8_AUTO, err)))
            return -1;
    }
    float *tmp = malloc((size_t)3 * H * (H > F ? H : F) * sizeof *tmp);
    if (!tmp) return silt_err(err, "out of memory");
    for (int l = 0; l < m->n_layers; l++) {
        bert_layer *L = &m->layer[l];
        transpose(L->wqkv, 3 * H, H, tmp);
        transpose(L->wo, H, H, tmp);
        transpose(L->wi, F, H, tmp);
        transpose(L->wf, H, F, tmp);
    }
    free(tmp);
    return 0;
}

/* Applies options over the model's own settings, sets the window and prepares the products. */
static int apply_options(bert_model *m, const bert_options *o, int window, char **err) {
    if (o->pooling >= 0) m->pooling = (bert_pooling)o->pooling;
    if (o->normalize >= 0) m->normalize = o->normalize;
    if (o->max_tokens > 0) {
        if (o->max_tokens > window)
            return silt_err(err, "option \"max_tokens\" %d exceeds the model's window of %d",
                            o->max_tokens, window);
        window = o->max_tokens;
    }
    m->base.max_tokens = window;
    return prepare_products(m, o->int8, err);
}

/* ---- weights -------------------------------------------------------------------------------------- */

/* Where tensors come from: a safetensors checkpoint (HF names, optional "bert." prefix) or a
 * GGUF file (llama.cpp names). */
typedef struct {
    const silt_safetensors *st;
    const char *prefix;
    const silt_gguf *g;
} bert_src;

/* Reads tensor name into dst after checking it is [rows, cols] (rows = 0: a vector of cols).
 * An HF LayerNorm may use the old gamma/beta names. */
static int fetch_hf(const bert_src *s, const char *name, int64_t rows, int64_t cols, float *dst,
                    char **err) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", s->prefix, name);
    const silt_st_tensor *t = silt_safetensors_find(s->st, full);
    size_t n = strlen(full);
    if (!t && n > 16 && strcmp(full + n - 16, "LayerNorm.weight") == 0) {
        memcpy(full + n - 6, "gamma", 6);
        t = silt_safetensors_find(s->st, full);
    } else if (!t && n > 14 && strcmp(full + n - 14, "LayerNorm.bias") == 0) {
        memcpy(full + n - 4, "beta", 5);
        t = silt_safetensors_find(s->st, full);
    }
    if (!t) return silt_err(err, "tensor '%s%s' is missing", s->prefix, name);
    int ok = rows ? t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols
                  : t->n_dims == 1 && t->shape[0] == cols;
    if (!ok) {
        char got[128] = "";
        for (int i = 0; i < t->n_dims && strlen(got) < 100; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "",
                     (long long)t->shape[i]);
        if (rows)
            return silt_err(err, "tensor '%s' has shape [%s], expected [%lld, %lld]", full, got,
                            (long long)rows, (long long)cols);
        return silt_err(err, "tensor '%s' has shape [%s], expected [%lld]", full, got,
                        (long long)cols);
    }
    return silt_st_tensor_to_f32(t, dst, err);
}

static int fetch_gguf(const bert_src *s, const char *name, int64_t rows, int64_t cols,
                      float *dst, char **err) {
    const silt_gguf_tensor *t = silt_gguf_find_tensor(s->g, name);
    if (!t) return silt_err(err, "tensor '%s' is missing", name);
    int ok = t->ne[0] == cols && t->ne[1] == (rows ? rows : 1) && t->ne[2] == 1 && t->ne[3] == 1;
    if (!ok) {
        if (rows)
            return silt_err(err, "tensor '%s' has ne {%lld, %lld, %lld, %lld}, expected "
                            "{%lld, %lld}", name, (long long)t->ne[0], (long long)t->ne[1],
                            (long long)t->ne[2], (long long)t->ne[3], (long long)cols,
                            (long long)rows);
        return silt_err(err, "tensor '%s' has ne {%lld, %lld, %lld, %lld}, expected {%lld}", name,
                        (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3], (long long)cols);
    }
    return silt_gguf_tensor_to_f32(t, dst, err);
}

/* Elements held by all the tensors of the source: weights come from them, so they bound
 * what the hyperparameters may ask to allocate. */
static uint64_t src_elems(const bert_src *s) {
    uint64_t n = 0;
    if (s->st)
        for (int i = 0; i < silt_safetensors_count(s->st); i++) n += silt_safetensors_at(s->st, i)->n_elems;
    if (s->g)
        for (int i = 0; i < silt_gguf_tensor_count(s->g); i++) n += silt_gguf_tensor_at(s->g, i)->n_elems;
    return n;
}

/* Carves every weight out of one aligned blob, from the hyperparameters already set. The
 * hyperparameters are checked against the tensors the file holds first (with 1M weights of
 * slack for small tables a checkpoint may leave out): a header that lies must not make a
 * small file allocate gigabytes before its tensors are checked one by one. */
static int alloc_weights(bert_model *m, const bert_src *src, char **err) {
    const size_t H = (size_t)m->hidden, F = (size_t)m->ffn;
    const size_t per_layer_sizes[12] = {3 * H * H, 3 * H, H * H, H, H, H, F * H, F, H * F, H, H, H};
    size_t need = ((size_t)m->vocab_rows + (size_t)m->n_pos + (size_t)m->n_types + 2) * H;
    for (int i = 0; i < 12; i++) need += (size_t)m->n_layers * per_layer_sizes[i];
    const uint64_t have = src_elems(src);
    if (need > have + (1u << 20))
        return silt_err(err, "the hyperparameters need %zu weights, but the file's tensors hold "
                        "only %llu", need, (unsigned long long)have);
    size_t total = 0;
#define SLOT(n) (((size_t)(n) + 15) & ~(size_t)15)
    total += SLOT((size_t)m->vocab_rows * H) + SLOT((size_t)m->n_pos * H) +
             SLOT((size_t)m->n_types * H) + 2 * SLOT(H);
    for (int i = 0; i < 12; i++) total += (size_t)m->n_layers * SLOT(per_layer_sizes[i]);
    m->blob = silt_ops_alloc(total);
    m->layer = calloc((size_t)m->n_layers, sizeof *m->layer);
    if (!m->blob || !m->layer)
        return silt_err(err, "out of memory for %zu weights (%zu MB)", total,
                        total * sizeof(float) >> 20);
    float *at = m->blob;
#define TAKE(ptr, n) ((ptr) = at, at += SLOT(n))
    TAKE(m->word, (size_t)m->vocab_rows * H);
    TAKE(m->pos, (size_t)m->n_pos * H);
    TAKE(m->types, (size_t)m->n_types * H);
    TAKE(m->emb_ln_g, H);
    TAKE(m->emb_ln_b, H);
    for (int l = 0; l < m->n_layers; l++) {
        bert_layer *L = &m->layer[l];
        float **slots[12] = {&L->wqkv, &L->bqkv, &L->wo,  &L->bo, &L->ln1_g, &L->ln1_b,
                             &L->wi,   &L->bi,   &L->wf,  &L->bf, &L->ln2_g, &L->ln2_b};
        for (int i = 0; i < 12; i++) TAKE(*slots[i], per_layer_sizes[i]);
    }
#undef TAKE
#undef SLOT
    return 0;
}

/* Fills every weight from s. HF and GGUF names of each tensor are listed side by side. */
static int load_weights(bert_model *m, const bert_src *s, char **err) {
    const int64_t H = m->hidden, F = m->ffn;
    typedef int (*fetch_fn)(const bert_src *, const char *, int64_t, int64_t, float *, char **);
    const fetch_fn fetch = s->g ? fetch_gguf : fetch_hf;
    const int gg = s->g != NULL;
    struct {
        const char *hf, *gguf;
        int64_t rows, cols;
        float *dst;
    } emb[] = {
        {"embeddings.word_embeddings.weight", "token_embd.weight", m->vocab_rows, H, m->word},
        {"embeddings.position_embeddings.weight", "position_embd.weight", m->n_pos, H, m->pos},
        {"embeddings.token_type_embeddings.weight", "token_types.weight", m->n_types, H,
         m->types},
        {"embeddings.LayerNorm.weight", "token_embd_norm.weight", 0, H, m->emb_ln_g},
        {"embeddings.LayerNorm.bias", "token_embd_norm.bias", 0, H, m->emb_ln_b},
    };
    for (size_t i = 0; i < sizeof emb / sizeof emb[0]; i++)
        if (fetch(s, gg ? emb[i].gguf : emb[i].hf, emb[i].rows, emb[i].cols, emb[i].dst, err))
            return -1;
    for (int l = 0; l < m->n_layers; l++) {
        bert_layer *L = &m->layer[l];
        char hf[160], gn[160];
        /* Q, K, V go into consecutive row blocks of wqkv; a GGUF may hold them fused. */
        snprintf(gn, sizeof gn, "blk.%d.attn_q.weight", l);
        if (gg && !silt_gguf_find_tensor(s->g, gn)) {
            snprintf(gn, sizeof gn, "blk.%d.attn_qkv.weight", l);
            if (fetch(s, gn, 3 * H, H, L->wqkv, err)) return -1;
            snprintf(gn, sizeof gn, "blk.%d.attn_qkv.bias", l);
            if (fetch(s, gn, 0, 3 * H, L->bqkv, err)) return -1;
        } else {
            static const char *const hf_qkv[3] = {"query", "key", "value"};
            static const char *const gg_qkv[3] = {"attn_q", "attn_k", "attn_v"};
            for (int j = 0; j < 3; j++) {
                snprintf(hf, sizeof hf, "encoder.layer.%d.attention.self.%s.weight", l, hf_qkv[j]);
                snprintf(gn, sizeof gn, "blk.%d.%s.weight", l, gg_qkv[j]);
                if (fetch(s, gg ? gn : hf, H, H, L->wqkv + j * H * H, err)) return -1;
                snprintf(hf, sizeof hf, "encoder.layer.%d.attention.self.%s.bias", l, hf_qkv[j]);
                snprintf(gn, sizeof gn, "blk.%d.%s.bias", l, gg_qkv[j]);
                if (fetch(s, gg ? gn : hf, 0, H, L->bqkv + j * H, err)) return -1;
            }
        }
        struct {
            const char *hf, *gguf;
            int64_t rows, cols;
            float *dst;
        } t[] = {
            {"attention.output.dense.weight", "attn_output.weight", H, H, L->wo},
            {"attention.output.dense.bias", "attn_output.bias", 0, H, L->bo},
            {"attention.output.LayerNorm.weight", "attn_output_norm.weight", 0, H, L->ln1_g},
            {"attention.output.LayerNorm.bias", "attn_output_norm.bias", 0, H, L->ln1_b},
            {"intermediate.dense.weight", "ffn_up.weight", F, H, L->wi},
            {"intermediate.dense.bias", "ffn_up.bias", 0, F, L->bi},
            {"output.dense.weight", "ffn_down.weight", H, F, L->wf},
            {"output.dense.bias", "ffn_down.bias", 0, H, L->bf},
            {"output.LayerNorm.weight", "layer_output_norm.weight", 0, H, L->ln2_g},
            {"output.LayerNorm.bias", "layer_output_norm.bias", 0, H, L->ln2_b},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            snprintf(hf, sizeof hf, "encoder.layer.%d.%s", l, t[i].hf);
            snprintf(gn, sizeof gn, "blk.%d.%s", l, t[i].gguf);
            if (fetch(s, gg ? gn : hf, t[i].rows, t[i].cols, t[i].dst, err)) return -1;
        }
    }
    return 0;
}

/* Checks hyperparameters read from a file before any size is computed from them. */
static int check_hparams(const bert_model *m, char **err) {
    if (m->hidden < 1 || m->hidden > BERT_MAX_HIDDEN)
        return silt_err(err, "hidden size %d is out of range 1..%d", m->hidden, BERT_MAX_HIDDEN);
    if (m->n_heads < 1 || m->hidden % m->n_heads != 0)
        return silt_err(err, "%d attention heads do not divide the hidden size %d", m->n_heads,
                        m->hidden);
    if (m->n_layers < 1 || m->n_layers > BERT_MAX_LAYERS)
        return silt_err(err, "layer count %d is out of range 1..%d", m->n_layers,
                        BERT_MAX_LAYERS);
    if (m->ffn < 1 || m->ffn > BERT_MAX_FFN)
        return silt_err(err, "intermediate size %d is out of range 1..%d", m->ffn, BERT_MAX_FFN);
    if (m->n_pos < 2 || m->n_pos > BERT_MAX_POS)
        return silt_err(err, "max position embeddings %d is out of range 2..%d", m->n_pos,
                        BERT_MAX_POS);
    if (m->vocab_rows < 1 || m->vocab_rows > BERT_MAX_VOCAB)
        return silt_err(err, "vocabulary size %d is out of range 1..%d", m->vocab_rows,
                        BERT_MAX_VOCAB);
    if (m->n_types < 1 || m->n_types > BERT_MAX_TYPES)
        return silt_err(err, "token type count %d is out of range 1..%d", m->n_types,
                        BERT_MAX_TYPES);
    if (!(m->eps > 0.0f && m->eps < 1.0f))
        return silt_err(err, "layer_norm_eps %g is out of range (0, 1)", (double)m->eps);
    return 0;
}

/* Final checks shared by both loaders: the tokenizer fits the embedding table. */
static int check_tokenizer(const bert_model *m, char **err) {
    int n = silt_wordpiece_vocab_size(m->tok);
    if (n > m->vocab_rows)
        return silt_err(err, "tokenizer has %d tokens but the embedding table only %d rows", n,
                        m->vocab_rows);
    return 0;
}

static bert_model *new_model(void) {
    bert_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->base.ops = &BERT_OPS;
    snprintf(m->base.arch, sizeof m->base.arch, "bert");
    m->base.kind = SILT_KIND_DENSE;
    return m;
}

/* ---- Hugging Face directory ------------------------------------------------------------------- */

/* Reads dir/name as JSON. Returns NULL with *err set when the file is unreadable or invalid;
 * when it is absent and optional, returns NULL with *missing = 1 and no error. */
static cJSON *read_json(const char *dir, const char *name, int optional, int *missing,
                        char **err) {
    char *path = NULL;
    if (missing) *missing = 0;
    if (asprintf(&path, "%s/%s", dir, name) < 0) {
        silt_err(err, "out of memory");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && optional) {
            if (missing) *missing = 1;
        } else {
            silt_err(err, "cannot open %s: %s", path, strerror(errno));
        }
        free(path);
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int too_big = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (n > (16u << 20)) too_big = 1;
        if (r < 4096 || too_big) break;
    }
    fclose(f);
    cJSON *root = NULL;
    if (!buf || n + 1 > cap) {
        silt_err(err, "out of memory reading %s", path);
    } else if (too_big) {
        silt_err(err, "%s is larger than 16 MB", path);
    } else {
        buf[n] = 0;
        root = cJSON_Parse(buf);
        if (!root) silt_err(err, "%s is not valid JSON", path);
    }
    free(buf);
    free(path);
    return root;
}

/* An integer field of config.json; absent uses def (def < 0: required). */
static int cfg_int(const cJSON *cfg, const char *key, int def, int *out, char **err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v) {
        if (def < 0) return silt_err(err, "config.json has no \"%s\"", key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
        v->valuedouble != (double)(int)v->valuedouble)
        return silt_err(err, "config.json \"%s\" must be a non-negative integer", key);
    *out = (int)v->valuedouble;
    return 0;
}

/* Pooling and normalisation from sentence-transformers' modules.json (absent: mean, none). */
static int read_st_modules(bert_model *m, const char *dir, char **err) {
    int missing;
    m->pooling = POOL_MEAN;
    m->normalize = 0;
    cJSON *mods = read_json(dir, "modules.json", 1, &missing, err);
    if (missing) return 0;
    if (!mods) return -1;
    int rc = -1;
    if (!cJSON_IsArray(mods)) {
        silt_err(err, "modules.json must be a JSON array");
        goto done;
    }
    for (const cJSON *mod = mods->child; mod; mod = mod->next) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(mod, "type");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(mod, "path");
        if (!cJSON_IsString(type)) {
            silt_err(err, "modules.json: every module needs a string \"type\"");
            goto done;
        }
        const char *t = strrchr(type->valuestring, '.');
        t = t ? t + 1 : type->valuestring;
        if (strcmp(t, "Transformer") == 0) continue;
        if (strcmp(t, "Normalize") == 0) {
            m->normalize = 1;
            continue;
        }
        if (strcmp(t, "Pooling") != 0) {
            silt_err(err, "modules.json: module type '%s' is not supported (silt runs "
                     "Transformer, Pooling and Normalize)", type->valuestring);
            goto done;
        }
        if (!cJSON_IsString(path) || strstr(path->valuestring, "..") || path->valuestring[0] == '/') {
            silt_err(err, "modules.json: the Pooling module needs a relative \"path\"");
            goto done;
        }
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/config.json", path->valuestring);
        cJSON *pc = read_json(dir, sub, 0, NULL, err);
        if (!pc) goto done;
        static const struct {
            const char *key;
            int pooling; /* -1: a mode silt does not run */
        } modes[] = {
            {"pooling_mode_cls_token", POOL_CLS},  {"pooling_mode_mean_tokens", POOL_MEAN},
            {"pooling_mode_max_tokens", POOL_MAX}, {"pooling_mode_lasttoken", POOL_LAST},
            {"pooling_mode_mean_sqrt_len_tokens", -1}, {"pooling_mode_weightedmean_tokens", -1},
        };
        int n_on = 0, chosen = POOL_MEAN;
        const char *bad = NULL;
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pc, modes[i].key))) {
                n_on++;
                if (modes[i].pooling < 0) bad = modes[i].key;
                else chosen = modes[i].pooling;
            }
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(pc, "pooling_mode");
        if (n_on == 0 && cJSON_IsString(mode)) {
            n_on = 1;
            chosen = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(mode->valuestring, POOL_NAMES[i]) == 0) chosen = i;
            if (strcmp(mode->valuestring, "lasttoken") == 0) chosen = POOL_LAST;
            if (chosen < 0) bad = mode->valuestring;
        }
        cJSON_Delete(pc);
        if (bad) {
            silt_err(err, "%s/config.json: pooling mode %s is not supported (mean, cls, max, "
                     "last token)", path->valuestring, bad);
            goto done;
        }
        if (n_on > 1) {
            silt_err(err, "%s/config.json: %d pooling modes are on; silt runs exactly one",
                     path->valuestring, n_on);
            goto done;
        }
        m->pooling = (bert_pooling)chosen;
    }
    rc = 0;
done:
    cJSON_Delete(mods);
    return rc;
}

/* The window: max_position_embeddings, cut by sentence_bert_config.json max_seq_length or
 * else tokenizer_config.json model_max_length, as sentence-transformers does. */
static int hf_window(const bert_model *m, const char *dir, int *window, char **err) {
    int missing;
    *window = m->n_pos;
    cJSON *sb = read_json(dir, "sentence_bert_config.json", 1, &missing, err);
    if (!sb && !missing) return -1;
    const cJSON *v = sb ? cJSON_GetObjectItemCaseSensitive(sb, "max_seq_length") : NULL;
    int found = 0;
    if (cJSON_IsNumber(v) && v->valuedouble >= 2) {
        if (v->valuedouble < *window) *window = (int)v->valuedouble;
        found = 1;
    }
    cJSON_Delete(sb);
    if (found) return 0;
    cJSON *tc = read_json(dir, "tokenizer_config.json", 1, &missing, err);
    if (!tc && !missing) return -1;
    v = tc ? cJSON_GetObjectItemCaseSensitive(tc, "model_max_length") : NULL;
    if (cJSON_IsNumber(v) && v->valuedouble >= 2 && v->valuedouble < *window)
        *window = (int)v->valuedouble;
    cJSON_Delete(tc);
    return 0;
}

static silt_encoder *bert_hf_load(const char *dir, const cJSON *cfg, const bert_options *opt,
                                  char **err) {
    bert_model *m = new_model();
    silt_safetensors *st = NULL;
    if (!m) {
        silt_err(err, "out of memory");
        return NULL;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    const cJSON *pe = cJSON_GetObjectItemCaseSensitive(cfg, "position_embedding_type");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_eps");
    int window;
    if (cfg_int(cfg, "hidden_size", -1, &m->hidden, err) ||
        cfg_int(cfg, "num_attention_heads", -1, &m->n_heads, err) ||
        cfg_int(cfg, "num_hidden_layers", -1, &m->n_layers, err) ||
        cfg_int(cfg, "intermediate_size", -1, &m->ffn, err) ||
        cfg_int(cfg, "max_position_embeddings", -1, &m->n_pos, err) ||
        cfg_int(cfg, "type_vocab_size", 2, &m->n_types, err) ||
        cfg_int(cfg, "vocab_size", 0, &m->vocab_rows, err))
        goto fail;
    if (act && (!cJSON_IsString(act) ||
                (strcmp(act->valuestring, "gelu") != 0 && strcmp(act->valuestring, "gelu_new") != 0 &&
                 strcmp(act->valuestring, "gelu_pytorch_tanh") != 0))) {
        silt_err(err, "config.json hidden_act '%s' is not supported (gelu, gelu_new, "
                 "gelu_pytorch_tanh)", cJSON_IsString(act) ? act->valuestring : "?");
        goto fail;
    }
    m->gelu_tanh = act && strcmp(act->valuestring, "gelu") != 0;
    if (pe && (!cJSON_IsString(pe) || strcmp(pe->valuestring, "absolute") != 0)) {
        silt_err(err, "config.json position_embedding_type '%s' is not supported (absolute)",
                 cJSON_IsString(pe) ? pe->valuestring : "?");
        goto fail;
    }
    m->eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-12f;
    if (!(st = silt_safetensors_open_dir(dir, err))) goto fail;
    /* The table's rows decide the vocabulary size (config.json's vocab_size may be absent). */
    bert_src src = {.st = st, .prefix = ""};
    const silt_st_tensor *we = silt_safetensors_find(st, "embeddings.word_embeddings.weight");
    if (!we) {
        we = silt_safetensors_find(st, "bert.embeddings.word_embeddings.weight");
        src.prefix = "bert.";
    }
    if (!we) {
        silt_err(err, "tensor 'embeddings.word_embeddings.weight' (or with a 'bert.' prefix) is "
                 "missing: not a BERT checkpoint");
        goto fail;
    }
    if (we->n_dims != 2 || we->shape[0] < 1 || we->shape[0] > BERT_MAX_VOCAB) {
        silt_err(err, "tensor '%sembeddings.word_embeddings.weight' must be [vocab, hidden]",
                 src.prefix);
        goto fail;
    }
    if (m->vocab_rows && m->vocab_rows != we->shape[0]) {
        silt_err(err, "config.json vocab_size %d does not match the embedding table's %lld rows",
                 m->vocab_rows, (long long)we->shape[0]);
        goto fail;
    }
    m->vocab_rows = (int)we->shape[0];
    m->d_head = m->n_heads > 0 ? m->hidden / m->n_heads : 0;
    if (check_hparams(m, err) || alloc_weights(m, &src, err) || load_weights(m, &src, err) ||
        read_st_modules(m, dir, err) || hf_window(m, dir, &window, err))
        goto fail;
    silt_safetensors_close(st);
    st = NULL;
    if (!(m->tok = silt_wordpiece_from_hf_dir(dir, err)) || check_tokenizer(m, err) ||
        apply_options(m, opt, window, err))
        goto fail;
    m->base.dim = m->hidden;
    return &m->base;
fail:
    silt_safetensors_close(st);
    bert_destroy(&m->base);
    return NULL;
}

/* config.json architectures this file loads. Another encoder family either adds a row here
 * or, like Mamba, claims its directories before the table is consulted (silt_hf_load). */
typedef silt_encoder *(*hf_loader)(const char *dir, const cJSON *cfg, const bert_options *opt,
                                   char **err);
static const struct {
    const char *arch;
    hf_loader load;
} HF_ARCHS[] = {
    {"BertModel", bert_hf_load},
    {"BertForMaskedLM", bert_hf_load},
    {"BertForPreTraining", bert_hf_load},
};

silt_encoder *silt_hf_load(const char *dir, const char *options_json, char **err) {
#ifdef HAVE_MAMBA
    if (silt_mamba_claims_hf(dir)) return silt_mamba_load_hf(dir, options_json, err);
#endif
#ifdef HAVE_SPLADE
    if (silt_splade_wanted(options_json)) return silt_splade_load_hf(dir, options_json, err);
#endif
    bert_options opt;
    if (parse_options(options_json, &opt, err)) return NULL;
    cJSON *cfg = read_json(dir, "config.json", 0, NULL, err);
    if (!cfg) {
        silt_err_prefix(err, "model %s", dir);
        return NULL;
    }
    silt_encoder *enc = NULL;
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    const char *arch = NULL;
    if (cJSON_IsArray(archs) && cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
        arch = cJSON_GetArrayItem(archs, 0)->valuestring;
    else if (cJSON_IsString(mtype) && strcmp(mtype->valuestring, "bert") == 0)
        arch = "BertModel";
    if (!cJSON_IsObject(cfg)) {
        silt_err(err, "config.json must be a JSON object");
    } else if (!arch) {
        silt_err(err, "config.json names no architecture (expected \"architectures\": "
                 "[\"BertModel\"] or \"model_type\": \"bert\")");
    } else {
        size_t i = 0, n = sizeof HF_ARCHS / sizeof HF_ARCHS[0];
        while (i < n && strcmp(HF_ARCHS[i].arch, arch) != 0) i++;
        if (i == n)
            silt_err(err, "unknown architecture '%s' in config.json (silt runs BertModel, "
                     "BertForMaskedLM, BertForPreTraining" MAMBA_ARCHS ")", arch);
        else
            enc = HF_ARCHS[i].load(dir, cfg, &opt, err);
    }
    if (!enc) silt_err_prefix(err, "model %s", dir);
    cJSON_Delete(cfg);
    return enc;
}

/* ---- GGUF ------------------------------------------------------------------------------------------- */

/* An integer hyperparameter "<arch>.<key>" (def < 0: required). */
static int gguf_hp(const silt_gguf *g, const char *key, int def, int *out, char **err) {
    if (!silt_gguf_find_kv(g, key)) {
        if (def < 0) return silt_err(err, "GGUF key '%s' is missing", key);
        *out = def;
        return 0;
    }
    int64_t v;
    if (silt_gguf_get_int(g, key, &v, err)) return -1;
    if (v < 0 || v > 1000000000) return silt_err(err, "GGUF key '%s' = %lld is out of range", key,
                                                 (long long)v);
    *out = (int)v;
    return 0;
}

static silt_encoder *bert_gguf_load(const silt_gguf *g, const bert_options *opt, char **err) {
    bert_model *m = new_model();
    if (!m) {
        silt_err(err, "out of memory");
        return NULL;
    }
    int pooling_type, causal = 0;
    double eps = 1e-12;
    if (gguf_hp(g, "bert.embedding_length", -1, &m->hidden, err) ||
        gguf_hp(g, "bert.block_count", -1, &m->n_layers, err) ||
        gguf_hp(g, "bert.attention.head_count", -1, &m->n_heads, err) ||
        gguf_hp(g, "bert.context_length", -1, &m->n_pos, err) ||
        gguf_hp(g, "bert.pooling_type", 1, &pooling_type, err) ||
        gguf_hp(g, "bert.attention.causal", 0, &causal, err))
        goto fail;
    if (silt_gguf_find_kv(g, "bert.attention.layer_norm_epsilon") &&
        silt_gguf_get_float(g, "bert.attention.layer_norm_epsilon", &eps, err))
        goto fail;
    m->eps = (float)eps;
    if (causal) {
        silt_err(err, "bert.attention.causal is true; BERT encoders attend both ways");
        goto fail;
    }
    /* llama_pooling_type: 0 none (per-token; silt pools by mean), 1 mean, 2 cls, 3 last. */
    static const int POOL_OF[] = {POOL_MEAN, POOL_MEAN, POOL_CLS, POOL_LAST};
    if (pooling_type > 3) {
        silt_err(err, "bert.pooling_type %d is not an embedding pooling (rank models score "
                 "pairs; silt runs none, mean, cls, last)", pooling_type);
        goto fail;
    }
    m->pooling = (bert_pooling)POOL_OF[pooling_type];
    m->normalize = 1;
    /* Table sizes come from the tensors themselves (checked again, in full, on load). */
    const silt_gguf_tensor *te = silt_gguf_find_tensor(g, "token_embd.weight");
    const silt_gguf_tensor *tt = silt_gguf_find_tensor(g, "token_types.weight");
    const silt_gguf_tensor *up = silt_gguf_find_tensor(g, "blk.0.ffn_up.weight");
    if (!te || !tt || !up) {
        silt_err(err, "tensor '%s' is missing",
                 !te ? "token_embd.weight" : !tt ? "token_types.weight" : "blk.0.ffn_up.weight");
        goto fail;
    }
    m->vocab_rows = te->ne[1] <= BERT_MAX_VOCAB ? (int)te->ne[1] : 0;
    m->n_types = tt->ne[1] <= BERT_MAX_TYPES ? (int)tt->ne[1] : 0;
    if (gguf_hp(g, "bert.feed_forward_length", up->ne[1] <= BERT_MAX_FFN ? (int)up->ne[1] : 0,
                &m->ffn, err))
        goto fail;
    m->d_head = m->n_heads > 0 ? m->hidden / m->n_heads : 0;
    bert_src src = {.g = g};
    if (check_hparams(m, err) || alloc_weights(m, &src, err) || load_weights(m, &src, err) ||
        !(m->tok = silt_wordpiece_from_gguf(g, err)) || check_tokenizer(m, err) ||
        apply_options(m, opt, m->n_pos, err))
        goto fail;
    m->base.dim = m->hidden;
    return &m->base;
fail:
    bert_destroy(&m->base);
    return NULL;
}

/* GGUF general.architecture values this file loads (Mamba claims its files first). */
typedef silt_encoder *(*gguf_loader)(const silt_gguf *g, const bert_options *opt, char **err);
static const struct {
    const char *arch;
    gguf_loader load;
} GGUF_ARCHS[] = {
    {"bert", bert_gguf_load},
};

silt_encoder *silt_gguf_load(const char *path, const char *options_json, char **err) {
#ifdef HAVE_MAMBA
    if (silt_mamba_claims_gguf(path)) return silt_mamba_load_gguf(path, options_json, err);
#endif
#ifdef HAVE_SPLADE
    if (silt_splade_wanted(options_json)) {
        silt_err(err, "GGUF model %s: a sparse (SPLADE) model needs its masked-language-model "
                 "head, which GGUF files do not carry (llama.cpp drops it); register the Hugging "
                 "Face directory instead", path);
        return NULL;
    }
#endif
    bert_options opt;
    if (parse_options(options_json, &opt, err)) return NULL;
    silt_gguf *g = silt_gguf_open(path, err);
    if (!g) return NULL;
    silt_encoder *enc = NULL;
    const char *arch;
    size_t arch_len;
    if (silt_gguf_get_str(g, "general.architecture", &arch, &arch_len, err) == 0) {
        size_t i = 0, n = sizeof GGUF_ARCHS / sizeof GGUF_ARCHS[0];
        while (i < n && !(strlen(GGUF_ARCHS[i].arch) == arch_len &&
                          memcmp(GGUF_ARCHS[i].arch, arch, arch_len) == 0))
            i++;
        if (i == n)
            silt_err(err, "unknown architecture '%.*s' (general.architecture; silt runs bert"
                     MAMBA_GGUF ")",
                     (int)(arch_len > 64 ? 64 : arch_len), arch);
        else
            enc = GGUF_ARCHS[i].load(g, &opt, err);
    }
    if (!enc) silt_err_prefix(err, "GGUF model %s", path);
    silt_gguf_close(g);
    return enc;
}

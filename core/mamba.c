/* mamba.c: Mamba-1 encoder (see mamba.h): forward pass, pooling, and the loaders for Hugging
 * Face directories and llama.cpp GGUF files.
 *
 * Shapes below: R = rows of the current step (tokens of one or more texts), dm = d_model,
 * di = d_inner, ds = d_state, K = d_conv, dr = dt_rank, nx = dr + 2·ds.
 *
 * A batch runs in steps of up to chunk_tokens rows. Each step takes the texts in order: the
 * rest of a text begun in the previous step, then whole texts, and a part of the last one if
 * it does not fit. Every layer is then four GEMMs over all R rows (in_proj, x_proj, dt_proj,
 * out_proj; OpenBLAS threads them) and two sequential kernels per text segment (conv, scan;
 * mamba_scan.c) spread over the silt_threads pool by blocks of channels. Only the one text
 * that crosses a step boundary carries state (its conv inputs and h matrices, all layers),
 * so the workspace is fixed by chunk_tokens whatever the lengths of the texts. */
#include "core/mamba.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bpe.h"
#include "core/err.h"
#include "core/gguf.h"
#include "core/mamba_scan.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "core/threads.h"

#define MAMBA_DEFAULT_MAX_TOKENS 8192
#define MAMBA_DEFAULT_CHUNK 512
/* Channels per kernel task: 8 vectors of 8; enough work per task, enough tasks per layer. */
#define MAMBA_BLOCK 64
/* Sanity bounds on hyperparameters from files (keep size products inside int for BLAS). */
#define MAMBA_MAX_DMODEL 16384
#define MAMBA_MAX_LAYERS 512
#define MAMBA_MAX_VOCAB (1 << 22)
#define MAMBA_MAX_WINDOW (1 << 22)
#define MAMBA_MAX_JSON_BYTES (64u << 20)

typedef struct {
    float *norm;   /* [dm] RMSNorm weight before the mixer */
    float *in_w;   /* [2di, dm]: x rows, then z rows */
    float *in_b;   /* [2di] or NULL */
    float *conv_w; /* [K, di] taps, tap-major (transposed from [di, 1, K]) */
    float *conv_b; /* [di] or NULL */
    float *x_w;    /* [nx, di]: dt, B, C rows */
    float *dt_w;   /* [di, dr] */
    float *dt_b;   /* [di] */
    float *A;      /* [ds, di] = -exp(A_log), state-major (transposed) */
    float *D;      /* [di] */
    float *out_w;  /* [dm, di] */
    float *out_b;  /* [dm] or NULL */
} mamba_layer;

typedef struct {
    silt_encoder base; /* must be first: the encoder handle is a mamba_model */
    silt_bpe *tok;
    int32_t eos_id;
    int n_vocab, dm, n_layers, di, ds, K, dr;
    float eps;
    int chunk;         /* rows per step */
    float *embed;      /* [n_vocab, dm] */
    float *norm_f;     /* [dm] */
    mamba_layer *layer;
} mamba_model;

/* ---- encoder ops ------------------------------------------------------------------------------ */

static int mamba_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate,
                          int32_t **ids, int *n_ids, char **err) {
    const mamba_model *m = (const mamba_model *)enc;
    *ids = NULL;
    *n_ids = 0;
    if (!text && len > 0) return silt_err(err, "mamba: NULL text");
    const int room = enc->max_tokens - 1; /* the window holds the text's tokens and EOS */
    int32_t *t = NULL;
    int n = 0;
    /* Special tokens written in the text stay text: a document saying "<|endoftext|>" must
     * not end itself early. Ask for one id more than fits, to tell "fits" from "cut". */
    if (silt_bpe_encode(m->tok, text ? text : "", len, 0, room + 1, &t, &n, err)) return -1;
    if (n > room) {
        if (!truncate) {
            free(t);
            return silt_err(err, "text is longer than the model's window of %d tokens (EOS "
                                 "included); allow truncation to keep the first %d",
                            enc->max_tokens, room);
        }
        n = room;
    }
    int32_t *out = realloc(t, (size_t)(n + 1) * sizeof *out);
    if (!out) {
        free(t);
        return silt_err(err, "out of memory tokenizing %zu bytes", len);
    }
    out[n] = m->eos_id;
    *ids = out;
    *n_ids = n + 1;
    return 0;
}

static const char *mamba_token_text(const silt_encoder *enc, int32_t id) {
    return silt_bpe_token(((const mamba_model *)enc)->tok, id);
}

static int32_t mamba_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    return silt_bpe_token_id(((const mamba_model *)enc)->tok, tok, len);
}

static void mamba_destroy(silt_encoder *enc) {
    mamba_model *m = (mamba_model *)enc;
    if (!m) return;
    silt_bpe_free(m->tok);
    for (int l = 0; m->layer && l < m->n_layers; l++) {
        mamba_layer *L = &m->layer[l];
        float *all[] = {L->norm, L->in_w, L->in_b, L->conv_w, L->conv_b, L->x_w,
                        L->dt_w, L->dt_b, L->A,    L->D,      L->out_w,  L->out_b};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    }
    free(m->layer);
    free(m->embed);
    free(m->norm_f);
    free(m);
}

/* ---- forward pass ----------------------------------------------------------------------------- */

/* A run of consecutive tokens of one text inside a step. */
typedef struct {
    int text;      /* index in the batch */
    int start, n;  /* tokens [start, start + n) of the text */
    int row;       /* first row in the step's matrices */
    int carry_in;  /* continues a text from the previous step: read the carried state */
    int carry_out; /* the text goes on in the next step: write the carried state */
} mamba_seg;

/* Workspace of one embed_batch call. */
typedef struct {
    const mamba_model *m;
    float *h;      /* [R, dm] residual stream */
    float *xn;     /* [R, dm] normalised input of the mixer */
    float *xz;     /* [R, 2di] in_proj output: x | z */
    float *u;      /* [R, di] conv + SiLU output */
    float *xdbc;   /* [R, nx] x_proj output: dt | B | C */
    float *dt;     /* [R, di] dt_proj output (bias and softplus applied in the scan) */
    float *y;      /* [R, di] gated scan output */
    /* Carried state, double-buffered: a step reads [cur] and writes [1 - cur], because the
     * text that ends in a step and the text that starts crossing into the next may differ. */
    float *conv_state[2]; /* [n_layers, K-1, di] */
    float *ssm_state[2];  /* [n_layers, ds, di] */
    int cur;
    mamba_seg *seg;
    int n_seg;
    int layer;     /* layer the kernels work on */
} mamba_work;

static int n_blocks(const mamba_model *m) { return (m->di + MAMBA_BLOCK - 1) / MAMBA_BLOCK; }

static void conv_task(void *ctx, int task, int worker) {
    (void)worker;
    const mamba_work *w = ctx;
    const mamba_model *m = w->m;
    const mamba_seg *s = &w->seg[task / n_blocks(m)];
    const int c0 = (task % n_blocks(m)) * MAMBA_BLOCK;
    const size_t cs = (size_t)(m->K - 1) * m->di * w->layer;
    silt_mamba_conv_args a = {
        .n_tokens = s->n, .c0 = c0, .c1 = c0 + MAMBA_BLOCK < m->di ? c0 + MAMBA_BLOCK : m->di,
        .d_inner = m->di, .d_conv = m->K,
        .x = w->xz + (size_t)s->row * 2 * m->di, .ld_x = 2 * m->di,
        .w = m->layer[w->layer].conv_w, .bias = m->layer[w->layer].conv_b,
        .state_in = s->carry_in ? w->conv_state[w->cur] + cs : NULL,
        .state_out = s->carry_out ? w->conv_state[1 - w->cur] + cs : NULL,
        .u = w->u + (size_t)s->row * m->di, .ld_u = m->di,
    };
    silt_mamba_conv(&a);
}

static void scan_task(void *ctx, int task, int worker) {
    (void)worker;
    const mamba_work *w = ctx;
    const mamba_model *m = w->m;
    const mamba_layer *L = &m->layer[w->layer];
    const mamba_seg *s = &w->seg[task / n_blocks(m)];
    const int c0 = (task % n_blocks(m)) * MAMBA_BLOCK;
    const int nx = m->dr + 2 * m->ds;
    const size_t ss = (size_t)m->ds * m->di * w->layer;
    const float *xdbc = w->xdbc + (size_t)s->row * nx;
    silt_mamba_scan_args a = {
        .n_tokens = s->n, .c0 = c0, .c1 = c0 + MAMBA_BLOCK < m->di ? c0 + MAMBA_BLOCK : m->di,
        .d_inner = m->di, .d_state = m->ds,
        .dt = w->dt + (size_t)s->row * m->di, .ld_dt = m->di, .dt_bias = L->dt_b,
        .u = w->u + (size_t)s->row * m->di, .ld_u = m->di,
        .B = xdbc + m->dr, .C = xdbc + m->dr + m->ds, .ld_bc = nx,
        .A = L->A, .D = L->D,
        .z = w->xz + (size_t)s->row * 2 * m->di + m->di, .ld_z = 2 * m->di,
        .state_in = s->carry_in ? w->ssm_state[w->cur] + ss : NULL,
        .state_out = s->carry_out ? w->ssm_state[1 - w->cur] + ss : NULL,
        .y = w->y + (size_t)s->row * m->di, .ld_y = m->di,
    };
    silt_mamba_scan(&a);
}

/* Runs rows [0, R) of the step through every layer; w->h holds the embeddings on entry and
 * the last layer's residual stream (before norm_f) on return. */
static void forward_step(mamba_work *w, int R) {
    const mamba_model *m = w->m;
    const int dm = m->dm, di = m->di, nx = m->dr + 2 * m->ds;
    const int tasks = w->n_seg * n_blocks(m);
    for (int l = 0; l < m->n_layers; l++) {
        const mamba_layer *L = &m->layer[l];
        w->layer = l;
        memcpy(w->xn, w->h, (size_t)R * dm * sizeof(float));
        silt_ops_rmsnorm(w->xn, R, dm, L->norm, m->eps);
        silt_ops_linear_wt(w->xn, R, dm, L->in_w, 2 * di, L->in_b, w->xz);   /* [R, 2di] */
        silt_threads_for(tasks, conv_task, w);                                /* u [R, di] */
        silt_ops_matmul_wt(w->u, R, di, L->x_w, nx, w->xdbc);                 /* [R, nx] */
        silt_ops_gemm(0, 1, R, di, m->dr, 1.0f, w->xdbc, nx, L->dt_w, m->dr, 0.0f, w->dt, di);
        silt_threads_for(tasks, scan_task, w);                                /* y [R, di] */
        silt_ops_matmul_wt_acc(w->y, R, di, L->out_w, dm, w->h);              /* h += y·Woutᵀ */
        if (L->out_b) silt_ops_add_bias(w->h, R, dm, L->out_b);
    }
}

static void free_work(mamba_work *w) {
    float *all[] = {w->h,  w->xn, w->xz, w->u, w->xdbc, w->dt, w->y,
                    w->conv_state[0], w->conv_state[1], w->ssm_state[0], w->ssm_state[1]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    free(w->seg);
}

static int alloc_work(mamba_work *w, const mamba_model *m, int R) {
    const size_t r = (size_t)R;
    const size_t conv = (size_t)m->n_layers * (m->K > 1 ? m->K - 1 : 1) * m->di;
    const size_t ssm = (size_t)m->n_layers * m->ds * m->di;
    w->m = m;
    w->h = silt_ops_alloc(r * m->dm);
    w->xn = silt_ops_alloc(r * m->dm);
    w->xz = silt_ops_alloc(r * 2 * m->di);
    w->u = silt_ops_alloc(r * m->di);
    w->xdbc = silt_ops_alloc(r * (m->dr + 2 * m->ds));
    w->dt = silt_ops_alloc(r * m->di);
    w->y = silt_ops_alloc(r * m->di);
    for (int i = 0; i < 2; i++) {
        w->conv_state[i] = silt_ops_alloc(conv);
        w->ssm_state[i] = silt_ops_alloc(ssm);
    }
    w->seg = malloc(r * sizeof *w->seg); /* at most one segment per row */
    return w->h && w->xn && w->xz && w->u && w->xdbc && w->dt && w->y && w->conv_state[0] &&
                   w->conv_state[1] && w->ssm_state[0] && w->ssm_state[1] && w->seg
               ? 0
               : -1;
}

static int mamba_embed_batch(const silt_encoder *enc, const int32_t *const *ids,
                             const int *n_ids, int n, float *out, char **err) {
    const mamba_model *m = (const mamba_model *)enc;
    const int dm = m->dm;
    long long total = 0;
    for (int i = 0; i < n; i++) {
        if (n_ids[i] < 1)
            return silt_err(err, "mamba: text %d has no tokens (tokenize adds EOS; expected at "
                                 "least 1)", i);
        for (int j = 0; j < n_ids[i]; j++)
            if (ids[i][j] < 0 || ids[i][j] >= m->n_vocab)
                return silt_err(err, "mamba: token id %d of text %d is outside the vocabulary "
                                     "(0..%d)", (int)ids[i][j], i, m->n_vocab - 1);
        total += n_ids[i];
    }
    if (n <= 0) return 0;
    const int R = total < m->chunk ? (int)total : m->chunk;
    mamba_work w = {0};
    if (alloc_work(&w, m, R)) {
        free_work(&w);
        return silt_err(err, "mamba: out of memory for a %d-token workspace", R);
    }
    int text = 0, pos = 0; /* next token to feed */
    while (text < n) {
        /* Fill one step with segments, texts in order. */
        int rows = 0;
        w.n_seg = 0;
        while (text < n && rows < R) {
            const int take = n_ids[text] - pos < R - rows ? n_ids[text] - pos : R - rows;
            mamba_seg *s = &w.seg[w.n_seg++];
            *s = (mamba_seg){.text = text, .start = pos, .n = take, .row = rows,
                             .carry_in = pos > 0, .carry_out = pos + take < n_ids[text]};
            for (int j = 0; j < take; j++)
                memcpy(w.h + (size_t)(rows + j) * dm,
                       m->embed + (size_t)ids[text][pos + j] * dm, (size_t)dm * sizeof(float));
            rows += take;
            pos += take;
            if (pos == n_ids[text]) {
                text++;
                pos = 0;
            }
        }
        forward_step(&w, rows);
        /* Pool: the last position of every text that ended in this step (its EOS). */
        for (int k = 0; k < w.n_seg; k++) {
            const mamba_seg *s = &w.seg[k];
            if (s->carry_out) continue;
            float *o = out + (size_t)s->text * dm;
            memcpy(o, w.h + (size_t)(s->row + s->n - 1) * dm, (size_t)dm * sizeof(float));
            silt_ops_rmsnorm(o, 1, dm, m->norm_f, m->eps);
            silt_ops_l2_normalize(o, 1, dm, 1e-24f);
        }
        w.cur = 1 - w.cur;
    }
    free_work(&w);
    return 0;
}

static const struct silt_encoder_ops MAMBA_OPS = {
    .tokenize = mamba_tokenize,
    .embed_batch = mamba_embed_batch,
    .token_text = mamba_token_text,
    .token_id = mamba_token_id,
    .destroy = mamba_destroy,
};

/* ---- options ----------------------------------------------------------------------------------- */

typedef struct {
    int max_tokens; /* 0: default */
    int chunk;      /* 0: default */
} mamba_options;

static int int_option(const cJSON *it, int lo, int hi, int *out, char **err) {
    if (!cJSON_IsNumber(it) || it->valuedouble < lo || it->valuedouble > hi ||
        it->valuedouble != (double)(int)it->valuedouble)
        return silt_err(err, "option \"%s\" must be an integer from %d to %d", it->string, lo, hi);
    *out = (int)it->valuedouble;
    return 0;
}

static int parse_options(const char *json, mamba_options *o, char **err) {
    *o = (mamba_options){0};
    if (!json || !*json) return 0;
    cJSON *root = cJSON_Parse(json);
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        silt_err(err, "model options: expected a JSON object, got '%.60s'", json);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "kind") == 0) {
            if (!cJSON_IsString(it) || strcmp(it->valuestring, "dense") != 0) {
                silt_err(err, "option \"kind\": a Mamba model is dense only (expected "
                              "\"dense\")");
                goto done;
            }
        } else if (strcmp(it->string, "max_tokens") == 0) {
            if (int_option(it, 2, MAMBA_MAX_WINDOW, &o->max_tokens, err)) goto done;
        } else if (strcmp(it->string, "chunk_tokens") == 0) {
            if (int_option(it, 1, 65536, &o->chunk, err)) goto done;
        } else {
            silt_err(err, "unknown option \"%s\" for a Mamba model (expected kind, max_tokens, "
                          "chunk_tokens)", it->string);
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* ---- weights ------------------------------------------------------------------------------------ */

/* Where tensors come from: one of the two formats. Shapes are given in PyTorch order. */
typedef struct {
    const silt_safetensors *st;
    const silt_gguf *g;
} wsrc;

static void shape_str(const int64_t *d, int nd, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < nd && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* Shape of tensor name in PyTorch order into d[]; 0 when present, -1 with *err when not. */
static int tensor_shape(const wsrc *s, const char *name, int64_t d[8], int *nd, char **err) {
    if (s->st) {
        const silt_st_tensor *t = silt_safetensors_find(s->st, name);
        if (!t) return silt_err(err, "tensor '%s' is missing", name);
        *nd = t->n_dims;
        for (int i = 0; i < t->n_dims; i++) d[i] = t->shape[i];
        return 0;
    }
    const silt_gguf_tensor *t = silt_gguf_find_tensor(s->g, name);
    if (!t) return silt_err(err, "tensor '%s' is missing", name);
    *nd = t->n_dims;
    for (int i = 0; i < t->n_dims; i++) d[i] = t->ne[t->n_dims - 1 - i];
    return 0;
}

/* Reads tensor name, which must have the PyTorch shape want[0..nd) (or, when alt_nd > 0, the
 * alternative shape alt), into a new float32 array. NULL and *err on failure. */
static float *fetch_alt(const wsrc *s, const char *name, const int64_t *want, int nd,
                        const int64_t *alt, int alt_nd, char **err) {
    int64_t d[8];
    int got_nd;
    if (tensor_shape(s, name, d, &got_nd, err)) return NULL;
    int ok = got_nd == nd;
    for (int i = 0; ok && i < nd; i++) ok = d[i] == want[i];
    int ok_alt = alt_nd > 0 && got_nd == alt_nd;
    for (int i = 0; ok_alt && i < alt_nd; i++) ok_alt = d[i] == alt[i];
    if (!ok && !ok_alt) {
        char a[96], b[96];
        shape_str(d, got_nd, a, sizeof a);
        shape_str(want, nd, b, sizeof b);
        silt_err(err, "tensor '%s' has shape %s, expected %s", name, a, b);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < nd; i++) count *= (size_t)want[i];
    float *out = silt_ops_alloc(count);
    if (!out) {
        silt_err(err, "out of memory reading tensor '%s'", name);
        return NULL;
    }
    int rc = s->st ? silt_st_tensor_to_f32(silt_safetensors_find(s->st, name), out, err)
                   : silt_gguf_tensor_to_f32(silt_gguf_find_tensor(s->g, name), out, err);
    if (rc) {
        free(out);
        return NULL;
    }
    return out;
}

static float *fetch(const wsrc *s, const char *name, const int64_t *want, int nd, char **err) {
    return fetch_alt(s, name, want, nd, NULL, 0, err);
}

static int has_tensor(const wsrc *s, const char *name) {
    return s->st ? silt_safetensors_find(s->st, name) != NULL
                 : silt_gguf_find_tensor(s->g, name) != NULL;
}

/* In-place transpose of a [rows, cols] matrix (a copy; NULL-safe). 0 or -1 on OOM. */
static int transpose(float **a, int rows, int cols) {
    float *t = silt_ops_alloc((size_t)rows * cols);
    if (!t) return -1;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) t[(size_t)c * rows + r] = (*a)[(size_t)r * cols + c];
    free(*a);
    *a = t;
    return 0;
}

/* Names of one layer's tensors in a format; %s is the layer prefix. */
typedef struct {
    const char *norm, *in_w, *in_b, *conv_w, *conv_b, *x_w, *dt_w, *dt_b, *A, *D, *out_w, *out_b;
    int a_is_log; /* HF stores A_log; llama.cpp stores A = -exp(A_log) */
} layer_names;

static const layer_names HF_NAMES = {
    "%snorm.weight",          "%smixer.in_proj.weight",  "%smixer.in_proj.bias",
    "%smixer.conv1d.weight",  "%smixer.conv1d.bias",     "%smixer.x_proj.weight",
    "%smixer.dt_proj.weight", "%smixer.dt_proj.bias",    "%smixer.A_log",
    "%smixer.D",              "%smixer.out_proj.weight", "%smixer.out_proj.bias",
    1,
};

static const layer_names GGUF_NAMES = {
    "%sattn_norm.weight",     "%sssm_in.weight", "%sssm_in.bias",   "%sssm_conv1d.weight",
    "%sssm_conv1d.bias",      "%sssm_x.weight",  "%sssm_dt.weight", "%sssm_dt.bias",
    "%sssm_a",                "%sssm_d",         "%sssm_out.weight", "%sssm_out.bias",
    0,
};

static int load_layer(mamba_model *m, const wsrc *s, const layer_names *nm, const char *prefix,
                      mamba_layer *L, char **err) {
    char name[256];
    const int64_t dm = m->dm, di = m->di, ds = m->ds, K = m->K, dr = m->dr;
#define NAME(fmt) (snprintf(name, sizeof name, (fmt), prefix), name)
#define NEED(dst, fmt, ...)                                                                   \
    do {                                                                                      \
        const int64_t shp_[] = {__VA_ARGS__};                                                 \
        if (!((dst) = fetch(s, NAME(fmt), shp_, (int)(sizeof shp_ / sizeof shp_[0]), err)))   \
            return -1;                                                                        \
    } while (0)
#define MAYBE(dst, fmt, ...)                                                                  \
    do {                                                                                      \
        if (has_tensor(s, NAME(fmt))) NEED(dst, fmt, __VA_ARGS__);                            \
    } while (0)
    NEED(L->norm, nm->norm, dm);
    NEED(L->in_w, nm->in_w, 2 * di, dm);
    MAYBE(L->in_b, nm->in_b, 2 * di);
    /* PyTorch Conv1d keeps [di, 1, K]; llama.cpp squeezes it to [di, K]. */
    const int64_t conv3[] = {di, 1, K}, conv2[] = {di, K};
    if (!(L->conv_w = fetch_alt(s, NAME(nm->conv_w), conv3, 3, conv2, 2, err))) return -1;
    MAYBE(L->conv_b, nm->conv_b, di);
    NEED(L->x_w, nm->x_w, dr + 2 * ds, di);
    NEED(L->dt_w, nm->dt_w, di, dr);
    NEED(L->dt_b, nm->dt_b, di);
    NEED(L->A, nm->A, di, ds);
    NEED(L->D, nm->D, di);
    NEED(L->out_w, nm->out_w, dm, di);
    MAYBE(L->out_b, nm->out_b, dm);
#undef MAYBE
#undef NEED
    if (nm->a_is_log)
        for (size_t i = 0; i < (size_t)di * ds; i++) L->A[i] = -expf(L->A[i]);
    for (size_t i = 0; i < (size_t)di * ds; i++)
        if (!(L->A[i] <= 0.0f))
            return silt_err(err, "tensor '%s' gives A = %g (A = -exp(A_log) must be negative)",
                            NAME(nm->A), (double)L->A[i]);
#undef NAME
    if (transpose(&L->conv_w, (int)di, (int)K) || transpose(&L->A, (int)di, (int)ds))
        return silt_err(err, "out of memory loading the weights");
    return 0;
}

/* Checks the hyperparameters, then reads every weight. Tensor names: emb, norm_f and the
 * layer names with layer_fmt ("%sbackbone.layers.%d." style, %d = layer). */
static int load_weights(mamba_model *m, const wsrc *s, const char *emb, const char *norm_f,
                        const layer_names *nm, const char *layer_fmt, char **err) {
    if (m->dm < 1 || m->dm > MAMBA_MAX_DMODEL || m->n_layers < 1 ||
        m->n_layers > MAMBA_MAX_LAYERS || m->di < 1 || m->di > 4 * MAMBA_MAX_DMODEL ||
        m->ds < 1 || m->ds > SILT_MAMBA_MAX_STATE || m->K < 1 || m->K > SILT_MAMBA_MAX_CONV ||
        m->dr < 1 || m->dr > m->di || !(m->eps > 0.0f && m->eps < 1.0f))
        return silt_err(err, "unsupported hyperparameters: d_model %d, layers %d, d_inner %d, "
                             "d_state %d (1..%d), d_conv %d (1..%d), dt_rank %d, eps %g",
                        m->dm, m->n_layers, m->di, m->ds, SILT_MAMBA_MAX_STATE, m->K,
                        SILT_MAMBA_MAX_CONV, m->dr, (double)m->eps);
    int64_t d[8];
    int nd;
    if (tensor_shape(s, emb, d, &nd, err)) return -1;
    if (nd != 2 || d[1] != m->dm || d[0] < 1 || d[0] > MAMBA_MAX_VOCAB) {
        char a[96];
        shape_str(d, nd, a, sizeof a);
        return silt_err(err, "tensor '%s' has shape %s, expected [vocabulary, %d]", emb, a, m->dm);
    }
    m->n_vocab = (int)d[0];
    const int64_t e_shape[] = {m->n_vocab, m->dm}, f_shape[] = {m->dm};
    if (!(m->embed = fetch(s, emb, e_shape, 2, err)) ||
        !(m->norm_f = fetch(s, norm_f, f_shape, 1, err)))
        return -1;
    m->layer = calloc((size_t)m->n_layers, sizeof *m->layer);
    if (!m->layer) return silt_err(err, "out of memory loading the weights");
    for (int l = 0; l < m->n_layers; l++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, layer_fmt, l);
        if (load_layer(m, s, nm, prefix, &m->layer[l], err)) return -1;
    }
    return 0;
}

/* ---- loaders ----------------------------------------------------------------------------------- */

static mamba_model *new_model(void) {
    mamba_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->base.ops = &MAMBA_OPS;
    snprintf(m->base.arch, sizeof m->base.arch, "mamba");
    m->base.kind = SILT_KIND_DENSE;
    m->eos_id = -1;
    return m;
}

/* Final checks shared by both loaders: tokenizer against the embedding table, EOS, options. */
static int finish(mamba_model *m, const mamba_options *o, char **err) {
    if (silt_bpe_vocab_size(m->tok) > m->n_vocab)
        return silt_err(err, "the tokenizer has %d tokens but the embedding table only %d rows",
                        silt_bpe_vocab_size(m->tok), m->n_vocab);
    if (m->eos_id < 0) m->eos_id = silt_bpe_token_id(m->tok, "<|endoftext|>", 13);
    if (m->eos_id < 0 || m->eos_id >= m->n_vocab)
        return silt_err(err, "no EOS token (eos_token_id %d; expected an id below %d, or a "
                             "\"<|endoftext|>\" token)", (int)m->eos_id, m->n_vocab);
    m->base.dim = m->dm;
    m->base.max_tokens = o->max_tokens ? o->max_tokens : MAMBA_DEFAULT_MAX_TOKENS;
    m->chunk = o->chunk ? o->chunk : MAMBA_DEFAULT_CHUNK;
    return 0;
}

/* Reads dir/name whole (NUL-terminated, malloc'd). NULL and *err on failure. */
static char *read_file(const char *dir, const char *name, size_t *len, char **err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        silt_err(err, "path %s/%s is too long", dir, name);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        silt_err(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (size_t)n <= MAMBA_MAX_JSON_BYTES && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *len = (size_t)n;
    } else {
        if ((size_t)n > MAMBA_MAX_JSON_BYTES && n >= 0)
            silt_err(err, "%s is larger than %u MB", path, MAMBA_MAX_JSON_BYTES >> 20);
        else
            silt_err(err, "cannot read %s", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static cJSON *read_config(const char *dir, char **err) {
    size_t n;
    char *text = read_file(dir, "config.json", &n, err);
    if (!text) return NULL;
    cJSON *cfg = cJSON_ParseWithLength(text, n);
    free(text);
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        silt_err(err, "config.json is not a JSON object");
        return NULL;
    }
    return cfg;
}

static const char *const MAMBA_ARCHS[] = {"MambaForCausalLM", "MambaModel", "MambaLMHeadModel"};

static int is_mamba_config(const cJSON *cfg) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "mamba") == 0) return 1;
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cfg, "architectures"), 0);
    for (size_t i = 0; cJSON_IsString(a) && i < sizeof MAMBA_ARCHS / sizeof *MAMBA_ARCHS; i++)
        if (strcmp(a->valuestring, MAMBA_ARCHS[i]) == 0) return 1;
    return 0;
}

int silt_mamba_claims_hf(const char *dir) {
    cJSON *cfg = read_config(dir, NULL);
    int yes = cfg && is_mamba_config(cfg);
    cJSON_Delete(cfg);
    return yes;
}

/* Integer config value under the first of two names; def when absent (def < 0: required). */
static int cfg_int(const cJSON *cfg, const char *k1, const char *k2, int def, int *out,
                   char **err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k1);
    if (!v && k2) v = cJSON_GetObjectItemCaseSensitive(cfg, k2);
    if (!v || cJSON_IsNull(v)) {
        if (def < 0) return silt_err(err, "config.json has no \"%s\"", k1);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
        v->valuedouble != (double)(int)v->valuedouble)
        return silt_err(err, "config.json \"%s\" must be a non-negative integer", v->string);
    *out = (int)v->valuedouble;
    return 0;
}

static int hf_hparams(mamba_model *m, const cJSON *cfg, char **err) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "mamba") != 0)
        return silt_err(err, "model_type \"%s\" is not Mamba-1 (silt runs \"mamba\"; Mamba-2 and "
                             "Falcon-Mamba are not supported)", mt->valuestring);
    const cJSON *rms = cJSON_GetObjectItemCaseSensitive(cfg, "rms_norm");
    if (cJSON_IsFalse(rms))
        return silt_err(err, "config.json \"rms_norm\": false (LayerNorm) is not supported");
    int expand, ds, K, dr = 0, eos = -1;
    if (cfg_int(cfg, "hidden_size", "d_model", -1, &m->dm, err) ||
        cfg_int(cfg, "num_hidden_layers", "n_layer", -1, &m->n_layers, err) ||
        cfg_int(cfg, "expand", NULL, 2, &expand, err) ||
        cfg_int(cfg, "intermediate_size", "d_inner", expand * m->dm, &m->di, err) ||
        cfg_int(cfg, "state_size", "d_state", 16, &ds, err) ||
        cfg_int(cfg, "conv_kernel", "d_conv", 4, &K, err))
        return -1;
    m->ds = ds;
    m->K = K;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cfg, "time_step_rank");
    if (!r) r = cJSON_GetObjectItemCaseSensitive(cfg, "dt_rank");
    if (!r || cJSON_IsNull(r) || (cJSON_IsString(r) && strcmp(r->valuestring, "auto") == 0))
        dr = (m->dm + 15) / 16; /* Mamba's "auto": ceil(d_model / 16) */
    else if (cfg_int(cfg, r->string, NULL, -1, &dr, err))
        return -1;
    m->dr = dr;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_epsilon");
    if (!e) e = cJSON_GetObjectItemCaseSensitive(cfg, "rms_norm_eps");
    m->eps = cJSON_IsNumber(e) ? (float)e->valuedouble : 1e-5f;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(cfg, "eos_token_id");
    if (ev && !cJSON_IsNull(ev) && cfg_int(cfg, "eos_token_id", NULL, -1, &eos, err)) return -1;
    m->eos_id = eos;
    return 0;
}

silt_encoder *silt_mamba_load_hf(const char *dir, const char *options_json, char **err) {
    mamba_options opt;
    if (parse_options(options_json, &opt, err)) return NULL;
    mamba_model *m = new_model();
    cJSON *cfg = NULL;
    silt_safetensors *st = NULL;
    char *tj = NULL;
    if (!m) {
        silt_err(err, "out of memory");
        return NULL;
    }
    if (!(cfg = read_config(dir, err)) || hf_hparams(m, cfg, err)) goto fail;
    int vocab_cfg = 0;
    if (cfg_int(cfg, "vocab_size", NULL, 0, &vocab_cfg, err)) goto fail;
    if (!(st = silt_safetensors_open_dir(dir, err))) goto fail;
    wsrc src = {.st = st};
    /* MambaForCausalLM / the original MambaLMHeadModel prefix everything with "backbone."; a
     * bare MambaModel does not. The original code says "embedding", HF "embeddings". */
    const char *p = "";
    for (int i = 0; i < silt_safetensors_count(st); i++)
        if (strncmp(silt_safetensors_at(st, i)->name, "backbone.", 9) == 0) p = "backbone.";
    char emb[64], norm_f[64], layer_fmt[64];
    snprintf(emb, sizeof emb, "%sembeddings.weight", p);
    if (!silt_safetensors_find(st, emb)) snprintf(emb, sizeof emb, "%sembedding.weight", p);
    snprintf(norm_f, sizeof norm_f, "%snorm_f.weight", p);
    snprintf(layer_fmt, sizeof layer_fmt, "%slayers.%%d.", p);
    if (load_weights(m, &src, emb, norm_f, &HF_NAMES, layer_fmt, err)) goto fail;
    if (vocab_cfg > m->n_vocab) {
        silt_err(err, "config.json vocab_size %d is larger than the embedding table (%d rows)",
                 vocab_cfg, m->n_vocab);
        goto fail;
    }
    size_t tj_len;
    if (!(tj = read_file(dir, "tokenizer.json", &tj_len, err)) ||
        !(m->tok = silt_bpe_from_tokenizer_json(tj, tj_len, err)) || finish(m, &opt, err))
        goto fail;
    free(tj);
    silt_safetensors_close(st);
    cJSON_Delete(cfg);
    return &m->base;
fail:
    free(tj);
    silt_safetensors_close(st);
    cJSON_Delete(cfg);
    mamba_destroy(&m->base);
    silt_err_prefix(err, "Mamba model %s", dir);
    return NULL;
}

static int gguf_hp(const silt_gguf *g, const char *key, int *out, char **err) {
    int64_t v;
    if (silt_gguf_get_int(g, key, &v, err)) return -1;
    if (v < 0 || v > 1000000000)
        return silt_err(err, "GGUF key '%s' = %lld is out of range", key, (long long)v);
    *out = (int)v;
    return 0;
}

static int gguf_is_mamba(const silt_gguf *g) {
    const char *arch;
    size_t n;
    return silt_gguf_get_str(g, "general.architecture", &arch, &n, NULL) == 0 && n == 5 &&
           memcmp(arch, "mamba", 5) == 0;
}

int silt_mamba_claims_gguf(const char *path) {
    silt_gguf *g = silt_gguf_open(path, NULL);
    int yes = g && gguf_is_mamba(g);
    silt_gguf_close(g);
    return yes;
}

silt_encoder *silt_mamba_load_gguf(const char *path, const char *options_json, char **err) {
    mamba_options opt;
    if (parse_options(options_json, &opt, err)) return NULL;
    mamba_model *m = new_model();
    if (!m) {
        silt_err(err, "out of memory");
        return NULL;
    }
    silt_gguf *g = silt_gguf_open(path, err);
    if (!g) goto fail;
    if (!gguf_is_mamba(g)) {
        silt_err(err, "general.architecture is not \"mamba\"");
        goto fail;
    }
    double eps;
    int64_t bcrms = 0;
    if (gguf_hp(g, "mamba.embedding_length", &m->dm, err) ||
        gguf_hp(g, "mamba.block_count", &m->n_layers, err) ||
        gguf_hp(g, "mamba.ssm.conv_kernel", &m->K, err) ||
        gguf_hp(g, "mamba.ssm.inner_size", &m->di, err) ||
        gguf_hp(g, "mamba.ssm.state_size", &m->ds, err) ||
        gguf_hp(g, "mamba.ssm.time_step_rank", &m->dr, err) ||
        silt_gguf_get_float(g, "mamba.attention.layer_norm_rms_epsilon", &eps, err))
        goto fail;
    m->eps = (float)eps;
    if (silt_gguf_find_kv(g, "mamba.ssm.dt_b_c_rms") &&
        silt_gguf_get_int(g, "mamba.ssm.dt_b_c_rms", &bcrms, err))
        goto fail;
    if (bcrms) {
        silt_err(err, "mamba.ssm.dt_b_c_rms is true (Falcon-Mamba's extra norms), which silt "
                      "does not implement");
        goto fail;
    }
    wsrc src = {.g = g};
    if (load_weights(m, &src, "token_embd.weight", "output_norm.weight", &GGUF_NAMES, "blk.%d.",
                     err))
        goto fail;
    /* GGUF keeps no normalizer; Mamba's GPT-NeoX tokenizer.json applies NFC. */
    if (!(m->tok = silt_bpe_from_gguf(g, 1, err))) goto fail;
    m->eos_id = silt_bpe_eos_id(m->tok);
    if (finish(m, &opt, err)) goto fail;
    silt_gguf_close(g);
    return &m->base;
fail:
    silt_gguf_close(g);
    mamba_destroy(&m->base);
    silt_err_prefix(err, "GGUF Mamba model %s", path);
    return NULL;
}

/* splade.c: SPLADE = BERT (core/bert.c, whose forward pass gives the final hidden states) +
 * the masked-language-model head + max-pooled log(1 + ReLU) term weights (see splade.h). */
#include "core/splade.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bert.h"
#include "core/err.h"
#include "core/ops.h"
#include "core/safetensors.h"

/* Token rows whose vocabulary-wide logits are computed at once (rows x vocab floats). */
#define SPLADE_LOGIT_ROWS 32
/* Largest top_n accepted (a vocabulary is far smaller). */
#define SPLADE_MAX_TOP_N (1 << 22)

typedef struct {
    silt_encoder base;   /* must be first: the encoder handle is a splade_model */
    silt_encoder *bert;  /* the encoder whose hidden states feed the head (owned) */
    int hidden, vocab;   /* H and V */
    const float *dec;    /* decoder [V, H]: dec_own, or the BERT word embeddings (tied) */
    float *dec_own;      /* untied decoder weights, or NULL */
    float *w_t, *b_t;    /* transform dense [H, H], [H] */
    float *ln_g, *ln_b;  /* transform LayerNorm [H] */
    float *dec_b;        /* decoder bias [V] */
    float eps;           /* LayerNorm epsilon */
    int gelu_tanh;       /* hidden_act gelu_new / gelu_pytorch_tanh instead of erf GELU */
    int top_n;           /* keep each text's top_n terms; 0 = all */
} splade_model;

/* ---- options ------------------------------------------------------------------------------ */

int silt_splade_wanted(const char *options_json) {
    if (!options_json || !*options_json) return 0;
    cJSON *o = cJSON_Parse(options_json);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
    int yes = cJSON_IsString(k) && strcmp(k->valuestring, "sparse") == 0;
    cJSON_Delete(o);
    return yes;
}

/* Splits the options: top_n is ours, max_tokens goes to BERT (as *bert_opts, malloc'd JSON),
 * kind must be "sparse"; anything else is an error naming it. */
static int parse_options(const char *json, int *top_n, char **bert_opts, char **err) {
    *top_n = 0;
    *bert_opts = NULL;
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return silt_err(err, "options must be a JSON object such as {\"kind\":\"sparse\"}");
    }
    cJSON *inner = cJSON_CreateObject();
    int rc = inner ? 0 : silt_err(err, "out of memory");
    for (const cJSON *it = o->child; it && !rc; it = it->next) {
        if (strcmp(it->string, "kind") == 0) continue;
        if (strcmp(it->string, "top_n") == 0) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > SPLADE_MAX_TOP_N ||
                it->valuedouble != floor(it->valuedouble))
                rc = silt_err(err, "option \"top_n\" must be an integer >= 1 (the terms kept per "
                                   "text)");
            else
                *top_n = (int)it->valuedouble;
        } else if (strcmp(it->string, "max_tokens") == 0) {
            if (!cJSON_AddItemToObject(inner, "max_tokens", cJSON_Duplicate(it, 1)))
                rc = silt_err(err, "out of memory");
        } else {
            rc = silt_err(err, "unknown option \"%s\" for a sparse (SPLADE) model (expected "
                               "kind, top_n, max_tokens)", it->string);
        }
    }
    if (!rc && !(*bert_opts = cJSON_PrintUnformatted(inner))) rc = silt_err(err, "out of memory");
    cJSON_Delete(inner);
    cJSON_Delete(o);
    return rc;
}

/* ---- forward ------------------------------------------------------------------------------ */

static void gelu_tanh(float *x, size_t n) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

typedef struct {
    float w;
    int j;
} term;

static int cmp_term_desc(const void *a, const void *b) {
    const term *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->j - y->j;
}

void silt_splade_keep_top(float *w, int dim, int top_n) {
    int nnz = 0;
    for (int j = 0; j < dim; j++) nnz += w[j] != 0;
    if (top_n <= 0 || nnz <= top_n) return;
    term *t = malloc((size_t)nnz * sizeof *t);
    if (!t) {
        /* Without memory, keep the top_n by repeated scans (slow but correct). */
        for (int kept = 0; kept < top_n; kept++) {
            int best = -1;
            for (int j = 0; j < dim; j++)
                if (w[j] > 0 && (best < 0 || w[j] > w[best])) best = j;
            if (best < 0) break;
            w[best] = -w[best]; /* mark as kept */
        }
        for (int j = 0; j < dim; j++) w[j] = w[j] < 0 ? -w[j] : 0;
        return;
    }
    int k = 0;
    for (int j = 0; j < dim; j++)
        if (w[j] != 0) t[k].w = w[j], t[k].j = j, k++;
    qsort(t, (size_t)k, sizeof *t, cmp_term_desc);
    for (int i = top_n; i < k; i++) w[t[i].j] = 0;
    free(t);
}

static int splade_embed_batch(const silt_encoder *enc, const int32_t *const *ids,
                              const int *n_ids, int n, float *out, char **err) {
    const splade_model *m = (const splade_model *)enc;
    const int H = m->hidden, V = m->vocab;
    if (n < 0) return silt_err(err, "splade: negative batch size %d", n);
    if (n == 0) return 0;
    size_t rows = 0;
    for (int i = 0; i < n; i++) {
        if (n_ids[i] < 0) return silt_err(err, "splade: text %d has %d tokens", i, n_ids[i]);
        rows += (size_t)n_ids[i];
    }
    memset(out, 0, (size_t)n * V * sizeof *out);
    if (rows == 0) return 0;
    float *h = silt_ops_alloc(rows * H), *t = silt_ops_alloc(rows * H);
    float *logits = silt_ops_alloc((size_t)SPLADE_LOGIT_ROWS * V);
    int rc = 0;
    if (!h || !t || !logits) {
        rc = silt_err(err, "splade: out of memory for %zu tokens", rows);
        goto done;
    }
    if (silt_bert_hidden_states(m->bert, ids, n_ids, n, h, err)) {
        rc = -1;
        goto done;
    }
    /* t = LayerNorm(act(h W_tᵀ + b_t)), in chunks that keep the products' sizes in int. */
    for (size_t r0 = 0; r0 < rows; r0 += 4096) {
        int nr = (int)(rows - r0 < 4096 ? rows - r0 : 4096);
        silt_ops_linear_wt(h + r0 * H, nr, H, m->w_t, H, m->b_t, t + r0 * H);
    }
    if (m->gelu_tanh) gelu_tanh(t, rows * H);
    else silt_ops_gelu(t, rows * H);
    for (size_t r0 = 0; r0 < rows; r0 += 4096) {
        int nr = (int)(rows - r0 < 4096 ? rows - r0 : 4096);
        silt_ops_layernorm(t + r0 * H, nr, H, m->ln_g, m->ln_b, m->eps);
    }
    /* w_j = max over the text's rows of log(1 + relu(t E^T + b)_j). */
    size_t row = 0;
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * V;
        for (int p0 = 0; p0 < n_ids[i]; p0 += SPLADE_LOGIT_ROWS) {
            int nr = n_ids[i] - p0 < SPLADE_LOGIT_ROWS ? n_ids[i] - p0 : SPLADE_LOGIT_ROWS;
            silt_ops_linear_wt(t + (row + (size_t)p0) * H, nr, H, m->dec, V, m->dec_b, logits);
            for (int r = 0; r < nr; r++) {
                const float *lg = logits + (size_t)r * V;
                for (int j = 0; j < V; j++)
                    if (lg[j] > 0) {
                        float v = log1pf(lg[j]);
                        if (v > o[j]) o[j] = v;
                    }
            }
        }
        row += (size_t)n_ids[i];
        if (m->top_n) silt_splade_keep_top(o, V, m->top_n);
    }
done:
    free(h);
    free(t);
    free(logits);
    return rc;
}

/* ---- encoder glue: the tokenizer is BERT's ------------------------------------------------ */

static int splade_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate,
                           int32_t **ids, int *n_ids, char **err) {
    const silt_encoder *b = ((const splade_model *)enc)->bert;
    return b->ops->tokenize(b, text, len, truncate, ids, n_ids, err);
}

static const char *splade_token_text(const silt_encoder *enc, int32_t id) {
    const silt_encoder *b = ((const splade_model *)enc)->bert;
    return b->ops->token_text ? b->ops->token_text(b, id) : NULL;
}

static int32_t splade_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    const silt_encoder *b = ((const splade_model *)enc)->bert;
    return b->ops->token_id ? b->ops->token_id(b, tok, len) : -1;
}

static void splade_destroy(silt_encoder *enc) {
    splade_model *m = (splade_model *)enc;
    if (!m) return;
    silt_encoder_free(m->bert);
    free(m->dec_own);
    free(m->w_t);
    free(m->b_t);
    free(m->ln_g);
    free(m->ln_b);
    free(m->dec_b);
    free(m);
}

static const struct silt_encoder_ops SPLADE_OPS = {
    .tokenize = splade_tokenize,
    .embed_batch = splade_embed_batch,
    .token_text = splade_token_text,
    .token_id = splade_token_id,
    .destroy = splade_destroy,
};

/* ---- loading ------------------------------------------------------------------------------ */

/* config.json of dir (NULL with *err when unreadable or not JSON). */
static cJSON *read_config(const char *dir, char **err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) {
        silt_err(err, "path too long");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        silt_err(err, "cannot open %s", path);
        return NULL;
    }
    char *buf = malloc((1 << 20) + 1);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf) {
        silt_err(err, "out of memory");
        return NULL;
    }
    buf[n] = 0;
    cJSON *c = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        silt_err(err, "%s is not a JSON object", path);
        return NULL;
    }
    return c;
}

/* The first of names[] present in st, checked to hold rows x cols floats (rows 0: a vector),
 * copied into a fresh array; NULL with *err naming what was expected. */
static float *fetch(const silt_safetensors *st, const char *const *names, int64_t rows,
                    int64_t cols, int optional, char **err) {
    const silt_st_tensor *t = NULL;
    const char *name = names[0];
    for (int i = 0; names[i] && !t; i++) t = silt_safetensors_find(st, names[i]), name = names[i];
    if (!t) {
        if (!optional)
            silt_err(err, "tensor '%s' is missing: a SPLADE model is a BertForMaskedLM checkpoint "
                          "with its MLM head (cls.predictions.*)", names[0]);
        return NULL;
    }
    int ok = rows ? t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols
                  : t->n_dims == 1 && t->shape[0] == cols;
    if (!ok) {
        if (rows)
            silt_err(err, "tensor '%s' must have shape [%lld, %lld]", name, (long long)rows,
                     (long long)cols);
        else
            silt_err(err, "tensor '%s' must have shape [%lld]", name, (long long)cols);
        return NULL;
    }
    float *out = malloc((size_t)(rows ? rows : 1) * (size_t)cols * sizeof *out);
    if (!out) {
        silt_err(err, "out of memory for tensor '%s'", name);
        return NULL;
    }
    if (silt_st_tensor_to_f32(t, out, err)) {
        free(out);
        return NULL;
    }
    return out;
}

silt_encoder *silt_splade_load_hf(const char *dir, const char *options_json, char **err) {
    int top_n;
    char *bert_opts = NULL;
    if (parse_options(options_json, &top_n, &bert_opts, err)) return NULL;
    splade_model *m = calloc(1, sizeof *m);
    cJSON *cfg = NULL;
    silt_safetensors *st = NULL;
    if (!m) {
        free(bert_opts);
        silt_err(err, "out of memory");
        return NULL;
    }
    m->base.ops = &SPLADE_OPS;
    m->top_n = top_n;
    m->bert = silt_hf_load(dir, bert_opts, err);
    free(bert_opts);
    if (!m->bert) goto fail_quiet;
    if (strcmp(m->bert->arch, "bert") != 0) {
        silt_err(err, "model %s: a sparse (SPLADE) model must be a BERT masked-language model, "
                      "not %s", dir, m->bert->arch);
        goto fail_quiet;
    }
    const float *word = silt_bert_word_embeddings(m->bert, &m->vocab, &m->hidden);
    if (!(cfg = read_config(dir, err))) goto fail;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_eps");
    m->gelu_tanh = cJSON_IsString(act) && strcmp(act->valuestring, "gelu") != 0;
    m->eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-12f;
    if (!(st = silt_safetensors_open_dir(dir, err))) goto fail;
    const int64_t H = m->hidden, V = m->vocab;
    static const char *const n_wt[] = {"cls.predictions.transform.dense.weight", NULL};
    static const char *const n_bt[] = {"cls.predictions.transform.dense.bias", NULL};
    static const char *const n_lg[] = {"cls.predictions.transform.LayerNorm.weight",
                                       "cls.predictions.transform.LayerNorm.gamma", NULL};
    static const char *const n_lb[] = {"cls.predictions.transform.LayerNorm.bias",
                                       "cls.predictions.transform.LayerNorm.beta", NULL};
    static const char *const n_db[] = {"cls.predictions.bias", "cls.predictions.decoder.bias", NULL};
    static const char *const n_dw[] = {"cls.predictions.decoder.weight", NULL};
    if (!(m->w_t = fetch(st, n_wt, H, H, 0, err)) || !(m->b_t = fetch(st, n_bt, 0, H, 0, err)) ||
        !(m->ln_g = fetch(st, n_lg, 0, H, 0, err)) || !(m->ln_b = fetch(st, n_lb, 0, H, 0, err)) ||
        !(m->dec_b = fetch(st, n_db, 0, V, 0, err)))
        goto fail;
    char *e2 = NULL;
    m->dec_own = fetch(st, n_dw, V, H, 1, &e2);
    if (e2) { /* present but malformed (absent is fine: tied to the word embeddings) */
        if (err) *err = e2;
        else free(e2);
        goto fail;
    }
    m->dec = m->dec_own ? m->dec_own : word;
    silt_safetensors_close(st);
    cJSON_Delete(cfg);
    snprintf(m->base.arch, sizeof m->base.arch, "bert-mlm");
    m->base.kind = SILT_KIND_SPARSE;
    m->base.dim = m->vocab;
    m->base.max_tokens = m->bert->max_tokens;
    return &m->base;
fail:
    silt_err_prefix(err, "model %s", dir);
fail_quiet:
    silt_safetensors_close(st);
    cJSON_Delete(cfg);
    splade_destroy(&m->base);
    return NULL;
}

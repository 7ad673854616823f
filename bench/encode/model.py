#!/usr/bin/python3
"""model.py: the MiniLM-L6-shaped BERT of bench/encode and its two peers' workers.

    /usr/bin/python3 bench/encode/model.py make DIR        random weights (fixed seed) as a
        Hugging Face / sentence-transformers directory (F32 safetensors, the real
        bert-base-uncased vocab.txt from tests/data/tiny-bert), the same weights exported with
        torch.onnx.export to DIR/model.onnx, the benchmark's token ids (DIR/ids.bin, int32
        [32, 128]) and the float64 torch embeddings of those ids (DIR/ref.bin, float32 [32, 384])
    /usr/bin/python3 bench/encode/model.py torch DIR THREADS    a PyTorch 1.13 worker

Workers speak the line protocol of bench/encode/driver.py on stdin/stdout: "time N" runs the
batch N times and answers {"sec": [...]}; "emb PATH" writes the batch's embeddings
(float32 [32, 384]) to PATH; "quit". The model is plain torch ops, as Hugging Face's BertModel
computes it (post-LayerNorm, erf GELU), followed by sentence-transformers' mean pooling and
L2 normalisation; every text is 128 tokens, so no attention mask is needed.
"""
import json
import math
import os
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VOCAB, HIDDEN, LAYERS, HEADS, FFN, MAX_POS, TYPES = 30522, 384, 6, 12, 1536, 512, 2
EPS = 1e-12
BATCH, TOKENS = 32, 128
SEED = 20240612

LAYER_LINEAR = {  # HF name -> (out, in)
    "attention.self.query": (HIDDEN, HIDDEN),
    "attention.self.key": (HIDDEN, HIDDEN),
    "attention.self.value": (HIDDEN, HIDDEN),
    "attention.output.dense": (HIDDEN, HIDDEN),
    "intermediate.dense": (FFN, HIDDEN),
    "output.dense": (HIDDEN, FFN),
}


def make_weights():
    """Random weights scaled so that activations keep unit size through the layers, as a
    trained model's do (tiny N(0, 0.02) weights would make every layer nearly the identity)."""
    g = torch.Generator().manual_seed(SEED)

    def rn(*shape, std):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std

    w = {
        "embeddings.word_embeddings.weight": rn(VOCAB, HIDDEN, std=0.5),
        "embeddings.position_embeddings.weight": rn(MAX_POS, HIDDEN, std=0.2),
        "embeddings.token_type_embeddings.weight": rn(TYPES, HIDDEN, std=0.2),
        "embeddings.LayerNorm.weight": 1 + rn(HIDDEN, std=0.1),
        "embeddings.LayerNorm.bias": rn(HIDDEN, std=0.05),
    }
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        for name, (o, i) in LAYER_LINEAR.items():
            w[p + name + ".weight"] = rn(o, i, std=1.0 / math.sqrt(i))
            w[p + name + ".bias"] = rn(o, std=0.05)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"] = 1 + rn(HIDDEN, std=0.1)
            w[p + name + ".bias"] = rn(HIDDEN, std=0.05)
    return w


def make_ids():
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(1000, VOCAB, (BATCH, TOKENS), generator=g, dtype=torch.int64)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    return ids


def write_safetensors(path, w):
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(w):
        raw = w[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(w[name].shape),
                        "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


class Bert(torch.nn.Module):
    """BertModel's forward in plain torch ops + mean pooling + L2 normalisation."""

    def __init__(self, w):
        super().__init__()
        for k, v in w.items():
            self.register_buffer(k.replace(".", "_"), v.clone())

    def p(self, name):
        return getattr(self, name.replace(".", "_"))

    def forward(self, ids):
        b, n = ids.shape
        d = HIDDEN // HEADS
        x = (F.embedding(ids, self.p("embeddings.word_embeddings.weight"))
             + self.p("embeddings.position_embeddings.weight")[:n]
             + self.p("embeddings.token_type_embeddings.weight")[0])
        x = F.layer_norm(x, (HIDDEN,), self.p("embeddings.LayerNorm.weight"),
                         self.p("embeddings.LayerNorm.bias"), EPS)
        for l in range(LAYERS):
            pre = f"encoder.layer.{l}."

            def lin(name, t):
                return F.linear(t, self.p(pre + name + ".weight"), self.p(pre + name + ".bias"))

            def heads(t):
                return t.view(b, n, HEADS, d).transpose(1, 2)

            q = heads(lin("attention.self.query", x))
            k = heads(lin("attention.self.key", x))
            v = heads(lin("attention.self.value", x))
            probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d), dim=-1)
            ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, n, HIDDEN)
            x = F.layer_norm(lin("attention.output.dense", ctx) + x, (HIDDEN,),
                             self.p(pre + "attention.output.LayerNorm.weight"),
                             self.p(pre + "attention.output.LayerNorm.bias"), EPS)
            h = F.gelu(lin("intermediate.dense", x))
            x = F.layer_norm(lin("output.dense", h) + x, (HIDDEN,),
                             self.p(pre + "output.LayerNorm.weight"),
                             self.p(pre + "output.LayerNorm.bias"), EPS)
        e = x.mean(1)
        return e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def load_weights(d):
    """Reads DIR/model.safetensors back (F32 only, as written above)."""
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        (hl,) = struct.unpack("<Q", f.read(8))
        hdr = json.loads(f.read(hl))
        data = f.read()
    w = {}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        w[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy()).view(t["shape"])
    return w


def make(d):
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    w = make_weights()
    write_safetensors(os.path.join(d, "model.safetensors"), w)
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": VOCAB,
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": FFN, "hidden_act": "gelu", "max_position_embeddings": MAX_POS,
        "type_vocab_size": TYPES, "layer_norm_eps": EPS, "position_embedding_type": "absolute",
    }
    files = {
        "config.json": config,
        "sentence_bert_config.json": {"max_seq_length": 256, "do_lower_case": False},
        "tokenizer_config.json": {"do_lower_case": True, "model_max_length": 512},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "1_Pooling/config.json": {"word_embedding_dimension": HIDDEN, "pooling_mode_mean_tokens": True},
    }
    for name, obj in files.items():
        with open(os.path.join(d, name), "w") as f:
            json.dump(obj, f, indent=1)
    shutil.copy(os.path.join(ROOT, "tests", "data", "tiny-bert", "vocab.txt"), os.path.join(d, "vocab.txt"))
    ids = make_ids()
    ids.to(torch.int32).numpy().tofile(os.path.join(d, "ids.bin"))
    model = Bert(w).eval()
    with torch.inference_mode():
        ref = Bert({k: v.double() for k, v in w.items()}).eval()(ids)
    ref.float().numpy().tofile(os.path.join(d, "ref.bin"))
    torch.onnx.export(model, (ids,), os.path.join(d, "model.onnx"), input_names=["input_ids"],
                      output_names=["embedding"], opset_version=14,
                      dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}})


def serve(d, threads):
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    model = Bert(load_weights(d)).eval()
    ids = torch.from_numpy(np.fromfile(os.path.join(d, "ids.bin"), dtype=np.int32).astype(np.int64)).view(BATCH, TOKENS)
    print(json.dumps({"ready": "torch " + torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            if cmd[0] == "time":
                sec = []
                for _ in range(int(cmd[1])):
                    t0 = time.perf_counter()
                    model(ids)
                    sec.append(time.perf_counter() - t0)
                print(json.dumps({"sec": sec}), flush=True)
            elif cmd[0] == "emb":
                model(ids).numpy().astype("<f4").tofile(cmd[1])
                print(json.dumps({"ok": 1}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "torch":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: model.py make DIR | torch DIR THREADS")

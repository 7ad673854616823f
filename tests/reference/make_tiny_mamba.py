#!/usr/bin/python3
"""make_tiny_mamba.py: the tiny random Mamba of the unit tests, and its reference embeddings.

Run through make_tiny_mamba.sh (it needs Node.js between the two steps to tokenize):

  make_tiny_mamba.py model OUT_DIR       writes OUT_DIR/{config.json, model.safetensors,
                                         tokenizer.json} and OUT_DIR/../tiny-mamba.gguf
  make_tiny_mamba.py gold OUT_DIR IDS.json GOLD.json
                                         forward pass in plain PyTorch (float64, sequential
                                         selective scan) -> GOLD.json

The vocabulary is GPT-NeoX's, cut to its first merges: the two special tokens, the 243 byte
symbols GPT-NeoX has, every merge (in rank order) whose halves are already kept until there are 1,000
tokens, and the added tokens for runs of 2..24 spaces, as in EleutherAI/gpt-neox-20b. It is
read from llama.cpp's ggml-vocab-gpt-neox.gguf (tests/data/llama-vocab).

Weights use a fixed seed and are rounded to float16 precision, so the float16 copies in the
files (token embeddings) and the float32 ones hold the same values as the reference.
Only torch (Debian python3-torch) and the standard library are needed.
"""
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
NEOX_GGUF = os.path.join(HERE, "..", "data", "llama-vocab", "ggml-vocab-gpt-neox.gguf")

D_MODEL, N_LAYER, D_STATE, D_CONV, EXPAND = 32, 2, 8, 4, 2
D_INNER = EXPAND * D_MODEL
DT_RANK = math.ceil(D_MODEL / 16)
EPS = 1e-5
N_TOKENS = 1000


# ---- GGUF reading (metadata only) ---------------------------------------------------------

def read_gguf_kv(path):
    """Returns {key: value} of a GGUF file's metadata (arrays as lists)."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
              12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert data[:4] == b"GGUF"
    pos = 4
    take("I")
    take("Q")
    n_kv = take("Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    return kv


# ---- the reduced GPT-NeoX tokenizer ------------------------------------------------------

def byte_symbols():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def reduced_vocab():
    kv = read_gguf_kv(NEOX_GGUF)
    tokens, merges = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.merges"]
    sym = byte_symbols()
    keep = ["<|endoftext|>", "<|padding|>"]
    byte_set = set(sym.values())
    # GPT-NeoX has no symbol for 13 bytes that never occur in UTF-8 (C0 C1 F5..FF).
    keep += [t for t in tokens if t in byte_set]
    assert len(keep) == 2 + 243
    have = set(keep)
    kept_merges = []
    for m in merges:
        if len(keep) >= N_TOKENS:
            break
        a, b = m.split(" ")
        if a in have and b in have and a + b not in have:
            keep.append(a + b)
            have.add(a + b)
            kept_merges.append(m)
    vocab = {t: i for i, t in enumerate(keep)}
    added = [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True},
             {"id": 1, "content": "<|padding|>", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}]
    for n in range(24, 1, -1):
        spelling = sym[32] * n
        if spelling not in vocab:
            vocab[spelling] = len(vocab)
        added.append({"id": vocab[spelling], "content": " " * n, "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": True, "special": False})
    return vocab, kept_merges, added


def tokenizer_json(vocab, merges, added):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "vocab": vocab, "merges": merges},
    }


# ---- weights ------------------------------------------------------------------------------

def f16_exact(t):
    return t.to(torch.float16).to(torch.float32)


def make_weights(n_vocab):
    """HF MambaForCausalLM names (backbone.*) -> float32 tensors (float16-exact values)."""
    g = torch.Generator().manual_seed(20240611)

    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=g) * std

    def uniform(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    w = {"backbone.embeddings.weight": randn(n_vocab, D_MODEL, std=0.5)}
    for i in range(N_LAYER):
        p = f"backbone.layers.{i}."
        w[p + "norm.weight"] = 1.0 + randn(D_MODEL, std=0.1)
        w[p + "mixer.in_proj.weight"] = randn(2 * D_INNER, D_MODEL, std=D_MODEL ** -0.5)
        w[p + "mixer.conv1d.weight"] = uniform(-0.5, 0.5, D_INNER, 1, D_CONV)
        w[p + "mixer.conv1d.bias"] = uniform(-0.2, 0.2, D_INNER)
        w[p + "mixer.x_proj.weight"] = randn(DT_RANK + 2 * D_STATE, D_INNER, std=D_INNER ** -0.5)
        w[p + "mixer.dt_proj.weight"] = uniform(-DT_RANK ** -0.5, DT_RANK ** -0.5, D_INNER, DT_RANK)
        # dt between 0.001 and 0.1, log-uniform, through the inverse of softplus (as Mamba).
        dt = torch.exp(uniform(math.log(1e-3), math.log(1e-1), D_INNER))
        w[p + "mixer.dt_proj.bias"] = dt + torch.log(-torch.expm1(-dt))
        a = torch.arange(1, D_STATE + 1, dtype=torch.float32).repeat(D_INNER, 1)
        w[p + "mixer.A_log"] = torch.log(a) + randn(D_INNER, D_STATE, std=0.1)
        w[p + "mixer.D"] = 1.0 + randn(D_INNER, std=0.1)
        w[p + "mixer.out_proj.weight"] = randn(D_MODEL, D_INNER, std=D_INNER ** -0.5)
    w["backbone.norm_f.weight"] = 1.0 + randn(D_MODEL, std=0.1)
    return {k: f16_exact(v) for k, v in w.items()}


# ---- writers ------------------------------------------------------------------------------

def write_safetensors(path, tensors, f16_names):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if name in f16_names:
            raw, dt = t.to(torch.float16).numpy().tobytes(), "F16"
        else:
            raw, dt = t.numpy().astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, vtype, value):
    out = gguf_str(key) + struct.pack("<I", vtype)
    if vtype == 8:
        return out + gguf_str(value)
    if vtype == 9:
        et, items = value
        out += struct.pack("<IQ", et, len(items))
        for v in items:
            out += gguf_str(v) if et == 8 else struct.pack("<" + {4: "I", 5: "i"}[et], v)
        return out
    return out + struct.pack("<" + {4: "I", 6: "f", 7: "?"}[vtype], value)


def write_gguf(path, hf, vocab, merges, added):
    """llama.cpp's `mamba` architecture: names, shapes and A = -exp(A_log) as its converter."""
    t = {"token_embd.weight": hf["backbone.embeddings.weight"],
         "output_norm.weight": hf["backbone.norm_f.weight"]}
    for i in range(N_LAYER):
        p, q = f"backbone.layers.{i}.", f"blk.{i}."
        t[q + "attn_norm.weight"] = hf[p + "norm.weight"]
        t[q + "ssm_in.weight"] = hf[p + "mixer.in_proj.weight"]
        t[q + "ssm_conv1d.weight"] = hf[p + "mixer.conv1d.weight"].squeeze(1)
        t[q + "ssm_conv1d.bias"] = hf[p + "mixer.conv1d.bias"]
        t[q + "ssm_x.weight"] = hf[p + "mixer.x_proj.weight"]
        t[q + "ssm_dt.weight"] = hf[p + "mixer.dt_proj.weight"]
        t[q + "ssm_dt.bias"] = hf[p + "mixer.dt_proj.bias"]
        t[q + "ssm_a"] = -torch.exp(hf[p + "mixer.A_log"])
        t[q + "ssm_d"] = hf[p + "mixer.D"]
        t[q + "ssm_out.weight"] = hf[p + "mixer.out_proj.weight"]
    # As llama.cpp's converter: one token per embedding row, unused ids as "[PAD<id>]"
    # USER_DEFINED tokens (llama.cpp refuses a token list shorter than the table).
    n_ids = t["token_embd.weight"].shape[0]
    tokens = [f"[PAD{i}]" for i in range(n_ids)]
    for s, i in vocab.items():
        tokens[i] = s
    types = [1 if i <= max(vocab.values()) else 4 for i in range(n_ids)]
    for a in added:
        # As llama.cpp's converter: added tokens as their text, specials CONTROL (3),
        # the others USER_DEFINED (4).
        tokens[a["id"]] = a["content"]
        types[a["id"]] = 3 if a["special"] else 4
    kvs = [gguf_kv("general.architecture", 8, "mamba"),
           gguf_kv("general.name", 8, "silt-tiny-mamba"),
           gguf_kv("general.alignment", 4, 32),
           gguf_kv("mamba.context_length", 4, 1 << 20),
           gguf_kv("mamba.embedding_length", 4, D_MODEL),
           gguf_kv("mamba.feed_forward_length", 4, 0),
           gguf_kv("mamba.attention.head_count", 4, 0),
           gguf_kv("mamba.block_count", 4, N_LAYER),
           gguf_kv("mamba.ssm.conv_kernel", 4, D_CONV),
           gguf_kv("mamba.ssm.inner_size", 4, D_INNER),
           gguf_kv("mamba.ssm.state_size", 4, D_STATE),
           gguf_kv("mamba.ssm.time_step_rank", 4, DT_RANK),
           gguf_kv("mamba.attention.layer_norm_rms_epsilon", 6, EPS),
           gguf_kv("mamba.ssm.dt_b_c_rms", 7, False),
           gguf_kv("tokenizer.ggml.model", 8, "gpt2"),
           gguf_kv("tokenizer.ggml.pre", 8, "gpt-2"),
           gguf_kv("tokenizer.ggml.tokens", 9, (8, tokens)),
           gguf_kv("tokenizer.ggml.token_type", 9, (5, types)),
           gguf_kv("tokenizer.ggml.merges", 9, (8, merges)),
           gguf_kv("tokenizer.ggml.bos_token_id", 4, 0),
           gguf_kv("tokenizer.ggml.eos_token_id", 4, 0)]
    infos, blobs, off = b"", [], 0
    for name, x in t.items():
        x = x.contiguous()
        if name == "token_embd.weight":
            raw, ty = x.to(torch.float16).numpy().tobytes(), 1
        else:
            raw, ty = x.numpy().astype("<f4").tobytes(), 0
        ne = list(reversed(x.shape))  # ggml: ne[0] is the row length
        infos += gguf_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        infos += struct.pack("<IQ", ty, off)
        raw += b"\0" * (-len(raw) % 32)
        blobs.append(raw)
        off += len(raw)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(t), len(kvs)) + b"".join(kvs) + infos
    head += b"\0" * (-len(head) % 32)
    with open(path, "wb") as f:
        f.write(head + b"".join(blobs))


# ---- reference forward ---------------------------------------------------------------------

def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def mamba_forward(w, ids):
    """Hidden states [L, D_MODEL] after norm_f, float64, one token at a time in the scan."""
    w = {k: v.double() for k, v in w.items()}
    h = w["backbone.embeddings.weight"][torch.tensor(ids)]
    L = h.shape[0]
    for i in range(N_LAYER):
        p = f"backbone.layers.{i}."
        x = rmsnorm(h, w[p + "norm.weight"])
        xz = x @ w[p + "mixer.in_proj.weight"].T
        u, z = xz[:, :D_INNER], xz[:, D_INNER:]
        # causal depthwise conv: out[t] = b + sum_k w[k] * u[t - (D_CONV-1) + k]
        cw, cb = w[p + "mixer.conv1d.weight"][:, 0, :], w[p + "mixer.conv1d.bias"]
        pad = torch.cat([torch.zeros(D_CONV - 1, D_INNER, dtype=u.dtype), u])
        conv = torch.stack([cb + sum(cw[:, k] * pad[t + k] for k in range(D_CONV))
                            for t in range(L)])
        u = conv * torch.sigmoid(conv)
        dbc = u @ w[p + "mixer.x_proj.weight"].T
        dt, B, C = dbc[:, :DT_RANK], dbc[:, DT_RANK:DT_RANK + D_STATE], dbc[:, DT_RANK + D_STATE:]
        delta = torch.nn.functional.softplus(dt @ w[p + "mixer.dt_proj.weight"].T
                                             + w[p + "mixer.dt_proj.bias"])
        A = -torch.exp(w[p + "mixer.A_log"])  # [D_INNER, D_STATE]
        state = torch.zeros(D_INNER, D_STATE, dtype=u.dtype)
        ys = []
        for t in range(L):
            dA = torch.exp(delta[t][:, None] * A)
            dBu = delta[t][:, None] * B[t][None, :] * u[t][:, None]
            state = dA * state + dBu
            ys.append(state @ C[t] + w[p + "mixer.D"] * u[t])
        y = torch.stack(ys) * (z * torch.sigmoid(z))
        h = h + y @ w[p + "mixer.out_proj.weight"].T
    return rmsnorm(h, w["backbone.norm_f.weight"])


# ---- texts --------------------------------------------------------------------------------

WORDS = ("the state space model reads every token once and keeps a fixed size state so the "
         "cost grows linearly with the length of the passage while attention compares every "
         "pair of tokens retrieval over long documents needs both speed and quality naïve "
         "café résumé 東京 Москва 123 4,567.89 don't we'll it's").split()


def tiny_texts():
    """Texts of the tiny-Mamba goldens: edge cases, then passages of growing length."""
    g = torch.Generator().manual_seed(7)

    def passage(n_words):
        idx = torch.randint(0, len(WORDS), (n_words,), generator=g).tolist()
        return " ".join(WORDS[i] for i in idx)

    return ["", "a", "hello world", "Hello, world! It's 2024 and we're testing Mamba's scan.",
            "   leading spaces and\ttabs\n\nnewlines   ",
            "Äpfel, naïve café, 東京, Привет мир, 🤗 emoji",
            "don't can't I'll we've they're she'd", "numbers 3.14159 and 1,000,000 and ٣٤٥",
            passage(40), passage(150), passage(600)]


def bpe_texts():
    """Texts for the GPT-NeoX cross-check: llama.cpp's cases, hand-picked edge cases of the
    GPT-2 pattern, NFC and added tokens, then seeded random strings. U+0085 and U+FEFF are
    left out: JavaScript's \\s and Oniguruma's (Rust tokenizers) disagree on them."""
    out = []
    inp = os.path.join(HERE, "..", "data", "llama-vocab", "ggml-vocab-mpt.gguf.inp")
    if os.path.exists(inp):
        cases = open(inp, encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
        out += cases[:-1]  # the file ends with a separator
    out += [" ", "  ", "\n", " \n", "\n ", "a  b", "a   b", "a \nb", "a\n b", "a\n\n b",
            "a\u00a0b", "a\u3000b", "a \u00a0b", "a\u00a0 b", "x\u2028y", " " * 30 + "x",
            " " * 100, "x" + " " * 25 + "y", "\t\t x", "x \t y", "'s", "'S", " 's", "x's",
            "!'s", "''s", "'ll've", "it's'", "I'M", "123abc", "abc123", " 123", "１２３ Ⅻ ½",
            "e\u0301 A\u030a \ufb01 \u1100\u1161", "café vs cafe\u0301",
            "👩‍👩‍👧 🇫🇷 ✅ 🤗", "नमस्ते दुनिया", "مرحبا بالعالم ١٢٣", "한국어 텍스트",
            "<|endoftext|>", "a<|endoftext|>b", "<|padding|> x", "zero\u200bwidth",
            "line1\r\nline2\r\n", "    def f(x):\n        return x  # comment\n",
            "https://example.com/a?b=c&d=e", "email@example.org", "$100.00 (approx.)"]
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3 +
            list("0123456789") * 2 + list(" " * 20) + list("\n\t'.,!?-_()[]{}\"/\\@#$%^&*") +
            list("éüñçÅøßœ") + list("東京大阪日本語") + list("ПриветМир") +
            ["\u0301", "\u0308", "\u00a0", "\u2003", "\u3000", "\u200b", "🤗", "👍", "😀",
             "\u0928", "\u093f", "\u094d", "\u0627", "\u0644", "٣", "Ⅻ", "½", "\u2028"])
    g = torch.Generator().manual_seed(11)
    for _ in range(300):
        n = int(torch.randint(1, 40, (1,), generator=g))
        idx = torch.randint(0, len(pool), (n,), generator=g).tolist()
        out.append("".join(pool[i] for i in idx))
    return out


def neox_tokenizer_json():
    """GPT-NeoX-20B's tokenizer.json, rebuilt from the GGUF: vocabulary without llama.cpp's
    [PAD<id>] fillers, added tokens back in byte-level spelling in model.vocab."""
    kv = read_gguf_kv(NEOX_GGUF)
    tokens, types = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]
    sym = byte_symbols()
    vocab, added = {}, []
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if t == f"[PAD{i}]":
            continue
        if ty == 4:
            vocab["".join(sym[b] for b in t.encode("utf-8"))] = i
        else:
            vocab[t] = i
        if ty in (3, 4):
            added.append({"id": i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": ty == 4, "special": ty == 3})
    return tokenizer_json(vocab, kv["tokenizer.ggml.merges"], added)


def main():
    mode, out_dir = sys.argv[1], sys.argv[2]
    if mode in ("texts", "bpe-texts", "neox-tokenizer"):
        obj = {"texts": tiny_texts, "bpe-texts": bpe_texts,
               "neox-tokenizer": neox_tokenizer_json}[mode]()
        with open(out_dir, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
        return
    if mode == "bpe-gold":
        cases = json.load(open(out_dir, encoding="utf-8"))
        lines = [json.dumps({"text_hex": c["text"].encode("utf-8").hex(), "ids": c["ids"]})
                 for c in cases]
        with open(sys.argv[3], "w") as f:
            f.write('{"source": "@huggingface/tokenizers 0.2.0 on GPT-NeoX-20B tokenizer.json '
                    'rebuilt from ggml-vocab-gpt-neox.gguf", "cases": [\n' + ",\n".join(lines)
                    + "\n]}\n")
        return
    vocab, merges, added = reduced_vocab()
    n_ids = max(vocab.values()) + 1
    n_vocab = -(n_ids // -8) * 8  # embedding rows padded to a multiple of 8, as HF does
    w = make_weights(n_vocab)
    if mode == "model":
        os.makedirs(out_dir, exist_ok=True)
        config = {"architectures": ["MambaForCausalLM"], "model_type": "mamba",
                  "vocab_size": n_vocab, "hidden_size": D_MODEL, "state_size": D_STATE,
                  "num_hidden_layers": N_LAYER, "conv_kernel": D_CONV, "expand": EXPAND,
                  "intermediate_size": D_INNER, "time_step_rank": DT_RANK,
                  "layer_norm_epsilon": EPS, "use_bias": False, "use_conv_bias": True,
                  "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
                  "tie_word_embeddings": True, "residual_in_fp32": True}
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(vocab, merges, added), f, ensure_ascii=False)
        write_safetensors(os.path.join(out_dir, "model.safetensors"), w,
                          {"backbone.embeddings.weight"})
        write_gguf(os.path.join(out_dir, "..", "tiny-mamba.gguf"), w, vocab, merges, added)
    elif mode == "gold":
        cases = json.load(open(sys.argv[3], encoding="utf-8"))
        gold = []
        for c in cases:
            ids = c["ids"] + [0]  # Mamba Retriever: append EOS, pool its position
            hid = mamba_forward(w, ids)
            e = hid[-1] / hid[-1].norm()
            gold.append({"text": c["text"], "text_hex": c["text"].encode("utf-8").hex(),
                         "ids": ids,
                         "embedding": [round(v, 8) for v in e.tolist()]})
        with open(sys.argv[4], "w", encoding="utf-8") as f:
            f.write('{"model": "tests/data/tiny-mamba", "dim": %d, "cases": [\n' % D_MODEL)
            f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in gold) + "\n]}\n")
    else:
        sys.exit("usage: make_tiny_mamba.py model OUT_DIR | gold OUT_DIR IDS.json GOLD.json")


if __name__ == "__main__":
    main()

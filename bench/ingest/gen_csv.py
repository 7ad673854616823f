#!/usr/bin/env python3
"""gen_csv.py OUT MB: writes a deterministic CSV of about MB megabytes for the ingest
benchmark: an integer id, a date, two short texts, a quoted text with commas, an integer,
two reals, and a longer free-text field (~225 bytes a row, like the 300 MB / 1.35M-row file
the .import anchor was measured on)."""
import random
import sys

out, mb = sys.argv[1], float(sys.argv[2])
rnd = random.Random(42)
words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
         "pi rho sigma tau upsilon phi chi psi omega river stone cloud market harbor").split()
cities = ["Boston", "Denver", "Austin", "Seattle", "Portland", "Chicago", "Miami", "Atlanta"]
target = int(mb * 1e6)
n = 0
i = 0
with open(out, "w", newline="") as f:
    f.write("id,date,city,category,address,count,price,ratio,description\n")
    while n < target:
        rows = []
        for _ in range(10000):
            i += 1
            desc = " ".join(rnd.choice(words) for _ in range(rnd.randint(18, 34)))
            rows.append('%d,2023-%02d-%02d,%s,%s,"%d %s St, %s",%d,%.2f,%.6f,"%s"\n' % (
                i, rnd.randint(1, 12), rnd.randint(1, 28), rnd.choice(cities), rnd.choice(words),
                rnd.randint(1, 9999), rnd.choice(words).title(), rnd.choice(cities),
                rnd.randint(0, 100000), rnd.random() * 1000, rnd.random(), desc))
        s = "".join(rows)
        f.write(s)
        n += len(s)
print(i)

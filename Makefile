# silt: `make` builds build/silt.so, build/libsilt.a and build/silt.pc.
# `make demo` and `make test` set the machine up first (scripts/setup.sh, idempotent).
#
# Sources are found by wildcard: a new .c file in core/, index/, sqlext/ or ingest/ is part of
# the build, and a new tests/unit/test_*.c is part of the unit-test binary.
# BUILD may point elsewhere (make BUILD=build-san ...), the dependency cache stays in build/deps.

BUILD   ?= build
DEPS    := build/deps
SAN     ?=
CC      ?= cc
CXX     ?= g++
OPT     ?= -O2

WARN     := -Wall -Wextra -Werror
BASEFLAGS := $(OPT) -g -fPIC -fvisibility=hidden -D_GNU_SOURCE -I. -Iinclude -I$(DEPS)/faiss-1.7.3 $(SAN)
# Where `make setup` puts the default model; the extension also looks next to silt.so and in
# $SILT_DEFAULT_MODEL, so a moved build still finds it.
DEFAULT_MODEL_DIR := $(abspath build/models/use-lite)
CFLAGS_ALL   := -std=c11 $(WARN) $(BASEFLAGS) -DSILT_DEFAULT_MODEL_DIR=\"$(DEFAULT_MODEL_DIR)\" $(CFLAGS)
CXXFLAGS_ALL := -std=c++17 $(WARN) $(BASEFLAGS) -fopenmp $(CXXFLAGS)

SYSLIBS := -lopenblas -lcurl -lcrypto -lcjson -lutf8proc -lz -lgomp -lstdc++ -lpthread -lm -ldl
FAISS_LIBS := $(DEPS)/libfaiss_c.a $(DEPS)/libfaiss_sel.a

SRC_C   := $(sort $(wildcard core/*.c index/*.c sqlext/*.c ingest/*.c))
SRC_CXX := $(sort $(wildcard index/*.cpp))
HDRS    := $(wildcard include/*.h core/*.h index/*.h sqlext/*.h ingest/*.h)

# Two builds of every object: for the loadable extension (sqlite3ext.h API table) and for
# static linking into an application (SQLITE_CORE, direct calls).
OBJ_EXT  := $(SRC_C:%.c=$(BUILD)/ext/%.o) $(SRC_CXX:%.cpp=$(BUILD)/ext/%.o)
OBJ_CORE := $(SRC_C:%.c=$(BUILD)/core/%.o) $(SRC_CXX:%.cpp=$(BUILD)/core/%.o)

TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
# Reference implementations the tests compare with (tests/ref), and what they link.
REF_SRC  := $(sort $(wildcard tests/ref/*.c))
REF_LIBS := -lcsv

# cluster/ programs, built where libdqlite-dev is installed (scripts/setup.sh installs it).
CLUSTER_BINS := $(if $(wildcard /usr/include/dqlite.h),$(BUILD)/silt-node $(BUILD)/silt-sql)
.PHONY: all setup test test-run test-unit test-sql test-example sanitize demo eval bench clean
all: $(BUILD)/silt.so $(BUILD)/libsilt.a $(BUILD)/silt.pc $(CLUSTER_BINS)

setup:
	@bash scripts/setup.sh

$(DEPS)/libfaiss_c.a $(DEPS)/libfaiss_sel.a:
	@bash scripts/setup.sh

$(BUILD)/ext/%.o: %.c $(HDRS) | $(DEPS)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@
$(BUILD)/ext/%.o: %.cpp $(HDRS) | $(DEPS)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c $< -o $@
$(BUILD)/core/%.o: %.c $(HDRS) | $(DEPS)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DSQLITE_CORE -c $< -o $@
$(BUILD)/core/%.o: %.cpp $(HDRS) | $(DEPS)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -DSQLITE_CORE -c $< -o $@

$(BUILD)/silt.so: $(OBJ_EXT) $(FAISS_LIBS) scripts/silt.map
	$(CXX) -shared -o $@ $(OBJ_EXT) $(FAISS_LIBS) $(SAN) $(SYSLIBS) \
	  -Wl,-z,nodelete -Wl,--version-script=scripts/silt.map -Wl,--exclude-libs,ALL -Wl,--no-undefined

# libsilt.a carries FAISS inside it, so an application needs only system libraries.
$(BUILD)/libsilt.a: $(OBJ_CORE) $(FAISS_LIBS)
	@rm -f $@.tmp
	@{ echo "CREATE $@.tmp"; for o in $(OBJ_CORE); do echo "ADDMOD $$o"; done; \
	   echo "ADDLIB $(DEPS)/libfaiss_c.a"; echo "ADDLIB $(DEPS)/libfaiss_sel.a"; \
	   echo SAVE; echo END; } | ar -M
	@mv $@.tmp $@
	@echo "ar $@"

$(BUILD)/silt.pc: scripts/silt.pc.in Makefile
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(abspath .)|' -e 's|@LIBDIR@|$(abspath $(BUILD))|' -e 's|@LIBS@|$(SYSLIBS)|' $< > $@

# ---- cluster: silt-node (a dqlite node with silt on every connection) and silt-sql (its
# client). Built only where libdqlite-dev is installed (CLUSTER_BINS, set above `all`).
$(BUILD)/core/cluster/%.o: cluster/%.c cluster/dqlite_client.h cluster/commit_guard.h $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DSQLITE_CORE -c $< -o $@
$(BUILD)/silt-node: $(BUILD)/core/cluster/silt-node.o $(BUILD)/core/cluster/dqlite_client.o \
  $(BUILD)/core/cluster/commit_guard.o $(OBJ_CORE) $(FAISS_LIBS)
	$(CXX) -o $@ $(filter %.o,$^) $(FAISS_LIBS) -ldqlite -lsqlite3 $(SAN) $(SYSLIBS)
$(BUILD)/silt-sql: $(BUILD)/core/cluster/silt-sql.o $(BUILD)/core/cluster/dqlite_client.o $(BUILD)/core/core/err.o
	$(CC) -o $@ $^ -lsqlite3 $(SAN)

# ---- tests ----------------------------------------------------------------------------
$(BUILD)/test_unit: $(TEST_SRC) $(OBJ_CORE) $(FAISS_LIBS) tests/unit/testutil.h
	$(CXX) -o $@ $(filter %.o,$(OBJ_CORE)) \
	  $(foreach t,$(TEST_SRC) $(REF_SRC),$(BUILD)/core/$(t:.c=.o)) $(FAISS_LIBS) -lcriterion -lsqlite3 $(SAN) \
	  $(SYSLIBS) $(REF_LIBS)

$(BUILD)/core/tests/unit/%.o: tests/unit/%.c $(HDRS) tests/unit/testutil.h $(wildcard tests/ref/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DSQLITE_CORE -Wno-unused-parameter -c $< -o $@
$(BUILD)/core/tests/ref/%.o: tests/ref/%.c $(HDRS) $(wildcard tests/ref/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DSQLITE_CORE -c $< -o $@

$(BUILD)/test_unit: $(TEST_SRC:%.c=$(BUILD)/core/%.o) $(REF_SRC:%.c=$(BUILD)/core/%.o)

$(BUILD)/example: examples/embed_app.c $(BUILD)/libsilt.a $(BUILD)/silt.pc
	$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude $(SAN) -o $@ $< \
	  $$(PKG_CONFIG_PATH=$(BUILD) pkg-config --static --libs silt) -lsqlite3

# setup runs first and the rest in a sub-make, so that what setup installs (e.g. dqlite.h,
# which decides CLUSTER_BINS) is seen when the build is planned.
test: setup
	@$(MAKE) --no-print-directory test-run
test-run: all $(BUILD)/test_unit $(BUILD)/example
	@bash tests/run_all.sh $(BUILD)

test-unit: $(BUILD)/test_unit
	$(BUILD)/test_unit
test-sql: $(BUILD)/silt.so
	@bash tests/sql/run.sh $(BUILD)

# Same tests under ASan+UBSan in build-san; any sanitizer report fails the run.
sanitize: setup
	@$(MAKE) --no-print-directory BUILD=build-san OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  build-san/silt.so build-san/libsilt.a build-san/silt.pc build-san/test_unit build-san/example
	@bash tests/run_sanitized.sh build-san

demo: setup
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh $(BUILD)

eval: setup
	@$(MAKE) --no-print-directory all
	@/usr/bin/python3 bench/eval/cranfield.py $(BUILD) --fidelity

bench: setup
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh $(BUILD)

# ---- reliability: the unit tests under valgrind (any memcheck error or definite leak fails),
# and longer crash-consistency / concurrency runs than `make test` does (CRASH_SECONDS each).
.PHONY: valgrind crash
valgrind: $(BUILD)/test_unit
	@bash tests/run_valgrind.sh $(BUILD)
CRASH_SECONDS ?= 60
crash: $(BUILD)/silt.so
	@CRASH_SECONDS=$(CRASH_SECONDS) bash tests/shell/crash_sigkill_writers.sh $(BUILD)
	@CONC_SECONDS=$(CRASH_SECONDS) bash tests/shell/crash_concurrent_wal.sh $(BUILD)

# ---- fuzzing (tests/fuzz): libFuzzer targets, clang with ASan + UBSan, objects in FUZZ_BUILD.
# `make fuzz` builds every tests/fuzz/fuzz_<target>.c; `make fuzz-smoke` runs each for
# FUZZ_TIME seconds from its seed corpus (tests/fuzz/corpus/<target>) and fails on any crash.
# FAISS's C++ bridge keeps its g++ build (it needs libgomp's OpenMP, not clang's).
FUZZ_BUILD  ?= build-fuzz/fuzz
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 15
FUZZ_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -DSQLITE_CORE \
  -I. -Iinclude -I$(DEPS)/faiss-1.7.3 -DSILT_DEFAULT_MODEL_DIR=\"$(DEFAULT_MODEL_DIR)\" \
  -DSILT_FUZZ_REPO=\"$(abspath .)\" -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_OBJ := $(SRC_C:%.c=$(FUZZ_BUILD)/%.o) $(SRC_CXX:%.cpp=$(FUZZ_BUILD)/%.o)
.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
fuzz-smoke: fuzz
	@bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZ_TARGETS)

$(FUZZ_BUILD)/%.o: %.c $(HDRS) | $(DEPS)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/%.o: %.cpp $(HDRS) | $(DEPS)/libfaiss_c.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -DSQLITE_CORE -c $< -o $@
# The reference objects are prerequisites of a pattern rule only: kept, not rebuilt each time.
.SECONDARY: $(REF_SRC:%.c=$(FUZZ_BUILD)/%.o)
# An archive, so that each target links only the objects it uses.
$(FUZZ_BUILD)/libsilt_fuzz.a: $(FUZZ_OBJ)
	@rm -f $@ && ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_BUILD)/libsilt_fuzz.a $(FAISS_LIBS) \
  $(REF_SRC:%.c=$(FUZZ_BUILD)/%.o)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(REF_SRC:%.c=$(FUZZ_BUILD)/%.o) \
	  $(FUZZ_BUILD)/libsilt_fuzz.a $(FAISS_LIBS) -lsqlite3 $(SYSLIBS) $(REF_LIBS)

clean:
	rm -rf $(BUILD)/ext $(BUILD)/core $(BUILD)/silt.so $(BUILD)/libsilt.a $(BUILD)/test_unit $(BUILD)/example $(BUILD)/silt-node $(BUILD)/silt-sql build-san

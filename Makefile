# acids: neural audio synthesis externals for Pure Data.
#
#   make deps      install what is missing (Debian packages; sudo when not root)
#                  (on a machine without make: sh tests/deps.sh)
#   make           build the externals (rave~.pd_linux ...) and libacids.so
#   make demo      deps + build + render models/demo.wav through rave~ in headless Pd
#   make check     deps + build + the whole test suite (ends with "N passed, N failed")
#   make install   into Pd's externals folder (objectsdir=... to choose)
#   make models    rebuild the shipped models and the test fixtures (needs python3-torch)
#
# libtorch: Debian's by default; LIBTORCH=/path/to/libtorch for an official build.

lib.name = acids

# --- cross build (Raspberry Pi, issue 6): `make PLATFORM=aarch64-linux-gnu` builds out of tree
# in build/arm64 (tests/pi/cross/Makefile.pdlibbuilder stands in for pd-lib-builder and runs
# this Makefile there with the real one; ACIDS_CROSS=inner marks that run).
ifneq ($(PLATFORM),)
ifneq ($(ACIDS_CROSS),inner)
override PDLIBBUILDER_DIR := tests/pi/cross
endif
endif
ifeq ($(ACIDS_CROSS),inner)
# Debian's aarch64-linux-gnu-gcc 12.2 crashes (ICE in vect_transform_reduction) on
# tests/unit/test_engine.c at -O2: no loop vectorizing for that test program only.
test_engine: test.cflags += -fno-tree-loop-vectorize
endif
# --- end cross build

ifdef LIBTORCH
torch.cflags = -isystem $(LIBTORCH)/include -isystem $(LIBTORCH)/include/torch/csrc/api/include
torch.ldlibs = -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib -ltorch -ltorch_cpu -lc10
else
torch.cflags = -isystem /usr/include/torch/csrc/api/include
torch.ldlibs = -ltorch -ltorch_cpu -lc10
endif

core.c = src/core/model.c src/core/engine.c src/core/ts_archive.c
core.cxx = src/core/torch_shim.cpp
spectral.c = $(wildcard src/spectral/*.c)
stages.c = $(wildcard src/stages/*.c)

# One binary per external, all linking libacids.so (the core, the shim and the Pd glue).
class.sources = src/externals/rave~.c src/externals/wavae~.c src/externals/ddsp~.c \
	src/externals/vschaos~.c src/externals/timbre~.c src/externals/flowsynth~.c
shared.sources = $(core.c) $(core.cxx) $(spectral.c) $(stages.c) src/pd/acids_pd.c
shared.ldlibs = $(torch.ldlibs) -lfftw3f -lfftw3 -lpthread

cflags = -Wall -Wextra -Wno-format-truncation -Wno-cast-function-type -fvisibility=hidden $(torch.cflags)

datafiles = help-patches/rave~-help.pd help-patches/ddsp~-help.pd help-patches/wavae~-help.pd \
	help-patches/vschaos~-help.pd help-patches/timbre~-help.pd help-patches/flowsynth~-help.pd \
	help-patches/acids-synth.pd help-patches/acids-synth-help.pd LICENSE README.md
datadirs = models

# pd-lib-builder's flags serve both compilers and include -ffast-math: set the language
# per object, and keep NaN checks meaningful (REFERENCE.md §4).
%.o: c.flags += -std=c11 -fno-finite-math-only
%.o: cxx.flags += -std=c++17 -fno-finite-math-only

PDLIBBUILDER_DIR = pd-lib-builder
include $(PDLIBBUILDER_DIR)/Makefile.pdlibbuilder

# pd-lib-builder gives the helper library no $ORIGIN rpath: libtorch is found through the
# system, libacids.so next to the externals through the externals' own rpath.
shared.ldflags += -Wl,-rpath,'$$ORIGIN',--enable-new-dtags

# models/ is installed as a folder: a model script run by hand leaves python's __pycache__
# there, which pd-lib-builder's datadirs install refuses (it copies files only).
install-datadirs: drop-pycache
drop-pycache:
	rm -rf models/__pycache__

# ---------------------------------------------------------------------------------------
# Everything below is ours: dependencies, the offline renderer, tests, demo, models.

PYTHON_TORCH = /usr/bin/python3
BUILD = build
.PHONY: deps demo check test cli models style bench drop-pycache

deps:
	sh tests/deps.sh

# The core without Pd, for the renderer and the tests (debug symbols, warnings as errors).
build.cflags = -std=c11 -O2 -g -Wall -Wextra -Wno-format-truncation -Werror -fPIC -pthread
build.cxxflags = -std=c++17 -O2 -g -Wall -Wextra -Werror -fPIC $(torch.cflags)
core.objects = $(patsubst src/core/%.c,$(BUILD)/%.o,$(core.c)) $(BUILD)/torch_shim.o

$(BUILD)/%.o: src/core/%.c src/core/*.h | $(BUILD)
	$(CC) $(build.cflags) -c $< -o $@
$(BUILD)/torch_shim.o: src/core/torch_shim.cpp src/core/torch_shim.h | $(BUILD)
	$(CXX) $(build.cxxflags) -c $< -o $@
$(BUILD):
	mkdir -p $@

$(BUILD)/acids-render: src/cli/acids_render.c $(core.objects)
	$(CC) $(build.cflags) -c $< -o $(BUILD)/acids_render.o
	$(CXX) -o $@ $(BUILD)/acids_render.o $(core.objects) -lsndfile $(torch.ldlibs) -pthread

cli: $(BUILD)/acids-render

include tests/tests.mk

demo: deps
	$(MAKE) all cli
	sh tests/pd/render_demo.sh

check: deps
	$(MAKE) all cli test-binaries
	sh tests/run.sh

test: check

models:
	$(MAKE) -B -C models PYTHON=$(PYTHON_TORCH)

style:
	clang-format -i src/*/*.c src/*/*.h src/core/*.cpp src/cli/*.c tests/unit/*.c

cleanfiles = -r $(BUILD)

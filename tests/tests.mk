# Test programs (included by the top-level Makefile). Each prints TAP lines: "ok - ..." or
# "not ok - ...", and tests/run.sh adds them up.

test.cflags = $(build.cflags) -Isrc/core

$(BUILD)/test_ts_archive: tests/unit/test_ts_archive.c $(BUILD)/ts_archive.o
	$(CC) $(test.cflags) -o $@ $^

$(BUILD)/test_engine: tests/unit/test_engine.c tests/unit/tap.h $(core.objects)
	$(CC) $(test.cflags) -c tests/unit/test_engine.c -o $(BUILD)/test_engine.o
	$(CXX) -o $@ $(BUILD)/test_engine.o $(core.objects) $(torch.ldlibs) -pthread -lm

$(BUILD)/wavcmp: tests/pd/wavcmp.c
	$(CC) $(test.cflags) -o $@ $< -lsndfile -lm

test-binaries: $(BUILD)/test_ts_archive $(BUILD)/test_engine $(BUILD)/wavcmp

# The same unit tests under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer.
asan.flags = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan.objects = $(patsubst src/core/%.c,$(BUILD)/asan/%.o,$(core.c)) $(BUILD)/asan/torch_shim.o

$(BUILD)/asan/%.o: src/core/%.c src/core/*.h
	@mkdir -p $(BUILD)/asan
	$(CC) $(build.cflags) $(asan.flags) -c $< -o $@
$(BUILD)/asan/torch_shim.o: src/core/torch_shim.cpp src/core/torch_shim.h
	@mkdir -p $(BUILD)/asan
	$(CXX) $(build.cxxflags) $(asan.flags) -c $< -o $@
$(BUILD)/asan/test_engine: tests/unit/test_engine.c tests/unit/tap.h $(asan.objects)
	$(CC) $(test.cflags) $(asan.flags) -c tests/unit/test_engine.c -o $(BUILD)/asan/test_engine.o
	$(CXX) $(asan.flags) -o $@ $(BUILD)/asan/test_engine.o $(asan.objects) $(torch.ldlibs) -pthread -lm

test-binaries: $(BUILD)/asan/test_engine

$(BUILD)/direct_call: tests/bench/direct_call.c $(core.objects)
	$(CC) $(test.cflags) -c $< -o $(BUILD)/direct_call.o
	$(CXX) -o $@ $(BUILD)/direct_call.o $(core.objects) $(torch.ldlibs) -pthread -lm

# --- bench (issue 5): tests/bench/run_bench.sh; engine_bench and the LD_PRELOAD allocation
# counter live in build/bench/, with the v2-sized model the bench makes when missing.
$(BUILD)/bench/engine_bench: tests/bench/engine_bench.c $(core.objects)
	@mkdir -p $(BUILD)/bench
	$(CC) $(test.cflags) -c $< -o $(BUILD)/bench/engine_bench.o
	$(CXX) -o $@ $(BUILD)/bench/engine_bench.o $(core.objects) $(torch.ldlibs) -pthread -lm -ldl
$(BUILD)/bench/alloc_count.so: tests/bench/alloc_count.c
	@mkdir -p $(BUILD)/bench
	$(CC) -O2 -fPIC -shared -o $@ $<

bench: deps
	$(MAKE) all $(BUILD)/direct_call $(BUILD)/bench/engine_bench $(BUILD)/bench/alloc_count.so
	bash tests/bench/run_bench.sh 2>&1 | tee $(BUILD)/bench/last.txt
# --- end bench

# --- robustness (tests/robust/, issue 5): the engine tests under ThreadSanitizer. libtorch is
# not instrumented: tests/robust/tsan.supp silences reports that lie wholly outside our code.
tsan.flags = -O1 -g -fsanitize=thread -fno-omit-frame-pointer
tsan.objects = $(patsubst src/core/%.c,$(BUILD)/tsan/%.o,$(core.c)) $(BUILD)/tsan/torch_shim.o

$(BUILD)/tsan/%.o: src/core/%.c src/core/*.h
	@mkdir -p $(BUILD)/tsan
	$(CC) $(build.cflags) $(tsan.flags) -c $< -o $@
$(BUILD)/tsan/torch_shim.o: src/core/torch_shim.cpp src/core/torch_shim.h
	@mkdir -p $(BUILD)/tsan
	$(CXX) $(build.cxxflags) $(tsan.flags) -c $< -o $@
$(BUILD)/tsan/test_engine: tests/unit/test_engine.c tests/unit/tap.h $(tsan.objects)
	$(CC) $(test.cflags) $(tsan.flags) -c tests/unit/test_engine.c -o $(BUILD)/tsan/test_engine.o
	$(CXX) $(tsan.flags) -o $@ $(BUILD)/tsan/test_engine.o $(tsan.objects) $(torch.ldlibs) -pthread -lm

test-binaries: $(BUILD)/tsan/test_engine
# --- end robustness

# --- spectral (src/spectral/, issues 3 and 4): STFT, DDSP loudness, YIN pitch. No Pd, no
# torch; FFTW single precision, and double for the loudness (see src/spectral/loudness.h).
# Issue 4's front-ends: resampler, mel, constant-Q (double FFT, see cqt.c), RTPGHI.
spectral.csources = src/spectral/fft_planner.c src/spectral/sample_history.c src/spectral/stft.c \
	src/spectral/loudness.c src/spectral/pitch.c src/spectral/resample.c src/spectral/mel.c \
	src/spectral/cqt.c src/spectral/pghi.c
spectral.ldlibs = -lfftw3f -lfftw3 -lm

$(BUILD)/test_spectral: tests/unit/test_spectral.c tests/unit/tap.h $(spectral.csources) $(spectral.csources:.c=.h) | $(BUILD)
	$(CC) $(test.cflags) -Isrc/spectral -o $@ tests/unit/test_spectral.c $(spectral.csources) $(spectral.ldlibs)
$(BUILD)/pitch_quality: tests/bench/pitch_quality.c $(spectral.csources) $(spectral.csources:.c=.h) | $(BUILD)
	$(CC) $(test.cflags) -Isrc/spectral -o $@ tests/bench/pitch_quality.c $(spectral.csources) -lsndfile $(spectral.ldlibs)

$(BUILD)/test_frontends: tests/unit/test_frontends.c tests/unit/tap.h $(spectral.csources) $(spectral.csources:.c=.h) | $(BUILD)
	$(CC) $(test.cflags) -Isrc/spectral -o $@ tests/unit/test_frontends.c $(spectral.csources) $(spectral.ldlibs)
$(BUILD)/pghi_quality: tests/bench/pghi_quality.c tests/unit/tap.h $(spectral.csources) $(spectral.csources:.c=.h) | $(BUILD)
	$(CC) $(test.cflags) -Isrc/spectral -Itests/unit -o $@ tests/bench/pghi_quality.c $(spectral.csources) -lsndfile $(spectral.ldlibs)

test-binaries: $(BUILD)/test_spectral $(BUILD)/pitch_quality $(BUILD)/test_frontends $(BUILD)/pghi_quality
# --- end spectral

# --- Raspberry Pi (issue 6): the arm64 build (build/arm64) for tests/pi/run_arm64_tests.sh,
# made when tests/deps.sh could set up the arm64 sysroot (else those tests say SKIP).
.PHONY: arm64 arm64-if-possible dek
arm64:
	+$(MAKE) PLATFORM=aarch64-linux-gnu
arm64-if-possible:
	+@if [ -e "$$(sh tests/pi/sysroot.sh --path)/usr/lib/aarch64-linux-gnu/libtorch_cpu.so" ]; \
	then $(MAKE) PLATFORM=aarch64-linux-gnu; else echo "acids: no arm64 sysroot, no arm64 build"; fi
ifneq ($(ACIDS_CROSS),inner)
test-binaries: arm64-if-possible
endif
# deken packages in out/dek (tests/pi/dek.sh): Linux-amd64-32, Linux-arm64-32, Sources.
dek: all
	+$(MAKE) arm64-if-possible
	sh tests/pi/dek.sh
# the Pi launcher, its live patch and the systemd unit go into installs and packages
datafiles += help-patches/acids-pi.sh help-patches/acids-pi-live.pd help-patches/acids-pi.service
# --- end Raspberry Pi

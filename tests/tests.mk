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

bench: deps
	$(MAKE) all $(BUILD)/direct_call
	bash tests/bench/run_bench.sh

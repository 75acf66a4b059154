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

# ISO BMFF segment engine: box walker, PIFF neutralise/convert, streaming
# patcher, box dump, the offline tool, its tests and its benchmark.
src_libdashpiff_a_SOURCES += \
	src/bmff_box.cpp src/bmff_box.h \
	src/bmff_fields.cpp src/bmff_fields.h \
	src/piff_convert.cpp src/piff_convert.h \
	src/segment_patcher.cpp src/segment_patcher.h \
	src/box_dump.cpp src/box_dump.h

bin_PROGRAMS += src/dashpiff-patch
src_dashpiff_patch_SOURCES = src/dashpiff-patch.cpp
src_dashpiff_patch_LDADD = $(CORE_LIBS)

check_PROGRAMS += tests/unit/test_bmff
TESTS += tests/unit/test_bmff
tests_unit_test_bmff_SOURCES = tests/unit/test_bmff.cpp tests/unit/test_bmff_fixtures.cpp \
	tests/unit/bmff_builder.h tests/unit/bmff_test_support.h
tests_unit_test_bmff_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_bmff_LDADD = $(TEST_LIBS)

# Not built by default: `make bench/engine_bench && bench/engine_bench`.
EXTRA_PROGRAMS += bench/engine_bench
bench_engine_bench_SOURCES = bench/engine_bench.cpp

bench_engine_bench_LDADD = $(CORE_LIBS)

# The offline tool's command-line contract. The independent proof of convert
# mode (tests/e2e/check_convert.py: mp4box.js from npm and ffmpeg judge
# dashpiff-patch's output) needs the npm registry, so scripts/test.sh runs it
# rather than `make check` (which also runs inside package builds).
TESTS += tests/e2e/check_patch_tool.sh
EXTRA_DIST += tests/e2e/check_convert.py tests/e2e/check_patch_tool.sh tests/node/cenc_view.mjs tests/node/package.json \
	tests/node/package-lock.json tests/fuzz/fuzz_segment.cpp tests/fuzz/run-fuzz.sh

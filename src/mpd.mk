# MPD rewriter: Xerces-C DOM, hardened parse, URL rewriting, cenc descriptors.
src_libdashpiff_a_SOURCES += \
	src/mpd_rewriter.cpp src/mpd_rewriter.h \
	src/mpd_dom.cpp src/mpd_dom.h \
	src/mpd_prolog.cpp src/mpd_prolog.h \
	src/mpd_protection.cpp src/mpd_protection.h \
	src/mpd_urls.cpp src/mpd_urls.h

check_PROGRAMS += tests/unit/test_mpd
TESTS += tests/unit/test_mpd
tests_unit_test_mpd_SOURCES = tests/unit/test_mpd.cpp tests/unit/test_mpd_hostile.cpp tests/unit/test_mpd_units.cpp \
	tests/unit/test_mpd_corpus.cpp \
	tests/unit/mpd_player_model.cpp tests/unit/mpd_player_model.h
tests_unit_test_mpd_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_mpd_LDADD = $(TEST_LIBS)

# Rewrite cost against a plain Xerces-C parse + serialise of a ~1 MB live MPD
# (issue: under 3x). A timing, so a benchmark (bench/run.sh runs it), not a
# test: on a shared machine a ratio is noise-prone. `make bench/mpd_bench`.
EXTRA_PROGRAMS += bench/mpd_bench
bench_mpd_bench_SOURCES = bench/mpd_bench.cpp
bench_mpd_bench_LDADD = $(CORE_LIBS)

# Corpus, fuzz target and its runner (tests/fuzz/run-fuzz-mpd.sh SECONDS).
EXTRA_DIST += tests/data/mpd tests/fuzz/fuzz_mpd.cpp tests/fuzz/mpd.dict
dist_noinst_SCRIPTS += tests/fuzz/run-fuzz-mpd.sh

# mpd: the manifest rewriter (Xerces-C DOM, hardened parse, URL rewriting,
# cenc descriptors). Knows nothing of HTTP transport or FastCGI.
noinst_LIBRARIES += src/mpd/libmpd.a
src_mpd_libmpd_a_CPPFLAGS = $(AM_CPPFLAGS) $(XERCES_CFLAGS)
src_mpd_libmpd_a_SOURCES = \
	src/mpd/error.h \
	src/mpd/rewriter.cpp src/mpd/rewriter.h \
	src/mpd/dom.cpp src/mpd/dom.h \
	src/mpd/prolog.cpp src/mpd/prolog.h \
	src/mpd/prescan.cpp src/mpd/prescan.h \
	src/mpd/protection.cpp src/mpd/protection.h \
	src/mpd/urls.cpp src/mpd/urls.h \
	src/mpd/segment_index.cpp src/mpd/segment_index.h \
	src/mpd/on_demand.cpp src/mpd/on_demand.h

check_PROGRAMS += tests/unit/test_mpd
TESTS += tests/unit/test_mpd
tests_unit_test_mpd_SOURCES = tests/unit/test_mpd.cpp tests/unit/test_mpd_hostile.cpp tests/unit/test_mpd_units.cpp \
	tests/unit/test_mpd_corpus.cpp tests/unit/test_mpd_prescan.cpp tests/unit/test_on_demand.cpp \
	tests/unit/mpd_player_model.cpp tests/unit/mpd_player_model.h
tests_unit_test_mpd_CPPFLAGS = $(TEST_CPPFLAGS) $(XERCES_CFLAGS)
tests_unit_test_mpd_LDADD = $(MPD_LIBS) $(TEST_LDFLAGS) $(BOOST_TEST_LIB)

# Rewrite cost against a plain Xerces-C parse + serialise of a ~1 MB live MPD
# (issue: under 3x). A timing, so a benchmark (bench/run.sh runs it), not a
# test: on a shared machine a ratio is noise-prone. `make bench/mpd_bench`.
EXTRA_PROGRAMS += bench/mpd_bench
bench_mpd_bench_SOURCES = bench/mpd_bench.cpp
bench_mpd_bench_CPPFLAGS = $(AM_CPPFLAGS) $(XERCES_CFLAGS)
bench_mpd_bench_LDADD = $(MPD_LIBS)

# Corpus, fuzz target and its runner (tests/fuzz/run-fuzz-mpd.sh SECONDS).
EXTRA_DIST += tests/data/mpd tests/fuzz/fuzz_mpd.cpp tests/fuzz/fuzz_mpd_prescan.cpp tests/fuzz/mpd.dict
dist_noinst_SCRIPTS += tests/fuzz/run-fuzz-mpd.sh

# mss: Smooth Streaming in, DASH out. The client manifest (Xerces-C, through
# mpd's hardened parse), the MPD written for it, init segments synthesised
# from it and the fragment rewrite (tfxd -> tfdt, tfrf dropped, track ID);
# PIFF -> CENC stays the piff engine's. Knows nothing of HTTP transport.
noinst_LIBRARIES += src/mss/libmss.a
src_mss_libmss_a_CPPFLAGS = $(AM_CPPFLAGS) $(XERCES_CFLAGS)
src_mss_libmss_a_SOURCES = \
	src/mss/manifest.cpp src/mss/manifest.h \
	src/mss/codec.cpp src/mss/codec.h \
	src/mss/init_segment.cpp src/mss/init_segment.h \
	src/mss/fragment.cpp src/mss/fragment.h \
	src/mss/mpd_writer.cpp src/mss/mpd_writer.h

MSS_LIBS = src/mss/libmss.a src/mpd/libmpd.a src/bmff/libbmff.a src/http/libhttp.a $(UTIL_LIBS) $(XERCES_LIBS)

check_PROGRAMS += tests/unit/test_mss
TESTS += tests/unit/test_mss
tests_unit_test_mss_SOURCES = tests/unit/test_mss.cpp
tests_unit_test_mss_CPPFLAGS = $(TEST_CPPFLAGS) $(XERCES_CFLAGS)
tests_unit_test_mss_LDADD = src/piff/libpiff.a $(MSS_LIBS) $(TEST_LDFLAGS) $(BOOST_TEST_LIB)

# Fuzz target and its runner (tests/fuzz/run-fuzz-mss.sh SECONDS; run-all.sh runs it).
EXTRA_DIST += tests/fuzz/fuzz_mss.cpp
dist_noinst_SCRIPTS += tests/fuzz/run-fuzz-mss.sh

# origin: the libcurl client with the SSRF guard and the address classifier.
noinst_LIBRARIES += src/origin/liborigin.a
src_origin_liborigin_a_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_origin_liborigin_a_SOURCES = \
	src/origin/address_policy.cpp src/origin/address_policy.h \
	src/origin/client.cpp src/origin/client.h

check_PROGRAMS += tests/unit/test_origin
TESTS += tests/unit/test_origin
tests_unit_test_origin_SOURCES = \
	tests/unit/test_origin_main.cpp \
	tests/unit/test_origin_address.cpp \
	tests/unit/test_origin_client.cpp
tests_unit_test_origin_CPPFLAGS = $(TEST_CPPFLAGS) $(CURL_CFLAGS) $(ZLIB_CFLAGS)
# zlib only for the test's own gzip origin; the client lets libcurl inflate.
tests_unit_test_origin_LDADD = $(ORIGIN_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS) $(TEST_LDFLAGS) $(BOOST_TEST_LIB)

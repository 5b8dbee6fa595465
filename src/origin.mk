# Origin: libcurl client with the SSRF guard, address classifier, configuration.
src_libdashpiff_a_SOURCES += \
	src/address_policy.cpp src/address_policy.h \
	src/origin_client.cpp src/origin_client.h \
	src/config.cpp src/config.h

# The sample configuration, installed as /etc/dashpiff/dashpiff.conf by the package.
EXTRA_DIST += etc/dashpiff.conf

check_PROGRAMS += tests/unit/test_origin
TESTS += tests/unit/test_origin
tests_unit_test_origin_SOURCES = \
	tests/unit/test_origin_main.cpp \
	tests/unit/test_origin_address.cpp \
	tests/unit/test_origin_client.cpp \
	tests/unit/test_origin_config.cpp
tests_unit_test_origin_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_origin_LDADD = $(TEST_LIBS)

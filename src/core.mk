# Core: URL codec, RFC 3986, HTTP types, metrics, logging, request router.
src_libdashpiff_a_SOURCES += \
	src/url_codec.cpp src/url_codec.h \
	src/uri.cpp src/uri.h \
	src/http.cpp src/http.h

check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.cpp tests/unit/test_router.cpp tests/unit/test_rewrite_cache.cpp
tests_unit_test_core_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_core_LDADD = $(TEST_LIBS)
src_libdashpiff_a_SOURCES += \
	src/log.cpp src/log.h \
	src/metrics.cpp src/metrics.h \
	src/router.cpp src/router.h src/route_context.h \
	src/create_handler.cpp src/proxy_handlers.cpp \
	src/rewrite_cache.cpp src/rewrite_cache.h

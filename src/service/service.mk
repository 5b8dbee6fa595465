# service: what the proxy does with a request, whatever carries it. The router,
# one handler per route, the manifest rewrite cache, the counters, the log and
# the configuration (the Config struct and its settings table). No FastCGI.
noinst_LIBRARIES += src/service/libservice.a
src_service_libservice_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/src $(XERCES_CFLAGS) $(CURL_CFLAGS)
src_service_libservice_a_SOURCES = \
	src/service/config.cpp src/service/config.h \
	src/service/settings.cpp src/service/settings.h \
	src/service/log.cpp src/service/log.h \
	src/service/metrics.cpp src/service/metrics.h \
	src/service/route.cpp src/service/route.h \
	src/service/router.cpp src/service/router.h src/service/route_context.h \
	src/service/origin_proxy.cpp src/service/origin_proxy.h \
	src/service/create_handler.cpp src/service/manifest_handler.cpp src/service/smooth_handler.cpp src/service/media_handler.cpp \
	src/service/subsegment.cpp \
	src/service/media_transfer.h \
	src/service/inspect_handler.cpp \
	src/service/rewrite_cache.cpp src/service/rewrite_cache.h \
	src/service/inert.cpp src/service/inert.h \
	src/service/validators.cpp src/service/validators.h \
	src/service/build_info.cpp src/service/build_info.h
nodist_src_service_libservice_a_SOURCES = src/service/build_commit.h

# The commit the build comes from (build_info.h): git's in a checkout, else a
# .commit file a source copy carries (scripts/package-test.sh writes one),
# else "unknown". Rewritten only when it changes, so nothing rebuilds for it.
BUILT_SOURCES = src/service/build_commit.h
CLEANFILES = src/service/build_commit.h
src/service/build_commit.h: dashpiff-commit-check
	@mkdir -p src/service; \
	c=$$(git -C $(top_srcdir) rev-parse --short=12 HEAD 2>/dev/null || cat $(top_srcdir)/.commit 2>/dev/null || echo unknown); \
	c=$$(printf '%s' "$$c" | tr -cd '0-9a-zA-Z._-' | cut -c1-40); \
	printf '#define DASHPIFF_COMMIT "%s"\n' "$$c" >$@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
.PHONY: dashpiff-commit-check
dashpiff-commit-check:

# The sample configuration, installed as /etc/dashpiff/dashpiff.conf by the package.
EXTRA_DIST += etc/dashpiff.conf

check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.cpp tests/unit/test_router.cpp tests/unit/test_rewrite_cache.cpp \
	tests/unit/test_validators.cpp
tests_unit_test_core_CPPFLAGS = $(TEST_CPPFLAGS) $(XERCES_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_core_LDADD = $(SERVICE_LIBS) $(BOOST_TEST_LIB)

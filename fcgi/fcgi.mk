# FastCGI front end: translates between libfcgi and the router, and runs the
# worker pool (supervisor) around it.
sbin_PROGRAMS += fcgi/dashpiff-fcgi
fcgi_dashpiff_fcgi_SOURCES = \
	fcgi/main.cpp \
	fcgi/options.cpp fcgi/options.h \
	fcgi/supervisor.cpp fcgi/supervisor.h \
	fcgi/signal_pipe.cpp fcgi/signal_pipe.h \
	fcgi/unique_fd.h \
	fcgi/worker.cpp fcgi/worker.h \
	fcgi/event_loop.cpp fcgi/event_loop.h \
	fcgi/shared_metrics.cpp fcgi/shared_metrics.h \
	fcgi/fcgi_adapter.cpp fcgi/fcgi_adapter.h
fcgi_dashpiff_fcgi_CPPFLAGS = $(AM_CPPFLAGS) $(FCGI_CFLAGS)
fcgi_dashpiff_fcgi_LDADD = $(SERVICE_LIBS) $(FCGI_LIBS) $(BOOST_PROGRAM_OPTIONS_LIB)

# The command line, the configuration file and --help (Boost.Program_options
# over the pool's and the service's settings tables).
check_PROGRAMS += tests/unit/test_options
TESTS += tests/unit/test_options
tests_unit_test_options_SOURCES = tests/unit/test_config.cpp fcgi/options.cpp fcgi/options.h
tests_unit_test_options_CPPFLAGS = $(TEST_CPPFLAGS) $(XERCES_CFLAGS) $(CURL_CFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_options_LDADD = $(SERVICE_LIBS) $(BOOST_PROGRAM_OPTIONS_LIB) $(BOOST_TEST_LIB)

# The supervisor with fake workers (no FastCGI): restart, reload order,
# shutdown deadline, orphans.
check_PROGRAMS += tests/unit/test_supervisor
TESTS += tests/unit/test_supervisor
tests_unit_test_supervisor_SOURCES = tests/unit/test_supervisor.cpp \
	fcgi/shared_metrics.cpp fcgi/shared_metrics.h \
	fcgi/supervisor.cpp fcgi/supervisor.h \
	fcgi/signal_pipe.cpp fcgi/signal_pipe.h fcgi/unique_fd.h
tests_unit_test_supervisor_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_supervisor_LDADD = $(SERVICE_LIBS) $(BOOST_TEST_LIB)

# The FastCGI sink over a socket pair: record framing, batching, buffer reuse.
check_PROGRAMS += tests/unit/test_fcgi_sink
TESTS += tests/unit/test_fcgi_sink
tests_unit_test_fcgi_sink_SOURCES = tests/unit/test_fcgi_sink.cpp fcgi/fcgi_adapter.cpp fcgi/fcgi_adapter.h
tests_unit_test_fcgi_sink_CPPFLAGS = $(TEST_CPPFLAGS) $(FCGI_CFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_fcgi_sink_LDADD = $(SERVICE_LIBS) $(FCGI_LIBS) $(BOOST_TEST_LIB)

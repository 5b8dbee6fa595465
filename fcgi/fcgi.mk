# FastCGI front end: translates between libfcgi and the router, and runs the
# worker pool (supervisor) around it.
sbin_PROGRAMS += fcgi/dashpiff-fcgi
fcgi_dashpiff_fcgi_SOURCES = \
	fcgi/main.cpp \
	fcgi/supervisor.cpp fcgi/supervisor.h \
	fcgi/signal_pipe.cpp fcgi/signal_pipe.h \
	fcgi/unique_fd.h \
	fcgi/worker.cpp fcgi/worker.h \
	fcgi/fcgi_sink.cpp fcgi/fcgi_sink.h
fcgi_dashpiff_fcgi_LDADD = $(CORE_LIBS) $(FCGI_LIBS)

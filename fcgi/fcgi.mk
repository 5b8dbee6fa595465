# FastCGI front end: translates between libfcgi and the router, nothing more.
sbin_PROGRAMS += fcgi/dashpiff-fcgi
fcgi_dashpiff_fcgi_SOURCES = \
	fcgi/main.cpp \
	fcgi/worker.cpp fcgi/worker.h \
	fcgi/fcgi_sink.cpp fcgi/fcgi_sink.h
fcgi_dashpiff_fcgi_LDADD = $(CORE_LIBS) $(FCGI_LIBS)

# http: request/response types, RFC 3986 references, the proxy URL codec.
noinst_LIBRARIES += src/http/libhttp.a
src_http_libhttp_a_SOURCES = \
	src/http/message.cpp src/http/message.h \
	src/http/uri.cpp src/http/uri.h \
	src/http/url_codec.cpp src/http/url_codec.h \
	src/http/byte_span.cpp src/http/byte_span.h

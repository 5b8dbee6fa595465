# util: string helpers every module shares. Depends on nothing.
noinst_LIBRARIES += src/util/libutil.a
src_util_libutil_a_SOURCES = src/util/strings.cpp src/util/strings.h

# bmff: the ISO BMFF box walker, field I/O and box structs. Knows nothing of
# PIFF policy, HTTP or manifests. Its tests live with the engine's (piff.mk).
noinst_LIBRARIES += src/bmff/libbmff.a
src_bmff_libbmff_a_SOURCES = \
	src/bmff/box.cpp src/bmff/box.h \
	src/bmff/fields.cpp src/bmff/fields.h

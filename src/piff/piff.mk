# piff: the segment engine. PIFF modes, moof/init rewrites (neutralise or
# convert to CENC), the streaming segment patcher and the box dump.
noinst_LIBRARIES += src/piff/libpiff.a
src_piff_libpiff_a_SOURCES = \
	src/piff/mode.cpp src/piff/mode.h \
	src/piff/convert.cpp src/piff/convert.h \
	src/piff/edit_plan.cpp src/piff/edit_plan.h \
	src/piff/relocation.cpp src/piff/relocation.h \
	src/piff/moof_plan.cpp src/piff/moof_plan.h \
	src/piff/init_plan.cpp src/piff/init_plan.h \
	src/piff/pssh_plan.cpp src/piff/pssh_plan.h \
	src/piff/segment_patcher.cpp src/piff/segment_patcher.h src/piff/size_policy.h \
	src/piff/box_decision.cpp src/piff/box_decision.h \
	src/piff/dump.cpp src/piff/dump.h

# Links only the engine's own layers: a call from bmff/piff into any module
# above them fails here.
check_PROGRAMS += tests/unit/test_bmff
TESTS += tests/unit/test_bmff
tests_unit_test_bmff_SOURCES = tests/unit/test_bmff.cpp tests/unit/test_bmff_fixtures.cpp \
	tests/unit/test_bmff_fields.cpp tests/unit/test_relocation.cpp tests/unit/test_box_decision.cpp tests/unit/test_size_policy.cpp \
	tests/unit/bmff_builder.h tests/unit/bmff_test_support.h
tests_unit_test_bmff_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_bmff_LDADD = $(PIFF_LIBS) $(TEST_LDFLAGS) $(BOOST_TEST_LIB)

# Its own program: it replaces the global allocator to measure the engine.
check_PROGRAMS += tests/unit/test_engine_budget
TESTS += tests/unit/test_engine_budget
tests_unit_test_engine_budget_SOURCES = tests/unit/test_engine_budget.cpp \
	tests/unit/bmff_builder.h tests/unit/bmff_test_support.h
tests_unit_test_engine_budget_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_engine_budget_LDADD = $(PIFF_LIBS) $(TEST_LDFLAGS) $(BOOST_TEST_LIB)

# Not built by default: `make bench/engine_bench && bench/engine_bench`.
EXTRA_PROGRAMS += bench/engine_bench
bench_engine_bench_SOURCES = bench/engine_bench.cpp
bench_engine_bench_LDADD = $(PIFF_LIBS)

EXTRA_DIST += tests/fuzz/fuzz_segment.cpp tests/fuzz/fuzz_boxes.cpp tests/fuzz/run-fuzz.sh \
	tests/fuzz/make-seeds.py tests/fuzz/campaign.sh

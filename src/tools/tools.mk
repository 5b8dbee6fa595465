# dashpiff-patch: the segment engine on files, for operators and tests.
bin_PROGRAMS += src/tools/dashpiff-patch
src_tools_dashpiff_patch_SOURCES = src/tools/dashpiff-patch.cpp
src_tools_dashpiff_patch_LDADD = $(PIFF_LIBS)

# The offline tool's command-line contract. The independent proof of convert
# mode (tests/e2e/check_convert.py: mp4box.js from npm and ffmpeg judge
# dashpiff-patch's output) needs the npm registry, so scripts/test.sh runs it
# rather than `make check` (which also runs inside package builds).
TESTS += tests/e2e/check_patch_tool.sh
EXTRA_DIST += tests/e2e/check_convert.py tests/e2e/check_patch_tool.sh tests/node/cenc_view.mjs tests/node/package.json \
	tests/node/package-lock.json

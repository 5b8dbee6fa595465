// What this build is: the package version (configure.ac) and the source
// commit, for `dashpiff-fcgi --version` and dashpiff_build_info in /metrics,
// so that an operator can tell which build each instance of a fleet runs.
#pragma once

namespace dashpiff {

struct BuildInfo {
  const char* version;
  const char* commit;  // short git hash, or "unknown" for a source copy without one
};

const BuildInfo& build_info();

}  // namespace dashpiff

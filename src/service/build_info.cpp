#include "service/build_info.h"

// Generated at build time by src/service/service.mk (DASHPIFF_COMMIT).
#include "service/build_commit.h"

namespace dashpiff {

const BuildInfo& build_info() {
#ifdef PACKAGE_VERSION
  static const BuildInfo info{PACKAGE_VERSION, DASHPIFF_COMMIT};
#else
  static const BuildInfo info{"unknown", DASHPIFF_COMMIT};
#endif
  return info;
}

}  // namespace dashpiff

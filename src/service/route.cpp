#include "service/route.h"

namespace dashpiff {

const char* to_string(Route r) {
  switch (r) {
    case Route::create: return "create";
    case Route::mpd: return "mpd";
    case Route::media: return "media";
    case Route::mss_init: return "mss-init";
    case Route::health: return "healthz";
    case Route::metrics: return "metrics";
    case Route::player: return "player";
    case Route::preflight: return "preflight";
    case Route::other: return "other";
    case Route::count_: break;
  }
  return "other";
}

}  // namespace dashpiff

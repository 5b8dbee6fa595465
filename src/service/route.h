// The routes the service answers, as counted in /metrics and chosen by the
// router. Its own header so that the counters and the router share the names
// without one owning the other's type.
#pragma once

namespace dashpiff {

enum class Route { create, mpd, media, mss_init, health, metrics, player, preflight, other, count_ };
const char* to_string(Route r);

}  // namespace dashpiff

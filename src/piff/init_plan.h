// The plan for an init segment's moov in convert and auto modes: the PIFF
// protection boxes of each track (SPEC §3) become their CENC counterparts.
#pragma once

#include "piff/edit_plan.h"

namespace dashpiff {

void plan_init_segment(PlanScope& s);

}  // namespace dashpiff

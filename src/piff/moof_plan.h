// The plan for a media segment's moof (SPEC §3): neutralise or convert each
// traf's PIFF sample encryption, and its PIFF pssh.
#pragma once

#include <string>
#include <vector>

#include "piff/edit_plan.h"

namespace dashpiff {

// Plans the rewrite of the moof `s.root`. When the plan changes the moof's
// size, `fields` receives the offsets inside it that must follow the edits;
// false (and `error`) when one of them cannot be read.
bool plan_moof(PlanScope& s, std::vector<OffsetField>& fields, std::string& error);

}  // namespace dashpiff

// PIFF's ProtectionSystemSpecificHeaderBox, in a moov or (PIFF allows it) a
// moof: the one planner both init_plan and moof_plan call.
#pragma once

#include <string>

#include "piff/edit_plan.h"

namespace dashpiff {

// PIFF pssh among the children of `n` (moov or moof): neutralised where a
// CENC pssh for the same system exists beside it, converted otherwise.
void plan_pssh_children(PlanScope& s, const bmff::Node& n, const std::string& where);

}  // namespace dashpiff

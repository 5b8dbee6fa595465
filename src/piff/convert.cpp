// The rewrite of one held box, one job per step: parse its tree, let the
// planner for its kind (moof_plan, init_plan) decide every edit, then apply
// the plan with everything that measures bytes following it (edit_plan).
#include "piff/convert.h"

#include "bmff/box.h"
#include "piff/edit_plan.h"
#include "piff/init_plan.h"
#include "piff/moof_plan.h"

namespace dashpiff {

using namespace bmff;

RewriteOutcome rewrite_held_box(std::vector<std::uint8_t>& box, const RewriteContext& ctx) {
  RewriteOutcome out;
  if (ctx.mode == PiffMode::off) return out;
  const std::string top =
      fourcc_text(box.size() >= 8 ? load_u32(box.data() + 4) : 0) + "#" + std::to_string(ctx.index);
  std::string error;
  const auto tree = parse_tree(box.data(), box.size(), error);
  if (!tree) {
    out.malformed = true;
    out.malformed_reason = top + ": " + error;
    return out;
  }
  EditPlan plan;
  PlanScope scope{box, *tree, ctx, plan, out, top};
  std::vector<OffsetField> fields;
  bool planned = true;
  const FourCC type = tree->box.header.type;
  if (type == fourcc("moof")) {
    planned = plan_moof(scope, fields, error);
  } else if (type == fourcc("moov") && scope.converting()) {
    plan_init_segment(scope);
  }
  if (plan.empty()) return out;

  // Either every planned change is made or none is.
  const auto discard = [&out](std::string why) {
    out.changes.clear();
    out.neutralised = out.converted = 0;
    out.refusals.push_back(std::move(why));
  };
  if (!plan.settle()) {
    discard(top + ": internal error: overlapping rewrites; box left unchanged");
    return out;
  }
  if (!planned || !apply_plan(box, *tree, plan, fields, out.size_delta, error)) {
    discard(top + ": size-changing rewrite abandoned: " + error);
    return out;
  }
  out.changed = true;
  return out;
}

}  // namespace dashpiff

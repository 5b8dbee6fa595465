#include "piff/pssh_plan.h"

#include <algorithm>

namespace dashpiff {

using namespace bmff;

// PIFF pssh among the children of `n` (moov or moof): neutralised where a
// CENC pssh for the same system exists beside it, converted otherwise.
void plan_pssh_children(PlanScope& s, const Node& n, const std::string& where) {
  std::vector<Uuid> cenc_systems;
  for (const Node* c : n.children_of(fourcc("pssh")))
    if (const auto p = read_fields<Pssh>(s.data(), c->box)) cenc_systems.push_back(p->system_id);
  for (const Node& c : n.children) {
    if (c.box.header.uuid_kind() != UuidKind::piff_pssh) continue;
    Pssh p;
    FieldReader r(s.data() + c.box.payload_offset(), c.box.payload_size());
    if (!p.io(r) || r.remaining() != 0 || p.full.version != 0) {
      s.refuse(where, "PIFF pssh", "its fields do not parse");
      continue;
    }
    if (std::find(cenc_systems.begin(), cenc_systems.end(), p.system_id) != cenc_systems.end()) {
      s.neutralise(c.box, where + ": PIFF pssh -> free (pssh for the same system present)");
      continue;
    }
    s.convert_in_place(c.box, p, where, "PIFF pssh", where + ": PIFF pssh -> pssh");
  }
}

}  // namespace dashpiff

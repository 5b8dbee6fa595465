#include "piff/edit_plan.h"

#include <algorithm>

namespace dashpiff {

using namespace bmff;

namespace {

// Every container's size field, as an offset field spanning the container.
void container_sizes(const Node& n, std::vector<OffsetField>& out) {
  if (!n.container) return;
  const BoxHeader& h = n.box.header;
  if (h.form != SizeForm::to_end) {  // a to_end box still runs to its parent's end
    OffsetField f;
    f.position = h.form == SizeForm::large ? n.box.offset + 8 : n.box.offset;
    f.width = h.form == SizeForm::large ? 8 : 4;
    f.bits = f.width * 8;
    f.from = n.box.offset;
    f.value = n.box.size;
    f.box = h.type;
    f.what = "size";
    out.push_back(std::move(f));
  }
  for (const Node& c : n.children) container_sizes(c, out);
}

}  // namespace

bool EditPlan::resizes() const {
  return std::any_of(edits_.begin(), edits_.end(), [](const Edit& e) { return e.delta() != 0; });
}

bool EditPlan::settle() {
  std::stable_sort(edits_.begin(), edits_.end(),
                   [](const Edit& a, const Edit& b) { return a.offset < b.offset; });
  for (std::size_t i = 1; i < edits_.size(); ++i)
    if (edits_[i - 1].offset + edits_[i - 1].length > edits_[i].offset) return false;
  return true;
}

void PlanScope::neutralise(const Box& b, const std::string& text) {
  plan.add(rename_box(b, fourcc("free")));
  ++out.neutralised;
  change(text);
}

Edit rename_box(const Box& b, FourCC type) {
  Edit e;
  e.offset = b.offset + 4;
  e.length = 4;
  e.bytes.resize(4);
  store_u32(e.bytes.data(), type);
  return e;
}

Edit replace_usertype(const Box& b, const Uuid& id) {
  Edit e;
  e.offset = b.offset + b.header.header_size - 16;
  e.length = 16;
  e.bytes.assign(id.begin(), id.end());
  return e;
}

bool apply_plan(std::vector<std::uint8_t>& box, const Node& root, const EditPlan& plan,
                const std::vector<OffsetField>& fields, std::int64_t& delta, std::string& error) {
  const std::vector<Edit>& edits = plan.edits();
  Relocation moves;
  for (const Edit& e : edits) moves.add(e.offset, e.length, e.bytes.size());

  // Every value and its new place, checked before a byte is written.
  std::vector<FieldUpdate> updates;
  if (moves.resizes()) {
    const auto new_end = moves.map(box.size());
    if (!new_end || *new_end > 0x7fffffffu) {
      error = "rewritten " + fourcc_text(root.box.header.type) + " too large";
      return false;
    }
    std::vector<OffsetField> all;
    container_sizes(root, all);
    all.insert(all.end(), fields.begin(), fields.end());
    updates.reserve(all.size());
    for (const OffsetField& f : all) {
      FieldUpdate u;
      if (!relocate(f, moves, u, error)) return false;
      const auto at = moves.map(f.position);
      if (!at) {
        error = f.name() + " lies inside a rewritten box";
        return false;
      }
      u.position = *at;
      updates.push_back(u);
    }
  }

  std::vector<std::uint8_t> result;
  delta = moves.delta();
  result.reserve(static_cast<std::size_t>(std::int64_t(box.size()) + delta));
  std::size_t pos = 0;
  for (const Edit& e : edits) {
    result.insert(result.end(), box.begin() + pos, box.begin() + e.offset);
    const std::size_t at = result.size();
    result.insert(result.end(), e.bytes.begin(), e.bytes.end());
    for (const Edit::SelfRef& r : e.self_refs)
      store_u32(result.data() + at + r.field_at, static_cast<std::uint32_t>(at + r.target_at));
    pos = e.offset + e.length;
  }
  result.insert(result.end(), box.begin() + pos, box.end());
  for (const FieldUpdate& u : updates) store_field(result.data() + u.position, u);
  box.swap(result);
  return true;
}

}  // namespace dashpiff

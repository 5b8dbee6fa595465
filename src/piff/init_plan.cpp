#include "piff/init_plan.h"

#include "piff/pssh_plan.h"

namespace dashpiff {

using namespace bmff;

namespace {

// SPEC §3, init segments: PIFF tenc -> tenc, schm 'piff' -> 'cenc'/'cbc1',
// PIFF pssh -> pssh (each neutralised where its CENC twin is present).
class InitPlanner {
 public:
  explicit InitPlanner(PlanScope& s) : s_(s) {}


  void plan_init(const Node& n, const std::string& where, std::size_t trak_index) {
    if (n.box.header.type == fourcc("moov") || n.box.header.type == fourcc("moof"))
      plan_pssh_children(s_, n, where);
    if (n.box.header.type == fourcc("sinf")) {
      plan_sinf(n, where);
      return;
    }
    std::size_t trak = 0;
    for (const Node& c : n.children) {
      if (!c.container) continue;
      if (c.box.header.type == fourcc("trak")) {
        ++trak;
        plan_init(c, where + " trak#" + std::to_string(trak), trak);
      } else {
        plan_init(c, where, trak_index);
      }
    }
  }

  void plan_sinf(const Node& sinf, const std::string& where) {
    const Node* schi = sinf.child(fourcc("schi"));
    std::uint32_t algorithm = 1;
    if (schi) {
      const bool has_tenc = schi->child(fourcc("tenc")) != nullptr;
      for (const Node& c : schi->children) {
        if (c.box.header.uuid_kind() != UuidKind::piff_track_encryption) continue;
        const auto pt = read_fields<PiffTenc>(s_.data(), c.box);
        if (!pt || c.box.payload_size() != 24) {
          s_.refuse(where, "PIFF tenc", "its fields do not parse");
          continue;
        }
        algorithm = pt->algorithm_id;
        if (has_tenc) {
          s_.neutralise(c.box, where + ": PIFF tenc -> free (tenc present)");
          continue;
        }
        if (pt->algorithm_id > 2) {
          s_.refuse(where, "PIFF tenc", "unknown AlgorithmID " + std::to_string(pt->algorithm_id));
          continue;
        }
        if (pt->iv_size != 0 && pt->iv_size != 8 && pt->iv_size != 16) {
          s_.refuse(where, "PIFF tenc", "IV size " + std::to_string(pt->iv_size) + " is not 0, 8 or 16");
          continue;
        }
        Tenc t;
        t.is_protected = pt->algorithm_id != 0 ? 1 : 0;
        t.iv_size = pt->iv_size;
        t.kid = pt->kid;
        if (t.is_protected && t.iv_size == 0) {
          s_.refuse(where, "PIFF tenc", "protected with IV size 0 (no constant IV in PIFF)");
          continue;
        }
        s_.convert_in_place(c.box, t, where, "PIFF tenc",
                            where + ": PIFF tenc -> tenc (IV " + std::to_string(t.iv_size) + " bytes)");
      }
    }
    if (const Node* schm = sinf.child(fourcc("schm"))) {
      auto fields = read_fields<Schm>(s_.data(), schm->box);
      if (fields && fields->scheme_type == fourcc("piff")) {
        // The same description written back with the CENC scheme: same size.
        fields->scheme_type = algorithm == 2 ? fourcc("cbc1") : fourcc("cenc");
        fields->scheme_version = 0x00010000;
        Edit e;
        e.offset = schm->box.payload_offset();
        e.length = schm->box.payload_size();
        FieldWriter w(e.bytes);
        if (!fields->io(w) || e.bytes.size() != e.length) {
          s_.refuse(where, "schm piff", "cannot be rewritten in place");
          return;
        }
        s_.plan.add(std::move(e));
        ++s_.out.converted;
        s_.change(where + ": schm piff -> " + fourcc_text(fields->scheme_type));
      }
    }
  }

 private:
  PlanScope& s_;
};

}  // namespace

void plan_init_segment(PlanScope& s) { InitPlanner(s).plan_init(s.root, s.top, 0); }

}  // namespace dashpiff

#include "piff/moof_plan.h"

#include <algorithm>

#include "piff/pssh_plan.h"

namespace dashpiff {

using namespace bmff;

namespace {

constexpr std::size_t kOverrideBytes = 20;  // AlgorithmID(24) IV_size(8) KID(128)
constexpr std::uint32_t kFragmentLocalGroup = 0x10001;  // sgpd index 1 inside this traf (§8.9.4)

// SPEC §3, media segments: each traf's PIFF SampleEncryptionBox neutralised
// (free, uuid-free, or beside CENC data in auto) or converted to
// senc(+saiz+saio)(+seig groups); PIFF pssh in the moof as in a moov.
class MoofPlanner {
 public:
  explicit MoofPlanner(PlanScope& s) : s_(s) {}

  struct Traf {
    const Node* node = nullptr;
    std::string label;
    std::uint32_t index = 0;  // 1-based
    bool first = false;
    std::optional<Tfhd> tfhd;
    std::vector<const Node*> truns;
    std::vector<const Node*> sencs, saizs, saios, piff;
    bool has_seig_group = false;

    bool moof_relative() const {
      // §8.8.7.1: default-base-is-moof, or no base at all in the first traf.
      if (!tfhd) return false;
      if (tfhd->full.flags & Tfhd::kBaseDataOffset) return false;
      return (tfhd->full.flags & Tfhd::kDefaultBaseIsMoof) || first;
    }
  };

  Traf describe_traf(const Node& n, std::size_t index) {
    Traf t;
    t.node = &n;
    t.first = index == 1;
    t.index = static_cast<std::uint32_t>(index);
    t.label = s_.top + " traf#" + std::to_string(index);
    for (const Node& c : n.children) {
      const BoxHeader& h = c.box.header;
      switch (h.type) {
        case fourcc("tfhd"): if (!t.tfhd) t.tfhd = read_fields<Tfhd>(s_.data(), c.box); break;
        case fourcc("trun"): t.truns.push_back(&c); break;
        case fourcc("senc"): t.sencs.push_back(&c); break;
        case fourcc("saiz"): t.saizs.push_back(&c); break;
        case fourcc("saio"): t.saios.push_back(&c); break;
        case fourcc("sbgp"):
        case fourcc("sgpd"): {
          const auto g = read_fields<SampleGroupHead>(s_.data(), c.box);
          if (g && g->grouping_type == fourcc("seig")) t.has_seig_group = true;
          break;
        }
        case fourcc("uuid"):
          if (h.uuid_kind() == UuidKind::piff_sample_encryption) t.piff.push_back(&c);
          break;
        default: break;
      }
    }
    return t;
  }

  void plan() {
    std::size_t index = 0;
    for (const Node& c : s_.root.children)
      if (c.box.header.type == fourcc("traf")) trafs_.push_back(describe_traf(c, ++index));
    resize_blocker_ = find_resize_blocker();

    for (Traf& t : trafs_) {
      for (const Node* p : t.piff) {
        switch (s_.ctx.mode) {
          case PiffMode::free:
            s_.neutralise(p->box, t.label + ": PIFF senc -> free");
            break;
          case PiffMode::uuid_free:
            s_.plan.add(replace_usertype(p->box, kFreeUuid));
            ++s_.out.neutralised;
            s_.change(t.label + ": PIFF senc -> uuid free");
            break;
          default: break;
        }
      }
      if (s_.converting() && !t.piff.empty()) plan_traf_conversion(t);
    }
    if (s_.converting()) plan_pssh_children(s_, s_.root, s_.top);
  }

  // Why this moof cannot change size, or empty when it can.
  std::string find_resize_blocker() const {
    if (!s_.ctx.size_blocker.empty()) return s_.ctx.size_blocker;  // the patcher's SizePolicy
    if (s_.root.box.header.form == SizeForm::to_end) return "the moof has size 0 (to end of file)";
    for (const Traf& t : trafs_) {
      if (!t.tfhd) return t.label + " has no readable tfhd";
      if (t.tfhd->full.flags & Tfhd::kBaseDataOffset)
        return t.label + " tfhd has an absolute base_data_offset";
      if (!t.moof_relative()) continue;  // its data base moves with the data
      bool first_run = true;
      for (const Node* r : t.truns) {
        const auto head = read_fields<TrunHead>(s_.data(), r->box);
        if (!head) return t.label + " has an unreadable trun";
        if (!head->has_data_offset()) {
          if (first_run) return t.label + " first trun has no data_offset";
        } else if (head->data_offset < 0 || std::uint64_t(head->data_offset) < s_.box.size()) {
          return t.label + " trun data_offset points inside the moof";
        }
        first_run = false;
      }
      for (const Node* s : t.saios) {
        const auto saio = read_fields<Saio>(s_.data(), s->box);
        if (!saio) return t.label + " has an unreadable saio";
        // ISO/IEC 14496-12 §8.7.9: one offset, or one per trun. More would
        // each be relocated, for memory and time the moof's nodes do not
        // bound (issue #12).
        if (saio->offsets.size() > 1 && saio->offsets.size() != t.truns.size())
          return t.label + " saio has " + std::to_string(saio->offsets.size()) + " offsets for " +
                 std::to_string(t.truns.size()) + " truns";
      }
    }
    return {};
  }

  struct IvChoice {
    unsigned iv_size = 0;
    bool inferred = false;
    std::vector<std::uint32_t> aux_sizes;
  };

  // SPEC §3: without the override the IV size is the track's, which a media
  // request cannot see: accept only the one size whose entries end exactly at
  // the box end (and agree with saiz when there is one).
  std::optional<IvChoice> choose_iv_size(const SampleEncryption& se, const Saiz* saiz,
                                         std::string& why) {
    if (se.has_override()) {
      IvChoice c;
      c.iv_size = se.iv_size;
      if (c.iv_size != 0 && c.iv_size != 8 && c.iv_size != 16) {
        why = "override IV_size " + std::to_string(c.iv_size) + " is not 0, 8 or 16";
        return std::nullopt;
      }
      std::string error;
      if (!measure_sample_entries(se.entries.data(), se.entries.size(), se.sample_count, c.iv_size,
                                  se.has_subsamples(), &c.aux_sizes, &error)) {
        why = "entries do not parse with the override IV_size " + std::to_string(c.iv_size) +
              ": " + error;
        return std::nullopt;
      }
      if (!saiz_agrees(saiz, c.aux_sizes)) {
        why = "saiz sizes disagree with the entries";
        return std::nullopt;
      }
      return c;
    }
    if (se.sample_count == 0) return IvChoice{8, true, {}};
    EntryLayout layout;
    switch (infer_iv_size(se, saiz, layout)) {
      case IvInference::unique: return IvChoice{layout.iv_size, true, std::move(layout.aux_sizes)};
      case IvInference::none:
        why = "entries parse with neither IV size 8 nor 16" +
              std::string(saiz ? " (checked against saiz)" : "");
        break;
      case IvInference::ambiguous: why = "IV size ambiguous: entries parse with both 8 and 16 bytes"; break;
    }
    return std::nullopt;
  }

  void plan_traf_conversion(Traf& t) {
    const bool has_senc = !t.sencs.empty();
    const bool has_aux = !t.saizs.empty() && !t.saios.empty();
    const bool neutralise = has_senc || (s_.ctx.mode == PiffMode::automatic && has_aux);
    if (neutralise) {
      for (const Node* p : t.piff) {
        s_.neutralise(p->box, t.label + ": PIFF senc -> free (" + (has_senc ? "senc" : "saiz/saio") +
               " already present)");
      }
      return;
    }
    const std::string what = "PIFF senc";
    if (t.piff.size() > 1) {
      s_.refuse(t.label, what, std::to_string(t.piff.size()) + " PIFF sample-encryption boxes in one traf");
      return;
    }
    if (t.saizs.size() > 1 || t.saios.size() > 1) {
      s_.refuse(t.label, what, "several saiz/saio boxes");
      return;
    }
    if (t.saizs.size() != t.saios.size()) {
      s_.refuse(t.label, what, t.saizs.empty() ? "saio without saiz" : "saiz without saio");
      return;
    }
    const Box& pb = t.piff.front()->box;
    auto se = read_box<SampleEncryption>(s_.data(), pb);
    if (!se) {
      s_.refuse(t.label, what, "its fields do not parse");
      return;
    }
    std::uint64_t samples = 0;
    for (const Node* r : t.truns) {
      const auto head = read_fields<TrunHead>(s_.data(), r->box);
      if (!head) {
        s_.refuse(t.label, what, "a trun does not parse");
        return;
      }
      samples += head->sample_count;
    }
    if (samples != se->sample_count) {
      s_.refuse(t.label, what, "its sample_count " + std::to_string(se->sample_count) +
                                " differs from the traf's " + std::to_string(samples) + " samples");
      return;
    }
    std::optional<Saiz> saiz;
    if (has_aux) {
      saiz = read_fields<Saiz>(s_.data(), t.saizs.front()->box);
      if (!saiz) {
        s_.refuse(t.label, what, "saiz does not parse");
        return;
      }
    }
    std::string why;
    const auto iv = choose_iv_size(*se, saiz ? &*saiz : nullptr, why);
    if (!iv) {
      s_.refuse(t.label, what, why);
      return;
    }
    if (se->has_override() && t.has_seig_group) {
      s_.refuse(t.label, what, "override fields present and the traf already has seig sample groups");
      return;
    }
    if (se->has_override() && !resize_blocker_.empty()) {
      s_.refuse(t.label, what,
             "override fields (AlgorithmID/IV_size/KID) need a seig sample group, which cannot be "
             "added: " + resize_blocker_);
      return;
    }
    if (se->has_override() && se->algorithm_id > 2) {
      s_.refuse(t.label, what, "unknown override AlgorithmID " + std::to_string(se->algorithm_id));
      return;
    }
    const std::string iv_text = "IV " + std::to_string(iv->iv_size) + " bytes" +
                                (se->has_override() ? ", from override" : ", inferred") + ", " +
                                std::to_string(se->sample_count) + " samples";
    SampleEncryption senc;
    senc.full.flags = se->full.flags & SampleEncryption::kSubsamples;
    senc.sample_count = se->sample_count;
    senc.entries = std::move(se->entries);

    std::string form;
    if (has_aux) {
      // saiz/saio already point at the IVs: keep every IV where it is.
      auto edit = filler_then_box(pb, senc, se->has_override() ? kOverrideBytes : 0);
      if (!edit) {
        s_.refuse(t.label, what, "cannot be rewritten in place");
        return;
      }
      s_.plan.add(std::move(*edit));
      form = "free+senc, size-preserving";
    } else {
      if (!resize_blocker_.empty()) {
        s_.refuse(t.label, what,
               "PIFF is the only carrier and saiz/saio cannot be added: " + resize_blocker_);
        return;
      }
      if (!t.moof_relative()) {
        s_.refuse(t.label, what, "saio would be relative to the previous traf's data, not the moof");
        return;
      }
      auto edit = full_conversion(pb, senc, iv->aux_sizes, why);
      if (!edit) {
        s_.refuse(t.label, what, why);
        return;
      }
      s_.plan.add(std::move(*edit));
      form = "senc+saiz+saio";
    }
    if (se->has_override()) {
      s_.plan.add(seig_groups(t.node->box.end(), *se));
      form += "+seig";
    }
    ++s_.out.converted;
    s_.change(t.label + ": PIFF senc -> " + form + " (" + iv_text + ")");
  }

  // [saiz][saio][senc] in place of the PIFF box.
  std::optional<Edit> full_conversion(const Box& pb, SampleEncryption& senc,
                                      const std::vector<std::uint32_t>& aux, std::string& why) {
    Saiz saiz;
    saiz.sample_count = senc.sample_count;
    const bool uniform =
        !aux.empty() && std::all_of(aux.begin(), aux.end(), [&](std::uint32_t s) { return s == aux[0]; });
    for (std::uint32_t s : aux) {
      if (s > 255) {
        why = "a sample's auxiliary information is " + std::to_string(s) +
              " bytes, more than saiz can express";
        return std::nullopt;
      }
    }
    if (uniform && aux[0] != 0) {
      saiz.default_sample_info_size = static_cast<std::uint8_t>(aux[0]);
    } else {
      for (std::uint32_t s : aux) saiz.sample_info_sizes.push_back(static_cast<std::uint8_t>(s));
    }
    Saio saio;
    saio.offsets.push_back(0);  // filled in once the layout is final

    Edit e;
    e.offset = pb.offset;
    e.length = pb.size;
    const std::size_t saiz_size = write_box(e.bytes, saiz);
    const std::size_t saio_at = e.bytes.size();
    const std::size_t saio_size = write_box(e.bytes, saio);
    const std::size_t senc_at = e.bytes.size();
    if (!saiz_size || !saio_size || !write_box(e.bytes, senc)) {
      why = "converted boxes too large";
      return std::nullopt;
    }
    // The saio's one offset holds the position of the senc's first entry:
    // both places come from the descriptions, located over what was written.
    const std::size_t header = 8;  // write_box writes compact headers
    FieldLocator saio_at_fields(e.bytes.data() + saio_at + header, saio_size - header);
    FieldLocator senc_at_fields(e.bytes.data() + senc_at + header, e.bytes.size() - senc_at - header);
    Saio written_saio;
    SampleEncryption written_senc;
    if (!written_saio.io(saio_at_fields) || !written_senc.io(senc_at_fields)) {
      why = "converted boxes do not read back";
      return std::nullopt;
    }
    const auto field = saio_at_fields.where(written_saio.offsets[0]);
    const auto target = senc_at_fields.where(written_senc.entries);
    e.self_refs.push_back({saio_at + header + field->position, senc_at + header + target->position});
    return e;
  }

  // ISO/IEC 23001-7 §6: per-fragment encryption parameters that differ from
  // the track's are a 'seig' sample group. The track defaults live in the
  // init segment, which a media request never sees, so the override is always
  // expressed; where it matches the defaults it is redundant but correct.
  Edit seig_groups(std::size_t at, const SampleEncryption& se) {
    Edit e;
    e.offset = at;
    e.length = 0;
    SbgpOneRun sbgp;
    sbgp.sample_count = se.sample_count;
    sbgp.group_description_index = kFragmentLocalGroup;
    write_box(e.bytes, sbgp);
    SgpdSeig sgpd;
    sgpd.is_protected = se.algorithm_id != 0 ? 1 : 0;
    sgpd.iv_size = se.iv_size;
    sgpd.kid = se.kid;
    write_box(e.bytes, sgpd);
    return e;
  }

  // ISO/IEC 14496-12 §8.8.8, §8.7.9: in a moof-relative traf, trun
  // data_offsets and saio offsets count from the moof's first byte, so they
  // follow every edit; located through the descriptions.
  bool offset_fields(std::vector<OffsetField>& out, std::string& error) const {
    for (const Traf& t : trafs_) {
      if (!t.moof_relative()) continue;
      for (const Node* r : t.truns) {
        TrunHead head;
        FieldLocator at(s_.data() + r->box.payload_offset(), r->box.payload_size());
        if (!head.io(at) || !head.has_data_offset()) continue;
        OffsetField f;
        f.position = r->box.payload_offset() + at.where(head.data_offset)->position;
        f.bits = 31;  // a signed field that stays positive
        f.value = static_cast<std::uint64_t>(head.data_offset);
        f.traf = t.index;
        f.what = "trun data_offset";
        if (head.data_offset < 0) {
          error = f.name() + " out of range after the rewrite";
          return false;
        }
        out.push_back(std::move(f));
      }
      for (const Node* s : t.saios) {
        Saio saio;
        FieldLocator at(s_.data() + s->box.payload_offset(), s->box.payload_size());
        if (!saio.io(at)) {
          error = t.label + " saio does not parse";
          return false;
        }
        for (const std::uint64_t& offset : saio.offsets) {
          const FieldPlace place = *at.where(offset);
          OffsetField f;
          f.position = s->box.payload_offset() + place.position;
          f.width = static_cast<unsigned>(place.width);
          f.bits = f.width * 8;
          f.value = offset;
          f.traf = t.index;
          f.what = "saio offset";
          out.push_back(std::move(f));
        }
      }
    }
    return true;
  }

 private:
  PlanScope& s_;
  std::vector<Traf> trafs_;
  std::string resize_blocker_;
};

}  // namespace

bool plan_moof(PlanScope& s, std::vector<OffsetField>& fields, std::string& error) {
  MoofPlanner planner(s);
  planner.plan();
  return !s.plan.resizes() || planner.offset_fields(fields, error);
}

}  // namespace dashpiff

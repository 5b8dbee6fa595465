#include "piff/convert.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>

#include "bmff/box.h"
#include "bmff/fields.h"

namespace dashpiff {

using namespace bmff;

namespace {

constexpr FourCC kFree = fourcc("free");
constexpr FourCC kUuid = fourcc("uuid");
constexpr std::size_t kOverrideBytes = 20;  // AlgorithmID(24) IV_size(8) KID(128)
constexpr std::uint32_t kFragmentLocalGroup = 0x10001;  // sgpd index 1 inside this traf (§8.9.4)

// One replacement of original bytes [offset, offset + length). Insertions have
// length 0. `self_refs` are 32-bit fields inside `bytes` that must hold the
// final box-relative position of another byte of `bytes` (a new saio offset
// pointing at its senc), known only once the layout is final.
struct Edit {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::vector<std::uint8_t> bytes;
  struct SelfRef {
    std::size_t field_at;
    std::size_t target_at;
  };
  std::vector<SelfRef> self_refs;

  std::int64_t delta() const { return std::int64_t(bytes.size()) - std::int64_t(length); }
};

// A value to store in the rewritten box at a position of the original one.
struct FieldUpdate {
  std::size_t old_position;
  unsigned width;  // 4 or 8
  std::uint64_t value;
};

class Plan {
 public:
  void add(Edit e) { edits_.push_back(std::move(e)); }
  bool resizes() const {
    return std::any_of(edits_.begin(), edits_.end(), [](const Edit& e) { return e.delta() != 0; });
  }
  bool empty() const { return edits_.empty(); }
  std::vector<Edit>& edits() { return edits_; }
  void clear() { edits_.clear(); }

 private:
  std::vector<Edit> edits_;
};

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

// [free filler][box] in exactly the bytes of the PIFF box `b`: the filler
// takes the usertype's place (and that of `dropped` leading body bytes, the
// override fields), so every later byte keeps its absolute offset.
template <class Fields>
std::optional<Edit> filler_then_box(const Box& b, Fields& fields, std::size_t dropped) {
  const std::size_t filler = (b.header.header_size - 8) + dropped;
  Edit e;
  e.offset = b.offset;
  e.length = b.size;
  e.bytes.resize(filler);
  store_u32(e.bytes.data(), static_cast<std::uint32_t>(filler));
  store_u32(e.bytes.data() + 4, kFree);
  if (!write_box(e.bytes, fields)) return std::nullopt;
  if (e.bytes.size() != b.size) return std::nullopt;
  return e;
}


class Rewriter {
 public:
  Rewriter(std::vector<std::uint8_t>& box, const RewriteContext& ctx) : buf_(box), ctx_(ctx) {}

  RewriteOutcome run() {
    std::string error;
    auto tree = parse_tree(buf_.data(), buf_.size(), error);
    if (!tree) {
      out_.malformed = true;
      out_.malformed_reason = label_top() + ": " + error;
      return out_;
    }
    root_ = &*tree;
    const FourCC type = root_->box.header.type;
    if (type == fourcc("moof")) {
      plan_moof();
    } else if (type == fourcc("moov")) {
      if (converting()) plan_init(*root_, label_top(), 0);
    }
    if (!plan_.empty()) apply();
    return out_;
  }

 private:
  bool converting() const {
    return ctx_.mode == PiffMode::convert || ctx_.mode == PiffMode::automatic;
  }
  std::string label_top() const {
    return fourcc_text(buf_.size() >= 8 ? load_u32(buf_.data() + 4) : 0) + "#" +
           std::to_string(ctx_.index);
  }
  void change(const std::string& text) { out_.changes.push_back(text); }
  void refuse(const std::string& where, const std::string& what, const std::string& why) {
    out_.refusals.push_back(where + ": " + what + " left unchanged: " + why);
  }

  // --- media segments ------------------------------------------------------

  struct Traf {
    const Node* node = nullptr;
    std::string label;
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
    t.label = label_top() + " traf#" + std::to_string(index);
    for (const Node& c : n.children) {
      const BoxHeader& h = c.box.header;
      switch (h.type) {
        case fourcc("tfhd"): if (!t.tfhd) t.tfhd = read_fields<Tfhd>(buf_.data(), c.box); break;
        case fourcc("trun"): t.truns.push_back(&c); break;
        case fourcc("senc"): t.sencs.push_back(&c); break;
        case fourcc("saiz"): t.saizs.push_back(&c); break;
        case fourcc("saio"): t.saios.push_back(&c); break;
        case fourcc("sbgp"):
        case fourcc("sgpd"): {
          const auto g = read_fields<SampleGroupHead>(buf_.data(), c.box);
          if (g && g->grouping_type == fourcc("seig")) t.has_seig_group = true;
          break;
        }
        case kUuid:
          if (h.uuid_kind() == UuidKind::piff_sample_encryption) t.piff.push_back(&c);
          break;
        default: break;
      }
    }
    return t;
  }

  void plan_moof() {
    std::size_t index = 0;
    for (const Node& c : root_->children)
      if (c.box.header.type == fourcc("traf")) trafs_.push_back(describe_traf(c, ++index));
    resize_blocker_ = find_resize_blocker();

    for (Traf& t : trafs_) {
      for (const Node* p : t.piff) {
        switch (ctx_.mode) {
          case PiffMode::free:
            plan_.add(rename_box(p->box, kFree));
            ++out_.neutralised;
            change(t.label + ": PIFF senc -> free");
            break;
          case PiffMode::uuid_free:
            plan_.add(replace_usertype(p->box, kFreeUuid));
            ++out_.neutralised;
            change(t.label + ": PIFF senc -> uuid free");
            break;
          default: break;
        }
      }
      if (converting() && !t.piff.empty()) plan_traf_conversion(t);
    }
    if (converting()) plan_pssh_children(*root_, label_top());
  }

  // Why this moof cannot change size, or empty when it can.
  std::string find_resize_blocker() const {
    if (ctx_.size_preserving) return "the answer must keep its size (Range request or sidx-indexed file)";
    if (!ctx_.size_lock_reason.empty()) return ctx_.size_lock_reason;
    if (root_->box.header.form == SizeForm::to_end) return "the moof has size 0 (to end of file)";
    for (const Traf& t : trafs_) {
      if (!t.tfhd) return t.label + " has no readable tfhd";
      if (t.tfhd->full.flags & Tfhd::kBaseDataOffset)
        return t.label + " tfhd has an absolute base_data_offset";
      if (!t.moof_relative()) continue;  // its data base moves with the data
      bool first_run = true;
      for (const Node* r : t.truns) {
        const auto head = read_fields<TrunHead>(buf_.data(), r->box);
        if (!head) return t.label + " has an unreadable trun";
        if (!head->has_data_offset()) {
          if (first_run) return t.label + " first trun has no data_offset";
        } else if (head->data_offset < 0 || std::uint64_t(head->data_offset) < buf_.size()) {
          return t.label + " trun data_offset points inside the moof";
        }
        first_run = false;
      }
      for (const Node* s : t.saios) {
        const auto saio = read_fields<Saio>(buf_.data(), s->box);
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
    const bool neutralise = has_senc || (ctx_.mode == PiffMode::automatic && has_aux);
    if (neutralise) {
      for (const Node* p : t.piff) {
        plan_.add(rename_box(p->box, kFree));
        ++out_.neutralised;
        change(t.label + ": PIFF senc -> free (" + (has_senc ? "senc" : "saiz/saio") +
               " already present)");
      }
      return;
    }
    const std::string what = "PIFF senc";
    if (t.piff.size() > 1) {
      refuse(t.label, what, std::to_string(t.piff.size()) + " PIFF sample-encryption boxes in one traf");
      return;
    }
    if (t.saizs.size() > 1 || t.saios.size() > 1) {
      refuse(t.label, what, "several saiz/saio boxes");
      return;
    }
    if (t.saizs.size() != t.saios.size()) {
      refuse(t.label, what, t.saizs.empty() ? "saio without saiz" : "saiz without saio");
      return;
    }
    const Box& pb = t.piff.front()->box;
    auto se = read_box<SampleEncryption>(buf_.data(), pb);
    if (!se) {
      refuse(t.label, what, "its fields do not parse");
      return;
    }
    std::uint64_t samples = 0;
    for (const Node* r : t.truns) {
      const auto head = read_fields<TrunHead>(buf_.data(), r->box);
      if (!head) {
        refuse(t.label, what, "a trun does not parse");
        return;
      }
      samples += head->sample_count;
    }
    if (samples != se->sample_count) {
      refuse(t.label, what, "its sample_count " + std::to_string(se->sample_count) +
                                " differs from the traf's " + std::to_string(samples) + " samples");
      return;
    }
    std::optional<Saiz> saiz;
    if (has_aux) {
      saiz = read_fields<Saiz>(buf_.data(), t.saizs.front()->box);
      if (!saiz) {
        refuse(t.label, what, "saiz does not parse");
        return;
      }
    }
    std::string why;
    const auto iv = choose_iv_size(*se, saiz ? &*saiz : nullptr, why);
    if (!iv) {
      refuse(t.label, what, why);
      return;
    }
    if (se->has_override() && t.has_seig_group) {
      refuse(t.label, what, "override fields present and the traf already has seig sample groups");
      return;
    }
    if (se->has_override() && !resize_blocker_.empty()) {
      refuse(t.label, what,
             "override fields (AlgorithmID/IV_size/KID) need a seig sample group, which cannot be "
             "added: " + resize_blocker_);
      return;
    }
    if (se->has_override() && se->algorithm_id > 2) {
      refuse(t.label, what, "unknown override AlgorithmID " + std::to_string(se->algorithm_id));
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
        refuse(t.label, what, "cannot be rewritten in place");
        return;
      }
      plan_.add(std::move(*edit));
      form = "free+senc, size-preserving";
    } else {
      if (!resize_blocker_.empty()) {
        refuse(t.label, what,
               "PIFF is the only carrier and saiz/saio cannot be added: " + resize_blocker_);
        return;
      }
      if (!t.moof_relative()) {
        refuse(t.label, what, "saio would be relative to the previous traf's data, not the moof");
        return;
      }
      auto edit = full_conversion(pb, senc, iv->aux_sizes, why);
      if (!edit) {
        refuse(t.label, what, why);
        return;
      }
      plan_.add(std::move(*edit));
      form = "senc+saiz+saio";
    }
    if (se->has_override()) {
      plan_.add(seig_groups(t.node->box.end(), *se));
      form += "+seig";
    }
    ++out_.converted;
    change(t.label + ": PIFF senc -> " + form + " (" + iv_text + ")");
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

  // PIFF pssh among the children of `n` (moov or moof): neutralised where a
  // CENC pssh for the same system exists beside it, converted otherwise.
  void plan_pssh_children(const Node& n, const std::string& where) {
    std::vector<Uuid> cenc_systems;
    for (const Node* c : n.children_of(fourcc("pssh")))
      if (const auto p = read_fields<Pssh>(buf_.data(), c->box)) cenc_systems.push_back(p->system_id);
    for (const Node& c : n.children) {
      if (c.box.header.uuid_kind() != UuidKind::piff_pssh) continue;
      Pssh p;
      FieldReader r(buf_.data() + c.box.payload_offset(), c.box.payload_size());
      if (!p.io(r) || r.remaining() != 0 || p.full.version != 0) {
        refuse(where, "PIFF pssh", "its fields do not parse");
        continue;
      }
      if (std::find(cenc_systems.begin(), cenc_systems.end(), p.system_id) != cenc_systems.end()) {
        plan_.add(rename_box(c.box, kFree));
        ++out_.neutralised;
        change(where + ": PIFF pssh -> free (pssh for the same system present)");
        continue;
      }
      auto e = filler_then_box(c.box, p, 0);
      if (!e) {
        refuse(where, "PIFF pssh", "cannot be rewritten in place");
        continue;
      }
      plan_.add(std::move(*e));
      ++out_.converted;
      change(where + ": PIFF pssh -> pssh");
    }
  }

  // --- init segments --------------------------------------------------------

  void plan_init(const Node& n, const std::string& where, std::size_t trak_index) {
    if (n.box.header.type == fourcc("moov") || n.box.header.type == fourcc("moof"))
      plan_pssh_children(n, where);
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
        const auto pt = read_fields<PiffTenc>(buf_.data(), c.box);
        if (!pt || c.box.payload_size() != 24) {
          refuse(where, "PIFF tenc", "its fields do not parse");
          continue;
        }
        algorithm = pt->algorithm_id;
        if (has_tenc) {
          plan_.add(rename_box(c.box, kFree));
          ++out_.neutralised;
          change(where + ": PIFF tenc -> free (tenc present)");
          continue;
        }
        if (pt->algorithm_id > 2) {
          refuse(where, "PIFF tenc", "unknown AlgorithmID " + std::to_string(pt->algorithm_id));
          continue;
        }
        if (pt->iv_size != 0 && pt->iv_size != 8 && pt->iv_size != 16) {
          refuse(where, "PIFF tenc", "IV size " + std::to_string(pt->iv_size) + " is not 0, 8 or 16");
          continue;
        }
        Tenc t;
        t.is_protected = pt->algorithm_id != 0 ? 1 : 0;
        t.iv_size = pt->iv_size;
        t.kid = pt->kid;
        if (t.is_protected && t.iv_size == 0) {
          refuse(where, "PIFF tenc", "protected with IV size 0 (no constant IV in PIFF)");
          continue;
        }
        auto e = filler_then_box(c.box, t, 0);
        if (!e) {
          refuse(where, "PIFF tenc", "cannot be rewritten in place");
          continue;
        }
        plan_.add(std::move(*e));
        ++out_.converted;
        change(where + ": PIFF tenc -> tenc (IV " + std::to_string(t.iv_size) + " bytes)");
      }
    }
    if (const Node* schm = sinf.child(fourcc("schm"))) {
      const auto s = read_fields<Schm>(buf_.data(), schm->box);
      if (s && s->scheme_type == fourcc("piff")) {
        const FourCC scheme = algorithm == 2 ? fourcc("cbc1") : fourcc("cenc");
        Edit e;
        e.offset = schm->box.payload_offset() + 4;
        e.length = 8;
        e.bytes.resize(8);
        store_u32(e.bytes.data(), scheme);
        store_u32(e.bytes.data() + 4, 0x00010000);
        plan_.add(std::move(e));
        ++out_.converted;
        change(where + ": schm piff -> " + fourcc_text(scheme));
      }
    }
  }

  // --- applying -------------------------------------------------------------

  // Position in the rewritten box of byte `p` of the original, or nullopt for
  // a byte inside a replacement of a different size.
  // Edits are sorted and disjoint, so their ends ascend: the ones wholly
  // before p (an insertion at p lands before p) are a prefix, found by binary
  // search. A linear scan made a moof of many edits and a saio of many
  // offsets cost their product (issue #12).
  std::optional<std::size_t> map(std::size_t p) const {
    const auto after = std::upper_bound(spans_.begin(), spans_.end(), p,
                                        [](std::size_t x, const Span& s) { return x < s.end; });
    const std::int64_t shift = after == spans_.begin() ? 0 : std::prev(after)->shift;
    if (after != spans_.end() && after->offset < p && after->delta != 0)
      return std::nullopt;  // a same-size rewrite keeps inner positions
    return static_cast<std::size_t>(std::int64_t(p) + shift);
  }

  void apply() {
    auto& edits = plan_.edits();
    std::stable_sort(edits.begin(), edits.end(),
                     [](const Edit& a, const Edit& b) { return a.offset < b.offset; });
    for (std::size_t i = 1; i < edits.size(); ++i) {
      if (edits[i - 1].offset + edits[i - 1].length > edits[i].offset) {
        out_.refusals.push_back(label_top() + ": internal error: overlapping rewrites; box left unchanged");
        discard();
        return;
      }
    }
    spans_.clear();
    std::int64_t shift = 0;
    for (const Edit& e : edits) {
      shift += e.delta();
      spans_.push_back({e.offset, e.offset + e.length, e.delta(), shift});
    }
    std::vector<FieldUpdate> updates;
    std::string error;
    if (plan_.resizes() && !relocate(updates, error)) {
      out_.refusals.push_back(label_top() + ": size-changing rewrite abandoned: " + error);
      discard();
      return;
    }

    std::vector<std::uint8_t> result;
    std::int64_t delta = 0;
    for (const Edit& e : edits) delta += e.delta();
    result.reserve(static_cast<std::size_t>(std::int64_t(buf_.size()) + delta));
    std::size_t pos = 0;
    for (const Edit& e : edits) {
      result.insert(result.end(), buf_.begin() + pos, buf_.begin() + e.offset);
      const std::size_t at = result.size();
      result.insert(result.end(), e.bytes.begin(), e.bytes.end());
      for (const Edit::SelfRef& r : e.self_refs)
        store_u32(result.data() + at + r.field_at, static_cast<std::uint32_t>(at + r.target_at));
      pos = e.offset + e.length;
    }
    result.insert(result.end(), buf_.begin() + pos, buf_.end());
    for (const FieldUpdate& u : updates) {
      const std::size_t at = *map(u.old_position);
      if (u.width == 8) store_u64(result.data() + at, u.value);
      else store_u32(result.data() + at, static_cast<std::uint32_t>(u.value));
    }
    out_.size_delta = delta;
    out_.changed = true;
    buf_.swap(result);
  }

  void discard() {
    plan_.clear();
    out_.changes.clear();
    out_.neutralised = out_.converted = 0;
  }

  // Container sizes, trun data_offsets and saio offsets for the new layout;
  // every value is checked to fit before anything is written.
  bool relocate(std::vector<FieldUpdate>& updates, std::string& error) {
    const std::size_t old_size = buf_.size();
    const auto new_end = map(old_size);
    if (!new_end || *new_end > 0x7fffffffu) {
      error = "rewritten moof too large";
      return false;
    }
    const std::int64_t delta = std::int64_t(*new_end) - std::int64_t(old_size);
    if (!fix_container_sizes(*root_, updates, error)) return false;
    for (const Traf& t : trafs_) {
      if (!t.moof_relative()) continue;
      for (const Node* r : t.truns) {
        TrunHead head;
        FieldLocator at(buf_.data() + r->box.payload_offset(), r->box.payload_size());
        if (!head.io(at) || !head.has_data_offset()) continue;
        const std::int64_t v = std::int64_t(head.data_offset) + delta;
        if (v < 0 || v > 0x7fffffff) {
          error = t.label + " trun data_offset out of range after the rewrite";
          return false;
        }
        updates.push_back({r->box.payload_offset() + at.where(head.data_offset)->position, 4,
                           static_cast<std::uint64_t>(v)});
      }
      for (const Node* s : t.saios) {
        Saio saio;
        FieldLocator at(buf_.data() + s->box.payload_offset(), s->box.payload_size());
        if (!saio.io(at)) {
          error = t.label + " saio does not parse";
          return false;
        }
        for (std::size_t i = 0; i < saio.offsets.size(); ++i) {
          const FieldPlace place = *at.where(saio.offsets[i]);
          const unsigned width = static_cast<unsigned>(place.width);
          const std::uint64_t target = saio.offsets[i];
          std::uint64_t moved;
          if (target < old_size) {
            const auto m = map(static_cast<std::size_t>(target));
            if (!m) {
              error = t.label + " saio points into a rewritten box";
              return false;
            }
            moved = *m;
          } else {
            moved = target + delta;
          }
          if (width == 4 && moved > 0xffffffffu) {
            error = t.label + " saio offset out of range after the rewrite";
            return false;
          }
          updates.push_back({s->box.payload_offset() + place.position, width, moved});
        }
      }
    }
    return true;
  }

  bool fix_container_sizes(const Node& n, std::vector<FieldUpdate>& updates, std::string& error) {
    if (!n.container) return true;
    const auto start = map(n.box.offset);
    const auto end = map(n.box.end());
    if (!start || !end) {
      error = "a container lies inside a rewritten box";
      return false;
    }
    const std::size_t size = *end - *start;
    if (size != n.box.size) {
      switch (n.box.header.form) {
        case SizeForm::compact:
          if (size > 0xffffffffu) {
            error = "'" + fourcc_text(n.box.header.type) + "' too large after the rewrite";
            return false;
          }
          updates.push_back({n.box.offset, 4, size});
          break;
        case SizeForm::large: updates.push_back({n.box.offset + 8, 8, size}); break;
        case SizeForm::to_end: break;  // still runs to the end of its parent
      }
    }
    for (const Node& c : n.children)
      if (!fix_container_sizes(c, updates, error)) return false;
    return true;
  }

  std::vector<std::uint8_t>& buf_;
  const RewriteContext& ctx_;
  RewriteOutcome out_;
  const Node* root_ = nullptr;
  std::vector<Traf> trafs_;
  std::string resize_blocker_;
  Plan plan_;
  // The sorted edits as map() needs them: where each lies, its size change
  // and the sum of the changes up to and including it.
  struct Span {
    std::size_t offset, end;
    std::int64_t delta, shift;
  };
  std::vector<Span> spans_;
};

}  // namespace

RewriteOutcome rewrite_held_box(std::vector<std::uint8_t>& box, const RewriteContext& ctx) {
  if (ctx.mode == PiffMode::off) return {};
  return Rewriter(box, ctx).run();
}

}  // namespace dashpiff

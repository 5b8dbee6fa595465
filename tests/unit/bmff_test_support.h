// Running the patcher in tests and reading its output back.
#pragma once

#include <boost/test/unit_test.hpp>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "bmff/box.h"
#include "bmff_builder.h"
#include "bmff/fields.h"
#include "piff/segment_patcher.h"

namespace testbmff {

namespace bm = dashpiff::bmff;

// Feeds `in` in chunks of `chunk` bytes and returns what came out.
inline Bytes patch(const Bytes& in, const dashpiff::PatchOptions& o, std::size_t chunk = SIZE_MAX,
                   dashpiff::PatchStats* stats = nullptr) {
  Bytes out;
  dashpiff::SegmentPatcher p(o, [&out](const std::uint8_t* d, std::size_t n) {
    out.insert(out.end(), d, d + n);
    return true;
  });
  for (std::size_t at = 0; at < in.size();) {
    const std::size_t n = std::min(chunk, in.size() - at);
    p.feed(in.data() + at, n);
    at += n;
  }
  p.finish();
  if (stats) *stats = p.stats();
  return out;
}

// Top-level boxes of a buffer (stops at the first that does not parse).
inline std::vector<bm::Box> top_level(const Bytes& b) {
  std::vector<bm::Box> out;
  std::size_t pos = 0;
  while (pos < b.size()) {
    const auto hp = bm::parse_box_header(b.data() + pos, b.size() - pos, b.size() - pos);
    if (hp.status != bm::HeaderStatus::ok) break;
    out.push_back(bm::Box{hp.header, pos, static_cast<std::size_t>(hp.header.size)});
    pos += hp.header.size;
  }
  return out;
}

inline std::size_t find_top_level(const Bytes& b, const char* type) {
  for (const auto& box : top_level(b))
    if (box.header.type == bm::load_u32(reinterpret_cast<const std::uint8_t*>(type)))
      return box.offset;
  BOOST_FAIL(std::string("no top-level ") + type);
  return 0;
}

inline void collect(const bm::Node& n, std::size_t base, std::vector<bm::Box>& out) {
  bm::Box b = n.box;
  b.offset += base;
  out.push_back(b);
  for (const auto& c : n.children) collect(c, base, out);
}

// Every box, containers descended, with absolute offsets.
inline std::vector<bm::Box> all_boxes(const Bytes& b) {
  std::vector<bm::Box> out;
  for (const auto& t : top_level(b)) {
    std::string error;
    const auto tree = bm::parse_tree(b.data() + t.offset, t.size, error);
    if (tree) collect(*tree, t.offset, out);
    else out.push_back(t);
  }
  return out;
}

inline bm::Node parse_moof(const Bytes& b, std::size_t at) {
  const auto hp = bm::parse_box_header(b.data() + at, b.size() - at, b.size() - at);
  BOOST_REQUIRE(hp.status == bm::HeaderStatus::ok);
  std::string error;
  auto tree = bm::parse_tree(b.data() + at, static_cast<std::size_t>(hp.header.size), error);
  BOOST_REQUIRE_MESSAGE(tree, "moof does not parse: " << error);
  return *tree;
}

struct TrafView {
  std::int64_t data_offset = 0;
  std::optional<bm::SampleEncryption> senc;
  std::optional<bm::Saiz> saiz;
  std::optional<bm::Saio> saio;
  std::size_t piff = 0;
};

inline std::vector<TrafView> read_trafs(const Bytes& b, std::size_t moof_at) {
  const bm::Node moof = parse_moof(b, moof_at);
  const std::uint8_t* base = b.data() + moof_at;
  std::vector<TrafView> out;
  for (const bm::Node* traf : moof.children_of(bm::fourcc("traf"))) {
    TrafView v;
    if (const auto* trun = traf->child(bm::fourcc("trun"))) {
      const auto head = bm::read_fields<bm::TrunHead>(base, trun->box);
      BOOST_REQUIRE(head);
      v.data_offset = head->data_offset;
    }
    if (const auto* n = traf->child(bm::fourcc("senc"))) v.senc = bm::read_fields<bm::SampleEncryption>(base, n->box);
    if (const auto* n = traf->child(bm::fourcc("saiz"))) v.saiz = bm::read_fields<bm::Saiz>(base, n->box);
    if (const auto* n = traf->child(bm::fourcc("saio"))) v.saio = bm::read_fields<bm::Saio>(base, n->box);
    for (const auto& c : traf->children)
      if (c.box.header.uuid_kind() == bm::UuidKind::piff_sample_encryption) ++v.piff;
    out.push_back(std::move(v));
  }
  return out;
}

// The CENC view of a converted fragment must carry exactly the spec's
// samples: IVs and subsample maps in senc, sizes in saiz, saio pointing at
// the first IV, and the trun data_offset still at the first sample's bytes.
inline void check_cenc_fragment(const Bytes& out, std::size_t moof_at, const FragmentSpec& spec) {
  const auto trafs = read_trafs(out, moof_at);
  BOOST_REQUIRE_EQUAL(trafs.size(), spec.tracks.size());
  for (std::size_t i = 0; i < trafs.size(); ++i) {
    const TrafView& v = trafs[i];
    const TrackSpec& t = spec.tracks[i];
    BOOST_TEST_CONTEXT("traf " << i + 1) {
      BOOST_TEST(v.piff == 0u);
      BOOST_REQUIRE(v.senc);
      BOOST_REQUIRE(v.saiz);
      BOOST_REQUIRE(v.saio);
      BOOST_TEST(v.senc->sample_count == t.samples.size());
      BOOST_TEST(v.senc->has_subsamples() == t.subsamples);
      const auto entries = bm::parse_sample_entries(v.senc->entries.data(), v.senc->entries.size(),
                                                    v.senc->sample_count, t.iv_size, t.subsamples);
      BOOST_REQUIRE(entries);
      BOOST_REQUIRE_EQUAL(entries->size(), t.samples.size());
      std::size_t aux_pos = moof_at + static_cast<std::size_t>(v.saio->offsets.at(0));
      BOOST_REQUIRE_EQUAL(v.saiz->sample_count, t.samples.size());
      for (std::size_t k = 0; k < t.samples.size(); ++k) {
        const Sample& s = t.samples[k];
        BOOST_TEST((*entries)[k].iv == s.iv);
        BOOST_REQUIRE_EQUAL((*entries)[k].subsamples.size(), s.subsamples.size());
        for (std::size_t j = 0; j < s.subsamples.size(); ++j) {
          BOOST_TEST((*entries)[k].subsamples[j].clear_bytes == s.subsamples[j].first);
          BOOST_TEST((*entries)[k].subsamples[j].protected_bytes == s.subsamples[j].second);
        }
        BOOST_TEST(v.saiz->size_of(static_cast<std::uint32_t>(k)) == aux_size(t, s));
        // saio + saiz locate each sample's IV in the output bytes.
        BOOST_REQUIRE(aux_pos + s.iv.size() <= out.size());
        BOOST_TEST(Bytes(out.begin() + aux_pos, out.begin() + aux_pos + s.iv.size()) == s.iv);
        aux_pos += v.saiz->size_of(static_cast<std::uint32_t>(k));
      }
      if (t.tfhd_flags & 0x020000) {
        const std::size_t data = moof_at + static_cast<std::size_t>(v.data_offset);
        const Bytes& first = t.samples.front().data;
        BOOST_REQUIRE(data + first.size() <= out.size());
        BOOST_TEST(Bytes(out.begin() + data, out.begin() + data + first.size()) == first);
      }
    }
  }
}

struct SeigView {
  unsigned is_protected = 0, iv_size = 0;
  bm::Uuid kid{};
  std::uint32_t sbgp_samples = 0, sbgp_index = 0;
};

inline std::optional<SeigView> read_seig(const Bytes& b, std::size_t moof_at) {
  const bm::Node moof = parse_moof(b, moof_at);
  const bm::Node* traf = moof.child(bm::fourcc("traf"));
  if (!traf) return std::nullopt;
  const bm::Node* sgpd = traf->child(bm::fourcc("sgpd"));
  const bm::Node* sbgp = traf->child(bm::fourcc("sbgp"));
  if (!sgpd || !sbgp) return std::nullopt;
  const auto g = bm::read_fields<bm::SgpdSeig>(b.data() + moof_at, sgpd->box);
  const auto r = bm::read_fields<bm::SbgpOneRun>(b.data() + moof_at, sbgp->box);
  if (!g || !r) return std::nullopt;
  return SeigView{g->is_protected, g->iv_size, g->kid, r->sample_count, r->group_description_index};
}

struct InitView {
  std::size_t tenc_count = 0, pssh_count = 0, piff_boxes = 0, free_boxes = 0;
  unsigned tenc_iv_size = 0, tenc_protected = 0;
  Bytes tenc_kid;
  std::string scheme;
  std::uint32_t scheme_version = 0;
  Bytes pssh_system, pssh_data;
};

inline InitView read_init(const Bytes& b) {
  InitView v;
  std::size_t moov = 0, moov_size = 0;
  for (const auto& box : top_level(b))
    if (box.header.type == bm::fourcc("moov")) moov = box.offset, moov_size = box.size;
  BOOST_REQUIRE(moov_size != 0u);
  const std::uint8_t* base = b.data() + moov;
  std::string error;
  const auto tree = bm::parse_tree(base, moov_size, error);
  BOOST_REQUIRE_MESSAGE(tree, error);
  std::vector<bm::Box> boxes;
  collect(*tree, 0, boxes);
  for (const auto& box : boxes) {
    const auto t = box.header.type;
    if (t == bm::fourcc("tenc")) {
      ++v.tenc_count;
      const auto f = bm::read_fields<bm::Tenc>(base, box);
      BOOST_REQUIRE(f);
      v.tenc_iv_size = f->iv_size;
      v.tenc_protected = f->is_protected;
      v.tenc_kid.assign(f->kid.begin(), f->kid.end());
    } else if (t == bm::fourcc("pssh")) {
      ++v.pssh_count;
      const auto f = bm::read_fields<bm::Pssh>(base, box);
      BOOST_REQUIRE(f);
      v.pssh_system.assign(f->system_id.begin(), f->system_id.end());
      v.pssh_data = f->data;
    } else if (t == bm::fourcc("schm")) {
      const auto f = bm::read_fields<bm::Schm>(base, box);
      BOOST_REQUIRE(f);
      v.scheme = bm::fourcc_text(f->scheme_type);
      v.scheme_version = f->scheme_version;
    } else if (t == bm::fourcc("free")) {
      ++v.free_boxes;
    } else if (box.header.is_uuid()) {
      const auto k = box.header.uuid_kind();
      if (k == bm::UuidKind::piff_pssh || k == bm::UuidKind::piff_track_encryption ||
          k == bm::UuidKind::piff_sample_encryption)
        ++v.piff_boxes;
    }
  }
  return v;
}

}  // namespace testbmff

// The engine on the real fixture streams (tests/data/streams, made by ffmpeg
// and the fixture encryptor; see its README).
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "bmff/box.h"
#include "bmff_builder.h"
#include "bmff/fields.h"
#include "bmff_test_support.h"
#include "piff/segment_patcher.h"

using namespace dashpiff;
using namespace testbmff;
namespace bm = dashpiff::bmff;

namespace {

std::string streams_dir() {
  const char* data = std::getenv("DASHPIFF_TEST_DATA");
  BOOST_REQUIRE_MESSAGE(data, "DASHPIFF_TEST_DATA is not set (make check sets it)");
  return std::string(data) + "/streams/";
}

Bytes load(const std::string& stream, const std::string& file) {
  const std::string path = streams_dir() + stream + "/" + file;
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::vector<std::string> kStreams = {"clear", "cenc-piff", "piff-only", "piff-only-aux",
                                           "piff-override-iv16", "multi-moof", "piff-init"};
const std::vector<std::string> kSegments = {"seg-0-1.m4s", "seg-0-2.m4s", "seg-0-3.m4s",
                                            "seg-1-1.m4s", "seg-1-2.m4s", "seg-1-3.m4s"};

PatchOptions mode(PiffMode m, bool size_preserving = false) {
  PatchOptions o;
  o.mode = m;
  o.size_preserving = size_preserving;
  return o;
}

std::size_t count_uuid(const Bytes& b, bm::UuidKind kind) {
  std::size_t n = 0;
  for (const auto& box : all_boxes(b))
    if (box.header.uuid_kind() == kind) ++n;
  return n;
}

// The bytes of the first box of `type` inside any moof (the whole box).
Bytes first_box(const Bytes& b, const char* type) {
  for (const auto& box : all_boxes(b))
    if (box.header.type == bm::load_u32(reinterpret_cast<const std::uint8_t*>(type)))
      return Bytes(b.begin() + box.offset, b.begin() + box.end());
  return {};
}

Bytes mdat_of(const Bytes& b) { return first_box(b, "mdat"); }

}  // namespace

BOOST_AUTO_TEST_SUITE(fixtures)

BOOST_AUTO_TEST_CASE(free_mode_changes_only_the_4cc_of_each_piff_box) {
  for (const auto& stream : kStreams) {
    for (const auto& seg : kSegments) {
      const Bytes in = load(stream, seg);
      PatchStats s;
      const Bytes out = patch(in, mode(PiffMode::free), 16384, &s);
      BOOST_TEST_CONTEXT(stream << "/" << seg) {
        std::vector<std::size_t> where;
        for (const auto& box : all_boxes(in))
          if (box.header.uuid_kind() == bm::UuidKind::piff_sample_encryption)
            where.push_back(box.offset + 4);
        BOOST_TEST(s.piff_neutralised == where.size());
        BOOST_TEST(s.passthrough_events == 0u);
        Bytes expected = in;
        for (std::size_t at : where) std::memcpy(&expected[at], "free", 4);
        BOOST_TEST((out == expected));
        if (stream == "clear") BOOST_TEST(where.empty());
        if (stream == "multi-moof") BOOST_TEST(where.size() == 4u);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(auto_mode_neutralises_piff_beside_senc) {
  for (const auto& stream : {"cenc-piff", "multi-moof", "piff-only-aux"}) {
    for (const auto& seg : kSegments) {
      const Bytes in = load(stream, seg);
      PatchStats s;
      const Bytes out = patch(in, mode(PiffMode::automatic), 4096, &s);
      BOOST_TEST_CONTEXT(stream << "/" << seg) {
        BOOST_TEST(out.size() == in.size());
        BOOST_TEST(s.piff_converted == 0u);
        BOOST_TEST(s.piff_neutralised > 0u);
        BOOST_TEST(count_uuid(out, bm::UuidKind::piff_sample_encryption) == 0u);
        BOOST_TEST(count_uuid(out, bm::UuidKind::tfxd) == count_uuid(in, bm::UuidKind::tfxd));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(convert_of_piff_only_gives_the_packagers_senc_and_saiz) {
  for (const auto& stream : {"piff-only", "piff-init", "piff-only-aux"}) {
    for (const auto& seg : kSegments) {
      const Bytes in = load(stream, seg);
      const Bytes twin = load("cenc-piff", seg);
      PatchStats s;
      const Bytes out = patch(in, mode(PiffMode::convert), 16384, &s);
      BOOST_TEST_CONTEXT(stream << "/" << seg) {
        BOOST_TEST(s.piff_converted == 1u);
        BOOST_TEST(s.passthrough_events == 0u, s.passthrough_reason);
        BOOST_TEST((first_box(out, "senc") == first_box(twin, "senc")));
        BOOST_TEST((first_box(out, "saiz") == first_box(twin, "saiz")));
        BOOST_TEST((mdat_of(out) == mdat_of(in)));
        BOOST_TEST(count_uuid(out, bm::UuidKind::piff_sample_encryption) == 0u);
        if (std::string(stream) == "piff-only-aux") BOOST_TEST(out.size() == in.size());
        else BOOST_TEST(out.size() > in.size());
        // sidx still spans moof + mdat exactly.
        const auto top = top_level(out);
        BOOST_REQUIRE(top.size() == 4u);
        BOOST_TEST(sidx_reference_size(out, top[1].offset, 0) == top[2].size + top[3].size);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(convert_with_size_preserving_leaves_piff_only_untouched) {
  const Bytes in = load("piff-only", "seg-0-1.m4s");
  PatchStats s;
  BOOST_TEST((patch(in, mode(PiffMode::convert, true), 1000, &s) == in));
  BOOST_TEST(s.passthrough_events == 1u);
  BOOST_TEST(s.passthrough_reason.find("only carrier") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(override_iv16_converts_with_a_seig_group) {
  for (const auto& seg : kSegments) {
    const Bytes in = load("piff-override-iv16", seg);
    PatchStats s;
    const Bytes out = patch(in, mode(PiffMode::convert), 16384, &s);
    BOOST_TEST_CONTEXT(seg) {
      BOOST_TEST(s.piff_converted == 1u);
      const std::size_t moof = find_top_level(out, "moof");
      const auto seig = read_seig(out, moof);
      BOOST_REQUIRE(seig);
      BOOST_TEST(seig->iv_size == 16u);
      BOOST_TEST(seig->is_protected == 1u);
      const auto trafs = read_trafs(out, moof);
      BOOST_REQUIRE(trafs[0].senc);
      const auto& senc = *trafs[0].senc;
      BOOST_TEST(bm::parse_sample_entries(senc.entries.data(), senc.entries.size(),
                                          senc.sample_count, 16, senc.has_subsamples())
                     .has_value());
      BOOST_TEST(seig->sbgp_samples == senc.sample_count);
      BOOST_TEST((mdat_of(out) == mdat_of(in)));
    }
  }
}

BOOST_AUTO_TEST_CASE(piff_init_converts_to_the_cenc_boxes) {
  for (const auto& init : {"init-0.mp4", "init-1.mp4"}) {
    const Bytes in = load("piff-init", init);
    PatchStats s;
    const Bytes out = patch(in, mode(PiffMode::convert), 100, &s);
    BOOST_TEST_CONTEXT(init) {
      BOOST_TEST(out.size() == in.size());
      BOOST_TEST(s.piff_converted == 3u);
      const auto v = read_init(out);
      const auto twin = read_init(load("cenc-piff", init));
      BOOST_TEST(v.piff_boxes == 0u);
      BOOST_TEST(v.scheme == "cenc");
      BOOST_TEST(v.scheme_version == 0x00010000u);
      BOOST_TEST(v.tenc_iv_size == twin.tenc_iv_size);
      BOOST_TEST(v.tenc_kid == twin.tenc_kid);
      BOOST_TEST(v.tenc_protected == 1u);
      BOOST_TEST(v.pssh_system == twin.pssh_system);
    }
  }
}

BOOST_AUTO_TEST_CASE(real_segment_gives_identical_output_for_many_chunk_sizes) {
  const Bytes in = load("multi-moof", "seg-0-1.m4s");
  for (PiffMode m : {PiffMode::free, PiffMode::convert}) {
    const Bytes whole = patch(in, mode(m));
    for (std::size_t chunk = 1; chunk < in.size(); chunk = chunk < 64 ? chunk + 1 : chunk * 3 / 2 + 7) {
      if (patch(in, mode(m), chunk) != whole) {
        BOOST_ERROR("mode " << to_string(m) << " chunk " << chunk << " differs");
        break;
      }
    }
  }
  const Bytes piff = load("piff-only", "seg-1-3.m4s");
  const Bytes whole = patch(piff, mode(PiffMode::convert));
  for (std::size_t chunk = 1; chunk < 300; ++chunk)
    if (patch(piff, mode(PiffMode::convert), chunk) != whole) {
      BOOST_ERROR("convert chunk " << chunk << " differs");
      break;
    }
}

BOOST_AUTO_TEST_CASE(off_mode_and_clear_streams_pass_through_identically) {
  for (const auto& stream : kStreams) {
    const Bytes in = load(stream, "seg-1-1.m4s");
    BOOST_TEST((patch(in, mode(PiffMode::off), 777) == in));
  }
  for (PiffMode m : {PiffMode::free, PiffMode::uuid_free, PiffMode::convert, PiffMode::automatic}) {
    for (const auto& f : {"init-0.mp4", "seg-0-2.m4s"}) {
      const Bytes in = load("clear", f);
      BOOST_TEST((patch(in, mode(m), 513) == in));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

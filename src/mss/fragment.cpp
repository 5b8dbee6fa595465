#include "mss/fragment.h"

#include <algorithm>
#include <limits>
#include <string>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "mss/init_segment.h"

namespace dashpiff::mss {

using namespace bmff;

namespace {

[[noreturn]] void malformed(const std::string& why) { throw MssError(MssError::Kind::malformed, why); }
[[noreturn]] void unsupported(const std::string& why) { throw MssError(MssError::Kind::unsupported, why); }

void append(Bytes& out, const std::uint8_t* base, const Box& box) {
  out.insert(out.end(), base + box.offset, base + box.end());
}

// Where the bytes of a rebuilt moof's copied boxes went: saio offsets count
// from the moof's first byte and may point inside it (at the IVs of a PIFF
// box or senc), so they follow the box they point into.
struct Copied {
  std::size_t from = 0, size = 0;  // in the origin's moof
  std::size_t to = 0;              // in the rebuilt one
};

// `box` (of the origin's moof at `base`) appended to `moof`, remembered.
void append_copied(Bytes& moof, const std::uint8_t* base, const Box& box, std::vector<Copied>& copied) {
  copied.push_back({box.offset, box.size, moof.size()});
  append(moof, base, box);
}

// The synthesised tenc declares kIvSize-byte IVs; a PIFF box whose entries
// only parse with another size (and no override saying so, which the engine
// turns into a 'seig' group) would be mis-decrypted.
void check_iv_size(const std::uint8_t* base, const Node& piff, const std::string& where) {
  FieldReader r(base + piff.box.payload_offset(), piff.box.payload_size());
  SampleEncryption se;
  se.piff = true;
  if (!se.io(r) || se.has_override()) return;  // unreadable: the engine passes it through and says why
  if (se.sample_count && !measure_sample_entries(se.entries.data(), se.entries.size(), se.sample_count, kIvSize,
                                                 se.has_subsamples(), nullptr, nullptr))
    unsupported(where + ": PIFF sample entries are not " + std::to_string(kIvSize) +
                "-byte IVs, the size the synthesised tenc declares");
}

struct TrafOut {
  std::vector<std::pair<std::size_t, std::size_t>> trun_payloads;  // payload offset in the new moof, size
  std::vector<std::pair<std::size_t, std::size_t>> saio_payloads;  // the same for saio
};

void rewrite_traf(const std::uint8_t* base, const Node& traf, Bytes& moof, TrafOut& out, std::vector<Copied>& copied,
                  ConvertedFragment& result, bool first, const std::string& where) {
  const Node* tfhd_node = traf.child(fourcc("tfhd"));
  if (!tfhd_node) malformed(where + " has no tfhd");
  auto tfhd = read_fields<Tfhd>(base, tfhd_node->box);
  if (!tfhd) malformed(where + " has an unreadable tfhd");
  if (tfhd->full.flags & Tfhd::kBaseDataOffset)
    unsupported(where + ": tfhd carries an absolute base-data-offset");
  const Node* tfdt = traf.child(fourcc("tfdt"));
  std::optional<Tfxd> tfxd;
  for (const Node& c : traf.children) {
    if (c.box.header.uuid_kind() == UuidKind::tfxd) {
      tfxd = read_fields<Tfxd>(base, c.box);
      if (!tfxd) malformed(where + " has an unreadable tfxd");
    }
    if (c.box.header.uuid_kind() == UuidKind::piff_sample_encryption) check_iv_size(base, c, where);
  }
  if (!tfxd && !tfdt) malformed(where + " has neither tfxd nor tfdt: its time is unknown");
  if (first) {
    if (tfdt) {
      FieldReader r(base + tfdt->box.payload_offset(), tfdt->box.payload_size());
      FullBoxHeader h;
      std::uint64_t t = 0;
      std::uint32_t t32 = 0;
      if (!h.io(r) || !(h.version == 1 ? r.u64(t) : (r.u32(t32) && ((t = t32), true))))
        malformed(where + " has an unreadable tfdt");
      result.decode_time = t;
    } else {
      result.decode_time = tfxd->time;
    }
  }

  write_box(moof, fourcc("traf"), [&](FieldWriter&) {
    Bytes& buf = moof;
    tfhd->track_id = kTrackId;
    // One traf, no base-data-offset: its base is the moof's first byte with
    // or without the flag (ISO/IEC 14496-12 §8.8.7.1); saying so is what CMAF
    // and stricter readers expect.
    tfhd->full.flags |= Tfhd::kDefaultBaseIsMoof;
    write_box(buf, fourcc("tfhd"), [&](FieldWriter& x) { tfhd->io(x); });
    if (!tfdt) {
      // ISO/IEC 14496-12 §8.8.12, version 1: 64-bit baseMediaDecodeTime.
      write_box(buf, fourcc("tfdt"), [&](FieldWriter& x) {
        FullBoxHeader h{1, 0};
        std::uint64_t t = tfxd->time;
        h.io(x);
        x.u64(t);
      });
      ++result.tfxd_replaced;
    }
    for (const Node& c : traf.children) {
      if (&c == tfhd_node) continue;
      const UuidKind kind = c.box.header.uuid_kind();
      if (kind == UuidKind::tfrf) {
        ++result.tfrf_dropped;
        continue;
      }
      if (kind == UuidKind::tfxd) continue;
      if (c.box.header.type == fourcc("trun")) out.trun_payloads.emplace_back(buf.size() + c.box.header.header_size, c.box.payload_size());
      if (c.box.header.type == fourcc("saio")) out.saio_payloads.emplace_back(buf.size() + c.box.header.header_size, c.box.payload_size());
      append_copied(buf, base, c.box, copied);
    }
  });
}

}  // namespace

ConvertedFragment convert_fragment(const std::uint8_t* data, std::size_t size) {
  std::vector<Box> top;
  std::string error;
  if (!walk_boxes(data, 0, size, top, error)) malformed("fragment: " + error);
  ConvertedFragment result;
  result.data.reserve(size + 64);
  unsigned moofs = 0;
  for (const Box& b : top) {
    if (b.header.type != fourcc("moof")) {
      append(result.data, data, b);
      continue;
    }
    const std::string where = "moof#" + std::to_string(++moofs);
    auto tree = parse_tree(data + b.offset, b.size, error);
    if (!tree) malformed(where + ": " + error);
    const std::uint8_t* base = data + b.offset;
    Bytes moof;
    std::vector<std::pair<std::size_t, std::size_t>> truns, saios;
    std::vector<Copied> copied;
    unsigned trafs = 0;
    write_box(moof, fourcc("moof"), [&](FieldWriter&) {
      for (const Node& c : tree->children) {
        if (c.box.header.type != fourcc("traf")) {
          append_copied(moof, base, c.box, copied);
          continue;
        }
        if (++trafs > 1) unsupported(where + ": more than one traf (a Smooth fragment carries one track)");
        TrafOut t;
        rewrite_traf(base, c, moof, t, copied, result, moofs == 1, where + " traf#1");
        truns.insert(truns.end(), t.trun_payloads.begin(), t.trun_payloads.end());
        saios.insert(saios.end(), t.saio_payloads.begin(), t.saio_payloads.end());
      }
    });
    if (!trafs) malformed(where + " has no traf");
    if (moof.size() > 0xffffffffu || b.header.form != SizeForm::compact)
      unsupported(where + ": not a compact-size moof");
    // ISO/IEC 14496-12 §8.8.8: data_offset counts from the moof's first byte
    // (tfhd without base-data-offset), so it moves by the moof's change.
    const std::int64_t delta = static_cast<std::int64_t>(moof.size()) - static_cast<std::int64_t>(b.size);
    for (const auto& [payload, payload_size] : truns) {
      TrunHead trun;
      FieldLocator at(moof.data() + payload, payload_size);
      if (!trun.io(at)) malformed(where + " has an unreadable trun");
      if (!trun.has_data_offset()) continue;
      const std::int64_t moved = static_cast<std::int64_t>(trun.data_offset) + delta;
      if (moved < std::numeric_limits<std::int32_t>::min() || moved > std::numeric_limits<std::int32_t>::max())
        unsupported(where + ": trun data_offset overflows");
      store_u32(moof.data() + payload + at.where(trun.data_offset)->position,
                static_cast<std::uint32_t>(static_cast<std::int32_t>(moved)));
    }
    // ISO/IEC 14496-12 §8.7.9: without a base-data-offset a saio offset
    // counts from the moof's first byte too: past the moof it moves by the
    // moof's change, inside it with the copied box it points into. One that
    // points at bytes not copied (a dropped tfxd) cannot follow.
    // A saio's entries and the copied boxes both grow with the moof: each
    // offset finds its box by binary search, not by a scan (a 1 MiB moof of
    // 128 Ki offsets and 64 Ki boxes made 8.6e9 steps on the event loop).
    std::sort(copied.begin(), copied.end(), [](const Copied& a, const Copied& b) { return a.from < b.from; });
    for (const auto& [payload, payload_size] : saios) {
      Saio saio;
      FieldLocator at(moof.data() + payload, payload_size);
      if (!saio.io(at)) malformed(where + " has an unreadable saio");
      for (const std::uint64_t& offset : saio.offsets) {
        std::optional<std::uint64_t> moved;
        if (offset >= b.size) {
          moved = offset + static_cast<std::uint64_t>(delta);  // unsigned wrap-around is the subtraction
        } else {
          // The copied boxes do not overlap: the last one starting at or
          // before `offset` is the only one that may hold it.
          const auto after = std::upper_bound(copied.begin(), copied.end(), offset,
                                              [](std::uint64_t o, const Copied& c) { return o < c.from; });
          if (after != copied.begin()) {
            const Copied& c = *std::prev(after);
            if (offset < c.from + c.size) moved = offset - c.from + c.to;
          }
        }
        const FieldPlace place = *at.where(offset);
        if (!moved || (place.width == 4 && *moved > 0xffffffffu))
          unsupported(where + ": saio offset points at bytes the rebuilt moof does not keep in place");
        if (place.width == 8) store_u64(moof.data() + payload + place.position, *moved);
        else store_u32(moof.data() + payload + place.position, static_cast<std::uint32_t>(*moved));
      }
    }
    result.data.insert(result.data.end(), moof.begin(), moof.end());
  }
  if (!moofs) malformed("fragment has no moof");
  return result;
}

}  // namespace dashpiff::mss

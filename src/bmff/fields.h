// Field descriptions of the boxes the engine reads or writes. Each struct has
// one io() template used in all three modes (FieldReader, FieldWriter,
// FieldLocator), over the box payload, i.e. what follows the header (and the
// usertype of a 'uuid'), and names its own box (BoxFields). Counts read from
// input are checked against the bytes left before anything is allocated for
// them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bmff/box.h"

namespace dashpiff::bmff {

// What a description is the description of: its 4CC, for a 'uuid' box the
// kind of its usertype, and, where a PIFF box has the same layout as the CENC
// one (SPEC §3), that PIFF box's kind.
template <FourCC Type, UuidKind Usertype = UuidKind::other, UuidKind PiffForm = UuidKind::other>
struct BoxFields {
  static constexpr FourCC kType = Type;
  static constexpr UuidKind kUuid = Usertype;
  static constexpr UuidKind kPiffUuid = PiffForm;
  // Called by read_box() with the header the fields were read under.
  void seen_as(const BoxHeader&) {}
};

// True when `h` is the box T describes (its 4CC, or its usertype for 'uuid').
template <class T>
bool is_box(const BoxHeader& h) {
  if (!h.is_uuid()) return h.type == T::kType;
  const UuidKind kind = h.uuid_kind();
  return (T::kUuid != UuidKind::other && kind == T::kUuid) ||
         (T::kPiffUuid != UuidKind::other && kind == T::kPiffUuid);
}

struct FullBoxHeader {
  std::uint8_t version = 0;
  std::uint32_t flags = 0;
  template <class Io>
  bool io(Io& io) { return io.u8(version) && io.u24(flags); }
};

// Reads (or writes) `count` items of `width` bytes each via `item(io, i)`,
// refusing a count that cannot fit in what is left.
template <class Io, class Vec, class Item>
bool io_items(Io& io, Vec& items, std::uint64_t count, std::size_t width, Item&& item) {
  if constexpr (Io::reading) {
    if (width && count > io.remaining() / width) return false;
    items.resize(static_cast<std::size_t>(count));
  }
  for (std::size_t i = 0; i < items.size(); ++i)
    if (!item(io, items[i])) return false;
  return true;
}

// ISO/IEC 14496-12 §8.8.7
struct Tfhd : BoxFields<fourcc("tfhd")> {
  static constexpr std::uint32_t kBaseDataOffset = 0x000001;
  static constexpr std::uint32_t kSampleDescriptionIndex = 0x000002;
  static constexpr std::uint32_t kDefaultSampleDuration = 0x000008;
  static constexpr std::uint32_t kDefaultSampleSize = 0x000010;
  static constexpr std::uint32_t kDefaultSampleFlags = 0x000020;
  static constexpr std::uint32_t kDefaultBaseIsMoof = 0x020000;
  FullBoxHeader full;
  std::uint32_t track_id = 0;
  std::uint64_t base_data_offset = 0;
  std::uint32_t sample_description_index = 0;
  std::uint32_t default_sample_duration = 0;
  std::uint32_t default_sample_size = 0;
  std::uint32_t default_sample_flags = 0;

  template <class Io>
  bool io(Io& io) {
    const auto f = [this](std::uint32_t bit) { return (full.flags & bit) != 0; };
    return full.io(io) && io.u32(track_id) &&
           (!f(kBaseDataOffset) || io.u64(base_data_offset)) &&
           (!f(kSampleDescriptionIndex) || io.u32(sample_description_index)) &&
           (!f(kDefaultSampleDuration) || io.u32(default_sample_duration)) &&
           (!f(kDefaultSampleSize) || io.u32(default_sample_size)) &&
           (!f(kDefaultSampleFlags) || io.u32(default_sample_flags));
  }
};

// ISO/IEC 14496-12 §8.8.8, only the fields before the sample table: the engine
// relocates data_offset and never needs the per-sample rows.
struct TrunHead : BoxFields<fourcc("trun")> {
  static constexpr std::uint32_t kDataOffset = 0x000001;
  static constexpr std::uint32_t kFirstSampleFlags = 0x000004;
  FullBoxHeader full;
  std::uint32_t sample_count = 0;
  std::int32_t data_offset = 0;
  std::uint32_t first_sample_flags = 0;

  bool has_data_offset() const { return (full.flags & kDataOffset) != 0; }
  template <class Io>
  bool io(Io& io) {
    return full.io(io) && io.u32(sample_count) && (!has_data_offset() || io.i32(data_offset)) &&
           (!(full.flags & kFirstSampleFlags) || io.u32(first_sample_flags));
  }
};

// ISO/IEC 14496-12 §8.7.8
struct Saiz : BoxFields<fourcc("saiz")> {
  FullBoxHeader full;
  std::uint32_t aux_info_type = 0;
  std::uint32_t aux_info_type_parameter = 0;
  std::uint8_t default_sample_info_size = 0;
  std::uint32_t sample_count = 0;
  std::vector<std::uint8_t> sample_info_sizes;  // when default_sample_info_size == 0

  std::uint32_t size_of(std::uint32_t sample) const {
    return default_sample_info_size ? default_sample_info_size : sample_info_sizes[sample];
  }
  template <class Io>
  bool io(Io& io) {
    if (!(full.io(io) &&
          (!(full.flags & 1) || (io.u32(aux_info_type) && io.u32(aux_info_type_parameter))) &&
          io.u8(default_sample_info_size) && io.u32(sample_count)))
      return false;
    if (default_sample_info_size != 0) return true;
    return io_items(io, sample_info_sizes, sample_count, 1,
                    [](Io& x, std::uint8_t& v) { return x.u8(v); });
  }
};

// ISO/IEC 14496-12 §8.7.9
struct Saio : BoxFields<fourcc("saio")> {
  FullBoxHeader full;
  std::uint32_t aux_info_type = 0;
  std::uint32_t aux_info_type_parameter = 0;
  std::vector<std::uint64_t> offsets;

  template <class Io>
  bool io(Io& io) {
    std::uint32_t count = static_cast<std::uint32_t>(offsets.size());
    if (!(full.io(io) &&
          (!(full.flags & 1) || (io.u32(aux_info_type) && io.u32(aux_info_type_parameter))) &&
          io.u32(count)))
      return false;
    const unsigned width = full.version != 0 ? 8 : 4;
    return io_items(io, offsets, count, width,
                    [width](Io& x, std::uint64_t& v) { return x.uint(v, width); });
  }
};

// SPEC §3: the PIFF SampleEncryptionBox (after its usertype) and CENC 'senc'
// share this layout; only PIFF has the override fields. The per-sample
// entries stay raw bytes until the IV size is known.
struct SampleEncryption
    : BoxFields<fourcc("senc"), UuidKind::other, UuidKind::piff_sample_encryption> {
  static constexpr std::uint32_t kOverride = 0x1;    // PIFF only
  static constexpr std::uint32_t kSubsamples = 0x2;
  bool piff = false;
  FullBoxHeader full;
  std::uint32_t algorithm_id = 0;
  std::uint8_t iv_size = 0;
  Uuid kid{};
  std::uint32_t sample_count = 0;
  std::vector<std::uint8_t> entries;

  void seen_as(const BoxHeader& h) { piff = h.is_uuid(); }
  bool has_override() const { return piff && (full.flags & kOverride); }
  bool has_subsamples() const { return (full.flags & kSubsamples) != 0; }
  template <class Io>
  bool io(Io& io) {
    return full.io(io) &&
           (!has_override() || (io.u24(algorithm_id) && io.u8(iv_size) && io.array(kid))) &&
           io.u32(sample_count) && io.rest(entries);
  }
};

// CENC 'tenc' (ISO/IEC 23001-7 §8.2)
struct Tenc : BoxFields<fourcc("tenc")> {
  FullBoxHeader full;
  std::uint8_t reserved = 0;
  std::uint8_t crypt_skip = 0;  // version 1: crypt_byte_block << 4 | skip_byte_block
  std::uint8_t is_protected = 0;
  std::uint8_t iv_size = 0;
  Uuid kid{};
  std::vector<std::uint8_t> constant_iv;  // when protected with iv_size 0

  template <class Io>
  bool io(Io& io) {
    if (!(full.io(io) && io.u8(reserved) && io.u8(crypt_skip) && io.u8(is_protected) &&
          io.u8(iv_size) && io.array(kid)))
      return false;
    if (!(is_protected == 1 && iv_size == 0)) return true;
    std::uint8_t n = static_cast<std::uint8_t>(constant_iv.size());
    return io.u8(n) && io.vec(constant_iv, n);
  }
};

// PIFF 1.1 TrackEncryptionBox (after its usertype)
struct PiffTenc : BoxFields<fourcc("uuid"), UuidKind::piff_track_encryption> {
  FullBoxHeader full;
  std::uint32_t algorithm_id = 0;  // 0 clear, 1 AES-CTR, 2 AES-CBC
  std::uint8_t iv_size = 0;
  Uuid kid{};
  template <class Io>
  bool io(Io& io) { return full.io(io) && io.u24(algorithm_id) && io.u8(iv_size) && io.array(kid); }
};

// 'pssh' (ISO/IEC 23001-7 §8.1) and PIFF's version-0 equivalent
struct Pssh : BoxFields<fourcc("pssh"), UuidKind::other, UuidKind::piff_pssh> {
  FullBoxHeader full;
  Uuid system_id{};
  std::vector<Uuid> kids;  // version 1
  std::vector<std::uint8_t> data;

  template <class Io>
  bool io(Io& io) {
    if (!(full.io(io) && io.array(system_id))) return false;
    if (full.version > 0) {
      std::uint32_t n = static_cast<std::uint32_t>(kids.size());
      if (!(io.u32(n) && io_items(io, kids, n, 16, [](Io& x, Uuid& k) { return x.array(k); })))
        return false;
    }
    std::uint32_t n = static_cast<std::uint32_t>(data.size());
    return io.u32(n) && io.vec(data, n);
  }
};

// 'schm' (ISO/IEC 14496-12 §8.12.5)
struct Schm : BoxFields<fourcc("schm")> {
  FullBoxHeader full;
  FourCC scheme_type = 0;
  std::uint32_t scheme_version = 0;
  std::vector<std::uint8_t> uri;  // flags & 1

  template <class Io>
  bool io(Io& io) {
    return full.io(io) && io.u32(scheme_type) && io.u32(scheme_version) &&
           (!(full.flags & 1) || io.rest(uri));
  }
};

// 'sbgp' / 'sgpd' grouping type only: enough to see whether a traf already
// carries 'seig' sample groups. Named 'sbgp'; read_fields() reads either.
struct SampleGroupHead : BoxFields<fourcc("sbgp")> {
  FullBoxHeader full;
  FourCC grouping_type = 0;
  template <class Io>
  bool io(Io& io) { return full.io(io) && io.u32(grouping_type); }
};

// 'sbgp' with one run, as the converter writes it (§8.9.2).
struct SbgpOneRun : BoxFields<fourcc("sbgp")> {
  FullBoxHeader full;  // version 0
  FourCC grouping_type = fourcc("seig");
  std::uint32_t entry_count = 1;
  std::uint32_t sample_count = 0;
  std::uint32_t group_description_index = 0;
  template <class Io>
  bool io(Io& io) {
    return full.io(io) && io.u32(grouping_type) && io.u32(entry_count) && entry_count == 1 &&
           io.u32(sample_count) && io.u32(group_description_index);
  }
};

// 'sgpd' version 1 with one CencSampleEncryptionInformationGroupEntry
// ('seig', ISO/IEC 23001-7 §6), as the converter writes it.
struct SgpdSeig : BoxFields<fourcc("sgpd")> {
  FullBoxHeader full{1, 0};
  FourCC grouping_type = fourcc("seig");
  std::uint32_t default_length = 20;
  std::uint32_t entry_count = 1;
  std::uint8_t reserved = 0;
  std::uint8_t crypt_skip = 0;
  std::uint8_t is_protected = 0;
  std::uint8_t iv_size = 0;
  Uuid kid{};
  template <class Io>
  bool io(Io& io) {
    return full.io(io) && full.version == 1 && io.u32(grouping_type) && io.u32(default_length) &&
           default_length == 20 && io.u32(entry_count) && entry_count == 1 && io.u8(reserved) &&
           io.u8(crypt_skip) && io.u8(is_protected) && io.u8(iv_size) && io.array(kid);
  }
};

// 'sidx' (ISO/IEC 14496-12 §8.16.3)
struct Sidx : BoxFields<fourcc("sidx")> {
  struct Reference {
    std::uint32_t type_and_size = 0;  // reference_type(1) referenced_size(31)
    std::uint32_t duration = 0;
    std::uint32_t sap = 0;
    bool is_index() const { return (type_and_size >> 31) != 0; }
    std::uint32_t size() const { return type_and_size & 0x7fffffffu; }
  };
  FullBoxHeader full;
  std::uint32_t reference_id = 0;
  std::uint32_t timescale = 0;
  std::uint64_t earliest_presentation_time = 0;
  std::uint64_t first_offset = 0;
  std::uint16_t reserved = 0;
  std::vector<Reference> references;

  template <class Io>
  bool io(Io& io) {
    if (!(full.io(io) && io.u32(reference_id) && io.u32(timescale))) return false;
    const unsigned width = full.version == 0 ? 4 : 8;
    if (!(io.uint(earliest_presentation_time, width) && io.uint(first_offset, width))) return false;
    std::uint16_t count = static_cast<std::uint16_t>(references.size());
    return io.u16(reserved) && io.u16(count) &&
           io_items(io, references, count, 12, [](Io& x, Reference& r) {
             return x.u32(r.type_and_size) && x.u32(r.duration) && x.u32(r.sap);
           });
  }
};

// 'tfra' (ISO/IEC 14496-12 §8.8.10): where each random access point's moof
// lies in the file.
struct Tfra : BoxFields<fourcc("tfra")> {
  struct Entry {
    std::uint64_t time = 0;
    std::uint64_t moof_offset = 0;
    std::uint32_t traf_number = 0;
    std::uint32_t trun_number = 0;
    std::uint32_t sample_number = 0;
  };
  FullBoxHeader full;
  std::uint32_t track_id = 0;
  // reserved(26) length_size_of_traf_num(2) _trun_num(2) _sample_num(2):
  // each number's size in bytes, minus one.
  std::uint32_t lengths = 0;
  std::vector<Entry> entries;

  template <class Io>
  bool io(Io& io) {
    std::uint32_t count = static_cast<std::uint32_t>(entries.size());
    if (!(full.io(io) && io.u32(track_id) && io.u32(lengths) && io.u32(count))) return false;
    const unsigned wide = full.version == 1 ? 8 : 4;
    const unsigned traf = ((lengths >> 4) & 3) + 1, trun = ((lengths >> 2) & 3) + 1,
                   sample = (lengths & 3) + 1;
    return io_items(io, entries, count, 2 * wide + traf + trun + sample, [&](Io& x, Entry& e) {
      return x.uint(e.time, wide) && x.uint(e.moof_offset, wide) && x.uint(e.traf_number, traf) &&
             x.uint(e.trun_number, trun) && x.uint(e.sample_number, sample);
    });
  }
};

// Smooth Streaming timing boxes (MS-SSTR §2.2.4.4-5), after their usertype:
// the fragment's absolute time and duration (tfxd), and the times of the
// fragments that follow it (tfrf, live look-ahead). 64-bit in version 1.
struct Tfxd {
  FullBoxHeader full;
  std::uint64_t time = 0;
  std::uint64_t duration = 0;
  template <class Io>
  bool io(Io& io) {
    if (!full.io(io) || full.version > 1) return false;
    return io_time(io, full.version, time) && io_time(io, full.version, duration);
  }
  template <class Io>
  static bool io_time(Io& io, unsigned version, std::uint64_t& v) {
    if (version == 1) return io.u64(v);
    std::uint32_t v32 = static_cast<std::uint32_t>(v);
    if (!io.u32(v32)) return false;
    v = v32;
    return true;
  }
};
struct Tfrf {
  struct Entry {
    std::uint64_t time = 0;
    std::uint64_t duration = 0;
  };
  FullBoxHeader full;
  std::vector<Entry> entries;
  template <class Io>
  bool io(Io& io) {
    std::uint8_t count = static_cast<std::uint8_t>(entries.size());
    if (!full.io(io) || full.version > 1 || !io.u8(count)) return false;
    const unsigned v = full.version;
    return io_items(io, entries, count, v == 1 ? 16 : 8, [v](Io& x, Entry& e) {
      return Tfxd::io_time(x, v, e.time) && Tfxd::io_time(x, v, e.duration);
    });
  }
};

// Reads a whole payload with T::io; nullopt unless it parses.
template <class T>
std::optional<T> read_fields(const std::uint8_t* data, std::size_t size) {
  T t;
  FieldReader r(data, size);
  if (!t.io(r)) return std::nullopt;
  return t;
}
template <class T>
std::optional<T> read_fields(const std::uint8_t* buffer, const Box& box) {
  return read_fields<T>(buffer + box.payload_offset(), box.payload_size());
}

// As read_fields, for a box that must be the one T describes (its PIFF form
// included); nullopt for any other box.
template <class T>
std::optional<T> read_box(const std::uint8_t* buffer, const Box& box) {
  if (!is_box<T>(box.header)) return std::nullopt;
  T t;
  t.seen_as(box.header);
  FieldReader r(buffer + box.payload_offset(), box.payload_size());
  if (!t.io(r)) return std::nullopt;
  return t;
}

// Serialises `fields` as the box T describes (compact header; usertype for a
// 'uuid'). Returns the box size, or 0 (and `out` as it was) when a field does
// not fit its width or the box exceeds 32 bits.
template <class T>
std::size_t write_box(std::vector<std::uint8_t>& out, T& fields) {
  const std::size_t start = out.size();
  bool ok = true;
  const Uuid* usertype = T::kType == fourcc("uuid") ? &usertype_of(T::kUuid) : nullptr;
  const std::size_t size =
      write_box(out, T::kType, [&](FieldWriter& w) { ok = fields.io(w); }, usertype);
  if (ok && size) return size;
  out.resize(start);
  return 0;
}

// Per-sample auxiliary information of a sample-encryption box.
struct Subsample {
  std::uint16_t clear_bytes = 0;
  std::uint32_t protected_bytes = 0;
  bool operator==(const Subsample& o) const {
    return clear_bytes == o.clear_bytes && protected_bytes == o.protected_bytes;
  }
};
struct SampleAuxInfo {
  std::vector<std::uint8_t> iv;
  std::vector<Subsample> subsamples;
  bool operator==(const SampleAuxInfo& o) const { return iv == o.iv && subsamples == o.subsamples; }
};

// Sample-encryption entries that take no bytes (IV size 0 without
// subsamples) are accepted up to this count: a fragment of 10 s at 1,000
// samples a second has 10,000. Every other count is bounded by the bytes that
// hold its entries.
constexpr std::uint32_t kMaxEmptySampleEntries = 1u << 16;

// Walks `count` entries with the given IV size; true only when they end
// exactly at `size`. Fills the size of each entry as CENC auxiliary
// information (IV + subsample map) when `aux_sizes` is given.
bool measure_sample_entries(const std::uint8_t* data, std::size_t size, std::uint32_t count,
                            unsigned iv_size, bool subsamples,
                            std::vector<std::uint32_t>* aux_sizes, std::string* error);

std::optional<std::vector<SampleAuxInfo>> parse_sample_entries(const std::uint8_t* data,
                                                               std::size_t size,
                                                               std::uint32_t count,
                                                               unsigned iv_size, bool subsamples);

// The layout of a sample-encryption box's entries: the IV size and each
// entry's size as CENC auxiliary information (what a saiz records).
struct EntryLayout {
  unsigned iv_size = 0;
  std::vector<std::uint32_t> aux_sizes;
};

// True when `saiz` (if any) records exactly these per-sample sizes.
bool saiz_agrees(const Saiz* saiz, const std::vector<std::uint32_t>& aux_sizes);

enum class IvInference { unique, none, ambiguous };

// SPEC §3: without the override fields the IV size is the track's ('tenc'),
// which a media request cannot see. The entries decide: the one size of 8
// and 16 whose entries end exactly at the box end (and agree with `saiz` when
// one is given). `out` is filled for `unique`.
IvInference infer_iv_size(const SampleEncryption& se, const Saiz* saiz, EntryLayout& out);

}  // namespace dashpiff::bmff

#include "bmff/box.h"

#include <algorithm>
#include <cstring>

namespace dashpiff::bmff {

const Uuid kPiffSampleEncryptionUuid = {0xa2, 0x39, 0x4f, 0x52, 0x5a, 0x9b, 0x4f, 0x14,
                                        0xa2, 0x44, 0x6c, 0x42, 0x7c, 0x64, 0x8d, 0xf4};
const Uuid kPiffTrackEncryptionUuid = {0x89, 0x74, 0xdb, 0xce, 0x7b, 0xe7, 0x4c, 0x51,
                                       0x84, 0xf9, 0x71, 0x48, 0xf9, 0x88, 0x25, 0x54};
const Uuid kPiffPsshUuid = {0xd0, 0x8a, 0x4f, 0x18, 0x10, 0xf3, 0x4a, 0x82,
                            0xb6, 0xc8, 0x32, 0xd8, 0xab, 0xa1, 0x83, 0xd3};
const Uuid kTfxdUuid = {0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6,
                        0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57, 0xb2};
const Uuid kTfrfUuid = {0xd4, 0x80, 0x7e, 0xf2, 0xca, 0x39, 0x46, 0x95,
                        0x8e, 0x54, 0x26, 0xcb, 0x9e, 0x46, 0xa7, 0x9f};
// ISO/IEC 14496-12 §11.1: 4CC 'free' as a UUID.
const Uuid kFreeUuid = {0x66, 0x72, 0x65, 0x65, 0x00, 0x11, 0x00, 0x10,
                        0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

namespace {
constexpr FourCC kUuid = fourcc("uuid");
}

std::string fourcc_text(FourCC type) {
  std::string s(4, '.');
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<unsigned char>(type >> (24 - 8 * i));
    if (c >= 0x20 && c < 0x7f) s[i] = static_cast<char>(c);
  }
  return s;
}

bool plausible_fourcc(FourCC type) {
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<unsigned char>(type >> (24 - 8 * i));
    if (!((c >= 0x20 && c < 0x7f) || c == 0xa9)) return false;
  }
  return true;
}

UuidKind classify_uuid(const std::uint8_t* u) {
  const auto is = [u](const Uuid& id) { return std::memcmp(u, id.data(), id.size()) == 0; };
  if (is(kPiffSampleEncryptionUuid)) return UuidKind::piff_sample_encryption;
  if (is(kPiffTrackEncryptionUuid)) return UuidKind::piff_track_encryption;
  if (is(kPiffPsshUuid)) return UuidKind::piff_pssh;
  if (is(kTfxdUuid)) return UuidKind::tfxd;
  if (is(kTfrfUuid)) return UuidKind::tfrf;
  if (is(kFreeUuid)) return UuidKind::free_uuid;
  return UuidKind::other;
}

const char* uuid_kind_name(UuidKind kind) {
  switch (kind) {
    case UuidKind::piff_sample_encryption: return "PIFF SampleEncryptionBox";
    case UuidKind::piff_track_encryption: return "PIFF TrackEncryptionBox";
    case UuidKind::piff_pssh: return "PIFF ProtectionSystemSpecificHeaderBox";
    case UuidKind::tfxd: return "Smooth tfxd";
    case UuidKind::tfrf: return "Smooth tfrf";
    case UuidKind::free_uuid: return "free (UUID form)";
    case UuidKind::other: break;
  }
  return "unknown uuid";
}

const Uuid& usertype_of(UuidKind kind) {
  static const Uuid kNone{};
  switch (kind) {
    case UuidKind::piff_sample_encryption: return kPiffSampleEncryptionUuid;
    case UuidKind::piff_track_encryption: return kPiffTrackEncryptionUuid;
    case UuidKind::piff_pssh: return kPiffPsshUuid;
    case UuidKind::tfxd: return kTfxdUuid;
    case UuidKind::tfrf: return kTfrfUuid;
    case UuidKind::free_uuid: return kFreeUuid;
    case UuidKind::other: break;
  }
  return kNone;
}

bool BoxHeader::is_uuid() const { return type == kUuid; }

UuidKind BoxHeader::uuid_kind() const {
  return is_uuid() ? classify_uuid(usertype.data()) : UuidKind::other;
}

std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         std::uint32_t(p[3]);
}

std::uint64_t load_u64(const std::uint8_t* p) {
  return (std::uint64_t(load_u32(p)) << 32) | load_u32(p + 4);
}

void store_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = std::uint8_t(v >> 24);
  p[1] = std::uint8_t(v >> 16);
  p[2] = std::uint8_t(v >> 8);
  p[3] = std::uint8_t(v);
}

void store_u64(std::uint8_t* p, std::uint64_t v) {
  store_u32(p, std::uint32_t(v >> 32));
  store_u32(p + 4, std::uint32_t(v));
}

HeaderParse parse_box_header(const std::uint8_t* data, std::size_t avail,
                             std::optional<std::uint64_t> extent) {
  HeaderParse r;
  r.needed = 8;
  if (extent && *extent < 8) {
    r.status = HeaderStatus::invalid;
    r.error = "fewer than 8 bytes left for a box header";
    return r;
  }
  if (avail < 8) return r;
  const std::uint32_t size32 = load_u32(data);
  BoxHeader& h = r.header;
  h.type = load_u32(data + 4);
  if (!plausible_fourcc(h.type)) {
    r.status = HeaderStatus::invalid;
    r.error = "box type is not a printable 4CC";
    return r;
  }
  std::size_t header = 8;
  if (size32 == 1) {
    header = 16;
    h.form = SizeForm::large;
  } else if (size32 == 0) {
    h.form = SizeForm::to_end;
  }
  if (h.type == kUuid) header += 16;
  r.needed = header;
  if (extent && *extent < header) {
    r.status = HeaderStatus::invalid;
    r.error = "box header runs past its parent";
    return r;
  }
  if (avail < header) return r;
  h.header_size = static_cast<std::uint8_t>(header);
  switch (h.form) {
    case SizeForm::compact: h.size = size32; break;
    case SizeForm::large: h.size = load_u64(data + 8); break;
    case SizeForm::to_end: h.size = extent ? *extent : 0; break;
  }
  if (h.type == kUuid) std::memcpy(h.usertype.data(), data + header - 16, 16);
  const bool unknown_end = h.form == SizeForm::to_end && !extent;
  if (!unknown_end && h.size < header) {
    r.status = HeaderStatus::invalid;
    r.error = "box size smaller than its header";
    return r;
  }
  if (extent && h.size > *extent) {
    r.status = HeaderStatus::invalid;
    r.error = "box size runs past its parent";
    return r;
  }
  r.status = HeaderStatus::ok;
  return r;
}

std::optional<std::size_t> container_prefix(FourCC type, const std::uint8_t* payload,
                                            std::size_t payload_size) {
  switch (type) {
    case fourcc("moof"): case fourcc("traf"): case fourcc("moov"): case fourcc("trak"):
    case fourcc("mdia"): case fourcc("minf"): case fourcc("stbl"): case fourcc("sinf"):
    case fourcc("schi"): case fourcc("mvex"): case fourcc("edts"): case fourcc("dinf"):
      return 0;
    case fourcc("stsd"):  // FullBox + entry_count
      return 8;
    case fourcc("encv"):  // SampleEntry (8) + VisualSampleEntry fields (70)
      return 78;
    case fourcc("enca"): {
      // SampleEntry (8) + AudioSampleEntry (20); QuickTime sound description
      // versions 1 and 2 (first 16 bits after the SampleEntry) are longer.
      if (payload_size < 10) return 28;
      const unsigned version = (unsigned(payload[8]) << 8) | payload[9];
      if (version == 1) return 28 + 16;
      if (version == 2) return 28 + 36;
      return 28;
    }
    default:
      return std::nullopt;
  }
}

const Node* Node::child(FourCC type) const {
  for (const Node& c : children)
    if (c.box.header.type == type) return &c;
  return nullptr;
}

std::vector<const Node*> Node::children_of(FourCC type) const {
  std::vector<const Node*> out;
  for (const Node& c : children)
    if (c.box.header.type == type) out.push_back(&c);
  return out;
}

bool walk_boxes(const std::uint8_t* data, std::size_t begin, std::size_t end,
                std::vector<Box>& out, std::string& error, std::size_t max_boxes) {
  std::size_t pos = begin;
  while (pos < end) {
    if (out.size() >= max_boxes) {
      error = "more than " + std::to_string(max_boxes) + " boxes";
      return false;
    }
    const HeaderParse hp = parse_box_header(data + pos, end - pos, end - pos);
    if (hp.status != HeaderStatus::ok) {
      error = hp.status == HeaderStatus::invalid ? hp.error : "truncated box header";
      if (end - pos >= 8 && hp.header.type != 0)
        error = "'" + fourcc_text(hp.header.type) + "': " + error;
      error += " at offset " + std::to_string(pos);
      return false;
    }
    Box b;
    b.header = hp.header;
    b.offset = pos;
    b.size = static_cast<std::size_t>(hp.header.size);
    out.push_back(b);
    pos += b.size;
  }
  return true;
}

namespace {

constexpr int kMaxDepth = 16;  // the deepest real path (moov..schi) is 10

// `budget` is how many more nodes the tree may take.
bool parse_children(const std::uint8_t* data, Node& node, int depth, std::size_t& budget,
                    std::string& error) {
  const Box& b = node.box;
  const auto prefix = container_prefix(b.header.type, data + b.payload_offset(), b.payload_size());
  if (!prefix) return true;
  if (*prefix > b.payload_size()) {
    error = "'" + fourcc_text(b.header.type) + "' at offset " + std::to_string(b.offset) +
            " too small for its fields";
    return false;
  }
  if (depth >= kMaxDepth) {
    error = "boxes nested deeper than " + std::to_string(kMaxDepth);
    return false;
  }
  node.container = true;
  std::vector<Box> boxes;
  if (!walk_boxes(data, b.payload_offset() + *prefix, b.end(), boxes, error, budget)) {
    if (boxes.size() >= budget) error = "more than " + std::to_string(kMaxTreeNodes) + " boxes in one tree";
    error = "inside '" + fourcc_text(b.header.type) + "' at offset " + std::to_string(b.offset) +
            ": " + error;
    return false;
  }
  budget -= boxes.size();
  node.children.reserve(boxes.size());
  for (const Box& c : boxes) {
    node.children.push_back(Node{c, false, {}});
    if (!parse_children(data, node.children.back(), depth + 1, budget, error)) return false;
  }
  return true;
}

}  // namespace

std::optional<Node> parse_tree(const std::uint8_t* data, std::size_t size, std::string& error) {
  const HeaderParse hp = parse_box_header(data, size, size);
  if (hp.status != HeaderStatus::ok) {
    error = hp.status == HeaderStatus::invalid ? hp.error : "truncated box header";
    return std::nullopt;
  }
  if (hp.header.size != size) {
    error = "box size " + std::to_string(hp.header.size) + " differs from the " +
            std::to_string(size) + " bytes held";
    return std::nullopt;
  }
  Node root{Box{hp.header, 0, size}, false, {}};
  std::size_t budget = kMaxTreeNodes - 1;
  if (!parse_children(data, root, 0, budget, error)) return std::nullopt;
  return root;
}

// FieldReader ---------------------------------------------------------------

bool FieldReader::take(std::size_t n) {
  if (failed_ || n > size_ - pos_) {
    failed_ = true;
    return false;
  }
  return true;
}

bool FieldReader::u8(std::uint8_t& v) {
  if (!take(1)) return false;
  v = data_[pos_++];
  return true;
}

bool FieldReader::u16(std::uint16_t& v) {
  if (!take(2)) return false;
  v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
  pos_ += 2;
  return true;
}

bool FieldReader::u24(std::uint32_t& v) {
  if (!take(3)) return false;
  v = (std::uint32_t(data_[pos_]) << 16) | (std::uint32_t(data_[pos_ + 1]) << 8) | data_[pos_ + 2];
  pos_ += 3;
  return true;
}

bool FieldReader::u32(std::uint32_t& v) {
  if (!take(4)) return false;
  v = load_u32(data_ + pos_);
  pos_ += 4;
  return true;
}

bool FieldReader::u64(std::uint64_t& v) {
  if (!take(8)) return false;
  v = load_u64(data_ + pos_);
  pos_ += 8;
  return true;
}

bool FieldReader::i32(std::int32_t& v) {
  std::uint32_t u = 0;
  if (!u32(u)) return false;
  v = static_cast<std::int32_t>(u);
  return true;
}

bool FieldReader::bytes(std::uint8_t* dst, std::size_t n) {
  if (!take(n)) return false;
  if (n) std::memcpy(dst, data_ + pos_, n);
  pos_ += n;
  return true;
}

bool FieldReader::vec(std::vector<std::uint8_t>& v, std::size_t n) {
  if (!take(n)) return false;
  v.assign(data_ + pos_, data_ + pos_ + n);
  pos_ += n;
  return true;
}

bool FieldReader::rest(std::vector<std::uint8_t>& v) { return vec(v, remaining()); }

bool FieldReader::uint_n(std::uint64_t& v, unsigned width) {
  if (width == 0 || width > 8 || !take(width)) return false;
  v = 0;
  for (unsigned i = 0; i < width; ++i) v = (v << 8) | data_[pos_ + i];
  pos_ += width;
  return true;
}

// FieldWriter ---------------------------------------------------------------

bool FieldWriter::u8(std::uint8_t& v) {
  out_.push_back(v);
  return true;
}

bool FieldWriter::u16(std::uint16_t& v) {
  out_.push_back(std::uint8_t(v >> 8));
  out_.push_back(std::uint8_t(v));
  return true;
}

bool FieldWriter::u24(std::uint32_t& v) {
  out_.push_back(std::uint8_t(v >> 16));
  out_.push_back(std::uint8_t(v >> 8));
  out_.push_back(std::uint8_t(v));
  return true;
}

bool FieldWriter::u32(std::uint32_t& v) {
  const std::size_t at = out_.size();
  out_.resize(at + 4);
  store_u32(out_.data() + at, v);
  return true;
}

bool FieldWriter::u64(std::uint64_t& v) {
  const std::size_t at = out_.size();
  out_.resize(at + 8);
  store_u64(out_.data() + at, v);
  return true;
}

bool FieldWriter::i32(std::int32_t& v) {
  std::uint32_t u = static_cast<std::uint32_t>(v);
  return u32(u);
}

bool FieldWriter::bytes(const std::uint8_t* src, std::size_t n) {
  out_.insert(out_.end(), src, src + n);
  return true;
}

bool FieldWriter::uint_n(std::uint64_t v, unsigned width) {
  if (width == 0 || width > 8 || (width < 8 && (v >> (8 * width)) != 0)) return false;
  for (unsigned i = width; i-- > 0;) out_.push_back(std::uint8_t(v >> (8 * i)));
  return true;
}

bool FieldWriter::vec(std::vector<std::uint8_t>& v, std::size_t n) {
  v.resize(n);  // a description that says n bytes writes n bytes
  return bytes(v.data(), n);
}

// FieldLocator --------------------------------------------------------------

std::optional<FieldPlace> FieldLocator::find(const void* field) const {
  const std::size_t n = places_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (hint_ + k) % n;
    if (places_[i].field == field) {
      hint_ = i + 1;
      return places_[i].place;
    }
  }
  return std::nullopt;
}

}  // namespace dashpiff::bmff

// ISO BMFF primitives (ISO/IEC 14496-12 §4.2): box headers, 4CCs, the PIFF
// usertypes, a bounds-checked walker over boxes held in memory, and the
// field reader/writer pair that box descriptions (bmff_fields.h) share.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dashpiff::bmff {

using FourCC = std::uint32_t;
using Uuid = std::array<std::uint8_t, 16>;

constexpr FourCC fourcc(const char (&s)[5]) {
  return (FourCC(std::uint8_t(s[0])) << 24) | (FourCC(std::uint8_t(s[1])) << 16) |
         (FourCC(std::uint8_t(s[2])) << 8) | FourCC(std::uint8_t(s[3]));
}
std::string fourcc_text(FourCC type);  // printable, non-printable bytes as '.'

// Every 4CC in the wild is printable ASCII (plus '©' in QuickTime metadata);
// anything else means we are not looking at a box header.
bool plausible_fourcc(FourCC type);

// SPEC §3: PIFF boxes are 'uuid' boxes told apart by their usertype.
enum class UuidKind {
  other,
  piff_sample_encryption,
  piff_track_encryption,
  piff_pssh,
  tfxd,
  tfrf,
  free_uuid,  // 66726565-0011-0010-8000-00aa00389b71, the UUID form of 'free'
};
UuidKind classify_uuid(const std::uint8_t* usertype);
const char* uuid_kind_name(UuidKind kind);  // "PIFF SampleEncryptionBox", ...
const Uuid& usertype_of(UuidKind kind);     // all zero for `other`
extern const Uuid kPiffSampleEncryptionUuid;
extern const Uuid kPiffTrackEncryptionUuid;
extern const Uuid kPiffPsshUuid;
extern const Uuid kTfxdUuid;
extern const Uuid kTfrfUuid;
extern const Uuid kFreeUuid;

// How the size of a box was written; a rewrite keeps the form.
enum class SizeForm : std::uint8_t { compact, large, to_end };

struct BoxHeader {
  FourCC type = 0;
  std::uint64_t size = 0;       // whole box; for to_end: up to the end of the parent
  std::uint8_t header_size = 0;  // 8 or 16, plus 16 for the usertype of a 'uuid'
  SizeForm form = SizeForm::compact;
  Uuid usertype{};               // only for 'uuid'

  bool is_uuid() const;
  UuidKind uuid_kind() const;    // other for non-uuid boxes
};

enum class HeaderStatus { ok, need_more, invalid };

struct HeaderParse {
  HeaderStatus status = HeaderStatus::need_more;
  std::size_t needed = 8;  // bytes the header needs (need_more) or has (ok)
  BoxHeader header;
  const char* error = "";  // set when invalid
};

// Reads the header at data[0, avail). `extent` is how many bytes the box may
// occupy (what is left of its parent), or nullopt for a top-level box of a
// stream of unknown length; a to_end box then has size 0.
HeaderParse parse_box_header(const std::uint8_t* data, std::size_t avail,
                             std::optional<std::uint64_t> extent);

// The bytes a container carries before its first child box, or nullopt when
// `type` is not a container the engine descends into. `payload` is what
// follows the header (needed for the audio sample entry version).
std::optional<std::size_t> container_prefix(FourCC type, const std::uint8_t* payload,
                                            std::size_t payload_size);

// A box inside a buffer held in memory; offsets are from the buffer's start.
struct Box {
  BoxHeader header;
  std::size_t offset = 0;
  std::size_t size = 0;
  std::size_t payload_offset() const { return offset + header.header_size; }
  std::size_t payload_size() const { return size - header.header_size; }
  std::size_t end() const { return offset + size; }
};

struct Node {
  Box box;
  bool container = false;
  std::vector<Node> children;

  const Node* child(FourCC type) const;  // first child of that type
  std::vector<const Node*> children_of(FourCC type) const;
};

// Most nodes a parse tree may have (issue #12: a held box's tree is bounded
// by a count, not only by its bytes; 8-byte boxes would otherwise make ~10
// bytes of tree per byte held). The largest real moov in tests/data has a
// few hundred; a moof has about ten per traf.
constexpr std::size_t kMaxTreeNodes = 10000;

// Parses the box at data[0, size) (which must be exactly one box) and the
// children of every container in it. On failure returns nullopt and names the
// first box whose size does not add up, or says the tree has more than
// kMaxTreeNodes nodes.
std::optional<Node> parse_tree(const std::uint8_t* data, std::size_t size, std::string& error);

// The boxes of data[begin, end) one level deep; false (and error) when their
// sizes do not add up to exactly end, or when there are more than max_boxes.
bool walk_boxes(const std::uint8_t* data, std::size_t begin, std::size_t end,
                std::vector<Box>& out, std::string& error,
                std::size_t max_boxes = kMaxTreeNodes);

// Big-endian helpers for fixed positions in buffers already bounds-checked.
std::uint32_t load_u32(const std::uint8_t* p);
std::uint64_t load_u64(const std::uint8_t* p);
void store_u32(std::uint8_t* p, std::uint32_t v);
void store_u64(std::uint8_t* p, std::uint64_t v);

// Field I/O shared by the box descriptions: the same template function reads
// or writes a box, so the two directions cannot drift apart (Shaka Packager's
// idea). Every read checks the remaining size first; a failed read leaves the
// reader failed and returns false.
class FieldReader {
 public:
  static constexpr bool reading = true;
  FieldReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool u8(std::uint8_t& v);
  bool u16(std::uint16_t& v);
  bool u24(std::uint32_t& v);
  bool u32(std::uint32_t& v);
  bool u64(std::uint64_t& v);
  bool i32(std::int32_t& v);
  bool bytes(std::uint8_t* dst, std::size_t n);
  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& a) { return bytes(a.data(), N); }
  bool vec(std::vector<std::uint8_t>& v, std::size_t n);  // n bytes into v
  bool rest(std::vector<std::uint8_t>& v);                 // everything left
  // An unsigned field of `width` bytes (1 to 8) whose width the box decides
  // (version 0/1 offsets, tfra's length_size_of_* fields).
  template <class U>
  bool uint(U& v, unsigned width) {
    std::uint64_t x = 0;
    if (width > sizeof(U) || !uint_n(x, width)) return false;
    v = static_cast<U>(x);
    return true;
  }

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return size_ - pos_; }
  bool failed() const { return failed_; }

 private:
  bool take(std::size_t n);
  bool uint_n(std::uint64_t& v, unsigned width);
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

class FieldWriter {
 public:
  static constexpr bool reading = false;
  explicit FieldWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  bool u8(std::uint8_t& v);
  bool u16(std::uint16_t& v);
  bool u24(std::uint32_t& v);
  bool u32(std::uint32_t& v);
  bool u64(std::uint64_t& v);
  bool i32(std::int32_t& v);
  bool bytes(const std::uint8_t* src, std::size_t n);
  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& a) { return bytes(a.data(), N); }
  bool vec(std::vector<std::uint8_t>& v, std::size_t n);
  bool rest(std::vector<std::uint8_t>& v) { return bytes(v.data(), v.size()); }
  // Fails (writes nothing) when the value does not fit in `width` bytes.
  template <class U>
  bool uint(U& v, unsigned width) { return uint_n(static_cast<std::uint64_t>(v), width); }

  std::size_t position() const { return out_.size(); }

 private:
  bool uint_n(std::uint64_t v, unsigned width);
  std::vector<std::uint8_t>& out_;
};

// Where a field lies within the payload a description was located over.
struct FieldPlace {
  std::size_t position = 0;
  std::size_t width = 0;  // bytes
};

// The third mode of the same descriptions: reads like FieldReader (values
// read decide which fields follow) and records where each field lies, so
// code that patches a field in place (relocation, self-references of new
// boxes) asks the description for its position instead of counting bytes.
// A field is named by the member it was read into: `where(saio.offsets[0])`.
class FieldLocator : public FieldReader {
 public:
  FieldLocator(const std::uint8_t* data, std::size_t size) : FieldReader(data, size) {
    places_.reserve(16);  // the head of a box: one allocation
  }

  bool u8(std::uint8_t& v) { return note(&v, 1, FieldReader::u8(v)); }
  bool u16(std::uint16_t& v) { return note(&v, 2, FieldReader::u16(v)); }
  bool u24(std::uint32_t& v) { return note(&v, 3, FieldReader::u24(v)); }
  bool u32(std::uint32_t& v) { return note(&v, 4, FieldReader::u32(v)); }
  bool u64(std::uint64_t& v) { return note(&v, 8, FieldReader::u64(v)); }
  bool i32(std::int32_t& v) { return note(&v, 4, FieldReader::i32(v)); }
  template <std::size_t N>
  bool array(std::array<std::uint8_t, N>& a) { return note(&a, N, FieldReader::array(a)); }
  bool vec(std::vector<std::uint8_t>& v, std::size_t n) { return note(&v, n, FieldReader::vec(v, n)); }
  bool rest(std::vector<std::uint8_t>& v) {
    const std::size_t n = remaining();
    return note(&v, n, FieldReader::rest(v));
  }
  template <class U>
  bool uint(U& v, unsigned width) { return note(&v, width, FieldReader::uint(v, width)); }

  // Where the field read into `field` lies; nullopt for a member the
  // description did not read (absent under its flags, or not a field).
  template <class T>
  std::optional<FieldPlace> where(const T& field) const { return find(&field); }
  // Every field located, in the order read.
  std::size_t fields() const { return places_.size(); }
  FieldPlace place(std::size_t i) const { return places_[i].place; }

 private:
  struct Entry {
    const void* field;
    FieldPlace place;
  };
  // Records a field read successfully; `width` is taken before the read so
  // that rest() records what it took.
  bool note(const void* field, std::size_t width, bool ok) {
    if (ok) places_.push_back({field, {position() - width, width}});
    return ok;
  }
  std::optional<FieldPlace> find(const void* field) const;
  std::vector<Entry> places_;
  mutable std::size_t hint_ = 0;  // lookups usually go in reading order
};

// Serialises a box: a compact header (or 'uuid' + usertype) then the body that
// `write_body` appends. Returns the total size, or 0 if it exceeds 32 bits.
template <class Body>
std::size_t write_box(std::vector<std::uint8_t>& out, FourCC type, Body&& write_body,
                      const Uuid* usertype = nullptr) {
  const std::size_t start = out.size();
  out.resize(start + 8);
  store_u32(out.data() + start + 4, type);
  if (usertype) out.insert(out.end(), usertype->begin(), usertype->end());
  FieldWriter w(out);
  write_body(w);
  const std::size_t size = out.size() - start;
  if (size > 0xffffffffu) return 0;
  store_u32(out.data() + start, static_cast<std::uint32_t>(size));
  return size;
}

}  // namespace dashpiff::bmff

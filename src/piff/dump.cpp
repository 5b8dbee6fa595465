#include "piff/dump.h"

#include <iomanip>
#include <sstream>
#include <vector>

#include "bmff/box.h"
#include "bmff/fields.h"

namespace dashpiff {

using namespace bmff;

namespace {

std::string hex(const std::uint8_t* p, std::size_t n) {
  std::ostringstream s;
  s << std::hex << std::setfill('0');
  for (std::size_t i = 0; i < n; ++i) s << std::setw(2) << unsigned(p[i]);
  return s.str();
}

std::string flags_hex(std::uint32_t f) {
  std::ostringstream s;
  s << "0x" << std::hex << std::setfill('0') << std::setw(6) << f;
  return s.str();
}

// Measured, not parsed into per-sample objects: the summary needs only the
// first IV and a total, and a file's counts must not size the tool's memory.
std::string sample_entries_summary(const SampleEncryption& se, unsigned iv_size) {
  std::ostringstream s;
  std::vector<std::uint32_t> sizes;
  if (!measure_sample_entries(se.entries.data(), se.entries.size(), se.sample_count, iv_size,
                              se.has_subsamples(), &sizes, nullptr))
    return "entries do not parse with IV size " + std::to_string(iv_size);
  s << "iv_size=" << iv_size;
  if (!sizes.empty()) s << " first_iv=" << hex(se.entries.data(), iv_size);
  if (se.has_subsamples()) {
    std::size_t subs = 0;
    for (const std::uint32_t n : sizes) subs += (n - iv_size - 2) / 6;  // IV, count, 6 per entry
    s << " subsamples=" << subs;
  }
  return s.str();
}

// IV size of a sample-encryption box seen without its track: the one that
// parses to the end (as the converter infers it).
std::string sample_encryption_summary(const SampleEncryption& se) {
  std::ostringstream s;
  s << "flags=" << flags_hex(se.full.flags) << " samples=" << se.sample_count;
  if (se.has_override())
    s << " override(alg=" << se.algorithm_id << " iv_size=" << unsigned(se.iv_size)
      << " kid=" << hex(se.kid.data(), 16) << ")";
  if (se.has_override()) return s.str() + " " + sample_entries_summary(se, se.iv_size);
  EntryLayout layout;
  switch (infer_iv_size(se, nullptr, layout)) {
    case IvInference::unique:
      return s.str() + " " + sample_entries_summary(se, layout.iv_size) + " (inferred)";
    case IvInference::none: s << " iv_size=? (neither 8 nor 16 parses)"; break;
    case IvInference::ambiguous: s << " iv_size=8 or 16 (ambiguous)"; break;
  }
  return s.str();
}

std::string details(const std::uint8_t* buf, const Box& b) {
  const BoxHeader& h = b.header;
  std::ostringstream s;
  switch (h.type) {
    case fourcc("tfhd"):
      if (auto t = read_fields<Tfhd>(buf, b)) {
        s << "track=" << t->track_id << " flags=" << flags_hex(t->full.flags);
        if (t->full.flags & Tfhd::kDefaultBaseIsMoof) s << " default-base-is-moof";
        if (t->full.flags & Tfhd::kBaseDataOffset) s << " base_data_offset=" << t->base_data_offset;
      }
      break;
    case fourcc("trun"):
      if (auto t = read_fields<TrunHead>(buf, b)) {
        s << "samples=" << t->sample_count;
        if (t->has_data_offset()) s << " data_offset=" << t->data_offset;
      }
      break;
    case fourcc("tfdt"): {
      FieldReader r(buf + b.payload_offset(), b.payload_size());
      FullBoxHeader full;
      std::uint64_t t = 0;
      if (full.io(r) && full.version <= 1 && Tfxd::io_time(r, full.version, t)) s << "base_media_decode_time=" << t;
      break;
    }
    case fourcc("senc"):
      if (auto se = read_fields<SampleEncryption>(buf, b)) s << sample_encryption_summary(*se);
      break;
    case fourcc("saiz"):
      if (auto z = read_fields<Saiz>(buf, b)) {
        s << "samples=" << z->sample_count << " default_size=" << unsigned(z->default_sample_info_size);
        if (z->full.flags & 1) s << " aux_type=" << fourcc_text(z->aux_info_type);
        if (!z->sample_info_sizes.empty()) s << " first_size=" << unsigned(z->sample_info_sizes[0]);
      }
      break;
    case fourcc("saio"):
      if (auto o = read_fields<Saio>(buf, b)) {
        s << "entries=" << o->offsets.size();
        if (!o->offsets.empty()) s << " offset=" << o->offsets[0];
      }
      break;
    case fourcc("tenc"):
      if (auto t = read_fields<Tenc>(buf, b))
        s << "protected=" << unsigned(t->is_protected) << " iv_size=" << unsigned(t->iv_size)
          << " kid=" << hex(t->kid.data(), 16);
      break;
    case fourcc("schm"):
      if (auto t = read_fields<Schm>(buf, b)) {
        std::ostringstream v;
        v << "0x" << std::hex << std::setfill('0') << std::setw(8) << t->scheme_version;
        s << "scheme=" << fourcc_text(t->scheme_type) << " version=" << v.str();
      }
      break;
    case fourcc("pssh"):
      if (auto p = read_fields<Pssh>(buf, b))
        s << "system=" << hex(p->system_id.data(), 16) << " data=" << p->data.size() << " bytes";
      break;
    case fourcc("sidx"):
      if (auto x = read_fields<Sidx>(buf, b)) {
        s << "timescale=" << x->timescale << " first_offset=" << x->first_offset
          << " references=" << x->references.size();
        if (!x->references.empty())
          s << " first_size=" << x->references[0].size()
            << (x->references[0].is_index() ? " (sidx)" : "");
      }
      break;
    case fourcc("sbgp"):
    case fourcc("sgpd"):
      if (auto g = read_fields<SampleGroupHead>(buf, b)) s << "grouping=" << fourcc_text(g->grouping_type);
      break;
    case fourcc("uuid"): {
      const UuidKind kind = h.uuid_kind();
      const std::uint8_t* p = buf + b.payload_offset();
      const std::size_t n = b.payload_size();
      if (kind == UuidKind::piff_sample_encryption) {
        if (const auto se = read_box<SampleEncryption>(buf, b)) s << sample_encryption_summary(*se);
        else s << "fields do not parse";
      } else if (kind == UuidKind::piff_track_encryption) {
        if (auto t = read_fields<PiffTenc>(p, n))
          s << "alg=" << t->algorithm_id << " iv_size=" << unsigned(t->iv_size)
            << " kid=" << hex(t->kid.data(), 16);
      } else if (kind == UuidKind::piff_pssh) {
        if (auto t = read_fields<Pssh>(p, n))
          s << "system=" << hex(t->system_id.data(), 16) << " data=" << t->data.size() << " bytes";
      } else if (kind == UuidKind::tfxd) {
        if (auto t = read_fields<Tfxd>(p, n)) s << "time=" << t->time << " duration=" << t->duration;
        else s << "fields do not parse";
      } else if (kind == UuidKind::tfrf) {
        if (auto t = read_fields<Tfrf>(p, n)) {
          s << "next=" << t->entries.size();
          for (const auto& e : t->entries) s << " " << e.time << "+" << e.duration;
        } else {
          s << "fields do not parse";
        }
      } else if (kind == UuidKind::other) {
        s << "usertype=" << hex(h.usertype.data(), 16);
      }
      break;
    }
    default: break;
  }
  return s.str();
}

void print_line(std::ostream& out, int depth, const Box& b, std::uint64_t base, const std::string& extra) {
  const BoxHeader& h = b.header;
  out << std::string(2 * depth, ' ') << fourcc_text(h.type);
  if (h.is_uuid()) out << " [" << uuid_kind_name(h.uuid_kind()) << "]";
  out << " offset=" << base + b.offset << " size=" << b.size;
  if (h.form == SizeForm::large) out << " (largesize)";
  if (h.form == SizeForm::to_end) out << " (to end)";
  if (!extra.empty()) out << " " << extra;
  out << "\n";
}

void print_node(std::ostream& out, const std::uint8_t* buf, const Node& n, std::uint64_t base, int depth) {
  print_line(out, depth, n.box, base, details(buf, n.box));
  for (const Node& c : n.children) print_node(out, buf, c, base, depth + 1);
}

// Bytes between the read position and the end of a seekable stream.
std::uint64_t bytes_left(std::istream& in) {
  const auto here = in.tellg();
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(here);
  return (here >= 0 && end >= here) ? std::uint64_t(end - here) : 0;
}

}  // namespace

DumpResult dump_boxes(std::istream& in, std::ostream& out, std::uint64_t max_load) {
  DumpResult result;
  std::uint64_t offset = 0;
  for (;;) {
    std::uint8_t head[32];
    in.read(reinterpret_cast<char*>(head), 8);
    std::size_t got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    HeaderParse hp = parse_box_header(head, got, std::nullopt);
    if (hp.status == HeaderStatus::need_more && got == 8) {
      in.read(reinterpret_cast<char*>(head + 8), static_cast<std::streamsize>(hp.needed - 8));
      got += static_cast<std::size_t>(in.gcount());
      hp = parse_box_header(head, got, std::nullopt);
    }
    if (hp.status != HeaderStatus::ok) {
      result.complete = false;
      result.problem = (hp.status == HeaderStatus::invalid ? std::string(hp.error)
                                                           : std::string("truncated box header")) +
                       " at offset " + std::to_string(offset);
      break;
    }
    BoxHeader h = hp.header;
    if (h.form == SizeForm::to_end) h.size = bytes_left(in) + got;
    Box b{h, 0, static_cast<std::size_t>(h.size)};
    const bool load = container_prefix(h.type, nullptr, 0).has_value() && h.size <= max_load;
    if (load && h.size - got > bytes_left(in)) {
      // The declared size is checked against the bytes there before a buffer
      // of that size is made.
      print_line(out, 0, b, offset, "(truncated)");
      result.complete = false;
      result.problem = "file ends inside " + fourcc_text(h.type) + " at offset " + std::to_string(offset);
      break;
    }
    if (load) {
      std::vector<std::uint8_t> buf(static_cast<std::size_t>(h.size));
      std::copy(head, head + got, buf.begin());
      in.read(reinterpret_cast<char*>(buf.data() + got), static_cast<std::streamsize>(h.size - got));
      if (static_cast<std::uint64_t>(in.gcount()) != h.size - got) {
        print_line(out, 0, b, offset, "(truncated)");
        result.complete = false;
        result.problem = "file ends inside " + fourcc_text(h.type) + " at offset " + std::to_string(offset);
        break;
      }
      std::string error;
      if (auto tree = parse_tree(buf.data(), buf.size(), error)) {
        print_node(out, buf.data(), *tree, offset, 0);
      } else {
        print_line(out, 0, b, offset, "(children do not parse: " + error + ")");
      }
    } else {
      std::vector<std::uint8_t> buf(head, head + got);
      std::string extra;
      if (h.size <= 4096 && h.size > got) {  // small leaf: show its summary
        buf.resize(static_cast<std::size_t>(h.size));
        in.read(reinterpret_cast<char*>(buf.data() + got), static_cast<std::streamsize>(h.size - got));
        if (static_cast<std::uint64_t>(in.gcount()) == h.size - got) extra = details(buf.data(), b);
        in.seekg(static_cast<std::streamoff>(offset + got), std::ios::beg);
      }
      print_line(out, 0, b, offset, extra);
      in.clear();
      in.seekg(static_cast<std::streamoff>(offset + h.size), std::ios::beg);
      if (in.peek() == std::char_traits<char>::eof()) {
        in.clear();
        in.seekg(0, std::ios::end);
        if (static_cast<std::uint64_t>(in.tellg()) < offset + h.size) {
          result.complete = false;
          result.problem = "file ends inside " + fourcc_text(h.type) + " at offset " + std::to_string(offset);
        }
        break;
      }
    }
    offset += h.size;
    if (h.form == SizeForm::to_end) break;
  }
  return result;
}

}  // namespace dashpiff

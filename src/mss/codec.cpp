#include "mss/codec.h"

#include <cstdio>

#include "bmff/fields.h"
#include "util/strings.h"

namespace dashpiff::mss {

using bmff::FieldWriter;
using bmff::fourcc;
using bmff::write_box;

namespace {

[[noreturn]] void malformed(const std::string& why) { throw MssError(MssError::Kind::malformed, why); }

std::string hex2(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xffu);
  return buf;
}

void put(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Rbsp of a NAL unit: emulation-prevention bytes (00 00 03) removed.
Bytes rbsp(const Bytes& nal, std::size_t from) {
  Bytes out;
  int zeros = 0;
  for (std::size_t i = from; i < nal.size(); ++i) {
    if (zeros >= 2 && nal[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = nal[i] == 0 ? zeros + 1 : 0;
    out.push_back(nal[i]);
  }
  return out;
}

class BitReader {
 public:
  explicit BitReader(const Bytes& b) : b_(b) {}
  std::uint32_t bits(unsigned n) {
    std::uint32_t v = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (pos_ >= b_.size() * 8) malformed("HEVC SPS ends early");
      v = v << 1 | ((b_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
      ++pos_;
    }
    return v;
  }
  std::uint32_t ue() {
    unsigned zeros = 0;
    while (bits(1) == 0)
      if (++zeros > 31) malformed("HEVC SPS has an oversized Exp-Golomb code");
    return zeros ? (1u << zeros) - 1 + bits(zeros) : 0;
  }

 private:
  const Bytes& b_;
  std::size_t pos_ = 0;
};

// ISO/IEC 14496-15 §5.3.3.1
CodecConfig avc(const QualityLevel& level) {
  Bytes sps, pps;
  std::vector<Bytes> all_sps, all_pps;
  for (auto& nal : split_annex_b(level.codec_private_data)) {
    if (nal.empty()) continue;
    const unsigned type = nal[0] & 0x1f;
    if (type == 7) all_sps.push_back(nal);
    else if (type == 8) all_pps.push_back(nal);
  }
  if (all_sps.empty() || all_pps.empty()) malformed("AVC CodecPrivateData lacks an SPS or a PPS");
  if (all_sps.size() > 31 || all_pps.size() > 255) malformed("AVC CodecPrivateData has too many parameter sets");
  const Bytes& first = all_sps.front();
  if (first.size() < 4) malformed("AVC SPS shorter than 4 bytes");
  CodecConfig c;
  c.sample_entry = fourcc("avc1");
  c.video = true;
  c.codecs = "avc1." + hex2(first[1]) + hex2(first[2]) + hex2(first[3]);
  write_box(c.config_box, fourcc("avcC"), [&](FieldWriter& w) {
    Bytes b = {1, first[1], first[2], first[3],
               static_cast<std::uint8_t>(0xfc | (level.nal_unit_length - 1)),
               static_cast<std::uint8_t>(0xe0 | all_sps.size())};
    for (auto& s : all_sps) {
      if (s.size() > 0xffff) malformed("AVC SPS larger than 64 KiB");
      put(b, s.size(), 2);
      b.insert(b.end(), s.begin(), s.end());
    }
    b.push_back(static_cast<std::uint8_t>(all_pps.size()));
    for (auto& p : all_pps) {
      if (p.size() > 0xffff) malformed("AVC PPS larger than 64 KiB");
      put(b, p.size(), 2);
      b.insert(b.end(), p.begin(), p.end());
    }
    w.bytes(b.data(), b.size());
  });
  return c;
}

// ISO/IEC 14496-15 §8.3.3.1; the profile_tier_level and the chroma and
// bit-depth fields come from the SPS (ITU-T H.265 §7.3.2.2).
CodecConfig hevc(const QualityLevel& level, bool hev1) {
  std::vector<Bytes> vps, sps, pps;
  for (auto& nal : split_annex_b(level.codec_private_data)) {
    if (nal.size() < 2) continue;
    const unsigned type = (nal[0] >> 1) & 0x3f;
    if (type == 32) vps.push_back(nal);
    else if (type == 33) sps.push_back(nal);
    else if (type == 34) pps.push_back(nal);
  }
  if (vps.empty() || sps.empty() || pps.empty())
    malformed("HEVC CodecPrivateData lacks a VPS, SPS or PPS");
  const Bytes r = rbsp(sps.front(), 2);
  BitReader br(r);
  br.bits(4);  // sps_video_parameter_set_id
  const unsigned max_sub_layers_minus1 = br.bits(3);
  const unsigned temporal_nesting = br.bits(1);
  std::uint8_t ptl[12];
  for (auto& b : ptl) b = static_cast<std::uint8_t>(br.bits(8));
  unsigned sub_profile[8] = {}, sub_level[8] = {};
  for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
    sub_profile[i] = br.bits(1);
    sub_level[i] = br.bits(1);
  }
  if (max_sub_layers_minus1 > 0)
    for (unsigned i = max_sub_layers_minus1; i < 8; ++i) br.bits(2);
  for (unsigned i = 0; i < max_sub_layers_minus1; ++i) {
    if (sub_profile[i]) {
      br.bits(32);
      br.bits(32);
      br.bits(24);
    }
    if (sub_level[i]) br.bits(8);
  }
  br.ue();  // sps_seq_parameter_set_id
  const unsigned chroma = br.ue();
  if (chroma > 3) malformed("HEVC SPS chroma_format_idc out of range");
  if (chroma == 3) br.bits(1);
  br.ue();
  br.ue();  // pic width, height
  if (br.bits(1)) {
    br.ue();
    br.ue();
    br.ue();
    br.ue();
  }
  const unsigned depth_luma = br.ue();
  const unsigned depth_chroma = br.ue();
  if (depth_luma > 8 || depth_chroma > 8) malformed("HEVC SPS bit depth out of range");

  CodecConfig c;
  c.sample_entry = fourcc(hev1 ? "hev1" : "hvc1");
  c.video = true;
  // RFC 6381 as ISO/IEC 14496-15 Annex E: profile space, idc, reversed
  // compatibility flags, tier + level, constraint bytes without trailing zeros.
  static const char* kSpace[] = {"", "A", "B", "C"};
  const unsigned space = ptl[0] >> 6, tier = (ptl[0] >> 5) & 1, idc = ptl[0] & 0x1f;
  std::uint32_t compat = static_cast<std::uint32_t>(ptl[1]) << 24 | static_cast<std::uint32_t>(ptl[2]) << 16 |
                         static_cast<std::uint32_t>(ptl[3]) << 8 | ptl[4];
  std::uint32_t reversed = 0;
  for (int i = 0; i < 32; ++i) reversed |= ((compat >> i) & 1u) << (31 - i);
  char head[64];
  std::snprintf(head, sizeof head, "%s.%s%u.%x.%c%u", hev1 ? "hev1" : "hvc1", kSpace[space], idc, reversed,
                tier ? 'H' : 'L', ptl[11]);
  c.codecs = head;
  int last = 10;
  while (last >= 5 && ptl[last] == 0) --last;
  for (int i = 5; i <= last; ++i) c.codecs += "." + hex2(ptl[i]);

  write_box(c.config_box, fourcc("hvcC"), [&](FieldWriter& w) {
    Bytes b = {1};
    b.insert(b.end(), ptl, ptl + 11);  // profile byte, 4 compat, 6 constraint
    b.push_back(ptl[11]);             // level
    put(b, 0xf000, 2);                // min_spatial_segmentation_idc 0
    b.push_back(0xfc);                // parallelismType 0
    b.push_back(static_cast<std::uint8_t>(0xfc | chroma));
    b.push_back(static_cast<std::uint8_t>(0xf8 | depth_luma));
    b.push_back(static_cast<std::uint8_t>(0xf8 | depth_chroma));
    put(b, 0, 2);  // avgFrameRate unknown
    b.push_back(static_cast<std::uint8_t>(((max_sub_layers_minus1 + 1) << 3) | (temporal_nesting << 2) |
                                          (level.nal_unit_length - 1)));
    b.push_back(3);
    for (auto [type, list] : {std::pair<unsigned, std::vector<Bytes>*>{32, &vps}, {33, &sps}, {34, &pps}}) {
      if (list->size() > 0xffff) malformed("HEVC CodecPrivateData has too many parameter sets");
      b.push_back(static_cast<std::uint8_t>(0x80 | type));
      put(b, list->size(), 2);
      for (auto& n : *list) {
        if (n.size() > 0xffff) malformed("HEVC parameter set larger than 64 KiB");
        put(b, n.size(), 2);
        b.insert(b.end(), n.begin(), n.end());
      }
    }
    w.bytes(b.data(), b.size());
  });
  return c;
}

constexpr std::uint32_t kAacRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                       22050, 16000, 12000, 11025, 8000,  7350};

// ISO/IEC 14496-1 §8.3.3: expandable size, one to four bytes.
void descriptor(Bytes& out, std::uint8_t tag, const Bytes& body) {
  if (body.size() >= (1u << 28)) malformed("AAC descriptor too large");
  out.push_back(tag);
  for (int shift = 21; shift > 0; shift -= 7)
    if (body.size() >= (1u << shift)) out.push_back(static_cast<std::uint8_t>(0x80 | ((body.size() >> shift) & 0x7f)));
  out.push_back(static_cast<std::uint8_t>(body.size() & 0x7f));
  out.insert(out.end(), body.begin(), body.end());
}

// ISO/IEC 14496-3 §1.6.2.1, ISO/IEC 14496-14 §3.1.2 (esds)
CodecConfig aac(const StreamIndex& stream, const QualityLevel& level) {
  Bytes asc = level.codec_private_data;
  if (asc.empty()) {
    // MS-SSTR §2.2.2.5: AACL without CodecPrivateData is AAC-LC described by
    // SamplingRate and Channels alone.
    unsigned index = 15;
    for (unsigned i = 0; i < 13; ++i)
      if (kAacRates[i] == level.sampling_rate) index = i;
    if (index == 15 || level.channels == 0 || level.channels > 7)
      malformed("AAC QualityLevel without CodecPrivateData needs a standard SamplingRate and 1-7 Channels");
    asc = {static_cast<std::uint8_t>(2 << 3 | index >> 1),
           static_cast<std::uint8_t>((index & 1) << 7 | level.channels << 3)};
  }
  if (asc.size() < 2) malformed("AAC AudioSpecificConfig shorter than 2 bytes");
  unsigned aot = asc[0] >> 3;
  if (aot == 31) aot = 32 + ((asc[0] & 7u) << 3 | asc[1] >> 5);
  CodecConfig c;
  c.sample_entry = fourcc("mp4a");
  c.codecs = "mp4a.40." + std::to_string(aot);
  c.channels = static_cast<std::uint16_t>(level.channels ? level.channels : 2);
  c.sample_rate = level.sampling_rate;
  c.sample_size = static_cast<std::uint16_t>(level.bits_per_sample ? level.bits_per_sample : 16);
  if (c.sample_rate == 0) {
    const unsigned index = (asc[0] & 7u) << 1 | asc[1] >> 7;
    if (aot == 31 || index >= 13) malformed("AAC QualityLevel without SamplingRate");
    c.sample_rate = kAacRates[index];
  }
  Bytes dsi;
  descriptor(dsi, 0x05, asc);
  Bytes dcd_body = {0x40, 0x15, 0, 0, 0};  // MPEG-4 audio, audio stream, buffer size 0
  put(dcd_body, level.bitrate, 4);
  put(dcd_body, level.bitrate, 4);
  dcd_body.insert(dcd_body.end(), dsi.begin(), dsi.end());
  Bytes es_body = {0, 1, 0};  // ES_ID 1, no flags
  descriptor(es_body, 0x04, dcd_body);
  descriptor(es_body, 0x06, Bytes{0x02});
  Bytes es;
  descriptor(es, 0x03, es_body);
  write_box(c.config_box, fourcc("esds"), [&](FieldWriter& w) {
    bmff::FullBoxHeader full;
    full.io(w);
    w.bytes(es.data(), es.size());
  });
  (void)stream;
  return c;
}

}  // namespace

std::vector<Bytes> split_annex_b(const Bytes& data) {
  std::vector<Bytes> out;
  std::size_t i = 0;
  std::optional<std::size_t> start;
  while (i + 2 < data.size()) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      if (start) {
        std::size_t end = i;
        while (end > *start && data[end - 1] == 0) --end;  // trailing zero of a 4-byte start code
        out.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(*start), data.begin() + static_cast<std::ptrdiff_t>(end));
      }
      i += 3;
      start = i;
    } else {
      ++i;
    }
  }
  if (start && *start < data.size()) out.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(*start), data.end());
  return out;
}

CodecConfig codec_config(const StreamIndex& stream, const QualityLevel& level) {
  const std::string f = ascii_lower(level.fourcc);
  CodecConfig c;
  if (stream.type == StreamType::video && (f == "h264" || f == "avc1" || f == "davc")) {
    c = avc(level);
  } else if (stream.type == StreamType::video && (f == "hvc1" || f == "hev1")) {
    c = hevc(level, f == "hev1");
  } else if (stream.type == StreamType::audio && (f == "aacl" || f == "aach" || f == "mp4a" || (f.empty() && level.codec_private_data.size() >= 2))) {
    return aac(stream, level);
  } else {
    throw MssError(MssError::Kind::unsupported, "FourCC '" + level.fourcc + "' in a " + stream.type_name +
                                                    " stream is not supported");
  }
  const std::uint32_t w = level.max_width ? level.max_width : stream.display_width;
  const std::uint32_t h = level.max_height ? level.max_height : stream.display_height;
  if (!w || !h) malformed("video QualityLevel without MaxWidth/MaxHeight (or StreamIndex DisplayWidth/Height)");
  c.width = static_cast<std::uint16_t>(w);
  c.height = static_cast<std::uint16_t>(h);
  return c;
}

}  // namespace dashpiff::mss

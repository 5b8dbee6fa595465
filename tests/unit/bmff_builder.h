// Builds synthetic fragments (moof + mdat) and init segments for the engine
// tests, written from the specs independently of the engine's own writers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace testbmff {

using Bytes = std::vector<std::uint8_t>;

inline void put8(Bytes& b, unsigned v) { b.push_back(std::uint8_t(v)); }
inline void put16(Bytes& b, unsigned v) { put8(b, v >> 8); put8(b, v); }
inline void put24(Bytes& b, std::uint32_t v) { put8(b, v >> 16); put16(b, v & 0xffff); }
inline void put32(Bytes& b, std::uint32_t v) { put16(b, v >> 16); put16(b, v & 0xffff); }
inline void put64(Bytes& b, std::uint64_t v) { put32(b, std::uint32_t(v >> 32)); put32(b, std::uint32_t(v)); }
inline void put(Bytes& b, const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); }
inline void put4cc(Bytes& b, const char* t) { b.insert(b.end(), t, t + 4); }
inline std::uint32_t get32(const Bytes& b, std::size_t at) {
  return (std::uint32_t(b[at]) << 24) | (std::uint32_t(b[at + 1]) << 16) |
         (std::uint32_t(b[at + 2]) << 8) | b[at + 3];
}
inline void set32(Bytes& b, std::size_t at, std::uint32_t v) {
  b[at] = std::uint8_t(v >> 24); b[at + 1] = std::uint8_t(v >> 16);
  b[at + 2] = std::uint8_t(v >> 8); b[at + 3] = std::uint8_t(v);
}

inline Bytes box(const char* type, const Bytes& body) {
  Bytes b;
  put32(b, std::uint32_t(8 + body.size()));
  put4cc(b, type);
  put(b, body);
  return b;
}
inline Bytes large_box(const char* type, const Bytes& body) {
  Bytes b;
  put32(b, 1);
  put4cc(b, type);
  put64(b, 16 + body.size());
  put(b, body);
  return b;
}
inline Bytes full(unsigned version, std::uint32_t flags, const Bytes& body = {}) {
  Bytes b;
  put8(b, version);
  put24(b, flags);
  put(b, body);
  return b;
}
inline Bytes uuid_box(const Bytes& usertype, const Bytes& body) {
  Bytes u = usertype;
  put(u, body);
  return box("uuid", u);
}

inline Bytes hex_bytes(std::string hex) {
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  Bytes b;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    b.push_back(std::uint8_t(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return b;
}
// Spelled as in SPEC §3, not copied from the engine.
inline const Bytes kPiffSenc = hex_bytes("a2394f52-5a9b-4f14-a244-6c427c648df4");
inline const Bytes kPiffTenc = hex_bytes("8974dbce-7be7-4c51-84f9-7148f9882554");
inline const Bytes kPiffPssh = hex_bytes("d08a4f18-10f3-4a82-b6c8-32d8aba183d3");
inline const Bytes kTfxd = hex_bytes("6d1d9b05-42d5-44e6-80e2-141daff757b2");
inline const Bytes kTfrf = hex_bytes("d4807ef2-ca39-4695-8e54-26cb9e46a79f");
inline const Bytes kFreeUuid = hex_bytes("66726565-0011-0010-8000-00aa00389b71");

struct Sample {
  Bytes data;
  Bytes iv;
  std::vector<std::pair<std::uint16_t, std::uint32_t>> subsamples;
};

struct TrackSpec {
  std::uint32_t track_id = 1;
  std::vector<Sample> samples;
  unsigned iv_size = 8;
  bool subsamples = true;
  bool piff = true;            // PIFF SampleEncryptionBox
  bool piff_override = false;  // with AlgorithmID / IV_size / KID
  bool senc = false;           // CENC senc + saiz + saio (saio into senc)
  bool aux_into_piff = false;  // saiz + saio pointing at the IVs of the PIFF box
  bool tfxd = false;           // Smooth tfxd and tfrf boxes
  std::uint32_t tfhd_flags = 0x020000;  // default-base-is-moof
  std::uint64_t base_data_offset = 0;   // with tfhd flag 0x1
};

// Samples with recognisable bytes, IVs and subsample maps.
inline std::vector<Sample> make_samples(unsigned count, unsigned iv_size, bool subsamples,
                                        std::uint8_t seed) {
  std::vector<Sample> out;
  for (unsigned i = 0; i < count; ++i) {
    Sample s;
    const unsigned size = 40 + 13 * i;
    for (unsigned k = 0; k < size; ++k) s.data.push_back(std::uint8_t(seed * 31 + i * 7 + k));
    for (unsigned k = 0; k < iv_size; ++k) s.iv.push_back(std::uint8_t(seed + 0x10 * i + k + 1));
    if (subsamples) {
      const unsigned n = 1 + i % 3;
      unsigned left = size;
      for (unsigned k = 0; k < n; ++k) {
        const unsigned clear = k + 1 == n ? left : 5;
        const unsigned prot = k + 1 == n ? 0 : 3;
        s.subsamples.push_back({std::uint16_t(clear), prot});
        left -= clear + prot;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

inline Bytes sample_entries(const TrackSpec& t) {
  Bytes b;
  for (const Sample& s : t.samples) {
    put(b, s.iv);
    if (t.subsamples) {
      put16(b, unsigned(s.subsamples.size()));
      for (const auto& [c, p] : s.subsamples) { put16(b, c); put32(b, p); }
    }
  }
  return b;
}

inline unsigned aux_size(const TrackSpec& t, const Sample& s) {
  return t.iv_size + (t.subsamples ? 2 + 6 * unsigned(s.subsamples.size()) : 0);
}

inline Bytes piff_senc_body(const TrackSpec& t) {
  Bytes b = full(0, (t.subsamples ? 2 : 0) | (t.piff_override ? 1 : 0));
  if (t.piff_override) {
    put24(b, 1);
    put8(b, t.iv_size);
    for (int i = 0; i < 16; ++i) put8(b, 0xa0 + i);
  }
  put32(b, std::uint32_t(t.samples.size()));
  put(b, sample_entries(t));
  return b;
}

struct Fragment {
  Bytes bytes;
  std::size_t moof_size = 0;
  std::size_t mdat_payload = 0;  // offset of the mdat payload
};

struct FragmentSpec {
  std::vector<TrackSpec> tracks;
  bool moof_large = false;
  bool mdat_large = false;
  bool mdat_to_end = false;
  std::uint32_t sequence = 1;
};

// moof { mfhd traf* } mdat; data_offset and saio values computed from the layout.
inline Fragment make_fragment(const FragmentSpec& spec) {
  // Values known only once the layout is: a trun data_offset (target: offset
  // in the mdat payload) or a saio offset (target: position in the moof).
  struct Fix { std::size_t at; bool data; std::size_t target; };
  Bytes moof_body = box("mfhd", full(0, 0, [&] { Bytes b; put32(b, spec.sequence); return b; }()));
  std::vector<Fix> fixes;
  std::size_t mdat_cursor = 0;
  const std::size_t moof_header = spec.moof_large ? 16 : 8;
  for (const TrackSpec& t : spec.tracks) {
    std::vector<Fix> local;  // positions relative to the traf payload
    Bytes traf;
    Bytes tfhd;
    put32(tfhd, t.track_id);
    if (t.tfhd_flags & 1) put64(tfhd, t.base_data_offset);
    put(traf, box("tfhd", full(0, t.tfhd_flags, tfhd)));
    put(traf, box("tfdt", full(1, 0, Bytes(8, 0))));
    Bytes trun;
    put32(trun, std::uint32_t(t.samples.size()));
    local.push_back({traf.size() + 8 + 4 + 4, true, mdat_cursor});
    put32(trun, 0);
    for (const Sample& s : t.samples) put32(trun, std::uint32_t(s.data.size()));
    put(traf, box("trun", full(0, 0x000201, trun)));
    for (const Sample& s : t.samples) mdat_cursor += s.data.size();
    if (t.tfxd) {
      put(traf, uuid_box(kTfxd, full(1, 0, Bytes(16, 0x77))));
      put(traf, uuid_box(kTfrf, full(1, 0, [] { Bytes b{1}; put(b, Bytes(16, 0x66)); return b; }())));
    }
    std::size_t saio_field = 0;
    if (t.senc || t.aux_into_piff) {
      Bytes saiz;
      put8(saiz, 0);
      put32(saiz, std::uint32_t(t.samples.size()));
      for (const Sample& s : t.samples) put8(saiz, aux_size(t, s));
      put(traf, box("saiz", full(0, 0, saiz)));
      saio_field = traf.size() + 8 + 4 + 4;
      Bytes saio;
      put32(saio, 1);
      put32(saio, 0);
      put(traf, box("saio", full(0, 0, saio)));
    }
    if (t.senc) {
      local.push_back({saio_field, false, traf.size() + 16});
      Bytes senc = full(0, t.subsamples ? 2 : 0);
      put32(senc, std::uint32_t(t.samples.size()));
      put(senc, sample_entries(t));
      put(traf, box("senc", senc));
    }
    if (t.piff) {
      if (t.aux_into_piff && !t.senc)
        local.push_back({saio_field, false, traf.size() + 8 + 16 + 4 + (t.piff_override ? 20 : 0) + 4});
      put(traf, uuid_box(kPiffSenc, piff_senc_body(t)));
    }
    const std::size_t traf_payload = moof_header + moof_body.size() + 8;
    for (Fix f : local) {
      f.at += traf_payload;
      if (!f.data) f.target += traf_payload;
      fixes.push_back(f);
    }
    put(moof_body, box("traf", traf));
  }
  Fragment frag;
  Bytes& out = frag.bytes;
  if (spec.moof_large) put(out, large_box("moof", moof_body));
  else put(out, box("moof", moof_body));
  frag.moof_size = out.size();
  Bytes payload;
  for (const TrackSpec& t : spec.tracks)
    for (const Sample& s : t.samples) put(payload, s.data);
  std::size_t mdat_header = 8;
  if (spec.mdat_large) {
    put(out, large_box("mdat", payload));
    mdat_header = 16;
  } else if (spec.mdat_to_end) {
    put32(out, 0);
    put4cc(out, "mdat");
    put(out, payload);
  } else {
    put(out, box("mdat", payload));
  }
  frag.mdat_payload = frag.moof_size + mdat_header;
  for (const Fix& f : fixes)
    set32(out, f.at, std::uint32_t(f.data ? frag.mdat_payload + f.target : f.target));
  return frag;
}

// sidx version 0 with one media reference per size, first_offset 0.
inline Bytes make_sidx(const std::vector<std::uint32_t>& sizes) {
  Bytes b = full(0, 0);
  put32(b, 1);      // reference_ID
  put32(b, 90000);  // timescale
  put32(b, 0);      // earliest_presentation_time
  put32(b, 0);      // first_offset
  put16(b, 0);
  put16(b, unsigned(sizes.size()));
  for (std::uint32_t size : sizes) {
    put32(b, size);
    put32(b, 180000);
    put32(b, 0x90000000u);
  }
  return box("sidx", b);
}

// The referenced_size of reference `i` of the sidx at `at`.
inline std::uint32_t sidx_reference_size(const Bytes& b, std::size_t at, std::size_t i) {
  const std::size_t times = b[at + 8] == 0 ? 8 : 16;  // version 1: 64-bit time and offset
  return get32(b, at + 8 + 4 + 8 + times + 4 + 12 * i) & 0x7fffffffu;
}

// Init segment: ftyp moov { mvhd trak { ... stsd { encv { sinf { frma schm schi } } } } [pssh] }
struct InitSpec {
  bool piff_tenc = true;
  bool cenc_tenc = false;
  bool schm_piff = true;
  bool piff_pssh = true;
  bool cenc_pssh = false;
  unsigned iv_size = 8;
  unsigned algorithm = 1;
};

inline Bytes kid_bytes() { Bytes b; for (int i = 0; i < 16; ++i) b.push_back(std::uint8_t(0x10 + i)); return b; }
inline Bytes system_id() { return hex_bytes("9a04f07998404286ab92e65be0885f95"); }

inline Bytes make_init(const InitSpec& s) {
  Bytes schi;
  if (s.piff_tenc) {
    Bytes b = full(0, 0);
    put24(b, s.algorithm);
    put8(b, s.iv_size);
    put(b, kid_bytes());
    put(schi, uuid_box(kPiffTenc, b));
  }
  if (s.cenc_tenc) {
    Bytes b = full(0, 0);
    put8(b, 0); put8(b, 0); put8(b, 1); put8(b, s.iv_size);
    put(b, kid_bytes());
    put(schi, box("tenc", b));
  }
  Bytes sinf = box("frma", Bytes{'a', 'v', 'c', '1'});
  Bytes schm = full(0, 0);
  put4cc(schm, s.schm_piff ? "piff" : "cenc");
  put32(schm, s.schm_piff ? 0x00010001 : 0x00010000);
  put(sinf, box("schm", schm));
  put(sinf, box("schi", schi));
  Bytes encv(78, 0);
  encv[7] = 1;  // data_reference_index
  put(encv, box("avcC", Bytes{1, 0x64, 0, 0x1f, 0xff, 0xe0, 0}));
  put(encv, box("sinf", sinf));
  Bytes stsd = full(0, 0);
  put32(stsd, 1);
  put(stsd, box("encv", encv));
  const Bytes stbl = box("stbl", box("stsd", stsd));
  const Bytes minf = box("minf", stbl);
  const Bytes mdia = box("mdia", [&] { Bytes b = box("mdhd", full(0, 0, Bytes(20, 0))); put(b, minf); return b; }());
  Bytes moov = box("mvhd", full(0, 0, Bytes(96, 0)));
  put(moov, box("trak", [&] { Bytes b = box("tkhd", full(0, 3, Bytes(80, 0))); put(b, mdia); return b; }()));
  Bytes pssh_body = full(0, 0);
  put(pssh_body, system_id());
  put32(pssh_body, 6);
  put(pssh_body, Bytes{'p', 'r', 'o', '-', 'd', 't'});
  if (s.piff_pssh) put(moov, uuid_box(kPiffPssh, pssh_body));
  if (s.cenc_pssh) put(moov, box("pssh", pssh_body));
  Bytes out = box("ftyp", Bytes{'i', 's', 'o', '6', 0, 0, 0, 1, 'i', 's', 'o', '6', 'd', 'a', 's', 'h'});
  put(out, box("moov", moov));
  return out;
}

}  // namespace testbmff

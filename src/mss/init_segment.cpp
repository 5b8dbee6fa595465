#include "mss/init_segment.h"

#include "bmff/fields.h"

namespace dashpiff::mss {

using bmff::FieldWriter;
using bmff::FourCC;
using bmff::fourcc;
using bmff::write_box;

namespace {

// Box bodies written field by field; every count below is fixed or bounded
// by what codec_config already checked.
struct Out {
  FieldWriter& w;
  void u8(std::uint8_t v) { w.u8(v); }
  void u16(std::uint16_t v) { w.u16(v); }
  void u32(std::uint32_t v) { w.u32(v); }
  void zeros(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) u8(0);
  }
  void full(std::uint8_t version, std::uint32_t flags) {
    bmff::FullBoxHeader h{version, flags};
    h.io(w);
  }
  void bytes(const Bytes& b) { w.bytes(b.data(), b.size()); }
  // ISO/IEC 14496-12 §6.2.2: the identity matrix.
  void matrix() {
    for (std::uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u}) u32(v);
  }
};

template <class F>
void box(Bytes& out, const char (&type)[5], F&& body) {
  write_box(out, fourcc(type), [&](FieldWriter& w) {
    Out o{w};
    body(o);
  });
}

void sinf(Bytes& out, FourCC original, const Guid& kid) {
  box(out, "sinf", [&](Out& o) {
    Bytes inner;
    box(inner, "frma", [&](Out& f) { f.u32(original); });
    // ISO/IEC 23001-7 §4.2: scheme 'cenc', version 1.0.
    box(inner, "schm", [&](Out& s) {
      s.full(0, 0);
      s.u32(fourcc("cenc"));
      s.u32(0x00010000);
    });
    box(inner, "schi", [&](Out& s) {
      Bytes tenc;
      bmff::Tenc t;
      t.is_protected = 1;
      t.iv_size = kIvSize;
      t.kid = kid;
      write_box(tenc, fourcc("tenc"), [&](FieldWriter& w) { t.io(w); });
      s.bytes(tenc);
    });
    o.bytes(inner);
  });
}

void sample_entry(Bytes& out, const CodecConfig& c, const std::optional<PlayReadyHeader>& drm) {
  const FourCC type = drm ? fourcc(c.video ? "encv" : "enca") : c.sample_entry;
  write_box(out, type, [&](FieldWriter& w) {
    Out o{w};
    o.zeros(6);
    o.u16(1);  // data_reference_index
    if (c.video) {
      // ISO/IEC 14496-12 §12.1.3 VisualSampleEntry
      o.zeros(16);
      o.u16(c.width);
      o.u16(c.height);
      o.u32(0x00480000);
      o.u32(0x00480000);
      o.u32(0);
      o.u16(1);      // frame_count
      o.zeros(32);   // compressorname
      o.u16(0x0018);
      o.u16(0xffff);
    } else {
      // §12.2.3 AudioSampleEntry (version 0); rates above 65535 Hz do not fit
      // 16.16 and are carried by the esds alone.
      o.zeros(8);
      o.u16(c.channels);
      o.u16(c.sample_size);
      o.u16(0);
      o.u16(0);
      o.u32(c.sample_rate <= 0xffff ? c.sample_rate << 16 : 0);
    }
    o.bytes(c.config_box);
    if (drm) sinf(out, c.sample_entry, drm->kid);
  });
}

}  // namespace

Bytes pssh_box(const Guid& system, const Bytes& data) {
  Bytes out;
  bmff::Pssh p;
  p.system_id = system;
  p.data = data;
  write_box(out, fourcc("pssh"), [&](FieldWriter& w) { p.io(w); });
  return out;
}

Bytes synthesise_init(const Manifest& manifest, const StreamIndex& stream, const QualityLevel& level) {
  const CodecConfig c = codec_config(stream, level);
  const auto timescale = static_cast<std::uint32_t>(stream.timescale);
  if (stream.timescale > 0xffffffffu)
    throw MssError(MssError::Kind::unsupported, "TimeScale above 2^32 does not fit an mdhd");
  Bytes out;
  box(out, "ftyp", [&](Out& o) {
    o.u32(fourcc("iso6"));
    o.u32(1);
    for (FourCC brand : {fourcc("isom"), fourcc("iso6"), fourcc("dash")}) o.u32(brand);
  });
  box(out, "moov", [&](Out& moov) {
    Bytes kids;
    box(kids, "mvhd", [&](Out& o) {
      o.full(0, 0);
      o.u32(0);
      o.u32(0);  // creation, modification: unknown
      o.u32(timescale);
      o.u32(0);  // duration: fragmented, given by the fragments
      o.u32(0x00010000);
      o.u16(0x0100);
      o.zeros(10);
      o.matrix();
      o.zeros(24);
      o.u32(kTrackId + 1);
    });
    box(kids, "trak", [&](Out& trak) {
      Bytes t;
      box(t, "tkhd", [&](Out& o) {
        o.full(0, 0x000007);  // enabled, in movie, in preview
        o.u32(0);
        o.u32(0);
        o.u32(kTrackId);
        o.u32(0);
        o.u32(0);  // duration
        o.zeros(8);
        o.u16(0);  // layer
        o.u16(0);  // alternate group
        o.u16(c.video ? 0 : 0x0100);
        o.u16(0);
        o.matrix();
        o.u32(static_cast<std::uint32_t>(c.width) << 16);
        o.u32(static_cast<std::uint32_t>(c.height) << 16);
      });
      box(t, "mdia", [&](Out& mdia) {
        Bytes m;
        box(m, "mdhd", [&](Out& o) {
          o.full(0, 0);
          o.u32(0);
          o.u32(0);
          o.u32(timescale);
          o.u32(0);
          o.u16(0x55c4);  // 'und'
          o.u16(0);
        });
        box(m, "hdlr", [&](Out& o) {
          o.full(0, 0);
          o.u32(0);
          o.u32(fourcc(c.video ? "vide" : "soun"));
          o.zeros(12);
          const std::string name = c.video ? "VideoHandler" : "SoundHandler";
          o.bytes(Bytes(name.begin(), name.end() + 1));
        });
        box(m, "minf", [&](Out& minf) {
          Bytes i;
          if (c.video) {
            box(i, "vmhd", [&](Out& o) {
              o.full(0, 1);
              o.zeros(8);
            });
          } else {
            box(i, "smhd", [&](Out& o) {
              o.full(0, 0);
              o.zeros(4);
            });
          }
          box(i, "dinf", [&](Out& dinf) {
            Bytes d;
            box(d, "dref", [&](Out& o) {
              o.full(0, 0);
              o.u32(1);
              Bytes url;
              box(url, "url ", [&](Out& u) { u.full(0, 1); });  // data in this file
              o.bytes(url);
            });
            dinf.bytes(d);
          });
          box(i, "stbl", [&](Out& stbl) {
            Bytes s;
            box(s, "stsd", [&](Out& o) {
              o.full(0, 0);
              o.u32(1);
              Bytes entry;
              sample_entry(entry, c, manifest.playready);
              o.bytes(entry);
            });
            box(s, "stts", [&](Out& o) { o.full(0, 0), o.u32(0); });
            box(s, "stsc", [&](Out& o) { o.full(0, 0), o.u32(0); });
            box(s, "stsz", [&](Out& o) { o.full(0, 0), o.u32(0), o.u32(0); });
            box(s, "stco", [&](Out& o) { o.full(0, 0), o.u32(0); });
            stbl.bytes(s);
          });
          minf.bytes(i);
        });
        mdia.bytes(m);
      });
      trak.bytes(t);
    });
    box(kids, "mvex", [&](Out& mvex) {
      Bytes x;
      box(x, "trex", [&](Out& o) {
        o.full(0, 0);
        o.u32(kTrackId);
        o.u32(1);
        o.u32(0);
        o.u32(0);
        o.u32(0);
      });
      mvex.bytes(x);
    });
    if (manifest.playready) {
      const Bytes pssh = pssh_box(kPlayReadySystemId, manifest.playready->object);
      kids.insert(kids.end(), pssh.begin(), pssh.end());
    }
    moov.bytes(kids);
  });
  return out;
}

}  // namespace dashpiff::mss

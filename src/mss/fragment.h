// A Smooth fragment made into a DASH media segment for the synthesised init
// segment (MS-SSTR §2.2.4): 'tfdt' from the tfxd's absolute time, tfrf (live
// look-ahead, meaningless to a DASH player) dropped, the tfhd track ID set
// to the synthesised track's, every trun data_offset moved by what the moof
// gained or lost. PIFF sample encryption is left for the piff engine to
// convert afterwards. All checks come before the first byte is written: the
// result is complete or an MssError.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mss/manifest.h"

namespace dashpiff::mss {

struct ConvertedFragment {
  Bytes data;
  std::uint64_t decode_time = 0;  // of the first traf, from tfxd (or the tfdt already there)
  unsigned tfxd_replaced = 0;
  unsigned tfrf_dropped = 0;
};

// `data` holds the whole fragment (moof + mdat, as the origin sent it).
ConvertedFragment convert_fragment(const std::uint8_t* data, std::size_t size);

}  // namespace dashpiff::mss

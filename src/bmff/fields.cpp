#include "bmff/fields.h"

namespace dashpiff::bmff {

namespace {

// One entry: IV, then (with subsamples) a 16-bit count and 6 bytes per
// subsample. The visitor sees each entry; every length is checked against
// what is left before it is used.
template <class Visit>
bool walk_entries(const std::uint8_t* data, std::size_t size, std::uint32_t count,
                  unsigned iv_size, bool subsamples, std::string* error, Visit&& visit) {
  const auto fail = [error](std::uint32_t sample, const char* what) {
    if (error) *error = "sample " + std::to_string(sample) + ": " + what;
    return false;
  };
  std::size_t pos = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t start = pos;
    if (size - pos < iv_size) return fail(i, "IV runs past the box");
    pos += iv_size;
    unsigned n = 0;
    if (subsamples) {
      if (size - pos < 2) return fail(i, "subsample count runs past the box");
      n = (unsigned(data[pos]) << 8) | data[pos + 1];
      pos += 2;
      if ((size - pos) / 6 < n) return fail(i, "subsamples run past the box");
    }
    const std::uint8_t* subs = data + pos;
    pos += std::size_t(n) * 6;
    visit(data + start, subs, n, pos - start);
  }
  if (pos != size) {
    if (error)
      *error = std::to_string(size - pos) + " bytes left after " + std::to_string(count) +
               " samples";
    return false;
  }
  return true;
}

}  // namespace

bool measure_sample_entries(const std::uint8_t* data, std::size_t size, std::uint32_t count,
                            unsigned iv_size, bool subsamples,
                            std::vector<std::uint32_t>* aux_sizes, std::string* error) {
  // Every entry takes at least iv_size (+2) bytes: a count that cannot fit is
  // refused before anything is reserved for it.
  const std::size_t min_entry = iv_size + (subsamples ? 2 : 0);
  if (min_entry && count > size / min_entry) {
    if (error) *error = std::to_string(count) + " samples cannot fit in " + std::to_string(size) +
                        " bytes";
    return false;
  }
  if (min_entry == 0 && size != 0) {
    if (error) *error = std::to_string(size) + " bytes left after " + std::to_string(count) +
                        " empty samples";
    return false;
  }
  // Entries of no bytes (IV size 0, no subsamples): no byte carries them, so
  // nothing bounds their count but this cap (issue #12: a 170-byte moof that
  // declared 2^32 such samples made the converter fill gigabytes).
  if (min_entry == 0 && count > kMaxEmptySampleEntries) {
    if (error) *error = std::to_string(count) + " samples of 0 bytes each, more than the " +
                        std::to_string(kMaxEmptySampleEntries) + " accepted";
    return false;
  }
  if (aux_sizes) {
    aux_sizes->clear();
    aux_sizes->reserve(count);
  }
  return walk_entries(data, size, count, iv_size, subsamples, error,
                      [aux_sizes](const std::uint8_t*, const std::uint8_t*, unsigned,
                                  std::size_t entry_size) {
                        if (aux_sizes) aux_sizes->push_back(static_cast<std::uint32_t>(entry_size));
                      });
}

std::optional<std::vector<SampleAuxInfo>> parse_sample_entries(const std::uint8_t* data,
                                                               std::size_t size,
                                                               std::uint32_t count,
                                                               unsigned iv_size, bool subsamples) {
  if (!measure_sample_entries(data, size, count, iv_size, subsamples, nullptr, nullptr))
    return std::nullopt;
  std::vector<SampleAuxInfo> out;
  out.reserve(count);
  walk_entries(data, size, count, iv_size, subsamples, nullptr,
               [&out, iv_size](const std::uint8_t* iv, const std::uint8_t* subs, unsigned n,
                               std::size_t) {
                 SampleAuxInfo info;
                 info.iv.assign(iv, iv + iv_size);
                 for (unsigned k = 0; k < n; ++k) {
                   const std::uint8_t* s = subs + 6 * k;
                   info.subsamples.push_back(
                       {static_cast<std::uint16_t>((s[0] << 8) | s[1]), load_u32(s + 2)});
                 }
                 out.push_back(std::move(info));
               });
  return out;
}

bool saiz_agrees(const Saiz* saiz, const std::vector<std::uint32_t>& aux_sizes) {
  if (!saiz) return true;
  if (saiz->sample_count != aux_sizes.size()) return false;
  for (std::uint32_t i = 0; i < saiz->sample_count; ++i)
    if (saiz->size_of(i) != aux_sizes[i]) return false;
  return true;
}

IvInference infer_iv_size(const SampleEncryption& se, const Saiz* saiz, EntryLayout& out) {
  unsigned fits = 0;
  for (unsigned iv : {8u, 16u}) {
    EntryLayout layout{iv, {}};
    if (measure_sample_entries(se.entries.data(), se.entries.size(), se.sample_count, iv,
                               se.has_subsamples(), &layout.aux_sizes, nullptr) &&
        saiz_agrees(saiz, layout.aux_sizes)) {
      if (++fits == 1) out = std::move(layout);
    }
  }
  if (fits == 1) return IvInference::unique;
  return fits == 0 ? IvInference::none : IvInference::ambiguous;
}

}  // namespace dashpiff::bmff

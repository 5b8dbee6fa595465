#include "mpd/segment_index.h"

#include "bmff/box.h"
#include "bmff/fields.h"

namespace dashpiff::mpd {

namespace {

IndexRead refuse(std::string why) {
  IndexRead r;
  r.error = std::move(why);
  return r;
}

}  // namespace

IndexRead read_segment_index(const std::uint8_t* data, std::size_t size, std::uint64_t offset,
                             std::size_t max_subsegments) {
  using namespace bmff;
  if (offset > kMaxBytePosition) return refuse("index offset out of range");
  const HeaderParse head = parse_box_header(data, size, std::nullopt);
  if (head.status == HeaderStatus::invalid) return refuse(std::string("no box at the index range: ") + head.error);
  if (head.status == HeaderStatus::need_more) return refuse("index range shorter than a box header");
  if (head.header.type != fourcc("sidx")) return refuse("index range starts with '" + fourcc_text(head.header.type) + "', not 'sidx'");
  if (head.header.form == SizeForm::to_end || head.header.size < head.header.header_size)
    return refuse("sidx without a size of its own");
  if (head.header.size > size) {
    IndexRead r;
    r.error = "sidx of " + std::to_string(head.header.size) + " bytes runs past the " + std::to_string(size) +
              " bytes of the index range";
    r.needed = head.header.size;
    return r;
  }
  if (head.header.size > kMaxBytePosition - offset) return refuse("sidx ends past the largest file offset");
  Box box;
  box.header = head.header;
  box.size = static_cast<std::size_t>(head.header.size);
  // The reader refuses a reference count the payload cannot hold before
  // anything is sized by it (io_items).
  const auto sidx = read_fields<Sidx>(data, box);
  if (!sidx) return refuse("sidx does not parse (its reference count exceeds its bytes, or it is cut short)");
  if (sidx->full.version > 1) return refuse("sidx version " + std::to_string(sidx->full.version) + " is unknown");
  if (sidx->timescale == 0) return refuse("sidx timescale is 0");
  if (sidx->references.empty()) return refuse("sidx has no references");
  if (sidx->references.size() > max_subsegments)
    return refuse("sidx has " + std::to_string(sidx->references.size()) + " references, more than " +
                  std::to_string(max_subsegments));

  // §8.16.3.3: offsets count from the first byte after the sidx (the anchor).
  std::uint64_t at = offset + head.header.size;
  if (sidx->first_offset > kMaxBytePosition - at) return refuse("sidx first_offset overflows");
  at += sidx->first_offset;
  std::uint64_t time = sidx->earliest_presentation_time;
  if (time > kMaxBytePosition) return refuse("sidx earliest_presentation_time out of range");

  SegmentIndex index;
  index.timescale = sidx->timescale;
  index.earliest_presentation_time = time;
  index.subsegments.reserve(sidx->references.size());
  for (const Sidx::Reference& ref : sidx->references) {
    if (ref.is_index()) return refuse("sidx references another sidx (hierarchical indexes are not expanded)");
    if (ref.size() == 0) return refuse("sidx reference of 0 bytes");
    if (ref.duration == 0) return refuse("sidx reference of duration 0");
    if (ref.size() > kMaxBytePosition - at) return refuse("sidx references overflow the file offsets");
    if (ref.duration > kMaxBytePosition - time) return refuse("sidx durations overflow the timeline");
    index.subsegments.push_back(Subsegment{ByteSpan{at, at + ref.size() - 1}, ref.duration});
    at += ref.size();
    time += ref.duration;
  }
  IndexRead r;
  r.index = std::move(index);
  return r;
}

}  // namespace dashpiff::mpd

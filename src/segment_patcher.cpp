// The streaming side of the engine: walks top-level box headers as bytes
// arrive, holds a moof/moov until it is complete, forwards everything else
// (mdat above all) by pointer. Only headers are looked at on the hot path.
#include "segment_patcher.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "bmff_box.h"
#include "piff_convert.h"

namespace dashpiff {

using namespace bmff;

std::optional<PiffMode> parse_piff_mode(std::string_view text) {
  if (text == "off") return PiffMode::off;
  if (text == "free") return PiffMode::free;
  if (text == "uuid-free") return PiffMode::uuid_free;
  if (text == "convert") return PiffMode::convert;
  if (text == "auto") return PiffMode::automatic;
  return std::nullopt;
}

const char* to_string(PiffMode mode) {
  switch (mode) {
    case PiffMode::off: return "off";
    case PiffMode::free: return "free";
    case PiffMode::uuid_free: return "uuid-free";
    case PiffMode::convert: return "convert";
    case PiffMode::automatic: return "auto";
  }
  return "?";
}

namespace {
constexpr std::size_t kMaxChanges = 32;  // PatchStats::changes stays short for log lines
constexpr std::size_t kMaxHeader = 32;   // size + type + largesize + usertype
}  // namespace

struct SegmentPatcher::Impl {
  enum class State { header, hold, forward, passthrough };

  PatchOptions options;
  Sink sink;
  PatchStats stats;
  State state = State::header;
  std::array<std::uint8_t, kMaxHeader> header{};
  std::size_t header_len = 0;
  std::vector<std::uint8_t> held;
  std::uint64_t box_size = 0;   // of the top-level box being held or forwarded
  std::uint64_t remaining = 0;  // of that box, still to come
  bool to_end = false;          // forwarding a size-0 box: the rest of the stream
  std::uint64_t offset = 0;     // stream offset of the current top-level box
  std::uint64_t moofs = 0, moovs = 0;
  std::string size_lock;        // why size-changing rewrites are off for the rest
  bool sink_ok = true;
  bool finished = false;

  Impl(PatchOptions o, Sink s) : options(o), sink(std::move(s)) {
    if (options.mode == PiffMode::off) state = State::passthrough;
  }

  bool emit(const std::uint8_t* p, std::size_t n) {
    if (!sink_ok || n == 0) return sink_ok;
    stats.bytes_out += n;
    sink_ok = sink(p, n);
    return sink_ok;
  }

  void note_change(std::string text) {
    if (stats.changes.size() < kMaxChanges) {
      stats.changes.push_back(std::move(text));
    } else if (stats.changes.size() == kMaxChanges) {
      stats.changes.push_back("(further changes not listed)");
    }
  }

  void give_up(const std::string& reason) {
    ++stats.passthrough_events;
    if (stats.passthrough_reason.empty()) stats.passthrough_reason = reason;
    note_change("passthrough: " + reason);
  }

  std::string at() const { return " at offset " + std::to_string(offset); }

  // From here on nothing is trusted: everything goes out as it came.
  void untrusted(const std::string& reason) {
    give_up(reason);
    state = State::passthrough;
  }

  void on_header(const BoxHeader& h) {
    const bool container = h.type == fourcc("moof") || h.type == fourcc("moov");
    if (h.type == fourcc("sidx") && size_lock.empty())
      size_lock = "a sidx indexes this segment, so sizes must not change";
    if (container) {
      const std::string name = fourcc_text(h.type);
      if (h.form == SizeForm::to_end) {
        give_up(name + " with size 0 (to end of stream) passed through" + at());
      } else if (h.size > options.max_held_box) {
        give_up(name + " of " + std::to_string(h.size) + " bytes exceeds max_held_box (" +
                std::to_string(options.max_held_box) + ") and passed through" + at());
      } else {
        held.assign(header.begin(), header.begin() + header_len);
        remaining = h.size - header_len;
        state = State::hold;
        if (remaining == 0) complete_held();
        return;
      }
    }
    emit(header.data(), header_len);
    to_end = h.form == SizeForm::to_end;
    remaining = to_end ? 0 : h.size - header_len;
    state = State::forward;
    if (!to_end && remaining == 0) next_box();
  }

  void next_box() {
    offset += box_size;
    header_len = 0;
    state = State::header;
  }

  void complete_held() {
    const bool moof = load_u32(held.data() + 4) == fourcc("moof");
    RewriteContext ctx;
    ctx.mode = options.mode;
    ctx.size_preserving = options.size_preserving;
    ctx.size_lock_reason = size_lock;
    ctx.index = moof ? ++moofs : ++moovs;
    RewriteOutcome r = rewrite_held_box(held, ctx);
    if (r.malformed) {
      // Its insides cannot be trusted, so neither can what follows.
      emit(held.data(), held.size());
      untrusted(r.malformed_reason + at());
      held.clear();
      offset += box_size;
      return;
    }
    stats.piff_neutralised += r.neutralised;
    stats.piff_converted += r.converted;
    for (auto& c : r.changes) note_change(std::move(c));
    for (auto& c : r.refusals) give_up(std::move(c));
    emit(held.data(), held.size());
    held.clear();
    held.shrink_to_fit();  // holding is per box; memory does not accumulate
    next_box();
  }

  bool feed(const std::uint8_t* data, std::size_t size) {
    stats.bytes_in += size;
    while (size > 0 && sink_ok) {
      switch (state) {
        case State::passthrough:
          emit(data, size);
          return sink_ok;
        case State::forward: {
          const std::size_t n = to_end ? size : static_cast<std::size_t>(std::min<std::uint64_t>(remaining, size));
          emit(data, n);
          data += n;
          size -= n;
          if (!to_end) {
            remaining -= n;
            if (remaining == 0) next_box();
          }
          break;
        }
        case State::hold: {
          const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, size));
          held.insert(held.end(), data, data + n);
          data += n;
          size -= n;
          remaining -= n;
          if (remaining == 0) complete_held();
          break;
        }
        case State::header: {
          const HeaderParse first = parse_box_header(header.data(), header_len, std::nullopt);
          const std::size_t want = first.needed > header_len ? first.needed - header_len : 0;
          const std::size_t n = std::min(want, size);
          std::memcpy(header.data() + header_len, data, n);
          header_len += n;
          data += n;
          size -= n;
          const HeaderParse hp = parse_box_header(header.data(), header_len, std::nullopt);
          if (hp.status == HeaderStatus::invalid) {
            emit(header.data(), header_len);
            untrusted(std::string("not ISO BMFF: ") + hp.error + at());
          } else if (hp.status == HeaderStatus::ok) {
            box_size = hp.header.size;
            on_header(hp.header);
          }
          break;
        }
      }
    }
    return sink_ok;
  }

  bool finish() {
    if (finished) return sink_ok;
    finished = true;
    switch (state) {
      case State::header:
        if (header_len > 0) {
          emit(header.data(), header_len);
          give_up("input ends inside a box header" + at());
        }
        break;
      case State::hold:
        emit(held.data(), held.size());
        give_up("input ends inside " + fourcc_text(load_u32(held.data() + 4)) + " (" +
                std::to_string(remaining) + " bytes missing); passed through" + at());
        held.clear();
        break;
      case State::forward:
        if (!to_end && remaining > 0)
          give_up("input ends " + std::to_string(remaining) + " bytes before the end of a box" + at());
        break;
      case State::passthrough: break;
    }
    return sink_ok;
  }
};

SegmentPatcher::SegmentPatcher(PatchOptions options, Sink sink)
    : impl_(std::make_unique<Impl>(options, std::move(sink))) {}
SegmentPatcher::~SegmentPatcher() = default;

bool SegmentPatcher::feed(const std::uint8_t* data, std::size_t size) {
  return impl_->feed(data, size);
}

bool SegmentPatcher::finish() { return impl_->finish(); }

const PatchStats& SegmentPatcher::stats() const { return impl_->stats; }

bool SegmentPatcher::preserves_size() const {
  switch (impl_->options.mode) {
    case PiffMode::off:
    case PiffMode::free:
    case PiffMode::uuid_free:
      return true;
    case PiffMode::convert:
    case PiffMode::automatic:
      return impl_->options.size_preserving;
  }
  return false;
}

}  // namespace dashpiff

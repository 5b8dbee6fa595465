// The streaming side of the engine: walks top-level box headers as bytes
// arrive, holds a moof/moov until it is complete, forwards everything else
// (mdat above all) by pointer. Only headers are looked at on the hot path.
#include "piff/segment_patcher.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>

#include "bmff/box.h"
#include "bmff/fields.h"
#include "piff/box_decision.h"
#include "piff/convert.h"
#include "piff/relocation.h"
#include "piff/size_policy.h"

namespace dashpiff {

using namespace bmff;

namespace {
constexpr std::size_t kMaxChanges = 32;  // PatchStats::changes stays short for log lines
constexpr std::size_t kMaxHeader = 32;   // size + type + largesize + usertype
// Resized moofs remembered for a later mfra (16 bytes each): a stream of
// tiny resized moofs must not grow the request's memory without end
// (issue #12). 65,536 is 36 hours of 2-s fragments; past it an mfra becomes
// 'free' instead of being corrected.
constexpr std::size_t kMaxShifts = 1u << 16;
// Before the output plan is made, boxes up to this size are held with it
// (styp, emsg, prft); a larger one (an mdat before any moof) forces the plan.
constexpr std::uint64_t kMaxHeldBeforePlan = 64u << 10;

// A sidx held back until the moof its first reference starts with has been
// rewritten, so that the reference's size can follow the moof's.
struct PendingSidx {
  std::vector<std::uint8_t> bytes;
  std::uint64_t offset = 0;        // stream offset of the sidx
  std::uint64_t first_start = 0;   // stream offset where its first reference starts
  std::uint64_t covered_end = 0;   // end of everything it references
  std::optional<OffsetField> first_size;  // its first referenced_size, when it has one
};

// An absolute file offset `value`, held in the field at `position` (of
// `width` bytes), after `moves` (in stream offsets; the stream starts at file
// offset `first`). An offset before the stream is not moved by anything in
// it. False (and error) when it points into a resized box.
bool relocate_absolute(std::uint64_t position, unsigned width, std::uint64_t value, std::uint64_t first,
                       const char* what, const Relocation& moves, std::vector<FieldUpdate>& updates,
                       std::string& error) {
  if (value < first) return true;
  OffsetField f;
  f.position = position;
  f.width = width;
  f.bits = width * 8;
  f.value = value - first;
  f.what = what;
  FieldUpdate u;
  if (!relocate(f, moves, u, error)) return false;
  u.value += first;
  if (width == 4 && u.value > UINT32_MAX) {
    error = std::string(what) + " out of range after the rewrite";
    return false;
  }
  if (u.value != value) updates.push_back(u);
  return true;
}

// ISO/IEC 14496-12 §8.8.10: the moof_offset fields of the 'tfra' `box`
// (in `held`) with where `moves` puts them. False (and error) when the box
// does not read or a moof it points at moved inside or out of its field.
bool relocate_tfra(const std::uint8_t* held, const Box& box, const Relocation& moves, std::uint64_t first,
                   std::vector<FieldUpdate>& updates, std::string& error) {
  if (box.payload_size() < 16) {
    error = "tfra too short";
    return false;
  }
  Tfra tfra;
  FieldLocator at(held + box.payload_offset(), box.payload_size());
  if (!tfra.io(at)) {
    error = "tfra entries run past the box";
    return false;
  }
  for (const Tfra::Entry& e : tfra.entries) {
    const FieldPlace place = *at.where(e.moof_offset);
    if (!relocate_absolute(box.payload_offset() + place.position, static_cast<unsigned>(place.width),
                           e.moof_offset, first, "a tfra moof_offset", moves, updates, error))
      return false;
  }
  return true;
}

// ISO/IEC 14496-12 §8.8.7: a tfhd's base_data_offset is a file offset; once
// an earlier moof has changed size, the data it names has moved, and a later
// moof's own (unchanged) trun data_offsets count from it. The 'traf'/'tfhd'
// of the held moof `held` (`header_size` bytes of header) whose base moved.
bool relocate_tfhd_bases(const std::uint8_t* held, std::size_t size, std::size_t header_size,
                         const Relocation& moves, std::uint64_t first, std::vector<FieldUpdate>& updates,
                         std::string& error) {
  // A moof whose boxes do not walk is the rewrite's to judge (malformed).
  std::string unused;
  std::vector<Box> trafs;
  if (!walk_boxes(held, header_size, size, trafs, unused)) return true;
  for (const Box& traf : trafs) {
    if (traf.header.type != fourcc("traf")) continue;
    std::vector<Box> children;
    if (!walk_boxes(held, traf.payload_offset(), traf.end(), children, unused)) return true;
    for (const Box& c : children) {
      if (c.header.type != fourcc("tfhd")) continue;
      Tfhd tfhd;
      FieldLocator at(held + c.payload_offset(), c.payload_size());
      if (!tfhd.io(at)) break;  // the moof's rewrite judges an unreadable tfhd
      if (tfhd.full.flags & Tfhd::kBaseDataOffset &&
          !relocate_absolute(c.payload_offset() + at.where(tfhd.base_data_offset)->position, 8,
                             tfhd.base_data_offset, first, "a tfhd base_data_offset", moves, updates, error))
        return false;
      break;  // one tfhd per traf
    }
  }
  return true;
}
}  // namespace

struct SegmentPatcher::Impl {
  enum class State { header, hold, forward, passthrough };

  PatchOptions options;
  Sink sink;
  Decided decided_cb;
  SizePolicy size;
  PatchStats stats;
  State state = State::header;
  std::array<std::uint8_t, kMaxHeader> header{};
  std::size_t header_len = 0;
  std::vector<std::uint8_t> held;
  std::uint64_t box_size = 0;   // of the top-level box being held or forwarded
  std::uint64_t remaining = 0;  // of that box, still to come
  bool to_end = false;          // forwarding a size-0 box: the rest of the stream
  std::uint64_t offset = 0;     // stream offset of the current top-level box
  std::uint64_t moofs = 0, moovs = 0, sidxs = 0;
  std::optional<PendingSidx> pending_sidx;
  // Where the resized moofs moved what follows them (input to output offsets).
  Relocation moves;
  bool shifts_overflow = false;  // more than kMaxShifts resizes: `moves` is incomplete
  // After a malformed moof that follows resized ones: nothing is rewritten
  // any more, but the walk goes on so that an mfra is still corrected.
  bool distrusted = false;
  bool sink_ok = true;
  bool finished = false;
  // The output plan (OutputPlan): until it is made, output collects in
  // `unsent`. A moof or moov has been rewritten and the plan waits for the
  // header after it; `changed`: some output byte differs from its input.
  bool decided;
  bool await_next_header = false;
  bool changed = false;
  std::vector<std::uint8_t> unsent;

  Impl(PatchOptions o, Sink s, Decided d)
      : options(o), sink(std::move(s)), decided_cb(std::move(d)), size(o.mode, o.size_preserving),
        decided(!decided_cb) {
    if (options.mode == PiffMode::off) state = State::passthrough;
  }

  bool emit(const std::uint8_t* p, std::size_t n) {
    if (!sink_ok || n == 0) return sink_ok;
    stats.bytes_out += n;
    if (!decided) {
      unsent.insert(unsent.end(), p, p + n);
      return true;
    }
    sink_ok = sink(p, n);
    return sink_ok;
  }

  // Bytes added so far by resized boxes.
  std::int64_t delta() const { return moves.delta(); }

  void decide(OutputPlan plan) {
    decided = true;
    decided_cb(plan);
    std::vector<std::uint8_t> out;
    out.swap(unsent);
    if (sink_ok && !out.empty()) sink_ok = sink(out.data(), out.size());
  }

  // Nothing after this point can change: the output's length is the input's
  // plus what has been added.
  void decide_exact() {
    OutputPlan plan;
    if (options.input_length) plan.length = *options.input_length + delta();
    plan.identical = !changed;
    decide(plan);
  }

  // More boxes may change. A length is promised when the sizes so far are
  // the input's; from then on every box keeps its size. When the first
  // fragment changed size the rest may too: no length (chunked).
  void decide_open_ended() {
    OutputPlan plan;
    if (options.input_length && delta() == 0) {
      plan.length = *options.input_length;
      size.lock_all("a Content-Length was promised from the first fragment, which kept its size");
    }
    decide(plan);
  }

  bool reaches_end(const BoxHeader& h) const {
    return h.form == SizeForm::to_end || (options.input_length && offset + h.size == *options.input_length);
  }

  static bool may_be_held(FourCC type) {
    return type == fourcc("moof") || type == fourcc("moov") || type == fourcc("sidx") || type == fourcc("mfra");
  }

  // The plan at a top-level header, while it is still open.
  void plan_at_header(const BoxHeader& h, bool forwarded) {
    if (await_next_header) {
      if (!may_be_held(h.type) && reaches_end(h)) return decide_exact();  // one fragment: all is known
      return decide_open_ended();
    }
    if (!forwarded) return;
    if (reaches_end(h)) return decide_exact();
    if (h.form == SizeForm::to_end || h.size > kMaxHeldBeforePlan) decide_open_ended();
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

  void hold(const BoxHeader& h) {
    held.assign(header.begin(), header.begin() + header_len);
    remaining = h.size - header_len;
    state = State::hold;
    if (remaining == 0) complete_held();
  }

  void on_header(const BoxHeader& h) {
    if (!decided) plan_at_header(h, false);  // may lock sizes from here on
    StreamFacts facts;
    facts.may_resize = size.may_resize(offset);
    facts.moofs_moved = moves.resizes() || shifts_overflow;
    BoxDecision d = decide_box(h, options, facts);
    if (distrusted && h.type != fourcc("mfra")) d = BoxDecision{};  // passes as it came
    // A held sidx waits only for the moof its first reference starts with.
    if (pending_sidx && !(h.type == fourcc("moof") && d.action == BoxAction::hold &&
                          offset == pending_sidx->first_start))
      release_sidx();
    if (d.action == BoxAction::hold) return hold(h);
    if (d.action == BoxAction::give_up) give_up(d.reason + at());
    if (!decided) plan_at_header(h, true);
    emit(header.data(), header_len);
    to_end = h.form == SizeForm::to_end;
    remaining = to_end ? 0 : h.size - header_len;
    state = State::forward;
    if (!to_end && remaining == 0) next_box();
  }

  // Sends the held sidx, its first referenced_size as `update` gives it.
  void release_sidx(const std::optional<FieldUpdate>& update = std::nullopt) {
    PendingSidx p = std::move(*pending_sidx);
    pending_sidx.reset();
    if (update && p.first_size && update->value != p.first_size->value) {
      store_field(p.bytes.data() + update->position, *update);
      const std::int64_t delta = std::int64_t(update->value) - std::int64_t(p.first_size->value);
      note_change("sidx#" + std::to_string(sidxs) + ": first referenced_size " +
                  (delta > 0 ? "+" : "") + std::to_string(delta));
      changed = true;
    }
    emit(p.bytes.data(), p.bytes.size());
    size.lock_until(p.covered_end, "a sidx already sent covers this moof, so its size must not change");
  }

  void complete_sidx() {
    ++sidxs;
    std::string error;
    const auto tree = parse_tree(held.data(), held.size(), error);
    Sidx sidx_fields;
    std::optional<FieldLocator> at;
    if (tree) at.emplace(held.data() + tree->box.payload_offset(), tree->box.payload_size());
    Sidx* sidx = at && sidx_fields.io(*at) ? &sidx_fields : nullptr;
    if (!sidx) {
      emit(held.data(), held.size());
      size.lock_all("an unreadable sidx precedes this moof");
      held.clear();
      next_box();
      return;
    }
    PendingSidx p;
    p.offset = offset;
    p.first_start = offset + held.size() + sidx->first_offset;
    p.covered_end = p.first_start;
    for (const auto& r : sidx->references) p.covered_end += r.size();
    if (!sidx->references.empty()) {
      // reference_type(1) referenced_size(31): the size spans the first
      // referenced bytes, so it follows them like any other field.
      const Sidx::Reference& first = sidx->references.front();
      OffsetField f;
      f.position = tree->box.payload_offset() + at->where(first.type_and_size)->position;
      f.bits = 31;
      f.from = p.first_start;
      f.value = first.size();
      f.what = "the sidx's first referenced_size";
      p.first_size = f;
    }
    p.bytes = std::move(held);
    held.clear();
    pending_sidx = std::move(p);
    // Only a media reference (not another sidx) can follow its moof.
    if (sidx->references.empty() || sidx->references.front().is_index()) release_sidx();
    next_box();
  }

  void next_box() {
    offset += box_size;
    header_len = 0;
    state = State::header;
  }

  void complete_mfra() {
    std::string error;
    std::vector<Box> children;
    std::vector<FieldUpdate> writes;
    const std::size_t payload = header_len;
    bool ok = walk_boxes(held.data(), payload, held.size(), children, error);
    if (shifts_overflow) {
      ok = false;
      error = "more than " + std::to_string(kMaxShifts) + " resized moofs to follow";
    }
    std::size_t tfras = 0;
    for (const Box& c : children) {
      if (!ok) break;
      if (c.header.type != fourcc("tfra")) continue;
      ++tfras;
      ok = relocate_tfra(held.data(), c, moves, options.stream_offset, writes, error);
    }
    if (ok) {
      for (const FieldUpdate& w : writes) store_field(held.data() + w.position, w);
      note_change("mfra: " + std::to_string(writes.size()) + " moof_offset entries of " +
                  std::to_string(tfras) + " tfra moved with the resized moofs");
      changed = changed || !writes.empty();
    } else {
      // Stale offsets would send a seeking player into the middle of a box;
      // as 'free' (same size) the index is merely absent.
      store_u32(held.data() + 4, fourcc("free"));
      changed = true;
      give_up("mfra: " + error + "; turned into free" + at());
    }
    emit(held.data(), held.size());
    held.clear();
    next_box();
  }

  // A held moof after resized ones: its absolute base_data_offsets follow
  // them (relocate_tfhd_bases). One that cannot follow would send the player
  // to the wrong bytes; it is counted and logged, as nothing already sent can
  // be taken back.
  void follow_earlier_resizes() {
    std::string error;
    std::vector<FieldUpdate> writes;
    bool ok = !shifts_overflow;
    if (!ok) error = "more than " + std::to_string(kMaxShifts) + " resized moofs to follow";
    else ok = relocate_tfhd_bases(held.data(), held.size(), header_len, moves, options.stream_offset, writes, error);
    if (!ok) {
      give_up("moof#" + std::to_string(moofs + 1) + ": base_data_offset left stale: " + error + at());
      return;
    }
    for (const FieldUpdate& w : writes) store_field(held.data() + w.position, w);
    if (!writes.empty()) {
      note_change("moof#" + std::to_string(moofs + 1) + ": " + std::to_string(writes.size()) +
                  " base_data_offset moved with the resized moofs");
      changed = true;
    }
  }

  void complete_held() {
    const FourCC type = load_u32(held.data() + 4);
    if (type == fourcc("sidx")) return complete_sidx();
    if (type == fourcc("mfra")) return complete_mfra();
    const bool moof = type == fourcc("moof");
    if (moof && (moves.resizes() || shifts_overflow)) follow_earlier_resizes();
    RewriteContext ctx;
    ctx.mode = options.mode;
    ctx.size_blocker = size.blocker(offset);
    ctx.index = moof ? ++moofs : ++moovs;
    // With a sidx waiting, keep the original in case its reference cannot
    // take the new size.
    std::vector<std::uint8_t> original;
    if (pending_sidx) original = held;
    RewriteOutcome r = rewrite_held_box(held, ctx);
    if (pending_sidx) {
      // The moof's change, seen from the stream: its first referenced_size
      // follows it as any relocated field does.
      std::optional<FieldUpdate> update;
      if (pending_sidx->first_size && !r.malformed && r.size_delta != 0) {
        Relocation here;
        here.add(offset, box_size, std::uint64_t(std::int64_t(box_size) + r.size_delta));
        FieldUpdate u;
        std::string why;
        if (relocate(*pending_sidx->first_size, here, u, why) && u.value > 0) {
          update = u;
        } else {
          held.swap(original);
          r = RewriteOutcome{};
          r.refusals.push_back("moof#" + std::to_string(moofs) +
                               ": rewrite dropped: the sidx reference cannot take the new size");
        }
      }
      release_sidx(update);
    }
    if (r.malformed) {
      // Its insides cannot be trusted, so neither can what follows.
      emit(held.data(), held.size());
      held.clear();
      if (!moves.resizes() && !shifts_overflow) {
        untrusted(r.malformed_reason + at());
        offset += box_size;
        return;
      }
      // Moofs before it changed size: an mfra after it, passed as it came,
      // would point a seeking player into the middle of boxes (issue #12:
      // never corrupt media). The top-level walk goes on (this box's size
      // held), every box passes unchanged, and an mfra is corrected or made
      // 'free' by complete_mfra. Nothing changes size from here.
      give_up(r.malformed_reason + at());
      distrusted = true;
      next_box();
      if (!decided) decide_exact();
      return;
    }
    stats.piff_neutralised += r.neutralised;
    stats.piff_converted += r.converted;
    for (auto& c : r.changes) note_change(std::move(c));
    for (auto& c : r.refusals) give_up(std::move(c));
    changed = changed || r.changed || r.size_delta != 0;
    emit(held.data(), held.size());
    if (r.size_delta != 0) {
      if (moves.steps() < kMaxShifts)
        moves.add(offset, box_size, std::uint64_t(std::int64_t(box_size) + r.size_delta));
      else
        shifts_overflow = true;
    }
    held.clear();
    held.shrink_to_fit();  // holding is per box; memory does not accumulate
    next_box();
    if (!decided) {
      if (options.input_length && offset == *options.input_length) decide_exact();
      else await_next_header = true;
    }
  }

  bool feed(const std::uint8_t* data, std::size_t size) {
    stats.bytes_in += size;
    while (size > 0 && sink_ok) {
      switch (state) {
        case State::passthrough:
          if (!decided) decide_exact();  // the rest goes out as it comes
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
            if (pending_sidx) release_sidx();
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
    if (pending_sidx) release_sidx();  // it precedes whatever is left
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
    if (!decided) {
      // Everything is here: the length is what was produced.
      OutputPlan plan;
      plan.length = stats.bytes_out;
      plan.identical = !changed && state != State::hold;
      decide(plan);
    }
    return sink_ok;
  }
};

SegmentPatcher::SegmentPatcher(PatchOptions options, Sink sink, Decided decided)
    : impl_(std::make_unique<Impl>(options, std::move(sink), std::move(decided))) {}
SegmentPatcher::~SegmentPatcher() = default;

bool SegmentPatcher::feed(const std::uint8_t* data, std::size_t size) {
  return impl_->feed(data, size);
}

bool SegmentPatcher::finish() { return impl_->finish(); }

const PatchStats& SegmentPatcher::stats() const { return impl_->stats; }

bool SegmentPatcher::preserves_size() const { return impl_->size.preserves_size(); }

bool SegmentPatcher::decided() const { return impl_->decided; }

}  // namespace dashpiff

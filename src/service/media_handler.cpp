// /media/{enc(base)}/{path}: stream the origin's segment to the client,
// through the segment engine when it is media.
#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "piff/segment_patcher.h"
#include "service/media_transfer.h"
#include "service/origin_proxy.h"
#include "service/validators.h"

namespace dashpiff {

// Streams the origin's answer to the client, through the patcher when the
// answer is media. The head goes out once the patcher has said what its
// output will be (SegmentPatcher::Decided): with a Content-Length when that is
// known, with the validator of the layout sent, and, for a Range request in a
// patching mode, as the exact slice of that layout (fetched from the start,
// patched, cut; RFC 9110 §14).
//
// A range that starts well past what has arrived when the answer turns out
// to be the origin's own bytes (OutputPlan::identical) is asked of the
// origin instead: this fetch ends there and range_request() is the next one,
// with If-Range on the origin's strong validator, so the origin's 206 is the
// slice of exactly the bytes judged here (a changed file gets its 200, which
// is patched and cut as any other).
class MediaStream final : public OriginHandler {
 public:
  // layout: the patching mode's name, or empty when the origin's bytes pass
  // unchanged (mode off: Range and validators go to the origin as they came).
  // ranged_under: for the fetch range_request() made, the validator its
  // If-Range carries (this one never forwards again).
  MediaStream(RouteContext& ctx, std::string_view layout, std::string ranged_under = {})
      : ctx_(ctx), layout_(layout), head_only_(ctx.request.method == "HEAD"), ranged_under_(std::move(ranged_under)) {}

  // An on-demand subsegment (subsegment.cpp): asked of the origin as this
  // byte range and answered as a whole object of its own.
  void answer_whole(const ByteSpan& span) { whole_ = span; }
  bool whole() const { return whole_.has_value(); }

  bool on_head(const OriginHead& origin_head) override {
    ctx_.origin_status = origin_head.status;
    std::optional<OriginHead> as_whole;
    if (whole_ && !(as_whole = subsegment_head(ctx_, origin_head, *whole_))) {
      done_ = true;
      return false;
    }
    const OriginHead& head = as_whole ? *as_whole : origin_head;
    // A subsegment's 206 holds exactly its span (subsegment_head checked its
    // Content-Range): one that ends cleanly with fewer bytes is broken off
    // here (broken_promise), as a passed 206 is, not left to the web
    // server's count against the Content-Length this answer declares
    // (issue #12 item 3: an answer is complete or visibly broken).
    if (whole_ && origin_head.status == 206) promised_ = whole_->size();
    origin_ = head.headers;
    if (head.status == 304) {
      std::optional<std::string> held;
      if (const auto* v = find_header(head.headers, "ETag")) held = *v;
      Headers answer = layout_.empty() ? not_modified_headers(head.headers, held)
                                       : confirmed_not_modified(ctx_, head.headers, layout_);
      // If-Match / If-Unmodified-Since come before If-None-Match (RFC 9110
      // §13.2.2): judged on the validator the 304 confirms.
      if (!refused_by_precondition(ctx_, answer, head.headers))
        ctx_.begin(304, std::move(answer));
      done_ = true;
      return false;
    }
    const std::optional<std::uint64_t> length = content_length(head.headers);
    if (head.status == 206 && !ranged_under_.empty() && !same_version(head.headers)) {
      // An origin that ignores If-Range could hand over a slice of a newer
      // file, whose answer might not be its own bytes: refused, never passed.
      ctx_.fail(502, "origin answered a range of another version of the file (If-Range ignored)");
      done_ = true;
      return false;
    }
    if (layout_.empty() || head.status != 200) {
      // The origin's bytes as they came (mode off, errors, a 206 not asked for).
      if (head.status >= 200 && head.status < 300 && ranged_under_.empty()) {
        // RFC 9110 §13.2.1: If-Match / If-Unmodified-Since on the 2xx the
        // origin gives (they are not forwarded by default: a resumed
        // download's If-Match must not get a range of a newer file).
        if (refused_by_precondition(ctx_, head.headers, head.headers)) {
          done_ = true;
          return false;
        }
      }
      std::optional<std::uint64_t> sent_length = length;
      if (head.status == 206) {
        // A 206's Content-Range says how many bytes it holds, with or
        // without a Content-Length (chunked, or ended by a close): one that
        // ends cleanly with fewer, or goes on past them, is broken off, never
        // passed as a whole slice (issue #12 item 3).
        if (const auto span = content_range_span(head.headers)) {
          if (length && *length != span->size()) {
            ctx_.fail(502, "origin answered a 206 whose Content-Length is not its Content-Range's");
            done_ = true;
            return false;
          }
          sent_length = promised_ = span->size();
        }
      }
      ctx_.begin(head.status, origin_layout_headers(head, sent_length, true));
      done_ = head_only_;
      return !done_;
    }
    if (looks_like_text(head)) {
      answer(OutputPlan{length, true});
      return !done_;
    }
    PatchOptions options;
    options.mode = ctx_.config.piff_mode;
    options.max_held_box = ctx_.config.max_held_box;
    options.input_length = length;
    if (whole_) options.stream_offset = whole_->first;  // a subsegment is a range of its file
    patcher_.emplace(
        options,
        [this](const std::uint8_t* data, std::size_t size) {
          return send(std::string_view(reinterpret_cast<const char*>(data), size));
        },
        [this](const OutputPlan& plan) { answer(plan); });
    return true;
  }

  bool on_data(std::string_view chunk) override {
    if (done_) return false;
    received_ += chunk.size();
    if (promised_ && received_ > *promised_) return false;  // past its Content-Range: broken_promise()
    const bool ok = patcher_ ? patcher_->feed(chunk) : send(chunk);
    return ok && !done_;
  }

  void on_wait() override { ctx_.sink.flush(); }

  // The answer is complete although the origin transfer may have been cut
  // short on purpose (a HEAD, a range's end, a 304, a 416), or it continues
  // with range_request().
  bool done() const { return done_; }

  // The origin's 206 held other than the bytes its Content-Range named.
  bool broken_promise() const { return promised_ && received_ != *promised_; }

  // The validator range_request()'s If-Range carries; empty without one.
  std::string forwarded_validator() const { return forward_ ? forward_->validator : std::string(); }

  // The origin request that answers the client's range, once this fetch
  // found the answer to be the origin's own bytes: `first`'s target and
  // headers with the range and If-Range instead of the conditionals already
  // judged here.
  std::optional<OriginRequest> range_request(const OriginRequest& first) const {
    if (!forward_) return std::nullopt;
    OriginRequest next = first;
    for (const char* name : {"Range", "If-Range", "If-None-Match", "If-Modified-Since"}) remove_header(next.headers, name);
    next.headers.emplace_back("Range", "bytes=" + std::to_string(forward_->range.first) + "-" +
                                           std::to_string(forward_->range.last));
    next.headers.emplace_back("If-Range", forward_->validator);
    return next;
  }

  // Flushes what the patcher still holds; the counts go to metrics and the log.
  bool finish(bool complete) {
    if (!patcher_) return true;
    const bool ok = complete && !done_ ? patcher_->finish() : true;
    const PatchStats& stats = patcher_->stats();
    ctx_.boxes = stats.piff_neutralised + stats.piff_converted;
    ctx_.metrics.count_patch(ctx_.config.piff_mode, stats);
    if (stats.passthrough_events && ctx_.note.empty()) ctx_.note = "passed through: " + stats.passthrough_reason;
    return ok;
  }

 private:
  // The head, once the output is known: 200 (with its length when known),
  // 206 of a satisfiable range of a known length, or 416.
  void answer(const OutputPlan& plan) {
    const std::optional<std::string> etag = answer_etag(origin_, plan.identical, layout_);
    // The conditionals the origin could not judge (the origin's own tag is
    // only current when its bytes are what is sent), in the order of RFC
    // 9110 §13.2.2.
    if (refused_by_precondition(ctx_, etag, find_header(origin_, "Last-Modified"))) {
      done_ = true;
      return;
    }
    if (client_holds(ctx_.request, etag, find_header(origin_, "Last-Modified"))) {
      ctx_.begin(304, not_modified_headers(origin_, etag));
      done_ = true;
      return;
    }
    Headers headers = representation_headers(origin_, true, true);
    if (etag) headers.emplace_back("ETag", *etag);
    int status = 200;
    std::optional<std::uint64_t> length = plan.length;
    if (plan.length) {
      headers.emplace_back("Accept-Ranges", "bytes");
      const auto* range = find_header(ctx_.request.headers, "Range");
      const auto* if_range = find_header(ctx_.request.headers, "If-Range");
      const auto current = etag ? parse_entity_tag(*etag) : std::nullopt;
      // A date names the origin's bytes: it holds only when those are sent.
      const std::string* last_modified = plan.identical ? find_header(origin_, "Last-Modified") : nullptr;
      if (range && !head_only_ && (!if_range || if_range_holds(*if_range, current, last_modified))) {
        const ByteRange r = parse_range(*range, *plan.length);
        if (r.kind == ByteRange::Kind::unsatisfiable) {
          // The 416 answers this request's Range, not the resource: the
          // origin's freshness does not go with it. CloudFront stores a 416
          // under the URL alone, as long as its Cache-Control says, and every
          // viewer got it (RFC 9111 §3: a response to a range is not the
          // representation; §5.2.2.5 no-store).
          for (const char* name : {"Cache-Control", "Expires", "Age"}) remove_header(headers, name);
          headers.emplace_back("Cache-Control", "no-store");
          headers.emplace_back("Content-Range", "bytes */" + std::to_string(*plan.length));
          headers.emplace_back("Content-Length", "0");
          ctx_.begin(416, std::move(headers));
          done_ = true;
          return;
        }
        if (r.kind == ByteRange::Kind::satisfiable && forward_range(plan, r)) return;
        if (r.kind == ByteRange::Kind::satisfiable) {
          slice_ = r;
          status = 206;
          length = r.last - r.first + 1;
          headers.emplace_back("Content-Range", "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) +
                                                    "/" + std::to_string(*plan.length));
        }
      }
    }
    if (length) headers.emplace_back("Content-Length", std::to_string(*length));
    ctx_.begin(status, std::move(headers));
    done_ = head_only_;
  }

  // A range of the origin's own bytes that starts this far past what has
  // arrived is asked of the origin rather than read up to: a round trip
  // costs less than this much of a fast origin's bytes.
  static constexpr std::uint64_t kForwardRangeGap = 256 * 1024;

  // Ends this fetch for range_request() when the answer is the origin's own
  // bytes, the range starts far enough ahead and the origin has a strong
  // validator for If-Range (RFC 9110 §13.1.5: a strong tag; a date only
  // when there is no tag at all and the date is strong).
  bool forward_range(const OutputPlan& plan, const ByteRange& r) {
    if (!ranged_under_.empty() || whole_ || !plan.identical || r.first < received_ + kForwardRangeGap) return false;
    std::string validator;
    if (find_header(origin_, "ETag")) {
      if (const auto tag = origin_tag(origin_); tag && !tag->weak) validator = tag->str();
    } else if (const auto* lm = find_header(origin_, "Last-Modified")) {
      // RFC 9110 §8.8.2.2: a date is strong for a client when it is at least
      // 60 s before the Date of the answer; a file changed within that time
      // can change again within the same second, and its 206 under the same
      // date would be a slice of other bytes. An answer without a Date has
      // the time it was received (§6.6.1).
      const auto* date = find_header(origin_, "Date");
      const auto modified = parse_http_date(*lm);
      const auto sent = date ? parse_http_date(*date)
                             : std::optional<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                               std::chrono::system_clock::now().time_since_epoch())
                                                               .count());
      if (modified && sent && *modified + 60 <= *sent) validator = *lm;
    }
    if (validator.empty()) return false;
    forward_ = Forward{r, std::move(validator)};
    ctx_.note = "range asked of the origin";
    done_ = true;
    return true;
  }

  // The origin's 206 is of the version whose validator If-Range named.
  bool same_version(const Headers& h) const {
    if (ranged_under_.front() == '"') {
      const auto tag = origin_tag(h);
      return tag && !tag->weak && tag->str() == ranged_under_;
    }
    const auto* lm = find_header(h, "Last-Modified");
    return lm && *lm == ranged_under_;
  }

  // Output bytes to the client, cut to the range when there is one.
  bool send(std::string_view chunk) {
    if (done_) return false;
    if (!slice_) return ctx_.write(chunk);
    const std::uint64_t at = sent_;
    sent_ += chunk.size();
    if (sent_ <= slice_->first) return true;
    const std::uint64_t from = at < slice_->first ? slice_->first - at : 0;
    const std::uint64_t to = std::min<std::uint64_t>(sent_, slice_->last + 1) - at;
    const bool ok = ctx_.write(chunk.substr(from, to - from));
    if (sent_ > slice_->last) done_ = true;  // the rest is not needed
    return ok && !done_;
  }

  RouteContext& ctx_;
  std::string_view layout_;
  bool head_only_;
  Headers origin_;
  std::optional<SegmentPatcher> patcher_;
  std::optional<ByteRange> slice_;
  std::uint64_t sent_ = 0;  // output bytes produced so far (for the slice)
  std::uint64_t received_ = 0;  // origin body bytes delivered so far
  std::optional<std::uint64_t> promised_;  // a passed 206's length, from its Content-Range; a subsegment's
  bool done_ = false;
  std::string ranged_under_;
  std::optional<ByteSpan> whole_;
  struct Forward {
    ByteRange range;
    std::string validator;  // for If-Range
  };
  std::optional<Forward> forward_;
};

namespace {

// The patching mode's layout name, or empty when the origin's bytes pass
// unchanged; a subsegment's answer is never the origin's whole file.
std::string_view layout_of(const RouteContext& ctx) {
  if (ctx.subsegment) return subsegment_layout(ctx);
  return ctx.config.piff_mode == PiffMode::off ? "" : to_string(ctx.config.piff_mode);
}

// The stream of a /media/ answer, on either path.
std::unique_ptr<MediaStream> media_stream(RouteContext& ctx) {
  auto stream = std::make_unique<MediaStream>(ctx, layout_of(ctx));
  if (ctx.subsegment) stream->answer_whole(*ctx.subsegment);
  return stream;
}

// The end of a /media/ answer once its fetch is over, on either path.
void finish_media(RouteContext& ctx, MediaStream& streamer, const OriginResult& result) {
  ctx.metrics.observe_origin(result.seconds, result.error);
  ctx.metrics.bytes_from_origin.fetch_add(result.body_bytes, std::memory_order_relaxed);
  const bool flushed = streamer.finish(result.ok());
  if (streamer.done()) return;  // answered in full; the origin transfer may have been cut on purpose
  if (streamer.broken_promise() && ctx.sink.started()) {
    ctx.note = "origin's 206 held other than the bytes its Content-Range named";
    ctx.sink.abort();
    return;
  }
  if (result.ok()) {
    if (!flushed) ctx.note = "client went away";
    return;
  }
  if (!result.head_delivered || !ctx.sink.started()) {
    if (result.error == OriginError::too_large && streamer.whole())
      // More bytes announced than the range holds: a 200 of the whole file.
      fail_from_origin(ctx, result, "origin ignored the byte range of an on-demand subsegment");
    else if (result.error == OriginError::too_large)
      fail_from_origin(ctx, result,
                       "origin segment larger than " + std::to_string(ctx.config.max_segment_bytes) + " bytes");
    else
      fail_from_origin(ctx, result);
    return;
  }
  ctx.note = result.error == OriginError::aborted ? "client went away" : origin_detail(result);
  ctx.sink.abort();
}

}  // namespace

void handle_media(RouteContext& ctx, std::string_view encoded_and_rest) {
  std::optional<OriginRequest> req;
  if (is_subsegment_path(encoded_and_rest)) {
    // An on-demand subsegment (subsegment.cpp): one fetch of its byte range.
    auto sub = subsegment_request(ctx, encoded_and_rest);
    if (!sub) return;
    ctx.subsegment = sub->span;
    req = std::move(sub->request);
  } else {
    req = media_request(ctx, encoded_and_rest);
    if (!req) return;
    if (is_smooth_fragment_path(encoded_and_rest)) {
      // Smooth fragments are rebuilt whole on the serving thread.
      handle_smooth_fragment(ctx, *req);
      return;
    }
  }
  if (ctx.launcher) {
    launch_media(ctx, std::move(*req));
    return;
  }
  const auto stream = media_stream(ctx);
  MediaStream& streamer = *stream;
  finish_media(ctx, streamer, ctx.origin.fetch(*req, streamer));
  if (auto next = streamer.range_request(*req)) {
    MediaStream ranged(ctx, layout_of(ctx), streamer.forwarded_validator());
    finish_media(ctx, ranged, ctx.origin.fetch(*next, ranged));
  }
}

namespace {

bool refused_at_cap(RouteContext& ctx) {
  if (ctx.launcher->has_room()) return false;
  // Issue 13: beyond the cap a fast refusal, never a silent queue.
  ctx.metrics.transfers_refused.fetch_add(1, std::memory_order_relaxed);
  ctx.note = "at the cap of concurrent transfers";
  ctx.answer(503, "text/plain; charset=utf-8", "busy: at the cap of concurrent transfers\n",
             {{"Retry-After", "1"}, {"Cache-Control", "no-store"}});
  return true;
}

}  // namespace

namespace {

// Hands the answer to the loop as an `Answer` made from `what`, or refuses
// it at the cap of concurrent transfers.
template <class Answer, class What>
void launch_on_loop(RouteContext& ctx, What what) {
  if (refused_at_cap(ctx)) return;
  ctx.launcher->launch([&](ResponseSink& sink) { return std::make_unique<Answer>(ctx, std::move(what), sink); });
  ctx.deferred = true;
}

}  // namespace

void launch_media(RouteContext& ctx, OriginRequest request) { launch_on_loop<MediaTransfer>(ctx, std::move(request)); }

void launch_manifest(RouteContext& ctx, ManifestPlan plan) { launch_on_loop<ManifestTransfer>(ctx, std::move(plan)); }

LoopAnswerBase::LoopAnswerBase(RouteContext& ctx, ResponseSink& sink)
    : request_(std::move(ctx.request)), ctx_(request_, sink, ctx.origin, ctx.config, ctx.metrics, ctx.rewrites) {
  ctx_.route = ctx.route;
  ctx_.started = ctx.started;
}

MediaTransfer::MediaTransfer(RouteContext& ctx, OriginRequest request, ResponseSink& sink)
    : LoopAnswerBase(ctx, sink), origin_request_(std::move(request)) {
  ctx_.subsegment = ctx.subsegment;
  stream_ = media_stream(ctx_);
}

MediaTransfer::~MediaTransfer() = default;

bool MediaTransfer::on_head(const OriginHead& head) { return stream_->on_head(head); }
bool MediaTransfer::on_data(std::string_view chunk) { return stream_->on_data(chunk); }

LoopAnswer::Next MediaTransfer::finish(const OriginResult& result, bool may_continue) {
  finish_media(ctx_, *stream_, result);
  if (auto next = may_continue ? stream_->range_request(origin_request_) : std::nullopt) {
    origin_request_ = std::move(*next);
    stream_ = std::make_unique<MediaStream>(ctx_, layout_of(ctx_), stream_->forwarded_validator());
    return Next::again;
  }
  finish_request(ctx_);
  return Next::done;
}

void fetch_then_answer(RouteContext& ctx, AfterFetch job) {
  if (!ctx.launcher) {
    const OriginResult result = ctx.origin.fetch(job.request, *job.handler);
    if (job.work) job.work(result);
    job.answer(ctx, result);
    return;
  }
  launch_on_loop<AfterFetchTransfer>(ctx, std::move(job));
}

AfterFetchTransfer::AfterFetchTransfer(RouteContext& ctx, AfterFetch job, ResponseSink& sink)
    : LoopAnswerBase(ctx, sink), job_(std::move(job)) {}

LoopAnswer::Next AfterFetchTransfer::finish(const OriginResult& result, bool) {
  if (job_.work) {
    result_ = result;
    return Next::work;
  }
  job_.answer(ctx_, result);
  return end();
}

void AfterFetchTransfer::run_work(OriginClient&) {
  try {
    job_.work(*result_);
  } catch (...) {
    work_failed_ = true;  // issue #12 item 2: answered 500 on the loop, the pool thread goes on
  }
}

LoopAnswer::Next AfterFetchTransfer::resume(bool) {
  if (work_failed_) ctx_.fail(500, "internal error");
  else job_.answer(ctx_, *result_);
  return end();
}

LoopAnswer::Next AfterFetchTransfer::end() {
  finish_request(ctx_);
  return Next::done;
}

ManifestTransfer::ManifestTransfer(RouteContext& ctx, ManifestPlan plan, ResponseSink& sink)
    : LoopAnswerBase(ctx, sink), plan_(std::move(plan)), held_(ctx.launcher ? ctx.launcher->held_bytes() : nullptr) {}

OriginRequest ManifestTransfer::start(RewriteCache& manifests) {
  if (work_.index_wanted) {
    // The next index read a pass of the rewrite asked for, within what is
    // left of the MPD's index budget (resume() and finish() see to it that
    // there is one and that time is left).
    reading_ = next_read();
    auto& read = work_.index_reads[reading_];
    const auto left = work_.options.index_read_budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                            std::chrono::steady_clock::now() - *work_.index_started);
    index_got_.emplace();
    index_got_->hold_within(held_);
    return index_read_request(ctx_, read.url, read.range, std::max(left, std::chrono::milliseconds(1)));
  }
  cache_ = &manifests;
  add_manifest_conditionals(ctx_, plan_, manifests);
  got_.emplace(plan_.limits);
  got_->hold_within(held_);
  return plan_.request;
}

std::size_t ManifestTransfer::next_read() const {
  std::size_t i = 0;
  while (i < work_.index_reads.size() && work_.index_reads[i].done) ++i;
  return i;
}

LoopAnswer::Next ManifestTransfer::finish(const OriginResult& result, bool may_continue) {
  if (reading()) {
    auto& read = work_.index_reads[reading_];
    read.bytes = index_read_bytes(ctx_, result, *index_got_, read.range, read.error);
    read.done = true;
    index_got_.reset();
    return resume(may_continue);
  }
  work_ = answer_fetched_manifest(ctx_, plan_, *got_, result, *cache_);
  work_.reads_on_loop = true;
  if (work_.kind != ManifestWork::none) return Next::work;
  return end();
}

void ManifestTransfer::run_work(OriginClient& origin) {
  try {
    run_manifest_work(work_, *got_, ctx_, origin);
  } catch (...) {
    work_failed_ = true;  // issue #12 item 2: answered 500 on the loop, the pool thread goes on
  }
}

LoopAnswer::Next ManifestTransfer::resume(bool may_continue) {
  if (!work_failed_ && work_.index_wanted && may_continue) {
    const bool time_left = std::chrono::steady_clock::now() - *work_.index_started < work_.options.index_read_budget;
    if (time_left && next_read() < work_.index_reads.size()) return Next::again;
    // Out of time: the reads not made fail, and the next pass keeps their
    // Representations as the origin wrote them.
    for (auto& read : work_.index_reads)
      if (!read.done) {
        read.done = true;
        read.error = "index reads of this MPD at their bound (" +
                     std::to_string(work_.options.index_read_budget.count()) + " ms)";
      }
    return Next::work;
  }
  if (work_failed_) ctx_.fail(500, "internal error");
  else if (work_.index_wanted) ctx_.fail(502, "client gone during the index reads");  // not seen: counted, logged
  else answer_manifest_work(ctx_, plan_, *got_, work_, *cache_);
  return end();
}

LoopAnswer::Next ManifestTransfer::end() {
  finish_request(ctx_);
  return Next::done;
}

}  // namespace dashpiff

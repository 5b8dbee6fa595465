// Smooth Streaming through the proxy (README "Smooth Streaming"): a Smooth
// client manifest fetched on /mpd/ is answered as a DASH MPD, /mss-init/
// answers the init segment synthesised from it, and a /media/ request for a
// QualityLevels(..)/Fragments(..) URL gets the fragment rewritten for that
// init (tfdt, track ID) and its PIFF boxes converted to CENC. Fragments are
// held whole: the tfdt a Smooth fragment lacks grows the moof, so no byte can
// leave before the moof is complete, and the answer carries its length.
#include <chrono>
#include <cstdio>
#include <optional>

#include "http/uri.h"
#include "mss/fragment.h"
#include "mss/init_segment.h"
#include "mss/manifest.h"
#include "mss/mpd_writer.h"
#include "piff/segment_patcher.h"
#include "service/media_transfer.h"
#include "service/origin_proxy.h"

namespace dashpiff {
namespace {

// A Smooth fragment is held whole, and converted into a second buffer: without
// a configured segment cap this bounds what an origin can make one request
// hold (issue #12: a hostile request stays within 64 MiB of a worker's idle
// size, copies included). A 2 s fragment at 20 Mbit/s is 5 MB.
constexpr std::uint64_t kMaxSmoothFragment = 16u << 20;

// The layout name of a converted fragment's validator (client_response_headers).
constexpr std::string_view kFragmentLayout = "mss";

bool digits(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos; }

Headers without(Headers headers, std::initializer_list<std::string_view> names) {
  Headers out;
  for (auto& h : headers) {
    bool drop = false;
    for (auto n : names) drop = drop || iequals(h.first, n);
    if (!drop) out.push_back(std::move(h));
  }
  return out;
}

// A strong validator for bytes dashpiff made itself (FNV-1a 64): the same
// manifest always gives the same init segment, byte for byte.
std::string content_etag(const mss::Bytes& body) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint8_t b : body) h = (h ^ b) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "\"mss-%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

// The init segment /mss-init/ asks for, made from the Smooth manifest the
// origin sent (AfterFetch::work: off the event loop, since it parses).
struct MssInit {
  std::size_t stream = 0;
  std::size_t level = 0;
  bool made = false;  // the work ran on a manifest worth parsing
  mss::Bytes init;
  int status = 0;  // when refused: 404 (no such stream or level) or 502
  std::string refusal;
};

// Whether the held answer is a Smooth manifest to make the init from; the
// answer says why not otherwise.
bool init_makeable(const BufferingHandler& got) {
  return got.refusal.empty() && !got.over_budget && got.head.status == 200 &&
         mss::looks_like_smooth(std::string_view(got.body).substr(0, 4096));
}
void make_mss_init(const BufferingHandler& got, MssInit& out);

// After the fetch (fetch_then_answer): the init segment, the fragment.
void answer_mss_init(RouteContext& ctx, const BufferingHandler& got, const MssInit& made);
void answer_smooth_fragment(RouteContext& ctx, const BufferingHandler& got);

}  // namespace

bool is_smooth_fragment_path(std::string_view rest) {
  // MS-SSTR §2.2.3: .../QualityLevels({bitrate})/Fragments({name}={start time})
  const auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view last = rest.substr(slash + 1);
  const std::string_view dir = rest.substr(0, slash);
  const std::string_view level = dir.substr(dir.rfind('/') == std::string_view::npos ? 0 : dir.rfind('/') + 1);
  if (level.rfind("QualityLevels(", 0) != 0 || level.back() != ')') return false;
  if (last.rfind("Fragments(", 0) != 0 || last.back() != ')') return false;
  const auto eq = last.find('=');
  return eq != std::string_view::npos && digits(last.substr(eq + 1, last.size() - eq - 2));
}

SmoothMpd smooth_to_mpd(const std::string& body, const std::string& effective_url, TokenMode tokens,
                        std::string& error) {
  const Uri effective = Uri::parse(effective_url);
  mss::MpdOptions options;
  options.manifest_url = strip_query(effective.str());
  options.manifest_query = effective.query.value_or("");
  options.carry_query = tokens == TokenMode::pass;
  options.now = std::chrono::system_clock::now();
  SmoothMpd made;
  made.layout = options.carry_query ? "mss" : "mss-untokened";
  try {
    const mss::Manifest manifest = mss::parse_manifest(body);
    made.mpd = mss::write_mpd(manifest, options);
    made.is_live = manifest.is_live;
  } catch (const mss::MssError& e) {
    error = std::string("origin Smooth manifest refused: ") + e.what();
  }
  return made;
}

void answer_smooth_mpd(RouteContext& ctx, const OriginHead& head, const SmoothMpd& made) {
  const mss::MpdResult& mpd = made.mpd;
  ctx.metrics.manifests_rewritten.fetch_add(1, std::memory_order_relaxed);
  ctx.note = "smooth -> " + std::to_string(mpd.representations) + " representations";
  if (!mpd.skipped.empty()) ctx.note += "; skipped " + mpd.skipped.front();
  Headers headers = without(client_response_headers(head, true, mpd.xml.size(), false), {"Content-Type", "ETag"});
  if (auto etag = answer_etag(head.headers, false, made.layout)) headers.emplace_back("ETag", *etag);
  // A live MPD is anchored at the time of this answer: the origin's
  // validators do not describe it.
  if (made.is_live) headers = without(std::move(headers), {"ETag", "Last-Modified"});
  // The client's conditionals, judged against the validators of this answer
  // as for any MPD (RFC 9110 §13.1.2, §13.1.3; the 304 carries this ETag,
  // §15.4.5): the origin could only judge its own tags.
  std::optional<std::string> etag;
  if (const auto* v = find_header(headers, "ETag")) etag = *v;
  if (head.status == 200 && refused_by_precondition(ctx, headers, headers)) return;
  if (head.status == 200 && client_holds(ctx.request, etag, find_header(headers, "Last-Modified"))) {
    ctx.begin(304, not_modified_headers(made.is_live ? without(head.headers, {"Last-Modified"}) : head.headers, etag));
    return;
  }
  headers.emplace_back("Content-Type", "application/dash+xml");
  ctx.begin(head.status, std::move(headers));
  ctx.write(mpd.xml);
}

void handle_mss_init(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto target = decode_leading(ctx, encoded_and_rest);
  if (!target) return;
  const std::string_view name = target->rest;
  const auto dash = name.find('-');
  const bool shaped = dash != std::string_view::npos && name.size() > 4 && name.substr(name.size() - 4) == ".mp4" &&
                      digits(name.substr(0, dash)) && digits(name.substr(dash + 1, name.size() - dash - 5)) &&
                      dash <= 6 && name.size() - dash - 5 <= 6;
  if (!shaped) {
    ctx.fail(400, "init route takes /mss-init/{encoded manifest URL}/{stream}-{level}.mp4");
    return;
  }
  const std::size_t stream = std::stoul(std::string(name.substr(0, dash)));
  const std::size_t level = std::stoul(std::string(name.substr(dash + 1, name.size() - dash - 5)));

  OriginRequest req;
  req.url = target->decoded;
  if (!ctx.request.query.empty()) req.url += (req.url.find('?') == std::string::npos ? "?" : "&") + ctx.request.query;
  req.headers = origin_request_headers(ctx, false);
  // The client's conditionals name the init, not the manifest: judged below.
  remove_header(req.headers, "If-None-Match");
  remove_header(req.headers, "If-Modified-Since");
  req.decode_body = true;
  req.max_body_bytes = ctx.config.max_manifest_bytes;
  // Bounded while it arrives, as on /mpd/ (issue #12 item 4): the shape
  // limits and the gzip ratio. Without them a 16 KB gzip manifest of 4
  // million elements was parsed whole below, on the event loop (5 s in
  // which every transfer of the worker waited, and 950 MiB).
  req.max_decoded_ratio = ctx.config.max_manifest_gzip_ratio;
  auto handler = std::make_unique<BufferingHandler>(manifest_limits(ctx.config));
  BufferingHandler& got = *handler;
  got.hold_within(ctx.launcher ? ctx.launcher->held_bytes() : nullptr);
  auto made = std::make_shared<MssInit>();
  made->stream = stream;
  made->level = level;
  // The parse is the job's work, off the event loop: a 15 MB manifest within
  // every limit takes ~150 ms, and on the loop every transfer of the worker
  // waited that long (issue 13).
  AfterFetch job{req, std::move(handler),
                 [&got, req, made](RouteContext& ctx, const OriginResult& result) {
                   if (fetched_whole(ctx, req, got, result, "manifest")) answer_mss_init(ctx, got, *made);
                 },
                 [&got, made](const OriginResult& result) {
                   if (result.ok() && init_makeable(got)) make_mss_init(got, *made);
                 }};
  fetch_then_answer(ctx, std::move(job));
}

namespace {

// The init segment of quality level `out.level` of stream `out.stream`,
// synthesised from the Smooth manifest in `got`.
void make_mss_init(const BufferingHandler& got, MssInit& out) {
  out.made = true;
  try {
    const mss::Manifest manifest = mss::parse_manifest(got.body);
    if (out.stream >= manifest.streams.size() || out.level >= manifest.streams[out.stream].quality_levels.size()) {
      out.status = 404;
      out.refusal = "the Smooth manifest has no stream " + std::to_string(out.stream) + " with quality level " +
                    std::to_string(out.level);
      return;
    }
    const mss::StreamIndex& stream = manifest.streams[out.stream];
    out.init = mss::synthesise_init(manifest, stream, stream.quality_levels[out.level]);
  } catch (const mss::MssError& e) {
    out.status = 502;
    out.refusal = std::string("origin Smooth manifest refused: ") + e.what();
  }
}

void answer_mss_init(RouteContext& ctx, const BufferingHandler& got, const MssInit& made) {
  if (got.head.status != 200) {
    ctx.fail(502, "origin answered " + std::to_string(got.head.status) + " for the Smooth manifest");
    return;
  }
  if (!init_makeable(got)) {
    ctx.fail(502, "origin manifest is not a Smooth Streaming client manifest");
    return;
  }
  if (!made.made) {
    ctx.fail(500, "internal error: the init segment was not made");
    return;
  }
  if (made.status) {
    ctx.fail(made.status, made.refusal);
    return;
  }
  const mss::Bytes& init = made.init;
  // Cacheable as long as the manifest is: its freshness headers carry over,
  // and the validator is the init's own.
  Headers headers = without(client_response_headers(got.head, true, init.size(), false),
                            {"Content-Type", "ETag", "Content-Range", "Accept-Ranges"});
  headers.emplace_back("Content-Type", "video/mp4");
  const std::string etag = content_etag(init);
  headers.emplace_back("ETag", etag);
  ctx.note = "smooth init " + std::to_string(init.size()) + " bytes";
  if (refused_by_precondition(ctx, etag, find_header(got.head.headers, "Last-Modified"))) return;
  if (client_holds(ctx.request, etag, find_header(got.head.headers, "Last-Modified"))) {
    ctx.begin(304, not_modified_headers(got.head.headers, etag));
    return;
  }
  ctx.begin(200, std::move(headers));
  ctx.write(std::string_view(reinterpret_cast<const char*>(init.data()), init.size()));
}

}  // namespace

void handle_smooth_fragment(RouteContext& ctx, OriginRequest req) {
  // The answer is the whole converted fragment: a Range asks for a slice of
  // bytes the origin does not have, so it is ignored (RFC 9110 §14.2 lets a
  // server answer 200 in full) and HEAD is answered from a GET.
  req.method = "GET";
  req.headers = origin_request_headers(ctx, false);
  const bool converting = ctx.config.piff_mode != PiffMode::off;
  if (converting) {
    // As on the DASH media path: the client's tags of the converted layout
    // map back to the origin's, a date is judged here (its 304 must carry
    // the converted answer's ETag, RFC 9110 §15.4.5).
    set_origin_conditionals(ctx, req.headers, kFragmentLayout);
    remove_header(req.headers, "If-Modified-Since");
  }
  req.max_body_bytes = ctx.config.max_segment_bytes ? ctx.config.max_segment_bytes : kMaxSmoothFragment;
  auto handler = std::make_unique<BufferingHandler>();
  BufferingHandler& got = *handler;
  got.hold_within(ctx.launcher ? ctx.launcher->held_bytes() : nullptr);
  AfterFetch job{req, std::move(handler), [&got, req](RouteContext& ctx, const OriginResult& result) {
                   if (fetched_whole(ctx, req, got, result, "Smooth fragment")) answer_smooth_fragment(ctx, got);
                 },
                 {}};
  fetch_then_answer(ctx, std::move(job));
}

namespace {

// The fragment in `got`, rebuilt for the synthesised init and converted.
void answer_smooth_fragment(RouteContext& ctx, const BufferingHandler& got) {
  const bool converting = ctx.config.piff_mode != PiffMode::off;
  if (got.head.status == 304) {
    // RFC 9110 §8.6: a 304 carries no Content-Length but the 200's (here a
    // length of its empty body would be 0): the validator of what the
    // client holds and the freshness, as on the /media/ path.
    std::optional<std::string> held;
    if (const auto* v = find_header(got.head.headers, "ETag")) held = *v;
    Headers answer = converting ? confirmed_not_modified(ctx, got.head.headers, kFragmentLayout)
                                : not_modified_headers(got.head.headers, held);
    // If-Match / If-Unmodified-Since before If-None-Match (RFC 9110 §13.2.2).
    if (!refused_by_precondition(ctx, answer, got.head.headers))
      ctx.begin(304, std::move(answer));
    return;
  }
  // Not judged by Content-Type: origins serve these extensionless URLs with
  // whatever their default is; a body that is not a fragment is refused below.
  if (got.head.status != 200 || ctx.config.piff_mode == PiffMode::off) {
    if (got.head.status == 200 && refused_by_precondition(ctx, got.head.headers, got.head.headers)) return;
    // The origin's bytes, but its Accept-Ranges does not hold here: a Range
    // is answered with the whole 200 (above), so none is advertised.
    ctx.begin(got.head.status,
              without(client_response_headers(got.head, false, got.body.size(), false), {"Accept-Ranges"}));
    ctx.write(got.body);
    return;
  }
  mss::ConvertedFragment fragment;
  try {
    fragment = mss::convert_fragment(reinterpret_cast<const std::uint8_t*>(got.body.data()), got.body.size());
  } catch (const mss::MssError& e) {
    ctx.fail(502, std::string("origin Smooth fragment refused: ") + e.what());
    return;
  }
  // The synthesised init declares CENC, so PIFF-only sample encryption must
  // become senc/saiz/saio whatever the neutralising modes would do.
  PatchOptions options;
  options.mode = ctx.config.piff_mode == PiffMode::convert ? PiffMode::convert : PiffMode::automatic;
  options.max_held_box = std::max<std::size_t>(ctx.config.max_held_box, fragment.data.size());
  std::string out;
  out.reserve(fragment.data.size() + 1024);
  SegmentPatcher patcher(options, [&](const std::uint8_t* d, std::size_t n) {
    out.append(reinterpret_cast<const char*>(d), n);
    return true;
  });
  patcher.feed(fragment.data.data(), fragment.data.size());
  patcher.finish();
  const PatchStats& stats = patcher.stats();
  ctx.boxes = stats.piff_converted + stats.piff_neutralised + fragment.tfxd_replaced + fragment.tfrf_dropped;
  ctx.metrics.count_patch(options.mode, stats);
  ctx.note = "smooth fragment t=" + std::to_string(fragment.decode_time);
  if (stats.passthrough_events) ctx.note += "; passed through: " + stats.passthrough_reason;
  const auto etag = answer_etag(got.head.headers, false, kFragmentLayout);
  if (refused_by_precondition(ctx, etag, find_header(got.head.headers, "Last-Modified"))) return;
  if (client_holds(ctx.request, etag, find_header(got.head.headers, "Last-Modified"))) {
    ctx.begin(304, not_modified_headers(got.head.headers, etag));
    return;
  }
  Headers headers = without(client_response_headers(got.head, true, out.size(), false), {"Content-Range", "Accept-Ranges"});
  // A fragment the origin did not label (made inert as octet-stream) is MP4.
  if (const auto* type = find_header(headers, "Content-Type"); !type || *type == "application/octet-stream")
    set_header(headers, "Content-Type", "video/mp4");
  ctx.begin(200, std::move(headers));
  ctx.write(out);
}

}  // namespace

}  // namespace dashpiff

// /mpd/{enc(manifest URL)}: fetch the MPD, rewrite it so that every request
// the player makes comes back through the proxy, answer it.
#include <cstdio>

#include "http/uri.h"
#include "mpd/rewriter.h"
#include "mss/manifest.h"
#include "service/inert.h"
#include "service/media_transfer.h"
#include "service/origin_proxy.h"

namespace dashpiff {
namespace {

constexpr std::string_view kManifestLayout = "mpd";

// The rewrite of one origin MPD differs with this service's configuration
// (the converting modes add CENC descriptors, token-mode drop leaves the
// query out of every URL): each variant is a layout of its own, so that the
// same origin MPD never gets one validator for different bytes (RFC 9110
// §8.8.3) and a cache that revalidates across a change of piff-mode does not
// keep the other mode's MPD.
std::string plan_layout(const ManifestPlan& plan) {
  std::string layout(kManifestLayout);
  if (plan.add_cenc) layout += "-cenc";
  if (!plan.carry_query) layout += "-untokened";
  return layout;
}

// An on-demand MPD's rewrite also depends on its files' indexes as read
// then (a read that failed keeps its Representation as written; a later
// rewrite, on another thread or once the rewrite cache has moved on, expands
// it): its entity tag names the bytes (a digest of them in the layout, so
// that the same bytes get the same tag in every worker; RFC 9110 §8.8.3: a
// tag changes when the representation does). The origin's date stays the
// Last-Modified (a weak validator, §8.8.2.2), as for any rewrite.
std::string manifest_layout(const ManifestPlan& plan, const MpdRewriteResult& r) {
  // Bytes that depend on more than the plan (index reads, the proxy address
  // remote elements are named by) get a validator of their own.
  if (!r.on_demand_expanded && !r.on_demand_kept && !r.names_the_proxy) return plan_layout(plan);
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a: the same in every build and worker
  for (const char c : r.xml) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(h));
  return std::string(kManifestLayout) + "-" + digest;  // costs a pass over the bytes it answers
}

// An MPD whose remote elements name the proxy by the request's Host and
// X-Forwarded-Proto (RouteContext::public_base without public-base-url):
// a cache before the proxy (the shipped cached nginx site keys on no host)
// keeps one per host and scheme, never hands the MPD one request made up a
// Host for to the next player (RFC 9110 §12.5.5; a 304 says it too, §15.4.5).
void vary_on_the_host(const RouteContext& ctx, const MpdRewriteResult& r, Headers& headers) {
  if (!r.names_the_proxy || !ctx.config.public_base_url.empty()) return;
  constexpr std::string_view kOn = "Host, X-Forwarded-Proto";
  for (auto& [name, value] : headers)
    if (iequals(name, "Vary")) {
      value += ", ";
      value += kOn;
      return;
    }
  headers.emplace_back("Vary", std::string(kOn));
}

// Answers a rewritten manifest: its own validator and type, the origin's
// freshness (`origin` holds the headers that apply now, a 304's over the
// cached 200's).
void answer_manifest(RouteContext& ctx, const ManifestPlan& plan, const Headers& origin,
                     const MpdRewriteResult& rewritten) {
  const auto etag = answer_etag(origin, false, manifest_layout(plan, rewritten));
  const auto* last_modified = find_header(origin, "Last-Modified");
  ctx.metrics.manifests_rewritten.fetch_add(1, std::memory_order_relaxed);
  ctx.note = std::to_string(rewritten.urls_rewritten) + " urls rewritten";
  if (refused_by_precondition(ctx, etag, last_modified)) return;
  if (client_holds(ctx.request, etag, last_modified)) {
    Headers headers = not_modified_headers(origin, etag);
    vary_on_the_host(ctx, rewritten, headers);
    ctx.begin(304, std::move(headers));
    return;
  }
  Headers headers = representation_headers(origin, rewritten.content_type.empty(), false);
  if (!rewritten.content_type.empty()) headers.emplace_back("Content-Type", rewritten.content_type);
  // An MPD the origin labelled as generic XML (or not at all) is served as
  // what it is, never as an active type.
  else if (const auto* type = find_header(origin, "Content-Type"); !type || is_active_type(*type))
    set_header(headers, "Content-Type", "application/dash+xml");
  if (etag) headers.emplace_back("ETag", *etag);
  vary_on_the_host(ctx, rewritten, headers);
  headers.emplace_back("Content-Length", std::to_string(rewritten.xml.size()));
  ctx.begin(200, std::move(headers));
  ctx.write(rewritten.xml);
}

// What the entry keeps of this fetch. The entry serves every requester of
// the worker: its validators (which make it revalidated and answered on a
// 304, find_revalidatable) only when the origin's answer is for anyone. An
// answer marked private, or one of several variants, kept them, and a
// requester whose own answer the origin judged unchanged since that date
// was given another's MPD (its tokens, its language).
OriginValidation validation_of(const RouteContext& ctx, const ManifestPlan& plan, const BufferingHandler& got) {
  OriginValidation validation;
  validation.fetch_key = plan.fetch_key;
  if (answer_for_anyone(got.head.headers, ctx.config.forward_headers)) {
    if (const auto* etag = find_header(got.head.headers, "ETag")) validation.etag = *etag;
    if (const auto* lm = find_header(got.head.headers, "Last-Modified")) validation.last_modified = *lm;
  }
  validation.effective_url = got.head.effective_url;
  validation.headers = got.head.headers;
  return validation;
}

// The cached 200's headers brought up to date by a 304 (RFC 9111 §4.3.4):
// every field the 304 carries replaces the stored one. The stored Age is the
// age the 200 had when it arrived; the answer was validated just now, so only
// the 304's own Age (if any) applies (RFC 9111 §4.2.3).
Headers refreshed(const Headers& stored, const Headers& not_modified) {
  Headers out = not_modified;
  for (const auto& h : stored)
    if (!find_header(not_modified, h.first) && !iequals(h.first, "Age")) out.push_back(h);
  return out;
}

}  // namespace

std::optional<ManifestPlan> plan_manifest(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto target = decode_leading(ctx, encoded_and_rest);
  if (!target) return std::nullopt;
  if (!target->rest.empty()) {
    ctx.fail(400, "manifest route takes one encoded URL: /mpd/{encoded}");
    return std::nullopt;
  }
  ManifestPlan plan;
  OriginRequest& req = plan.request;
  req.url = target->decoded;
  if (!ctx.request.query.empty()) req.url += "?" + ctx.request.query;
  req.headers = origin_request_headers(ctx, false);
  req.decode_body = true;
  req.max_body_bytes = ctx.config.max_manifest_bytes;
  req.max_decoded_ratio = ctx.config.max_manifest_gzip_ratio;

  // Both modes hand CENC-only players senc data for PIFF-only segments, so
  // those players must also find the cenc descriptor they look for.
  plan.add_cenc = ctx.config.piff_mode == PiffMode::convert || ctx.config.piff_mode == PiffMode::automatic;
  plan.carry_query = ctx.config.token_mode == TokenMode::pass;
  // What the answer depends on besides the origin's bytes (the rewrite options
  // other than the effective URL, which the entry keeps): the proxy's own
  // address too, which remote elements' hrefs name (public_base).
  plan.fetch_key = req.url + (plan.carry_query ? "\n1" : "\n0") + (plan.add_cenc ? "1" : "0") + "\n" +
                   ctx.public_base();
  plan.limits = manifest_limits(ctx.config);
  return plan;
}

void add_manifest_conditionals(RouteContext& ctx, ManifestPlan& plan, RewriteCache& cache) {
  // Revalidate what was rewritten last time: the origin's validators
  // instead of the client's, which are answered here (RFC 9111 §4.3.1).
  Headers& headers = plan.request.headers;
  const CachedRewrite* cached = cache.find_revalidatable(plan.fetch_key);
  remove_header(headers, "If-Modified-Since");
  if (cached) {
    plan.cached = *cached;
    remove_header(headers, "If-None-Match");
    if (!cached->origin.etag.empty()) headers.emplace_back("If-None-Match", cached->origin.etag);
    if (!cached->origin.last_modified.empty()) headers.emplace_back("If-Modified-Since", cached->origin.last_modified);
  } else {
    // A date alone is judged here, after the rewrite (answer_manifest): the
    // origin's 304 to it could not tell which validator the 200 would carry
    // (RFC 9110 §15.4.5; an MPD's, a Smooth manifest's or the origin's own).
    set_origin_conditionals(ctx, headers, plan_layout(plan));
  }
}

ManifestWork answer_fetched_manifest(RouteContext& ctx, ManifestPlan& plan, const BufferingHandler& got,
                                     const OriginResult& result, RewriteCache& cache) {
  ManifestWork work;
  const OriginRequest& req = plan.request;
  if (!fetched_whole(ctx, req, got, result, "manifest")) return work;
  if (got.head.status == 304) {
    const auto& cached = plan.cached;
    if (cached && (got.head.effective_url.empty() || got.head.effective_url == cached->origin.effective_url)) {
      answer_manifest(ctx, plan, refreshed(cached->origin.headers, got.head.headers), cached->result);
      ctx.note += ", revalidated";
      return work;
    }
    // The client's own validator, confirmed by the origin; If-Match and
    // If-Unmodified-Since first (RFC 9110 §13.2.2).
    Headers answer = confirmed_not_modified(ctx, got.head.headers, plan_layout(plan));
    if (!refused_by_precondition(ctx, answer, got.head.headers))
      ctx.begin(304, std::move(answer));
    return work;
  }
  const auto* type = find_header(got.head.headers, "Content-Type");
  const bool ok = got.head.status >= 200 && got.head.status < 300;
  if (ok && mss::looks_like_smooth(std::string_view(got.body).substr(0, 4096))) {
    work.kind = ManifestWork::smooth_mpd;
    work.effective_url = got.head.effective_url.empty() ? req.url : got.head.effective_url;
    // token-mode holds for a Smooth manifest's URLs too (run_manifest_work
    // reads it here; left at its default, drop carried the query anyway).
    work.options.carry_query = plan.carry_query;
    return work;
  }
  if (!ok || !looks_like_mpd(type ? *type : "", std::string_view(got.body).substr(0, 4096))) {
    // Not ours to change: pass it on (already decoded, so no Content-Encoding).
    // Its validators are the origin's; If-Match / If-Unmodified-Since, never
    // forwarded on this route (set_origin_conditionals), are judged on them
    // as on every route (RFC 9110 §13.2.2).
    if (ok && refused_by_precondition(ctx, got.head.headers, got.head.headers)) return work;
    ctx.begin(got.head.status, origin_layout_headers(got.head, got.body.size(), false));
    ctx.write(got.body);
    return work;
  }

  const Uri effective = Uri::parse(got.head.effective_url.empty() ? req.url : got.head.effective_url);
  MpdRewriteOptions& options = work.options;
  options.manifest_url = strip_query(effective.str());
  options.manifest_query = effective.query.value_or("");
  options.carry_query = plan.carry_query;
  options.add_cenc_protection = plan.add_cenc;
  options.public_base = ctx.public_base();
  options.max_bytes = ctx.config.max_manifest_bytes;
  options.limits = plan.limits;
  // On-demand Representations (subsegment.cpp): their indexes are read
  // during the rewrite, by the thread that runs it.
  work.fetch_index = ctx.config.piff_mode != PiffMode::off;
  // The same bytes rewritten before: answered from the cache, no parse.
  if (const MpdRewriteResult* rewritten = cache.find(got.body, options)) {
    answer_manifest(ctx, plan, got.head.headers, *rewritten);
    if (rewritten->on_demand_expanded || rewritten->on_demand_kept) note_on_demand(ctx, *rewritten, false);
    // Same bytes: the entry only takes this fetch's validators (no copy).
    cache.store(got.body, options, *rewritten, validation_of(ctx, plan, got));
    return work;
  }
  work.kind = ManifestWork::rewrite_mpd;
  return work;
}

namespace {

// Passes of one rewrite that may ask for index reads: the first asks for
// every index, the second for what an inexact index range left out; one
// more for luck. A later pass gets no new reads (their Representations are
// kept as the origin wrote them).
constexpr int kMaxIndexPasses = 3;

// The reader of a pass whose index reads the event loop makes: what was read
// is given back; what was not is asked for (ManifestWork::IndexRead), within
// the MPD's index time budget counted from the first read asked.
MpdRewriteOptions::IndexFetcher loop_index_reader(ManifestWork& work) {
  return [&work](const std::string& url, const ByteSpan& range, std::chrono::milliseconds,
                 std::string& error) -> std::optional<std::string> {
    for (const auto& read : work.index_reads) {
      if (read.url != url || read.range.first != range.first || read.range.last != range.last) continue;
      if (!read.done) {
        error = "index read pending";
        return std::nullopt;
      }
      if (!read.bytes) error = read.error;
      return read.bytes;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!work.index_started) work.index_started = now;
    if (work.passes > kMaxIndexPasses || now - *work.index_started >= work.options.index_read_budget) {
      error = "index reads of this MPD at their bound (" + std::to_string(work.options.index_read_budget.count()) +
              " ms)";
      return std::nullopt;
    }
    work.index_reads.push_back(ManifestWork::IndexRead{url, range, false, std::nullopt, std::string()});
    work.index_wanted = true;
    error = "index read pending";
    return std::nullopt;
  };
}

}  // namespace

void run_manifest_work(ManifestWork& work, const BufferingHandler& got, RouteContext& ctx, OriginClient& origin) {
  if (work.kind == ManifestWork::rewrite_mpd) {
    if (work.fetch_index) work.options.fetch_index = work.reads_on_loop ? loop_index_reader(work) : index_fetcher(ctx, origin);
    ++work.passes;
    work.index_wanted = false;
    try {
      work.rewritten = rewrite_mpd(got.body, work.options);
    } catch (const MpdError& e) {
      work.error = std::string("origin MPD refused: ") + e.what();
      work.index_wanted = false;  // refused whatever the indexes say
    }
  } else if (work.kind == ManifestWork::smooth_mpd) {
    work.smooth = smooth_to_mpd(got.body, work.effective_url, work.options.carry_query ? TokenMode::pass : TokenMode::drop,
                                work.error);
  }
}

void answer_manifest_work(RouteContext& ctx, ManifestPlan& plan, BufferingHandler& got, ManifestWork& work,
                          RewriteCache& cache) {
  if (!work.error.empty()) {
    ctx.fail(502, work.error);
    return;
  }
  if (work.kind == ManifestWork::smooth_mpd) {
    answer_smooth_mpd(ctx, got.head, work.smooth);
    return;
  }
  answer_manifest(ctx, plan, got.head.headers, work.rewritten);
  if (work.rewritten.on_demand_expanded || work.rewritten.on_demand_kept) note_on_demand(ctx, work.rewritten, true);
  work.options.fetch_index = nullptr;  // it holds the context and a thread's client
  // A Representation kept because its index could not be read (an origin
  // error, the read budget) may expand next time: such a rewrite is not
  // the MPD's for as long as the MPD stays the same, so it is not kept.
  if (work.rewritten.on_demand_kept) return;
  cache.store(got.body, work.options, work.rewritten, validation_of(ctx, plan, got));
}

void handle_manifest(RouteContext& ctx, std::string_view encoded_and_rest) {
  auto plan = plan_manifest(ctx, encoded_and_rest);
  if (!plan) return;
  if (ctx.launcher) {
    // Issue 13: the fetch waits on the event loop, holding no thread.
    launch_manifest(ctx, std::move(*plan));
    return;
  }
  add_manifest_conditionals(ctx, *plan, ctx.rewrites);
  BufferingHandler got(plan->limits);
  const OriginResult result = ctx.origin.fetch(plan->request, got);
  ManifestWork work = answer_fetched_manifest(ctx, *plan, got, result, ctx.rewrites);
  if (work.kind == ManifestWork::none) return;
  run_manifest_work(work, got, ctx, ctx.origin);
  answer_manifest_work(ctx, *plan, got, work, ctx.rewrites);
}

}  // namespace dashpiff

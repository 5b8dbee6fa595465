// /mpd/{enc(manifest URL)}: fetch the MPD, rewrite it so that every request
// the player makes comes back through the proxy, answer it.
#include "http/uri.h"
#include "mpd/rewriter.h"
#include "mss/manifest.h"
#include "service/origin_proxy.h"

namespace dashpiff {

void handle_manifest(RouteContext& ctx, std::string_view encoded_and_rest) {
  const auto target = decode_leading(ctx, encoded_and_rest);
  if (!target) return;
  if (!target->rest.empty()) {
    ctx.fail(400, "manifest route takes one encoded URL: /mpd/{encoded}");
    return;
  }
  OriginRequest req;
  req.url = target->decoded;
  if (!ctx.request.query.empty()) req.url += "?" + ctx.request.query;
  req.headers = origin_request_headers(ctx, false);
  req.decode_body = true;
  req.max_body_bytes = ctx.config.max_manifest_bytes;

  BufferingHandler got;
  if (!fetch_whole(ctx, req, got, "manifest")) return;
  const auto* type = find_header(got.head.headers, "Content-Type");
  const bool ok = got.head.status >= 200 && got.head.status < 300;
  if (ok && mss::looks_like_smooth(std::string_view(got.body).substr(0, 4096))) {
    answer_smooth_manifest(ctx, got.head, got.body, got.head.effective_url.empty() ? req.url : got.head.effective_url);
    return;
  }
  if (!ok || !looks_like_mpd(type ? *type : "", std::string_view(got.body).substr(0, 4096))) {
    // Not ours to change: pass it on (already decoded, so no Content-Encoding).
    ctx.begin(got.head.status, client_response_headers(got.head, false, got.body.size(), false));
    ctx.write(got.body);
    return;
  }

  const Uri effective = Uri::parse(got.head.effective_url.empty() ? req.url : got.head.effective_url);
  MpdRewriteOptions options;
  options.manifest_url = strip_query(effective.str());
  options.manifest_query = effective.query.value_or("");
  options.carry_query = ctx.config.token_mode == TokenMode::pass;
  // Both modes hand CENC-only players senc data for PIFF-only segments, so
  // those players must also find the cenc descriptor they look for.
  options.add_cenc_protection =
      ctx.config.piff_mode == PiffMode::convert || ctx.config.piff_mode == PiffMode::automatic;
  options.max_bytes = ctx.config.max_manifest_bytes;
  MpdRewriteResult fresh;
  const MpdRewriteResult* rewritten = ctx.rewrites.find(got.body, options);
  if (!rewritten) {
    try {
      fresh = rewrite_mpd(got.body, options);
    } catch (const MpdError& e) {
      ctx.fail(502, std::string("origin MPD refused: ") + e.what());
      return;
    }
    ctx.rewrites.store(got.body, options, fresh);
    rewritten = &fresh;
  }
  ctx.metrics.manifests_rewritten.fetch_add(1, std::memory_order_relaxed);
  ctx.note = std::to_string(rewritten->urls_rewritten) + " urls rewritten";
  Headers headers = client_response_headers(got.head, true, rewritten->xml.size(), false);
  if (!type) headers.emplace_back("Content-Type", "application/dash+xml");
  ctx.begin(got.head.status, std::move(headers));
  ctx.write(rewritten->xml);
}

}  // namespace dashpiff

// Remembers recent manifest rewrites, so that a live MPD that thousands of
// players refresh every few seconds is parsed and serialised once per origin
// update rather than once per request. The rewrite is deterministic, so the
// same origin bytes under the same options give the same answer. Each entry
// also keeps the origin's validators and headers under the URL it was
// fetched by, so the next request asks the origin "changed since?" and a 304
// is answered from the entry without a body, an inflate or a parse
// (RFC 9111 §4.3). One cache per owner thread (a worker's event loop, or a
// serving thread on the threaded path): no locks, no shared state.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>

#include "http/message.h"
#include "mpd/rewriter.h"

namespace dashpiff {

// What the origin said about the bytes a rewrite was made from.
struct OriginValidation {
  std::string fetch_key;      // request URL plus whatever else shapes the answer; empty: not revalidatable
  std::string etag;           // the origin's ETag, verbatim (may be empty)
  std::string last_modified;  // the origin's Last-Modified, verbatim (may be empty)
  std::string effective_url;  // after redirects: the rewrite resolved against it
  Headers headers;            // the origin's 200 response headers, refreshed by each 304
};

struct CachedRewrite {
  MpdRewriteResult result;
  OriginValidation origin;
};

class RewriteCache {
 public:
  explicit RewriteCache(std::size_t max_bytes = 8u << 20, std::size_t max_entries = 32)
      : max_bytes_(max_bytes), max_entries_(max_entries) {}

  // The cached result for exactly these origin bytes and options, or null.
  // Valid until the next store().
  const MpdRewriteResult* find(std::string_view origin_body, const MpdRewriteOptions& options);
  // The entry last fetched under `fetch_key` that has a validator to send,
  // or null. Valid until the next store().
  const CachedRewrite* find_revalidatable(std::string_view fetch_key);
  void store(std::string_view origin_body, const MpdRewriteOptions& options, const MpdRewriteResult& result,
             OriginValidation origin = {});

 private:
  struct Entry {
    std::string key;   // the options that shape the output
    std::string body;  // origin bytes, compared in full: no hash collision can serve a wrong manifest
    CachedRewrite cached;
    std::size_t bytes() const {
      std::size_t n = key.size() + body.size() + cached.result.xml.size() + cached.origin.fetch_key.size();
      for (const auto& [k, v] : cached.origin.headers) n += k.size() + v.size();
      return n;
    }
  };
  static std::string key_of(const MpdRewriteOptions& options);

  std::list<Entry> entries_;  // most recently used first
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  std::size_t max_entries_;
};

}  // namespace dashpiff

// Remembers recent manifest rewrites, so that a live MPD that thousands of
// players refresh every few seconds is parsed and serialised once per origin
// update rather than once per request. The rewrite is deterministic, so the
// same origin bytes under the same options give the same answer. One cache
// per thread: no locks, no shared state.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>

#include "mpd/rewriter.h"

namespace dashpiff {

class RewriteCache {
 public:
  explicit RewriteCache(std::size_t max_bytes = 8u << 20, std::size_t max_entries = 32)
      : max_bytes_(max_bytes), max_entries_(max_entries) {}

  // The cached result for exactly these origin bytes and options, or null.
  // Valid until the next store().
  const MpdRewriteResult* find(std::string_view origin_body, const MpdRewriteOptions& options);
  void store(std::string_view origin_body, const MpdRewriteOptions& options, const MpdRewriteResult& result);

 private:
  struct Entry {
    std::string key;   // the options that shape the output
    std::string body;  // origin bytes, compared in full: no hash collision can serve a wrong manifest
    MpdRewriteResult result;
    std::size_t bytes() const { return key.size() + body.size() + result.xml.size(); }
  };
  static std::string key_of(const MpdRewriteOptions& options);

  std::list<Entry> entries_;  // most recently used first
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  std::size_t max_entries_;
};

}  // namespace dashpiff

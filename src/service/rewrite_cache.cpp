#include "service/rewrite_cache.h"

namespace dashpiff {

std::string RewriteCache::key_of(const MpdRewriteOptions& o) {
  // Every option that can change the output, separated by a byte no URL holds.
  std::string key = o.manifest_url;
  for (const std::string* part : {&o.manifest_query, &o.media_prefix, &o.mpd_prefix}) {
    key += '\n';
    key += *part;
  }
  key += o.carry_query ? "\n1" : "\n0";
  key += o.add_cenc_protection ? "1" : "0";
  key += '\n' + std::to_string(o.max_bytes) + '\n' + std::to_string(o.max_entity_expansions);
  return key;
}

const MpdRewriteResult* RewriteCache::find(std::string_view origin_body, const MpdRewriteOptions& options) {
  const std::string key = key_of(options);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key == key && it->body == origin_body) {
      entries_.splice(entries_.begin(), entries_, it);
      return &entries_.front().result;
    }
  }
  return nullptr;
}

void RewriteCache::store(std::string_view origin_body, const MpdRewriteOptions& options,
                         const MpdRewriteResult& result) {
  Entry entry{key_of(options), std::string(origin_body), result};
  if (entry.bytes() > max_bytes_ / 4) return;  // one huge manifest must not flush the rest
  bytes_ += entry.bytes();
  entries_.push_front(std::move(entry));
  while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
    bytes_ -= entries_.back().bytes();
    entries_.pop_back();
  }
}

}  // namespace dashpiff

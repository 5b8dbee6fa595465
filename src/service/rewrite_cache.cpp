#include "service/rewrite_cache.h"

namespace dashpiff {

std::string RewriteCache::key_of(const MpdRewriteOptions& o) {
  // Every option that can change the output, separated by a byte no URL holds.
  std::string key = o.manifest_url;
  for (const std::string* part : {&o.manifest_query, &o.media_prefix, &o.mpd_prefix, &o.public_base}) {
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
      return &entries_.front().cached.result;
    }
  }
  return nullptr;
}

const CachedRewrite* RewriteCache::find_revalidatable(std::string_view fetch_key) {
  if (fetch_key.empty()) return nullptr;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const OriginValidation& o = it->cached.origin;
    if (o.fetch_key == fetch_key && (!o.etag.empty() || !o.last_modified.empty())) {
      entries_.splice(entries_.begin(), entries_, it);
      return &entries_.front().cached;
    }
  }
  return nullptr;
}

void RewriteCache::store(std::string_view origin_body, const MpdRewriteOptions& options,
                         const MpdRewriteResult& result, OriginValidation origin) {
  const std::string key = key_of(options);
  // One entry per fetch key: the newer answer replaces what it was fetched as before.
  if (!origin.fetch_key.empty()) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->cached.origin.fetch_key == origin.fetch_key && !(it->key == key && it->body == origin_body)) {
        bytes_ -= it->bytes();
        entries_.erase(it);
        break;
      }
    }
  }
  // The same bytes again (an origin without validators, or new ones for old
  // bytes): the entry takes the new validators; the rewrite is not copied.
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key == key && it->body == origin_body) {
      bytes_ -= it->bytes();
      it->cached.origin = std::move(origin);
      bytes_ += it->bytes();
      entries_.splice(entries_.begin(), entries_, it);
      return;
    }
  }
  Entry entry{key, std::string(origin_body), CachedRewrite{result, std::move(origin)}};
  if (entry.bytes() > max_bytes_ / 4) return;  // one huge manifest must not flush the rest
  bytes_ += entry.bytes();
  entries_.push_front(std::move(entry));
  while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
    bytes_ -= entries_.back().bytes();
    entries_.pop_back();
  }
}

}  // namespace dashpiff

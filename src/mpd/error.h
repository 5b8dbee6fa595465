// Why a manifest was refused. Its own header so that the DOM layer can throw it
// without depending on the rewriter above it.
#pragma once

#include <stdexcept>
#include <string>

namespace dashpiff {

class MpdError : public std::runtime_error {
 public:
  // unrewritable: an address the proxy form cannot give every Representation
  // it applies to (Rewriter::check_one_meaning says when), or more BaseURL
  // alternatives than the rewriter keeps apart (kMaxBases).
  enum class Kind { too_large, malformed, entity_limit, not_mpd, unrewritable };
  MpdError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace dashpiff

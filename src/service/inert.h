// Proxied bodies are inert on this site. dashpiff serves whatever an origin
// answers from its own host name, beside /player and with CORS open: an
// origin's HTML, SVG, script or XML served with its own type would run as
// this site's content. So an active type is never passed on, and every
// proxied answer carries a Content-Security-Policy that sandboxes it (no
// scripts, an opaque origin) even where a browser renders it anyway.
#pragma once

#include <string_view>

#include "http/message.h"

namespace dashpiff {

// The policy proxied bodies carry (CSP Level 3 §6.3.2.1 `sandbox` without
// allow-scripts; `default-src 'none'` loads nothing).
inline constexpr std::string_view kProxiedBodyPolicy = "sandbox; default-src 'none'";

// True for a type a browser runs or renders as a document: HTML and XHTML,
// SVG, JavaScript and its kin, XSLT, PDF, multipart/x-mixed-replace, and XML
// (text/xml, application/xml, any +xml) other than the MPD
// (application/dash+xml) and MPD patch (application/dash-patch+xml) types.
// Judged by the type's essence: parameters and case do not matter.
bool is_active_type(std::string_view content_type);

// Makes an origin's response headers (as they will be sent) inert: a
// Content-Type with an active member (in any of its lines, in a list)
// becomes text/plain; a missing, empty, unparseable or repeated one (two
// lines, a list) becomes application/octet-stream; the sandbox policy is set.
void make_inert(Headers& headers);

}  // namespace dashpiff

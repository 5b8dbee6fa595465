// /create: turns an origin manifest URL into this proxy's manifest URL.
#include <cctype>

#include <nlohmann/json.hpp>

#include "service/route_context.h"
#include "util/strings.h"
#include "http/uri.h"
#include "http/url_codec.h"

namespace dashpiff {

std::string percent_decode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else if (plus_is_space && in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return out;
}

std::string form_field(std::string_view form, std::string_view name, bool* found) {
  if (found) *found = false;
  while (!form.empty()) {
    const auto amp = form.find('&');
    const auto pair = form.substr(0, amp);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name) {
      if (found) *found = true;
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    form.remove_prefix(amp + 1);
  }
  return {};
}

namespace {

std::string page(std::string_view title, std::string_view body) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  html += escape_markup(title);
  html += "</title>\n</head>\n<body>\n";
  html += body;
  html += "</body>\n</html>\n";
  return html;
}

constexpr std::string_view kForm =
    "<h1>dashpiff</h1>\n"
    "<p>Make a proxy URL for a DASH manifest whose segments carry PIFF boxes.</p>\n"
    "<form method=\"post\" action=\"/create\">\n"
    "<label for=\"url\">Manifest URL</label>\n"
    "<input id=\"url\" name=\"url\" type=\"url\" size=\"80\" required placeholder=\"https://cdn.example/stream/manifest.mpd\">\n"
    "<button type=\"submit\">Create</button>\n"
    "</form>\n";

// The form and its answer run no script and load nothing; the form posts
// here only; no other site frames them (issue #12 item 6: this site's own
// pages carry their own policy).
const std::pair<std::string, std::string> kPagePolicy = {
    "Content-Security-Policy", "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"};

bool wants_html(const Request& r) {
  const auto* accept = find_header(r.headers, "Accept");
  return accept && accept->find("text/html") != std::string::npos;
}

struct Extracted {
  std::string url;
  bool present = false;
  std::string error;  // set: 400 with this reason
};

// Deepest JSON body /create parses: its one member is a string at depth 1,
// and a body of max-create-body brackets (up to 16M) would otherwise build a
// tree of as many nodes before it is looked at.
constexpr std::size_t kMaxJsonDepth = 16;

// Stops a parse as soon as it nests deeper than kMaxJsonDepth; builds nothing.
struct DepthCheck final : nlohmann::json_sax<nlohmann::json> {
  std::size_t depth = 0;
  bool too_deep = false;
  bool enter() {
    too_deep = ++depth > kMaxJsonDepth;
    return !too_deep;
  }
  bool leave() {
    --depth;
    return true;
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return enter(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_array() override { return leave(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

// The front server refuses a path with %00 or a '%' not followed by two hex
// digits (400), so a URL whose path holds one would mint a proxy URL that
// can never be asked for: the encoded part is the path, the query rides as
// it came (SPEC §1).
bool path_escapes_pass(std::string_view url) {
  const auto path = url.substr(0, url.find_first_of("?#"));
  for (std::size_t i = path.find('%'); i != std::string_view::npos; i = path.find('%', i + 1)) {
    if (i + 2 >= path.size() || !std::isxdigit(static_cast<unsigned char>(path[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(path[i + 2])) || (path[i + 1] == '0' && path[i + 2] == '0'))
      return false;
  }
  return true;
}

Extracted extract_url(const Request& r) {
  Extracted x;
  if (r.method != "POST") {
    x.url = form_field(r.query, "url", &x.present);
    return x;
  }
  const auto* type = find_header(r.headers, "Content-Type");
  const std::string ct = type ? type->substr(0, type->find(';')) : "";
  if (ct == "application/json") {
    DepthCheck depth;
    nlohmann::json::sax_parse(r.body, &depth);
    const auto json = depth.too_deep ? nlohmann::json() : nlohmann::json::parse(r.body, nullptr, false);
    if (depth.too_deep) {
      x.error = "JSON body nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    } else if (json.is_discarded()) {
      x.error = "request body is not valid JSON";
    } else if (!json.is_object() || !json.contains("url")) {
      x.error = "JSON body has no \"url\" member";
    } else if (!json["url"].is_string()) {
      x.error = "JSON member \"url\" is not a string";
    } else {
      x.url = json["url"].get<std::string>();
      x.present = true;
    }
  } else if (ct == "application/x-www-form-urlencoded" || ct.empty()) {
    x.url = form_field(r.body, "url", &x.present);
    if (!x.present) x.url = form_field(r.query, "url", &x.present);
  } else {
    x.error = "unsupported Content-Type " + ct + " (use application/json or a form)";
  }
  return x;
}

}  // namespace

void handle_create(RouteContext& ctx) {
  const Request& r = ctx.request;
  if (r.body_too_large) {
    ctx.fail(413, "request body larger than " + std::to_string(ctx.config.max_create_body) + " bytes");
    return;
  }
  const Extracted x = extract_url(r);
  if (!x.error.empty()) {
    ctx.fail(400, x.error);
    return;
  }
  if (!x.present || x.url.empty()) {
    if (r.method == "POST") {
      ctx.fail(400, "no manifest URL given (field \"url\")");
    } else {
      ctx.answer(200, "text/html; charset=utf-8", page("dashpiff", kForm), {{"Cache-Control", "no-store"}, kPagePolicy});
    }
    return;
  }
  const Uri u = Uri::parse(x.url);
  if (!is_http_url(u)) {
    ctx.fail(400, "manifest URL must be an absolute http or https URL");
    return;
  }
  for (unsigned char c : x.url)
    if (c <= ' ' || c == 0x7f) {
      ctx.fail(400, "manifest URL contains spaces or control characters");
      return;
    }
  if (!path_escapes_pass(x.url)) {
    ctx.fail(400, "manifest URL path has %00 or a '%' not followed by two hex digits");
    return;
  }
  const std::string base = ctx.public_base();
  if (base.empty()) {
    ctx.fail(400, "Host header is not a valid host name");
    return;
  }
  // SPEC §1: the query is not wrapped; it rides after the encoded URL as it came.
  std::string minted = base + "/mpd/" + encode_url(strip_query(x.url));
  if (u.query) minted += "?" + *u.query;

  if (r.method == "POST" && wants_html(r)) {
    const std::string link = escape_markup(minted);
    ctx.answer(200, "text/html; charset=utf-8",
               page("dashpiff: proxy URL", "<h1>Proxy URL</h1>\n<p><a href=\"" + link + "\">" + link +
                                               "</a></p>\n<p><a href=\"/create\">Make another</a></p>\n"),
               {{"Cache-Control", "no-store"}, kPagePolicy});
  } else {
    ctx.answer(200, "application/json", nlohmann::json{{"url", minted}}.dump() + "\n",
               {{"Cache-Control", "no-store"}});
  }
}

}  // namespace dashpiff

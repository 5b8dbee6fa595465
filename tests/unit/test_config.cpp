// Configuration: command line and INI file, precedence, units, validation
// messages, and the shipped sample file's claims about the defaults.
#define BOOST_TEST_MODULE dashpiff fcgi options
#include <stdlib.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "options.h"

using namespace dashpiff;
using namespace std::chrono_literals;

namespace dashpiff {
std::ostream& operator<<(std::ostream& o, TokenMode m) { return o << to_string(m); }
std::ostream& operator<<(std::ostream& o, LogLevel l) { return o << to_string(l); }
std::ostream& operator<<(std::ostream& o, PiffMode m) { return o << "PiffMode(" << static_cast<int>(m) << ")"; }
std::ostream& operator<<(std::ostream& o, ConfigAction a) { return o << "ConfigAction(" << static_cast<int>(a) << ")"; }
}  // namespace dashpiff

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dashpiff-config-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() {
    for (const auto& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    files_.push_back(file);
    return file;
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

ParsedConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/sbin/dashpiff-fcgi");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data());
}

// Every test names its own file, so a real /etc/dashpiff/dashpiff.conf on the
// machine cannot leak in.
ParsedConfig parse_with_file(const std::string& file_text, std::vector<std::string> args = {}) {
  TempDir dir;
  args.insert(args.begin(), "--config=" + dir.write("dashpiff.conf", file_text));
  return parse(args);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string file_error(const std::string& file_text, std::vector<std::string> args = {}) {
  return error_of([&] { parse_with_file(file_text, args); });
}

std::string cli_error(std::vector<std::string> args) { return file_error("", args); }

// Every field, printed, so that two configurations compare as text.
std::string describe(const FcgiConfig& c) {
  std::ostringstream o;
  o << "workers=" << c.pool.workers << " threads=" << c.pool.threads << " max_requests=" << c.pool.max_requests
    << " shutdown=" << c.pool.shutdown_deadline.count() << " supervise=" << c.pool.supervise
    << " piff=" << static_cast<int>(c.piff_mode) << " token=" << to_string(c.token_mode)
    << " base=" << c.public_base_url << " held=" << c.max_held_box << " player=" << c.player_page
    << " connect=" << c.origin.connect_timeout.count() << " first=" << c.origin.first_byte_timeout.count()
    << " total=" << c.origin.total_timeout.count() << " redirects=" << c.origin.max_redirects
    << " ua=" << c.origin.user_agent << " ca=" << c.origin.ca_file << " manifest=" << c.max_manifest_bytes
    << " segment=" << c.max_segment_bytes << " cors=" << c.cors_origin << " url=" << c.max_url_length
    << " header=" << c.max_header_bytes << " create=" << c.max_create_body
    << " log=" << to_string(c.log_level) << " hosts=";
  for (const auto& h : c.origin.allow_hosts) o << h << ",";
  o << " nets=";
  for (const auto& n : c.origin.address_policy.allowed_networks) o << n.str() << ",";
  o << " fwd=";
  for (const auto& h : c.forward_headers) o << h << ",";
  return o.str();
}

std::string source_root() {
  const char* data = std::getenv("DASHPIFF_TEST_DATA");
  return std::string(data ? data : "tests/data") + "/../..";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(empty_file_and_no_options_give_the_documented_defaults) {
  const auto p = parse_with_file("");
  BOOST_TEST(describe(p.config) == describe(FcgiConfig{}));
  BOOST_TEST(p.action == ConfigAction::run);
  const FcgiConfig& c = p.config;
  BOOST_TEST(c.pool.threads == 8u);
  BOOST_TEST(c.pool.workers == 0u);
  BOOST_TEST(c.piff_mode == PiffMode::automatic);
  BOOST_TEST(c.origin.connect_timeout.count() == 5000);
  BOOST_TEST(c.origin.first_byte_timeout.count() == 15000);
  BOOST_TEST(c.origin.total_timeout.count() == 300000);
  BOOST_TEST(c.cors_origin == "*");
  BOOST_TEST(c.origin.allow_hosts.empty());
  BOOST_TEST(c.origin.address_policy.allowed_networks.empty());
  BOOST_TEST(c.forward_headers == default_forward_headers());
  BOOST_TEST(c.config_file.find("dashpiff.conf") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(default_forward_headers_are_conservative) {
  const auto h = default_forward_headers();
  auto has = [&](const char* name) { return std::find(h.begin(), h.end(), name) != h.end(); };
  BOOST_TEST(has("Range"));
  BOOST_TEST(has("If-None-Match"));
  for (const char* never : {"Host", "Cookie", "Authorization", "X-Forwarded-For", "Connection", "Accept-Encoding"})
    BOOST_TEST(!has(never), never);
}

BOOST_AUTO_TEST_CASE(command_line_sets_every_option) {
  TempDir dir;
  const std::string ca = dir.write("ca.pem", "not really a certificate");
  const auto c = parse_with_file("", {"--workers=4", "--threads", "16", "--max-requests=10000",
                                      "--shutdown-deadline=45s", "--supervise=false", "--piff-mode=uuid-free",
                                      "--token-mode=drop", "--public-base-url=https://d123.cloudfront.net/",
                                      "--max-moof-bytes=8M", "--player-page", "--connect-timeout=750ms",
                                      "--first-byte-timeout=10s", "--total-timeout=2m", "--max-redirects=3",
                                      "--allow-origin=cdn.example", "--allow-origin=*.Media.Example.com",
                                      "--allow-network=127.0.0.0/8", "--allow-network=fd00::/8",
                                      "--ca-file=" + ca, "--user-agent=dashpiff/2 (+ops@example)",
                                      "--max-manifest-bytes=2M", "--max-segment-bytes=512M",
                                      "--forward-header=Range", "--forward-header=Referer",
                                      "--cors-origin=https://player.example", "--max-url-length=4K",
                                      "--max-header-bytes=32K", "--max-create-body=1M", "--log-level=debug"})
                     .config;
  BOOST_TEST(c.pool.workers == 4u);
  BOOST_TEST(c.pool.threads == 16u);
  BOOST_TEST(c.pool.max_requests == 10000u);
  BOOST_TEST(c.pool.shutdown_deadline.count() == 45);
  BOOST_TEST(!c.pool.supervise);
  BOOST_TEST(c.piff_mode == PiffMode::uuid_free);
  BOOST_TEST(c.token_mode == TokenMode::drop);
  BOOST_TEST(c.public_base_url == "https://d123.cloudfront.net");
  BOOST_TEST(c.max_held_box == 8u << 20);
  BOOST_TEST(c.player_page);
  BOOST_TEST(c.origin.connect_timeout.count() == 750);
  BOOST_TEST(c.origin.first_byte_timeout.count() == 10000);
  BOOST_TEST(c.origin.total_timeout.count() == 120000);
  BOOST_TEST(c.origin.max_redirects == 3);
  BOOST_TEST(c.origin.allow_hosts == (std::vector<std::string>{"cdn.example", "*.media.example.com"}));
  BOOST_TEST_REQUIRE(c.origin.address_policy.allowed_networks.size() == 2u);
  BOOST_TEST(c.origin.address_policy.allowed_networks[0].str() == "127.0.0.0/8");
  BOOST_TEST(c.origin.address_policy.allowed_networks[1].str() == "fd00::/8");
  BOOST_TEST(c.origin.ca_file == ca);
  BOOST_TEST(c.origin.user_agent == "dashpiff/2 (+ops@example)");
  BOOST_TEST(c.max_manifest_bytes == 2u << 20);
  BOOST_TEST(c.max_segment_bytes == 512ull << 20);
  BOOST_TEST(c.forward_headers == (std::vector<std::string>{"Range", "Referer"}));
  BOOST_TEST(c.cors_origin == "https://player.example");
  BOOST_TEST(c.max_url_length == 4096u);
  BOOST_TEST(c.max_header_bytes == 32768u);
  BOOST_TEST(c.max_create_body == 1u << 20);
  BOOST_TEST(c.log_level == LogLevel::debug);
}

BOOST_AUTO_TEST_CASE(file_sets_options_and_command_line_wins) {
  const std::string file =
      "# comment\n"
      "threads = 4\n"
      "piff-mode = convert\n"
      "log-level = warn\n"
      "connect-timeout = 2s\n"
      "allow-origin = a.example\n"
      "allow-origin = b.example\n"
      "forward-header = Accept\n";
  const auto from_file = parse_with_file(file).config;
  BOOST_TEST(from_file.pool.threads == 4u);
  BOOST_TEST(from_file.piff_mode == PiffMode::convert);
  BOOST_TEST(from_file.log_level == LogLevel::warn);
  BOOST_TEST(from_file.origin.connect_timeout.count() == 2000);
  BOOST_TEST(from_file.origin.allow_hosts == (std::vector<std::string>{"a.example", "b.example"}));
  BOOST_TEST(from_file.forward_headers == (std::vector<std::string>{"Accept"}));

  const auto both = parse_with_file(file, {"--threads=32", "--allow-origin=c.example", "--piff-mode", "off"}).config;
  BOOST_TEST(both.pool.threads == 32u);
  BOOST_TEST(both.piff_mode == PiffMode::off);
  BOOST_TEST(both.log_level == LogLevel::warn);  // untouched on the command line
  // A repeatable option on the command line replaces the file's list.
  BOOST_TEST(both.origin.allow_hosts == (std::vector<std::string>{"c.example"}));
}

BOOST_AUTO_TEST_CASE(supervisor_can_be_switched_off_either_way) {
  BOOST_TEST(parse_with_file("").config.pool.supervise);
  BOOST_TEST(!parse_with_file("", {"--no-supervisor"}).config.pool.supervise);
  BOOST_TEST(!parse_with_file("supervise = no\n").config.pool.supervise);
  BOOST_TEST(parse_with_file("supervise = off\n", {"--supervise"}).config.pool.supervise);
}

BOOST_AUTO_TEST_CASE(empty_value_clears_a_list) {
  BOOST_TEST(parse_with_file("forward-header =\n").config.forward_headers.empty());
  BOOST_TEST(parse_with_file("", {"--forward-header", ""}).config.forward_headers.empty());
}

BOOST_AUTO_TEST_CASE(duplicate_forward_headers_collapse) {
  const auto c = parse_with_file("", {"--forward-header=Range", "--forward-header=range"}).config;
  BOOST_TEST(c.forward_headers == (std::vector<std::string>{"Range"}));
}

BOOST_AUTO_TEST_CASE(durations_take_units_and_bare_numbers_are_milliseconds) {
  const std::pair<const char*, long> cases[] = {
      {"1500", 1500}, {"1500ms", 1500}, {"15s", 15000}, {"2m", 120000}, {"2min", 120000}, {"1h", 3600000}};
  for (const auto& [text, ms] : cases) {
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(parse_with_file("", {std::string("--total-timeout=") + text, "--first-byte-timeout=1",
                                      "--connect-timeout=1"})
                     .config.origin.total_timeout.count() == ms);
    }
  }
  BOOST_TEST(parse_with_file("shutdown-deadline = 2m\n").config.pool.shutdown_deadline.count() == 120);
}

BOOST_AUTO_TEST_CASE(sizes_take_binary_units) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"1048576", 1u << 20}, {"64K", 65536}, {"64k", 65536}, {"16M", 16u << 20}, {"16MiB", 16u << 20},
      {"1G", 1u << 30}};
  for (const auto& [text, bytes] : cases) {
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(parse_with_file("", {std::string("--max-manifest-bytes=") + text}).config.max_manifest_bytes ==
                 bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_values_name_the_option_and_the_reason) {
  BOOST_TEST(cli_error({"--piff-mode=xyz"}) ==
             "option 'piff-mode': invalid value 'xyz' (expected off, free, uuid-free, convert, auto)");
  BOOST_TEST(cli_error({"--threads=0"}) == "option 'threads': value '0' out of range (1 to 256)");
  BOOST_TEST(cli_error({"--threads=257"}) == "option 'threads': value '257' out of range (1 to 256)");
  BOOST_TEST(cli_error({"--threads=eight"}) == "option 'threads': invalid value 'eight' (expected a whole number)");
  BOOST_TEST(cli_error({"--threads=-1"}) == "option 'threads': invalid value '-1' (expected a whole number)");
  BOOST_TEST(cli_error({"--token-mode=keep"}) == "option 'token-mode': invalid value 'keep' (expected pass, drop)");
  BOOST_TEST(cli_error({"--log-level=trace"}) ==
             "option 'log-level': invalid value 'trace' (expected error, warn, info, debug)");
  BOOST_TEST(cli_error({"--connect-timeout=5 s"}).rfind("option 'connect-timeout': invalid value '5 s'", 0) == 0);
  BOOST_TEST(cli_error({"--connect-timeout=0"}) ==
             "option 'connect-timeout': value '0' out of range (1ms to 10m)");
  BOOST_TEST(cli_error({"--max-manifest-bytes=12Q"}).rfind("option 'max-manifest-bytes': invalid value '12Q'", 0) == 0);
  BOOST_TEST(cli_error({"--max-redirects=50"}) == "option 'max-redirects': value '50' out of range (0 to 20)");
  BOOST_TEST(cli_error({"--player-page=maybe"}) ==
             "option 'player-page': invalid value 'maybe' (expected true or false)");
  BOOST_TEST(cli_error({"--shutdown-deadline=1500ms"}) ==
             "option 'shutdown-deadline': value '1500ms' is not a whole number of seconds");
  BOOST_TEST(cli_error({"--allow-network=10.0.0.0/33"}).rfind("option 'allow-network': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--allow-origin=a.*.example"}).rfind("option 'allow-origin': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--allow-origin=*"}).rfind("option 'allow-origin': invalid value", 0) == 0);
  BOOST_TEST(parse_with_file("", {"--allow-origin=Media.Internal:8080", "--allow-origin=[FD00::1]:81"})
                 .config.origin.allow_hosts == (std::vector<std::string>{"media.internal:8080", "[fd00::1]:81"}));
  BOOST_TEST(cli_error({"--allow-origin=media.internal:0"}).rfind("option 'allow-origin': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--allow-origin=media.internal:65536"}).rfind("option 'allow-origin': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--allow-origin=media.internal:"}).rfind("option 'allow-origin': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--allow-origin=[::1"}).rfind("option 'allow-origin': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--user-agent", ""}).rfind("option 'user-agent': invalid value", 0) == 0);
  BOOST_TEST(cli_error({"--ca-file=/nonexistent/ca.pem"}) ==
             "option 'ca-file': file '/nonexistent/ca.pem' cannot be read: No such file or directory");
  BOOST_TEST(cli_error({"--cors-origin=https://player.example/path"}).rfind("option 'cors-origin': invalid", 0) == 0);
}

BOOST_AUTO_TEST_CASE(public_base_url_must_be_absolute_http_without_query) {
  for (const char* bad : {"d123.cloudfront.net", "/relative", "ftp://host", "https://host/?x=1", "https://host/#f",
                          "https://", "https:///path", "http://host/a b"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(cli_error({std::string("--public-base-url=") + bad}).rfind("option 'public-base-url': invalid", 0) ==
                 0);
    }
  }
  BOOST_TEST(parse_with_file("", {"--public-base-url=http://proxy.example:8080/dash/"}).config.public_base_url ==
             "http://proxy.example:8080/dash");
  BOOST_TEST(parse_with_file("public-base-url =\n").config.public_base_url.empty());
}

BOOST_AUTO_TEST_CASE(forwarding_spoofable_or_connection_headers_is_refused) {
  for (const char* name : {"Host", "X-Forwarded-For", "x-forwarded-proto", "Forwarded", "Connection",
                           "Transfer-Encoding", "Proxy-Authorization", "Accept-Encoding", "Content-Length"}) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(cli_error({std::string("--forward-header=") + name}) ==
                 std::string("option 'forward-header': header '") + name + "' is never forwarded to origin");
    }
  }
  BOOST_TEST(cli_error({"--forward-header=Bad Name"}).rfind("option 'forward-header': invalid value", 0) == 0);
}

BOOST_AUTO_TEST_CASE(inconsistent_timeouts_are_refused) {
  BOOST_TEST(cli_error({"--first-byte-timeout=20s", "--total-timeout=10s"}) ==
             "option 'first-byte-timeout': 20s exceeds total-timeout 10s");
  BOOST_TEST(cli_error({"--connect-timeout=20s", "--first-byte-timeout=5s", "--total-timeout=10s"}) ==
             "option 'connect-timeout': 20s exceeds total-timeout 10s");
}

BOOST_AUTO_TEST_CASE(unknown_and_badly_formed_options_stop_start_up) {
  BOOST_TEST(cli_error({"--bogus=1"}) == "unknown option 'bogus'");
  BOOST_TEST(cli_error({"stray"}).find("unexpected argument") != std::string::npos, cli_error({"stray"}));
  BOOST_TEST(cli_error({"--forward-header="}).rfind("option 'forward-header'", 0) == 0);
  BOOST_TEST(cli_error({"--threads"}).rfind("option 'threads'", 0) == 0);
  BOOST_TEST(cli_error({"--threads=2", "--threads=3"}) == "option 'threads': given more than once");
  const auto in_file = file_error("threads = 4\nbogus-option = 1\n");
  BOOST_TEST(in_file.rfind("unknown option 'bogus-option' in /tmp/", 0) == 0, in_file);
  const auto bad_value = file_error("piff-mode = xyz\n");
  BOOST_TEST(bad_value.rfind("option 'piff-mode' in /tmp/", 0) == 0, bad_value);
  BOOST_TEST(bad_value.find("invalid value 'xyz'") != std::string::npos);
  // The command line alone may set these.
  BOOST_TEST(file_error("config = /etc/other.conf\n").rfind("unknown option 'config'", 0) == 0);
  BOOST_TEST(file_error("help = 1\n").rfind("unknown option 'help'", 0) == 0);
  BOOST_TEST(file_error("threads\n").find("dashpiff.conf") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(explicitly_named_config_file_must_exist) {
  TempDir dir;
  const auto missing = dir.path("absent.conf");
  BOOST_TEST(error_of([&] { parse({"--config", missing}); }) ==
             "config file '" + missing + "' cannot be read: No such file or directory");
}

BOOST_AUTO_TEST_CASE(help_lists_every_option_with_its_default) {
  const auto p = parse({"--help", "--threads=bogus"});  // help needs no valid configuration
  BOOST_TEST(p.action == ConfigAction::help);
  for (const char* needle :
       {"--workers", "--threads", "(=8)", "--max-requests", "--shutdown-deadline", "(=30s)", "--supervise",
        "--no-supervisor", "--piff-mode", "(=auto)", "--token-mode", "(=pass)", "--public-base-url",
        "--max-moof-bytes", "(=4M)", "--player-page", "--connect-timeout", "(=5s)", "--first-byte-timeout",
        "(=15s)", "--total-timeout", "(=5m)", "--max-redirects", "--allow-origin", "--allow-network", "--ca-file",
        "--user-agent", "(=dashpiff)", "--max-manifest-bytes", "(=16M)", "--max-segment-bytes", "--forward-header",
        "Accept, Accept-Language, Range", "--cors-origin", "(=*)", "--max-url-length", "(=8K)",
        "--max-header-bytes", "--max-create-body", "(=64K)", "--log-level", "(=info)", "--config",
        "/etc/dashpiff/dashpiff.conf", "--version", "--check-config", "DURATION"}) {
    BOOST_TEST(p.text.find(needle) != std::string::npos, needle);
  }
}

BOOST_AUTO_TEST_CASE(version_and_check_config_actions) {
  const auto v = parse({"--version"});
  BOOST_TEST(v.action == ConfigAction::version);
  BOOST_TEST(v.text.rfind("dashpiff-fcgi ", 0) == 0);
  const auto c = parse_with_file("threads = 3\n", {"--check-config"});
  BOOST_TEST(c.action == ConfigAction::check);
  BOOST_TEST(c.config.pool.threads == 3u);
  BOOST_TEST(error_of([] { parse_with_file("threads = 0\n", {"--check-config"}); }).find("threads") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(sample_config_file_documents_every_option_with_its_true_default) {
  const std::string path = source_root() + "/etc/dashpiff.conf";
  std::ifstream in(path);
  BOOST_TEST_REQUIRE(in.good(), "cannot read " << path);
  // "# name = value" lines are the documented defaults; uncommented, they
  // must reproduce the built-in configuration exactly.
  const std::regex setting(R"(^#\s?([a-z][a-z-]*)\s*=\s?(.*)$)");
  std::string line, uncommented;
  std::set<std::string> documented;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, setting)) {
      documented.insert(m[1]);
      uncommented += std::string(m[1]) + " = " + std::string(m[2]) + "\n";
    } else {
      BOOST_TEST((line.empty() || line[0] == '#'), "active setting in the sample: " << line);
    }
  }
  const auto parsed = parse_with_file(uncommented);
  BOOST_TEST(describe(parsed.config) == describe(FcgiConfig{}));

  const auto help = parse({"--help"}).text;
  const std::regex option(R"(--([a-z][a-z-]+))");
  const std::set<std::string> command_only = {"help", "version", "check-config", "config", "no-supervisor"};
  for (auto it = std::sregex_iterator(help.begin(), help.end(), option); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    if (command_only.count(name)) continue;
    BOOST_TEST(documented.count(name) == 1u, "sample config lacks " << name);
  }
}

BOOST_AUTO_TEST_SUITE_END()

#include "options.h"

#include <boost/program_options.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <vector>

#include "service/build_info.h"

namespace po = boost::program_options;

namespace dashpiff {
namespace {

using namespace settings;

constexpr const char* kDefaultConfigFile = "/etc/dashpiff/dashpiff.conf";

// The pool's settings; the first section of --help, before the service's.
Group<PoolConfig> pool_settings() {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  return Group<PoolConfig>{
      "Worker pool",
      {
          {"workers", "N", "worker processes (0: one per CPU core; 0..1024)",
           [](const PoolConfig& c) { return std::to_string(c.workers); },
           [](PoolConfig& c, const std::string& v) { c.workers = static_cast<unsigned>(parse_count(v, 0, 1024)); }},
          {"threads", "N", "threads per worker serving requests (1..256)",
           [](const PoolConfig& c) { return std::to_string(c.threads); },
           [](PoolConfig& c, const std::string& v) { c.threads = static_cast<unsigned>(parse_count(v, 1, 256)); }},
          {"max-requests", "N", "recycle a worker after N requests (0: never)",
           [](const PoolConfig& c) { return std::to_string(c.max_requests); },
           [](PoolConfig& c, const std::string& v) {
             c.max_requests = static_cast<unsigned long>(
                 parse_count(v, 0, std::numeric_limits<unsigned long>::max()));
           }},
          {"shutdown-deadline", "DURATION",
           "on SIGTERM, how long in-flight requests may take to finish (whole seconds, 0s..1h)",
           [](const PoolConfig& c) { return format_duration(c.shutdown_deadline); },
           [](PoolConfig& c, const std::string& v) {
             const auto d = duration_in(v, milliseconds(0), std::chrono::hours(1));
             if (d.count() % 1000 != 0) throw BadValue{"value '" + v + "' is not a whole number of seconds"};
             c.shutdown_deadline = std::chrono::duration_cast<seconds>(d);
           }},
          {"supervise", "BOOL", "run the supervisor that forks and restarts workers (false: one process, for debugging)",
           [](const PoolConfig& c) { return bool_text(c.supervise); },
           [](PoolConfig& c, const std::string& v) { c.supervise = parse_bool(v); }},
          {"max-transfers", "N",
           "segment transfers one worker's event loop runs at once; beyond it requests get 503 with "
           "Retry-After and /healthz turns 503 (1..65536)",
           [](const PoolConfig& c) { return std::to_string(c.max_transfers); },
           [](PoolConfig& c, const std::string& v) {
             c.max_transfers = static_cast<unsigned>(parse_count(v, 1, 65536));
           }},
          {"transfer-buffer", "SIZE", "bytes a transfer holds for a slow client before its origin is paused; a paused transfer holds at most this + 3R + 48K, R = half of this within 16K..64K (4K..16M)",
           [](const PoolConfig& c) { return format_size(c.transfer_buffer); },
           [](PoolConfig& c, const std::string& v) { c.transfer_buffer = size_in(v, 4 * KiB, 16 * MiB); }},
          {"client-idle-timeout", "DURATION",
           "a transfer whose client side takes no byte for this long is aborted (1s..1h)",
           [](const PoolConfig& c) { return format_duration(c.client_idle_timeout); },
           [](PoolConfig& c, const std::string& v) {
             c.client_idle_timeout = duration_in(v, milliseconds(1000), std::chrono::hours(1));
           }},
          {"origin-idle-timeout", "DURATION",
           "a transfer whose origin sends no byte for this long (while not paused) is aborted (1s..1h)",
           [](const PoolConfig& c) { return format_duration(c.origin_idle_timeout); },
           [](PoolConfig& c, const std::string& v) {
             c.origin_idle_timeout = duration_in(v, milliseconds(1000), std::chrono::hours(1));
           }},
      },
      {}};
}

// One section of --help (and of what the file may set) per group.
template <typename Target>
po::options_description describe(const Group<Target>& g, const Target& defaults) {
  po::options_description section(g.title);
  for (const auto& s : g.settings) {
    auto* value = po::value<std::string>()->value_name(s.arg)->default_value(s.show(defaults));
    if (std::string(s.arg) == "BOOL") value->implicit_value("true");
    section.add_options()(s.name, value, s.help);
  }
  for (const auto& l : g.lists) {
    const auto items = l.show(defaults);
    section.add_options()(
        l.name, po::value<std::vector<std::string>>()->value_name(l.arg)->default_value(items, join(items, ", ")),
        l.help);
  }
  return section;
}

// `where` names the file for a value that came from it.
template <typename Target, typename Where>
void apply(const Group<Target>& g, Target& target, const po::variables_map& vm, const Where& where) {
  for (const auto& s : g.settings) {
    try {
      s.apply(target, vm[s.name].template as<std::string>());
    } catch (const BadValue& e) {
      throw ConfigError("option '" + std::string(s.name) + "'" + where(s.name) + ": " + e.reason);
    }
  }
  for (const auto& l : g.lists) {
    try {
      l.apply(target, vm[l.name].template as<std::vector<std::string>>());
    } catch (const BadValue& e) {
      throw ConfigError("option '" + std::string(l.name) + "'" + where(l.name) + ": " + e.reason);
    }
  }
}

// Boost reports "--name=value" or "-x" as typed; the message wants the name.
std::string strip_dashes(std::string name) {
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  return name.substr(0, name.find('='));
}

std::string usage_notes() {
  return "Every option can also be set in the configuration file as 'name = value' (one per line,\n"
         "'#' starts a comment); the command line wins. Repeatable options given on the command line\n"
         "replace the file's list. DURATION: 500ms, 15s, 5m, 1h (a bare number is milliseconds).\n"
         "SIZE: bytes, or with K, M, G (powers of 1024). BOOL: true/false, yes/no, on/off, 1/0.\n";
}

}  // namespace

ParsedConfig parse_config(int argc, const char* const argv[]) {
  const FcgiConfig defaults;
  const auto pool = pool_settings();
  const auto groups = service_settings();

  po::options_description command_only("Command line");
  command_only.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("check-config", "validate the configuration and exit")
      ("config,c", po::value<std::string>()->value_name("FILE")->default_value(kDefaultConfigFile),
       "configuration file (a missing default file is not an error)")
      ("no-supervisor", "same as --supervise=false");

  po::options_description service;  // the options the file may set too
  std::vector<po::options_description> sections;
  sections.push_back(describe(pool, defaults.pool));
  for (const auto& g : groups) sections.push_back(describe<Config>(g, defaults));
  for (const auto& s : sections) service.add(s);

  po::options_description all;
  all.add(command_only).add(service);
  // One description for printing, so that every section shares one column.
  po::options_description help_text;
  help_text.add(command_only);
  for (const auto& s : sections) help_text.add(s);

  const std::string program = argc > 0 && argv[0] ? std::string(argv[0]) : "dashpiff-fcgi";
  const std::string program_name = program.substr(program.rfind('/') == std::string::npos ? 0 : program.rfind('/') + 1);

  po::variables_map vm;
  std::set<std::string> from_command_line;
  try {
    const auto parsed = po::command_line_parser(argc, argv).options(all).run();
    for (const auto& o : parsed.options) {
      if (o.string_key.empty())
        throw ConfigError("unexpected argument '" + (o.value.empty() ? std::string() : o.value.front()) +
                          "' on the command line (options start with --)");
      from_command_line.insert(o.string_key);
    }
    po::store(parsed, vm);
  } catch (const po::unknown_option& e) {
    throw ConfigError("unknown option '" + strip_dashes(e.get_option_name()) + "'");
  } catch (const po::multiple_occurrences& e) {
    throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "': given more than once");
  } catch (const po::error_with_option_name& e) {
    throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "': " + e.what());
  } catch (const po::error& e) {
    throw ConfigError(std::string("command line: ") + e.what());
  }

  ParsedConfig result;
  if (vm.count("help")) {
    std::ostringstream out;
    out << "Usage: " << program_name << " [options]\n\n"
        << "FastCGI reverse proxy for DASH streams with PIFF sample-encryption boxes.\n"
        << help_text << "\n"
        << usage_notes();
    result.action = ConfigAction::help;
    result.text = out.str();
    return result;
  }
  if (vm.count("version")) {
    result.action = ConfigAction::version;
    result.text = program_name + " " + build_info().version + " (commit " + build_info().commit + ")\n";
    return result;
  }

  const std::string file = vm["config"].as<std::string>();
  const bool file_explicit = !vm["config"].defaulted();
  std::ifstream in(file);
  if (!in) {
    const int err = errno;
    if (file_explicit || err != ENOENT)
      throw ConfigError("config file '" + file + "' cannot be read: " + std::strerror(err));
  } else {
    try {
      po::store(po::parse_config_file(in, service, false), vm);
    } catch (const po::unknown_option& e) {
      throw ConfigError("unknown option '" + strip_dashes(e.get_option_name()) + "' in " + file);
    } catch (const po::multiple_occurrences& e) {
      throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "': given more than once in " + file);
    } catch (const po::error_with_option_name& e) {
      throw ConfigError("option '" + strip_dashes(e.get_option_name()) + "' in " + file + ": " + e.what());
    } catch (const po::error& e) {
      throw ConfigError(file + ": " + e.what());
    }
    result.config.config_file = file;
  }
  po::notify(vm);

  FcgiConfig& config = result.config;
  auto where = [&](const char* name) {
    return from_command_line.count(name) || vm[name].defaulted() ? std::string() : " in " + file;
  };
  apply(pool, config.pool, vm, where);
  for (const auto& g : groups) apply<Config>(g, config, vm, where);
  if (vm.count("no-supervisor")) config.pool.supervise = false;
  check_consistency(config);

  result.action = vm.count("check-config") ? ConfigAction::check : ConfigAction::run;
  if (result.action == ConfigAction::check)
    result.text = "configuration OK" + (config.config_file.empty() ? std::string(" (no file read)")
                                                                     : " (" + config.config_file + ")") + "\n";
  return result;
}

}  // namespace dashpiff

// dashpiff-patch: the segment engine on files, for operators and tests.
//   dashpiff-patch [--mode M] [--size-preserving] [--max-held N] IN OUT
//   dashpiff-patch --dump FILE
// "-" is standard input / output. Exit: 0 done, 1 input/output error, 2 usage.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "piff/dump.h"
#include "piff/segment_patcher.h"

namespace {

constexpr const char* kUsage =
    "Usage: dashpiff-patch [--mode MODE] [--size-preserving] [--max-held BYTES] IN OUT\n"
    "       dashpiff-patch --dump FILE\n"
    "\n"
    "Applies the dashpiff segment engine to an ISO BMFF file (init or media\n"
    "segment), or prints its box tree. IN / OUT / FILE may be '-' for standard\n"
    "input / output.\n"
    "\n"
    "  --mode MODE         off | free | uuid-free | convert | auto (default auto)\n"
    "  --size-preserving   only rewrites that keep the file size (as for Range answers)\n"
    "  --max-held BYTES    largest moof/moov rewritten (default 4194304)\n"
    "  --dump FILE         print type, offset and size of every box; PIFF boxes by\n"
    "                      name; senc/saiz/saio/tenc/pssh summaries\n"
    "  -q, --quiet         do not print what was changed\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 success, 1 input or output error, 2 usage error.\n";

int usage_error(const std::string& message) {
  std::cerr << "dashpiff-patch: " << message << "\nTry 'dashpiff-patch --help'.\n";
  return 2;
}

int dump(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      std::cerr << "dashpiff-patch: cannot open " << path << ": " << std::strerror(errno) << "\n";
      return 1;
    }
    in = &file;
  }
  const auto result = dashpiff::dump_boxes(*in, std::cout);
  if (!result.complete) {
    std::cerr << "dashpiff-patch: " << path << ": " << result.problem << "\n";
    return 1;
  }
  return 0;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f && f != stdin && f != stdout) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

int patch(const std::string& in_path, const std::string& out_path,
          const dashpiff::PatchOptions& options, bool quiet) {
  File in(in_path == "-" ? stdin : std::fopen(in_path.c_str(), "rb"));
  if (!in) {
    std::cerr << "dashpiff-patch: cannot open " << in_path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  // Written to a temporary name and renamed, so a failed run leaves no
  // half-written OUT behind.
  const bool to_stdout = out_path == "-";
  const std::string tmp_path = to_stdout ? "" : out_path + ".tmp";
  File out(to_stdout ? stdout : std::fopen(tmp_path.c_str(), "wb"));
  if (!out) {
    std::cerr << "dashpiff-patch: cannot create " << tmp_path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  bool write_failed = false;
  dashpiff::SegmentPatcher patcher(options, [&](const std::uint8_t* p, std::size_t n) {
    if (std::fwrite(p, 1, n, out.get()) != n) write_failed = true;
    return !write_failed;
  });
  std::vector<std::uint8_t> buf(1 << 16);
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), in.get());
    if (n > 0 && !patcher.feed(buf.data(), n)) break;
    if (n < buf.size()) break;
  }
  const bool read_failed = std::ferror(in.get()) != 0;
  if (!read_failed && !write_failed) patcher.finish();
  if (std::fflush(out.get()) != 0) write_failed = true;
  if (read_failed || write_failed) {
    std::cerr << "dashpiff-patch: " << (read_failed ? "reading " + in_path : "writing " + out_path)
              << " failed: " << std::strerror(errno) << "\n";
    if (!to_stdout) std::remove(tmp_path.c_str());
    return 1;
  }
  if (!to_stdout) {
    if (std::fclose(out.release()) != 0 || std::rename(tmp_path.c_str(), out_path.c_str()) != 0) {
      std::cerr << "dashpiff-patch: writing " << out_path << " failed: " << std::strerror(errno) << "\n";
      std::remove(tmp_path.c_str());
      return 1;
    }
  }
  const auto& s = patcher.stats();
  if (!quiet) {
    for (const auto& c : s.changes) std::cerr << c << "\n";
    std::cerr << "dashpiff-patch: mode " << dashpiff::to_string(options.mode) << ": "
              << s.bytes_in << " bytes in, " << s.bytes_out << " out, " << s.piff_neutralised
              << " neutralised, " << s.piff_converted << " converted, " << s.passthrough_events
              << " passed through\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  dashpiff::PatchOptions options;
  std::vector<std::string> files;
  std::string dump_path;
  bool dumping = false;
  bool quiet = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value = [&]() -> const std::string* {
      return i + 1 < args.size() ? &args[++i] : nullptr;
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--mode" || a.rfind("--mode=", 0) == 0) {
      const std::string* v = a == "--mode" ? value() : nullptr;
      const std::string text = v ? *v : a.size() > 7 ? a.substr(7) : "";
      if (a == "--mode" && !v) return usage_error("--mode needs a value");
      const auto mode = dashpiff::parse_piff_mode(text);
      if (!mode)
        return usage_error("unknown mode '" + text + "' (expected off, free, uuid-free, convert or auto)");
      options.mode = *mode;
    } else if (a == "--size-preserving") {
      options.size_preserving = true;
    } else if (a == "--max-held") {
      const std::string* v = value();
      if (!v) return usage_error("--max-held needs a value");
      char* end = nullptr;
      errno = 0;
      const unsigned long long n = std::strtoull(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || errno != 0 || (*v)[0] == '-')
        return usage_error("--max-held needs a number of bytes, not '" + *v + "'");
      options.max_held_box = static_cast<std::size_t>(n);
    } else if (a == "--dump") {
      const std::string* v = value();
      if (!v) return usage_error("--dump needs a file");
      dumping = true;
      dump_path = *v;
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "--") {
      files.insert(files.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else {
      files.push_back(a);
    }
  }
  if (dumping) {
    if (!files.empty()) return usage_error("--dump takes one file and no IN OUT");
    return dump(dump_path);
  }
  if (files.size() != 2) return usage_error("expected IN and OUT files");
  return patch(files[0], files[1], options, quiet);
}

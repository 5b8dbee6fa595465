// The corpus in tests/data/mpd: MPDs (and remote element entities) shaped the
// way real packagers write them. Each NAME.mpd / NAME.xml has NAME.opts (the
// origin URL and query it was fetched with) and NAME.expected.mpd / .xml.
//
// Two checks per file: the rewrite equals the expected bytes (reviewed by eye
// when regenerated with DASHPIFF_UPDATE_EXPECTED=1), and, for MPDs, every
// request a player would make from the rewrite reaches the origin URL the
// original meant (mpd_player_model.h).
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mpd_player_model.h"
#include "mpd/rewriter.h"

namespace fs = std::filesystem;
using namespace dashpiff;

namespace {

fs::path corpus_dir() {
  const char* data = std::getenv("DASHPIFF_TEST_DATA");
  return fs::path(data ? data : "tests/data") / "mpd";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CorpusItem {
  fs::path input;
  fs::path expected;
  MpdRewriteOptions options;
  std::map<std::string, std::string> remote;  // origin URL -> entity text
};

// NAME.opts: key=value lines; url, query, carry (0/1), cenc (0/1), and
// "remote=URL FILE" for each remote element entity the MPD links to.
CorpusItem load(const fs::path& input) {
  CorpusItem item;
  item.input = input;
  const std::string stem = input.stem().string();
  const std::string ext = input.extension().string();
  item.expected = input.parent_path() / (stem + ".expected" + ext);
  std::istringstream opts(read_file(input.parent_path() / (stem + ".opts")));
  for (std::string line; std::getline(opts, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    BOOST_REQUIRE_MESSAGE(eq != std::string::npos, "bad line in " << stem << ".opts: " << line);
    const std::string key = line.substr(0, eq);
    const std::string value = line.substr(eq + 1);
    if (key == "url") item.options.manifest_url = value;
    else if (key == "query") item.options.manifest_query = value;
    else if (key == "carry") item.options.carry_query = value == "1";
    else if (key == "cenc") item.options.add_cenc_protection = value == "1";
    else if (key == "remote") {
      const auto space = value.find(' ');
      item.remote[value.substr(0, space)] = read_file(input.parent_path() / value.substr(space + 1));
    } else {
      BOOST_FAIL("unknown key in " << stem << ".opts: " << key);
    }
  }
  BOOST_REQUIRE_MESSAGE(!item.options.manifest_url.empty(), stem << ".opts has no url");
  return item;
}

std::vector<CorpusItem> corpus() {
  std::vector<fs::path> inputs;
  for (const auto& entry : fs::directory_iterator(corpus_dir())) {
    const std::string name = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if ((ext == ".mpd" || ext == ".xml") && name.find(".expected.") == std::string::npos) inputs.push_back(entry.path());
  }
  std::sort(inputs.begin(), inputs.end());
  std::vector<CorpusItem> items;
  for (const auto& input : inputs) items.push_back(load(input));
  return items;
}

bool updating() {
  const char* update = std::getenv("DASHPIFF_UPDATE_EXPECTED");
  return update && std::string(update) == "1";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mpd_corpus)

BOOST_AUTO_TEST_CASE(corpus_covers_the_shapes_packagers_emit) {
  const auto items = corpus();
  BOOST_TEST(items.size() >= 12u);
  std::string all;
  for (const auto& item : items) all += read_file(item.input);
  for (const char* shape : {"type=\"dynamic\"", "<Location>", "<SegmentTimeline>", "$Number", "$Time$",
                            "<SegmentList", "<SegmentBase", "dvb:priority", "xlink:href", "mspr:pro", "cenc:pssh",
                            "<BaseURL>../", "<PatchLocation"})
    BOOST_TEST(all.find(shape) != std::string::npos, shape);
}

BOOST_AUTO_TEST_CASE(rewrites_match_the_expected_files_byte_for_byte) {
  for (const auto& item : corpus()) {
    BOOST_TEST_CONTEXT(item.input.filename().string()) {
      const std::string out = rewrite_mpd(read_file(item.input), item.options).xml;
      if (updating()) {
        std::ofstream(item.expected, std::ios::binary) << out;
        BOOST_TEST_MESSAGE("wrote " << item.expected);
        continue;
      }
      BOOST_TEST(fs::exists(item.expected), "missing " << item.expected.filename());
      if (fs::exists(item.expected)) BOOST_TEST(out == read_file(item.expected));
      // Same bytes in, same bytes out.
      BOOST_TEST(rewrite_mpd(read_file(item.input), item.options).xml == out);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_request_of_a_rewritten_mpd_reaches_what_the_original_meant) {
  std::size_t total = 0;
  for (const auto& item : corpus()) {
    if (item.input.extension() != ".mpd") continue;  // remote entities are checked inside their MPD
    BOOST_TEST_CONTEXT(item.input.filename().string()) {
      const std::string original = read_file(item.input);
      const std::string out = rewrite_mpd(original, item.options).xml;
      const auto verdict = test::compare_with_origin(original, out, item.options, item.remote);
      BOOST_TEST(verdict.checked > 0u);
      for (const auto& problem : verdict.problems) BOOST_ERROR(problem);
      total += verdict.checked;
      BOOST_TEST_MESSAGE(item.input.filename().string() << ": " << verdict.checked << " requests checked");
      // The token setting changes only the queries, never where requests go.
      MpdRewriteOptions flipped = item.options;
      flipped.carry_query = !flipped.carry_query;
      const auto other = test::compare_with_origin(original, rewrite_mpd(original, flipped).xml, flipped, item.remote);
      for (const auto& problem : other.problems) BOOST_ERROR("carry_query flipped: " << problem);
    }
  }
  BOOST_TEST_MESSAGE("requests checked: " << total);
  BOOST_TEST(total > 80u);
}

BOOST_AUTO_TEST_CASE(rewritten_output_rewrites_again_without_error) {
  // A CDN or a second proxy in front may feed the output back in.
  for (const auto& item : corpus()) {
    BOOST_TEST_CONTEXT(item.input.filename().string()) {
      const std::string out = rewrite_mpd(read_file(item.input), item.options).xml;
      BOOST_CHECK_NO_THROW(rewrite_mpd(out, item.options));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

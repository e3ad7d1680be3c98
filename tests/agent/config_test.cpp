#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "agent/runtime/config.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

TEST_CASE("TOML file, then flags: a flag beats the file, the file beats the default") {
  const std::string dir = testing::make_temp_dir("cfg");
  const std::string file = dir + "/agent.toml";
  REQUIRE(fs::write_new_file(file,
                             "collector = \"https://c.example:8443\"\n"
                             "state_dir = \"/tmp/x\"\n"
                             "[spool]\nmax_bytes = 1000000\n"
                             "[send]\ntimeout_ms = 1234\n",
                             0600)
              .ok());
  std::vector<std::string> argv_s = {"buildtrail-agent", "flush", "--config", file, "--send-timeout-ms", "99"};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  auto args = cli::parse(static_cast<int>(argv.size()), argv.data(), 2, config::options());
  REQUIRE(args.ok());
  auto c = config::load(*args);
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  CHECK(c->collector == "https://c.example:8443");
  CHECK(c->spool_max_bytes == 1000000);
  CHECK(c->send_timeout_ms == 99);
  CHECK(c->batch_max_bytes == (1u << 20));
}

TEST_CASE("unknown keys and wrong types are one-line errors naming the key") {
  auto r = config::parse_toml("[spool]\nmax_byte = 5\n", "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "agent.toml: unknown key 'spool.max_byte'");
  r = config::parse_toml("[spool]\nmax_bytes = \"big\"\n", "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("spool.max_bytes: expected a non-negative integer") != std::string::npos);
  r = config::parse_toml("collector = [", "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("agent.toml:1:", 0) == 0);
}

TEST_CASE("the documented example parses") {
  const std::string md = testing::rendered_page("docs/agent-config.md", config::reference_parts);
  const auto begin = md.find("```toml\n") + 8;
  const auto end = md.find("```", begin);
  auto parsed = config::parse_toml(md.substr(begin, end - begin), "example");
  CHECK_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
}

TEST_CASE("batch.max_bytes stays within what a collector accepts") {
  auto parsed = config::parse_toml("[batch]\nmax_bytes = 4194304\n", "agent.toml");
  REQUIRE(parsed.ok());
  cli::Args args;
  args.values["batch-max-bytes"] = {"4194305"};
  auto over = config::load(args);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message.find("batch.max_bytes: at most 4194304") != std::string::npos);
}

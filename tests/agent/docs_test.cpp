// Every reference page of docs/ holds what the code generates for its
// parts (agent/docs/reference.h), and splice() refuses pages whose markers
// do not match the parts.
#include <doctest/doctest.h>

#include "agent/docs/reference.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;

TEST_CASE("every reference page is current") {
  for (const auto& page : agent::docs::pages()) {
    auto file = fs::read_file(testing::env_or("BUILDTRAIL_SRC", ".") + "/" + page.file, 1 << 22);
    REQUIRE_MESSAGE(file.ok(), page.file);
    CHECK_MESSAGE(*file == testing::rendered_page(page.file, page.parts), (page.file + " is stale: run `make docs`"));
  }
}

TEST_CASE("splice: the text between markers is replaced; markers and parts must match") {
  const std::vector<markdown::Part> parts = {{"t", "| a |\n"}};
  auto out =
      markdown::splice("# T\nprose\n<!-- begin generated: t -->\nold\nrows\n<!-- end generated: t -->\nmore\n", parts);
  REQUIRE(out);
  CHECK(*out == "# T\nprose\n<!-- begin generated: t -->\n| a |\n<!-- end generated: t -->\nmore\n");
  auto missing = markdown::splice("# T\nno markers\n", parts);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("no markers for generated part t") != std::string::npos);
  auto unknown = markdown::splice("<!-- begin generated: x -->\n<!-- end generated: x -->\n", parts);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("no generator makes: x") != std::string::npos);
  auto open = markdown::splice("<!-- begin generated: t -->\nrows\n", parts);
  REQUIRE_FALSE(open);
  CHECK(open.error().message.find("has no end marker") != std::string::npos);
}

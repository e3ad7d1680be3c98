#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "agent/docs/reference.h"
#include "tests/common/test_util.h"

using namespace bt;

TEST_CASE("every generated agent reference page is current") {
  for (const auto& page : agent::docs::pages()) {
    std::ifstream in(testing::env_or("BUILDTRAIL_SRC", ".") + "/" + page.file);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK_MESSAGE(ss.str() == page.render(), (page.file + " is stale: run `make docs`"));
  }
}

#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;

namespace {

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

}  // namespace

TEST_CASE("staged writes replace atomically and leave no temporary behind") {
  const std::string dir = testing::make_temp_dir("fs");
  const std::string path = dir + "/object";
  REQUIRE(fs::write_file_staged(path, "first", 0640).ok());
  REQUIRE(fs::write_file_staged(path, "second", 0640).ok());
  CHECK(fs::read_file(path, 100).value() == "second");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(names_in(dir) == std::vector<std::string>{"object"});
  CHECK(fs::sync_filesystem(dir).ok());
}

TEST_CASE("threads staging the same object each get their own temporary") {
  const std::string dir = testing::make_temp_dir("fs");
  const std::string path = dir + "/same";
  const std::string body(100000, 'x');
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (!fs::write_file_staged(path, body, 0640)) ++failures;
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(fs::read_file(path, body.size()).value() == body);
  CHECK(names_in(dir).size() == 1);
}

TEST_CASE("file system errors name the path") {
  auto s = fs::sync_filesystem("/nonexistent/buildtrail");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("/nonexistent/buildtrail") != std::string::npos);
  auto w = fs::write_file_staged("/nonexistent/dir/file", "x", 0600);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().message.find("/nonexistent/dir/file") != std::string::npos);
}

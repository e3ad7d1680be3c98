#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/private_dir.h"
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

namespace {

// The one-line error of a refused open, with the path it names.
std::string refusal(const Result<fs::PrivateDir>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find('\n') == std::string::npos);
  return r.error().message;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("a private folder is made 0700 whatever the umask, and refused when anyone else controls it") {
  const std::string root = testing::make_temp_dir("private");
  const mode_t old = ::umask(0);
  auto made = fs::PrivateDir::open(root + "/a/b", true);
  ::umask(old);
  REQUIRE_MESSAGE(made.ok(), made.error().message);
  CHECK(mode_of(root + "/a/b") == 0700);
  CHECK(mode_of(root + "/a") == 0700);

  // Writable by others, or by the group: refused, naming the path and the mode.
  const std::string b = root + "/a/b";
  REQUIRE(::chmod(b.c_str(), 0777) == 0);
  std::string why = refusal(fs::PrivateDir::open(b, true));
  CHECK(contains(why, b + ": writable by group or others (mode 0777); refusing it"));
  REQUIRE(::chmod(b.c_str(), 0770) == 0);
  CHECK(contains(refusal(fs::PrivateDir::open(b, false)), "(mode 0770)"));
  REQUIRE(::chmod(b.c_str(), 0755) == 0);  // readable is fine, as for ~/.ssh
  CHECK(fs::PrivateDir::open(b, false).ok());

  // A parent others may write: they could swap the folder. A sticky one
  // (like /tmp) is fine: they cannot rename what is ours.
  const std::string shared = root + "/shared";
  REQUIRE(::mkdir(shared.c_str(), 0700) == 0);
  REQUIRE(::chmod(shared.c_str(), 0777) == 0);
  why = refusal(fs::PrivateDir::open(shared + "/state", true));
  CHECK(contains(why, shared + ": writable by group or others (mode 0777) (above " + shared + "/state)"));
  REQUIRE(::chmod(shared.c_str(), 01777) == 0);
  CHECK(fs::PrivateDir::open(shared + "/state", true).ok());

  // The folder itself a link, or not a folder.
  REQUIRE(::symlink(b.c_str(), (root + "/link").c_str()) == 0);
  CHECK(contains(refusal(fs::PrivateDir::open(root + "/link", true)), root + "/link: a symbolic link; refusing it"));
  CHECK(contains(refusal(fs::PrivateDir::open(root + "/link/", false)), "a symbolic link"));

  // Another user's folder (as root: one chowned to nobody; otherwise /,
  // which is root's).
  if (::geteuid() == 0) {
    const std::string theirs = root + "/theirs";
    REQUIRE(::mkdir(theirs.c_str(), 0700) == 0);
    REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
    CHECK(contains(refusal(fs::PrivateDir::open(theirs, true)),
                   theirs + ": owned by uid 65534, not by the running user (uid 0); refusing it"));
    // ... and a folder of ours inside one another user owns.
    REQUIRE(::chmod(theirs.c_str(), 0755) == 0);
    REQUIRE(::mkdir((theirs + "/ours").c_str(), 0700) == 0);
    CHECK(contains(refusal(fs::PrivateDir::open(theirs + "/ours", false)),
                   theirs + ": owned by uid 65534, neither root nor the running user"));
  } else {
    CHECK(contains(refusal(fs::PrivateDir::open("/", false)), "owned by uid 0, not by the running user"));
  }
}

TEST_CASE("files in a private folder are opened through its descriptor, never through a link") {
  const std::string root = testing::make_temp_dir("private-files");
  auto dir = fs::PrivateDir::open(root + "/state", true).value();
  const std::string victim = root + "/victim";  // what "another user" points the links at
  REQUIRE(fs::write_new_file(victim, "precious\n", 0644).ok());
  const std::string absent = root + "/created-by-the-agent";
  auto plant = [&](const std::string& name, const std::string& target) {
    ::unlink((root + "/state/" + name).c_str());
    REQUIRE(::symlink(target.c_str(), (root + "/state/" + name).c_str()) == 0);
  };

  // A lock file: refused, and nothing is created at the target.
  plant("lock", absent);
  auto lock = dir.open_lock("lock");
  REQUIRE_FALSE(lock.ok());
  CHECK(contains(lock.error().message, root + "/state/lock: a symbolic link; refusing it"));
  CHECK(::access(absent.c_str(), F_OK) != 0);
  // Reads: refused. Creating: refused (exists). Replacing: the link itself is replaced.
  plant("chain", victim);
  CHECK(contains(dir.read("chain", 100).error().message, "a symbolic link"));
  CHECK(dir.write_new("chain", "x", 0600).error().code == ErrorCode::kExists);
  REQUIRE(dir.write_atomic("chain", "7 abc\n", 0600).ok());
  CHECK(dir.read("chain", 100).value() == "7 abc\n");
  CHECK(fs::read_file(victim, 100).value() == "precious\n");
  // Removing and moving act on the link, not its target.
  plant("gone", victim);
  REQUIRE(dir.remove("gone").ok());
  CHECK(fs::read_file(victim, 100).value() == "precious\n");
  // A subfolder that is a link to somewhere else: refused.
  plant("rejected", root);
  CHECK(contains(dir.sub("rejected", true).error().message, "rejected: a symbolic link; refusing it"));
  // A FIFO in a file's place does not hang the read.
  REQUIRE(::mkfifo((root + "/state/fifo").c_str(), 0600) == 0);
  CHECK(contains(dir.read("fifo", 100).error().message, "not a regular file"));
  // Names are names, not paths.
  CHECK(dir.read("../victim", 100).error().code == ErrorCode::kInvalidArgument);

  // A secret must be ours and closed to everyone else (ssh's rule for keys).
  REQUIRE(dir.write_new("key", "secret", 0600).ok());
  CHECK(dir.read_owned("key", 100, 077).value() == "secret");
  REQUIRE(::chmod((root + "/state/key").c_str(), 0640) == 0);
  CHECK(contains(dir.read_owned("key", 100, 077).error().message,
                 root + "/state/key: readable by group or others (mode 0640); refusing it"));
  REQUIRE(::chmod((root + "/state/key").c_str(), 0666) == 0);
  CHECK(contains(dir.read_owned("key", 100, 077).error().message, "writable by group or others (mode 0666)"));
  CHECK(dir.read_owned("key", 100, 0).ok());
  CHECK(contains(dir.check_file("key", 022).error().message, "(mode 0666)"));
}

// Starts the real `buildtrail-collector serve` as a child process on a
// loopback port, and a small libcurl client to talk to it.
#pragma once

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "tests/common/test_util.h"

namespace bt::testing {

class CollectorProcess {
 public:
  explicit CollectorProcess(std::string data_dir, std::vector<std::string> extra = {})
      : data_(std::move(data_dir)), extra_(std::move(extra)) {
    start();
  }
  ~CollectorProcess() { stop(SIGKILL); }

  bool start() {
    const std::string ready = data_ + ".ready";
    ::unlink(ready.c_str());
    std::vector<std::string> args = {build_path("collector/buildtrail-collector"),
                                     "serve",
                                     "--listen",
                                     listen_,
                                     "--data",
                                     data_,
                                     "--ready-file",
                                     ready};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const std::string log = data_ + ".log";
      FILE* f = std::fopen(log.c_str(), "a");
      if (f) ::dup2(fileno(f), 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      auto text = fs::read_file(ready, 1024);
      if (text && !text->empty()) {
        address_ = text->substr(0, text->find('\n'));
        listen_ = address_;  // restart on the same port
        return true;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  // Sends `sig` and waits; returns the exit status (or 128+signal).
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }
  std::string url(const std::string& path) const { return "http://" + address_ + path; }
  std::string log() const {
    auto text = fs::read_file(data_ + ".log", 1 << 20);
    return text ? *text : std::string();
  }

 private:
  std::string data_;
  std::vector<std::string> extra_;
  std::string listen_ = "127.0.0.1:0";
  std::string address_;
  pid_t pid_ = -1;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;
  std::string error;  // curl's, when the request failed
};

inline HttpResponse http_request(const std::string& url, const std::string* body,
                                 const std::vector<std::string>& curl_opts_ca = {}) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  if (curl_opts_ca.size() >= 1) curl_easy_setopt(c, CURLOPT_CAINFO, curl_opts_ca[0].c_str());
  if (curl_opts_ca.size() >= 3) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, curl_opts_ca[1].c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, curl_opts_ca[2].c_str());
  }
  auto write = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  };
  auto header = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    std::string line(p, s * n);
    if (line.rfind("Retry-After:", 0) == 0 || line.rfind("retry-after:", 0) == 0)
      *static_cast<std::string*>(out) = line.substr(12, line.find_last_not_of("\r\n ") - 11);
    return s * n;
  };
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.retry_after);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  if (!r.retry_after.empty()) r.retry_after.erase(0, r.retry_after.find_first_not_of(' '));
  return r;
}

inline HttpResponse post(const std::string& url, const std::string& body) { return http_request(url, &body); }

// Polls `done` every 50 ms for up to `timeout_s`.
inline bool eventually(const std::function<bool()>& done, int timeout_s = 60) {
  for (int waited = 0; waited < timeout_s * 1000; waited += 50) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// The value of one series in a /metrics text ("" when absent).
inline std::string metric(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find(series + " ");
  if (at == std::string::npos) return "";
  const auto start = at + series.size() + 1;
  return metrics.substr(start, metrics.find('\n', start) - start);
}
inline HttpResponse get(const std::string& url) { return http_request(url, nullptr); }

// GET with `Authorization: Bearer <token>` (no header when empty): the read API.
inline HttpResponse get_bearer(const std::string& url, const std::string& token) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_slist* headers =
      token.empty() ? nullptr : curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  auto write = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  };
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

}  // namespace bt::testing

#include <filesystem>

#include "collector/store/store.h"
#include "common/batch/batch.h"
#include "common/crypto/keys.h"

namespace bt::testing {

// Direct store access for tests and benchmarks that set up or inspect a
// collector's data folder (SQLite WAL: safe while the collector runs).
// Setup failures end the process: nothing meaningful can follow them.
[[noreturn]] inline void die(const std::string& why) {
  std::fprintf(stderr, "test setup failed: %s\n", why.c_str());
  std::abort();
}

inline void add_agent(const std::string& data, const std::string& id, const crypto::KeyPair& key) {
  auto st = collector::store::open_sqlite(data).value();
  collector::store::Agent a;
  a.id = id;
  a.public_key = key.public_key;
  if (auto s = st->add_agent(a); !s) die("add_agent: " + s.error().message);
}

inline std::string add_token(const std::string& data, uint32_t uses = 1, uint64_t ttl_ns = 3600ull * 1000000000) {
  auto st = collector::store::open_sqlite(data).value();
  collector::store::Token t;
  t.secret = "tok-" + std::to_string(::random());
  t.uses = uses;
  t.expires_ns = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) + ttl_ns;
  if (auto s = st->add_token(t); !s) die("add_token: " + s.error().message);
  return t.secret;
}

inline collector::store::Stats store_stats(const std::string& data) {
  return collector::store::open_sqlite(data, {true, 5000}).value()->stats().value();
}

// The events of every batch file under `dir` (an agent's spool, a
// collector's archive) that the agent whose public key is in `pubkey_file`
// signed (other agents' batches skipped).
inline std::vector<events::Event> batch_events(const std::string& dir, const std::string& pubkey_file) {
  std::vector<events::Event> out;
  if (!std::filesystem::exists(dir)) return out;
  auto key = crypto::load_public_key(pubkey_file).value();
  for (auto& p : std::filesystem::recursive_directory_iterator(dir)) {
    if (!p.is_regular_file() || p.path().extension() != ".btb") continue;
    auto bytes = fs::read_file(p.path(), 16 << 20).value();
    auto opened = batch::open(crypto::as_bytes(bytes), key);
    if (!opened) continue;  // another agent's batch
    if (!batch::for_each_event(*opened, [&](events::Event&& e) { out.push_back(std::move(e)); }))
      die(p.path().string() + ": a verified batch whose events do not decode");
  }
  return out;
}

// Every event of that agent in the collector's archive under `data`.
inline std::vector<events::Event> archived_events(const std::string& data, const std::string& pubkey_file) {
  return batch_events(data + "/archive", pubkey_file);
}

// A collector data folder under a fresh temp root, with the store helpers
// above bound to it.
struct CollectorData {
  std::string root;
  std::string data;
  explicit CollectorData(const char* tag) : root(make_temp_dir(tag)), data(root + "/data") {}
  void add_agent(const std::string& id, const crypto::KeyPair& k) const { testing::add_agent(data, id, k); }
  std::string token(uint32_t uses = 1, uint64_t ttl_ns = 3600ull * 1000000000) const {
    return add_token(data, uses, ttl_ns);
  }
  collector::store::Stats stats() const { return store_stats(data); }
  std::vector<collector::store::Finding> findings(const std::string& id) const {
    return collector::store::open_sqlite(data, {true, 5000}).value()->findings(id).value();
  }
};

}  // namespace bt::testing

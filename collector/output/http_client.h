// One HTTP POST at a time for the outputs that speak HTTP (webhook; HEC
// and OTLP beside it): libcurl's easy interface on the output's own
// thread, one handle kept for keep-alive. The progress callback aborts a
// request within about a second of stop, so a receiver that never answers
// cannot hold serve's shutdown; a huge answer is read and thrown away
// past `max_response` bytes.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collector/output/output.h"

namespace bt::collector::output::http {

struct Post {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;
  std::string ca_file;  // empty: the system store
  long timeout_ms = 10000;
  std::size_t max_response = 512;  // of the answer kept (for the log, or for the caller to read)
};

struct Answer {
  Attempt attempt;       // outcome by status (classify), Retry-After, the error for the log
  std::string response;  // the first max_response bytes of the body
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> create();
  ~Client();
  Answer post(const Post& post, const std::atomic<bool>& stop);

 private:
  explicit Client(CURL* easy) : easy_(easy) {}
  CURL* easy_;
};

}  // namespace bt::collector::output::http

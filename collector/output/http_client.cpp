// The HTTP client of the outputs; see http_client.h.
#include "collector/output/http_client.h"

#include <algorithm>
#include <climits>

#include "common/text.h"

namespace bt::collector::output::http {

namespace {

constexpr long kMaxConnectMs = 10000;

struct Exchange {
  const std::atomic<bool>* stop = nullptr;
  std::size_t max_response = 0;
  std::string response;
};

size_t keep_response(char* p, size_t size, size_t n, void* data) {
  auto* x = static_cast<Exchange*>(data);
  const size_t bytes = size * n;
  if (x->response.size() < x->max_response)
    x->response.append(p, std::min(bytes, x->max_response - x->response.size()));
  return bytes;
}

// libcurl calls this at least about once a second, also while it waits
// for an answer: returning non-zero aborts the transfer.
int abort_on_stop(void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Exchange*>(data)->stop->load() ? 1 : 0;
}

// Retry-After in seconds, -1 when absent. CURLINFO_RETRY_AFTER reads both
// forms (seconds, HTTP date) and says 0 for absent too.
int retry_after(CURL* easy) {
  curl_off_t seconds = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0)
    return seconds > INT_MAX ? INT_MAX : static_cast<int>(seconds);
  return -1;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  bool add(const std::string& h) {
    curl_slist* next = curl_slist_append(list, h.c_str());
    if (!next) return false;
    list = next;
    return true;
  }
};

}  // namespace

Result<std::unique_ptr<Client>> Client::create() {
  CURL* easy = curl_easy_init();
  if (!easy) return make_error(ErrorCode::kInternal, "curl_easy_init failed");
  return std::unique_ptr<Client>(new Client(easy));
}

Client::~Client() { curl_easy_cleanup(easy_); }

Answer Client::post(const Post& post, const std::atomic<bool>& stop) {
  Answer out;
  HeaderList headers;
  for (const auto& h : post.headers)
    if (!headers.add(h)) {
      out.attempt.error = "out of memory";
      return out;
    }
  if (!headers.add("Expect:")) {
    out.attempt.error = "out of memory";
    return out;
  }
  Exchange x;
  x.stop = &stop;
  x.max_response = post.max_response;
  CURL* c = easy_;
  curl_easy_reset(c);  // keeps the connection cache: keep-alive survives
  curl_easy_setopt(c, CURLOPT_URL, post.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, post.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "buildtrail-collector");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, post.timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(post.timeout_ms, kMaxConnectMs));
  if (!post.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, post.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_response);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    out.attempt.error = curl_easy_strerror(rc);
    return out;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.attempt.status);
  out.attempt.outcome = classify(out.attempt.status);
  out.attempt.retry_after_s = retry_after(c);
  const std::string shown = x.response.substr(0, 512);
  out.attempt.error =
      "HTTP " + std::to_string(out.attempt.status) + (shown.empty() ? "" : ": " + text::printable(shown));
  out.response = std::move(x.response);
  return out;
}

}  // namespace bt::collector::output::http

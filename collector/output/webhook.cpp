// The webhook sink; see webhook.h.
#include "collector/output/webhook.h"

#include <sodium.h>

#include <algorithm>
#include <climits>

#include "collector/view/alert.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::output::webhook {

namespace {

constexpr std::size_t kMaxResponseKept = 512;  // of the receiver's answer, for the log
constexpr long kMaxConnectMs = 10000;

struct Exchange {
  const std::atomic<bool>* stop = nullptr;
  std::string response;
};

size_t keep_response(char* p, size_t size, size_t n, void* data) {
  auto* x = static_cast<Exchange*>(data);
  const size_t bytes = size * n;
  if (x->response.size() < kMaxResponseKept)
    x->response.append(p, std::min(bytes, kMaxResponseKept - x->response.size()));
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

std::string signature(const std::string& key, const std::string& timestamp, const std::string& body) {
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>("."), 1);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  char hex[2 * sizeof mac + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string("sha256=") + hex;
}

Webhook::Webhook(const config::Output& config, CURL* easy)
    : url_(config.url),
      key_(config.secret),
      ca_file_(config.ca_file),
      timeout_ms_(static_cast<long>(std::min<uint64_t>(config.timeout_ms, LONG_MAX))),
      easy_(easy) {}

Webhook::~Webhook() {
  curl_easy_cleanup(easy_);
  sodium_memzero(key_.data(), key_.size());
}

Result<std::unique_ptr<Sink>> Webhook::create(const config::Output& config) {
  if (sodium_init() < 0) return make_error(ErrorCode::kCrypto, "libsodium could not be initialised");
  CURL* easy = curl_easy_init();
  if (!easy) return make_error(ErrorCode::kInternal, "curl_easy_init failed");
  return std::unique_ptr<Sink>(new Webhook(config, easy));
}

Attempt Webhook::deliver(const store::Alert& alert, const std::atomic<bool>& stop) {
  const std::string body = view::alert_json(alert);
  const std::string timestamp = std::to_string(clock::now_ns() / 1000000000);
  HeaderList headers;
  Attempt out;
  if (!headers.add("Content-Type: application/json") ||
      !headers.add("X-Buildtrail-Delivery: " + std::to_string(alert.id)) ||
      !headers.add("X-Buildtrail-Timestamp: " + timestamp) ||
      !headers.add("X-Buildtrail-Signature: " + signature(key_, timestamp, body)) || !headers.add("Expect:")) {
    out.error = "out of memory";
    return out;
  }
  Exchange x;
  x.stop = &stop;
  CURL* c = easy_;
  curl_easy_reset(c);  // keeps the connection cache: keep-alive survives
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "buildtrail-collector");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms_, kMaxConnectMs));
  if (!ca_file_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_response);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    out.error = curl_easy_strerror(rc);
    return out;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  out.outcome = classify(out.status);
  out.retry_after_s = retry_after(c);
  out.error = "HTTP " + std::to_string(out.status) + (x.response.empty() ? "" : ": " + text::printable(x.response));
  return out;
}

}  // namespace bt::collector::output::webhook

// The webhook sink; see webhook.h.
#include "collector/output/webhook.h"

#include <sodium.h>

#include <algorithm>
#include <climits>

#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::output::webhook {

namespace {
// A header value cannot carry a line break or a control byte: an id is
// ours (a number, an agent id the collector issued), but a header is no
// place to find out it was not.
std::string header_safe(std::string id) {
  for (auto& c : id)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) c = '_';
  return id;
}
}  // namespace

std::string signature(const std::string& key, const std::string& timestamp, std::string_view body) {
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

Webhook::Webhook(const config::Output& config, std::unique_ptr<http::Client> client)
    : url_(config.url),
      key_(config.secret),
      ca_file_(config.ca_file),
      timeout_ms_(static_cast<long>(std::min<uint64_t>(config.timeout_ms, LONG_MAX))),
      client_(std::move(client)) {}

Webhook::~Webhook() { sodium_memzero(key_.data(), key_.size()); }

Result<std::unique_ptr<Sink>> Webhook::create(const config::Output& config) {
  if (sodium_init() < 0) return make_error(ErrorCode::kCrypto, "libsodium could not be initialised");
  auto client = http::Client::create();
  if (!client) return client.error();
  return std::unique_ptr<Sink>(new Webhook(config, std::move(*client)));
}

Attempt Webhook::deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) {
  Attempt none;
  none.outcome = Outcome::kDelivered;
  if (records.empty()) return none;
  const Record& record = records.front();  // max_records() is 1
  const std::string timestamp = std::to_string(clock::now_ns() / 1000000000);
  http::Post post;
  post.url = url_;
  post.headers = {"Content-Type: application/json", "X-Buildtrail-Delivery: " + header_safe(record.id),
                  "X-Buildtrail-Timestamp: " + timestamp,
                  "X-Buildtrail-Signature: " + signature(key_, timestamp, record.text)};
  post.body = record.text;
  post.ca_file = ca_file_;
  post.timeout_ms = timeout_ms_;
  return client_->post(post, stop).attempt;
}

}  // namespace bt::collector::output::webhook

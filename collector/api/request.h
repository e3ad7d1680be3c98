// A read API request and its answer, apart from the transport: http/
// fills a Request from libmicrohttpd and sends the Response back, so the
// handlers here never see the HTTP library (and tests or another front
// could call them directly).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace bt::collector::api {

// A client certificate the TLS session verified against --client-ca.
struct ClientCertificate {
  std::string sha256;   // of the DER certificate, lowercase hex
  std::string subject;  // its subject DN, RFC 4514 (as GnuTLS prints it)
};

struct Request {
  std::string method;
  std::string path;                                        // without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order; repeats kept
  std::vector<std::string> authorization;                  // every Authorization header's value
  std::string client_address;                              // the peer's IP address, no port
  // What the UI's session and CSRF checks read (collector/api/auth.h).
  std::vector<std::pair<std::string, std::string>> cookies;  // every cookie, as libmicrohttpd parsed them
  std::string origin, host, sec_fetch_site;                  // headers; empty when absent
  std::string if_none_match, content_type;
  std::string body;  // a POST's under /ui/ (bounded by http/); empty otherwise
  bool tls = false;
  std::optional<ClientCertificate> certificate;
};

struct Response {
  int status = 200;
  std::string body;  // JSON, one object and a newline (or an asset of the UI)
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  int retry_after_s = 0;
  std::string log;  // a line for the collector's log (why a 5xx), never sent
};

// {"error":"<message>"} with `status`; the message is one line, escaped.
Response error_response(int status, std::string_view message);
// 200 with this body.
Response json_response(std::string body);
// The store failed (busy past its timeout, or worse): 503 with
// Retry-After, so the client retries; the log says what happened.
Response store_unavailable(const Error& e);
// An event could not be read back from its signed batch (the batch is
// missing, or no longer verifies: the evidence was changed): 500 naming
// the batch, and a line in the log.
Response readback_failed(const Error& e);

// A request's query parameters, read strictly: an unknown or repeated
// parameter is an error, so a misspelt filter is never silently ignored.
class Params {
 public:
  explicit Params(const std::vector<std::pair<std::string, std::string>>& query) : query_(query) {}

  // An error naming the first parameter not in `known`, or one given twice.
  Status only(std::initializer_list<std::string_view> known) const;
  std::optional<std::string_view> get(std::string_view name) const;
  // An integer in [min, max], when given.
  Result<std::optional<int64_t>> integer(std::string_view name, int64_t min, int64_t max) const;
  // `limit`: `fallback` when absent; 1..max, else an error.
  Result<std::size_t> page_limit(std::size_t fallback, std::size_t max) const;
  // A time as `since` takes it (view::parse_since: RFC 3339, a duration
  // before `now_ns` such as 2h, or ns since the epoch), when given.
  Result<std::optional<uint64_t>> time(std::string_view name, uint64_t now_ns) const;
  // 1 or 0, when given.
  Result<std::optional<bool>> flag(std::string_view name) const;
  // `since` and `until` (as time()): everything when absent.
  Result<std::pair<uint64_t, uint64_t>> window(uint64_t now_ns) const;
  // `after`, a cursor of `parts` integers (cursor.h), when given.
  Result<std::optional<std::vector<int64_t>>> after(std::size_t parts) const;
  // `after`, a text cursor; empty when absent.
  Result<std::string> after_text() const;

 private:
  const std::vector<std::pair<std::string, std::string>>& query_;
};

}  // namespace bt::collector::api

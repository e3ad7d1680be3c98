// `buildtrail-agent job begin|end` talks to the running daemon over a local
// socket: one JSON request line, one JSON reply line. The daemon knows the
// caller by its peer credentials, so a request names no process; it carries
// only the caller's CI identity variables (never a secret one) and options.
// The bytes come from any local user: parse_request() checks every field,
// and tests/fuzz has a target for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/enrich/rules/attribution.h"
#include "common/result.h"

namespace bt::agent::job {

constexpr std::size_t kMaxRequestBytes = 64 * 1024;
constexpr std::size_t kMaxIdBytes = 256;

enum class Op { kBegin, kEnd };

struct Request {
  Op op = Op::kBegin;
  std::string id;                 // the job's id, when the hook names it (else the environment's)
  std::optional<int64_t> status;  // end: the job's exit status, when the hook knows it (0..255)
  attribution::Environment env;   // identity variables only (attribution::identity_variables)
};

struct Reply {
  bool ok = false;
  std::string message;  // one line
};

std::string to_json(const Request& request);
// Errors name the bad member. Variables that are not identity variables
// are dropped, so a request cannot put anything else into events.
Result<Request> parse_request(std::string_view line);

std::string to_json(const Reply& reply);
Result<Reply> parse_reply(std::string_view line);

}  // namespace bt::agent::job

// The request body a libmicrohttpd handler of the tests' receivers reads:
// MHD hands it over in pieces across calls of the handler, each piece kept
// in the connection's `state` until the last, empty call.
#pragma once

#include <microhttpd.h>

#include <string>

namespace bt::testing {

// Null while the body is still arriving (the handler returns MHD_YES);
// the whole body at the call that must answer.
inline std::string* request_body(const char* data, size_t* size, void** state) {
  if (*state == nullptr) {
    *state = new std::string;
    return nullptr;
  }
  auto* body = static_cast<std::string*>(*state);
  if (*size) {
    body->append(data, *size);
    *size = 0;
    return nullptr;
  }
  return body;
}

// MHD_OPTION_NOTIFY_COMPLETED: frees what request_body() kept.
inline void free_request_body(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
  delete static_cast<std::string*>(*state);
  *state = nullptr;
}

}  // namespace bt::testing

// The syslog output: each record as an RFC 5424 message (message.h) over
// TCP with octet counting, TLS or UDP (connection.h). A chunk is written
// whole and counts as delivered once the server's kernel took all of it on
// a connection still up; any failure closes the connection, and the same
// chunk goes again on a new one after the backoff.
#pragma once

#include <memory>

#include "collector/output/output.h"

namespace bt::collector::output::syslog {

Result<std::unique_ptr<Sink>> create(const config::Output& config);

}  // namespace bt::collector::output::syslog

// The syslog sink; see syslog.h.
#include "collector/output/syslog/syslog.h"

#include <unistd.h>

#include <climits>

#include "collector/output/syslog/connection.h"
#include "collector/output/syslog/message.h"

namespace bt::collector::output::syslog {

namespace {

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "";
}

class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(const config::Output& config) : config_(config) {
    header_.facility = config.facility_code;
    header_.app_name = config.app_name;
    header_.sd_id = config.sd_id;
    header_.collector_host = host_name();
  }

  std::size_t max_records() const override { return 2048; }

  Attempt deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) override {
    Attempt out;
    if (!connection_) {
      auto c = connect(config_, stop);
      if (!c) {
        out.error = c.error().message;
        return out;
      }
      connection_ = std::move(*c);
    }
    Status s = udp() ? send_datagrams(records, stop) : send_stream(records, stop);
    if (s) s = connection_->taken(std::chrono::milliseconds(config_.timeout_ms), stop);
    if (!s) {
      connection_.reset();  // a new connection for the retry: the stream's state is unknown
      out.error = s.error().message;
      return out;
    }
    out.outcome = Outcome::kDelivered;
    return out;
  }

  uint64_t take_truncated() override { return std::exchange(truncated_, 0); }

 private:
  bool udp() const { return config_.transport == "udp"; }

  Status send_stream(const std::vector<Record>& records, const std::atomic<bool>& stop) {
    frames_.clear();  // its capacity is kept from chunk to chunk
    for (const auto& r : records) append_octet_counted(frames_, message(header_, r));
    return connection_->send(frames_, stop);
  }

  // One message per datagram, cut to max_message (RFC 5426 4.3.1 lets a
  // receiver cut too; the count says it happened).
  Status send_datagrams(const std::vector<Record>& records, const std::atomic<bool>& stop) {
    for (const auto& r : records) {
      std::string m = message(header_, r);
      if (m.size() > config_.max_message) {
        m.resize(config_.max_message);
        ++truncated_;
      }
      if (Status s = connection_->send(m, stop); !s) return s;
    }
    return Ok{};
  }

  config::Output config_;
  Header header_;
  std::unique_ptr<Connection> connection_;
  std::string frames_;
  uint64_t truncated_ = 0;
};

}  // namespace

Result<std::unique_ptr<Sink>> create(const config::Output& config) {
  return std::unique_ptr<Sink>(new SyslogSink(config));
}

}  // namespace bt::collector::output::syslog

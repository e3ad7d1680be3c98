// The file output: records as JSON lines appended to `path`, for a log
// shipper already on the host (Filebeat, Fluent Bit, the Splunk forwarder,
// Vector). A chunk is written and fdatasync'ed before it counts as
// delivered, so the cursor never runs ahead of the disk. Before the file
// would grow past `max_bytes` it is rotated: `path` becomes `path.1`, `.1`
// becomes `.2`, ... up to `max_files`, the oldest removed. A file moved or
// removed by someone else (logrotate) is noticed at the next chunk and
// `path` created again. A line cut by a crash is ended with a newline
// before anything else is appended, so it can only spoil itself.
#pragma once

#include <memory>
#include <string>

#include "collector/output/output.h"

namespace bt::collector::output::file {

class FileSink final : public Sink {
 public:
  static Result<std::unique_ptr<Sink>> create(const config::Output& config);
  ~FileSink() override;
  std::size_t max_records() const override { return 4096; }
  Attempt deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) override;

 private:
  explicit FileSink(const config::Output& config);
  Status open();
  Status reopen_if_moved();
  Status rotate();
  Status write_all(const std::string& bytes);

  std::string path_;
  uint64_t max_bytes_, max_files_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string lines_;
};

}  // namespace bt::collector::output::file

// The daemon's kernel sensor: loads sensor.bpf.c (CO-RE, through its
// bpftool skeleton), fills its maps, attaches it, and hands the ring
// buffer's records to the caller. Destroying the Sensor detaches every
// program. Only the loader knows libbpf; records leave it as bytes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/filter.h"
#include "agent/capture/ebpf/record.h"
#include "common/result.h"

struct sensor;  // the bpftool skeleton
struct ring_buffer;

namespace bt::agent::ebpf {

// A runner's name as the kernel matches it at exec, against the task name
// and the executable's file name (attribution::task_names()).
struct RunnerComm {
  std::string comm;        // the task name after exec (at most 15 bytes)
  bool confirmed = false;  // the name alone makes it a runner
  // Else: any of these as an argument after the program, or as the last
  // component of one, makes it a runner, decided in the kernel at exec
  // (each at most BT_NAME_MAX - 1 bytes, no '/').
  std::vector<std::string> arguments;
  bool ask = true;  // and if none does, user space checks it from /proc
};

struct Options {
  bool record_all = false;  // every process on the host, not only builds
  std::string btf_file;     // BTF for kernels that do not expose /sys/kernel/btf/vmlinux
  uint32_t ring_bytes = 8u << 20;
  OpenFilter filter;
  WatchFilter watch;  // write-opens reported (file_write); the rest only feed provenance in the kernel
  std::vector<RunnerComm> runner_comms;
  // The environment variables of a build's first exec that may leave the
  // kernel (attribution's identity variables); all others stay there.
  std::vector<std::string> env_allow;
  // Hook system calls by the raw sys_exit tracepoint even where the
  // per-call ones exist (tests cover the fallback with it).
  bool raw_sys_exit = false;
};

// Why the sensor cannot run here with these options, or Ok: the ring
// buffer's size, BTF, ring buffers, privileges.
Status check_kernel(const Options& options);

class Sensor {
 public:
  static Result<std::unique_ptr<Sensor>> start(const Options& options);
  ~Sensor();
  Sensor(const Sensor&) = delete;
  Sensor& operator=(const Sensor&) = delete;

  // Marks a process as a CI runner: its children start builds.
  Status add_runner(uint32_t tgid);
  // The build process `tgid` belongs to, if the kernel tracks it.
  std::optional<capture::BuildKey> build_of(uint32_t tgid) const;
  // The build process that last opened the file (st_dev, ino) for
  // writing, if the kernel remembers it (exec provenance).
  std::optional<bt_writer> writer_of(uint64_t st_dev, uint64_t ino) const;
  // Drops the remembered writes of builds whose first process exited
  // (call once their records were read).
  void forget_writes(const std::vector<capture::BuildKey>& builds);
  // Waits up to `timeout_ms` (the kernel wakes the reader early only when
  // the ring is filling up), then passes every record to `on_record` (on
  // this thread). Returns the number of records, or an error.
  using RecordHandler = std::function<void(std::span<const uint8_t>)>;
  Result<int> poll(int timeout_ms, const RecordHandler& on_record);
  // Whether system calls are hooked one tracepoint per call of interest
  // (syscalls:sys_exit_*) rather than by the raw sys_exit tracepoint.
  bool per_syscall() const { return per_syscall_; }
  // Records lost in the kernel since load, by bt_loss reason.
  std::array<uint64_t, BT_LOSS_MAX> loss() const;

 private:
  Sensor() = default;
  struct sensor* skel_ = nullptr;
  struct ring_buffer* ring_ = nullptr;
  const RecordHandler* handler_ = nullptr;
  bool per_syscall_ = false;
  static int on_sample(void* self, void* data, std::size_t size);
};

std::string_view loss_reason(int index);  // ring_full, tracked_full, kernel_read_failed, scratch_contended,
                                          // provenance_full

}  // namespace bt::agent::ebpf

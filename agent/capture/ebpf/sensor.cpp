#include "agent/capture/ebpf/sensor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "agent/capture/ebpf/sensor.skel.h"
#include "common/log.h"

namespace bt::agent::ebpf {

namespace {

constexpr const char* kFallback = "; `buildtrail-agent run -- CMD` records builds without eBPF";

// libbpf's warnings go to our log; its debug chatter does not.
int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // Whole: a verifier log comes as one message, its reason at the end.
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, again);
  va_end(again);
  if (n <= 0) return 0;
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<std::size_t>(n));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty()) log::debug("libbpf", text);
  return 0;
}

template <std::size_t N>
void copy_fixed(char (&dst)[N], const std::string& src) {
  std::memset(dst, 0, N);
  std::memcpy(dst, src.data(), std::min(src.size(), N - 1));
}

Error bpf_error(const std::string& what, int err) {
  return Error{ErrorCode::kUnavailable, what + ": " + std::strerror(err < 0 ? -err : err)};
}

template <typename Key>
Status merge_flags(int map_fd, const Key& key, uint16_t flags) {
  uint16_t old = 0;
  if (bpf_map_lookup_elem(map_fd, &key, &old) == 0) flags |= old;
  if (bpf_map_update_elem(map_fd, &key, &flags, BPF_ANY)) return bpf_error("secret filter", errno);
  return Ok{};
}

// Basename globs into an array map of at most BT_GLOBS_MAX (the secret and
// the watch filter share the shape: parent folder, literal prefix, suffix).
template <class Glob>
Status load_globs(int map_fd, const std::vector<Glob>& globs, const char* what) {
  for (std::size_t i = 0; i < globs.size() && i < BT_GLOBS_MAX; ++i) {
    const auto& g = globs[i];
    bt_glob v{};
    copy_fixed(v.parent, g.parent);
    copy_fixed(v.prefix, g.prefix);
    copy_fixed(v.suffix, g.suffix);
    v.prefix_len = static_cast<uint32_t>(std::min<std::size_t>(g.prefix.size(), BT_GLOB_PART - 1));
    v.suffix_len = static_cast<uint32_t>(std::min<std::size_t>(g.suffix.size(), BT_GLOB_PART - 1));
    const uint32_t index = static_cast<uint32_t>(i);
    if (bpf_map_update_elem(map_fd, &index, &v, BPF_ANY)) return bpf_error(what, errno);
  }
  return Ok{};
}

// The filter's entries into secret_basenames, secret_pairs, secret_globs.
Status load_filter(struct sensor* s, const OpenFilter& f) {
  const int basenames = bpf_map__fd(s->maps.secret_basenames);
  for (const auto& n : f.names) {
    char name[BT_NAME_MAX];
    copy_fixed(name, n.name);
    if (n.parent.empty()) {
      if (Status st = merge_flags(basenames, name, n.flags); !st) return st;
      continue;
    }
    bt_name_key key{};
    copy_fixed(key.parent, n.parent);
    copy_fixed(key.name, n.name);
    if (Status st = merge_flags(bpf_map__fd(s->maps.secret_pairs), key, n.flags); !st) return st;
    if (Status st = merge_flags(basenames, name, BT_NAME_NEED_PARENT); !st) return st;
  }
  if (Status st = load_globs(bpf_map__fd(s->maps.secret_globs), f.globs, "secret filter"); !st) return st;
  return Ok{};
}

// The watch filter's entries into watch_names, watch_globs, watch_dirs.
Status load_watch(struct sensor* s, const WatchFilter& w) {
  const uint8_t one = 1;
  for (const auto& n : w.names) {
    char key[BT_NAME_MAX];
    copy_fixed(key, n);
    if (bpf_map_update_elem(bpf_map__fd(s->maps.watch_names), key, &one, BPF_ANY))
      return bpf_error("watch filter", errno);
  }
  if (Status st = load_globs(bpf_map__fd(s->maps.watch_globs), w.globs, "watch filter"); !st) return st;
  for (const auto& d : w.dirs) {
    char key[BT_NAME_MAX];
    copy_fixed(key, d.name);
    uint8_t deepest = d.deepest;
    uint8_t old = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(s->maps.watch_dirs), key, &old) == 0) deepest = std::max(deepest, old);
    if (bpf_map_update_elem(bpf_map__fd(s->maps.watch_dirs), key, &deepest, BPF_ANY))
      return bpf_error("watch filter", errno);
  }
  return Ok{};
}

// The environment variables allowed out of the kernel.
Status load_env_allow(struct sensor* s, const std::vector<std::string>& names) {
  const uint8_t one = 1;
  for (const auto& n : names) {
    if (n.empty() || n.size() >= BT_ENV_NAME_MAX) continue;  // cannot match: the kernel gives up on longer names
    char key[BT_ENV_NAME_MAX];
    copy_fixed(key, n);
    if (bpf_map_update_elem(bpf_map__fd(s->maps.env_allow), key, &one, BPF_ANY))
      return bpf_error("environment allow-list", errno);
  }
  return Ok{};
}

// The runner names and their arguments (bt_runner_how, bt_runner_arg).
Status load_runner_comms(struct sensor* s, const std::vector<RunnerComm>& comms) {
  const uint8_t one = 1;
  for (const auto& c : comms) {
    char key[16] = {};
    std::memcpy(key, c.comm.data(), std::min<std::size_t>(c.comm.size(), 15));
    uint8_t how = c.confirmed ? BT_RUNNER_BY_NAME : 0;
    if (!c.confirmed) {
      for (const auto& a : c.arguments) {
        // Longer or with a '/': the kernel cannot tell, user space does.
        if (a.empty() || a.size() >= BT_NAME_MAX || a.find('/') != std::string::npos) {
          how |= BT_RUNNER_ASK;
          continue;
        }
        bt_runner_arg arg{};
        std::memcpy(arg.name, key, sizeof(arg.name));
        copy_fixed(arg.arg, a);
        if (bpf_map_update_elem(bpf_map__fd(s->maps.runner_args), &arg, &one, BPF_ANY))
          return bpf_error("runner arguments", errno);
        how |= BT_RUNNER_BY_ARG;
      }
      if (c.ask) how |= BT_RUNNER_ASK;
    }
    if (how == 0) continue;
    if (bpf_map_update_elem(bpf_map__fd(s->maps.runner_comms), key, &how, BPF_ANY))
      return bpf_error("runner names", errno);
  }
  return Ok{};
}

}  // namespace

std::string_view loss_reason(int index) {
  switch (index) {
    case BT_LOSS_RING_FULL:
      return "ring_full";
    case BT_LOSS_TRACKED_FULL:
      return "tracked_full";
    case BT_LOSS_CONTENDED:
      return "scratch_contended";
    case BT_LOSS_PROVENANCE_FULL:
      return "provenance_full";
    default:
      return "kernel_read_failed";
  }
}

namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";

// Whether the per-syscall exit tracepoints (syscalls:sys_exit_*) can be
// attached: they need tracefs, which hosts without systemd may not have
// mounted at boot, so it is mounted here (we are still root).
bool syscall_tracepoints() {
  const std::string probe = std::string(kTracefs) + "/events/syscalls/sys_exit_openat/id";
  struct stat st {};
  if (::stat(probe.c_str(), &st) == 0) return true;
  if (::mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0) return false;
  log::info("ebpf", std::string("mounted tracefs on ") + kTracefs + " for the syscall tracepoints");
  return ::stat(probe.c_str(), &st) == 0;
}

// One program per system call of interest when the syscall tracepoints are
// there; else the one raw sys_exit program, which runs for every system
// call on the host.
void choose_syscall_programs(struct sensor* s, bool per_syscall) {
  // Every per-call program is in a "tracepoint/syscalls/" section (the
  // SYSCALL_EXIT macro of sensor.bpf.c): a new one needs no line here.
  struct bpf_program* p = nullptr;
  bpf_object__for_each_program(p, s->obj) {
    if (std::string_view(bpf_program__section_name(p)).starts_with("tracepoint/syscalls/"))
      bpf_program__set_autoload(p, per_syscall);
  }
  bpf_program__set_autoload(s->progs.bt_sys_exit, !per_syscall);
}

}  // namespace

Status check_kernel(const Options& options) {
  if (options.ring_bytes < 4096 || (options.ring_bytes & (options.ring_bytes - 1)))
    return make_error(ErrorCode::kInvalidArgument, "the ring buffer size must be a power of two of at least 4 KiB");
  const std::string btf = options.btf_file.empty() ? "/sys/kernel/btf/vmlinux" : options.btf_file;
  struct stat st {};
  if (::stat(btf.c_str(), &st) != 0)
    return make_error(ErrorCode::kUnavailable, "this kernel has no BTF (" + btf +
                                                   " is missing: it needs CONFIG_DEBUG_INFO_BTF=y, "
                                                   "or ebpf.btf_file naming a BTF file for it)" +
                                                   kFallback);
  if (::geteuid() != 0)
    return make_error(
        ErrorCode::kUnavailable,
        std::string("the eBPF sensor must start as root (it drops its capabilities once loaded)") + kFallback);
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) != 1)
    return make_error(ErrorCode::kUnavailable,
                      std::string("this kernel has no BPF ring buffer (Linux 5.8 or later is needed)") + kFallback);
  return Ok{};
}

Result<std::unique_ptr<Sensor>> Sensor::start(const Options& options) {
  if (Status s = check_kernel(options); !s) return s.error();
  libbpf_set_print(print_libbpf);
  std::unique_ptr<Sensor> self(new Sensor());
  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  if (!options.btf_file.empty()) open_opts.btf_custom_path = options.btf_file.c_str();
  self->skel_ = sensor__open_opts(&open_opts);
  if (!self->skel_) return bpf_error("opening the BPF object", errno);
  struct sensor* s = self->skel_;
  s->rodata->record_all = options.record_all;
  s->rodata->any_name = options.filter.any_name;
  s->rodata->self_tgid = static_cast<uint32_t>(::getpid());
  s->rodata->n_globs = static_cast<uint32_t>(std::min<std::size_t>(options.filter.globs.size(), BT_GLOBS_MAX));
  s->rodata->watch_any = options.watch.any;
  s->rodata->n_watch_globs = static_cast<uint32_t>(std::min<std::size_t>(options.watch.globs.size(), BT_GLOBS_MAX));
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return bpf_error("counting CPUs", cpus);
  bpf_map__set_max_entries(s->maps.scratch, static_cast<uint32_t>(cpus));
  bpf_map__set_max_entries(s->maps.events, options.ring_bytes);
  s->rodata->wake_bytes = std::min<uint64_t>(256u << 10, options.ring_bytes / 4);
  self->per_syscall_ = !options.raw_sys_exit && syscall_tracepoints();
  choose_syscall_programs(s, self->per_syscall_);
  if (int err = sensor__load(s))
    return make_error(ErrorCode::kUnavailable, "loading the BPF programs failed (" + std::string(std::strerror(-err)) +
                                                   "; `--log-level debug` shows the verifier's reason)" + kFallback);
  if (Status f = load_filter(s, options.filter); !f) return f.error();
  if (Status c = load_runner_comms(s, options.runner_comms); !c) return c.error();
  if (Status w = load_watch(s, options.watch); !w) return w.error();
  if (Status e = load_env_allow(s, options.env_allow); !e) return e.error();
  if (int err = sensor__attach(s)) return bpf_error("attaching the BPF programs", err);
  self->ring_ = ring_buffer__new(bpf_map__fd(s->maps.events), &Sensor::on_sample, self.get(), nullptr);
  if (!self->ring_) return bpf_error("opening the ring buffer", errno);
  return self;
}

Sensor::~Sensor() {
  if (ring_) ring_buffer__free(ring_);
  if (skel_) sensor__destroy(skel_);
}

int Sensor::on_sample(void* self, void* data, std::size_t size) {
  auto* sensor = static_cast<Sensor*>(self);
  (*sensor->handler_)(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
  return 0;
}

Result<int> Sensor::poll(int timeout_ms, const RecordHandler& on_record) {
  handler_ = &on_record;
  // The kernel wakes us only when the ring fills up (see wakeup() in
  // sensor.bpf.c): after the wait, take whatever is there.
  int n = ring_buffer__poll(ring_, timeout_ms);
  if (n >= 0) {
    const int more = ring_buffer__consume(ring_);
    n = more < 0 ? more : n + more;
  }
  handler_ = nullptr;
  if (n < 0 && n != -EINTR) return bpf_error("reading the ring buffer", n);
  return n < 0 ? 0 : n;
}

Status Sensor::add_runner(uint32_t tgid) {
  const uint8_t one = 1;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.runners), &tgid, &one, BPF_ANY))
    return bpf_error("adding a runner", errno);
  return Ok{};
}

std::optional<capture::BuildKey> Sensor::build_of(uint32_t tgid) const {
  bt_tracked t{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.tracked), &tgid, &t) != 0) return std::nullopt;
  return capture::BuildKey{t.root_tgid, t.root_start_ns};
}

std::optional<bt_writer> Sensor::writer_of(uint64_t st_dev, uint64_t ino) const {
  // The kernel's dev_t: major << 20 | minor.
  const bt_file_key key{(static_cast<uint64_t>(major(st_dev)) << 20) | minor(st_dev), ino};
  bt_writer w{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.written), &key, &w) != 0) return std::nullopt;
  return w;
}

void Sensor::forget_writes(const std::vector<capture::BuildKey>& builds) {
  if (builds.empty()) return;
  const int fd = bpf_map__fd(skel_->maps.written);
  std::vector<bt_file_key> doomed;
  bt_file_key key{}, next{};
  const void* at = nullptr;  // null: the first key
  while (bpf_map_get_next_key(fd, at, &next) == 0) {
    bt_writer w{};
    if (bpf_map_lookup_elem(fd, &next, &w) == 0)
      for (const auto& b : builds)
        if (w.root_tgid == b.root_pid && w.root_start_ns == b.root_start_ns) doomed.push_back(next);
    key = next;
    at = &key;
  }
  for (const auto& k : doomed) bpf_map_delete_elem(fd, &k);
}

std::array<uint64_t, BT_LOSS_MAX> Sensor::loss() const {
  std::array<uint64_t, BT_LOSS_MAX> totals{};
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(cpus > 0 ? cpus : 1));
  for (uint32_t i = 0; i < BT_LOSS_MAX; ++i) {
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.loss), &i, per_cpu.data())) continue;
    for (uint64_t v : per_cpu) totals[i] += v;
  }
  return totals;
}

}  // namespace bt::agent::ebpf

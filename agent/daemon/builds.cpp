#include "agent/daemon/builds.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/attribution/attribution.h"
#include "agent/dns/dns.h"
#include "agent/ebpf/record.h"
#include "agent/wrap/procfs.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::daemon {

namespace {

constexpr std::size_t kMaxHeld = 1024;  // records of a build waiting for its first exec

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string address_text(uint16_t family, const std::array<uint8_t, 16>& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == AF_INET ? AF_INET : AF_INET6, addr.data(), text, sizeof(text));
  return text;
}

// A wait status as process_exit and build_end report it.
struct ExitStatus {
  int64_t code, signal;
};
ExitStatus exit_status(int status) {
  const int64_t sig = status & 0x7f;
  return {sig ? -1 : (status >> 8) & 0xff, sig};
}

attribution::Environment environment_of(const std::vector<std::string>& env) {
  attribution::Environment out;
  for (const auto& kv : env) {
    const std::size_t eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) out.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

// A build that was running before the daemon: its environment, read once
// from /proc and cut at once to the variables the kernel would have let out.
attribution::Environment startup_environment(uint32_t tgid) {
  auto text = fs::read_file("/proc/" + std::to_string(tgid) + "/environ", 1 << 20);
  if (!text) return {};
  attribution::Environment all = environment_of(ebpf::split_nul(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text->data()), text->size())));
  attribution::Environment kept;
  for (const auto& name : attribution::identity_variables())
    if (auto it = all.find(name); it != all.end()) kept.insert(*it);
  return kept;
}

}  // namespace

Clock::Clock() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  tick_ns_ = 1000000000ull / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
  refresh();
}

void Clock::refresh() { offset_ns_ = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME); }

struct Builds::Build {
  uint32_t runner = 0;
  uint64_t started_boot_ns = 0;  // the runner's fork of the build
  std::unique_ptr<enrich::Pipeline> pipeline;
  std::vector<ebpf::Record> held;
  uint64_t dropped_while_held = 0;
  std::size_t live = 0;  // processes of the build not yet exited
  bool ended = false;
};

Builds::Builds(enrich::Config base, enrich::Pipeline::Sink sink)
    : base_(std::move(base)), sink_(std::move(sink)) {}

Builds::~Builds() = default;

Builds::Build& Builds::build_for(const ebpf::Record& r) {
  auto& slot = builds_[r.build];
  if (!slot) slot = std::make_unique<Build>();
  return *slot;
}

void Builds::start_pipeline(Build& b, const ebpf::Record& x) {
  enrich::Config c = base_;
  // The kernel sends the allowed variables of a build's first exec; a
  // build already running when the daemon started has none to send.
  const attribution::Environment env =
      (x.flags & BT_F_ENV) ? environment_of(x.env) : startup_environment(x.tgid);
  c.build = attribution::from_environment(env, base_.envelope.host);
  // The build hangs from its runner: build_start names it, and the build's
  // first process has it as parent.
  if (b.runner) {
    c.self_pid = b.runner;
    c.envelope.process = {};
    c.envelope.process.pid = b.runner;
    c.envelope.process.key = enrich::process_key(b.runner, wrap::procfs::start_time_ns(static_cast<pid_t>(b.runner)));
    c.envelope.process.exe = wrap::procfs::read_link("/proc/" + std::to_string(b.runner) + "/exe");
  }
  b.pipeline = std::make_unique<enrich::Pipeline>(std::move(c), sink_);
  b.pipeline->build_start({}, x.cwd, "daemon", clock_.wall_ns(b.started_boot_ns ? b.started_boot_ns : x.boot_ns));
}

void Builds::deliver(Build& b, const ebpf::Record& r) {
  enrich::Pipeline& p = *b.pipeline;
  const uint64_t t = clock_.wall_ns(r.boot_ns);
  switch (r.kind) {
    case BT_FORK:
      p.on_fork({t, r.parent_tgid, r.tgid, clock_.start_ns(r.start_ns)});
      break;
    case BT_EXEC: {
      if ((r.flags & BT_F_ENV) && !r.env.empty() && !p.attributed()) {
        events::Build late = attribution::from_environment(environment_of(r.env), base_.envelope.host);
        if (!late.ci.empty()) p.attribute_late(std::move(late));
      }
      capture::Exec x;
      x.time_ns = t;
      x.pid = r.tgid;
      x.ppid = r.ppid;
      x.start_ns = clock_.start_ns(r.start_ns);
      x.uid = r.uid;
      x.exe = r.exe;
      x.argv = r.argv;
      x.cwd = r.cwd;
      p.on_exec(x);
      break;
    }
    case BT_EXIT: {
      const ExitStatus x = exit_status(r.exit_code);
      p.on_exit({t, r.tgid, x.code, x.signal});
      break;
    }
    case BT_OPEN:
      p.on_open({t, r.tgid, r.path, (r.flags & BT_F_WRITE) != 0});
      break;
    case BT_CONNECT: {
      if (r.sock_type != SOCK_STREAM && r.sock_type != SOCK_DGRAM) break;
      p.on_connect({t, r.tgid, r.sock_type == SOCK_STREAM ? "tcp" : "udp", address_text(r.family, r.addr),
                    r.port, r.result});
      break;
    }
    case BT_DNS: {
      auto m = dns::parse(r.payload);
      if (!m || !m->response) break;
      capture::Dns d;
      d.time_ns = t;
      d.pid = r.tgid;
      d.name = m->name;
      d.qtype = m->qtype;
      d.server = address_text(r.family, r.addr);
      d.rcode = m->rcode;
      d.answers = m->answers;
      d.addresses = m->addresses;
      p.on_dns(d);
      break;
    }
    case BT_PROC_ACCESS:
      if (r.result >= 0)
        p.on_process_access({t, r.tgid, r.target_tgid,
                             (r.flags & BT_F_PTRACE) ? "ptrace_attach" : "process_vm_readv"});
      break;
    default:
      break;
  }
}

void Builds::on_record(const ebpf::Record& r) {
  if (r.kind == BT_RUNNER) return;
  Build& b = build_for(r);
  // A process that joined by the build's cgroup was not forked in it.
  if (r.kind == BT_FORK || (r.kind == BT_EXEC && (r.flags & BT_F_JOINED))) {
    ++b.live;
    if (r.flags & BT_F_NEW_BUILD) {
      b.runner = r.parent_tgid;
      b.started_boot_ns = r.boot_ns;
    }
  }
  if (!b.pipeline && r.kind == BT_EXEC) {
    start_pipeline(b, r);
    for (const auto& held : b.held) deliver(b, held);
    b.held.clear();
  }
  if (b.pipeline) {
    deliver(b, r);
  } else if (r.kind != BT_EXIT) {
    if (b.held.size() < kMaxHeld) b.held.push_back(r);
    else ++b.dropped_while_held;
  }
  if (r.kind != BT_EXIT) return;
  if (b.live > 0) --b.live;
  const bool root_exited = r.tgid == r.build.root_tgid;
  if (root_exited && b.pipeline && !b.ended) {
    const ExitStatus x = exit_status(r.exit_code);
    b.pipeline->build_end(x.code, x.signal);
    b.ended = true;
  }
  // A build that never exec'd (a runner's helper fork) leaves no trail.
  if ((b.ended || (root_exited && !b.pipeline)) && b.live == 0) builds_.erase(r.build);
}

void Builds::end_all() {
  for (auto& [key, b] : builds_)
    if (b->pipeline && !b->ended) b->pipeline->build_end(-1, 0);
  builds_.clear();
}

}  // namespace bt::agent::daemon

#include "agent/route/builds.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/enrich/rules/attribution.h"
#include "agent/capture/dns/dns.h"
#include "agent/capture/ebpf/record.h"
#include "common/clock.h"
#include "common/log.h"

namespace bt::agent::daemon {

namespace {

constexpr std::size_t kMaxHeld = 1024;  // records of a build waiting for its first exec

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
  for (const auto& kv : env) attribution::add_variable(out, kv);
  return out;
}

}  // namespace

Clock::Clock() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  tick_ns_ = 1000000000ull / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
  refresh();
}

void Clock::refresh() { offset_ns_ = clock::now_ns() - clock::boottime_ns(); }

// One build record: build_start .. build_end, and the pipeline between.
struct Builds::Job {
  uint32_t runner = 0;
  std::unique_ptr<enrich::Pipeline> pipeline;
  bool begun = false;  // by `job begin`: ends by `job end` or idleness, not with a process
  bool ended = false;
  std::size_t builds = 0;      // builds of it the daemon still follows
  uint64_t idle_since_ns = 0;  // steady clock, since `builds` fell to 0
};

struct Builds::Build {
  uint32_t runner = 0;
  uint64_t started_boot_ns = 0;  // the runner's fork of the build
  std::shared_ptr<Job> job;      // from its first exec on
  std::vector<ebpf::Record> held;
  uint64_t dropped_while_held = 0;
  std::size_t live = 0;  // processes of the build not yet exited
  bool root_exited = false;
};

namespace {

bool same_job(const events::Build& a, const events::Build& b) {
  return a.ci == b.ci && a.id == b.id && a.job == b.job;
}

std::string describe(const events::Build& b) {
  return b.ci + " " + (b.job.empty() ? "" : b.job + " ") + b.id;
}

}  // namespace

Builds::Builds(enrich::Config base, enrich::Pipeline::Sink sink, uint64_t job_idle_ns)
    : base_(std::move(base)), sink_(std::move(sink)), job_idle_ns_(job_idle_ns) {}

Builds::~Builds() = default;

Builds::Build& Builds::build_for(const ebpf::Record& r) {
  auto& slot = builds_[r.build];
  if (!slot) slot = std::make_unique<Build>();
  return *slot;
}

// A job begun on `runner` that a new build of it belongs to: the one with
// the same identity, or, for a build not attributed yet (GitLab's later
// stages), the runner's only begun job.
std::shared_ptr<Builds::Job> Builds::open_job_for(uint32_t runner, const events::Build& who) const {
  if (!runner) return nullptr;
  std::vector<std::shared_ptr<Job>> on_runner;
  for (const auto& j : open_jobs_)
    if (j->runner == runner) on_runner.push_back(j);
  if (who.ci.empty()) return on_runner.size() == 1 ? on_runner.front() : nullptr;
  for (const auto& j : on_runner)
    if (same_job(j->pipeline->build(), who)) return j;
  return nullptr;
}

void Builds::start_pipeline(Build& b, const ebpf::Record& x) {
  // The kernel sends the allowed variables of a build's first exec; a
  // build already running when the daemon started has none to send.
  const attribution::Environment env =
      (x.flags & BT_F_ENV) ? environment_of(x.env) : attribution::identity_environment_of(x.tgid);
  events::Build who = attribution::from_environment(env, base_.envelope.host);
  if (auto job = open_job_for(b.runner, who)) {
    b.job = std::move(job);
    ++b.job->builds;
    return;
  }
  enrich::Config c = b.runner ? enrich::runner_child_config(base_, b.runner) : base_;
  c.build = std::move(who);
  b.job = std::make_shared<Job>();
  b.job->runner = b.runner;
  b.job->builds = 1;
  b.job->pipeline = std::make_unique<enrich::Pipeline>(std::move(c), sink_);
  // The kernel sends the environment of up to BT_ENV_TRIES execs until one
  // names the build: build_start waits as long (GitLab's late binding).
  b.job->pipeline->build_start_when_named(x.cwd, "daemon",
                                          clock_.wall_ns(b.started_boot_ns ? b.started_boot_ns : x.boot_ns),
                                          BT_ENV_TRIES);
}

void Builds::deliver(Build& b, const ebpf::Record& r) {
  enrich::Pipeline& p = *b.job->pipeline;
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
  if (!b.job && r.kind == BT_EXEC) {
    start_pipeline(b, r);
    for (const auto& held : b.held) deliver(b, held);
    b.held.clear();
  }
  if (b.job) {
    deliver(b, r);
  } else if (r.kind != BT_EXIT) {
    if (b.held.size() < kMaxHeld) b.held.push_back(r);
    else ++b.dropped_while_held;
  }
  if (r.kind != BT_EXIT) return;
  if (b.live > 0) --b.live;
  if (r.tgid == r.build.root_tgid) {
    b.root_exited = true;
    if (b.job && !b.job->begun && !b.job->ended) {
      const ExitStatus x = exit_status(r.exit_code);
      b.job->pipeline->build_end(x.code, x.signal);
      b.job->ended = true;
    }
  }
  // A build that never exec'd (a runner's helper fork) leaves no trail.
  if (b.root_exited && b.live == 0) forget(r.build);
}

void Builds::forget(const ebpf::BuildKey& key) {
  auto it = builds_.find(key);
  if (it == builds_.end()) return;
  if (const auto& job = it->second->job; job && --job->builds == 0) job->idle_since_ns = clock::monotonic_ns();
  builds_.erase(it);
}

job::Reply Builds::begin_job(const ebpf::BuildKey& caller, const job::Request& request) {
  auto it = builds_.find(caller);
  if (it == builds_.end() || !it->second->job) return {false, "the caller's build has not started yet"};
  const std::shared_ptr<Job> job = it->second->job;
  if (job->ended) return {false, "the caller's build has already ended"};
  events::Build who = attribution::from_environment(request.env, base_.envelope.host);
  if (!request.id.empty()) {
    who.id = request.id;
    if (who.ci.empty()) who.ci = "generic";
  }
  const events::Build& known = job->pipeline->build();
  if (who.ci.empty()) who = known;
  if (who.ci.empty()) return {false, "no CI job is known for the caller: no CI variables in its environment and no --id"};
  // What the runner's environment said stands: a process of the build must
  // not move its events under another job's name.
  if (!known.ci.empty() && !same_job(known, who))
    return {false, "the caller's build is " + describe(known) + "; `job begin` does not rename it"};
  if (known.ci.empty()) job->pipeline->attribute_late(who);
  if (!job->begun) {
    job->begun = true;
    open_jobs_.push_back(job);
  }
  return {true, "job " + describe(who) + " begun (runner pid " + std::to_string(job->runner) + ")"};
}

job::Reply Builds::end_job(const ebpf::BuildKey& caller, const job::Request& request) {
  auto it = builds_.find(caller);
  if (it == builds_.end() || !it->second->job) return {false, "the caller's build has not started yet"};
  // Only the caller's own job: one job's hook cannot end another's.
  const std::shared_ptr<Job> job = it->second->job;
  if (!job->begun || job->ended) return {false, "no job was begun for the caller's build (`job begin` first)"};
  if (!request.id.empty() && request.id != job->pipeline->build().id)
    return {false, "the caller's job is " + describe(job->pipeline->build()) + ", not " + request.id};
  job->pipeline->build_end(request.status ? *request.status : -1, 0);
  job->ended = true;
  std::erase(open_jobs_, job);
  return {true, "job " + describe(job->pipeline->build()) + " ended"};
}

void Builds::expire_jobs() {
  const uint64_t now = clock::monotonic_ns();
  std::erase_if(open_jobs_, [&](const std::shared_ptr<Job>& j) {
    if (j->builds > 0 || now - j->idle_since_ns < job_idle_ns_) return false;
    log::info("daemon", "job " + describe(j->pipeline->build()) + " ended: no process of it left, and no `job end`");
    j->pipeline->build_end(-1, 0);
    j->ended = true;
    return true;
  });
}

void Builds::end_all() {
  for (auto& [key, b] : builds_)
    if (b->job && !b->job->ended) {
      b->job->pipeline->build_end(-1, 0);
      b->job->ended = true;
    }
  for (auto& j : open_jobs_)
    if (!j->ended) j->pipeline->build_end(-1, 0);
  open_jobs_.clear();
  builds_.clear();
}

}  // namespace bt::agent::daemon

#include "agent/cmd/daemon.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "agent/runtime/agent.h"
#include "agent/runtime/events_out.h"
#include "agent/enrich/rules/attribution.h"
#include "agent/route/builds.h"
#include "agent/route/job_socket.h"
#include "agent/runtime/privileges.h"
#include "agent/route/daemon_runners.h"
#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/sensor.h"
#include "agent/enrich/pipeline.h"
#include "agent/capture/proc/procfs.h"
#include "common/clock.h"
#include "common/log.h"

namespace bt::agent::daemon {

namespace {

int fail(const std::string& message, int status) {
  std::fprintf(stderr, "buildtrail-agent daemon: %s\n", message.c_str());
  return status;
}

std::vector<cli::Option> daemon_options() {
  auto options = config::options();
  options.push_back({"events-out", true, "also append every event to FILE as JSON lines"});
  options.push_back({"record-all", false, "record every process on the host, not only builds"});
  options.push_back({"runner", true, "another CI runner rule ci:task-name[:argv-substring[:cgroup-substring]]; repeatable"});
  options.push_back({"help", false, "show this help"});
  return options;
}

// The kernel's loss counters, reported as deltas once a second.
class KernelLoss {
 public:
  void report(const ebpf::Sensor& sensor, transport::batcher::EventQueue& queue, uint64_t now_ns) {
    const auto totals = sensor.loss();
    for (int i = 0; i < BT_LOSS_MAX; ++i) {
      const uint64_t delta = totals[i] - reported_[i];
      if (delta == 0) continue;
      queue.add_loss(std::string(ebpf::loss_reason(i)), delta, now_ns, now_ns);
      log::warn("daemon", std::to_string(delta) + " records lost in the kernel (" +
                              std::string(ebpf::loss_reason(i)) + ")");
      reported_[i] = totals[i];
    }
  }

 private:
  std::array<uint64_t, BT_LOSS_MAX> reported_{};
};

void register_runner(ebpf::Sensor& sensor, uint32_t pid, const RunnerRule& rule) {
  if (Status s = sensor.add_runner(pid); !s) {
    log::warn("daemon", "runner " + std::to_string(pid) + ": " + s.error().message);
    return;
  }
  log::info("daemon", "tracking runner pid " + std::to_string(pid) + " (" + rule.ci + ": " + rule.comm + ")");
}

// The capture thread: the kernel's records through one pipeline per build
// into the agent's queue, until the agent stops.
// A `job begin|end` from process `peer`: about the build it is in.
job::Reply answer_job(Builds& builds, const ebpf::Sensor& sensor, const job::Request& request,
                      const JobSocket::Peer& peer) {
  const auto key = sensor.build_of(peer.pid);
  job::Reply reply =
      !key ? job::Reply{false, "process " + std::to_string(peer.pid) + " is not in a build this daemon records"}
      : request.op == job::Op::kBegin ? builds.begin_job(*key, request)
                                      : builds.end_job(*key, request);
  log::info("daemon", "job " + std::string(request.op == job::Op::kBegin ? "begin" : "end") + " from pid " +
                          std::to_string(peer.pid) + " (uid " + std::to_string(peer.uid) + "): " + reply.message);
  return reply;
}

void capture(core::Agent& a, ebpf::Sensor& sensor, const std::vector<RunnerRule>& rules,
             const enrich::Config& ec, uint64_t job_idle_s, JobSocket* jobs, core::EventsOut& events_out) {
  Builds builds(ec, [&](events::Event&& e) {
    events_out.write(e);
    // The kernel's ring buffer is the burst buffer: while the queue is
    // full the ring fills, and what it cannot hold is counted there.
    while (!a.queue().try_push(e)) {
      if (a.stop_requested()) {
        a.queue().push(std::move(e));  // counted as queue_full if still full
        break;
      }
      a.wake();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }, job_idle_s * 1000000000ull);
  const ebpf::Sensor::RecordHandler on_record = [&](std::span<const uint8_t> bytes) {
    auto r = ebpf::decode(bytes);
    if (!r) {
      log::warn("daemon", r.error().message);
      a.queue().add_loss("malformed_record", 1, clock::now_ns(), clock::now_ns());
    } else if (r->kind != BT_RUNNER) {
      builds.on_record(*r);
    } else if (r->flags & BT_F_RUNNER_CONFIRMED) {
      log::info("daemon", "tracking runner pid " + std::to_string(r->tgid) + " (by its name)");
    } else if (auto rule = match_runner(rules, r->tgid)) {
      register_runner(sensor, r->tgid, *rule);
    }
  };
  KernelLoss loss;
  auto last_loss_check = std::chrono::steady_clock::now();
  while (!a.stop_requested()) {
    builds.refresh_clock();
    auto n = sensor.poll(100, on_record);
    if (!n) {
      log::error("daemon", n.error().message);
      break;
    }
    if (jobs) {
      // The caller waits, so whatever it did before asking is in the ring.
      jobs->answer([&](const job::Request& request, const JobSocket::Peer& peer) {
        if (auto drained = sensor.poll(0, on_record); !drained) log::error("daemon", drained.error().message);
        return answer_job(builds, sensor, request, peer);
      });
    }
    if (std::chrono::steady_clock::now() - last_loss_check >= std::chrono::seconds(1)) {
      builds.expire_jobs();
      loss.report(sensor, a.queue(), clock::now_ns());
      events_out.flush();
      last_loss_check = std::chrono::steady_clock::now();
    }
  }
  // What the kernel wrote before the stop.
  if (auto last = sensor.poll(0, on_record); !last) log::error("daemon", last.error().message);
  loss.report(sensor, a.queue(), clock::now_ns());
  builds.end_all();
  a.wake();
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = daemon_options();
  auto args = cli::parse(argc, argv, 2, options);
  if (!args) return fail(args.error().message, 2);
  if (args->has("help")) {
    std::printf("usage: buildtrail-agent daemon [options]\n%s", cli::usage(options).c_str());
    return 0;
  }
  if (!args->positionals.empty()) return fail("unexpected argument '" + args->positionals[0] + "'", 2);
  auto cfg = config::load(*args);
  if (!cfg) return fail(cfg.error().message, 2);

  std::vector<RunnerRule> rules = default_runners();
  std::string extra = cfg->daemon_runners;
  for (const auto& r : args->all("runner")) extra += "," + r;
  auto more = parse_runners(extra);
  if (!more) return fail(more.error().message, 2);
  rules.insert(rules.end(), more->begin(), more->end());

  enrich::Config ec;
  if (Status s = enrich::configure_rules(*cfg, {}, &ec); !s) return fail(s.error().message, 2);

  ebpf::Options so;
  so.record_all = args->has("record-all");
  so.btf_file = cfg->ebpf_btf_file;
  if (cfg->ebpf_ring_kb > (1u << 21)) return fail("ebpf.ring_kb: at most 2097152 (2 GiB)", 2);
  so.ring_bytes = static_cast<uint32_t>(cfg->ebpf_ring_kb * 1024);
  so.filter = ebpf::compile_filter(ec.secret_rules);
  so.runner_comms = runner_comms(rules);
  so.env_allow = attribution::identity_variables();
  if (Status s = ebpf::check_kernel(so); !s)
    return fail(s.error().message, s.error().code == ErrorCode::kInvalidArgument ? 2 : 1);

  auto agent = core::Agent::create(*cfg, "daemon");
  if (!agent) return fail(agent.error().message, 1);
  ec.envelope = (*agent)->envelope();
  ec.self_pid = static_cast<uint64_t>(::getpid());
  ec.envelope.process.key = enrich::process_key(ec.self_pid, procfs::start_time_ns(::getpid()));

  core::EventsOut events_out;
  if (Status s = events_out.open(args->get("events-out")); !s) return fail(s.error().message, 2);

  auto sensor = ebpf::Sensor::start(so);
  if (!sensor) return fail(sensor.error().message, 1);
  // Hooks sharpen job boundaries; attribution does not depend on them.
  auto jobs = JobSocket::open(cfg->daemon_socket);
  if (!jobs) log::warn("daemon", jobs.error().message + "; `job begin|end` will not reach this daemon");
  if (Status s = drop_privileges(); !s) return fail(s.error().message, 1);
  log::info("daemon", std::string("sensor attached (system calls by ") +
                          ((*sensor)->per_syscall() ? "per-call tracepoints" : "the raw sys_exit tracepoint") +
                          "); capabilities now " + effective_capabilities());
  for (const auto& [pid, rule] : find_runners(rules)) register_runner(**sensor, pid, rule);

  JobSocket* job_socket = jobs ? jobs->get() : nullptr;
  const int delivery = (*agent)->run(
      [&](core::Agent& a) { capture(a, **sensor, rules, ec, cfg->daemon_job_idle_s, job_socket, events_out); });
  if (jobs) jobs->reset();
  sensor->reset();  // detaches every program
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  log::info("daemon", "detached from the kernel; peak RSS " + std::to_string(ru.ru_maxrss) + " KiB");
  if (delivery != 0) log::warn("daemon", "some events are still in the spool; they are sent at the next start");
  return 0;
}

}  // namespace bt::agent::daemon

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/sensor.h"
#include "agent/cmd/commands.h"
#include "agent/enrich/pipeline.h"
#include "agent/enrich/rules/attribution.h"
#include "agent/enrich/rules/runners.h"
#include "agent/route/job_socket.h"
#include "agent/route/router.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/events_out.h"
#include "agent/runtime/privileges.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/overloaded.h"

namespace bt::agent::cmd {

namespace {

int fail(const std::string& message, int status) {
  cli::print_error("buildtrail-agent daemon", message);
  return status;
}

std::vector<cli::Option> daemon_options() {
  auto options = config::options();
  options.push_back({"events-out", true, "also append every event to FILE as JSON lines"});
  options.push_back({"record-all", false, "record every process on the host, not only builds"});
  options.push_back({"runner", true, "another CI runner rule ci:name[:argument[:cgroup-substring]]; repeatable"});
  options.push_back({"help", false, "show this help"});
  return options;
}

// The kernel's loss counters, reported as deltas once a second.
class KernelLoss {
 public:
  void report(const ebpf::Sensor& sensor, transport::batcher::EventQueue& queue) {
    const auto totals = sensor.loss();
    const uint64_t now = clock::now_ns();
    for (int i = 0; i < BT_LOSS_MAX; ++i) {
      const uint64_t delta = totals[i] - reported_[i];
      if (delta == 0) continue;
      queue.add_loss(std::string(ebpf::loss_reason(i)), delta, now, now);
      log::warn("daemon",
                std::to_string(delta) + " records lost in the kernel (" + std::string(ebpf::loss_reason(i)) + ")");
      reported_[i] = totals[i];
    }
  }

 private:
  std::array<uint64_t, BT_LOSS_MAX> reported_{};
};

// The kernel matches runners at exec by name and argument, so a runner's
// first children are builds; a rule that needs a cgroup is confirmed from
// /proc.
std::vector<ebpf::RunnerComm> runner_comms(const std::vector<attribution::RunnerRule>& rules) {
  std::vector<ebpf::RunnerComm> out;
  for (const auto& t : attribution::task_names(rules)) out.push_back({t.name, t.decides, t.arguments, t.ask});
  return out;
}

void register_runner(ebpf::Sensor& sensor, uint32_t pid, const attribution::RunnerRule& rule) {
  if (Status s = sensor.add_runner(pid); !s) {
    log::warn("daemon", "runner " + std::to_string(pid) + ": " + s.error().message);
    return;
  }
  log::info("daemon", "tracking runner pid " + std::to_string(pid) + " (" + rule.ci + ": " + rule.name + ")");
}

// A `job begin|end` from process `peer`: about the build it is in.
job::Reply answer_job(route::Router& router, const ebpf::Sensor& sensor, const job::Request& request,
                      const route::JobSocket::Peer& peer) {
  const auto key = sensor.build_of(peer.pid);
  job::Reply reply =
      !key ? job::Reply{false, "process " + std::to_string(peer.pid) + " is not in a build this daemon records"}
      : request.op == job::Op::kBegin ? router.begin_job(*key, request)
                                      : router.end_job(*key, request);
  log::info("daemon", "job " + std::string(request.op == job::Op::kBegin ? "begin" : "end") + " from pid " +
                          std::to_string(peer.pid) + " (uid " + std::to_string(peer.uid) + "): " + reply.message);
  return reply;
}

struct Wiring {
  ebpf::Sensor& sensor;
  const std::vector<attribution::RunnerRule>& runners;
  const enrich::Config& enrich;
  uint64_t job_idle_s = 0;
  route::JobSocket* jobs = nullptr;
  runtime::EventsOut& events_out;
};

// The capture thread: the kernel's records through the router (one
// pipeline per build) into the agent's queue, until the agent stops.
void capture(runtime::Agent& a, const Wiring& w) {
  route::Router router(
      w.enrich,
      [&](events::Event&& e) {
        w.events_out.write(e);
        a.push_waiting(std::move(e));
      },
      route::Options{"daemon", w.job_idle_s * 1000000000ull,
                     [](uint64_t pid) { return attribution::identity_environment_of(pid); }});
  ebpf::Clock clock;
  // Builds whose first process exited: their writes are forgotten in the
  // kernel once the records before that exit were read.
  std::vector<capture::BuildKey> finished;
  const ebpf::Sensor::RecordHandler on_record = [&](std::span<const uint8_t> bytes) {
    auto r = ebpf::decode(bytes, clock);
    if (!r) {
      log::warn("daemon", r.error().message);
      a.queue().add_loss("malformed_record", 1, clock::now_ns(), clock::now_ns());
      return;
    }
    std::visit(Overloaded{
                   [&](const ebpf::Observed& o) {
                     router.on(o.what, o.where);
                     if (const auto* x = std::get_if<capture::Exit>(&o.what); x && x->pid == o.where.build.root_pid)
                       finished.push_back(o.where.build);
                   },
                   [&](const ebpf::RunnerExec& x) {
                     if (x.confirmed)
                       log::info("daemon", "tracking runner pid " + std::to_string(x.pid) + " (matched in the kernel)");
                     else if (const auto* rule = attribution::match_runner(w.runners, x.pid))
                       register_runner(w.sensor, x.pid, *rule);
                   },
                   [](const ebpf::Nothing&) {},
               },
               *r);
  };
  KernelLoss loss;
  auto last_loss_check = std::chrono::steady_clock::now();
  while (!a.stop_requested()) {
    clock.refresh();
    auto n = w.sensor.poll(100, on_record);
    if (!n) {
      log::error("daemon", n.error().message);
      break;
    }
    w.sensor.forget_writes(finished);
    finished.clear();
    if (w.jobs) {
      // The caller waits, so whatever it did before asking is in the ring.
      w.jobs->answer([&](const job::Request& request, const route::JobSocket::Peer& peer) {
        if (auto drained = w.sensor.poll(0, on_record); !drained) log::error("daemon", drained.error().message);
        return answer_job(router, w.sensor, request, peer);
      });
    }
    if (std::chrono::steady_clock::now() - last_loss_check >= std::chrono::seconds(1)) {
      router.expire_jobs();
      loss.report(w.sensor, a.queue());
      w.events_out.flush();
      last_loss_check = std::chrono::steady_clock::now();
    }
  }
  // What the kernel wrote before the stop.
  if (auto last = w.sensor.poll(0, on_record); !last) log::error("daemon", last.error().message);
  loss.report(w.sensor, a.queue());
  router.end_all();
  a.wake();
}

}  // namespace

int daemon(int argc, char** argv) {
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

  std::string extra = cfg->daemon_runners;
  for (const auto& r : args->all("runner")) extra += "," + r;
  auto more = attribution::parse_runners(extra);
  if (!more) return fail(more.error().message, 2);
  const std::vector<attribution::RunnerRule> runners = attribution::build_runners(*more);

  enrich::Config ec;
  if (Status s = enrich::configure_rules(
          {cfg->secret_rules_file, cfg->metadata_endpoints, {}, cfg->watch_rules_file, cfg->watch_workspace}, &ec);
      !s)
    return fail(s.error().message, 2);

  ebpf::Options so;
  so.record_all = args->has("record-all");
  so.btf_file = cfg->ebpf_btf_file;
  if (cfg->ebpf_ring_kb > (1u << 21)) return fail("ebpf.ring_kb: at most 2097152 (2 GiB)", 2);
  so.ring_bytes = static_cast<uint32_t>(cfg->ebpf_ring_kb * 1024);
  so.filter = ebpf::compile_filter(secrets::patterns(ec.secret_rules));
  so.watch = ebpf::compile_watch_filter(watch::patterns(ec.watch_rules, ec.workspace_watch));
  so.runner_comms = runner_comms(runners);
  so.env_allow = attribution::identity_variables();
  if (Status s = ebpf::check_kernel(so); !s)
    return fail(s.error().message, s.error().code == ErrorCode::kInvalidArgument ? 2 : 1);

  auto agent = runtime::Agent::create(*cfg, "daemon");
  if (!agent) return fail(agent.error().message, 1);
  enrich::set_agent((*agent)->envelope(), &ec);

  runtime::EventsOut events_out;
  if (Status s = events_out.open(args->get("events-out")); !s) return fail(s.error().message, 2);

  auto sensor = ebpf::Sensor::start(so);
  if (!sensor) return fail(sensor.error().message, 1);
  // Hooks sharpen job boundaries; attribution does not depend on them.
  auto jobs = route::JobSocket::open(cfg->daemon_socket);
  if (!jobs) log::warn("daemon", jobs.error().message + "; `job begin|end` will not reach this daemon");
  if (Status s = runtime::drop_privileges(); !s) return fail(s.error().message, 1);
  log::info("daemon", std::string("sensor attached (system calls by ") +
                          ((*sensor)->per_syscall() ? "per-call tracepoints" : "the raw sys_exit tracepoint") +
                          "); capabilities now " + runtime::effective_capabilities());
  for (const auto& [pid, rule] : attribution::find_runners(runners)) register_runner(**sensor, pid, *rule);

  // An interpreter's script: its writer from the kernel's map of the
  // build's writes (the kernel looks up only the executable itself).
  ec.kernel_writer = [s = sensor->get(), clock = ebpf::Clock()](const std::string& path, uint64_t pid) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::string();
    const auto w = s->writer_of(st.st_dev, st.st_ino);
    if (!w) return std::string();
    const auto build = s->build_of(static_cast<uint32_t>(pid));
    if (build && (build->root_pid != w->root_tgid || build->root_start_ns != w->root_start_ns)) return std::string();
    return enrich::process_key(w->tgid, clock.start_ns(w->start_ns));
  };
  const Wiring wiring{**sensor, runners, ec, cfg->daemon_job_idle_s, jobs ? jobs->get() : nullptr, events_out};
  const int delivery = (*agent)->run([&](runtime::Agent& a) { capture(a, wiring); });
  if (jobs) jobs->reset();
  sensor->reset();  // detaches every program
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  log::info("daemon", "detached from the kernel; peak RSS " + std::to_string(ru.ru_maxrss) + " KiB");
  if (delivery != 0) log::warn("daemon", "some events are still in the spool; they are sent at the next start");
  return 0;
}

}  // namespace bt::agent::cmd

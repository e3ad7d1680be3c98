#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/tracer.h"
#include "agent/cmd/commands.h"
#include "agent/enrich/pipeline.h"
#include "agent/enrich/rules/attribution.h"
#include "agent/enrich/rules/runners.h"
#include "agent/route/lineage.h"
#include "agent/route/router.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/events_out.h"
#include "common/log.h"

namespace bt::agent::cmd {

namespace {

constexpr int kSetupFailed = 125;
constexpr int kNotFound = 127;

int fail(const std::string& message, int status) {
  cli::print_error("buildtrail-agent run", message);
  return status;
}

int status_of(const wrap::Outcome& o) {
  return o.signal ? 128 + static_cast<int>(o.signal) : static_cast<int>(o.exit_code);
}

std::vector<cli::Option> run_options() {
  auto options = config::options();
  options.push_back({"events-out", true, "also append every event to FILE as JSON lines"});
  options.push_back(
      {"allow-unmonitored", false, "run the command even when capture cannot be set up (recorded as unmonitored)"});
  options.push_back(
      {"linger-s", true, "seconds to keep tracing descendants after the command exits, then kill them (default 30)"});
  options.push_back(
      {"session", false, "wrap a whole CI runner service: each job its runner starts is a build of its own"});
  options.push_back({"metadata-endpoint", true, "another cloud metadata endpoint (host or IP); repeatable"});
  options.push_back({"help", false, "show this help"});
  return options;
}

void log_outcome(const wrap::Outcome& outcome) {
  if (outcome.foreign_abi_syscalls)
    log::warn("run", std::to_string(outcome.foreign_abi_syscalls) + " system calls of a 32-bit ABI were not decoded");
  log::debug("run", std::to_string(outcome.notifications) + " opens and connects answered by seccomp notification");
  if (outcome.killed_after_linger)
    log::warn("run", std::to_string(outcome.killed_after_linger) +
                         " process(es) still running after the linger time were killed");
}

// What the capture thread does: the command under the tracer, its
// observations through one pipeline (or, with --session, through the
// router: one per job its runners start).
struct Capture {
  const std::vector<std::string>& command;
  const wrap::Options& options;
  const enrich::Config& enrich;
  std::vector<attribution::RunnerRule> runners;  // --session: whose children are jobs
  bool session = false;
  bool allow_unmonitored = false;
  std::atomic<pid_t>& build_pid;
  std::string cwd;
  int status = 0;
  std::string setup_error;

  void operator()(const enrich::Pipeline::Sink& sink) {
    enrich::Pipeline pipeline(enrich, sink);
    std::unique_ptr<route::Router> router;
    std::unique_ptr<route::Lineage> lineage;
    if (session) {
      router = std::make_unique<route::Router>(
          enrich, sink,
          route::Options{"wrap", 0, [](uint64_t pid) { return attribution::identity_environment_of(pid); }});
      lineage = std::make_unique<route::Lineage>(*router, runners);
    }
    auto tracer = wrap::Tracer::start(options, lineage ? static_cast<capture::Sink&>(*lineage) : pipeline);
    if (!tracer) return not_traced(pipeline, tracer.error());
    if (!router) pipeline.build_start(command, cwd, "wrap");
    build_pid = (*tracer)->main_pid();
    const wrap::Outcome outcome = (*tracer)->trace();
    build_pid = 0;
    log_outcome(outcome);
    status = status_of(outcome);
    if (router) {
      router->end_all();
      log::info("run", "session: " + std::to_string(router->jobs_started()) + " job(s) recorded");
    } else {
      pipeline.build_end(outcome.exit_code, outcome.signal);
    }
  }

  // Capture could not start: the command does not exist, or is run
  // unmonitored (when allowed), or not at all.
  void not_traced(enrich::Pipeline& pipeline, const Error& error) {
    if (error.code == ErrorCode::kNotFound) {
      setup_error = error.message;
      status = kNotFound;
      pipeline.build_start(command, cwd, "wrap");
      pipeline.build_end(kNotFound, 0);
      return;
    }
    if (!allow_unmonitored) {
      setup_error = error.message + " (the command was not run; --allow-unmonitored runs it anyway)";
      status = kSetupFailed;
      return;
    }
    log::warn("run", "capture unavailable (" + error.message + "); running unmonitored");
    pipeline.build_start(command, cwd, "unmonitored");
    auto o = wrap::run_unmonitored(command);
    status = o ? status_of(*o) : kSetupFailed;
    pipeline.build_end(o ? o->exit_code : -1, o ? o->signal : 0);
  }
};

}  // namespace

int run(int argc, char** argv) {
  const auto options = run_options();
  auto args = cli::parse(argc, argv, 2, options);
  if (!args) return fail(args.error().message, 2);
  if (args->has("help") || args->after_dashdash.empty()) {
    std::fprintf(args->has("help") ? stdout : stderr, "usage: buildtrail-agent run [options] -- COMMAND [ARG...]\n%s",
                 cli::usage(options).c_str());
    return args->has("help") ? 0 : 2;
  }
  if (!args->positionals.empty())
    return fail("unexpected argument '" + args->positionals[0] + "' (put the command after --)", 2);
  auto cfg = config::load(*args);
  if (!cfg) return fail(cfg.error().message, 2);
  const std::vector<std::string> command = args->after_dashdash;
  auto runners = attribution::parse_runners(cfg->daemon_runners);
  if (!runners) return fail(runners.error().message, 2);

  // The tracer waits on SIGCHLD: blocked before any thread starts, so every
  // thread inherits the mask and the signal stays pending for the tracer.
  wrap::block_sigchld();
  auto agent = runtime::Agent::create(*cfg, "run");
  if (!agent) {
    if (!args->has("allow-unmonitored"))
      return fail("cannot start recording: " + agent.error().message +
                      " (the command was not run; --allow-unmonitored runs it anyway)",
                  kSetupFailed);
    log::warn("run", "not recording: " + agent.error().message + "; running the command unmonitored");
    auto o = wrap::run_unmonitored(command);
    return o ? status_of(*o) : fail(o.error().message, kSetupFailed);
  }
  runtime::EventsOut events_out;
  if (Status s = events_out.open(args->get("events-out")); !s) return fail(s.error().message, 2);

  enrich::Config ec;
  enrich::set_agent((*agent)->envelope(), &ec);
  ec.build = attribution::from_environment(attribution::current_environment(), ec.envelope.host);
  if (Status s = enrich::configure_rules({cfg->secret_rules_file, cfg->metadata_endpoints,
                                          args->all("metadata-endpoint"), cfg->watch_rules_file, cfg->watch_workspace},
                                         &ec);
      !s)
    return fail(s.error().message, 2);

  wrap::Options wo;
  wo.command = command;
  wo.ptrace_tree = cfg->wrap_tree == "ptrace";
  if (args->has("linger-s"))
    wo.linger = std::chrono::seconds(std::strtoull(args->get("linger-s").c_str(), nullptr, 10));

  std::atomic<pid_t> build_pid{0};
  (*agent)->forward_signals([&](int sig) {
    if (const pid_t p = build_pid.load(); p > 0) ::kill(p, sig);
  });
  Capture capture{command,
                  wo,
                  ec,
                  attribution::build_runners(*runners),
                  args->has("session"),
                  args->has("allow-unmonitored"),
                  build_pid,
                  procfs::read_link("/proc/self/cwd"),
                  0,
                  {}};
  const int delivery = (*agent)->run([&](runtime::Agent& a) {
    capture([&](events::Event&& e) {
      events_out.write(e);
      a.push_waiting(std::move(e));
    });
  });
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  log::debug("run", "peak RSS " + std::to_string(ru.ru_maxrss) + " KiB");
  if (!capture.setup_error.empty()) fail(capture.setup_error, capture.status);
  if (delivery != 0)
    log::warn("run", "some events are still in the spool; `buildtrail-agent flush` or the next run sends them");
  return capture.status;
}

}  // namespace bt::agent::cmd

#include "agent/cmd/run.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "agent/enrich/rules/attribution.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/events_out.h"
#include "agent/enrich/pipeline.h"
#include "agent/route/session.h"
#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/tracer.h"
#include "common/events/json.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::run {

namespace {

constexpr int kSetupFailed = 125;
constexpr int kNotFound = 127;

int fail(const std::string& message, int status) {
  std::fprintf(stderr, "buildtrail-agent run: %s\n", message.c_str());
  return status;
}

int status_of(const wrap::Outcome& o) {
  return o.signal ? 128 + static_cast<int>(o.signal) : static_cast<int>(o.exit_code);
}

// Events go to the agent's queue, waiting while it is full: in wrap mode a
// slow collector slows the build down rather than losing its trail.
void push_waiting(core::Agent& agent, events::Event& e) {
  while (!agent.queue().try_push(e)) {
    agent.wake();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

std::vector<cli::Option> run_options() {
  auto options = config::options();
  options.push_back({"events-out", true, "also append every event to FILE as JSON lines"});
  options.push_back({"allow-unmonitored", false,
                     "run the command even when capture cannot be set up (recorded as unmonitored)"});
  options.push_back({"linger-s", true,
                     "seconds to keep tracing descendants after the command exits, then kill them (default 30)"});
  options.push_back({"session", false,
                     "wrap a whole CI runner service: each job its runner starts is a build of its own"});
  options.push_back({"metadata-endpoint", true,
                     "another cloud metadata endpoint (host or IP); repeatable"});
  options.push_back({"help", false, "show this help"});
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = run_options();
  auto args = cli::parse(argc, argv, 2, options);
  if (!args) return fail(args.error().message, 2);
  if (args->has("help") || args->after_dashdash.empty()) {
    std::fprintf(args->has("help") ? stdout : stderr,
                 "usage: buildtrail-agent run [options] -- COMMAND [ARG...]\n%s",
                 cli::usage(options).c_str());
    return args->has("help") ? 0 : 2;
  }
  if (!args->positionals.empty())
    return fail("unexpected argument '" + args->positionals[0] + "' (put the command after --)", 2);
  auto cfg = config::load(*args);
  if (!cfg) return fail(cfg.error().message, 2);
  const std::vector<std::string> command = args->after_dashdash;
  const bool allow_unmonitored = args->has("allow-unmonitored");
  const bool session_mode = args->has("session");

  // The tracer waits on SIGCHLD: blocked before any thread starts, so every
  // thread inherits the mask and the signal stays pending for the tracer.
  wrap::block_sigchld();
  auto agent = core::Agent::create(*cfg, "run");
  if (!agent) {
    if (!allow_unmonitored)
      return fail("cannot start recording: " + agent.error().message +
                      " (the command was not run; --allow-unmonitored runs it anyway)",
                  kSetupFailed);
    log::warn("run", "not recording: " + agent.error().message + "; running the command unmonitored");
    auto o = wrap::run_unmonitored(command);
    return o ? status_of(*o) : fail(o.error().message, kSetupFailed);
  }
  core::EventsOut events_out;
  if (Status s = events_out.open(args->get("events-out")); !s) return fail(s.error().message, 2);

  enrich::Config ec;
  ec.envelope = (*agent)->envelope();
  ec.self_pid = static_cast<uint64_t>(::getpid());
  ec.envelope.process.key = enrich::process_key(ec.self_pid, procfs::start_time_ns(::getpid()));
  ec.build = attribution::from_environment(attribution::current_environment(), ec.envelope.host);
  if (Status s = enrich::configure_rules(*cfg, args->all("metadata-endpoint"), &ec); !s)
    return fail(s.error().message, 2);

  wrap::Options wo;
  wo.command = command;
  // Troubleshooting: the older capture, every process ptraced throughout.
  if (const char* tree = std::getenv("BUILDTRAIL_WRAP_TREE")) wo.ptrace_tree = std::string_view(tree) == "ptrace";
  if (args->has("linger-s"))
    wo.linger = std::chrono::seconds(std::strtoull(args->get("linger-s").c_str(), nullptr, 10));

  std::atomic<pid_t> build_pid{0};
  (*agent)->forward_signals([&](int sig) {
    if (const pid_t p = build_pid.load(); p > 0) ::kill(p, sig);
  });
  int status = 0;
  std::string setup_error;
  const std::string cwd = procfs::read_link("/proc/self/cwd");
  const int delivery = (*agent)->run([&](core::Agent& a) {
    const enrich::Pipeline::Sink sink = [&](events::Event&& e) {
      events_out.write(e);
      push_waiting(a, e);
    };
    enrich::Pipeline pipeline(ec, sink);
    std::unique_ptr<session::Router> router;
    if (session_mode)
      router = std::make_unique<session::Router>(ec, sink, [](uint64_t pid) { return attribution::identity_environment_of(pid); });
    auto tracer = wrap::Tracer::start(wo, router ? static_cast<capture::Observer&>(*router) : pipeline);
    if (!tracer) {
      if (tracer.error().code == ErrorCode::kNotFound) {
        setup_error = tracer.error().message;
        status = kNotFound;
        pipeline.build_start(command, cwd, "wrap");
        pipeline.build_end(kNotFound, 0);
        return;
      }
      if (!allow_unmonitored) {
        setup_error = tracer.error().message + " (the command was not run; --allow-unmonitored runs it anyway)";
        status = kSetupFailed;
        return;
      }
      log::warn("run", "capture unavailable (" + tracer.error().message + "); running unmonitored");
      pipeline.build_start(command, cwd, "unmonitored");
      auto o = wrap::run_unmonitored(command);
      status = o ? status_of(*o) : kSetupFailed;
      pipeline.build_end(o ? o->exit_code : -1, o ? o->signal : 0);
      return;
    }
    if (!router) pipeline.build_start(command, cwd, "wrap");
    build_pid = (*tracer)->main_pid();
    const wrap::Outcome outcome = (*tracer)->trace();
    build_pid = 0;
    if (outcome.foreign_abi_syscalls)
      log::warn("run", std::to_string(outcome.foreign_abi_syscalls) +
                           " system calls of a 32-bit ABI were not decoded");
    log::debug("run", std::to_string(outcome.notifications) + " opens and connects answered by seccomp notification");
    if (outcome.killed_after_linger)
      log::warn("run", std::to_string(outcome.killed_after_linger) +
                           " process(es) still running after the linger time were killed");
    status = status_of(outcome);
    if (router) {
      router->end_all();
      log::info("run", "session: " + std::to_string(router->jobs_started()) + " job(s) recorded");
    } else {
      pipeline.build_end(outcome.exit_code, outcome.signal);
    }
  });
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  log::debug("run", "peak RSS " + std::to_string(ru.ru_maxrss) + " KiB");
  if (!setup_error.empty()) fail(setup_error, status);
  if (delivery != 0)
    log::warn("run", "some events are still in the spool; `buildtrail-agent flush` or the next run sends them");
  return status;
}

}  // namespace bt::agent::run

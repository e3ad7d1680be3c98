#include "agent/route/session.h"

#include "agent/enrich/rules/runners.h"
#include "common/log.h"

namespace bt::agent::session {

namespace {

constexpr uint32_t kEnvironmentTries = 32;  // execs of a job read until one names it (as the daemon)

std::string_view file_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

struct Router::Job {
  uint64_t root = 0;
  uint64_t runner = 0;
  capture::Fork fork;  // the runner's fork of it, replayed once the pipeline exists
  std::unique_ptr<enrich::Pipeline> pipeline;
  uint32_t environment_tries = kEnvironmentTries;
  bool ended = false;
};

Router::Router(enrich::Config base, enrich::Pipeline::Sink sink, EnvironmentOf environment_of)
    : base_(std::move(base)),
      sink_(std::move(sink)),
      environment_of_(std::move(environment_of)),
      prototype_(base_, [](events::Event&&) {}) {}

Router::~Router() = default;

enrich::Pipeline* Router::pipeline_of(uint64_t pid) const {
  const auto it = job_of_.find(pid);
  return it == job_of_.end() ? nullptr : it->second->pipeline.get();
}

void Router::on_fork(const capture::Fork& f) {
  if (runners_.count(f.parent_pid)) {
    auto job = std::make_shared<Job>();
    job->root = f.child_pid;
    job->runner = f.parent_pid;
    job->fork = f;
    job_of_[f.child_pid] = std::move(job);
    return;
  }
  const auto parent = job_of_.find(f.parent_pid);
  if (parent == job_of_.end()) return;  // outside jobs
  job_of_[f.child_pid] = parent->second;
  if (auto* p = parent->second->pipeline.get()) p->on_fork(f);
}

// A job's pipeline, at its first exec: the job hangs from its runner.
void Router::start(Job& job, const capture::Exec& first) {
  enrich::Config c = enrich::runner_child_config(base_, job.runner);
  c.build = attribution::from_environment(environment_of_(first.pid), base_.envelope.host);
  job.pipeline = std::make_unique<enrich::Pipeline>(std::move(c), sink_);
  job.pipeline->build_start_when_named(first.cwd, "wrap", job.fork.time_ns, kEnvironmentTries);
  job.pipeline->on_fork(job.fork);
  ++jobs_started_;
}

void Router::on_exec(const capture::Exec& x) {
  const auto it = job_of_.find(x.pid);
  if (it == job_of_.end()) {
    // Outside jobs: is it (still) a runner whose children are jobs?
    const auto* known = attribution::match_known_runner(file_name(x.argv.empty() ? x.exe : x.argv[0]), x.exe, x.argv);
    if (known && known->starts_builds) {
      if (runners_.insert(x.pid).second)
        log::info("run", "session: runner pid " + std::to_string(x.pid) + " (" + std::string(known->ci) + ")");
    } else {
      runners_.erase(x.pid);
    }
    return;
  }
  Job& job = *it->second;
  if (!job.pipeline) {
    start(job, x);
  } else if (job.environment_tries > 0 && !job.pipeline->attributed()) {
    --job.environment_tries;
    events::Build late = attribution::from_environment(environment_of_(x.pid), base_.envelope.host);
    if (!late.ci.empty()) job.pipeline->attribute_late(std::move(late));
  }
  job.pipeline->on_exec(x);
}

void Router::on_exit(const capture::Exit& e) {
  runners_.erase(e.pid);
  const auto it = job_of_.find(e.pid);
  if (it == job_of_.end()) return;
  const std::shared_ptr<Job> job = it->second;
  job_of_.erase(it);
  if (!job->pipeline) return;  // a runner's fork that never exec'd leaves no trail
  job->pipeline->on_exit(e);
  if (e.pid == job->root && !job->ended) {
    job->pipeline->build_end(e.exit_code, e.signal);
    job->ended = true;
  }
}

void Router::on_open(const capture::Open& o) {
  if (auto* p = pipeline_of(o.pid)) p->on_open(o);
}
void Router::on_connect(const capture::Connect& c) {
  if (auto* p = pipeline_of(c.pid)) p->on_connect(c);
}
void Router::on_process_access(const capture::ProcessAccess& a) {
  if (auto* p = pipeline_of(a.pid)) p->on_process_access(a);
}
void Router::on_dns(const capture::Dns& d) {
  if (auto* p = pipeline_of(d.pid)) p->on_dns(d);
}

void Router::end_all() {
  for (auto& [pid, job] : job_of_)
    if (job->pipeline && !job->ended) {
      job->pipeline->build_end(-1, 0);
      job->ended = true;
    }
  job_of_.clear();
}

}  // namespace bt::agent::session

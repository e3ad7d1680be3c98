#include "agent/route/router.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/overloaded.h"

namespace bt::agent::route {

namespace {

constexpr std::size_t kMaxHeld = 1024;  // observations of a build waiting for its first exec

attribution::Environment environment_from(const std::vector<std::string>& entries) {
  attribution::Environment out;
  for (const auto& kv : entries) attribution::add_variable(out, kv);
  return out;
}

bool same_job(const events::Build& a, const events::Build& b) { return a.ci == b.ci && a.id == b.id && a.job == b.job; }

std::string describe(const events::Build& b) { return b.ci + " " + (b.job.empty() ? "" : b.job + " ") + b.id; }

}  // namespace

// One build record: build_start .. build_end, and the pipeline between.
struct Router::Job {
  uint64_t runner = 0;
  std::unique_ptr<enrich::Pipeline> pipeline;
  uint32_t identity_tries = capture::kIdentityExecs;  // execs left to name it by
  bool begun = false;  // by `job begin`: ends by `job end` or idleness, not with a process
  bool ended = false;
  std::size_t builds = 0;      // builds of it still followed
  uint64_t idle_since_ns = 0;  // monotonic, since `builds` fell to 0
};

// One process tree a runner forked (or the whole capture, for `run` and
// record-all): its job from its first exec on.
struct Router::Build {
  uint64_t runner = 0;
  uint64_t started_ns = 0;  // the runner's fork of it
  std::shared_ptr<Job> job;
  std::vector<capture::Observation> held;
  std::size_t live = 0;  // processes of the build not yet exited
  bool root_exited = false;
};

Router::Router(enrich::Config base, enrich::Pipeline::Sink sink, Options options)
    : base_(std::move(base)),
      sink_(std::move(sink)),
      options_(std::move(options)),
      prototype_(base_, [](events::Event&&) {}) {}

Router::~Router() = default;

Router::Build& Router::build_for(const capture::BuildKey& key) {
  auto& slot = builds_[key];
  if (!slot) slot = std::make_unique<Build>();
  return *slot;
}

void Router::on(const capture::Observation& o, const capture::InBuild& where) {
  Build& b = build_for(where.build);
  count_process(b, o, where);
  const auto* exec = std::get_if<capture::Exec>(&o);
  const auto* exit = std::get_if<capture::Exit>(&o);
  if (!b.job && exec) {
    start_job(b, *exec);  // attributed by this exec already
    for (const auto& held : b.held) deliver(b, held);
    b.held.clear();
    b.job->pipeline->on(o);
  } else if (b.job) {
    deliver(b, o);
  } else if (!exit && b.held.size() < kMaxHeld) {
    b.held.push_back(o);
  }
  if (exit) after_exit(b, *exit, where.build);
}

// A process of the build: forked in it, or joined it by exec (a process
// that entered the build's container).
void Router::count_process(Build& b, const capture::Observation& o, const capture::InBuild& where) {
  const auto* fork = std::get_if<capture::Fork>(&o);
  if (!fork && !(where.joined && std::holds_alternative<capture::Exec>(o))) return;
  ++b.live;
  if (fork && where.starts_build) {
    b.runner = fork->parent_pid;
    b.started_ns = fork->time_ns;
  }
}

attribution::Environment Router::identity_of(const capture::Exec& exec) const {
  if (exec.identity_env) return environment_from(*exec.identity_env);
  return options_.environment_of ? options_.environment_of(exec.pid) : attribution::Environment{};
}

// A job begun on `runner` that a new build of it belongs to: the one with
// the same identity, or, for a build not attributed yet (GitLab's later
// stages), the runner's only begun job.
std::shared_ptr<Router::Job> Router::open_job_for(uint64_t runner, const events::Build& who) const {
  if (!runner) return nullptr;
  std::vector<std::shared_ptr<Job>> on_runner;
  for (const auto& j : open_jobs_)
    if (j->runner == runner) on_runner.push_back(j);
  if (who.ci.empty()) return on_runner.size() == 1 ? on_runner.front() : nullptr;
  for (const auto& j : on_runner)
    if (same_job(j->pipeline->build(), who)) return j;
  return nullptr;
}

const Router::Job* Router::job_with_id(const std::string& id, const Job* except) const {
  auto has = [&](const Job* j) { return j && j != except && j->pipeline->build().id == id; };
  for (const auto& [key, b] : builds_)
    if (has(b->job.get())) return b->job.get();
  for (const auto& j : open_jobs_)
    if (has(j.get())) return j.get();
  return nullptr;
}

void Router::start_job(Build& b, const capture::Exec& first) {
  events::Build who = attribution::from_environment(identity_of(first), base_.envelope.host);
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
  // Later execs are read until one names the build: build_start waits as
  // long (GitLab's late binding).
  b.job->pipeline->build_start_when_named(first.cwd, options_.mode, b.started_ns ? b.started_ns : first.time_ns,
                                          capture::kIdentityExecs);
  ++jobs_started_;
}

void Router::deliver(Build& b, const capture::Observation& o) {
  if (const auto* exec = std::get_if<capture::Exec>(&o)) attribute_late(*b.job, *exec);
  b.job->pipeline->on(o);
}

// A build whose identity shows only in a later process's environment
// (GitLab's shell executor exports CI_* inside the job script).
void Router::attribute_late(Job& job, const capture::Exec& exec) {
  if (job.pipeline->attributed() || job.identity_tries == 0) return;
  --job.identity_tries;
  events::Build late = attribution::from_environment(identity_of(exec), base_.envelope.host);
  if (!late.ci.empty()) job.pipeline->attribute_late(std::move(late));
}

void Router::after_exit(Build& b, const capture::Exit& x, const capture::BuildKey& key) {
  if (b.live > 0) --b.live;
  if (x.pid == key.root_pid) {
    b.root_exited = true;
    if (b.job && !b.job->begun && !b.job->ended) end(*b.job, x.exit_code, x.signal);
  }
  // A build that never exec'd (a runner's helper fork) leaves no trail.
  if (b.root_exited && b.live == 0) forget(key);
}

void Router::end(Job& job, int64_t exit_code, int64_t signal) {
  job.pipeline->build_end(exit_code, signal);
  job.ended = true;
}

void Router::forget(const capture::BuildKey& key) {
  auto it = builds_.find(key);
  if (it == builds_.end()) return;
  if (const auto& job = it->second->job; job && --job->builds == 0) job->idle_since_ns = clock::monotonic_ns();
  builds_.erase(it);
}

job::Reply Router::begin_job(const capture::BuildKey& caller, const job::Request& request) {
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
  if (who.ci.empty())
    return {false, "no CI job is known for the caller: no CI variables in its environment and no --id"};
  // What the runner's environment said stands: a process of the build must
  // not move its events under another job's name.
  if (!known.ci.empty() && !same_job(known, who))
    return {false, "the caller's build is " + describe(known) + "; `job begin` does not rename it"};
  // Nor may a build with no name yet take one another build on this host
  // has (its CI id, from --id or from variables the caller set itself):
  // the id alone, as that is what the build is looked up by.
  if (known.ci.empty() && !who.id.empty())
    if (const Job* other = job_with_id(who.id, job.get()))
      return {false, "id " + who.id + " is another build's on this host (" + describe(other->pipeline->build()) +
                         "); `job begin` does not give it to the caller's build"};
  if (known.ci.empty()) job->pipeline->attribute_late(who);
  if (!job->begun) {
    job->begun = true;
    open_jobs_.push_back(job);
  }
  return {true, "job " + describe(who) + " begun (runner pid " + std::to_string(job->runner) + ")"};
}

job::Reply Router::end_job(const capture::BuildKey& caller, const job::Request& request) {
  auto it = builds_.find(caller);
  if (it == builds_.end() || !it->second->job) return {false, "the caller's build has not started yet"};
  // Only the caller's own job: one job's hook cannot end another's.
  const std::shared_ptr<Job> job = it->second->job;
  if (!job->begun || job->ended) return {false, "no job was begun for the caller's build (`job begin` first)"};
  if (!request.id.empty() && request.id != job->pipeline->build().id)
    return {false, "the caller's job is " + describe(job->pipeline->build()) + ", not " + request.id};
  end(*job, request.status ? *request.status : -1, 0);
  std::erase(open_jobs_, job);
  return {true, "job " + describe(job->pipeline->build()) + " ended"};
}

void Router::expire_jobs() {
  const uint64_t now = clock::monotonic_ns();
  std::erase_if(open_jobs_, [&](const std::shared_ptr<Job>& j) {
    if (j->builds > 0 || now - j->idle_since_ns < options_.job_idle_ns) return false;
    log::info("route", "job " + describe(j->pipeline->build()) + " ended: no process of it left, and no `job end`");
    end(*j, -1, 0);
    return true;
  });
}

void Router::end_all() {
  for (auto& [key, b] : builds_)
    if (b->job && !b->job->ended) end(*b->job, -1, 0);
  for (auto& j : open_jobs_)
    if (!j->ended) end(*j, -1, 0);
  open_jobs_.clear();
  builds_.clear();
}

}  // namespace bt::agent::route

#include "agent/enrich/pipeline.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "agent/capture/proc/procfs.h"
#include "agent/enrich/rules/command.h"
#include "agent/enrich/rules/redact.h"
#include "agent/enrich/rules/runners.h"
#include "agent/enrich/rules/uploads.h"
#include "common/clock.h"
#include "common/fs.h"

namespace bt::agent::enrich {

namespace {

// /proc/<pid>/<file> of another process: environ holds its secrets, mem
// and maps its memory.
bool parse_proc_path(std::string_view path, uint64_t* target, std::string_view* file) {
  if (path.rfind("/proc/", 0) != 0) return false;
  std::string_view rest = path.substr(6);
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  uint64_t pid = 0;
  for (char c : rest.substr(0, slash)) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + static_cast<uint64_t>(c - '0');
  }
  *file = rest.substr(slash + 1);
  if (*file != "environ" && *file != "mem" && *file != "maps") return false;
  *target = pid;
  return true;
}

}  // namespace

Status configure_rules(const RuleSources& sources, Config* out) {
  out->secret_rules = secrets::default_rules();
  if (!sources.secret_rules_file.empty()) {
    auto text = fs::read_file(sources.secret_rules_file, 1 << 20);
    if (!text) return text.error();
    auto extra = secrets::parse_rules(*text);
    if (!extra) return make_error(extra.error().code, sources.secret_rules_file + ": " + extra.error().message);
    out->secret_rules.insert(out->secret_rules.end(), extra->begin(), extra->end());
  }
  for (std::string_view list = sources.metadata_endpoints; !list.empty();) {
    const std::size_t comma = list.find(',');
    std::string item(list.substr(0, comma));
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out->metadata_endpoints.push_back(item);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  for (const auto& e : sources.extra_endpoints) out->metadata_endpoints.push_back(e);
  return Ok{};
}

void set_agent(events::Event envelope, Config* out) {
  out->envelope = std::move(envelope);
  out->self_pid = static_cast<uint64_t>(::getpid());
  out->envelope.process.key = process_key(out->self_pid, procfs::start_time_ns(::getpid()));
}

std::string process_key(uint64_t pid, uint64_t start_ns) {
  return std::to_string(pid) + "-" + std::to_string(start_ns);
}

Config runner_child_config(Config base, uint64_t runner_pid) {
  base.runner_pid = runner_pid;
  base.envelope.process = {};
  base.envelope.process.pid = runner_pid;
  base.envelope.process.key = process_key(runner_pid, procfs::start_time_ns(static_cast<pid_t>(runner_pid)));
  base.envelope.process.exe = procfs::read_link("/proc/" + std::to_string(runner_pid) + "/exe");
  return base;
}

Pipeline::Pipeline(Config config, Sink sink)
    : config_(std::move(config)),
      sink_(std::move(sink)),
      matcher_(config_.secret_rules),
      metadata_(config_.metadata_endpoints),
      build_start_ns_(clock::now_ns()) {}

Pipeline::Proc& Pipeline::proc(uint64_t pid) {
  auto it = procs_.find(pid);
  if (it != procs_.end()) return it->second;
  // First heard of by an event other than fork (a race at startup).
  Proc p;
  p.process.pid = pid;
  p.process.key = process_key(pid, procfs::start_time_ns(static_cast<pid_t>(pid)));
  p.since_ns = clock::now_ns();
  return procs_.emplace(pid, std::move(p)).first->second;
}

events::Event Pipeline::event(uint64_t time_ns, const Proc* p, events::Body body) {
  events::Event e = config_.envelope;
  e.time_ns = time_ns;
  e.build = config_.build;
  if (p) e.process = p->process;
  e.body = std::move(body);
  return e;
}

void Pipeline::emit(events::Event&& e) {
  ++counts_[std::string(events::kind_name(e.kind()))];
  if (!started_ && e.kind() != events::Kind::build_start) {
    held_.push_back(std::move(e));
    return;
  }
  sink_(std::move(e));
}

void Pipeline::build_start(const std::vector<std::string>& command, const std::string& cwd, const std::string& mode,
                           uint64_t start_ns) {
  if (start_ns) build_start_ns_ = start_ns;
  events::BuildStart b;
  b.mode = mode;
  b.command = redact::argv(command);
  b.cwd = cwd;
  Proc self;
  self.process = config_.envelope.process;
  started_ = true;
  emit(event(build_start_ns_, &self, std::move(b)));
  for (auto& e : held_) {
    if (e.build.ci.empty()) e.build = config_.build;  // named after they happened
    sink_(std::move(e));
  }
  held_.clear();
}

void Pipeline::build_start_when_named(const std::string& cwd, const std::string& mode, uint64_t start_ns,
                                      uint32_t max_execs) {
  pending_start_ = PendingStart{cwd, mode, start_ns, max_execs};
  if (attributed() || max_execs == 0) start_pending();
}

void Pipeline::start_pending() {
  if (!pending_start_) return;
  const PendingStart p = std::move(*pending_start_);
  pending_start_.reset();
  build_start({}, p.cwd, p.mode, p.start_ns);
}

void Pipeline::attribute_late(events::Build build) {
  config_.build = std::move(build);
  if (attributed()) start_pending();
}

void Pipeline::build_end(int64_t exit_code, int64_t signal) {
  start_pending();
  const uint64_t t = clock::now_ns();
  events::BuildEnd b;
  b.exit_code = exit_code;
  b.signal = signal;
  b.duration_ns = t - build_start_ns_;
  ++counts_["build_end"];
  for (const auto& [kind, n] : counts_) b.counts.emplace_back(kind, n);
  --counts_["build_end"];
  Proc self;
  self.process = config_.envelope.process;
  emit(event(t, &self, std::move(b)));
}

void Pipeline::observe(const capture::Fork& f) {
  Proc p;
  p.process.pid = f.child_pid;
  p.process.ppid = f.parent_pid;
  p.process.key = process_key(f.child_pid, f.child_start_ns);
  if (auto parent = procs_.find(f.parent_pid); parent != procs_.end()) {
    // Until it execs, a child runs its parent's program.
    p.process.parent_key = parent->second.process.key;
    p.process.exe = parent->second.process.exe;
    p.process.uid = parent->second.process.uid;
  } else if (f.parent_pid == (config_.runner_pid ? config_.runner_pid : config_.self_pid)) {
    p.process.parent_key = config_.envelope.process.key;
  }
  p.since_ns = f.time_ns;
  procs_[f.child_pid] = std::move(p);
}

void Pipeline::observe(const capture::Exec& x) {
  Proc& p = proc(x.pid);
  p.process.exe = x.exe;
  p.process.uid = x.uid;
  if (x.ppid) p.process.ppid = x.ppid;
  if (x.start_ns) p.process.key = process_key(x.pid, x.start_ns);
  p.since_ns = x.time_ns;
  events::ProcessExec e;
  e.argv = redact::argv(x.argv);
  e.cwd = x.cwd;
  // Through /proc while the process lives (the file it runs, even if
  // replaced since); the daemon may see an exec after the process is gone.
  auto exe_digest = digests_.file("/proc/" + std::to_string(x.pid) + "/exe");
  if (!exe_digest && !x.exe.empty()) exe_digest = digests_.file(x.exe);
  if (exe_digest) e.exe_sha256 = exe_digest->sha256;
  if (command::is_interpreter(x.exe)) {
    const std::string script = command::script_of(x.argv);
    if (!script.empty()) {
      const std::string path = procfs::join_path(x.cwd, script);
      if (auto d = digests_.file(path)) {
        e.script = path;
        e.script_sha256 = d->sha256;
      }
    }
  }
  std::optional<events::ArtifactUpload> upload = uploads::recognise(e.argv, x.exe, x.cwd, digests_);
  emit(event(x.time_ns, &p, std::move(e)));
  if (upload) emit(event(x.time_ns, &p, std::move(*upload)));
  // Never named within its budget: it starts unnamed rather than hold more.
  if (pending_start_ && --pending_start_->execs_left == 0) start_pending();
}

void Pipeline::observe(const capture::Exit& x) {
  auto it = procs_.find(x.pid);
  if (it == procs_.end()) return;
  events::ProcessExit e;
  e.exit_code = x.exit_code;
  e.signal = x.signal;
  e.duration_ns = x.time_ns > it->second.since_ns ? x.time_ns - it->second.since_ns : 0;
  e.user_ns = x.user_ns;
  e.system_ns = x.system_ns;
  e.peak_rss_bytes = x.peak_rss_bytes;
  emit(event(x.time_ns, &it->second, std::move(e)));
  procs_.erase(it);
}

void Pipeline::on(const capture::Observation& observation) {
  std::visit([this](const auto& o) { observe(o); }, observation);
}

bool Pipeline::wants_open(std::string_view basename) const {
  return basename == "environ" || basename == "mem" || basename == "maps" || matcher_.may_match(basename);
}

void Pipeline::secret(uint64_t time_ns, uint64_t pid, const secrets::Rule& rule, std::string access, std::string path) {
  events::SecretAccess s;
  s.rule = rule.name;
  s.secret_class = rule.secret_class;
  s.access = std::move(access);
  s.path = std::move(path);
  emit(event(time_ns, &proc(pid), std::move(s)));
}

bool Pipeline::proc_read(const capture::Open& o) {
  uint64_t target = 0;
  std::string_view file;
  if (!parse_proc_path(o.path, &target, &file)) return false;
  if (target == o.pid || target == config_.self_pid) return true;  // its own
  // The target as the capture saw it at the open (daemon), else as /proc
  // shows it now (run: the opener waits, the target is alive).
  const capture::ProcTarget t = o.target ? *o.target : attribution::read_target(target);
  if (t.pid == o.pid || t.pid == config_.self_pid) return true;
  events::SecretAccess s;
  s.rule = "proc-" + std::string(file);
  s.secret_class = "process_memory";
  s.access = "proc_" + std::string(file);
  s.path = o.path;
  s.target_pid = t.pid;
  s.target_exe = t.exe;
  if (file != "maps" && attribution::is_runner(attribution::known_runners(), t)) {
    s.rule = "ci-runner-" + std::string(file);
    s.secret_class = "ci_runner";
  }
  emit(event(o.time_ns, &proc(o.pid), std::move(s)));
  return true;
}

void Pipeline::observe(const capture::Open& o) {
  if (proc_read(o)) return;
  if (const secrets::Rule* rule = matcher_.match(o.path))
    secret(o.time_ns, o.pid, *rule, o.write ? "open_write" : "open_read", o.path);
}

void Pipeline::observe(const capture::Dns& d) {
  events::DnsQuery q;
  q.name = d.name;
  q.qtype = d.qtype;
  q.server = d.server;
  q.answers = d.answers;
  q.rcode = d.rcode;
  if (resolved_.size() > 65536) resolved_.clear();
  for (const auto& a : d.addresses) resolved_[a] = d.name;
  emit(event(d.time_ns, &proc(d.pid), std::move(q)));
}

void Pipeline::observe(const capture::Connect& c) {
  events::NetConnect n;
  n.protocol = c.protocol;
  n.daddr = c.daddr;
  n.dport = c.dport;
  n.result = c.result;
  if (auto it = resolved_.find(c.daddr); it != resolved_.end()) n.dns_name = it->second;
  const std::string name = n.dns_name;
  emit(event(c.time_ns, &proc(c.pid), std::move(n)));
  // A metadata endpoint by its address, or by the name the build resolved
  // to it (a name in the list: metadata.google.internal, a configured one).
  if (const std::string* endpoint = metadata_.matching(c.daddr, name)) {
    events::SecretAccess s;
    s.rule = "cloud-metadata";
    s.secret_class = "metadata_endpoint";
    s.access = "metadata_connect";
    s.path = c.daddr + ":" + std::to_string(c.dport);
    s.dest_ip = c.daddr;
    s.dest_port = c.dport;
    s.dest_name = name;
    s.endpoint = *endpoint;
    emit(event(c.time_ns, &proc(c.pid), std::move(s)));
  }
}

void Pipeline::observe(const capture::ProcessAccess& a) {
  events::SecretAccess s;
  s.rule = a.access == "ptrace_attach" ? "ptrace-attach" : "process-vm-readv";
  s.secret_class = "process_memory";
  s.access = a.access;
  s.target_pid = a.target_pid;
  s.target_exe = procfs::read_link("/proc/" + std::to_string(a.target_pid) + "/exe");
  s.path = "/proc/" + std::to_string(a.target_pid);
  emit(event(a.time_ns, &proc(a.pid), std::move(s)));
}

}  // namespace bt::agent::enrich

#include "agent/enrich/pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
  out->watch_rules = watch::default_rules();
  if (!sources.watch_rules_file.empty()) {
    auto text = fs::read_file(sources.watch_rules_file, 1 << 20);
    if (!text) return text.error();
    auto extra = watch::parse_rules(*text);
    if (!extra) return make_error(extra.error().code, sources.watch_rules_file + ": " + extra.error().message);
    out->watch_rules.insert(out->watch_rules.end(), extra->begin(), extra->end());
  }
  auto workspace = watch::parse_workspace(sources.workspace_watch);
  if (!workspace) return workspace.error();
  out->workspace_watch = std::move(*workspace);
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
      build_start_ns_(clock::now_ns()),
      watch_(config_.watch_rules, config_.workspace_watch) {}

Pipeline::Proc& Pipeline::proc(uint64_t pid) {
  auto it = procs_.find(pid);
  if (it != procs_.end()) return it->second;
  // First heard of by an event other than fork: a child that opens a file
  // before it execs (the detached tree reports forks at the exec: `cmd
  // </proc/N/environ` in a pipeline), or a race at startup. Until it execs
  // it runs its parent's program: /proc says which, and who the parent is,
  // as the daemon's kernel does (the caller is stopped in its call).
  Proc p;
  p.process.pid = pid;
  p.process.key = process_key(pid, procfs::start_time_ns(static_cast<pid_t>(pid)));
  p.process.exe = procfs::read_link("/proc/" + std::to_string(pid) + "/exe");
  if (procfs::TaskIds ids; procfs::task_ids(static_cast<pid_t>(pid), &ids)) {
    p.process.ppid = static_cast<uint64_t>(ids.ppid);
    p.process.uid = ids.uid;
    if (auto parent = procs_.find(p.process.ppid); parent != procs_.end())
      p.process.parent_key = parent->second.process.key;
  }
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
  if (workspace_.empty()) workspace_ = cwd;
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
  workspace_ = cwd;
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
  finish_writes(0, nullptr);
  if (provenance_lost_) {
    events::Loss l;
    l.counts.emplace_back("provenance_full", provenance_lost_);
    l.first_ns = provenance_lost_first_ns_;
    l.last_ns = provenance_lost_last_ns_;
    Proc self;
    self.process = config_.envelope.process;
    emit(event(provenance_lost_last_ns_, &self, std::move(l)));
    provenance_lost_ = 0;
  }
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
  stdio(x, p, e);
  // Exec provenance: the kernel's writer, else the one this build's
  // writes name (a pending watched write of the file is closed by now:
  // a file open for writing cannot be executed).
  finish_writes_of_path(x.exe);
  if (x.writer_pid)
    e.written_by = process_key(x.writer_pid, x.writer_start_ns);
  else if (std::string w = writer_of(x.exe); !w.empty())
    e.written_by = std::move(w);
  else if (!e.script.empty())
    e.written_by = writer_of(e.script);
  if (e.written_by.empty() && !e.script.empty() && config_.kernel_writer)
    e.written_by = config_.kernel_writer(e.script, x.pid);
  std::optional<events::ArtifactUpload> upload = uploads::recognise(e.argv, x.exe, x.cwd, digests_);
  if (upload) name_writers(*upload, x.pid);
  emit(event(x.time_ns, &p, std::move(e)));
  if (upload) emit(event(x.time_ns, &p, std::move(*upload)));
  // Never named within its budget: it starts unnamed rather than hold more.
  if (pending_start_ && --pending_start_->execs_left == 0) start_pending();
}

// Descriptors 0, 1, 2; a pipe's other end is the process of this build
// last seen at it when it exec'd (fd 0 reads, 1 and 2 write).
void Pipeline::stdio(const capture::Exec& x, const Proc& p, events::ProcessExec& e) {
  constexpr std::size_t kMaxPipes = 16384;
  events::Stdio* out[3] = {&e.stdin_fd, &e.stdout_fd, &e.stderr_fd};
  for (std::size_t i = 0; i < 3; ++i) {
    const capture::StdioFd& s = x.stdio[i];
    out[i]->kind = s.kind;
    out[i]->inode = s.inode;
    out[i]->remote = s.remote;
    if (s.kind != "pipe" || s.inode == 0) continue;
    if (pipes_.size() >= kMaxPipes && !pipes_.count(s.inode)) pipes_.clear();  // starts over
    PipeEnds& ends = pipes_[s.inode];
    const std::string& other = i == 0 ? ends.writer : ends.reader;
    if (other != p.process.key) out[i]->peer_key = other;
    (i == 0 ? ends.reader : ends.writer) = p.process.key;
  }
}

void Pipeline::observe(const capture::Exit& x) {
  finish_writes(x.pid, nullptr);  // its descriptors are closed
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

void Pipeline::finish_writes_of_path(const std::string& path) {
  for (std::size_t i = 0; i < pending_writes_.size();) {
    if (pending_writes_[i].path == path)
      finish_writes(pending_writes_[i].pid, &path);
    else
      ++i;
  }
}

void Pipeline::on(const capture::Observation& observation) {
  std::visit([this](const auto& o) { observe(o); }, observation);
}

bool Pipeline::wants_open(std::string_view basename) const {
  return basename == "environ" || basename == "mem" || basename == "maps" || matcher_.may_match(basename);
}

bool Pipeline::wants_result(const capture::Open& open) const {
  uint64_t target = 0;
  std::string_view file;
  if (parse_proc_path(open.path, &target, &file)) return target != open.pid && target != config_.self_pid;
  return matcher_.match(open.path) != nullptr;
}

void Pipeline::secret(const capture::Open& o, const secrets::Rule& rule) {
  events::SecretAccess s;
  s.rule = rule.name;
  s.secret_class = rule.secret_class;
  s.access = o.write ? "open_write" : "open_read";
  s.path = o.path;
  s.result = o.result;
  emit(event(o.time_ns, &proc(o.pid), std::move(s)));
}

bool Pipeline::proc_read(const capture::Open& o) {
  uint64_t target = 0;
  std::string_view file;
  if (!parse_proc_path(o.path, &target, &file)) return false;
  if (target == o.pid || target == config_.self_pid) return true;  // its own
  // A failed read counts when it was refused (the target exists); ENOENT
  // and the like are no attempt at a process that is there.
  if (o.result != 0 && o.result != -EACCES && o.result != -EPERM) return true;
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
  s.result = o.result;
  if (file != "maps" && attribution::is_runner(attribution::known_runners(), t)) {
    s.rule = "ci-runner-" + std::string(file);
    s.secret_class = "ci_runner";
  }
  emit(event(o.time_ns, &proc(o.pid), std::move(s)));
  return true;
}

void Pipeline::observe(const capture::Open& o) {
  if (proc_read(o)) return;
  // A credential file's failed open counts when it was refused or is not
  // there (a probe for where credentials live); other errors do not.
  if (o.result != 0 && o.result != -EACCES && o.result != -EPERM && o.result != -ENOENT) return;
  if (const secrets::Rule* rule = matcher_.match(o.path)) secret(o, *rule);
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
    s.result = c.result;
    emit(event(c.time_ns, &proc(c.pid), std::move(s)));
  }
}

// A runner's memory read by ptrace or process_vm_readv is `ci-runner-mem`,
// as a read of its /proc/<pid>/mem is, by the same facts (proc_read).
void Pipeline::observe(const capture::ProcessAccess& a) {
  const capture::ProcTarget t = a.target ? *a.target : attribution::read_target(a.target_pid);
  events::SecretAccess s;
  s.rule = a.access == "ptrace_attach" ? "ptrace-attach" : "process-vm-readv";
  s.secret_class = "process_memory";
  s.access = a.access;
  s.target_pid = t.pid;
  s.target_exe = t.exe;
  s.path = "/proc/" + std::to_string(t.pid);
  if (attribution::is_runner(attribution::known_runners(), t)) {
    s.rule = "ci-runner-mem";
    s.secret_class = "ci_runner";
  }
  emit(event(a.time_ns, &proc(a.pid), std::move(s)));
}

namespace {

constexpr uint64_t kHashMaxBytes = 1u << 20;

std::vector<std::string> open_flags(uint64_t flags) {
  std::vector<std::string> out;
  const uint64_t acc = flags & O_ACCMODE;
  if (acc == O_WRONLY) out.emplace_back("wronly");
  if (acc == O_RDWR) out.emplace_back("rdwr");
  if (flags & O_CREAT) out.emplace_back("creat");
  if (flags & O_TRUNC) out.emplace_back("trunc");
  if (flags & O_APPEND) out.emplace_back("append");
  if (flags & O_EXCL) out.emplace_back("excl");
  return out;
}

std::string octal(uint64_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04llo", static_cast<unsigned long long>(mode & 07777));
  return buf;
}

}  // namespace

// The watch rule `path` matches, or the workspace watch ("workspace"),
// which cares only for files that existed before the build began.
const watch::Rule* Pipeline::watched(const std::string& path, bool created_here, std::string* rule) const {
  if (const watch::Rule* r = watch_.match(path)) {
    *rule = r->name;
    return r;
  }
  if (!watch_.has_workspace() || created_here) return nullptr;
  if (auto it = written_.find(path); it != written_.end() && it->second.created) return nullptr;
  if (!watch_.workspace_match(workspace_, path)) return nullptr;
  static const watch::Rule kWorkspace{"workspace", ""};
  *rule = kWorkspace.name;
  return &kWorkspace;
}

void Pipeline::remember_write(const std::string& path, const std::string& writer, bool created, uint64_t time_ns) {
  auto it = written_.find(path);
  if (it != written_.end()) {
    it->second.writer = writer;
    it->second.created = it->second.created || created;
    return;
  }
  if (written_.size() >= config_.provenance_max) {
    if (!provenance_lost_++) provenance_lost_first_ns_ = time_ns;
    provenance_lost_last_ns_ = time_ns;
    return;
  }
  written_.emplace(path, Written{writer, created});
}

// Artifact provenance (BT-27): each uploaded file's last writer in this
// build, as an exec's: this build's writes, else the kernel's table.
void Pipeline::name_writers(events::ArtifactUpload& upload, uint64_t uploader_pid) {
  for (auto& f : upload.files) {
    finish_writes_of_path(f.path);
    f.written_by = writer_of(f.path);
    if (f.written_by.empty() && config_.kernel_writer) f.written_by = config_.kernel_writer(f.path, uploader_pid);
  }
}

std::string Pipeline::writer_of(const std::string& path) const {
  auto it = written_.find(path);
  return it == written_.end() ? std::string() : it->second.writer;
}

void Pipeline::file_event(const capture::FileWrite& w, std::string operation, const std::string& rule,
                          std::vector<std::string> flags, bool wait_for_close) {
  events::FileWrite f;
  f.operation = std::move(operation);
  f.path = w.path;
  f.new_path = w.new_path;
  f.rule = rule;
  f.flags = std::move(flags);
  events::Event e = event(w.time_ns, &proc(w.pid), std::move(f));
  if (wait_for_close) {
    if (pending_writes_.size() >= config_.pending_writes_max) {
      // Too many writes open at once: the oldest is hashed now, while
      // perhaps still open.
      const uint64_t pid = pending_writes_.front().pid;
      const std::string path = pending_writes_.front().path;
      finish_writes(pid, &path);
    }
    UniqueFd file(w.ino ? digest::open_regular(w.path, w.dev, w.ino) : -1);
    pending_writes_.push_back(PendingWrite{w.pid, w.path, std::move(e), std::move(file)});
    return;
  }
  auto& body = std::get<events::FileWrite>(e.body);
  if (body.operation != "unlink") {
    const std::string& now = body.new_path.empty() ? body.path : body.new_path;
    digest::FileState st = digest::file_state(now, kHashMaxBytes);
    if (st.type == "missing" && !body.new_path.empty()) st = digest::file_state(body.path, kHashMaxBytes);
    body.file_type = st.type;
    body.size = st.size;
    body.sha256 = st.sha256;
  }
  emit(std::move(e));
}

// Hashes and emits the pending writes of `pid` (0: every process) to
// `path` (null: every path): the file is closed, or its writer gone.
void Pipeline::finish_writes(uint64_t pid, const std::string* path) {
  for (std::size_t i = 0; i < pending_writes_.size();) {
    PendingWrite& p = pending_writes_[i];
    if ((pid && p.pid != pid) || (path && p.path != *path)) {
      ++i;
      continue;
    }
    events::Event e = std::move(p.event);
    const UniqueFd file = std::move(p.file);
    const std::string now_at = p.path;  // renamed since, perhaps
    pending_writes_.erase(pending_writes_.begin() + static_cast<std::ptrdiff_t>(i));
    auto& body = std::get<events::FileWrite>(e.body);
    const digest::FileState st =
        file ? digest::fd_state(file.get(), kHashMaxBytes) : digest::file_state(now_at, kHashMaxBytes);
    body.file_type = st.type;
    body.size = st.size;
    body.sha256 = st.sha256;
    emit(std::move(e));
    if (path) return;  // one close ends one open
  }
}

void Pipeline::observe(const capture::FileWrite& w) {
  using Op = capture::FileWrite::Op;
  std::string rule;
  switch (w.op) {
    case Op::open: {
      const std::string writer = proc(w.pid).process.key;
      const bool truncates = !w.created && (w.flags & O_TRUNC);
      const bool watched_before = watched(w.path, w.created, &rule) != nullptr;
      remember_write(w.path, writer, w.created, w.time_ns);
      if (watched_before)
        file_event(w, w.created ? "create" : truncates ? "truncate" : "write", rule, open_flags(w.flags), true);
      return;
    }
    case Op::truncate:
      remember_write(w.path, proc(w.pid).process.key, false, w.time_ns);
      if (watched(w.path, false, &rule)) file_event(w, "truncate", rule, {}, false);
      return;
    case Op::chmod:
      if (!(w.flags & 0111)) return;
      // The content's writer stays the one named; a file only made
      // executable in the build is named by its chmod.
      if (!written_.count(w.path)) remember_write(w.path, proc(w.pid).process.key, false, w.time_ns);
      if (watched(w.path, false, &rule)) file_event(w, "chmod_exec", rule, {octal(w.flags)}, false);
      return;
    case Op::unlink: {
      const bool hit = watched(w.path, false, &rule) != nullptr;
      written_.erase(w.path);
      if (hit) file_event(w, "unlink", rule, {}, false);
      return;
    }
    case Op::rename: {
      // The file keeps its writer under its new name; a watched name on
      // either side is reported.
      const bool hit = watched(w.path, false, &rule) || watched(w.new_path, false, &rule);
      if (auto it = written_.find(w.path); it != written_.end()) {
        Written moved = std::move(it->second);
        written_.erase(it);
        written_[w.new_path] = std::move(moved);
      }
      for (auto& p : pending_writes_)
        if (p.path == w.path) p.path = w.new_path;  // hashed where it is now
      if (hit) file_event(w, "rename", rule, {}, false);
      return;
    }
  }
}

}  // namespace bt::agent::enrich

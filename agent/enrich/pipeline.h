// The enrichment pipeline both capture backends feed: turns observations
// into events. It keeps the process table (keys, parents, executables),
// fills the build block, redacts argv, hashes executables and scripts,
// applies the secret rules and recognises uploads. Every event it emits is
// already redacted: nothing past this point sees a secret value.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/capture/observation.h"
#include "agent/enrich/rules/digest.h"
#include "agent/enrich/rules/secrets.h"
#include "agent/enrich/rules/watch.h"
#include "common/events/event.h"
#include "common/unique_fd.h"

namespace bt::agent::enrich {

struct Config {
  events::Event envelope;  // host, agent id
  events::Build build;     // from agent/enrich/rules/attribution
  std::vector<secrets::Rule> secret_rules;
  std::vector<std::string> metadata_endpoints;  // beyond the defaults
  uint64_t self_pid = 0;                        // the agent: its own /proc reads are not secret access
  // The runner a build's first process hangs from (daemon, `run --session`);
  // 0: the agent (self_pid). Reading the runner's /proc files *is* secret
  // access: its environment and memory hold the job's tokens.
  uint64_t runner_pid = 0;
  // The file watch list (agent/enrich/rules/watch) and the opt-in
  // workspace globs, relative to the build's starting folder.
  std::vector<watch::Rule> watch_rules;
  std::vector<std::string> workspace_watch;
  // Exec provenance: files written in the build remembered (by path) for
  // `written_by`; beyond it writes are forgotten and counted (loss
  // provenance_full). Watched writes waiting for their close to be hashed.
  std::size_t provenance_max = 16384;
  std::size_t pending_writes_max = 1024;
  // The capture's own record of who wrote a file (the daemon's kernel
  // keeps every write of a build), asked for an interpreter's script:
  // the writer's process key, or empty. Null: this pipeline's table only.
  std::function<std::string(const std::string& path, uint64_t exec_pid)> kernel_writer;
};

class Pipeline final : public capture::Sink {
 public:
  using Sink = std::function<void(events::Event&&)>;
  Pipeline(Config config, Sink sink);

  // Events observed before build_start (the command's own fork and exec,
  // while capture is being set up) are held and follow it. `mode` is wrap,
  // or unmonitored when the command runs without capture.
  // `start_ns`: when the build started, if not now (the daemon learns of a
  // build at its first exec, after the runner forked it).
  void build_start(const std::vector<std::string>& command, const std::string& cwd, const std::string& mode,
                   uint64_t start_ns = 0);
  // build_start for a build that may not be named yet (the daemon's and
  // `run --session`'s runner children: GitLab's shell executor exports CI_*
  // only in the stage script's children). It waits, and the events with it,
  // until attribute_late() names the build, `max_execs` execs went by or the
  // build ends; the events held meanwhile then carry the name too.
  void build_start_when_named(const std::string& cwd, const std::string& mode, uint64_t start_ns, uint32_t max_execs);
  void build_end(int64_t exit_code, int64_t signal);
  // A build whose identity shows only in a later process's environment
  // (GitLab's shell executor exports CI_* inside the job script): its
  // events carry it from then on.
  bool attributed() const { return !config_.build.ci.empty(); }
  const events::Build& build() const { return config_.build; }
  void attribute_late(events::Build build);

  void on(const capture::Observation& observation) override;
  bool wants_open(std::string_view basename) const override;
  // Another process's /proc/<pid>/{environ,mem,maps}, or a path a secret
  // rule matches.
  bool wants_result(const capture::Open& open) const override;

 private:
  void observe(const capture::Fork&);
  void observe(const capture::Exec&);
  void observe(const capture::Exit&);
  void observe(const capture::Open&);
  void observe(const capture::Connect&);
  void observe(const capture::ProcessAccess&);
  void observe(const capture::Dns&);
  void observe(const capture::FileWrite&);

  struct Proc {
    events::Process process;
    uint64_t since_ns = 0;  // exec (or fork) time: process_exit's duration
  };
  Proc& proc(uint64_t pid);
  events::Event event(uint64_t time_ns, const Proc* p, events::Body body);
  void emit(events::Event&& e);
  void secret(const capture::Open& o, const secrets::Rule& rule);
  bool proc_read(const capture::Open& o);

  Config config_;
  Sink sink_;
  secrets::Matcher matcher_;
  secrets::MetadataEndpoints metadata_;
  digest::Cache digests_;
  std::unordered_map<uint64_t, Proc> procs_;
  uint64_t build_start_ns_ = 0;
  bool started_ = false;
  struct PendingStart {
    std::string cwd, mode;
    uint64_t start_ns = 0;
    uint32_t execs_left = 0;
  };
  std::optional<PendingStart> pending_start_;  // build_start_when_named, not named yet
  void start_pending();
  std::vector<events::Event> held_;
  std::unordered_map<std::string, uint64_t> counts_;
  // Address -> the name it was resolved from in this build (bounded):
  // net_connect's dns_name.
  std::unordered_map<std::string, std::string> resolved_;
  // Pipe inode -> the processes last seen at each end at their exec
  // (bounded): process_exec's stdio peer_key (docs/events.md "Pipes").
  struct PipeEnds {
    std::string reader, writer;
  };
  std::unordered_map<uint64_t, PipeEnds> pipes_;
  void stdio(const capture::Exec& x, const Proc& p, events::ProcessExec& e);

  // file_write: watched writes wait for their close (or their writer's
  // exit) to be hashed; files written in this build, by path, for
  // process_exec's written_by.
  struct PendingWrite {
    uint64_t pid = 0;
    std::string path;
    events::Event event;
    UniqueFd file;  // held from the report when the backend named the file (daemon): hashed even if renamed or gone
  };
  struct Written {
    std::string writer;    // process key
    bool created = false;  // created in this build (not a workspace file that existed before)
  };
  watch::Matcher watch_;
  std::string workspace_;
  std::vector<PendingWrite> pending_writes_;
  std::unordered_map<std::string, Written> written_;
  uint64_t provenance_lost_ = 0, provenance_lost_first_ns_ = 0, provenance_lost_last_ns_ = 0;
  const watch::Rule* watched(const std::string& path, bool created_here, std::string* rule) const;
  void remember_write(const std::string& path, const std::string& writer, bool created, uint64_t time_ns);
  void file_event(const capture::FileWrite& w, std::string operation, const std::string& rule,
                  std::vector<std::string> flags, bool wait_for_close);
  void finish_writes(uint64_t pid, const std::string* path);  // pid 0: all
  void finish_writes_of_path(const std::string& path);
  std::string writer_of(const std::string& path) const;
  void name_writers(events::ArtifactUpload& upload, uint64_t uploader_pid);
};

// Where the rules beyond the built-in ones come from (the agent's
// secrets.rules_file and secrets.metadata_endpoints, `run --metadata-endpoint`).
struct RuleSources {
  std::string secret_rules_file;   // empty: none
  std::string metadata_endpoints;  // comma-separated
  std::vector<std::string> extra_endpoints;
  std::string watch_rules_file;  // extra file watch rules (docs/file-watch.md); empty: none
  std::string workspace_watch;   // comma-separated workspace globs; empty: off
};

// The built-in secret rules plus those `sources` add. Errors name the file
// or line.
Status configure_rules(const RuleSources& sources, Config* out);

// The agent this process is (`envelope`: host, agent id, process) as the
// parent of what it captures: the pid whose own /proc reads are not
// secret access, and its process key.
void set_agent(events::Event envelope, Config* out);

// "<pid>-<start ns since boot>": unique per host and boot.
std::string process_key(uint64_t pid, uint64_t start_ns);

// `base` for a build runner `runner_pid` forked (daemon, `run --session`):
// the build hangs from the runner, which build_start names and its first
// process has as parent.
Config runner_child_config(Config base, uint64_t runner_pid);

}  // namespace bt::agent::enrich

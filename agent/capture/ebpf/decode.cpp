#include "agent/capture/ebpf/decode.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "agent/capture/dns/dns.h"
#include "agent/capture/ebpf/record.h"
#include "agent/capture/proc/procfs.h"
#include "agent/capture/stdio.h"
#include "common/clock.h"

namespace bt::agent::ebpf {

static_assert(BT_ENV_TRIES == capture::kIdentityExecs, "the kernel reads as many environments as route uses");

namespace {

Error malformed(const std::string& what) { return Error{ErrorCode::kMalformed, "malformed sensor record: " + what}; }

template <typename T>
bool read_fixed(std::span<const uint8_t> bytes, T* out) {
  if (bytes.size() < sizeof(T)) return false;
  std::memcpy(out, bytes.data(), sizeof(T));
  return true;
}

// A NUL-terminated string of `len` bytes (NUL included) at `at`.
bool read_string(std::span<const uint8_t> bytes, std::size_t at, std::size_t len, std::string* out) {
  if (at > bytes.size() || len > bytes.size() - at) return false;
  const char* p = reinterpret_cast<const char*>(bytes.data() + at);
  out->assign(p, strnlen(p, len));
  return true;
}

std::string address_text(uint16_t family, const uint8_t (&addr)[16]) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == AF_INET ? AF_INET : AF_INET6, addr, text, sizeof(text));
  return text;
}

// What the kernel says about every record: when, which process, which build.
struct Context {
  const bt_header& h;
  const Clock& clock;
  uint64_t time_ns() const { return clock.wall_ns(h.time_ns); }
  uint64_t pid() const { return h.tgid; }
  Observed observed(capture::Observation what) const {
    return {{{h.root_tgid, h.root_start_ns}, false, false}, std::move(what)};
  }
};

Result<Record> decode_fork(std::span<const uint8_t> bytes, const Context& c) {
  bt_fork f;
  if (!read_fixed(bytes, &f)) return malformed("short fork");
  Observed o = c.observed(capture::Fork{c.time_ns(), f.parent_tgid, c.pid(), c.clock.start_ns(c.h.start_ns)});
  o.where.starts_build = (c.h.flags & BT_F_NEW_BUILD) != 0;
  return Record{std::move(o)};
}

// A descriptor as the kernel saw it; its kind told as the wrap backend tells it.
capture::StdioFd stdio_of(const bt_stdio& d) {
  capture::StdioFd s;
  s.kind = capture::stdio_kind(d.mode, d.rdev >> 20, d.rdev & 0xfffff);
  if (S_ISFIFO(d.mode) || S_ISSOCK(d.mode)) s.inode = d.ino;
  if (S_ISSOCK(d.mode) && d.family == AF_UNIX)
    s.remote = capture::unix_remote(std::string_view(d.path, std::min<std::size_t>(d.path_len, sizeof(d.path))));
  else if (S_ISSOCK(d.mode))
    s.remote = capture::inet_remote(d.family, d.addr, d.port);
  return s;
}

Result<Record> decode_exec(std::span<const uint8_t> bytes, const Context& c) {
  bt_exec x;
  if (!read_fixed(bytes, &x)) return malformed("short exec");
  capture::Exec e;
  std::size_t at = sizeof(x);
  if (!read_string(bytes, at, x.exe_len, &e.exe)) return malformed("exec path beyond the record");
  at += x.exe_len;
  if (!read_string(bytes, at, x.cwd_len, &e.cwd)) return malformed("exec cwd beyond the record");
  at += x.cwd_len;
  if (at > bytes.size() || x.argv_len > bytes.size() - at) return malformed("argv beyond the record");
  e.argv = split_nul(bytes.subspan(at, x.argv_len));
  at += x.argv_len;
  if (x.env_len > bytes.size() - at) return malformed("environment beyond the record");
  if (c.h.flags & BT_F_ENV) e.identity_env = split_nul(bytes.subspan(at, x.env_len));
  e.time_ns = c.time_ns();
  e.pid = c.pid();
  e.ppid = x.ppid;
  e.uid = x.uid;
  e.start_ns = c.clock.start_ns(c.h.start_ns);
  for (std::size_t i = 0; i < e.stdio.size(); ++i) e.stdio[i] = stdio_of(x.stdio[i]);
  if (x.writer_tgid) {
    e.writer_pid = x.writer_tgid;
    e.writer_start_ns = c.clock.start_ns(x.writer_start_ns);
  }
  Observed o = c.observed(std::move(e));
  o.where.joined = (c.h.flags & BT_F_JOINED) != 0;
  return Record{std::move(o)};
}

Result<Record> decode_exit(std::span<const uint8_t> bytes, const Context& c) {
  bt_exit x;
  if (!read_fixed(bytes, &x)) return malformed("short exit");
  const int64_t signal = x.exit_code & 0x7f;  // a wait status
  return Record{c.observed(capture::Exit{c.time_ns(), c.pid(), signal ? -1 : (x.exit_code >> 8) & 0xff, signal,
                                         x.utime_ns, x.stime_ns, x.maxrss_bytes})};
}

Result<Record> decode_open(std::span<const uint8_t> bytes, const Context& c) {
  bt_open o;
  if (!read_fixed(bytes, &o)) return malformed("short open");
  std::string path;
  if (!read_string(bytes, sizeof(o), o.path_len, &path)) return malformed("open path beyond the record");
  if (path.empty() || path[0] != '/') return malformed("open path not absolute");
  return Record{
      c.observed(capture::Open{c.time_ns(), c.pid(), std::move(path), (c.h.flags & BT_F_WRITE) != 0, std::nullopt})};
}

// An open that failed: the name as given, made absolute (lexically) against
// the folder the kernel resolved it in; the pipeline applies the rules.
Result<Record> decode_open_failed(std::span<const uint8_t> bytes, const Context& c) {
  bt_open_failed o;
  if (!read_fixed(bytes, &o)) return malformed("short failed open");
  if (o.result >= 0) return malformed("failed open without an error");
  std::string name, dir;
  if (!read_string(bytes, sizeof(o), o.path_len, &name) || !read_string(bytes, sizeof(o) + o.path_len, o.dir_len, &dir))
    return malformed("failed open path beyond the record");
  if (name.empty()) return malformed("failed open without a name");
  // A relative name whose folder the kernel could not walk: unknown.
  if (name[0] != '/' && (dir.empty() || dir[0] != '/')) return Record{Nothing{}};
  capture::Open open;
  open.time_ns = c.time_ns();
  open.pid = c.pid();
  open.path = procfs::join_path(dir, name);
  open.write = (c.h.flags & BT_F_WRITE) != 0;
  open.result = o.result;
  return Record{c.observed(std::move(open))};
}

// The other process a record is about, as the kernel read it (bt_target),
// its executable's path at `exe_at`; nullopt when that is beyond the record.
std::optional<capture::ProcTarget> target_of(std::span<const uint8_t> bytes, const bt_target& k, std::size_t exe_at,
                                             const Context& c) {
  capture::ProcTarget t;
  if (!read_string(bytes, exe_at, k.exe_len, &t.exe)) return std::nullopt;
  t.pid = k.tgid;
  t.start_ns = c.clock.start_ns(k.start_ns);
  t.comm.assign(k.comm, strnlen(k.comm, sizeof(k.comm)));
  t.runner = (c.h.flags & BT_F_TARGET_RUNNER) != 0;
  return t;
}

Result<Record> decode_proc_open(std::span<const uint8_t> bytes, const Context& c) {
  bt_proc_open o;
  if (!read_fixed(bytes, &o)) return malformed("short proc open");
  capture::Open open;
  if (!read_string(bytes, sizeof(o), o.path_len, &open.path)) return malformed("proc open path beyond the record");
  if (open.path.empty() || open.path[0] != '/') return malformed("proc open path not absolute");
  open.target = target_of(bytes, o.target, sizeof(o) + o.path_len, c);
  if (!open.target) return malformed("target exe beyond the record");
  open.time_ns = c.time_ns();
  open.pid = c.pid();
  open.write = (c.h.flags & BT_F_WRITE) != 0;
  return Record{c.observed(std::move(open))};
}

Result<Record> decode_connect(std::span<const uint8_t> bytes, const Context& c) {
  bt_connect k;
  if (!read_fixed(bytes, &k)) return malformed("short connect");
  if (k.sock_type != SOCK_STREAM && k.sock_type != SOCK_DGRAM) return Record{Nothing{}};
  return Record{c.observed(capture::Connect{c.time_ns(), c.pid(), k.sock_type == SOCK_STREAM ? "tcp" : "udp",
                                            address_text(k.family, k.daddr), k.dport, k.result})};
}

Result<Record> decode_dns(std::span<const uint8_t> bytes, const Context& c) {
  bt_dns d;
  if (!read_fixed(bytes, &d)) return malformed("short dns");
  if (d.payload_len > bytes.size() - sizeof(d)) return malformed("dns payload beyond the record");
  auto m = dns::parse(bytes.subspan(sizeof(d), d.payload_len));
  if (!m || !m->response) return Record{Nothing{}};
  capture::Dns q;
  q.time_ns = c.time_ns();
  q.pid = c.pid();
  q.name = m->name;
  q.qtype = m->qtype;
  q.server = address_text(d.family, d.saddr);
  q.rcode = m->rcode;
  q.answers = m->answers;
  q.addresses = m->addresses;
  return Record{c.observed(std::move(q))};
}

Result<Record> decode_process_access(std::span<const uint8_t> bytes, const Context& c) {
  bt_proc_access a;
  if (!read_fixed(bytes, &a)) return malformed("short proc access");
  capture::ProcessAccess access{c.time_ns(), c.pid(), a.target.tgid,
                                (c.h.flags & BT_F_PTRACE) ? "ptrace_attach" : "process_vm_readv", std::nullopt};
  // Without it (a kernel before 6.13, a target gone at the call's exit)
  // enrichment reads the target from /proc, as it does for `run`.
  if (c.h.flags & BT_F_TARGET_KNOWN) {
    access.target = target_of(bytes, a.target, sizeof(a), c);
    if (!access.target) return malformed("target exe beyond the record");
  }
  if (a.result < 0) return Record{Nothing{}};
  return Record{c.observed(std::move(access))};
}

// A name as the caller gave it, made absolute against the folder the
// kernel resolved it in when it was relative; "" when that is unknown.
std::string absolute(const std::string& name, const std::string& dir) {
  if (name.empty() || name[0] == '/') return name;
  if (dir.empty() || dir[0] != '/') return {};
  return procfs::join_path(dir, name);
}

Result<Record> decode_file(std::span<const uint8_t> bytes, const Context& c) {
  using Op = capture::FileWrite::Op;
  bt_file f;
  if (!read_fixed(bytes, &f)) return malformed("short file record");
  std::string path, dir, path2, dir2;
  std::size_t at = sizeof(f);
  for (auto [len, out] : {std::pair<uint16_t, std::string*>{f.path_len, &path},
                          {f.dir_len, &dir},
                          {f.path2_len, &path2},
                          {f.dir2_len, &dir2}}) {
    if (!read_string(bytes, at, len, out)) return malformed("file path beyond the record");
    at += len;
  }
  capture::FileWrite w;
  w.time_ns = c.time_ns();
  w.pid = c.pid();
  w.flags = f.flags;
  switch (f.op) {
    case BT_FOP_OPEN:
      w.op = Op::open;
      w.created = f.created != 0;
      // The kernel's dev_t (major << 20 | minor) as user space's.
      w.dev = makedev(static_cast<unsigned>(f.dev >> 20), static_cast<unsigned>(f.dev & 0xfffff));
      w.ino = f.ino;
      break;
    case BT_FOP_RENAME:
      w.op = Op::rename;
      break;
    case BT_FOP_UNLINK:
      w.op = Op::unlink;
      break;
    case BT_FOP_CHMOD:
      w.op = Op::chmod;
      break;
    case BT_FOP_TRUNCATE:
      w.op = Op::truncate;
      break;
    default:
      return malformed("unknown file operation " + std::to_string(f.op));
  }
  w.path = absolute(path, dir);
  if (w.path.empty()) return malformed("file path missing or not resolvable");
  if (w.op == Op::rename) {
    w.new_path = absolute(path2, dir2);
    if (w.new_path.empty()) return malformed("rename target missing or not resolvable");
  }
  return Record{c.observed(std::move(w))};
}

}  // namespace

Clock::Clock() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  tick_ns_ = 1000000000ull / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
  refresh();
}

void Clock::refresh() { offset_ns_ = clock::now_ns() - clock::boottime_ns(); }

std::vector<std::string> split_nul(std::span<const uint8_t> bytes) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != 0) continue;
    out.emplace_back(reinterpret_cast<const char*>(bytes.data() + start), i - start);
    start = i + 1;
  }
  if (start < bytes.size()) out.emplace_back(reinterpret_cast<const char*>(bytes.data() + start), bytes.size() - start);
  return out;
}

Result<Record> decode(std::span<const uint8_t> bytes, const Clock& clock) {
  bt_header h;
  if (!read_fixed(bytes, &h)) return malformed("shorter than its header");
  if (h.size > bytes.size()) return malformed("size field beyond the record");
  bytes = bytes.first(h.size);
  const Context c{h, clock};
  switch (h.kind) {
    case BT_FORK:
      return decode_fork(bytes, c);
    case BT_EXEC:
      return decode_exec(bytes, c);
    case BT_EXIT:
      return decode_exit(bytes, c);
    case BT_OPEN:
      return decode_open(bytes, c);
    case BT_CONNECT:
      return decode_connect(bytes, c);
    case BT_DNS:
      return decode_dns(bytes, c);
    case BT_PROC_ACCESS:
      return decode_process_access(bytes, c);
    case BT_PROC_OPEN:
      return decode_proc_open(bytes, c);
    case BT_OPEN_FAILED:
      return decode_open_failed(bytes, c);
    case BT_FILE:
      return decode_file(bytes, c);
    case BT_RUNNER:
      return Record{RunnerExec{h.tgid, (h.flags & BT_F_RUNNER_CONFIRMED) != 0}};
    default:
      return malformed("unknown kind " + std::to_string(h.kind));
  }
}

}  // namespace bt::agent::ebpf

#include "agent/capture/ebpf/decode.h"

#include <cstring>

#include "agent/capture/ebpf/record.h"

namespace bt::agent::ebpf {

namespace {

Error malformed(const std::string& what) {
  return Error{ErrorCode::kMalformed, "malformed sensor record: " + what};
}

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

}  // namespace

std::vector<std::string> split_nul(std::span<const uint8_t> bytes) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != 0) continue;
    out.emplace_back(reinterpret_cast<const char*>(bytes.data() + start), i - start);
    start = i + 1;
  }
  if (start < bytes.size())
    out.emplace_back(reinterpret_cast<const char*>(bytes.data() + start), bytes.size() - start);
  return out;
}

Result<Record> decode(std::span<const uint8_t> bytes) {
  bt_header h;
  if (!read_fixed(bytes, &h)) return malformed("shorter than its header");
  if (h.size > bytes.size()) return malformed("size field beyond the record");
  bytes = bytes.first(h.size);
  Record r;
  r.kind = h.kind;
  r.flags = h.flags;
  r.boot_ns = h.time_ns;
  r.tgid = h.tgid;
  r.start_ns = h.start_ns;
  r.build = {h.root_tgid, h.root_start_ns};
  switch (h.kind) {
    case BT_FORK: {
      bt_fork f;
      if (!read_fixed(bytes, &f)) return malformed("short fork");
      r.parent_tgid = f.parent_tgid;
      return r;
    }
    case BT_EXEC: {
      bt_exec x;
      if (!read_fixed(bytes, &x)) return malformed("short exec");
      std::size_t at = sizeof(x);
      if (!read_string(bytes, at, x.exe_len, &r.exe)) return malformed("exec path beyond the record");
      at += x.exe_len;
      if (!read_string(bytes, at, x.cwd_len, &r.cwd)) return malformed("exec cwd beyond the record");
      at += x.cwd_len;
      if (at > bytes.size() || x.argv_len > bytes.size() - at) return malformed("argv beyond the record");
      r.argv = split_nul(bytes.subspan(at, x.argv_len));
      at += x.argv_len;
      if (x.env_len > bytes.size() - at) return malformed("environment beyond the record");
      if (h.flags & BT_F_ENV) r.env = split_nul(bytes.subspan(at, x.env_len));
      r.ppid = x.ppid;
      r.uid = x.uid;
      return r;
    }
    case BT_EXIT: {
      bt_exit e;
      if (!read_fixed(bytes, &e)) return malformed("short exit");
      r.exit_code = e.exit_code;
      return r;
    }
    case BT_OPEN: {
      bt_open o;
      if (!read_fixed(bytes, &o)) return malformed("short open");
      if (!read_string(bytes, sizeof(o), o.path_len, &r.path)) return malformed("open path beyond the record");
      if (r.path.empty() || r.path[0] != '/') return malformed("open path not absolute");
      return r;
    }
    case BT_CONNECT: {
      bt_connect c;
      if (!read_fixed(bytes, &c)) return malformed("short connect");
      r.family = c.family;
      r.sock_type = c.sock_type;
      r.port = c.dport;
      r.result = c.result;
      std::memcpy(r.addr.data(), c.daddr, 16);
      return r;
    }
    case BT_DNS: {
      bt_dns d;
      if (!read_fixed(bytes, &d)) return malformed("short dns");
      if (d.payload_len > bytes.size() - sizeof(d)) return malformed("dns payload beyond the record");
      r.family = d.family;
      r.port = d.sport;
      std::memcpy(r.addr.data(), d.saddr, 16);
      const auto p = bytes.subspan(sizeof(d), d.payload_len);
      r.payload.assign(p.begin(), p.end());
      return r;
    }
    case BT_PROC_ACCESS: {
      bt_proc_access a;
      if (!read_fixed(bytes, &a)) return malformed("short proc access");
      r.target_tgid = a.target_tgid;
      r.result = a.result;
      return r;
    }
    case BT_RUNNER:
      return r;
    default:
      return malformed("unknown kind " + std::to_string(h.kind));
  }
}

}  // namespace bt::agent::ebpf

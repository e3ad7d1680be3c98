// Ring-buffer records (record.h) decoded into plain values. The bytes come
// from the kernel but carry strings a build chose (argv, environment, paths,
// DNS payloads), so every length is checked against the record's size:
// a malformed record is an error value, never a crash. tests/fuzz has a
// target for decode().
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace bt::agent::ebpf {

struct BuildKey {
  uint32_t root_tgid = 0;  // 0: outside builds (record-all)
  uint64_t root_start_ns = 0;
  bool operator==(const BuildKey&) const = default;
};

struct Record {
  uint16_t kind = 0;   // bt_kind
  uint16_t flags = 0;  // bt_flags
  uint64_t boot_ns = 0;
  uint32_t tgid = 0;
  uint64_t start_ns = 0;  // CLOCK_BOOTTIME
  BuildKey build;

  uint32_t parent_tgid = 0;  // fork
  uint32_t ppid = 0, uid = 0;  // exec
  std::string exe, cwd;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", only with BT_F_ENV
  int32_t exit_code = 0;  // exit: wait status
  std::string path;       // open
  uint16_t family = 0, sock_type = 0, port = 0;  // connect (dport), dns (sport)
  std::array<uint8_t, 16> addr{};                // connect: daddr, dns: server
  int32_t result = 0;                            // connect, proc access
  std::vector<uint8_t> payload;                  // dns
  uint32_t target_tgid = 0;                      // proc access
};

Result<Record> decode(std::span<const uint8_t> bytes);

// "a\0b\0c\0" -> {a, b, c}; a missing final NUL keeps the last string.
std::vector<std::string> split_nul(std::span<const uint8_t> bytes);

}  // namespace bt::agent::ebpf

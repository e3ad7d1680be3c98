// What a standard descriptor is, told from its file type and device the
// same way by both backends: the kernel sensor sends the inode's i_mode and
// i_rdev (decode.cpp), the wrap backend stats /proc/<pid>/fd/N
// (proc/stdio.cpp). The names are events::Stdio's kinds.
#pragma once

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace bt::agent::capture {

// `mode` 0: no file at that descriptor.
inline std::string_view stdio_kind(uint32_t mode, uint32_t major, uint32_t minor) {
  if (mode == 0) return "closed";
  if (S_ISFIFO(mode)) return "pipe";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISREG(mode) || S_ISDIR(mode)) return "file";
  if (S_ISCHR(mode)) {
    if (major == 1 && minor == 3) return "null";
    // devices.txt: 4 virtual consoles and serial ports, 5 /dev/tty,
    // /dev/console, /dev/ptmx, 136-143 Unix98 pseudo-terminal slaves.
    if (major == 4 || (major == 5 && minor <= 2) || (major >= 136 && major <= 143)) return "tty";
  }
  return "other";  // block and other character devices, anonymous inodes (no file type)
}

// A socket's peer as events::Stdio's `remote` says it: 1.2.3.4:80,
// [::1]:80; empty when not connected (port 0).
inline std::string inet_remote(int family, const void* addr, uint16_t port) {
  if (port == 0 || (family != AF_INET && family != AF_INET6)) return {};
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, addr, text, sizeof(text));
  return family == AF_INET ? std::string(text) + ":" + std::to_string(port)
                           : "[" + std::string(text) + "]:" + std::to_string(port);
}

// A Unix socket's peer name as `remote` says it, from the bytes of its
// sun_path: unix:/run/x.sock, unix:@name for an abstract one (leading
// NUL); empty when unnamed.
inline std::string unix_remote(std::string_view sun_path) {
  if (sun_path.empty()) return {};
  if (sun_path[0] == '\0') return "unix:@" + std::string(sun_path.substr(1));
  return "unix:" + std::string(sun_path.substr(0, sun_path.find('\0')));
}

}  // namespace bt::agent::capture

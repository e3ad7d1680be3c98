// A static test program for the wrap backend: does one thing a build might
// do in a way a shell cannot (exec from a thread, execveat, read another
// process's memory). Built with -static on purpose: capture must not
// depend on the dynamic loader.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

char* g_prog = nullptr;

void* exec_from_thread(void*) {
  char* argv[] = {const_cast<char*>("/bin/echo"), const_cast<char*>("from-thread"), nullptr};
  ::execv(argv[0], argv);
  std::_Exit(120);
}

void* open_from_thread(void* path) {
  const int fd = ::open(static_cast<const char*>(path), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) ::close(fd);
  return nullptr;
}

// Every way to open a file by path, each on DIR/credentials (a file), and
// an O_DIRECTORY open of DIR/dir/credentials (a directory: never reported).
int open_calls(const char* dir) {
  const std::string file = std::string(dir) + "/credentials";
  const std::string subdir = std::string(dir) + "/dir/credentials";
  auto done = [](int fd) {
    if (fd < 0) std::_Exit(3);
    ::close(fd);
  };
  done(static_cast<int>(::syscall(SYS_open, file.c_str(), O_RDONLY)));
  done(static_cast<int>(::syscall(SYS_creat, file.c_str(), 0600)));
  const int dfd = ::open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) return 3;
  done(::openat(dfd, "credentials", O_RDWR));
  struct {
    uint64_t flags, mode, resolve;
  } how{O_RDONLY, 0, 0};
  done(static_cast<int>(::syscall(SYS_openat2, dfd, "credentials", &how, sizeof how)));
  ::close(dfd);
  done(::open(subdir.c_str(), O_RDONLY | O_DIRECTORY));
  pthread_t t;
  pthread_create(&t, nullptr, open_from_thread, const_cast<char*>(file.c_str()));
  pthread_join(t, nullptr);
  return 0;
}

// Opens `path` for reading and prints "<path> <0 or -errno>": what the
// capture must record as the open's result.
void attempt(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::printf("%s %d\n", path.c_str(), fd >= 0 ? 0 : -errno);
  std::fflush(stdout);
  if (fd >= 0) ::close(fd);
}

// Credential reads that fail and one that works, as an attacker's probes:
// DIR/missing/.aws/credentials (ENOENT), DIR/home/.aws/credentials (read),
// then refused ones: that file and another process's /proc/<pid>/mem,
// refused to another user (as root: a child that became nobody) or, when
// not root, a file of mode 000 and a non-dumpable process's memory.
int refused_opens(const std::string& dir) {
  attempt(dir + "/missing/.aws/credentials");
  attempt(dir + "/home/.aws/credentials");
  if (::geteuid() == 0) {
    const pid_t me = ::getpid();
    const pid_t child = ::fork();
    if (child == 0) {
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) std::_Exit(4);
      attempt(dir + "/home/.aws/credentials");
      attempt("/proc/" + std::to_string(me) + "/mem");
      std::_Exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 5;
  }
  const std::string locked = dir + "/locked/.aws/credentials";
  ::chmod(locked.c_str(), 0);
  attempt(locked);
  int ready[2];
  if (::pipe(ready) != 0) return 6;
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    std::_Exit(0);
  }
  char c;
  (void)!::read(ready[0], &c, 1);
  attempt("/proc/" + std::to_string(child) + "/mem");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return 0;
}

void* exit_now(void*) { std::_Exit(0); }

// Touches 64 MiB, then ends the process from a second thread (exit_group
// by a thread that does not lead its group, as Go's os.Exit may).
int exit_from_thread() {
  constexpr std::size_t kSize = 64u << 20;
  static char* volatile block = static_cast<char*>(std::malloc(kSize));
  for (std::size_t i = 0; i < kSize; i += 4096) block[i] = 1;
  pthread_t t;
  pthread_create(&t, nullptr, exit_now, nullptr);
  pthread_join(t, nullptr);
  return 1;  // not reached
}

// Reads process `pid`'s memory as a credential stealer would: 16 bytes at
// the start of its code (the address /proc/<pid>/stat gives a reader who
// may trace it) by process_vm_readv, then a PTRACE_SEIZE (the exit
// detaches). 0 when both succeeded.
int reach(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  char stat[4096] = {};
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  const ssize_t n = ::read(fd, stat, sizeof stat - 1);
  ::close(fd);
  const char* p = n > 0 ? std::strrchr(stat, ')') : nullptr;
  if (!p) return 1;
  // comm (field 2) may hold spaces: count from its ')'. Each space starts
  // the next field; startcode is field 26.
  unsigned long long code = 0;
  int field = 2;
  for (; *p && field < 26; ++p)
    if (*p == ' ' && ++field == 26) code = std::strtoull(p + 1, nullptr, 10);
  char buf[16];
  iovec local{buf, sizeof buf}, remote{reinterpret_cast<void*>(code), sizeof buf};
  const bool read = code && ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof buf);
  const bool attached = ::ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) == 0;
  return read && attached ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  g_prog = argv[0];
  if (argc < 2) return 2;
  const char* mode = argv[1];
  if (!std::strcmp(mode, "thread-exec")) {
    pthread_t t;
    pthread_create(&t, nullptr, exec_from_thread, nullptr);
    pthread_join(t, nullptr);
    return 121;
  }
  if (!std::strcmp(mode, "execveat")) {
    const int dir = ::open("/bin", O_PATH | O_DIRECTORY);
    char* args[] = {const_cast<char*>("true"), const_cast<char*>("via-execveat"), nullptr};
    char* env[] = {nullptr};
    ::syscall(SYS_execveat, dir, "true", args, env, 0);
    return 122;
  }
  if (!std::strcmp(mode, "vm-read")) {
    // Reads a child's memory, as a credential stealer would.
    const pid_t child = ::fork();
    if (child == 0) {
      ::pause();
      std::_Exit(0);
    }
    char buf[16];
    static char secret[16] = "not-a-secret";
    iovec local{buf, sizeof buf}, remote{secret, sizeof buf};
    ::process_vm_readv(child, &local, 1, &remote, 1, 0);
    ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    std::_Exit(0);  // the asan build's leak check would ptrace us too
  }
  if (!std::strcmp(mode, "trace-child")) {
    // Debugs a child of its own, as gdb, strace or LeakSanitizer do: works
    // only when the build is not ptraced itself.
    const pid_t child = ::fork();
    if (child == 0) {
      if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) std::_Exit(3);
      ::raise(SIGSTOP);
      std::_Exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFSTOPPED(status)) std::_Exit(1);  // no leak check: see vm-read
    ::ptrace(PTRACE_CONT, child, nullptr, nullptr);
    ::waitpid(child, &status, 0);
    std::_Exit(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
  }
  if (!std::strcmp(mode, "exit")) return std::atoi(argv[2]);
  // _Exit: the asan build's leak check cannot run under ptrace.
  if (!std::strcmp(mode, "open-calls") && argc > 2) std::_Exit(open_calls(argv[2]));
  if (!std::strcmp(mode, "refused-opens") && argc > 2) std::_Exit(refused_opens(argv[2]));
  if (!std::strcmp(mode, "exit-from-thread")) return exit_from_thread();
  if (!std::strcmp(mode, "reach") && argc > 2) std::_Exit(reach(static_cast<pid_t>(std::atoi(argv[2]))));
  return 2;
}

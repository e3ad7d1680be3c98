// A static test program for the wrap backend: does one thing a build might
// do in a way a shell cannot (exec from a thread, execveat, read another
// process's memory). Built with -static on purpose: capture must not
// depend on the dynamic loader.
#include <fcntl.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

char* g_prog = nullptr;

void* exec_from_thread(void*) {
  char* argv[] = {const_cast<char*>("/bin/echo"), const_cast<char*>("from-thread"), nullptr};
  ::execv(argv[0], argv);
  std::_Exit(120);
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
    ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);  // refused: already traced
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    return 0;
  }
  if (!std::strcmp(mode, "exit")) return std::atoi(argv[2]);
  return 2;
}

// Starting the build's first process under capture: fork, let the tracer
// seize the child before it runs anything, install the seccomp filter in
// it (with a listener when the kernel allows one), hand the listener over,
// exec the command. Every fd is owned (common/unique_fd.h): no error path
// leaks one, and a child already forked is killed on the way out.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace bt::agent::wrap {

struct Launched {
  pid_t pid = -1;
  // Where the child writes why its setup failed, if it did before its exec.
  UniqueFd errors;
  // The filter's notification fd; invalid when the child has none (a
  // nested run, some container runtimes): its opens then stop under ptrace.
  UniqueFd listener;
};

// Forks `command`, seized by the calling thread (which becomes its tracer)
// with the ptrace options both trees need. `detached`: the filter sends
// execs to the listener too (the detached tree). The child is stopped or
// waiting in its exec when this returns.
Result<Launched> launch(const std::vector<std::string>& command, bool detached);

// Why a launched command never ran, from what its child wrote to `errors`:
// kUnavailable (no filter), kNotFound (no such program), or kInternal.
Error launch_failure(const UniqueFd& errors, const std::string& program);

// Kills a launched child that will not be traced, and reaps it.
void abandon(pid_t pid);

}  // namespace bt::agent::wrap

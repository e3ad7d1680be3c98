// Once the BPF programs are attached, the daemon needs almost none of
// root's power: it keeps only what reading other users' build files and
// /proc entries takes, and can never regain the rest.
#pragma once

#include <string>

#include "common/result.h"

namespace bt::agent::runtime {

// Keeps CAP_DAC_READ_SEARCH (digests of any build's executables and
// uploads) and CAP_SYS_PTRACE (/proc/<pid>/exe and environ of other
// users); drops every other capability from the effective, permitted,
// inheritable and bounding sets, and sets no_new_privs.
Status drop_privileges();

// "CapEff" of /proc/self/status, for logs and tests.
std::string effective_capabilities();

}  // namespace bt::agent::runtime

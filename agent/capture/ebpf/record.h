/* The records the sensor's BPF programs write to the ring buffer: one
 * layout, shared by sensor.bpf.c and the user-space decoder (decode.cpp).
 * Plain C with fixed-width fields so both compilers agree on every offset.
 * Every record starts with bt_header; variable parts (strings, DNS
 * payloads) follow the fixed part and are bounded by header.size. */
#ifndef BUILDTRAIL_AGENT_EBPF_RECORD_H
#define BUILDTRAIL_AGENT_EBPF_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BT_ARGV_MAX 8192    /* argv bytes kept per exec (NUL-separated) */
#define BT_ENV_MAX 16384    /* environment bytes read for a build's first exec (power of two) */
#define BT_ENV_NAME_MAX 64  /* an allowed variable's name, NUL-padded (the allow-list's key) */
#define BT_ENV_VAR_MAX 1024 /* an allowed NAME=value kept whole up to this, else dropped */
#define BT_ENV_TRIES 32     /* execs of a build whose environment is read until one names it */
#define BT_PATH_MAX 4096    /* path bytes (power of two: used as a mask) */
#define BT_DNS_MAX 512      /* DNS payload bytes kept per answer */
#define BT_NAME_MAX 64      /* a path component in the secret-file filter */
#define BT_PARENT_MAX 32    /* the parent directory's name in the filter */
#define BT_GLOBS_MAX 16     /* basename globs in the filter */
#define BT_GLOB_PART 16     /* a glob's literal prefix or suffix */
#define BT_SUN_PATH_MAX 112 /* a Unix socket peer's name: sun_path's 108 bytes, padded */

enum bt_kind {
  BT_FORK = 1,
  BT_EXEC = 2,
  BT_EXIT = 3,
  BT_OPEN = 4,
  BT_CONNECT = 5,
  BT_DNS = 6,
  BT_PROC_ACCESS = 7,
  BT_RUNNER = 8,       /* an untracked process exec'd a program named like a CI runner */
  BT_FILE = 16,        /* a tracked process changed a file (bt_file) */
  BT_PROC_OPEN = 24,   /* another process's /proc/<pid>/{environ,mem,maps} opened, with facts about it */
  BT_OPEN_FAILED = 32, /* an open the secret filter passed failed: EACCES, EPERM, ENOENT (bt_open_failed) */
};

enum bt_flags {
  BT_F_NEW_BUILD = 1,         /* fork: the parent is a runner, the child starts a build */
  BT_F_ARGV_TRUNCATED = 2,    /* exec: argv longer than BT_ARGV_MAX */
  BT_F_ENV = 4,               /* exec: a build's first; its allowed environment variables follow argv */
  BT_F_WRITE = 8,             /* open: opened for writing */
  BT_F_RUNNER_CONFIRMED = 16, /* runner: the name alone makes it a runner (already tracked) */
  BT_F_PTRACE = 32,           /* proc_access: ptrace attach (else process_vm_readv) */
  BT_F_JOINED = 64,           /* exec: an untracked process joined a build by the cgroup of its container */
  BT_F_TARGET_RUNNER = 128,   /* proc_open, proc_access: the target is a runner the kernel tracks (`runners`) */
  BT_F_TARGET_KNOWN = 256,    /* proc_access: the kernel found the target (bt_target filled) */
};

/* bt_file.op */
enum bt_file_op {
  BT_FOP_OPEN = 1,     /* a write-open that passed the watch filter (path, flags, created, fd) */
  BT_FOP_RENAME = 3,   /* path, dir; path2, dir2 */
  BT_FOP_UNLINK = 4,   /* path, dir */
  BT_FOP_CHMOD = 5,    /* path, dir (or the fd's path); flags: the mode, with an execute bit */
  BT_FOP_TRUNCATE = 6, /* path, dir */
};
#define BT_WATCH_DEPTH 8 /* ancestors the watch filter looks at for rules ending in "**" */
enum bt_loss {
  BT_LOSS_RING_FULL = 0,       /* the ring buffer had no room for a record */
  BT_LOSS_TRACKED_FULL = 1,    /* the tracked-process map was full: a process went untracked */
  BT_LOSS_READ_FAILED = 2,     /* a record could not be read from the kernel (argv, path) */
  BT_LOSS_CONTENDED = 3,       /* a preempting program reused the CPU's scratch area */
  BT_LOSS_PROVENANCE_FULL = 4, /* the written-files map was full: a write is not remembered for provenance */
  BT_LOSS_MAX = 5,
};

struct bt_header {
  __u16 kind;
  __u16 flags;
  __u32 size;    /* whole record, header included */
  __u64 time_ns; /* CLOCK_BOOTTIME */
  __u32 tgid;
  __u32 root_tgid;     /* the build's first process; 0 outside builds (record-all) */
  __u64 root_start_ns; /* its start time: with root_tgid, the build key */
  __u64 start_ns;      /* the process's start time (CLOCK_BOOTTIME) */
};

struct bt_fork {
  struct bt_header h; /* h.tgid, h.start_ns: the child */
  __u32 parent_tgid;
  __u32 pad;
};

/* A standard descriptor at exec: what its inode is (user space tells the
 * kind, capture/stdio.h) and, for a socket, its peer. */
struct bt_stdio {
  __u32 mode; /* the inode's i_mode; 0: no file at this descriptor */
  __u32 rdev; /* i_rdev, the kernel's encoding: major << 20 | minor */
  __u64 ino;
  __u16 family;               /* a socket's: AF_INET, AF_INET6, AF_UNIX... */
  __u16 port;                 /* its peer's, host order; 0: not connected */
  __u32 path_len;             /* AF_UNIX: bytes of the peer's sun_path (0: unnamed) */
  __u8 addr[16];              /* its peer's address (AF_INET: the first 4 bytes) */
  char path[BT_SUN_PATH_MAX]; /* AF_UNIX: the peer's sun_path (abstract: starts with NUL) */
};

struct bt_exec {
  struct bt_header h;
  __u32 ppid;
  __u32 uid;
  __u32 argv_len; /* bytes of argv after the paths */
  __u32 env_len;  /* bytes of environment after argv (BT_F_ENV) */
  __u16 exe_len;  /* including the NUL */
  __u16 cwd_len;
  __u32 pad;
  struct bt_stdio stdio[3]; /* descriptors 0, 1, 2 after the exec */
  __u32 writer_tgid;        /* the build process that last opened the executable for writing; 0: none */
  __u32 pad2;
  __u64 writer_start_ns;
  /* then: exe, cwd, argv, env */
};

struct bt_exit {
  struct bt_header h;
  __s32 exit_code; /* the wait status: (code << 8) | signal */
  __u32 pad;
  __u64 utime_ns;     /* the thread group's user CPU time (children not included) */
  __u64 stime_ns;     /* its system CPU time */
  __u64 maxrss_bytes; /* its peak RSS (signal->maxrss: across exec, as ru_maxrss) */
};

struct bt_open {
  struct bt_header h; /* h.flags: BT_F_WRITE */
  __u32 path_len;     /* including the NUL */
  __u32 pad;
  /* then: path */
};

/* An open by a tracked process that failed with EACCES, EPERM or ENOENT
 * and whose name passed the secret-file filter (checked on the name as
 * given: there is no file). */
struct bt_open_failed {
  struct bt_header h; /* h.flags: BT_F_WRITE (the flags asked for writing) */
  __s32 result;       /* -EACCES, -EPERM or -ENOENT */
  /* Lengths with the NUL: the name as the caller gave it, and for a
   * relative one the folder the kernel resolved it against (cwd or dirfd;
   * 0 when absolute or not known). */
  __u16 path_len, dir_len;
  /* then: path, dir */
};

struct bt_connect {
  struct bt_header h;
  __u16 family;    /* AF_INET, AF_INET6 */
  __u16 sock_type; /* SOCK_STREAM, SOCK_DGRAM */
  __u16 dport;     /* host order */
  __u16 pad;
  __s32 result; /* 0 or -errno */
  __u32 pad2;
  __u8 daddr[16];
};

struct bt_dns {
  struct bt_header h;
  __u16 family;
  __u16 sport; /* the server's port, host order */
  __u32 payload_len;
  __u8 saddr[16]; /* the server */
  /* then: payload (the DNS message) */
};

/* Another process a tracked process reached into (its /proc files, its
 * memory by ptrace or process_vm_readv), as the kernel knew it at the
 * call: it may be gone when user space reads the record, so both modes
 * classify the same facts (agent/enrich/rules/runners.h is_runner()). */
struct bt_target {
  __u64 start_ns; /* CLOCK_BOOTTIME: with the tgid, the target's process key */
  char comm[16];  /* its task name (the thread group leader's) */
  __u32 tgid;     /* in the initial pid namespace */
  __u16 exe_len;  /* including the NUL; 0: no executable (a kernel thread, a zombie) */
  __u16 pad;
};

/* ptrace attach or process_vm_readv by a tracked process, at its exit. */
struct bt_proc_access {
  struct bt_header h;      /* h.flags: BT_F_PTRACE, BT_F_TARGET_KNOWN, BT_F_TARGET_RUNNER */
  struct bt_target target; /* without BT_F_TARGET_KNOWN only tgid: the pid the caller gave */
  __s32 result;
  __u32 pad;
  /* then: target exe */
};

struct bt_runner {
  struct bt_header h; /* h.flags: BT_F_RUNNER_CONFIRMED */
};

/* A tracked process opened /proc/<pid>/{environ,mem,maps} of another
 * process: the target as the kernel knew it at the open. */
struct bt_proc_open {
  struct bt_header h; /* h.flags: BT_F_WRITE, BT_F_TARGET_RUNNER */
  struct bt_target target;
  __u32 path_len; /* including the NUL */
  __u32 pad;
  /* then: path, target exe */
};

struct bt_file {
  struct bt_header h;
  __u16 op;      /* bt_file_op */
  __u16 created; /* open: the call created the file (FMODE_CREATED) */
  __u32 flags;   /* open: the O_* flags; chmod: the mode */
  __u64 dev;     /* open: the file's device (kernel encoding) and inode */
  __u64 ino;
  __s32 fd; /* open: the new descriptor */
  /* Lengths with the NUL, 0 when absent: a name as the caller gave it, and
   * the folder a relative one is resolved against (cwd or dirfd). */
  __u16 path_len, dir_len, path2_len, dir2_len;
  __u32 pad;
  /* then: path, dir, path2, dir2 */
};

/* Exec provenance: a file a build process opened for writing, by device
 * and inode -> its last writer and the build. */
struct bt_file_key {
  __u64 dev;
  __u64 ino;
};
struct bt_writer {
  __u32 tgid;
  __u32 root_tgid;
  __u64 start_ns;
  __u64 root_start_ns;
};

/* The secret-file filter: user space compiles the secret rules into these.
 * A name entry matches a basename exactly, optionally only under a parent
 * directory of a given name; a glob matches a basename's literal ends,
 * optionally under a parent of a given name (empty parent: any). */
struct bt_name_key {
  char parent[BT_PARENT_MAX];
  char name[BT_NAME_MAX];
};

enum bt_name_flags {
  BT_NAME_SECRET = 1,
  BT_NAME_PROC = 2,        /* /proc/<pid>/<name>: only when <pid> is another process */
  BT_NAME_NEED_PARENT = 4, /* basenames only: a (parent, name) entry decides */
};

struct bt_glob {
  char parent[BT_PARENT_MAX]; /* empty: any */
  char prefix[BT_GLOB_PART];
  char suffix[BT_GLOB_PART];
  __u32 prefix_len;
  __u32 suffix_len;
};

/* Tracked processes: tgid -> the build they belong to. */
struct bt_tracked {
  __u32 root_tgid;
  __u32 env_wanted; /* on the build root: execs left whose environment is read */
  __u64 root_start_ns;
  __u32 udp53;         /* connected a UDP socket to port 53: its read()s may be DNS answers */
  __u32 runner_mntns;  /* the runner's mount namespace and cgroup: a process */
  __u64 runner_cgroup; /* in others is in a container the build started */
};

/* Runner names (the runner_comms map: task name or executable file name
 * -> these flags) and their arguments (runner_args: name and argument ->
 * 1), matched at exec: see attribution::task_names(). */
enum bt_runner_how {
  BT_RUNNER_BY_NAME = 1, /* the name alone makes a runner */
  BT_RUNNER_ASK = 2,     /* else user space may confirm it from /proc */
  BT_RUNNER_BY_ARG = 4,  /* else an argument in runner_args does */
};

struct bt_runner_arg {
  char name[16];         /* NUL-padded, at most 15 bytes */
  char arg[BT_NAME_MAX]; /* an argument or a path's last component, NUL-padded */
};

/* The layout both compilers must agree on, checked by each: a field added,
 * moved or resized in one place only fails the build of the BPF object or
 * of the decoder, never a record at run time. */
#ifdef __cplusplus
#define BT_ASSERT_LAYOUT(cond) static_assert(cond, #cond)
#else
#define BT_ASSERT_LAYOUT(cond) _Static_assert(cond, #cond)
#endif
#define BT_OFFSET(type, field) __builtin_offsetof(struct type, field)
BT_ASSERT_LAYOUT(sizeof(struct bt_header) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_header, size) == 4);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_header, time_ns) == 8);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_header, tgid) == 16);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_header, root_tgid) == 20);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_header, root_start_ns) == 24);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_header, start_ns) == 32);
BT_ASSERT_LAYOUT(sizeof(struct bt_fork) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_fork, parent_tgid) == 40);
BT_ASSERT_LAYOUT(sizeof(struct bt_exec) == 64 + 3 * 152 + 16);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, writer_tgid) == 64 + 3 * 152);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, writer_start_ns) == 64 + 3 * 152 + 8);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, ppid) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, uid) == 44);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, argv_len) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, env_len) == 52);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, exe_len) == 56);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, cwd_len) == 58);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exec, stdio) == 64);
BT_ASSERT_LAYOUT(sizeof(struct bt_stdio) == 152);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_stdio, ino) == 8);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_stdio, family) == 16);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_stdio, port) == 18);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_stdio, path_len) == 20);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_stdio, addr) == 24);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_stdio, path) == 40);
BT_ASSERT_LAYOUT(sizeof(struct bt_exit) == 72);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exit, exit_code) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exit, utime_ns) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_exit, maxrss_bytes) == 64);
BT_ASSERT_LAYOUT(sizeof(struct bt_open) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_open, path_len) == 40);
BT_ASSERT_LAYOUT(sizeof(struct bt_open_failed) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_open_failed, result) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_open_failed, path_len) == 44);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_open_failed, dir_len) == 46);
BT_ASSERT_LAYOUT(sizeof(struct bt_connect) == 72);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_connect, family) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_connect, sock_type) == 42);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_connect, dport) == 44);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_connect, result) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_connect, daddr) == 56);
BT_ASSERT_LAYOUT(sizeof(struct bt_dns) == 64);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_dns, family) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_dns, sport) == 42);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_dns, payload_len) == 44);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_dns, saddr) == 48);
BT_ASSERT_LAYOUT(sizeof(struct bt_target) == 32);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_target, comm) == 8);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_target, tgid) == 24);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_target, exe_len) == 28);
BT_ASSERT_LAYOUT(sizeof(struct bt_proc_access) == 80);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_proc_access, target) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_proc_access, result) == 72);
BT_ASSERT_LAYOUT(sizeof(struct bt_runner) == 40);
BT_ASSERT_LAYOUT(sizeof(struct bt_proc_open) == 80);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_proc_open, target) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_proc_open, path_len) == 72);
BT_ASSERT_LAYOUT(sizeof(struct bt_file) == 80);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, op) == 40);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, flags) == 44);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, dev) == 48);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, ino) == 56);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, fd) == 64);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, path_len) == 68);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_file, dir2_len) == 74);
BT_ASSERT_LAYOUT(sizeof(struct bt_writer) == 24);
BT_ASSERT_LAYOUT(sizeof(struct bt_name_key) == BT_PARENT_MAX + BT_NAME_MAX);
BT_ASSERT_LAYOUT(sizeof(struct bt_glob) == BT_PARENT_MAX + 2 * BT_GLOB_PART + 8);
BT_ASSERT_LAYOUT(sizeof(struct bt_tracked) == 32);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_tracked, root_start_ns) == 8);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_tracked, udp53) == 16);
BT_ASSERT_LAYOUT(BT_OFFSET(bt_tracked, runner_cgroup) == 24);
BT_ASSERT_LAYOUT(sizeof(struct bt_runner_arg) == 16 + BT_NAME_MAX);
#undef BT_OFFSET
#undef BT_ASSERT_LAYOUT

#endif

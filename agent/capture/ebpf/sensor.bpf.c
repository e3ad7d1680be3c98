// SPDX-License-Identifier: GPL-2.0
/* The daemon's kernel half. Tracks the descendants of CI runner processes
 * in a map from fork, so everything outside builds is dropped here, and
 * reports, for tracked processes only: fork, exec (exe, cwd, argv, and the
 * environment of a build's first exec for attribution), exit, connect, DNS
 * answers, opens that pass the secret-file filter, ptrace attach and
 * process_vm_readv. Raw tracepoints with BTF only (tp_btf): no tracefs,
 * and no fentry/LSM trampolines, which many kernels (this CI's among them)
 * cannot load. Any record that cannot be written is counted in `loss`. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "agent/capture/ebpf/record.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define AF_UNIX 1
#define FMODE_WRITE 0x2
#define EINPROGRESS 115

/* Set by user space before load. */
const volatile bool record_all = false; /* track every process, not only builds */
const volatile bool any_name = false;   /* a secret rule can match any basename */
const volatile __u32 n_globs = 0;       /* entries used in secret_globs */
const volatile __u32 self_tgid = 0;
const volatile __u64 wake_bytes = 256 << 10; /* wake the reader past this much unread data */

/* Set once a tracked process connected a UDP socket to port 53: until then
 * no read() can be a DNS answer and reads are not even looked up. */
__u32 udp53_seen = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct bt_tracked);
} tracked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u8);
} runners SEC(".maps");

/* Task name or executable file name -> bt_runner_how (record.h). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, char[16]);
  __type(value, __u8);
} runner_comms SEC(".maps");

/* (runner name, argument) -> 1: the arguments that make a process of that
 * name a runner (a Jenkins agent is `java` with agent.jar). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct bt_runner_arg);
  __type(value, __u8);
} runner_args SEC(".maps");

/* The state of a walk over a runner candidate's arguments (arg_step). */
struct arg_walk {
  __u64 owner; /* as scratch.owner: a preempting walk makes this one undecided */
  __u32 len;   /* bytes in buf */
  __u32 comp;  /* bytes of the current path component in key.arg */
  __u8 long_comp, first, found, pad;
  __u32 pad2;
  struct bt_runner_arg key;
  char buf[BT_ARGV_MAX];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct arg_walk);
} runner_walk SEC(".maps");

/* The secret-file filter (user space compiles it from the rules, see
 * agent/capture/ebpf/filter.h): basename -> bt_name_flags; (parent, basename) ->
 * flags for names that need their parent directory; up to BT_GLOBS_MAX
 * basename globs. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, char[BT_NAME_MAX]);
  __type(value, __u16);
} secret_basenames SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct bt_name_key);
  __type(value, __u16);
} secret_pairs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, BT_GLOBS_MAX);
  __type(key, __u32);
  __type(value, struct bt_glob);
} secret_globs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BT_LOSS_MAX);
  __type(key, __u32);
  __type(value, __u64);
} loss SEC(".maps");

/* Cgroups (v2) a build's processes created -- a container it started --
 * -> that build: a process exec'd inside one (a `podman exec` from outside
 * the build's lineage) belongs to the build. */
struct bt_build_key {
  __u32 root_tgid;
  __u32 pad;
  __u64 root_start_ns;
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct bt_build_key);
} build_cgroups SEC(".maps");

/* ---- file writes: the watch filter and provenance ----
 * The watch filter (user space compiles the watch rules into it, see
 * agent/capture/ebpf/filter.h) passes a write-open when its basename is in
 * watch_names, has a glob's literal ends (watch_globs), or one of its
 * BT_WATCH_DEPTH nearest ancestors is in watch_dirs within the depth its
 * value allows. */
const volatile bool watch_any = false; /* a watch rule can match any path: no filtering */
const volatile __u32 n_watch_globs = 0;
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, char[BT_NAME_MAX]);
  __type(value, __u8);
} watch_names SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, BT_GLOBS_MAX);
  __type(key, __u32);
  __type(value, struct bt_glob);
} watch_globs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, char[BT_NAME_MAX]);
  __type(value, __u8); /* the deepest level below it a match may be */
} watch_dirs SEC(".maps");

/* Every file a build process opened for writing -> its last writer, looked
 * up at exec (written_by); user space deletes a build's entries once it
 * has read the records before its first process's exit (an interpreter's
 * script is looked up from there). A full map loses writes, counted
 * (BT_LOSS_PROVENANCE_FULL). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct bt_file_key);
  __type(value, struct bt_writer);
} written SEC(".maps");

/* Per-CPU scratch for records too big for the stack. A plain array indexed
 * by CPU: per-CPU map values are limited to 32 KiB. */
#define BT_REC_MAX 36864
/* The state of a walk over an environment (env_step). */
struct env_walk {
  __u32 len; /* bytes in scratch.env */
  __u32 out; /* bytes kept in scratch.envout */
  __u32 cur; /* bytes of the current string copied after them */
  __u32 name_len;
  __u8 in_name, allowed;
  char name[BT_ENV_NAME_MAX];
};

struct scratch {
  __u64 owner; /* who is building a record here: see claim() */
  struct env_walk walk;
  char rec[BT_REC_MAX];
  char tmp[2 * BT_PATH_MAX];
  char env[BT_ENV_MAX];    /* a first exec's environment, as read */
  char envout[BT_ENV_MAX]; /* the allowed variables of it */
};

/* The environment variables that may leave the kernel: the CI systems'
 * identity variables (agent/enrich/rules/attribution), never a secret one. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 512);
  __type(key, char[BT_ENV_NAME_MAX]);
  __type(value, __u8);
} env_allow SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1); /* set to the number of CPUs by user space */
  __type(key, __u32);
  __type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline void count_loss(__u32 reason) {
  __u64* n = bpf_map_lookup_elem(&loss, &reason);
  if (n) *n += 1;
}

static __always_inline struct scratch* scratch_buf(void) {
  __u32 cpu = bpf_get_smp_processor_id();
  return bpf_map_lookup_elem(&scratch, &cpu);
}

static __always_inline __u64 task_start_ns(struct task_struct* t) {
  return BPF_CORE_READ(t, group_leader, start_boottime);
}

/* The build `tgid` belongs to, or null outside builds. With record_all,
 * an untracked process is reported under root 0 (fake entry in `out`). */
static __always_inline struct bt_tracked* build_of(__u32 tgid, struct bt_tracked* out) {
  struct bt_tracked* t = bpf_map_lookup_elem(&tracked, &tgid);
  if (t || !record_all || tgid == self_tgid) return t;
  __builtin_memset(out, 0, sizeof(*out));
  return out;
}

static __always_inline void fill_header(struct bt_header* h, __u16 kind, __u32 size, __u32 tgid,
                                        const struct bt_tracked* t, __u64 start_ns) {
  h->kind = kind;
  h->flags = 0;
  h->size = size;
  h->time_ns = bpf_ktime_get_boot_ns();
  h->tgid = tgid;
  h->root_tgid = t ? t->root_tgid : 0;
  h->root_start_ns = t ? t->root_start_ns : 0;
  h->start_ns = start_ns;
}

/* Waking the reader for every record costs the build an IPI and the reader
 * a context switch each; the reader polls every few tens of milliseconds
 * anyway, so it is woken only once a good part of the ring is filled. */
static __always_inline __u64 wakeup(void) {
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* A fixed-size record in the ring, or null (counted as ring_full). */
static __always_inline void* reserve(__u64 size) {
  void* r = bpf_ringbuf_reserve(&events, size, 0);
  if (!r) count_loss(BT_LOSS_RING_FULL);
  return r;
}

static __always_inline void submit(void* rec, __u64 size) {
  if (bpf_ringbuf_output(&events, rec, size, wakeup())) count_loss(BT_LOSS_RING_FULL);
}

/* A program can be preempted (migration stays disabled) and another one
 * run on the same CPU and reuse the scratch area: each record built there
 * is claimed first, and dropped -- counted -- if someone else claimed the
 * area before it was sent. */
static __always_inline struct scratch* claim_scratch(__u64* me) {
  struct scratch* s = scratch_buf();
  if (!s) return 0;
  *me = bpf_ktime_get_ns() ^ bpf_get_current_pid_tgid();
  s->owner = *me;
  return s;
}

static __always_inline void submit_claimed(struct scratch* s, __u64 me, __u64 size) {
  if (s->owner != me) {
    count_loss(BT_LOSS_CONTENDED);
    return;
  }
  submit(s->rec, size);
}

/* ---- processes ---- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(bt_fork, struct task_struct* parent, struct task_struct* child) {
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0; /* a thread */
  __u32 ptgid = BPF_CORE_READ(parent, tgid);
  __u32 ctgid = BPF_CORE_READ(child, tgid);
  __u64 cstart = BPF_CORE_READ(child, start_boottime);
  struct bt_tracked entry = {};
  __u16 flags = 0;
  struct bt_tracked* pt = bpf_map_lookup_elem(&tracked, &ptgid);
  if (pt) {
    entry = *pt;
    entry.env_wanted = 0; /* the build root's counts (bt_exec) */
  } else if (bpf_map_lookup_elem(&runners, &ptgid)) {
    entry.root_tgid = ctgid;
    entry.root_start_ns = cstart;
    entry.env_wanted = BT_ENV_TRIES;
    entry.runner_cgroup = bpf_get_current_cgroup_id(); /* the runner forks */
    entry.runner_mntns = BPF_CORE_READ(parent, nsproxy, mnt_ns, ns.inum);
    flags = BT_F_NEW_BUILD;
  } else if (!record_all || ptgid == self_tgid) {
    return 0;
  }
  if ((pt || flags) && bpf_map_update_elem(&tracked, &ctgid, &entry, BPF_ANY)) count_loss(BT_LOSS_TRACKED_FULL);
  struct bt_fork* r = reserve(sizeof(*r));
  if (!r) return 0;
  fill_header(&r->h, BT_FORK, sizeof(*r), ctgid, &entry, cstart);
  r->h.flags = flags;
  r->parent_tgid = ptgid;
  r->pad = 0;
  bpf_ringbuf_submit(r, wakeup());
  return 0;
}

/* The resource use of the thread group `p` is the last thread of, at
 * sched_process_exit (group dead: signal->live is 0). Threads that
 * exited before were released and added their times to signal->utime/
 * stime (__exit_signal); `p` and a zombie leader have not yet. do_exit
 * folds the mm's high-water RSS into signal->maxrss before this
 * tracepoint (and exec folds the old mm's), so maxrss is the peak over the
 * process's life; the mm's own high-water mark is taken too, in case. The
 * times are the kernel's accounting (tick-sampled unless the kernel has
 * precise accounting), unscaled; children are not included (cutime). */
static __always_inline void exit_usage(struct task_struct* p, struct bt_exit* r) {
  struct signal_struct* sig = BPF_CORE_READ(p, signal);
  struct task_struct* leader = BPF_CORE_READ(p, group_leader);
  __u64 utime = BPF_CORE_READ(sig, utime) + BPF_CORE_READ(p, utime);
  __u64 stime = BPF_CORE_READ(sig, stime) + BPF_CORE_READ(p, stime);
  if (leader != p) {
    utime += BPF_CORE_READ(leader, utime);
    stime += BPF_CORE_READ(leader, stime);
  }
  __u64 pages = BPF_CORE_READ(sig, maxrss);
  __u64 hiwater = BPF_CORE_READ(p, mm, hiwater_rss); /* 0 once the mm is gone */
  if (hiwater > pages) pages = hiwater;
  r->utime_ns = utime;
  r->stime_ns = stime;
  r->maxrss_bytes = pages << 12; /* x86_64 pages (the daemon's only target) */
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(bt_exit, struct task_struct* p) {
  /* Once per process: when its last thread exits (signal->live hit 0). */
  if (BPF_CORE_READ(p, signal, live.counter) != 0) return 0;
  __u32 tgid = BPF_CORE_READ(p, tgid);
  bpf_map_delete_elem(&runners, &tgid);
  struct bt_tracked fake, *t = build_of(tgid, &fake);
  if (!t) return 0;
  struct bt_exit* r = reserve(sizeof(*r));
  if (r) {
    fill_header(&r->h, BT_EXIT, sizeof(*r), tgid, t, task_start_ns(p));
    r->exit_code = BPF_CORE_READ(p, exit_code);
    r->pad = 0;
    exit_usage(p, r);
    bpf_ringbuf_submit(r, wakeup());
  }
  bpf_map_delete_elem(&tracked, &tgid);
  return 0;
}

/* A build's process running in a container: its cgroup (v2, the id
 * bpf_get_current_cgroup_id() returns) becomes the build's, so processes
 * exec'd into that container from outside the build's lineage join it. A
 * container is told by its mount namespace; the runner's own cgroup is
 * never taken, so processes outside builds stay outside. */
static __always_inline void adopt_container_cgroup(struct task_struct* p, const struct bt_tracked* t) {
  __u32 mntns = BPF_CORE_READ(p, nsproxy, mnt_ns, ns.inum);
  __u64 cg = bpf_get_current_cgroup_id();
  if (mntns == t->runner_mntns || cg == t->runner_cgroup) return;
  struct bt_build_key key = {.root_tgid = t->root_tgid, .root_start_ns = t->root_start_ns};
  bpf_map_update_elem(&build_cgroups, &cg, &key, BPF_NOEXIST);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(bt_cgroup_rmdir, struct cgroup* cgrp, const char* path) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task_btf();
  if (BPF_CORE_READ(cgrp, root) != BPF_CORE_READ(task, cgroups, dfl_cgrp, root)) return 0; /* a v1 hierarchy */
  __u64 id = BPF_CORE_READ(cgrp, kn, id);
  bpf_map_delete_elem(&build_cgroups, &id);
  return 0;
}

/* An untracked process exec'd in a container a build started: it joins the build. */
static __always_inline struct bt_tracked* join_by_cgroup(struct task_struct* p, __u32 tgid) {
  __u64 cg = bpf_get_current_cgroup_id();
  struct bt_build_key* key = bpf_map_lookup_elem(&build_cgroups, &cg);
  if (!key) return 0;
  /* Its runner's cgroup and namespace are unknown: none is adopted. */
  struct bt_tracked entry = {.root_tgid = key->root_tgid,
                             .root_start_ns = key->root_start_ns,
                             .runner_cgroup = cg,
                             .runner_mntns = BPF_CORE_READ(p, nsproxy, mnt_ns, ns.inum)};
  if (bpf_map_update_elem(&tracked, &tgid, &entry, BPF_ANY)) {
    count_loss(BT_LOSS_TRACKED_FULL);
    return 0;
  }
  return bpf_map_lookup_elem(&tracked, &tgid);
}

/* Writes `path` (a dentry walk up to the real root, crossing mounts) into
 * the scratch tmp area, ending at tmp[BT_PATH_MAX - 1]; returns its start
 * offset. bpf_d_path is not allowed in sched_process_exec, hence the walk;
 * one bpf_loop step per component keeps the verifier's work constant. */
#define BT_PATH_DEPTH 64
struct walk {
  struct dentry* dentry;
  struct mount* mnt;
  __u32 off;
};

static long walk_step(__u64 index, void* ctx) {
  struct walk* w = ctx;
  struct scratch* s = scratch_buf();
  if (!s) return 1;
  /* Locals: BPF_CORE_READ would relocate w->mnt itself. */
  struct mount* mnt = w->mnt;
  struct dentry* dentry = w->dentry;
  struct dentry* root = BPF_CORE_READ(mnt, mnt.mnt_root);
  struct dentry* parent = BPF_CORE_READ(dentry, d_parent);
  if (dentry == root || dentry == parent) {
    struct mount* up = BPF_CORE_READ(mnt, mnt_parent);
    if (up == mnt) return 1; /* the real root */
    w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = up;
    return 0;
  }
  struct qstr name = BPF_CORE_READ(dentry, d_name);
  __u32 len = name.len & 255;
  if (len + 1 >= w->off) return 1; /* no room: keep the deepest components */
  __u32 off = w->off - len;
  bpf_probe_read_kernel(&s->tmp[off & (BT_PATH_MAX - 1)], len, name.name);
  off -= 1;
  s->tmp[off & (BT_PATH_MAX - 1)] = '/';
  w->off = off;
  w->dentry = parent;
  return 0;
}

static __always_inline __u32 walk_path(struct path* path, char* tmp) {
  struct vfsmount* vfsmnt = BPF_CORE_READ(path, mnt);
  struct walk w = {
      .dentry = BPF_CORE_READ(path, dentry),
      .mnt = container_of(vfsmnt, struct mount, mnt),
      .off = BT_PATH_MAX - 1,
  };
  tmp[BT_PATH_MAX - 1] = 0;
  bpf_loop(BT_PATH_DEPTH, walk_step, &w, 0);
  __u32 off = w.off;
  if (off == BT_PATH_MAX - 1) {
    off -= 1;
    tmp[off & (BT_PATH_MAX - 1)] = '/';
  }
  return off & (BT_PATH_MAX - 1);
}

/* Copies the walked path into `dst`; returns its length with the NUL. */
static __always_inline __u32 put_path(struct path* path, char* tmp, char* dst) {
  __u32 off = walk_path(path, tmp);
  __u32 len = BT_PATH_MAX - off;
  if (len > BT_PATH_MAX) len = BT_PATH_MAX;
  if (len == 0) return 0;
  bpf_probe_read_kernel(dst, len, &tmp[off]);
  return len;
}

static __always_inline void arg_restart(struct arg_walk* w) {
  w->comp = 0;
  w->long_comp = 0;
  __builtin_memset(w->key.arg, 0, sizeof(w->key.arg));
}

/* One bpf_loop step per byte of argv: the last path component of each
 * argument after the program is looked up in runner_args (an argument is
 * the rule's, or a path ending in /it, as attribution::match_runner()
 * says). State in the map value, as env_step's. */
static long arg_step(__u32 i, void* ctx) {
  __u32 zero = 0;
  struct arg_walk* w = bpf_map_lookup_elem(&runner_walk, &zero);
  if (!w) return 1;
  if (i >= w->len || i >= BT_ARGV_MAX) return 1;
  __u32 in = i;
  barrier_var(in);
  char c = w->buf[in & (BT_ARGV_MAX - 1)];
  if (c == 0) {
    if (!w->first && !w->long_comp && w->comp > 0 && bpf_map_lookup_elem(&runner_args, &w->key)) {
      w->found = 1;
      return 1;
    }
    w->first = 0;
    arg_restart(w);
  } else if (c == '/') {
    arg_restart(w);
  } else if (w->comp < BT_NAME_MAX - 1) {
    __u32 n = w->comp;
    barrier_var(n);
    w->key.arg[n & (BT_NAME_MAX - 1)] = c;
    w->comp++;
  } else {
    w->long_comp = 1;
  }
  return 0;
}

/* Whether an argument of `p` (just exec'd) makes it runner `name`: 1 yes,
 * 0 no, -1 cannot tell (argv unreadable, longer than BT_ARGV_MAX, or the
 * walk preempted): user space decides then. */
static __always_inline int runner_by_args(struct task_struct* p, const char* name) {
  __u32 zero = 0;
  struct arg_walk* w = bpf_map_lookup_elem(&runner_walk, &zero);
  if (!w) return -1;
  __u64 me = bpf_ktime_get_ns() ^ bpf_get_current_pid_tgid();
  w->owner = me;
  struct mm_struct* mm = BPF_CORE_READ(p, mm);
  __u64 start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
  __u64 len = end > start ? end - start : 0;
  bool truncated = len > BT_ARGV_MAX;
  if (truncated) len = BT_ARGV_MAX;
  if (len == 0 || bpf_probe_read_user(w->buf, len, (void*)start)) return -1;
  __builtin_memcpy(w->key.name, name, sizeof(w->key.name));
  arg_restart(w);
  w->len = len;
  w->first = 1;
  w->found = 0;
  bpf_loop(BT_ARGV_MAX, arg_step, 0, 0);
  if (w->owner != me) return -1;
  if (w->found) return 1;
  return truncated ? -1 : 0;
}

/* What runner_comms says of `name`, with the arguments checked: sets
 * *decided when `p` is that runner. */
static __always_inline __u8 runner_how(struct task_struct* p, const char* name, bool* decided) {
  __u8* v = bpf_map_lookup_elem(&runner_comms, name);
  if (!v) return 0;
  __u8 how = *v;
  if (how & BT_RUNNER_BY_NAME) {
    *decided = true;
  } else if (how & BT_RUNNER_BY_ARG) {
    int m = runner_by_args(p, name);
    if (m > 0) *decided = true;
    if (m < 0) how |= BT_RUNNER_ASK;
  }
  return how;
}

/* An untracked process exec'd: is it a CI runner? By its task name or its
 * executable's file name, and for names that need one an argument, all
 * decided here, before the runner runs an instruction: the builds it
 * forks at once (an ephemeral agent handed a job at start) are tracked
 * from their fork. Only rules the kernel cannot check (a cgroup) wait
 * for user space. */
static __always_inline void check_runner(struct task_struct* p, __u32 tgid, struct linux_binprm* bprm) {
  char comm[16] __attribute__((aligned(8))) = {}, exe[16] __attribute__((aligned(8))) = {};
  bpf_probe_read_kernel_str(comm, sizeof(comm), p->comm);
  bool decided = false;
  __u8 how = runner_how(p, comm, &decided);
  if (!decided) {
    /* A longer file name is not the runner's (its first 15 bytes could be). */
    struct qstr q = BPF_CORE_READ(bprm, file, f_path.dentry, d_name);
    if (q.len > 0 && q.len < sizeof(exe)) {
      bpf_probe_read_kernel_str(exe, sizeof(exe), q.name);
      const __u64 *c = (const __u64*)comm, *e = (const __u64*)exe;
      if (c[0] != e[0] || c[1] != e[1]) how |= runner_how(p, exe, &decided);
    }
  }
  if (!decided && !(how & BT_RUNNER_ASK)) return; /* unknown, or named like one without its argument */
  __u16 flags = 0;
  if (decided) {
    __u8 one = 1;
    bpf_map_update_elem(&runners, &tgid, &one, BPF_ANY);
    flags = BT_F_RUNNER_CONFIRMED;
  }
  struct bt_runner* r = reserve(sizeof(*r));
  if (!r) return;
  fill_header(&r->h, BT_RUNNER, sizeof(*r), tgid, 0, task_start_ns(p));
  r->h.flags = flags;
  bpf_ringbuf_submit(r, wakeup());
}

/* One bpf_loop step per byte of the environment: each NAME=value string
 * is copied to envout as it is read, and kept only if NAME is in env_allow
 * (and the whole string fits BT_ENV_VAR_MAX). The walk's state lives in
 * the scratch map value, not on the stack: the verifier does not track
 * map memory, so it verifies a step once instead of 16384 times. */
static long env_step(__u32 i, void* ctx) {
  struct scratch* s = scratch_buf();
  if (!s) return 1;
  struct env_walk* w = &s->walk;
  if (i >= w->len || i >= BT_ENV_MAX) return 1;
  /* Masks after a barrier: clang would otherwise drop them for the range
   * checks above, which the verifier does not carry over. */
  __u32 in = i;
  barrier_var(in);
  char c = s->env[in & (BT_ENV_MAX - 1)];
  __u32 at = w->out + w->cur;
  if (at < BT_ENV_MAX && w->cur < BT_ENV_VAR_MAX) {
    barrier_var(at);
    s->envout[at & (BT_ENV_MAX - 1)] = c;
    w->cur++;
  } else {
    w->allowed = 0; /* too long to keep whole */
  }
  if (w->in_name) {
    if (c == '=') {
      w->in_name = 0;
      w->allowed = bpf_map_lookup_elem(&env_allow, w->name) != 0;
    } else if (c == 0 || w->name_len >= BT_ENV_NAME_MAX - 1) {
      w->in_name = 0;
      w->allowed = 0;
    } else {
      __u32 n = w->name_len;
      barrier_var(n);
      w->name[n & (BT_ENV_NAME_MAX - 1)] = c;
      w->name_len++;
    }
  }
  if (c == 0) {
    if (w->allowed) w->out += w->cur;
    w->cur = 0;
    w->in_name = 1;
    w->allowed = 0;
    w->name_len = 0;
    __builtin_memset(w->name, 0, sizeof(w->name));
  }
  return 0;
}

/* Reads the environment of `mm` and leaves its allowed variables in
 * s->envout; returns their length (0: none, or unreadable). */
static __always_inline __u32 allowed_env(struct scratch* s, struct mm_struct* mm) {
  __u64 start = BPF_CORE_READ(mm, env_start), end = BPF_CORE_READ(mm, env_end);
  __u64 len = end > start ? end - start : 0;
  if (len > BT_ENV_MAX) len = BT_ENV_MAX;
  if (len == 0 || bpf_probe_read_user(s->env, len, (void*)start)) return 0;
  __builtin_memset(&s->walk, 0, sizeof(s->walk));
  s->walk.len = len;
  s->walk.in_name = 1;
  bpf_loop(BT_ENV_MAX, env_step, 0, 0);
  return s->walk.out;
}

static __always_inline struct file* fd_file(struct task_struct* task, long fd);

/* Descriptors 0, 1, 2 of `p` at its exec (close-on-exec ones are closed by
 * now): the inode's type, device and number, and a socket's peer. A few
 * loads each; user space tells the kinds apart and joins pipe ends. */
static __always_inline void read_stdio(struct task_struct* p, struct bt_stdio* out) {
  for (int i = 0; i < 3; i++) {
    struct bt_stdio* d = &out[i];
    __builtin_memset(d, 0, sizeof(*d));
    struct file* f = fd_file(p, i);
    if (!f) continue;
    struct inode* inode = BPF_CORE_READ(f, f_inode);
    d->mode = BPF_CORE_READ(inode, i_mode);
    d->rdev = BPF_CORE_READ(inode, i_rdev);
    d->ino = BPF_CORE_READ(inode, i_ino);
    if ((d->mode & 0170000) != 0140000) continue; /* S_IFSOCK */
    struct socket* sock = BPF_CORE_READ(f, private_data);
    struct sock* sk = BPF_CORE_READ(sock, sk);
    if (!sk) continue;
    d->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (d->family == AF_INET) {
      d->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
      __u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
      __builtin_memcpy(d->addr, &a, 4);
    } else if (d->family == AF_INET6) {
      d->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
      BPF_CORE_READ_INTO(&d->addr, sk, __sk_common.skc_v6_daddr);
    } else if (d->family == AF_UNIX) {
      /* The peer's bound name (unix_address.len counts sun_family too). */
      struct sock* peer = BPF_CORE_READ((struct unix_sock*)sk, peer);
      struct unix_address* ua = peer ? BPF_CORE_READ((struct unix_sock*)peer, addr) : 0;
      __u32 n = ua ? BPF_CORE_READ(ua, len) : 0;
      if (n <= 2) continue; /* unnamed */
      n -= 2;
      if (n > BT_SUN_PATH_MAX) n = BT_SUN_PATH_MAX;
      /* The mask after a barrier: clang would fold the bound above into a
       * signed check the verifier does not take. */
      barrier_var(n);
      if (bpf_probe_read_kernel(d->path, n & 127, &ua->name[0].sun_path) == 0) d->path_len = n;
    }
  }
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(bt_exec, struct task_struct* p, pid_t old_pid, struct linux_binprm* bprm) {
  __u32 tgid = BPF_CORE_READ(p, tgid);
  struct bt_tracked fake, *t = bpf_map_lookup_elem(&tracked, &tgid);
  bool joined = false;
  if (!t) {
    check_runner(p, tgid, bprm);
    t = join_by_cgroup(p, tgid);
    joined = t != 0;
    if (!t) t = build_of(tgid, &fake);
    if (!t) return 0;
  }
  if (t != &fake && !joined) adopt_container_cgroup(p, t);
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return 0;
  struct bt_exec* r = (struct bt_exec*)s->rec;
  char* rec = s->rec;
  __u32 off = sizeof(*r);

  struct path exe_path = {};
  bpf_probe_read_kernel(&exe_path, sizeof(exe_path), &bprm->file->f_path);
  __u32 exe_len = put_path(&exe_path, s->tmp, rec + off);
  off += exe_len;
  struct path cwd = {};
  bpf_probe_read_kernel(&cwd, sizeof(cwd), &p->fs->pwd);
  if (off > sizeof(*r) + BT_PATH_MAX) return 0;
  __u32 cwd_len = put_path(&cwd, s->tmp, rec + off);
  off += cwd_len;

  struct mm_struct* mm = BPF_CORE_READ(p, mm);
  __u64 arg_start = BPF_CORE_READ(mm, arg_start), arg_end = BPF_CORE_READ(mm, arg_end);
  __u64 argv_len = arg_end > arg_start ? arg_end - arg_start : 0;
  __u16 flags = 0;
  if (argv_len > BT_ARGV_MAX) {
    argv_len = BT_ARGV_MAX;
    flags |= BT_F_ARGV_TRUNCATED;
  }
  if (off > sizeof(*r) + 2 * BT_PATH_MAX) return 0;
  if (argv_len && bpf_probe_read_user(rec + off, argv_len, (void*)arg_start)) {
    count_loss(BT_LOSS_READ_FAILED);
    argv_len = 0;
  }
  off += argv_len;

  /* Only the allowed variables leave the kernel; the rest (tokens, keys)
   * stay in the process. */
  /* The build's execs send their identity variables until one has some,
   * BT_ENV_TRIES at most (the count is the root's): a GitLab shell job
   * exports its CI_* variables only in the children of `bash -l`. */
  __u64 env_len = 0;
  struct bt_tracked* root = 0;
  if (t != &fake) {
    __u32 root_tgid = t->root_tgid;
    root = root_tgid == tgid ? t : bpf_map_lookup_elem(&tracked, &root_tgid);
  }
  __u32 tries = 0;
  if (root) tries = root->env_wanted;
  /* A process that joined by its cgroup is attributed by its own
   * environment: `podman exec -e GITHUB_RUN_ID=...` passes the job's. */
  if (joined) flags |= BT_F_JOINED;
  if ((root && tries) || joined) {
    flags |= BT_F_ENV; /* even with no allowed variable */
    env_len = allowed_env(s, mm);
    if (off > sizeof(*r) + 2 * BT_PATH_MAX + BT_ARGV_MAX) return 0;
    if (env_len > BT_ENV_MAX) env_len = BT_ENV_MAX;
    if (env_len && bpf_probe_read_kernel(rec + off, env_len, s->envout) == 0)
      off += env_len;
    else
      env_len = 0;
    if (root && tries) root->env_wanted = env_len ? 0 : tries - 1;
  }

  fill_header(&r->h, BT_EXEC, off, tgid, t, task_start_ns(p));
  r->h.flags = flags;
  r->writer_tgid = 0;
  r->pad2 = 0;
  r->writer_start_ns = 0;
  struct inode* exe_inode = BPF_CORE_READ(bprm, file, f_inode);
  struct bt_file_key exe_key = {.dev = BPF_CORE_READ(exe_inode, i_sb, s_dev), .ino = BPF_CORE_READ(exe_inode, i_ino)};
  struct bt_writer* writer = bpf_map_lookup_elem(&written, &exe_key);
  if (writer && writer->root_tgid == t->root_tgid && writer->root_start_ns == t->root_start_ns) {
    r->writer_tgid = writer->tgid;
    r->writer_start_ns = writer->start_ns;
  }
  r->ppid = BPF_CORE_READ(p, real_parent, tgid);
  r->uid = BPF_CORE_READ(p, cred, uid.val);
  r->argv_len = argv_len;
  r->env_len = env_len;
  r->exe_len = exe_len;
  r->cwd_len = cwd_len;
  r->pad = 0;
  read_stdio(p, r->stdio);
  if (off > BT_REC_MAX) return 0;
  submit_claimed(s, me, off);
  return 0;
}

/* ---- files ---- */

static __always_inline bool is_other_pid(const char* name, __u32 tgid) {
  __u32 pid = 0;
  for (int i = 0; i < 10; i++) {
    char c = name[i];
    if (c == 0) return i > 0 && pid != tgid;
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + (c - '0');
  }
  return false;
}

/* Does basename `name` (`len` bytes) have the glob's literal ends? */
static __always_inline bool glob_ends_match(const struct bt_glob* g, const char* name, __u32 len) {
  __u32 pl = g->prefix_len, sl = g->suffix_len;
  if (pl >= BT_GLOB_PART || sl >= BT_GLOB_PART || pl + sl > len) return false;
  for (int j = 0; j < BT_GLOB_PART - 1; j++) {
    if (j >= pl) break;
    if (name[j] != g->prefix[j]) return false;
  }
  for (int j = 0; j < BT_GLOB_PART - 1; j++) {
    if (j >= sl) break;
    if (name[(len - sl + j) & (BT_NAME_MAX - 1)] != g->suffix[j]) return false;
  }
  return true;
}

static __always_inline bool same_parent(const char* a, const char* b) {
  const __u64 *x = (const __u64*)a, *y = (const __u64*)b;
  for (int i = 0; i < BT_PARENT_MAX / 8; i++)
    if (x[i] != y[i]) return false;
  return true;
}

/* The secret-file filter: the flags of what `d` (a file a tracked process
 * opened) may match. Most opens cost one string read and one lookup; the
 * parent's name is read only for names that need it. */
static __always_inline __u16 filter_open(struct dentry* d, __u32 tgid) {
  struct bt_name_key key = {};
  long n = bpf_probe_read_kernel_str(key.name, sizeof(key.name), BPF_CORE_READ(d, d_name.name));
  if (n <= 1) return 0;
  if (any_name) return BT_NAME_SECRET;
  __u32 len = (n - 1) & (BT_NAME_MAX - 1);
  __u16 flags = 0, *v = bpf_map_lookup_elem(&secret_basenames, key.name);
  if (v) flags = *v;
  bool have_parent = false;
  if (flags & (BT_NAME_NEED_PARENT | BT_NAME_PROC)) {
    bpf_probe_read_kernel_str(key.parent, sizeof(key.parent), BPF_CORE_READ(d, d_parent, d_name.name));
    have_parent = true;
    if (flags & BT_NAME_NEED_PARENT) {
      v = bpf_map_lookup_elem(&secret_pairs, &key);
      if (v) flags |= *v;
    }
    if ((flags & BT_NAME_PROC) && !is_other_pid(key.parent, tgid)) flags &= ~BT_NAME_PROC;
  }
  flags &= BT_NAME_SECRET | BT_NAME_PROC;
  if (flags) return flags;
  /* A key apart from the counter: a counter spilled for the lookup loses
   * its bounds, and the verifier then takes the loop for an endless one. */
  for (__u32 i = 0; i < BT_GLOBS_MAX; i++) {
    if (i >= n_globs) break;
    __u32 slot = i;
    struct bt_glob* g = bpf_map_lookup_elem(&secret_globs, &slot);
    if (!g || !glob_ends_match(g, key.name, len)) continue;
    if (g->parent[0] == 0) return BT_NAME_SECRET;
    if (!have_parent) {
      bpf_probe_read_kernel_str(key.parent, sizeof(key.parent), BPF_CORE_READ(d, d_parent, d_name.name));
      have_parent = true;
    }
    if (same_parent(key.parent, g->parent)) return BT_NAME_SECRET;
  }
  return 0;
}

/* The file behind descriptor `fd` of `task`, or null. */
static __always_inline struct file* fd_file(struct task_struct* task, long fd) {
  /* Direct loads through BTF pointers: no helper call each. */
  struct fdtable* fdt = task->files->fdt;
  if (fd < 0 || !fdt || fd >= fdt->max_fds) return 0;
  struct file** fds = fdt->fd;
  struct file* file = 0;
  bpf_probe_read_kernel(&file, sizeof(file), &fds[fd & 0xfffff]);
  return file;
}

#define PROC_SUPER_MAGIC 0x9fa0

/* The process behind a file of /proc/<pid>/: procfs keeps the struct pid
 * in the inode (struct proc_inode), whose first task is the process the
 * name was looked up for. Null for a file of another file system. */
static __always_inline struct task_struct* proc_file_task(struct file* file) {
  struct inode* inode = BPF_CORE_READ(file, f_inode);
  if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != PROC_SUPER_MAGIC) return 0;
  struct proc_inode* pi = container_of(inode, struct proc_inode, vfs_inode);
  struct pid* pid = BPF_CORE_READ(pi, pid);
  if (!pid) return 0;
  struct hlist_node* first = BPF_CORE_READ(pid, tasks[0].first); /* PIDTYPE_PID */
  if (!first) return 0;
  return container_of(first, struct task_struct, pid_links[0]);
}

/* The facts about another process that classify a reach into it (a CI
 * runner's?), read in the kernel at the call so that user space has them
 * even when the target is gone by the time it reads the record, as `run`
 * reads them live: its leader's tgid, start time and task name, whether
 * the kernel tracks it as a runner (BT_F_TARGET_RUNNER in `flags`), and
 * its executable's path, written at `exe_at`. `target` must stay valid
 * while this reads it (the caller's open of its /proc file holds it, or
 * a reference is held). Returns the path's length (0: none). */
static __always_inline __u32 put_target(struct task_struct* target, struct bt_target* out, char* tmp, char* exe_at,
                                        __u16* flags) {
  struct task_struct* leader = BPF_CORE_READ(target, group_leader);
  __u32 target_tgid = BPF_CORE_READ(leader, tgid);
  if (bpf_map_lookup_elem(&runners, &target_tgid)) *flags |= BT_F_TARGET_RUNNER;
  out->tgid = target_tgid;
  out->start_ns = BPF_CORE_READ(leader, start_boottime);
  BPF_CORE_READ_STR_INTO(&out->comm, leader, comm);
  out->pad = 0;
  __u32 exe_len = 0;
  struct file* exe = BPF_CORE_READ(leader, mm, exe_file);
  if (exe) {
    struct path exe_path = {};
    bpf_probe_read_kernel(&exe_path, sizeof(exe_path), &exe->f_path);
    exe_len = put_path(&exe_path, tmp, exe_at);
  }
  out->exe_len = exe_len;
  return exe_len;
}

/* A tracked process opened another process's /proc/<pid>/{environ,mem,
 * maps}: the target is read now, while the open holds it (put_target). */
static __always_inline void on_proc_open(struct task_struct* task, __u32 tgid, struct bt_tracked* t, struct file* file,
                                         struct path* path, struct task_struct* target) {
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  struct bt_proc_open* r = (struct bt_proc_open*)s->rec;
  __u32 len = put_path(path, s->tmp, s->rec + sizeof(*r));
  if (len == 0 || len > BT_PATH_MAX) return;
  __u16 flags = (BPF_CORE_READ(file, f_mode) & FMODE_WRITE) ? BT_F_WRITE : 0;
  r->path_len = len;
  r->pad = 0;
  __u32 exe_len = put_target(target, &r->target, s->tmp, s->rec + sizeof(*r) + len, &flags);
  fill_header(&r->h, BT_PROC_OPEN, sizeof(*r) + len + exe_len, tgid, t, task_start_ns(task));
  r->h.flags = flags;
  submit_claimed(s, me, sizeof(*r) + len + exe_len);
}

/* A tracked process opened `file` (its new descriptor's). */
static __always_inline void on_open(struct task_struct* task, __u32 tgid, struct bt_tracked* t, struct file* file) {
  struct path path;
  if (bpf_probe_read_kernel(&path, sizeof(path), &file->f_path)) return;
  __u16 what = filter_open(path.dentry, tgid);
  if (!what) return;
  if (what & BT_NAME_PROC) {
    struct task_struct* target = proc_file_task(file);
    if (target) {
      on_proc_open(task, tgid, t, file, &path, target);
      return;
    }
  }
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  struct bt_open* r = (struct bt_open*)s->rec;
  __u32 len = put_path(&path, s->tmp, s->rec + sizeof(*r));
  if (len == 0) return;
  fill_header(&r->h, BT_OPEN, sizeof(*r) + len, tgid, t, task_start_ns(task));
  r->h.flags = (BPF_CORE_READ(file, f_mode) & FMODE_WRITE) ? BT_F_WRITE : 0;
  r->path_len = len;
  r->pad = 0;
  submit_claimed(s, me, sizeof(*r) + len);
}

/* ---- network ---- */

/* connect(fd, addr, len) returned `ret`: the arguments are still in the
 * saved user registers, the address in user memory. */
static __always_inline void on_connect(struct task_struct* task, __u32 tgid, struct bt_tracked* t, struct pt_regs* regs,
                                       long ret) {
  long fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
  void* uaddr = (void*)PT_REGS_PARM2_CORE_SYSCALL(regs);
  struct sockaddr_in6 sa = {};
  if (bpf_probe_read_user(&sa, sizeof(sa), uaddr)) return;
  __u16 family = sa.sin6_family;
  if (family != AF_INET && family != AF_INET6) return;
  struct bt_connect* r = reserve(sizeof(*r));
  if (!r) return;
  fill_header(&r->h, BT_CONNECT, sizeof(*r), tgid, t, task_start_ns(task));
  struct file* file = fd_file(task, fd);
  struct socket* sock = file ? BPF_CORE_READ(file, private_data) : 0;
  r->family = family;
  r->sock_type = sock ? BPF_CORE_READ(sock, type) : 0;
  r->result = ret == -EINPROGRESS ? 0 : ret;
  r->pad = 0;
  r->pad2 = 0;
  if (r->sock_type == 2 /* SOCK_DGRAM */ && sa.sin6_port == bpf_htons(53)) {
    t->udp53 = 1;
    udp53_seen = 1;
  }
  __builtin_memset(r->daddr, 0, sizeof(r->daddr));
  r->dport = bpf_ntohs(sa.sin6_port);
  if (family == AF_INET) {
    struct sockaddr_in* in = (void*)&sa;
    __builtin_memcpy(r->daddr, &in->sin_addr, 4);
  } else {
    __builtin_memcpy(r->daddr, &sa.sin6_addr, 16);
  }
  bpf_ringbuf_submit(r, wakeup());
}

/* A tracked process received a datagram: when it is UDP from port 53, it
 * is a DNS answer (which repeats the question). Read at syscall exit from
 * the process's own buffer, since a linear UDP skb is copied to user
 * space without passing any tracepoint. `src` is the sender's address the
 * call returned (null: the socket's peer), `buf` the first buffer. */
static __always_inline void on_datagram(struct task_struct* task, __u32 tgid, struct bt_tracked* t, long fd, void* src,
                                        void* buf, __u64 len) {
  struct file* file = fd_file(task, fd);
  if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & 0170000) != 0140000) return; /* S_IFSOCK */
  struct socket* sock = BPF_CORE_READ(file, private_data);
  struct sock* sk = BPF_CORE_READ(sock, sk);
  if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP) return;
  struct sockaddr_in6 from = {};
  if (src) {
    if (bpf_probe_read_user(&from, sizeof(from), src)) return;
  } else {
    from.sin6_family = BPF_CORE_READ(sk, __sk_common.skc_family);
    from.sin6_port = BPF_CORE_READ(sk, __sk_common.skc_dport);
    if (from.sin6_family == AF_INET)
      ((struct sockaddr_in*)&from)->sin_addr.s_addr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    else
      BPF_CORE_READ_INTO(&from.sin6_addr, sk, __sk_common.skc_v6_daddr);
  }
  if (from.sin6_port != bpf_htons(53)) return;
  if (from.sin6_family != AF_INET && from.sin6_family != AF_INET6) return;
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  struct bt_dns* r = (struct bt_dns*)s->rec;
  __u32 payload = len > BT_DNS_MAX ? BT_DNS_MAX : len;
  if (payload == 0 || bpf_probe_read_user(s->rec + sizeof(*r), payload, buf)) return;
  __builtin_memset(r->saddr, 0, sizeof(r->saddr));
  if (from.sin6_family == AF_INET)
    __builtin_memcpy(r->saddr, &((struct sockaddr_in*)&from)->sin_addr, 4);
  else
    __builtin_memcpy(r->saddr, &from.sin6_addr, 16);
  fill_header(&r->h, BT_DNS, sizeof(*r) + payload, tgid, t, task_start_ns(task));
  r->family = from.sin6_family;
  r->sport = 53;
  r->payload_len = payload;
  submit_claimed(s, me, sizeof(*r) + payload);
}

/* recvmsg(fd, msg, flags) and the first message of recvmmsg. */
static __always_inline void on_recvmsg(struct task_struct* task, __u32 tgid, struct bt_tracked* t, long fd,
                                       struct user_msghdr* umsg, __u64 len) {
  struct user_msghdr msg;
  if (bpf_probe_read_user(&msg, sizeof(msg), umsg) || msg.msg_iovlen < 1) return;
  struct iovec iov;
  if (bpf_probe_read_user(&iov, sizeof(iov), msg.msg_iov)) return;
  if (len > iov.iov_len) len = iov.iov_len;
  on_datagram(task, tgid, t, fd, msg.msg_namelen ? msg.msg_name : 0, iov.iov_base, len);
}

/* ---- other processes' memory ---- */

/* Linux 6.13+: a task by its pid in the current task's pid namespace, with
 * a reference. Weak: on an older kernel it is null and user space reads
 * the target from /proc instead (late: it may be gone by then). */
extern struct task_struct* bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern void bpf_task_release(struct task_struct* p) __ksym;

/* ptrace attach or process_vm_readv by a tracked process returned
 * `result`; `pid` names the target in the caller's pid namespace (a thread
 * for ptrace). At the call's exit the target was there a moment ago, so
 * it is looked up now and described as a /proc open's is (put_target). */
static __always_inline void proc_access(struct task_struct* task, __u32 tgid, struct bt_tracked* t, __u32 pid,
                                        __s32 result, __u16 flags) {
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  struct bt_proc_access* r = (struct bt_proc_access*)s->rec;
  __builtin_memset(&r->target, 0, sizeof(r->target));
  r->target.tgid = pid;
  __u32 exe_len = 0;
  /* A refused call read nothing: user space drops it, unlooked-up. */
  struct task_struct* target = result >= 0 && bpf_task_from_vpid ? bpf_task_from_vpid(pid) : 0;
  if (target) {
    exe_len = put_target(target, &r->target, s->tmp, s->rec + sizeof(*r), &flags);
    bpf_task_release(target);
    flags |= BT_F_TARGET_KNOWN;
  }
  fill_header(&r->h, BT_PROC_ACCESS, sizeof(*r) + exe_len, tgid, t, task_start_ns(task));
  r->h.flags = flags;
  r->result = result;
  r->pad = 0;
  submit_claimed(s, me, sizeof(*r) + exe_len);
}

/* ---- system calls ---- */

/* x86_64 numbers: the daemon is built for x86_64 (see meson.build). */
#define NR_read 0
#define NR_open 2
#define NR_recvfrom 45
#define NR_recvmsg 47
#define NR_recvmmsg 299
#define NR_connect 42
#define NR_ptrace 101
#define NR_creat 85
#define NR_openat 257
#define NR_process_vm_readv 310
#define NR_openat2 437
#define NR_truncate 76
#define NR_rename 82
#define NR_unlink 87
#define NR_chmod 90
#define NR_fchmod 91
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_fchmodat 268
#define NR_renameat2 316
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

/* What the sensor wants of a system call, by number; one list. */
enum call { CALL_NONE, CALL_OPEN, CALL_CONNECT, CALL_RECEIVE, CALL_PTRACE, CALL_VM_READ, CALL_FILE };

static __always_inline enum call call_of(long nr) {
  switch (nr) {
    case NR_open:
    case NR_creat:
    case NR_openat:
    case NR_openat2:
      return CALL_OPEN;
    case NR_connect:
      return CALL_CONNECT;
    case NR_read:
    case NR_recvfrom:
    case NR_recvmsg:
    case NR_recvmmsg:
      return CALL_RECEIVE;
    case NR_ptrace:
      return CALL_PTRACE;
    case NR_process_vm_readv:
      return CALL_VM_READ;
    case NR_truncate:
    case NR_rename:
    case NR_unlink:
    case NR_chmod:
    case NR_fchmod:
    case NR_unlinkat:
    case NR_renameat:
    case NR_fchmodat:
    case NR_renameat2:
      return CALL_FILE;
    default:
      return CALL_NONE;
  }
}

/* ---- file writes ---- */

#define FMODE_CREATED 0x100000
#define O_WRONLY_CREAT_TRUNC 01101
#define O_ACCMODE 03
#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200

/* Reads dentry `d`'s name into `name` (zero-padded: a map key). */
static __always_inline long dentry_name(struct dentry* d, char* name) {
  __builtin_memset(name, 0, BT_NAME_MAX);
  return bpf_probe_read_kernel_str(name, BT_NAME_MAX, BPF_CORE_READ(d, d_name.name));
}

/* One watch glob against a name, as a bpf_loop step: the verifier checks
 * it once rather than once per glob and call site. */
struct glob_walk {
  char name[BT_NAME_MAX];
  __u32 len;
  __u32 hit;
  struct dentry* parent;
};
static long glob_step(__u32 i, void* ctx) {
  struct glob_walk* w = ctx;
  __u32 slot = i;
  struct bt_glob* g = bpf_map_lookup_elem(&watch_globs, &slot);
  if (!g || !glob_ends_match(g, w->name, w->len)) return 0;
  if (g->parent[0] != 0) {
    char parent_name[BT_PARENT_MAX] = {};
    struct dentry* parent = w->parent; /* a local: BPF_CORE_READ would relocate w->parent itself */
    bpf_probe_read_kernel_str(parent_name, sizeof(parent_name), BPF_CORE_READ(parent, d_name.name));
    if (!same_parent(parent_name, g->parent)) return 0;
  }
  w->hit = 1;
  return 1;
}

/* The watch filter (a superset: user space matches exactly) for a file
 * named `name` (`n` bytes with the NUL, zero-padded: a map key) in the
 * folder `parent`. */
static __always_inline bool filter_watch_name(char* name, long n, struct dentry* parent) {
  if (watch_any) return true;
  if (n <= 1) return false;
  if (bpf_map_lookup_elem(&watch_names, name)) return true;
  if (n_watch_globs) {
    struct glob_walk w = {.len = (n - 1) & (BT_NAME_MAX - 1), .parent = parent};
    __builtin_memcpy(w.name, name, BT_NAME_MAX);
    bpf_loop(n_watch_globs, glob_step, &w, 0);
    if (w.hit) return true;
  }
  struct dentry* at = parent;
  for (__u32 level = 1; level <= BT_WATCH_DEPTH; level++) {
    if (!at || dentry_name(at, name) <= 1) break;
    __u8* deepest = bpf_map_lookup_elem(&watch_dirs, name);
    if (deepest && level <= *deepest) return true;
    struct dentry* up = BPF_CORE_READ(at, d_parent);
    if (up == at) break;
    at = up;
  }
  return false;
}

static __always_inline bool filter_watch(struct dentry* d) {
  char name[BT_NAME_MAX];
  long n = dentry_name(d, name);
  return filter_watch_name(name, n, BPF_CORE_READ(d, d_parent));
}

/* The watch filter for a name a caller gave (unlink, rename): a plain
 * name is checked against the folder it is resolved in; one with a '/'
 * or too long to check passes (user space decides). */
static __always_inline bool filter_watch_user(struct task_struct* task, const char* upath, long dirfd) {
  if (watch_any) return true;
  char name[BT_NAME_MAX] = {};
  long n = bpf_probe_read_user_str(name, sizeof(name), upath);
  if (n <= 1) return false;
  if (n >= BT_NAME_MAX) return true;
  for (int i = 0; i < BT_NAME_MAX; i++) {
    if (i >= n) break;
    if (name[i] == '/') return true;
  }
  struct dentry* dir = 0;
  if (dirfd == AT_FDCWD) {
    dir = BPF_CORE_READ(task, fs, pwd.dentry);
  } else {
    struct file* f = fd_file(task, dirfd);
    if (!f) return true;
    dir = BPF_CORE_READ(f, f_path.dentry);
  }
  return filter_watch_name(name, n, dir);
}

/* The open's flags from the saved registers (openat2: from its open_how). */
static __always_inline __u32 open_flags(struct pt_regs* regs, long nr) {
  if (nr == NR_creat) return O_WRONLY_CREAT_TRUNC;
  if (nr == NR_open) return PT_REGS_PARM2_CORE_SYSCALL(regs);
  if (nr == NR_openat) return PT_REGS_PARM3_CORE_SYSCALL(regs);
  __u64 flags = 0;
  bpf_probe_read_user(&flags, sizeof(flags), (void*)PT_REGS_PARM3_CORE_SYSCALL(regs));
  return flags;
}

/* A tracked process opened `fd` for writing: remembered for provenance;
 * reported when it passes the watch filter. Closes are not hooked: user
 * space holds the file open from the report on and hashes it when the
 * writer exits (a shell's redirection closes its descriptor before the
 * first write, after a dup2, so a close says little). */
static __always_inline void on_write_open(struct task_struct* task, __u32 tgid, struct bt_tracked* t,
                                          struct pt_regs* regs, long nr, long fd, struct file* file) {
  __u32 fmode = BPF_CORE_READ(file, f_mode);
  if (!(fmode & FMODE_WRITE)) return;
  struct inode* inode = BPF_CORE_READ(file, f_inode);
  struct bt_file_key key = {.dev = BPF_CORE_READ(inode, i_sb, s_dev), .ino = BPF_CORE_READ(inode, i_ino)};
  if (t->root_tgid) {
    struct bt_writer w = {
        .tgid = tgid, .root_tgid = t->root_tgid, .start_ns = task_start_ns(task), .root_start_ns = t->root_start_ns};
    if (bpf_map_update_elem(&written, &key, &w, BPF_ANY)) count_loss(BT_LOSS_PROVENANCE_FULL);
  }
  struct path path;
  if (bpf_probe_read_kernel(&path, sizeof(path), &file->f_path)) return;
  if (!filter_watch(path.dentry)) return;
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  struct bt_file* r = (struct bt_file*)s->rec;
  __u32 len = put_path(&path, s->tmp, s->rec + sizeof(*r));
  if (len == 0) return;
  fill_header(&r->h, BT_FILE, sizeof(*r) + len, tgid, t, task_start_ns(task));
  r->op = BT_FOP_OPEN;
  r->created = (fmode & FMODE_CREATED) != 0;
  r->flags = open_flags(regs, nr);
  r->dev = key.dev;
  r->ino = key.ino;
  r->fd = fd;
  r->path_len = len;
  r->dir_len = 0;
  r->path2_len = 0;
  r->dir2_len = 0;
  r->pad = 0;
  submit_claimed(s, me, sizeof(*r) + len);
}

/* Copies the name the caller gave (`upath`, user memory) to `dst`, and
 * when it is relative the folder it was resolved against (`dirfd` or the
 * cwd) after it; returns both lengths (with their NULs) in *plen, *dlen. */
static __always_inline void put_name(struct task_struct* task, struct scratch* s, char* dst, const char* upath,
                                     long dirfd, __u16* plen, __u16* dlen) {
  *plen = 0;
  *dlen = 0;
  long n = bpf_probe_read_user_str(dst, BT_PATH_MAX, upath);
  if (n <= 1) return;
  *plen = n;
  if (dst[0] == '/') return;
  struct path dir = {};
  if (dirfd == AT_FDCWD) {
    bpf_probe_read_kernel(&dir, sizeof(dir), &task->fs->pwd);
  } else {
    struct file* f = fd_file(task, dirfd);
    if (!f) return;
    bpf_probe_read_kernel(&dir, sizeof(dir), &f->f_path);
  }
  *dlen = put_path(&dir, s->tmp, dst + (n & (BT_PATH_MAX - 1)));
}

/* ---- failed opens ---- */

#define EPERM 1
#define ENOENT 2
#define EACCES 13
#define O_CREAT 0100
#define O_TRUNC 01000

/* Where the last '/' before index `end` of `buf` is, looking back at most
 * `max` bytes: the index after it (0: none, the name starts the string);
 * -1 when there is no '/' within `max` bytes (a component too long for the
 * filter's keys). */
static __always_inline long component_start(const char* buf, __u32 end, __u32 max) {
  for (__u32 i = 1; i <= BT_NAME_MAX; i++) {
    if (i > max) return -1;
    if (i > end) return 0;
    if (buf[(end - i) & (BT_PATH_MAX - 1)] == '/') return end - i + 1;
  }
  return -1;
}

/* The secret-file filter for an open that failed, on the name as the
 * caller gave it (`n` bytes with the NUL at `buf`): there is no dentry, so
 * its last component is the basename and the one before it the parent (a
 * name without one, or "./name": the folder it was resolved in, cwd or
 * dirfd). The same maps as filter_open; /proc/<pid>/{environ,mem,maps}
 * only for EACCES and EPERM. ENOENT is the most frequent failure of a
 * build (search paths, imports), so nothing passes on a name alone: with
 * `any_name` (a rule that can match any basename) only EACCES and EPERM
 * do. */
static __always_inline __u16 filter_failed_open(struct task_struct* task, const char* buf, long n, long dirfd,
                                                __u32 tgid, long ret) {
  if (n <= 1 || n > BT_PATH_MAX) return 0;
  __u32 end = n - 1; /* the NUL */
  long base = component_start(buf, end, BT_NAME_MAX);
  if (base < 0 || base >= end) return 0; /* too long a basename, or a trailing '/' */
  if (any_name) return ret == -ENOENT ? 0 : BT_NAME_SECRET;
  struct bt_name_key key = {};
  __u32 len = end - base;
  bpf_probe_read_kernel(key.name, len & (BT_NAME_MAX - 1), &buf[base & (BT_PATH_MAX - 1)]);
  bool dir_parent = base == 0;
  if (base >= 2) {
    __u32 pend = base - 1; /* the '/' before the basename */
    long pstart = component_start(buf, pend, BT_PARENT_MAX - 1);
    if (pstart >= 0 && pstart < pend) {
      __u32 plen = pend - pstart;
      if (plen == 1 && buf[pstart & (BT_PATH_MAX - 1)] == '.')
        dir_parent = true;
      else
        bpf_probe_read_kernel(key.parent, plen & (BT_PARENT_MAX - 1), &buf[pstart & (BT_PATH_MAX - 1)]);
    }
  }
  if (dir_parent) {
    struct dentry* dir = 0;
    if (dirfd == AT_FDCWD) {
      dir = BPF_CORE_READ(task, fs, pwd.dentry);
    } else {
      struct file* f = fd_file(task, dirfd);
      if (f) dir = BPF_CORE_READ(f, f_path.dentry);
    }
    if (dir) bpf_probe_read_kernel_str(key.parent, sizeof(key.parent), BPF_CORE_READ(dir, d_name.name));
  }
  __u16 flags = 0, *v = bpf_map_lookup_elem(&secret_basenames, key.name);
  if (v) flags = *v;
  if (flags & BT_NAME_NEED_PARENT) {
    v = bpf_map_lookup_elem(&secret_pairs, &key);
    if (v) flags |= *v;
  }
  if ((flags & BT_NAME_PROC) && (ret == -ENOENT || !is_other_pid(key.parent, tgid))) flags &= ~BT_NAME_PROC;
  flags &= BT_NAME_SECRET | BT_NAME_PROC;
  if (flags) return flags;
  for (__u32 i = 0; i < BT_GLOBS_MAX; i++) {
    if (i >= n_globs) break;
    __u32 slot = i;
    struct bt_glob* g = bpf_map_lookup_elem(&secret_globs, &slot);
    if (!g || !glob_ends_match(g, key.name, len)) continue;
    if (g->parent[0] == 0 || same_parent(key.parent, g->parent)) return BT_NAME_SECRET;
  }
  return 0;
}

/* An open by a tracked process failed (`ret`): an attempt at a secret when
 * refused (EACCES, EPERM) or not there (ENOENT, credential files only) and
 * its name passes the filter. The name is read from the saved registers,
 * as given, with the folder a relative one was resolved in. */
static __always_inline void on_failed_open(struct task_struct* task, __u32 tgid, struct bt_tracked* t,
                                           struct pt_regs* regs, long nr, long ret) {
  if (ret != -EACCES && ret != -EPERM && ret != -ENOENT) return;
  const char* upath = (const char*)PT_REGS_PARM1_CORE_SYSCALL(regs);
  long dirfd = AT_FDCWD;
  if (nr == NR_openat || nr == NR_openat2) {
    dirfd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
    upath = (const char*)PT_REGS_PARM2_CORE_SYSCALL(regs);
  }
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  long n = bpf_probe_read_user_str(s->tmp, BT_PATH_MAX, upath);
  if (!filter_failed_open(task, s->tmp, n, dirfd, tgid, ret)) return;
  struct bt_open_failed* r = (struct bt_open_failed*)s->rec;
  __u16 plen = 0, dlen = 0;
  put_name(task, s, s->rec + sizeof(*r), upath, dirfd, &plen, &dlen);
  if (plen == 0) return;
  __u32 size = sizeof(*r) + plen + dlen;
  if (size > BT_REC_MAX) return;
  __u32 flags = open_flags(regs, nr);
  fill_header(&r->h, BT_OPEN_FAILED, size, tgid, t, task_start_ns(task));
  r->h.flags = ((flags & 3) || (flags & (O_CREAT | O_TRUNC))) ? BT_F_WRITE : 0;
  r->result = ret;
  r->path_len = plen;
  r->dir_len = dlen;
  submit_claimed(s, me, size);
}

/* A rename, unlink, chmod or truncate by a tracked process succeeded: the
 * names as given, from the saved registers, each with its folder. Unlinks
 * and renames pass the watch filter first (a build's cleanup unlinks
 * thousands); chmod +x and truncate by name are rare and all sent. */
static __always_inline void on_file_change(struct task_struct* task, __u32 tgid, struct bt_tracked* t,
                                           struct pt_regs* regs, long nr) {
  __u16 op = 0;
  const char *p1 = 0, *p2 = 0;
  long d1 = AT_FDCWD, d2 = AT_FDCWD, fd = -1;
  __u32 mode = 0;
  switch (nr) {
    case NR_rename:
      op = BT_FOP_RENAME;
      p1 = (const char*)PT_REGS_PARM1_CORE_SYSCALL(regs);
      p2 = (const char*)PT_REGS_PARM2_CORE_SYSCALL(regs);
      break;
    case NR_renameat:
    case NR_renameat2:
      op = BT_FOP_RENAME;
      d1 = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
      p1 = (const char*)PT_REGS_PARM2_CORE_SYSCALL(regs);
      d2 = (int)PT_REGS_PARM3_CORE_SYSCALL(regs);
      p2 = (const char*)PT_REGS_PARM4_CORE_SYSCALL(regs);
      break;
    case NR_unlink:
      op = BT_FOP_UNLINK;
      p1 = (const char*)PT_REGS_PARM1_CORE_SYSCALL(regs);
      break;
    case NR_unlinkat:
      if (PT_REGS_PARM3_CORE_SYSCALL(regs) & AT_REMOVEDIR) return;
      op = BT_FOP_UNLINK;
      d1 = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
      p1 = (const char*)PT_REGS_PARM2_CORE_SYSCALL(regs);
      break;
    case NR_chmod:
      op = BT_FOP_CHMOD;
      p1 = (const char*)PT_REGS_PARM1_CORE_SYSCALL(regs);
      mode = PT_REGS_PARM2_CORE_SYSCALL(regs);
      break;
    case NR_fchmod:
      op = BT_FOP_CHMOD;
      fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
      mode = PT_REGS_PARM2_CORE_SYSCALL(regs);
      break;
    case NR_fchmodat:
      op = BT_FOP_CHMOD;
      d1 = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
      p1 = (const char*)PT_REGS_PARM2_CORE_SYSCALL(regs);
      mode = PT_REGS_PARM3_CORE_SYSCALL(regs);
      break;
    case NR_truncate:
      op = BT_FOP_TRUNCATE;
      p1 = (const char*)PT_REGS_PARM1_CORE_SYSCALL(regs);
      break;
    default:
      return;
  }
  if (op == BT_FOP_CHMOD && !(mode & 0111)) return;
  /* `rm -rf` unlinks a tree name by name: only watched names go on. */
  if ((op == BT_FOP_UNLINK || op == BT_FOP_RENAME) && !filter_watch_user(task, p1, d1) &&
      (!p2 || !filter_watch_user(task, p2, d2)))
    return;
  __u64 me;
  struct scratch* s = claim_scratch(&me);
  if (!s) return;
  struct bt_file* r = (struct bt_file*)s->rec;
  char* rec = s->rec;
  __u32 off = sizeof(*r);
  __u16 plen = 0, dlen = 0, p2len = 0, d2len = 0;
  if (fd >= 0) {
    struct file* f = fd_file(task, fd);
    if (!f) return;
    struct path path;
    if (bpf_probe_read_kernel(&path, sizeof(path), &f->f_path)) return;
    plen = put_path(&path, s->tmp, rec + off);
  } else {
    put_name(task, s, rec + off, p1, d1, &plen, &dlen);
  }
  if (plen == 0) return;
  off += plen + dlen;
  if (p2) {
    if (off > sizeof(*r) + 2 * BT_PATH_MAX) return;
    put_name(task, s, rec + off, p2, d2, &p2len, &d2len);
    if (p2len == 0) return;
    off += p2len + d2len;
  }
  if (off > BT_REC_MAX) return;
  fill_header(&r->h, BT_FILE, off, tgid, t, task_start_ns(task));
  r->op = op;
  r->created = 0;
  r->flags = mode;
  r->dev = 0;
  r->ino = 0;
  r->fd = -1;
  r->path_len = plen;
  r->dir_len = dlen;
  r->path2_len = p2len;
  r->dir2_len = d2len;
  r->pad = 0;
  submit_claimed(s, me, off);
}

/* A tracked process received data: DNS answers only (see on_datagram). */
static __always_inline void on_receive(struct task_struct* task, __u32 tgid, struct bt_tracked* t, struct pt_regs* regs,
                                       long nr, long ret) {
  long fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
  void* arg2 = (void*)PT_REGS_PARM2_CORE_SYSCALL(regs);
  if (nr == NR_read) {
    /* A resolver reading its UDP socket connected to port 53 (Go's does);
     * only processes that connected one pay more than the lookup. */
    if (t->udp53) on_datagram(task, tgid, t, fd, 0, arg2, ret);
  } else if (nr == NR_recvfrom) {
    on_datagram(task, tgid, t, fd, (void*)PT_REGS_PARM5_CORE_SYSCALL(regs), arg2, ret);
  } else if (nr == NR_recvmsg) {
    on_recvmsg(task, tgid, t, fd, arg2, ret);
  } else {
    struct mmsghdr* vec = arg2;
    __u32 first_len = 0;
    bpf_probe_read_user(&first_len, sizeof(first_len), &vec->msg_len);
    on_recvmsg(task, tgid, t, fd, &vec->msg_hdr, first_len);
  }
}

/* At a system call's exit the result is known and the arguments are still
 * in the saved registers. */
static __always_inline int on_sys_exit(struct pt_regs* regs, long nr, long ret) {
  enum call call = call_of(nr);
  if (call == CALL_NONE) return 0;
  if (call == CALL_RECEIVE && (ret <= 0 || (nr == NR_read && !udp53_seen))) return 0;
  if (call == CALL_FILE && ret != 0) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct bt_tracked fake, *t = build_of(tgid, &fake);
  if (!t) return 0;
  struct task_struct* task = bpf_get_current_task_btf();
  switch (call) {
    case CALL_OPEN:
      if (ret < 0) {
        on_failed_open(task, tgid, t, regs, nr, ret);
        break;
      }
      {
        /* The descriptor's file once for both; most opens only read, and
         * their flags (a register) say so without touching the file. */
        struct file* file = fd_file(task, ret);
        if (!file) break;
        on_open(task, tgid, t, file);
        if (open_flags(regs, nr) & O_ACCMODE) on_write_open(task, tgid, t, regs, nr, ret, file);
      }
      break;
    case CALL_FILE:
      on_file_change(task, tgid, t, regs, nr);
      break;
    case CALL_CONNECT:
      on_connect(task, tgid, t, regs, ret);
      break;
    case CALL_RECEIVE:
      on_receive(task, tgid, t, regs, nr, ret);
      break;
    case CALL_PTRACE: {
      long request = PT_REGS_PARM1_CORE_SYSCALL(regs);
      if (request == PTRACE_ATTACH || request == PTRACE_SEIZE)
        proc_access(task, tgid, t, PT_REGS_PARM2_CORE_SYSCALL(regs), ret, BT_F_PTRACE);
      break;
    }
    case CALL_VM_READ:
      proc_access(task, tgid, t, PT_REGS_PARM1_CORE_SYSCALL(regs), ret < 0 ? ret : 0, 0);
      break;
    default:
      break;
  }
  return 0;
}

/* Preferred: one tracepoint program per system call of interest
 * (syscalls:sys_exit_*), so no BPF program runs for the host's other
 * system calls; the loader picks these when tracefs has the syscall events. */
#define SYSCALL_EXIT(name, number)                                                        \
  SEC("tracepoint/syscalls/sys_exit_" #name)                                              \
  int bt_exit_##name(struct trace_event_raw_sys_exit* ctx) {                              \
    struct pt_regs* regs = (struct pt_regs*)bpf_task_pt_regs(bpf_get_current_task_btf()); \
    return on_sys_exit(regs, number, ctx->ret);                                           \
  }
SYSCALL_EXIT(open, NR_open)
SYSCALL_EXIT(creat, NR_creat)
SYSCALL_EXIT(openat, NR_openat)
SYSCALL_EXIT(openat2, NR_openat2)
SYSCALL_EXIT(connect, NR_connect)
SYSCALL_EXIT(read, NR_read)
SYSCALL_EXIT(recvfrom, NR_recvfrom)
SYSCALL_EXIT(recvmsg, NR_recvmsg)
SYSCALL_EXIT(recvmmsg, NR_recvmmsg)
SYSCALL_EXIT(ptrace, NR_ptrace)
SYSCALL_EXIT(process_vm_readv, NR_process_vm_readv)
SYSCALL_EXIT(truncate, NR_truncate)
SYSCALL_EXIT(rename, NR_rename)
SYSCALL_EXIT(unlink, NR_unlink)
SYSCALL_EXIT(chmod, NR_chmod)
SYSCALL_EXIT(fchmod, NR_fchmod)
SYSCALL_EXIT(unlinkat, NR_unlinkat)
SYSCALL_EXIT(renameat, NR_renameat)
SYSCALL_EXIT(fchmodat, NR_fchmodat)
SYSCALL_EXIT(renameat2, NR_renameat2)

/* Otherwise one program for every system call exit on the host: the
 * number is checked first, so the cost for the others is a load and a few
 * compares, but the program runs for all of them. */
SEC("tp_btf/sys_exit")
int BPF_PROG(bt_sys_exit, struct pt_regs* regs, long ret) {
  return on_sys_exit(regs, regs->orig_ax /* a direct load */, ret);
}

// bench/forward: the real collector process with two outputs forwarding
// every event -- a file (JSON lines) and syslog over TCP with octet
// counting to a receiver on loopback in this process (it reads the stream,
// checks each frame's length and counts messages) -- while 16 agents send
// 100 batches of 1,000 events each as fast as they are acknowledged.
//  1. ingest: events/s stored with both outputs on, against the same run
//     with no outputs (both with the detector, as serve runs by default).
//  2. forwarding: events/s each output delivered, from the first batch sent
//     until its cursor reached the last stored batch.
// Targets (issue 20): forwarding >= 100,000 events/s to each; ingest
// >= 250,000 events/s stored with two outputs on.
#include <unistd.h>
#include <atomic>

#include <cstdio>
#include <sstream>

#include "bench/batch/workload.h"
#include "bench/ingest/fleet.h"
#include "collector/store/store.h"
#include "tests/collector/octet_receiver.h"

using namespace bt;
using namespace bt::bench;

namespace {

struct Run {
  std::string root;  // its data folder is root/data
  double ingest_eps = 0;
  double file_eps = 0, syslog_eps = 0;
  uint64_t received = 0, bad = 0;
  int failures = 0;
};

int64_t last_position(const std::string& data) {
  auto st = collector::store::open_sqlite(data, {true, 5000}).value();
  auto all = st->batches_after(0, 1000000).value();
  return all.empty() ? 0 : all.back().position;
}

// Seconds from `t0` until the output's batch cursor reaches `position`.
double caught_up(const std::string& data, const std::string& output, int64_t position, Clock::time_point t0) {
  for (;;) {
    auto st = collector::store::open_sqlite(data, {true, 5000}).value();
    if (st->cursor("output." + output + ".batch").value() >= position)
      return std::chrono::duration<double>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Run run(bool outputs, int n_agents, int n_batches, std::size_t per_batch, const std::vector<events::Event>& pool) {
  Run r;
  const std::string root = testing::make_temp_dir("bench-forward");
  r.root = root;
  const std::string data = root + "/data";
  auto agents = make_agents(n_agents, n_batches, per_batch, pool);
  enroll(data, agents);
  testing::OctetReceiver receiver;
  std::vector<std::string> args;
  if (outputs) {
    const std::string toml = "[[output]]\nname = \"file\"\ntype = \"file\"\nforward = \"events\"\npath = \"" + root +
                             "/events.jsonl\"\nmax_bytes = 1073741824\n"
                             "[[output]]\nname = \"syslog\"\ntype = \"syslog\"\nforward = \"events\"\naddress = "
                             "\"127.0.0.1:" +
                             std::to_string(receiver.port()) + "\"\n";
    if (!fs::write_file_atomic(root + "/collector.toml", toml, 0644).ok()) std::exit(1);
    args = {"--config", root + "/collector.toml"};
  }
  testing::CollectorProcess c(data, args);
  if (!c.running()) {
    std::fprintf(stderr, "bench/forward: collector did not start\n");
    std::exit(1);
  }
  const auto t0 = Clock::now();
  auto sent = send_all(c.url("/v1/batches"), agents, per_batch, std::chrono::microseconds(0));
  r.ingest_eps = sent.events / sent.seconds;
  r.failures = sent.failures;
  if (outputs) {
    const int64_t last = last_position(data);
    const double total = static_cast<double>(sent.events);
    r.file_eps = total / caught_up(data, "file", last, t0);
    r.syslog_eps = total / caught_up(data, "syslog", last, t0);
    for (int i = 0; i < 100 && receiver.messages() < sent.events; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r.received = receiver.messages();
    r.bad = receiver.bad_frames();
  }
  c.stop();
  return r;
}

// CPU seconds (user + system) the process has used so far.
double cpu_seconds(pid_t pid) {
  auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return 0;
  // Fields after the command's closing parenthesis; utime and stime are
  // the 14th and 15th of the whole line.
  std::istringstream rest(stat->substr(stat->rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Alone {
  double eps = 0;
  double cpu_us_per_event = 0;  // the collector's, all threads: a figure the load of the machine moves little
};

// One output alone on a store filled already (`serve --no-detect`): the
// output's own rate, with nothing else on the CPUs.
Alone forward_alone(const std::string& root, const std::string& type, uint64_t total) {
  testing::OctetReceiver receiver;
  const std::string toml = "[[output]]\nname = \"alone-" + type + "\"\ntype = \"" + type +
                           "\"\nforward = \"events\"\n" +
                           (type == "file" ? "path = \"" + root + "/alone.jsonl\"\nmax_bytes = 1073741824\n"
                                           : "address = \"127.0.0.1:" + std::to_string(receiver.port()) + "\"\n");
  if (!fs::write_file_atomic(root + "/alone.toml", toml, 0644).ok()) std::exit(1);
  const std::string data = root + "/data";
  const int64_t last = last_position(data);
  const auto t0 = Clock::now();
  testing::CollectorProcess c(data, {"--no-detect", "--config", root + "/alone.toml"});
  const double seconds = caught_up(data, "alone-" + type, last, t0);
  const double cpu = cpu_seconds(c.pid());
  c.stop();
  return {static_cast<double>(total) / seconds, cpu * 1e6 / static_cast<double>(total)};
}

}  // namespace

int main(int argc, char** argv) {
  const int n_agents = argc > 1 ? std::atoi(argv[1]) : 16;
  const int n_batches = argc > 2 ? std::atoi(argv[2]) : 100;
  const std::size_t per_batch = 1000;
  curl_global_init(CURL_GLOBAL_ALL);
  const auto pool = bench::realistic_events(100000);
  std::printf("bench/forward: %d agents x %d batches x %zu events, real collector on loopback\n", n_agents, n_batches,
              per_batch);
  const Run alone = run(false, n_agents, n_batches, per_batch, pool);
  const Run with = run(true, n_agents, n_batches, per_batch, pool);
  const uint64_t total = static_cast<uint64_t>(n_agents) * n_batches * per_batch;
  std::printf("ingest, no outputs: %.0f events/s stored (%.2fx of 250k)\n", alone.ingest_eps,
              alone.ingest_eps / 250000);
  std::printf("ingest, file + syslog outputs: %.0f events/s stored (%.2fx of 250k; %.2fx of no outputs), failures %d\n",
              with.ingest_eps, with.ingest_eps / 250000, with.ingest_eps / alone.ingest_eps, with.failures);
  std::printf("forward to file: %.0f events/s (%.2fx of 100k)\n", with.file_eps, with.file_eps / 100000);
  std::printf("forward to syslog/tcp: %.0f events/s (%.2fx of 100k); receiver counted %llu of %llu, %llu bad frames\n",
              with.syslog_eps, with.syslog_eps / 100000, static_cast<unsigned long long>(with.received),
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(with.bad));
  const Alone file_alone = forward_alone(alone.root, "file", total);
  const Alone syslog_alone = forward_alone(alone.root, "syslog", total);
  std::printf(
      "one output alone on the stored trail (no ingest, no detector): file %.0f events/s (%.2fx of 100k; "
      "%.2f us of CPU per event), syslog/tcp %.0f events/s (%.2fx of 100k; %.2f us of CPU per event)\n",
      file_alone.eps, file_alone.eps / 100000, file_alone.cpu_us_per_event, syslog_alone.eps, syslog_alone.eps / 100000,
      syslog_alone.cpu_us_per_event);
  const bool ok = with.ingest_eps >= 250000 && with.file_eps >= 100000 && with.syslog_eps >= 100000 &&
                  with.received >= total && with.bad == 0 && with.failures == 0;
  std::printf("bench/forward: %s\n", ok ? "targets met" : "TARGETS MISSED");
  for (const std::string& root : {alone.root, with.root}) {  // 1.6 GB each
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  return 0;
}

#include "agent/runtime/agent.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <thread>

#include "agent/runtime/identity.h"
#include "agent/runtime/status_socket.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "transport/sender/sender.h"
#include "transport/ship/shipper.h"
#include "transport/spool/spool.h"

namespace bt::agent::runtime {

namespace {

constexpr const char* kSocketName = "agent.sock";

// The signals the agent handles on its loop. Blocked from create() on --
// before the command starts threads, which inherit the mask -- so one that
// arrives while the agent is still starting (loading BPF programs, say)
// waits for the loop's handler instead of killing it unannounced.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
  return set;
}

// Holds the stop signals until the agent exists; a create() that fails
// gives them back (`run --allow-unmonitored` then runs the build, which must
// not inherit them blocked).
class HeldSignals {
 public:
  HeldSignals() { ::pthread_sigmask(SIG_BLOCK, &set_, nullptr); }
  ~HeldSignals() {
    if (!kept_) ::pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
  }
  void keep() { kept_ = true; }

 private:
  const sigset_t set_ = stop_signals();
  bool kept_ = false;
};

void close_handle(uv_handle_t* h) {
  if (h && !uv_is_closing(h)) uv_close(h, nullptr);
}

}  // namespace

struct Agent::Impl {
  config::Config config;
  std::string mode;
  identity::Identity id;
  events::Event base;  // envelope template
  uint64_t started_ns = clock::now_ns();

  uv_loop_t loop{};
  uv_async_t async{};
  uv_timer_t tick{};  // seals by age, checks the end of capture
  uv_timer_t heartbeat{};
  uv_timer_t deadline{};  // flush timeout
  uv_signal_t sigint{}, sigterm{}, sighup{}, sigquit{};
  std::function<void(int)> signal_handler;
  std::unique_ptr<StatusSocket> status;

  std::unique_ptr<transport::spool::Spool> spool;
  std::unique_ptr<batch::Sealer> sealer;
  std::unique_ptr<transport::batcher::EventQueue> queue;
  std::unique_ptr<transport::batcher::Batcher> batcher;
  // Declared before the sender so it is destroyed after it: the sender's
  // close runs pending callbacks that reach into the shipper.
  std::unique_ptr<transport::ship::Shipper> shipper;
  std::unique_ptr<transport::sender::Sender> sender;

  std::atomic<bool> stop{false};
  std::atomic<bool> capture_done{false};
  bool capture_running = false;  // a capture thread was started
  bool finishing = false;        // agent_stop sealed, waiting for delivery
  bool shipping = false;         // enrolled (or not needing it) and sending
  uint64_t events_at_last_heartbeat = 0;
  std::vector<events::Event> drained;
  transport::batcher::LossTracker drops;
  std::string collector_error;

  void on_wake();
  void drain();
  void seal_and_kick();
  void start_shipping();
  void enroll_then_ship();
  void maybe_finish();
  void shutdown();
  void add_own_event(events::Body body);
  void start_timers();
  void start_signals();
  void start_status_socket();
  void on_tick();
  void on_heartbeat();
  void on_signal(int signum);
  std::string status_json() const;
  bool all_delivered() { return spool->pending().empty(); }
};

void Agent::Impl::add_own_event(events::Body body) {
  events::Event e = base;
  e.time_ns = clock::now_ns();
  e.body = std::move(body);
  if (batcher->add(e)) seal_and_kick();
}

void Agent::Impl::seal_and_kick() {
  if (shipper && shipping) shipper->kick();
}

void Agent::Impl::drain() {
  queue->drain(drained, drops);
  if (!drops.empty()) {
    batcher->record_drops(drops);
    drops.clear();
  }
  bool sealed = false;
  for (const auto& e : drained) sealed |= batcher->add(e);
  drained.clear();
  if (sealed) seal_and_kick();
}

void Agent::Impl::on_wake() {
  drain();
  maybe_finish();
}

void Agent::Impl::maybe_finish() {
  // A stop waits for a running capture thread: it notices the stop, hands
  // over what it still holds (a daemon's open builds) and returns.
  if (finishing || !(capture_done || (stop && !capture_running))) return;
  drain();
  finishing = true;
  events::AgentStop stop_event;
  stop_event.reason = stop ? "signal" : "exit";
  stop_event.events_total = batcher->stats().events_in;
  add_own_event(stop_event);
  batcher->seal_now();
  // A collector that refuses this agent will not take these batches
  // either: they wait in the spool for the next start.
  if (!sender || (shipping && all_delivered()) || (shipper && shipper->paused())) {
    shutdown();
    return;
  }
  // Still enrolling, or batches to deliver: wait for the shipper to go
  // idle, at most the flush timeout.
  if (shipper) shipper->kick();
  uv_timer_start(
      &deadline, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->shutdown(); }, config.flush_timeout_s * 1000, 0);
}

void Agent::Impl::shutdown() {
  const auto left = spool->pending().size();
  if (left && !config.collector.empty())
    log::warn("agent", std::to_string(left) + " batch(es) left in the spool for the next start" +
                           (collector_error.empty() ? "" : ": " + collector_error));
  uv_timer_stop(&tick);
  uv_timer_stop(&heartbeat);
  uv_timer_stop(&deadline);
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&async), reinterpret_cast<uv_handle_t*>(&tick),
                         reinterpret_cast<uv_handle_t*>(&heartbeat), reinterpret_cast<uv_handle_t*>(&deadline),
                         reinterpret_cast<uv_handle_t*>(&sigint), reinterpret_cast<uv_handle_t*>(&sigterm)})
    close_handle(h);
  if (signal_handler) {
    close_handle(reinterpret_cast<uv_handle_t*>(&sighup));
    close_handle(reinterpret_cast<uv_handle_t*>(&sigquit));
  }
  if (status) status->close();
  if (shipper) shipper->close();
  if (sender) sender->close();
}

void Agent::Impl::start_shipping() {
  shipping = true;
  transport::ship::Config sc;
  sc.backoff_base = std::chrono::milliseconds(config.send_backoff_base_ms);
  sc.backoff_cap = std::chrono::milliseconds(config.send_backoff_cap_ms);
  transport::ship::Hooks hooks;
  hooks.log = [this](const std::string& line) {
    collector_error = line;
    log::warn("sender", line);
  };
  hooks.rejected = [this](const batch::Header& h, long status, const std::string&) {
    const std::string reason = status ? "rejected_" + std::to_string(status) : "spool_corrupt";
    batcher->record_drop(reason, std::max<uint64_t>(1, h.event_count), h.first_time_ns, h.last_time_ns);
  };
  hooks.idle = [this] {
    if (finishing) {
      // The loss of rejected batches still needs a batch of its own; it is
      // spooled, and sent unless the collector refuses this agent.
      if (!batcher->unreported_loss().empty() && batcher->seal_now() && !shipper->paused()) {
        shipper->kick();
        return;
      }
      shutdown();
    }
  };
  shipper = std::make_unique<transport::ship::Shipper>(&loop, *spool, *sender, sc, std::move(hooks));
  shipper->kick();
}

void Agent::Impl::enroll_then_ship() {
  if (config.enroll_token.empty() || identity::enrolled_with(id, config.collector)) {
    start_shipping();
    return;
  }
  sender->post("/v1/enroll", identity::enroll_request(id, config.enroll_token), "application/json",
               [this](transport::sender::Response r) {
                 if (r.delivery == transport::sender::Delivery::kDelivered) {
                   (void)identity::mark_enrolled(id, config.collector);
                   log::info("agent", "enrolled as " + id.agent_id + " with " + config.collector);
                   start_shipping();
                 } else if (r.delivery == transport::sender::Delivery::kRejected) {
                   collector_error = "enrollment refused (" + std::to_string(r.status) + "): " + r.body;
                   log::error("agent", collector_error + "; batches stay in the spool");
                   if (finishing) shutdown();
                 } else {
                   collector_error =
                       "cannot reach collector to enroll: " + (r.status ? std::to_string(r.status) : r.error);
                   log::warn("agent", collector_error + "; batches stay in the spool");
                   if (finishing) shutdown();
                 }
               });
}

std::string Agent::Impl::status_json() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto num = [&](const char* key, uint64_t value) {
    w.Key(key);
    w.Uint64(value);
  };
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  const auto& bs = batcher->stats();
  const transport::ship::Stats none;
  const auto& ss = shipper ? shipper->stats() : none;
  w.StartObject();
  str("agent_id", id.agent_id);
  str("mode", mode);
  num("uptime_s", (clock::now_ns() - started_ns) / 1000000000ull);
  num("events_in", bs.events_in);
  num("events_sealed", bs.events_sealed);
  num("batches_spooled", bs.batches_sealed);
  num("queue_depth", queue->size());
  num("spool_bytes", spool->bytes());
  w.Key("dropped");
  w.StartObject();
  for (const auto& [reason, n] : bs.dropped) num(reason.c_str(), n);
  w.EndObject();
  num("batches_sent", ss.batches_sent);
  num("events_sent", ss.events_sent);
  num("retries", ss.retries);
  num("rejected", ss.rejected);
  // 401/403: the collector refuses this agent; batches wait in the spool.
  w.Key("sending_paused");
  w.Bool(ss.paused);
  num("last_ack_ns", ss.last_ack_ns);
  str("collector", config.collector);
  str("collector_error", collector_error);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() {
  if (impl_) uv_loop_close(&impl_->loop);
}

transport::batcher::EventQueue& Agent::queue() { return *impl_->queue; }
void Agent::wake() { uv_async_send(&impl_->async); }
bool Agent::stop_requested() const { return impl_->stop; }
events::Event Agent::envelope() const { return impl_->base; }
void Agent::forward_signals(std::function<void(int)> handler) { impl_->signal_handler = std::move(handler); }

Result<std::unique_ptr<Agent>> Agent::create(const config::Config& config, const std::string& mode) {
  HeldSignals held;
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->mode = mode;
  log::Level level;
  if (!log::parse_level(config.log_level, &level))
    return make_error(ErrorCode::kInvalidArgument, "log.level must be debug, info, warn or error");
  log::set_level(level);

  auto state_dir = config::state_dir(config);
  if (!state_dir) return state_dir.error();
  impl->config.state_dir = *state_dir;
  auto id = identity::load_or_create(*state_dir);
  if (!id) return id.error();
  impl->id = std::move(*id);
  if (impl->id.created) log::info("agent", "created identity " + impl->id.agent_id + " in " + *state_dir);

  transport::spool::Config spool_config;
  spool_config.dir = *state_dir + "/spool";
  spool_config.max_bytes = config.spool_max_bytes;
  auto spool = transport::spool::Spool::open(spool_config, impl->id.key.public_key, impl->id.agent_id);
  if (!spool) return spool.error();
  impl->spool = std::move(*spool);
  for (const auto& lost : impl->spool->lost_at_open())
    log::warn("spool", "quarantined corrupt spool file " + lost.file + " (" + std::to_string(lost.events) +
                           " events lost, reported in-band)");

  impl->sealer = std::make_unique<batch::Sealer>(impl->id.key, impl->id.agent_id);
  impl->queue = std::make_unique<transport::batcher::EventQueue>(config.queue_capacity);
  const auto inv = identity::inventory();
  impl->base.host = inv.hostname;
  impl->base.agent_id = impl->id.agent_id;
  impl->base.process.pid = static_cast<uint64_t>(::getpid());
  impl->base.process.ppid = static_cast<uint64_t>(::getppid());
  impl->base.process.uid = ::getuid();
  char exe[4096] = {0};
  if (::readlink("/proc/self/exe", exe, sizeof exe - 1) > 0) impl->base.process.exe = exe;
  transport::batcher::Config bc;
  bc.max_json_bytes = config.batch_max_bytes;
  bc.max_age = std::chrono::milliseconds(config.batch_max_age_ms);
  bc.queue_capacity = config.queue_capacity;
  auto loss_dir = impl->id.state.dup();
  if (!loss_dir) return loss_dir.error();
  impl->batcher = std::make_unique<transport::batcher::Batcher>(bc, *impl->sealer, *impl->spool, impl->base,
                                                                std::move(*loss_dir), "loss");

  if (uv_loop_init(&impl->loop) != 0) return make_error(ErrorCode::kInternal, "uv_loop_init failed");
  if (!config.collector.empty()) {
    transport::sender::Config sc;
    sc.collector_url = config.collector;
    sc.ca_file = config.tls_ca_file;
    sc.client_cert = config.tls_client_cert;
    sc.client_key = config.tls_client_key;
    sc.connect_timeout_ms = static_cast<long>(config.send_connect_timeout_ms);
    sc.transfer_timeout_ms = static_cast<long>(config.send_timeout_ms);
    auto sender = transport::sender::Sender::create(&impl->loop, sc);
    if (!sender) {
      uv_loop_close(&impl->loop);
      return sender.error();
    }
    impl->sender = std::move(*sender);
  }
  held.keep();  // until run() handles them
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

void Agent::Impl::on_tick() {
  drain();
  const bool lone_loss = !batcher->unreported_loss().empty() && batcher->pending_events() == 0;
  if ((batcher->due() || lone_loss) && batcher->seal_now()) seal_and_kick();
  maybe_finish();
}

void Agent::Impl::on_heartbeat() {
  const uint64_t seen = batcher->stats().events_in;
  if (seen == events_at_last_heartbeat && !finishing) {
    events::AgentHeartbeat hb;
    hb.uptime_ns = clock::now_ns() - started_ns;
    hb.events_total = seen;
    for (const auto& d : batcher->stats().dropped) hb.dropped_total += d.second;
    add_own_event(hb);
    if (batcher->seal_now()) seal_and_kick();
  }
  events_at_last_heartbeat = batcher->stats().events_in;
}

void Agent::Impl::start_timers() {
  uv_async_init(&loop, &async, [](uv_async_t* a) { static_cast<Impl*>(a->data)->on_wake(); });
  async.data = this;
  for (uv_timer_t* t : {&tick, &heartbeat, &deadline}) {
    uv_timer_init(&loop, t);
    t->data = this;
  }
  const uint64_t tick_ms = std::max<uint64_t>(10, config.batch_max_age_ms / 4);
  uv_timer_start(
      &tick, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->on_tick(); }, tick_ms, tick_ms);
  const uint64_t heartbeat_ms = config.heartbeat_s * 1000;
  uv_timer_start(
      &heartbeat, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->on_heartbeat(); }, heartbeat_ms, heartbeat_ms);
}

void Agent::Impl::on_signal(int signum) {
  if (signal_handler) return signal_handler(signum);
  stop = true;
  maybe_finish();
}

void Agent::Impl::start_signals() {
  std::vector<std::pair<int, uv_signal_t*>> signals = {{SIGINT, &sigint}, {SIGTERM, &sigterm}};
  if (signal_handler) {
    signals.emplace_back(SIGHUP, &sighup);
    signals.emplace_back(SIGQUIT, &sigquit);
  }
  for (auto [sig, handle] : signals) {
    uv_signal_init(&loop, handle);
    handle->data = this;
    uv_signal_start(
        handle, [](uv_signal_t* h, int signum) { static_cast<Impl*>(h->data)->on_signal(signum); }, sig);
  }
  // Handled on the loop from here on; one that came meanwhile is delivered now.
  const sigset_t held = stop_signals();
  ::pthread_sigmask(SIG_UNBLOCK, &held, nullptr);
}

// A wrapped build step is short-lived and several may share the state
// folder: no status socket for them.
void Agent::Impl::start_status_socket() {
  if (mode == "run") return;
  status = std::make_unique<StatusSocket>(&loop, id.state, kSocketName, [this] { return status_json(); });
  if (!status->listen()) {
    log::warn("agent", "status socket " + id.state.path_of(kSocketName) + " unavailable");
    status.reset();
  }
}

int Agent::run(const std::function<void(Agent&)>& capture) {
  Impl& s = *impl_;
  s.start_timers();
  s.start_signals();
  s.start_status_socket();

  const auto inv = identity::inventory();
  events::AgentStart start;
  start.version = BUILDTRAIL_VERSION;
  start.mode = s.mode;
  start.os = inv.os;
  start.kernel = inv.kernel;
  start.ci_detected = inv.ci;
  s.add_own_event(start);

  if (s.sender) s.enroll_then_ship();

  std::thread capture_thread;
  if (capture) {
    s.capture_running = true;
    capture_thread = std::thread([this, &capture] {
      capture(*this);
      impl_->capture_done = true;
      wake();
    });
  } else {
    s.capture_done = true;
    uv_async_send(&s.async);
  }
  uv_run(&s.loop, UV_RUN_DEFAULT);
  if (capture_thread.joinable()) capture_thread.join();
  // Handles closed in shutdown(); run once more for their callbacks.
  uv_run(&s.loop, UV_RUN_DEFAULT);
  return s.config.collector.empty() || s.all_delivered() ? 0 : 1;
}

void Agent::push_waiting(events::Event&& event) {
  while (!impl_->queue->try_push(event)) {
    if (stop_requested()) {
      impl_->queue->push(std::move(event));  // counted as queue_full if still full
      return;
    }
    wake();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

Result<std::string> query_status(const std::string& state_dir) {
  // The same checks as the agent's: an answer from a socket another user
  // placed would be a forged status.
  auto dir = fs::PrivateDir::open(state_dir, false);
  if (!dir) return dir.error();
  auto st = dir->stat(kSocketName);
  if (st && !S_ISSOCK(st->st_mode))
    return make_error(ErrorCode::kInvalidArgument, dir->path_of(kSocketName) + ": not a socket; refusing it");
  unix_socket::Exchange exchange;
  exchange.server = "running agent";
  const std::string shown = dir->path_of(kSocketName);
  exchange.shown_path = shown;
  return unix_socket::ask(dir->fd_path_of(kSocketName), exchange);
}

}  // namespace bt::agent::runtime

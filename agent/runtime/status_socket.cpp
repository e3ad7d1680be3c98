#include "agent/runtime/status_socket.h"

#include <sys/stat.h>
#include <unistd.h>

#include <memory>

namespace bt::agent::runtime {

namespace {

// One connection being answered. libuv owns it from uv_pipe_init until its
// close callback (uv_close docs), which is where it is freed.
struct Client {
  uv_pipe_t pipe{};
  uv_write_t write{};
  std::string text;
};

void close_client(Client* c) {
  uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe), [](uv_handle_t* h) { delete static_cast<Client*>(h->data); });
}

}  // namespace

StatusSocket::StatusSocket(uv_loop_t* loop, const fs::PrivateDir& dir, std::string name, Answer answer)
    : loop_(loop), name_(std::move(name)), answer_(std::move(answer)) {
  if (auto d = dir.dup(); d) dir_ = std::move(*d);
}

bool StatusSocket::listen() {
  if (!dir_.valid()) return false;
  // Whatever is there (a stale socket, or a link someone planted) goes:
  // unlinkat() removes a link itself, never its target.
  (void)dir_.remove(name_);
  uv_pipe_init(loop_, &server_, 0);
  server_.data = this;
  const mode_t old = ::umask(0077);  // the owner only
  // Through /proc/self/fd/N/: the folder we checked, whatever its path now.
  // libuv also unlinks this path when the handle closes, while dir_ is open.
  const int bound = uv_pipe_bind(&server_, dir_.fd_path_of(name_).c_str());
  ::umask(old);
  if (bound != 0 || uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 8, on_connection) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    return false;
  }
  listening_ = true;
  return true;
}

void StatusSocket::on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* self = static_cast<StatusSocket*>(server->data);
  auto client = std::make_unique<Client>();
  uv_pipe_init(self->loop_, &client->pipe, 0);
  Client* c = client.release();  // the loop's now: freed by close_client
  c->pipe.data = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) return close_client(c);
  c->text = self->answer_();
  c->write.data = c;
  uv_buf_t buf = uv_buf_init(c->text.data(), static_cast<unsigned>(c->text.size()));
  if (uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->pipe), &buf, 1,
               [](uv_write_t* w, int) { close_client(static_cast<Client*>(w->data)); }) != 0)
    close_client(c);
}

void StatusSocket::close() {
  if (!listening_) return;
  listening_ = false;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&server_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
  (void)dir_.remove(name_);
}

}  // namespace bt::agent::runtime

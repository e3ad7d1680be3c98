// A request body's bytes, in memory mapped for that body alone and
// unmapped when the request ends. The collector keeps malloc's large
// blocks in its arenas (cmd/serve.cpp: verified batches are allocated and
// freed by the thousand, and faulting their pages in each time cost the
// outputs a third of their time), so a body must not come from malloc: a
// client holding many large bodies open would leave their memory with the
// process after it left.
#pragma once

#include <cstddef>
#include <string_view>

namespace bt::collector::http {

class Body {
 public:
  Body() = default;
  ~Body();
  Body(const Body&) = delete;
  Body& operator=(const Body&) = delete;

  // Room for `capacity` bytes (the request's Content-Length); false when
  // the system has no memory to give (the request is then refused).
  bool reserve(std::size_t capacity);
  // Appends what fits in the room reserved: libmicrohttpd never hands
  // over more than the Content-Length.
  void append(const char* bytes, std::size_t n);
  std::string_view view() const { return {data_, size_}; }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0, mapped_ = 0;
};

}  // namespace bt::collector::http

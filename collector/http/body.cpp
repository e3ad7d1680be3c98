// Request bodies in memory of their own; see body.h.
#include "collector/http/body.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace bt::collector::http {

Body::~Body() {
  if (mapped_ > 0) ::munmap(data_, mapped_);
}

bool Body::reserve(std::size_t capacity) {
  if (mapped_ > 0 || capacity == 0) return mapped_ >= capacity;
  void* at = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (at == MAP_FAILED) return false;
  data_ = static_cast<char*>(at);
  capacity_ = mapped_ = capacity;
  return true;
}

void Body::append(const char* bytes, std::size_t n) {
  n = std::min(n, capacity_ - size_);
  if (n == 0) return;
  std::memcpy(data_ + size_, bytes, n);
  size_ += n;
}

}  // namespace bt::collector::http

#include "collector/archive/archive.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/batch/batch.h"
#include "common/fs.h"

namespace bt::collector::archive {

Archive::Archive(std::string data_dir) : dir_(std::move(data_dir)) {}

std::string Archive::relative_path(const crypto::Digest& hash) {
  const std::string hex = crypto::to_hex(hash);
  return "archive/" + hex.substr(0, 2) + "/" + hex + ".btb";
}

std::string Archive::refused_path(const crypto::Digest& hash) {
  const std::string hex = crypto::to_hex(hash);
  return "archive/refused/" + hex.substr(0, 2) + "/" + hex + ".btb";
}

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The 256 fan-out folders exist after the first few batches: one access()
// instead of a mkdir per path component on every batch.
Status make_parent(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::access(dir.c_str(), F_OK) == 0) return Ok{};
  return fs::make_dirs(dir, 0750);
}

}  // namespace

std::string Archive::absolute(const std::string& relative_path) const { return dir_ + "/" + relative_path; }

Result<std::string> Archive::put(std::span<const uint8_t> batch, const crypto::Digest& hash) const {
  const std::string rel = relative_path(hash);
  const std::string path = absolute(rel);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) == batch.size()) return rel;
  if (Status made = make_parent(path); !made) return made.error();
  Status s =
      fs::write_file_staged(path, std::string_view(reinterpret_cast<const char*>(batch.data()), batch.size()), 0640);
  if (!s) return s.error();
  return rel;
}

Result<Archive::Refused> Archive::refuse(const crypto::Digest& hash) const {
  Refused out{refused_path(hash), false};
  const std::string stored = absolute(relative_path(hash)), refused = absolute(out.path);
  if (exists(refused)) {
    out.before = true;
    if (::unlink(stored.c_str()) != 0 && errno != ENOENT)
      return make_error(ErrorCode::kIo, stored + ": cannot remove: " + fs::errno_text(errno));
    return out;
  }
  if (Status made = make_parent(refused); !made) return made.error();
  if (::rename(stored.c_str(), refused.c_str()) != 0)
    return make_error(ErrorCode::kIo, stored + ": cannot move to " + out.path + ": " + fs::errno_text(errno));
  return out;
}

Status Archive::restore(const crypto::Digest& hash) const {
  const std::string stored = absolute(relative_path(hash));
  if (exists(stored)) return Ok{};
  const std::string refused = absolute(refused_path(hash));
  if (Status made = make_parent(stored); !made) return made;
  if (::link(refused.c_str(), stored.c_str()) != 0 && errno != EEXIST)
    return make_error(ErrorCode::kIo, stored + ": missing, and cannot restore it from " + refused_path(hash) + ": " +
                                          fs::errno_text(errno));
  return Ok{};
}

Status Archive::sync() const { return fs::sync_filesystem(dir_); }

Result<std::string> Archive::read(const std::string& relative_path) const {
  // Paths come from our own store, but refuse anything that could leave the
  // archive all the same.
  if (relative_path.rfind("archive/", 0) != 0 || relative_path.find("..") != std::string::npos)
    return make_error(ErrorCode::kInvalidArgument, "not an archive path: " + relative_path);
  return fs::read_file(absolute(relative_path), batch::Limits{}.max_batch_bytes);
}

}  // namespace bt::collector::archive

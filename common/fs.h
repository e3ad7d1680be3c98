// Small file helpers with errors as values. Sizes read from disk are bounded
// by the caller so a hostile file cannot drive an unbounded allocation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::fs {

Result<std::string> read_file(const std::string& path, std::size_t max_bytes);

// Creates `path` with `mode`, failing with kExists if it already exists, and
// fsyncs it before returning.
Status write_new_file(const std::string& path, std::string_view data, unsigned mode);

// Durable replace: write a temporary sibling, fsync, rename over `path`,
// fsync the directory.
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode);

// Atomic but not yet durable replace: write a uniquely named temporary
// sibling and rename it over `path`. Many writers pay for one
// sync_filesystem() together instead of two fsyncs each.
Status write_file_staged(const std::string& path, std::string_view data, unsigned mode);

// Flushes everything written to the filesystem holding `path` (syncfs), and
// reports any write-back error since the last call.
Status sync_filesystem(const std::string& path);

// The last component of `path` ("a/b/c" -> "c", "c" -> "c").
std::string_view base_name(std::string_view path);

Status make_dirs(const std::string& path, unsigned mode);

std::string errno_text(int err);

}  // namespace bt::fs

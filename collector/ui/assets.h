// The UI's files (collector/ui/assets/), embedded at build time by
// embed.py: the collector binary serves them itself, offline.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace bt::collector::ui {

struct Asset {
  const char* name;          // the file's name, e.g. "app.js"
  const char* content_type;  // from its extension
  const char* etag;          // "\"<first 32 hex digits of its SHA-256>\""
  const unsigned char* data;
  std::size_t size;
};

// Every asset, by name (generated).
std::span<const Asset> assets();

// The asset named `name`, or null.
inline const Asset* find_asset(std::string_view name) {
  for (const Asset& a : assets())
    if (name == a.name) return &a;
  return nullptr;
}

}  // namespace bt::collector::ui

// EventFields: see event_fields.h. Names and values are both derived from
// events.def through the structs' visit_fields, so neither list is kept by
// hand.
#include "collector/detect/sigma/event_fields.h"

#include <arpa/inet.h>

#include <algorithm>
#include <type_traits>

namespace bt::collector::detect::sigma {

namespace {

using events::Counts;
using events::StringList;

template <class T>
concept Record = requires {
  T::kIsRecord;
};

// ---- names ----
template <class T>
void names_of(const std::string& name, std::vector<std::string>& out);

template <class T>
void record_names(const std::string& prefix, std::vector<std::string>& out) {
  T::visit_fields([&](auto field) {
    using V = std::decay_t<decltype(std::declval<T>().*(field.member))>;
    names_of<V>(prefix + std::string(field.name), out);
  });
}

template <class T>
void names_of(const std::string& name, std::vector<std::string>& out) {
  if constexpr (Record<T>) {
    record_names<T>(name + ".", out);
  } else if constexpr (std::is_same_v<T, Counts>) {
    for (const auto& k : events::kKinds) out.push_back(name + "." + std::string(k.name));
  } else if constexpr (std::is_same_v<T, StringList>) {
    out.push_back(name);
  } else if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>) {
    names_of<typename T::value_type>(name, out);  // a list of records: its members' names
  } else {
    out.push_back(name);
  }
}

// ---- values ----
void put(const std::string& v, std::vector<std::string>& out) {
  if (!v.empty()) out.push_back(v);
}
void put(uint64_t v, std::vector<std::string>& out) { out.push_back(std::to_string(v)); }
void put(int64_t v, std::vector<std::string>& out) { out.push_back(std::to_string(v)); }

template <class T>
void values_of(const T& v, std::string_view want, std::string_view name, std::vector<std::string>& out);

template <class T>
void record_values(const T& r, std::string_view want, std::vector<std::string>& out) {
  // `want` is the rest of the path below this record.
  T::visit_fields([&](auto field) {
    const std::string_view n = field.name;
    if (want.substr(0, n.size()) != n) return;
    if (want.size() != n.size() && want[n.size()] != '.') return;
    values_of(r.*(field.member), want, n, out);
  });
}

template <class T>
void values_of(const T& v, std::string_view want, std::string_view name, std::vector<std::string>& out) {
  const std::string_view rest = want.size() > name.size() ? want.substr(name.size() + 1) : std::string_view{};
  if constexpr (Record<T>) {
    if (!rest.empty()) record_values(v, rest, out);
  } else if constexpr (std::is_same_v<T, Counts>) {
    for (const auto& [k, n] : v)
      if (k == rest) out.push_back(std::to_string(n));
  } else if constexpr (std::is_same_v<T, StringList>) {
    if (rest.empty())
      for (const auto& s : v) put(s, out);
  } else if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>) {
    if (!rest.empty())
      for (const auto& item : v) record_values(item, rest, out);
  } else {
    if (rest.empty()) put(v, out);
  }
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

constexpr std::string_view kDerivedCommon[] = {"derived.user"};
constexpr std::string_view kDerivedExec[] = {
    "derived.command_line",        "derived.hashes",         "derived.parent_exe",
    "derived.parent_command_line", "derived.parent_user",    "derived.stdin_peer_exe",
    "derived.stdout_peer_exe",     "derived.written_by_exe", "derived.package_install"};
constexpr std::string_view kDerivedNet[] = {"derived.initiated", "derived.destination_is_ipv6"};

}  // namespace

EventFields::EventFields(const events::Event& event, ParentLookup parents)
    : event_(event), parents_(std::move(parents)) {}

std::string_view EventFields::kind() const { return events::kind_name(event_.kind()); }

void EventFields::values(std::string_view field, std::vector<std::string>& out) const {
  if (field == "kind") {
    out.emplace_back(kind());
    return;
  }
  if (field.substr(0, 5) == "data.") {
    std::visit(
        [&](const auto& body) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(body)>, std::monostate>) {
            record_values(body, field.substr(5), out);
          }
        },
        event_.body);
    return;
  }
  if (field.substr(0, 8) == "derived.") {
    const std::string_view d = field.substr(8);
    const auto* exec = std::get_if<events::ProcessExec>(&event_.body);
    if (d == "user") {
      out.push_back(std::to_string(event_.process.uid));
    } else if (d == "command_line" && exec) {
      out.push_back(join(exec->argv));
    } else if (d == "hashes" && exec && !exec->exe_sha256.empty()) {
      out.push_back("SHA256=" + exec->exe_sha256);
    } else if (const auto* net = std::get_if<events::NetConnect>(&event_.body)) {
      if (d == "initiated") out.emplace_back("true");
      if (d == "destination_is_ipv6") out.emplace_back(net->daddr.find(':') != std::string::npos ? "true" : "false");
    } else if ((d == "stdin_peer_exe" || d == "stdout_peer_exe") && exec && parents_) {
      const std::string& key = d == "stdin_peer_exe" ? exec->stdin_fd.peer_key : exec->stdout_fd.peer_key;
      if (key.empty()) return;
      if (const auto peer = parents_(key)) put(peer->exe, out);
    } else if (d == "written_by_exe" && exec && parents_) {
      if (exec->written_by.empty()) return;
      if (const auto writer = parents_(exec->written_by)) put(writer->exe, out);
    } else if (d == "package_install" && exec && parents_ && !event_.process.parent_key.empty()) {
      if (const auto parent = parents_(event_.process.parent_key)) put(parent->package_install, out);
    } else if (d.substr(0, 7) == "parent_" && parents_ && !event_.process.parent_key.empty()) {
      const auto parent = parents_(event_.process.parent_key);
      if (!parent) return;
      if (d == "parent_exe") put(parent->exe, out);
      if (d == "parent_command_line" && !parent->argv.empty()) out.push_back(join(parent->argv));
      if (d == "parent_user") out.push_back(std::to_string(parent->uid));
    }
    return;
  }
  record_values(event_, field, out);
}

std::vector<std::string> event_field_names(events::Kind kind) {
  std::vector<std::string> out = {"kind"};
  record_names<events::Event>("", out);
  std::visit(
      [&](const auto& body) {
        using B = std::decay_t<decltype(body)>;
        if constexpr (!std::is_same_v<B, std::monostate>) record_names<B>("data.", out);
      },
      events::make_body(kind));
  for (auto d : kDerivedCommon) out.emplace_back(d);
  if (kind == events::Kind::process_exec)
    for (auto d : kDerivedExec) out.emplace_back(d);
  if (kind == events::Kind::net_connect)
    for (auto d : kDerivedNet) out.emplace_back(d);
  return out;
}

std::vector<std::string> all_event_field_names() {
  std::vector<std::string> out;
  for (const auto& k : events::kKinds)
    for (auto& n : event_field_names(k.kind)) out.push_back(std::move(n));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace bt::collector::detect::sigma

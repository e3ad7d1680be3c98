// Records built by path; see tree.h.
#include "collector/format/tree.h"

#include <arpa/inet.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <vector>

#include "common/events/json.h"
#include "common/text.h"

namespace bt::collector::format::detail {

namespace {

rapidjson::Value string_value(std::string_view s, Node::Alloc& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

// A name to look a member up by. A Value, not a StringRef: a StringRef
// converts to a `const char*`, which FindMember would read up to a NUL,
// past the end of the view.
rapidjson::Value key(std::string_view name) {
  return rapidjson::Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size())));
}

}  // namespace

rapidjson::Value& Node::slot(std::string_view path) {
  rapidjson::Value* at = value_;
  for (;;) {
    const auto dot = path.find('.');
    const std::string_view name = path.substr(0, dot);
    // HasMember, not FindMember == MemberEnd: clang (the fuzz build) finds
    // RapidJSON's mutable iterator comparison ambiguous in C++20.
    if (!at->HasMember(key(name)))
      at->AddMember(string_value(name, *alloc_), rapidjson::Value(rapidjson::kObjectType), *alloc_);
    auto member = at->FindMember(key(name));
    if (dot == std::string_view::npos) return member->value;
    // A path through a member that is not an object yet makes it one.
    if (!member->value.IsObject()) member->value.SetObject();
    at = &member->value;
    path.remove_prefix(dot + 1);
  }
}

void Node::str(std::string_view path, std::string_view value) { slot(path) = string_value(value, *alloc_); }
void Node::int64(std::string_view path, int64_t value) { slot(path).SetInt64(value); }
void Node::uint64(std::string_view path, uint64_t value) { slot(path).SetUint64(value); }
void Node::boolean(std::string_view path, bool value) { slot(path).SetBool(value); }

Node Node::object(std::string_view path) {
  rapidjson::Value& v = slot(path);
  if (!v.IsObject()) v.SetObject();
  return Node(&v, alloc_);
}

Node Node::array(std::string_view path) {
  rapidjson::Value& v = slot(path);
  if (!v.IsArray()) v.SetArray();
  return Node(&v, alloc_);
}

void Node::add(std::string_view value) { value_->PushBack(string_value(value, *alloc_), *alloc_); }

Node Node::add_object() {
  value_->PushBack(rapidjson::Value(rapidjson::kObjectType), *alloc_);
  return Node(&(*value_)[value_->Size() - 1], alloc_);
}

void Node::copy_members(std::string_view path, const rapidjson::Value& from,
                        const std::vector<std::string_view>& except) {
  if (!from.IsObject()) return;
  rapidjson::Value out(rapidjson::kObjectType);
  for (const auto& m : from.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (std::find(except.begin(), except.end(), name) != except.end()) continue;
    out.AddMember(rapidjson::Value(m.name, *alloc_), rapidjson::Value(m.value, *alloc_), *alloc_);
  }
  if (out.MemberCount() == 0) return;
  Node into = object(path);
  for (rapidjson::SizeType i = 0; i < out.MemberCount(); ++i) {
    auto& m = out.MemberBegin()[i];
    into.value_->AddMember(m.name, m.value, *alloc_);
  }
}

std::string Tree::json() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc_.Accept(w);
  return text::json_printable(std::string_view(buf.GetString(), buf.GetSize()));
}

Source::Source(const events::Event& e) {
  // The encoder writes what the decoder reads, so this parse cannot fail
  // on an event we hold; if it ever did, member() finds nothing.
  const std::string json = events::to_json(e);
  doc_.Parse(json.data(), json.size());
}

const rapidjson::Value& Source::member(std::string_view name) const {
  if (!doc_.IsObject()) return empty_;
  const auto m = doc_.FindMember(key(name));
  return m == doc_.MemberEnd() ? empty_ : m->value;
}

std::string_view base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

bool is_ip(const std::string& text) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

void evidence(Node at, std::string_view path, const std::vector<store::Evidence>& evidence) {
  if (evidence.empty()) return;
  Node list = at.array(path);
  for (const auto& ev : evidence) {
    Node n = list.add_object();
    n.str("agent_id", ev.agent_id);
    n.uint64("seq", ev.seq);
    n.uint64("line", ev.line);
  }
}

}  // namespace bt::collector::format::detail

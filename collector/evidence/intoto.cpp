// The runtime-trace statement of a build; see intoto.h.
#include "collector/evidence/intoto.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

#include "collector/view/time.h"
#include "common/redact/redact.h"

namespace bt::collector::evidence {

namespace {

// Names the recording side: the agent, as a URN (buildtrail has no
// published type URI); the agent's id, key and mode are extension fields.
constexpr const char* kMonitorType = "urn:buildtrail:agent";
// GitHub's published SLSA buildType; other CI systems have none, so they
// get a URN naming the CI system.
constexpr const char* kGithubBuildType = "https://actions.github.io/buildtypes/workflow/v1";

// A RapidJSON writer with the few shapes the statement needs.
class Json {
 public:
  void begin(const char* key = nullptr) { open(key, true); }
  void end() { w_.EndObject(); }
  void begin_list(const char* key) { open(key, false); }
  void end_list() { w_.EndArray(); }
  void str(const char* key, std::string_view value) {
    w_.Key(key);
    value_str(value);
  }
  void str_if(const char* key, std::string_view value) {
    if (!value.empty()) str(key, value);
  }
  void value_str(std::string_view value) { w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size())); }
  void num(const char* key, uint64_t value) {
    w_.Key(key);
    w_.Uint64(value);
  }
  void inum(const char* key, int64_t value) {
    w_.Key(key);
    w_.Int64(value);
  }
  void sha256(std::string_view hex) {
    begin("digest");
    str("sha256", hex);
    end();
  }
  std::string text() const { return {buffer_.GetString(), buffer_.GetSize()}; }

 private:
  void open(const char* key, bool object) {
    if (key) w_.Key(key);
    object ? w_.StartObject() : w_.StartArray();
  }
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> w_{buffer_};
};

// One event with where it is: its batch (hex SHA-256) and line.
struct Placed {
  const events::Event* event;
  const std::string* batch;
  uint32_t line;
};

void source(Json& j, const Placed& p) {
  j.begin("source");
  j.str("batch", *p.batch);
  j.num("line", p.line);
  j.end();
}

void common_fields(Json& j, const Placed& p, const char* type) {
  j.str("eventType", type);
  j.str("time", view::format_rfc3339_ms(p.event->time_ns));
  j.num("pid", p.event->process.pid);
  j.str_if("processKey", p.event->process.key);
}

void invoking_process(Json& j, const events::Process& process) {
  j.begin("invokingProcess");
  j.num("pid", process.pid);
  j.str_if("processKey", process.key);
  j.str_if("processBinary", process.exe);
  j.end();
}

// monitorLog.process: one entry per exec and per exit. Arguments are the
// agent's redacted argv, passed through the redaction again (as ingest
// does for what it indexes): a statement travels further than the store.
void process_entry(Json& j, const Placed& p) {
  const auto& e = *p.event;
  if (const auto* x = std::get_if<events::ProcessExec>(&e.body)) {
    j.begin();
    common_fields(j, p, "exec");
    j.num("ppid", e.process.ppid);
    j.str_if("parentKey", e.process.parent_key);
    j.str("processBinary", e.process.exe);
    j.str_if("exeSha256", x->exe_sha256);
    j.begin_list("arguments");
    for (const auto& a : x->argv) j.value_str(redact::text(a));
    j.end_list();
    j.str_if("cwd", x->cwd);
    j.str_if("script", x->script);
    j.str_if("scriptSha256", x->script_sha256);
    source(j, p);
    j.end();
  } else if (const auto* x = std::get_if<events::ProcessExit>(&e.body)) {
    j.begin();
    common_fields(j, p, "exit");
    j.str("processBinary", e.process.exe);
    j.inum("exitCode", x->exit_code);
    j.inum("signal", x->signal);
    source(j, p);
    j.end();
  }
}

// monitorLog.network: the recommended entry (ip, hostname, port,
// protocol, invokingProcess) for connects; DNS queries by name.
void network_entry(Json& j, const Placed& p) {
  const auto& e = *p.event;
  if (const auto* x = std::get_if<events::NetConnect>(&e.body)) {
    j.begin();
    common_fields(j, p, "connect");
    j.str("ip", x->daddr);
    j.str_if("hostname", x->dns_name);
    j.num("port", x->dport);
    j.str_if("protocol", x->protocol);
    j.inum("result", x->result);
    invoking_process(j, e.process);
    source(j, p);
    j.end();
  } else if (const auto* x = std::get_if<events::DnsQuery>(&e.body)) {
    j.begin();
    common_fields(j, p, "dns_query");
    j.str("hostname", x->name);
    j.str_if("qtype", x->qtype);
    j.str_if("server", x->server);
    j.str_if("rcode", x->rcode);
    j.begin_list("answers");
    for (const auto& a : x->answers) j.value_str(a);
    j.end_list();
    invoking_process(j, e.process);
    source(j, p);
    j.end();
  }
}

// A fileAccess entry is a ResourceDescriptor: name, digest, and the rest
// as annotations.
void file_annotations(Json& j, const Placed& p, const char* type) {
  j.begin("annotations");
  common_fields(j, p, type);
  j.str_if("processBinary", p.event->process.exe);
  j.str("batch", *p.batch);
  j.num("line", p.line);
}

void file_entries(Json& j, const Placed& p) {
  const auto& e = *p.event;
  if (const auto* x = std::get_if<events::SecretAccess>(&e.body)) {
    j.begin();
    j.str("name", x->path);
    file_annotations(j, p, "secret_access");
    j.str("secretClass", x->secret_class);
    j.str("access", x->access);
    j.str_if("rule", x->rule);
    j.inum("result", x->result);
    j.end();
    j.end();
  } else if (const auto* x = std::get_if<events::FileWrite>(&e.body)) {
    j.begin();
    j.str("name", x->path);
    if (!x->sha256.empty()) j.sha256(x->sha256);
    file_annotations(j, p, "file_write");
    j.str("operation", x->operation);
    j.str_if("newPath", x->new_path);
    j.end();
    j.end();
  } else if (const auto* x = std::get_if<events::ArtifactUpload>(&e.body)) {
    for (const auto& f : x->files) {
      j.begin();
      j.str("name", f.path);
      if (!f.sha256.empty()) j.sha256(f.sha256);
      file_annotations(j, p, "artifact_upload");
      j.str("tool", x->tool);
      j.str("destination", redact::url(x->destination));
      j.end();
      j.end();
    }
  }
}

// The uploaded files with a digest, each (path, digest) once.
std::set<std::pair<std::string, std::string>> subjects(const std::vector<Placed>& placed) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& p : placed)
    if (const auto* x = std::get_if<events::ArtifactUpload>(&p.event->body))
      for (const auto& f : x->files)
        if (!f.sha256.empty()) out.emplace(f.path, f.sha256);
  return out;
}

// Where the build ran (the CI's origin) and which run it was (its URL).
std::string origin_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("https", 0) != 0 && url.rfind("http", 0) != 0)) return {};
  return url.substr(0, url.find('/', scheme + 3));
}

void monitored_process(Json& j, const store::BuildRow& b) {
  const std::string ci = b.build.ci.empty() ? "none" : b.build.ci;
  const std::string url = redact::url(b.build.url);
  const std::string origin = origin_of(url);
  j.begin("monitoredProcess");
  j.str("hostID", origin.empty() ? "urn:buildtrail:ci:" + ci : origin);
  j.str("type", ci == "github" ? kGithubBuildType : "urn:buildtrail:ci:" + ci);
  j.str("event", url.empty() ? ci + ":" + b.build.job + ":" + b.build.id : url);
  j.end();
}

void monitor(Json& j, const store::BuildRow& b, const std::vector<Placed>& placed) {
  std::string mode;
  for (const auto& p : placed)
    if (const auto* s = std::get_if<events::BuildStart>(&p.event->body)) mode = s->mode;
  j.begin("monitor");
  j.str("type", kMonitorType);
  j.begin("tracePolicy");
  j.str_if("mode", mode);
  j.end();
  j.str("agentId", b.agent_id);
  j.str_if("host", b.host);
  j.end();
}

void metadata(Json& j, const store::BuildRow& b, const std::vector<readback::BuildBatch>& batches,
              const std::vector<std::string>& hashes) {
  j.begin("metadata");
  j.str("buildStartedOn", view::format_rfc3339(b.start_ns ? b.start_ns : b.first_ns));
  if (b.ended) j.str("buildFinishedOn", view::format_rfc3339(b.end_ns));
  j.begin("build");
  j.num("ref", static_cast<uint64_t>(b.id));
  j.str_if("ci", b.build.ci);
  j.str_if("job", redact::text(b.build.job));
  j.str_if("id", redact::text(b.build.id));
  j.str_if("number", b.build.number);
  j.str_if("url", redact::url(b.build.url));
  j.str_if("repository", redact::url(b.build.repository));
  j.str_if("commit", b.build.commit);
  j.str_if("branch", redact::text(b.build.branch));
  j.str_if("runner", redact::text(b.build.runner));
  if (b.ended) j.inum("exitCode", b.exit_code);
  j.end();
  j.begin_list("batches");
  for (std::size_t i = 0; i < batches.size(); ++i) {
    j.begin();
    j.str("name", batches[i].agent_id + "/" + std::to_string(batches[i].seq));
    j.sha256(hashes[i]);
    j.begin("annotations");
    j.str("agentId", batches[i].agent_id);
    j.num("seq", batches[i].seq);
    j.num("events", batches[i].events.size());
    j.end();
    j.end();
  }
  j.end_list();
  j.end();
}

template <class Each>
void list(Json& j, const char* key, const std::vector<Placed>& placed, Each each) {
  j.begin_list(key);
  for (const auto& p : placed) each(j, p);
  j.end_list();
}

}  // namespace

Result<std::string> runtime_trace_statement(const store::BuildRow& build,
                                            const std::vector<readback::BuildBatch>& batches) {
  std::vector<std::string> hashes;
  std::vector<Placed> placed;
  for (const auto& b : batches) hashes.push_back(crypto::to_hex(b.hash));
  for (std::size_t i = 0; i < batches.size(); ++i)
    for (const auto& [line, e] : batches[i].events) placed.push_back({&e, &hashes[i], line});
  std::stable_sort(placed.begin(), placed.end(),
                   [](const Placed& a, const Placed& b) { return a.event->time_ns < b.event->time_ns; });
  const auto files = subjects(placed);
  if (files.empty())
    return make_error(ErrorCode::kNotFound,
                      "build record " + std::to_string(build.id) +
                          " uploaded no file with a digest; an in-toto statement needs a subject");
  Json j;
  j.begin();
  j.str("_type", kStatementType);
  j.begin_list("subject");
  for (const auto& [name, digest] : files) {
    j.begin();
    j.str("name", name);
    j.sha256(digest);
    j.end();
  }
  j.end_list();
  j.str("predicateType", kRuntimeTraceType);
  j.begin("predicate");
  monitor(j, build, placed);
  monitored_process(j, build);
  j.begin("monitorLog");
  list(j, "process", placed, process_entry);
  list(j, "network", placed, network_entry);
  list(j, "fileAccess", placed, file_entries);
  j.end();
  metadata(j, build, batches, hashes);
  j.end();
  j.end();
  return j.text();
}

Result<std::string> describe_statement(std::string_view json) {
  rapidjson::Document parsed;
  parsed.Parse(json.data(), json.size());
  const rapidjson::Document& doc = parsed;  // const iterators: clang finds the mutable ones' == ambiguous
  auto bad = [](const std::string& why) { return make_error(ErrorCode::kMalformed, "in-toto statement: " + why); };
  if (doc.HasParseError() || !doc.IsObject()) return bad("not a JSON object");
  auto type = doc.FindMember("_type");
  if (type == doc.MemberEnd() || !type->value.IsString() || type->value.GetString() != kStatementType)
    return bad("_type is not " + std::string(kStatementType));
  auto subject = doc.FindMember("subject");
  if (subject == doc.MemberEnd() || !subject->value.IsArray() || subject->value.Empty()) return bad("no subject");
  for (const auto& s : subject->value.GetArray()) {
    if (!s.IsObject()) return bad("a subject is not an object");
    auto digest = s.FindMember("digest");
    if (digest == s.MemberEnd() || !digest->value.IsObject() || digest->value.MemberCount() == 0)
      return bad("a subject has no digest");
  }
  auto predicate = doc.FindMember("predicateType");
  if (predicate == doc.MemberEnd() || !predicate->value.IsString()) return bad("no predicateType");
  return "in-toto statement: " + std::to_string(subject->value.Size()) + " subjects, predicate " +
         std::string(predicate->value.GetString(), predicate->value.GetStringLength());
}

}  // namespace bt::collector::evidence

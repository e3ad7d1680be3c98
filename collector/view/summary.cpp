// The timeline's one-line event descriptions; see summary.h.
#include "collector/view/summary.h"

#include <variant>

#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/overloaded.h"

namespace bt::collector::view {

namespace {

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string counts_text(const events::Counts& counts) {
  std::string out;
  for (const auto& [name, n] : counts) {
    if (!out.empty()) out += ", ";
    out += name + " " + std::to_string(n);
  }
  return out;
}

std::string exit_text(int64_t exit_code, int64_t signal) {
  return signal ? "signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string summary(const events::Event& event) {
  using namespace events;
  // One lambda per kind and no catch-all: a kind added to events.def does
  // not compile here until the timeline knows how to show it.
  std::string s = std::visit(
      bt::Overloaded{
          [](const BuildStart& b) { return b.mode + (b.command.empty() ? "" : ": " + join(b.command, " ")); },
          [](const BuildEnd& b) {
            std::string out = exit_text(b.exit_code, b.signal) + " after " + format_duration(b.duration_ns);
            if (!b.counts.empty()) out += " (" + counts_text(b.counts) + ")";
            return out;
          },
          [&](const ProcessExec& b) {
            std::string out = b.argv.empty() ? event.process.exe : join(b.argv, " ");
            if (!b.script.empty()) out += " [script " + b.script + "]";
            return out;
          },
          [](const ProcessExit& b) {
            return exit_text(b.exit_code, b.signal) + " after " + format_duration(b.duration_ns);
          },
          [](const NetConnect& b) {
            const bool v6 = b.daddr.find(':') != std::string::npos;
            std::string out = b.protocol + " " + (v6 ? "[" + b.daddr + "]" : b.daddr) + ":" + std::to_string(b.dport);
            if (!b.dns_name.empty()) out += " (" + b.dns_name + ")";
            if (b.result != 0) out += " failed: errno " + std::to_string(-b.result);
            return out;
          },
          [](const DnsQuery& b) {
            std::string out = b.name + " " + b.qtype + " -> ";
            if (!b.answers.empty())
              out += join(b.answers, ", ");
            else
              out += b.rcode.empty() ? "(no answer seen)" : b.rcode;
            if (!b.answers.empty() && !b.rcode.empty() && b.rcode != "NOERROR") out += " " + b.rcode;
            return out;
          },
          [](const SecretAccess& b) {
            std::string out = b.rule + " " + b.secret_class + " " + b.access + " " + b.path;
            if (!b.dest_name.empty()) out += " (" + b.dest_name + ")";
            if (b.target_pid) {
              out += " (pid " + std::to_string(b.target_pid);
              if (!b.target_exe.empty()) out += " " + b.target_exe;
              out += ")";
            }
            return out;
          },
          [](const ArtifactUpload& b) {
            return b.tool + " -> " + b.destination + " (" + plural(b.files.size(), "file", "files") + ")";
          },
          [](const AgentStart& b) {
            std::string out = "agent " + b.version + " " + b.mode;
            if (!b.os.empty()) out += ", " + b.os;
            if (!b.kernel.empty()) out += ", kernel " + b.kernel;
            if (!b.ci_detected.empty()) out += ", ci " + b.ci_detected;
            return out;
          },
          [](const AgentStop& b) { return "reason " + b.reason + ", " + plural(b.events_total, "event", "events"); },
          [](const AgentHeartbeat& b) {
            return "uptime " + format_duration(b.uptime_ns) + ", " + plural(b.events_total, "event", "events") + ", " +
                   std::to_string(b.dropped_total) + " dropped";
          },
          [](const Loss& b) {
            std::string out = "dropped " + counts_text(b.counts);
            if (b.first_ns || b.last_ns)
              out += " (" + format_clock_ms(b.first_ns) + " - " + format_clock_ms(b.last_ns) + ")";
            return out;
          },
          [](const FileWrite& b) {
            std::string out = b.operation + " " + b.path;
            if (!b.new_path.empty()) out += " -> " + b.new_path;
            out += " (" + b.rule + ")";
            if (!b.sha256.empty()) out += " sha256:" + b.sha256.substr(0, 12);
            return out;
          },
          [](const std::monostate&) { return std::string(); },
      },
      event.body);
  return truncate(printable(s), 120);
}

}  // namespace bt::collector::view

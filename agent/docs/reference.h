// The agent's generated reference pages: each is rendered from the table
// that drives the behaviour it documents, so docs cannot drift from code.
#pragma once

#include <string>
#include <vector>

#include "agent/enrich/rules/attribution.h"
#include "agent/runtime/config.h"
#include "agent/enrich/rules/secrets.h"
#include "agent/enrich/rules/uploads.h"

namespace bt::agent::docs {

struct Page {
  std::string name;  // docs/<file> without the extension
  std::string file;
  std::string (*render)();
};

inline std::vector<Page> pages() {
  return {
      {"config", "docs/agent-config.md", config::reference_markdown},
      {"ci-attribution", "docs/ci-attribution.md", attribution::reference_markdown},
      {"secret-rules", "docs/secret-rules.md", secrets::reference_markdown},
      {"upload-tools", "docs/upload-tools.md", uploads::reference_markdown},
  };
}

}  // namespace bt::agent::docs

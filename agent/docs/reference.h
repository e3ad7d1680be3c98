// The reference pages of docs/ with generated parts (common/markdown.h):
// each part is rendered from the table that drives the behaviour it
// documents, so docs cannot drift from code. `make docs` rewrites them
// (gen-docs write), a test checks them (tests/agent/docs_test.cpp). The
// collector's pages are here too: one tool splices every page, and the
// collector's config table is a library of its own (collector/config/).
#pragma once

#include <vector>

#include "agent/enrich/rules/attribution.h"
#include "agent/enrich/rules/redact.h"
#include "agent/enrich/rules/secrets.h"
#include "agent/enrich/rules/uploads.h"
#include "agent/enrich/rules/watch.h"
#include "agent/runtime/config.h"
#include "collector/config/config.h"
#include "common/bounds.h"
#include "common/events/schema_doc.h"
#include "common/markdown.h"

namespace bt::agent::docs {

inline std::vector<markdown::Page> pages() {
  return {
      {"docs/events.md", events::reference_parts},
      {"docs/agent-config.md", config::reference_parts},
      {"docs/ci-attribution.md", attribution::reference_parts},
      {"docs/secret-rules.md", secrets::reference_parts},
      {"docs/upload-tools.md", uploads::reference_parts},
      {"docs/file-watch.md", watch::reference_parts},
      {"docs/redaction.md", redact::reference_parts},
      {"docs/collector-api.md", bounds::api_reference_parts},
      {"docs/collector-store.md", bounds::store_reference_parts},
      {"docs/collector-config.md", collector::config::reference_parts},
  };
}

}  // namespace bt::agent::docs

// export --dsse | --intoto --build REF [--out DIR]: the evidence exports
// of one build record (docs/evidence.md), apart from the event exports of
// export.cpp.
#pragma once

#include "collector/cmd/tool.h"

namespace bt::collector::cmd {

// The flags these exports add to `export`.
std::vector<cli::Option> evidence_options();
// Whether the parsed flags ask for an evidence export (any of its flags).
bool wants_evidence(const cli::Args& args);
int export_evidence(const Tool& tool);

}  // namespace bt::collector::cmd

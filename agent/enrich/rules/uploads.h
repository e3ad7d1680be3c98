// Artifact uploads recognised from the argv of the tools that do them
// (docker push, npm publish, twine upload, aws s3 cp, curl -T, ...). One
// table of recognisers; the event names the tool, the destination
// (credentials removed) and every local file named, with size and SHA-256.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/enrich/rules/digest.h"
#include "common/events/event.h"
#include "common/markdown.h"

namespace bt::agent::uploads {

// `argv` is already redacted; `exe` is the resolved executable (its base
// name identifies the tool when argv[0] is odd); relative file names are
// resolved against `cwd`. nullopt when the command is not an upload.
std::optional<events::ArtifactUpload> recognise(const std::vector<std::string>& argv, const std::string& exe,
                                                const std::string& cwd, digest::Cache& digests);

// The parts of docs/upload-tools.md generated from the table.
std::vector<markdown::Part> reference_parts();

}  // namespace bt::agent::uploads

// How the commands show alerts: a table row, a block of lines, a JSON line.
// Every recorded string is escaped (common/text.h).
#pragma once

#include <string>
#include <vector>

#include "collector/store/store.h"

namespace bt::collector::view {

std::vector<std::string> alert_columns();
std::vector<std::string> alert_row(const store::Alert& alert);
// One "name: value" line per field, its evidence last.
std::string alert_block(const store::Alert& alert);
// One JSON object (docs/detection.md "Alert JSON"), no newline.
std::string alert_json(const store::Alert& alert);

}  // namespace bt::collector::view

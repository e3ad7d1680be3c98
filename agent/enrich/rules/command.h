// Which tool a command line runs: the word after launchers (`sudo`, `env
// A=b`, `timeout 30`), leading variable assignments (`PGPASSWORD=x psql`, in
// a shell script), and interpreters (`python3 -m twine`, `python3 ./twine`).
// Redaction applies a tool's rules by this name, and the pipeline records
// the script an interpreter runs by script_of().
//
// For a `#!` script the kernel rewrites argv before the new program starts:
// `./twine upload` becomes `/usr/bin/python3 ./twine upload` (the
// interpreter from the `#!` line, its one optional argument, then the path
// the script was executed by, then the original arguments without argv[0]),
// and that is the argv the capture records. So a tool that is a script --
// twine, az, a shell wrapper named curl -- is only found by its script.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bt::agent::command {

// Interpreters whose first non-option argument is a script file.
bool is_interpreter(std::string_view exe);

// Index in argv of the script an interpreter (argv[0]) runs: `bash build.sh`,
// `python3 -u tool.py`, `node --require x cli.js`; 0 when there is none
// (`sh -c '...'`, `python -m module`, `perl -e`).
std::size_t script_index(std::span<const std::string> argv);

// The script's path, or empty (script_index).
std::string script_of(const std::vector<std::string>& argv);

struct Tool {
  std::string_view name;  // basename, script name without extension, or python -m module
  std::size_t at = 0;     // index in argv of the word that named it
};

// The tool a command line runs. Empty name when argv holds only launchers.
Tool tool_of(std::span<const std::string> argv);

}  // namespace bt::agent::command

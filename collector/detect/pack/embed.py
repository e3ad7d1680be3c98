#!/usr/bin/env python3
# Writes a C++ file defining kPackFiles: the name and text of every rule
# file of the CI rule pack given, so the collector loads the pack with no
# file to install. Usage: embed.py OUT RULE.yml...
import os
import sys

out_path, rules = sys.argv[1], sorted(sys.argv[2:])
delim = "BTPACK"
with open(out_path, "w", encoding="utf-8") as out:
    out.write("// Generated from collector/detect/pack/*.yml by embed.py; not committed.\n")
    out.write('#include "collector/detect/pack.h"\n')
    out.write("namespace bt::collector::detect {\n")
    out.write("const std::vector<PackFile>& pack_files() {\n")
    out.write("  static const std::vector<PackFile> files = {\n")
    for path in rules:
        text = open(path, encoding="utf-8").read()
        assert ")" + delim + '"' not in text
        out.write('      {"pack/' + os.path.basename(path) + '", R"' + delim + "(" + text + ")" + delim + '"},\n')
    out.write("  };\n  return files;\n}\n}  // namespace bt::collector::detect\n")

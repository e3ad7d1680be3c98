#!/usr/bin/env python3
# Writes a C++ file defining kBuiltinPipelineYaml as the text of the pipeline
# YAML given, so the engine reads the very file `sigma convert -p` takes.
import sys

text = open(sys.argv[1], encoding="utf-8").read()
delim = "BTPIPELINE"
assert ")" + delim + '"' not in text
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("// Generated from buildtrail-pipeline.yml by embed.py; not committed.\n")
    out.write("namespace bt::collector::detect::sigma {\n")
    out.write("extern const char* const kBuiltinPipelineYaml;\n")
    out.write('const char* const kBuiltinPipelineYaml = R"' + delim + "(" + text + ")" + delim + '";\n')
    out.write("}  // namespace bt::collector::detect::sigma\n")

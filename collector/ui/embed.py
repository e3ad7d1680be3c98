#!/usr/bin/env python3
# Writes a C++ file defining the UI's assets (collector/ui/assets/): each
# file's name, content type, ETag (from its SHA-256) and bytes, so the
# collector serves the UI with nothing to install and nothing fetched at
# run time. Usage: embed.py OUT ASSET...
import hashlib
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

out_path, files = sys.argv[1], sorted(sys.argv[2:], key=os.path.basename)
names = [os.path.basename(p) for p in files]
if len(set(names)) != len(names):
    sys.exit("embed.py: two assets share a name")
with open(out_path, "w", encoding="ascii") as out:
    out.write("// Generated from collector/ui/assets/ by collector/ui/embed.py; not committed.\n")
    out.write('#include "collector/ui/assets.h"\n\nnamespace bt::collector::ui {\n\nnamespace {\n\n')
    rows = []
    for i, path in enumerate(files):
        name = os.path.basename(path)
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit("embed.py: no content type for " + name)
        data = open(path, "rb").read()
        etag = '\\"' + hashlib.sha256(data).hexdigest()[:32] + '\\"'
        out.write("constexpr unsigned char kData%d[] = {" % i)
        for j in range(0, len(data), 24):
            out.write("\n    " + ",".join(str(b) for b in data[j:j + 24]) + ",")
        out.write("\n    0};\n")
        rows.append('    {"%s", "%s", "%s", kData%d, %d},\n' % (name, TYPES[ext], etag, i, len(data)))
    out.write("\nconstexpr Asset kAssets[] = {\n" + "".join(rows) + "};\n\n}  // namespace\n\n")
    out.write("std::span<const Asset> assets() { return kAssets; }\n\n}  // namespace bt::collector::ui\n")

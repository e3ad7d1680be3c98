// Investigation and administration tools. Each takes --data DIR like
// `serve` and works while `serve` runs (SQLite WAL: readers never block the
// ingest writer; admin writes wait for it briefly).
#pragma once

namespace bt::collector::tools {

int builds(int argc, char** argv);  // buildtrail-collector builds [--job J] [--since T]
int query(int argc, char** argv);   // buildtrail-collector query --build ID [--kind K] [--format table|jsonl]
int exporter(int argc, char** argv);  // buildtrail-collector export --format jsonl [--since T]
int agents(int argc, char** argv);  // buildtrail-collector agents list|add|revoke|token

}  // namespace bt::collector::tools

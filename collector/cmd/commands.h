// The commands of buildtrail-collector, one file each in this folder: flags
// and wiring only; the work is done by the folders beside cmd/. Nothing
// outside cmd/ and main.cpp includes this folder. The investigation and
// administration commands take --data DIR like `serve` and work while it
// runs (SQLite WAL: readers never block the ingest writer; admin writes
// wait for it briefly).
#pragma once

namespace bt::collector::cmd {

// serve --listen ADDR:PORT --data DIR [--tls-cert F --tls-key F [--client-ca F]]
int serve(int argc, char** argv);
// builds --data DIR [--job J] [--ci-build ID] [--since T] [--limit N]
int builds(int argc, char** argv);
// query --data DIR (--build REF | --ci-build ID) [--kind K] [--format table|jsonl]
int query(int argc, char** argv);
// export --data DIR [--format jsonl] [--since T]
// export --data DIR (--dsse | --intoto) --build REF [--out DIR]
int export_events(int argc, char** argv);
// key --data DIR: the collector's public key (made on first use)
int key(int argc, char** argv);
// agents list|add|revoke|token|findings|pubkey --data DIR ...
int agents(int argc, char** argv);
// alerts list|show|ack --data DIR ...
int alerts(int argc, char** argv);
// tokens create|list|revoke --data DIR ...: the read API's bearer tokens
int tokens(int argc, char** argv);
// users add|list|remove|passwd --data DIR ...: who may log in to the UI
int users(int argc, char** argv);
// baselines show|reset --data DIR [--ci C --repository R --job J]
int baselines(int argc, char** argv);
// verify --pubkey FILE [--pubkey FILE]... BATCH...
int verify(int argc, char** argv);
// rules check DIR [--pipeline FILE]: which Sigma rules load, which are rejected and why
int rules(int argc, char** argv);

}  // namespace bt::collector::cmd

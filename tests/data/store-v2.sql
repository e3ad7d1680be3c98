-- A store as a version 2 collector left it (schema version 2), for the
-- migration test in tests/collector/store_test.cpp. Fake data only. What
-- version 2 got wrong, on purpose: agent-b's events, sent under agent-a's
-- CI build id, were merged into agent-a's build (whose exit status became
-- agent-b's 1), and an event claiming 2^64-1 ns was stored as -1 (as was a
-- loss finding's end, an empty batch's header times and a token's expiry),
-- which hid it from every time query; another claims a day after its batch
-- arrived.
BEGIN;
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS agents (
  id            TEXT PRIMARY KEY,
  public_key    BLOB NOT NULL,
  revoked       INTEGER NOT NULL DEFAULT 0,
  enrolled_ns   INTEGER NOT NULL DEFAULT 0,
  hostname      TEXT NOT NULL DEFAULT '',
  os            TEXT NOT NULL DEFAULT '',
  kernel        TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '',
  ci            TEXT NOT NULL DEFAULT '',
  epoch         INTEGER NOT NULL DEFAULT 0,
  last_seq      INTEGER NOT NULL DEFAULT 0,
  last_hash     BLOB NOT NULL DEFAULT x'',
  last_seen_ns  INTEGER NOT NULL DEFAULT 0,
  findings      INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS revoked_keys (
  public_key  BLOB PRIMARY KEY,
  revoked_ns  INTEGER NOT NULL,
  agent_id    TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tokens (
  sha256      TEXT PRIMARY KEY,
  created_ns  INTEGER NOT NULL,
  expires_ns  INTEGER NOT NULL,
  uses_left   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS batches (
  id           INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL REFERENCES agents(id),
  epoch        INTEGER NOT NULL,
  seq          INTEGER NOT NULL,
  hash         BLOB NOT NULL,
  prev_hash    BLOB NOT NULL,
  archive_path TEXT NOT NULL,
  received_ns  INTEGER NOT NULL,
  size_bytes   INTEGER NOT NULL,
  event_count  INTEGER NOT NULL,
  first_event  INTEGER,
  first_ns     INTEGER NOT NULL,
  last_ns      INTEGER NOT NULL,
  UNIQUE (agent_id, epoch, seq)
) STRICT;
CREATE INDEX IF NOT EXISTS batches_last ON batches(last_ns);
CREATE INDEX IF NOT EXISTS batches_hash ON batches(hash);

CREATE TABLE IF NOT EXISTS builds (
  id          INTEGER PRIMARY KEY,
  ci          TEXT NOT NULL,
  build_id    TEXT NOT NULL,
  job         TEXT NOT NULL DEFAULT '',
  number      TEXT NOT NULL DEFAULT '',
  url         TEXT NOT NULL DEFAULT '',
  repository  TEXT NOT NULL DEFAULT '',
  commit_id   TEXT NOT NULL DEFAULT '',
  runner      TEXT NOT NULL DEFAULT '',
  first_ns    INTEGER NOT NULL DEFAULT 0,
  last_ns     INTEGER NOT NULL DEFAULT 0,
  start_ns    INTEGER NOT NULL DEFAULT 0,
  end_ns      INTEGER NOT NULL DEFAULT 0,
  ended       INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER NOT NULL DEFAULT 0,
  events      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (build_id, ci)
) STRICT;
CREATE INDEX IF NOT EXISTS builds_job ON builds(job, last_ns);
CREATE INDEX IF NOT EXISTS builds_last ON builds(last_ns);

CREATE TABLE IF NOT EXISTS events (
  id          INTEGER PRIMARY KEY,
  batch       INTEGER NOT NULL REFERENCES batches(id),
  line        INTEGER NOT NULL,
  time_ns     INTEGER NOT NULL,
  kind        INTEGER NOT NULL,
  build       INTEGER REFERENCES builds(id),
  pid         INTEGER NOT NULL,
  ppid        INTEGER NOT NULL,
  process_key TEXT,
  exe         TEXT,
  destination TEXT,
  secret_path TEXT,
  exit_code   INTEGER NOT NULL,
  loss_total  INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS events_build ON events(build, time_ns) WHERE build IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, time_ns) WHERE kind NOT IN (3, 4);
CREATE INDEX IF NOT EXISTS events_destination ON events(destination) WHERE destination IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_secret_path ON events(secret_path) WHERE secret_path IS NOT NULL;

CREATE TABLE IF NOT EXISTS build_values (
  field    INTEGER NOT NULL,
  value    TEXT NOT NULL,
  build    INTEGER NOT NULL REFERENCES builds(id),
  events   INTEGER NOT NULL,
  first_ns INTEGER NOT NULL,
  last_ns  INTEGER NOT NULL,
  PRIMARY KEY (field, value, build)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS findings (
  id           INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL,
  kind         TEXT NOT NULL,
  seq_from     INTEGER NOT NULL,
  seq_to       INTEGER NOT NULL,
  time_from_ns INTEGER NOT NULL,
  time_to_ns   INTEGER NOT NULL,
  recorded_ns  INTEGER NOT NULL,
  batch        INTEGER REFERENCES batches(id),
  detail       TEXT NOT NULL,
  epoch        INTEGER NOT NULL DEFAULT 0,
  resolved_ns  INTEGER NOT NULL DEFAULT 0,
  updated_ns   INTEGER NOT NULL DEFAULT 0,
  note         TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX IF NOT EXISTS findings_agent ON findings(agent_id, id);
CREATE INDEX IF NOT EXISTS findings_open_gaps ON findings(agent_id, epoch, seq_from)
  WHERE kind = 'gap' AND resolved_ns = 0;

INSERT OR IGNORE INTO meta(key, value) VALUES ('agents_rev', 0), ('events', 0), ('batches', 0);
ALTER TABLE builds ADD COLUMN "build_start" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "build_end" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "process_exec" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "process_exit" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "net_connect" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "dns_query" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "secret_access" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "artifact_upload" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "agent_start" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "agent_stop" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "agent_heartbeat" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN "loss" INTEGER NOT NULL DEFAULT 0;
INSERT INTO meta(key, value) VALUES ('schema_version', 2);
UPDATE meta SET value = 2 WHERE key = 'agents_rev';
UPDATE meta SET value = 9 WHERE key = 'events';
UPDATE meta SET value = 5 WHERE key = 'batches';
INSERT INTO agents(id, public_key, enrolled_ns, hostname, epoch, last_seq, last_hash, last_seen_ns, findings) VALUES ('agent-a', X'0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a', 1795774400000000000, 'host-a', 1, 3, X'486bacc5c2d8a71a73d51bf8e522deaa264ec2628dca2955da1e9b8e00f21943', 1795775408000000000, 1);
INSERT INTO agents(id, public_key, enrolled_ns, hostname, epoch, last_seq, last_hash, last_seen_ns, findings) VALUES ('agent-b', X'0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 1795774400000000000, 'host-b', 1, 2, X'3c5661974942379614b943d0593e4a5e3f85900ab3fb4ce064725c15ccb93a01', 1795775409000000000, 0);
INSERT INTO tokens(sha256, created_ns, expires_ns, uses_left) VALUES ('2070f725ff1c765b73c498de52bc419377979691f6100de3ed99794aeb40d988', 1795775400000000000, -5, 1);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (1, 'agent-a', 1, 1, X'7dc96f776c8423e57a2785489a3f9c43fb6e756876d6ad9a9cac4aa4e72ec193', X'0000000000000000000000000000000000000000000000000000000000000000', 'archive/7d/7dc96f776c8423e57a2785489a3f9c43fb6e756876d6ad9a9cac4aa4e72ec193.btb', 1795775405000000000, 400, 3, 1, 1795775400000001000, 1795775400000003000);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (2, 'agent-b', 1, 1, X'4814d92093ac8a0f4a2163ab87dee509ba306a58f5888be0edcb2fcd0712028b', X'0000000000000000000000000000000000000000000000000000000000000000', 'archive/48/4814d92093ac8a0f4a2163ab87dee509ba306a58f5888be0edcb2fcd0712028b.btb', 1795775406000000000, 400, 2, 4, 1795775400000004000, 1795775400000005000);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (3, 'agent-a', 1, 2, X'76a8277347f52530e1cf979175a178980b3a180d176165c985d85f7e142f1eed', X'7dc96f776c8423e57a2785489a3f9c43fb6e756876d6ad9a9cac4aa4e72ec193', 'archive/76/76a8277347f52530e1cf979175a178980b3a180d176165c985d85f7e142f1eed.btb', 1795775407000000000, 400, 3, 6, 1795775400000006000, -1);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (4, 'agent-a', 1, 3, X'486bacc5c2d8a71a73d51bf8e522deaa264ec2628dca2955da1e9b8e00f21943', X'76a8277347f52530e1cf979175a178980b3a180d176165c985d85f7e142f1eed', 'archive/48/486bacc5c2d8a71a73d51bf8e522deaa264ec2628dca2955da1e9b8e00f21943.btb', 1795775408000000000, 400, 1, 9, 1795775400000007000, 1795775400000007000);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (5, 'agent-b', 1, 2, X'3c5661974942379614b943d0593e4a5e3f85900ab3fb4ce064725c15ccb93a01', X'4814d92093ac8a0f4a2163ab87dee509ba306a58f5888be0edcb2fcd0712028b', 'archive/3c/3c5661974942379614b943d0593e4a5e3f85900ab3fb4ce064725c15ccb93a01.btb', 1795775409000000000, 224, 0, NULL, -3, -2);
INSERT INTO builds(id, ci, build_id, job, number, url, repository, commit_id, runner, first_ns, last_ns, start_ns, end_ns, ended, exit_code, events, build_start, build_end, process_exec, net_connect, dns_query) VALUES (1, 'jenkins', 'jenkins-app-7', 'app', '7', 'https://ci.example/job/app/7/', 'https://git.example/app.git', '0123abcd', 'node-1', 1795775400000001000, 1795775400000005000, 1795775400000001000, 1795775400000005000, 1, 1, 8, 1, 2, 3, 1, 1);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (1, 1, 0, 1795775400000001000, 1, 1, 100, 1, '100-1', '/usr/bin/make', NULL, NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (2, 1, 1, 1795775400000002000, 3, 1, 101, 100, '101-2', '/usr/bin/make', NULL, NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (3, 1, 2, 1795775400000003000, 2, 1, 100, 1, '100-1', '/usr/bin/make', NULL, NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (4, 2, 0, 1795775400000004000, 3, 1, 200, 1, '200-1', '/usr/bin/curl', NULL, NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (5, 2, 1, 1795775400000005000, 2, 1, 200, 1, '200-1', '/usr/bin/curl', NULL, NULL, 1, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (6, 3, 0, 1795775400000006000, 5, 1, 101, 100, '101-2', '/usr/bin/make', '203.0.113.9:443', NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (7, 3, 1, -1, 3, 1, 102, 100, '102-3', '/usr/bin/make', NULL, NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (8, 3, 2, 1795861800000000000, 6, 1, 101, 100, '101-2', '/usr/bin/make', 'evil.example', NULL, 0, 0);
INSERT INTO events(id, batch, line, time_ns, kind, build, pid, ppid, process_key, exe, destination, secret_path, exit_code, loss_total) VALUES (9, 4, 0, 1795775400000007000, 11, NULL, 1, 0, '1-0', NULL, NULL, NULL, 0, 0);
INSERT INTO build_values(field, value, build, events, first_ns, last_ns) VALUES (1, '/usr/bin/make', 1, 6, 1795775400000001000, 1795775400000003000);
INSERT INTO build_values(field, value, build, events, first_ns, last_ns) VALUES (1, '/usr/bin/curl', 1, 1, 1795775400000004000, 1795775400000004000);
INSERT INTO build_values(field, value, build, events, first_ns, last_ns) VALUES (2, '203.0.113.9:443', 1, 1, 1795775400000006000, 1795775400000006000);
INSERT INTO build_values(field, value, build, events, first_ns, last_ns) VALUES (2, 'evil.example', 1, 1, 1795861800000000000, 1795861800000000000);
INSERT INTO findings(id, agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns, recorded_ns, batch, detail, epoch) VALUES (1, 'agent-a', 'loss', 2, 2, 1795775400000000000, -1, 1795775407000000000, 3, 'agent reported dropped events: ring_full=3', 1);
COMMIT;

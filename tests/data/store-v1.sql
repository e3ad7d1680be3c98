-- A store as a version 1 collector left it (schema version 1), for the
-- migration test in tests/collector/store_test.cpp. Fake data only.
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
  detail       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS findings_agent ON findings(agent_id, id);

INSERT OR IGNORE INTO meta(key, value) VALUES ('agents_rev', 0), ('events', 0), ('batches', 0);
INSERT INTO meta(key, value) VALUES ('schema_version', 1);
UPDATE meta SET value = 9 WHERE key = 'batches';
INSERT INTO agents(id, public_key, revoked, enrolled_ns) VALUES ('agent-a', X'0101010101010101010101010101010101010101010101010101010101010101', 1, 1);
INSERT INTO agents(id, public_key, revoked, enrolled_ns) VALUES ('agent-b', X'0101010101010101010101010101010101010101010101010101010101010101', 0, 2);
INSERT INTO agents(id, public_key, epoch, last_seq, last_hash) VALUES ('agent-c', X'0202020202020202020202020202020202020202020202020202020202020202', 0, -1, X'8b084e0e27b48228713c9222b83f709e5c5aae5e8c71040990c0667250d0ed91');
INSERT INTO agents(id, public_key, epoch, last_seq, last_hash, findings) VALUES ('agent-d', X'0303030303030303030303030303030303030303030303030303030303030303', 0, 15, X'd7c96f31eacb157534cd01d7292f96135b81f7a58d5618ae8af4122c678bf233', 3);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (1, 'agent-c', 0, 1, X'd0f631ca1ddba8db3bcfcb9e057cdc98d0379f1bee00e75a545147a27dadd982', X'f57cffbd5100e3ab5d011d9f276aceb6f01f6efa5fdffcda55b8e3e2808d1f0b', 'archive/d0/d0f631ca1ddba8db3bcfcb9e057cdc98d0379f1bee00e75a545147a27dadd982.btb', 1795775400000001000, 300, 0, NULL, 1795775400000001000, 1795775400000001500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (2, 'agent-c', 0, -1, X'8b084e0e27b48228713c9222b83f709e5c5aae5e8c71040990c0667250d0ed91', X'a95e5b405e6d6fe0e2857aa5f0d65e668342ae54ad1346cee87d0b409c06e334', 'archive/8b/8b084e0e27b48228713c9222b83f709e5c5aae5e8c71040990c0667250d0ed91.btb', 1795775399999999000, 300, 0, NULL, 1795775399999999000, 1795775399999999500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (3, 'agent-d', 0, 1, X'8b53639f152c8fc6ef30802fde462ba0be9cf085f7580dc69efd72e002abbb35', X'243cade29cf8e04b16b52a72c9b959f5b5497a1a261985e369738306937ad4cf', 'archive/8b/8b53639f152c8fc6ef30802fde462ba0be9cf085f7580dc69efd72e002abbb35.btb', 1795775400000001000, 300, 0, NULL, 1795775400000001000, 1795775400000001500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (4, 'agent-d', 0, 5, X'25f682044b5badaff8b296bf6fd676214968b238fcff5559e64f38c88bb9790f', X'45c91eec8aea4df6f36dcb83a03e2f4999e87252b0fa19df1781b38b781defde', 'archive/25/25f682044b5badaff8b296bf6fd676214968b238fcff5559e64f38c88bb9790f.btb', 1795775400000005000, 300, 0, NULL, 1795775400000005000, 1795775400000005500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (5, 'agent-d', 0, 6, X'79b98f273c175489f40b682a0e43f0b22aa3cc9cf2a578e163f291f13fc9f912', X'9f1e399e9c3586ecf64b350b9bf0c064038b516235deb298a9b81b131c64f2a9', 'archive/79/79b98f273c175489f40b682a0e43f0b22aa3cc9cf2a578e163f291f13fc9f912.btb', 1795775400000006000, 300, 0, NULL, 1795775400000006000, 1795775400000006500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (6, 'agent-d', 0, 8, X'56f8921507e0f67c48d43947aedb1470fd561233db3c6daea747f8894ef412cc', X'deae2b4529039e02e46ae3bd023486469a0ec3a6b70c8c847d83b9e870ef760e', 'archive/56/56f8921507e0f67c48d43947aedb1470fd561233db3c6daea747f8894ef412cc.btb', 1795775400000008000, 300, 0, NULL, 1795775400000008000, 1795775400000008500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (7, 'agent-d', 0, 15, X'd7c96f31eacb157534cd01d7292f96135b81f7a58d5618ae8af4122c678bf233', X'88e33a44641570c6a12cd284b556096111655773aca9ccec7e1f606f280737ab', 'archive/d7/d7c96f31eacb157534cd01d7292f96135b81f7a58d5618ae8af4122c678bf233.btb', 1795775400000015000, 300, 0, NULL, 1795775400000015000, 1795775400000015500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (8, 'agent-d', 0, 2, X'e788103ee15318fcd2af9b73b4ebbb33a903b020de7b307d71f5fed0f433e548', X'c77854b8334879cee8109e35cb24b681b59311aeb1bb0feb446764d6dd03f0cc', 'archive/e7/e788103ee15318fcd2af9b73b4ebbb33a903b020de7b307d71f5fed0f433e548.btb', 1795775400000002000, 300, 0, NULL, 1795775400000002000, 1795775400000002500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (9, 'agent-d', 0, 3, X'f451a61749c611ba0fa0e16c61831db44f38c611dff25879cf271a24c81a88b6', X'53a970c24799743177a19f7e8154ad79c0cbde2ba9e1da438f7b90167646bdde', 'archive/f4/f451a61749c611ba0fa0e16c61831db44f38c611dff25879cf271a24c81a88b6.btb', 1795775400000003000, 300, 0, NULL, 1795775400000003000, 1795775400000003500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (10, 'agent-d', 0, 7, X'82396aa34d3d216d4a545cf6f34c62f84985d669d5384686caa9a5de4bc2ef3e', X'8ad012c491347fbd15bc141104ddcf388e9afd37e988a315d2004c6cd1b1ac5e', 'archive/82/82396aa34d3d216d4a545cf6f34c62f84985d669d5384686caa9a5de4bc2ef3e.btb', 1795775400000007000, 300, 0, NULL, 1795775400000007000, 1795775400000007500);
INSERT INTO batches(id, agent_id, epoch, seq, hash, prev_hash, archive_path, received_ns, size_bytes, event_count, first_event, first_ns, last_ns) VALUES (11, 'agent-d', 0, 12, X'6aa0030b7b602c9a7a3f5c2ee46db8b00f1c456bda364a4ffae2304b89504072', X'b37e4966cabfe2e74c1ea60e2f9e063ae143f73181fa22fd5aed331d80c5e793', 'archive/6a/6aa0030b7b602c9a7a3f5c2ee46db8b00f1c456bda364a4ffae2304b89504072.btb', 1795775400000012000, 300, 0, NULL, 1795775400000012000, 1795775400000012500);
INSERT INTO findings(id, agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns, recorded_ns, batch, detail) VALUES (1, 'agent-d', 'gap', 2, 4, 0, 1795775400000005000, 7, 4, 'batches 2..4 never arrived');
INSERT INTO findings(id, agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns, recorded_ns, batch, detail) VALUES (2, 'agent-d', 'gap', 7, 7, 0, 1795775400000008000, 7, 6, 'batches 7..7 never arrived');
INSERT INTO findings(id, agent_id, kind, seq_from, seq_to, time_from_ns, time_to_ns, recorded_ns, batch, detail) VALUES (3, 'agent-d', 'gap', 9, 14, 0, 1795775400000015000, 7, 7, 'batches 9..14 never arrived');
COMMIT;

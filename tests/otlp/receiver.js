// An OTLP/HTTP logs receiver for tests/collector/otlp_test.cpp. Every
// request is decoded by OpenTelemetry JS's own generated protobuf code
// (@opentelemetry/otlp-transformer's ExportLogsServiceRequest), never by
// buildtrail's: binary bodies with decode(), JSON bodies with fromObject()
// after checking they keep to OTLP's JSON rules (only known lowerCamelCase
// keys, enums as integers).
//
//   node receiver.js PORT_FILE OUT_FILE [BUSY [MODE]]
//
// Listens on 127.0.0.1 on a free port and writes it to PORT_FILE. Appends
// one JSON line per request ({"request": ...}) and per decoded log record
// ({"record": ...}) to OUT_FILE; a request that breaks a rule gets 400 and
// a {"problem": ...} line. The first BUSY requests are answered 503 with
// Retry-After: 1. MODE `refuse` answers every later request 400 (after
// decoding it); `partial` answers 200 with a partial_success that rejects
// one log record of each request.
'use strict';
const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const v1 = root.opentelemetry.proto.collector.logs.v1;
const Request = v1.ExportLogsServiceRequest;
const Response = v1.ExportLogsServiceResponse;
const [portFile, outFile, busyArg, mode] = process.argv.slice(2);
let busy = Number(busyArg || 0);

function out(line) {
  fs.appendFileSync(outFile, JSON.stringify(line) + '\n');
}

// Every key of the JSON body must survive fromObject/toObject with
// defaults: a key that is not the lowerCamelCase name of a field (a
// snake_case one, a typo) does not.
function unknownKeys(input, known, path) {
  const bad = [];
  if (Array.isArray(input)) {
    input.forEach((v, i) => bad.push(...unknownKeys(v, (known || [])[i], `${path}[${i}]`)));
  } else if (input !== null && typeof input === 'object') {
    for (const k of Object.keys(input)) {
      if (known === null || typeof known !== 'object' || !(k in known)) bad.push(`${path}.${k}`);
      else bad.push(...unknownKeys(input[k], known[k], `${path}.${k}`));
    }
  }
  return bad;
}

function enumStrings(input, path) {
  const bad = [];
  if (Array.isArray(input)) input.forEach((v, i) => bad.push(...enumStrings(v, `${path}[${i}]`)));
  else if (input !== null && typeof input === 'object')
    for (const k of Object.keys(input)) {
      if (k === 'severityNumber' && typeof input[k] !== 'number') bad.push(`${path}.${k}`);
      bad.push(...enumStrings(input[k], `${path}.${k}`));
    }
  return bad;
}

function attributes(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = kv.value ? kv.value.stringValue : undefined;
  return o;
}

function handle(req, body) {
  const type = req.headers['content-type'];
  const encoding = req.headers['content-encoding'];
  if (encoding === 'gzip') body = zlib.gunzipSync(body);
  else if (encoding) throw new Error(`Content-Encoding ${encoding}`);
  let message;
  if (type === 'application/x-protobuf') {
    message = Request.decode(body);
  } else if (type === 'application/json') {
    const input = JSON.parse(body.toString('utf8'));
    message = Request.fromObject(input);
    const known = Request.toObject(message, {longs: String, enums: Number, bytes: String, defaults: true, oneofs: false});
    const bad = unknownKeys(input, known, '$').concat(enumStrings(input, '$'));
    if (bad.length) throw new Error(`not OTLP JSON: ${bad.slice(0, 5).join(', ')}`);
  } else {
    throw new Error(`Content-Type ${type}`);
  }
  const plain = Request.toObject(message, {longs: String, enums: Number, defaults: false});
  let records = 0;
  for (const rl of plain.resourceLogs || []) {
    const resource = attributes(rl.resource && rl.resource.attributes);
    for (const sl of rl.scopeLogs || [])
      for (const lr of sl.logRecords || []) {
        ++records;
        out({record: {
          encoding: type,
          resource,
          scope: sl.scope && sl.scope.name,
          timeUnixNano: lr.timeUnixNano,
          observedTimeUnixNano: lr.observedTimeUnixNano,
          severityNumber: lr.severityNumber,
          severityText: lr.severityText,
          body: lr.body && lr.body.stringValue,
          attributes: attributes(lr.attributes),
        }});
      }
  }
  return records;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const type = req.headers['content-type'];
    const reply = (status, headers, payload) => {
      res.writeHead(status, headers);
      res.end(payload);
    };
    if (req.method !== 'POST' || req.url !== '/v1/logs') {
      out({problem: `${req.method} ${req.url}`});
      return reply(404, {}, '');
    }
    if (busy > 0) {
      --busy;
      out({request: {status: 503, type}});
      return reply(503, {'Retry-After': '1'}, '');
    }
    try {
      const n = handle(req, Buffer.concat(chunks));
      if (mode === 'refuse') {
        out({request: {status: 400, type, records: n}});
        return reply(400, {'Content-Type': 'text/plain'}, 'refused by the test');
      }
      // The one header a test configures (`headers`): what it named arrives.
      out({request: {status: 200, type, records: n, tenant: req.headers['x-scope-orgid'] || null}});
      const answer = mode === 'partial' ? {partialSuccess: {rejectedLogRecords: 1, errorMessage: 'one refused'}} : {};
      if (type === 'application/json') return reply(200, {'Content-Type': 'application/json'}, JSON.stringify(answer));
      const bytes = Response.encode(Response.fromObject(answer)).finish();
      return reply(200, {'Content-Type': 'application/x-protobuf'}, Buffer.from(bytes));
    } catch (e) {
      out({problem: String(e && e.message || e)});
      out({request: {status: 400, type}});
      return reply(400, {'Content-Type': 'text/plain'}, String(e));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

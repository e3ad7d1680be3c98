#!/usr/bin/env python3
"""Third-party check of buildtrail's DSSE envelopes with securesystemslib.

usage: dsse_check.py PUBKEY.pem FILE...

Each FILE holds DSSE envelopes, one JSON object per line (export --dsse,
export --intoto). Every envelope must verify with the Ed25519 public key
(SubjectPublicKeyInfo PEM: agent.pub, or collector.pub for statements).
Prints one line per envelope; exits 0 when all verify, 1 otherwise, 2 on
usage errors.

securesystemslib >= 0.28 has a DSSE Envelope (securesystemslib.dsse); it is
used when present. Debian bookworm ships 0.26.0, which has none: then the
envelope's PAE is computed here (DSSE protocol.md) and the signature is
checked by securesystemslib's Ed25519 verifier (SSlibKey), the same one the
Envelope class calls.
"""
import base64
import hashlib
import json
import sys

import securesystemslib
from securesystemslib.signer import Signature, SSlibKey

try:
    from securesystemslib.dsse import Envelope
except ImportError:  # securesystemslib < 0.28 (Debian bookworm: 0.26.0)
    Envelope = None

# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw key follows.
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")


def load_key(path):
    lines = open(path, encoding="ascii").read().split("\n")
    body = "".join(l for l in lines if l and not l.startswith("-----"))
    der = base64.b64decode(body, validate=True)
    if len(der) != 44 or not der.startswith(SPKI_ED25519):
        raise ValueError(path + ": not an Ed25519 public key")
    raw = der[len(SPKI_ED25519):]
    # buildtrail's key id: the first 8 bytes of SHA-256 of the raw key.
    keyid = hashlib.sha256(raw).hexdigest()[:16]
    return SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify(envelope_dict, key):
    if Envelope is not None:
        Envelope.from_dict(envelope_dict).verify([key], 1)
        return
    payload = base64.b64decode(envelope_dict["payload"], validate=True)
    message = pae(envelope_dict["payloadType"], payload)
    for s in envelope_dict["signatures"]:
        if s.get("keyid") != key.keyid:
            continue
        sig = Signature(s["keyid"], base64.b64decode(s["sig"], validate=True).hex())
        key.verify_signature(sig, message)  # raises when it does not verify
        return
    raise ValueError("no signature by key " + key.keyid)


def main(argv):
    if len(argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    key = load_key(argv[1])
    api = "dsse.Envelope" if Envelope is not None else "SSlibKey.verify_signature over the PAE"
    bad = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    verify(json.loads(line), key)
                    print("%s:%d: ok (securesystemslib %s, %s)" % (path, number, securesystemslib.__version__, api))
                except Exception as e:  # any failure is a verdict, not a crash
                    bad += 1
                    print("%s:%d: FAILED: %s: %s" % (path, number, type(e).__name__, e))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

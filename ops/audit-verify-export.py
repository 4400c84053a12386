#!/usr/bin/env python3
"""Checks an audit trail export (`mekong audit export`, audit v4) with nothing but the audit key's public file.

Independent of Mekong's code: it follows docs/audit-trail.md ("The chain", "Signed tree heads") and checks, partition
by partition, in offset order:
  - each row's event_hash is SHA-256 of its event_bytes;
  - each row links to the row before it, and its chain_hash is the v3/v4 link;
  - the RFC 6962 Merkle root of the event hashes so far, at every head the rows make due (every 1 000 rows, and at a
    row recorded 60 s or more after the partition's last head): the head is there, signed by the audit key (Ed25519
    over its canonical JSON without `signature`), and names that root, that row's chain hash, offset and recorded time.
Prints the first row that does not hold and exits 1; prints a summary and exits 0 when everything holds.

usage: audit-verify-export.py --public-key AUDIT.pub EXPORT.ndjson
"""
import argparse
import base64
import datetime
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEAD_EVERY_ROWS = 1000
HEAD_EVERY_MICROS = 60_000_000


def sha256(data):
    return hashlib.sha256(data).digest()


class Frontier:
    """An RFC 6962 tree grown one leaf at a time: the roots of its perfect subtrees, largest first."""

    def __init__(self):
        self.size = 0
        self.nodes = []

    def append(self, leaf_hash):
        node = sha256(b"\x00" + leaf_hash)
        size = self.size
        while size & 1:
            node = sha256(b"\x01" + self.nodes.pop() + node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self):
        if not self.nodes:
            return sha256(b"")
        root = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            root = sha256(b"\x01" + node + root)
        return root


def link(previous, offset, event_hash, recorded_micros, problem, partition, topic):
    problem_hash = sha256(problem.encode()) if problem is not None else bytes(32)
    return sha256(previous + struct.pack(">q", offset) + event_hash + struct.pack(">q", recorded_micros)
                  + problem_hash + struct.pack(">i", partition) + topic.encode())


def canonical(value):
    # RFC 8785 for a head: a flat object of strings and integers (no floats, no escapes beyond JSON's).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def micros(text):
    # RFC 3339 with up to nine fraction digits; recorded_time is stored truncated to the microsecond.
    date, _, rest = text.partition("T")
    zone_at = max(rest.rfind("+"), rest.rfind("-"), rest.rfind("Z"))
    clock, zone = rest[:zone_at], rest[zone_at:]
    whole, _, fraction = clock.partition(".")
    moment = datetime.datetime.fromisoformat(f"{date}T{whole}" + ("+00:00" if zone == "Z" else zone))
    return int(moment.timestamp()) * 1_000_000 + int((fraction + "000000")[:6])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public-key", required=True, help="the audit key's .pub file")
    parser.add_argument("export")
    args = parser.parse_args()
    key_file = json.load(open(args.public_key))
    key_id = key_file["keyId"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_file["publicKey"]))

    rows, heads = [], {}
    with open(args.export) as export:
        for line in export:
            item = json.loads(line)
            if "row" in item:
                rows.append(item["row"])
            else:
                head = item["head"]
                heads[(head["topic"], head["partition"], head["size"])] = head

    findings = []
    state = {}
    checked_heads = 0
    for row in rows:
        place = (row["topic"], row["partition"])
        s = state.setdefault(place, {"previous": bytes(32), "tree": Frontier(), "last_head": -(1 << 62), "good": -1})
        at = f"{row['topic']}[{row['partition']}]@{row['offset']}"
        event_hash = bytes.fromhex(row["eventHash"])
        if sha256(base64.b64decode(row["eventBytes"])) != event_hash:
            findings.append(f"{at}: event_hash is not the SHA-256 of event_bytes")
        if bytes.fromhex(row["previousChainHash"]) != s["previous"]:
            findings.append(f"{at}: previous_chain_hash does not link to the row before it")
        chain = link(bytes.fromhex(row["previousChainHash"]), row["offset"], event_hash, row["recordedMicros"],
                     row["problem"], row["partition"], row["topic"])
        if chain != bytes.fromhex(row["chainHash"]):
            findings.append(f"{at}: chain_hash is not the link over the row's columns")
        s["previous"] = bytes.fromhex(row["chainHash"])
        s["tree"].append(event_hash)
        size = s["tree"].size
        if size % HEAD_EVERY_ROWS == 0 or row["recordedMicros"] - s["last_head"] >= HEAD_EVERY_MICROS:
            s["last_head"] = row["recordedMicros"]
            head = heads.pop((row["topic"], row["partition"], size), None)
            rows_since = f"after offset {s['good']}" if s["good"] >= 0 else "from the partition's start"
            if head is None:
                findings.append(f"{at}: no signed tree head for the first {size} rows, though one is due")
                continue
            checked_heads += 1
            unsigned = {k: v for k, v in head.items() if k != "signature"}
            problems = []
            try:
                if head["keyId"] != key_id:
                    raise InvalidSignature()
                key.verify(base64.b64decode(head["signature"]), canonical(unsigned))
            except InvalidSignature:
                problems.append(f"its signature does not verify with audit key {key_id}")
            if head["lastOffset"] != row["offset"]:
                problems.append(f"it names offset {head['lastOffset']}")
            if bytes.fromhex(head["root"]) != s["tree"].root():
                problems.append("its Merkle root is not the root of the rows' event hashes")
            if bytes.fromhex(head["chainHash"]) != chain:
                problems.append("its chain hash is not this row's")
            if micros(head["recordedTime"]) != row["recordedMicros"]:
                problems.append("its recorded time is not this row's")
            if problems:
                findings.append(f"{at}: the signed tree head for the first {size} rows does not hold: "
                                + "; ".join(problems) + f"; the rows {rows_since} were rewritten")
            else:
                s["good"] = row["offset"]
    for (topic, partition, size) in sorted(heads):
        findings.append(f"{topic}[{partition}]: a signed tree head covers {size} rows that the export does not hold")

    if findings:
        print(f"audit export BROKEN: first finding {findings[0]}")
        for finding in findings[1:20]:
            print(f"  also: {finding}")
        sys.exit(1)
    print(f"audit export intact: {len(rows)} rows in {len(state)} partitions, every chain link and "
          f"{checked_heads} signed tree heads verified with audit key {key_id}")


if __name__ == "__main__":
    main()

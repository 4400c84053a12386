#!/usr/bin/env python3
"""Check a `mekong archive` directory without Mekong, from docs/archive.md alone (standard library only).

    python3 ops/archive-verify.py DIR

Exit code 0 and one summary line if every segment's size and SHA-256, every record's SHA-256 and every offset agree
with the manifest; exit code 1 and the first fault (file and line) otherwise.
"""
import base64
import hashlib
import json
import os
import sys


def fail(message):
    print(f"archive corrupt: {message}")
    sys.exit(1)


def main(directory):
    with open(os.path.join(directory, "manifest.json"), "rb") as handle:
        manifest = json.load(handle)
    if manifest.get("format") != "mekong-archive/1":
        fail(f"manifest.json: format {manifest.get('format')!r}")
    records = segments = 0
    for partition in manifest["partitions"]:
        name = f"{partition['topic']}[{partition['partition']}]"
        previous = -1
        last_hash = "0" * 64
        for segment in partition["segments"]:
            path = segment["file"]
            if path.startswith("/") or ".." in path.split("/"):
                fail(f"{name}: segment file {path!r} is outside the archive")
            if segment["firstOffset"] <= previous:
                fail(f"{path}: starts at {segment['firstOffset']}, not after {previous}")
            with open(os.path.join(directory, path), "rb") as handle:
                data = handle.read()
            if len(data) != segment["bytes"] or hashlib.sha256(data).hexdigest() != segment["sha256"]:
                fail(f"{path}: {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}; the manifest says "
                     f"{segment['bytes']}, {segment['sha256']}")
            if data and not data.endswith(b"\n"):
                fail(f"{path}: the last line has no newline")
            lines = data.split(b"\n")[:-1]
            for number, line in enumerate(lines, start=1):
                record = json.loads(line)
                value = base64.b64decode(record["value"], validate=True)
                digest = hashlib.sha256(value).hexdigest()
                if digest != record["sha256"]:
                    fail(f"{path} line {number}: the value's SHA-256 is {digest}, the line says {record['sha256']}")
                offset = record["offset"]
                if not (previous < offset and segment["firstOffset"] <= offset <= segment["lastOffset"]):
                    fail(f"{path} line {number}: offset {offset} out of order or outside the segment")
                for header in record["headers"]:
                    base64.b64decode(header["value"], validate=True)
                if record["key"] is not None:
                    base64.b64decode(record["key"], validate=True)
                previous = offset
                last_hash = digest
            if len(lines) != segment["records"] or previous != segment["lastOffset"]:
                fail(f"{path}: {len(lines)} records ending at {previous}; the manifest says "
                     f"{segment['records']} ending at {segment['lastOffset']}")
            records += len(lines)
            segments += 1
        if previous >= partition["nextOffset"] or (partition["segments"] and last_hash != partition["lastValueSha256"]):
            fail(f"{name}: the last record disagrees with nextOffset or lastValueSha256")
    print(f"archive intact: {records} records in {segments} segments of {len(manifest['partitions'])} partitions")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1])

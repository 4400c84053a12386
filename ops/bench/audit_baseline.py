#!/usr/bin/env python3
"""Python baseline of Mekong's audit projection, for the audit-projection benchmark.

Does the work of the Swift audit projection (`MekongAudit.AuditTrail` run by `MekongProjection.ProjectionEngine`)
as a competent Python implementation would, in one process and one thread:
consumes event topics in consumer-group mode, turns every record into an audit row (CloudEvents attributes,
canonical JSON, SHA-256, a per-partition hash chain) and writes each batch in ONE PostgreSQL transaction together
with the partitions' chain heads and checkpoints. Positions come from the checkpoints table on assignment, never
from Kafka's committed offsets.

    python ops/bench/audit_baseline.py --bootstrap 127.0.0.1:9092 \
        --postgres postgresql://mekong:mekong@localhost:5432/mekong \
        --topics reports --group bench-py-1 --schema baseline_audit --expect 100000

Prints one line of JSON on stdout when N records were recorded by this run:
    {"events": n, "seconds": s, "batches": b}
`seconds` runs from the arrival of the first non-empty batch to the commit of the last one (joining the consumer
group is excluded), like the Swift engine's `ProjectionRunSummary.activeTime`. N counts the records this run
recorded (with a fresh group and schema: everything in the log). Errors go to stderr, exit code 1; no new record
for --idle-timeout seconds (default 60) is exit code 2.

Differences from the Swift projector, on purpose (all favour the baseline or change nothing measurable):
- An event is valid here when it is a JSON object with specversion "1.0", the required attributes as strings and
  `data` an object. The Swift projector also validates every value (UUIDv7 id, URIs, RFC 3339 times, unknown
  attributes); for the benchmark's events (all valid) both record the same rows.
- One statement per batch for each of: create missing checkpoint rows, lock checkpoints and read chain heads
  (one join), COPY, upsert chain heads, advance checkpoints: set-based like the Swift engine.
- Tables live in their own schema (default `baseline_audit`), checkpoints in `<schema>.checkpoints` (the Swift
  engine keeps them in `mekong.checkpoints`, keyed by projection and version).
- Single-threaded: decoding, canonicalising and hashing happen on the one Python thread (the Swift engine decodes
  in parallel outside the transaction).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import time
from datetime import datetime, timezone

if sys.version_info < (3, 11):  # datetime.fromisoformat reads RFC 3339 ('Z', any fraction) from 3.11 on
    sys.exit("audit_baseline: needs Python 3.11 or later")

try:
    import psycopg
    from psycopg import sql
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException
except ImportError as error:  # pragma: no cover - depends on the environment
    sys.exit(f"audit_baseline: {error}; create the environment with `bash ops/bench/python-env.sh`")

ZERO_HASH = bytes(32)

REQUIRED_STRINGS = ("id", "source", "type", "time", "subject", "datacontenttype", "dataschema")
TEXT_COLUMNS = ("id", "type", "source", "subject")  # the attributes stored in text columns

COPY_COLUMNS = (
    "topic, partition, kafka_offset, event_id, event_type, source, subject, event_time, recorded_time, "
    "event_bytes, event_hash, previous_chain_hash, chain_hash, problem"
)

# Binary COPY with set_types() and write_row(), measured against text COPY with write_row() on the 2-core development
# VM (psycopg 3.3.9 with its C extension, 50 000 prepared audit rows of ~780-byte events, batches of 5 000, one
# transaction each): binary 64 000-69 000 rows/s, text 46 000-49 000 rows/s, though binary needs the two
# timestamps parsed into datetimes in Python (datetime.fromisoformat) where text COPY lets PostgreSQL parse them.
COPY_TYPES = [
    "text", "int4", "int8", "text", "text", "text", "text", "timestamptz", "timestamptz",
    "bytea", "bytea", "bytea", "bytea", "text",
]
EPOCH = datetime.fromtimestamp(0, timezone.utc)


def parse_constant(name: str) -> None:
    # NaN and ±Infinity are not JSON: Python's json accepts them unless told otherwise.
    raise ValueError(f"{name} is not a JSON value")


# One decoder and one encoder for the whole run: json.loads/json.dumps with non-default arguments build a new
# JSONDecoder/JSONEncoder on every call. The encoder is exactly
#     json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
# which is close enough to RFC 8785 (JCS) for these events: sorted keys, no whitespace, UTF-8, strings escaped as
# JCS does. It differs only for floats Python writes otherwise than ECMAScript (1.0, 1e+21: the events' values are
# integers or short decimals), integers beyond 2^53 and keys outside the Basic Multilingual Plane (JCS sorts by
# UTF-16 code units, Python by code points), none of which occur in the benchmark's events.
DECODER = json.JSONDecoder(parse_constant=parse_constant)
ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time as an aware datetime (ValueError otherwise).

    datetime.fromisoformat (Python 3.11+) reads RFC 3339 except lowercase 't'/'z'; it truncates fractions beyond
    microseconds (PostgreSQL rounds them) and refuses leap seconds, which no event here has.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError:
            raise ValueError(f"'{text}' is not an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"'{text}' has no UTC offset")
    return moment


def problem_of(event: object) -> str | None:
    """Why a parsed value is not a CloudEvent this projection can record as one; None when it is."""
    if type(event) is not dict:
        return f"not a valid event: a CloudEvent must be a JSON object, got {type(event).__name__}"
    if event.get("specversion") != "1.0":
        return "not a valid event: specversion must be the string \"1.0\""
    for name in REQUIRED_STRINGS:
        if type(event.get(name)) is not str:
            return f"not a valid event: '{name}' is missing or not a string"
    for name in TEXT_COLUMNS:
        if "\x00" in event[name]:
            return f"not a valid event: '{name}' contains U+0000, which a PostgreSQL text column cannot hold"
    if type(event.get("data")) is not dict:
        return "not a valid event: 'data' is missing or not an object"
    recorded = event.get("recordedtime")
    if recorded is not None and type(recorded) is not str:
        return "not a valid event: 'recordedtime' is not a string"
    return None


class Fail(Exception):
    """An error to report on stderr with exit code `code`."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class AuditBaseline:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.topics = [t for t in args.topics.split(",") if t]
        if not self.topics:
            raise Fail("--topics names no topic")
        schema = sql.Identifier(args.schema)
        self.conn = psycopg.connect(args.postgres, autocommit=True)
        self.schema = schema.as_string(self.conn)
        self.create_tables()
        s = self.schema
        self.sql_create_checkpoints = (
            f"INSERT INTO {s}.checkpoints (topic, partition, next_offset) "
            f"SELECT t, p, 0 FROM unnest(%s::text[], %s::int[]) AS u(t, p) ON CONFLICT DO NOTHING"
        )
        # Locks the batch's checkpoint rows (in key order, so two instances cannot deadlock) and reads the chain
        # heads in the same round trip.
        self.sql_lock = (
            f"SELECT c.topic, c.partition, c.next_offset, h.chain_hash "
            f"FROM {s}.checkpoints c LEFT JOIN {s}.chain_heads h USING (topic, partition) "
            f"WHERE (c.topic, c.partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
            f"ORDER BY c.topic, c.partition FOR UPDATE OF c"
        )
        self.sql_heads = (
            f"INSERT INTO {s}.chain_heads (topic, partition, last_offset, chain_hash) "
            f"SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bytea[]) "
            f"ON CONFLICT (topic, partition) "
            f"DO UPDATE SET last_offset = EXCLUDED.last_offset, chain_hash = EXCLUDED.chain_hash"
        )
        # Refuses (updates fewer rows) if another writer moved a checkpoint meanwhile.
        self.sql_advance = (
            f"UPDATE {s}.checkpoints c SET next_offset = u.next "
            f"FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[]) AS u(t, p, expected, next) "
            f"WHERE c.topic = u.t AND c.partition = u.p AND c.next_offset = u.expected"
        )
        self.sql_copy = f"COPY {s}.events ({COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)"
        self.sql_positions = f"SELECT topic, partition, next_offset FROM {s}.checkpoints WHERE topic = ANY(%s)"
        self.kafka_time_cache: tuple[int, datetime | None] = (-1, None)

    def create_tables(self) -> None:
        s = self.schema
        with self.conn.transaction():
            self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            # Columns, CHECK constraints and indexes are those of Projections/audit/v2, so PostgreSQL does the
            # same work as for the Swift projector.
            self.conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {s}.events (
                    topic text NOT NULL, partition integer NOT NULL, kafka_offset bigint NOT NULL,
                    event_id text, event_type text, source text, subject text, event_time timestamptz,
                    recorded_time timestamptz NOT NULL,
                    event_bytes bytea NOT NULL,
                    event_hash bytea NOT NULL CHECK (length(event_hash) = 32),
                    previous_chain_hash bytea NOT NULL CHECK (length(previous_chain_hash) = 32),
                    chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32),
                    problem text,
                    PRIMARY KEY (topic, partition, kafka_offset),
                    CHECK ((problem IS NULL) = (event_id IS NOT NULL)))"""
            )
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS events_event_id ON {s}.events (event_id)")
            self.conn.execute(
                f"CREATE INDEX IF NOT EXISTS events_source_time ON {s}.events (source, event_time)"
            )
            # audit_v2 (Projections/audit/v2) added this index; kept so both sides maintain the same indexes.
            self.conn.execute(
                f"CREATE INDEX IF NOT EXISTS events_type_time ON {s}.events (event_type, event_time)"
            )
            self.conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {s}.chain_heads (
                    topic text, partition integer, last_offset bigint NOT NULL,
                    chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32),
                    PRIMARY KEY (topic, partition))"""
            )
            self.conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {s}.checkpoints (
                    topic text, partition integer, next_offset bigint NOT NULL,
                    PRIMARY KEY (topic, partition))"""
            )

    # Kafka side ------------------------------------------------------------------------------------------------

    def on_assign(self, consumer: Consumer, partitions: list) -> None:
        """Seeks every assigned partition to its stored checkpoint (the beginning when there is none)."""
        rows = self.conn.execute(self.sql_positions, (self.topics,)).fetchall()
        stored = {(topic, partition): offset for topic, partition, offset in rows}
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        if self.args.verbose:
            print(f"audit_baseline: assigned {len(partitions)} partitions; resuming from stored checkpoints",
                  file=sys.stderr)

    def on_kafka_error(self, error: KafkaError) -> None:
        """Client-level errors: a benchmark has no reason to wait out a dead cluster, so these end the run."""
        if error.fatal() or error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION):
            raise KafkaException(error)
        print(f"audit_baseline: kafka: {error}", file=sys.stderr)

    def on_revoke(self, consumer: Consumer, partitions: list) -> None:
        consumer.unassign()

    def kafka_time(self, message) -> datetime | None:
        """The record's Kafka timestamp, for `recorded_time`; None if it has none."""
        kind, ms = message.timestamp()
        if kind == 0:  # TIMESTAMP_NOT_AVAILABLE
            return None
        cached_ms, value = self.kafka_time_cache
        if ms == cached_ms:
            return value
        value = datetime.fromtimestamp(ms / 1000, timezone.utc)
        self.kafka_time_cache = (ms, value)
        return value

    # One batch ------------------------------------------------------------------------------------------------

    def apply(self, messages: list) -> int:
        """Records one batch in one transaction; returns how many records were new."""
        by_partition: dict[tuple[str, int], list] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal() or not error.retriable():
                    raise KafkaException(error)
                print(f"audit_baseline: consumer: {error}", file=sys.stderr)
                continue
            key = (message.topic(), message.partition())
            group = by_partition.get(key)
            if group is None:
                by_partition[key] = [message]
            else:
                group.append(message)
        if not by_partition:
            return 0

        keys = sorted(by_partition)
        topics = [k[0] for k in keys]
        partitions = [k[1] for k in keys]
        rows: list[tuple] = []
        head_topics, head_partitions, head_offsets, head_hashes = [], [], [], []
        expected, next_offsets = [], []

        decode = DECODER.decode
        encode = ENCODER.encode
        sha256 = hashlib.sha256
        pack_offset = struct.Struct(">q").pack
        kafka_time = self.kafka_time
        append = rows.append

        conn = self.conn
        with conn.transaction():
            cursor = conn.cursor()
            cursor.execute(self.sql_create_checkpoints, (topics, partitions))
            cursor.execute(self.sql_lock, (topics, partitions))
            state = {(t, p): (next_offset, head) for t, p, next_offset, head in cursor.fetchall()}
            for key in keys:
                topic, partition = key
                next_offset, head = state[key]
                previous = bytes(head) if head is not None else ZERO_HASH
                batch = by_partition[key]
                # A partition's records arrive in offset order; sort only if a seek mixed them.
                if any(batch[i].offset() >= batch[i + 1].offset() for i in range(len(batch) - 1)):
                    batch.sort(key=lambda m: m.offset())
                first = None
                last = next_offset - 1
                for message in batch:
                    offset = message.offset()
                    if offset <= last:
                        continue  # already recorded (or a duplicate after a seek)
                    if first is None:
                        first = offset
                    value = message.value() or b""
                    try:
                        event = decode(value.decode("utf-8"))
                    except (ValueError, RecursionError) as error:  # UnicodeDecodeError, JSONDecodeError, NaN
                        problem = f"not a valid event: invalid JSON: {error}"
                    else:
                        problem = problem_of(event)
                        if problem is None:
                            try:
                                # UnicodeEncodeError (a lone surrogate such as "\ud800") is a ValueError too.
                                event_bytes = encode(event).encode()
                                event_time = rfc3339(event["time"])
                                recorded = event.get("recordedtime")
                                if recorded is not None:
                                    recorded = rfc3339(recorded)
                                else:
                                    recorded = kafka_time(message) or event_time
                            except ValueError as error:
                                problem = f"not a valid event: {error}"
                    if problem is None:
                        event_hash = sha256(event_bytes).digest()
                        chain = sha256(previous + pack_offset(offset) + event_hash).digest()
                        append((topic, partition, offset, event["id"], event["type"], event["source"],
                                event["subject"], event_time, recorded, event_bytes, event_hash, previous, chain,
                                None))
                    else:
                        event_hash = sha256(value).digest()
                        chain = sha256(previous + pack_offset(offset) + event_hash).digest()
                        append((topic, partition, offset, None, None, None, None, None,
                                kafka_time(message) or EPOCH, value, event_hash, previous, chain, problem))
                    previous = chain
                    last = offset
                if first is None:
                    continue
                if first > next_offset:
                    # Retention deleted them before they were recorded, or they are transaction markers: the trail
                    # cannot show them; say so, as the Swift projector does.
                    print(f"audit_baseline: {topic}[{partition}]: offsets {next_offset}..<{first} are no longer "
                          f"in the log and were never recorded", file=sys.stderr)
                head_topics.append(topic)
                head_partitions.append(partition)
                head_offsets.append(last)
                head_hashes.append(previous)
                expected.append(next_offset)
                next_offsets.append(last + 1)

            if rows:
                with cursor.copy(self.sql_copy) as copy:
                    copy.set_types(COPY_TYPES)
                    write_row = copy.write_row
                    for row in rows:
                        write_row(row)
                cursor.execute(self.sql_heads, (head_topics, head_partitions, head_offsets, head_hashes))
                cursor.execute(self.sql_advance, (head_topics, head_partitions, expected, next_offsets))
                if cursor.rowcount != len(head_topics):
                    raise Fail("a checkpoint moved during the batch: another instance is running (rolled back)")
        return len(rows)

    # The run --------------------------------------------------------------------------------------------------

    def run(self) -> dict:
        args = self.args
        consumer = Consumer({
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            # As MekongKafka's consumerDefaults, so group membership behaves as for the Swift projector.
            "partition.assignment.strategy": "range,roundrobin",
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
            "client.id": "mekong-audit-baseline",
            "error_cb": self.on_kafka_error,
        })
        try:
            consumer.subscribe(self.topics, on_assign=self.on_assign, on_revoke=self.on_revoke)
            recorded = 0
            batches = 0
            first_batch = None
            last_commit = None
            last_progress = time.monotonic()
            while recorded < args.expect:
                messages = consumer.consume(num_messages=args.batch, timeout=args.batch_wait)
                now = time.monotonic()
                if messages:
                    if first_batch is None:
                        first_batch = now
                    new = self.apply(messages)
                    if new:
                        recorded += new
                        batches += 1
                        last_commit = time.monotonic()
                        last_progress = last_commit
                        continue
                if now - last_progress > args.idle_timeout:
                    raise Fail(f"no new record for {args.idle_timeout:g} s; recorded {recorded} of the "
                               f"{args.expect} expected", code=2)
            seconds = (last_commit - first_batch) if last_commit is not None else 0.0
            return {"events": recorded, "seconds": round(seconds, 6), "batches": batches}
        finally:
            consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, HOST:PORT[,...]")
    parser.add_argument("--postgres", required=True, help="PostgreSQL URL or conninfo")
    parser.add_argument("--topics", required=True, help="event topics, comma-separated")
    parser.add_argument("--group", required=True, help="Kafka consumer group")
    parser.add_argument("--schema", default="baseline_audit", help="PostgreSQL schema of the tables")
    parser.add_argument("--expect", required=True, type=int, help="stop after recording this many records")
    parser.add_argument("--batch", type=int, default=5000, help="records per poll and transaction")
    parser.add_argument("--batch-wait", type=float, default=0.25,
                        help="seconds a poll waits for a batch to fill (the Swift projector's 250 ms)")
    parser.add_argument("--idle-timeout", type=float, default=60.0,
                        help="give up (exit 2) after this many seconds without a new record")
    parser.add_argument("--verbose", action="store_true", help="report partition assignments on stderr")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.expect < 0:
        parser.error("--batch must be positive and --expect not negative")
    try:
        baseline = AuditBaseline(args)
        try:
            summary = baseline.run()
        finally:
            baseline.conn.close()
    except Fail as error:
        print(f"audit_baseline: {error}", file=sys.stderr)
        return error.code
    except (psycopg.Error, KafkaException) as error:
        print(f"audit_baseline: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("audit_baseline: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where other producers put a subject: confluent-kafka configured as docs/events.md says, and Java's murmur2.

    python3 partition_check.py BOOTSTRAP TOPIC PARTITIONS SUBJECTS_FILE

Produces one record per subject (key = the subject) with confluent-kafka and `partitioner=murmur2_random`, and
prints one JSON object: subject -> {"confluent": partition its delivery report gave, "java": the partition Java's
default partitioner computes, "crc32": the partition of librdkafka's own default (consistent_random)}.
"""
import json
import sys
import zlib

import confluent_kafka


def java_murmur2(data: bytes) -> int:
    """org.apache.kafka.common.utils.Utils.murmur2, as a signed 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def main():
    bootstrap, topic, partitions, subjects_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(subjects_file, encoding="utf-8") as f:
        subjects = [line.rstrip("\n") for line in f if line.strip()]
    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "acks": "all", "enable.idempotence": True,
    })
    delivered = {}

    def report(error, message):
        if error is not None:
            raise SystemExit(f"delivery failed: {error}")
        delivered[message.key().decode("utf-8")] = message.partition()

    for subject in subjects:
        producer.produce(topic, key=subject.encode("utf-8"), value=b"{}", on_delivery=report)
    if producer.flush(30) != 0:
        raise SystemExit("confluent-kafka did not deliver every record in 30 s")
    answer = {}
    for subject in subjects:
        key = subject.encode("utf-8")
        answer[subject] = {
            "confluent": delivered[subject],
            "java": (java_murmur2(key) & 0x7FFFFFFF) % partitions,
            "crc32": zlib.crc32(key) % partitions,
        }
    print(json.dumps(answer))


if __name__ == "__main__":
    main()

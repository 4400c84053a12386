#!/usr/bin/env python3
"""Example Mekong source-system client: signs CloudEvents and publishes them to the gateway.

Written against docs/gateway-contract.md with only the standard library, `requests` and
`cryptography`, to show that a source system outside Swift can interoperate with the gateway:

- ``canonical_json``: RFC 8785 (JCS) canonical JSON, the bytes signatures and hashes cover;
- ``load_key`` / ``generate_key``: the ``KEYID.key`` / ``KEYID.pub`` files of ``mekong keys generate``;
- ``sign_event`` / ``verify_event`` / ``event_hash``: event signatures and the event hash;
- ``sign_body``: the ``Mekong-Signature`` header of POST /v1/reports and survey batches;
- ``new_uuid7``: RFC 9562 version-7 event ids;
- ``verify_receipt``: the gateway's receipt signature;
- ``publish``: POST /v1/events (batch or one by one), retrying 429/503 with the same bytes.

Run ``python3 mekong_client.py --help`` for the command line (``publish`` and ``keygen``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import datetime as _dt
import email.utils
import hashlib
import json
import math
import os
import re
import secrets
import sys
import threading
import time
from typing import Any, Iterable, Optional

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "canonical_json",
    "load_key",
    "load_public_key",
    "generate_key",
    "public_key_b64",
    "sign_event",
    "verify_event",
    "event_hash",
    "sign_body",
    "request_hash",
    "new_uuid7",
    "verify_receipt",
    "publish",
    "encode_body",
    "GatewayError",
    "EVENTS_PATH",
]

EVENTS_PATH = "/v1/events"
GATEWAY_KEY_PATH = "/v1/gateway-key"
REPORT_TYPE = "vn.gso.report.submitted"
REPORT_SCHEMA_V2 = "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v2.schema.json"

#: Integers a JSON number holds exactly (IEEE 754 double); the gateway refuses integer literals beyond (I-JSON).
MAX_EXACT_INTEGER = 2**53


# ---------------------------------------------------------------------------------------------------------------
# RFC 8785 canonical JSON
# ---------------------------------------------------------------------------------------------------------------

_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
_ESCAPE_TABLE = {
    code: _SHORT_ESCAPES.get(code, "\\u%04x" % code) for code in list(range(0x20)) + [0x22, 0x5C]
}


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value built from dict, list/tuple, str, int,
    float, bool and None.

    Object members are sorted by the UTF-16 code units of their keys; there is no whitespace; strings
    escape only ``"``, ``\\`` and U+0000..U+001F (``\\b \\f \\n \\r \\t``, else ``\\u00xx``); numbers are
    IEEE 754 doubles written as ECMAScript's ``Number.prototype.toString`` writes them (integers beyond
    ±2^53 are first rounded to the nearest double, as JCS prescribes). NaN and ±Infinity, non-string
    keys, lone surrogates and other types raise ``ValueError``.
    """
    parts: list[str] = []
    _write(value, parts, 0)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, e.g. from json.loads('"\\ud800"')
        raise ValueError(f"string is not valid Unicode (lone surrogate?): {error}") from None


def _write(value: Any, out: list[str], depth: int) -> None:
    if depth > 1000:
        raise ValueError("JSON value nested too deeply")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        _write_string(value, out)
    elif isinstance(value, (int, float)):
        out.append(format_number(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"object keys must be strings, got {type(key).__name__} {key!r}")
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_key)):
            if index:
                out.append(",")
            _write_string(key, out)
            out.append(":")
            _write(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, element in enumerate(value):
            if index:
                out.append(",")
            _write(element, out, depth + 1)
        out.append("]")
    else:
        raise ValueError(f"not a JSON value: {type(value).__name__}")


def _utf16_key(key: str) -> bytes:
    """RFC 8785 §3.2.3 sort key: the UTF-16 code units (big-endian bytes compare like the units)."""
    return key.encode("utf-16-be", "surrogatepass")


def _write_string(text: str, out: list[str]) -> None:
    out.append('"')
    out.append(text.translate(_ESCAPE_TABLE))
    out.append('"')


def format_number(value: int | float) -> str:
    """ECMAScript ``Number.prototype.toString`` (ECMA-262 Number::toString) of a JSON number."""
    if isinstance(value, bool):
        raise ValueError("booleans are not numbers")
    if isinstance(value, int):
        if -MAX_EXACT_INTEGER <= value <= MAX_EXACT_INTEGER:
            return str(value)
        try:
            value = float(value)  # JSON numbers are doubles: round as ECMAScript's JSON.parse would
        except OverflowError:
            raise ValueError(f"integer {value} is beyond the double range") from None
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number; JSON (RFC 8785) has no NaN or Infinity")
    if value == 0:
        return "0"  # also -0
    if value.is_integer() and abs(value) <= MAX_EXACT_INTEGER:
        return str(int(value))
    sign = "-" if value < 0 else ""
    digits, n = _shortest_digits(abs(value))
    return sign + _layout(digits, n)


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits ``d1…dk`` (no leading or trailing zeros) and ``n`` with
    value = 0.d1…dk × 10^n, read from ``repr`` (e.g. '4.5', '1e-07', '1.2345678901234568e+20')."""
    text = repr(value)
    mantissa, _, exponent_text = text.partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    integer_part, _, fraction_part = mantissa.partition(".")
    digits = integer_part + fraction_part
    n = len(integer_part) + exponent
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    return stripped.rstrip("0"), n


def _layout(digits: str, n: int) -> str:
    """ECMA-262 Number::toString steps for a positive number 0.digits × 10^n."""
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def encode_body(value: Any) -> bytes:
    """The bytes to send over HTTP: compact UTF-8 JSON the gateway's strict (I-JSON) parser accepts.

    Not the canonical form: canonical JSON writes integral doubles in [2^53, 10^21) as long integer
    literals, which the gateway refuses as inexact integers. Python writes floats via ``repr`` (always
    with '.' or an exponent), which parse to the very same doubles, so the gateway's canonical form of
    what it parses equals ``canonical_json`` of what was sent. Python ints beyond ±2^53, NaN and
    Infinity raise ``ValueError`` here rather than being refused by the gateway.
    """
    _check_ijson(value, "")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _check_ijson(value: Any, pointer: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INTEGER:
            raise ValueError(f"{pointer or '/'}: integer {value} is outside ±2^53; send it as a string (I-JSON)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{pointer or '/'}: {value!r} is not a finite number")
    elif isinstance(value, dict):
        for key, element in value.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            _check_ijson(element, f"{pointer}/{escaped}")
    elif isinstance(value, (list, tuple)):
        for index, element in enumerate(value):
            _check_ijson(element, f"{pointer}/{index}")


# ---------------------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------------------

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _b64decode(text: Any, what: str, length: Optional[int] = None) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not standard base64") from None
    if length is not None and len(raw) != length:
        raise ValueError(f"{what} must be the base64 of {length} bytes, got {len(raw)}")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Standard base64 of the 32 raw public-key bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _read_key_json(path: str) -> dict:
    with open(path, "rb") as handle:
        try:
            obj = json.loads(handle.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a JSON key file ({error})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a JSON object")
    if obj.get("algorithm") != "Ed25519":
        raise ValueError(f'{path}: algorithm must be "Ed25519"')
    if not isinstance(obj.get("keyId"), str) or not obj["keyId"]:
        raise ValueError(f"{path}: keyId is missing")
    return obj


def load_key(path: str) -> tuple[str, Ed25519PrivateKey]:
    """Reads a ``KEYID.key`` file; returns ``(key_id, private_key)``.

    Checks that ``publicKey``, when present, is the public half of ``privateKey`` (the 32-byte seed)."""
    obj = _read_key_json(path)
    seed = _b64decode(obj.get("privateKey"), f"{path}: privateKey", 32)
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    if "publicKey" in obj and obj["publicKey"] != public_key_b64(private_key):
        raise ValueError(f"{path}: publicKey is not the public key of privateKey")
    return obj["keyId"], private_key


def load_public_key(source: str | dict) -> tuple[str, Ed25519PublicKey]:
    """Reads a ``.pub`` file (or the JSON object of GET /v1/gateway-key); returns ``(key_id, public_key)``."""
    if isinstance(source, dict):
        obj = source
        where = "gateway key"
        if obj.get("algorithm") != "Ed25519" or not isinstance(obj.get("keyId"), str) or not obj["keyId"]:
            raise ValueError(f'{where}: needs "algorithm":"Ed25519" and a keyId')
    else:
        obj = _read_key_json(source)
        where = source
    raw = _b64decode(obj.get("publicKey"), f"{where}: publicKey", 32)
    return obj["keyId"], Ed25519PublicKey.from_public_bytes(raw)


def _key_file_json(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")


def generate_key(key_id: str, out_dir: str) -> tuple[str, str]:
    """Writes a new Ed25519 key pair as ``out_dir/KEYID.key`` (mode 0600) and ``out_dir/KEYID.pub``, the
    format of ``mekong keys generate``; refuses to overwrite either file. Returns both paths."""
    if not _KEY_ID.match(key_id):
        raise ValueError(f"key id {key_id!r} must match {_KEY_ID.pattern}")
    private_path = os.path.join(out_dir, key_id + ".key")
    public_path = os.path.join(out_dir, key_id + ".pub")
    for path in (private_path, public_path):
        if os.path.exists(path):
            raise FileExistsError(f"{path} already exists; not overwriting a key")
    os.makedirs(out_dir, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = public_key_b64(private_key)
    private_json = {"algorithm": "Ed25519", "keyId": key_id, "privateKey": _b64(seed), "publicKey": public}
    public_json = {"algorithm": "Ed25519", "keyId": key_id, "publicKey": public}
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, _key_file_json(private_json))
    finally:
        os.close(descriptor)
    with open(public_path, "xb") as handle:
        handle.write(_key_file_json(public_json))
    return private_path, public_path


# ---------------------------------------------------------------------------------------------------------------
# Signatures and hashes
# ---------------------------------------------------------------------------------------------------------------


def _signing_bytes(event: dict) -> bytes:
    unsigned = {key: value for key, value in event.items() if key not in ("signature", "signatureproof", "recordedtime")}
    return canonical_json(unsigned)


def _merkle_leaf(hash_: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + hash_).digest()


def _merkle_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root_and_paths(hashes: list) -> tuple[bytes, list]:
    """The RFC 6962 root of ``hashes`` (32-byte digests, in order) and each one's audit path, leaf end first."""
    if not hashes:
        return hashlib.sha256(b"").digest(), []
    paths = [[] for _ in hashes]

    def subtree(start: int, end: int) -> bytes:
        if end - start == 1:
            return _merkle_leaf(hashes[start])
        split = 1
        while split * 2 < end - start:
            split *= 2
        left, right = subtree(start, start + split), subtree(start + split, end)
        for index in range(start, start + split):
            paths[index].append(right)
        for index in range(start + split, end):
            paths[index].append(left)
        return _merkle_node(left, right)

    return subtree(0, len(hashes)), paths


def root_from_proof(hash_: bytes, proof: str) -> Optional[bytes]:
    """The root an inclusion proof ``<index>/<size>:<base64 path>`` leads to from ``hash_`` (RFC 9162 2.1.3.2),
    or None when its shape does not fit its size."""
    position, _, path_b64 = proof.partition(":")
    index_text, _, size_text = position.partition("/")
    index, size = int(index_text), int(size_text)
    raw = base64.b64decode(path_b64)
    if index >= size or len(raw) % 32:
        return None
    fn, sn, node = index, size - 1, _merkle_leaf(hash_)
    for offset in range(0, len(raw), 32):
        sibling = raw[offset : offset + 32]
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = _merkle_node(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = _merkle_node(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


BATCH_ROOT_PREFIX = b"mekong-batch-root:"


def sign_batch(events: list, key_id: str, private_key: Ed25519PrivateKey) -> tuple[list, bytes]:
    """Signs ``events`` as one batch (docs/gateway.md, "Signed batches"): each gets ``signingkey``, the one
    signature over ``mekong-batch-root:`` + the Merkle root of the events' signing hashes, and its
    ``signatureproof``. Returns the signed events and the root."""
    unsigned = []
    for event in events:
        copy_ = {k: v for k, v in copy.deepcopy(event).items() if k not in ("signature", "signatureproof", "recordedtime")}
        copy_["signingkey"] = key_id
        unsigned.append(copy_)
    root, paths = merkle_root_and_paths([hashlib.sha256(_signing_bytes(event)).digest() for event in unsigned])
    signature = _b64(private_key.sign(BATCH_ROOT_PREFIX + root))
    for index, (event, path) in enumerate(zip(unsigned, paths)):
        event["signature"] = signature
        event["signatureproof"] = f"{index}/{len(unsigned)}:" + _b64(b"".join(path))
    return unsigned, root


def sign_event(event: dict, key_id: str, private_key: Ed25519PrivateKey) -> dict:
    """A signed copy of ``event``: ``signingkey`` = key_id, ``recordedtime`` dropped (the gateway sets it),
    ``signature`` = base64(Ed25519 of the canonical JSON without ``signature`` and ``recordedtime``)."""
    signed = copy.deepcopy(event)
    signed.pop("recordedtime", None)
    signed.pop("signature", None)
    signed["signingkey"] = key_id
    signed["signature"] = _b64(private_key.sign(_signing_bytes(signed)))
    return signed


def verify_event(event: dict, public_key: Ed25519PublicKey) -> bool:
    """Whether ``event['signature']`` is ``public_key``'s signature of the event's signing form."""
    try:
        signature = _b64decode(event.get("signature"), "signature", 64)
        public_key.verify(signature, _signing_bytes(event))
        return True
    except (InvalidSignature, ValueError):
        return False


def event_hash(event: dict) -> str:
    """Hex SHA-256 of the canonical JSON of the event as submitted: with ``signature``, ``signatureproof`` and
    ``signingkey``, without ``recordedtime``."""
    submitted = {key: value for key, value in event.items() if key != "recordedtime"}
    return hashlib.sha256(canonical_json(submitted)).hexdigest()


def request_hash(body: bytes) -> str:
    """Hex SHA-256 of the HTTP body bytes (a receipt's ``requestHash``)."""
    return hashlib.sha256(body).hexdigest()


def sign_body(body: bytes, private_key: Ed25519PrivateKey) -> str:
    """The ``Mekong-Signature`` header value: base64(Ed25519 over the 32-byte SHA-256 digest of the body)."""
    return _b64(private_key.sign(hashlib.sha256(body).digest()))


def verify_receipt(receipt: dict, gateway_public_key_b64: str) -> bool:
    """Whether the receipt's ``signature`` is the gateway key's Ed25519 signature of the canonical JSON of
    the receipt without ``signature`` and ``event`` (an event the gateway built rides beside its receipt,
    bound by ``eventHash`` rather than by the signature)."""
    try:
        public_key = Ed25519PublicKey.from_public_bytes(_b64decode(gateway_public_key_b64, "gateway key", 32))
        signature = _b64decode(receipt.get("signature"), "receipt signature", 64)
        unsigned = {key: value for key, value in receipt.items() if key not in ("signature", "event")}
        public_key.verify(signature, canonical_json(unsigned))
        return True
    except (InvalidSignature, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------------------------------------------------------
# UUIDv7
# ---------------------------------------------------------------------------------------------------------------

_uuid_lock = threading.Lock()
_uuid_state = [0, 0, 0]  # milliseconds, rand_a (12 bits), rand_b (62 bits)


def new_uuid7() -> str:
    """A new lowercase RFC 9562 version-7 UUID: 48-bit Unix milliseconds, version 7, 12 + 62 random bits,
    variant 0b10. Ids from one process strictly increase (RFC 9562 §6.2 method 2: within a millisecond,
    or if the clock steps back, the previous random part is incremented)."""
    now = time.time_ns() // 1_000_000
    with _uuid_lock:
        milliseconds, rand_a, rand_b = _uuid_state
        if now > milliseconds:
            milliseconds = now
            rand_a = secrets.randbits(11)  # top bit clear: room to increment within the millisecond
            rand_b = secrets.randbits(62)
        elif rand_b < (1 << 62) - 1:
            rand_b += 1
        elif rand_a < 0xFFF:
            rand_a, rand_b = rand_a + 1, 0
        else:
            milliseconds, rand_a, rand_b = milliseconds + 1, 0, 0
        _uuid_state[:] = [milliseconds, rand_a, rand_b]
    value = (
        (milliseconds & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# ---------------------------------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------------------------------


class GatewayError(Exception):
    """The gateway refused a request (or kept answering 429/503). ``problem`` is the RFC 9457 body if any."""

    def __init__(self, message: str, status: Optional[int] = None, problem: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.problem = problem


def _retry_delay(response: Optional[requests.Response], attempt: int, max_delay: float) -> float:
    header = response.headers.get("Retry-After") if response is not None else None
    if header:
        header = header.strip()
        if header.isdigit():
            return min(float(header), max_delay)
        try:
            when = email.utils.parsedate_to_datetime(header)
            if when.tzinfo is None:
                when = when.replace(tzinfo=_dt.timezone.utc)
            return min(max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds()), max_delay)
        except (TypeError, ValueError):
            pass
    return min(2.0 ** (attempt - 1), max_delay)  # no (usable) Retry-After: back off 1, 2, 4… s


def _problem_message(response: requests.Response) -> tuple[str, Optional[dict]]:
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}", None
    if not isinstance(problem, dict):
        return f"HTTP {response.status_code}: {response.text[:500]}", None
    parts = [f"HTTP {response.status_code}"]
    if problem.get("code"):
        parts.append(str(problem["code"]))
    if problem.get("detail") or problem.get("title"):
        parts.append(str(problem.get("detail") or problem.get("title")))
    for conflict in (problem.get("conflicts") or [])[:10]:
        if isinstance(conflict, dict):
            parts.append(
                "[#{index} {pointer} {code}: {message}]".format(
                    **{k: conflict.get(k, "") for k in ("index", "pointer", "code", "message")}
                )
            )
    return " ".join(parts), problem


def post_with_retry(
    session: requests.Session,
    url: str,
    body: bytes,
    headers: dict,
    *,
    max_attempts: int = 8,
    max_delay: float = 60.0,
    timeout: float = 30.0,
    sleep=time.sleep,
) -> requests.Response:
    """POSTs ``body``; on 429 or 503 (and on connection errors or timeouts) waits ``Retry-After`` and sends
    the very same bytes again, which the gateway's idempotency (same event id, same hash) makes safe.
    Returns the first other response; raises ``GatewayError`` once ``max_attempts`` are spent."""
    last = "no attempt"
    for attempt in range(1, max_attempts + 1):
        response = None
        try:
            response = session.post(url, data=body, headers=headers, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if response.status_code not in (429, 503):
                return response
            last, _ = _problem_message(response)
        if attempt < max_attempts:
            sleep(_retry_delay(response, attempt, max_delay))
    raise GatewayError(f"gave up after {max_attempts} attempts: {last}", getattr(response, "status_code", None))


def _auth_headers(api_key: str) -> dict:
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json, application/problem+json"}


def publish(
    base_url: str,
    api_key: str,
    events: list,
    batch: bool = True,
    *,
    batch_size: int = 100,
    session: Optional[requests.Session] = None,
    max_attempts: int = 8,
    timeout: float = 30.0,
    sleep=time.sleep,
    request_hashes: Optional[list] = None,
) -> list:
    """Publishes signed events to ``base_url`` + /v1/events and returns their receipts, in event order.

    ``batch=True`` sends ``application/cloudevents-batch+json`` arrays of up to ``batch_size`` events
    (all-or-nothing: a refused batch raises ``GatewayError`` with the conflicts); ``batch=False`` sends
    each event as ``application/cloudevents+json`` (201 new, 200 idempotent replay). 429 and 503 are
    retried with the same bytes after ``Retry-After``. If ``request_hashes`` is a list, the hex SHA-256 of
    the body that carried each event is appended to it (to compare with the receipts' ``requestHash``).
    """
    own_session = session is None
    session = session or requests.Session()
    url = base_url.rstrip("/") + EVENTS_PATH
    receipts: list = []
    try:
        if batch:
            if batch_size < 1:
                raise ValueError("batch_size must be at least 1")
            for start in range(0, len(events), batch_size):
                chunk = events[start : start + batch_size]
                body = encode_body(chunk)
                headers = dict(_auth_headers(api_key), **{"Content-Type": "application/cloudevents-batch+json"})
                response = post_with_retry(
                    session, url, body, headers, max_attempts=max_attempts, timeout=timeout, sleep=sleep
                )
                if response.status_code != 200:
                    message, problem = _problem_message(response)
                    raise GatewayError(
                        f"batch of events {start}..{start + len(chunk) - 1} refused: {message}",
                        response.status_code,
                        problem,
                    )
                summary = response.json()
                documents = summary.get("receipts") or []
                if isinstance(summary.get("batchReceipt"), dict):
                    # A signed batch: one receipt; each event's evidence is its placement with it.
                    documents = [dict(placement, batchReceipt=summary["batchReceipt"])
                                 for placement in summary.get("placements") or [] if isinstance(placement, dict)]
                by_id = {}
                for receipt in documents:
                    if isinstance(receipt, dict):
                        by_id[receipt.get("eventId")] = receipt
                missing = [event["id"] for event in chunk if event["id"] not in by_id]
                if missing or summary.get("status") != "accepted":
                    raise GatewayError(
                        f"batch of events {start}..{start + len(chunk) - 1}: status {summary.get('status')!r}, "
                        f"no receipt for {len(missing)} event(s) {missing[:3]}",
                        response.status_code,
                        summary,
                    )
                receipts.extend(by_id[event["id"]] for event in chunk)
                if request_hashes is not None:
                    request_hashes.extend([request_hash(body)] * len(chunk))
        else:
            for index, event in enumerate(events):
                body = encode_body(event)
                headers = dict(_auth_headers(api_key), **{"Content-Type": "application/cloudevents+json"})
                response = post_with_retry(
                    session, url, body, headers, max_attempts=max_attempts, timeout=timeout, sleep=sleep
                )
                if response.status_code not in (200, 201):
                    message, problem = _problem_message(response)
                    raise GatewayError(f"event {index} ({event.get('id')}) refused: {message}",
                                       response.status_code, problem)
                receipts.append(response.json())
                if request_hashes is not None:
                    request_hashes.append(request_hash(body))
    finally:
        if own_session:
            session.close()
    return receipts


def fetch_gateway_key(base_url: str, session: Optional[requests.Session] = None, timeout: float = 30.0) -> dict:
    """GET /v1/gateway-key (no auth): the gateway's ``.pub`` JSON."""
    getter = session.get if session is not None else requests.get
    response = getter(base_url.rstrip("/") + GATEWAY_KEY_PATH, timeout=timeout)
    if response.status_code != 200:
        message, problem = _problem_message(response)
        raise GatewayError(f"GET {GATEWAY_KEY_PATH}: {message}", response.status_code, problem)
    key = response.json()
    load_public_key(key)  # validates algorithm, keyId and the 32 key bytes
    return key


def check_inclusion(inclusion: dict, event: dict, gateway_key: dict, body_hash: Optional[str] = None) -> list:
    """The problems found in one event's evidence from a signed batch (its placement with the batch receipt):
    the gateway's signature over the batch receipt, the placement's proof into ``placementsRoot``, the event's
    id and hash, its ``signatureproof`` into ``batchRoot`` and, if given, the request hash."""
    batch = inclusion.get("batchReceipt")
    if not isinstance(batch, dict):
        return ["no batchReceipt"]
    problems = []
    if not verify_receipt(batch, gateway_key["publicKey"]) or batch.get("gatewayKey") != gateway_key["keyId"]:
        problems.append("batch receipt signature does not verify with the gateway key")
    placement = {key: inclusion.get(key) for key in ("eventId", "eventHash", "topic", "partition", "offset")}
    proof = str(inclusion.get("proof", ""))
    leaf = hashlib.sha256(canonical_json(placement)).digest()
    if not proof.split(":")[0].endswith(f"/{batch.get('count')}") or \
            root_from_proof(leaf, proof) != bytes.fromhex(str(batch.get("placementsRoot", ""))):
        problems.append("the placement's proof does not lead to placementsRoot")
    if inclusion.get("eventId") != event.get("id"):
        problems.append(f"eventId {inclusion.get('eventId')!r} is not {event.get('id')!r}")
    if inclusion.get("eventHash") != event_hash(event):
        problems.append("eventHash differs from the local event hash")
    own = root_from_proof(hashlib.sha256(_signing_bytes(event)).digest(), str(event.get("signatureproof", "0/0:")))
    if own is None or own.hex() != batch.get("batchRoot"):
        problems.append("the event's signatureproof does not lead to the receipt's batchRoot")
    if body_hash is not None and batch.get("requestHash") != body_hash:
        problems.append(f"requestHash {batch.get('requestHash')!r} is not SHA-256 of the body sent {body_hash}")
    return problems


def check_receipt(receipt: Any, event: dict, gateway_key: dict, body_hash: Optional[str] = None) -> list:
    """The problems found in one receipt for one submitted event (empty when it checks out): the gateway's
    signature, the gateway key id, the event id, the event hash and, if given, the request hash. For an event
    of a signed batch, ``check_inclusion``."""
    if not isinstance(receipt, dict):
        return [f"receipt is not a JSON object: {receipt!r}"]
    if "batchReceipt" in receipt:
        return check_inclusion(receipt, event, gateway_key, body_hash)
    problems = []
    if not verify_receipt(receipt, gateway_key["publicKey"]):
        problems.append("receipt signature does not verify with the gateway key")
    if receipt.get("gatewayKey") != gateway_key["keyId"]:
        problems.append(f"gatewayKey {receipt.get('gatewayKey')!r} is not {gateway_key['keyId']!r}")
    if receipt.get("receiptVersion") != 1:
        problems.append(f"receiptVersion {receipt.get('receiptVersion')!r} is not 1")
    if receipt.get("eventId") != event.get("id"):
        problems.append(f"eventId {receipt.get('eventId')!r} is not {event.get('id')!r}")
    local = event_hash(event)
    if receipt.get("eventHash") != local:
        problems.append(f"eventHash {receipt.get('eventHash')!r} differs from the local event hash {local}")
    if body_hash is not None and receipt.get("requestHash") != body_hash:
        problems.append(f"requestHash {receipt.get('requestHash')!r} is not SHA-256 of the body sent {body_hash}")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def build_report_events(
    *,
    source_uri: str,
    reporting_unit: str,
    period: str,
    count: int,
    form: str = "BC-DS",
    indicator: str = "RETAIL.SALES",
    area: str = "01",
    value: float = 12.5,
    unit_multiplier: Optional[int] = None,
    first_revision: int = 1,
    now: Optional[_dt.datetime] = None,
) -> list:
    """``count`` unsigned ``vn.gso.report.submitted`` v2 events for one unit, form and period: revisions
    ``first_revision``, ``first_revision + 1``… each superseding the previous, one observation each
    (value, value + 1…)."""
    moment = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone()
    timestamp = moment.isoformat(timespec="milliseconds")  # RFC 3339 with the local offset
    events: list = []
    for index in range(count):
        observation = {
            "indicator": indicator,
            "dimensions": {"area": area},
            "value": value + index,
            "status": "normal",
            "confidentiality": "free",
        }
        if unit_multiplier is not None:
            observation["unitMultiplier"] = unit_multiplier
        data = {
            "reportingUnit": reporting_unit,
            "form": form,
            "period": period,
            "action": "merge",
            "revision": first_revision + index,
            "observations": [observation],
        }
        if events:
            data["supersedes"] = events[-1]["id"]
        events.append(
            {
                "specversion": "1.0",
                "id": new_uuid7(),
                "source": source_uri,
                "type": REPORT_TYPE,
                "time": timestamp,
                "subject": f"{reporting_unit}/{form}/{period}",
                "datacontenttype": "application/json",
                "dataschema": REPORT_SCHEMA_V2,
                "data": data,
            }
        )
    return events


def _command_publish(args: argparse.Namespace) -> int:
    with open(args.api_key_file, encoding="utf-8") as handle:
        api_key = handle.read().strip()
    if not api_key:
        print(f"error: {args.api_key_file} is empty", file=sys.stderr)
        return 2
    key_id, private_key = load_key(args.key)
    events = build_report_events(
        source_uri=args.source_uri,
        reporting_unit=args.reporting_unit,
        period=args.period,
        count=args.count,
        form=args.form,
        indicator=args.indicator,
        area=args.area,
        value=args.value,
        unit_multiplier=args.unit_multiplier,
        first_revision=args.revision,
    )
    if args.sign_batches:
        signed = []
        for start in range(0, len(events), args.batch_size):
            signed.extend(sign_batch(events[start : start + args.batch_size], key_id, private_key)[0])
    else:
        signed = [sign_event(event, key_id, private_key) for event in events]

    with requests.Session() as session:
        gateway_key = fetch_gateway_key(args.url, session, timeout=args.timeout)
        body_hashes: list = []
        receipts = publish(
            args.url,
            api_key,
            signed,
            batch=not args.one_by_one,
            batch_size=args.batch_size,
            session=session,
            max_attempts=args.max_attempts,
            timeout=args.timeout,
            request_hashes=body_hashes,
        )

    failures = 0
    for index, (event, receipt, body_hash) in enumerate(zip(signed, receipts, body_hashes)):
        problems = check_receipt(receipt, event, gateway_key, None if args.no_request_hash_check else body_hash)
        for problem in problems:
            print(f"event {index} {event['id']}: {problem}", file=sys.stderr)
        failures += bool(problems)
    if args.receipts:
        with open(args.receipts, "w", encoding="utf-8") as handle:
            for receipt in receipts:
                handle.write(json.dumps(receipt, ensure_ascii=False, separators=(",", ":")) + "\n")
    verified = len(signed) - failures
    places = sorted({(r.get("topic"), r.get("partition")) for r in receipts if isinstance(r, dict)}, key=str)
    where = ", ".join(f"{topic}/{partition}" for topic, partition in places)
    mode = "one by one" if args.one_by_one else f"batches of <= {args.batch_size}"
    if args.sign_batches:
        mode += ", each signed once"
    status = "OK" if failures == 0 else "FAILED"
    print(
        f"{status}: {len(signed)} event(s) published to {args.url} ({mode}) signed by {key_id}; "
        f"{verified}/{len(signed)} receipt(s) verified with gateway key {gateway_key['keyId']} ({where})"
    )
    return 0 if failures == 0 else 1


def _command_keygen(args: argparse.Namespace) -> int:
    private_path, public_path = generate_key(args.id, args.out)
    _, public = load_public_key(public_path)
    print(f"wrote {private_path} (mode 0600) and {public_path}; public key {public_key_b64(public)}")
    return 0


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="mekong_client.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    publish_parser = commands.add_parser("publish", help="sign and publish vn.gso.report.submitted v2 events")
    publish_parser.add_argument("--url", required=True, help="gateway base URL, e.g. http://localhost:8080")
    publish_parser.add_argument("--api-key-file", required=True, help="file holding the source's API key")
    publish_parser.add_argument("--key", required=True, help="the source's KEYID.key file")
    publish_parser.add_argument("--source-uri", required=True, help="the source's registered URI (event source)")
    publish_parser.add_argument("--reporting-unit", required=True)
    publish_parser.add_argument("--period", required=True, help="2025, 2025-H1, 2025-Q3 or 2025-M07")
    publish_parser.add_argument("--count", type=int, default=1, help="number of events (default 1)")
    publish_parser.add_argument("--receipts", help="write the receipts here as JSON lines")
    publish_parser.add_argument("--indicator", default="RETAIL.SALES")
    publish_parser.add_argument("--area", default="01", help="administrative unit code (default 01)")
    publish_parser.add_argument("--form", default="BC-DS", help="report form code (default BC-DS)")
    publish_parser.add_argument("--value", type=float, default=12.5, help="first observation value (default 12.5)")
    publish_parser.add_argument("--unit-multiplier", type=int, choices=range(0, 13), metavar="0..12")
    publish_parser.add_argument("--revision", type=int, default=1, help="revision of the first event (default 1)")
    publish_parser.add_argument("--one-by-one", action="store_true",
                                help="POST each event as application/cloudevents+json instead of batches")
    publish_parser.add_argument("--batch-size", type=int, default=100, help="events per batch (default 100)")
    publish_parser.add_argument("--sign-batches", action="store_true",
                                help="sign each batch once (its Merkle root) instead of each event")
    publish_parser.add_argument("--max-attempts", type=int, default=8, help="attempts per request on 429/503")
    publish_parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds")
    publish_parser.add_argument("--no-request-hash-check", action="store_true",
                                help="do not require receipts' requestHash = SHA-256 of the body sent")
    publish_parser.set_defaults(handler=_command_publish)

    keygen_parser = commands.add_parser("keygen", help="write KEYID.key (0600) and KEYID.pub")
    keygen_parser.add_argument("--id", required=True, help="key id")
    keygen_parser.add_argument("--out", required=True, help="directory")
    keygen_parser.set_defaults(handler=_command_keygen)

    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "publish" and args.count < 1:
        parser.error("--count must be at least 1")
    try:
        return args.handler(args)
    except GatewayError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError, requests.RequestException) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

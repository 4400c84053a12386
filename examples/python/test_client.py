#!/usr/bin/env python3
"""Self-test of mekong_client.py: `python3 test_client.py` (unittest only).

The canonical-JSON vectors are those of Tests/MekongEventsTests/CanonicalJSONTests.swift (RFC 8785
Appendix B and §3.2.2/§3.2.3, plus ECMAScript number forms), so the Swift and Python implementations
are held to the same cases. The publishing tests run the CLI against a small in-process fake gateway
that checks signatures and answers signed receipts the way docs/gateway-contract.md describes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import stat
import struct
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mekong_client as mc  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EXAMPLE_V2 = os.path.join(REPO, "Topics", "examples", "vn.gso.report.submitted.v2.json")


def canon(value) -> str:
    return mc.canonical_json(value).decode("utf-8")


def double(bits: int) -> float:
    return struct.unpack(">d", bits.to_bytes(8, "big"))[0]


class CanonicalNumbers(unittest.TestCase):
    # RFC 8785 Appendix B, plus the examples of §3.2.2.3 (same list as CanonicalJSONTests.appendixBNumbers).
    APPENDIX_B = [
        (0x0000_0000_0000_0000, "0"), (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"), (0x8000_0000_0000_0001, "-5e-324"),
        (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"), (0xFFEF_FFFF_FFFF_FFFF, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"), (0xC340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44B5_2D02_C7E1_4AF5, "9.999999999999997e+22"), (0x44B5_2D02_C7E1_4AF6, "1e+23"),
        (0x44B5_2D02_C7E1_4AF7, "1.0000000000000001e+23"),
        (0x444B_1AE4_D6E2_EF4E, "999999999999999700000"), (0x444B_1AE4_D6E2_EF4F, "999999999999999900000"),
        (0x444B_1AE4_D6E2_EF50, "1e+21"),
        (0x3EB0_C6F7_A0B5_ED8C, "9.999999999999997e-7"), (0x3EB0_C6F7_A0B5_ED8D, "0.000001"),
        (0x41B3_DE43_5555_5553, "333333333.3333332"), (0x41B3_DE43_5555_5554, "333333333.33333325"),
        (0x41B3_DE43_5555_5555, "333333333.3333333"), (0x41B3_DE43_5555_5556, "333333333.3333334"),
        (0x41B3_DE43_5555_5557, "333333333.33333343"),
        (0xBECB_F647_612F_3696, "-0.0000033333333333333333"),
        (0x4314_3FF3_C1CB_0959, "1424953923781206.2"),
    ]

    # CanonicalJSONTests.ecmaScriptNumberForms.
    ECMASCRIPT_FORMS = [
        (1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001"), (1.2345678901234568e20, "123456789012345680000"),
        (4.5, "4.5"), (2e-3, "0.002"), (-0.0, "0"), (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (1e30, "1e+30"), (1e-27, "1e-27"),
        (100, "100"), (-1.5, "-1.5"), (0.1, "0.1"), (123e-20, "1.23e-18"), (1e20, "100000000000000000000"),
        (12.34e20, "1.234e+21"), (1.5e-6, "0.0000015"), (-1e-7, "-1e-7"),
        (9_007_199_254_740_994, "9007199254740994"),
    ]

    def test_appendix_b(self):
        for bits, expected in self.APPENDIX_B:
            with self.subTest(bits=hex(bits)):
                self.assertEqual(canon(double(bits)), expected)

    def test_ecmascript_forms(self):
        for value, expected in self.ECMASCRIPT_FORMS:
            with self.subTest(value=value):
                self.assertEqual(canon(value), expected)
                self.assertEqual(canon(float(value)), expected)

    def test_brief_cases(self):
        cases = [
            (1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001"),
            (123456789012345680000, "123456789012345680000"),  # a Python int beyond 2^53: rounded to a double
            (-0.0, "0"), (4.5, "4.5"), (2**53, "9007199254740992"), (float(2**53), "9007199254740992"),
            (-(2**53), "-9007199254740992"), (0, "0"), (-7, "-7"), (1.0, "1"), (0.5, "0.5"),
            (float(2**60), "1152921504606847000"), (1e-6, "0.000001"), (1.5e-7, "1.5e-7"),
        ]
        for value, expected in cases:
            with self.subTest(value=value):
                self.assertEqual(canon(value), expected)

    def test_non_finite_numbers_are_refused(self):
        # The Swift writer turns non-finite doubles into null (its parser never produces them); this client
        # refuses them so they never get signed.
        for value in (float("nan"), float("inf"), float("-inf"), [1, float("nan")], {"a": float("inf")}):
            with self.subTest(value=value):
                with self.assertRaises(ValueError):
                    mc.canonical_json(value)

    def test_booleans_are_not_numbers(self):
        self.assertEqual(canon([True, False, None, 1, 0]), "[true,false,null,1,0]")


class CanonicalStructure(unittest.TestCase):
    def test_rfc_serialization_example(self):
        # RFC 8785 §3.2.2: input text parsed, then canonicalised.
        text = r"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """
        expected = r'''{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}'''
        self.assertEqual(canon(json.loads(text)), expected)

    def test_rfc_sorting_example(self):
        # RFC 8785 §3.2.3: keys sorted by UTF-16 code units, so U+1F600 (D83D DE00) sorts before U+FB33.
        text = r"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """
        canonical = canon(json.loads(text))
        reparsed = json.loads(canonical, object_pairs_hook=list)
        self.assertEqual(
            [value for _, value in reparsed],
            [
                "Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign",
                "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh",
            ],
        )
        self.assertTrue(canonical.startswith('{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":'))

    def test_key_order_compares_utf16_code_units(self):
        # CanonicalJSONTests.keyOrderComparesUTF16CodeUnits, as orderings of two keys.
        def first(a, b):
            return next(iter(json.loads(canon({a: 0, b: 1}), object_pairs_hook=list)))[0]

        self.assertEqual(first("b", "a"), "a")
        self.assertEqual(first("aa", "a"), "a")
        self.assertEqual(first("a", "Z"), "Z")
        self.assertEqual(first("é", "z"), "z")
        self.assertEqual(first("\ufb33", "\U0001F600"), "\U0001F600")  # code point order says the opposite
        mixed = {"é": 1, "z": 2, "Z": 3, "\U0001F600": 4, "\ufb33": 5, "\u00e9t\u00e9": 6, "Đà Nẵng": 7, "": 8}
        self.assertEqual(
            canon(mixed), '{"":8,"Z":3,"z":2,"é":1,"été":6,"Đà Nẵng":7,"\U0001F600":4,"\ufb33":5}'
        )

    def test_strings_escape_only_quote_backslash_and_controls(self):
        text = '"\\/\x08\x09\x0a\x0c\x0d\x00\x1f\x7fé€\U0001F600'
        self.assertEqual(
            mc.canonical_json(text),
            b'"\\"\\\\/\\b\\t\\n\\f\\r\\u0000\\u001f' + "\x7fé€\U0001F600".encode("utf-8") + b'"',
        )
        self.assertEqual(canon("\x01\x0b\x1a"), '"\\u0001\\u000b\\u001a"')  # lowercase hex

    def test_nested_objects_are_sorted_and_compact(self):
        value = json.loads('{ "b": [ {"y": 1, "x": 2} ], "a": { "d": null, "c": "" } }')
        self.assertEqual(canon(value), '{"a":{"c":"","d":null},"b":[{"x":2,"y":1}]}')

    def test_canonical_form_is_a_fixed_point(self):
        value = json.loads('{"n": [1.0, 1e2, -0, 0.50], "s": "\\u00e9", "o": {"b": 1, "a": 2}}')
        once = mc.canonical_json(value)
        self.assertEqual(mc.canonical_json(json.loads(once)), once)
        self.assertEqual(once.decode("utf-8"), '{"n":[1,100,0,0.5],"o":{"a":2,"b":1},"s":"é"}')

    def test_semantically_equal_json_hashes_equally(self):
        # EventHashTests.semanticallyEqualJSONHashesEqually.
        compact = '{"a":1,"b":[true,{"d":"x","c":null}],"e":0.5}'
        spaced = '{\n "e" : 5e-1,\n "b" : [ true , { "c" : null , "d" : "\\u0078" } ],\n "a" : 1.0\n}'
        self.assertEqual(mc.canonical_json(json.loads(compact)), mc.canonical_json(json.loads(spaced)))
        different = '{"a":1,"b":[true,{"d":"x","c":null}],"e":0.25}'
        self.assertNotEqual(mc.canonical_json(json.loads(compact)), mc.canonical_json(json.loads(different)))

    def test_refuses_what_is_not_json(self):
        for value in ({1: "x"}, {"a": {1, 2}}, b"bytes", "\ud800", {"\udc00": 1}):
            with self.subTest(value=value):
                with self.assertRaises(ValueError):
                    mc.canonical_json(value)

    def test_wire_body_refuses_inexact_integers(self):
        # The gateway's parser refuses integer literals beyond ±2^53 (I-JSON): refuse them before sending.
        with self.assertRaises(ValueError):
            mc.encode_body({"data": {"value": 2**53 + 1}})
        with self.assertRaises(ValueError):
            mc.encode_body([float("nan")])
        # Large doubles go out in repr form, which parses back to the same double and canonical form.
        body = mc.encode_body({"v": float(2**60), "w": 1e-7, "s": "Hà Nội"})
        self.assertEqual(body, '{"v":1.152921504606847e+18,"w":1e-07,"s":"Hà Nội"}'.encode("utf-8"))
        self.assertEqual(canon(json.loads(body)), '{"s":"Hà Nội","v":1152921504606847000,"w":1e-7}')


class KeysAndSignatures(unittest.TestCase):
    # RFC 8032 §7.1 TEST 1: proves the seed is loaded as Ed25519 expects.
    RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    RFC8032_SIGNATURE = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f"
        "0595bbe24655141438e7a100b"
    )

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)

    def write_key(self, key_id, seed, public=None):
        path = os.path.join(self.directory.name, key_id + ".key")
        obj = {"algorithm": "Ed25519", "keyId": key_id, "privateKey": base64.b64encode(seed).decode()}
        if public is not None:
            obj["publicKey"] = base64.b64encode(public).decode()
        with open(path, "w") as handle:
            json.dump(obj, handle)
        return path

    def test_key_file_loads_rfc8032_seed(self):
        key_id, key = mc.load_key(self.write_key("rfc8032", self.RFC8032_SEED, self.RFC8032_PUBLIC))
        self.assertEqual(key_id, "rfc8032")
        self.assertEqual(mc.public_key_b64(key), base64.b64encode(self.RFC8032_PUBLIC).decode())
        self.assertEqual(key.sign(b""), self.RFC8032_SIGNATURE)

    def test_key_file_mismatch_and_garbage_are_refused(self):
        with self.assertRaises(ValueError):
            mc.load_key(self.write_key("wrong-pub", self.RFC8032_SEED, bytes(32)))
        with self.assertRaises(ValueError):
            mc.load_key(self.write_key("short", self.RFC8032_SEED[:31]))
        path = os.path.join(self.directory.name, "rsa.key")
        with open(path, "w") as handle:
            json.dump({"algorithm": "RSA", "keyId": "rsa", "privateKey": "AAAA"}, handle)
        with self.assertRaises(ValueError):
            mc.load_key(path)

    def test_generate_key_writes_both_files(self):
        out = os.path.join(self.directory.name, "keys")
        private_path, public_path = mc.generate_key("gso-hanoi-2026", out)
        self.assertEqual(private_path, os.path.join(out, "gso-hanoi-2026.key"))
        self.assertEqual(stat.S_IMODE(os.stat(private_path).st_mode), 0o600)
        with open(private_path) as handle:
            private_obj = json.load(handle)
        with open(public_path) as handle:
            public_obj = json.load(handle)
        self.assertEqual(list(private_obj), ["algorithm", "keyId", "privateKey", "publicKey"])
        self.assertEqual(public_obj, {k: private_obj[k] for k in ("algorithm", "keyId", "publicKey")})
        self.assertEqual(len(base64.b64decode(private_obj["privateKey"])), 32)
        key_id, key = mc.load_key(private_path)
        self.assertEqual(key_id, "gso-hanoi-2026")
        self.assertEqual(mc.load_public_key(public_path)[0], "gso-hanoi-2026")
        with self.assertRaises(FileExistsError):
            mc.generate_key("gso-hanoi-2026", out)
        with self.assertRaises(ValueError):
            mc.generate_key("../escape", out)

    def example_event(self):
        with open(EXAMPLE_V2, encoding="utf-8") as handle:
            return json.load(handle)

    def test_sign_event_round_trip(self):
        key = Ed25519PrivateKey.from_private_bytes(self.RFC8032_SEED)
        event = self.example_event()
        event["recordedtime"] = "2026-11-25T03:00:00Z"
        event["signature"] = "old"
        signed = mc.sign_event(event, "rfc8032", key)
        self.assertNotIn("recordedtime", signed)
        self.assertEqual(signed["signingkey"], "rfc8032")
        self.assertEqual(event["signature"], "old")  # the input is not modified
        self.assertEqual(len(base64.b64decode(signed["signature"], validate=True)), 64)
        public = key.public_key()
        self.assertTrue(mc.verify_event(signed, public))
        # The signature covers the canonical JSON without signature and recordedtime.
        unsigned = {k: v for k, v in signed.items() if k != "signature"}
        public.verify(base64.b64decode(signed["signature"]), mc.canonical_json(unsigned))
        # The gateway adds recordedtime afterwards; the signature and the event hash still hold.
        recorded = dict(signed, recordedtime="2026-11-25T03:00:00.123456Z")
        self.assertTrue(mc.verify_event(recorded, public))
        self.assertEqual(mc.event_hash(recorded), mc.event_hash(signed))
        # Re-serialising with other whitespace and key order changes nothing.
        reparsed = json.loads(json.dumps(signed, indent=3, ensure_ascii=True, sort_keys=True))
        self.assertTrue(mc.verify_event(reparsed, public))
        # Any change breaks it.
        tampered = json.loads(json.dumps(signed))
        tampered["data"]["observations"][0]["value"] = 8866.236
        self.assertFalse(mc.verify_event(tampered, public))
        self.assertFalse(mc.verify_event(dict(signed, signingkey="other"), public))
        self.assertFalse(mc.verify_event(dict(signed, signature="!!"), public))
        other = Ed25519PrivateKey.generate().public_key()
        self.assertFalse(mc.verify_event(signed, other))

    def test_event_hash_covers_signature_and_signing_key(self):
        key = Ed25519PrivateKey.from_private_bytes(self.RFC8032_SEED)
        signed = mc.sign_event(self.example_event(), "rfc8032", key)
        self.assertEqual(mc.event_hash(signed), hashlib.sha256(mc.canonical_json(signed)).hexdigest())
        self.assertRegex(mc.event_hash(signed), r"^[0-9a-f]{64}$")
        self.assertNotEqual(mc.event_hash(signed), mc.event_hash(dict(signed, signature="b3RoZXI=")))

    def test_example_event_canonical_form(self):
        # The canonical JSON of the v2 example (Vietnamese text raw, keys sorted, 8866.235 and 774874 as is).
        canonical = canon(self.example_event())
        self.assertTrue(canonical.startswith('{"data":{"action":"merge","form":"BC-DS","observations":[{"comment":'
                                             '"Số liệu chính thức","confidentiality":"free","dimensions":'
                                             '{"area":"01"},"indicator":"POP.TOTAL","status":"normal",'
                                             '"unitMultiplier":3,"value":8866.235}'))
        self.assertTrue(canonical.endswith('"source":"urn:vn:gso:province:01","specversion":"1.0",'
                                           '"subject":"CTK01/BC-DS/2025-Q3","time":"2025-10-30T08:00:00+07:00",'
                                           '"type":"vn.gso.report.submitted"}'))

    def test_sign_body_signs_the_digest(self):
        key = Ed25519PrivateKey.from_private_bytes(self.RFC8032_SEED)
        body = b'{"submissionId":"HN-2025-10-RETAIL-1"}'
        signature = mc.sign_body(body, key)
        key.public_key().verify(base64.b64decode(signature), hashlib.sha256(body).digest())
        self.assertEqual(mc.request_hash(body), hashlib.sha256(body).hexdigest())

    def test_verify_receipt(self):
        gateway = Ed25519PrivateKey.generate()
        receipt = {
            "receiptVersion": 1, "eventId": mc.new_uuid7(), "eventHash": "ab" * 32, "requestHash": "cd" * 32,
            "topic": "reports", "partition": 0, "offset": 41, "recordedTime": "2026-11-25T03:00:00.123456Z",
            "source": "gso-hanoi", "gatewayKey": "gateway-2026",
        }
        receipt["signature"] = base64.b64encode(gateway.sign(mc.canonical_json(receipt))).decode()
        public = mc.public_key_b64(gateway)
        self.assertTrue(mc.verify_receipt(receipt, public))
        self.assertTrue(mc.verify_receipt(json.loads(json.dumps(receipt, indent=2)), public))
        self.assertFalse(mc.verify_receipt(dict(receipt, offset=42), public))
        self.assertFalse(mc.verify_receipt(dict(receipt, signature="not base64!"), public))
        self.assertFalse(mc.verify_receipt({k: v for k, v in receipt.items() if k != "signature"}, public))
        self.assertFalse(mc.verify_receipt(receipt, mc.public_key_b64(Ed25519PrivateKey.generate())))
        self.assertFalse(mc.verify_receipt(receipt, "short"))
        # The event a gateway-built receipt carries is outside the signature (eventHash binds it).
        self.assertTrue(mc.verify_receipt(dict(receipt, event={"id": receipt["eventId"]}), public))


class UUIDv7(unittest.TestCase):
    PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

    def test_format_order_and_time(self):
        import time

        before = time.time_ns() // 1_000_000
        ids = [mc.new_uuid7() for _ in range(2000)]
        after = time.time_ns() // 1_000_000
        for value in ids:
            self.assertRegex(value, self.PATTERN)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))
        milliseconds = int(ids[0].replace("-", "")[:12], 16)
        self.assertTrue(before <= milliseconds <= after + 1)


# ---------------------------------------------------------------------------------------------------------------
# A fake gateway: enough of docs/gateway-contract.md to exercise publish and the CLI end to end
# ---------------------------------------------------------------------------------------------------------------


class FakeGateway:
    def __init__(self, api_key, source_uri, source_keys, *, fail_first=0, tamper=False):
        self.api_key = api_key
        self.source_uri = source_uri
        self.source_keys = source_keys  # key id -> Ed25519PublicKey
        self.fail_first = fail_first  # answer this many POSTs with 503 + Retry-After: 0
        self.tamper = tamper
        self.gateway_key = Ed25519PrivateKey.generate()
        self.posts = []  # (content type, body)
        self.receipts = {}  # event id -> receipt
        self.offset = 0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, obj, content_type="application/json", headers=()):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/v1/gateway-key":
                    self.send(200, {"algorithm": "Ed25519", "keyId": "gateway-test",
                                    "publicKey": mc.public_key_b64(gateway.gateway_key)})
                else:
                    self.send(404, {"code": "not-found", "status": 404}, "application/problem+json")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with gateway.lock:
                    status, obj, headers = gateway.handle(self.path, self.headers, body)
                content_type = "application/json" if status < 400 else "application/problem+json"
                self.send(status, obj, content_type, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def problem(self, status, code, detail, conflicts=()):
        return status, {"type": f"https://mekong.gso.gov.vn/problems/{code}", "title": code, "status": status,
                        "detail": detail, "code": code, "conflicts": list(conflicts)}, ()

    def handle(self, path, headers, body):
        content_type = headers.get("Content-Type", "")
        self.posts.append((content_type, body))
        if path != "/v1/events":
            return self.problem(404, "not-found", path)
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.problem(401, "unauthenticated", "bad API key")
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503, {"code": "kafka-unavailable", "status": 503}, (("Retry-After", "0"),)
        try:
            document = json.loads(body, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        except ValueError as error:
            return self.problem(400, "invalid-json", str(error))
        if content_type == "application/cloudevents-batch+json":
            events, single = document, False
        elif content_type == "application/cloudevents+json":
            events, single = [document], True
        else:
            return self.problem(415, "unsupported-media-type", content_type)
        conflicts = []
        for index, event in enumerate(events):
            problem = self.check(event)
            if problem:
                conflicts.append({"index": index, "pointer": problem[0], "code": problem[1], "message": problem[2]})
        if conflicts:
            if single:
                return self.problem(422, conflicts[0]["code"], conflicts[0]["message"], conflicts)
            return 422, {"type": "https://mekong.gso.gov.vn/problems/batch-refused", "title": "batch-refused",
                         "status": 422, "code": "batch-refused", "accepted": 0, "ignored": 0, "refused": len(events),
                         "conflicts": conflicts, "receipts": []}, ()
        receipts, new = [], 0
        for event in events:
            receipt = self.receipts.get(event["id"])
            if receipt is None:
                new += 1
                receipt = {
                    "receiptVersion": 1, "eventId": event["id"], "eventHash": mc.event_hash(event),
                    "requestHash": hashlib.sha256(body).hexdigest(), "topic": "reports", "partition": 2,
                    "offset": self.offset, "recordedTime": "2026-11-25T03:00:00.123456Z", "source": "gso-hanoi",
                    "gatewayKey": "gateway-test",
                }
                self.offset += 1
                receipt["signature"] = base64.b64encode(
                    self.gateway_key.sign(mc.canonical_json(receipt))).decode()
                if self.tamper:
                    receipt = dict(receipt, offset=receipt["offset"] + 1000)
                self.receipts[event["id"]] = receipt
            receipts.append(receipt)
        if single:
            return (201 if new else 200), receipts[0], ()
        return 200, {"status": "accepted", "accepted": new, "ignored": len(events) - new, "refused": 0,
                     "conflicts": [], "receipts": receipts}, ()

    def check(self, event):
        if "recordedtime" in event:
            return "/recordedtime", "invalid-event", "recordedtime is set by the gateway"
        if event.get("source") != self.source_uri:
            return "/source", "out-of-scope", "source is not the registered URI"
        key = self.source_keys.get(event.get("signingkey"))
        if key is None:
            return "/signingkey", "unknown-signing-key", str(event.get("signingkey"))
        if not mc.verify_event(event, key):
            return "/signature", "invalid-signature", "signature does not verify"
        return None


class Publishing(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.key_path, self.pub_path = mc.generate_key("gso-hanoi-2026", self.directory.name)
        self.api_key_file = os.path.join(self.directory.name, "api-key")
        with open(self.api_key_file, "w") as handle:
            handle.write("mk_test_secret\n")
        self.source_uri = "urn:vn:gso:province:01"
        key_id, public = mc.load_public_key(self.pub_path)
        self.source_keys = {key_id: public}

    def gateway(self, **options):
        return FakeGateway("mk_test_secret", self.source_uri, self.source_keys, **options)

    def run_cli(self, gateway, *extra):
        receipts_path = os.path.join(self.directory.name, "receipts.jsonl")
        argv = ["publish", "--url", gateway.url, "--api-key-file", self.api_key_file, "--key", self.key_path,
                "--source-uri", self.source_uri, "--reporting-unit", "CTK01", "--period", "2025-M10",
                "--receipts", receipts_path, *extra]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = mc.main(argv)
        lines = []
        if os.path.exists(receipts_path):
            with open(receipts_path, encoding="utf-8") as handle:
                lines = [json.loads(line) for line in handle]
        return code, out.getvalue(), err.getvalue(), lines

    def test_cli_publishes_a_batch_and_verifies_receipts(self):
        with self.gateway(fail_first=1) as gateway:
            code, out, err, receipts = self.run_cli(gateway, "--count", "5", "--batch-size", "3")
        self.assertEqual(code, 0, out + err)
        self.assertEqual(out.count("\n"), 1)
        self.assertTrue(out.startswith("OK: 5 event(s)"), out)
        self.assertEqual(len(receipts), 5)
        # The 503 was retried with the very same bytes; then the second chunk.
        self.assertEqual(len(gateway.posts), 3)
        self.assertEqual(gateway.posts[0], gateway.posts[1])
        self.assertEqual({post[0] for post in gateway.posts}, {"application/cloudevents-batch+json"})
        events = json.loads(gateway.posts[1][1]) + json.loads(gateway.posts[2][1])
        self.assertEqual([r["eventId"] for r in receipts], [e["id"] for e in events])
        first, second = events[0], events[1]
        self.assertEqual(first["type"], "vn.gso.report.submitted")
        self.assertEqual(first["dataschema"], mc.REPORT_SCHEMA_V2)
        self.assertEqual(first["subject"], "CTK01/BC-DS/2025-M10")
        self.assertEqual(first["signingkey"], "gso-hanoi-2026")
        self.assertEqual(first["data"]["observations"][0]["indicator"], "RETAIL.SALES")
        self.assertEqual(first["data"]["observations"][0]["dimensions"], {"area": "01"})
        self.assertEqual((first["data"]["revision"], second["data"]["revision"]), (1, 2))
        self.assertEqual(second["data"]["supersedes"], first["id"])
        self.assertNotIn("supersedes", first["data"])

    def test_cli_publishes_one_by_one(self):
        with self.gateway(fail_first=2) as gateway:
            code, out, err, receipts = self.run_cli(
                gateway, "--count", "2", "--one-by-one", "--indicator", "POP.TOTAL", "--area", "79")
        self.assertEqual(code, 0, out + err)
        self.assertEqual(len(receipts), 2)
        self.assertEqual({post[0] for post in gateway.posts}, {"application/cloudevents+json"})
        self.assertEqual(len(gateway.posts), 4)
        self.assertEqual(json.loads(gateway.posts[-1][1])["data"]["observations"][0]["dimensions"]["area"], "79")

    def test_replay_returns_the_original_receipts(self):
        key_id, key = mc.load_key(self.key_path)
        events = [mc.sign_event(e, key_id, key) for e in mc.build_report_events(
            source_uri=self.source_uri, reporting_unit="CTK01", period="2025", count=2)]
        with self.gateway() as gateway:
            first = mc.publish(gateway.url, "mk_test_secret", events)
            again = mc.publish(gateway.url, "mk_test_secret", events, batch=False)
        self.assertEqual(first, again)

    def test_cli_fails_on_a_bad_receipt(self):
        with self.gateway(tamper=True) as gateway:
            code, out, err, receipts = self.run_cli(gateway, "--count", "2")
        self.assertEqual(code, 1)
        self.assertTrue(out.startswith("FAILED: 2 event(s)"), out)
        self.assertIn("receipt signature does not verify", err)
        self.assertEqual(len(receipts), 2)  # still written, for the record

    def test_cli_fails_on_a_refused_batch(self):
        self.source_keys.clear()  # the gateway does not know the signing key
        with self.gateway() as gateway:
            code, out, err, receipts = self.run_cli(gateway, "--count", "2")
        self.assertEqual(code, 1)
        self.assertIn("unknown-signing-key", err)
        self.assertEqual(receipts, [])

    def test_publish_gives_up_after_max_attempts(self):
        key_id, key = mc.load_key(self.key_path)
        events = [mc.sign_event(e, key_id, key) for e in mc.build_report_events(
            source_uri=self.source_uri, reporting_unit="CTK01", period="2025", count=1)]
        with self.gateway(fail_first=100) as gateway:
            with self.assertRaises(mc.GatewayError) as raised:
                mc.publish(gateway.url, "mk_test_secret", events, max_attempts=3, sleep=lambda s: None)
        self.assertIn("gave up after 3 attempts", str(raised.exception))
        self.assertEqual(len(gateway.posts), 3)

    def test_keygen_command(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = mc.main(["keygen", "--id", "cli-key", "--out", self.directory.name])
        self.assertEqual(code, 0)
        self.assertEqual(mc.load_key(os.path.join(self.directory.name, "cli-key.key"))[0], "cli-key")


if __name__ == "__main__":
    unittest.main(verbosity=1)

"""Schemathesis hooks for `ops/api-fuzz.sh` against the ingestion gateway.

- `application/x-ndjson` bodies (survey batches) are sent as the generated text; Schemathesis has no serializer.
- With API_FUZZ_SIGNING_KEY (a source's `.key` file) and API_FUZZ_SOURCE_URI (its registered URI) set, every
  generated request is signed as that source would sign it, so that it gets past the signature checks and reaches
  the deeper code (schemas, scope, master data, Kafka, receipts): each CloudEvent of `POST /v1/events` gets the
  source's URI, `signingkey` and a signature over its canonical JSON (and loses the `recordedtime` a source must
  not send); the bodies of `POST /v1/reports` and survey batches are serialized here and signed over their SHA-256
  (`Mekong-Signing-Key`, `Mekong-Signature`). Signing uses examples/python/mekong_client.py, the documented client.
- With API_FUZZ_SOURCE_ID, half of the reconciliation requests ask for that source (the others for whatever was
  generated: 403). With API_FUZZ_UNIT and API_FUZZ_AREA (a reporting unit and an area in the source's scope), half
  of the reports (plain bodies and report events) are moved into the scope, so that the master-data checks and
  the writes are reached as well as the scope refusals.
"""
import hashlib
import json
import os
import re
import sys

import schemathesis
from requests.compat import json as _requests_json

_repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_repository, "examples", "python"))

_key_file = os.environ.get("API_FUZZ_SIGNING_KEY")
_source_uri = os.environ.get("API_FUZZ_SOURCE_URI")
_source_id = os.environ.get("API_FUZZ_SOURCE_ID")
_unit = os.environ.get("API_FUZZ_UNIT")
_area = os.environ.get("API_FUZZ_AREA")
if _key_file:
    import mekong_client

    _key_id, _private_key = mekong_client.load_key(_key_file)


def _ndjson_bytes(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    return _ndjson_bytes(value)


# openapi.yaml's patterns of the two signature headers.
_SIGNING_KEY = re.compile(r"[!-~]+")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{86}==")


def _heads(value):
    """A coin that the generated value itself tosses: the same case always lands the same way (reproducible runs)."""
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).digest()[0] % 2 == 0


# openapi.yaml's `Code`: a well-formed generated code may be replaced (a mutated one is a negative case, kept).
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _is_code(value):
    return isinstance(value, str) and _CODE.fullmatch(value) is not None


def _well_formed_attribute(value):
    return isinstance(value, str) and 1 <= len(value.encode("utf-8", "surrogatepass")) <= 512


def _into_scope(report):
    """Moves half of the generated reports into the source's scope (unit and areas), in place; only well-formed
    codes are replaced, so that a negative case stays negative."""
    if not (_unit and _area) or not isinstance(report, dict) or not _heads(report):
        return
    if _is_code(report.get("reportingUnit")):
        report["reportingUnit"] = _unit
    observations = report.get("observations")
    for observation in observations if isinstance(observations, list) else []:
        if isinstance(observation, dict) and isinstance(observation.get("dimensions"), dict):
            if _is_code(observation["dimensions"].get("area")):
                observation["dimensions"]["area"] = _area


def _sign_event(event):
    """Signs a generated event in place, if it can be (an object whose values canonical JSON can write). An event
    the generator made invalid in what signing would replace (a `recordedtime`, a mutated `signingkey`,
    `signature` or `source`) is sent as generated: it is a negative case and must stay one."""
    if not isinstance(event, dict) or "recordedtime" in event:
        return
    if any(name in event and not _well_formed_attribute(event[name]) for name in ("signingkey", "signature", "source")):
        return
    if _source_uri and "source" in event:
        event["source"] = _source_uri
    if event.get("type") == "vn.gso.report.submitted":
        _into_scope(event.get("data"))
    try:
        signed = mekong_client.sign_event(event, _key_id, _private_key)
    except (TypeError, ValueError):
        return  # not JSON that canonical JSON writes (non-finite numbers, say): sent as generated
    event.clear()
    event.update(signed)


def _body_bytes(body, media_type):
    """The bytes Schemathesis will send for `body` (its serializers: requests' JSON for JSON, UTF-8 for text), or
    None when there is no body or it cannot tell. The body itself is left as generated, so that Schemathesis still
    knows whether the case is a positive or a negative one."""
    if body is None or type(body).__name__ == "NotSet":
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and media_type != "application/json":
        return body.encode("utf-8")
    if media_type == "application/x-ndjson":
        return _ndjson_bytes(body)
    if media_type == "application/json":
        try:
            return _requests_json.dumps(body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError):
            return None
    return None


@schemathesis.hook
def before_call(context, case, kwargs):
    path, method = case.operation.path, case.operation.method.upper()
    if path == "/v1/reconciliation" and method == "GET" and _source_id and isinstance(case.query, dict):
        if _heads(case.query):
            case.query = dict(case.query, source=_source_id)
        return
    if not _key_file or method != "POST":
        return
    if path == "/v1/events":
        if isinstance(case.body, list):
            for event in case.body:
                _sign_event(event)
        else:
            _sign_event(case.body)
    elif path in ("/v1/reports", "/v1/surveys/{survey}/batches"):
        if path == "/v1/reports":
            _into_scope(case.body)
        body = _body_bytes(case.body, (case.media_type or "").split(";")[0].strip().lower())
        if body is None:
            return
        # Only headers the generator made well formed are replaced: a case that leaves one out, or mutates it
        # against its schema, is a negative case and stays one.
        headers = dict(case.headers or {})
        if _SIGNING_KEY.fullmatch(str(headers.get("Mekong-Signing-Key", ""))):
            headers["Mekong-Signing-Key"] = _key_id
        if _SIGNATURE.fullmatch(str(headers.get("Mekong-Signature", ""))):
            headers["Mekong-Signature"] = mekong_client.sign_body(body, _private_key)
        case.headers = headers

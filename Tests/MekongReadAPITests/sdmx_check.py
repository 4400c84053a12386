"""Reads the read API's SDMX-CSV answers with sdmx1, an SDMX reader that is not ours, through the data structure
the server's SDMX-ML structure message defines for the answer's dataflow, and compares every observation with the
JSON answer to the same question.

Usage: python3 sdmx_check.py BASE_URL INDICATOR [QUERY]
Prints the number of observations compared; exits 1 (naming the first difference) if any differs.
"""

import io
import json
import sys
import urllib.request

import sdmx
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
    structure = sdmx.read_sdmx(io.BytesIO(xml))
    flow = structure.dataflow[flow_id]
    dsd = flow.structure
    header = csv.split(b"\n", 1)[0].decode().split(",")
    columns = header[3:header.index("OBS_VALUE")]
    if [d.id for d in dsd.dimensions] != columns:
        sys.exit(f"the data structure's dimensions {[d.id for d in dsd.dimensions]} are not the columns {columns}")
    if [a.id for a in dsd.attributes] != header[header.index("OBS_VALUE") + 1:]:
        sys.exit(f"the data structure's attributes {[a.id for a in dsd.attributes]} are not the columns after OBS_VALUE")

    parsed = Reader().convert(io.BytesIO(csv), structure=flow)
    read = [obs for data_set in parsed.data for obs in data_set.obs]
    expected = message["observations"]
    if len(read) != len(expected):
        sys.exit(f"sdmx1 read {len(read)} observations, the JSON answer has {len(expected)}")
    for index, (obs, want) in enumerate(zip(read, expected)):
        key = {k: v.value for k, v in obs.dimension.values.items()}
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
    print(len(read))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")

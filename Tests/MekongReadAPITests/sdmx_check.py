"""Reads the read API's SDMX-CSV answers with sdmx1, an SDMX reader that is not ours, and compares every
observation with the JSON answer to the same question.

Usage: python3 sdmx_check.py BASE_URL INDICATOR [QUERY]
Prints the number of observations compared; exits 1 (naming the first difference) if any differs.
"""

import io
import json
import sys
import urllib.request

import sdmx
from sdmx.model import common
from sdmx.model import v30 as model
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

    # The data structure the dataflow id names: REF_AREA, the other dimensions, TIME_PERIOD; OBS_VALUE;
    # OBS_STATUS and CONF_STATUS. (Built here from the JSON answer until the server serves structures.)
    agency, rest = message["dataflow"].split(":")
    flow_id, version = rest.rstrip(")").split("(")
    maintainer = common.Agency(id=agency)
    dsd = model.DataStructureDefinition(id=flow_id.replace("DF_", "DSD_", 1), maintainer=maintainer, version=version)
    for dimension in ["REF_AREA"] + [d.upper() for d in message["dimensions"]]:
        dsd.dimensions.getdefault(dimension)
    dsd.dimensions.getdefault("TIME_PERIOD", cls=common.TimeDimension)
    dsd.measures.getdefault("OBS_VALUE")
    dsd.attributes.getdefault("OBS_STATUS")
    dsd.attributes.getdefault("CONF_STATUS")
    flow = model.Dataflow(id=flow_id, maintainer=maintainer, version=version, structure=dsd)

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

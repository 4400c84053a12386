#!/usr/bin/env python3
"""Writes the sample event files of ops/samples/ (one per topic) from the real administrative-unit lists in
../shared/data/vn-admin-units. Deterministic: the same input gives the same files (ids are UUIDv7 built from the
event time and a seeded generator). Run from the repository root: python3 ops/samples/make-samples.py"""
import csv, json, random, datetime, os, sys

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "..", "..", "shared", "data", "vn-admin-units")
rng = random.Random(20250701)
SCHEMA = "https://schemas.mekong.gso.gov.vn/{}/v1.schema.json"

def uuid7(when):
    ms = int(when.timestamp() * 1000)
    r = rng.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((r >> 62) << 64) | (0b10 << 62) | (r & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

def event(type_, source, subject, when, data, **ext):
    e = {"specversion": "1.0", "id": uuid7(when), "source": source, "type": type_,
         "time": when.isoformat(timespec="seconds"), "subject": subject,
         "datacontenttype": "application/json", "dataschema": SCHEMA.format(type_)}
    e.update(ext)
    e["data"] = data
    return e

def write(name, events):
    with open(os.path.join(here, name), "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{name}: {len(events)} events")

tz = datetime.timezone(datetime.timedelta(hours=7))
def read(name):
    with open(os.path.join(data, name), encoding="utf-8") as f:
        return list(csv.DictReader(f))

units2024, units2025 = read("units-2024.csv"), read("units-2025.csv")
prov2024 = sorted({(r["province_code"], r["province_name"]) for r in units2024})
prov2025 = sorted({(r["province_code"], r["province_name"]) for r in units2025})

# master-data: the two province-level classification versions (communes are left to the master-data issue).
master = [
    event("vn.gso.classification.published", "urn:vn:gso:classification-service", "vn-admin-units",
          datetime.datetime(2024, 12, 30, 9, 0, tzinfo=tz),
          {"classification": "vn-admin-units", "version": "2024", "validFrom": "2024-01-01",
           "items": [{"code": c, "parent": None, "level": 1, "nameVi": n} for c, n in prov2024]}),
    event("vn.gso.classification.published", "urn:vn:gso:classification-service", "vn-admin-units",
          datetime.datetime(2025, 6, 20, 8, 0, tzinfo=tz),
          {"classification": "vn-admin-units", "version": "2025", "validFrom": "2025-07-01",
           "items": [{"code": c, "parent": None, "level": 1, "nameVi": n} for c, n in prov2025]}),
]
write("master-data.ndjson", master)

# reports: each 2025 province's statistics office reports population and employment for 2025-Q3; a few revise.
reports = []
for i, (code, name) in enumerate(prov2025):
    when = datetime.datetime(2025, 10, 10, 8, 0, tzinfo=tz) + datetime.timedelta(minutes=7 * i)
    unit = f"CTK{code}"
    pop = rng.randint(500_000, 9_000_000)
    obs = [
        {"indicator": "POP.TOTAL", "dimensions": {"area": code}, "value": pop, "status": "provisional",
         "confidentiality": "free"},
        {"indicator": "EMP.TOTAL", "dimensions": {"area": code, "sex": "F"}, "value": round(pop * 0.27),
         "status": "estimated", "confidentiality": "free"},
        {"indicator": "EMP.TOTAL", "dimensions": {"area": code, "sex": "M"}, "value": round(pop * 0.29),
         "status": "estimated", "confidentiality": "free"},
    ]
    reports.append(event("vn.gso.report.submitted", f"urn:vn:gso:province:{code}", f"{unit}/BC-DS/2025-Q3", when,
                         {"reportingUnit": unit, "form": "BC-DS", "period": "2025-Q3", "action": "merge",
                          "observations": obs}, sourcesequence=1))
    if i % 5 == 0:
        obs = [dict(obs[0], value=pop + rng.randint(-5000, 5000), status="normal",
                    comment=f"Số liệu chính thức, {name}")]
        reports.append(event("vn.gso.report.submitted", f"urn:vn:gso:province:{code}", f"{unit}/BC-DS/2025-Q3",
                             when + datetime.timedelta(days=20),
                             {"reportingUnit": unit, "form": "BC-DS", "period": "2025-Q3", "action": "merge",
                              "observations": obs}, sourcesequence=2))
write("reports.ndjson", reports)

# admin-records: business register changes in a sample of communes.
records = []
sample = rng.sample(units2025, 40)
for i, u in enumerate(sample):
    when = datetime.datetime(2025, 8, 1, 9, 0, tzinfo=tz) + datetime.timedelta(hours=5 * i)
    key = f"{rng.randint(100000000, 999999999):010d}"
    records.append(event("vn.gso.register.record-changed", "urn:vn:mof:business-registration", f"business/{key}",
                         when, {"register": "business", "recordKey": key, "change": "create",
                                "effectiveDate": when.date().isoformat(),
                                "attributes": {"name": f"Hộ kinh doanh {u['commune_name']} số {i + 1}",
                                               "vsicCode": rng.choice(["4711", "5610", "1079", "4933", "6201"]),
                                               "areaCode": u["commune_code"], "employees": rng.randint(1, 60),
                                               "active": True}}))
write("admin-records.ndjson", records)

# survey-uploads: labour-force-survey batches from four provinces.
batches = []
for i, (code, _) in enumerate(prov2025[:4]):
    when = datetime.datetime(2025, 7, 2, 10, 0, tzinfo=tz) + datetime.timedelta(hours=i)
    batch = f"lfs-2025-m06-{code}-0001"
    rows = [{"rowId": f"{code}-0001-{j:02d}", "weight": round(rng.uniform(300, 500), 1),
             "values": {"area": code, "sex": rng.choice(["M", "F"]), "age": rng.randint(15, 70),
                        "employed": rng.random() < 0.7}} for j in range(1, 13)]
    batches.append(event("vn.gso.survey.batch-uploaded", "urn:vn:gso:capi:lfs", f"LFS/2/{batch}", when,
                         {"survey": "LFS", "wave": 2, "period": "2025-M06", "batchId": batch, "rows": rows}))
write("survey-uploads.ndjson", batches)

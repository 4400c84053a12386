import MekongEvents

/// A valid structured-mode event used across the envelope tests.
enum Fixtures {
    static let eventText = #"""
        {
          "specversion": "1.0",
          "id": "01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8d",
          "source": "urn:vn:gso:reporting-portal:province:01",
          "type": "vn.gso.report.submitted",
          "time": "2025-07-01T15:30:00+07:00",
          "subject": "0100100001/DN-01/2025-Q2",
          "datacontenttype": "application/json",
          "dataschema": "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v1.schema.json",
          "recordedtime": "2025-07-01T08:30:01.250Z",
          "sourcesequence": 42,
          "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          "data": {"reportingUnit": "0100100001", "form": "DN-01", "period": "2025-Q2", "action": "merge",
                   "observations": [{"indicator": "REV", "dimensions": {"area": "01"}, "value": 1250.5,
                                     "status": "normal", "confidentiality": "free"}]}
        }
        """#

    static func eventObject() throws -> JSONObject {
        guard let object = try JSON.parse(eventText).objectValue else { throw FixtureError() }
        return object
    }

    struct FixtureError: Error {}
}

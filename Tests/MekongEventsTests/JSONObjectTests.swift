import Testing

@testable import MekongEvents

@Suite("JSON object and value")
struct JSONObjectTests {
    @Test func keepsInsertionOrderAndReplacesInPlace() {
        var object: JSONObject = ["b": 1, "a": 2]
        object["c"] = 3
        object["b"] = "x"
        #expect(object.keys == ["b", "a", "c"])
        #expect(object.map(\.value) == ["x", 2, 3])
        object["a"] = nil
        #expect(object.keys == ["b", "c"])
        #expect(object.count == 2)
        #expect(object["a"] == nil)
        #expect(JSON.serialize(.object(object)) == #"{"b":"x","c":3}"#)
    }

    @Test func repeatedKeysInPairsKeepFirstPositionAndLastValue() {
        let object = JSONObject([("k", 1), ("j", 2), ("k", 3)])
        #expect(object.keys == ["k", "j"])
        #expect(object["k"] == 3)
    }

    @Test func equalityAndHashingIgnoreOrder() {
        let first: JSONValue = ["a": 1, "b": [true, nil]]
        let second: JSONValue = ["b": [true, nil], "a": 1.0]
        #expect(first == second)
        #expect(Set([first, second]).count == 1)
        #expect(first != ["a": 1, "b": [true]])
        #expect(first != ["a": 1, "c": [true, nil]])
        #expect(JSONValue.number(-0.0) == .number(0))
        #expect(JSONValue.number(-0.0).hashValue == JSONValue.number(0).hashValue)
    }

    @Test func largeObjectsStayConsistentThroughTheIndex() {
        var object = JSONObject((0..<40).map { ("k\($0)", JSONValue.number(Double($0))) })
        #expect(object["k33"] == 33)
        object["k10"] = nil
        #expect(object.count == 39)
        #expect(object["k10"] == nil)
        #expect(object["k11"] == 11)
        #expect(object.keys[10] == "k11")
        object["new"] = "v"
        #expect(object["new"] == "v")
        #expect(object.keys.last == "new")
        var reversed = JSONObject()
        for (key, value) in object.reversed() { reversed[key] = value }
        #expect(reversed == object)
        #expect(reversed.hashValue == object.hashValue)
    }

    @Test func accessors() {
        let value: JSONValue = ["s": "t", "n": 2.5, "i": 7, "b": false, "a": [1], "o": [:], "z": nil]
        #expect(value["s"]?.stringValue == "t")
        #expect(value["n"]?.numberValue == 2.5)
        #expect(value["n"]?.integerValue == nil)
        #expect(value["i"]?.integerValue == 7)
        #expect(value["b"]?.boolValue == false)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["o"]?.objectValue?.isEmpty == true)
        #expect(value["z"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["s"]?.numberValue == nil)
        #expect(value.typeName == "object")
        #expect(value.description == #"{"s":"t","n":2.5,"i":7,"b":false,"a":[1],"o":{},"z":null}"#)
    }
}

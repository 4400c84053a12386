/// Formats doubles the way ECMAScript's `Number.prototype.toString` does (ECMA-262 §6.1.6.1.20),
/// which RFC 8785 requires for canonical JSON.
///
/// The shortest round-trip digits come from Swift's `Double.description`; only the layout
/// (plain, fraction or exponent form) is re-done here.
enum ECMAScriptNumber {
    /// Integers up to this magnitude are printed directly (all their digits are significant).
    private static let exactIntegerLimit: Double = 9_007_199_254_740_992

    /// The ECMAScript form of `value` as a string.
    static func string(_ value: Double) -> String {
        var bytes: [UInt8] = []
        append(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the ECMAScript form of `value`; non-finite values become `null`.
    static func append(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            output.append(contentsOf: Array("null".utf8))
            return
        }
        if value == 0 {
            output.append(UInt8(ascii: "0"))  // also -0
            return
        }
        if abs(value) <= exactIntegerLimit, value.rounded(.towardZero) == value {
            appendInteger(Int64(value), to: &output)
            return
        }
        var magnitude = value
        if value < 0 {
            output.append(UInt8(ascii: "-"))
            magnitude = -value
        }
        let (digits, pointPosition) = shortestDigits(magnitude)
        layout(digits: digits, n: pointPosition, to: &output)
    }

    private static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var remaining = value.magnitude
        var reversed: [UInt8] = []
        reversed.reserveCapacity(20)
        repeat {
            reversed.append(UInt8(ascii: "0") + UInt8(remaining % 10))
            remaining /= 10
        } while remaining > 0
        output.append(contentsOf: reversed.reversed())
    }

    /// The shortest decimal digits `d1...dk` (no leading or trailing zeros) and the exponent `n`
    /// with `value = 0.d1...dk × 10^n`, read from Swift's shortest round-trip description
    /// (e.g. "4.5", "1e-07", "1.2345678901234568e+20", "0.002").
    static func shortestDigits(_ value: Double) -> (digits: [UInt8], n: Int) {
        var digits: [UInt8] = []
        digits.reserveCapacity(17)
        var integerDigitCount = 0
        var seenPoint = false
        var exponent = 0
        var exponentNegative = false
        var inExponent = false
        for byte in value.description.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inExponent {
                    exponent = exponent * 10 + Int(byte - UInt8(ascii: "0"))
                } else {
                    digits.append(byte)
                    if !seenPoint { integerDigitCount += 1 }
                }
            case UInt8(ascii: "."): seenPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            case UInt8(ascii: "-"): if inExponent { exponentNegative = true }
            default: break  // "+"
            }
        }
        var n = integerDigitCount + (exponentNegative ? -exponent : exponent)
        var leadingZeros = 0
        while leadingZeros < digits.count, digits[leadingZeros] == UInt8(ascii: "0") { leadingZeros += 1 }
        n -= leadingZeros
        var end = digits.count
        while end > leadingZeros, digits[end - 1] == UInt8(ascii: "0") { end -= 1 }
        return (Array(digits[leadingZeros..<end]), n)
    }

    /// ECMA-262 Number::toString steps 6-12 for a positive number `0.digits × 10^n`.
    private static func layout(digits: [UInt8], n: Int, to output: inout [UInt8]) {
        let k = digits.count
        if k <= n, n <= 21 {
            output.append(contentsOf: digits)
            output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: n - k))
        } else if 0 < n, n <= 21 {
            output.append(contentsOf: digits[0..<n])
            output.append(UInt8(ascii: "."))
            output.append(contentsOf: digits[n...])
        } else if -6 < n, n <= 0 {
            output.append(UInt8(ascii: "0"))
            output.append(UInt8(ascii: "."))
            output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -n))
            output.append(contentsOf: digits)
        } else {
            output.append(digits[0])
            if k > 1 {
                output.append(UInt8(ascii: "."))
                output.append(contentsOf: digits[1...])
            }
            output.append(UInt8(ascii: "e"))
            let e = n - 1
            output.append(e < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            output.append(contentsOf: String(abs(e)).utf8)
        }
    }
}

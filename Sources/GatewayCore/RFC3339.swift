import Foundation

/// RFC 3339 date-times: parsed strictly (an offset is required), written in UTC to the second (or
/// to the millisecond, for log records).
///
/// Both directions work on the digits themselves: a Foundation date formatter costs more than the
/// rest of a lobby request (it opens an ICU calendar each time), and the shape here is fixed.
public enum RFC3339 {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction]` then `Z` or `±HH:MM`; `t` and `z` in lower case too. Calendar
    /// dates that do not exist (February 30th) are refused.
    public static func date(from text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 35 else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + count] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        func byte(_ index: Int, _ expected: [UInt8]) -> Bool { index < bytes.count && expected.contains(bytes[index]) }
        guard let year = digits(0, 4), byte(4, [0x2D]), let month = digits(5, 2), byte(7, [0x2D]),
            let day = digits(8, 2), byte(10, [0x54, 0x74]), let hour = digits(11, 2), byte(13, [0x3A]),
            let minute = digits(14, 2), byte(16, [0x3A]), let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
            second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if byte(index, [0x2E]) {
            var scale = 0.1
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard (1...9).contains(index - start) else { return nil }
        }
        var offset = 0
        if byte(index, [0x5A, 0x7A]), index + 1 == bytes.count {
            offset = 0
        } else if byte(index, [0x2B, 0x2D]), index + 6 == bytes.count, byte(index + 3, [0x3A]),
            let hours = digits(index + 1, 2), let minutes = digits(index + 4, 2), hours < 24, minutes < 60
        {
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == 0x2D ? -1 : 1)
        } else {
            return nil
        }
        let seconds = daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: TimeInterval(seconds - offset) + fraction)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`: the date to the nearest millisecond, then its second (as Foundation's
    /// formatter writes it).
    public static func string(from date: Date) -> String {
        let (seconds, _) = wholeMilliseconds(of: date)
        return secondsText(seconds) + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`: the date to the nearest millisecond (log records).
    public static func stringWithMilliseconds(from date: Date) -> String {
        let (seconds, milliseconds) = wholeMilliseconds(of: date)
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return secondsText(seconds) + "." + fraction + "Z"
    }

    /// The date rounded to the millisecond, as whole seconds since 1970 and the milliseconds after them.
    private static func wholeMilliseconds(of date: Date) -> (seconds: Int, milliseconds: Int) {
        let total = Int((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = total >= 0 ? total / 1000 : (total - 999) / 1000
        return (seconds, total - seconds * 1000)
    }

    /// `YYYY-MM-DDTHH:MM:SS` of a number of seconds since 1970, in UTC.
    private static func secondsText(_ total: Int) -> String {
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondOfDay = total - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day count from 1970-01-01 (H. Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

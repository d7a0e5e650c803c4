/// Length limits of text fields, counted as JSON Schema's `maxLength` counts: in Unicode code points,
/// never in characters (one character can hold thousands of combining marks). A text within the limit
/// is therefore also at most `4 × maxLength` bytes of UTF-8, which is checked as well.
public enum TextLimit {
    public static func fits(_ text: String, maxLength: Int) -> Bool {
        text.utf8.count <= 4 * maxLength && text.unicodeScalars.count <= maxLength
    }
}

import GatehouseCore
import Testing

/// CloudEvents SQL as Knative evaluates it (the CloudEvents Go SDK): cases follow the spec's
/// conformance suite (TCK), written here as Gatehouse's own table.
@Suite("CESQL")
struct CESQLTests {
    static let event = CloudEvent(
        id: "myId", source: "http://localhost/source", type: "myType", subject: "mySubject",
        extensions: ["myext": "my extension", "sequence": "10", "hop": "2", "ttl": "5", "flag": "TRUE", "pattern": "abc123123%456_dzf",
                     "firstname": "Francesco", "lastname": "Guardiani", "empty": ""])

    static func value(_ expression: String, _ event: CloudEvent = event) throws -> CESQLValue {
        // Values of any type, for the table: a filter needs a boolean, so wrap others in `= x`.
        try CESQLExpression(parsing: expression).evaluate(event)
    }

    @Test("Boolean expressions evaluate as the spec says", arguments: [
        // Literals and case
        ("TRUE", true), ("false", false), ("tRuE", true),
        // Logic, short-circuit
        ("TRUE AND FALSE", false), ("FALSE OR TRUE", true), ("TRUE XOR TRUE", false), ("FALSE XOR TRUE", true),
        ("false and (1 != 1 / 0)", false), ("true or (1 != 1 / 0)", true),
        // Right-associative logic, as the grammar: a AND (b OR c)
        ("FALSE AND TRUE OR TRUE", false),
        // NOT binds tighter than comparison: (NOT TRUE) = FALSE
        ("NOT TRUE = FALSE", true), ("NOT 'FALSE'", true), ("NOT 0", true),
        // Comparisons with implicit casts (the right side's type decides)
        ("1 = 1", true), ("'abc' = 'abc'", true), ("'abc' <> 'abc'", false), ("1 != 2", true),
        ("'TRUE' = true", true), ("true = 'TRUE'", false), ("sequence = 10", true), ("sequence = '10'", true),
        ("hop < ttl", true), ("2 <= 2", true), ("3 > 2", true), ("2 >= 3", false),
        // Arithmetic
        ("4 * 2 + 4 / 2 = 10", true), ("4 * (2 + 4) / 2 = 12", true), ("5 / 3 = 1", true), ("-5 % 3 = -2", true),
        ("'5' + 3 = 8", true), ("5 + TRUE = 6", true), ("--10 = 10", true), ("-'10' = -10", true), ("4 -1 = 3", true),
        ("-2147483648 = -2147483647 - 1", true), ("2147483647 + 1 = -2147483648", true),
        // LIKE
        ("'abc' LIKE 'a%b%c'", true), ("'azzzbzzzc' LIKE 'a%b%c'", true), ("'ac' LIKE 'abc'", false),
        ("'azbzc' LIKE 'a_b_c'", true), ("'abc' LIKE 'a_b_c'", false), ("'a_b_c' LIKE 'a\\_b\\_c'", true),
        ("'azbzc' LIKE 'a\\_b\\_c'", false), ("'a%b%c' LIKE 'a\\%b\\%c'", true), ("'ab\\c' LIKE 'ab\\c'", true),
        ("pattern LIKE 'abc%123\\%456\\_d_f'", true), ("pattern NOT LIKE 'abc%123\\%456\\_d_f'", false),
        ("234 LIKE '23_'", true), ("TRUE LIKE 'tr%'", true), ("'' LIKE ''", true), ("'' LIKE '%'", true), ("'x' LIKE ''", false),
        // IN: the left side's type decides
        ("123 IN (1, 2, 3, 123)", true), ("123 NOT IN (1, 123)", false), ("'abc' IN ('abc', \"bcd\")", true),
        ("'true' IN (TRUE, 'false')", true), ("'TRUE' IN (TRUE, 'false')", false), ("1 IN ('1', '2')", true),
        ("source IN (id, 'http://localhost/source')", true),
        // EXISTS
        ("EXISTS id AND EXISTS SOURCE", true), ("EXISTS myext", true), ("EXISTS missing", false), ("NOT EXISTS time", true),
        ("EXISTS empty", true),
        // Functions
        ("LENGTH('abc') = 3", true), ("LENGTH(TRUE) = 4", true), ("CONCAT('a', 'b', 'c') = 'abc'", true), ("CONCAT() = ''", true),
        ("CONCAT_WS(',', 'a', 'b') = 'a,b'", true), ("CONCAT_WS(',') = ''", true), ("LOWER('AbC') = 'abc'", true),
        ("UPPER('abc') = 'ABC'", true), ("TRIM('  a b  ') = 'a b'", true), ("LEFT('abc', 2) = 'ab'", true),
        ("LEFT('abc', 10) = 'abc'", true), ("RIGHT('abc', 2) = 'bc'", true), ("SUBSTRING('abcdef', 2) = 'bcdef'", true),
        ("SUBSTRING('Sakila', -3) = 'ila'", true), ("SUBSTRING('abcdef', 2, 4) = 'bcde'", true), ("SUBSTRING('Sakila', -5, 3) = 'aki'", true),
        ("SUBSTRING('Quadratically', 0) = ''", true), ("ABS(-10) = 10", true), ("INT('-1') = -1", true), ("INT(TRUE) = 1", true),
        ("BOOL('TRUE')", true), ("BOOL(100)", true), ("STRING(TRUE) = 'true'", true), ("STRING(-1) = '-1'", true),
        ("IS_INT('12')", true), ("IS_INT('x')", false), ("IS_BOOL('False')", true), ("is_bool(1)", true), ("lower(type) = 'mytype'", true),
        // The spec's examples
        ("EXISTS subject", true), ("firstname = 'Francesco'", true), ("firstname = 'Francesco' OR subject = 'Francesco'", true),
        ("(firstname = 'Francesco' AND lastname = 'Guardiani') OR subject = 'Francesco Guardiani'", true),
        ("BOOL(flag)", true), ("int(hop) < int(ttl) and int(hop) < 1000", true),
        // Strings: the escaped delimiter loses its backslash, nothing else does
        ("'a\"b\\'c' = CONCAT('a\"b', \"'c\")", true), ("\"a'b\\\"c\" = CONCAT(\"a'b\", '\"c')", true),
    ])
    func booleans(expression: String, expected: Bool) throws {
        #expect(try Self.value(expression) == .boolean(expected), "\(expression)")
        #expect(try CESQLExpression(parsing: expression).matches(Self.event) == expected)
    }

    @Test("Errors end the evaluation, and a filter does not match", arguments: [
        ("missing = 2", CESQLEvaluationError.missingAttribute("missing")),
        ("missing LIKE 'x'", .missingAttribute("missing")),
        ("NOT missing", .missingAttribute("missing")),
        ("true and (1 != 1 / 0)", .math("division by zero")),
        ("false or (1 % 0 = 0)", .math("division by zero")),
        ("ABS(-2147483648) = 0", .math("ABS(-2147483648) does not fit in 32 bits")),
        ("INT('ABC') = 0", .cast("cannot cast 'ABC' to Integer")),
        ("BOOL('ABC')", .cast("cannot cast 'ABC' to Boolean")),
        ("myext = 1", .cast("cannot cast 'my extension' to Integer")),
        ("LEFT('abc', -2) = 'abc'", .function("LEFT needs a length of 0 or more, got -2")),
        ("SUBSTRING('abcdef', 10) = ''", .function("SUBSTRING position 10 is outside a string of 6 characters")),
        ("SUBSTRING('abcdef', -10, 10) = ''", .function("SUBSTRING position -10 is outside a string of 6 characters")),
        ("SUBSTRING('abcdef', 1, -1) = ''", .function("SUBSTRING needs a length of 0 or more, got -1")),
    ])
    func errors(expression: String, error: CESQLEvaluationError) throws {
        let parsed = try CESQLExpression(parsing: expression)
        #expect(throws: error) { try parsed.evaluate(Self.event) }
        #expect(!parsed.matches(Self.event))
    }

    @Test("Parse errors name the column", arguments: [
        ("", 1, "the expression is empty"),
        ("ABC(", 1, "unknown function ABC; known: LENGTH, CONCAT, CONCAT_WS, LOWER, UPPER, TRIM, LEFT, RIGHT, SUBSTRING, ABS, INT, BOOL, STRING, IS_INT, IS_BOOL"),
        ("type = ", 8, "unexpected end of expression"),
        ("type = 'x", 8, "string literal is not closed; end it with '"),
        ("x LIKE 123", 8, "LIKE needs a quoted pattern, e.g. LIKE 'order.%'"),
        ("type IN ()", 10, "IN needs at least one value"),
        ("LENGTH('a', 'b') = 1", 1, "LENGTH takes 1 argument, got 2"),
        ("SUBSTRING('a') = ''", 1, "SUBSTRING takes 2 or 3 arguments, got 1"),
        ("(type = 'a'", 12, "expected \")\" to close the \"(\" at column 1"),
        ("type = 'a' )", 12, "unexpected \")\""),
        ("type == 'a'", 7, "unexpected \"=\""),
        ("type = 2147483648", 8, "2147483648 is not a 32-bit integer (-2147483648 to 2147483647)"),
        ("type ! 'a'", 6, "unexpected \"!\"; write != or NOT"),
        ("type = 'a' ; drop", 12, "unexpected character \";\""),
        ("my_ext = 'a'", 1, "\"my_ext\" is not an attribute name (lowercase letters and digits)"),
        ("EXISTS 'x'", 8, "EXISTS needs an attribute name, e.g. EXISTS subject"),
        ("type", 1, "the expression gives a String, not true or false"),
        ("1 + 1", 1, "the expression gives an Integer, not true or false"),
        ("+type = 'a'", 1, "unexpected \"+\"; a plus sign only goes before a number"),
    ])
    func parseErrors(expression: String, column: Int, message: String) {
        #expect(throws: CESQLParseError(column: column, message: message)) { try CESQLExpression(parsing: expression) }
    }

    @Test("Hostile input is refused cheaply: size and nesting are bounded")
    func bounds() throws {
        let long = "type = '" + String(repeating: "a", count: CESQLExpression.maxLength) + "'"
        #expect(throws: CESQLParseError(column: 1, message: "the expression is longer than 4096 bytes")) { try CESQLExpression(parsing: long) }
        let parentheses = String(repeating: "(", count: 1000) + "TRUE" + String(repeating: ")", count: 1000)
        #expect(throws: CESQLParseError.self) { try CESQLExpression(parsing: parentheses) }
        let nots = String(repeating: "NOT ", count: 1000) + "TRUE"
        #expect(throws: CESQLParseError.self) { try CESQLExpression(parsing: nots) }
        let chain = Array(repeating: "a = 1", count: 200).joined(separator: " OR ")
        #expect(throws: CESQLParseError.self) { try CESQLExpression(parsing: chain) }
        let sum = "1" + String(repeating: " + 1", count: 200) + " = 201"
        #expect(throws: CESQLParseError.self) { try CESQLExpression(parsing: sum) }
        let calls = String(repeating: "LOWER(", count: 100) + "'a'" + String(repeating: ")", count: 100) + " = 'a'"
        #expect(throws: CESQLParseError.self) { try CESQLExpression(parsing: calls) }
        // Within the bounds, deep but legal expressions work.
        let fine = String(repeating: "(", count: 30) + "TRUE" + String(repeating: ")", count: 30)
        #expect(try CESQLExpression(parsing: fine).matches(Self.event))
        let wideIn = "sequence IN (" + (1...500).map(String.init).joined(separator: ", ") + ")"
        #expect(try CESQLExpression(parsing: wideIn).matches(Self.event))
    }

    @Test("LIKE is linear-ish on adversarial patterns")
    func likeBacktracking() throws {
        let text = String(repeating: "a", count: 2000)
        let event = CloudEvent(id: "1", source: "s", type: "t", extensions: ["x": text])
        let expression = try CESQLExpression(parsing: "x LIKE '" + String(repeating: "%a", count: 100) + "b'")
        #expect(!expression.matches(event))
    }
}

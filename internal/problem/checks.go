package problem

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Checker compiles an expression without running it (the expression
// environment is one).
type Checker interface {
	Check(src string) error
}

// Expression checks that src is present and compiles. The message of a
// compile error is the expression language's own. A nil checker only checks
// presence (the API validates shapes without an expression environment).
func (l *List) Expression(path, src string, c Checker) {
	if strings.TrimSpace(src) == "" {
		l.Add(path, CodeRequired, "an expression is required")
		return
	}
	if c == nil {
		return
	}
	if err := c.Check(src); err != nil {
		l.Add(path, CodeInvalidExpression, "%s", err.Error())
	}
}

// Expressions checks a {key: expression} map of field in key order (so
// problems come in the same order every time). An empty key is a problem of
// field; keyWord names a key in that message ("mapping has an empty key").
func (l *List) Expressions(field, keyWord string, m map[string]string, c Checker) {
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if strings.TrimSpace(key) == "" {
			l.Add(field, CodeInvalidConfig, "%s has an empty %s", field, keyWord)
			continue
		}
		l.Expression(field+"."+key, m[key], c)
	}
}

// Duration checks an optional Go duration and returns it: 0 when s is empty
// or invalid (invalid ones are reported).
func (l *List) Duration(path, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil {
		l.Add(path, CodeInvalidDuration, "%s", err.Error())
		return 0
	}
	return d
}

// durationError is the one wording of a bad duration.
type durationError struct {
	value  string
	zeroOK bool
}

func (e durationError) Error() string {
	what := "a positive duration"
	if e.zeroOK {
		what = "a duration of 0 or more"
	}
	return `"` + e.value + `" is not ` + what + ` (use Go durations such as 500ms, 10s, 5m, 24h)`
}

// ParseDuration parses a positive Go duration ("500ms", "10s", "24h"),
// with an error that says so in the user's terms.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, durationError{value: s}
	}
	return d, nil
}

// ParseNonNegativeDuration is ParseDuration where 0 is allowed too (a
// wait of 0 means "do not wait").
func ParseNonNegativeDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, durationError{value: s, zeroOK: true}
	}
	return d, nil
}

// IDRule is a kind of identifier and the pattern it must match.
type IDRule struct {
	// What names the kind in messages ("a node id").
	What    string
	pattern *regexp.Regexp
	// Hint says what is allowed, in words.
	Hint string
}

// The identifier kinds of the product. Each is one pattern, used by every
// place that checks or parses one.
var (
	// DefinitionID names a definition: lower case, digits, '_' and '-'
	// (it is part of execution ids and URLs).
	DefinitionID = IDRule{What: "a definition id", pattern: regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`),
		Hint: "1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit"}
	// Version names a definition's version ("1.2.0").
	Version = IDRule{What: "a version", pattern: regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`),
		Hint: "1 to 64 of letters, digits, '.', '_', '+' and '-', starting with a letter or digit"}
	// NodeID names a node: an identifier, so expressions can write
	// nodes.<id>.
	NodeID = IDRule{What: "a node id", pattern: regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`),
		Hint: "1 to 64 of letters, digits and '_', not starting with a digit"}
	// Name is a signal, parameter or variable name: an identifier.
	Name = IDRule{What: "a name", pattern: regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`),
		Hint: "letters, digits and '_', not starting with a digit"}
	// CallerName names an API key's caller or a key id.
	CallerName = IDRule{What: "a name", pattern: regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`),
		Hint: "1 to 64 of letters, digits, '_', '.' and '-', starting with a letter or digit"}
	// ScheduleID names a schedule: part of URLs and of the execution ids
	// it starts ("<definition>-sched-<schedule id>-<time>").
	ScheduleID = IDRule{What: "a schedule id", pattern: regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`),
		Hint: "1 to 128 of letters, digits, '_', '.' and '-', starting with a letter or digit"}
)

// Valid reports whether s is an identifier of this kind.
func (r IDRule) Valid(s string) bool { return r.pattern.MatchString(s) }

// Pattern is the rule's regular expression (for JSON Schemas: it is in the
// syntax both Go and ECMAScript read).
func (r IDRule) Pattern() string { return r.pattern.String() }

// ID checks an identifier of kind r and reports whether it is valid.
func (l *List) ID(path, s string, r IDRule) bool {
	if r.Valid(s) {
		return true
	}
	l.Add(path, CodeInvalidID, "%q is not %s (%s)", s, r.What, r.Hint)
	return false
}

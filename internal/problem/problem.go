// Package problem is the one toolkit for reporting what is wrong with a
// document a user wrote: a definition, a node's config, a request body. It
// gives every caller the same shape (Problem), the same collector (List),
// and the same wording for the checks they share: strict JSON decoding,
// durations, expressions, ids and JSON type names.
//
// Paths point into the document the user sent ("nodes[2].config.timeout"),
// codes are stable strings clients match on, and messages never name Go
// types.
package problem

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a document. Code is stable; Path points
// into the document ("nodes[2].config.rules[0].operator"); empty for the
// document as a whole.
type Problem struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem codes. Clients match on them: append only.
const (
	CodeInvalidJSON       = "invalid_json"
	CodeRequired          = "required"
	CodeInvalidID         = "invalid_id"
	CodeReservedID        = "reserved_id"
	CodeUnknownNodeType   = "unknown_node_type"
	CodeDuplicateID       = "duplicate_id"
	CodeMissingStartNode  = "missing_start_node"
	CodeUnknownNode       = "unknown_node"
	CodeUnreachableNode   = "unreachable_node"
	CodeCycle             = "cycle"
	CodeInvalidConfig     = "invalid_config"
	CodeInvalidDuration   = "invalid_duration"
	CodeInvalidExpression = "invalid_expression"
	CodeInvalidOutcome    = "invalid_outcome"
	CodeInvalidExecution  = "invalid_execution"
	CodeInvalidRetry      = "invalid_retry"
	CodeInvalidSchema     = "invalid_schema"
	CodeTooLarge          = "too_large"
	// CodeUnknownDefinition: a call node names a definition (or version)
	// that is not registered.
	CodeUnknownDefinition = "unknown_definition"
	// CodeInvalidCron: a schedule's cron expression does not parse.
	CodeInvalidCron = "invalid_cron"
	// CodeInvalidValue: a value outside the ones a field allows (an enum,
	// two fields of which one must be given).
	CodeInvalidValue = "invalid_value"
	// CodeInvalidInput: an input does not match its definition's
	// inputSchema (the path is input.<field>).
	CodeInvalidInput = "invalid_input"
	// CodeMissingMock: test mode (internal/testmode) found an I/O node (or
	// a signal wait without a timeout) that its request gives no mock.
	CodeMissingMock = "missing_mock"
	// CodeInvalidMock: a test-mode mock names no node, a node that runs
	// for real, or has no attempt; or the definition has a node test mode
	// cannot run.
	CodeInvalidMock = "invalid_mock"
)

// Join appends a relative path to a prefix: Join("nodes[1].config",
// "rules[0]") is "nodes[1].config.rules[0]"; an index joins without a dot.
func Join(prefix, rel string) string {
	switch {
	case prefix == "":
		return rel
	case rel == "":
		return prefix
	case strings.HasPrefix(rel, "["):
		return prefix + rel
	default:
		return prefix + "." + rel
	}
}

// List collects problems in the order they are found. Its zero value is
// ready to use. A List made by Under shares its parent's problems and
// prefixes every path it is given.
type List struct {
	prefix string
	items  *[]Problem
}

func (l *List) store() *[]Problem {
	if l.items == nil {
		l.items = new([]Problem)
	}
	return l.items
}

// Add records a problem at path (relative to the list's prefix).
func (l *List) Add(path, code, format string, args ...any) {
	items := l.store()
	*items = append(*items, Problem{Path: Join(l.prefix, path), Code: code, Message: fmt.Sprintf(format, args...)})
}

// Append records problems whose paths are relative to the list's prefix.
func (l *List) Append(ps ...Problem) {
	items := l.store()
	for _, p := range ps {
		p.Path = Join(l.prefix, p.Path)
		*items = append(*items, p)
	}
}

// Under returns a list that adds to this one with paths under prefix.
func (l *List) Under(prefix string) *List {
	return &List{prefix: Join(l.prefix, prefix), items: l.store()}
}

// All returns the problems collected so far (nil when there are none).
func (l *List) All() []Problem {
	if l.items == nil || len(*l.items) == 0 {
		return nil
	}
	return *l.items
}

// Len counts the problems collected so far.
func (l *List) Len() int {
	if l.items == nil {
		return 0
	}
	return len(*l.items)
}

// Failed reports whether any problem was collected.
func (l *List) Failed() bool { return l.Len() > 0 }

package api

import (
	"strings"
	"testing"
)

func TestTerminationMessage(t *testing.T) {
	for _, tt := range []struct{ reason, want string }{
		{"Workflow history size exceeds limit.", "history grew past Temporal's size limit"},
		{"Workflow mutable state size exceeds limit.", "history grew past Temporal's size limit"},
		{"Workflow history count exceeds limit.", "more events than Temporal allows"},
		{"stuck order, see ticket 42", "the execution was terminated: stuck order, see ticket 42"},
		{"", "the execution was terminated"},
	} {
		if got := terminationMessage(tt.reason); !strings.Contains(got, tt.want) {
			t.Errorf("terminationMessage(%q) = %q, want it to say %q", tt.reason, got, tt.want)
		}
	}
}

package interpreter

import (
	"errors"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/temporal"
)

// activityFailure is the error a workflow gets for a regular activity that
// failed with retry state rs, built as the SDK builds it from history.
func activityFailure(rs enumspb.RetryState) error {
	return temporal.GetDefaultFailureConverter().FailureToError(&failurepb.Failure{
		Message: "activity error",
		FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{
			ActivityId: "a", RetryState: rs,
		}},
		Cause: &failurepb.Failure{Message: "connection reset", FailureInfo: &failurepb.Failure_ApplicationFailureInfo{
			ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "Error"},
		}},
	})
}

func TestFailedAttempts(t *testing.T) {
	policy := &temporal.RetryPolicy{MaximumAttempts: 7}
	tests := []struct {
		name string
		err  error
		want int32
	}{
		{"attempts ran out", activityFailure(enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED), 7},
		{"non-retryable", activityFailure(enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE), 1},
		{"schedule-to-close timeout", activityFailure(enumspb.RETRY_STATE_TIMEOUT), 1},
		{"local activity error", errors.New("connection reset"), 1},
	}
	for _, tt := range tests {
		if got := failedAttempts(tt.err, policy); got != tt.want {
			t.Errorf("%s: %d attempts, want %d", tt.name, got, tt.want)
		}
	}
}

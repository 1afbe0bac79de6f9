package outbound

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{" 120 ", 2 * time.Minute},
		{"-5", 0},
		{"1.5", 0},
		{"3601", MaxRetryAfter},
		{"99999999999999999999", MaxRetryAfter},
		{"Wed, 01 May 2024 12:00:42 GMT", 42 * time.Second},
		{"Wed, 01 May 2024 11:00:00 GMT", 0},
		{"Thu, 02 May 2024 12:00:00 GMT", MaxRetryAfter},
		{"tomorrow", 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.value, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

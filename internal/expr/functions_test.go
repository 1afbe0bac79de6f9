package expr

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

func TestSum(t *testing.T) {
	e := newEnv(t)
	vars := jsonVars(t, testVars)
	tests := []struct {
		src  string
		want any
	}{
		{"sum([])", int64(0)},
		{"sum([1, 2, 3])", int64(6)},
		{"sum([1, 2.5])", 3.5},
		{"sum(input.items.map(i, i.qty))", 7.0}, // JSON numbers are doubles
		{"sum(input.items.map(i, i.qty * 10))", 70.0},
	}
	for _, tt := range tests {
		got, err := e.Eval(context.Background(), tt.src, vars)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.src, got, tt.want)
		}
	}
	if _, err := e.Eval(context.Background(), `sum(["a"])`, vars); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf(`sum(["a"]) error = %v`, err)
	}
}

func TestHashPassword(t *testing.T) {
	testenv.SkipUnderRace(t)
	e := newEnv(t)
	got, err := e.EvalString(context.Background(), "hashPassword(input.password)",
		map[string]any{"input": map[string]any{"password": "correct horse 1"}})
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(got), []byte("correct horse 1")) != nil {
		t.Errorf("hash %q does not match the password", got)
	}
	if cost, _ := bcrypt.Cost([]byte(got)); cost != BcryptCost {
		t.Errorf("cost = %d, want %d", cost, BcryptCost)
	}
	long := strings.Repeat("x", 73)
	_, err = e.Eval(context.Background(), "hashPassword(input.password)",
		map[string]any{"input": map[string]any{"password": long}})
	if err == nil || !strings.Contains(err.Error(), "72 bytes") || strings.Contains(err.Error(), long) {
		t.Errorf("73-byte password: error = %v", err)
	}
}

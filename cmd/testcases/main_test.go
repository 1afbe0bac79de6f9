package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The test binary runs main when TESTCASES_MAIN is set, so a test can
// check the command's exit status.
func TestMain(m *testing.M) {
	if os.Getenv("TESTCASES_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestPassingFolder(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-definitions", "../../workflows", "testdata/pass"}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "ok    testdata/pass/order-declined.json") || !strings.Contains(out.String(), "1 case(s) passed") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestFailingCaseExitsNonZeroListingTheMismatches(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-definitions", "../../workflows/order-processing.json", "testdata/pass", "testdata/fail")
	cmd.Env = append(os.Environ(), "TESTCASES_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("err %v, want exit status 1\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{
		"ok    testdata/pass/order-declined.json",
		"FAIL  testdata/fail/discount.json",
		`output is {"none":{"discount":0}}, want {"rate":{"body":{"discount":10},"status":200}}`,
		"path is big → none, want big → rate",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if got := errOut.String(); got != "testcases: 1 of 2 case(s) failed\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestRefusedCaseListsEveryUnmockedNode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/c.json", []byte(`{"id": "order-processing", "input": {}, "mocks": {}, "expect": {"status": "completed"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-definitions", "../../workflows", dir}, nil, &out, &out)
	if err == nil {
		t.Fatal("want an error")
	}
	if n := strings.Count(out.String(), "has no mock"); n != 14 {
		t.Errorf("%d unmocked nodes listed, want the 14 I/O nodes:\n%s", n, out.String())
	}
}

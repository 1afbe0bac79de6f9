package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/workflow-backend/workflow-backend/activities"
	"github.com/workflow-backend/workflow-backend/internal/cli"
	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/internal/testmode"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// paths is a flag that may be given several times.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

func run(ctx context.Context, args []string, _ map[string]string, stdout, stderr io.Writer) error {
	flags := cli.Flags("testcases", stderr)
	var defPaths paths
	flags.Var(&defPaths, "definitions", "a definition file, or a folder of them (*.json); may be repeated")
	timeout := flags.Duration("timeout", testmode.DefaultTimeout, "wall-clock bound of each case")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: testcases [-definitions DIR|FILE]… CASES_DIR|CASE_FILE…")
		flags.PrintDefaults()
	}
	_ = flags.Parse(args)
	if flags.NArg() == 0 {
		flags.Usage()
		return errors.New("no test cases given")
	}
	exprs, err := expr.New(expr.DefaultLimits())
	if err != nil {
		return err
	}
	// Any database connection or service name is accepted: nothing is
	// connected to.
	e := &testmode.Engine{
		Registry: interpreter.NewRegistry(activities.NodeTypes(activities.IOOptions{})...),
		Exprs:    exprs,
		Timeout:  *timeout,
	}
	defs, err := loadDefinitions(e, defPaths)
	if err != nil {
		return err
	}
	files, err := jsonFiles(flags.Args())
	if err != nil {
		return err
	}
	failed := 0
	for _, f := range files {
		start := time.Now()
		mismatches := runCase(ctx, e, defs, f)
		if len(mismatches) == 0 {
			fmt.Fprintf(stdout, "ok    %s (%s)\n", f, time.Since(start).Round(time.Millisecond))
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL  %s\n", f)
		for _, m := range mismatches {
			fmt.Fprintf(stdout, "      %s\n", m)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d case(s) failed", failed, len(files))
	}
	fmt.Fprintf(stdout, "%d case(s) passed\n", len(files))
	return nil
}

// runCase runs one case file and lists what went wrong: a file that does
// not read, a request test mode refuses, or the mismatches of its run.
func runCase(ctx context.Context, e *testmode.Engine, defs definitions, file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	var c testmode.Case
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return []string{"not a test case: " + err.Error()}
	}
	if c.Expect == nil || c.Expect.Status == "" {
		return []string{`the case has no "expect": {"status": …}`}
	}
	r := testmode.Run{Input: c.Input, Mocks: c.Mocks}
	switch {
	case len(c.Definition) > 0:
		var problems []problem.Problem
		if r.Definition, problems = e.Parse(c.Definition); len(problems) > 0 {
			return problemLines(problems)
		}
	case c.ID != "":
		def, err := defs.find(c.ID, c.Version)
		if err != nil {
			return []string{err.Error()}
		}
		r.Definition = def
	default:
		return []string{`the case names no definition: give "definition", or "id" (and "version") of a -definitions file`}
	}
	res, problems, err := e.Execute(ctx, r)
	switch {
	case err != nil:
		return []string{err.Error()}
	case len(problems) > 0:
		return problemLines(problems)
	}
	return c.Expect.Mismatches(res)
}

func problemLines(problems []problem.Problem) []string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = fmt.Sprintf("%s: %s (%s)", p.Path, p.Message, p.Code)
	}
	return out
}

// definitions are the -definitions files' definitions, in the order read.
type definitions []interpreter.Definition

// find returns id at version; without a version, the only version of id
// the files hold.
func (d definitions) find(id, version string) (interpreter.Definition, error) {
	var found []interpreter.Definition
	for _, def := range d {
		if def.ID == id && (version == "" || def.Version == version) {
			found = append(found, def)
		}
	}
	switch {
	case len(found) == 0 && version != "":
		return interpreter.Definition{}, fmt.Errorf("no -definitions file holds %s version %s", id, version)
	case len(found) == 0:
		return interpreter.Definition{}, fmt.Errorf("no -definitions file holds %s", id)
	case len(found) > 1:
		return interpreter.Definition{}, fmt.Errorf("the -definitions files hold several versions of %s: name one with \"version\"", id)
	}
	return found[0], nil
}

func loadDefinitions(e *testmode.Engine, from []string) (definitions, error) {
	files, err := jsonFiles(from)
	if err != nil {
		return nil, err
	}
	var defs definitions
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		def, problems := interpreter.Parse(data, e.Registry, e.Exprs)
		if len(problems) > 0 {
			return nil, fmt.Errorf("%s: the definition has %d problem(s):\n  %s", f, len(problems), strings.Join(problemLines(problems), "\n  "))
		}
		defs = append(defs, def)
	}
	return defs, nil
}

// jsonFiles lists the files given, and the *.json files of the folders
// given (not their subfolders), each folder's in name order.
func jsonFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.json"))
		if err != nil {
			return nil, err
		}
		slices.Sort(matches)
		out = append(out, matches...)
	}
	return out, nil
}

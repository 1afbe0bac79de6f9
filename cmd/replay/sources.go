package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/app/process"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/replay"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// replayFiles replays each file, and each *.json file of each directory
// (sorted by name).
func replayFiles(ctx context.Context, paths []string, rep *reporter) error {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return err
		}
		if len(matches) == 0 {
			return fmt.Errorf("%s: no *.json history files", p)
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := replay.LoadFile(f)
		rep.check(f, h, err)
	}
	return nil
}

// replayQuery replays every execution of the interpreter workflow that the
// list query matches, fetching each history from Temporal. Executions of
// other workflow types are listed as skipped. pc is the replayer's codec.
func replayQuery(ctx context.Context, cfg config.Config, environ map[string]string, pc *codec.Codec, query string, rep *reporter) error {
	tc, err := process.DialTemporal(ctx, cfg, environ, process.NewLogger(cfg, rep.stderr), pc)
	if err != nil {
		return err
	}
	defer tc.Close()
	req := &workflowservice.ListWorkflowExecutionsRequest{Namespace: cfg.TemporalNamespace, Query: query}
	for {
		resp, err := tc.ListWorkflow(ctx, req)
		if err != nil {
			return fmt.Errorf("listing executions (query %q): %w", query, err)
		}
		for _, ex := range resp.GetExecutions() {
			id, runID := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			name := id + "/" + runID
			if t := ex.GetType().GetName(); t != interpreter.WorkflowName {
				fmt.Fprintf(rep.stdout, "SKIP %s: workflow type %q is not %q\n", name, t, interpreter.WorkflowName)
				continue
			}
			h, err := fetchHistory(ctx, tc, id, runID)
			rep.check(name, h, err)
		}
		if len(resp.GetNextPageToken()) == 0 {
			return nil
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// fetchHistory reads an execution's whole history (so far, if it runs).
func fetchHistory(ctx context.Context, tc client.Client, id, runID string) (*historypb.History, error) {
	it := tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the history: %w", err)
		}
		h.Events = append(h.Events, e)
	}
	return h, nil
}

package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	rtmetrics "runtime/metrics"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/memguard"
	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// durationSampleSize bounds the closed executions averageExecutionTime is
// computed from: the most recently closed ones, one visibility page.
const durationSampleSize = 100

// ExprCache reports on the compiled-expression cache (an *expr.Env).
type ExprCache interface {
	CacheStats() expr.CacheStats
	Limits() expr.Limits
}

// statistics is GET /api/workflows/statistics. Every number comes from a
// source named in the README: execution counts and durations from Temporal
// visibility (this namespace, the interpreter's workflow type, every
// caller; ?definitionId= narrows them to one definition), memory from this
// process's Go runtime, cacheStats from this process's result cache and
// expressionCache from its compiled-expression cache.
type statistics struct {
	ActiveWorkflows     int64 `json:"activeWorkflows"`
	CompletedWorkflows  int64 `json:"completedWorkflows"`
	FailedWorkflows     int64 `json:"failedWorkflows"`
	CanceledWorkflows   int64 `json:"canceledWorkflows"`
	TerminatedWorkflows int64 `json:"terminatedWorkflows"`
	TimedOutWorkflows   int64 `json:"timedOutWorkflows"`
	// AverageExecutionTime is the mean of CloseTime − StartTime, in
	// milliseconds, over the AverageExecutionTimeSample most recently
	// closed executions (at most durationSampleSize); null when none closed.
	AverageExecutionTime       *float64    `json:"averageExecutionTime"`
	AverageExecutionTimeSample int         `json:"averageExecutionTimeSample"`
	MemoryUsage                memoryUsage `json:"memoryUsage"`
	// MemoryGuard is the memory guard's state (MAX_MEMORY,
	// MEMORY_THRESHOLD); null when the API runs without one.
	MemoryGuard *memguard.Stats `json:"memoryGuard"`
	// CacheStats is this API process's result cache (cache.go).
	CacheStats resultCacheSummary `json:"cacheStats"`
	// ExpressionCache is this process's compiled-expression cache; null
	// without one.
	ExpressionCache *cacheSummary `json:"expressionCache"`
	Namespace       string        `json:"namespace"`
	WorkflowType    string        `json:"workflowType"`
	DefinitionID    string        `json:"definitionId,omitempty"`
}

// memoryUsage is this process's memory as the Go runtime accounts it
// (runtime/metrics), in bytes.
type memoryUsage struct {
	// HeapBytes: heap memory occupied by objects, live or not yet swept.
	HeapBytes uint64 `json:"heapBytes"`
	// TotalBytes: all memory the Go runtime has mapped (close to RSS).
	TotalBytes uint64 `json:"totalBytes"`
	// GCGoalBytes: the heap size at which the next collection starts.
	GCGoalBytes uint64 `json:"gcGoalBytes"`
	// LimitBytes: the soft memory limit (GOMEMLIMIT), null when unset.
	LimitBytes *uint64 `json:"limitBytes"`
}

// cacheSummary is the compiled-expression cache of this process.
type cacheSummary struct {
	HitRate float64 `json:"hitRate"`
	Size    int     `json:"size"`
	// MemoryUsage is always null: Go cannot measure the size of a compiled
	// CEL program, and an estimate would be invented. The cache is bounded
	// by MaxSize entries instead.
	MemoryUsage *uint64 `json:"memoryUsage"`
	Hits        uint64  `json:"hits"`
	Misses      uint64  `json:"misses"`
	MaxSize     int     `json:"maxSize"`
}

// resultCacheSummary is the result cache's figures: hits and misses of
// the executes that could be answered from it, the results held and the
// bytes of their keys and outputs (MemoryUsage), and its bounds.
type resultCacheSummary struct {
	HitRate     float64 `json:"hitRate"`
	Size        int     `json:"size"`
	MemoryUsage int64   `json:"memoryUsage"`
	Hits        uint64  `json:"hits"`
	Misses      uint64  `json:"misses"`
	MaxSize     int     `json:"maxSize"`
	MaxMemory   int64   `json:"maxMemory"`
}

func (s *Server) statistics(c echo.Context) error {
	ctx := c.Request().Context()
	out := statistics{Namespace: s.opts.Namespace, WorkflowType: interpreter.WorkflowName}
	query := fmt.Sprintf("WorkflowType = '%s'", interpreter.WorkflowName)
	if v := c.QueryParam("definitionId"); v != "" {
		if !problem.DefinitionID.Valid(v) {
			return newError(http.StatusBadRequest, codeInvalidQuery, "invalid query parameters").
				withDetails([]fieldError{badDefinitionIDParam})
		}
		// Checked against the pattern, so safe in the query.
		query += fmt.Sprintf(" AND %s = '%s'", interpreter.SearchAttrDefinitionID, v)
		out.DefinitionID = v
	}
	counts, err := s.countByStatus(ctx, query)
	if err != nil {
		return temporalError(err, "count executions")
	}
	out.ActiveWorkflows = counts[enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING]
	out.CompletedWorkflows = counts[enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED]
	out.FailedWorkflows = counts[enumspb.WORKFLOW_EXECUTION_STATUS_FAILED]
	out.CanceledWorkflows = counts[enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED]
	out.TerminatedWorkflows = counts[enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED]
	out.TimedOutWorkflows = counts[enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT]

	if out.AverageExecutionTime, out.AverageExecutionTimeSample, err = s.averageDuration(ctx, query); err != nil {
		return temporalError(err, "sample closed executions")
	}
	out.MemoryUsage = readMemoryUsage()
	if s.opts.Memory != nil {
		st := s.opts.Memory.Stats()
		out.MemoryGuard = &st
	}
	rs := s.results.Stats()
	out.CacheStats = resultCacheSummary{
		HitRate: rs.HitRate(), Hits: rs.Hits, Misses: rs.Misses, Size: rs.Entries, MemoryUsage: rs.Bytes,
		MaxSize: rs.MaxEntries, MaxMemory: rs.MaxBytes,
	}
	if s.opts.ExprCache != nil {
		st := s.opts.ExprCache.CacheStats()
		out.ExpressionCache = &cacheSummary{
			HitRate: st.HitRate(), Size: st.Size, Hits: st.Hits, Misses: st.Misses,
			MaxSize: s.opts.ExprCache.Limits().CacheSize,
		}
	}
	return ok(c, http.StatusOK, out)
}

// countByStatus counts the executions query selects per status in one
// visibility request (one consistent answer, not one per status).
func (s *Server) countByStatus(ctx context.Context, query string) (map[enumspb.WorkflowExecutionStatus]int64, error) {
	resp, err := s.opts.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: s.opts.Namespace,
		Query:     query + " GROUP BY ExecutionStatus",
	})
	if err != nil {
		return nil, err
	}
	counts := map[enumspb.WorkflowExecutionStatus]int64{}
	for _, g := range resp.GetGroups() {
		vals := g.GetGroupValues()
		if len(vals) != 1 {
			return nil, fmt.Errorf("count group has %d values, want 1", len(vals))
		}
		// Visibility values are plain JSON, never encrypted.
		var name string
		if err := converter.GetDefaultDataConverter().FromPayload(vals[0], &name); err != nil {
			return nil, fmt.Errorf("count group value: %w", err)
		}
		status, err := enumspb.WorkflowExecutionStatusFromString(name)
		if err != nil {
			return nil, fmt.Errorf("count group value %q is not an execution status", name)
		}
		counts[status] = g.GetCount()
	}
	return counts, nil
}

// averageDuration is the mean CloseTime − StartTime in milliseconds of the
// most recently closed executions query selects (visibility lists closed
// executions by close time, newest first), and how many it averaged.
func (s *Server) averageDuration(ctx context.Context, query string) (*float64, int, error) {
	resp, err := s.opts.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: s.opts.Namespace,
		PageSize:  durationSampleSize,
		// A run that continued as new is not a closed execution.
		Query: query + " AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'",
	})
	if err != nil {
		return nil, 0, err
	}
	var totalMs float64
	n := 0
	for _, info := range resp.GetExecutions() {
		if info.GetCloseTime() == nil || info.GetStartTime() == nil {
			continue
		}
		totalMs += float64(info.GetCloseTime().AsTime().Sub(info.GetStartTime().AsTime()).Microseconds()) / 1000
		n++
		if n == durationSampleSize {
			break
		}
	}
	if n == 0 {
		return nil, 0, nil
	}
	avg := totalMs / float64(n)
	return &avg, n, nil
}

// readMemoryUsage reads the process's memory from runtime/metrics (cheap:
// no stop-the-world, unlike runtime.ReadMemStats).
func readMemoryUsage() memoryUsage {
	samples := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/gc/gomemlimit:bytes"},
	}
	rtmetrics.Read(samples)
	value := func(i int) uint64 {
		if samples[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	m := memoryUsage{HeapBytes: value(0), TotalBytes: value(1), GCGoalBytes: value(2)}
	// math.MaxInt64 means no limit.
	if limit := value(3); limit != 0 && limit != math.MaxInt64 {
		m.LimitBytes = &limit
	}
	return m
}

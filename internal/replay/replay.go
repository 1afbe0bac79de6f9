// Package replay replays recorded workflow histories against the current
// interpreter, the way a worker would on recovery, and says where a history
// and the code part ways. The replay command and the interpreter's tests use
// it; it links the SDK's replayer only, never the Temporal server.
package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// History is a workflow history, as read from a file or from Temporal.
type History = historypb.History

// Replayer replays histories of the interpreter workflow.
type Replayer struct {
	sdk worker.WorkflowReplayer
}

// New returns a replayer for interp. pc decodes the payloads and failures
// of encrypted histories (nil: plain histories only, and an encrypted one
// fails naming the key id it needs); histories recorded without encryption
// replay with any codec.
func New(interp *interpreter.Interpreter, pc *codec.Codec) (*Replayer, error) {
	opts := worker.WorkflowReplayerOptions{
		// As on the workers: the workflow is known only by its name.
		DisableRegistrationAliasing: true,
	}
	if pc != nil {
		// Decode payloads and failures as the workers' client does.
		opts.DataConverter, opts.FailureConverter = pc.Converters()
	} else {
		opts.DataConverter = codec.PlainDataConverter()
	}
	r, err := worker.NewWorkflowReplayerWithOptions(opts)
	if err != nil {
		return nil, err
	}
	interp.Register(r)
	return &Replayer{sdk: r}, nil
}

// LoadFile reads a history as `temporal workflow show -o json` writes it.
func LoadFile(path string) (*historypb.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: not a history in JSON: %w", path, err)
	}
	// Unknown fields are ignored (histories from older servers), so any
	// JSON object reads as an empty history.
	if len(h.GetEvents()) == 0 {
		return nil, fmt.Errorf("%s: no events (export a history with `temporal workflow show -o json`)", path)
	}
	return h, nil
}

// WriteFile writes h as `temporal workflow show -o json` does (indented,
// so that re-recorded histories diff well); LoadFile reads it back.
func WriteFile(path string, h *historypb.History) error {
	compact, err := protojson.Marshal(h)
	if err != nil {
		return err
	}
	// protojson varies its whitespace on purpose; re-indent for stable diffs.
	var indented bytes.Buffer
	if err := json.Indent(&indented, compact, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(path, append(indented.Bytes(), '\n'), 0o644)
}

// Replay replays h. A history the current code cannot reproduce yields a
// *NonDeterminism naming the first event where they differ; other failures
// (an undecodable payload, a truncated file) are returned as they are.
func (r *Replayer) Replay(h *historypb.History) error {
	err := r.replay(h)
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), differentEnding):
		last := h.GetEvents()[len(h.GetEvents())-1]
		return nonDeterminism(last, err.Error())
	case isNonDeterminism(err):
		return locate(h, err, r.replay)
	}
	return err
}

// differentEnding starts the SDK's error for a history that closed
// otherwise than the code now closes it (completed, say, where the code
// fails): the difference is the history's last event.
const differentEnding = "replay workflow doesn't return the same result as the last event"

func (r *Replayer) replay(h *historypb.History) error {
	// The execution's own id, where the history records it: a call node's
	// child id is derived from it (interpreter.CallChildID), and without it
	// the SDK replays under a made-up id.
	var opts worker.ReplayWorkflowHistoryOptions
	if events := h.GetEvents(); len(events) > 0 {
		if started := events[0].GetWorkflowExecutionStartedEventAttributes(); started.GetWorkflowId() != "" {
			opts.OriginalExecution = workflow.Execution{ID: started.GetWorkflowId(), RunID: started.GetOriginalExecutionRunId()}
		}
	}
	return r.sdk.ReplayWorkflowHistoryWithOptions(quietLogger{}, h, opts)
}

// nonDeterminismCode marks the SDK's non-determinism errors ("[TMPRL1100]
// nondeterministic workflow: …"); the SDK does not export a type for them.
const nonDeterminismCode = "TMPRL1100"

func isNonDeterminism(err error) bool {
	var nd *NonDeterminism
	return errors.As(err, &nd) || strings.Contains(err.Error(), nonDeterminismCode)
}

// quietLogger drops the replayer's own logs: a failure comes back as the
// error, and the SDK otherwise logs every replayed task.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

var _ sdklog.Logger = quietLogger{}

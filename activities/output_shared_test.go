package activities

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// A transform mapping many keys to one big input string makes an output
// whose JSON is keys × the string, though it holds one copy: the output cap
// measures it before marshalling, so the node fails without allocating it.
func TestSharedOutputRefusedBeforeMarshal(t *testing.T) {
	env := newEnv(t, 0) // the default cap, 256 KiB
	mapping := map[string]string{}
	for i := range 2000 {
		mapping[fmt.Sprintf("k%d", i)] = "input.s"
	}
	config, _ := json.Marshal(map[string]any{"mapping": mapping})
	input, _ := json.Marshal(map[string]any{"s": strings.Repeat("abcdefgh", 200<<10/8)})
	req := nodeRequest(t, "shape", TypeTransform, string(config), string(input))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := execNode(t, env, req)
	runtime.ReadMemStats(&after)
	appErr := appError(t, err, interpreter.ErrPayloadTooBig)
	if !strings.Contains(appErr.Message(), "output is over 262144 bytes") {
		t.Fatalf("message %q", appErr.Message())
	}
	// The output as JSON would be 400 MB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("the node allocated %d MB", alloc>>20)
	}
}

package activities

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"testing"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TestEveryNodeTypeIsDocumented derives from the one list and the
// interpreter's own types: every node type
// has its reference section in docs/nodes.md ("## name") or, where that file
// does not exist, its row in the README's node type table ("| `name` |").
func TestEveryNodeTypeIsDocumented(t *testing.T) {
	doc, pattern := "../docs/nodes.md", "(?m)^## %s$"
	data, err := os.ReadFile(doc)
	if errors.Is(err, fs.ErrNotExist) {
		doc, pattern = "../README.md", "(?m)^\\| `%s` \\|"
		data, err = os.ReadFile(doc)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The registry adds the types the interpreter carries out (wait, call, respond, loop, map).
	for _, name := range interpreter.NewRegistry(NodeTypes(IOOptions{})...).Names() {
		if !regexp.MustCompile(fmt.Sprintf(pattern, regexp.QuoteMeta(name))).Match(data) {
			t.Errorf("%s does not document node type %s", doc, name)
		}
	}
}

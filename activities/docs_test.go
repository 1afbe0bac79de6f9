package activities

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"testing"
)

// TestEveryNodeTypeIsDocumented derives from the one list: every node type
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
	for _, nt := range NodeTypes(IOOptions{}) {
		if !regexp.MustCompile(fmt.Sprintf(pattern, regexp.QuoteMeta(nt.Name))).Match(data) {
			t.Errorf("%s does not document node type %s", doc, nt.Name)
		}
	}
}

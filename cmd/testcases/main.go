// Command testcases runs a folder of test-case files against definitions
// offline, in test mode (internal/testmode): the real interpreter and pure
// node types in the SDK's in-process test environment, every I/O node
// answered by its mock. It needs no Temporal server and no database, so a
// CI job can run it:
//
//	testcases -definitions workflows/ cases/
//	testcases -definitions order.json -definitions payments/ cases/declined.json
//
// A case file is the body of POST /api/workflows/test (an inline
// "definition", or "id" and "version"? of one of the -definitions files,
// "input", "mocks") plus "expect": {"status", "output"?, "error"?, "path"?}.
// It prints one line per case and exits with status 1 listing every
// mismatch when a case fails.
package main

import "github.com/workflow-backend/workflow-backend/internal/cli"

func main() { cli.Main("testcases", run) }

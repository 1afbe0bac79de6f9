package activities

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeFileProcessing reads, summarises and writes files under the storage
// root.
const TypeFileProcessing = "file_processing"

// Error types of a file_processing node. Cross-process contract: append only.
const (
	// ErrPathRefused: the path leaves the storage root (.., an absolute
	// path, a symbolic link pointing outside). Never retried.
	ErrPathRefused = "PathRefused"
	// ErrFileNotFound: nothing at the path. Never retried.
	ErrFileNotFound = "FileNotFound"
	// ErrInvalidFile: not a regular file, or not the CSV or JSON the
	// operation expects. Never retried.
	ErrInvalidFile = "InvalidFile"
	// ErrFileTooLarge: a JSON file over MaxJSONFileBytes. Never retried.
	ErrFileTooLarge = "FileTooLarge"
)

// File operations.
const (
	FileParseCSV  = "parse_csv"
	FileParseJSON = "parse_json"
	FileChecksum  = "checksum"
	FileWrite     = "write"
)

const (
	// DefaultCSVPreview is how many data rows parse_csv returns when its
	// config has no preview.
	DefaultCSVPreview = 5
	// MaxCSVPreview bounds preview: the output is a summary, not the file.
	MaxCSVPreview = 100
	// MaxJSONFileBytes bounds parse_json. The file is streamed, but a single
	// string or number token is held whole.
	MaxJSONFileBytes = 64 << 20
	// maxJSONKeys bounds the keys parse_json lists for an object.
	maxJSONKeys = 100
	// heartbeatBytes is how much is read between two heartbeats.
	heartbeatBytes = 1 << 20
)

// FileProcessingConfig is the config of a file_processing node. Paths are
// relative to the worker's storage root; outputs are references and
// summaries, never the file.
//
//	{"operation": "parse_csv", "path": "'imports/' + input.fileName", "preview": 3}
//	{"operation": "write", "path": "'exports/' + execution.id + '.json'", "content": "nodes.report"}
type FileProcessingConfig struct {
	// Operation is parse_csv, parse_json, checksum or write.
	Operation string `json:"operation"`
	// Path is a CEL string.
	Path string `json:"path"`

	// Header (parse_csv) says the first record names the columns. Optional:
	// default true.
	Header *bool `json:"header,omitempty"`
	// Delimiter (parse_csv) is one character. Optional: default ",".
	Delimiter string `json:"delimiter,omitempty"`
	// Preview (parse_csv) is how many data rows to return, 0 to
	// MaxCSVPreview. Optional: default DefaultCSVPreview.
	Preview *int `json:"preview,omitempty"`

	// Content (write) is CEL: a string is written as it is, anything else
	// as JSON.
	Content string `json:"content,omitempty"`
	// Format (write): "text" requires a string, "json" encodes even a
	// string as JSON. Optional.
	Format string `json:"format,omitempty"`
}

// FileNodes runs file_processing nodes.
type FileNodes struct {
	*Activities
	// Root is the storage root directory; it must exist. Nodes cannot reach
	// outside it.
	Root string

	mu   sync.Mutex
	root *os.Root // Root, opened by the first node that finds it
}

// openRoot returns Root opened, opening it on first use: FileNodes is built
// as a literal, so there is no constructor to open it in. A failed open is
// not kept, so a root that appears later (a volume mounted after the worker
// started) is picked up by the next node.
func (f *FileNodes) openRoot() (*os.Root, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.root == nil {
		r, err := os.OpenRoot(f.Root)
		if err != nil {
			return nil, err
		}
		f.root = r
	}
	return f.root, nil
}

// fileProcessingNode is the file_processing node type. A node's output, by
// operation (path is the cleaned path relative to the root, bytes the size
// read or written):
//
//	parse_csv:  {"path", "bytes", "rows": data rows, "columns": n,
//	             "header": [names] | null without header, "preview": [[cells], ...]}
//	parse_json: {"path", "bytes", "type": object|array|string|number|boolean|null,
//	             "length": keys or elements (objects and arrays), "keys": [first 100] (objects)}
//	checksum:   {"path", "bytes", "sha256"}
//	write:      {"path", "bytes", "sha256"}
//
// Reads heartbeat every heartbeatBytes. A write goes to a temporary file
// renamed over the path, so readers never see half a file and a retried
// write simply replaces it.
func fileProcessingNode(f *FileNodes) spec[FileProcessingConfig, FileProcessingConfig] {
	return spec[FileProcessingConfig, FileProcessingConfig]{Name: TypeFileProcessing, Kind: interpreter.KindIO,
		ConfigSchema: fileProcessingConfigSchema, Compile: compileFileProcessing, Run: f.fileProcessing}
}

func (f *FileNodes) fileProcessing(ctx context.Context, node interpreter.Node, cfg FileProcessingConfig, vars map[string]any) (any, string, error) {
	subject := fmt.Sprintf("node %q", node.ID)
	raw, err := f.Expr.EvalString(ctx, cfg.Path, vars)
	if err != nil {
		return nil, "", exprError(subject, "path", err)
	}
	path, err := storagePath(raw)
	if err != nil {
		return nil, "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: path %q: %v", subject, raw, err), ErrPathRefused, nil)
	}
	if f.Root == "" {
		return nil, "", temporal.NewNonRetryableApplicationError(
			subject+": no storage root is configured on this worker", interpreter.ErrConfiguration, nil)
	}
	root, err := f.openRoot()
	if err != nil {
		// The error names the directory: the log has it, the answer not.
		activity.GetLogger(ctx).Error("file_processing: storage root", "error", err)
		return nil, "", temporal.NewNonRetryableApplicationError(
			subject+": the storage root (STORAGE_ROOT) cannot be opened on this worker", interpreter.ErrConfiguration, nil)
	}

	var out map[string]any
	if cfg.Operation == FileWrite {
		var data []byte
		if data, err = f.writeContent(ctx, cfg, vars, subject); err != nil {
			return nil, "", err
		}
		out, err = writeFile(root, path, data)
	} else {
		out, err = readFile(ctx, root, path, cfg)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, "", ctxErr
		}
		return nil, "", fileError(subject, path, err)
	}
	out["path"] = path
	return out, interpreter.OutcomeSuccess, nil
}

// compileFileProcessing checks a file_processing config, reporting every
// problem.
func compileFileProcessing(cfg FileProcessingConfig, c *compiling) FileProcessingConfig {
	switch cfg.Operation {
	case FileParseCSV, FileParseJSON, FileChecksum, FileWrite:
	case "":
		c.Add("operation", interpreter.CodeRequired, "operation is required: parse_csv, parse_json, checksum or write")
	default:
		c.Add("operation", interpreter.CodeInvalidConfig, "unknown operation %q: use parse_csv, parse_json, checksum or write", cfg.Operation)
	}
	c.expression("path", cfg.Path)

	// Options of another operation are mistakes, not silently ignored.
	only := func(path, op string, set bool) bool {
		if set && cfg.Operation != op {
			c.Add(path, interpreter.CodeInvalidConfig, "%s applies to operation %s only", path, op)
			return false
		}
		return set
	}
	if cfg.Operation == FileWrite {
		c.expression("content", cfg.Content)
	} else {
		only("content", FileWrite, cfg.Content != "")
	}
	if only("format", FileWrite, cfg.Format != "") && cfg.Format != "text" && cfg.Format != "json" {
		c.Add("format", interpreter.CodeInvalidConfig, "unknown format %q: use text or json", cfg.Format)
	}
	only("header", FileParseCSV, cfg.Header != nil)
	if only("delimiter", FileParseCSV, cfg.Delimiter != "") {
		r, size := utf8.DecodeRuneInString(cfg.Delimiter)
		if size != len(cfg.Delimiter) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			c.Add("delimiter", interpreter.CodeInvalidConfig, "delimiter must be one character other than a quote or a line break")
		}
	}
	if only("preview", FileParseCSV, cfg.Preview != nil) && (*cfg.Preview < 0 || *cfg.Preview > MaxCSVPreview) {
		c.Add("preview", interpreter.CodeInvalidConfig, "preview must be from 0 to %d rows", MaxCSVPreview)
	}
	return cfg
}

// storagePath checks a path an expression produced and returns it cleaned and
// slash-separated, as the output names it. os.Root enforces the boundary
// itself (symbolic links included); checking here first gives the common
// mistakes a clear message.
func storagePath(p string) (string, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return "", errors.New("the path is empty")
	case strings.ContainsRune(p, 0):
		return "", errors.New("the path contains a NUL byte")
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return "", errors.New("absolute paths are refused: paths are relative to the storage root")
	case slices.Contains(strings.Split(filepath.ToSlash(p), "/"), ".."):
		return "", errors.New(`".." is refused: paths stay under the storage root`)
	}
	clean := filepath.Clean(p)
	if clean == "." || !filepath.IsLocal(clean) {
		return "", errors.New("the path names no file under the storage root")
	}
	return filepath.ToSlash(clean), nil
}

// invalidFileError: the file is not what the operation reads.
type invalidFileError string

func (e invalidFileError) Error() string { return string(e) }

// errTooLarge is wrapped by the error of a file over an operation's limit.
var errTooLarge = errors.New("file too large")

// fileError turns a failed file operation into the error the retry policy
// and the node's error edges see. Anything unclassified (a full disk, a
// permission) is left to the retry policy.
func fileError(subject, path string, err error) error {
	nonRetryable := func(typ, format string, args ...any) error {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: %s: ", subject, path)+fmt.Sprintf(format, args...), typ, nil)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nonRetryable(ErrFileNotFound, "no such file under the storage root")
	case escapesRoot(err):
		return nonRetryable(ErrPathRefused, "the path leads outside the storage root (through a symbolic link)")
	case errors.As(err, new(invalidFileError)):
		return nonRetryable(ErrInvalidFile, "%v", err)
	case errors.Is(err, errTooLarge):
		return nonRetryable(ErrFileTooLarge, "%v", err)
	}
	return fmt.Errorf("%s: %s: %w", subject, path, err)
}

// escapesRoot reports whether os.Root refused err's path for leaving the
// root. The os package does not export that error, only its text; the
// symbolic-link test pins it.
func escapesRoot(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// readFile runs a reading operation and returns its output without the path.
func readFile(ctx context.Context, root *os.Root, path string, cfg FileProcessingConfig) (map[string]any, error) {
	// Stat before opening: opening a FIFO would block until a writer came.
	info, err := root.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, invalidFileError("not a regular file")
	}
	if cfg.Operation == FileParseJSON && info.Size() > MaxJSONFileBytes {
		return nil, fmt.Errorf("%w: %d bytes; parse_json reads at most %d", errTooLarge, info.Size(), MaxJSONFileBytes)
	}
	file, err := root.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = file.Close() }()

	r := &progressReader{ctx: ctx, r: file, next: heartbeatBytes}
	var out map[string]any
	switch cfg.Operation {
	case FileChecksum:
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return nil, err
		}
		out = map[string]any{"sha256": hex.EncodeToString(h.Sum(nil))}
	case FileParseCSV:
		out, err = summarizeCSV(r, cfg)
	case FileParseJSON:
		out, err = summarizeJSON(r)
	}
	if err != nil {
		return nil, err
	}
	out["bytes"] = r.n
	return out, nil
}

// progressReader counts what it reads and heartbeats every heartbeatBytes,
// so a long file keeps its activity alive under a heartbeat timeout and
// stops soon after a cancellation (which heartbeats deliver).
type progressReader struct {
	ctx  context.Context
	r    io.Reader
	n    int64 // bytes read
	next int64 // heartbeat when n reaches it
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n >= p.next {
		activity.RecordHeartbeat(p.ctx, p.n)
		p.next = p.n + heartbeatBytes
	}
	return n, err
}

// summarizeCSV counts the records of a CSV file and keeps the header and the
// first preview rows. Every record must have as many fields as the first.
func summarizeCSV(r io.Reader, cfg FileProcessingConfig) (map[string]any, error) {
	br := bufio.NewReader(r)
	// Spreadsheet exports often start with a byte order mark, which is not
	// part of the first column's name.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	if cfg.Delimiter != "" {
		cr.Comma, _ = utf8.DecodeRuneInString(cfg.Delimiter)
	}
	cr.ReuseRecord = true
	wantHeader := cfg.Header == nil || *cfg.Header
	previewRows := DefaultCSVPreview
	if cfg.Preview != nil {
		previewRows = *cfg.Preview
	}

	var header []string
	preview := [][]string{}
	rows, columns := 0, 0
	for {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			return nil, invalidFileError("not CSV: " + err.Error())
		}
		if err != nil {
			return nil, err
		}
		columns = len(record)
		if wantHeader && header == nil {
			header = slices.Clone(record)
			continue
		}
		if len(preview) < previewRows {
			preview = append(preview, slices.Clone(record))
		}
		rows++
	}
	out := map[string]any{"rows": rows, "columns": columns, "preview": preview, "header": nil}
	if wantHeader {
		if header == nil {
			header = []string{} // an empty file
		}
		out["header"] = header
	}
	return out, nil
}

// summarizeJSON streams one JSON document and describes its top-level value.
func summarizeJSON(r io.Reader) (map[string]any, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber() // numbers are skipped, not converted
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidJSON(err)
	}
	out := map[string]any{}
	switch t := tok.(type) {
	case json.Delim: // '{' or '['
		length, keys := 0, []string{}
		for dec.More() {
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return nil, invalidJSON(err)
				}
				if len(keys) < maxJSONKeys {
					keys = append(keys, key.(string))
				}
			}
			if err := skipJSONValue(dec); err != nil {
				return nil, invalidJSON(err)
			}
			length++
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, invalidJSON(err)
		}
		out["type"], out["length"] = "array", length
		if t == '{' {
			out["type"], out["keys"] = "object", keys
		}
	case string:
		out["type"] = "string"
	case json.Number:
		out["type"] = "number"
	case bool:
		out["type"] = "boolean"
	case nil:
		out["type"] = "null"
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, invalidFileError("more than one JSON value")
		}
		return nil, invalidJSON(err)
	}
	return out, nil
}

// skipJSONValue reads the next value, however deep, without keeping it.
func skipJSONValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// invalidJSON marks a decoding error as the file's fault; a read error stays
// what it is.
func invalidJSON(err error) error {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return invalidFileError("not JSON: " + err.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidFileError("not JSON: unexpected end of file")
	}
	return err
}

// writeContent evaluates a write node's content into the bytes to write.
func (f *FileNodes) writeContent(ctx context.Context, cfg FileProcessingConfig, vars map[string]any, subject string) ([]byte, error) {
	if cfg.Format == "text" {
		s, err := f.Expr.EvalString(ctx, cfg.Content, vars)
		if err != nil {
			return nil, exprError(subject, "content", err)
		}
		return []byte(s), nil
	}
	v, err := f.Expr.Eval(ctx, cfg.Content, vars)
	if err != nil {
		return nil, exprError(subject, "content", err)
	}
	if cfg.Format == "" {
		switch x := v.(type) {
		case string:
			return []byte(x), nil
		case []byte:
			return x, nil
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: content is not JSON: %v", subject, err), interpreter.ErrExpression, nil)
	}
	return append(data, '\n'), nil
}

// writeFile writes data to a temporary file beside path and renames it over
// path, creating the directories on the way; it returns the output without
// the path.
func writeFile(root *os.Root, path string, data []byte) (map[string]any, error) {
	dir := filepath.Dir(path)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+rand.Text())
	file, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = root.Rename(tmp, path)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return nil, err
	}
	// The rename survives a crash once the directory is synced. Best effort:
	// some file systems cannot sync a directory, and the data is written.
	if d, err := root.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	sum := sha256.Sum256(data)
	return map[string]any{"bytes": len(data), "sha256": hex.EncodeToString(sum[:])}, nil
}

// fileProcessingConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const fileProcessingConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["operation", "path"],
	"properties": {
		"operation": {"enum": ["parse_csv", "parse_json", "checksum", "write"]},
		"path": {"type": "string", "minLength": 1, "description": "CEL string, relative to the storage root"},
		"header": {"type": "boolean"},
		"delimiter": {"type": "string", "maxLength": 1},
		"preview": {"type": "integer", "minimum": 0, "maximum": 100},
		"content": {"type": "string", "description": "CEL"},
		"format": {"enum": ["", "text", "json"]}
	},
	"$comment": "An option of another operation is refused; registration reads an empty string as not set.",
	"allOf": [
		{"if": {"properties": {"operation": {"const": "write"}}}, "then": {"required": ["content"]}, "else": {"not": {"anyOf": [
			{"required": ["content"], "properties": {"content": {"minLength": 1}}},
			{"required": ["format"], "properties": {"format": {"minLength": 1}}}
		]}}},
		{"if": {"properties": {"operation": {"const": "parse_csv"}}}, "else": {"not": {"anyOf": [
			{"required": ["header"]},
			{"required": ["delimiter"], "properties": {"delimiter": {"minLength": 1}}},
			{"required": ["preview"]}
		]}}}
	]
}`

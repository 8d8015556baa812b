package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/workload"
)

// Document is one object of the input.
type Document struct {
	// File is the path the document was read from ("-" for stdin), or for
	// a document of standard input the template Helm names in its
	// "# Source:" comment, or the --stdin-filename (see Read).
	File string
	// Line is the 1-based line of File the document starts at.
	Line int
	// RawLine is the line of File that Raw's first line is: Raw's line i
	// (from 0) is File's line RawLine+i. It differs from Line for Helm's
	// templates, whose "# Source:" comment is not a line of the template.
	RawLine int
	// Path is the input the document was read from: the file, or "-".
	Path string
	// Raw is the document's YAML (or JSON) text as written: Path's bytes
	// from Start to End (for List items, the whole List).
	Raw        []byte
	Start, End int
	// APIVersion, Kind, Namespace and Name are read from the document.
	APIVersion, Kind, Namespace, Name string
	// Object is the typed object for the kinds modeguard reads (core/v1,
	// apps/v1, autoscaling); nil for other kinds, which are passed through.
	Object runtime.Object
	// InList is true for an item of a List object.
	InList bool
}

// Where is "file:line".
func (d Document) Where() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Error is an input error that names its file and line.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// MaxFileSize bounds one input file (the API server takes 3 MiB objects;
// a manifest file may hold many).
const MaxFileSize = 64 << 20

// Extensions a directory walk reads.
var Extensions = []string{".yaml", ".yml", ".json"}

// ReadPaths reads every path: "-" is stdin, a directory is walked for
// *.yaml, *.yml and *.json files (sorted), anything else is read as a file.
// Files and documents that are not Kubernetes manifests are left out (Read
// says which).
func ReadPaths(paths []string, stdin io.Reader) ([]Document, error) {
	in, err := Read(paths, stdin, ReadOptions{})
	if err != nil {
		return nil, err
	}
	return in.Docs, nil
}

func readFile(f string) ([]byte, error) {
	st, err := os.Stat(f)
	if err != nil {
		return nil, &Error{File: f, Err: errors.Unwrap(err)}
	}
	if st.Size() > MaxFileSize {
		return nil, &Error{File: f, Err: errTooLarge(int(st.Size()))}
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, &Error{File: f, Err: errors.Unwrap(err)}
	}
	return data, nil
}

func errTooLarge(n int) error {
	return fmt.Errorf("file is %d bytes, more than the %d this tool reads", n, MaxFileSize)
}

func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, &Error{File: p, Err: errors.Unwrap(err)}
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		for _, ext := range Extensions {
			if strings.HasSuffix(d.Name(), ext) {
				out = append(out, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, &Error{File: p, Err: err}
	}
	sort.Strings(out)
	return out, nil
}

var separator = regexp.MustCompile(`^---(\s.*)?$`)

// Parse splits data into its documents (YAML separated by "---" lines, or
// one JSON document), skipping empty ones, and decodes each. List objects
// are expanded into their items.
func Parse(file string, data []byte) ([]Document, error) {
	docs, skipped, err := parse(file, data)
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		return nil, &Error{File: file, Line: skipped[0].Line, Err: errors.New(skipped[0].Reason)}
	}
	return docs, nil
}

// parse is Parse, but documents that are not Kubernetes objects (no
// apiVersion or kind at the top level, not a mapping) are returned as
// skipped rather than failing the file; YAML that does not parse still does.
func parse(file string, data []byte) ([]Document, []Skipped, error) {
	if !isText(data) {
		return nil, nil, &Error{File: file, Err: errors.New("not a text file (YAML or JSON expected)")}
	}
	var docs []Document
	var skipped []Skipped
	lines := bytes.SplitAfter(data, []byte("\n"))
	start, from, offset, fromOffset := 1, 0, 0, 0
	flush := func(upto int) error {
		raw := bytes.Join(lines[from:upto], nil)
		d, err := parseDoc(file, start, raw)
		var ne *notObject
		if errors.As(err, &ne) {
			skipped = append(skipped, Skipped{File: file, Line: start, Reason: ne.reason})
			return nil
		}
		if err != nil {
			return err
		}
		for i := range d {
			d[i].Start, d[i].End = fromOffset, fromOffset+len(raw)
			d[i].Path, d[i].RawLine = file, start
			if !d[i].InList {
				d[i].Raw = raw
			}
		}
		docs = append(docs, d...)
		return nil
	}
	for i, l := range lines {
		if separator.Match(bytes.TrimRight(l, "\r\n")) {
			if err := flush(i); err != nil {
				return nil, nil, err
			}
			from, start, fromOffset = i+1, i+2, offset+len(l)
		}
		offset += len(l)
	}
	if err := flush(len(lines)); err != nil {
		return nil, nil, err
	}
	return docs, skipped, nil
}

// notObject is a document that is not a Kubernetes object; parse skips it.
type notObject struct{ reason string }

func (e *notObject) Error() string { return e.reason }

func isText(data []byte) bool {
	n := min(len(data), 8000)
	return !bytes.Contains(data[:n], []byte{0})
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func parseDoc(file string, line int, raw []byte) ([]Document, error) {
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, &Error{File: file, Line: line + yamlErrLine(err) - 1, Err: fmt.Errorf("YAML: %s", cleanYAMLErr(err))}
	}
	j = bytes.TrimSpace(j)
	if len(j) == 0 || bytes.Equal(j, []byte("null")) {
		return nil, nil
	}
	if j[0] != '{' {
		return nil, &notObject{"document is not an object (a Kubernetes manifest is a mapping with apiVersion and kind)"}
	}
	var h header
	if err := json.Unmarshal(j, &h); err != nil {
		return nil, &Error{File: file, Line: line, Err: err}
	}
	if h.Kind == "" || h.APIVersion == "" {
		return nil, &notObject{"document has no apiVersion or kind"}
	}
	if strings.HasPrefix(h.APIVersion, "kustomize.config.k8s.io/") {
		return nil, &notObject{"a kustomize " + h.Kind + ", not a Kubernetes object"}
	}
	if strings.HasSuffix(h.Kind, "List") && h.Metadata.Name == "" {
		var out []Document
		for i, item := range h.Items {
			d, err := parseDoc(file, line, item)
			var ne *notObject
			if errors.As(err, &ne) {
				err = &Error{File: file, Line: line, Err: err}
			}
			if err != nil {
				return nil, fmt.Errorf("%s item %d: %w", h.Kind, i, err)
			}
			for k := range d {
				d[k].InList = true
			}
			out = append(out, d...)
		}
		return out, nil
	}
	d := Document{File: file, Line: line, Raw: raw, APIVersion: h.APIVersion, Kind: h.Kind, Namespace: h.Metadata.Namespace, Name: h.Metadata.Name}
	obj, err := workload.Decode(j)
	switch {
	case err == nil:
		d.Object = obj
	case errors.Is(err, workload.ErrUnsupportedKind):
	default:
		return nil, &Error{File: file, Line: line, Err: fmt.Errorf("%s %s: %v", h.Kind, h.Metadata.Name, err)}
	}
	return []Document{d}, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 1
	}
	n := 0
	fmt.Sscanf(m[1], "%d", &n)
	if n < 1 {
		return 1
	}
	return n
}

func cleanYAMLErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error converting YAML to JSON: ")
	return strings.TrimPrefix(s, "yaml: ")
}

// DefaultNamespace sets ns on every namespaced object that has none, as
// kubectl does with the current context's namespace.
func DefaultNamespace(docs []Document, ns string) {
	for i := range docs {
		d := &docs[i]
		if d.Namespace != "" || d.Object == nil {
			continue
		}
		if k := workload.KindOf(d.Object); k != nil && !k.Namespaced {
			continue
		}
		if m, ok := d.Object.(interface{ SetNamespace(string) }); ok {
			m.SetNamespace(ns)
			d.Namespace = ns
		}
	}
}

// Objects returns the typed objects of docs.
func Objects(docs []Document) []runtime.Object {
	var out []runtime.Object
	for _, d := range docs {
		if d.Object != nil {
			out = append(out, d.Object)
		}
	}
	return out
}

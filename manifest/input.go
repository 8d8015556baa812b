package manifest

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ReadOptions tune Read.
type ReadOptions struct {
	// StdinFilename names the documents of standard input that carry no
	// Helm "# Source:" comment (the file they were rendered from, relative
	// to the repository root); empty leaves them "-".
	StdinFilename string
	// Ignore are globs (path.Match, over slash-separated paths) of files a
	// directory walk leaves out: a glob matches the path as given, or any
	// trailing part of it ("*.tmpl.yaml", "testdata/*").
	Ignore []string
}

// Input is what Read read.
type Input struct {
	// Docs are the Kubernetes objects, in input order.
	Docs []Document
	// Skipped are the files and documents left out as not Kubernetes
	// manifests, each with why.
	Skipped []Skipped
	// Files are the inputs read, in order, with their bytes ("-" for stdin).
	Files []File
}

// File is one input and its bytes.
type File struct {
	Path string
	Data []byte
}

// Skipped is a file or document Read left out: not a Kubernetes manifest.
type Skipped struct {
	File   string
	Line   int // 0: the whole file
	Reason string
}

func (s Skipped) String() string {
	if s.Line > 0 {
		return fmt.Sprintf("%s:%d: skipped: %s", s.File, s.Line, s.Reason)
	}
	return s.File + ": skipped: " + s.Reason
}

// Read reads every path as ReadPaths does, and keeps what it left out and
// the inputs' bytes. A repository's ordinary files that are not manifests
// (Chart.yaml, values*.yaml, kustomization files; YAML without apiVersion
// and kind at its top level) are skipped with a reason; YAML that does not
// parse is an error. Documents of standard input are located in the
// templates Helm names in its "# Source:" comments, or in
// opts.StdinFilename.
func Read(paths []string, stdin io.Reader, opts ReadOptions) (*Input, error) {
	in := &Input{}
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(io.LimitReader(stdin, MaxFileSize+1))
			if err != nil {
				return nil, &Error{File: "-", Err: err}
			}
			if len(data) > MaxFileSize {
				return nil, &Error{File: "-", Err: errTooLarge(len(data))}
			}
			if err := in.add("-", data); err != nil {
				return nil, err
			}
			locateStdin(in.Docs, opts.StdinFilename)
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f != p && ignored(f, opts.Ignore) {
				continue
			}
			if why := notManifestFile(f); why != "" {
				in.Skipped = append(in.Skipped, Skipped{File: f, Reason: why})
				continue
			}
			data, err := readFile(f)
			if err != nil {
				return nil, err
			}
			if err := in.add(f, data); err != nil {
				return nil, err
			}
		}
	}
	return in, nil
}

func (in *Input) add(file string, data []byte) error {
	docs, skipped, err := parse(file, data)
	if err != nil {
		return err
	}
	in.Files = append(in.Files, File{Path: file, Data: data})
	in.Docs = append(in.Docs, docs...)
	in.Skipped = append(in.Skipped, skipped...)
	return nil
}

// ignored reports whether a path matches one of the globs: the whole path
// or a trailing part of it (path.Match over slashes).
func ignored(file string, globs []string) bool {
	p := filepath.ToSlash(filepath.Clean(file))
	parts := strings.Split(p, "/")
	for _, g := range globs {
		g = strings.TrimPrefix(filepath.ToSlash(g), "./")
		g = strings.TrimSuffix(g, "/")
		for i := range parts {
			tail := strings.Join(parts[i:], "/")
			if ok, _ := path.Match(g, tail); ok {
				return true
			}
			// A glob naming a directory ignores what is under it.
			for j := i + 1; j < len(parts); j++ {
				if ok, _ := path.Match(g, strings.Join(parts[i:j], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

// notManifestFile says why a file is not read as manifests, by its name:
// a Helm chart's metadata and values, a kustomization. Empty when it is
// read.
func notManifestFile(file string) string {
	base := filepath.Base(file)
	lower := strings.ToLower(base)
	ext := filepath.Ext(lower)
	stem := strings.TrimSuffix(lower, ext)
	switch {
	case base == "Chart.yaml" || base == "Chart.yml" || base == "Chart.lock":
		return "Helm chart metadata, not a Kubernetes manifest"
	case (stem == "values" || strings.HasPrefix(stem, "values-") || strings.HasPrefix(stem, "values.") || strings.HasPrefix(stem, "values_")) && ext != "":
		return "Helm values, not a Kubernetes manifest"
	case stem == "values.schema":
		return "Helm values schema, not a Kubernetes manifest"
	case stem == "kustomization":
		return "a kustomization, not a Kubernetes manifest (check the output of kustomize build)"
	}
	return ""
}

// helmSource is the comment Helm writes before each document it renders.
var helmSource = regexp.MustCompile(`^#\s*Source:\s*(\S+)\s*$`)

// locateStdin gives the documents of standard input a file and line: the
// template of Helm's "# Source: chart/templates/x.yaml" comment, the line
// counted inside that template's output (documents of one template follow
// each other, with a separator line between them), or name at the line of
// the input when there is no such comment (name empty: unchanged).
func locateStdin(docs []Document, name string) {
	next := map[string]int{} // template → its line the next document starts at
	var lastStart = -1
	for i := range docs {
		d := &docs[i]
		if d.Path != "-" {
			continue
		}
		src, idx := "", -1
		for k, l := range bytes.Split(d.Raw, []byte("\n")) {
			l = bytes.TrimRight(l, "\r")
			if m := helmSource.FindSubmatch(l); m != nil {
				src, idx = string(m[1]), k
				break
			}
			if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
				break
			}
		}
		if src == "" {
			if name != "" {
				d.File = name
			}
			continue
		}
		// Items of one List share their document: count it once.
		if d.Start == lastStart && d.InList {
			d.File, d.Line, d.RawLine = src, docs[i-1].Line, docs[i-1].RawLine
			continue
		}
		lastStart = d.Start
		first := next[src]
		if first == 0 {
			first = 1
		}
		d.File = src
		d.RawLine = first - idx - 1
		d.Line = first
		next[src] = first + bytes.Count(d.Raw, []byte("\n")) - idx - 1 + 1
	}
}

package manifest

import "strings"

// Duplicate is an object that more than one document of the input defines.
type Duplicate struct {
	// Kind, Namespace and Name name the object as the first document writes
	// them.
	Kind, Namespace, Name string
	// Docs are the documents defining it, in input order.
	Docs []*Document
}

// String is "ConfigMap monitoring/alloy: a.yaml:3 and b.yaml:3".
func (d Duplicate) String() string {
	name := d.Kind + " " + d.Name
	if d.Namespace != "" {
		name = d.Kind + " " + d.Namespace + "/" + d.Name
	}
	where := make([]string, len(d.Docs))
	for i, doc := range d.Docs {
		where[i] = doc.Where()
	}
	last := len(where) - 1
	return name + ": " + strings.Join(where[:last], ", ") + " and " + where[last]
}

// DuplicateError lists the objects an input defines more than once.
type DuplicateError struct {
	Duplicates []Duplicate
}

func (e *DuplicateError) Error() string {
	var b strings.Builder
	b.WriteString("objects defined more than once in one input:")
	for _, d := range e.Duplicates {
		b.WriteString("\n  " + d.String())
	}
	return b.String()
}

// Duplicates returns the objects that more than one document of docs
// defines, by API group, kind, namespace and name (as the API server keys
// them: apps/v1 and a later apps version name the same object; kinds compare
// case-insensitively, as the API server's RESTMapper resolves them), in the
// order of their first document; nil when every object is defined once.
// Documents without a name are not compared.
//
// Call it after DefaultNamespace, so that an object written without a
// namespace and one written in the default namespace are the same object.
func Duplicates(docs []Document) *DuplicateError {
	type key struct{ group, kind, namespace, name string }
	first := map[key]int{} // key → index in out
	var out []Duplicate
	for i := range docs {
		d := &docs[i]
		if d.Name == "" {
			continue
		}
		group, _, _ := strings.Cut(d.APIVersion, "/")
		if !strings.Contains(d.APIVersion, "/") {
			group = "" // core: "v1"
		}
		k := key{group, strings.ToLower(d.Kind), d.Namespace, d.Name}
		j, seen := first[k]
		if !seen {
			first[k] = len(out)
			out = append(out, Duplicate{Kind: d.Kind, Namespace: d.Namespace, Name: d.Name, Docs: []*Document{d}})
			continue
		}
		out[j].Docs = append(out[j].Docs, d)
	}
	var dups []Duplicate
	for _, d := range out {
		if len(d.Docs) > 1 {
			dups = append(dups, d)
		}
	}
	if dups == nil {
		return nil
	}
	return &DuplicateError{Duplicates: dups}
}

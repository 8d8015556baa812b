package policy

import (
	"encoding/json"
	"path"
	"reflect"

	"github.com/invopop/jsonschema"
)

// InputSchema returns the JSON Schema of the policy input document
// (docs/input.schema.json), generated from the Go types so it cannot drift:
// every field the types always write is required; objects, arrays and
// references may be null where the Go value may be nil. Only the tests use it
// (make docs writes the file through TestInputSchemaDoc), so it lives in a
// test file: the schema reflector stays out of the binaries.
func InputSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		// Package-qualified names: policy.Config and workload.Config differ.
		Namer: func(t reflect.Type) string {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.PkgPath() == "" {
				return t.Name()
			}
			return path.Base(t.PkgPath()) + "." + t.Name()
		},
	}
	s := r.Reflect(&Input{})
	s.ID = "https://modeguard.dev/schemas/input/v1"
	s.Title = "modeguard policy input"
	s.Description = "The document every rule reads as input (apiVersion " + InputAPIVersion + ")."
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if defs, ok := doc["$defs"].(map[string]any); ok {
		for _, d := range defs {
			nullableProps(d)
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}

// nullableProps lets properties holding objects, arrays or references be
// null, as Go writes a nil pointer, slice or map.
func nullableProps(def any) {
	m, ok := def.(map[string]any)
	if !ok {
		return
	}
	props, ok := m["properties"].(map[string]any)
	if !ok {
		return
	}
	for name, p := range props {
		ps, ok := p.(map[string]any)
		if !ok {
			continue
		}
		_, isRef := ps["$ref"]
		t, _ := ps["type"].(string)
		if isRef || t == "array" || t == "object" {
			props[name] = map[string]any{"anyOf": []any{ps, map[string]any{"type": "null"}}}
		}
	}
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Field is the path of the offending value, e.g. "clients[1].redirect_uris[0]";
	// empty when the problem is the file as a whole or the field is unknown.
	Field string
	// Line is the 1-based line in the file for decoding problems; 0 for
	// problems found by Validate, which runs after defaults and overrides and so
	// has no lines.
	Line    int
	Message string
}

// String formats a decoding problem as "config line 7: <message>" (its
// message names the field when known) and a validation problem as
// "<field>: <message>".
func (p Problem) String() string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("config line %d: %s", p.Line, p.Message)
	case p.Field != "":
		return p.Field + ": " + p.Message
	default:
		return "config: " + p.Message
	}
}

// ValidationError lists every problem found, so an operator fixes a file in one
// round instead of one error per restart.
type ValidationError struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse decodes one YAML document strictly into a Config, without defaults,
// overrides or validation. Unknown keys, duplicate keys and values of the
// wrong type are all reported, each with its line, as a *ValidationError.
// Empty input yields the zero Config.
func Parse(data []byte) (c Config, err error) {
	// The input is an operator's file, not the network, but a parser bug must
	// still end as an error the operator can report, not a crash.
	defer func() {
		if r := recover(); r != nil {
			c, err = Config{}, &ValidationError{Problems: []Problem{{Message: fmt.Sprintf("YAML parser failed: %v", r)}}}
		}
	}()

	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, nil
		}
		return Config{}, &ValidationError{Problems: []Problem{yamlProblem(err.Error())}}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		p := Problem{Line: next.Line, Message: "the file holds more than one YAML document; put everything in one"}
		if err != nil {
			p = yamlProblem(err.Error())
		}
		return Config{}, &ValidationError{Problems: []Problem{p}}
	}

	// Decode a second time from the bytes: only a Decoder offers KnownFields,
	// and it also enforces yaml.v3's limits on alias expansion.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	err = strict.Decode(&c)
	if err == nil {
		return c, nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Config{}, &ValidationError{Problems: []Problem{yamlProblem(err.Error())}}
	}

	// yaml.v3 names an unknown key by Go type ("field colour not found in type
	// config.Storage"); walk the tree ourselves to name it by its path instead.
	w := walker{lines: map[int]string{}, budget: 1 << 20}
	w.walk(&root, reflect.TypeFor[Config](), "", 0)
	problems := w.unknown
	for _, msg := range te.Errors {
		if len(w.unknown) > 0 && strings.Contains(msg, " not found in type ") {
			continue // already reported by the walker, better worded
		}
		p := yamlProblem(msg)
		if f := w.lines[p.Line]; f != "" && f != ambiguous {
			p.Field = f
			if !strings.Contains(p.Message, f) {
				p.Message = f + ": " + p.Message
			}
		}
		problems = append(problems, p)
	}
	slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	return Config{}, &ValidationError{Problems: problems}
}

// yamlProblem turns a yaml.v3 message ("yaml: line 3: did not find expected
// key", "line 7: cannot unmarshal ...") into a Problem with its line.
func yamlProblem(msg string) Problem {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, ok := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); ok && err == nil {
			return Problem{Line: n, Message: text}
		}
	}
	return Problem{Message: msg}
}

// ambiguous marks a line that holds values of more than one field (flow style),
// where a line number alone cannot say which field an error is about.
const ambiguous = "\x00"

// walker visits the YAML tree along the Go types of Config, recording unknown
// keys with their paths and the field path of each leaf value's line.
type walker struct {
	unknown []Problem
	lines   map[int]string // line → field path of the leaf value on it
	// budget bounds the work on adversarial input: merge keys ("<<") can make
	// a small document expand to a huge tree.
	budget int
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	// Config's type is at most three levels deep; the depth limit only guards
	// against alias cycles through merge keys, which keep the type unchanged.
	if n == nil || depth > 16 || w.budget <= 0 {
		return
	}
	w.budget--
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, t, path, depth+1)
		}
		return
	case yaml.AliasNode:
		w.walk(n.Alias, t, path, depth+1)
		return
	}

	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Kind == yaml.ScalarNode && key.Value == "<<" && key.ShortTag() == "!!merge" {
				w.walk(val, t, path, depth+1) // mapping or sequence of mappings
				continue
			}
			f, ok := fieldByTag(t, key.Value)
			if !ok {
				w.unknown = append(w.unknown, Problem{
					Field:   join(path, key.Value),
					Line:    key.Line,
					Message: fmt.Sprintf("unknown key %q %s (known keys: %s)", key.Value, where(path), strings.Join(tagNames(t), ", ")),
				})
				continue
			}
			w.walk(val, f.Type, join(path, key.Value), depth+1)
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.SequenceNode:
		// Only reached through a merge key's list of mappings.
		for _, c := range n.Content {
			w.walk(c, t, path, depth+1)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	default:
		w.leaf(n.Line, path)
	}
}

func (w *walker) leaf(line int, path string) {
	if prev, ok := w.lines[line]; ok && prev != path {
		w.lines[line] = ambiguous
		return
	}
	w.lines[line] = path
}

func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if f.IsExported() && yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if f.IsExported() {
			names = append(names, yamlName(f))
		}
	}
	return names
}

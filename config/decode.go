package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
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
// Empty input yields the zero Config. A list key given a single value (such
// as `algorithms: ES256`) reads as a list of that one value.
func Parse(data []byte) (Config, error) {
	d := decode(data)
	if len(d.problems) > 0 {
		return Config{}, &ValidationError{Problems: d.problems}
	}
	return d.config, nil
}

// decoded is what decode makes of a file: the values it could read and the
// problems it found. Load validates the values too and reports both at once.
type decoded struct {
	config   Config
	problems []Problem
	// usable is false when the file could not be read as a tree at all
	// (syntax errors), so validating the empty result would only add noise.
	usable bool
	// broken are the paths of values that could not be decoded; Validate's
	// findings under them are follow-on noise ("" means the whole file).
	broken []string
}

func decode(data []byte) (d decoded) {
	// The input is an operator's file, not the network, but a parser bug must
	// still end as an error the operator can report, not a crash.
	defer func() {
		if r := recover(); r != nil {
			d = decoded{problems: []Problem{{Message: fmt.Sprintf("YAML parser failed: %v", r)}}}
		}
	}()

	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return decoded{usable: true}
		}
		return decoded{problems: []Problem{yamlProblem(err.Error())}}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		p := Problem{Line: next.Line, Message: "the file holds more than one YAML document; put everything in one"}
		if err != nil {
			p = yamlProblem(err.Error())
		}
		return decoded{problems: []Problem{p}}
	}

	// The walker, not yaml.v3, names unknown keys and wrong types: yaml.v3
	// names them by Go type ("field colour not found in type config.Storage",
	// "cannot unmarshal !!seq into []config.Client"), which tells an operator
	// nothing. It also turns a single value under a list key into a list.
	w := walker{lines: map[int]string{}, budget: 1 << 20}
	rootSlot := &root
	w.walk(&rootSlot, reflect.TypeFor[Config](), "", 0, false)
	if w.budget <= 0 {
		return decoded{problems: []Problem{{Message: "the file is too large or expands too many aliases to be checked"}}}
	}
	problems := w.problems
	reported := map[int]bool{}
	for _, p := range problems {
		reported[p.Line] = true
	}

	// Node.Decode applies the same rules and alias limits as a Decoder,
	// without KnownFields, which the walker has done already.
	err := root.Decode(&d.config)
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			p := yamlProblem(msg)
			if reported[p.Line] {
				continue // the walker said it in words
			}
			if f := w.lines[p.Line]; f != "" && f != ambiguous {
				p.Field = f
			}
			p.Message = withoutGoTypes(p.Field, p.Message)
			problems = append(problems, p)
			if p.Field != "" {
				w.broken = append(w.broken, p.Field)
			}
		}
	default:
		return decoded{problems: append(problems, yamlProblem(err.Error()))}
	}
	slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	return decoded{config: d.config, problems: problems, usable: true, broken: w.broken}
}

// goTypeError matches yaml.v3's wording of a type mismatch.
var goTypeError = regexp.MustCompile("cannot unmarshal !!(\\w+)(?: `[^`]*`)? into \\S+")

// withoutGoTypes rewords a yaml.v3 type error the walker did not foresee, so
// that no Go type name reaches the operator.
func withoutGoTypes(field, msg string) string {
	if m := goTypeError.FindStringSubmatch(msg); m != nil {
		what := field
		if what == "" {
			what = "a value"
		}
		return fmt.Sprintf("%s has the wrong type of value (%s)", what, tagWords(m[1]))
	}
	if strings.Contains(msg, " in type ") {
		msg, _, _ = strings.Cut(msg, " in type ")
	}
	if field != "" && !strings.Contains(msg, field) {
		msg = field + ": " + msg
	}
	return msg
}

func tagWords(tag string) string {
	switch tag {
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "int", "float":
		return "a number"
	case "bool":
		return "true or false"
	case "null":
		return "empty"
	}
	return "a string"
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

// walker visits the YAML tree along the Go types of Config. It records
// unknown keys, duplicate keys and values of the wrong kind with their paths,
// the field path of each leaf value's line, and wraps a single value given
// for a list of strings in a one-element list.
type walker struct {
	problems []Problem
	broken   []string       // paths whose value could not be decoded
	lines    map[int]string // line → field path of the leaf value on it
	// budget bounds the work on adversarial input: merge keys ("<<") can make
	// a small document expand to a huge tree.
	budget int
}

var durationType = reflect.TypeFor[Duration]()

// problem records that the value in slot does not fit and replaces it with
// an empty value, so that decoding the tree afterwards leaves the field at
// its zero value without failing the mapping or shifting the list around it.
func (w *walker) problem(slot **yaml.Node, path, format string, args ...any) {
	n := *slot
	w.problems = append(w.problems, Problem{Field: path, Line: n.Line, Message: fmt.Sprintf(format, args...)})
	w.broken = append(w.broken, path)
	*slot = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// walk checks the value in slot against t. merged is set for the value of a
// merge key, which may be a list of mappings standing for one mapping.
func (w *walker) walk(slot **yaml.Node, t reflect.Type, path string, depth int, merged bool) {
	n := *slot
	// Config's type is at most three levels deep; the depth limit only guards
	// against alias cycles through merge keys, which keep the type unchanged.
	if n == nil || depth > 16 || w.budget <= 0 {
		return
	}
	w.budget--
	switch n.Kind {
	case yaml.DocumentNode:
		for i := range n.Content {
			w.walk(&n.Content[i], t, path, depth+1, false)
		}
		return
	case yaml.AliasNode:
		// A replacement replaces this use of the anchor, not the anchor.
		target := n.Alias
		w.walk(&target, t, path, depth+1, merged)
		if target != n.Alias {
			*slot = target
		}
		return
	}
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"

	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		switch {
		case n.Kind == yaml.MappingNode:
			w.mapping(n, t, path, depth)
		case n.Kind == yaml.SequenceNode && merged:
			for i := range n.Content {
				w.walk(&n.Content[i], t, path, depth+1, false)
			}
		case !null:
			w.problem(slot, path, "%s must be a mapping of keys (%s), not %s", subject(path), strings.Join(tagNames(t), ", "), given(n))
		}
	case t.Kind() == reflect.Map:
		// A free-form mapping (jwks): its inside is the owner's to check,
		// once decoded.
		if n.Kind != yaml.MappingNode && !null {
			w.problem(slot, path, "%s must be %s, not %s", subject(path), expected(t), given(n))
		}
	case t.Kind() == reflect.Slice:
		switch {
		case n.Kind == yaml.SequenceNode:
			for i := range n.Content {
				w.walk(&n.Content[i], t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1, false)
			}
		case null:
		default:
			w.problem(slot, path, "%s must be a list, not %s", subject(path), given(n))
		}
	default:
		w.leaf(n.Line, path)
		if n.Kind != yaml.ScalarNode {
			w.problem(slot, path, "%s must be %s, not %s", subject(path), expected(t), given(n))
			return
		}
		// Decode the value alone, with yaml.v3's own rules, to know whether
		// it fits without repeating those rules here.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.problem(slot, path, "%s must be %s, not %s", subject(path), expected(t), given(n))
		}
	}
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string, depth int) {
	seen := map[string]int{}
	kept := n.Content[:0:0]
	defer func() { n.Content = kept }()
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if first, ok := seen[key.Value]; ok {
			// Dropped, so that the rest of the mapping still decodes.
			w.problems = append(w.problems, Problem{Field: join(path, key.Value), Line: key.Line,
				Message: fmt.Sprintf("key %q is given twice %s (first on line %d)", key.Value, where(path), first)})
			w.broken = append(w.broken, join(path, key.Value))
			continue
		}
		seen[key.Value] = key.Line
		kept = append(kept, key, val)
		if key.Kind == yaml.ScalarNode && key.Value == "<<" && key.ShortTag() == "!!merge" {
			w.walk(&kept[len(kept)-1], t, path, depth+1, true) // mapping or list of mappings
			continue
		}
		f, ok := fieldByTag(t, key.Value)
		if !ok {
			w.problems = append(w.problems, Problem{
				Field:   join(path, key.Value),
				Line:    key.Line,
				Message: fmt.Sprintf("unknown key %q %s (known keys: %s)", key.Value, where(path), strings.Join(tagNames(t), ", ")),
			})
			continue
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.Struct && scalarNotNull(val) {
			// A list key given one value is that one-element list. Replace
			// the slot rather than the node: an anchored scalar may be used
			// elsewhere as a plain value.
			kept[len(kept)-1] = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: val.Line, Column: val.Column, Content: []*yaml.Node{val}}
		}
		w.walk(&kept[len(kept)-1], f.Type, join(path, key.Value), depth+1, false)
	}
}

func scalarNotNull(n *yaml.Node) bool {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null"
}

func (w *walker) leaf(line int, path string) {
	if prev, ok := w.lines[line]; ok && prev != path {
		w.lines[line] = ambiguous
		return
	}
	w.lines[line] = path
}

// subject names a value in a message: its path, or the file for the root.
func subject(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// expected says in words what a field of type t holds.
func expected(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 15m, 60s or 720h (or whole seconds)"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map:
		return "a mapping"
	}
	return "a single value"
}

// given describes the value an operator wrote, for "must be X, not Y".
func given(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strconv.Quote(v)
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

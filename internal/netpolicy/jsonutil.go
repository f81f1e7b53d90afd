package netpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The Azure documents ParseNSG and ParseRoutes read come from several
// tools (ARM, az, PowerShell, the portal) with the same field names in
// different nestings and cases, and with strings where lists are
// expected or the reverse. They are decoded into generic values and read
// with these lenient accessors rather than into fixed structs.

type jobj = map[string]any

// decodeJSON decodes one JSON value (object or array) and refuses
// trailing data.
func decodeJSON(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // PowerShell writes a BOM
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty input")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: data after the first value")
	}
	switch v.(type) {
	case jobj, []any:
		return v, nil
	}
	return nil, errors.New("not a JSON object or array")
}

// field returns m[key], matching the key case-insensitively when there
// is no exact match (PowerShell writes PascalCase).
func field(m jobj, key string) any {
	if m == nil {
		return nil
	}
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func has(m jobj, key string) bool { return field(m, key) != nil }

// present reports whether m has key, even with a null value.
func present(m jobj, key string) bool {
	if _, ok := m[key]; ok {
		return true
	}
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func obj(m jobj, key string) jobj {
	o, _ := field(m, key).(jobj)
	return o
}

func arr(m jobj, key string) []any {
	a, _ := field(m, key).([]any)
	return a
}

// str returns a string or number field as a string, trimmed.
func str(m jobj, key string) string {
	switch v := field(m, key).(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// strs returns a field that may be a string, a list of strings, or a
// comma-separated string, as a list without empty entries.
func strs(m jobj, key string) []string {
	var out []string
	add := func(s string) {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	switch v := field(m, key).(type) {
	case string:
		add(v)
	case json.Number:
		add(v.String())
	case []any:
		for _, e := range v {
			switch e := e.(type) {
			case string:
				add(e)
			case json.Number:
				add(e.String())
			}
		}
	}
	return out
}

// integer returns a whole number given as a number or a string.
func integer(m jobj, key string) (int, bool) {
	var s string
	switch v := field(m, key).(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, false
	}
	return int(f), true
}

// idPart returns the path segment after key in an Azure resource ID
// (case-insensitive), e.g. idPart(id, "resourceGroups").
func idPart(id, key string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], key) {
			return parts[i+1]
		}
	}
	return ""
}

// lastSegment is the last non-empty path segment of a resource ID.
func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// idOf returns o.id, or o itself when it is a string.
func idOf(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case jobj:
		return str(v, "id")
	}
	return ""
}

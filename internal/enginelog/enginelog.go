// Package enginelog pulls named values out of an inference server's log
// with regular expressions: generic rules with named captures, and built-in
// presets for vLLM and Ollama/llama.cpp (see kv-cache-facts.md §1.2, §5).
//
// Every named capture of a rule is a value. Numbers may carry thousands
// separators ("1,234"), and a capture NAME_unit holds the unit of NAME,
// which Rule.Units converts. When a key matches several times, the match
// latest in the text wins, whichever rule produced it.
package enginelog

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Rule is one regular expression (RE2 syntax) with named captures.
type Rule struct {
	// Pattern is applied to the whole log text; (?m) makes ^ and $ match at
	// line boundaries.
	Pattern string
	// Units maps a capture NAME to the unit its value is converted into;
	// the source unit is the capture NAME_unit (e.g. "MiB", "GiB", "ms").
	// A value whose NAME_unit is absent or empty is kept as written.
	Units map[string]string
	// SuffixFrom names a capture whose value (lower-cased, non-alphanumerics
	// turned into "_") is appended to every other value key of the rule, as
	// well as setting the plain key: "kv_cache_mib" and "kv_cache_mib_cuda0".
	SuffixFrom string
}

// Result holds what a log yielded.
type Result struct {
	// Values are the captures that parse as numbers (after units).
	Values map[string]float64
	// Text holds every capture as written (numbers included).
	Text map[string]string
}

// Keys lists the value keys, sorted.
func (r Result) Keys() []string {
	out := make([]string, 0, len(r.Values))
	for k := range r.Values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type compiled struct {
	re    *regexp.Regexp
	rule  Rule
	names []string
}

// Extractor is a compiled rule set; it is safe for concurrent use.
type Extractor struct{ rules []compiled }

// Compile checks and compiles rules.
func Compile(rules []Rule) (*Extractor, error) {
	e := &Extractor{}
	for i, r := range rules {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("enginelog: rule %d: %w", i+1, err)
		}
		names := re.SubexpNames()
		named := 0
		for _, n := range names {
			if n != "" {
				named++
			}
		}
		if named == 0 {
			return nil, fmt.Errorf("enginelog: rule %d (%s) has no named capture (?P<name>...)", i+1, r.Pattern)
		}
		for name, unit := range r.Units {
			if re.SubexpIndex(name) < 0 {
				return nil, fmt.Errorf("enginelog: rule %d: Units names unknown capture %q", i+1, name)
			}
			if _, err := unitFactor(unit); err != nil {
				return nil, fmt.Errorf("enginelog: rule %d: %w", i+1, err)
			}
		}
		if r.SuffixFrom != "" && re.SubexpIndex(r.SuffixFrom) < 0 {
			return nil, fmt.Errorf("enginelog: rule %d: SuffixFrom names unknown capture %q", i+1, r.SuffixFrom)
		}
		e.rules = append(e.rules, compiled{re: re, rule: r, names: names})
	}
	return e, nil
}

// MustCompile is Compile that panics; for presets and tests.
func MustCompile(rules []Rule) *Extractor {
	e, err := Compile(rules)
	if err != nil {
		panic(err)
	}
	return e
}

// Extract applies the rules to text.
func Extract(logText string, rules []Rule) (Result, error) {
	e, err := Compile(rules)
	if err != nil {
		return Result{}, err
	}
	return e.Extract(logText), nil
}

// Extract applies the compiled rules to text; the latest match of a key wins.
func (e *Extractor) Extract(text string) Result {
	res := Result{Values: map[string]float64{}, Text: map[string]string{}}
	pos := map[string]int{}
	set := func(key, raw string, v float64, numeric bool, at int) {
		if old, ok := pos[key]; ok && old > at {
			return
		}
		pos[key] = at
		res.Text[key] = raw
		if numeric {
			res.Values[key] = v
		} else {
			delete(res.Values, key)
		}
	}
	for _, c := range e.rules {
		for _, m := range c.re.FindAllStringSubmatchIndex(text, -1) {
			at := m[0]
			group := func(name string) (string, bool) {
				i := c.re.SubexpIndex(name)
				if i < 0 || m[2*i] < 0 {
					return "", false
				}
				return text[m[2*i]:m[2*i+1]], true
			}
			suffix := ""
			if c.rule.SuffixFrom != "" {
				if s, ok := group(c.rule.SuffixFrom); ok && s != "" {
					suffix = "_" + keyPart(s)
				}
			}
			for i, name := range c.names {
				if name == "" || m[2*i] < 0 || strings.HasSuffix(name, "_unit") || name == c.rule.SuffixFrom {
					continue
				}
				raw := text[m[2*i]:m[2*i+1]]
				v, err := ParseNumber(raw)
				numeric := err == nil
				if numeric {
					if to, ok := c.rule.Units[name]; ok {
						if from, ok := group(name + "_unit"); ok && from != "" {
							if cv, err := ConvertUnit(v, from, to); err == nil {
								v = cv
							} else {
								numeric = false
							}
						}
					}
				}
				set(name, raw, v, numeric, at)
				if suffix != "" {
					set(name+suffix, raw, v, numeric, at)
				}
			}
			if c.rule.SuffixFrom != "" {
				if s, ok := group(c.rule.SuffixFrom); ok {
					set(c.rule.SuffixFrom, s, 0, false, at)
				}
			}
		}
	}
	return res
}

func keyPart(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ParseNumber parses a decimal number that may carry thousands separators
// ("1,844,583", "-0.52", "1_000", "+3").
func ParseNumber(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.NewReplacer(",", "", "_", "").Replace(t)
	if t == "" || strings.ContainsAny(t, "eExXpPiInN") { // no exponents, hex, inf, nan
		return 0, fmt.Errorf("enginelog: not a number: %q", s)
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("enginelog: not a number: %q", s)
	}
	return v, nil
}

type unitInfo struct {
	factor float64
	kind   string
}

var units = map[string]unitInfo{
	"b": {1, "bytes"}, "byte": {1, "bytes"}, "bytes": {1, "bytes"},
	"kb": {1e3, "bytes"}, "mb": {1e6, "bytes"}, "gb": {1e9, "bytes"}, "tb": {1e12, "bytes"},
	"kib": {1 << 10, "bytes"}, "mib": {1 << 20, "bytes"}, "gib": {1 << 30, "bytes"}, "tib": {1 << 40, "bytes"},
	"k": {1 << 10, "bytes"}, "m": {1 << 20, "bytes"}, "g": {1 << 30, "bytes"}, // as ls -h and llama.cpp print them
	"ns": {1e-9, "seconds"}, "us": {1e-6, "seconds"}, "µs": {1e-6, "seconds"}, "ms": {1e-3, "seconds"},
	"s": {1, "seconds"}, "sec": {1, "seconds"}, "secs": {1, "seconds"}, "second": {1, "seconds"}, "seconds": {1, "seconds"},
	"min": {60, "seconds"}, "mins": {60, "seconds"}, "minutes": {60, "seconds"}, "h": {3600, "seconds"},
}

func unitFactor(u string) (unitInfo, error) {
	info, ok := units[strings.ToLower(strings.TrimSpace(u))]
	if !ok {
		return unitInfo{}, fmt.Errorf("enginelog: unknown unit %q", u)
	}
	return info, nil
}

// ConvertUnit converts v from one unit to another of the same kind (bytes:
// B, KB/MB/GB/TB decimal, KiB/MiB/GiB/TiB binary; time: ns … h).
func ConvertUnit(v float64, from, to string) (float64, error) {
	f, err := unitFactor(from)
	if err != nil {
		return 0, err
	}
	t, err := unitFactor(to)
	if err != nil {
		return 0, err
	}
	if f.kind != t.kind {
		return 0, fmt.Errorf("enginelog: cannot convert %s to %s", from, to)
	}
	return v * f.factor / t.factor, nil
}

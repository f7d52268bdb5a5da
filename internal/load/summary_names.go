package load

import (
	"reflect"
	"strings"
)

// SummaryNames lists the names Summary.Values produces: one per field, and
// for a map field NAME the pattern "NAME.*" (its keys are only known after
// a run, e.g. errors_by_class.timeout).
func SummaryNames() []string {
	var out []string
	t := reflect.TypeOf(Summary{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if t.Field(i).Tag.Get("values") == "inline" {
			for _, m := range RepeatMetrics {
				for _, suffix := range repeatSuffixes {
					out = append(out, m+suffix)
				}
			}
			continue
		}
		if t.Field(i).Type.Kind() == reflect.Map {
			name += ".*"
		}
		out = append(out, name)
	}
	return out
}

package results

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestValuesKeepFirstSetOrderAndLastValue(t *testing.T) {
	var v Values
	v.Set("b", 1)
	v.Set("a", 2)
	v.Set("b", 3)
	if got := v.Keys(); len(got) != 2 || got[0] != "b" || got[1] != "a" {
		t.Fatalf("keys %v, want [b a]", got)
	}
	if x, _ := v.Get("b"); x != 3 {
		t.Fatalf("b = %v, want 3", x)
	}
	if got := v.SortedKeys(); got[0] != "a" {
		t.Fatalf("sorted %v", got)
	}
}

func TestValuesMarshalNonFiniteNumbersAsNull(t *testing.T) {
	var v Values
	v.Set("nan", math.NaN())
	v.Set("inf", float32(math.Inf(1)))
	v.Set("x", 1.5)
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"nan":null,"inf":null,"x":1.5}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestFiniteKeepsEverythingButNaNAndInf(t *testing.T) {
	for _, x := range []any{1.0, float32(2), "s", nil, 3} {
		if Finite(x) != x {
			t.Errorf("Finite(%v) changed it", x)
		}
	}
	if Finite(math.Inf(-1)) != nil || Finite(math.NaN()) != nil {
		t.Error("NaN or -Inf kept")
	}
}

func TestSortedKeysSortsAnyMap(t *testing.T) {
	got := SortedKeys(map[string]int{"z": 1, "a": 2, "m": 3})
	if len(got) != 3 || got[0] != "a" || got[1] != "m" || got[2] != "z" {
		t.Fatalf("got %v", got)
	}
}

func TestMatchStarStandsForOneOrMoreCharacters(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"metrics_*", "metrics_kv", true},
		{"metrics_*", "metrics_", false},
		{"*_ready_s", "srv_ready_s", true},
		{"*_ready_s", "_ready_s", false},
		{"kv_*_mib", "kv_cuda0_mib", true},
		{"kv_*_mib", "kv_mib", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestNamesListExactNamesForSuggestions(t *testing.T) {
	var n Names
	n.Add("a", "metrics_*", "b", "a")
	if got := n.List(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("list %v", got)
	}
	if !n.Has("metrics_x") || n.Has("c") {
		t.Fatal("Has")
	}
}

// The zero Values is empty; Keys, Map and Clone hand out copies, so a
// caller cannot change the recorded values through them.
func TestValuesKeepSetOrderAndHandOutCopies(t *testing.T) {
	var v Values
	if v.Len() != 0 || len(v.Keys()) != 0 {
		t.Fatal("zero Values not empty")
	}
	if _, ok := v.Get("x"); ok {
		t.Fatal("Get on zero Values found something")
	}
	v.Set("b", 1)
	v.Set("a", 2)
	v.Set("c", 3)
	v.Set("b", 4) // keeps its first position, takes the last value
	if got := v.Keys(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("Keys = %v", got)
	}
	if x, _ := v.Get("b"); x != 4 {
		t.Errorf("b = %v, want the last value 4", x)
	}
	if v.Len() != 3 {
		t.Errorf("Len = %d", v.Len())
	}
	if got := v.SortedKeys(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("SortedKeys = %v", got)
	}
	// Keys, Map and Clone are copies.
	v.Keys()[0] = "zzz"
	v.Map()["a"] = 99
	c := v.Clone()
	c.Set("a", 100)
	c.Set("d", 5)
	if x, _ := v.Get("a"); x != 2 || v.Len() != 3 || v.Keys()[0] != "b" {
		t.Errorf("original changed through a copy: %v", v.Map())
	}
}

// MarshalJSON writes the keys in set order, non-finite floats as null, and
// works through a pointer, nested in another Values and when empty; an
// unencodable value is named in the error.
func TestValuesMarshalJSONInSetOrderNestedAndEmpty(t *testing.T) {
	var v Values
	v.Set("z", 1)
	v.Set("a", "x\"y")
	v.Set("nan", math.NaN())
	v.Set("inf", math.Inf(1))
	v.Set("ninf", math.Inf(-1))
	v.Set("f32nan", float32(math.NaN()))
	v.Set("f", 1.5)
	v.Set("list", []int{1, 2})
	v.Set("nil", nil)
	v.Set("z", 2)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"z":2,"a":"x\"y","nan":null,"inf":null,"ninf":null,"f32nan":null,"f":1.5,"list":[1,2],"nil":null}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	// Through a pointer and nested in another Values.
	var outer Values
	outer.Set("row", v)
	if b, err := json.Marshal(&outer); err != nil || !strings.HasPrefix(string(b), `{"row":{"z":2,`) {
		t.Errorf("nested: %s, %v", b, err)
	}
	if b, err := json.Marshal(Values{}); err != nil || string(b) != "{}" {
		t.Errorf("empty: %s, %v", b, err)
	}
	var bad Values
	bad.Set("ch", make(chan int))
	if _, err := bad.MarshalJSON(); err == nil || !strings.Contains(err.Error(), "value ch") {
		t.Errorf("unencodable value: %v", err)
	}
}

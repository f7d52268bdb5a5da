package results

import (
	"math"
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

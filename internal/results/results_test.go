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

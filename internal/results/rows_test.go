package results

import (
	"math"
	"slices"
	"testing"
)

func TestPointRowHoldsIDSweepValuesThenOutcome(t *testing.T) {
	var v Values
	v.Set("tput", 2.5)
	v.Set("bad", math.NaN())
	p := Point{ID: "001", Sweep: []Field{{"n", 4}}, Values: v, Status: "ok", Seconds: 1.5}
	row, order := p.Row()
	if want := []string{"point", "n", "tput", "bad", "status", "phase", "error", "seconds"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if row["bad"] != nil || row["n"] != 4 || row["status"] != "ok" {
		t.Fatalf("row %v", row)
	}
}

func TestTableRowsArePrefixedWithPointAndSweepAcrossPoints(t *testing.T) {
	row := func(mode string) Values {
		var v Values
		v.Set("mode", mode)
		return v
	}
	points := []Point{
		{ID: "000", Sweep: []Field{{"n", 1}}, Tables: map[string][]Values{"load.summary": {row("a"), row("b")}}},
		{ID: "001", Sweep: []Field{{"n", 2}}},
		{ID: "002", Sweep: []Field{{"n", 3}}, Tables: map[string][]Values{"load.summary": {row("a")}}},
	}
	rows, order := TableRows(points, "load.summary")
	if len(rows) != 3 || rows[2]["point"] != "002" || rows[2]["n"] != 3 || !slices.Equal(order, []string{"point", "n", "mode"}) {
		t.Fatalf("rows %v order %v", rows, order)
	}
	if tables := Tables(points); len(tables) != 1 || len(tables["load.summary"]) != 3 {
		t.Fatalf("tables %v", tables)
	}
}

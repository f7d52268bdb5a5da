package results

// PointFields are the names every point row holds beside its sweep values
// and recorded values: a step's value of the same name would be hidden.
var PointFields = []string{"point", "status", "phase", "error", "seconds"}

// Field is one sweep axis' value at a point.
type Field struct {
	Name  string
	Value any
}

// Point is one point's results as artifacts see them.
type Point struct {
	ID      string
	Sweep   []Field // in axis order
	Values  Values
	Tables  map[string][]Values
	Status  string
	Phase   string
	Error   string
	Seconds float64
}

// Row flattens a point into a row: point id, sweep values, every recorded
// value, then status, phase, error and seconds; the names in that order.
func (p Point) Row() (Row, []string) {
	row := Row{}
	var order []string
	set := func(k string, v any) {
		if _, ok := row[k]; !ok {
			order = append(order, k)
		}
		row[k] = Finite(v)
	}
	set("point", p.ID)
	for _, v := range p.Sweep {
		set(v.Name, v.Value)
	}
	for _, k := range p.Values.Keys() {
		v, _ := p.Values.Get(k)
		set(k, v)
	}
	set("status", p.Status)
	set("phase", p.Phase)
	set("error", p.Error)
	set("seconds", p.Seconds)
	return row, order
}

// columns collects names in order of first appearance.
type columns struct {
	order []string
	seen  map[string]bool
}

func (c *columns) add(names ...string) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	for _, k := range names {
		if !c.seen[k] {
			c.seen[k] = true
			c.order = append(c.order, k)
		}
	}
}

// PointRows returns one row per point, and every name in order of first
// appearance.
func PointRows(points []Point) ([]Row, []string) {
	var rows []Row
	var cols columns
	for _, p := range points {
		row, keys := p.Row()
		rows = append(rows, row)
		cols.add(keys...)
	}
	return rows, cols.order
}

// TableRows returns a named table across points, each row prefixed with the
// point id and sweep values, and every name in order of first appearance.
func TableRows(points []Point, table string) ([]Row, []string) {
	var rows []Row
	var cols columns
	for _, p := range points {
		for _, tv := range p.Tables[table] {
			row := Row{"point": p.ID}
			cols.add("point")
			for _, v := range p.Sweep {
				row[v.Name] = v.Value
				cols.add(v.Name)
			}
			for _, k := range tv.Keys() {
				x, _ := tv.Get(k)
				row[k] = Finite(x)
				cols.add(k)
			}
			rows = append(rows, row)
		}
	}
	return rows, cols.order
}

// Tables returns every table of the points, each across points.
func Tables(points []Point) map[string][]Row {
	out := map[string][]Row{}
	for _, p := range points {
		for name := range p.Tables {
			if _, done := out[name]; !done {
				out[name], _ = TableRows(points, name)
			}
		}
	}
	return out
}

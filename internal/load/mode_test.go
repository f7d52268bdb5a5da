package load

import (
	"encoding/json"
	"testing"
	"time"
)

// A plan prints a load step's modes; the JSON must read as the spec does,
// durations as text, in the struct's field order.
func TestModeMarshalsDurationAsTextInFieldOrder(t *testing.T) {
	m := Mode{Name: "r", Kind: KindRate, Requests: 0, Rate: 2, Arrival: ArrivalPoisson, Seed: 7,
		Duration: 90 * time.Second, MaxInFlight: 8}
	got, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"r","kind":"rate","requests":0,"rate":2,"arrival":"poisson","seed":7,"duration":"1m30s","max_in_flight":8}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got, _ = json.Marshal(Mode{Kind: KindSequential, Requests: 3})
	if want := `{"kind":"sequential","requests":3}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

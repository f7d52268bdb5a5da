package spec

import (
	"fmt"
	"strings"
	"testing"
)

func TestAliasBombIsRefusedAtTheAliasBeforeExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: runexp/v1\nname: x\nstudies:\n  - name: s\n    steps: []\nbomb:\n  l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 10; i++ {
		items := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, items)
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	list, ok := err.(ErrorList)
	if !ok || len(list) != 1 || !strings.Contains(list[0].Msg, "aliases expand to over") {
		t.Fatalf("err = %v", err)
	}
	if got := list[0].Pos; got.Line != 16 || got.Col != 12 {
		t.Errorf("reported at %v, want the first alias of the last level (16:12)", got)
	}
}

func TestSharedAnchorsWithinTheBoundAreAccepted(t *testing.T) {
	src := `version: runexp/v1
name: x
vars:
  lens: &lens [512, 1024, 2048]
studies:
  - name: a
    sweep: {axes: [{name: len, values: *lens}]}
    steps: &steps
      - {id: nap, type: sleep, with: {duration: 1ms}}
  - name: b
    steps: *steps
`
	if _, err := Parse("ok.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

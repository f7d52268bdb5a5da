package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	t.Parallel()
	var big strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&big, "line %d\n", i)
	}
	long := strings.Repeat("x", 100<<10)
	tests := []struct {
		name    string
		content string
		n       int
		want    string
	}{
		{"empty", "", 5, ""},
		{"fewer lines", "a\nb\n", 5, "a\nb"},
		{"last lines", "a\nb\nc\nd\n", 2, "c\nd"},
		{"no trailing newline", "a\nb\nc", 2, "b\nc"},
		{"blank lines kept", "a\n\nb\n", 3, "a\n\nb"},
		{"zero lines", "a\n", 0, ""},
		{"big file", big.String(), 3, "line 19997\nline 19998\nline 19999"},
		{"partial first line dropped", long + "\nend\n", 5, "end"},
		{"one huge line", long, 1, long[len(long)-tailBytes:]},
		// The window starts right after a newline: its first line is whole.
		{"window at a line start", "head\n" + strings.Repeat("y", tailBytes-1) + "\n", 5, strings.Repeat("y", tailBytes-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := Tail(path, tt.n); got != tt.want {
				if len(got) > 80 || len(tt.want) > 80 {
					t.Errorf("Tail: got %d bytes, want %d", len(got), len(tt.want))
				} else {
					t.Errorf("Tail = %q, want %q", got, tt.want)
				}
			}
		})
	}
	if got := Tail(filepath.Join(t.TempDir(), "missing"), 5); got != "" {
		t.Errorf("missing file: %q", got)
	}
}

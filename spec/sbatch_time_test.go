package spec

import (
	"testing"
	"time"
)

func TestSlurmTimeInMinutesAndSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1:00", 90 * time.Second: "1:30", 1500 * time.Millisecond: "0:02", 2 * time.Hour: "120:00",
	} {
		if got := slurmTime(d); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
}

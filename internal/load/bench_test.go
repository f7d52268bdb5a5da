package load_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/runexp/runexp/internal/load"
	"github.com/runexp/runexp/internal/load/loadtest"
)

// BenchmarkEndToEnd runs the engine against an in-process, zero-think-time
// stub answering 32 tokens. One op is one request; req/s and tok/s come from
// the engine's own summary. The stub shares the process and the CPUs, so
// these figures are a floor; bench/compare.sh measures with a separate stub.
func BenchmarkEndToEnd(b *testing.B) {
	type tc struct {
		stream bool
		c      int
	}
	for _, c := range []tc{{true, 1}, {true, 32}, {true, 256}, {false, 32}} {
		name := fmt.Sprintf("stream/c=%d", c.c)
		if !c.stream {
			name = fmt.Sprintf("nonstream/c=%d", c.c)
		}
		b.Run(name, func(b *testing.B) {
			srv := loadtest.NewServer(loadtest.Script{Tokens: 32})
			defer srv.Close()
			cfg := load.Config{BaseURL: srv.URL, Model: "m", Stream: c.stream, MaxTokens: 32,
				Modes: []load.Mode{{Kind: load.KindConcurrent, Requests: max(b.N, c.c), Concurrency: c.c}}}
			// Open the connections before timing.
			warm := cfg
			warm.Modes = []load.Mode{{Kind: load.KindConcurrent, Requests: c.c, Concurrency: c.c}}
			load.Run(context.Background(), warm, nil)
			b.ReportAllocs()
			b.ResetTimer()
			sums, err := load.Run(context.Background(), cfg, nil)
			b.StopTimer()
			if err != nil || sums[0].Failed > 0 {
				b.Fatalf("%v %v", err, sums[0].ErrorsByClass)
			}
			b.ReportMetric(sums[0].RequestThroughput, "req/s")
			b.ReportMetric(sums[0].OutputThroughput, "tok/s")
		})
	}
}

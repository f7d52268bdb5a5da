package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// benchText is 64 KiB of prose-like text: words, punctuation, digits and
// newlines, seeded.
func benchText() string {
	words := strings.Fields("the of and to in is was for that with as on by at from it an be this are or which his her " +
		"experiment latency throughput tokenizer concurrency 2048 3.14 GPU's KV-cache (prefill) decode, server; 東京 café")
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < 64<<10 {
		b.WriteString(words[r.IntN(len(words))])
		switch r.IntN(12) {
		case 0:
			b.WriteString(".\n")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()[:64<<10]
}

func benchmarkEncode(b *testing.B, tok *Tokenizer) {
	text := benchText()
	n := 0
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		n += len(tok.Encode(text, true))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkEncode64KiB(b *testing.B) {
	for _, name := range []string{"gpt2", "llama2", "llama3"} {
		b.Run(name, func(b *testing.B) {
			benchmarkEncode(b, referenceTokenizer(b, name))
		})
	}
}

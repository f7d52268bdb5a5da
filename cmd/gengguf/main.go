// Command gengguf writes a random-weight llama-architecture GGUF v3 model
// with a byte-fallback vocabulary that never emits end-of-sequence, so every
// response is exactly max_tokens long. It also writes a JSON sidecar with the
// shape, KV bytes per token and SHA-256 digest.
//
//	gengguf --shape cpu-small --out model.gguf          # + model.gguf.json
//	gengguf --shape phi3-mini --out /data/phi3shape.gguf
//	gengguf --shape phi3-mini --print-shape             # JSON only, no file
package main

import (
	"os"

	"github.com/runexp/runexp/internal/cli"
)

func main() { os.Exit(cli.GGUF("gengguf", os.Args[1:], os.Stdout, os.Stderr)) }

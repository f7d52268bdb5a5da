// Command stub serves the fake OpenAI-compatible API of
// internal/load/loadtest on loopback for bench/compare.sh.
//
//	stub -addr 127.0.0.1:0 -ttft 50ms -itl 10ms -tokens 32
//
// It prints "listening on http://HOST:PORT" once ready, then serves until
// killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"

	"github.com/runexp/runexp/internal/load/loadtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	ttft := flag.Duration("ttft", 0, "scripted time to first token")
	itl := flag.Duration("itl", 0, "scripted inter-token latency")
	tokens := flag.Int("tokens", 32, "completion tokens per response (0: request's max_tokens)")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: default)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	h := loadtest.NewHandler(loadtest.Script{TTFT: *ttft, ITL: *itl, Tokens: *tokens})
	fmt.Fprintf(os.Stdout, "listening on http://%s\n", ln.Addr())
	log.Fatal(h.Serve(ln))
}

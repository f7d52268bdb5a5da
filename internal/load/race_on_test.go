//go:build race

package load_test

// raceEnabled widens timing tolerances: the race detector slows the stub
// and the client by several times.
const raceEnabled = true

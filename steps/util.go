package steps

import (
	"os"
	"sort"
)

// envList renders a map as sorted KEY=VALUE pairs.
func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// resolveProgram maps argv[0] "runexp" to this executable, so specs can run
// the built-in simulator (`runexp sim serve`) wherever runexp is installed.
func resolveProgram(argv []string) []string {
	if len(argv) == 0 || argv[0] != "runexp" {
		return argv
	}
	self, err := os.Executable()
	if err != nil {
		return argv
	}
	out := append([]string{self}, argv[1:]...)
	return out
}

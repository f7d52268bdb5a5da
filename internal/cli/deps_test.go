package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// The steps receive their GPU backend opener from the command line, so
// neither the simulated HTTP server (internal/sim) nor the backend registry
// that links every backend (internal/gpu/open) is a dependency of steps.
func TestStepsLinksNeitherTheSimulatorNorTheBackendRegistry(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/runexp/runexp/steps").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/runexp/runexp/internal/sim" || pkg == "github.com/runexp/runexp/internal/gpu/open" {
			t.Errorf("steps depends on %s", pkg)
		}
	}
}

//go:build linux && cgo

package nvml

import (
	"context"
	"testing"

	nv "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
)

// TestReview4InaccessibleDeviceSkipped: nvml.h (nvmlDeviceGetCount_v2, the
// default nvmlDeviceGetCount): "returns count of all devices in the system
// even if nvmlDeviceGetHandleByIndex_v2 returns NVML_ERROR_NO_PERMISSION for
// such device. Update your code to handle this error". That is the normal
// state of a node whose jobs get only some GPUs through device cgroups
// (Slurm ConstrainDevices, systemd DeviceAllow). NewWithInterface with
// Device "" (internal/gpu/nvml/nvml.go, the all-devices loop) fails the
// whole backend on the first such index — with an error that does not
// match gpu.ErrUnavailable, so `auto` does not even try nvidia-smi — and
// gpu: nvml cannot be used at all on that node. Correct: with no device
// selector, devices NVML has no permission to talk to are skipped and the
// accessible ones are opened (nvidia-smi likewise lists only the GPUs it
// can reach).
func TestReview4InaccessibleDeviceSkipped(t *testing.T) {
	s := withReadings(dgxh100.New())
	inner := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nv.Device, nv.Return) {
		if i != 2 && i != 5 { // this job was given GPUs 2 and 5
			return nil, nv.ERROR_NO_PERMISSION
		}
		return inner(i)
	}
	b, err := NewWithInterface(s, Options{})
	if err != nil {
		t.Fatalf("NVML backend failed on a node where 2 of 8 GPUs are accessible: %v", err)
	}
	defer b.Close()
	devs, err := b.Devices(context.Background())
	if err != nil || len(devs) != 2 || devs[0].Index != 2 || devs[1].Index != 5 {
		t.Errorf("devices %+v %v, want the accessible GPUs 2 and 5", devs, err)
	}
}

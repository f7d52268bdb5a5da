package runner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/spec"
	"github.com/runexp/runexp/steps"
)

// SlotPlan is one slot of a parallel run: the points given it run one after
// another, the slots side by side. Its GPUs are the devices its points see.
type SlotPlan struct {
	Index int   `json:"index"`
	GPUs  []int `json:"gpus,omitempty"`
	Port  int   `json:"port,omitempty"` // ${slot.port}; 0: slots declare no ports
}

// gpuList is the ${slot.gpus} form of a slot's GPUs: "0,1".
func (s SlotPlan) gpuList() string {
	parts := make([]string, len(s.GPUs))
	for i, g := range s.GPUs {
		parts[i] = strconv.Itoa(g)
	}
	return strings.Join(parts, ",")
}

// planSlots returns the slots of a run of x: parallel (the command line's,
// else the spec's, else 1) slots, each with its share of the declared GPUs,
// and, when the GPUs are to be detected (slots: {gpus_per_point: K} alone,
// or several points at once without slots: GPUs), how many each slot gets
// (detectGPUSlots assigns them once the plan knows its GPU backends). The
// problems are positioned at the spec's keys.
func planSlots(x *spec.Experiment, d *spec.Decoder, opt Options) (slots []SlotPlan, detectPer int, errs spec.ErrorList) {
	parallel := x.Parallel
	if opt.Parallel != 0 {
		parallel = opt.Parallel
	}
	at := slotKeyPos(x, d, opt.Parallel)
	if parallel < 0 {
		errs.Add(at("parallel"), "parallel", "%d: want 1 or more points at once", parallel)
		return nil, 0, errs
	}
	parallel = max(parallel, 1)
	if !declaresGPUs(x) {
		slots = slots0(parallel)
		if parallel > 1 {
			detectPer = 1 // points at once must not share a GPU silently
		}
	} else {
		slots, detectPer, errs = slotGPUs(x, parallel, at)
		if len(errs) > 0 {
			return nil, 0, errs
		}
	}
	if x.Slots == nil {
		return slots, detectPer, nil
	}
	if ports := x.Slots.Ports; len(ports) > 0 {
		if len(ports) < parallel {
			errs.Add(at("slots"), "slots.ports", "%d port(s) for %d points at once: list one per slot", len(ports), parallel)
			return nil, 0, errs
		}
		seen := map[int]bool{}
		for i, port := range ports {
			if port <= 0 || port > 65535 || seen[port] {
				errs.Add(at("slots"), "slots.ports", "port %d: want distinct ports 1-65535", port)
				return nil, 0, errs
			}
			seen[port] = true
			if i < len(slots) {
				slots[i].Port = port
			}
		}
	}
	return slots, detectPer, nil
}

// slotKeyPos returns the position of a top-level key of x (the file's start
// when the key is not written). A parallel given on the command line
// (cliParallel, not 0) is named as the flag, not placed in a file that may
// not say parallel at all.
func slotKeyPos(x *spec.Experiment, d *spec.Decoder, cliParallel int) func(key string) spec.Pos {
	return func(key string) spec.Pos {
		if key == "parallel" && cliParallel != 0 {
			return spec.Pos{File: fmt.Sprintf("--parallel %d (command line)", cliParallel)}
		}
		if doc := docNode(x.Root); doc != nil {
			if n := spec.ValueNode(doc, key); n != nil {
				return d.Pos(n)
			}
		}
		return spec.Pos{File: x.File, Line: 1, Col: 1}
	}
}

// slotGPUs returns parallel slots with their share of the listed GPUs, or,
// with gpus_per_point alone, slots without GPUs and the number each is to
// get from the detected ones.
func slotGPUs(x *spec.Experiment, parallel int, at func(string) spec.Pos) ([]SlotPlan, int, spec.ErrorList) {
	var errs spec.ErrorList
	per := x.Slots.GPUsPerPoint
	if per < 0 {
		errs.Add(at("slots"), "slots.gpus_per_point", "%d: want 1 or more", per)
		return nil, 0, errs
	}
	per = max(per, 1)
	gpus := x.Slots.GPUs
	if len(gpus) == 0 {
		return slots0(parallel), per, nil
	}
	slots := slots0(parallel)
	if errs := assignGPUs(slots, gpus, per, at, "slots.gpus"); len(errs) > 0 {
		return nil, 0, errs
	}
	return slots, 0, nil
}

// declaresGPUs reports whether x's slots say how to share GPUs out.
func declaresGPUs(x *spec.Experiment) bool {
	return x.Slots != nil && (len(x.Slots.GPUs) > 0 || x.Slots.GPUsPerPoint != 0)
}

// slots0 returns n slots numbered 0..n-1.
func slots0(n int) []SlotPlan {
	slots := make([]SlotPlan, n)
	for i := range slots {
		slots[i].Index = i
	}
	return slots
}

// assignGPUs gives each slot per GPUs of gpus, in order, or says why gpus
// cannot hold the slots (field names where the GPUs come from).
func assignGPUs(slots []SlotPlan, gpus []int, per int, at func(string) spec.Pos, field string) spec.ErrorList {
	var errs spec.ErrorList
	seen := map[int]bool{}
	for _, g := range gpus {
		if g < 0 || seen[g] {
			errs.Add(at("slots"), field, "GPU %d: want distinct indices of 0 or more", g)
			return errs
		}
		seen[g] = true
	}
	n := len(gpus) / per
	if n == 0 {
		errs.Add(at("slots"), "slots", "%d GPU(s) cannot hold one point of %d GPUs", len(gpus), per)
		return errs
	}
	if len(slots) > n {
		errs.Add(at("parallel"), "parallel", "%d points at once need %d slots of %d GPU(s); %d GPU(s) hold %d", len(slots), len(slots), per, len(gpus), n)
		return errs
	}
	for i := range slots {
		slots[i].GPUs = append([]int(nil), gpus[i*per:(i+1)*per]...)
	}
	return nil
}

// detectGPUSlots gives each slot per of the host's GPUs, listed through the
// GPU backend the plan's steps read (backends): the sim backend has as many
// simulated GPUs as the slots need; another asks opt.HostGPUs. Without
// declared slots (implicit) and without any step that reads a GPU, the
// points need none and the slots stay without. Fewer GPUs than the slots
// need is a problem at parallel: points never share a GPU silently.
// Without opt.HostGPUs (validate), only declared slots insist on GPUs; nor
// do they when the points run elsewhere (an executor's allocation, e.g.
// Slurm's --gpus, gives each its GPUs there, not this host).
func detectGPUSlots(slots []SlotPlan, per int, implicit, elsewhere bool, backends []string, opt Options, at func(string) spec.Pos) spec.ErrorList {
	var errs spec.ErrorList
	if implicit && len(backends) == 0 {
		return nil
	}
	backend := "auto" // a launch alone: the host's GPUs, as vLLM would see them
	if len(backends) > 0 {
		backend = backends[0]
	}
	need := len(slots) * per
	if implicit && backend != "sim" && (opt.HostGPUs == nil || elsewhere) {
		return nil // validate: no host to ask; run and plan ask theirs
	}
	var gpus []int
	var err error
	switch {
	case backend == "sim":
		for i := range need {
			gpus = append(gpus, i)
		}
	case opt.HostGPUs == nil:
		err = fmt.Errorf("no GPU backend to ask")
	default:
		gpus, err = opt.HostGPUs(backend)
	}
	what, key := fmt.Sprintf("slots: {gpus_per_point: %d} shares out the host's GPUs", per), "slots.gpus"
	if implicit {
		what, key = "each point run at once needs a GPU of its own", "parallel"
	}
	if err != nil || len(gpus) == 0 {
		errs.Add(at(key), key, "%s, but no GPUs were detected through the %s backend (%v): list them (slots: {gpus: [0, 1]}) or run one point at a time", what, backend, err)
		return errs
	}
	if len(gpus) < need {
		errs.Add(at("parallel"), "parallel", "%d points at once need %d GPU(s) (%s), but the %s backend lists %d: run at most %d at once, or list the GPUs to share in slots: {gpus: [...]}",
			len(slots), need, what, backend, len(gpus), len(gpus)/per)
		return errs
	}
	return assignGPUs(slots, gpus, per, at, key)
}

// noteGPUBackends adds the GPU backends pt's steps read to p.gpuBackends
// (the host backend and none read no GPU).
func (p *Plan) noteGPUBackends(pt *PointPlan) {
	for _, st := range pt.Steps {
		r, ok := st.With.(steps.DeviceReader)
		if !ok {
			continue
		}
		b, known := gpu.Canonical(string(r.DeviceSelection().GPU))
		if !known || b == "host" || b == string(steps.GPUNone) || slices.Contains(p.gpuBackends, b) {
			continue
		}
		p.gpuBackends = append(p.gpuBackends, b)
		slices.Sort(p.gpuBackends)
	}
}

func docNode(root *yaml.Node) *yaml.Node {
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		return root.Content[0]
	}
	return root
}

// slotFor is the slot of the k-th point of a study: points are dealt out in
// turn, so every slot gets a share of each study.
func (p *Plan) slotFor(k int) SlotPlan {
	if len(p.Slots) == 0 {
		return SlotPlan{}
	}
	return p.Slots[k%len(p.Slots)]
}

// slotScope returns scope with ${slot.index} and ${slot.gpus} of the k-th
// point of a study.
func (p *Plan) slotScope(scope *spec.Scope, k int) *spec.Scope {
	s := p.slotFor(k)
	out := scope.Clone()
	out.Set("slot.index", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(s.Index)})
	out.SetString("slot.gpus", s.gpuList())
	if s.Port != 0 {
		out.Set("slot.port", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(s.Port)})
	}
	return out
}

// applySlots points each point's steps at its slot's GPUs: launches get
// CUDA_VISIBLE_DEVICES (unless the spec sets it), the steps that read GPUs
// get the devices (unless the spec names one).
func (p *Plan) applySlots() {
	for _, s := range p.Studies {
		for k, pt := range s.Points {
			p.slotPoint(pt, k)
		}
	}
}

// slotPoint puts the k-th point of a study on its slot.
func (p *Plan) slotPoint(pt *PointPlan, k int) {
	slot := p.slotFor(k)
	pt.Slot = slot.Index
	if len(slot.GPUs) == 0 {
		return
	}
	for _, st := range pt.Steps {
		applySlot(st.With, slot)
	}
}

func applySlot(st steps.Step, slot SlotPlan) {
	if d, ok := st.(steps.DevicePinner); ok {
		d.PinDevices(slot.gpuList())
	}
}

// String names the slot in progress lines.
func (s SlotPlan) String() string {
	if len(s.GPUs) == 0 {
		return fmt.Sprintf("slot %d", s.Index)
	}
	return fmt.Sprintf("slot %d, GPU %s", s.Index, s.gpuList())
}

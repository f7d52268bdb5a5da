package runner

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

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
// else the spec's, else 1) slots, each with its share of the declared (or
// detected) GPUs. The problems are positioned at the spec's keys.
func planSlots(x *spec.Experiment, d *spec.Decoder, opt Options) ([]SlotPlan, spec.ErrorList) {
	var errs spec.ErrorList
	parallel := x.Parallel
	if opt.Parallel != 0 {
		parallel = opt.Parallel
	}
	at := func(key string) spec.Pos {
		if doc := docNode(x.Root); doc != nil {
			if n := spec.ValueNode(doc, key); n != nil {
				return d.Pos(n)
			}
		}
		return spec.Pos{File: x.File, Line: 1, Col: 1}
	}
	if parallel < 0 {
		errs.Add(at("parallel"), "parallel", "%d: want 1 or more points at once", parallel)
		return nil, errs
	}
	parallel = max(parallel, 1)
	if x.Slots == nil {
		slots := make([]SlotPlan, parallel)
		for i := range slots {
			slots[i].Index = i
		}
		return slots, nil
	}
	slots, errs := slotGPUs(x, parallel, opt, at)
	if len(errs) > 0 {
		return nil, errs
	}
	if ports := x.Slots.Ports; len(ports) > 0 {
		if len(ports) < parallel {
			errs.Add(at("slots"), "slots.ports", "%d port(s) for %d points at once: list one per slot", len(ports), parallel)
			return nil, errs
		}
		seen := map[int]bool{}
		for i, port := range ports {
			if port <= 0 || port > 65535 || seen[port] {
				errs.Add(at("slots"), "slots.ports", "port %d: want distinct ports 1-65535", port)
				return nil, errs
			}
			seen[port] = true
			if i < len(slots) {
				slots[i].Port = port
			}
		}
	}
	return slots, nil
}

// slotGPUs returns parallel slots with their share of the GPUs; without
// gpus and gpus_per_point the slots hold none.
func slotGPUs(x *spec.Experiment, parallel int, opt Options, at func(string) spec.Pos) ([]SlotPlan, spec.ErrorList) {
	var errs spec.ErrorList
	if len(x.Slots.GPUs) == 0 && x.Slots.GPUsPerPoint == 0 {
		slots := make([]SlotPlan, parallel)
		for i := range slots {
			slots[i].Index = i
		}
		return slots, nil
	}
	per := x.Slots.GPUsPerPoint
	if per < 0 {
		errs.Add(at("slots"), "slots.gpus_per_point", "%d: want 1 or more", per)
		return nil, errs
	}
	per = max(per, 1)
	gpus := x.Slots.GPUs
	if len(gpus) == 0 {
		if opt.HostGPUs == nil {
			errs.Add(at("slots"), "slots.gpus", "no GPUs listed and none detected: list them, e.g. gpus: [0, 1, 2, 3]")
			return nil, errs
		}
		detected, err := opt.HostGPUs()
		if err != nil || len(detected) == 0 {
			errs.Add(at("slots"), "slots.gpus", "no GPUs listed and none detected (%v): list them, e.g. gpus: [0, 1, 2, 3]", err)
			return nil, errs
		}
		gpus = detected
	}
	seen := map[int]bool{}
	for _, g := range gpus {
		if g < 0 || seen[g] {
			errs.Add(at("slots"), "slots.gpus", "GPU %d: want distinct indices of 0 or more", g)
			return nil, errs
		}
		seen[g] = true
	}
	n := len(gpus) / per
	if n == 0 {
		errs.Add(at("slots"), "slots", "%d GPU(s) cannot hold one point of %d GPUs", len(gpus), per)
		return nil, errs
	}
	if parallel > n {
		errs.Add(at("parallel"), "parallel", "%d points at once need %d slots of %d GPU(s); %d GPU(s) hold %d", parallel, parallel, per, len(gpus), n)
		return nil, errs
	}
	slots := make([]SlotPlan, parallel)
	for i := range slots {
		slots[i] = SlotPlan{Index: i, GPUs: append([]int(nil), gpus[i*per:(i+1)*per]...)}
	}
	return slots, nil
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

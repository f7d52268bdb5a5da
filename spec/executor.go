package spec

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ExecutorKind is where a run's points execute.
type ExecutorKind string

// The executors.
const (
	ExecutorLocal ExecutorKind = "local" // in the runexp process, on this host (the default)
	ExecutorSlurm ExecutorKind = "slurm" // one Slurm array job per study, a task per point
)

// Values lists the executors.
func (ExecutorKind) Values() []string { return []string{string(ExecutorLocal), string(ExecutorSlurm)} }

var _ Enum = ExecutorKind("")

// Slurm is the `slurm:` block: how a study's array job is submitted. Every
// field maps to one sbatch option; what is left out is the cluster's
// default.
type Slurm struct {
	Partition    string   `yaml:"partition" json:"partition,omitempty" doc:"sbatch --partition"`
	Account      string   `yaml:"account" json:"account,omitempty" doc:"sbatch --account"`
	QOS          string   `yaml:"qos" json:"qos,omitempty" doc:"sbatch --qos"`
	Time         Duration `yaml:"time" json:"time,omitempty" doc:"time limit of one point (sbatch --time, rounded up to whole minutes); a point past it becomes a TIMEOUT row"`
	GPUsPerPoint int      `yaml:"gpus_per_point" json:"gpus_per_point,omitempty" doc:"GPUs each point's task gets (sbatch --gpus)"`
	Gres         string   `yaml:"gres" json:"gres,omitempty" doc:"generic resources of each task (sbatch --gres), e.g. gpu:a100:2"`
	CPUs         int      `yaml:"cpus" json:"cpus,omitempty" doc:"CPUs of each task (sbatch --cpus-per-task)"`
	Memory       string   `yaml:"memory" json:"memory,omitempty" doc:"memory of each task (sbatch --mem), a number with an optional K, M, G or T suffix"`
	Constraint   string   `yaml:"constraint" json:"constraint,omitempty" doc:"node features required (sbatch --constraint)"`
	ArrayLimit   int      `yaml:"array_limit" json:"array_limit,omitempty" doc:"points of a study running at once (the %K of sbatch --array); default: the run's parallel (--parallel), 1 when neither is set"`
	SbatchArgs   []string `yaml:"sbatch_args" json:"sbatch_args,omitempty" doc:"further sbatch arguments, each one word, e.g. --exclusive"`
	PollMax      Duration `yaml:"poll_max" json:"poll_max,omitempty" doc:"longest wait between two polls of the queue (default 30s; polls start at 1s and double)"`

	Node *yaml.Node `yaml:"-" json:"-"`
}

var slurmMemory = regexp.MustCompile(`^[0-9]+[KMGT]?$`)

// UnmarshalSpec keeps the block's node and decodes it, unless a value has
// a $ (`partition: ${partition}`, "$$", a stray $HOME): then it is decoded
// by Resolve once the vars' values (and --set) are known, under the rules
// of every other substitution.
func (s *Slurm) UnmarshalSpec(d *Decoder, n *yaml.Node, path string) ErrorList {
	if hasDollar(n) {
		s.Node = n
		return nil
	}
	return d.Decode(n, path, (*slurmFields)(s))
}

// hasDollar reports whether a scalar under n has a $, which substitution
// rewrites or rejects. Each node is visited once, aliases included.
func hasDollar(n *yaml.Node) bool {
	seen := map[*yaml.Node]bool{}
	var walk func(*yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		n = resolve(n)
		if n == nil || seen[n] {
			return false
		}
		seen[n] = true
		if n.Kind == yaml.ScalarNode {
			return strings.Contains(n.Value, "$")
		}
		return slices.ContainsFunc(n.Content, walk)
	}
	return walk(n)
}

// slurmFields is Slurm without its UnmarshalSpec, for the decoder.
type slurmFields Slurm

// Resolve returns the block with every ${...} substituted through sc and
// decoded and checked as a block without a $ is when the spec is read;
// problems are positioned at their key. A block without a $ is returned as
// it is.
func (s *Slurm) Resolve(d *Decoder, sc *Scope) (*Slurm, ErrorList) {
	if s == nil || !hasDollar(s.Node) {
		return s, nil
	}
	n, errs := d.Substitute(s.Node, "slurm", sc)
	out := &Slurm{}
	decodeErrs := d.Decode(n, "slurm", (*slurmFields)(out))
	// One problem per key: a reference that did not resolve is reported as
	// such, a value that does not decode is not checked again.
	for _, e := range append(decodeErrs, out.check(d)...) {
		if !slices.ContainsFunc(errs, func(r *Error) bool { return r.Pos == e.Pos }) {
			errs = append(errs, e)
		}
	}
	return out, errs
}

// checkExecutor checks the slurm: block (executor: is an Enum, checked by
// the decoder); one with a $ is checked by Resolve.
func (x *Experiment) checkExecutor(d *Decoder) ErrorList {
	if x.Slurm == nil || hasDollar(x.Slurm.Node) {
		return nil
	}
	return x.Slurm.check(d)
}

func (s *Slurm) check(d *Decoder) ErrorList {
	var errs ErrorList
	at := func(key string) Pos {
		if n := ValueNode(s.Node, key); n != nil {
			return d.Pos(n)
		}
		return d.Pos(s.Node)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{"gpus_per_point", s.GPUsPerPoint}, {"cpus", s.CPUs}, {"array_limit", s.ArrayLimit}} {
		if KeyNode(s.Node, f.key) != nil && f.n < 1 {
			errs.Add(at(f.key), "slurm."+f.key, "must be at least 1, got %d", f.n)
		}
	}
	if s.Memory != "" && !slurmMemory.MatchString(s.Memory) {
		errs.Add(at("memory"), "slurm.memory", "%q: want a number with an optional K, M, G or T suffix (16G)", s.Memory)
	}
	for _, f := range []struct {
		key string
		d   Duration
	}{{"time", s.Time}, {"poll_max", s.PollMax}} {
		// A negative one was reported by the decoder already.
		if n := ValueNode(s.Node, f.key); n != nil && f.d <= 0 && !strings.HasPrefix(n.Value, "-") {
			errs.Add(at(f.key), "slurm."+f.key, "must be positive, got %s", f.d)
		}
	}
	for i, a := range s.SbatchArgs {
		if a == "" {
			errs.Add(at("sbatch_args"), fmt.Sprintf("slurm.sbatch_args[%d]", i), "empty argument")
		}
	}
	return errs
}

// ArrayJobArgs are the sbatch options of the array job of a study of the
// experiment with points points (task i runs point i), its task logs in
// logDir: the block's options, and at most the block's array_limit points
// at once, else parallel (the run's --parallel: the same spec means the
// same concurrency on either executor), else 1.
func (s *Slurm) ArrayJobArgs(experiment, study, logDir string, points, parallel int) []string {
	if s == nil {
		s = &Slurm{}
	}
	limit := s.ArrayLimit
	if limit == 0 {
		limit = max(parallel, 1)
	}
	args := []string{fmt.Sprintf("--array=0-%d%%%d", points-1, limit),
		"--job-name=runexp-" + experiment + "-" + study,
		"--output=" + filepath.Join(logDir, "%A_%a.log"),
		"--open-mode=append"}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	add("--partition", s.Partition)
	add("--account", s.Account)
	add("--qos", s.QOS)
	if s.Time > 0 {
		add("--time", slurmTime(s.Time.D()))
	}
	if s.GPUsPerPoint > 0 {
		add("--gpus", strconv.Itoa(s.GPUsPerPoint))
	}
	add("--gres", s.Gres)
	if s.CPUs > 0 {
		add("--cpus-per-task", strconv.Itoa(s.CPUs))
	}
	add("--mem", s.Memory)
	add("--constraint", s.Constraint)
	return append(args, s.SbatchArgs...)
}

// slurmTime writes d as sbatch's "minutes:seconds" (Slurm rounds a limit
// up to whole minutes).
func slurmTime(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

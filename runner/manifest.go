package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/runexp/runexp/internal/gpu"
	"github.com/runexp/runexp/internal/proc"
)

// Manifest describes a run. It is written when the run starts (status
// running, with the pid of the runexp process), and again with every point
// and the final status when the run ends; in between, finished points are
// appended to the journal it names (JournalName), so a point costs the same
// whatever the run's length. Read it with ReadManifest, which merges the
// journal and reports a run whose runexp is gone as killed.
type Manifest struct {
	Runexp     string     `json:"runexp_version"`
	Experiment string     `json:"experiment"`
	SpecFile   string     `json:"spec_file"`
	SpecSHA256 string     `json:"spec_sha256"`
	SpecDir    string     `json:"spec_dir,omitempty"` // absolute: where a resume finds the spec's templates
	GitCommit  string     `json:"git_commit,omitempty"`
	GitDirty   bool       `json:"git_dirty,omitempty"`
	Overrides  []string   `json:"overrides,omitempty"`
	Only       []string   `json:"only,omitempty"` // --only: the run is a subset of the sweep
	Host       string     `json:"host"`
	OS         string     `json:"os"`
	GoVersion  string     `json:"go_version"`
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end,omitempty"`
	Status     string     `json:"status"`        // running | ok | failed | interrupted | aborted | killed
	PID        int        `json:"pid,omitempty"` // the runexp process writing the run
	// PIDStartTicks (/proc/PID/stat field 22) tells that process from a
	// later one that got its pid.
	PIDStartTicks uint64          `json:"pid_start_ticks,omitempty"`
	Journal       string          `json:"journal,omitempty"` // finished points, one JSON line each, while running
	GPUs          []gpu.Device    `json:"gpus,omitempty"`    // devices the run's GPU backends saw (UUID, driver)
	Points        []ManifestPoint `json:"points"`

	// Parallel is the number of points run at once (absent: 1); a resume
	// runs with the same slots, so that points keep their identities.
	Parallel int `json:"parallel,omitempty"`
	// Resumes lists what every resume of the run kept, re-ran and dropped.
	Resumes []ResumeRecord `json:"resumes,omitempty"`
	// Executor lists the jobs a cluster executor submitted (absent: local).
	Executor *ExecutorRecord `json:"executor,omitempty"`

	mu     sync.Mutex
	redact *redactor // the plan's: environment values shown as ${env.NAME}
}

// ManifestPoint is one point's status in the manifest.
type ManifestPoint struct {
	Study    string  `json:"study"`
	ID       string  `json:"id"`
	Identity string  `json:"identity,omitempty"`
	Label    string  `json:"label,omitempty"`
	Status   string  `json:"status"`
	Phase    string  `json:"phase,omitempty"`
	Error    string  `json:"error,omitempty"`
	Seconds  float64 `json:"seconds"`
	Dir      string  `json:"dir"`
	Job      string  `json:"job,omitempty"` // the executor's job for the point (Slurm: JOBID_TASK)
}

func newManifest(p *Plan, version string) *Manifest {
	host, _ := os.Hostname()
	m := &Manifest{Runexp: version, Experiment: p.Experiment, SpecFile: p.File, SpecSHA256: p.SpecSHA256,
		Host: host, OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(),
		Start: time.Now().UTC(), Status: "running", PID: os.Getpid(), Journal: JournalName,
		redact: p.secrets}
	if st, ok := proc.ReadStat(m.PID); ok {
		m.PIDStartTicks = st.StartTicks
	}
	for _, o := range p.Overrides {
		m.Overrides = append(m.Overrides, o.Name+"="+o.Value)
	}
	for _, o := range p.Only {
		m.Only = append(m.Only, o.Name+"="+o.Value)
	}
	m.GitCommit, m.GitDirty = gitState(p.SpecDir, p.File)
	if abs, err := filepath.Abs(p.SpecDir); err == nil {
		m.SpecDir = abs
	}
	if p.Parallel > 1 {
		m.Parallel = p.Parallel
	}
	return m
}

// gitState returns the commit of the repository holding the spec, if any.
func gitState(dir, file string) (string, bool) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	commit := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--", filepath.Base(file)).Output()
	return commit, err == nil && len(strings.TrimSpace(string(st))) > 0
}

// record adds pr to the manifest's points (written when the run ends) and
// returns its entry for the journal.
func (m *Manifest) record(pr *PointResult) ManifestPoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := ManifestPoint{Study: pr.Study, ID: pr.ID, Identity: pr.Identity, Label: pr.Label, Status: string(pr.Status),
		Phase: pr.Phase, Error: m.redact.Text(pr.Error), Seconds: pr.Seconds, Dir: filepath.Join(pr.Study, pr.Slug), Job: pr.Job}
	m.Points = append(m.Points, mp)
	return mp
}

func (m *Manifest) finish(r *Result) {
	switch code := r.ExitCode(); {
	case r.Interrupted:
		m.end("interrupted")
	case r.Aborted:
		m.end("aborted")
	case code == 0:
		m.end("ok")
	default:
		m.end("failed")
	}
}

func (m *Manifest) write(runDir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return writeJSON(filepath.Join(runDir, "manifest.json"), m)
}

// writeRunFiles writes the spec as run, the plan (text and JSON) and the
// first manifest.
func writeRunFiles(p *Plan, m *Manifest) error {
	if err := WriteFileAtomic(filepath.Join(p.RunDir, "spec.yaml"), p.Source); err != nil {
		return err
	}
	var txt strings.Builder
	if err := p.WriteText(&txt); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(p.RunDir, "plan.txt"), []byte(txt.String())); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(p.RunDir, "plan.json"), p); err != nil {
		return err
	}
	return m.write(p.RunDir)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return WriteFileAtomic(path, append(data, '\n'))
}

// WriteFileAtomic writes data to a temp file in the same folder and renames
// it into place, so readers never see half a file. When any step fails
// (a full disk, a folder in the way) the temp file is removed.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	err = writeAndClose(f, data)
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// fileWriter is what writeAndClose needs of a temp file; tests inject a
// failing one (a full disk cannot be had without privileges).
type fileWriter interface {
	Write([]byte) (int, error)
	Close() error
}

var _ fileWriter = (*os.File)(nil)

// writeData writes a temp file's contents; a variable so tests can make
// the write fail the way a full disk does.
var writeData = func(f fileWriter, data []byte) error {
	_, err := f.Write(data)
	return err
}

// writeAndClose writes data and closes f, reporting the first error; f is
// closed either way.
func writeAndClose(f fileWriter, data []byte) error {
	err := writeData(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

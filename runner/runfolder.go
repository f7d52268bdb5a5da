package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
)

// ErrRunDirTaken is returned by Execute when the plan's run folder already
// exists: another run (typically a second runexp started in the same second
// into the same --out) created it after the plan was compiled. The plan is
// spent; compile again, which picks the next free name, and execute that.
var ErrRunDirTaken = errors.New("run folder already taken by another run")

// runFolder is the on-disk state of one executing run: its manifest, its
// journal and the points of the study in progress. It is guarded so that
// MarkKilled (on the signal handler's goroutine, at a second Ctrl-C) can
// write them while the run's goroutine is in the middle of a point.
type runFolder struct {
	mu          sync.Mutex
	plan        *Plan
	m           *Manifest
	j           *journal
	study       *StudyPlan
	studyPoints []*PointResult
	journalErr  bool // reported once, not at every later point
	done        bool
	lock        *runLock // held from creation to finish or abandon
}

// active holds the run folders this process is writing, for MarkKilled.
var active sync.Map // *runFolder → struct{}

// createRunFolder creates the plan's run folder exclusively (never writing
// into another run's folder) and writes the spec, the plan, the first
// manifest and an empty journal.
func createRunFolder(p *Plan, version string) (*runFolder, error) {
	if err := os.MkdirAll(filepath.Dir(p.RunDir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(p.RunDir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %w", ErrRunDirTaken, err)
		}
		return nil, fmt.Errorf("run directory: %w", err)
	}
	lock, err := lockRunFolder(p.RunDir, io.Discard) // a new folder has no stale lock
	if err != nil {
		return nil, err
	}
	linkLatest(p.RunDir)
	rf := &runFolder{plan: p, m: newManifest(p, version), lock: lock}
	if err := writeRunFiles(p, rf.m); err != nil {
		// Whatever was written, the manifest must not say running.
		rf.m.end("failed")
		rf.m.write(p.RunDir)
		lock.release()
		return nil, err
	}
	j, err := openJournal(p.RunDir)
	if err != nil {
		rf.m.end("failed")
		rf.m.write(p.RunDir)
		lock.release()
		return nil, err
	}
	rf.j = j
	active.Store(rf, struct{}{})
	return rf, nil
}

// startStudy begins collecting the points of s.
func (rf *runFolder) startStudy(s *StudyPlan) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.study, rf.studyPoints = s, nil
}

// record keeps a finished point: in memory for the study's artifacts and
// the final manifest, and appended to the journal at once.
func (rf *runFolder) record(pr *PointResult) error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.studyPoints = append(rf.studyPoints, pr)
	mp := rf.m.record(pr)
	if err := rf.j.append(mp); err != nil && !rf.journalErr {
		rf.journalErr = true
		return err
	}
	return nil
}

// endStudy writes the study's artifacts: data formats first, then the
// ones built from them.
func (rf *runFolder) endStudy() []error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	return rf.writeStudyArtifacts()
}

func (rf *runFolder) writeStudyArtifacts() []error {
	if rf.study == nil {
		return nil
	}
	// Parallel points finish in any order; artifacts list them in plan order.
	order := make(map[string]int, len(rf.study.Points))
	for i, pt := range rf.study.Points {
		order[pt.ID] = i
	}
	slices.SortStableFunc(rf.studyPoints, func(a, b *PointResult) int { return order[a.ID] - order[b.ID] })
	errs := writeArtifacts(rf.plan, rf.study, rf.studyPoints, false)
	errs = append(errs, writeArtifacts(rf.plan, rf.study, rf.studyPoints, true)...)
	rf.study = nil
	return errs
}

// finish writes the final manifest (every point, the run's status) and
// closes the journal.
func (rf *runFolder) finish(r *Result) error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.done {
		return nil
	}
	rf.done = true
	active.Delete(rf)
	rf.m.finish(r)
	var errs *multierror.Error
	errs = multierror.Append(errs, rf.m.write(rf.plan.RunDir))
	errs = multierror.Append(errs, rf.j.close())
	errs = multierror.Append(errs, writeReport(rf.plan.RunDir))
	rf.lock.release()
	return errs.ErrorOrNil()
}

// abandon ends a run that stopped without a result (a panic in Execute):
// the manifest says status, never running.
func (rf *runFolder) abandon(status string) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.done {
		return
	}
	rf.done = true
	active.Delete(rf)
	rf.writeStudyArtifacts()
	rf.m.end(status)
	rf.m.write(rf.plan.RunDir)
	rf.j.close()
	writeReport(rf.plan.RunDir) // best effort: the process is about to exit
	rf.lock.release()
}

// MarkKilled ends every run this process is executing, for a process about
// to exit at once (runexp's second Ctrl-C): the study in progress gets its
// artifacts from the points finished so far, and the manifest gets every
// finished point and the status killed. Runs whose goroutine holds their
// folder (writing a study's artifacts) are waited for.
func MarkKilled() {
	active.Range(func(k, _ any) bool {
		k.(*runFolder).abandon(StatusKilled)
		return true
	})
}

// end sets the final status and end time.
func (m *Manifest) end(status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().UTC()
	m.End, m.Status = &now, status
}

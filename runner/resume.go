package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runexp/runexp/internal/proc"
	"github.com/runexp/runexp/steps"
)

// ResumeOptions configure Resume.
type ResumeOptions struct {
	// Failed re-runs the points whose result is failed; without it they
	// are kept like the ok ones.
	Failed bool
}

// ResumeRecord is what one resume did, in the manifest: the points it kept
// from the earlier run, the points it ran again, the earlier points the
// plan no longer has, and the leftover processes it stopped first. Points
// are named study/id.
type ResumeRecord struct {
	Time           time.Time `json:"time"`
	PreviousStatus string    `json:"previous_status"`
	Kept           []string  `json:"kept"`
	Rerun          []string  `json:"rerun"`
	Dropped        []string  `json:"dropped,omitempty"`
	Reaped         []int     `json:"reaped_pids,omitempty"`
	// PreviousSpec is where the spec the run had before is kept, when the
	// resume runs an edited one (run --resume).
	PreviousSpec string `json:"previous_spec,omitempty"`
}

// ErrNotRunFolder is returned by Resume for a folder without a manifest.
var ErrNotRunFolder = errors.New("not a run folder")

// Resume continues the run in p.RunDir, which p was compiled for
// (Options.RunDir). It locks the folder (ErrRunLocked when another runexp
// works on it), stops what the earlier runexp left running (the launches
// its ledger records, naming them on opt.Out), keeps every point whose
// result.json is ok (or failed, unless ro.Failed) with the plan's identity
// for that point, runs every other point, and writes every artifact again
// from all points in plan order, so that they equal those of an
// uninterrupted run with the same results. A kept point whose id changed
// (a value was inserted in an axis) has its folder moved to its new name;
// the folder of a point that runs again is moved under <study>/.retired.
func Resume(ctx context.Context, p *Plan, opt ExecOptions, ro ResumeOptions) (*Result, error) {
	return execute(ctx, p, opt, &ro)
}

// earlierPoint is a result.json of the run folder.
type earlierPoint struct {
	dir    string
	result *PointResult
	taken  bool
}

// reopenRunFolder prepares p.RunDir for a resume and returns its run folder
// (locked, manifest running, fresh journal) and the points to keep.
func reopenRunFolder(ctx context.Context, p *Plan, opt ExecOptions, ro ResumeOptions) (*runFolder, map[*PointPlan]*PointResult, error) {
	old, err := ReadManifest(p.RunDir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrNotRunFolder, p.RunDir, err)
	}
	lock, err := lockRunFolder(p.RunDir, opt.Out)
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.release()
		}
	}()
	rec := ResumeRecord{Time: time.Now().UTC(), PreviousStatus: old.Status}
	cancelled, err := stopEarlierJobs(ctx, old, opt)
	if err != nil {
		return nil, nil, err
	}
	if rec.Reaped, err = reapLeftovers(ctx, p.RunDir, cancelled, opt.Out); err != nil {
		return nil, nil, err
	}
	kept, err := keepEarlierPoints(p, old, ro, &rec)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(opt.Out, "resume %s: %d point(s) kept, %d to run, %d dropped\n", p.RunDir, len(rec.Kept), len(rec.Rerun), len(rec.Dropped))

	if rec.PreviousSpec, err = keepPreviousSpec(p); err != nil {
		return nil, nil, err
	}
	m := newManifest(p, opt.Version)
	m.Resumes = append(old.Resumes, rec)
	m.Executor = old.Executor
	rf := &runFolder{plan: p, m: m, lock: lock}
	if err := writeRunFiles(p, m); err != nil {
		m.end("failed")
		m.write(p.RunDir)
		return nil, nil, err
	}
	// The journal starts again: every point, kept or run, is appended in
	// plan order, as in an uninterrupted run. What is kept is decided from
	// the result.json files, so a resume killed in turn loses nothing.
	if err := os.Remove(filepath.Join(p.RunDir, JournalName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	if rf.j, err = openJournal(p.RunDir); err != nil {
		m.end("failed")
		m.write(p.RunDir)
		return nil, nil, err
	}
	active.Store(rf, struct{}{})
	ok = true
	return rf, kept, nil
}

// reapLeftovers stops every process the run's ledger names that is still
// alive on this machine, saying which first, and names the launches of
// other machines (a cluster executor's nodes, or this one before a
// reboot), whose pids mean nothing here: cancelling the earlier jobs of
// the executor named cancelled (stopEarlierJobs) ended those.
func reapLeftovers(ctx context.Context, runDir, cancelled string, out io.Writer) ([]int, error) {
	path := filepath.Join(runDir, proc.LedgerName)
	entries, err := proc.ReadLedger(path)
	if err != nil {
		return nil, err
	}
	elsewhere := map[string]int{}
	for _, e := range entries {
		if where := e.Elsewhere(); where != "" {
			elsewhere[where]++
		} else if left := e.Leftovers(); len(left) > 0 {
			fmt.Fprintf(out, "stopping what the earlier run left of %s (launched as pid %d%s): pid(s) %s\n",
				e.Argv0, e.PID, portNote(e.Port), joinInts(left))
		}
	}
	for _, where := range slices.Sorted(maps.Keys(elsewhere)) {
		fate := "stop them there if they still run"
		if cancelled != "" {
			fate = fmt.Sprintf("cancelling the earlier %s jobs ended their tasks", cancelled)
		}
		fmt.Fprintf(out, "%d process(es) recorded on %s were not checked from here; %s\n", elsewhere[where], where, fate)
	}
	pids, err := proc.ReapLedger(ctx, path)
	if err != nil {
		return pids, fmt.Errorf("resume: %w", err)
	}
	return pids, nil
}

func portNote(port int) string {
	if port == 0 {
		return ""
	}
	return fmt.Sprintf(", port %d", port)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// keepEarlierPoints decides, for every point of p, whether an earlier
// result stands, and moves folders so that every kept point is in its
// plan folder and no point that runs again finds an earlier attempt there.
func keepEarlierPoints(p *Plan, old *Manifest, ro ResumeOptions, rec *ResumeRecord) (map[*PointPlan]*PointResult, error) {
	kept := map[*PointPlan]*PointResult{}
	from := map[*PointPlan]*earlierPoint{}
	planned := map[string]bool{}
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	for _, s := range p.Studies {
		earlier, err := indexEarlierPoints(s)
		if err != nil {
			return nil, err
		}
		for _, pt := range s.Points {
			planned[s.Name+"\x00"+pt.Identity] = true
			if e := pickEarlier(earlier[pt.Identity], pt, ro); e != nil {
				e.taken = true
				from[pt] = e
				kept[pt] = e.result
				rec.Kept = append(rec.Kept, s.Name+"/"+pt.ID)
			} else {
				rec.Rerun = append(rec.Rerun, s.Name+"/"+pt.ID)
			}
		}
		// Moves in three passes, so that a kept folder is never retired
		// because another point now has its old name.
		staged := map[*PointPlan]string{}
		for _, pt := range s.Points {
			if e := from[pt]; e != nil && e.dir != pt.Dir {
				tmp := filepath.Join(s.Dir, ".resume", pt.Identity)
				if err := moveDir(e.dir, tmp); err != nil {
					return nil, err
				}
				staged[pt] = tmp
			}
		}
		for _, pt := range s.Points {
			if from[pt] == nil || staged[pt] != "" {
				if err := retire(s, pt.Dir, stamp); err != nil {
					return nil, err
				}
			}
		}
		for _, pt := range s.Points {
			if tmp := staged[pt]; tmp != "" {
				if err := moveDir(tmp, pt.Dir); err != nil {
					return nil, err
				}
			}
		}
		os.Remove(filepath.Join(s.Dir, ".resume"))
	}
	for _, mp := range old.Points {
		if !planned[mp.Study+"\x00"+mp.Identity] {
			rec.Dropped = append(rec.Dropped, mp.Study+"/"+mp.ID)
		}
	}
	// A kept point takes its place in the new plan: its id, folder and
	// label, which change when a value was inserted in an axis.
	for _, s := range p.Studies {
		for _, pt := range s.Points {
			pr := kept[pt]
			if pr == nil {
				continue
			}
			moved := pr.ID != pt.ID || pr.Slug != pt.Slug
			pr.ID, pr.Slug, pr.Label, pr.Sweep = pt.ID, pt.Slug, pt.Label, pt.Values
			if moved {
				if err := writeJSON(filepath.Join(pt.Dir, "result.json"), pr); err != nil {
					return nil, err
				}
			}
		}
	}
	return kept, nil
}

// pickEarlier returns the earlier result that stands for pt, preferring
// the one in pt's own folder.
func pickEarlier(cands []*earlierPoint, pt *PointPlan, ro ResumeOptions) *earlierPoint {
	var pick *earlierPoint
	for _, e := range cands {
		keep := e.result.Status == StatusOK || (e.result.Status == StatusFailed && !ro.Failed)
		if e.taken || !keep {
			continue
		}
		if e.dir == pt.Dir {
			return e
		}
		if pick == nil {
			pick = e
		}
	}
	return pick
}

// indexEarlierPoints reads the result.json of every point folder of the
// study (not the hidden ones: retired attempts), by identity.
func indexEarlierPoints(s *StudyPlan) (map[string][]*earlierPoint, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]*earlierPoint{}
	for _, ent := range ents {
		if !ent.IsDir() || strings.HasPrefix(ent.Name(), ".") {
			continue
		}
		dir := filepath.Join(s.Dir, ent.Name())
		data, err := os.ReadFile(filepath.Join(dir, "result.json"))
		if err != nil {
			continue // a point that never finished
		}
		pr, err := decodePointResult(data)
		if err != nil || pr.Identity == "" || pr.Study != s.Name {
			continue // torn, or from a runexp without identities: runs again
		}
		out[pr.Identity] = append(out[pr.Identity], &earlierPoint{dir: dir, result: pr})
	}
	return out, nil
}

// retire moves an earlier attempt's folder out of the way of a point that
// runs again; it is kept for inspection under <study>/.retired.
func retire(s *StudyPlan, dir, stamp string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return moveDir(dir, filepath.Join(s.Dir, ".retired", stamp, filepath.Base(dir)))
}

func moveDir(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

// decodePointResult reads a result.json, keeping the order of its values
// (artifacts list columns in order of first appearance) and numbers as
// integers when they are written as integers.
func decodePointResult(data []byte) (*PointResult, error) {
	var raw struct {
		PointResult
		Values json.RawMessage              `json:"values"`
		Tables map[string][]json.RawMessage `json:"tables"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	pr := raw.PointResult
	var err error
	if pr.Values, err = decodeValues(raw.Values); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	if raw.Tables != nil {
		pr.Tables = map[string][]steps.Values{}
		for name, rows := range raw.Tables {
			for _, r := range rows {
				v, err := decodeValues(r)
				if err != nil {
					return nil, fmt.Errorf("table %s: %w", name, err)
				}
				pr.Tables[name] = append(pr.Tables[name], v)
			}
		}
	}
	return &pr, nil
}

func decodeValues(data json.RawMessage) (steps.Values, error) {
	var v steps.Values
	if len(data) == 0 || string(data) == "null" {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return v, fmt.Errorf("want an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return v, err
		}
		var x any
		if err := dec.Decode(&x); err != nil {
			return v, err
		}
		v.Set(t.(string), plainNumbers(x))
	}
	return v, nil
}

// plainNumbers turns json.Numbers into int64 (written without fraction or
// exponent) or float64, as the steps record them.
func plainNumbers(x any) any {
	switch t := x.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil && !strings.ContainsAny(string(t), ".eE") {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = plainNumbers(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = plainNumbers(t[k])
		}
	}
	return x
}

// keepPreviousSpec moves the run's spec.yaml aside when p runs another
// one, so that the folder still holds every spec its points ran under.
func keepPreviousSpec(p *Plan) (string, error) {
	path := filepath.Join(p.RunDir, "spec.yaml")
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && bytes.Equal(old, p.Source)) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	name := "spec.before-" + time.Now().UTC().Format("20060102T150405.000Z") + ".yaml"
	if err := os.Rename(path, filepath.Join(p.RunDir, name)); err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	return name, nil
}

package runner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// JournalName is the file, in a run folder, that records every finished
// point as one JSON line (a ManifestPoint), appended when the point ends.
// The manifest names it; ReadManifest merges it into the manifest's points
// while a run is going or after it was killed.
const JournalName = "points.jsonl"

// journal is the append-only record of finished points. Appending costs
// the same at the 10,000th point as at the first, unlike rewriting the
// manifest, and a killed runexp loses at most a torn last line.
type journal struct{ f *os.File }

func openJournal(runDir string) (*journal, error) {
	f, err := os.OpenFile(filepath.Join(runDir, JournalName), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{f: f}, nil
}

// append writes mp as one line with one write(2): the page cache keeps it
// when runexp dies, so no fsync (which would cost milliseconds per point).
func (j *journal) append(mp ManifestPoint) error {
	line, err := json.Marshal(mp)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func (j *journal) close() error { return j.f.Close() }

// readJournal returns the points of a journal, skipping a torn last line.
func readJournal(path string) ([]ManifestPoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var points []ManifestPoint
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for sc.Scan() {
		var mp ManifestPoint
		if json.Unmarshal(sc.Bytes(), &mp) == nil {
			points = append(points, mp)
		}
	}
	return points, sc.Err()
}

// StatusKilled is the status ReadManifest reports for a run whose manifest
// says running but whose runexp process is gone (SIGKILL, a crash, a full
// disk at the final write), and the status a second Ctrl-C writes.
const StatusKilled = "killed"

// ReadManifest reads the manifest of the run in runDir. While the run is
// going (status running) its points come from the journal, which is
// appended after every point; when the runexp process that recorded itself
// in the manifest is gone (same host, pid dead, a zombie or recycled), the
// run is reported as killed instead of running.
func ReadManifest(runDir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, "manifest.json"), err)
	}
	if m.Status != "running" {
		return m, nil
	}
	if m.Journal != "" {
		points, err := readJournal(filepath.Join(runDir, m.Journal))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if len(points) > len(m.Points) {
			m.Points = points
		}
	}
	if m.recorderGone() {
		m.Status = StatusKilled
	}
	return m, nil
}

// recorderGone reports whether the runexp process that wrote m has
// certainly exited. A manifest from another host, or without a pid, is
// never declared dead.
func (m *Manifest) recorderGone() bool {
	return processGone(m.PID, m.PIDStartTicks, m.Host)
}

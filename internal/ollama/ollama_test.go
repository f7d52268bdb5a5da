package ollama

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOllama implements the endpoints Register uses, backed by a blob dir.
type fakeOllama struct {
	t         *testing.T
	modelsDir string
	createErr string // error line to send in the create stream
	noSuccess bool   // end the create stream without "success"

	mu      sync.Mutex
	uploads int
	creates []CreateRequest
	notYet  int // GET / answers 503 this many times
}

func (f *fakeOllama) blobPath(digest string) string {
	return filepath.Join(f.modelsDir, "blobs", strings.Replace(digest, ":", "-", 1))
}

func (f *fakeOllama) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		if f.notYet > 0 {
			f.notYet--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "Ollama is running")
	case strings.HasPrefix(r.URL.Path, "/api/blobs/"):
		digest := strings.TrimPrefix(r.URL.Path, "/api/blobs/")
		_, err := os.Stat(f.blobPath(digest))
		if r.Method == http.MethodHead {
			if err != nil {
				w.WriteHeader(http.StatusNotFound)
			}
			return
		}
		f.uploads++
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"digest mismatch, expected %q, got %q"}`, digest, got)
			return
		}
		os.MkdirAll(filepath.Dir(f.blobPath(digest)), 0o755)
		os.WriteFile(f.blobPath(digest), b, 0o644)
		w.WriteHeader(http.StatusCreated)
	case r.URL.Path == "/api/create":
		var cr CreateRequest
		if err := json.NewDecoder(r.Body).Decode(&cr); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.creates = append(f.creates, cr)
		for _, d := range cr.Files {
			if _, err := os.Stat(f.blobPath(d)); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":"neither 'from' or 'files' was specified"}`)
				return
			}
		}
		io.WriteString(w, `{"status":"parsing GGUF"}`+"\n")
		if f.createErr != "" {
			fmt.Fprintf(w, `{"error":%q}`+"\n", f.createErr)
			return
		}
		io.WriteString(w, `{"status":"writing manifest"}`+"\n")
		if !f.noSuccess {
			io.WriteString(w, `{"status":"success"}`+"\n")
		}
	case r.URL.Path == "/api/generate":
		io.WriteString(w, `{"model":"x","done":true,"done_reason":"load"}`)
	default:
		http.NotFound(w, r)
	}
}

func setup(t *testing.T) (*fakeOllama, *Client, string, string) {
	t.Helper()
	dir := t.TempDir()
	f := &fakeOllama{t: t, modelsDir: filepath.Join(dir, "models")}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	file := filepath.Join(dir, "model.gguf")
	if err := os.WriteFile(file, []byte("GGUF fake model bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("GGUF fake model bytes"))
	return f, New(strings.TrimPrefix(srv.URL, "http://")), file, "sha256:" + hex.EncodeToString(sum[:])
}

func TestRegisterUploads(t *testing.T) {
	f, c, file, digest := setup(t)
	var msgs []string
	res, err := c.Register(context.Background(), RegisterOptions{
		GGUF: file, Name: "tiny", Parameters: map[string]any{"temperature": 0},
		Status: func(s string) { msgs = append(msgs, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digest || res.How != "uploaded" || f.uploads != 1 {
		t.Errorf("res %+v uploads %d", res, f.uploads)
	}
	if len(f.creates) != 1 || f.creates[0].Model != "tiny" || f.creates[0].Files["model.gguf"] != digest ||
		!f.creates[0].Stream || f.creates[0].Parameters["temperature"] != float64(0) {
		t.Errorf("create requests %+v", f.creates)
	}
	if !strings.Contains(strings.Join(msgs, "|"), "writing manifest|success") {
		t.Errorf("status messages %q", msgs)
	}
	// Second time: the blob is present, nothing is uploaded.
	res, err = c.Register(context.Background(), RegisterOptions{GGUF: file, Name: "tiny2", Digest: digest})
	if err != nil || res.How != "present" || f.uploads != 1 {
		t.Errorf("second register: %+v %v uploads %d", res, err, f.uploads)
	}
}

func TestRegisterLinks(t *testing.T) {
	f, c, file, digest := setup(t)
	res, err := c.Register(context.Background(), RegisterOptions{GGUF: file, Name: "tiny", ModelsDir: f.modelsDir})
	if err != nil {
		t.Fatal(err)
	}
	if res.How != "linked" || f.uploads != 0 {
		t.Errorf("res %+v uploads %d", res, f.uploads)
	}
	a, _ := os.Stat(file)
	b, err := os.Stat(f.blobPath(digest))
	if err != nil || !os.SameFile(a, b) {
		t.Errorf("blob is not a hard link of the model: %v", err)
	}
}

func TestRegisterSidecarDigest(t *testing.T) {
	_, c, file, digest := setup(t)
	st, _ := os.Stat(file)
	side := file + ".json"
	write := func(size int64, sha string) {
		b, _ := json.Marshal(map[string]any{"file_bytes": size, "sha256": sha})
		os.WriteFile(side, b, 0o644)
		later := st.ModTime().Add(time.Second)
		os.Chtimes(side, later, later)
	}
	// A sidecar with another size is ignored: the file is hashed.
	write(st.Size()+1, strings.Repeat("ab", 32))
	if d := sidecarDigest(file, st); d != "" {
		t.Errorf("stale sidecar used: %s", d)
	}
	// A matching sidecar is trusted (here: deliberately wrong, so the
	// fake server's digest check proves it was used).
	wrong := strings.Repeat("cd", 32)
	write(st.Size(), wrong)
	if d := sidecarDigest(file, st); d != "sha256:"+wrong {
		t.Errorf("sidecar digest %q", d)
	}
	_, err := c.Register(context.Background(), RegisterOptions{GGUF: file, Name: "x"})
	var ae *APIError
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Errorf("want digest mismatch from server, got %v", err)
	} else if !errors.As(err, &ae) || ae.Status != 400 {
		t.Errorf("error %T %v", err, err)
	}
	// An explicit digest wins over the sidecar.
	res, err := c.Register(context.Background(), RegisterOptions{GGUF: file, Name: "x", Digest: strings.TrimPrefix(digest, "sha256:")})
	if err != nil || res.Digest != digest {
		t.Errorf("explicit digest: %+v %v", res, err)
	}
}

func TestCreateErrors(t *testing.T) {
	f, c, file, _ := setup(t)
	f.createErr = "error loading model: unordered_map::at"
	_, err := c.Register(context.Background(), RegisterOptions{GGUF: file, Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "unordered_map::at") {
		t.Errorf("stream error not reported: %v", err)
	}
	f.createErr, f.noSuccess = "", true
	_, err = c.Register(context.Background(), RegisterOptions{GGUF: file, Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "not success") {
		t.Errorf("missing success not reported: %v", err)
	}
	err = c.Create(context.Background(), CreateRequest{Model: "y", Files: map[string]string{"model.gguf": "sha256:" + strings.Repeat("0", 64)}}, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("HTTP error not reported: %v", err)
	}
	if _, err := c.Register(context.Background(), RegisterOptions{GGUF: file}); err == nil {
		t.Error("missing name accepted")
	}
	if _, err := c.Register(context.Background(), RegisterOptions{GGUF: file + ".missing", Name: "x"}); err == nil {
		t.Error("missing file accepted")
	}
}

func TestWaitReadyAndLoad(t *testing.T) {
	f, c, _, _ := setup(t)
	f.notYet = 3
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if f.notYet != 0 {
		t.Errorf("returned before 200")
	}
	if _, err := c.Load(ctx, "x", "30m"); err != nil {
		t.Error(err)
	}
	dead := New("127.0.0.1:1")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := dead.WaitReady(ctx2, 10*time.Millisecond); err == nil {
		t.Error("WaitReady on a closed port succeeded")
	}
}

func TestNormalizeDigest(t *testing.T) {
	h := strings.Repeat("a1", 32)
	for _, in := range []string{h, "sha256:" + h, "sha256-" + h, " SHA256:" + strings.ToUpper(h) + "\n"} {
		if d, err := NormalizeDigest(in); err != nil || d != "sha256:"+h {
			t.Errorf("NormalizeDigest(%q) = %q, %v", in, d, err)
		}
	}
	for _, in := range []string{"", "sha256:abc", "md5:" + h, h + "00"} {
		if _, err := NormalizeDigest(in); err == nil {
			t.Errorf("NormalizeDigest(%q) accepted", in)
		}
	}
	if New("http://h:1/").BaseURL != "http://h:1" || New("h:1").BaseURL != "http://h:1" {
		t.Error("New URL normalisation")
	}
}

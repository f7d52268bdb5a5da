// Package ollama registers a local GGUF file as a model on a running Ollama
// server without copying it through the CLI: the file becomes a blob
// (hard-linked into the server's blob store when possible, else uploaded to
// /api/blobs/sha256:<hex>), then /api/create names it with the "files" field.
package ollama

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Client talks to one Ollama server.
type Client struct {
	// BaseURL is like http://127.0.0.1:11434 (no trailing slash needed).
	BaseURL string
	HTTP    *http.Client
}

// New returns a client for baseURL. A bare host:port (as in OLLAMA_HOST)
// gets an http:// prefix.
func New(baseURL string) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{}}
}

func (c *Client) url(path string) string { return c.BaseURL + path }

// APIError is a non-success answer from the server.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("ollama: HTTP %d: %s", e.Status, e.Message)
}

func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// WaitReady polls GET / (Ollama has no /health) until it answers 200 or ctx
// ends.
func (c *Client) WaitReady(ctx context.Context, interval time.Duration) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/"), nil)
		if err != nil {
			return err
		}
		resp, err := c.HTTP.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return fmt.Errorf("ollama: %s not ready: %w (last: %v)", c.BaseURL, ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// NormalizeDigest accepts "sha256:<hex>", "sha256-<hex>" or "<hex>" and
// returns "sha256:<hex>".
func NormalizeDigest(d string) (string, error) {
	d = strings.ToLower(strings.TrimSpace(d))
	d = strings.Replace(d, "sha256-", "sha256:", 1)
	if !strings.HasPrefix(d, "sha256:") {
		d = "sha256:" + d
	}
	if !digestRE.MatchString(d) {
		return "", fmt.Errorf("ollama: bad digest %q", d)
	}
	return d, nil
}

// FileDigest hashes a file: "sha256:<hex>".
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 4<<20)); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// HasBlob reports whether the server holds the blob (HEAD /api/blobs/…).
func (c *Client) HasBlob(ctx context.Context, digest string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url("/api/blobs/"+digest), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &APIError{Status: resp.StatusCode, Message: "HEAD /api/blobs/" + digest}
}

// PushBlob uploads a file as a blob (POST /api/blobs/…); the server checks
// the digest while it stores the file.
func (c *Client) PushBlob(ctx context.Context, digest, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/blobs/"+digest), f)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	return nil
}

// CreateRequest is the subset of Ollama's /api/create request used here.
type CreateRequest struct {
	Model string `json:"model"`
	// Files maps a file name (its extension tells the type: use
	// "model.gguf") to a blob digest.
	Files      map[string]string `json:"files,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Template   string            `json:"template,omitempty"`
	Stream     bool              `json:"stream"`
}

// Create calls /api/create and reads its progress stream until "success".
// status, when not nil, receives each progress message.
func (c *Client) Create(ctx context.Context, cr CreateRequest, status func(string)) error {
	cr.Stream = true
	body, err := json.Marshal(cr)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/create"), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	last := ""
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("ollama: create %s: bad progress line %q: %w", cr.Model, line, err)
		}
		if m.Error != "" {
			return &APIError{Status: resp.StatusCode, Message: m.Error}
		}
		if m.Status != "" && status != nil {
			status(m.Status)
		}
		last = m.Status
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ollama: create %s: %w", cr.Model, err)
	}
	if last != "success" {
		return fmt.Errorf("ollama: create %s: stream ended after %q, not success", cr.Model, last)
	}
	return nil
}

// RegisterOptions say what to register.
type RegisterOptions struct {
	// GGUF is the model file. Name is the Ollama model name.
	GGUF string
	Name string
	// Digest ("sha256:<hex>"), if known, saves hashing the file. When
	// empty, the gengguf sidecar <GGUF>.json is used if it is newer than
	// the file and records the same size; otherwise the file is hashed.
	Digest string
	// ModelsDir is the server's OLLAMA_MODELS. When set and on the same
	// file system, the file is hard-linked into ModelsDir/blobs instead of
	// uploaded: no copy, however large the file.
	ModelsDir string
	// Parameters become the model's default options (e.g. temperature).
	Parameters map[string]any
	// Status receives progress messages; may be nil.
	Status func(string)
}

// RegisterResult says what happened.
type RegisterResult struct {
	Digest string
	// How is "present" (the server had the blob), "linked" or "uploaded".
	How      string
	Duration time.Duration
}

// Register makes GGUF available as model Name and waits until the server
// reports success.
func (c *Client) Register(ctx context.Context, o RegisterOptions) (RegisterResult, error) {
	start := time.Now()
	res := RegisterResult{}
	say := func(format string, args ...any) {
		if o.Status != nil {
			o.Status(fmt.Sprintf(format, args...))
		}
	}
	if o.Name == "" || o.GGUF == "" {
		return res, errors.New("ollama: register needs a GGUF path and a model name")
	}
	st, err := os.Stat(o.GGUF)
	if err != nil {
		return res, err
	}
	digest := o.Digest
	if digest == "" {
		digest = sidecarDigest(o.GGUF, st)
		if digest != "" {
			say("digest %s from sidecar", digest)
		}
	}
	if digest == "" {
		say("hashing %s (%d bytes)", o.GGUF, st.Size())
		if digest, err = FileDigest(o.GGUF); err != nil {
			return res, err
		}
	}
	if digest, err = NormalizeDigest(digest); err != nil {
		return res, err
	}
	res.Digest = digest
	has, err := c.HasBlob(ctx, digest)
	if err != nil {
		return res, err
	}
	res.How = "present"
	if !has && o.ModelsDir != "" {
		if err := linkBlob(o.GGUF, o.ModelsDir, digest); err != nil {
			say("hard link failed, uploading instead: %v", err)
		} else if has, err = c.HasBlob(ctx, digest); err != nil {
			return res, err
		} else if has {
			res.How = "linked"
		}
	}
	if !has {
		say("uploading %s to %s", o.GGUF, digest)
		if err := c.PushBlob(ctx, digest, o.GGUF); err != nil {
			return res, err
		}
		res.How = "uploaded"
	}
	err = c.Create(ctx, CreateRequest{
		Model:      o.Name,
		Files:      map[string]string{"model.gguf": digest},
		Parameters: o.Parameters,
	}, o.Status)
	res.Duration = time.Since(start)
	return res, err
}

// linkBlob hard-links file into modelsDir/blobs/sha256-<hex>.
func linkBlob(file, modelsDir, digest string) error {
	dir := filepath.Join(modelsDir, "blobs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(dir, strings.Replace(digest, ":", "-", 1))
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	return os.Link(file, dst)
}

// sidecarDigest returns the digest recorded by gengguf in <file>.json if
// that sidecar is not older than the file and records its size.
func sidecarDigest(file string, st os.FileInfo) string {
	side := file + ".json"
	sst, err := os.Stat(side)
	if err != nil || sst.ModTime().Before(st.ModTime()) {
		return ""
	}
	b, err := os.ReadFile(side)
	if err != nil {
		return ""
	}
	var info struct {
		FileBytes int64  `json:"file_bytes"`
		SHA256    string `json:"sha256"`
	}
	if json.Unmarshal(b, &info) != nil || info.FileBytes != st.Size() || info.SHA256 == "" {
		return ""
	}
	d, err := NormalizeDigest(info.SHA256)
	if err != nil {
		return ""
	}
	return d
}

// Load asks the server to load model (POST /api/generate with no prompt) so
// that later requests do not pay the load; it returns how long that took.
// keepAlive (e.g. "30m") keeps the model resident; empty uses the default.
func (c *Client) Load(ctx context.Context, model, keepAlive string) (time.Duration, error) {
	start := time.Now()
	body := map[string]any{"model": model, "stream": false}
	if keepAlive != "" {
		body["keep_alive"] = keepAlive
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/generate"), bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, apiError(resp)
	}
	io.Copy(io.Discard, resp.Body)
	return time.Since(start), nil
}

package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ResetPrefixCache asks the server to drop its prefix cache (vLLM's
// POST /reset_prefix_cache), so that a mode does not find the previous
// mode's prompts cached. supported is false when the engine has no such
// endpoint (404 or 405: llama.cpp, Ollama, and vLLM or the simulator
// unless started with VLLM_SERVER_DEV_MODE=1); err is any other failure.
func ResetPrefixCache(ctx context.Context, cfg Config) (supported bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.withDefaults().BaseURL+"/reset_prefix_cache", nil)
	if err != nil {
		return false, err
	}
	if cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("reset_prefix_cache: %s", redactIn(err.Error(), cfg.APIKey))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return false, nil
	case resp.StatusCode/100 != 2:
		return true, fmt.Errorf("reset_prefix_cache: HTTP %d", resp.StatusCode)
	}
	return true, nil
}

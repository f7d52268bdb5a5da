package load

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/runexp/runexp/internal/tokenizer"
	"github.com/runexp/runexp/spec"
	"go.yaml.in/yaml/v3"
)

// CountLocal is how a dataset counts with its `tokenizer:` file (see
// Dataset.Tokenizer), offline.
const CountLocal = "tokenizer"

// TokenizerFile is a dataset's `tokenizer:`: a Hugging Face tokenizer.json
// (plain or gzipped), relative to the spec's folder. The spec decoder
// loads it, so a missing or unsupported file is an error at its key's
// line before anything runs.
type TokenizerFile string

// UnmarshalSpec reads the path and checks the file it names parses.
func (f *TokenizerFile) UnmarshalSpec(d *spec.Decoder, n *yaml.Node, path string) spec.ErrorList {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || n.Value == "" {
		return d.Errorf(n, path, "expected the path of a tokenizer.json")
	}
	p := n.Value
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(d.File), p)
	}
	if _, err := loadTokenizer(p); err != nil {
		return d.Errorf(n, path, "%v", err)
	}
	*f = TokenizerFile(n.Value)
	return nil
}

// tokenizerCounter counts with a local tokenizer.json: the prompt's ids
// with the special tokens the file's post-processor adds, as a server
// tokenizing a completions prompt with add_special_tokens. It knows no
// chat template: with the chat API it counts the message text alone.
type tokenizerCounter struct{ tok *tokenizer.Tokenizer }

func (c tokenizerCounter) Count(ctx context.Context, prompt string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return c.tok.Count(prompt), nil
}

// TokenizerCounter returns a Counter over the tokenizer.json at path
// (`runexp load --tokenizer`).
func TokenizerCounter(path string) (Counter, error) {
	tok, err := loadTokenizer(path)
	if err != nil {
		return nil, err
	}
	return tokenizerCounter{tok}, nil
}

// tokenizers keeps the files loaded in this process, so that a sweep's
// points (each decoding its own step) parse a file once; a file changed
// since (size or time) is read again.
var tokenizers = struct {
	sync.Mutex
	m map[string]loadedTokenizer
}{m: map[string]loadedTokenizer{}}

type loadedTokenizer struct {
	info os.FileInfo
	tok  *tokenizer.Tokenizer
}

// maxLoadedTokenizers bounds what tokenizers keeps (a tokenizer is tens of
// MB in memory).
const maxLoadedTokenizers = 4

func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path) // errors name the path as given, not abs
	if err != nil {
		return nil, err
	}
	tokenizers.Lock()
	defer tokenizers.Unlock()
	if l, ok := tokenizers.m[abs]; ok && l.info.Size() == info.Size() && l.info.ModTime().Equal(info.ModTime()) {
		return l.tok, nil
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, err
	}
	if len(tokenizers.m) >= maxLoadedTokenizers {
		clear(tokenizers.m)
	}
	tokenizers.m[abs] = loadedTokenizer{info: info, tok: tok}
	return tok, nil
}

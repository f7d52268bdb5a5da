package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ---- a minimal GGUF reader, independent of the writer's code ----

type parsed struct {
	version   uint32
	kv        map[string]any
	keys      []string
	tensors   []TensorInfo
	dataStart int
	data      []byte
}

type reader struct {
	b   []byte
	off int
	t   *testing.T
}

func (r *reader) take(n int) []byte {
	r.t.Helper()
	if r.off+n > len(r.b) {
		r.t.Fatalf("read past end at %d (+%d of %d)", r.off, n, len(r.b))
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *reader) str() string { return string(r.take(int(r.u64()))) }

func (r *reader) value(typ uint32) any {
	switch typ {
	case typeUint8:
		return r.take(1)[0]
	case typeInt8:
		return int8(r.take(1)[0])
	case typeUint16:
		return binary.LittleEndian.Uint16(r.take(2))
	case typeInt16:
		return int16(binary.LittleEndian.Uint16(r.take(2)))
	case typeUint32:
		return r.u32()
	case typeInt32:
		return int32(r.u32())
	case typeFloat32:
		return math.Float32frombits(r.u32())
	case typeBool:
		return r.take(1)[0] != 0
	case typeString:
		return r.str()
	case typeUint64:
		return r.u64()
	case typeInt64:
		return int64(r.u64())
	case typeFloat64:
		return math.Float64frombits(r.u64())
	case typeArray:
		et := r.u32()
		n := r.u64()
		out := make([]any, n)
		for i := range out {
			out[i] = r.value(et)
		}
		return out
	}
	r.t.Fatalf("unknown value type %d at %d", typ, r.off)
	return nil
}

func parse(t *testing.T, b []byte) *parsed {
	t.Helper()
	r := &reader{b: b, t: t}
	if m := string(r.take(4)); m != "GGUF" {
		t.Fatalf("magic %q", m)
	}
	p := &parsed{version: r.u32(), kv: map[string]any{}}
	nt, nkv := r.u64(), r.u64()
	for i := uint64(0); i < nkv; i++ {
		k := r.str()
		if _, dup := p.kv[k]; dup {
			t.Fatalf("duplicate key %q", k)
		}
		p.kv[k] = r.value(r.u32())
		p.keys = append(p.keys, k)
	}
	for i := uint64(0); i < nt; i++ {
		ti := TensorInfo{Name: r.str()}
		nd := r.u32()
		for j := uint32(0); j < nd; j++ {
			ti.Dims = append(ti.Dims, r.u64())
		}
		ti.Type = r.u32()
		ti.Offset = r.u64()
		es := uint64(4)
		if ti.Type == 1 {
			es = 2
		}
		ti.Bytes = ti.Elements() * es
		p.tensors = append(p.tensors, ti)
	}
	align := 32
	if a, ok := p.kv["general.alignment"].(uint32); ok {
		align = int(a)
	}
	p.dataStart = (r.off + align - 1) / align * align
	p.data = b[p.dataStart:]
	return p
}

func (p *parsed) tensor(t *testing.T, name string) (TensorInfo, []byte) {
	t.Helper()
	for _, ti := range p.tensors {
		if ti.Name == name {
			return ti, p.data[ti.Offset : ti.Offset+ti.Bytes]
		}
	}
	t.Fatalf("no tensor %q", name)
	return TensorInfo{}, nil
}

// floats decodes a tensor's data.
func floats(ti TensorInfo, b []byte) []float32 {
	if ti.Type == 1 {
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = f16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func writeBytes(t *testing.T, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := Write(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Write returned %d, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func tinyOpts(dt DType) Options {
	s := Presets["tiny"]
	s.DType = dt
	s.KVHeads = 2 // exercise GQA
	return Options{Shape: s, Name: "random-llama-test", Seed: 7}
}

// ---- tests ----

func TestRoundTripHeader(t *testing.T) {
	for _, dt := range []DType{F32, F16} {
		t.Run(string(dt), func(t *testing.T) {
			opts := tinyOpts(dt)
			b := writeBytes(t, opts)
			p := parse(t, b)
			s := opts.Shape
			if p.version != 3 {
				t.Errorf("version %d", p.version)
			}
			want := map[string]any{
				"general.architecture":                   "llama",
				"general.name":                           "random-llama-test",
				"general.file_type":                      dt.fileType(),
				"llama.context_length":                   uint32(131072),
				"llama.embedding_length":                 uint32(64),
				"llama.block_count":                      uint32(2),
				"llama.feed_forward_length":              uint32(172),
				"llama.attention.head_count":             uint32(4),
				"llama.attention.head_count_kv":          uint32(2),
				"llama.rope.dimension_count":             uint32(16),
				"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
				"tokenizer.ggml.model":                   "llama",
				"tokenizer.ggml.bos_token_id":            uint32(1),
				"tokenizer.ggml.eos_token_id":            uint32(2),
				"tokenizer.ggml.add_bos_token":           true,
			}
			for k, v := range want {
				if got := p.kv[k]; got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			if p.keys[0] != "general.architecture" {
				t.Errorf("first key %q", p.keys[0])
			}
			toks := p.kv["tokenizer.ggml.tokens"].([]any)
			types := p.kv["tokenizer.ggml.token_type"].([]any)
			scores := p.kv["tokenizer.ggml.scores"].([]any)
			if len(toks) != s.Vocab || len(types) != s.Vocab || len(scores) != s.Vocab {
				t.Fatalf("vocab arrays %d/%d/%d, want %d", len(toks), len(types), len(scores), s.Vocab)
			}
			if toks[2] != "</s>" || types[2] != int32(TokenControl) || toks[3] != "<0x00>" || types[3+255] != int32(TokenByte) || toks[3+0x0A] != "<0x0A>" {
				t.Errorf("special/byte tokens wrong: %v %v %v", toks[:4], types[:4], toks[3+0x0A])
			}

			// Tensor infos: count, names, shapes, types, aligned offsets.
			if got, want := len(p.tensors), 3+9*s.Layers; got != want {
				t.Fatalf("%d tensors, want %d", got, want)
			}
			if p.dataStart%Alignment != 0 {
				t.Errorf("data start %d not aligned", p.dataStart)
			}
			var end uint64
			var params uint64
			for _, ti := range p.tensors {
				if ti.Offset%Alignment != 0 {
					t.Errorf("%s offset %d not aligned", ti.Name, ti.Offset)
				}
				if ti.Offset < end {
					t.Errorf("%s overlaps previous tensor", ti.Name)
				}
				end = ti.Offset + ti.Bytes
				params += ti.Elements()
				wantType := dt.ggmlType()
				if len(ti.Dims) == 1 {
					wantType = ggmlTypeF32
				}
				if ti.Type != wantType {
					t.Errorf("%s type %d, want %d", ti.Name, ti.Type, wantType)
				}
			}
			if int64(params) != s.Params() {
				t.Errorf("tensor elements %d, Params() %d", params, s.Params())
			}
			if uint64(len(p.data)) != alignUp(end, Alignment) {
				t.Errorf("data section %d bytes, want %d", len(p.data), alignUp(end, Alignment))
			}
			l, err := Plan(opts)
			if err != nil {
				t.Fatal(err)
			}
			if l.Size() != int64(len(b)) || len(l.Header) != p.dataStart {
				t.Errorf("plan size %d header %d; file %d header %d", l.Size(), len(l.Header), len(b), p.dataStart)
			}
			shapes := map[string][]uint64{
				"token_embd.weight":        {64, 512},
				"output.weight":            {64, 512},
				"output_norm.weight":       {64},
				"blk.1.attn_k.weight":      {64, 32},
				"blk.1.attn_v.weight":      {64, 32},
				"blk.1.attn_q.weight":      {64, 64},
				"blk.0.ffn_down.weight":    {172, 64},
				"blk.0.ffn_gate.weight":    {64, 172},
				"blk.0.attn_output.weight": {64, 64},
			}
			for name, dims := range shapes {
				ti, _ := p.tensor(t, name)
				if fmt.Sprint(ti.Dims) != fmt.Sprint(dims) {
					t.Errorf("%s dims %v, want %v", name, ti.Dims, dims)
				}
			}
		})
	}
}

func TestWeightArrangement(t *testing.T) {
	for _, dt := range []DType{F32, F16} {
		t.Run(string(dt), func(t *testing.T) {
			opts := tinyOpts(dt)
			p := parse(t, writeBytes(t, opts))
			s := opts.Shape
			vocab, _ := NewVocab(s.Vocab)
			d := s.Dim

			ti, b := p.tensor(t, "blk.0.attn_norm.weight")
			for i, f := range floats(ti, b) {
				if f != 1 {
					t.Fatalf("attn_norm[%d] = %v", i, f)
				}
			}
			ti, b = p.tensor(t, "token_embd.weight")
			emb := floats(ti, b)
			c0 := emb[0]
			if c0 < 4 {
				t.Errorf("embedding channel 0 = %v, want large", c0)
			}
			for tok := 0; tok < s.Vocab; tok++ {
				if emb[tok*d] != c0 {
					t.Fatalf("token %d channel 0 = %v, want %v", tok, emb[tok*d], c0)
				}
			}
			for _, name := range []string{"blk.0.attn_output.weight", "blk.1.ffn_down.weight"} {
				ti, b := p.tensor(t, name)
				w := floats(ti, b)
				ne0 := int(ti.Dims[0])
				for i := 0; i < ne0; i++ {
					if w[i] != 0 {
						t.Fatalf("%s row 0 [%d] = %v, want 0", name, i, w[i])
					}
				}
				if nonzero(w[ne0:2*ne0]) == 0 {
					t.Errorf("%s row 1 is all zero", name)
				}
			}
			ti, b = p.tensor(t, "output.weight")
			out := floats(ti, b)
			emit := 0
			for tok := 0; tok < s.Vocab; tok++ {
				row := out[tok*d : (tok+1)*d]
				if vocab.Emittable(tok) {
					emit++
					if row[0] != outputChannel0 || nonzero(row[1:]) == 0 {
						t.Fatalf("word token %d (%q) row: ch0 %v, %d nonzero", tok, vocab.Tokens[tok], row[0], nonzero(row[1:]))
					}
				} else if nonzero(row) != 0 {
					t.Fatalf("token %d (%q) row not zero", tok, vocab.Tokens[tok])
				}
			}
			if emit < s.Vocab-FirstWordID-1 {
				t.Errorf("only %d emittable tokens", emit)
			}
			// Rows differ: the pool is read at random offsets.
			ti, b = p.tensor(t, "blk.0.attn_q.weight")
			q := floats(ti, b)
			if fmt.Sprint(q[:d]) == fmt.Sprint(q[d:2*d]) {
				t.Error("attn_q rows 0 and 1 are identical")
			}
		})
	}
}

func nonzero(v []float32) int {
	n := 0
	for _, f := range v {
		if f != 0 {
			n++
		}
	}
	return n
}

// TestNeverEOS runs a one-token llama forward pass (at position 0 attention
// returns V, so RoPE and the softmax drop out) for many first tokens and
// checks the output-layer invariant: every emittable word's logit is far
// above 0, the exact logit of </s>, the byte tokens and the other specials.
func TestNeverEOS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape Shape
	}{
		{"tiny-f32", Presets["tiny"]},
		{"cpu-small-f16", func() Shape { s := Presets["cpu-small"]; s.DType = F16; s.KVHeads = 2; return s }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Shape: tc.shape, Name: "x", Seed: 3}
			p := parse(t, writeBytes(t, opts))
			s := tc.shape
			vocab, _ := NewVocab(s.Vocab)
			get := func(name string) []float32 { ti, b := p.tensor(t, name); return floats(ti, b) }
			emb, out := get("token_embd.weight"), get("output.weight")
			d, kvd, hd := s.Dim, s.KVHeads*s.HeadDim(), s.HeadDim()
			type layer struct{ v, o, gate, up, down []float32 }
			ls := make([]layer, s.Layers)
			for i := range ls {
				pre := fmt.Sprintf("blk.%d.", i)
				ls[i] = layer{get(pre + "attn_v.weight"), get(pre + "attn_output.weight"),
					get(pre + "ffn_gate.weight"), get(pre + "ffn_up.weight"), get(pre + "ffn_down.weight")}
			}
			minMargin := math.Inf(1)
			for tok := 0; tok < s.Vocab; tok += max(1, s.Vocab/64) {
				x := append([]float32(nil), emb[tok*d:(tok+1)*d]...)
				for _, l := range ls {
					h := rmsnorm(x)
					v := matvec(l.v, h, d, kvd)
					att := make([]float32, d)
					group := s.Heads / s.KVHeads
					for head := 0; head < s.Heads; head++ {
						copy(att[head*hd:(head+1)*hd], v[(head/group)*hd:])
					}
					add(x, matvec(l.o, att, d, d))
					h = rmsnorm(x)
					g, u := matvec(l.gate, h, d, s.FF), matvec(l.up, h, d, s.FF)
					for i := range g {
						g[i] = g[i] / (1 + float32(math.Exp(-float64(g[i])))) * u[i]
					}
					add(x, matvec(l.down, g, s.FF, d))
				}
				logits := matvec(out, rmsnorm(x), d, s.Vocab)
				for id, lg := range logits {
					if !vocab.Emittable(id) {
						if lg != 0 {
							t.Fatalf("token %d logit %v, want 0", id, lg)
						}
						continue
					}
					minMargin = math.Min(minMargin, float64(lg))
				}
			}
			t.Logf("smallest word logit (non-words are 0): %.1f", minMargin)
			if minMargin < 10 {
				t.Errorf("smallest word logit %.2f: too close to </s>", minMargin)
			}
		})
	}
}

func rmsnorm(x []float32) []float32 {
	var ss float64
	for _, f := range x {
		ss += float64(f) * float64(f)
	}
	r := float32(1 / math.Sqrt(ss/float64(len(x))+1e-5))
	out := make([]float32, len(x))
	for i, f := range x {
		out[i] = f * r
	}
	return out
}

// matvec computes W·x for a GGUF matrix with ne0 = in, ne1 = out.
func matvec(w, x []float32, in, out int) []float32 {
	y := make([]float32, out)
	for r := 0; r < out; r++ {
		var acc float32
		row := w[r*in : (r+1)*in]
		for i, f := range row {
			acc += f * x[i]
		}
		y[r] = acc
	}
	return y
}

func add(x, y []float32) {
	for i := range x {
		x[i] += y[i]
	}
}

func TestPhi3MiniPlanWithoutWriting(t *testing.T) {
	l, err := Plan(Options{Shape: Presets["phi3-mini"], Name: "random-llama-3p8b", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := l.Options.Shape
	if got := s.Params(); got != 3_821_079_552 {
		t.Errorf("params %d, want 3821079552", got)
	}
	if got := s.KVBytesPerToken(2); got != 384<<10 {
		t.Errorf("KV bytes/token %d, want 393216 (384 KiB)", got)
	}
	// f16 matrices + f32 norms (65 × 3072 × 4 bytes), all 32-byte multiples.
	wantData := uint64(2*(s.Params()-65*3072) + 65*3072*4)
	if l.DataBytes != wantData {
		t.Errorf("data bytes %d, want %d", l.DataBytes, wantData)
	}
	if size := l.Size(); size < 7_640_000_000 || size > 7_650_000_000 {
		t.Errorf("file size %d, want about 7.64e9", size)
	}
	if len(l.Header)%Alignment != 0 {
		t.Errorf("header %d bytes not aligned", len(l.Header))
	}
	info := l.Info()
	if info.FileBytes != l.Size() || info.HeadDim != 96 || info.KVBytesPerTokenF16 != 393216 {
		t.Errorf("info %+v", info)
	}
	t.Logf("phi3-mini: %d bytes (header %d)", l.Size(), len(l.Header))
}

func TestWriteFileDigestAndDeterminism(t *testing.T) {
	dir := t.TempDir()
	opts := tinyOpts(F16)
	a := filepath.Join(dir, "a.gguf")
	info, err := WriteFile(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(a)
	sum := sha256.Sum256(b)
	if info.SHA256 != hex.EncodeToString(sum[:]) || info.FileBytes != int64(len(b)) {
		t.Errorf("info %+v, file %d bytes sha %x", info, len(b), sum)
	}
	if !bytes.Equal(b, writeBytes(t, opts)) {
		t.Error("same options gave different bytes")
	}
	opts.Seed++
	if bytes.Equal(b, writeBytes(t, opts)) {
		t.Error("different seeds gave the same bytes")
	}
	side := a + ".json"
	if err := WriteInfo(side, info); err != nil {
		t.Fatal(err)
	}
	back, err := ReadInfo(side)
	if err != nil || back != info {
		t.Errorf("ReadInfo = %+v, %v; want %+v", back, err, info)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("leftover files: %v", entries)
	}
}

func TestRejects(t *testing.T) {
	for _, name := range []string{"phi3shape", "my-PHI3", "Phi-3-mini"} {
		if _, err := Plan(Options{Shape: Presets["tiny"], Name: name}); err == nil || !strings.Contains(err.Error(), "phi") {
			t.Errorf("name %q accepted (err %v)", name, err)
		}
	}
	bad := []Shape{
		func() Shape { s := Presets["tiny"]; s.Heads = 5; return s }(),
		func() Shape { s := Presets["tiny"]; s.KVHeads = 3; return s }(),
		func() Shape { s := Presets["tiny"]; s.Vocab = 300; return s }(),
		func() Shape { s := Presets["tiny"]; s.Layers = 0; return s }(),
		func() Shape { s := Presets["tiny"]; s.DType = "q4"; return s }(),
	}
	for _, s := range bad {
		if _, err := Plan(Options{Shape: s, Name: "ok"}); err == nil {
			t.Errorf("shape %+v accepted", s)
		}
	}
}

func TestVocab(t *testing.T) {
	for _, n := range []int{MinVocab, 512, 4096, 32064} {
		v, err := NewVocab(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Tokens) != n {
			t.Fatalf("vocab %d has %d tokens", n, len(v.Tokens))
		}
		seen := map[string]bool{}
		for i, tok := range v.Tokens {
			if seen[tok] {
				t.Fatalf("duplicate token %q", tok)
			}
			seen[tok] = true
			if v.Types[i] == TokenNormal && strings.HasPrefix(tok, spaceMark) && len(tok) > len(spaceMark)+1 {
				// Every multi-letter word piece's prefix is also a piece.
				if !seen[tok[:len(tok)-1]] {
					t.Fatalf("prefix of %q missing", tok)
				}
			}
		}
	}
}

func TestF16(t *testing.T) {
	for _, f := range []float32{0, 1, -1, 0.5, 65504, 1e-5, -3.0e-7, 6.1035156e-05, 0.33325195} {
		if got := f16ToF32(f32ToF16(f)); math.Abs(float64(got-f)) > math.Abs(float64(f))/1000+6e-8 {
			t.Errorf("f16 round trip %v -> %v", f, got)
		}
	}
	if f32ToF16(1) != 0x3c00 || f32ToF16(-2) != 0xc000 || f32ToF16(1e6) != 0x7c00 || f32ToF16(5.9604645e-08) != 1 {
		t.Error("f16 bit patterns wrong")
	}
}

package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// GGUF constants (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
const (
	Magic     = "GGUF"
	Version   = 3
	Alignment = 32

	ggmlTypeF32 = 0
	ggmlTypeF16 = 1
)

// GGUF metadata value types.
const (
	typeUint8   uint32 = 0
	typeInt8    uint32 = 1
	typeUint16  uint32 = 2
	typeInt16   uint32 = 3
	typeUint32  uint32 = 4
	typeInt32   uint32 = 5
	typeFloat32 uint32 = 6
	typeBool    uint32 = 7
	typeString  uint32 = 8
	typeArray   uint32 = 9
	typeUint64  uint32 = 10
	typeInt64   uint32 = 11
	typeFloat64 uint32 = 12
)

// Options describe the file to write.
type Options struct {
	Shape Shape
	// Name is general.name. It must pass CheckName.
	Name string
	// Seed selects the random weights; the same options give the same bytes.
	Seed uint64
}

// TensorInfo describes one tensor in the file.
type TensorInfo struct {
	Name string   `json:"name"`
	Dims []uint64 `json:"dims"` // ne0 (contiguous) first
	Type uint32   `json:"type"` // ggml type: 0 F32, 1 F16
	// Offset is relative to the start of the tensor data section.
	Offset uint64 `json:"offset"`
	Bytes  uint64 `json:"bytes"`

	fill fillKind
}

// Elements is the product of Dims.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

type fillKind int

const (
	fillOnes       fillKind = iota // norm weights
	fillRandom                     // uniform(-a, a), a = 1/sqrt(ne0)
	fillRandomRow0                 // as fillRandom, but output row 0 is zero
	fillEmbed                      // token embedding: channel 0 constant
	fillOutput                     // output head: see Write
)

// Layout is the planned file: header size, tensors and total size. It is
// computed without generating any weights.
type Layout struct {
	Options Options
	Vocab   *Vocab
	// Header holds the encoded header, metadata and tensor infos, padded
	// to Alignment; tensor data starts at len(Header).
	Header  []byte
	Tensors []TensorInfo
	// DataBytes is the size of the tensor data section (with padding).
	DataBytes uint64
}

// Size is the total file size in bytes.
func (l *Layout) Size() int64 { return int64(len(l.Header)) + int64(l.DataBytes) }

// Plan validates opts and lays out the file.
func Plan(opts Options) (*Layout, error) {
	s := opts.Shape
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := CheckName(opts.Name); err != nil {
		return nil, err
	}
	vocab, err := NewVocab(s.Vocab)
	if err != nil {
		return nil, err
	}
	d, ff, v := uint64(s.Dim), uint64(s.FF), uint64(s.Vocab)
	kv := uint64(s.KVHeads * s.HeadDim())
	wt := s.DType.ggmlType()
	var ts []TensorInfo
	add := func(name string, typ uint32, fill fillKind, dims ...uint64) {
		ts = append(ts, TensorInfo{Name: name, Dims: dims, Type: typ, fill: fill})
	}
	add("token_embd.weight", wt, fillEmbed, d, v)
	for i := 0; i < s.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", ggmlTypeF32, fillOnes, d)
		add(p+"attn_q.weight", wt, fillRandom, d, d)
		add(p+"attn_k.weight", wt, fillRandom, d, kv)
		add(p+"attn_v.weight", wt, fillRandom, d, kv)
		add(p+"attn_output.weight", wt, fillRandomRow0, d, d)
		add(p+"ffn_norm.weight", ggmlTypeF32, fillOnes, d)
		add(p+"ffn_gate.weight", wt, fillRandom, d, ff)
		add(p+"ffn_up.weight", wt, fillRandom, d, ff)
		add(p+"ffn_down.weight", wt, fillRandomRow0, ff, d)
	}
	add("output_norm.weight", ggmlTypeF32, fillOnes, d)
	add("output.weight", wt, fillOutput, d, v)

	var off uint64
	for i := range ts {
		ts[i].Offset = off
		es := uint64(4)
		if ts[i].Type == ggmlTypeF16 {
			es = 2
		}
		ts[i].Bytes = ts[i].Elements() * es
		off = alignUp(off+ts[i].Bytes, Alignment)
	}

	var h bytes.Buffer
	e := &enc{w: &h}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(ts)))
	kvs := metadata(opts, vocab)
	e.u64(uint64(len(kvs)))
	for _, m := range kvs {
		e.str(m.key)
		e.value(m.val)
	}
	for _, t := range ts {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, dim := range t.Dims {
			e.u64(dim)
		}
		e.u32(t.Type)
		e.u64(t.Offset)
	}
	if e.err != nil {
		return nil, e.err
	}
	h.Write(make([]byte, alignUp(uint64(h.Len()), Alignment)-uint64(h.Len())))
	return &Layout{Options: opts, Vocab: vocab, Header: h.Bytes(), Tensors: ts, DataBytes: off}, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

type kv struct {
	key string
	val any
}

func metadata(opts Options, v *Vocab) []kv {
	s := opts.Shape
	u := func(n int) uint32 { return uint32(n) }
	return []kv{
		{"general.architecture", "llama"},
		{"general.name", opts.Name},
		{"general.file_type", s.DType.fileType()},
		{"general.alignment", uint32(Alignment)},
		{"llama.context_length", u(s.ContextLength)},
		{"llama.embedding_length", u(s.Dim)},
		{"llama.block_count", u(s.Layers)},
		{"llama.feed_forward_length", u(s.FF)},
		{"llama.rope.dimension_count", u(s.HeadDim())},
		{"llama.attention.head_count", u(s.Heads)},
		{"llama.attention.head_count_kv", u(s.KVHeads)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.vocab_size", u(s.Vocab)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", v.Tokens},
		{"tokenizer.ggml.scores", v.Scores},
		{"tokenizer.ggml.token_type", v.Types},
		{"tokenizer.ggml.bos_token_id", uint32(BOSID)},
		{"tokenizer.ggml.eos_token_id", uint32(EOSID)},
		{"tokenizer.ggml.unknown_token_id", uint32(UnkID)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	}
}

// enc writes little-endian GGUF primitives, remembering the first error.
type enc struct {
	w   io.Writer
	err error
	b   [8]byte
}

func (e *enc) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}
func (e *enc) u32(v uint32) { binary.LittleEndian.PutUint32(e.b[:4], v); e.raw(e.b[:4]) }
func (e *enc) u64(v uint64) { binary.LittleEndian.PutUint64(e.b[:8], v); e.raw(e.b[:8]) }
func (e *enc) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

func (e *enc) value(v any) {
	switch x := v.(type) {
	case string:
		e.u32(typeString)
		e.str(x)
	case uint32:
		e.u32(typeUint32)
		e.u32(x)
	case float32:
		e.u32(typeFloat32)
		e.u32(math.Float32bits(x))
	case bool:
		e.u32(typeBool)
		if x {
			e.raw([]byte{1})
		} else {
			e.raw([]byte{0})
		}
	case []string:
		e.u32(typeArray)
		e.u32(typeString)
		e.u64(uint64(len(x)))
		for _, s := range x {
			e.str(s)
		}
	case []float32:
		e.u32(typeArray)
		e.u32(typeFloat32)
		e.u64(uint64(len(x)))
		for _, f := range x {
			e.u32(math.Float32bits(f))
		}
	case []int32:
		e.u32(typeArray)
		e.u32(typeInt32)
		e.u64(uint64(len(x)))
		for _, i := range x {
			e.u32(uint32(i))
		}
	default:
		if e.err == nil {
			e.err = fmt.Errorf("gguf: unsupported metadata type %T", v)
		}
	}
}

// Weight arrangement. The residual stream's channel 0 is a constant
// embedChannel0 for every token: the embedding sets it and the two matrices
// that write into the residual stream (attn_output, ffn_down) have a zero
// output row 0. After the final RMS norm (weight 1) channel 0 is therefore
// positive. The output head gives every emittable word piece outputChannel0
// on channel 0 (plus random weights elsewhere, which pick *which* word) and
// all-zero rows to <unk>, <s>, </s>, the byte tokens and the bare "▁": their
// logits are exactly 0 while word logits are large and positive, so greedy
// and top-k sampling never choose them.
const (
	embedChannel0Scale = 0.6 // × sqrt(dim); other channels are U(-1, 1)
	outputChannel0     = 8.0
	outputScale        = 3.0 // other output weights are U(-3/sqrt(dim), 3/sqrt(dim))
	poolElems          = 1 << 20
	writeBuffer        = 8 << 20
)

// Write writes the GGUF file for opts to w and returns its size.
func Write(w io.Writer, opts Options) (int64, error) {
	l, err := Plan(opts)
	if err != nil {
		return 0, err
	}
	return l.WriteTo(w)
}

// WriteTo writes the planned file: header, then weights generated on the
// fly from a few pools of random values (one per scale) read at random
// row offsets, so memory stays small and multi-GB files write at disk speed.
func (l *Layout) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, writeBuffer)
	cw := &countWriter{w: bw}
	if _, err := cw.Write(l.Header); err != nil {
		return cw.n, err
	}
	s := l.Options.Shape
	rng := newRNG(l.Options.Seed)
	es := s.DType.Size()
	// One pool per scale, each long enough for a row read at any offset.
	maxRow := max(s.Dim, s.FF)
	nPool := min(poolElems, max(s.Dim*s.Vocab, s.Dim*s.FF)) // small models need small pools
	pools := map[float64][]byte{}
	pool := func(scale float64) []byte {
		if p, ok := pools[scale]; ok {
			return p
		}
		p := makePool(rng, scale, s.DType, nPool+maxRow)
		pools[scale] = p
		return p
	}
	zeros := make([]byte, max(s.Dim, s.FF, s.Vocab)*4)
	ones := make([]byte, s.Dim*4)
	for i := 0; i < s.Dim; i++ {
		binary.LittleEndian.PutUint32(ones[4*i:], math.Float32bits(1))
	}
	enc1 := func(f float64) []byte {
		if s.DType == F16 {
			return binary.LittleEndian.AppendUint16(nil, f32ToF16(float32(f)))
		}
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(f)))
	}
	embed0 := enc1(embedChannel0Scale * math.Sqrt(float64(s.Dim)))
	out0 := enc1(outputChannel0)

	var pos uint64
	for _, t := range l.Tensors {
		if pad := t.Offset - pos; pad > 0 {
			if _, err := cw.Write(zeros[:pad]); err != nil {
				return cw.n, err
			}
		}
		ne0 := int(t.Dims[0])
		rows := int(t.Elements() / t.Dims[0])
		rowBytes := ne0 * es
		var p []byte
		switch t.fill {
		case fillRandom, fillRandomRow0:
			p = pool(1 / math.Sqrt(float64(ne0)))
		case fillEmbed:
			p = pool(1)
		case fillOutput:
			p = pool(outputScale / math.Sqrt(float64(ne0)))
		}
		slice := func(n int) []byte {
			o := int(rng.next()%uint64(nPool)) * es
			return p[o : o+n*es]
		}
		var err error
		for r := 0; r < rows && err == nil; r++ {
			switch t.fill {
			case fillOnes:
				_, err = cw.Write(ones[:ne0*4])
			case fillRandom:
				_, err = cw.Write(slice(ne0))
			case fillRandomRow0:
				if r == 0 {
					_, err = cw.Write(zeros[:rowBytes])
				} else {
					_, err = cw.Write(slice(ne0))
				}
			case fillEmbed:
				if _, err = cw.Write(embed0); err == nil {
					_, err = cw.Write(slice(ne0 - 1))
				}
			case fillOutput:
				if !l.Vocab.Emittable(r) {
					_, err = cw.Write(zeros[:rowBytes])
				} else if _, err = cw.Write(out0); err == nil {
					_, err = cw.Write(slice(ne0 - 1))
				}
			}
		}
		if err != nil {
			return cw.n, err
		}
		pos = t.Offset + t.Bytes
	}
	if pad := l.DataBytes - pos; pad > 0 {
		if _, err := cw.Write(zeros[:pad]); err != nil {
			return cw.n, err
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	if cw.n != l.Size() {
		return cw.n, fmt.Errorf("gguf: internal error: wrote %d bytes, planned %d", cw.n, l.Size())
	}
	return cw.n, nil
}

// makePool encodes n values uniform in (-scale, scale).
func makePool(rng *rng, scale float64, dt DType, n int) []byte {
	es := dt.Size()
	p := make([]byte, n*es)
	for i := 0; i < n; i++ {
		f := float32((rng.float64()*2 - 1) * scale)
		if dt == F16 {
			binary.LittleEndian.PutUint16(p[i*2:], f32ToF16(f))
		} else {
			binary.LittleEndian.PutUint32(p[i*4:], math.Float32bits(f))
		}
	}
	return p
}

// rng is splitmix64: cheap, deterministic, good enough for random weights.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
